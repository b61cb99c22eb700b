# scripts/bench_pg.sh: the PostgreSQL part of `make bench` (issue 5's
# Benchmark). Sourced by scripts/bench.sh, whose helpers it uses (log, die,
# in_cg, alive, stop_pid, cpu_ticks, add, median, row, wait_drained,
# daemon_status) and whose certificate (bench.sh puts PG_IP in its names),
# cgroup, temp dir and cleanup it shares; not run on its own:
# `BENCH=pg scripts/bench.sh` runs only this part.
#
# One PostgreSQL 15 (a throwaway cluster, fsync off: the proxies are
# measured, not the disk) on 127.0.10.60:5460, database bench at pgbench
# scale BENCH_PG_SCALE, role app with a SCRAM-SHA-256 password. pgbench -S
# (one SELECT by key) and -N (UPDATE, SELECT, INSERT in a transaction, no
# contended rows), simple protocol, c = 1, 8, 32 clients (-j 1 or 2), each
# for BENCH_PG_SECS seconds, on each path:
#   direct          pgbench (password) -> server
#   haproxy tcp     pgbench (password) -> HAProxy `mode tcp` 127.0.10.62:5460
#                   -> server
#   pgbouncer       pgbench (no password: auth_type trust) -> PgBouncer,
#                   pool_mode session, 127.0.10.61:6432 -> server (PgBouncer
#                   holds the password)
#   sluice MODE     pgbench in the bench cgroup, no password, sslmode=disable,
#                   to the server's own address: the bpf programs redirect it
#                   to sluiced (postgres target, held SCRAM credential,
#                   store.mode MODE) -> server
#   sluice MODE tls the same with sslmode=verify-full, the bench certificate
#                   as the CA (sluice terminates TLS; plain upstream)
# The paths take turns (pg_round): per store mode one round of every kind
# and client count on direct, HAProxy, PgBouncer and that mode's two sluice
# paths; the reference paths' figures are medians over the rounds.
# Knobs: BENCH_PG_SECS (4), BENCH_PG_SCALE (10), BENCH_PG_CLIENTS ("1 8 32"),
# BENCH_PG_MODES ("async strict"), BENCH_PG_PERF (1: `perf record -g` of
# sluiced during the last mode's plain -S at c=8, the report in
# $OUT/perf-pg.txt; needs perf).

PG_IP=127.0.10.60
PG_PORT=5460
PGB_IP=127.0.10.61
PGB_PORT=6432
HAP_PG_IP=127.0.10.62
PG_SECS=${BENCH_PG_SECS:-4}
PG_SCALE=${BENCH_PG_SCALE:-10}
PG_CLIENTS=${BENCH_PG_CLIENTS:-1 8 32}
PG_MODES=${BENCH_PG_MODES:-async strict}
PG_PERF=${BENCH_PG_PERF:-0}
PG_KINDS="S N"
PG_DIR=
PG_BIN=
PGB_PID=
PG_PASS=

pg_cleanup() {
	stop_pid "$PGB_PID"
	PGB_PID=
	[[ -n $PG_DIR ]] || return 0
	if [[ -f $PG_DIR/data/postmaster.pid ]]; then
		runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 10 \
			stop >/dev/null 2>&1 ||
			kill -KILL "$(head -n 1 "$PG_DIR/data/postmaster.pid")" 2>/dev/null
	fi
	if [[ ${BENCH_KEEP:-0} == 1 ]]; then
		log "kept $PG_DIR (BENCH_KEEP=1)"
	else
		rm -rf "$PG_DIR"
	fi
	PG_DIR=
}

# pg_conn PATH: the libpq conninfo a path's pgbench uses
pg_conn() {
	local c="user=app dbname=bench connect_timeout=10"
	case $1 in
	direct) echo "host=$PG_IP port=$PG_PORT $c sslmode=disable" ;;
	"haproxy tcp") echo "host=$HAP_PG_IP port=$PG_PORT $c sslmode=disable" ;;
	pgbouncer) echo "host=$PGB_IP port=$PGB_PORT $c sslmode=disable" ;;
	sluice*tls) echo "host=$PG_IP port=$PG_PORT $c sslmode=verify-full sslrootcert=$T/cert.pem" ;;
	sluice*) echo "host=$PG_IP port=$PG_PORT $c sslmode=disable" ;;
	esac
}

