// SPDX-License-Identifier: BSD-2-Clause
/*
 * userspace/k8s/podcache.c, the parts without a network: a pod object, a
 * watch event line and a list page as the API server writes them (and as
 * a hostile one might), and how lists and events change the pod table.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "k8s/podcache.h"

#define UID_A "0c3f6a2e-7d4b-4e1a-9f5c-2b8d1e6a7c90"
#define UID_B "1d4a7b3f-8e5c-4f2b-a06d-3c9e2f7b8da1"
#define UID_C "2e5b8c40-9f6d-4a3c-b17e-4daf308c9eb2"
#define UID_D "3f6c9d51-a07e-4b4d-828f-5eb0419dafc3"

#define POD(uid, ns, name, extra) \
	"{\"metadata\": {\"uid\": \"" uid "\", \"namespace\": \"" ns "\", \"name\": \"" name \
	"\", \"resourceVersion\": \"42\"" extra "}, \"spec\": {\"nodeName\": \"n1\", " \
	"\"serviceAccountName\": \"agent\"}}"

static char err[256];

static struct pod_info *pod_of(const char *text, char rv[PODCACHE_RV_LEN + 1])
{
	json_t *j = json_loads(text, JSON_ALLOW_NUL, NULL);
	struct pod_info *p;

	cr_assert_not_null(j, "bad test JSON: %s", text);
	err[0] = '\0';
	p = podcache_pod_from_json(j, rv, err, sizeof(err));
	json_decref(j);
	return p;
}

Test(podcache, pod_from_json)
{
	char rv[PODCACHE_RV_LEN + 1];
	struct pod_info *p = pod_of(POD(UID_A, "agents", "agent-0",
					", \"labels\": {\"app\": \"agent\", \"tier\": \"x\"}"), rv);

	cr_assert_not_null(p, "%s", err);
	cr_expect_str_eq(p->uid, UID_A);
	cr_expect_str_eq(p->ns, "agents");
	cr_expect_str_eq(p->name, "agent-0");
	cr_expect_str_eq(p->service_account, "agent");
	cr_expect_str_eq(p->source, "api");
	cr_expect_str_eq(rv, "42");
	cr_assert_eq(p->n_labels, 2);
	cr_expect_str_eq(p->label_keys[0], "app");
	cr_expect_str_eq(p->label_values[1], "x");
	pod_info_free(p);

	/* no spec, no labels: a pod without a service account */
	p = pod_of("{\"metadata\": {\"uid\": \"" UID_B "\", \"namespace\": \"n\", \"name\": \"x\"}}", rv);
	cr_assert_not_null(p, "%s", err);
	cr_expect_null(p->service_account);
	cr_expect_eq(p->n_labels, 0);
	cr_expect_str_eq(rv, "");
	pod_info_free(p);

	/* the deprecated spec.serviceAccount when the new name is absent */
	p = pod_of("{\"metadata\": {\"uid\": \"" UID_B "\", \"namespace\": \"n\", \"name\": \"x\"},"
		   " \"spec\": {\"serviceAccount\": \"old\"}}", NULL);
	cr_assert_not_null(p, "%s", err);
	cr_expect_str_eq(p->service_account, "old");
	pod_info_free(p);
}

Test(podcache, pod_from_json_refusals)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "[]", "not an object with metadata" },
		{ "{\"metadata\": 1}", "not an object with metadata" },
		{ "{\"metadata\": {\"namespace\": \"n\", \"name\": \"x\"}}", "uid missing" },
		{ "{\"metadata\": {\"uid\": \"agent-0\", \"namespace\": \"n\", \"name\": \"x\"}}",
		  "metadata.uid is not a pod UID" },
		{ "{\"metadata\": {\"uid\": \"0c3f6a2e_7d4b_4e1a_9f5c_2b8d1e6a7c90\", \"namespace\": \"n\", \"name\": \"x\"}}",
		  "metadata.uid is not a pod UID" },
		{ "{\"metadata\": {\"uid\": 7, \"namespace\": \"n\", \"name\": \"x\"}}", "uid: expected a string" },
		{ "{\"metadata\": {\"uid\": \"" UID_A "\", \"name\": \"x\"}}", "namespace missing" },
		{ "{\"metadata\": {\"uid\": \"" UID_A "\", \"namespace\": \"n\", \"name\": \"a\\u0000b\"}}",
		  "name: expected a string" },
		{ "{\"metadata\": {\"uid\": \"" UID_A "\", \"namespace\": \"n\", \"name\": \"x\", \"labels\": []}}",
		  "metadata.labels" },
		{ "{\"metadata\": {\"uid\": \"" UID_A "\", \"namespace\": \"n\", \"name\": \"x\", \"labels\": {\"a\": 1}}}",
		  "metadata.labels" },
		{ "{\"metadata\": {\"uid\": \"" UID_A "\", \"namespace\": \"n\", \"name\": \"x\"},"
		  " \"spec\": {\"serviceAccountName\": {}}}", "serviceAccountName: expected a string" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pod_info *p = pod_of(bad[i].text, NULL);

		cr_expect_null(p, "case %zu accepted: %s", i, bad[i].text);
		cr_expect_eq(errno, EINVAL, "case %zu errno %d", i, errno);
		cr_expect_not_null(strstr(err, bad[i].why), "case %zu: \"%s\" lacks \"%s\"", i, err,
				   bad[i].why);
		pod_info_free(p);
	}
}

