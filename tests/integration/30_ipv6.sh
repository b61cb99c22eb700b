#!/usr/bin/env bash
# Issue 2, test 3: IPv6 clients ([::1]:8080 is a match of target web) and
# IPv4-mapped IPv6 clients (an AF_INET6 socket to ::ffff:127.0.10.2:8080,
# matched as IPv4) are redirected through sluiced, and getpeername() shows
# each its original peer.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
need_bpf
need_cmd curl nginx
[[ -e /proc/net/if_inet6 ]] || skip "IPv6 is disabled on this machine"
make_cgroup
start_http 127.0.10.2 8080 ::1 8080
write_config "$T/config.json"
start_sluiced "$T/config.json"

# --- curl to [::1]:8080 --------------------------------------------------------------
out=$(in_cgroup curl -gsS --max-time 20 -w '%{stderr}local_port=%{local_port}\n' \
	'http://[::1]:8080/big.bin' 2>"$T/curl.err" | sha256sum | awk '{print $1}')
expect_eq "$out" "$HTTP_BIG_SHA" "sha256 of big.bin fetched from [::1]:8080 through sluiced" "$(cat "$T/curl.err")"
lport=$(sed -n 's/^local_port=//p' "$T/curl.err")
conn=$(wait_conn 5 --target web --client-port "$lport" --need-bytes) ||
	fail "curl to [::1]:8080 (port $lport) is not in conn list: $(conn_list 2>&1)"
log "curl [::1]:8080: $conn"
expect_eq "$(jget "$conn" 'j["original"]')" '[::1]:8080' "original destination" "$conn"
expect_eq "$(jget "$conn" 'j["kernel"]["comm"]')" curl "kernel.comm" "$conn"
expect_ge "$(jget "$conn" 'j["bytes_down"]')" 1048576 "bytes_down" "$conn"
if http_log_has_port "$lport"; then fail "nginx saw curl's own port $lport: not proxied"; fi

# --- python3 AF_INET6 to [::1]:8080: getpeername ----------------------------------
probe=$(in_cgroup "$PY" "$HELPER" probe ::1 8080 --http /index.html) ||
	fail "probe to [::1]:8080 failed: $probe"
log "probe [::1]:8080: $probe"
expect_eq "$(jget "$probe" 'j["peername"]')" '["::1", 8080]' "getpeername() of an IPv6 client" "$probe"
expect_eq "$(jget "$probe" 'j["body_head"].strip()')" "$HTTP_TOKEN" "body via [::1]:8080" "$probe"
pport=$(jget "$probe" 'j["sockname"][1]')
wait_conn 5 --target web --client-port "$pport" >/dev/null ||
	fail "the IPv6 probe (port $pport) is not in conn list: $(conn_list 2>&1)"
if http_log_has_port "$pport"; then fail "nginx saw the probe's own port: not proxied"; fi

# --- python3 AF_INET6 to ::ffff:127.0.10.2:8080 (IPv4-mapped) -----------------------
probe=$(in_cgroup "$PY" "$HELPER" probe ::ffff:127.0.10.2 8080 --family 6 --http /index.html) ||
	fail "probe to [::ffff:127.0.10.2]:8080 failed: $probe"
log "probe [::ffff:127.0.10.2]:8080: $probe"
expect_eq "$(jget "$probe" 'j["peername"]')" '["::ffff:127.0.10.2", 8080]' \
	"getpeername() of an IPv4-mapped IPv6 client" "$probe"
expect_eq "$(jget "$probe" 'j["body_head"].strip()')" "$HTTP_TOKEN" "body via ::ffff:127.0.10.2" "$probe"
pport=$(jget "$probe" 'j["sockname"][1]')
conn=$(wait_conn 5 --target web --client-port "$pport") ||
	fail "the IPv4-mapped probe (port $pport) is not in conn list: $(conn_list 2>&1)"
log "IPv4-mapped connection: $conn"
orig=$(jget "$conn" 'j["original"]')
[[ $orig == 127.0.10.2:8080 || $orig == '[::ffff:127.0.10.2]:8080' ]] ||
	fail "original of the IPv4-mapped connection: got '$orig', expected 127.0.10.2:8080"
if http_log_has_port "$pport"; then fail "nginx saw the probe's own port: not proxied"; fi

# --- the counters agree -------------------------------------------------------------
expect_eq "$(target_field web bypassed)" 0 "target web bypassed"
expect_ge "$(target_field web total)" 3 "target web total"
log "PASS"
