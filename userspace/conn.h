/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One proxied connection: identify the caller from the redirect record,
 * connect to the target's upstream with the daemon's mark, relay bytes both
 * ways with backpressure (a direction reads again only once what it read
 * has been sent), half-close, and a registry of live and recently closed
 * connections for the control socket.
 */
#ifndef SLUICE_CONN_H
#define SLUICE_CONN_H

#include <stdint.h>
#include <jansson.h>

struct loop;
struct config;
struct redirect;

/* What every worker shares, read-only once workers run. */
struct proxy {
	const struct config *cfg;
	struct redirect *rd;
	const char *cgroup_mount;
};

/* The bytes a connection holds per direction: memory per connection is
 * two of these plus sizeof(struct conn), stated in the README. */
#define CONN_BUF_BYTES 16384

struct conn;

/*
 * Take ownership of an accepted socket and start proxying it on loop l.
 * On any failure the socket is closed, logged and counted; never fails
 * visibly. The connection frees itself when done.
 */
void conn_accepted(struct loop *l, const struct proxy *px, int fd);

/*
 * Close every connection owned by loop l and free them, without waiting
 * for completions: for shutdown, after the loop has stopped running.
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
