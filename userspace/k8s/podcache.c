// SPDX-License-Identifier: BSD-2-Clause
/*
 * The pod cache: LIST + WATCH of this node's pods into the pod table, over
 * libcurl (TLS, HTTP/1.1 chunked streams, no proxy) and jansson.
 *
 * One thread, one curl handle (the watch reuses the list's connection).
 * The stream is newline-delimited JSON: the API server writes each watch
 * event as one object followed by "\n", so events are split on newlines
 * and each line is parsed on its own, with a bound on its length.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include "log.h"
#include "podcache.h"
#include "text.h"

/* The server ends each watch after this long; we then watch again from
 * the last resourceVersion (no list). Jittered so nodes spread out. */
#define WATCH_SECONDS 240
#define LIST_LIMIT 500
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 8000
#define CONNECT_MS 10000
#define LIST_TIMEOUT_MS 60000
#define TOKEN_MAX 16384
#define ERR_BODY_MAX 1024	/* what of an error answer goes into a log line */

#define MAX_LABELS 256
#define MAX_NAME 253		/* DNS subdomain: namespace, name, service account */
#define MAX_LABEL_KEY 317	/* 253 prefix + "/" + 63 name */
#define MAX_LABEL_VALUE 63

/* --- one pod -------------------------------------------------------------- */

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

/* A string member of at most max bytes, or NULL with the reason in err.
 * Empty strings count as absent. */
static const char *str_member(const json_t *obj, const char *key, size_t max,
			      bool required, char *err, size_t errlen, int *bad)
{
	json_t *v = json_object_get(obj, key);

	/* the first bad member is the one reported */
	if (!v || json_is_null(v) || (json_is_string(v) && !json_string_length(v))) {
		if (required && !*bad)
			set_err(err, errlen, "%s missing", key);
		*bad |= required;
		return NULL;
	}
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		if (!*bad)
			set_err(err, errlen, "%s: expected a string of at most %zu bytes", key, max);
		*bad = 1;
		return NULL;
	}
	return json_string_value(v);
}

static int dup_into(char **slot, const char *s)
{
	if (!s)
		return 0;
	*slot = strdup(s);
	return *slot ? 0 : -ENOMEM;
}

static int copy_labels(struct pod_info *p, const json_t *labels, char *err,
		       size_t errlen)
{
	const char *key;
	json_t *val;
	size_t n, i = 0;

	if (!labels || json_is_null(labels))
		return 0;
	if (!json_is_object(labels) || json_object_size(labels) > MAX_LABELS) {
		set_err(err, errlen, "metadata.labels: expected an object of at most %d strings",
			MAX_LABELS);
		return -EINVAL;
	}
	n = json_object_size(labels);
	p->label_keys = calloc(n + 1, sizeof(char *));
	p->label_values = calloc(n + 1, sizeof(char *));
	if (!p->label_keys || !p->label_values)
		return -ENOMEM;
	json_object_foreach((json_t *)labels, key, val) {
		if (!json_is_string(val) || strlen(key) > MAX_LABEL_KEY ||
		    json_string_length(val) > MAX_LABEL_VALUE ||
		    strlen(json_string_value(val)) != json_string_length(val)) {
			set_err(err, errlen, "metadata.labels: a label too long or not a string");
			return -EINVAL;
		}
		p->n_labels = i + 1;
		if (dup_into(&p->label_keys[i], key) ||
		    dup_into(&p->label_values[i], json_string_value(val)))
			return -ENOMEM;
		i++;
	}
	return 0;
}

static bool valid_uid(const char *s)
{
	char probe[POD_UID_LEN + 8], uid[POD_UID_LEN + 1], cid[POD_CONTAINER_LEN + 1];

	/* a UID the cgroup parser would find, and written with "-" */
	if (strlen(s) != POD_UID_LEN || strchr(s, '_'))
		return false;
	snprintf(probe, sizeof(probe), "/pod%s", s);
	return pods_parse_cgroup(probe, uid, cid) == 0;
}

