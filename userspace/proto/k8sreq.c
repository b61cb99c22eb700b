// SPDX-License-Identifier: BSD-2-Clause
/*
 * Kubernetes request attributes (k8sreq.h): the API server's RequestInfo
 * rules, reimplemented over a decoded copy of the target kept in the
 * request itself.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "proto/http.h"
#include "proto/k8sreq.h"

static char *keep(struct k8s_req *r, const char *p, size_t n)
{
	char *out;

	if (n >= sizeof(r->buf) - r->used)
		return NULL;
	out = r->buf + r->used;
	memcpy(out, p, n);
	out[n] = 0;
	r->used += n + 1;
	return out;
}

/*
 * Percent-decode in[0..n) into the arena, '+' as a space when plus. NULL
 * with *err: -EINVAL a bad escape or a decoded control byte, -ENAMETOOLONG.
 */
static const char *decode(struct k8s_req *r, const char *in, size_t n, bool plus, int *err)
{
	char *out = r->buf + r->used;
	size_t o = 0;

	if (n >= sizeof(r->buf) - r->used) {
		*err = -ENAMETOOLONG;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '%') {
			int hi = i + 2 < n ? http_hexval((unsigned char)in[i + 1]) : -1;
			int lo = hi >= 0 ? http_hexval((unsigned char)in[i + 2]) : -1;

			if (lo < 0) {
				*err = -EINVAL;
				return NULL;
			}
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus) {
			c = ' ';
		}
		if (c < 0x20 || c == 0x7f) {
			*err = -EINVAL;
			return NULL;
		}
		out[o++] = (char)c;
	}
	out[o] = 0;
	r->used += o + 1;
	return out;
}

/* Go's query bool (runtime.Convert_Slice_string_To_bool): only 0, f and
 * false, in any case, are false. */
static bool query_bool(const char *v)
{
	return strcmp(v, "0") && strcasecmp(v, "f") && strcasecmp(v, "false");
}

/* A name the API server takes from a field selector (a valid path segment). */
static bool segment_name(const char *s)
{
	return *s && strcmp(s, ".") && strcmp(s, "..") && !strpbrk(s, "/%");
}

/*
 * The value of the first metadata.name=V or metadata.name==V term of a
 * field selector (terms split at unescaped ',', '\' escapes undone),
 * copied into the arena; NULL when there is none.
 */
static const char *selector_name(struct k8s_req *r, const char *sel)
{
	static const char key[] = "metadata.name";
	const char *p = sel;

	while (*p) {
		const char *t = p, *v;
		size_t o = 0;
		char *out;

		while (*p && *p != ',')
			p += *p == '\\' && p[1] ? 2 : 1;
		v = t + strlen(key);
		if (!strncmp(t, key, strlen(key)) && *v == '=' && v < p) {
			v += v[1] == '=' ? 2 : 1;
			if (v > p || (out = r->buf + r->used, (size_t)(p - v) >= sizeof(r->buf) - r->used))
				return NULL;
			for (const char *c = v; c < p; c++) {
				if (*c == '\\' && c + 1 < p)
					c++;
				out[o++] = *c;
			}
			out[o] = 0;
			r->used += o + 1;
			return segment_name(out) ? out : NULL;
		}
		if (*p)
			p++;
	}
	return NULL;
}

static int query(struct k8s_req *r, const char *q, size_t n, bool *watch)
{
	bool seen_watch = false;
	size_t i = 0;
	int err = 0;

	while (i < n) {
		size_t b = i, eq;
		const char *k, *v;

		while (i < n && q[i] != '&')
			i++;
		for (eq = b; eq < i && q[eq] != '='; eq++)
			;
		k = decode(r, q + b, eq - b, true, &err);
		v = k ? decode(r, q + eq + (eq < i), i - eq - (eq < i), true, &err) : NULL;
		if (!v)
			return err;
		i++;
		if (!strcmp(k, "watch")) {
			if (!seen_watch)
				*watch = query_bool(v);
			seen_watch = true;
		} else if (!strcmp(k, "labelSelector") && !r->label_selector)
			r->label_selector = v;
		else if (!strcmp(k, "fieldSelector") && !r->field_selector)
			r->field_selector = v;
		else if (!strcmp(k, "container") && !r->container)
			r->container = v;
		else if (!strcmp(k, "dryRun"))
			r->dry_run = true;
		else if (!strcmp(k, "tty"))
			r->tty = query_bool(v);
		else if (!strcmp(k, "stdin"))
			r->stdin_ = query_bool(v);
		else if (!strcmp(k, "follow"))
			r->follow = query_bool(v);
		else if (!strcmp(k, "command") && r->n_command < K8S_MAX_COMMAND)
			r->command[r->n_command++] = v;
		else if (!strcmp(k, "command"))
			r->command_cut = true;
	}
	return 0;
}

