// SPDX-License-Identifier: BSD-2-Clause
/*
 * The SQL lexer and classifier of sql.h.
 *
 * A message is read in two passes per statement. The first lexes tokens up
 * to a ';' outside every quote and comment, which finds the statement's
 * end and every unterminated construct. The second re-lexes the
 * statement's tokens from a saved lexer state, through a stream with one
 * token of lookahead (struct ts), as often as classification needs: a
 * fixed number of passes per nesting level, and nesting is bounded by
 * SQL_MAX_DEPTH, so the work stays linear in the text and nothing is
 * allocated.
 *
 * The lexer mirrors the servers' own (PostgreSQL's scan.l, MySQL's
 * sql_lex.cc) where the two could disagree about where a string, a comment
 * or a statement ends, because a disagreement is how a statement slips past
 * the policy. Where it cannot know (a MySQL server setting the caller did
 * not give), it refuses the text rather than guess.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sql.h"

/* ------------------------------------------------------------ keywords */

/* Every word the classifier looks at, in byte order (bsearch). */
/* clang-format off */
#define KEYWORDS(X) \
	X(ABORT) X(ALL) X(ALTER) X(ANALYSE) X(ANALYZE) X(AND) X(AS) X(AUTHORIZATION) \
	X(AUTOCOMMIT) X(BEGIN) X(BINLOG) X(BY) X(CACHE) X(CALL) X(CASE) X(CHAIN) X(CHANGE) \
	X(CHARACTER) X(CHARACTERISTICS) X(CHARACTER_SET_CLIENT) X(CHARACTER_SET_CONNECTION) \
	X(CHARSET) X(CHECK) X(CHECKPOINT) X(CHECKSUM) X(CLONE) X(CLOSE) X(CLUSTER) \
	X(COLLATION_CONNECTION) X(COMMENT) X(COMMIT) X(COMMITTED) X(CONCURRENTLY) \
	X(CONSISTENT) X(CONSTRAINTS) X(COPY) X(CREATE) X(CROSS) X(CURRENT) X(CURSOR) \
	X(CYCLE) X(DATA) X(DATABASE) X(DEALLOCATE) X(DECLARE) X(DEFAULT) X(DEFERRABLE) \
	X(DELAYED) X(DELETE) X(DESC) X(DESCRIBE) X(DISCARD) X(DISTINCT) X(DO) X(DOMAIN) \
	X(DROP) X(DUAL) X(DUMPFILE) X(END) X(EXCEPT) X(EXECUTE) X(EXISTS) X(EXPLAIN) \
	X(EXTENDED) X(FALSE) X(FETCH) X(FLUSH) X(FOR) X(FOREIGN) X(FORMAT) X(FREEZE) \
	X(FROM) X(FULL) X(FUNCTION) X(GLOBAL) X(GRANT) X(GROUP) X(HANDLER) X(HAVING) \
	X(HELP) X(HIGH_PRIORITY) X(IF) X(IGNORE) X(IMPORT) X(IN) X(INDEX) X(INFILE) \
	X(INNER) X(INSERT) X(INSTALL) X(INSTANCE) X(INTERSECT) X(INTO) X(IS) X(ISOLATION) \
	X(JOIN) X(KEY) X(KILL) X(LANGUAGE) X(LARGE) X(LATERAL) X(LEFT) X(LEVEL) X(LIKE) \
	X(LIMIT) X(LISTEN) X(LOAD) X(LOCAL) X(LOCK) X(LOW_PRIORITY) X(MAPPING) \
	X(MATERIALIZED) X(MERGE) X(MINUS) X(MOVE) X(NAMES) X(NATURAL) X(NO) X(NOT) \
	X(NOTIFY) X(NO_WRITE_TO_BINLOG) X(NULL) X(OF) X(OFF) X(OFFSET) X(OJ) X(ON) X(ONLY) \
	X(OPTIMIZE) X(OR) X(ORDER) X(OUTER) X(OUTFILE) X(OWNED) X(PARAMETER) X(PARTITIONS) \
	X(PASSWORD) X(PERSIST) X(PERSIST_ONLY) X(POLICY) X(PREPARE) X(PREPARED) \
	X(PRIVILEGES) X(PROCEDURE) X(PROGRAM) X(PURGE) X(QUICK) X(READ) X(REASSIGN) \
	X(RECURSIVE) X(REFERENCES) X(REFRESH) X(REINDEX) X(RELEASE) X(RENAME) X(REPAIR) \
	X(REPEATABLE) X(REPLACE) X(RESET) X(RESTART) X(RETURNING) X(REVOKE) X(RIGHT) \
	X(ROLE) X(ROLLBACK) X(ROUTINE) X(ROWS) X(RULE) X(SAVEPOINT) X(SCHEMA) X(SEARCH) \
	X(SECURITY) X(SELECT) X(SEQUENCE) X(SERIALIZABLE) X(SESSION) \
	X(SESSION_AUTHORIZATION) X(SET) X(SHARE) X(SHOW) X(SHUTDOWN) X(SKIP_LOCKED) \
	X(SNAPSHOT) X(SQL_MODE) X(START) X(STDIN) X(STDOUT) X(STOP) X(SYSTEM) X(TABLE) \
	X(TABLES) X(TABLESPACE) X(TEMP) X(TEMPORARY) X(THEN) X(TO) X(TRANSACTION) \
	X(TRIGGER) X(TRUE) X(TRUNCATE) X(TYPE) X(UNCOMMITTED) X(UNINSTALL) X(UNION) \
	X(UNIQUE) X(UNLISTEN) X(UNLOCK) X(UNLOGGED) X(UPDATE) X(UPSERT) X(USE) X(USER) \
	X(USING) X(VACUUM) X(VALUES) X(VERBOSE) X(VIEW) X(WHEN) X(WHERE) X(WINDOW) X(WITH) \
	X(WORK) X(WRITE) X(XA) X(XML)
/* clang-format on */

enum kw {
	KW_NONE,
#define X(k) KW_##k,
	KEYWORDS(X)
#undef X
};

static const char *const kw_names[] = {
#define X(k) #k,
	KEYWORDS(X)
#undef X
};

#define KW_LONGEST 24

static unsigned char upper(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? c - 32 : c;
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Compares p[0..n) upper-cased with name, as strcmp would. */
static int kw_cmp(const char *p, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n && name[i]; i++) {
		unsigned char a = upper((unsigned char)p[i]), b = (unsigned char)name[i];

		if (a != b)
			return a < b ? -1 : 1;
	}
	if (i < n)
		return 1;
	return name[i] ? -1 : 0;
}

static enum kw kw_lookup(const char *p, size_t n)
{
	size_t lo = 0, hi = sizeof(kw_names) / sizeof(kw_names[0]);

	if (n > KW_LONGEST)
		return KW_NONE;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = kw_cmp(p, n, kw_names[mid]);

		if (!c)
			return (enum kw)(mid + 1);
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return KW_NONE;
}

/* --------------------------------------------------------------- lexer */

enum tk { TK_END, TK_WORD, TK_QIDENT, TK_STRING, TK_NUM, TK_PARAM, TK_PUNCT, TK_SEMI };

struct tok {
	enum tk kind;
	enum kw kw;		/* TK_WORD: the keyword it spells */
	size_t off, len;	/* the whole token, quotes and prefixes included */
	char q;			/* TK_QIDENT/TK_STRING: the quote; '$' dollar quote */
	bool uesc;		/* PostgreSQL U&"...": escapes left undecoded */
	char ch;		/* TK_PUNCT: the byte */
};

struct lx {
	const char *s;
	size_t len, pos;
	enum sql_dialect d;
	unsigned mode;
	bool exec;		/* inside a MySQL version comment */
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errlen, int rc,
						      const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident_start(unsigned char c)
{
	return (lower(c) >= 'a' && lower(c) <= 'z') || c == '_' || c >= 0x80;
}

static bool is_ident_cont(unsigned char c)
{
	return is_ident_start(c) || is_digit(c) || c == '$';
}

/*
 * The index just past the quote closing the quoted text whose opening
 * quote q is at s[p]: a doubled q stands for itself, and with bs a
 * backslash takes the next byte along. SIZE_MAX when it never closes.
 */
static size_t scan_quoted(const char *s, size_t n, size_t p, char q, bool bs)
{
	size_t i = p + 1;

	while (i < n) {
		if (bs && s[i] == '\\') {
			i += 2;
		} else if (s[i] == q) {
			if (i + 1 < n && s[i + 1] == q)
				i += 2;
			else
				return i + 1;
		} else {
			i++;
		}
	}
	return SIZE_MAX;
}

/*
 * PostgreSQL continues a string literal across whitespace holding a
 * newline ('a' <newline> 'b' is 'ab'), and the continuation is lexed with
 * the escape rules of the first part: E'x' <newline> '\'' is one literal.
 * After a string closing just before e, returns the index of the quote
 * that continues it, or SIZE_MAX. As scan.l's whitespace_with_newline:
 * horizontal space or -- comments, a newline, then any space or --
 * comments each ending in a newline.
 */
static size_t pg_continuation(const char *s, size_t n, size_t e)
{
	size_t i = e;
	bool nl = false;

	while (i < n && !nl) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\f' || s[i] == '\v') {
			i++;
		} else if (s[i] == '\n' || s[i] == '\r') {
			nl = true;
			i++;
		} else if (s[i] == '-' && i + 1 < n && s[i + 1] == '-') {
			while (i < n && s[i] != '\n' && s[i] != '\r')
				i++;
		} else {
			return SIZE_MAX;
		}
	}
	if (!nl)
		return SIZE_MAX;
	while (i < n) {
		if (is_space((unsigned char)s[i])) {
			i++;
		} else if (s[i] == '-' && i + 1 < n && s[i + 1] == '-') {
			while (i < n && s[i] != '\n' && s[i] != '\r')
				i++;
			if (i >= n)
				return SIZE_MAX;
		} else {
			return s[i] == '\'' ? i : SIZE_MAX;
		}
	}
	return SIZE_MAX;
}

static int unterminated(struct lx *x, const char *what, size_t at)
{
	return fail(x->err, x->errlen, -EINVAL, "unterminated %s starting at byte %zu", what, at);
}

