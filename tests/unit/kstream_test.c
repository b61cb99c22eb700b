// SPDX-License-Identifier: BSD-2-Clause
/*
 * userspace/proto/kstream.c: WebSocket frames (RFC 6455) with the
 * Kubernetes channel byte, and SPDY/3.1 exec sessions, built here frame by
 * frame the way kubectl and the API server write them; fed whole, byte by
 * byte and cut at every offset; every refusal kstream.h promises; the
 * recorded event shape.
 *
 * The SPDY header blocks are compressed here with a zlib stream whose
 * header names the SPDY/3 dictionary by its Adler-32 (0xe3c6a7c2, 1423
 * bytes: fixed by the protocol), so inflate() only accepts the decoder's
 * dictionary if it is byte for byte the protocol's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <zlib.h>

#include "proto/kstream.h"

struct buf {
	uint8_t d[1 << 18];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	cr_assert_leq(n, sizeof(b->d) - b->n);
	memcpy(b->d + b->n, p, n);
	b->n += n;
}

static void put8(struct buf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void put32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = { v >> 24, v >> 16, v >> 8, v };

	put(b, x, 4);
}

/* ------------------------------------------------------------ WebSocket */

/* One frame; mask NULL for a server frame. */
static void ws_frame(struct buf *b, uint8_t b0, const uint8_t *mask, const void *payload,
		     uint64_t n)
{
	const uint8_t *p = payload;

	put8(b, b0);
	if (n < 126) {
		put8(b, (uint8_t)((mask ? 0x80 : 0) | n));
	} else if (n <= 0xffff) {
		put8(b, (mask ? 0x80 : 0) | 126);
		put8(b, (uint8_t)(n >> 8));
		put8(b, (uint8_t)n);
	} else {
		put8(b, (mask ? 0x80 : 0) | 127);
		put32(b, (uint32_t)(n >> 32));
		put32(b, (uint32_t)n);
	}
	if (mask)
		put(b, mask, 4);
	for (uint64_t i = 0; i < n; i++)
		put8(b, mask ? p[i] ^ mask[i & 3] : p[i]);
}

/* A channel message in one frame. */
static void ws_msg(struct buf *b, const uint8_t *mask, uint8_t ch, const char *text)
{
	uint8_t tmp[1024];
	size_t n = strlen(text);

	tmp[0] = ch;
	memcpy(tmp + 1, text, n);
	ws_frame(b, 0x82, mask, tmp, n + 1);
}

/* What a decoder made of a stream: per-channel bytes and a log. */
struct seen {
	char chan[6][1 << 17];
	size_t nchan[6];
	char log[4096];
	int events;
	int err;
};

static void note(struct seen *s, const struct ks_event *ev)
{
	size_t l = strlen(s->log);

	s->events++;
	switch (ev->type) {
	case KS_EV_DATA:
		cr_assert_leq(ev->len, sizeof(s->chan[0]) - s->nchan[ev->channel]);
		memcpy(s->chan[ev->channel] + s->nchan[ev->channel], ev->data, ev->len);
		s->nchan[ev->channel] += ev->len;
		return;
	case KS_EV_RESIZE:
		snprintf(s->log + l, sizeof(s->log) - l, "resize %ux%u;", ev->width, ev->height);
		return;
	case KS_EV_OPEN:
		snprintf(s->log + l, sizeof(s->log) - l, "open %u %s;", ev->stream,
			 ks_channel_name(ev->channel));
		return;
	case KS_EV_CLOSE:
		snprintf(s->log + l, sizeof(s->log) - l, "close %s;", ks_channel_name(ev->channel));
		return;
	case KS_EV_END:
		snprintf(s->log + l, sizeof(s->log) - l, "end %u;", ev->code);
		return;
	}
	cr_assert_fail("event type %d", ev->type);
}

/*
 * Feed the stream to ws (or, NULL, to sp as from) step bytes at a time,
 * each piece from an exact-size copy; what it decoded into s. s->err.
 */
