// SPDX-License-Identifier: BSD-2-Clause
/*
 * exec / attach / port-forward stream decoders (kstream.h): WebSocket
 * frames with the Kubernetes channel byte, SPDY/3.1 frames with their
 * zlib-compressed header blocks (zlib, with the dictionary SPDY/3 fixes).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "proto/kstream.h"

static const char *const channel_names[] = { "stdin", "stdout", "stderr",
					     "error", "resize", "other" };

const char *ks_channel_name(enum ks_channel c)
{
	return (unsigned)c <= KS_OTHER ? channel_names[c] : "other";
}

json_t *ks_event_json(const struct ks_event *ev)
{
	json_t *o = NULL;
	char *b64;

	if (ev->type == KS_EV_RESIZE)
		return json_pack("{s:s, s:s, s:i, s:i}", "type", "exec", "channel", "resize",
				 "width", (int)ev->width, "height", (int)ev->height);
	if (ev->type != KS_EV_DATA || ev->len > INT32_MAX / 2)
		return NULL;
	b64 = malloc(4 * ((ev->len + 2) / 3) + 1);
	if (!b64) {
		errno = ENOMEM;
		return NULL;
	}
	EVP_EncodeBlock((unsigned char *)b64, ev->data, (int)ev->len);
	o = json_pack("{s:s, s:s, s:s}", "type", "exec", "channel", ks_channel_name(ev->channel),
		      "data", b64);
	if (o && ev->stream && json_object_set_new(o, "stream", json_integer(ev->stream))) {
		json_decref(o);
		o = NULL;
	}
	free(b64);
	if (!o)
		errno = ENOMEM;
	return o;
}

/*
 * A resize message: {"Width": W, "Height": H} (what client-go sends; the
 * keys are matched without case, as Go's decoder does).
 */
static int resize_parse(const uint8_t *p, size_t n, struct ks_event *ev)
{
	json_t *o = json_loadb((const char *)p, n, 0, NULL);
	json_int_t w = -1, h = -1;
	const char *k;
	json_t *v;
	int rc = -EBADMSG;

	if (!json_is_object(o))
		goto out;
	json_object_foreach(o, k, v) {
		if (!strcasecmp(k, "width") && json_is_integer(v))
			w = json_integer_value(v);
		else if (!strcasecmp(k, "height") && json_is_integer(v))
			h = json_integer_value(v);
	}
	if (w < 0 || h < 0 || w > UINT16_MAX || h > UINT16_MAX)
		goto out;
	memset(ev, 0, sizeof(*ev));
	ev->type = KS_EV_RESIZE;
	ev->channel = KS_RESIZE;
	ev->width = (uint16_t)w;
	ev->height = (uint16_t)h;
	rc = 1;
out:
	json_decref(o);
	return rc;
}

/* ------------------------------------------------------------ WebSocket */

enum { WS_HDR, WS_PAYLOAD, WS_FAILED };

enum { OP_CONT = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };

#define V5_CLOSE_CHANNEL	255

int ks_ws_protocol(const char *tok, size_t len)
{
	static const char base[] = "channel.k8s.io";
	size_t bl = sizeof(base) - 1;

	if (len == bl && !memcmp(tok, base, bl))
		return 1;
	if (len == bl + 3 && tok[0] == 'v' && tok[1] >= '2' && tok[1] <= '5' && tok[2] == '.' &&
	    !memcmp(tok + 3, base, bl))
		return tok[1] - '0';
	return -ENOTSUP;
}

void ks_ws_init(struct ks_ws *ws, enum ks_dir from, int version, uint64_t max_frame)
{
	memset(ws, 0, sizeof(*ws));
	ws->from = from;
	ws->version = version;
	ws->max_frame = max_frame ? max_frame : KS_WS_MAX_FRAME_DEFAULT;
	ws->channel = -1;
}

static int ws_fail(struct ks_ws *ws, int err)
{
	ws->state = WS_FAILED;
	return err;
}

static size_t ws_hdr_need(const struct ks_ws *ws)
{
	size_t n = 2;

	if (ws->nhdr < 2)
		return 2;
	if ((ws->hdr[1] & 0x7f) == 126)
		n += 2;
	else if ((ws->hdr[1] & 0x7f) == 127)
		n += 8;
	return n + (ws->hdr[1] & 0x80 ? 4 : 0);
}

