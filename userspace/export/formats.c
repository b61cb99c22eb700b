// SPDX-License-Identifier: BSD-2-Clause
/*
 * Event -> Kubernetes audit Event, OCSF event, CEF line (formats.h).
 *
 * Every format carries the session id and the event's seq, so a SIEM can
 * put a session back together and drop the duplicates at-least-once
 * delivery may send: the k8s auditID and OCSF metadata.uid are a UUID
 * (version 8, RFC 9562) made from SHA-256(sid || seq || "e"|"s"), the
 * same every time the same record is rendered.
 *
 * Identity: the presented user ("user": {"name","groups"}) when the
 * session has one, else the kernel identity as "uid:<uid>"; the kernel
 * identity (uid, gid, pid, comm, cgroup, pod) goes along in every format.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "formats.h"
#include "version.h"

#define TS_LEN		FMT_TIME_LEN
#define ADDR_LEN	64
#define NUM_LEN		24

/* What every format needs, gathered once from the event and session. */
struct view {
	const struct fmt_input *in;
	json_t *ev, *meta;	/* meta: the session's metadata, never NULL */
	const char *type;
	const char *target, *kind;
	const char *user;	/* presented name, or NULL */
	json_t *groups;		/* presented groups (array) or NULL */
	const char *user_source;
	json_t *kernel;		/* object or NULL */
	char who[64];		/* user, or "uid:N" */
	char src_ip[ADDR_LEN], dst_ip[ADDR_LEN];
	int src_port, dst_port;
	const char *decision, *rule;
	json_t *k8s;		/* request/decision k8s fields (object) */
	const char *sql;	/* statement/decision SQL text */
	char uuid[37];
	char ts[TS_LEN];	/* RFC 3339 with microseconds */
	int severity;		/* 0 info, 1 low, 2 medium */
	int failed;
	/* seal fields */
	uint64_t seal_records;
	int seal_final;
};

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int fmt_parse(const char *name, enum fmt_kind *out)
{
	if (!name)
		return -EINVAL;
	if (!strcmp(name, "k8s-audit"))
		*out = FORMAT_K8S_AUDIT;
	else if (!strcmp(name, "ocsf"))
		*out = FORMAT_OCSF;
	else if (!strcmp(name, "cef"))
		*out = FORMAT_CEF;
	else
		return -EINVAL;
	return 0;
}

const char *fmt_name(enum fmt_kind k)
{
	switch (k) {
	case FORMAT_K8S_AUDIT:
		return "k8s-audit";
	case FORMAT_OCSF:
		return "ocsf";
	case FORMAT_CEF:
		return "cef";
	}
	return "?";
}

/* "1.2.3.4:5" or "[::1]:5" -> ip, port (port -1 when absent). */
static void split_addr(const char *s, char ip[ADDR_LEN], int *port)
{
	const char *colon;
	size_t n;

	ip[0] = '\0';
	*port = -1;
	if (!s)
		return;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end)
			return;
		n = (size_t)(end - s - 1);
		colon = end[1] == ':' ? end + 1 : NULL;
		s++;
	} else {
		colon = strrchr(s, ':');
		n = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (n >= ADDR_LEN)
		return;
	memcpy(ip, s, n);
	ip[n] = '\0';
	if (colon)
		*port = atoi(colon + 1);
}

void fmt_time(uint64_t ns, char out[FMT_TIME_LEN])
{
	time_t secs = (time_t)(ns / 1000000000ull);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, TS_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (unsigned)(ns % 1000000000ull / 1000));
}

/* A stable UUID v8 for (sid, seq, kind of record). */
static int make_uuid(const struct fmt_input *in, char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char h[EVP_MAX_MD_SIZE];
	char seq[NUM_LEN];
	unsigned hl = 0;
	size_t o = 0;

	snprintf(seq, sizeof(seq), "/%llu/%s", (unsigned long long)in->seq,
		 in->is_seal ? "s" : "e");
	{
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
			 EVP_DigestUpdate(c, in->sid, strlen(in->sid)) &&
			 EVP_DigestUpdate(c, seq, strlen(seq)) &&
			 EVP_DigestFinal_ex(c, h, &hl);

		EVP_MD_CTX_free(c);
		if (!ok)
			return -ENOMEM;
	}
	h[6] = (unsigned char)((h[6] & 0x0f) | 0x80);	/* version 8 */
	h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);	/* RFC variant */
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[h[i] >> 4];
		out[o++] = hex[h[i] & 15];
	}
	out[o] = '\0';
	return 0;
}

