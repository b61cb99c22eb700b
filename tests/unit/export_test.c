// SPDX-License-Identifier: BSD-2-Clause
/*
 * The export feed in userspace/store.c (one global order across
 * sessions, recovered after a restart, cursors, retention keeping back
 * what a sink has not taken), userspace/export/formats.c (every OCSF
 * required field of each class, CEF escaping, the k8s audit Event shape)
 * and userspace/export/sinks.c (file rotation, syslog octet counting
 * against a socket of the test's own).
 */
#include <errno.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include <jansson.h>

#include "export/formats.h"
#include "log.h"
#include "store.h"

extern void store_test_set_clock(uint64_t ns);

static char dir[64], db_path[128], key_path[128];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void setup(void)
{
	log_set_level(LOG_ERROR);
	strcpy(dir, "/tmp/export_test.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/db", dir);
	snprintf(key_path, sizeof(key_path), "%s/seal.pem", dir);
}

static void teardown(void)
{
	store_test_set_clock(0);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(feed, .init = setup, .fini = teardown, .timeout = 60);

static struct store *open_rw(unsigned retention_days)
{
	struct store_opts o = {
		.path = db_path, .mode = STORE_STRICT, .sync_ms = 100,
		.seal_key = key_path, .seal_interval_ms = 3600000,
		.retention_days = retention_days,
	};
	char err[256] = "";
	struct store *s = store_open(&o, err, sizeof(err));

	cr_assert_not_null(s, "store_open: %s", err);
	return s;
}

static struct store *open_ro(void)
{
	char err[256] = "";
	struct store *s = store_open_ro(db_path, err, sizeof(err));

	cr_assert_not_null(s, "store_open_ro: %s", err);
	return s;
}

static atomic_int n_done;

static void done_cb(struct store_rec *r, int err)
{
	cr_assert_eq(err, 0);
	free((void *)r->payload);
	free(r);
	atomic_fetch_add(&n_done, 1);
}

/* An event (JSON text owned by the record) or a chunk of `text`. */
static void rec(struct store *s, struct store_chain *c, int kind, const char *text)
{
	struct store_rec *r = calloc(1, sizeof(*r));
	char *p = strdup(text);

	cr_assert(r && p);
	store_rec_fill(c, r, kind, kind == STORE_REC_CHUNK ? STORE_DIR_UP : 0, 0,
		       (uint64_t)time(NULL) * 1000000000ull, p, strlen(p));
	r->done = done_cb;
	cr_assert_eq(store_submit(s, r), 0);
}

struct seen {
	char what[64][96];	/* "e <sid8> <seq> <type>" or "s <sid8>" */
	uint64_t fseq[64];
	int n;
};

static int seen_cb(void *ctx, const struct store_feed_item *it)
{
	struct seen *sn = ctx;
	char sid[33];

	cr_assert_lt(sn->n, 64);
	store_sid_format(it->sid, sid);
	sid[8] = '\0';
	if (it->kind == STORE_FEED_EVENT)
		snprintf(sn->what[sn->n], 96, "e %s %llu %.*s", sid,
			 (unsigned long long)it->seq, (int)it->len, it->json);
	else
		snprintf(sn->what[sn->n], 96, "s %s", sid);
	sn->fseq[sn->n++] = it->fseq;
	return 0;
}

static void read_all(struct store *s, uint64_t after, struct seen *sn)
{
	uint64_t last;
	int n;

	memset(sn, 0, sizeof(*sn));
	n = store_feed_read(s, after, 64, seen_cb, sn, &last);
	cr_assert_eq(n, sn->n, "read returned %d", n);
}

Test(feed, one_order_across_sessions_and_restarts)
{
	struct store *s = open_rw(0);
	struct store_chain a, b;
	char sa[33], sb[33], want[96];
	struct seen sn;

	cr_assert_eq(store_feed_head(s), 0);
	cr_assert_eq(store_session_begin(s, &a, NULL), 0);
	cr_assert_eq(store_session_begin(s, &b, NULL), 0);
	rec(s, &a, STORE_REC_EVENT, "{\"t\":1}");
	rec(s, &b, STORE_REC_EVENT, "{\"t\":2}");
	rec(s, &a, STORE_REC_CHUNK, "bytes are not exported");
	rec(s, &a, STORE_REC_EVENT, "{\"t\":3}");
	while (atomic_load(&n_done) < 4)
		usleep(1000);
	rec(s, &b, STORE_REC_EVENT, "{\"t\":4}");
	cr_assert_eq(store_session_end(s, &a, NULL), 0);
	store_close(s);		/* b's open session gets a (non-final) seal */

	store_sid_format(a.sid, sa);
	store_sid_format(b.sid, sb);
	sa[8] = sb[8] = '\0';
	s = open_ro();
	cr_assert_eq(store_feed_head(s), 6);
	read_all(s, 0, &sn);
	cr_assert_eq(sn.n, 6);
	snprintf(want, sizeof(want), "e %s 0 {\"t\":1}", sa);
	cr_expect_str_eq(sn.what[0], want);
	snprintf(want, sizeof(want), "e %s 0 {\"t\":2}", sb);
	cr_expect_str_eq(sn.what[1], want);
	snprintf(want, sizeof(want), "e %s 2 {\"t\":3}", sa);	/* seq 1 was the chunk */
	cr_expect_str_eq(sn.what[2], want);
	snprintf(want, sizeof(want), "e %s 1 {\"t\":4}", sb);
	cr_expect_str_eq(sn.what[3], want);
	snprintf(want, sizeof(want), "s %s", sa);
	cr_expect_str_eq(sn.what[4], want);
	snprintf(want, sizeof(want), "s %s", sb);
	cr_expect_str_eq(sn.what[5], want);
	for (int i = 0; i < 6; i++)
		cr_expect_eq(sn.fseq[i], (uint64_t)i + 1);
	/* from a cursor on */
	read_all(s, 4, &sn);
	cr_assert_eq(sn.n, 2);
	cr_expect_eq(sn.fseq[0], 5);
	store_close(s);

	/* a restart continues the sequence */
	s = open_rw(0);
	cr_assert_eq(store_feed_head(s), 6);
	cr_assert_eq(store_session_begin(s, &a, NULL), 0);
	rec(s, &a, STORE_REC_EVENT, "{\"t\":5}");
	cr_assert_eq(store_session_end(s, &a, NULL), 0);
	store_close(s);
	s = open_ro();
	read_all(s, 6, &sn);
	cr_assert_eq(sn.n, 2);
	cr_expect_eq(sn.fseq[0], 7);
	cr_expect_eq(sn.fseq[1], 8);
	cr_expect_eq(strncmp(sn.what[1], "s ", 2), 0);
	store_close(s);
}

Test(feed, cursors)
{
	struct store *s = open_rw(0);
	uint64_t c = 99, n, age;
	json_t *all;

	cr_expect_eq(store_export_cursor_get(s, "siem", &c), -ENOENT);
	cr_expect_eq(store_export_cursor_get(s, "", &c), -EINVAL);
	cr_expect_eq(store_export_cursor_set(s, "siem", 41), 0);
	cr_expect_eq(store_export_cursor_set(s, "siem", 42), 0);
	cr_expect_eq(store_export_cursor_set(s, "file", 7), 0);
	cr_expect_eq(store_export_cursor_get(s, "siem", &c), 0);
	cr_expect_eq(c, 42);
	cr_expect_eq(store_export_lag(s, 0, &n, &age), 0);
	cr_expect_eq(n, 0);	/* empty feed */
	store_close(s);
	s = open_ro();
	all = store_export_cursor_list(s);
	cr_assert_not_null(all);
	cr_expect_eq(json_object_size(all), 2);
	cr_expect_eq(json_integer_value(json_object_get(all, "siem")), 42);
	cr_expect_eq(json_integer_value(json_object_get(all, "file")), 7);
	cr_expect_eq(store_export_cursor_set(s, "siem", 1), -EROFS);
	json_decref(all);
	store_close(s);
}

/* Retention runs on the recorder's thread, just after the open. */
static uint64_t held_after_open(struct store *s)
{
	for (int i = 0; i < 300 && !store_export_held(s); i++)
		usleep(10000);
	return store_export_held(s);
}

static void old_session(struct store_chain *c)
{
	struct store *s = open_rw(0);
	json_t *meta = json_pack("{s:s}", "target", "t");

	store_test_set_clock((uint64_t)(time(NULL) - 10 * 86400) * 1000000000ull);
	cr_assert_eq(store_session_begin(s, c, meta), 0);
	json_decref(meta);
	rec(s, c, STORE_REC_EVENT, "{\"type\":\"x\"}");
	rec(s, c, STORE_REC_EVENT, "{\"type\":\"y\"}");
	cr_assert_eq(store_session_end(s, c, NULL), 0);
	store_close(s);
	store_test_set_clock(0);
}

Test(feed, retention_keeps_what_a_sink_has_not_taken)
{
	struct store_chain c;
	struct store *s;
	struct seen sn;
	json_t *v;

	old_session(&c);	/* feed: 2 events + final seal = 1..3 */
	s = open_rw(0);
	cr_assert_eq(store_export_cursor_set(s, "siem", 2), 0);
	store_close(s);

	/* retention at open: the sink has not taken the seal (3) */
	s = open_rw(7);
	cr_expect_eq(held_after_open(s), 1);
	store_close(s);
	s = open_ro();
	v = store_session_get(s, c.sid);
	cr_expect_not_null(v, "an unexported session was deleted");
	json_decref(v);
	store_close(s);

	/* the sink catches up: the session goes, and its feed entries */
	s = open_rw(0);
	cr_assert_eq(store_export_cursor_set(s, "siem", 3), 0);
	store_close(s);
	s = open_rw(7);
	cr_expect_eq(store_feed_head(s), 3);
	store_close(s);
	s = open_rw(0);
	cr_expect_eq(store_feed_head(s), 3);	/* numbering goes on */
	store_close(s);
	s = open_ro();
	errno = 0;
	cr_expect_null(store_session_get(s, c.sid));
	cr_expect_eq(errno, ENOENT);
	read_all(s, 0, &sn);
	/* the last entry stays as the numbering's high-water mark (its seal
	 * is kept as evidence); the others went with the session */
	cr_expect_eq(sn.n, 1, "feed entries of a deleted session remain");
	cr_expect_eq(sn.fseq[0], 3);
	store_close(s);
}

Test(feed, sinks_told_replace_stored_cursors)
{
	struct store_chain c;
	struct store *s;
	const char *names[] = { "new" };

	old_session(&c);
	s = open_rw(0);
	cr_assert_eq(store_export_cursor_set(s, "removed-sink", 0), 0);
	cr_assert_eq(store_export_cursor_set(s, "new", 3), 0);
	/* told: only "new" counts, which has taken everything */
	cr_assert_eq(store_export_sinks(s, names, 1), 0);
	store_close(s);
	/* but at open, before anyone tells it, every stored cursor counts */
	s = open_rw(7);
	cr_expect_eq(held_after_open(s), 1);
	store_close(s);
}

/* ---- formats -------------------------------------------------------- */

#define SID "0123456789abcdef0123456789abcdef"

static json_t *session_meta(void)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:i, s:i, s:i, s:s, s:s,"
			 " s:{s:s, s:s, s:s, s:s}}, s:{s:s, s:[s], s:s}}",
			 "target", "prod-k8s", "kind", "kubernetes",
			 "client", "127.0.0.1:40000", "original", "10.96.0.1:443",
			 "upstream", "127.0.0.1:6443",
			 "kernel", "pid", 4242, "uid", 1000, "gid", 1000,
			 "comm", "kubectl", "cgroup", "/agents",
			 "pod", "uid", "u", "namespace", "agents", "name", "agent-0",
			 "service_account", "agent",
			 "user", "name", "alice", "groups", "ai-agents",
			 "source", "jwt");
}

