#!/usr/bin/env bash
# Issue 5 (groundwork): the PostgreSQL wire module's upstream
# authentication against a real PostgreSQL started here, without sluiced.
# A small client built from userspace/proto/pgwire.c only
# (66_pg_scram_client.c) logs in over TCP on 127.0.10.66 as
#   - a role with a SCRAM-SHA-256 verifier, pg_hba scram-sha-256;
#   - a role with an md5 hash, pg_hba md5;
#   - a role under pg_hba password (cleartext);
# each with the right password (the query runs, its rows, CommandComplete
# tag and transaction state come back) and a wrong one (the server refuses
# with 28P01: the client's proof or hash really is checked). The server
# signature check itself (a lying server) is covered by the unit test,
# since no real server lies.
# Then DataRow masking on the rows this server really sends: text format
# (simple query) by column name and by pattern, and binary format
# (extended query, every column binary) where text, varchar and bytea are
# masked, int4/int8 pass, and a numeric under a pattern or an int masked by
# name withholds the row; a text-format bytea holding an email is withheld.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
need_cmd cc
ADDR=127.0.10.66
PORT=5466

start_postgres "$ADDR" "$PORT"
PGDIR=${PG_SOCKDIR%/sock}
BIN=$(pg_bindir)
psql_admin() {
	runuser -u postgres -- "$BIN/psql" -X -q -h "$PG_SOCKDIR" -p "$PORT" -U postgres \
		-d postgres -v ON_ERROR_STOP=1 "$@"
}

psql_admin <<'EOF' || fail "could not create the roles"
SET password_encryption = 'scram-sha-256';
CREATE ROLE s_user LOGIN PASSWORD 'S3cret, pass=word!';
SET password_encryption = 'md5';
CREATE ROLE m_user LOGIN PASSWORD 'md5-pass';
CREATE ROLE p_user LOGIN PASSWORD 'plain pw';
CREATE TABLE t (id int, email text);
GRANT ALL ON t TO s_user, m_user, p_user;
EOF
[[ $(psql_admin -At -c "SELECT rolpassword LIKE 'SCRAM-SHA-256\$%' FROM pg_authid WHERE rolname = 's_user'") == t ]] ||
	fail "s_user has no SCRAM verifier"
[[ $(psql_admin -At -c "SELECT rolpassword LIKE 'md5%' FROM pg_authid WHERE rolname = 'm_user'") == t ]] ||
	fail "m_user has no md5 hash"

cat >"$PGDIR/data/pg_hba.conf" <<EOF
local all all trust
host all s_user 127.0.0.0/8 scram-sha-256
host all m_user 127.0.0.0/8 md5
host all p_user 127.0.0.0/8 password
EOF
runuser -u postgres -- "$BIN/pg_ctl" -D "$PGDIR/data" reload >/dev/null || fail "reload failed"
sleep 0.5

CLIENT=$T/66_pg_scram_client
cc -g -O1 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined -I"$REPO_ROOT/userspace" -I"$REPO_ROOT/userspace/lib" \
	"$LIB_DIR/66_pg_scram_client.c" "$REPO_ROOT/userspace/proto/pgwire.c" \
	"$REPO_ROOT/userspace/mask.c" "$REPO_ROOT/userspace/lib/text.c" \
	-lssl -lcrypto -ljansson -o "$CLIENT" || fail "the client does not build"

# login USER PASSWORD SQL: the client's output; its exit code in $RC
login() {
	RC=0
	OUT=$("$CLIENT" "$ADDR" "$PORT" "$1" "$2" postgres "$3" 2>&1) || RC=$?
	log "$1: exit $RC: $(tr '\n' ';' <<<"$OUT")"
}

expect_line() {	# expect_line LINE: present in $OUT
	grep -qxF -- "$1" <<<"$OUT" || fail "expected \"$1\" in: $OUT"
}

