#!/usr/bin/env bash
# scripts/bench.sh (`make bench`): sluice against the direct path and against
# HAProxy, side by side, in one run (issue 3's Benchmark).
#
# Paths, all on loopback (127.0.10.x), one sink/echo server (bench/loadgen.c):
#   direct          client -> server 127.0.10.50:9000
#   haproxy tcp     client -> HAProxy `mode tcp` 127.0.10.53:9000 -> server
#   sluice <mode>   client (in a child cgroup) connects to 127.0.10.51:9000,
#                   where nothing listens: the bpf programs redirect it to
#                   sluiced (`tcp` target, store.mode off | async | strict)
#                   -> server
#   haproxy ssl     TLS client -> HAProxy `bind ... ssl crt` 127.0.10.54:9443
#                   -> plain server
#   sluice <mode> tls  TLS client -> 127.0.10.52:9443 -> sluiced (target
#                   with tls cert/key toward the client) -> plain server
# Metrics: throughput with 1 KiB and 64 KiB writes, request/response latency
# (one connection, and a new connection per request), proxy CPU-seconds per
# GB, proxy RSS per idle connection, and the recorder alone
# (bench/recbench.c linking userspace/store.c). Each measurement is repeated
# BENCH_REPS times and the median printed. The table goes to stdout and to
# build/bench/results.md; the method is written under it.
#
# Root only; installs what it needs (haproxy, the compilers and headers for
# bench/) with apt-get when missing. Needs the sluice pins to itself (one
# sluiced per bpffs): on a shared machine run it in its own namespaces,
#   make BUILD=build/bench all && scripts/bench.sh --deps &&
#   tests/integration/sandbox.sh env SLUICE_BUILD=build/bench scripts/bench.sh
# Cleans up after itself, also on failure: stops what it started,
# `sluiced --uninstall`, removes its cgroup and temp dir (store, seal key).
#
# `scripts/bench.sh --deps` only installs the packages: do that first when
# running in the sandbox, whose network namespace has no way out.
#
# Knobs (environment): SLUICE_BUILD (build dir of sluiced/sluice, default
# build; built with `make BUILD=...` if missing), BENCH_OUT (build/bench),
# BENCH_REPS (3), BENCH_BYTES_64K (512 MiB), BENCH_BYTES_1K (128 MiB),
# BENCH_RR (5000 round trips), BENCH_NEWCONN (1000), BENCH_IDLE (1000
# connections), BENCH_REC_BYTES (1 GiB), BENCH_WORKERS (2: sluiced workers,
# HAProxy threads), BENCH_MODES ("off async strict").
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${SLUICE_BUILD:=build}"
case $SLUICE_BUILD in
/*) BUILD=$SLUICE_BUILD ;;
*) BUILD=$ROOT/$SLUICE_BUILD ;;
esac
SLUICED=$BUILD/sluiced
SLUICE=$BUILD/sluice
OUT=${BENCH_OUT:-$ROOT/build/bench}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
TOOLS=$OUT/tools
REPS=${BENCH_REPS:-3}
BYTES_64K=${BENCH_BYTES_64K:-$((512 << 20))}
BYTES_1K=${BENCH_BYTES_1K:-$((128 << 20))}
RR_N=${BENCH_RR:-5000}
NEWCONN_N=${BENCH_NEWCONN:-1000}
IDLE_N=${BENCH_IDLE:-1000}
REC_BYTES=${BENCH_REC_BYTES:-$((1 << 30))}
WORKERS=${BENCH_WORKERS:-2}
MODES=${BENCH_MODES:-off async strict}
RR_REQ=64
RR_RESP=64
CLIENT_TIMEOUT=180

SERVER_IP=127.0.10.50
SLUICE_TCP_IP=127.0.10.51
SLUICE_TLS_IP=127.0.10.52
HAP_TCP_IP=127.0.10.53
HAP_TLS_IP=127.0.10.54
PLAIN_PORT=9000
TLS_PORT=9443
LISTEN_PORT=15443

# The bench's own packages (scripts/deps.sh has the build and test ones):
#   haproxy       the reference proxy (Debian 12: 2.6)
#   gcc, libssl-dev, libjansson-dev, librocksdb-dev   build bench/*.c
#   openssl       the test certificate;  procps, iproute2   ps, ss
BENCH_PKGS=(haproxy gcc libc6-dev libssl-dev libjansson-dev librocksdb-dev
	openssl procps iproute2 coreutils)

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
	printf 'bench: %s\n' "$*" >&2
	exit 1
}

# ---- preconditions and packages ---------------------------------------------

[[ ${EUID:-$(id -u)} -eq 0 ]] ||
	die "run as root: it loads bpf programs and installs packages (sudo make bench)"

installed() {
	local st
	st=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) || return 1
	[[ $st == installed ]]
}

install_bench_pkgs() {
	local missing=() p policy=/usr/sbin/policy-rc.d own=0
	command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: Debian 12 only"
	for p in "${BENCH_PKGS[@]}"; do installed "$p" || missing+=("$p"); done
	((${#missing[@]})) || return 0
	log "installing ${missing[*]}"
	# keep apt from starting Debian's haproxy service while installing it
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\n# written by sluice scripts/bench.sh during apt-get install\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		own=1
	fi
	local rc=0
	{ DEBIAN_FRONTEND=noninteractive apt-get update -q &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends "${missing[@]}"; } >&2 || rc=$?
	((own)) && rm -f "$policy"
	((rc == 0)) || die "apt-get install ${missing[*]} failed"
}
install_bench_pkgs
if [[ ${1:-} == --deps ]]; then	# install only (the sandbox has no network)
	log "bench packages present: ${BENCH_PKGS[*]}"
	exit 0
fi

[[ -r /sys/kernel/btf/vmlinux ]] || die "the kernel has no BTF (/sys/kernel/btf/vmlinux)"
CG_MNT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[[ -n $CG_MNT ]] || die "no cgroup2 file system mounted"
for pid in $(pgrep -x sluiced || true); do
	[[ $(readlink "/proc/$pid/ns/mnt" 2>/dev/null) == "$(readlink /proc/self/ns/mnt)" ]] &&
		die "another sluiced is running (pid $pid) and owns /sys/fs/bpf/sluice; run the bench in its own namespaces: tests/integration/sandbox.sh env SLUICE_BUILD=$SLUICE_BUILD $0"
done
for hp in "$SERVER_IP:$PLAIN_PORT" "$HAP_TCP_IP:$PLAIN_PORT" "$HAP_TLS_IP:$TLS_PORT" \
	"127.0.0.1:$LISTEN_PORT"; do
	[[ -z $(ss -Hltn "src ${hp%:*} and sport = :${hp#*:}" 2>/dev/null) ]] ||
		die "$hp is in use; run the bench in its own namespaces (tests/integration/sandbox.sh)"
done

if [[ ! -x $SLUICED || ! -x $SLUICE ]]; then
	log "building sluiced and sluice into $BUILD"
	make -C "$ROOT" --no-print-directory BUILD="$SLUICE_BUILD" all >&2
fi
if nm -D "$SLUICED" 2>/dev/null | grep -q __asan_init; then
	log "WARNING: $SLUICED is built with sanitizers; numbers will be slow (use make BUILD=build/bench all)"
fi

mkdir -p "$TOOLS"
log "building bench/loadgen.c and bench/recbench.c into $TOOLS"
gcc -O2 -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -o "$TOOLS/loadgen" \
	"$ROOT/bench/loadgen.c" -lssl -lcrypto -lm
gcc -O2 -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -I"$ROOT/userspace" -I"$ROOT/userspace/lib" \
	-o "$TOOLS/recbench" "$ROOT/bench/recbench.c" "$ROOT/userspace/store.c" \
	"$ROOT/userspace/lib/log.c" -lrocksdb -lssl -lcrypto -ljansson -lpthread
LOADGEN=$TOOLS/loadgen

# ---- what we start, and the one cleanup ---------------------------------------

T=$(mktemp -d /tmp/sluice-bench.XXXXXX)
CG=$CG_MNT/sluice-bench-$$
SERVER_PID=
HAPROXY_PID=
SLUICED_PID=
IDLE_PIDS=()
STARTED_SLUICED=0

alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ -n $st && $st != Z* ]]
}

stop_pid() {	# stop_pid PID [SECONDS]: TERM, then KILL; reap
	local pid=$1 secs=${2:-10} i
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < secs * 10; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	alive "$pid" && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$? pid i
	trap '' TERM INT HUP
	set +e
	for pid in "${IDLE_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
	if ((rc)) && [[ -n $SLUICED_PID ]]; then
		printf -- '--- sluiced log (last 30 lines)\n' >&2
		tail -n 30 "$T"/sluiced-*.log >&2 2>/dev/null
	fi
	stop_pid "$SLUICED_PID" 30
	stop_pid "$HAPROXY_PID"
	stop_pid "$SERVER_PID"
	if ((STARTED_SLUICED)); then
		"$SLUICED" --uninstall >"$T/uninstall.log" 2>&1 ||
			log "WARNING: sluiced --uninstall failed: $(tail -n 5 "$T/uninstall.log")"
	fi
	if [[ -d $CG ]]; then
		[[ -e $CG/cgroup.kill ]] && echo 1 >"$CG/cgroup.kill" 2>/dev/null
		for ((i = 0; i < 50; i++)); do
			rmdir "$CG" 2>/dev/null && break
			sleep 0.1
		done
		[[ -d $CG ]] && log "WARNING: could not remove cgroup $CG"
	fi
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
mkdir "$CG"

# in_cg CMD...: CMD in the bench cgroup (where sluiced's programs attach), bounded
in_cg() {
	# shellcheck disable=SC2016
	timeout "$CLIENT_TIMEOUT" sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' \
		in_cg "$CG" "$@"
}

# client_failed WHAT RC: die with the client's own message (or the timeout)
client_failed() {
	if (($2 == 124)); then
		die "$1 timed out after ${CLIENT_TIMEOUT} s: the path stalled (see ss -tni while it runs)"
	fi
	die "$1 failed (status $2): $(grep -v '^tls=' "$T/client.last" | tail -n 3)"
}
client_log() { cat "$T/client.last" >>"$T/client.err"; }

# ---- numbers --------------------------------------------------------------------

declare -A R	# "path|metric" -> space-separated samples
add() { R[$1|$2]+="${R[$1|$2]:+ }$3"; }
median() {	# median KEY: of R[KEY]'s samples, "" when none
	local v=${R[$1]:-}
	[[ -n $v ]] || return 0
	tr ' ' '\n' <<<"$v" | sort -g | awk '{ a[NR] = $1 }
		END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
field() { sed -n "s/.*\<$1=\([0-9.]*\).*/\1/p" <<<"$2"; }	# field NAME "k=v ..."
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# drained: the daemon's recorder has nothing queued (async); true without one
drained() {
	[[ -n $SLUICED_PID ]] || return 0
	local n
	n=$("$SLUICE" --ctl "$T/ctl.sock" -j status 2>/dev/null |
		python3 -c 'import json,sys; l=json.load(sys.stdin).get("record_lag") or {}; print(l.get("records", 0))' \
			2>/dev/null) || return 1
	[[ $n == 0 ]]
}
wait_drained() {
	local i
	for ((i = 0; i < 600; i++)); do
		drained && return 0
		sleep 0.1
	done
	log "WARNING: the recorder still has records queued after 60 s"
}

