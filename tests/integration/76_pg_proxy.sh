#!/usr/bin/env bash
# Issue 5: `kind: postgres` targets. A real PostgreSQL 15 on 127.0.10.76
# (target pg, client_auth kernel) and one on 127.0.10.77 (target pgjwt,
# client_auth jwt, TLS toward the agent with a certificate for that
# address); both require SCRAM-SHA-256 from the role `app`, whose password
# only sluice holds. Unmodified psql in the test cgroup dials the servers'
# real addresses as user `agent` (pg) or `alice` (pgjwt), without the
# role's password.
#  1. DDL, DML, a transaction, COPY in and out and a multi-statement string
#     through pg: each statement an event with its class and row counts,
#     and `sluice session show` lists them.
#  2. pgjwt: the only credential is a JWT (RS256, minted here against a key
#     in identity.issuers) sent as the password over verify-full TLS; a
#     wrong token and a cleartext attempt are refused with FATAL; the
#     role's password is nowhere in what psql printed nor in the recording,
#     and the JWT itself is not in the recorded bytes.
#  3. DROP TABLE of the protected table and DELETE without WHERE are
#     refused with 42501 naming the rule while SELECT works in the same
#     session, and inside a transaction the transaction is aborted as
#     PostgreSQL would; a GRANT (rule review) is refused with an approval
#     id, granted with `sluice approval grant`, then runs.
#  4. The email column comes back masked for uid 65534 (rule mask) and
#     clear for root.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
need_bpf
need_cmd psql setpriv openssl
make_cgroup
A1=127.0.10.76
P1=5476
A2=127.0.10.77
P2=5477
PASS="held-$RANDOM-$RANDOM-secret"
BIN=$(pg_bindir) || skip "PostgreSQL server not installed"

# a_server ADDR PORT: PostgreSQL with role app (SCRAM) and table items
a_server() {
	start_postgres "$1" "$2"
	local dir=${PG_SOCKDIR%/sock}
	runuser -u postgres -- "$BIN/psql" -X -q -h "$PG_SOCKDIR" -p "$2" -U postgres -d postgres \
		-v ON_ERROR_STOP=1 <<EOF || fail "roles on $1"
SET password_encryption = 'scram-sha-256';
CREATE ROLE app LOGIN PASSWORD '$PASS';
CREATE ROLE reader;
GRANT ALL ON SCHEMA public TO app;
CREATE TABLE protected (id int);
ALTER TABLE protected OWNER TO app;
EOF
	cat >"$dir/data/pg_hba.conf" <<EOF
local all all trust
host all app 127.0.0.0/8 scram-sha-256
EOF
	runuser -u postgres -- "$BIN/pg_ctl" -D "$dir/data" reload >/dev/null || fail "reload"
}
a_server "$A1" "$P1"
a_server "$A2" "$P2"
sleep 0.5
printf '%s\n' "$PASS" >"$T/app.pass"
chmod 600 "$T/app.pass"

make_ca ca
make_cert ca pgjwt "IP:$A2"
# the JWT issuer's key, and tokens signed with it
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/jwt.key" 2>/dev/null
openssl pkey -in "$T/jwt.key" -pubout -out "$T/jwt.pub"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other.key" 2>/dev/null
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
mint() {	# mint KEY SUB: a token for SUB valid 10 minutes
	local now h p s
	now=$(date +%s)
	h=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
	p=$(printf '{"iss":"https://issuer.test","aud":"sluice","sub":"%s","groups":["ai-agents"],"iat":%d,"exp":%d}' \
		"$2" "$now" $((now + 600)) | b64url)
	s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$1" -binary | b64url)
	printf '%s.%s.%s' "$h" "$p" "$s"
}
TOKEN=$(mint "$T/jwt.key" alice)
BAD_TOKEN=$(mint "$T/other.key" alice)

mkdir -p "$T/policies"
cat >"$T/policies/10-pg.json" <<'JSON'
{
  "version": 1,
  "default": "deny",
  "rules": [
    {"name": "protected-stays", "match": {"sql": {"classes": ["ddl"], "tables": ["protected"]}},
     "action": "deny"},
    {"name": "no-unbounded-delete", "match": {"sql": {"no_where": true}}, "action": "deny"},
    {"name": "grants-need-review", "match": {"sql": {"classes": ["dcl"]}}, "action": "review"},
    {"name": "nobody-sees-no-email", "match": {"identity": {"uids": [65534]}, "target": "pg"},
     "action": "allow", "mask": [{"sql_column": "email"}]},
    {"name": "alice", "match": {"identity": {"users": ["alice"]}, "target": "pgjwt"},
     "action": "allow"},
    {"name": "root-on-pg", "match": {"identity": {"uids": [0]}, "target": "pg"}, "action": "allow"}
  ]
}
JSON
cat >"$T/config.json" <<EOF
{
  "cgroup": "$CG",
  "control": "$T/ctl.sock",
  "listen": {"ipv4": "127.0.0.1", "ipv6": "::1", "port": 15443},
  "heartbeat_ms": 100, "stale_ms": 500,
  "store": {"path": "$T/store", "seal_key": "$T/seal.key"},
  "policy_dir": "$T/policies",
  "identity": {"issuers": [{"issuer": "https://issuer.test", "audiences": ["sluice"],
                            "keys": "$T/jwt.pub"}]},
  "targets": [
    {"name": "pg", "kind": "postgres", "match": ["$A1:$P1"], "upstream": "$A1:$P1",
     "fail_mode": "closed",
     "credential": {"user": "app", "password_file": "$T/app.pass"}},
    {"name": "pgjwt", "kind": "postgres", "match": ["$A2:$P2"], "upstream": "$A2:$P2",
     "fail_mode": "closed", "client_auth": "jwt",
     "tls": {"cert": "$PKI/pgjwt.crt", "key": "$PKI/pgjwt.key"},
     "credential": {"user": "app", "password_file": "$T/app.pass"}}
  ]
}
EOF
start_sluiced "$T/config.json"

