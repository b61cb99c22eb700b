// SPDX-License-Identifier: BSD-2-Clause
/*
 * userspace/tls.c against stock OpenSSL peers driven in memory (each peer is
 * a real SSL with its own memory BIOs; the test moves the bytes), and
 * against itself. Every certificate is minted here, per test, into a fresh
 * temporary directory: a CA; "api" for api.test + 127.0.10.5 (file holds
 * leaf then CA, so chains are exercised); "db" for db.test; "wild" for
 * *.wild.test; a client certificate; a self-signed imposter for api.test.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls.h"

static char dir[64];
static char errbuf[512];

/* path of a file in the test's directory (a few rotating buffers) */
static const char *P(const char *name)
{
	static char bufs[8][128];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, 128, "%s/%s", dir, name);
	return b;
}

/* ---- certificates ------------------------------------------------------ */

static EVP_PKEY *ca_key;
static X509 *ca_cert;

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v;
	X509_EXTENSION *e;

	X509V3_set_ctx(&v, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v, nid, value);
	cr_assert_not_null(e, "extension %d=%s", nid, value);
	cr_assert(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
}

/* A certificate for key, signed by issuer (NULL: self-signed). */
static X509 *mint(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer,
		  EVP_PKEY *issuer_key, int is_ca)
{
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char serial[8];
	BIGNUM *bn;

	cr_assert_not_null(x);
	cr_assert(X509_set_version(x, 2));
	cr_assert(RAND_bytes(serial, sizeof(serial)) == 1);
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	cr_assert(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
	BN_free(bn);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	cr_assert(X509_set_pubkey(x, key));
	name = X509_get_subject_name(x);
	cr_assert(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn,
					     -1, -1, 0));
	cr_assert(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name));
	add_ext(x, issuer ? issuer : x, NID_basic_constraints,
		is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
	if (is_ca)
		add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
	else
		add_ext(x, issuer ? issuer : x, NID_authority_key_identifier, "keyid");
	if (san)
		add_ext(x, issuer ? issuer : x, NID_subject_alt_name, san);
	cr_assert(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()));
	return x;
}

