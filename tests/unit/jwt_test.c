// SPDX-License-Identifier: BSD-2-Clause
/*
 * userspace/jwt.c: JWT bearer tokens and client certificates.
 *
 * Every key is generated here (RSA 2048, EC P-256, lazily, per test
 * process) and every token signed here by the test's own minimal signer
 * (OpenSSL directly, nothing shared with jwt.c), so a bug in the verifier
 * cannot be mirrored by the signer. Key files (PEM, JWKS) and certificates
 * go into a fresh temporary directory per test. Time is fixed: NOW is
 * 2026-01-01T00:00:00Z and every token is checked at NOW unless a test
 * says otherwise.
 */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "jwt.h"

#define NOW 1767225600ULL /* 2026-01-01T00:00:00Z */
#define ISS "https://issuer.test"
#define AUD "sluice"

static char dir[64];
static char why[256];
static char err[512];
static struct jwt_verifier *ver;
static struct jwt_identity id;

/* path of a file in the test's directory (a few rotating buffers) */
static const char *P(const char *name)
{
	static char bufs[8][128];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, 128, "%s/%s", dir, name);
	return b;
}

/* ---- keys --------------------------------------------------------------- */

static EVP_PKEY *keys[4]; /* rsa 0, rsa 1, ec 0, ec 1 */

static EVP_PKEY *rsa(int i)
{
	if (!keys[i])
		keys[i] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	cr_assert_not_null(keys[i]);
	return keys[i];
}

static EVP_PKEY *ec(int i)
{
	if (!keys[2 + i])
		keys[2 + i] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	cr_assert_not_null(keys[2 + i]);
	return keys[2 + i];
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/jwt_test.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	size_t i;

	jwt_identity_clear(&id);
	jwt_verifier_free(ver);
	ver = NULL;
	for (i = 0; i < 4; i++) {
		EVP_PKEY_free(keys[i]);
		keys[i] = NULL;
	}
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(jwt, .init = setup, .fini = teardown, .timeout = 120);
TestSuite(jwtcfg, .init = setup, .fini = teardown, .timeout = 120);
TestSuite(x509id, .init = setup, .fini = teardown, .timeout = 120);

/* ---- the test's own signer ---------------------------------------------- */

static char *b64url(const unsigned char *in, size_t n)
{
	char *out = malloc(n / 3 * 4 + 8);
	size_t i, o = 0;

	cr_assert_not_null(out);
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	for (i = 0; out[i]; i++) {
		if (out[i] == '=')
			break;
		out[o++] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	}
	out[o] = '\0';
	return out;
}

static char *b64s(const char *s)
{
	return b64url((const unsigned char *)s, strlen(s));
}

/* The raw JWS signature of data by key: RS256 PKCS#1 v1.5, ES256 r||s. */
static unsigned char *raw_sign(EVP_PKEY *key, const char *data, size_t *siglen, int der)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *sig, *raw;
	const unsigned char *p;
	ECDSA_SIG *es;
	size_t n = 0;

	cr_assert(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1);
	cr_assert(EVP_DigestSign(md, NULL, &n, (const unsigned char *)data, strlen(data)) == 1);
	sig = malloc(n);
	cr_assert(EVP_DigestSign(md, sig, &n, (const unsigned char *)data, strlen(data)) == 1);
	EVP_MD_CTX_free(md);
	if (!EVP_PKEY_is_a(key, "EC") || der) {
		*siglen = n;
		return sig;
	}
	p = sig;
	es = d2i_ECDSA_SIG(NULL, &p, (long)n);
	cr_assert_not_null(es);
	raw = malloc(64);
	cr_assert(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32) == 32);
	cr_assert(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32) == 32);
	ECDSA_SIG_free(es);
	free(sig);
	*siglen = 64;
	return raw;
}

/*
 * header.claims.signature: signed by key (RS256/ES256 as the key is), or
 * HMAC-SHA256 with secret when secret is given, or an empty signature when
 * neither is. The header and claims are used exactly as given.
 */
static char *sign_ex(EVP_PKEY *key, const void *secret, size_t secretlen, const char *header,
		     const char *claims, int der)
{
	char *h = b64s(header), *c = b64s(claims), *input, *s = NULL, *tok;
	unsigned char *sig = NULL, mac[32];
	size_t siglen = 0;

	cr_assert(asprintf(&input, "%s.%s", h, c) > 0);
	if (key) {
		sig = raw_sign(key, input, &siglen, der);
		s = b64url(sig, siglen);
	} else if (secret) {
		cr_assert_not_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, secretlen,
					     (const unsigned char *)input, strlen(input), mac,
					     sizeof(mac), &siglen));
		s = b64url(mac, siglen);
	}
	cr_assert(asprintf(&tok, "%s.%s", input, s ? s : "") > 0);
	free(h);
	free(c);
	free(input);
	free(sig);
	free(s);
	return tok;
}

static char *sign(EVP_PKEY *key, const char *header, const char *claims)
{
	return sign_ex(key, NULL, 0, header, claims, 0);
}

/*
 * The standard claims (iss ISS, aud AUD, sub alice, iat NOW, exp NOW+3600)
 * with the members of the JSON object `over` set over them; a null member
 * removes the claim. Returns a new string.
 */
static char *claims(const char *over)
{
	json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", ISS, "aud", AUD, "sub", "alice",
			      "iat", (json_int_t)NOW, "exp", (json_int_t)NOW + 3600);
	const char *k;
	json_t *o, *v;
	char *s;

	cr_assert_not_null(c);
	if (over) {
		o = json_loads(over, 0, NULL);
		cr_assert_not_null(o, "bad override %s", over);
		json_object_foreach(o, k, v)
		{
			if (json_is_null(v))
				json_object_del(c, k);
			else
				json_object_set(c, k, v);
		}
		json_decref(o);
	}
	s = json_dumps(c, JSON_COMPACT);
	json_decref(c);
	return s;
}

#define HDR_RS "{\"alg\":\"RS256\",\"typ\":\"JWT\"}"
#define HDR_ES "{\"alg\":\"ES256\",\"typ\":\"JWT\"}"

/* A token signed by key with the standard claims overridden by over. */
static char *tok(EVP_PKEY *key, const char *over)
{
	char *c = claims(over);
	char *t = sign(key, EVP_PKEY_is_a(key, "EC") ? HDR_ES : HDR_RS, c);

	free(c);
	return t;
}

/* ---- key files ------------------------------------------------------------ */

/* A PEM file of the public halves of the keys given (NULL-terminated). */
static const char *write_pem(const char *name, ...)
{
	const char *path = P(name);
	FILE *f = fopen(path, "w");
	EVP_PKEY *k;
	va_list ap;

	cr_assert_not_null(f);
	va_start(ap, name);
	while ((k = va_arg(ap, EVP_PKEY *)))
		cr_assert(PEM_write_PUBKEY(f, k));
	va_end(ap);
	fclose(f);
	return path;
}

static const char *write_text(const char *name, const char *text)
{
	const char *path = P(name);
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	cr_assert(fputs(text, f) >= 0);
	fclose(f);
	return path;
}

static char *bn_b64(EVP_PKEY *k, const char *param, int pad)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	int n;

	cr_assert(EVP_PKEY_get_bn_param(k, param, &bn));
	n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	cr_assert(n > 0);
	BN_free(bn);
	return b64url(buf, (size_t)n);
}

