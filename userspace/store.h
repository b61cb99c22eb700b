/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The only owner of RocksDB (DESIGN §5). Knows nothing of protocols: chunks
 * are bytes, events are JSON text, sessions are JSON objects.
 *
 * Column families: sessions, chunks, events, index, seals, export,
 * approvals.
 *
 * A session's chunks and events share one sequence (seq 0, 1, 2, ...) and
 * one hash chain. Every record, in `chunks` or `events` under the key
 * sid(16) || seq(u64 BE), is a STORE_HDR_LEN-byte header followed by the
 * payload (raw bytes for a chunk, JSON text for an event):
 *
 *   off  len
 *     0    8  time, ns since the epoch, u64 BE
 *     8    1  kind: STORE_REC_CHUNK or STORE_REC_EVENT
 *     9    1  direction (chunks): STORE_DIR_UP (agent -> upstream) or
 *             STORE_DIR_DOWN; 0 for events
 *    10    2  flags, u16 BE (STORE_F_*)
 *    12    4  payload length, u32 BE
 *    16   32  SHA-256 of the previous record of the session (zeros for seq 0)
 *
 * A record's hash is SHA-256(sid || seq BE || header || payload); the
 * session's chain head is the hash of its last record.
 *
 * Seals (family `seals`, key: time ns u64 BE || sid) are signed with an
 * Ed25519 key; the value is JSON {"payload": TEXT, "sig": BASE64} where
 * TEXT is exactly the signed bytes:
 *   "sluice-seal-v1\nsession=<32 hex>\nrecords=<n>\nhead=<64 hex>\n"
 *   "prev=<64 hex: SHA-256 of the previous seal's TEXT, zeros for the first>\n"
 *   "time=<ns>\nfinal=<0|1>\n"
 * so `openssl pkeyutl -verify -pubin -inkey seal.pub -rawin -in text
 * -sigfile sig` checks one offline.
 *
 * Index family keys: 't' || start ns u64 BE || sid;  'g' || target || 0 ||
 * sid;  'u' || user || 0 || sid. Values empty.
 *
 * Export family: the feed, one global order of what leaves the node.
 *   'f' || feed seq u64 BE (from 1) -> 'e' || sid || seq  (an event)
 *                                    or 's' || seal key    (a seal)
 *   written by the recorder in the same batch as the record it names;
 *   'c' || sink name -> u64 BE: the last feed seq the sink has taken;
 *   'l' || sid -> u64 BE: the session's last feed seq (its final seal).
 */
#ifndef SLUICE_STORE_H
#define SLUICE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define STORE_SID_LEN	16
#define STORE_HASH_LEN	32
#define STORE_HDR_LEN	48

enum store_rec_kind { STORE_REC_CHUNK = 1, STORE_REC_EVENT = 2 };
enum store_dir { STORE_DIR_UP = 1, STORE_DIR_DOWN = 2 };
#define STORE_F_METADATA_ONLY 0x0001	/* payload withheld by record level */

enum store_mode { STORE_STRICT, STORE_SYNC, STORE_ASYNC };

struct store_opts {
	const char *path;		/* directory, created 0700 if missing */
	enum store_mode mode;
	unsigned sync_ms;		/* WAL fsync period in strict/async */
	unsigned retention_days;	/* 0: keep forever */
	uint64_t max_bytes;		/* size budget, 0: none */
	const char *seal_key;		/* Ed25519 PEM; created (0600) with
					 * <seal_key>.pub beside it if missing */
	unsigned seal_interval_ms;	/* periodic seals of open sessions */
};

struct store;

/*
 * Open (creating families as needed) for the daemon, and start the
 * recorder thread. Returns NULL with errno set and a message in err.
 * Caller frees with store_close(), which writes what is queued, seals
 * every open session (final=0) and stops the thread.
 */
struct store *store_open(const struct store_opts *o, char *err, size_t errlen);

/*
 * Open read-only for the CLI: works while the daemon has the database
 * open, sees what was written when it opened. Same ownership and errors.
 */
struct store *store_open_ro(const char *path, char *err, size_t errlen);

