// SPDX-License-Identifier: BSD-2-Clause
/*
 * The exporter thread (exporter.h).
 *
 * Each pass visits every sink that is due: read up to `batch` feed
 * entries after its cursor, render them, deliver, and on success save the
 * cursor (the feed seq of the last entry). On failure nothing moves: the
 * same entries go again after the backoff, so a sink sees every entry at
 * least once and never one out of order. A saved cursor is written to
 * RocksDB's WAL like the records; after a crash before it was, the batch
 * is sent again.
 *
 * The session's `sessions` value gives the identity for events that do
 * not carry it; a few are cached, since consecutive entries mostly belong
 * to the same sessions.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <jansson.h>

#include "clock.h"
#include "config.h"
#include "exporter.h"
#include "formats.h"
#include "log.h"
#include "sinks.h"
#include "store.h"

#define BACKOFF_FIRST_MS	500
#define IDLE_POLL_MS		100
#define SESSION_CACHE		16
#define ERR_LEN			256
#define NS_PER_MS		1000000ull
#define DRAIN_MS		3000

struct xsink {
	const struct cfg_export *cfg;
	enum fmt_kind fmt;
	struct sink *sink;
	uint64_t cursor;
	uint64_t next_try;		/* mono ns */
	uint32_t backoff_ms;
	/* the batch in hand */
	struct sink_item *items;
	json_t **vals;
	char **texts, **types;
	char (*sids)[33];
	size_t n;
	/* status, under ex->mu */
	uint64_t delivered, retries;
	int failing;
	char last_error[ERR_LEN];
	uint64_t last_error_ns, last_ok_ns;	/* real time */
};

struct cached_session {
	uint8_t sid[STORE_SID_LEN];
	json_t *v;
};

struct exporter {
	struct store *st;
	struct xsink *sinks;
	size_t n_sinks;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	struct cached_session cache[SESSION_CACHE];
	size_t cache_next;
};

/* The session's value (borrowed from the cache), or NULL when gone. */
static json_t *session_of(struct exporter *ex, const uint8_t sid[STORE_SID_LEN],
			  int refresh)
{
	struct cached_session *c;

	for (size_t i = 0; i < SESSION_CACHE; i++) {
		c = &ex->cache[i];
		if (c->v && !memcmp(c->sid, sid, STORE_SID_LEN)) {
			if (!refresh)
				return c->v;
			json_decref(c->v);
			c->v = store_session_get(ex->st, sid);
			return c->v;
		}
	}
	c = &ex->cache[ex->cache_next++ % SESSION_CACHE];
	json_decref(c->v);
	memcpy(c->sid, sid, STORE_SID_LEN);
	c->v = store_session_get(ex->st, sid);
	return c->v;
}

static void batch_clear(struct xsink *x)
{
	for (size_t i = 0; i < x->n; i++) {
		json_decref(x->vals[i]);
		free(x->texts[i]);
		free(x->types[i]);
	}
	x->n = 0;
}

struct collect {
	struct exporter *ex;
	struct xsink *x;
	int err;
};

/* One feed entry -> rendered item; the entry's JSON always yields one. */
static int collect_cb(void *ctx, const struct store_feed_item *it)
{
	struct collect *c = ctx;
	struct xsink *x = c->x;
	struct sink_item *si = &x->items[x->n];
	struct fmt_input in = { 0 };
	char sid[33];
	json_t *ev, *out;
	const char *type;

	store_sid_format(it->sid, sid);
	ev = json_loadb(it->json, it->len, 0, NULL);
	if (!json_is_object(ev)) {
		/* a record that is not a JSON object still leaves the node */
		json_decref(ev);
		ev = json_pack("{s:s, s:s%}", "type", "unparseable", "raw",
			       it->json, it->len);
		if (!ev) {
			c->err = -ENOMEM;
			return 1;
		}
	}
	type = it->kind == STORE_FEED_SEAL ? "seal" : json_string_value(json_object_get(ev, "type"));
	in.sid = sid;
	in.seq = it->seq;
	in.time_ns = it->time_ns;
	in.is_seal = it->kind == STORE_FEED_SEAL;
	in.event = ev;
	in.session = session_of(c->ex, it->sid,
				type && !strcmp(type, "session_end"));
	out = fmt_render(x->fmt, &in);
	x->texts[x->n] = out ? fmt_text(out) : NULL;
	x->types[x->n] = strdup(type ? type : "unknown");
	json_decref(ev);
	if (!out || !x->texts[x->n] || !x->types[x->n]) {
		json_decref(out);
		free(x->texts[x->n]);
		free(x->types[x->n]);
		c->err = -ENOMEM;
		return 1;
	}
	x->vals[x->n] = out;
	*si = (struct sink_item){
		.v = out, .text = x->texts[x->n], .len = strlen(x->texts[x->n]),
		.time_ns = it->time_ns, .type = x->types[x->n], .seq = it->seq,
		.is_seal = in.is_seal,
	};
	memcpy(x->sids[x->n], sid, sizeof(sid));
	si->sid = x->sids[x->n];
	x->n++;
	return 0;
}