# run_tput PATH IP PORT CHUNK BYTES PROXY_PID [TLS]
run_tput() {
	local path=$1 ip=$2 port=$3 chunk=$4 bytes=$5 ppid=$6 tls=${7:-} out c0 c1 name
	name=$( ((chunk >= 65536)) && echo 64k || echo 1k)
	wait_drained
	[[ -n $ppid ]] && c0=$(cpu_ticks "$ppid")
	out=$(in_cg "$LOADGEN" tput "$ip" "$port" "$bytes" "$chunk" ${tls:+--tls "$T/cert.pem"} \
		2>"$T/client.last") || client_failed "$path: $bytes bytes in $chunk-byte writes" $?
	client_log
	add "$path" "tput_$name" "$(field mbps "$out")"
	if [[ -n $ppid ]]; then
		wait_drained	# async: the recording of these bytes is part of their cost
		c1=$(cpu_ticks "$ppid")
		add "$path" "cpu_$name" "$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v b="$bytes" \
			'BEGIN { printf "%.3f", d / hz / (b / 1e9) }')"
	fi
}

# rr PATH IP PORT COUNT new|keep [TLS]
rr() {
	local path=$1 ip=$2 port=$3 n=$4 kind=$5 tls=${6:-} out new=
	[[ $kind == new ]] && new=--new
	wait_drained
	out=$(in_cg "$LOADGEN" rr "$ip" "$port" "$n" "$RR_REQ" "$RR_RESP" \
		${tls:+--tls "$T/cert.pem"} ${new:+"$new"} 2>"$T/client.last") ||
		client_failed "$path: $n round trips ($kind connection)" $?
	client_log
	add "$path" "${kind}_p50" "$(field p50_us "$out")"
	add "$path" "${kind}_p99" "$(field p99_us "$out")"
}

