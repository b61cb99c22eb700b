// SPDX-License-Identifier: BSD-2-Clause
/*
 * `kind: postgres` (DESIGN §2): the PostgreSQL v3 protocol between an
 * unmodified client and its server, with sluice in the middle holding the
 * server's login. conn.c hands this module the plaintext each side sent
 * (already recorded) and carries out its requests (proto.h); pgwire.c
 * frames, parses and builds the messages.
 *
 * Toward the client sluice is the server: it answers SSLRequest (TLS with
 * the target's certificate), GSSENCRequest ('N'), authenticates the client
 * as the target says (kernel identity, or a JWT as the password, over TLS
 * only), and gives it its own BackendKeyData. Toward the server it is the
 * client: StartupMessage with the client's parameters and the held user,
 * SCRAM-SHA-256, md5 or (over TLS) cleartext with the held password.
 *
 * Then every Query and every Parse is classified (sql.h) and decided
 * (session_decide). A refused one is never sent: in its place the server
 * runs a DO block that raises 42501 with sluice's message, so the server
 * itself aborts the transaction, skips to Sync, and reports the
 * transaction state exactly as it would for any failed statement.
 * Responses are matched to what was sent through a queue of expected
 * replies; each statement becomes one event when its CommandComplete or
 * ErrorResponse arrives, and DataRows are masked on the way down.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "clock.h"
#include "config.h"
#include "conn.h"
#include "identity.h"
#include "log.h"
#include "mask.h"
#include "policy.h"
#include "proto.h"
#include "pgwire.h"
#include "session.h"
#include "sql.h"

/* Messages held whole: SQL and rows up to 16 MiB (PostgreSQL allows 1 GiB). */
#define PG_MAX_BULK	(16u << 20)
/* Replies expected at once (a pipelining client); more is refused. */
#define PG_MAX_PENDING	65536
/* Prepared statements and portals a client may keep at once. */
#define PG_MAX_NAMED	4096
/* SQL text and one parameter as events carry them. */
#define PG_EVENT_SQL	16384
#define PG_EVENT_PARAM	1024

enum c_phase { C_STARTUP, C_PASSWORD, C_WAIT, C_READY, C_CANCEL };
enum u_phase { U_NONE, U_SSL, U_AUTH, U_PARAMS, U_READY };

/* A prepared statement the client made with Parse. */
struct pg_stmt {
	struct pg_stmt *next;
	char *name;
	json_t *skel;			/* its statement events, less the outcome */
	struct mask_spec *mask;		/* NULL: nothing to mask */
	uint8_t *rd;			/* RowDescription body (Describe 'S') */
	size_t rd_len;
};

/* A portal the client made with Bind. */
struct pg_portal {
	struct pg_portal *next;
	char *name;
	json_t *skel;			/* with "params" */
	struct mask_spec *mask;
	uint8_t *rd;			/* as the statement's, or Describe 'P' */
	size_t rd_len;
	uint8_t *fmts;			/* Bind's result formats (wire int16s) */
	uint16_t n_fmts;
	int rd_final;			/* rd came from Describe 'P': formats applied */
};

enum pend_kind {
	PK_QUERY, PK_PARSE, PK_BIND, PK_DESCRIBE, PK_EXECUTE, PK_SYNC, PK_CLOSE,
	PK_INJ_PARSE, PK_INJ_BIND,	/* sluice's own: their replies are dropped */
};

/* One reply (or run of replies) the server owes. */
struct pend {
	struct pend *next;
	enum pend_kind k;
	json_t *skels;			/* statements of a Query/Execute (array) */
	size_t done;			/* of them, finished */
	int denied;			/* refused: the server runs sluice's DO */
	struct mask_spec *mask;
	struct pgw_rowdesc *rd;		/* Execute: rows' description when masking */
	char *name;			/* Describe/Close/Parse: the name */
	char what;			/* Describe/Close: 'S' or 'P' */
	uint64_t t0;
	uint64_t rows, withheld, masked;
};

/* What a CancelRequest needs to reach the right server backend. */
struct pg_cancel {
	struct pg_cancel *next;
	unsigned target;
	int32_t pid;			/* what sluice gave the client */
	uint8_t key[4];
	int32_t up_pid;			/* the server's */
	uint32_t up_key_len;
	uint8_t up_key[PGW_MAX_CANCEL_KEY];
};

struct pg {
	struct proto_ctx *ctx;
	const struct cfg_target *t;
	enum c_phase cph;
	enum u_phase uph;
	int closing;
	int client_tls;
	unsigned sql_mode;
	struct pgw_buf acc[2];		/* a message not yet whole, per side */
	struct pgw_buf tmp;		/* builders write here */
	struct pgw_limits lim;
	/* the client's StartupMessage, kept for the server */
	struct pgw_buf startup;
	uint16_t minor;
	char *user;			/* the role sluice logs in as */
	struct pgw_scram *scram;
	/* replies owed, oldest first */
	struct pend *head, *tail;
	size_t n_pend;
	struct pgw_rowdesc *cur_rd;	/* simple Query: the current result's */
	struct pg_stmt *stmts;
	struct pg_portal *portals;
	size_t n_named;
	struct pg_cancel cancel;	/* ours, registered once the server's key came */
	int cancel_registered;
	struct pg_cancel cancel_to;	/* a CancelRequest connection: where it goes */
};

static pthread_mutex_t cancel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pg_cancel *cancels;

/* Derived SCRAM keys per target, per worker thread: PBKDF2 once per salt. */
#define PG_SCRAM_CACHES 16
static __thread struct pgw_scram_cache scram_cache[PG_SCRAM_CACHES];

/* ------------------------------------------------------------ helpers */

static const struct cfg_target *target_of(const struct proto_ctx *ctx)
{
	return &ctx->px->cfg->targets[ctx->target];
}

static int out(struct pg *pg, enum proto_side side, const void *p, size_t n)
{
	return proto_out_append(&pg->ctx->out[side], p, n);
}

/* What the builders wrote into tmp goes to side. */
static int out_tmp(struct pg *pg, enum proto_side side, int built)
{
	int err = built ? built : out(pg, side, pg->tmp.data, pg->tmp.len);

	pgw_buf_reset(&pg->tmp);
	return err;
}

/* Stop: what is queued goes out, then the connection closes with why. */
static void finish(struct pg *pg, const char *why)
{
	pg->closing = 1;
	pg->ctx->req |= PROTO_REQ_CLOSE;
	/* cut to fit: the session record keeps the start of the reason */
	size_t n = strlen(why);

	if (n >= sizeof(pg->ctx->why))
		n = sizeof(pg->ctx->why) - 1;
	memcpy(pg->ctx->why, why, n);
	pg->ctx->why[n] = '\0';
}

