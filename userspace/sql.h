/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One SQL lexer and classifier for PostgreSQL and MySQL (DESIGN §4): the
 * text of one message is split into statements, and each gets a class
 * (read, write, ddl, dcl, admin, tx), a verb, the tables it names and
 * flags. The policy engine allows a message only when it allows every
 * statement in it.
 *
 * The text is hostile. It is given as bytes and a length (no NUL needed);
 * nothing is read outside it, the work is linear in its length (with a
 * constant factor of at most SQL_MAX_DEPTH for nested statements), and
 * nothing is allocated: a statement is a fixed-size struct the caller
 * provides. Whatever exceeds a limit below is an error, never a silent
 * truncation of what the policy sees.
 *
 * Errors. sql_next()/sql_parse() return -EINVAL for text the lexer must
 * not guess about and -E2BIG for a limit; the caller refuses the WHOLE
 * message then (never forwards the statements before the error):
 *   - an unterminated string, quoted identifier, dollar quote or comment;
 *   - a NUL byte (anywhere for PostgreSQL, whose protocol ends the text at
 *     a NUL; outside quotes for MySQL, whose lexer ends comments at one);
 *   - MySQL text whose reading depends on what the caller did not give:
 *     a "..." that ends elsewhere as a string (backslash escapes) than as
 *     an ANSI_QUOTES identifier; a version comment (slash-star-bang-NNNNN,
 *     MariaDB's slash-star-M-bang) without the server's version; an
 *     optimizer hint comment holding a quote; a comment, or a quoted token
 *     holding the comment's end, inside a version comment run as code;
 *   - MySQL: a statement that may change how the server reads the rest of
 *     the message (SET of sql_mode, NAMES, CHARACTER SET, character_set_*
 *     or collation_connection; EXECUTE; CALL) followed by another
 *     statement: MySQL reads each statement after running the one before;
 *   - more than SQL_MAX_STMTS statements, more than SQL_MAX_TABLES tables
 *     in one statement, statements nested deeper than SQL_MAX_DEPTH.
 *
 * What the caller must tell (mode, SQL_MODE_*), tracked from the server:
 *   - PostgreSQL: standard_conforming_strings (ParameterStatus). Off, a
 *     backslash escapes the next byte in '...' too. (A SET of it inside a
 *     message does not matter: PostgreSQL lexes a whole message first.)
 *   - MySQL: NO_BACKSLASH_ESCAPES (SERVER_STATUS_NO_BACKSLASH_ESCAPES in
 *     every OK packet), the version from the handshake and whether it is
 *     MariaDB, which decide which version comments are code.
 * The text must be in an encoding where byte 0x5c is always a backslash
 * (UTF-8, Latin-*, ASCII, binary). With PostgreSQL client_encoding SJIS,
 * BIG5, GBK, GB18030, UHC or JOHAB, or MySQL character sets big5, cp932,
 * gbk, gb18030 or sjis, 0x5c can be the second byte of a character and the
 * server would end strings where this lexer does not: the caller refuses
 * those encodings.
 *
 * Lexing, as the servers do it (checked against PostgreSQL 15 and MariaDB
 * 10.11 by sending them the same text): -- comments to the end of the line
 * (\n or \r for PostgreSQL, only \n for MySQL, where the second dash
 * must be followed by whitespace, a control byte or the end: 1--1 is
 * 1 - -1); # comments (MySQL); slash-star comments, nested for
 * PostgreSQL, not for MySQL; MySQL version comments read as code or
 * skipped as the server would; '...' strings with '' (and backslash
 * escapes per the mode above; always in PostgreSQL E'...', never in B'',
 * X'' and U&''); PostgreSQL's continuation of a string across a newline,
 * with the escape rules of its first part; "..." identifiers (PostgreSQL)
 * or strings (MySQL); `...` identifiers (MySQL); PostgreSQL dollar quotes
 * $$...$$ and $tag$...$tag$ ($1 is a parameter, and a $ inside an
 * identifier is part of it). A ';' outside all of these ends a statement.
 * Comments split tokens: SEL, a comment, then ECT is two words (both
 * servers agree). Statements with no token (";;", a lone comment) are
 * skipped, not returned.
 *
 * Classification: see the comment above enum sql_class and sql.c; the
 * summary of the decisions is there. Anything not recognised is
 * SQL_WRITE (DESIGN §4).
 *
 * Tables (best effort, never a crash): names after FROM, JOIN, INTO,
 * UPDATE, USING (DELETE/MERGE), TABLE/TABLES, VIEW, REFERENCES, COPY,
 * TRUNCATE, LOCK, HANDLER, DESCRIBE, VACUUM/ANALYZE/CLUSTER, GRANT/REVOKE
 * ... ON, CREATE INDEX/TRIGGER/POLICY/RULE ... ON and RENAME ... TO, and
 * the comma-separated lists after them. A name is its parts joined with
 * '.' ("schema.table", "db.table"): an unquoted part is ASCII-lowercased;
 * a quoted part is kept exactly for PostgreSQL; for MySQL every part is
 * ASCII-lowercased, quoted or not, since the server's
 * lower_case_table_names is unknown (a rule on "secret" then also covers
 * "Secret"). PostgreSQL parts are cut to 63 bytes as the server cuts them.
 * A name of a top-level WITH query is not reported where it is in scope.
 * Names are not resolved: views, functions, triggers, rules and
 * search_path reach tables this cannot see; an unqualified name is
 * reported unqualified; a quoted part holding '.' reads like two parts.
 */
#ifndef SLUICE_SQL_H
#define SLUICE_SQL_H

#include <stdbool.h>
#include <stddef.h>

#define SQL_MAX_STMTS	256	/* statements in one message */
#define SQL_MAX_TABLES	32	/* distinct tables in one statement */
#define SQL_MAX_DEPTH	16	/* WITH / EXPLAIN / PREPARE nesting */
#define SQL_NAME_MAX	192	/* a table name with its NUL: 3 x 63 + 2 fits */
#define SQL_VERB_MAX	24	/* the verb with its NUL */

enum sql_dialect { SQL_POSTGRES, SQL_MYSQL };

/* Server settings that change how text is read (see above). */
#define SQL_MODE_PG_NONSTANDARD_STRINGS	0x1u	/* standard_conforming_strings off */
#define SQL_MODE_MY_NO_BACKSLASH_ESCAPES 0x2u	/* sql_mode NO_BACKSLASH_ESCAPES */
#define SQL_MODE_MY_MARIADB		0x4u	/* the server is MariaDB */
/* The MySQL server's version as version comments spell it (8.0.35: 80035,
 * MariaDB 10.11.19: 101119, from the handshake); 0: unknown. */
#define SQL_MODE_MY_VERSION(v)		((unsigned)(v) << 8)
#define SQL_MODE_MY_VERSION_OF(mode)	((unsigned)(mode) >> 8)

/*
 * What a statement may do, for the policy's "classes", by its first
 * keyword(s) after any leading comments and parentheses:
 *   read   SELECT (also ... FOR UPDATE/SHARE: it locks, changes nothing;
 *          SQL_F_LOCKS says so), VALUES, TABLE, SHOW, DESCRIBE, EXPLAIN
 *          without ANALYZE, COPY ... TO STDOUT, FETCH/MOVE/CLOSE,
 *          DEALLOCATE and MySQL DROP PREPARE, LISTEN/UNLISTEN, HANDLER,
 *          HELP, DECLARE (its query's).
 *   write  INSERT, UPDATE, DELETE, MERGE, UPSERT, REPLACE, COPY ... FROM
 *          STDIN, LOAD DATA LOCAL, TRUNCATE (it empties a table as DELETE
 *          does; SQL_F_NO_WHERE set), REFRESH, LOCK, NOTIFY, DO, CALL,
 *          EXECUTE, MySQL PREPARE (text unknown), anything unrecognised,
 *          and SELECT calling nextval/setval/pg_notify/lo_* writers.
 *   ddl    CREATE, ALTER, DROP, RENAME, COMMENT, SECURITY LABEL, IMPORT
 *          FOREIGN SCHEMA, and PostgreSQL SELECT ... INTO new_table.
 *   dcl    GRANT, REVOKE, CREATE/ALTER/DROP ROLE/USER/GROUP/POLICY,
 *          ALTER DEFAULT PRIVILEGES, REASSIGN OWNED, SET/RESET ROLE,
 *          SET/RESET SESSION AUTHORIZATION (and session_authorization),
 *          SET PASSWORD, SET DEFAULT ROLE, RENAME USER.
 *   admin  VACUUM, ANALYZE, CLUSTER, REINDEX, CHECKPOINT, KILL, SHUTDOWN,
 *          ALTER SYSTEM, SET (other session settings), RESET, DISCARD, USE,
 *          LOAD, FLUSH, OPTIMIZE, REPAIR, PURGE, INSTALL, replication;
 *          server files and programs: COPY ... TO/FROM 'file' or PROGRAM,
 *          LOAD DATA without LOCAL, SELECT ... INTO OUTFILE/DUMPFILE; and
 *          calls of server-side functions such as pg_terminate_backend,
 *          pg_read_file, lo_import, dblink, set_config, LOAD_FILE (the
 *          list is in sql.c), and of any function named with U&"...",
 *          whose escapes could spell one of them.
 *   tx     BEGIN/START TRANSACTION (only with their own options: MariaDB's
 *          BEGIN NOT ATOMIC is write), COMMIT, ROLLBACK, SAVEPOINT,
 *          RELEASE, END, ABORT, SET TRANSACTION, SET CONSTRAINTS, MySQL
 *          SET autocommit, PREPARE TRANSACTION, XA, UNLOCK.
 * A SELECT calling a user function with side effects stays read: a known
 * limit. pg_sleep stays read (statement_timeout bounds it).
 */
enum sql_class { SQL_READ, SQL_WRITE, SQL_DDL, SQL_DCL, SQL_ADMIN, SQL_TX };
#define SQL_NCLASSES	6

/* Statement flags. */
#define SQL_F_NO_WHERE	 0x01u	/* a DELETE or UPDATE (anywhere in the
				 * statement: WITH, EXPLAIN ANALYZE) without
				 * WHERE at its own level; TRUNCATE */
