// SPDX-License-Identifier: BSD-2-Clause
/*
 * loadgen: the load generator and the server of scripts/bench.sh.
 *
 *   loadgen server ADDR PORT
 *       One thread, epoll. Each connection starts with a 24-byte header
 *       (struct hdr, below) that picks what the server does with it:
 *         SINK  read and discard `total` bytes, then answer the 8-byte
 *               count it received (so the client times the whole path);
 *         RR    for every `req` bytes received, answer `resp` bytes.
 *   loadgen tput ADDR PORT BYTES CHUNK [--conns N] [--tls CA]
 *       N connections (default 1), one thread each, all set up (connect,
 *       TLS handshake, header) before the clock starts; each then sends
 *       BYTES/N in write()s (or SSL_write()s) of CHUNK bytes and waits for
 *       the server's count. Timed from the start to the last count.
 *       Prints "bytes=N conns=N secs=S mbps=M" (MB = 10^6 bytes).
 *   loadgen rr ADDR PORT COUNT REQ RESP [--new] [--secs S] [--tls CA]
 *       COUNT sequential round trips of REQ bytes out, RESP bytes back, on
 *       one connection (after one untimed round trip); with --new, one new
 *       connection per round trip (connect + TLS handshake + header +
 *       request + response + close, no session resumption). --secs stops
 *       early after S seconds (at least 10 round trips). Prints
 *       "n= p50_us= p90_us= p99_us= mean_us=".
 *   loadgen idle ADDR PORT COUNT [--tls CA]
 *       opens COUNT connections, one 1-byte round trip on each (so the
 *       whole path, upstream included, is established), prints
 *       "ready COUNT" and holds them until killed.
 *
 * --tls CA: TLS toward ADDR, its certificate verified against the PEM CA.
 * Exit status 0 ok, 1 error (message on stderr).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAGIC		0x534c424eu	/* "SLBN" */
#define MODE_SINK	1
#define MODE_RR		2
#define RBUF		(256u << 10)

struct hdr {
	uint32_t magic, mode, req, resp;
	uint64_t total;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "loadgen: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static struct sockaddr_in parse_addr(const char *ip, const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };

	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
		die("bad IPv4 address %s", ip);
	sa.sin_port = htons((uint16_t)atoi(port));
	return sa;
}

/* ---- server ------------------------------------------------------------ */

struct sconn {
	int fd;
	size_t hgot;
	struct hdr h;
	uint64_t got;		/* SINK: bytes so far; RR: bytes of the current request */
	size_t out_left;	/* bytes still to answer */
	uint8_t out[8];		/* SINK's count */
	int out_is_count;
};

static uint8_t rbuf[RBUF];
static uint8_t zeros[RBUF];