# measure PATH IP PORT PROXY_PID [TLS]: throughput, CPU, latency
measure() {
	local path=$1 ip=$2 port=$3 ppid=$4 tls=${5:-} i
	log "$path: throughput (${REPS}x 1 KiB and 64 KiB writes), round trips"
	run_tput "$path" "$ip" "$port" 65536 $((32 << 20)) "" "$tls"	# warm-up
	R[$path|tput_64k]=
	for ((i = 0; i < REPS; i++)); do
		run_tput "$path" "$ip" "$port" 1024 "$BYTES_1K" "$ppid" "$tls"
		run_tput "$path" "$ip" "$port" 65536 "$BYTES_64K" "$ppid" "$tls"
	done
	for ((i = 0; i < REPS; i++)); do
		rr "$path" "$ip" "$port" "$RR_N" keep "$tls"
		rr "$path" "$ip" "$port" "$NEWCONN_N" new "$tls"
	done
	log "$path: 1k $(median "$path|tput_1k") MB/s, 64k $(median "$path|tput_64k") MB/s, rr p50 $(median "$path|keep_p50") us, new p50 $(median "$path|new_p50") us"
}

# idle PATH IP PORT PROXY_PID [TLS]: open IDLE_N connections through the proxy
# and keep them (the IDLE_PIDS are closed by the caller): RSS growth / N.
# The first time this proxy process holds that many: memory it freed before
# would be reused and hide the cost.
idle() {
	local path=$1 ip=$2 port=$3 ppid=$4 tls=${5:-} before after f=$T/idle-$1.out i
	wait_drained
	sleep 0.3
	before=$(rss_kib "$ppid")
	: >"$f"
	in_cg "$LOADGEN" idle "$ip" "$port" "$IDLE_N" ${tls:+--tls "$T/cert.pem"} \
		>"$f" 2>>"$T/client.err" &
	IDLE_PIDS+=($!)
	for ((i = 0; i < 600; i++)); do
		grep -q '^ready' "$f" && break
		alive "${IDLE_PIDS[-1]}" || die "$path: idle connections failed: $(tail -n 3 "$T/client.err" | grep -v '^tls=')"
		sleep 0.1
	done
	grep -q '^ready' "$f" || die "$path: $IDLE_N idle connections not open after 60 s"
	wait_drained
	sleep 0.5
	after=$(rss_kib "$ppid")
	add "$path" idle_kib "$(awk -v a="$after" -v b="$before" -v n="$IDLE_N" \
		'BEGIN { printf "%.1f", (a - b) / n }')"
	log "$path: RSS $before -> $after KiB with $IDLE_N idle connections"
}
close_idle() {
	local pid
	for pid in "${IDLE_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	IDLE_PIDS=()
	sleep 1
}

