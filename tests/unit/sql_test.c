// SPDX-License-Identifier: BSD-2-Clause
/*
 * userspace/sql.c: a corpus of statements, each case a message with the
 * class, verb, tables and flags of every statement in it (or the error it
 * must get), parsed from an exact-size heap copy so that ASan sees any read
 * past the text; then every prefix of every case (no crash, invariants
 * hold); then the limits, the cursor, and linear time on hostile input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "sql.h"

#define NW SQL_F_NO_WHERE
#define LK SQL_F_LOCKS
#define FN SQL_F_FUNC
#define UN SQL_F_NAME_UNSURE

#define PGNS SQL_MODE_PG_NONSTANDARD_STRINGS
#define MYNB SQL_MODE_MY_NO_BACKSLASH_ESCAPES
#define MY8 SQL_MODE_MY_VERSION(80035)
#define MARIA (SQL_MODE_MY_MARIADB | SQL_MODE_MY_VERSION(101119))

struct want {
	const char *cls;	/* NULL ends the list */
	const char *verb;
	const char *tables;	/* space-separated, in order */
	unsigned flags;
	const char *text;	/* NULL: not checked */
};

struct tcase {
	enum sql_dialect d;
	unsigned mode;
	const char *text;
	size_t len;
	int rc;
	const char *err;	/* rc != 0: part of the message */
	struct want w[8];
};

#define W(c, v, t, f) { c, v, t, f, NULL }
#define WT(c, v, t, f, x) { c, v, t, f, x }
#define PG(s, ...) { SQL_POSTGRES, 0, s, sizeof(s) - 1, 0, NULL, { __VA_ARGS__ } }
#define MY(s, ...) { SQL_MYSQL, 0, s, sizeof(s) - 1, 0, NULL, { __VA_ARGS__ } }
#define PGM(m, s, ...) { SQL_POSTGRES, m, s, sizeof(s) - 1, 0, NULL, { __VA_ARGS__ } }
#define MYM(m, s, ...) { SQL_MYSQL, m, s, sizeof(s) - 1, 0, NULL, { __VA_ARGS__ } }
#define PG_ERR(s, rc, e) { SQL_POSTGRES, 0, s, sizeof(s) - 1, rc, e, { { NULL } } }
#define MY_ERR(s, rc, e) { SQL_MYSQL, 0, s, sizeof(s) - 1, rc, e, { { NULL } } }
#define PG_NONE(s) { SQL_POSTGRES, 0, s, sizeof(s) - 1, 0, NULL, { { NULL } } }

static struct tcase cases[] = {
	/* ---- reads */
	PG("SELECT 1", WT("read", "SELECT", "", 0, "SELECT 1")),
	PG("select * from Users", W("read", "SELECT", "users", 0)),
	PG("sElEcT * FrOm T", W("read", "SELECT", "t", 0)),
	PG("SELECT * FROM public.users u JOIN orders o ON o.uid = u.id",
	   W("read", "SELECT", "public.users orders", 0)),
	PG("SELECT * FROM \"Users\"", W("read", "SELECT", "Users", 0)),
	PG("SELECT * FROM \"My\"\"Table\"", W("read", "SELECT", "My\"Table", 0)),
	PG("SELECT * FROM \"Public\" . \"Users\"", W("read", "SELECT", "Public.Users", 0)),
	PG("VALUES (1), (2)", W("read", "VALUES", "", 0)),
	PG("TABLE accounts", W("read", "TABLE", "accounts", 0)),
	PG("SHOW search_path", W("read", "SHOW", "", 0)),
	PG("(SELECT 1 FROM a) UNION (SELECT 2 FROM b)", W("read", "SELECT", "a b", 0)),
	PG("((SELECT 1))", W("read", "SELECT", "", 0)),
	PG("SELECT * FROM a, b AS bb, c cc WHERE a.x = 1", W("read", "SELECT", "a b c", 0)),
	PG("SELECT EXTRACT(YEAR FROM ts), substring(s FROM 2 FOR 3) FROM events",
	   W("read", "SELECT", "events", 0)),
	PG("SELECT * FROM generate_series(1, 3) g, t", W("read", "SELECT", "t", 0)),
	PG("SELECT a IS DISTINCT FROM b FROM t", W("read", "SELECT", "t", 0)),
	PG("SELECT * FROM (a JOIN b ON a.id = b.id) JOIN c USING (id)",
	   W("read", "SELECT", "a b c", 0)),
	PG("SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE EXISTS (SELECT 1 FROM v))",
	   W("read", "SELECT", "t u v", 0)),
	PG("SELECT (SELECT max(x) FROM a), b FROM c", W("read", "SELECT", "a c", 0)),
	PG("SELECT * FROM a LEFT JOIN LATERAL (SELECT * FROM b WHERE b.x = a.x) s ON true",
	   W("read", "SELECT", "a b", 0)),
	PG("SELECT * FROM t1, LATERAL f(t1.x)", W("read", "SELECT", "t1", 0)),
	PG("SELECT * FROM ONLY parent", W("read", "SELECT", "parent", 0)),
	PG("SELECT * FROM ROWS FROM (f(1), g(2)) AS x", W("read", "SELECT", "", 0)),
	PG("SELECT lower(name) FROM users", W("read", "SELECT", "users", 0)),
	PG("SELECT * FROM t FOR UPDATE", W("read", "SELECT", "t", LK)),
	PG("SELECT * FROM t FOR NO KEY UPDATE OF t SKIP LOCKED", W("read", "SELECT", "t", LK)),
	MY("SELECT * FROM t LOCK IN SHARE MODE", W("read", "SELECT", "t", LK)),
	PG("SELECT * INTO backup FROM t", W("ddl", "SELECT", "backup t", 0)),
	PG("SELECT * INTO TEMP tmp FROM t", W("ddl", "SELECT", "tmp t", 0)),
	MY("SELECT * FROM t INTO OUTFILE '/tmp/x'", W("admin", "SELECT", "t", 0)),
	MY("SELECT a INTO @v FROM t", W("read", "SELECT", "t", 0)),
	MY("SELECT * FROM `Sales`.`Q1`", W("read", "SELECT", "sales.q1", 0)),
	MY("SELECT * FROM Sales.Q1", W("read", "SELECT", "sales.q1", 0)),
	MY("SELECT 1 FROM dual", W("read", "SELECT", "", 0)),
	MY("SELECT * FROM \"t\"", W("read", "SELECT", "t", 0)),
	MY("SELECT * FROM { OJ a LEFT OUTER JOIN b ON a.id = b.id }",
	   W("read", "SELECT", "a b", 0)),
	MY("SHOW CREATE TABLE t", W("read", "SHOW", "t", 0)),
	MY("SHOW COLUMNS FROM t", W("read", "SHOW", "t", 0)),
	MY("HANDLER t OPEN", W("read", "HANDLER", "t", 0)),
	PG("DECLARE c CURSOR WITH HOLD FOR SELECT * FROM t", W("read", "DECLARE", "t", 0)),
	PG("DECLARE c CURSOR FOR SELECT * FROM t FOR UPDATE", W("read", "DECLARE", "t", LK)),
	PG("FETCH 10 FROM c; MOVE NEXT FROM c; CLOSE c", W("read", "FETCH", "", 0),
	   W("read", "MOVE", "", 0), W("read", "CLOSE", "", 0)),
	PG("LISTEN chan; UNLISTEN *", W("read", "LISTEN", "", 0), W("read", "UNLISTEN", "", 0)),