static int feed(struct ks_ws *ws, struct ks_spdy *sp, enum ks_dir from, const struct buf *b,
		size_t step, struct seen *s)
{
	size_t off = 0;

	while (off < b->n && !s->err) {
		size_t n = b->n - off < step ? b->n - off : step, o = 0, used;
		uint8_t *copy = malloc(n);
		struct ks_event ev;
		int rc;

		memcpy(copy, b->d + off, n);
		do {
			rc = ws ? ks_ws_feed(ws, copy + o, n - o, &used, &ev)
				: ks_spdy_feed(sp, from, copy + o, n - o, &used, &ev);
			cr_assert_leq(used, n - o);
			o += used;
			if (rc == 1)
				note(s, &ev);
			else if (rc < 0)
				s->err = rc;
		} while (rc == 1);
		cr_assert(s->err || o == n, "rc 0 must consume everything");
		free(copy);
		off += n;
	}
	return s->err;
}

static void ws_run(enum ks_dir from, int version, const struct buf *b, size_t step,
		   struct seen *s)
{
	struct ks_ws *ws = malloc(sizeof(*ws));

	memset(s, 0, sizeof(*s));
	ks_ws_init(ws, from, version, 0);
	feed(ws, NULL, from, b, step, s);
	free(ws);
}

static const uint8_t mk[4] = { 0x37, 0xfa, 0x21, 0x3d };

static void exec_client(struct buf *b)
{
	b->n = 0;
	ws_msg(b, mk, 0, "ls -l\n");
	ws_msg(b, mk, 4, "{\"Width\":120,\"Height\":40}");
	/* a fragmented stdin message with a ping between its frames */
	ws_frame(b, 0x02, mk, "\0ech", 4);
	ws_frame(b, 0x89, mk, "hi", 2);
	ws_frame(b, 0x00, mk, "o 1", 3);
	ws_frame(b, 0x80, mk, "\n", 1);
	ws_msg(b, mk, 4, "{\"width\":80,\"height\":24}\n");
	ws_frame(b, 0x88, mk, "\x03\xe8", 2);
}

Test(ws, client_exec_stream_at_every_step)
{
	static struct buf b;
	static struct seen s;

	exec_client(&b);
	for (size_t step = 1; step <= b.n; step++) {
		ws_run(KS_FROM_CLIENT, 4, &b, step, &s);
		cr_assert_eq(s.err, 0, "step %zu: %d", step, s.err);
		cr_assert_eq(s.nchan[KS_STDIN], 13, "step %zu", step);
		cr_assert_eq(memcmp(s.chan[KS_STDIN], "ls -l\necho 1\n", 13), 0);
		cr_assert_str_eq(s.log, "resize 120x40;resize 80x24;end 1000;", "step %zu", step);
	}
}

Test(ws, server_frames_zero_copy_and_long_lengths)
{
	static struct buf b;
	static uint8_t big[70001];
	struct ks_ws ws;
	struct ks_event ev;
	size_t used;
	static struct seen s;

	b.n = 0;
	ws_msg(&b, NULL, 1, "hello");
	ks_ws_init(&ws, KS_FROM_SERVER, 5, 0);
	cr_assert_eq(ks_ws_feed(&ws, b.d, b.n, &used, &ev), 1);
	cr_assert_eq(ev.type, KS_EV_DATA);
	cr_assert_eq(ev.channel, KS_STDOUT);
	cr_assert_eq(ev.data, b.d + 3);	/* into the input, not a copy */
	cr_assert_eq(ev.len, 5);
	cr_assert_eq(used, b.n);
	cr_assert_eq(ks_ws_feed(&ws, b.d, 0, &used, &ev), 0);

	b.n = 0;
	memset(big, 'x', sizeof(big));
	big[0] = 2;
	ws_frame(&b, 0x82, NULL, big, 300);
	ws_frame(&b, 0x82, NULL, big, sizeof(big));
	big[0] = 3;
	ws_frame(&b, 0x82, NULL, big, 40);
	ws_msg(&b, NULL, 255, "\x01");	/* v5: stdout closed */
	ws_frame(&b, 0x88, NULL, "", 0);
	ws_run(KS_FROM_SERVER, 5, &b, b.n, &s);
	cr_assert_eq(s.err, 0);
	cr_assert_eq(s.nchan[KS_STDERR], 299 + 70000);
	cr_assert_eq(s.nchan[KS_ERROR], 39);
	cr_assert_str_eq(s.log, "close stdout;end 0;");
	/* the same through a client decoder: unmasked frames refused */
	ws_run(KS_FROM_CLIENT, 5, &b, b.n, &s);
	cr_assert_eq(s.err, -EBADMSG);
}