struct pod_info *podcache_pod_from_json(const json_t *obj,
					char rv[PODCACHE_RV_LEN + 1],
					char *err, size_t errlen)
{
	const char *uid, *ns, *name, *sa = NULL, *ver;
	json_t *meta, *spec;
	struct pod_info *p = NULL;
	int bad = 0, ret = -EINVAL;

	if (rv)
		rv[0] = '\0';
	meta = json_object_get(obj, "metadata");
	spec = json_object_get(obj, "spec");
	if (!json_is_object(obj) || !json_is_object(meta)) {
		set_err(err, errlen, "not an object with metadata");
		goto out;
	}
	uid = str_member(meta, "uid", POD_UID_LEN, true, err, errlen, &bad);
	ns = str_member(meta, "namespace", MAX_NAME, true, err, errlen, &bad);
	name = str_member(meta, "name", MAX_NAME, true, err, errlen, &bad);
	ver = str_member(meta, "resourceVersion", PODCACHE_RV_LEN, false, err, errlen, &bad);
	if (json_is_object(spec)) {
		sa = str_member(spec, "serviceAccountName", MAX_NAME, false, err, errlen, &bad);
		/* the deprecated twin, for objects written by old clients */
		if (!sa && !bad)
			sa = str_member(spec, "serviceAccount", MAX_NAME, false, err, errlen, &bad);
	}
	if (bad)
		goto out;
	if (!valid_uid(uid)) {
		set_err(err, errlen, "metadata.uid is not a pod UID");
		goto out;
	}
	if (rv && ver)
		snprintf(rv, PODCACHE_RV_LEN + 1, "%s", ver);
	ret = -ENOMEM;
	p = calloc(1, sizeof(*p));
	if (!p || dup_into(&p->uid, uid) || dup_into(&p->ns, ns) ||
	    dup_into(&p->name, name) || dup_into(&p->service_account, sa) ||
	    dup_into(&p->source, "api"))
		goto out;
	ret = copy_labels(p, json_object_get(meta, "labels"), err, errlen);
out:
	if (ret) {
		if (ret == -ENOMEM)
			set_err(err, errlen, "out of memory");
		pod_info_free(p);
		errno = -ret;
		return NULL;
	}
	return p;
}

/* --- watch events and list pages ---------------------------------------- */

void podcache_event_clear(struct podcache_event *ev)
{
	if (!ev)
		return;
	pod_info_free(ev->pod);
	memset(ev, 0, sizeof(*ev));
}

int podcache_parse_event(const char *line, size_t len,
			 struct podcache_event *ev, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *obj, *kind;
	const char *type;
	char why[256];
	int ret = -EINVAL;

	memset(ev, 0, sizeof(*ev));
	if (len > PODCACHE_MAX_LINE) {
		set_err(err, errlen, "event longer than %u bytes", PODCACHE_MAX_LINE);
		return -EINVAL;
	}
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		set_err(err, errlen, "not JSON: %s (column %d)", jerr.text, jerr.column);
		return -EINVAL;
	}
	type = json_string_value(json_object_get(root, "type"));
	obj = json_object_get(root, "object");
	if (!type || !json_is_object(obj)) {
		set_err(err, errlen, "not a watch event (type, object)");
		goto out;
	}
	if (!strcmp(type, "ERROR")) {
		json_t *code = json_object_get(obj, "code");

		ev->code = json_is_integer(code) &&
			json_integer_value(code) > 0 && json_integer_value(code) < 1000 ?
			(int)json_integer_value(code) : 0;
		ev->action = ev->code == 410 ? PODCACHE_RELIST : PODCACHE_FAILED;
		ret = 0;
		goto out;
	}
	kind = json_object_get(obj, "kind");
	if (kind && (!json_is_string(kind) || strcmp(json_string_value(kind), "Pod"))) {
		set_err(err, errlen, "object is not a Pod");
		goto out;
	}
	if (!strcmp(type, "BOOKMARK")) {
		/* a bookmark carries only metadata.resourceVersion */
		const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"),
								   "resourceVersion"));

		if (!rv || strlen(rv) > PODCACHE_RV_LEN) {
			set_err(err, errlen, "bookmark without a usable resourceVersion");
			goto out;
		}
		snprintf(ev->rv, sizeof(ev->rv), "%s", rv);
		ev->action = PODCACHE_BOOKMARK;
		ret = 0;
		goto out;
	}
	if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED"))
		ev->action = PODCACHE_PUT;
	else if (!strcmp(type, "DELETED"))
		ev->action = PODCACHE_DEL;
	else {
		text_sanitize(why, 64, type, true);
		set_err(err, errlen, "unknown event type \"%s\"", why);
		goto out;
	}
	ev->pod = podcache_pod_from_json(obj, ev->rv, why, sizeof(why));
	if (!ev->pod) {
		ret = -errno;
		set_err(err, errlen, "%s %s", type, why);
		goto out;
	}
	ret = 0;
