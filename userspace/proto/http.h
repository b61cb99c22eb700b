/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * HTTP/1.1 message framing for the Kubernetes target (DESIGN §2): request
 * heads from the agent, response heads from the API server, bodies by
 * Content-Length or chunked coding, keep-alive and Upgrade (101 for SPDY/3.1
 * and WebSocket); builders for the answers the proxy gives itself (a
 * Kubernetes Status object) and for the request head it sends upstream
 * (credentials and impersonation replaced). No I/O, no global state, no
 * allocation while parsing.
 *
 * Zero-copy. http_parse_head() is given the bytes received so far (the
 * caller appends to one buffer and calls again; it remembers how far it
 * scanned, so feeding one byte at a time is linear) and, once the head is
 * complete, reports every part of it as a span: an offset and a length
 * into that buffer, so the buffer may move between calls. http_body()
 * then walks the body as it arrives and reports where the payload bytes
 * are inside what it was given; it never copies or holds them. The proxy
 * forwards the bytes as they came (chunk framing included); spans are for
 * recording and masking.
 *
 * Hostile input, refused rather than guessed at (RFC 9112 §11 and the
 * smuggling it warns of): a head over HTTP_MAX_HEAD bytes or with more
 * than HTTP_MAX_HEADERS fields; a bare LF or CR; obs-fold (a field line
 * starting with whitespace); whitespace before a field's colon; a field
 * name that is not a token or a value with control bytes; Content-Length
 * together with Transfer-Encoding; Content-Length values that disagree or
 * are not plain digits; a Transfer-Encoding other than exactly "chunked";
 * an HTTP/1.1 request without exactly one Host; chunk sizes that are not
 * hex, longer than 16 digits or over HTTP_MAX_CHUNK; chunk lines or
 * trailers over their limits; missing CRLF after chunk data.
 *
 * Errors are -errno, and the parser keeps the HTTP status to answer with
 * (p->status) and a static reason (p->why, no input bytes in it):
 *   -EAGAIN    not a whole head yet (http_parse_head() only)
 *   -EBADMSG   malformed (400)
 *   -EMSGSIZE  a head or a header count over the limits (431), a chunk line
 *              or trailer section over its limit (400)
 *   -ENOTSUP   something valid this proxy does not carry: a transfer coding
 *              other than chunked (501), HTTP/2 or another version (505),
 *              CONNECT or an absolute-form target (501)
 * After an error the message (and the connection) cannot go on.
 */
#ifndef SLUICE_HTTP_H
#define SLUICE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEAD		(64u << 10)	/* start line + fields + CRLF */
#define HTTP_MAX_HEADERS	100
#define HTTP_MAX_CHUNK_LINE	4096u		/* size + extensions + CRLF */
#define HTTP_MAX_TRAILERS	(8u << 10)
#define HTTP_MAX_CHUNK		(1ull << 40)
#define HTTP_MAX_LENGTH		(1ull << 50)	/* a Content-Length beyond is refused */

/* Where a part of the head is: buf + off, len bytes. */
struct http_span {
	uint32_t off;
	uint32_t len;
};

struct http_field {
	struct http_span name;
	struct http_span value;		/* leading and trailing OWS removed */
};

enum http_kind {
	HTTP_REQUEST,
	HTTP_RESPONSE,
};

enum http_body_kind {
	HTTP_BODY_NONE,		/* nothing follows the head */
	HTTP_BODY_LENGTH,	/* content_length bytes */
	HTTP_BODY_CHUNKED,
	HTTP_BODY_CLOSE,	/* a response delimited by the connection's end */
};

/* Fields of a head the proxy acts on. */
#define HTTP_H_CLOSE		0x01	/* Connection: close, or 1.0 without keep-alive */
#define HTTP_H_UPGRADE		0x02	/* request: Connection: upgrade + Upgrade;
					 * response: 101 Switching Protocols */
#define HTTP_H_EXPECT_CONTINUE	0x04	/* Expect: 100-continue */
#define HTTP_H_INTERIM		0x08	/* a 1xx other than 101: another head follows */

struct http_head {
	enum http_kind kind;
	uint8_t minor;			/* HTTP/1.minor: 0 or 1 */
	struct http_span method;	/* request */
	struct http_span target;	/* request: origin-form or "*" */
	uint16_t status;		/* response */
	struct http_span reason;	/* response, may be empty */
	unsigned n_fields;
	struct http_field fields[HTTP_MAX_HEADERS];
	size_t size;			/* bytes of the head, final CRLF included */
	size_t start;			/* where the start line begins (after
					 * the empty lines a request may lead with) */
	enum http_body_kind body;
	uint64_t content_length;	/* HTTP_BODY_LENGTH */
	unsigned flags;			/* HTTP_H_* */
	struct http_span upgrade;	/* the Upgrade field's value, if any */
};