/* A JWK for the public half of k (kid may be NULL), as a jansson object. */
static json_t *jwk(EVP_PKEY *k, const char *kid)
{
	json_t *j;
	char *a, *b;

	if (EVP_PKEY_is_a(k, "RSA")) {
		a = bn_b64(k, OSSL_PKEY_PARAM_RSA_N, 0);
		b = bn_b64(k, OSSL_PKEY_PARAM_RSA_E, 0);
		j = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", a, "e", b);
	} else {
		a = bn_b64(k, OSSL_PKEY_PARAM_EC_PUB_X, 32);
		b = bn_b64(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
		j = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", a, "y", b);
	}
	cr_assert_not_null(j);
	if (kid)
		json_object_set_new(j, "kid", json_string(kid));
	free(a);
	free(b);
	return j;
}

/* Write {"keys": [...]} (steals the JWK references). */
static const char *write_jwks(const char *name, json_t *k1, json_t *k2, json_t *k3)
{
	json_t *doc = json_pack("{s:[]}", "keys"), *arr = json_object_get(doc, "keys");
	const char *path = P(name);

	if (k1)
		json_array_append_new(arr, k1);
	if (k2)
		json_array_append_new(arr, k2);
	if (k3)
		json_array_append_new(arr, k3);
	cr_assert(json_dump_file(doc, path, JSON_INDENT(2)) == 0);
	json_decref(doc);
	return path;
}

/* A verifier with one issuer ISS whose audiences are AUD and "other-aud". */
static struct jwt_verifier *verifier(const char *keyfile)
{
	static const char *const auds[] = {AUD, "other-aud"};
	struct jwt_issuer_cfg c = {ISS, auds, 2, keyfile};
	struct jwt_verifier *v = jwt_verifier_new(&c, 1, err, sizeof(err));

	cr_assert_not_null(v, "jwt_verifier_new: %s", err);
	return v;
}

/* The Kubernetes kid of a key: base64url(SHA-256(DER SubjectPublicKeyInfo)). */
static char *k8s_kid(EVP_PKEY *k)
{
	unsigned char *der = NULL, md[32];
	unsigned int mdlen;
	int n = i2d_PUBKEY(k, &der);

	cr_assert(n > 0);
	cr_assert(EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL));
	OPENSSL_free(der);
	return b64url(md, mdlen);
}

/* Verify t at `now`; returns what jwt_verify returned. Frees t. */
static int check_at(char *t, uint64_t now)
{
	int r;

	jwt_identity_clear(&id);
	why[0] = '\0';
	r = jwt_verify(ver, t, strlen(t), now, &id, why, sizeof(why));
	free(t);
	return r;
}

static int check(char *t)
{
	return check_at(t, NOW);
}

#define assert_ok(t)                                                                               \
	do {                                                                                       \
		int r_ = check(t);                                                                 \
		cr_assert_eq(r_, 0, "refused (%d): %s", r_, why);                                  \
	} while (0)

#define assert_refused(t, text)                                                                    \
	do {                                                                                       \
		int r_ = check(t);                                                                 \
		cr_assert_eq(r_, -EACCES, "accepted or wrong error (%d), why: %s", r_, why);       \
		cr_assert_not_null(strstr(why, text), "why \"%s\" lacks \"%s\"", why, text);       \
		cr_assert_null(id.user, "identity filled on refusal");                             \
		cr_assert_null(id.claims);                                                         \
	} while (0)

/* ---- valid tokens -------------------------------------------------------- */

Test(jwt, rs256_from_pem)
{
	json_t *c;

	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	assert_ok(tok(rsa(0), NULL));
	cr_assert_eq(id.source, JWT_SRC_TOKEN);
	cr_assert_str_eq(id.user, "alice");
	cr_assert_str_eq(id.issuer, ISS);
	cr_assert_eq(id.expires, NOW + 3600);
	cr_assert_eq(id.n_groups, 0);
	cr_assert_null(id.sa_namespace);
	cr_assert_null(id.sa_name);
	cr_assert_not_null(id.claims);
	cr_assert_str_eq(json_string_value(json_object_get(id.claims, "aud")), AUD);
	/* the claims outlive the identity when the caller takes a reference */
	c = json_incref(id.claims);
	jwt_identity_clear(&id);
	cr_assert_null(id.claims);
	cr_assert_str_eq(json_string_value(json_object_get(c, "sub")), "alice");
	json_decref(c);
}

Test(jwt, es256_from_pem)
{
	ver = verifier(write_pem("k.pem", ec(0), NULL));
	assert_ok(tok(ec(0), "{\"sub\": \"bob\"}"));
	cr_assert_str_eq(id.user, "bob");
}

Test(jwt, rs256_from_jwks_with_kid)
{
	ver = verifier(write_jwks("k.json", jwk(rsa(0), "r0"), jwk(ec(0), "e0"), NULL));
	char *c = claims(NULL);
	assert_ok(sign(rsa(0), "{\"alg\":\"RS256\",\"kid\":\"r0\"}", c));
	free(c);
	cr_assert_str_eq(id.user, "alice");
}

Test(jwt, es256_from_jwks_with_kid)
{
	ver = verifier(write_jwks("k.json", jwk(rsa(0), "r0"), jwk(ec(0), "e0"), NULL));
	char *c = claims(NULL);
	assert_ok(sign(ec(0), "{\"alg\":\"ES256\",\"kid\":\"e0\"}", c));
	free(c);
	cr_assert_str_eq(id.user, "alice");
}

Test(jwt, kidless_token_tries_each_key_of_its_type)
{
	ver = verifier(
		write_jwks("k.json", jwk(rsa(0), "r0"), jwk(ec(0), "e0"), jwk(rsa(1), "r1")));
	assert_ok(tok(rsa(1), NULL));
	assert_ok(tok(rsa(0), NULL));
	assert_ok(tok(ec(0), NULL));
	assert_refused(tok(ec(1), NULL), "bad signature");
}

Test(jwt, pem_with_several_keys)
{
	ver = verifier(write_pem("k.pem", rsa(0), ec(0), rsa(1), NULL));
	assert_ok(tok(rsa(1), NULL));
	assert_ok(tok(ec(0), NULL));
	assert_refused(tok(ec(1), NULL), "bad signature");
}

Test(jwt, pem_rsa_public_key_and_certificate_blocks)
{
	OSSL_ENCODER_CTX *ectx;
	X509 *x = X509_new();
	FILE *f = fopen(P("k.pem"), "w");

	cr_assert_not_null(f);
	/* PKCS#1 "RSA PUBLIC KEY" */
	ectx = OSSL_ENCODER_CTX_new_for_pkey(rsa(0), EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific",
					     NULL);
	cr_assert_not_null(ectx);
	cr_assert(OSSL_ENCODER_to_fp(ectx, f));
	OSSL_ENCODER_CTX_free(ectx);
	/* a (self-signed) certificate carrying the EC key */
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"issuer", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	cr_assert(X509_set_pubkey(x, ec(0)));
	cr_assert(X509_sign(x, ec(0), EVP_sha256()));
	cr_assert(PEM_write_X509(f, x));
	X509_free(x);
	fclose(f);
	{
		FILE *g = fopen(P("k.pem"), "r");
		char line[128];
		int rsa_block = 0, cert_block = 0;

		while (fgets(line, sizeof(line), g)) {
			rsa_block |= !!strstr(line, "BEGIN RSA PUBLIC KEY");
			cert_block |= !!strstr(line, "BEGIN CERTIFICATE");
		}
		fclose(g);
		cr_assert(rsa_block && cert_block, "the file has both block kinds");
	}
	ver = verifier(P("k.pem"));
	assert_ok(tok(rsa(0), NULL));
	assert_ok(tok(ec(0), NULL));
}