/* A '...' literal whose opening quote is at q (the token starts at off). */
static int lex_string(struct lx *x, struct tok *t, size_t off, size_t q, bool bs)
{
	size_t e;

	for (;;) {
		e = scan_quoted(x->s, x->len, q, '\'', bs);
		if (e == SIZE_MAX)
			return unterminated(x, "string", off);
		if (x->d != SQL_POSTGRES)
			break;
		q = pg_continuation(x->s, x->len, e);
		if (q == SIZE_MAX)
			break;
	}
	t->kind = TK_STRING;
	t->q = '\'';
	t->off = off;
	t->len = e - off;
	x->pos = e;
	return 0;
}

/* A "..." or `...` identifier: only a doubled quote escapes. */
static int lex_qident(struct lx *x, struct tok *t, size_t off, size_t q)
{
	size_t e = scan_quoted(x->s, x->len, q, x->s[q], false);

	if (e == SIZE_MAX)
		return unterminated(x, "quoted identifier", off);
	t->kind = TK_QIDENT;
	t->q = x->s[q];
	t->off = off;
	t->len = e - off;
	x->pos = e;
	return 0;
}

/*
 * MySQL's "..." is a string, or an identifier under ANSI_QUOTES, which the
 * caller cannot see. Both readings must end at the same byte.
 */
static int lex_my_dquote(struct lx *x, struct tok *t, size_t p)
{
	bool bs = !(x->mode & SQL_MODE_MY_NO_BACKSLASH_ESCAPES);
	size_t e1 = scan_quoted(x->s, x->len, p, '"', bs);
	size_t e2 = scan_quoted(x->s, x->len, p, '"', false);

	if (e1 == SIZE_MAX || e2 == SIZE_MAX)
		return unterminated(x, "double-quoted text", p);
	if (e1 != e2)
		return fail(x->err, x->errlen, -EINVAL,
			    "double-quoted text at byte %zu ends differently as a string and as "
			    "an ANSI_QUOTES identifier",
			    p);
	t->kind = TK_STRING;
	t->q = '"';
	t->off = p;
	t->len = e1 - p;
	x->pos = e1;
	return 0;
}

/* PostgreSQL: $1, $tag$...$tag$, or a lone '$'. */
static int lex_dollar(struct lx *x, struct tok *t, size_t p)
{
	const char *s = x->s, *end;
	size_t n = x->len, i = p + 1, dl;

	t->off = p;
	if (i < n && is_digit((unsigned char)s[i])) {
		while (i < n && is_digit((unsigned char)s[i]))
			i++;
		t->kind = TK_PARAM;
		t->len = i - p;
		x->pos = i;
		return 0;
	}
	/* a tag is an identifier without '$' (scan.l dolq_start, dolq_cont) */
	if (i < n && is_ident_start((unsigned char)s[i])) {
		i++;
		while (i < n &&
		       (is_ident_start((unsigned char)s[i]) || is_digit((unsigned char)s[i])))
			i++;
	}
	if (i >= n || s[i] != '$') {
		t->kind = TK_PUNCT;
		t->ch = '$';
		t->len = 1;
		x->pos = p + 1;
		return 0;
	}
	dl = i + 1 - p;
	/* the first later occurrence of the same delimiter ends it: memmem
	 * is linear, so a long tag repeated inside costs no more */
	end = memmem(s + p + dl, n - p - dl, s + p, dl);
	if (!end)
		return unterminated(x, "dollar-quoted string", p);
	t->kind = TK_STRING;
	t->q = '$';
	t->len = (size_t)(end - s) + dl - p;
	x->pos = p + t->len;
	return 0;
}

/* PostgreSQL numbers: digits, a fraction, an exponent only with digits. */
static void lex_pg_number(struct lx *x, struct tok *t, size_t p)
{
	const char *s = x->s;
	size_t n = x->len, i = p;

	while (i < n && (is_digit((unsigned char)s[i]) || s[i] == '_'))
		i++;
	if (i + 1 < n && s[i] == '.' && s[i + 1] != '.') {
		i++;
		while (i < n && (is_digit((unsigned char)s[i]) || s[i] == '_'))
			i++;
	}
	if (i < n && lower((unsigned char)s[i]) == 'e') {
		size_t j = i + 1;

		if (j < n && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j < n && is_digit((unsigned char)s[j])) {
			i = j;
			while (i < n && is_digit((unsigned char)s[i]))
				i++;
		}
	}
	t->kind = TK_NUM;
	t->off = p;
	t->len = i - p;
	x->pos = i;
}

/*
 * A line comment from p to the end of the line (not included): \n or \r
 * for PostgreSQL (scan.l's non_newline), only \n for MySQL, whose "# a\r
 * DELETE ..." is one comment. Ending it early would not be cautious: the
 * statement after it would seem to start with the comment's words.
 */
static int skip_line(struct lx *x, size_t p)
{
	size_t i = p;

	while (i < x->len && x->s[i] != '\n' && (x->d == SQL_MYSQL || x->s[i] != '\r')) {
		if (!x->s[i])
			return fail(x->err, x->errlen, -EINVAL, "NUL byte at byte %zu", i);
		i++;
	}
	x->pos = i;
	return 0;
}

/* PostgreSQL block comments nest. */
static int skip_pg_comment(struct lx *x)
{
	const char *s = x->s;
	size_t n = x->len, i = x->pos + 2, depth = 1;

	while (i + 1 < n) {
		if (s[i] == '/' && s[i + 1] == '*') {
			depth++;
			i += 2;
		} else if (s[i] == '*' && s[i + 1] == '/') {
			i += 2;
			if (!--depth) {
				x->pos = i;
				return 0;
			}
		} else {
			i++;
		}
	}
	return unterminated(x, "comment", x->pos);
}

/*
 * MySQL's skipping of a comment from i (sql_lex.cc consume_comment()):
 * nest levels of comment inside it are skipped too. Returns the index past
 * its end, or SIZE_MAX.
 */
static size_t my_consume_comment(const char *s, size_t n, size_t i, int nest)
{
	while (i < n) {
		char c = s[i++];

		if (nest > 0 && c == '/' && i < n && s[i] == '*') {
			i = my_consume_comment(s, n, i + 1, nest - 1);
			if (i == SIZE_MAX)
				return SIZE_MAX;
			continue;
		}
		if (c == '*' && i < n && s[i] == '/')
			return i + 1;
	}
	return SIZE_MAX;
}

/*
 * MySQL block comments do not nest, but the server runs some as code:
 * slash-star-bang always, slash-star-bang-NNNNN (5 digits; 6 for MariaDB)
 * when the server is at least version NNNNN (MariaDB ignores 50700-99999
 * there, MySQL's own), MariaDB's slash-star-M-bang likewise. Whether a
 * versioned one is code depends on the server, so without its version
 * (SQL_MODE_MY_VERSION) it is refused: read as code, its words would
 * start the statement the server starts after it. Skipped ones may hold
 * one nested comment, as the server skips them. Inside code, lx_next()
 * refuses a token holding the comment's end. An optimizer hint
 * (slash-star-plus) is lexed by MySQL with quoted identifiers, which may
 * hold the comment's end: one holding a quote is refused.
 */
static int skip_my_comment(struct lx *x)
{
	const char *s = x->s, *e;
	size_t n = x->len, p = x->pos, b = p + 2, i, nd = 0, end;
	unsigned long version = SQL_MODE_MY_VERSION_OF(x->mode), v = 0;
	bool mariadb = x->mode & SQL_MODE_MY_MARIADB, m, code = true;

	if (x->exec)
		return fail(x->err, x->errlen, -EINVAL,
			    "comment inside a version comment at byte %zu", p);
	m = b + 1 < n && s[b] == 'M' && s[b + 1] == '!';
	if ((b < n && s[b] == '!') || m) {
		i = b + (m ? 2 : 1);
		while (nd < 6 && i + nd < n && is_digit((unsigned char)s[i + nd]))
			nd++;
		if ((m || nd >= 5) && !version)
			return fail(x->err, x->errlen, -EINVAL,
				    "version comment at byte %zu, the server's version unknown", p);
		if (m && !mariadb)
			goto plain;	/* MySQL: an ordinary comment */
		if (nd == 6 && !mariadb)	/* how MySQL reads 6 digits: unsure */
			return fail(x->err, x->errlen, -EINVAL,
				    "6-digit version comment at byte %zu", p);
		if (nd >= 5) {
			size_t k;

			for (k = 0; k < nd; k++)
				v = v * 10 + (unsigned long)(s[i + k] - '0');
			code = v <= version && (!mariadb || v < 50700 || v > 99999 || m);
		}
		if (code) {
			x->exec = true;
			x->pos = nd >= 5 ? i + nd : i;
			return 0;
		}
		end = my_consume_comment(s, n, i, 1);
		if (end == SIZE_MAX)
			return unterminated(x, "version comment", p);
		if (memchr(s + b, 0, end - b))
			return fail(x->err, x->errlen, -EINVAL,
				    "NUL byte in the comment at byte %zu", p);
		x->pos = end;
		return 0;
	}
plain:
	e = memmem(s + b, n - b, "*/", 2);
	if (!e)
		return unterminated(x, "comment", p);
	if (memchr(s + b, 0, (size_t)(e - s) - b))
		return fail(x->err, x->errlen, -EINVAL, "NUL byte in the comment at byte %zu", p);
	if (b < n && s[b] == '+' &&
	    (memchr(s + b, '\'', (size_t)(e - s) - b) || memchr(s + b, '"', (size_t)(e - s) - b) ||
	     memchr(s + b, '`', (size_t)(e - s) - b)))
		return fail(x->err, x->errlen, -EINVAL,
			    "optimizer hint at byte %zu holds a quote", p);
	x->pos = (size_t)(e - s) + 2;
	return 0;
}

