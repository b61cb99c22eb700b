// SPDX-License-Identifier: BSD-2-Clause
/*
 * userspace/proto/pgwire.c: framing of hostile input (every prefix of
 * every message waits for more, every truncated or padded body is a clean
 * error), each parser on the messages PostgreSQL sends, builders read
 * back by the parsers, CommandComplete tags, SCRAM-SHA-256 against the
 * RFC 7677 exchange and against servers that lie, md5 against the formula
 * computed here with OpenSSL directly, and DataRow masking.
 *
 * Messages are parsed from exact-size heap copies so ASan sees any read
 * one byte past them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include <openssl/evp.h>

#include "mask.h"
#include "proto/pgwire.h"

static char err[256];

/* ---------------------------------------------------------- helpers */

struct msgbuf {
	uint8_t b[4096];
	size_t n;
};

static void add(struct msgbuf *m, const void *p, size_t n)
{
	cr_assert_leq(m->n + n, sizeof(m->b));
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void add8(struct msgbuf *m, uint8_t v)
{
	add(m, &v, 1);
}

static void add16(struct msgbuf *m, uint16_t v)
{
	uint8_t b[2] = { v >> 8, v & 0xff };

	add(m, b, 2);
}

static void add32(struct msgbuf *m, uint32_t v)
{
	uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };

	add(m, b, 4);
}

static void adds(struct msgbuf *m, const char *s)
{
	add(m, s, strlen(s) + 1);
}

/* A typed message around a body. */
static struct msgbuf typed(char type, const struct msgbuf *body)
{
	struct msgbuf m = { .n = 0 };

	add8(&m, (uint8_t)type);
	add32(&m, (uint32_t)body->n + 4);
	add(&m, body->b, body->n);
	return m;
}

static uint8_t *heap(const void *p, size_t n)
{
	uint8_t *h = malloc(n ? n : 1);

	cr_assert_not_null(h);
	memcpy(h, p, n);
	return h;
}

/* Frame buf as one whole message of dir; returns the frame (body in the
 * caller's heap copy *keep, freed by the caller). */
static struct pgw_frame frame_one(enum pgw_dir dir, enum pgw_phase ph, const void *buf,
				  size_t n, uint8_t **keep)
{
	struct pgw_frame f;
	int rc;

	*keep = heap(buf, n);
	rc = pgw_frame(dir, ph, NULL, *keep, n, &f, err, sizeof(err));
	cr_assert_eq(rc, 0, "frame: %d %s", rc, err);
	cr_assert_eq(f.size, n);
	return f;
}

/* ------------------------------------------------------------ framing */

Test(frame, normal_and_need_more)
{
	struct msgbuf body = { .n = 0 }, m;
	struct pgw_frame f;
	uint8_t *h;

	adds(&body, "SELECT 1");
	m = typed('Q', &body);
	for (size_t i = 0; i < m.n; i++) {
		h = heap(m.b, i);
		cr_assert_eq(pgw_frame(PGW_FRONTEND, PGW_PHASE_NORMAL, NULL, h, i, &f, err,
				       sizeof(err)),
			     -EAGAIN, "prefix %zu", i);
		cr_assert_eq(f.need, i < 5 ? 5 - i : m.n - i, "prefix %zu need %zu", i, f.need);
		if (i >= 5)
			cr_assert_eq(f.type, 'Q');
		free(h);
	}
	f = frame_one(PGW_FRONTEND, PGW_PHASE_NORMAL, m.b, m.n, &h);
	cr_assert_eq(f.type, 'Q');
	cr_assert_eq(f.body_len, 9);
	cr_assert_str_eq((const char *)f.body, "SELECT 1");
	free(h);

	/* two messages back to back: only the first is framed */
	add(&m, m.b, m.n);
	cr_assert_eq(pgw_frame(PGW_FRONTEND, PGW_PHASE_NORMAL, NULL, m.b, m.n, &f, err,
			       sizeof(err)),
		     0);
	cr_assert_eq(f.size, m.n / 2);
}

Test(frame, hostile_lengths)
{
	uint8_t gib[5] = { 'Q', 0x40, 0, 0, 0 };	/* 1 GiB */
	uint8_t short_[5] = { 'Q', 0, 0, 0, 3 };
	uint8_t sync_body[6] = { 'S', 0, 0, 0, 5, 0 };
	uint8_t unknown[5] = { 'z', 0, 0, 0, 4 };
	uint8_t big[5] = { 'C', 0, 0x10, 0, 5 };	/* 1 MiB + 1 body */
	uint8_t bulk[5] = { 'D', 0, 0x10, 0, 5 };
	struct pgw_limits lim = { .max_msg = 100, .max_bulk = 200 };
	uint8_t small[5] = { 'S', 0, 0, 0, 105 };	/* ParameterStatus body 101 */
	struct pgw_frame f;

	err[0] = 0;
	cr_assert_eq(pgw_frame(PGW_FRONTEND, PGW_PHASE_NORMAL, NULL, gib, 5, &f, err, sizeof(err)),
		     -EMSGSIZE);
	cr_assert(strstr(err, "limit"), "%s", err);
	cr_assert_eq(pgw_frame(PGW_BACKEND, PGW_PHASE_NORMAL, NULL, gib + 0, 5, &f, err,
			       sizeof(err)),
		     -EPROTO);	/* 'Q' is not a backend message */
	gib[0] = 'D';
	cr_assert_eq(pgw_frame(PGW_BACKEND, PGW_PHASE_NORMAL, NULL, gib, 5, &f, err, sizeof(err)),
		     -EMSGSIZE);
	/* even when the caller asks for more than the hard cap */
	lim.max_bulk = UINT32_MAX;
	cr_assert_eq(pgw_frame(PGW_BACKEND, PGW_PHASE_NORMAL, &lim, gib, 5, &f, err, sizeof(err)),
		     -EMSGSIZE);
	lim.max_bulk = 200;
	cr_assert_eq(pgw_frame(PGW_FRONTEND, PGW_PHASE_NORMAL, NULL, short_, 5, &f, err,
			       sizeof(err)),
		     -EBADMSG);
	cr_assert_eq(pgw_frame(PGW_FRONTEND, PGW_PHASE_NORMAL, NULL, sync_body, 6, &f, err,
			       sizeof(err)),
		     -EBADMSG);
	/* an unknown type is refused on its first byte */
	cr_assert_eq(pgw_frame(PGW_FRONTEND, PGW_PHASE_NORMAL, NULL, unknown, 1, &f, err,
			       sizeof(err)),
		     -EPROTO);
	unknown[0] = 0;
	cr_assert_eq(pgw_frame(PGW_BACKEND, PGW_PHASE_NORMAL, NULL, unknown, 5, &f, err,
			       sizeof(err)),
		     -EPROTO);
	/* the small limit for CommandComplete, the bulk one for DataRow */
	cr_assert_eq(pgw_frame(PGW_BACKEND, PGW_PHASE_NORMAL, NULL, big, 5, &f, err, sizeof(err)),
		     -EMSGSIZE);
	cr_assert_eq(pgw_frame(PGW_BACKEND, PGW_PHASE_NORMAL, NULL, bulk, 5, &f, err,
			       sizeof(err)),
		     -EAGAIN);
	cr_assert_eq(f.need, (1u << 20) + 1);
	cr_assert_eq(pgw_frame(PGW_BACKEND, PGW_PHASE_NORMAL, &lim, small, 5, &f, err,
			       sizeof(err)),
		     -EMSGSIZE);
	small[4] = 104;
	cr_assert_eq(pgw_frame(PGW_BACKEND, PGW_PHASE_NORMAL, &lim, small, 5, &f, err,
			       sizeof(err)),
		     -EAGAIN);
	cr_assert_eq(pgw_frame(PGW_BACKEND, PGW_PHASE_STARTUP, NULL, small, 5, &f, err,
			       sizeof(err)),
		     -EINVAL);
}