static void sink_failed(struct exporter *ex, struct xsink *x, const char *why)
{
	uint64_t cap = x->cfg->backoff_max_ms;

	x->backoff_ms = x->backoff_ms ? x->backoff_ms * 2 : BACKOFF_FIRST_MS;
	if (x->backoff_ms > cap)
		x->backoff_ms = (uint32_t)cap;
	x->next_try = clock_mono_ns() + (uint64_t)x->backoff_ms * NS_PER_MS;
	pthread_mutex_lock(&ex->mu);
	if (!x->failing)
		log_error("export: sink failing, will retry", "{s:s, s:s, s:I}",
			  "sink", x->cfg->name, "error", why,
			  "cursor", (json_int_t)x->cursor);
	x->retries++;
	x->failing = 1;
	snprintf(x->last_error, sizeof(x->last_error), "%s", why);
	x->last_error_ns = clock_real_ns();
	pthread_mutex_unlock(&ex->mu);
}

/* One delivery attempt for x. Returns 1 when it moved data, else 0. */
static int sink_pass(struct exporter *ex, struct xsink *x)
{
	struct collect c = { .ex = ex, .x = x };
	char err[ERR_LEN] = "";
	uint64_t last = x->cursor;
	int n, ret;

	if (store_feed_head(ex->st) <= x->cursor)
		return 0;	/* nothing new: no iterator */
	n = store_feed_read(ex->st, x->cursor, x->cfg->batch, collect_cb, &c, &last);
	if (n < 0 || c.err) {
		snprintf(err, sizeof(err), "reading the feed: %s",
			 strerror(n < 0 ? -n : -c.err));
		batch_clear(x);
		sink_failed(ex, x, err);
		return 0;
	}
	if (last == x->cursor) {
		batch_clear(x);
		return 0;
	}
	if (!x->n) {
		/* only entries retention had deleted: step over them */
		pthread_mutex_lock(&ex->mu);
		x->cursor = last;
		pthread_mutex_unlock(&ex->mu);
		return store_export_cursor_set(ex->st, x->cfg->name, last) ? 0 : 1;
	}
	ret = sink_deliver(x->sink, x->items, x->n, err, sizeof(err));
	if (ret) {
		batch_clear(x);
		sink_failed(ex, x, err[0] ? err : strerror(-ret));
		return 0;
	}
	ret = store_export_cursor_set(ex->st, x->cfg->name, last);
	pthread_mutex_lock(&ex->mu);
	x->delivered += x->n;
	x->cursor = last;
	x->last_ok_ns = clock_real_ns();
	if (x->failing)
		log_info("export: sink delivering again", "{s:s, s:I}",
			 "sink", x->cfg->name, "cursor", (json_int_t)last);
	x->failing = 0;
	pthread_mutex_unlock(&ex->mu);
	x->backoff_ms = 0;
	x->next_try = 0;
	batch_clear(x);
	if (ret)
		log_error("export: cannot save a cursor (the batch will be sent "
			  "again after a restart)", "{s:s, s:s}", "sink",
			  x->cfg->name, "error", strerror(-ret));
	return 1;
}

static void *exporter_main(void *arg)
{
	struct exporter *ex = arg;

	pthread_mutex_lock(&ex->mu);
	while (!ex->stop) {
		uint64_t now, wait_ns = IDLE_POLL_MS * NS_PER_MS;
		int moved = 0;

		pthread_mutex_unlock(&ex->mu);
		now = clock_mono_ns();
		for (size_t i = 0; i < ex->n_sinks; i++) {
			struct xsink *x = &ex->sinks[i];

			if (x->next_try > now) {
				if (x->next_try - now < wait_ns)
					wait_ns = x->next_try - now;
				continue;
			}
			moved |= sink_pass(ex, x);
		}
		pthread_mutex_lock(&ex->mu);
		if (moved || ex->stop)
			continue;	/* more may be waiting: no sleep */
		{
			struct timespec ts;
			uint64_t t;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec +
			    wait_ns;
			ts.tv_sec = (time_t)(t / 1000000000ull);
			ts.tv_nsec = (long)(t % 1000000000ull);
			pthread_cond_timedwait(&ex->cv, &ex->mu, &ts);
		}
	}
	pthread_mutex_unlock(&ex->mu);
	return NULL;
}

