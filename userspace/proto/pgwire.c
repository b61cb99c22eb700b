// SPDX-License-Identifier: BSD-2-Clause
/*
 * The PostgreSQL v3 wire protocol: see pgwire.h for the contract.
 *
 * Every parser reads through one cursor (struct rd) that knows the end of
 * the body and turns any read past it into a sticky failure, so the
 * message formats below read like their specification and no parser has
 * a length check of its own to forget. Builders write through the same
 * kind of sticky writer (struct wr), which backfills the length word and
 * rolls the buffer back when anything failed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "mask.h"
#include "text.h"
#include "proto/pgwire.h"

static void msg(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void msg(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* ------------------------------------------------------------ framing */

/* The message types of each direction; those that never have a body; and
 * those that may be big (PGW_MAX_BULK). */
static const char fe_types[] = "BCDEFHPQSXcdfp";
static const char be_types[] = "123ACDEGHIKNRSTVWZcdnstv";
static const char fe_empty[] = "HSXc";
static const char be_empty[] = "123Icns";
static const char fe_bulk[] = "BFPQd";
static const char be_bulk[] = "DVd";

static bool in_set(const char *set, char c)
{
	return c && strchr(set, c);
}

static uint32_t limit_of(uint32_t v, uint32_t def)
{
	if (!v)
		return def;
	return v > PGW_MAX_HARD ? PGW_MAX_HARD : v;
}

static int frame_startup(const uint8_t *buf, size_t len, struct pgw_frame *f, char *err,
			 size_t errlen)
{
	uint32_t lw;

	if (len < 4) {
		f->need = 4 - len;
		return -EAGAIN;
	}
	lw = be32(buf);
	if (lw < 8) {
		msg(err, errlen, "startup packet length %u is below 8", lw);
		return -EBADMSG;
	}
	if (lw > PGW_MAX_STARTUP) {
		msg(err, errlen, "startup packet length %u is over %u", lw, PGW_MAX_STARTUP);
		return -EMSGSIZE;
	}
	f->body = buf + 4;
	f->body_len = lw - 4;
	f->size = lw;
	if (len < lw) {
		f->need = lw - len;
		return -EAGAIN;
	}
	return 0;
}

int pgw_frame(enum pgw_dir dir, enum pgw_phase phase, const struct pgw_limits *lim,
	      const uint8_t *buf, size_t len, struct pgw_frame *f, char *err, size_t errlen)
{
	bool fe = dir == PGW_FRONTEND;
	uint32_t lw, max;
	char t;

	if (!f || (!buf && len) || (dir != PGW_FRONTEND && dir != PGW_BACKEND))
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	if (phase == PGW_PHASE_STARTUP) {
		if (!fe)
			return -EINVAL;
		return frame_startup(buf, len, f, err, errlen);
	}
	if (phase != PGW_PHASE_NORMAL)
		return -EINVAL;
	if (len < 1) {
		f->need = 5;
		return -EAGAIN;
	}
	t = (char)buf[0];
	if (!in_set(fe ? fe_types : be_types, t)) {
		msg(err, errlen, "unknown %s message type 0x%02x", fe ? "frontend" : "backend",
		    buf[0]);
		return -EPROTO;
	}
	if (len < 5) {
		f->need = 5 - len;
		return -EAGAIN;
	}
	lw = be32(buf + 1);
	if (lw < 4) {
		msg(err, errlen, "message '%c' length %u is below 4", t, lw);
		return -EBADMSG;
	}
	if (in_set(fe ? fe_empty : be_empty, t) && lw != 4) {
		msg(err, errlen, "message '%c' has no body but length %u", t, lw);
		return -EBADMSG;
	}
	if (in_set(fe ? fe_bulk : be_bulk, t))
		max = limit_of(lim ? lim->max_bulk : 0, PGW_MAX_BULK_DEFAULT);
	else
		max = limit_of(lim ? lim->max_msg : 0, PGW_MAX_MSG_DEFAULT);
	if (lw - 4 > max) {
		msg(err, errlen, "message '%c' length %u is over the limit %u", t, lw, max);
		return -EMSGSIZE;
	}
	f->type = t;
	f->body = buf + 5;
	f->body_len = lw - 4;
	f->size = (size_t)lw + 1;
	if (len < f->size) {
		f->need = f->size - len;
		return -EAGAIN;
	}
	return 0;
}

int16_t pgw_i16_at(const struct pgw_i16s *a, unsigned i)
{
	return i < a->n ? (int16_t)be16(a->p + 2 * (size_t)i) : 0;
}

uint32_t pgw_u32_at(const struct pgw_u32s *a, unsigned i)
{
	return i < a->n ? be32(a->p + 4 * (size_t)i) : 0;
}

void pgw_values_begin(const struct pgw_values *v, struct pgw_values_it *it)
{
	it->p = v->p;
	it->end = v->end;
	it->left = v->n;
}

int pgw_values_next(struct pgw_values_it *it, const uint8_t **val, int32_t *len)
{
	int32_t l;

	/* the parser checked the list; these guards only keep a misuse safe */
	if (!it->left || it->end - it->p < 4)
		return 0;
	l = (int32_t)be32(it->p);
	it->p += 4;
	it->left--;
	if (l < 0) {
		*val = NULL;
		*len = -1;
		return 1;
	}
	if (it->end - it->p < l) {
		it->left = 0;
		return 0;
	}
	*val = it->p;
	*len = l;
	it->p += l;
	return 1;
}

/* ------------------------------------------------------------ reading */

struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static void rd_init(struct rd *r, const uint8_t *body, size_t len)
{
	r->p = body;
	r->end = body ? body + len : body;
	r->bad = !body && len;
}

static size_t rd_left(const struct rd *r)
{
	return r->bad ? 0 : (size_t)(r->end - r->p);
}

static const uint8_t *rd_bytes(struct rd *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->bad || rd_left(r) < n) {
		r->bad = true;
		return NULL;
	}
	r->p += n;
	return p;
}

static uint8_t rd_u8(struct rd *r)
{
	const uint8_t *p = rd_bytes(r, 1);

	return p ? p[0] : 0;
}

static int16_t rd_i16(struct rd *r)
{
	const uint8_t *p = rd_bytes(r, 2);

	return p ? (int16_t)be16(p) : 0;
}

static int32_t rd_i32(struct rd *r)
{
	const uint8_t *p = rd_bytes(r, 4);

	return p ? (int32_t)be32(p) : 0;
}

/* A NUL-terminated string inside the body; *len without the NUL. */
static const char *rd_strn(struct rd *r, size_t *len)
{
	const uint8_t *nul;
	const char *s;

	if (r->bad || !(nul = memchr(r->p, 0, rd_left(r)))) {
		r->bad = true;
		return NULL;
	}
	s = (const char *)r->p;
	if (len)
		*len = (size_t)(nul - r->p);
	r->p = nul + 1;
	return s;
}

static const char *rd_str(struct rd *r)
{
	return rd_strn(r, NULL);
}

/* A count int16 >= 0 followed by n elements of size each, all inside. */
static uint16_t rd_count(struct rd *r, size_t size, const uint8_t **p)
{
	int16_t n = rd_i16(r);

	if (n < 0) {
		r->bad = true;
		return 0;
	}
	*p = rd_bytes(r, (size_t)n * size);
	return r->bad ? 0 : (uint16_t)n;
}

/* The body must be used up exactly. */
static int rd_done(const struct rd *r)
{
	return r->bad || r->p != r->end ? -EBADMSG : 0;
}

/* Format codes must be 0 or 1. */
static bool formats_ok(const struct pgw_i16s *a)
{
	for (unsigned i = 0; i < a->n; i++)
		if ((uint16_t)pgw_i16_at(a, i) > 1)
			return false;
	return true;
}

static bool rd_formats(struct rd *r, struct pgw_i16s *a)
{
	a->n = rd_count(r, 2, &a->p);
	if (!r->bad && !formats_ok(a))
		r->bad = true;
	return !r->bad;
}

