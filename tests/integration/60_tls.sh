#!/usr/bin/env bash
# Issue 3, test 1: TLS targets. Unmodified curl and openssl s_client in the
# test cgroup connect to 127.0.10.5 and verify the certificate they already
# trust for that address (a leaf of "agentca" that sluiced holds); sluiced
# talks TLS, verified against another CA ("upca"), to the real upstream on
# 127.0.10.6 (nginx with TLS for curl, openssl s_server for s_client).
#   - curl gets the bodies intact (TLS 1.2 and 1.3; by address, and by SNI
#     name, a second certificate selected by SNI); a client trusting another
#     CA refuses the proxy's certificate;
#   - s_client <-> s_server, TLS 1.2 and 1.3, known bytes both ways: what the
#     upstream received == `session replay --raw --dir up`, what it sent ==
#     `--dir down` == what the client received;
#   - the session records say which TLS version each side spoke, and
#     `session verify` passes on every session.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
need_bpf
need_cmd curl nginx openssl cmp
make_cgroup

# --- certificates -----------------------------------------------------------------
make_ca agentca		# what the agents trust
make_ca upca		# the upstream's own CA, known only to sluiced
make_cert agentca api "IP:127.0.10.5,DNS:api.test"
make_cert agentca other "DNS:other.test"
make_cert upca up "IP:127.0.10.6"

start_https 127.0.10.6 8443 "$PKI/up.crt" "$PKI/up.key"

cat >"$T/config.json" <<EOF
{
  "cgroup": "$CG",
  "control": "$T/ctl.sock",
  "listen": {"ipv4": "127.0.0.1", "ipv6": "::1", "port": 15443},
  "heartbeat_ms": 100,
  "stale_ms": 500,
  "store": {"path": "$T/store", "seal_key": "$T/seal.key"},
  "targets": [
    {"name": "api", "kind": "tcp", "match": ["127.0.10.5:443"],
     "upstream": "127.0.10.6:8443", "fail_mode": "closed",
     "tls": {"certs": [{"cert": "pki/api.crt", "key": "pki/api.key"},
                       {"cert": "pki/other.crt", "key": "pki/other.key"}],
             "upstream_ca": "pki/upca.crt"}},
    {"name": "echo", "kind": "tcp", "match": ["127.0.10.5:4443"],
     "upstream": "127.0.10.6:9443", "fail_mode": "closed",
     "tls": {"cert": "pki/api.crt", "key": "pki/api.key",
             "upstream_ca": "pki/upca.crt"}}
  ]
}
EOF
start_sluiced "$T/config.json"

# listening ADDR:PORT: a TCP listener is there
listening() { [[ -n $(ss -Hltn "src $1") ]]; }

# sid_of_pid TARGET PID: the session id of PID's connection (conn list)
sid_of_pid() {
	local conn sid
	conn=$(wait_conn 5 --target "$1" --pid "$2") ||
		fail "conn list has no $1 connection of pid $2:
$(conn_list 2>&1)"
	sid=$(jget "$conn" 'j.get("session") or ""')
	[[ $sid =~ ^[0-9a-f]{32}$ ]] || fail "connection of pid $2 has no session id: $conn"
	printf '%s\n' "$sid"
}

# check_session SID CLIENT_VERSION: ended, closed cleanly, verify passes,
# a tls event per side, the client side at CLIENT_VERSION
check_session() {
	local sid=$1 want=$2 show v
	show=$(wait_session_end 10 "$sid")
	expect_eq "$(jget "$show" '[e.get("status") for e in j["events"] if e["type"] == "session_end"][0]')" \
		closed "session_end status of $sid" "$(session_events_text "$show")"
	v=$(jget "$show" '[e.get("version") for e in j["events"] if e["type"] == "tls" and e.get("side") in ("client", "agent")]')
	expect_eq "$v" "[\"$want\"]" "TLS version toward the client recorded in $sid" \
		"$(jget "$show" '[e for e in j["events"] if e["type"] == "tls"]')"
	v=$(jget "$show" 'len([e for e in j["events"] if e["type"] == "tls" and e.get("side") not in ("client", "agent")])')
	expect_eq "$v" 1 "tls events of the upstream side in $sid" \
		"$(jget "$show" '[e for e in j["events"] if e["type"] == "tls"]')"
	store_cli session verify "$sid" >"$T/verify.out" 2>&1 ||
		fail "session verify $sid fails on an untouched session: $(cat "$T/verify.out")"
	log "session $sid: $want, verify: $(head -c 200 "$T/verify.out")"
}