# ---- peers ----------------------------------------------------------------------

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=sluice-bench \
	-addext "subjectAltName=IP:$SLUICE_TLS_IP,IP:$HAP_TLS_IP" 2>"$T/openssl.err" ||
	die "cannot create the test certificate: $(cat "$T/openssl.err")"
cat "$T/cert.pem" "$T/key.pem" >"$T/haproxy.pem"

: >"$T/server.log"
"$LOADGEN" server "$SERVER_IP" "$PLAIN_PORT" >"$T/server.log" 2>&1 &
SERVER_PID=$!
for ((i = 0; i < 50; i++)); do
	grep -q listening "$T/server.log" && break
	alive "$SERVER_PID" || die "the bench server did not start: $(cat "$T/server.log")"
	sleep 0.1
done

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$SECONDS

# ---- recorder alone -------------------------------------------------------------

log "recorder alone: $((REC_BYTES >> 20)) MiB of 64 KiB records, $WORKERS producers, strict, ${REPS}x"
for ((i = 0; i < REPS; i++)); do
	mkdir "$T/rec"
	out=$(timeout "$CLIENT_TIMEOUT" "$TOOLS/recbench" "$T/rec" "$REC_BYTES" 65536 "$WORKERS" 64 \
		2>"$T/recbench.err") || die "recbench failed: $(tail -n 5 "$T/recbench.err")"
	add rec mbps "$(field mbps "$out")"
	rm -rf "$T/rec"
