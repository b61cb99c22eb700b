#!/usr/bin/env bash
# The quick start (`make demo`): a real PostgreSQL on 127.0.0.1:5432, sluiced
# with its embedded default config (target local-postgres: 127.0.0.1:5432 and
# [::1]:5432, attached at the cgroup v2 root), an unmodified psql against the
# database's real address, then what sluice saw. Cleans up after itself:
# stops sluiced, `sluiced --uninstall`, stops PostgreSQL, removes its files.
# Root only. SLUICE_BUILD picks the build directory (default: build).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${SLUICE_BUILD:=build}"
case $SLUICE_BUILD in
/*) BUILD=$SLUICE_BUILD ;;
*) BUILD=$ROOT/$SLUICE_BUILD ;;
esac
SLUICED=$BUILD/sluiced
SLUICE=$BUILD/sluice
PY=/usr/bin/python3
ADDR=127.0.0.1
PORT=5432

say() { printf '\n==> %s\n' "$*"; }
die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

[[ ${EUID:-$(id -u)} -eq 0 ]] || die "run as root: it loads bpf programs (sudo make demo)"
[[ -x $SLUICED && -x $SLUICE ]] || die "no $SLUICED or $SLUICE: build first (make)"
[[ -r /sys/kernel/btf/vmlinux ]] || die "the kernel has no BTF (/sys/kernel/btf/vmlinux); sluice needs Linux >= 5.8 with BTF"
grep -q ' cgroup2 ' /proc/self/mounts || die "no cgroup v2 mounted; sluice needs cgroup v2"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[[ -n $PGBIN && -x $PGBIN/initdb ]] || die "PostgreSQL server not installed (scripts/deps.sh installs it)"
command -v psql >/dev/null || die "psql not installed (scripts/deps.sh installs it)"
id postgres >/dev/null 2>&1 || die "no postgres user (the postgresql package creates it)"
for pid in $(pgrep -x sluiced || true); do
	# a daemon sharing our /sys/fs/bpf would share the pins
	[[ $(readlink "/proc/$pid/ns/mnt" 2>/dev/null) == "$(readlink /proc/self/ns/mnt)" ]] &&
		die "a sluiced is already running (pid $pid); stop it first"
done
if ! "$PY" - "$ADDR" "$PORT" <<'EOF'; then
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
    s.listen(1)
except OSError:
    sys.exit(1)
EOF
	die "$ADDR:$PORT is already in use ($(ss -Hltnp "sport = :$PORT" 2>/dev/null | awk '{print $4, $6}' | xargs)).
The demo starts its own PostgreSQL there: stop the other server first (e.g. pg_ctlcluster 15 main stop)."
fi

T=$(mktemp -d /tmp/sluice-demo.XXXXXX)
chmod 755 "$T"
SLUICED_PID=
PG_STARTED=0

cleanup() {
	local rc=$? i
	# a second signal (timeout signals the child, then its group) must not
	# cut the cleanup short; the runner's timeout -k still bounds it
	trap '' TERM INT HUP
	set +e
	say "cleaning up"
	if [[ -n $SLUICED_PID ]]; then
		kill -TERM "$SLUICED_PID" 2>/dev/null
		for ((i = 0; i < 50; i++)); do
			kill -0 "$SLUICED_PID" 2>/dev/null || break
			[[ $(ps -o stat= -p "$SLUICED_PID" 2>/dev/null) == Z* ]] && break
			sleep 0.1
		done
		kill -KILL "$SLUICED_PID" 2>/dev/null
		wait "$SLUICED_PID" 2>/dev/null
		echo "stopped sluiced"
	fi
	"$SLUICED" --uninstall >"$T/uninstall.log" 2>&1 &&
		echo "sluiced --uninstall: bpf programs detached, /sys/fs/bpf/sluice removed" ||
		echo "WARNING: sluiced --uninstall failed: $(tail -n 5 "$T/uninstall.log")"
	if ((PG_STARTED)); then
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/pg/data" -m fast -w -t 20 stop >/dev/null 2>&1 ||
			kill -KILL "$(head -n 1 "$T/pg/data/postmaster.pid" 2>/dev/null)" 2>/dev/null
		echo "stopped PostgreSQL"
	fi
	if ((rc != 0)) && [[ -s $T/sluiced.log ]]; then
		echo "--- sluiced's log (last 20 lines)"
		tail -n 20 "$T/sluiced.log"
	fi
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'trap "" TERM INT HUP; exit 143' TERM
trap 'trap "" TERM INT HUP; exit 130' INT
trap 'trap "" TERM INT HUP; exit 129' HUP

say "starting PostgreSQL $("$PGBIN/postgres" -V | awk '{print $3}') on $ADDR:$PORT (a throwaway cluster in $T/pg)"
mkdir -p "$T/pg/sock"
chown -R postgres:postgres "$T/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$T/pg/data" -A trust -U postgres -E UTF8 --no-sync \
	>"$T/initdb.log" 2>&1 || die "initdb failed: $(tail -n 20 "$T/initdb.log")"
PG_STARTED=1
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/pg/data" -l "$T/pg/server.log" -w -t 30 \
	-o "-c listen_addresses='$ADDR' -c port=$PORT -c unix_socket_directories='$T/pg/sock'" \
	start >/dev/null 2>&1 || die "PostgreSQL did not start: $(tail -n 20 "$T/pg/server.log")"

say "starting sluiced with its embedded default config (no --config): target local-postgres, 127.0.0.1:5432 and [::1]:5432, attached at the cgroup v2 root"
"$SLUICED" 2>"$T/sluiced.log" &
SLUICED_PID=$!
for ((i = 0; i < 100; i++)); do
	grep -q '"msg": *"ready"' "$T/sluiced.log" && break
	kill -0 "$SLUICED_PID" 2>/dev/null || die "sluiced exited: $(tail -n 20 "$T/sluiced.log")"
	sleep 0.1
done
grep -q '"msg": *"ready"' "$T/sluiced.log" || die "sluiced not ready after 10 s"
grep '"msg": *"ready"' "$T/sluiced.log"

say "psql -h $ADDR -p $PORT -U postgres -c 'select version()'   (unmodified psql, the database's real address)"
psql -X -P pager=off -h "$ADDR" -p "$PORT" -U postgres -d postgres -c 'select version()' &
psql_pid=$!
wait "$psql_pid" || die "psql failed"
psql -X -P pager=off -h "$ADDR" -p "$PORT" -U postgres -d postgres \
	-c "create table demo (id int, note text)" \
	-c "insert into demo values (1, 'through sluice'), (2, 'unmodified psql')" \
	-c "select * from demo" || die "psql failed"

say "sluice status"
"$SLUICE" status || echo "(sluice status exited $?)"

say "sluice conn list --all"
"$SLUICE" conn list --all || echo "(sluice conn list exited $?)"

say "what sluiced saw of the first psql (pid $psql_pid)"
"$SLUICE" -j conn list --all >"$T/conns.json" || die "sluice -j conn list failed"
"$PY" - "$psql_pid" "$T/conns.json" <<'EOF' || die "sluiced did not report psql's connection"
import json, sys
pid, path = int(sys.argv[1]), sys.argv[2]
conns = json.load(open(path)).get("connections", [])
mine = [c for c in conns if (c.get("kernel") or {}).get("pid") == pid]
if not mine:
    print("no connection of pid %d in: %s" % (pid, json.dumps(conns)), file=sys.stderr)
    sys.exit(1)
c = mine[0]
k = c["kernel"]
print("sluiced saw %s (pid %s, uid %s, cgroup %s) connect to %s (target %s): "
      "%s bytes up, %s bytes down, client %s, relayed to %s"
      % (k.get("comm"), k.get("pid"), k.get("uid"), k.get("cgroup"), c.get("original"),
         c.get("target"), c.get("bytes_up"), c.get("bytes_down"), c.get("client"),
         c.get("upstream")))
open(path + ".sid", "w").write(c.get("session") or "")
EOF
sid=$(cat "$T/conns.json.sid")
[[ -n $sid ]] || die "psql's connection has no recorded session"

say "its recording (store /var/lib/sluice): sluice session show $sid"
"$SLUICE" session show "$sid" || die "sluice session show failed"

say "what psql sent, replayed from the recording: sluice session replay $sid --dir up --speed 0"
"$SLUICE" session replay "$sid" --dir up --speed 0 | head -c 600 || true
echo

say "sluice session verify $sid (hash chain and Ed25519 seals)"
"$SLUICE" session verify "$sid" || die "the recording does not verify"