/* "records=N" and "final=F" out of a seal's signed text. */
static void seal_fields(struct view *v)
{
	const char *text = str(v->ev, "payload"), *p;

	if (!text)
		return;
	p = strstr(text, "\nrecords=");
	if (p)
		v->seal_records = strtoull(p + 9, NULL, 10);
	p = strstr(text, "\nfinal=");
	if (p)
		v->seal_final = p[7] == '1';
}

static int view_init(struct view *v, const struct fmt_input *in)
{
	json_t *user, *req;
	const char *st;

	memset(v, 0, sizeof(*v));
	v->in = in;
	v->ev = in->event;
	if (!json_is_object(v->ev) || !in->sid) {
		errno = EINVAL;
		return -EINVAL;
	}
	/* session_start carries the metadata itself */
	v->meta = json_is_object(in->session) ? in->session : v->ev;
	v->type = in->is_seal ? "seal" : str(v->ev, "type");
	if (!v->type)
		v->type = "unknown";
	v->target = str(v->meta, "target");
	v->kind = str(v->meta, "kind");
	user = json_object_get(v->meta, "user");
	v->user = str(user, "name");
	v->groups = json_is_array(json_object_get(user, "groups")) ?
			    json_object_get(user, "groups") : NULL;
	v->user_source = str(user, "source");
	v->kernel = json_is_object(json_object_get(v->meta, "kernel")) ?
			    json_object_get(v->meta, "kernel") : NULL;
	if (v->user)
		snprintf(v->who, sizeof(v->who), "%s", v->user);
	else if (json_is_integer(json_object_get(v->kernel, "uid")))
		snprintf(v->who, sizeof(v->who), "uid:%lld",
			 (long long)json_integer_value(json_object_get(v->kernel, "uid")));
	else
		snprintf(v->who, sizeof(v->who), "unknown");
	split_addr(str(v->meta, "client"), v->src_ip, &v->src_port);
	split_addr(str(v->meta, "original") ? str(v->meta, "original") :
		   str(v->meta, "upstream"), v->dst_ip, &v->dst_port);
	v->decision = str(v->ev, "decision");
	v->rule = str(v->ev, "rule");
	req = json_object_get(v->ev, "request");
	if (!strcmp(v->type, "request"))
		v->k8s = v->ev;
	else if (json_is_object(json_object_get(req, "k8s")))
		v->k8s = json_object_get(req, "k8s");
	v->sql = str(v->ev, "sql");
	if (!v->sql)
		v->sql = str(req, "sql");
	if (in->is_seal)
		seal_fields(v);
	fmt_time(in->time_ns, v->ts);
	if (make_uuid(in, v->uuid)) {
		errno = ENOMEM;
		return -ENOMEM;
	}
	if (v->decision && !strcmp(v->decision, "deny"))
		v->severity = 2, v->failed = 1;
	else if (v->decision && !strcmp(v->decision, "review"))
		v->severity = 1, v->failed = 1;
	if (!strcmp(v->type, "error"))
		v->severity = 1, v->failed = 1;
	if (json_integer_value(json_object_get(v->ev, "status")) >= 400 ||
	    str(v->ev, "sqlstate"))
		v->failed = 1;
	st = str(v->ev, "status");
	if (!strcmp(v->type, "session_end") && st && strcmp(st, "closed") &&
	    strcmp(st, "ok"))
		v->failed = 1;
	return 0;
}

/* Set o[k] to a new value; a NULL value (no memory, no field) is skipped. */
static void put(json_t *o, const char *k, json_t *val)
{
	if (val)
		json_object_set_new(o, k, val);
}

