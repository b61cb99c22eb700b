// SPDX-License-Identifier: BSD-2-Clause
/*
 * Fuzz target for the Kubernetes codec layer: userspace/proto/http.c,
 * k8sreq.c and kstream.c, with hostile bytes from either side.
 *
 * Input: one control byte, then the bytes.
 *   control % 5 == 0: what an agent sends: request heads (fed in pieces of
 *     (control >> 3) + 1 bytes, so the incremental scan is exercised),
 *     each body, pipelined requests; each head's target through k8sreq and
 *     the head through the upstream rewrite;
 *   control % 5 == 1: what an API server sends: response heads and bodies
 *     (bit 3: the answer to a HEAD request);
 *   control % 5 == 2 / 3: WebSocket frames from a client / a server,
 *     channel protocol version (control >> 3) % 5 + 1;
 *   control % 5 == 4: SPDY frames, the direction switching at each byte
 *     0xfe (so both zlib contexts and the shared stream table are used).
 * Beyond memory errors, it aborts when a result breaks what the headers
 * promise: spans inside the head, payload inside what was given, progress
 * on every call, a rewritten head that parses back with the same request
 * line and none of the agent's credentials, events that point into the
 * input or the decoder's scratch.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *	-Iuserspace -Iuserspace/lib tests/fuzz/http_fuzz.c \
 *	userspace/proto/http.c userspace/proto/k8sreq.c userspace/proto/kstream.c \
 *	-ljansson -lcrypto -lz -lpthread -o build/http_fuzz && \
 *	build/http_fuzz -max_len=8192 tests/fuzz/corpus/http
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

#include "proto/http.h"
#include "proto/k8sreq.h"
#include "proto/kstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_head(const struct http_head *h, size_t len)
{
	if (h->size > len || h->size > HTTP_MAX_HEAD || h->n_fields > HTTP_MAX_HEADERS)
		abort();
	for (unsigned i = 0; i < h->n_fields; i++)
		if (h->fields[i].name.off + h->fields[i].name.len > h->size ||
		    h->fields[i].value.off + h->fields[i].value.len > h->size ||
		    !h->fields[i].name.len)
			abort();
}

static void request_extras(const struct http_head *h, const uint8_t *buf)
{
	static struct k8s_req r;
	static uint8_t out[HTTP_MAX_HEAD + 1024];
	static const char *const groups[] = { "g" };
	static const struct http_extra extra[] = { { "sluice-session", "42" } };
	const struct http_rewrite rw = { .bearer = "held", .user = "u", .groups = groups,
					 .n_groups = 1, .extra = extra, .n_extra = 1 };
	struct http_parser p;
	struct http_head h2;
	size_t len;
	int rc;

	rc = k8s_req_parse(&r, http_at(buf, h->method), h->method.len, http_at(buf, h->target),
			   h->target.len);
	if (rc && rc != -EINVAL && rc != -ENAMETOOLONG)
		abort();
	if (!rc && (!r.verb || !r.path || r.used > sizeof(r.buf) || r.path[0] != '/'))
		abort();
	if (http_rewrite_request(h, buf, &rw, out, sizeof(out), &len))
		abort();
	/* what we add may take it past the limits of a head we would accept */
	if (h->n_fields + 4 > HTTP_MAX_HEADERS || len > HTTP_MAX_HEAD)
		return;
	http_parser_init(&p, HTTP_REQUEST, 0);
	if (http_parse_head(&p, out, len, &h2) || h2.size != len ||
	    h2.method.len != h->method.len || h2.target.len != h->target.len ||
	    memcmp(out + h2.method.off, buf + h->method.off, h->method.len) ||
	    memcmp(out + h2.target.off, buf + h->target.off, h->target.len))
		abort();
	/* exactly our Authorization and our one Impersonate-User */
	rc = http_field_find(&h2, out, "Authorization", 0);
	if (rc < 0 || http_field_find(&h2, out, "Authorization", (unsigned)rc + 1) >= 0 ||
	    !http_span_ieq(out, h2.fields[rc].value, "Bearer held"))
		abort();
	rc = http_field_find(&h2, out, "Impersonate-User", 0);
	if (rc < 0 || http_field_find(&h2, out, "Impersonate-User", (unsigned)rc + 1) >= 0)
		abort();
}