/* The header is whole: check it and start the payload. */
static int ws_header(struct ks_ws *ws)
{
	uint8_t b0 = ws->hdr[0], b1 = ws->hdr[1], len7 = b1 & 0x7f;
	bool masked = b1 & 0x80;
	uint64_t len = len7;
	size_t at = 2;

	ws->fin = b0 & 0x80;
	ws->opcode = b0 & 0x0f;
	if (b0 & 0x70)
		return -EBADMSG;	/* no extension was negotiated */
	if (masked != (ws->from == KS_FROM_CLIENT))
		return -EBADMSG;
	if (len7 == 126) {
		len = (uint64_t)ws->hdr[2] << 8 | ws->hdr[3];
		if (len < 126)
			return -EBADMSG;
		at = 4;
	} else if (len7 == 127) {
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | ws->hdr[2 + i];
		if (len >> 63 || len <= 0xffff)
			return -EBADMSG;
		at = 10;
	}
	if (masked)
		memcpy(ws->mask, ws->hdr + at, 4);
	if (ws->closed)
		return -EPROTO;
	switch (ws->opcode) {
	case OP_CLOSE:
	case OP_PING:
	case OP_PONG:
		if (!ws->fin || len > 125)
			return -EBADMSG;
		ws->nctl = 0;
		break;
	case OP_CONT:
		if (!ws->in_message)
			return -EBADMSG;
		break;
	case OP_TEXT:
	case OP_BINARY:
		if (ws->in_message)
			return -EBADMSG;
		ws->in_message = true;
		ws->channel = -1;
		ws->v5_close = false;
		ws->nresize = 0;
		break;
	default:
		return -EBADMSG;
	}
	if (len > ws->max_frame)
		return -EMSGSIZE;
	ws->left = len;
	ws->off = 0;
	ws->state = WS_PAYLOAD;
	return 0;
}

/* The frame's payload is all in: 1 with an event, 0, or -errno. */
static int ws_frame_end(struct ks_ws *ws, struct ks_event *ev)
{
	int rc = 0;

	ws->state = WS_HDR;
	ws->nhdr = 0;
	if (ws->opcode == OP_CLOSE) {
		uint16_t code = 0;

		if (ws->nctl == 1)
			return -EBADMSG;
		if (ws->nctl >= 2) {
			code = (uint16_t)(ws->ctl[0] << 8 | ws->ctl[1]);
			if (code < 1000 || (code > 1003 && code < 1007) ||
			    (code > 1014 && code < 3000) || code > 4999)
				return -EBADMSG;
		}
		ws->closed = true;
		memset(ev, 0, sizeof(*ev));
		ev->type = KS_EV_END;
		ev->code = code;
		return 1;
	}
	if (ws->opcode == OP_PING || ws->opcode == OP_PONG || !ws->fin)
		return 0;
	ws->in_message = false;
	if (ws->channel == KS_RESIZE)
		rc = resize_parse(ws->resize, ws->nresize, ev);
	else if (ws->v5_close && ws->channel == V5_CLOSE_CHANNEL)
		rc = -EBADMSG;	/* a close message naming no channel */
	ws->channel = -1;
	return rc;
}

/* A channel byte: -1 if the version has no such channel. */
static int ws_channel(const struct ks_ws *ws, uint8_t c, bool closing)
{
	if (c <= KS_ERROR || (c == KS_RESIZE && ws->version >= 4))
		return c;
	if (c == V5_CLOSE_CHANNEL && ws->version >= 5 && !closing)
		return c;
	return -1;
}