Test(podcache, pod_from_json_bounds)
{
	char name[300], text[1024];
	struct pod_info *p;

	/* 253 bytes is a name, 254 is not */
	memset(name, 'a', 253);
	name[253] = '\0';
	snprintf(text, sizeof(text), POD(UID_A, "n", "%s", ""), name);
	p = pod_of(text, NULL);
	cr_expect_not_null(p, "%s", err);
	pod_info_free(p);
	strcat(name, "a");
	snprintf(text, sizeof(text), POD(UID_A, "n", "%s", ""), name);
	p = pod_of(text, NULL);
	cr_expect_null(p);
	cr_expect_not_null(strstr(err, "name: expected a string of at most 253 bytes"), "%s", err);

	/* a label value of 64 bytes is not one the API server would store */
	memset(name, 'v', 64);
	name[64] = '\0';
	snprintf(text, sizeof(text), POD(UID_A, "n", "x", ", \"labels\": {\"k\": \"%s\"}"), name);
	p = pod_of(text, NULL);
	cr_expect_null(p);
	cr_expect_not_null(strstr(err, "metadata.labels"), "%s", err);
}

static int event_of(const char *line, struct podcache_event *ev)
{
	err[0] = '\0';
	return podcache_parse_event(line, strlen(line), ev, err, sizeof(err));
}

Test(podcache, watch_events)
{
	struct podcache_event ev;

	cr_assert_eq(event_of("{\"type\": \"ADDED\", \"object\": {\"kind\": \"Pod\", \"apiVersion\": \"v1\","
			      " \"metadata\": {\"uid\": \"" UID_A "\", \"namespace\": \"n\", \"name\": \"x\","
			      " \"resourceVersion\": \"100\"}}}", &ev), 0, "%s", err);
	cr_expect_eq(ev.action, PODCACHE_PUT);
	cr_expect_str_eq(ev.pod->uid, UID_A);
	cr_expect_str_eq(ev.rv, "100");
	podcache_event_clear(&ev);

	cr_assert_eq(event_of("{\"type\": \"MODIFIED\", \"object\": " POD(UID_A, "n", "x", "") "}", &ev), 0,
		     "%s", err);
	cr_expect_eq(ev.action, PODCACHE_PUT);
	cr_expect_str_eq(ev.rv, "42");
	podcache_event_clear(&ev);

	cr_assert_eq(event_of("{\"type\": \"DELETED\", \"object\": " POD(UID_B, "n", "y", "") "}", &ev), 0,
		     "%s", err);
	cr_expect_eq(ev.action, PODCACHE_DEL);
	cr_expect_str_eq(ev.pod->uid, UID_B);
	podcache_event_clear(&ev);

	cr_assert_eq(event_of("{\"type\": \"BOOKMARK\", \"object\": {\"kind\": \"Pod\", \"apiVersion\": \"v1\","
			      " \"metadata\": {\"resourceVersion\": \"12345\"}}}", &ev), 0, "%s", err);
	cr_expect_eq(ev.action, PODCACHE_BOOKMARK);
	cr_expect_null(ev.pod);
	cr_expect_str_eq(ev.rv, "12345");
	podcache_event_clear(&ev);

	cr_assert_eq(event_of("{\"type\": \"ERROR\", \"object\": {\"kind\": \"Status\", \"apiVersion\": \"v1\","
			      " \"status\": \"Failure\", \"message\": \"too old resource version: 1 (2)\","
			      " \"reason\": \"Expired\", \"code\": 410}}", &ev), 0, "%s", err);
	cr_expect_eq(ev.action, PODCACHE_RELIST);
	cr_expect_eq(ev.code, 410);
	podcache_event_clear(&ev);

	cr_assert_eq(event_of("{\"type\": \"ERROR\", \"object\": {\"kind\": \"Status\", \"code\": 500}}", &ev), 0);
	cr_expect_eq(ev.action, PODCACHE_FAILED);
	cr_expect_eq(ev.code, 500);
	podcache_event_clear(&ev);

	/* with the line's own length: no NUL needed, trailing bytes ignored */
	{
		const char line[] = "{\"type\": \"DELETED\", \"object\": " POD(UID_C, "n", "z", "") "}GARBAGE";

		cr_assert_eq(podcache_parse_event(line, sizeof(line) - 1 - 7, &ev, err, sizeof(err)), 0,
			     "%s", err);
		cr_expect_str_eq(ev.pod->uid, UID_C);
		podcache_event_clear(&ev);
	}
}

