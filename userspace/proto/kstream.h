/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The streams of kubectl exec / attach / port-forward after the HTTP
 * upgrade (DESIGN §2): WebSocket (RFC 6455) carrying the Kubernetes channel
 * protocols (channel.k8s.io, v4.channel.k8s.io, v5.channel.k8s.io), and
 * SPDY/3.1 with one stream per channel named by its "streamtype" header.
 * Both decode into the same events: bytes on a channel (stdin, stdout,
 * stderr, error), terminal resizes, streams opening and closing, the end.
 * Decoding only: the proxy forwards the bytes it received unchanged.
 *
 * Feeding. Each decoder takes the bytes of one direction as they come (one
 * byte at a time works) and returns at most one event per call:
 *   1        *ev filled; *used bytes consumed; call again with the rest
 *   0        everything given consumed (or len 0), no event: feed more
 *   -EBADMSG a malformed frame or message (RFC 6455 §5: reserved bits or
 *            opcodes, a fragmented or long control frame, a length not in
 *            its shortest form or with the top bit set, a client frame not
 *            masked or a server frame masked, a continuation with nothing
 *            to continue; SPDY: a version other than 3, a header block that
 *            does not inflate or parse; a resize that is not JSON)
 *   -EMSGSIZE a frame or header block over the limits below
 *   -EPROTO  valid framing the Kubernetes protocol does not allow: an
 *            unknown channel, data on a SPDY stream never opened, data
 *            after a WebSocket close
 *   -E2BIG   more open SPDY streams than KS_SPDY_MAX_STREAMS
 * After an error the decoder stays failed (the connection must close).
 * Event data is zero-copy where it can be: server WebSocket frames and all
 * SPDY data point into `in`; client WebSocket frames are unmasked into the
 * decoder's own scratch (at most KS_WS_SCRATCH bytes per event). Either is
 * valid until the next call.
 *
 * Recording. ks_event_json() gives the event the Kubernetes module records
 * for a DATA or RESIZE event, and `sluice session export --format
 * asciicast` reads back:
 *   {"type": "exec", "channel": "stdin"|"stdout"|"stderr"|"error",
 *    "stream": N?, "data": BASE64}
 *   {"type": "exec", "channel": "resize", "width": W, "height": H}
 * "data" is always standard base64 (RFC 4648, padded) of the exact bytes,
 * whatever they are; "stream" is the SPDY stream id (absent for WebSocket).
 */
#ifndef SLUICE_KSTREAM_H
#define SLUICE_KSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define KS_WS_MAX_FRAME_DEFAULT	(16u << 20)	/* data frame payload */
#define KS_WS_SCRATCH		4096
#define KS_RESIZE_MAX		256		/* one resize message */
#define KS_SPDY_MAX_CTRL	(64u << 10)	/* one control frame */
#define KS_SPDY_MAX_HEADERS	(64u << 10)	/* one inflated header block */
#define KS_SPDY_MAX_STREAMS	64

enum ks_dir {
	KS_FROM_CLIENT,		/* the agent (kubectl) */
	KS_FROM_SERVER,		/* the API server */
};

enum ks_channel {
	KS_STDIN = 0,
	KS_STDOUT = 1,
	KS_STDERR = 2,
	KS_ERROR = 3,		/* the final Status, JSON */
	KS_RESIZE = 4,
	KS_OTHER = 5,		/* port-forward data, an unknown SPDY streamtype */
};

enum ks_ev_type {
	KS_EV_DATA = 1,		/* data, len on channel */
	KS_EV_RESIZE,		/* width, height */
	KS_EV_OPEN,		/* SPDY: stream `stream` is channel */
	KS_EV_CLOSE,		/* channel closed (v5 close message; SPDY FIN or RST) */
	KS_EV_END,		/* WebSocket close (code) or SPDY GOAWAY */
};

struct ks_event {
	enum ks_ev_type type;
	enum ks_channel channel;
	const uint8_t *data;	/* borrowed, see above */
	size_t len;
	uint16_t width, height;
	uint32_t stream;	/* SPDY stream id, 0 for WebSocket */
	uint16_t code;		/* KS_EV_END: WebSocket close code (0: none) */
};

/* "stdin", ..., "resize", "other". */
const char *ks_channel_name(enum ks_channel c);

/*
 * The event to record for a DATA or RESIZE event (shape above), a new
 * reference; NULL for the other types, or on allocation failure (errno
 * ENOMEM then).
 */
json_t *ks_event_json(const struct ks_event *ev);

/* ------------------------------------------------------------ WebSocket */

/*
 * The channel protocol a Sec-WebSocket-Protocol token names: 1 for
 * channel.k8s.io, 2..5 for vN.channel.k8s.io; -ENOTSUP for the base64
 * variants (text frames, not decoded here: the module should not offer
 * them upstream) and anything else.
 */
int ks_ws_protocol(const char *tok, size_t len);

struct ks_ws {
	enum ks_dir from;
	int version;		/* 1..5 */
	uint64_t max_frame;
	int state;
	uint8_t hdr[14];
	uint8_t nhdr;
	bool fin, in_message, closed, msg_started;
	uint8_t opcode, msg_opcode;
	uint8_t mask[4];
	uint64_t left, off;	/* payload left, payload offset (for the mask) */
	int channel;		/* of the current message, -1 before its first byte */
	bool v5_close;		/* the current message is a v5 close */
	uint8_t ctl[125];
	uint8_t nctl;
	uint8_t resize[KS_RESIZE_MAX];
	uint16_t nresize;
	uint8_t scratch[KS_WS_SCRATCH];
};

/* from: whose frames these are; version from ks_ws_protocol(); max_frame
 * 0 for KS_WS_MAX_FRAME_DEFAULT. */
void ks_ws_init(struct ks_ws *ws, enum ks_dir from, int version, uint64_t max_frame);

int ks_ws_feed(struct ks_ws *ws, const uint8_t *in, size_t len, size_t *used,
	       struct ks_event *ev);

/* ------------------------------------------------------------ SPDY/3.1 */

struct ks_spdy;

/* Both directions of one upgraded connection (they share the streams).
 * NULL with errno ENOMEM. Free with ks_spdy_free(), which accepts NULL. */
struct ks_spdy *ks_spdy_new(void);
void ks_spdy_free(struct ks_spdy *s);

int ks_spdy_feed(struct ks_spdy *s, enum ks_dir from, const uint8_t *in, size_t len,
		 size_t *used, struct ks_event *ev);

#endif /* SLUICE_KSTREAM_H */