Test(jwt, pem_key_has_the_kubernetes_kid)
{
	char *kid = k8s_kid(rsa(0)), hdr[160], *c = claims(NULL);

	ver = verifier(write_pem("sa.pub", rsa(0), NULL));
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid);
	assert_ok(sign(rsa(0), hdr, c));
	assert_refused(sign(rsa(0), "{\"alg\":\"RS256\",\"kid\":\"some-other-kid\"}", c),
		       "unknown kid \"some-other-kid\"");
	free(kid);
	free(c);
}

Test(jwt, fractional_dates_accepted)
{
	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	assert_ok(tok(rsa(0), "{\"exp\": 1767229200.75, \"iat\": 1767225599.5}"));
	cr_assert_eq(id.expires, 1767229200ULL);
}

Test(jwt, aud_array_intersecting)
{
	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	assert_ok(tok(rsa(0), "{\"aud\": [\"x\", \"y\", \"other-aud\"]}"));
	assert_ok(tok(rsa(0), "{\"aud\": \"other-aud\"}"));
}

Test(jwt, oversized_boundary)
{
	char *pad, over[JWT_MAX_TOKEN + 64], *t;
	size_t base, n;

	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	t = tok(rsa(0), "{\"pad\": \"\"}");
	base = strlen(t);
	free(t);
	/* 4 characters of token per 3 bytes of padding claim */
	n = (JWT_MAX_TOKEN - base - 4) / 4 * 3;
	pad = malloc(n + 1);
	memset(pad, 'a', n);
	pad[n] = '\0';
	snprintf(over, sizeof(over), "{\"pad\": \"%s\"}", pad);
	t = tok(rsa(0), over);
	cr_assert_leq(strlen(t), JWT_MAX_TOKEN);
	cr_assert_gt(strlen(t), JWT_MAX_TOKEN - 16);
	assert_ok(t);
	/* a few more bytes of claims and it is over */
	snprintf(over, sizeof(over), "{\"pad\": \"%s%24s\"}", pad, "");
	t = tok(rsa(0), over);
	cr_assert_gt(strlen(t), JWT_MAX_TOKEN);
	assert_refused(t, "oversized");
	free(pad);
}

Test(jwt, oversized_garbage_refused_unparsed)
{
	char *t = malloc(1 << 20);

	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	memset(t, 'A', (1 << 20) - 1);
	t[(1 << 20) - 1] = '\0';
	assert_refused(t, "oversized token: 1048575 bytes");
}

/* ---- time ------------------------------------------------------------------ */

Test(jwt, expired)
{
	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	assert_refused(tok(rsa(0), "{\"exp\": 1767225540, \"iat\": 1767222000}"),
		       "token expired at 2025-12-31T23:59:00Z");
	cr_assert_eq(check_at(tok(rsa(0), NULL), NOW + 3600 + 3600), -EACCES);
	cr_assert_not_null(strstr(why, "token expired at 2026-01-01T01:00:00Z"), "%s", why);
}

Test(jwt, exp_skew_boundary)
{
	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	/* exp = NOW + 3600: valid until exp + 59 s, refused from exp + 60 s */
	cr_assert_eq(check_at(tok(rsa(0), NULL), NOW + 3600 + JWT_SKEW_S - 1), 0, "%s", why);
	cr_assert_eq(check_at(tok(rsa(0), NULL), NOW + 3600 + JWT_SKEW_S), -EACCES);
	cr_assert_not_null(strstr(why, "expired"), "%s", why);
	cr_assert_eq(check_at(tok(rsa(0), NULL), NOW + 3600), 0, "%s", why);
}

Test(jwt, not_yet_valid)
{
	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	assert_refused(tok(rsa(0), "{\"nbf\": 1767229200, \"iat\": null}"),
		       "token not valid before 2026-01-01T01:00:00Z");
}

Test(jwt, nbf_skew_boundary)
{
	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	assert_ok(tok(rsa(0), "{\"nbf\": 1767225660}"));			  /* NOW + 60 */
	assert_refused(tok(rsa(0), "{\"nbf\": 1767225661}"), "not valid before"); /* NOW + 61 */
	assert_ok(tok(rsa(0), "{\"nbf\": 0}"));
}

Test(jwt, iat_sanity)
{
	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	assert_ok(tok(rsa(0), "{\"iat\": 1767225660}")); /* NOW + 60 */
	assert_refused(tok(rsa(0), "{\"iat\": 1767225661}"), "issued in the future");
	assert_refused(tok(rsa(0), "{\"iat\": 1767225650, \"exp\": 1767225630}"),
		       "issued after it expires");
	assert_ok(tok(rsa(0), "{\"iat\": null}"));
	assert_refused(tok(rsa(0), "{\"iat\": \"yesterday\"}"), "\"iat\" is not a date");
}

Test(jwt, exp_missing_or_not_a_date)
{
	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	assert_refused(tok(rsa(0), "{\"exp\": null}"), "no \"exp\" claim");
	assert_refused(tok(rsa(0), "{\"exp\": \"1767229200\"}"), "\"exp\" is not a date");
	assert_refused(tok(rsa(0), "{\"exp\": -5}"), "\"exp\" is not a date");
	assert_refused(tok(rsa(0), "{\"exp\": 1e300}"), "\"exp\" is not a date");
	assert_refused(tok(rsa(0), "{\"exp\": true}"), "\"exp\" is not a date");
	assert_refused(tok(rsa(0), "{\"exp\": 253402300800}"), "\"exp\" is not a date");
}

/* ---- audience, issuer, subject ----------------------------------------------- */

Test(jwt, wrong_audience_string)
{
	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	assert_refused(tok(rsa(0), "{\"aud\": \"someone-else\"}"), "audience mismatch");
	/* exact comparison: no prefix, no case folding */
	assert_refused(tok(rsa(0), "{\"aud\": \"sluic\"}"), "audience mismatch");
	assert_refused(tok(rsa(0), "{\"aud\": \"SLUICE\"}"), "audience mismatch");
}

Test(jwt, wrong_audience_array)
{
	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	assert_refused(tok(rsa(0), "{\"aud\": [\"a\", \"b\"]}"), "audience mismatch");
	assert_refused(tok(rsa(0), "{\"aud\": []}"), "audience mismatch");
	assert_refused(tok(rsa(0), "{\"aud\": [\"sluice\", 7]}"), "\"aud\"[1] is not a string");
	assert_refused(tok(rsa(0), "{\"aud\": 1}"), "neither a string nor an array");
	assert_refused(tok(rsa(0), "{\"aud\": null}"), "no \"aud\" claim");
}

Test(jwt, wrong_issuer)
{
	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	assert_refused(tok(rsa(0), "{\"iss\": \"https://evil.test\"}"),
		       "unknown issuer \"https://evil.test\"");
	assert_refused(tok(rsa(0), "{\"iss\": \"https://issuer.test/\"}"), "unknown issuer");
	assert_refused(tok(rsa(0), "{\"iss\": null}"), "no \"iss\" claim");
	assert_refused(tok(rsa(0), "{\"iss\": 42}"), "no \"iss\" claim");
}