done
log "recorder: $(median 'rec|mbps') MB/s"

# ---- direct -----------------------------------------------------------------------

measure direct "$SERVER_IP" "$PLAIN_PORT" ""

# ---- HAProxy ------------------------------------------------------------------------

NOFILE=$(ulimit -n)
HAP_MAXCONN=$(((NOFILE - 100) / 2 < 20000 ? (NOFILE - 100) / 2 : 20000))
((HAP_MAXCONN > IDLE_N + 100)) || die "the open files limit ($NOFILE) is too low for $IDLE_N idle connections"
HAPROXY_VERSION=$(haproxy -v 2>/dev/null | head -n 1 | awk '{print $3}')
cat >"$T/haproxy.cfg" <<EOF
global
    nbthread $WORKERS
    maxconn $HAP_MAXCONN
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
frontend relay
    bind $HAP_TCP_IP:$PLAIN_PORT
    default_backend sink
frontend tls
    bind $HAP_TLS_IP:$TLS_PORT ssl crt $T/haproxy.pem
    default_backend sink
backend sink
    server sink $SERVER_IP:$PLAIN_PORT
EOF
haproxy -c -q -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 ||
	die "haproxy refuses its config: $(cat "$T/haproxy.log")"
haproxy -db -f "$T/haproxy.cfg" >>"$T/haproxy.log" 2>&1 &
HAPROXY_PID=$!
for ((i = 0; i < 100; i++)); do
	in_cg "$LOADGEN" rr "$HAP_TCP_IP" "$PLAIN_PORT" 1 1 1 >/dev/null 2>&1 && break
	alive "$HAPROXY_PID" || die "haproxy exited: $(tail -n 5 "$T/haproxy.log")"
	sleep 0.1
