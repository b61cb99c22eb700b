#!/usr/bin/env bash
# Issue 3, test 3: in strict mode nothing reaches the upstream before its
# record is in RocksDB's WAL, so a `kill -9` of the daemon in the middle of
# transfers loses nothing the upstream got. Three clients in the cgroup each
# stream 50 MiB of random bytes (paced) through a tcp target to a sink that
# writes everything it receives to a file as it arrives; sluiced is killed
# with SIGKILL while all three are mid-way. Afterwards, read from the store
# of the dead daemon:
#   - every session is there, with the client's pid;
#   - `session replay --raw --dir up` starts with exactly the bytes the sink
#     received (recorded ⊇ received), and is itself a prefix of what the
#     client sent (nothing invented);
#   - `session verify` finds the chain intact (the session just never ended).
# Then a new daemon on the same store: the old sessions still replay the
# same, and a new transfer is recorded whole.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
need_bpf
need_cmd cmp
make_cgroup

NCLIENTS=3
SIZE=$((50 * 1024 * 1024))
SINK=127.0.10.7
PORT=9000

cat >"$T/config.json" <<EOF
{
  "cgroup": "$CG",
  "control": "$T/ctl.sock",
  "listen": {"ipv4": "127.0.0.1", "ipv6": "::1", "port": 15443},
  "heartbeat_ms": 100,
  "stale_ms": 500,
  "store": {"path": "$T/store", "seal_key": "$T/seal.key", "mode": "strict", "sync_ms": 20},
  "targets": [
    {"name": "sink", "kind": "tcp", "match": ["$SINK:$PORT"],
     "upstream": "$SINK:$PORT", "fail_mode": "closed"}
  ]
}
EOF

for ((i = 0; i < NCLIENTS; i++)); do
	head -c "$SIZE" /dev/urandom >"$T/src.$i"
done

# start_sink N: the sink for N connections, in the background ($SINK_JOB)
start_sink() {
	rm -f "$T/sink.ready" "$T"/recv.*
	"$PY" "$HELPER" sink "$SINK" "$PORT" "$T/recv" --conns "$1" --ready "$T/sink.ready" \
		>"$T/sink.json" 2>"$T/sink.err" &
	SINK_JOB=$!
	wait_until 10 test -e "$T/sink.ready" || fail "the sink did not start: $(cat "$T/sink.err")"
}

start_sink "$NCLIENTS"
start_sluiced "$T/config.json"

client_jobs=()
for ((i = 0; i < NCLIENTS; i++)); do
	IN_CGROUP_PIDFILE=$T/client.$i.pid in_cgroup "$PY" "$HELPER" send "$SINK" "$PORT" "$T/src.$i" \
		--chunk 50000 --delay 0.004 >"$T/client.$i.json" 2>&1 &
	client_jobs+=($!)
done

# all three mid-way: each sink file has at least 4 MiB, none complete
all_midway() {
	local f n=0
	for f in "$T"/recv.*; do
		[[ -e $f ]] || continue
		(($(stat -c %s "$f") >= 4 * 1024 * 1024)) && n=$((n + 1))
	done
	((n == NCLIENTS))
}
wait_until 60 all_midway ||
	fail "the transfers did not get going: $(ls -l "$T"/recv.* 2>&1); clients: $(cat "$T"/client.*.json 2>&1)"

log "kill -9 sluiced (pid $SLUICED_PID) mid-transfer: $(stat -c '%n %s' "$T"/recv.* | tr '\n' ' ')"
stop_sluiced KILL
expect_eq "$SLUICED_RC" 137 "sluiced's status after SIGKILL"

# the sink sees every connection end (the proxy's sockets died with it)
for ((i = 0; i < 100; i++)); do
	alive "$SINK_JOB" || break
	sleep 0.1
done
alive "$SINK_JOB" && fail "the sink still has open connections 10 s after the kill: $(ls -l "$T"/recv.*)"
wait "$SINK_JOB" || fail "the sink failed: $(cat "$T/sink.err")"
for j in "${client_jobs[@]}"; do wait "$j" || true; done
log "sink: $(cat "$T/sink.json")"
for ((i = 0; i < NCLIENTS; i++)); do
	log "client $i: $(cat "$T/client.$i.json")"
done

