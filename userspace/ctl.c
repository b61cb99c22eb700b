// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <jansson.h>

#include "approval.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "export/exporter.h"
#include "session.h"
#include "ctl.h"
#include "fs.h"
#include "log.h"
#include "pods.h"
#include "redirect.h"
#include "store.h"
#include "version.h"

#define CTL_REQ_MAX	65536
#define CTL_IO_MS	2000

struct ctl {
	struct ctl_view *v;
	int fd;
	volatile int stop;
	pthread_t th;
};

static json_t *targets_json(struct ctl_view *v)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < v->cfg->n_targets; i++) {
		const struct cfg_target *t = &v->cfg->targets[i];
		struct sluice_target_stats st = {};
		uint64_t active, total;
		json_t *match = json_array();

		for (size_t m = 0; m < t->n_match; m++)
			json_array_append_new(match, json_string(t->match[m].text));
		conn_counts(i, &active, &total);
		redirect_stats(v->rd, i, &st);
		json_array_append_new(arr, json_pack(
			"{s:s, s:s, s:o, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
			"name", t->name, "kind", config_kind_name(t->kind),
			"match", match, "upstream", t->upstream.text,
			"fail_mode", config_fail_mode_name(t->fail_mode),
			"active", (json_int_t)active, "total", (json_int_t)total,
			"redirected", (json_int_t)st.redirected,
			"bypassed", (json_int_t)st.bypassed,
			"refused", (json_int_t)st.refused,
			"events_lost", (json_int_t)st.events_lost));
	}
	return arr;
}

static json_t *status_json(struct ctl_view *v)
{
	const struct config *cfg = v->cfg;
	char started[40], l4[80] = "", l6[80] = "";
	json_t *listen = json_array();
	uint64_t active, total, lag_n = 0, lag_ms = 0;
	struct tm tm;

	gmtime_r(&v->started, &tm);
	strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (cfg->listen.ipv4) {
		snprintf(l4, sizeof(l4), "%s:%u", cfg->listen.ipv4, cfg->listen.port);
		json_array_append_new(listen, json_string(l4));
	}
	if (cfg->listen.ipv6) {
		snprintf(l6, sizeof(l6), "[%s]:%u", cfg->listen.ipv6, cfg->listen.port);
		json_array_append_new(listen, json_string(l6));
	}
	conn_counts(-1, &active, &total);
	if (v->st)
		store_lag(v->st, &lag_n, &lag_ms);
	return json_pack("{s:{s:i, s:s, s:s, s:I, s:s, s:s, s:o, s:i},"
			 " s:o, s:{s:I, s:I}, s:{s:I, s:I}, s:o, s:o, s:o}",
			 "daemon", "pid", (int)getpid(), "version", SLUICE_VERSION,
			 "started", started,
			 "uptime_s", (json_int_t)(time(NULL) - v->started),
			 "config", cfg->source, "cgroup", v->cgroup,
			 "listen", listen, "workers", v->workers,
			 "targets", targets_json(v),
			 "connections", "active", (json_int_t)active,
			 "total", (json_int_t)total,
			 "gaps", "bypassed",
			 (json_int_t)__atomic_load_n(&v->gaps_bypassed, __ATOMIC_RELAXED),
			 "refused",
			 (json_int_t)__atomic_load_n(&v->gaps_refused, __ATOMIC_RELAXED),
			 "store", v->st ? json_pack("{s:s, s:s, s:I}", "path", cfg->store.path,
				 "mode", config_store_mode_name(cfg->store.mode),
				 "disk_bytes", (json_int_t)store_disk_bytes(v->st)) :
				 json_pack("{s:s}", "mode", "off"),
			 "record_lag", v->st ? json_pack("{s:I, s:I}", "records", (json_int_t)lag_n,
				 "oldest_ms", (json_int_t)lag_ms) : json_null(),
			 "export_lag", exporter_lag(v->ex));
}

static json_t *policy_show(struct ctl_view *v)
{
	int enabled;
	struct policy *p = session_policy_get(&enabled);
	json_t *r = json_pack("{s:b, s:s?, s:o}", "enabled", enabled, "dir",
			      v->cfg->policy_dir, "policy", p ? policy_json(p) : json_null());

	policy_free(p);
	return r;
}

static json_t *policy_reload(struct ctl_view *v)
{
	char msg[512];

	if (session_policy_reload(v->cfg->policy_dir, msg, sizeof(msg)))
		return json_pack("{s:s}", "error", msg);
	return json_pack("{s:b, s:s}", "ok", 1, "message", msg);
}

/* The daemon's policy on an identity and a request given as JSON. */
static json_t *policy_test(const json_t *req)
{
	struct policy_identity *id = NULL;
	struct policy_request *rq = NULL;
	struct policy_decision d = { 0 };
	struct policy *p = NULL;
	json_t *r = NULL;
	char err[512];
	int enabled;

	id = policy_identity_from_json(json_object_get(req, "identity"), err, sizeof(err));
	if (id)
		rq = policy_request_from_json(json_object_get(req, "request"), err, sizeof(err));
	if (!id || !rq) {
		r = json_pack("{s:s+}", "error", id ? "request: " : "identity: ", err);
		goto out;
	}
	p = session_policy_get(&enabled);
	if (!enabled) {
		r = json_pack("{s:s, s:s}", "decision", "allow", "rule", "(no policy)");
		goto out;
	}
	policy_decide(p, id, rq, &d);
	r = policy_decision_json(&d, rq);
out:
	policy_decision_release(&d);
	policy_free(p);
	policy_identity_free(id);
	policy_request_free(rq);
	return r;
}

