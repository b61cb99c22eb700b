// SPDX-License-Identifier: BSD-2-Clause
/*
 * Fuzz target for userspace/proto/pgwire.c: hostile bytes from either side
 * of a PostgreSQL connection.
 *
 * Input: one control byte, then the bytes.
 *   control % 4 == 0: what a client sends: a startup-phase packet first
 *     when bit 2 is set, then typed messages, framed one by one;
 *   control % 4 == 1: what a server sends, framed one by one; each
 *     RowDescription is kept and each DataRow masked under it (column
 *     "email" and every pattern, or column "*" when bit 2 is set);
 *   control % 4 == 2: a server's SCRAM messages: server-first, a NUL,
 *     server-final, answered by a client with a fixed nonce (the seeds
 *     carry the RFC 7677 exchange);
 *   control % 4 == 3: one CommandComplete tag, one startup body.
 * Each framed message is validated from an exact-size heap copy of
 * itself, so ASan sees a read past its body even when more bytes follow.
 * Beyond memory errors, it aborts when a result breaks what pgwire.h
 * promises: a frame inside the input and no bigger than the limits, a
 * value list that walks exactly n values inside the body, a masked row
 * that frames and parses back as a DataRow of the same width, nothing
 * left in the output after a refusal.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *	-Iuserspace -Iuserspace/lib tests/fuzz/pgwire_fuzz.c \
 *	userspace/proto/pgwire.c userspace/mask.c userspace/lib/text.c \
 *	-lssl -lcrypto -ljansson -o build/pgwire_fuzz && \
 *	build/pgwire_fuzz -max_len=4096 tests/fuzz/corpus/pgwire
 *
 * Linked with tests/fuzz/replay.c instead of -fsanitize=fuzzer, it runs
 * each file named on the command line once: the seed corpus as a
 * regression test.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mask.h"
#include "proto/pgwire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mask_spec *spec_email, *spec_all;

static void setup(void)
{
	static const char *const pats[] = { "email", "credit-card", "bearer-token", "jwt",
					    "private-key" };
	char err[128];

	if (spec_email)
		return;
	spec_email = mask_spec_new();
	spec_all = mask_spec_new();
	if (!spec_email || !spec_all || mask_spec_add(spec_email, "sql_column", "email", err,
						      sizeof(err)) ||
	    mask_spec_add(spec_all, "sql_column", "*", err, sizeof(err)))
		abort();
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		if (mask_spec_add(spec_email, "pattern", pats[i], err, sizeof(err)))
			abort();
}

static void check_values(const struct pgw_values *v, const uint8_t *body, size_t len)
{
	struct pgw_values_it it;
	const uint8_t *val;
	int32_t l;
	unsigned n = 0;

	pgw_values_begin(v, &it);
	while (pgw_values_next(&it, &val, &l)) {
		if ((l < 0) != !val || (val && (val < body || val + l > body + len)))
			abort();
		n++;
	}
	if (n != v->n)
		abort();
}

static void check_masked(const struct pgw_rowdesc *rd, const struct pgw_buf *out, size_t before,
			 int rc)
{
	struct pgw_frame f;
	struct pgw_values cols;

	if (rc < 0) {
		if (out->len != before)
			abort();
		return;
	}
	if (pgw_frame(PGW_BACKEND, PGW_PHASE_NORMAL, NULL, out->data + before, out->len - before,
		      &f, NULL, 0) ||
	    f.type != 'D' || f.size != out->len - before)
		abort();
	if (pgw_parse_datarow(f.body, f.body_len, &cols) || cols.n != rd->n)
		abort();
	check_values(&cols, f.body, f.body_len);
}

/* One framed message, from its own heap copy. */
static void one(enum pgw_dir dir, const struct pgw_frame *whole, struct pgw_rowdesc **rd,
		const struct mask_spec *s, struct pgw_buf *out)
{
	uint8_t *copy = malloc(whole->size);
	struct pgw_frame f;
	char err[256];
	int rc;

	if (!copy)
		return;
	memcpy(copy, whole->body - (whole->size - whole->body_len), whole->size);
	if (pgw_frame(dir, whole->type ? PGW_PHASE_NORMAL : PGW_PHASE_STARTUP, NULL, copy,
		      whole->size, &f, err, sizeof(err)) ||
	    f.size != whole->size)
		abort();
	rc = pgw_validate(dir, &f, err, sizeof(err));
	if (rc && !err[0])
		abort();
	if (rc)
		goto out;
	if (dir == PGW_FRONTEND && f.type == 'B') {
		struct pgw_bind bd;

		if (pgw_parse_bind(f.body, f.body_len, &bd, err, sizeof(err)))
			abort();
		check_values(&bd.params, f.body, f.body_len);
	} else if (dir == PGW_BACKEND && f.type == 'T') {
		pgw_rowdesc_free(*rd);
		*rd = pgw_rowdesc_new(f.body, f.body_len, err, sizeof(err));
		if (!*rd && errno != ENOMEM)
			abort();
	} else if (dir == PGW_BACKEND && f.type == 'D') {
		struct pgw_values cols;
		size_t before = out->len;

		if (pgw_parse_datarow(f.body, f.body_len, &cols))
			abort();
		check_values(&cols, f.body, f.body_len);
		if (*rd) {
			rc = pgw_mask_datarow(*rd, s, f.body, f.body_len, out);
			check_masked(*rd, out, before, rc);
		}
	}
out:
	free(copy);
}

