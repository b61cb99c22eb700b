// SPDX-License-Identifier: BSD-2-Clause
/*
 * The recording store (DESIGN §5): RocksDB column families, the per-session
 * hash chain, Ed25519 seals, the recorder thread with group commit,
 * retention and the read side used by the CLI. Layouts are fixed in
 * store.h; this file only adds what nobody else needs to know:
 *
 * - The recorder is the only writer of chunks, events and seals. Workers
 *   push struct store_rec onto a Treiber stack (one CAS, never blocks); the
 *   recorder takes the whole stack with one exchange, reverses it (FIFO per
 *   producer, which is all a chain needs since one session is fed by one
 *   thread), and writes up to REC_BATCH_MAX records or REC_BATCH_BYTES in
 *   one WriteBatch, header and payload as two slices (no copy of ours).
 * - Session ends travel through the same queue as an internal marker, so
 *   the final seal is ordered after the session's last record.
 * - The recorder remembers, per open session, what has been written and
 *   sealed; periodic seals cover sessions with new records. Seals form one
 *   chain over all sessions in key (time) order.
 * - The default family holds one key, "seal_key", the absolute path of the
 *   signing key, so a read-only open can find "<seal_key>.pub". That only
 *   locates a file: for evidence, verify against a public key kept apart
 *   from the database.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <rocksdb/c.h>

#include "log.h"
#include "store.h"

/* Group commit bounds: latency of one batch stays a few ms at most. */
#define REC_BATCH_MAX		4096
#define REC_BATCH_BYTES		(16u << 20)
#define RETENTION_EVERY_MS	60000
#define RETENTION_BATCH		256
#define SEAL_SIG_LEN		64
#define SEAL_VALUE_MAX		4096	/* a seal value is ~400 bytes */
#define SESSION_VALUE_MAX	(1u << 20)
#define PUBKEY_FILE_MAX		(64u << 10)
#define REC_KEY_LEN		(STORE_SID_LEN + 8)
#define SEAL_KEY_LEN		(8 + STORE_SID_LEN)
#define TIDX_KEY_LEN		(1 + 8 + STORE_SID_LEN)
#define FEED_KEY_LEN		(1 + 8)		/* 'f' || feed seq */
#define FEED_VAL_LEN		(1 + STORE_SID_LEN + 8)
#define LAST_KEY_LEN		(1 + STORE_SID_LEN)	/* 'l' || sid */
#define FEED_PRUNE_MAX		100000
#define FEED_READ_MAX		4096
#define CURSOR_NAME_MAX		255
#define NS_PER_MS		1000000ull
#define NS_PER_DAY		(86400ull * 1000000000ull)
#define GATE_STOP		(1ull << 63)
#define DEFAULT_KEY_SEAL	"seal_key"
#define TIME_LEN		64	/* RFC 3339 text, room for any year */

enum { CF_DEFAULT, CF_SESSIONS, CF_CHUNKS, CF_EVENTS, CF_INDEX, CF_SEALS,
       CF_EXPORT, CF_APPROVALS, CF_N };
static const char *const cf_names[CF_N] = {
	"default", "sessions", "chunks", "events", "index", "seals", "export",
	"approvals",
};

/* What the recorder knows of a session it has written records for. */
struct sess {
	struct sess *next;
	uint8_t sid[STORE_SID_LEN];
	uint64_t records;		/* written: last seq + 1 */
	uint64_t sealed;		/* records covered by the last seal */
	uint64_t sealing;		/* records in the seal being written */
	uint8_t head[STORE_HASH_LEN];
};

/* store_session_end()'s request, recognised by rec.done == end_tag. */
struct end_marker {
	struct store_rec rec;
	json_t *meta;			/* owned deep copy */
	uint64_t records;
	uint8_t head[STORE_HASH_LEN];
	uint64_t end_ns;
};

/*
 * The seal chain: hash of the last seal's text, and its key time. It also
 * carries the export feed's last sequence: both advance inside a batch and
 * are committed together once the batch is written.
 */
struct seal_chain {
	uint8_t prev[STORE_HASH_LEN];
	uint64_t last_ns;
	uint64_t feed;
};

/* Enqueue time of each stack the recorder took, for store_lag(). */
struct gen {
	uint64_t ns;
	uint64_t left;
};

struct store {
	/* producers' cache line: touched by every store_submit() */
	_Alignas(64) _Atomic(struct store_rec *) q_head;
	_Atomic uint64_t q_gen_ns;	/* when the stack last became non-empty */
	_Atomic uint64_t gate;		/* submitters inside | GATE_STOP */
	_Atomic uint64_t enqueued;
	_Atomic int sleeping;		/* futex word: recorder is idle */

	_Alignas(64) _Atomic uint64_t written;
	_Atomic uint64_t oldest_ns;	/* enqueue time of the oldest taken */
	_Atomic uint64_t last_sid_ns;
	_Atomic int over_budget;
	_Atomic uint64_t feed_head;	/* last feed sequence written */
	_Atomic uint64_t retention_held; /* sessions kept back for export */

	/* the live sinks, set by the exporter, read by retention */
	pthread_mutex_t export_mu;
	char **export_sinks;
	size_t n_export_sinks;
	bool export_told;		/* until then: every cursor stored */

	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_options_t *cf_opts[CF_N];
	rocksdb_column_family_handle_t *cf[CF_N];
	rocksdb_column_family_handle_t **extra_cf;	/* families we don't use */
	size_t n_extra;
	rocksdb_writeoptions_t *wo;
	rocksdb_readoptions_t *ro;
	bool readonly;

	char *path;
	char *seal_key_path;
	enum store_mode mode;
	unsigned sync_ms, retention_days, seal_interval_ms;
	uint64_t max_bytes;
	EVP_PKEY *key;

	pthread_t thread;
	bool thread_started;

	/* recorder thread only */
	rocksdb_writebatch_t *batch;
	struct store_rec *pend_head, *pend_tail;
	struct gen *gens;
	size_t gen_cap, gen_first, gen_n;
	struct sess **buckets;
	size_t n_buckets, n_sess;
	struct seal_chain seal;
	bool wal_dirty;
};

/* ---- small helpers -------------------------------------------------- */

static _Atomic uint64_t clock_override;

/*
 * Test hook, not in store.h: a nonzero ns replaces CLOCK_REALTIME for ids,
 * start/end times, seal times and retention, so a test can make a session
 * look old. 0 restores the real clock.
 */
void store_test_set_clock(uint64_t ns);
void store_test_set_clock(uint64_t ns)
{
	atomic_store(&clock_override, ns);
}

static uint64_t now_ns(void)
{
	uint64_t o = atomic_load_explicit(&clock_override, memory_order_relaxed);
	struct timespec ts;

	if (o)
		return o;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly 2n hex digits from `in` (not NUL-terminated); 0 or -EINVAL. */
static int hex_decode(const char *in, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex_nibble(in[2 * i]), lo;

		if (hi < 0)
			return -EINVAL;
		lo = hex_nibble(in[2 * i + 1]);
		if (lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* RocksDB's error string becomes -EIO plus a message; the string is freed. */
static int rdb_err(char **errp, char *err, size_t errlen, const char *what)
{
	set_err(err, errlen, "%s: %s", what, *errp);
	free(*errp);
	*errp = NULL;
	return -EIO;
}

/* Same, for callers without a message buffer: the message goes to the log. */
static int rdb_log(char **errp, const char *what)
{
	log_error("store: rocksdb error", "{s:s, s:s}", "op", what, "error", *errp);
	free(*errp);
	*errp = NULL;
	return -EIO;
}

/* "2026-01-02T03:04:05.123456Z" */
static void rfc3339(uint64_t ns, char out[TIME_LEN])
{
	time_t secs = (time_t)(ns / 1000000000ull);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (unsigned)(ns % 1000000000ull / 1000));
}

/* ---- SHA-256 -------------------------------------------------------- */

/*
 * One digest context per thread, kept: store_rec_fill() runs on the
 * workers' hot path, where an allocation and an algorithm fetch per record
 * would cost more than hashing a small chunk.
 */
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static pthread_key_t sha_key;
static EVP_MD *sha_md;

static void sha_ctx_free(void *p)
{
	EVP_MD_CTX_free(p);
}

static void sha_init(void)
{
	sha_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (pthread_key_create(&sha_key, sha_ctx_free))
		EVP_MD_free(sha_md), sha_md = NULL;
}

static EVP_MD_CTX *sha_begin(void)
{
	EVP_MD_CTX *ctx;

	pthread_once(&sha_once, sha_init);
	if (!sha_md)
		return NULL;
	ctx = pthread_getspecific(sha_key);
	if (!ctx) {
		ctx = EVP_MD_CTX_new();
		if (!ctx)
			return NULL;
		if (pthread_setspecific(sha_key, ctx)) {
			EVP_MD_CTX_free(ctx);
			return NULL;
		}
	}
	if (!EVP_DigestInit_ex2(ctx, sha_md, NULL))
		return NULL;
	return ctx;
}

/* SHA-256(sid || seq BE || hdr || payload): a record's hash. */
static int rec_hash(const uint8_t sid[STORE_SID_LEN], uint64_t seq,
		    const uint8_t hdr[STORE_HDR_LEN], const void *payload,
		    size_t len, uint8_t out[STORE_HASH_LEN])
{
	EVP_MD_CTX *ctx = sha_begin();
	uint8_t pre[STORE_SID_LEN + 8 + STORE_HDR_LEN];

	if (!ctx)
		return -ENOMEM;
	memcpy(pre, sid, STORE_SID_LEN);
	put_be64(pre + STORE_SID_LEN, seq);
	memcpy(pre + STORE_SID_LEN + 8, hdr, STORE_HDR_LEN);
	if (!EVP_DigestUpdate(ctx, pre, sizeof(pre)) ||
	    (len && !EVP_DigestUpdate(ctx, payload, len)) ||
	    !EVP_DigestFinal_ex(ctx, out, NULL))
		return -EIO;
	return 0;
}

static int sha256(const void *p, size_t len, uint8_t out[STORE_HASH_LEN])
{
	EVP_MD_CTX *ctx = sha_begin();

	if (!ctx)
		return -ENOMEM;
	if (!EVP_DigestUpdate(ctx, p, len) || !EVP_DigestFinal_ex(ctx, out, NULL))
		return -EIO;
	return 0;
}

/* ---- public helpers ------------------------------------------------- */

void store_sid_format(const uint8_t sid[STORE_SID_LEN], char out[33])
{
	hex_encode(sid, STORE_SID_LEN, out);
}

int store_sid_parse(const char *hex, uint8_t sid[STORE_SID_LEN])
{
	if (!hex || strlen(hex) != 2 * STORE_SID_LEN)
		return -EINVAL;
	return hex_decode(hex, STORE_SID_LEN, sid);
}

/* ---- seal key ------------------------------------------------------- */

static char *str_cat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);

	if (s) {
		memcpy(s, a, la);
		memcpy(s + la, b, lb + 1);
	}
	return s;
}

/* Write a PEM file through a temporary name so a crash leaves none or all. */
static int pem_write(const char *path, mode_t mode, EVP_PKEY *key, bool priv)
{
	char *tmp = str_cat(path, ".tmp");
	FILE *f = NULL;
	int fd = -1, err = 0;

	if (!tmp)
		return -ENOMEM;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		goto out;
	}
	fd = -1;
	if (!(priv ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) :
		     PEM_write_PUBKEY(f, key)) ||
	    fflush(f) || fsync(fileno(f))) {
		err = -EIO;
		goto out;
	}
	if (fclose(f)) {
		f = NULL;
		err = -EIO;
		goto out;
	}
	f = NULL;
	if (rename(tmp, path))
		err = -errno;
out:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (err)
		unlink(tmp);
	free(tmp);
	return err;
}

/*
 * Load the Ed25519 signing key, creating it (and its .pub) on first start.
 * A missing .pub beside an existing key is rewritten from the key.
 */