static void put_str(json_t *o, const char *k, const char *s)
{
	if (s && s[0])
		json_object_set_new(o, k, json_string(s));
}

/* ---- Kubernetes audit ------------------------------------------------ */

static void put_annotation_int(json_t *a, const char *k, json_t *n)
{
	char num[NUM_LEN];

	if (!json_is_integer(n))
		return;
	snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(n));
	json_object_set_new(a, k, json_string(num));
}

static json_t *k8s_annotations(const struct view *v)
{
	json_t *a = json_object(), *pod;
	char seq[NUM_LEN], pname[256];
	char *raw;

	if (!a)
		return NULL;
	snprintf(seq, sizeof(seq), "%llu", (unsigned long long)v->in->seq);
	put_str(a, "sluice.io/type", v->type);
	put_str(a, "sluice.io/session", v->in->sid);
	if (!v->in->is_seal)
		put_str(a, "sluice.io/seq", seq);
	put_str(a, "sluice.io/target", v->target);
	put_str(a, "sluice.io/decision", v->decision);
	put_str(a, "sluice.io/rule", v->rule);
	put_str(a, "sluice.io/approval", str(v->ev, "approval"));
	put_str(a, "sluice.io/sql", v->sql);
	put_str(a, "sluice.io/reason", str(v->ev, "reason"));
	put_str(a, "sluice.io/user-source", v->user_source);
	put_annotation_int(a, "sluice.io/kernel.uid", json_object_get(v->kernel, "uid"));
	put_annotation_int(a, "sluice.io/kernel.gid", json_object_get(v->kernel, "gid"));
	put_annotation_int(a, "sluice.io/kernel.pid", json_object_get(v->kernel, "pid"));
	put_str(a, "sluice.io/kernel.comm", str(v->kernel, "comm"));
	put_str(a, "sluice.io/kernel.cgroup", str(v->kernel, "cgroup"));
	pod = json_object_get(v->kernel, "pod");
	if (str(pod, "namespace") && str(pod, "name")) {
		snprintf(pname, sizeof(pname), "%s/%s", str(pod, "namespace"),
			 str(pod, "name"));
		put_str(a, "sluice.io/kernel.pod", pname);
		put_str(a, "sluice.io/kernel.pod.service-account",
			str(pod, "service_account"));
	}
	/* the event itself, whole: nothing is lost to the mapping */
	raw = json_dumps(v->ev, JSON_COMPACT);
	if (raw)
		json_object_set_new(a, "sluice.io/event", json_string(raw));
	free(raw);
	return a;
}

static json_t *k8s_user(const struct view *v)
{
	json_t *u = json_pack("{s:s}", "username", v->who);

	if (u && v->groups)
		json_object_set(u, "groups", v->groups);
	return u;
}

static json_t *k8s_object_ref(const struct view *v, const char **uri,
			      char *buf, size_t buflen)
{
	json_t *o = json_object();
	json_t *tables;

	if (!o)
		return NULL;
	if (v->k8s) {
		const char *grp = str(v->k8s, "group");

		put_str(o, "resource", str(v->k8s, "resource"));
		put_str(o, "namespace", str(v->k8s, "namespace"));
		put_str(o, "name", str(v->k8s, "name"));
		put_str(o, "apiGroup", grp);
		put_str(o, "apiVersion", str(v->k8s, "version"));
		put_str(o, "subresource", str(v->k8s, "subresource"));
		*uri = str(v->k8s, "uri");
		return o;
	}
	if (v->sql) {
		/* documented sluice shape: the statement's first table in
		 * the target "namespace" of API group sql.sluice.io */
		tables = json_object_get(v->ev, "tables");
		json_object_set_new(o, "apiGroup", json_string("sql.sluice.io"));
		json_object_set_new(o, "resource", json_string("tables"));
		put_str(o, "namespace", v->target);
		put_str(o, "name", json_string_value(json_array_get(tables, 0)));
		snprintf(buf, buflen, "/sql/%s/%s", v->target ? v->target : "-",
			 v->type);
		*uri = buf;
		return o;
	}
	json_object_set_new(o, "apiGroup", json_string("sluice.io"));
	json_object_set_new(o, "resource", json_string("sessions"));
	put_str(o, "namespace", v->target);
	put_str(o, "name", v->in->sid);
	put_str(o, "subresource", v->in->is_seal ? "seals" : "events");
	snprintf(buf, buflen, "/sluice/sessions/%s/%s/%llu", v->in->sid,
		 v->in->is_seal ? "seals" : "events",
		 (unsigned long long)(v->in->is_seal ? v->seal_records : v->in->seq));
	*uri = buf;
	return o;
}

