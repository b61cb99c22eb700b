// SPDX-License-Identifier: BSD-2-Clause
/*
 * HTTP/1.1 framing (http.h). The head is found by a linear scan that
 * remembers where it stopped and refuses a bare CR or LF as soon as it
 * sees one, then parsed in one pass; the body is a byte-driven state
 * machine that keeps numbers only, never bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "proto/http.h"

/* at most this many empty lines before a request line (RFC 9112 §2.2) */
#define LEADING_EMPTY_MAX	8

enum {
	B_NONE,
	B_LENGTH,
	B_CLOSE,
	B_SIZE,		/* chunk size digits */
	B_EXT,		/* after the digits: BWS, extensions, CR */
	B_SIZE_LF,
	B_DATA,
	B_DATA_CR,
	B_DATA_LF,
	B_TRAILER,	/* at the start of a trailer line */
	B_TRAILER_NAME,
	B_TRAILER_VALUE,
	B_TRAILER_LF,
	B_END_LF,
	B_DONE,
	B_ERROR,
};

void http_parser_init(struct http_parser *p, enum http_kind kind, unsigned opts)
{
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->opts = opts;
	p->bstate = B_NONE;
}

static int fail(struct http_parser *p, int err, uint16_t status, const char *why)
{
	p->status = status;
	p->why = why;
	p->bstate = B_ERROR;
	return err;
}

/* RFC 9110 §5.6.2 tchar */
static bool is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

