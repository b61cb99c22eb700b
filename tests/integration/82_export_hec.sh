#!/usr/bin/env bash
# Issue 6, test 4: the HEC sink against a stand-in Splunk HEC collector
# (Splunk is not packaged in Debian): tests/integration/siem.py `hec`, over
# HTTPS with a certificate of the test's own CA. The stand-in checks the
# "Authorization: Splunk <token>" header, the path and the body (HEC event
# objects, concatenated), and answers the first requests wrongly on
# purpose: 503 busy, then no answer within the sink's timeout, then 500.
# Three sessions through a tcp target; then:
#   - the exporter retried (retries >= 3) and delivered everything: what the
#     stand-in accepted, duplicates from the timed-out request dropped, is
#     exactly the feed order the file sink wrote, and agrees with
#     `session show`; the OCSF events carry class, metadata.version,
#     correlation_uid;
#   - a second sink with a wrong token is refused (401) and shows failing,
#     with the collector's answer as its last error, without holding up the
#     other sinks; `export status` then exits 1.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib_siem.sh"
need_root
need_bpf
need_cmd curl nginx openssl
make_cgroup

HEC=127.0.10.21
TOKEN=8f1c2a44-$RANDOM-$RANDOM
make_ca hecca
make_cert hecca hec "IP:$HEC"
printf '%s\n' "$TOKEN" >"$T/hec.token"
chmod 600 "$T/hec.token"

"$PY" "$HELPER" port-free "$HEC" 8088 >/dev/null || fail "$HEC:8088 is in use"
"$PY" "$SIEM" hec "$HEC" 8088 --token "$TOKEN" --faults busy,timeout,error \
	--sleep 2.5 --accepted "$T/hec.accepted" --log "$T/hec.log" \
	--cert "$PKI/hec.crt" --key "$PKI/hec.key" --ready "$T/hec.ready" \
	>"$T/hec.out" 2>&1 &
wait_until 10 test -e "$T/hec.ready" || fail "the stand-in HEC collector did not start: $(cat "$T/hec.out")"
log "stand-in Splunk HEC collector on https://$HEC:8088"
start_http 127.0.10.2 8080

exports=$(cat <<EOF
[
  {"name": "splunk", "type": "hec", "format": "ocsf",
   "address": "https://$HEC:8088", "tls": {"ca": "pki/hecca.crt"},
   "token_file": "hec.token", "batch": 2, "timeout_ms": 1000,
   "backoff_max_ms": 1000},
  {"name": "wrong-token", "type": "hec", "format": "cef",
   "address": "https://$HEC:8088", "tls": {"ca": "pki/hecca.crt"},
   "token": "not-the-token", "backoff_max_ms": 1000},
  {"name": "feed", "type": "file", "format": "ocsf", "path": "$T/feed.jsonl"}
]
EOF
)
export_config "$T/config.json" "$exports"
start_sluiced "$T/config.json"

for i in 1 2 3; do
	in_cgroup curl -fsS --max-time 5 -o /dev/null "http://127.0.10.2:8080/index.html" ||
		fail "curl $i through sluiced failed"
done
wait_until 15 sessions_ended 3 || fail "three ended sessions expected"
wait_until 30 caught_up splunk || fail "the HEC sink did not catch up: $(export_status)"
wait_until 10 caught_up feed || fail "the file sink did not catch up: $(export_status)"

rc=0
st=$(sluice_cli -j export status) || rc=$?
log "export status: $st"
expect_eq "$rc" 1 "export status exit with a failing sink"
expect_ge "$(export_field splunk 's["retries"]')" 3 "HEC retries (busy, timeout, error)"
expect_eq "$(export_field wrong-token 's["failing"]')" True "the wrong-token sink fails"
expect_eq "$(export_field wrong-token '"HTTP 401" in s["last_error"]')" True \
	"the wrong-token sink's last error" "$st"
expect_eq "$(export_field wrong-token 's["cursor"]')" 0 "nothing taken with a wrong token"

log "collector log: $(tr '\n' ' ' <"$T/hec.log")"
answers=$("$PY" -c '
import json, sys
print(" ".join(str(json.loads(l)["answer"]) for l in open(sys.argv[1]) if json.loads(l)["n"]))' "$T/hec.log")
[[ $answers == "503 timeout 500 200"* ]] || fail "the collector's answers to the good token: $answers"
grep -q '"answer": 401' "$T/hec.log" || fail "the wrong token was never refused"

# the timed-out request's events are kept by the stand-in too: duplicates
wait_until 5 test "$(grep -c . "$T/hec.accepted")" -gt "$(grep -c . "$T/feed.jsonl")" || true
out=$("$PY" "$SIEM" compare-order "$T/hec.accepted" hec ocsf "$T/feed.jsonl" ocsf) ||
	fail "what the collector accepted is not the feed"
log "collector vs the feed: $out"

save_shows
out=$("$PY" "$SIEM" compare-show "$T/hec.accepted" hec ocsf "${SHOWS[@]}") ||
	fail "the collector's events disagree with session show"
log "collector vs session show: $out"

"$PY" - "$T/hec.accepted" <<'EOF' || fail "OCSF fields"
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    for k in ("class_uid", "category_uid", "activity_id", "type_uid", "time",
              "severity_id", "metadata"):
        assert k in e, (k, e)
    assert e["metadata"]["version"] == "1.3.0", e
    assert e["metadata"]["product"]["name"] == "sluice", e
    assert len(e["metadata"]["correlation_uid"]) == 32, e
    t = e["unmapped"]["type"]
    want = {"session_start": 3002, "session_end": 3002, "seal": 0}[t]
    assert e["class_uid"] == want, (t, e["class_uid"])
    assert e["type_uid"] == e["class_uid"] * 100 + e["activity_id"], e
    if want == 3002:
        assert e["user"]["name"] and "dst_endpoint" in e, e
EOF
log "PASS"
