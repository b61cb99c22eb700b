/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The PostgreSQL v3 wire protocol (DESIGN §2, `kind: postgres`): framing,
 * parsers for every message the proxy reads, builders for every message it
 * writes, upstream authentication (SCRAM-SHA-256, md5, cleartext) and
 * DataRow masking. No I/O, no global state: the connection code hands
 * bytes in and gets bytes out.
 *
 * Hostile input. pgw_frame() is the only door: it checks the declared
 * length against the limits below before anything waits for the body, and
 * every parser is given exactly one message body (what pgw_frame() found)
 * and never reads outside it. Parsers are zero-copy: the strings they
 * return point into the body and stay valid as long as it does (every
 * string is NUL-terminated inside the message, which the parser checks);
 * counted arrays are returned as a count and a pointer to the big-endian
 * wire bytes, read with pgw_i16_at()/pgw_u32_at(), and value lists
 * (Bind parameters, DataRow columns) are walked with pgw_values_next().
 * Only pgw_rowdesc_new() copies, since a RowDescription must outlive the
 * buffer it came in for the DataRows that follow.
 *
 * Errors: 0 or -errno; where the caller may want to say why (a session
 * record, an ErrorResponse), an err buffer gets a one-line reason with any
 * hostile bytes sanitised.
 *   -EAGAIN    pgw_frame(): not a whole message yet
 *   -EBADMSG   malformed: a length that does not fit, a missing NUL, bytes
 *              left over, a count that disagrees with the length
 *   -EMSGSIZE  over a limit (message length, startup packet)
 *   -EPROTO    a message type or code the protocol does not have here
 *   -E2BIG     more of something than this module keeps (PGW_MAX_*)
 *   -EPERM     SCRAM/masking: refused (bad server signature; a value that
 *              cannot be masked, so the row must be withheld)
 */
#ifndef SLUICE_PGWIRE_H
#define SLUICE_PGWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mask_spec;

/* ------------------------------------------------------------ limits */

/*
 * Message length limits (the length word minus its own 4 bytes). Most
 * messages are small; the bulk ones carry data or SQL of any size:
 * frontend Query, Parse, Bind, CopyData, FunctionCall, and backend
 * DataRow, CopyData, FunctionCallResponse. PostgreSQL itself allows those
 * up to 1 GiB; a proxy that holds a whole message in memory per connection
 * must not, so the bulk default is 64 MiB and no limit may exceed
 * PGW_MAX_HARD (a declared 1 GiB is always an error). A StartupMessage is
 * at most PGW_MAX_STARTUP bytes including its length word, as the server
 * enforces.
 */
#define PGW_MAX_MSG_DEFAULT	(1u << 20)
#define PGW_MAX_BULK_DEFAULT	(64u << 20)
#define PGW_MAX_HARD		((1u << 30) - 5)	/* length word < 1 GiB */
#define PGW_MAX_STARTUP		10000u

struct pgw_limits {
	uint32_t max_msg;	/* 0: PGW_MAX_MSG_DEFAULT */
	uint32_t max_bulk;	/* 0: PGW_MAX_BULK_DEFAULT */
};

/* What this module keeps in fixed arrays. */
#define PGW_MAX_PARAMS		64	/* StartupMessage parameters */
#define PGW_MAX_MECHS		8	/* AuthenticationSASL mechanisms */
#define PGW_MAX_CANCEL_KEY	256	/* protocol 3.2 allows 4..256 bytes */

/* ------------------------------------------------------------ framing */

enum pgw_dir {
	PGW_FRONTEND,	/* client → server messages */
	PGW_BACKEND,	/* server → client messages */
};

enum pgw_phase {
	PGW_PHASE_STARTUP,	/* untyped: int32 length, int32 code, ... */
	PGW_PHASE_NORMAL,	/* byte type, int32 length, body */
};

struct pgw_frame {
	char type;		/* message type; 0 in the startup phase */
	const uint8_t *body;	/* borrowed: buf + header */
	uint32_t body_len;	/* length word - 4 (startup: - 4 too) */
	size_t size;		/* header + body: what to consume */
	size_t need;		/* -EAGAIN: bytes still missing, >= 1 */
};