# pg_client PATH CMD...: CMD as that path's client: sluice's in the bench
# cgroup without the password, the others outside it with it; bounded
pg_client() {
	local path=$1
	shift
	case $path in
	sluice*) in_cg env -u PGPASSWORD "$@" ;;
	*) PGPASSWORD=$PG_PASS timeout "$CLIENT_TIMEOUT" "$@" ;;
	esac
}

pg_start_server() {
	PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[[ -x $PG_BIN/initdb ]] || die "PostgreSQL server not installed (scripts/bench.sh --deps)"
	[[ -z $(ss -Hltn "src $PG_IP and sport = :$PG_PORT" 2>/dev/null) ]] ||
		die "$PG_IP:$PG_PORT is in use; run the bench in its own namespaces (tests/integration/sandbox.sh)"
	# its own directory: $T is private to root, the server runs as postgres
	PG_DIR=$(mktemp -d /tmp/sluice-bench-pg.XXXXXX)
	chmod 755 "$PG_DIR"
	mkdir -p "$PG_DIR/sock" "$PG_DIR/bouncer"
	chown -R postgres:postgres "$PG_DIR"
	runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 \
		--no-sync >"$PG_DIR/initdb.log" 2>&1 || die "initdb: $(tail -n 5 "$PG_DIR/initdb.log")"
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
		-o "-c listen_addresses='$PG_IP' -c port=$PG_PORT -c unix_socket_directories='$PG_DIR/sock' -c fsync=off -c max_connections=200" \
		start >"$PG_DIR/pg_ctl.log" 2>&1 || die "PostgreSQL did not start: $(tail -n 5 "$PG_DIR/server.log")"
	PG_PASS="bench-$RANDOM$RANDOM$RANDOM"
	runuser -u postgres -- "$PG_BIN/psql" -X -q -h "$PG_DIR/sock" -p "$PG_PORT" -U postgres \
		-d postgres -v ON_ERROR_STOP=1 >"$PG_DIR/psql.log" 2>&1 <<EOF || die "roles: $(cat "$PG_DIR/psql.log")"
SET password_encryption = 'scram-sha-256';
CREATE ROLE app LOGIN PASSWORD '$PG_PASS';
CREATE DATABASE bench OWNER app;
EOF
	printf 'local all all trust\nhost all app 127.0.0.0/8 scram-sha-256\n' >"$PG_DIR/data/pg_hba.conf"
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" reload >/dev/null || die "pg_ctl reload"
	printf '%s\n' "$PG_PASS" >"$T/app.pass"
	chmod 600 "$T/app.pass"
	log "PostgreSQL $("$PG_BIN/postgres" -V | awk '{print $3}') on $PG_IP:$PG_PORT; pgbench -i -s $PG_SCALE"
	PGPASSWORD=$PG_PASS timeout "$CLIENT_TIMEOUT" pgbench -i -q -s "$PG_SCALE" \
		"$(pg_conn direct)" >"$PG_DIR/init.log" 2>&1 || die "pgbench -i: $(tail -n 5 "$PG_DIR/init.log")"
}

pg_start_pgbouncer() {
	local d=$PG_DIR/bouncer i
	printf '"app" "%s"\n' "$PG_PASS" >"$d/userlist.txt"
	cat >"$d/pgbouncer.ini" <<EOF
[databases]
bench = host=$PG_IP port=$PG_PORT dbname=bench
[pgbouncer]
listen_addr = $PGB_IP
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = trust
auth_file = $d/userlist.txt
pool_mode = session
max_client_conn = 200
default_pool_size = 64
logfile = $d/pgbouncer.log
log_connections = 0
log_disconnections = 0
EOF
	chown -R postgres:postgres "$d"
	chmod 600 "$d/userlist.txt"
	PGB_VERSION=$(pgbouncer --version 2>/dev/null | awk 'NR == 1 { print $NF }')
	# setpriv execs: $! is PgBouncer itself (its CPU is measured)
	setpriv --reuid=postgres --regid=postgres --init-groups \
		pgbouncer "$d/pgbouncer.ini" >"$d/stdout.log" 2>&1 &
	PGB_PID=$!
	for ((i = 0; i < 100; i++)); do
		pg_client pgbouncer psql -X -w -At "$(pg_conn pgbouncer)" -c 'SELECT 1' >/dev/null 2>&1 && return 0
		alive "$PGB_PID" || die "pgbouncer exited: $(tail -n 5 "$d/pgbouncer.log" "$d/stdout.log")"
		sleep 0.1
	done
	die "pgbouncer not answering after 10 s: $(tail -n 5 "$d/pgbouncer.log")"
}

