// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include "addr.h"
#include "cgroup.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "loop.h"
#include "redirect.h"

#define CONN_HISTORY 256

enum { OP_CONNECT, OP_RECV_UP, OP_SEND_UP, OP_RECV_DOWN, OP_SEND_DOWN };

/* what the control socket shows of a connection, live or closed */
struct conn_info {
	uint64_t id;
	uint32_t target;
	int open;
	char target_name[64];
	const char *kind;
	char client[64];
	char original[64];
	char upstream[64];
	char cgroup[256];
	char reason[128];
	struct sluice_orig k;
	struct timespec start, end;
	uint64_t bytes_up, bytes_down;
};

/* one direction: bytes read from `from` wait in buf until sent to `to` */
struct half {
	int from, to;
	unsigned recv_op, send_op;
	size_t len, off;
	int eof;
	uint64_t *bytes;
	char buf[CONN_BUF_BYTES];
};

struct conn {
	struct loop_handler h;	/* first: completions come back through it */
	struct loop *loop;
	const struct proxy *px;
	int cfd, ufd;
	int pending;		/* submitted operations not yet completed */
	int closing;
	struct sockaddr_storage up_sa;
	socklen_t up_len;
	struct half up, down;
	struct conn_info info;	/* guarded by reg.lock once registered */
	struct conn *prev, *next;
};

static struct {
	pthread_mutex_t lock;
	struct conn *live;
	struct conn_info closed[CONN_HISTORY];
	size_t n_closed;	/* total ever closed; ring index = n % CONN_HISTORY */
	uint64_t next_id;
	uint64_t active[SLUICE_MAX_TARGETS];
	uint64_t total[SLUICE_MAX_TARGETS];
} reg = { .lock = PTHREAD_MUTEX_INITIALIZER, .next_id = 1 };

static void conn_complete(struct loop_handler *h, unsigned op, int res, int more);

static void reg_add(struct conn *c)
{
	pthread_mutex_lock(&reg.lock);
	c->info.id = reg.next_id++;
	c->next = reg.live;
	if (reg.live)
		reg.live->prev = c;
	reg.live = c;
	reg.active[c->info.target]++;
	reg.total[c->info.target]++;
	pthread_mutex_unlock(&reg.lock);
}

