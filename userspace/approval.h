/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Just-in-time approvals (DESIGN §4). A `review` decision names an
 * approval; an operator grants it for a while (or denies it) with
 * `sluice approval`; within the grant the same identity may repeat the same
 * request on the same target. Approvals live in the store (family
 * `approvals`), so they survive a daemon restart.
 *
 * The id is derived, not allocated: the first APPROVAL_ID_LEN hex digits
 * of SHA-256(identity key, target, request key). The same request from the
 * same identity therefore always names the same approval, whichever
 * session or worker asks, and a repeat while it is pending does not pile
 * up new ones.
 *
 * An approval's JSON: {"id", "state": "pending"|"granted"|"denied",
 * "target", "rule", "identity": {...}, "request": {...}, "session",
 * "requested": RFC 3339, "requests": n, "decided_by_uid"?, "decided"?,
 * "expires"?}. A grant past "expires" reads as "expired"; a new request then
 * makes it pending again.
 */
#ifndef SLUICE_APPROVAL_H
#define SLUICE_APPROVAL_H

#include <stdint.h>
#include <jansson.h>

struct store;

#define APPROVAL_ID_LEN 16

enum approval_state {
	APPROVAL_NONE = 0,	/* never asked for */
	APPROVAL_PENDING,
	APPROVAL_GRANTED,	/* and within its window */
	APPROVAL_DENIED,
	APPROVAL_EXPIRED,	/* granted, window over */
};

/* The id for this identity key, target and request key (all borrowed). */
void approval_id(const char *identity_key, const char *target, const char *request_key,
		 char id[APPROVAL_ID_LEN + 1]);

/*
 * A request that policy sent to review, at now_ns: granted (and in its
 * window) returns APPROVAL_GRANTED and changes nothing; denied returns
 * APPROVAL_DENIED; otherwise the approval is (re)written as pending with
 * identity, request (borrowed JSON), rule and session, and APPROVAL_PENDING
 * is returned. A store error returns -errno (the caller refuses). st NULL
 * (recording off) returns -ENOTSUP: nowhere to keep approvals.
 */
int approval_request(struct store *st, const char *id, const char *target, const char *rule,
		     json_t *identity, json_t *request, const char *session, uint64_t now_ns);

/*
 * An operator's decision on id by uid: grant for for_s seconds (from now),
 * or deny (grant 0). Granting a denied or expired approval is allowed (the
 * operator changed their mind); deciding one never asked for is -ENOENT.
 * Returns 0 and sets *out (new reference, may be NULL) to the approval's
 * new JSON, or -errno.
 */
int approval_decide(struct store *st, const char *id, int grant, uint32_t uid, uint64_t for_s,
		    uint64_t now_ns, json_t **out);

/* Every approval, "state" as of now_ns (expired shown as such); a new
 * array, or NULL on ENOMEM. */
json_t *approval_list(struct store *st, uint64_t now_ns);

/* "pending", "granted", ...; static. */
const char *approval_state_name(enum approval_state s);

#endif
