// SPDX-License-Identifier: BSD-2-Clause
/*
 * Presented identity (DESIGN §3): JWT bearer tokens verified offline, and
 * X.509 client certificates.
 *
 * Tokens are hostile input. The rules that keep the classic JWT attacks
 * out: the algorithm is one of two asymmetric ones and the key must be of
 * the type that algorithm needs (so an RSA public key can never become an
 * HMAC secret, and "none" has no code path at all); keys come only from
 * configured files, never from the token; the token is size-capped before
 * anything is decoded; base64url and JSON are parsed strictly (no padding,
 * no stray bits, no repeated member names) so one token has exactly one
 * meaning; the signature is checked before any claim is believed.
 *
 * OpenSSL's per-thread error queue never leaks out of this file: it is
 * cleared before and after each call that may fill it.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "jwt.h"

/* A key file bigger than this is not a key file. */
#define KEYS_MAX_FILE (1024 * 1024)
/* NumericDate upper bound: 9999-12-31T23:59:59Z. Keeps exp + skew exact. */
#define TIME_MAX 253402300799ULL
/* How much of an attacker-chosen string a refusal message quotes. */
#define QUOTE_MAX 64

#define SA_PREFIX "system:serviceaccount:"

enum key_type { KEY_RSA = 1, KEY_EC };

struct jwt_key {
	char *kid; /* NULL: a JWKS key without one */
	enum key_type type;
	EVP_PKEY *pkey;
};

struct jwt_iss {
	char *issuer;
	char **aud;
	size_t n_aud;
	struct jwt_key keys[JWT_MAX_KEYS];
	size_t n_keys;
};

struct jwt_verifier {
	struct jwt_iss *iss;
	size_t n;
};

struct x509id_ca {
	X509_STORE *store;
};

/* ---- small helpers ------------------------------------------------------ */

