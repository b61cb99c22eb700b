/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Presented identity (DESIGN §3): a JWT bearer token verified offline
 * against configured issuers (jwt_*), or an X.509 client certificate
 * (x509id_*). Both yield the same struct jwt_identity, so the policy engine
 * sees one shape whichever credential the agent presented.
 *
 * Crypto is OpenSSL 3, JSON is jansson; nothing is fetched over the network
 * (no JWKS URLs, no "jku"/"x5u"/"jwk" headers: keys come from files only).
 * A verifier and a CA are read-only once built: any number of threads may
 * verify with the same one at once.
 */
#ifndef SLUICE_JWT_H
#define SLUICE_JWT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <openssl/x509.h>

/* Longest token accepted, in bytes; longer ones are refused unparsed. */
#define JWT_MAX_TOKEN 16384
/* Clock skew allowed on exp, nbf and iat, in seconds. */
#define JWT_SKEW_S 60
/* Keys one issuer may have (a kid-less token is tried against each). */
#define JWT_MAX_KEYS 64

/* One configured issuer (the "identity.issuers[]" entries of DESIGN §9). */
struct jwt_issuer_cfg {
	const char *issuer;	      /* compared byte for byte with "iss" */
	const char *const *audiences; /* at least one; "aud" must name one */
	size_t n_audiences;
	/*
	 * A file holding the issuer's public keys: PEM ("PUBLIC KEY",
	 * "RSA PUBLIC KEY" or "CERTIFICATE" blocks, one or several), or a
	 * JWKS document ({"keys": [...]}). RSA of 2048 bits or more, and EC
	 * on P-256, only.
	 */
	const char *keys;
};

enum jwt_source {
	JWT_SRC_NONE = 0,
	JWT_SRC_TOKEN, /* a verified JWT */
	JWT_SRC_CERT,  /* a verified client certificate */
};

/*
 * Who the credential says the caller is. Every pointer is owned by the
 * struct; release them all with jwt_identity_clear().
 */
struct jwt_identity {
	enum jwt_source source;
	char *user;    /* token: "sub"; certificate: the subject's CN */
	char **groups; /* token: "groups" (+ service-account groups); cert: every O */
	size_t n_groups;
	char *issuer;	  /* token: "iss"; certificate: issuer DN (RFC 2253) */
	uint64_t expires; /* token: "exp"; certificate: notAfter (Unix seconds) */
	/* Kubernetes service-account tokens ("system:serviceaccount:<ns>:<name>"), else NULL. */
	char *sa_namespace;
	char *sa_name;
	/*
	 * For the audit record: a token's whole claims object, or for a
	 * certificate {"subject","issuer","serial","not_before","not_after",
	 * "sha256"}. Owned: json_incref() it to keep it past jwt_identity_clear().
	 */
	json_t *claims;
};

/* Free what id holds and zero it. Accepts NULL and an already-clear id. */
void jwt_identity_clear(struct jwt_identity *id);

struct jwt_verifier;

/*
 * A verifier for the n issuers in iss[]: every key file is read and every
 * key checked now, so a bad file is a startup error rather than a refusal
 * later. Keys read from PEM carry no kid of their own; each is given the
 * kid Kubernetes puts in its service-account tokens (base64url of the
 * SHA-256 of the key's DER SubjectPublicKeyInfo), so such tokens verify
 * against the plain sa.pub. A JWKS key without a kid is only used for
 * tokens without one. Keys of other types in a JWKS ("oct", "OKP", other
 * curves, "use": "enc", an "alg" other than RS256/ES256) are skipped; a
 * file left with no usable key is an error, as is an issuer without
 * audiences, a repeated issuer or a kid used twice by one issuer.
 * Returns NULL with errno set and a message naming the issuer or file in
 * err. Caller frees with jwt_verifier_free().
 */
struct jwt_verifier *jwt_verifier_new(const struct jwt_issuer_cfg *iss, size_t n, char *err,
				      size_t errlen);
