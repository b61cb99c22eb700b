// SPDX-License-Identifier: BSD-2-Clause
/*
 * The smallest PostgreSQL client that userspace/proto/pgwire.c makes
 * possible, for 66_pg_scram.sh: log in as USER with PASSWORD the way the
 * server asks (SCRAM-SHA-256, md5 or cleartext), run one query, print what
 * came back, terminate. Every byte in and out goes through the module's
 * framer, parsers and builders.
 *
 *   66_pg_scram_client ADDR PORT USER PASSWORD DATABASE SQL
 *
 * Prints "auth METHOD", then per row "row V1|V2|...", then "tag TAG rows N"
 * and "txn STATE". Exit 0; 3 with "error SQLSTATE MESSAGE" when the server
 * refuses; 4 when the server's SCRAM proof is wrong or the exchange breaks;
 * 1 for anything else.
 *
 * Environment:
 *   PGW_BINARY=1  run SQL with Parse/Bind/Describe/Execute/Sync asking for
 *                 every result column in binary; values print as hex
 *   PGW_MASK=kind:value[,kind:value...]  mask each DataRow with
 *                 pgw_mask_datarow() before printing ("sql_column:email",
 *                 "pattern:credit-card"); a row it refuses prints "withheld"
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mask.h"
#include "proto/pgwire.h"

static int fd = -1;
static uint8_t in[1 << 20];
static size_t in_len;

static void die(int code, const char *what)
{
	fprintf(stderr, "66_pg_scram_client: %s\n", what);
	exit(code);
}

static void send_buf(struct pgw_buf *b)
{
	size_t off = 0;

	while (off < b->len) {
		ssize_t n = write(fd, b->data + off, b->len - off);

		if (n <= 0)
			die(1, "write failed");
		off += (size_t)n;
	}
	pgw_buf_reset(b);
}

/* The next backend message, framed; its bytes stay valid until the next call. */
static struct pgw_frame next(void)
{
	static size_t consumed;
	struct pgw_frame f;
	char err[256];
	int rc;

	memmove(in, in + consumed, in_len - consumed);
	in_len -= consumed;
	consumed = 0;
	while ((rc = pgw_frame(PGW_BACKEND, PGW_PHASE_NORMAL, NULL, in, in_len, &f, err,
			       sizeof(err))) == -EAGAIN) {
		ssize_t n;

		if (in_len + f.need > sizeof(in))
			die(1, "message too big for this client");
		n = read(fd, in + in_len, sizeof(in) - in_len);
		if (n <= 0)
			die(1, "server closed the connection");
		in_len += (size_t)n;
	}
	if (rc)
		die(1, err);
	consumed = f.size;
	return f;
}

static void server_error(const struct pgw_frame *f)
{
	struct pgw_notice n;
	char err[256];

	if (pgw_parse_notice(f->body, f->body_len, &n, err, sizeof(err)))
		die(1, err);
	printf("error %s %s\n", n.sqlstate ? n.sqlstate : "?", n.message ? n.message : "?");
	exit(3);
}

static const char *login(struct pgw_buf *out, const char *user, const char *password)
{
	struct pgw_scram *scram = NULL;
	const char *method = "trust";
	char err[256], md5[PGW_MD5_LEN + 1];
	const uint8_t *d;
	size_t n;

	for (;;) {
		struct pgw_frame f = next();
		struct pgw_auth a;

		if (f.type == 'E')
			server_error(&f);
		if (f.type != 'R')
			die(1, "expected an authentication request");
		if (pgw_parse_auth(f.body, f.body_len, &a, err, sizeof(err)))
			die(1, err);
		switch (a.code) {
		case PGW_AUTH_OK:
			if (scram)
				die(4, "AuthenticationOk before SASLFinal was verified");
			return method;
		case PGW_AUTH_CLEARTEXT:
			method = "password";
			if (pgw_build_password(out, password))
				die(1, "build");
			break;
		case PGW_AUTH_MD5:
			method = "md5";
			if (pgw_md5_password(user, password, a.salt, md5) ||
			    pgw_build_password(out, md5))
				die(1, "md5");
			break;
		case PGW_AUTH_SASL: {
			bool offered = false;

			for (unsigned i = 0; i < a.n_mechs; i++)
				offered |= !strcmp(a.mechs[i], PGW_SCRAM_MECH);
			if (!offered)
				die(1, "server does not offer SCRAM-SHA-256");
			method = "scram-sha-256";
			scram = pgw_scram_new(password, NULL);
			if (!scram || pgw_scram_client_first(scram, &d, &n) ||
			    pgw_build_sasl_initial(out, PGW_SCRAM_MECH, d, n))
				die(1, "SCRAM client-first");
			break;
		}
		case PGW_AUTH_SASL_CONTINUE:
			if (!scram ||
			    pgw_scram_server_first(scram, a.data, a.data_len, NULL, err, sizeof(err)))
				die(4, scram ? err : "SASLContinue without SASL");
			if (pgw_scram_client_final(scram, &d, &n) ||
			    pgw_build_sasl_response(out, d, n))
				die(1, "SCRAM client-final");
			break;
		case PGW_AUTH_SASL_FINAL:
			if (!scram ||
			    pgw_scram_server_final(scram, a.data, a.data_len, err, sizeof(err)))
				die(4, scram ? err : "SASLFinal without SASL");
			pgw_scram_free(scram);
			scram = NULL;
			break;
		default:
			die(1, "authentication method not supported here");
		}
		send_buf(out);
	}
}