/* Payload bytes p[0..n) (unmasked) of a data frame: 1 with an event. */
static int ws_data(struct ks_ws *ws, const uint8_t *p, size_t n, struct ks_event *ev)
{
	if (!n)
		return 0;
	if (ws->channel < 0) {
		ws->channel = ws_channel(ws, p[0], false);
		if (ws->channel < 0)
			return -EPROTO;
		ws->v5_close = ws->channel == V5_CLOSE_CHANNEL;
		p++;
		n--;
		if (!n)
			return 0;
	}
	if (ws->v5_close) {
		int c = ws->channel == V5_CLOSE_CHANNEL ? ws_channel(ws, p[0], true) : 0;

		if (ws->channel != V5_CLOSE_CHANNEL)
			return 0;	/* bytes after the channel closed: nothing */
		if (c < 0)
			return -EPROTO;
		ws->channel = c;
		memset(ev, 0, sizeof(*ev));
		ev->type = KS_EV_CLOSE;
		ev->channel = (enum ks_channel)c;
		return 1;
	}
	if (ws->channel == KS_RESIZE) {
		if (n > sizeof(ws->resize) - ws->nresize)
			return -EMSGSIZE;
		memcpy(ws->resize + ws->nresize, p, n);
		ws->nresize = (uint16_t)(ws->nresize + n);
		return 0;
	}
	memset(ev, 0, sizeof(*ev));
	ev->type = KS_EV_DATA;
	ev->channel = (enum ks_channel)ws->channel;
	ev->data = p;
	ev->len = n;
	return 1;
}

int ks_ws_feed(struct ks_ws *ws, const uint8_t *in, size_t len, size_t *used,
	       struct ks_event *ev)
{
	size_t i = 0;
	int rc = 0;

	*used = 0;
	if (ws->state == WS_FAILED)
		return -EBADMSG;
	while (!rc) {
		if (ws->state == WS_HDR) {
			if (i == len)
				break;
			ws->hdr[ws->nhdr++] = in[i++];
			if (ws->nhdr < ws_hdr_need(ws))
				continue;
			rc = ws_header(ws);
			if (!rc && !ws->left)
				rc = ws_frame_end(ws, ev);
			continue;
		}
		/* payload */
		size_t n = len - i < ws->left ? len - i : (size_t)ws->left;
		const uint8_t *p = in + i;
		bool ctl = ws->opcode >= OP_CLOSE;

		if (!n)
			break;
		if (ws->from == KS_FROM_CLIENT) {
			uint8_t *dst = ctl ? ws->ctl + ws->nctl : ws->scratch;

			if (!ctl && n > sizeof(ws->scratch))
				n = sizeof(ws->scratch);
			for (size_t k = 0; k < n; k++)
				dst[k] = p[k] ^ ws->mask[(ws->off + k) & 3];
			p = dst;
		} else if (ctl) {
			memcpy(ws->ctl + ws->nctl, p, n);
		}
		i += n;
		ws->off += n;
		ws->left -= n;
		if (ctl)
			ws->nctl = (uint8_t)(ws->nctl + n);
		else
			rc = ws_data(ws, p, n, ev);
		if (rc >= 0 && !ws->left) {
			int end = ws_frame_end(ws, ev);

			if (end)
				rc = end;
		}
	}
	*used = i;
	if (rc < 0)
		return ws_fail(ws, rc);
	return rc;
}

/* ------------------------------------------------------------ SPDY/3.1 */

enum { SP_HDR, SP_CTRL, SP_DATA, SP_FAILED };

enum {
	SYN_STREAM = 1,
	SYN_REPLY = 2,
	RST_STREAM = 3,
	GOAWAY = 7,
	HEADERS = 8,
};

#define FLAG_FIN	0x01

struct sp_stream {
	uint32_t id;		/* 0: free */
	enum ks_channel ch;
	bool fin[2];		/* by direction */
	uint16_t nresize;
	uint8_t resize[KS_RESIZE_MAX];
};

struct sp_dir {
	int state;
	uint8_t hdr[8];
	uint8_t nhdr;
	uint16_t type;
	uint8_t flags;
	uint32_t len, got;	/* control frame: its length, bytes in ctrl */
	uint32_t left;		/* data frame: bytes left */
	struct sp_stream *st;	/* data frame: its stream */
	bool close_pending;	/* a FIN data frame ended: say so */
	uint8_t *ctrl;
	uint8_t *nv;
	z_stream z;
	bool z_ready;
};

struct ks_spdy {
	struct sp_dir dir[2];
	struct sp_stream streams[KS_SPDY_MAX_STREAMS];
};