static EVP_PKEY *seal_key_load(const char *path, char *err, size_t errlen)
{
	EVP_PKEY_CTX *pc = NULL;
	EVP_PKEY *key = NULL;
	char *pub = str_cat(path, ".pub");
	struct stat st;
	FILE *f = NULL;
	int e = 0;

	if (!pub) {
		e = -ENOMEM;
		goto out;
	}
	f = fopen(path, "re");
	if (f) {
		if (!fstat(fileno(f), &st) && (st.st_mode & 077))
			log_warn("store: seal key is readable by others",
				 "{s:s}", "path", path);
		key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		if (!key || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
			set_err(err, errlen, "%s: not an Ed25519 private key in PEM",
				path);
			e = -EINVAL;
			goto out;
		}
	} else if (errno == ENOENT) {
		pc = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
		if (!pc || EVP_PKEY_keygen_init(pc) <= 0 ||
		    EVP_PKEY_keygen(pc, &key) <= 0) {
			set_err(err, errlen, "cannot generate an Ed25519 key");
			e = -EIO;
			goto out;
		}
		e = pem_write(path, 0600, key, true);
		if (e) {
			set_err(err, errlen, "%s: %s", path, strerror(-e));
			goto out;
		}
		unlink(pub);	/* a stale .pub would name another key */
		log_info("store: created the seal key", "{s:s}", "path", path);
	} else {
		e = -errno;
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (access(pub, F_OK)) {
		e = pem_write(pub, 0644, key, false);
		if (e) {
			set_err(err, errlen, "%s: %s", pub, strerror(-e));
			goto out;
		}
	}
out:
	if (f)
		fclose(f);
	EVP_PKEY_CTX_free(pc);
	free(pub);
	if (e) {
		EVP_PKEY_free(key);
		key = NULL;
		errno = -e;
	}
	return key;
}

/* Read a whole small file; caller frees. NULL + errno. */
static char *read_small_file(const char *path, size_t max, size_t *lenp)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, e = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(max + 1);
	if (!buf) {
		e = ENOMEM;
		goto out;
	}
	while ((n = read(fd, buf + len, max + 1 - len)) > 0) {
		len += (size_t)n;
		if (len > max) {
			e = EFBIG;
			goto out;
		}
	}
	if (n < 0)
		e = errno;
	buf[len] = '\0';
	if (lenp)
		*lenp = len;
out:
	close(fd);
	if (e) {
		free(buf);
		buf = NULL;
		errno = e;
	}
	return buf;
}

char *store_seal_pubkey(const char *seal_key_path)
{
	char *pub, *text;
	int e;

	if (!seal_key_path) {
		errno = EINVAL;
		return NULL;
	}
	pub = str_cat(seal_key_path, ".pub");
	if (!pub)
		return NULL;
	text = read_small_file(pub, PUBKEY_FILE_MAX, NULL);
	e = errno;
	free(pub);
	errno = e;
	return text;
}

static EVP_PKEY *pubkey_load(const char *path, char *why, size_t whylen)
{
	EVP_PKEY *key = NULL;
	FILE *f = fopen(path, "re");

	if (!f) {
		set_err(why, whylen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (!key || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
		set_err(why, whylen, "%s: not an Ed25519 public key in PEM", path);
		EVP_PKEY_free(key);
		errno = EINVAL;
		return NULL;
	}
	return key;
}

/* ---- seals ---------------------------------------------------------- */

struct seal {
	uint64_t key_ns;
	uint8_t key_sid[STORE_SID_LEN];
	uint8_t sid[STORE_SID_LEN];
	uint64_t records;
	uint8_t head[STORE_HASH_LEN];
	uint8_t prev[STORE_HASH_LEN];
	uint64_t time_ns;
	int final;
};

static int seal_text(char *out, size_t outlen, const uint8_t sid[STORE_SID_LEN],
		     uint64_t records, const uint8_t head[STORE_HASH_LEN],
		     const uint8_t prev[STORE_HASH_LEN], uint64_t time_ns,
		     int final)
{
	char sidhex[33], headhex[65], prevhex[65];

	hex_encode(sid, STORE_SID_LEN, sidhex);
	hex_encode(head, STORE_HASH_LEN, headhex);
	hex_encode(prev, STORE_HASH_LEN, prevhex);
	return snprintf(out, outlen,
			"sluice-seal-v1\nsession=%s\nrecords=%llu\nhead=%s\n"
			"prev=%s\ntime=%llu\nfinal=%d\n",
			sidhex, (unsigned long long)records, headhex, prevhex,
			(unsigned long long)time_ns, final ? 1 : 0);
}

/* "name=" then a decimal u64 without leading zeros, then '\n'. */
static int parse_u64_line(const char **p, const char *end, const char *name,
			  uint64_t *out)
{
	size_t nl = strlen(name), digits = 0;
	uint64_t v = 0;
	const char *q;

	if ((size_t)(end - *p) < nl || memcmp(*p, name, nl))
		return -EBADMSG;
	q = *p + nl;
	while (q < end && *q >= '0' && *q <= '9') {
		if (v > (UINT64_MAX - (uint64_t)(*q - '0')) / 10)
			return -EBADMSG;
		v = v * 10 + (uint64_t)(*q - '0');
		q++;
		digits++;
	}
	if (!digits || (digits > 1 && (*p)[nl] == '0') || q >= end || *q != '\n')
		return -EBADMSG;
	*out = v;
	*p = q + 1;
	return 0;
}

static int parse_hex_line(const char **p, const char *end, const char *name,
			  uint8_t *out, size_t n)
{
	size_t nl = strlen(name);

	if ((size_t)(end - *p) < nl + 2 * n + 1 || memcmp(*p, name, nl) ||
	    (*p)[nl + 2 * n] != '\n' || hex_decode(*p + nl, n, out))
		return -EBADMSG;
	*p += nl + 2 * n + 1;
	return 0;
}

/* The exact text seal_text() writes, and nothing else. */
static int seal_text_parse(const char *text, size_t len, struct seal *s)
{
	static const char magic[] = "sluice-seal-v1\n";
	const char *p = text, *end = text + len;
	uint64_t final;

	if (len < sizeof(magic) - 1 || memcmp(p, magic, sizeof(magic) - 1))
		return -EBADMSG;
	p += sizeof(magic) - 1;
	if (parse_hex_line(&p, end, "session=", s->sid, STORE_SID_LEN) ||
	    parse_u64_line(&p, end, "records=", &s->records) ||
	    parse_hex_line(&p, end, "head=", s->head, STORE_HASH_LEN) ||
	    parse_hex_line(&p, end, "prev=", s->prev, STORE_HASH_LEN) ||
	    parse_u64_line(&p, end, "time=", &s->time_ns) ||
	    parse_u64_line(&p, end, "final=", &final) || final > 1 || p != end)
		return -EBADMSG;
	s->final = (int)final;
	return 0;
}

/*
 * A seal's stored value {"payload": TEXT, "sig": BASE64}: the text (a
 * pointer into *root, valid while it lives) and the 64-byte signature.
 */
static int seal_value_parse(const char *val, size_t vlen, json_t **root,
			    const char **text, size_t *tlen,
			    uint8_t sig[SEAL_SIG_LEN])
{
	uint8_t raw[3 * 96 / 4 + 4];
	json_t *payload, *jsig;
	const char *b64;
	size_t blen;
	int n;

	*root = NULL;
	if (vlen > SEAL_VALUE_MAX)
		return -EBADMSG;
	*root = json_loadb(val, vlen, JSON_REJECT_DUPLICATES, NULL);
	if (!*root)
		return -EBADMSG;
	payload = json_object_get(*root, "payload");
	jsig = json_object_get(*root, "sig");
	if (!json_is_string(payload) || !json_is_string(jsig))
		return -EBADMSG;
	*text = json_string_value(payload);
	*tlen = json_string_length(payload);
	b64 = json_string_value(jsig);
	blen = json_string_length(jsig);
	/* 64 bytes are 88 base64 characters, the last two '=' */
	if (blen != 88 || b64[86] != '=' || b64[87] != '=')
		return -EBADMSG;
	n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)blen);
	if (n != SEAL_SIG_LEN + 2)
		return -EBADMSG;
	memcpy(sig, raw, SEAL_SIG_LEN);
	return 0;
}

/*
 * Append a feed entry to b: 'f' || next feed seq -> tag || ref, where tag
 * 'e' refers to an event (ref: sid || seq) and 's' to a seal (ref: its
 * key). c->feed advances with it (committed with the batch).
 */
static void feed_put(struct store *s, rocksdb_writebatch_t *b,
		     struct seal_chain *c, char tag, const uint8_t ref[24])
{
	uint8_t key[FEED_KEY_LEN], val[FEED_VAL_LEN];

	key[0] = 'f';
	put_be64(key + 1, ++c->feed);
	val[0] = (uint8_t)tag;
	memcpy(val + 1, ref, FEED_VAL_LEN - 1);
	rocksdb_writebatch_put_cf(b, s->cf[CF_EXPORT], (char *)key, sizeof(key),
				  (char *)val, sizeof(val));
}

/*
 * Add a seal of (sid, records, head) to batch b, advancing the chain c
 * (a copy: the caller commits it once the batch is written).
 */
static int seal_put(struct store *s, rocksdb_writebatch_t *b,
		    struct seal_chain *c, const uint8_t sid[STORE_SID_LEN],
		    uint64_t records, const uint8_t head[STORE_HASH_LEN],
		    int final)
{
	unsigned char sig[SEAL_SIG_LEN], b64[4 * SEAL_SIG_LEN / 3 + 4];
	uint8_t key[SEAL_KEY_LEN];
	EVP_MD_CTX *mc = NULL;
	json_t *v = NULL;
	char text[512], *val = NULL;
	size_t siglen = sizeof(sig);
	uint64_t t = now_ns();
	int n, err = 0;

	/* keys are the chain's order: never let a clock step reorder them */
	if (t <= c->last_ns)
		t = c->last_ns + 1;
	n = seal_text(text, sizeof(text), sid, records, head, c->prev, t, final);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		err = -EOVERFLOW;
		goto out;
	}
	mc = EVP_MD_CTX_new();
	if (!mc || EVP_DigestSignInit(mc, NULL, NULL, NULL, s->key) != 1 ||
	    EVP_DigestSign(mc, sig, &siglen, (unsigned char *)text, (size_t)n) != 1 ||
	    siglen != SEAL_SIG_LEN) {
		log_error("store: cannot sign a seal", NULL);
		err = -EIO;
		goto out;
	}
	EVP_EncodeBlock(b64, sig, SEAL_SIG_LEN);
	v = json_pack("{s:s%, s:s}", "payload", text, (size_t)n, "sig", (char *)b64);
	val = v ? json_dumps(v, JSON_COMPACT) : NULL;
	if (!val) {
		err = -ENOMEM;
		goto out;
	}
	put_be64(key, t);
	memcpy(key + 8, sid, STORE_SID_LEN);
	rocksdb_writebatch_put_cf(b, s->cf[CF_SEALS], (char *)key, sizeof(key),
				  val, strlen(val));
	feed_put(s, b, c, 's', key);
	err = sha256(text, (size_t)n, c->prev);
	c->last_ns = t;
out:
	EVP_MD_CTX_free(mc);
	json_decref(v);
	free(val);
	return err;
}

/* The chain's tail after a restart: the last seal in key order. */
static int seal_chain_recover(struct store *s, char *err, size_t errlen)
{
	rocksdb_iterator_t *it;
	const char *k, *v, *text;
	uint8_t sig[SEAL_SIG_LEN];
	json_t *root = NULL;
	size_t kl, vl, tl;
	int e = 0;

	memset(&s->seal, 0, sizeof(s->seal));
	it = rocksdb_create_iterator_cf(s->db, s->ro, s->cf[CF_SEALS]);
	rocksdb_iter_seek_to_last(it);
	if (!rocksdb_iter_valid(it))
		goto out;
	k = rocksdb_iter_key(it, &kl);
	v = rocksdb_iter_value(it, &vl);
	if (kl == SEAL_KEY_LEN)
		s->seal.last_ns = get_be64((const uint8_t *)k);
	if (kl != SEAL_KEY_LEN ||
	    seal_value_parse(v, vl, &root, &text, &tl, sig)) {
		/*
		 * Keep recording: refusing to start would let whoever broke
		 * the last seal stop the recorder. The next seal links to no
		 * possible hash, so verify names the break.
		 */
		log_error("store: the last seal is malformed; the seal chain "
			  "restarts from a visible break", NULL);
		memset(s->seal.prev, 0xff, STORE_HASH_LEN);
		goto out;
	}
	e = sha256(text, tl, s->seal.prev);
	if (e)
		set_err(err, errlen, "store: cannot hash the last seal");
out:
	json_decref(root);
	rocksdb_iter_destroy(it);
	return e;
}

