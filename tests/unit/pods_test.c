// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "pods.h"

#define UID "0c3f6a2e-7d4b-4e1a-9f5c-2b8d1e6a7c90"
#define UIDU "0c3f6a2e_7d4b_4e1a_9f5c_2b8d1e6a7c90"
#define CID "4f2b9c1d8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c"

struct cg_case {
	const char *path;
	int rc;
	const char *uid, *container;
};

static const struct cg_case cases[] = {
	/* systemd driver, each QoS class and runtime */
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDU
	  ".slice/cri-containerd-" CID ".scope", 0, UID, CID },
	{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UIDU
	  ".slice/crio-" CID ".scope", 0, UID, CID },
	{ "/kubepods.slice/kubepods-pod" UIDU ".slice/docker-" CID ".scope", 0, UID, CID },
	{ "/kubepods.slice/kubepods-pod" UIDU ".slice", 0, UID, "" },
	/* cgroupfs driver */
	{ "/kubepods/burstable/pod" UID "/" CID, 0, UID, CID },
	{ "/kubepods/pod" UID "/" CID, 0, UID, CID },
	{ "/kubepods/besteffort/pod" UID "/crio-" CID, 0, UID, CID },
	{ "/kubepods/besteffort/pod" UID, 0, UID, "" },
	/* nested under a node's own slice (kind, systemd-in-container) */
	{ "/system.slice/node.scope/kubepods/pod" UID "/" CID, 0, UID, CID },
	/* a container element that is not one is left empty */
	{ "/kubepods/pod" UID "/not-a-container", 0, UID, "" },
	/* not pods */
	{ "/", -ENOENT, "", "" },
	{ "", -ENOENT, "", "" },
	{ "/user.slice/user-0.slice/session-1.scope", -ENOENT, "", "" },
	{ "/kubepods/podnot-a-uid/" CID, -ENOENT, "", "" },
	{ "/kubepods/pod" UID "x/" CID, -ENOENT, "", "" },
	{ "/kubepods.slice/kubepods-pod" UIDU ".slic", -ENOENT, "", "" },
	{ "/kubepods.slice/kubepods-pod" UIDU "slice", -ENOENT, "", "" },
	{ "/pod", -ENOENT, "", "" },
	{ "/kubepods-pod.slice", -ENOENT, "", "" },
	/* upper-case hex is not how Kubernetes writes UIDs */
	{ "/kubepods/pod0C3F6A2E-7D4B-4E1A-9F5C-2B8D1E6A7C90", -ENOENT, "", "" },
};

Test(pods, parse_cgroup_table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char uid[POD_UID_LEN + 1], cid[POD_CONTAINER_LEN + 1];
		int rc = pods_parse_cgroup(cases[i].path, uid, cid);

		cr_expect_eq(rc, cases[i].rc, "case %zu (%s): rc %d", i, cases[i].path, rc);
		cr_expect_str_eq(uid, cases[i].uid, "case %zu uid", i);
		cr_expect_str_eq(cid, cases[i].container, "case %zu container", i);
	}
}

Test(pods, parse_cgroup_every_prefix_is_safe)
{
	static const char full[] = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDU
				   ".slice/cri-containerd-" CID ".scope";

	/* every truncation parses without reading past its end */
	for (size_t n = 0; n < sizeof(full); n++) {
		char uid[POD_UID_LEN + 1], cid[POD_CONTAINER_LEN + 1];
		char *p = malloc(n + 1);

		memcpy(p, full, n);
		p[n] = '\0';
		pods_parse_cgroup(p, uid, cid);
		cr_expect(strlen(uid) == 0 || strlen(uid) == POD_UID_LEN);
		free(p);
	}
	cr_assert_eq(pods_parse_cgroup(NULL, (char[POD_UID_LEN + 1]){ 0 },
				       (char[POD_CONTAINER_LEN + 1]){ 0 }), -ENOENT);
}

Test(pods, table_put_get_replace_del)
{
	struct pod_table *t = pod_table_new();
	char *keys[] = { "app", "team" }, *vals[] = { "agent", "ml" };
	struct pod_info p = { .uid = UIDU, .ns = "agents", .name = "agent-0",
			      .service_account = "agent", .label_keys = keys,
			      .label_values = vals, .n_labels = 2, .source = "config" };
	struct pod_info *g;

	cr_assert(t);
	cr_assert_eq(pod_table_put(t, &p), 0);
	/* stored under the UID as the cgroup parser spells it */
	g = pod_table_get(t, UID);
	cr_assert(g);
	cr_expect_str_eq(g->uid, UID);
	cr_expect_str_eq(g->ns, "agents");
	cr_expect_str_eq(g->name, "agent-0");
	cr_expect_str_eq(g->service_account, "agent");
	cr_assert_eq(g->n_labels, 2);
	cr_expect_str_eq(g->label_keys[1], "team");
	cr_expect_str_eq(g->label_values[1], "ml");
	/* the copy outlives a replacement */
	p.name = "agent-1";
	p.n_labels = 0;
	p.source = "api";
	cr_assert_eq(pod_table_put(t, &p), 0);
	cr_expect_eq(pod_table_count(t), 1);
	cr_expect_str_eq(g->name, "agent-0");
	pod_info_free(g);
	g = pod_table_get(t, UID);
	cr_assert(g);
	cr_expect_str_eq(g->name, "agent-1");
	cr_expect_eq(g->n_labels, 0);

	json_t *j = pod_info_json(g);
	cr_assert(j);
	cr_expect_str_eq(json_string_value(json_object_get(j, "source")), "api");
	cr_expect_str_eq(json_string_value(json_object_get(j, "namespace")), "agents");
	json_decref(j);
	pod_info_free(g);

	cr_expect_eq(pod_table_del(t, UID), 0);
	cr_expect_eq(pod_table_del(t, UID), -ENOENT);
	cr_expect_null(pod_table_get(t, UID));
	cr_expect_eq(errno, ENOENT);
	cr_expect_eq(pod_table_count(t), 0);
	/* a key that is not a UID is refused */
	p.uid = "agent-0";
	cr_expect_eq(pod_table_put(t, &p), -EINVAL);
	pod_table_free(t);
	pod_table_free(NULL);
}

Test(pods, table_many)
{
	struct pod_table *t = pod_table_new();
	char uid[POD_UID_LEN + 1];

	for (int i = 0; i < 1000; i++) {
		struct pod_info p = { .uid = uid, .ns = "ns", .name = "n" };

		snprintf(uid, sizeof(uid), "%08x-0000-4000-8000-000000000000", i);
		cr_assert_eq(pod_table_put(t, &p), 0);
	}
	cr_expect_eq(pod_table_count(t), 1000);
	for (int i = 0; i < 1000; i += 7) {
		struct pod_info *g;

		snprintf(uid, sizeof(uid), "%08x-0000-4000-8000-000000000000", i);
		g = pod_table_get(t, uid);
		cr_assert(g, "uid %s", uid);
		pod_info_free(g);
	}
	pod_table_free(t);
}