/* n int32-length-prefixed values (-1 NULL). */
static void rd_values(struct rd *r, struct pgw_values *v)
{
	int16_t n = rd_i16(r);

	v->n = 0;
	v->p = r->p;
	if (n < 0) {
		r->bad = true;
		return;
	}
	for (int16_t i = 0; i < n && !r->bad; i++) {
		int32_t l = rd_i32(r);

		if (l < -1)
			r->bad = true;
		else if (l > 0)
			rd_bytes(r, (size_t)l);
	}
	v->n = r->bad ? 0 : (uint16_t)n;
	v->end = r->p;
}

/* ------------------------------------------------------------ startup */

static const struct {
	const char *name;
	size_t off;
} shortcuts[] = {
	{ "user", offsetof(struct pgw_startup, user) },
	{ "database", offsetof(struct pgw_startup, database) },
	{ "application_name", offsetof(struct pgw_startup, application_name) },
	{ "options", offsetof(struct pgw_startup, options) },
	{ "replication", offsetof(struct pgw_startup, replication) },
};

static int startup_params(struct rd *r, struct pgw_startup *st, char *err, size_t errlen)
{
	char q[80];

	for (;;) {
		const char *name, *value;

		name = rd_str(r);
		if (!name) {
			msg(err, errlen, "startup packet: parameters not NUL-terminated");
			return -EBADMSG;
		}
		if (!*name)
			break;
		value = rd_str(r);
		if (!value) {
			text_sanitize(q, sizeof(q), name, true);
			msg(err, errlen, "startup packet: parameter \"%s\" has no value", q);
			return -EBADMSG;
		}
		for (unsigned i = 0; i < st->n_params; i++)
			if (!strcasecmp(st->params[i].name, name)) {
				text_sanitize(q, sizeof(q), name, true);
				msg(err, errlen, "startup packet: parameter \"%s\" repeated", q);
				return -EBADMSG;
			}
		if (st->n_params == PGW_MAX_PARAMS) {
			msg(err, errlen, "startup packet: over %d parameters", PGW_MAX_PARAMS);
			return -E2BIG;
		}
		st->params[st->n_params].name = name;
		st->params[st->n_params++].value = value;
		for (size_t k = 0; k < sizeof(shortcuts) / sizeof(shortcuts[0]); k++)
			if (!strcmp(name, shortcuts[k].name))
				*(const char **)((char *)st + shortcuts[k].off) = value;
	}
	if (rd_done(r)) {
		msg(err, errlen, "startup packet: bytes after the final NUL");
		return -EBADMSG;
	}
	if (!st->user || !*st->user) {
		msg(err, errlen, "startup packet: no user");
		return -EBADMSG;
	}
	return 0;
}

