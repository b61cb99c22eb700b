/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Where exported events go (DESIGN §6): a file (JSON lines, rotated by
 * size), syslog (RFC 5424 with RFC 6587 octet counting, over TCP or over
 * TLS per RFC 5425), or a Splunk HTTP Event Collector (libcurl).
 *
 * A sink is driven by the exporter's one thread; calls block, bounded by
 * the sink's timeout_ms. sink_deliver() returns 0 only once the batch is
 * as far as the sink can say: written (file), in the peer's TCP receive
 * queue with nothing left unacknowledged (syslog, which has no
 * application acknowledgement), answered 200 (HEC).
 */
#ifndef SLUICE_EXPORT_SINKS_H
#define SLUICE_EXPORT_SINKS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "config.h"

/* One rendered event of a batch; borrowed by the sink. */
struct sink_item {
	json_t *v;		/* fmt_render()'s value (object or CEF string) */
	const char *text;	/* fmt_text() of it */
	size_t len;
	uint64_t time_ns;
	const char *type;	/* event type, for syslog's MSGID */
	const char *sid;	/* session id, 32 hex */
	uint64_t seq;
	int is_seal;
};

struct sink;

/*
 * A sink for cfg (borrowed; must outlive the sink). Nothing is opened or
 * connected yet: the first delivery does that, so a sink that is down at
 * start is retried like one that goes down later. Returns NULL with errno
 * set and a message in err (a token_file that cannot be read, ...).
 */
struct sink *sink_new(const struct cfg_export *cfg, char *err, size_t errlen);

/*
 * Deliver items[0..n) in order. Returns 0 when the sink has taken them
 * all, else -errno with a one-line reason in err; the connection is then
 * dropped and the next call starts afresh (the whole batch again: at
 * least once).
 */
int sink_deliver(struct sink *s, const struct sink_item *items, size_t n,
		 char *err, size_t errlen);

/* Close and free; accepts NULL. */
void sink_free(struct sink *s);

/* "file", "syslog", "hec" (static). */
const char *sink_type_name(enum export_type t);

#endif