/* A FATAL ErrorResponse to the client (it exists in every phase after
 * the startup packet was framed), then close. */
static int client_fatal(struct pg *pg, const char *sqlstate, const char *msg)
{
	char why[240];

	out_tmp(pg, PROTO_CLIENT, pgw_build_error(&pg->tmp, 'E', "FATAL", sqlstate, msg, NULL, NULL));
	snprintf(why, sizeof(why), "%s", msg);
	finish(pg, why);
	return 0;
}

static void event(struct pg *pg, json_t *ev)
{
	if (ev)
		session_event(pg->ctx->sess, ev);
	json_decref(ev);
}

/* Text for an event: UTF-8 as it is, anything else described. */
static json_t *text_json(const char *p, size_t n, size_t max)
{
	json_t *j = json_stringn(p, n < max ? n : max);

	return j ? j : json_string("(not UTF-8)");
}

static uint64_t now_us(void)
{
	return clock_mono_ns() / 1000;
}

/* ------------------------------------------------------------ queue */

static struct pend *pend_new(struct pg *pg, enum pend_kind k)
{
	struct pend *p;

	if (pg->n_pend >= PG_MAX_PENDING)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->k = k;
	p->t0 = now_us();
	if (pg->tail)
		pg->tail->next = p;
	else
		pg->head = p;
	pg->tail = p;
	pg->n_pend++;
	return p;
}

static void pend_free(struct pend *p)
{
	json_decref(p->skels);
	mask_spec_free(p->mask);
	pgw_rowdesc_free(p->rd);
	free(p->name);
	free(p);
}

static void pend_pop(struct pg *pg)
{
	struct pend *p = pg->head;

	if (!p)
		return;
	pg->head = p->next;
	if (!pg->head)
		pg->tail = NULL;
	pg->n_pend--;
	pend_free(p);
}

/* ---------------------------------------------------- named objects */

static struct pg_stmt **stmt_find(struct pg *pg, const char *name)
{
	struct pg_stmt **s = &pg->stmts;

	while (*s && strcmp((*s)->name, name))
		s = &(*s)->next;
	return s;
}

static struct pg_portal **portal_find(struct pg *pg, const char *name)
{
	struct pg_portal **p = &pg->portals;

	while (*p && strcmp((*p)->name, name))
		p = &(*p)->next;
	return p;
}

static void stmt_drop(struct pg *pg, const char *name)
{
	struct pg_stmt **s = stmt_find(pg, name), *x = *s;

	if (!x)
		return;
	*s = x->next;
	free(x->name);
	json_decref(x->skel);
	mask_spec_free(x->mask);
	free(x->rd);
	free(x);
	pg->n_named--;
}

static void portal_drop(struct pg *pg, const char *name)
{
	struct pg_portal **p = portal_find(pg, name), *x = *p;

	if (!x)
		return;
	*p = x->next;
	free(x->name);
	json_decref(x->skel);
	mask_spec_free(x->mask);
	free(x->rd);
	free(x->fmts);
	free(x);
	pg->n_named--;
}

static struct mask_spec *mask_copy(const struct mask_spec *m)
{
	if (!(mask_spec_kinds(m) & (MASK_KIND_COLUMN | MASK_KIND_PATTERN)))
		return NULL;
	return mask_spec_union(&m, 1);
}

/* ------------------------------------------------------------ policy */

/* Text safe inside '...' of the DO block whatever the string settings. */
static void sql_safe(char *s)
{
	for (; *s; s++)
		if (*s == '\'' || *s == '$' || *s == '\\' || (unsigned char)*s < 0x20)
			*s = '?';
}

/*
 * Classify and decide one message's SQL. Returns the statements' event
 * skeletons (a new array; on refusal each carries the decision) and sets
 * *refusal to the message the client should see ("" when allowed), *mask
 * to what the rows need (owned, may be NULL).
 */
static json_t *decide(struct pg *pg, const char *sql, size_t len, const char *protocol,
		      char *refusal, size_t rlen, struct mask_spec **mask)
{
	const struct cfg_target *t = target_of(pg->ctx);
	struct session_decision d;
	struct policy_request req = { .target = t->name, .kind = POLICY_REQ_SQL };
	struct sql_stmt *st = NULL, one;
	struct sql_cursor cur;
	char err[200];
	size_t n = 0;
	json_t *skels = json_array(), *request;
	int r;

	*mask = NULL;
	refusal[0] = '\0';
	sql_cursor_init(&cur, SQL_POSTGRES, pg->sql_mode, sql, len);
	while ((r = sql_next(&cur, &one, err, sizeof(err))) == 1)
		n++;
	if (r == 0 && n) {
		st = calloc(n, sizeof(*st));
		if (!st)
			r = -ENOMEM;
		else
			r = sql_parse(SQL_POSTGRES, pg->sql_mode, sql, len, st, n, &n, err,
				      sizeof(err));
	}
	if (r < 0) {
		json_t *ev = json_pack("{s:s, s:o, s:s, s:s, s:s, s:s}", "type", "statement",
				       "sql", text_json(sql, len, PG_EVENT_SQL), "class", "write",
				       "protocol", protocol, "decision", "deny", "rule",
				       "(unclassified)");

		if (r == -ENOMEM)
			snprintf(err, sizeof(err), "out of memory");
		sql_safe(err);
		snprintf(refusal, rlen, "sluice refused a statement it cannot classify: %s", err);
		json_array_append_new(skels, ev);
		free(st);
		return skels;
	}
	if (!n) {
		free(st);
		return skels;	/* an empty query: nothing to decide */
	}
	req.stmts = st;
	req.n_stmts = n;
	request = json_pack("{s:s, s:o}", "kind", "sql", "sql", text_json(sql, len, SIZE_MAX));
	session_decide(pg->ctx->sess, &req, request, &d);
	json_decref(request);
	for (size_t i = 0; i < n; i++) {
		json_t *tables = json_array();
		const char *act = policy_action_name(d.action), *rule = d.rule;

		for (unsigned k = 0; k < st[i].n_tables; k++)
			json_array_append_new(tables, json_string(st[i].tables[k]));
		if (d.d.stmts && i < d.d.n_stmts && d.action != POLICY_ALLOW) {
			act = policy_action_name(d.d.stmts[i].action);
			rule = d.d.stmts[i].rule;
		}
		json_array_append_new(skels,
			json_pack("{s:s, s:o, s:s, s:s, s:o, s:s, s:s, s:s}", "type", "statement",
				  "sql", text_json(sql + st[i].off, st[i].len, PG_EVENT_SQL),
				  "class", sql_class_name(st[i].cls), "verb", st[i].verb,
				  "tables", tables, "protocol", protocol, "decision", act,
				  "rule", rule ? rule : ""));
	}
	switch (d.action) {
	case POLICY_ALLOW:
		*mask = mask_copy(d.d.mask);
		break;
	case POLICY_REVIEW:
		snprintf(refusal, rlen,
			 "sluice: approval %s pending (rule %s): run sluice approval grant %s",
			 d.approval, d.rule, d.approval);
		break;
	case POLICY_DENY:
		if (d.approval[0])
			snprintf(refusal, rlen, "permission denied by sluice: approval %s %s (rule %s)",
				 d.approval, d.approval_state < 0 ? "not recorded" : "denied", d.rule);
		else
			snprintf(refusal, rlen, "permission denied by sluice rule %s", d.rule);
		break;
	}
	sql_safe(refusal);
	if (refusal[0] && d.approval[0]) {
		size_t i;
		json_t *s;

		json_array_foreach(skels, i, s)
			json_object_set_new(s, "approval", json_string(d.approval));
	}
	session_decision_release(&d);
	free(st);
	return skels;
}