int pgw_parse_startup(const uint8_t *body, size_t len, struct pgw_startup *st, char *err,
		      size_t errlen)
{
	struct rd r;
	uint32_t code;

	if (!st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	rd_init(&r, body, len);
	code = (uint32_t)rd_i32(&r);
	if (r.bad) {
		msg(err, errlen, "startup packet: no code");
		return -EBADMSG;
	}
	switch (code) {
	case PGW_CODE_SSL:
	case PGW_CODE_GSSENC:
		st->kind = code == PGW_CODE_SSL ? PGW_SSL_REQUEST : PGW_GSSENC_REQUEST;
		if (rd_done(&r)) {
			msg(err, errlen, "startup packet: %s request with a body",
			    code == PGW_CODE_SSL ? "SSL" : "GSSENC");
			return -EBADMSG;
		}
		return 0;
	case PGW_CODE_CANCEL:
		st->kind = PGW_CANCEL_REQUEST;
		st->pid = rd_i32(&r);
		st->key_len = (uint32_t)rd_left(&r);
		st->key = r.p;
		if (r.bad || st->key_len < 4 || st->key_len > PGW_MAX_CANCEL_KEY) {
			msg(err, errlen, "cancel request: key of %u bytes", st->key_len);
			return -EBADMSG;
		}
		return 0;
	}
	if (code >> 16 != 3) {
		msg(err, errlen, "startup packet: unsupported protocol %u.%u", code >> 16,
		    code & 0xffff);
		return -EPROTO;
	}
	st->kind = PGW_STARTUP_MESSAGE;
	st->major = 3;
	st->minor = code & 0xffff;
	return startup_params(&r, st, err, errlen);
}

/* ------------------------------------------------------------ buffers */

void pgw_buf_init(struct pgw_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void pgw_buf_reset(struct pgw_buf *b)
{
	b->len = 0;
}

void pgw_buf_free(struct pgw_buf *b)
{
	if (!b)
		return;
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static size_t buf_max(const struct pgw_buf *b)
{
	return b->max ? b->max : (size_t)PGW_MAX_BULK_DEFAULT + 5;
}

static int buf_reserve(struct pgw_buf *b, size_t more)
{
	size_t max = buf_max(b), cap;
	uint8_t *p;

	if (b->len > max || more > max - b->len)
		return -EMSGSIZE;
	if (b->len + more <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + more)
		cap = cap > max / 2 ? max : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int pgw_buf_append(struct pgw_buf *b, const void *data, size_t n)
{
	int rc;

	if (!data && n)
		return -EINVAL;
	rc = buf_reserve(b, n);
	if (rc || !n)
		return rc;
	memcpy(b->data + b->len, data, n);
	b->len += n;
	return 0;
}

/* One message being appended to a buffer. */
struct wr {
	struct pgw_buf *b;
	size_t start;
	bool typed;
	int err;
};

static uint8_t *wr_space(struct wr *w, size_t n)
{
	uint8_t *p;

	if (w->err)
		return NULL;
	w->err = buf_reserve(w->b, n);
	if (w->err)
		return NULL;
	p = w->b->data + w->b->len;
	w->b->len += n;
	return p;
}

static void wr_begin(struct wr *w, struct pgw_buf *b, char type)
{
	uint8_t *p;

	w->b = b;
	w->start = b->len;
	w->typed = type != 0;
	w->err = 0;
	p = wr_space(w, w->typed ? 5 : 4);
	if (p && w->typed)
		p[0] = (uint8_t)type;
}

static void wr_u8(struct wr *w, uint8_t v)
{
	uint8_t *p = wr_space(w, 1);

	if (p)
		*p = v;
}

static void wr_u16(struct wr *w, uint16_t v)
{
	uint8_t *p = wr_space(w, 2);

	if (p)
		put16(p, v);
}

static void wr_u32(struct wr *w, uint32_t v)
{
	uint8_t *p = wr_space(w, 4);

	if (p)
		put32(p, v);
}

static void wr_mem(struct wr *w, const void *m, size_t n)
{
	uint8_t *p = wr_space(w, n);

	if (p && n)
		memcpy(p, m, n);
}

static void wr_str(struct wr *w, const char *s)
{
	if (!s) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	wr_mem(w, s, strlen(s) + 1);
}

/* Fill in the length word, or undo the whole message. */
static int wr_end(struct wr *w)
{
	size_t n = w->b->len - w->start - (w->typed ? 1 : 0);

	if (!w->err && (n > PGW_MAX_HARD || (!w->typed && n > PGW_MAX_STARTUP)))
		w->err = -EMSGSIZE;
	if (w->err) {
		w->b->len = w->start;
		return w->err;
	}
	put32(w->b->data + w->start + (w->typed ? 1 : 0), (uint32_t)n);
	return 0;
}

static int build_empty(struct pgw_buf *b, char type)
{
	struct wr w;

	wr_begin(&w, b, type);
	return wr_end(&w);
}

static int build_str(struct pgw_buf *b, char type, const char *s)
{
	struct wr w;

	wr_begin(&w, b, type);
	wr_str(&w, s);
	return wr_end(&w);
}

int pgw_build_startup(struct pgw_buf *b, uint16_t minor, const struct pgw_param *params,
		      unsigned n)
{
	struct wr w;

	if (!params && n)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (!params[i].name || !*params[i].name || !params[i].value)
			return -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (!strcasecmp(params[i].name, params[j].name))
				return -EINVAL;
	}
	wr_begin(&w, b, 0);
	wr_u32(&w, 3u << 16 | minor);
	for (unsigned i = 0; i < n; i++) {
		wr_str(&w, params[i].name);
		wr_str(&w, params[i].value);
	}
	wr_u8(&w, 0);
	return wr_end(&w);
}

int pgw_build_ssl_request(struct pgw_buf *b)
{
	struct wr w;

	wr_begin(&w, b, 0);
	wr_u32(&w, PGW_CODE_SSL);
	return wr_end(&w);
}

static int build_key(struct pgw_buf *b, char type, uint32_t code, int32_t pid,
		     const uint8_t *key, uint32_t key_len)
{
	struct wr w;

	if (!key || key_len < 4 || key_len > PGW_MAX_CANCEL_KEY)
		return -EINVAL;
	wr_begin(&w, b, type);
	if (!type)
		wr_u32(&w, code);
	wr_u32(&w, (uint32_t)pid);
	wr_mem(&w, key, key_len);
	return wr_end(&w);
}

int pgw_build_cancel(struct pgw_buf *b, int32_t pid, const uint8_t *key, uint32_t key_len)
{
	return build_key(b, 0, PGW_CODE_CANCEL, pid, key, key_len);
}

int pgw_build_backend_key(struct pgw_buf *b, int32_t pid, const uint8_t *key, uint32_t key_len)
{
	return build_key(b, 'K', 0, pid, key, key_len);
}

int pgw_build_query(struct pgw_buf *b, const char *sql)
{
	return build_str(b, 'Q', sql);
}

int pgw_build_sync(struct pgw_buf *b)
{
	return build_empty(b, 'S');
}

int pgw_build_terminate(struct pgw_buf *b)
{
	return build_empty(b, 'X');
}

int pgw_build_password(struct pgw_buf *b, const char *password)
{
	return build_str(b, 'p', password);
}

int pgw_build_sasl_initial(struct pgw_buf *b, const char *mech, const uint8_t *data, size_t len)
{
	struct wr w;

	if (len > PGW_MAX_HARD || (!data && len))
		return -EINVAL;
	wr_begin(&w, b, 'p');
	wr_str(&w, mech);
	wr_u32(&w, data ? (uint32_t)len : UINT32_MAX);
	wr_mem(&w, data, len);
	return wr_end(&w);
}

int pgw_build_sasl_response(struct pgw_buf *b, const uint8_t *data, size_t len)
{
	struct wr w;

	if (!data && len)
		return -EINVAL;
	wr_begin(&w, b, 'p');
	wr_mem(&w, data, len);
	return wr_end(&w);
}

static void wr_formats(struct wr *w, const int16_t *f, unsigned n)
{
	if (n > INT16_MAX || (n && !f)) {
		w->err = w->err ? w->err : -EINVAL;
		return;
	}
	wr_u16(w, (uint16_t)n);
	for (unsigned i = 0; i < n; i++)
		wr_u16(w, (uint16_t)f[i]);
}

/* n int32-length-prefixed values, NULL for SQL NULL. */
static void wr_values(struct wr *w, const uint8_t *const *vals, const uint32_t *lens, unsigned n)
{
	if (n > INT16_MAX || (n && (!vals || !lens))) {
		w->err = w->err ? w->err : -EINVAL;
		return;
	}
	wr_u16(w, (uint16_t)n);
	for (unsigned i = 0; i < n; i++) {
		if (!vals[i]) {
			wr_u32(w, UINT32_MAX);
		} else if (lens[i] > PGW_MAX_HARD) {
			w->err = w->err ? w->err : -EINVAL;
		} else {
			wr_u32(w, lens[i]);
			wr_mem(w, vals[i], lens[i]);
		}
	}
}

int pgw_build_parse(struct pgw_buf *b, const char *stmt, const char *query,
		    const uint32_t *types, unsigned n)
{
	struct wr w;

	if (n > INT16_MAX || (n && !types))
		return -EINVAL;
	wr_begin(&w, b, 'P');
	wr_str(&w, stmt);
	wr_str(&w, query);
	wr_u16(&w, (uint16_t)n);
	for (unsigned i = 0; i < n; i++)
		wr_u32(&w, types[i]);
	return wr_end(&w);
}

int pgw_build_bind(struct pgw_buf *b, const char *portal, const char *stmt,
		   const int16_t *param_formats, unsigned n_pf, const uint8_t *const *vals,
		   const uint32_t *lens, unsigned n, const int16_t *result_formats,
		   unsigned n_rf)
{
	struct wr w;

	if (n_pf > 1 && n_pf != n)
		return -EINVAL;
	wr_begin(&w, b, 'B');
	wr_str(&w, portal);
	wr_str(&w, stmt);
	wr_formats(&w, param_formats, n_pf);
	wr_values(&w, vals, lens, n);
	wr_formats(&w, result_formats, n_rf);
	return wr_end(&w);
}

int pgw_build_describe(struct pgw_buf *b, char what, const char *name)
{
	struct wr w;

	if (what != 'S' && what != 'P')
		return -EINVAL;
	wr_begin(&w, b, 'D');
	wr_u8(&w, (uint8_t)what);
	wr_str(&w, name);
	return wr_end(&w);
}

int pgw_build_execute(struct pgw_buf *b, const char *portal, int32_t max_rows)
{
	struct wr w;

	wr_begin(&w, b, 'E');
	wr_str(&w, portal);
	wr_u32(&w, (uint32_t)max_rows);
	return wr_end(&w);
}

static int build_auth(struct pgw_buf *b, uint32_t code, const void *data, size_t len)
{
	struct wr w;

	if (!data && len)
		return -EINVAL;
	wr_begin(&w, b, 'R');
	wr_u32(&w, code);
	wr_mem(&w, data, len);
	return wr_end(&w);
}

int pgw_build_auth_ok(struct pgw_buf *b)
{
	return build_auth(b, PGW_AUTH_OK, NULL, 0);
}

int pgw_build_auth_cleartext(struct pgw_buf *b)
{
	return build_auth(b, PGW_AUTH_CLEARTEXT, NULL, 0);
}

int pgw_build_auth_md5(struct pgw_buf *b, const uint8_t salt[4])
{
	return salt ? build_auth(b, PGW_AUTH_MD5, salt, 4) : -EINVAL;
}

int pgw_build_auth_sasl(struct pgw_buf *b, const char *const *mechs, unsigned n)
{
	struct wr w;

	if (!n || !mechs)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (!mechs[i] || !*mechs[i])
			return -EINVAL;
	wr_begin(&w, b, 'R');
	wr_u32(&w, PGW_AUTH_SASL);
	for (unsigned i = 0; i < n; i++)
		wr_str(&w, mechs[i]);
	wr_u8(&w, 0);
	return wr_end(&w);
}

int pgw_build_auth_sasl_data(struct pgw_buf *b, enum pgw_auth_code code, const uint8_t *data,
			     size_t len)
{
	if (code != PGW_AUTH_SASL_CONTINUE && code != PGW_AUTH_SASL_FINAL)
		return -EINVAL;
	return build_auth(b, code, data, len);
}

int pgw_build_parameter_status(struct pgw_buf *b, const char *name, const char *value)
{
	struct wr w;

	wr_begin(&w, b, 'S');
	wr_str(&w, name);
	wr_str(&w, value);
	return wr_end(&w);
}

int pgw_build_ready(struct pgw_buf *b, char status)
{
	struct wr w;

	if (status != 'I' && status != 'T' && status != 'E')
		return -EINVAL;
	wr_begin(&w, b, 'Z');
	wr_u8(&w, (uint8_t)status);
	return wr_end(&w);
}

int pgw_build_command_complete(struct pgw_buf *b, const char *tag)
{
	return build_str(b, 'C', tag);
}

int pgw_build_empty_query(struct pgw_buf *b)
{
	return build_empty(b, 'I');
}

static bool sqlstate_ok(const char *s)
{
	if (!s || strlen(s) != 5)
		return false;
	for (int i = 0; i < 5; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	return true;
}

static void wr_field(struct wr *w, char code, const char *v)
{
	if (!v)
		return;
	wr_u8(w, (uint8_t)code);
	wr_str(w, v);
}

int pgw_build_error(struct pgw_buf *b, char type, const char *severity, const char *sqlstate,
		    const char *message, const char *detail, const char *hint)
{
	struct wr w;

	if ((type != 'E' && type != 'N') || !severity || !*severity || !sqlstate_ok(sqlstate) ||
	    !message)
		return -EINVAL;
	wr_begin(&w, b, type);
	wr_field(&w, 'S', severity);
	wr_field(&w, 'V', severity);
	wr_field(&w, 'C', sqlstate);
	wr_field(&w, 'M', message);
	wr_field(&w, 'D', detail);
	wr_field(&w, 'H', hint);
	wr_u8(&w, 0);
	return wr_end(&w);
}

int pgw_build_rowdesc(struct pgw_buf *b, const struct pgw_field *fields, unsigned n)
{
	struct wr w;

	if (n > INT16_MAX || (!fields && n))
		return -EINVAL;
	wr_begin(&w, b, 'T');
	wr_u16(&w, (uint16_t)n);
	for (unsigned i = 0; i < n; i++) {
		wr_str(&w, fields[i].name);
		wr_u32(&w, fields[i].table_oid);
		wr_u16(&w, (uint16_t)fields[i].column);
		wr_u32(&w, fields[i].type_oid);
		wr_u16(&w, (uint16_t)fields[i].type_size);
		wr_u32(&w, (uint32_t)fields[i].typmod);
		wr_u16(&w, (uint16_t)fields[i].format);
	}
	return wr_end(&w);
}

int pgw_build_datarow(struct pgw_buf *b, const uint8_t *const *vals, const uint32_t *lens,
		      unsigned n)
{
	struct wr w;

	wr_begin(&w, b, 'D');
	wr_values(&w, vals, lens, n);
	return wr_end(&w);
}

/* --------------------------------------------- frontend message bodies */

/* A body that is one string and nothing else. */
static int one_string(const uint8_t *body, size_t len, const char **s, size_t *slen)
{
	struct rd r;

	rd_init(&r, body, len);
	*s = rd_strn(&r, slen);
	return rd_done(&r);
}

int pgw_parse_query(const uint8_t *body, size_t len, const char **sql, size_t *sql_len)
{
	return one_string(body, len, sql, sql_len);
}

int pgw_parse_parse(const uint8_t *body, size_t len, struct pgw_parse *p, char *err,
		    size_t errlen)
{
	struct rd r;

	memset(p, 0, sizeof(*p));
	rd_init(&r, body, len);
	p->stmt = rd_str(&r);
	p->query = rd_strn(&r, &p->query_len);
	p->param_types.n = rd_count(&r, 4, &p->param_types.p);
	if (rd_done(&r)) {
		msg(err, errlen, "Parse: malformed");
		memset(p, 0, sizeof(*p));
		return -EBADMSG;
	}
	return 0;
}

int pgw_parse_bind(const uint8_t *body, size_t len, struct pgw_bind *bd, char *err,
		   size_t errlen)
{
	struct rd r;

	memset(bd, 0, sizeof(*bd));
	rd_init(&r, body, len);
	bd->portal = rd_str(&r);
	bd->stmt = rd_str(&r);
	rd_formats(&r, &bd->param_formats);
	rd_values(&r, &bd->params);
	if (!r.bad && bd->param_formats.n > 1 && bd->param_formats.n != bd->params.n) {
		msg(err, errlen, "Bind: %u parameter formats for %u parameters",
		    bd->param_formats.n, bd->params.n);
		memset(bd, 0, sizeof(*bd));
		return -EBADMSG;
	}
	rd_formats(&r, &bd->result_formats);
	if (rd_done(&r)) {
		msg(err, errlen, "Bind: malformed");
		memset(bd, 0, sizeof(*bd));
		return -EBADMSG;
	}
	return 0;
}

int16_t pgw_format_of(const struct pgw_i16s *formats, unsigned i)
{
	if (!formats || !formats->n)
		return 0;
	return pgw_i16_at(formats, formats->n == 1 ? 0 : i);
}

int pgw_parse_execute(const uint8_t *body, size_t len, struct pgw_execute *e)
{
	struct rd r;

	rd_init(&r, body, len);
	e->portal = rd_str(&r);
	e->max_rows = rd_i32(&r);
	return rd_done(&r);
}

static int parse_target(const uint8_t *body, size_t len, struct pgw_target *t)
{
	struct rd r;

	rd_init(&r, body, len);
	t->what = (char)rd_u8(&r);
	t->name = rd_str(&r);
	if (t->what != 'S' && t->what != 'P')
		return -EBADMSG;
	return rd_done(&r);
}

int pgw_parse_describe(const uint8_t *body, size_t len, struct pgw_target *t)
{
	return parse_target(body, len, t);
}

int pgw_parse_close(const uint8_t *body, size_t len, struct pgw_target *t)
{
	return parse_target(body, len, t);
}

int pgw_parse_copy_fail(const uint8_t *body, size_t len, const char **m)
{
	return one_string(body, len, m, NULL);
}

int pgw_parse_password(const uint8_t *body, size_t len, const char **password)
{
	return one_string(body, len, password, NULL);
}

int pgw_parse_sasl_initial(const uint8_t *body, size_t len, struct pgw_sasl_initial *s)
{
	struct rd r;

	rd_init(&r, body, len);
	s->mech = rd_str(&r);
	s->data_len = rd_i32(&r);
	s->data = NULL;
	if (s->data_len < -1)
		return -EBADMSG;
	if (s->data_len >= 0)
		s->data = rd_bytes(&r, (size_t)s->data_len);
	return rd_done(&r);
}

/* ---------------------------------------------- backend message bodies */

int pgw_parse_auth(const uint8_t *body, size_t len, struct pgw_auth *a, char *err,
		   size_t errlen)
{
	struct rd r;
	uint32_t code;

	memset(a, 0, sizeof(*a));
	rd_init(&r, body, len);
	code = (uint32_t)rd_i32(&r);
	a->code = (enum pgw_auth_code)code;
	switch (code) {
	case PGW_AUTH_OK:
	case PGW_AUTH_KERBEROS_V5:
	case PGW_AUTH_CLEARTEXT:
	case PGW_AUTH_GSS:
	case PGW_AUTH_SSPI:
		break;
	case PGW_AUTH_MD5: {
		const uint8_t *s = rd_bytes(&r, 4);

		if (s)
			memcpy(a->salt, s, 4);
		break;
	}
	case PGW_AUTH_SASL:
		for (;;) {
			const char *m = rd_str(&r);

			if (!m || !*m)
				break;
			if (a->n_mechs == PGW_MAX_MECHS) {
				msg(err, errlen, "authentication: over %d SASL mechanisms",
				    PGW_MAX_MECHS);
				return -E2BIG;
			}
			a->mechs[a->n_mechs++] = m;
		}
		if (!a->n_mechs)
			r.bad = true;
		break;
	case PGW_AUTH_GSS_CONTINUE:
	case PGW_AUTH_SASL_CONTINUE:
	case PGW_AUTH_SASL_FINAL:
		a->data_len = rd_left(&r);
		a->data = rd_bytes(&r, a->data_len);
		break;
	default:
		if (!r.bad) {
			msg(err, errlen, "authentication: unknown request %u", code);
			return -EPROTO;
		}
	}
	if (rd_done(&r)) {
		msg(err, errlen, "authentication request %u: malformed", code);
		return -EBADMSG;
	}
	return 0;
}

int pgw_parse_parameter_status(const uint8_t *body, size_t len, const char **name,
			       const char **value)
{
	struct rd r;

	rd_init(&r, body, len);
	*name = rd_str(&r);
	*value = rd_str(&r);
	return rd_done(&r);
}

int pgw_parse_backend_key(const uint8_t *body, size_t len, struct pgw_backend_key *k)
{
	struct rd r;

	rd_init(&r, body, len);
	k->pid = rd_i32(&r);
	k->key_len = (uint32_t)rd_left(&r);
	k->key = r.p;
	if (r.bad || k->key_len < 4 || k->key_len > PGW_MAX_CANCEL_KEY)
		return -EBADMSG;
	return 0;
}

int pgw_parse_ready(const uint8_t *body, size_t len, enum pgw_txn *txn)
{
	if (!body || len != 1)
		return -EBADMSG;
	switch (body[0]) {
	case 'I':
		*txn = PGW_TXN_IDLE;
		return 0;
	case 'T':
		*txn = PGW_TXN_BLOCK;
		return 0;
	case 'E':
		*txn = PGW_TXN_FAILED;
		return 0;
	}
	return -EBADMSG;
}

const char *pgw_txn_name(enum pgw_txn t)
{
	switch (t) {
	case PGW_TXN_IDLE:
		return "idle";
	case PGW_TXN_BLOCK:
		return "transaction";
	case PGW_TXN_FAILED:
		return "failed";
	}
	return "?";
}

/* A decimal count of 1..20 digits that fits 64 bits. */
static bool parse_count(const char *s, size_t len, uint64_t *v)
{
	uint64_t n = 0;

	if (!len || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9 || n > (UINT64_MAX - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*v = n;
	return true;
}

int pgw_command_tag(const char *tag, size_t len, struct pgw_command *c)
{
	static const char *const counting[] = { "SELECT", "UPDATE", "DELETE", "MERGE",
						"MOVE",	  "FETCH",  "COPY" };
	const char *sp;
	size_t word;
	uint64_t oid;
	int counts = 0;

	memset(c, 0, sizeof(*c));
	if (!tag || !len || len >= PGW_TAG_MAX)
		return -EBADMSG;
	for (size_t i = 0; i < len; i++)
		if (tag[i] < 0x20 || tag[i] > 0x7e)
			return -EBADMSG;
	sp = memchr(tag, ' ', len);
	word = sp ? (size_t)(sp - tag) : len;
	if (word == 6 && !memcmp(tag, "INSERT", 6))
		counts = 2;
	for (size_t i = 0; i < sizeof(counting) / sizeof(counting[0]); i++)
		if (strlen(counting[i]) == word && !memcmp(tag, counting[i], word))
			counts = 1;
	if (!counts) {
		memcpy(c->command, tag, len);
		return 0;
	}
	memcpy(c->command, tag, word);
	if (!sp)
		return -EBADMSG;
	sp++;
	len -= word + 1;
	if (counts == 2) {
		const char *sp2 = memchr(sp, ' ', len);

		if (!sp2 || !parse_count(sp, (size_t)(sp2 - sp), &oid))
			return -EBADMSG;
		len -= (size_t)(sp2 - sp) + 1;
		sp = sp2 + 1;
	}
	if (!parse_count(sp, len, &c->rows))
		return -EBADMSG;
	c->has_rows = true;
	return 0;
}

int pgw_parse_command_complete(const uint8_t *body, size_t len, struct pgw_command *c)
{
	struct rd r;
	const char *tag;
	size_t n;

	memset(c, 0, sizeof(*c));
	rd_init(&r, body, len);
	tag = rd_strn(&r, &n);
	if (rd_done(&r))
		return -EBADMSG;
	return pgw_command_tag(tag, n, c);
}

int pgw_parse_notice(const uint8_t *body, size_t len, struct pgw_notice *n, char *err,
		     size_t errlen)
{
	static const struct {
		char code;
		size_t off;
	} fields[] = {
#define F(c, m) { c, offsetof(struct pgw_notice, m) }
		F('S', severity),	 F('V', severity_nl),	    F('C', sqlstate),
		F('M', message),	 F('D', detail),	    F('H', hint),
		F('P', position),	 F('p', internal_position), F('q', internal_query),
		F('W', where),		 F('s', schema),	    F('t', table),
		F('c', column),		 F('d', datatype),	    F('n', constraint),
		F('F', file),		 F('L', line),		    F('R', routine),
#undef F
	};
	struct rd r;

	memset(n, 0, sizeof(*n));
	rd_init(&r, body, len);
	for (;;) {
		uint8_t code = rd_u8(&r);
		const char *v;

		if (r.bad || !code)
			break;
		v = rd_str(&r);
		for (size_t i = 0; v && i < sizeof(fields) / sizeof(fields[0]); i++) {
			const char **slot = (const char **)((char *)n + fields[i].off);

			if (fields[i].code == (char)code && !*slot)
				*slot = v;
		}
	}
	if (rd_done(&r)) {
		msg(err, errlen, "error/notice fields: malformed");
		memset(n, 0, sizeof(*n));
		return -EBADMSG;
	}
	return 0;
}

int pgw_parse_notification(const uint8_t *body, size_t len, struct pgw_notification *n)
{
	struct rd r;

	rd_init(&r, body, len);
	n->pid = rd_i32(&r);
	n->channel = rd_str(&r);
	n->payload = rd_str(&r);
	return rd_done(&r);
}

int pgw_parse_copy_response(const uint8_t *body, size_t len, struct pgw_copy_response *c)
{
	struct rd r;

	memset(c, 0, sizeof(*c));
	rd_init(&r, body, len);
	c->format = (int8_t)rd_u8(&r);
	if (c->format != 0 && c->format != 1)
		return -EBADMSG;
	rd_formats(&r, &c->formats);
	if (rd_done(&r))
		return -EBADMSG;
	/* a text copy has text columns only */
	for (unsigned i = 0; !c->format && i < c->formats.n; i++)
		if (pgw_i16_at(&c->formats, i))
			return -EBADMSG;
	return 0;
}

int pgw_parse_param_description(const uint8_t *body, size_t len, struct pgw_u32s *types)
{
	struct rd r;

	rd_init(&r, body, len);
	types->n = rd_count(&r, 4, &types->p);
	return rd_done(&r);
}

int pgw_parse_datarow(const uint8_t *body, size_t len, struct pgw_values *cols)
{
	struct rd r;

	rd_init(&r, body, len);
	rd_values(&r, cols);
	return rd_done(&r);
}

int pgw_parse_negotiate(const uint8_t *body, size_t len, struct pgw_negotiate *n)
{
	struct rd r;
	int32_t count;

	rd_init(&r, body, len);
	n->minor = (uint32_t)rd_i32(&r);
	count = rd_i32(&r);
	n->unknown = (const char *)r.p;
	n->n_unknown = 0;
	if (count < 0)
		return -EBADMSG;
	for (int32_t i = 0; i < count && !r.bad; i++)
		rd_str(&r);
	if (rd_done(&r))
		return -EBADMSG;
	n->n_unknown = (uint32_t)count;
	return 0;
}

struct pgw_rowdesc *pgw_rowdesc_new(const uint8_t *body, size_t len, char *err, size_t errlen)
{
	struct pgw_rowdesc *rd = NULL;
	uint8_t *copy;
	struct rd r;
	int16_t n;

	rd_init(&r, body, len);
	n = rd_i16(&r);
	/* each field is at least 19 bytes: the count is bounded by the body */
	if (r.bad || n < 0 || (size_t)n * 19 > rd_left(&r)) {
		msg(err, errlen, "RowDescription: bad field count");
		errno = EBADMSG;
		return NULL;
	}
	rd = malloc(sizeof(*rd) + (size_t)n * sizeof(rd->fields[0]) + len);
	if (!rd) {
		errno = ENOMEM;
		return NULL;
	}
	rd->n = (unsigned)n;
	rd->fields = (struct pgw_field *)(rd + 1);
	copy = (uint8_t *)(rd->fields + n);
	memcpy(copy, body, len);
	rd_init(&r, copy, len);
	rd_i16(&r);
	for (unsigned i = 0; i < rd->n; i++) {
		struct pgw_field *f = &rd->fields[i];

		f->name = rd_str(&r);
		f->table_oid = (uint32_t)rd_i32(&r);
		f->column = rd_i16(&r);
		f->type_oid = (uint32_t)rd_i32(&r);
		f->type_size = rd_i16(&r);
		f->typmod = rd_i32(&r);
		f->format = rd_i16(&r);
		if (f->format != 0 && f->format != 1)
			r.bad = true;
	}
	if (rd_done(&r)) {
		msg(err, errlen, "RowDescription: malformed");
		free(rd);
		errno = EBADMSG;
		return NULL;
	}
	return rd;
}

void pgw_rowdesc_free(struct pgw_rowdesc *rd)
{
	free(rd);
}

int pgw_rowdesc_set_formats(struct pgw_rowdesc *rd, const struct pgw_i16s *formats)
{
	if (formats->n > 1 && formats->n != rd->n)
		return -EBADMSG;
	if (!formats_ok(formats))
		return -EBADMSG;
	for (unsigned i = 0; i < rd->n; i++)
		rd->fields[i].format = pgw_format_of(formats, i);
	return 0;
}

/* ------------------------------------------------------------ masking */

enum type_class {
	TYPE_OTHER,	/* binary layout unknown here: cannot mask */
	TYPE_TEXT,	/* binary form is the text itself (bytea: the bytes) */
	TYPE_BYTEA_HEX,	/* text-format bytea: \x and hex digits */
	TYPE_FIXED,	/* fixed numeric layout: no text in it */
	TYPE_INT8,
	TYPE_FLOAT4,
	TYPE_FLOAT8,
};

static enum type_class type_class(uint32_t oid)
{
	switch (oid) {
	case 17:	/* bytea: masked bytes are still bytes */
	case 19:	/* name */
	case 25:	/* text */
	case 114:	/* json */
	case 1042:	/* bpchar */
	case 1043:	/* varchar */
		return TYPE_TEXT;
	case 16:	/* bool */
	case 21:	/* int2 */
	case 23:	/* int4 */
	case 26:	/* oid */
	case 1082:	/* date */
	case 1083:	/* time */
	case 1114:	/* timestamp */
	case 1184:	/* timestamptz */
	case 1186:	/* interval */
	case 2950:	/* uuid */
		return TYPE_FIXED;
	case 20:
		return TYPE_INT8;
	case 700:
		return TYPE_FLOAT4;
	case 701:
		return TYPE_FLOAT8;
	}
	return TYPE_OTHER;
}

/* A binary float whose value is a whole number of 12 or more digits:
 * a card number could hide in it. */
static bool float_digits(const uint8_t *v, int32_t len, enum type_class tc)
{
	double x;

	if (tc == TYPE_FLOAT8 && len == 8) {
		uint64_t u = (uint64_t)be32(v) << 32 | be32(v + 4);

		memcpy(&x, &u, sizeof(x));
	} else if (tc == TYPE_FLOAT4 && len == 4) {
		uint32_t u = be32(v);
		float f;

		memcpy(&f, &u, sizeof(f));
		x = f;
	} else {
		return true;	/* malformed: treat as unmaskable */
	}
	if (x != x)
		return false;
	if (x < 0)
		x = -x;
	if (x < 1e12)
		return false;
	return x >= 9e18 || (double)(int64_t)x == x;
}

/* Whether a binary int8's decimal digits hold anything s masks. */
static int int8_masked(const struct mask_spec *s, const uint8_t *v, int32_t len)
{
	char dec[24], out[24];
	size_t outlen;
	int n;

	if (len != 8)
		return -EBADMSG;
	n = snprintf(dec, sizeof(dec), "%lld",
		     (long long)((uint64_t)be32(v) << 32 | be32(v + 4)));
	return mask_text(s, dec, (size_t)n, out, sizeof(out), &outlen);
}

/*
 * A text-format bytea in hex output ("\x4142..."): the patterns cannot see
 * through the hex, so decode and look. Returns 0 when nothing matches (or
 * the value is in escape format, whose printable bytes stay as they are),
 * -EPERM when something does: withhold, since re-encoding is not worth
 * the code. Escape format is left to mask_text() by the caller.
 */
static int bytea_hex_clean(const struct mask_spec *s, const uint8_t *v, int32_t len)
{
	size_t n = ((size_t)len - 2) / 2, outlen;
	uint8_t *raw;
	char *out;
	int rc = 0;

	if (len < 2 || v[0] != '\\' || v[1] != 'x')
		return 1;	/* not hex: escape format */
	if (len % 2)
		return -EPERM;
	raw = malloc(n ? n : 1);
	out = malloc(n ? n : 1);
	if (!raw || !out) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int hi = OPENSSL_hexchar2int(v[2 + 2 * i]), lo = OPENSSL_hexchar2int(v[3 + 2 * i]);

		if (hi < 0 || lo < 0) {
			rc = -EPERM;
			goto out;
		}
		raw[i] = (uint8_t)(hi << 4 | lo);
	}
	rc = mask_text(s, (const char *)raw, n, out, n, &outlen);
	rc = rc < 0 ? rc : rc > 0 ? -EPERM : 0;
out:
	free(raw);
	free(out);
	return rc;
}

/* Append one masked value to w: marker, patterns or a copy. */
static int mask_value(struct wr *w, const struct mask_spec *s, const uint8_t *v, int32_t len,
		      bool whole)
{
	size_t pos = w->b->len, outlen = 0;
	uint8_t *p;
	int n;

	if (whole) {
		wr_u32(w, MASK_MARKER_LEN);
		wr_mem(w, MASK_MARKER, MASK_MARKER_LEN);
		return w->err ? w->err : 1;
	}
	p = wr_space(w, 4 + (size_t)len);
	if (!p)
		return w->err;
	n = mask_text(s, (const char *)v, (size_t)len, (char *)p + 4, (size_t)len, &outlen);
	if (n < 0)
		return n;
	put32(p, (uint32_t)outlen);
	w->b->len = pos + 4 + outlen;
	return n;
}

int pgw_mask_datarow(const struct pgw_rowdesc *rd, const struct mask_spec *s,
		     const uint8_t *body, size_t len, struct pgw_buf *out)
{
	unsigned kinds = mask_spec_kinds(s) & (MASK_KIND_COLUMN | MASK_KIND_PATTERN);
	bool cards = mask_spec_patterns(s) & MASK_PAT_CREDIT_CARD;
	struct pgw_values cols;
	struct pgw_values_it it;
	const uint8_t *v;
	int32_t vlen;
	unsigned i = 0;
	int changed = 0, rc;
	struct wr w;

	if (!rd || !out || pgw_parse_datarow(body, len, &cols) || cols.n != rd->n)
		return -EBADMSG;
	wr_begin(&w, out, 'D');
	if (!kinds) {
		wr_mem(&w, body, len);
		return wr_end(&w);
	}
	wr_u16(&w, cols.n);
	pgw_values_begin(&cols, &it);
	for (; pgw_values_next(&it, &v, &vlen); i++) {
		const struct pgw_field *f = &rd->fields[i];
		enum type_class tc = f->format ? type_class(f->type_oid) : TYPE_TEXT;
		bool named;

		if (!f->format && f->type_oid == 17 && (kinds & MASK_KIND_PATTERN))
			tc = TYPE_BYTEA_HEX;

		if (!v) {
			wr_u32(&w, UINT32_MAX);
			continue;
		}
		named = (kinds & MASK_KIND_COLUMN) &&
			mask_column_matches(s, f->name, strlen(f->name));
		rc = 0;
		switch (tc) {
		case TYPE_BYTEA_HEX:
			/* clean hex is copied below; the marker or escape
			 * format's text is written like text */
			rc = named ? 1 : bytea_hex_clean(s, v, vlen);
			if (rc != 1)
				break;
			tc = TYPE_TEXT;
			rc = mask_value(&w, s, v, vlen, named);
			break;
		case TYPE_TEXT:
			rc = mask_value(&w, s, v, vlen, named);
			break;
		case TYPE_INT8:
			rc = named ? -EPERM : int8_masked(s, v, vlen) ? -EPERM : 0;
			break;
		case TYPE_FLOAT4:
		case TYPE_FLOAT8:
			rc = named || (cards && float_digits(v, vlen, tc)) ? -EPERM : 0;
			break;
		case TYPE_FIXED:
			rc = named ? -EPERM : 0;
			break;
		case TYPE_OTHER:
			rc = named || (kinds & MASK_KIND_PATTERN) ? -EPERM : 0;
			break;
		}
		if (rc < 0) {
			w.err = rc;
			break;
		}
		if (tc != TYPE_TEXT) {
			wr_u32(&w, (uint32_t)vlen);
			wr_mem(&w, v, (size_t)vlen);
		}
		changed += rc > 0;
		if (w.err)
			break;
	}
	rc = wr_end(&w);
	return rc ? rc : changed;
}

/* ------------------------------------------ upstream authentication */

static void hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int md5_of(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[16])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) && EVP_DigestUpdate(ctx, a, alen) &&
	     EVP_DigestUpdate(ctx, b, blen) && EVP_DigestFinal_ex(ctx, out, NULL);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

int pgw_md5_password(const char *user, const char *password, const uint8_t salt[4],
		     char out[PGW_MD5_LEN + 1])
{
	uint8_t d[16];
	char inner[33];
	int rc;

	if (!user || !password || !salt || !out)
		return -EINVAL;
	rc = md5_of(password, strlen(password), user, strlen(user), d);
	if (!rc) {
		hex(d, 16, inner);
		rc = md5_of(inner, 32, salt, 4, d);
	}
	if (!rc) {
		memcpy(out, "md5", 3);
		hex(d, 16, out + 3);
	}
	OPENSSL_cleanse(d, sizeof(d));
	OPENSSL_cleanse(inner, sizeof(inner));
	return rc;
}

/* RFC 5802 message limits this client accepts (a PostgreSQL server-first
 * is about 90 bytes). */
#define SCRAM_MSG_MAX	1024
#define SCRAM_NONCE_RAW	18
#define SCRAM_USER_MAX	64

enum scram_state { SCRAM_NEW, SCRAM_FIRST_SENT, SCRAM_HAVE_SERVER_FIRST, SCRAM_FINAL_SENT,
		   SCRAM_DONE, SCRAM_FAILED };

struct pgw_scram {
	enum scram_state state;
	char *password;
	char user[SCRAM_USER_MAX];
	char nonce[SCRAM_MSG_MAX / 4];
	char first_bare[SCRAM_MSG_MAX];		/* n=user,r=nonce */
	char out[2 * SCRAM_MSG_MAX];		/* the message last built */
	uint8_t server_sig[32];
};

static bool printable_no_comma(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ',')
			return false;
	return true;
}

struct pgw_scram *pgw_scram_new(const char *password, const char *user)
{
	struct pgw_scram *s;

	if (!password || (user && (strlen(user) >= SCRAM_USER_MAX || strpbrk(user, ",=")))) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->password = strdup(password))) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	if (user)
		strcpy(s->user, user);
	return s;
}

int pgw_scram_set_nonce(struct pgw_scram *s, const char *nonce)
{
	size_t n = nonce ? strlen(nonce) : 0;

	if (!s || s->state != SCRAM_NEW || !n || n >= sizeof(s->nonce) ||
	    !printable_no_comma(nonce, n))
		return -EINVAL;
	memcpy(s->nonce, nonce, n + 1);
	return 0;
}

void pgw_scram_free(struct pgw_scram *s)
{
	if (!s)
		return;
	OPENSSL_clear_free(s->password, strlen(s->password));
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

int pgw_scram_client_first(struct pgw_scram *s, const uint8_t **data, size_t *len)
{
	uint8_t raw[SCRAM_NONCE_RAW];
	int n;

	if (!s || s->state != SCRAM_NEW)
		return -EINVAL;
	if (!s->nonce[0]) {
		if (RAND_bytes(raw, sizeof(raw)) != 1)
			return -EIO;
		EVP_EncodeBlock((unsigned char *)s->nonce, raw, sizeof(raw));
	}
	snprintf(s->first_bare, sizeof(s->first_bare), "n=%s,r=%s", s->user, s->nonce);
	n = snprintf(s->out, sizeof(s->out), "n,,%s", s->first_bare);
	s->state = SCRAM_FIRST_SENT;
	*data = (const uint8_t *)s->out;
	*len = (size_t)n;
	return 0;
}

/*
 * Strict base64 (RFC 4648 §4, padded) of in[0..n) into out (cap bytes).
 * Returns the decoded length or -1.
 */
static int b64_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	uint8_t tmp[SCRAM_MSG_MAX];
	size_t pad = 0;
	int got;

	if (!n || n % 4 || n > sizeof(tmp) / 4 * 3)
		return -1;
	if (in[n - 1] == '=')
		pad = in[n - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < n - pad; i++) {
		char c = in[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return -1;
	}
	got = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)n);
	if (got < 0 || (size_t)got < pad || (size_t)got - pad > cap)
		return -1;
	got -= (int)pad;
	memcpy(out, tmp, (size_t)got);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return got;
}