Test(jwt, key_of_another_issuer_does_not_verify)
{
	static const char *const auds[] = {AUD};
	struct jwt_issuer_cfg c[2] = {
		{ISS, auds, 1, write_pem("a.pem", rsa(0), NULL)},
		{"https://other.test", auds, 1, write_pem("b.pem", rsa(1), NULL)},
	};

	ver = jwt_verifier_new(c, 2, err, sizeof(err));
	cr_assert_not_null(ver, "%s", err);
	assert_ok(tok(rsa(1), "{\"iss\": \"https://other.test\"}"));
	cr_assert_str_eq(id.issuer, "https://other.test");
	/* the other issuer's key signing in ISS's name */
	assert_refused(tok(rsa(1), NULL), "bad signature");
}

Test(jwt, sub_required)
{
	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	assert_refused(tok(rsa(0), "{\"sub\": null}"), "no \"sub\" claim");
	assert_refused(tok(rsa(0), "{\"sub\": \"\"}"), "no \"sub\" claim");
	assert_refused(tok(rsa(0), "{\"sub\": [\"alice\"]}"), "no \"sub\" claim");
}

Test(jwt, groups_claim)
{
	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	assert_ok(tok(rsa(0), "{\"groups\": [\"devs\", \"ops\", \"devs\"]}"));
	cr_assert_eq(id.n_groups, 2);
	cr_assert_str_eq(id.groups[0], "devs");
	cr_assert_str_eq(id.groups[1], "ops");
	assert_refused(tok(rsa(0), "{\"groups\": \"devs\"}"), "\"groups\" is not an array");
	assert_refused(tok(rsa(0), "{\"groups\": [\"devs\", 1]}"), "\"groups\"[1]");
	assert_refused(tok(rsa(0), "{\"groups\": [\"\"]}"), "\"groups\"[0]");
}

Test(jwt, kubernetes_service_account_token)
{
	char *kid = k8s_kid(rsa(0)), hdr[160], *c;
	static const char *const auds[] = {"https://kubernetes.default.svc"};
	struct jwt_issuer_cfg cfg = {"https://kubernetes.default.svc", auds, 1,
				     write_pem("sa.pub", rsa(0), NULL)};
	static const char *const want[] = {"system:serviceaccounts",
					   "system:serviceaccounts:agents", "system:authenticated"};
	size_t i;

	ver = jwt_verifier_new(&cfg, 1, err, sizeof(err));
	cr_assert_not_null(ver, "%s", err);
	/* the shape a projected service-account token has */
	c = claims("{\"iss\": \"https://kubernetes.default.svc\","
		   " \"aud\": [\"https://kubernetes.default.svc\"],"
		   " \"sub\": \"system:serviceaccount:agents:agent\","
		   " \"nbf\": 1767225600,"
		   " \"kubernetes.io\": {\"namespace\": \"agents\","
		   "   \"pod\": {\"name\": \"agent-0\", \"uid\": \"6f1c\"},"
		   "   \"serviceaccount\": {\"name\": \"agent\", \"uid\": \"a1b2\"}}}");
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid);
	assert_ok(sign(rsa(0), hdr, c));
	free(c);
	free(kid);
	cr_assert_str_eq(id.user, "system:serviceaccount:agents:agent");
	cr_assert_str_eq(id.sa_namespace, "agents");
	cr_assert_str_eq(id.sa_name, "agent");
	cr_assert_eq(id.n_groups, 3);
	for (i = 0; i < 3; i++)
		cr_assert_str_eq(id.groups[i], want[i]);
	cr_assert_str_eq(
		json_string_value(json_object_get(
			json_object_get(json_object_get(id.claims, "kubernetes.io"), "pod"),
			"name")),
		"agent-0");
}

Test(jwt, service_account_groups_follow_the_groups_claim)
{
	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	assert_ok(tok(rsa(0), "{\"sub\": \"system:serviceaccount:ns1:sa\","
			      " \"groups\": [\"extra\", \"system:authenticated\"]}"));
	cr_assert_eq(id.n_groups, 4);
	cr_assert_str_eq(id.groups[0], "extra");
	cr_assert_str_eq(id.groups[1], "system:authenticated");
	cr_assert_str_eq(id.groups[2], "system:serviceaccounts");
	cr_assert_str_eq(id.groups[3], "system:serviceaccounts:ns1");
}

Test(jwt, malformed_service_account_subject)
{
	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	assert_refused(tok(rsa(0), "{\"sub\": \"system:serviceaccount:agents\"}"),
		       "malformed service-account subject");
	assert_refused(tok(rsa(0), "{\"sub\": \"system:serviceaccount::agent\"}"),
		       "malformed service-account subject");
	assert_refused(tok(rsa(0), "{\"sub\": \"system:serviceaccount:a:b:c\"}"),
		       "malformed service-account subject");
	assert_refused(tok(rsa(0), "{\"sub\": \"system:serviceaccount:agents:\"}"),
		       "malformed service-account subject");
	/* not the prefix: an ordinary user, no service-account groups */
	assert_ok(tok(rsa(0), "{\"sub\": \"system:serviceaccounts:agents:agent\"}"));
	cr_assert_null(id.sa_namespace);
	cr_assert_eq(id.n_groups, 0);
}

/* ---- signatures and algorithms ------------------------------------------------ */

Test(jwt, wrong_key)
{
	ver = verifier(write_pem("k.pem", rsa(0), ec(0), NULL));
	assert_refused(tok(rsa(1), NULL), "bad signature");
	assert_refused(tok(ec(1), NULL), "bad signature");
}

Test(jwt, tampered_claims)
{
	char *good, *forged, *c, *dot1, *dot2, *b;

	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	good = tok(rsa(0), NULL);
	/* keep header and signature, swap in other claims */
	c = claims("{\"sub\": \"admin\"}");
	b = b64s(c);
	dot1 = strchr(good, '.');
	dot2 = strchr(dot1 + 1, '.');
	*dot1 = '\0';
	cr_assert(asprintf(&forged, "%s.%s%s", good, b, dot2) > 0);
	assert_refused(forged, "bad signature");
	free(good);
	free(c);
	free(b);
}

Test(jwt, alg_none_refused)
{
	char *c = claims(NULL), *h = b64s("{\"alg\":\"none\"}"), *b = b64s(c), *t;

	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	/* with an empty signature part */
	assert_refused(sign_ex(NULL, NULL, 0, "{\"alg\":\"none\"}", c, 0), "alg none refused");
	/* without a signature part at all */
	cr_assert(asprintf(&t, "%s.%s", h, b) > 0);
	assert_refused(t, "alg none refused");
	/* with a signature that is a real RS256 one */
	assert_refused(sign(rsa(0), "{\"alg\":\"none\"}", c), "alg none refused");
	assert_refused(sign_ex(NULL, NULL, 0, "{\"alg\":\"None\"}", c, 0), "alg none refused");
	assert_refused(sign_ex(NULL, NULL, 0, "{\"alg\":\"NONE\"}", c, 0), "alg none refused");
	free(c);
	free(h);
	free(b);
}