void store_close(struct store *s);

/* ---- writing (daemon) ---------------------------------------------- */

/* A session's running chain; owned by the connection, one thread at a time. */
struct store_chain {
	uint8_t sid[STORE_SID_LEN];
	uint64_t next_seq;
	uint8_t head[STORE_HASH_LEN];
};

/*
 * A record on its way to the recorder. Caller-owned memory; the payload is
 * borrowed (not copied) until done() is called. done() runs on the
 * recorder thread once the batch holding the record is in the WAL (written
 * to the kernel; fsynced in STORE_SYNC mode), with 0 or -errno; it must be
 * quick and must not call back into the store.
 */
struct store_rec {
	struct store_rec *next;			/* the store's queue link */
	uint8_t sid[STORE_SID_LEN];
	uint64_t seq;
	uint8_t hdr[STORE_HDR_LEN];
	uint8_t hash[STORE_HASH_LEN];		/* this record's hash */
	const void *payload;
	size_t len;
	void (*done)(struct store_rec *r, int err);
};

/*
 * Start a session: a new time-ordered id in c, its `sessions` value and
 * index entries written (synchronously). meta is borrowed; the store adds
 * "id", "start" and "chain". Returns 0 or -errno.
 */
int store_session_begin(struct store *s, struct store_chain *c, json_t *meta);

/*
 * Fill r as the next record of chain c (header, hash; advances c). The
 * payload is hashed here, on the caller's thread, and borrowed. kind is
 * STORE_REC_CHUNK (dir set) or STORE_REC_EVENT (payload JSON text).
 */
void store_rec_fill(struct store_chain *c, struct store_rec *r, int kind,
		    int dir, uint16_t flags, uint64_t time_ns,
		    const void *payload, size_t len);

/* Queue r for the recorder (lock-free, never blocks). Returns 0, or
 * -ESHUTDOWN after store_close() began. */
int store_submit(struct store *s, struct store_rec *r);

/*
 * End a session: after every record submitted before it, the recorder
 * writes the final `sessions` value (meta, borrowed; the store adds
 * "end", "records", "chain") and a final seal. Returns 0 or -errno.
 */
int store_session_end(struct store *s, const struct store_chain *c, json_t *meta);

/* Records queued but not yet written, and the age in ms of the oldest. */
void store_lag(struct store *s, uint64_t *records, uint64_t *oldest_ms);

/* Bytes on disk (SST + WAL); over max_bytes is logged once per crossing. */
uint64_t store_disk_bytes(struct store *s);

/* ---- reading (CLI, tests) ------------------------------------------ */

/* 32 lowercase hex digits <-> 16 bytes. parse returns 0 or -EINVAL. */
void store_sid_format(const uint8_t sid[STORE_SID_LEN], char out[33]);
int store_sid_parse(const char *hex, uint8_t sid[STORE_SID_LEN]);

/* The `sessions` value of sid (new reference), or NULL, errno ENOENT. */
json_t *store_session_get(struct store *s, const uint8_t sid[STORE_SID_LEN]);

/* Every session, newest first, optionally filtered (NULL: any; since_ns
 * 0: any). Returns a new array of `sessions` values, or NULL + errno. */
json_t *store_session_list(struct store *s, const char *target,
			   const char *user, uint64_t since_ns);

/* One stored record, as read back; pointers valid during the callback. */
struct store_read_rec {
	uint64_t seq;
	int kind, dir;
	uint16_t flags;
	uint64_t time_ns;
	const uint8_t *prev;		/* 32 bytes from the header */
	const uint8_t *payload;
	size_t len;
};

/*
 * Call fn for each record of sid in seq order (chunks and events merged).
 * A record whose header is malformed stops the walk with -EBADMSG.
 * fn returning nonzero stops the walk and is returned. Returns 0 or -errno.
 */
int store_records(struct store *s, const uint8_t sid[STORE_SID_LEN],
		  int (*fn)(void *ctx, const struct store_read_rec *r), void *ctx);

