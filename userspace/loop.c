// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <liburing.h>

#include "loop.h"

#define LOOP_BGID 1
#define LOOP_ZC_MIN 8192

struct loop {
	struct io_uring ring;
	unsigned features;
	struct io_uring_buf_ring *br;
	uint8_t *bufs;
	unsigned nbufs, buf_size, out;
};

static struct io_uring_sqe *sqe_get(struct loop *l);

static inline uint64_t pack(struct loop_handler *h, unsigned op)
{
	return (uint64_t)(uintptr_t)h | (op & (LOOP_OP_MAX - 1));
}

/* user_data 0 marks operations whose completion nobody waits for */
static void dispatch(struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	struct loop_handler *h = (void *)(uintptr_t)(ud & ~(uint64_t)(LOOP_OP_MAX - 1));

	unsigned f = 0;

	if (!h)
		return;
	if (cqe->flags & IORING_CQE_F_MORE)
		f |= LOOP_CQE_MORE;
	if (cqe->flags & IORING_CQE_F_NOTIF)
		f |= LOOP_CQE_NOTIF;
	if (cqe->flags & IORING_CQE_F_BUFFER)
		f |= LOOP_CQE_BUF | (cqe->flags >> IORING_CQE_BUFFER_SHIFT) << 16;
	h->complete(h, ud & (LOOP_OP_MAX - 1), cqe->res, f);
}

/* Features are probed, not assumed: liburing 2.3 and older kernels. */
static unsigned probe(struct io_uring *ring)
{
	struct io_uring_probe *p = io_uring_get_probe_ring(ring);
	unsigned f = 0;

	if (!p)
		return 0;
	/* multishot accept came with IORING_OP_SEND_ZC's kernel or earlier
	 * (5.19); 6.0 added SEND_ZC itself */
	if (io_uring_opcode_supported(p, IORING_OP_SEND_ZC))
		f |= LOOP_F_SEND_ZC | LOOP_F_MULTISHOT_ACCEPT;
	else if (io_uring_opcode_supported(p, IORING_OP_SOCKET))
		f |= LOOP_F_MULTISHOT_ACCEPT;
	io_uring_free_probe(p);
	return f;
}

/* Register the provided-buffer ring and hand every buffer to the kernel. */
static int bufs_init(struct loop *l, unsigned nbufs, unsigned size)
{
	struct io_uring_buf_reg reg = {};
	size_t ring_bytes = nbufs * sizeof(struct io_uring_buf);
	int err;

	if (!nbufs || (nbufs & (nbufs - 1)) || nbufs > 32768)
		return -EINVAL;
	if (posix_memalign((void **)&l->br, 4096, ring_bytes))
		return -ENOMEM;
	memset(l->br, 0, ring_bytes);
	/* the buffers' pages are touched only when the kernel fills them */
	l->bufs = malloc((size_t)nbufs * size);
	if (!l->bufs)
		return -ENOMEM;
	reg.ring_addr = (uintptr_t)l->br;
	reg.ring_entries = nbufs;
	reg.bgid = LOOP_BGID;
	err = io_uring_register_buf_ring(&l->ring, &reg, 0);
	if (err)
		return err == -EINVAL ? -EOPNOTSUPP : err;
	l->nbufs = nbufs;
	l->buf_size = size;
	io_uring_buf_ring_init(l->br);
	for (unsigned i = 0; i < nbufs; i++)
		io_uring_buf_ring_add(l->br, l->bufs + (size_t)i * size, size, i,
				      io_uring_buf_ring_mask(nbufs), i);
	io_uring_buf_ring_advance(l->br, nbufs);
	l->features |= LOOP_F_BUF_RING;
	return 0;
}

struct loop *loop_new(unsigned entries, unsigned nbufs, unsigned buf_size)
{
	struct loop *l = calloc(1, sizeof(*l));
	int err;

	if (!l)
		return NULL;
	err = io_uring_queue_init(entries, &l->ring, 0);
	if (err) {
		free(l);
		errno = -err;
		return NULL;
	}
	l->features = probe(&l->ring);
	err = bufs_init(l, nbufs, buf_size);
	if (err) {
		loop_free(l);
		errno = -err;
		return NULL;
	}
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	io_uring_queue_exit(&l->ring);
	free(l->br);
	free(l->bufs);
	free(l);
}

