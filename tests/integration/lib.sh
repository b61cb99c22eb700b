# shellcheck shell=bash
# Sourced by every tests/integration/NN_*.sh. Gives a test:
#   skip REASON / fail MSG / log MSG / need_root / need_bpf / need_cmd CMD...
#   $T                   a private temp dir (mode 755: postgres reads it)
#   make_cgroup          a fresh child cgroup under the cgroup2 mount: $CG
#                        (absolute) and $CG_REL (relative to the mount, "/...")
#   in_cgroup CMD...     run CMD inside $CG; its pid (CMD is exec'd, so the
#                        pid is CMD's own) is written to $T/last_pid, or to
#                        $IN_CGROUP_PIDFILE when set
#   write_config FILE    the standard test config (targets pg and web)
#   start_sluiced CFG    daemon in the background, waits for "ready":
#                        $SLUICED_PID, $SLUICED_LOG; stop_sluiced [SIGNAL]
#   sluice_cli ARGS...   the CLI against this test's control socket
#   start_postgres ADDR PORT / start_http ADDR PORT [ADDR PORT...]
#   one EXIT trap that always stops what was started, runs
#   `sluiced --uninstall`, empties and removes the cgroup and the temp dir.
# Only loopback addresses are used (127.0.10.x on lo, ::1).
set -euo pipefail

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$LIB_DIR/../.." && pwd)
TEST_NAME=$(basename "$0" .sh)
HELPER=$LIB_DIR/helper.py
PY=/usr/bin/python3		# Debian's, whatever PATH says
PIN_DIR=/sys/fs/bpf/sluice

