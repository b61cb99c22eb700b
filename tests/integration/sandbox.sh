#!/usr/bin/env bash
# tests/integration/sandbox.sh CMD...: run CMD (e.g. `make test`, or
# `tests/run.sh build/san '40_*'`) in private mount and network namespaces:
# a fresh bpffs on /sys/fs/bpf, a tmpfs on /run/sluice, its own loopback.
# For developers sharing one machine: the suite's pins, control socket and
# ports (127.0.10.x, ::1, 15443, 5432) then never meet another developer's
# daemon or servers. Programs still attach to real cgroups (each test's own
# child cgroup; the demo's at the cgroup2 root, while it runs). Not used by
# `make test` or CI, which run on the host as they are. Root only.
set -euo pipefail
(($# > 0)) || {
	echo "usage: $0 CMD [ARG...]" >&2
	exit 2
}
[[ ${EUID:-$(id -u)} -eq 0 ]] || {
	echo "sandbox.sh: run as root" >&2
	exit 1
}
mkdir -p /run/sluice
exec unshare --mount --net --propagation private bash -c '
	set -e
	mount -t bpf bpf /sys/fs/bpf
	mount -t tmpfs -o mode=0755 tmpfs /run/sluice
	ip link set lo up
	exec "$@"' sandbox "$@"