/*
 * Find the message at the start of buf[0..len). dir says who sent it
 * (the type letters mean different things each way); the startup phase
 * exists only for PGW_FRONTEND (the server's one-byte answer to
 * SSLRequest/GSSENCRequest is not framed: read it directly). lim NULL
 * means the defaults.
 *
 * Returns 0 with f filled when a whole message is there (body points into
 * buf); -EAGAIN with f->need when not: once the header is complete f->type,
 * f->body_len and f->size are set too, so a caller may stream a big
 * CopyData instead of holding it. Errors (reason in err): -EBADMSG a
 * length below 4 (below 8 for startup), or not 4 for a message that has
 * no body (Sync, Flush, ...); -EMSGSIZE over the limit for the type, a
 * startup packet over PGW_MAX_STARTUP; -EPROTO a type letter that does not
 * exist in this direction; -EINVAL bad arguments. Nothing past buf[len)
 * is read.
 */
int pgw_frame(enum pgw_dir dir, enum pgw_phase phase, const struct pgw_limits *lim,
	      const uint8_t *buf, size_t len, struct pgw_frame *f, char *err, size_t errlen);

/* Wire arrays, validated by the parser that returned them. */
struct pgw_i16s {
	uint16_t n;
	const uint8_t *p;	/* n big-endian int16 */
};

struct pgw_u32s {
	uint16_t n;
	const uint8_t *p;	/* n big-endian int32 */
};

/* Element i (< n) of a wire array. */
int16_t pgw_i16_at(const struct pgw_i16s *a, unsigned i);
uint32_t pgw_u32_at(const struct pgw_u32s *a, unsigned i);

/* A list of int32-length-prefixed values (-1 = NULL), already checked to
 * hold exactly n values within the message. */
struct pgw_values {
	uint16_t n;
	const uint8_t *p;	/* the first length word */
	const uint8_t *end;
};

struct pgw_values_it {
	const uint8_t *p, *end;
	unsigned left;
};

void pgw_values_begin(const struct pgw_values *v, struct pgw_values_it *it);

/* The next value: 1 with *val (borrowed) and *len (-1 for NULL, *val
 * then NULL), 0 at the end. */
int pgw_values_next(struct pgw_values_it *it, const uint8_t **val, int32_t *len);

/* ------------------------------------------------------------ startup */

#define PGW_PROTO_3_0		196608u		/* 3 << 16 */
#define PGW_CODE_CANCEL		80877102u
#define PGW_CODE_SSL		80877103u
#define PGW_CODE_GSSENC		80877104u

enum pgw_startup_kind {
	PGW_SSL_REQUEST,
	PGW_GSSENC_REQUEST,
	PGW_CANCEL_REQUEST,
	PGW_STARTUP_MESSAGE,
};

struct pgw_param {
	const char *name, *value;
};

struct pgw_startup {
	enum pgw_startup_kind kind;
	/* StartupMessage */
	uint16_t major, minor;		/* 3.x; the proxy decides what it speaks */
	unsigned n_params;
	struct pgw_param params[PGW_MAX_PARAMS];
	/* borrowed shortcuts into params, NULL when absent (user never is) */
	const char *user, *database, *application_name, *options, *replication;
	/* CancelRequest */
	int32_t pid;
	const uint8_t *key;
	uint32_t key_len;		/* 4..PGW_MAX_CANCEL_KEY */
};

/*
 * Parse a startup-phase frame body (what pgw_frame() gave for
 * PGW_PHASE_STARTUP). SSLRequest and GSSENCRequest have no more bytes;
 * CancelRequest has a pid and a 4..256 byte key; StartupMessage needs
 * major 3 and name/value pairs, each NUL-terminated, names non-empty and
 * distinct (ASCII case-insensitive, since the server reads most of them
 * as settings), a final NUL and nothing after it, and a non-empty user.
 * Returns 0; -EBADMSG; -EPROTO for an unknown code or major version;
 * -E2BIG over PGW_MAX_PARAMS. Borrowed from body.
 */