/* The statement the server runs instead of a refused one. */
static void refusal_sql(char *buf, size_t len, const char *msg)
{
	snprintf(buf, len,
		 "DO $sluice$BEGIN RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = '%s'; END$sluice$",
		 msg);
}

/* --------------------------------------------------- statement events */

/* Finish the next statement of p: its event with the outcome. */
static void stmt_done(struct pg *pg, struct pend *p, const char *command, int has_rows,
		      uint64_t rows, const char *sqlstate)
{
	json_t *ev;
	uint64_t t = now_us();

	if (!p->skels || p->done >= json_array_size(p->skels))
		return;
	ev = json_deep_copy(json_array_get(p->skels, p->done++));
	if (!ev)
		return;
	if (command)
		json_object_set_new(ev, "command", json_string(command));
	if (has_rows)
		json_object_set_new(ev, "rows", json_integer((json_int_t)rows));
	else if (p->rows)
		json_object_set_new(ev, "rows", json_integer((json_int_t)p->rows));
	if (sqlstate)
		json_object_set_new(ev, "sqlstate", json_string(sqlstate));
	if (p->masked)
		json_object_set_new(ev, "masked_values", json_integer((json_int_t)p->masked));
	if (p->withheld)
		json_object_set_new(ev, "withheld_rows", json_integer((json_int_t)p->withheld));
	json_object_set_new(ev, "duration_us", json_integer((json_int_t)(t - p->t0)));
	event(pg, ev);
	p->t0 = t;
	p->rows = p->withheld = p->masked = 0;
}

/* ----------------------------------------------------- the upstream */

static int read_password(struct pg *pg, char *buf, size_t len)
{
	const char *path = pg->t->password_file;
	ssize_t n;
	int fd;

	if (!path)
		return -ENOENT;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return n ? 0 : -ENODATA;
}

static int send_startup(struct pg *pg)
{
	return out(pg, PROTO_UPSTREAM, pg->startup.data, pg->startup.len);
}

static int pg_connected(void *st)
{
	struct pg *pg = st;

	if (pg->cph == C_CANCEL) {
		/* the server's own key, on a connection of its own */
		out_tmp(pg, PROTO_UPSTREAM,
			pgw_build_cancel(&pg->tmp, pg->cancel_to.up_pid, pg->cancel_to.up_key,
					 pg->cancel_to.up_key_len));
		finish(pg, "");
		return 0;
	}
	if (pg->ctx->tls_upstream) {
		pg->uph = U_SSL;
		return out_tmp(pg, PROTO_UPSTREAM, pgw_build_ssl_request(&pg->tmp));
	}
	pg->uph = U_AUTH;
	return send_startup(pg);
}

/* The server asks for a password: answer it with the held one. */
static int upstream_auth(struct pg *pg, const struct pgw_auth *a)
{
	char pw[1024], err[200], msg[300];
	const uint8_t *data;
	size_t len;
	int r = 0;

	if (a->code == PGW_AUTH_SASL_CONTINUE || a->code == PGW_AUTH_SASL_FINAL) {
		if (!pg->scram)
			return client_fatal(pg, "08P01", "sluice: the server sent SCRAM out of turn");
		if (a->code == PGW_AUTH_SASL_CONTINUE) {
			struct pgw_scram_cache *cache = pg->ctx->target < PG_SCRAM_CACHES ?
								&scram_cache[pg->ctx->target] : NULL;

			r = pgw_scram_server_first(pg->scram, a->data, a->data_len, cache, err,
						   sizeof(err));
			if (!r)
				r = pgw_scram_client_final(pg->scram, &data, &len);
			if (!r)
				return out_tmp(pg, PROTO_UPSTREAM,
					       pgw_build_sasl_response(&pg->tmp, data, len));
		} else {
			r = pgw_scram_server_final(pg->scram, a->data, a->data_len, err,
						   sizeof(err));
			if (!r)
				return 0;	/* AuthenticationOk follows */
		}
		snprintf(msg, sizeof(msg), "sluice: SCRAM with the server failed: %s", err);
		return client_fatal(pg, "28000", msg);
	}
	r = read_password(pg, pw, sizeof(pw));
	if (r) {
		snprintf(msg, sizeof(msg),
			 "sluice: the server asks for a password and sluice holds none for target %s",
			 pg->t->name);
		return client_fatal(pg, "28000", msg);
	}
	switch (a->code) {
	case PGW_AUTH_SASL: {
		unsigned i;

		for (i = 0; i < a->n_mechs && strcmp(a->mechs[i], PGW_SCRAM_MECH); i++)
			;
		if (i == a->n_mechs) {
			r = client_fatal(pg, "28000", "sluice: the server offers no SCRAM-SHA-256");
			break;
		}
		pg->scram = pgw_scram_new(pw, NULL);
		if (!pg->scram || pgw_scram_client_first(pg->scram, &data, &len)) {
			r = -ENOMEM;
			break;
		}
		r = out_tmp(pg, PROTO_UPSTREAM,
			    pgw_build_sasl_initial(&pg->tmp, PGW_SCRAM_MECH, data, len));
		break;
	}
	case PGW_AUTH_MD5: {
		char md5[PGW_MD5_LEN + 1];

		r = pgw_md5_password(pg->user, pw, a->salt, md5);
		if (!r)
			r = out_tmp(pg, PROTO_UPSTREAM, pgw_build_password(&pg->tmp, md5));
		OPENSSL_cleanse(md5, sizeof(md5));
		break;
	}
	case PGW_AUTH_CLEARTEXT:
		if (!pg->ctx->tls_upstream) {
			r = client_fatal(pg, "28000",
					 "sluice: the server asks for a cleartext password; sluice sends one only over TLS (tls.upstream_ca)");
			break;
		}
		r = out_tmp(pg, PROTO_UPSTREAM, pgw_build_password(&pg->tmp, pw));
		break;
	default:
		snprintf(msg, sizeof(msg), "sluice: the server asks for an authentication method sluice does not speak (%d)",
			 (int)a->code);
		r = client_fatal(pg, "28000", msg);
		break;
	}
	OPENSSL_cleanse(pw, sizeof(pw));
	pgw_buf_reset(&pg->tmp);
	return r;
}