: "${SLUICE_BUILD:=build}"
case $SLUICE_BUILD in
/*) BUILD_DIR=$SLUICE_BUILD ;;
*) BUILD_DIR=$REPO_ROOT/$SLUICE_BUILD ;;
esac
SLUICED=$BUILD_DIR/sluiced
SLUICE=$BUILD_DIR/sluice
export SLUICE_BUILD

# the sanitizers: report everything, keep the exit code meaningful
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

_SLUICED_PIDS=()
_NGINX_PIDS=()
_PG_DIRS=()
_CGROUPS=()
# commands the EXIT trap runs after the daemons and servers above stop
# (lib_k8s.sh stops its etcd and kube-apiserver this way)
_CLEANUP_HOOKS=()
SLUICED_PID=
SLUICED_LOG=
CG=
CG_REL=

log() { printf '[%s %s] %s\n' "$TEST_NAME" "$(date +%T.%3N)" "$*" >&2; }
skip() {
	printf 'SKIP: %s\n' "$*"
	exit 77
}
fail() {
	printf 'FAIL: %s: %s\n' "$TEST_NAME" "$*" >&2
	exit 1
}

need_root() {
	[[ ${EUID:-$(id -u)} -eq 0 ]] || skip "needs root (bpf programs, cgroups, servers)"
}

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
			skip "$c not installed (scripts/deps.sh installs the test packages)"
	done
}

cgroup2_mount() {
	awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts
}

need_bpf() {
	[[ -r /sys/kernel/btf/vmlinux ]] ||
		skip "kernel has no BTF (/sys/kernel/btf/vmlinux missing)"
	[[ -n $(cgroup2_mount) ]] ||
		skip "no cgroup2 file system mounted (see /proc/self/mounts)"
	[[ -d /sys/fs/bpf ]] || skip "/sys/fs/bpf does not exist"
	[[ -x $SLUICED && -x $SLUICE ]] ||
		fail "binaries missing: $SLUICED, $SLUICE (build with make BUILD=$SLUICE_BUILD)"
	command -v bpftool >/dev/null 2>&1 ||
		skip "bpftool not installed (scripts/deps.sh installs it)"
	local other pid
	other=$(other_sluiced)
	if [[ -n $other ]]; then
		for pid in $other; do
			other+=" [$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)]"
		done
		fail "another sluiced is running (pid $other) and owns $PIN_DIR; stop it, or run the suite in its own namespaces: tests/integration/sandbox.sh make test"
	fi
}

# who_listens PORT: the processes listening on PORT, for error messages
who_listens() {
	ss -Hltnp "sport = :$1" 2>/dev/null | awk '{print $4, $6}' | tr '\n' ' '
}

# alive PID: running and not a zombie
alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ -n $st && $st != Z* ]]
}

# wait_until SECONDS CMD...: poll CMD every 0.1 s; 0 once it succeeds
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	while ((SECONDS < deadline)); do
		if "$@"; then return 0; fi
		sleep 0.1
	done
	"$@"
}

# other_sluiced: pids of running sluiced daemons, not started by this test,
# that share our /sys/fs/bpf (same mount namespace), hence our pins
other_sluiced() {
	local pid mine out=()
	mine=$(readlink /proc/self/ns/mnt)
	for pid in $(pgrep -x sluiced); do
		[[ " ${_SLUICED_PIDS[*]} " == *" $pid "* ]] && continue
		alive "$pid" || continue
		[[ $(readlink "/proc/$pid/ns/mnt" 2>/dev/null) == "$mine" ]] && out+=("$pid")
	done
	echo "${out[*]}"
}

T=$(mktemp -d /tmp/sluice-it.XXXXXX)
chmod 755 "$T"

make_cgroup() {
	local mnt
	mnt=$(cgroup2_mount)
	[[ -n $mnt ]] || skip "no cgroup2 file system mounted"
	CG=$mnt/sluice-test-$TEST_NAME-$$-$RANDOM
	mkdir "$CG" || fail "cannot create cgroup $CG"
	_CGROUPS+=("$CG")
	CG_REL=${CG#"$mnt"}
	log "cgroup $CG"
}

in_cgroup() {
	[[ -n $CG ]] || fail "in_cgroup before make_cgroup"
	# shellcheck disable=SC2016
	sh -c 'echo $$ > "$1/cgroup.procs" && echo $$ > "$2" && shift 2 && exec "$@"' \
		in_cgroup "$CG" "${IN_CGROUP_PIDFILE:-$T/last_pid}" "$@"
}

last_pid() { cat "$T/last_pid"; }

# The config of the tests (DESIGN §9): a `closed` target pg and an `open`
# target web, both with match == upstream.
write_config() {
	local file=$1
	[[ -n $CG ]] || fail "write_config before make_cgroup"
	cat >"$file" <<EOF
{
  "cgroup": "$CG",
  "control": "$T/ctl.sock",
  "listen": {"ipv4": "127.0.0.1", "ipv6": "::1", "port": 15443},
  "heartbeat_ms": 100,
  "stale_ms": 500,
  "store": {"path": "$T/store", "seal_key": "$T/seal.key"},
  "targets": [
    {"name": "pg", "kind": "tcp", "match": ["127.0.10.1:5432"],
     "upstream": "127.0.10.1:5432", "fail_mode": "closed"},
    {"name": "web", "kind": "tcp", "match": ["127.0.10.2:8080", "[::1]:8080"],
     "upstream": "127.0.10.2:8080", "fail_mode": "open"}
  ]
}
EOF
}

start_sluiced() {
	local cfg=$1 n other
	other=$(other_sluiced)
	[[ -z $other ]] ||
		fail "another sluiced is running (pid $other); the tests need the machine's sluice pins to themselves"
	n=${#_SLUICED_PIDS[@]}
	SLUICED_LOG=$T/sluiced.$n.log
	log "starting $SLUICED --config $cfg (log $SLUICED_LOG)"
	: >"$SLUICED_LOG"
	"$SLUICED" --config "$cfg" >"$SLUICED_LOG" 2>&1 &
	SLUICED_PID=$!
	_SLUICED_PIDS+=("$SLUICED_PID")
	local i
	for ((i = 0; i < 100; i++)); do
		if grep -q '"msg": *"ready"' "$SLUICED_LOG"; then
			log "sluiced ready (pid $SLUICED_PID)"
			return 0
		fi
		alive "$SLUICED_PID" || break
		sleep 0.1
	done
	if alive "$SLUICED_PID"; then
		fail "sluiced not ready after 10 s; its log:
$(tail -n 50 "$SLUICED_LOG")"
	fi
	local rc=0
	wait "$SLUICED_PID" || rc=$?
	fail "sluiced exited with status $rc before it was ready; its log:
$(tail -n 50 "$SLUICED_LOG")"
}

# stop_sluiced [SIGNAL]: signal the current daemon (TERM by default) and
# reap it; SLUICED_RC is its exit status (128+n for a signal).
stop_sluiced() {
	local sig=${1:-TERM} pid=$SLUICED_PID i
	[[ -n $pid ]] || return 0
	kill -"$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		log "sluiced (pid $pid) still alive 10 s after SIG$sig: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	SLUICED_RC=0
	wait "$pid" 2>/dev/null || SLUICED_RC=$?
	log "sluiced (pid $pid) gone after SIG$sig, status $SLUICED_RC"
}

sluice_cli() { "$SLUICE" --ctl "$T/ctl.sock" --store "$T/store" "$@"; }

# conn_list: the daemon's connections, closed ones included, as JSON
conn_list() { sluice_cli -j conn list --all; }

# wait_conn SECONDS FILTER...: poll `conn list --all` until a connection
# matches (helper.py find-conn filters); print it. 1 if none did.
wait_conn() {
	local deadline=$((SECONDS + $1)) out
	shift
	while :; do
		if out=$(conn_list 2>/dev/null | "$PY" "$HELPER" find-conn "$@"); then
			printf '%s\n' "$out"
			return 0
		fi
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

# target_field NAME FIELD: a field of `sluice -j target list` (daemon or maps)
target_field() {
	sluice_cli -j target list 2>/dev/null | "$PY" "$HELPER" target-field "$1" "$2"
}

# jget JSON EXPR: EXPR (Python, the document bound to j) evaluated on JSON
jget() { "$PY" "$HELPER" get "$2" <<<"$1"; }

# expect_eq ACTUAL EXPECTED WHAT [CONTEXT]
expect_eq() {
	[[ $1 == "$2" ]] || fail "$3: got '$1', expected '$2'${4:+
$4}"
}

# expect_ge ACTUAL MIN WHAT [CONTEXT]: integers
expect_ge() {
	[[ $1 =~ ^[0-9]+$ ]] && (($1 >= $2)) || fail "$3: got '$1', expected >= $2${4:+
$4}"
}

# attach_counts DIR: the programs attached to cgroup DIR, by attach type,
# as JSON {"connect4": 1, ...} (bpftool's spellings normalised)
attach_counts() {
	bpftool -j cgroup show "$1" | "$PY" "$HELPER" attach-count
}
ATTACH_EXPECTED='{"connect4": 1, "connect6": 1, "getpeername4": 1, "getpeername6": 1, "sock_ops": 1}'

pins_empty() {
	[[ ! -d $PIN_DIR ]] || [[ -z $(ls -A "$PIN_DIR" 2>/dev/null) ]]
}

pg_bindir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[[ -n $d && -x $d/initdb && -x $d/pg_ctl ]] || return 1
	printf '%s\n' "$d"
}

# start_postgres ADDR PORT: a throwaway cluster (trust auth, user postgres)
# listening on ADDR:PORT only, its unix socket in $T. Sets PG_SOCKDIR.
start_postgres() {
	local addr=$1 port=$2 bin dir
	bin=$(pg_bindir) || skip "PostgreSQL server not installed (scripts/deps.sh installs it)"
	id postgres >/dev/null 2>&1 || skip "no postgres user (the postgresql package creates it)"
	"$PY" "$HELPER" port-free "$addr" "$port" >/dev/null ||
		fail "$addr:$port is already in use: $(who_listens "$port")"
	dir=$T/pg-$port-${#_PG_DIRS[@]}
	mkdir -p "$dir/sock"
	chown -R postgres:postgres "$dir"
	runuser -u postgres -- "$bin/initdb" -D "$dir/data" -A trust -U postgres \
		-E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
		fail "initdb failed: $(tail -n 20 "$dir/initdb.log")"
	_PG_DIRS+=("$dir")
	runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
		-o "-c listen_addresses='$addr' -c port=$port -c unix_socket_directories='$dir/sock' -c fsync=off" \
		start >"$dir/pg_ctl.log" 2>&1 ||
		fail "PostgreSQL did not start on $addr:$port: $(tail -n 20 "$dir/server.log" "$dir/pg_ctl.log" 2>&1)"
	PG_SOCKDIR=$dir/sock
	log "PostgreSQL $("$bin/postgres" -V | awk '{print $3}') on $addr:$port ($dir)"
}

HTTP_TOKEN=sluice-http-ok-$$-$RANDOM$RANDOM
HTTP_DIR=
HTTP_BIG_SHA=

# start_http ADDR PORT [ADDR PORT...]: nginx serving /index.html (the line
# $HTTP_TOKEN) and /big.bin (1 MiB random, sha256 $HTTP_BIG_SHA), access
# log "$remote_addr $remote_port $server_addr $server_port ..." in
# $HTTP_DIR/access.log.
start_http() {
	need_cmd nginx
	local dir listens="" addr port pid i
	dir=$T/http-${#_NGINX_PIDS[@]}
	mkdir -p "$dir/www" "$dir/tmp"
	printf '%s\n' "$HTTP_TOKEN" >"$dir/www/index.html"
	head -c 1048576 /dev/urandom >"$dir/www/big.bin"
	HTTP_BIG_SHA=$(sha256sum "$dir/www/big.bin" | awk '{print $1}')
	chmod -R a+rX "$dir"
	local urls=()
	while (($# >= 2)); do
		addr=$1 port=$2
		shift 2
		"$PY" "$HELPER" port-free "$addr" "$port" >/dev/null ||
			fail "$addr:$port is already in use: $(who_listens "$port")"
		if [[ $addr == *:* ]]; then
			listens+="    listen [$addr]:$port;"$'\n'
			urls+=("http://[$addr]:$port/index.html")
		else
			listens+="    listen $addr:$port;"$'\n'
			urls+=("http://$addr:$port/index.html")
		fi
	done
	cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log info;
user nobody nogroup;
events { worker_connections 256; }
http {
    log_format probe '\$remote_addr \$remote_port \$server_addr \$server_port "\$request" \$status \$body_bytes_sent';
    access_log $dir/access.log probe;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    default_type application/octet-stream;
    server {
$listens        root $dir/www;
    }
}
EOF
	nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout.log" 2>&1 &
	pid=$!
	_NGINX_PIDS+=("$pid")
	HTTP_DIR=$dir
	local u
	for u in "${urls[@]}"; do
		for ((i = 0; i < 100; i++)); do
			if curl -fsS --max-time 2 "$u" 2>/dev/null | grep -qxF "$HTTP_TOKEN"; then
				break
			fi
			alive "$pid" || fail "nginx exited: $(cat "$dir/stdout.log" "$dir/error.log" 2>&1 | tail -n 20)"
			sleep 0.1
		done
		((i < 100)) || fail "nginx does not answer $u: $(tail -n 20 "$dir/error.log")"
	done
	log "nginx (pid $pid) serving ${urls[*]}"
}

# http_log_has_port PORT: the HTTP server's access log has a request whose
# client port was PORT, i.e. the client reached nginx directly.
http_log_has_port() {
	awk -v p="$1" '$2 == p { found = 1 } END { exit !found }' "$HTTP_DIR"/access.log
}

_kill_and_reap() {	# _kill_and_reap SIGNAL PID...
	local sig=$1 pid i
	shift
	for pid in "$@"; do kill -"$sig" "$pid" 2>/dev/null || true; done
	for pid in "$@"; do
		for ((i = 0; i < 50; i++)); do
			alive "$pid" || break
			sleep 0.1
		done
		if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
		wait "$pid" 2>/dev/null || true
	done
}

_cleanup() {
	local rc=$? f pid cg mnt i bin dir
	# a second signal (timeout signals the child, then its group) must not
	# cut the cleanup short; the runner's timeout -k still bounds it
	trap '' TERM INT HUP
	set +e
	if ((rc != 0 && rc != 77)); then
		for f in "$T"/sluiced.*.log; do
			[[ -s $f ]] || continue
			printf -- '--- %s (last 40 lines)\n' "$f" >&2
			tail -n 40 "$f" >&2
		done
	fi
	log "cleanup (exit status $rc)"
	# the test's own background jobs first (clients, sleeps), but not the
	# daemons and servers, which get a clean stop below
	for pid in $(jobs -p); do
		[[ " ${_SLUICED_PIDS[*]} ${_NGINX_PIDS[*]} " == *" $pid "* ]] ||
			kill -KILL "$pid" 2>/dev/null
	done
	if ((${#_SLUICED_PIDS[@]})); then
		log "cleanup: stopping sluiced (pid ${_SLUICED_PIDS[*]})"
		_kill_and_reap TERM "${_SLUICED_PIDS[@]}"
	fi
	((${#_NGINX_PIDS[@]})) && _kill_and_reap TERM "${_NGINX_PIDS[@]}"
	if ((${#_PG_DIRS[@]})); then
		bin=$(pg_bindir)
		for dir in "${_PG_DIRS[@]}"; do
			[[ -f $dir/data/postmaster.pid ]] || continue
			pid=$(head -n 1 "$dir/data/postmaster.pid")
			runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 10 \
				stop >/dev/null 2>&1 || kill -KILL "$pid" 2>/dev/null
		done
	fi
	for f in "${_CLEANUP_HOOKS[@]}"; do $f; done
	# Ours are all gone now: a sluiced still running belongs to someone else
	# (a developer's own daemon) and its pins are not ours to remove.
	pid=$(other_sluiced)
	if [[ -n $pid ]]; then
		log "WARNING: not running sluiced --uninstall: another sluiced is running (pid $pid)"
	elif [[ ${EUID:-$(id -u)} -eq 0 && -x $SLUICED ]]; then
		log "cleanup: sluiced --uninstall"
		"$SLUICED" --uninstall >"$T/uninstall.log" 2>&1 ||
			log "WARNING: sluiced --uninstall failed: $(tail -n 5 "$T/uninstall.log")"
	fi
	mnt=$(cgroup2_mount)
	for cg in "${_CGROUPS[@]}"; do
		[[ -d $cg ]] || continue
		[[ -e $cg/cgroup.kill ]] && echo 1 >"$cg/cgroup.kill" 2>/dev/null
		for ((i = 0; i < 50; i++)); do
			while read -r pid; do
				kill -KILL "$pid" 2>/dev/null
				echo "$pid" >"$mnt/cgroup.procs" 2>/dev/null
			done <"$cg/cgroup.procs"
			rmdir "$cg" 2>/dev/null && break
			sleep 0.1
		done
		[[ -d $cg ]] && log "WARNING: could not remove cgroup $cg"
	done
	rm -rf "$T"
	exit "$rc"
}
trap _cleanup EXIT
trap 'trap "" TERM INT HUP; exit 143' TERM
trap 'trap "" TERM INT HUP; exit 130' INT
trap 'trap "" TERM INT HUP; exit 129' HUP

# --- TLS peers and recorded sessions (the 6x tests; nothing above uses these) --
#   make_ca NAME                  a throwaway CA: $T/pki/NAME.crt, NAME.key
#   make_cert CA NAME SAN         a server leaf signed by CA, SAN as openssl
#                                 writes it ("IP:127.0.10.5,DNS:api.test"):
#                                 $T/pki/NAME.crt, NAME.key
#   start_https ADDR PORT CERT KEY  nginx with TLS (1.2 and 1.3) serving what
#                                 start_http serves; sets HTTP_DIR, HTTP_BIG_SHA
#   store_cli ARGS...             the CLI on this test's store ($STORE_DIR,
#                                 default $T/store), no daemon needed
#   wait_session_end SECONDS SID  poll the store until SID has its
#                                 session_end event; print `session show`
#   session_events_text JSON      the session's error/end words, one line each
#   wait_size SECONDS FILE BYTES  until FILE holds at least BYTES bytes
PKI=$T/pki

make_ca() {
	mkdir -p "$PKI"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$PKI/$1.key" -out "$PKI/$1.crt" -days 2 \
		-subj "/CN=sluice test CA $1" -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign >"$PKI/$1.log" 2>&1 ||
		fail "openssl: cannot make CA $1: $(cat "$PKI/$1.log")"
}

make_cert() {
	local ca=$1 name=$2 san=$3
	mkdir -p "$PKI"
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' \
		"$san" >"$PKI/$name.ext"
	{
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$PKI/$name.key" -out "$PKI/$name.csr" -subj "/CN=$name" &&
			openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" \
				-CAkey "$PKI/$ca.key" -CAcreateserial -days 2 \
				-extfile "$PKI/$name.ext" -out "$PKI/$name.crt"
	} >"$PKI/$name.log" 2>&1 || fail "openssl: cannot make cert $name: $(cat "$PKI/$name.log")"
	chmod 644 "$PKI/$name.key"	# nginx reads it as nobody
}

start_https() {
	need_cmd nginx
	local addr=$1 port=$2 cert=$3 key=$4 dir pid i
	dir=$T/https-${#_NGINX_PIDS[@]}
	mkdir -p "$dir/www" "$dir/tmp"
	printf '%s\n' "$HTTP_TOKEN" >"$dir/www/index.html"
	head -c 1048576 /dev/urandom >"$dir/www/big.bin"
	HTTP_BIG_SHA=$(sha256sum "$dir/www/big.bin" | awk '{print $1}')
	cp "$cert" "$dir/server.crt"
	cp "$key" "$dir/server.key"
	chmod -R a+rX "$dir"
	"$PY" "$HELPER" port-free "$addr" "$port" >/dev/null ||
		fail "$addr:$port is already in use: $(who_listens "$port")"
	cat >"$dir/nginx.conf" <<NGINX
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log info;
user nobody nogroup;
events { worker_connections 256; }
http {
    log_format probe '\$remote_addr \$remote_port \$server_addr \$server_port "\$request" \$status \$body_bytes_sent \$ssl_protocol';
    access_log $dir/access.log probe;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    default_type application/octet-stream;
    server {
        listen $addr:$port ssl;
        ssl_certificate $dir/server.crt;
        ssl_certificate_key $dir/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        root $dir/www;
    }
}
NGINX
	nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout.log" 2>&1 &
	pid=$!
	_NGINX_PIDS+=("$pid")
	HTTP_DIR=$dir
	for ((i = 0; i < 100; i++)); do
		if curl -fsS --max-time 2 -k "https://$addr:$port/index.html" 2>/dev/null |
			grep -qxF "$HTTP_TOKEN"; then
			break
		fi
		alive "$pid" || fail "nginx (https) exited: $(cat "$dir/stdout.log" "$dir/error.log" 2>&1 | tail -n 20)"
		sleep 0.1
	done
	((i < 100)) || fail "nginx does not answer https://$addr:$port/: $(tail -n 20 "$dir/error.log")"
	log "nginx (pid $pid) serving https://$addr:$port/"
}

store_cli() { "$SLUICE" --store "${STORE_DIR:-$T/store}" "$@"; }

# session_has_end SID: the store holds SID's session_end event
session_has_end() {
	local show
	show=$(store_cli -j session show "$1" 2>/dev/null) || return 1
	[[ $("$PY" "$HELPER" get 'any(e.get("type") == "session_end" for e in j.get("events", []))' \
		<<<"$show") == true ]]
}

wait_session_end() {
	local secs=$1 sid=$2
	wait_until "$secs" session_has_end "$sid" ||
		fail "session $sid has no session_end in the store after ${secs}s:
$(store_cli -j session show "$sid" 2>&1 | head -c 3000)"
	store_cli -j session show "$sid"
}

# session_events_text JSON: every error message and the end status/reason of
# a `session show` document, one per line (for grep)
session_events_text() {
	"$PY" "$HELPER" get '"\n".join([e.get("message", "") for e in j.get("events", []) if e.get("type") == "error"] + ["end %s: %s" % (e.get("status"), e.get("reason")) for e in j.get("events", []) if e.get("type") == "session_end"])' <<<"$1"
}

file_size_ge() { [[ -e $1 ]] && (($(stat -c %s "$1") >= $2)); }
wait_size() { wait_until "$1" file_size_ge "$2" "$3"; }