static void msg(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void msg(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* The first OpenSSL error in the queue as text (or "" if none); empties it. */
static const char *ssl_reason(char *buf, size_t size)
{
	unsigned long e = ERR_get_error();

	buf[0] = '\0';
	if (e)
		ERR_error_string_n(e, buf, size);
	ERR_clear_error();
	return buf;
}

/*
 * Copy attacker-chosen text into a message: at most QUOTE_MAX bytes,
 * anything outside printable ASCII (and the quote itself) as '?', "..."
 * when cut.
 */
static const char *quote(char *dst, size_t size, const char *src)
{
	size_t i, n = strlen(src), max = QUOTE_MAX;

	if (max > size - 4)
		max = size - 4;
	for (i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
	}
	if (i < n) {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
	return dst;
}

static void fmt_time(char *buf, size_t size, uint64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "%llu", (unsigned long long)t);
}

/* The value of a base64url character, -1 for anything else. */
static int b64url_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Strict base64url (RFC 7515 §2): the URL-safe alphabet only, no padding,
 * no whitespace, and the unused low bits of the last character zero, so
 * each byte string has exactly one encoding. Decodes s[0..n) into a new
 * buffer (caller frees; NUL-terminated for convenience, not counted).
 * Returns 0, -EINVAL or -ENOMEM.
 */
static int b64url_decode(const char *s, size_t n, unsigned char **out, size_t *outlen)
{
	unsigned char *buf;
	uint32_t acc = 0;
	size_t i, o = 0;
	int bits = 0;

	*out = NULL;
	*outlen = 0;
	if (n % 4 == 1)
		return -EINVAL;
	buf = malloc(n / 4 * 3 + 3);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		int v = b64url_val((unsigned char)s[i]);

		if (v < 0) {
			free(buf);
			return -EINVAL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0) { /* stray bits: a second spelling of the same bytes */
		free(buf);
		return -EINVAL;
	}
	buf[o] = '\0';
	*out = buf;
	*outlen = o;
	return 0;
}

static void b64url_encode(const unsigned char *in, size_t n, char *out)
{
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint32_t acc = 0;
	size_t i, o = 0;
	int bits = 0;

	for (i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = alpha[(acc >> bits) & 63];
		}
	}
	if (bits)
		out[o++] = alpha[(acc << (6 - bits)) & 63];
	out[o] = '\0';
}

/* A member that must be a string if present: the string, NULL if absent
 * (*bad = false) or of another type (*bad = true). Borrowed. */
static const char *str_member(json_t *obj, const char *name, bool *bad)
{
	json_t *j = json_object_get(obj, name);

	*bad = j && !json_is_string(j);
	return json_is_string(j) ? json_string_value(j) : NULL;
}

/* Read a whole (small) file. Returns 0 or -errno; caller frees *buf. */
static int read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	size_t n = 0, r;
	int ret = 0;

	*buf = NULL;
	if (!f)
		return -errno;
	b = malloc(KEYS_MAX_FILE + 1);
	if (!b) {
		ret = -ENOMEM;
		goto out;
	}
	while ((r = fread(b + n, 1, KEYS_MAX_FILE + 1 - n, f)) > 0)
		n += r;
	if (ferror(f)) {
		ret = -EIO;
		goto out;
	}
	if (n > KEYS_MAX_FILE) {
		ret = -EFBIG;
		goto out;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	b = NULL;
out:
	free(b);
	fclose(f);
	return ret;
}

/* ---- identity ---------------------------------------------------------- */

void jwt_identity_clear(struct jwt_identity *id)
{
	size_t i;

	if (!id)
		return;
	free(id->user);
	for (i = 0; i < id->n_groups; i++)
		free(id->groups[i]);
	free(id->groups);
	free(id->issuer);
	free(id->sa_namespace);
	free(id->sa_name);
	json_decref(id->claims);
	memset(id, 0, sizeof(*id));
}

/* Append a copy of g (n bytes) unless already there. Returns 0 or -ENOMEM. */
static int group_add(struct jwt_identity *id, const char *g, size_t n)
{
	char **grown;
	size_t i;

	for (i = 0; i < id->n_groups; i++)
		if (strlen(id->groups[i]) == n && !memcmp(id->groups[i], g, n))
			return 0;
	grown = realloc(id->groups, (id->n_groups + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	id->groups = grown;
	grown[id->n_groups] = strndup(g, n);
	if (!grown[id->n_groups])
		return -ENOMEM;
	id->n_groups++;
	return 0;
}

/* ---- keys ------------------------------------------------------------- */

/*
 * Check pkey is a key we verify with (RSA >= 2048 bits, EC P-256, sane
 * public values) and add it to iss under kid (may be NULL). Steals pkey on
 * every path. Returns 0 or -errno with a message (prefixed by the caller).
 */
static int key_add(struct jwt_iss *iss, const char *kid, EVP_PKEY *pkey, char *err, size_t errlen)
{
	EVP_PKEY_CTX *pc = NULL;
	struct jwt_key *k;
	enum key_type type;
	char group[32], ebuf[160];
	size_t i;
	int ret = 0;

	if (EVP_PKEY_is_a(pkey, "RSA")) {
		type = KEY_RSA;
		if (EVP_PKEY_get_bits(pkey) < 2048 || EVP_PKEY_get_bits(pkey) > 16384) {
			msg(err, errlen, "RSA key of %d bits (2048 to 16384)",
			    EVP_PKEY_get_bits(pkey));
			ret = -EINVAL;
			goto out;
		}
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		type = KEY_EC;
		if (!EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) ||
		    strcmp(group, "prime256v1")) {
			msg(err, errlen, "EC key on curve %s (P-256 only)", group);
			ret = -EINVAL;
			goto out;
		}
	} else {
		msg(err, errlen, "%s key (RSA and EC P-256 only)", EVP_PKEY_get0_type_name(pkey));
		ret = -EINVAL;
		goto out;
	}
	pc = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!pc || EVP_PKEY_public_check(pc) != 1) {
		msg(err, errlen, "public key fails its checks: %s", ssl_reason(ebuf, sizeof(ebuf)));
		ret = -EINVAL;
		goto out;
	}
	for (i = 0; kid && i < iss->n_keys; i++) {
		if (iss->keys[i].kid && !strcmp(iss->keys[i].kid, kid)) {
			msg(err, errlen, "kid \"%s\" used twice", quote(ebuf, sizeof(ebuf), kid));
			ret = -EINVAL;
			goto out;
		}
	}
	if (iss->n_keys == JWT_MAX_KEYS) {
		msg(err, errlen, "more than %d keys", JWT_MAX_KEYS);
		ret = -E2BIG;
		goto out;
	}
	k = &iss->keys[iss->n_keys];
	k->kid = NULL;
	if (kid && !(k->kid = strdup(kid))) {
		ret = -ENOMEM;
		goto out;
	}
	k->type = type;
	k->pkey = pkey;
	pkey = NULL;
	iss->n_keys++;
out:
	EVP_PKEY_CTX_free(pc);
	EVP_PKEY_free(pkey);
	return ret;
}

/* The kid Kubernetes gives a service-account signing key (keyIDFromPublicKey). */
static int pem_kid(EVP_PKEY *pkey, char kid[48])
{
	unsigned char *der = NULL, md[32];
	unsigned int mdlen = 0;
	int n = i2d_PUBKEY(pkey, &der);
	int ret = 0;

	if (n <= 0 || !EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL))
		ret = -EINVAL;
	else
		b64url_encode(md, mdlen, kid);
	OPENSSL_free(der);
	return ret;
}