#define SQL_F_LOCKS	 0x02u	/* SELECT ... FOR UPDATE/SHARE, LOCK IN SHARE MODE */
#define SQL_F_FUNC	 0x04u	/* calls a function listed in sql.c, which
				 * added its class (admin or write) */
#define SQL_F_NAME_UNSURE 0x08u	/* a table name may not be spelled as the
				 * server resolves it: cut to fit, U&"..."
				 * escapes left undecoded, more than three
				 * parts, a backslash in a MySQL "..." */

/*
 * One statement. cls is the most sensitive class in classes, in the order
 * read < tx < write < ddl < admin < dcl: a policy that looks at cls alone
 * sees UPDATE ... pg_read_file() as admin; one that requires every class
 * in classes to be allowed is stricter still.
 */
struct sql_stmt {
	size_t off, len;	/* bytes of the text: first to last token */
	enum sql_class cls;	/* the most sensitive class of `classes` */
	unsigned classes;	/* 1u << class for every class involved: the
				 * statement's own, those of WITH queries, of
				 * EXPLAIN ANALYZE's and PREPARE's statement,
				 * of listed function calls */
	char verb[SQL_VERB_MAX];	/* first keyword, upper case ("SELECT",
					 * "WITH", "EXPLAIN"); "" if the
					 * statement starts with no word */
	unsigned flags;		/* SQL_F_* */
	char object[SQL_NAME_MAX];	/* PREPARE, EXECUTE, DEALLOCATE: the
					 * prepared statement's name,
					 * normalised like a table; else "" */
	unsigned n_tables;
	char tables[SQL_MAX_TABLES][SQL_NAME_MAX];
};