/* The server's key stays with sluice; the client gets one of its own. */
static int backend_key(struct pg *pg, const uint8_t *body, size_t len)
{
	struct pgw_backend_key k;

	if (pgw_parse_backend_key(body, len, &k))
		return client_fatal(pg, "08P01", "sluice: malformed BackendKeyData from the server");
	pg->cancel.target = pg->ctx->target;
	pg->cancel.up_pid = k.pid;
	pg->cancel.up_key_len = k.key_len;
	memcpy(pg->cancel.up_key, k.key, k.key_len);
	if (RAND_bytes((uint8_t *)&pg->cancel.pid, 4) != 1 || RAND_bytes(pg->cancel.key, 4) != 1)
		return -EIO;
	pg->cancel.pid &= 0x7fffffff;
	pthread_mutex_lock(&cancel_lock);
	if (!pg->cancel_registered) {
		pg->cancel.next = cancels;
		cancels = &pg->cancel;
		pg->cancel_registered = 1;
	}
	pthread_mutex_unlock(&cancel_lock);
	return out_tmp(pg, PROTO_CLIENT,
		       pgw_build_backend_key(&pg->tmp, pg->cancel.pid, pg->cancel.key, 4));
}

static void cancel_unregister(struct pg *pg)
{
	pthread_mutex_lock(&cancel_lock);
	for (struct pg_cancel **c = &cancels; *c; c = &(*c)->next) {
		if (*c == &pg->cancel) {
			*c = pg->cancel.next;
			break;
		}
	}
	pg->cancel_registered = 0;
	pthread_mutex_unlock(&cancel_lock);
}

static void parameter_status(struct pg *pg, const uint8_t *body, size_t len)
{
	static const char *const bad_enc[] = { "SJIS", "BIG5", "GBK", "GB18030", "UHC", "JOHAB" };
	const char *name, *value;

	if (pgw_parse_parameter_status(body, len, &name, &value))
		return;
	if (!strcmp(name, "standard_conforming_strings")) {
		if (!strcmp(value, "off"))
			pg->sql_mode |= SQL_MODE_PG_NONSTANDARD_STRINGS;
		else
			pg->sql_mode &= ~SQL_MODE_PG_NONSTANDARD_STRINGS;
	}
	if (!strcmp(name, "client_encoding"))
		for (size_t i = 0; i < sizeof(bad_enc) / sizeof(bad_enc[0]); i++)
			if (!strcasecmp(value, bad_enc[i]))
				client_fatal(pg, "22021",
					     "sluice: client_encoding where a backslash can be part of a character is refused (SQL could not be classified)");
}

static int client_input(struct pg *pg, const uint8_t *p, size_t len);

/* One server message before the session is ready. */
static int server_startup_msg(struct pg *pg, const struct pgw_frame *f)
{
	char err[200], msg[400];
	struct pgw_auth a;
	int r = 0;

	switch (f->type) {
	case 'R':
		if (pgw_parse_auth(f->body, f->body_len, &a, err, sizeof(err)))
			return client_fatal(pg, "08P01", "sluice: malformed authentication request from the server");
		if (a.code != PGW_AUTH_OK)
			return pg->uph == U_AUTH ? upstream_auth(pg, &a) :
				client_fatal(pg, "08P01", "sluice: authentication request out of turn");
		pg->uph = U_PARAMS;
		event(pg, json_pack("{s:s, s:s, s:s}", "type", "upstream_login", "user",
				    pg->user, "method", pg->scram ? "scram-sha-256" : "password"));
		return out_tmp(pg, PROTO_CLIENT, pgw_build_auth_ok(&pg->tmp));
	case 'E': {
		struct pgw_notice n = { 0 };

		pgw_parse_notice(f->body, f->body_len, &n, err, sizeof(err));
		out(pg, PROTO_CLIENT, f->body - 5, f->size);
		snprintf(msg, sizeof(msg), "the server refused the login: %s",
			 n.message ? n.message : "(no message)");
		finish(pg, msg);
		return 0;
	}
	case 'K':
		return backend_key(pg, f->body, f->body_len);
	case 'S':
		parameter_status(pg, f->body, f->body_len);
		return out(pg, PROTO_CLIENT, f->body - 5, f->size);
	case 'Z':
		if (pg->uph != U_PARAMS)
			return client_fatal(pg, "08P01", "sluice: ReadyForQuery before authentication");
		pg->uph = U_READY;
		pg->cph = C_READY;
		r = out(pg, PROTO_CLIENT, f->body - 5, f->size);
		/* what the client sent meanwhile */
		return r ? r : client_input(pg, NULL, 0);
	case 'N':
	case 'v':
		return out(pg, PROTO_CLIENT, f->body - 5, f->size);
	default:
		snprintf(msg, sizeof(msg), "sluice: unexpected message '%c' from the server during login",
			 f->type);
		return client_fatal(pg, "08P01", msg);
	}
}

/* ---------------------------------------------- server, normal phase */

/* Drop replies up to the Sync an error makes the server skip to. */
static void skip_to_sync(struct pg *pg)
{
	while (pg->head && pg->head->k != PK_SYNC && pg->head->k != PK_QUERY)
		pend_pop(pg);
}

static int datarow(struct pg *pg, const struct pgw_frame *f)
{
	struct pend *p = pg->head;
	struct pgw_rowdesc *rd;
	int r;

	if (!p || (p->k != PK_QUERY && p->k != PK_EXECUTE))
		return out(pg, PROTO_CLIENT, f->body - 5, f->size);
	p->rows++;
	if (!p->mask)
		return out(pg, PROTO_CLIENT, f->body - 5, f->size);
	rd = p->k == PK_QUERY ? pg->cur_rd : p->rd;
	r = rd ? pgw_mask_datarow(rd, p->mask, f->body, f->body_len, &pg->tmp) : -EPERM;
	if (r < 0) {
		/* a value that cannot be masked: the row is not sent */
		pgw_buf_reset(&pg->tmp);
		p->withheld++;
		return 0;
	}
	p->masked += r;
	return out_tmp(pg, PROTO_CLIENT, 0);
}

/* Rows held back are announced before the result's end. */
static void withheld_notice(struct pg *pg, const struct pend *p)
{
	char msg[160];

	if (!p->withheld)
		return;
	snprintf(msg, sizeof(msg), "sluice withheld %llu rows: a value could not be masked",
		 (unsigned long long)p->withheld);
	out_tmp(pg, PROTO_CLIENT, pgw_build_error(&pg->tmp, 'N', "WARNING", "01000", msg, NULL, NULL));
}