static void sclose(int ep, struct sconn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* Send what is owed; 0 when all of it went, 1 when the socket is full. */
static int sflush(int ep, struct sconn *c)
{
	while (c->out_left) {
		ssize_t n;

		if (c->out_is_count)
			n = write(c->fd, c->out + 8 - c->out_left, c->out_left);
		else
			n = write(c->fd, zeros, c->out_left < RBUF ? c->out_left : RBUF);
		if (n < 0 && errno == EAGAIN) {
			struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			return 1;
		}
		if (n <= 0)
			return -1;
		c->out_left -= (size_t)n;
	}
	return 0;
}

/* Readable (or writable again): 0 to keep, -1 to close. */
static int sevent(int ep, struct sconn *c, uint32_t events)
{
	if (events & EPOLLOUT) {
		int r = sflush(ep, c);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		if (r)
			return r < 0 ? -1 : 0;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return 0;
	for (int loops = 0; loops < 16; loops++) {
		ssize_t n;
		size_t off = 0;

		if (c->out_left)
			return 0;	/* the client waits for us first */
		n = read(c->fd, rbuf, RBUF);
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		if (c->hgot < sizeof(c->h)) {
			size_t k = sizeof(c->h) - c->hgot;

			if (k > (size_t)n)
				k = (size_t)n;
			memcpy((uint8_t *)&c->h + c->hgot, rbuf, k);
			c->hgot += k;
			off = k;
			if (c->hgot < sizeof(c->h))
				continue;
			if (c->h.magic != MAGIC ||
			    (c->h.mode != MODE_SINK && c->h.mode != MODE_RR) ||
			    (c->h.mode == MODE_RR && !c->h.req))
				return -1;
		}
		if (c->h.mode == MODE_SINK) {
			c->got += (uint64_t)n - off;
			if (c->got >= c->h.total) {
				memcpy(c->out, &c->got, 8);
				c->out_is_count = 1;
				c->out_left = 8;
				if (sflush(ep, c) < 0)
					return -1;
			}
		} else {
			/* clients wait for each answer: at most one request here */
			c->got += (uint64_t)n - off;
			while (c->got >= c->h.req) {
				c->got -= c->h.req;
				c->out_left += c->h.resp;
			}
			if (c->out_left && sflush(ep, c) < 0)
				return -1;
		}
	}
	return 0;
}

static int cmd_server(int argc, char **argv)
{
	struct sockaddr_in sa;
	int lfd, ep, one = 1;
	struct epoll_event ev, evs[256];
	static int lfd_tag;

	if (argc != 2)
		die("usage: loadgen server ADDR PORT");
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	sa = parse_addr(argv[0], argv[1]);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 4096))
		die("bind/listen %s:%s: %s", argv[0], argv[1], strerror(errno));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.ptr = &lfd_tag;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("listening %s:%s\n", argv[0], argv[1]);
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &lfd_tag) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL,
						     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					struct sconn *c = calloc(1, sizeof(*c));

					if (!c)
						die("out of memory");
					c->fd = fd;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			if (sevent(ep, evs[i].data.ptr, evs[i].events) < 0)
				sclose(ep, evs[i].data.ptr);
		}
	}
}

/* ---- client ------------------------------------------------------------ */

struct cconn {
	int fd;
	SSL *ssl;
};

static SSL_CTX *tls_ctx(const char *ca)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
		die("cannot load CA %s", ca);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	return ctx;
}

static void cwrite(struct cconn *c, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len) {
		int n;

		if (c->ssl) {
			n = SSL_write(c->ssl, b, (int)(len > INT32_MAX ? INT32_MAX : len));
			if (n <= 0)
				die("SSL_write failed (%d)", SSL_get_error(c->ssl, n));
		} else {
			n = (int)write(c->fd, b, len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				die("write: %s", n ? strerror(errno) : "0");
		}
		b += n;
		len -= (size_t)n;
	}
}

static void cread(struct cconn *c, void *p, size_t len)
{
	uint8_t *b = p;

	while (len) {
		int n;

		if (c->ssl) {
			n = SSL_read(c->ssl, b, (int)(len > INT32_MAX ? INT32_MAX : len));
			if (n <= 0)
				die("SSL_read failed (%d): connection closed early?",
				    SSL_get_error(c->ssl, n));
		} else {
			n = (int)read(c->fd, b, len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				die("read: %s", strerror(errno));
			if (n == 0)
				die("read: connection closed early");
		}
		b += n;
		len -= (size_t)n;
	}
}

static int tls_reported;	/* racy with --conns: a duplicate line at worst */

static void cconnect(struct cconn *c, const struct sockaddr_in *sa, SSL_CTX *ctx,
		     int nodelay)
{
	int one = 1;

	c->ssl = NULL;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket: %s", strerror(errno));
	if (nodelay)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (const struct sockaddr *)sa, sizeof(*sa)))
		die("connect %s:%u: %s", inet_ntoa(sa->sin_addr),
		    ntohs(sa->sin_port), strerror(errno));
	if (!ctx)
		return;
	c->ssl = SSL_new(ctx);
	SSL_set_fd(c->ssl, c->fd);
	if (SSL_connect(c->ssl) != 1)
		die("TLS handshake with %s:%u failed", inet_ntoa(sa->sin_addr),
		    ntohs(sa->sin_port));
	if (!tls_reported++)
		fprintf(stderr, "tls=%s cipher=%s\n", SSL_get_version(c->ssl),
			SSL_get_cipher_name(c->ssl));
}

static void cclose(struct cconn *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	close(c->fd);
}

