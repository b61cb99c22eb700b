// SPDX-License-Identifier: BSD-2-Clause
/*
 * TLS over memory BIOs (DESIGN §1 item 5). The ring owns every socket:
 * OpenSSL only ever sees a read BIO we fill from what the ring received and
 * a write BIO we empty into what the ring sends. Both sides of the proxy
 * live here: the server that presents a target's held certificate to the
 * agent, and the client that verifies the real upstream and presents the
 * held client credential.
 *
 * OpenSSL's per-thread error queue never leaks out of this file: it is
 * cleared before each call into OpenSSL and drained into the connection's
 * message after a failure, so a worker thread never sees another
 * connection's leftovers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls.h"

/*
 * Unread ciphertext one session may hold. A peer that sends faster than we
 * decrypt (or a caller that keeps feeding without calling tls_read) is
 * pushed back to the socket: tls_feed() refuses with -ENOBUFS once this
 * much is waiting, so a session's read BIO never holds more than this plus
 * the one receive buffer that crossed the line.
 */
#define TLS_FEED_MAX	(256 * 1024)

#define TLS_ERR_LEN	512
#define TLS_WHY_LEN	320

/*
 * TLS 1.2 suites toward agents: forward-secret AEAD only (Mozilla's
 * "intermediate" list without DHE, for which we load no parameters). The
 * TLS 1.3 suites are OpenSSL's defaults, all of which are AEAD.
 */
#define SERVER_CIPHERS12                                                        \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"           \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"           \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct tls_server {
	/*
	 * One reference for the creator and one per session made from it:
	 * the SNI and ALPN callbacks read this struct during a handshake, so
	 * a reload may drop the old server while its sessions finish.
	 */
	int refs;
	size_t n;
	SSL_CTX **ctx;		/* ctx[i] presents certs[i]; ctx[0] starts every SSL */
	unsigned char *alpn;	/* wire format, ours in preference order; NULL: none */
	size_t alpn_len;
};

struct tls_client {
	SSL_CTX *ctx;
};

struct tls_conn {
	SSL *ssl;
	BIO *rbio;		/* borrowed: owned by ssl */
	BIO *wbio;		/* borrowed: owned by ssl */
	struct tls_server *srv;	/* server side: holds a reference */
	int done;		/* handshake completed */
	int failed;		/* sticky: every later call returns -EPROTO */
	int reneg;		/* the peer started a second handshake */
	char alpn[256];		/* negotiated protocol, NUL-terminated; "" if none */
	char why[TLS_WHY_LEN];	/* our own account of a refusal, from a callback */
	char err[TLS_ERR_LEN];
};

/* Append text to buf (NUL-terminated, size bytes), after sep if buf is not
 * empty; truncates silently. */
static void str_add(char *buf, size_t size, const char *sep, const char *text)
{
	size_t used = strnlen(buf, size);

	if (used + 1 >= size)
		return;
	snprintf(buf + used, size - used, "%s%s", used ? sep : "", text);
}

/* Drain the thread's error queue into buf ("; "-joined). Returns how many
 * errors there were. */
static int drain_errors(char *buf, size_t size)
{
	char one[256];
	unsigned long e;
	int n = 0;

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, one, sizeof(one));
		str_add(buf, size, "; ", one);
		n++;
	}
	return n;
}

/*
 * Copy attacker-supplied text (an SNI name, ALPN ids) for a message: at most
 * max bytes, anything unprintable as '?', so a log line stays one line.
 */
static void copy_printable(char *dst, size_t size, const unsigned char *src, size_t len,
			   size_t max)
{
	size_t i;

	if (!size)
		return;
	if (len > max)
		len = max;
	if (len >= size)
		len = size - 1;
	for (i = 0; i < len; i++)
		dst[i] = (src[i] > 0x20 && src[i] < 0x7f) ? (char)src[i] : '?';
	dst[len] = '\0';
}