	/* ---- functions: known side effects change the class */
	PG("SELECT pg_terminate_backend(123)", W("admin", "SELECT", "", FN)),
	PG("SELECT pg_catalog.pg_read_file('/etc/passwd')", W("admin", "SELECT", "", FN)),
	PG("SELECT * FROM pg_ls_dir('.')", W("admin", "SELECT", "", FN)),
	PG("SELECT set_config('role', 'x', false)", W("admin", "SELECT", "", FN)),
	PG("SELECT dblink_exec('host=x', 'DROP TABLE t')", W("admin", "SELECT", "", FN)),
	PG("SELECT lo_import('/etc/passwd')", W("admin", "SELECT", "", FN)),
	PG("SELECT nextval('s')", W("write", "SELECT", "", FN)),
	PG("SELECT \"PG_READ_FILE\"('x')", W("read", "SELECT", "", 0)),
	PG("SELECT U&\"pg_read\\005ffile\"('/etc/passwd')", W("admin", "SELECT", "", FN)),
	PG("SELECT \"pg_catalog\".\"pg_read_file\"('k')", W("admin", "SELECT", "", FN)),
	PG("SELECT pg_sleep(1)", W("read", "SELECT", "", 0)),
	PG("UPDATE t SET a = nextval('s') WHERE id = 1", W("write", "UPDATE", "t", FN)),
	PG("CREATE TABLE t AS SELECT pg_read_file('x')", W("admin", "CREATE", "t", FN)),
	MY("SELECT LOAD_FILE('/etc/passwd')", W("admin", "SELECT", "", FN)),

	/* ---- writes */
	PG("INSERT INTO t (a, b) VALUES (1, 2)", W("write", "INSERT", "t", 0)),
	PG("INSERT INTO s.t SELECT * FROM u", W("write", "INSERT", "s.t u", 0)),
	PG("INSERT INTO temp VALUES (1)", W("write", "INSERT", "temp", 0)),
	PG("INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 2",
	   W("write", "INSERT", "t", 0)),
	PG("UPDATE t SET a = 1", W("write", "UPDATE", "t", NW)),
	PG("UPDATE t SET a = (SELECT b FROM u WHERE u.id = 1)", W("write", "UPDATE", "t u", NW)),
	PG("UPDATE t SET a = 1 FROM u WHERE t.id = u.id", W("write", "UPDATE", "t u", 0)),
	PG("DELETE FROM t", W("write", "DELETE", "t", NW)),
	PG("DELETE FROM t WHERE id = 1", W("write", "DELETE", "t", 0)),
	PG("DELETE FROM t USING u, v WHERE t.id = u.id", W("write", "DELETE", "t u v", 0)),
	PG("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET x = 1",
	   W("write", "MERGE", "t s", 0)),
	MY("REPLACE INTO t VALUES (1)", W("write", "REPLACE", "t", 0)),
	MY("INSERT t VALUES (1)", W("write", "INSERT", "t", 0)),
	MY("INSERT IGNORE INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = 1",
	   W("write", "INSERT", "t", 0)),
	MY("DELETE t1, t2 FROM t1 JOIN t2 ON t1.id = t2.id WHERE t1.x = 1",
	   W("write", "DELETE", "t1 t2", 0)),
	MY("UPDATE a JOIN b ON a.id = b.id SET a.x = b.x", W("write", "UPDATE", "a b", NW)),
	MY("DELETE FROM t ORDER BY id LIMIT 10", W("write", "DELETE", "t", NW)),
	PG("TRUNCATE TABLE a, b", W("write", "TRUNCATE", "a b", NW)),
	PG("TRUNCATE ONLY c", W("write", "TRUNCATE", "c", NW)),
	PG("CALL do_stuff(1)", W("write", "CALL", "", 0)),
	PG("DO $$BEGIN DELETE FROM t; END$$", W("write", "DO", "", 0)),
	PG("DO LANGUAGE plpgsql $body$ BEGIN PERFORM 1; END $body$", W("write", "DO", "", 0)),
	PG("EXECUTE plan1(1, 2)", W("write", "EXECUTE", "", 0)),
	PG("NOTIFY chan, 'x'", W("write", "NOTIFY", "", 0)),
	PG("LOCK TABLE t IN ACCESS EXCLUSIVE MODE", W("write", "LOCK", "t", 0)),
	PG("REFRESH MATERIALIZED VIEW CONCURRENTLY mv", W("write", "REFRESH", "mv", 0)),
	PG("UPSERT INTO t VALUES (1)", W("write", "UPSERT", "t", 0)),
	PG("frobnicate the database", W("write", "FROBNICATE", "", 0)),
	PG("'just a string'", W("write", "", "", 0)),
	PG("SEL/**/ECT 1", W("write", "SEL", "", 0)),

	/* ---- WITH */
	PG("WITH x AS (SELECT * FROM t) SELECT * FROM x", W("read", "WITH", "t", 0)),
	PG("WITH d AS (DELETE FROM t WHERE a = 1 RETURNING *) SELECT * FROM d",
	   W("write", "WITH", "t", 0)),
	PG("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", W("write", "WITH", "t", NW)),
	PG("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) "
	   "SELECT * FROM r",
	   W("read", "WITH", "", 0)),
	PG("WITH a AS (SELECT 1), b AS MATERIALIZED (SELECT * FROM a) INSERT INTO t SELECT * FROM "
	   "b",
	   W("write", "WITH", "t", 0)),
	PG("WITH u AS (UPDATE t SET a = 1 RETURNING id) DELETE FROM v WHERE id IN (SELECT id FROM "
	   "u)",
	   W("write", "WITH", "t v", NW)),
	PG("WITH x AS (SELECT 1), y AS NOT MATERIALIZED (INSERT INTO log VALUES (1) RETURNING *) "
	   "SELECT 1",
	   W("write", "WITH", "log", 0)),
	PG("WITH RECURSIVE t AS (SELECT 1 AS id UNION ALL SELECT id + 1 FROM t WHERE id < 3) "
	   "SEARCH DEPTH FIRST BY id SET ord SELECT * FROM t ORDER BY ord",
	   W("read", "WITH", "", 0)),
	PG("WITH a AS (SELECT * FROM b) SELECT * FROM a, secret", W("read", "WITH", "b secret", 0)),
	PG("WITH secret AS (SELECT * FROM secret) SELECT * FROM secret",
	   W("read", "WITH", "secret", 0)),
	PG("WITH x AS (SELECT 1) SELECT * FROM x, public.x", W("read", "WITH", "public.x", 0)),
	PG("SELECT * FROM x, (WITH x AS (SELECT 1) SELECT * FROM x) s",
	   W("read", "SELECT", "x", 0)),
	MY("WITH c AS (SELECT id FROM t) UPDATE u JOIN c ON u.id = c.id SET u.x = 1",
	   W("write", "WITH", "t u", NW)),