static void send_hdr(struct cconn *c, uint32_t mode, uint32_t req, uint32_t resp,
		     uint64_t total)
{
	struct hdr h = { MAGIC, mode, req, resp, total };

	cwrite(c, &h, sizeof(h));
}

struct flags {
	const char *ca;		/* --tls CA */
	int new_conn;		/* --new */
	unsigned conns;		/* --conns N (tput), default 1 */
	double secs;		/* --secs S (rr): stop after S seconds, 0: no limit */
};

/* Split off the flags. Returns the positional count. */
static int parse_flags(int argc, char **argv, char **pos, int maxpos, struct flags *f)
{
	int n = 0;

	memset(f, 0, sizeof(*f));
	f->conns = 1;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--tls") && i + 1 < argc)
			f->ca = argv[++i];
		else if (!strcmp(argv[i], "--new"))
			f->new_conn = 1;
		else if (!strcmp(argv[i], "--conns") && i + 1 < argc)
			f->conns = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--secs") && i + 1 < argc)
			f->secs = strtod(argv[++i], NULL);
		else if (n < maxpos)
			pos[n++] = argv[i];
		else
			return -1;
	}
	return n;
}

struct tput_job {
	pthread_t th;
	struct sockaddr_in sa;
	SSL_CTX *ctx;
	uint64_t total;
	size_t chunk;
	const uint8_t *buf;
	pthread_barrier_t *go;
	double t_end;
};

static void *tput_one(void *arg)
{
	struct tput_job *j = arg;
	struct cconn c;
	uint64_t left, got;

	cconnect(&c, &j->sa, j->ctx, 0);
	send_hdr(&c, MODE_SINK, 0, 0, j->total);
	pthread_barrier_wait(j->go);	/* every connection set up: go */
	for (left = j->total; left;) {
		size_t k = left < j->chunk ? (size_t)left : j->chunk;

		cwrite(&c, j->buf, k);
		left -= k;
	}
	cread(&c, &got, sizeof(got));
	j->t_end = now_s();
	if (got != j->total)
		die("the server counted %llu bytes, %llu sent",
		    (unsigned long long)got, (unsigned long long)j->total);
	cclose(&c);
	return NULL;
}

static int cmd_tput(int argc, char **argv)
{
	char *pos[4];
	struct flags f;
	struct sockaddr_in sa;
	uint64_t total;
	size_t chunk;
	uint8_t *buf;
	SSL_CTX *ctx = NULL;
	struct tput_job *jobs;
	pthread_barrier_t go;
	double t0, t1 = 0;

	if (parse_flags(argc, argv, pos, 4, &f) != 4 || !f.conns)
		die("usage: loadgen tput ADDR PORT BYTES CHUNK [--conns N] [--tls CA]");
	sa = parse_addr(pos[0], pos[1]);
	total = strtoull(pos[2], NULL, 0);
	chunk = strtoul(pos[3], NULL, 0);
	if (!total || !chunk)
		die("BYTES and CHUNK must be > 0");
	buf = malloc(chunk);
	for (size_t i = 0; i < chunk; i++)	/* not all zeros, not compressible */
		buf[i] = (uint8_t)(i * 2654435761u >> 13);
	if (f.ca)
		ctx = tls_ctx(f.ca);
	jobs = calloc(f.conns, sizeof(*jobs));
	pthread_barrier_init(&go, NULL, f.conns + 1);
	for (unsigned i = 0; i < f.conns; i++) {
		jobs[i] = (struct tput_job){ .sa = sa, .ctx = ctx, .chunk = chunk,
					     .buf = buf, .go = &go,
					     .total = total / f.conns };
		if (pthread_create(&jobs[i].th, NULL, tput_one, &jobs[i]))
			die("pthread_create failed");
	}
	pthread_barrier_wait(&go);
	t0 = now_s();
	for (unsigned i = 0; i < f.conns; i++) {
		pthread_join(jobs[i].th, NULL);
		if (jobs[i].t_end > t1)
			t1 = jobs[i].t_end;
	}
	total = total / f.conns * f.conns;
	printf("bytes=%llu conns=%u secs=%.6f mbps=%.1f\n", (unsigned long long)total,
	       f.conns, t1 - t0, (double)total / (t1 - t0) / 1e6);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const double *sorted, size_t n, double p)
{
	size_t k = (size_t)ceil(p * (double)n);

	return sorted[k ? k - 1 : 0];
}