static int lex_raw(struct lx *x, struct tok *t)
{
	const char *s = x->s;
	size_t n = x->len;
	bool my = x->d == SQL_MYSQL;
	int rc;

	for (;;) {
		size_t p = x->pos, i;
		unsigned char c, c1, c2;

		memset(t, 0, sizeof(*t));
		if (p >= n) {
			if (x->exec)
				return unterminated(x, "version comment", p);
			t->kind = TK_END;
			t->off = n;
			return 0;
		}
		c = (unsigned char)s[p];
		c1 = p + 1 < n ? (unsigned char)s[p + 1] : 0;
		c2 = p + 2 < n ? (unsigned char)s[p + 2] : 0;
		if (!c)
			return fail(x->err, x->errlen, -EINVAL, "NUL byte at byte %zu", p);
		if (is_space(c)) {
			x->pos++;
			continue;
		}
		/* MySQL: "--" starts a comment only before space, a control
		 * byte or the end ("1--1" is 1 - -1) */
		if (c == '-' && c1 == '-' && (!my || p + 2 >= n || c2 <= ' ' || c2 == 0x7f)) {
			if (x->exec)
				return fail(x->err, x->errlen, -EINVAL,
					    "comment inside a version comment at byte %zu", p);
			if ((rc = skip_line(x, p + 2)))
				return rc;
			continue;
		}
		if (my && c == '#') {
			if (x->exec)
				return fail(x->err, x->errlen, -EINVAL,
					    "comment inside a version comment at byte %zu", p);
			if ((rc = skip_line(x, p + 1)))
				return rc;
			continue;
		}
		if (c == '/' && c1 == '*') {
			if ((rc = my ? skip_my_comment(x) : skip_pg_comment(x)))
				return rc;
			continue;
		}
		if (my && x->exec && c == '*' && c1 == '/') {
			x->exec = false;
			x->pos += 2;
			continue;
		}
		t->off = p;
		if (c == ';') {
			t->kind = TK_SEMI;
			t->len = 1;
			x->pos = p + 1;
			return 0;
		}
		if (c == '\'')
			return lex_string(x, t, p, p,
					  my ? !(x->mode & SQL_MODE_MY_NO_BACKSLASH_ESCAPES)
					     : !!(x->mode & SQL_MODE_PG_NONSTANDARD_STRINGS));
		if (c == '"')
			return my ? lex_my_dquote(x, t, p) : lex_qident(x, t, p, p);
		if (my && c == '`')
			return lex_qident(x, t, p, p);
		if (!my && c == '$')
			return lex_dollar(x, t, p);
		if (!my && is_ident_start(c)) {
			/* prefixed literals start a token: E'' always takes
			 * backslashes, B'' X'' U&'' never do */
			if (lower(c) == 'e' && c1 == '\'')
				return lex_string(x, t, p, p + 1, true);
			if ((lower(c) == 'b' || lower(c) == 'x') && c1 == '\'')
				return lex_string(x, t, p, p + 1, false);
			if (lower(c) == 'u' && c1 == '&' && c2 == '\'')
				return lex_string(x, t, p, p + 2, false);
			if (lower(c) == 'u' && c1 == '&' && c2 == '"') {
				rc = lex_qident(x, t, p, p + 2);
				t->uesc = true;
				return rc;
			}
		}
		if (my ? is_ident_cont(c) : is_ident_start(c)) {
			bool digits = true;

			for (i = p; i < n && is_ident_cont((unsigned char)s[i]); i++)
				digits = digits && is_digit((unsigned char)s[i]);
			t->kind = digits ? TK_NUM : TK_WORD;
			t->len = i - p;
			x->pos = i;
			return 0;
		}
		if (is_digit(c)) {
			lex_pg_number(x, t, p);
			return 0;
		}
		t->kind = TK_PUNCT;
		t->ch = (char)c;
		t->len = 1;
		x->pos = p + 1;
		return 0;
	}
}

/*
 * The next token, TK_END at the end of the text. Inside a MySQL version
 * comment no token may hold the comment's end: a server that skips the
 * comment for its version would end it there.
 */
static int lx_next(struct lx *x, struct tok *t)
{
	int rc = lex_raw(x, t);

	/* x->exec is now the state the token was read in */
	if (!rc && x->exec && t->len >= 2 && memmem(x->s + t->off, t->len, "*/", 2))
		return fail(x->err, x->errlen, -EINVAL,
			    "quoted text at byte %zu holds the end of its version comment", t->off);
	return rc;
}

/* -------------------------------------------------------------- stream */

/*
 * Tokens of one statement (or a part: a WITH query's body) with one token
 * of lookahead. Tokens at or past end read as TK_END; so does the ';'.
 * The lexer states before cur and before nxt let a part start at cur.
 */
struct ts {
	struct lx pre;		/* before cur */
	struct lx mid;		/* before nxt */
	struct lx x;		/* after nxt */
	size_t end;
	int *rc;		/* the analysis' sticky error */
	struct tok cur, nxt;
};

static void ts_get(struct ts *s, struct tok *t)
{
	int rc;

	if (*s->rc) {
		rc = *s->rc;
	} else {
		rc = lx_next(&s->x, t);
		if (rc)
			*s->rc = rc;
	}
	if (rc || t->kind == TK_SEMI || t->kind == TK_END || t->off >= s->end) {
		memset(t, 0, sizeof(*t));
		t->kind = TK_END;
		t->off = s->end;
		return;
	}
	if (t->kind == TK_WORD)
		t->kw = kw_lookup(s->x.s + t->off, t->len);
}

static void ts_init(struct ts *s, const struct lx *at, size_t end, int *rc)
{
	s->pre = *at;
	s->x = *at;
	s->end = end;
	s->rc = rc;
	ts_get(s, &s->cur);
	s->mid = s->x;
	if (s->cur.kind == TK_END)
		s->nxt = s->cur;
	else
		ts_get(s, &s->nxt);
}

static void adv(struct ts *s)
{
	if (s->cur.kind == TK_END)
		return;
	s->pre = s->mid;
	s->cur = s->nxt;
	s->mid = s->x;
	if (s->cur.kind != TK_END)
		ts_get(s, &s->nxt);
}

/* A stream of s's tokens from cur up to end. */
static void ts_sub(struct ts *out, const struct ts *s, size_t end)
{
	ts_init(out, &s->pre, end, s->rc);
}

static bool punct(const struct tok *t, char c)
{
	return t->kind == TK_PUNCT && t->ch == c;
}

static bool kw_in(const struct tok *t, enum kw k)
{
	return t->kind == TK_WORD && t->kw == k;
}

/* ------------------------------------------------------------- analysis */

struct cte {
	char name[SQL_NAME_MAX];
	size_t from, to;	/* where an unqualified reference means it */
};

struct an {
	const char *s;
	enum sql_dialect d;
	unsigned classes, flags;
	int rc;
	char *err;
	size_t errlen;
	struct sql_stmt *st;
	unsigned n_cte;
	struct cte cte[SQL_MAX_TABLES];
};

/* How sensitive a class is, for sql_stmt.cls: the policy may look only at it. */
static const unsigned char rank[SQL_NCLASSES] = {
	[SQL_READ] = 0, [SQL_TX] = 1, [SQL_WRITE] = 2,
	[SQL_DDL] = 3, [SQL_ADMIN] = 4, [SQL_DCL] = 5,
};

static enum sql_class worse(enum sql_class a, enum sql_class b)
{
	return rank[a] >= rank[b] ? a : b;
}

static void add_class(struct an *a, enum sql_class c)
{
	a->classes |= 1u << c;
}

/* Can t be (the first part of) a name? */
static bool name_tok(const struct an *a, const struct tok *t)
{
	return t->kind == TK_WORD || t->kind == TK_QIDENT ||
	       (a->d == SQL_MYSQL && t->kind == TK_STRING && t->q == '"');
}

/* Cut n bytes of p to at most max without splitting a UTF-8 sequence. */
static size_t clip_utf8(const char *p, size_t n, size_t max)
{
	size_t k;

	if (n <= max)
		return n;
	k = max;
	while (k > 0 && ((unsigned char)p[k] & 0xc0) == 0x80)
		k--;
	return k;
}

/*
 * One name part into out (cap bytes with the NUL): a word lower-cased, a
 * quoted identifier unquoted (kept exact for PostgreSQL, lower-cased for
 * MySQL), '*' as itself; PostgreSQL's 63-byte cut. Returns false when the
 * part may not be what the server reads: cut to fit cap, U&"..." escapes,
 * a backslash in MySQL's "...".
 */
static bool norm_part(const struct an *a, const struct tok *t, char *out, size_t cap)
{
	const char *s = a->s + t->off;
	bool my = a->d == SQL_MYSQL, sure = true;
	size_t n = 0, i, e;

	if (t->kind == TK_WORD || t->kind == TK_PUNCT) {
		e = t->len;
		for (i = 0; i < e && n + 1 < cap; i++)
			out[n++] = (char)lower((unsigned char)s[i]);
	} else {
		e = t->len - 1;
		sure = !t->uesc;
		for (i = t->uesc ? 3 : 1; i < e && n + 1 < cap; i++) {
			if (s[i] == t->q && i + 1 < e)
				i++;
			if (s[i] == '\\' && t->q == '"' && my)
				sure = false;
			out[n++] = my ? (char)lower((unsigned char)s[i]) : s[i];
		}
	}
	if (i < e) {
		/* cut: drop a character whose bytes did not all fit */
		unsigned char next = (unsigned char)s[i];

		while (n > 0 && (next & 0xc0) == 0x80)
			next = (unsigned char)out[--n];
		sure = false;
	}
	/* PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes itself */
	if (!my)
		n = clip_utf8(out, n, 63);
	out[n] = '\0';
	return sure;
}

