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

#include "approval.h"
#include "config.h"
#include "identity.h"
#include "policy.h"
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
	int metadata_only;	/* policy's record level: chunks without bytes */
	struct identity *id;	/* the caller's; borrowed, set before deciding */
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

/*
 * The policy in force, for every worker (DESIGN §4). set takes over the
 * caller's reference to p and drops the old one; requests already deciding
 * finish on the policy they started with. enabled 0 (no policy_dir
 * configured): every request is allowed, and no decision is recorded.
 */
void session_policy_set(struct policy *p, int enabled);

/*
 * Load every policy file of dir and put it in force, atomically: on any
 * error (returned as -errno, "FILE:LINE:COLUMN: message" in msg, logged)
 * the policy in force stays. dir NULL: policy off. On success msg says
 * what was loaded. For the start, SIGHUP and `sluice policy reload`.
 */
int session_policy_reload(const char *dir, char *msg, size_t len);

/* A new reference to the policy in force (NULL when none), and whether
 * policy is enabled at all. Release with policy_free(). */
struct policy *session_policy_get(int *enabled);

/* One decision, as session_decide() makes it. */
struct session_decision {
	enum policy_action action;	/* what to do: review granted is allow */
	const char *rule;		/* the deciding rule (borrowed from pol) */
	struct policy_decision d;	/* the engine's own answer */
	struct policy *pol;		/* the policy d borrows from */
	char approval[APPROVAL_ID_LEN + 1];	/* "" unless reviewed */
	int approval_state;		/* enum approval_state, or -errno */
};

/*
 * Decide req for the session's identity (s->id) with the policy in force,
 * resolve a `review` against approvals (a granted one allows; a new or
 * pending one refuses and names the approval id), record a "decision"
 * event naming the rule, and set the session's record level. request is
 * the request as the recording shows it (borrowed JSON; for approvals,
 * "the same request" is this object, compared as canonical JSON). Fills
 * out (release with session_decision_release()) and returns out->action.
 */
enum policy_action session_decide(struct session *s, const struct policy_request *req,
				  json_t *request, struct session_decision *out);
void session_decision_release(struct session_decision *d);

/* Decisions made since start, indexed by enum policy_action (the action
 * taken: a granted review counts as allow). With no policy, none. */
void session_decision_counts(uint64_t out[3]);

/* The session id as 32 hex digits, or "" when not recording. */
void session_id(const struct session *s, char out[33]);

#endif
