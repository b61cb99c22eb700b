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
# Metrics: throughput with 1 KiB and 64 KiB writes (one connection) and with
# 64 KiB writes on 8 connections at once, request/response latency
# (one connection, and a new connection per request), proxy CPU-seconds per
# GB, proxy RSS per idle connection, and the recorder alone
# (bench/recbench.c linking userspace/store.c). Each measurement is repeated
# BENCH_REPS times and the median printed. The table goes to stdout and to
# build/bench/results.md; the method is written under it.
#
# Then the PostgreSQL part (issue 5's Benchmark, scripts/bench_pg.sh):
# pgbench -S and -N at c = 1, 8, 32 for BENCH_PG_SECS each, direct vs
# sluice (postgres target with a held SCRAM credential, plain and TLS toward
# the client, async and strict recording) vs PgBouncer (session mode) vs
# HAProxy `mode tcp`; its tables follow the ones above. BENCH selects:
# all (the default), tcp (the part above only), pg (the PostgreSQL part only).
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
# BENCH_REPS (3), BENCH_SECS (1.5: each transfer is sized from its warm-up
# to last about this long), BENCH_MAX_BYTES (2 GiB), BENCH_CONNS (8 parallel
# connections), BENCH_RR (5000 round trips), BENCH_NEWCONN (1000),
# BENCH_RR_SECS (2: a round-trip run stops after this), BENCH_IDLE (1000
# connections), BENCH_REC_BYTES (1 GiB), BENCH_WORKERS (2: sluiced workers,
# HAProxy threads), BENCH_MODES ("off async strict"), BENCH_KEEP (1: keep
# the temp dir with the logs and configs); scripts/bench_pg.sh lists the
# BENCH_PG_* ones.
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
TPUT_SECS=${BENCH_SECS:-1.5}
MAX_BYTES=${BENCH_MAX_BYTES:-$((2 << 30))}
PAR_CONNS=${BENCH_CONNS:-8}
RR_N=${BENCH_RR:-5000}
NEWCONN_N=${BENCH_NEWCONN:-1000}
RR_SECS=${BENCH_RR_SECS:-2}
IDLE_N=${BENCH_IDLE:-1000}
IDLE_PAR=10
REC_BYTES=${BENCH_REC_BYTES:-$((1 << 30))}
WORKERS=${BENCH_WORKERS:-2}
MODES=${BENCH_MODES:-off async strict}
BENCH=${BENCH:-all}
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
#   python3       reads `sluice -j status`
#   postgresql    the PostgreSQL part's server, psql and pgbench (15)
#   pgbouncer     the PostgreSQL part's reference pooler (session mode)
#   util-linux    setpriv (PgBouncer refuses to run as root)
BENCH_PKGS=(haproxy gcc libc6-dev libssl-dev libjansson-dev librocksdb-dev
	openssl procps iproute2 coreutils python3 postgresql pgbouncer util-linux)

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
	printf 'bench: %s\n' "$*" >&2
	exit 1
}

# ---- preconditions and packages ---------------------------------------------

case $BENCH in all | tcp | pg) ;; *) die "BENCH=$BENCH: all, tcp or pg" ;; esac

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
if nm -D "$SLUICED" 2>/dev/null | grep __asan_init >/dev/null; then
	log "WARNING: $SLUICED is built with sanitizers; numbers will be slow (use make BUILD=build/bench all)"
fi

mkdir -p "$TOOLS"
log "building bench/loadgen.c and bench/recbench.c into $TOOLS"
gcc -O2 -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -o "$TOOLS/loadgen" \
	"$ROOT/bench/loadgen.c" -lssl -lcrypto -lm -lpthread
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
	pg_cleanup
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
	if [[ ${BENCH_KEEP:-0} == 1 ]]; then
		log "kept $T (BENCH_KEEP=1)"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
# the PostgreSQL part: its addresses, pg_cleanup, pg_bench, pg_report
# shellcheck source=scripts/bench_pg.sh
source "$ROOT/scripts/bench_pg.sh"
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

# daemon_status: `sluice -j status` (exit status 1 only says "degraded")
daemon_status() { "$SLUICE" --ctl "$T/ctl.sock" -j status 2>/dev/null || true; }