static const char *k8s_verb(const struct view *v)
{
	const char *s;

	if (v->k8s && (s = str(v->k8s, "verb")))
		return s;
	if (v->sql && (s = str(v->ev, "class")))
		return s;
	if (!strcmp(v->type, "decision") &&
	    (s = str(json_object_get(v->ev, "request"), "kind")))
		return s;
	return v->type;
}

static json_t *k8s_status(const struct view *v)
{
	json_int_t code = 200;
	json_t *st;
	const char *msg = NULL;
	char buf[256];

	if (json_is_integer(json_object_get(v->ev, "status")))
		code = json_integer_value(json_object_get(v->ev, "status"));
	else if (v->decision && strcmp(v->decision, "allow"))
		code = 403;
	else if (str(v->ev, "sqlstate") || !strcmp(v->type, "error"))
		code = 500;
	if (v->decision && strcmp(v->decision, "allow")) {
		snprintf(buf, sizeof(buf), "%s by sluice rule %s", v->decision,
			 v->rule ? v->rule : "(default)");
		msg = buf;
	} else if (str(v->ev, "reason")) {
		msg = str(v->ev, "reason");
	} else if (str(v->ev, "sqlstate")) {
		snprintf(buf, sizeof(buf), "SQLSTATE %s", str(v->ev, "sqlstate"));
		msg = buf;
	}
	st = json_pack("{s:{}, s:I}", "metadata", "code", code);
	if (st && code >= 400)
		json_object_set_new(st, "status", json_string("Failure"));
	if (st && code == 403)
		json_object_set_new(st, "reason", json_string("Forbidden"));
	if (st)
		put_str(st, "message", msg);
	return st;
}

static json_t *render_k8s(const struct view *v)
{
	char uribuf[160], rcv[TS_LEN];
	const char *uri = NULL;
	json_t *o, *imp, *ref;
	json_int_t dur;

	ref = k8s_object_ref(v, &uri, uribuf, sizeof(uribuf));
	dur = json_integer_value(json_object_get(v->ev, "duration_us"));
	fmt_time(v->in->time_ns - (dur > 0 ? (uint64_t)dur * 1000 : 0), rcv);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o*, s:s, s:s}",
		      "kind", "Event", "apiVersion", "audit.k8s.io/v1",
		      "level", "Metadata", "auditID", v->uuid,
		      "stage", "ResponseComplete", "requestURI", uri ? uri : "",
		      "verb", k8s_verb(v), "user", k8s_user(v), "objectRef", ref,
		      "requestReceivedTimestamp", rcv, "stageTimestamp", v->ts);
	if (!o)
		return NULL;
	imp = json_object_get(v->ev, "impersonated");
	if (str(imp, "user")) {
		json_t *iu = json_pack("{s:s}", "username", str(imp, "user"));

		if (iu && json_is_array(json_object_get(imp, "groups")))
			json_object_set(iu, "groups", json_object_get(imp, "groups"));
		put(o, "impersonatedUser", iu);
	}
	if (v->src_ip[0])
		put(o, "sourceIPs", json_pack("[s]", v->src_ip));
	put_str(o, "userAgent", str(v->ev, "user_agent"));
	put(o, "responseStatus", k8s_status(v));
	put(o, "annotations", k8s_annotations(v));
	return o;
}

/* ---- OCSF ------------------------------------------------------------- */

enum { OCSF_BASE = 0, OCSF_AUTH = 3002, OCSF_API = 6003, OCSF_DATASTORE = 6005 };