# replay SID DIR OUT: the recorded bytes of one direction
replay() {
	store_cli session replay "$1" --raw --dir "$2" --speed 0 >"$3" 2>"$3.err" ||
		fail "session replay $1 --raw --dir $2 failed: $(cat "$3.err")"
}

# --- (a) curl, TLS 1.3 and 1.2, by address ----------------------------------------
for ver in 1.3 1.2; do
	log "curl --tlsv$ver --tls-max $ver --cacert agentca https://127.0.10.5/big.bin"
	in_cgroup curl -sS --max-time 20 --cacert "$PKI/agentca.crt" --tlsv"$ver" --tls-max "$ver" \
		-w '%{stderr}ssl_verify=%{ssl_verify_result}\n' \
		https://127.0.10.5/big.bin >"$T/big.$ver" 2>"$T/curl.$ver.err" ||
		fail "curl (TLS $ver) through sluiced failed: $(cat "$T/curl.$ver.err")"
	pid=$(last_pid)
	expect_eq "$(sha256sum <"$T/big.$ver" | awk '{print $1}')" "$HTTP_BIG_SHA" \
		"sha256 of the 1 MiB body curl got over TLS $ver"
	expect_eq "$(sed -n 's/^ssl_verify=//p' "$T/curl.$ver.err")" 0 "curl's verify result (TLS $ver)"
	sid=$(sid_of_pid api "$pid")
	check_session "$sid" "TLSv$ver"
	# the recording is the plaintext: the request up, response + body down
	replay "$sid" up "$T/curl.$ver.up"
	replay "$sid" down "$T/curl.$ver.down"
	[[ $(head -n 1 "$T/curl.$ver.up") == "GET /big.bin HTTP/1.1"* ]] ||
		fail "recorded up bytes do not start with curl's request: $(head -c 200 "$T/curl.$ver.up" | od -c | head)"
	[[ $(head -n 1 "$T/curl.$ver.down") == "HTTP/1.1 200"* ]] ||
		fail "recorded down bytes do not start with nginx's status line: $(head -c 200 "$T/curl.$ver.down" | od -c | head)"
	body_sha=$("$PY" -c 'import sys,hashlib; d=open(sys.argv[1],"rb").read(); print(hashlib.sha256(d.split(b"\r\n\r\n",1)[1]).hexdigest())' "$T/curl.$ver.down")
	expect_eq "$body_sha" "$HTTP_BIG_SHA" "sha256 of the body in the recorded down bytes (TLS $ver)"
	# nginx saw TLS from sluiced, not from curl
	grep -q '"GET /big.bin HTTP/1.1" 200 1048576 TLSv1\.[23]' "$HTTP_DIR/access.log" ||
		fail "nginx's access log has no TLS request for /big.bin: $(cat "$HTTP_DIR/access.log")"
done

# --- SNI: api.test (same cert) and other.test (the second cert) -------------------
for name in api.test other.test; do
	log "curl https://$name/ (resolved to 127.0.10.5): the certificate for $name"
	out=$(in_cgroup curl -sS --max-time 10 --cacert "$PKI/agentca.crt" \
		--resolve "$name:443:127.0.10.5" "https://$name/index.html" 2>&1) ||
		fail "curl https://$name through sluiced failed: $out"
	expect_eq "$out" "$HTTP_TOKEN" "body of https://$name/index.html"
	sid=$(sid_of_pid api "$(last_pid)")
	show=$(wait_session_end 10 "$sid")
	expect_eq "$(jget "$show" '[e.get("sni") for e in j["events"] if e["type"] == "tls" and e.get("sni")]')" \
		"[\"$name\"]" "SNI recorded in the session of https://$name"
done

# --- a client that trusts another CA refuses the proxy's certificate --------------
log "curl --cacert upca https://127.0.10.5/: must fail verification"
rc=0
in_cgroup curl -sS --max-time 10 --cacert "$PKI/upca.crt" https://127.0.10.5/index.html \
	>/dev/null 2>"$T/curl.wrongca.err" || rc=$?
expect_eq "$rc" 60 "curl exit status with a CA that did not sign the proxy's cert (60: peer verification failed)" \
	"$(cat "$T/curl.wrongca.err")"

