#!/usr/bin/env bash
# Issue 3, test 4: malformed or hostile TLS toward a TLS target closes that
# connection, with a session record saying why; the daemon goes on. Against
# target api (TLS toward the client with the agentca-signed cert for
# 127.0.10.5, plain HTTP to nginx behind it), from the test cgroup:
#   garbage bytes; an HTTP request in clear; a truncated ClientHello, then
#   close; a truncated ClientHello left hanging (handshake timeout); a
#   ClientHello for a name no certificate carries (SNI); a TLS 1.2 client
#   that renegotiates; a TLS 1.1-only client.
# After each: the client saw the connection closed, the session ended with
# status "error" and an error event / reason naming the cause, sluiced is
# alive, and the next good connection (curl, verifying the cert) works.
# Also must succeed: a ClientHello sent one byte per send(), and one split
# into many small TLS records as well.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
need_bpf
need_cmd curl nginx openssl
make_cgroup

make_ca agentca
make_cert agentca api "IP:127.0.10.5,DNS:api.test"
start_http 127.0.10.6 8080

# sluiced gives the upstream connect connect_ms from accept, then the
# handshakes handshake_ms from that connect (checked once a second)
CONNECT_MS=1000
HANDSHAKE_MS=1500
cat >"$T/config.json" <<EOF
{
  "cgroup": "$CG",
  "control": "$T/ctl.sock",
  "listen": {"ipv4": "127.0.0.1", "ipv6": "::1", "port": 15443},
  "heartbeat_ms": 100,
  "stale_ms": 500,
  "store": {"path": "$T/store", "seal_key": "$T/seal.key"},
  "timeouts": {"connect_ms": $CONNECT_MS, "handshake_ms": $HANDSHAKE_MS},
  "targets": [
    {"name": "api", "kind": "tcp", "match": ["127.0.10.5:443"],
     "upstream": "127.0.10.6:8080", "fail_mode": "closed",
     "tls": {"cert": "pki/api.crt", "key": "pki/api.key"}}
  ]
}
EOF
start_sluiced "$T/config.json"