Test(jwt, hs256_with_public_key_as_secret)
{
	char *c = claims(NULL), *pem;
	BIO *mem = BIO_new(BIO_s_mem());
	long n;
	char hdr[160], *kid = k8s_kid(rsa(0));

	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	cr_assert(PEM_write_bio_PUBKEY(mem, rsa(0)));
	n = BIO_get_mem_data(mem, &pem);
	/* the classic confusion: the verifier's own public key bytes as the HMAC secret */
	assert_refused(sign_ex(NULL, pem, (size_t)n, "{\"alg\":\"HS256\"}", c, 0),
		       "HMAC alg HS256 refused");
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"HS256\",\"kid\":\"%s\"}", kid);
	assert_refused(sign_ex(NULL, pem, (size_t)n, hdr, c, 0), "HMAC alg HS256 refused");
	assert_refused(sign_ex(NULL, pem, (size_t)n, "{\"alg\":\"HS512\"}", c, 0),
		       "HMAC alg HS512 refused");
	BIO_free(mem);
	free(kid);
	free(c);
}

Test(jwt, other_algs_refused)
{
	static const char *const hdrs[] = {
		"{\"alg\":\"RS512\"}", "{\"alg\":\"PS256\"}", "{\"alg\":\"ES384\"}",
		"{\"alg\":\"EdDSA\"}", "{\"alg\":\"rs256\"}", "{\"alg\":\"RS256 \"}",
	};
	char *c = claims(NULL);
	size_t i;

	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++)
		assert_refused(sign(rsa(0), hdrs[i], c), "not accepted (RS256, ES256 only)");
	assert_refused(sign(rsa(0), "{\"typ\":\"JWT\"}", c), "no \"alg\"");
	assert_refused(sign(rsa(0), "{\"alg\":256}", c), "no \"alg\"");
	free(c);
}

Test(jwt, alg_key_type_mismatch)
{
	char *c = claims(NULL);

	ver = verifier(write_jwks("k.json", jwk(rsa(0), "r0"), NULL, NULL));
	/* ES256 header naming the RSA key */
	assert_refused(sign(rsa(0), "{\"alg\":\"ES256\",\"kid\":\"r0\"}", c),
		       "alg ES256 does not fit key \"r0\" (RSA)");
	/* ES256 header, no kid: the issuer has no EC key */
	assert_refused(sign(rsa(0), "{\"alg\":\"ES256\"}", c), "no EC key for alg ES256");
	/* and the other way round */
	jwt_verifier_free(ver);
	ver = verifier(write_jwks("e.json", jwk(ec(0), "e0"), NULL, NULL));
	assert_refused(sign(ec(0), "{\"alg\":\"RS256\",\"kid\":\"e0\"}", c),
		       "alg RS256 does not fit key \"e0\" (EC)");
	assert_refused(sign(ec(0), "{\"alg\":\"RS256\"}", c), "no RSA key for alg RS256");
	free(c);
}

Test(jwt, unknown_kid)
{
	char *c = claims(NULL);

	ver = verifier(write_jwks("k.json", jwk(rsa(0), "r0"), NULL, NULL));
	assert_refused(sign(rsa(0), "{\"alg\":\"RS256\",\"kid\":\"x\"}", c), "unknown kid \"x\"");
	/* a hostile kid is quoted tamely */
	assert_refused(sign(rsa(0), "{\"alg\":\"RS256\",\"kid\":\"a\\\"b\\n\"}", c),
		       "unknown kid \"a?b?\"");
	assert_refused(sign(rsa(0), "{\"alg\":\"RS256\",\"kid\":7}", c), "\"kid\" is not a string");
	/* a kid-less JWKS key does not answer to a kid */
	jwt_verifier_free(ver);
	ver = verifier(write_jwks("n.json", jwk(rsa(0), NULL), NULL, NULL));
	assert_refused(sign(rsa(0), "{\"alg\":\"RS256\",\"kid\":\"r0\"}", c), "unknown kid");
	assert_ok(sign(rsa(0), "{\"alg\":\"RS256\"}", c));
	free(c);
}

Test(jwt, kid_names_the_key_not_just_any_key)
{
	char *c = claims(NULL);

	ver = verifier(write_jwks("k.json", jwk(rsa(0), "r0"), jwk(rsa(1), "r1"), NULL));
	/* signed by r1 but claiming r0: no fallback to the other keys */
	assert_refused(sign(rsa(1), "{\"alg\":\"RS256\",\"kid\":\"r0\"}", c), "bad signature");
	assert_ok(sign(rsa(1), "{\"alg\":\"RS256\",\"kid\":\"r1\"}", c));
	free(c);
}

Test(jwt, es256_signature_must_be_raw_64_bytes)
{
	char *c = claims(NULL), *good, *t;
	size_t n;

	ver = verifier(write_pem("k.pem", ec(0), NULL));
	/* a DER signature (what OpenSSL produces) is not JWS */
	assert_refused(sign_ex(ec(0), NULL, 0, HDR_ES, c, 1), "bad signature");
	free(c);
	/* short and long raw signatures: refused, nothing read past them */
	good = tok(ec(0), NULL);
	n = strlen(good);
	cr_assert(asprintf(&t, "%.*s", (int)(n - 22), good) > 0); /* 48 bytes */
	assert_refused(t, "bad signature");
	cr_assert(asprintf(&t, "%sAAAA", good) > 0); /* 67 bytes */
	assert_refused(t, "bad signature");
	assert_ok(good);
}

Test(jwt, crit_header_refused)
{
	char *c = claims(NULL);

	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	assert_refused(sign(rsa(0), "{\"alg\":\"RS256\",\"crit\":[\"b64\"],\"b64\":false}", c),
		       "\"crit\"");
	free(c);
}

/* ---- malformed tokens ------------------------------------------------------- */

Test(jwt, truncated_anywhere)
{
	char *good, *t;
	size_t n, cut;

	ver = verifier(write_pem("k.pem", ec(0), NULL));
	good = tok(ec(0), NULL);
	n = strlen(good);
	for (cut = 0; cut < n; cut++) {
		t = strndup(good, cut);
		cr_assert_eq(check(t), -EACCES, "accepted the first %zu of %zu bytes", cut, n);
		cr_assert_null(id.user);
	}
	cr_assert_eq(check(good), 0, "%s", why);
}

Test(jwt, each_part_cut)
{
	char *good = NULL, *t, *d1, *d2;

	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	good = tok(rsa(0), NULL);
	d1 = strchr(good, '.');
	d2 = strchr(d1 + 1, '.');
	/* characters out of each part, whole base64 quanta so it still decodes */
	cr_assert(asprintf(&t, "%.*s%s", (int)(d1 - good - 4), good, d1) > 0);
	assert_refused(t, "header is not");
	cr_assert(asprintf(&t, "%.*s%s", (int)(d2 - good - 4), good, d2) > 0);
	assert_refused(t, "claims is not");
	/* (6 from the signature: 342 - 4 characters would leave stray bits) */
	cr_assert(asprintf(&t, "%.*s", (int)(strlen(good) - 6), good) > 0);
	assert_refused(t, "bad signature");
	/* each part missing */
	cr_assert(asprintf(&t, "%s", d1) > 0);
	assert_refused(t, "empty header");
	cr_assert(asprintf(&t, "%.*s%s", (int)(d1 - good + 1), good, d2) > 0);
	assert_refused(t, "empty claims");
	cr_assert(asprintf(&t, "%.*s", (int)(d2 - good + 1), good) > 0);
	assert_refused(t, "no signature");
	cr_assert(asprintf(&t, "%.*s", (int)(d2 - good), good) > 0);
	assert_refused(t, "2 segments, want 3");
	cr_assert(asprintf(&t, "%.*s", (int)(d1 - good), good) > 0);
	assert_refused(t, "no '.'");
	cr_assert(asprintf(&t, "%s.%s", good, d2 + 1) > 0);
	assert_refused(t, "more than 3 segments");
	free(good);
}