Test(frame, startup)
{
	uint8_t ssl[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f };
	uint8_t huge[8] = { 0, 0, 0x27, 0x11, 0, 3, 0, 0 };	/* 10001 */
	uint8_t tiny[8] = { 0, 0, 0, 7, 0, 3, 0, 0 };
	struct pgw_startup st;
	struct pgw_frame f;
	uint8_t *h;

	for (size_t i = 0; i < 8; i++) {
		h = heap(ssl, i);
		cr_assert_eq(pgw_frame(PGW_FRONTEND, PGW_PHASE_STARTUP, NULL, h, i, &f, err,
				       sizeof(err)),
			     -EAGAIN);
		cr_assert_eq(f.need, i < 4 ? 4 - i : 8 - i);
		free(h);
	}
	f = frame_one(PGW_FRONTEND, PGW_PHASE_STARTUP, ssl, 8, &h);
	cr_assert_eq(f.type, 0);
	cr_assert_eq(pgw_parse_startup(f.body, f.body_len, &st, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(st.kind, PGW_SSL_REQUEST);
	free(h);
	cr_assert_eq(pgw_frame(PGW_FRONTEND, PGW_PHASE_STARTUP, NULL, huge, 8, &f, err,
			       sizeof(err)),
		     -EMSGSIZE);
	cr_assert_eq(pgw_frame(PGW_FRONTEND, PGW_PHASE_STARTUP, NULL, tiny, 8, &f, err,
			       sizeof(err)),
		     -EBADMSG);
}

/* ------------------------------------------------------------ startup */

static int parse_startup_msg(const struct msgbuf *m, struct pgw_startup *st, uint8_t **keep)
{
	struct pgw_frame f;
	int rc;

	*keep = heap(m->b, m->n);
	rc = pgw_frame(PGW_FRONTEND, PGW_PHASE_STARTUP, NULL, *keep, m->n, &f, err, sizeof(err));
	if (rc)
		return rc;
	return pgw_parse_startup(f.body, f.body_len, st, err, sizeof(err));
}

/* A startup packet with the pairs given (NULL-terminated), final NUL
 * added when `final`. */
static struct msgbuf startup_of(uint32_t code, bool final, const char *const *kv)
{
	struct msgbuf m = { .n = 0 };

	add32(&m, 0);
	add32(&m, code);
	for (; kv && *kv; kv++)
		adds(&m, *kv);
	if (final)
		add8(&m, 0);
	m.b[0] = m.n >> 24;
	m.b[1] = m.n >> 16;
	m.b[2] = m.n >> 8;
	m.b[3] = m.n;
	return m;
}

Test(startup, builder_round_trip)
{
	const struct pgw_param p[] = {
		{ "user", "alice" },	     { "database", "shop" },
		{ "application_name", "psql" }, { "options", "-c search_path=x" },
		{ "client_encoding", "UTF8" },
	};
	struct pgw_buf b;
	struct pgw_startup st;
	uint8_t *h;

	pgw_buf_init(&b, 0);
	cr_assert_eq(pgw_build_startup(&b, 0, p, 5), 0);
	{
		struct msgbuf m = { .n = 0 };

		add(&m, b.data, b.len);
		cr_assert_eq(parse_startup_msg(&m, &st, &h), 0, "%s", err);
	}
	cr_assert_eq(st.kind, PGW_STARTUP_MESSAGE);
	cr_assert_eq(st.major, 3);
	cr_assert_eq(st.minor, 0);
	cr_assert_eq(st.n_params, 5);
	cr_assert_str_eq(st.user, "alice");
	cr_assert_str_eq(st.database, "shop");
	cr_assert_str_eq(st.application_name, "psql");
	cr_assert_str_eq(st.options, "-c search_path=x");
	cr_assert_null(st.replication);
	cr_assert_str_eq(st.params[4].name, "client_encoding");
	cr_assert_str_eq(st.params[4].value, "UTF8");
	free(h);

	/* repeated names and empty names are refused by the builder too */
	{
		const struct pgw_param dup[] = { { "user", "a" }, { "USER", "b" } };
		const struct pgw_param empty[] = { { "", "a" } };
		size_t before = b.len;

		cr_assert_eq(pgw_build_startup(&b, 0, dup, 2), -EINVAL);
		cr_assert_eq(pgw_build_startup(&b, 0, empty, 1), -EINVAL);
		cr_assert_eq(b.len, before);
	}
	pgw_buf_free(&b);
}

Test(startup, strict)
{
	const char *ok[] = { "user", "u", "replication", "database", NULL };
	const char *dup[] = { "user", "u", "User", "v", NULL };
	const char *nouser[] = { "database", "d", NULL };
	const char *emptyuser[] = { "user", "", NULL };
	struct pgw_startup st;
	struct msgbuf m;
	uint8_t *h;

	m = startup_of(PGW_PROTO_3_0, true, ok);
	cr_assert_eq(parse_startup_msg(&m, &st, &h), 0, "%s", err);
	cr_assert_str_eq(st.replication, "database");
	free(h);
	/* protocol 3.2 is reported, the proxy decides */
	m = startup_of(PGW_PROTO_3_0 | 2, true, ok);
	cr_assert_eq(parse_startup_msg(&m, &st, &h), 0, "%s", err);
	cr_assert_eq(st.minor, 2);
	free(h);
	m = startup_of(2 << 16, true, ok);
	cr_assert_eq(parse_startup_msg(&m, &st, &h), -EPROTO);
	free(h);
	m = startup_of(PGW_PROTO_3_0, false, ok);
	cr_assert_eq(parse_startup_msg(&m, &st, &h), -EBADMSG);
	free(h);
	m = startup_of(PGW_PROTO_3_0, true, dup);
	cr_assert_eq(parse_startup_msg(&m, &st, &h), -EBADMSG);
	cr_assert(strstr(err, "repeated"), "%s", err);
	free(h);
	m = startup_of(PGW_PROTO_3_0, true, nouser);
	cr_assert_eq(parse_startup_msg(&m, &st, &h), -EBADMSG);
	free(h);
	m = startup_of(PGW_PROTO_3_0, true, emptyuser);
	cr_assert_eq(parse_startup_msg(&m, &st, &h), -EBADMSG);
	free(h);
	/* a name without a value: "user\0" then the final NUL reads as an
	 * empty value, so make the name the last bytes */
	{
		const char *novalue[] = { "user", "u", "database", NULL };

		m = startup_of(PGW_PROTO_3_0, false, novalue);
		cr_assert_eq(parse_startup_msg(&m, &st, &h), -EBADMSG);
		free(h);
	}
	/* bytes after the final NUL */
	m = startup_of(PGW_PROTO_3_0, true, ok);
	add8(&m, 'x');
	m.b[3]++;
	cr_assert_eq(parse_startup_msg(&m, &st, &h), -EBADMSG);
	free(h);
	/* SSLRequest with a body */
	m = startup_of(PGW_CODE_SSL, true, NULL);
	cr_assert_eq(parse_startup_msg(&m, &st, &h), -EBADMSG);
	free(h);
	m = startup_of(PGW_CODE_GSSENC, false, NULL);
	cr_assert_eq(parse_startup_msg(&m, &st, &h), 0);
	cr_assert_eq(st.kind, PGW_GSSENC_REQUEST);
	free(h);
}

Test(startup, too_many_params)
{
	struct msgbuf m = { .n = 0 };
	struct pgw_startup st;
	char name[16];
	uint8_t *h;

	add32(&m, 0);
	add32(&m, PGW_PROTO_3_0);
	adds(&m, "user");
	adds(&m, "u");
	for (int i = 0; i < PGW_MAX_PARAMS; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		adds(&m, name);
		adds(&m, "v");
	}
	add8(&m, 0);
	m.b[2] = m.n >> 8;
	m.b[3] = m.n;
	cr_assert_eq(parse_startup_msg(&m, &st, &h), -E2BIG);
	free(h);
}

Test(startup, cancel)
{
	uint8_t key4[4] = { 1, 2, 3, 4 }, key32[32], key300[300] = { 0 };
	struct pgw_startup st;
	struct pgw_buf b;
	struct msgbuf m;
	uint8_t *h;

	memset(key32, 0xab, sizeof(key32));
	pgw_buf_init(&b, 0);
	cr_assert_eq(pgw_build_cancel(&b, 4242, key4, 4), 0);
	cr_assert_eq(b.len, 16);
	m.n = 0;
	add(&m, b.data, b.len);
	cr_assert_eq(parse_startup_msg(&m, &st, &h), 0, "%s", err);
	cr_assert_eq(st.kind, PGW_CANCEL_REQUEST);
	cr_assert_eq(st.pid, 4242);
	cr_assert_eq(st.key_len, 4);
	cr_assert_arr_eq(st.key, key4, 4);
	free(h);
	pgw_buf_reset(&b);
	cr_assert_eq(pgw_build_cancel(&b, 7, key32, 32), 0);
	m.n = 0;
	add(&m, b.data, b.len);
	cr_assert_eq(parse_startup_msg(&m, &st, &h), 0, "%s", err);
	cr_assert_eq(st.key_len, 32);
	free(h);
	cr_assert_eq(pgw_build_cancel(&b, 7, key300, 300), -EINVAL);
	cr_assert_eq(pgw_build_cancel(&b, 7, key4, 3), -EINVAL);
	/* a 3-byte key on the wire */
	m = startup_of(PGW_CODE_CANCEL, false, NULL);
	add32(&m, 1);
	add(&m, key4, 3);
	m.b[3] = m.n;
	cr_assert_eq(parse_startup_msg(&m, &st, &h), -EBADMSG);
	free(h);
	pgw_buf_reset(&b);
	cr_assert_eq(pgw_build_ssl_request(&b), 0);
	m.n = 0;
	add(&m, b.data, b.len);
	cr_assert_eq(parse_startup_msg(&m, &st, &h), 0);
	cr_assert_eq(st.kind, PGW_SSL_REQUEST);
	free(h);
	pgw_buf_free(&b);
}

/* -------------------------------------------------- frontend parsers */

Test(frontend, parse_bind_execute)
{
	struct msgbuf body = { .n = 0 }, m;
	struct pgw_parse p;
	struct pgw_bind bd;
	struct pgw_execute e;
	struct pgw_target t;
	struct pgw_frame f;
	struct pgw_values_it it;
	const uint8_t *v;
	int32_t vl;
	uint8_t *h;

	adds(&body, "s1");
	adds(&body, "SELECT $1::int, $2");
	add16(&body, 2);
	add32(&body, 23);
	add32(&body, 0);
	m = typed('P', &body);
	f = frame_one(PGW_FRONTEND, PGW_PHASE_NORMAL, m.b, m.n, &h);
	cr_assert_eq(pgw_parse_parse(f.body, f.body_len, &p, err, sizeof(err)), 0);
	cr_assert_str_eq(p.stmt, "s1");
	cr_assert_str_eq(p.query, "SELECT $1::int, $2");
	cr_assert_eq(p.query_len, 18);
	cr_assert_eq(p.param_types.n, 2);
	cr_assert_eq(pgw_u32_at(&p.param_types, 0), 23);
	cr_assert_eq(pgw_u32_at(&p.param_types, 1), 0);
	free(h);

	body.n = 0;
	adds(&body, "portal");
	adds(&body, "s1");
	add16(&body, 2);
	add16(&body, 1);
	add16(&body, 0);
	add16(&body, 2);
	add32(&body, 4);
	add32(&body, 42);
	add32(&body, UINT32_MAX);	/* NULL */
	add16(&body, 1);
	add16(&body, 1);
	m = typed('B', &body);
	f = frame_one(PGW_FRONTEND, PGW_PHASE_NORMAL, m.b, m.n, &h);
	cr_assert_eq(pgw_parse_bind(f.body, f.body_len, &bd, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(bd.portal, "portal");
	cr_assert_str_eq(bd.stmt, "s1");
	cr_assert_eq(bd.params.n, 2);
	cr_assert_eq(pgw_format_of(&bd.param_formats, 0), 1);
	cr_assert_eq(pgw_format_of(&bd.param_formats, 1), 0);
	cr_assert_eq(pgw_format_of(&bd.result_formats, 7), 1);
	pgw_values_begin(&bd.params, &it);
	cr_assert_eq(pgw_values_next(&it, &v, &vl), 1);
	cr_assert_eq(vl, 4);
	cr_assert_eq(v[3], 42);
	cr_assert_eq(pgw_values_next(&it, &v, &vl), 1);
	cr_assert_eq(vl, -1);
	cr_assert_null(v);
	cr_assert_eq(pgw_values_next(&it, &v, &vl), 0);
	free(h);

	/* portal "", statement "", then: 3 formats for 2 params; a format
	 * code 2; a length of -2; a value longer than the message */
	{
#define B(x) { x, sizeof(x) - 1 }
		static const struct {
			const char *b;
			size_t n;
		} bad[] = {
			B("\0\0" "\0\3\0\0\0\0\0\0" "\0\2\0\0\0\0\0\0\0\0" "\0\0"),
			B("\0\0" "\0\1\0\2" "\0\0" "\0\0"),
			B("\0\0" "\0\0" "\0\1\xff\xff\xff\xfe" "\0\0"),
			B("\0\0" "\0\0" "\0\1\0\0\3\xe8" "\0\0"),
		};
#undef B
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			uint8_t *hb = heap(bad[i].b, bad[i].n);

			cr_assert_eq(pgw_parse_bind(hb, bad[i].n, &bd, err, sizeof(err)), -EBADMSG,
				     "case %zu", i);
			free(hb);
		}
	}

	body.n = 0;
	adds(&body, "portal");
	add32(&body, 100);
	cr_assert_eq(pgw_parse_execute(body.b, body.n, &e), 0);
	cr_assert_str_eq(e.portal, "portal");
	cr_assert_eq(e.max_rows, 100);
	body.n = 0;
	add8(&body, 'S');
	adds(&body, "s1");
	cr_assert_eq(pgw_parse_describe(body.b, body.n, &t), 0);
	cr_assert_eq(t.what, 'S');
	cr_assert_str_eq(t.name, "s1");
	body.b[0] = 'P';
	cr_assert_eq(pgw_parse_close(body.b, body.n, &t), 0);
	cr_assert_eq(t.what, 'P');
	body.b[0] = 'X';
	cr_assert_eq(pgw_parse_close(body.b, body.n, &t), -EBADMSG);
}

Test(frontend, extended_builders_round_trip)
{
	static const uint32_t types[2] = { 23, 25 };
	static const int16_t pf[1] = { 1 }, rf[2] = { 1, 0 };
	const uint8_t *vals[2] = { (const uint8_t *)"\0\0\0\x2a", NULL };
	const uint32_t lens[2] = { 4, 0 };
	struct pgw_values_it it;
	struct pgw_parse p;
	struct pgw_bind bd;
	struct pgw_target t;
	struct pgw_execute e;
	struct pgw_frame f;
	const uint8_t *v;
	int32_t vl;
	struct pgw_buf b;
	uint8_t *h;

	pgw_buf_init(&b, 0);
	cr_assert_eq(pgw_build_parse(&b, "s", "SELECT $1, $2", types, 2), 0);
	f = frame_one(PGW_FRONTEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(pgw_parse_parse(f.body, f.body_len, &p, err, sizeof(err)), 0);
	cr_assert_str_eq(p.query, "SELECT $1, $2");
	cr_assert_eq(pgw_u32_at(&p.param_types, 1), 25);
	free(h);
	pgw_buf_reset(&b);
	cr_assert_eq(pgw_build_bind(&b, "p", "s", pf, 1, vals, lens, 2, rf, 2), 0);
	f = frame_one(PGW_FRONTEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(pgw_parse_bind(f.body, f.body_len, &bd, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(bd.portal, "p");
	cr_assert_eq(pgw_format_of(&bd.param_formats, 1), 1);
	cr_assert_eq(pgw_format_of(&bd.result_formats, 1), 0);
	pgw_values_begin(&bd.params, &it);
	cr_assert_eq(pgw_values_next(&it, &v, &vl), 1);
	cr_assert_eq(vl, 4);
	cr_assert_eq(pgw_values_next(&it, &v, &vl), 1);
	cr_assert_eq(vl, -1);
	free(h);
	cr_assert_eq(pgw_build_bind(&b, "", "", pf, 3, vals, lens, 2, NULL, 0), -EINVAL);
	pgw_buf_reset(&b);
	cr_assert_eq(pgw_build_describe(&b, 'P', "p"), 0);
	f = frame_one(PGW_FRONTEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(pgw_parse_describe(f.body, f.body_len, &t), 0);
	cr_assert_eq(t.what, 'P');
	free(h);
	cr_assert_eq(pgw_build_describe(&b, 'x', "p"), -EINVAL);
	pgw_buf_reset(&b);
	cr_assert_eq(pgw_build_execute(&b, "p", 10), 0);
	f = frame_one(PGW_FRONTEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(pgw_parse_execute(f.body, f.body_len, &e), 0);
	cr_assert_eq(e.max_rows, 10);
	free(h);
	pgw_buf_free(&b);
}

Test(frontend, query_copy_password_sasl)
{
	struct msgbuf body = { .n = 0 };
	struct pgw_sasl_initial si;
	struct pgw_buf b;
	struct pgw_frame f;
	const char *s;
	size_t sl;
	uint8_t *h;

	adds(&body, "SELECT 1; SELECT 2");
	cr_assert_eq(pgw_parse_query(body.b, body.n, &s, &sl), 0);
	cr_assert_eq(sl, 18);
	/* a NUL inside ends the string early: bytes left over */
	body.b[8] = 0;
	cr_assert_eq(pgw_parse_query(body.b, body.n, &s, &sl), -EBADMSG);
	/* no NUL at all */
	cr_assert_eq(pgw_parse_query(body.b + 9, body.n - 10, &s, &sl), -EBADMSG);
	body.n = 0;
	adds(&body, "no thanks");
	cr_assert_eq(pgw_parse_copy_fail(body.b, body.n, &s), 0);
	cr_assert_str_eq(s, "no thanks");

	pgw_buf_init(&b, 0);
	cr_assert_eq(pgw_build_password(&b, "secret"), 0);
	f = frame_one(PGW_FRONTEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(f.type, 'p');
	cr_assert_eq(pgw_parse_password(f.body, f.body_len, &s), 0);
	cr_assert_str_eq(s, "secret");
	free(h);
	pgw_buf_reset(&b);
	cr_assert_eq(pgw_build_sasl_initial(&b, "SCRAM-SHA-256", (const uint8_t *)"n,,n=,r=x", 9),
		     0);
	f = frame_one(PGW_FRONTEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(pgw_parse_sasl_initial(f.body, f.body_len, &si), 0);
	cr_assert_str_eq(si.mech, "SCRAM-SHA-256");
	cr_assert_eq(si.data_len, 9);
	cr_assert_arr_eq(si.data, "n,,n=,r=x", 9);
	free(h);
	pgw_buf_reset(&b);
	cr_assert_eq(pgw_build_sasl_initial(&b, "X", NULL, 0), 0);
	f = frame_one(PGW_FRONTEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(pgw_parse_sasl_initial(f.body, f.body_len, &si), 0);
	cr_assert_eq(si.data_len, -1);
	cr_assert_null(si.data);
	free(h);
	pgw_buf_reset(&b);
	cr_assert_eq(pgw_build_sasl_response(&b, (const uint8_t *)"abc", 3), 0);
	f = frame_one(PGW_FRONTEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(f.body_len, 3);
	free(h);
	/* Sync, Terminate, Query */
	pgw_buf_reset(&b);
	cr_assert_eq(pgw_build_sync(&b), 0);
	cr_assert_eq(pgw_build_terminate(&b), 0);
	cr_assert_eq(pgw_build_query(&b, "SELECT 1"), 0);
	cr_assert_eq(b.len, 5 + 5 + 5 + 9);
	cr_assert_arr_eq(b.data, "S\0\0\0\4X\0\0\0\4Q\0\0\0\15SELECT 1", 24);
	pgw_buf_free(&b);
}

/* --------------------------------------------------- backend parsers */

Test(backend, auth)
{
	static const uint8_t salt[4] = { 0xde, 0xad, 0xbe, 0xef };
	const char *mechs[] = { "SCRAM-SHA-256-PLUS", "SCRAM-SHA-256" };
	struct pgw_buf b;
	struct pgw_auth a;
	struct pgw_frame f;
	uint8_t *h;

	pgw_buf_init(&b, 0);
	cr_assert_eq(pgw_build_auth_ok(&b), 0);
	f = frame_one(PGW_BACKEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(pgw_parse_auth(f.body, f.body_len, &a, err, sizeof(err)), 0);
	cr_assert_eq(a.code, PGW_AUTH_OK);
	free(h);
	pgw_buf_reset(&b);
	cr_assert_eq(pgw_build_auth_cleartext(&b), 0);
	f = frame_one(PGW_BACKEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(pgw_parse_auth(f.body, f.body_len, &a, err, sizeof(err)), 0);
	cr_assert_eq(a.code, PGW_AUTH_CLEARTEXT);
	free(h);
	pgw_buf_reset(&b);
	cr_assert_eq(pgw_build_auth_md5(&b, salt), 0);
	f = frame_one(PGW_BACKEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(pgw_parse_auth(f.body, f.body_len, &a, err, sizeof(err)), 0);
	cr_assert_eq(a.code, PGW_AUTH_MD5);
	cr_assert_arr_eq(a.salt, salt, 4);
	/* md5 without its salt */
	cr_assert_eq(pgw_parse_auth(f.body, f.body_len - 1, &a, err, sizeof(err)), -EBADMSG);
	free(h);
	pgw_buf_reset(&b);
	cr_assert_eq(pgw_build_auth_sasl(&b, mechs, 2), 0);
	f = frame_one(PGW_BACKEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(pgw_parse_auth(f.body, f.body_len, &a, err, sizeof(err)), 0);
	cr_assert_eq(a.code, PGW_AUTH_SASL);
	cr_assert_eq(a.n_mechs, 2);
	cr_assert_str_eq(a.mechs[1], "SCRAM-SHA-256");
	/* without the terminating empty name */
	cr_assert_eq(pgw_parse_auth(f.body, f.body_len - 1, &a, err, sizeof(err)), -EBADMSG);
	free(h);
	pgw_buf_reset(&b);
	cr_assert_eq(pgw_build_auth_sasl_data(&b, PGW_AUTH_SASL_CONTINUE, (const uint8_t *)"r=x", 3),
		     0);
	f = frame_one(PGW_BACKEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(pgw_parse_auth(f.body, f.body_len, &a, err, sizeof(err)), 0);
	cr_assert_eq(a.code, PGW_AUTH_SASL_CONTINUE);
	cr_assert_eq(a.data_len, 3);
	cr_assert_arr_eq(a.data, "r=x", 3);
	free(h);
	pgw_buf_reset(&b);
	cr_assert_eq(pgw_build_auth_sasl_data(&b, PGW_AUTH_SASL_FINAL, (const uint8_t *)"v=y", 3),
		     0);
	f = frame_one(PGW_BACKEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(pgw_parse_auth(f.body, f.body_len, &a, err, sizeof(err)), 0);
	cr_assert_eq(a.code, PGW_AUTH_SASL_FINAL);
	free(h);
	cr_assert_eq(pgw_build_auth_sasl_data(&b, PGW_AUTH_OK, NULL, 0), -EINVAL);
	{
		uint8_t unknown[4] = { 0, 0, 0, 99 };
		uint8_t okplus[5] = { 0, 0, 0, 0, 1 };

		cr_assert_eq(pgw_parse_auth(unknown, 4, &a, err, sizeof(err)), -EPROTO);
		cr_assert_eq(pgw_parse_auth(okplus, 5, &a, err, sizeof(err)), -EBADMSG);
		cr_assert_eq(pgw_parse_auth(okplus, 3, &a, err, sizeof(err)), -EBADMSG);
	}
	pgw_buf_free(&b);
}

Test(backend, status_key_ready)
{
	uint8_t key[4] = { 9, 8, 7, 6 }, key32[32] = { 1 };
	struct pgw_backend_key k;
	struct pgw_buf b;
	struct pgw_frame f;
	enum pgw_txn t;
	const char *n, *v;
	uint8_t *h;

	pgw_buf_init(&b, 0);
	cr_assert_eq(pgw_build_parameter_status(&b, "server_version", "15.6"), 0);
	f = frame_one(PGW_BACKEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(pgw_parse_parameter_status(f.body, f.body_len, &n, &v), 0);
	cr_assert_str_eq(n, "server_version");
	cr_assert_str_eq(v, "15.6");
	cr_assert_eq(pgw_parse_parameter_status(f.body, f.body_len - 1, &n, &v), -EBADMSG);
	free(h);
	pgw_buf_reset(&b);
	cr_assert_eq(pgw_build_backend_key(&b, 1234, key, 4), 0);
	cr_assert_eq(b.len, 13);
	f = frame_one(PGW_BACKEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(pgw_parse_backend_key(f.body, f.body_len, &k), 0);
	cr_assert_eq(k.pid, 1234);
	cr_assert_eq(k.key_len, 4);
	cr_assert_arr_eq(k.key, key, 4);
	cr_assert_eq(pgw_parse_backend_key(f.body, 7, &k), -EBADMSG);
	free(h);
	pgw_buf_reset(&b);
	cr_assert_eq(pgw_build_backend_key(&b, 1, key32, 32), 0);
	f = frame_one(PGW_BACKEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(pgw_parse_backend_key(f.body, f.body_len, &k), 0);
	cr_assert_eq(k.key_len, 32);
	free(h);
	for (const char *s = "ITE"; *s; s++) {
		pgw_buf_reset(&b);
		cr_assert_eq(pgw_build_ready(&b, *s), 0);
		f = frame_one(PGW_BACKEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
		cr_assert_eq(pgw_parse_ready(f.body, f.body_len, &t), 0);
		cr_assert_eq(t, *s == 'I' ? PGW_TXN_IDLE : *s == 'T' ? PGW_TXN_BLOCK : PGW_TXN_FAILED);
		free(h);
	}
	cr_assert_str_eq(pgw_txn_name(PGW_TXN_FAILED), "failed");
	cr_assert_eq(pgw_build_ready(&b, 'X'), -EINVAL);
	cr_assert_eq(pgw_parse_ready((const uint8_t *)"X", 1, &t), -EBADMSG);
	cr_assert_eq(pgw_parse_ready((const uint8_t *)"II", 2, &t), -EBADMSG);
	pgw_buf_free(&b);
}

Test(backend, command_tags)
{
	static const struct {
		const char *tag, *cmd;
		bool has;
		uint64_t rows;
	} cases[] = {
		{ "INSERT 0 5", "INSERT", true, 5 },
		{ "SELECT 3", "SELECT", true, 3 },
		{ "UPDATE 2", "UPDATE", true, 2 },
		{ "DELETE 0", "DELETE", true, 0 },
		{ "COPY 10", "COPY", true, 10 },
		{ "MERGE 7", "MERGE", true, 7 },
		{ "FETCH 100", "FETCH", true, 100 },
		{ "MOVE 1", "MOVE", true, 1 },
		{ "SELECT 18446744073709551615", "SELECT", true, UINT64_MAX },
		{ "CREATE TABLE", "CREATE TABLE", false, 0 },
		{ "BEGIN", "BEGIN", false, 0 },
		{ "ROLLBACK", "ROLLBACK", false, 0 },
		{ "DROP TABLE", "DROP TABLE", false, 0 },
		{ "SET", "SET", false, 0 },
	};
	static const char *bad[] = { "INSERT 5", "SELECT", "SELECT x", "UPDATE 1 2",
				     "SELECT 18446744073709551616", "DELETE -1", "COPY 1 ",
				     "INSERT 0 5 6", "" };
	struct pgw_command c;
	struct pgw_buf b;
	struct pgw_frame f;
	uint8_t *h;

	pgw_buf_init(&b, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pgw_buf_reset(&b);
		cr_assert_eq(pgw_build_command_complete(&b, cases[i].tag), 0);
		f = frame_one(PGW_BACKEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
		cr_assert_eq(pgw_parse_command_complete(f.body, f.body_len, &c), 0, "%s",
			     cases[i].tag);
		cr_assert_str_eq(c.command, cases[i].cmd);
		cr_assert_eq(c.has_rows, cases[i].has, "%s", cases[i].tag);
		cr_assert_eq(c.rows, cases[i].rows, "%s", cases[i].tag);
		free(h);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(pgw_command_tag(bad[i], strlen(bad[i]), &c), -EBADMSG, "%s", bad[i]);
	cr_assert_eq(pgw_command_tag("SELECT\n1", 8, &c), -EBADMSG);
	pgw_buf_free(&b);
}

Test(backend, error_notice)
{
	struct pgw_notice n;
	struct pgw_buf b;
	struct pgw_frame f;
	struct msgbuf body = { .n = 0 };
	uint8_t *h;

	pgw_buf_init(&b, 0);
	cr_assert_eq(pgw_build_error(&b, 'E', "ERROR", "42501",
				     "permission denied by sluice rule \"no-drops\"", "DROP TABLE t",
				     NULL),
		     0);
	f = frame_one(PGW_BACKEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(f.type, 'E');
	cr_assert_eq(pgw_parse_notice(f.body, f.body_len, &n, err, sizeof(err)), 0);
	cr_assert_str_eq(n.severity, "ERROR");
	cr_assert_str_eq(n.severity_nl, "ERROR");
	cr_assert_str_eq(n.sqlstate, "42501");
	cr_assert_str_eq(n.message, "permission denied by sluice rule \"no-drops\"");
	cr_assert_str_eq(n.detail, "DROP TABLE t");
	cr_assert_null(n.hint);
	free(h);
	pgw_buf_reset(&b);
	cr_assert_eq(pgw_build_error(&b, 'N', "NOTICE", "00000", "hello", NULL, "a hint"), 0);
	f = frame_one(PGW_BACKEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(f.type, 'N');
	cr_assert_eq(pgw_parse_notice(f.body, f.body_len, &n, err, sizeof(err)), 0);
	cr_assert_str_eq(n.hint, "a hint");
	free(h);
	cr_assert_eq(pgw_build_error(&b, 'E', "ERROR", "4250", "m", NULL, NULL), -EINVAL);
	cr_assert_eq(pgw_build_error(&b, 'E', "ERROR", "42s01", "m", NULL, NULL), -EINVAL);
	cr_assert_eq(pgw_build_error(&b, 'X', "ERROR", "42501", "m", NULL, NULL), -EINVAL);

	/* what a server sends: every documented field, an unknown one, a repeat */
	add8(&body, 'S'), adds(&body, "FEHLER");
	add8(&body, 'V'), adds(&body, "ERROR");
	add8(&body, 'C'), adds(&body, "23505");
	add8(&body, 'M'), adds(&body, "duplicate key");
	add8(&body, 'P'), adds(&body, "15");
	add8(&body, 's'), adds(&body, "public");
	add8(&body, 't'), adds(&body, "users");
	add8(&body, 'n'), adds(&body, "users_pkey");
	add8(&body, 'F'), adds(&body, "nbtinsert.c");
	add8(&body, 'L'), adds(&body, "666");
	add8(&body, 'R'), adds(&body, "_bt_check_unique");
	add8(&body, 'Z'), adds(&body, "future field");
	add8(&body, 'C'), adds(&body, "00000");
	add8(&body, 0);
	cr_assert_eq(pgw_parse_notice(body.b, body.n, &n, err, sizeof(err)), 0);
	cr_assert_str_eq(n.severity, "FEHLER");
	cr_assert_str_eq(n.sqlstate, "23505");
	cr_assert_str_eq(n.constraint, "users_pkey");
	cr_assert_str_eq(n.routine, "_bt_check_unique");
	cr_assert_str_eq(n.line, "666");
	/* without the terminator, or with bytes after it */
	cr_assert_eq(pgw_parse_notice(body.b, body.n - 1, &n, err, sizeof(err)), -EBADMSG);
	add8(&body, 'x');
	cr_assert_eq(pgw_parse_notice(body.b, body.n, &n, err, sizeof(err)), -EBADMSG);
	pgw_buf_free(&b);
}

Test(backend, misc)
{
	struct msgbuf body = { .n = 0 };
	struct pgw_notification nf;
	struct pgw_copy_response cr;
	struct pgw_negotiate ng;
	struct pgw_u32s oids;

	add32(&body, 77);
	adds(&body, "jobs");
	adds(&body, "{\"id\":1}");
	cr_assert_eq(pgw_parse_notification(body.b, body.n, &nf), 0);
	cr_assert_eq(nf.pid, 77);
	cr_assert_str_eq(nf.channel, "jobs");
	cr_assert_str_eq(nf.payload, "{\"id\":1}");
	cr_assert_eq(pgw_parse_notification(body.b, body.n - 1, &nf), -EBADMSG);

	body.n = 0;
	add8(&body, 1);
	add16(&body, 2);
	add16(&body, 1);
	add16(&body, 0);
	cr_assert_eq(pgw_parse_copy_response(body.b, body.n, &cr), 0);
	cr_assert_eq(cr.format, 1);
	cr_assert_eq(cr.formats.n, 2);
	cr_assert_eq(pgw_i16_at(&cr.formats, 0), 1);
	body.b[0] = 0;	/* text copy with a binary column */
	cr_assert_eq(pgw_parse_copy_response(body.b, body.n, &cr), -EBADMSG);
	body.b[0] = 2;
	cr_assert_eq(pgw_parse_copy_response(body.b, body.n, &cr), -EBADMSG);
	body.b[0] = 1;
	body.b[2] = 5;	/* count past the end */
	cr_assert_eq(pgw_parse_copy_response(body.b, body.n, &cr), -EBADMSG);

	body.n = 0;
	add16(&body, 2);
	add32(&body, 23);
	add32(&body, 25);
	cr_assert_eq(pgw_parse_param_description(body.b, body.n, &oids), 0);
	cr_assert_eq(oids.n, 2);
	cr_assert_eq(pgw_u32_at(&oids, 1), 25);
	cr_assert_eq(pgw_parse_param_description(body.b, body.n - 1, &oids), -EBADMSG);
	body.b[0] = 0x80;	/* negative count */
	cr_assert_eq(pgw_parse_param_description(body.b, body.n, &oids), -EBADMSG);

	body.n = 0;
	add32(&body, 0);
	add32(&body, 1);
	adds(&body, "_pq_.foo");
	cr_assert_eq(pgw_parse_negotiate(body.b, body.n, &ng), 0);
	cr_assert_eq(ng.n_unknown, 1);
	cr_assert_str_eq(ng.unknown, "_pq_.foo");
	body.b[7] = 2;
	cr_assert_eq(pgw_parse_negotiate(body.b, body.n, &ng), -EBADMSG);
}

/* ------------------------------------------ rows: description, data */

static const struct pgw_field users_fields[] = {
	{ "id", 16384, 1, 23, 4, -1, 1 },	/* int4, binary */
	{ "email", 16384, 2, 25, -1, -1, 0 },	/* text, text format */
	{ "note", 16384, 3, 1043, -1, 68, 1 },	/* varchar, binary */
	{ "amount", 16384, 4, 1700, -1, -1, 1 },	/* numeric, binary */
};

/* A description of fields, through the builder, the framer and a copy. */
static struct pgw_rowdesc *rd_of(const struct pgw_field *fields, unsigned n)
{
	struct pgw_buf b;
	struct pgw_rowdesc *rd;
	struct pgw_frame f;
	uint8_t *h;

	pgw_buf_init(&b, 0);
	cr_assert_eq(pgw_build_rowdesc(&b, fields, n), 0);
	f = frame_one(PGW_BACKEND, PGW_PHASE_NORMAL, b.data, b.len, &h);
	cr_assert_eq(pgw_validate(PGW_BACKEND, &f, err, sizeof(err)), 0, "%s", err);
	rd = pgw_rowdesc_new(f.body, f.body_len, err, sizeof(err));
	cr_assert_not_null(rd, "%s", err);
	free(h);	/* the description is a copy */
	pgw_buf_free(&b);
	return rd;
}

static struct pgw_rowdesc *users_rd(unsigned n)
{
	return rd_of(users_fields, n);
}
Test(rows, rowdesc)
{
	struct pgw_rowdesc *rd = users_rd(4);
	struct msgbuf body = { .n = 0 };
	uint8_t fmts[2] = { 0, 1 };
	struct pgw_i16s one = { 1, fmts }, three = { 3, fmts };

	cr_assert_eq(rd->n, 4);
	cr_assert_str_eq(rd->fields[1].name, "email");
	cr_assert_eq(rd->fields[0].type_oid, 23);
	cr_assert_eq(rd->fields[0].table_oid, 16384);
	cr_assert_eq(rd->fields[2].column, 3);
	cr_assert_eq(rd->fields[2].typmod, 68);
	cr_assert_eq(rd->fields[3].type_size, -1);
	cr_assert_eq(rd->fields[3].format, 1);
	cr_assert_eq(pgw_rowdesc_set_formats(rd, &one), 0);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(rd->fields[i].format, 1);
	cr_assert_eq(pgw_rowdesc_set_formats(rd, &three), -EBADMSG);
	pgw_rowdesc_free(rd);

	/* a count bigger than the body; a format 2 */
	add16(&body, 1000);
	adds(&body, "x");
	errno = 0;
	cr_assert_null(pgw_rowdesc_new(body.b, body.n, err, sizeof(err)));
	cr_assert_eq(errno, EBADMSG);
	body.n = 0;
	add16(&body, 1);
	adds(&body, "x");
	add32(&body, 0);
	add16(&body, 0);
	add32(&body, 25);
	add16(&body, 0xffff);
	add32(&body, 0xffffffff);
	add16(&body, 2);
	cr_assert_null(pgw_rowdesc_new(body.b, body.n, err, sizeof(err)));
	body.b[body.n - 1] = 0;
	rd = pgw_rowdesc_new(body.b, body.n, err, sizeof(err));
	cr_assert_not_null(rd, "%s", err);
	cr_assert_eq(rd->fields[0].typmod, -1);
	pgw_rowdesc_free(rd);
	pgw_rowdesc_free(NULL);
}

/* A DataRow body for the users table: id (binary int4), email, note
 * (binary varchar), amount (binary numeric, any bytes). NULL strings are
 * SQL NULLs. */
static struct msgbuf users_row(uint32_t id, const char *email, const char *note,
			       const char *amount)
{
	struct msgbuf m = { .n = 0 };
	const char *s[3] = { email, note, amount };

	add16(&m, 4);
	add32(&m, 4);
	add32(&m, id);
	for (int i = 0; i < 3; i++) {
		if (!s[i]) {
			add32(&m, UINT32_MAX);
			continue;
		}
		add32(&m, (uint32_t)strlen(s[i]));
		add(&m, s[i], strlen(s[i]));
	}
	return m;
}

static struct mask_spec *spec(const char *kind, const char *value, const char *kind2,
			      const char *value2)
{
	struct mask_spec *s = mask_spec_new();

	cr_assert_not_null(s);
	cr_assert_eq(mask_spec_add(s, kind, value, err, sizeof(err)), 0, "%s", err);
	if (kind2)
		cr_assert_eq(mask_spec_add(s, kind2, value2, err, sizeof(err)), 0, "%s", err);
	return s;
}

/* Mask row under s for rd; the result's values, re-parsed, in vals. */
static int mask_row(const struct pgw_rowdesc *rd, const struct mask_spec *s,
		    const struct msgbuf *row, struct pgw_buf *out, char vals[][64], int32_t *lens)
{
	struct pgw_frame f;
	struct pgw_values cols;
	struct pgw_values_it it;
	const uint8_t *v;
	int32_t l;
	uint8_t *h = heap(row->b, row->n);
	int rc, i = 0;

	pgw_buf_reset(out);
	rc = pgw_mask_datarow(rd, s, h, row->n, out);
	free(h);
	if (rc < 0) {
		cr_assert_eq(out->len, 0, "nothing of a withheld row");
		return rc;
	}
	cr_assert_eq(pgw_frame(PGW_BACKEND, PGW_PHASE_NORMAL, NULL, out->data, out->len, &f, err,
			       sizeof(err)),
		     0);
	cr_assert_eq(f.type, 'D');
	cr_assert_eq(f.size, out->len, "length word rewritten");
	cr_assert_eq(pgw_parse_datarow(f.body, f.body_len, &cols), 0);
	cr_assert_eq(cols.n, rd->n);
	pgw_values_begin(&cols, &it);
	while (pgw_values_next(&it, &v, &l)) {
		lens[i] = l;
		memset(vals[i], 0, 64);
		if (l > 0)
			memcpy(vals[i], v, (size_t)l < 63 ? (size_t)l : 63);
		i++;
	}
	return rc;
}

Test(rows, mask_datarow)
{
	struct pgw_rowdesc *rd3 = users_rd(3), *rd4 = users_rd(4);
	struct mask_spec *col = spec("sql_column", "email", NULL, NULL);
	struct mask_spec *pat = spec("pattern", "email", NULL, NULL);
	struct mask_spec *idcol = spec("sql_column", "id", NULL, NULL);
	struct mask_spec *amountcol = spec("sql_column", "amount", NULL, NULL);
	struct mask_spec *other = spec("sql_column", "ssn", NULL, NULL);
	struct pgw_buf out;
	struct msgbuf row;
	char vals[4][64];
	int32_t lens[4];

	pgw_buf_init(&out, 0);
	row = users_row(7, "bob@example.com", "mail alice@example.org now", NULL);

	/* by name: the text email column; the binary int passes untouched */
	cr_assert_eq(mask_row(rd4, col, &row, &out, vals, lens), 1);
	cr_assert_eq(lens[0], 4);
	cr_assert_eq((uint8_t)vals[0][3], 7);
	cr_assert_eq(lens[1], MASK_MARKER_LEN);
	cr_assert_str_eq(vals[1], MASK_MARKER);
	cr_assert_str_eq(vals[2], "mail alice@example.org now");
	cr_assert_eq(out.len, 1 + 4 + 2 + (4 + 4) + (4 + 4) + (4 + 26) + 4);

	/* by pattern: in the text column and the binary varchar */
	cr_assert_eq(mask_row(rd4, pat, &row, &out, vals, lens), 2);
	cr_assert_str_eq(vals[1], "****");
	cr_assert_str_eq(vals[2], "mail **** now");
	cr_assert_eq(lens[2], 13);

	/* NULLs stay NULL */
	row = users_row(8, NULL, NULL, NULL);
	cr_assert_eq(mask_row(rd4, col, &row, &out, vals, lens), 0);
	cr_assert_eq(lens[1], -1);
	cr_assert_eq(lens[2], -1);

	/* a binary int column masked by name cannot be masked: withheld */
	row = users_row(9, "x", "y", NULL);
	cr_assert_eq(mask_row(rd4, idcol, &row, &out, vals, lens), -EPERM);

	/* binary numeric (a layout this module does not read): passes when
	 * nothing applies to it, withheld when a pattern or its name does */
	row = users_row(9, "a@example.com", "n", "raw bytes");
	cr_assert_eq(mask_row(rd4, col, &row, &out, vals, lens), 1);
	cr_assert_str_eq(vals[3], "raw bytes");
	cr_assert_eq(mask_row(rd4, pat, &row, &out, vals, lens), -EPERM);
	cr_assert_eq(mask_row(rd4, amountcol, &row, &out, vals, lens), -EPERM);
	row = users_row(9, "a", "n", NULL);	/* a NULL has nothing to hide */
	cr_assert_eq(mask_row(rd4, pat, &row, &out, vals, lens), 0);

	/* nothing to mask: an exact copy */
	row = users_row(9, "a@example.com", "n", "b");
	cr_assert_eq(mask_row(rd4, other, &row, &out, vals, lens), 0);
	cr_assert_eq(out.len, row.n + 5);
	cr_assert_arr_eq(out.data + 5, row.b, row.n);
	cr_assert_eq(mask_row(rd4, NULL, &row, &out, vals, lens), 0);
	cr_assert_arr_eq(out.data + 5, row.b, row.n);

	/* a row that does not match the description */
	cr_assert_eq(mask_row(rd3, col, &row, &out, vals, lens), -EBADMSG);
	row.n -= 1;
	cr_assert_eq(mask_row(rd4, col, &row, &out, vals, lens), -EBADMSG);

	/* out too small: nothing written */
	{
		struct pgw_buf tiny;

		row = users_row(1, "a@example.com", "n", NULL);
		pgw_buf_init(&tiny, 10);
		cr_assert_eq(pgw_mask_datarow(rd4, col, row.b, row.n, &tiny), -EMSGSIZE);
		cr_assert_eq(tiny.len, 0);
		pgw_buf_free(&tiny);
	}

	mask_spec_free(col);
	mask_spec_free(pat);
	mask_spec_free(idcol);
	mask_spec_free(amountcol);
	mask_spec_free(other);
	pgw_rowdesc_free(rd3);
	pgw_rowdesc_free(rd4);
	pgw_buf_free(&out);
}

Test(rows, mask_bytea)
{
	static const struct pgw_field f[] = {
		{ "bin", 0, 0, 17, -1, -1, 1 },	/* bytea, binary */
		{ "txt", 0, 0, 17, -1, -1, 0 },	/* bytea, text (hex or escape) */
	};
	static const struct {
		const char *bin, *txt;	/* in */
		int rc;
		const char *bin_out, *txt_out;
	} cases[] = {
		{ "to bob@example.com", "\\x68656c6c6f", 1, "to ****", "\\x68656c6c6f" },
		/* hex of "bob@example.com": cannot be re-masked, withheld */
		{ "x", "\\x626f62406578616d706c652e636f6d", -EPERM, NULL, NULL },
		{ "x", "\\x6", -EPERM, NULL, NULL },	/* odd hex */
		{ "x", "\\xzz", -EPERM, NULL, NULL },
		/* escape format: the text is there to mask */
		{ "x", "mail bob@example.com", 1, "x", "mail ****" },
	};
	struct mask_spec *pat = spec("pattern", "email", NULL, NULL);
	struct mask_spec *named = spec("sql_column", "txt", NULL, NULL);
	struct pgw_rowdesc *rd;
	struct pgw_buf b, out;
	char vals[2][64];
	int32_t lens[2];

	pgw_buf_init(&b, 0);
	pgw_buf_init(&out, 0);
	rd = rd_of(f, 2);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const uint8_t *v[2] = { (const uint8_t *)cases[i].bin,
					(const uint8_t *)cases[i].txt };
		const uint32_t l[2] = { strlen(cases[i].bin), strlen(cases[i].txt) };
		struct msgbuf row = { .n = 0 };

		pgw_buf_reset(&b);
		cr_assert_eq(pgw_build_datarow(&b, v, l, 2), 0);
		add(&row, b.data + 5, b.len - 5);
		cr_assert_eq(mask_row(rd, pat, &row, &out, vals, lens), cases[i].rc, "case %zu", i);
		if (cases[i].rc < 0)
			continue;
		cr_assert_str_eq(vals[0], cases[i].bin_out);
		cr_assert_str_eq(vals[1], cases[i].txt_out);
		/* by name, any bytea becomes the marker */
		cr_assert_eq(mask_row(rd, named, &row, &out, vals, lens), 1);
		cr_assert_str_eq(vals[1], MASK_MARKER);
	}
	mask_spec_free(pat);
	mask_spec_free(named);
	pgw_rowdesc_free(rd);
	pgw_buf_free(&b);
	pgw_buf_free(&out);
}

Test(rows, mask_binary_numbers)
{
	static const struct pgw_field f[] = {
		{ "n", 0, 0, 20, 8, -1, 1 },	/* int8 */
		{ "d", 0, 0, 701, 8, -1, 1 },	/* float8 */
	};
	struct mask_spec *cards = spec("pattern", "credit-card", NULL, NULL);
	struct pgw_rowdesc *rd;
	struct pgw_buf b, out;
	uint64_t card = 4111111111111111ULL, small = 42;
	double dcard = 4111111111111111.0, dsmall = 3.5;
	uint8_t v1[8], v2[8];
	const uint8_t *vals[2] = { v1, v2 };
	const uint32_t lens[2] = { 8, 8 };
	uint64_t u;

	pgw_buf_init(&b, 0);
	pgw_buf_init(&out, 0);
	rd = rd_of(f, 2);

	for (int pass = 0; pass < 3; pass++) {
		uint64_t n = pass == 1 ? card : small;
		double d = pass == 2 ? dcard : dsmall;

		for (int i = 0; i < 8; i++)
			v1[i] = n >> (56 - 8 * i);
		memcpy(&u, &d, 8);
		for (int i = 0; i < 8; i++)
			v2[i] = u >> (56 - 8 * i);
		pgw_buf_reset(&b);
		cr_assert_eq(pgw_build_datarow(&b, vals, lens, 2), 0);
		pgw_buf_reset(&out);
		cr_assert_eq(pgw_mask_datarow(rd, cards, b.data + 5, b.len - 5, &out),
			     pass ? -EPERM : 0, "pass %d", pass);
	}
	mask_spec_free(cards);
	pgw_rowdesc_free(rd);
	pgw_buf_free(&b);
	pgw_buf_free(&out);
}

/* ----------------------------------------- every prefix, every body */

/* Valid messages of both directions, whole, for the sweeps below. */
static size_t corpus(struct pgw_buf *b, enum pgw_dir dir, size_t *ends, size_t max)
{
	static const uint8_t salt[4] = { 1, 2, 3, 4 }, key[4] = { 5, 6, 7, 8 };
	const char *mechs[] = { "SCRAM-SHA-256" };
	const uint8_t *vals[3] = { (const uint8_t *)"1", NULL, (const uint8_t *)"abc" };
	const uint32_t lens[3] = { 1, 0, 3 };
	size_t n = 0;

#define ADD(call)                                  \
	do {                                       \
		cr_assert_eq((call), 0, #call);    \
		cr_assert_lt(n, max);              \
		ends[n++] = b->len;                \
	} while (0)
	pgw_buf_reset(b);
	if (dir == PGW_FRONTEND) {
		struct msgbuf body = { .n = 0 }, m;

		ADD(pgw_build_query(b, "SELECT 1"));
		ADD(pgw_build_sync(b));
		ADD(pgw_build_terminate(b));
		ADD(pgw_build_password(b, "pw"));
		ADD(pgw_build_sasl_initial(b, "SCRAM-SHA-256", (const uint8_t *)"n,,n=,r=abc", 11));
		ADD(pgw_build_sasl_response(b, (const uint8_t *)"c=biws", 6));
		adds(&body, "s");
		adds(&body, "SELECT $1");
		add16(&body, 1);
		add32(&body, 23);
		m = typed('P', &body);
		ADD(pgw_buf_append(b, m.b, m.n));
		body.n = 0;
		adds(&body, "");
		adds(&body, "s");
		add16(&body, 1);
		add16(&body, 0);
		add16(&body, 2);
		add32(&body, 1);
		add8(&body, '5');
		add32(&body, UINT32_MAX);
		add16(&body, 0);
		m = typed('B', &body);
		ADD(pgw_buf_append(b, m.b, m.n));
		body.n = 0;
		adds(&body, "");
		add32(&body, 0);
		m = typed('E', &body);
		ADD(pgw_buf_append(b, m.b, m.n));
		body.n = 0;
		add8(&body, 'P');
		adds(&body, "");
		m = typed('D', &body);
		ADD(pgw_buf_append(b, m.b, m.n));
		m = typed('C', &body);
		ADD(pgw_buf_append(b, m.b, m.n));
		body.n = 0;
		adds(&body, "oops");
		m = typed('f', &body);
		ADD(pgw_buf_append(b, m.b, m.n));
	} else {
		ADD(pgw_build_auth_ok(b));
		ADD(pgw_build_auth_md5(b, salt));
		ADD(pgw_build_auth_sasl(b, mechs, 1));
		ADD(pgw_build_auth_sasl_data(b, PGW_AUTH_SASL_CONTINUE, (const uint8_t *)"r=a", 3));
		ADD(pgw_build_parameter_status(b, "TimeZone", "UTC"));
		ADD(pgw_build_backend_key(b, 1, key, 4));
		ADD(pgw_build_ready(b, 'I'));
		ADD(pgw_build_command_complete(b, "INSERT 0 1"));
		ADD(pgw_build_empty_query(b));
		ADD(pgw_build_error(b, 'E', "ERROR", "42501", "no", "d", "h"));
		ADD(pgw_build_rowdesc(b, users_fields, 4));
		ADD(pgw_build_datarow(b, vals, lens, 3));
	}
#undef ADD
	return n;
}

Test(sweep, prefixes_and_truncated_bodies)
{
	size_t ends[32];
	struct pgw_buf b;

	pgw_buf_init(&b, 0);
	for (int d = 0; d < 2; d++) {
		enum pgw_dir dir = d ? PGW_BACKEND : PGW_FRONTEND;
		size_t n = corpus(&b, dir, ends, 32), start = 0;

		for (size_t i = 0; i < n; start = ends[i++]) {
			size_t size = ends[i] - start;
			struct pgw_frame f;
			uint8_t *h;

			/* every prefix: wait for more */
			for (size_t p = 0; p < size; p++) {
				h = heap(b.data + start, p);
				cr_assert_eq(pgw_frame(dir, PGW_PHASE_NORMAL, NULL, h, p, &f, err,
						       sizeof(err)),
					     -EAGAIN, "dir %d msg %zu prefix %zu", d, i, p);
				cr_assert_geq(f.need, 1);
				free(h);
			}
			f = frame_one(dir, PGW_PHASE_NORMAL, b.data + start, size, &h);
			cr_assert_eq(pgw_validate(dir, &f, err, sizeof(err)), 0, "dir %d msg %zu: %s",
				     d, i, err);
			free(h);
			/* every shorter body with its length word to match:
			 * a clean verdict, no read past it (ASan) */
			for (size_t k = 0; k < size - 5; k++) {
				uint8_t *m = heap(b.data + start, 5 + k);

				m[1] = (uint8_t)((k + 4) >> 24);
				m[2] = (uint8_t)((k + 4) >> 16);
				m[3] = (uint8_t)((k + 4) >> 8);
				m[4] = (uint8_t)(k + 4);
				if (pgw_frame(dir, PGW_PHASE_NORMAL, NULL, m, 5 + k, &f, err,
					      sizeof(err)) == 0) {
					int rc = pgw_validate(dir, &f, err, sizeof(err));

					cr_assert(rc == 0 || rc == -EBADMSG || rc == -EPROTO,
						  "dir %d msg %zu body %zu: %d", d, i, k, rc);
				}
				free(m);
			}
		}
	}
	pgw_buf_free(&b);
}

Test(sweep, startup_prefixes)
{
	const struct pgw_param p[] = { { "user", "u" }, { "database", "d" } };
	struct pgw_startup st;
	struct pgw_frame f;
	struct pgw_buf b;

	pgw_buf_init(&b, 0);
	cr_assert_eq(pgw_build_startup(&b, 0, p, 2), 0);
	for (size_t k = 8; k < b.len; k++) {
		uint8_t *m = heap(b.data, k);

		m[3] = (uint8_t)k;
		cr_assert_eq(pgw_frame(PGW_FRONTEND, PGW_PHASE_STARTUP, NULL, m, k, &f, err,
				       sizeof(err)),
			     0);
		cr_assert_lt(pgw_parse_startup(f.body, f.body_len, &st, err, sizeof(err)), 0,
			     "startup cut at %zu", k);
		free(m);
	}
	pgw_buf_free(&b);
}

Test(sweep, random_garbage)
{
	unsigned seed = 12345;
	uint8_t raw[64];
	struct pgw_frame f;

	for (int iter = 0; iter < 20000; iter++) {
		size_t n = (size_t)(rand_r(&seed) % sizeof(raw));
		uint8_t *h;

		for (size_t i = 0; i < n; i++)
			raw[i] = (uint8_t)rand_r(&seed);
		/* a plausible type and a small length half the time */
		if (n >= 5 && iter % 2) {
			raw[0] = (uint8_t)"QPBEDCSRKZTDNAGtv12"[rand_r(&seed) % 19];
			raw[1] = raw[2] = raw[3] = 0;
			raw[4] = (uint8_t)(4 + rand_r(&seed) % (n - 4));
		}
		h = heap(raw, n);
		for (int d = 0; d < 2; d++)
			if (!pgw_frame(d ? PGW_BACKEND : PGW_FRONTEND, PGW_PHASE_NORMAL, NULL, h, n, &f,
				       err, sizeof(err)))
				pgw_validate(d ? PGW_BACKEND : PGW_FRONTEND, &f, err, sizeof(err));
		if (!pgw_frame(PGW_FRONTEND, PGW_PHASE_STARTUP, NULL, h, n, &f, err, sizeof(err)))
			pgw_validate(PGW_FRONTEND, &f, err, sizeof(err));
		free(h);
	}
}

/* ------------------------------------------------------------ buffer */

Test(buf, bounded_and_rolled_back)
{
	struct pgw_buf b;
	char big[200];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	pgw_buf_init(&b, 100);
	cr_assert_eq(pgw_build_query(&b, "SELECT 1"), 0);
	cr_assert_eq(pgw_build_query(&b, big), -EMSGSIZE);
	cr_assert_eq(b.len, 14, "the failed message left nothing behind");
	cr_assert_eq(pgw_build_query(&b, NULL), -EINVAL);
	cr_assert_eq(b.len, 14);
	pgw_buf_free(&b);
	pgw_buf_free(&b);	/* idempotent on a freed buffer */
}

/* ------------------------------------------------------------ md5 */

static void md5hex(const void *a, size_t al, const void *b, size_t bl, char out[33])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char d[16];

	cr_assert(EVP_DigestInit_ex(c, EVP_md5(), NULL));
	EVP_DigestUpdate(c, a, al);
	EVP_DigestUpdate(c, b, bl);
	EVP_DigestFinal_ex(c, d, NULL);
	EVP_MD_CTX_free(c);
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

Test(auth, md5)
{
	static const uint8_t salt[4] = { 0x93, 0x1a, 0x00, 0x7f };
	char got[PGW_MD5_LEN + 1], inner[33], outer[33], want[36];

	cr_assert_eq(pgw_md5_password("alice", "s3cret", salt, got), 0);
	/* the documented formula, step by step */
	md5hex("s3cret", 6, "alice", 5, inner);
	md5hex(inner, 32, salt, 4, outer);
	snprintf(want, sizeof(want), "md5%s", outer);
	cr_assert_str_eq(got, want);
	cr_assert_eq(strlen(got), PGW_MD5_LEN);
	cr_assert_eq(pgw_md5_password(NULL, "x", salt, got), -EINVAL);
}

/* ------------------------------------------------------------ SCRAM */

#define RFC_NONCE	"rOprNGfwEbeRWgbNEkqO"
#define RFC_SFIRST	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_CFINAL	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SFINAL	"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/* An RFC 7677 client up to the server-first message. */
static struct pgw_scram *rfc_client(const char *server_first, int *rc,
				    struct pgw_scram_cache *cache)
{
	struct pgw_scram *s = pgw_scram_new("pencil", "user");
	const uint8_t *d;
	size_t n;

	cr_assert_not_null(s);
	cr_assert_eq(pgw_scram_set_nonce(s, RFC_NONCE), 0);
	cr_assert_eq(pgw_scram_client_first(s, &d, &n), 0);
	cr_assert_eq(n, strlen("n,,n=user,r=" RFC_NONCE));
	cr_assert_arr_eq(d, "n,,n=user,r=" RFC_NONCE, n);
	err[0] = 0;
	*rc = pgw_scram_server_first(s, (const uint8_t *)server_first, strlen(server_first), cache,
				     err, sizeof(err));
	return s;
}

Test(scram, rfc7677_exchange)
{
	struct pgw_scram_cache cache = { .valid = false };
	struct pgw_scram *s;
	const uint8_t *d;
	size_t n;
	int rc;

	for (int pass = 0; pass < 2; pass++) {	/* the second from the cache */
		s = rfc_client(RFC_SFIRST, &rc, &cache);
		cr_assert_eq(rc, 0, "%s", err);
		cr_assert(cache.valid);
		cr_assert_eq(cache.iter, 4096);
		cr_assert_eq(cache.salt_len, 16);
		cr_assert_eq(pgw_scram_client_final(s, &d, &n), 0);
		cr_assert_eq(n, strlen(RFC_CFINAL));
		cr_assert_arr_eq(d, RFC_CFINAL, n);
		cr_assert_eq(pgw_scram_server_final(s, (const uint8_t *)RFC_SFINAL,
						    strlen(RFC_SFINAL), err, sizeof(err)),
			     0, "%s", err);
		pgw_scram_free(s);
	}
	/* a poisoned cache for another salt is not used */
	cache.salt[0] ^= 1;
	s = rfc_client(RFC_SFIRST, &rc, &cache);
	cr_assert_eq(rc, 0);
	cr_assert_eq(pgw_scram_client_final(s, &d, &n), 0);
	cr_assert_arr_eq(d, RFC_CFINAL, n);
	pgw_scram_free(s);
}

Test(scram, refuses_liars)
{
	static const char *bad_first[] = {
		/* nonce that does not start with ours */
		"r=XXprNGfwEbeRWgbNEkqO%hvYD,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		/* nonce that is just ours */
		"r=" RFC_NONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		/* iteration counts out of bounds */
		"r=" RFC_NONCE "abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095",
		"r=" RFC_NONCE "abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1000001",
		"r=" RFC_NONCE "abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999999999999999",
	};
	static const char *malformed[] = {
		"r=" RFC_NONCE "abc,s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096",	/* bad base64 */
		"r=" RFC_NONCE "abc,s=,i=4096",
		"r=" RFC_NONCE "abc,s=W22Z*J0SNY7soEsUEjb6gQ==,i=4096",
		"r=" RFC_NONCE "abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=04096",
		"r=" RFC_NONCE "abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,x=ext",
		"m=ext,r=" RFC_NONCE "abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		"r=" RFC_NONCE "abc,i=4096,s=W22ZaJ0SNY7soEsUEjb6gQ==",
		"r=" RFC_NONCE "abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,",
		"",
	};
	static const char *bad_final[] = {
		"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",	/* one bit off */
		"e=invalid-proof",
	};
	struct pgw_scram *s;
	const uint8_t *d;
	size_t n;
	int rc;

	for (size_t i = 0; i < sizeof(bad_first) / sizeof(bad_first[0]); i++) {
		s = rfc_client(bad_first[i], &rc, NULL);
		cr_assert(rc == -EPERM || rc == -EBADMSG, "%s: %d", bad_first[i], rc);
		cr_assert_eq(pgw_scram_client_final(s, &d, &n), -EINVAL, "no proof after a refusal");
		pgw_scram_free(s);
	}
	for (size_t i = 0; i < 2; i++) {
		s = rfc_client(bad_first[i], &rc, NULL);
		cr_assert_eq(rc, -EPERM, "%s", bad_first[i]);
		pgw_scram_free(s);
	}
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		s = rfc_client(malformed[i], &rc, NULL);
		cr_assert_eq(rc, -EBADMSG, "%s: %d", malformed[i], rc);
		pgw_scram_free(s);
	}
	for (size_t i = 0; i < sizeof(bad_final) / sizeof(bad_final[0]); i++) {
		s = rfc_client(RFC_SFIRST, &rc, NULL);
		cr_assert_eq(rc, 0);
		cr_assert_eq(pgw_scram_client_final(s, &d, &n), 0);
		cr_assert_eq(pgw_scram_server_final(s, (const uint8_t *)bad_final[i],
						    strlen(bad_final[i]), err, sizeof(err)),
			     -EPERM, "%s", bad_final[i]);
		/* no second chance */
		cr_assert_eq(pgw_scram_server_final(s, (const uint8_t *)RFC_SFINAL,
						    strlen(RFC_SFINAL), err, sizeof(err)),
			     -EINVAL);
		pgw_scram_free(s);
	}
	/* a server-final with trailing bytes */
	s = rfc_client(RFC_SFIRST, &rc, NULL);
	cr_assert_eq(pgw_scram_client_final(s, &d, &n), 0);
	cr_assert_eq(pgw_scram_server_final(s, (const uint8_t *)RFC_SFINAL ",x",
					    strlen(RFC_SFINAL) + 2, err, sizeof(err)),
		     -EBADMSG);
	pgw_scram_free(s);
}

Test(scram, random_nonce_and_defaults)
{
	struct pgw_scram *a = pgw_scram_new("pw", NULL), *b = pgw_scram_new("pw", NULL);
	const uint8_t *da, *db;
	size_t na, nb;
	char first[128];

	cr_assert_not_null(a);
	cr_assert_eq(pgw_scram_client_first(a, &da, &na), 0);
	cr_assert_eq(pgw_scram_client_first(b, &db, &nb), 0);
	cr_assert_eq(na, strlen("n,,n=,r=") + 24);
	cr_assert_arr_eq(da, "n,,n=,r=", 8);
	memcpy(first, da, na);
	cr_assert(na != nb || memcmp(first, db, nb), "two nonces the same");
	cr_assert_eq(pgw_scram_client_first(a, &da, &na), -EINVAL, "once only");
	cr_assert_eq(pgw_scram_set_nonce(a, "late"), -EINVAL);
	pgw_scram_free(a);
	pgw_scram_free(b);
	pgw_scram_free(NULL);
	errno = 0;
	cr_assert_null(pgw_scram_new("pw", "a,b"));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(pgw_scram_new(NULL, NULL));
	a = pgw_scram_new("pw", NULL);
	cr_assert_eq(pgw_scram_set_nonce(a, "has,comma"), -EINVAL);
	cr_assert_eq(pgw_scram_set_nonce(a, ""), -EINVAL);
	pgw_scram_free(a);
}
