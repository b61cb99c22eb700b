#!/usr/bin/env bash
# Install the Debian 12 packages that sluice's build and its tests need, when
# they are missing. Idempotent: with everything present it changes nothing and
# does not touch the network. Run as root (`make deps`, `make test` and
# `make demo` call it).
set -euo pipefail

# build: compilers, bpf tooling and the libraries sluiced/sluice link
BUILD_PKGS=(
	make gcc clang llvm bpftool pkg-config
	libbpf-dev libelf-dev zlib1g-dev liburing-dev libjansson-dev
	librocksdb-dev libcriterion-dev libcurl4-openssl-dev
)
# tests and the demo: the real peers and clients they start
#   postgresql   server (postgresql-15) and psql (postgresql-client-15)
#   nginx-light  the local HTTP server of the integration tests
#   python3      Debian's, for the getpeername()/connect probes
#   util-linux   runuser/setpriv (run as postgres / as nobody)
#   rocksdb-tools ldb: the tamper tests edit the session store through it
TEST_PKGS=(
	postgresql curl iproute2 nginx-light python3 procps openssl
	util-linux coreutils rocksdb-tools
	# a real syslog receiver (TLS, octet-counted framing) for the export tests
	rsyslog rsyslog-openssl
	# asciinema reads back the asciicast of a recorded kubectl exec (cast_test)
	asciinema
)

die() {
	printf 'deps.sh: %s\n' "$*" >&2
	exit 1
}

[[ ${EUID:-$(id -u)} -eq 0 ]] ||
	die "must run as root (it installs Debian packages): sudo $0"
command -v dpkg-query >/dev/null 2>&1 ||
	die "dpkg-query not found: this script supports Debian 12 only"

installed() {
	local status
	status=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) ||
		return 1
	[[ $status == installed ]]
}

missing=()
for pkg in "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"; do
	installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
	echo "deps.sh: all ${#BUILD_PKGS[@]} build and ${#TEST_PKGS[@]} test packages present"
	exit 0
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# Installing postgresql or nginx would start the distribution's own services
# (a cluster on 127.0.0.1:5432, a server on :80); the tests and the demo start
# their own instances and need 5432 free. Keep apt from starting anything
# while we install, unless the machine already has a policy of its own.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\n# written by sluice scripts/deps.sh during apt-get install\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	own_policy=1
fi
cleanup() {
	if ((own_policy)); then rm -f "$policy"; fi
}
trap cleanup EXIT

apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"

still=()
for pkg in "${missing[@]}"; do
	installed "$pkg" || still+=("$pkg")
done
((${#still[@]} == 0)) || die "still missing after apt-get install: ${still[*]}"
echo "deps.sh: done"