static json_t *render(enum fmt_kind k, json_t *ev, json_t *meta, int seal)
{
	struct fmt_input in = {
		.sid = SID, .seq = 7, .time_ns = 1763790000123456789ull,
		.is_seal = seal, .event = ev, .session = meta,
	};
	json_t *out = fmt_render(k, &in);

	cr_assert_not_null(out, "render failed: %s", strerror(errno));
	return out;
}

static json_t *at(json_t *o, const char *path)
{
	char buf[128], *save = NULL, *part;

	snprintf(buf, sizeof(buf), "%s", path);
	for (part = strtok_r(buf, ".", &save); part && o;
	     part = strtok_r(NULL, ".", &save))
		o = json_object_get(o, part);
	return o;
}

static void has(json_t *o, const char *path)
{
	cr_expect_not_null(at(o, path), "missing %s in %s", path,
			   json_dumps(o, JSON_COMPACT));
}

/* Required by the base event and by every class we emit (OCSF 1.3.0). */
static void ocsf_base(json_t *o, int cls)
{
	static const char *const req[] = {
		"activity_id", "category_uid", "class_uid", "metadata",
		"metadata.product", "metadata.product.name",
		"metadata.product.vendor_name", "metadata.version", "severity_id",
		"time", "type_uid", "metadata.correlation_uid",
	};

	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++)
		has(o, req[i]);
	cr_expect_eq(json_integer_value(at(o, "class_uid")), cls);
	cr_expect_eq(json_integer_value(at(o, "type_uid")),
		     cls * 100 + json_integer_value(at(o, "activity_id")));
	cr_expect_str_eq(json_string_value(at(o, "metadata.version")), FMT_OCSF_VERSION);
	cr_expect_str_eq(json_string_value(at(o, "metadata.correlation_uid")), SID);
	cr_expect(json_is_integer(at(o, "time")));
}

