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
	/* res: the operation's result (>= 0) or -errno; flags: LOOP_CQE_* */
	void (*complete)(struct loop_handler *h, unsigned op, int res,
			 unsigned flags);
} __attribute__((aligned(8)));

#define LOOP_CQE_MORE	0x1u	/* stays armed, will complete again (multishot) */
#define LOOP_CQE_BUF	0x2u	/* a ring buffer was used: loop_cqe_bid() */
#define LOOP_CQE_NOTIF	0x4u	/* a zero-copy send's buffer is free again */
static inline int loop_cqe_bid(unsigned flags)
{
	return flags & LOOP_CQE_BUF ? (int)(flags >> 16) : -1;
}

#define LOOP_OP_MAX 8

enum loop_feature {
	LOOP_F_MULTISHOT_ACCEPT = 1u << 0,
	LOOP_F_SEND_ZC		= 1u << 1,
	LOOP_F_BUF_RING		= 1u << 2,
};

/*
 * A loop with `entries` submission slots and a provided-buffer ring of
 * nbufs (a power of two) buffers of buf_size bytes. Returns NULL, errno
 * set, on error (EOPNOTSUPP: the kernel has no buffer rings, Linux < 5.19).
 * Caller frees with loop_free().
 */
struct loop *loop_new(unsigned entries, unsigned nbufs, unsigned buf_size);
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
/*
 * With zc set, large sends go zero-copy where the kernel has it: the
 * completion then comes with LOOP_CQE_MORE, and the buffer is free only at
 * the second completion, flagged LOOP_CQE_NOTIF (whose res carries
 * nothing). Over loopback the kernel copies anyway, so callers ask for it
 * only toward other hosts.
 */
int loop_send(struct loop *l, struct loop_handler *h, unsigned op, int fd,
	      const void *buf, size_t len, int zc);
/*
 * Receive into a buffer the kernel picks from this loop's ring when data
 * arrives, so an idle connection holds no receive buffer. The completion
 * carries LOOP_CQE_BUF and the buffer id; the caller owns that buffer
 * until loop_buf_put(). -ENOBUFS: the ring is empty, try again later.
 */
int loop_recv_buf(struct loop *l, struct loop_handler *h, unsigned op, int fd);
void *loop_buf(struct loop *l, int bid);
void loop_buf_put(struct loop *l, int bid);
/* Size of each ring buffer; buffers handed out right now. */
unsigned loop_buf_size(const struct loop *l);
unsigned loop_bufs_out(const struct loop *l);

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