static int hmac256(const uint8_t *key, size_t klen, const void *d, size_t n, uint8_t out[32])
{
	unsigned olen = 32;

	return HMAC(EVP_sha256(), key, (int)klen, d, n, out, &olen) ? 0 : -EIO;
}

/* One "x=value" attribute of a comma-separated SCRAM message. */
static const char *scram_attr(const char **p, const char *end, char name, size_t *n)
{
	const char *v, *comma;

	if (end - *p < 2 || (*p)[0] != name || (*p)[1] != '=')
		return NULL;
	v = *p + 2;
	comma = memchr(v, ',', (size_t)(end - v));
	*n = (size_t)((comma ? comma : end) - v);
	*p = comma ? comma + 1 : end;
	return v;
}

/* The keys and signatures from the salted password; s->out gets the
 * client-final-message. */
static int scram_prove(struct pgw_scram *s, const uint8_t salted[32], const char *server_first,
		       size_t sf_len)
{
	char without_proof[SCRAM_MSG_MAX + 16], auth[3 * SCRAM_MSG_MAX + 32];
	uint8_t ckey[32], skey[32], stored[32], sig[32], proof[32];
	char proof64[45];
	unsigned dlen = 32;
	int wp, an, rc = -EIO;

	wp = snprintf(without_proof, sizeof(without_proof), "c=biws,r=%s", s->nonce);
	an = snprintf(auth, sizeof(auth), "%s,%.*s,%s", s->first_bare, (int)sf_len, server_first,
		      without_proof);
	if (wp < 0 || an < 0 || (size_t)an >= sizeof(auth))
		goto out;
	if (hmac256(salted, 32, "Client Key", 10, ckey) ||
	    !EVP_Digest(ckey, 32, stored, &dlen, EVP_sha256(), NULL) ||
	    hmac256(stored, 32, auth, (size_t)an, sig) ||
	    hmac256(salted, 32, "Server Key", 10, skey) ||
	    hmac256(skey, 32, auth, (size_t)an, s->server_sig))
		goto out;
	for (int i = 0; i < 32; i++)
		proof[i] = ckey[i] ^ sig[i];
	EVP_EncodeBlock((unsigned char *)proof64, proof, 32);
	snprintf(s->out, sizeof(s->out), "%s,p=%s", without_proof, proof64);
	rc = 0;
out:
	OPENSSL_cleanse(ckey, sizeof(ckey));
	OPENSSL_cleanse(skey, sizeof(skey));
	OPENSSL_cleanse(stored, sizeof(stored));
	OPENSSL_cleanse(sig, sizeof(sig));
	OPENSSL_cleanse(proof, sizeof(proof));
	return rc;
}