/* Every PEM block in buf: public keys, RSA public keys, certificates. */
static int load_pem(struct jwt_iss *iss, const char *buf, size_t len, char *err, size_t errlen)
{
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	char *name = NULL, *header = NULL, kid[48], ebuf[160];
	unsigned char *data = NULL;
	const unsigned char *p;
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	long dlen;
	int ret = 0, blocks = 0;

	if (!bio)
		return -ENOMEM;
	for (;; blocks++) {
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		name = header = NULL;
		data = NULL;
		if (!PEM_read_bio(bio, &name, &header, &data, &dlen)) {
			unsigned long e = ERR_peek_last_error();

			if (blocks && ERR_GET_LIB(e) == ERR_LIB_PEM &&
			    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
				break; /* the end of the file */
			msg(err, errlen, "PEM block %d: %s", blocks + 1,
			    blocks ? ssl_reason(ebuf, sizeof(ebuf)) : "no PEM block in the file");
			ret = -EINVAL;
			goto out;
		}
		p = data;
		if (!strcmp(name, "PUBLIC KEY")) {
			pkey = d2i_PUBKEY(NULL, &p, dlen);
		} else if (!strcmp(name, "RSA PUBLIC KEY")) {
			pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, dlen);
		} else if (!strcmp(name, "CERTIFICATE")) {
			x = d2i_X509(NULL, &p, dlen);
			pkey = x ? X509_get_pubkey(x) : NULL;
			X509_free(x);
			x = NULL;
		} else {
			msg(err, errlen, "PEM block %d is \"%s\"%s", blocks + 1, name,
			    strstr(name, "PRIVATE") ? ": give the public key only"
						    : " (want PUBLIC KEY or CERTIFICATE)");
			ret = -EINVAL;
			goto out;
		}
		/* a key block must be the key and nothing after it */
		if (!pkey || (strcmp(name, "CERTIFICATE") && p != data + dlen)) {
			msg(err, errlen, "PEM block %d (%s) does not decode %s", blocks + 1, name,
			    ssl_reason(ebuf, sizeof(ebuf)));
			ret = -EINVAL;
			goto out;
		}
		if (pem_kid(pkey, kid)) {
			msg(err, errlen, "PEM block %d: cannot encode the key", blocks + 1);
			ret = -EINVAL;
			goto out;
		}
		ret = key_add(iss, kid, pkey, ebuf, sizeof(ebuf));
		pkey = NULL;
		if (ret) {
			msg(err, errlen, "PEM block %d: %s", blocks + 1, ebuf);
			goto out;
		}
	}
out:
	EVP_PKEY_free(pkey);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	ERR_clear_error();
	return ret;
}