/* The last feed sequence in the database: the last 'f' key, 0 if none. */
static uint64_t feed_last(struct store *s)
{
	uint8_t hi[FEED_KEY_LEN];
	rocksdb_iterator_t *it;
	uint64_t last = 0;

	if (!s->cf[CF_EXPORT])
		return 0;
	hi[0] = 'f';
	memset(hi + 1, 0xff, 8);
	it = rocksdb_create_iterator_cf(s->db, s->ro, s->cf[CF_EXPORT]);
	rocksdb_iter_seek_for_prev(it, (char *)hi, sizeof(hi));
	if (rocksdb_iter_valid(it)) {
		size_t kl;
		const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);

		if (kl == FEED_KEY_LEN && k[0] == 'f')
			last = get_be64(k + 1);
	}
	rocksdb_iter_destroy(it);
	return last;
}

/* ---- open / close --------------------------------------------------- */

static void store_free(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < CF_N; i++)
		if (s->cf[i])
			rocksdb_column_family_handle_destroy(s->cf[i]);
	for (size_t i = 0; i < s->n_extra; i++)
		if (s->extra_cf[i])
			rocksdb_column_family_handle_destroy(s->extra_cf[i]);
	free(s->extra_cf);
	if (s->db)
		rocksdb_close(s->db);
	for (int i = 0; i < CF_N; i++)
		if (s->cf_opts[i])
			rocksdb_options_destroy(s->cf_opts[i]);
	if (s->opts)
		rocksdb_options_destroy(s->opts);
	if (s->wo)
		rocksdb_writeoptions_destroy(s->wo);
	if (s->ro)
		rocksdb_readoptions_destroy(s->ro);
	if (s->batch)
		rocksdb_writebatch_destroy(s->batch);
	for (size_t i = 0; i < s->n_buckets; i++) {
		struct sess *e, *n;

		for (e = s->buckets[i]; e; e = n) {
			n = e->next;
			free(e);
		}
	}
	free(s->buckets);
	free(s->gens);
	for (size_t i = 0; i < s->n_export_sinks; i++)
		free(s->export_sinks[i]);
	free(s->export_sinks);
	pthread_mutex_destroy(&s->export_mu);
	EVP_PKEY_free(s->key);
	free(s->path);
	free(s->seal_key_path);
	free(s);
}

static struct store *store_alloc(void)
{
	size_t sz = (sizeof(struct store) + 63) & ~(size_t)63;
	struct store *s = aligned_alloc(64, sz);

	if (s) {
		memset(s, 0, sz);
		pthread_mutex_init(&s->export_mu, NULL);
	}
	return s;
}

/*
 * Open the database with every family it has (RocksDB refuses to open a
 * subset read-write) plus ours; ours get handles in s->cf, the others are
 * kept only to be closed.
 */
static int open_families(struct store *s, bool ro, char *err, size_t errlen)
{
	char **have = NULL, *e = NULL;
	const char **names = NULL;
	const rocksdb_options_t **opts = NULL;
	rocksdb_column_family_handle_t **h = NULL;
	size_t n_have = 0, n = 0;
	int ret = 0;

	have = rocksdb_list_column_families(s->opts, s->path, &n_have, &e);
	if (e) {
		if (ro) {
			ret = rdb_err(&e, err, errlen, s->path);
			goto out;
		}
		/* a new database: no families yet */
		free(e);
		e = NULL;
		n_have = 0;
	}
	names = calloc(n_have + CF_N, sizeof(*names));
	opts = calloc(n_have + CF_N, sizeof(*opts));
	h = calloc(n_have + CF_N, sizeof(*h));
	if (!names || !opts || !h) {
		ret = -ENOMEM;
		set_err(err, errlen, "out of memory");
		goto out;
	}
	for (int i = 0; i < CF_N; i++) {
		bool present = false;

		for (size_t j = 0; j < n_have; j++)
			present |= !strcmp(have[j], cf_names[i]);
		if (ro && !present)
			continue;
		names[n] = cf_names[i];
		opts[n++] = s->cf_opts[i];
	}
	for (size_t j = 0; j < n_have; j++) {
		bool ours = false;

		for (int i = 0; i < CF_N; i++)
			ours |= !strcmp(have[j], cf_names[i]);
		if (ours)
			continue;
		names[n] = have[j];
		opts[n++] = s->opts;
	}
	if (ro)
		s->db = rocksdb_open_for_read_only_column_families(
			s->opts, s->path, (int)n, names, opts, h, 0, &e);
	else
		s->db = rocksdb_open_column_families(s->opts, s->path, (int)n,
						     names, opts, h, &e);
	if (e) {
		s->db = NULL;
		ret = rdb_err(&e, err, errlen, s->path);
		goto out;
	}
	s->extra_cf = calloc(n, sizeof(*s->extra_cf));
	if (!s->extra_cf) {
		ret = -ENOMEM;
		set_err(err, errlen, "out of memory");
		for (size_t j = 0; j < n; j++)
			rocksdb_column_family_handle_destroy(h[j]);
		goto out;
	}
	for (size_t j = 0; j < n; j++) {
		int i;

		for (i = 0; i < CF_N; i++)
			if (!strcmp(names[j], cf_names[i]))
				break;
		if (i < CF_N)
			s->cf[i] = h[j];
		else
			s->extra_cf[s->n_extra++] = h[j];
	}
out:
	if (have)
		rocksdb_list_column_families_destroy(have, n_have);
	free(names);
	free(opts);
	free(h);
	return ret;
}

static int make_options(struct store *s, bool ro)
{
	s->opts = rocksdb_options_create();
	if (!s->opts)
		return -ENOMEM;
	if (!ro) {
		rocksdb_options_set_create_if_missing(s->opts, 1);
		rocksdb_options_set_create_missing_column_families(s->opts, 1);
	}
	rocksdb_options_set_keep_log_file_num(s->opts, 4);
	rocksdb_options_set_max_background_jobs(s->opts, 4);
	rocksdb_options_set_max_total_wal_size(s->opts, 512ull << 20);
	rocksdb_options_set_info_log_level(s->opts, ro ? 3 : 2);
	for (int i = 0; i < CF_N; i++) {
		s->cf_opts[i] = rocksdb_options_create();
		if (!s->cf_opts[i])
			return -ENOMEM;
	}
	/*
	 * Chunks are big, written once, read rarely and deleted by range:
	 * keep their values in blob files so compaction moves keys, not the
	 * recorded bytes, and give the memtable room for a burst.
	 */
	rocksdb_options_set_write_buffer_size(s->cf_opts[CF_CHUNKS], 128u << 20);
	rocksdb_options_set_max_write_buffer_number(s->cf_opts[CF_CHUNKS], 4);
	rocksdb_options_set_enable_blob_files(s->cf_opts[CF_CHUNKS], 1);
	rocksdb_options_set_min_blob_size(s->cf_opts[CF_CHUNKS], 4096);
	rocksdb_options_set_blob_file_size(s->cf_opts[CF_CHUNKS], 256u << 20);
	s->ro = rocksdb_readoptions_create();
	s->wo = rocksdb_writeoptions_create();
	if (!s->ro || !s->wo)
		return -ENOMEM;
	/* strict: the WAL reaches the kernel on every write, which survives
	 * kill -9; sync also survives a power loss, one fsync per batch */
	rocksdb_writeoptions_set_sync(s->wo, s->mode == STORE_SYNC);
	return 0;
}

static void *recorder_main(void *arg);

struct store *store_open(const struct store_opts *o, char *err, size_t errlen)
{
	struct store *s = NULL;
	char *e = NULL, *abs = NULL;
	int ret = 0;

	if (!o || !o->path || !o->seal_key) {
		set_err(err, errlen, "store: path and seal_key are required");
		ret = -EINVAL;
		goto out;
	}
	if (o->mode != STORE_STRICT && o->mode != STORE_SYNC &&
	    o->mode != STORE_ASYNC) {
		set_err(err, errlen, "store: unknown mode %d", (int)o->mode);
		ret = -EINVAL;
		goto out;
	}
	if (mkdir(o->path, 0700) && errno != EEXIST) {
		ret = -errno;
		set_err(err, errlen, "%s: %s", o->path, strerror(errno));
		goto out;
	}
	s = store_alloc();
	if (!s) {
		ret = -ENOMEM;
		goto out;
	}
	s->mode = o->mode;
	s->sync_ms = o->sync_ms;
	s->retention_days = o->retention_days;
	s->max_bytes = o->max_bytes;
	s->seal_interval_ms = o->seal_interval_ms;
	s->path = strdup(o->path);
	s->seal_key_path = strdup(o->seal_key);
	s->batch = rocksdb_writebatch_create();
	s->n_buckets = 64;
	s->buckets = calloc(s->n_buckets, sizeof(*s->buckets));
	if (!s->path || !s->seal_key_path || !s->batch || !s->buckets) {
		ret = -ENOMEM;
		goto out;
	}
	s->key = seal_key_load(o->seal_key, err, errlen);
	if (!s->key) {
		ret = -errno;
		goto out;
	}
	ret = make_options(s, false);
	if (ret)
		goto out;
	ret = open_families(s, false, err, errlen);
	if (ret)
		goto out;
	ret = seal_chain_recover(s, err, errlen);
	if (ret)
		goto out;
	/* the feed continues after its last entry */
	s->seal.feed = feed_last(s);
	atomic_store(&s->feed_head, s->seal.feed);
	abs = realpath(o->seal_key, NULL);
	rocksdb_put_cf(s->db, s->wo, s->cf[CF_DEFAULT], DEFAULT_KEY_SEAL,
		       strlen(DEFAULT_KEY_SEAL), abs ? abs : o->seal_key,
		       strlen(abs ? abs : o->seal_key), &e);
	if (e) {
		ret = rdb_err(&e, err, errlen, "store: writing the seal key path");
		goto out;
	}
	ret = -pthread_create(&s->thread, NULL, recorder_main, s);
	if (ret) {
		set_err(err, errlen, "store: cannot start the recorder: %s",
			strerror(-ret));
		goto out;
	}
	s->thread_started = true;
	pthread_setname_np(s->thread, "sluice-rec");
out:
	free(abs);
	if (ret) {
		if (ret == -ENOMEM && err && !err[0])
			set_err(err, errlen, "store: out of memory");
		store_free(s);
		s = NULL;
		errno = -ret;
	}
	return s;
}

struct store *store_open_ro(const char *path, char *err, size_t errlen)
{
	struct store *s = NULL;
	int ret = 0;

	if (!path) {
		ret = -EINVAL;
		goto out;
	}
	s = store_alloc();
	if (!s) {
		ret = -ENOMEM;
		goto out;
	}
	s->readonly = true;
	s->path = strdup(path);
	if (!s->path) {
		ret = -ENOMEM;
		goto out;
	}
	ret = make_options(s, true);
	if (ret)
		goto out;
	ret = open_families(s, true, err, errlen);
out:
	if (ret) {
		if (err && !err[0])
			set_err(err, errlen, "store: %s", strerror(-ret));
		store_free(s);
		s = NULL;
		errno = -ret;
	}
	return s;
}

void store_close(struct store *s)
{
	char *e = NULL;

	if (!s)
		return;
	if (s->thread_started) {
		/* new submits fail from here; the recorder drains and exits */
		atomic_fetch_or(&s->gate, GATE_STOP);
		if (atomic_exchange(&s->sleeping, 0))
			syscall(SYS_futex, &s->sleeping, FUTEX_WAKE_PRIVATE, 1,
				NULL, NULL, 0);
		pthread_join(s->thread, NULL);
	}
	if (!s->readonly && s->db) {
		rocksdb_flush_wal(s->db, 1, &e);
		if (e)
			rdb_log(&e, "flush_wal at close");
	}
	store_free(s);
}

/* ---- the queue ------------------------------------------------------ */

static void recorder_wake(struct store *s)
{
	if (atomic_load(&s->sleeping) && atomic_exchange(&s->sleeping, 0))
		syscall(SYS_futex, &s->sleeping, FUTEX_WAKE_PRIVATE, 1, NULL,
			NULL, 0);
}