int pgw_parse_startup(const uint8_t *body, size_t len, struct pgw_startup *st, char *err,
		      size_t errlen);

/* ------------------------------------------------------------ buffers */

/*
 * Where builders write: a growable byte buffer that never grows past max.
 * Each builder appends one whole message or, on error, leaves the buffer
 * as it was. Zero-initialise or pgw_buf_init(); free with pgw_buf_free().
 */
struct pgw_buf {
	uint8_t *data;
	size_t len, cap, max;
};

/* max 0: PGW_MAX_BULK_DEFAULT + 5. */
void pgw_buf_init(struct pgw_buf *b, size_t max);
void pgw_buf_reset(struct pgw_buf *b);	/* len = 0, memory kept */
void pgw_buf_free(struct pgw_buf *b);	/* accepts a zeroed buffer */
/* Raw bytes (a message passed through as it came). 0, -EMSGSIZE, -ENOMEM;
 * nothing appended on error. */
int pgw_buf_append(struct pgw_buf *b, const void *data, size_t n);

/*
 * Builders. Return 0, or -EMSGSIZE when the message would pass b->max (or
 * a protocol limit), -ENOMEM, -EINVAL for arguments the protocol cannot
 * carry (a NULL where a string is required, a SQLSTATE that is not five
 * [0-9A-Z], a startup parameter name repeated or empty).
 */

/* frontend, startup phase */
int pgw_build_startup(struct pgw_buf *b, uint16_t minor, const struct pgw_param *params,
		      unsigned n);
int pgw_build_ssl_request(struct pgw_buf *b);
int pgw_build_cancel(struct pgw_buf *b, int32_t pid, const uint8_t *key, uint32_t key_len);

/* frontend */
int pgw_build_query(struct pgw_buf *b, const char *sql);
int pgw_build_sync(struct pgw_buf *b);
int pgw_build_terminate(struct pgw_buf *b);
int pgw_build_password(struct pgw_buf *b, const char *password);
int pgw_build_sasl_initial(struct pgw_buf *b, const char *mech, const uint8_t *data,
			   size_t len);
int pgw_build_sasl_response(struct pgw_buf *b, const uint8_t *data, size_t len);
/* Extended query, for sluice's own queries and tests: types may be NULL
 * when n is 0; vals[i] NULL is SQL NULL; format lists as Bind takes them. */
int pgw_build_parse(struct pgw_buf *b, const char *stmt, const char *query,
		    const uint32_t *types, unsigned n);
int pgw_build_bind(struct pgw_buf *b, const char *portal, const char *stmt,
		   const int16_t *param_formats, unsigned n_pf, const uint8_t *const *vals,
		   const uint32_t *lens, unsigned n, const int16_t *result_formats,
		   unsigned n_rf);
/* what 'S' or 'P' */
int pgw_build_describe(struct pgw_buf *b, char what, const char *name);
int pgw_build_execute(struct pgw_buf *b, const char *portal, int32_t max_rows);

/* backend */
enum pgw_auth_code {
	PGW_AUTH_OK		= 0,
	PGW_AUTH_KERBEROS_V5	= 2,
	PGW_AUTH_CLEARTEXT	= 3,
	PGW_AUTH_MD5		= 5,
	PGW_AUTH_GSS		= 7,
	PGW_AUTH_GSS_CONTINUE	= 8,
	PGW_AUTH_SSPI		= 9,
	PGW_AUTH_SASL		= 10,
	PGW_AUTH_SASL_CONTINUE	= 11,
	PGW_AUTH_SASL_FINAL	= 12,
};