	/* ---- EXPLAIN: ANALYZE runs the statement */
	PG("EXPLAIN SELECT * FROM t", W("read", "EXPLAIN", "t", 0)),
	PG("EXPLAIN DELETE FROM t", W("read", "EXPLAIN", "t", 0)),
	PG("EXPLAIN ANALYZE DELETE FROM t", W("write", "EXPLAIN", "t", NW)),
	PG("EXPLAIN ANALYZE SELECT * FROM t", W("read", "EXPLAIN", "t", 0)),
	PG("EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1 WHERE b = 2",
	   W("write", "EXPLAIN", "t", 0)),
	PG("EXPLAIN (ANALYZE off) DELETE FROM t", W("read", "EXPLAIN", "t", 0)),
	PG("EXPLAIN (FORMAT JSON, ANALYZE) DROP TABLE t", W("ddl", "EXPLAIN", "t", 0)),
	PG("EXPLAIN ANALYSE VERBOSE INSERT INTO t VALUES (1)", W("write", "EXPLAIN", "t", 0)),
	PG("EXPLAIN ANALYZE WITH d AS (DELETE FROM t RETURNING 1) SELECT * FROM d",
	   W("write", "EXPLAIN", "t", NW)),
	MY("EXPLAIN ANALYZE SELECT * FROM t", W("read", "EXPLAIN", "t", 0)),
	MY("EXPLAIN FORMAT=JSON DELETE FROM t", W("read", "EXPLAIN", "t", 0)),
	MY("EXPLAIN ANALYZE FORMAT=TREE DELETE FROM t", W("write", "EXPLAIN", "t", NW)),
	MY("DESCRIBE users", W("read", "DESCRIBE", "users", 0)),
	MY("DESC t", W("read", "DESC", "t", 0)),
	MY("EXPLAIN FOR CONNECTION 4", W("read", "EXPLAIN", "", 0)),

	/* ---- PREPARE / EXECUTE / DEALLOCATE */
	PG("PREPARE q (int) AS DELETE FROM t WHERE id = $1", W("write", "PREPARE", "t", 0)),
	PG("PREPARE q AS SELECT * FROM t", W("read", "PREPARE", "t", 0)),
	PG("PREPARE q AS UPDATE t SET a = 1", W("write", "PREPARE", "t", NW)),
	PG("DEALLOCATE PREPARE p1; DEALLOCATE ALL", W("read", "DEALLOCATE", "", 0),
	   W("read", "DEALLOCATE", "", 0)),
	MY("PREPARE s FROM 'SELECT 1'", W("write", "PREPARE", "", 0)),

	/* ---- COPY and LOAD: the far end decides */
	PG("COPY t FROM STDIN", W("write", "COPY", "t", 0)),
	PG("COPY t (a, b) FROM STDIN WITH (FORMAT csv)", W("write", "COPY", "t", 0)),
	PG("COPY t TO STDOUT", W("read", "COPY", "t", 0)),
	PG("COPY (SELECT * FROM t) TO STDOUT", W("read", "COPY", "t", 0)),
	PG("COPY t TO PROGRAM 'gzip > /tmp/t.gz'", W("admin", "COPY", "t", 0)),
	PG("COPY t FROM PROGRAM 'curl evil'", W("admin", "COPY", "t", 0)),
	PG("COPY t FROM '/etc/passwd'", W("admin", "COPY", "t", 0)),
	PG("COPY t TO '/tmp/out'", W("admin", "COPY", "t", 0)),
	PG("COPY (DELETE FROM t RETURNING *) TO STDOUT", W("write", "COPY", "t", NW)),
	MY("COPY t FROM x", W("write", "COPY", "t", 0)),
	MY("LOAD DATA LOCAL INFILE '/tmp/x' INTO TABLE t", W("write", "LOAD", "t", 0)),
	MY("LOAD DATA INFILE '/var/lib/x' INTO TABLE t", W("admin", "LOAD", "t", 0)),
	PG("LOAD 'auto_explain'", W("admin", "LOAD", "", 0)),

	/* ---- DDL */
	PG("CREATE TABLE t (id int PRIMARY KEY, u int REFERENCES users (id))",
	   W("ddl", "CREATE", "t users", 0)),
	PG("CREATE TABLE IF NOT EXISTS s.t AS SELECT * FROM u", W("ddl", "CREATE", "s.t u", 0)),
	PG("CREATE TEMP TABLE tt (a int) ON COMMIT DROP", W("ddl", "CREATE", "tt", 0)),
	PG("CREATE INDEX CONCURRENTLY idx ON t (a)", W("ddl", "CREATE", "t", 0)),
	PG("CREATE VIEW v AS SELECT a FROM t JOIN u ON t.id = u.id",
	   W("ddl", "CREATE", "v t u", 0)),
	PG("CREATE FUNCTION f() RETURNS TABLE (a int) LANGUAGE sql AS $$ SELECT 1 $$",
	   W("ddl", "CREATE", "", 0)),
	PG("CREATE OR REPLACE TRIGGER trg BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f()",
	   W("ddl", "CREATE", "t", 0)),
	PG("ALTER TABLE t ADD COLUMN c int", W("ddl", "ALTER", "t", 0)),
	PG("ALTER TABLE t RENAME TO u", W("ddl", "ALTER", "t u", 0)),
	PG("DROP TABLE IF EXISTS a, b CASCADE", W("ddl", "DROP", "a b", 0)),
	PG("DROP INDEX idx", W("ddl", "DROP", "", 0)),
	PG("COMMENT ON TABLE t IS 'x'", W("ddl", "COMMENT", "t", 0)),
	MY("RENAME TABLE a TO b, c TO d", W("ddl", "RENAME", "a b c d", 0)),

	/* ---- DCL */
	PG("GRANT SELECT, UPDATE ON accounts TO bob", W("dcl", "GRANT", "accounts", 0)),
	PG("GRANT SELECT ON ALL TABLES IN SCHEMA public TO bob", W("dcl", "GRANT", "", 0)),
	PG("REVOKE ALL ON TABLE a, b FROM bob", W("dcl", "REVOKE", "a b", 0)),
	MY("GRANT ALL PRIVILEGES ON shop.* TO 'u'@'%'", W("dcl", "GRANT", "shop.*", 0)),
	PG("CREATE ROLE admin LOGIN", W("dcl", "CREATE", "", 0)),
	PG("ALTER ROLE bob SUPERUSER", W("dcl", "ALTER", "", 0)),
	MY("CREATE USER 'x'@'%' IDENTIFIED BY 'p'", W("dcl", "CREATE", "", 0)),
	PG("CREATE USER MAPPING FOR bob SERVER s", W("ddl", "CREATE", "", 0)),
	PG("CREATE POLICY p ON t USING (true)", W("dcl", "CREATE", "t", 0)),
	PG("DROP ROLE bob", W("dcl", "DROP", "", 0)),
	PG("SET ROLE admin", W("dcl", "SET", "", 0)),
	PG("SET SESSION AUTHORIZATION bob", W("dcl", "SET", "", 0)),
	PG("RESET ROLE", W("dcl", "RESET", "", 0)),
	PG("SET session_authorization = 'bob'; RESET session_authorization", W("dcl", "SET", "", 0),
	   W("dcl", "RESET", "", 0)),
	PG("ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO bob", W("dcl", "ALTER", "", 0)),
	PG("REASSIGN OWNED BY bob TO alice", W("dcl", "REASSIGN", "", 0)),
	MY("SET PASSWORD = 'x'", W("dcl", "SET", "", 0)),
	MY("RENAME USER a TO b", W("dcl", "RENAME", "", 0)),