# drained: the daemon's recorder has nothing queued (async); true without one
drained() {
	[[ -n $SLUICED_PID ]] || return 0
	local st n
	st=$(daemon_status)
	n=$(python3 -c 'import json,sys; l=json.load(sys.stdin).get("record_lag") or {}; print(l.get("records", 0))' \
		<<<"$st" 2>/dev/null) || return 1
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

# run_tput PATH KIND IP PORT BYTES PROXY_PID [TLS]: one transfer; KIND is
# 1k (1 KiB writes), 64k (64 KiB writes) or par (PAR_CONNS connections at
# once, 64 KiB writes); "" as PROXY_PID: no CPU figure (direct). With
# WARMUP=1 nothing is recorded; TPUT_MBPS is the result either way.
WARMUP=0
run_tput() {
	local path=$1 kind=$2 ip=$3 port=$4 bytes=$5 ppid=$6 tls=${7:-} out c0='' c1 chunk=65536 conns=1
	[[ $kind == 1k ]] && chunk=1024
	[[ $kind == par ]] && conns=$PAR_CONNS
	wait_drained
	[[ -z $ppid ]] || c0=$(cpu_ticks "$ppid")
	out=$(in_cg "$LOADGEN" tput "$ip" "$port" "$bytes" "$chunk" --conns "$conns" \
		${tls:+--tls "$T/cert.pem"} 2>"$T/client.last") ||
		client_failed "$path: $bytes bytes in $chunk-byte writes on $conns connection(s)" $?
	client_log
	TPUT_MBPS=$(field mbps "$out")
	((WARMUP == 0)) || return 0
	add "$path" "tput_$kind" "$TPUT_MBPS"
	[[ -n $ppid ]] || return 0
	wait_drained	# async: the recording of these bytes is part of their cost
	c1=$(cpu_ticks "$ppid")
	add "$path" "cpu_$kind" "$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v b="$bytes" \
		'BEGIN { printf "%.3f", d / hz / (b / 1e9) }')"
}

# size_for MBPS: bytes for a transfer of about TPUT_SECS at MBPS, within
# [16 MiB, BENCH_MAX_BYTES], a multiple of 64 KiB
size_for() {
	awk -v r="$1" -v s="$TPUT_SECS" -v lo=$((16 << 20)) -v hi="$MAX_BYTES" 'BEGIN {
		b = r * 1e6 * s; if (b < lo) b = lo; if (b > hi) b = hi
		printf "%d\n", int(b / 65536) * 65536 }'
}

# rr PATH IP PORT COUNT new|keep [TLS]
rr() {
	local path=$1 ip=$2 port=$3 n=$4 kind=$5 tls=${6:-} out new=
	[[ $kind == new ]] && new=--new
	wait_drained
	out=$(in_cg "$LOADGEN" rr "$ip" "$port" "$n" "$RR_REQ" "$RR_RESP" --secs "$RR_SECS" \
		${tls:+--tls "$T/cert.pem"} ${new:+"$new"} 2>"$T/client.last") ||
		client_failed "$path: $n round trips ($kind connection)" $?
	client_log
	add "$path" "${kind}_p50" "$(field p50_us "$out")"
	add "$path" "${kind}_p99" "$(field p99_us "$out")"
	add "$path" "${kind}_n" "$(field n "$out")"
}

# measure PATH IP PORT PROXY_PID [TLS]: throughput, CPU, latency
measure() {
	local path=$1 ip=$2 port=$3 ppid=$4 tls=${5:-} i kind
	declare -A size
	# a warm-up per kind, which also sizes the runs to ~TPUT_SECS each
	WARMUP=1
	for kind in 1k 64k par; do
		run_tput "$path" "$kind" "$ip" "$port" $((16 << 20)) "" "$tls"
		size[$kind]=$(size_for "$TPUT_MBPS")
	done
	WARMUP=0
	log "$path: ${REPS}x throughput (1 KiB: $((size[1k] >> 20)) MiB, 64 KiB: $((size[64k] >> 20)) MiB, ${PAR_CONNS} conns: $((size[par] >> 20)) MiB), round trips"
	for ((i = 0; i < REPS; i++)); do
		for kind in 1k 64k par; do
			run_tput "$path" "$kind" "$ip" "$port" "${size[$kind]}" "$ppid" "$tls"
		done
	done
	for ((i = 0; i < REPS; i++)); do
		rr "$path" "$ip" "$port" "$RR_N" keep "$tls"
		rr "$path" "$ip" "$port" "$NEWCONN_N" new "$tls"
	done
	log "$path: MB/s 1k $(median "$path|tput_1k"), 64k $(median "$path|tput_64k"), ${PAR_CONNS}x64k $(median "$path|tput_par"); rr p50 $(median "$path|keep_p50") us, new conn p50 $(median "$path|new_p50") us"
}