static const char *method_verb(const char *m)
{
	static const char *const map[][2] = {
		{ "POST", "create" }, { "GET", "get" },	      { "HEAD", "get" },
		{ "PUT", "update" },  { "PATCH", "patch" }, { "DELETE", "delete" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(m, map[i][0]))
			return map[i][1];
	return "";
}

static bool is_connect_sub(const char *s)
{
	return !strcmp(s, "exec") || !strcmp(s, "attach") || !strcmp(s, "portforward") ||
	       !strcmp(s, "proxy");
}

/* RequestInfo over the path segments seg[0..n). */
static int resource(struct k8s_req *r, const char *method, char **seg, unsigned n)
{
	unsigned i = 1;

	r->prefix = seg[0];
	if (!strcmp(seg[0], "apis")) {
		if (n < 4)
			return 1;	/* /apis/GROUP/VERSION: discovery */
		r->group = seg[i++];
	}
	r->version = seg[i++];
	if (!strcmp(seg[i], "proxy") || !strcmp(seg[i], "watch")) {
		if (n - i < 2)
			return -EINVAL;	/* the API server cannot tell the kind */
		r->verb = seg[i++];
	} else {
		r->verb = method_verb(method);
	}
	if (!strcmp(seg[i], "namespaces") && n - i > 1) {
		r->ns = seg[i + 1];
		if (n - i > 2 && strcmp(seg[i + 2], "status") && strcmp(seg[i + 2], "finalize"))
			i += 2;
	}
	r->resource = seg[i];
	if (n - i >= 2)
		r->name = seg[i + 1];
	if (n - i >= 3 && strcmp(r->verb, "proxy"))
		r->subresource = seg[i + 2];
	r->resource_request = true;
	return 0;
}

int k8s_req_parse(struct k8s_req *r, const char *method, size_t mlen, const char *target,
		  size_t tlen)
{
	const char *qmark = memchr(target, '?', tlen), *path;
	size_t plen = qmark ? (size_t)(qmark - target) : tlen;
	char *seg[K8S_MAX_SEGMENTS], *split, *m;
	unsigned n = 0;
	bool watch = false;
	int err = 0;

	memset(r, 0, offsetof(struct k8s_req, buf));
	r->verb = r->prefix = r->group = r->version = r->ns = r->resource = r->name =
		r->subresource = "";
	if (tlen > K8S_MAX_TARGET)
		return -ENAMETOOLONG;
	if (!mlen || mlen > 32 || !plen || target[0] != '/' || memchr(target, '#', tlen))
		return -EINVAL;
	/* an encoded '/' would be one segment here and maybe two to a router */
	for (size_t i = 0; i + 2 < plen; i++)
		if (target[i] == '%' && target[i + 1] == '2' && (target[i + 2] | 0x20) == 'f')
			return -EINVAL;
	m = keep(r, method, mlen);
	path = decode(r, target, plen, false, &err);
	if (!m || !path)
		return err ? err : -ENAMETOOLONG;
	r->path = path;
	if (qmark) {
		err = query(r, qmark + 1, tlen - plen - 1, &watch);
		if (err)
			return err;
	}
	/* segments: one trailing '/' allowed, no empty, "." or ".." ones */
	split = keep(r, path + 1, strlen(path + 1));
	if (!split)
		return -ENAMETOOLONG;
	if (*split && split[strlen(split) - 1] == '/')
		split[strlen(split) - 1] = 0;
	for (char *s = split, *next; *s; s = next) {
		next = strchr(s, '/');
		if (next)
			*next++ = 0;
		else
			next = s + strlen(s);
		if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
			return -EINVAL;
		if (!*next && next > s + strlen(s))
			return -EINVAL;		/* "a//" ends in an empty segment */
		if (n < K8S_MAX_SEGMENTS)
			seg[n++] = s;
	}
	if (n >= 3 && (!strcmp(seg[0], "api") || !strcmp(seg[0], "apis"))) {
		err = resource(r, m, seg, n);
		if (err < 0)
			return err;
	}
	if (!r->resource_request) {
		for (char *c = m; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
		r->verb = m;
		r->prefix = r->version = "";
		return 0;
	}
	if (!*r->name && !strcmp(r->verb, "get")) {
		r->verb = watch ? "watch" : "list";
		if (r->field_selector) {
			const char *nm = selector_name(r, r->field_selector);

			if (nm)
				r->name = nm;
		}
	}
	if (!*r->name && !strcmp(r->verb, "delete"))
		r->verb = "deletecollection";
	r->connect = is_connect_sub(r->subresource) || !strcmp(r->verb, "proxy");
	return 0;
}

enum k8s_patch k8s_patch_type(const char *ct, size_t len)
{
	static const struct {
		const char *type;
		enum k8s_patch p;
	} map[] = {
		{ "application/json-patch+json", K8S_PATCH_JSON },
		{ "application/merge-patch+json", K8S_PATCH_MERGE },
		{ "application/strategic-merge-patch+json", K8S_PATCH_STRATEGIC },
		{ "application/apply-patch+yaml", K8S_PATCH_APPLY },
	};
	const char *semi = memchr(ct, ';', len);
	size_t n = semi ? (size_t)(semi - ct) : len;

	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strlen(map[i].type) == n && !strncasecmp(ct, map[i].type, n))
			return map[i].p;
	return K8S_PATCH_OTHER;
}

const char *k8s_patch_name(enum k8s_patch p)
{
	static const char *const names[] = { NULL, "json", "merge", "strategic", "apply",
					     "other" };

	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : NULL;
}

void k8s_req_policy(const struct k8s_req *r, struct policy_k8s_req *out)
{
	out->verb = r->verb;
	out->group = r->group;
	out->resource = r->resource;
	out->subresource = r->subresource;
	out->ns = r->ns;
	out->name = r->name;
}