static void stream(enum pgw_dir dir, bool startup, const uint8_t *data, size_t size,
		   const struct mask_spec *s)
{
	struct pgw_limits lim = { .max_msg = 2048, .max_bulk = 4096 };
	struct pgw_rowdesc *rd = NULL;
	struct pgw_buf out;
	struct pgw_frame f;
	size_t off = 0;

	pgw_buf_init(&out, 1 << 16);
	while (off < size) {
		int rc = pgw_frame(dir, startup ? PGW_PHASE_STARTUP : PGW_PHASE_NORMAL, &lim,
				   data + off, size - off, &f, NULL, 0);

		if (rc == -EAGAIN && !f.need)
			abort();
		if (rc)
			break;
		if (f.size > size - off || f.body_len > 4096 || f.body != data + off + (startup ? 4 : 5))
			abort();
		one(dir, &f, &rd, s, &out);
		off += f.size;
		startup = false;
		pgw_buf_reset(&out);
	}
	pgw_rowdesc_free(rd);
	pgw_buf_free(&out);
}

static void scram(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size), *d;
	struct pgw_scram *s = pgw_scram_new("pencil", "user");
	struct pgw_scram_cache cache = { .valid = false };
	size_t first = nul ? (size_t)(nul - data) : size, n;
	char err[256];

	if (!s)
		return;
	if (pgw_scram_set_nonce(s, "rOprNGfwEbeRWgbNEkqO") || pgw_scram_client_first(s, &d, &n))
		abort();
	if (!pgw_scram_server_first(s, data, first, &cache, err, sizeof(err))) {
		if (pgw_scram_client_final(s, &d, &n) || !n)
			abort();
		if (nul)
			pgw_scram_server_final(s, nul + 1, size - first - 1, err, sizeof(err));
	}
	pgw_scram_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgw_startup st;
	struct pgw_command c;
	uint8_t *copy;
	unsigned ctl;

	setup();
	if (!size)
		return 0;
	ctl = data[0];
	size--;
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size);
	switch (ctl % 4) {
	case 0:
		stream(PGW_FRONTEND, ctl & 4, copy, size, NULL);
		break;
	case 1:
		stream(PGW_BACKEND, false, copy, size, ctl & 4 ? spec_all : spec_email);
		break;
	case 2:
		scram(copy, size);
		break;
	case 3:
		if (!pgw_command_tag((const char *)copy, size, &c) &&
		    !memchr(c.command, 0, sizeof(c.command)))
			abort();
		pgw_parse_startup(copy, size, &st, NULL, 0);
		break;
	}
	free(copy);
	return 0;
}
