#!/usr/bin/env bash
# SIGTERM drains (issue 3): a transfer in flight when the daemon is told to
# stop runs to its end, byte for byte, and is recorded whole; a connect made
# during the drain meets the target's fail mode (closed: refused) instead
# of a listener that will never answer; the daemon then exits 0.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
need_bpf
need_cmd "$PY"

make_cgroup
SINK=127.0.10.8
PORT=9100
SIZE=$((3 * 1024 * 1024))

cat >"$T/config.json" <<EOC
{
  "cgroup": "$CG",
  "control": "$T/ctl.sock",
  "listen": {"ipv4": "127.0.0.1", "ipv6": "::1", "port": 15443},
  "heartbeat_ms": 100,
  "stale_ms": 500,
  "store": {"path": "$T/store", "seal_key": "$T/seal.key"},
  "timeouts": {"drain_ms": 20000},
  "targets": [
    {"name": "sink", "kind": "tcp", "match": ["$SINK:$PORT"],
     "upstream": "$SINK:$PORT", "fail_mode": "closed"}
  ]
}
EOC
head -c "$SIZE" /dev/urandom >"$T/src"
"$PY" "$HELPER" sink "$SINK" "$PORT" "$T/recv" --conns 1 --ready "$T/sink.ready" \
	>"$T/sink.json" 2>"$T/sink.err" &
SINK_JOB=$!
wait_until 10 test -e "$T/sink.ready" || fail "the sink did not start: $(cat "$T/sink.err")"
start_sluiced "$T/config.json"

# about 3 s of paced sending: long enough to be in flight at SIGTERM
IN_CGROUP_PIDFILE=$T/client.pid in_cgroup "$PY" "$HELPER" send "$SINK" "$PORT" "$T/src" \
	--chunk 32768 --delay 0.03 --timeout 60 >"$T/client.json" 2>&1 &
CLIENT_JOB=$!
wait_until 10 bash -c "[[ -s '$T/recv.0' ]] && (( \$(stat -c %s '$T/recv.0') >= 262144 ))" ||
	fail "the transfer did not start through the proxy"

log "SIGTERM while $(stat -c %s "$T/recv.0") of $SIZE bytes are through"
kill -TERM "$SLUICED_PID"
wait_until 5 grep -q '"msg": *"draining"' "$SLUICED_LOG" || fail "no drain logged: $(tail -n 5 "$SLUICED_LOG")"

# a new connect during the drain: the closed target refuses it at once
probe=$(in_cgroup "$PY" "$HELPER" probe "$SINK" "$PORT" 2>&1 || true)
log "connect during the drain: $probe"
grep -q 'refused\|ConnectionRefused\|ECONNREFUSED' <<<"$probe" ||
	fail "a connect during the drain was not refused: $probe"
[[ $(stat -c %s "$T/recv.0") -lt $SIZE ]] || log "note: the transfer finished before the probe"

wait "$CLIENT_JOB" || fail "the client failed during the drain: $(cat "$T/client.json")"
wait "$SINK_JOB" || fail "the sink failed: $(cat "$T/sink.err")"
cmp "$T/src" "$T/recv.0" || fail "the upstream did not get every byte the client sent during the drain"

stop_sluiced TERM
expect_eq "$SLUICED_RC" 0 "sluiced's exit status after draining"

sid=$(jget "$(sluice_cli -j session list)" 'j[0]["id"]')
show=$(sluice_cli -j session show "$sid")
expect_eq "$(jget "$show" 'j["status"]')" closed "the drained session's status" "$show"
expect_eq "$(jget "$show" 'j["bytes_up"]')" "$SIZE" "bytes recorded up" "$show"
sluice_cli session replay "$sid" --raw --dir up --speed 0 >"$T/replay.up"
cmp "$T/src" "$T/replay.up" || fail "the recording differs from what the client sent"
sluice_cli session verify "$sid" >/dev/null || fail "the drained session does not verify"
log "drained: $SIZE bytes delivered and recorded, exit status 0"