static void exporter_free(struct exporter *ex)
{
	if (!ex)
		return;
	for (size_t i = 0; i < ex->n_sinks; i++) {
		struct xsink *x = &ex->sinks[i];

		batch_clear(x);
		sink_free(x->sink);
		free(x->items);
		free(x->vals);
		free(x->texts);
		free(x->types);
		free(x->sids);
	}
	for (size_t i = 0; i < SESSION_CACHE; i++)
		json_decref(ex->cache[i].v);
	free(ex->sinks);
	pthread_mutex_destroy(&ex->mu);
	pthread_cond_destroy(&ex->cv);
	free(ex);
}

static int sink_setup(struct exporter *ex, struct xsink *x,
		      const struct cfg_export *c, char *err, size_t errlen)
{
	int ret;

	x->cfg = c;
	if (fmt_parse(c->format, &x->fmt)) {
		snprintf(err, errlen, "export %s: unknown format %s", c->name, c->format);
		return -EINVAL;
	}
	x->items = calloc(c->batch, sizeof(*x->items));
	x->vals = calloc(c->batch, sizeof(*x->vals));
	x->texts = calloc(c->batch, sizeof(*x->texts));
	x->types = calloc(c->batch, sizeof(*x->types));
	x->sids = calloc(c->batch, sizeof(*x->sids));
	if (!x->items || !x->vals || !x->texts || !x->types || !x->sids) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	x->sink = sink_new(c, err, errlen);
	if (!x->sink)
		return -errno;
	ret = store_export_cursor_get(ex->st, c->name, &x->cursor);
	if (ret == -ENOENT) {
		x->cursor = 0;	/* a new sink starts at the front of the feed */
		ret = 0;
	}
	if (ret)
		snprintf(err, errlen, "export %s: reading its cursor: %s", c->name,
			 strerror(-ret));
	return ret;
}