int store_submit(struct store *s, struct store_rec *r)
{
	struct store_rec *old;
	int ret = 0;

	if (s->readonly)
		return -EROFS;
	/* one RMW both announces us to store_close() and reads its flag */
	if (atomic_fetch_add(&s->gate, 1) & GATE_STOP) {
		ret = -ESHUTDOWN;
		goto out;
	}
	atomic_fetch_add_explicit(&s->enqueued, 1, memory_order_relaxed);
	old = atomic_load_explicit(&s->q_head, memory_order_relaxed);
	do {
		if (!old)
			atomic_store_explicit(&s->q_gen_ns, mono_ns(),
					      memory_order_relaxed);
		r->next = old;
	} while (!atomic_compare_exchange_weak(&s->q_head, &old, r));
	recorder_wake(s);
out:
	atomic_fetch_sub(&s->gate, 1);
	return ret;
}

void store_rec_fill(struct store_chain *c, struct store_rec *r, int kind,
		    int dir, uint16_t flags, uint64_t time_ns,
		    const void *payload, size_t len)
{
	uint8_t *h = r->hdr;

	r->next = NULL;
	memcpy(r->sid, c->sid, STORE_SID_LEN);
	r->seq = c->next_seq;
	put_be64(h, time_ns);
	h[8] = (uint8_t)kind;
	h[9] = kind == STORE_REC_CHUNK ? (uint8_t)dir : 0;
	h[10] = (uint8_t)(flags >> 8);
	h[11] = (uint8_t)flags;
	/* the recorder refuses a record over 4 GiB with -EMSGSIZE */
	put_be32(h + 12, len > UINT32_MAX ? UINT32_MAX : (uint32_t)len);
	memcpy(h + 16, c->head, STORE_HASH_LEN);
	r->payload = payload;
	r->len = len;
	/* a failed hash leaves zeros: the chain then breaks visibly */
	if (rec_hash(r->sid, r->seq, h, payload, len, r->hash)) {
		log_error("store: cannot hash a record", NULL);
		memset(r->hash, 0, STORE_HASH_LEN);
	}
	memcpy(c->head, r->hash, STORE_HASH_LEN);
	c->next_seq++;
}

/* Never called: its address marks end markers in the queue. */
static void end_tag(struct store_rec *r, int err)
{
	(void)r;
	(void)err;
}

/* ---- sessions: begin / end ------------------------------------------ */

static uint64_t next_sid_ns(struct store *s)
{
	uint64_t t = now_ns(), old = atomic_load(&s->last_sid_ns), nt;

	/* strictly increasing within a process, so ids sort as they began */
	do {
		nt = t > old ? t : old + 1;
	} while (!atomic_compare_exchange_weak(&s->last_sid_ns, &old, nt));
	return nt;
}

static const char *meta_target(json_t *m)
{
	return json_string_value(json_object_get(m, "target"));
}

static const char *meta_user(json_t *m)
{
	return json_string_value(json_object_get(json_object_get(m, "user"),
						 "name"));
}

/* 'g'|'u' || text || 0 || sid into a malloc'd key. */
static char *name_key(char tag, const char *name, const uint8_t sid[STORE_SID_LEN],
		      size_t *klen)
{
	size_t n = strlen(name);
	char *k = malloc(1 + n + 1 + STORE_SID_LEN);

	if (!k)
		return NULL;
	k[0] = tag;
	memcpy(k + 1, name, n);
	k[1 + n] = '\0';
	memcpy(k + 2 + n, sid, STORE_SID_LEN);
	*klen = 2 + n + STORE_SID_LEN;
	return k;
}

/* Put (or delete) the 'g' and 'u' index keys that obj's fields name. */
static int name_index(rocksdb_writebatch_t *b, rocksdb_column_family_handle_t *cf,
		      json_t *obj, const uint8_t sid[STORE_SID_LEN], bool del)
{
	const char *names[2] = { meta_target(obj), meta_user(obj) };
	const char tags[2] = { 'g', 'u' };

	for (int i = 0; i < 2; i++) {
		size_t kl;
		char *k;

		if (!names[i])
			continue;
		k = name_key(tags[i], names[i], sid, &kl);
		if (!k)
			return -ENOMEM;
		if (del)
			rocksdb_writebatch_delete_cf(b, cf, k, kl);
		else
			rocksdb_writebatch_put_cf(b, cf, k, kl, "", 0);
		free(k);
	}
	return 0;
}

int store_session_begin(struct store *s, struct store_chain *c, json_t *meta)
{
	uint8_t tkey[TIDX_KEY_LEN], rnd[8];
	rocksdb_writebatch_t *b = NULL;
	char id[33], start[TIME_LEN], zeros[65], *val = NULL, *e = NULL;
	json_t *v = NULL;
	uint64_t t;
	int ret = 0;

	if (s->readonly) {
		ret = -EROFS;
		goto out;
	}
	if (meta && !json_is_object(meta)) {
		ret = -EINVAL;
		goto out;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		ret = -EIO;
		goto out;
	}
	t = next_sid_ns(s);
	memset(c, 0, sizeof(*c));
	put_be64(c->sid, t);
	memcpy(c->sid + 8, rnd, sizeof(rnd));

	v = meta ? json_deep_copy(meta) : json_object();
	if (!v) {
		ret = -ENOMEM;
		goto out;
	}
	store_sid_format(c->sid, id);
	rfc3339(t, start);
	hex_encode(c->head, STORE_HASH_LEN, zeros);
	if (json_object_set_new(v, "id", json_string(id)) ||
	    json_object_set_new(v, "start", json_string(start)) ||
	    json_object_set_new(v, "status", json_string("open")) ||
	    json_object_set_new(v, "records", json_integer(0)) ||
	    json_object_set_new(v, "chain", json_string(zeros))) {
		ret = -ENOMEM;
		goto out;
	}
	val = json_dumps(v, JSON_COMPACT);
	b = rocksdb_writebatch_create();
	if (!val || !b) {
		ret = -ENOMEM;
		goto out;
	}
	rocksdb_writebatch_put_cf(b, s->cf[CF_SESSIONS], (char *)c->sid,
				  STORE_SID_LEN, val, strlen(val));
	tkey[0] = 't';
	put_be64(tkey + 1, t);
	memcpy(tkey + 9, c->sid, STORE_SID_LEN);
	rocksdb_writebatch_put_cf(b, s->cf[CF_INDEX], (char *)tkey, sizeof(tkey),
				  "", 0);
	ret = name_index(b, s->cf[CF_INDEX], v, c->sid, false);
	if (ret)
		goto out;
	rocksdb_write(s->db, s->wo, b, &e);
	if (e)
		ret = rdb_log(&e, "session begin");
out:
	if (b)
		rocksdb_writebatch_destroy(b);
	free(val);
	json_decref(v);
	return ret;
}

int store_session_end(struct store *s, const struct store_chain *c, json_t *meta)
{
	struct end_marker *m = NULL;
	int ret = 0;

	if (s->readonly) {
		ret = -EROFS;
		goto out;
	}
	if (meta && !json_is_object(meta)) {
		ret = -EINVAL;
		goto out;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		ret = -ENOMEM;
		goto out;
	}
	/* meta is borrowed and the recorder reads it later: copy it now */
	m->meta = meta ? json_deep_copy(meta) : json_object();
	if (!m->meta) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(m->rec.sid, c->sid, STORE_SID_LEN);
	m->rec.seq = c->next_seq;
	m->rec.done = end_tag;
	m->records = c->next_seq;
	memcpy(m->head, c->head, STORE_HASH_LEN);
	m->end_ns = now_ns();
	ret = store_submit(s, &m->rec);
	if (!ret)
		m = NULL;	/* the recorder frees it */
out:
	if (m) {
		json_decref(m->meta);
		free(m);
	}
	return ret;
}

/* ---- the recorder's session table ----------------------------------- */

static size_t sess_slot(struct store *s, const uint8_t sid[STORE_SID_LEN])
{
	/* the last 8 bytes of an id are random */
	return (size_t)(get_be64(sid + 8) & (s->n_buckets - 1));
}

static struct sess *sess_find(struct store *s, const uint8_t sid[STORE_SID_LEN])
{
	struct sess *e;

	for (e = s->buckets[sess_slot(s, sid)]; e; e = e->next)
		if (!memcmp(e->sid, sid, STORE_SID_LEN))
			return e;
	return NULL;
}

static void sess_grow(struct store *s)
{
	size_t n = s->n_buckets * 2;
	struct sess **nb = calloc(n, sizeof(*nb)), **ob = s->buckets;
	size_t on = s->n_buckets;

	if (!nb)
		return;		/* longer chains, still correct */
	s->buckets = nb;
	s->n_buckets = n;
	for (size_t i = 0; i < on; i++) {
		struct sess *e, *nx;

		for (e = ob[i]; e; e = nx) {
			size_t k = sess_slot(s, e->sid);

			nx = e->next;
			e->next = nb[k];
			nb[k] = e;
		}
	}
	free(ob);
}

static struct sess *sess_get(struct store *s, const uint8_t sid[STORE_SID_LEN])
{
	struct sess *e = sess_find(s, sid);
	size_t k;

	if (e)
		return e;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	memcpy(e->sid, sid, STORE_SID_LEN);
	k = sess_slot(s, sid);
	e->next = s->buckets[k];
	s->buckets[k] = e;
	if (++s->n_sess > s->n_buckets)
		sess_grow(s);
	return e;
}

static void sess_forget(struct store *s, const uint8_t sid[STORE_SID_LEN])
{
	struct sess **pp = &s->buckets[sess_slot(s, sid)];

	for (; *pp; pp = &(*pp)->next) {
		if (!memcmp((*pp)->sid, sid, STORE_SID_LEN)) {
			struct sess *e = *pp;

			*pp = e->next;
			free(e);
			s->n_sess--;
			return;
		}
	}
}

/* ---- the recorder --------------------------------------------------- */

static void gen_push(struct store *s, uint64_t ns, uint64_t n)
{
	if (s->gen_n == s->gen_cap) {
		size_t cap = s->gen_cap ? 2 * s->gen_cap : 16;
		struct gen *g = malloc(cap * sizeof(*g));

		if (!g)
			return;		/* lag's age gets vaguer, nothing worse */
		for (size_t i = 0; i < s->gen_n; i++)
			g[i] = s->gens[(s->gen_first + i) % s->gen_cap];
		free(s->gens);
		s->gens = g;
		s->gen_cap = cap;
		s->gen_first = 0;
	}
	s->gens[(s->gen_first + s->gen_n) % s->gen_cap] = (struct gen){ ns, n };
	s->gen_n++;
	if (s->gen_n == 1)
		atomic_store(&s->oldest_ns, ns);
}

static void gen_consume(struct store *s, uint64_t n)
{
	while (n && s->gen_n) {
		struct gen *g = &s->gens[s->gen_first];
		uint64_t k = n < g->left ? n : g->left;

		g->left -= k;
		n -= k;
		if (!g->left) {
			s->gen_first = (s->gen_first + 1) % s->gen_cap;
			s->gen_n--;
		}
	}
	atomic_store(&s->oldest_ns, s->gen_n ? s->gens[s->gen_first].ns : 0);
}

/* Take everything queued, restore FIFO order, append to the pending list. */
static bool grab(struct store *s)
{
	struct store_rec *r = atomic_exchange(&s->q_head, NULL), *fifo = NULL,
			 *tail, *n;
	uint64_t gen_ns = atomic_load_explicit(&s->q_gen_ns, memory_order_relaxed);
	uint64_t cnt = 0;

	if (!r)
		return false;
	tail = r;
	for (; r; r = n, cnt++) {
		n = r->next;
		r->next = fifo;
		fifo = r;
	}
	if (s->pend_tail)
		s->pend_tail->next = fifo;
	else
		s->pend_head = fifo;
	s->pend_tail = tail;
	gen_push(s, gen_ns, cnt);
	return true;
}

/* The final `sessions` value and seal of an ended session, into b. */
static int end_put(struct store *s, rocksdb_writebatch_t *b,
		   struct seal_chain *sc, struct end_marker *m)
{
	char end[TIME_LEN], chain[65], id[33], *old = NULL, *val = NULL, *e = NULL;
	json_t *v = NULL, *start;
	size_t ol = 0;
	int ret = 0;