int pgw_scram_server_first(struct pgw_scram *s, const uint8_t *data, size_t len,
			   struct pgw_scram_cache *cache, char *err, size_t errlen)
{
	const char *p = (const char *)data, *end = p + len, *r, *salt64, *it;
	size_t rn, sn, in, mine;
	uint8_t salt[64], salted[32];
	uint64_t iter = 0;
	int slen, rc = -EBADMSG;

	if (!s || s->state != SCRAM_FIRST_SENT || (!data && len))
		return -EINVAL;
	s->state = SCRAM_FAILED;
	if (!len || len > SCRAM_MSG_MAX || memchr(data, 0, len)) {
		msg(err, errlen, "SCRAM server-first: bad length or NUL");
		return -EBADMSG;
	}
	r = scram_attr(&p, end, 'r', &rn);
	salt64 = r ? scram_attr(&p, end, 's', &sn) : NULL;
	it = salt64 ? scram_attr(&p, end, 'i', &in) : NULL;
	if (!it || p != end || end[-1] == ',') {
		msg(err, errlen, "SCRAM server-first: not r=,s=,i= (extensions refused)");
		return -EBADMSG;
	}
	mine = strlen(s->nonce);
	if (rn <= mine || memcmp(r, s->nonce, mine) || !printable_no_comma(r, rn) ||
	    rn >= sizeof(s->nonce)) {
		msg(err, errlen, "SCRAM server-first: nonce does not extend ours");
		return -EPERM;
	}
	slen = b64_decode(salt64, sn, salt, sizeof(salt));
	if (slen <= 0) {
		msg(err, errlen, "SCRAM server-first: salt is not base64 (1..64 bytes)");
		return -EBADMSG;
	}
	if (!parse_count(it, in, &iter) || it[0] == '0') {
		msg(err, errlen, "SCRAM server-first: bad iteration count");
		return -EBADMSG;
	}
	if (iter < PGW_SCRAM_MIN_ITER || iter > PGW_SCRAM_MAX_ITER) {
		msg(err, errlen, "SCRAM server-first: iteration count %llu outside %u..%u",
		    (unsigned long long)iter, PGW_SCRAM_MIN_ITER, PGW_SCRAM_MAX_ITER);
		return -EPERM;
	}
	memcpy(s->nonce, r, rn);
	s->nonce[rn] = '\0';
	if (cache && cache->valid && cache->iter == iter && cache->salt_len == (size_t)slen &&
	    !memcmp(cache->salt, salt, (size_t)slen)) {
		memcpy(salted, cache->salted, 32);
	} else {
		if (PKCS5_PBKDF2_HMAC(s->password, (int)strlen(s->password), salt, slen,
				      (int)iter, EVP_sha256(), 32, salted) != 1) {
			msg(err, errlen, "SCRAM: PBKDF2 failed");
			rc = -EIO;
			goto out;
		}
		if (cache) {
			cache->valid = true;
			cache->iter = (uint32_t)iter;
			cache->salt_len = (size_t)slen;
			memcpy(cache->salt, salt, (size_t)slen);
			memcpy(cache->salted, salted, 32);
		}
	}
	rc = scram_prove(s, salted, (const char *)data, len);
	if (rc)
		msg(err, errlen, "SCRAM: HMAC failed");
	else
		s->state = SCRAM_HAVE_SERVER_FIRST;
out:
	OPENSSL_cleanse(salted, sizeof(salted));
	return rc;
}

