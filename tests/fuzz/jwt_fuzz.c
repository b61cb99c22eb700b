// SPDX-License-Identifier: BSD-2-Clause
/*
 * Fuzz target for userspace/jwt.c: hostile tokens, key files and client
 * certificates.
 *
 * Input: one control byte, then the bytes.
 *   control % 3 == 0: a bearer token, verified at 2026-01-01T00:00:00Z
 *     against two issuers: "https://pem.test" (the RSA and EC keys below,
 *     as PEM) and "https://jwks.test" (the same keys as a JWKS, kids "r0"
 *     and "e0"), audience "sluice";
 *   control % 3 == 1: a key file (PEM or JWKS) for jwt_verifier_new();
 *   control % 3 == 2: a DER certificate for x509id_from_cert() and
 *     x509id_verify() against the certificate below as the CA.
 * The seed corpus (tests/fuzz/corpus/jwt) holds valid tokens signed with
 * the private halves of these keys (since thrown away), so mutations start
 * from tokens that reach the claim checks.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *	-Iuserspace tests/fuzz/jwt_fuzz.c userspace/jwt.c -lssl -lcrypto -ljansson -lm \
 *	-o build/jwt_fuzz && build/jwt_fuzz tests/fuzz/corpus/jwt
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
#include <openssl/x509.h>

#include "jwt.h"

#define NOW	1767225600ULL

static const char keys_pem[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwnr7+PstRuPl/kCsWzYc\n"
	"ZSg9R+ZYdc8XYXPhmkuMLiQSuAz040hPi+zkC9CThrYKlmvxr3Y+RTZsQh1ZxgMp\n"
	"819OFRg7i1M2AXi5sb1kipvAK43VduDPf/D4TO9qqUF2zk8SDastkj3PpU8k8w0J\n"
	"ugGGgBXlFgvFncSGUJCEzDiYMNda2LfedD8Q1CmN28MZXbgXF2T3UxmDKkkVQi19\n"
	"v9TuV1d85nSn1hM1aSmKd549Vg/3CTrLnSr/TprO2GOFEj6hSuXGqSpAUaM+vthx\n"
	"J0+2H2Jf0WGA0QTgESpZPzTXk4yoXAJSsEGbZCB7MmNbbGjKqWFerUejJ6CVAitD\n"
	"ywIDAQAB\n"
	"-----END PUBLIC KEY-----\n"
	"-----BEGIN PUBLIC KEY-----\n"
	"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEQQJp1kGJmp9ouEdqYRpjyPLJUtQ/\n"
	"8Y1DECgMubFXXKvRTuqWZ1mfYc05T5vgEpjH8s0SR7UhZIYV/v9T4dnODg==\n"
	"-----END PUBLIC KEY-----\n";

static const char keys_jwks[] =
	"{\n"
	" \"keys\": [\n"
	"  {\n"
	"   \"kty\": \"RSA\",\n"
	"   \"kid\": \"r0\",\n"
	"   \"use\": \"sig\",\n"
	"   \"alg\": \"RS256\",\n"
	"   \"n\": \"wnr7-PstRuPl_kCsWzYcZSg9R-ZYdc8XYXPhmkuMLiQSuAz040hPi-zkC9CThrYKlmvxr3Y-RTZsQh1ZxgMp819OFRg7i1M2AXi5sb1kipvAK43VduDPf_D4TO9qqUF2zk8SDastkj3PpU8k8w0JugGGgBXlFgvFncSGUJCEzDiYMNda2LfedD8Q1CmN28MZXbgXF2T3UxmDKkkVQi19v9TuV1d85nSn1hM1aSmKd549Vg_3CTrLnSr_TprO2GOFEj6hSuXGqSpAUaM-vthxJ0-2H2Jf0WGA0QTgESpZPzTXk4yoXAJSsEGbZCB7MmNbbGjKqWFerUejJ6CVAitDyw\",\n"
	"   \"e\": \"AQAB\"\n"
	"  },\n"
	"  {\n"
	"   \"kty\": \"EC\",\n"
	"   \"kid\": \"e0\",\n"
	"   \"crv\": \"P-256\",\n"
	"   \"x\": \"QQJp1kGJmp9ouEdqYRpjyPLJUtQ_8Y1DECgMubFXXKs\",\n"
	"   \"y\": \"0U7qlmdZn2HNOU-b4BKYx_LNEke1IWSGFf7_U-HZzg4\"\n"
	"  }\n"
	" ]\n"
	"}";

static const char ca_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBRjCB7aADAgECAgEBMAoGCCqGSM49BAMCMC0xDTALBgNVBAoMBGRldnMxDDAK\n"
	"BgNVBAoMA29wczEOMAwGA1UEAwwFYWxpY2UwHhcNMjUwMTAxMDAwMDAwWhcNMjcw\n"
	"MTAxMDAwMDAwWjAtMQ0wCwYDVQQKDARkZXZzMQwwCgYDVQQKDANvcHMxDjAMBgNV\n"
	"BAMMBWFsaWNlMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEQQJp1kGJmp9ouEdq\n"
	"YRpjyPLJUtQ/8Y1DECgMubFXXKvRTuqWZ1mfYc05T5vgEpjH8s0SR7UhZIYV/v9T\n"
	"4dnODjAKBggqhkjOPQQDAgNIADBFAiB9ei60UP3u9yOjOmh30dyIrsV5tA4SFvBj\n"
	"fUD6hSWAcwIhAOkVfThXJFhmcgk83J9w2NA6U8WrwhhmulW8ul3I9GyE\n"
	"-----END CERTIFICATE-----\n";

static char dir[64];
static struct jwt_verifier *ver;
static struct x509id_ca *ca;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	jwt_verifier_free(ver);
	x509id_ca_free(ca);
	if (dir[0])
		nftw(dir, rm_one, 4, FTW_DEPTH | FTW_PHYS);
}

static const char *put(const char *name, const void *data, size_t len)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "jwt_fuzz: cannot write %s\n", path);
		exit(1);
	}
	return path;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const auds[] = { "sluice" };
	char pem[128], jwks[128], err[512];
	struct jwt_issuer_cfg iss[2] = {
		{ "https://pem.test", auds, 1, pem },
		{ "https://jwks.test", auds, 1, jwks },
	};

	(void)argc;
	(void)argv;
	strcpy(dir, "/tmp/sluice-jwt-fuzz-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("jwt_fuzz: mkdtemp");
		exit(1);
	}
	atexit(cleanup);
	snprintf(pem, sizeof(pem), "%s", put("keys.pem", keys_pem, sizeof(keys_pem) - 1));
	snprintf(jwks, sizeof(jwks), "%s", put("keys.json", keys_jwks, sizeof(keys_jwks) - 1));
	ver = jwt_verifier_new(iss, 2, err, sizeof(err));
	ca = x509id_ca_new(put("ca.pem", ca_pem, sizeof(ca_pem) - 1), err, sizeof(err));
	if (!ver || !ca) {
		fprintf(stderr, "jwt_fuzz: %s\n", err);
		exit(1);
	}
	return 0;
}

/* What every result promises, whatever the input. */
static void check(int r, const struct jwt_identity *id, const char *why)
{
	if (r == 0) {
		if (!id->user || !id->issuer || !id->claims || id->source == JWT_SRC_NONE)
			abort();
	} else {
		if ((r != -EACCES && r != -ENOMEM) || !why[0])
			abort();	/* a refusal must say why */
		if (id->user || id->groups || id->claims || id->issuer)
			abort();	/* and leave nothing behind */
	}
	if (ERR_peek_error())
		abort();	/* nothing left on this thread's error queue */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const auds[] = { "sluice" };
	struct jwt_identity id = { 0 };
	struct jwt_issuer_cfg iss = { "https://x.test", auds, 1, NULL };
	struct jwt_verifier *v;
	const unsigned char *p;
	char why[256], err[512];
	X509 *x;
	int r;

	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		r = jwt_verify(ver, (const char *)data + 1, size - 1, NOW, &id, why, sizeof(why));
		check(r, &id, why);
		jwt_identity_clear(&id);
		break;
	case 1:
		iss.keys = put("fuzz.keys", data + 1, size - 1);
		err[0] = '\0';
		v = jwt_verifier_new(&iss, 1, err, sizeof(err));
		if (!v && !err[0])
			abort();
		jwt_verifier_free(v);
		if (ERR_peek_error())
			abort();
		break;
	case 2:
		p = data + 1;
		x = d2i_X509(NULL, &p, (long)(size - 1));
		ERR_clear_error();
		if (!x)
			break;
		r = x509id_from_cert(x, &id, why, sizeof(why));
		check(r, &id, why);
		jwt_identity_clear(&id);
		r = x509id_verify(ca, x, NULL, NOW, &id, why, sizeof(why));
		check(r, &id, why);
		jwt_identity_clear(&id);
		X509_free(x);
		break;
	}
	return 0;
}
