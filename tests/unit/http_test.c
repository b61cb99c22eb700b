// SPDX-License-Identifier: BSD-2-Clause
/*
 * userspace/proto/http.c: heads and bodies as kubectl and the API server
 * send them, fed whole, byte by byte and cut at every offset; every
 * refusal http.h promises (smuggling, folding, bad chunk sizes, limits);
 * the Status answer as kubectl reads it; the upstream head rewrite.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include <jansson.h>

#include "proto/http.h"

static const char kubectl_get[] =
	"GET /api/v1/namespaces?limit=500 HTTP/1.1\r\n"
	"Host: 127.0.0.1:6443\r\n"
	"User-Agent: kubectl/v1.20.2 (linux/amd64) kubernetes/faecb19\r\n"
	"Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json\r\n"
	"Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln\r\n"
	"Accept-Encoding: gzip\r\n"
	"\r\n";

static const char chunked_post[] =
	"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\n"
	"Host: k\r\n"
	"Content-Type: application/json\r\n"
	"Transfer-Encoding: chunked\r\n"
	"\r\n"
	"5;ext=1;q=\"a b\"\r\nhello\r\n"
	"1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"
	"0\r\nX-Trailer: yes\r\nChecksum: 1\r\n\r\n";

static const char watch_resp[] =
	"HTTP/1.1 200 OK\r\n"
	"Content-Type: application/json\r\n"
	"Transfer-Encoding: chunked\r\n"
	"\r\n"
	"e\r\n{\"type\":\"ADDED\r\n"
	"3 \r\n\"}\n\r\n"
	"0\r\n\r\n";

/* Parse a whole head from text; asserts the return code. */
static int head(enum http_kind k, unsigned opts, const char *text, struct http_head *h,
		struct http_parser *p)
{
	http_parser_init(p, k, opts);
	return http_parse_head(p, (const uint8_t *)text, strlen(text), h);
}

static bool is(const char *text, struct http_span s, const char *want)
{
	return s.len == strlen(want) && !memcmp(text + s.off, want, s.len);
}

/* The whole body after a head: payload collected, 1 at its end. */
static int body_all(struct http_parser *p, const uint8_t *in, size_t len, size_t step,
		    char *out, size_t *out_len, size_t *consumed)
{
	size_t off = 0, used;
	struct http_span d;
	int rc = 0;

	*out_len = 0;
	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		size_t o = 0;

		do {
			rc = http_body(p, in + off + o, n - o, &used, &d);
			cr_assert(used <= n - o);
			cr_assert(d.off + d.len <= used);
			memcpy(out + *out_len, in + off + o + d.off, d.len);
			*out_len += d.len;
			o += used;
		} while (rc == 0 && o < n);
		off += o;
		if (rc)
			break;
	}
	*consumed = off;
	return rc;
}

Test(head, kubectl_get)
{
	struct http_parser p;
	struct http_head h;

	cr_assert_eq(head(HTTP_REQUEST, 0, kubectl_get, &h, &p), 0);
	cr_assert_eq(h.size, strlen(kubectl_get));
	cr_assert(is(kubectl_get, h.method, "GET"));
	cr_assert(is(kubectl_get, h.target, "/api/v1/namespaces?limit=500"));
	cr_assert_eq(h.minor, 1);
	cr_assert_eq(h.n_fields, 5);
	cr_assert(is(kubectl_get, h.fields[1].name, "User-Agent"));
	cr_assert(is(kubectl_get, h.fields[1].value,
		     "kubectl/v1.20.2 (linux/amd64) kubernetes/faecb19"));
	cr_assert_eq(h.body, HTTP_BODY_NONE);
	cr_assert_eq(h.flags, 0);
	cr_assert_eq(http_field_find(&h, (const uint8_t *)kubectl_get, "authorization", 0), 3);
	cr_assert_eq(http_field_find(&h, (const uint8_t *)kubectl_get, "Cookie", 0), -1);
}

