/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A session's two identities (DESIGN §3) in one place: the kernel's (from
 * the redirect record, plus the pod read off the cgroup path) and the one
 * the agent presented (a verified token or client certificate, jwt.h).
 * Protocol modules fill the presented half; policy sees both through
 * identity_policy(); the recording gets both as JSON.
 */
#ifndef SLUICE_IDENTITY_H
#define SLUICE_IDENTITY_H

#include <stdint.h>
#include <jansson.h>

#include "jwt.h"
#include "policy.h"
#include "pods.h"

struct identity {
	/* kernel */
	uint32_t uid, gid, pid, tid;
	char comm[16];
	uint64_t cgroup_id, netns_cookie;
	char *cgroup;			/* cgroup v2 path, "" when unknown */
	char pod_uid[POD_UID_LEN + 1];	/* from the cgroup path, "" none */
	char container[POD_CONTAINER_LEN + 1];
	struct pod_info *pod;		/* resolved, NULL: none or unknown */
	/* presented; source JWT_SRC_NONE: nothing presented */
	struct jwt_identity user;
	/* policy's view of the above (identity_policy()) */
	struct policy_identity pol;
	struct policy_pod ppod;
};

/*
 * The kernel half. comm need not be NUL-terminated (up to 15 bytes are
 * taken); cgroup (borrowed, may be NULL) is copied; the pod is looked up in
 * pods (may be NULL). Returns 0 or -ENOMEM. id must be zeroed or cleared.
 */
int identity_set_kernel(struct identity *id, uint32_t uid, uint32_t gid, uint64_t pid_tgid,
			const char *comm, uint64_t cgroup_id, uint64_t netns_cookie,
			const char *cgroup, struct pod_table *pods);

/* The presented half: takes over what u holds (u is left zeroed). */
void identity_set_user(struct identity *id, struct jwt_identity *u);

/* Policy's view: pointers into id, valid until it changes or is cleared. */
const struct policy_identity *identity_policy(struct identity *id);

/*
 * {"pid", "tid", "uid", "gid", "comm", "cgroup_id", "cgroup",
 * "netns_cookie", "pod": {"uid", "container"?, "namespace"?, "name"?,
 * "service_account"?, "labels"?, "resolved"} | null}; new reference.
 */
json_t *identity_kernel_json(const struct identity *id);

/* {"name", "groups", "source": "jwt"|"cert", "issuer", "expires"} or
 * JSON null when nothing was presented; new reference. */
json_t *identity_user_json(const struct identity *id);

/* {"user": ..., "kernel": ...}: the shape `sluice policy test` takes. */
json_t *identity_json(const struct identity *id);

/*
 * Who this is for approvals: the presented user when there is one
 * ("user:<name>"), else the kernel's uid with the pod or cgroup
 * ("uid:<n> pod:<ns>/<name>" or "uid:<n> cgroup:<path>"). Truncated to
 * len; always NUL-terminated.
 */
void identity_key(const struct identity *id, char *out, size_t len);

void identity_clear(struct identity *id);

#endif