/* A daemon has no terminal: an encrypted key is refused, never prompted for. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

/* Options both sides share. Returns 0 or -EINVAL. */
static int ctx_common(SSL_CTX *ctx)
{
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
		return -EINVAL;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	/* Idle connections are most connections: don't keep 2 x 16 KiB+
	 * record buffers around for each. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	return 0;
}

/* Load a certificate chain and its key into ctx; what names the files in
 * the message. Returns 0 or -EINVAL with err filled. */
static int ctx_load_pair(SSL_CTX *ctx, const char *cert, const char *key, const char *what,
			 char *err, size_t errlen)
{
	const char *step;

	step = "certificate";
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		goto fail;
	step = "key";
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		goto fail;
	step = "key/certificate pair";
	if (SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s (%s, %s): %s: ", what, cert, key, step);
	if (!drain_errors(err, errlen))
		str_add(err, errlen, "", "unknown error");
	return -EINVAL;
}

/*
 * Does this certificate carry name? SAN DNS entries, else the CN, with
 * OpenSSL's wildcard rules (one whole left-most label). A client that puts
 * an address literal in SNI (against RFC 6066, but some do) is matched
 * against the IP SANs.
 */
static int cert_carries(X509 *x, const char *name)
{
	unsigned char addr[16];

	if (!x)
		return 0;
	if (inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1)
		return X509_check_ip_asc(x, name, 0) == 1;
	return X509_check_host(x, name, strlen(name), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
			       NULL) == 1;
}

/* Servername callback: pick the certificate for the client's SNI. */
static int server_sni_cb(SSL *ssl, int *al, void *arg)
{
	struct tls_server *s = arg;
	struct tls_conn *t = SSL_get_app_data(ssl);
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	char shown[256];
	size_t i;

	if (!name)
		return SSL_TLSEXT_ERR_OK;	/* by address: certs[0] */
	for (i = 0; i < s->n; i++) {
		if (!cert_carries(SSL_CTX_get0_certificate(s->ctx[i]), name))
			continue;
		if (i && SSL_set_SSL_CTX(ssl, s->ctx[i]) != s->ctx[i]) {
			*al = SSL_AD_INTERNAL_ERROR;
			return SSL_TLSEXT_ERR_ALERT_FATAL;
		}
		return SSL_TLSEXT_ERR_OK;
	}
	copy_printable(shown, sizeof(shown), (const unsigned char *)name, strlen(name), 255);
	if (t)
		snprintf(t->why, sizeof(t->why),
			 "client asked for %s, which no certificate of this target carries", shown);
	*al = SSL_AD_UNRECOGNIZED_NAME;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* Append the ids of an ALPN wire-format list to buf, comma-separated. */
static void alpn_list_text(char *buf, size_t size, const unsigned char *p, size_t len)
{
	const char *sep = "";
	char one[64];
	size_t off = 0;

	while (off < len) {
		size_t l = p[off];

		if (l == 0 || l > len - off - 1)
			break;
		copy_printable(one, sizeof(one), p + off + 1, l, 40);
		str_add(buf, size, "", sep);
		str_add(buf, size, "", one);
		sep = ",";
		off += 1 + l;
	}
}

/*
 * ALPN: the first of our protocols that the client offers. A client that
 * offers some but none of ours is refused (no_application_protocol)
 * rather than let through to speak something the parser behind us does
 * not understand; a client that offers none never gets here.
 */
static int server_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
			  const unsigned char *in, unsigned int inlen, void *arg)
{
	struct tls_server *s = arg;
	struct tls_conn *t = SSL_get_app_data(ssl);
	size_t o, c;

	for (o = 0; o < s->alpn_len; o += 1 + s->alpn[o]) {
		const unsigned char *ours = s->alpn + o + 1;
		size_t ol = s->alpn[o];

		/* in is the client's list; OpenSSL checked its framing, we
		 * still never step past inlen */
		for (c = 0; c < inlen;) {
			size_t cl = in[c];

			if (cl == 0 || cl > inlen - c - 1)
				break;
			if (cl == ol && !memcmp(in + c + 1, ours, ol)) {
				*out = in + c + 1;
				*outlen = (unsigned char)cl;
				return SSL_TLSEXT_ERR_OK;
			}
			c += 1 + cl;
		}
	}
	if (t) {
		snprintf(t->why, sizeof(t->why), "client offered ALPN ");
		alpn_list_text(t->why, sizeof(t->why), in, inlen);
		str_add(t->why, sizeof(t->why), "", ", none of which this target speaks (");
		alpn_list_text(t->why, sizeof(t->why), s->alpn, s->alpn_len);
		str_add(t->why, sizeof(t->why), "", ")");
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/*
 * A second handshake after the first is a renegotiation. OpenSSL already
 * declines it (SSL_OP_NO_RENEGOTIATION: a no_renegotiation warning), but a
 * peer that asks is misbehaving and would keep the session in limbo, so we
 * end the session. TLS 1.3 has no renegotiation and reports post-handshake
 * messages (tickets, KeyUpdate) the same way, hence the version check.
 */
static void info_cb(const SSL *ssl, int where, int ret)
{
	struct tls_conn *t = SSL_get_app_data(ssl);

	(void)ret;
	if (t && (where & SSL_CB_HANDSHAKE_START) && t->done && SSL_version(ssl) < TLS1_3_VERSION)
		t->reneg = 1;
}

/* Check an ALPN wire-format list: non-empty ids, exact framing. */
static int alpn_valid(const unsigned char *p, size_t len)
{
	size_t off = 0;

	if (len == 0 || len > 65535)
		return 0;
	while (off < len) {
		if (p[off] == 0 || p[off] > len - off - 1)
			return 0;
		off += 1 + p[off];
	}
	return 1;
}

static void server_put(struct tls_server *s)
{
	size_t i;

	if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (i = 0; i < s->n; i++)
		SSL_CTX_free(s->ctx[i]);
	free(s->ctx);
	free(s->alpn);
	free(s);
}

struct tls_server *tls_server_new(const struct tls_cert_spec *certs, size_t n,
				  const unsigned char *alpn, size_t alpn_len, char *err,
				  size_t errlen)
{
	struct tls_server *s = NULL;
	char what[32];
	int ret = -EINVAL;
	size_t i;

	if (errlen)
		err[0] = '\0';
	ERR_clear_error();
	if (!certs || n == 0) {
		snprintf(err, errlen, "no certificate to present");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!certs[i].cert || !certs[i].key) {
			snprintf(err, errlen, "certs[%zu]: both a certificate and a key are needed",
				 i);
			goto out;
		}
	}
	if (alpn && !alpn_valid(alpn, alpn_len)) {
		snprintf(err, errlen, "alpn: not a wire-format protocol list");
		goto out;
	}

	ret = -ENOMEM;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto out;
	s->refs = 1;
	s->ctx = calloc(n, sizeof(*s->ctx));
	if (!s->ctx)
		goto out;
	if (alpn) {
		s->alpn = malloc(alpn_len);
		if (!s->alpn)
			goto out;
		memcpy(s->alpn, alpn, alpn_len);
		s->alpn_len = alpn_len;
	}

	/* One SSL_CTX per certificate: SNI selection is then a single
	 * SSL_set_SSL_CTX, and each context is complete on its own. */
	for (i = 0; i < n; i++) {
		SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

		ret = -ENOMEM;
		if (!ctx) {
			snprintf(err, errlen, "SSL_CTX_new: ");
			drain_errors(err, errlen);
			goto out;
		}
		s->ctx[i] = ctx;
		s->n = i + 1;
		ret = -EINVAL;
		if (ctx_common(ctx) || !SSL_CTX_set_cipher_list(ctx, SERVER_CIPHERS12)) {
			snprintf(err, errlen, "certs[%zu]: context setup: ", i);
			drain_errors(err, errlen);
			goto out;
		}
		/*
		 * Stateless tickets only: a per-context session cache is state
		 * shared by every worker thread that grows with the number of
		 * clients, and resumption works as well without it.
		 */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		snprintf(what, sizeof(what), "certs[%zu]", i);
		ret = ctx_load_pair(ctx, certs[i].cert, certs[i].key, what, err, errlen);
		if (ret)
			goto out;
		/* Set on every context: after SSL_set_SSL_CTX OpenSSL asks the
		 * selected one for ALPN. */
		SSL_CTX_set_tlsext_servername_callback(ctx, server_sni_cb);
		SSL_CTX_set_tlsext_servername_arg(ctx, s);
		if (s->alpn)
			SSL_CTX_set_alpn_select_cb(ctx, server_alpn_cb, s);
	}
	ret = 0;
out:
	ERR_clear_error();
	if (ret) {
		server_put(s);
		errno = -ret;
		return NULL;
	}
	return s;
}

void tls_server_free(struct tls_server *s)
{
	server_put(s);
}

int tls_server_verify_clients(struct tls_server *s, const char *ca_file, int required,
			      char *err, size_t errlen)
{
	int mode = SSL_VERIFY_PEER | (required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
	static const unsigned char sid_ctx[] = "sluice";

	if (errlen)
		err[0] = '\0';
	ERR_clear_error();
	/* every context: SNI may switch the handshake to any of them */
	for (size_t i = 0; i < s->n; i++) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca_file);

		if (!names || !SSL_CTX_load_verify_locations(s->ctx[i], ca_file, NULL)) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			snprintf(err, errlen, "client CA %s: ", ca_file);
			drain_errors(err, errlen);
			return -EINVAL;
		}
		SSL_CTX_set_client_CA_list(s->ctx[i], names);
		SSL_CTX_set_verify(s->ctx[i], mode, NULL);
		SSL_CTX_set_verify_depth(s->ctx[i], 8);
		/* a verifying server's tickets must name their context */
		SSL_CTX_set_session_id_context(s->ctx[i], sid_ctx, sizeof(sid_ctx) - 1);
	}
	return 0;
}

X509 *tls_peer_cert(const struct tls_conn *t)
{
	if (!t || !tls_done(t) || SSL_get_verify_result(t->ssl) != X509_V_OK)
		return NULL;
	return SSL_get0_peer_certificate(t->ssl);
}

struct tls_client *tls_client_new(const char *ca, const char *cert, const char *key, char *err,
				  size_t errlen)
{
	struct tls_client *c = NULL;
	int ret = -EINVAL;

	if (errlen)
		err[0] = '\0';
	ERR_clear_error();
	if (!ca) {
		snprintf(err, errlen, "a CA to verify the upstream against is required");
		goto out;
	}
	if (!cert != !key) {
		snprintf(err, errlen, "client certificate and key go together (%s given alone)",
			 cert ? "certificate" : "key");
		goto out;
	}
	ret = -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto out;
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx) {
		snprintf(err, errlen, "SSL_CTX_new: ");
		drain_errors(err, errlen);
		goto out;
	}
	ret = -EINVAL;
	if (ctx_common(c->ctx)) {
		snprintf(err, errlen, "context setup: ");
		drain_errors(err, errlen);
		goto out;
	}
	/* There is no unverified mode: a failed check fails the handshake. */
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(c->ctx, ca, NULL) != 1) {
		snprintf(err, errlen, "ca (%s): ", ca);
		if (!drain_errors(err, errlen))
			str_add(err, errlen, "", "no certificate in it");
		goto out;
	}
	if (cert) {
		ret = ctx_load_pair(c->ctx, cert, key, "client certificate", err, errlen);
		if (ret)
			goto out;
	}
	ret = 0;