done
idle "haproxy tcp" "$HAP_TCP_IP" "$PLAIN_PORT" "$HAPROXY_PID"
idle "haproxy ssl" "$HAP_TLS_IP" "$TLS_PORT" "$HAPROXY_PID" tls
close_idle
measure "haproxy tcp" "$HAP_TCP_IP" "$PLAIN_PORT" "$HAPROXY_PID"
measure "haproxy ssl" "$HAP_TLS_IP" "$TLS_PORT" "$HAPROXY_PID" tls
stop_pid "$HAPROXY_PID"
HAPROXY_PID=

# ---- sluiced, one run per store mode --------------------------------------------------

write_config() {	# write_config MODE FILE
	cat >"$2" <<EOF
{
  "cgroup": "$CG",
  "control": "$T/ctl.sock",
  "listen": {"ipv4": "127.0.0.1", "ipv6": null, "port": $LISTEN_PORT},
  "workers": $WORKERS,
  "log_level": "warn",
  "store": {"path": "$T/store-$1", "mode": "$1", "seal_key": "$T/seal.key"},
  "targets": [
    {"name": "bench-tcp", "kind": "tcp", "match": ["$SLUICE_TCP_IP:$PLAIN_PORT"],
     "upstream": "$SERVER_IP:$PLAIN_PORT", "fail_mode": "closed"},
    {"name": "bench-tls", "kind": "tcp", "match": ["$SLUICE_TLS_IP:$TLS_PORT"],
     "upstream": "$SERVER_IP:$PLAIN_PORT", "fail_mode": "closed",
     "tls": {"cert": "$T/cert.pem", "key": "$T/key.pem"}}
  ]
}
EOF
}

for mode in $MODES; do
	write_config "$mode" "$T/sluiced-$mode.json"
	"$SLUICED" --check-config "$T/sluiced-$mode.json" >"$T/check.log" 2>&1 ||
		die "sluiced refuses the bench config: $(cat "$T/check.log")"
	log "sluiced, store.mode $mode"
	STARTED_SLUICED=1
	"$SLUICED" --config "$T/sluiced-$mode.json" >"$T/sluiced-$mode.log" 2>&1 &
	SLUICED_PID=$!
	# ready when a connection to the match address (where nothing listens,
	# fail_mode closed) gets its answer: that one went through sluiced
	for ((i = 0; i < 150; i++)); do
		in_cg "$LOADGEN" rr "$SLUICE_TCP_IP" "$PLAIN_PORT" 1 1 1 >/dev/null 2>&1 && break
		alive "$SLUICED_PID" || die "sluiced exited: $(tail -n 20 "$T/sluiced-$mode.log")"
		sleep 0.1
	done
	((i < 150)) || die "sluiced not relaying after 15 s: $(tail -n 20 "$T/sluiced-$mode.log")"
	idle "sluice $mode" "$SLUICE_TCP_IP" "$PLAIN_PORT" "$SLUICED_PID"
	idle "sluice $mode tls" "$SLUICE_TLS_IP" "$TLS_PORT" "$SLUICED_PID" tls
	close_idle
	measure "sluice $mode" "$SLUICE_TCP_IP" "$PLAIN_PORT" "$SLUICED_PID"
	measure "sluice $mode tls" "$SLUICE_TLS_IP" "$TLS_PORT" "$SLUICED_PID" tls
	stop_pid "$SLUICED_PID" 30
	SLUICED_PID=
	rm -rf "$T/store-$mode"
done

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$((SECONDS - T_START))

# ---- the table -----------------------------------------------------------------------

# cell VALUE BASE [higher|lower]: "VALUE (RATIO×)", ratio = VALUE / BASE
cell() {
	local v=$1 b=${2:-} prec=${3:-0}
	[[ -n $v ]] || {
		echo "—"
		return
	}
	if [[ -n $b ]] && awk -v b="$b" 'BEGIN { exit !(b > 0) }'; then
		awk -v v="$v" -v b="$b" -v p="$prec" 'BEGIN { printf "%.*f (%.2f×)", p, v, v / b }'
	else
		awk -v v="$v" -v p="$prec" 'BEGIN { printf "%.*f", p, v }'
	fi
}
ratio() {	# ratio A B: A / B to 2 places, or —
	if [[ -n $1 && -n $2 ]] && awk -v b="$2" 'BEGIN { exit !(b > 0) }'; then
		awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }'
	else
		echo "—"
	fi
}