Test(jwt, bad_base64url)
{
	char *good, *t, *d1, *d2;
	size_t n;

	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	good = tok(rsa(0), NULL);
	n = strlen(good);
	d1 = strchr(good, '.');
	d2 = strchr(d1 + 1, '.');
	/* padding */
	cr_assert(asprintf(&t, "%s==", good) > 0);
	assert_refused(t, "byte 0x3d");
	/* the standard alphabet's + and / */
	t = strdup(good);
	t[n - 3] = '+';
	assert_refused(t, "byte 0x2b");
	t = strdup(good);
	t[2] = '/';
	assert_refused(t, "byte 0x2f");
	/* whitespace, NUL inside the length */
	cr_assert(asprintf(&t, "%s\n", good) > 0);
	assert_refused(t, "byte 0x0a");
	cr_assert(asprintf(&t, " %s", good) > 0);
	assert_refused(t, "byte 0x20");
	t = strdup(good);
	jwt_identity_clear(&id);
	t[5] = '\0';
	cr_assert_eq(jwt_verify(ver, t, n, NOW, &id, why, sizeof(why)), -EACCES);
	cr_assert_not_null(strstr(why, "byte 0x00 at offset 5"), "%s", why);
	free(t);
	/* a length no base64 has (4k + 1 characters): {"alg":"RS256"} + "A" */
	t = strdup("eyJhbGciOiJSUzI1NiJ9A.e30.AAAA");
	assert_refused(t, "header is not base64url");
	(void)d2;
	free(good);
}

Test(jwt, base64url_stray_bits_refused)
{
	/* an RS256 signature of a 2048-bit key: 256 bytes = 342 chars, 4 spare bits */
	char *good, *t;
	size_t n;
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *p;

	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	good = tok(rsa(0), NULL);
	n = strlen(good);
	t = strdup(good);
	/* the last character carries 2 bits of data and 4 that must be zero */
	p = strchr(alpha, t[n - 1]);
	cr_assert_not_null(p);
	cr_assert_eq((p - alpha) & 15, 0);
	t[n - 1] = alpha[(p - alpha) | 1];
	/* the same signature bytes, spelled differently: refused */
	assert_refused(t, "signature is not base64url");
	assert_ok(good);
}

Test(jwt, header_or_claims_not_json_objects)
{
	char *c = claims(NULL);

	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	assert_refused(sign(rsa(0), "not json", c), "header is not JSON");
	assert_refused(sign(rsa(0), "[\"RS256\"]", c), "header is not a JSON object");
	assert_refused(sign(rsa(0), "\"RS256\"", c), "header is not JSON");
	assert_refused(sign(rsa(0), "{\"alg\":\"RS256\"} x", c), "header is not JSON");
	assert_refused(sign(rsa(0), HDR_RS, "{\"sub\":"), "claims is not JSON");
	assert_refused(sign(rsa(0), HDR_RS, "[1,2,3]"), "claims is not a JSON object");
	assert_refused(sign(rsa(0), HDR_RS, "null"), "claims is not JSON");
	assert_refused(sign(rsa(0), HDR_RS, "\"alice\""), "claims is not JSON");
	assert_refused(sign(rsa(0), HDR_RS, ""), "empty claims");
	free(c);
}

Test(jwt, repeated_members_refused)
{
	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	/* which "sub" would count? neither */
	assert_refused(sign(rsa(0), HDR_RS,
			    "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1767229200,"
			    "\"sub\":\"alice\",\"sub\":\"admin\"}"),
		       "claims is not JSON");
	assert_refused(sign(rsa(0), "{\"alg\":\"RS256\",\"alg\":\"none\"}", "{}"),
		       "header is not JSON");
	/* NUL inside a JSON string cannot cut "sub" short */
	assert_refused(sign(rsa(0), HDR_RS,
			    "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1767229200,"
			    "\"sub\":\"alice\\u0000admin\"}"),
		       "claims is not JSON");
}

Test(jwt, arguments)
{
	ver = verifier(write_pem("k.pem", rsa(0), NULL));
	cr_assert_eq(jwt_verify(NULL, "a.b.c", 5, NOW, &id, why, sizeof(why)), -EINVAL);
	cr_assert_eq(jwt_verify(ver, NULL, 0, NOW, &id, why, sizeof(why)), -EINVAL);
	cr_assert_eq(jwt_verify(ver, "a.b.c", 5, NOW, NULL, why, sizeof(why)), -EINVAL);
	/* why may be absent */
	cr_assert_eq(jwt_verify(ver, "a.b.c", 5, NOW, &id, NULL, 0), -EACCES);
	cr_assert_eq(jwt_verify(ver, "", 0, NOW, &id, why, sizeof(why)), -EACCES);
	jwt_identity_clear(NULL);
	jwt_identity_clear(&id);
	jwt_identity_clear(&id);
	cr_assert_null(id.user);
}

Test(jwt, verifier_with_no_issuers_refuses_everything)
{
	ver = jwt_verifier_new(NULL, 0, err, sizeof(err));
	cr_assert_not_null(ver, "%s", err);
	assert_refused(tok(rsa(0), NULL), "unknown issuer");
}

/* ---- configuration ------------------------------------------------------ */

/* jwt_verifier_new on one issuer with keyfile; asserts it fails with errno e and text. */
static void assert_cfg_refused(const char *keyfile, const char *const *auds, size_t n_aud,
			       const char *text)
{
	struct jwt_issuer_cfg c = {ISS, auds, n_aud, keyfile};

	err[0] = '\0';
	errno = 0;
	ver = jwt_verifier_new(&c, 1, err, sizeof(err));
	cr_assert_null(ver, "accepted %s", keyfile);
	cr_assert_neq(errno, 0);
	cr_assert_not_null(strstr(err, text), "err \"%s\" lacks \"%s\"", err, text);
}

static const char *const one_aud[] = {AUD};

Test(jwtcfg, audiences_required)
{
	assert_cfg_refused(write_pem("k.pem", rsa(0), NULL), one_aud, 0,
			   "at least one audience is required");
	assert_cfg_refused(write_pem("k.pem", rsa(0), NULL), (const char *const[]){""}, 1,
			   "audiences[0] is empty");
}

Test(jwtcfg, missing_or_empty_key_file)
{
	assert_cfg_refused(P("nope.pem"), one_aud, 1, "No such file or directory");
	cr_assert_eq(errno, ENOENT);
	assert_cfg_refused(write_text("empty.pem", ""), one_aud, 1, "no PEM block");
	assert_cfg_refused(write_text("junk.pem", "hello\n"), one_aud, 1, "no PEM block");
}

Test(jwtcfg, trailing_bytes_after_a_key_refused)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(rsa(0), &der);
	unsigned char *more = malloc((size_t)n + 1);
	FILE *f = fopen(P("k.pem"), "w");

	cr_assert(n > 0);
	memcpy(more, der, (size_t)n);
	more[n] = 0;
	cr_assert(PEM_write(f, "PUBLIC KEY", "", more, n + 1));
	fclose(f);
	assert_cfg_refused(P("k.pem"), one_aud, 1, "does not decode");
	f = fopen(P("ok.pem"), "w");
	cr_assert(PEM_write(f, "PUBLIC KEY", "", der, n));
	fclose(f);
	ver = verifier(P("ok.pem"));
	OPENSSL_free(der);
	free(more);
}