/*
 * The state of one message being read. http_parser_init() before each
 * message; a response parser must be told what it answers (HEAD and
 * CONNECT answers have no body however they are framed).
 */
#define HTTP_P_HEAD_REQUEST	0x01

struct http_parser {
	enum http_kind kind;
	unsigned opts;			/* HTTP_P_* */
	size_t scanned;			/* head bytes already searched */
	/* body */
	int bstate;
	enum http_body_kind body;
	uint64_t left;			/* of the Content-Length or the chunk */
	uint32_t line;			/* bytes in the current chunk line */
	uint32_t trailer;		/* bytes of trailers so far */
	uint8_t ndigits;
	/* the error */
	uint16_t status;		/* 400, 431, 501, 505 */
	const char *why;		/* static text */
};

void http_parser_init(struct http_parser *p, enum http_kind kind, unsigned opts);

/*
 * Parse the head at the start of buf[0..len), the bytes received so far
 * for this message (len may only grow between calls, the bytes already
 * given must not change). Returns 0 with h filled (its spans into buf,
 * h->size the bytes to consume) and the parser ready for http_body();
 * -EAGAIN when the head is not complete; or an error above. Nothing past
 * buf[len) is read.
 */
int http_parse_head(struct http_parser *p, const uint8_t *buf, size_t len, struct http_head *h);

/*
 * Walk body bytes in[0..len) (what follows what the last call consumed).
 * Consumes *used bytes and reports in *data the payload found in them, an
 * offset and length into in (empty for framing alone). Returns 1 when the
 * message ends at in + *used (the rest belongs to the next message), 0 when
 * it needs more (all of in consumed, or a call with len 0), or an error
 * above. Each call reports at most one payload span: call again with the
 * rest while it returns 0 and *used < len. A HTTP_BODY_CLOSE body never
 * ends here: the connection's end ends it.
 */
int http_body(struct http_parser *p, const uint8_t *in, size_t len, size_t *used,
	      struct http_span *data);

/* ------------------------------------------------------------ fields */

/* The bytes of a span; buf is the buffer the head was parsed from. */
static inline const char *http_at(const uint8_t *buf, struct http_span s)
{
	return (const char *)buf + s.off;
}

/* The value of hex digit c, or -1. */
int http_hexval(int c);

/* A span equal to s, ASCII case-insensitive. */
bool http_span_ieq(const uint8_t *buf, struct http_span sp, const char *s);

/* Index of the first field named name (case-insensitive) at or after
 * from, or -1. */
int http_field_find(const struct http_head *h, const uint8_t *buf, const char *name,
		    unsigned from);

/*
 * Whether the comma-separated list in the fields named name holds token
 * tok (case-insensitive; parameters after ';' ignored).
 */
bool http_list_has(const struct http_head *h, const uint8_t *buf, const char *name,
		   const char *tok);

/* ------------------------------------------------------------ builders */

/*
 * A whole response carrying a Kubernetes Status object (kind Status,
 * apiVersion v1, status Failure) with code and reason (e.g. 403
 * "Forbidden", 400 "BadRequest"), which kubectl prints as
 * "Error from server (REASON): MESSAGE". close adds "Connection: close".
 * Written to out[0..cap); *len is its size. 0, -EINVAL (a code outside
 * 400..599, a reason that is not a token), -ENOSPC, -ENOMEM.
 */
int http_k8s_status(int code, const char *reason, const char *message, bool close, uint8_t *out,
		    size_t cap, size_t *len);

/* The 403 for a policy refusal: the message names the rule. */
int http_k8s_forbidden(const char *rule, const char *what, uint8_t *out, size_t cap,
		       size_t *len);

/*
 * What goes upstream in place of what the agent sent: every Authorization
 * and every Impersonate-* field the agent sent is dropped (the module
 * decides before whether policy let it impersonate, and puts the result
 * here); bearer NULL means none (the proxy authenticates with a client
 * certificate). user NULL: no impersonation at all. extra: pairs
 * Impersonate-Extra-KEY: VALUE (the session id among them), KEY a token.
 */
struct http_extra {
	const char *key;
	const char *value;
};

struct http_rewrite {
	const char *bearer;		/* the held token, or NULL */
	const char *user;		/* Impersonate-User, or NULL */
	const char *const *groups;	/* Impersonate-Group, one field each */
	unsigned n_groups;
	const struct http_extra *extra;
	unsigned n_extra;
};

/*
 * The request head h (parsed from buf) rewritten by rw into out[0..cap),
 * *len its size; the body is not part of it. Values must be printable
 * ASCII or UTF-8 without control bytes (a user name from a token could
 * carry CR LF): -EINVAL otherwise, -ENOSPC when out is too small.
 */
int http_rewrite_request(const struct http_head *h, const uint8_t *buf,
			 const struct http_rewrite *rw, uint8_t *out, size_t cap, size_t *len);

#endif /* SLUICE_HTTP_H */