Test(formats, ocsf_authentication_3002)
{
	json_t *meta = session_meta(), *ev = json_deep_copy(meta), *o;

	json_object_set_new(ev, "type", json_string("session_start"));
	o = render(FORMAT_OCSF, ev, NULL, 0);	/* the event carries the meta */
	ocsf_base(o, 3002);
	cr_expect_eq(json_integer_value(at(o, "category_uid")), 3);
	cr_expect_eq(json_integer_value(at(o, "activity_id")), 1);	/* Logon */
	has(o, "user");
	has(o, "user.name");
	/* at least one of service and dst_endpoint */
	has(o, "dst_endpoint.ip");
	has(o, "service.name");
	cr_expect_str_eq(json_string_value(at(o, "user.name")), "alice");
	json_decref(o);
	json_decref(ev);
	json_decref(meta);
}

Test(formats, ocsf_api_activity_6003)
{
	json_t *meta = session_meta(), *o;
	json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i,"
			       " s:i, s:s, s:s, s:{s:s, s:[s]}}",
			       "type", "request", "verb", "delete", "group", "",
			       "version", "v1", "resource", "namespaces",
			       "namespace", "", "name", "prod",
			       "uri", "/api/v1/namespaces/prod", "method", "DELETE",
			       "status", 403, "duration_us", 1500,
			       "decision", "deny", "rule", "no-ns-delete",
			       "impersonated", "user", "alice", "groups", "ai-agents");

	o = render(FORMAT_OCSF, ev, meta, 0);
	ocsf_base(o, 6003);
	cr_expect_eq(json_integer_value(at(o, "activity_id")), 4);	/* Delete */
	has(o, "actor");
	has(o, "actor.user.name");
	has(o, "api");
	has(o, "api.operation");
	has(o, "src_endpoint");
	has(o, "src_endpoint.ip");
	cr_expect_eq(json_integer_value(at(o, "status_id")), 2);
	cr_expect_eq(json_integer_value(at(o, "http_response.code")), 403);
	json_decref(o);
	json_decref(ev);
	json_decref(meta);
}