Test(ws, masked_payload_longer_than_scratch)
{
	static struct buf b;
	static uint8_t big[10000];
	static struct seen s;

	b.n = 0;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)('a' + i % 26);
	big[0] = 0;
	ws_frame(&b, 0x82, mk, big, 4001);
	ws_run(KS_FROM_CLIENT, 4, &b, b.n, &s);
	cr_assert_eq(s.err, 0);
	cr_assert_eq(s.nchan[KS_STDIN], 4000);
	cr_assert_eq(memcmp(s.chan[KS_STDIN], big + 1, 4000), 0);
	cr_assert_geq(s.events, 1);
}

struct bad_ws {
	const char *name;
	enum ks_dir from;
	int version;
	const uint8_t *bytes;
	size_t n;
	int err;
};

#define B(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })

static const struct bad_ws bad_ws[] = {
	{ "rsv1", KS_FROM_SERVER, 4, B(0xc2, 0x01, 0x01), -EBADMSG },
	{ "opcode 3", KS_FROM_SERVER, 4, B(0x83, 0x01, 0x01), -EBADMSG },
	{ "opcode 11", KS_FROM_SERVER, 4, B(0x8b, 0x00), -EBADMSG },
	{ "fragmented ping", KS_FROM_SERVER, 4, B(0x09, 0x00), -EBADMSG },
	{ "long ping", KS_FROM_SERVER, 4, B(0x89, 0x7e, 0x00, 0x7e), -EBADMSG },
	{ "server masked", KS_FROM_SERVER, 4, B(0x82, 0x81, 1, 2, 3, 4, 5), -EBADMSG },
	{ "client unmasked", KS_FROM_CLIENT, 4, B(0x82, 0x01, 0x00), -EBADMSG },
	{ "lone continuation", KS_FROM_SERVER, 4, B(0x80, 0x01, 0x00), -EBADMSG },
	{ "message inside a message", KS_FROM_SERVER, 4,
	  B(0x02, 0x01, 0x01, 0x82, 0x01, 0x01), -EBADMSG },
	{ "16-bit length not minimal", KS_FROM_SERVER, 4, B(0x82, 0x7e, 0x00, 0x7d), -EBADMSG },
	{ "64-bit length not minimal", KS_FROM_SERVER, 4,
	  B(0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff), -EBADMSG },
	{ "64-bit length top bit", KS_FROM_SERVER, 4,
	  B(0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0), -EBADMSG },
	{ "over max frame", KS_FROM_SERVER, 4, B(0x82, 0x7f, 0, 0, 0, 0, 0x01, 0, 0, 1),
	  -EMSGSIZE },
	{ "close 1 byte", KS_FROM_SERVER, 4, B(0x88, 0x01, 0x03), -EBADMSG },
	{ "close code 999", KS_FROM_SERVER, 4, B(0x88, 0x02, 0x03, 0xe7), -EBADMSG },
	{ "close code 1005", KS_FROM_SERVER, 4, B(0x88, 0x02, 0x03, 0xed), -EBADMSG },
	{ "data after close", KS_FROM_SERVER, 4, B(0x88, 0x00, 0x82, 0x01, 0x01), -EPROTO },
	{ "channel 9", KS_FROM_SERVER, 4, B(0x82, 0x01, 0x09), -EPROTO },
	{ "resize before v4", KS_FROM_SERVER, 3, B(0x82, 0x01, 0x04), -EPROTO },
	{ "close channel in v4", KS_FROM_SERVER, 4, B(0x82, 0x02, 0xff, 0x00), -EPROTO },
	{ "close of channel 7", KS_FROM_SERVER, 5, B(0x82, 0x02, 0xff, 0x07), -EPROTO },
	{ "close naming nothing", KS_FROM_SERVER, 5, B(0x82, 0x01, 0xff), -EBADMSG },
	{ "resize not JSON", KS_FROM_SERVER, 4, B(0x82, 0x03, 0x04, '{', '}'), -EBADMSG },
	{ "resize negative", KS_FROM_SERVER, 4,
	  B(0x82, 0x0b, 0x04, '{', '"', 'W', 'i', 'd', 't', 'h', '"', ':', '-'), -EBADMSG },
};

