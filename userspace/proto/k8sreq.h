/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Kubernetes request attributes (DESIGN §2, §4) from an HTTP request's
 * method, target and Content-Type: what the API server's authorizer sees
 * (its RequestInfo), so a policy rule means what the same RBAC rule would.
 *
 * Resource requests: /api/VERSION/... (core group "") and
 * /apis/GROUP/VERSION/..., then [namespaces/NS/]RESOURCE[/NAME[/SUB...]].
 * "namespaces/NS" alone, and namespaces/NS/status|finalize, are the
 * namespace object itself (namespace and name both NS). The verb, as the
 * authorizer computes it:
 *   POST create, PUT update, PATCH patch, GET/HEAD get, DELETE delete;
 *   get without a name is list, or watch when the query says watch (any
 *   value but 0, f, false, in any case), and a fieldSelector
 *   metadata.name=N (or ==) then names N; delete without a name is
 *   deletecollection; the legacy /watch/ and /proxy/ path prefixes (right
 *   after the version) make the verb watch or proxy.
 * exec, attach and portforward are subresources of pods: RBAC sees the
 * method's verb (create for POST; get for the WebSocket GET kubectl sends
 * since 1.30, for which the API server may also check create), the
 * admission chain a CONNECT. `connect` marks them and every proxy
 * subresource or verb, so policy and records can tell a stream from a read.
 * Anything else (/version, /healthz, /openapi/v2, /api, /apis,
 * /apis/GROUP/VERSION discovery, ...) is a non-resource request: the verb is
 * the method in lower case and `path` is what RBAC's nonResourceURLs match.
 *
 * Stricter than the API server where a proxy must not guess what the
 * server will route: percent-escapes are decoded as Go's URL parser does
 * (and '+' is a space in the query), but an invalid escape, an encoded
 * '/', a decoded control byte, an empty, "." or ".." path segment, or a
 * '#' is refused (-EINVAL: answer 400), and a target longer than
 * K8S_MAX_TARGET is refused (-ENAMETOOLONG: 414).
 */
#ifndef SLUICE_K8SREQ_H
#define SLUICE_K8SREQ_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

#define K8S_MAX_TARGET		8192
#define K8S_MAX_COMMAND		64	/* exec command words kept */
#define K8S_MAX_SEGMENTS	32	/* path segments interpreted */

enum k8s_patch {
	K8S_PATCH_NONE,		/* not a PATCH, or no Content-Type yet */
	K8S_PATCH_JSON,		/* application/json-patch+json */
	K8S_PATCH_MERGE,	/* application/merge-patch+json */
	K8S_PATCH_STRATEGIC,	/* application/strategic-merge-patch+json */
	K8S_PATCH_APPLY,	/* application/apply-patch+yaml: server-side apply */
	K8S_PATCH_OTHER,	/* the API server answers 415 */
};

/*
 * One request's attributes. Every string is NUL-terminated and either
 * static or inside `buf`: the struct owns them (no pointer into the
 * caller's buffer survives), so it may outlive the HTTP head. Absent
 * values are "" (never NULL), except the optional query values, NULL when
 * the query does not carry them. Large (about 3 * K8S_MAX_TARGET): keep one
 * per connection, not on a small stack.
 */
struct k8s_req {
	bool resource_request;	/* false: a non-resource URL */
	bool connect;		/* exec/attach/portforward/proxy */
	const char *verb;	/* RBAC verb; "" for a method RBAC has no verb for */
	const char *path;	/* the decoded path, "/..." */
	const char *prefix;	/* "api" or "apis" ("" for non-resource) */
	const char *group;	/* "" core */
	const char *version;
	const char *ns;
	const char *resource;
	const char *name;
	const char *subresource;
	/* query values, decoded, first occurrence (NULL: absent) */
	const char *label_selector;
	const char *field_selector;
	const char *container;
	bool dry_run;		/* dryRun present */
	bool tty, stdin_, follow;
	/* exec: each command= word, in order */
	const char *command[K8S_MAX_COMMAND];
	unsigned n_command;
	bool command_cut;	/* more words than K8S_MAX_COMMAND */
	enum k8s_patch patch;
	size_t used;
	char buf[3 * K8S_MAX_TARGET + 64];
};

/*
 * Fill r from the method (an HTTP token, e.g. what http.h parsed) and the
 * origin-form request target (path, optional ?query). Returns 0, -EINVAL
 * (malformed or ambiguous, above) or -ENAMETOOLONG; r is meaningless after
 * an error.
 */
int k8s_req_parse(struct k8s_req *r, const char *method, size_t mlen, const char *target,
		  size_t tlen);

/* The patch type a Content-Type names (parameters ignored). */
enum k8s_patch k8s_patch_type(const char *ct, size_t len);

/* "json", "merge", "strategic", "apply", "other", or NULL for NONE. */
const char *k8s_patch_name(enum k8s_patch p);

/* The attributes policy decides on; the strings are borrowed from r. */
void k8s_req_policy(const struct k8s_req *r, struct policy_k8s_req *out);

#endif /* SLUICE_K8SREQ_H */