int pgw_scram_client_final(struct pgw_scram *s, const uint8_t **data, size_t *len)
{
	if (!s || s->state != SCRAM_HAVE_SERVER_FIRST)
		return -EINVAL;
	s->state = SCRAM_FINAL_SENT;
	*data = (const uint8_t *)s->out;
	*len = strlen(s->out);
	return 0;
}

int pgw_scram_server_final(struct pgw_scram *s, const uint8_t *data, size_t len, char *err,
			   size_t errlen)
{
	const char *p = (const char *)data, *end = p + len, *v;
	uint8_t sig[32];
	char q[80], e[64];
	size_t n;

	if (!s || s->state != SCRAM_FINAL_SENT || (!data && len))
		return -EINVAL;
	s->state = SCRAM_FAILED;
	if (!len || len > SCRAM_MSG_MAX || memchr(data, 0, len)) {
		msg(err, errlen, "SCRAM server-final: bad length or NUL");
		return -EBADMSG;
	}
	if ((v = scram_attr(&p, end, 'e', &n))) {
		snprintf(e, sizeof(e), "%.*s", (int)(n < sizeof(e) ? n : sizeof(e) - 1), v);
		text_sanitize(q, sizeof(q), e, true);
		msg(err, errlen, "SCRAM: server error \"%s\"", q);
		return -EPERM;
	}
	v = scram_attr(&p, end, 'v', &n);
	if (!v || p != end || b64_decode(v, n, sig, sizeof(sig)) != 32) {
		msg(err, errlen, "SCRAM server-final: no verifier");
		return -EBADMSG;
	}
	if (CRYPTO_memcmp(sig, s->server_sig, 32)) {
		msg(err, errlen, "SCRAM: wrong server signature (not the real server)");
		return -EPERM;
	}
	s->state = SCRAM_DONE;
	return 0;
}

