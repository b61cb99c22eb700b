#!/usr/bin/env bash
# Issue 4, integration: kernel identity decides. Two clients in different
# test cgroups with different uids connect to the same tcp target (nginx on
# 127.0.10.2:8080): the ops client (root) is allowed, the agent client
# (nobody) needs review, nobody in ops is denied. The review is refused with
# an approval id, granted with `sluice approval grant`, then allowed; the
# grant survives a daemon restart; a deny takes it back. A broken policy
# file on reload (ctl and SIGHUP) is refused with FILE:LINE:COLUMN and the
# old policy stays in force; a good one takes effect for the next request.
# Every decision is an event on its session, with the rule's name.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
need_bpf
need_cmd curl nginx setpriv
make_cgroup
start_http 127.0.10.2 8080

sub_cgroup() {	# sub_cgroup NAME: a child of $CG, removed before it
	mkdir "$CG/$1" || fail "cannot create $CG/$1"
	_CGROUPS=("$CG/$1" "${_CGROUPS[@]}")
}
sub_cgroup agents
sub_cgroup ops
# run CMD in child cgroup NAME as uid U: in_sub NAME U CMD...
in_sub() {
	local name=$1 uid=$2
	shift 2
	# shellcheck disable=SC2016
	sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' in_sub "$CG/$name" \
		setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"
}
fetch() {	# fetch NAME UID: curl the index page from that cgroup as that uid
	in_sub "$1" "$2" curl -sS --max-time 10 http://127.0.10.2:8080/index.html
}

mkdir -p "$T/policies"
write_policy() {	# write_policy OPS_ACTION
	cat >"$T/policies/10-rules.json" <<JSON
{
  "version": 1,
  "default": "deny",
  "rules": [
    {"name": "nobody-in-ops-denied",
     "match": {"identity": {"uids": [65534], "cgroups": ["*$CG_REL/ops"]}, "target": "web"},
     "action": "deny"},
    {"name": "ops-to-web",
     "match": {"identity": {"cgroups": ["*$CG_REL/ops"]}, "target": "web"},
     "action": "$1"},
    {"name": "agents-need-review",
     "match": {"identity": {"uids": [65534], "cgroups": ["*$CG_REL/agents"]}, "target": "web"},
     "action": "review"}
  ]
}
JSON
}
write_policy allow
write_config "$T/config.json"
"$PY" - "$T/config.json" "$T/policies" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["policy_dir"] = sys.argv[2]
json.dump(c, open(sys.argv[1], "w"), indent=1)
PYEOF
start_sluiced "$T/config.json"

# decision_of SESSION_ID: the decision event of a recorded session, as JSON
decision_of() {
	sluice_cli -j session show "$1" |
		"$PY" -c 'import json,sys; s=json.load(sys.stdin); d=[e for e in s["events"] if e.get("type")=="decision"]; print(json.dumps(d[0]) if len(d)==1 else "none: %d decision events" % len(d))'
}
# last_web_conn: the newest connection to target web (open or closed)
last_web_conn() {
	conn_list | "$PY" -c 'import json,sys; c=[x for x in json.load(sys.stdin)["connections"] if x["target"]=="web"]; c.sort(key=lambda x: x["id"]); print(json.dumps(c[-1]) if c else "")'
}
# expect_refused WHO REASON_PREFIX: the last web connection was closed for it
expect_refused() {
	local conn
	conn=$(last_web_conn)
	[[ $(jget "$conn" 'j["close_reason"] or ""') == "$2"* ]] ||
		fail "$1: close reason is not '$2...': $conn"
	echo "$conn"
}

# --- ops (root) is allowed -----------------------------------------------------
out=$(fetch ops 0) || fail "ops client (uid 0) refused: $out"
expect_eq "$out" "$HTTP_TOKEN" "page through sluiced for the ops client"
conn=$(last_web_conn)
sid=$(jget "$conn" 'j["session"]')
d=$(decision_of "$sid")
expect_eq "$(jget "$d" 'j["decision"]')" allow "ops decision" "$d"
expect_eq "$(jget "$d" 'j["rule"]')" ops-to-web "ops rule" "$d"
expect_eq "$(jget "$d" 'j["request"]["kind"]')" connect "request kind" "$d"

# --- nobody in ops is denied -----------------------------------------------------
if out=$(fetch ops 65534 2>&1); then fail "uid 65534 in ops got through: $out"; fi
conn=$(expect_refused "nobody in ops" "denied by policy: rule nobody-in-ops-denied")
d=$(decision_of "$(jget "$conn" 'j["session"]')")
expect_eq "$(jget "$d" 'j["decision"]')" deny "nobody-in-ops decision" "$d"
expect_eq "$(jget "$d" 'j["rule"]')" nobody-in-ops-denied "nobody-in-ops rule" "$d"
expect_eq "$(jget "$conn" 'j["kernel"]["uid"]')" 65534 "kernel uid of the denied client" "$conn"