/*
 * The SPDY/3 header compression dictionary (draft 3, §2.6.10.1): header
 * names and common values as 32-bit length-prefixed strings, then common
 * status lines, dates and media types. Built once from the lists below;
 * inflate() checks it against the Adler-32 the peer's stream names.
 */
static const char *const dict_words[] = {
	"options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
	"accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
	"cache-control", "connection", "content-base", "content-encoding", "content-language",
	"content-length", "content-location", "content-md5", "content-range", "content-type",
	"date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
	"if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
	"max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range",
	"referer", "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade",
	"user-agent", "vary", "via", "warning", "www-authenticate", "method", "get", "status",
	"200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin",
};

static const char *const dict_tail[] = {
	"100101201202205206300302303304305306307402405406407408409410411412413414415416417"
	"502504505",
	"203 Non-Authoritative Information", "204 No Content", "301 Moved Permanently",
	"400 Bad Request", "401 Unauthorized", "403 Forbidden", "404 Not Found",
	"500 Internal Server Error", "501 Not Implemented", "503 Service Unavailable",
	"Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 ",
	"Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
	"chunked,text/html,image/png,image/jpg,image/gif,application/xml,",
	"application/xhtml+xml,text/plain,text/javascript,public", "private", "max-age=",
	"gzip,deflate,sdch", "charset=utf-8", "charset=iso-8859-1,utf-,*,enq=0.",
};

#define DICT_LEN	1423

static uint8_t dict[DICT_LEN];
static size_t dict_len;
static pthread_once_t dict_once = PTHREAD_ONCE_INIT;

static void dict_build(void)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(dict_words) / sizeof(dict_words[0]); i++) {
		size_t l = strlen(dict_words[i]);

		if (n + 4 + l > sizeof(dict))
			return;
		dict[n++] = 0;
		dict[n++] = 0;
		dict[n++] = 0;
		dict[n++] = (uint8_t)l;
		memcpy(dict + n, dict_words[i], l);
		n += l;
	}
	for (size_t i = 0; i < sizeof(dict_tail) / sizeof(dict_tail[0]); i++) {
		size_t l = strlen(dict_tail[i]);

		if (n + l > sizeof(dict))
			return;
		memcpy(dict + n, dict_tail[i], l);
		n += l;
	}
	dict_len = n;
}

struct ks_spdy *ks_spdy_new(void)
{
	struct ks_spdy *s = calloc(1, sizeof(*s));

	pthread_once(&dict_once, dict_build);
	if (!s)
		return NULL;
	for (int d = 0; d < 2; d++) {
		s->dir[d].ctrl = malloc(KS_SPDY_MAX_CTRL);
		s->dir[d].nv = malloc(KS_SPDY_MAX_HEADERS);
		if (!s->dir[d].ctrl || !s->dir[d].nv) {
			ks_spdy_free(s);
			errno = ENOMEM;
			return NULL;
		}
	}
	return s;
}