Test(formats, ocsf_datastore_activity_6005)
{
	json_t *meta = session_meta(), *o;
	json_t *ev = json_pack("{s:s, s:s, s:s, s:[s], s:i, s:i, s:s, s:s}",
			       "type", "statement", "sql", "SELECT * FROM users",
			       "class", "read", "tables", "users", "rows", 3,
			       "duration_us", 10, "decision", "allow", "rule", "r");

	o = render(FORMAT_OCSF, ev, meta, 0);
	ocsf_base(o, 6005);
	cr_expect_eq(json_integer_value(at(o, "activity_id")), 4);	/* Query */
	has(o, "actor");
	has(o, "src_endpoint");
	has(o, "api.operation");
	/* one of database, databucket, table */
	has(o, "database.name");
	has(o, "table.name");
	cr_expect_str_eq(json_string_value(at(o, "query_info.query_string")),
			 "SELECT * FROM users");
	json_decref(o);
	json_decref(ev);
	json_decref(meta);
}

Test(formats, ocsf_other_and_unknown_types)
{
	json_t *meta = session_meta(), *o;
	json_t *ev = json_pack("{s:s, s:s}", "type", "never-heard-of-it", "x", "y");

	o = render(FORMAT_OCSF, ev, meta, 0);
	ocsf_base(o, 0);
	cr_expect_eq(json_integer_value(at(o, "activity_id")), 99);
	cr_expect_str_eq(json_string_value(at(o, "unmapped.event.x")), "y");
	json_decref(o);
	json_decref(ev);
	ev = json_pack("{s:s, s:s}", "payload",
		       "sluice-seal-v1\nsession=" SID "\nrecords=12\n", "sig", "x");
	o = render(FORMAT_OCSF, ev, meta, 1);
	ocsf_base(o, 0);
	json_decref(o);
	json_decref(ev);
	json_decref(meta);
}

