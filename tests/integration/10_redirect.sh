#!/usr/bin/env bash
# Issue 2, test 1: unmodified clients in the test cgroup reach their real
# servers through sluiced. psql to a real PostgreSQL on 127.0.10.1:5432 and
# curl to nginx on 127.0.10.2:8080 (match == upstream); the daemon saw each
# connection with the client's pid, uid/gid, comm and cgroup; nginx saw the
# proxy, not the client; the client's getpeername() shows the original peer.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
need_bpf
need_cmd psql curl nginx setpriv
make_cgroup
cg_id=$(stat -c %i "$CG")
start_postgres 127.0.10.1 5432
start_http 127.0.10.2 8080 ::1 8080
write_config "$T/config.json"
start_sluiced "$T/config.json"

sluice_cli status >"$T/status.txt" 2>&1 ||
	fail "sluice status exits non-zero with the daemon up: $(cat "$T/status.txt")"

check_kernel() {	# check_kernel CONN PID UID GID COMM
	local conn=$1
	expect_eq "$(jget "$conn" 'j["kernel"]["pid"]')" "$2" "kernel.pid" "$conn"
	expect_eq "$(jget "$conn" 'j["kernel"]["uid"]')" "$3" "kernel.uid" "$conn"
	expect_eq "$(jget "$conn" 'j["kernel"]["gid"]')" "$4" "kernel.gid" "$conn"
	expect_eq "$(jget "$conn" 'j["kernel"]["comm"]')" "$5" "kernel.comm" "$conn"
	expect_eq "$(jget "$conn" 'j["kernel"]["cgroup_id"]')" "$cg_id" "kernel.cgroup_id (inode of $CG)" "$conn"
	local cgp
	cgp=$(jget "$conn" 'j["kernel"]["cgroup"]')
	[[ $cgp == "$CG_REL" || $cgp == "$CG" ]] ||
		fail "kernel.cgroup: got '$cgp', expected '$CG_REL' (or '$CG')
$conn"
}

# --- psql, unmodified, as root -------------------------------------------------
log "psql in the cgroup to 127.0.10.1:5432"
out=$(in_cgroup psql -X -h 127.0.10.1 -p 5432 -U postgres -d postgres -At \
	-c 'select 1' -c "select repeat('x', 200000)") ||
	fail "psql through sluiced failed: $out"
psql_pid=$(last_pid)
expect_eq "$(head -n 1 <<<"$out")" 1 "psql 'select 1'"
expect_eq "$(tail -n 1 <<<"$out" | wc -c)" 200001 "length of psql's 200000-byte row"
conn=$(wait_conn 5 --target pg --pid "$psql_pid" --need-bytes) ||
	fail "conn list has no pg connection of psql (pid $psql_pid) with bytes both ways:
$(conn_list 2>&1)"
log "psql's connection: $conn"
check_kernel "$conn" "$psql_pid" 0 0 psql
expect_eq "$(jget "$conn" 'j["original"]')" 127.0.10.1:5432 "original destination" "$conn"
expect_eq "$(jget "$conn" 'j["upstream"]')" 127.0.10.1:5432 "upstream" "$conn"
expect_ge "$(jget "$conn" 'j["bytes_down"]')" 200000 "bytes_down of psql's connection" "$conn"
expect_ge "$(jget "$conn" 'j["bytes_up"]')" 1 "bytes_up of psql's connection" "$conn"

# --- curl, unmodified, as nobody (so uid/gid are not just root's) -------------
log "curl (uid 65534) in the cgroup to http://127.0.10.2:8080/big.bin"
in_cgroup setpriv --reuid=65534 --regid=65534 --clear-groups \
	curl -sS --max-time 20 -w '%{stderr}local_port=%{local_port}\n' \
	http://127.0.10.2:8080/big.bin >"$T/big.out" 2>"$T/curl.err" ||
	fail "curl through sluiced failed: $(cat "$T/curl.err")"
curl_pid=$(last_pid)
expect_eq "$(sha256sum <"$T/big.out" | awk '{print $1}')" "$HTTP_BIG_SHA" "sha256 of the 1 MiB file curl got"
lport=$(sed -n 's/^local_port=//p' "$T/curl.err")
conn=$(wait_conn 5 --target web --pid "$curl_pid" --need-bytes) ||
	fail "conn list has no web connection of curl (pid $curl_pid):
$(conn_list 2>&1)"
log "curl's connection: $conn"
check_kernel "$conn" "$curl_pid" 65534 65534 curl
expect_eq "$(jget "$conn" 'j["client"].rsplit(":", 1)[1]')" "$lport" "client port (curl's local port)" "$conn"
expect_eq "$(jget "$conn" 'j["original"]')" 127.0.10.2:8080 "original destination" "$conn"
expect_ge "$(jget "$conn" 'j["bytes_down"]')" 1048576 "bytes_down of curl's connection" "$conn"
if http_log_has_port "$lport"; then
	fail "nginx saw curl's own port $lport: the connection was not proxied
$(cat "$HTTP_DIR/access.log")"
fi

# --- getpeername() shows the original peer -------------------------------------
log "python3 probe in the cgroup: connect 127.0.10.2:8080, getpeername()"
probe=$(in_cgroup "$PY" "$HELPER" probe 127.0.10.2 8080 --http /index.html) ||
	fail "probe failed: $probe"
probe_pid=$(last_pid)
log "probe: $probe"
expect_eq "$(jget "$probe" 'j["peername"]')" '["127.0.10.2", 8080]' \
	"getpeername() in the client (must be the original, not the proxy listener)" "$probe"
expect_eq "$(jget "$probe" 'j["http_status"]')" 200 "HTTP status through sluiced" "$probe"
expect_eq "$(jget "$probe" 'j["body_head"].strip()')" "$HTTP_TOKEN" "body through sluiced" "$probe"
pport=$(jget "$probe" 'j["sockname"][1]')
conn=$(wait_conn 5 --target web --client-port "$pport") ||
	fail "conn list has no web connection from the probe's port $pport:
$(conn_list 2>&1)"
expect_eq "$(jget "$conn" 'j["kernel"]["pid"]')" "$probe_pid" "kernel.pid of the probe" "$conn"
if http_log_has_port "$pport"; then
	fail "nginx saw the probe's own port $pport: not proxied"
fi

# --- the counters agree ----------------------------------------------------------
tl=$(sluice_cli -j target list) || fail "sluice target list failed: $tl"
log "target list: $tl"
expect_ge "$(target_field pg total)" 1 "target pg total" "$tl"
expect_ge "$(target_field web total)" 2 "target web total" "$tl"
expect_ge "$(target_field web redirected)" 2 "target web redirected" "$tl"
expect_eq "$(target_field web bypassed)" 0 "target web bypassed" "$tl"

log "PASS"
