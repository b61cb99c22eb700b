// SPDX-License-Identifier: BSD-2-Clause
/*
 * userspace/store.c: a session written and read back byte for byte, each
 * kind of tampering caught by verify and named, seals checked by stock
 * openssl, ordering across producer threads, read-only opens beside the
 * writer, retention, the size alarm, lag, and close draining the queue.
 * Every test works in its own temporary directory. Tampering goes through
 * RocksDB's C API directly, as an attacker with the files would.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <rocksdb/c.h>

#include "log.h"
#include "store.h"

/* store.c's test hook (not in store.h): nonzero replaces the wall clock. */
extern void store_test_set_clock(uint64_t ns);

#define SEAL_FAR 3600000u	/* no periodic seal during a test */

static char dir[64], db_path[128], key_path[128];

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void setup(void)
{
	log_set_level(LOG_WARN);	/* "created the seal key" x 30 is noise */
	strcpy(dir, "/tmp/store_test.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/db", dir);
	snprintf(key_path, sizeof(key_path), "%s/seal.pem", dir);
}

static void teardown(void)
{
	store_test_set_clock(0);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(store, .init = setup, .fini = teardown, .timeout = 120);

static struct store_opts opts_default(void)
{
	return (struct store_opts){
		.path = db_path,
		.mode = STORE_STRICT,
		.sync_ms = 100,
		.seal_key = key_path,
		.seal_interval_ms = SEAL_FAR,
	};
}

static struct store *open_with(const struct store_opts *o)
{
	char err[256] = "";
	struct store *s = store_open(o, err, sizeof(err));

	cr_assert_not_null(s, "store_open: %s (errno %d)", err, errno);
	return s;
}

static struct store *open_rw(void)
{
	struct store_opts o = opts_default();

	return open_with(&o);
}

static struct store *open_ro(void)
{
	char err[256] = "";
	struct store *s = store_open_ro(db_path, err, sizeof(err));

	cr_assert_not_null(s, "store_open_ro: %s (errno %d)", err, errno);
	return s;
}

/* ---- records with a done() that counts ---------------------------- */

struct trec {
	struct store_rec r;	/* first: done() gets &r */
	atomic_int calls;
	atomic_int err;
};

static atomic_int g_done;

static void trec_done(struct store_rec *r, int err)
{
	struct trec *t = (struct trec *)r;

	atomic_fetch_add(&t->calls, 1);
	atomic_store(&t->err, err);
	atomic_fetch_add(&g_done, 1);
}

static void wait_done(int n)
{
	for (int i = 0; i < 20000 && atomic_load(&g_done) < n; i++)
		usleep(1000);
	cr_assert_geq(atomic_load(&g_done), n, "only %d of %d records done",
		      atomic_load(&g_done), n);
}

static void submit(struct store *s, struct store_chain *c, struct trec *t,
		   int kind, int dir_, const void *p, size_t len, uint64_t time_ns)
{
	memset(t, 0, sizeof(*t));
	store_rec_fill(c, &t->r, kind, dir_, 0, time_ns, p, len);
	t->r.done = trec_done;
	cr_assert_eq(store_submit(s, &t->r), 0);
}

/* ---- reading back --------------------------------------------------- */

struct got {
	uint64_t seq;
	int kind, dir;
	uint16_t flags;
	uint64_t time_ns;
	uint8_t prev[STORE_HASH_LEN];
	uint8_t *payload;
	size_t len;
};

struct got_list {
	struct got *v;
	size_t n;
};

static int collect(void *ctx, const struct store_read_rec *r)
{
	struct got_list *l = ctx;
	struct got *g;

	l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
	cr_assert_not_null(l->v);
	g = &l->v[l->n++];
	g->seq = r->seq;
	g->kind = r->kind;
	g->dir = r->dir;
	g->flags = r->flags;
	g->time_ns = r->time_ns;
	memcpy(g->prev, r->prev, STORE_HASH_LEN);
	g->len = r->len;
	g->payload = malloc(r->len + 1);
	cr_assert_not_null(g->payload);
	memcpy(g->payload, r->payload, r->len);
	return 0;
}

static void got_free(struct got_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].payload);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static size_t count_records(struct store *s, const uint8_t *sid)
{
	struct got_list l = { 0 };
	size_t n;

	cr_assert_eq(store_records(s, sid, collect, &l), 0);
	n = l.n;
	got_free(&l);
	return n;
}

static int verify(const uint8_t *sid, const char *pub, char *why, size_t len)
{
	struct store *s = open_ro();
	int ret = store_verify(s, sid, pub, why, len);

	store_close(s);
	return ret;
}

static void verify_ok(const uint8_t *sid)
{
	char why[256];
	int ret = verify(sid, NULL, why, sizeof(why));

	cr_assert_eq(ret, 0, "verify: %d %s", ret, why);
}

static void verify_bad(const uint8_t *sid, const char *pub, const char *want)
{
	char why[256] = "";
	int ret = verify(sid, pub, why, sizeof(why));

	cr_assert_eq(ret, -EBADMSG, "verify returned %d (%s), wanted a failure "
		     "naming \"%s\"", ret, why, want);
	cr_assert_not_null(strstr(why, want), "why \"%s\" lacks \"%s\"", why, want);
}

/* ---- the database, raw ---------------------------------------------- */

enum { R_DEFAULT, R_SESSIONS, R_CHUNKS, R_EVENTS, R_INDEX, R_SEALS, R_EXPORT,
       R_APPROVALS, R_N };

struct raw {
	rocksdb_t *db;
	rocksdb_options_t *o;
	rocksdb_column_family_handle_t *cf[R_N];
	rocksdb_readoptions_t *ro;
	rocksdb_writeoptions_t *wo;
};

static void raw_open(struct raw *r)
{
	static const char *names[R_N] = { "default", "sessions", "chunks",
					  "events", "index", "seals", "export",
					  "approvals" };
	const rocksdb_options_t *co[R_N];
	char *e = NULL;

	r->o = rocksdb_options_create();
	for (int i = 0; i < R_N; i++)
		co[i] = r->o;
	r->db = rocksdb_open_column_families(r->o, db_path, R_N, names, co,
					     r->cf, &e);
	cr_assert_null(e, "raw open: %s", e);
	r->ro = rocksdb_readoptions_create();
	r->wo = rocksdb_writeoptions_create();
}