# --- the recording, read from the dead daemon's store -------------------------------
list=$(store_cli -j session list) || fail "session list on the store of the killed daemon failed: $list"
expect_eq "$(jget "$list" 'len([s for s in j if s.get("target") == "sink"])')" "$NCLIENTS" \
	"sessions of target sink in the store" "$list"

# which_src FILE: the index of the source file FILE begins like
which_src() {
	local i
	for ((i = 0; i < NCLIENTS; i++)); do
		if cmp -s -n 4096 "$1" "$T/src.$i"; then
			echo "$i"
			return 0
		fi
	done
	return 1
}

declare -A recv_of
for f in "$T"/recv.*; do
	[[ -s $f ]] || fail "the sink got an empty connection ($f)"
	i=$(which_src "$f") || fail "$f does not begin like any client's data"
	recv_of[$i]=$f
done
expect_eq "${#recv_of[@]}" "$NCLIENTS" "clients whose data reached the sink"

declare -A sid_of
for ((i = 0; i < NCLIENTS; i++)); do
	pid=$(cat "$T/client.$i.pid")
	sid=$(jget "$list" "[s['id'] for s in j if s.get('target') == 'sink' and (s.get('kernel') or {}).get('pid') == $pid]")
	sid=$(jget "$sid" 'j[0] if len(j) == 1 else ""')
	[[ -n $sid ]] || fail "no session of client $i (pid $pid) in session list: $list"
	sid_of[$i]=$sid
	recv=${recv_of[$i]}
	got=$(stat -c %s "$recv")
	store_cli session replay "$sid" --raw --dir up --speed 0 >"$T/rec.$i" 2>"$T/replay.err" ||
		fail "session replay $sid (after the crash) failed: $(cat "$T/replay.err")"
	rec=$(stat -c %s "$T/rec.$i")
	log "client $i (pid $pid, session $sid): sink received $got bytes, recording holds $rec"
	((got < SIZE)) || fail "client $i's transfer was complete before the kill: not a mid-transfer crash"
	expect_ge "$rec" "$got" "recorded up bytes of client $i vs bytes the upstream received ($got)"
	cmp -n "$got" "$recv" "$T/rec.$i" ||
		fail "the recording of client $i differs from what the upstream received within its first $got bytes"
	cmp -n "$rec" "$T/src.$i" "$T/rec.$i" ||
		fail "the recording of client $i is not a prefix of what the client sent"
	store_cli session replay "$sid" --raw --dir down --speed 0 >"$T/rec.down.$i" 2>"$T/replay.err" ||
		fail "session replay $sid --dir down failed: $(cat "$T/replay.err")"
	expect_eq "$(stat -c %s "$T/rec.down.$i")" 0 "recorded down bytes of client $i (the sink sends nothing)"
	out=$(store_cli session verify "$sid" 2>&1) ||
		fail "session verify $sid after kill -9: $out"
	log "  verify: $out"
done

# --- a new daemon on the same store ------------------------------------------------
log "restart sluiced on the store of the killed one"
start_sink 1
start_sluiced "$T/config.json"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$T/src.after"
out=$(in_cgroup "$PY" "$HELPER" send "$SINK" "$PORT" "$T/src.after") ||
	fail "a transfer through the restarted daemon failed: $out"
after_pid=$(last_pid)
wait "$SINK_JOB" || fail "the sink failed: $(cat "$T/sink.err")"
cmp "$T/src.after" "$T/recv.0" || fail "the sink received other bytes than sent after the restart"
conn=$(wait_conn 5 --target sink --pid "$after_pid") || fail "no connection of pid $after_pid: $(conn_list 2>&1)"
sid=$(jget "$conn" 'j.get("session") or ""')
wait_session_end 10 "$sid" >/dev/null
store_cli session replay "$sid" --raw --dir up --speed 0 >"$T/rec.after" ||
	fail "session replay $sid failed"
cmp "$T/src.after" "$T/rec.after" || fail "the recording after the restart differs from what was sent"
for ((i = 0; i < NCLIENTS; i++)); do
	store_cli session replay "${sid_of[$i]}" --raw --dir up --speed 0 >"$T/rec2.$i" ||
		fail "session replay ${sid_of[$i]} after the restart failed"
	cmp "$T/rec.$i" "$T/rec2.$i" ||
		fail "session ${sid_of[$i]} replays differently once a new daemon opened the store"
done
log "PASS"