static void write_pem(const char *file, X509 *leaf, X509 *chain, EVP_PKEY *key,
		      const char *keyfile)
{
	FILE *f = fopen(P(file), "w");

	cr_assert_not_null(f, "%s: %s", file, strerror(errno));
	cr_assert(PEM_write_X509(f, leaf));
	if (chain)
		cr_assert(PEM_write_X509(f, chain));
	fclose(f);
	if (key) {
		f = fopen(P(keyfile), "w");
		cr_assert_not_null(f);
		cr_assert(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
		fclose(f);
	}
}

/* A leaf named prefix.pem/prefix.key, signed by the CA unless self. */
static void leaf(const char *prefix, const char *cn, const char *san, int self)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x;
	char c[64], kf[64];

	cr_assert_not_null(k);
	x = mint(k, cn, san, self ? NULL : ca_cert, self ? NULL : ca_key, 0);
	snprintf(c, sizeof(c), "%s.pem", prefix);
	snprintf(kf, sizeof(kf), "%s.key", prefix);
	write_pem(c, x, self ? NULL : ca_cert, k, kf);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void setup(void)
{
	strcpy(dir, "/tmp/sluice-tls-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	ca_key = EVP_EC_gen("P-256");
	cr_assert_not_null(ca_key);
	ca_cert = mint(ca_key, "sluice test CA", NULL, NULL, NULL, 1);
	write_pem("ca.pem", ca_cert, NULL, NULL, NULL);
	leaf("api", "api.test", "DNS:api.test,IP:127.0.10.5", 0);
	leaf("db", "db.test", "DNS:db.test", 0);
	leaf("wild", "wild", "DNS:*.wild.test", 0);
	leaf("client", "agent-proxy", NULL, 0);
	leaf("imposter", "api.test", "DNS:api.test,IP:127.0.10.5", 1);
	ERR_clear_error();
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	X509_free(ca_cert);
	EVP_PKEY_free(ca_key);
	ca_cert = NULL;
	ca_key = NULL;
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 60);

/* ---- sluice contexts ---------------------------------------------------- */

#define ALPN_H11 "\x08http/1.1"

static struct tls_server *server3(const unsigned char *alpn, size_t alpn_len)
{
	struct tls_cert_spec certs[] = {
		{ P("api.pem"), P("api.key") },
		{ P("db.pem"), P("db.key") },
		{ P("wild.pem"), P("wild.key") },
	};
	struct tls_server *s;

	errbuf[0] = '\0';
	s = tls_server_new(certs, 3, alpn, alpn_len, errbuf, sizeof(errbuf));
	cr_assert_not_null(s, "tls_server_new: %s", errbuf);
	return s;
}

static struct tls_client *client_ctx(int with_cert)
{
	struct tls_client *c;

	errbuf[0] = '\0';
	c = tls_client_new(P("ca.pem"), with_cert ? P("client.pem") : NULL,
			   with_cert ? P("client.key") : NULL, errbuf, sizeof(errbuf));
	cr_assert_not_null(c, "tls_client_new: %s", errbuf);
	return c;
}

/* ---- stock OpenSSL peers ------------------------------------------------ */

struct peer {
	SSL_CTX *ctx;
	SSL *ssl;
	BIO *rbio, *wbio;	/* owned by ssl */
	char err[1024];		/* what the peer's OpenSSL said when it failed */
};

static void peer_wire(struct peer *p)
{
	p->ssl = SSL_new(p->ctx);
	cr_assert_not_null(p->ssl);
	p->rbio = BIO_new(BIO_s_mem());
	p->wbio = BIO_new(BIO_s_mem());
	cr_assert(p->rbio && p->wbio);
	SSL_set_bio(p->ssl, p->rbio, p->wbio);
}

/*
 * A client peer pinned to version (0: anything), verifying against our CA
 * for verify_host (NULL: no host check), sending sni (NULL: none) and alpn
 * (wire format, NULL: none).
 */
static void peer_client(struct peer *p, int version, const char *sni, const char *verify_host,
			const char *alpn, size_t alpn_len)
{
	memset(p, 0, sizeof(*p));
	p->ctx = SSL_CTX_new(TLS_client_method());
	cr_assert_not_null(p->ctx);
	if (version) {
		SSL_CTX_set_min_proto_version(p->ctx, version);
		SSL_CTX_set_max_proto_version(p->ctx, version);
	}
	cr_assert(SSL_CTX_load_verify_locations(p->ctx, P("ca.pem"), NULL) == 1);
	SSL_CTX_set_verify(p->ctx, SSL_VERIFY_PEER, NULL);
	peer_wire(p);
	SSL_set_connect_state(p->ssl);
	if (sni)
		cr_assert(SSL_set_tlsext_host_name(p->ssl, sni));
	if (verify_host) {
		if (strchr(verify_host, ':') || (verify_host[0] >= '0' && verify_host[0] <= '9'))
			cr_assert(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(p->ssl),
								verify_host));
		else
			cr_assert(SSL_set1_host(p->ssl, verify_host));
	}
	if (alpn)
		cr_assert(SSL_set_alpn_protos(p->ssl, (const unsigned char *)alpn,
					      (unsigned int)alpn_len) == 0);
}

/* A server peer presenting prefix.pem; require_client: demand a client
 * certificate signed by our CA. */
static void peer_server(struct peer *p, int version, const char *prefix, int require_client)
{
	char c[64], k[64];

	memset(p, 0, sizeof(*p));
	p->ctx = SSL_CTX_new(TLS_server_method());
	cr_assert_not_null(p->ctx);
	if (version) {
		SSL_CTX_set_min_proto_version(p->ctx, version);
		SSL_CTX_set_max_proto_version(p->ctx, version);
	}
	snprintf(c, sizeof(c), "%s.pem", prefix);
	snprintf(k, sizeof(k), "%s.key", prefix);
	cr_assert(SSL_CTX_use_certificate_chain_file(p->ctx, P(c)) == 1);
	cr_assert(SSL_CTX_use_PrivateKey_file(p->ctx, P(k), SSL_FILETYPE_PEM) == 1);
	if (require_client) {
		cr_assert(SSL_CTX_load_verify_locations(p->ctx, P("ca.pem"), NULL) == 1);
		SSL_CTX_set_verify(p->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
				   NULL);
	}
	peer_wire(p);
	SSL_set_accept_state(p->ssl);
}

static void peer_free(struct peer *p)
{
	SSL_free(p->ssl);
	SSL_CTX_free(p->ctx);
	ERR_clear_error();
}

static void peer_note_errors(struct peer *p)
{
	unsigned long e;
	size_t used;

	while ((e = ERR_get_error()) != 0) {
		used = strlen(p->err);
		if (used + 2 < sizeof(p->err)) {
			p->err[used++] = '|';
			ERR_error_string_n(e, p->err + used, sizeof(p->err) - used);
		}
	}
}

/* ---- moving bytes -------------------------------------------------------- */

/*
 * Move ciphertext both ways between t and p; chunk bounds each tls_feed()
 * (0: no bound). Returns bytes moved. An -ENOBUFS is not expected here.
 */
static size_t pump_chunked(struct tls_conn *t, struct peer *p, size_t chunk)
{
	static unsigned char buf[64 * 1024];
	size_t moved = 0, n;
	int r;

	while ((n = tls_out_take(t, buf, sizeof(buf))) > 0) {
		cr_assert_eq(BIO_write(p->rbio, buf, (int)n), (int)n);
		moved += n;
	}
	while ((r = BIO_read(p->wbio, buf, chunk ? (int)chunk : (int)sizeof(buf))) > 0) {
		ssize_t f = tls_feed(t, buf, (size_t)r);

		if (f == -EPROTO)	/* already failed: the rest goes nowhere */
			break;
		cr_assert_eq(f, r, "tls_feed: %zd", f);
		moved += (size_t)r;
	}
	return moved;
}

static size_t pump(struct tls_conn *t, struct peer *p)
{
	return pump_chunked(t, p, 0);
}

enum { HS_OK = 0, HS_US = 1, HS_PEER = 2, HS_STUCK = 3 };

/*
 * Drive both handshakes until both are done or one side fails (the other
 * then gets the alert). Returns HS_*; the sluice side's error is in
 * tls_error(), the peer's in p->err.
 */
static int handshake_chunked(struct tls_conn *t, struct peer *p, size_t chunk)
{
	unsigned char buf[256];
	int i, pr = 0, perr;
	ssize_t r;

	for (i = 0; i < 100000; i++) {
		r = tls_read(t, buf, sizeof(buf));
		cr_assert(r == -EAGAIN || r == -EPROTO, "tls_read during handshake: %zd", r);
		if (r == -EPROTO) {
			pump(t, p);
			SSL_do_handshake(p->ssl);
			peer_note_errors(p);
			return HS_US;
		}
		if (pr != 1) {
			ERR_clear_error();
			pr = SSL_do_handshake(p->ssl);
			perr = SSL_get_error(p->ssl, pr);
			if (pr != 1 && perr != SSL_ERROR_WANT_READ) {
				peer_note_errors(p);
				pump(t, p);
				r = tls_read(t, buf, sizeof(buf));
				return HS_PEER;
			}
		}
		if (!pump_chunked(t, p, chunk) && tls_done(t) && pr == 1)
			return HS_OK;
	}
	return HS_STUCK;
}

static int handshake(struct tls_conn *t, struct peer *p)
{
	return handshake_chunked(t, p, 0);
}

/* Read everything t can decrypt now into out (up to cap); returns count or
 * the first error other than -EAGAIN. */
static ssize_t drain(struct tls_conn *t, unsigned char *out, size_t cap)
{
	size_t got = 0;
	ssize_t r;

	while (got < cap) {
		r = tls_read(t, out + got, cap - got);
		if (r == -EAGAIN)
			break;
		if (r <= 0)
			return r;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Data both ways after the handshake: sluice -> peer and peer -> sluice. */
static void exchange(struct tls_conn *t, struct peer *p)
{
	static const char up[] = "GET /api HTTP/1.1\r\nHost: api.test\r\n\r\n";
	static const char down[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	unsigned char buf[256];
	size_t got = 0;
	ssize_t r;
	int i;

	cr_assert_eq(tls_write(t, up, sizeof(up)), (ssize_t)sizeof(up));
	pump(t, p);
	/* the peer may need a round to process tickets etc. */
	for (i = 0; i < 10 && got < sizeof(up); i++) {
		int n = SSL_read(p->ssl, buf + got, (int)(sizeof(buf) - got));

		if (n > 0)
			got += (size_t)n;
		pump(t, p);
	}
	cr_assert_eq(got, sizeof(up));
	cr_assert_eq(memcmp(buf, up, sizeof(up)), 0);

	cr_assert_eq(SSL_write(p->ssl, down, sizeof(down)), (int)sizeof(down));
	pump(t, p);
	r = drain(t, buf, sizeof(buf));
	cr_assert_eq(r, (ssize_t)sizeof(down), "tls_read: %zd (%s)", r, tls_error(t));
	cr_assert_eq(memcmp(buf, down, sizeof(down)), 0);
	cr_assert_eq(ERR_peek_error(), 0, "error queue left non-empty");
}

/* The subject CN of the certificate the peer received. */
static void peer_cert_cn(struct peer *p, char *cn, size_t len)
{
	X509 *x = SSL_get1_peer_certificate(p->ssl);

	cr_assert_not_null(x, "peer got no certificate");
	cr_assert(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
					    (int)len) > 0);
	X509_free(x);
}

/* ---- server side ---------------------------------------------------------- */

static void server_roundtrip(int version, const char *want)
{
	struct tls_server *s = server3(NULL, 0);
	struct tls_conn *t = tls_conn_server(s);
	struct peer p;
	char cn[64];

	cr_assert_not_null(t);
	peer_client(&p, version, "api.test", "api.test", NULL, 0);
	cr_assert_eq(handshake(t, &p), HS_OK, "us: %s / peer: %s", tls_error(t), p.err);
	cr_assert(tls_done(t));
	cr_assert_str_eq(tls_version(t), want);
	cr_assert_str_eq(SSL_get_version(p.ssl), want);
	cr_assert_eq(SSL_get_verify_result(p.ssl), X509_V_OK);
	peer_cert_cn(&p, cn, sizeof(cn));
	cr_assert_str_eq(cn, "api.test");
	/* the chain file was loaded whole: leaf + CA reach the client */
	cr_assert_eq(sk_X509_num(SSL_get_peer_cert_chain(p.ssl)), 2);
	cr_assert_str_eq(tls_sni(t), "api.test");
	cr_assert_null(tls_alpn(t));
	exchange(t, &p);
	peer_free(&p);
	tls_conn_free(t);
	tls_server_free(s);
}

Test(tls, server_tls13_handshake_and_data)
{
	server_roundtrip(TLS1_3_VERSION, "TLSv1.3");
}

Test(tls, server_tls12_handshake_and_data)
{
	server_roundtrip(TLS1_2_VERSION, "TLSv1.2");
}

Test(tls, server_refuses_tls11)
{
	struct tls_server *s = server3(NULL, 0);
	struct tls_conn *t = tls_conn_server(s);
	struct peer p;

	peer_client(&p, 0, "api.test", NULL, NULL, 0);
	SSL_set_security_level(p.ssl, 0);
	SSL_set_min_proto_version(p.ssl, TLS1_VERSION);
	SSL_set_max_proto_version(p.ssl, TLS1_1_VERSION);
	cr_assert_neq(handshake(t, &p), HS_OK);
	cr_assert_not(tls_done(t));
	peer_free(&p);
	tls_conn_free(t);
	tls_server_free(s);
}

/* SNI picks the certificate (and the peer verifies it for that name). */
static void sni_case(const char *sni, int version, const char *want_cn)
{
	struct tls_server *s = server3(NULL, 0);
	struct tls_conn *t = tls_conn_server(s);
	struct peer p;
	char cn[64];

	peer_client(&p, version, sni, sni, NULL, 0);
	cr_assert_eq(handshake(t, &p), HS_OK, "%s: us: %s / peer: %s", sni, tls_error(t), p.err);
	peer_cert_cn(&p, cn, sizeof(cn));
	cr_assert_str_eq(cn, want_cn, "SNI %s got %s", sni, cn);
	cr_assert_eq(SSL_get_verify_result(p.ssl), X509_V_OK);
	cr_assert_str_eq(tls_sni(t), sni);
	exchange(t, &p);
	peer_free(&p);
	tls_conn_free(t);
	tls_server_free(s);
}

Test(tls, sni_selects_second_cert)
{
	sni_case("db.test", TLS1_3_VERSION, "db.test");
	sni_case("db.test", TLS1_2_VERSION, "db.test");
	sni_case("DB.Test", 0, "db.test");	/* names compare case-blind */
}

Test(tls, sni_wildcard)
{
	sni_case("x.wild.test", 0, "wild");
	sni_case("api.test", 0, "api.test");
}

Test(tls, no_sni_gets_first_cert)
{
	struct tls_server *s = server3(NULL, 0);
	struct tls_conn *t = tls_conn_server(s);
	struct peer p;
	char cn[64];

	/* connecting by address: no SNI, the IP SAN is what the agent checks */
	peer_client(&p, 0, NULL, "127.0.10.5", NULL, 0);
	cr_assert_eq(handshake(t, &p), HS_OK, "us: %s / peer: %s", tls_error(t), p.err);
	peer_cert_cn(&p, cn, sizeof(cn));
	cr_assert_str_eq(cn, "api.test");
	cr_assert_eq(SSL_get_verify_result(p.ssl), X509_V_OK);
	cr_assert_null(tls_sni(t));
	exchange(t, &p);
	peer_free(&p);
	tls_conn_free(t);
	tls_server_free(s);
}

static void unknown_sni(const char *sni, int version, const char *shown)
{
	struct tls_server *s = server3(NULL, 0);
	struct tls_conn *t = tls_conn_server(s);
	struct peer p;
	char want[256];

	peer_client(&p, version, sni, NULL, NULL, 0);
	cr_assert_eq(handshake(t, &p), HS_US);
	cr_assert_not(tls_done(t));
	snprintf(want, sizeof(want),
		 "handshake: client asked for %s, which no certificate of this target carries",
		 shown);
	cr_assert_eq(strncmp(tls_error(t), want, strlen(want)), 0, "error: %s", tls_error(t));
	cr_assert_not_null(strstr(p.err, "unrecognized name"), "peer saw: %s", p.err);
	cr_assert_eq(ERR_peek_error(), 0);
	/* sticky */
	cr_assert_eq(tls_read(t, want, sizeof(want)), -EPROTO);
	cr_assert_eq(tls_write(t, "x", 1), -EPROTO);
	peer_free(&p);
	tls_conn_free(t);
	tls_server_free(s);
}

Test(tls, unknown_sni_refused)
{
	unknown_sni("other.test", TLS1_3_VERSION, "other.test");
	unknown_sni("other.test", TLS1_2_VERSION, "other.test");
	/* one label deeper than the wildcard covers */
	unknown_sni("a.b.wild.test", 0, "a.b.wild.test");
	/* a hostile name stays on one line */
	unknown_sni("evil\nname", 0, "evil?name");
}

Test(tls, alpn_first_of_ours_selected)
{
	static const unsigned char ours[] = "\x02h2\x08http/1.1";
	struct tls_server *s;
	struct tls_conn *t;
	struct peer p;
	const unsigned char *sel;
	unsigned int sel_len;

	s = server3((const unsigned char *)ALPN_H11, sizeof(ALPN_H11) - 1);
	t = tls_conn_server(s);
	peer_client(&p, 0, "api.test", "api.test", "\x02h2\x08http/1.1", 12);
	cr_assert_eq(handshake(t, &p), HS_OK, "us: %s / peer: %s", tls_error(t), p.err);
	cr_assert_str_eq(tls_alpn(t), "http/1.1");
	SSL_get0_alpn_selected(p.ssl, &sel, &sel_len);
	cr_assert_eq(sel_len, 8);
	cr_assert_eq(memcmp(sel, "http/1.1", 8), 0);
	peer_free(&p);
	tls_conn_free(t);
	tls_server_free(s);

	/* our order wins over the client's */
	s = server3(ours, sizeof(ours) - 1);
	t = tls_conn_server(s);
	peer_client(&p, TLS1_2_VERSION, "db.test", "db.test", "\x08http/1.1\x02h2", 12);
	cr_assert_eq(handshake(t, &p), HS_OK, "us: %s / peer: %s", tls_error(t), p.err);
	cr_assert_str_eq(tls_alpn(t), "h2");
	peer_free(&p);
	tls_conn_free(t);
	tls_server_free(s);
}

Test(tls, alpn_h2_only_client_refused)
{
	struct tls_server *s = server3((const unsigned char *)ALPN_H11, sizeof(ALPN_H11) - 1);
	struct tls_conn *t = tls_conn_server(s);
	struct peer p;

	peer_client(&p, 0, "api.test", NULL, "\x02h2", 3);
	cr_assert_eq(handshake(t, &p), HS_US);
	cr_assert_not(tls_done(t));
	cr_assert_not_null(strstr(tls_error(t), "handshake: client offered ALPN h2, none of which"),
			   "error: %s", tls_error(t));
	cr_assert_not_null(strstr(tls_error(t), "(http/1.1)"), "error: %s", tls_error(t));
	cr_assert_not_null(strstr(p.err, "no application protocol"), "peer saw: %s", p.err);
	peer_free(&p);
	tls_conn_free(t);
	tls_server_free(s);
}

Test(tls, alpn_not_offered_is_fine)
{
	struct tls_server *s = server3((const unsigned char *)ALPN_H11, sizeof(ALPN_H11) - 1);
	struct tls_conn *t = tls_conn_server(s);
	struct peer p;

	peer_client(&p, 0, "api.test", "api.test", NULL, 0);
	cr_assert_eq(handshake(t, &p), HS_OK, "us: %s / peer: %s", tls_error(t), p.err);
	cr_assert_null(tls_alpn(t));
	exchange(t, &p);
	peer_free(&p);
	tls_conn_free(t);
	tls_server_free(s);
}

/* ---- hostile input -------------------------------------------------------- */

/* A real ClientHello from a stock client, into hello (returns its length). */
static size_t capture_client_hello(unsigned char *hello, size_t cap, int version)
{
	struct peer p;
	int n;

	peer_client(&p, version, "api.test", NULL, "\x08http/1.1", 9);
	cr_assert_eq(SSL_do_handshake(p.ssl), -1);
	n = BIO_read(p.wbio, hello, (int)cap);
	cr_assert_gt(n, 50);
	cr_assert_eq(hello[0], 0x16, "not a handshake record");
	peer_free(&p);
	return (size_t)n;
}

Test(tls, garbage_random_bytes)
{
	struct tls_server *s = server3(NULL, 0);
	unsigned char junk[4096], out[64];
	unsigned int seed;
	int refused = 0;
	ssize_t r;

	for (seed = 1; seed <= 200; seed++) {
		struct tls_conn *t = tls_conn_server(s);
		size_t i, len = 1 + (seed * 37) % sizeof(junk);

		srand(seed);
		for (i = 0; i < len; i++)
			junk[i] = (unsigned char)rand();
		/* every few, a record header that looks right over junk */
		if (seed % 4 == 0 && len > 5)
			memcpy(junk, "\x16\x03\x01\x00\x40", 5);
		cr_assert_eq(tls_feed(t, junk, len), (ssize_t)len);
		r = tls_read(t, out, sizeof(out));
		cr_assert(r == -EPROTO || r == -EAGAIN, "seed %u: %zd", seed, r);
		if (r == -EAGAIN) {
			/* waiting for the rest of a record: EOF must end it */
			cr_assert_eq(tls_feed(t, NULL, 0), 0);
			r = tls_read(t, out, sizeof(out));
		}
		cr_assert_eq(r, -EPROTO, "seed %u: %zd", seed, r);
		cr_assert_not(tls_done(t));
		cr_assert_eq(strncmp(tls_error(t), "handshake: ", 11), 0, "%s", tls_error(t));
		cr_assert_eq(ERR_peek_error(), 0, "error queue left non-empty");
		refused++;
		tls_conn_free(t);
	}
	cr_assert_eq(refused, 200);
	tls_server_free(s);
}

Test(tls, garbage_http_request)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: api.test\r\n\r\n";
	struct tls_server *s = server3(NULL, 0);
	struct tls_conn *t = tls_conn_server(s);
	unsigned char out[64];

	cr_assert_eq(tls_feed(t, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	cr_assert_eq(tls_read(t, out, sizeof(out)), -EPROTO);
	cr_assert_not_null(strstr(tls_error(t), "handshake: "), "%s", tls_error(t));
	cr_assert_not_null(strstr(tls_error(t), "http request"), "%s", tls_error(t));
	tls_conn_free(t);
	tls_server_free(s);
}

Test(tls, truncated_client_hello_then_eof)
{
	struct tls_server *s = server3(NULL, 0);
	struct tls_conn *t = tls_conn_server(s);
	unsigned char hello[4096], out[64];
	size_t n = capture_client_hello(hello, sizeof(hello), 0);

	cr_assert_eq(tls_feed(t, hello, n / 2), (ssize_t)(n / 2));
	cr_assert_eq(tls_read(t, out, sizeof(out)), -EAGAIN);
	cr_assert_eq(tls_out_pending(t), 0, "answered half a ClientHello");
	cr_assert_eq(tls_feed(t, NULL, 0), 0);
	cr_assert_eq(tls_read(t, out, sizeof(out)), -EPROTO);
	cr_assert_not_null(strstr(tls_error(t), "handshake: "), "%s", tls_error(t));
	cr_assert_not_null(strstr(tls_error(t), "unexpected eof"), "%s", tls_error(t));
	cr_assert_eq(ERR_peek_error(), 0);
	tls_conn_free(t);
	tls_server_free(s);
}

Test(tls, client_hello_one_byte_at_a_time)
{
	int versions[] = { TLS1_3_VERSION, TLS1_2_VERSION };
	struct tls_server *s = server3(NULL, 0);
	size_t v;

	for (v = 0; v < 2; v++) {
		struct tls_conn *t = tls_conn_server(s);
		struct peer p;

		peer_client(&p, versions[v], "db.test", "db.test", NULL, 0);
		/* every byte the client sends arrives alone, not only the hello */
		cr_assert_eq(handshake_chunked(t, &p, 1), HS_OK, "us: %s / peer: %s",
			     tls_error(t), p.err);
		exchange(t, &p);
		peer_free(&p);
		tls_conn_free(t);
	}
	tls_server_free(s);
}

Test(tls, client_renegotiation_refused)
{
	struct tls_server *s = server3(NULL, 0);
	struct tls_conn *t = tls_conn_server(s);
	unsigned char out[64];
	struct peer p;
	int pr, i;
	ssize_t r = -EAGAIN;

	peer_client(&p, TLS1_2_VERSION, "api.test", "api.test", NULL, 0);
	cr_assert_eq(handshake(t, &p), HS_OK, "us: %s / peer: %s", tls_error(t), p.err);
	exchange(t, &p);

	cr_assert_eq(SSL_renegotiate(p.ssl), 1);
	pr = SSL_do_handshake(p.ssl);
	cr_assert_neq(pr, 1);
	pump(t, &p);
	for (i = 0; i < 5 && r == -EAGAIN; i++) {
		r = tls_read(t, out, sizeof(out));
		pump(t, &p);
	}
	cr_assert_eq(r, -EPROTO, "renegotiation not refused: %zd", r);
	cr_assert_not_null(strstr(tls_error(t), "read: client attempted renegotiation"), "%s",
			   tls_error(t));
	/* and the peer did not get a second handshake either */
	ERR_clear_error();
	pr = SSL_do_handshake(p.ssl);
	cr_assert_neq(pr, 1, "peer completed a renegotiation");
	peer_free(&p);
	tls_conn_free(t);
	tls_server_free(s);
}

Test(tls, close_notify_reads_as_zero)
{
	struct tls_server *s = server3(NULL, 0);
	struct tls_conn *t = tls_conn_server(s);
	unsigned char out[64];
	struct peer p;

	peer_client(&p, 0, "api.test", "api.test", NULL, 0);
	cr_assert_eq(handshake(t, &p), HS_OK, "us: %s / peer: %s", tls_error(t), p.err);
	exchange(t, &p);
	/* ours first: the peer reads a clean EOF */
	tls_shutdown(t);
	cr_assert_gt(tls_out_pending(t), 0);
	pump(t, &p);
	cr_assert_eq(SSL_read(p.ssl, out, sizeof(out)), 0);
	cr_assert_eq(SSL_get_error(p.ssl, 0), SSL_ERROR_ZERO_RETURN);
	/* then theirs */
	cr_assert_geq(SSL_shutdown(p.ssl), 0);
	pump(t, &p);
	cr_assert_eq(tls_read(t, out, sizeof(out)), 0);
	cr_assert_eq(ERR_peek_error(), 0);
	peer_free(&p);
	tls_conn_free(t);
	tls_server_free(s);
}

Test(tls, eof_without_close_notify_is_an_error)
{
	struct tls_server *s = server3(NULL, 0);
	struct tls_conn *t = tls_conn_server(s);
	unsigned char out[64];
	struct peer p;

	peer_client(&p, 0, "api.test", "api.test", NULL, 0);
	cr_assert_eq(handshake(t, &p), HS_OK, "us: %s / peer: %s", tls_error(t), p.err);
	cr_assert_eq(SSL_write(p.ssl, "tail", 4), 4);
	pump(t, &p);
	cr_assert_eq(tls_feed(t, NULL, 0), 0);
	/* what came before the EOF is still delivered */
	cr_assert_eq(drain(t, out, sizeof(out)), -EPROTO);
	cr_assert_not_null(strstr(tls_error(t), "read: "), "%s", tls_error(t));
	peer_free(&p);
	tls_conn_free(t);
	tls_server_free(s);
}

Test(tls, feed_is_bounded)
{
	enum { TOTAL = 1024 * 1024, CHUNK = 16 * 1024 };
	struct tls_server *s = server3(NULL, 0);
	struct tls_conn *t = tls_conn_server(s);
	static unsigned char data[TOTAL], got[TOTAL], wire[2 * TOTAL];
	size_t i, wire_len = 0, fed = 0, have = 0;
	int refused = 0, n;
	ssize_t r;
	struct peer p;

	for (i = 0; i < TOTAL; i++)
		data[i] = (unsigned char)(i * 7 + (i >> 9));
	peer_client(&p, 0, "api.test", "api.test", NULL, 0);
	cr_assert_eq(handshake(t, &p), HS_OK, "us: %s / peer: %s", tls_error(t), p.err);
	cr_assert_eq(SSL_write(p.ssl, data, TOTAL), TOTAL);
	while ((n = BIO_read(p.wbio, wire + wire_len, (int)(sizeof(wire) - wire_len))) > 0)
		wire_len += (size_t)n;
	cr_assert_gt(wire_len, TOTAL);

	/* a caller that only feeds is stopped */
	while (fed < wire_len) {
		size_t c = wire_len - fed < CHUNK ? wire_len - fed : CHUNK;

		r = tls_feed(t, wire + fed, c);
		if (r == -ENOBUFS) {
			refused = 1;
			break;
		}
		cr_assert_eq(r, (ssize_t)c);
		fed += c;
	}
	cr_assert(refused, "fed %zu bytes without pushback", fed);
	cr_assert_geq(fed, 256 * 1024);
	cr_assert_leq(fed, 256 * 1024 + CHUNK);

	/* reading drains it and feeding resumes; nothing is lost */
	while (have < TOTAL) {
		r = drain(t, got + have, TOTAL - have);
		cr_assert_geq(r, 0, "%s", tls_error(t));
		have += (size_t)r;
		while (fed < wire_len) {
			size_t c = wire_len - fed < CHUNK ? wire_len - fed : CHUNK;

			r = tls_feed(t, wire + fed, c);
			if (r == -ENOBUFS)
				break;
			cr_assert_eq(r, (ssize_t)c);
			fed += c;
		}
		if (fed == wire_len && r != -ENOBUFS && have < TOTAL) {
			r = drain(t, got + have, TOTAL - have);
			cr_assert_gt(r, 0, "stalled at %zu: %s", have, tls_error(t));
			have += (size_t)r;
		}
	}
	cr_assert_eq(memcmp(got, data, TOTAL), 0);
	peer_free(&p);
	tls_conn_free(t);
	tls_server_free(s);
}

Test(tls, server_freed_while_session_lives)
{
	struct tls_server *s = server3((const unsigned char *)ALPN_H11, sizeof(ALPN_H11) - 1);
	struct tls_conn *t = tls_conn_server(s);
	struct peer p;

	/* a reload drops the server mid-handshake: the callbacks still run */
	tls_server_free(s);
	peer_client(&p, 0, "db.test", "db.test", "\x08http/1.1", 9);
	cr_assert_eq(handshake(t, &p), HS_OK, "us: %s / peer: %s", tls_error(t), p.err);
	cr_assert_str_eq(tls_alpn(t), "http/1.1");
	peer_free(&p);
	tls_conn_free(t);
}

Test(tls, write_before_handshake_waits)
{
	struct tls_server *s = server3(NULL, 0);
	struct tls_conn *t = tls_conn_server(s);

	cr_assert_eq(tls_write(t, "x", 1), -EAGAIN);
	cr_assert_null(tls_version(t));
	cr_assert_not(tls_done(t));
	cr_assert_eq(tls_out_pending(t), 0);
	tls_shutdown(t);	/* nothing to close yet; must not misbehave */
	cr_assert_eq(ERR_peek_error(), 0);
	tls_conn_free(t);
	tls_server_free(s);
}

/* ---- client side ---------------------------------------------------------- */

/* A sluice client to host against a stock server presenting prefix. */
static int client_case(const char *prefix, const char *host, int with_cert, int require_client,
		       int version, struct peer *p, struct tls_conn **out)
{
	struct tls_client *c = client_ctx(with_cert);
	struct tls_conn *t = tls_conn_client(c, host);
	int rc;

	cr_assert_not_null(t, "tls_conn_client(%s): %s", host, strerror(errno));
	tls_client_free(c);	/* sessions keep what they need */
	peer_server(p, version, prefix, require_client);
	rc = handshake(t, p);
	*out = t;
	return rc;
}

Test(tls, client_verifies_upstream)
{
	int versions[] = { TLS1_3_VERSION, TLS1_2_VERSION };
	const char *names[] = { "TLSv1.3", "TLSv1.2" };
	size_t v;

	for (v = 0; v < 2; v++) {
		struct tls_conn *t;
		struct peer p;

		cr_assert_eq(client_case("api", "api.test", 0, 0, versions[v], &p, &t), HS_OK,
			     "us: %s / peer: %s", tls_error(t), p.err);
		cr_assert_str_eq(tls_version(t), names[v]);
		/* SNI sent for a DNS name */
		cr_assert_str_eq(SSL_get_servername(p.ssl, TLSEXT_NAMETYPE_host_name), "api.test");
		cr_assert_null(tls_sni(t), "tls_sni is the server side's");
		exchange(t, &p);
		peer_free(&p);
		tls_conn_free(t);
	}
}

Test(tls, client_ip_literal)
{
	struct tls_conn *t;
	struct peer p;

	cr_assert_eq(client_case("api", "127.0.10.5", 0, 0, 0, &p, &t), HS_OK, "us: %s / peer: %s",
		     tls_error(t), p.err);
	/* no SNI for an address */
	cr_assert_null(SSL_get_servername(p.ssl, TLSEXT_NAMETYPE_host_name));
	exchange(t, &p);
	peer_free(&p);
	tls_conn_free(t);
}

static void client_refuses(const char *prefix, const char *host, const char *why)
{
	unsigned char out[16];
	struct tls_conn *t;
	struct peer p;

	cr_assert_eq(client_case(prefix, host, 0, 0, 0, &p, &t), HS_US, "%s/%s: accepted", prefix,
		     host);
	cr_assert_not(tls_done(t));
	cr_assert_eq(strncmp(tls_error(t), "handshake: ", 11), 0, "%s", tls_error(t));
	cr_assert_not_null(strstr(tls_error(t), why), "%s/%s: %s", prefix, host, tls_error(t));
	cr_assert_not_null(strstr(tls_error(t), "certificate verify failed"), "%s", tls_error(t));
	cr_assert_eq(tls_read(t, out, sizeof(out)), -EPROTO);
	cr_assert_eq(ERR_peek_error(), 0);
	/* the upstream was told, by alert */
	cr_assert_neq(p.err[0], '\0', "upstream saw no alert");
	peer_free(&p);
	tls_conn_free(t);
}

Test(tls, client_refuses_imposter)
{
	client_refuses("imposter", "api.test", "self-signed certificate");
	client_refuses("imposter", "127.0.10.5", "self-signed certificate");
}

Test(tls, client_refuses_host_mismatch)
{
	client_refuses("api", "db.test", "hostname mismatch");
	client_refuses("wild", "a.b.wild.test", "hostname mismatch");
}

Test(tls, client_refuses_ip_mismatch)
{
	client_refuses("api", "127.0.10.6", "IP address mismatch");
	client_refuses("db", "127.0.10.5", "IP address mismatch");
}

Test(tls, client_cert_presented)
{
	struct tls_conn *t;
	struct peer p;
	X509 *x;
	char cn[64];

	cr_assert_eq(client_case("api", "api.test", 1, 1, 0, &p, &t), HS_OK, "us: %s / peer: %s",
		     tls_error(t), p.err);
	exchange(t, &p);
	x = SSL_get1_peer_certificate(p.ssl);
	cr_assert_not_null(x, "no client certificate reached the upstream");
	cr_assert(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
					    sizeof(cn)) > 0);
	cr_assert_str_eq(cn, "agent-proxy");
	cr_assert_eq(SSL_get_verify_result(p.ssl), X509_V_OK);
	X509_free(x);
	peer_free(&p);
	tls_conn_free(t);
}

Test(tls, client_without_cert_refused_by_upstream)
{
	struct tls_conn *t;
	struct peer p;
	int rc;

	rc = client_case("api", "api.test", 0, 1, TLS1_2_VERSION, &p, &t);
	cr_assert_neq(rc, HS_OK);
	cr_assert_not(tls_done(t));
	cr_assert_eq(tls_read(t, p.err, 8), -EPROTO, "%s", tls_error(t));
	peer_free(&p);
	tls_conn_free(t);
}

Test(tls, upstream_renegotiation_not_honoured)
{
	unsigned char out[64];
	struct tls_conn *t;
	struct peer p;
	ssize_t r;
	int pr;

	cr_assert_eq(client_case("api", "api.test", 0, 0, TLS1_2_VERSION, &p, &t), HS_OK);
	exchange(t, &p);
	/* the upstream asks (HelloRequest) */
	cr_assert_eq(SSL_renegotiate(p.ssl), 1);
	cr_assert_eq(SSL_do_handshake(p.ssl), 1);
	pump(t, &p);
	r = tls_read(t, out, sizeof(out));
	cr_assert(r == -EAGAIN || r == -EPROTO, "%zd", r);
	cr_assert_gt(tls_out_pending(t), 0, "HelloRequest went unanswered");
	pump(t, &p);
	/* we declined: the upstream gets no ClientHello, only the refusal */
	ERR_clear_error();
	pr = SSL_read(p.ssl, out, sizeof(out));
	cr_assert_leq(pr, 0);
	peer_note_errors(&p);
	cr_assert_not_null(strstr(p.err, "no renegotiation"), "upstream saw: %s", p.err);
	/* and its fatal alert ends our side */
	pump(t, &p);
	cr_assert_eq(tls_read(t, out, sizeof(out)), -EPROTO);
	cr_assert_not_null(strstr(tls_error(t), "read: "), "%s", tls_error(t));
	peer_free(&p);
	tls_conn_free(t);
}

/* ---- sluice to sluice ------------------------------------------------------ */

/* Move ciphertext between two sluice sessions; returns bytes moved. */
static size_t pump2(struct tls_conn *a, struct tls_conn *b)
{
	static unsigned char buf[64 * 1024];
	size_t moved = 0, n;

	while ((n = tls_out_take(a, buf, sizeof(buf))) > 0) {
		cr_assert_eq(tls_feed(b, buf, n), (ssize_t)n);
		moved += n;
	}
	while ((n = tls_out_take(b, buf, sizeof(buf))) > 0) {
		cr_assert_eq(tls_feed(a, buf, n), (ssize_t)n);
		moved += n;
	}
	return moved;
}

static void handshake2(struct tls_conn *cl, struct tls_conn *sv)
{
	unsigned char b[16];
	ssize_t r;
	int i;

	for (i = 0; i < 50; i++) {
		r = tls_read(cl, b, sizeof(b));
		cr_assert_eq(r, -EAGAIN, "client: %s", tls_error(cl));
		r = tls_read(sv, b, sizeof(b));
		cr_assert_eq(r, -EAGAIN, "server: %s", tls_error(sv));
		if (!pump2(cl, sv) && tls_done(cl) && tls_done(sv))
			return;
	}
	cr_assert_fail("no handshake: %s / %s", tls_error(cl), tls_error(sv));
}

/* Send total bytes from a to b in uneven writes, pumping as a ring would;
 * b's plaintext must equal what went in. */
static void transfer(struct tls_conn *a, struct tls_conn *b, const unsigned char *data,
		     unsigned char *got, size_t total)
{
	size_t sent = 0, have = 0, w;
	ssize_t r;

	while (have < total) {
		if (sent < total) {
			w = 1 + (sent * 31) % 70000;
			if (w > total - sent)
				w = total - sent;
			cr_assert_eq(tls_write(a, data + sent, w), (ssize_t)w);
			sent += w;
		}
		pump2(a, b);
		r = drain(b, got + have, total - have);
		cr_assert_geq(r, 0, "%s", tls_error(b));
		have += (size_t)r;
		cr_assert(sent < total || r > 0 || have == total, "stalled at %zu", have);
	}
	cr_assert_eq(memcmp(got, data, total), 0, "corrupted");
}

Test(tls, sluice_to_sluice_4mib_both_ways)
{
	enum { TOTAL = 4 * 1024 * 1024 };
	struct tls_server *s = server3((const unsigned char *)ALPN_H11, sizeof(ALPN_H11) - 1);
	struct tls_client *c = client_ctx(1);
	struct tls_conn *sv = tls_conn_server(s);
	struct tls_conn *cl = tls_conn_client(c, "api.test");
	unsigned char *data = malloc(TOTAL), *got = malloc(TOTAL);
	unsigned char b[8];

	cr_assert(data && got && sv && cl);
	cr_assert_eq(RAND_bytes(data, TOTAL), 1);
	handshake2(cl, sv);
	cr_assert_str_eq(tls_sni(sv), "api.test");
	cr_assert_str_eq(tls_version(cl), "TLSv1.3");
	/* no ALPN offered by our client: fine */
	cr_assert_null(tls_alpn(sv));

	transfer(cl, sv, data, got, TOTAL);
	memset(got, 0, TOTAL);
	transfer(sv, cl, data, got, TOTAL);

	tls_shutdown(cl);
	pump2(cl, sv);
	cr_assert_eq(tls_read(sv, b, sizeof(b)), 0);
	free(data);
	free(got);
	tls_conn_free(cl);
	tls_conn_free(sv);
	tls_client_free(c);
	tls_server_free(s);
}

/* ---- construction refusals -------------------------------------------------- */

Test(tls, server_new_refusals)
{
	struct tls_cert_spec mismatched[] = { { P("api.pem"), P("db.key") } };
	struct tls_cert_spec missing[] = { { P("nope.pem"), P("api.key") } };
	struct tls_cert_spec half[] = { { P("api.pem"), NULL } };
	struct tls_cert_spec ok[] = { { P("api.pem"), P("api.key") } };

	errno = 0;
	cr_assert_null(tls_server_new(mismatched, 1, NULL, 0, errbuf, sizeof(errbuf)));
	cr_assert_eq(errno, EINVAL);
	cr_assert_not_null(strstr(errbuf, "certs[0]"), "%s", errbuf);
	cr_assert_not_null(strstr(errbuf, "db.key"), "%s", errbuf);
	cr_assert_not_null(strstr(errbuf, "key values mismatch"), "%s", errbuf);

	cr_assert_null(tls_server_new(missing, 1, NULL, 0, errbuf, sizeof(errbuf)));
	cr_assert_not_null(strstr(errbuf, "nope.pem"), "%s", errbuf);
	cr_assert_not_null(strstr(errbuf, "certificate"), "%s", errbuf);

	cr_assert_null(tls_server_new(half, 1, NULL, 0, errbuf, sizeof(errbuf)));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(tls_server_new(ok, 0, NULL, 0, errbuf, sizeof(errbuf)));
	cr_assert_eq(errno, EINVAL);
	/* ALPN framing: a length running past the end, an empty id */
	cr_assert_null(tls_server_new(ok, 1, (const unsigned char *)"\x09http/1.1", 9, errbuf,
				      sizeof(errbuf)));
	cr_assert_not_null(strstr(errbuf, "alpn"), "%s", errbuf);
	cr_assert_null(tls_server_new(ok, 1, (const unsigned char *)"\x00\x02h2", 4, errbuf,
				      sizeof(errbuf)));
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(ERR_peek_error(), 0);
}

Test(tls, encrypted_key_refused_without_prompt)
{
	struct tls_cert_spec enc[] = { { P("api.pem"), P("enc.key") } };
	EVP_PKEY *k;
	FILE *f;

	/* re-encrypt api.key with a passphrase we never give */
	f = fopen(P("api.key"), "r");
	cr_assert_not_null(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	cr_assert_not_null(k);
	f = fopen(P("enc.key"), "w");
	cr_assert_not_null(f);
	cr_assert(PEM_write_PrivateKey(f, k, EVP_aes_128_cbc(), (unsigned char *)"secret", 6,
				       NULL, NULL));
	fclose(f);
	EVP_PKEY_free(k);
	cr_assert_null(tls_server_new(enc, 1, NULL, 0, errbuf, sizeof(errbuf)));
	cr_assert_not_null(strstr(errbuf, "key"), "%s", errbuf);
}

Test(tls, client_new_refusals)
{
	cr_assert_null(tls_client_new(NULL, NULL, NULL, errbuf, sizeof(errbuf)));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(tls_client_new(P("nope.pem"), NULL, NULL, errbuf, sizeof(errbuf)));
	cr_assert_not_null(strstr(errbuf, "nope.pem"), "%s", errbuf);
	/* a key file holds no CA certificate */
	cr_assert_null(tls_client_new(P("api.key"), NULL, NULL, errbuf, sizeof(errbuf)));
	cr_assert_null(tls_client_new(P("ca.pem"), P("client.pem"), NULL, errbuf, sizeof(errbuf)));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(tls_client_new(P("ca.pem"), P("client.pem"), P("db.key"), errbuf,
				      sizeof(errbuf)));
	cr_assert_not_null(strstr(errbuf, "client certificate"), "%s", errbuf);
	cr_assert_eq(ERR_peek_error(), 0);
}

Test(tls, conn_client_refusals)
{
	struct tls_client *c = client_ctx(0);

	errno = 0;
	cr_assert_null(tls_conn_client(c, NULL));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(tls_conn_client(c, ""));
	cr_assert_eq(errno, EINVAL);
	tls_client_free(c);
	tls_conn_free(NULL);
	tls_server_free(NULL);
	tls_client_free(NULL);
}