int pgw_build_auth_ok(struct pgw_buf *b);
int pgw_build_auth_cleartext(struct pgw_buf *b);
int pgw_build_auth_md5(struct pgw_buf *b, const uint8_t salt[4]);
/* mechs: n names, e.g. {"SCRAM-SHA-256"} */
int pgw_build_auth_sasl(struct pgw_buf *b, const char *const *mechs, unsigned n);
/* code PGW_AUTH_SASL_CONTINUE or PGW_AUTH_SASL_FINAL */
int pgw_build_auth_sasl_data(struct pgw_buf *b, enum pgw_auth_code code, const uint8_t *data,
			     size_t len);
int pgw_build_parameter_status(struct pgw_buf *b, const char *name, const char *value);
int pgw_build_backend_key(struct pgw_buf *b, int32_t pid, const uint8_t *key,
			  uint32_t key_len);
/* status 'I', 'T' or 'E' */
int pgw_build_ready(struct pgw_buf *b, char status);
int pgw_build_command_complete(struct pgw_buf *b, const char *tag);
int pgw_build_empty_query(struct pgw_buf *b);

/*
 * ErrorResponse (type 'E') or NoticeResponse ('N'): fields S and V
 * severity ("ERROR", "FATAL", "NOTICE", ...), C sqlstate, M message, and D
 * detail / H hint when not NULL. A statement sluice refuses gets
 * ("ERROR", "42501", "permission denied by sluice rule ...", ...).
 */
int pgw_build_error(struct pgw_buf *b, char type, const char *severity, const char *sqlstate,
		    const char *message, const char *detail, const char *hint);

/* RowDescription and DataRow, for replies sluice makes up and for tests. */
struct pgw_field {
	const char *name;
	uint32_t table_oid;
	int16_t column;
	uint32_t type_oid;
	int16_t type_size;
	int32_t typmod;
	int16_t format;		/* 0 text, 1 binary */
};

int pgw_build_rowdesc(struct pgw_buf *b, const struct pgw_field *fields, unsigned n);
/* vals[i] NULL (lens[i] ignored) is SQL NULL. */
int pgw_build_datarow(struct pgw_buf *b, const uint8_t *const *vals, const uint32_t *lens,
		      unsigned n);

/* --------------------------------------------- frontend message bodies */

/*
 * Each takes one body as pgw_frame() found it (the type already known)
 * and returns 0 or -EBADMSG (reason in err where there is one).
 */
int pgw_parse_query(const uint8_t *body, size_t len, const char **sql, size_t *sql_len);

struct pgw_parse {
	const char *stmt, *query;	/* stmt "" is the unnamed statement */
	size_t query_len;
	struct pgw_u32s param_types;	/* 0 = unspecified */
};
int pgw_parse_parse(const uint8_t *body, size_t len, struct pgw_parse *p, char *err,
		    size_t errlen);

struct pgw_bind {
	const char *portal, *stmt;
	struct pgw_i16s param_formats;	/* 0, 1 (for all) or one per param */
	struct pgw_values params;
	struct pgw_i16s result_formats;	/* the same rule over the columns */
};
int pgw_parse_bind(const uint8_t *body, size_t len, struct pgw_bind *bd, char *err,
		   size_t errlen);

/* The format (0 text, 1 binary) of item i of n under a format-code list
 * as Bind sends them: none means all text, one means all that one. */
int16_t pgw_format_of(const struct pgw_i16s *formats, unsigned i);

struct pgw_execute {
	const char *portal;
	int32_t max_rows;	/* 0 = all */
};
int pgw_parse_execute(const uint8_t *body, size_t len, struct pgw_execute *e);

/* Describe and Close: what 'S' statement or 'P' portal, and its name. */
struct pgw_target {
	char what;
	const char *name;
};
int pgw_parse_describe(const uint8_t *body, size_t len, struct pgw_target *t);
int pgw_parse_close(const uint8_t *body, size_t len, struct pgw_target *t);

/* CopyFail's message; CopyData is the body itself. */
int pgw_parse_copy_fail(const uint8_t *body, size_t len, const char **msg);

/*
 * The 'p' family has no tag of its own: which one it is depends on what
 * the server asked for (cleartext/md5 → password, SASL → initial response
 * first, then responses; GSS/SSPI → raw token, body itself).
 */
