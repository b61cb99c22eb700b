/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The seam every protocol records through (DESIGN §1a): a session is one
 * proxied connection's recording. It knows the store and the recorder's
 * way back to the worker thread; it knows nothing of protocols.
 *
 * Records reach the recorder by reference. The recorder says "written"
 * on its own thread; that word comes back to the session's worker through
 * a mailbox (a lock-free stack plus an eventfd read by the worker's ring),
 * so everything a connection sees happens on its own thread.
 */
#ifndef SLUICE_SESSION_H
#define SLUICE_SESSION_H

#include <stdint.h>
#include <jansson.h>

#include "config.h"
#include "store.h"

struct loop;
struct session;
struct session_worker;

/* A chunk on its way to the store; embedded in the caller's state. */
struct session_rec {
	struct store_rec r;
	struct session_rec *mail_next;
	struct session *owner;
	char *owned;		/* event text, freed when written */
};

struct session {
	struct store_chain chain;
	struct session_worker *w;
	int recording;		/* 0: store off or begin failed */
	unsigned inflight;	/* records submitted, not yet written */
	uint64_t records;
	int failed;		/* a write failed: the recording has a hole */
	/* a record of this session was written (err 0) or not (-errno);
	 * r is the caller's chunk, or NULL for one of its events */
	void (*on_written)(struct session *s, struct session_rec *r, int err);
};

/*
 * One per worker: the mailbox, armed on the worker's loop. st may be NULL
 * (recording off). Returns NULL with errno set. Free with
 * session_worker_free() after the loop has stopped and the store is closed.
 */
struct session_worker *session_worker_new(struct loop *l, struct store *st,
					  enum store_mode_cfg mode);
void session_worker_free(struct session_worker *w);

/*
 * Start recording: writes the `sessions` value from meta (borrowed) and a
 * first event {"type": "session_start", ...meta} so the metadata is inside
 * the hash chain too. Returns 0, or -errno (the session then records
 * nothing and says so in the log; the connection goes on).
 */
int session_begin(struct session *s, struct session_worker *w, json_t *meta);

/*
 * Record len bytes at p (borrowed until on_written) as the next chunk in
 * direction dir (STORE_DIR_UP/DOWN). Returns 1 when the caller must wait
 * for on_written before forwarding (strict, sync), 0 when it may forward
 * now but must keep p until on_written (async), 2 when nothing is recorded
 * (off) and p is free at once.
 */
int session_chunk(struct session *s, struct session_rec *r, int dir,
		  const void *p, size_t len);

/* Record a decoded event (ev borrowed; "time" is added). Never waits. */
void session_event(struct session *s, json_t *ev);

/* Final event and `sessions` value from meta (borrowed); then no more records. */
void session_end(struct session *s, json_t *meta);

/* The session id as 32 hex digits, or "" when not recording. */
void session_id(const struct session *s, char out[33]);

#endif