/* grant/deny: the deciding uid is the caller's, from SO_PEERCRED. */
static json_t *approval_cmd(struct ctl_view *v, const json_t *req, int grant, uint32_t uid)
{
	const char *id = json_string_value(json_object_get(req, "id"));
	json_t *fs = json_object_get(req, "for_s"), *out = NULL;
	json_int_t for_s = fs ? json_integer_value(fs) : 900;
	int err;

	if (!id)
		return json_pack("{s:s}", "error", "request has no \"id\" string");
	if (grant && (!json_is_integer(fs) && fs))
		return json_pack("{s:s}", "error", "\"for_s\" must be an integer");
	if (grant && (for_s < 1 || for_s > 30 * 86400))
		return json_pack("{s:s}", "error", "a grant lasts 1 second to 30 days");
	err = approval_decide(v->st, id, grant, uid, (uint64_t)for_s, clock_real_ns(), &out);
	if (err == -ENOENT)
		return json_pack("{s:s+}", "error", "no such approval: ", id);
	if (err)
		return json_pack("{s:s+}", "error", "approval not recorded: ", strerror(-err));
	log_info(grant ? "approval granted" : "approval denied", "{s:s, s:i, s:I}", "approval",
		 id, "uid", (int)uid, "for_s", (json_int_t)(grant ? for_s : 0));
	return json_pack("{s:o}", "approval", out);
}

static json_t *handle(struct ctl_view *v, const json_t *req, uint32_t uid)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));

	if (!cmd)
		return json_pack("{s:s}", "error", "request has no \"cmd\" string");
	if (!strcmp(cmd, "status"))
		return status_json(v);
	if (!strcmp(cmd, "export_status"))
		return exporter_status(v->ex);
	if (!strcmp(cmd, "target list"))
		return json_pack("{s:o}", "targets", targets_json(v));
	if (!strcmp(cmd, "pod list"))
		return json_pack("{s:o?}", "pods", v->pods ? pod_table_json(v->pods) : json_array());
	if (!strcmp(cmd, "conn list"))
		return json_pack("{s:o}", "connections",
				 conn_list_json(json_is_true(json_object_get(req, "all"))));
	if (!strcmp(cmd, "policy show"))
		return policy_show(v);
	if (!strcmp(cmd, "policy reload"))
		return policy_reload(v);
	if (!strcmp(cmd, "policy test"))
		return policy_test(req);
	if (!strcmp(cmd, "approval list"))
		return json_pack("{s:o}", "approvals", approval_list(v->st, clock_real_ns()));
	if (!strcmp(cmd, "approval grant") || !strcmp(cmd, "approval deny"))
		return approval_cmd(v, req, !strcmp(cmd, "approval grant"), uid);
	return json_pack("{s:s+}", "error", "unknown command: ", cmd);
}

/* Read one request line, bounded in size and time. */
static json_t *read_request(int fd, char *err, size_t errlen)
{
	char *buf = malloc(CTL_REQ_MAX + 1);
	size_t len = 0;
	json_error_t jerr;
	json_t *req = NULL;

	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	while (len < CTL_REQ_MAX) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, CTL_IO_MS) <= 0) {
			snprintf(err, errlen, "request timed out");
			goto out;
		}
		n = read(fd, buf + len, CTL_REQ_MAX - len);
		if (n <= 0)
			break;
		len += n;
		if (memchr(buf + len - n, '\n', n))
			break;
	}
	buf[len] = '\0';
	req = json_loadb(buf, strcspn(buf, "\n"), 0, &jerr);
	if (!req)
		snprintf(err, errlen, "bad request: %s", jerr.text);
out:
	free(buf);
	return req;
}

static void serve(struct ctl *c, int fd)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	char err[256] = "";
	json_t *req = NULL, *resp = NULL;
	char *text = NULL;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		resp = json_pack("{s:s}", "error", "permission denied: root only");
	} else {
		req = read_request(fd, err, sizeof(err));
		resp = req ? handle(c->v, req, cred.uid) : json_pack("{s:s}", "error", err);
	}
	text = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
	if (text) {
		size_t n = strlen(text), off = 0;

		text[n++] = '\n';
		while (off < n) {
			ssize_t w = send(fd, text + off, n - off, MSG_NOSIGNAL);

			if (w <= 0)
				break;
			off += w;
		}
	}
	free(text);
	json_decref(req);
	json_decref(resp);
	close(fd);
}

static void *ctl_main(void *arg)
{
	struct ctl *c = arg;

	while (!c->stop) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 200) <= 0)
			continue;
		fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		struct timeval tv = { .tv_sec = CTL_IO_MS / 1000 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		serve(c, fd);
	}
	return NULL;
}

struct ctl *ctl_start(struct ctl_view *view)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *path = view->cfg->control;
	struct ctl *c = calloc(1, sizeof(*c));
	int err = 0;

	if (!c)
		return NULL;
	c->v = view;
	c->fd = -1;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		err = -ENAMETOOLONG;
		goto out;
	}
	strcpy(sun.sun_path, path);
	err = fs_mkdir_parent(path);
	if (err)
		goto out;
	unlink(path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || bind(c->fd, (void *)&sun, sizeof(sun)) ||
	    chmod(path, 0600) || listen(c->fd, 64)) {
		err = -errno;
		goto out;
	}
	err = -pthread_create(&c->th, NULL, ctl_main, c);
out:
	if (err) {
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		errno = -err;
		return NULL;
	}
	return c;
}

void ctl_stop(struct ctl *c)
{
	if (!c)
		return;
	c->stop = 1;
	pthread_join(c->th, NULL);
	close(c->fd);
	unlink(c->v->cfg->control);
	free(c);
}