int pgw_parse_password(const uint8_t *body, size_t len, const char **password);

struct pgw_sasl_initial {
	const char *mech;
	const uint8_t *data;	/* NULL when the client sent -1 */
	int32_t data_len;	/* -1 for none */
};
int pgw_parse_sasl_initial(const uint8_t *body, size_t len, struct pgw_sasl_initial *s);
/* SASLResponse: the data is the whole body. */

/* ---------------------------------------------- backend message bodies */

struct pgw_auth {
	enum pgw_auth_code code;
	uint8_t salt[4];		/* MD5 */
	unsigned n_mechs;		/* SASL */
	const char *mechs[PGW_MAX_MECHS];
	const uint8_t *data;		/* SASL continue/final, GSS continue */
	size_t data_len;
};
/* -EPROTO for a code not in enum pgw_auth_code. */
int pgw_parse_auth(const uint8_t *body, size_t len, struct pgw_auth *a, char *err,
		   size_t errlen);

int pgw_parse_parameter_status(const uint8_t *body, size_t len, const char **name,
			       const char **value);

struct pgw_backend_key {
	int32_t pid;
	const uint8_t *key;
	uint32_t key_len;	/* 4..PGW_MAX_CANCEL_KEY */
};
int pgw_parse_backend_key(const uint8_t *body, size_t len, struct pgw_backend_key *k);

/* Transaction state from ReadyForQuery (DESIGN §5 session events). */
enum pgw_txn {
	PGW_TXN_IDLE,		/* 'I' */
	PGW_TXN_BLOCK,		/* 'T' in a transaction block */
	PGW_TXN_FAILED,		/* 'E' in a failed block: statements refused until rollback */
};
int pgw_parse_ready(const uint8_t *body, size_t len, enum pgw_txn *txn);
const char *pgw_txn_name(enum pgw_txn t);	/* "idle", "transaction", "failed" */

/*
 * CommandComplete. command is the tag without its counts ("INSERT",
 * "SELECT", "CREATE TABLE"); rows is the count for the tags that carry
 * one (INSERT oid rows; SELECT, UPDATE, DELETE, MERGE, MOVE, FETCH, COPY
 * rows), has_rows false for the others. A tag of a counting command
 * whose counts are missing or not decimal is -EBADMSG.
 */
#define PGW_TAG_MAX 64
struct pgw_command {
	char command[PGW_TAG_MAX];
	uint64_t rows;
	bool has_rows;
};
int pgw_parse_command_complete(const uint8_t *body, size_t len, struct pgw_command *c);
/* The same for a tag as a C string. */
int pgw_command_tag(const char *tag, size_t len, struct pgw_command *c);

/*
 * ErrorResponse / NoticeResponse. The fields PostgreSQL documents, by
 * their code letter; NULL when absent. Unknown codes are skipped, as the
 * protocol asks; a field repeated keeps its first value.
 */
struct pgw_notice {
	const char *severity;		/* S (localised) */
	const char *severity_nl;	/* V (never localised, 9.6+) */
	const char *sqlstate;		/* C */
	const char *message;		/* M */
	const char *detail;		/* D */
	const char *hint;		/* H */
	const char *position;		/* P */
	const char *internal_position;	/* p */
	const char *internal_query;	/* q */
	const char *where;		/* W */
	const char *schema;		/* s */
	const char *table;		/* t */
	const char *column;		/* c */
	const char *datatype;		/* d */
	const char *constraint;		/* n */
	const char *file;		/* F */
	const char *line;		/* L */
	const char *routine;		/* R */
};
int pgw_parse_notice(const uint8_t *body, size_t len, struct pgw_notice *n, char *err,
		     size_t errlen);

struct pgw_notification {
	int32_t pid;
	const char *channel, *payload;
};
int pgw_parse_notification(const uint8_t *body, size_t len, struct pgw_notification *n);

/* CopyInResponse, CopyOutResponse, CopyBothResponse. */
struct pgw_copy_response {
	int8_t format;			/* 0 text, 1 binary */
	struct pgw_i16s formats;	/* one per column */
};
int pgw_parse_copy_response(const uint8_t *body, size_t len, struct pgw_copy_response *c);