# idle PATH IP PORT PROXY_PID [TLS]: open IDLE_N connections through the proxy
# (IDLE_PAR clients at once) and keep them (the caller closes them with
# close_idle): RSS growth / N. The first time this proxy process holds that
# many: memory it freed before would be reused and hide the cost.
idle() {
	local path=$1 ip=$2 port=$3 ppid=$4 tls=${5:-} before after f i k ready
	local per=$((IDLE_N / IDLE_PAR)) pids=()
	wait_drained
	sleep 0.3
	before=$(rss_kib "$ppid")
	for ((k = 0; k < IDLE_PAR; k++)); do
		f="$T/idle-${path// /-}-$k.out"
		: >"$f"
		# not through the in_cg function: $! must be the client's own
		# process chain (timeout -> loadgen), not a subshell around it
		# shellcheck disable=SC2016
		timeout "$CLIENT_TIMEOUT" sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' \
			in_cg "$CG" "$LOADGEN" idle "$ip" "$port" "$per" ${tls:+--tls "$T/cert.pem"} \
			>"$f" 2>>"$T/client.err" &
		pids+=($!)
		IDLE_PIDS+=($!)
	done
	for ((i = 0; i < 600; i++)); do
		ready=$(cat "$T/idle-${path// /-}-"*.out | grep -c '^ready' || true)
		((ready == IDLE_PAR)) && break
		for k in "${pids[@]}"; do
			alive "$k" || die "$path: idle connections failed: $(grep -v '^tls=' "$T/client.err" | tail -n 3)"
		done
		sleep 0.1
	done
	((ready == IDLE_PAR)) || die "$path: $IDLE_N idle connections not open after 60 s"
	wait_drained
	sleep 0.5
	after=$(rss_kib "$ppid")
	add "$path" idle_kib "$(awk -v a="$after" -v b="$before" -v n=$((per * IDLE_PAR)) \
		'BEGIN { printf "%.1f", (a - b) / n }')"
	log "$path: RSS $before -> $after KiB with $((per * IDLE_PAR)) idle connections (opened in $((i / 10)).$((i % 10)) s)"
}
close_idle() {
	local pid i n
	for pid in "${IDLE_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	IDLE_PIDS=()
	# nothing else runs in the cgroup now: it must be empty
	for ((i = 0; i < 50; i++)); do
		[[ -z $(cat "$CG/cgroup.procs") ]] && break
		sleep 0.1
	done
	[[ -z $(cat "$CG/cgroup.procs") ]] || die "idle clients still running: $(tr "\n" " " <"$CG/cgroup.procs")"
	# and the daemon must have closed their connections
	for ((i = 0; i < 100; i++)); do
		n=$(active_conns)
		[[ $n == 0 || $n == - ]] && return 0
		sleep 0.1
	done
	die "sluiced still has $n connections 10 s after their clients exited"
}
# active_conns: the daemon's open connections, - without a daemon
active_conns() {
	[[ -n $SLUICED_PID ]] || {
		echo -
		return
	}
	python3 -c 'import json,sys; print(json.load(sys.stdin)["connections"]["active"])' \
		<<<"$(daemon_status)" 2>/dev/null || echo "?"
}

# cell VALUE [BASE [DECIMALS]]: "VALUE (RATIO×)", ratio = VALUE / BASE; no BASE: "VALUE"
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