static void reg_remove(struct conn *c)
{
	pthread_mutex_lock(&reg.lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		reg.live = c->next;
	if (c->next)
		c->next->prev = c->prev;
	reg.active[c->info.target]--;
	c->info.open = 0;
	clock_gettime(CLOCK_REALTIME, &c->info.end);
	reg.closed[reg.n_closed++ % CONN_HISTORY] = c->info;
	pthread_mutex_unlock(&reg.lock);
}

static void conn_free(struct conn *c)
{
	reg_remove(c);
	log_info("connection closed", "{s:I, s:s, s:I, s:I, s:s}",
		 "conn", (json_int_t)c->info.id,
		 "target", c->info.target_name,
		 "bytes_up", (json_int_t)c->info.bytes_up,
		 "bytes_down", (json_int_t)c->info.bytes_down,
		 "reason", c->info.reason);
	if (c->cfd >= 0)
		close(c->cfd);
	if (c->ufd >= 0)
		close(c->ufd);
	free(c);
}

/* Start tearing down: wake every pending operation; the last one frees. */
static void conn_fail(struct conn *c, const char *why, int err)
{
	if (!c->closing) {
		c->closing = 1;
		pthread_mutex_lock(&reg.lock);
		if (!c->info.reason[0])
			snprintf(c->info.reason, sizeof(c->info.reason), "%s%s%s",
				 why, err ? ": " : "", err ? strerror(-err) : "");
		pthread_mutex_unlock(&reg.lock);
		if (c->cfd >= 0)
			shutdown(c->cfd, SHUT_RDWR);
		if (c->ufd >= 0)
			shutdown(c->ufd, SHUT_RDWR);
		if (c->cfd >= 0)
			loop_cancel_fd(c->loop, c->cfd);
		if (c->ufd >= 0)
			loop_cancel_fd(c->loop, c->ufd);
	}
	if (c->pending == 0)
		conn_free(c);
}

static void submit(struct conn *c, int err, const char *what)
{
	if (err) {
		conn_fail(c, what, err);
		return;
	}
	c->pending++;
}

static void half_recv(struct conn *c, struct half *hf)
{
	submit(c, loop_recv(c->loop, &c->h, hf->recv_op, hf->from, hf->buf,
			    sizeof(hf->buf)), "queue recv");
}

static void half_send(struct conn *c, struct half *hf)
{
	submit(c, loop_send(c->loop, &c->h, hf->send_op, hf->to,
			    hf->buf + hf->off, hf->len - hf->off), "queue send");
}

static void half_init(struct half *hf, int from, int to, unsigned recv_op,
		      unsigned send_op, uint64_t *bytes)
{
	hf->from = from;
	hf->to = to;
	hf->recv_op = recv_op;
	hf->send_op = send_op;
	hf->bytes = bytes;
}

static void on_recv(struct conn *c, struct half *hf, int res)
{
	if (res < 0) {
		conn_fail(c, hf == &c->up ? "client recv" : "upstream recv", res);
		return;
	}
	if (res == 0) {
		/* half-close: pass the EOF on, keep the other direction */
		hf->eof = 1;
		shutdown(hf->to, SHUT_WR);
		if (c->up.eof && c->down.eof)
			conn_fail(c, "closed", 0);
		return;
	}
	hf->len = res;
	hf->off = 0;
	half_send(c, hf);
}

static void on_send(struct conn *c, struct half *hf, int res)
{
	if (res <= 0) {
		conn_fail(c, hf == &c->up ? "upstream send" : "client send",
			  res ? res : -EPIPE);
		return;
	}
	hf->off += res;
	__atomic_add_fetch(hf->bytes, res, __ATOMIC_RELAXED);
	if (hf->off < hf->len)
		half_send(c, hf);
	else
		half_recv(c, hf);
}

static void conn_complete(struct loop_handler *h, unsigned op, int res, int more)
{
	struct conn *c = (struct conn *)h;

	(void)more;
	c->pending--;
	if (c->closing) {
		conn_fail(c, NULL, 0);
		return;
	}
	switch (op) {
	case OP_CONNECT:
		if (res < 0) {
			conn_fail(c, "upstream connect", res);
			return;
		}
		half_recv(c, &c->up);
		if (!c->closing)
			half_recv(c, &c->down);
		break;
	case OP_RECV_UP:
		on_recv(c, &c->up, res);
		break;
	case OP_RECV_DOWN:
		on_recv(c, &c->down, res);
		break;
	case OP_SEND_UP:
		on_send(c, &c->up, res);
		break;
	case OP_SEND_DOWN:
		on_send(c, &c->down, res);
		break;
	}
}

/* Who called, where it meant to go, and which target that is. */
static int identify(struct conn *c, const struct proxy *px)
{
	struct sockaddr_storage peer, local;
	socklen_t plen = sizeof(peer), llen = sizeof(local);
	uint8_t a[16];
	uint16_t port;
	char *cg;
	int err;

	if (getpeername(c->cfd, (void *)&peer, &plen) ||
	    getsockname(c->cfd, (void *)&local, &llen))
		return -errno;
	err = redirect_lookup(px->rd, (void *)&peer, (void *)&local, &c->info.k);
	if (err)
		return err;
	if (c->info.k.target_id >= px->cfg->n_targets)
		return -ESTALE;
	c->info.target = c->info.k.target_id;
	redirect_addr16((void *)&peer, a, &port);
	addr_format(a, port, c->info.client, sizeof(c->info.client));
	addr_format(c->info.k.orig_addr, c->info.k.orig_port, c->info.original,
		    sizeof(c->info.original));
	cg = cgroup_path_of_id(px->cgroup_mount, c->info.k.cgroup_id,
			       c->info.k.pid_tgid >> 32);
	snprintf(c->info.cgroup, sizeof(c->info.cgroup), "%s", cg ? cg : "");
	free(cg);
	return 0;
}

void conn_accepted(struct loop *l, const struct proxy *px, int fd)
{
	const struct cfg_target *t;
	struct conn *c;
	int err;

	c = calloc(1, sizeof(*c));
	if (!c) {
		log_error("connection dropped", "{s:s}", "reason", "out of memory");
		close(fd);
		return;
	}
	c->h.complete = conn_complete;
	c->loop = l;
	c->px = px;
	c->cfd = fd;
	c->ufd = -1;
	c->info.open = 1;
	clock_gettime(CLOCK_REALTIME, &c->info.start);
	err = identify(c, px);
	if (err) {
		/* reached the listener without a redirect record: not ours */
		log_warn("connection refused", "{s:s, s:s}", "reason",
			 err == -ENOENT ? "no redirect record" : "identify failed",
			 "error", strerror(-err));
		close(fd);
		free(c);
		return;
	}
	t = &px->cfg->targets[c->info.target];
	snprintf(c->info.target_name, sizeof(c->info.target_name), "%s", t->name);
	c->info.kind = config_kind_name(t->kind);
	snprintf(c->info.upstream, sizeof(c->info.upstream), "%s", t->upstream.text);
	c->up_len = addr_to_sockaddr(t->upstream.addr, t->upstream.port, &c->up_sa);
	half_init(&c->up, c->cfd, -1, OP_RECV_UP, OP_SEND_UP, &c->info.bytes_up);
	half_init(&c->down, -1, c->cfd, OP_RECV_DOWN, OP_SEND_DOWN, &c->info.bytes_down);
	reg_add(c);
	log_info("connection", "{s:I, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:s, s:I}",
		 "conn", (json_int_t)c->info.id, "target", t->name,
		 "client", c->info.client, "original", c->info.original,
		 "upstream", c->info.upstream,
		 "pid", (int)(c->info.k.pid_tgid >> 32),
		 "uid", (int)c->info.k.uid, "gid", (int)c->info.k.gid,
		 "comm", c->info.k.comm, "cgroup", c->info.cgroup,
		 "cgroup_id", (json_int_t)c->info.k.cgroup_id);

	c->ufd = socket(c->up_sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->ufd < 0) {
		conn_fail(c, "upstream socket", -errno);
		return;
	}
	/* the mark is what makes the bpf programs leave this socket alone */
	if (setsockopt(c->ufd, SOL_SOCKET, SO_MARK, &px->cfg->mark,
		       sizeof(px->cfg->mark))) {
		conn_fail(c, "SO_MARK", -errno);
		return;
	}
	c->up.to = c->ufd;
	c->down.from = c->ufd;
	submit(c, loop_connect(l, &c->h, OP_CONNECT, c->ufd, (void *)&c->up_sa,
			       c->up_len), "queue connect");
}

void conn_abort_all(struct loop *l)
{
	struct conn *c, *next;

	pthread_mutex_lock(&reg.lock);
	c = reg.live;
	pthread_mutex_unlock(&reg.lock);
	while (c) {
		pthread_mutex_lock(&reg.lock);
		next = c->next;
		pthread_mutex_unlock(&reg.lock);
		if (c->loop == l) {
			if (!c->info.reason[0])
				snprintf(c->info.reason, sizeof(c->info.reason),
					 "daemon shutting down");
			conn_free(c);
		}
		c = next;
	}
}

static json_t *info_json(const struct conn_info *i)
{
	char start[40] = "", end[40] = "";
	struct tm tm;

	gmtime_r(&i->start.tv_sec, &tm);
	strftime(start, sizeof(start), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!i->open) {
		gmtime_r(&i->end.tv_sec, &tm);
		strftime(end, sizeof(end), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:o,"
			 " s:{s:i, s:i, s:i, s:i, s:s, s:I, s:s, s:I}}",
			 "id", (json_int_t)i->id,
			 "target", i->target_name, "kind", i->kind,
			 "state", i->open ? "open" : "closed",
			 "client", i->client, "original", i->original,
			 "upstream", i->upstream, "start", start,
			 "end", i->open ? json_null() : json_string(end),
			 "bytes_up", (json_int_t)__atomic_load_n(&i->bytes_up, __ATOMIC_RELAXED),
			 "bytes_down", (json_int_t)__atomic_load_n(&i->bytes_down, __ATOMIC_RELAXED),
			 "close_reason", i->reason[0] ? json_string(i->reason) : json_null(),
			 "kernel",
			 "pid", (int)(i->k.pid_tgid >> 32),
			 "tid", (int)(uint32_t)i->k.pid_tgid,
			 "uid", (int)i->k.uid, "gid", (int)i->k.gid,
			 "comm", i->k.comm,
			 "cgroup_id", (json_int_t)i->k.cgroup_id,
			 "cgroup", i->cgroup,
			 "netns_cookie", (json_int_t)i->k.netns_cookie);
}

json_t *conn_list_json(int include_closed)
{
	json_t *arr = json_array();
	size_t first;

	if (!arr)
		return NULL;
	pthread_mutex_lock(&reg.lock);
	for (struct conn *c = reg.live; c; c = c->next)
		json_array_append_new(arr, info_json(&c->info));
	if (include_closed) {
		first = reg.n_closed > CONN_HISTORY ? reg.n_closed - CONN_HISTORY : 0;
		for (size_t n = reg.n_closed; n > first; n--)
			json_array_append_new(arr, info_json(&reg.closed[(n - 1) % CONN_HISTORY]));
	}
	pthread_mutex_unlock(&reg.lock);
	return arr;
}

void conn_counts(long target, uint64_t *active, uint64_t *total)
{
	*active = *total = 0;
	pthread_mutex_lock(&reg.lock);
	for (long t = 0; t < SLUICE_MAX_TARGETS; t++) {
		if (target >= 0 && t != target)
			continue;
		*active += reg.active[t];
		*total += reg.total[t];
	}
	pthread_mutex_unlock(&reg.lock);
}
