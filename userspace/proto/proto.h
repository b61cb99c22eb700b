/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The one hook conn.c has for targets that speak a protocol sluice
 * understands (DESIGN §1a, §2): a protocol module sees the plaintext each
 * side sent, after conn.c has recorded it, and answers with bytes for
 * either side (passed-through messages, rewritten ones, its own) and with
 * requests conn.c carries out: open the upstream, start TLS on a side,
 * close once everything queued has gone. The module never touches the
 * ring, OpenSSL, the store or the bpf maps; it decides and records
 * through session.c.
 *
 * tcp targets have no module and keep conn.c's zero-copy relay.
 */
#ifndef SLUICE_PROTO_H
#define SLUICE_PROTO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct session;
struct identity;
struct proxy;

enum proto_side { PROTO_CLIENT = 0, PROTO_UPSTREAM = 1 };

/* Requests from the module, carried out by conn.c as soon as it can. */
#define PROTO_REQ_CONNECT	0x1u	/* open the upstream (marked socket) */
#define PROTO_REQ_TLS_CLIENT	0x2u	/* what is queued for the client goes
					 * in clear, then TLS with the
					 * target's certificate */
#define PROTO_REQ_TLS_UPSTREAM	0x4u	/* TLS toward the upstream, verified */
#define PROTO_REQ_CLOSE		0x8u	/* close once all output is out; why
					 * says why ("" a normal end) */

/* Output toward one side: the module appends, conn.c takes it whole. */
struct proto_out {
	uint8_t *data;
	size_t len, cap;
};

/* Appends n bytes; 0 or -ENOMEM. Never grows past PROTO_OUT_MAX. */
#define PROTO_OUT_MAX (256u << 20)
static inline int proto_out_append(struct proto_out *o, const void *p, size_t n)
{
	if (o->len + n > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		uint8_t *d;

		while (cap < o->len + n)
			cap *= 2;
		if (cap > PROTO_OUT_MAX)
			return -ENOMEM;
		d = realloc(o->data, cap);
		if (!d)
			return -ENOMEM;
		o->data = d;
		o->cap = cap;
	}
	memcpy(o->data + o->len, p, n);
	o->len += n;
	return 0;
}

/* What conn.c and a module share for one connection. */
struct proto_ctx {
	/* set by conn.c, borrowed by the module */
	struct session *sess;
	struct identity *id;
	const struct proxy *px;
	unsigned target;		/* index into px->cfg->targets */
	int tls_client_ok;		/* the target has a certificate for agents */
	int tls_upstream;		/* the target wants TLS toward its upstream */
	/* set by the module */
	struct proto_out out[2];	/* indexed by enum proto_side */
	unsigned req;			/* PROTO_REQ_* not yet carried out */
	char why[256];			/* close reason */
};

struct proto_ops {
	const char *name;
	/* Per-connection state, or NULL with errno. ctx outlives it. */
	void *(*open)(struct proto_ctx *ctx);
	/*
	 * Plaintext from a side (borrowed for the call: keep what is needed).
	 * Returns 0, or -errno with ctx->why set: the connection then fails
	 * at once (output still queued is dropped; a module that wants an
	 * error delivered queues it and requests PROTO_REQ_CLOSE instead).
	 * p NULL: the stream from side ended (the connection will close once
	 * its output is out); the module may set ctx->why to say how.
	 */
	int (*input)(void *st, enum proto_side side, const uint8_t *p, size_t len);
	/* The upstream connected (0), or the stream from side ended. */
	int (*connected)(void *st);
	/* 1 when what side sends next may hold a secret (a password): its
	 * chunk is then recorded without its bytes. */
	int (*secret)(void *st, enum proto_side side);
	void (*close)(void *st);
};

extern const struct proto_ops pg_proto_ops;
extern const struct proto_ops k8s_proto_ops;

#endif
