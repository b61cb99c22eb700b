// SPDX-License-Identifier: BSD-2-Clause
/*
 * A connection is two sides (the agent, the upstream) and two directions
 * (up: agent -> upstream, down: upstream -> agent). Every completion ends in
 * progress(), which looks at the whole state and does what can be done
 * next; there is no other transition logic. One send and one receive at a
 * time per side, one plaintext buffer per direction: that is the
 * backpressure and the memory bound.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "clock.h"
#include "addr.h"
#include "cgroup.h"
#include "config.h"
#include "conn.h"
#include "identity.h"
#include "log.h"
#include "loop.h"
#include "proto/proto.h"
#include "redirect.h"
#include "session.h"
#include "tls.h"

#define CONN_HISTORY 256
/* A protocol module's output not yet sent, past which its input waits. */
#define CONN_PROTO_BACKLOG (1u << 20)

enum { OP_CONNECT, OP_RECV_C, OP_SEND_C, OP_RECV_U, OP_SEND_U };

/* what the control socket shows of a connection, live or closed */
struct conn_info {
	uint64_t id;
	uint32_t target;
	int open;
	char target_name[64];
	const char *kind;
	char session[33];
	char client[64];
	char original[64];
	char upstream[64];
	char cgroup[256];
	char user[128];		/* the presented identity, "" none */
	char pod[128];		/* "namespace/name", "" none */
	char reason[160];
	struct sluice_orig k;
	struct timespec start, end;
	uint64_t bytes_up, bytes_down;
};

struct side {
	const char *name;	/* "client" or "upstream", for messages */
	int fd;
	struct tls_conn *tls;
	unsigned recv_op, send_op;
	int ready;		/* connected (the client side always is) */
	int recv_busy, send_busy;
	int eof;		/* the peer will send nothing more */
	int shut;		/* we sent our end of stream */
	int tls_logged;		/* handshake event recorded */
	int starved;		/* the buffer ring was empty: receive again later */
	int zc;			/* zero-copy sends: toward another host only */
	int zc_res;		/* a zero-copy send's result, until its buffer is free */
	const uint8_t *tx;	/* being sent: borrowed plaintext or ct */
	size_t tx_len, tx_off;
	uint8_t *ct;		/* ciphertext staging (TLS sides only) */
};

struct dir {
	struct side *src, *dst;
	int store_dir;
	uint8_t *plain;		/* a ring buffer for plain sources, else own buffer */
	int bid;		/* that ring buffer's id, -1: none held */
	size_t len;		/* plaintext held, 0: buffer free */
	int recorded;		/* handed to the session for this buffer */
	int rec_wait;		/* not yet written */
	int may_send;		/* strict waits for the write, async does not */
	int sent;		/* forwarded (sent, or encrypted into dst) */
	struct session_rec rec;
	uint64_t *bytes;
};