static void raw_close(struct raw *r)
{
	for (int i = 0; i < R_N; i++)
		rocksdb_column_family_handle_destroy(r->cf[i]);
	rocksdb_close(r->db);
	rocksdb_options_destroy(r->o);
	rocksdb_readoptions_destroy(r->ro);
	rocksdb_writeoptions_destroy(r->wo);
}

static void rec_key(char key[24], const uint8_t *sid, uint64_t seq)
{
	memcpy(key, sid, 16);
	for (int i = 0; i < 8; i++)
		key[16 + i] = (char)(seq >> (56 - 8 * i));
}

static char *raw_get(struct raw *r, int cf, const char *k, size_t kl, size_t *vl)
{
	char *e = NULL, *v = rocksdb_get_cf(r->db, r->ro, r->cf[cf], k, kl, vl, &e);

	cr_assert_null(e, "raw get: %s", e);
	cr_assert_not_null(v, "raw get: no such key");
	return v;
}

static void raw_put(struct raw *r, int cf, const char *k, size_t kl,
		    const char *v, size_t vl)
{
	char *e = NULL;

	rocksdb_put_cf(r->db, r->wo, r->cf[cf], k, kl, v, vl, &e);
	cr_assert_null(e, "raw put: %s", e);
}

static void raw_del(struct raw *r, int cf, const char *k, size_t kl)
{
	char *e = NULL;

	rocksdb_delete_cf(r->db, r->wo, r->cf[cf], k, kl, &e);
	cr_assert_null(e, "raw delete: %s", e);
}

/* ---- a standard session for the tampering tests ---------------------- */

/*
 * Eight records, seq 0..7: chunks except seq 5 (an event); ended, so a
 * final seal covers all eight. Returns its id in sid.
 */
#define STD_N 8
static const char *std_payload[STD_N] = {
	"SELECT 1;", "one row", "", "SELECT 2;", "two rows",
	"{\"statement\":\"SELECT 2\"}", "bye", "closing",
};

static void std_session_nocheck(uint8_t sid[STORE_SID_LEN])
{
	struct store *s = open_rw();
	struct trec t[STD_N];
	struct store_chain c;
	json_t *meta = json_pack("{s:s}", "target", "pg");

	cr_assert_eq(store_session_begin(s, &c, meta), 0);
	for (int i = 0; i < STD_N; i++)
		submit(s, &c, &t[i], i == 5 ? STORE_REC_EVENT : STORE_REC_CHUNK,
		       i == 5 ? 0 : (i % 2 ? STORE_DIR_DOWN : STORE_DIR_UP),
		       std_payload[i], strlen(std_payload[i]), 1000 + (uint64_t)i);
	cr_assert_eq(store_session_end(s, &c, meta), 0);
	store_close(s);
	for (int i = 0; i < STD_N; i++)
		cr_assert_eq(atomic_load(&t[i].calls), 1);
	json_decref(meta);
	memcpy(sid, c.sid, STORE_SID_LEN);
}

static void std_session(uint8_t sid[STORE_SID_LEN])
{
	std_session_nocheck(sid);
	verify_ok(sid);
}

static int family_of(int seq)
{
	return seq == 5 ? R_EVENTS : R_CHUNKS;
}

/* ---- tests ----------------------------------------------------------- */

Test(store, sid_round_trip)
{
	uint8_t sid[16], back[16];
	char hex[33];

	for (int i = 0; i < 16; i++)
		sid[i] = (uint8_t)(i * 17 + 3);
	store_sid_format(sid, hex);
	cr_assert_str_eq(hex, "031425364758697a8b9cadbecfe0f102");
	cr_assert_eq(store_sid_parse(hex, back), 0);
	cr_assert_arr_eq(sid, back, 16);
	cr_assert_eq(store_sid_parse("031425364758697A8B9CADBECFE0F102", back), 0);
	cr_assert_arr_eq(sid, back, 16);
	cr_assert_eq(store_sid_parse("031425", back), -EINVAL);
	cr_assert_eq(store_sid_parse("031425364758697a8b9cadbecfe0f10g", back), -EINVAL);
	cr_assert_eq(store_sid_parse("031425364758697a8b9cadbecfe0f1022", back), -EINVAL);
	cr_assert_eq(store_sid_parse(NULL, back), -EINVAL);
}