# row PATH BASE KEY:PREC...: one table row, each cell "median (ratio to
# BASE's)"; a KEY written =KEY gets no ratio
row() {
	local p=$1 base=$2 kp k prec b
	shift 2
	printf '| %s |' "$p"
	for kp in "$@"; do
		k=${kp%:*} prec=${kp#*:} b=$base
		[[ $k == =* ]] && k=${k#=} b=
		printf ' %s |' "$(cell "$(median "$p|$k")" "${b:+$(median "$b|$k")}" "$prec")"
	done
	echo
}

# start_sluiced CFG LOG CMD...: sluiced with CFG (checked first), its output
# in LOG; ready when CMD, a client through it, succeeds. Sets SLUICED_PID.
start_sluiced() {
	local cfg=$1 slog=$2 i
	shift 2
	"$SLUICED" --check-config "$cfg" >"$T/check.log" 2>&1 ||
		die "sluiced refuses $cfg: $(cat "$T/check.log")"
	STARTED_SLUICED=1
	"$SLUICED" --config "$cfg" >"$slog" 2>&1 &
	SLUICED_PID=$!
	for ((i = 0; i < 150; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		alive "$SLUICED_PID" || die "sluiced exited: $(tail -n 20 "$slog")"
		sleep 0.1
	done
	die "sluiced not relaying after 15 s: $(tail -n 20 "$slog")"
}

# ---- peers ----------------------------------------------------------------------

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=sluice-bench \
	-addext "subjectAltName=IP:$SLUICE_TLS_IP,IP:$HAP_TLS_IP,IP:$PG_IP" 2>"$T/openssl.err" ||
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

if [[ $BENCH == pg ]]; then
	pg_bench
	mkdir -p "$OUT"
	pg_report | tee "$OUT/results.md"
	log "written to $OUT/results.md"
	exit 0
fi

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
HAPROXY_VERSION=$(haproxy -v 2>/dev/null | awk 'NR == 1 { print $3 }')
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
((i < 100)) || die "haproxy not relaying after 10 s: $(tail -n 5 "$T/haproxy.log")"
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
	log "sluiced, store.mode $mode"
	# ready when a connection to the match address (where nothing listens,
	# fail_mode closed) gets its answer: that one went through sluiced
	start_sluiced "$T/sluiced-$mode.json" "$T/sluiced-$mode.log" \
		in_cg "$LOADGEN" rr "$SLUICE_TCP_IP" "$PLAIN_PORT" 1 1 1
	idle "sluice $mode" "$SLUICE_TCP_IP" "$PLAIN_PORT" "$SLUICED_PID"
	idle "sluice $mode tls" "$SLUICE_TLS_IP" "$TLS_PORT" "$SLUICED_PID" tls
	close_idle
	measure "sluice $mode" "$SLUICE_TCP_IP" "$PLAIN_PORT" "$SLUICED_PID"
	measure "sluice $mode tls" "$SLUICE_TLS_IP" "$TLS_PORT" "$SLUICED_PID" tls
	active=$(active_conns)
	t0=$SECONDS
	stop_pid "$SLUICED_PID" 30
	log "sluiced stopped in $((SECONDS - t0)) s ($active connections were open)"
	SLUICED_PID=
	rm -rf "$T/store-$mode"
done

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$((SECONDS - T_START))
[[ $BENCH == tcp ]] || pg_bench

# ---- the table -----------------------------------------------------------------------

PATHS=(direct "haproxy tcp")
for mode in $MODES; do PATHS+=("sluice $mode"); done
PATHS+=("haproxy ssl")
for mode in $MODES; do PATHS+=("sluice $mode tls"); done

CIPHER=$(sed -n '/^tls=/{s/^tls=\([^ ]*\) cipher=\(.*\)/\1 \2/p;q}' "$T/client.err" 2>/dev/null || true)
GITREV=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)

report() {
	local p k base
	echo "## Benchmark"
	echo
	echo "\`make bench\` — $(date -u +%Y-%m-%dT%H:%MZ), sluice $GITREV ($SLUICED), Linux $(uname -r), $(nproc) × $CPU_MODEL,"
	echo "HAProxy $HAPROXY_VERSION, $(openssl version | awk '{print $1, $2}'), ${CIPHER:-TLS}; sluiced workers = HAProxy threads = $WORKERS;"
	echo "load average $LOAD_START at the start, $LOAD_END at the end; ${ELAPSED} s. Medians of $REPS runs."
	echo
	echo "Throughput (client → server; MB = 10^6 bytes) and the proxy's CPU (user + system, all threads) per GB moved; ratio to direct in parentheses:"
	echo
	echo "| path | MB/s, 1 KiB writes | MB/s, 64 KiB writes | MB/s, $PAR_CONNS conns × 64 KiB | CPU s/GB, 1 KiB | CPU s/GB, 64 KiB | CPU s/GB, $PAR_CONNS conns |"
	echo "|---|---|---|---|---|---|---|"
	for p in "${PATHS[@]}"; do
		row "$p" direct tput_1k:0 tput_64k:0 tput_par:0 cpu_1k:2 cpu_64k:2 cpu_par:2
	done
	echo
	echo "Latency of a $RR_REQ-byte request and its $RR_RESP-byte answer (µs): sequential round trips on one connection (RR), and one new connection per request (connect, TLS handshake without resumption, request, answer, close); proxy RSS growth per idle connection (KiB, $IDLE_N held at once); ratio to direct in parentheses:"
	echo
	echo "| path | RR p50 | RR p99 | new conn p50 | new conn p99 | RSS KiB / idle conn |"
	echo "|---|---|---|---|---|---|"
	for p in "${PATHS[@]}"; do
		row "$p" direct keep_p50:0 keep_p99:0 new_p50:0 new_p99:0 =idle_kib:1
	done
	echo
	echo "sluice relative to HAProxy (\`mode tcp\` for the relay rows, \`ssl\` for the TLS rows): throughput above 1 is better; latency, CPU and memory below 1 are better:"
	echo
	echo "| path | MB/s 1 KiB | MB/s 64 KiB | MB/s $PAR_CONNS conns | CPU/GB 1 KiB | CPU/GB 64 KiB | CPU/GB $PAR_CONNS conns | RR p50 | RR p99 | new conn p50 | new conn p99 | RSS/conn |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	for p in "${PATHS[@]}"; do
		case $p in
		"sluice "*tls) base="haproxy ssl" ;;
		"sluice "*) base="haproxy tcp" ;;
		*) continue ;;
		esac
		printf '| %s vs %s |' "$p" "$base"
		for k in tput_1k tput_64k tput_par cpu_1k cpu_64k cpu_par keep_p50 keep_p99 new_p50 new_p99 idle_kib; do
			printf ' %s |' "$(ratio "$(median "$p|$k")" "$(median "$base|$k")")"
		done
		echo
	done
	echo
	echo "Recorder alone (bench/recbench.c → userspace/store.c, strict, 64 KiB records, $WORKERS producers with 64 records in flight each, no network): **$(median 'rec|mbps') MB/s** (runs: ${R[rec|mbps]})."
	echo
	echo "Every sample (tput_* MB/s, cpu_* s/GB, *_p50/*_p99 µs, *_n round trips measured, idle_kib KiB):"
	echo
	echo '```'
	for k in "${!R[@]}"; do printf '%-28s %s\n' "$k" "${R[$k]}"; done | sort
	echo '```'
	echo
	method
}

