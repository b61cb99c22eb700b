/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The daemon's side of the control socket (protocol: lib/ctl_client.h).
 * One thread; each request is one short-lived connection from root.
 */
#ifndef SLUICE_CTL_H
#define SLUICE_CTL_H

#include <stdint.h>
#include <time.h>

struct config;
struct redirect;
struct store;
struct exporter;
struct pod_table;

/* What the control socket reports; borrowed, must outlive the ctl thread. */
struct ctl_view {
	const struct config *cfg;
	struct redirect *rd;
	struct store *st;		/* NULL: recording off */
	struct exporter *ex;		/* NULL: no export sinks */
	struct pod_table *pods;		/* static map + pod cache */
	const char *cgroup;		/* attach point */
	time_t started;
	int workers;
	uint64_t gaps_bypassed;		/* updated atomically by the daemon */
	uint64_t gaps_refused;
};

struct ctl;

/*
 * Bind the socket at view->cfg->control (mode 0600, parent created 0700)
 * and serve on a thread until ctl_stop(). Returns NULL with errno set.
 */
struct ctl *ctl_start(struct ctl_view *view);

/* Stop the thread, remove the socket file. Accepts NULL. */
void ctl_stop(struct ctl *c);

#endif