Test(store, round_trip)
{
	static const size_t sizes[] = { 0, 1, 100, 65536, 1 << 20, 7 };
	const size_t n_chunks = sizeof(sizes) / sizeof(sizes[0]);
	struct trec t[8];
	uint8_t *bufs[8] = { 0 };
	const char *ev1 = "{\"statement\":\"SELECT now()\",\"status\":\"ok\"}";
	const char *ev2 = "{\"decision\":\"allow\"}";
	struct store_chain c, c_before_end;
	struct got_list l = { 0 };
	struct store *s = open_rw();
	json_t *meta, *endmeta, *v;
	char head_hex[65], id[33], why[256];
	size_t n = 0;

	meta = json_pack("{s:s, s:{s:s}, s:s}", "target", "pg", "user", "name",
			 "alice", "client", "10.0.0.1:5555");
	cr_assert_eq(store_session_begin(s, &c, meta), 0);
	cr_assert_eq(c.next_seq, 0);
	v = store_session_get(s, c.sid);
	cr_assert_not_null(v);
	cr_assert_str_eq(json_string_value(json_object_get(v, "status")), "open");
	json_decref(v);

	for (size_t i = 0; i < n_chunks; i++) {
		bufs[i] = malloc(sizes[i] + 1);
		for (size_t j = 0; j < sizes[i]; j++)
			bufs[i][j] = (uint8_t)(j * 31 + i);
		submit(s, &c, &t[n++], STORE_REC_CHUNK,
		       i % 2 ? STORE_DIR_DOWN : STORE_DIR_UP, bufs[i], sizes[i],
		       5000 + i);
		if (i == 2)
			submit(s, &c, &t[n++], STORE_REC_EVENT, 0, ev1, strlen(ev1), 6000);
	}
	submit(s, &c, &t[n++], STORE_REC_EVENT, 0, ev2, strlen(ev2), 7000);
	cr_assert_eq(n, 8);
	c_before_end = c;
	endmeta = json_pack("{s:s, s:{s:s}, s:I, s:I}", "target", "pg", "user",
			    "name", "alice", "bytes_up", (json_int_t)12345,
			    "bytes_down", (json_int_t)678);
	cr_assert_eq(store_session_end(s, &c, endmeta), 0);
	/* the store copied meta: the caller may drop it at once */
	json_decref(endmeta);
	json_decref(meta);
	store_close(s);

	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(atomic_load(&t[i].calls), 1, "record %zu: done x%d", i,
			     atomic_load(&t[i].calls));
		cr_assert_eq(atomic_load(&t[i].err), 0);
	}

	s = open_ro();
	cr_assert_eq(store_records(s, c.sid, collect, &l), 0);
	cr_assert_eq(l.n, 8);
	{
		uint8_t zero[STORE_HASH_LEN] = { 0 };
		size_t ci = 0;

		cr_assert_arr_eq(l.v[0].prev, zero, STORE_HASH_LEN);
		for (size_t i = 0; i < l.n; i++) {
			cr_assert_eq(l.v[i].seq, i);
			if (i > 0)
				cr_assert_arr_eq(l.v[i].prev, t[i - 1].r.hash,
						 STORE_HASH_LEN);
			if (i == 3 || i == 7) {
				const char *ev = i == 3 ? ev1 : ev2;

				cr_assert_eq(l.v[i].kind, STORE_REC_EVENT);
				cr_assert_eq(l.v[i].dir, 0);
				cr_assert_eq(l.v[i].len, strlen(ev));
				cr_assert_arr_eq(l.v[i].payload, ev, strlen(ev));
				continue;
			}
			cr_assert_eq(l.v[i].kind, STORE_REC_CHUNK);
			cr_assert_eq(l.v[i].dir, ci % 2 ? STORE_DIR_DOWN : STORE_DIR_UP);
			cr_assert_eq(l.v[i].time_ns, 5000 + ci);
			cr_assert_eq(l.v[i].len, sizes[ci], "seq %zu: %zu bytes, not %zu",
				     i, l.v[i].len, sizes[ci]);
			if (sizes[ci])
				cr_assert_eq(memcmp(l.v[i].payload, bufs[ci], sizes[ci]), 0,
					     "seq %zu: payload differs", i);
			ci++;
		}
	}
	v = store_session_get(s, c.sid);
	cr_assert_not_null(v);
	store_sid_format(c.sid, id);
	for (int i = 0; i < 32; i++)
		sprintf(head_hex + 2 * i, "%02x", c_before_end.head[i]);
	cr_assert_str_eq(json_string_value(json_object_get(v, "id")), id);
	cr_assert_str_eq(json_string_value(json_object_get(v, "chain")), head_hex);
	cr_assert_eq(json_integer_value(json_object_get(v, "records")), 8);
	cr_assert_eq(json_integer_value(json_object_get(v, "bytes_up")), 12345);
	cr_assert_str_eq(json_string_value(json_object_get(v, "status")), "closed");
	cr_assert_str_eq(json_string_value(json_object_get(v, "client")), "10.0.0.1:5555");
	cr_assert_not_null(json_string_value(json_object_get(v, "start")));
	cr_assert_not_null(json_string_value(json_object_get(v, "end")));
	cr_assert_eq(strlen(json_string_value(json_object_get(v, "start"))),
		     strlen("2026-01-02T03:04:05.123456Z"));
	json_decref(v);
	cr_assert_eq(store_verify(s, c.sid, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert_not_null(strstr(why, "8 records"), "%s", why);
	store_close(s);
	got_free(&l);
	for (size_t i = 0; i < n_chunks; i++)
		free(bufs[i]);
}

Test(store, files_and_modes)
{
	struct store *s = open_rw();
	struct stat st;
	char *pem, pub[160];

	cr_assert_eq(stat(db_path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	cr_assert_eq(stat(key_path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	snprintf(pub, sizeof(pub), "%s.pub", key_path);
	cr_assert_eq(stat(pub, &st), 0);
	pem = store_seal_pubkey(key_path);
	cr_assert_not_null(pem);
	cr_assert_eq(strncmp(pem, "-----BEGIN PUBLIC KEY-----\n", 27), 0, "%s", pem);
	store_close(s);
	/* reopening keeps the key */
	s = open_rw();
	{
		char *again = store_seal_pubkey(key_path);

		cr_assert_str_eq(again, pem);
		free(again);
	}
	store_close(s);
	free(pem);
	store_close(NULL);
	errno = 0;
	cr_assert_null(store_seal_pubkey("/nonexistent/key"));
	cr_assert_eq(errno, ENOENT);
}

Test(store, tamper_payload_edited)
{
	uint8_t sid[16];
	struct raw r;
	char key[24], *v;
	size_t vl;

	std_session(sid);
	raw_open(&r);
	rec_key(key, sid, 3);
	v = raw_get(&r, R_CHUNKS, key, 24, &vl);
	cr_assert_eq(vl, 48 + strlen(std_payload[3]));
	v[48 + 2] ^= 0x20;	/* "SELECT" -> "SElECT" */
	raw_put(&r, R_CHUNKS, key, 24, v, vl);
	free(v);
	raw_close(&r);
	verify_bad(sid, NULL, "seq 4: previous-hash mismatch");
}

Test(store, tamper_event_edited)
{
	uint8_t sid[16];
	struct raw r;
	char key[24], *v;
	size_t vl;

	std_session(sid);
	raw_open(&r);
	rec_key(key, sid, 5);
	v = raw_get(&r, R_EVENTS, key, 24, &vl);
	v[vl - 3] = 'X';
	raw_put(&r, R_EVENTS, key, 24, v, vl);
	free(v);
	raw_close(&r);
	verify_bad(sid, NULL, "seq 6: previous-hash mismatch");
}

Test(store, tamper_middle_removed)
{
	uint8_t sid[16];
	struct raw r;
	char key[24];

	std_session(sid);
	raw_open(&r);
	rec_key(key, sid, 4);
	raw_del(&r, R_CHUNKS, key, 24);
	raw_close(&r);
	verify_bad(sid, NULL, "record seq 4 missing");
}

Test(store, tamper_swapped)
{
	uint8_t sid[16];
	struct raw r;
	char k2[24], k3[24], *v2, *v3;
	size_t l2, l3;

	std_session(sid);
	raw_open(&r);
	rec_key(k2, sid, 2);
	rec_key(k3, sid, 3);
	v2 = raw_get(&r, R_CHUNKS, k2, 24, &l2);
	v3 = raw_get(&r, R_CHUNKS, k3, 24, &l3);
	raw_put(&r, R_CHUNKS, k2, 24, v3, l3);
	raw_put(&r, R_CHUNKS, k3, 24, v2, l2);
	free(v2);
	free(v3);
	raw_close(&r);
	verify_bad(sid, NULL, "seq 2: previous-hash mismatch");
}

Test(store, tamper_last_removed)
{
	uint8_t sid[16];
	struct raw r;
	char key[24];

	std_session(sid);
	raw_open(&r);
	rec_key(key, sid, STD_N - 1);
	raw_del(&r, family_of(STD_N - 1), key, 24);
	raw_close(&r);
	verify_bad(sid, NULL, "records after seq 6 are missing: final seal says 8");
}

Test(store, tamper_last_edited)
{
	uint8_t sid[16];
	struct raw r;
	char key[24], *v;
	size_t vl;

	std_session(sid);
	raw_open(&r);
	rec_key(key, sid, STD_N - 1);
	v = raw_get(&r, R_CHUNKS, key, 24, &vl);
	v[48] = 'C' ^ 'c' ^ v[48];
	raw_put(&r, R_CHUNKS, key, 24, v, vl);
	free(v);
	raw_close(&r);
	verify_bad(sid, NULL, "seq 7: chain head differs from seal");
}

Test(store, tamper_record_appended)
{
	uint8_t sid[16];
	struct raw r;
	char k7[24], k8[24], *v;
	size_t vl;

	std_session(sid);
	raw_open(&r);
	/* a copy of seq 7 as seq 8: its prev is wrong, so the chain names it */
	rec_key(k7, sid, 7);
	rec_key(k8, sid, 8);
	v = raw_get(&r, R_CHUNKS, k7, 24, &vl);
	raw_put(&r, R_CHUNKS, k8, 24, v, vl);
	free(v);
	raw_close(&r);
	verify_bad(sid, NULL, "seq 8: previous-hash mismatch");
}

Test(store, tamper_header_length)
{
	uint8_t sid[16];
	struct raw r;
	struct store *s;
	struct got_list l = { 0 };
	char key[24], *v;
	size_t vl;

	std_session(sid);
	raw_open(&r);
	rec_key(key, sid, 1);
	v = raw_get(&r, R_CHUNKS, key, 24, &vl);
	v[15] ^= 1;	/* payload length field */
	raw_put(&r, R_CHUNKS, key, 24, v, vl);
	/* and a truncated header on seq 3 */
	rec_key(key, sid, 3);
	raw_put(&r, R_CHUNKS, key, 24, v, 20);
	free(v);
	raw_close(&r);
	verify_bad(sid, NULL, "seq 1: malformed record");
	s = open_ro();
	cr_assert_eq(store_records(s, sid, collect, &l), -EBADMSG);
	cr_assert_eq(l.n, 1, "the walk stops at the bad record");
	got_free(&l);
	store_close(s);
}

/* Every seal's stored value, in key order. */
static size_t raw_seals(struct raw *r, char **vals, size_t *lens, char **keys,
			size_t max)
{
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(r->db, r->ro,
							    r->cf[R_SEALS]);
	size_t n = 0;

	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it) && n < max;
	     rocksdb_iter_next(it), n++) {
		size_t kl;
		const char *k = rocksdb_iter_key(it, &kl);
		const char *v = rocksdb_iter_value(it, &lens[n]);

		vals[n] = malloc(lens[n] + 1);
		memcpy(vals[n], v, lens[n]);
		vals[n][lens[n]] = '\0';
		keys[n] = malloc(kl);
		memcpy(keys[n], k, kl);
		cr_assert_eq(kl, 24);
	}
	rocksdb_iter_destroy(it);
	return n;
}

Test(store, tamper_seal_signature)
{
	uint8_t sid[16], sig[66];
	char *vals[4], *keys[4], b64[96], *text;
	size_t lens[4], n;
	struct raw r;
	json_t *j;

	std_session(sid);
	raw_open(&r);
	n = raw_seals(&r, vals, lens, keys, 4);
	cr_assert_eq(n, 1, "one final seal");
	j = json_loadb(vals[0], lens[0], 0, NULL);
	cr_assert_not_null(j);
	cr_assert_eq(EVP_DecodeBlock(sig, (const unsigned char *)
				     json_string_value(json_object_get(j, "sig")),
				     88), 66);
	sig[10] ^= 0x01;
	EVP_EncodeBlock((unsigned char *)b64, sig, 64);
	json_object_set_new(j, "sig", json_string(b64));
	text = json_dumps(j, JSON_COMPACT);
	raw_put(&r, R_SEALS, keys[0], 24, text, strlen(text));
	free(text);
	json_decref(j);
	free(vals[0]);
	free(keys[0]);
	raw_close(&r);
	verify_bad(sid, NULL, "signature invalid");
}

Test(store, tamper_seal_text)
{
	uint8_t sid[16];
	char *vals[4], *keys[4], *p;
	size_t lens[4];
	struct raw r;

	std_session(sid);
	raw_open(&r);
	cr_assert_eq(raw_seals(&r, vals, lens, keys, 4), 1);
	/* claim fewer records: the signature no longer matches */
	p = strstr(vals[0], "records=8");
	cr_assert_not_null(p);
	p[8] = '7';
	raw_put(&r, R_SEALS, keys[0], 24, vals[0], lens[0]);
	free(vals[0]);
	free(keys[0]);
	raw_close(&r);
	verify_bad(sid, NULL, "signature invalid");
}

Test(store, seal_removed_breaks_seal_chain)
{
	uint8_t sid1[16], sid2[16];
	char *vals[4], *keys[4];
	size_t lens[4];
	struct raw r;

	std_session(sid1);
	std_session(sid2);
	raw_open(&r);
	cr_assert_eq(raw_seals(&r, vals, lens, keys, 4), 2);
	/* session 1's final seal goes: session 2's seal no longer links */
	raw_del(&r, R_SEALS, keys[0], 24);
	for (int i = 0; i < 2; i++) {
		free(vals[i]);
		free(keys[i]);
	}
	raw_close(&r);
	verify_bad(sid2, NULL, "previous-seal hash mismatch");
}

Test(store, other_public_key)
{
	char other_dir[96], other_db[128], other_key[128], other_pub[140];
	struct store_opts o = opts_default();
	uint8_t sid[16];
	struct store *s;

	std_session(sid);
	snprintf(other_dir, sizeof(other_dir), "%s/other", dir);
	cr_assert_eq(mkdir(other_dir, 0700), 0);
	snprintf(other_db, sizeof(other_db), "%s/db", other_dir);
	snprintf(other_key, sizeof(other_key), "%s/seal.pem", other_dir);
	snprintf(other_pub, sizeof(other_pub), "%s.pub", other_key);
	o.path = other_db;
	o.seal_key = other_key;
	s = open_with(&o);
	store_close(s);
	verify_bad(sid, other_pub, "signature invalid");
}

Test(store, openssl_verifies_a_seal)
{
	char *vals[4], *keys[4], text_path[160], sig_path[160], cmd[1024];
	uint8_t sid[16], sig[66];
	size_t lens[4];
	struct raw r;
	json_t *j;
	FILE *f;
	const char *text;
	int rc;

	if (system("command -v openssl >/dev/null 2>&1"))
		cr_skip_test("openssl is not installed");
	std_session(sid);
	raw_open(&r);
	cr_assert_eq(raw_seals(&r, vals, lens, keys, 4), 1);
	raw_close(&r);
	j = json_loadb(vals[0], lens[0], 0, NULL);
	cr_assert_not_null(j);
	text = json_string_value(json_object_get(j, "payload"));
	cr_assert_not_null(strstr(text, "sluice-seal-v1\nsession="));
	cr_assert_not_null(strstr(text, "\nfinal=1\n"));
	cr_assert_eq(EVP_DecodeBlock(sig, (const unsigned char *)
				     json_string_value(json_object_get(j, "sig")),
				     88), 66);
	snprintf(text_path, sizeof(text_path), "%s/seal.txt", dir);
	snprintf(sig_path, sizeof(sig_path), "%s/seal.sig", dir);
	f = fopen(text_path, "w");
	fputs(text, f);
	fclose(f);
	f = fopen(sig_path, "w");
	fwrite(sig, 1, 64, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "openssl pkeyutl -verify -pubin -inkey %s.pub -rawin -in %s "
		 "-sigfile %s >/dev/null 2>&1", key_path, text_path, sig_path);
	rc = system(cmd);
	cr_assert_eq(rc, 0, "openssl refused the seal: %d", rc);
	/* and refuses it once the text changes */
	f = fopen(text_path, "a");
	fputs("x", f);
	fclose(f);
	rc = system(cmd);
	cr_assert_neq(rc, 0, "openssl accepted an altered seal");
	json_decref(j);
	free(vals[0]);
	free(keys[0]);
}

Test(store, ids_are_time_ordered)
{
	struct store *s = open_rw();
	uint8_t prev[16] = { 0 };
	struct timespec a, b;

	clock_gettime(CLOCK_REALTIME, &a);
	for (int i = 0; i < 200; i++) {
		struct store_chain c;
		uint64_t t = 0;

		cr_assert_eq(store_session_begin(s, &c, NULL), 0);
		cr_assert_gt(memcmp(c.sid, prev, 16), 0, "id %d not after the last", i);
		for (int k = 0; k < 8; k++)
			t = t << 8 | c.sid[k];
		cr_assert_geq(t, (uint64_t)a.tv_sec * 1000000000ull + (uint64_t)a.tv_nsec);
		clock_gettime(CLOCK_REALTIME, &b);
		cr_assert_leq(t, (uint64_t)b.tv_sec * 1000000000ull + (uint64_t)b.tv_nsec + 1000);
		memcpy(prev, c.sid, 16);
	}
	store_close(s);
}

static uint64_t sid_time(const uint8_t *sid)
{
	uint64_t t = 0;

	for (int k = 0; k < 8; k++)
		t = t << 8 | sid[k];
	return t;
}

static void assert_list(json_t *arr, const uint8_t (*want)[16], size_t n)
{
	char id[33];

	cr_assert_not_null(arr);
	cr_assert_eq(json_array_size(arr), n, "%zu sessions, wanted %zu",
		     json_array_size(arr), n);
	for (size_t i = 0; i < n; i++) {
		store_sid_format(want[i], id);
		cr_assert_str_eq(json_string_value(json_object_get(
					 json_array_get(arr, i), "id")), id,
				 "position %zu", i);
	}
	json_decref(arr);
}

Test(store, session_list_and_filters)
{
	struct store *s = open_rw();
	struct store_chain c[4];
	uint8_t w[4][16];
	json_t *m[4];

	m[0] = json_pack("{s:s, s:{s:s}}", "target", "pg", "user", "name", "alice");
	m[1] = json_pack("{s:s, s:{s:s}}", "target", "mysql", "user", "name", "bob");
	m[2] = json_pack("{s:s}", "target", "pg");
	m[3] = json_pack("{s:s, s:{s:s}}", "target", "pg", "user", "name", "bob");
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(store_session_begin(s, &c[i], m[i]), 0);
		json_decref(m[i]);
	}
	store_close(s);

	s = open_ro();
	memcpy(w[0], c[3].sid, 16);
	memcpy(w[1], c[2].sid, 16);
	memcpy(w[2], c[1].sid, 16);
	memcpy(w[3], c[0].sid, 16);
	assert_list(store_session_list(s, NULL, NULL, 0), w, 4);
	memcpy(w[0], c[3].sid, 16);
	memcpy(w[1], c[2].sid, 16);
	memcpy(w[2], c[0].sid, 16);
	assert_list(store_session_list(s, "pg", NULL, 0), w, 3);
	memcpy(w[0], c[3].sid, 16);
	memcpy(w[1], c[1].sid, 16);
	assert_list(store_session_list(s, NULL, "bob", 0), w, 2);
	memcpy(w[0], c[3].sid, 16);
	assert_list(store_session_list(s, "pg", "bob", 0), w, 1);
	assert_list(store_session_list(s, "redis", NULL, 0), w, 0);
	memcpy(w[0], c[3].sid, 16);
	memcpy(w[1], c[2].sid, 16);
	assert_list(store_session_list(s, NULL, NULL, sid_time(c[2].sid)), w, 2);
	memcpy(w[0], c[3].sid, 16);
	memcpy(w[1], c[2].sid, 16);
	assert_list(store_session_list(s, "pg", NULL, sid_time(c[1].sid)), w, 2);
	store_close(s);
}

/* ---- several producers ---------------------------------------------- */

#define PROD_N 4
#define PROD_RECS 1000

struct producer {
	struct store *s;
	struct store_chain c;
	struct trec *t;
	uint8_t *buf;
	atomic_ullong last_done;	/* seq + 1 of the last done() */
	atomic_int out_of_order;
};

static struct producer prods[PROD_N];

static void prod_done(struct store_rec *r, int err)
{
	/* which producer: by address, never by reading its live chain */
	for (int i = 0; i < PROD_N; i++) {
		struct producer *p = &prods[i];
		struct trec *t = (struct trec *)r;

		if (t < p->t || t >= p->t + PROD_RECS)
			continue;
		if (r->seq != atomic_load(&p->last_done))
			atomic_fetch_add(&p->out_of_order, 1);
		atomic_store(&p->last_done, r->seq + 1);
	}
	trec_done(r, err);
}

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	json_t *meta = json_pack("{s:s}", "target", "pg");

	if (store_session_begin(p->s, &p->c, meta))
		return (void *)1;
	for (int i = 0; i < PROD_RECS; i++) {
		struct trec *t = &p->t[i];
		size_t len = (size_t)(i * 37 % 3000);

		memset(t, 0, sizeof(*t));
		store_rec_fill(&p->c, &t->r, i % 10 ? STORE_REC_CHUNK : STORE_REC_EVENT,
			       i % 2 ? STORE_DIR_UP : STORE_DIR_DOWN, 0,
			       (uint64_t)i, p->buf + i, len);
		t->r.done = prod_done;
		if (store_submit(p->s, &t->r))
			return (void *)1;
	}
	if (store_session_end(p->s, &p->c, meta))
		return (void *)1;
	json_decref(meta);
	return NULL;
}

Test(store, producers_keep_their_order)
{
	struct store *s = open_rw();
	pthread_t th[PROD_N];

	for (int i = 0; i < PROD_N; i++) {
		prods[i].s = s;
		prods[i].t = calloc(PROD_RECS, sizeof(struct trec));
		prods[i].buf = malloc(PROD_RECS + 3000);
		for (int k = 0; k < PROD_RECS + 3000; k++)
			prods[i].buf[k] = (uint8_t)(k ^ i);
	}
	for (int i = 0; i < PROD_N; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, producer_main, &prods[i]), 0);
	for (int i = 0; i < PROD_N; i++) {
		void *ret;

		pthread_join(th[i], &ret);
		cr_assert_null(ret, "producer %d failed", i);
	}
	wait_done(PROD_N * PROD_RECS);
	store_close(s);
	for (int i = 0; i < PROD_N; i++) {
		struct store *ro;

		cr_assert_eq(atomic_load(&prods[i].out_of_order), 0,
			     "producer %d: done() out of order", i);
		cr_assert_eq(atomic_load(&prods[i].last_done), PROD_RECS);
		for (int k = 0; k < PROD_RECS; k++) {
			cr_assert_eq(atomic_load(&prods[i].t[k].calls), 1);
			cr_assert_eq(atomic_load(&prods[i].t[k].err), 0);
		}
		verify_ok(prods[i].c.sid);
		ro = open_ro();
		cr_assert_eq(count_records(ro, prods[i].c.sid), PROD_RECS);
		store_close(ro);
		free(prods[i].t);
		free(prods[i].buf);
	}
}

