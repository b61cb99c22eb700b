/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One proxied connection: identify the caller from the redirect record,
 * terminate TLS toward it with the target's certificate, connect to the
 * upstream with the daemon's mark (and TLS with the held credential),
 * record every plaintext chunk through session.c and relay it with
 * backpressure: a direction reads again only once what it read has been
 * recorded (strict) and sent. Plus the registry of live and recently
 * closed connections that the control socket shows.
 */
#ifndef SLUICE_CONN_H
#define SLUICE_CONN_H

#include <stdint.h>
#include <jansson.h>

struct loop;
struct config;
struct redirect;
struct session_worker;
struct tls_server;
struct tls_client;
struct pod_table;
struct jwt_verifier;

/* What every worker shares, read-only once workers run. */
struct proxy {
	const struct config *cfg;
	struct redirect *rd;
	const char *cgroup_mount;
	struct tls_server **tls_srv;	/* per target, NULL: plain toward the agent */
	struct tls_client **tls_cli;	/* per target, NULL: plain upstream */
	struct pod_table *pods;		/* kernel identity: the caller's pod */
	struct jwt_verifier *jwt;	/* presented tokens; NULL: no issuers */
};

/* Receive buffers (from the worker's ring): large, so that a busy
 * connection moves and records big chunks; an idle one holds none. */
#define CONN_RX_BYTES 65536
/* TLS staging, per TLS side: one record's plaintext, one record's
 * ciphertext with its header, tag and padding. */
#define CONN_TLS_PLAIN 16384
#define CONN_TLS_CT (16384 + 512)

/*
 * Take ownership of an accepted socket and start proxying it on loop l,
 * recording through sw. On any failure the socket is closed and logged;
 * never fails visibly. The connection frees itself when done.
 */
void conn_accepted(struct loop *l, struct session_worker *sw,
		   const struct proxy *px, int fd);

/* Expire connections of loop l whose connect, handshake or idle time ran out. */
void conn_tick(struct loop *l);

/* Fail every connection of loop l with `why`; they end and free as usual. */
void conn_close_all(struct loop *l, const char *why);

/* Give connections that found the buffer ring empty another go. */
void conn_retry_starved(struct loop *l);

/* Live connections on loop l. */
unsigned conn_count(struct loop *l);

/*
 * Close every connection of loop l and free them, without waiting for
 * completions: for shutdown, after the loop has stopped and the store
 * has written everything it was given.
 */
void conn_abort_all(struct loop *l);

/*
 * Registry views for the control socket. conn_list_json returns a new
 * array (caller decrefs) of live connections, plus the most recent closed
 * ones when include_closed.
 */
json_t *conn_list_json(int include_closed);
/* Active and total connection counts of one target, or of all (target < 0). */
void conn_counts(long target, uint64_t *active, uint64_t *total);

#endif
