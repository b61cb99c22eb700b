// SPDX-License-Identifier: BSD-2-Clause
/*
 * userspace/proto/k8sreq.c: request lines as kubectl and client-go send
 * them (kubectl -v8 shows them), each with the attributes the API
 * server's RequestInfo gives it; query values; refusals of ambiguous
 * targets; every prefix of a target is a clean answer; and streams
 * recorded between a real kubectl and a real kube-apiserver, framed by
 * http.c and decoded here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>

#include "proto/http.h"
#include "proto/k8sreq.h"

struct row {
	const char *line;	/* "METHOD target" */
	const char *verb, *group, *version, *resource, *sub, *ns, *name;
	unsigned flags;
};

/* rows leave flags out when there are none */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define NONRES	1	/* non-resource URL */
#define CONN	2	/* connect */

static const struct row rows[] = {
	/* kubectl get ns / get ns x / -w / -o json */
	{ "GET /api/v1/namespaces?limit=500", "list", "", "v1", "namespaces", "", "", "" },
	{ "GET /api/v1/namespaces/prod", "get", "", "v1", "namespaces", "", "prod", "prod" },
	{ "GET /api/v1/namespaces?resourceVersion=1234&watch=true", "watch", "", "v1",
	  "namespaces", "", "", "" },
	{ "GET /api/v1/namespaces?fieldSelector=metadata.name%3Dprod&watch=true", "watch", "",
	  "v1", "namespaces", "", "", "prod" },
	{ "GET /api/v1/namespaces?fieldSelector=metadata.name%3D%3Dprod", "list", "", "v1",
	  "namespaces", "", "", "prod" },
	{ "GET /api/v1/namespaces/default/pods?limit=500", "list", "", "v1", "pods", "",
	  "default", "" },
	{ "GET /api/v1/namespaces/default/pods/web-0", "get", "", "v1", "pods", "", "default",
	  "web-0" },
	{ "HEAD /api/v1/namespaces/default/pods/web-0", "get", "", "v1", "pods", "", "default",
	  "web-0" },
	{ "GET /api/v1/pods?limit=500", "list", "", "v1", "pods", "", "", "" },
	{ "GET /api/v1/pods?watch=1", "watch", "", "v1", "pods", "", "", "" },
	{ "GET /api/v1/pods?watch=0", "list", "", "v1", "pods", "", "", "" },
	{ "GET /api/v1/pods?watch=False", "list", "", "v1", "pods", "", "", "" },
	{ "GET /api/v1/pods?watch=yes", "watch", "", "v1", "pods", "", "", "" },
	{ "GET /api/v1/pods?watch", "watch", "", "v1", "pods", "", "", "" },
	{ "GET /api/v1/pods?watch=true&watch=false", "watch", "", "v1", "pods", "", "", "" },
	{ "GET /api/v1/namespaces/default/pods?labelSelector=app%3Dweb%2Ctier+in+%28a%2Cb%29",
	  "list", "", "v1", "pods", "", "default", "" },
	{ "GET /api/v1/namespaces/default/pods?fieldSelector=status.phase%3DRunning%2Cmetadata.name%3Dweb-1",
	  "list", "", "v1", "pods", "", "default", "web-1" },
	{ "GET /api/v1/namespaces/default/pods?fieldSelector=metadata.name%21%3Dweb-1", "list",
	  "", "v1", "pods", "", "default", "" },
	{ "GET /api/v1/namespaces/default/pods?fieldSelector=metadata.name%3D..", "list", "",
	  "v1", "pods", "", "default", "" },
	/* the legacy watch prefix */
	{ "GET /api/v1/watch/namespaces/default/pods", "watch", "", "v1", "pods", "", "default",
	  "" },
	{ "GET /api/v1/watch/namespaces/default/pods/web-0", "watch", "", "v1", "pods", "",
	  "default", "web-0" },
	{ "GET /apis/apps/v1/watch/deployments", "watch", "apps", "v1", "deployments", "", "",
	  "" },
	/* create / apply / patch / replace */
	{ "POST /api/v1/namespaces", "create", "", "v1", "namespaces", "", "", "" },
	{ "POST /api/v1/namespaces/default/configmaps?fieldManager=kubectl-create", "create",
	  "", "v1", "configmaps", "", "default", "" },
	{ "POST /apis/apps/v1/namespaces/default/deployments?dryRun=All", "create", "apps",
	  "v1", "deployments", "", "default", "" },
	{ "PATCH /apis/apps/v1/namespaces/default/deployments/web?fieldManager=kubectl&force=true",
	  "patch", "apps", "v1", "deployments", "", "default", "web" },
	{ "PATCH /api/v1/namespaces/default/configmaps/cfg?fieldManager=kubectl-client-side-apply",
	  "patch", "", "v1", "configmaps", "", "default", "cfg" },
	{ "PUT /api/v1/namespaces/default/configmaps/cfg", "update", "", "v1", "configmaps", "",
	  "default", "cfg" },
	{ "PATCH /api/v1/namespaces/default/pods/web-0", "patch", "", "v1", "pods", "",
	  "default", "web-0" },
	/* delete / deletecollection */
	{ "DELETE /api/v1/namespaces/prod", "delete", "", "v1", "namespaces", "", "prod",
	  "prod" },
	{ "DELETE /api/v1/namespaces/default/pods/web-0", "delete", "", "v1", "pods", "",
	  "default", "web-0" },
	{ "DELETE /api/v1/namespaces/default/pods", "deletecollection", "", "v1", "pods", "",
	  "default", "" },
	{ "DELETE /api/v1/namespaces/default/pods?labelSelector=app%3Dweb", "deletecollection",
	  "", "v1", "pods", "", "default", "" },
	{ "DELETE /apis/batch/v1/namespaces/ci/jobs?propagationPolicy=Background",
	  "deletecollection", "batch", "v1", "jobs", "", "ci", "" },
	{ "DELETE /api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb-0",
	  "deletecollection", "", "v1", "pods", "", "default", "" },
	/* subresources */
	{ "POST /api/v1/namespaces/default/pods/web-0/exec?command=sh&command=-c&command=ls&container=app&stdin=true&stdout=true&tty=true",
	  "create", "", "v1", "pods", "exec", "default", "web-0", CONN },
	{ "GET /api/v1/namespaces/default/pods/web-0/exec?command=date&stdout=true", "get", "",
	  "v1", "pods", "exec", "default", "web-0", CONN },
	{ "POST /api/v1/namespaces/default/pods/web-0/attach?container=app&stdin=true&stdout=true&tty=true",
	  "create", "", "v1", "pods", "attach", "default", "web-0", CONN },
	{ "POST /api/v1/namespaces/default/pods/web-0/portforward", "create", "", "v1", "pods",
	  "portforward", "default", "web-0", CONN },
	{ "GET /api/v1/namespaces/default/pods/web-0/portforward?ports=8080", "get", "", "v1",
	  "pods", "portforward", "default", "web-0", CONN },
	{ "GET /api/v1/namespaces/default/pods/web-0/log?container=app&follow=true&tailLines=10",
	  "get", "", "v1", "pods", "log", "default", "web-0" },
	{ "GET /api/v1/namespaces/default/pods/web-0/proxy/metrics", "get", "", "v1", "pods",
	  "proxy", "default", "web-0", CONN },
	{ "GET /api/v1/namespaces/default/services/https:web:8443/proxy/", "get", "", "v1",
	  "services", "proxy", "default", "https:web:8443", CONN },
	{ "GET /api/v1/nodes/node-1/proxy/stats/summary", "get", "", "v1", "nodes", "proxy", "",
	  "node-1", CONN },
	{ "GET /api/v1/proxy/namespaces/default/pods/web-0/metrics", "proxy", "", "v1", "pods",
	  "", "default", "web-0", CONN },
	{ "GET /apis/apps/v1/namespaces/default/deployments/web/scale", "get", "apps", "v1",
	  "deployments", "scale", "default", "web" },
	{ "PATCH /apis/apps/v1/namespaces/default/deployments/web/scale", "patch", "apps", "v1",
	  "deployments", "scale", "default", "web" },
	{ "PUT /apis/apps/v1/namespaces/default/statefulsets/db/scale", "update", "apps", "v1",
	  "statefulsets", "scale", "default", "db" },
	{ "PUT /api/v1/namespaces/default/pods/web-0/status", "update", "", "v1", "pods",
	  "status", "default", "web-0" },
	{ "PATCH /apis/apps/v1/namespaces/default/deployments/web/status", "patch", "apps", "v1",
	  "deployments", "status", "default", "web" },
	{ "POST /api/v1/namespaces/default/pods/web-0/eviction", "create", "", "v1", "pods",
	  "eviction", "default", "web-0" },
	{ "POST /api/v1/namespaces/default/serviceaccounts/agent/token", "create", "", "v1",
	  "serviceaccounts", "token", "default", "agent" },
	{ "PUT /api/v1/namespaces/prod/finalize", "update", "", "v1", "namespaces", "finalize",
	  "prod", "prod" },
	{ "GET /api/v1/namespaces/prod/status", "get", "", "v1", "namespaces", "status", "prod",
	  "prod" },
	/* other groups, cluster-scoped, CRDs, can-i */
	{ "GET /apis/rbac.authorization.k8s.io/v1/clusterroles/admin", "get",
	  "rbac.authorization.k8s.io", "v1", "clusterroles", "", "", "admin" },
	{ "GET /apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", "list",
	  "rbac.authorization.k8s.io", "v1", "rolebindings", "", "default", "" },
	{ "POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "create",
	  "authorization.k8s.io", "v1", "selfsubjectaccessreviews", "", "", "" },
	{ "GET /apis/stable.example.com/v1/namespaces/default/crontabs/my-cron", "get",
	  "stable.example.com", "v1", "crontabs", "", "default", "my-cron" },
	{ "GET /apis/networking.k8s.io/v1/ingresses?limit=500", "list", "networking.k8s.io", "v1",
	  "ingresses", "", "", "" },
	{ "GET /api/v1/namespaces/default/secrets/db-pass", "get", "", "v1", "secrets", "",
	  "default", "db-pass" },
	{ "GET /api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dweb-0",
	  "list", "", "v1", "events", "", "default", "" },
	{ "GET /apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler",
	  "get", "coordination.k8s.io", "v1", "leases", "", "kube-system", "kube-scheduler" },
	/* URL-encoded names, a trailing slash */
	{ "GET /api/v1/namespaces/default/configmaps/my%2Econfig", "get", "", "v1", "configmaps",
	  "", "default", "my.config" },
	{ "GET /api/v1/namespaces/default/configmaps/a%3Ab%40c", "get", "", "v1", "configmaps",
	  "", "default", "a:b@c" },
	{ "GET /api/v1/namespaces/default/configmaps/caf%C3%A9", "get", "", "v1", "configmaps",
	  "", "default", "caf\xc3\xa9" },
	{ "GET /api/v1/namespaces/def%61ult/pods/", "list", "", "v1", "pods", "", "default", "" },
	{ "GET /api/v1/namespaces/default/pods/a+b", "get", "", "v1", "pods", "", "default",
	  "a+b" },
	/* non-resource URLs and discovery */
	{ "GET /version?timeout=32s", "get", "", "", "", "", "", "", NONRES },
	{ "GET /healthz", "get", "", "", "", "", "", "", NONRES },
	{ "GET /readyz?verbose", "get", "", "", "", "", "", "", NONRES },
	{ "GET /livez/etcd", "get", "", "", "", "", "", "", NONRES },
	{ "GET /openapi/v2?timeout=32s", "get", "", "", "", "", "", "", NONRES },
	{ "GET /openapi/v3/apis/apps/v1", "get", "", "", "", "", "", "", NONRES },
	{ "GET /api?timeout=32s", "get", "", "", "", "", "", "", NONRES },
	{ "GET /api/v1", "get", "", "", "", "", "", "", NONRES },
	{ "GET /apis?timeout=32s", "get", "", "", "", "", "", "", NONRES },
	{ "GET /apis/apps", "get", "", "", "", "", "", "", NONRES },
	{ "GET /apis/apps/v1?timeout=32s", "get", "", "", "", "", "", "", NONRES },
	{ "GET /metrics", "get", "", "", "", "", "", "", NONRES },
	{ "POST /logs/x", "post", "", "", "", "", "", "", NONRES },
	{ "GET /", "get", "", "", "", "", "", "", NONRES },
	{ "OPTIONS /api/v1/pods", "", "", "v1", "pods", "", "", "" },
};

