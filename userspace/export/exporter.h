/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The exporter (DESIGN §6): one thread that walks the store's export feed
 * for every configured sink, renders each entry in the sink's format,
 * delivers a batch, and only then advances the sink's durable cursor. At
 * least once and in feed order per sink; a sink that fails is retried
 * with capped exponential backoff (500 ms doubling up to the sink's
 * backoff_max_ms) while the others go on, and catches up from its cursor.
 */
#ifndef SLUICE_EXPORT_EXPORTER_H
#define SLUICE_EXPORT_EXPORTER_H

#include <jansson.h>

struct config;
struct store;
struct exporter;

/*
 * Build every sink of cfg->exports and start the thread; st and cfg are
 * borrowed and must outlive exporter_stop(). With no sinks configured,
 * returns NULL with errno 0 (nothing to run). Otherwise NULL with errno
 * set and a message in err on failure.
 */
struct exporter *exporter_start(struct store *st, const struct config *cfg,
				char *err, size_t errlen);

/* Give working sinks up to 3 s to catch up with the feed, finish the
 * batch in hand, stop the thread, close the sinks. NULL ok. */
void exporter_stop(struct exporter *ex);

/*
 * Per sink: {"name", "type", "format", "destination", "cursor", "head",
 * "lag_events", "lag_seconds", "lag_ms" (age of the oldest entry not
 * taken), "delivered", "retries", "failing",
 * "last_error", "last_error_time", "last_delivery", "next_retry_ms"},
 * in a {"sinks": [...], "retention_held": N} object. New reference, NULL
 * on ENOMEM. Callable from any thread.
 */
json_t *exporter_status(struct exporter *ex);

/*
 * For `sluice status`: {"events", "seconds", "ms"} of the sink furthest behind,
 * plus "failing" (sinks failing now); JSON null without an exporter. New
 * reference.
 */
json_t *exporter_lag(struct exporter *ex);

#endif