out:
	json_decref(root);
	if (ret)
		podcache_event_clear(ev);
	return ret;
}

int podcache_parse_list(const char *body, size_t len, struct pod_info ***pods,
			size_t *n, char rv[PODCACHE_RV_LEN + 1], char **cont,
			char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *meta, *items, *it;
	const char *s;
	char why[256];
	size_t i;
	int ret = -EINVAL;

	rv[0] = '\0';
	*cont = NULL;
	if (len > PODCACHE_MAX_LIST) {
		set_err(err, errlen, "list longer than %u bytes", PODCACHE_MAX_LIST);
		return -EINVAL;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		set_err(err, errlen, "not JSON: %s (line %d, column %d)", jerr.text,
			jerr.line, jerr.column);
		return -EINVAL;
	}
	meta = json_object_get(root, "metadata");
	items = json_object_get(root, "items");
	s = json_string_value(json_object_get(root, "kind"));
	if (!json_is_object(meta) || (!json_is_array(items) && !json_is_null(items)) ||
	    (s && strcmp(s, "PodList"))) {
		set_err(err, errlen, "not a PodList");
		goto out;
	}
	s = json_string_value(json_object_get(meta, "resourceVersion"));
	if (!s || !s[0] || strlen(s) > PODCACHE_RV_LEN) {
		set_err(err, errlen, "PodList without a usable resourceVersion");
		goto out;
	}
	snprintf(rv, PODCACHE_RV_LEN + 1, "%s", s);
	if (*n + json_array_size(items) > PODCACHE_MAX_PODS) {
		set_err(err, errlen, "more than %d pods", PODCACHE_MAX_PODS);
		ret = -E2BIG;
		goto out;
	}
	if (json_array_size(items)) {
		struct pod_info **grown = realloc(*pods, (*n + json_array_size(items)) *
						  sizeof(**pods));

		if (!grown) {
			ret = -ENOMEM;
			goto out;
		}
		*pods = grown;
	}
	json_array_foreach(items, i, it) {
		struct pod_info *p = podcache_pod_from_json(it, NULL, why, sizeof(why));

		if (!p && errno == ENOMEM) {
			ret = -ENOMEM;
			goto out;
		}
		if (!p) {
			log_warn("pod cache: list item skipped", "{s:i, s:s}", "item", (int)i,
				 "error", why);
			continue;
		}
		(*pods)[(*n)++] = p;
	}
	s = json_string_value(json_object_get(meta, "continue"));
	if (s && s[0]) {
		*cont = strndup(s, 4096);
		if (!*cont) {
			ret = -ENOMEM;
			goto out;
		}
	}
	ret = 0;
out:
	if (ret == -ENOMEM)
		set_err(err, errlen, "out of memory");
	json_decref(root);
	return ret;
}

/* --- what the cache has put in the table -------------------------------- */

/* A sorted array of UIDs: small (one node's pods), binary-searched. */
struct podcache_set {
	char (*uid)[POD_UID_LEN + 1];
	size_t n, cap;
};

struct podcache_set *podcache_set_new(void)
{
	return calloc(1, sizeof(struct podcache_set));
}

