// SPDX-License-Identifier: BSD-2-Clause
/*
 * Fuzz target for userspace/sql.c: SQL text straight from an agent.
 *
 * Input: one control byte, then the text.
 *   bit 0: the dialect (0 PostgreSQL, 1 MySQL);
 *   bits 1-3: the mode flags (SQL_MODE_PG_NONSTANDARD_STRINGS,
 *     SQL_MODE_MY_NO_BACKSLASH_ESCAPES, SQL_MODE_MY_MARIADB);
 *   bits 4-5: the MySQL version: unknown, 50700, 80035, 101119.
 * The text is an exact-size heap copy, so ASan sees any read past it.
 * Beyond memory errors, it aborts when a result breaks what sql.h
 * promises: statements in order, inside the text, non-empty; cls one of
 * classes; strings terminated within their arrays; and, for PostgreSQL,
 * a statement's own text parsed alone gives that one statement back with
 * the same class, flags and tables. The static helpers are reached by
 * including sql.c itself (the keyword table's order is checked once).
 *
 *   clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *	-Iuserspace tests/fuzz/sql_fuzz.c -o build/sql_fuzz && \
 *	build/sql_fuzz -max_len=4096 tests/fuzz/corpus/sql
 *
 * Linked with tests/fuzz/replay.c instead of -fsanitize=fuzzer, it runs
 * each file named on the command line once: the seed corpus as a
 * regression test.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sql.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned versions[4] = { 0, 50700, 80035, 101119 };
static struct sql_stmt out[SQL_MAX_STMTS];
static struct sql_stmt alone[2];

static void check_sorted(void)
{
	static bool done;
	size_t i;

	if (done)
		return;
	done = true;
	for (i = 1; i < sizeof(kw_names) / sizeof(kw_names[0]); i++)
		if (strcmp(kw_names[i - 1], kw_names[i]) >= 0)
			abort();
	for (i = 0; i < sizeof(kw_names) / sizeof(kw_names[0]); i++)
		if (strlen(kw_names[i]) > KW_LONGEST ||
		    kw_lookup(kw_names[i], strlen(kw_names[i])) != (enum kw)(i + 1))
			abort();
}

static void check(const char *text, size_t len, const struct sql_stmt *st, size_t n)
{
	size_t i, end = 0;
	unsigned j;

	if (n > SQL_MAX_STMTS)
		abort();
	for (i = 0; i < n; i++) {
		if (st[i].off < end || !st[i].len || st[i].off + st[i].len > len ||
		    is_space((unsigned char)text[st[i].off]))
			abort();
		end = st[i].off + st[i].len;
		if ((unsigned)st[i].cls >= SQL_NCLASSES || !(st[i].classes & 1u << st[i].cls) ||
		    st[i].classes >> SQL_NCLASSES)
			abort();
		if (!memchr(st[i].verb, 0, sizeof(st[i].verb)) ||
		    !memchr(st[i].object, 0, sizeof(st[i].object)) ||
		    st[i].n_tables > SQL_MAX_TABLES)
			abort();
		for (j = 0; j < st[i].n_tables; j++)
			if (!memchr(st[i].tables[j], 0, SQL_NAME_MAX) || !st[i].tables[j][0])
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum sql_dialect d;
	unsigned mode;
	char err[256];
	size_t n, m, i;
	unsigned j;
	char *text;
	int rc;

	check_sorted();
	if (!size)
		return 0;
	d = data[0] & 1 ? SQL_MYSQL : SQL_POSTGRES;
	mode = ((data[0] >> 1) & 7) | SQL_MODE_MY_VERSION(versions[(data[0] >> 4) & 3]);
	text = malloc(size - 1 ? size - 1 : 1);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	rc = sql_parse(d, mode, text, size - 1, out, SQL_MAX_STMTS, &n, err, sizeof(err));
	if (rc && rc != -EINVAL && rc != -E2BIG)
		abort();
	if (rc && !err[0])
		abort();
	if (!rc)
		check(text, size - 1, out, n);
	for (i = 0; !rc && d == SQL_POSTGRES && i < n; i++) {
		char *one = malloc(out[i].len);

		if (!one)
			break;
		memcpy(one, text + out[i].off, out[i].len);
		rc = sql_parse(d, mode, one, out[i].len, alone, 2, &m, err, sizeof(err));
		free(one);
		if (rc == -E2BIG && out[i].n_tables == SQL_MAX_TABLES) {
			rc = 0;	/* CTE scopes cut at the statement's end */
			continue;
		}
		if (rc || m != 1 || alone[0].cls != out[i].cls ||
		    alone[0].classes != out[i].classes || alone[0].flags != out[i].flags ||
		    alone[0].n_tables != out[i].n_tables || strcmp(alone[0].verb, out[i].verb))
			abort();
		for (j = 0; j < out[i].n_tables; j++)
			if (strcmp(alone[0].tables[j], out[i].tables[j]))
				abort();
	}
	free(text);
	return 0;
}