/* ------------------------------------------------------------ validation */

static int validate_frontend(const struct pgw_frame *f, char *err, size_t errlen)
{
	const uint8_t *b = f->body;
	size_t n = f->body_len;
	union {
		struct pgw_parse p;
		struct pgw_bind bd;
		struct pgw_execute e;
		struct pgw_target t;
	} u;
	const char *s;
	size_t sl;

	switch (f->type) {
	case 'Q':
		return pgw_parse_query(b, n, &s, &sl);
	case 'P':
		return pgw_parse_parse(b, n, &u.p, err, errlen);
	case 'B':
		return pgw_parse_bind(b, n, &u.bd, err, errlen);
	case 'E':
		return pgw_parse_execute(b, n, &u.e);
	case 'D':
		return pgw_parse_describe(b, n, &u.t);
	case 'C':
		return pgw_parse_close(b, n, &u.t);
	case 'f':
		return pgw_parse_copy_fail(b, n, &s);
	}
	return 0;	/* opaque or empty (pgw_frame() checked those) */
}

/* RowDescription without the copy: the same walk over the body. */
static int validate_rowdesc(const uint8_t *body, size_t len)
{
	struct rd r;
	int16_t n;

	rd_init(&r, body, len);
	n = rd_i16(&r);
	if (n < 0)
		return -EBADMSG;
	for (int16_t i = 0; i < n && !r.bad; i++) {
		int16_t fmt;

		rd_str(&r);
		rd_bytes(&r, 4 + 2 + 4 + 2 + 4);
		fmt = rd_i16(&r);
		if (fmt != 0 && fmt != 1)
			r.bad = true;
	}
	return rd_done(&r);
}