	old = rocksdb_get_cf(s->db, s->ro, s->cf[CF_SESSIONS],
			     (char *)m->rec.sid, STORE_SID_LEN, &ol, &e);
	if (e) {
		ret = rdb_log(&e, "session end: get");
		goto out;
	}
	if (old && ol <= SESSION_VALUE_MAX)
		v = json_loadb(old, ol, 0, NULL);
	if (!json_is_object(v)) {
		json_decref(v);
		v = json_object();
	}
	/* the caller's meta wins, except for what begin recorded */
	start = json_incref(json_object_get(v, "start"));
	json_object_update(v, m->meta);
	if (start)
		json_object_set_new(v, "start", start);
	store_sid_format(m->rec.sid, id);
	rfc3339(m->end_ns, end);
	hex_encode(m->head, STORE_HASH_LEN, chain);
	if (!json_is_string(json_object_get(m->meta, "status")))
		json_object_set_new(v, "status", json_string("closed"));
	if (json_object_set_new(v, "id", json_string(id)) ||
	    json_object_set_new(v, "end", json_string(end)) ||
	    json_object_set_new(v, "records", json_integer((json_int_t)m->records)) ||
	    json_object_set_new(v, "chain", json_string(chain))) {
		ret = -ENOMEM;
		goto out;
	}
	val = json_dumps(v, JSON_COMPACT);
	if (!val) {
		ret = -ENOMEM;
		goto out;
	}
	rocksdb_writebatch_put_cf(b, s->cf[CF_SESSIONS], (char *)m->rec.sid,
				  STORE_SID_LEN, val, strlen(val));
	/* identities learnt during the session get their index keys now */
	ret = name_index(b, s->cf[CF_INDEX], v, m->rec.sid, false);
	if (ret)
		goto out;
	ret = seal_put(s, b, sc, m->rec.sid, m->records, m->head, 1);
	if (!ret) {
		/* the final seal is the session's last feed entry: retention
		 * compares this with the sinks' cursors */
		uint8_t lk[LAST_KEY_LEN], lv[8];

		lk[0] = 'l';
		memcpy(lk + 1, m->rec.sid, STORE_SID_LEN);
		put_be64(lv, sc->feed);
		rocksdb_writebatch_put_cf(b, s->cf[CF_EXPORT], (char *)lk,
					  sizeof(lk), (char *)lv, sizeof(lv));
	}
out:
	free(old);
	free(val);
	json_decref(v);
	return ret;
}

/*
 * Write one group commit from the pending list: up to REC_BATCH_MAX
 * records or REC_BATCH_BYTES, then done() for each, in order.
 */
static void write_pending(struct store *s)
{
	rocksdb_writebatch_t *b = s->batch;
	struct store_rec *r, *first = s->pend_head, *stop, *n;
	struct seal_chain sc = s->seal;
	size_t cnt = 0, bytes = 0;
	char *e = NULL;
	int err = 0;

	rocksdb_writebatch_clear(b);
	for (r = first; r && cnt < REC_BATCH_MAX && bytes < REC_BATCH_BYTES;
	     r = r->next, cnt++) {
		uint8_t key[REC_KEY_LEN];
		const char *kp[1] = { (char *)key }, *vp[2];
		size_t kl[1] = { sizeof(key) }, vl[2];

		if (r->done == end_tag) {
			if (end_put(s, b, &sc, (struct end_marker *)r))
				log_error("store: cannot write a session's end", NULL);
			continue;
		}
		if (r->len > UINT32_MAX)
			continue;	/* done(-EMSGSIZE) below */
		memcpy(key, r->sid, STORE_SID_LEN);
		put_be64(key + STORE_SID_LEN, r->seq);
		vp[0] = (char *)r->hdr;
		vl[0] = STORE_HDR_LEN;
		vp[1] = r->len ? (const char *)r->payload : "";
		vl[1] = r->len;
		rocksdb_writebatch_putv_cf(b, s->cf[r->hdr[8] == STORE_REC_EVENT ?
						    CF_EVENTS : CF_CHUNKS],
					   1, kp, kl, 2, vp, vl);
		/* events (not chunks) are what the exporter sends */
		if (r->hdr[8] == STORE_REC_EVENT)
			feed_put(s, b, &sc, 'e', key);
		bytes += STORE_HDR_LEN + r->len;
	}
	stop = r;
	s->pend_head = stop;
	if (!stop)
		s->pend_tail = NULL;

	rocksdb_write(s->db, s->wo, b, &e);
	if (e)
		err = rdb_log(&e, "recorder write");
	else
		s->seal = sc;
	atomic_store(&s->feed_head, s->seal.feed);
	s->wal_dirty = true;

	for (r = first; r != stop; r = n) {
		n = r->next;	/* done() may free r */
		if (r->done == end_tag) {
			struct end_marker *m = (struct end_marker *)r;

			sess_forget(s, m->rec.sid);
			json_decref(m->meta);
			free(m);
			continue;
		}
		if (!err && r->len <= UINT32_MAX) {
			struct sess *x = sess_get(s, r->sid);

			if (x) {
				x->records = r->seq + 1;
				memcpy(x->head, r->hash, STORE_HASH_LEN);
			}
		}
		if (r->done)
			r->done(r, err ? err : r->len > UINT32_MAX ? -EMSGSIZE : 0);
	}
	gen_consume(s, cnt);
	atomic_fetch_add(&s->written, cnt);
}

/* Seal every session with records written since its last seal. */
static void seal_open_sessions(struct store *s)
{
	rocksdb_writebatch_t *b = s->batch;
	struct seal_chain sc = s->seal;
	size_t n = 0;
	char *e = NULL;

	rocksdb_writebatch_clear(b);
	for (size_t i = 0; i < s->n_buckets; i++) {
		for (struct sess *x = s->buckets[i]; x; x = x->next) {
			x->sealing = x->sealed;
			if (x->records > x->sealed &&
			    !seal_put(s, b, &sc, x->sid, x->records, x->head, 0)) {
				x->sealing = x->records;
				n++;
			}
		}
	}
	if (!n)
		return;
	rocksdb_write(s->db, s->wo, b, &e);
	if (e) {
		rdb_log(&e, "periodic seal");
		return;
	}
	s->seal = sc;
	atomic_store(&s->feed_head, s->seal.feed);
	s->wal_dirty = true;
	for (size_t i = 0; i < s->n_buckets; i++)
		for (struct sess *x = s->buckets[i]; x; x = x->next)
			x->sealed = x->sealing;
}

/*
 * The lowest cursor of the live sinks (a sink without a cursor counts as
 * 0). False when there is no live sink: then nothing waits for export.
 */
static bool export_min_cursor(struct store *s, uint64_t *min)
{
	bool any = false;

	*min = UINT64_MAX;
	pthread_mutex_lock(&s->export_mu);
	if (!s->export_told) {
		/* the run at open comes before the exporter has started:
		 * every sink that ever took anything counts */
		json_t *all = store_export_cursor_list(s), *v;
		const char *k;

		if (!all) {
			*min = 0;
			any = true;
		}
		json_object_foreach(all, k, v) {
			if ((uint64_t)json_integer_value(v) < *min)
				*min = (uint64_t)json_integer_value(v);
			any = true;
		}
		json_decref(all);
	}
	for (size_t i = 0; i < s->n_export_sinks; i++) {
		uint64_t c = 0;
		int err = store_export_cursor_get(s, s->export_sinks[i], &c);

		if (err && err != -ENOENT)
			c = 0;		/* unreadable: assume nothing sent */
		if (c < *min)
			*min = c;
		any = true;
	}
	pthread_mutex_unlock(&s->export_mu);
	return any;
}

/*
 * Has sid feed entries after minc? Its 'l' key names its last one; a
 * session without one never ended (the daemon died), so it counts as
 * pending while any sink is behind the head at all.
 */
static bool export_pending(struct store *s, const uint8_t sid[STORE_SID_LEN],
			   uint64_t minc)
{
	uint8_t lk[LAST_KEY_LEN];
	char *v, *e = NULL;
	size_t vl = 0;
	bool pending;

	lk[0] = 'l';
	memcpy(lk + 1, sid, STORE_SID_LEN);
	v = rocksdb_get_cf(s->db, s->ro, s->cf[CF_EXPORT], (char *)lk,
			   sizeof(lk), &vl, &e);
	if (e) {
		rdb_log(&e, "retention: export state");
		return true;
	}
	if (v && vl == 8)
		pending = get_be64((uint8_t *)v) > minc;
	else
		pending = minc < atomic_load(&s->feed_head);
	free(v);
	return pending;
}

/*
 * Drop feed entries from the front whose session is gone and that every
 * live sink has passed; stop at the first one still needed, and never
 * drop the last (the next open numbers on from it). Entries of a
 * deleted session behind a kept one stay until that one goes (readers
 * skip entries whose record is gone).
 */
static void feed_prune(struct store *s, rocksdb_writebatch_t *b, uint64_t minc)
{
	rocksdb_iterator_t *it;
	size_t n = 0;
	char *e = NULL;

	rocksdb_writebatch_clear(b);
	it = rocksdb_create_iterator_cf(s->db, s->ro, s->cf[CF_EXPORT]);
	for (rocksdb_iter_seek(it, "f", 1); rocksdb_iter_valid(it) &&
	     n < FEED_PRUNE_MAX; rocksdb_iter_next(it)) {
		size_t kl, vl;
		const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
		const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vl);
		const uint8_t *sid;
		json_t *sv;

		if (!kl || k[0] != 'f')
			break;
		/* the last entry stays: it is where the numbering resumes */
		if (kl == FEED_KEY_LEN && (get_be64(k + 1) > minc ||
					   get_be64(k + 1) >= atomic_load(&s->feed_head)))
			break;
		if (kl == FEED_KEY_LEN && vl == FEED_VAL_LEN) {
			sid = v[0] == 's' ? v + 9 : v + 1;
			if (sess_find(s, sid))
				break;
			sv = store_session_get(s, sid);
			if (sv || errno != ENOENT) {
				json_decref(sv);
				break;
			}
		}
		rocksdb_writebatch_delete_cf(b, s->cf[CF_EXPORT], (const char *)k, kl);
		n++;
	}
	rocksdb_iter_destroy(it);
	if (n) {
		rocksdb_write(s->db, s->wo, b, &e);
		if (e)
			rdb_log(&e, "retention: feed");
	}
	rocksdb_writebatch_clear(b);
}

/* Delete one session's records, `sessions` value and index keys, into b. */
static void retention_delete(struct store *s, rocksdb_writebatch_t *b,
			     const uint8_t *tkey)
{
	const uint8_t *sid = tkey + 9;
	char lo[STORE_SID_LEN], hi[STORE_SID_LEN + 9], *val, *e = NULL;
	json_t *v = NULL;
	size_t vl = 0;

	/* sid || 0xff x 9 sorts after every sid || seq(8) */
	memcpy(lo, sid, STORE_SID_LEN);
	memcpy(hi, sid, STORE_SID_LEN);
	memset(hi + STORE_SID_LEN, 0xff, 9);
	rocksdb_writebatch_delete_range_cf(b, s->cf[CF_CHUNKS], lo, sizeof(lo),
					   hi, sizeof(hi));
	rocksdb_writebatch_delete_range_cf(b, s->cf[CF_EVENTS], lo, sizeof(lo),
					   hi, sizeof(hi));
	val = rocksdb_get_cf(s->db, s->ro, s->cf[CF_SESSIONS], lo, sizeof(lo),
			     &vl, &e);
	if (e)
		rdb_log(&e, "retention: get");
	if (val && vl <= SESSION_VALUE_MAX)
		v = json_loadb(val, vl, 0, NULL);
	if (v)
		name_index(b, s->cf[CF_INDEX], v, sid, true);
	rocksdb_writebatch_delete_cf(b, s->cf[CF_SESSIONS], lo, sizeof(lo));
	rocksdb_writebatch_delete_cf(b, s->cf[CF_INDEX], (const char *)tkey,
				     TIDX_KEY_LEN);
	{
		char lk[LAST_KEY_LEN];

		lk[0] = 'l';
		memcpy(lk + 1, sid, STORE_SID_LEN);
		rocksdb_writebatch_delete_cf(b, s->cf[CF_EXPORT], lk, sizeof(lk));
	}
	json_decref(v);
	free(val);
}