Test(ws, hostile_frames_refused_at_every_step)
{
	static struct buf b;
	static struct seen s;

	for (size_t i = 0; i < sizeof(bad_ws) / sizeof(bad_ws[0]); i++) {
		const struct bad_ws *w = &bad_ws[i];

		b.n = 0;
		put(&b, w->bytes, w->n);
		for (size_t step = 1; step <= b.n; step++) {
			ws_run(w->from, w->version, &b, step, &s);
			cr_assert_eq(s.err, w->err, "%s step %zu: %d", w->name, step, s.err);
		}
	}
	/* resize over KS_RESIZE_MAX */
	{
		static uint8_t big[400];

		memset(big, ' ', sizeof(big));
		big[0] = 4;
		b.n = 0;
		ws_frame(&b, 0x82, NULL, big, sizeof(big));
		ws_run(KS_FROM_SERVER, 4, &b, b.n, &s);
		cr_assert_eq(s.err, -EMSGSIZE);
	}
}

/* Every prefix of a valid stream: no error, never more than the whole. */
Test(ws, every_prefix)
{
	static struct buf b, p;
	static struct seen s, whole;

	exec_client(&b);
	ws_run(KS_FROM_CLIENT, 4, &b, b.n, &whole);
	for (size_t n = 0; n < b.n; n++) {
		p.n = 0;
		put(&p, b.d, n);
		ws_run(KS_FROM_CLIENT, 4, &p, 7, &s);
		cr_assert_eq(s.err, 0, "prefix %zu", n);
		cr_assert_leq(s.nchan[KS_STDIN], whole.nchan[KS_STDIN]);
		cr_assert_eq(memcmp(s.chan[KS_STDIN], whole.chan[KS_STDIN], s.nchan[KS_STDIN]), 0);
	}
}

Test(ws, protocols)
{
	cr_assert_eq(ks_ws_protocol("v4.channel.k8s.io", 17), 4);
	cr_assert_eq(ks_ws_protocol("v5.channel.k8s.io", 17), 5);
	cr_assert_eq(ks_ws_protocol("channel.k8s.io", 14), 1);
	cr_assert_eq(ks_ws_protocol("base64.channel.k8s.io", 21), -ENOTSUP);
	cr_assert_eq(ks_ws_protocol("v4.base64.channel.k8s.io", 24), -ENOTSUP);
	cr_assert_eq(ks_ws_protocol("v6.channel.k8s.io", 17), -ENOTSUP);
	cr_assert_eq(ks_ws_protocol("v4.channel.k8s.iox", 18), -ENOTSUP);
}

/* ------------------------------------------------------------ SPDY */

/* One direction's header compressor: a zlib stream naming the SPDY/3
 * dictionary (FDICT, DICTID 0xe3c6a7c2) over raw deflate blocks. */
struct zc {
	z_stream z;
	bool started;
};

