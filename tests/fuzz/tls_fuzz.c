// SPDX-License-Identifier: BSD-2-Clause
/*
 * Fuzz target for userspace/tls.c: hostile bytes from the network into a
 * session, the way the ring hands them over.
 *
 * Input: one control byte, then the bytes "received".
 *   bit 0 of the control byte: 0 = a server session (the agent side: the
 *     bytes are a ClientHello and what follows), 1 = a client session to
 *     "api.test" (the upstream side: the bytes answer our ClientHello);
 *   bits 1-7: feed size (0 = all at once, else that many bytes per
 *     tls_feed(), with a tls_read() between feeds, as a fragmenting
 *     network would deliver them).
 * EOF is fed at the end, so truncation paths run too.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *	-Iuserspace tests/fuzz/tls_fuzz.c userspace/tls.c -lssl -lcrypto \
 *	-o build/tls_fuzz && build/tls_fuzz tests/fuzz/corpus/tls
 *
 * Linked with tests/fuzz/replay.c instead of -fsanitize=fuzzer, it runs
 * each file named on the command line once: the seed corpus as a
 * regression test.
 */
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls.h"

static char dir[64];
static struct tls_server *server;
static struct tls_client *client;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	tls_server_free(server);
	tls_client_free(client);
	if (dir[0])
		nftw(dir, rm_one, 4, FTW_DEPTH | FTW_PHYS);
}

/* A self-signed P-256 certificate for api.test into dir/cert.pem, key.pem. */
static int mint(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509V3_CTX v;
	X509_EXTENSION *e;
	char path[128];
	FILE *f;
	int ret = -1;

	if (!key || !x)
		goto out;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400 * 365);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"api.test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509V3_set_ctx(&v, x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v, NID_subject_alt_name, "DNS:api.test");
	if (!e)
		goto out;
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	if (!X509_sign(x, key, EVP_sha256()))
		goto out;
	snprintf(path, sizeof(path), "%s/cert.pem", dir);
	f = fopen(path, "w");
	if (!f)
		goto out;
	PEM_write_X509(f, x);
	fclose(f);
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	f = fopen(path, "w");
	if (!f)
		goto out;
	PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	ret = 0;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return ret;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const unsigned char alpn[] = "\x02h2\x08http/1.1";
	char cert[128], key[128], err[512];
	struct tls_cert_spec spec;

	(void)argc;
	(void)argv;
	strcpy(dir, "/tmp/sluice-tls-fuzz-XXXXXX");
	if (!mkdtemp(dir) || mint()) {
		fprintf(stderr, "tls_fuzz: cannot make a certificate\n");
		exit(1);
	}
	atexit(cleanup);
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	spec.cert = cert;
	spec.key = key;
	server = tls_server_new(&spec, 1, alpn, sizeof(alpn) - 1, err, sizeof(err));
	client = tls_client_new(cert, NULL, NULL, err, sizeof(err));
	if (!server || !client) {
		fprintf(stderr, "tls_fuzz: %s\n", err);
		exit(1);
	}
	return 0;
}

/* Read until tls_read() has nothing more to say; take whatever it sends. */
static int step(struct tls_conn *t)
{
	unsigned char out[4096];
	ssize_t r;

	do {
		r = tls_read(t, out, sizeof(out));
	} while (r > 0);
	while (tls_out_take(t, out, sizeof(out)) > 0)
		;
	if (r == -EAGAIN || r == -EPROTO || r == 0) {
		if (r == -EPROTO && !tls_error(t)[0])
			abort();	/* a failure must say why */
		return r == -EAGAIN ? 0 : 1;
	}
	abort();	/* no other result is in the contract */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_conn *t;
	size_t chunk, off = 0, n;
	ssize_t f;

	if (size < 1)
		return 0;
	t = (data[0] & 1) ? tls_conn_client(client, "api.test") : tls_conn_server(server);
	if (!t)
		return 0;
	chunk = data[0] >> 1;
	data++;
	size--;
	if (data[-1] & 1)
		step(t);	/* the client speaks first: its ClientHello */
	while (off < size) {
		n = chunk && size - off > chunk ? chunk : size - off;
		f = tls_feed(t, data + off, n);
		if (f == -ENOBUFS) {
			if (step(t))
				break;
			continue;
		}
		if (f < 0)
			break;
		off += (size_t)f;
		if (step(t))
			break;
	}
	if (tls_feed(t, NULL, 0) == 0)
		step(t);
	if (tls_done(t)) {
		tls_write(t, "x", 1);
		tls_shutdown(t);
	}
	/* the library's promise: nothing left on this thread's error queue */
	if (ERR_peek_error())
		abort();
	tls_conn_free(t);
	return 0;
}