PATHS=(direct "haproxy tcp")
for mode in $MODES; do PATHS+=("sluice $mode"); done
PATHS+=("haproxy ssl")
for mode in $MODES; do PATHS+=("sluice $mode tls"); done

CIPHER=$(grep -m1 '^tls=' "$T/client.err" 2>/dev/null || true)
GITREV=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)

report() {
	local p k base
	echo "## Benchmark"
	echo
	echo "\`make bench\` — $(date -u +%Y-%m-%dT%H:%MZ), sluice $GITREV ($SLUICED), Linux $(uname -r), $(nproc) × $CPU_MODEL,"
	echo "HAProxy $HAPROXY_VERSION, $(openssl version | awk '{print $1, $2}'), ${CIPHER:-TLS}; sluiced workers = HAProxy threads = $WORKERS;"
	echo "load average $LOAD_START at the start, $LOAD_END at the end; ${ELAPSED} s. Medians of $REPS runs; ratios to direct in parentheses."
	echo
	echo "| path | MB/s, 1 KiB writes | MB/s, 64 KiB writes | RR p50 µs | RR p99 µs | new conn p50 µs | new conn p99 µs | proxy CPU s/GB, 1 KiB | proxy CPU s/GB, 64 KiB | RSS KiB / idle conn |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	for p in "${PATHS[@]}"; do
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$p" \
			"$(cell "$(median "$p|tput_1k")" "$(median "direct|tput_1k")")" \
			"$(cell "$(median "$p|tput_64k")" "$(median "direct|tput_64k")")" \
			"$(cell "$(median "$p|keep_p50")" "$(median "direct|keep_p50")")" \
			"$(cell "$(median "$p|keep_p99")" "$(median "direct|keep_p99")")" \
			"$(cell "$(median "$p|new_p50")" "$(median "direct|new_p50")")" \
			"$(cell "$(median "$p|new_p99")" "$(median "direct|new_p99")")" \
			"$(cell "$(median "$p|cpu_1k")" "" 2)" \
			"$(cell "$(median "$p|cpu_64k")" "" 2)" \
			"$(cell "$(median "$p|idle_kib")" "" 1)"
	done
	echo
	echo "sluice relative to HAProxy (\`mode tcp\` for the relay rows, \`ssl\` for the TLS rows); throughput > 1 is better, latency, CPU and memory < 1 are better:"
	echo
	echo "| path | MB/s, 1 KiB | MB/s, 64 KiB | RR p50 | RR p99 | new conn p50 | new conn p99 | CPU/GB, 1 KiB | CPU/GB, 64 KiB | RSS/conn |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	for p in "${PATHS[@]}"; do
		case $p in
		"sluice "*tls) base="haproxy ssl" ;;
		"sluice "*) base="haproxy tcp" ;;
		*) continue ;;
		esac
		printf '| %s vs %s |' "$p" "$base"
		for k in tput_1k tput_64k keep_p50 keep_p99 new_p50 new_p99 cpu_1k cpu_64k idle_kib; do
			printf ' %s |' "$(ratio "$(median "$p|$k")" "$(median "$base|$k")")"
		done
		echo
	done
	echo
	echo "Recorder alone (bench/recbench.c → userspace/store.c, strict, 64 KiB records, $WORKERS producers, 64 in flight each): **$(median 'rec|mbps') MB/s** (runs: ${R[rec|mbps]})."
	echo
	echo "Samples (all runs): "
	echo
	echo '```'
	for k in "${!R[@]}"; do printf '%-32s %s\n' "$k" "${R[$k]}"; done | sort
	echo '```'
}

mkdir -p "$OUT"
report | tee "$OUT/results.md"
log "written to $OUT/results.md"