static void zc_init(struct zc *c)
{
	memset(c, 0, sizeof(*c));
	cr_assert_eq(deflateInit2(&c->z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
}

static void zc_block(struct zc *c, struct buf *b, const struct buf *nv)
{
	static const uint8_t hdr[] = { 0x78, 0x20, 0xe3, 0xc6, 0xa7, 0xc2 };
	uint8_t out[1 << 16];

	if (!c->started)
		put(b, hdr, sizeof(hdr));
	c->started = true;
	c->z.next_in = (Bytef *)nv->d;
	c->z.avail_in = (uInt)nv->n;
	c->z.next_out = out;
	c->z.avail_out = sizeof(out);
	cr_assert_eq(deflate(&c->z, Z_SYNC_FLUSH), Z_OK);
	cr_assert_eq(c->z.avail_in, 0);
	put(b, out, sizeof(out) - c->z.avail_out);
}

static void nv_pair(struct buf *nv, const char *k, const char *v)
{
	put32(nv, (uint32_t)strlen(k));
	put(nv, k, strlen(k));
	put32(nv, (uint32_t)strlen(v));
	put(nv, v, strlen(v));
}

static void ctrl(struct buf *b, uint16_t type, uint8_t flags, const struct buf *body)
{
	put8(b, 0x80);
	put8(b, 3);
	put8(b, (uint8_t)(type >> 8));
	put8(b, (uint8_t)type);
	put8(b, flags);
	put8(b, (uint8_t)(body->n >> 16));
	put8(b, (uint8_t)(body->n >> 8));
	put8(b, (uint8_t)body->n);
	put(b, body->d, body->n);
}

static void syn_stream(struct buf *b, struct zc *c, uint32_t id, const char *type, uint8_t flags)
{
	static struct buf body, nv;

	nv.n = body.n = 0;
	put32(&nv, 2);
	nv_pair(&nv, "streamtype", type);
	nv_pair(&nv, "x-stream-protocol-version", "v4.channel.k8s.io");
	put32(&body, id);
	put32(&body, 0);
	put8(&body, 0);
	put8(&body, 0);
	zc_block(c, &body, &nv);
	ctrl(b, 1, flags, &body);
}

static void syn_reply(struct buf *b, struct zc *c, uint32_t id)
{
	static struct buf body, nv;

	nv.n = body.n = 0;
	put32(&nv, 0);
	put32(&body, id);
	zc_block(c, &body, &nv);
	ctrl(b, 2, 0, &body);
}

static void data(struct buf *b, uint32_t id, uint8_t flags, const char *p)
{
	size_t n = strlen(p);

	put32(b, id);
	put8(b, flags);
	put8(b, (uint8_t)(n >> 16));
	put8(b, (uint8_t)(n >> 8));
	put8(b, (uint8_t)n);
	put(b, p, n);
}

/* kubectl exec -it: both directions of one session */
static void spdy_exec(struct buf *up, struct buf *down)
{
	static const char *const types[] = { "error", "stdin", "stdout", "stderr", "resize" };
	struct zc cu, cd;
	static struct buf rst;

	zc_init(&cu);
	zc_init(&cd);
	up->n = down->n = 0;
	for (int i = 0; i < 5; i++) {
		syn_stream(up, &cu, 1 + 2 * (uint32_t)i, types[i], i == 0 ? 1 : 0);
		syn_reply(down, &cd, 1 + 2 * (uint32_t)i);
	}
	data(up, 9, 0, "{\"Width\":132,\"Height\":43}\n{\"Width\":80,");
	data(up, 9, 0, "\"Height\":25}\n");
	data(up, 3, 0, "uname -a\n");
	data(up, 3, 1, "exit\n");
	data(down, 5, 0, "Linux web-0\n");
	data(down, 7, 1, "warning\n");
	data(down, 1, 1, "{\"metadata\":{},\"status\":\"Success\"}");
	rst.n = 0;
	put32(&rst, 5);
	put32(&rst, 5);	/* CANCEL */
	ctrl(down, 3, 0, &rst);
	rst.n = 0;
	put32(&rst, 0);
	put32(&rst, 0);
	ctrl(down, 7, 0, &rst);
	deflateEnd(&cu.z);
	deflateEnd(&cd.z);
}

static int spdy_run(struct ks_spdy *sp, enum ks_dir from, const struct buf *b, size_t step,
		    struct seen *s)
{
	return feed(NULL, sp, from, b, step, s);
}

Test(spdy, exec_session_at_every_step)
{
	static struct buf up, down;
	static struct seen su, sd;

	spdy_exec(&up, &down);
	for (size_t step = 1; step <= up.n; step += step < 40 ? 1 : 13) {
		struct ks_spdy *sp = ks_spdy_new();

		memset(&su, 0, sizeof(su));
		memset(&sd, 0, sizeof(sd));
		cr_assert_not_null(sp);
		cr_assert_eq(spdy_run(sp, KS_FROM_CLIENT, &up, step, &su), 0, "step %zu: %d", step,
			     su.err);
		cr_assert_eq(spdy_run(sp, KS_FROM_SERVER, &down, step, &sd), 0, "step %zu: %d",
			     step, sd.err);
		cr_assert_str_eq(su.log,
				 "open 1 error;open 3 stdin;open 5 stdout;open 7 stderr;"
				 "open 9 resize;resize 132x43;resize 80x25;close stdin;",
				 "step %zu: %s", step, su.log);
		cr_assert_eq(su.nchan[KS_STDIN], 14);
		cr_assert_eq(memcmp(su.chan[KS_STDIN], "uname -a\nexit\n", 14), 0);
		cr_assert_str_eq(sd.log, "close stderr;close error;close stdout;end 0;", "%s",
				 sd.log);
		cr_assert_eq(sd.nchan[KS_STDOUT], 12);
		cr_assert_eq(memcmp(sd.chan[KS_STDOUT], "Linux web-0\n", 12), 0);
		cr_assert_eq(sd.nchan[KS_ERROR], 34);
		ks_spdy_free(sp);
	}
}

Test(spdy, every_prefix)
{
	static struct buf up, down, p;
	static struct seen s;

	spdy_exec(&up, &down);
	for (size_t n = 0; n < up.n; n++) {
		struct ks_spdy *sp = ks_spdy_new();

		memset(&s, 0, sizeof(s));
		p.n = 0;
		put(&p, up.d, n);
		cr_assert_eq(spdy_run(sp, KS_FROM_CLIENT, &p, 5, &s), 0, "prefix %zu", n);
		ks_spdy_free(sp);
	}
}

/* A valid session's client side, then bad bytes: the error expected. */
static int spdy_bad(const struct buf *tail, bool with_session)
{
	static struct buf up, down, all;
	static struct seen s;
	struct ks_spdy *sp = ks_spdy_new();
	int rc;

	spdy_exec(&up, &down);
	all.n = 0;
	if (with_session)
		put(&all, up.d, up.n);
	put(&all, tail->d, tail->n);
	memset(&s, 0, sizeof(s));
	rc = spdy_run(sp, KS_FROM_CLIENT, &all, all.n, &s);
	ks_spdy_free(sp);
	return rc;
}

/* t: a SYN_STREAM for stream 1 whose header block is nv, compressed by a
 * fresh compressor. */
static void syn_with(struct buf *t, const struct buf *nv)
{
	static struct buf body;
	struct zc c;

	zc_init(&c);
	t->n = body.n = 0;
	put32(&body, 1);
	put32(&body, 0);
	put8(&body, 0);
	put8(&body, 0);
	zc_block(&c, &body, nv);
	deflateEnd(&c.z);
	ctrl(t, 1, 0, &body);
}

Test(spdy, hostile_frames_refused)
{
	static struct buf t, body, nv, big;
	struct zc c;

	/* version 2 */
	t.n = 0;
	put(&t, (uint8_t[]){ 0x80, 0x02, 0x00, 0x06, 0, 0, 0, 0 }, 8);
	cr_assert_eq(spdy_bad(&t, false), -EBADMSG);
	/* data on a stream never opened; on stream 0 */
	t.n = 0;
	data(&t, 11, 0, "x");
	cr_assert_eq(spdy_bad(&t, true), -EPROTO);
	t.n = 0;
	data(&t, 0, 0, "x");
	cr_assert_eq(spdy_bad(&t, false), -EBADMSG);
	/* data after this side's FIN (stdin was finished) */
	t.n = 0;
	data(&t, 3, 0, "x");
	cr_assert_eq(spdy_bad(&t, true), -EPROTO);
	/* a control frame over the limit */
	t.n = 0;
	put(&t, (uint8_t[]){ 0x80, 0x03, 0x00, 0x01, 0, 0x01, 0x00, 0x01 }, 8);
	cr_assert_eq(spdy_bad(&t, false), -EMSGSIZE);
	/* a header block that is not zlib */
	t.n = 0;
	body.n = 0;
	put32(&body, 1);
	put32(&body, 0);
	put(&body, (uint8_t[]){ 0, 0, 0x12, 0x34, 0x56, 0x78 }, 6);
	ctrl(&t, 1, 0, &body);
	cr_assert_eq(spdy_bad(&t, false), -EBADMSG);
	/* a zlib stream naming another dictionary */
	t.n = 0;
	body.n = 0;
	put32(&body, 1);
	put32(&body, 0);
	put(&body, (uint8_t[]){ 0, 0, 0x78, 0x20, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00 }, 10);
	ctrl(&t, 1, 0, &body);
	cr_assert_eq(spdy_bad(&t, false), -EBADMSG);
	/* a header block inflating past KS_SPDY_MAX_HEADERS (a zlib bomb) */
	nv.n = 0;
	put32(&nv, 1);
	big.n = 0;
	memset(big.d, 'a', 100000);
	put32(&nv, 10);
	put(&nv, "streamtype", 10);
	put32(&nv, 100000);
	put(&nv, big.d, 100000);
	syn_with(&t, &nv);
	cr_assert_lt(t.n, 2000);
	cr_assert_eq(spdy_bad(&t, false), -EMSGSIZE);
	/* a name/value block that lies about its sizes */
	nv.n = 0;
	put32(&nv, 1);
	put32(&nv, 1000);
	put(&nv, "streamtype", 10);
	syn_with(&t, &nv);
	cr_assert_eq(spdy_bad(&t, false), -EBADMSG);
	/* the same stream opened twice; more streams than the table */
	zc_init(&c);
	t.n = 0;
	syn_stream(&t, &c, 1, "stdout", 0);
	syn_stream(&t, &c, 1, "stderr", 0);
	deflateEnd(&c.z);
	cr_assert_eq(spdy_bad(&t, false), -EPROTO);
	zc_init(&c);
	t.n = 0;
	for (uint32_t i = 0; i <= KS_SPDY_MAX_STREAMS; i++)
		syn_stream(&t, &c, 1 + 2 * i, "data", 0);
	deflateEnd(&c.z);
	cr_assert_eq(spdy_bad(&t, false), -E2BIG);
	/* a resize line over the limit, and one that is not JSON */
	t.n = 0;
	memset(big.d, ' ', 300);
	big.d[300] = 0;
	data(&t, 9, 0, (const char *)big.d);
	cr_assert_eq(spdy_bad(&t, true), -EMSGSIZE);
	t.n = 0;
	data(&t, 9, 0, "nope\n");
	cr_assert_eq(spdy_bad(&t, true), -EBADMSG);
}

/* ------------------------------------------------------------ events */

Test(event, json_shapes)
{
	struct ks_event ev = { .type = KS_EV_DATA, .channel = KS_STDOUT,
			       .data = (const uint8_t *)"hi\xff\n", .len = 4 };
	json_t *o = ks_event_json(&ev);
	char *text;

	cr_assert_not_null(o);
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	cr_assert_str_eq(text, "{\"channel\":\"stdout\",\"data\":\"aGn/Cg==\",\"type\":\"exec\"}");
	free(text);
	json_decref(o);
	ev.stream = 5;
	ev.channel = KS_STDIN;
	o = ks_event_json(&ev);
	cr_assert_eq(json_integer_value(json_object_get(o, "stream")), 5);
	cr_assert_str_eq(json_string_value(json_object_get(o, "channel")), "stdin");
	json_decref(o);
	ev = (struct ks_event){ .type = KS_EV_RESIZE, .width = 80, .height = 24 };
	o = ks_event_json(&ev);
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	cr_assert_str_eq(text,
			 "{\"channel\":\"resize\",\"height\":24,\"type\":\"exec\",\"width\":80}");
	free(text);
	json_decref(o);
	ev.type = KS_EV_END;
	cr_assert_null(ks_event_json(&ev));
	ev = (struct ks_event){ .type = KS_EV_DATA, .channel = KS_STDERR, .data = NULL, .len = 0 };
	o = ks_event_json(&ev);
	cr_assert_str_eq(json_string_value(json_object_get(o, "data")), "");
	json_decref(o);
}

/* ------------------------------------------------------------ recorded */

/*
 * What kubectl v1.32 sent after its exec upgrade (recorded against a
 * stand-in API server answering 101; kept as fuzz seeds, after a control
 * byte): WebSocket v5.channel.k8s.io and the SPDY/3.1 fallback, each
 * without and with a TTY (`stty cols 100 rows 30` under script(1); the
 * final ^D is script's end of input).
 */
static struct buf *slurp(const char *name)
{
	static struct buf b;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "tests/fuzz/corpus/http/%s", name);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "%s (run from the repository root)", path);
	b.n = fread(b.d, 1, sizeof(b.d), f);
	fclose(f);
	cr_assert_gt(b.n, 1);
	b.n--;
	memmove(b.d, b.d + 1, b.n);	/* the fuzzer's control byte */
	return &b;
}