/* A base64url JWK member, decoded; want != 0 demands that exact length. */
static int jwk_bytes(json_t *jwk, const char *name, size_t want, unsigned char **out, size_t *len,
		     char *err, size_t errlen)
{
	bool bad;
	const char *s = str_member(jwk, name, &bad);
	int ret;

	if (!s) {
		msg(err, errlen, "\"%s\" missing or not a string", name);
		return -EINVAL;
	}
	ret = b64url_decode(s, strlen(s), out, len);
	if (ret == -ENOMEM)
		return ret;
	if (ret || !*len || (want && *len != want)) {
		if (want)
			msg(err, errlen, "\"%s\" is not %zu bytes of base64url", name, want);
		else
			msg(err, errlen, "\"%s\" is not non-empty base64url", name);
		free(*out);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

/* An RSA or EC P-256 public key from its JWK. Returns 0 (*pkey set) or -errno. */
static int jwk_pkey(json_t *jwk, bool rsa, EVP_PKEY **pkey, char *err, size_t errlen)
{
	unsigned char *a = NULL, *b = NULL, point[65];
	size_t alen, blen;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pc = NULL;
	BIGNUM *n = NULL, *e = NULL;
	char ebuf[160];
	int ret;

	*pkey = NULL;
	if (!bld)
		return -ENOMEM;
	if (rsa) {
		ret = jwk_bytes(jwk, "n", 0, &a, &alen, err, errlen);
		if (!ret)
			ret = jwk_bytes(jwk, "e", 0, &b, &blen, err, errlen);
		if (ret)
			goto out;
		n = BN_bin2bn(a, (int)alen, NULL);
		e = BN_bin2bn(b, (int)blen, NULL);
		if (!n || !e || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)) {
			ret = -ENOMEM;
			goto out;
		}
	} else {
		ret = jwk_bytes(jwk, "x", 32, &a, &alen, err, errlen);
		if (!ret)
			ret = jwk_bytes(jwk, "y", 32, &b, &blen, err, errlen);
		if (ret)
			goto out;
		point[0] = 0x04; /* uncompressed */
		memcpy(point + 1, a, 32);
		memcpy(point + 33, b, 32);
		if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1",
						     0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
						      sizeof(point))) {
			ret = -ENOMEM;
			goto out;
		}
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	pc = EVP_PKEY_CTX_new_from_name(NULL, rsa ? "RSA" : "EC", NULL);
	if (!params || !pc) {
		ret = -ENOMEM;
		goto out;
	}
	if (EVP_PKEY_fromdata_init(pc) != 1 ||
	    EVP_PKEY_fromdata(pc, pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		msg(err, errlen, "not a valid %s public key: %s", rsa ? "RSA" : "EC P-256",
		    ssl_reason(ebuf, sizeof(ebuf)));
		ret = -EINVAL;
		goto out;
	}
	ret = 0;
out:
	free(a);
	free(b);
	BN_free(n);
	BN_free(e);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(pc);
	ERR_clear_error();
	return ret;
}

/* A JWKS document: {"keys": [JWK, ...]}. */
static int load_jwks(struct jwt_iss *iss, const char *buf, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *keys, *jwk;
	EVP_PKEY *pkey;
	char ebuf[200];
	size_t i;
	int ret = 0;

	if (!doc) {
		msg(err, errlen, "JWKS line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	keys = json_object_get(doc, "keys");
	if (!json_is_array(keys)) {
		msg(err, errlen, "JWKS has no \"keys\" array");
		ret = -EINVAL;
		goto out;
	}
	json_array_foreach(keys, i, jwk)
	{
		const char *kty, *use, *alg, *crv, *kid;
		bool bad_kty, bad_use, bad_alg, bad_crv, bad_kid, rsa;

		if (!json_is_object(jwk)) {
			msg(err, errlen, "keys[%zu] is not an object", i);
			ret = -EINVAL;
			goto out;
		}
		kty = str_member(jwk, "kty", &bad_kty);
		use = str_member(jwk, "use", &bad_use);
		alg = str_member(jwk, "alg", &bad_alg);
		crv = str_member(jwk, "crv", &bad_crv);
		kid = str_member(jwk, "kid", &bad_kid);
		if (!kty || bad_use || bad_alg || bad_crv || bad_kid) {
			msg(err, errlen,
			    "keys[%zu]: kty, use, alg, crv, kid must be strings (kty required)", i);
			ret = -EINVAL;
			goto out;
		}
		rsa = !strcmp(kty, "RSA");
		/* what we cannot verify RS256/ES256 with is somebody else's key */
		if (!rsa && strcmp(kty, "EC"))
			continue;
		if (use && strcmp(use, "sig"))
			continue;
		if (alg && strcmp(alg, rsa ? "RS256" : "ES256"))
			continue;
		if (!rsa && (!crv || strcmp(crv, "P-256")))
			continue;
		ret = jwk_pkey(jwk, rsa, &pkey, ebuf, sizeof(ebuf));
		if (!ret)
			ret = key_add(iss, kid, pkey, ebuf, sizeof(ebuf));
		if (ret) {
			msg(err, errlen, "keys[%zu]%s%s%s: %s", i, kid ? " (kid \"" : "",
			    kid ? kid : "", kid ? "\")" : "", ebuf);
			goto out;
		}
	}
out:
	json_decref(doc);
	return ret;
}

static int load_keys(struct jwt_iss *iss, const char *path, char *err, size_t errlen)
{
	char *buf = NULL, ebuf[256];
	size_t len = 0, i;
	int ret;

	ret = read_file(path, &buf, &len);
	if (ret) {
		msg(err, errlen, "%s: %s", path,
		    ret == -EFBIG ? "bigger than 1 MiB" : strerror(-ret));
		return ret;
	}
	for (i = 0; i < len && strchr(" \t\r\n", buf[i]); i++)
		;
	ebuf[0] = '\0';
	if (i < len && buf[i] == '{')
		ret = load_jwks(iss, buf, len, ebuf, sizeof(ebuf));
	else
		ret = load_pem(iss, buf, len, ebuf, sizeof(ebuf));
	if (!ret && !iss->n_keys) {
		msg(ebuf, sizeof(ebuf), "no RS256 or ES256 key in it");
		ret = -EINVAL;
	}
	if (ret)
		msg(err, errlen, "%s: %s", path, ebuf);
	free(buf);
	return ret;
}

/* ---- verifier ----------------------------------------------------------- */

void jwt_verifier_free(struct jwt_verifier *v)
{
	size_t i, j;

	if (!v)
		return;
	for (i = 0; i < v->n; i++) {
		struct jwt_iss *s = &v->iss[i];

		free(s->issuer);
		for (j = 0; j < s->n_aud; j++)
			free(s->aud[j]);
		free(s->aud);
		for (j = 0; j < s->n_keys; j++) {
			free(s->keys[j].kid);
			EVP_PKEY_free(s->keys[j].pkey);
		}
	}
	free(v->iss);
	free(v);
}

struct jwt_verifier *jwt_verifier_new(const struct jwt_issuer_cfg *iss, size_t n, char *err,
				      size_t errlen)
{
	struct jwt_verifier *v = calloc(1, sizeof(*v));
	char ebuf[400];
	size_t i, j;
	int ret = 0;

	if (!v)
		return NULL;
	if (!iss && n) {
		ret = -EINVAL;
		msg(err, errlen, "no issuers");
		goto out;
	}
	v->iss = calloc(n ? n : 1, sizeof(*v->iss));
	if (!v->iss) {
		ret = -ENOMEM;
		goto out;
	}
	ERR_clear_error();
	for (i = 0; i < n; i++) {
		const struct jwt_issuer_cfg *c = &iss[i];
		struct jwt_iss *s = &v->iss[i];

		if (!c->issuer || !*c->issuer || !c->keys) {
			msg(err, errlen, "issuers[%zu]: issuer and keys are required", i);
			ret = -EINVAL;
			goto out;
		}
		for (j = 0; j < i; j++) {
			if (!strcmp(v->iss[j].issuer, c->issuer)) {
				msg(err, errlen, "issuers[%zu]: issuer %s given twice", i,
				    c->issuer);
				ret = -EINVAL;
				goto out;
			}
		}
		/* without audiences any token of the issuer's, for any service, would do */
		if (!c->n_audiences || !c->audiences) {
			msg(err, errlen, "issuers[%zu] (%s): at least one audience is required", i,
			    c->issuer);
			ret = -EINVAL;
			goto out;
		}
		s->issuer = strdup(c->issuer);
		s->aud = calloc(c->n_audiences, sizeof(*s->aud));
		v->n = i + 1; /* from here on jwt_verifier_free() cleans s */
		if (!s->issuer || !s->aud) {
			ret = -ENOMEM;
			goto out;
		}
		for (j = 0; j < c->n_audiences; j++) {
			if (!c->audiences[j] || !*c->audiences[j]) {
				msg(err, errlen, "issuers[%zu] (%s): audiences[%zu] is empty", i,
				    c->issuer, j);
				ret = -EINVAL;
				goto out;
			}
			s->aud[j] = strdup(c->audiences[j]);
			if (!s->aud[j]) {
				ret = -ENOMEM;
				goto out;
			}
			s->n_aud++;
		}
		ret = load_keys(s, c->keys, ebuf, sizeof(ebuf));
		if (ret) {
			msg(err, errlen, "issuers[%zu] (%s): %s", i, c->issuer, ebuf);
			goto out;
		}
	}
out:
	ERR_clear_error();
	if (ret) {
		if (ret == -ENOMEM)
			msg(err, errlen, "out of memory");
		jwt_verifier_free(v);
		errno = -ret;
		return NULL;
	}
	return v;
}

/* ---- verification ------------------------------------------------------- */

/* One token being verified: its pieces and where a refusal is written. */
struct tok {
	const char *signing; /* header "." payload, as received */
	size_t signing_len;
	unsigned char *sig;
	size_t sig_len;
	json_t *header;
	json_t *claims;
	char *why;
	size_t whylen;
};

/* Parse one base64url segment as a JSON object (what names it for messages). */
static int segment_json(const char *s, size_t n, const char *what, json_t **out, char *why,
			size_t whylen)
{
	unsigned char *raw = NULL;
	json_error_t jerr;
	size_t len;
	int ret;

	*out = NULL;
	if (!n) {
		msg(why, whylen, "malformed token: empty %s", what);
		return -EACCES;
	}
	ret = b64url_decode(s, n, &raw, &len);
	if (ret) {
		if (ret == -EINVAL)
			msg(why, whylen, "malformed token: %s is not base64url", what);
		return ret == -EINVAL ? -EACCES : ret;
	}
	*out = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, &jerr);
	free(raw);
	if (!*out) {
		msg(why, whylen, "malformed token: %s is not JSON: %s", what, jerr.text);
		return -EACCES;
	}
	if (!json_is_object(*out)) {
		msg(why, whylen, "malformed token: %s is not a JSON object", what);
		json_decref(*out);
		*out = NULL;
		return -EACCES;
	}
	return 0;
}

/*
 * A NumericDate claim: 1 and *t if present and valid, 0 if absent, -1 (why
 * written) if not a number in [0, TIME_MAX]. A fraction is dropped.
 */
static int time_claim(json_t *claims, const char *name, uint64_t *t, char *why, size_t whylen)
{
	json_t *j = json_object_get(claims, name);
	double d;

	if (!j)
		return 0;
	if (json_is_integer(j)) {
		json_int_t i = json_integer_value(j);

		if (i >= 0 && (unsigned long long)i <= TIME_MAX) {
			*t = (uint64_t)i;
			return 1;
		}
	} else if (json_is_real(j)) {
		d = json_real_value(j);
		if (isfinite(d) && d >= 0 && d <= (double)TIME_MAX) {
			*t = (uint64_t)floor(d);
			return 1;
		}
	}
	msg(why, whylen, "\"%s\" is not a date (seconds since 1970, up to year 9999)", name);
	return -1;
}

/* Does "aud" (string or array of strings) name one of the issuer's audiences? */
static int check_aud(const struct jwt_iss *s, json_t *aud, char *why, size_t whylen)
{
	json_t *one;
	size_t i, j;

	if (!aud) {
		msg(why, whylen, "no \"aud\" claim");
		return -EACCES;
	}
	if (json_is_string(aud)) {
		for (j = 0; j < s->n_aud; j++)
			if (!strcmp(json_string_value(aud), s->aud[j]))
				return 0;
	} else if (json_is_array(aud)) {
		json_array_foreach(aud, i, one)
		{
			if (!json_is_string(one)) {
				msg(why, whylen, "\"aud\"[%zu] is not a string", i);
				return -EACCES;
			}
		}
		json_array_foreach(aud, i, one) for (j = 0; j < s->n_aud;
						     j++) if (!strcmp(json_string_value(one),
								      s->aud[j])) return 0;
	} else {
		msg(why, whylen, "\"aud\" is neither a string nor an array");
		return -EACCES;
	}
	msg(why, whylen, "audience mismatch");
	return -EACCES;
}

/* ES256 in JWS is r||s, 32 bytes each; OpenSSL wants a DER ECDSA-Sig-Value. */
static int es256_der(const unsigned char *raw, unsigned char **der, int *derlen)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
	int ret = -ENOMEM;

	*der = NULL;
	if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s))
		goto out;
	r = s = NULL; /* owned by sig */
	*derlen = i2d_ECDSA_SIG(sig, der);
	if (*derlen > 0)
		ret = 0;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return ret;
}