static void split(const char *line, char *method, size_t mcap, const char **target)
{
	const char *sp = strchr(line, ' ');

	cr_assert_not_null(sp);
	snprintf(method, mcap, "%.*s", (int)(sp - line), line);
	*target = sp + 1;
}

Test(k8sreq, request_table)
{
	static struct k8s_req r;

	cr_assert_geq(sizeof(rows) / sizeof(rows[0]), 60);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *w = &rows[i];
		const char *target;
		char method[16];
		struct policy_k8s_req pk;

		split(w->line, method, sizeof(method), &target);
		cr_assert_eq(k8s_req_parse(&r, method, strlen(method), target, strlen(target)), 0,
			     "%s", w->line);
		cr_assert_str_eq(r.verb, w->verb, "%s: verb %s", w->line, r.verb);
		cr_assert_eq(r.resource_request, !(w->flags & NONRES), "%s", w->line);
		cr_assert_eq(r.connect, !!(w->flags & CONN), "%s", w->line);
		cr_assert_str_eq(r.group, w->group, "%s: group %s", w->line, r.group);
		cr_assert_str_eq(r.version, w->version, "%s: version %s", w->line, r.version);
		cr_assert_str_eq(r.resource, w->resource, "%s: resource %s", w->line, r.resource);
		cr_assert_str_eq(r.subresource, w->sub, "%s: sub %s", w->line, r.subresource);
		cr_assert_str_eq(r.ns, w->ns, "%s: ns %s", w->line, r.ns);
		cr_assert_str_eq(r.name, w->name, "%s: name %s", w->line, r.name);
		k8s_req_policy(&r, &pk);
		cr_assert_eq(pk.verb, r.verb);
		cr_assert_eq(pk.resource, r.resource);
		cr_assert_eq(pk.name, r.name);
		if (w->flags & NONRES) {
			const char *q = strchr(target, '?');
			size_t n = q ? (size_t)(q - target) : strlen(target);

			cr_assert(!strncmp(r.path, target, n) && !r.path[n], "%s: path %s",
				  w->line, r.path);
		}
	}
}