static json_t *ocsf_user(const struct view *v)
{
	json_t *u = json_object(), *g;
	json_t *uid = json_object_get(v->kernel, "uid");
	char num[NUM_LEN];

	if (!u)
		return NULL;
	put_str(u, "name", v->who);
	if (json_is_integer(uid)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(uid));
		put_str(u, "uid", num);
	}
	if (v->groups) {
		size_t i;
		json_t *one;

		g = json_array();
		json_array_foreach(v->groups, i, one)
			if (json_is_string(one))
				json_array_append_new(g, json_pack("{s:O}", "name", one));
		put(u, "groups", g);
	}
	return u;
}

static json_t *ocsf_actor(const struct view *v)
{
	json_t *a = json_object(), *p;

	if (!a)
		return NULL;
	put(a, "user", ocsf_user(v));
	if (v->kernel) {
		p = json_object();
		if (p) {
			if (json_is_integer(json_object_get(v->kernel, "pid")))
				json_object_set(p, "pid", json_object_get(v->kernel, "pid"));
			put_str(p, "name", str(v->kernel, "comm"));
			put(a, "process", p);
		}
	}
	put(a, "session", json_pack("{s:s}", "uid", v->in->sid));
	return a;
}

static json_t *ocsf_endpoint(const char *ip, int port, const char *svc)
{
	json_t *e = json_object();

	if (!e)
		return NULL;
	put_str(e, "ip", ip);
	if (port >= 0)
		json_object_set_new(e, "port", json_integer(port));
	put_str(e, "svc_name", svc);
	if (!json_object_size(e))	/* at least one field, per the schema */
		json_object_set_new(e, "hostname", json_string("localhost"));
	return e;
}

static int k8s_activity(const char *verb)
{
	if (!verb)
		return 99;
	if (!strcmp(verb, "create"))
		return 1;
	if (!strcmp(verb, "get") || !strcmp(verb, "list") || !strcmp(verb, "watch"))
		return 2;
	if (!strcmp(verb, "update") || !strcmp(verb, "patch"))
		return 3;
	if (!strcmp(verb, "delete") || !strcmp(verb, "deletecollection"))
		return 4;
	return 99;
}

static int sql_activity(const char *cls)
{
	if (!cls)
		return 99;
	if (!strcmp(cls, "read"))
		return 4;	/* Query */
	if (!strcmp(cls, "write"))
		return 5;	/* Write */
	if (!strcmp(cls, "ddl"))
		return 6;	/* Create */
	return 99;
}

static const char *const ocsf_sev_names[] = { "Informational", "Low", "Medium" };