ngood=0
# good_conn: curl verifies the proxy's certificate and gets the page
good_conn() {
	local out
	alive "$SLUICED_PID" || fail "sluiced died after $1; its log:
$(tail -n 30 "$SLUICED_LOG")"
	out=$(in_cgroup curl -sS --max-time 10 --cacert "$PKI/agentca.crt" \
		https://127.0.10.5/index.html 2>&1) ||
		fail "the good connection after $1 failed: $out"
	expect_eq "$out" "$HTTP_TOKEN" "body of the good connection after $1"
	ngood=$((ngood + 1))
}

# conn_by_port PORT / conn_by_pid PID: the client's connection (conn list)
conn_by_port() {
	wait_conn 5 --target api --client-port "$1" ||
		fail "conn list has no api connection from client port $1: $(conn_list 2>&1)"
}
conn_by_pid() {
	wait_conn 5 --target api --pid "$1" ||
		fail "conn list has no api connection of pid $1: $(conn_list 2>&1)"
}

# check_refused CASE CONN REGEX: CONN's session ended in error and its
# error event / end reason matches REGEX (case-insensitive); then the
# daemon serves a good connection
check_refused() {
	local name=$1 conn=$2 re=$3 sid show text status
	sid=$(jget "$conn" 'j.get("session") or ""')
	[[ $sid =~ ^[0-9a-f]{32}$ ]] || fail "$name: the connection has no session: $conn"
	show=$(wait_session_end 10 "$sid")
	text=$(session_events_text "$show")
	status=$(jget "$show" '[e.get("status") for e in j["events"] if e["type"] == "session_end"][0]')
	expect_eq "$status" error "$name: session_end status" "$text"
	expect_ge "$(jget "$show" 'len([e for e in j["events"] if e["type"] == "error"])')" 1 \
		"$name: error events in the session" "$text"
	grep -Eiq -- "$re" <<<"$text" ||
		fail "$name: the session record does not say why (want /$re/): $text"
	conn=$(conn_list | "$PY" "$HELPER" get "[c for c in (j.get('connections', []) if isinstance(j, dict) else j) if c.get('session') == '$sid'][0]")
	grep -Eiq -- "$re" <<<"$(jget "$conn" 'j.get("close_reason") or ""')" ||
		fail "$name: conn list close_reason does not say why (want /$re/): $conn"
	grep -q "\"session\":\"$sid\"" "$SLUICED_LOG" ||
		fail "$name: the daemon's log does not mention session $sid"
	log "  $name -> $(tr '\n' '|' <<<"$text")"
	good_conn "$name"
}

# raw_case NAME FILE THEN: send FILE's bytes raw (helper.py raw)
raw_case() {
	local out
	out=$(in_cgroup "$PY" "$HELPER" raw 127.0.10.5 443 --send-file "$2" --then "$3" --timeout 10) ||
		fail "$1: could not even connect: $out"
	log "  $1: the client saw $out"
	printf '%s\n' "$out"
}

good_conn "start"

# --- garbage -------------------------------------------------------------------------
log "garbage: 4 KiB of random bytes"
{
	printf '\000\377'
	head -c 4094 /dev/urandom
} >"$T/garbage.bin"
out=$(raw_case garbage "$T/garbage.bin" wait)
expect_eq "$(jget "$out" 'j["peer_closed"]')" true "garbage: the proxy closed the connection" "$out"
conn=$(conn_by_port "$(jget "$out" 'j["sockname"][1]')")
check_refused garbage "$conn" 'TLS|SSL|record|version|wrong'

# --- an HTTP request in clear ----------------------------------------------------------
log "plain HTTP to the TLS port"
printf 'GET /index.html HTTP/1.1\r\nHost: 127.0.10.5\r\n\r\n' >"$T/http.txt"
out=$(raw_case http "$T/http.txt" wait)
expect_eq "$(jget "$out" 'j["peer_closed"]')" true "plain HTTP: the proxy closed the connection" "$out"
[[ $(jget "$out" 'j["head_hex"]') != "$(printf 'HTTP' | od -An -tx1 | tr -d ' \n')"* ]] ||
	fail "plain HTTP got an HTTP answer through a TLS target: $out"
conn=$(conn_by_port "$(jget "$out" 'j["sockname"][1]')")
check_refused "plain HTTP" "$conn" 'TLS|SSL|http'

# --- a truncated ClientHello, then close -------------------------------------------
"$PY" "$HELPER" clienthello --sni api.test >"$T/hello.bin"
head -c 60 "$T/hello.bin" >"$T/hello.60"
log "truncated ClientHello (60 of $(stat -c %s "$T/hello.bin") bytes), then close"
out=$(raw_case truncated-close "$T/hello.60" close)
conn=$(conn_by_port "$(jget "$out" 'j["sockname"][1]')")
check_refused "truncated ClientHello + close" "$conn" 'TLS|handshake|eof|closed'

# --- a truncated ClientHello left hanging: the handshake timeout --------------------
log "truncated ClientHello, then nothing (connect_ms $CONNECT_MS + handshake_ms $HANDSHAKE_MS)"
out=$(raw_case truncated-hang "$T/hello.60" wait)
expect_eq "$(jget "$out" 'j["peer_closed"]')" true "truncated ClientHello: the proxy closed the connection" "$out"
secs=$(jget "$out" 'j["seconds"]')
"$PY" -c "import sys; sys.exit(not ($HANDSHAKE_MS / 1000 * 0.9 <= $secs <= ($CONNECT_MS + $HANDSHAKE_MS) / 1000 + 3))" ||
	fail "the hanging handshake was closed after ${secs}s, expected within $(((CONNECT_MS + HANDSHAKE_MS) / 1000)) s or so: $out"
conn=$(conn_by_port "$(jget "$out" 'j["sockname"][1]')")
check_refused "hanging ClientHello" "$conn" 'handshake|time'

# --- a ClientHello one byte per send() must work --------------------------------------
for rs in "" 16; do
	what="ClientHello one byte per send${rs:+, in TLS records of $rs bytes}"
	log "$what"
	out=$(in_cgroup "$PY" "$HELPER" tls-dribble 127.0.10.5 443 --ca "$PKI/agentca.crt" \
		--name api.test --byte-delay 0.002 ${rs:+--record-size "$rs"}) ||
		fail "$what failed: $out"
	expect_eq "$(jget "$out" 'j["http_status"]')" 200 "$what: HTTP status" "$out"
	expect_eq "$(jget "$out" 'j["body"].strip()')" "$HTTP_TOKEN" "$what: body" "$out"
	conn=$(conn_by_port "$(jget "$out" 'j["sockname"][1]')")
	show=$(wait_session_end 10 "$(jget "$conn" 'j["session"]')")
	expect_eq "$(jget "$show" '[e.get("status") for e in j["events"] if e["type"] == "session_end"][0]')" \
		closed "$what: session_end status" "$(session_events_text "$show")"
	log "  $what: ok ($(jget "$out" 'j["hello_bytes"]') bytes of ClientHello, $(jget "$out" 'j["version"]'))"
done

# --- a name no certificate carries (SNI) ----------------------------------------------
log "openssl s_client -servername nope.test"
rc=0
in_cgroup openssl s_client -connect 127.0.10.5:443 -servername nope.test \
	-CAfile "$PKI/agentca.crt" </dev/null >"$T/sni.out" 2>&1 || rc=$?
((rc != 0)) || fail "s_client with SNI nope.test succeeded: $(tail -n 20 "$T/sni.out")"
log "  s_client: $(grep -ai 'error\|alert' "$T/sni.out" | head -n 3)"
grep -aqi 'unrecognized name' "$T/sni.out" ||
	fail "s_client was not told why (no unrecognized_name alert): $(tail -n 5 "$T/sni.out")"
conn=$(conn_by_pid "$(last_pid)")
check_refused "wrong SNI" "$conn" 'nope\.test|SNI|unrecognized|no certificate'

# --- renegotiation (TLS 1.2) ------------------------------------------------------------
log "openssl s_client -tls1_2, then R (renegotiate)"
rc=0
{
	sleep 1
	printf 'R\n'
	sleep 3
} | in_cgroup openssl s_client -connect 127.0.10.5:443 -tls1_2 -CAfile "$PKI/agentca.crt" \
	-verify_return_error >"$T/reneg.out" 2>&1 || rc=$?
reneg_pid=$(last_pid)
grep -q RENEGOTIATING "$T/reneg.out" ||
	fail "s_client did not try to renegotiate (rc $rc): $(tail -n 20 "$T/reneg.out")"
log "  s_client: $(grep -ai 'error\|alert' "$T/reneg.out" | head -n 3)"
grep -aqi 'no renegotiation' "$T/reneg.out" ||
	fail "s_client was not told why (no no_renegotiation alert): $(tail -n 5 "$T/reneg.out")"
conn=$(conn_by_pid "$reneg_pid")
check_refused renegotiation "$conn" 'renegotiat'

# --- a TLS 1.1-only client ------------------------------------------------------------
log "openssl s_client -tls1_1"
rc=0
in_cgroup openssl s_client -connect 127.0.10.5:443 -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' \
	-CAfile "$PKI/agentca.crt" </dev/null >"$T/tls11.out" 2>&1 || rc=$?
((rc != 0)) || fail "a TLS 1.1 client got through: $(tail -n 20 "$T/tls11.out")"
log "  s_client: $(grep -ai 'error\|alert' "$T/tls11.out" | head -n 3)"
grep -aqi 'protocol version' "$T/tls11.out" ||
	fail "s_client was not told why (no protocol_version alert): $(tail -n 5 "$T/tls11.out")"
conn=$(conn_by_pid "$(last_pid)")
check_refused "TLS 1.1" "$conn" 'version|protocol'

# --- the tally ------------------------------------------------------------------------
alive "$SLUICED_PID" || fail "sluiced died"
tl=$(target_field api total)
log "target api: $tl connections, $ngood good ones verified"
stop_sluiced TERM
expect_eq "$SLUICED_RC" 0 "sluiced's exit status after SIGTERM"
if grep -q 'AddressSanitizer\|runtime error' "$SLUICED_LOG"; then
	fail "sanitizer report in the daemon's log: $(grep -A 20 'AddressSanitizer\|runtime error' "$SLUICED_LOG" | head -n 40)"
fi
log "PASS"