/* 1 if the signature verifies with k, 0 if not, -ENOMEM. */
static int sig_ok(const struct tok *t, const struct jwt_key *k)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *der = NULL;
	const unsigned char *sig = t->sig;
	size_t siglen = t->sig_len;
	int derlen = 0, ret = 0;

	if (!md)
		return -ENOMEM;
	if (k->type == KEY_RSA) {
		/* RFC 7518 §3.3: exactly the modulus size; OpenSSL would pad a short one */
		if (siglen != (size_t)EVP_PKEY_get_size(k->pkey))
			goto out;
	} else {
		if (siglen != 64)
			goto out;
		ret = es256_der(t->sig, &der, &derlen);
		if (ret)
			goto out;
		sig = der;
		siglen = (size_t)derlen;
	}
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
	    EVP_DigestVerify(md, sig, siglen, (const unsigned char *)t->signing, t->signing_len) ==
		    1)
		ret = 1;
out:
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return ret;
}

/* Pick the key by kid (or try every key of the right type) and verify. */
static int check_signature(const struct jwt_iss *s, const struct tok *t, enum key_type want,
			   const char *alg)
{
	static const char *const names[] = {[KEY_RSA] = "RSA", [KEY_EC] = "EC"};
	char q[QUOTE_MAX + 8];
	bool bad, tried = false;
	const char *kid = str_member(t->header, "kid", &bad);
	size_t i;
	int r;

	if (bad) {
		msg(t->why, t->whylen, "\"kid\" is not a string");
		return -EACCES;
	}
	for (i = 0; i < s->n_keys; i++) {
		const struct jwt_key *k = &s->keys[i];

		if (kid) {
			if (!k->kid || strcmp(k->kid, kid))
				continue;
			if (k->type != want) {
				msg(t->why, t->whylen, "alg %s does not fit key \"%s\" (%s)", alg,
				    quote(q, sizeof(q), kid), names[k->type]);
				return -EACCES;
			}
		} else if (k->type != want) {
			continue;
		}
		tried = true;
		r = sig_ok(t, k);
		if (r < 0)
			return r;
		if (r == 1)
			return 0;
		if (kid)
			break;
	}
	if (kid && !tried)
		msg(t->why, t->whylen, "unknown kid \"%s\"", quote(q, sizeof(q), kid));
	else if (!tried)
		msg(t->why, t->whylen, "issuer has no %s key for alg %s", names[want], alg);
	else
		msg(t->why, t->whylen, "bad signature");
	return -EACCES;
}