/*
 * Delete sessions that started more than retention_days ago, oldest first,
 * through the 't' index. Seals stay: they are small and are the evidence
 * that the deleted sessions existed.
 *
 * A session not yet exported to every live sink (feed entries past a
 * sink's cursor) is kept back, logged as an error and counted
 * (store_export_held()): the recording is the only copy of that
 * evidence. Then the feed's front is pruned of deleted sessions.
 */
static void retention_run(struct store *s)
{
	rocksdb_writebatch_t *b = s->batch;
	rocksdb_iterator_t *it;
	uint64_t now = now_ns(), cutoff, deleted = 0, held = 0, minc;
	size_t in_batch = 0;
	char *e = NULL;
	bool sinks = export_min_cursor(s, &minc);

	if (!s->retention_days)
		goto prune;
	if ((uint64_t)s->retention_days * NS_PER_DAY >= now)
		goto prune;
	cutoff = now - (uint64_t)s->retention_days * NS_PER_DAY;
	rocksdb_writebatch_clear(b);
	it = rocksdb_create_iterator_cf(s->db, s->ro, s->cf[CF_INDEX]);
	for (rocksdb_iter_seek(it, "t", 1); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t kl;
		const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);

		if (!kl || k[0] != 't')
			break;
		if (kl != TIDX_KEY_LEN)
			continue;
		if (get_be64(k + 1) >= cutoff)
			break;
		/* a session still being recorded keeps its chain whole */
		if (sess_find(s, k + 9))
			continue;
		if (sinks && export_pending(s, k + 9, minc)) {
			held++;
			continue;
		}
		retention_delete(s, b, k);
		deleted++;
		if (++in_batch == RETENTION_BATCH) {
			rocksdb_write(s->db, s->wo, b, &e);
			if (e)
				rdb_log(&e, "retention");
			rocksdb_writebatch_clear(b);
			in_batch = 0;
		}
	}
	rocksdb_iter_destroy(it);
	if (in_batch) {
		rocksdb_write(s->db, s->wo, b, &e);
		if (e)
			rdb_log(&e, "retention");
	}
	rocksdb_writebatch_clear(b);
	if (deleted)
		log_info("store: retention deleted sessions", "{s:I, s:i}",
			 "sessions", (json_int_t)deleted, "days",
			 (int)s->retention_days);
	atomic_store(&s->retention_held, held);
	if (held)
		log_error("store: retention keeps sessions a sink has not "
			  "exported yet", "{s:I, s:I, s:i}", "sessions",
			  (json_int_t)held, "lowest_cursor", (json_int_t)minc,
			  "days", (int)s->retention_days);
prune:
	feed_prune(s, b, minc);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void *recorder_main(void *arg)
{
	struct store *s = arg;
	uint64_t now = mono_ns(), next_sync = UINT64_MAX, next_seal = UINT64_MAX;
	uint64_t next_ret = now + RETENTION_EVERY_MS * NS_PER_MS;
	char *e = NULL;

	retention_run(s);
	store_disk_bytes(s);
	if (s->mode != STORE_SYNC && s->sync_ms)
		next_sync = now + s->sync_ms * NS_PER_MS;
	if (s->seal_interval_ms)
		next_seal = now + s->seal_interval_ms * NS_PER_MS;

	for (;;) {
		grab(s);
		if (s->pend_head)
			write_pending(s);

		now = mono_ns();
		if (now >= next_sync) {
			if (s->wal_dirty) {
				rocksdb_flush_wal(s->db, 1, &e);
				if (e)
					rdb_log(&e, "flush_wal");
				s->wal_dirty = false;
			}
			next_sync = now + s->sync_ms * NS_PER_MS;
		}
		if (now >= next_seal) {
			seal_open_sessions(s);
			next_seal = now + s->seal_interval_ms * NS_PER_MS;
		}
		if (now >= next_ret) {
			retention_run(s);
			store_disk_bytes(s);
			next_ret = now + RETENTION_EVERY_MS * NS_PER_MS;
		}
		if (s->pend_head)
			continue;

		if (atomic_load(&s->gate) & GATE_STOP) {
			/* nobody inside store_submit() and nothing queued */
			if (atomic_load(&s->gate) == GATE_STOP &&
			    !atomic_load(&s->q_head))
				break;
			sched_yield();
			continue;
		}

		/* sleep; a producer seeing sleeping == 1 wakes us */
		atomic_store(&s->sleeping, 1);
		if (atomic_load(&s->q_head) || (atomic_load(&s->gate) & GATE_STOP)) {
			atomic_store(&s->sleeping, 0);
			continue;
		}
		{
			uint64_t wait = min_u64(min_u64(next_sync, next_seal),
						next_ret) - now;
			struct timespec ts = {
				.tv_sec = (time_t)(wait / 1000000000ull),
				.tv_nsec = (long)(wait % 1000000000ull),
			};

			syscall(SYS_futex, &s->sleeping, FUTEX_WAIT_PRIVATE, 1,
				&ts, NULL, 0);
		}
		atomic_store(&s->sleeping, 0);
	}
	seal_open_sessions(s);
	return NULL;
}

/* ---- lag and size --------------------------------------------------- */

void store_lag(struct store *s, uint64_t *records, uint64_t *oldest_ms)
{
	uint64_t enq = atomic_load(&s->enqueued), wr = atomic_load(&s->written);
	uint64_t n = enq > wr ? enq - wr : 0, oldest, now = mono_ns();

	oldest = atomic_load(&s->oldest_ns);
	if (!oldest && atomic_load(&s->q_head))
		oldest = atomic_load(&s->q_gen_ns);
	if (records)
		*records = n;
	if (oldest_ms)
		*oldest_ms = n && oldest && now > oldest ?
				     (now - oldest) / NS_PER_MS : 0;
}

static uint64_t cf_prop(struct store *s, int cf, const char *name)
{
	char *v;
	uint64_t n = 0;

	if (!s->cf[cf])
		return 0;
	v = rocksdb_property_value_cf(s->db, s->cf[cf], name);
	if (v)
		n = strtoull(v, NULL, 10);
	free(v);
	return n;
}

/*
 * SST and blob files from RocksDB's properties (they include files not
 * yet deleted, which are on disk too), plus the WAL files' sizes from the
 * directory: RocksDB 7.8 has no property for the live WAL. MANIFEST, LOG
 * and OPTIONS files are left out; they are small.
 */
uint64_t store_disk_bytes(struct store *s)
{
	uint64_t total = 0;
	struct dirent *d;
	struct stat st;
	DIR *dir;

	for (int i = 0; i < CF_N; i++)
		total += cf_prop(s, i, "rocksdb.total-sst-files-size") +
			 cf_prop(s, i, "rocksdb.total-blob-file-size");
	dir = opendir(s->path);
	if (dir) {
		while ((d = readdir(dir))) {
			size_t n = strlen(d->d_name);

			if (n > 4 && !strcmp(d->d_name + n - 4, ".log") &&
			    !fstatat(dirfd(dir), d->d_name, &st, 0))
				total += (uint64_t)st.st_size;
		}
		closedir(dir);
	}
	if (s->max_bytes && total > s->max_bytes) {
		if (!atomic_exchange(&s->over_budget, 1))
			log_error("store over its size budget", "{s:I, s:I}",
				  "bytes", (json_int_t)total, "max_bytes",
				  (json_int_t)s->max_bytes);
	} else if (s->max_bytes && atomic_exchange(&s->over_budget, 0)) {
		log_info("store back under its size budget", "{s:I, s:I}",
			 "bytes", (json_int_t)total, "max_bytes",
			 (json_int_t)s->max_bytes);
	}
	return total;
}

/* ---- reading -------------------------------------------------------- */

json_t *store_session_get(struct store *s, const uint8_t sid[STORE_SID_LEN])
{
	char *val = NULL, *e = NULL;
	json_t *v = NULL;
	size_t vl = 0;
	int err = 0;

	if (!s->cf[CF_SESSIONS]) {
		err = ENOENT;
		goto out;
	}
	val = rocksdb_get_cf(s->db, s->ro, s->cf[CF_SESSIONS], (const char *)sid,
			     STORE_SID_LEN, &vl, &e);
	if (e) {
		rdb_log(&e, "session get");
		err = EIO;
		goto out;
	}
	if (!val) {
		err = ENOENT;
		goto out;
	}
	if (vl > SESSION_VALUE_MAX) {
		err = EBADMSG;
		goto out;
	}
	v = json_loadb(val, vl, 0, NULL);
	if (!json_is_object(v)) {
		json_decref(v);
		v = NULL;
		err = EBADMSG;
	}
out:
	free(val);
	if (err)
		errno = err;
	return v;
}

json_t *store_session_list(struct store *s, const char *target,
			   const char *user, uint64_t since_ns)
{
	uint8_t last[TIDX_KEY_LEN];
	rocksdb_iterator_t *it = NULL;
	json_t *arr = json_array();
	int err = 0;

	if (!arr) {
		err = ENOMEM;
		goto out;
	}
	if (!s->cf[CF_INDEX])
		goto out;
	/* 't' keys, newest first: from the largest possible one backwards */
	last[0] = 't';
	memset(last + 1, 0xff, sizeof(last) - 1);
	it = rocksdb_create_iterator_cf(s->db, s->ro, s->cf[CF_INDEX]);
	for (rocksdb_iter_seek_for_prev(it, (char *)last, sizeof(last));
	     rocksdb_iter_valid(it); rocksdb_iter_prev(it)) {
		size_t kl;
		const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
		const char *f;
		json_t *v;

		if (!kl || k[0] != 't')
			break;
		if (kl != TIDX_KEY_LEN)
			continue;
		if (since_ns && get_be64(k + 1) < since_ns)
			break;
		v = store_session_get(s, k + 9);
		if (!v)
			continue;	/* deleted meanwhile, or unreadable */
		if ((target && (!(f = meta_target(v)) || strcmp(f, target))) ||
		    (user && (!(f = meta_user(v)) || strcmp(f, user)))) {
			json_decref(v);
			continue;
		}
		if (json_array_append_new(arr, v)) {
			err = ENOMEM;
			goto out;
		}
	}
	{
		char *e = NULL;

		rocksdb_iter_get_error(it, &e);
		if (e) {
			rdb_log(&e, "session list");
			err = EIO;
		}
	}
out:
	if (it)
		rocksdb_iter_destroy(it);
	if (err) {
		json_decref(arr);
		arr = NULL;
		errno = err;
	}
	return arr;
}

/* The walker's view of one record: what store_records() shows plus the
 * raw header, which verify hashes. */
typedef int (*walk_fn)(void *ctx, const struct store_read_rec *r,
		       const uint8_t *hdr);

/* Decode a stored record; -EBADMSG if anything disagrees with its key. */
static int rec_decode(int cf, const uint8_t *k, size_t kl, const uint8_t *v,
		      size_t vl, struct store_read_rec *r)
{
	if (kl != REC_KEY_LEN || vl < STORE_HDR_LEN)
		return -EBADMSG;
	r->seq = get_be64(k + STORE_SID_LEN);
	r->time_ns = get_be64(v);
	r->kind = v[8];
	r->dir = v[9];
	r->flags = (uint16_t)(v[10] << 8 | v[11]);
	r->prev = v + 16;
	r->payload = v + STORE_HDR_LEN;
	r->len = vl - STORE_HDR_LEN;
	if (get_be32(v + 12) != r->len)
		return -EBADMSG;
	if (cf == CF_CHUNKS && (r->kind != STORE_REC_CHUNK ||
				(r->dir != STORE_DIR_UP && r->dir != STORE_DIR_DOWN)))
		return -EBADMSG;
	if (cf == CF_EVENTS && (r->kind != STORE_REC_EVENT || r->dir != 0))
		return -EBADMSG;
	return 0;
}

/*
 * Records of sid in seq order: chunks and events merged by key. On
 * -EBADMSG *bad_seq names the record (the key's seq, or the one expected
 * when the key itself is malformed).
 */