static void cef_expect(const char *in, int header, const char *want)
{
	struct fmt_buf b = { 0 };

	cr_assert_eq(header ? fmt_cef_header(&b, in) : fmt_cef_ext(&b, in), 0);
	cr_expect_str_eq(b.p ? b.p : "", want);
	free(b.p);
}

Test(formats, cef_escaping)
{
	cef_expect("a|b\\c=d", 1, "a\\|b\\\\c=d");
	cef_expect("two\nlines\r", 1, "two lines ");
	cef_expect("a|b\\c=d", 0, "a|b\\\\c\\=d");
	cef_expect("two\nlines\r", 0, "two\\nlines\\r");
	cef_expect("", 0, "");
}

Test(formats, cef_line)
{
	json_t *meta = session_meta(), *o;
	json_t *ev = json_pack("{s:s, s:s, s:s, s:s}", "type", "decision|x",
			       "decision", "deny", "rule", "a=b\\c",
			       "reason", "line1\nline2");
	const char *t;

	o = render(FORMAT_CEF, ev, meta, 0);
	cr_assert(json_is_string(o));
	t = json_string_value(o);
	cr_expect_eq(strncmp(t, "CEF:0|sluice|sluice|", 20), 0, "%s", t);
	cr_expect_not_null(strstr(t, "|decision\\|x|decision\\|x|8|"), "%s", t);
	cr_expect_not_null(strstr(t, " cs5=a\\=b\\\\c"), "%s", t);
	cr_expect_not_null(strstr(t, " reason=line1\\nline2"), "%s", t);
	cr_expect_not_null(strstr(t, " cs1=" SID), "%s", t);
	cr_expect_not_null(strstr(t, " cn1=7"), "%s", t);
	cr_expect_not_null(strstr(t, " act=deny"), "%s", t);
	cr_expect_null(strchr(t, '\n'));
	json_decref(o);
	json_decref(ev);
	json_decref(meta);
}