/*
 * An iterator over a message's statements, for callers that would rather
 * not hold SQL_MAX_STMTS structs. Its fields are private: set them with
 * sql_cursor_init(); text is borrowed and must outlive the cursor.
 */
struct sql_cursor {
	enum sql_dialect d;
	unsigned mode;
	const char *text;
	size_t len, pos;
	unsigned count;
	bool exec;		/* inside a MySQL version comment */
	bool mode_change;	/* last statement may change MySQL lexing */
	bool checked;
	bool done;
	int rc;			/* sticky error */
};

void sql_cursor_init(struct sql_cursor *c, enum sql_dialect d, unsigned mode, const char *text,
		     size_t len);

/*
 * The next statement into *st. Returns 1 (st filled), 0 (no statement
 * left), or -EINVAL/-E2BIG with a message in err (see above); after an
 * error every later call returns it again. An error may come after
 * statements were returned: decide on a message only once this returned 0.
 */
int sql_next(struct sql_cursor *c, struct sql_stmt *st, char *err, size_t errlen);

/*
 * Every statement of text[0..len) into out[0..*n). Returns 0, or
 * -EINVAL/-E2BIG with a message in err (also -E2BIG when there are more
 * than max statements); on error *n counts the statements before it, to
 * name them in the refusal, never to act on. out is the caller's; nothing
 * is kept.
 */
int sql_parse(enum sql_dialect d, unsigned mode, const char *text, size_t len,
	      struct sql_stmt *out, size_t max, size_t *n, char *err, size_t errlen);

/* "read", "write", "ddl", "dcl", "admin", "tx"; "?" out of range. Static. */
const char *sql_class_name(enum sql_class c);

/* The reverse, exact lower-case names; returns 0 or -EINVAL. */
int sql_class_parse(const char *name, enum sql_class *out);

#endif