int pgw_parse_param_description(const uint8_t *body, size_t len, struct pgw_u32s *types);

/* DataRow: the columns as a value list. */
int pgw_parse_datarow(const uint8_t *body, size_t len, struct pgw_values *cols);

/* NegotiateProtocolVersion: the newest minor the server speaks and the
 * _pq_ options it did not recognise (a string list of n_unknown). */
struct pgw_negotiate {
	uint32_t minor;
	uint32_t n_unknown;
	const char *unknown;	/* first name; the rest follow NUL-separated */
};
int pgw_parse_negotiate(const uint8_t *body, size_t len, struct pgw_negotiate *n);

/* ParseComplete, BindComplete, CloseComplete, NoData, PortalSuspended,
 * EmptyQueryResponse, CopyDone, Sync, Flush, Terminate have no body:
 * pgw_frame() already refuses one that has. */

/*
 * RowDescription, copied: it describes the DataRows that follow until the
 * next one. Returns NULL with errno EBADMSG (reason in err) or ENOMEM;
 * free with pgw_rowdesc_free() (accepts NULL).
 */
struct pgw_rowdesc {
	unsigned n;
	struct pgw_field *fields;	/* names point into the copy */
};
struct pgw_rowdesc *pgw_rowdesc_new(const uint8_t *body, size_t len, char *err, size_t errlen);
void pgw_rowdesc_free(struct pgw_rowdesc *rd);

/*
 * Extended protocol: a RowDescription answering Describe of a statement
 * says format 0 for every column; the formats that apply are those of the
 * Bind that made the portal. Apply them (pgw_format_of() rule). Returns 0;
 * -EBADMSG when the Bind list is neither 0, 1 nor rd->n long.
 */
int pgw_rowdesc_set_formats(struct pgw_rowdesc *rd, const struct pgw_i16s *formats);

/*
 * Check one whole message f (from pgw_frame()) with the parser of its
 * type, for messages the caller passes through without reading them.
 * Startup-phase frames go through pgw_parse_startup(). The 'p' family,
 * CopyData and FunctionCall(Response) are opaque here (any body). Returns
 * what that parser returns; RowDescription is checked without a copy.
 */
int pgw_validate(enum pgw_dir dir, const struct pgw_frame *f, char *err, size_t errlen);

/* ------------------------------------------------------------ masking */

/*
 * Rewrite one DataRow (body[0..len)) under spec s for the result rd
 * describes, appending the new whole message ('D', length, body) to out.
 *  - NULL values pass;
 *  - text-format columns: a column whose name s masks becomes MASK_MARKER,
 *    the others go through mask_text() (patterns);
 *  - binary-format columns of a textual type (text 25, varchar 1043,
 *    bpchar 1042, name 19, json 114) are treated like text, and so is a
 *    binary bytea (17): its raw bytes are masked, still a valid bytea;
 *  - a text-format bytea in hex output ("\x...") is decoded for the
 *    patterns to look at: a match withholds the row;
 *  - binary columns of a type with a fixed numeric layout (bool, int2/4/8,
 *    oid, float4/8, date, time, timestamp(tz), interval, uuid) pass when
 *    s does not mask the column by name; a masked name withholds, and so
 *    does an int8 whose decimal digits a pattern would mask, or an
 *    integral float8/float4 of 12 or more digits with credit-card on;
 *  - binary columns of any other type pass only when s masks neither the
 *    column nor any pattern; otherwise the row is withheld.
 * Returns the number of values changed (>= 0; 0 means out holds a copy of
 * the row); -EPERM: a value cannot be masked: withhold the row (the
 * caller should end the result with an error, not skip silently);
 * -EBADMSG: the row does not match rd or is malformed; -EMSGSIZE/-ENOMEM.
 * Every error means: send nothing of this row. out is left as it was on
 * error. A NULL s, or one with no column or pattern entries, copies.
 */
