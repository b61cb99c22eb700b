// SPDX-License-Identifier: BSD-2-Clause
/*
 * The policy engine: rule files decoded by jansson and walked by hand
 * against the schema of DESIGN §4, then decisions by first match.
 *
 * jansson keeps no position per value, so a schema error is placed by a
 * second, tiny pass over the same text (locate()): while walking the tree
 * the loader keeps the path it is at (rules[2].match.identity.usrs); on an
 * error that path is followed through the text, which jansson has already
 * proved to be valid JSON without repeated member names, so the walk is
 * unambiguous and needs no error handling beyond staying in bounds.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"
#include "text.h"

#define MAX_PATH_DEPTH	16
#define MAX_COMM	15	/* TASK_COMM_LEN - 1 */
#define MAX_NAME_PARTS	4	/* db.schema.table and a spare */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct strlist {
	char **v;
	size_t n;		/* 0: key absent (an empty list is refused) */
};

struct match {
	/* identity */
	struct strlist users, groups, comms, cgroups;
	uint32_t *uids;
	size_t n_uids;
	bool has_pods;
	struct strlist pod_ns, pod_names, pod_sas;
	char **label_k, **label_v;
	size_t n_labels;
	int authenticated;	/* -1 absent, else 0/1 */
	/* target */
	struct strlist targets;
	/* kubernetes */
	bool has_k8s;
	struct strlist verbs, kgroups, resources, subresources, kns, knames;
	/* sql */
	bool has_sql;
	unsigned classes;	/* 1u << enum sql_class; 0: any */
	int no_where;		/* -1 absent, else 0/1 */
	struct strlist tables;
};

struct rule {
	char *name;
	const char *file;	/* borrowed from policy->files */
	int line, col;
	struct match m;
	enum policy_action action;
	struct mask_spec *mask;	/* NULL: none */
	enum policy_record record;
	json_t *match_json;	/* as written, for policy_json() */
	char *description;
};

struct policy {
	int refs;
	enum policy_action def;
	const char *def_file;	/* the first file that set it, or NULL */
	int def_line, def_col;
	struct rule *rules;
	size_t n_rules, cap_rules;
	char **files;
	size_t n_files;
	json_t *names;		/* name -> rule index, while loading */
};

/* ------------------------------------------------------------ names */

static const char *const action_names[] = { "allow", "review", "deny" };
static const char *const record_names[] = { "full", "metadata" };

const char *policy_action_name(enum policy_action a)
{
	return (unsigned)a < ARRAY_SIZE(action_names) ? action_names[a] : "?";
}

const char *policy_record_name(enum policy_record r)
{
	return (unsigned)r < ARRAY_SIZE(record_names) ? record_names[r] : "?";
}