Test(recorded, kubectl_exec_frames)
{
	static const struct {
		const char *file, *log, *in;
		size_t in_len;
	} want[] = {
		{ "kubectl_exec_ws_frames", "close stdin;", "echo hi\n", 8 },
		{ "kubectl_exec_ws_tty_frames", "resize 100x30;", "ls\r\x04", 4 },
		{ "kubectl_exec_spdy_frames",
		  "open 1 error;open 3 stdin;open 5 stdout;open 7 stderr;close stdin;", "echo hi\n",
		  8 },
		{ "kubectl_exec_spdy_tty_frames",
		  "open 1 error;open 3 stdin;open 5 stdout;open 7 resize;resize 100x30;", "ls\r\x04",
		  4 },
	};
	static struct seen s;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct buf *b = slurp(want[i].file);

		for (size_t step = 1; step <= b->n; step += step < 16 ? 1 : 97) {
			if (strstr(want[i].file, "spdy")) {
				struct ks_spdy *sp = ks_spdy_new();

				memset(&s, 0, sizeof(s));
				spdy_run(sp, KS_FROM_CLIENT, b, step, &s);
				ks_spdy_free(sp);
			} else {
				ws_run(KS_FROM_CLIENT, 5, b, step, &s);
			}
			cr_assert_eq(s.err, 0, "%s step %zu: %d", want[i].file, step, s.err);
			cr_assert_str_eq(s.log, want[i].log, "%s step %zu", want[i].file, step);
			cr_assert_eq(s.nchan[KS_STDIN], want[i].in_len, "%s", want[i].file);
			cr_assert_eq(memcmp(s.chan[KS_STDIN], want[i].in, want[i].in_len), 0, "%s",
				     want[i].file);
		}
	}
}