static void save_rowdesc(struct pg *pg, const struct pend *p, const struct pgw_frame *f)
{
	uint8_t **rd;
	size_t *rd_len;
	uint8_t *copy;

	if (p->what == 'S') {
		struct pg_stmt *s = *stmt_find(pg, p->name);

		if (!s)
			return;
		rd = &s->rd;
		rd_len = &s->rd_len;
	} else {
		struct pg_portal *po = *portal_find(pg, p->name);

		if (!po)
			return;
		po->rd_final = 1;
		rd = &po->rd;
		rd_len = &po->rd_len;
	}
	copy = malloc(f->body_len ? f->body_len : 1);
	if (!copy)
		return;
	memcpy(copy, f->body, f->body_len);
	free(*rd);
	*rd = copy;
	*rd_len = f->body_len;
}

static int server_msg(struct pg *pg, const struct pgw_frame *f)
{
	struct pend *p = pg->head;
	char err[200];
	int drop = 0;

	switch (f->type) {
	case 'Z': {
		enum pgw_txn txn;

		if (pgw_parse_ready(f->body, f->body_len, &txn))
			return client_fatal(pg, "08P01", "sluice: malformed ReadyForQuery from the server");
		while (pg->head) {
			enum pend_kind k = pg->head->k;

			pend_pop(pg);
			if (k == PK_QUERY || k == PK_SYNC)
				break;
		}
		pgw_rowdesc_free(pg->cur_rd);
		pg->cur_rd = NULL;
		break;
	}
	case '1':
	case '2':
	case '3':
		if (p && (p->k == PK_INJ_PARSE || p->k == PK_INJ_BIND))
			drop = 1;
		if (p && p->k != PK_QUERY && p->k != PK_SYNC)
			pend_pop(pg);
		break;
	case 'T':
		if (p && p->k == PK_DESCRIBE) {
			save_rowdesc(pg, p, f);
			pend_pop(pg);
		} else if (p && p->k == PK_QUERY && p->mask) {
			pgw_rowdesc_free(pg->cur_rd);
			pg->cur_rd = pgw_rowdesc_new(f->body, f->body_len, err, sizeof(err));
		}
		break;
	case 'n':
		if (p && p->k == PK_DESCRIBE)
			pend_pop(pg);
		break;
	case 'D':
		return datarow(pg, f);
	case 'C':
	case 's':
	case 'I':
		if (p && (p->k == PK_QUERY || p->k == PK_EXECUTE)) {
			struct pgw_command c = { 0 };

			if (f->type == 'C')
				pgw_parse_command_complete(f->body, f->body_len, &c);
			else
				snprintf(c.command, sizeof(c.command), "%s",
					 f->type == 's' ? "(suspended)" : "(empty)");
			withheld_notice(pg, p);
			if (f->type != 'I' || p->k == PK_EXECUTE)
				stmt_done(pg, p, c.command, c.has_rows, c.rows, NULL);
			if (p->k == PK_EXECUTE)
				pend_pop(pg);
			else {
				pgw_rowdesc_free(pg->cur_rd);
				pg->cur_rd = NULL;
			}
		}
		break;
	case 'E': {
		struct pgw_notice n = { 0 };

		pgw_parse_notice(f->body, f->body_len, &n, err, sizeof(err));
		if (!p)
			break;
		if (p->k == PK_QUERY) {
			stmt_done(pg, p, NULL, 0, 0, n.sqlstate ? n.sqlstate : "");
			while (p->denied && p->skels && p->done < json_array_size(p->skels))
				stmt_done(pg, p, NULL, 0, 0, n.sqlstate ? n.sqlstate : "");
			p->done = p->skels ? json_array_size(p->skels) : 0;
			break;
		}
		if (p->k == PK_EXECUTE || p->k == PK_PARSE)
			stmt_done(pg, p, NULL, 0, 0, n.sqlstate ? n.sqlstate : "");
		skip_to_sync(pg);
		break;
	}
	case 'S':
		parameter_status(pg, f->body, f->body_len);
		break;
	case 'K':
	case 'R':
		return client_fatal(pg, "08P01", "sluice: login message from the server after login");
	default:
		break;	/* notices, notifications, COPY, function results pass */
	}
	return drop ? 0 : out(pg, PROTO_CLIENT, f->body - 5, f->size);
}

/* ----------------------------------------------- client, normal phase */

/* Send sluice's refusal in place of a Parse: the server raises it at
 * Execute and skips to Sync, as for the client's own failed Parse. */
static int refuse_parse(struct pg *pg, json_t *skels, const char *msg)
{
	char sql[512];
	struct pend *a, *b, *e;
	int r;

	refusal_sql(sql, sizeof(sql), msg);
	r = pgw_build_parse(&pg->tmp, "", sql, NULL, 0);
	if (!r)
		r = pgw_build_bind(&pg->tmp, "", "", NULL, 0, NULL, NULL, 0, NULL, 0);
	if (!r)
		r = pgw_build_execute(&pg->tmp, "", 0);
	r = out_tmp(pg, PROTO_UPSTREAM, r);
	a = pend_new(pg, PK_INJ_PARSE);
	b = pend_new(pg, PK_INJ_BIND);
	e = pend_new(pg, PK_EXECUTE);
	if (!a || !b || !e) {
		json_decref(skels);
		return -ENOMEM;
	}
	e->skels = skels;
	e->denied = 1;
	return r;
}

static int client_query(struct pg *pg, const struct pgw_frame *f)
{
	char refusal[400], sql[512];
	struct mask_spec *mask;
	const char *text;
	size_t len;
	struct pend *p;
	json_t *skels;

	if (pgw_parse_query(f->body, f->body_len, &text, &len))
		return client_fatal(pg, "08P01", "sluice: malformed Query message");
	skels = decide(pg, text, len, "simple", refusal, sizeof(refusal), &mask);
	p = pend_new(pg, PK_QUERY);
	if (!p || !skels) {
		json_decref(skels);
		mask_spec_free(mask);
		return -ENOMEM;
	}
	p->skels = skels;
	p->mask = mask;
	if (!refusal[0])
		return out(pg, PROTO_UPSTREAM, f->body - 5, f->size);
	p->denied = 1;
	refusal_sql(sql, sizeof(sql), refusal);
	return out_tmp(pg, PROTO_UPSTREAM, pgw_build_query(&pg->tmp, sql));
}