	/* ---- transactions */
	PG("BEGIN; SAVEPOINT s1; ROLLBACK TO s1; RELEASE s1; COMMIT; END; ABORT",
	   W("tx", "BEGIN", "", 0), W("tx", "SAVEPOINT", "", 0), W("tx", "ROLLBACK", "", 0),
	   W("tx", "RELEASE", "", 0), W("tx", "COMMIT", "", 0), W("tx", "END", "", 0),
	   W("tx", "ABORT", "", 0)),
	PG("BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY", W("tx", "BEGIN", "", 0)),
	PG("START TRANSACTION READ WRITE", W("tx", "START", "", 0)),
	PG("ROLLBACK TO SAVEPOINT sp1", W("tx", "ROLLBACK", "", 0)),
	PG("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", W("tx", "SET", "", 0)),
	PG("PREPARE TRANSACTION 'gid1'; COMMIT PREPARED 'gid1'", W("tx", "PREPARE", "", 0),
	   W("tx", "COMMIT", "", 0)),
	MY("BEGIN NOT ATOMIC DELETE FROM t; END", W("write", "BEGIN", "t", 0),
	   W("tx", "END", "", 0)),
	MY("START TRANSACTION WITH CONSISTENT SNAPSHOT", W("tx", "START", "", 0)),
	MY("SET autocommit = 0", W("tx", "SET", "", 0)),
	MY("SET @@session.autocommit = 1", W("tx", "SET", "", 0)),
	MY("XA START 'x'; UNLOCK TABLES", W("tx", "XA", "", 0), W("tx", "UNLOCK", "", 0)),

	/* ---- admin */
	PG("VACUUM FULL ANALYZE t", W("admin", "VACUUM", "t", 0)),
	PG("VACUUM (VERBOSE, ANALYZE) a, b", W("admin", "VACUUM", "a b", 0)),
	PG("ANALYZE t", W("admin", "ANALYZE", "t", 0)),
	PG("CLUSTER t USING idx", W("admin", "CLUSTER", "t", 0)),
	PG("REINDEX TABLE t", W("admin", "REINDEX", "t", 0)),
	PG("CHECKPOINT", W("admin", "CHECKPOINT", "", 0)),
	PG("ALTER SYSTEM SET work_mem = '1GB'", W("admin", "ALTER", "", 0)),
	PG("SET search_path TO evil, public", W("admin", "SET", "", 0)),
	PG("SET LOCAL statement_timeout = 0", W("admin", "SET", "", 0)),
	PG("RESET ALL; DISCARD ALL", W("admin", "RESET", "", 0), W("admin", "DISCARD", "", 0)),
	MY("KILL 42", W("admin", "KILL", "", 0)),
	MY("SHUTDOWN", W("admin", "SHUTDOWN", "", 0)),
	MY("FLUSH TABLES t1, t2", W("admin", "FLUSH", "t1 t2", 0)),
	MY("OPTIMIZE TABLE a, b", W("admin", "OPTIMIZE", "a b", 0)),
	MY("USE db", W("admin", "USE", "", 0)),
	MY("SET GLOBAL max_connections = 10", W("admin", "SET", "", 0)),
	MY("SET @@global.autocommit = 0", W("admin", "SET", "", 0)),
	MY("START SLAVE", W("admin", "START", "", 0)),
	MY("SET NAMES utf8mb4", W("admin", "SET", "", 0)),

	/* ---- several statements, mixed classes */
	PG("BEGIN; INSERT INTO t VALUES (1); SELECT * FROM t; GRANT SELECT ON t TO x; VACUUM t; "
	   "COMMIT",
	   WT("tx", "BEGIN", "", 0, "BEGIN"),
	   WT("write", "INSERT", "t", 0, "INSERT INTO t VALUES (1)"),
	   WT("read", "SELECT", "t", 0, "SELECT * FROM t"), W("dcl", "GRANT", "t", 0),
	   W("admin", "VACUUM", "t", 0), WT("tx", "COMMIT", "", 0, "COMMIT")),
	PG("BEGIN; DELETE FROM t; ROLLBACK", W("tx", "BEGIN", "", 0), W("write", "DELETE", "t", NW),
	   W("tx", "ROLLBACK", "", 0)),
	PG("SET standard_conforming_strings = off; SELECT 1", W("admin", "SET", "", 0),
	   W("read", "SELECT", "", 0)),
	MY("SELECT 1; SET NAMES utf8mb4", W("read", "SELECT", "", 0), W("admin", "SET", "", 0)),

	/* ---- lexing: strings, identifiers, dollar quotes hide ';' */
	PG("SELECT 'a;b' AS x; SELECT 2", WT("read", "SELECT", "", 0, "SELECT 'a;b' AS x"),
	   WT("read", "SELECT", "", 0, "SELECT 2")),
	PG("SELECT 'it''s; -- not a comment'", W("read", "SELECT", "", 0)),
	PG("SELECT E'\\';DROP TABLE t;--'", W("read", "SELECT", "", 0)),
	PG("SELECT '\\'; DROP TABLE t; --'", W("read", "SELECT", "", 0),
	   WT("ddl", "DROP", "t", 0, "DROP TABLE t")),
	PGM(PGNS, "SELECT '\\'; DROP TABLE t; --'", W("read", "SELECT", "", 0)),
	PGM(PGNS, "SELECT B'\\'; DROP TABLE t; --'", W("read", "SELECT", "", 0),
	    W("ddl", "DROP", "t", 0)),
	PG("SELECT 1e'\\''; DROP TABLE t; --'", W("read", "SELECT", "", 0),
	   W("ddl", "DROP", "t", 0)),
	PG("SELECT E'x'\n'\\''; DROP TABLE t; --'", W("read", "SELECT", "", 0),
	   W("ddl", "DROP", "t", 0)),
	PG("SELECT E'x' -- c\n  -- d\n '\\''; DROP TABLE t; --'", W("read", "SELECT", "", 0),
	   W("ddl", "DROP", "t", 0)),
	PG("SELECT 'x'\n'\\''; DROP TABLE t; --'", W("read", "SELECT", "", 0)),
	PG("SELECT E'x' /* no */ '\\''; DROP TABLE t; --'", W("read", "SELECT", "", 0)),
	PG("SELECT $$a;b$$, $tag$ $$ ; $ $tag$; SELECT 2", W("read", "SELECT", "", 0),
	   W("read", "SELECT", "", 0)),
	PG("SELECT $a$ $A$ ; $a$", W("read", "SELECT", "", 0)),
	PG("SELECT $1, a$b FROM t$x WHERE c = $2; SELECT 3", W("read", "SELECT", "t$x", 0),
	   W("read", "SELECT", "", 0)),
	PG("SELECT a$$ FROM t; SELECT $$;$$", W("read", "SELECT", "t", 0),
	   W("read", "SELECT", "", 0)),
	PG("SELECT $1$$; DROP TABLE t; $$", W("read", "SELECT", "", 0)),
	PG("SELECT \"a;b\" FROM \"we;ird\"", W("read", "SELECT", "we;ird", 0)),
	PG("SELECT * FROM \"a.b\"", W("read", "SELECT", "a.b", 0)),
	PG("SELECT * FROM a.b.c.d", W("read", "SELECT", "a.b.c.d", UN)),
	PG("SELECT U&'\\0041'", W("read", "SELECT", "", 0)),
	PG("SELECT * FROM U&\"t\\0061\"", W("read", "SELECT", "t\\0061", UN)),
	PG("SELECT * FROM caf\xc3\xa9 JOIN \"\xc3\x9cn\xc3\xaf"
	   "code\" ON true",
	   W("read", "SELECT",
	     "caf\xc3\xa9 \xc3\x9cn\xc3\xaf"
	     "code",
	     0)),
	PG("SELECT * FROM \xc3\x89T\xc3\x89", W("read", "SELECT", "\xc3\x89t\xc3\x89", 0)),

