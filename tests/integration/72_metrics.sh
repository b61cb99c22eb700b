#!/usr/bin/env bash
# DESIGN §10: Prometheus text metrics on the configured address. Two
# allowed and one denied connect through a tcp target show in
# sluice_connections_total and sluice_decisions_total; the page parses as the
# text exposition format (every sample belongs to a family with HELP and
# TYPE); bad requests get their HTTP error (400, 405, 404, 431) and the
# daemon goes on serving both metrics and traffic.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
need_bpf
need_cmd curl nginx setpriv
make_cgroup
start_http 127.0.10.2 8080
mkdir -p "$T/policies"
cat >"$T/policies/p.json" <<'JSON'
{"version": 1, "rules": [{"name": "root-only", "match": {"identity": {"uids": [0]}}, "action": "allow"}]}
JSON
write_config "$T/config.json"
"$PY" - "$T/config.json" "$T/policies" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["policy_dir"] = sys.argv[2]
c["metrics"] = "127.0.10.9:9477"
json.dump(c, open(sys.argv[1], "w"), indent=1)
PYEOF
start_sluiced "$T/config.json"
M=http://127.0.10.9:9477/metrics

metric() {	# metric NAME_WITH_LABELS: its value on a fresh scrape
	curl -sS --max-time 5 "$M" | awk -v k="$1" '$1 == k { print $2 }'
}

for i in 1 2; do
	in_cgroup curl -sS --max-time 10 -o /dev/null http://127.0.10.2:8080/index.html ||
		fail "allowed fetch $i failed"
done
if in_cgroup setpriv --reuid=65534 --regid=65534 --clear-groups \
	curl -sS --max-time 10 -o /dev/null http://127.0.10.2:8080/index.html 2>/dev/null; then
	fail "uid 65534 got through a root-only policy"
fi
wait_until 5 test "$(metric 'sluice_connections_total{target="web"}')" = 3 ||
	fail "connections_total{web}: $(metric 'sluice_connections_total{target="web"}'), want 3"
expect_eq "$(metric 'sluice_decisions_total{action="allow"}')" 2 "allow decisions"
expect_eq "$(metric 'sluice_decisions_total{action="deny"}')" 1 "deny decisions"
expect_eq "$(metric 'sluice_decisions_total{action="review"}')" 0 "review decisions"
expect_ge "$(metric 'sluice_bpf_redirected_total{target="web"}')" 3 "redirected connects"
expect_eq "$(metric 'sluice_connections_active{target="pg"}')" 0 "active pg connections"
expect_eq "$(metric sluice_up)" 1 "sluice_up"
[[ -n $(metric sluice_record_lag_records) ]] || fail "no record lag metric"

# the exposition format: every sample's family has HELP and TYPE before it
curl -sS --max-time 5 "$M" >"$T/page.txt" || fail "scrape failed"
"$PY" - "$T/page.txt" <<'PYEOF' || fail "the page is not valid exposition text: $(cat "$T/page.txt")"
import re, sys
helped, typed = set(), set()
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("# HELP "):
        helped.add(line.split()[2]); continue
    if line.startswith("# TYPE "):
        f, t = line.split()[2:4]
        assert t in ("counter", "gauge"), line
        typed.add(f); continue
    m = re.fullmatch(r'([a-z_]+)(\{[a-z_]+="[^"\\]*"\})? (-?[0-9.]+)', line)
    assert m, "bad sample: " + line
    assert m.group(1) in helped and m.group(1) in typed, "no HELP/TYPE for " + line
PYEOF

# bad requests: the protocol's own errors, and the daemon serves on
code() { curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$@"; }
expect_eq "$(code http://127.0.10.9:9477/other)" 404 "GET /other"
expect_eq "$(code -X POST "$M")" 405 "POST /metrics"
raw_status() {	# raw_status FILE: the status line the metrics port answers FILE with
	local r
	r=$("$PY" "$HELPER" raw 127.0.10.9 9477 --send-file "$1" --then half --timeout 5) || true
	jget "$r" 'bytes.fromhex(j["head_hex"]).decode(errors="replace").split("\r\n")[0]'
}
printf 'garbage\r\n\r\n' >"$T/garbage.req"
expect_eq "$(raw_status "$T/garbage.req")" "HTTP/1.1 400 Bad Request" "garbage request"
head -c 8192 /dev/zero | tr '\0' 'a' >"$T/big.req"
expect_eq "$(raw_status "$T/big.req")" "HTTP/1.1 431 Request Header Fields Too Large" "oversized request"
expect_eq "$(metric sluice_up)" 1 "sluice_up after bad requests"
in_cgroup curl -sS --max-time 10 -o /dev/null http://127.0.10.2:8080/index.html ||
	fail "traffic after bad metrics requests"
alive "$SLUICED_PID" || fail "sluiced died"
log "PASS"
