/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The only owner of io_uring. One loop per worker thread. Callers embed a
 * struct loop_handler in their own state; each submitted operation carries
 * the handler and a small op number (0..7) packed into user_data, and its
 * completion comes back through the handler's one dispatch function. The
 * loop knows nothing of what the bytes mean.
 */
#ifndef SLUICE_LOOP_H
#define SLUICE_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct loop;

struct loop_handler {
	/* res: the operation's result (>= 0) or -errno; more: the operation
	 * stays armed and will complete again (multishot) */
	void (*complete)(struct loop_handler *h, unsigned op, int res, int more);
} __attribute__((aligned(8)));

#define LOOP_OP_MAX 8

enum loop_feature {
	LOOP_F_MULTISHOT_ACCEPT = 1u << 0,
	LOOP_F_SEND_ZC		= 1u << 1,
};

/* A loop with `entries` submission slots. Returns NULL, errno set, on error.
 * Caller frees with loop_free(). */
struct loop *loop_new(unsigned entries);
void loop_free(struct loop *l);

/* The features probed at loop_new(). */
unsigned loop_features(const struct loop *l);

/*
 * Queue operations. Each returns 0 or -errno (-EBUSY: no free submission
 * slot even after flushing). Buffers and addresses are borrowed until the
 * completion arrives. Accept completes with the new fd; with the multishot
 * feature one submission keeps accepting (`more` set) until it fails.
 */
int loop_accept(struct loop *l, struct loop_handler *h, unsigned op, int fd);
int loop_connect(struct loop *l, struct loop_handler *h, unsigned op, int fd,
		 const struct sockaddr *sa, socklen_t len);
int loop_recv(struct loop *l, struct loop_handler *h, unsigned op, int fd,
	      void *buf, size_t len);
int loop_send(struct loop *l, struct loop_handler *h, unsigned op, int fd,
	      const void *buf, size_t len);
int loop_read(struct loop *l, struct loop_handler *h, unsigned op, int fd,
	      void *buf, size_t len);
/* Relative timeout; completes with -ETIME when it fires, -ECANCELED if cancelled. */
int loop_timeout(struct loop *l, struct loop_handler *h, unsigned op,
		 unsigned ms);
/* Cancel every pending operation on fd. */
int loop_cancel_fd(struct loop *l, int fd);

/*
 * Submit what is queued, wait up to wake_ms for at least one completion,
 * and dispatch every completion there is. Returns 0 or -errno.
 */
int loop_run_once(struct loop *l, unsigned wake_ms);

#endif
