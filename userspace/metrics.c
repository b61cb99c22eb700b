// SPDX-License-Identifier: BSD-2-Clause
/*
 * A scrape is rare and small: the page is built in memory (an
 * open_memstream) and sent whole. A request is read with a size and time
 * bound; anything but "GET /metrics" gets its HTTP error and the thread
 * goes on.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <jansson.h>

#include "addr.h"
#include "config.h"
#include "conn.h"
#include "ctl.h"
#include "export/exporter.h"
#include "log.h"
#include "metrics.h"
#include "pods.h"
#include "redirect.h"
#include "session.h"
#include "store.h"

#define REQ_MAX	4096
#define IO_MS	2000

struct metrics {
	struct ctl_view *v;
	int fd;
	volatile int stop;
	pthread_t th;
};

/* A label value as the exposition format quotes it. */
static void label(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void per_target(FILE *f, struct ctl_view *v)
{
	static const struct {
		const char *name, *help;
	} fam[] = {
		{ "sluice_connections_active", "Connections being proxied now." },
		{ "sluice_connections_total", "Connections accepted since start." },
		{ "sluice_bpf_redirected_total", "Connects redirected to the proxy (pinned counters)." },
		{ "sluice_bpf_bypassed_total", "Connects let through unrecorded while the daemon was away (fail_mode open)." },
		{ "sluice_bpf_refused_total", "Connects refused while the daemon was away (fail_mode closed)." },
	};
	const struct config *cfg = v->cfg;

	for (size_t k = 0; k < sizeof(fam) / sizeof(fam[0]); k++) {
		family(f, fam[k].name, k == 0 ? "gauge" : "counter", fam[k].help);
		for (size_t i = 0; i < cfg->n_targets; i++) {
			struct sluice_target_stats st = { 0 };
			uint64_t active, total, val;

			conn_counts(i, &active, &total);
			redirect_stats(v->rd, i, &st);
			val = k == 0 ? active : k == 1 ? total : k == 2 ? st.redirected :
			      k == 3 ? st.bypassed : st.refused;
			fprintf(f, "%s{target=\"", fam[k].name);
			label(f, cfg->targets[i].name);
			fprintf(f, "\"} %llu\n", (unsigned long long)val);
		}
	}
}

static void exports(FILE *f, struct ctl_view *v)
{
	json_t *st = v->ex ? exporter_status(v->ex) : NULL, *s;
	size_t i;

	if (!st)
		return;
	family(f, "sluice_export_lag_events", "gauge", "Feed entries a sink has not taken yet.");
	json_array_foreach(json_object_get(st, "sinks"), i, s) {
		fputs("sluice_export_lag_events{sink=\"", f);
		label(f, json_string_value(json_object_get(s, "name")));
		fprintf(f, "\"} %lld\n", (long long)json_integer_value(json_object_get(s, "lag_events")));
	}
	family(f, "sluice_export_lag_seconds", "gauge", "Age of the oldest entry a sink has not taken.");
	json_array_foreach(json_object_get(st, "sinks"), i, s) {
		fputs("sluice_export_lag_seconds{sink=\"", f);
		label(f, json_string_value(json_object_get(s, "name")));
		fprintf(f, "\"} %.3f\n", json_integer_value(json_object_get(s, "lag_ms")) / 1000.0);
	}
	family(f, "sluice_export_failing", "gauge", "1 while a sink's last delivery failed.");
	json_array_foreach(json_object_get(st, "sinks"), i, s) {
		fputs("sluice_export_failing{sink=\"", f);
		label(f, json_string_value(json_object_get(s, "name")));
		fprintf(f, "\"} %d\n", json_is_true(json_object_get(s, "failing")));
	}
	family(f, "sluice_retention_held_sessions", "gauge",
	       "Sessions past retention kept because a sink has not exported them.");
	fprintf(f, "sluice_retention_held_sessions %lld\n",
		(long long)json_integer_value(json_object_get(st, "retention_held")));
	json_decref(st);
}

/* The whole page; caller frees. */
static char *page(struct ctl_view *v, size_t *len)
{
	static const char *const actions[] = { "allow", "review", "deny" };
	uint64_t dec[3], lag_n = 0, lag_ms = 0;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	family(f, "sluice_up", "gauge", "1: the daemon answers.");
	fputs("sluice_up 1\n", f);
	per_target(f, v);
	family(f, "sluice_gaps_total", "counter",
	       "Kernel events of connects made while no daemon proxied them.");
	fprintf(f, "sluice_gaps_total{kind=\"bypassed\"} %llu\nsluice_gaps_total{kind=\"refused\"} %llu\n",
		(unsigned long long)__atomic_load_n(&v->gaps_bypassed, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&v->gaps_refused, __ATOMIC_RELAXED));
	session_decision_counts(dec);
	family(f, "sluice_decisions_total", "counter", "Policy decisions by the action taken.");
	for (int i = 0; i < 3; i++)
		fprintf(f, "sluice_decisions_total{action=\"%s\"} %llu\n", actions[i],
			(unsigned long long)dec[i]);
	if (v->st) {
		store_lag(v->st, &lag_n, &lag_ms);
		family(f, "sluice_record_lag_records", "gauge", "Records queued, not yet written.");
		fprintf(f, "sluice_record_lag_records %llu\n", (unsigned long long)lag_n);
		family(f, "sluice_record_lag_seconds", "gauge", "Age of the oldest queued record.");
		fprintf(f, "sluice_record_lag_seconds %.3f\n", lag_ms / 1000.0);
		family(f, "sluice_store_disk_bytes", "gauge", "The recording store on disk (SST + WAL).");
		fprintf(f, "sluice_store_disk_bytes %llu\n",
			(unsigned long long)store_disk_bytes(v->st));
	}
	exports(f, v);
	if (v->pods) {
		family(f, "sluice_pods", "gauge", "Pods the daemon can name (static map and pod cache).");
		fprintf(f, "sluice_pods %zu\n", pod_table_count(v->pods));
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		p += w;
		n -= w;
	}
}

static void reply(int fd, const char *status, const char *type, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, type, len);

	send_all(fd, head, n);
	send_all(fd, body, len);
}