/*
 * Check sid's hash chain and seals against the public key (PEM file;
 * NULL: the key beside the database's seal key). Returns 0 when intact;
 * -EBADMSG with a message naming the first bad record or seal in why
 * ("seq 7: previous-hash mismatch (record altered, removed or reordered)",
 * "seal 2026-...: signature invalid", "records after seq 9 are missing:
 * final seal says 12"); other -errno on I/O errors.
 */
int store_verify(struct store *s, const uint8_t sid[STORE_SID_LEN],
		 const char *pubkey_path, char *why, size_t whylen);

/* Path of the seal public key beside the key the writer recorded in the
 * database (caller frees), or NULL with errno set. */
char *store_pubkey_path(struct store *s);

/* The seal public key in PEM (caller frees), from <seal_key>.pub. */
char *store_seal_pubkey(const char *seal_key_path);

/* ---- export feed (exporter, CLI) ------------------------------------ */

enum store_feed_kind { STORE_FEED_EVENT = 1, STORE_FEED_SEAL = 2 };

/* One feed entry resolved; pointers valid during the callback. */
struct store_feed_item {
	uint64_t fseq;			/* its feed sequence */
	int kind;			/* STORE_FEED_* */
	uint8_t sid[STORE_SID_LEN];
	uint64_t seq;			/* event: seq in its session; seal: 0 */
	uint64_t time_ns;		/* event: record time; seal: seal time */
	const char *json;		/* event: its JSON text; seal: the
					 * stored {"payload","sig"} value */
	size_t len;
};

/*
 * Call fn for feed entries after feed seq `after`, in order, at most max
 * of them (and at most a few thousand entries looked at per call).
 * Entries whose record retention deleted are stepped over. fn returning
 * nonzero stops before that entry counts. *last is the feed seq of the
 * last entry delivered or stepped over (`after` when none): the cursor
 * to save once everything delivered is safe. Returns the number of
 * entries given to fn, or -errno.
 */
int store_feed_read(struct store *s, uint64_t after, size_t max,
		    int (*fn)(void *ctx, const struct store_feed_item *it),
		    void *ctx, uint64_t *last);

/* The last feed seq written (0: empty feed). Read-only opens see what was
 * there when they opened. */
uint64_t store_feed_head(struct store *s);

/* A sink's cursor (the last feed seq it has taken): 0, -ENOENT (none
 * yet: it starts at the front of the feed), -EINVAL (name empty or over
 * 255 bytes), or another -errno. set writes it (WAL, like the records). */
int store_export_cursor_get(struct store *s, const char *name, uint64_t *seq);
int store_export_cursor_set(struct store *s, const char *name, uint64_t seq);

/*
 * The live sinks (names copied): retention keeps back sessions with feed
 * entries past the lowest of their cursors, logs it as an error, and
 * counts them (store_export_held(): sessions kept at the last run). With
 * no live sink nothing is kept back; until this is first called (the run
 * at open), every cursor stored counts. Returns 0 or -ENOMEM.
 */
int store_export_sinks(struct store *s, const char *const *names, size_t n);
uint64_t store_export_held(struct store *s);

/* Every cursor in the store as a new object {name: feed seq}, or NULL
 * with errno set. */
json_t *store_export_cursor_list(struct store *s);

/* How far a sink at cursor is behind: feed entries after it (head -
 * cursor) and the age in ms of the first one not taken yet (0: none).
 * Returns 0 or -errno. */
int store_export_lag(struct store *s, uint64_t cursor, uint64_t *entries,
		     uint64_t *age_ms);

/* ---- approvals ------------------------------------------------------ */

/*
 * Just-in-time approvals (DESIGN §4), family `approvals`: key the approval
 * id, value its JSON (approval.c owns the shape). put writes synchronously
 * to the WAL (so a grant survives a daemon restart) and returns 0 or
 * -errno (-EROFS read-only). get returns a new reference or NULL with errno
 * (ENOENT). list returns a new array of every value, in id order (empty on
 * a database without the family).
 */
int store_approval_put(struct store *s, const char *id, json_t *v);
json_t *store_approval_get(struct store *s, const char *id);
json_t *store_approval_list(struct store *s);

#endif