/* The functions that turn a SELECT into more than a read. */
#define FN_PG 1
#define FN_MY 2
static const struct {
	const char *name;
	unsigned char dialects;
	enum sql_class cls;
} functions[] = {
	/* server files, programs, other sessions, other servers, settings */
	{ "pg_terminate_backend", FN_PG, SQL_ADMIN },
	{ "pg_cancel_backend", FN_PG, SQL_ADMIN },
	{ "pg_signal_backend", FN_PG, SQL_ADMIN },
	{ "pg_reload_conf", FN_PG, SQL_ADMIN },
	{ "pg_rotate_logfile", FN_PG, SQL_ADMIN },
	{ "pg_promote", FN_PG, SQL_ADMIN },
	{ "pg_read_file", FN_PG, SQL_ADMIN },
	{ "pg_read_binary_file", FN_PG, SQL_ADMIN },
	{ "pg_ls_dir", FN_PG, SQL_ADMIN },
	{ "pg_stat_file", FN_PG, SQL_ADMIN },
	{ "pg_ls_logdir", FN_PG, SQL_ADMIN },
	{ "pg_ls_waldir", FN_PG, SQL_ADMIN },
	{ "pg_ls_tmpdir", FN_PG, SQL_ADMIN },
	{ "pg_ls_archive_statusdir", FN_PG, SQL_ADMIN },
	{ "pg_ls_logicalsnapdir", FN_PG, SQL_ADMIN },
	{ "pg_ls_logicalmapdir", FN_PG, SQL_ADMIN },
	{ "pg_ls_replslotdir", FN_PG, SQL_ADMIN },
	{ "pg_file_write", FN_PG, SQL_ADMIN },
	{ "pg_file_unlink", FN_PG, SQL_ADMIN },
	{ "pg_file_rename", FN_PG, SQL_ADMIN },
	{ "pg_file_sync", FN_PG, SQL_ADMIN },
	{ "pg_logdir_ls", FN_PG, SQL_ADMIN },
	{ "lo_import", FN_PG, SQL_ADMIN },
	{ "lo_export", FN_PG, SQL_ADMIN },
	{ "dblink", FN_PG, SQL_ADMIN },
	{ "dblink_exec", FN_PG, SQL_ADMIN },
	{ "dblink_connect", FN_PG, SQL_ADMIN },
	{ "dblink_connect_u", FN_PG, SQL_ADMIN },
	{ "dblink_send_query", FN_PG, SQL_ADMIN },
	{ "dblink_open", FN_PG, SQL_ADMIN },
	{ "pg_switch_wal", FN_PG, SQL_ADMIN },
	{ "pg_create_restore_point", FN_PG, SQL_ADMIN },
	{ "pg_backup_start", FN_PG, SQL_ADMIN },
	{ "pg_backup_stop", FN_PG, SQL_ADMIN },
	{ "pg_start_backup", FN_PG, SQL_ADMIN },
	{ "pg_stop_backup", FN_PG, SQL_ADMIN },
	{ "pg_create_physical_replication_slot", FN_PG, SQL_ADMIN },
	{ "pg_create_logical_replication_slot", FN_PG, SQL_ADMIN },
	{ "pg_drop_replication_slot", FN_PG, SQL_ADMIN },
	{ "pg_copy_physical_replication_slot", FN_PG, SQL_ADMIN },
	{ "pg_copy_logical_replication_slot", FN_PG, SQL_ADMIN },
	{ "pg_replication_slot_advance", FN_PG, SQL_ADMIN },
	{ "pg_logical_slot_get_changes", FN_PG, SQL_ADMIN },
	{ "pg_logical_slot_peek_changes", FN_PG, SQL_ADMIN },
	{ "pg_logical_slot_get_binary_changes", FN_PG, SQL_ADMIN },
	{ "pg_logical_slot_peek_binary_changes", FN_PG, SQL_ADMIN },
	{ "pg_wal_replay_pause", FN_PG, SQL_ADMIN },
	{ "pg_wal_replay_resume", FN_PG, SQL_ADMIN },
	{ "pg_log_backend_memory_contexts", FN_PG, SQL_ADMIN },
	{ "set_config", FN_PG, SQL_ADMIN },
	{ "load_file", FN_MY, SQL_ADMIN },
	{ "sys_exec", FN_MY, SQL_ADMIN },
	{ "sys_eval", FN_MY, SQL_ADMIN },
	/* writes: sequences, notifications, large objects, SQL run from text */
	{ "nextval", FN_PG, SQL_WRITE },
	{ "setval", FN_PG, SQL_WRITE },
	{ "pg_notify", FN_PG, SQL_WRITE },
	{ "pg_logical_emit_message", FN_PG, SQL_WRITE },
	{ "lo_create", FN_PG, SQL_WRITE },
	{ "lo_creat", FN_PG, SQL_WRITE },
	{ "lo_unlink", FN_PG, SQL_WRITE },
	{ "lo_from_bytea", FN_PG, SQL_WRITE },
	{ "lo_put", FN_PG, SQL_WRITE },
	{ "lowrite", FN_PG, SQL_WRITE },
	{ "lo_truncate", FN_PG, SQL_WRITE },
	{ "lo_truncate64", FN_PG, SQL_WRITE },
	{ "query_to_xml", FN_PG, SQL_WRITE },
	{ "query_to_xmlschema", FN_PG, SQL_WRITE },
	{ "query_to_xml_and_xmlschema", FN_PG, SQL_WRITE },
};

/*
 * t is followed by '(': a call. A listed function adds its class. A name in
 * U&"..." may spell any of them behind its escapes: it counts as admin.
 */
static void check_fn(struct an *a, const struct tok *t)
{
	char name[64];
	size_t i;

	if (t->kind == TK_QIDENT && t->uesc) {
		add_class(a, SQL_ADMIN);
		a->flags |= SQL_F_FUNC;
		return;
	}
	if (!name_tok(a, t) || t->len >= sizeof(name))
		return;
	norm_part(a, t, name, sizeof(name));
	for (i = 0; i < sizeof(functions) / sizeof(functions[0]); i++) {
		if (!(functions[i].dialects & (a->d == SQL_MYSQL ? FN_MY : FN_PG)) ||
		    strcmp(functions[i].name, name))
			continue;
		add_class(a, functions[i].cls);
		a->flags |= SQL_F_FUNC;
		return;
	}
}

/* Add a table (dotted name from the token at off) unless known or a CTE. */
static void record(struct an *a, const char *name, size_t off, unsigned parts)
{
	struct sql_stmt *st = a->st;
	unsigned i;

	if (a->rc || !name[0])
		return;
	if (parts == 1)
		for (i = 0; i < a->n_cte; i++)
			if (off >= a->cte[i].from && off < a->cte[i].to &&
			    !strcmp(a->cte[i].name, name))
				return;
	for (i = 0; i < st->n_tables; i++)
		if (!strcmp(st->tables[i], name))
			return;
	if (st->n_tables == SQL_MAX_TABLES) {
		a->rc = fail(a->err, a->errlen, -E2BIG,
			     "more than %d tables in the statement at byte %zu", SQL_MAX_TABLES,
			     st->off);
		return;
	}
	memcpy(st->tables[st->n_tables++], name, strlen(name) + 1);
}

/* ---------------------------------------------------------- classifier */

static int classify(struct an *a, struct ts s, int level, enum sql_class *out);

/*
 * From s.cur, find the first k outside parentheses; *at (may be NULL) gets
 * the stream positioned on it. Parentheses closing below the start (the
 * statement itself was parenthesised) still count as outside.
 */
static bool find_top(struct ts s, enum kw k, struct ts *at)
{
	long depth = 0;

	for (; s.cur.kind != TK_END; adv(&s)) {
		if (punct(&s.cur, '('))
			depth++;
		else if (punct(&s.cur, ')'))
			depth--;
		else if (depth <= 0 && kw_in(&s.cur, k)) {
			if (at)
				*at = s;
			return true;
		}
	}
	return false;
}

/* s.cur is '(': move past its ')'; *close is where that ')' is. */
static void skip_group(struct ts *s, size_t *close)
{
	size_t depth = 0;

	for (; s->cur.kind != TK_END; adv(s)) {
		if (punct(&s->cur, '(')) {
			depth++;
		} else if (punct(&s->cur, ')') && !--depth) {
			*close = s->cur.off;
			adv(s);
			return;
		}
	}
	*close = s->cur.off;
}

static void set_object(struct an *a, const struct tok *t)
{
	if (name_tok(a, t))
		norm_part(a, t, a->st->object, sizeof(a->st->object));
}

/* The part of s from s.cur on, classified one level deeper. */
static int sub_classify(struct an *a, const struct ts *s, size_t end, int level,
			enum sql_class *out)
{
	struct ts sub;

	ts_sub(&sub, s, end);
	return classify(a, sub, level + 1, out);
}

/* SELECT, VALUES, TABLE (s after the verb). */
static enum sql_class cls_select(struct an *a, struct ts s)
{
	enum sql_class c = SQL_READ;
	long depth = 0;

	for (; s.cur.kind != TK_END; adv(&s)) {
		if (punct(&s.cur, '('))
			depth++;
		else if (punct(&s.cur, ')'))
			depth--;
		if (depth > 0 || s.cur.kind != TK_WORD)
			continue;
		switch (s.cur.kw) {
		case KW_INTO:
			/* PostgreSQL's SELECT INTO creates a table; MySQL's
			 * fills variables, or writes a server file */
			if (a->d == SQL_POSTGRES)
				c = worse(c, SQL_DDL);
			else if (kw_in(&s.nxt, KW_OUTFILE) || kw_in(&s.nxt, KW_DUMPFILE))
				c = worse(c, SQL_ADMIN);
			break;
		case KW_FOR:
			if (kw_in(&s.nxt, KW_UPDATE) || kw_in(&s.nxt, KW_SHARE) ||
			    kw_in(&s.nxt, KW_NO) || kw_in(&s.nxt, KW_KEY))
				a->flags |= SQL_F_LOCKS;
			break;
		case KW_LOCK:
			if (kw_in(&s.nxt, KW_IN))
				a->flags |= SQL_F_LOCKS;
			break;
		default:
			break;
		}
	}
	return c;
}