/* PGW_MASK as a spec; NULL when unset. */
static struct mask_spec *mask_from_env(void)
{
	const char *env = getenv("PGW_MASK");
	struct mask_spec *s;
	char buf[256], err[256], *save, *item;

	if (!env || !*env)
		return NULL;
	s = mask_spec_new();
	snprintf(buf, sizeof(buf), "%s", env);
	for (item = strtok_r(buf, ",", &save); s && item; item = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(item, ':');

		if (!colon)
			die(1, "PGW_MASK: kind:value expected");
		*colon = '\0';
		if (mask_spec_add(s, item, colon + 1, err, sizeof(err)))
			die(1, err);
	}
	if (!s)
		die(1, "out of memory");
	return s;
}

/* One DataRow, masked first when a spec is given. */
static void print_row(const struct pgw_rowdesc *rd, const struct mask_spec *spec,
		      const struct pgw_frame *f, bool binary)
{
	struct pgw_buf masked;
	struct pgw_values cols;
	struct pgw_values_it it;
	const uint8_t *body = f->body, *v;
	size_t len = f->body_len;
	const char *sep = "";
	int32_t l;

	pgw_buf_init(&masked, 0);
	if (spec) {
		if (!rd)
			die(1, "DataRow without RowDescription");
		if (pgw_mask_datarow(rd, spec, f->body, f->body_len, &masked) < 0) {
			printf("withheld\n");
			pgw_buf_free(&masked);
			return;
		}
		body = masked.data + 5;
		len = masked.len - 5;
	}
	if (pgw_parse_datarow(body, len, &cols))
		die(1, "DataRow");
	printf("row ");
	pgw_values_begin(&cols, &it);
	while (pgw_values_next(&it, &v, &l)) {
		printf("%s", sep);
		sep = "|";
		if (!v)
			printf("NULL");
		else if (binary)
			for (int32_t i = 0; i < l; i++)
				printf("%02x", v[i]);
		else
			printf("%.*s", (int)l, (const char *)v);
	}
	printf("\n");
	pgw_buf_free(&masked);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct pgw_buf out;
	struct pgw_rowdesc *rd = NULL;
	struct mask_spec *spec;
	char err[256];
	bool binary;

	if (argc != 7)
		die(1, "usage: ADDR PORT USER PASSWORD DATABASE SQL");
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
		die(1, "bad address");
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die(1, "connect failed");
	pgw_buf_init(&out, 0);
	{
		const struct pgw_param p[] = { { "user", argv[3] },
					       { "database", argv[5] },
					       { "application_name", "pgwire-test" } };

		if (pgw_build_startup(&out, 0, p, 3))
			die(1, "startup");
		send_buf(&out);
	}
	printf("auth %s\n", login(&out, argv[3], argv[4]));
	fflush(stdout);

	/* ParameterStatus, BackendKeyData, then ReadyForQuery */
	for (;;) {
		struct pgw_frame f = next();

		if (f.type == 'E')
			server_error(&f);
		if (f.type == 'Z')
			break;
	}
	binary = getenv("PGW_BINARY") && *getenv("PGW_BINARY") == '1';
	spec = mask_from_env();
	if (binary) {
		static const int16_t bin[1] = { 1 };

		if (pgw_build_parse(&out, "", argv[6], NULL, 0) ||
		    pgw_build_bind(&out, "", "", NULL, 0, NULL, NULL, 0, bin, 1) ||
		    pgw_build_describe(&out, 'P', "") || pgw_build_execute(&out, "", 0) ||
		    pgw_build_sync(&out))
			die(1, "extended query");
	} else if (pgw_build_query(&out, argv[6])) {
		die(1, "query");
	}
	send_buf(&out);
	for (;;) {
		struct pgw_frame f = next();

		if (f.type == 'E')
			server_error(&f);
		if (f.type == 'T') {
			pgw_rowdesc_free(rd);
			rd = pgw_rowdesc_new(f.body, f.body_len, err, sizeof(err));
			if (!rd)
				die(1, err);
		} else if (f.type == 'D') {
			print_row(rd, spec, &f, binary);
		} else if (f.type == 'C') {
			struct pgw_command c;

			if (pgw_parse_command_complete(f.body, f.body_len, &c))
				die(1, "CommandComplete");
			printf("tag %s rows %llu\n", c.command, (unsigned long long)c.rows);
		} else if (f.type == 'Z') {
			enum pgw_txn t;

			if (pgw_parse_ready(f.body, f.body_len, &t))
				die(1, "ReadyForQuery");
			printf("txn %s\n", pgw_txn_name(t));
			break;
		}
	}
	pgw_rowdesc_free(rd);
	mask_spec_free(spec);
	if (pgw_build_terminate(&out))
		die(1, "terminate");
	send_buf(&out);
	pgw_buf_free(&out);
	close(fd);
	return 0;
}