/* ---- read-only beside the writer ------------------------------------ */

Test(store, read_only_beside_the_writer)
{
	struct store *w = open_rw(), *ro;
	struct store_chain c;
	struct trec t[10];
	char why[256];
	json_t *list;

	cr_assert_eq(store_session_begin(w, &c, NULL), 0);
	for (int i = 0; i < 5; i++)
		submit(w, &c, &t[i], STORE_REC_CHUNK, STORE_DIR_UP, "abc", 3, 1);
	wait_done(5);

	ro = open_ro();
	cr_assert_eq(count_records(ro, c.sid), 5);
	list = store_session_list(ro, NULL, NULL, 0);
	cr_assert_eq(json_array_size(list), 1);
	json_decref(list);
	cr_assert_eq(store_verify(ro, c.sid, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert_not_null(strstr(why, "not ended"), "%s", why);
	/* a read-only store takes no records */
	cr_assert_eq(store_submit(ro, &t[9].r), -EROFS);

	for (int i = 5; i < 10; i++)
		submit(w, &c, &t[i], STORE_REC_CHUNK, STORE_DIR_DOWN, "defg", 4, 2);
	wait_done(10);
	/* what it saw when it opened, not more */
	cr_assert_eq(count_records(ro, c.sid), 5);
	store_close(ro);

	ro = open_ro();
	cr_assert_eq(count_records(ro, c.sid), 10);
	store_close(ro);
	store_close(w);
}

/* ---- retention ------------------------------------------------------- */

Test(store, retention_deletes_old_sessions)
{
	struct store_opts o = opts_default();
	uint64_t now = (uint64_t)time(NULL) * 1000000000ull;
	struct store_chain old, young;
	struct store *s = open_rw();
	json_t *mo = json_pack("{s:s, s:{s:s}}", "target", "old-db", "user",
			       "name", "carol");
	json_t *my = json_pack("{s:s}", "target", "new-db"), *v, *list;
	struct trec t[6];
	char why[256];
	struct raw r;

	store_test_set_clock(now - 10 * 86400ull * 1000000000ull);
	cr_assert_eq(store_session_begin(s, &old, mo), 0);
	for (int i = 0; i < 3; i++)
		submit(s, &old, &t[i], STORE_REC_CHUNK, STORE_DIR_UP, "old", 3, 1);
	cr_assert_eq(store_session_end(s, &old, mo), 0);
	wait_done(3);
	store_test_set_clock(0);
	cr_assert_eq(store_session_begin(s, &young, my), 0);
	for (int i = 3; i < 6; i++)
		submit(s, &young, &t[i], STORE_REC_EVENT, 0, "{}", 2, 1);
	cr_assert_eq(store_session_end(s, &young, my), 0);
	store_close(s);

	/* nothing deleted without retention */
	s = open_ro();
	cr_assert_eq(count_records(s, old.sid), 3);
	v = store_session_get(s, old.sid);
	cr_assert_not_null(v);
	json_decref(v);
	store_close(s);

	/* retention runs when the store opens */
	o.retention_days = 7;
	s = open_with(&o);
	store_close(s);

	s = open_ro();
	errno = 0;
	cr_assert_null(store_session_get(s, old.sid));
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(count_records(s, old.sid), 0);
	list = store_session_list(s, NULL, NULL, 0);
	cr_assert_eq(json_array_size(list), 1);
	json_decref(list);
	list = store_session_list(s, NULL, "carol", 0);
	cr_assert_eq(json_array_size(list), 0);
	json_decref(list);
	cr_assert_eq(count_records(s, young.sid), 3);
	cr_assert_eq(store_verify(s, young.sid, NULL, why, sizeof(why)), 0, "%s", why);
	/* the old session's seal stays as evidence it existed */
	cr_assert_eq(store_verify(s, old.sid, NULL, why, sizeof(why)), -EBADMSG);
	cr_assert_not_null(strstr(why, "all records are missing: final seal says 3"),
			   "%s", why);
	store_close(s);

	/* and the 'g'/'u' index keys went with it */
	raw_open(&r);
	{
		rocksdb_iterator_t *it = rocksdb_create_iterator_cf(r.db, r.ro,
								    r.cf[R_INDEX]);
		int n = 0;

		for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
		     rocksdb_iter_next(it)) {
			size_t kl;
			const char *k = rocksdb_iter_key(it, &kl);

			cr_assert(kl < 16 || memcmp(k + kl - 16, old.sid, 16),
				  "index key of the old session left");
			n++;
		}
		rocksdb_iter_destroy(it);
		cr_assert_eq(n, 2, "young session: 't' and 'g' keys, got %d", n);
	}
	raw_close(&r);
	json_decref(mo);
	json_decref(my);
}

/* ---- close drains ---------------------------------------------------- */

static sem_t gate;

static void gated_done(struct store_rec *r, int err)
{
	/* holds the recorder inside its batch until the test lets go */
	if (r->seq == 0)
		sem_wait(&gate);
	trec_done(r, err);
}

static void submit_gated(struct store *s, struct store_chain *c,
			 struct trec *t, const void *p, size_t len)
{
	memset(t, 0, sizeof(*t));
	store_rec_fill(c, &t->r, STORE_REC_CHUNK, STORE_DIR_UP, 0, 1, p, len);
	t->r.done = gated_done;
	cr_assert_eq(store_submit(s, &t->r), 0);
}

static void *closer(void *arg)
{
	store_close(arg);
	return NULL;
}

Test(store, close_writes_everything_queued)
{
	enum { N = 3000, EXTRA = 2000 };
	struct store *s = open_rw();
	struct trec *t = calloc(N + EXTRA, sizeof(*t));
	static uint8_t buf[4096];
	struct store_chain c;
	pthread_t th;
	uint64_t lag, ms;
	char why[256];
	int n = N, ret = 0;

	sem_init(&gate, 0, 0);
	cr_assert_eq(store_session_begin(s, &c, NULL), 0);
	submit_gated(s, &c, &t[0], buf, 10);
	usleep(20000);		/* the recorder takes seq 0 alone, and waits */
	for (int i = 1; i < N; i++)
		submit_gated(s, &c, &t[i], buf, (size_t)(i % 4096));
	store_lag(s, &lag, &ms);
	cr_assert_geq(lag, N - 1, "only %llu queued", (unsigned long long)lag);

	cr_assert_eq(pthread_create(&th, NULL, closer, s), 0);
	/* once close has begun, submit refuses; the store lives until the
	 * recorder is let go, since close waits for it */
	for (; n < N + EXTRA; n++) {
		memset(&t[n], 0, sizeof(t[n]));
		store_rec_fill(&c, &t[n].r, STORE_REC_CHUNK, STORE_DIR_UP, 0, 1, buf, 1);
		t[n].r.done = gated_done;
		ret = store_submit(s, &t[n].r);
		if (ret)
			break;
		usleep(1000);
	}
	cr_assert_eq(ret, -ESHUTDOWN, "submit during close returned %d", ret);
	sem_post(&gate);
	pthread_join(th, NULL);

	/* before close returned: every accepted record done, successfully */
	cr_assert_eq(atomic_load(&g_done), n);
	for (int i = 0; i < n; i++) {
		cr_assert_eq(atomic_load(&t[i].calls), 1);
		cr_assert_eq(atomic_load(&t[i].err), 0);
	}
	cr_assert_eq(atomic_load(&t[n].calls), 0, "refused record was done()");
	s = open_ro();
	cr_assert_eq(count_records(s, c.sid), (size_t)n);
	/* the close sealed the open session (final=0) */
	cr_assert_eq(store_verify(s, c.sid, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert_not_null(strstr(why, "1 seals"), "%s", why);
	store_close(s);
	sem_destroy(&gate);
	free(t);
}

/* ---- periodic seals --------------------------------------------------- */

Test(store, periodic_seal_catches_a_missing_tail)
{
	struct store_opts o = opts_default();
	struct store *s;
	struct store_chain c;
	struct trec t[5];
	struct raw r;
	char key[24], why[256];
	int ret;

	o.seal_interval_ms = 20;
	s = open_with(&o);
	cr_assert_eq(store_session_begin(s, &c, NULL), 0);
	for (int i = 0; i < 5; i++)
		submit(s, &c, &t[i], STORE_REC_CHUNK, STORE_DIR_UP, "x", 1, 1);
	wait_done(5);
	usleep(200000);
	/* sealed while open: visible to a reader beside the writer */
	{
		struct store *ro = open_ro();

		ret = store_verify(ro, c.sid, NULL, why, sizeof(why));
		cr_assert_eq(ret, 0, "%s", why);
		cr_assert_not_null(strstr(why, "1 seals"), "%s", why);
		store_close(ro);
	}
	/* a daemon crash here would leave it unended; simulate by closing */
	store_close(s);
	raw_open(&r);
	rec_key(key, c.sid, 4);
	raw_del(&r, R_CHUNKS, key, 24);
	raw_close(&r);
	verify_bad(c.sid, NULL, "records after seq 3 are missing: a seal says 5");
}

Test(store, seal_chain_survives_a_restart)
{
	uint8_t a[16], b[16];
	char *vals[4], *keys[4];
	size_t lens[4];
	struct raw r;

	std_session(a);		/* opens and closes the store */
	std_session(b);		/* a second process lifetime */
	verify_ok(a);
	verify_ok(b);
	raw_open(&r);
	cr_assert_eq(raw_seals(&r, vals, lens, keys, 4), 2);
	cr_assert_not_null(strstr(vals[0], "prev=0000000000000000"));
	cr_assert_null(strstr(vals[1], "prev=0000000000000000"),
		       "second seal does not link to the first");
	for (int i = 0; i < 2; i++) {
		free(vals[i]);
		free(keys[i]);
	}
	raw_close(&r);
}

/* ---- lag ------------------------------------------------------------ */

Test(store, lag_counts_and_ages)
{
	struct store *s = open_rw();
	struct store_chain c;
	struct trec t[20];
	uint64_t n, ms;

	sem_init(&gate, 0, 0);
	store_lag(s, &n, &ms);
	cr_assert_eq(n, 0);
	cr_assert_eq(ms, 0);
	cr_assert_eq(store_session_begin(s, &c, NULL), 0);
	for (int i = 0; i < 20; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		store_rec_fill(&c, &t[i].r, STORE_REC_CHUNK, STORE_DIR_UP, 0, 1,
			       "b", 1);
		t[i].r.done = gated_done;
		cr_assert_eq(store_submit(s, &t[i].r), 0);
		if (!i)
			usleep(20000);	/* the recorder takes seq 0 alone */
	}
	usleep(150000);
	store_lag(s, &n, &ms);
	cr_assert_geq(n, 19, "lag %llu records", (unsigned long long)n);
	cr_assert_geq(ms, 100, "oldest %llu ms", (unsigned long long)ms);
	cr_assert_lt(ms, 10000, "oldest %llu ms", (unsigned long long)ms);
	sem_post(&gate);
	wait_done(20);
	/* written is counted after the batch's done() calls */
	for (int i = 0; i < 1000 && n; i++) {
		usleep(1000);
		store_lag(s, &n, &ms);
	}
	cr_assert_eq(n, 0);
	cr_assert_eq(ms, 0);
	store_close(s);
	sem_destroy(&gate);
}

/* ---- size budget ------------------------------------------------------ */

Test(store, size_budget_alarm_once_per_crossing)
{
	struct store_opts o = opts_default();
	char log_path[160], *text;
	struct store_chain c;
	struct store *s;
	struct trec t[4];
	static uint8_t buf[100000];
	int saved, fd, hits = 0;
	uint64_t a, b;
	FILE *f;
	size_t len;

	snprintf(log_path, sizeof(log_path), "%s/stderr.log", dir);
	fflush(stderr);
	saved = dup(2);
	fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	dup2(fd, 2);
	close(fd);

	o.max_bytes = 100000;
	s = open_with(&o);
	cr_assert_eq(store_session_begin(s, &c, NULL), 0);
	for (int i = 0; i < 4; i++)
		submit(s, &c, &t[i], STORE_REC_CHUNK, STORE_DIR_UP, buf, sizeof(buf), 1);
	wait_done(4);
	a = store_disk_bytes(s);
	b = store_disk_bytes(s);
	store_close(s);

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	cr_assert_gt(a, 400000, "disk bytes %llu after 400 kB written",
		     (unsigned long long)a);
	cr_assert_geq(b, a - 1);
	f = fopen(log_path, "r");
	text = calloc(1, 1 << 20);
	len = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	text[len] = '\0';
	for (char *p = text; (p = strstr(p, "store over its size budget")); p++)
		hits++;
	cr_assert_eq(hits, 1, "alarm logged %d times:\n%s", hits, text);
	free(text);
}

Test(store, verify_unknown_session)
{
	uint8_t sid[16] = { 1, 2, 3 };
	char why[256];
	struct store *s = open_rw();

	store_close(s);
	cr_assert_eq(verify(sid, NULL, why, sizeof(why)), -ENOENT, "%s", why);
	cr_assert_str_eq(why, "no such session");
}

Test(store, broken_last_seal_does_not_stop_recording)
{
	uint8_t a[16], b[16];
	char *vals[4], *keys[4];
	size_t lens[4];
	struct raw r;

	std_session(a);
	raw_open(&r);
	cr_assert_eq(raw_seals(&r, vals, lens, keys, 4), 1);
	raw_put(&r, R_SEALS, keys[0], 24, "garbage", 7);
	free(vals[0]);
	free(keys[0]);
	raw_close(&r);
	/* the store still opens and records; the break stays visible */
	std_session_nocheck(b);
	verify_bad(a, NULL, "malformed");
	verify_bad(b, NULL, "previous-seal hash mismatch");
}