Test(k8sreq, query_values)
{
	static struct k8s_req r;
	static const char exec[] = "/api/v1/namespaces/default/pods/web-0/exec?command=sh&"
				   "command=-c&command=echo+%22hi+there%22&container=app&"
				   "stdin=true&stdout=true&tty=true";
	static const char logs[] = "/api/v1/namespaces/d/pods/p/log?follow=true&container=c";
	static const char sel[] = "/api/v1/pods?labelSelector=app%3Dweb%2Ctier+in+%28a%2Cb%29"
				  "&fieldSelector=spec.nodeName%3Dn1&dryRun=All";
	char big[2048];
	size_t n;

	cr_assert_eq(k8s_req_parse(&r, "POST", 4, exec, strlen(exec)), 0);
	cr_assert_eq(r.n_command, 3);
	cr_assert_str_eq(r.command[0], "sh");
	cr_assert_str_eq(r.command[2], "echo \"hi there\"");
	cr_assert_str_eq(r.container, "app");
	cr_assert(r.tty && r.stdin_);
	cr_assert_not(r.command_cut);
	cr_assert_eq(k8s_req_parse(&r, "GET", 3, logs, strlen(logs)), 0);
	cr_assert(r.follow);
	cr_assert_not(r.tty);
	cr_assert_str_eq(r.container, "c");
	cr_assert_null(r.label_selector);
	cr_assert_eq(k8s_req_parse(&r, "GET", 3, sel, strlen(sel)), 0);
	cr_assert_str_eq(r.label_selector, "app=web,tier in (a,b)");
	cr_assert_str_eq(r.field_selector, "spec.nodeName=n1");
	cr_assert(r.dry_run);
	cr_assert_str_eq(r.name, "");
	/* 65 command words: 64 kept, the cut said */
	n = (size_t)snprintf(big, sizeof(big), "/api/v1/namespaces/d/pods/p/exec?");
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "command=%d&", i);
	cr_assert_eq(k8s_req_parse(&r, "POST", 4, big, n), 0);
	cr_assert_eq(r.n_command, K8S_MAX_COMMAND);
	cr_assert_str_eq(r.command[63], "63");
	cr_assert(r.command_cut);
	/* an escaped ',' in a field selector belongs to the name */
	static const char esc[] = "/api/v1/pods?fieldSelector=metadata.name%3Da%5C%2Cb%2Cx%3Dy";
	cr_assert_eq(k8s_req_parse(&r, "GET", 3, esc, strlen(esc)), 0);
	cr_assert_str_eq(r.name, "a,b");
}