static int action_parse(const char *s, enum policy_action *out)
{
	for (size_t i = 0; s && i < ARRAY_SIZE(action_names); i++) {
		if (!strcmp(s, action_names[i])) {
			*out = (enum policy_action)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* ------------------------------------------------------------ errors */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void sanitize(char *out, size_t outlen, const char *s)
{
	text_sanitize(out, outlen, s, true);
}

/* ------------------------------------------------ positions in the text */

struct pstep {
	const char *key;	/* NULL: an array index */
	size_t idx;
};

static size_t skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/* i at an opening quote; returns the index after the closing one. */
static size_t skip_string(const char *s, size_t n, size_t i)
{
	for (i++; i < n && s[i] != '"'; i++)
		if (s[i] == '\\')
			i++;
	return i < n ? i + 1 : n;
}

static size_t skip_value(const char *s, size_t n, size_t i)
{
	size_t depth = 0;

	if (i >= n)
		return n;
	if (s[i] == '"')
		return skip_string(s, n, i);
	if (s[i] != '{' && s[i] != '[') {
		while (i < n && s[i] != ',' && s[i] != ']' && s[i] != '}' && s[i] != ' ' &&
		       s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			i++;
		return i;
	}
	while (i < n) {
		switch (s[i]) {
		case '"':
			i = skip_string(s, n, i);
			continue;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (--depth == 0)
				return i + 1;
			break;
		}
		i++;
	}
	return n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static long hex4(const char *s, size_t n, size_t i)
{
	long v = 0;

	if (n < 4 || i > n - 4)
		return -1;
	for (size_t k = 0; k < 4; k++) {
		int h = hexval(s[i + k]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* Whether the JSON string at s[i] (a quote) decodes to exactly key. */
static bool key_equals(const char *s, size_t n, size_t i, const char *key)
{
	const unsigned char *k = (const unsigned char *)key;

	for (i++; i < n && s[i] != '"'; i++) {
		unsigned char buf[4];
		size_t blen = 0;

		if (s[i] != '\\') {
			if (*k++ != (unsigned char)s[i])
				return false;
			continue;
		}
		if (++i >= n)
			return false;
		switch (s[i]) {
		case 'b': buf[blen++] = '\b'; break;
		case 'f': buf[blen++] = '\f'; break;
		case 'n': buf[blen++] = '\n'; break;
		case 'r': buf[blen++] = '\r'; break;
		case 't': buf[blen++] = '\t'; break;
		case 'u': {
			long cp = hex4(s, n, i + 1), lo;

			if (cp < 0)
				return false;
			i += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && i + 2 < n && s[i + 1] == '\\' &&
			    s[i + 2] == 'u' && (lo = hex4(s, n, i + 3)) >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i += 6;
			}
			if (cp < 0x80) {
				buf[blen++] = (unsigned char)cp;
			} else if (cp < 0x800) {
				buf[blen++] = (unsigned char)(0xc0 | (cp >> 6));
				buf[blen++] = (unsigned char)(0x80 | (cp & 0x3f));
			} else if (cp < 0x10000) {
				buf[blen++] = (unsigned char)(0xe0 | (cp >> 12));
				buf[blen++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
				buf[blen++] = (unsigned char)(0x80 | (cp & 0x3f));
			} else {
				buf[blen++] = (unsigned char)(0xf0 | (cp >> 18));
				buf[blen++] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
				buf[blen++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
				buf[blen++] = (unsigned char)(0x80 | (cp & 0x3f));
			}
			break;
		}
		default:	/* " \ / */
			buf[blen++] = (unsigned char)s[i];
			break;
		}
		for (size_t b = 0; b < blen; b++)
			if (*k++ != buf[b])
				return false;
	}
	return *k == '\0';
}

/*
 * The byte offset in s of what path[0..depth) names: the member's key
 * (at_key) or its value. What cannot be followed (it should not happen)
 * gives the deepest container reached.
 */
static size_t locate(const char *s, size_t n, const struct pstep *path, int depth, bool at_key)
{
	size_t i = skip_ws(s, n, 0);

	for (int d = 0; d < depth; d++) {
		const struct pstep *st = &path[d];
		size_t at = i, idx = 0;
		bool found = false;

		if (i >= n || s[i] != (st->key ? '{' : '['))
			return at;
		i = skip_ws(s, n, i + 1);
		while (i < n && s[i] != '}' && s[i] != ']') {
			size_t k = i;

			if (st->key) {
				bool eq = s[i] == '"' && key_equals(s, n, i, st->key);

				i = skip_ws(s, n, skip_string(s, n, i));
				if (i < n && s[i] == ':')
					i = skip_ws(s, n, i + 1);
				if (eq) {
					found = true;
					if (at_key && d == depth - 1)
						return k;
					break;
				}
			} else if (idx == st->idx) {
				found = true;
				break;
			}
			i = skip_ws(s, n, skip_value(s, n, i));
			if (i < n && s[i] == ',')
				i = skip_ws(s, n, i + 1);
			idx++;
		}
		if (!found)
			return at;
	}
	return i;
}

/* 1-based line and column (in characters, as jansson counts) of s[off]. */
static void line_col(const char *s, size_t off, int *line, int *col)
{
	int l = 1, c = 1;

	for (size_t i = 0; i < off; i++) {
		if (s[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)s[i] & 0xc0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

/* ------------------------------------------------------------ loading */

struct lctx {
	struct policy *p;
	const char *file;	/* borrowed from p->files */
	const char *text;
	size_t len;
	struct pstep path[MAX_PATH_DEPTH];
	int depth;
	char *err;
	size_t errlen;
};

enum { AT_VALUE = 0, AT_KEY = 1 };

static void push_key(struct lctx *c, const char *key)
{
	if (c->depth < MAX_PATH_DEPTH)
		c->path[c->depth] = (struct pstep){ .key = key };
	c->depth++;
}

static void push_idx(struct lctx *c, size_t idx)
{
	if (c->depth < MAX_PATH_DEPTH)
		c->path[c->depth] = (struct pstep){ .idx = idx };
	c->depth++;
}

static void pop(struct lctx *c)
{
	c->depth--;
}

static void path_text(const struct lctx *c, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (int d = 0; d < c->depth && d < MAX_PATH_DEPTH && o + 1 < outlen; d++) {
		char part[96];

		if (c->path[d].key) {
			char safe[80];

			sanitize(safe, sizeof(safe), c->path[d].key);
			snprintf(part, sizeof(part), "%s%s", d ? "." : "", safe);
		} else {
			snprintf(part, sizeof(part), "[%zu]", c->path[d].idx);
		}
		o += (size_t)snprintf(out + o, outlen - o, "%s", part);
	}
	if (o >= outlen)
		out[outlen - 1] = '\0';
}

static int perr(struct lctx *c, int where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "FILE:LINE:COL: PATH: message" at the current path; returns -EINVAL. */
static int perr(struct lctx *c, int where, const char *fmt, ...)
{
	char msg[512], path[256];
	int depth = c->depth < MAX_PATH_DEPTH ? c->depth : MAX_PATH_DEPTH;
	int line, col;
	size_t off;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	off = locate(c->text, c->len, c->path, depth, where == AT_KEY);
	line_col(c->text, off, &line, &col);
	path_text(c, path, sizeof(path));
	if (path[0])
		set_err(c->err, c->errlen, "%s:%d:%d: %s: %s", c->file, line, col, path, msg);
	else
		set_err(c->err, c->errlen, "%s:%d:%d: %s", c->file, line, col, msg);
	return -EINVAL;
}

static int nomem(struct lctx *c)
{
	set_err(c->err, c->errlen, "%s: out of memory", c->file);
	return -ENOMEM;
}

static bool in_names(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

static void join_names(char *out, size_t outlen, const char *const *list)
{
	size_t o = 0;

	out[0] = '\0';
	for (; *list && o < outlen; list++)
		o += (size_t)snprintf(out + o, outlen - o, "%s%s", o ? ", " : "", *list);
}

/* Every key of obj (at the current path) must be in known. */
static int check_keys(struct lctx *c, json_t *obj, const char *const *known)
{
	const char *key;
	json_t *val;

	json_object_foreach(obj, key, val) {
		char names[256];

		if (in_names(known, key))
			continue;
		join_names(names, sizeof(names), known);
		push_key(c, key);
		return perr(c, AT_KEY, "unknown key (known: %s)", names);
	}
	return 0;
}

static void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* NULL when s is acceptable, else why not. */
typedef const char *(*str_check)(const char *s);

static const char *check_nonempty(const char *s)
{
	return *s ? NULL : "an empty string never matches";
}

static const char *check_any(const char *s)
{
	(void)s;
	return NULL;
}

static const char *check_comm(const char *s)
{
	if (!*s)
		return "an empty string never matches";
	if (strlen(s) > MAX_COMM)
		return "longer than 15 bytes: the kernel keeps only the first 15 of a comm";
	return NULL;
}

static const char *check_cgroup(const char *s)
{
	if (s[0] != '/' && s[0] != '*' && s[0] != '?' && s[0] != '[')
		return "a cgroup path starts with \"/\"";
	return NULL;
}

static const char *check_verb(const char *s)
{
	static const char *const verbs[] = {
		"get", "list", "watch", "create", "update", "patch", "delete",
		"deletecollection", "proxy", "impersonate", "bind", "escalate", "use",
		"approve", "sign", NULL,
	};

	if (in_names(verbs, s))
		return NULL;
	return "not a Kubernetes verb (get, list, watch, create, update, patch, delete, "
	       "deletecollection, proxy, impersonate, bind, escalate, use, approve, sign)";
}

static bool lower_dns(const char *s, bool dots)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      (dots && *s == '.')))
			return false;
	return true;
}

static const char *check_api_group(const char *s)
{
	if (!strcmp(s, "core"))
		return "the core API group is \"\", not \"core\"";
	if (strchr(s, '/'))
		return "an API group is a name without a version (\"apps\", not \"apps/v1\")";
	if (!lower_dns(s, true))
		return "an API group is lower-case letters, digits, \"-\" and \".\"";
	return NULL;
}

static const char *check_resource(const char *s)
{
	if (!*s)
		return "an empty string never matches";
	if (strchr(s, '/'))
		return "a subresource goes in \"subresources\": resources [\"pods\"], "
		       "subresources [\"exec\"]";
	if (!lower_dns(s, true))
		return "resources are lower-case plurals such as \"pods\"";
	return NULL;
}

static const char *check_subresource(const char *s)
{
	if (strchr(s, '/') || !lower_dns(s, false))
		return "subresources are lower-case names such as \"exec\" or \"\" (none)";
	return NULL;
}

static const char *check_class(const char *s)
{
	enum sql_class cls;

	if (sql_class_parse(s, &cls))
		return "not a SQL class (read, write, ddl, dcl, admin, tx)";
	return NULL;
}

static const char *check_table(const char *s)
{
	if (!*s)
		return "an empty string never matches";
	if (strpbrk(s, "\"`[]"))
		return "a table name without quotes, as the classifier spells it "
		       "(matching is case-insensitive)";
	if (s[0] == '.' || s[strlen(s) - 1] == '.' || strstr(s, ".."))
		return "a table name is \"table\", \"schema.table\" or \"db.schema.table\"";
	return NULL;
}

/* A non-empty list of strings passing check, at the current path. */
static int get_list_here(struct lctx *c, json_t *v, struct strlist *out, str_check check)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return perr(c, AT_VALUE, "must be a list of strings");
	if (!json_array_size(v))
		return perr(c, AT_VALUE, "an empty list never matches; leave the key out to "
					 "match anything");
	out->v = calloc(json_array_size(v), sizeof(char *));
	if (!out->v)
		return nomem(c);
	json_array_foreach(v, i, e) {
		const char *why;

		push_idx(c, i);
		if (!json_is_string(e))
			return perr(c, AT_VALUE, "must be a string");
		why = check(json_string_value(e));
		if (why)
			return perr(c, AT_VALUE, "%s", why);
		out->v[out->n] = strdup(json_string_value(e));
		if (!out->v[out->n])
			return nomem(c);
		out->n++;
		pop(c);
	}
	return 0;
}

/* obj[key], when present, as a list. */
static int get_list(struct lctx *c, json_t *obj, const char *key, struct strlist *out,
		    str_check check)
{
	json_t *v = json_object_get(obj, key);
	int ret;

	if (!v)
		return 0;
	push_key(c, key);
	ret = get_list_here(c, v, out, check);
	if (!ret)
		pop(c);
	return ret;
}

static int parse_uids(struct lctx *c, json_t *obj, struct match *m)
{
	json_t *v = json_object_get(obj, "uids"), *e;
	size_t i;

	if (!v)
		return 0;
	push_key(c, "uids");
	if (!json_is_array(v))
		return perr(c, AT_VALUE, "must be a list of integers");
	if (!json_array_size(v))
		return perr(c, AT_VALUE, "an empty list never matches; leave the key out to "
					 "match anything");
	m->uids = calloc(json_array_size(v), sizeof(uint32_t));
	if (!m->uids)
		return nomem(c);
	json_array_foreach(v, i, e) {
		push_idx(c, i);
		if (!json_is_integer(e) || json_integer_value(e) < 0 ||
		    json_integer_value(e) > (json_int_t)UINT32_MAX)
			return perr(c, AT_VALUE, "must be an integer from 0 to 4294967295");
		m->uids[m->n_uids++] = (uint32_t)json_integer_value(e);
		pop(c);
	}
	pop(c);
	return 0;
}

static int parse_pods(struct lctx *c, json_t *v, struct match *m)
{
	static const char *const keys[] = {
		"namespaces", "names", "service_accounts", "labels", NULL,
	};
	json_t *labels, *lv;
	const char *lk;
	int ret;

	push_key(c, "pods");
	if (!json_is_object(v))
		return perr(c, AT_VALUE, "must be an object");
	if ((ret = check_keys(c, v, keys)) ||
	    (ret = get_list(c, v, "namespaces", &m->pod_ns, check_nonempty)) ||
	    (ret = get_list(c, v, "names", &m->pod_names, check_nonempty)) ||
	    (ret = get_list(c, v, "service_accounts", &m->pod_sas, check_nonempty)))
		return ret;
	labels = json_object_get(v, "labels");
	if (labels) {
		push_key(c, "labels");
		if (!json_is_object(labels))
			return perr(c, AT_VALUE, "must be an object of label: value");
		if (!json_object_size(labels))
			return perr(c, AT_VALUE, "an empty object; leave the key out to match "
						 "any labels");
		m->label_k = calloc(json_object_size(labels), sizeof(char *));
		m->label_v = calloc(json_object_size(labels), sizeof(char *));
		if (!m->label_k || !m->label_v)
			return nomem(c);
		json_object_foreach(labels, lk, lv) {
			push_key(c, lk);
			if (!*lk)
				return perr(c, AT_KEY, "a label name is not empty");
			if (!json_is_string(lv))
				return perr(c, AT_VALUE, "a label value must be a string");
			m->label_k[m->n_labels] = strdup(lk);
			m->label_v[m->n_labels] = strdup(json_string_value(lv));
			m->n_labels++;
			if (!m->label_k[m->n_labels - 1] || !m->label_v[m->n_labels - 1])
				return nomem(c);
			pop(c);
		}
		pop(c);
	}
	m->has_pods = true;
	pop(c);
	return 0;
}

static int parse_identity(struct lctx *c, json_t *v, struct match *m)
{
	static const char *const keys[] = {
		"users", "groups", "uids", "comms", "cgroups", "pods", "authenticated", NULL,
	};
	json_t *a;
	int ret;

	push_key(c, "identity");
	if (!json_is_object(v))
		return perr(c, AT_VALUE, "must be an object");
	if ((ret = check_keys(c, v, keys)) ||
	    (ret = get_list(c, v, "users", &m->users, check_nonempty)) ||
	    (ret = get_list(c, v, "groups", &m->groups, check_nonempty)) ||
	    (ret = parse_uids(c, v, m)) ||
	    (ret = get_list(c, v, "comms", &m->comms, check_comm)) ||
	    (ret = get_list(c, v, "cgroups", &m->cgroups, check_cgroup)))
		return ret;
	if (json_object_get(v, "pods") && (ret = parse_pods(c, json_object_get(v, "pods"), m)))
		return ret;
	a = json_object_get(v, "authenticated");
	if (a) {
		push_key(c, "authenticated");
		if (!json_is_boolean(a))
			return perr(c, AT_VALUE, "must be true or false");
		m->authenticated = json_is_true(a);
		pop(c);
	}
	pop(c);
	return 0;
}

static int parse_k8s(struct lctx *c, json_t *v, struct match *m)
{
	static const char *const keys[] = {
		"verbs", "groups", "resources", "subresources", "namespaces", "names", NULL,
	};
	int ret;

	push_key(c, "k8s");
	if (!json_is_object(v))
		return perr(c, AT_VALUE, "must be an object");
	if ((ret = check_keys(c, v, keys)) ||
	    (ret = get_list(c, v, "verbs", &m->verbs, check_verb)) ||
	    (ret = get_list(c, v, "groups", &m->kgroups, check_api_group)) ||
	    (ret = get_list(c, v, "resources", &m->resources, check_resource)) ||
	    (ret = get_list(c, v, "subresources", &m->subresources, check_subresource)) ||
	    (ret = get_list(c, v, "namespaces", &m->kns, check_any)) ||
	    (ret = get_list(c, v, "names", &m->knames, check_any)))
		return ret;
	m->has_k8s = true;
	pop(c);
	return 0;
}

static int parse_sql(struct lctx *c, json_t *v, struct match *m)
{
	static const char *const keys[] = { "classes", "tables", "no_where", NULL };
	struct strlist classes = { 0 };
	json_t *nw;
	int ret;

	push_key(c, "sql");
	if (!json_is_object(v))
		return perr(c, AT_VALUE, "must be an object");
	if ((ret = check_keys(c, v, keys)) ||
	    (ret = get_list(c, v, "classes", &classes, check_class)) ||
	    (ret = get_list(c, v, "tables", &m->tables, check_table)))
		goto out;
	for (size_t i = 0; i < classes.n; i++) {
		enum sql_class cls = SQL_WRITE;

		sql_class_parse(classes.v[i], &cls);
		m->classes |= 1u << cls;
	}
	nw = json_object_get(v, "no_where");
	if (nw) {
		push_key(c, "no_where");
		if (!json_is_boolean(nw)) {
			ret = perr(c, AT_VALUE, "must be true or false");
			goto out;
		}
		m->no_where = json_is_true(nw);
		pop(c);
	}
	m->has_sql = true;
	pop(c);
out:
	strlist_free(&classes);
	return ret;
}

static int parse_match(struct lctx *c, json_t *v, struct match *m)
{
	static const char *const keys[] = { "identity", "target", "k8s", "sql", NULL };
	json_t *t;
	int ret;

	m->authenticated = -1;
	m->no_where = -1;
	push_key(c, "match");
	if (!json_is_object(v))
		return perr(c, AT_VALUE, "must be an object ({} matches everything)");
	if ((ret = check_keys(c, v, keys)))
		return ret;
	if (json_object_get(v, "identity") &&
	    (ret = parse_identity(c, json_object_get(v, "identity"), m)))
		return ret;
	t = json_object_get(v, "target");
	if (json_is_string(t)) {
		push_key(c, "target");
		if (!*json_string_value(t))
			return perr(c, AT_VALUE, "an empty string never matches");
		m->targets.v = calloc(1, sizeof(char *));
		if (!m->targets.v || !(m->targets.v[0] = strdup(json_string_value(t))))
			return nomem(c);
		m->targets.n = 1;
		pop(c);
	} else if (t) {
		push_key(c, "target");
		if (!json_is_array(t))
			return perr(c, AT_VALUE, "must be a target name or a list of them");
		if ((ret = get_list_here(c, t, &m->targets, check_nonempty)))
			return ret;
		pop(c);
	}
	if (json_object_get(v, "k8s") && json_object_get(v, "sql")) {
		push_key(c, "sql");
		return perr(c, AT_KEY, "a request is Kubernetes or SQL: k8s and sql together "
				       "never match");
	}
	if (json_object_get(v, "k8s") && (ret = parse_k8s(c, json_object_get(v, "k8s"), m)))
		return ret;
	if (json_object_get(v, "sql") && (ret = parse_sql(c, json_object_get(v, "sql"), m)))
		return ret;
	pop(c);
	return 0;
}

static int parse_mask(struct lctx *c, json_t *v, struct rule *r)
{
	static const char *const kinds[] = { "k8s", "sql_column", "pattern", NULL };
	size_t i;
	json_t *e;

	push_key(c, "mask");
	if (!json_is_array(v))
		return perr(c, AT_VALUE, "must be a list of {\"k8s\"|\"sql_column\"|\"pattern\": "
					 "value}");
	if (r->action == POLICY_DENY)
		return perr(c, AT_KEY, "a deny rule sends nothing to mask: mask goes with "
				       "allow or review");
	r->mask = mask_spec_new();
	if (!r->mask)
		return nomem(c);
	json_array_foreach(v, i, e) {
		const char *kind = NULL;
		json_t *val = NULL;
		char why[256] = "";
		int ret;

		push_idx(c, i);
		if (!json_is_object(e) || json_object_size(e) != 1)
			return perr(c, AT_VALUE, "a mask entry is one {\"k8s\"|\"sql_column\"|"
						 "\"pattern\": value}");
		json_object_foreach(e, kind, val)
			break;
		push_key(c, kind);
		if (!in_names(kinds, kind))
			return perr(c, AT_KEY, "unknown mask kind (known: k8s, sql_column, "
					       "pattern)");
		if (!json_is_string(val))
			return perr(c, AT_VALUE, "must be a string");
		ret = mask_spec_add(r->mask, kind, json_string_value(val), why, sizeof(why));
		if (ret == -ENOMEM)
			return nomem(c);
		if (ret)
			return perr(c, AT_VALUE, "%s", why[0] ? why : "bad mask entry");
		pop(c);
		pop(c);
	}
	if (!mask_spec_kinds(r->mask)) {
		mask_spec_free(r->mask);
		r->mask = NULL;
	}
	pop(c);
	return 0;
}

static void match_free(struct match *m)
{
	strlist_free(&m->users);
	strlist_free(&m->groups);
	strlist_free(&m->comms);
	strlist_free(&m->cgroups);
	free(m->uids);
	strlist_free(&m->pod_ns);
	strlist_free(&m->pod_names);
	strlist_free(&m->pod_sas);
	for (size_t i = 0; i < m->n_labels; i++) {
		free(m->label_k[i]);
		free(m->label_v[i]);
	}
	free(m->label_k);
	free(m->label_v);
	strlist_free(&m->targets);
	strlist_free(&m->verbs);
	strlist_free(&m->kgroups);
	strlist_free(&m->resources);
	strlist_free(&m->subresources);
	strlist_free(&m->kns);
	strlist_free(&m->knames);
	strlist_free(&m->tables);
}

static void rule_free(struct rule *r)
{
	free(r->name);
	match_free(&r->m);
	mask_spec_free(r->mask);
	json_decref(r->match_json);
	free(r->description);
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > POLICY_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9');

		if (!alnum && (i == 0 || !strchr("-_.:/@", ch)))
			return false;
	}
	return true;
}

/* One rule object, at the current path rules[i]; appended to c->p on success. */
static int parse_rule(struct lctx *c, json_t *v)
{
	static const char *const keys[] = {
		"name", "match", "action", "mask", "record", "description", NULL,
	};
	struct policy *p = c->p;
	struct rule r = { 0 };
	json_t *name, *action, *record, *desc, *prev;
	size_t off;
	int ret;

	r.m.authenticated = -1;
	r.m.no_where = -1;
	r.file = c->file;
	off = locate(c->text, c->len, c->path, c->depth, false);
	line_col(c->text, off, &r.line, &r.col);
	if (!json_is_object(v)) {
		ret = perr(c, AT_VALUE, "a rule must be an object");
		goto out;
	}
	if ((ret = check_keys(c, v, keys)))
		goto out;
	name = json_object_get(v, "name");
	action = json_object_get(v, "action");
	if (!name || !json_object_get(v, "match") || !action) {
		ret = perr(c, AT_VALUE, "a rule needs \"name\", \"match\" and \"action\"");
		goto out;
	}
	push_key(c, "name");
	if (!json_is_string(name) || !name_ok(json_string_value(name))) {
		ret = perr(c, AT_VALUE, "a rule name is 1 to %d of A-Z a-z 0-9 - _ . : / @, "
					"starting with a letter or digit", POLICY_NAME_MAX);
		goto out;
	}
	if (!strcmp(json_string_value(name), POLICY_DEFAULT_RULE)) {
		ret = perr(c, AT_VALUE, "\"default\" is reserved: it names the default decision");
		goto out;
	}
	prev = json_object_get(p->names, json_string_value(name));
	if (prev) {
		const struct rule *o = &p->rules[json_integer_value(prev)];

		ret = perr(c, AT_VALUE, "duplicate rule name \"%s\" (first at %s:%d:%d)", o->name,
			   o->file, o->line, o->col);
		goto out;
	}
	r.name = strdup(json_string_value(name));
	if (!r.name) {
		ret = nomem(c);
		goto out;
	}
	pop(c);

	push_key(c, "action");
	if (!json_is_string(action) || action_parse(json_string_value(action), &r.action)) {
		ret = perr(c, AT_VALUE, "action is \"allow\", \"deny\" or \"review\"");
		goto out;
	}
	pop(c);

	if ((ret = parse_match(c, json_object_get(v, "match"), &r.m)))
		goto out;
	r.match_json = json_deep_copy(json_object_get(v, "match"));
	if (!r.match_json) {
		ret = nomem(c);
		goto out;
	}

	record = json_object_get(v, "record");
	if (record) {
		push_key(c, "record");
		if (!json_is_string(record)) {
			ret = perr(c, AT_VALUE, "record is \"full\" or \"metadata\"");
			goto out;
		}
		if (!strcmp(json_string_value(record), "metadata")) {
			r.record = POLICY_RECORD_METADATA;
		} else if (strcmp(json_string_value(record), "full")) {
			ret = perr(c, AT_VALUE, "record is \"full\" or \"metadata\"");
			goto out;
		}
		pop(c);
	}
	desc = json_object_get(v, "description");
	if (desc) {
		push_key(c, "description");
		if (!json_is_string(desc)) {
			ret = perr(c, AT_VALUE, "must be a string");
			goto out;
		}
		r.description = strdup(json_string_value(desc));
		if (!r.description) {
			ret = nomem(c);
			goto out;
		}
		pop(c);
	}
	if (json_object_get(v, "mask") && (ret = parse_mask(c, json_object_get(v, "mask"), &r)))
		goto out;

	if (p->n_rules >= POLICY_MAX_RULES) {
		ret = perr(c, AT_VALUE, "more than %d rules", POLICY_MAX_RULES);
		goto out;
	}
	if (p->n_rules == p->cap_rules) {
		size_t cap = p->cap_rules ? p->cap_rules * 2 : 16;
		struct rule *nr = realloc(p->rules, cap * sizeof(*nr));

		if (!nr) {
			ret = nomem(c);
			goto out;
		}
		p->rules = nr;
		p->cap_rules = cap;
	}
	if (json_object_set_new(p->names, r.name, json_integer((json_int_t)p->n_rules))) {
		ret = nomem(c);
		goto out;
	}
	p->rules[p->n_rules++] = r;
	return 0;
out:
	rule_free(&r);
	return ret;
}

/* One file's decoded root, at path "". */
static int parse_root(struct lctx *c, json_t *root)
{
	static const char *const keys[] = { "version", "default", "rules", "description", NULL };
	struct policy *p = c->p;
	json_t *ver, *def, *rules, *e;
	size_t i;
	int ret;

	if (!json_is_object(root))
		return perr(c, AT_VALUE, "a policy file is an object {\"version\": 1, "
					 "\"default\", \"rules\"}");
	if ((ret = check_keys(c, root, keys)))
		return ret;
	ver = json_object_get(root, "version");
	if (!ver)
		return perr(c, AT_VALUE, "missing \"version\": 1");
	push_key(c, "version");
	if (!json_is_integer(ver) || json_integer_value(ver) != 1)
		return perr(c, AT_VALUE, "unsupported version (this sluice reads version 1)");
	pop(c);

	def = json_object_get(root, "default");
	if (def) {
		enum policy_action a;
		int line, col;

		push_key(c, "default");
		if (!json_is_string(def) || action_parse(json_string_value(def), &a))
			return perr(c, AT_VALUE, "default is \"deny\", \"allow\" or \"review\"");
		if (p->def_file && a != p->def)
			return perr(c, AT_VALUE, "default \"%s\" conflicts with \"%s\" set at "
						 "%s:%d:%d", policy_action_name(a),
				    policy_action_name(p->def), p->def_file, p->def_line,
				    p->def_col);
		if (!p->def_file) {
			line_col(c->text, locate(c->text, c->len, c->path, c->depth, false),
				 &line, &col);
			p->def = a;
			p->def_file = c->file;
			p->def_line = line;
			p->def_col = col;
		}
		pop(c);
	}

	rules = json_object_get(root, "rules");
	if (!rules)
		return 0;
	push_key(c, "rules");
	if (!json_is_array(rules))
		return perr(c, AT_VALUE, "must be a list of rules");
	json_array_foreach(rules, i, e) {
		push_idx(c, i);
		if ((ret = parse_rule(c, e)))
			return ret;
		pop(c);
	}
	pop(c);
	return 0;
}

/* Parse one file's text into p (rules appended). name must live as long as p. */
static int add_text(struct policy *p, const char *name, const char *text, size_t len,
		    char *err, size_t errlen)
{
	struct lctx c = {
		.p = p, .file = name, .text = text, .len = len, .err = err, .errlen = errlen,
	};
	json_error_t jerr;
	json_t *root;
	int ret;

	if (len > POLICY_MAX_FILE) {
		set_err(err, errlen, "%s: larger than %d bytes", name, POLICY_MAX_FILE);
		return -EFBIG;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		char safe[200];

		/* jansson quotes the token itself; only control characters go */
		text_sanitize(safe, sizeof(safe), jerr.text, false);
		set_err(err, errlen, "%s:%d:%d: %s", name, jerr.line, jerr.column, safe);
		return json_error_code(&jerr) == json_error_out_of_memory ? -ENOMEM : -EINVAL;
	}
	ret = parse_root(&c, root);
	json_decref(root);
	return ret;
}

static struct policy *policy_new(void)
{
	struct policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->refs = 1;
	p->def = POLICY_DENY;
	p->names = json_object();
	if (!p->names) {
		free(p);
		return NULL;
	}
	return p;
}

static const char *add_file_name(struct policy *p, const char *name)
{
	char **v = realloc(p->files, (p->n_files + 1) * sizeof(*v));

	if (!v)
		return NULL;
	p->files = v;
	v[p->n_files] = strdup(name);
	if (!v[p->n_files])
		return NULL;
	return v[p->n_files++];
}

/* The load is over: drop what only loading needed. */
static struct policy *finish(struct policy *p)
{
	json_decref(p->names);
	p->names = NULL;
	return p;
}

struct policy *policy_parse(const char *name, const char *text, size_t len, char *err,
			    size_t errlen)
{
	struct policy *p = policy_new();
	const char *fname;
	int ret;

	if (!p) {
		set_err(err, errlen, "%s: out of memory", name);
		errno = ENOMEM;
		return NULL;
	}
	fname = add_file_name(p, name);
	ret = fname ? add_text(p, fname, text, len, err, errlen) : -ENOMEM;
	if (ret) {
		if (ret == -ENOMEM)
			set_err(err, errlen, "%s: out of memory", name);
		policy_free(p);
		errno = -ret == EFBIG ? EINVAL : -ret;
		return NULL;
	}
	return finish(p);
}

/* The whole of a regular file, at most POLICY_MAX_FILE bytes; caller frees. */
static int read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		set_err(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		set_err(err, errlen, "%s: %s", path, strerror(-ret));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		set_err(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > POLICY_MAX_FILE) {
		ret = -EFBIG;
		set_err(err, errlen, "%s: larger than %d bytes", path, POLICY_MAX_FILE);
		goto out;
	}
	/* one byte more than allowed, to see a file that grew meanwhile */
	buf = malloc(POLICY_MAX_FILE + 1);
	if (!buf) {
		ret = -ENOMEM;
		set_err(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + len, POLICY_MAX_FILE + 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			set_err(err, errlen, "%s: %s", path, strerror(-ret));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > POLICY_MAX_FILE) {
			ret = -EFBIG;
			set_err(err, errlen, "%s: larger than %d bytes", path, POLICY_MAX_FILE);
			goto out;
		}
	}
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return ret;
}

static int add_file(struct policy *p, const char *path, char *err, size_t errlen)
{
	const char *name;
	char *text = NULL;
	size_t len = 0;
	int ret;

	if (p->n_files >= POLICY_MAX_FILES) {
		set_err(err, errlen, "%s: more than %d policy files", path, POLICY_MAX_FILES);
		return -EINVAL;
	}
	ret = read_file(path, &text, &len, err, errlen);
	if (ret)
		return ret;
	name = add_file_name(p, path);
	if (!name) {
		set_err(err, errlen, "%s: out of memory", path);
		ret = -ENOMEM;
	} else {
		ret = add_text(p, name, text, len, err, errlen);
	}
	free(text);
	return ret;
}

struct policy *policy_load_file(const char *path, char *err, size_t errlen)
{
	struct policy *p = policy_new();
	int ret;

	if (!p) {
		set_err(err, errlen, "%s: out of memory", path);
		errno = ENOMEM;
		return NULL;
	}
	ret = add_file(p, path, err, errlen);
	if (ret) {
		policy_free(p);
		errno = -ret == EFBIG ? EINVAL : -ret;
		return NULL;
	}
	return finish(p);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool policy_file_name(const char *n)
{
	size_t len = strlen(n);

	return n[0] != '.' && len > 5 && !strcmp(n + len - 5, ".json");
}

struct policy *policy_load_dir(const char *dir, char *err, size_t errlen)
{
	struct policy *p = NULL;
	char **names = NULL, *path = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	d = opendir(dir);
	if (!d) {
		ret = -errno;
		set_err(err, errlen, "%s: %s", dir, strerror(-ret));
		goto out;
	}
	while ((errno = 0, de = readdir(d))) {
		if (!policy_file_name(de->d_name))
			continue;
		if (n >= POLICY_MAX_FILES) {
			ret = -EINVAL;
			set_err(err, errlen, "%s: more than %d policy files", dir, POLICY_MAX_FILES);
			goto out;
		}
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*nn));

			if (!nn) {
				ret = -ENOMEM;
				goto nomem;
			}
			names = nn;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			ret = -ENOMEM;
			goto nomem;
		}
		n++;
	}
	if (errno) {
		ret = -errno;
		set_err(err, errlen, "%s: %s", dir, strerror(-ret));
		goto out;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	p = policy_new();
	if (!p) {
		ret = -ENOMEM;
		goto nomem;
	}
	for (size_t i = 0; i < n; i++) {
		free(path);
		if (asprintf(&path, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/",
			     names[i]) < 0) {
			path = NULL;
			ret = -ENOMEM;
			goto nomem;
		}
		ret = add_file(p, path, err, errlen);
		if (ret)
			goto out;
	}
	goto out;
nomem:
	set_err(err, errlen, "%s: out of memory", dir);
out:
	if (d)
		closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(path);
	if (ret) {
		policy_free(p);
		errno = -ret == EFBIG ? EINVAL : -ret;
		return NULL;
	}
	return finish(p);
}

struct policy *policy_ref(struct policy *p)
{
	if (p)
		__atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
	return p;
}

void policy_free(struct policy *p)
{
	if (!p || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (size_t i = 0; i < p->n_rules; i++)
		rule_free(&p->rules[i]);
	free(p->rules);
	for (size_t i = 0; i < p->n_files; i++)
		free(p->files[i]);
	free(p->files);
	json_decref(p->names);
	free(p);
}

size_t policy_rule_count(const struct policy *p)
{
	return p ? p->n_rules : 0;
}

size_t policy_file_count(const struct policy *p)
{
	return p ? p->n_files : 0;
}

enum policy_action policy_default_action(const struct policy *p)
{
	return p ? p->def : POLICY_DENY;
}

/* ----------------------------------------------------------- matching */

static bool in_list(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return true;
	return false;
}

/* A list key: absent matches anything, present needs s known and listed. */
static bool list_ok(const struct strlist *l, const char *s)
{
	return !l->n || (s && in_list(l, s));
}

/* For request fields where NULL means "none" (""). */
static bool list_ok_empty(const struct strlist *l, const char *s)
{
	return !l->n || in_list(l, s ? s : "");
}

static bool match_pod(const struct match *m, const struct policy_pod *pod)
{
	if (!pod)
		return false;
	if (!list_ok(&m->pod_ns, pod->ns) || !list_ok(&m->pod_names, pod->name) ||
	    !list_ok(&m->pod_sas, pod->service_account))
		return false;
	for (size_t i = 0; i < m->n_labels; i++) {
		bool found = false;

		for (size_t j = 0; j < pod->n_labels && !found; j++)
			found = pod->label_keys[j] && pod->label_values[j] &&
				!strcmp(pod->label_keys[j], m->label_k[i]) &&
				!strcmp(pod->label_values[j], m->label_v[i]);
		if (!found)
			return false;
	}
	return true;
}

static bool match_identity(const struct match *m, const struct policy_identity *id)
{
	if (m->users.n && !(id->authenticated && list_ok(&m->users, id->user)))
		return false;
	if (m->groups.n) {
		bool found = false;

		for (size_t i = 0; id->authenticated && i < id->n_groups && !found; i++)
			found = id->groups[i] && in_list(&m->groups, id->groups[i]);
		if (!found)
			return false;
	}
	if (m->n_uids) {
		bool found = false;

		for (size_t i = 0; id->has_uid && i < m->n_uids && !found; i++)
			found = m->uids[i] == id->uid;
		if (!found)
			return false;
	}
	if (!list_ok(&m->comms, id->comm))
		return false;
	if (m->cgroups.n) {
		bool found = false;

		for (size_t i = 0; id->cgroup && i < m->cgroups.n && !found; i++)
			found = !fnmatch(m->cgroups.v[i], id->cgroup, 0);
		if (!found)
			return false;
	}
	if (m->has_pods && !match_pod(m, id->pod))
		return false;
	if (m->authenticated >= 0 && (bool)m->authenticated != id->authenticated)
		return false;
	return true;
}

/* One dot-separated part of a table name. */
struct name_part {
	const char *p;
	size_t n;
};

/* Split "db.schema.t" on dots; returns the parts' count (at most
 * MAX_NAME_PARTS: the last holds the rest). */
static size_t split_name(const char *s, struct name_part *parts)
{
	size_t n = 0;

	while (*s && n < MAX_NAME_PARTS) {
		const char *e = (n == MAX_NAME_PARTS - 1) ? s + strlen(s) : strchrnul(s, '.');

		parts[n++] = (struct name_part){ s, (size_t)(e - s) };
		if (!*e)
			break;
		s = e + 1;
	}
	return n;
}

/* A rule's table matches a statement's when its parts equal the
 * statement's trailing parts: "t" any schema's t, "s.t" only s.t. */
static bool table_matches(const char *rule_t, const char *stmt_t)
{
	struct name_part r[MAX_NAME_PARTS], s[MAX_NAME_PARTS];
	size_t rn = split_name(rule_t, r), sn = split_name(stmt_t, s);

	if (!rn || rn > sn)
		return false;
	for (size_t i = 0; i < rn; i++) {
		const struct name_part *a = &r[rn - 1 - i], *b = &s[sn - 1 - i];

		if (a->n != b->n || strncasecmp(a->p, b->p, a->n))
			return false;
	}
	return true;
}

/* Everything but the SQL part: identity, target, Kubernetes, the kind. */
static bool rule_matches_request(const struct rule *r, const struct policy_identity *id,
				 const struct policy_request *req)
{
	const struct match *m = &r->m;

	if (!match_identity(m, id) || !list_ok(&m->targets, req->target))
		return false;
	if (m->has_k8s) {
		const struct policy_k8s_req *k = &req->k8s;

		if (req->kind != POLICY_REQ_K8S || !list_ok_empty(&m->verbs, k->verb) ||
		    !list_ok_empty(&m->kgroups, k->group) ||
		    !list_ok_empty(&m->resources, k->resource) ||
		    !list_ok_empty(&m->subresources, k->subresource) ||
		    !list_ok_empty(&m->kns, k->ns) || !list_ok_empty(&m->knames, k->name))
			return false;
	}
	if (m->has_sql && req->kind != POLICY_REQ_SQL)
		return false;
	return true;
}

/*
 * The SQL part of r against one part of a statement: class cls, table
 * (NULL: the statement names none; unsure: its name cannot be trusted).
 * st NULL: a message without statements, which no sql key matches.
 */
static bool rule_matches_part(const struct rule *r, const struct sql_stmt *st, unsigned cls,
			      const char *table, bool unsure)
{
	const struct match *m = &r->m;

	if (!m->has_sql)
		return true;
	if (!st)
		return false;
	if (m->classes && !(m->classes & (1u << cls)))
		return false;
	if (m->no_where >= 0 && !!(st->flags & SQL_F_NO_WHERE) != m->no_where)
		return false;
	if (!m->tables.n)
		return true;
	/* a name that may not be the one the server resolves: fail safe */
	if (unsure)
		return r->action != POLICY_ALLOW;
	for (size_t i = 0; table && i < m->tables.n; i++)
		if (table_matches(m->tables.v[i], table))
			return true;
	return false;
}

static void deny_with(struct policy_decision *d, const char *rule)
{
	d->action = POLICY_DENY;
	d->rule = rule;
	d->mask = NULL;
	d->record = POLICY_RECORD_FULL;
}

void policy_decision_release(struct policy_decision *d)
{
	if (!d)
		return;
	free(d->stmts);
	mask_spec_free(d->mask_owned);
	memset(d, 0, sizeof(*d));
}

/* The mask of the rules in used[] (allowing parts of an allowed request). */
static int combine_masks(const struct policy *p, const unsigned char *used,
			 struct policy_decision *d)
{
	const struct mask_spec **specs = NULL;
	size_t n = 0;
	bool same = true;

	for (size_t i = 0; i < p->n_rules; i++) {
		if (!used[i] || !p->rules[i].mask)
			continue;
		if (!specs) {
			specs = calloc(p->n_rules, sizeof(*specs));
			if (!specs)
				return -ENOMEM;
		}
		if (n && !mask_spec_equal(specs[0], p->rules[i].mask))
			same = false;
		specs[n++] = p->rules[i].mask;
	}
	if (n && same) {
		d->mask = specs[0];
	} else if (n) {
		d->mask_owned = mask_spec_union(specs, n);
		if (!d->mask_owned) {
			free(specs);
			return -ENOMEM;
		}
		d->mask = d->mask_owned;
	}
	free(specs);
	return 0;
}

/* The statement's classes: its own and every one it involves. */
static unsigned stmt_classes(const struct sql_stmt *st)
{
	unsigned cls = (unsigned)st->cls < SQL_NCLASSES ? (unsigned)st->cls : SQL_WRITE;

	return (st->classes | (1u << cls)) & ((1u << SQL_NCLASSES) - 1);
}

static int decide_sql(const struct policy *p, const struct policy_identity *id,
		      const struct policy_request *req, struct policy_decision *d)
{
	unsigned char *used = NULL;
	const struct rule **cand = NULL;
	size_t n_cand = 0;
	bool full = false;
	int ret = 0;

	d->stmts = calloc(req->n_stmts, sizeof(*d->stmts));
	if (p->n_rules) {
		used = calloc(p->n_rules, 1);
		cand = calloc(p->n_rules, sizeof(*cand));
	}
	if (!d->stmts || (p->n_rules && (!used || !cand))) {
		ret = -ENOMEM;
		goto out;
	}
	/* what does not depend on the statement is checked once */
	for (size_t i = 0; i < p->n_rules; i++)
		if (rule_matches_request(&p->rules[i], id, req))
			cand[n_cand++] = &p->rules[i];
	d->n_stmts = req->n_stmts;
	for (size_t s = 0; s < req->n_stmts; s++) {
		const struct sql_stmt *st = &req->stmts[s];
		struct policy_stmt_decision *sd = &d->stmts[s];
		unsigned classes = stmt_classes(st);
		size_t n_tables = st->n_tables < SQL_MAX_TABLES ? st->n_tables : SQL_MAX_TABLES;
		bool first = true;

		for (unsigned cls = 0; cls < SQL_NCLASSES; cls++) {
			if (!(classes & (1u << cls)))
				continue;
			for (size_t t = 0; t < (n_tables ? n_tables : 1); t++) {
				const char *table = n_tables ? st->tables[t] : NULL;
				bool unsure = st->flags & SQL_F_NAME_UNSURE;
				const struct rule *r = NULL;
				enum policy_action a;

				/* a name without its NUL is not read past its array */
				if (table && !memchr(table, '\0', SQL_NAME_MAX)) {
					table = "";
					unsure = true;
				}
				for (size_t k = 0; k < n_cand && !r; k++)
					if (rule_matches_part(cand[k], st, cls, table, unsure))
						r = cand[k];
				a = r ? r->action : p->def;
				if (r)
					used[r - p->rules] = 1;
				if (!r || r->record == POLICY_RECORD_FULL)
					full = true;
				if (first || a > sd->action) {
					sd->action = a;
					sd->rule = r ? r->name : POLICY_DEFAULT_RULE;
					first = false;
				}
			}
		}
		if (s == 0 || sd->action > d->action) {
			d->action = sd->action;
			d->rule = sd->rule;
		}
	}
	d->record = full ? POLICY_RECORD_FULL : POLICY_RECORD_METADATA;
	if (d->action != POLICY_DENY)
		ret = combine_masks(p, used, d);
out:
	free(used);
	free(cand);
	return ret;
}

int policy_decide(const struct policy *p, const struct policy_identity *id,
		  const struct policy_request *req, struct policy_decision *d)
{
	const struct rule *r = NULL;
	int ret;

	if (!d)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	deny_with(d, POLICY_DEFAULT_RULE);
	if (!id || !req)
		return -EINVAL;
	if (!p)
		return 0;
	if (req->kind == POLICY_REQ_SQL && req->n_stmts) {
		ret = decide_sql(p, id, req, d);
		if (ret) {
			policy_decision_release(d);
			deny_with(d, POLICY_ERROR_RULE);
		}
		return ret;
	}
	for (size_t i = 0; i < p->n_rules && !r; i++)
		if (rule_matches_request(&p->rules[i], id, req) &&
		    rule_matches_part(&p->rules[i], NULL, 0, NULL, false))
			r = &p->rules[i];
	if (!r) {
		d->action = p->def;
		return 0;
	}
	d->action = r->action;
	d->rule = r->name;
	d->record = r->record;
	d->mask = r->action != POLICY_DENY ? r->mask : NULL;
	return 0;
}

/* --------------------------------------------------------------- JSON */

static json_t *strings_json(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		if (json_array_append_new(a, json_string(v[i] ? v[i] : ""))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

json_t *policy_decision_json(const struct policy_decision *d, const struct policy_request *req)
{
	json_t *o, *stmts;

	if (!d)
		return NULL;
	o = json_pack("{s:s, s:s, s:s}", "decision", policy_action_name(d->action), "rule",
		      d->rule ? d->rule : POLICY_DEFAULT_RULE, "record",
		      policy_record_name(d->record));
	if (!o)
		return NULL;
	if (d->mask && mask_spec_kinds(d->mask) &&
	    json_object_set_new(o, "mask", mask_spec_json(d->mask)))
		goto fail;
	if (!d->n_stmts && !(req && req->kind == POLICY_REQ_SQL))
		return o;
	stmts = json_array();
	if (json_object_set_new(o, "statements", stmts))
		goto fail;
	for (size_t i = 0; i < d->n_stmts; i++) {
		const struct sql_stmt *st = NULL;
		json_t *s, *tables;

		if (req && req->kind == POLICY_REQ_SQL && i < req->n_stmts)
			st = &req->stmts[i];
		s = json_pack("{s:s, s:s}", "decision", policy_action_name(d->stmts[i].action),
			      "rule", d->stmts[i].rule);
		if (json_array_append_new(stmts, s))
			goto fail;
		if (!st)
			continue;
		tables = json_array();
		if (json_object_set_new(s, "class", json_string(sql_class_name(st->cls))) ||
		    json_object_set_new(s, "tables", tables))
			goto fail;
		for (size_t t = 0; t < st->n_tables && t < SQL_MAX_TABLES; t++)
			if (json_array_append_new(tables, json_stringn(st->tables[t],
								       strnlen(st->tables[t],
									       SQL_NAME_MAX))))
				goto fail;
		if (st->verb[0] &&
		    json_object_set_new(s, "verb", json_stringn(st->verb, strnlen(st->verb,
										   SQL_VERB_MAX))))
			goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

json_t *policy_json(const struct policy *p)
{
	json_t *o, *rules;

	if (!p)
		return NULL;
	o = json_pack("{s:i, s:s, s:o, s:[]}", "version", 1, "default",
		      policy_action_name(p->def), "files",
		      strings_json((const char *const *)p->files, p->n_files), "rules");
	if (!o)
		return NULL;
	rules = json_object_get(o, "rules");
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct rule *r = &p->rules[i];
		json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:O, s:s, s:o, s:s}", "name", r->name,
				      "file", r->file, "line", r->line, "column", r->col, "match",
				      r->match_json, "action", policy_action_name(r->action),
				      "mask", mask_spec_json(r->mask), "record",
				      policy_record_name(r->record));

		if (json_array_append_new(rules, j) ||
		    (r->description &&
		     json_object_set_new(j, "description", json_string(r->description)))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* -------------------------------------------------- identity/request JSON */

struct identity_owned {
	struct policy_identity id;	/* first: what callers see */
	struct policy_pod pod;
	json_t *j;			/* the copy every string points into */
	const char **groups;
	const char **label_keys, **label_values;
};

struct request_owned {
	struct policy_request req;	/* first: what callers see */
	json_t *j;
	struct sql_stmt *stmts;
	size_t n_stmts;
};

static const char *const user_keys[] = {
	"name", "groups", "authenticated", "source", "issuer", "expires", "claims",
	"sa_namespace", "sa_name", NULL,
};
static const char *const kernel_keys[] = {
	"uid", "comm", "cgroup", "pod", "pid", "tid", "gid", "cgroup_id", "netns_cookie",
	"container", "container_id", NULL,
};
static const char *const pod_keys[] = {
	"namespace", "name", "service_account", "labels", "uid", "container",
	"container_id", "resolved", "source", NULL,
};

/* "path: message" errors for JSON from the command line. */
static int jerr(char *err, size_t errlen, const char *path, const char *msg)
{
	set_err(err, errlen, "%s: %s", path, msg);
	return -EINVAL;
}

static int unknown_keys(json_t *o, const char *const *known, const char *where, char *err,
			size_t errlen)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v) {
		char safe[80], names[256];

		if (in_names(known, k))
			continue;
		sanitize(safe, sizeof(safe), k);
		join_names(names, sizeof(names), known);
		set_err(err, errlen, "%s%s%s: unknown key (known: %s)", where, where[0] ? "." : "",
			safe, names);
		return -EINVAL;
	}
	return 0;
}

/* o[key]: absent or null gives NULL; a string its value; else an error. */
static int opt_string(json_t *o, const char *key, const char *path, const char **out,
		      char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return jerr(err, errlen, path, "must be a string");
	*out = json_string_value(v);
	return 0;
}

/* An array of strings into a malloc'd array of borrowed pointers. */
static int string_array(json_t *a, const char *path, const char ***out, size_t *n, char *err,
			size_t errlen)
{
	size_t i;
	json_t *e;

	*out = NULL;
	*n = 0;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return jerr(err, errlen, path, "must be a list of strings");
	*out = calloc(json_array_size(a) + 1, sizeof(char *));
	if (!*out)
		return -ENOMEM;
	json_array_foreach(a, i, e) {
		if (!json_is_string(e))
			return jerr(err, errlen, path, "must be a list of strings");
		(*out)[(*n)++] = json_string_value(e);
	}
	return 0;
}

void policy_identity_free(struct policy_identity *id)
{
	struct identity_owned *o = (struct identity_owned *)id;

	if (!o)
		return;
	json_decref(o->j);
	free(o->groups);
	free(o->label_keys);
	free(o->label_values);
	free(o);
}

static int identity_pod(struct identity_owned *o, json_t *pod, char *err, size_t errlen)
{
	json_t *labels, *v;
	const char *k;
	size_t n;
	int ret;

	if (!json_is_object(pod))
		return jerr(err, errlen, "kernel.pod", "must be an object or null");
	if ((ret = unknown_keys(pod, pod_keys, "kernel.pod", err, errlen)) ||
	    (ret = opt_string(pod, "namespace", "kernel.pod.namespace", &o->pod.ns, err,
			      errlen)) ||
	    (ret = opt_string(pod, "name", "kernel.pod.name", &o->pod.name, err, errlen)) ||
	    (ret = opt_string(pod, "service_account", "kernel.pod.service_account",
			      &o->pod.service_account, err, errlen)))
		return ret;
	labels = json_object_get(pod, "labels");
	if (labels && !json_is_null(labels)) {
		if (!json_is_object(labels))
			return jerr(err, errlen, "kernel.pod.labels", "must be an object");
		n = json_object_size(labels);
		o->label_keys = calloc(n + 1, sizeof(char *));
		o->label_values = calloc(n + 1, sizeof(char *));
		if (!o->label_keys || !o->label_values)
			return -ENOMEM;
		json_object_foreach(labels, k, v) {
			if (!json_is_string(v))
				return jerr(err, errlen, "kernel.pod.labels",
					    "label values must be strings");
			o->label_keys[o->pod.n_labels] = k;
			o->label_values[o->pod.n_labels++] = json_string_value(v);
		}
		o->pod.label_keys = o->label_keys;
		o->pod.label_values = o->label_values;
	}
	o->id.pod = &o->pod;
	return 0;
}

struct policy_identity *policy_identity_from_json(json_t *j, char *err, size_t errlen)
{
	struct identity_owned *o = calloc(1, sizeof(*o));
	json_t *user, *kernel, *v;
	int ret = -ENOMEM;

	if (!o)
		goto out;
	o->j = json_deep_copy(j);
	if (!o->j)
		goto out;
	if (!json_is_object(o->j)) {
		ret = jerr(err, errlen, "identity", "must be an object {\"user\", \"kernel\"}");
		goto out;
	}
	if ((ret = unknown_keys(o->j, (const char *const[]){ "user", "kernel", NULL }, "", err,
				errlen)))
		goto out;
	user = json_object_get(o->j, "user");
	if (user && !json_is_null(user)) {
		if (!json_is_object(user)) {
			ret = jerr(err, errlen, "user", "must be an object or null");
			goto out;
		}
		if ((ret = unknown_keys(user, user_keys, "user", err, errlen)) ||
		    (ret = opt_string(user, "name", "user.name", &o->id.user, err, errlen)) ||
		    (ret = string_array(json_object_get(user, "groups"), "user.groups",
					&o->groups, &o->id.n_groups, err, errlen)))
			goto out;
		o->id.groups = o->groups;
		v = json_object_get(user, "authenticated");
		if (v && !json_is_boolean(v)) {
			ret = jerr(err, errlen, "user.authenticated", "must be true or false");
			goto out;
		}
		o->id.authenticated = o->id.user && (!v || json_is_true(v));
	}
	kernel = json_object_get(o->j, "kernel");
	if (kernel && !json_is_null(kernel)) {
		if (!json_is_object(kernel)) {
			ret = jerr(err, errlen, "kernel", "must be an object or null");
			goto out;
		}
		if ((ret = unknown_keys(kernel, kernel_keys, "kernel", err, errlen)) ||
		    (ret = opt_string(kernel, "comm", "kernel.comm", &o->id.comm, err, errlen)) ||
		    (ret = opt_string(kernel, "cgroup", "kernel.cgroup", &o->id.cgroup, err,
				      errlen)))
			goto out;
		v = json_object_get(kernel, "uid");
		if (v && !json_is_null(v)) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > (json_int_t)UINT32_MAX) {
				ret = jerr(err, errlen, "kernel.uid",
					   "must be an integer from 0 to 4294967295");
				goto out;
			}
			o->id.has_uid = true;
			o->id.uid = (uint32_t)json_integer_value(v);
		}
		v = json_object_get(kernel, "pod");
		if (v && !json_is_null(v) && (ret = identity_pod(o, v, err, errlen)))
			goto out;
	}
	ret = 0;
out:
	if (ret) {
		if (ret == -ENOMEM)
			set_err(err, errlen, "out of memory");
		policy_identity_free(o ? &o->id : NULL);
		errno = -ret;
		return NULL;
	}
	return &o->id;
}

void policy_request_free(struct policy_request *req)
{
	struct request_owned *o = (struct request_owned *)req;

	if (!o)
		return;
	free(o->stmts);
	json_decref(o->j);
	free(o);
}

static int request_k8s(struct request_owned *o, json_t *k, char *err, size_t errlen)
{
	static const char *const keys[] = {
		"verb", "group", "resource", "subresource", "namespace", "name", NULL,
	};
	struct policy_k8s_req *r = &o->req.k8s;
	int ret;

	if (!json_is_object(k))
		return jerr(err, errlen, "k8s", "must be an object");
	if ((ret = unknown_keys(k, keys, "k8s", err, errlen)) ||
	    (ret = opt_string(k, "verb", "k8s.verb", &r->verb, err, errlen)) ||
	    (ret = opt_string(k, "group", "k8s.group", &r->group, err, errlen)) ||
	    (ret = opt_string(k, "resource", "k8s.resource", &r->resource, err, errlen)) ||
	    (ret = opt_string(k, "subresource", "k8s.subresource", &r->subresource, err,
			      errlen)) ||
	    (ret = opt_string(k, "namespace", "k8s.namespace", &r->ns, err, errlen)) ||
	    (ret = opt_string(k, "name", "k8s.name", &r->name, err, errlen)))
		return ret;
	o->req.kind = POLICY_REQ_K8S;
	return 0;
}

/* {"target", "sql": [{"class", "tables", "verb", "no_where"}]}: classified by hand. */
static int request_sql_list(struct request_owned *o, json_t *a, char *err, size_t errlen)
{
	static const char *const keys[] = { "class", "tables", "verb", "no_where", NULL };
	size_t i, n = json_array_size(a);
	json_t *e;
	int ret;

	if (n > SQL_MAX_STMTS)
		return jerr(err, errlen, "sql", "more statements than sql.h allows");
	o->stmts = calloc(n ? n : 1, sizeof(*o->stmts));
	if (!o->stmts)
		return -ENOMEM;
	o->n_stmts = n;
	json_array_foreach(a, i, e) {
		struct sql_stmt *st = &o->stmts[i];
		json_t *tables = json_object_get(e, "tables"), *t, *nw;
		const char *verb = NULL;
		char path[48];
		size_t k;

		snprintf(path, sizeof(path), "sql[%zu]", i);
		if (!json_is_object(e))
			return jerr(err, errlen, path, "must be {\"class\", \"tables\", \"verb\"}");
		if ((ret = unknown_keys(e, keys, path, err, errlen)))
			return ret;
		snprintf(path, sizeof(path), "sql[%zu].class", i);
		if (sql_class_parse(json_string_value(json_object_get(e, "class")), &st->cls))
			return jerr(err, errlen, path, "read, write, ddl, dcl, admin or tx");
		st->classes = 1u << st->cls;
		snprintf(path, sizeof(path), "sql[%zu].tables", i);
		if (tables && !json_is_array(tables))
			return jerr(err, errlen, path, "must be a list of strings");
		if (json_array_size(tables) > SQL_MAX_TABLES)
			return jerr(err, errlen, path, "more tables than sql.h allows");
		json_array_foreach(tables, k, t) {
			if (!json_is_string(t) || json_string_length(t) >= SQL_NAME_MAX ||
			    strlen(json_string_value(t)) != json_string_length(t))
				return jerr(err, errlen, path, "must be a list of table names");
			memcpy(st->tables[k], json_string_value(t), json_string_length(t) + 1);
			st->n_tables++;
		}
		snprintf(path, sizeof(path), "sql[%zu].verb", i);
		if ((ret = opt_string(e, "verb", path, &verb, err, errlen)))
			return ret;
		if (verb && strlen(verb) >= SQL_VERB_MAX)
			return jerr(err, errlen, path, "too long");
		if (verb)
			memcpy(st->verb, verb, strlen(verb) + 1);
		nw = json_object_get(e, "no_where");
		snprintf(path, sizeof(path), "sql[%zu].no_where", i);
		if (nw && !json_is_boolean(nw))
			return jerr(err, errlen, path, "must be true or false");
		if (json_is_true(nw))
			st->flags |= SQL_F_NO_WHERE;
	}
	return 0;
}

/* {"target", "sql": "TEXT", "dialect"}: classified by sql.h. */
static int request_sql_text(struct request_owned *o, json_t *text, json_t *dialect, char *err,
			    size_t errlen)
{
	enum sql_dialect d = SQL_POSTGRES;
	struct sql_cursor cur;
	size_t cap = 0;
	int r;

	if (dialect && !json_is_string(dialect))
		return jerr(err, errlen, "dialect", "\"postgres\" or \"mysql\"");
	if (dialect && !strcmp(json_string_value(dialect), "mysql"))
		d = SQL_MYSQL;
	else if (dialect && strcmp(json_string_value(dialect), "postgres"))
		return jerr(err, errlen, "dialect", "\"postgres\" or \"mysql\"");
	sql_cursor_init(&cur, d, 0, json_string_value(text), json_string_length(text));
	for (;;) {
		char why[256] = "";

		if (o->n_stmts == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct sql_stmt *ns = realloc(o->stmts, ncap * sizeof(*ns));

			if (!ns)
				return -ENOMEM;
			o->stmts = ns;
			cap = ncap;
		}
		r = sql_next(&cur, &o->stmts[o->n_stmts], why, sizeof(why));
		if (r == 0)
			return 0;
		if (r < 0) {
			set_err(err, errlen, "sql: %s", why[0] ? why : "refused by the classifier");
			return -EINVAL;
		}
		o->n_stmts++;
	}
}

struct policy_request *policy_request_from_json(json_t *j, char *err, size_t errlen)
{
	static const char *const keys[] = { "target", "k8s", "sql", "dialect", NULL };
	struct request_owned *o = calloc(1, sizeof(*o));
	json_t *k8s, *sql, *dialect;
	int ret = -ENOMEM;

	if (!o)
		goto out;
	o->j = json_deep_copy(j);
	if (!o->j)
		goto out;
	if (!json_is_object(o->j)) {
		ret = jerr(err, errlen, "request", "must be an object {\"target\", ...}");
		goto out;
	}
	if ((ret = unknown_keys(o->j, keys, "", err, errlen)))
		goto out;
	if (!json_is_string(json_object_get(o->j, "target"))) {
		ret = jerr(err, errlen, "target", "a target name is required");
		goto out;
	}
	o->req.target = json_string_value(json_object_get(o->j, "target"));
	o->req.kind = POLICY_REQ_CONNECT;
	k8s = json_object_get(o->j, "k8s");
	sql = json_object_get(o->j, "sql");
	dialect = json_object_get(o->j, "dialect");
	if (k8s && sql) {
		ret = jerr(err, errlen, "sql", "a request is k8s or sql, not both");
		goto out;
	}
	if (dialect && !json_is_string(sql)) {
		ret = jerr(err, errlen, "dialect", "goes with SQL text");
		goto out;
	}
	if (k8s && (ret = request_k8s(o, k8s, err, errlen)))
		goto out;
	if (json_is_string(sql)) {
		if ((ret = request_sql_text(o, sql, dialect, err, errlen)))
			goto out;
	} else if (json_is_array(sql)) {
		if ((ret = request_sql_list(o, sql, err, errlen)))
			goto out;
	} else if (sql) {
		ret = jerr(err, errlen, "sql", "must be SQL text or a list of statements");
		goto out;
	}
	if (sql) {
		o->req.kind = POLICY_REQ_SQL;
		o->req.stmts = o->stmts;
		o->req.n_stmts = o->n_stmts;
	}
	ret = 0;
out:
	if (ret) {
		if (ret == -ENOMEM)
			set_err(err, errlen, "out of memory");
		policy_request_free(o ? &o->req : NULL);
		errno = -ret;
		return NULL;
	}
	return &o->req;
}