# q [UID] SQL...: psql to pg in the cgroup as uid (default 0); output in $OUT, exit in $RC
q() {
	local uid=0
	[[ ${1:-} =~ ^[0-9]+$ ]] && { uid=$1; shift; }
	RC=0
	OUT=$(in_cgroup setpriv --reuid="$uid" --regid="$uid" --clear-groups \
		env -u PGPASSWORD psql -X -At -v ON_ERROR_STOP=1 \
		"host=$A1 port=$P1 user=agent dbname=postgres sslmode=disable connect_timeout=10" "$@" 2>&1) || RC=$?
}
# last_session TARGET: the newest session of TARGET, once ended
last_session() {
	local sid
	sid=$(conn_list | "$PY" -c 'import json,sys; c=[x for x in json.load(sys.stdin)["connections"] if x["target"]==sys.argv[1]]; c.sort(key=lambda x: x["id"]); print(c[-1]["session"] if c else "")' "$1")
	[[ -n $sid ]] || fail "no session for $1"
	wait_session_end 10 "$sid" >/dev/null
	echo "$sid"
}
# stmts SID: the statement events, one "class|command|rows|sqlstate|decision|rule|sql" a line
stmts() {
	store_cli -j session show "$1" | "$PY" -c '
import json, sys
for e in json.load(sys.stdin)["events"]:
    if e.get("type") == "statement":
        print("|".join(str(e.get(k, "")) for k in ("class", "command", "rows", "sqlstate", "decision", "rule", "sql")))'
}
expect_line() {	# expect_line TEXT LINE WHAT
	grep -qxF -- "$2" <<<"$1" || fail "$3: expected line \"$2\" in:
$1"
}

# --- 1. statements through pg, each an event ------------------------------------
q <<'SQL'
CREATE TABLE items (id int PRIMARY KEY, name text, email text);
INSERT INTO items VALUES (1, 'a', 'ann@example.com'), (2, 'b', 'bob@example.com'), (3, 'c', 'cy@example.com');
BEGIN;
UPDATE items SET name = 'bb' WHERE id = 2;
COMMIT;
COPY items FROM STDIN;
4	d	dee@example.com
5	e	eve@example.com
\.
COPY items TO STDOUT;
SELECT count(*) FROM items; SELECT 40 + 2; DELETE FROM items WHERE id = 5;
SQL
expect_eq "$RC" 0 "psql session 1 exit" "$OUT"
grep -q $'^4\td\tdee@example.com$' <<<"$OUT" || fail "COPY TO STDOUT lacks row 4: $OUT"
expect_line "$OUT" 5 "count after COPY in (multi-statement string)"
expect_line "$OUT" 42 "second statement of the string"
SID1=$(last_session pg)
S=$(stmts "$SID1")
log "session 1 statements:
$S"
expect_line "$S" "ddl|CREATE TABLE|||allow|root-on-pg|CREATE TABLE items (id int PRIMARY KEY, name text, email text)" "CREATE event"
grep -q '^write|INSERT|3||allow|' <<<"$S" || fail "INSERT of 3 rows not recorded: $S"
grep -q '^tx|BEGIN|' <<<"$S" || fail "BEGIN not recorded: $S"
grep -q '^write|UPDATE|1||allow|' <<<"$S" || fail "UPDATE 1 not recorded: $S"
grep -q '^tx|COMMIT|' <<<"$S" || fail "COMMIT not recorded: $S"
grep -q '^write|COPY|2||allow|.*COPY items FROM STDIN' <<<"$S" || fail "COPY in of 2 rows not recorded: $S"
grep -q '^read|COPY|5||allow|.*COPY items TO STDOUT' <<<"$S" || fail "COPY out of 5 rows not recorded: $S"
expect_line "$S" "read|SELECT|1||allow|root-on-pg|SELECT count(*) FROM items" "SELECT count event"
expect_line "$S" "read|SELECT|1||allow|root-on-pg|SELECT 40 + 2" "SELECT 40 + 2 event"
expect_line "$S" "write|DELETE|1||allow|root-on-pg|DELETE FROM items WHERE id = 5" "DELETE event"
show=$(sluice_cli session show "$SID1") || fail "session show: $show"
grep -q 'COPY items TO STDOUT' <<<"$show" || fail "session show does not list the statements: $show"
grep -q 'INSERT' <<<"$show" || fail "session show lacks INSERT: $show"