/* The identity the verified claims describe. */
static int identity_fill(const struct jwt_iss *s, json_t *claims, uint64_t exp,
			 struct jwt_identity *out, char *why, size_t whylen)
{
	bool bad;
	const char *sub = str_member(claims, "sub", &bad);
	json_t *groups = json_object_get(claims, "groups"), *g;
	size_t i;
	int ret;

	if (!sub || !*sub) {
		msg(why, whylen, "no \"sub\" claim");
		return -EACCES;
	}
	if (groups && !json_is_array(groups)) {
		msg(why, whylen, "\"groups\" is not an array");
		return -EACCES;
	}
	json_array_foreach(groups, i, g)
	{
		if (!json_is_string(g) || !json_string_length(g)) {
			msg(why, whylen, "\"groups\"[%zu] is not a non-empty string", i);
			return -EACCES;
		}
	}
	out->source = JWT_SRC_TOKEN;
	out->user = strdup(sub);
	out->issuer = strdup(s->issuer);
	out->expires = exp;
	if (!out->user || !out->issuer)
		return -ENOMEM;
	json_array_foreach(groups, i, g)
	{
		ret = group_add(out, json_string_value(g), json_string_length(g));
		if (ret)
			return ret;
	}
	if (!strncmp(sub, SA_PREFIX, strlen(SA_PREFIX))) {
		const char *ns = sub + strlen(SA_PREFIX), *colon = strchr(ns, ':');
		char grp[300];

		if (!colon || colon == ns || !colon[1] || strchr(colon + 1, ':') ||
		    (size_t)(colon - ns) > 253) {
			msg(why, whylen, "malformed service-account subject");
			return -EACCES;
		}
		out->sa_namespace = strndup(ns, (size_t)(colon - ns));
		out->sa_name = strdup(colon + 1);
		if (!out->sa_namespace || !out->sa_name)
			return -ENOMEM;
		snprintf(grp, sizeof(grp), "system:serviceaccounts:%s", out->sa_namespace);
		if ((ret = group_add(out, "system:serviceaccounts", 22)) ||
		    (ret = group_add(out, grp, strlen(grp))) ||
		    (ret = group_add(out, "system:authenticated", 20)))
			return ret;
	}
	out->claims = json_incref(claims);
	return 0;
}

int jwt_verify(const struct jwt_verifier *v, const char *token, size_t len, uint64_t now_s,
	       struct jwt_identity *out, char *why, size_t whylen)
{
	struct tok t = {.why = why, .whylen = whylen};
	const struct jwt_iss *s = NULL;
	const char *dot1, *dot2, *alg, *iss;
	char q[QUOTE_MAX + 8], when[32];
	enum key_type want = KEY_RSA;
	uint64_t exp = 0, nbf = 0, iat = 0;
	bool bad;
	size_t i;
	int ret = -EACCES, r;