/* WITH [RECURSIVE] name [(cols)] AS [[NOT] MATERIALIZED] (body), ... main */
static int cls_with(struct an *a, struct ts s, int level, enum sql_class *out)
{
	enum sql_class c = SQL_READ, b;
	bool recursive = false;
	size_t close;
	int rc;

	*out = SQL_WRITE;
	if (kw_in(&s.cur, KW_RECURSIVE)) {
		recursive = true;
		adv(&s);
	}
	for (;;) {
		struct tok name = s.cur;
		struct ts body;

		if (!name_tok(a, &name))
			return 0;
		adv(&s);
		if (punct(&s.cur, '('))
			skip_group(&s, &close);
		if (!kw_in(&s.cur, KW_AS))
			return 0;
		adv(&s);
		if (kw_in(&s.cur, KW_NOT))
			adv(&s);
		if (kw_in(&s.cur, KW_MATERIALIZED))
			adv(&s);
		if (!punct(&s.cur, '('))
			return 0;
		body = s;
		adv(&body);
		skip_group(&s, &close);
		if ((rc = sub_classify(a, &body, close, level, &b)))
			return rc;
		c = worse(c, b);
		if (a->n_cte < SQL_MAX_TABLES) {
			struct cte *q = &a->cte[a->n_cte++];

			norm_part(a, &name, q->name, sizeof(q->name));
			q->from = recursive ? body.cur.off : close;
			q->to = s.end;
		}
		/* SEARCH ... SET col, CYCLE ... SET col ... USING col */
		while (kw_in(&s.cur, KW_SEARCH) || kw_in(&s.cur, KW_CYCLE)) {
			enum kw until = kw_in(&s.cur, KW_SEARCH) ? KW_SET : KW_USING;

			if (!find_top(s, until, &s))
				return 0;
			adv(&s);
			adv(&s);
		}
		if (!punct(&s.cur, ','))
			break;
		adv(&s);
	}
	if ((rc = sub_classify(a, &s, s.end, level, &b)))
		return rc;
	*out = worse(c, b);
	return 0;
}

static bool false_value(const struct an *a, const struct tok *t)
{
	return kw_in(t, KW_FALSE) || kw_in(t, KW_OFF) || kw_in(t, KW_NO) ||
	       (t->kind == TK_NUM && t->len == 1 && a->s[t->off] == '0');
}

/* EXPLAIN / DESCRIBE / DESC: its statement's class only with ANALYZE. */
static int cls_explain(struct an *a, struct ts s, int level, enum sql_class *out)
{
	unsigned classes = a->classes, flags = a->flags;
	bool analyze = false;
	enum sql_class in;
	int rc;

	if (a->d == SQL_POSTGRES && punct(&s.cur, '(')) {
		struct ts o = s;
		size_t close;

		skip_group(&s, &close);
		for (adv(&o); o.cur.kind != TK_END && o.cur.off < close; adv(&o))
			if ((kw_in(&o.cur, KW_ANALYZE) || kw_in(&o.cur, KW_ANALYSE)) &&
			    !false_value(a, &o.nxt))
				analyze = true;
	}
	for (;;) {
		if (kw_in(&s.cur, KW_ANALYZE) || kw_in(&s.cur, KW_ANALYSE)) {
			analyze = true;
			adv(&s);
		} else if (kw_in(&s.cur, KW_VERBOSE) || kw_in(&s.cur, KW_EXTENDED) ||
			   kw_in(&s.cur, KW_PARTITIONS)) {
			adv(&s);
		} else if (kw_in(&s.cur, KW_FORMAT)) {
			adv(&s);
			if (punct(&s.cur, '='))
				adv(&s);
			adv(&s);
		} else {
			break;
		}
	}
	if ((rc = sub_classify(a, &s, s.end, level, &in)))
		return rc;
	if (analyze) {
		*out = in;
	} else {
		/* planned, not run: what it would do does not count */
		a->classes = classes;
		a->flags = flags;
		*out = SQL_READ;
	}
	return 0;
}

/* PREPARE name [(types)] AS stmt; PREPARE TRANSACTION 'gid'; MySQL's FROM. */
static int cls_prepare(struct an *a, struct ts s, int level, enum sql_class *out)
{
	size_t close;

	*out = SQL_WRITE;
	if (kw_in(&s.cur, KW_TRANSACTION) && s.nxt.kind == TK_STRING) {
		*out = SQL_TX;
		return 0;
	}
	set_object(a, &s.cur);
	if (a->d == SQL_MYSQL)
		return 0;	/* the text is in a string or a variable */
	adv(&s);
	if (punct(&s.cur, '('))
		skip_group(&s, &close);
	if (!kw_in(&s.cur, KW_AS))
		return 0;
	adv(&s);
	return sub_classify(a, &s, s.end, level, out);
}

/* PostgreSQL COPY: the direction and the far end decide. */
static int cls_copy(struct an *a, struct ts s, int level, enum sql_class *out)
{
	enum sql_class c, in = SQL_READ;
	struct ts at;
	size_t close;
	int rc;

	if (punct(&s.cur, '(')) {
		struct ts q = s;

		adv(&q);
		skip_group(&s, &close);
		if ((rc = sub_classify(a, &q, close, level, &in)))
			return rc;
	}
	if (find_top(s, KW_FROM, &at)) {
		adv(&at);
		if (kw_in(&at.cur, KW_PROGRAM) || at.cur.kind == TK_STRING) {
			add_class(a, SQL_WRITE);
			c = SQL_ADMIN;
		} else {
			c = SQL_WRITE;
		}
	} else if (find_top(s, KW_TO, &at)) {
		adv(&at);
		if (kw_in(&at.cur, KW_PROGRAM) || at.cur.kind == TK_STRING)
			c = SQL_ADMIN;
		else if (kw_in(&at.cur, KW_STDOUT))
			c = SQL_READ;
		else
			c = SQL_WRITE;
	} else {
		c = SQL_WRITE;
	}
	*out = worse(c, in);
	return 0;
}

/* MySQL LOAD DATA/XML: LOCAL reads the client's file; else the server's. */
static enum sql_class cls_load(struct an *a, struct ts s)
{
	if (a->d == SQL_POSTGRES)
		return SQL_ADMIN;	/* LOAD 'library' */
	if (!kw_in(&s.cur, KW_DATA) && !kw_in(&s.cur, KW_XML))
		return SQL_ADMIN;	/* LOAD INDEX INTO CACHE */
	for (; s.cur.kind != TK_END && !kw_in(&s.cur, KW_INFILE); adv(&s))
		if (kw_in(&s.cur, KW_LOCAL))
			return SQL_WRITE;
	add_class(a, SQL_WRITE);
	return SQL_ADMIN;
}

static enum sql_class cls_set(struct an *a, struct ts s)
{
	struct ts g = s;
	enum kw k;

	for (; g.cur.kind != TK_END; adv(&g))
		if (kw_in(&g.cur, KW_GLOBAL) || kw_in(&g.cur, KW_PERSIST) ||
		    kw_in(&g.cur, KW_PERSIST_ONLY))
			return SQL_ADMIN;
	while (punct(&s.cur, '@'))
		adv(&s);
	if (kw_in(&s.cur, KW_SESSION) || kw_in(&s.cur, KW_LOCAL)) {
		adv(&s);
		if (kw_in(&s.cur, KW_AUTHORIZATION))
			return SQL_DCL;
		if (kw_in(&s.cur, KW_CHARACTERISTICS))
			return SQL_TX;
		if (punct(&s.cur, '.'))
			adv(&s);
	}
	k = s.cur.kind == TK_WORD ? s.cur.kw : KW_NONE;
	switch (k) {
	case KW_ROLE:
	case KW_PASSWORD:
	case KW_SESSION_AUTHORIZATION:	/* SET session_authorization = ... */
		return SQL_DCL;
	case KW_DEFAULT:
		return kw_in(&s.nxt, KW_ROLE) ? SQL_DCL : SQL_ADMIN;
	case KW_TRANSACTION:
	case KW_CONSTRAINTS:
		return SQL_TX;
	case KW_AUTOCOMMIT:
		/* alone: SET autocommit = 0, sql_mode = '' sets more */
		if (a->d != SQL_MYSQL)
			return SQL_ADMIN;
		for (; s.cur.kind != TK_END; adv(&s))
			if (punct(&s.cur, ','))
				return SQL_ADMIN;
		return SQL_TX;
	default:
		return SQL_ADMIN;
	}
}

/* CREATE / ALTER / DROP: who and what they are about. */
static enum sql_class cls_cad(struct an *a, struct ts s, enum kw verb)
{
	if (verb == KW_CREATE) {
		if (kw_in(&s.cur, KW_OR) && kw_in(&s.nxt, KW_REPLACE)) {
			adv(&s);
			adv(&s);
		}
		while (kw_in(&s.cur, KW_TEMP) || kw_in(&s.cur, KW_TEMPORARY) ||
		       kw_in(&s.cur, KW_GLOBAL) || kw_in(&s.cur, KW_LOCAL) ||
		       kw_in(&s.cur, KW_UNLOGGED) || kw_in(&s.cur, KW_UNIQUE))
			adv(&s);
	}
	if (s.cur.kind != TK_WORD)
		return SQL_DDL;
	switch (s.cur.kw) {
	case KW_ROLE:
	case KW_GROUP:
	case KW_POLICY:
		return SQL_DCL;
	case KW_USER:
		return kw_in(&s.nxt, KW_MAPPING) ? SQL_DDL : SQL_DCL;
	case KW_DEFAULT:
		return verb == KW_ALTER ? SQL_DCL : SQL_DDL;	/* DEFAULT PRIVILEGES */
	case KW_SYSTEM:
	case KW_INSTANCE:
		return verb == KW_ALTER ? SQL_ADMIN : SQL_DDL;
	case KW_PREPARE:
		if (verb != KW_DROP)
			return SQL_DDL;
		set_object(a, &s.nxt);	/* MySQL DROP PREPARE name */
		return SQL_READ;
	default:
		return SQL_DDL;
	}
}

/*
 * BEGIN, START TRANSACTION, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, END,
 * ABORT: transaction control only when every word is one of theirs.
 * MariaDB's BEGIN NOT ATOMIC ... END runs a compound statement.
 */
static enum sql_class cls_tx(struct ts s, enum kw verb)
{
	bool name_ok = verb == KW_SAVEPOINT || verb == KW_RELEASE;

