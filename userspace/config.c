// SPDX-License-Identifier: BSD-2-Clause
/*
 * sluiced's configuration file (DESIGN §9). The JSON is decoded by jansson
 * and then walked by hand against the schema so that every refusal can name
 * the exact path of the offending value ("targets[1].match[0]: ...").
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>
#include <jansson.h>

#include "config.h"
#include "text.h"
#include "log.h"

#define CFG_MAX_FILE	(1024 * 1024)
#define CFG_MAX_TARGETS	256
#define CFG_MAX_MATCH	1024
#define CFG_NAME_MAX	63
#define CFG_PATH_LEN	256

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char default_text[] =
	"{\n"
	"  \"control\": \"/run/sluice/ctl.sock\",\n"
	"  \"targets\": [\n"
	"    {\"name\": \"local-postgres\", \"kind\": \"tcp\",\n"
	"     \"match\": [\"127.0.0.1:5432\", \"[::1]:5432\"],\n"
	"     \"upstream\": \"127.0.0.1:5432\", \"fail_mode\": \"open\"}\n"
	"  ]\n"
	"}\n";

static const char *const top_keys[] = {
	"cgroup", "listen", "fail_mode", "control", "mark", "heartbeat_ms",
	"stale_ms", "workers", "log_level", "targets", "store", "timeouts",
	"policy_dir", "identity", "pods", "pod_cache", "export", "metrics", NULL,
};
static const char *const top_later[] = { NULL };
static const char *const export_keys[] = {
	"name", "type", "format", "address", "path", "tls", "token",
	"token_file", "batch", "max_bytes", "keep", "timeout_ms",
	"backoff_max_ms", NULL,
};
static const char *const export_tls_keys[] = { "ca", "name", NULL };
static const char *const identity_keys[] = { "issuers", "client_ca", NULL };
static const char *const issuer_keys[] = { "issuer", "audiences", "keys", NULL };
static const char *const pod_keys[] = {
	"uid", "namespace", "name", "service_account", "labels", NULL,
};
static const char *const store_keys[] = {
	"path", "mode", "sync_ms", "retention_days", "max_bytes", "seal_key",
	"seal_interval_ms", NULL,
};
static const char *const timeout_keys[] = {
	"connect_ms", "handshake_ms", "idle_ms", "drain_ms", NULL,
};
static const char *const tls_keys[] = {
	"cert", "key", "certs", "upstream_ca", "upstream_name", NULL,
};
static const char *const cert_keys[] = { "cert", "key", NULL };
static const char *const credential_keys[] = {
	"client_cert", "client_key", "user", "password_file", "token_file", NULL,
};
static const char *const credential_later[] = { NULL };
static const char *const listen_keys[] = {
	"ipv4", "ipv6", "node", "port", NULL,
};
static const char *const target_keys[] = {
	"name", "kind", "match", "upstream", "fail_mode", "tls", "credential",
	"client_auth", NULL,
};
static const char *const kinds_later[] = {
	"mysql", NULL,
};
static const char *const none[] = { NULL };

/* Where errors go: the caller's buffer, prefixed with the source name. */
struct pctx {
	const char *name;
	char *err;
	size_t errlen;
	const char *dir;	/* relative file names resolve against it */
};

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

static int fail(struct pctx *c, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "<name>: <path>: <message>"; always returns -EINVAL for `return fail()`. */
static int fail(struct pctx *c, const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_err(c->err, c->errlen, "%s: %s: %s", c->name, path, msg);
	return -EINVAL;
}

static int fail_nomem(struct pctx *c)
{
	set_err(c->err, c->errlen, "%s: out of memory", c->name);
	return -ENOMEM;
}

/* Keys and values from the file are echoed into log lines: escaped, cut. */
static void sanitize(char *out, size_t outlen, const char *s)
{
	text_sanitize(out, outlen, s, true);
}

static void join_key(char *out, size_t outlen, const char *prefix,
		     const char *key)
{
	char safe[80];
	size_t o = 0;

	sanitize(safe, sizeof(safe), key);
	/* a path too deep for the buffer is shown cut, never overrun */
	for (const char *p = prefix; *p && o + 1 < outlen; p++)
		out[o++] = *p;
	if (prefix[0] && o + 1 < outlen)
		out[o++] = '.';
	for (const char *p = safe; *p && o + 1 < outlen; p++)
		out[o++] = *p;
	out[o] = '\0';
}

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

/*
 * Refuse any key not in `known`. Keys the design names but this build does
 * not implement get their own wording, so an operator copying DESIGN §9 sees
 * "not yet" rather than a typo hint.
 */
static int check_keys(struct pctx *c, json_t *obj, const char *prefix,
		      const char *const *known, const char *const *later)
{
	char path[CFG_PATH_LEN + 96];
	const char *key;
	json_t *val;

	json_object_foreach(obj, key, val) {
		if (in_list(known, key))
			continue;
		join_key(path, sizeof(path), prefix, key);
		if (in_list(later, key))
			return fail(c, path,
				    "not supported by this version yet");
		return fail(c, path, "unknown key");
	}
	return 0;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

/* Absent keys leave *out (the default) untouched. */
static int get_uint(struct pctx *c, json_t *obj, const char *prefix,
		    const char *key, json_int_t lo, json_int_t hi,
		    uint32_t *out)
{
	char path[CFG_PATH_LEN];
	json_t *v = json_object_get(obj, key);
	json_int_t n;

	if (!v)
		return 0;
	join_key(path, sizeof(path), prefix, key);
	if (!json_is_integer(v))
		return fail(c, path,
			    "expected an integer from %lld to %lld, got %s",
			    (long long)lo, (long long)hi, type_name(v));
	n = json_integer_value(v);
	if (n < lo || n > hi)
		return fail(c, path,
			    "expected an integer from %lld to %lld, got %lld",
			    (long long)lo, (long long)hi, (long long)n);
	*out = (uint32_t)n;
	return 0;
}

/*
 * A string value, or NULL for JSON null when `nullable`. *out is borrowed
 * from the json tree; *present says whether the key was there at all.
 */
static int get_str(struct pctx *c, json_t *obj, const char *prefix,
		   const char *key, bool nullable, const char **out,
		   bool *present)
{
	char path[CFG_PATH_LEN];
	json_t *v = json_object_get(obj, key);

	*present = v != NULL;
	*out = NULL;
	if (!v)
		return 0;
	if (nullable && json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		join_key(path, sizeof(path), prefix, key);
		return fail(c, path, "expected a string%s, got %s",
			    nullable ? " or null" : "", type_name(v));
	}
	*out = json_string_value(v);
	return 0;
}

/* Replace an owned default with a copy of `s` (NULL allowed). */
static int set_owned(struct pctx *c, char **slot, const char *s)
{
	char *dup = NULL;

	if (s) {
		dup = strdup(s);
		if (!dup)
			return fail_nomem(c);
	}
	free(*slot);
	*slot = dup;
	return 0;
}

static int get_fail_mode(struct pctx *c, json_t *obj, const char *prefix,
			 enum fail_mode *out)
{
	char path[CFG_PATH_LEN], safe[80];
	const char *s;
	bool present;
	int err;

	err = get_str(c, obj, prefix, "fail_mode", false, &s, &present);
	if (err || !present)
		return err;
	if (!strcmp(s, "closed")) {
		*out = FAIL_CLOSED;
	} else if (!strcmp(s, "open")) {
		*out = FAIL_OPEN;
	} else {
		join_key(path, sizeof(path), prefix, "fail_mode");
		sanitize(safe, sizeof(safe), s);
		return fail(c, path, "\"%s\": expected \"closed\" or \"open\"",
			    safe);
	}
	return 0;
}

/* An absolute path string; `maxlen` bounds it (sun_path for the socket). */
static int get_abs_path(struct pctx *c, json_t *obj, const char *key,
			bool nullable, size_t maxlen, char **slot)
{
	const char *s;
	bool present;
	int err;

	err = get_str(c, obj, "", key, nullable, &s, &present);
	if (err || !present)
		return err;
	if (s && s[0] != '/')
		return fail(c, key, "expected an absolute path");
	if (s && strlen(s) > maxlen)
		return fail(c, key, "path longer than %zu bytes", maxlen);
	return set_owned(c, slot, s);
}

/* An address literal (no port) of the allowed families. */
static int get_addr(struct pctx *c, json_t *obj, const char *key,
		    bool v4, bool v6, bool nullable, char **slot)
{
	unsigned char buf[16];
	char path[CFG_PATH_LEN], safe[80];
	const char *s;
	bool present;
	int err;

	err = get_str(c, obj, "listen", key, nullable, &s, &present);
	if (err || !present)
		return err;
	if (s && !(v4 && inet_pton(AF_INET, s, buf) == 1) &&
	    !(v6 && inet_pton(AF_INET6, s, buf) == 1)) {
		join_key(path, sizeof(path), "listen", key);
		sanitize(safe, sizeof(safe), s);
		return fail(c, path, "\"%s\" is not an %s address", safe,
			    v4 && v6 ? "IPv4 or IPv6" : v4 ? "IPv4" : "IPv6");
	}
	return set_owned(c, slot, s);
}

static int parse_listen(struct pctx *c, json_t *root, struct config *cfg)
{
	json_t *l = json_object_get(root, "listen");
	uint32_t port = cfg->listen.port;
	int err;

	if (!l)
		return 0;
	if (!json_is_object(l))
		return fail(c, "listen", "expected an object, got %s",
			    type_name(l));
	err = check_keys(c, l, "listen", listen_keys, none);
	if (!err)
		err = get_addr(c, l, "ipv4", true, false, false,
			       &cfg->listen.ipv4);
	if (!err)
		err = get_addr(c, l, "ipv6", false, true, true,
			       &cfg->listen.ipv6);
	if (!err)
		err = get_addr(c, l, "node", true, true, true,
			       &cfg->listen.node);
	if (!err)
		err = get_uint(c, l, "listen", "port", 1, 65535, &port);
	if (!err)
		cfg->listen.port = (uint16_t)port;
	return err;
}

static bool valid_target_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > CFG_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!isascii((unsigned char)*s) ||
		    !(isalnum((unsigned char)*s) || *s == '.' || *s == '_' ||
		      *s == '-'))
			return false;
	return true;
}