method() {
	cat <<EOF
Method: one program, bench/loadgen.c, is the client and the server of every
path, plain and TLS, so the paths differ only in what sits in the middle.
The server is one epoll thread. Throughput: the client sets up its
connection(s), then writes N bytes in 1 KiB or 64 KiB write()/SSL_write()
calls (one connection; and $PAR_CONNS connections at once with 64 KiB writes)
to a server that discards them and answers the byte count at the end; timed
from the first write to that answer, N sized from a warm-up to last about
${TPUT_SECS} s. Latency: a $RR_REQ-byte request answered by $RR_RESP bytes, up to $RR_N
sequential round trips on one connection (RR) and up to $NEWCONN_N with a new
connection each (connect, TLS handshake without resumption, request,
answer, close), each run capped at ${RR_SECS} s; p50 and p99 per run. The client
runs in a child cgroup where sluiced's programs are attached; sluice's
targets match addresses where nothing listens (fail_mode closed), so a
transfer that completes went through sluiced. sluiced: $WORKERS workers, log_level
warn, store in /tmp; HAProxy: nbthread $WORKERS, no logging; otherwise both on
their defaults (16 KiB buffers; no splicing in HAProxy); the TLS paths use
one ECDSA P-256 certificate, TLS toward the client only, plain upstream.
Proxy CPU: utime + stime of the whole process (all threads, RocksDB's
included) from /proc/PID/stat around each transfer, read after the recorder
has caught up, per 10^9 bytes moved. RSS per idle connection: VmRSS growth
while $IDLE_N connections (each after one round trip, so the upstream side
exists too) are held, divided by $IDLE_N, the first time the process holds
that many; kernel socket memory is not in it. Recorder alone:
bench/recbench.c links userspace/store.c and writes $((REC_BYTES >> 20)) MiB of 64 KiB chunk
records from $WORKERS producer threads (a session each, 64 records in flight
each) in strict mode to a fresh store, timed until the last done().
Figures are medians of $REPS runs. Client, server and proxy share the
machine's $(nproc) cores: these are relative figures for one machine, not
capacity numbers; the load average above says how busy it was otherwise.
EOF
}

mkdir -p "$OUT"
{
	report
	[[ $BENCH == tcp ]] || pg_report
} | tee "$OUT/results.md"
log "written to $OUT/results.md"