void podcache_set_free(struct podcache_set *s)
{
	if (!s)
		return;
	free(s->uid);
	free(s);
}

size_t podcache_set_count(const struct podcache_set *s)
{
	return s->n;
}

/* The index of uid, or where it would go (and *found false). */
static size_t set_find(const struct podcache_set *s, const char *uid, bool *found)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->uid[mid], uid);

		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static int set_add(struct podcache_set *s, const char *uid)
{
	bool found;
	size_t at = set_find(s, uid, &found);

	if (found)
		return 0;
	if (s->n == PODCACHE_MAX_PODS)
		return -E2BIG;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		void *grown = realloc(s->uid, cap * sizeof(*s->uid));

		if (!grown)
			return -ENOMEM;
		s->uid = grown;
		s->cap = cap;
	}
	memmove(&s->uid[at + 1], &s->uid[at], (s->n - at) * sizeof(*s->uid));
	snprintf(s->uid[at], sizeof(s->uid[at]), "%s", uid);
	s->n++;
	return 0;
}

static void set_remove(struct podcache_set *s, const char *uid)
{
	bool found;
	size_t at = set_find(s, uid, &found);

	if (!found)
		return;
	memmove(&s->uid[at], &s->uid[at + 1], (s->n - at - 1) * sizeof(*s->uid));
	s->n--;
}

int podcache_apply_list(struct podcache_set *s, struct pod_table *t,
			struct pod_info *const *pods, size_t n)
{
	struct podcache_set fresh = { 0 };
	bool found;
	int err = 0;

	for (size_t i = 0; i < n && !err; i++)
		err = set_add(&fresh, pods[i]->uid);
	if (err)
		goto out;
	/* gone while nobody watched */
	for (size_t i = 0; i < s->n; i++) {
		set_find(&fresh, s->uid[i], &found);
		if (!found)
			pod_table_del(t, s->uid[i]);
	}
	for (size_t i = 0; i < n && !err; i++)
		err = pod_table_put(t, pods[i]);
	free(s->uid);
	*s = fresh;
	fresh.uid = NULL;
out:
	free(fresh.uid);
	return err;
}

int podcache_apply_event(struct podcache_set *s, struct pod_table *t,
			 const struct podcache_event *ev)
{
	int err;

	if (!ev->pod)
		return 0;
	if (ev->action == PODCACHE_DEL) {
		pod_table_del(t, ev->pod->uid);
		set_remove(s, ev->pod->uid);
		return 0;
	}
	if (ev->action != PODCACHE_PUT)
		return 0;
	err = set_add(s, ev->pod->uid);
	if (!err)
		err = pod_table_put(t, ev->pod);
	return err;
}

/* --- the thread ----------------------------------------------------------- */

struct podcache {
	const struct config *cfg;
	struct pod_table *table;
	struct podcache_set *set;
	char node[MAX_NAME + 1];
	char rv[PODCACHE_RV_LEN + 1];
	CURL *curl;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_int stop;
	unsigned backoff_ms;
	unsigned seed;
};

static struct podcache *g_pc;

/* A response body being received: the whole of it (list), or line by
 * line (watch), never more than `max` bytes at once. */
struct rx {
	struct podcache *pc;
	char *buf;
	size_t len, cap, max;
	bool watch;
	bool overflow;
	bool relist;		/* an ERROR 410 event, or a failure that needs it */
	bool status_ok;		/* HTTP 200, known once the first bytes arrive */
	long status;
	unsigned events;
};

static int rx_reserve(struct rx *r, size_t more)
{
	size_t cap;
	char *grown;

	if (r->len + more <= r->cap)
		return 0;
	if (r->len + more > r->max)
		return -E2BIG;
	cap = r->cap ? r->cap : 65536;
	while (cap < r->len + more)
		cap *= 2;
	if (cap > r->max)
		cap = r->max;
	grown = realloc(r->buf, cap);
	if (!grown)
		return -ENOMEM;
	r->buf = grown;
	r->cap = cap;
	return 0;
}