Test(formats, k8s_audit_shape)
{
	static const char *const req[] = {
		"kind", "apiVersion", "level", "auditID", "stage", "requestURI",
		"verb", "user.username", "sourceIPs", "objectRef",
		"responseStatus.code", "requestReceivedTimestamp",
		"stageTimestamp", "annotations",
	};
	json_t *meta = session_meta(), *o, *o2;
	json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i,"
			       " s:s, s:s, s:i, s:s, s:{s:s, s:[s]}}",
			       "type", "request", "verb", "get", "group", "apps",
			       "version", "v1", "resource", "deployments",
			       "namespace", "agents", "name", "web",
			       "uri", "/apis/apps/v1/namespaces/agents/deployments/web",
			       "status", 200, "decision", "allow", "rule", "reads",
			       "duration_us", 2000, "user_agent", "kubectl/v1.30",
			       "impersonated", "user", "alice", "groups", "ai-agents");

	o = render(FORMAT_K8S_AUDIT, ev, meta, 0);
	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++)
		has(o, req[i]);
	cr_expect_str_eq(json_string_value(at(o, "apiVersion")), "audit.k8s.io/v1");
	cr_expect_str_eq(json_string_value(at(o, "kind")), "Event");
	cr_expect_str_eq(json_string_value(at(o, "stage")), "ResponseComplete");
	cr_expect_str_eq(json_string_value(at(o, "verb")), "get");
	cr_expect_str_eq(json_string_value(at(o, "objectRef.resource")), "deployments");
	cr_expect_str_eq(json_string_value(at(o, "objectRef.apiGroup")), "apps");
	cr_expect_str_eq(json_string_value(at(o, "objectRef.namespace")), "agents");
	cr_expect_str_eq(json_string_value(at(o, "impersonatedUser.username")), "alice");
	cr_expect_str_eq(json_string_value(json_array_get(at(o, "sourceIPs"), 0)),
			 "127.0.0.1");
	/* microseconds, and received = stage - duration */
	cr_expect_str_eq(json_string_value(at(o, "stageTimestamp")),
			 "2025-11-22T05:40:00.123456Z");
	cr_expect_str_eq(json_string_value(at(o, "requestReceivedTimestamp")),
			 "2025-11-22T05:40:00.121456Z");
	cr_expect_str_eq(json_string_value(json_object_get(at(o, "annotations"),
							   "sluice.io/session")), SID);
	cr_expect_str_eq(json_string_value(json_object_get(at(o, "annotations"),
							   "sluice.io/kernel.comm")), "kubectl");
	cr_expect_eq(strlen(json_string_value(at(o, "auditID"))), 36);
	/* the same record renders the same auditID (duplicates can be dropped) */
	o2 = render(FORMAT_K8S_AUDIT, ev, meta, 0);
	cr_expect_str_eq(json_string_value(at(o, "auditID")),
			 json_string_value(at(o2, "auditID")));
	json_decref(o2);
	json_decref(o);
	json_decref(ev);

	/* SQL: the documented sluice objectRef */
	ev = json_pack("{s:s, s:s, s:s, s:[s]}", "type", "statement", "sql",
		       "DELETE FROM t", "class", "write", "tables", "t");
	o = render(FORMAT_K8S_AUDIT, ev, meta, 0);
	cr_expect_str_eq(json_string_value(at(o, "objectRef.apiGroup")), "sql.sluice.io");
	cr_expect_str_eq(json_string_value(at(o, "objectRef.name")), "t");
	cr_expect_str_eq(json_string_value(at(o, "verb")), "write");
	json_decref(o);
	json_decref(ev);
	json_decref(meta);
}

/* ---- sinks ---------------------------------------------------------- */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "export/sinks.h"

TestSuite(sinks, .init = setup, .fini = teardown, .timeout = 60);

static struct sink_item item(const char *text, uint64_t seq)
{
	return (struct sink_item){
		.text = text, .len = strlen(text), .time_ns = 1763790000123456789ull,
		.type = "session_start", .sid = SID, .seq = seq,
	};
}