/* Every prefix is -EAGAIN; fed one byte more each time, the same head. */
static void every_prefix(enum http_kind k, const char *text)
{
	size_t len = strlen(text), end = strstr(text, "\r\n\r\n") - text + 4;
	struct http_parser p, q;
	struct http_head whole, h;

	http_parser_init(&q, k, 0);
	cr_assert_eq(http_parse_head(&q, (const uint8_t *)text, len, &whole), 0);
	cr_assert_eq(whole.size, end);
	http_parser_init(&p, k, 0);
	for (size_t n = 0; n <= len; n++) {
		/* a fresh exact-size copy, so ASan sees any read past n */
		uint8_t *copy = malloc(n ? n : 1);
		int rc;

		memcpy(copy, text, n);
		/* fresh parser on the prefix alone, and the incremental one */
		http_parser_init(&q, k, 0);
		rc = http_parse_head(&q, copy, n, &h);
		cr_assert_eq(rc, n < end ? -EAGAIN : 0, "prefix %zu: %d", n, rc);
		if (n <= end) {
			rc = http_parse_head(&p, copy, n, &h);
			cr_assert_eq(rc, n < end ? -EAGAIN : 0, "bytewise %zu: %d", n, rc);
		}
		if (!rc)
			cr_assert_eq(memcmp(&h, &whole, sizeof(h)), 0, "prefix %zu differs", n);
		free(copy);
	}
}

Test(head, every_prefix_needs_more)
{
	every_prefix(HTTP_REQUEST, kubectl_get);
	every_prefix(HTTP_REQUEST, chunked_post);
	every_prefix(HTTP_RESPONSE, watch_resp);
}

Test(body, chunked_extensions_and_trailers_at_every_step)
{
	const uint8_t *b = (const uint8_t *)chunked_post;
	size_t len = strlen(chunked_post), got, consumed;
	char out[128];

	for (size_t step = 1; step <= len; step++) {
		struct http_parser p;
		struct http_head h;

		cr_assert_eq(head(HTTP_REQUEST, 0, chunked_post, &h, &p), 0);
		cr_assert_eq(h.body, HTTP_BODY_CHUNKED);
		cr_assert_eq(body_all(&p, b + h.size, len - h.size, step, out, &got, &consumed),
			     1, "step %zu", step);
		cr_assert_eq(consumed, len - h.size, "step %zu", step);
		cr_assert_eq(got, 31);
		cr_assert_eq(memcmp(out, "helloabcdefghijklmnopqrstuvwxyz", 31), 0);
	}
}

/* Every prefix of the body: 0 (more) and nothing past it read. */
Test(body, every_prefix_of_a_chunked_body)
{
	const uint8_t *b = (const uint8_t *)watch_resp;
	size_t len = strlen(watch_resp), got, consumed;
	char out[128];
	struct http_parser p;
	struct http_head h;

	cr_assert_eq(head(HTTP_RESPONSE, 0, watch_resp, &h, &p), 0);
	for (size_t n = 0; n < len - h.size; n++) {
		uint8_t *copy = malloc(n ? n : 1);

		memcpy(copy, b + h.size, n);
		head(HTTP_RESPONSE, 0, watch_resp, &h, &p);
		cr_assert_eq(body_all(&p, copy, n, n ? n : 1, out, &got, &consumed), 0, "%zu",
			     n);
		free(copy);
	}
	head(HTTP_RESPONSE, 0, watch_resp, &h, &p);
	cr_assert_eq(body_all(&p, b + h.size, len - h.size, 3, out, &got, &consumed), 1);
	cr_assert_eq(got, 17);
	cr_assert_eq(memcmp(out, "{\"type\":\"ADDED\"}\n", 17), 0);
}