static void handle_line(struct rx *r, const char *line, size_t len)
{
	struct podcache *pc = r->pc;
	struct podcache_event ev;
	char err[256];
	int rc;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (!len)
		return;
	rc = podcache_parse_event(line, len, &ev, err, sizeof(err));
	if (rc) {
		log_warn("pod cache: watch event skipped", "{s:s}", "error", err);
		return;
	}
	if (ev.action != PODCACHE_RELIST && ev.action != PODCACHE_FAILED)
		r->events++;
	switch (ev.action) {
	case PODCACHE_PUT:
	case PODCACHE_DEL:
		rc = podcache_apply_event(pc->set, pc->table, &ev);
		if (rc)
			log_warn("pod cache: event not applied", "{s:s, s:s}", "uid",
				 ev.pod->uid, "error", strerror(-rc));
		else
			log_debug("pod cache: event", "{s:s, s:s, s:s, s:s}", "action",
				  ev.action == PODCACHE_PUT ? "put" : "delete", "uid",
				  ev.pod->uid, "namespace", ev.pod->ns, "name", ev.pod->name);
		break;
	case PODCACHE_BOOKMARK:
		break;
	case PODCACHE_RELIST:
		log_info("pod cache: resourceVersion too old (410 Gone), listing again",
			 "{s:s}", "resource_version", pc->rv);
		r->relist = true;
		break;
	case PODCACHE_FAILED:
		log_warn("pod cache: watch error event", "{s:i}", "code", ev.code);
		r->relist = true;
		break;
	}
	if (ev.rv[0] && ev.action != PODCACHE_RELIST && ev.action != PODCACHE_FAILED)
		memcpy(pc->rv, ev.rv, sizeof(pc->rv));
	podcache_event_clear(&ev);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct rx *r = arg;
	size_t n = size * nmemb, used = 0;

	if (!r->status) {
		curl_easy_getinfo(r->pc->curl, CURLINFO_RESPONSE_CODE, &r->status);
		r->status_ok = r->status == 200;
	}
	/* an error answer is kept (cut short) for the log line only */
	if (!r->status_ok) {
		size_t room = r->len < ERR_BODY_MAX ? ERR_BODY_MAX - r->len : 0;
		size_t take = n < room ? n : room;

		if (take && !rx_reserve(r, take + 1)) {
			memcpy(r->buf + r->len, data, take);
			r->len += take;
		}
		return n;
	}
	if (!r->watch) {
		if (rx_reserve(r, n)) {
			r->overflow = true;
			return 0;	/* abort: CURLE_WRITE_ERROR */
		}
		memcpy(r->buf + r->len, data, n);
		r->len += n;
		return n;
	}
	while (used < n && !r->relist) {
		const char *nl = memchr(data + used, '\n', n - used);
		size_t chunk = (nl ? (size_t)(nl - data) + 1 : n) - used;

		if (rx_reserve(r, chunk)) {
			r->overflow = true;
			return 0;
		}
		memcpy(r->buf + r->len, data + used, chunk);
		r->len += chunk;
		used += chunk;
		if (nl) {
			handle_line(r, r->buf, r->len - 1);
			r->len = 0;
		}
	}
	/* a 410 ends this watch: the list starts over */
	return r->relist ? 0 : n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		       curl_off_t un)
{
	struct podcache *pc = arg;

	(void)dt, (void)dn, (void)ut, (void)un;
	return atomic_load(&pc->stop) ? 1 : 0;
}

/* The token file, trimmed; refused when it could break the header. */
static int read_token(const char *path, char *out, size_t outlen)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	n = fread(out, 1, outlen - 1, f);
	fclose(f);
	if (n == outlen - 1)
		return -EFBIG;
	out[n] = '\0';
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ' ||
		     out[n - 1] == '\t'))
		out[--n] = '\0';
	if (!n)
		return -ENODATA;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] <= ' ' || (unsigned char)out[i] >= 0x7f)
			return -EINVAL;
	return 0;
}