static int walk_records(struct store *s, const uint8_t sid[STORE_SID_LEN],
			walk_fn fn, void *ctx, uint64_t *bad_seq)
{
	rocksdb_iterator_t *it[2] = { NULL, NULL };
	rocksdb_readoptions_t *ro[2] = { NULL, NULL };
	const int cfs[2] = { CF_CHUNKS, CF_EVENTS };
	char upper[STORE_SID_LEN + 9], *e = NULL;
	uint64_t expect = 0;
	int ret = 0;

	memcpy(upper, sid, STORE_SID_LEN);
	memset(upper + STORE_SID_LEN, 0xff, 9);
	for (int i = 0; i < 2; i++) {
		if (!s->cf[cfs[i]])
			continue;
		ro[i] = rocksdb_readoptions_create();
		if (!ro[i]) {
			ret = -ENOMEM;
			goto out;
		}
		/* upper must outlive the iterator: it does, on our stack */
		rocksdb_readoptions_set_iterate_upper_bound(ro[i], upper,
							    sizeof(upper));
		it[i] = rocksdb_create_iterator_cf(s->db, ro[i], s->cf[cfs[i]]);
		rocksdb_iter_seek(it[i], (const char *)sid, STORE_SID_LEN);
	}
	for (;;) {
		const uint8_t *k[2] = { NULL, NULL }, *v;
		size_t kl[2] = { 0, 0 }, vl;
		struct store_read_rec r;
		int pick = -1;

		for (int i = 0; i < 2; i++) {
			if (!it[i] || !rocksdb_iter_valid(it[i]))
				continue;
			k[i] = (const uint8_t *)rocksdb_iter_key(it[i], &kl[i]);
			if (kl[i] < STORE_SID_LEN || memcmp(k[i], sid, STORE_SID_LEN)) {
				k[i] = NULL;
				continue;
			}
			if (kl[i] != REC_KEY_LEN) {
				*bad_seq = expect;
				ret = -EBADMSG;
				goto out;
			}
		}
		if (k[0] && k[1])
			/* equal seqs: the chunk first, verify sees the duplicate */
			pick = memcmp(k[0], k[1], REC_KEY_LEN) <= 0 ? 0 : 1;
		else if (k[0])
			pick = 0;
		else if (k[1])
			pick = 1;
		else
			break;
		v = (const uint8_t *)rocksdb_iter_value(it[pick], &vl);
		ret = rec_decode(cfs[pick], k[pick], kl[pick], v, vl, &r);
		if (ret) {
			*bad_seq = get_be64(k[pick] + STORE_SID_LEN);
			goto out;
		}
		ret = fn(ctx, &r, v);
		if (ret)
			goto out;
		expect = r.seq + 1;
		rocksdb_iter_next(it[pick]);
	}
	for (int i = 0; i < 2; i++) {
		if (!it[i])
			continue;
		rocksdb_iter_get_error(it[i], &e);
		if (e) {
			ret = rdb_log(&e, "records");
			goto out;
		}
	}
out:
	for (int i = 0; i < 2; i++) {
		if (it[i])
			rocksdb_iter_destroy(it[i]);
		if (ro[i])
			rocksdb_readoptions_destroy(ro[i]);
	}
	return ret;
}

struct records_ctx {
	int (*fn)(void *ctx, const struct store_read_rec *r);
	void *ctx;
};

static int records_cb(void *ctx, const struct store_read_rec *r,
		      const uint8_t *hdr)
{
	struct records_ctx *c = ctx;

	(void)hdr;
	return c->fn(c->ctx, r);
}

int store_records(struct store *s, const uint8_t sid[STORE_SID_LEN],
		  int (*fn)(void *ctx, const struct store_read_rec *r), void *ctx)
{
	struct records_ctx c = { fn, ctx };
	uint64_t bad;

	return walk_records(s, sid, records_cb, &c, &bad);
}

/* ---- export feed ---------------------------------------------------- */

/* Resolve one feed value into it (json malloc'd into *buf); -ENOENT when
 * the record it names is gone (retention), -EBADMSG when malformed. */
static int feed_resolve(struct store *s, const uint8_t *v, size_t vl,
			struct store_feed_item *it, char **buf)
{
	struct store_read_rec r;
	char *val, *e = NULL;
	size_t len = 0;
	int cf, ret;

	*buf = NULL;
	if (vl != FEED_VAL_LEN || (v[0] != 'e' && v[0] != 's'))
		return -EBADMSG;
	cf = v[0] == 'e' ? CF_EVENTS : CF_SEALS;
	if (!s->cf[cf])
		return -ENOENT;
	val = rocksdb_get_cf(s->db, s->ro, s->cf[cf], (const char *)v + 1,
			     FEED_VAL_LEN - 1, &len, &e);
	if (e)
		return rdb_log(&e, "feed read");
	if (!val)
		return -ENOENT;
	if (v[0] == 'e') {
		it->kind = STORE_FEED_EVENT;
		memcpy(it->sid, v + 1, STORE_SID_LEN);
		it->seq = get_be64(v + 1 + STORE_SID_LEN);
		ret = rec_decode(CF_EVENTS, v + 1, REC_KEY_LEN, (uint8_t *)val,
				 len, &r);
		if (ret) {
			free(val);
			return ret;
		}
		it->time_ns = r.time_ns;
		/* the payload to the front, so *buf is what it->json names */
		memmove(val, r.payload, r.len);
		it->len = r.len;
	} else {
		if (len > SEAL_VALUE_MAX) {
			free(val);
			return -EBADMSG;
		}
		it->kind = STORE_FEED_SEAL;
		memcpy(it->sid, v + 9, STORE_SID_LEN);
		it->seq = 0;
		it->time_ns = get_be64(v + 1);
		it->len = len;
	}
	it->json = val;
	*buf = val;
	return 0;
}

int store_feed_read(struct store *s, uint64_t after, size_t max,
		    int (*fn)(void *ctx, const struct store_feed_item *it),
		    void *ctx, uint64_t *last)
{
	uint8_t from[FEED_KEY_LEN];
	rocksdb_iterator_t *it;
	size_t scanned = 0;
	char *e = NULL;
	int n = 0;

	*last = after;
	if (!s->cf[CF_EXPORT] || after == UINT64_MAX)
		return 0;
	from[0] = 'f';
	put_be64(from + 1, after + 1);
	it = rocksdb_create_iterator_cf(s->db, s->ro, s->cf[CF_EXPORT]);
	for (rocksdb_iter_seek(it, (char *)from, sizeof(from));
	     rocksdb_iter_valid(it) && (size_t)n < max &&
	     scanned < FEED_READ_MAX; rocksdb_iter_next(it), scanned++) {
		size_t kl, vl;
		const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
		const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vl);
		struct store_feed_item fi = { 0 };
		char *buf;
		int ret;

		if (!kl || k[0] != 'f')
			break;
		if (kl != FEED_KEY_LEN)
			continue;
		fi.fseq = get_be64(k + 1);
		ret = feed_resolve(s, v, vl, &fi, &buf);
		if (ret == -ENOENT || ret == -EBADMSG) {
			/* gone or broken: nothing to send, step over it */
			if (ret == -EBADMSG)
				log_error("store: malformed feed entry", "{s:I}",
					  "feed_seq", (json_int_t)fi.fseq);
			*last = fi.fseq;
			continue;
		}
		if (ret) {
			n = ret;
			break;
		}
		ret = fn(ctx, &fi);
		free(buf);
		if (ret)
			break;
		*last = fi.fseq;
		n++;
	}
	rocksdb_iter_get_error(it, &e);
	if (e && n >= 0)
		n = rdb_log(&e, "feed read");
	free(e);
	rocksdb_iter_destroy(it);
	return n;
}

uint64_t store_feed_head(struct store *s)
{
	return s->readonly ? feed_last(s) : atomic_load(&s->feed_head);
}

static int cursor_key(const char *name, char *key, size_t *kl)
{
	size_t n = name ? strlen(name) : 0;

	if (!n || n > CURSOR_NAME_MAX)
		return -EINVAL;
	key[0] = 'c';
	memcpy(key + 1, name, n);
	*kl = n + 1;
	return 0;
}

int store_export_cursor_get(struct store *s, const char *name, uint64_t *seq)
{
	char key[CURSOR_NAME_MAX + 1], *v, *e = NULL;
	size_t kl, vl = 0;
	int ret = cursor_key(name, key, &kl);

	if (ret)
		return ret;
	if (!s->cf[CF_EXPORT])
		return -ENOENT;
	v = rocksdb_get_cf(s->db, s->ro, s->cf[CF_EXPORT], key, kl, &vl, &e);
	if (e)
		return rdb_log(&e, "cursor get");
	if (!v)
		return -ENOENT;
	if (vl == 8)
		*seq = get_be64((uint8_t *)v);
	else
		ret = -EBADMSG;
	free(v);
	return ret;
}

int store_export_cursor_set(struct store *s, const char *name, uint64_t seq)
{
	char key[CURSOR_NAME_MAX + 1], *e = NULL;
	uint8_t v[8];
	size_t kl;
	int ret = cursor_key(name, key, &kl);

	if (ret)
		return ret;
	if (s->readonly)
		return -EROFS;
	put_be64(v, seq);
	rocksdb_put_cf(s->db, s->wo, s->cf[CF_EXPORT], key, kl, (char *)v,
		       sizeof(v), &e);
	return e ? rdb_log(&e, "cursor set") : 0;
}

int store_export_sinks(struct store *s, const char *const *names, size_t n)
{
	char **copy = n ? calloc(n, sizeof(*copy)) : NULL;
	char **old;
	size_t n_old;

	if (n && !copy)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		copy[i] = strdup(names[i]);
		if (!copy[i]) {
			while (i--)
				free(copy[i]);
			free(copy);
			return -ENOMEM;
		}
	}
	pthread_mutex_lock(&s->export_mu);
	old = s->export_sinks;
	n_old = s->n_export_sinks;
	s->export_sinks = copy;
	s->n_export_sinks = n;
	s->export_told = true;
	pthread_mutex_unlock(&s->export_mu);
	for (size_t i = 0; i < n_old; i++)
		free(old[i]);
	free(old);
	return 0;
}

uint64_t store_export_held(struct store *s)
{
	return atomic_load(&s->retention_held);
}

json_t *store_export_cursor_list(struct store *s)
{
	rocksdb_iterator_t *it;
	json_t *o = json_object();

	if (!o || !s->cf[CF_EXPORT])
		return o;
	it = rocksdb_create_iterator_cf(s->db, s->ro, s->cf[CF_EXPORT]);
	for (rocksdb_iter_seek(it, "c", 1); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t kl, vl;
		const char *k = rocksdb_iter_key(it, &kl);
		const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vl);
		char name[CURSOR_NAME_MAX + 1];

		if (!kl || k[0] != 'c')
			break;
		if (kl < 2 || kl > CURSOR_NAME_MAX + 1 || vl != 8)
			continue;
		memcpy(name, k + 1, kl - 1);
		name[kl - 1] = '\0';
		json_object_set_new(o, name, json_integer((json_int_t)get_be64(v)));
	}
	rocksdb_iter_destroy(it);
	return o;
}

static int first_time_cb(void *ctx, const struct store_feed_item *it)
{
	*(uint64_t *)ctx = it->time_ns;
	return 0;
}

int store_export_lag(struct store *s, uint64_t cursor, uint64_t *entries,
		     uint64_t *age_ms)
{
	uint64_t head = store_feed_head(s), t = 0, last;
	int n;

	*entries = head > cursor ? head - cursor : 0;
	*age_ms = 0;
	if (!*entries)
		return 0;
	n = store_feed_read(s, cursor, 1, first_time_cb, &t, &last);
	if (n < 0)
		return n;
	if (n && t && now_ns() > t)
		*age_ms = (now_ns() - t) / NS_PER_MS;
	return 0;
}

/* ---- verify --------------------------------------------------------- */

struct vseal {
	uint64_t time_ns;
	uint64_t records;
	uint8_t head[STORE_HASH_LEN];
	int final;
};

struct verify_ctx {
	const uint8_t *sid;
	uint64_t expect;
	uint8_t hash[STORE_HASH_LEN];
	struct vseal *seals;		/* sorted by records */
	size_t n_seals, next_seal;
	char *why;
	size_t whylen;
};