	/* ---- comments */
	PG("SELECT 1 /* a /* nested ; */ still ; comment */ ; SELECT 2",
	   WT("read", "SELECT", "", 0, "SELECT 1"), W("read", "SELECT", "", 0)),
	MY("SELECT 1 /* a /* not nested */ ; SELECT 2", W("read", "SELECT", "", 0),
	   W("read", "SELECT", "", 0)),
	PG("SELECT 1 # 2; DELETE FROM t", W("read", "SELECT", "", 0),
	   W("write", "DELETE", "t", NW)),
	MY("SELECT 1 # 2; DELETE FROM t", W("read", "SELECT", "", 0)),
	MY("SELECT 1--1; DELETE FROM t", WT("read", "SELECT", "", 0, "SELECT 1--1"),
	   W("write", "DELETE", "t", NW)),
	MY("SELECT 1 -- c ; DELETE FROM t\nSELECT 2", W("read", "SELECT", "", 0)),
	PG("SELECT 1 -- comment\r; DROP TABLE t", W("read", "SELECT", "", 0),
	   W("ddl", "DROP", "t", 0)),
	MY("SELECT 1 -- comment\r; DROP TABLE t", W("read", "SELECT", "", 0)),
	MY("#\rSELECT 1\nDELETE FROM t", WT("write", "DELETE", "t", NW, "DELETE FROM t")),
	MY("-- \rSELECT 1\nDELETE FROM t", WT("write", "DELETE", "t", NW, "DELETE FROM t")),
	PG("/* leading */ -- line\n  SELECT 1 /* trailing */ -- end",
	   WT("read", "SELECT", "", 0, "SELECT 1")),
	PG("SELECT 1   \n\t ", WT("read", "SELECT", "", 0, "SELECT 1")),
	PG("SELECT 1;;SELECT 2;", W("read", "SELECT", "", 0), W("read", "SELECT", "", 0)),
	PG_NONE(";;; ;"),
	PG_NONE(""),
	PG_NONE("  -- only a comment"),
	PG_NONE("/* only */ /* comments */ ;"),

	/* ---- MySQL: server settings and version comments */
	MY("SELECT 'a\\'; DELETE FROM t; -- '", W("read", "SELECT", "", 0)),
	MYM(MYNB, "SELECT 'a\\'; DELETE FROM t; -- '", W("read", "SELECT", "", 0),
	    W("write", "DELETE", "t", NW)),
	MYM(MYNB, "SELECT \"a\\\"; DELETE FROM t; -- \"", W("read", "SELECT", "", 0),
	    W("write", "DELETE", "t", NW)),
	MY("SELECT \"a\"\"b\" FROM t", W("read", "SELECT", "t", 0)),
	MYM(MY8, "/*!40101 SET NAMES utf8 */", WT("admin", "SET", "", 0, "SET NAMES utf8")),
	MYM(MY8, "SELECT 1 /*!50000 ; DROP TABLE t */", W("read", "SELECT", "", 0),
	    W("ddl", "DROP", "t", 0)),
	MY("SELECT /*! STRAIGHT_JOIN */ 1; /*!DELETE FROM t*/", W("read", "SELECT", "", 0),
	   WT("write", "DELETE", "t", NW, "DELETE FROM t")),
	MYM(MY8, "/*!99999 SELECT 1 */ DELETE FROM t",
	    WT("write", "DELETE", "t", NW, "DELETE FROM t")),
	MYM(MY8, "/*!99999 ''*/SELECT 1", WT("read", "SELECT", "", 0, "SELECT 1")),
	MYM(MY8, "/*!99999 /* one nested */ DROP TABLE x */ SELECT 1", W("read", "SELECT", "", 0)),
	MYM(MY8, "/*!80035 DELETE FROM t */", W("write", "DELETE", "t", NW)),
	MYM(MY8, "/*M!100000 DELETE FROM t */ SELECT 1", W("read", "SELECT", "", 0)),
	MYM(MARIA, "/*M!100000 DELETE FROM t */ SELECT 1", W("write", "DELETE", "t", NW)),
	MYM(MARIA, "/*M!100000 DELETE FROM t */", W("write", "DELETE", "t", NW)),
	MYM(MARIA, "/*!50701 SELECT 1 */ DELETE FROM t", W("write", "DELETE", "t", NW)),
	MYM(MARIA, "/*!100000 SELECT 1 */", W("read", "SELECT", "", 0)),
	MY("SELECT /*+ BKA(t) */ * FROM t", W("read", "SELECT", "t", 0)),
	MY("SELECT 'a\0b' FROM t", W("read", "SELECT", "t", 0)),