static int client_parse(struct pg *pg, const struct pgw_frame *f)
{
	char refusal[400], err[200];
	struct pgw_parse ps;
	struct mask_spec *mask;
	struct pg_stmt *s;
	struct pend *p;
	json_t *skels;

	if (pgw_parse_parse(f->body, f->body_len, &ps, err, sizeof(err)))
		return client_fatal(pg, "08P01", "sluice: malformed Parse message");
	skels = decide(pg, ps.query, ps.query_len, "extended", refusal, sizeof(refusal), &mask);
	if (!skels)
		return -ENOMEM;
	if (refusal[0])
		return refuse_parse(pg, skels, refusal);
	/* a statement name in use is the server's error to give; keep ours */
	if (!*stmt_find(pg, ps.stmt) || !ps.stmt[0]) {
		stmt_drop(pg, ps.stmt);
		if (pg->n_named >= PG_MAX_NAMED) {
			json_decref(skels);
			mask_spec_free(mask);
			return client_fatal(pg, "53400", "sluice: too many prepared statements and portals");
		}
		s = calloc(1, sizeof(*s));
		if (!s || !(s->name = strdup(ps.stmt))) {
			free(s);
			json_decref(skels);
			mask_spec_free(mask);
			return -ENOMEM;
		}
		s->skel = skels;
		s->mask = mask;
		s->next = pg->stmts;
		pg->stmts = s;
		pg->n_named++;
		skels = NULL;
		mask = NULL;
	}
	json_decref(skels);
	mask_spec_free(mask);
	p = pend_new(pg, PK_PARSE);
	if (!p)
		return -ENOMEM;
	return out(pg, PROTO_UPSTREAM, f->body - 5, f->size);
}

/* Bind's parameters for the event (record level full only). */
static json_t *params_json(const struct pgw_bind *bd, const struct mask_spec *mask)
{
	json_t *arr = json_array();
	struct pgw_values_it it;
	const uint8_t *v;
	int32_t len;
	unsigned i = 0;
	char buf[PG_EVENT_PARAM];

	pgw_values_begin(&bd->params, &it);
	while (arr && pgw_values_next(&it, &v, &len)) {
		size_t n = len < 0 ? 0 : (size_t)len < sizeof(buf) ? (size_t)len : sizeof(buf);
		size_t outlen = 0;

		if (len < 0)
			json_array_append_new(arr, json_null());
		else if (pgw_format_of(&bd->param_formats, i) != 0)
			json_array_append_new(arr, json_pack("{s:s, s:i}", "binary", "bytes", len));
		else if (mask_text(mask, (const char *)v, n, buf, sizeof(buf), &outlen) < 0)
			json_array_append_new(arr, json_string("(withheld)"));
		else
			json_array_append_new(arr, text_json(buf, outlen, sizeof(buf)));
		i++;
	}
	return arr;
}

static int client_bind(struct pg *pg, const struct pgw_frame *f)
{
	char err[200];
	struct pgw_bind bd;
	struct pg_stmt *s;
	struct pg_portal *po;
	struct pend *p;

	if (pgw_parse_bind(f->body, f->body_len, &bd, err, sizeof(err)))
		return client_fatal(pg, "08P01", "sluice: malformed Bind message");
	s = *stmt_find(pg, bd.stmt);
	portal_drop(pg, bd.portal);
	if (s && pg->n_named < PG_MAX_NAMED) {
		po = calloc(1, sizeof(*po));
		if (!po || !(po->name = strdup(bd.portal)))
			goto nomem;
		po->next = pg->portals;
		pg->portals = po;
		pg->n_named++;
		po->skel = json_deep_copy(s->skel);
		if (po->skel && !pg->ctx->sess->metadata_only) {
			json_t *params = params_json(&bd, s->mask);
			size_t i;
			json_t *one;

			json_array_foreach(po->skel, i, one)
				json_object_set(one, "params", params);
			json_decref(params);
		}
		po->mask = s->mask ? mask_spec_union((const struct mask_spec *const *)&s->mask, 1) : NULL;
		if (s->rd) {
			po->rd = malloc(s->rd_len ? s->rd_len : 1);
			if (!po->rd)
				goto nomem;
			memcpy(po->rd, s->rd, s->rd_len);
			po->rd_len = s->rd_len;
		}
		po->n_fmts = bd.result_formats.n;
		if (po->n_fmts) {
			po->fmts = malloc(2u * po->n_fmts);
			if (!po->fmts)
				goto nomem;
			memcpy(po->fmts, bd.result_formats.p, 2u * po->n_fmts);
		}
	}
	p = pend_new(pg, PK_BIND);
	if (!p)
		return -ENOMEM;
	return out(pg, PROTO_UPSTREAM, f->body - 5, f->size);
nomem:
	return -ENOMEM;
}

static int client_execute(struct pg *pg, const struct pgw_frame *f)
{
	struct pgw_execute e;
	struct pg_portal *po;
	struct pend *p;
	char err[200];

	if (pgw_parse_execute(f->body, f->body_len, &e))
		return client_fatal(pg, "08P01", "sluice: malformed Execute message");
	po = *portal_find(pg, e.portal);
	p = pend_new(pg, PK_EXECUTE);
	if (!p)
		return -ENOMEM;
	if (po) {
		p->skels = json_deep_copy(po->skel);
		if (po->mask) {
			p->mask = mask_spec_union((const struct mask_spec *const *)&po->mask, 1);
			if (po->rd)
				p->rd = pgw_rowdesc_new(po->rd, po->rd_len, err, sizeof(err));
			if (p->rd && !po->rd_final) {
				struct pgw_i16s fm = { .n = po->n_fmts, .p = po->fmts };

				if (pgw_rowdesc_set_formats(p->rd, &fm)) {
					pgw_rowdesc_free(p->rd);
					p->rd = NULL;
				}
			}
		}
	}
	return out(pg, PROTO_UPSTREAM, f->body - 5, f->size);
}

static int client_named(struct pg *pg, const struct pgw_frame *f, enum pend_kind k)
{
	struct pgw_target tg;
	struct pend *p;

	if ((k == PK_DESCRIBE ? pgw_parse_describe : pgw_parse_close)(f->body, f->body_len, &tg))
		return client_fatal(pg, "08P01", "sluice: malformed Describe or Close message");
	p = pend_new(pg, k);
	if (!p || !(p->name = strdup(tg.name)))
		return -ENOMEM;
	p->what = tg.what;
	if (k == PK_CLOSE) {
		if (tg.what == 'S')
			stmt_drop(pg, tg.name);
		else
			portal_drop(pg, tg.name);
	}
	return out(pg, PROTO_UPSTREAM, f->body - 5, f->size);
}