/* The URL of a list page (cont) or of a watch (watch), malloc'd. */
static char *pods_url(struct podcache *pc, const char *cont, bool watch)
{
	char sel[MAX_NAME + 32], *esel, *econt = NULL, *url = NULL;
	size_t len;

	snprintf(sel, sizeof(sel), "spec.nodeName=%s", pc->node);
	esel = curl_easy_escape(pc->curl, sel, 0);
	if (cont)
		econt = curl_easy_escape(pc->curl, cont, 0);
	if (!esel || (cont && !econt))
		goto out;
	len = strlen(pc->cfg->pod_cache.server) + strlen(esel) +
	      (econt ? strlen(econt) : 0) + PODCACHE_RV_LEN + 192;
	url = malloc(len);
	if (!url)
		goto out;
	if (watch)
		snprintf(url, len,
			 "%s/api/v1/pods?fieldSelector=%s&watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%u",
			 pc->cfg->pod_cache.server, esel, pc->rv,
			 WATCH_SECONDS + (unsigned)(rand_r(&pc->seed) % 60));
	else
		snprintf(url, len, "%s/api/v1/pods?fieldSelector=%s&limit=%d%s%s",
			 pc->cfg->pod_cache.server, esel, LIST_LIMIT,
			 econt ? "&continue=" : "", econt ? econt : "");
out:
	curl_free(esel);
	curl_free(econt);
	return url;
}

/*
 * One GET into r. Returns 0 when the transfer completed with HTTP 200 (or
 * a watch asked for a new list: r->relist), -ECONNRESET for a transport
 * failure, -ESTALE for HTTP 410, -EPROTO for another status, -E2BIG for
 * an answer over its bound (all logged), -ECANCELED when stopping, or
 * -errno when the token file cannot be used.
 */
