/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Prometheus text metrics (DESIGN §10) on the configured "metrics"
 * address: GET /metrics, one short-lived HTTP/1.0-style exchange per
 * connection, on a thread of its own (like the control socket, it is off
 * the proxy's path and needs no ring). It reads what the control socket
 * reads, through the same view.
 */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

struct ctl_view;
struct metrics;

/* Listen on view->cfg->metrics and serve until metrics_stop(). Returns
 * NULL with errno set. view is borrowed and must outlive the thread. */
struct metrics *metrics_start(struct ctl_view *view);

/* Stop the thread and close the socket. Accepts NULL. */
void metrics_stop(struct metrics *m);

#endif