static json_t *render_ocsf(const struct view *v)
{
	const char *req_kind = str(json_object_get(v->ev, "request"), "kind");
	int cls = OCSF_BASE, cat = 0, act = 99;
	const char *cls_name = "Base Event", *cat_name = "Uncategorized";
	json_t *o, *unmapped;
	char msg[256];

	if (!strcmp(v->type, "session_start") || !strcmp(v->type, "session_end") ||
	    (!strcmp(v->type, "decision") && req_kind && !strcmp(req_kind, "connect"))) {
		cls = OCSF_AUTH;
		act = !strcmp(v->type, "session_end") ? 2 : 1;
	} else if (v->k8s) {
		cls = OCSF_API;
		act = k8s_activity(str(v->k8s, "verb"));
	} else if (v->sql) {
		cls = OCSF_DATASTORE;
		act = sql_activity(str(v->ev, "class"));
	}
	if (cls == OCSF_AUTH)
		cls_name = "Authentication", cat = 3,
		cat_name = "Identity & Access Management";
	else if (cls == OCSF_API)
		cls_name = "API Activity", cat = 6, cat_name = "Application Activity";
	else if (cls == OCSF_DATASTORE)
		cls_name = "Datastore Activity", cat = 6,
		cat_name = "Application Activity";
	snprintf(msg, sizeof(msg), "sluice %s%s%s%s%s", v->type,
		 v->target ? " on " : "", v->target ? v->target : "",
		 v->decision ? ": " : "", v->decision ? v->decision : "");
	o = json_pack("{s:i, s:s, s:i, s:s, s:i, s:I, s:I, s:i, s:s, s:i, s:s, s:s,"
		      " s:{s:s, s:{s:s, s:s, s:s}, s:s, s:s, s:I}}",
		      "class_uid", cls, "class_name", cls_name,
		      "category_uid", cat, "category_name", cat_name,
		      "activity_id", act,
		      "type_uid", (json_int_t)cls * 100 + act,
		      "time", (json_int_t)(v->in->time_ns / 1000000),
		      "severity_id", v->severity + 1,
		      "severity", ocsf_sev_names[v->severity],
		      "status_id", v->failed ? 2 : 1,
		      "status", v->failed ? "Failure" : "Success",
		      "message", msg,
		      "metadata", "version", FMT_OCSF_VERSION,
		      "product", "name", "sluice", "vendor_name", "sluice",
		      "version", SLUICE_VERSION,
		      "uid", v->uuid, "correlation_uid", v->in->sid,
		      "sequence", (json_int_t)v->in->seq);
	if (!o)
		return NULL;
	put(o, "actor", ocsf_actor(v));
	put(o, "src_endpoint", ocsf_endpoint(v->src_ip, v->src_port, NULL));
	put(o, "dst_endpoint", ocsf_endpoint(v->dst_ip, v->dst_port, v->target));
	if (v->decision)
		put_str(o, "status_detail", v->rule);
	if (cls == OCSF_AUTH) {
		put(o, "user", ocsf_user(v));
		put(o, "service", json_pack("{s:s}", "name", v->target ? v->target : "-"));
		put(o, "session", json_pack("{s:s}", "uid", v->in->sid));
		json_object_set_new(o, "is_remote", json_false());
		json_object_set_new(o, "auth_protocol_id", json_integer(99));
		put_str(o, "auth_protocol", v->user_source ? v->user_source : "kernel");
	} else if (cls == OCSF_API) {
		const char *verb = str(v->k8s, "verb");
		json_t *res = json_object(), *req = json_object();

		put(o, "api", json_pack("{s:s, s:{s:s}, s:{s:s}}", "operation",
					verb ? verb : "unknown", "service", "name",
					v->target ? v->target : "-", "request",
					"uid", v->uuid));
		put_str(res, "type", str(v->k8s, "resource"));
		put_str(res, "name", str(v->k8s, "name"));
		put_str(res, "namespace", str(v->k8s, "namespace"));
		if (json_object_size(res))
			put(o, "resources", json_pack("[o]", res));
		else
			json_decref(res);
		put_str(req, "http_method", str(v->k8s, "method"));
		put_str(req, "user_agent", str(v->k8s, "user_agent"));
		if (str(v->k8s, "uri"))
			put(req, "url", json_pack("{s:s}", "path", str(v->k8s, "uri")));
		if (json_object_size(req))
			put(o, "http_request", req);
		else
			json_decref(req);
		if (json_is_integer(json_object_get(v->k8s, "status")))
			put(o, "http_response", json_pack("{s:O}", "code",
				json_object_get(v->k8s, "status")));
	} else if (cls == OCSF_DATASTORE) {
		json_t *tables = json_object_get(v->ev, "tables");
		const char *cl = str(v->ev, "class");

		put(o, "api", json_pack("{s:s, s:{s:s}}", "operation",
					cl ? cl : "sql", "service", "name",
					v->target ? v->target : "-"));
		/* OCSF wants one of database, databucket or table */
		put(o, "database", json_pack("{s:s, s:i, s:s}", "name",
					     v->target ? v->target : "-",
					     "type_id", 1, "type", "Relational"));
		if (json_string_value(json_array_get(tables, 0)))
			put(o, "table", json_pack("{s:O}", "name",
						  json_array_get(tables, 0)));
		json_object_set_new(o, "type_id", json_integer(1));
		put(o, "query_info", json_pack("{s:s}", "query_string", v->sql));
	}
	unmapped = json_pack("{s:s, s:O}", "type", v->type, "event", v->ev);
	put(o, "unmapped", unmapped);
	return o;
}