static int get(struct podcache *pc, const char *url, struct rx *r, long timeout_ms)
{
	const struct config *cfg = pc->cfg;
	struct curl_slist *hdrs = NULL;
	char token[TOKEN_MAX], *auth = NULL;
	CURLcode cc;
	int err = 0;

	if (cfg->pod_cache.token_file) {
		err = read_token(cfg->pod_cache.token_file, token, sizeof(token));
		if (err) {
			log_warn("pod cache: cannot read the token file", "{s:s, s:s}", "path",
				 cfg->pod_cache.token_file, "error", strerror(-err));
			return err;
		}
		if (asprintf(&auth, "Authorization: Bearer %s", token) < 0)
			return -ENOMEM;
		explicit_bzero(token, sizeof(token));
		hdrs = curl_slist_append(hdrs, auth);
	}
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "User-Agent: sluiced-podcache");
	if (!hdrs) {
		err = -ENOMEM;
		goto out;
	}
	curl_easy_reset(pc->curl);
	curl_easy_setopt(pc->curl, CURLOPT_URL, url);
	curl_easy_setopt(pc->curl, CURLOPT_PROTOCOLS_STR, "https");
	/* straight to the API server: no proxy from the environment sees
	 * the token */
	curl_easy_setopt(pc->curl, CURLOPT_PROXY, "");
	curl_easy_setopt(pc->curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(pc->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(pc->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(pc->curl, CURLOPT_CAINFO, cfg->pod_cache.ca);
	curl_easy_setopt(pc->curl, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(pc->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(pc->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->pod_cache.client_cert) {
		curl_easy_setopt(pc->curl, CURLOPT_SSLCERT, cfg->pod_cache.client_cert);
		curl_easy_setopt(pc->curl, CURLOPT_SSLKEY, cfg->pod_cache.client_key);
	}
	curl_easy_setopt(pc->curl, CURLOPT_ACCEPT_ENCODING, "gzip");
	curl_easy_setopt(pc->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_MS);
	curl_easy_setopt(pc->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(pc->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(pc->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(pc->curl, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(pc->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(pc->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(pc->curl, CURLOPT_XFERINFODATA, pc);
	cc = curl_easy_perform(pc->curl);
	if (!r->status)
		curl_easy_getinfo(pc->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (atomic_load(&pc->stop)) {
		err = -ECANCELED;
	} else if (r->relist) {
		err = 0;	/* the caller lists again */
	} else if (r->overflow) {
		log_warn("pod cache: answer too large, dropped", "{s:s, s:i}", "what",
			 r->watch ? "watch event" : "list page",
			 (int)(r->watch ? PODCACHE_MAX_LINE : PODCACHE_MAX_LIST));
		err = -E2BIG;
	} else if (r->status && r->status != 200) {
		char body[ERR_BODY_MAX + 1];

		snprintf(body, sizeof(body), "%.*s", (int)r->len, r->buf ? r->buf : "");
		log_warn("pod cache: API server refused", "{s:s, s:i, s:s}", "server",
			 cfg->pod_cache.server, "status", (int)r->status, "body", body);
		err = r->status == 410 ? -ESTALE : -EPROTO;
	} else if (cc != CURLE_OK && !(r->watch && cc == CURLE_OPERATION_TIMEDOUT)) {
		log_warn("pod cache: cannot reach the API server", "{s:s, s:s}", "server",
			 cfg->pod_cache.server, "error", curl_easy_strerror(cc));
		err = -ECONNRESET;
	}
out:
	curl_slist_free_all(hdrs);
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	return err;
}

/* Every page of the node's pods, then the table made equal to them. */
static int list_pods(struct podcache *pc)
{
	struct pod_info **pods = NULL;
	size_t n = 0;
	char *cont = NULL, err[256];
	int rc = 0, pages = 0;

	do {
		struct rx r = { .pc = pc, .max = PODCACHE_MAX_LIST };
		char *url = pods_url(pc, cont, false);

		free(cont);
		cont = NULL;
		if (!url) {
			rc = -ENOMEM;
			break;
		}
		rc = get(pc, url, &r, LIST_TIMEOUT_MS);
		free(url);
		if (!rc) {
			rc = podcache_parse_list(r.buf, r.len, &pods, &n, pc->rv, &cont, err,
						 sizeof(err));
			if (rc)
				log_warn("pod cache: bad list answer", "{s:s}", "error", err);
		}
		free(r.buf);
		pages++;
	} while (!rc && cont);
	free(cont);
	if (!rc) {
		rc = podcache_apply_list(pc->set, pc->table, pods, n);
		log_info("pod cache: listed", "{s:s, s:i, s:i, s:s, s:i}", "node", pc->node,
			 "pods", (int)n, "pages", pages, "resource_version", pc->rv,
			 "table", (int)pod_table_count(pc->table));
	}
	for (size_t i = 0; i < n; i++)
		pod_info_free(pods[i]);
	free(pods);
	return rc;
}

/* One watch, until the server ends it, it fails or a relist is due.
 * Returns 0 (watch again from pc->rv), -ESTALE (list again) or -errno. */
static int watch_pods(struct podcache *pc)
{
	struct rx r = { .pc = pc, .max = PODCACHE_MAX_LINE, .watch = true };
	char *url = pods_url(pc, NULL, true);
	time_t started;
	int rc;

	if (!url)
		return -ENOMEM;
	log_info("pod cache: watching", "{s:s, s:s}", "node", pc->node,
		 "resource_version", pc->rv);
	started = time(NULL);
	rc = get(pc, url, &r, (WATCH_SECONDS + 120) * 1000L);
	free(url);
	free(r.buf);
	if (!rc && r.relist)
		rc = -ESTALE;
	/* the backoff starts over once a watch has worked for a while */
	if (!rc && (r.events || time(NULL) - started >= 30))
		pc->backoff_ms = 0;
	/* a server that ends watches at once must not make us spin */
	if (!rc && !r.events && time(NULL) - started < 2)
		rc = -ECONNRESET;
	return rc;
}

/* Sleep with exponential backoff (jittered), or less when stopping. */
static void backoff(struct podcache *pc)
{
	struct timespec ts;
	unsigned ms;

	pc->backoff_ms = pc->backoff_ms ? pc->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (pc->backoff_ms > BACKOFF_MAX_MS)
		pc->backoff_ms = BACKOFF_MAX_MS;
	ms = pc->backoff_ms / 2 + (unsigned)(rand_r(&pc->seed) % (pc->backoff_ms / 2 + 1));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&pc->mu);
	while (!atomic_load(&pc->stop) &&
	       pthread_cond_timedwait(&pc->cv, &pc->mu, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&pc->mu);
}

static void *podcache_main(void *arg)
{
	struct podcache *pc = arg;
	bool listed = false;
	int rc;

	while (!atomic_load(&pc->stop)) {
		if (!listed) {
			rc = list_pods(pc);
			if (rc) {
				if (rc != -ECANCELED)
					backoff(pc);
				continue;
			}
			listed = true;
		}
		rc = watch_pods(pc);
		if (rc == -ECANCELED)
			break;
		if (rc == 0)
			continue;	/* the server ended the watch: again from rv */
		/* a transport failure resumes from rv (a 410 then says when
		 * that is too old); anything else lists again */
		if (rc != -ECONNRESET)
			listed = false;
		/* also after a 410: a server answering every watch with one
		 * must not keep us listing in a loop */
		backoff(pc);
	}
	return NULL;
}

static int node_name(const struct config *cfg, char out[MAX_NAME + 1])
{
	const char *env = getenv("NODE_NAME");
	char host[HOST_NAME_MAX + 1];

	if (cfg->pod_cache.node) {
		snprintf(out, MAX_NAME + 1, "%s", cfg->pod_cache.node);
	} else if (env && env[0] && strlen(env) <= MAX_NAME) {
		snprintf(out, MAX_NAME + 1, "%s", env);
	} else {
		if (gethostname(host, sizeof(host)))
			return -errno;
		host[HOST_NAME_MAX] = '\0';
		/* the kubelet's default node name: the host name, lower case */
		for (char *p = host; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		snprintf(out, MAX_NAME + 1, "%s", host);
	}
	return out[0] ? 0 : -EINVAL;
}

static void podcache_free(struct podcache *pc)
{
	if (!pc)
		return;
	curl_easy_cleanup(pc->curl);
	podcache_set_free(pc->set);
	pthread_cond_destroy(&pc->cv);
	pthread_mutex_destroy(&pc->mu);
	free(pc);
}

int podcache_start(const struct config *cfg, struct pod_table *table)
{
	pthread_condattr_t ca;
	struct podcache *pc;
	int err;

	if (!cfg->pod_cache.server)
		return 0;
	if (g_pc)
		return -EALREADY;
	/* before any thread: curl's global state is not thread-safe to set up */
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -EIO;
	pc = calloc(1, sizeof(*pc));
	if (!pc)
		return -ENOMEM;
	pc->cfg = cfg;
	pc->table = table;
	pc->seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pc->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&pc->mu, NULL);
	err = node_name(cfg, pc->node);
	if (err) {
		log_error("pod cache: no node name (pod_cache.node, $NODE_NAME, host name)", NULL);
		goto out;
	}
	pc->set = podcache_set_new();
	pc->curl = curl_easy_init();
	if (!pc->set || !pc->curl) {
		err = -ENOMEM;
		goto out;
	}
	err = -pthread_create(&pc->th, NULL, podcache_main, pc);
	if (err)
		goto out;
	log_info("pod cache: started", "{s:s, s:s, s:s}", "server", cfg->pod_cache.server,
		 "node", pc->node, "auth", cfg->pod_cache.token_file ? "token" : "client certificate");
	g_pc = pc;
	pc = NULL;
out:
	podcache_free(pc);
	return err;
}

void podcache_stop(void)
{
	struct podcache *pc = g_pc;

	if (!pc)
		return;
	pthread_mutex_lock(&pc->mu);
	atomic_store(&pc->stop, 1);
	pthread_cond_broadcast(&pc->cv);
	pthread_mutex_unlock(&pc->mu);
	pthread_join(pc->th, NULL);
	g_pc = NULL;
	podcache_free(pc);
}
