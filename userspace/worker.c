// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "config.h"
#include "conn.h"
#include "log.h"
#include "loop.h"
#include "worker.h"

#define WORKER_RING_ENTRIES 1024
#define WORKER_BACKLOG 1024
#define WORKER_WAKE_MS 100

struct listener {
	struct loop_handler h;
	struct worker *w;
	int fd;
};

struct worker {
	struct loop *loop;
	const struct proxy *px;
	struct listener ls[2];
	int n_ls;
	int index;
	pthread_t th;
	int started;
	const volatile int *stop;
};

static void on_accept(struct loop_handler *h, unsigned op, int res, int more)
{
	struct listener *ls = (struct listener *)h;
	int err;

	(void)op;
	if (res >= 0)
		conn_accepted(ls->w->loop, ls->w->px, res);
	else if (res != -ECANCELED)
		log_warn("accept failed", "{s:s}", "error", strerror(-res));
	if (!more && !*ls->w->stop) {
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

struct worker *worker_new(const struct proxy *px, int index, const char **what)
{
	const char *ips[2] = { px->cfg->listen.ipv4, px->cfg->listen.ipv6 };
	struct worker *w = calloc(1, sizeof(*w));
	int err = 0;

	if (!w)
		return NULL;
	w->px = px;
	w->index = index;
	w->loop = loop_new(WORKER_RING_ENTRIES);
	if (!w->loop) {
		err = -errno;
		*what = "io_uring";
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

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int err = 0;

	for (int i = 0; i < w->n_ls && !err; i++)
		err = loop_accept(w->loop, &w->ls[i].h, 0, w->ls[i].fd);
	if (!err)
		err = loop_run(w->loop, w->stop, WORKER_WAKE_MS);
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

void worker_free(struct worker *w)
{
	if (!w)
		return;
	if (w->started)
		pthread_join(w->th, NULL);
	for (int i = 0; i < w->n_ls; i++)
		close(w->ls[i].fd);
	/* tear the ring down first: the kernel then holds no buffer of a
	 * connection any more, and they can be freed */
	loop_free(w->loop);
	if (w->loop)
		conn_abort_all(w->loop);
	free(w);
}
