// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"

int identity_set_kernel(struct identity *id, uint32_t uid, uint32_t gid, uint64_t pid_tgid,
			const char *comm, uint64_t cgroup_id, uint64_t netns_cookie,
			const char *cgroup, struct pod_table *pods)
{
	id->uid = uid;
	id->gid = gid;
	id->pid = (uint32_t)(pid_tgid >> 32);
	id->tid = (uint32_t)pid_tgid;
	snprintf(id->comm, sizeof(id->comm), "%.*s", (int)sizeof(id->comm) - 1,
		 comm ? comm : "");
	id->cgroup_id = cgroup_id;
	id->netns_cookie = netns_cookie;
	free(id->cgroup);
	id->cgroup = strdup(cgroup ? cgroup : "");
	if (!id->cgroup)
		return -ENOMEM;
	pod_info_free(id->pod);
	id->pod = NULL;
	if (pods_parse_cgroup(id->cgroup, id->pod_uid, id->container) == 0 && pods) {
		id->pod = pod_table_get(pods, id->pod_uid);
		if (!id->pod && errno == ENOMEM)
			return -ENOMEM;
	}
	return 0;
}

void identity_set_user(struct identity *id, struct jwt_identity *u)
{
	jwt_identity_clear(&id->user);
	id->user = *u;
	memset(u, 0, sizeof(*u));
}

const struct policy_identity *identity_policy(struct identity *id)
{
	struct policy_identity *p = &id->pol;

	memset(p, 0, sizeof(*p));
	p->authenticated = id->user.source != JWT_SRC_NONE;
	if (p->authenticated) {
		p->user = id->user.user;
		p->groups = (const char *const *)id->user.groups;
		p->n_groups = id->user.n_groups;
	}
	p->has_uid = true;
	p->uid = id->uid;
	p->comm = id->comm;
	p->cgroup = id->cgroup;
	if (id->pod) {
		id->ppod = (struct policy_pod){
			.ns = id->pod->ns,
			.name = id->pod->name,
			.service_account = id->pod->service_account,
			.label_keys = (const char *const *)id->pod->label_keys,
			.label_values = (const char *const *)id->pod->label_values,
			.n_labels = id->pod->n_labels,
		};
		p->pod = &id->ppod;
	}
	return p;
}

static json_t *pod_json(const struct identity *id)
{
	json_t *j;

	if (!id->pod_uid[0])
		return json_null();
	j = id->pod ? pod_info_json(id->pod) : json_pack("{s:s}", "uid", id->pod_uid);
	if (!j)
		return NULL;
	if (id->container[0])
		json_object_set_new(j, "container", json_string(id->container));
	json_object_set_new(j, "resolved", json_boolean(id->pod != NULL));
	return j;
}

json_t *identity_kernel_json(const struct identity *id)
{
	return json_pack("{s:i, s:i, s:i, s:i, s:s, s:I, s:s, s:I, s:o}", "pid", (int)id->pid,
			 "tid", (int)id->tid, "uid", (int)id->uid, "gid", (int)id->gid, "comm",
			 id->comm, "cgroup_id", (json_int_t)id->cgroup_id, "cgroup",
			 id->cgroup ? id->cgroup : "", "netns_cookie",
			 (json_int_t)id->netns_cookie, "pod", pod_json(id));
}

json_t *identity_user_json(const struct identity *id)
{
	const struct jwt_identity *u = &id->user;
	json_t *groups;

	if (u->source == JWT_SRC_NONE)
		return json_null();
	groups = json_array();
	for (size_t i = 0; groups && i < u->n_groups; i++)
		json_array_append_new(groups, json_string(u->groups[i]));
	return json_pack("{s:s, s:o, s:s, s:s?, s:I}", "name", u->user, "groups", groups,
			 "source", u->source == JWT_SRC_TOKEN ? "jwt" : "cert", "issuer",
			 u->issuer, "expires", (json_int_t)u->expires);
}

json_t *identity_json(const struct identity *id)
{
	return json_pack("{s:o, s:o}", "user", identity_user_json(id), "kernel",
			 identity_kernel_json(id));
}

void identity_key(const struct identity *id, char *out, size_t len)
{
	if (id->user.source != JWT_SRC_NONE)
		snprintf(out, len, "user:%s", id->user.user);
	else if (id->pod)
		snprintf(out, len, "uid:%u pod:%s/%s", id->uid, id->pod->ns, id->pod->name);
	else
		snprintf(out, len, "uid:%u cgroup:%s", id->uid, id->cgroup ? id->cgroup : "");
}

void identity_clear(struct identity *id)
{
	if (!id)
		return;
	free(id->cgroup);
	pod_info_free(id->pod);
	jwt_identity_clear(&id->user);
	memset(id, 0, sizeof(*id));
}