Test(body, content_length_and_pipelining)
{
	static const char two[] = "PUT /api/v1/namespaces/a HTTP/1.1\r\nHost: k\r\n"
				  "Content-Length: 4\r\n\r\n{}\r\n"
				  "DELETE /api/v1/namespaces/a HTTP/1.1\r\nHost: k\r\n\r\n";
	const uint8_t *b = (const uint8_t *)two;
	struct http_parser p;
	struct http_head h;
	struct http_span d;
	size_t used, off;

	cr_assert_eq(head(HTTP_REQUEST, 0, two, &h, &p), 0);
	cr_assert_eq(h.body, HTTP_BODY_LENGTH);
	cr_assert_eq(h.content_length, 4);
	cr_assert_eq(http_body(&p, b + h.size, strlen(two) - h.size, &used, &d), 1);
	cr_assert_eq(used, 4);
	cr_assert_eq(d.off, 0);
	cr_assert_eq(d.len, 4);
	off = h.size + used;
	http_parser_init(&p, HTTP_REQUEST, 0);
	cr_assert_eq(http_parse_head(&p, b + off, strlen(two) - off, &h), 0);
	cr_assert(is(two + off, h.method, "DELETE"));
	cr_assert_eq(h.size, strlen(two) - off);
	cr_assert_eq(http_body(&p, b, 0, &used, &d), 1);
}

Test(head, responses)
{
	struct http_parser p;
	struct http_head h;

	cr_assert_eq(head(HTTP_RESPONSE, 0,
			  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\n"
			  "Connection: Upgrade\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n",
			  &h, &p),
		     0);
	cr_assert_eq(h.status, 101);
	cr_assert(h.flags & HTTP_H_UPGRADE);
	cr_assert_eq(h.body, HTTP_BODY_NONE);
	cr_assert_eq(h.upgrade.len, 8);

	cr_assert_eq(head(HTTP_RESPONSE, 0, "HTTP/1.1 100 Continue\r\n\r\n", &h, &p), 0);
	cr_assert(h.flags & HTTP_H_INTERIM);
	cr_assert_eq(head(HTTP_RESPONSE, 0, "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
			  &h, &p),
		     0);
	cr_assert_eq(h.body, HTTP_BODY_NONE);
	cr_assert_eq(head(HTTP_RESPONSE, HTTP_P_HEAD_REQUEST,
			  "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", &h, &p),
		     0);
	cr_assert_eq(h.body, HTTP_BODY_NONE);
	cr_assert_eq(head(HTTP_RESPONSE, 0, "HTTP/1.1 200\r\n\r\n", &h, &p), 0);
	cr_assert_eq(h.body, HTTP_BODY_CLOSE);
	cr_assert(h.flags & HTTP_H_CLOSE);
	cr_assert_eq(h.reason.len, 0);
	cr_assert_eq(head(HTTP_RESPONSE, 0, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", &h,
			  &p),
		     0);
	cr_assert(h.flags & HTTP_H_CLOSE);
	cr_assert_eq(head(HTTP_RESPONSE, 0,
			  "HTTP/1.1 403 Forbidden\r\nContent-Length: 3, 3\r\n\r\n", &h, &p),
		     0);
	cr_assert_eq(h.content_length, 3);
	cr_assert_not(h.flags & HTTP_H_CLOSE);
}

Test(head, request_flags)
{
	struct http_parser p;
	struct http_head h;
	const char *ws = "GET /api/v1/namespaces/d/pods/x/exec?command=sh&stdin=true HTTP/1.1\r\n"
			 "Host: k\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
			 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v5.channel.k8s.io, "
			 "v4.channel.k8s.io\r\n\r\n";

	cr_assert_eq(head(HTTP_REQUEST, 0, ws, &h, &p), 0);
	cr_assert(h.flags & HTTP_H_UPGRADE);
	cr_assert(is(ws, h.upgrade, "websocket"));
	cr_assert(http_list_has(&h, (const uint8_t *)ws, "Sec-WebSocket-Protocol",
				"v4.channel.k8s.io"));
	cr_assert_not(http_list_has(&h, (const uint8_t *)ws, "Sec-WebSocket-Protocol",
				    "channel.k8s.io"));
	cr_assert_eq(head(HTTP_REQUEST, 0,
			  "\r\n\r\nPOST /x HTTP/1.1\r\nHost: k\r\nConnection: keep-alive, close\r\n"
			  "Expect: 100-continue\r\nContent-Length: 0\r\n\r\n",
			  &h, &p),
		     0);
	cr_assert_eq(h.start, 4);
	cr_assert_eq(h.flags, HTTP_H_CLOSE | HTTP_H_EXPECT_CONTINUE);
	cr_assert_eq(h.body, HTTP_BODY_NONE);
	cr_assert_eq(head(HTTP_REQUEST, 0, "GET / HTTP/1.0\r\n\r\n", &h, &p), 0);
	cr_assert_eq(h.flags, HTTP_H_CLOSE);
	cr_assert_eq(head(HTTP_REQUEST, 0, "OPTIONS * HTTP/1.1\r\nHost: k\r\n\r\n", &h, &p), 0);
}