/* field-vchar, SP or HTAB: what a field value and a reason may hold */
static bool is_text(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static struct http_span span(size_t off, size_t len)
{
	return (struct http_span){ .off = (uint32_t)off, .len = (uint32_t)len };
}

bool http_span_ieq(const uint8_t *buf, struct http_span sp, const char *s)
{
	return strlen(s) == sp.len && !strncasecmp(http_at(buf, sp), s, sp.len);
}

int http_field_find(const struct http_head *h, const uint8_t *buf, const char *name,
		    unsigned from)
{
	for (unsigned i = from; i < h->n_fields; i++)
		if (http_span_ieq(buf, h->fields[i].name, name))
			return (int)i;
	return -1;
}

/*
 * Element i of the comma-separated list in value (OWS trimmed, empty
 * elements skipped, ';' parameters cut when cut_params): *el. Returns the
 * position to go on from, or 0 at the end.
 */
static size_t list_next(const char *v, size_t len, size_t pos, bool cut_params, const char **el,
			size_t *el_len)
{
	while (pos < len) {
		size_t b = pos, e;

		while (pos < len && v[pos] != ',')
			pos++;
		e = pos;
		if (pos < len)
			pos++;
		if (cut_params) {
			const char *semi = memchr(v + b, ';', e - b);

			if (semi)
				e = (size_t)(semi - v);
		}
		while (b < e && is_ows((uint8_t)v[b]))
			b++;
		while (e > b && is_ows((uint8_t)v[e - 1]))
			e--;
		if (e > b) {
			*el = v + b;
			*el_len = e - b;
			return pos ? pos : len;
		}
	}
	return 0;
}

bool http_list_has(const struct http_head *h, const uint8_t *buf, const char *name,
		   const char *tok)
{
	size_t tl = strlen(tok);

	for (int i = http_field_find(h, buf, name, 0); i >= 0;
	     i = http_field_find(h, buf, name, (unsigned)i + 1)) {
		const char *v = http_at(buf, h->fields[i].value), *el;
		size_t len = h->fields[i].value.len, pos = 0, el_len;

		while ((pos = list_next(v, len, pos, true, &el, &el_len)))
			if (el_len == tl && !strncasecmp(el, tok, tl))
				return true;
	}
	return false;
}

/* ------------------------------------------------------------ the head */

/* "HTTP/1.x" at p: 0 with *minor, -ENOTSUP another version, -EBADMSG */
static int version(const uint8_t *p, size_t n, uint8_t *minor)
{
	if (n != 8 || memcmp(p, "HTTP/", 5) || p[6] != '.' || p[5] < '0' || p[5] > '9' ||
	    p[7] < '0' || p[7] > '9')
		return -EBADMSG;
	if (p[5] != '1' || p[7] > '1')
		return -ENOTSUP;
	*minor = (uint8_t)(p[7] - '0');
	return 0;
}

static int request_line(struct http_parser *p, const uint8_t *b, size_t i, size_t eol,
			struct http_head *h)
{
	size_t m = i, t, v;
	int rc;

	while (m < eol && is_tchar(b[m]))
		m++;
	if (m == i || m == eol || b[m] != ' ')
		return fail(p, -EBADMSG, 400, "bad request method");
	h->method = span(i, m - i);
	t = m + 1;
	v = t;
	while (v < eol && b[v] > 0x20 && b[v] < 0x7f)
		v++;
	if (v == t || v == eol || b[v] != ' ')
		return fail(p, -EBADMSG, 400, "bad request target");
	h->target = span(t, v - t);
	rc = version(b + v + 1, eol - v - 1, &h->minor);
	if (rc == -ENOTSUP)
		return fail(p, rc, 505, "HTTP version not supported");
	if (rc)
		return fail(p, rc, 400, "bad HTTP version");
	if (http_span_ieq(b, h->method, "CONNECT"))
		return fail(p, -ENOTSUP, 501, "CONNECT not supported");
	if (b[t] == '/')
		return 0;
	if (h->target.len == 1 && b[t] == '*' && http_span_ieq(b, h->method, "OPTIONS"))
		return 0;
	return fail(p, -ENOTSUP, 501, "only origin-form request targets");
}

static int status_line(struct http_parser *p, const uint8_t *b, size_t i, size_t eol,
		       struct http_head *h)
{
	size_t r;
	int rc;

	if (eol - i < 12 || b[i + 8] != ' ')
		return fail(p, -EBADMSG, 400, "bad status line");
	rc = version(b + i, 8, &h->minor);
	if (rc)
		return fail(p, rc == -ENOTSUP ? rc : -EBADMSG, rc == -ENOTSUP ? 505 : 400,
			    "bad HTTP version");
	for (int k = 9; k < 12; k++) {
		if (b[i + k] < '0' || b[i + k] > '9')
			return fail(p, -EBADMSG, 400, "bad status code");
		h->status = (uint16_t)(h->status * 10 + (b[i + k] - '0'));
	}
	if (h->status < 100)
		return fail(p, -EBADMSG, 400, "bad status code");
	r = i + 12;
	if (r < eol && b[r++] != ' ')
		return fail(p, -EBADMSG, 400, "bad status line");
	for (size_t k = r; k < eol; k++)
		if (!is_text(b[k]))
			return fail(p, -EBADMSG, 400, "bad reason phrase");
	h->reason = span(r, eol - r);
	return 0;
}

static int field_line(struct http_parser *p, const uint8_t *b, size_t i, size_t eol,
		      struct http_head *h)
{
	size_t c = i, vb, ve;

	if (is_ows(b[i]))
		return fail(p, -EBADMSG, 400, "obsolete line folding");
	while (c < eol && is_tchar(b[c]))
		c++;
	if (c == i || c == eol || b[c] != ':')
		return fail(p, -EBADMSG, 400, "bad header field name");
	vb = c + 1;
	while (vb < eol && is_ows(b[vb]))
		vb++;
	ve = eol;
	while (ve > vb && is_ows(b[ve - 1]))
		ve--;
	for (size_t k = vb; k < ve; k++)
		if (!is_text(b[k]))
			return fail(p, -EBADMSG, 400, "bad header field value");
	if (h->n_fields == HTTP_MAX_HEADERS)
		return fail(p, -EMSGSIZE, 431, "too many header fields");
	h->fields[h->n_fields].name = span(i, c - i);
	h->fields[h->n_fields].value = span(vb, ve - vb);
	h->n_fields++;
	return 0;
}

/* Content-Length fields: all their values the same plain decimal. */
static int content_length(struct http_parser *p, const uint8_t *b, struct http_head *h,
			  bool *has)
{
	uint64_t seen = 0;

	*has = false;
	for (int i = http_field_find(h, b, "Content-Length", 0); i >= 0;
	     i = http_field_find(h, b, "Content-Length", (unsigned)i + 1)) {
		const char *v = http_at(b, h->fields[i].value), *el;
		size_t len = h->fields[i].value.len, pos = 0, el_len;
		bool any = false;

		while ((pos = list_next(v, len, pos, false, &el, &el_len))) {
			uint64_t n = 0;

			if (el_len > 19)
				return fail(p, -EBADMSG, 400, "Content-Length too large");
			for (size_t k = 0; k < el_len; k++) {
				if (el[k] < '0' || el[k] > '9')
					return fail(p, -EBADMSG, 400, "bad Content-Length");
				n = n * 10 + (uint64_t)(el[k] - '0');
			}
			if (n > HTTP_MAX_LENGTH)
				return fail(p, -EBADMSG, 400, "Content-Length too large");
			if (*has && n != seen)
				return fail(p, -EBADMSG, 400, "conflicting Content-Length");
			seen = n;
			*has = true;
			any = true;
		}
		if (!any)
			return fail(p, -EBADMSG, 400, "bad Content-Length");
	}
	h->content_length = seen;
	return 0;
}

/* Transfer-Encoding fields: exactly one coding, chunked. */
static int transfer_encoding(struct http_parser *p, const uint8_t *b, struct http_head *h,
			     bool *chunked)
{
	unsigned n = 0;
	bool last_chunked = false;

	*chunked = false;
	for (int i = http_field_find(h, b, "Transfer-Encoding", 0); i >= 0;
	     i = http_field_find(h, b, "Transfer-Encoding", (unsigned)i + 1)) {
		const char *v = http_at(b, h->fields[i].value), *el;
		size_t len = h->fields[i].value.len, pos = 0, el_len;

		if (!len)
			return fail(p, -EBADMSG, 400, "empty Transfer-Encoding");
		while ((pos = list_next(v, len, pos, false, &el, &el_len))) {
			n++;
			last_chunked = el_len == 7 && !strncasecmp(el, "chunked", 7);
		}
	}
	if (!n)
		return 0;
	if (h->minor == 0)
		return fail(p, -EBADMSG, 400, "Transfer-Encoding in HTTP/1.0");
	if (n != 1 || !last_chunked)
		return fail(p, -ENOTSUP, 501, "transfer coding not supported");
	*chunked = true;
	return 0;
}

/* What follows the head and how the connection goes on. */
static int semantics(struct http_parser *p, const uint8_t *b, struct http_head *h)
{
	bool has_len, chunked;
	int rc, up;

	rc = content_length(p, b, h, &has_len);
	if (!rc)
		rc = transfer_encoding(p, b, h, &chunked);
	if (rc)
		return rc;
	if (has_len && chunked)
		return fail(p, -EBADMSG, 400, "both Content-Length and Transfer-Encoding");
	if (h->minor == 0 ? !http_list_has(h, b, "Connection", "keep-alive")
			  : http_list_has(h, b, "Connection", "close"))
		h->flags |= HTTP_H_CLOSE;
	up = http_field_find(h, b, "Upgrade", 0);
	if (up >= 0)
		h->upgrade = h->fields[up].value;
	h->body = chunked ? HTTP_BODY_CHUNKED : has_len ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
	if (h->kind == HTTP_REQUEST) {
		int host = http_field_find(h, b, "Host", 0);

		if (h->minor == 1 && (host < 0 || http_field_find(h, b, "Host", (unsigned)host + 1) >= 0))
			return fail(p, -EBADMSG, 400, "not exactly one Host");
		if (up >= 0 && http_list_has(h, b, "Connection", "upgrade"))
			h->flags |= HTTP_H_UPGRADE;
		if (http_list_has(h, b, "Expect", "100-continue"))
			h->flags |= HTTP_H_EXPECT_CONTINUE;
	} else if (h->status < 200) {
		h->flags |= h->status == 101 ? HTTP_H_UPGRADE : HTTP_H_INTERIM;
		h->body = HTTP_BODY_NONE;
	} else if ((p->opts & HTTP_P_HEAD_REQUEST) || h->status == 204 || h->status == 304) {
		h->body = HTTP_BODY_NONE;
	} else if (!chunked && !has_len) {
		h->body = HTTP_BODY_CLOSE;
		h->flags |= HTTP_H_CLOSE;
	}
	if (h->body == HTTP_BODY_LENGTH && !h->content_length)
		h->body = HTTP_BODY_NONE;
	p->body = h->body;
	p->left = h->content_length;
	p->bstate = h->body == HTTP_BODY_LENGTH	   ? B_LENGTH
		    : h->body == HTTP_BODY_CHUNKED ? B_SIZE
		    : h->body == HTTP_BODY_CLOSE   ? B_CLOSE
						   : B_DONE;
	return 0;
}

/* Where the head ends (after CRLF CRLF), or 0; refuses a bare CR or LF. */
static int find_end(struct http_parser *p, const uint8_t *b, size_t len, size_t start,
		    size_t *end)
{
	size_t lim = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
	size_t i = p->scanned > start ? p->scanned : start;

	*end = 0;
	for (; i < lim; i++) {
		if (b[i] == '\n') {
			if (i == 0 || b[i - 1] != '\r')
				return fail(p, -EBADMSG, 400, "bare LF");
			if (i >= start + 3 && b[i - 2] == '\n') {
				*end = i + 1;
				return 0;
			}
		} else if (i > 0 && b[i - 1] == '\r') {
			return fail(p, -EBADMSG, 400, "bare CR");
		} else if (!b[i]) {
			return fail(p, -EBADMSG, 400, "NUL in head");
		}
	}
	p->scanned = i;
	if (lim == HTTP_MAX_HEAD)
		return fail(p, -EMSGSIZE, 431, "head too large");
	return 0;
}

int http_parse_head(struct http_parser *p, const uint8_t *buf, size_t len, struct http_head *h)
{
	size_t start = 0, end, i, eol;
	int rc;

	if (p->bstate == B_ERROR)
		return -EBADMSG;
	/* a request may follow empty lines; a response may not */
	while (p->kind == HTTP_REQUEST && start + 1 < len && buf[start] == '\r' &&
	       buf[start + 1] == '\n') {
		if (start / 2 == LEADING_EMPTY_MAX)
			return fail(p, -EBADMSG, 400, "too many empty lines");
		start += 2;
	}
	if (start == len || (start + 1 == len && buf[start] == '\r'))
		return -EAGAIN;
	if (buf[start] == '\r' || buf[start] == '\n')
		return fail(p, -EBADMSG, 400, "empty start line");
	rc = find_end(p, buf, len, start, &end);
	if (rc)
		return rc;
	if (!end)
		return -EAGAIN;
	memset(h, 0, sizeof(*h));
	h->kind = p->kind;
	h->start = start;
	h->size = end;
	eol = (size_t)((const uint8_t *)memchr(buf + start, '\r', end - start) - buf);
	rc = p->kind == HTTP_REQUEST ? request_line(p, buf, start, eol, h)
				     : status_line(p, buf, start, eol, h);
	for (i = eol + 2; !rc && i < end - 2; i = eol + 2) {
		eol = (size_t)((const uint8_t *)memchr(buf + i, '\r', end - i) - buf);
		rc = field_line(p, buf, i, eol, h);
	}
	return rc ? rc : semantics(p, buf, h);
}

/* ------------------------------------------------------------ the body */

int http_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* One framing byte of a chunked body; 1 when the message ends. */
static int chunk_byte(struct http_parser *p, uint8_t c)
{
	int d;

	if (p->bstate >= B_SIZE && p->bstate <= B_SIZE_LF && ++p->line > HTTP_MAX_CHUNK_LINE)
		return fail(p, -EMSGSIZE, 400, "chunk line too long");
	if (p->bstate >= B_TRAILER && p->bstate <= B_END_LF && ++p->trailer > HTTP_MAX_TRAILERS)
		return fail(p, -EMSGSIZE, 400, "trailers too large");
	switch (p->bstate) {
	case B_SIZE:
		d = http_hexval(c);
		if (d >= 0) {
			if (++p->ndigits > 16)
				return fail(p, -EBADMSG, 400, "chunk size too long");
			p->left = p->left * 16 + (uint64_t)d;
			if (p->left > HTTP_MAX_CHUNK)
				return fail(p, -EBADMSG, 400, "chunk too large");
			return 0;
		}
		if (!p->ndigits)
			return fail(p, -EBADMSG, 400, "bad chunk size");
		p->bstate = B_EXT;
		/* fall through */
	case B_EXT:
		if (c == '\r')
			p->bstate = B_SIZE_LF;
		else if (c == ';')
			p->ndigits = 0xff;	/* inside extensions */
		else if (p->ndigits != 0xff && !is_ows(c))
			return fail(p, -EBADMSG, 400, "bad chunk size");
		else if (!is_text(c))
			return fail(p, -EBADMSG, 400, "bad chunk extension");
		return 0;
	case B_SIZE_LF:
		if (c != '\n')
			return fail(p, -EBADMSG, 400, "bad chunk line end");
		p->line = 0;
		p->ndigits = 0;
		p->bstate = p->left ? B_DATA : B_TRAILER;
		return 0;
	case B_DATA_CR:
		if (c != '\r')
			return fail(p, -EBADMSG, 400, "no CRLF after chunk data");
		p->bstate = B_DATA_LF;
		return 0;
	case B_DATA_LF:
		if (c != '\n')
			return fail(p, -EBADMSG, 400, "no CRLF after chunk data");
		p->bstate = B_SIZE;
		return 0;
	case B_TRAILER:
		if (c == '\r') {
			p->bstate = B_END_LF;
			return 0;
		}
		if (!is_tchar(c))
			return fail(p, -EBADMSG, 400, "bad trailer field");
		p->bstate = B_TRAILER_NAME;
		return 0;
	case B_TRAILER_NAME:
		if (c == ':')
			p->bstate = B_TRAILER_VALUE;
		else if (!is_tchar(c))
			return fail(p, -EBADMSG, 400, "bad trailer field");
		return 0;
	case B_TRAILER_VALUE:
		if (c == '\r')
			p->bstate = B_TRAILER_LF;
		else if (!is_text(c))
			return fail(p, -EBADMSG, 400, "bad trailer field");
		return 0;
	case B_TRAILER_LF:
		if (c != '\n')
			return fail(p, -EBADMSG, 400, "bad trailer line end");
		p->bstate = B_TRAILER;
		return 0;
	case B_END_LF:
		if (c != '\n')
			return fail(p, -EBADMSG, 400, "bad chunked body end");
		p->bstate = B_DONE;
		return 1;
	}
	return fail(p, -EBADMSG, 400, "bad body state");
}

int http_body(struct http_parser *p, const uint8_t *in, size_t len, size_t *used,
	      struct http_span *data)
{
	size_t i = 0, n;
	int rc = 0;

	*used = 0;
	*data = span(0, 0);
	if (p->bstate == B_ERROR)
		return p->why ? -EBADMSG : -EINVAL;
	if (p->bstate == B_NONE)
		return fail(p, -EINVAL, 400, "no head parsed");
	if (p->bstate == B_DONE)
		return 1;
	if (len > UINT32_MAX)
		len = UINT32_MAX;	/* spans are 32-bit: the caller comes back */
	if (p->bstate == B_CLOSE) {
		*data = span(0, len);
		*used = len;
		return 0;
	}
	while (i < len) {
		if (p->bstate == B_LENGTH || p->bstate == B_DATA) {
			n = len - i < p->left ? len - i : (size_t)p->left;
			*data = span(i, n);
			i += n;
			p->left -= n;
			if (!p->left && p->bstate == B_LENGTH) {
				p->bstate = B_DONE;
				rc = 1;
			} else if (!p->left) {
				p->bstate = B_DATA_CR;
			}
			break;
		}
		rc = chunk_byte(p, in[i++]);
		if (rc)
			break;
	}
	*used = i;
	return rc;
}

/* ------------------------------------------------------------ builders */

/* The text as a JSON string; bytes that are not UTF-8 become '?'. */
static json_t *json_text(const char *s)
{
	json_t *v = json_string(s);
	char *copy;

	if (v)
		return v;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *c = copy; *c; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

int http_k8s_status(int code, const char *reason, const char *message, bool close, uint8_t *out,
		    size_t cap, size_t *len)
{
	json_t *o = NULL;
	char *body = NULL;
	size_t blen;
	int n, rc = -ENOMEM;

	*len = 0;
	if (code < 400 || code > 599 || !reason || !*reason || !message)
		return -EINVAL;
	for (const char *c = reason; *c; c++)
		if (!is_tchar((uint8_t)*c))
			return -EINVAL;
	o = json_pack("{s:s, s:s, s:{}, s:s, s:o, s:s, s:i}", "kind", "Status", "apiVersion",
		      "v1", "metadata", "status", "Failure", "message", json_text(message),
		      "reason", reason, "code", code);
	body = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (!body)
		goto out;
	blen = strlen(body);
	/* the reason phrase is the status's own word, not an HTTP one, which
	 * kubectl does not show anyway */
	n = snprintf((char *)out, cap,
		     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
		     "Cache-Control: no-cache, private\r\nContent-Length: %zu\r\n%s\r\n",
		     code, reason, blen, close ? "Connection: close\r\n" : "");
	rc = -ENOSPC;
	if (n < 0 || (size_t)n >= cap || blen > cap - (size_t)n)
		goto out;
	memcpy(out + n, body, blen);
	*len = (size_t)n + blen;
	rc = 0;
out:
	free(body);
	json_decref(o);
	return rc;
}

int http_k8s_forbidden(const char *rule, const char *what, uint8_t *out, size_t cap,
		       size_t *len)
{
	char msg[1024];

	if (!rule)
		return -EINVAL;
	snprintf(msg, sizeof(msg), "%s%sdenied by sluice policy rule \"%s\"", what ? what : "",
		 what ? ": " : "", rule);
	return http_k8s_status(403, "Forbidden", msg, false, out, cap, len);
}

struct wr {
	uint8_t *out;
	size_t cap, len;
	int err;
};

static void put(struct wr *w, const void *p, size_t n)
{
	if (w->err)
		return;
	if (n > w->cap - w->len) {
		w->err = -ENOSPC;
		return;
	}
	memcpy(w->out + w->len, p, n);
	w->len += n;
}

static void puts_(struct wr *w, const char *s)
{
	put(w, s, strlen(s));
}

/* A value we put in a header: no control bytes, not empty. */
static bool value_ok(const char *s)
{
	if (!s || !*s || is_ows((uint8_t)s[0]) || is_ows((uint8_t)s[strlen(s) - 1]))
		return false;
	for (; *s; s++)
		if (!is_text((uint8_t)*s) || *s == '\t')
			return false;
	return true;
}

static void field(struct wr *w, const char *name, const char *key, const char *value)
{
	puts_(w, name);
	if (key)
		puts_(w, key);
	puts_(w, ": ");
	puts_(w, value);
	puts_(w, "\r\n");
}

static int rewrite_check(const struct http_rewrite *rw)
{
	if (rw->bearer && !value_ok(rw->bearer))
		return -EINVAL;
	if (!rw->user && (rw->n_groups || rw->n_extra))
		return -EINVAL;
	if (rw->user && !value_ok(rw->user))
		return -EINVAL;
	for (unsigned i = 0; i < rw->n_groups; i++)
		if (!value_ok(rw->groups[i]))
			return -EINVAL;
	for (unsigned i = 0; i < rw->n_extra; i++) {
		const char *k = rw->extra[i].key;

		if (!k || !*k || !value_ok(rw->extra[i].value))
			return -EINVAL;
		for (; *k; k++)
			if (!is_tchar((uint8_t)*k))
				return -EINVAL;
	}
	return 0;
}

int http_rewrite_request(const struct http_head *h, const uint8_t *buf,
			 const struct http_rewrite *rw, uint8_t *out, size_t cap, size_t *len)
{
	struct wr w = { .out = out, .cap = cap };
	size_t line_end;
	int rc;

	*len = 0;
	if (h->kind != HTTP_REQUEST)
		return -EINVAL;
	rc = rewrite_check(rw);
	if (rc)
		return rc;
	line_end = (size_t)((const uint8_t *)memchr(buf + h->start, '\r', h->size - h->start) - buf);
	put(&w, buf + h->start, line_end + 2 - h->start);
	for (unsigned i = 0; i < h->n_fields; i++) {
		const struct http_field *f = &h->fields[i];

		if (http_span_ieq(buf, f->name, "Authorization") ||
		    (f->name.len >= 12 && !strncasecmp(http_at(buf, f->name), "Impersonate-", 12)))
			continue;
		put(&w, buf + f->name.off, f->name.len);
		puts_(&w, ": ");
		put(&w, buf + f->value.off, f->value.len);
		puts_(&w, "\r\n");
	}
	if (rw->bearer) {
		puts_(&w, "Authorization: Bearer ");
		puts_(&w, rw->bearer);
		puts_(&w, "\r\n");
	}
	if (rw->user)
		field(&w, "Impersonate-User", NULL, rw->user);
	for (unsigned i = 0; i < rw->n_groups; i++)
		field(&w, "Impersonate-Group", NULL, rw->groups[i]);
	for (unsigned i = 0; i < rw->n_extra; i++)
		field(&w, "Impersonate-Extra-", rw->extra[i].key, rw->extra[i].value);
	puts_(&w, "\r\n");
	if (w.err)
		return w.err;
	*len = w.len;
	return 0;
}