static void http_stream(enum http_kind kind, unsigned opts, size_t piece, const uint8_t *d,
			size_t size)
{
	static struct http_head h;
	size_t off = 0;

	while (off < size) {
		struct http_parser p;
		size_t n, used;
		int rc = -EAGAIN;

		http_parser_init(&p, kind, opts);
		/* the head, growing by piece bytes */
		for (n = piece < size - off ? piece : size - off; rc == -EAGAIN;
		     n = n + piece < size - off ? n + piece : size - off) {
			rc = http_parse_head(&p, d + off, n, &h);
			if (rc == -EAGAIN && n == size - off)
				return;
		}
		if (rc) {
			if (!p.why || p.status < 400)
				abort();
			return;
		}
		check_head(&h, n);
		if (kind == HTTP_REQUEST)
			request_extras(&h, d + off);
		off += h.size;
		for (;;) {
			struct http_span sp;

			rc = http_body(&p, d + off, size - off, &used, &sp);
			if (used > size - off || sp.off + sp.len > used)
				abort();
			off += used;
			if (rc < 0 || (rc == 0 && off == size))
				return;
			if (rc == 1)
				break;
			if (!used)
				abort();	/* 0 with bytes left must make progress */
		}
		if (h.flags & (HTTP_H_UPGRADE | HTTP_H_CLOSE))
			return;
	}
}

static void check_event(const struct ks_event *ev, const uint8_t *in, size_t len,
			const uint8_t *scratch, size_t scratch_len)
{
	if (ev->type < KS_EV_DATA || ev->type > KS_EV_END)
		abort();
	if (ev->type != KS_EV_DATA)
		return;
	if (!(ev->data >= in && ev->data + ev->len <= in + len) &&
	    !(scratch && ev->data >= scratch && ev->data + ev->len <= scratch + scratch_len))
		abort();
	if (ev->channel > KS_OTHER)
		abort();
	json_decref(ks_event_json(ev));
}

static void ws_stream(enum ks_dir from, int version, const uint8_t *d, size_t size)
{
	static struct ks_ws ws;
	struct ks_event ev;
	size_t off = 0, used;
	int rc;

	ks_ws_init(&ws, from, version, 4096);
	do {
		rc = ks_ws_feed(&ws, d + off, size - off, &used, &ev);
		if (used > size - off)
			abort();
		if (rc == 1)
			check_event(&ev, d + off, size - off, ws.scratch, sizeof(ws.scratch));
		if (rc == 0 && used != size - off)
			abort();
		off += used;
	} while (rc == 1);
}

static void spdy_stream(const uint8_t *d, size_t size)
{
	struct ks_spdy *sp = ks_spdy_new();
	enum ks_dir from = KS_FROM_CLIENT;
	size_t off = 0;

	if (!sp)
		return;
	while (off < size) {
		const uint8_t *sw = memchr(d + off, 0xfe, size - off);
		size_t end = sw ? (size_t)(sw - d) : size, used;
		struct ks_event ev;
		int rc;

		do {
			rc = ks_spdy_feed(sp, from, d + off, end - off, &used, &ev);
			if (used > end - off)
				abort();
			if (rc == 1)
				check_event(&ev, d + off, end - off, NULL, 0);
			off += used;
		} while (rc == 1);
		if (rc < 0)
			break;
		if (off != end)
			abort();
		off = sw ? end + 1 : size;
		from = from == KS_FROM_CLIENT ? KS_FROM_SERVER : KS_FROM_CLIENT;
	}
	ks_spdy_free(sp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	unsigned ctl;

	if (!size)
		return 0;
	ctl = data[0];
	size--;
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size);
	switch (ctl % 5) {
	case 0:
		http_stream(HTTP_REQUEST, 0, (ctl >> 3) + 1, copy, size);
		break;
	case 1:
		http_stream(HTTP_RESPONSE, ctl & 8 ? HTTP_P_HEAD_REQUEST : 0, (ctl >> 4) + 1, copy,
			    size);
		break;
	case 2:
	case 3:
		ws_stream(ctl % 5 == 2 ? KS_FROM_CLIENT : KS_FROM_SERVER, (int)((ctl >> 3) % 5) + 1,
			  copy, size);
		break;
	case 4:
		spdy_stream(copy, size);
		break;
	}
	free(copy);
	return 0;
}