/* ---- CEF ------------------------------------------------------------- */

int fmt_buf_add(struct fmt_buf *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int buf_str(struct fmt_buf *b, const char *s)
{
	return fmt_buf_add(b, s, strlen(s));
}

int fmt_cef_header(struct fmt_buf *b, const char *s)
{
	int err = 0;

	for (; s && *s && !err; s++) {
		if (*s == '\\' || *s == '|')
			err = fmt_buf_add(b, "\\", 1) ?: fmt_buf_add(b, s, 1);
		else if (*s == '\r' || *s == '\n')
			err = fmt_buf_add(b, " ", 1);
		else
			err = fmt_buf_add(b, s, 1);
	}
	return err;
}

int fmt_cef_ext(struct fmt_buf *b, const char *s)
{
	int err = 0;

	for (; s && *s && !err; s++) {
		if (*s == '\\' || *s == '=')
			err = fmt_buf_add(b, "\\", 1) ?: fmt_buf_add(b, s, 1);
		else if (*s == '\n')
			err = fmt_buf_add(b, "\\n", 2);
		else if (*s == '\r')
			err = fmt_buf_add(b, "\\r", 2);
		else
			err = fmt_buf_add(b, s, 1);
	}
	return err;
}

/* " key=value" with the value escaped; nothing for an empty value. */
static int cef_kv(struct fmt_buf *b, const char *k, const char *val)
{
	if (!val || !val[0])
		return 0;
	return fmt_buf_add(b, " ", b->len ? 1 : 0) ?: buf_str(b, k) ?:
	       fmt_buf_add(b, "=", 1) ?: fmt_cef_ext(b, val);
}

static int cef_kint(struct fmt_buf *b, const char *k, json_t *n)
{
	char num[NUM_LEN];

	if (!json_is_integer(n))
		return 0;
	snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(n));
	return cef_kv(b, k, num);
}