	if (out)
		memset(out, 0, sizeof(*out));
	if (why && whylen)
		why[0] = '\0';
	if (!v || !token || !out)
		return -EINVAL;
	if (len > JWT_MAX_TOKEN) {
		msg(why, whylen, "oversized token: %zu bytes (limit %d)", len, JWT_MAX_TOKEN);
		return -EACCES;
	}
	/* base64url and dots only: also keeps a NUL or a newline out */
	for (i = 0; i < len; i++) {
		if (token[i] != '.' && b64url_val((unsigned char)token[i]) < 0) {
			msg(why, whylen, "malformed token: byte 0x%02x at offset %zu",
			    (unsigned char)token[i], i);
			return -EACCES;
		}
	}
	dot1 = memchr(token, '.', len);
	if (!dot1) {
		msg(why, whylen, "malformed token: not a compact JWS (no '.')");
		return -EACCES;
	}
	/* the header first, so "alg: none" is named whatever follows it */
	ret = segment_json(token, (size_t)(dot1 - token), "header", &t.header, why, whylen);
	if (ret)
		goto out;
	ret = -EACCES;
	alg = str_member(t.header, "alg", &bad);
	if (!alg) {
		msg(why, whylen, "header has no \"alg\" string");
		goto out;
	}
	if (!strcmp(alg, "RS256")) {
		want = KEY_RSA;
	} else if (!strcmp(alg, "ES256")) {
		want = KEY_EC;
	} else if (!strcasecmp(alg, "none")) {
		msg(why, whylen, "alg none refused");
		goto out;
	} else if (!strncmp(alg, "HS", 2)) {
		msg(why, whylen, "HMAC alg %s refused", quote(q, sizeof(q), alg));
		goto out;
	} else {
		msg(why, whylen, "alg \"%s\" not accepted (RS256, ES256 only)",
		    quote(q, sizeof(q), alg));
		goto out;
	}
	/* RFC 7515 §4.1.11: an extension we would have to understand; we know none */
	if (json_object_get(t.header, "crit")) {
		msg(why, whylen, "header has \"crit\": no extension is understood");
		goto out;
	}
	dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
	if (!dot2) {
		msg(why, whylen, "malformed token: 2 segments, want 3");
		goto out;
	}
	if (memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token))) {
		msg(why, whylen, "malformed token: more than 3 segments (JWE is not accepted)");
		goto out;
	}
	ret = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1), "claims", &t.claims, why, whylen);
	if (ret)
		goto out;
	ret = -EACCES;
	if (dot2 + 1 == token + len) {
		msg(why, whylen, "malformed token: no signature");
		goto out;
	}
	r = b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), &t.sig, &t.sig_len);
	if (r) {
		if (r == -ENOMEM)
			ret = r;
		else
			msg(why, whylen, "malformed token: signature is not base64url");
		goto out;
	}
	t.signing = token;
	t.signing_len = (size_t)(dot2 - token);

	iss = str_member(t.claims, "iss", &bad);
	if (!iss) {
		msg(why, whylen, "no \"iss\" claim");
		goto out;
	}
	for (i = 0; i < v->n && !s; i++)
		if (!strcmp(v->iss[i].issuer, iss))
			s = &v->iss[i];
	if (!s) {
		msg(why, whylen, "unknown issuer \"%s\"", quote(q, sizeof(q), iss));
		goto out;
	}
	ret = check_signature(s, &t, want, alg);
	if (ret)
		goto out;
	ret = -EACCES;

	/* signed by the issuer: now its claims count */
	r = time_claim(t.claims, "exp", &exp, why, whylen);
	if (r < 0)
		goto out;
	if (r == 0) {
		msg(why, whylen, "no \"exp\" claim");
		goto out;
	}
	if (now_s >= exp + JWT_SKEW_S) {
		fmt_time(when, sizeof(when), exp);
		msg(why, whylen, "token expired at %s", when);
		goto out;
	}
	r = time_claim(t.claims, "nbf", &nbf, why, whylen);
	if (r < 0)
		goto out;
	if (r == 1 && nbf > JWT_SKEW_S && nbf - JWT_SKEW_S > now_s) {
		fmt_time(when, sizeof(when), nbf);
		msg(why, whylen, "token not valid before %s", when);
		goto out;
	}
	r = time_claim(t.claims, "iat", &iat, why, whylen);
	if (r < 0)
		goto out;
	if (r == 1 && iat > JWT_SKEW_S && iat - JWT_SKEW_S > now_s) {
		fmt_time(when, sizeof(when), iat);
		msg(why, whylen, "token issued in the future (%s)", when);
		goto out;
	}
	if (r == 1 && iat > exp) {
		msg(why, whylen, "token issued after it expires");
		goto out;
	}
	ret = check_aud(s, json_object_get(t.claims, "aud"), why, whylen);
	if (ret)
		goto out;
	ret = identity_fill(s, t.claims, exp, out, why, whylen);
out:
	if (ret == -ENOMEM)
		msg(why, whylen, "out of memory");
	if (ret)
		jwt_identity_clear(out);
	free(t.sig);
	json_decref(t.header);
	json_decref(t.claims);
	ERR_clear_error();
	return ret;
}

/* ---- client certificates ------------------------------------------------ */

void x509id_ca_free(struct x509id_ca *ca)
{
	if (!ca)
		return;
	X509_STORE_free(ca->store);
	free(ca);
}

struct x509id_ca *x509id_ca_new(const char *ca_file, char *err, size_t errlen)
{
	struct x509id_ca *ca = calloc(1, sizeof(*ca));
	char ebuf[200];

	if (!ca) {
		msg(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	ERR_clear_error();
	ca->store = X509_STORE_new();
	if (!ca->store || !ca_file || X509_STORE_load_file(ca->store, ca_file) != 1) {
		msg(err, errlen, "%s: no CA certificate loaded: %s", ca_file ? ca_file : "(null)",
		    ssl_reason(ebuf, sizeof(ebuf)));
		x509id_ca_free(ca);
		errno = EINVAL;
		return NULL;
	}
	return ca;
}

static uint64_t asn1_time_epoch(const ASN1_TIME *t)
{
	struct tm tm;
	time_t e;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	e = timegm(&tm);
	return e < 0 ? 0 : (uint64_t)e;
}

/* A name entry as a new UTF-8 C string; NULL if empty, not UTF-8 or holding a NUL. */
static char *entry_utf8(X509_NAME_ENTRY *e)
{
	unsigned char *u = NULL;
	char *s = NULL;
	int n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(e));

	if (n > 0 && memchr(u, '\0', (size_t)n) == NULL)
		s = strndup((const char *)u, (size_t)n);
	OPENSSL_free(u);
	return s;
}

static char *name_rfc2253(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *s = NULL;
	long n;

	if (!b)
		return NULL;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
		n = BIO_get_mem_data(b, &data);
		if (n >= 0)
			s = strndup(n ? data : "", (size_t)n);
	}
	BIO_free(b);
	return s;
}

