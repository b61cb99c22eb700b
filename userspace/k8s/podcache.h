/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The pod cache (DESIGN §3, issue 8): on a cluster, the pods of this node
 * as the API server knows them, kept in the daemon's pod table. A thread
 * LISTs the node's pods (fieldSelector spec.nodeName), puts each one in the
 * table (source "api"), then WATCHes from the list's resourceVersion:
 * ADDED/MODIFIED put, DELETED delete, BOOKMARK moves the resourceVersion,
 * ERROR 410 Gone (or any failure) lists again. Reconnects back off
 * exponentially up to a cap. The API server is verified against its CA;
 * the daemon authenticates with a bearer token file (read again on each
 * connect: projected tokens rotate) or a client certificate.
 *
 * What the server sends is hostile input: a list body, one watch line and
 * one pod's fields all have upper bounds; a malformed event is skipped
 * with a log line.
 */
#ifndef SLUICE_PODCACHE_H
#define SLUICE_PODCACHE_H

#include <stddef.h>
#include <jansson.h>

#include "pods.h"

struct config;

/* Upper bounds on what the API server may send us. */
#define PODCACHE_MAX_LIST (64u << 20)	/* one LIST page's body */
#define PODCACHE_MAX_LINE (4u << 20)	/* one watch event */
#define PODCACHE_MAX_PODS 65536		/* pods kept for one node */
#define PODCACHE_RV_LEN 64		/* a resourceVersion (etcd's is a u64) */

/*
 * Start the cache thread when cfg has "pod_cache"; it fills `table`
 * (borrowed: must outlive podcache_stop()). The node is cfg's
 * pod_cache.node, else $NODE_NAME, else the host name. Returns 0 (also
 * when not configured), or -errno when the thread cannot start. An API
 * server that does not answer is not an error: the thread keeps trying.
 */
int podcache_start(const struct config *cfg, struct pod_table *table);

/* Stop the thread (within about a second) and forget its state. The
 * pods it put stay in the table. Safe without podcache_start(). */
void podcache_stop(void);

/* --- the pure parts, exported for the unit tests ------------------------ */

/*
 * A pod object (metadata.uid, namespace, name, labels;
 * spec.serviceAccountName) as a pod_info with source "api". rv, when not
 * NULL, gets metadata.resourceVersion ("" when absent). Returns the pod
 * (caller frees with pod_info_free()), or NULL with errno EINVAL (and the
 * reason in err) or ENOMEM.
 */
struct pod_info *podcache_pod_from_json(const json_t *obj,
					char rv[PODCACHE_RV_LEN + 1],
					char *err, size_t errlen);

enum podcache_action {
	PODCACHE_PUT,		/* ADDED, MODIFIED */
	PODCACHE_DEL,		/* DELETED */
	PODCACHE_BOOKMARK,	/* only the resourceVersion moves */
	PODCACHE_RELIST,	/* ERROR 410 Gone: the resourceVersion is too old */
	PODCACHE_FAILED,	/* another ERROR: reconnect (and list again) */
};

struct podcache_event {
	enum podcache_action action;
	struct pod_info *pod;		/* PUT and DEL; owned */
	char rv[PODCACHE_RV_LEN + 1];	/* the object's, "" when none */
	int code;			/* ERROR events: the Status code */
};

/*
 * One line of a watch stream ({"type": ..., "object": ...}, len bytes,
 * no NUL needed) into ev. Returns 0, or -EINVAL with the reason in err (a
 * line to skip), or -ENOMEM. On success the caller clears ev with
 * podcache_event_clear().
 */
int podcache_parse_event(const char *line, size_t len,
			 struct podcache_event *ev, char *err, size_t errlen);
void podcache_event_clear(struct podcache_event *ev);

/*
 * One LIST page (a PodList, len bytes): its pods appended to *pods / *n
 * (caller frees each with pod_info_free() and the array with free(), also
 * after an error), its metadata.resourceVersion into rv and
 * metadata.continue into cont (malloc'd, NULL on the last page). Items
 * that are not valid pods are skipped with a log line. Returns 0, -EINVAL
 * (err says why), -E2BIG (more than PODCACHE_MAX_PODS) or -ENOMEM.
 */
int podcache_parse_list(const char *body, size_t len, struct pod_info ***pods,
			size_t *n, char rv[PODCACHE_RV_LEN + 1], char **cont,
			char *err, size_t errlen);

/*
 * What the cache put in a table, so that a new list can remove the pods
 * that went away while nobody watched. Not thread-safe: the cache thread
 * owns it.
 */
struct podcache_set;

/* An empty set, or NULL (ENOMEM). */
struct podcache_set *podcache_set_new(void);
void podcache_set_free(struct podcache_set *s);
size_t podcache_set_count(const struct podcache_set *s);

/* A full list: put each pod, delete from t the pods of the set that are
 * not in the list. Returns 0 or -ENOMEM (the table may be partly updated;
 * the next list repairs it). */
int podcache_apply_list(struct podcache_set *s, struct pod_table *t,
			struct pod_info *const *pods, size_t n);

/* One PUT or DEL event; other actions change nothing. Returns 0, -ENOMEM,
 * or -E2BIG when the set is full (the pod is not added). */
int podcache_apply_event(struct podcache_set *s, struct pod_table *t,
			 const struct podcache_event *ev);

#endif