	/* ---- refused */
	PG_ERR("SELECT 'abc", -EINVAL, "unterminated string"),
	PG_ERR("SELECT E'\\'", -EINVAL, "unterminated string"),
	PG_ERR("SELECT \"abc", -EINVAL, "unterminated quoted identifier"),
	PG_ERR("SELECT $$abc", -EINVAL, "unterminated dollar-quoted"),
	PG_ERR("SELECT $a$ x $b$", -EINVAL, "unterminated dollar-quoted"),
	PG_ERR("SELECT 1 /* x", -EINVAL, "unterminated comment"),
	PG_ERR("SELECT 1 /* a /* not nested */ ; SELECT 2", -EINVAL, "unterminated comment"),
	PG_ERR("SELECT 1; SELECT 'x", -EINVAL, "at byte 17"),
	PG_ERR("SELECT 1\0; DROP TABLE t", -EINVAL, "NUL byte at byte 8"),
	MY_ERR("SELECT `abc", -EINVAL, "unterminated quoted identifier"),
	MY_ERR("SELECT 'a\\'", -EINVAL, "unterminated string"),
	MY_ERR("SELECT 1 \0 ; DROP TABLE t", -EINVAL, "NUL byte"),
	MY_ERR("SELECT 1 # c\0\nDROP TABLE t", -EINVAL, "NUL byte"),
	MY_ERR("SELECT \"a\\\"; DELETE FROM t; -- \"", -EINVAL, "ANSI_QUOTES"),
	MY_ERR("/*!40101 SET NAMES utf8 */", -EINVAL, "version unknown"),
	MY_ERR("/*M! SELECT 1 */", -EINVAL, "version unknown"),
	MY_ERR("/*!99999 '*/ DROP TABLE t; -- ' */", -EINVAL, "version"),
	MY_ERR("/*! SELECT 1", -EINVAL, "unterminated version comment"),
	MY_ERR("/*! SELECT '*/' */", -EINVAL, "holds the end of its version comment"),
	MY_ERR("/*! SELECT 1 /* x */ */", -EINVAL, "comment inside a version comment"),
	MY_ERR("/*! SELECT 1 -- x\n */", -EINVAL, "comment inside a version comment"),
	{SQL_MYSQL, MY8, "/*!800001 SELECT 1 */", 21, -EINVAL, "6-digit", {{NULL}}},
	{SQL_MYSQL, MY8, "/*!99999 SELECT 1", 17, -EINVAL, "unterminated version", {{NULL}}},
	MY_ERR("SELECT /*+ QB_NAME(`a*/`) */ 1", -EINVAL, "optimizer hint"),
	MY_ERR("SET sql_mode = 'NO_BACKSLASH_ESCAPES'; SELECT 'a\\'; DROP TABLE t; -- '", -EINVAL,
	       "may change how MySQL reads"),
	MY_ERR("SET NAMES gbk; SELECT 1", -EINVAL, "may change how MySQL reads"),
	MY_ERR("SET autocommit = 0, sql_mode = ''; SELECT 1", -EINVAL, "may change"),
	MY_ERR("EXECUTE s; SELECT 1", -EINVAL, "may change how MySQL reads"),
	MY_ERR("CALL p(); SELECT 1", -EINVAL, "may change how MySQL reads"),
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* The invariants of any successful parse. */
static void check_invariants(const char *text, size_t len, const struct sql_stmt *st, size_t n)
{
	size_t i, prev_end = 0;
	unsigned j, c;

	cr_assert_leq(n, SQL_MAX_STMTS);
	for (i = 0; i < n; i++) {
		cr_assert_geq(st[i].off, prev_end, "statement %zu overlaps", i);
		cr_assert_leq(st[i].off + st[i].len, len);
		cr_assert_gt(st[i].len, 0);
		cr_assert_neq(text[st[i].off], ' ');
		prev_end = st[i].off + st[i].len;
		cr_assert_lt((unsigned)st[i].cls, SQL_NCLASSES);
		cr_assert(st[i].classes & 1u << st[i].cls, "cls not in classes");
		cr_assert_eq(st[i].classes >> SQL_NCLASSES, 0);
		cr_assert_lt(strnlen(st[i].verb, SQL_VERB_MAX), SQL_VERB_MAX);
		for (c = 0; st[i].verb[c]; c++)
			cr_assert(!(st[i].verb[c] >= 'a' && st[i].verb[c] <= 'z'));
		cr_assert_lt(strnlen(st[i].object, SQL_NAME_MAX), SQL_NAME_MAX);
		cr_assert_leq(st[i].n_tables, SQL_MAX_TABLES);
		for (j = 0; j < st[i].n_tables; j++) {
			cr_assert_lt(strnlen(st[i].tables[j], SQL_NAME_MAX), SQL_NAME_MAX);
			cr_assert_gt(strlen(st[i].tables[j]), 0);
		}
	}
}

/* An exact-size heap copy: ASan reports any read past len. */
static char *heap_copy(const char *text, size_t len)
{
	char *p = malloc(len ? len : 1);

	cr_assert_not_null(p);
	memcpy(p, text, len);
	return p;
}

static void tables_joined(const struct sql_stmt *st, char *out, size_t cap)
{
	size_t n = 0;
	unsigned j;

	out[0] = '\0';
	for (j = 0; j < st->n_tables; j++)
		n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s", j ? " " : "",
				      st->tables[j]);
}

/* Criterion copies parameters into a new process: pass indices, not pointers. */
static size_t case_index[NCASES];

ParameterizedTestParameters(sql, corpus)
{
	size_t i;

	for (i = 0; i < NCASES; i++)
		case_index[i] = i;
	return cr_make_param_array(size_t, case_index, NCASES);
}

ParameterizedTest(size_t *idx, sql, corpus)
{
	static struct sql_stmt st[SQL_MAX_STMTS];
	const struct tcase *tc = &cases[*idx];
	char err[256] = "", tabs[SQL_MAX_TABLES * SQL_NAME_MAX];
	size_t n = 99, want_n = 0, i;
	char *text = heap_copy(tc->text, tc->len);
	int rc;

	while (want_n < 8 && tc->w[want_n].cls)
		want_n++;
	rc = sql_parse(tc->d, tc->mode, text, tc->len, st, SQL_MAX_STMTS, &n, err, sizeof(err));
	cr_assert_eq(rc, tc->rc, "rc %d (%s), want %d, for: %s", rc, err, tc->rc, tc->text);
	if (rc) {
		cr_assert_not_null(strstr(err, tc->err), "err \"%s\" lacks \"%s\" for: %s", err,
				   tc->err, tc->text);
		free(text);
		return;
	}
	check_invariants(text, tc->len, st, n);
	cr_assert_eq(n, want_n, "%zu statements, want %zu, for: %s", n, want_n, tc->text);
	for (i = 0; i < n; i++) {
		const struct want *w = &tc->w[i];

		cr_assert_str_eq(sql_class_name(st[i].cls), w->cls, "[%zu] class of: %.*s", i,
				 (int)st[i].len, text + st[i].off);
		cr_assert_str_eq(st[i].verb, w->verb, "[%zu] verb of: %s", i, tc->text);
		tables_joined(&st[i], tabs, sizeof(tabs));
		cr_assert_str_eq(tabs, w->tables, "[%zu] tables of: %s", i, tc->text);
		cr_assert_eq(st[i].flags, w->flags, "[%zu] flags %#x, want %#x, of: %s", i,
			     st[i].flags, w->flags, tc->text);
		if (w->text) {
			cr_assert_eq(st[i].len, strlen(w->text), "[%zu] text of: %s", i, tc->text);
			cr_assert(!memcmp(text + st[i].off, w->text, st[i].len),
				  "[%zu] text \"%.*s\", want \"%s\"", i, (int)st[i].len,
				  text + st[i].off, w->text);
		}
	}
	free(text);
}

Test(sql, corpus_size)
{
	size_t stmts = 0, i, j;

	for (i = 0; i < NCASES; i++)
		for (j = 0; j < 8 && cases[i].w[j].cls; j++)
			stmts++;
	cr_assert_geq(stmts + NCASES, 120, "%zu statements in %zu cases", stmts, (size_t)NCASES);
	cr_assert_geq(stmts, 120, "%zu statements", stmts);
}

/* Every prefix of every case: no crash, no read past it, invariants hold. */
Test(sql, every_prefix)
{
	static struct sql_stmt st[SQL_MAX_STMTS];
	char err[256];
	size_t i, len, n;

	for (i = 0; i < NCASES; i++) {
		for (len = 0; len <= cases[i].len; len++) {
			char *text = heap_copy(cases[i].text, len);
			unsigned m;
			int rc;

			for (m = 0; m < 6; m++) {
				static const unsigned modes[] = { 0, PGNS, MYNB, MY8, MARIA,
								  MARIA | MYNB };

				rc = sql_parse(cases[i].d, modes[m], text, len, st, SQL_MAX_STMTS,
					       &n, err, sizeof(err));
				cr_assert(rc == 0 || rc == -EINVAL || rc == -E2BIG, "rc %d", rc);
				if (!rc)
					check_invariants(text, len, st, n);
				else
					cr_assert_gt(strlen(err), 0);
			}
			free(text);
		}
	}
}

