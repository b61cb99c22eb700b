#!/usr/bin/env bash
# Issue 6, test 3: rsyslog stopped for a while under a bounded load and
# started again. 40 sessions (curl through a tcp target, one every 0.1 s)
# while the real rsyslog (TLS, octet counting) goes down after the 10th and
# comes back 4 s later on the same address. Then:
#   - while it was down, `sluice export status` said the sink was failing,
#     with a last error and a growing lag, and the file sink went on;
#   - once it is back the sink catches up by itself (capped backoff, 1 s);
#   - every event and seal of every session arrived, in order: what rsyslog
#     wrote, duplicates of re-sent batches dropped, is exactly the feed
#     order the file sink wrote, and agrees with `session show` for each
#     session; none lost.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib_siem.sh"
need_root
need_bpf
need_cmd curl nginx
make_cgroup

SYSLOG=127.0.10.20
N=40
start_rsyslog "$SYSLOG" 6514
start_http 127.0.10.2 8080

exports=$(cat <<EOF
[
  {"name": "siem", "type": "syslog", "format": "k8s-audit",
   "address": "$SYSLOG:6514", "tls": {"ca": "pki/siemca.crt"},
   "batch": 5, "backoff_max_ms": 1000, "timeout_ms": 2000},
  {"name": "feed", "type": "file", "format": "k8s-audit",
   "path": "$T/feed.jsonl"}
]
EOF
)
export_config "$T/config.json" "$exports"
start_sluiced "$T/config.json"

down_status=
for ((i = 1; i <= N; i++)); do
	in_cgroup curl -fsS --max-time 5 -o /dev/null "http://127.0.10.2:8080/index.html" ||
		fail "curl $i through sluiced failed"
	if ((i == 10)); then
		# no waiting for the sink: the stop may come mid-batch
		log "stopping rsyslog after $(rsyslog_lines) messages"
		stop_rsyslog
		down_at=$SECONDS
	fi
	if ((i > 10)) && [[ -z $RSYSLOG_PID ]] && ((SECONDS - down_at >= 4)); then
		down_status=$(export_status)
		log "starting rsyslog again after session $i"
		start_rsyslog "$SYSLOG" 6514
	fi
	sleep 0.1
done
[[ -n $RSYSLOG_PID ]] || {
	down_status=$(export_status)
	start_rsyslog "$SYSLOG" 6514
}

log "while rsyslog was down: $down_status"
expect_eq "$(jget "$down_status" '[s["failing"] for s in j["sinks"] if s["name"] == "siem"]')" "[true]" \
	"siem failing while rsyslog was down" "$down_status"
expect_eq "$(jget "$down_status" '[s["last_error"] is not None and s["lag_events"] > 0 for s in j["sinks"] if s["name"] == "siem"]')" \
	"[true]" "siem last error and lag while down" "$down_status"
expect_eq "$(jget "$down_status" '[s["failing"] for s in j["sinks"] if s["name"] == "feed"]')" "[false]" \
	"the file sink goes on meanwhile" "$down_status"

wait_until 20 sessions_ended "$N" || fail "$N ended sessions expected"
wait_until 30 caught_up siem || fail "the syslog sink did not catch up: $(export_status)"
wait_until 10 caught_up feed || fail "the file sink did not catch up: $(export_status)"
st=$(export_status)
log "after: $st"
expect_ge "$(export_field siem 's["retries"]')" 1 "retries counted"

n_feed=$(wc -l <"$T/feed.jsonl")
expect_ge "$n_feed" $((3 * N)) "feed entries (start, end, seal per session)"
# rsyslog writes what it has taken in its own time
received_all() {
	"$PY" "$SIEM" compare-order "$RSYSLOG_OUT" syslog k8s-audit "$T/feed.jsonl" k8s-audit \
		>"$T/order.json" 2>"$T/order.err"
}
wait_until 15 received_all || fail "rsyslog's messages are not the feed: $(cat "$T/order.err")"
log "rsyslog vs the feed: $(cat "$T/order.json")"

save_shows
out=$("$PY" "$SIEM" compare-show "$RSYSLOG_OUT" syslog k8s-audit "${SHOWS[@]}") ||
	fail "rsyslog's messages disagree with session show"
log "rsyslog vs session show: $out"
expect_eq "$(jget "$out" 'j["sessions"]')" "$N" "sessions compared"
log "PASS"