static int client_msg(struct pg *pg, const struct pgw_frame *f)
{
	char err[200], sql[512];
	struct pend *p;

	switch (f->type) {
	case 'Q':
		return client_query(pg, f);
	case 'P':
		return client_parse(pg, f);
	case 'B':
		return client_bind(pg, f);
	case 'E':
		return client_execute(pg, f);
	case 'D':
		return client_named(pg, f, PK_DESCRIBE);
	case 'C':
		return client_named(pg, f, PK_CLOSE);
	case 'S':
		if (!pend_new(pg, PK_SYNC))
			return -ENOMEM;
		break;
	case 'X':
		finish(pg, "");
		break;
	case 'F':
		/* a function called by oid passes no SQL to decide on */
		p = pend_new(pg, PK_QUERY);
		if (!p)
			return -ENOMEM;
		p->denied = 1;
		p->skels = json_pack("[{s:s, s:s, s:s, s:s, s:s}]", "type", "statement", "sql",
				     "(FunctionCall)", "class", "write", "decision", "deny", "rule",
				     "(function call protocol)");
		refusal_sql(sql, sizeof(sql),
			    "sluice refuses the function call protocol: call the function in SQL");
		return out_tmp(pg, PROTO_UPSTREAM, pgw_build_query(&pg->tmp, sql));
	default:
		if (pgw_validate(PGW_FRONTEND, f, err, sizeof(err)))
			return client_fatal(pg, "08P01", "sluice: malformed message from the client");
		break;
	}
	return out(pg, PROTO_UPSTREAM, f->body - 5, f->size);
}

/* ------------------------------------------------ client, startup */

static int start_login(struct pg *pg, const struct pgw_startup *st)
{
	static const char *const refused[] = { "options", "role", "session_authorization",
					       "replication" };
	struct pgw_param params[PGW_MAX_PARAMS];
	const struct cfg_target *t = pg->t;
	char msg[200];
	json_t *ev;

	for (unsigned i = 0; i < st->n_params; i++) {
		for (size_t k = 0; k < sizeof(refused) / sizeof(refused[0]); k++) {
			if (!strcasecmp(st->params[i].name, refused[k])) {
				snprintf(msg, sizeof(msg),
					 "sluice: the startup parameter \"%s\" is not passed on (it could change the role or settings policy decides on)",
					 refused[k]);
				return client_fatal(pg, "28000", msg);
			}
		}
		params[i] = st->params[i];
		if (!strcmp(params[i].name, "user") && t->cred_user)
			params[i].value = t->cred_user;
	}
	pg->user = strdup(t->cred_user ? t->cred_user : st->user);
	if (!pg->user || pgw_build_startup(&pg->startup, st->minor, params, st->n_params))
		return -ENOMEM;
	pg->minor = st->minor;
	ev = json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:b}", "type", "startup", "user", st->user,
		       "database", st->database, "application_name", st->application_name,
		       "upstream_user", pg->user, "tls", pg->client_tls);
	event(pg, ev);
	if (t->client_auth & CLIENT_AUTH_KERNEL) {
		pg->cph = C_WAIT;
		pg->ctx->req |= PROTO_REQ_CONNECT;
		return 0;
	}
	if (!pg->client_tls)
		return client_fatal(pg, "28000",
				    "sluice: this target takes a JWT as the password, and only over TLS (sslmode=require or stronger)");
	pg->cph = C_PASSWORD;
	return out_tmp(pg, PROTO_CLIENT, pgw_build_auth_cleartext(&pg->tmp));
}

static int client_password(struct pg *pg, const struct pgw_frame *f)
{
	struct jwt_identity u = { 0 };
	const char *token;
	char why[160], msg[240];

	if (f->type != 'p' || pgw_parse_password(f->body, f->body_len, &token))
		return client_fatal(pg, "08P01", "sluice: expected a password message");
	if (!pg->ctx->px->jwt ||
	    jwt_verify(pg->ctx->px->jwt, token, strlen(token), (uint64_t)time(NULL), &u, why,
		       sizeof(why))) {
		if (!pg->ctx->px->jwt)
			snprintf(why, sizeof(why), "no token issuers configured");
		snprintf(msg, sizeof(msg), "sluice: token refused: %s", why);
		jwt_identity_clear(&u);
		out_tmp(pg, PROTO_CLIENT,
			pgw_build_error(&pg->tmp, 'E', "FATAL", "28P01", msg, NULL, NULL));
		snprintf(pg->ctx->why, sizeof(pg->ctx->why), "%s", msg);
		pg->closing = 1;
		pg->ctx->req |= PROTO_REQ_CLOSE;
		return 0;
	}
	identity_set_user(pg->ctx->id, &u);
	event(pg, json_pack("{s:s, s:o}", "type", "identity", "user",
			    identity_user_json(pg->ctx->id)));
	pg->cph = C_WAIT;
	pg->ctx->req |= PROTO_REQ_CONNECT;
	return 0;
}

static int client_cancel(struct pg *pg, const struct pgw_startup *st)
{
	int found = 0;

	pthread_mutex_lock(&cancel_lock);
	for (struct pg_cancel *c = cancels; c; c = c->next) {
		if (c->target == pg->ctx->target && c->pid == st->pid && st->key_len == 4 &&
		    !CRYPTO_memcmp(c->key, st->key, 4)) {
			pg->cancel_to = *c;
			found = 1;
			break;
		}
	}
	pthread_mutex_unlock(&cancel_lock);
	event(pg, json_pack("{s:s, s:i, s:b}", "type", "cancel", "pid", (int)st->pid, "known",
			    found));
	pg->cph = C_CANCEL;
	if (!found) {
		finish(pg, "CancelRequest for an unknown key");
		return 0;
	}
	pg->ctx->req |= PROTO_REQ_CONNECT;
	return 0;
}

static int client_startup(struct pg *pg, const struct pgw_frame *f, size_t rest)
{
	struct pgw_startup st;
	char err[200], msg[300];
	uint8_t answer;
	int r;

	r = pgw_parse_startup(f->body, f->body_len, &st, err, sizeof(err));
	if (r) {
		snprintf(msg, sizeof(msg), "sluice: invalid startup packet: %s", err);
		return client_fatal(pg, "08P01", msg);
	}
	switch (st.kind) {
	case PGW_SSL_REQUEST:
	case PGW_GSSENC_REQUEST:
		/* anything after it would be in clear where TLS was asked for */
		if (rest)
			return client_fatal(pg, "08P01", "sluice: unencrypted data after an encryption request");
		if (pg->client_tls && st.kind == PGW_SSL_REQUEST)
			return client_fatal(pg, "08P01", "sluice: SSLRequest inside TLS");
		answer = st.kind == PGW_SSL_REQUEST && pg->ctx->tls_client_ok ? 'S' : 'N';
		if (answer == 'S') {
			pg->client_tls = 1;
			pg->ctx->req |= PROTO_REQ_TLS_CLIENT;
		}
		return out(pg, PROTO_CLIENT, &answer, 1);
	case PGW_CANCEL_REQUEST:
		return client_cancel(pg, &st);
	case PGW_STARTUP_MESSAGE:
		return start_login(pg, &st);
	}
	return -EINVAL;
}