Test(k8sreq, patch_types)
{
	static const char *const cts[] = {
		"application/json-patch+json",
		"application/merge-patch+json",
		"application/strategic-merge-patch+json",
		"application/apply-patch+yaml",
		"application/apply-patch+yaml; charset=utf-8",
		"Application/Apply-Patch+YAML",
		"application/json",
	};
	static const enum k8s_patch want[] = { K8S_PATCH_JSON,  K8S_PATCH_MERGE, K8S_PATCH_STRATEGIC,
					       K8S_PATCH_APPLY, K8S_PATCH_APPLY, K8S_PATCH_APPLY,
					       K8S_PATCH_OTHER };

	for (size_t i = 0; i < sizeof(cts) / sizeof(cts[0]); i++)
		cr_assert_eq(k8s_patch_type(cts[i], strlen(cts[i])), want[i], "%s", cts[i]);
	cr_assert_str_eq(k8s_patch_name(K8S_PATCH_APPLY), "apply");
	cr_assert_null(k8s_patch_name(K8S_PATCH_NONE));
}

Test(k8sreq, ambiguous_or_malformed_refused)
{
	static const char *const bad[] = {
		"/api/v1/namespaces/default/pods/a%2Fb",	/* encoded slash */
		"/api/v1/namespaces/default/pods/a%2fb",
		"/api/v1/namespaces/default/pods/%",
		"/api/v1/namespaces/default/pods/%4",
		"/api/v1/namespaces/default/pods/%zz",
		"/api/v1/namespaces/default/pods/a%00b",
		"/api/v1/namespaces/default/pods/a%0Ab",
		"/api/v1/namespaces/default/pods?labelSelector=%0d",
		"/api/v1/namespaces/default/pods?labelSelector=%x",
		"/api/v1//namespaces/default/pods",
		"//api/v1/namespaces/default/pods",
		"/api/v1/namespaces/default/pods//",
		"/api/v1/namespaces/./pods",
		"/api/v1/namespaces/default/pods/..",
		"/api/v1/namespaces/default/pods/%2E%2E",
		"/api/v1/namespaces/default/pods#frag",
		"/api/v1/watch",
		"/api/v1/proxy",
		"api/v1/pods",
		"",
	};
	static struct k8s_req r;
	char *longer;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(k8s_req_parse(&r, "GET", 3, bad[i], strlen(bad[i])), -EINVAL, "%s",
			     bad[i]);
	cr_assert_eq(k8s_req_parse(&r, "", 0, "/", 1), -EINVAL);
	longer = malloc(K8S_MAX_TARGET + 2);
	memset(longer, 'a', K8S_MAX_TARGET + 1);
	longer[0] = '/';
	cr_assert_eq(k8s_req_parse(&r, "GET", 3, longer, K8S_MAX_TARGET + 1), -ENAMETOOLONG);
	cr_assert_eq(k8s_req_parse(&r, "GET", 3, longer, K8S_MAX_TARGET), 0);
	/* the worst case for the arena: every byte a query key and value */
	for (size_t i = 1; i < K8S_MAX_TARGET; i++)
		longer[i] = '&';
	longer[1] = '?';
	cr_assert_eq(k8s_req_parse(&r, "GET", 3, longer, K8S_MAX_TARGET), 0);
	free(longer);
}