Test(podcache, watch_events_refused)
{
	static const struct {
		const char *line, *why;
	} bad[] = {
		{ "", "not JSON" },
		{ "{\"type\": \"ADDED\", \"object\": {", "not JSON" },
		{ "{\"type\": \"ADDED\"}", "not a watch event" },
		{ "{\"type\": 1, \"object\": {}}", "not a watch event" },
		{ "{\"type\": \"ADDED\", \"object\": []}", "not a watch event" },
		{ "{\"type\": \"ADDED\", \"type\": \"DELETED\", \"object\": {}}", "not JSON" },
		{ "{\"type\": \"EXPLODED\", \"object\": " POD(UID_A, "n", "x", "") "}", "unknown event type \"EXPLODED\"" },
		{ "{\"type\": \"ADDED\", \"object\": {\"kind\": \"Secret\", \"metadata\": {}}}", "object is not a Pod" },
		{ "{\"type\": \"ADDED\", \"object\": {\"kind\": \"Pod\", \"metadata\": {\"name\": \"x\"}}}",
		  "ADDED uid missing" },
		{ "{\"type\": \"BOOKMARK\", \"object\": {\"kind\": \"Pod\", \"metadata\": {}}}",
		  "bookmark without a usable resourceVersion" },
	};
	struct podcache_event ev;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(event_of(bad[i].line, &ev), -EINVAL, "case %zu accepted", i);
		cr_expect_null(ev.pod, "case %zu", i);
		cr_expect_not_null(strstr(err, bad[i].why), "case %zu: \"%s\" lacks \"%s\"", i, err,
				   bad[i].why);
	}
	/* longer than a line may be: refused before parsing */
	cr_expect_eq(podcache_parse_event("x", PODCACHE_MAX_LINE + 1, &ev, err, sizeof(err)), -EINVAL);
	cr_expect_not_null(strstr(err, "event longer than"), "%s", err);
}

static void free_pods(struct pod_info **pods, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pod_info_free(pods[i]);
	free(pods);
}

Test(podcache, list_pages)
{
	static const char page1[] =
		"{\"kind\": \"PodList\", \"apiVersion\": \"v1\", \"metadata\": {\"resourceVersion\": \"77\","
		" \"continue\": \"eyJ2IjoibWV0YSJ9\"}, \"items\": [" POD(UID_A, "n", "a", "") ","
		" {\"metadata\": {\"uid\": \"bad\", \"namespace\": \"n\", \"name\": \"b\"}}]}";
	static const char page2[] =
		"{\"kind\": \"PodList\", \"metadata\": {\"resourceVersion\": \"78\"}, \"items\": ["
		POD(UID_B, "n", "b", "") "]}";
	struct pod_info **pods = NULL;
	char rv[PODCACHE_RV_LEN + 1], *cont;
	size_t n = 0;

	cr_assert_eq(podcache_parse_list(page1, strlen(page1), &pods, &n, rv, &cont, err, sizeof(err)),
		     0, "%s", err);
	cr_expect_eq(n, 1);	/* the bad item is skipped */
	cr_expect_str_eq(rv, "77");
	cr_assert_not_null(cont);
	cr_expect_str_eq(cont, "eyJ2IjoibWV0YSJ9");
	free(cont);
	cr_assert_eq(podcache_parse_list(page2, strlen(page2), &pods, &n, rv, &cont, err, sizeof(err)),
		     0, "%s", err);
	cr_expect_eq(n, 2);
	cr_expect_str_eq(pods[1]->uid, UID_B);
	cr_expect_str_eq(rv, "78");
	cr_expect_null(cont);
	free_pods(pods, n);

	/* an empty node */
	pods = NULL;
	n = 0;
	{
		static const char empty[] = "{\"metadata\": {\"resourceVersion\": \"5\"}, \"items\": []}";

		cr_assert_eq(podcache_parse_list(empty, strlen(empty), &pods, &n, rv, &cont, err,
						 sizeof(err)), 0, "%s", err);
	}
	cr_expect_eq(n, 0);
	free_pods(pods, n);
}