void ks_spdy_free(struct ks_spdy *s)
{
	if (!s)
		return;
	for (int d = 0; d < 2; d++) {
		if (s->dir[d].z_ready)
			inflateEnd(&s->dir[d].z);
		free(s->dir[d].ctrl);
		free(s->dir[d].nv);
	}
	free(s);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static struct sp_stream *sp_find(struct ks_spdy *s, uint32_t id)
{
	for (int i = 0; i < KS_SPDY_MAX_STREAMS; i++)
		if (s->streams[i].id == id)
			return &s->streams[i];
	return NULL;
}

/*
 * Inflate one header block through this direction's zlib stream (one
 * context per direction for the whole connection, so every block must go
 * through it, even the ones we do not read). *out_len bytes in d->nv.
 */
static int sp_inflate(struct sp_dir *d, const uint8_t *p, size_t n, size_t *out_len)
{
	int rc;

	if (!d->z_ready) {
		memset(&d->z, 0, sizeof(d->z));
		if (inflateInit(&d->z) != Z_OK)
			return -ENOMEM;
		d->z_ready = true;
	}
	if (dict_len != DICT_LEN)
		return -EINVAL;
	d->z.next_in = (Bytef *)p;
	d->z.avail_in = (uInt)n;
	d->z.next_out = d->nv;
	d->z.avail_out = KS_SPDY_MAX_HEADERS;
	while (d->z.avail_in) {
		rc = inflate(&d->z, Z_SYNC_FLUSH);
		if (rc == Z_NEED_DICT) {
			if (inflateSetDictionary(&d->z, dict, (uInt)dict_len) != Z_OK)
				return -EBADMSG;
			continue;
		}
		if (!d->z.avail_out)
			return -EMSGSIZE;
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			return -EBADMSG;
		if (rc == Z_BUF_ERROR)
			break;
	}
	if (d->z.avail_in)
		return -EBADMSG;
	*out_len = KS_SPDY_MAX_HEADERS - d->z.avail_out;
	return 0;
}

/* The streamtype in a name/value block, or KS_OTHER; -EBADMSG if it does
 * not parse. */
static int sp_streamtype(const uint8_t *nv, size_t n)
{
	static const char *const types[] = { "stdin", "stdout", "stderr", "error", "resize" };
	int ch = KS_OTHER;
	uint32_t count;
	size_t at = 4;

	if (n < 4)
		return -EBADMSG;
	count = be32(nv);
	if (count > n / 8)
		return -EBADMSG;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t nl, vl;
		const uint8_t *name, *val;

		if (n - at < 4 || (nl = be32(nv + at)) == 0 || nl > n - at - 4)
			return -EBADMSG;
		name = nv + at + 4;
		at += 4 + nl;
		if (n - at < 4 || (vl = be32(nv + at)) > n - at - 4)
			return -EBADMSG;
		val = nv + at + 4;
		at += 4 + vl;
		if (nl != 10 || memcmp(name, "streamtype", 10))
			continue;
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
			if (strlen(types[t]) == vl && !memcmp(val, types[t], vl))
				ch = (int)t;
	}
	return at == n ? ch : -EBADMSG;
}

static void sp_event(struct ks_event *ev, enum ks_ev_type t, const struct sp_stream *st)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = t;
	if (st) {
		ev->channel = st->ch;
		ev->stream = st->id;
	}
}

/* Marks the stream's direction finished; both finished frees it. */
static void sp_fin(struct sp_stream *st, enum ks_dir from)
{
	st->fin[from] = true;
	if (st->fin[0] && st->fin[1])
		memset(st, 0, sizeof(*st));
}

static int sp_control(struct ks_spdy *s, enum ks_dir from, struct ks_event *ev)
{
	struct sp_dir *d = &s->dir[from];
	const uint8_t *c = d->ctrl;
	struct sp_stream *st;
	size_t nvl;
	uint32_t id;
	int ch, rc;

	switch (d->type) {
	case SYN_STREAM:
		if (d->len < 10)
			return -EBADMSG;
		id = be32(c) & 0x7fffffff;
		rc = sp_inflate(d, c + 10, d->len - 10, &nvl);
		if (rc)
			return rc;
		ch = sp_streamtype(d->nv, nvl);
		if (ch < 0)
			return ch;
		if (!id || sp_find(s, id))
			return -EPROTO;
		st = sp_find(s, 0);
		if (!st)
			return -E2BIG;
		st->id = id;
		st->ch = (enum ks_channel)ch;
		st->nresize = 0;
		sp_event(ev, KS_EV_OPEN, st);
		if (d->flags & FLAG_FIN)
			sp_fin(st, from);
		return 1;
	case SYN_REPLY:
	case HEADERS:
		if (d->len < 4)
			return -EBADMSG;
		rc = sp_inflate(d, c + 4, d->len - 4, &nvl);
		if (rc)
			return rc;
		if (sp_streamtype(d->nv, nvl) < 0)
			return -EBADMSG;
		st = sp_find(s, be32(c) & 0x7fffffff);
		if (st && (d->flags & FLAG_FIN)) {
			sp_event(ev, KS_EV_CLOSE, st);
			sp_fin(st, from);
			return 1;
		}
		return 0;
	case RST_STREAM:
		if (d->len != 8)
			return -EBADMSG;
		id = be32(c) & 0x7fffffff;
		st = id ? sp_find(s, id) : NULL;
		if (!st)
			return 0;
		sp_event(ev, KS_EV_CLOSE, st);
		memset(st, 0, sizeof(*st));
		return 1;
	case GOAWAY:
		sp_event(ev, KS_EV_END, NULL);
		return 1;
	}
	return 0;	/* SETTINGS, PING, WINDOW_UPDATE, unknown: nothing to say */
}