struct bad {
	enum http_kind kind;
	const char *text;
	int err;
	int status;
};

static const struct bad bad_heads[] = {
	/* smuggling */
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: k\r\nContent-Length: 5\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: chunked\r\n"
	  "Content-Length: 5\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: k\r\nContent-Length: 5\r\n"
	  "Content-Length: 6\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: k\r\nContent-Length: 5, 6\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: k\r\nContent-Length: +5\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: k\r\nContent-Length: 0x5\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: k\r\nContent-Length:\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: k\r\n"
	  "Content-Length: 99999999999999999999\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	  -ENOTSUP, 501 },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: chunked\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", -ENOTSUP, 501 },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: xchunked\r\n\r\n",
	  -ENOTSUP, 501 },
	{ HTTP_REQUEST, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: k\r\nTransfer-Encoding : chunked\r\n\r\n",
	  -EBADMSG, 400 },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: k\r\nX: a\r\n Transfer-Encoding: chunked\r\n\r\n",
	  -EBADMSG, 400 },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: k\nContent-Length: 5\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: k\rContent-Length: 5\r\n\r\n", -EBADMSG, 400 },
	/* Host */
	{ HTTP_REQUEST, "GET / HTTP/1.1\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", -EBADMSG, 400 },
	/* start line */
	{ HTTP_REQUEST, "GET  / HTTP/1.1\r\nHost: k\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "GET /\x01 HTTP/1.1\r\nHost: k\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "GET /\xc3\xa9 HTTP/1.1\r\nHost: k\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "G(T / HTTP/1.1\r\nHost: k\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "GET / HTTP/1.1 \r\nHost: k\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "GET / http/1.1\r\nHost: k\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "GET /\r\nHost: k\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", -ENOTSUP, 505 },
	{ HTTP_REQUEST, "CONNECT k:443 HTTP/1.1\r\nHost: k\r\n\r\n", -ENOTSUP, 501 },
	{ HTTP_REQUEST, "GET http://k/api HTTP/1.1\r\nHost: k\r\n\r\n", -ENOTSUP, 501 },
	{ HTTP_REQUEST, "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: k\r\n\r\n",
	  -EBADMSG, 400 },
	{ HTTP_REQUEST, "\nGET / HTTP/1.1\r\nHost: k\r\n\r\n", -EBADMSG, 400 },
	/* fields */
	{ HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: k\r\nX-A: b\x7f\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: k\r\n: b\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: k\r\nno colon\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: k\r\nX\x80Y: 1\r\n\r\n", -EBADMSG, 400 },
	/* responses */
	{ HTTP_RESPONSE, "HTTP/1.1 20 OK\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_RESPONSE, "HTTP/1.1 099 X\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_RESPONSE, "HTTP/1.1 200OK\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_RESPONSE, "HTTP/2 200 OK\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_RESPONSE, "HTTP/1.2 200 OK\r\n\r\n", -ENOTSUP, 505 },
	{ HTTP_RESPONSE, "\r\nHTTP/1.1 200 OK\r\n\r\n", -EBADMSG, 400 },
	{ HTTP_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n"
	  "\r\n", -EBADMSG, 400 },
};

Test(head, hostile_heads_refused)
{
	for (size_t i = 0; i < sizeof(bad_heads) / sizeof(bad_heads[0]); i++) {
		const struct bad *b = &bad_heads[i];
		size_t len = strlen(b->text);
		struct http_parser p;
		struct http_head h;
		int rc;

		http_parser_init(&p, b->kind, 0);
		rc = http_parse_head(&p, (const uint8_t *)b->text, len, &h);
		cr_assert_eq(rc, b->err, "case %zu: %d, want %d", i, rc, b->err);
		cr_assert_eq(p.status, b->status, "case %zu: %d", i, p.status);
		cr_assert_not_null(p.why);
		/* and fed byte by byte: the same error, never a later success */
		http_parser_init(&p, b->kind, 0);
		rc = -EAGAIN;
		for (size_t n = 1; n <= len && rc == -EAGAIN; n++)
			rc = http_parse_head(&p, (const uint8_t *)b->text, n, &h);
		cr_assert_eq(rc, b->err, "bytewise case %zu: %d", i, rc);
	}
}

Test(head, nul_refused)
{
	static const char nul[] = "GET / HTTP/1.1\r\nHost: k\r\nX-A\0: b\r\n\r\n";
	struct http_parser p;
	struct http_head h;

	http_parser_init(&p, HTTP_REQUEST, 0);
	cr_assert_eq(http_parse_head(&p, (const uint8_t *)nul, sizeof(nul) - 1, &h), -EBADMSG);
	cr_assert_eq(p.status, 400);
}

Test(head, limits)
{
	size_t cap = HTTP_MAX_HEAD + 4096, n;
	char *big = malloc(cap);
	struct http_parser p;
	struct http_head h;

	/* 101 fields */
	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: k\r\n");
	for (int i = 0; i < HTTP_MAX_HEADERS; i++)
		n += (size_t)sprintf(big + n, "X-%d: v\r\n", i);
	strcpy(big + n, "\r\n");
	cr_assert_eq(head(HTTP_REQUEST, 0, big, &h, &p), -EMSGSIZE);
	cr_assert_eq(p.status, 431);
	/* 100 fields pass */
	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: k\r\n");
	for (int i = 1; i < HTTP_MAX_HEADERS; i++)
		n += (size_t)sprintf(big + n, "X-%d: v\r\n", i);
	strcpy(big + n, "\r\n");
	cr_assert_eq(head(HTTP_REQUEST, 0, big, &h, &p), 0);
	cr_assert_eq(h.n_fields, HTTP_MAX_HEADERS);
	/* a head that never ends: refused at 64 KiB, not waited for */
	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: k\r\nX-Big: ");
	memset(big + n, 'a', cap - n - 1);
	big[cap - 1] = 0;
	http_parser_init(&p, HTTP_REQUEST, 0);
	cr_assert_eq(http_parse_head(&p, (const uint8_t *)big, HTTP_MAX_HEAD - 1, &h), -EAGAIN);
	cr_assert_eq(http_parse_head(&p, (const uint8_t *)big, cap - 1, &h), -EMSGSIZE);
	cr_assert_eq(p.status, 431);
	free(big);
}

struct bad_body {
	const char *body;
	int err;
};

static const struct bad_body bad_bodies[] = {
	{ "g\r\n", -EBADMSG },
	{ "\r\n", -EBADMSG },
	{ " 5\r\n", -EBADMSG },
	{ "-5\r\n", -EBADMSG },
	{ "5 5\r\n", -EBADMSG },
	{ "5\n", -EBADMSG },
	{ "5\r\r", -EBADMSG },
	{ "00000000000000001\r\n", -EBADMSG },	/* 17 digits */
	{ "10000000001\r\n", -EBADMSG },	/* over HTTP_MAX_CHUNK */
	{ "FFFFFFFFFFFFFFFF\r\n", -EBADMSG },
	{ "3\r\nabcX", -EBADMSG },		/* no CRLF after data */
	{ "3\r\nabc\rX", -EBADMSG },
	{ "3;a=\x01\r\n", -EBADMSG },
	{ "0\r\n X: y\r\n\r\n", -EBADMSG },	/* folded trailer */
	{ "0\r\nX y\r\n\r\n", -EBADMSG },
	{ "0\r\nX: \x7f\r\n\r\n", -EBADMSG },
	{ "0\r\n\rX", -EBADMSG },
	{ "0\r\nX: y\n", -EBADMSG },
};

Test(body, hostile_chunks_refused)
{
	static const char post[] = "POST / HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: chunked\r\n\r\n";
	char out[64];
	size_t got, consumed;

	for (size_t i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++) {
		struct http_parser p;
		struct http_head h;
		const char *b = bad_bodies[i].body;

		for (size_t step = 1; step <= strlen(b); step++) {
			cr_assert_eq(head(HTTP_REQUEST, 0, post, &h, &p), 0);
			cr_assert_eq(body_all(&p, (const uint8_t *)b, strlen(b), step, out, &got,
					      &consumed),
				     bad_bodies[i].err, "case %zu step %zu", i, step);
			cr_assert_eq(p.status, 400);
		}
	}
}

Test(body, chunk_line_and_trailer_limits)
{
	static const char post[] = "POST / HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: chunked\r\n\r\n";
	size_t n = 64 << 10, got, consumed;
	char *b = malloc(n), out[8];
	struct http_parser p;
	struct http_head h;

	memset(b, 'x', n);
	memcpy(b, "1;", 2);
	cr_assert_eq(head(HTTP_REQUEST, 0, post, &h, &p), 0);
	cr_assert_eq(body_all(&p, (uint8_t *)b, n, n, out, &got, &consumed), -EMSGSIZE);
	memcpy(b, "0\r\nX: ", 6);
	cr_assert_eq(head(HTTP_REQUEST, 0, post, &h, &p), 0);
	cr_assert_eq(body_all(&p, (uint8_t *)b, n, 1000, out, &got, &consumed), -EMSGSIZE);
	free(b);
}

/* ------------------------------------------------------------ builders */

Test(build, forbidden_status_as_kubectl_reads_it)
{
	uint8_t out[2048];
	size_t len, used;
	struct http_parser p;
	struct http_head h;
	struct http_span d;
	json_t *o;

	cr_assert_eq(http_k8s_forbidden("agents-never-delete-namespaces",
					"namespaces \"prod\" \xff", out, sizeof(out), &len),
		     0);
	http_parser_init(&p, HTTP_RESPONSE, 0);
	cr_assert_eq(http_parse_head(&p, out, len, &h), 0);
	cr_assert_eq(h.status, 403);
	cr_assert_eq(h.body, HTTP_BODY_LENGTH);
	cr_assert_eq(http_body(&p, out + h.size, len - h.size, &used, &d), 1);
	cr_assert_eq(h.size + used, len);
	o = json_loadb((const char *)out + h.size + d.off, d.len, 0, NULL);
	cr_assert_not_null(o);
	cr_assert_str_eq(json_string_value(json_object_get(o, "kind")), "Status");
	cr_assert_str_eq(json_string_value(json_object_get(o, "apiVersion")), "v1");
	cr_assert_str_eq(json_string_value(json_object_get(o, "status")), "Failure");
	cr_assert_str_eq(json_string_value(json_object_get(o, "reason")), "Forbidden");
	cr_assert_eq(json_integer_value(json_object_get(o, "code")), 403);
	cr_assert_str_eq(json_string_value(json_object_get(o, "message")),
			 "namespaces \"prod\" ?: denied by sluice policy rule "
			 "\"agents-never-delete-namespaces\"");
	json_decref(o);

	cr_assert_eq(http_k8s_status(400, "BadRequest", "bad chunk size", true, out, sizeof(out),
				     &len),
		     0);
	http_parser_init(&p, HTTP_RESPONSE, 0);
	cr_assert_eq(http_parse_head(&p, out, len, &h), 0);
	cr_assert_eq(h.status, 400);
	cr_assert(h.flags & HTTP_H_CLOSE);
	cr_assert_eq(http_k8s_status(400, "Bad Request", "x", true, out, sizeof(out), &len),
		     -EINVAL);
	cr_assert_eq(http_k8s_status(200, "OK", "x", true, out, sizeof(out), &len), -EINVAL);
	cr_assert_eq(http_k8s_status(400, "BadRequest", "x", true, out, 100, &len), -ENOSPC);
	cr_assert_eq(http_k8s_status(400, "BadRequest", "x", true, out, 200, &len), -ENOSPC);
}

static const char agent_req[] =
	"GET /api/v1/namespaces/agents/pods HTTP/1.1\r\n"
	"Host: 10.96.0.1\r\n"
	"authorization: Bearer agent-token\r\n"
	"Impersonate-User: system:admin\r\n"
	"impersonate-group: system:masters\r\n"
	"Impersonate-Extra-scopes: all\r\n"
	"Impersonate-Uid: 0\r\n"
	"Accept: application/json\r\n"
	"Authorization: Basic YTpi\r\n"
	"\r\n";

Test(build, rewrite_replaces_credentials_and_impersonation)
{
	static const char *const groups[] = { "ai-agents", "system:authenticated" };
	static const struct http_extra extra[] = { { "sluice-session", "0123abcd" } };
	struct http_rewrite rw = {
		.bearer = "held-token", .user = "system:serviceaccount:agents:agent",
		.groups = groups, .n_groups = 2, .extra = extra, .n_extra = 1,
	};
	static const char want[] =
		"GET /api/v1/namespaces/agents/pods HTTP/1.1\r\n"
		"Host: 10.96.0.1\r\n"
		"Accept: application/json\r\n"
		"Authorization: Bearer held-token\r\n"
		"Impersonate-User: system:serviceaccount:agents:agent\r\n"
		"Impersonate-Group: ai-agents\r\n"
		"Impersonate-Group: system:authenticated\r\n"
		"Impersonate-Extra-sluice-session: 0123abcd\r\n"
		"\r\n";
	uint8_t out[1024];
	size_t len;
	struct http_parser p;
	struct http_head h;

	cr_assert_eq(head(HTTP_REQUEST, 0, agent_req, &h, &p), 0);
	cr_assert_eq(http_rewrite_request(&h, (const uint8_t *)agent_req, &rw, out, sizeof(out),
					  &len),
		     0);
	cr_assert_eq(len, strlen(want), "%.*s", (int)len, out);
	cr_assert_eq(memcmp(out, want, len), 0, "%.*s", (int)len, out);

	/* client certificate upstream, no impersonation: credentials only dropped */
	memset(&rw, 0, sizeof(rw));
	cr_assert_eq(http_rewrite_request(&h, (const uint8_t *)agent_req, &rw, out, sizeof(out),
					  &len),
		     0);
	cr_assert_null(memmem(out, len, "uthorization", 12));
	cr_assert_null(memmem(out, len, "mpersonate", 10));
	out[len] = 0;
	cr_assert_eq(head(HTTP_REQUEST, 0, (const char *)out, &h, &p), 0);
	cr_assert_eq(h.n_fields, 2);

	/* header injection through an identity is refused */
	cr_assert_eq(head(HTTP_REQUEST, 0, agent_req, &h, &p), 0);
	rw.user = "alice\r\nImpersonate-Group: system:masters";
	cr_assert_eq(http_rewrite_request(&h, (const uint8_t *)agent_req, &rw, out, sizeof(out),
					  &len),
		     -EINVAL);
	rw.user = "alice";
	rw.bearer = "tok\n";
	cr_assert_eq(http_rewrite_request(&h, (const uint8_t *)agent_req, &rw, out, sizeof(out),
					  &len),
		     -EINVAL);
	rw.bearer = "tok";
	rw.extra = (const struct http_extra[]){ { "a b", "c" } };
	rw.n_extra = 1;
	cr_assert_eq(http_rewrite_request(&h, (const uint8_t *)agent_req, &rw, out, sizeof(out),
					  &len),
		     -EINVAL);
	rw.n_extra = 0;
	cr_assert_eq(http_rewrite_request(&h, (const uint8_t *)agent_req, &rw, out, 60, &len),
		     -ENOSPC);
}