Test(podcache, list_refused)
{
	static const char *const bad[][2] = {
		{ "nope", "not JSON" },
		{ "{\"kind\": \"Status\", \"metadata\": {}, \"code\": 403}", "not a PodList" },
		{ "{\"metadata\": {}, \"items\": []}", "PodList without a usable resourceVersion" },
		{ "{\"metadata\": {\"resourceVersion\": \"1\"}, \"items\": {}}", "not a PodList" },
	};
	struct pod_info **pods = NULL;
	char rv[PODCACHE_RV_LEN + 1], *cont;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(podcache_parse_list(bad[i][0], strlen(bad[i][0]), &pods, &n, rv, &cont, err,
						 sizeof(err)), -EINVAL, "case %zu", i);
		cr_expect_not_null(strstr(err, bad[i][1]), "case %zu: \"%s\" lacks \"%s\"", i, err, bad[i][1]);
	}
	cr_expect_eq(n, 0);
	/* no more than a node's worth of pods */
	{
		static const char one[] = "{\"metadata\": {\"resourceVersion\": \"1\"}, \"items\": ["
					  POD(UID_A, "n", "a", "") "]}";

		n = PODCACHE_MAX_PODS;
		cr_expect_eq(podcache_parse_list(one, strlen(one), &pods, &n, rv, &cont, err, sizeof(err)),
			     -E2BIG);
	}
	cr_expect_null(pods);
}

static struct pod_info *mk(const char *uid, const char *name)
{
	char text[512];

	snprintf(text, sizeof(text), POD("%s", "n", "%s", ""), uid, name);
	return pod_of(text, NULL);
}

static bool has(struct pod_table *t, const char *uid)
{
	struct pod_info *p = pod_table_get(t, uid);

	pod_info_free(p);
	return p != NULL;
}

Test(podcache, lists_and_events_keep_the_table)
{
	struct pod_table *t = pod_table_new();
	struct podcache_set *s = podcache_set_new();
	struct pod_info *l1[] = { mk(UID_A, "a"), mk(UID_B, "b") };
	struct pod_info *l2[] = { mk(UID_C, "c"), mk(UID_B, "b2") };
	struct pod_info stat = { .uid = UID_D, .ns = "n", .name = "static", .source = "config" };
	struct podcache_event ev = { .action = PODCACHE_PUT };
	struct pod_info *got;

	cr_assert(t && s);
	/* a pod from the static map is not the cache's to delete */
	cr_assert_eq(pod_table_put(t, &stat), 0);
	cr_assert_eq(podcache_apply_list(s, t, l1, 2), 0);
	cr_expect_eq(pod_table_count(t), 3);
	cr_expect_eq(podcache_set_count(s), 2);

	/* A went away while nobody watched, C came, B changed */
	cr_assert_eq(podcache_apply_list(s, t, l2, 2), 0);
	cr_expect(!has(t, UID_A));
	cr_expect(has(t, UID_C));
	cr_expect(has(t, UID_D));
	got = pod_table_get(t, UID_B);
	cr_assert_not_null(got);
	cr_expect_str_eq(got->name, "b2");
	cr_expect_str_eq(got->source, "api");
	pod_info_free(got);
	cr_expect_eq(pod_table_count(t), 3);

	/* events: put A, delete C; a bookmark changes nothing */
	ev.pod = l1[0];
	cr_assert_eq(podcache_apply_event(s, t, &ev), 0);
	cr_expect(has(t, UID_A));
	ev.action = PODCACHE_DEL;
	ev.pod = l2[0];
	cr_assert_eq(podcache_apply_event(s, t, &ev), 0);
	cr_expect(!has(t, UID_C));
	cr_assert_eq(podcache_apply_event(s, t, &ev), 0);	/* twice: no harm */
	ev.action = PODCACHE_BOOKMARK;
	ev.pod = NULL;
	cr_assert_eq(podcache_apply_event(s, t, &ev), 0);
	cr_expect_eq(podcache_set_count(s), 2);	/* A, B */

	/* an empty list empties what the cache put, and only that */
	cr_assert_eq(podcache_apply_list(s, t, NULL, 0), 0);
	cr_expect_eq(pod_table_count(t), 1);
	cr_expect(has(t, UID_D));
	cr_expect_eq(podcache_set_count(s), 0);

	for (size_t i = 0; i < 2; i++) {
		pod_info_free(l1[i]);
		pod_info_free(l2[i]);
	}
	podcache_set_free(s);
	pod_table_free(t);
}

Test(podcache, start_without_config_is_a_no_op)
{
	struct config cfg = { 0 };	/* "pod_cache" left out */

	cr_assert_eq(podcache_start(&cfg, NULL), 0);
	podcache_stop();
}