Test(sql, classes_mask)
{
	struct sql_stmt st[2];
	char err[256];
	size_t n;

	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, "COPY t FROM PROGRAM 'x'", 23, st, 2, &n, err,
			       sizeof(err)), 0);
	cr_assert_eq(st[0].classes, 1u << SQL_WRITE | 1u << SQL_ADMIN);
	cr_assert_eq(st[0].cls, SQL_ADMIN);
	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, "WITH d AS (DELETE FROM t) SELECT 1", 34, st, 2, &n,
			       err, sizeof(err)), 0);
	cr_assert_eq(st[0].classes, 1u << SQL_WRITE | 1u << SQL_READ);
	cr_assert_eq(st[0].cls, SQL_WRITE);
	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, "EXPLAIN DELETE FROM t", 21, st, 2, &n, err,
			       sizeof(err)), 0);
	cr_assert_eq(st[0].classes, 1u << SQL_READ, "EXPLAIN without ANALYZE runs nothing");
	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, "UPDATE t SET a = pg_read_file('k') WHERE b", 42,
			       st, 2, &n, err, sizeof(err)), 0);
	cr_assert_eq(st[0].classes, 1u << SQL_WRITE | 1u << SQL_ADMIN);
	cr_assert_eq(st[0].cls, SQL_ADMIN);
	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, "GRANT SELECT ON t TO u", 22, st, 2, &n, err,
			       sizeof(err)), 0);
	cr_assert_eq(st[0].classes, 1u << SQL_DCL);
}

Test(sql, object_names)
{
	struct sql_stmt st[3];
	char err[256];
	size_t n;
	const char *t = "PREPARE \"Q1\" AS SELECT 1; EXECUTE Q2(1); DEALLOCATE q3";

	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, t, strlen(t), st, 3, &n, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(st[0].object, "Q1");
	cr_assert_str_eq(st[1].object, "q2");
	cr_assert_str_eq(st[2].object, "q3");
	t = "PREPARE s FROM 'SELECT 1'; DEALLOCATE PREPARE S; DROP PREPARE x";
	cr_assert_eq(sql_parse(SQL_MYSQL, 0, t, strlen(t), st, 3, &n, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_str_eq(st[0].object, "s");
	cr_assert_str_eq(st[1].object, "s");
	cr_assert_str_eq(st[2].object, "x");
	cr_assert_eq(st[2].cls, SQL_READ);
}

/* A text of n copies of unit, heap-allocated exactly. */
static char *repeat(const char *unit, size_t n, size_t *len)
{
	size_t u = strlen(unit), i;
	char *p = malloc(u * n + 1);

	cr_assert_not_null(p);
	for (i = 0; i < n; i++)
		memcpy(p + i * u, unit, u);
	*len = u * n;
	return p;
}

static struct sql_stmt big[SQL_MAX_STMTS];

Test(sql, statement_limit)
{
	char err[256];
	size_t len, n;
	char *t = repeat("SELECT 1;", SQL_MAX_STMTS, &len);

	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, t, len, big, SQL_MAX_STMTS, &n, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(n, SQL_MAX_STMTS);
	free(t);
	t = repeat("SELECT 1;", SQL_MAX_STMTS + 1, &len);
	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, t, len, big, SQL_MAX_STMTS, &n, err, sizeof(err)),
		     -E2BIG);
	cr_assert_not_null(strstr(err, "more than 256 statements"), "%s", err);
	/* empty statements do not count */
	free(t);
	t = repeat(";;;;;;;;;;", 10000, &len);
	cr_assert_eq(sql_parse(SQL_MYSQL, 0, t, len, big, SQL_MAX_STMTS, &n, err, sizeof(err)), 0);
	cr_assert_eq(n, 0);
	free(t);
	/* the caller's own max */
	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, "SELECT 1; SELECT 2", 18, big, 1, &n, err,
			       sizeof(err)), -E2BIG);
	cr_assert_eq(n, 1);
}

Test(sql, table_limit)
{
	char text[4096], err[256];
	size_t len = 0, n;
	int i;

	len += (size_t)snprintf(text + len, sizeof(text) - len, "SELECT * FROM t0");
	for (i = 1; i < SQL_MAX_TABLES; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, ", t%d", i);
	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, text, len, big, 1, &n, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(big[0].n_tables, SQL_MAX_TABLES);
	cr_assert_str_eq(big[0].tables[31], "t31");
	/* repeats count once */
	len += (size_t)snprintf(text + len, sizeof(text) - len, ", t0, T1");
	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, text, len, big, 1, &n, err, sizeof(err)), 0);
	len += (size_t)snprintf(text + len, sizeof(text) - len, ", t32");
	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, text, len, big, 1, &n, err, sizeof(err)), -E2BIG);
	cr_assert_not_null(strstr(err, "more than 32 tables"), "%s", err);
}

Test(sql, nesting_limit)
{
	char err[256], text[1024];
	size_t len, n;
	int i;

	len = 0;
	for (i = 0; i < SQL_MAX_DEPTH; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "EXPLAIN ANALYZE ");
	len += (size_t)snprintf(text + len, sizeof(text) - len, "DELETE FROM t");
	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, text, len, big, 1, &n, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(big[0].cls, SQL_WRITE);
	cr_assert_eq(big[0].flags, SQL_F_NO_WHERE);
	len = 0;
	for (i = 0; i <= SQL_MAX_DEPTH; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "EXPLAIN ANALYZE ");
	len += (size_t)snprintf(text + len, sizeof(text) - len, "DELETE FROM t");
	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, text, len, big, 1, &n, err, sizeof(err)), -E2BIG);
	cr_assert_not_null(strstr(err, "nests deeper"), "%s", err);
	/* nested WITH: 17 levels */
	len = 0;
	for (i = 0; i <= SQL_MAX_DEPTH; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "WITH a AS (");
	len += (size_t)snprintf(text + len, sizeof(text) - len, "SELECT 1");
	for (i = 0; i <= SQL_MAX_DEPTH; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, ") SELECT 1");
	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, text, len, big, 1, &n, err, sizeof(err)), -E2BIG);
}