/* Every prefix of every row's target, from an exact-size copy: 0 or
 * -EINVAL, never a read past it (ASan). */
Test(k8sreq, every_prefix)
{
	static struct k8s_req r;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *target;
		char method[16];

		split(rows[i].line, method, sizeof(method), &target);
		for (size_t n = 0; n <= strlen(target); n++) {
			char *copy = malloc(n ? n : 1);
			int rc;

			memcpy(copy, target, n);
			rc = k8s_req_parse(&r, method, strlen(method), copy, n);
			cr_assert(rc == 0 || rc == -EINVAL, "%s[%zu]: %d", target, n, rc);
			free(copy);
		}
	}
}

/* ------------------------------------------------------------ real traffic */

/*
 * Streams recorded between kubectl v1.32 and kube-apiserver v1.20.2 (the
 * test fixture of lib_k8s.sh, through a TLS relay that logged plaintext;
 * the exec upgrades against a stand-in answering 101, since no kubelet
 * runs here),
 * kept as fuzz seeds: tests/fuzz/corpus/http/kube_*_req (what kubectl
 * sent on one connection, after a control byte) and kube_*_resp (what the
 * API server answered). Every message must frame, and each request's
 * attributes are written as "verb resource[/sub] ns/name[ patch]" (or
 * "verb /path" for non-resource URLs), "; " between requests.
 */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;

	cr_assert_not_null(f, "%s (run from the repository root)", path);
	b = malloc(1 << 20);
	*len = fread(b, 1, 1 << 20, f);
	fclose(f);
	return b;
}

/* Frames every message of one side; the summary of the requests, or of
 * the statuses for responses. */