static size_t lines_in(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;
	int c;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

Test(sinks, file_rotates_by_size)
{
	char path[160], p1[170], p2[170], p3[170], err[256], line[120];
	struct cfg_export c = {
		.name = "f", .type = EXPORT_FILE, .format = "cef", .path = path,
		.max_bytes = 4096, .keep = 2, .batch = 10, .timeout_ms = 1000,
	};
	struct sink_item items[10];
	struct stat st;
	struct sink *s;

	snprintf(path, sizeof(path), "%s/out.log", dir);
	snprintf(p1, sizeof(p1), "%s.1", path);
	snprintf(p2, sizeof(p2), "%s.2", path);
	snprintf(p3, sizeof(p3), "%s.3", path);
	memset(line, 'x', 99);
	line[99] = '\0';
	s = sink_new(&c, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	for (int b = 0; b < 20; b++) {	/* 200 lines of 100 bytes: 20 KB */
		for (int i = 0; i < 10; i++)
			items[i] = item(line, (uint64_t)(b * 10 + i));
		cr_assert_eq(sink_deliver(s, items, 10, err, sizeof(err)), 0, "%s", err);
	}
	sink_free(s);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_leq(st.st_size, 4096);
	cr_assert_eq(stat(p1, &st), 0);
	cr_expect_leq(st.st_size, 4096);
	cr_expect_gt(st.st_size, 4096 - 100);
	/* whole lines only: 40 lines of 100 bytes fit under 4096 */
	cr_expect_eq(lines_in(p1), 40);
	cr_expect_eq((size_t)st.st_size, 40 * 100);
	cr_expect_eq(stat(p2, &st), 0);
	cr_expect_eq(lines_in(p2), 40);
	cr_expect_neq(stat(p3, &st), 0, "keep 2: no third rotated file");
	/* 200 lines = 5 files of 40: the oldest two are gone */
	cr_expect_eq(lines_in(path), 40);
}

struct listener {
	int fd;
	char buf[65536];
	size_t len;
};

static void *accept_all(void *arg)
{
	struct listener *l = arg;
	int c = accept(l->fd, NULL, NULL);
	ssize_t n;

	while (c >= 0 && (n = read(c, l->buf + l->len, sizeof(l->buf) - 1 - l->len)) > 0)
		l->len += (size_t)n;
	if (c >= 0)
		close(c);
	return NULL;
}

Test(sinks, syslog_octet_counting)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	struct listener l = { 0 };
	char addr[64], err[256];
	struct cfg_export c = {
		.name = "s", .type = EXPORT_SYSLOG, .format = "cef", .address = addr,
		.batch = 10, .timeout_ms = 2000,
	};
	struct sink_item items[2] = { item("CEF:0|a|b|c|d|e|1|x=1", 3),
				      item("{\"two\":\"l\\u00e9\"}", 4) };
	struct sink *s;
	pthread_t th;
	const char *p;
	char *end;

	l.fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(l.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(l.fd, 1), 0);
	getsockname(l.fd, (struct sockaddr *)&a, &al);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(a.sin_port));
	pthread_create(&th, NULL, accept_all, &l);
	s = sink_new(&c, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(sink_deliver(s, items, 2, err, sizeof(err)), 0, "%s", err);
	items[1].is_seal = 1;
	cr_assert_eq(sink_deliver(s, items + 1, 1, err, sizeof(err)), 0, "%s", err);
	sink_free(s);
	pthread_join(th, NULL);
	close(l.fd);

	/* three frames "LEN SP MSG", each MSG exactly LEN bytes */
	p = l.buf;
	for (int i = 0; i < 3; i++) {
		unsigned long len = strtoul(p, &end, 10);
		char msg[512];

		cr_assert(end > p && *end == ' ', "frame %d: no length: %.40s", i, p);
		p = end + 1;
		cr_assert_leq(p + len, l.buf + l.len, "frame %d longer than the data", i);
		cr_assert_lt(len, sizeof(msg));
		memcpy(msg, p, len);
		msg[len] = '\0';
		p += len;
		cr_expect_eq(strncmp(msg, "<110>1 2025-11-22T05:40:00.123456Z ", 35), 0, "%s", msg);
		cr_expect_not_null(strstr(msg, " sluice "), "%s", msg);
		cr_expect_not_null(strstr(msg, " session_start [sluice@32473 session=\"" SID "\""),
				   "%s", msg);
		if (i == 0) {
			cr_expect_not_null(strstr(msg, " seq=\"3\" format=\"cef\"] CEF:0|a|b"),
					   "%s", msg);
		} else if (i == 2) {
			cr_expect_null(strstr(msg, "seq="), "a seal has no seq: %s", msg);
		}
	}
	cr_expect_eq(p, l.buf + l.len, "bytes after the last frame");
}

Test(sinks, syslog_down_is_an_error_with_a_reason)
{
	char err[256] = "";
	struct cfg_export c = {
		.name = "s", .type = EXPORT_SYSLOG, .format = "cef",
		.address = "127.0.0.1:1", .batch = 1, .timeout_ms = 500,
	};
	struct sink_item it = item("x", 0);
	struct sink *s = sink_new(&c, err, sizeof(err));

	cr_assert_not_null(s);
	cr_expect_lt(sink_deliver(s, &it, 1, err, sizeof(err)), 0);
	cr_expect_not_null(strstr(err, "connect 127.0.0.1:1"), "%s", err);
	sink_free(s);
}