struct conn {
	struct loop_handler h;	/* first: completions come back through it */
	struct loop *loop;
	struct session_worker *sw;
	const struct proxy *px;
	int pending;		/* submitted operations not yet completed */
	int closing;
	int ended;		/* session_end() done */
	int decided;		/* policy allowed the connect: upstream started */
	uint64_t deadline_ns;	/* upstream connect, then handshakes; 0 once set up */
	uint64_t idle_bytes;	/* bytes seen at the last tick that saw any */
	uint64_t idle_since_ns;
	struct sockaddr_storage up_sa;
	socklen_t up_len;
	struct side cs, us;
	struct dir up, down;
	struct session sess;
	struct identity id;
	/* a target with a protocol module (proto.h); NULL: tcp, a plain relay */
	const struct proto_ops *po;
	void *ps;
	struct proto_ctx pctx;
	struct proto_out fly[2];	/* the module's output being sent, per side */
	int po_connected;		/* told the module the upstream is there */
	int po_cert;			/* the agent's certificate was looked at */
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

static void progress(struct conn *c);
static int proto_progress(struct conn *c);

/* sides of this worker's connections waiting for a ring buffer */
static __thread unsigned n_starved;

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

static void set_reason(struct conn *c, const char *fmt, const char *a,
		       const char *b)
{
	pthread_mutex_lock(&reg.lock);
	if (!c->info.reason[0])
		snprintf(c->info.reason, sizeof(c->info.reason), fmt, a, b);
	pthread_mutex_unlock(&reg.lock);
}

static void side_free(struct side *s)
{
	if (s->fd >= 0)
		close(s->fd);
	tls_conn_free(s->tls);
	free(s->ct);
}

static void conn_free(struct conn *c)
{
	reg_remove(c);
	log_info("connection closed", "{s:I, s:s, s:s, s:I, s:I, s:s}",
		 "conn", (json_int_t)c->info.id, "target", c->info.target_name,
		 "session", c->info.session,
		 "bytes_up", (json_int_t)c->info.bytes_up,
		 "bytes_down", (json_int_t)c->info.bytes_down,
		 "reason", c->info.reason);
	side_free(&c->cs);
	side_free(&c->us);
	if (c->po)
		c->po->close(c->ps);
	for (int i = 0; i < 2; i++) {
		free(c->pctx.out[i].data);
		free(c->fly[i].data);
	}
	identity_clear(&c->id);
	n_starved -= c->cs.starved + c->us.starved;
	for (struct dir *d = &c->up; d; d = d == &c->up ? &c->down : NULL) {
		if (d->bid >= 0)
			loop_buf_put(c->loop, d->bid);
		else if (d->src->tls)
			free(d->plain);
	}
	free(c);
}

/* The session's last word: how it ended and what went through. */
static void end_session(struct conn *c)
{
	const char *why = c->info.reason[0] ? c->info.reason : "closed";
	json_t *meta;

	if (c->ended)
		return;
	c->ended = 1;
	meta = json_pack("{s:s, s:s, s:I, s:I, s:o}",
			 "status", strcmp(why, "closed") ? "error" : "closed",
			 "reason", why,
			 "bytes_up", (json_int_t)c->info.bytes_up,
			 "bytes_down", (json_int_t)c->info.bytes_down,
			 "user", identity_user_json(&c->id));
	if (meta)
		session_end(&c->sess, meta);
	json_decref(meta);
}

static void maybe_free(struct conn *c)
{
	if (c->closing && c->pending == 0 && c->sess.inflight == 0)
		conn_free(c);
}

/*
 * A refused handshake leaves OpenSSL's alert in the output: the peer
 * should learn why (unrecognized_name, protocol_version, ...) rather than
 * see a bare EOF. Best effort: a few bytes, never blocking, and only when
 * no send is in flight (the alert must not overtake queued bytes).
 */
static void flush_alert(struct side *s)
{
	uint8_t buf[512];
	size_t n;

	if (!s->tls || s->send_busy || s->tx_off < s->tx_len || !s->ready)
		return;
	n = tls_out_take(s->tls, buf, sizeof(buf));
	if (n && send(s->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		errno = 0;
}

/*
 * Start tearing down: the reason goes on the session record, every
 * pending operation is woken, and the last completion frees.
 */
static void conn_fail(struct conn *c, const char *why, const char *detail)
{
	if (!c->closing) {
		c->closing = 1;
		if (detail)
			set_reason(c, "%s: %s", why, detail);
		else
			set_reason(c, "%s%s", why, "");
		if (strcmp(why, "closed")) {
			json_t *ev = json_pack("{s:s, s:s}", "type", "error",
					       "message", c->info.reason);

			session_event(&c->sess, ev);
			json_decref(ev);
			log_warn("connection error", "{s:I, s:s}", "conn",
				 (json_int_t)c->info.id, "reason", c->info.reason);
		}
		end_session(c);
		for (struct side *s = &c->cs; s; s = s == &c->cs ? &c->us : NULL) {
			if (s->fd < 0)
				continue;
			flush_alert(s);
			shutdown(s->fd, SHUT_RDWR);
			loop_cancel_fd(c->loop, s->fd);
		}
	}
	maybe_free(c);
}

static int submit(struct conn *c, int err)
{
	if (err) {
		conn_fail(c, "io_uring", strerror(-err));
		return err;
	}
	c->pending++;
	return 0;
}

/* Send what this side has to send: borrowed bytes, else TLS output. */
static void side_flush(struct conn *c, struct side *s)
{
	if (s->send_busy || !s->ready || c->closing)
		return;
	if (s->tx_off >= s->tx_len && s->tls && tls_out_pending(s->tls)) {
		s->tx_len = tls_out_take(s->tls, s->ct, CONN_TLS_CT);
		s->tx_off = 0;
		s->tx = s->ct;
	}
	if (s->tx_off >= s->tx_len)
		return;
	if (!submit(c, loop_send(c->loop, &c->h, s->send_op, s->fd,
				 s->tx + s->tx_off, s->tx_len - s->tx_off, s->zc)))
		s->send_busy = 1;
}

static int side_idle_out(const struct side *s)
{
	return !s->send_busy && s->tx_off >= s->tx_len &&
	       (!s->tls || !tls_out_pending(s->tls));
}

static void side_recv(struct conn *c, struct side *s)
{
	if (s->recv_busy || s->eof || !s->ready || s->starved || c->closing)
		return;
	if (!submit(c, loop_recv_buf(c->loop, &c->h, s->recv_op, s->fd)))
		s->recv_busy = 1;
}

static void tls_event(struct conn *c, struct side *s)
{
	json_t *ev;

	if (s->tls_logged || !tls_done(s->tls))
		return;
	s->tls_logged = 1;
	ev = json_pack("{s:s, s:s, s:s?, s:s?, s:s?}", "type", "tls",
		       "side", s->name, "version", tls_version(s->tls),
		       "sni", tls_sni(s->tls), "alpn", tls_alpn(s->tls));
	session_event(&c->sess, ev);
	json_decref(ev);
}

static enum proto_side side_of(const struct conn *c, const struct side *s)
{
	return s == &c->cs ? PROTO_CLIENT : PROTO_UPSTREAM;
}

/* A protocol module's output still to go, both sides. */
static size_t proto_backlog(struct conn *c)
{
	size_t n = 0;

	for (struct side *s = &c->cs; s; s = s == &c->cs ? &c->us : NULL) {
		n += c->pctx.out[side_of(c, s)].len + (s->tx_len - s->tx_off);
		if (s->tls)
			n += tls_out_pending(s->tls);
	}
	return n;
}

/*
 * A client certificate the agent's handshake verified (identity.client_ca)
 * is its presented identity, before the module sees its first byte; a
 * module may still take another (a token) later.
 */
static int proto_cert(struct conn *c)
{
	struct jwt_identity u = { 0 };
	char why[160];
	X509 *cert = tls_peer_cert(c->cs.tls);
	json_t *ev;

	c->po_cert = 1;
	if (!cert)
		return 0;
	if (x509id_from_cert(cert, &u, why, sizeof(why))) {
		conn_fail(c, "client certificate refused", why);
		return -1;
	}
	identity_set_user(&c->id, &u);
	ev = json_pack("{s:s, s:o}", "type", "identity", "user", identity_user_json(&c->id));
	session_event(&c->sess, ev);
	json_decref(ev);
	return 0;
}

/* The module may have verified a presented identity: show it. */
static void proto_user(struct conn *c)
{
	if (!c->id.user.user || c->info.user[0])
		return;
	pthread_mutex_lock(&reg.lock);
	snprintf(c->info.user, sizeof(c->info.user), "%s", c->id.user.user);
	pthread_mutex_unlock(&reg.lock);
}

/* Move one direction as far as it can go. Returns 0, or -1 when failed. */
static int dir_progress(struct conn *c, struct dir *d)
{
	struct side *src = d->src, *dst = d->dst;
	ssize_t n;

	for (;;) {
		if (d->len == 0) {
			if (!src->tls) {
				if (src->eof)
					break;
				side_recv(c, src);
				return 0;
			}
			n = tls_read(src->tls, d->plain, CONN_TLS_PLAIN);
			tls_event(c, src);
			/* handshake flights go out now; a failure's alert is sent
			 * by conn_fail() itself, before the socket is shut */
			if (n >= 0 || n == -EAGAIN || (src->eof && tls_done(src->tls)))
				side_flush(c, src);
			if (n == -EAGAIN && !src->eof) {
				side_recv(c, src);
				return 0;
			}
			if (n == -EAGAIN) {
				conn_fail(c, src == &c->cs ? "client TLS" : "upstream TLS",
					  "stream ended inside a TLS record");
				return -1;
			}
			if (n == 0 || (n == -EPROTO && src->eof && tls_done(src->tls))) {
				/* close_notify, or an EOF after a good handshake:
				 * either way the end of this direction */
				src->eof = 1;
				break;
			}
			if (n < 0) {
				conn_fail(c, src == &c->cs ? "client TLS" : "upstream TLS",
					  tls_error(src->tls));
				return -1;
			}
			d->len = n;
		}
		if (!d->recorded) {
			int meta = c->sess.metadata_only, r;

			/* a password on its way: where and when, not what */
			if (c->po && c->po->secret(c->ps, side_of(c, src)))
				c->sess.metadata_only = 1;
			r = session_chunk(&c->sess, &d->rec, d->store_dir, d->plain, d->len);
			c->sess.metadata_only = meta;
			d->recorded = 1;
			d->rec_wait = r != 2;
			d->may_send = r != 1;
		}
		if (c->po) {
			/* the module takes the plaintext; its output goes out
			 * through proto_progress() */
			if (!d->sent && d->may_send) {
				if (proto_backlog(c) > CONN_PROTO_BACKLOG)
					return 0;
				if (src == &c->cs && src->tls && !c->po_cert && proto_cert(c))
					return -1;
				if (c->po->input(c->ps, side_of(c, src), d->plain, d->len)) {
					conn_fail(c, c->po->name, c->pctx.why);
					return -1;
				}
				d->sent = 1;
				proto_user(c);
			}
		} else if (!d->sent && d->may_send && dst->ready) {
			if (dst->tls) {
				n = tls_write(dst->tls, d->plain, d->len);
				if (n == -EAGAIN)
					return 0;	/* its handshake is not done yet */
				if (n < 0) {
					conn_fail(c, "upstream TLS", tls_error(dst->tls));
					return -1;
				}
				d->sent = 1;
			} else if (side_idle_out(dst)) {
				dst->tx = d->plain;
				dst->tx_len = d->len;
				dst->tx_off = 0;
				d->sent = 2;	/* done once dst's send completes */
			}
		}
		if (!c->po)
			side_flush(c, dst);	/* also the rest after a short send */
		if (d->sent == 2 && side_idle_out(dst))
			d->sent = 1;
		/* the buffer comes back only when written and forwarded, and
		 * the next read waits until dst has sent what it holds */
		if (d->sent != 1 || d->rec_wait || (!c->po && !side_idle_out(dst)))
			return 0;
		__atomic_add_fetch(d->bytes, d->len, __ATOMIC_RELAXED);
		d->len = 0;
		d->recorded = d->sent = 0;
		if (d->bid >= 0) {
			loop_buf_put(c->loop, d->bid);
			d->bid = -1;
		}
	}
	/* a protocol session ends with either side's stream */
	if (c->po) {
		if (!(c->pctx.req & PROTO_REQ_CLOSE))
			c->po->input(c->ps, side_of(c, src), NULL, 0);
		c->pctx.req |= PROTO_REQ_CLOSE;
		return 0;
	}
	/* end of this direction: pass it on once everything is out */
	if (!dst->shut && dst->ready && side_idle_out(dst)) {
		if (dst->tls) {
			tls_shutdown(dst->tls);
			side_flush(c, dst);
			if (!side_idle_out(dst))
				return 0;
		}
		dst->shut = 1;
		shutdown(dst->fd, SHUT_WR);
	}
	return 0;
}

/* Open the upstream connection, marked so the bpf programs leave it be. */
static int connect_upstream(struct conn *c)
{
	static const int one = 1;
	const struct config *cfg = c->px->cfg;

	c->us.fd = socket(c->up_sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->us.fd < 0) {
		conn_fail(c, "upstream socket", strerror(errno));
		return -1;
	}
	if (setsockopt(c->us.fd, SOL_SOCKET, SO_MARK, &cfg->mark, sizeof(cfg->mark))) {
		conn_fail(c, "SO_MARK", strerror(errno));
		return -1;
	}
	setsockopt(c->us.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->deadline_ns = clock_mono_ns() + 1000000ull * cfg->timeouts.connect_ms;
	if (submit(c, loop_connect(c->loop, &c->h, OP_CONNECT, c->us.fd, (void *)&c->up_sa,
				   c->up_len)))
		return -1;
	return 0;
}

/* The presented identity: a client certificate the handshake verified. */
static int presented(struct conn *c, const struct cfg_target *t)
{
	struct jwt_identity u = { 0 };
	char why[160];
	X509 *cert = tls_peer_cert(c->cs.tls);
	json_t *ev;

	if (cert) {
		if (x509id_from_cert(cert, &u, why, sizeof(why))) {
			conn_fail(c, "client certificate refused", why);
			return -1;
		}
		identity_set_user(&c->id, &u);
		pthread_mutex_lock(&reg.lock);
		snprintf(c->info.user, sizeof(c->info.user), "%s", c->id.user.user);
		pthread_mutex_unlock(&reg.lock);
		ev = json_pack("{s:s, s:o}", "type", "identity", "user",
			       identity_user_json(&c->id));
		session_event(&c->sess, ev);
		json_decref(ev);
	} else if (!(t->client_auth & CLIENT_AUTH_KERNEL)) {
		conn_fail(c, "client certificate required", NULL);
		return -1;
	}
	return 0;
}

/*
 * A tcp target's one request is the connect itself: decided once the
 * caller is known (after its TLS handshake, when there is one), and only
 * an allowed connect reaches the upstream.
 */
static int decide(struct conn *c)
{
	const struct cfg_target *t = &c->px->cfg->targets[c->info.target];
	struct policy_request req = { .target = t->name, .kind = POLICY_REQ_CONNECT };
	struct session_decision d;
	char why[160];
	json_t *request;
	int ret = 0;

	c->decided = 1;
	if (c->cs.tls && presented(c, t))
		return -1;
	request = json_pack("{s:s}", "kind", "connect");
	if (!request) {
		conn_fail(c, "policy", "out of memory");
		return -1;
	}
	switch (session_decide(&c->sess, &req, request, &d)) {
	case POLICY_ALLOW:
		ret = connect_upstream(c);
		break;
	case POLICY_REVIEW:
		snprintf(why, sizeof(why), "approval %s pending (rule %s)", d.approval, d.rule);
		conn_fail(c, "review required", why);
		ret = -1;
		break;
	case POLICY_DENY:
		if (d.approval[0])
			snprintf(why, sizeof(why), "approval %s %s (rule %s)", d.approval,
				 d.approval_state < 0 ? "not recorded" : "denied", d.rule);
		else
			snprintf(why, sizeof(why), "rule %s", d.rule);
		conn_fail(c, "denied by policy", why);
		ret = -1;
		break;
	}
	session_decision_release(&d);
	json_decref(request);
	return ret;
}

static int handshakes_done(const struct conn *c)
{
	return (c->cs.tls && tls_done(c->cs.tls)) + (c->us.tls && tls_done(c->us.tls));
}

static void progress(struct conn *c)
{
	int hs, again = 0;

	if (c->closing) {
		maybe_free(c);
		return;
	}
	/* a handshake finished by one direction's read unblocks the other
	 * direction's write: look again until nothing changes */
	do {
		hs = handshakes_done(c);
		if (dir_progress(c, &c->up) || dir_progress(c, &c->down))
			return;
		if (c->po && (again = proto_progress(c)) < 0)
			return;
	} while (hs != handshakes_done(c) || again);
	if (!c->decided && (!c->cs.tls || tls_done(c->cs.tls)) && decide(c))
		return;
	if (c->deadline_ns && c->us.ready && (!c->cs.tls || tls_done(c->cs.tls)) &&
	    (!c->us.tls || tls_done(c->us.tls))) {
		c->deadline_ns = 0;	/* set up: idle timing from now on */
		c->idle_since_ns = clock_mono_ns();
	}
	if (c->cs.shut && c->us.shut && side_idle_out(&c->cs) && side_idle_out(&c->us))
		conn_fail(c, "closed", NULL);
}

static void on_recv(struct conn *c, struct side *s, struct dir *d, int res,
		    unsigned flags)
{
	int bid = loop_cqe_bid(flags);

	s->recv_busy = 0;
	if (res <= 0 && bid >= 0)
		loop_buf_put(c->loop, bid);
	if (res == -ENOBUFS) {
		/* every ring buffer is in use: this side waits its turn */
		s->starved = 1;
		n_starved++;
		return;
	}
	if (res < 0) {
		conn_fail(c, s == &c->cs ? "client recv" : "upstream recv",
			  strerror(-res));
		return;
	}
	if (res > 0 && bid < 0) {
		conn_fail(c, s->name, "receive completed without a buffer");
		return;
	}
	if (res == 0) {
		s->eof = 1;
		if (s->tls)
			tls_feed(s->tls, NULL, 0);
		return;
	}
	if (!s->tls) {
		/* zero-copy: this very buffer is recorded and forwarded */
		d->plain = loop_buf(c->loop, bid);
		d->bid = bid;
		d->len = res;
		return;
	}
	/* TLS copies into its own input; the ring buffer goes back at once */
	res = tls_feed(s->tls, loop_buf(c->loop, bid), res);
	loop_buf_put(c->loop, bid);
	if (res < 0)
		conn_fail(c, s->name, "TLS input refused");
}

static void on_send(struct conn *c, struct side *s, int res, unsigned flags)
{
	if (flags & LOOP_CQE_MORE) {
		s->zc_res = res;	/* the buffer is the kernel's until NOTIF */
		return;
	}
	if (flags & LOOP_CQE_NOTIF)
		res = s->zc_res;
	s->send_busy = 0;
	if (res <= 0) {
		conn_fail(c, s == &c->cs ? "client send" : "upstream send",
			  strerror(res ? -res : EPIPE));
		return;
	}
	s->tx_off += res;
}

static void conn_complete(struct loop_handler *h, unsigned op, int res,
			  unsigned flags)
{
	struct conn *c = (struct conn *)h;

	/* a zero-copy send completes twice; it is pending until the second */
	if (!(flags & LOOP_CQE_MORE))
		c->pending--;
	if (c->closing && (flags & LOOP_CQE_BUF))
		loop_buf_put(c->loop, loop_cqe_bid(flags));
	if (c->closing) {
		maybe_free(c);
		return;
	}
	switch (op) {
	case OP_CONNECT:
		if (res < 0) {
			conn_fail(c, "upstream connect", strerror(-res));
			return;
		}
		c->us.ready = 1;
		/* the handshakes (the agent's began at accept) now get their own time */
		c->deadline_ns = clock_mono_ns() + 1000000ull * c->px->cfg->timeouts.handshake_ms;
		break;
	case OP_RECV_C:
		on_recv(c, &c->cs, &c->up, res, flags);
		break;
	case OP_RECV_U:
		on_recv(c, &c->us, &c->down, res, flags);
		break;
	case OP_SEND_C:
		on_send(c, &c->cs, res, flags);
		break;
	case OP_SEND_U:
		on_send(c, &c->us, res, flags);
		break;
	}
	if (!c->closing)
		progress(c);
}

static void on_written(struct session *s, struct session_rec *r, int err)
{
	struct conn *c = (struct conn *)((char *)s - offsetof(struct conn, sess));
	struct dir *d = r == &c->up.rec ? &c->up : r == &c->down.rec ? &c->down : NULL;

	(void)err;	/* the session logs and marks a failed write */
	if (d) {
		d->rec_wait = 0;
		d->may_send = 1;
	}
	progress(c);
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

	if (getpeername(c->cs.fd, (void *)&peer, &plen) ||
	    getsockname(c->cs.fd, (void *)&local, &llen))
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
	err = identity_set_kernel(&c->id, c->info.k.uid, c->info.k.gid, c->info.k.pid_tgid,
				  c->info.k.comm, c->info.k.cgroup_id, c->info.k.netns_cookie,
				  cg, px->pods);
	free(cg);
	if (c->id.pod)
		snprintf(c->info.pod, sizeof(c->info.pod), "%s/%s", c->id.pod->ns,
			 c->id.pod->name);
	return err;
}

static json_t *kernel_json(const struct conn_info *i)
{
	return json_pack("{s:i, s:i, s:i, s:i, s:s, s:I, s:s, s:I, s:s?}",
			 "pid", (int)(i->k.pid_tgid >> 32),
			 "tid", (int)(uint32_t)i->k.pid_tgid,
			 "uid", (int)i->k.uid, "gid", (int)i->k.gid,
			 "comm", i->k.comm,
			 "cgroup_id", (json_int_t)i->k.cgroup_id,
			 "cgroup", i->cgroup,
			 "netns_cookie", (json_int_t)i->k.netns_cookie,
			 "pod", i->pod[0] ? i->pod : NULL);
}

static void side_init(struct side *s, const char *name, unsigned recv_op,
		      unsigned send_op)
{
	s->name = name;
	s->fd = -1;
	s->recv_op = recv_op;
	s->send_op = send_op;
}

/* TLS toward the agent with the target's certificate, from now on. */
static int tls_toward_client(struct conn *c, struct tls_server *srv)
{
	c->cs.tls = tls_conn_server(srv);
	c->cs.ct = malloc(CONN_TLS_CT);
	c->up.plain = malloc(CONN_TLS_PLAIN);
	if (!c->cs.tls || !c->cs.ct || !c->up.plain)
		return -ENOMEM;
	return 0;
}

/* TLS toward the upstream, verified, from now on. */
static int tls_toward_upstream(struct conn *c, struct tls_client *cli,
			       const struct cfg_target *t)
{
	{
		char host[64];
		const char *name = t->upstream_name;

		if (!name) {
			/* the address itself, without port or brackets */
			snprintf(host, sizeof(host), "%s", t->upstream.text);
			*strrchr(host, ':') = '\0';
			name = host[0] == '[' ? host + 1 : host;
			if (host[0] == '[')
				host[strlen(host) - 1] = '\0';
		}
		c->us.tls = tls_conn_client(cli, name);
		c->us.ct = malloc(CONN_TLS_CT);
		c->down.plain = malloc(CONN_TLS_PLAIN);
		if (!c->us.tls || !c->us.ct || !c->down.plain)
			return -ENOMEM;
	}
	return 0;
}

/* TLS objects and buffers for the sides the target wants encrypted. */
static int setup_tls(struct conn *c, const struct proxy *px, const struct cfg_target *t)
{
	struct tls_server *srv = px->tls_srv ? px->tls_srv[c->info.target] : NULL;
	struct tls_client *cli = px->tls_cli ? px->tls_cli[c->info.target] : NULL;

	if (srv && tls_toward_client(c, srv))
		return -ENOMEM;
	if (cli && tls_toward_upstream(c, cli, t))
		return -ENOMEM;
	return 0;
}

/* Hand a protocol module's output for side s to it (plain: swapped into
 * the send buffer when the last send is done; TLS: encrypted now). */
static int proto_flush(struct conn *c, struct side *s)
{
	struct proto_out *o = &c->pctx.out[side_of(c, s)], *fly = &c->fly[side_of(c, s)];

	if (!s->ready)
		return 0;
	if (o->len && s->tls) {
		ssize_t n = tls_write(s->tls, o->data, o->len);

		if (n < 0 && n != -EAGAIN) {	/* -EAGAIN: its handshake first */
			conn_fail(c, s == &c->cs ? "client TLS" : "upstream TLS", tls_error(s->tls));
			return -1;
		}
		if (n >= 0)
			o->len = 0;
	} else if (o->len && side_idle_out(s)) {
		struct proto_out t = *fly;

		*fly = *o;
		*o = t;
		o->len = 0;
		s->tx = fly->data;
		s->tx_len = fly->len;
		s->tx_off = 0;
	}
	side_flush(c, s);
	return 0;
}

/*
 * Carry out what a protocol module asked for. Returns 1 when something
 * changed that the directions should look at again, 0, or -1 when the
 * connection failed or closed.
 */
static int proto_progress(struct conn *c)
{
	const struct proxy *px = c->px;
	const struct cfg_target *t = &px->cfg->targets[c->info.target];
	struct proto_ctx *x = &c->pctx;
	int again = 0;

	if (x->req & PROTO_REQ_CONNECT) {
		x->req &= ~PROTO_REQ_CONNECT;
		if (connect_upstream(c))
			return -1;
	}
	if (c->us.ready && !c->po_connected) {
		c->po_connected = again = 1;
		if (c->po->connected(c->ps)) {
			conn_fail(c, c->po->name, x->why);
			return -1;
		}
	}
	if (proto_flush(c, &c->cs) || proto_flush(c, &c->us))
		return -1;
	/* TLS starts once what goes before it in clear is out of the way
	 * and no plaintext of that side is held */
	if ((x->req & PROTO_REQ_TLS_CLIENT) && !x->out[PROTO_CLIENT].len && c->up.len == 0 &&
	    !c->cs.tls) {
		x->req &= ~PROTO_REQ_TLS_CLIENT;
		if (tls_toward_client(c, px->tls_srv[c->info.target])) {
			conn_fail(c, "client TLS", "out of memory");
			return -1;
		}
		c->deadline_ns = clock_mono_ns() + 1000000ull * px->cfg->timeouts.handshake_ms;
		again = 1;
	}
	if ((x->req & PROTO_REQ_TLS_UPSTREAM) && c->down.len == 0 && !c->us.tls) {
		x->req &= ~PROTO_REQ_TLS_UPSTREAM;
		if (tls_toward_upstream(c, px->tls_cli[c->info.target], t)) {
			conn_fail(c, "upstream TLS", "out of memory");
			return -1;
		}
		again = 1;
	}
	if ((x->req & PROTO_REQ_CLOSE) && !proto_backlog(c) && side_idle_out(&c->cs) &&
	    (c->us.fd < 0 || side_idle_out(&c->us))) {
		if (x->why[0])
			conn_fail(c, c->po->name, x->why);
		else
			conn_fail(c, "closed", NULL);
		return -1;
	}
	return again;
}

void conn_accepted(struct loop *l, struct session_worker *sw,
		   const struct proxy *px, int fd)
{
	static const int one = 1;
	const struct cfg_target *t;
	json_t *meta;
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
	c->sw = sw;
	c->px = px;
	side_init(&c->cs, "client", OP_RECV_C, OP_SEND_C);
	side_init(&c->us, "upstream", OP_RECV_U, OP_SEND_U);
	c->cs.fd = fd;
	c->cs.ready = 1;
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
	c->us.zc = !addr_is_loopback(t->upstream.addr);
	c->up = (struct dir){ .src = &c->cs, .dst = &c->us, .store_dir = STORE_DIR_UP,
			      .bid = -1, .bytes = &c->info.bytes_up };
	c->down = (struct dir){ .src = &c->us, .dst = &c->cs, .store_dir = STORE_DIR_DOWN,
				.bid = -1, .bytes = &c->info.bytes_down };
	c->sess.on_written = on_written;
	c->sess.id = &c->id;
	c->deadline_ns = clock_mono_ns() + 1000000ull * px->cfg->timeouts.connect_ms;
	reg_add(c);

	meta = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:b, s:b}",
			 "target", t->name, "kind", c->info.kind,
			 "client", c->info.client, "original", c->info.original,
			 "upstream", c->info.upstream, "conn", (json_int_t)c->info.id,
			 "kernel", identity_kernel_json(&c->id),
			 "tls_client", px->tls_srv && px->tls_srv[c->info.target],
			 "tls_upstream", px->tls_cli && px->tls_cli[c->info.target]);
	if (meta)
		session_begin(&c->sess, sw, meta);
	json_decref(meta);
	session_id(&c->sess, c->info.session);
	log_info("connection", "{s:I, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:s, s:I}",
		 "conn", (json_int_t)c->info.id, "target", t->name,
		 "session", c->info.session,
		 "client", c->info.client, "original", c->info.original,
		 "upstream", c->info.upstream,
		 "pid", (int)(c->info.k.pid_tgid >> 32),
		 "uid", (int)c->info.k.uid, "gid", (int)c->info.k.gid,
		 "comm", c->info.k.comm, "cgroup", c->info.cgroup,
		 "cgroup_id", (json_int_t)c->info.k.cgroup_id);

	if (t->kind == TARGET_POSTGRES || t->kind == TARGET_KUBERNETES) {
		/* the module decides per statement (request) and opens the
		 * upstream itself; TLS starts when its protocol says so */
		c->po = t->kind == TARGET_POSTGRES ? &pg_proto_ops : &k8s_proto_ops;
		c->decided = 1;
		c->pctx = (struct proto_ctx){
			.sess = &c->sess, .id = &c->id, .px = px, .target = c->info.target,
			.tls_client_ok = px->tls_srv && px->tls_srv[c->info.target],
			.tls_upstream = px->tls_cli && px->tls_cli[c->info.target],
		};
		c->ps = c->po->open(&c->pctx);
		if (!c->ps) {
			c->po = NULL;
			conn_fail(c, "protocol setup", "out of memory");
			return;
		}
	} else if (setup_tls(c, px, t)) {
		conn_fail(c, "TLS setup", "out of memory");
		return;
	}
	/* a relay must not add Nagle's delay to what the peers already wait
	 * for: each send carries what one side wrote, as soon as it may go */
	setsockopt(c->cs.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* the agent's handshake (if any) runs first: its certificate may be
	 * what policy decides on, and nothing goes upstream before that */
	if (c->cs.tls)
		c->deadline_ns = clock_mono_ns() + 1000000ull * px->cfg->timeouts.handshake_ms;
	progress(c);
}

void conn_tick(struct loop *l)
{
	struct conn *expired[64];
	const char *why[64];
	size_t n = 0;
	uint64_t now = clock_mono_ns();

	pthread_mutex_lock(&reg.lock);
	for (struct conn *c = reg.live; c && n < 64; c = c->next) {
		const struct config *cfg;

		if (c->loop != l || c->closing)
			continue;
		cfg = c->px->cfg;
		if (c->deadline_ns && now > c->deadline_ns) {
			expired[n] = c;
			why[n++] = c->decided && !c->us.ready ? "upstream connect timed out" :
				   "TLS handshake timed out";
		} else if (!c->deadline_ns) {
			uint64_t bytes = c->info.bytes_up + c->info.bytes_down;

			if (bytes != c->idle_bytes) {
				c->idle_bytes = bytes;
				c->idle_since_ns = now;
			} else if (now - c->idle_since_ns >
				   (uint64_t)cfg->timeouts.idle_ms * 1000000ull) {
				expired[n] = c;
				why[n++] = "idle timeout";
			}
		}
	}
	pthread_mutex_unlock(&reg.lock);
	for (size_t i = 0; i < n; i++)
		conn_fail(expired[i], why[i], NULL);
}

/*
 * This loop's connections, collected under the lock. Only this loop's
 * thread frees them, so the pointers stay good after the lock is let go;
 * other workers' entries are never touched. Caller frees the array.
 */
static struct conn **collect(struct loop *l, size_t *n)
{
	struct conn **all = NULL;
	size_t cap = 0;

	*n = 0;
	pthread_mutex_lock(&reg.lock);
	for (struct conn *c = reg.live; c; c = c->next) {
		if (c->loop != l)
			continue;
		if (*n == cap) {
			struct conn **p = realloc(all, (cap = cap * 2 + 16) * sizeof(*all));

			if (!p)
				break;
			all = p;
		}
		all[(*n)++] = c;
	}
	pthread_mutex_unlock(&reg.lock);
	return all;
}

void conn_retry_starved(struct loop *l)
{
	struct conn **all;
	size_t n;

	if (!n_starved)
		return;
	all = collect(l, &n);
	for (size_t i = 0; i < n; i++) {
		struct conn *c = all[i];
		int was = c->cs.starved || c->us.starved;

		n_starved -= c->cs.starved + c->us.starved;
		c->cs.starved = c->us.starved = 0;
		if (was && !c->closing)
			progress(c);
	}
	free(all);
}

void conn_close_all(struct loop *l, const char *why)
{
	size_t n;
	struct conn **all = collect(l, &n);

	for (size_t i = 0; i < n; i++)
		if (!all[i]->closing)
			conn_fail(all[i], why, NULL);
	free(all);
}

unsigned conn_count(struct loop *l)
{
	unsigned n = 0;

	pthread_mutex_lock(&reg.lock);
	for (struct conn *c = reg.live; c; c = c->next)
		n += c->loop == l;
	pthread_mutex_unlock(&reg.lock);
	return n;
}

void conn_abort_all(struct loop *l)
{
	size_t n;
	struct conn **all = collect(l, &n);

	for (size_t i = 0; i < n; i++) {
		set_reason(all[i], "%s%s", "daemon shutting down", "");
		conn_free(all[i]);
	}
	free(all);
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
	return json_pack("{s:I, s:s, s:s, s:s, s:s?, s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:o, s:o, s:o}",
			 "id", (json_int_t)i->id,
			 "target", i->target_name, "kind", i->kind,
			 "state", i->open ? "open" : "closed",
			 "session", i->session[0] ? i->session : NULL,
			 "client", i->client, "original", i->original,
			 "upstream", i->upstream, "start", start,
			 "end", i->open ? json_null() : json_string(end),
			 "bytes_up", (json_int_t)__atomic_load_n(&i->bytes_up, __ATOMIC_RELAXED),
			 "bytes_down", (json_int_t)__atomic_load_n(&i->bytes_down, __ATOMIC_RELAXED),
			 "close_reason", i->reason[0] ? json_string(i->reason) : json_null(),
			 "kernel", kernel_json(i),
			 "user", i->user[0] ? json_pack("{s:s}", "name", i->user) : json_null());
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