void jwt_verifier_free(struct jwt_verifier *v);

/*
 * Verify a compact-serialized JWS token (the bytes after "Bearer ") at time
 * now_s (Unix seconds). Accepted only when all of these hold:
 *  - at most JWT_MAX_TOKEN bytes; three strict base64url segments (no
 *    padding, no other characters, no stray trailing bits);
 *  - the header is a JSON object with "alg" RS256 or ES256 ("none", HS*
 *    and everything else refused) and no "crit";
 *  - the claims are a JSON object whose "iss" is a configured issuer;
 *  - a "kid" in the header names one of that issuer's keys, of the type
 *    the alg needs, and the signature verifies with it; without a "kid",
 *    the signature verifies with one of the issuer's keys of that type;
 *  - "exp" is present and now_s < exp + JWT_SKEW_S; "nbf", if present,
 *    <= now_s + JWT_SKEW_S; "iat", if present, <= now_s + JWT_SKEW_S and
 *    not after exp (all NumericDates, 0 to year 9999);
 *  - "aud" (a string or an array of strings) names one of the issuer's
 *    audiences;
 *  - "sub" is a non-empty string; "groups", if present, an array of strings.
 * JSON with a repeated member name is refused (jansson also refuses
 * "\u0000" in strings, so every string compared here is the whole string).
 * A "sub" of "system:serviceaccount:<ns>:<name>" is a Kubernetes service
 * account: sa_namespace/sa_name are set and the groups
 * "system:serviceaccounts", "system:serviceaccounts:<ns>" and
 * "system:authenticated" are added (after "groups", without duplicates).
 *
 * Returns 0 and fills out (release with jwt_identity_clear()); -EACCES when
 * the token is refused, with the reason in why ("token expired at
 * 2026-01-02T03:04:05Z", "audience mismatch", "unknown kid \"x\"", ...);
 * -ENOMEM; -EINVAL for NULL arguments. out is overwritten, not freed
 * (jwt_identity_clear() one that held an identity first); on failure it is
 * left zeroed.
 */
int jwt_verify(const struct jwt_verifier *v, const char *token, size_t len, uint64_t now_s,
	       struct jwt_identity *out, char *why, size_t whylen);

struct x509id_ca;

/*
 * The CAs client certificates are verified against: every certificate in
 * the PEM file ca_file (the "identity.client_ca" of DESIGN §9). Returns
 * NULL with errno set and a message in err. Free with x509id_ca_free().
 */
struct x509id_ca *x509id_ca_new(const char *ca_file, char *err, size_t errlen);
void x509id_ca_free(struct x509id_ca *ca);

/*
 * Verify leaf (borrowed), with optional untrusted intermediates chain
 * (borrowed, may be NULL), against ca at time now_s for TLS client use,
 * then take its identity as x509id_from_cert() does. For a certificate TLS
 * has not already verified. Returns 0 and fills out; -EACCES with the
 * reason in why ("certificate has expired", "not yet valid", "untrusted:
 * ..."); -ENOMEM; -EINVAL. out as for jwt_verify(): overwritten, zeroed
 * on failure.
 */
int x509id_verify(const struct x509id_ca *ca, X509 *leaf, STACK_OF(X509) * chain, uint64_t now_s,
		  struct jwt_identity *out, char *why, size_t whylen);

/*
 * The identity in an already verified certificate (e.g. the peer
 * certificate of a TLS session whose handshake checked it against the
 * client CA): the subject's one CN is the user, every O a group, in order.
 * No CN, several CNs, or a CN or O that is empty, not UTF-8 or holds a NUL
 * is refused. Returns 0, -EACCES with why, -ENOMEM or -EINVAL; out as for
 * jwt_verify().
 */
int x509id_from_cert(X509 *leaf, struct jwt_identity *out, char *why, size_t whylen);

#endif