static void frame_all(const char *path, enum http_kind kind, char *sum, size_t cap)
{
	static struct k8s_req r;
	size_t len, off = 1, used, o = 0;
	uint8_t *b = slurp(path, &len);

	sum[0] = 0;
	while (off < len) {
		struct http_parser p;
		struct http_head h;
		struct http_span d;
		const uint8_t *m = b + off;
		int rc, ct;

		http_parser_init(&p, kind, 0);
		cr_assert_eq(http_parse_head(&p, m, len - off, &h), 0, "%s @%zu: %s", path, off,
			     p.why);
		if (kind == HTTP_RESPONSE) {
			o += (size_t)snprintf(sum + o, cap - o, "%s%u", o ? " " : "", h.status);
		} else {
			cr_assert_eq(k8s_req_parse(&r, http_at(m, h.method), h.method.len,
						   http_at(m, h.target), h.target.len),
				     0, "%s @%zu", path, off);
			ct = http_field_find(&h, m, "Content-Type", 0);
			r.patch = strcmp(r.verb, "patch") || ct < 0
					  ? K8S_PATCH_NONE
					  : k8s_patch_type(http_at(m, h.fields[ct].value),
							   h.fields[ct].value.len);
			if (!r.resource_request)
				o += (size_t)snprintf(sum + o, cap - o, "%s%s %s", o ? "; " : "",
						      r.verb, r.path);
			else
				o += (size_t)snprintf(sum + o, cap - o, "%s%s %s%s%s %s/%s%s%s",
						      o ? "; " : "", r.verb, r.resource,
						      *r.subresource ? "/" : "", r.subresource, r.ns,
						      r.name, r.patch ? " " : "",
						      r.patch ? k8s_patch_name(r.patch) : "");
		}
		cr_assert_lt(o, cap);
		off += h.size;
		do {
			rc = http_body(&p, b + off, len - off, &used, &d);
			cr_assert_geq(rc, 0, "%s @%zu: %s", path, off, p.why);
			off += used;
		} while (rc == 0 && used && off < len);
		/* the last watch was cut by kubectl's timeout */
		if (rc == 0)
			break;
	}
	free(b);
}

Test(k8sreq, kubectl_and_apiserver_recorded)
{
	static const char *const want[][3] = {
		{ "discovery_get_ns", "get /apis/apiextensions.k8s.io/v1beta1; list namespaces /",
		  "200 200" },
		{ "create_ns", "create namespaces /", "201" },
		/* client-side apply (its answer, the OpenAPI document, is not kept) */
		{ "apply",
		  "get /openapi/v3; get /openapi/v2; get configmaps default/cfg; "
		  "create configmaps default/",
		  NULL },
		{ "apply_server_side", "get /openapi/v3; get /openapi/v2; "
		  "patch deployments default/web apply", "404 304 201" },
		{ "patch", "get /version; get configmaps default/cfg; "
		  "patch configmaps default/cfg strategic", "200 200 200" },
		{ "scale", "get /version; get deployments default/web; "
		  "patch deployments/scale default/web merge", "200 200 200" },
		{ "get_watch", "get /version; list configmaps default/; watch configmaps default/",
		  "200 200 200" },
		{ "delete", "get /version; delete configmaps default/cfg; get configmaps default/cfg",
		  "200 200 404" },
		{ "auth_can_i", "get /api/v1; create selfsubjectaccessreviews /", "200 201" },
		/* kubectl waits for the namespace to go: a watch named by a field selector */
		/* the exec upgrades of kubectl v1.32: WebSocket (a GET), its SPDY fallback */
		{ "exec_ws_upgrade", "get pods/exec default/web-0", NULL },
		{ "exec_spdy_upgrade", "create pods/exec default/web-0", NULL },
		{ "delete_ns", "get /version; delete namespaces agents/agents; "
		  "get namespaces agents/agents; list namespaces /agents; watch namespaces /agents",
		  "200 200 200 200 200" },
	};
	char path[128], sum[2048];

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(path, sizeof(path), "tests/fuzz/corpus/http/kube_%s_req", want[i][0]);
		frame_all(path, HTTP_REQUEST, sum, sizeof(sum));
		cr_assert_str_eq(sum, want[i][1], "%s", path);
		if (!want[i][2])
			continue;
		snprintf(path, sizeof(path), "tests/fuzz/corpus/http/kube_%s_resp", want[i][0]);
		frame_all(path, HTTP_RESPONSE, sum, sizeof(sum));
		cr_assert_str_eq(sum, want[i][2], "%s", path);
	}
}