/* Data bytes of a resize stream: newline-ended JSON, one event per line. */
static int sp_resize(struct sp_stream *st, const uint8_t *p, size_t n, size_t *took,
		     struct ks_event *ev)
{
	const uint8_t *nl = memchr(p, '\n', n);
	size_t k = nl ? (size_t)(nl - p) + 1 : n;
	int rc;

	*took = k;
	if (k > sizeof(st->resize) - st->nresize)
		return -EMSGSIZE;
	memcpy(st->resize + st->nresize, p, k);
	st->nresize = (uint16_t)(st->nresize + k);
	if (!nl)
		return 0;
	rc = resize_parse(st->resize, st->nresize, ev);
	st->nresize = 0;
	if (rc > 0)
		ev->stream = st->id;
	return rc;
}

static int sp_header(struct ks_spdy *s, struct sp_dir *d)
{
	const uint8_t *h = d->hdr;

	d->flags = h[4];
	d->len = (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
	if (h[0] & 0x80) {
		if (((h[0] & 0x7f) << 8 | h[1]) != 3)
			return -EBADMSG;
		d->type = (uint16_t)(h[2] << 8 | h[3]);
		if (d->len > KS_SPDY_MAX_CTRL)
			return -EMSGSIZE;
		d->got = 0;
		d->state = SP_CTRL;
		return 0;
	}
	if (!(be32(h) & 0x7fffffff))
		return -EBADMSG;
	d->st = sp_find(s, be32(h) & 0x7fffffff);
	if (!d->st)
		return -EPROTO;
	d->left = d->len;
	d->state = SP_DATA;
	return 0;
}

int ks_spdy_feed(struct ks_spdy *s, enum ks_dir from, const uint8_t *in, size_t len,
		 size_t *used, struct ks_event *ev)
{
	struct sp_dir *d = &s->dir[from];
	size_t i = 0, n;
	int rc = 0;

	*used = 0;
	if (d->state == SP_FAILED)
		return -EBADMSG;
	while (!rc) {
		if (d->close_pending) {
			d->close_pending = false;
			sp_event(ev, KS_EV_CLOSE, d->st);
			sp_fin(d->st, from);
			rc = 1;
			break;
		}
		if (d->state == SP_HDR) {
			if (i == len)
				break;
			d->hdr[d->nhdr++] = in[i++];
			if (d->nhdr < 8)
				continue;
			d->nhdr = 0;
			rc = sp_header(s, d);
			if (rc)
				break;
			if (d->state == SP_CTRL && !d->len) {
				d->state = SP_HDR;
				rc = sp_control(s, from, ev);
			} else if (d->state == SP_DATA && !d->len) {
				d->state = SP_HDR;
				d->close_pending = d->flags & FLAG_FIN;
			}
			continue;
		}
		if (i == len)
			break;
		if (d->state == SP_CTRL) {
			n = len - i < d->len - d->got ? len - i : d->len - d->got;
			memcpy(d->ctrl + d->got, in + i, n);
			d->got += (uint32_t)n;
			i += n;
			if (d->got == d->len) {
				d->state = SP_HDR;
				rc = sp_control(s, from, ev);
			}
			continue;
		}
		/* data */
		n = len - i < d->left ? len - i : d->left;
		if (d->st->ch == KS_RESIZE) {
			rc = sp_resize(d->st, in + i, n, &n, ev);
		} else if (d->st->fin[from]) {
			rc = -EPROTO;	/* data after this side's FIN */
		} else {
			sp_event(ev, KS_EV_DATA, d->st);
			ev->data = in + i;
			ev->len = n;
			rc = 1;
		}
		if (rc < 0)
			break;
		i += n;
		d->left -= (uint32_t)n;
		if (!d->left) {
			d->state = SP_HDR;
			d->close_pending = d->flags & FLAG_FIN;
		}
	}
	*used = i;
	if (rc < 0) {
		d->state = SP_FAILED;
		return rc;
	}
	return rc;
}