out:
	ERR_clear_error();
	if (ret) {
		tls_client_free(c);
		errno = -ret;
		return NULL;
	}
	return c;
}

void tls_client_free(struct tls_client *c)
{
	if (!c)
		return;
	/* Sessions made from it hold their own reference to the context. */
	SSL_CTX_free(c->ctx);
	free(c);
}

/* A session on ctx with its two memory BIOs. Returns NULL, errno set. */
static struct tls_conn *conn_new(SSL_CTX *ctx)
{
	struct tls_conn *t;

	ERR_clear_error();
	t = calloc(1, sizeof(*t));
	if (!t)
		goto fail;
	t->ssl = SSL_new(ctx);
	t->rbio = BIO_new(BIO_s_mem());
	t->wbio = BIO_new(BIO_s_mem());
	if (!t->ssl || !t->rbio || !t->wbio)
		goto fail;
	/* An empty read BIO means "more is coming", until tls_feed() is told
	 * of EOF. */
	BIO_set_mem_eof_return(t->rbio, -1);
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
	SSL_set_app_data(t->ssl, t);
	SSL_set_info_callback(t->ssl, info_cb);
	return t;
fail:
	ERR_clear_error();
	if (t) {
		SSL_free(t->ssl);
		BIO_free(t->rbio);
		BIO_free(t->wbio);
		free(t);
	}
	errno = ENOMEM;
	return NULL;
}