Test(jwtcfg, private_key_refused)
{
	FILE *f = fopen(P("priv.pem"), "w");

	cr_assert(PEM_write_PrivateKey(f, rsa(0), NULL, NULL, 0, NULL, NULL));
	fclose(f);
	assert_cfg_refused(P("priv.pem"), one_aud, 1, "give the public key only");
}

Test(jwtcfg, weak_or_foreign_keys_refused)
{
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	assert_cfg_refused(write_pem("a.pem", small, NULL), one_aud, 1, "RSA key of 1024 bits");
	assert_cfg_refused(write_pem("b.pem", p384, NULL), one_aud, 1, "curve secp384r1");
	assert_cfg_refused(write_pem("c.pem", ed, NULL), one_aud, 1, "ED25519 key");
	/* one bad key spoils the file */
	assert_cfg_refused(write_pem("d.pem", rsa(0), small, NULL), one_aud, 1, "PEM block 2");
	EVP_PKEY_free(small);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(ed);
}

Test(jwtcfg, duplicate_issuer)
{
	const char *k = write_pem("k.pem", rsa(0), NULL);
	struct jwt_issuer_cfg c[2] = {{ISS, one_aud, 1, k}, {ISS, one_aud, 1, k}};

	ver = jwt_verifier_new(c, 2, err, sizeof(err));
	cr_assert_null(ver);
	cr_assert_not_null(strstr(err, "given twice"), "%s", err);
}

Test(jwtcfg, jwks_problems)
{
	json_t *bad;

	assert_cfg_refused(write_text("a.json", "{\"keys\": 5}"), one_aud, 1, "no \"keys\" array");
	assert_cfg_refused(write_text("b.json", "{\"keys\": [}"), one_aud, 1, "JWKS line 1");
	/* only keys we cannot use */
	assert_cfg_refused(write_text("c.json",
				      "{\"keys\": [{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"},"
				      "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AA\"}]}"),
			   one_aud, 1, "no RS256 or ES256 key");
	/* a kid twice */
	assert_cfg_refused(write_jwks("d.json", jwk(rsa(0), "k"), jwk(rsa(1), "k"), NULL), one_aud,
			   1, "kid \"k\" used twice");
	/* broken key material */
	bad = jwk(rsa(0), "r0");
	json_object_set_new(bad, "n", json_string("not+base64"));
	assert_cfg_refused(write_jwks("e.json", bad, NULL, NULL), one_aud, 1,
			   "\"n\" is not non-empty base64url");
	bad = jwk(ec(0), "e0");
	json_object_set_new(bad, "x", json_string("AAAA"));
	assert_cfg_refused(write_jwks("f.json", bad, NULL, NULL), one_aud, 1,
			   "\"x\" is not 32 bytes");
	/* a point not on the curve */
	bad = jwk(ec(0), "e0");
	json_object_set_new(bad, "y", json_string("AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	assert_cfg_refused(write_jwks("g.json", bad, NULL, NULL), one_aud, 1, "e0");
	bad = jwk(rsa(0), "r0");
	json_object_del(bad, "e");
	assert_cfg_refused(write_jwks("h.json", bad, NULL, NULL), one_aud, 1,
			   "\"e\" missing or not a string");
}

Test(jwt, jwks_skips_keys_not_for_rs256_es256)
{
	json_t *enc = jwk(rsa(1), "enc"), *ps = jwk(rsa(1), "ps"), *es384 = jwk(ec(1), "p384");
	char *c = claims(NULL);

	json_object_set_new(enc, "use", json_string("enc"));
	json_object_set_new(ps, "alg", json_string("PS256"));
	json_object_set_new(es384, "crv", json_string("P-384"));
	/* nothing usable left: the file is refused */
	assert_cfg_refused(write_jwks("k.json", enc, ps, es384), one_aud, 1,
			   "no RS256 or ES256 key");
	enc = jwk(rsa(1), "enc");
	json_object_set_new(enc, "use", json_string("enc"));
	ps = jwk(rsa(0), "r0");
	json_object_set_new(ps, "use", json_string("sig"));
	json_object_set_new(ps, "alg", json_string("RS256"));
	ver = verifier(write_jwks("l.json", enc, ps, NULL));
	assert_refused(sign(rsa(1), "{\"alg\":\"RS256\",\"kid\":\"enc\"}", c), "unknown kid");
	assert_ok(sign(rsa(0), "{\"alg\":\"RS256\",\"kid\":\"r0\"}", c));
	free(c);
}

/* ---- client certificates --------------------------------------------------- */

static EVP_PKEY *ca_key;
static X509 *ca_cert;

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v;
	X509_EXTENSION *e;

	X509V3_set_ctx(&v, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v, nid, value);
	cr_assert_not_null(e);
	cr_assert(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
}

/*
 * A certificate for key with subject entries subj ("CN=alice,O=devs"; no
 * escaping), valid from nb to na seconds relative to now, signed by
 * issuer (NULL: self-signed, a CA). eku: extendedKeyUsage value or NULL.
 */
static X509 *mint(EVP_PKEY *key, const char *subj, long nb, long na, X509 *issuer,
		  EVP_PKEY *issuer_key, const char *eku)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	char *s = strdup(subj), *tok, *save = NULL;

	cr_assert(X509_set_version(x, 2));
	ASN1_INTEGER_set(X509_get_serialNumber(x), rand() & 0x7fffffff);
	X509_gmtime_adj(X509_getm_notBefore(x), nb);
	X509_gmtime_adj(X509_getm_notAfter(x), na);
	cr_assert(X509_set_pubkey(x, key));
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		cr_assert_not_null(eq);
		*eq = '\0';
		cr_assert(X509_NAME_add_entry_by_txt(name, tok, MBSTRING_UTF8,
						     (const unsigned char *)eq + 1, -1, -1, 0));
	}
	free(s);
	cr_assert(X509_set_subject_name(x, name));
	cr_assert(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name));
	X509_NAME_free(name);
	add_ext(x, issuer ? issuer : x, NID_basic_constraints,
		issuer ? "CA:FALSE" : "critical,CA:TRUE");
	if (!issuer)
		add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (eku)
		add_ext(x, issuer ? issuer : x, NID_ext_key_usage, eku);
	cr_assert(X509_sign(x, issuer ? issuer_key : key, EVP_sha256()));
	return x;
}

static struct x509id_ca *make_ca(void)
{
	struct x509id_ca *ca;
	FILE *f;

	ca_key = ec(1);
	ca_cert = mint(ca_key, "CN=Test Client CA,O=sluice tests", -3600, 86400 * 30, NULL, NULL,
		       NULL);
	f = fopen(P("ca.crt"), "w");
	cr_assert(PEM_write_X509(f, ca_cert));
	fclose(f);
	ca = x509id_ca_new(P("ca.crt"), err, sizeof(err));
	cr_assert_not_null(ca, "%s", err);
	return ca;
}

static void free_ca(struct x509id_ca *ca)
{
	x509id_ca_free(ca);
	X509_free(ca_cert);
	ca_cert = NULL;
}