static const char *cef_name(const char *type)
{
	static const struct { const char *type, *name; } names[] = {
		{ "session_start", "session started" },
		{ "session_end", "session ended" },
		{ "decision", "policy decision" },
		{ "statement", "SQL statement" },
		{ "request", "Kubernetes API request" },
		{ "tls", "TLS established" },
		{ "error", "session error" },
		{ "seal", "recording sealed" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(type, names[i].type))
			return names[i].name;
	return type;
}

static json_t *render_cef(const struct view *v)
{
	static const int sev[] = { 3, 5, 8 };
	struct fmt_buf h = { 0 }, x = { 0 };
	char num[NUM_LEN], pod[256] = "", port[NUM_LEN];
	json_t *pj = json_object_get(v->kernel, "pod"), *imp, *out = NULL;
	int err;

	snprintf(num, sizeof(num), "%d", sev[v->severity]);
	err = buf_str(&h, "CEF:0|sluice|sluice|") ?:
	      fmt_cef_header(&h, SLUICE_VERSION) ?: fmt_buf_add(&h, "|", 1) ?:
	      fmt_cef_header(&h, v->type) ?: fmt_buf_add(&h, "|", 1) ?:
	      fmt_cef_header(&h, cef_name(v->type)) ?: fmt_buf_add(&h, "|", 1) ?:
	      buf_str(&h, num) ?: fmt_buf_add(&h, "|", 1);
	if (str(pj, "namespace") && str(pj, "name"))
		snprintf(pod, sizeof(pod), "%s/%s", str(pj, "namespace"),
			 str(pj, "name"));
	snprintf(num, sizeof(num), "%llu",
		 (unsigned long long)(v->in->time_ns / 1000000));
	imp = json_object_get(v->ev, "impersonated");
	err = err ?: cef_kv(&x, "rt", num) ?:
	      cef_kv(&x, "externalId", v->uuid) ?:
	      cef_kv(&x, "cs1Label", "session") ?: cef_kv(&x, "cs1", v->in->sid);
	if (!v->in->is_seal) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)v->in->seq);
		err = err ?: cef_kv(&x, "cn1Label", "seq") ?: cef_kv(&x, "cn1", num);
	}
	err = err ?: cef_kv(&x, "cs2Label", "target") ?: cef_kv(&x, "cs2", v->target) ?:
	      cef_kv(&x, "suser", v->who) ?:
	      cef_kint(&x, "suid", json_object_get(v->kernel, "uid")) ?:
	      cef_kint(&x, "spid", json_object_get(v->kernel, "pid")) ?:
	      cef_kv(&x, "sproc", str(v->kernel, "comm")) ?:
	      cef_kv(&x, "cs3Label", str(v->kernel, "cgroup") ? "cgroup" : NULL) ?:
	      cef_kv(&x, "cs3", str(v->kernel, "cgroup")) ?:
	      cef_kv(&x, "cs4Label", pod[0] ? "pod" : NULL) ?: cef_kv(&x, "cs4", pod) ?:
	      cef_kv(&x, "src", v->src_ip);
	if (v->src_port >= 0) {
		snprintf(port, sizeof(port), "%d", v->src_port);
		err = err ?: cef_kv(&x, "spt", port);
	}
	err = err ?: cef_kv(&x, "dst", v->dst_ip);
	if (v->dst_port >= 0) {
		snprintf(port, sizeof(port), "%d", v->dst_port);
		err = err ?: cef_kv(&x, "dpt", port);
	}
	err = err ?: cef_kv(&x, "duser", str(imp, "user")) ?:
	      cef_kv(&x, "act", v->decision) ?:
	      cef_kv(&x, "cs5Label", v->rule ? "rule" : NULL) ?: cef_kv(&x, "cs5", v->rule) ?:
	      cef_kv(&x, "outcome", v->failed ? "failure" : "success") ?:
	      cef_kv(&x, "request", v->k8s ? str(v->k8s, "uri") : NULL) ?:
	      cef_kv(&x, "requestMethod", v->k8s ? str(v->k8s, "method") : NULL) ?:
	      cef_kv(&x, "requestClientApplication",
		     v->k8s ? str(v->k8s, "user_agent") : NULL) ?:
	      cef_kv(&x, "cs6Label", v->sql ? "sql" : NULL) ?: cef_kv(&x, "cs6", v->sql) ?:
	      cef_kv(&x, "reason", str(v->ev, "reason")) ?:
	      cef_kv(&x, "cat", v->kind);
	if (!err && v->k8s)
		err = cef_kint(&x, "cn2", json_object_get(v->k8s, "status")) ?:
		      cef_kv(&x, "cn2Label", json_is_integer(json_object_get(
				     v->k8s, "status")) ? "status" : NULL);
	if (!err && v->in->is_seal) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)v->seal_records);
		err = cef_kv(&x, "cn3Label", "records") ?: cef_kv(&x, "cn3", num) ?:
		      cef_kv(&x, "msg", v->seal_final ? "final seal" : "periodic seal");
	}
	err = err ?: fmt_buf_add(&h, x.p ? x.p : "", x.len);
	if (!err)
		out = json_stringn(h.p, h.len);
	free(h.p);
	free(x.p);
	if (!out)
		errno = ENOMEM;
	return out;
}

json_t *fmt_render(enum fmt_kind kind, const struct fmt_input *in)
{
	struct view v;
	json_t *out = NULL;

	if (!in || view_init(&v, in))
		return NULL;
	switch (kind) {
	case FORMAT_K8S_AUDIT:
		out = render_k8s(&v);
		break;
	case FORMAT_OCSF:
		out = render_ocsf(&v);
		break;
	case FORMAT_CEF:
		return render_cef(&v);
	}
	if (!out)
		errno = ENOMEM;
	return out;
}

char *fmt_text(json_t *rendered)
{
	char *t;

	if (json_is_string(rendered))
		t = strdup(json_string_value(rendered));
	else
		t = json_dumps(rendered, JSON_COMPACT);
	if (!t)
		errno = ENOMEM;
	return t;
}