struct tls_conn *tls_conn_server(struct tls_server *s)
{
	struct tls_conn *t;

	if (!s) {
		errno = EINVAL;
		return NULL;
	}
	t = conn_new(s->ctx[0]);
	if (!t)
		return NULL;
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	t->srv = s;
	SSL_set_accept_state(t->ssl);
	return t;
}

struct tls_conn *tls_conn_client(struct tls_client *c, const char *host)
{
	unsigned char addr[16];
	struct tls_conn *t;
	int ok;

	if (!c || !host || !*host) {
		errno = EINVAL;
		return NULL;
	}
	t = conn_new(c->ctx);
	if (!t)
		return NULL;
	SSL_set_connect_state(t->ssl);
	if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1) {
		/* An address literal: IP SAN check, and no SNI (RFC 6066 §3). */
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host);
	} else {
		SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		ok = SSL_set1_host(t->ssl, host) && SSL_set_tlsext_host_name(t->ssl, host);
	}
	ERR_clear_error();
	if (!ok) {
		tls_conn_free(t);
		errno = EINVAL;	/* e.g. a name with a NUL or too long for SNI */
		return NULL;
	}
	return t;
}

void tls_conn_free(struct tls_conn *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);	/* frees both BIOs */
	server_put(t->srv);
	free(t);
}