static int get_endpoint(struct pctx *c, json_t *v, const char *path,
			struct cfg_endpoint *ep)
{
	char safe[80];

	if (!json_is_string(v))
		return fail(c, path,
			    "expected an \"ip:port\" or \"[ip6]:port\" string, got %s",
			    type_name(v));
	if (config_parse_endpoint(json_string_value(v), ep)) {
		sanitize(safe, sizeof(safe), json_string_value(v));
		return fail(c, path,
			    "\"%s\" is not an \"ip:port\" or \"[ip6]:port\" endpoint with a port from 1 to 65535",
			    safe);
	}
	return 0;
}

/* "metrics": "ip:port" (Prometheus text on GET /metrics) or null (off). */
static int parse_metrics(struct pctx *c, json_t *root, struct config *cfg)
{
	json_t *v = json_object_get(root, "metrics");

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fail(c, "metrics", "expected \"ip:port\" or null, got %s", type_name(v));
	cfg->metrics_on = true;
	return get_endpoint(c, v, "metrics", &cfg->metrics);
}

static bool same_endpoint(const struct cfg_endpoint *a,
			  const struct cfg_endpoint *b)
{
	return a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

/*
 * A destination may belong to one target only: the kernel map is keyed by
 * it. IPv4 and IPv4-mapped spellings of one address are the same key.
 * Targets before `ti` are complete; in `ti` itself, entries before `mi`.
 */
static int check_unique_match(struct pctx *c, const struct config *cfg,
			      size_t ti, size_t mi, const char *path)
{
	const struct cfg_endpoint *ep = &cfg->targets[ti].match[mi];

	for (size_t t = 0; t <= ti; t++) {
		const struct cfg_target *o = &cfg->targets[t];
		size_t n = t == ti ? mi : o->n_match;

		for (size_t m = 0; m < n; m++) {
			if (!same_endpoint(ep, &o->match[m]))
				continue;
			return fail(c, path,
				    "%s is already matched by targets[%zu].match[%zu] (\"%s\")",
				    ep->text, t, m, o->name);
		}
	}
	return 0;
}

static int parse_kind(struct pctx *c, json_t *t, const char *prefix,
		      enum target_kind *out)
{
	char path[CFG_PATH_LEN], safe[80];
	const char *s;
	bool present;
	int err;

	err = get_str(c, t, prefix, "kind", false, &s, &present);
	if (err)
		return err;
	join_key(path, sizeof(path), prefix, "kind");
	if (!present)
		return fail(c, path, "missing (required)");
	if (!strcmp(s, "tcp")) {
		*out = TARGET_TCP;
		return 0;
	}
	if (!strcmp(s, "postgres")) {
		*out = TARGET_POSTGRES;
		return 0;
	}
	if (!strcmp(s, "kubernetes")) {
		*out = TARGET_KUBERNETES;
		return 0;
	}
	sanitize(safe, sizeof(safe), s);
	if (in_list(kinds_later, s))
		return fail(c, path,
			    "\"%s\" is not supported by this version yet (supported: tcp, postgres, kubernetes)",
			    safe);
	return fail(c, path, "unknown kind \"%s\" (supported: tcp, postgres, kubernetes)", safe);
}

static int parse_matches(struct pctx *c, json_t *t, const char *prefix,
			 struct config *cfg, size_t ti, size_t *total)
{
	struct cfg_target *tg = &cfg->targets[ti];
	char path[CFG_PATH_LEN], epath[CFG_PATH_LEN + 24];
	json_t *m = json_object_get(t, "match");
	size_t n;
	int err;

	join_key(path, sizeof(path), prefix, "match");
	if (!m)
		return fail(c, path, "missing (required)");
	if (!json_is_array(m))
		return fail(c, path,
			    "expected an array of \"ip:port\" strings, got %s",
			    type_name(m));
	n = json_array_size(m);
	if (n == 0)
		return fail(c, path, "expected at least one endpoint");
	if (n > CFG_MAX_MATCH - *total)
		return fail(c, path, "more than %d match entries in all",
			    CFG_MAX_MATCH);
	tg->match = calloc(n, sizeof(*tg->match));
	if (!tg->match)
		return fail_nomem(c);
	for (size_t i = 0; i < n; i++) {
		snprintf(epath, sizeof(epath), "%s[%zu]", path, i);
		err = get_endpoint(c, json_array_get(m, i), epath,
				   &tg->match[i]);
		if (!err)
			err = check_unique_match(c, cfg, ti, i, epath);
		if (err)
			return err;
		/* counted as they are filled, so a failure leaves it exact */
		tg->n_match = i + 1;
	}
	*total += n;
	return 0;
}

/* An object under `key`, or NULL when absent; anything else is an error. */
static int get_obj(struct pctx *c, json_t *parent, const char *prefix,
		   const char *key, const char *const *known,
		   const char *const *later, json_t **out)
{
	char path[CFG_PATH_LEN];
	json_t *v = json_object_get(parent, key);

	*out = NULL;
	if (!v)
		return 0;
	join_key(path, sizeof(path), prefix, key);
	if (!json_is_object(v))
		return fail(c, path, "expected an object, got %s", type_name(v));
	*out = v;
	return check_keys(c, v, path, known, later);
}

/*
 * A file name: absolute as written, else relative to the configuration
 * file's directory (so a config and its certificates move together).
 * Existence is checked by whoever opens it, with the same path.
 */
static int get_file(struct pctx *c, json_t *obj, const char *prefix,
		    const char *key, char **slot)
{
	char path[CFG_PATH_LEN], full[4096];
	const char *s;
	bool present;
	int err;

	err = get_str(c, obj, prefix, key, false, &s, &present);
	if (err || !present)
		return err;
	join_key(path, sizeof(path), prefix, key);
	if (!s[0])
		return fail(c, path, "expected a file name, got an empty string");
	if (s[0] == '/' || !c->dir)
		snprintf(full, sizeof(full), "%s", s);
	else if (snprintf(full, sizeof(full), "%s/%s", c->dir, s) >= (int)sizeof(full))
		return fail(c, path, "path longer than %zu bytes", sizeof(full) - 1);
	return set_owned(c, slot, full);
}

static int get_u64(struct pctx *c, json_t *obj, const char *prefix,
		   const char *key, uint64_t *out)
{
	char path[CFG_PATH_LEN];
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	join_key(path, sizeof(path), prefix, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return fail(c, path, "expected a non-negative integer, got %s",
			    type_name(v));
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int parse_store(struct pctx *c, json_t *root, struct config *cfg)
{
	static const char *const modes[] = { "strict", "sync", "async", "off", NULL };
	const char *mode, *p;
	bool present;
	json_t *st;
	int err;

	err = get_obj(c, root, "", "store", store_keys, none, &st);
	if (err || !st)
		return err;
	err = get_str(c, st, "store", "path", false, &p, &present);
	if (!err && present && p[0] != '/')
		err = fail(c, "store.path", "expected an absolute path");
	if (!err && present)
		err = set_owned(c, &cfg->store.path, p);
	if (!err)
		err = get_str(c, st, "store", "mode", false, &mode, &present);
	if (!err && present) {
		size_t i;

		for (i = 0; modes[i] && strcmp(modes[i], mode); i++)
			;
		if (!modes[i])
			return fail(c, "store.mode",
				    "expected \"strict\", \"sync\", \"async\" or \"off\"");
		cfg->store.mode = (enum store_mode_cfg)i;
	}
	if (!err)
		err = get_uint(c, st, "store", "sync_ms", 0, 60000, &cfg->store.sync_ms);
	if (!err)
		err = get_uint(c, st, "store", "retention_days", 0, 36500,
			       &cfg->store.retention_days);
	if (!err)
		err = get_u64(c, st, "store", "max_bytes", &cfg->store.max_bytes);
	if (!err)
		err = get_file(c, st, "store", "seal_key", &cfg->store.seal_key);
	if (!err)
		err = get_uint(c, st, "store", "seal_interval_ms", 0, 3600000,
			       &cfg->store.seal_interval_ms);
	return err;
}

static int parse_timeouts(struct pctx *c, json_t *root, struct config *cfg)
{
	json_t *t;
	int err;

	err = get_obj(c, root, "", "timeouts", timeout_keys, none, &t);
	if (err || !t)
		return err;
	err = get_uint(c, t, "timeouts", "connect_ms", 100, 600000,
		       &cfg->timeouts.connect_ms);
	if (!err)
		err = get_uint(c, t, "timeouts", "handshake_ms", 100, 600000,
			       &cfg->timeouts.handshake_ms);
	if (!err)
		err = get_uint(c, t, "timeouts", "idle_ms", 100, 86400000,
			       &cfg->timeouts.idle_ms);
	if (!err)
		err = get_uint(c, t, "timeouts", "drain_ms", 0, 600000,
			       &cfg->timeouts.drain_ms);
	return err;
}

static int parse_cert(struct pctx *c, json_t *obj, const char *prefix,
		      struct cfg_cert *out)
{
	char path[CFG_PATH_LEN];
	int err;

	err = get_file(c, obj, prefix, "cert", &out->cert);
	if (!err)
		err = get_file(c, obj, prefix, "key", &out->key);
	if (!err && (!out->cert || !out->key)) {
		join_key(path, sizeof(path), prefix, out->cert ? "key" : "cert");
		err = fail(c, path, "missing (cert and key go together)");
	}
	return err;
}

/* "tls": {"cert","key"} or {"certs": [{"cert","key"}, ...]}, "upstream_ca", "upstream_name" */
static int parse_tls(struct pctx *c, json_t *t, const char *prefix,
		     struct cfg_target *tg)
{
	char tpath[CFG_PATH_LEN], path[CFG_PATH_LEN + 16];
	const char *name;
	bool present;
	json_t *tls, *certs;
	int err;

	err = get_obj(c, t, prefix, "tls", tls_keys, none, &tls);
	if (err || !tls)
		return err;
	join_key(tpath, sizeof(tpath), prefix, "tls");
	certs = json_object_get(tls, "certs");
	if (certs && (json_object_get(tls, "cert") || json_object_get(tls, "key")))
		return fail(c, tpath, "give either \"cert\" and \"key\" or \"certs\", not both");
	if (certs) {
		size_t n = json_array_size(certs);

		join_key(path, sizeof(path), tpath, "certs");
		if (!json_is_array(certs) || n == 0 || n > 64)
			return fail(c, path, "expected an array of 1 to 64 {\"cert\", \"key\"} objects");
		tg->certs = calloc(n, sizeof(*tg->certs));
		if (!tg->certs)
			return fail_nomem(c);
		tg->n_certs = n;
		for (size_t i = 0; i < n && !err; i++) {
			char ipath[CFG_PATH_LEN + 32];
			json_t *one = json_array_get(certs, i);

			snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
			if (!json_is_object(one))
				return fail(c, ipath, "expected an object, got %s",
					    type_name(one));
			err = check_keys(c, one, ipath, cert_keys, none);
			if (!err)
				err = parse_cert(c, one, ipath, &tg->certs[i]);
		}
	} else if (json_object_get(tls, "cert") || json_object_get(tls, "key")) {
		tg->certs = calloc(1, sizeof(*tg->certs));
		if (!tg->certs)
			return fail_nomem(c);
		tg->n_certs = 1;
		err = parse_cert(c, tls, tpath, &tg->certs[0]);
	}
	if (!err)
		err = get_file(c, tls, tpath, "upstream_ca", &tg->upstream_ca);
	if (!err)
		err = get_str(c, tls, tpath, "upstream_name", false, &name, &present);
	if (!err && present) {
		join_key(path, sizeof(path), tpath, "upstream_name");
		if (!tg->upstream_ca)
			return fail(c, path, "needs upstream_ca (it names what the upstream's certificate is checked for)");
		if (!name[0] || strlen(name) > 253)
			return fail(c, path, "expected a host name of 1 to 253 characters");
		err = set_owned(c, &tg->upstream_name, name);
	}
	return err;
}

static int parse_credential(struct pctx *c, json_t *t, const char *prefix,
			    struct cfg_target *tg)
{
	char cpath[CFG_PATH_LEN];
	json_t *cr;
	int err;

	err = get_obj(c, t, prefix, "credential", credential_keys,
		      credential_later, &cr);
	if (err || !cr)
		return err;
	join_key(cpath, sizeof(cpath), prefix, "credential");
	err = get_file(c, cr, cpath, "client_cert", &tg->client_cert);
	if (!err)
		err = get_file(c, cr, cpath, "client_key", &tg->client_key);
	if (!err && (!tg->client_cert != !tg->client_key))
		return fail(c, cpath, "client_cert and client_key go together");
	if (!err && tg->client_cert && !tg->upstream_ca)
		return fail(c, cpath,
			    "a client certificate needs TLS toward the upstream (tls.upstream_ca)");
	if (!err)
		err = get_file(c, cr, cpath, "password_file", &tg->password_file);
	if (!err && json_object_get(cr, "user")) {
		const char *u;
		bool present;

		err = get_str(c, cr, cpath, "user", false, &u, &present);
		if (!err && (!*u || strlen(u) > 63))
			return fail(c, cpath, "user: expected a role name of 1 to 63 bytes");
		if (!err)
			err = set_owned(c, &tg->cred_user, u);
	}
	if (!err && (tg->cred_user || tg->password_file) && tg->kind != TARGET_POSTGRES)
		return fail(c, cpath, "user and password_file are for postgres targets");
	if (!err)
		err = get_file(c, cr, cpath, "token_file", &tg->token_file);
	if (!err && tg->token_file && tg->kind != TARGET_KUBERNETES)
		return fail(c, cpath, "token_file is for kubernetes targets");
	if (!err && tg->token_file && tg->client_cert)
		return fail(c, cpath, "expected token_file, or client_cert and client_key (one of them)");
	return err;
}

/* One string of a string-or-list key, as a bit of names[] (i + 1 -> 1 << i). */
static int get_bit(struct pctx *c, json_t *v, const char *path,
		   const char *const *names, unsigned *bits)
{
	char safe[80];

	if (!json_is_string(v))
		return fail(c, path, "expected a string, got %s", type_name(v));
	for (unsigned i = 0; names[i]; i++) {
		if (!strcmp(json_string_value(v), names[i])) {
			*bits |= 1u << i;
			return 0;
		}
	}
	sanitize(safe, sizeof(safe), json_string_value(v));
	return fail(c, path, "\"%s\": expected \"kernel\", \"jwt\" or \"cert\"", safe);
}

/*
 * "client_auth": "kernel" | "jwt" | "cert" or a list of them (any one
 * suffices). Checked against what the target can carry: a tcp target has
 * no protocol to carry a token in, and a certificate needs TLS toward the
 * agent and a CA to check it with.
 */
static int parse_client_auth(struct pctx *c, json_t *t, const char *prefix,
			     const struct config *cfg, struct cfg_target *tg)
{
	static const char *const names[] = { "kernel", "jwt", "cert", NULL };
	char path[CFG_PATH_LEN], ipath[CFG_PATH_LEN + 24];
	json_t *v = json_object_get(t, "client_auth"), *one;
	unsigned bits = 0;
	size_t i;
	int err = 0;

	tg->client_auth = CLIENT_AUTH_KERNEL;
	if (!v && tg->kind == TARGET_KUBERNETES) {
		/* the agent keeps presenting what its kubeconfig holds: a
		 * token or a certificate, whichever identity can verify */
		tg->client_auth = (cfg->identity.n_issuers ? CLIENT_AUTH_JWT : 0) |
				  (cfg->identity.client_ca && tg->n_certs ? CLIENT_AUTH_CERT : 0);
		if (!tg->client_auth)
			return fail(c, prefix,
				    "a kubernetes target needs identity.issuers or identity.client_ca (or \"client_auth\": \"kernel\")");
		return 0;
	}
	if (!v)
		return 0;
	join_key(path, sizeof(path), prefix, "client_auth");
	if (json_is_array(v)) {
		if (json_array_size(v) == 0)
			return fail(c, path, "expected a non-empty list");
		json_array_foreach(v, i, one) {
			snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
			err = get_bit(c, one, ipath, names, &bits);
			if (err)
				return err;
		}
	} else {
		err = get_bit(c, v, path, names, &bits);
		if (err)
			return err;
	}
	if ((bits & CLIENT_AUTH_JWT) && tg->kind == TARGET_TCP)
		return fail(c, path, "\"jwt\": a tcp target carries no token (use \"kernel\" or \"cert\")");
	if ((bits & CLIENT_AUTH_JWT) && !cfg->identity.n_issuers)
		return fail(c, path, "\"jwt\" needs identity.issuers");
	if ((bits & CLIENT_AUTH_CERT) && !tg->n_certs)
		return fail(c, path, "\"cert\" needs TLS toward the agent (tls.cert and tls.key)");
	if ((bits & CLIENT_AUTH_CERT) && !cfg->identity.client_ca)
		return fail(c, path, "\"cert\" needs identity.client_ca");
	tg->client_auth = bits;
	return 0;
}

static int parse_target(struct pctx *c, json_t *t, struct config *cfg,
			size_t ti, size_t *total)
{
	struct cfg_target *tg = &cfg->targets[ti];
	char prefix[32], path[CFG_PATH_LEN], safe[80];
	const char *name;
	bool present;
	json_t *up;
	int err;

	snprintf(prefix, sizeof(prefix), "targets[%zu]", ti);
	if (!json_is_object(t))
		return fail(c, prefix, "expected an object, got %s",
			    type_name(t));
	err = check_keys(c, t, prefix, target_keys, none);
	if (err)
		return err;

	err = get_str(c, t, prefix, "name", false, &name, &present);
	if (err)
		return err;
	join_key(path, sizeof(path), prefix, "name");
	if (!present)
		return fail(c, path, "missing (required)");
	if (!valid_target_name(name)) {
		sanitize(safe, sizeof(safe), name);
		return fail(c, path,
			    "\"%s\": expected 1 to %d characters from A-Z a-z 0-9 . _ -",
			    safe, CFG_NAME_MAX);
	}
	for (size_t i = 0; i < ti; i++)
		if (!strcmp(cfg->targets[i].name, name))
			return fail(c, path,
				    "\"%s\" is already the name of targets[%zu]",
				    name, i);
	err = set_owned(c, &tg->name, name);
	if (!err)
		err = parse_kind(c, t, prefix, &tg->kind);
	if (!err)
		err = parse_matches(c, t, prefix, cfg, ti, total);
	if (err)
		return err;

	join_key(path, sizeof(path), prefix, "upstream");
	up = json_object_get(t, "upstream");
	if (!up)
		return fail(c, path, "missing (required)");
	err = get_endpoint(c, up, path, &tg->upstream);
	if (err)
		return err;

	tg->fail_mode = cfg->fail_mode;
	err = get_fail_mode(c, t, prefix, &tg->fail_mode);
	if (!err)
		err = parse_tls(c, t, prefix, tg);
	if (!err)
		err = parse_credential(c, t, prefix, tg);
	if (!err)
		err = parse_client_auth(c, t, prefix, cfg, tg);
	/* sluice reads and rewrites every request: TLS on both sides */
	if (!err && tg->kind == TARGET_KUBERNETES && (!tg->n_certs || !tg->upstream_ca))
		return fail(c, prefix,
			    "a kubernetes target needs tls.cert and tls.key (toward the agent) and tls.upstream_ca");
	return err;
}

static int parse_targets(struct pctx *c, json_t *root, struct config *cfg)
{
	json_t *arr = json_object_get(root, "targets");
	size_t n, total = 0;
	int err;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return fail(c, "targets", "expected an array, got %s",
			    type_name(arr));
	n = json_array_size(arr);
	if (n > CFG_MAX_TARGETS)
		return fail(c, "targets", "more than %d targets",
			    CFG_MAX_TARGETS);
	if (n == 0)
		return 0;
	cfg->targets = calloc(n, sizeof(*cfg->targets));
	if (!cfg->targets)
		return fail_nomem(c);
	cfg->n_targets = n;
	for (size_t i = 0; i < n; i++) {
		err = parse_target(c, json_array_get(arr, i), cfg, i, &total);
		if (err)
			return err;
	}
	return 0;
}

/* A non-empty array of at most max members at obj[key], or an error. */
static int get_array(struct pctx *c, json_t *obj, const char *path,
		     size_t max, json_t **out)
{
	*out = obj;
	if (!json_is_array(obj))
		return fail(c, path, "expected an array, got %s", type_name(obj));
	if (json_array_size(obj) == 0 || json_array_size(obj) > max)
		return fail(c, path, "expected 1 to %zu members", max);
	return 0;
}

/* A non-empty string of at most max bytes, copied into *slot. */
static int get_name(struct pctx *c, json_t *obj, const char *prefix,
		    const char *key, bool required, size_t max, char **slot)
{
	char path[CFG_PATH_LEN];
	const char *s;
	bool present;
	int err;

	err = get_str(c, obj, prefix, key, false, &s, &present);
	if (err)
		return err;
	join_key(path, sizeof(path), prefix, key);
	if (!present)
		return required ? fail(c, path, "missing (required)") : 0;
	if (!s[0] || strlen(s) > max)
		return fail(c, path, "expected 1 to %zu bytes", max);
	return set_owned(c, slot, s);
}

static int parse_issuer(struct pctx *c, json_t *v, const char *prefix,
			struct cfg_issuer *is)
{
	char path[CFG_PATH_LEN], ipath[CFG_PATH_LEN + 24];
	json_t *aud, *one;
	size_t i;
	int err;

	if (!json_is_object(v))
		return fail(c, prefix, "expected an object, got %s", type_name(v));
	err = check_keys(c, v, prefix, issuer_keys, none);
	if (!err)
		err = get_name(c, v, prefix, "issuer", true, 1024, &is->issuer);
	if (!err)
		err = get_file(c, v, prefix, "keys", &is->keys);
	join_key(path, sizeof(path), prefix, "keys");
	if (!err && !is->keys)
		err = fail(c, path, "missing (required)");
	join_key(path, sizeof(path), prefix, "audiences");
	aud = json_object_get(v, "audiences");
	if (!err && !aud)
		err = fail(c, path, "missing (required)");
	if (!err)
		err = get_array(c, aud, path, 64, &aud);
	if (err)
		return err;
	is->audiences = calloc(json_array_size(aud), sizeof(char *));
	if (!is->audiences)
		return fail_nomem(c);
	json_array_foreach(aud, i, one) {
		snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		if (!json_is_string(one) || !json_string_length(one))
			return fail(c, ipath, "expected a non-empty string");
		is->n_audiences = i + 1;
		err = set_owned(c, &is->audiences[i], json_string_value(one));
		if (err)
			return err;
	}
	return 0;
}

/* "identity": {"issuers": [...], "client_ca": FILE}. The files are read
 * (and refused with their own errors) when the daemon builds its verifiers. */
static int parse_identity(struct pctx *c, json_t *root, struct config *cfg)
{
	char ipath[CFG_PATH_LEN + 16];
	json_t *id, *arr;
	int err;

	err = get_obj(c, root, "", "identity", identity_keys, none, &id);
	if (err || !id)
		return err;
	err = get_file(c, id, "identity", "client_ca", &cfg->identity.client_ca);
	arr = json_object_get(id, "issuers");
	if (err || !arr)
		return err;
	err = get_array(c, arr, "identity.issuers", 32, &arr);
	if (err)
		return err;
	cfg->identity.issuers = calloc(json_array_size(arr), sizeof(struct cfg_issuer));
	if (!cfg->identity.issuers)
		return fail_nomem(c);
	for (size_t i = 0; i < json_array_size(arr) && !err; i++) {
		snprintf(ipath, sizeof(ipath), "identity.issuers[%zu]", i);
		cfg->identity.n_issuers = i + 1;
		err = parse_issuer(c, json_array_get(arr, i), ipath, &cfg->identity.issuers[i]);
		for (size_t k = 0; !err && k < i; k++)
			if (!strcmp(cfg->identity.issuers[k].issuer, cfg->identity.issuers[i].issuer))
				err = fail(c, ipath, "issuer repeats identity.issuers[%zu]", k);
	}
	return err;
}

static int parse_pod(struct pctx *c, json_t *v, const char *prefix,
		     struct pod_info *p)
{
	char path[CFG_PATH_LEN], uid[POD_UID_LEN + 1], cid[POD_CONTAINER_LEN + 1];
	char probe[POD_UID_LEN + 8];
	const char *key;
	json_t *labels, *val;
	size_t i = 0;
	int err;

	if (!json_is_object(v))
		return fail(c, prefix, "expected an object, got %s", type_name(v));
	err = check_keys(c, v, prefix, pod_keys, none);
	if (!err)
		err = get_name(c, v, prefix, "uid", true, POD_UID_LEN, &p->uid);
	join_key(path, sizeof(path), prefix, "uid");
	/* the UID must be one the cgroup parser can find */
	if (!err) {
		snprintf(probe, sizeof(probe), "/pod%s", p->uid);
		if (pods_parse_cgroup(probe, uid, cid))
			err = fail(c, path, "expected a pod UID (36 characters: lower-case hex and \"-\")");
	}
	if (!err)
		err = get_name(c, v, prefix, "namespace", true, 253, &p->ns);
	if (!err)
		err = get_name(c, v, prefix, "name", true, 253, &p->name);
	if (!err)
		err = get_name(c, v, prefix, "service_account", false, 253,
			       &p->service_account);
	if (!err)
		err = set_owned(c, &p->source, "config");
	labels = json_object_get(v, "labels");
	if (err || !labels)
		return err;
	join_key(path, sizeof(path), prefix, "labels");
	if (!json_is_object(labels) || json_object_size(labels) > 64)
		return fail(c, path, "expected an object of at most 64 string values");
	p->label_keys = calloc(json_object_size(labels) + 1, sizeof(char *));
	p->label_values = calloc(json_object_size(labels) + 1, sizeof(char *));
	if (!p->label_keys || !p->label_values)
		return fail_nomem(c);
	json_object_foreach(labels, key, val) {
		if (!json_is_string(val))
			return fail(c, path, "\"%s\": expected a string, got %s", key,
				    type_name(val));
		p->n_labels = i + 1;
		err = set_owned(c, &p->label_keys[i], key);
		if (!err)
			err = set_owned(c, &p->label_values[i], json_string_value(val));
		if (err)
			return err;
		i++;
	}
	return 0;
}

/* "pods": the static pod map, [{"uid", "namespace", "name", ...}, ...] */
static int parse_pods(struct pctx *c, json_t *root, struct config *cfg)
{
	char ipath[32];
	json_t *arr = json_object_get(root, "pods");
	int err;

	if (!arr)
		return 0;
	err = get_array(c, arr, "pods", 65536, &arr);
	if (err)
		return err;
	cfg->pods = calloc(json_array_size(arr), sizeof(*cfg->pods));
	if (!cfg->pods)
		return fail_nomem(c);
	for (size_t i = 0; i < json_array_size(arr) && !err; i++) {
		snprintf(ipath, sizeof(ipath), "pods[%zu]", i);
		cfg->pods[i] = calloc(1, sizeof(struct pod_info));
		if (!cfg->pods[i])
			return fail_nomem(c);
		cfg->n_pods = i + 1;
		err = parse_pod(c, json_array_get(arr, i), ipath, cfg->pods[i]);
		for (size_t k = 0; !err && k < i; k++)
			if (!strcmp(cfg->pods[k]->uid, cfg->pods[i]->uid))
				err = fail(c, ipath, "uid repeats pods[%zu]", k);
	}
	return err;
}

/* "pod_cache": {"server", "ca", "token_file" | "client_cert" + "client_key",
 * "node"}. The files are read by the cache when it connects. */
static int parse_pod_cache(struct pctx *c, json_t *root, struct config *cfg)
{
	static const char *const keys[] = {
		"server", "ca", "token_file", "client_cert", "client_key", "node", NULL,
	};
	const char *p = "pod_cache";
	char *srv;
	json_t *pc;
	int err;

	err = get_obj(c, root, "", p, keys, none, &pc);
	if (err || !pc)
		return err;
	err = get_name(c, pc, p, "server", true, 1024, &cfg->pod_cache.server);
	srv = cfg->pod_cache.server;
	if (!err && (strncmp(srv, "https://", 8) || !srv[8] || srv[8] == '/' ||
		     strpbrk(srv + 8, "?#")))
		err = fail(c, "pod_cache.server", "expected \"https://host[:port]\"");
	for (size_t i = 0; !err && srv[i]; i++)
		if ((unsigned char)srv[i] <= ' ' || (unsigned char)srv[i] >= 0x7f)
			err = fail(c, "pod_cache.server", "spaces or control characters in the URL");
	while (!err && srv[strlen(srv) - 1] == '/')
		srv[strlen(srv) - 1] = '\0';
	if (!err)
		err = get_file(c, pc, p, "ca", &cfg->pod_cache.ca);
	if (!err && !cfg->pod_cache.ca)
		err = fail(c, "pod_cache.ca", "missing (required: the API server's CA)");
	if (!err)
		err = get_file(c, pc, p, "token_file", &cfg->pod_cache.token_file);
	if (!err)
		err = get_file(c, pc, p, "client_cert", &cfg->pod_cache.client_cert);
	if (!err)
		err = get_file(c, pc, p, "client_key", &cfg->pod_cache.client_key);
	if (!err && !cfg->pod_cache.client_cert != !cfg->pod_cache.client_key)
		err = fail(c, p, "client_cert and client_key go together");
	if (!err && !cfg->pod_cache.token_file == !cfg->pod_cache.client_cert)
		err = fail(c, p, "expected token_file, or client_cert and client_key (one of them)");
	if (!err)
		err = get_name(c, pc, p, "node", false, 253, &cfg->pod_cache.node);
	return err;
}

/* One "export" sink: the keys its type takes, defaults for the rest. */
static int parse_export(struct pctx *c, json_t *v, const char *prefix,
			struct cfg_export *e)
{
	static const char *const types[] = { "file", "syslog", "hec", NULL };
	static const char *const formats[] = { "k8s-audit", "ocsf", "cef", NULL };
	char path[CFG_PATH_LEN], tpath[CFG_PATH_LEN];
	const char *t = NULL, *colon;
	bool present;
	json_t *tls;
	int err, i;

	if (!json_is_object(v))
		return fail(c, prefix, "expected an object, got %s", type_name(v));
	e->batch = 100;
	e->max_bytes = 64ull << 20;
	e->keep = 5;
	e->timeout_ms = 10000;
	e->backoff_max_ms = 30000;
	err = check_keys(c, v, prefix, export_keys, none);
	if (!err)
		err = get_name(c, v, prefix, "name", true, CFG_NAME_MAX, &e->name);
	join_key(path, sizeof(path), prefix, "name");
	if (!err && !valid_target_name(e->name))
		err = fail(c, path, "expected letters, digits, '.', '_' or '-'");
	if (!err)
		err = get_name(c, v, prefix, "format", true, 16, &e->format);
	join_key(path, sizeof(path), prefix, "format");
	if (!err && !in_list(formats, e->format))
		err = fail(c, path, "expected \"k8s-audit\", \"ocsf\" or \"cef\"");
	if (!err)
		err = get_str(c, v, prefix, "type", false, &t, &present);
	join_key(path, sizeof(path), prefix, "type");
	if (!err && !present)
		err = fail(c, path, "missing (required)");
	for (i = 0; !err && types[i] && strcmp(types[i], t); i++)
		;
	if (!err && !types[i])
		err = fail(c, path, "expected \"file\", \"syslog\" or \"hec\"");
	if (err)
		return err;
	e->type = (enum export_type)i;
	err = get_uint(c, v, prefix, "batch", 1, 10000, &e->batch);
	if (!err)
		err = get_uint(c, v, prefix, "timeout_ms", 100, 600000, &e->timeout_ms);
	if (!err)
		err = get_uint(c, v, prefix, "backoff_max_ms", 100, 3600000,
			       &e->backoff_max_ms);
	if (!err)
		err = get_uint(c, v, prefix, "keep", 0, 100, &e->keep);
	if (!err)
		err = get_u64(c, v, prefix, "max_bytes", &e->max_bytes);
	join_key(path, sizeof(path), prefix, "max_bytes");
	if (!err && e->max_bytes < 4096)
		err = fail(c, path, "expected at least 4096");
	if (!err)
		err = get_file(c, v, prefix, "path", &e->path);
	if (!err)
		err = get_name(c, v, prefix, "address", e->type != EXPORT_FILE, 1024,
			       &e->address);
	if (!err)
		err = get_obj(c, v, prefix, "tls", export_tls_keys, none, &tls);
	join_key(tpath, sizeof(tpath), prefix, "tls");
	if (!err && tls)
		err = get_file(c, tls, tpath, "ca", &e->tls_ca);
	if (!err && tls)
		err = get_name(c, tls, tpath, "name", false, 253, &e->tls_name);
	if (!err && tls && !e->tls_ca)
		err = fail(c, tpath, "\"ca\" is required");
	if (!err)
		err = get_name(c, v, prefix, "token", false, 4096, &e->token);
	if (!err)
		err = get_file(c, v, prefix, "token_file", &e->token_file);
	if (err)
		return err;
	/* what the type does not take is refused, not ignored */
	if (e->type == EXPORT_FILE && !e->path)
		return fail(c, prefix, "a file sink needs \"path\"");
	if (e->type == EXPORT_FILE && (e->address || tls || e->token || e->token_file))
		return fail(c, prefix, "a file sink takes no address, tls or token");
	if (e->type != EXPORT_FILE && e->path)
		return fail(c, prefix, "only a file sink takes \"path\"");
	if (e->type == EXPORT_SYSLOG && (e->token || e->token_file))
		return fail(c, prefix, "a syslog sink takes no token");
	colon = e->address ? strrchr(e->address, ':') : NULL;
	/* a host name is allowed, so only the port is checked here */
	if (e->type == EXPORT_SYSLOG && (!colon || colon == e->address ||
					 atoi(colon + 1) <= 0 || atoi(colon + 1) > 65535))
		return fail(c, prefix, "address: expected host:port");
	if (e->type == EXPORT_HEC && strncmp(e->address, "http://", 7) &&
	    strncmp(e->address, "https://", 8))
		return fail(c, prefix, "address: expected an http:// or https:// URL");
	if (e->type == EXPORT_HEC && !e->token == !e->token_file)
		return fail(c, prefix, "a hec sink needs one of \"token\" or "
			    "\"token_file\"");
	return 0;
}

static int parse_exports(struct pctx *c, json_t *root, struct config *cfg)
{
	char ipath[32];
	json_t *arr = json_object_get(root, "export");
	int err;

	if (!arr)
		return 0;
	err = get_array(c, arr, "export", 64, &arr);
	if (err)
		return err;
	cfg->exports = calloc(json_array_size(arr), sizeof(*cfg->exports));
	if (!cfg->exports)
		return fail_nomem(c);
	for (size_t i = 0; i < json_array_size(arr) && !err; i++) {
		snprintf(ipath, sizeof(ipath), "export[%zu]", i);
		cfg->n_exports = i + 1;
		err = parse_export(c, json_array_get(arr, i), ipath, &cfg->exports[i]);
		for (size_t k = 0; !err && k < i; k++)
			if (!strcmp(cfg->exports[k].name, cfg->exports[i].name))
				err = fail(c, ipath, "name repeats export[%zu]", k);
	}
	return err;
}

static int parse_log_level(struct pctx *c, json_t *root, struct config *cfg)
{
	enum log_level lvl;
	const char *s;
	char safe[80];
	bool present;
	int err;

	err = get_str(c, root, "", "log_level", false, &s, &present);
	if (err || !present)
		return err;
	if (log_level_parse(s, &lvl)) {
		sanitize(safe, sizeof(safe), s);
		return fail(c, "log_level",
			    "\"%s\": expected \"debug\", \"info\", \"warn\" or \"error\"",
			    safe);
	}
	return set_owned(c, &cfg->log_level, s);
}

/*
 * Top level, in dependency order: fail_mode before targets (they inherit
 * it), heartbeat before stale (compared after both are known).
 */
static int parse_root(struct pctx *c, json_t *root, struct config *cfg)
{
	int err;

	if (!json_is_object(root))
		return fail(c, "(top level)", "expected an object, got %s",
			    type_name(root));
	err = check_keys(c, root, "", top_keys, top_later);
	if (!err)
		err = get_abs_path(c, root, "cgroup", true, 4095, &cfg->cgroup);
	if (!err)
		err = parse_listen(c, root, cfg);
	if (!err)
		err = parse_metrics(c, root, cfg);
	if (!err)
		err = get_fail_mode(c, root, "", &cfg->fail_mode);
	if (!err)
		err = get_abs_path(c, root, "control", false,
				   sizeof(((struct sockaddr_un *)0)->sun_path) - 1,
				   &cfg->control);
	if (!err)
		err = get_uint(c, root, "", "mark", 1, 0xffffffffLL, &cfg->mark);
	if (!err)
		err = get_uint(c, root, "", "heartbeat_ms", 10, 10000,
			       &cfg->heartbeat_ms);
	if (!err)
		err = get_uint(c, root, "", "stale_ms", 1, 600000,
			       &cfg->stale_ms);
	if (!err && cfg->stale_ms <= cfg->heartbeat_ms)
		err = fail(c, "stale_ms",
			   "%u%s must be greater than heartbeat_ms (%u)",
			   cfg->stale_ms,
			   json_object_get(root, "stale_ms") ? "" : " (the default)",
			   cfg->heartbeat_ms);
	if (!err)
		err = get_uint(c, root, "", "workers", 0, 256, &cfg->workers);
	if (!err)
		err = parse_log_level(c, root, cfg);
	if (!err)
		err = parse_store(c, root, cfg);
	if (!err)
		err = parse_timeouts(c, root, cfg);
	if (!err)
		err = get_file(c, root, "", "policy_dir", &cfg->policy_dir);
	if (!err)
		err = parse_identity(c, root, cfg);
	if (!err)
		err = parse_pods(c, root, cfg);
	if (!err)
		err = parse_exports(c, root, cfg);
	if (!err)
		err = parse_pod_cache(c, root, cfg);
	/* targets last: client_auth checks what identity offers */
	if (!err)
		err = parse_targets(c, root, cfg);
	return err;
}

static struct config *config_new_default(void)
{
	struct config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return NULL;
	cfg->listen.ipv4 = strdup("127.0.0.1");
	cfg->listen.ipv6 = strdup("::1");
	cfg->listen.port = 15443;
	cfg->fail_mode = FAIL_CLOSED;
	cfg->control = strdup("/run/sluice/ctl.sock");
	cfg->mark = 0x51ce;
	cfg->heartbeat_ms = 200;
	cfg->stale_ms = 1000;
	cfg->log_level = strdup("info");
	cfg->store.path = strdup("/var/lib/sluice");
	cfg->store.mode = STORE_MODE_STRICT;
	cfg->store.sync_ms = 20;
	cfg->store.retention_days = 90;
	cfg->store.max_bytes = 20ull << 30;
	cfg->store.seal_key = strdup("/etc/sluice/seal.key");
	cfg->store.seal_interval_ms = 10000;
	cfg->timeouts.connect_ms = 10000;
	cfg->timeouts.handshake_ms = 10000;
	cfg->timeouts.idle_ms = 3600000;
	cfg->timeouts.drain_ms = 10000;
	if (!cfg->listen.ipv4 || !cfg->listen.ipv6 || !cfg->control ||
	    !cfg->log_level || !cfg->store.path || !cfg->store.seal_key) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

/*
 * The one parser behind config_parse() and config_load(): takes a length
 * so that a file with a NUL byte in it is a syntax error at its position
 * rather than silently cut short.
 */
static struct config *parse_buffer(const char *text, size_t len,
				   const char *name, const char *dir,
				   char *err, size_t errlen)
{
	struct pctx c = { .name = name, .err = err, .errlen = errlen, .dir = dir };
	struct config *cfg = NULL;
	json_error_t jerr;
	json_t *root = NULL;
	int ret;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		set_err(err, errlen, "%s:%d:%d: %s", name, jerr.line,
			jerr.column, jerr.text);
		ret = -EINVAL;
		goto out;
	}
	cfg = config_new_default();
	if (!cfg) {
		ret = fail_nomem(&c);
		goto out;
	}
	cfg->source = strdup(name);
	if (!cfg->source) {
		ret = fail_nomem(&c);
		goto out;
	}
	ret = parse_root(&c, root, cfg);
out:
	json_decref(root);
	if (ret) {
		config_free(cfg);
		errno = -ret;
		return NULL;
	}
	return cfg;
}

struct config *config_parse(const char *text, const char *name, char *err,
			    size_t errlen)
{
	if (!name)
		name = "<config>";
	if (!text) {
		set_err(err, errlen, "%s: no configuration text", name);
		errno = EINVAL;
		return NULL;
	}
	return parse_buffer(text, strlen(text), name, NULL, err, errlen);
}

/*
 * Read at most 1 MiB + 1 bytes so an oversized file (or an endless one such
 * as a FIFO or /dev/zero) is refused without reading or allocating more.
 */
struct config *config_load(const char *path, char *err, size_t errlen)
{
	struct config *cfg = NULL;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd = -1, ret = 0;

	if (!path) {
		set_err(err, errlen, "<config>: no configuration file given");
		ret = -EINVAL;
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		set_err(err, errlen, "%s: %s", path, strerror(-ret));
		goto out;
	}
	buf = malloc(CFG_MAX_FILE + 1);
	if (!buf) {
		ret = -ENOMEM;
		set_err(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (len <= CFG_MAX_FILE) {
		n = read(fd, buf + len, CFG_MAX_FILE + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			set_err(err, errlen, "%s: %s", path, strerror(-ret));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CFG_MAX_FILE) {
		ret = -EFBIG;
		set_err(err, errlen,
			"%s: file is larger than 1 MiB (%d bytes); refused",
			path, CFG_MAX_FILE);
		goto out;
	}
	{
		char dir[4096];
		const char *slash = strrchr(path, '/');

		if (!slash)
			snprintf(dir, sizeof(dir), ".");
		else
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		cfg = parse_buffer(buf, len, path, slash == path ? "/" : dir, err, errlen);
	}
	if (!cfg)
		ret = -errno;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	if (ret) {
		errno = -ret;
		return NULL;
	}
	return cfg;
}

const char *config_default_text(void)
{
	return default_text;
}

/* Strict decimal port: 1..65535, digits only, no sign, no leading zero. */
static int parse_port(const char *s, uint16_t *out)
{
	unsigned long v = 0;
	size_t n = strlen(s);

	if (n < 1 || n > 5 || s[0] == '0')
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

static const uint8_t v4mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
};

/*
 * The address part is copied into a bounded buffer before inet_pton so an
 * overlong string is refused by length, never scanned into a fixed array.
 * ep is written only on success.
 */
int config_parse_endpoint(const char *s, struct cfg_endpoint *ep)
{
	char host[INET6_ADDRSTRLEN];
	char shown[INET6_ADDRSTRLEN];
	struct cfg_endpoint e = { 0 };
	const char *port, *end;
	size_t hlen;

	if (!s || !ep)
		return -EINVAL;
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		hlen = (size_t)(end - (s + 1));
		port = end + 2;
		if (hlen == 0 || hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET6, host, e.addr) != 1)
			return -EINVAL;
		e.family = memcmp(e.addr, v4mapped_prefix, 12) ? AF_INET6 :
								 AF_INET;
	} else {
		end = strchr(s, ':');
		if (!end)
			return -EINVAL;
		hlen = (size_t)(end - s);
		port = end + 1;
		if (hlen == 0 || hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, hlen);
		host[hlen] = '\0';
		memcpy(e.addr, v4mapped_prefix, 12);
		if (inet_pton(AF_INET, host, e.addr + 12) != 1)
			return -EINVAL;
		e.family = AF_INET;
	}
	if (parse_port(port, &e.port))
		return -EINVAL;
	if (e.family == AF_INET) {
		if (!inet_ntop(AF_INET, e.addr + 12, shown, sizeof(shown)))
			return -EINVAL;
		snprintf(e.text, sizeof(e.text), "%s:%u", shown, e.port);
	} else {
		if (!inet_ntop(AF_INET6, e.addr, shown, sizeof(shown)))
			return -EINVAL;
		snprintf(e.text, sizeof(e.text), "[%s]:%u", shown, e.port);
	}
	*ep = e;
	return 0;
}

/* Undo the octal escapes (\040 space, \011 tab, \012 newline, \134 \) the
 * kernel writes into /proc/self/mounts fields, in place. */
static void unescape_mount(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) |
				      (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

/*
 * On hybrid hosts /sys/fs/cgroup is a tmpfs of v1 controllers and the v2
 * hierarchy lives elsewhere (often .../unified): the fstype column, not the
 * path, says which mount is cgroup2.
 */
char *config_find_cgroup2(const char *mounts_path)
{
	char *line = NULL, *found = NULL, *save, *mnt, *fstype;
	size_t cap = 0;
	FILE *f;
	int ret = -ENOENT;

	f = fopen(mounts_path ? mounts_path : "/proc/self/mounts", "re");
	if (!f) {
		ret = -errno;
		goto out;
	}
	while (getline(&line, &cap, f) > 0) {
		if (!strtok_r(line, " \t\n", &save))
			continue;
		mnt = strtok_r(NULL, " \t\n", &save);
		fstype = strtok_r(NULL, " \t\n", &save);
		if (!mnt || !fstype || strcmp(fstype, "cgroup2"))
			continue;
		unescape_mount(mnt);
		found = strdup(mnt);
		ret = found ? 0 : -ENOMEM;
		goto out;
	}
	if (ferror(f))
		ret = -EIO;
out:
	free(line);
	if (f)
		fclose(f);
	if (ret)
		errno = -ret;
	return found;
}

const char *config_kind_name(enum target_kind k)
{
	switch (k) {
	case TARGET_TCP:
		return "tcp";
	case TARGET_POSTGRES:
		return "postgres";
	case TARGET_KUBERNETES:
		return "kubernetes";
	}
	return "unknown";
}

const char *config_store_mode_name(enum store_mode_cfg m)
{
	switch (m) {
	case STORE_MODE_STRICT:
		return "strict";
	case STORE_MODE_SYNC:
		return "sync";
	case STORE_MODE_ASYNC:
		return "async";
	case STORE_MODE_OFF:
		return "off";
	}
	return "unknown";
}

const char *config_fail_mode_name(enum fail_mode m)
{
	switch (m) {
	case FAIL_CLOSED:
		return "closed";
	case FAIL_OPEN:
		return "open";
	}
	return "unknown";
}

void config_client_auth_text(unsigned bits, char *out, size_t outlen)
{
	static const char *const names[] = { "kernel", "jwt", "cert" };
	size_t off = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < 3; i++)
		if (bits & (1u << i) && off < outlen)
			off += snprintf(out + off, outlen - off, "%s%s", off ? "," : "",
					names[i]);
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_targets; i++) {
		struct cfg_target *t = &cfg->targets[i];

		free(t->name);
		free(t->match);
		for (size_t k = 0; k < t->n_certs; k++) {
			free(t->certs[k].cert);
			free(t->certs[k].key);
		}
		free(t->certs);
		free(t->upstream_ca);
		free(t->upstream_name);
		free(t->client_cert);
		free(t->client_key);
		free(t->cred_user);
		free(t->password_file);
		free(t->token_file);
	}
	for (size_t i = 0; i < cfg->identity.n_issuers; i++) {
		struct cfg_issuer *is = &cfg->identity.issuers[i];

		for (size_t k = 0; k < is->n_audiences; k++)
			free(is->audiences[k]);
		free(is->audiences);
		free(is->issuer);
		free(is->keys);
	}
	free(cfg->identity.issuers);
	free(cfg->identity.client_ca);
	for (size_t i = 0; i < cfg->n_pods; i++)
		pod_info_free(cfg->pods[i]);
	free(cfg->pods);
	for (size_t i = 0; i < cfg->n_exports; i++) {
		struct cfg_export *e = &cfg->exports[i];

		free(e->name);
		free(e->format);
		free(e->path);
		free(e->address);
		free(e->tls_ca);
		free(e->tls_name);
		if (e->token)
			memset(e->token, 0, strlen(e->token));
		free(e->token);
		free(e->token_file);
	}
	free(cfg->exports);
	free(cfg->pod_cache.server);
	free(cfg->pod_cache.ca);
	free(cfg->pod_cache.token_file);
	free(cfg->pod_cache.client_cert);
	free(cfg->pod_cache.client_key);
	free(cfg->pod_cache.node);
	free(cfg->policy_dir);
	free(cfg->store.path);
	free(cfg->store.seal_key);
	free(cfg->targets);
	free(cfg->source);
	free(cfg->cgroup);
	free(cfg->listen.ipv4);
	free(cfg->listen.ipv6);
	free(cfg->listen.node);
	free(cfg->control);
	free(cfg->log_level);
	free(cfg);
}
