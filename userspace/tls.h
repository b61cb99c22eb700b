/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TLS over memory BIOs: OpenSSL never touches a socket. The connection
 * feeds it the ciphertext the ring received and takes back the ciphertext
 * to send; plaintext goes in and out through tls_read()/tls_write().
 * OpenSSL's error queue is turned into -errno plus a message here.
 */
#ifndef SLUICE_TLS_H
#define SLUICE_TLS_H

#include <stddef.h>
#include <sys/types.h>

/* One certificate the proxy presents, with its key (PEM file paths). */
struct tls_cert_spec {
	const char *cert;	/* leaf first, chain after */
	const char *key;
};

struct tls_server;	/* per target: the certificates it presents */
struct tls_client;	/* per target: how it talks to its upstream */
struct tls_conn;	/* one TLS session, either side */

/*
 * A server context presenting certs[0..n-1]. The certificate is chosen by
 * the client's SNI among those whose names (SAN, else CN) match it; a
 * client without SNI (connecting by address) gets certs[0]; an SNI that
 * no certificate carries is refused (unrecognized_name alert). TLS 1.2 and
 * 1.3 only, no renegotiation, ALPN from alpn (wire format, may be NULL,
 * e.g. "\x08http/1.1"): a client offering only other protocols is
 * refused. Returns NULL with errno set and a message in err. Caller frees
 * with tls_server_free().
 */
struct tls_server *tls_server_new(const struct tls_cert_spec *certs, size_t n,
				  const unsigned char *alpn, size_t alpn_len,
				  char *err, size_t errlen);
void tls_server_free(struct tls_server *s);

/*
 * Ask clients of s for a certificate and verify it against the CAs in
 * ca_file (PEM), before any session is made from s. required: a client
 * without one is refused in the handshake; otherwise it may go on
 * without (and one that fails verification is still refused). Returns 0,
 * or -EINVAL with a message in err.
 */
int tls_server_verify_clients(struct tls_server *s, const char *ca_file, int required,
			      char *err, size_t errlen);

/*
 * A client context verifying the upstream against ca (PEM file, required:
 * there is no unverified mode) and presenting the held client certificate
 * cert/key when given (NULL: none). Same ownership and errors.
 */
struct tls_client *tls_client_new(const char *ca, const char *cert,
				  const char *key, char *err, size_t errlen);
void tls_client_free(struct tls_client *c);

/* A server-side session. Returns NULL, errno set. Free with tls_conn_free(). */
struct tls_conn *tls_conn_server(struct tls_server *s);

/*
 * A client-side session checking the upstream's certificate for host
 * (a DNS name or an IP address literal, checked against SAN); sni is sent
 * when it is a DNS name. Returns NULL, errno set.
 */
struct tls_conn *tls_conn_client(struct tls_client *c, const char *host);

void tls_conn_free(struct tls_conn *t);

/*
 * Hand received ciphertext to the session. Returns bytes taken (all of
 * them) or -errno; -ENOBUFS when 256 KiB of ciphertext already wait
 * unread (stop reading the socket until tls_read() drains). len == 0 marks
 * the end of the stream: what was fed is still decrypted, then the session
 * fails unless a close_notify came first.
 */
ssize_t tls_feed(struct tls_conn *t, const void *buf, size_t len);

/*
 * Advance the handshake and decrypt. Returns plaintext bytes written to
 * out (> 0); 0 when the peer closed cleanly (close_notify); -EAGAIN when
 * more ciphertext is needed (or there is ciphertext to send first: see
 * tls_out_pending()); -EPROTO on a TLS failure (message via tls_error()).
 */
ssize_t tls_read(struct tls_conn *t, void *out, size_t len);

/* Encrypt len bytes (all or an error). Returns len, -EAGAIN before the
 * handshake is done, or -EPROTO. */
ssize_t tls_write(struct tls_conn *t, const void *buf, size_t len);

/* Ciphertext waiting to be sent, and taking it: returns bytes copied. */
size_t tls_out_pending(struct tls_conn *t);
size_t tls_out_take(struct tls_conn *t, void *buf, size_t len);

/* Queue a close_notify (then send what tls_out_pending() says). */
void tls_shutdown(struct tls_conn *t);

/* 1 once the handshake has completed. */
int tls_done(const struct tls_conn *t);

/* The SNI the client sent (server side; NULL if none), the negotiated
 * protocol version text ("TLSv1.3"), ALPN (NULL if none). Borrowed. */
const char *tls_sni(const struct tls_conn *t);
const char *tls_version(const struct tls_conn *t);
const char *tls_alpn(const struct tls_conn *t);

/* The peer's certificate once the handshake is done and it verified
 * (borrowed, lives as long as t), or NULL. */
struct x509_st *tls_peer_cert(const struct tls_conn *t);

/* What went wrong last, in OpenSSL's words plus ours; borrowed. */
const char *tls_error(const struct tls_conn *t);

#endif
