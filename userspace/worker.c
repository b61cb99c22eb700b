// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "clock.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "loop.h"
#include "session.h"
#include "worker.h"

#define WORKER_RING_ENTRIES 1024
#define WORKER_BACKLOG 1024
#define WORKER_WAKE_MS 100
#define WORKER_BUFS 256		/* receive buffers shared by a worker's connections */
#define WORKER_TICK_NS 1000000000ull
#define WORKER_GRACE_NS 2000000000ull	/* after drain_ms: closing takes this long at most */

struct listener {
	struct loop_handler h;
	struct worker *w;
	int fd;
};

struct worker {
	struct loop *loop;
	struct session_worker *sw;
	const struct proxy *px;
	struct listener ls[2];
	int n_ls;
	int index;
	pthread_t th;
	int started;
	const volatile int *stop;
};

static void on_accept(struct loop_handler *h, unsigned op, int res, unsigned flags)
{
	int more = flags & LOOP_CQE_MORE;
	struct listener *ls = (struct listener *)h;
	int err;

	(void)op;
	if (res >= 0 && *ls->w->stop)
		close(res);	/* draining: accepted just before the stop */
	else if (res >= 0)
		conn_accepted(ls->w->loop, ls->w->sw, ls->w->px, res);
	else if (res != -ECANCELED)
		log_warn("accept failed", "{s:s}", "error", strerror(-res));
	if (!more && !*ls->w->stop && ls->fd >= 0) {
		err = loop_accept(ls->w->loop, &ls->h, 0, ls->fd);
		if (err)
			log_error("cannot re-arm accept", "{s:s}", "error", strerror(-err));
	}
}

static int listen_on(const char *ip, uint16_t port, int *out)
{
	struct sockaddr_storage ss = {};
	socklen_t len;
	int one = 1, fd, err = 0;

	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		len = sizeof(struct sockaddr_in6);
	} else {
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, (void *)&ss, len) || listen(fd, WORKER_BACKLOG))
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	*out = fd;
	return 0;
}

struct worker *worker_new(const struct proxy *px, struct store *st, int index,
			  const char **what)
{
	const char *ips[2] = { px->cfg->listen.ipv4, px->cfg->listen.ipv6 };
	struct worker *w = calloc(1, sizeof(*w));
	int err = 0;

	if (!w)
		return NULL;
	w->px = px;
	w->index = index;
	w->loop = loop_new(WORKER_RING_ENTRIES, WORKER_BUFS, CONN_RX_BYTES);
	if (!w->loop) {
		err = -errno;
		*what = "io_uring";
		goto out;
	}
	w->sw = session_worker_new(w->loop, st, px->cfg->store.mode);
	if (!w->sw) {
		err = -errno;
		*what = "recorder mailbox";
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		struct listener *ls = &w->ls[w->n_ls];

		if (!ips[i])
			continue;
		err = listen_on(ips[i], px->cfg->listen.port, &ls->fd);
		if (err) {
			*what = ips[i];
			goto out;
		}
		ls->w = w;
		ls->h.complete = on_accept;
		w->n_ls++;
	}
out:
	if (err) {
		worker_free(w);
		errno = -err;
		return NULL;
	}
	return w;
}

/*
 * Serve until stopped, then drain: no new connections, the open ones get
 * drain_ms to finish, then are closed with a reason their sessions keep.
 */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t next_tick = 0, drain_end = 0, hard_end = 0, now;
	int err = 0, draining = 0;

	for (int i = 0; i < w->n_ls && !err; i++)
		err = loop_accept(w->loop, &w->ls[i].h, 0, w->ls[i].fd);
	while (!err) {
		now = clock_mono_ns();
		if (*w->stop && !draining) {
			draining = 1;
			drain_end = now + w->px->cfg->timeouts.drain_ms * 1000000ull;
			/* closed, not just idle: the bpf programs see no listener
			 * and apply the fail mode instead of queueing connects */
			for (int i = 0; i < w->n_ls; i++) {
				loop_cancel_fd(w->loop, w->ls[i].fd);
				close(w->ls[i].fd);
				w->ls[i].fd = -1;
			}
			log_info("draining", "{s:i, s:i}", "worker", w->index,
				 "connections", (int)conn_count(w->loop));
		}
		if (draining && conn_count(w->loop) == 0)
			break;
		if (draining && !hard_end && now > drain_end) {
			hard_end = now + WORKER_GRACE_NS;
			conn_close_all(w->loop, "daemon shutting down");
		}
		if (hard_end && now > hard_end)
			break;
		conn_retry_starved(w->loop);
		if (now >= next_tick) {
			conn_tick(w->loop);
			next_tick = now + WORKER_TICK_NS;
		}
		err = loop_run_once(w->loop, WORKER_WAKE_MS);
	}
	if (err)
		log_error("worker stopped", "{s:i, s:s}", "worker", w->index,
			  "error", strerror(-err));
	return NULL;
}

int worker_start(struct worker *w, const volatile int *stop)
{
	int err;

	w->stop = stop;
	err = pthread_create(&w->th, NULL, worker_main, w);
	if (err)
		return -err;
	w->started = 1;
	return 0;
}

void worker_join(struct worker *w)
{
	if (w && w->started) {
		pthread_join(w->th, NULL);
		w->started = 0;
	}
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	worker_join(w);
	for (int i = 0; i < w->n_ls; i++)
		if (w->ls[i].fd >= 0)
			close(w->ls[i].fd);
	/* tear the ring down first: the kernel then holds no buffer of a
	 * connection any more, and they can be freed */
	loop_free(w->loop);
	if (w->loop)
		conn_abort_all(w->loop);
	session_worker_free(w->sw);
	free(w);
}