	for (; s.cur.kind != TK_END; adv(&s)) {
		if (s.cur.kind == TK_WORD) {
			switch (s.cur.kw) {
			case KW_SAVEPOINT:
			case KW_TO:
				name_ok = true;
				continue;
			case KW_WORK:
			case KW_TRANSACTION:
			case KW_ISOLATION:
			case KW_LEVEL:
			case KW_READ:
			case KW_WRITE:
			case KW_ONLY:
			case KW_COMMITTED:
			case KW_UNCOMMITTED:
			case KW_REPEATABLE:
			case KW_SERIALIZABLE:
			case KW_NOT:
			case KW_DEFERRABLE:
			case KW_AND:
			case KW_NO:
			case KW_CHAIN:
			case KW_RELEASE:
			case KW_WITH:
			case KW_CONSISTENT:
			case KW_SNAPSHOT:
			case KW_PREPARED:
				name_ok = false;
				continue;
			default:
				if (!name_ok)
					return SQL_WRITE;
				name_ok = false;
				continue;
			}
		}
		if (s.cur.kind == TK_QIDENT && name_ok) {
			name_ok = false;
			continue;
		}
		if (s.cur.kind == TK_STRING || punct(&s.cur, ','))
			continue;
		return SQL_WRITE;
	}
	return SQL_TX;
}

/* PostgreSQL DECLARE name ... CURSOR ... FOR query. */
static int cls_declare(struct an *a, struct ts s, int level, enum sql_class *out)
{
	struct ts at;

	*out = SQL_WRITE;
	if (!find_top(s, KW_CURSOR, &at) || !find_top(at, KW_FOR, &at))
		return 0;
	adv(&at);
	return sub_classify(a, &at, at.end, level, out);
}

static int classify(struct an *a, struct ts s, int level, enum sql_class *out)
{
	enum sql_class c = SQL_WRITE;
	enum kw v;
	int rc = 0;

	if (level > SQL_MAX_DEPTH)
		return fail(a->err, a->errlen, -E2BIG, "statement at byte %zu nests deeper than %d",
			    a->st->off, SQL_MAX_DEPTH);
	while (punct(&s.cur, '('))
		adv(&s);
	if (s.cur.kind != TK_WORD)
		goto out;	/* unrecognised: write */
	v = s.cur.kw;
	adv(&s);
	switch (v) {
	case KW_SELECT:
	case KW_VALUES:
	case KW_TABLE:
		c = cls_select(a, s);
		break;
	case KW_WITH:
		rc = cls_with(a, s, level, &c);
		break;
	case KW_EXPLAIN:
	case KW_DESCRIBE:
	case KW_DESC:
		rc = cls_explain(a, s, level, &c);
		break;
	case KW_UPDATE:
	case KW_DELETE:
		if (!find_top(s, KW_WHERE, NULL))
			a->flags |= SQL_F_NO_WHERE;
		c = SQL_WRITE;
		break;
	case KW_TRUNCATE:
		a->flags |= SQL_F_NO_WHERE;
		c = SQL_WRITE;
		break;
	case KW_LOCK:
		c = kw_in(&s.cur, KW_INSTANCE) ? SQL_ADMIN : SQL_WRITE;
		break;
	case KW_EXECUTE:
		set_object(a, &s.cur);
		c = SQL_WRITE;
		break;
	case KW_PREPARE:
		rc = cls_prepare(a, s, level, &c);
		break;
	case KW_DEALLOCATE:
		if (kw_in(&s.cur, KW_PREPARE))
			adv(&s);
		if (!kw_in(&s.cur, KW_ALL))
			set_object(a, &s.cur);
		c = SQL_READ;
		break;
	case KW_COPY:
		if (a->d == SQL_POSTGRES)
			rc = cls_copy(a, s, level, &c);
		break;
	case KW_LOAD:
		c = cls_load(a, s);
		break;
	case KW_SET:
		c = cls_set(a, s);
		break;
	case KW_RESET:
		c = kw_in(&s.cur, KW_ROLE) || kw_in(&s.cur, KW_SESSION) ||
				    kw_in(&s.cur, KW_SESSION_AUTHORIZATION)
			    ? SQL_DCL
			    : SQL_ADMIN;
		break;
	case KW_CREATE:
	case KW_ALTER:
	case KW_DROP:
		c = cls_cad(a, s, v);
		break;
	case KW_RENAME:
		c = kw_in(&s.cur, KW_USER) ? SQL_DCL : SQL_DDL;
		break;
	case KW_GRANT:
	case KW_REVOKE:
	case KW_REASSIGN:
		c = SQL_DCL;
		break;
	case KW_COMMENT:
	case KW_SECURITY:
		c = SQL_DDL;
		break;
	case KW_IMPORT:
		c = a->d == SQL_POSTGRES ? SQL_DDL : SQL_ADMIN;
		break;
	case KW_START:
		c = kw_in(&s.cur, KW_TRANSACTION) ? cls_tx(s, v) : SQL_ADMIN;
		break;
	case KW_BEGIN:
	case KW_COMMIT:
	case KW_ROLLBACK:
	case KW_SAVEPOINT:
	case KW_RELEASE:
	case KW_END:
	case KW_ABORT:
		c = cls_tx(s, v);
		break;
	case KW_XA:
	case KW_UNLOCK:
		c = SQL_TX;
		break;
	case KW_DECLARE:
		rc = cls_declare(a, s, level, &c);
		break;
	case KW_SHOW:
	case KW_HELP:
	case KW_FETCH:
	case KW_MOVE:
	case KW_CLOSE:
	case KW_LISTEN:
	case KW_UNLISTEN:
	case KW_HANDLER:
		c = SQL_READ;
		break;
	case KW_VACUUM:
	case KW_ANALYZE:
	case KW_ANALYSE:
	case KW_CLUSTER:
	case KW_REINDEX:
	case KW_CHECKPOINT:
	case KW_KILL:
	case KW_SHUTDOWN:
	case KW_RESTART:
	case KW_FLUSH:
	case KW_OPTIMIZE:
	case KW_REPAIR:
	case KW_CHECK:
	case KW_CHECKSUM:
	case KW_INSTALL:
	case KW_UNINSTALL:
	case KW_PURGE:
	case KW_CHANGE:
	case KW_STOP:
	case KW_DISCARD:
	case KW_USE:
	case KW_CACHE:
	case KW_BINLOG:
	case KW_CLONE:
		c = SQL_ADMIN;
		break;
	default:
		/* INSERT, MERGE, UPSERT, REPLACE, CALL, DO, NOTIFY, REFRESH,
		 * and whatever is not known */
		c = SQL_WRITE;
		break;
	}
out:
	if (!rc)
		rc = a->rc;
	add_class(a, c);
	*out = c;
	return rc;
}

/* -------------------------------------------------------------- tables */

enum ctx {
	CTX_FROM,	/* FROM, JOIN, lists: name( is a function; ( an item */
	CTX_USING,	/* USING: name( is a function; ( is a column list */
	CTX_INTO,	/* INTO, INSERT, REPLACE */
	CTX_TABLE,	/* TABLE, VIEW, UPDATE, COPY, TRUNCATE, ... */
	CTX_GRANT,	/* GRANT/REVOKE ... ON: db.* and object kinds */
	CTX_EXPLAIN,	/* MySQL DESCRIBE t */
};

/* Words that end a name position rather than start a name. */
static bool stopper(enum kw k, enum ctx ctx)
{
	switch (k) {
	case KW_SELECT:
	case KW_FROM:
	case KW_WHERE:
	case KW_ON:
	case KW_USING:
	case KW_AS:
	case KW_SET:
	case KW_VALUES:
	case KW_DEFAULT:
	case KW_WITH:
	case KW_GROUP:
	case KW_ORDER:
	case KW_LIMIT:
	case KW_HAVING:
	case KW_WINDOW:
	case KW_UNION:
	case KW_EXCEPT:
	case KW_INTERSECT:
	case KW_RETURNING:
	case KW_FOR:
	case KW_OF:
	case KW_JOIN:
	case KW_INNER:
	case KW_LEFT:
	case KW_RIGHT:
	case KW_FULL:
	case KW_CROSS:
	case KW_NATURAL:
	case KW_OUTER:
	case KW_NOT:
	case KW_AND:
	case KW_OR:
	case KW_IN:
	case KW_IS:
	case KW_NULL:
	case KW_TRUE:
	case KW_FALSE:
	case KW_ALL:
	case KW_DISTINCT:
	case KW_INTO:
	case KW_TO:
	case KW_DUAL:
	case KW_OUTFILE:
	case KW_DUMPFILE:
	case KW_STDIN:
	case KW_STDOUT:
	case KW_PROGRAM:
	case KW_CURRENT:
	case KW_COMMIT:
	case KW_DELETE:
	case KW_UPDATE:
	case KW_INSERT:
	case KW_LIKE:
	case KW_WHEN:
	case KW_THEN:
	case KW_CASE:
	case KW_TABLE:
	case KW_ANALYZE:
	case KW_ANALYSE:
	case KW_VERBOSE:
		return true;
	case KW_SCHEMA:
	case KW_DATABASE:
	case KW_FUNCTION:
	case KW_PROCEDURE:
	case KW_ROUTINE:
	case KW_SEQUENCE:
	case KW_LANGUAGE:
	case KW_TABLESPACE:
	case KW_DOMAIN:
	case KW_TYPE:
	case KW_FOREIGN:
	case KW_LARGE:
	case KW_PARAMETER:
		return ctx == CTX_GRANT;
	case KW_FORMAT:
	case KW_EXTENDED:
	case KW_PARTITIONS:
	case KW_REPLACE:
		return ctx == CTX_EXPLAIN;
	default:
		return false;
	}
}

static bool name_start(const struct an *a, const struct tok *t, enum ctx ctx)
{
	if (t->kind == TK_WORD)
		return !stopper(t->kw, ctx);
	return name_tok(a, t) || (ctx == CTX_GRANT && punct(t, '*'));
}

/* Modifiers between a keyword and its name: skipped when a name follows. */
static bool modifier(enum kw k, enum ctx ctx)
{
	switch (k) {
	case KW_ONLY:
	case KW_LATERAL:
	case KW_CONCURRENTLY:
	case KW_LOW_PRIORITY:
	case KW_HIGH_PRIORITY:
	case KW_DELAYED:
	case KW_QUICK:
	case KW_IGNORE:
		return true;
	case KW_TEMP:
	case KW_TEMPORARY:
	case KW_UNLOGGED:
	case KW_TABLE:
	case KW_TABLES:
		return ctx == CTX_INTO || ctx == CTX_TABLE || ctx == CTX_GRANT;
	default:
		return false;
	}
}