/*
 * The session failed at stage: build the message (our reason, the
 * certificate verdict, then OpenSSL's queue, which this empties) and make
 * it stick. Any alert OpenSSL queued is in the write BIO for the caller to
 * send before closing.
 */
static ssize_t conn_fail(struct tls_conn *t, const char *stage, const char *extra)
{
	char body[TLS_ERR_LEN - 32] = "";
	char v[160];
	long vr;

	if (t->why[0])
		str_add(body, sizeof(body), "; ", t->why);
	if (extra)
		str_add(body, sizeof(body), "; ", extra);
	if (!SSL_is_server(t->ssl) && !t->done) {
		vr = SSL_get_verify_result(t->ssl);
		if (vr != X509_V_OK) {
			snprintf(v, sizeof(v), "upstream certificate: %s",
				 X509_verify_cert_error_string(vr));
			str_add(body, sizeof(body), "; ", v);
		}
	}
	drain_errors(body, sizeof(body));
	if (!body[0])
		str_add(body, sizeof(body), "", "failed without an OpenSSL error");
	snprintf(t->err, sizeof(t->err), "%s: %s", stage, body);
	t->failed = 1;
	return -EPROTO;
}

/* Map an SSL_* return r at stage to -EAGAIN, 0 or -EPROTO. */
static ssize_t conn_result(struct tls_conn *t, int r, const char *stage)
{
	switch (SSL_get_error(t->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:	/* memory BIOs never push back; be safe */
		ERR_clear_error();
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return 0;
	case SSL_ERROR_SYSCALL:
		/* Memory BIOs make no system calls: this is EOF as tls_feed()
		 * was told of it, with no close_notify. */
		return conn_fail(t, stage, ERR_peek_error() ? NULL : "peer closed without close_notify");
	default:
		return conn_fail(t, stage, NULL);
	}
}

/*
 * The read BIO is bounded (TLS_FEED_MAX): -ENOBUFS means "stop reading the
 * socket until tls_read() has drained". len == 0 is end of stream: what is
 * fed before it is still decrypted, then the session ends -EPROTO unless a
 * close_notify came first (a truncation is not a clean close).
 */
ssize_t tls_feed(struct tls_conn *t, const void *buf, size_t len)
{
	int n;

	if (!t)
		return -EINVAL;
	if (t->failed)
		return -EPROTO;
	if (len == 0) {
		BIO_set_mem_eof_return(t->rbio, 0);
		return 0;
	}
	if (len > INT_MAX)
		return -EINVAL;
	if (BIO_ctrl_pending(t->rbio) >= TLS_FEED_MAX)
		return -ENOBUFS;
	ERR_clear_error();
	n = BIO_write(t->rbio, buf, (int)len);
	ERR_clear_error();
	if (n <= 0)
		return -ENOMEM;
	return n;
}

/* The handshake just completed: keep what the session will be asked for. */
static void conn_established(struct tls_conn *t)
{
	const unsigned char *p = NULL;
	unsigned int pl = 0;

	t->done = 1;
	SSL_get0_alpn_selected(t->ssl, &p, &pl);
	if (p && pl)
		copy_printable(t->alpn, sizeof(t->alpn), p, pl, 255);
}

ssize_t tls_read(struct tls_conn *t, void *out, size_t len)
{
	size_t got = 0;
	int r;

	if (!t || !out || len == 0)
		return -EINVAL;
	if (t->failed)
		return -EPROTO;
	if (!t->done) {
		ERR_clear_error();
		r = SSL_do_handshake(t->ssl);
		if (r != 1)
			return conn_result(t, r, "handshake");
		conn_established(t);
	}
	ERR_clear_error();
	r = SSL_read_ex(t->ssl, out, len, &got);
	if (t->reneg) {
		ERR_clear_error();
		return conn_fail(t, "read",
				 SSL_is_server(t->ssl) ? "client attempted renegotiation; refused"
						       : "upstream attempted renegotiation; refused");
	}
	if (r == 1)
		return (ssize_t)got;
	return conn_result(t, r, "read");
}

ssize_t tls_write(struct tls_conn *t, const void *buf, size_t len)
{
	size_t put = 0;
	int r;

	if (!t || (!buf && len))
		return -EINVAL;
	if (t->failed)
		return -EPROTO;
	if (!t->done)
		return -EAGAIN;
	if (len == 0)
		return 0;
	if (len > SSIZE_MAX)
		return -EINVAL;
	ERR_clear_error();
	r = SSL_write_ex(t->ssl, buf, len, &put);
	if (r == 1 && put == len) {
		ERR_clear_error();
		return (ssize_t)len;
	}
	/* With memory BIOs a write cannot be left half done, so anything but
	 * success is a failure (keeps "all or an error" true). */
	return conn_fail(t, "write", r == 1 ? "short write" : NULL);
}

size_t tls_out_pending(struct tls_conn *t)
{
	return t ? BIO_ctrl_pending(t->wbio) : 0;
}

size_t tls_out_take(struct tls_conn *t, void *buf, size_t len)
{
	int n;

	if (!t || !buf || len == 0)
		return 0;
	if (len > INT_MAX)
		len = INT_MAX;
	n = BIO_read(t->wbio, buf, (int)len);
	return n > 0 ? (size_t)n : 0;
}

void tls_shutdown(struct tls_conn *t)
{
	/* Before the handshake or after a failure there is no session to
	 * close politely: OpenSSL would only add to the error queue. */
	if (!t || !t->done || t->failed)
		return;
	ERR_clear_error();
	SSL_shutdown(t->ssl);
	ERR_clear_error();
}

int tls_done(const struct tls_conn *t)
{
	return t && t->done;
}

const char *tls_sni(const struct tls_conn *t)
{
	if (!t || !SSL_is_server(t->ssl))
		return NULL;
	return SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
}

const char *tls_version(const struct tls_conn *t)
{
	/* Before the handshake OpenSSL would name the highest version
	 * allowed, not one negotiated. */
	if (!t || !t->done)
		return NULL;
	return SSL_get_version(t->ssl);
}

const char *tls_alpn(const struct tls_conn *t)
{
	if (!t || !t->alpn[0])
		return NULL;
	return t->alpn;
}

const char *tls_error(const struct tls_conn *t)
{
	return t ? t->err : "";
}