static int cmd_rr(int argc, char **argv)
{
	char *pos[5];
	struct flags f;
	struct sockaddr_in sa;
	struct cconn c;
	size_t count, req, resp, done = 0;
	uint8_t *qb, *rb;
	double *lat, sum = 0, start;
	SSL_CTX *ctx = NULL;

	if (parse_flags(argc, argv, pos, 5, &f) != 5)
		die("usage: loadgen rr ADDR PORT COUNT REQ RESP [--new] [--secs S] [--tls CA]");
	sa = parse_addr(pos[0], pos[1]);
	count = strtoul(pos[2], NULL, 0);
	req = strtoul(pos[3], NULL, 0);
	resp = strtoul(pos[4], NULL, 0);
	if (!count || !req || !resp)
		die("COUNT, REQ and RESP must be > 0");
	qb = calloc(1, req);
	rb = malloc(resp);
	lat = calloc(count, sizeof(*lat));
	memset(qb, 'q', req);
	if (f.ca)
		ctx = tls_ctx(f.ca);
	if (!f.new_conn) {
		cconnect(&c, &sa, ctx, 1);
		send_hdr(&c, MODE_RR, (uint32_t)req, (uint32_t)resp, 0);
		cwrite(&c, qb, req);	/* warm the path once, untimed */
		cread(&c, rb, resp);
	}
	start = now_s();
	for (size_t i = 0; i < count; i++) {
		double t0 = now_s();

		if (f.secs > 0 && i >= 10 && t0 - start >= f.secs)
			break;	/* enough time spent: what we have is the sample */
		if (f.new_conn) {
			cconnect(&c, &sa, ctx, 1);
			send_hdr(&c, MODE_RR, (uint32_t)req, (uint32_t)resp, 0);
		}
		cwrite(&c, qb, req);
		cread(&c, rb, resp);
		if (f.new_conn)
			cclose(&c);
		lat[i] = (now_s() - t0) * 1e6;
		sum += lat[i];
		done++;
	}
	if (!f.new_conn)
		cclose(&c);
	qsort(lat, done, sizeof(*lat), cmp_double);
	printf("n=%zu p50_us=%.1f p90_us=%.1f p99_us=%.1f mean_us=%.1f\n", done,
	       pct(lat, done, 0.50), pct(lat, done, 0.90), pct(lat, done, 0.99),
	       sum / (double)done);
	return 0;
}

static int cmd_idle(int argc, char **argv)
{
	char *pos[3];
	struct flags f;
	struct sockaddr_in sa;
	struct cconn *cs;
	size_t count;
	uint8_t b = 'i';
	SSL_CTX *ctx = NULL;

	if (parse_flags(argc, argv, pos, 3, &f) != 3)
		die("usage: loadgen idle ADDR PORT COUNT [--tls CA]");
	raise_nofile();
	sa = parse_addr(pos[0], pos[1]);
	count = strtoul(pos[2], NULL, 0);
	cs = calloc(count, sizeof(*cs));
	if (f.ca)
		ctx = tls_ctx(f.ca);
	for (size_t i = 0; i < count; i++) {
		cconnect(&cs[i], &sa, ctx, 1);
		send_hdr(&cs[i], MODE_RR, 1, 1, 0);
		cwrite(&cs[i], &b, 1);
		cread(&cs[i], &b, 1);
	}
	printf("ready %zu\n", count);
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die("usage: loadgen server|tput|rr|idle ARGS...");
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(argv[1], "server"))
		return cmd_server(argc - 2, argv + 2);
	if (!strcmp(argv[1], "tput"))
		return cmd_tput(argc - 2, argv + 2);
	if (!strcmp(argv[1], "rr"))
		return cmd_rr(argc - 2, argv + 2);
	if (!strcmp(argv[1], "idle"))
		return cmd_idle(argc - 2, argv + 2);
	die("unknown command %s", argv[1]);
}