Test(sql, long_identifiers)
{
	char text[2048], want[256], err[256];
	size_t len, n;
	int i;

	/* PostgreSQL cuts each part to 63 bytes, as the server does */
	memset(want, 'a', 63);
	want[63] = '\0';
	len = (size_t)snprintf(text, sizeof(text), "SELECT * FROM %s%s", want, "bbbbbbbbbbbbbbbbb");
	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, text, len, big, 1, &n, err, sizeof(err)), 0);
	cr_assert_str_eq(big[0].tables[0], want);
	cr_assert_eq(big[0].flags, 0);
	/* ... without splitting a UTF-8 character: 62 'a' then é */
	memset(text, 0, sizeof(text));
	len = (size_t)snprintf(text, sizeof(text), "SELECT * FROM %.62s\xc3\xa9xyz", want);
	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, text, len, big, 1, &n, err, sizeof(err)), 0);
	cr_assert_eq(strlen(big[0].tables[0]), 62);
	/* MySQL keeps them, up to the buffer, and says when it cut */
	memset(text, 0, sizeof(text));
	len = (size_t)snprintf(text, sizeof(text), "SELECT * FROM `");
	memset(text + len, 'x', 300);
	len += 300;
	text[len++] = '`';
	cr_assert_eq(sql_parse(SQL_MYSQL, 0, text, len, big, 1, &n, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(strlen(big[0].tables[0]), SQL_NAME_MAX - 1);
	cr_assert_eq(strspn(big[0].tables[0], "x"), SQL_NAME_MAX - 1);
	cr_assert_eq(big[0].flags, SQL_F_NAME_UNSURE);
	/* two parts that do not fit: the second is cut */
	len = (size_t)snprintf(text, sizeof(text), "SELECT * FROM ");
	memset(text + len, 'a', 100);
	len += 100;
	text[len++] = '.';
	memset(text + len, 'b', 150);
	len += 150;
	cr_assert_eq(sql_parse(SQL_MYSQL, 0, text, len, big, 1, &n, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(strlen(big[0].tables[0]), SQL_NAME_MAX - 1);
	cr_assert_eq(strspn(big[0].tables[0], "a"), 100);
	cr_assert_eq(big[0].tables[0][100], '.');
	cr_assert_eq(strspn(big[0].tables[0] + 101, "b"), SQL_NAME_MAX - 1 - 101);
	cr_assert_eq(big[0].flags, SQL_F_NAME_UNSURE);
	/* ... without half a character: 150 two-byte characters */
	len = (size_t)snprintf(text, sizeof(text), "SELECT * FROM `");
	for (i = 0; i < 150; i++) {
		text[len++] = '\xc3';
		text[len++] = '\xa9';
	}
	text[len++] = '`';
	cr_assert_eq(sql_parse(SQL_MYSQL, 0, text, len, big, 1, &n, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(strlen(big[0].tables[0]), 190);
	for (i = 0; i < 190; i += 2)
		cr_assert(big[0].tables[0][i] == '\xc3' && big[0].tables[0][i + 1] == '\xa9');
	cr_assert_eq(big[0].flags, SQL_F_NAME_UNSURE);
	/* a long verb is cut to fit */
	memset(text, 'Z', 100);
	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, text, 100, big, 1, &n, err, sizeof(err)), 0);
	cr_assert_eq(strlen(big[0].verb), SQL_VERB_MAX - 1);
	cr_assert_eq(big[0].cls, SQL_WRITE);
	/* a 4-part name past the buffer: cut, still the text's bytes */
	len = (size_t)snprintf(text, sizeof(text), "SELECT * FROM %s.%s.%s.%s", want, want, want,
			       want);
	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, text, len, big, 1, &n, err, sizeof(err)), 0);
	cr_assert_eq(strlen(big[0].tables[0]), SQL_NAME_MAX - 1);
	cr_assert_eq(strspn(big[0].tables[0], "a."), SQL_NAME_MAX - 1);
	cr_assert_eq(big[0].flags, SQL_F_NAME_UNSURE);
	/* three 63-byte parts fit */
	len = (size_t)snprintf(text, sizeof(text), "SELECT * FROM %s.%s.%s", want, want, want);
	cr_assert_eq(sql_parse(SQL_POSTGRES, 0, text, len, big, 1, &n, err, sizeof(err)), 0);
	cr_assert_eq(strlen(big[0].tables[0]), 63 * 3 + 2);
	cr_assert_eq(big[0].flags, 0);
}

Test(sql, cursor)
{
	struct sql_cursor c;
	struct sql_stmt st;
	char err[256];
	const char *t = "SELECT 1; DELETE FROM t; SELECT 'x";

	sql_cursor_init(&c, SQL_POSTGRES, 0, t, strlen(t));
	cr_assert_eq(sql_next(&c, &st, err, sizeof(err)), 1);
	cr_assert_eq(st.cls, SQL_READ);
	cr_assert_eq(sql_next(&c, &st, err, sizeof(err)), 1);
	cr_assert_eq(st.cls, SQL_WRITE);
	cr_assert_eq(sql_next(&c, &st, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "unterminated string"), "%s", err);
	cr_assert_eq(sql_next(&c, &st, err, sizeof(err)), -EINVAL, "errors are sticky");
	/* the end is 0, and stays 0 */
	sql_cursor_init(&c, SQL_MYSQL, 0, "SELECT 1;", 9);
	cr_assert_eq(sql_next(&c, &st, err, sizeof(err)), 1);
	cr_assert_eq(sql_next(&c, &st, err, sizeof(err)), 0);
	cr_assert_eq(sql_next(&c, &st, err, sizeof(err)), 0);
	/* NULL text with length 0 is an empty message */
	sql_cursor_init(&c, SQL_POSTGRES, 0, NULL, 0);
	cr_assert_eq(sql_next(&c, &st, err, sizeof(err)), 0);
}

Test(sql, class_names)
{
	enum sql_class c;
	int i;

	for (i = 0; i < SQL_NCLASSES; i++) {
		cr_assert_eq(sql_class_parse(sql_class_name((enum sql_class)i), &c), 0);
		cr_assert_eq((int)c, i);
	}
	cr_assert_str_eq(sql_class_name(SQL_READ), "read");
	cr_assert_str_eq(sql_class_name(SQL_WRITE), "write");
	cr_assert_str_eq(sql_class_name(SQL_DDL), "ddl");
	cr_assert_str_eq(sql_class_name(SQL_DCL), "dcl");
	cr_assert_str_eq(sql_class_name(SQL_ADMIN), "admin");
	cr_assert_str_eq(sql_class_name(SQL_TX), "tx");
	cr_assert_str_eq(sql_class_name((enum sql_class)99), "?");
	cr_assert_eq(sql_class_parse("READ", &c), -EINVAL);
	cr_assert_eq(sql_class_parse("", &c), -EINVAL);
	cr_assert_eq(sql_class_parse(NULL, &c), -EINVAL);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Inputs built to make a careless lexer quadratic: 256 KiB each, all must
 * finish in well under the time a quadratic pass would take (hours).
 */
Test(sql, linear_time, .timeout = 60)
{
	static const char *const units[] = {
		"(",		/* deep parentheses */
		"/*",		/* deep PostgreSQL comments, never closed */
		"$a$",		/* dollar quote full of its own prefix */
		"a, ",		/* a long FROM list (E2BIG after 32) */
		"WITH a AS (",	/* nesting beyond the limit */
		"'",		/* '' pairs */
		"E'\\' ",	/* escapes */
		"EXPLAIN ",
		"x.",
		"\"\"",
		"SELECT 1 FROM t;",
	};
	char err[256];
	size_t i, len, n;
	double t0 = now();

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		char *t = repeat(units[i], (256u << 10) / strlen(units[i]), &len);
		char *pre = malloc(len + 14);
		int d, rc;

		cr_assert_not_null(pre);
		memcpy(pre, "SELECT * FROM ", 14);
		memcpy(pre + 14, t, len);
		for (d = 0; d < 2; d++) {
			rc = sql_parse((enum sql_dialect)d, 0, t, len, big, SQL_MAX_STMTS, &n, err,
				       sizeof(err));
			cr_assert(rc == 0 || rc == -EINVAL || rc == -E2BIG);
			rc = sql_parse((enum sql_dialect)d, 0, pre, len + 14, big, SQL_MAX_STMTS,
				       &n, err, sizeof(err));
			cr_assert(rc == 0 || rc == -EINVAL || rc == -E2BIG);
		}
		free(pre);
		free(t);
	}
	cr_assert_lt(now() - t0, 30.0, "took %.1f s", now() - t0);
}