static int vseal_cmp(const void *a, const void *b)
{
	const struct vseal *x = a, *y = b;

	if (x->records != y->records)
		return x->records < y->records ? -1 : 1;
	return x->time_ns < y->time_ns ? -1 : x->time_ns > y->time_ns;
}

/* Every seal covering exactly c->expect records must name the hash so far. */
static int verify_seals_at(struct verify_ctx *c)
{
	while (c->next_seal < c->n_seals &&
	       c->seals[c->next_seal].records <= c->expect) {
		struct vseal *v = &c->seals[c->next_seal++];
		char when[TIME_LEN];

		if (v->records < c->expect)
			continue;
		if (memcmp(v->head, c->hash, STORE_HASH_LEN)) {
			rfc3339(v->time_ns, when);
			if (c->expect)
				set_err(c->why, c->whylen,
					"seq %llu: chain head differs from seal %s "
					"(record altered or replaced)",
					(unsigned long long)c->expect - 1, when);
			else
				set_err(c->why, c->whylen,
					"seal %s: head of an empty chain is not zero",
					when);
			return -EBADMSG;
		}
	}
	return 0;
}

static int verify_cb(void *ctx, const struct store_read_rec *r,
		     const uint8_t *hdr)
{
	struct verify_ctx *c = ctx;
	int err;

	if (r->seq > c->expect) {
		set_err(c->why, c->whylen, "record seq %llu missing",
			(unsigned long long)c->expect);
		return -EBADMSG;
	}
	if (r->seq < c->expect) {
		set_err(c->why, c->whylen, "seq %llu: duplicate record",
			(unsigned long long)r->seq);
		return -EBADMSG;
	}
	if (memcmp(r->prev, c->hash, STORE_HASH_LEN)) {
		/* the chain cannot tell which of the two changed */
		set_err(c->why, c->whylen,
			"seq %llu: previous-hash mismatch (record %llu or %llu "
			"altered, removed or reordered)", (unsigned long long)r->seq,
			(unsigned long long)r->seq - 1, (unsigned long long)r->seq);
		return -EBADMSG;
	}
	err = rec_hash(c->sid, r->seq, hdr, r->payload, r->len, c->hash);
	if (err)
		return err;
	c->expect++;
	return verify_seals_at(c);
}

/*
 * Collect sid's seals: each must parse, match its key, carry a valid
 * signature and link to the seal just before it in the family. The first
 * problem goes to serr (reported once the records are known good).
 */
static int collect_seals(struct store *s, const uint8_t sid[STORE_SID_LEN],
			 EVP_PKEY *pub, struct vseal **out, size_t *n_out,
			 char *serr, size_t serrlen)
{
	uint8_t prev[STORE_HASH_LEN] = { 0 };
	bool prev_known = true;		/* prev is a real seal's hash */
	rocksdb_iterator_t *it;
	struct vseal *arr = NULL;
	size_t n = 0, cap = 0;
	char *e = NULL;
	int ret = 0;

	*out = NULL;
	*n_out = 0;
	if (!s->cf[CF_SEALS])
		return 0;
	it = rocksdb_create_iterator_cf(s->db, s->ro, s->cf[CF_SEALS]);
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t kl, vl, tl = 0;
		const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
		const char *v = rocksdb_iter_value(it, &vl), *text = NULL;
		uint8_t sig[SEAL_SIG_LEN], h[STORE_HASH_LEN];
		bool ours = kl == SEAL_KEY_LEN &&
			    !memcmp(k + 8, sid, STORE_SID_LEN);
		EVP_MD_CTX *mc = NULL;
		json_t *root = NULL;
		struct seal sl;
		char when[TIME_LEN];
		int bad;

		bad = seal_value_parse(v, vl, &root, &text, &tl, sig);
		if (!ours) {
			/* others' seals only matter as links of the chain */
			prev_known = !bad && !sha256(text, tl, prev);
			json_decref(root);
			continue;
		}
		rfc3339(get_be64(k), when);
		if (bad || seal_text_parse(text, tl, &sl)) {
			if (!serr[0])
				set_err(serr, serrlen, "seal %s: malformed", when);
			prev_known = false;
			json_decref(root);
			continue;
		}
		mc = EVP_MD_CTX_new();
		if (!mc || EVP_DigestVerifyInit(mc, NULL, NULL, NULL, pub) != 1) {
			EVP_MD_CTX_free(mc);
			json_decref(root);
			ret = -ENOMEM;
			break;
		}
		bad = EVP_DigestVerify(mc, sig, SEAL_SIG_LEN,
				       (const unsigned char *)text, tl) != 1;
		EVP_MD_CTX_free(mc);
		if (bad) {
			if (!serr[0])
				set_err(serr, serrlen, "seal %s: signature invalid",
					when);
		} else if (memcmp(sl.sid, sid, STORE_SID_LEN) ||
			   sl.time_ns != get_be64(k)) {
			bad = 1;
			if (!serr[0])
				set_err(serr, serrlen,
					"seal %s: does not match its key (seal moved)",
					when);
		} else if (!prev_known || memcmp(sl.prev, prev, STORE_HASH_LEN)) {
			/* signed, but the seal before it is not the one it
			 * names: a seal was removed, altered or reordered */
			if (!serr[0])
				set_err(serr, serrlen,
					"seal %s: previous-seal hash mismatch (a seal "
					"was altered, removed or reordered)", when);
		}
		prev_known = !sha256(text, tl, h);
		memcpy(prev, h, sizeof(prev));
		json_decref(root);
		if (bad)
			continue;	/* an unsigned claim proves nothing */
		if (n == cap) {
			struct vseal *na;

			cap = cap ? 2 * cap : 16;
			na = realloc(arr, cap * sizeof(*arr));
			if (!na) {
				ret = -ENOMEM;
				break;
			}
			arr = na;
		}
		arr[n].time_ns = sl.time_ns;
		arr[n].records = sl.records;
		memcpy(arr[n].head, sl.head, STORE_HASH_LEN);
		arr[n].final = sl.final;
		n++;
	}
	if (!ret) {
		rocksdb_iter_get_error(it, &e);
		if (e)
			ret = rdb_log(&e, "seals");
	}
	rocksdb_iter_destroy(it);
	if (ret) {
		free(arr);
		return ret;
	}
	*out = arr;
	*n_out = n;
	return 0;
}

/* The .pub beside the seal key the writer recorded in the database. */
static char *default_pub_path(struct store *s)
{
	char *val, *path = NULL, *e = NULL;
	size_t vl = 0;

	if (s->seal_key_path)
		return str_cat(s->seal_key_path, ".pub");
	val = rocksdb_get_cf(s->db, s->ro, s->cf[CF_DEFAULT], DEFAULT_KEY_SEAL,
			     strlen(DEFAULT_KEY_SEAL), &vl, &e);
	if (e) {
		rdb_log(&e, "seal key path");
		return NULL;
	}
	if (val && vl && vl < PATH_MAX && !memchr(val, 0, vl)) {
		path = malloc(vl + 5);
		if (path) {
			memcpy(path, val, vl);
			memcpy(path + vl, ".pub", 5);
		}
	}
	free(val);
	return path;
}

int store_verify(struct store *s, const uint8_t sid[STORE_SID_LEN],
		 const char *pubkey_path, char *why, size_t whylen)
{
	struct verify_ctx c = { .sid = sid, .why = why, .whylen = whylen };
	char serr[256] = "", *defpath = NULL;
	const struct vseal *last_final = NULL, *most = NULL;
	EVP_PKEY *pub = NULL;
	uint64_t bad_seq = 0;
	int ret = 0;

	set_err(why, whylen, "%s", "");
	if (!pubkey_path) {
		defpath = default_pub_path(s);
		if (!defpath) {
			set_err(why, whylen, "no public key: the database names "
				"no seal key; give the key's path");
			ret = -ENOENT;
			goto out;
		}
		pubkey_path = defpath;
	}
	pub = pubkey_load(pubkey_path, why, whylen);
	if (!pub) {
		ret = -errno;
		goto out;
	}
	ret = collect_seals(s, sid, pub, &c.seals, &c.n_seals, serr, sizeof(serr));
	if (ret) {
		set_err(why, whylen, "reading seals: %s", strerror(-ret));
		goto out;
	}
	if (c.n_seals)
		qsort(c.seals, c.n_seals, sizeof(*c.seals), vseal_cmp);
	for (size_t i = 0; i < c.n_seals; i++) {
		if (c.seals[i].final &&
		    (!last_final || c.seals[i].time_ns > last_final->time_ns))
			last_final = &c.seals[i];
		if (!most || c.seals[i].records > most->records)
			most = &c.seals[i];
	}

	ret = verify_seals_at(&c);
	if (ret)
		goto out;
	ret = walk_records(s, sid, verify_cb, &c, &bad_seq);
	if (!ret && !c.expect && !c.n_seals && !serr[0]) {
		json_t *v = store_session_get(s, sid);

		if (!v && errno == ENOENT) {
			set_err(why, whylen, "no such session");
			ret = -ENOENT;
			goto out;
		}
		json_decref(v);
	}
	if (ret == -EBADMSG && !why[0])
		set_err(why, whylen, "seq %llu: malformed record (key or header)",
			(unsigned long long)bad_seq);
	if (ret) {
		if (ret != -EBADMSG && !why[0])
			set_err(why, whylen, "reading records: %s", strerror(-ret));
		goto out;
	}
	if (serr[0]) {
		set_err(why, whylen, "%s", serr);
		ret = -EBADMSG;
		goto out;
	}
	if (most && most->records > c.expect) {
		if (c.expect)
			set_err(why, whylen,
				"records after seq %llu are missing: %s seal says %llu",
				(unsigned long long)c.expect - 1,
				most->final ? "final" : "a", (unsigned long long)most->records);
		else
			set_err(why, whylen, "all records are missing: %s seal says %llu",
				most->final ? "final" : "a", (unsigned long long)most->records);
		ret = -EBADMSG;
		goto out;
	}
	if (last_final && last_final->records < c.expect) {
		set_err(why, whylen, "seq %llu: record after the final seal",
			(unsigned long long)last_final->records);
		ret = -EBADMSG;
		goto out;
	}
	set_err(why, whylen, "%llu records intact, %zu seals%s",
		(unsigned long long)c.expect, c.n_seals,
		last_final ? ", final" : " (session not ended)");
out:
	EVP_PKEY_free(pub);
	free(c.seals);
	free(defpath);
	return ret;
}

char *store_pubkey_path(struct store *s)
{
	return default_pub_path(s);
}

/* ---- approvals ------------------------------------------------------ */

int store_approval_put(struct store *s, const char *id, json_t *v)
{
	char *text, *e = NULL;
	int ret;

	if (!s || !id || !v)
		return -EINVAL;
	if (s->readonly)
		return -EROFS;
	text = json_dumps(v, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	rocksdb_put_cf(s->db, s->wo, s->cf[CF_APPROVALS], id, strlen(id), text,
		       strlen(text), &e);
	ret = e ? rdb_log(&e, "approval put") : 0;
	free(text);
	return ret;
}

json_t *store_approval_get(struct store *s, const char *id)
{
	char *val, *e = NULL;
	size_t vlen;
	json_t *j;

	errno = ENOENT;
	if (!s || !id || !s->cf[CF_APPROVALS])
		return NULL;
	val = rocksdb_get_cf(s->db, s->ro, s->cf[CF_APPROVALS], id, strlen(id), &vlen, &e);
	if (e) {
		errno = -rdb_log(&e, "approval get");
		return NULL;
	}
	if (!val)
		return NULL;
	j = json_loadb(val, vlen, 0, NULL);
	free(val);
	if (!j)
		errno = EBADMSG;
	return j;
}

json_t *store_approval_list(struct store *s)
{
	rocksdb_iterator_t *it;
	json_t *arr = json_array();

	if (!arr || !s || !s->cf[CF_APPROVALS])
		return arr;
	it = rocksdb_create_iterator_cf(s->db, s->ro, s->cf[CF_APPROVALS]);
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t vlen;
		const char *val = rocksdb_iter_value(it, &vlen);
		json_t *j = json_loadb(val, vlen, 0, NULL);

		if (j)
			json_array_append_new(arr, j);
	}
	rocksdb_iter_destroy(it);
	return arr;
}
