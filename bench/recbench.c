// SPDX-License-Identifier: BSD-2-Clause
/*
 * recbench: the recorder alone (userspace/store.c), as the proxy drives it
 * in store.mode strict, without any network.
 *
 *   recbench DIR BYTES CHUNK THREADS WINDOW
 *
 * Opens a fresh store in DIR (mode strict, sync_ms 20, seal key DIR/seal.key)
 * and starts THREADS producers, each one session, like one proxy worker
 * each. A producer fills records of CHUNK bytes (store_rec_fill: header and
 * SHA-256 chain, on its own thread, as a worker does) and submits them,
 * keeping at most WINDOW records in flight (a record's slot comes back in
 * its done(), i.e. once it is in the WAL: strict's rule for forwarding),
 * until its share of BYTES has been written. Timed from the first fill to
 * the last done(). Prints "bytes=N secs=S mbps=M recs_per_s=R"
 * (MB = 10^6 bytes); the sessions are then ended and the store closed
 * (untimed).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "store.h"

#define NBUFS 64	/* distinct payload buffers per producer */

struct producer {
	pthread_t th;
	struct store *st;
	struct store_chain chain;
	struct store_rec *recs;
	size_t nrec, chunk, window;
	uint8_t *bufs;
	sem_t slots;
	int id;
};

static atomic_int failures;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* done() gets only the record: its producer is the one whose array holds it */
static struct producer *prods;
static int nprods;

/* Recorder thread: the record is in the WAL; give its slot back. */
static void done_slot(struct store_rec *r, int err)
{
	if (err)
		atomic_fetch_add(&failures, 1);
	for (int i = 0; i < nprods; i++) {
		struct producer *p = &prods[i];

		if (r >= p->recs && r < p->recs + p->nrec) {
			sem_post(&p->slots);
			return;
		}
	}
}

static void *produce(void *arg)
{
	struct producer *p = arg;

	for (size_t i = 0; i < p->nrec; i++) {
		struct store_rec *r = &p->recs[i];

		sem_wait(&p->slots);
		r->done = done_slot;
		store_rec_fill(&p->chain, r, STORE_REC_CHUNK,
			       (i & 1) ? STORE_DIR_DOWN : STORE_DIR_UP, 0, real_ns(),
			       p->bufs + (i % NBUFS) * p->chunk, p->chunk);
		if (store_submit(p->st, r)) {
			fprintf(stderr, "recbench: store_submit failed\n");
			exit(1);
		}
	}
	for (size_t i = 0; i < p->window; i++)	/* every slot back: all written */
		sem_wait(&p->slots);
	return NULL;
}

int main(int argc, char **argv)
{
	struct store_opts o = { 0 };
	char err[512], path[4096], key[4096];
	unsigned long long bytes;
	size_t chunk, window;
	int threads;
	struct store *st;
	double t0, t1;
	size_t total_recs = 0;

	if (argc != 6) {
		fprintf(stderr, "usage: recbench DIR BYTES CHUNK THREADS WINDOW\n");
		return 2;
	}
	bytes = strtoull(argv[2], NULL, 0);
	chunk = strtoul(argv[3], NULL, 0);
	threads = atoi(argv[4]);
	window = strtoul(argv[5], NULL, 0);
	if (!bytes || !chunk || threads < 1 || !window) {
		fprintf(stderr, "recbench: BYTES, CHUNK, THREADS, WINDOW must be > 0\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/store", argv[1]);
	snprintf(key, sizeof(key), "%s/seal.key", argv[1]);
	o.path = path;
	o.mode = STORE_STRICT;
	o.sync_ms = 20;
	o.retention_days = 0;
	o.max_bytes = 0;
	o.seal_key = key;
	o.seal_interval_ms = 10000;
	st = store_open(&o, err, sizeof(err));
	if (!st) {
		fprintf(stderr, "recbench: store_open %s: %s\n", path, err);
		return 1;
	}
	prods = calloc((size_t)threads, sizeof(*prods));
	nprods = threads;
	for (int i = 0; i < threads; i++) {
		struct producer *p = &prods[i];
		json_t *meta = json_pack("{s:s, s:s, s:i}", "target", "recbench",
					 "kind", "tcp", "producer", i);

		p->st = st;
		p->id = i;
		p->chunk = chunk;
		p->window = window;
		p->nrec = (size_t)(bytes / chunk / (unsigned long long)threads);
		if (p->nrec < window)
			p->window = window = p->nrec;
		total_recs += p->nrec;
		p->recs = calloc(p->nrec, sizeof(*p->recs));
		p->bufs = malloc(NBUFS * chunk);
		if (!p->recs || !p->bufs) {
			fprintf(stderr, "recbench: out of memory\n");
			return 1;
		}
		for (size_t k = 0; k < NBUFS * chunk; k++)
			p->bufs[k] = (uint8_t)(random() >> 7);
		sem_init(&p->slots, 0, (unsigned)p->window);
		if (store_session_begin(st, &p->chain, meta)) {
			fprintf(stderr, "recbench: store_session_begin failed\n");
			return 1;
		}
		json_decref(meta);
	}
	t0 = now_s();
	for (int i = 0; i < threads; i++)
		pthread_create(&prods[i].th, NULL, produce, &prods[i]);
	for (int i = 0; i < threads; i++)
		pthread_join(prods[i].th, NULL);
	t1 = now_s();
	if (atomic_load(&failures)) {
		fprintf(stderr, "recbench: %d records failed to be written\n",
			atomic_load(&failures));
		return 1;
	}
	printf("bytes=%llu secs=%.6f mbps=%.1f recs_per_s=%.0f\n",
	       (unsigned long long)(total_recs * chunk), t1 - t0,
	       (double)(total_recs * chunk) / (t1 - t0) / 1e6,
	       (double)total_recs / (t1 - t0));
	fflush(stdout);
	for (int i = 0; i < threads; i++) {
		json_t *meta = json_pack("{s:s}", "status", "closed");

		store_session_end(st, &prods[i].chain, meta);
		json_decref(meta);
	}
	store_close(st);
	return 0;
}