int loop_recv_buf(struct loop *l, struct loop_handler *h, unsigned op, int fd)
{
	struct io_uring_sqe *sqe = sqe_get(l);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_recv(sqe, fd, NULL, l->buf_size, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = LOOP_BGID;
	io_uring_sqe_set_data64(sqe, pack(h, op));
	return 0;
}

void *loop_buf(struct loop *l, int bid)
{
	return l->bufs + (size_t)bid * l->buf_size;
}

void loop_buf_put(struct loop *l, int bid)
{
	if (bid < 0 || (unsigned)bid >= l->nbufs)
		return;
	io_uring_buf_ring_add(l->br, loop_buf(l, bid), l->buf_size, bid,
			      io_uring_buf_ring_mask(l->nbufs), 0);
	io_uring_buf_ring_advance(l->br, 1);
	l->out--;
}

unsigned loop_buf_size(const struct loop *l)
{
	return l->buf_size;
}

unsigned loop_bufs_out(const struct loop *l)
{
	return l->out;
}

unsigned loop_features(const struct loop *l)
{
	return l->features;
}

/* A free SQE, flushing queued ones to the kernel when the ring is full. */
static struct io_uring_sqe *sqe_get(struct loop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	if (!sqe && io_uring_submit(&l->ring) >= 0)
		sqe = io_uring_get_sqe(&l->ring);
	return sqe;
}

int loop_accept(struct loop *l, struct loop_handler *h, unsigned op, int fd)
{
	struct io_uring_sqe *sqe = sqe_get(l);

	if (!sqe)
		return -EBUSY;
	if (l->features & LOOP_F_MULTISHOT_ACCEPT)
		io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
	else
		io_uring_prep_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, pack(h, op));
	return 0;
}

int loop_connect(struct loop *l, struct loop_handler *h, unsigned op, int fd,
		 const struct sockaddr *sa, socklen_t len)
{
	struct io_uring_sqe *sqe = sqe_get(l);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_connect(sqe, fd, sa, len);
	io_uring_sqe_set_data64(sqe, pack(h, op));
	return 0;
}

int loop_recv(struct loop *l, struct loop_handler *h, unsigned op, int fd,
	      void *buf, size_t len)
{
	struct io_uring_sqe *sqe = sqe_get(l);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_recv(sqe, fd, buf, len, 0);
	io_uring_sqe_set_data64(sqe, pack(h, op));
	return 0;
}

int loop_send(struct loop *l, struct loop_handler *h, unsigned op, int fd,
	      const void *buf, size_t len, int zc)
{
	struct io_uring_sqe *sqe = sqe_get(l);

	if (!sqe)
		return -EBUSY;
	/* below a few pages, pinning them costs more than the copy saves */
	if (zc && (l->features & LOOP_F_SEND_ZC) && len >= LOOP_ZC_MIN)
		io_uring_prep_send_zc(sqe, fd, buf, len, MSG_NOSIGNAL, 0);
	else
		io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, pack(h, op));
	return 0;
}

int loop_read(struct loop *l, struct loop_handler *h, unsigned op, int fd,
	      void *buf, size_t len)
{
	struct io_uring_sqe *sqe = sqe_get(l);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, fd, buf, len, 0);
	io_uring_sqe_set_data64(sqe, pack(h, op));
	return 0;
}

int loop_timeout(struct loop *l, struct loop_handler *h, unsigned op,
		 unsigned ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long long)(ms % 1000) * 1000000,
	};
	struct io_uring_sqe *sqe = sqe_get(l);
	int ret;

	if (!sqe)
		return -EBUSY;
	io_uring_prep_timeout(sqe, &ts, 0, 0);
	io_uring_sqe_set_data64(sqe, pack(h, op));
	/* the kernel reads ts at submission: submit while it is in scope */
	ret = io_uring_submit(&l->ring);
	return ret < 0 ? ret : 0;
}

int loop_cancel_fd(struct loop *l, int fd)
{
	struct io_uring_sqe *sqe = sqe_get(l);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data64(sqe, 0);
	return 0;
}

int loop_run_once(struct loop *l, unsigned wake_ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = wake_ms / 1000,
		.tv_nsec = (long long)(wake_ms % 1000) * 1000000,
	};
	struct io_uring_cqe *cqe;
	unsigned head, n;
	int ret;

	ret = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
	if (ret < 0 && ret != -ETIME && ret != -EINTR)
		return ret;
	n = 0;
	io_uring_for_each_cqe(&l->ring, head, cqe) {
		if (cqe->flags & IORING_CQE_F_BUFFER)
			l->out++;
		dispatch(cqe);
		n++;
	}
	io_uring_cq_advance(&l->ring, n);
	return 0;
}