struct exporter *exporter_start(struct store *st, const struct config *cfg,
				char *err, size_t errlen)
{
	struct exporter *ex = NULL;
	const char **names = NULL;
	int ret = 0;

	if (!st) {
		if (cfg->n_exports)
			log_warn("export sinks configured, but nothing is recorded "
				 "(store.mode off): nothing to export", NULL);
		errno = 0;
		return NULL;
	}
	if (!cfg->n_exports) {
		/* no sink: retention stops waiting for old cursors */
		errno = -store_export_sinks(st, NULL, 0);
		if (errno)
			snprintf(err, errlen, "out of memory");
		return NULL;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ex = calloc(1, sizeof(*ex));
	names = calloc(cfg->n_exports, sizeof(*names));
	if (!ex || !names) {
		free(ex);
		free(names);
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	ex->st = st;
	pthread_mutex_init(&ex->mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&ex->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	ex->sinks = calloc(cfg->n_exports, sizeof(*ex->sinks));
	if (!ex->sinks) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cfg->n_exports && !ret; i++) {
		ex->n_sinks = i + 1;
		ret = sink_setup(ex, &ex->sinks[i], &cfg->exports[i], err, errlen);
		names[i] = cfg->exports[i].name;
	}
	if (ret)
		goto out;
	/* retention now keeps back what these sinks have not taken */
	ret = store_export_sinks(st, names, cfg->n_exports);
	if (ret) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	ret = -pthread_create(&ex->th, NULL, exporter_main, ex);
	if (ret)
		snprintf(err, errlen, "cannot start the exporter: %s", strerror(-ret));
	else
		pthread_setname_np(ex->th, "sluice-export");
out:
	free(names);
	if (ret) {
		exporter_free(ex);
		errno = -ret;
		return NULL;
	}
	for (size_t i = 0; i < ex->n_sinks; i++)
		log_info("export: sink started", "{s:s, s:s, s:s, s:I}", "sink",
			 ex->sinks[i].cfg->name, "type",
			 sink_type_name(ex->sinks[i].cfg->type), "format",
			 ex->sinks[i].cfg->format, "cursor",
			 (json_int_t)ex->sinks[i].cursor);
	return ex;
}

void exporter_stop(struct exporter *ex)
{
	uint64_t end;

	if (!ex)
		return;
	/* sinks that work get a moment to take what the last sessions
	 * wrote; the rest goes after the next start, from the cursors */
	end = clock_mono_ns() + DRAIN_MS * NS_PER_MS;
	while (clock_mono_ns() < end) {
		uint64_t head = store_feed_head(ex->st);
		int behind = 0;

		pthread_mutex_lock(&ex->mu);
		for (size_t i = 0; i < ex->n_sinks; i++)
			behind |= !ex->sinks[i].failing && ex->sinks[i].cursor < head;
		pthread_cond_signal(&ex->cv);
		pthread_mutex_unlock(&ex->mu);
		if (!behind)
			break;
		usleep(20000);
	}
	pthread_mutex_lock(&ex->mu);
	ex->stop = 1;
	pthread_cond_signal(&ex->cv);
	pthread_mutex_unlock(&ex->mu);
	pthread_join(ex->th, NULL);
	exporter_free(ex);
}

static const char *destination(const struct cfg_export *c)
{
	return c->type == EXPORT_FILE ? c->path : c->address;
}

json_t *exporter_lag(struct exporter *ex)
{
	uint64_t max_n = 0, max_ms = 0;
	int failing = 0;

	if (!ex)
		return json_null();
	for (size_t i = 0; i < ex->n_sinks; i++) {
		uint64_t n = 0, ms = 0, cursor;

		pthread_mutex_lock(&ex->mu);
		cursor = ex->sinks[i].cursor;
		failing += ex->sinks[i].failing;
		pthread_mutex_unlock(&ex->mu);
		store_export_lag(ex->st, cursor, &n, &ms);
		if (n > max_n)
			max_n = n;
		if (ms > max_ms)
			max_ms = ms;
	}
	return json_pack("{s:I, s:I, s:I, s:i}", "events", (json_int_t)max_n,
			 "seconds", (json_int_t)(max_ms / 1000), "ms", (json_int_t)max_ms,
			 "failing", failing);
}

json_t *exporter_status(struct exporter *ex)
{
	json_t *arr = json_array(), *o;
	uint64_t now = clock_mono_ns();

	if (!arr)
		return NULL;
	for (size_t i = 0; ex && i < ex->n_sinks; i++) {
		struct xsink *x = &ex->sinks[i];
		uint64_t lag_n = 0, lag_ms = 0, cursor;
		char le[FMT_TIME_LEN] = "", lo[FMT_TIME_LEN] = "";
		json_t *s;

		pthread_mutex_lock(&ex->mu);
		cursor = x->cursor;
		if (x->last_error_ns)
			fmt_time(x->last_error_ns, le);
		if (x->last_ok_ns)
			fmt_time(x->last_ok_ns, lo);
		s = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:b, s:s?, s:s?, s:s?,"
			      " s:I}",
			      "name", x->cfg->name, "type", sink_type_name(x->cfg->type),
			      "format", x->cfg->format, "destination", destination(x->cfg),
			      "cursor", (json_int_t)cursor,
			      "delivered", (json_int_t)x->delivered,
			      "retries", (json_int_t)x->retries, "failing", x->failing,
			      "last_error", x->last_error[0] ? x->last_error : NULL,
			      "last_error_time", le[0] ? le : NULL,
			      "last_delivery", lo[0] ? lo : NULL,
			      "next_retry_ms", (json_int_t)(x->failing && x->next_try > now ?
					      (x->next_try - now) / NS_PER_MS : 0));
		pthread_mutex_unlock(&ex->mu);
		if (!s)
			continue;
		store_export_lag(ex->st, cursor, &lag_n, &lag_ms);
		json_object_set_new(s, "head", json_integer((json_int_t)store_feed_head(ex->st)));
		json_object_set_new(s, "lag_events", json_integer((json_int_t)lag_n));
		json_object_set_new(s, "lag_seconds", json_integer((json_int_t)(lag_ms / 1000)));
		json_object_set_new(s, "lag_ms", json_integer((json_int_t)lag_ms));
		json_array_append_new(arr, s);
	}
	o = json_pack("{s:o, s:I}", "sinks", arr, "retention_held",
		      (json_int_t)(ex ? store_export_held(ex->st) : 0));
	return o;
}