/* Read the request head (bounded), answer, close. */
static void serve(struct metrics *m, int fd)
{
	char req[REQ_MAX + 1], *body;
	size_t len = 0, n;

	while (len < REQ_MAX && !memmem(req, len, "\r\n\r\n", 4)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, IO_MS) <= 0)
			break;
		r = recv(fd, req + len, REQ_MAX - len, 0);
		if (r <= 0)
			break;
		len += r;
	}
	req[len] = '\0';
	if (!memmem(req, len, "\r\n\r\n", 4) && !memmem(req, len, "\n\n", 2)) {
		static const char bad[] = "bad request: an HTTP request head within 4 KiB and 2 s\n";

		reply(fd, len >= REQ_MAX ? "431 Request Header Fields Too Large" : "400 Bad Request",
		      "text/plain", bad, sizeof(bad) - 1);
	} else if (!strstr(req, " HTTP/1.") || strstr(req, " HTTP/1.") > strchr(req, '\n')) {
		static const char bad[] = "bad request: not an HTTP/1.x request line\n";

		reply(fd, "400 Bad Request", "text/plain", bad, sizeof(bad) - 1);
	} else if (strncmp(req, "GET ", 4)) {
		static const char bad[] = "only GET /metrics\n";

		reply(fd, "405 Method Not Allowed", "text/plain", bad, sizeof(bad) - 1);
	} else if (strncmp(req + 4, "/metrics ", 9) && strncmp(req + 4, "/metrics? ", 10)) {
		static const char none[] = "not found: the metrics are at /metrics\n";

		reply(fd, "404 Not Found", "text/plain", none, sizeof(none) - 1);
	} else if ((body = page(m->v, &n))) {
		reply(fd, "200 OK", "text/plain; version=0.0.4", body, n);
		free(body);
	} else {
		static const char oom[] = "out of memory\n";

		reply(fd, "500 Internal Server Error", "text/plain", oom, sizeof(oom) - 1);
	}
	close(fd);
}

static void *metrics_main(void *arg)
{
	struct metrics *m = arg;

	while (!m->stop) {
		struct pollfd p = { .fd = m->fd, .events = POLLIN };
		struct timeval tv = { .tv_sec = IO_MS / 1000 };
		int fd;

		if (poll(&p, 1, 200) <= 0)
			continue;
		fd = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		serve(m, fd);
	}
	return NULL;
}

struct metrics *metrics_start(struct ctl_view *view)
{
	const struct cfg_endpoint *ep = &view->cfg->metrics;
	struct sockaddr_storage sa;
	socklen_t salen = addr_to_sockaddr(ep->addr, ep->port, &sa);
	struct metrics *m = calloc(1, sizeof(*m));
	static const int one = 1;
	int err = 0;

	if (!m)
		return NULL;
	m->v = view;
	m->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->fd < 0 || setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(m->fd, (void *)&sa, salen) || listen(m->fd, 16))
		err = errno;
	if (!err)
		err = pthread_create(&m->th, NULL, metrics_main, m);
	if (err) {
		if (m->fd >= 0)
			close(m->fd);
		free(m);
		errno = err;
		return NULL;
	}
	return m;
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	m->stop = 1;
	pthread_join(m->th, NULL);
	close(m->fd);
	free(m);
}
