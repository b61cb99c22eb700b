/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A worker: one thread, one io_uring loop, its own SO_REUSEPORT listeners
 * on every proxy address, so the kernel spreads accepts across workers.
 */
#ifndef SLUICE_WORKER_H
#define SLUICE_WORKER_H

struct proxy;
struct worker;

/*
 * Create the loop and bind the listeners (so a bad address fails before
 * the daemon says it is ready). Returns the worker (caller frees with
 * worker_free()) or NULL with errno set; *what names what failed.
 */
struct worker *worker_new(const struct proxy *px, int index, const char **what);

/* Run the worker on its own thread until *stop. Returns 0 or -errno. */
int worker_start(struct worker *w, const volatile int *stop);

/* Join the thread (if started), close its connections and listeners. Accepts NULL. */
void worker_free(struct worker *w);

#endif