int pgw_mask_datarow(const struct pgw_rowdesc *rd, const struct mask_spec *s,
		     const uint8_t *body, size_t len, struct pgw_buf *out);

/* ------------------------------------------ upstream authentication */

/*
 * md5 password message contents: "md5" + hex(md5(hex(md5(password user))
 * salt)). out gets 35 characters and a NUL.
 */
#define PGW_MD5_LEN 35
int pgw_md5_password(const char *user, const char *password, const uint8_t salt[4],
		     char out[PGW_MD5_LEN + 1]);

/*
 * SCRAM-SHA-256 as a PostgreSQL client (RFC 5802, RFC 7677): no channel
 * binding ("n,," header), the user name sent empty (the server takes it
 * from the StartupMessage). The password is used as given: PostgreSQL
 * applies SASLprep, which leaves ASCII passwords unchanged; a non-ASCII
 * held password must already be in SASLprep form.
 *
 * Iteration counts accepted: PGW_SCRAM_MIN_ITER (RFC 7677's floor and
 * PostgreSQL's default) to PGW_SCRAM_MAX_ITER (PBKDF2 runs on the worker
 * thread: 1e6 rounds is about half a second; a cache makes it once per
 * salt).
 *
 *   s = pgw_scram_new(password, NULL)
 *   pgw_scram_client_first(s, &data, &len)  → SASLInitialResponse "SCRAM-SHA-256"
 *   AuthenticationSASLContinue: pgw_scram_server_first(s, data, len, cache, ...)
 *   pgw_scram_client_final(s, &data, &len)  → SASLResponse
 *   AuthenticationSASLFinal: pgw_scram_server_final(s, data, len, ...) must be 0
 *   AuthenticationOk
 *   pgw_scram_free(s)
 */
#define PGW_SCRAM_MECH		"SCRAM-SHA-256"
#define PGW_SCRAM_MIN_ITER	4096u
#define PGW_SCRAM_MAX_ITER	1000000u

struct pgw_scram;

/* The derived key for one (password, salt, iterations), reusable across
 * connections to the same role. Zero-initialise; owned by the caller. */
struct pgw_scram_cache {
	bool valid;
	uint32_t iter;
	size_t salt_len;
	uint8_t salt[64];
	uint8_t salted[32];
};

/*
 * A client exchange for password (copied). user NULL sends "n=" empty as
 * PostgreSQL clients do. Returns NULL with errno (ENOMEM, EINVAL for a
 * NULL password or a user holding ',' or '='); free with pgw_scram_free().
 */
struct pgw_scram *pgw_scram_new(const char *password, const char *user);

/* For tests: a fixed client nonce (printable, no ','), instead of 18
 * random bytes. Returns 0 or -EINVAL; only before client_first. */
int pgw_scram_set_nonce(struct pgw_scram *s, const char *nonce);

/* Destroys the derived keys too. Accepts NULL. */
void pgw_scram_free(struct pgw_scram *s);

/* client-first-message; *data borrowed from s until the next call. */
int pgw_scram_client_first(struct pgw_scram *s, const uint8_t **data, size_t *len);

/*
 * Take server-first-message: the nonce must extend ours, the salt be
 * base64, the iteration count within bounds; extensions are refused.
 * cache may be NULL; when it matches the salt and count its key is used,
 * otherwise it is filled. Returns 0; -EBADMSG; -EPERM (nonce, count).
 */
int pgw_scram_server_first(struct pgw_scram *s, const uint8_t *data, size_t len,
			   struct pgw_scram_cache *cache, char *err, size_t errlen);

/* client-final-message with the proof; *data borrowed until the next call. */
int pgw_scram_client_final(struct pgw_scram *s, const uint8_t **data, size_t *len);

/*
 * Verify server-final-message. Returns 0 only for the right signature;
 * -EPERM for a wrong one or a server "e=" error (in err); -EBADMSG.
 */
int pgw_scram_server_final(struct pgw_scram *s, const uint8_t *data, size_t len, char *err,
			   size_t errlen);

#endif
