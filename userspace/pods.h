/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Which pod a caller runs in (DESIGN §3): the pod UID and container id are
 * read off the caller's cgroup path, the rest (namespace, name, service
 * account, labels) comes from a table the daemon keeps. The table is
 * filled from the config's static "pods" map (hosts without Kubernetes,
 * tests) and, on a cluster, from the API server by the pod cache; both go
 * through pod_table_put(), so a lookup does not care where an entry came
 * from.
 */
#ifndef SLUICE_PODS_H
#define SLUICE_PODS_H

#include <stddef.h>
#include <jansson.h>

/* A pod UID as Kubernetes writes it: 36 characters, lower-case hex and "-". */
#define POD_UID_LEN 36
/* A container id: 64 lower-case hex digits (containerd, CRI-O, Docker). */
#define POD_CONTAINER_LEN 64

struct pod_info {
	char *uid;
	char *ns;		/* namespace */
	char *name;
	char *service_account;	/* NULL: not known */
	char **label_keys;	/* n_labels each */
	char **label_values;
	size_t n_labels;
	char *source;		/* "config" or "api" */
};

/*
 * The pod UID and container id in a cgroup v2 path, for both kubelet
 * cgroup drivers and the common runtimes:
 *   systemd:  .../kubepods-burstable-pod<uid with _>.slice/
 *             cri-containerd-<id>.scope | crio-<id>.scope | docker-<id>.scope
 *   cgroupfs: .../kubepods/burstable/pod<uid>/<id>
 * uid gets the UID with "-" (36 characters + NUL), container the id (64 +
 * NUL) or "" when the path ends at the pod (a sandbox-less process). Returns
 * 0, or -ENOENT when the path is not a pod's. Never reads past path.
 */
int pods_parse_cgroup(const char *path, char uid[POD_UID_LEN + 1],
		      char container[POD_CONTAINER_LEN + 1]);

struct pod_table;

/* A new empty table, or NULL (ENOMEM). Thread-safe: readers and writers
 * may use it at once. Free with pod_table_free(). */
struct pod_table *pod_table_new(void);
void pod_table_free(struct pod_table *t);

/* Add or replace (by uid) a copy of p. Returns 0 or -ENOMEM/-EINVAL. */
int pod_table_put(struct pod_table *t, const struct pod_info *p);

/* Forget uid. Returns 0 or -ENOENT. */
int pod_table_del(struct pod_table *t, const char *uid);

/* A copy of the entry for uid (free with pod_info_free()), or NULL with
 * errno ENOENT or ENOMEM. */
struct pod_info *pod_table_get(struct pod_table *t, const char *uid);

/* Entries in the table. */
size_t pod_table_count(struct pod_table *t);

/* A deep copy of p, or NULL (ENOMEM). */
struct pod_info *pod_info_dup(const struct pod_info *p);
void pod_info_free(struct pod_info *p);

/* {"uid", "namespace", "name", "service_account", "labels", "source"}
 * (new reference, NULL on ENOMEM). */
json_t *pod_info_json(const struct pod_info *p);

/* Every entry as pod_info_json() objects, in no particular order (new
 * reference, NULL on ENOMEM): `sluice pod list`. */
json_t *pod_table_json(struct pod_table *t);

#endif