static int validate_backend(const struct pgw_frame *f, char *err, size_t errlen)
{
	const uint8_t *b = f->body;
	size_t n = f->body_len;
	union {
		struct pgw_auth a;
		struct pgw_backend_key k;
		struct pgw_command c;
		struct pgw_notice no;
		struct pgw_notification nf;
		struct pgw_copy_response cr;
		struct pgw_u32s oids;
		struct pgw_values v;
		struct pgw_negotiate ng;
		enum pgw_txn txn;
	} u;
	const char *s1, *s2;

	switch (f->type) {
	case 'R':
		return pgw_parse_auth(b, n, &u.a, err, errlen);
	case 'S':
		return pgw_parse_parameter_status(b, n, &s1, &s2);
	case 'K':
		return pgw_parse_backend_key(b, n, &u.k);
	case 'Z':
		return pgw_parse_ready(b, n, &u.txn);
	case 'T':
		return validate_rowdesc(b, n);
	case 'D':
		return pgw_parse_datarow(b, n, &u.v);
	case 'C':
		return pgw_parse_command_complete(b, n, &u.c);
	case 'E':
	case 'N':
		return pgw_parse_notice(b, n, &u.no, err, errlen);
	case 'A':
		return pgw_parse_notification(b, n, &u.nf);
	case 'G':
	case 'H':
	case 'W':
		return pgw_parse_copy_response(b, n, &u.cr);
	case 't':
		return pgw_parse_param_description(b, n, &u.oids);
	case 'v':
		return pgw_parse_negotiate(b, n, &u.ng);
	}
	return 0;
}

int pgw_validate(enum pgw_dir dir, const struct pgw_frame *f, char *err, size_t errlen)
{
	struct pgw_startup st;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!f)
		return -EINVAL;
	if (!f->type) {
		if (dir != PGW_FRONTEND)
			return -EINVAL;
		return pgw_parse_startup(f->body, f->body_len, &st, err, errlen);
	}
	rc = dir == PGW_FRONTEND ? validate_frontend(f, err, errlen)
				 : validate_backend(f, err, errlen);
	if (rc == -EBADMSG && err && errlen && !err[0])
		msg(err, errlen, "message '%c': malformed", f->type);
	return rc;
}