# --- 3. refusals in a live session ---------------------------------------------------
q -v ON_ERROR_STOP=0 <<'SQL'
SELECT count(*) FROM items;
DROP TABLE protected;
SELECT 'still here';
DELETE FROM items;
SELECT count(*) FROM items;
BEGIN;
SELECT 1;
DROP TABLE protected;
SELECT 2;
ROLLBACK;
SELECT 'after rollback';
SQL
log "refusals: $OUT"
grep -q 'permission denied by sluice rule protected-stays' <<<"$OUT" || fail "DROP TABLE not refused by rule: $OUT"
grep -q 'permission denied by sluice rule no-unbounded-delete' <<<"$OUT" || fail "DELETE not refused: $OUT"
expect_line "$OUT" "still here" "SELECT after the refusal"
[[ $(grep -cx 4 <<<"$OUT") == 2 ]] || fail "rows changed by a refused DELETE: $OUT"
grep -q 'current transaction is aborted' <<<"$OUT" || fail "refusal in a transaction did not abort it: $OUT"
expect_line "$OUT" "after rollback" "session usable after ROLLBACK"
SID3=$(last_session pg)
S=$(stmts "$SID3")
grep -q '^ddl||||deny|protected-stays|DROP TABLE protected$' <<<"$S" ||
	grep -q '^ddl|||42501|deny|protected-stays|DROP TABLE protected$' <<<"$S" || fail "DROP event: $S"
grep -q '^write|||42501|deny|no-unbounded-delete|DELETE FROM items$' <<<"$S" || fail "DELETE event: $S"

# review: refused with an approval id, granted, then it runs
q -c 'GRANT SELECT ON items TO reader'
[[ $RC != 0 ]] || fail "GRANT ran before review: $OUT"
id=$(sed -n 's/.*approval \([0-9a-f]\{16\}\) pending.*/\1/p' <<<"$OUT" | head -n 1)
[[ -n $id ]] || fail "no approval id in: $OUT"
sluice_cli approval grant "$id" --for 10m >/dev/null || fail "approval grant"
q -c 'GRANT SELECT ON items TO reader'
expect_eq "$RC" 0 "GRANT after approval" "$OUT"
S=$(stmts "$(last_session pg)")
grep -q '^dcl|GRANT|||allow|grants-need-review|GRANT SELECT ON items TO reader$' <<<"$S" || fail "GRANT event: $S"

# --- 4. masking by identity -----------------------------------------------------------
q 65534 -c 'SELECT id, email FROM items ORDER BY id'
expect_eq "$RC" 0 "SELECT as nobody" "$OUT"
expect_line "$OUT" "1|****" "email masked for uid 65534"
grep -q example.com <<<"$OUT" && fail "an email reached uid 65534: $OUT"
q -c 'SELECT id, email FROM items ORDER BY id'
expect_line "$OUT" "1|ann@example.com" "email clear for root"

# --- 2. a JWT as the only credential ------------------------------------------------
jq_() {	# jq_ TOKEN SSLMODE SQL
	RC=0
	OUT=$(PGPASSWORD=$1 in_cgroup psql -X -At -v ON_ERROR_STOP=1 \
		"host=$A2 port=$P2 user=alice dbname=postgres sslmode=$2 sslrootcert=$PKI/ca.crt connect_timeout=10" \
		-c "$3" 2>&1) || RC=$?
}
jq_ "$TOKEN" verify-full "SELECT current_user, 7"
expect_eq "$RC" 0 "psql with a JWT over verify-full" "$OUT"
expect_eq "$OUT" "app|7" "the session runs as the held role"
SIDJ=$(last_session pgjwt)
showj=$(store_cli -j session show "$SIDJ")
grep -q '"alice"' <<<"$showj" || fail "the JWT's user is not in the session: $showj"
jq_ "$BAD_TOKEN" verify-full "SELECT 1"
[[ $RC != 0 ]] || fail "a token signed by another key was accepted"
grep -q '28P01\|token refused' <<<"$OUT" || fail "bad token: $OUT"
jq_ "$TOKEN" disable "SELECT 1"
[[ $RC != 0 ]] || fail "a JWT in clear was accepted"
grep -q 'only over TLS' <<<"$OUT" || fail "cleartext: $OUT"
for s in "$SID1" "$SID3" "$SIDJ"; do
	store_cli -j session show "$s" >"$T/show.json"
	store_cli session replay "$s" --raw >"$T/raw.bin" 2>/dev/null || true
	if grep -qF -- "$PASS" "$T/show.json" "$T/raw.bin"; then fail "the held password is in session $s"; fi
done
if grep -qF -- "$TOKEN" "$T/raw.bin" "$T/show.json"; then fail "the JWT is in the recording"; fi
grep -qF -- "$PASS" <<<"$OUT" && fail "psql printed the held password"

alive "$SLUICED_PID" || fail "sluiced died"
log "PASS"
