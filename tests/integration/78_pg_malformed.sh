#!/usr/bin/env bash
# Issue 5, test 6: malformed PostgreSQL messages through a postgres target
# (a real PostgreSQL 15 on 127.0.10.79 behind it). A raw client in the test
# cgroup sends: a startup packet whose length is below the minimum; one
# cut short (then closes); an unknown startup code; after a good login, a
# Query declaring 1 GiB, a message of an unknown type, and a Sync with a
# body. Each gets a FATAL ErrorResponse (or, for the cut one, a close); the
# session record's end reason says why; the daemon lives and a normal psql
# session still works afterwards, and psql's cancel (SIGINT during
# pg_sleep) reaches the server's backend through sluice's key mapping.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
need_bpf
need_cmd psql
make_cgroup
A=127.0.10.79
P=5479
start_postgres "$A" "$P"
cat >"$T/config.json" <<EOF
{
  "cgroup": "$CG",
  "control": "$T/ctl.sock",
  "listen": {"ipv4": "127.0.0.1", "ipv6": "::1", "port": 15443},
  "heartbeat_ms": 100, "stale_ms": 500,
  "store": {"path": "$T/store", "seal_key": "$T/seal.key"},
  "targets": [
    {"name": "pg", "kind": "postgres", "match": ["$A:$P"], "upstream": "$A:$P",
     "fail_mode": "closed", "credential": {"user": "postgres"}}
  ]
}
EOF
start_sluiced "$T/config.json"

cat >"$T/raw.py" <<'PYEOF'
import socket, struct, sys
addr, port, case = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((addr, port), timeout=10)

def startup():
    body = struct.pack("!I", 196608) + b"user\0agent\0database\0postgres\0\0"
    return struct.pack("!I", len(body) + 4) + body

def read_all():
    data = b""
    while True:
        try:
            d = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not d:
            break
        data += d
    return data

def login():
    s.sendall(startup())
    data = b""
    while not (len(data) >= 6 and data[-6:-5] == b"Z"):
        d = s.recv(65536)
        if not d:
            sys.exit("closed during login: %r" % data)
        data += d

if case == "short-length":
    s.sendall(struct.pack("!I", 3) + b"\0\0\0\0")
elif case == "cut":
    s.sendall(startup()[:10])
    s.shutdown(socket.SHUT_WR)
elif case == "bad-code":
    s.sendall(struct.pack("!II", 8, 12345678))
elif case == "huge":
    login()
    s.sendall(b"Q" + struct.pack("!I", 1 << 30) + b"SELECT 1")
elif case == "unknown-type":
    login()
    s.sendall(b"z" + struct.pack("!I", 4))
elif case == "sync-body":
    login()
    s.sendall(b"S" + struct.pack("!I", 8) + b"abcd")
data = read_all()
# the ErrorResponse fields: severity, code, message
i = data.find(b"E")
while i >= 0 and i + 5 <= len(data):
    n = struct.unpack("!I", data[i + 1:i + 5])[0]
    fields = {f[:1].decode(): f[1:].decode(errors="replace") for f in data[i + 5:i + 1 + n].split(b"\0") if f}
    if "C" in fields:
        print("%s %s %s" % (fields.get("S"), fields.get("C"), fields.get("M")))
        break
    i = data.find(b"E", i + 1)
else:
    print("closed without an error (%d bytes)" % len(data))
PYEOF

last_sid() {
	conn_list | "$PY" -c 'import json,sys; c=[x for x in json.load(sys.stdin)["connections"] if x["target"]=="pg"]; c.sort(key=lambda x: x["id"]); print(c[-1]["session"])'
}
# case NAME EXPECTED_ANSWER_PREFIX EXPECTED_REASON_PART
case_() {
	local out sid show reason
	out=$(in_cgroup "$PY" "$T/raw.py" "$A" "$P" "$1" 2>&1) || fail "$1: client failed: $out"
	log "$1: $out"
	[[ $out == "$2"* ]] || fail "$1: answer '$out', expected '$2...'"
	sid=$(last_sid)
	show=$(wait_session_end 10 "$sid")
	reason=$(jget "$show" '[e.get("reason") for e in j["events"] if e.get("type") == "session_end"][0]')
	log "$1: session end reason: $reason"
	[[ $reason == *"$3"* ]] || fail "$1: session end reason '$reason' lacks '$3'"
	alive "$SLUICED_PID" || fail "sluiced died after $1"
}
case_ short-length "FATAL 08P01" "malformed message from the client"
case_ cut "closed without an error" "closed inside a message"
case_ bad-code "FATAL 08P01" "invalid startup packet"
case_ huge "FATAL 54000" "malformed message from the client"
case_ unknown-type "FATAL 08P01" "malformed message from the client"
case_ sync-body "FATAL 08P01" "malformed message from the client"

out=$(in_cgroup psql -X -At "host=$A port=$P user=agent dbname=postgres sslmode=disable" -c 'SELECT 6 * 7' 2>&1) ||
	fail "psql after the malformed clients: $out"
expect_eq "$out" 42 "a normal session afterwards"

# CancelRequest: psql's Ctrl-C goes to sluice with the key sluice gave it,
# and sluice sends the server's own key to the server
start=$(date +%s)
out=$(in_cgroup timeout -s INT 2 psql -X -At "host=$A port=$P user=agent dbname=postgres sslmode=disable" \
	-c 'SELECT pg_sleep(20)' 2>&1) || true
log "cancel: $out"
grep -q 'canceling statement due to user request' <<<"$out" || fail "the cancel did not reach the server: $out"
(($(date +%s) - start < 10)) || fail "the cancelled query ran on"
alive "$SLUICED_PID" || fail "sluiced died"
log "PASS"