/*
 * The table name at s->cur, if one is there: recorded, s moved past it.
 * Returns whether a name was there (in FROM, also a parenthesised item,
 * whose first name *fpend asks the caller to read).
 */
static bool read_name(struct an *a, struct ts *s, enum ctx ctx, bool *fpend)
{
	char name[SQL_NAME_MAX], part[SQL_NAME_MAX];
	size_t n = 0, pl;
	unsigned parts = 0, i;
	struct tok first, last;

	if (kw_in(&s->cur, KW_IF) && (kw_in(&s->nxt, KW_NOT) || kw_in(&s->nxt, KW_EXISTS))) {
		adv(s);
		if (kw_in(&s->cur, KW_NOT))
			adv(s);
		if (kw_in(&s->cur, KW_EXISTS))
			adv(s);
	}
	/* "INSERT INTO temp VALUES": temp is the name, not a modifier */
	for (i = 0; i < 4 && s->cur.kind == TK_WORD && modifier(s->cur.kw, ctx) &&
		    (name_start(a, &s->nxt, ctx) ||
		     (kw_in(&s->cur, KW_LATERAL) && punct(&s->nxt, '(')));
	     i++)
		adv(s);
	/* ODBC's { OJ a LEFT OUTER JOIN b ON ... } (MySQL) */
	if (ctx == CTX_FROM && punct(&s->cur, '{') && s->nxt.kind == TK_WORD &&
	    s->nxt.kw == KW_OJ) {
		adv(s);
		adv(s);
	}
	if (punct(&s->cur, '(')) {
		if (ctx != CTX_FROM)
			return false;
		*fpend = true;
		return true;
	}
	if (!name_start(a, &s->cur, ctx))
		return false;
	first = s->cur;
	for (;;) {
		last = s->cur;
		if (!norm_part(a, &s->cur, part, sizeof(part)))
			a->flags |= SQL_F_NAME_UNSURE;
		if (++parts > 3)
			a->flags |= SQL_F_NAME_UNSURE;
		pl = strlen(part);
		if (n + (n > 0) + pl + 1 > sizeof(name)) {
			a->flags |= SQL_F_NAME_UNSURE;
			if (n + 1 < sizeof(name)) {
				if (n)
					name[n++] = '.';
				pl = clip_utf8(part, pl, sizeof(name) - 1 - n);
				memcpy(name + n, part, pl);
				n += pl;
			}
		} else {
			if (n)
				name[n++] = '.';
			memcpy(name + n, part, pl);
			n += pl;
		}
		name[n] = '\0';
		adv(s);
		if (punct(&s->cur, '.') &&
		    (name_tok(a, &s->nxt) || (ctx == CTX_GRANT && punct(&s->nxt, '*')))) {
			adv(s);
			continue;
		}
		break;
	}
	if ((ctx == CTX_FROM || ctx == CTX_USING) && punct(&s->cur, '(')) {
		check_fn(a, &last);	/* a function, not a table */
		return true;
	}
	if (parts == 1 && kw_in(&first, KW_ROWS) && kw_in(&s->cur, KW_FROM))
		return true;	/* ROWS FROM (...) */
	record(a, name, first.off, parts);
	return true;
}

static bool starts_query(const struct tok *t)
{
	return kw_in(t, KW_SELECT) || kw_in(t, KW_WITH) || kw_in(t, KW_VALUES) ||
	       kw_in(t, KW_TABLE) || kw_in(t, KW_INSERT) || kw_in(t, KW_UPDATE) ||
	       kw_in(t, KW_DELETE) || kw_in(t, KW_MERGE);
}

/* Statements whose TABLE/TABLES start a comma-separated list of tables. */
static bool list_verb(enum kw v)
{
	switch (v) {
	case KW_DROP:
	case KW_TRUNCATE:
	case KW_LOCK:
	case KW_OPTIMIZE:
	case KW_ANALYZE:
	case KW_CHECK:
	case KW_REPAIR:
	case KW_CHECKSUM:
	case KW_FLUSH:
	case KW_RENAME:
	case KW_GRANT:
	case KW_REVOKE:
		return true;
	default:
		return false;
	}
}

/* Words after which a list of FROM items is over at this depth. */
static bool ends_list(enum kw k)
{
	switch (k) {
	case KW_WHERE:
	case KW_GROUP:
	case KW_HAVING:
	case KW_ORDER:
	case KW_LIMIT:
	case KW_OFFSET:
	case KW_FETCH:
	case KW_WINDOW:
	case KW_UNION:
	case KW_INTERSECT:
	case KW_EXCEPT:
	case KW_MINUS:
	case KW_RETURNING:
	case KW_SET:
	case KW_VALUES:
	case KW_SELECT:
	case KW_FOR:
	case KW_TO:
	case KW_FROM:
		return true;
	default:
		return false;
	}
}

/*
 * One pass over every token of the statement, at every depth: the tables
 * it names and the listed functions it calls. Per parenthesis depth (up to
 * 64) it keeps whether a list of tables is open there (FROM a, b) and
 * whether the parenthesis holds a query (where FROM names tables) rather
 * than a call (EXTRACT(YEAR FROM ts)).
 */
static void tables(struct an *a, struct ts s)
{
	uint64_t qp = 1, lst = 0, bit;
	size_t depth = 0;
	enum kw verb = KW_NONE, obj = KW_NONE, prev = KW_NONE;
	bool first = true, on_done = false, fpend = false, vpos;
	enum ctx lctx;
	struct ts v = s;

	while (punct(&v.cur, '('))
		adv(&v);
	if (v.cur.kind == TK_WORD) {
		verb = v.cur.kw;
		adv(&v);
		while (kw_in(&v.cur, KW_OR) || kw_in(&v.cur, KW_REPLACE) ||
		       kw_in(&v.cur, KW_UNIQUE) || kw_in(&v.cur, KW_TEMP) ||
		       kw_in(&v.cur, KW_TEMPORARY))
			adv(&v);
		if (v.cur.kind == TK_WORD)
			obj = v.cur.kw;
	}
	lctx = verb == KW_GRANT || verb == KW_REVOKE ? CTX_GRANT : CTX_FROM;

	while (s.cur.kind != TK_END && !a->rc) {
		struct tok t = s.cur;

		bit = depth < 64 ? (uint64_t)1 << depth : 0;
		if (punct(&t, '(')) {
			bool fp = fpend;

			fpend = false;
			depth++;
			adv(&s);
			bit = depth < 64 ? (uint64_t)1 << depth : 0;
			lst &= ~bit;
			if (starts_query(&s.cur))
				qp |= bit;
			else
				qp &= ~bit;
			if (fp && punct(&s.cur, '('))
				fpend = true;
			else if (fp && !starts_query(&s.cur))
				read_name(a, &s, CTX_FROM, &fpend);	/* (a JOIN b ...) */
			prev = KW_NONE;
			continue;
		}
		if (punct(&t, ')')) {
			lst &= ~bit;
			if (depth)
				depth--;
			prev = KW_NONE;
			adv(&s);
			continue;
		}
		if (punct(&t, ',') && (lst & bit)) {
			adv(&s);
			read_name(a, &s, lctx, &fpend);
			prev = KW_NONE;
			continue;
		}
		if (punct(&s.nxt, '('))
			check_fn(a, &t);
		vpos = first && t.kind == TK_WORD;
		if (t.kind != TK_WORD) {
			prev = KW_NONE;
			adv(&s);
			continue;
		}
		first = false;
		switch (t.kw) {
		case KW_FROM:
			if ((depth == 0 && (verb == KW_REVOKE || verb == KW_FETCH ||
					    verb == KW_MOVE || verb == KW_CLOSE || verb == KW_SET ||
					    verb == KW_COPY || verb == KW_IMPORT)) ||
			    prev == KW_DISTINCT || (depth > 0 && depth < 64 && !(qp & bit)))
				break;
			adv(&s);
			lst |= bit;
			read_name(a, &s, CTX_FROM, &fpend);
			prev = KW_NONE;
			continue;
		case KW_JOIN:
			adv(&s);
			read_name(a, &s, CTX_FROM, &fpend);
			prev = KW_NONE;
			continue;
		case KW_INTO:
			adv(&s);
			read_name(a, &s, CTX_INTO, &fpend);
			prev = KW_NONE;
			continue;
		case KW_UPDATE:
			/* not FOR UPDATE, FOR NO KEY UPDATE, ON DUPLICATE KEY
			 * UPDATE, DO UPDATE */
			if (prev == KW_FOR || prev == KW_KEY || prev == KW_DO || prev == KW_NO)
				break;
			adv(&s);
			if (read_name(a, &s, CTX_TABLE, &fpend))
				lst |= bit;
			prev = KW_NONE;
			continue;
		case KW_USING:
			if (verb == KW_CREATE || verb == KW_ALTER || verb == KW_CLUSTER ||
			    verb == KW_EXECUTE)
				break;
			adv(&s);
			if (read_name(a, &s, CTX_USING, &fpend) && verb == KW_DELETE)
				lst |= bit;
			prev = KW_NONE;
			continue;
		case KW_TABLE:
		case KW_TABLES:
			if (punct(&s.nxt, '('))
				break;	/* RETURNS TABLE (...) */
			if (list_verb(verb))
				lst |= bit;
			adv(&s);
			read_name(a, &s, CTX_TABLE, &fpend);
			prev = KW_NONE;
			continue;
		case KW_VIEW:
			if (verb == KW_DROP)
				lst |= bit;
			adv(&s);
			read_name(a, &s, CTX_TABLE, &fpend);
			prev = KW_NONE;
			continue;
		case KW_REFERENCES:
			adv(&s);
			read_name(a, &s, CTX_TABLE, &fpend);
			prev = KW_NONE;
			continue;
		case KW_ON:
			if (verb == KW_GRANT || verb == KW_REVOKE) {
				lst |= bit;
				adv(&s);
				read_name(a, &s, CTX_GRANT, &fpend);
				prev = KW_NONE;
				continue;
			}
			if ((verb == KW_CREATE || verb == KW_DROP) && depth == 0 && !on_done &&
			    (obj == KW_INDEX || obj == KW_TRIGGER || obj == KW_POLICY ||
			     obj == KW_RULE)) {
				on_done = true;
				adv(&s);
				read_name(a, &s, CTX_TABLE, &fpend);
				prev = KW_NONE;
				continue;
			}
			break;
		case KW_TO:
			if ((verb == KW_RENAME && obj != KW_USER) || prev == KW_RENAME) {
				adv(&s);
				read_name(a, &s, CTX_TABLE, &fpend);
				prev = KW_NONE;
				continue;
			}
			break;
		default:
			break;
		}
		if (vpos) {
			bool handled = true;

			adv(&s);
			switch (t.kw) {
			case KW_COPY:
			case KW_HANDLER:
				read_name(a, &s, CTX_TABLE, &fpend);
				break;
			case KW_TRUNCATE:
				lst |= bit;
				read_name(a, &s, CTX_TABLE, &fpend);
				break;
			case KW_LOCK:
				if (kw_in(&s.cur, KW_INSTANCE))
					break;
				lst |= bit;
				read_name(a, &s, CTX_TABLE, &fpend);
				break;
			case KW_DESCRIBE:
			case KW_DESC:
			case KW_EXPLAIN:
				read_name(a, &s, CTX_EXPLAIN, &fpend);
				break;
			case KW_VACUUM:
			case KW_ANALYZE:
			case KW_ANALYSE:
				for (;;) {
					size_t close;

					if (punct(&s.cur, '('))
						skip_group(&s, &close);
					else if (kw_in(&s.cur, KW_FULL) ||
						 kw_in(&s.cur, KW_FREEZE) ||
						 kw_in(&s.cur, KW_VERBOSE) ||
						 kw_in(&s.cur, KW_ANALYZE) ||
						 kw_in(&s.cur, KW_ANALYSE) ||
						 kw_in(&s.cur, KW_SKIP_LOCKED) ||
						 kw_in(&s.cur, KW_NO_WRITE_TO_BINLOG) ||
						 kw_in(&s.cur, KW_LOCAL))
						adv(&s);
					else
						break;
				}
				lst |= bit;
				read_name(a, &s, CTX_TABLE, &fpend);
				break;
			case KW_CLUSTER:
				if (kw_in(&s.cur, KW_VERBOSE))
					adv(&s);
				read_name(a, &s, CTX_TABLE, &fpend);
				break;
			case KW_INSERT:
			case KW_REPLACE:
				while (kw_in(&s.cur, KW_LOW_PRIORITY) ||
				       kw_in(&s.cur, KW_DELAYED) ||
				       kw_in(&s.cur, KW_HIGH_PRIORITY) || kw_in(&s.cur, KW_IGNORE))
					adv(&s);
				if (!kw_in(&s.cur, KW_INTO))
					read_name(a, &s, CTX_INTO, &fpend);	/* MySQL INSERT t */
				break;
			case KW_DELETE:
				while (kw_in(&s.cur, KW_LOW_PRIORITY) || kw_in(&s.cur, KW_QUICK) ||
				       kw_in(&s.cur, KW_IGNORE))
					adv(&s);
				/* MySQL DELETE t1, t2 FROM ... */
				if (!kw_in(&s.cur, KW_FROM) && read_name(a, &s, CTX_TABLE, &fpend))
					lst |= bit;
				break;
			default:
				handled = false;
				break;
			}
			prev = handled ? KW_NONE : t.kw;
			continue;
		}
		if (ends_list(t.kw))
			lst &= ~bit;
		prev = t.kw;
		adv(&s);
	}
}

