#!/usr/bin/env bash
# Issue 4, presented identity: a TLS tcp target that requires a client
# certificate (client_auth "cert", identity.client_ca). Unmodified curl
# presents alice's (O=ai-agents) or bob's (O=ops) certificate; policy allows
# the ops group and denies the rest by default. The session records the
# presented user (CN) and groups (every O) beside the kernel identity, and
# `sluice session list --user` finds it. A client without a certificate, or
# with one from another CA, is refused in the handshake.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
need_bpf
need_cmd curl nginx openssl
make_cgroup

make_ca agentca		# what the agents trust for the API address
make_ca clientca	# who issues the agents' own certificates
make_ca rogueca		# a CA sluice does not know
make_cert agentca api "IP:127.0.10.5"
client_cert() {	# client_cert CA NAME ORG...: a client certificate, CN=NAME, O each ORG
	local ca=$1 name=$2 subj="/CN=$2" o
	shift 2
	for o in "$@"; do subj+="/O=$o"; done
	printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n' \
		>"$PKI/$name.ext"
	{
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/$name.key" \
			-out "$PKI/$name.csr" -subj "$subj" -multivalue-rdn &&
			openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" \
				-CAcreateserial -days 2 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt"
	} >"$PKI/$name.log" 2>&1 || fail "openssl: cannot make client cert $name: $(cat "$PKI/$name.log")"
}
client_cert clientca alice ai-agents
client_cert clientca bob ops
client_cert rogueca mallory ops
start_http 127.0.10.6 8080

mkdir -p "$T/policies"
cat >"$T/policies/rules.json" <<'JSON'
{"version": 1,
 "rules": [
   {"name": "ops-may-connect", "match": {"identity": {"groups": ["ops"], "authenticated": true},
                                         "target": "api"}, "action": "allow"}
 ]}
JSON
cat >"$T/config.json" <<EOF
{
  "cgroup": "$CG",
  "control": "$T/ctl.sock",
  "listen": {"ipv4": "127.0.0.1", "ipv6": "::1", "port": 15443},
  "heartbeat_ms": 100,
  "stale_ms": 500,
  "store": {"path": "$T/store", "seal_key": "$T/seal.key"},
  "policy_dir": "policies",
  "identity": {"client_ca": "pki/clientca.crt"},
  "targets": [
    {"name": "api", "kind": "tcp", "match": ["127.0.10.5:443"],
     "upstream": "127.0.10.6:8080", "fail_mode": "closed",
     "tls": {"cert": "pki/api.crt", "key": "pki/api.key"},
     "client_auth": "cert"}
  ]
}
EOF
start_sluiced "$T/config.json"

get() {	# get NAME: curl the index page presenting NAME's certificate ("" none)
	local args=(--cacert "$PKI/agentca.crt" -sS --max-time 10)
	[[ -n $1 ]] && args+=(--cert "$PKI/$1.crt" --key "$PKI/$1.key")
	in_cgroup curl "${args[@]}" https://127.0.10.5/index.html
}
newest_session() {
	store_cli -j session list | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])'
}

# --- bob (O=ops) is allowed, and recorded as bob --------------------------------
out=$(get bob) || fail "bob refused: $out"
expect_eq "$out" "$HTTP_TOKEN" "page for bob"
sid=$(newest_session)
show=$(wait_session_end 10 "$sid") || fail "bob's session did not end: $show"
expect_eq "$(jget "$show" 'j["user"]["name"]')" bob "user of bob's session" "$show"
expect_eq "$(jget "$show" 'j["user"]["groups"]')" '["ops"]' "groups of bob's session" "$show"
expect_eq "$(jget "$show" 'j["user"]["source"]')" cert "identity source" "$show"
expect_eq "$(jget "$show" 'j["kernel"]["comm"]')" curl "kernel identity beside it" "$show"
expect_eq "$(jget "$show" '[e["rule"] for e in j["events"] if e["type"]=="decision"]')" \
	'["ops-may-connect"]' "decision rule" "$show"
ls=$(store_cli -j session list --user bob)
expect_eq "$(jget "$ls" '[s["id"] for s in j]')" "[\"$sid\"]" "session list --user bob" "$ls"

# --- alice (O=ai-agents) is denied by default -------------------------------------
if out=$(get alice 2>&1); then fail "alice got through: $out"; fi
sid=$(newest_session)
show=$(wait_session_end 10 "$sid") || fail "alice's session did not end: $show"
expect_eq "$(jget "$show" 'j["user"]["name"]')" alice "user of alice's session" "$show"
expect_eq "$(jget "$show" '[(e["decision"], e["rule"]) for e in j["events"] if e["type"]=="decision"]')" \
	'[["deny", "default"]]' "alice's decision" "$show"
ls=$(store_cli -j session list --user alice)
expect_eq "$(jget "$ls" 'len(j)')" 1 "session list --user alice" "$ls"

# --- no certificate, or one from another CA: refused in the handshake -----------
if out=$(get "" 2>&1); then fail "a client without a certificate got through: $out"; fi
if out=$(get mallory 2>&1); then fail "a certificate from an unknown CA got through: $out"; fi
alive "$SLUICED_PID" || fail "sluiced died"
grep -q '"client TLS' "$SLUICED_LOG" || fail "no client TLS refusal logged"
log "PASS"