# --- (b) openssl s_client <-> openssl s_server, byte for byte ----------------------
# Known bytes both ways; the first bytes are s_client/s_server command letters
# (Q, R), which -nocommands / -quiet must pass as data.
{
	printf 'Q\nR\n'
	head -c 300000 /dev/urandom
} >"$T/up.bin"
{
	printf 'Q\nR\nq\n'
	head -c 500000 /dev/urandom
} >"$T/down.bin"
up_size=$(stat -c %s "$T/up.bin")
down_size=$(stat -c %s "$T/down.bin")

for ver in tls1_3 tls1_2; do
	d=$T/echo-$ver
	mkdir -p "$d"
	log "s_client -$ver -> 127.0.10.5:4443 -> sluiced -> s_server 127.0.10.6:9443"
	# the upstream: sends down.bin, writes what it receives to srv.recv, and
	# holds the connection until the test says the client is done
	{
		cat "$T/down.bin"
		wait_until 60 test -e "$d/done"
	} | openssl s_server -accept 127.0.10.6:9443 -cert "$PKI/up.crt" -key "$PKI/up.key" \
		-naccept 1 -quiet >"$d/srv.recv" 2>"$d/srv.err" &
	srv_job=$!
	wait_until 10 listening 127.0.10.6:9443 ||
		fail "openssl s_server does not listen on 127.0.10.6:9443: $(cat "$d/srv.err")"
	# the client: sends up.bin and closes once it has all of down.bin
	rc=0
	# shellcheck disable=SC2094 # reads only the size of what s_client wrote
	{
		cat "$T/up.bin"
		wait_size 60 "$d/cli.recv" "$down_size"
	} | IN_CGROUP_PIDFILE=$d/cli.pid in_cgroup openssl s_client \
		-connect 127.0.10.5:4443 -"$ver" -CAfile "$PKI/agentca.crt" -verify_ip 127.0.10.5 \
		-verify_return_error -quiet -no_ign_eof -nocommands \
		>"$d/cli.recv" 2>"$d/cli.err" || rc=$?
	((rc == 0)) || fail "s_client -$ver exited $rc: $(tail -n 20 "$d/cli.err")"
	cli_pid=$(cat "$d/cli.pid")
	wait_size 30 "$d/srv.recv" "$up_size" ||
		fail "s_server received $(stat -c %s "$d/srv.recv") of $up_size bytes: $(tail -n 5 "$d/srv.err")"
	touch "$d/done"
	wait "$srv_job" || fail "openssl s_server failed: $(tail -n 20 "$d/srv.err")"
	cmp "$T/up.bin" "$d/srv.recv" ||
		fail "s_server received other bytes than s_client sent ($(stat -c %s "$d/srv.recv") of $up_size)"
	cmp "$T/down.bin" "$d/cli.recv" ||
		fail "s_client received other bytes than s_server sent ($(stat -c %s "$d/cli.recv") of $down_size)"

	sid=$(sid_of_pid echo "$cli_pid")
	want=TLSv1.3
	[[ $ver == tls1_2 ]] && want=TLSv1.2
	check_session "$sid" "$want"
	replay "$sid" up "$d/rec.up"
	replay "$sid" down "$d/rec.down"
	cmp "$d/srv.recv" "$d/rec.up" ||
		fail "recorded up bytes ($(stat -c %s "$d/rec.up")) differ from what the upstream received ($up_size)"
	cmp "$T/down.bin" "$d/rec.down" ||
		fail "recorded down bytes ($(stat -c %s "$d/rec.down")) differ from what the upstream sent ($down_size)"
	cmp "$d/cli.recv" "$d/rec.down" ||
		fail "recorded down bytes differ from what the client received"
	show=$(store_cli -j session show "$sid")
	expect_eq "$(jget "$show" 'j.get("bytes_up")')" "$up_size" "bytes_up of session $sid" "$(jget "$show" '{k: v for k, v in j.items() if k != "events"}')"
	expect_eq "$(jget "$show" 'j.get("bytes_down")')" "$down_size" "bytes_down of session $sid"
	log "s_client -$ver: $up_size bytes up, $down_size down, identical at client, upstream and in the recording"
done

# --- the store: every session listed, every one intact ---------------------------
list=$(store_cli -j session list) || fail "session list failed: $list"
n=$(jget "$list" 'len([s for s in j if s.get("target") in ("api", "echo")])')
expect_ge "$n" 6 "sessions of targets api and echo in session list" "$list"
for sid in $(jget "$list" '" ".join(s["id"] for s in j)'); do
	store_cli session verify "$sid" >"$T/verify.out" 2>&1 ||
		fail "session verify $sid: $(cat "$T/verify.out")"
done
alive "$SLUICED_PID" || fail "sluiced died"
log "PASS"