Test(x509id, cn_and_o)
{
	X509 *x = mint(ec(0), "C=DE,O=devs,CN=alice", -60, 3600, NULL, NULL, NULL);

	cr_assert_eq(x509id_from_cert(x, &id, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(id.source, JWT_SRC_CERT);
	cr_assert_str_eq(id.user, "alice");
	cr_assert_eq(id.n_groups, 1);
	cr_assert_str_eq(id.groups[0], "devs");
	cr_assert_str_eq(id.issuer, "CN=alice,O=devs,C=DE");
	cr_assert_str_eq(json_string_value(json_object_get(id.claims, "subject")),
			 "CN=alice,O=devs,C=DE");
	cr_assert_eq(strlen(json_string_value(json_object_get(id.claims, "sha256"))), 64);
	cr_assert_gt(id.expires, (uint64_t)time(NULL) + 3000);
	cr_assert_leq(id.expires, (uint64_t)time(NULL) + 3600);
	X509_free(x);
}

Test(x509id, several_o_in_order)
{
	X509 *x = mint(ec(0), "O=system:masters,O=devs,OU=ignored,O=ops,CN=bob", -60, 3600, NULL,
		       NULL, NULL);

	cr_assert_eq(x509id_from_cert(x, &id, why, sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(id.user, "bob");
	cr_assert_eq(id.n_groups, 3);
	cr_assert_str_eq(id.groups[0], "system:masters");
	cr_assert_str_eq(id.groups[1], "devs");
	cr_assert_str_eq(id.groups[2], "ops");
	X509_free(x);
}

Test(x509id, utf8_cn)
{
	X509 *x = mint(ec(0), "CN=J\xc3\xbcrgen", -60, 3600, NULL, NULL, NULL);

	cr_assert_eq(x509id_from_cert(x, &id, why, sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(id.user, "J\xc3\xbcrgen");
	X509_free(x);
}

Test(x509id, cn_missing_or_repeated)
{
	X509 *none = mint(ec(0), "O=devs", -60, 3600, NULL, NULL, NULL);
	X509 *two = mint(ec(0), "CN=alice,CN=admin", -60, 3600, NULL, NULL, NULL);

	cr_assert_eq(x509id_from_cert(none, &id, why, sizeof(why)), -EACCES);
	cr_assert_not_null(strstr(why, "no CN"), "%s", why);
	cr_assert_null(id.user);
	cr_assert_eq(id.n_groups, 0);
	cr_assert_eq(x509id_from_cert(two, &id, why, sizeof(why)), -EACCES);
	cr_assert_not_null(strstr(why, "several CNs"), "%s", why);
	cr_assert_null(id.user);
	cr_assert_eq(x509id_from_cert(NULL, &id, why, sizeof(why)), -EINVAL);
	X509_free(none);
	X509_free(two);
}

Test(x509id, nul_in_cn_refused)
{
	X509 *x = mint(ec(0), "O=devs", -60, 3600, NULL, NULL, NULL);
	X509_NAME *name = X509_get_subject_name(x);

	/* "alice\0admin" as the CN's bytes */
	cr_assert(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					     (const unsigned char *)"alice\0admin", 11, -1, 0));
	cr_assert_eq(x509id_from_cert(x, &id, why, sizeof(why)), -EACCES);
	cr_assert_not_null(strstr(why, "CN is empty, not UTF-8 or holds a NUL"), "%s", why);
	X509_free(x);
}

Test(x509id, verified_against_ca)
{
	struct x509id_ca *ca = make_ca();
	X509 *x = mint(ec(0), "CN=agent,O=agents", -60, 86400, ca_cert, ca_key, "clientAuth");

	cr_assert_eq(x509id_verify(ca, x, NULL, (uint64_t)time(NULL), &id, why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_str_eq(id.user, "agent");
	cr_assert_eq(id.n_groups, 1);
	cr_assert_str_eq(id.groups[0], "agents");
	cr_assert_str_eq(id.issuer, "O=sluice tests,CN=Test Client CA");
	X509_free(x);
	free_ca(ca);
}

Test(x509id, untrusted_issuer)
{
	struct x509id_ca *ca = make_ca();
	/* a look-alike CA with the same name but another key */
	EVP_PKEY *evil_key = rsa(0);
	X509 *evil =
		mint(evil_key, "CN=Test Client CA,O=sluice tests", -3600, 86400, NULL, NULL, NULL);
	X509 *x = mint(ec(0), "CN=admin,O=system:masters", -60, 86400, evil, evil_key, NULL);
	X509 *self = mint(ec(0), "CN=admin", -60, 86400, NULL, NULL, NULL);

	cr_assert_eq(x509id_verify(ca, x, NULL, (uint64_t)time(NULL), &id, why, sizeof(why)),
		     -EACCES);
	cr_assert_not_null(strstr(why, "untrusted certificate"), "%s", why);
	cr_assert_null(id.user);
	cr_assert_eq(x509id_verify(ca, self, NULL, (uint64_t)time(NULL), &id, why, sizeof(why)),
		     -EACCES);
	cr_assert_not_null(strstr(why, "untrusted certificate"), "%s", why);
	X509_free(evil);
	X509_free(x);
	X509_free(self);
	free_ca(ca);
}

Test(x509id, expired_and_not_yet_valid)
{
	struct x509id_ca *ca = make_ca();
	X509 *old = mint(ec(0), "CN=alice", -7200, -3600, ca_cert, ca_key, NULL);
	X509 *early = mint(ec(0), "CN=alice", 3600, 7200, ca_cert, ca_key, NULL);
	X509 *ok = mint(ec(0), "CN=alice", -60, 3600, ca_cert, ca_key, NULL);
	uint64_t now = (uint64_t)time(NULL);

	cr_assert_eq(x509id_verify(ca, old, NULL, now, &id, why, sizeof(why)), -EACCES);
	cr_assert_str_eq(why, "certificate has expired");
	cr_assert_eq(x509id_verify(ca, early, NULL, now, &id, why, sizeof(why)), -EACCES);
	cr_assert_str_eq(why, "certificate is not yet valid");
	/* the time is the caller's: the same certificate, two hours on */
	cr_assert_eq(x509id_verify(ca, ok, NULL, now, &id, why, sizeof(why)), 0, "%s", why);
	jwt_identity_clear(&id);
	cr_assert_eq(x509id_verify(ca, ok, NULL, now + 7200, &id, why, sizeof(why)), -EACCES);
	cr_assert_str_eq(why, "certificate has expired");
	cr_assert_null(id.user);
	X509_free(old);
	X509_free(early);
	X509_free(ok);
	free_ca(ca);
}

Test(x509id, server_only_certificate_refused)
{
	struct x509id_ca *ca = make_ca();
	X509 *x = mint(ec(0), "CN=api.test", -60, 3600, ca_cert, ca_key, "serverAuth");

	cr_assert_eq(x509id_verify(ca, x, NULL, (uint64_t)time(NULL), &id, why, sizeof(why)),
		     -EACCES);
	cr_assert_not_null(strstr(why, "purpose"), "%s", why);
	X509_free(x);
	free_ca(ca);
}

Test(x509id, ca_file_problems)
{
	struct x509id_ca *ca;

	ca = x509id_ca_new(P("missing.crt"), err, sizeof(err));
	cr_assert_null(ca);
	cr_assert_not_null(strstr(err, "no CA certificate loaded"), "%s", err);
	ca = x509id_ca_new(write_text("junk.crt", "not a certificate\n"), err, sizeof(err));
	cr_assert_null(ca);
	cr_assert_eq(errno, EINVAL);
	x509id_ca_free(NULL);
}
