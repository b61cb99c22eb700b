/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A worker: one thread, one io_uring loop, its own SO_REUSEPORT listeners
 * on every proxy address (the kernel spreads accepts across workers), and
 * its own mailbox from the recorder.
 */
#ifndef SLUICE_WORKER_H
#define SLUICE_WORKER_H

struct proxy;
struct store;
struct worker;

/*
 * Create the loop and bind the listeners (so a bad address fails before
 * the daemon says it is ready). st may be NULL (recording off). Returns
 * the worker or NULL with errno set; *what names what failed.
 */
struct worker *worker_new(const struct proxy *px, struct store *st, int index,
			  const char **what);

/*
 * Run the worker on its own thread. When *stop becomes nonzero it stops
 * accepting, lets its connections finish for drain_ms, then closes what
 * is left (their sessions end with that reason) and returns.
 */
int worker_start(struct worker *w, const volatile int *stop);

/* Wait for the thread to return. */
void worker_join(struct worker *w);

/* Close what is left and free; after worker_join() and after the store
 * has been closed (no record of ours is in flight). Accepts NULL. */
void worker_free(struct worker *w);

#endif