/*
 * After a pass over buf[0..n) that consumed off bytes: keep the rest (a
 * message not yet whole) in acc for the next input, in place when buf is
 * acc already. A closing connection keeps nothing. Returns 0, or -ENOMEM
 * when acc cannot take the rest.
 */
static int keep_tail(struct pg *pg, struct pgw_buf *acc, const uint8_t *buf, size_t n,
		     size_t off)
{
	if (pg->closing) {
		pgw_buf_reset(acc);
		return 0;
	}
	if (buf == acc->data) {
		if (off && n > off)
			memmove(acc->data, acc->data + off, n - off);
		acc->len = n - off;
		return 0;
	}
	return off < n && pgw_buf_append(acc, buf + off, n - off) ? -ENOMEM : 0;
}

/* Every whole message the client has sent, in turn. */
static int client_input(struct pg *pg, const uint8_t *p, size_t len)
{
	struct pgw_buf *acc = &pg->acc[PROTO_CLIENT];
	const uint8_t *buf = p;
	size_t n = len, off = 0;
	char err[200], msg[300];
	int r = 0;

	if (!p && !acc->len)
		return 0;
	if (acc->len || !p) {
		if (p && pgw_buf_append(acc, p, len))
			return client_fatal(pg, "54000", "sluice: message too long");
		buf = acc->data;
		n = acc->len;
	}
	while (off < n && !pg->closing && pg->cph != C_WAIT && pg->cph != C_CANCEL) {
		struct pgw_frame f;

		r = pgw_frame(PGW_FRONTEND, pg->cph == C_STARTUP ? PGW_PHASE_STARTUP : PGW_PHASE_NORMAL,
			      &pg->lim, buf + off, n - off, &f, err, sizeof(err));
		if (r == -EAGAIN) {
			r = 0;
			break;
		}
		if (r) {
			snprintf(msg, sizeof(msg), "sluice: malformed message from the client: %s", err);
			r = client_fatal(pg, r == -EMSGSIZE ? "54000" : "08P01", msg);
			break;
		}
		off += f.size;
		if (pg->cph == C_STARTUP)
			r = client_startup(pg, &f, n - off);
		else if (pg->cph == C_PASSWORD)
			r = client_password(pg, &f);
		else
			r = client_msg(pg, &f);
		if (r)
			break;
	}
	if (keep_tail(pg, acc, buf, n, off))
		return client_fatal(pg, "54000", "sluice: message too long");
	return r;
}

static int server_input(struct pg *pg, const uint8_t *p, size_t len)
{
	struct pgw_buf *acc = &pg->acc[PROTO_UPSTREAM];
	const uint8_t *buf = p;
	size_t n = len, off = 0;
	char err[200], msg[300];
	int r = 0;

	if (pg->uph == U_SSL) {
		if (len != 1 || p[0] != 'S')
			return client_fatal(pg, "08006", len == 1 && p[0] == 'N' ?
				"sluice: the server refuses TLS, which this target requires" :
				"sluice: the server answered SSLRequest with something else");
		pg->uph = U_AUTH;
		pg->ctx->req |= PROTO_REQ_TLS_UPSTREAM;
		return send_startup(pg);
	}
	if (acc->len) {
		if (pgw_buf_append(acc, p, len))
			return client_fatal(pg, "08P01", "sluice: message from the server too long");
		buf = acc->data;
		n = acc->len;
	}
	while (off < n && !pg->closing) {
		struct pgw_frame f;

		r = pgw_frame(PGW_BACKEND, PGW_PHASE_NORMAL, &pg->lim, buf + off, n - off, &f, err,
			      sizeof(err));
		if (r == -EAGAIN) {
			r = 0;
			break;
		}
		if (r) {
			snprintf(msg, sizeof(msg), "sluice: malformed message from the server: %s", err);
			r = client_fatal(pg, "08P01", msg);
			break;
		}
		off += f.size;
		r = pg->uph == U_READY ? server_msg(pg, &f) : server_startup_msg(pg, &f);
		if (r)
			break;
	}
	if (keep_tail(pg, acc, buf, n, off))
		return client_fatal(pg, "08P01", "sluice: message from the server too long");
	return r;
}

/* ------------------------------------------------------------ the ops */

static void *pg_open(struct proto_ctx *ctx)
{
	struct pg *pg = calloc(1, sizeof(*pg));

	if (!pg)
		return NULL;
	pg->ctx = ctx;
	pg->t = target_of(ctx);
	pg->lim.max_bulk = PG_MAX_BULK;
	for (int i = 0; i < 2; i++)
		pgw_buf_init(&pg->acc[i], PG_MAX_BULK + 5 + 65536);
	pgw_buf_init(&pg->tmp, PG_MAX_BULK + 5);
	pgw_buf_init(&pg->startup, PGW_MAX_STARTUP);
	return pg;
}

static int pg_input(void *st, enum proto_side side, const uint8_t *p, size_t len)
{
	struct pg *pg = st;
	int r;

	if (pg->closing)
		return 0;
	if (!p) {
		/* the end of side's stream: say so if it cut a message */
		if (pg->acc[side].len)
			snprintf(pg->ctx->why, sizeof(pg->ctx->why),
				 "the %s closed inside a message (%zu bytes of it)",
				 side == PROTO_CLIENT ? "client" : "server", pg->acc[side].len);
		return 0;
	}
	if (!len)
		return 0;
	r = side == PROTO_CLIENT ? client_input(pg, p, len) : server_input(pg, p, len);
	if (r && !pg->ctx->why[0])
		snprintf(pg->ctx->why, sizeof(pg->ctx->why), "%s", strerror(-r));
	return r;
}

static int pg_secret(void *st, enum proto_side side)
{
	struct pg *pg = st;

	return side == PROTO_CLIENT && pg->cph == C_PASSWORD;
}

static void pg_close(void *st)
{
	struct pg *pg = st;

	if (!pg)
		return;
	cancel_unregister(pg);
	while (pg->head)
		pend_pop(pg);
	while (pg->stmts)
		stmt_drop(pg, pg->stmts->name);
	while (pg->portals)
		portal_drop(pg, pg->portals->name);
	pgw_rowdesc_free(pg->cur_rd);
	for (int i = 0; i < 2; i++)
		pgw_buf_free(&pg->acc[i]);
	pgw_buf_free(&pg->tmp);
	pgw_buf_free(&pg->startup);
	pgw_scram_free(pg->scram);
	free(pg->user);
	free(pg);
}

const struct proto_ops pg_proto_ops = {
	.name = "postgres",
	.open = pg_open,
	.input = pg_input,
	.connected = pg_connected,
	.secret = pg_secret,
	.close = pg_close,
};