# --- the agent (nobody in agents) needs review -----------------------------------
if out=$(fetch agents 65534 2>&1); then fail "agent got through before review: $out"; fi
conn=$(expect_refused agent "review required: approval ")
reason=$(jget "$conn" 'j["close_reason"]')
id=$(sed -n 's/.*approval \([0-9a-f]\{16\}\) pending.*/\1/p' <<<"$reason")
[[ -n $id ]] || fail "no approval id in '$reason'"
d=$(decision_of "$(jget "$conn" 'j["session"]')")
expect_eq "$(jget "$d" 'j["decision"]')" review "agent decision" "$d"
expect_eq "$(jget "$d" 'j["approval"]')" "$id" "approval id in the decision event" "$d"
al=$(sluice_cli -j approval list) || fail "approval list: $al"
expect_eq "$(jget "$al" "[a['state'] for a in j if a['id']=='$id']")" '["pending"]' "approval state" "$al"
expect_eq "$(jget "$al" "[a['rule'] for a in j if a['id']=='$id']")" '["agents-need-review"]' "approval rule" "$al"
# a repeat while pending names the same approval
if fetch agents 65534 >/dev/null 2>&1; then fail "agent got through while pending"; fi
expect_refused agent "review required: approval $id pending" >/dev/null

out=$(sluice_cli approval grant "$id" --for 10m) || fail "approval grant: $out"
log "granted: $out"
al=$(sluice_cli -j approval list)
expect_eq "$(jget "$al" "[a['decided_by_uid'] for a in j if a['id']=='$id']")" "[0]" "deciding uid" "$al"
out=$(fetch agents 65534) || fail "agent refused after the grant: $out"
expect_eq "$out" "$HTTP_TOKEN" "page for the agent after the grant"
d=$(decision_of "$(jget "$(last_web_conn)" 'j["session"]')")
expect_eq "$(jget "$d" 'j["decision"]')" allow "decision after the grant" "$d"
expect_eq "$(jget "$d" 'j["approval_state"]')" granted "approval state in the event" "$d"
# the same identity asking for another target is not covered
if fetch agents 0 >/dev/null 2>&1; then fail "root in agents got through: default deny expected"; fi
expect_refused "root in agents" "denied by policy: rule default" >/dev/null

# --- the grant survives a restart ------------------------------------------------
stop_sluiced
start_sluiced "$T/config.json"
out=$(fetch agents 65534) || fail "agent refused after the restart: $out"
expect_eq "$out" "$HTTP_TOKEN" "page for the agent after the restart"
al=$(sluice_cli -j approval list)
expect_eq "$(jget "$al" "[a['state'] for a in j if a['id']=='$id']")" '["granted"]' "state after restart" "$al"

# --- a deny takes it back ---------------------------------------------------------
sluice_cli approval deny "$id" >/dev/null || fail "approval deny failed"
if fetch agents 65534 >/dev/null 2>&1; then fail "agent got through after the deny"; fi
expect_refused agent "denied by policy: approval $id denied" >/dev/null
if sluice_cli approval grant 0123456789abcdef >"$T/nosuch.txt" 2>&1; then
	fail "granting an unknown approval succeeded"
fi
grep -q "no such approval" "$T/nosuch.txt" || fail "unknown approval: $(cat "$T/nosuch.txt")"

# --- reload: broken refused, old policy stays; good one takes effect ------------
cp "$T/policies/10-rules.json" "$T/good.json"
printf '{"version": 1,\n "rules": [{"name": "x", "match": {}, "action": "maybe"}]}\n' \
	>"$T/policies/20-broken.json"
if out=$(sluice_cli policy reload 2>&1); then fail "a broken policy was accepted: $out"; fi
[[ $out == *"20-broken.json:2:"* ]] || fail "reload error lacks FILE:LINE:COLUMN: $out"
out=$(sluice_cli policy check "$T/policies/20-broken.json" 2>&1) && fail "check accepted a broken file"
[[ $out == *"20-broken.json:2:"* ]] || fail "check error lacks FILE:LINE:COLUMN: $out"
kill -HUP "$SLUICED_PID"
wait_until 5 grep -q '"policy refused' "$SLUICED_LOG" || fail "SIGHUP with a broken file: no refusal logged"
alive "$SLUICED_PID" || fail "sluiced died on a broken policy"
out=$(fetch ops 0) || fail "ops refused after the broken reload (old policy must stay): $out"
rm "$T/policies/20-broken.json"
write_policy deny
out=$(sluice_cli policy reload) || fail "reload of a good policy failed: $out"
if fetch ops 0 >/dev/null 2>&1; then fail "ops got through after the new policy denies it"; fi
expect_refused ops "denied by policy: rule ops-to-web" >/dev/null
write_policy allow
kill -HUP "$SLUICED_PID"
wait_until 5 fetch ops 0 >/dev/null || fail "ops still refused after SIGHUP with the allowing policy"

# --- show and test agree with what was enforced -------------------------------
ps=$(sluice_cli -j policy show) || fail "policy show: $ps"
expect_eq "$(jget "$ps" '[r["name"] for r in j["policy"]["rules"]]')" \
	'["nobody-in-ops-denied", "ops-to-web", "agents-need-review"]' "rules shown" "$ps"
ident="{\"kernel\": {\"uid\": 65534, \"cgroup\": \"$CG_REL/ops\"}}"
pt=$(sluice_cli -j policy test --identity "$ident" --request '{"target": "web"}') ||
	fail "policy test: $pt"
expect_eq "$(jget "$pt" 'j["decision"] + " " + j["rule"]')" "deny nobody-in-ops-denied" "policy test" "$pt"
pt=$(sluice_cli -j policy test --dir "$T/policies" --identity "$ident" --request '{"target": "web"}') ||
	fail "policy test --dir: $pt"
expect_eq "$(jget "$pt" 'j["decision"] + " " + j["rule"]')" "deny nobody-in-ops-denied" "policy test --dir" "$pt"
alive "$SLUICED_PID" || fail "sluiced died"
log "PASS"