pg_start_haproxy() {
	local i
	cat >"$T/haproxy-pg.cfg" <<EOF
global
    nbthread $WORKERS
    maxconn 1000
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
frontend pg
    bind $HAP_PG_IP:$PG_PORT
    default_backend pg
backend pg
    server pg $PG_IP:$PG_PORT
EOF
	HAPROXY_VERSION=$(haproxy -v 2>/dev/null | awk 'NR == 1 { print $3 }')
	haproxy -db -f "$T/haproxy-pg.cfg" >"$T/haproxy-pg.log" 2>&1 &
	HAPROXY_PID=$!
	for ((i = 0; i < 100; i++)); do
		pg_client "haproxy tcp" psql -X -w -At "$(pg_conn "haproxy tcp")" -c 'SELECT 1' >/dev/null 2>&1 && return 0
		alive "$HAPROXY_PID" || die "haproxy exited: $(tail -n 5 "$T/haproxy-pg.log")"
		sleep 0.1
	done
	die "haproxy not relaying to PostgreSQL after 10 s: $(tail -n 5 "$T/haproxy-pg.log")"
}

pg_start_sluiced() {	# pg_start_sluiced MODE
	local mode=$1 cfg=$T/sluiced-pg-$1.json
	cat >"$cfg" <<EOF
{
  "cgroup": "$CG",
  "control": "$T/ctl.sock",
  "listen": {"ipv4": "127.0.0.1", "ipv6": null, "port": $LISTEN_PORT},
  "workers": $WORKERS,
  "log_level": "warn",
  "store": {"path": "$T/store-pg-$mode", "mode": "$mode", "seal_key": "$T/seal.key"},
  "targets": [
    {"name": "bench-pg", "kind": "postgres", "match": ["$PG_IP:$PG_PORT"],
     "upstream": "$PG_IP:$PG_PORT", "fail_mode": "closed",
     "tls": {"cert": "$T/cert.pem", "key": "$T/key.pem"},
     "credential": {"user": "app", "password_file": "$T/app.pass"}}
  ]
}
EOF
	log "sluiced (postgres target), store.mode $mode"
	# ready when psql without the password gets an answer at the server's
	# own address: only sluiced's held credential can log it in
	start_sluiced "$cfg" "$T/sluiced-pg-$mode.log" \
		pg_client "sluice $mode" psql -X -w -At "$(pg_conn "sluice $mode")" -c 'SELECT 1'
}

# pg_run PATH KIND C PROXY_PID [WARMUP]: one bounded pgbench run; tps, mean
# latency and the proxy's CPU per transaction into R (not with WARMUP)
pg_run() {
	local path=$1 kind=$2 c=$3 ppid=$4 warm=${5:-} j=2 out n tps lat c0 c1 perf=
	((c < 2)) && j=1
	wait_drained
	[[ -z $ppid ]] || c0=$(cpu_ticks "$ppid")
	if [[ $PG_PERF == 1 && $path == "sluice ${PG_MODES##* }" && $kind$c == S8 ]]; then
		perf record -q -g -p "$SLUICED_PID" -o "$OUT/perf-pg.data" -- sleep $((PG_SECS - 1)) \
			>"$T/perf.log" 2>&1 &
		perf=$!
	fi
	out=$(pg_client "$path" pgbench -n "-$kind" -c "$c" -j "$j" -T "$PG_SECS" "$(pg_conn "$path")" 2>&1) ||
		die "$path: pgbench -$kind -c $c failed: $(tail -n 5 <<<"$out")"
	[[ -z $perf ]] || wait "$perf" || log "WARNING: perf record failed: $(tail -n 3 "$T/perf.log")"
	[[ -z $warm ]] || return 0
	n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
	tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -n 1)
	lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' <<<"$out")
	[[ -n $n && -n $tps ]] || die "$path: cannot read pgbench's output: $(tail -n 5 <<<"$out")"
	grep -q '^number of failed transactions: 0 ' <<<"$out" ||
		die "$path: pgbench -$kind -c $c had failed transactions: $(grep failed <<<"$out")"
	add "$path" "tps_$kind$c" "$tps"
	add "$path" "lat_$kind$c" "$lat"
	if [[ -n $ppid ]]; then
		wait_drained
		c1=$(cpu_ticks "$ppid")
		add "$path" "cpu_$kind$c" "$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$n" \
			'BEGIN { printf "%.1f", d / hz * 1e6 / n }')"
	fi
	log "$path: -$kind c=$c: $tps tps, $lat ms"
}

