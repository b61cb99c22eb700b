#!/usr/bin/env bash
# Issue 6, test 1: a real rsyslog (Debian), started here with a TLS listener
# (RFC 5425, octet-counted framing), receives the events of recorded
# sessions in the k8s-audit format. curl in the test cgroup makes three
# sessions through a tcp target to nginx; then:
#   - every event of every session arrived, in seq order, and each says
#     what `sluice -j session show` says (type, seq, every event field);
#   - each message's RFC 5424 structured data names the same session and
#     seq as the audit Event it carries; each session's seal arrived too;
#   - what rsyslog got (duplicates dropped) is exactly the feed order the
#     file sink wrote;
#   - `sluice export status` shows both sinks caught up, and after the
#     daemon stops it still shows the cursors, read from the store.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib_siem.sh"
need_root
need_bpf
need_cmd curl nginx cmp
make_cgroup

SYSLOG=127.0.10.20
start_rsyslog "$SYSLOG" 6514
start_http 127.0.10.2 8080

exports=$(cat <<EOF
[
  {"name": "siem", "type": "syslog", "format": "k8s-audit",
   "address": "$SYSLOG:6514", "tls": {"ca": "pki/siemca.crt"},
   "batch": 4, "backoff_max_ms": 1000, "timeout_ms": 3000},
  {"name": "feed", "type": "file", "format": "k8s-audit",
   "path": "$T/feed.jsonl"}
]
EOF
)
export_config "$T/config.json" "$exports"
start_sluiced "$T/config.json"

for i in 1 2 3; do
	in_cgroup curl -fsS --max-time 5 "http://127.0.10.2:8080/index.html" >"$T/curl.$i" ||
		fail "curl $i through sluiced failed"
	grep -qxF "$HTTP_TOKEN" "$T/curl.$i" || fail "curl $i got the wrong body"
done

wait_until 15 sessions_ended 3 || fail "three ended sessions expected: $(sluice_cli -j session list)"
wait_until 20 caught_up siem || fail "the syslog sink did not catch up: $(export_status)"
wait_until 10 caught_up feed || fail "the file sink did not catch up: $(export_status)"

st=$(export_status)
log "export status: $st"
expect_eq "$(jget "$st" 'j["daemon"]')" true "daemon answered export status"
expect_eq "$(export_field siem 's["type"] + " " + s["format"]')" "syslog k8s-audit" "siem sink"
expect_ge "$(export_field siem 's["delivered"]')" 9 "events delivered to rsyslog (3 x start, end, seal)"
expect_eq "$(export_field siem 's["cursor"] == s["head"]')" True "siem cursor at the head"

# rsyslog writes what it took; give its output a moment
n_feed=$(wc -l <"$T/feed.jsonl")
wait_until 10 test "$(rsyslog_lines)" -ge "$n_feed" ||
	fail "rsyslog wrote $(rsyslog_lines) lines, the feed has $n_feed: $(tail -n 5 "$RSYSLOG_DIR/rsyslogd.log")"

save_shows
out=$("$PY" "$SIEM" compare-show "$RSYSLOG_OUT" syslog k8s-audit "${SHOWS[@]}") ||
	fail "rsyslog's messages disagree with session show"
log "rsyslog vs session show: $out"
expect_eq "$(jget "$out" 'j["sessions"]')" 3 "sessions compared"
out=$("$PY" "$SIEM" compare-order "$RSYSLOG_OUT" syslog k8s-audit "$T/feed.jsonl" k8s-audit) ||
	fail "rsyslog's order is not the feed's"
log "rsyslog vs the feed: $out"

# `session export --format` renders with the exporter's formatter: the
# same bytes as the file sink wrote for each of the session's events
for f in "${SHOWS[@]}"; do
	sid=$(jget "$(cat "$f")" 'j["id"]' | tr -d '"')
	sluice_cli session export "$sid" --format k8s-audit >"$T/cli.$sid.jsonl" ||
		fail "session export $sid --format k8s-audit"
	grep -F "\"sluice.io/session\":\"$sid\"" "$T/feed.jsonl" |
		grep -vF '"sluice.io/type":"seal"' >"$T/feed.$sid.jsonl" || true
	cmp -s "$T/cli.$sid.jsonl" "$T/feed.$sid.jsonl" ||
		fail "session export --format k8s-audit differs from the exporter's: $(diff "$T/cli.$sid.jsonl" "$T/feed.$sid.jsonl" | head -n 6)"
done
for fmt in ocsf cef; do
	n=$(sluice_cli session export "$sid" --format $fmt | wc -l)
	expect_eq "$n" 2 "session export --format $fmt lines"
done

# a tcp session's audit Event: the documented sluice objectRef
"$PY" - "$T/feed.jsonl" <<'EOF' || fail "k8s-audit shape"
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    assert e["apiVersion"] == "audit.k8s.io/v1" and e["kind"] == "Event", e
    assert e["stage"] == "ResponseComplete", e
    assert e["objectRef"]["apiGroup"] == "sluice.io", e
    assert e["objectRef"]["namespace"] == "web", e
    assert e["user"]["username"].startswith("uid:"), e
    assert e["sourceIPs"] == ["127.0.0.1"] or e["annotations"]["sluice.io/type"] == "seal", e
EOF

# with the daemon down, the cursors are still there (exit 1: degraded)
stop_sluiced TERM
expect_eq "$SLUICED_RC" 0 "sluiced's exit status"
rc=0
st=$(sluice_cli -j export status 2>/dev/null) || rc=$?
expect_eq "$rc" 1 "export status exit with the daemon down"
expect_eq "$(jget "$st" 'j["daemon"]')" false "offline status"
expect_eq "$(jget "$st" '[s["cursor"] == s["head"] for s in j["sinks"] if s["name"] == "siem"]')" "[true]" \
	"siem cursor read from the store" "$st"
log "PASS"