/* ----------------------------------------------------------------- API */

/* MySQL reads each statement of a message only after running the one
 * before: these may change how it reads the rest. */
static bool my_mode_change(struct ts s, enum kw verb)
{
	if (verb == KW_EXECUTE || verb == KW_CALL)
		return true;
	if (verb != KW_SET)
		return false;
	for (; s.cur.kind != TK_END; adv(&s)) {
		switch (s.cur.kind == TK_WORD ? s.cur.kw : KW_NONE) {
		case KW_SQL_MODE:
		case KW_NAMES:
		case KW_CHARACTER:
		case KW_CHARSET:
		case KW_CHARACTER_SET_CLIENT:
		case KW_CHARACTER_SET_CONNECTION:
		case KW_COLLATION_CONNECTION:
			return true;
		default:
			break;
		}
	}
	return false;
}

static int analyze(struct sql_cursor *c, const struct lx *start, size_t end, size_t first,
		   size_t last, struct sql_stmt *st, char *err, size_t errlen)
{
	struct an a;
	struct ts s, v;
	enum sql_class cls;
	enum kw verb = KW_NONE;
	unsigned i;
	int rc;

	memset(st, 0, offsetof(struct sql_stmt, tables));
	st->off = first;
	st->len = last - first;
	a.s = c->text;
	a.d = c->d;
	a.classes = 0;
	a.flags = 0;
	a.rc = 0;
	a.err = err;
	a.errlen = errlen;
	a.st = st;
	a.n_cte = 0;
	ts_init(&s, start, end, &a.rc);

	v = s;
	while (punct(&v.cur, '('))
		adv(&v);
	if (v.cur.kind == TK_WORD) {
		verb = v.cur.kw;
		for (i = 0; i < v.cur.len && i + 1 < sizeof(st->verb); i++)
			st->verb[i] = (char)upper((unsigned char)c->text[v.cur.off + i]);
		st->verb[i] = '\0';
	}
	rc = classify(&a, s, 0, &cls);
	if (!rc) {
		tables(&a, s);
		rc = a.rc;
	}
	if (rc)
		return rc;
	st->classes = a.classes;
	st->cls = cls;
	for (i = 0; i < SQL_NCLASSES; i++)
		if (a.classes & 1u << i)
			st->cls = worse(st->cls, (enum sql_class)i);
	st->flags = a.flags;
	if (c->d == SQL_MYSQL)
		c->mode_change = my_mode_change(v, verb);
	return 0;
}

void sql_cursor_init(struct sql_cursor *c, enum sql_dialect d, unsigned mode, const char *text,
		     size_t len)
{
	memset(c, 0, sizeof(*c));
	c->d = d;
	c->mode = mode;
	c->text = text;
	c->len = text ? len : 0;
}

int sql_next(struct sql_cursor *c, struct sql_stmt *st, char *err, size_t errlen)
{
	struct lx x, start, before;
	struct tok t;
	size_t first = 0, last = 0;
	const char *nul;
	bool have = false;
	int rc;

	if (c->rc)
		return fail(err, errlen, c->rc, "the text was refused already");
	if (c->done)
		return 0;
	if (!c->checked) {
		c->checked = true;
		/* the protocol ends PostgreSQL's text at a NUL: one inside
		 * means the server reads less than this would */
		if (c->d == SQL_POSTGRES && c->len && (nul = memchr(c->text, 0, c->len))) {
			rc = fail(err, errlen, -EINVAL, "NUL byte at byte %zu",
				  (size_t)(nul - c->text));
			goto err;
		}
	}
	memset(&x, 0, sizeof(x));
	x.s = c->text;
	x.len = c->len;
	x.pos = c->pos;
	x.d = c->d;
	x.mode = c->mode;
	x.exec = c->exec;
	x.err = err;
	x.errlen = errlen;
	start = x;
	for (;;) {
		before = x;
		if ((rc = lx_next(&x, &t)))
			goto err;
		if (t.kind == TK_SEMI && !have)
			continue;	/* an empty statement */
		if (t.kind == TK_SEMI)
			break;
		if (t.kind == TK_END) {
			c->done = true;
			if (!have)
				return 0;
			break;
		}
		if (!have) {
			have = true;
			start = before;
			first = t.off;
		}
		last = t.off + t.len;
	}
	if (c->count >= SQL_MAX_STMTS) {
		rc = fail(err, errlen, -E2BIG, "more than %d statements in one message",
			  SQL_MAX_STMTS);
		goto err;
	}
	if (c->mode_change) {
		rc = fail(err, errlen, -EINVAL,
			  "statement at byte %zu follows one that may change how MySQL reads it "
			  "(SET of sql_mode or the character set, EXECUTE, CALL)",
			  first);
		goto err;
	}
	c->pos = x.pos;
	c->exec = x.exec;
	if ((rc = analyze(c, &start, t.kind == TK_SEMI ? t.off : c->len, first, last, st, err,
			  errlen)))
		goto err;
	c->count++;
	return 1;
err:
	c->rc = rc;
	return rc;
}

int sql_parse(enum sql_dialect d, unsigned mode, const char *text, size_t len,
	      struct sql_stmt *out, size_t max, size_t *n, char *err, size_t errlen)
{
	struct sql_cursor c;
	struct sql_stmt extra;
	int rc;

	*n = 0;
	sql_cursor_init(&c, d, mode, text, len);
	for (;;) {
		rc = sql_next(&c, *n < max ? &out[*n] : &extra, err, errlen);
		if (rc <= 0)
			return rc;
		if (*n == max)
			return fail(err, errlen, -E2BIG, "more than %zu statements", max);
		(*n)++;
	}
}

static const char *const class_names[SQL_NCLASSES] = {
	[SQL_READ] = "read", [SQL_WRITE] = "write", [SQL_DDL] = "ddl",
	[SQL_DCL] = "dcl",   [SQL_ADMIN] = "admin", [SQL_TX] = "tx",
};

const char *sql_class_name(enum sql_class c)
{
	return (unsigned)c < SQL_NCLASSES ? class_names[c] : "?";
}

int sql_class_parse(const char *name, enum sql_class *out)
{
	unsigned i;

	for (i = 0; name && i < SQL_NCLASSES; i++) {
		if (!strcmp(name, class_names[i])) {
			*out = (enum sql_class)i;
			return 0;
		}
	}
	return -EINVAL;
}