pg_pid() {	# pg_pid PATH: the pid of the path's proxy, "" for direct
	case $1 in
	direct) echo "" ;;
	"haproxy tcp") echo "$HAPROXY_PID" ;;
	pgbouncer) echo "$PGB_PID" ;;
	sluice*) echo "$SLUICED_PID" ;;
	esac
}

# pg_round PATH...: each kind and client count on every PATH in turn, so
# the figures compared in a column ran within seconds of each other (the
# machine's load drifts over minutes)
pg_round() {
	local kind c p
	for kind in $PG_KINDS; do
		for c in $PG_CLIENTS; do
			for p in "$@"; do pg_run "$p" "$kind" "$c" "$(pg_pid "$p")"; done
		done
	done
}

pg_bench() {
	local mode
	PG_LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
	PG_T0=$SECONDS
	pg_start_server
	pg_start_haproxy
	pg_start_pgbouncer
	pg_run direct S 8 "" warm	# the table into shared buffers
	# one round per store mode (one sluiced per bpffs): the reference
	# paths run in each, so they get a sample per mode
	for mode in $PG_MODES; do
		pg_start_sluiced "$mode"
		pg_round direct "haproxy tcp" pgbouncer "sluice $mode" "sluice $mode tls"
		stop_pid "$SLUICED_PID" 30
		SLUICED_PID=
		rm -rf "$T/store-pg-$mode"
	done
	stop_pid "$HAPROXY_PID"
	HAPROXY_PID=
	stop_pid "$PGB_PID"
	PGB_PID=
	if [[ -s $OUT/perf-pg.data ]]; then
		{
			perf report -i "$OUT/perf-pg.data" --no-children --sort dso --stdio -g none
			perf report -i "$OUT/perf-pg.data" --no-children --sort dso,symbol --stdio -g none
		} 2>/dev/null | grep -v '^$' | sed 's/ *$//; s/ *- *-$//' | grep -v '^#' | head -n 120 >"$OUT/perf-pg.txt" || true
		log "perf of sluiced (-S c=8): $OUT/perf-pg.txt"
	fi
	PG_LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
	PG_ELAPSED=$((SECONDS - PG_T0))
}

# pg_table PREFIX PATH...: a column per kind and client count, a row per
# PATH; PREFIX tps_ (with the ratio to direct) or =cpu_ (without)
pg_table() {
	local pre=$1 p kind c hdr="" sep="" cols=()
	shift
	for kind in $PG_KINDS; do
		for c in $PG_CLIENTS; do
			hdr+=" -$kind c=$c |"
			sep+="---|"
			cols+=("$pre$kind$c:0")
		done
	done
	echo "| path |$hdr"
	echo "|---|$sep"
	for p in "$@"; do row "$p" direct "${cols[@]}"; done
}

pg_report() {
	local p k mode paths=(direct "haproxy tcp" pgbouncer)
	for mode in $PG_MODES; do paths+=("sluice $mode" "sluice $mode tls"); done
	echo "## PostgreSQL benchmark"
	echo
	echo "\`make bench\` (PostgreSQL part) — $(date -u +%Y-%m-%dT%H:%MZ), sluice $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown),"
	echo "PostgreSQL $("$PG_BIN/postgres" -V | awk '{print $3}'), pgbench scale $PG_SCALE, simple protocol, ${PG_SECS} s per run, HAProxy $HAPROXY_VERSION, PgBouncer $PGB_VERSION;"
	echo "sluiced workers = HAProxy threads = $WORKERS (PgBouncer: one thread); $(nproc) × $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo);"
	echo "load average $PG_LOAD_START at the start, $PG_LOAD_END at the end; ${PG_ELAPSED} s."
	echo "One run per sluice row; direct, HAProxy and PgBouncer: the median of their $(wc -w <<<"$PG_MODES") runs (one next to each sluice mode's)."
	echo
	echo "Transactions per second (pgbench's, without connection time); ratio to direct in parentheses:"
	echo
	pg_table tps_ "${paths[@]}"
	echo
	echo "The proxy's CPU (user + system, all threads) per transaction, µs:"
	echo
	pg_table =cpu_ "${paths[@]:1}"
	echo
	echo "Every sample (tps_*, lat_* mean latency in ms, cpu_* µs per transaction; KIND then clients):"
	echo
	echo '```'
	for p in "${paths[@]}"; do
		for k in "${!R[@]}"; do
			if [[ $k == "$p|"[tlc][pa][stu]_* ]]; then printf '%-28s %s\n' "$k" "${R[$k]}"; fi
		done
	done | sort
	echo '```'
}