# --- the right passwords ---------------------------------------------------------
login s_user 'S3cret, pass=word!' "INSERT INTO t SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 3) g"
expect_eq "$RC" 0 "scram login exit"
expect_line "auth scram-sha-256"
expect_line "tag INSERT rows 3"
expect_line "txn idle"

login s_user 'S3cret, pass=word!' "SELECT current_user, count(*) FROM t"
expect_eq "$RC" 0 "scram select exit"
expect_line "row s_user|3"
expect_line "tag SELECT rows 1"

login m_user md5-pass "SELECT current_user, 6 * 7"
expect_eq "$RC" 0 "md5 login exit"
expect_line "auth md5"
expect_line "row m_user|42"

login p_user 'plain pw' "BEGIN; DELETE FROM t WHERE id = 1"
expect_eq "$RC" 0 "password login exit"
expect_line "auth password"
expect_line "tag DELETE rows 1"
expect_line "txn transaction"

login s_user 'S3cret, pass=word!' "SELECT * FROM no_such_table"
expect_eq "$RC" 3 "an SQL error"
expect_line "error 42P01 relation \"no_such_table\" does not exist"

# --- masking real rows -------------------------------------------------------------
PGW_MASK=sql_column:email,pattern:credit-card \
	login s_user 'S3cret, pass=word!' "SELECT id, email, 'card 4111 1111 1111 1111 ok' AS note FROM t WHERE id = 2"
expect_eq "$RC" 0 "text masking"
expect_line "row 2|****|card **** ok"

PGW_MASK=pattern:email login s_user 'S3cret, pass=word!' "SELECT 'mail ' || email AS m FROM t WHERE id = 2"
expect_line "row mail ****"

PGW_BINARY=1 login s_user 'S3cret, pass=word!' "SELECT id, email, 7::int8 AS big FROM t WHERE id = 2"
expect_eq "$RC" 0 "binary, unmasked"
expect_line "row 00000002|$(printf u2@example.com | od -An -tx1 | tr -d ' \n')|0000000000000007"

PGW_BINARY=1 PGW_MASK=sql_column:email \
	login s_user 'S3cret, pass=word!' "SELECT id, email, 'n'::varchar AS note, 7::int8 AS big, '\\x00ff'::bytea AS blob FROM t WHERE id = 2"
expect_eq "$RC" 0 "binary masking by name"
expect_line "row 00000002|2a2a2a2a|6e|0000000000000007|00ff"

PGW_BINARY=1 PGW_MASK=pattern:email \
	login s_user 'S3cret, pass=word!' "SELECT id, 'to ' || email AS m FROM t WHERE id = 2"
expect_line "row 00000002|746f202a2a2a2a"

PGW_BINARY=1 PGW_MASK=pattern:email \
	login s_user 'S3cret, pass=word!' "SELECT convert_to('to ' || email, 'UTF8') AS b FROM t WHERE id = 2"
expect_line "row 746f202a2a2a2a"
# a text-format bytea is hex: decoded to look, withheld when it matches
PGW_MASK=pattern:email login s_user 'S3cret, pass=word!' "SELECT convert_to(email, 'UTF8') AS b FROM t WHERE id = 2"
expect_line "withheld"
PGW_MASK=pattern:email login s_user 'S3cret, pass=word!' "SELECT '\\x00ff'::bytea AS b"
expect_line 'row \x00ff'
PGW_BINARY=1 PGW_MASK=pattern:email \
	login s_user 'S3cret, pass=word!' "SELECT id, 1.5::numeric AS price FROM t WHERE id = 2"
expect_line "withheld"
PGW_BINARY=1 PGW_MASK=sql_column:id login s_user 'S3cret, pass=word!' "SELECT id FROM t WHERE id = 2"
expect_line "withheld"

# --- the wrong ones ---------------------------------------------------------------
for u in s_user m_user p_user; do
	login "$u" wrong-password "SELECT 1"
	expect_eq "$RC" 3 "$u with a wrong password"
	grep -q '^error 28P01 ' <<<"$OUT" || fail "$u: expected 28P01, got: $OUT"
done

log "ok"
