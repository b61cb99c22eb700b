#!/usr/bin/env bash
# Issue 2, test 2: processes outside the attach cgroup, and destinations that
# are not targets, are untouched: they reach the server directly (nginx logs
# the client's own port), and sluiced neither lists nor counts them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
need_bpf
need_cmd curl nginx
make_cgroup
cg_attach=$CG
make_cgroup		# a sibling: outside the attach cgroup, too
cg_sibling=$CG
CG=$cg_attach
# web's target is 127.0.10.2:8080 and [::1]:8080; the rest are not targets
start_http 127.0.10.2 8080 127.0.10.2 8081 127.0.10.3 8080 ::1 8080 ::1 8081
write_config "$T/config.json"
start_sluiced "$T/config.json"

# curl_direct WHERE URL: curl must work and reach nginx from its own port
curl_direct() {
	local where=$1 url=$2 err=$T/curl.err out lport
	case $where in
	outside) out=$(curl -gsS --max-time 10 -w '%{stderr}local_port=%{local_port}\n' "$url" 2>"$err") ;;
	sibling) out=$(CG=$cg_sibling in_cgroup curl -gsS --max-time 10 -w '%{stderr}local_port=%{local_port}\n' "$url" 2>"$err") ;;
	inside) out=$(in_cgroup curl -gsS --max-time 10 -w '%{stderr}local_port=%{local_port}\n' "$url" 2>"$err") ;;
	esac || fail "curl ($where the cgroup) $url failed: $(cat "$err")"
	expect_eq "$out" "$HTTP_TOKEN" "body of $url ($where)"
	lport=$(sed -n 's/^local_port=//p' "$err")
	wait_until 2 http_log_has_port "$lport" ||
		fail "$url ($where the cgroup): nginx did not see curl's own port $lport, so it went through a proxy
$(cat "$HTTP_DIR/access.log")"
	if conn_list | "$PY" "$HELPER" find-conn --client-port "$lport" >/dev/null; then
		fail "$url ($where the cgroup) is in sluiced's conn list: $(conn_list)"
	fi
	log "untouched: $url from $where (port $lport)"
}

# control: the same curl inside the cgroup IS redirected, so the checks
# below are not vacuous
out=$(in_cgroup curl -sS --max-time 10 -w '%{stderr}local_port=%{local_port}\n' \
	http://127.0.10.2:8080/index.html 2>"$T/curl.err") ||
	fail "curl in the cgroup through sluiced failed: $(cat "$T/curl.err")"
expect_eq "$out" "$HTTP_TOKEN" "body through sluiced"
lport=$(sed -n 's/^local_port=//p' "$T/curl.err")
wait_conn 5 --target web --client-port "$lport" >/dev/null ||
	fail "control: the in-cgroup curl (port $lport) is not in conn list: $(conn_list 2>&1)"
if http_log_has_port "$lport"; then fail "control: nginx saw curl's own port: not proxied"; fi
total0=$(target_field web total)
n0=$(conn_list | "$PY" "$HELPER" count-conns)
expect_eq "$n0" 1 "connections in conn list --all after the control" "$(conn_list)"

# processes outside the attach cgroup, to the target itself
curl_direct outside http://127.0.10.2:8080/index.html
curl_direct outside 'http://[::1]:8080/index.html'
curl_direct sibling http://127.0.10.2:8080/index.html

# inside the cgroup, destinations that are not targets: other port, other
# address with the target's port, IPv6 other port
curl_direct inside http://127.0.10.2:8081/index.html
curl_direct inside http://127.0.10.3:8080/index.html
curl_direct inside 'http://[::1]:8081/index.html'

# getpeername() is left alone too, and a refused non-target stays refused
probe=$(in_cgroup "$PY" "$HELPER" probe 127.0.10.2 8081 --http /index.html) ||
	fail "probe to 127.0.10.2:8081 failed: $probe"
expect_eq "$(jget "$probe" 'j["peername"]')" '["127.0.10.2", 8081]' "getpeername() of a non-target" "$probe"
probe=$(in_cgroup "$PY" "$HELPER" probe 127.0.10.4 8080) && fail "connect to 127.0.10.4:8080 (nothing there) succeeded: $probe"
expect_eq "$(jget "$probe" 'j["errno"]')" ECONNREFUSED "connect to a closed non-target port" "$probe"

# and sluiced counted none of it
expect_eq "$(target_field web total)" "$total0" "target web total after untouched connections"
expect_eq "$(conn_list | "$PY" "$HELPER" count-conns)" "$n0" "connections in conn list --all" "$(conn_list)"
log "PASS"