/* The audit record of a certificate. Returns a new object or NULL. */
static json_t *cert_claims(X509 *x, const char *subject, const char *issuer)
{
	const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
	BIGNUM *bn = serial ? ASN1_INTEGER_to_BN(serial, NULL) : NULL;
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	unsigned char md[32];
	unsigned int mdlen = sizeof(md), i;
	char fp[65];
	json_t *j = NULL;

	if (!hex || !X509_digest(x, EVP_sha256(), md, &mdlen))
		goto out;
	for (i = 0; i < mdlen; i++)
		snprintf(fp + 2 * i, 3, "%02x", md[i]);
	j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "subject", subject, "issuer", issuer,
		      "serial", hex, "not_before",
		      (json_int_t)asn1_time_epoch(X509_get0_notBefore(x)), "not_after",
		      (json_int_t)asn1_time_epoch(X509_get0_notAfter(x)), "sha256", fp);
out:
	OPENSSL_free(hex);
	BN_free(bn);
	return j;
}

int x509id_from_cert(X509 *leaf, struct jwt_identity *out, char *why, size_t whylen)
{
	const X509_NAME *subj;
	char *subject = NULL, *v;
	int i, n, ret = -EACCES;

	if (out)
		memset(out, 0, sizeof(*out));
	if (why && whylen)
		why[0] = '\0';
	if (!leaf || !out)
		return -EINVAL;
	subj = X509_get_subject_name(leaf);
	n = X509_NAME_entry_count(subj);
	for (i = 0; i < n; i++) {
		X509_NAME_ENTRY *e = X509_NAME_get_entry(subj, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));

		if (nid != NID_commonName && nid != NID_organizationName)
			continue;
		v = entry_utf8(e);
		if (!v) {
			msg(why, whylen,
			    "certificate subject %s is empty, not UTF-8 or holds a NUL",
			    nid == NID_commonName ? "CN" : "O");
			goto out;
		}
		if (nid == NID_commonName) {
			if (out->user) {
				free(v);
				msg(why, whylen, "certificate subject has several CNs");
				goto out;
			}
			out->user = v;
		} else {
			ret = group_add(out, v, strlen(v));
			free(v);
			if (ret)
				goto out;
			ret = -EACCES;
		}
	}
	if (!out->user) {
		msg(why, whylen, "certificate subject has no CN");
		goto out;
	}
	subject = name_rfc2253(subj);
	out->issuer = name_rfc2253(X509_get_issuer_name(leaf));
	if (!subject || !out->issuer)
		goto nomem;
	out->claims = cert_claims(leaf, subject, out->issuer);
	if (!out->claims)
		goto nomem;
	out->expires = asn1_time_epoch(X509_get0_notAfter(leaf));
	out->source = JWT_SRC_CERT;
	ret = 0;
	goto out;
nomem:
	ret = -ENOMEM;
out:
	if (ret == -ENOMEM)
		msg(why, whylen, "out of memory");
	free(subject);
	if (ret)
		jwt_identity_clear(out);
	ERR_clear_error();
	return ret;
}

int x509id_verify(const struct x509id_ca *ca, X509 *leaf, STACK_OF(X509) * chain, uint64_t now_s,
		  struct jwt_identity *out, char *why, size_t whylen)
{
	X509_STORE_CTX *ctx = NULL;
	X509_VERIFY_PARAM *param;
	int ret = -EACCES, e;

	if (out)
		memset(out, 0, sizeof(*out));
	if (why && whylen)
		why[0] = '\0';
	if (!ca || !leaf || !out)
		return -EINVAL;
	ERR_clear_error();
	ctx = X509_STORE_CTX_new();
	if (!ctx || !X509_STORE_CTX_init(ctx, ca->store, leaf, chain)) {
		ret = -ENOMEM;
		msg(why, whylen, "out of memory");
		goto out;
	}
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(param, (time_t)now_s);
	/* a server-only certificate (EKU without clientAuth) is no client's identity */
	X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_CLIENT);
	if (X509_verify_cert(ctx) != 1) {
		e = X509_STORE_CTX_get_error(ctx);
		int depth = X509_STORE_CTX_get_error_depth(ctx);

		if (e == X509_V_ERR_CERT_HAS_EXPIRED)
			msg(why, whylen, "%scertificate has expired", depth ? "CA " : "");
		else if (e == X509_V_ERR_CERT_NOT_YET_VALID)
			msg(why, whylen, "%scertificate is not yet valid", depth ? "CA " : "");
		else
			msg(why, whylen, "untrusted certificate (depth %d): %s", depth,
			    X509_verify_cert_error_string(e));
		goto out;
	}
	ret = x509id_from_cert(leaf, out, why, whylen);
out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return ret;
}
