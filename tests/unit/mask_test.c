// SPDX-License-Identifier: BSD-2-Clause
/*
 * userspace/mask.c: each text pattern (matches, near misses, several in one
 * text, overlaps), column names, Kubernetes Secrets in every envelope the
 * API server uses, the spec's own operations, and the failures that make a
 * caller withhold a response.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>

#include "mask.h"

static char err[256];

/* A spec with the given patterns ("email", ...), NULL-terminated. */
static struct mask_spec *spec_of(const char *kind, ...)
{
	struct mask_spec *s = mask_spec_new();
	va_list ap;

	cr_assert_not_null(s);
	va_start(ap, kind);
	for (const char *k = kind; k; k = va_arg(ap, const char *)) {
		const char *v = va_arg(ap, const char *);

		cr_assert_eq(mask_spec_add(s, k, v, err, sizeof(err)), 0, "%s %s: %s", k, v, err);
	}
	va_end(ap);
	return s;
}

static struct mask_spec *all_patterns(void)
{
	return spec_of("pattern", "email", "pattern", "credit-card", "pattern", "bearer-token",
		       "pattern", "jwt", "pattern", "private-key", NULL);
}

/* mask_text(s, in) must give want with n replacements. */
static void masks_to(const struct mask_spec *s, const char *in, const char *want, int n)
{
	size_t len = strlen(in), outlen = 99999;
	char *out = malloc(len + 1);
	int r;

	cr_assert_not_null(out);
	r = mask_text(s, in, len, out, len, &outlen);
	cr_assert_geq(r, 0, "mask_text(\"%s\") = %d", in, r);
	cr_assert_leq(outlen, len);
	out[outlen] = '\0';
	cr_assert_str_eq(out, want, "in:   \"%s\"", in);
	cr_assert_eq(r, n, "\"%s\": %d replacements, want %d", in, r, n);
	free(out);
}

static void unchanged(const struct mask_spec *s, const char *in)
{
	masks_to(s, in, in, 0);
}

/* ------------------------------------------------------------- email */

Test(mask_email, positives)
{
	struct mask_spec *s = spec_of("pattern", "email", NULL);

	masks_to(s, "bob@example.com", "****", 1);
	masks_to(s, "contact bob@example.com now", "contact **** now", 1);
	masks_to(s, "<alice.smith+tag@mail.example.co.uk>", "<****>", 1);
	masks_to(s, "mailto:a_b-c%d@sub-domain.example.org;", "mailto:****;", 1);
	/* a sentence's full stop is not part of the domain */
	masks_to(s, "write to bob@example.com.", "write to ****.", 1);
	masks_to(s, "a@b.co,c@d.io d@e.museum", "****,**** ****", 3);
	masks_to(s, "x\"bob@example.com\"y", "x\"****\"y", 1);
	mask_spec_free(s);
}

Test(mask_email, near_misses)
{
	struct mask_spec *s = spec_of("pattern", "email", NULL);

	unchanged(s, "bob@localhost");
	unchanged(s, "bob@1.2.3.4");
	unchanged(s, "@example.com");
	unchanged(s, "bob@.com");
	unchanged(s, "bob@example.c");
	unchanged(s, "bob at example dot com");
	unchanged(s, "user@host.123");
	unchanged(s, "");
	mask_spec_free(s);
}

Test(mask_email, only_patterns_asked_for)
{
	struct mask_spec *s = spec_of("pattern", "email", NULL);

	/* the card stays: this spec has no credit-card pattern */
	masks_to(s, "bob@example.com 4111111111111111", "**** 4111111111111111", 1);
	mask_spec_free(s);
}

/* ------------------------------------------------------- credit cards */

Test(mask_card, positives)
{
	struct mask_spec *s = spec_of("pattern", "credit-card", NULL);

	masks_to(s, "4111111111111111", "****", 1);
	masks_to(s, "4111 1111 1111 1111", "****", 1);
	masks_to(s, "4111-1111-1111-1111", "****", 1);
	masks_to(s, "card: 4111111111111111, exp 12/29", "card: ****, exp 12/29", 1);
	masks_to(s, "amex 378282246310005.", "amex ****.", 1);	/* 15 digits */
	masks_to(s, "visa13 4222222222222", "visa13 ****", 1);	/* 13 digits */
	masks_to(s, "n=1234567890123456785", "n=****", 1);	/* 19 digits */
	masks_to(s, "4111111111111111 and 6011000990139424", "**** and ****", 2);
	masks_to(s, "(4111 1111 1111 1111)", "(****)", 1);
	mask_spec_free(s);
}

Test(mask_card, near_misses)
{
	struct mask_spec *s = spec_of("pattern", "credit-card", NULL);

	unchanged(s, "4111111111111112");		/* fails Luhn */
	unchanged(s, "4111 1111 1111 1112");
	unchanged(s, "123456789015");			/* 12 digits, passes Luhn */
	unchanged(s, "41111111111111112220");		/* 20 digits, passes Luhn */
	unchanged(s, "ID4111111111111111");		/* inside a word */
	unchanged(s, "4111111111111111abc");
	unchanged(s, "4111111111111111_x");
	unchanged(s, "3.4111111111111111");		/* a decimal */
	unchanged(s, "4111  1111 1111 1111");		/* two blanks: not one number */
	unchanged(s, "4111--1111-1111-1111");
	unchanged(s, "4111.1111.1111.1111");
	mask_spec_free(s);
}

Test(mask_card, longest_passing_prefix)
{
	struct mask_spec *s = spec_of("pattern", "credit-card", NULL);

	/* 16 digits pass, the 20-digit run does not: the card is masked, the
	 * trailing group stays */
	masks_to(s, "4111 1111 1111 1111 2222", "**** 2222", 1);
	mask_spec_free(s);
}

/* ------------------------------------------------------ bearer tokens */

Test(mask_bearer, positives)
{
	struct mask_spec *s = spec_of("pattern", "bearer-token", NULL);

	masks_to(s, "Authorization: Bearer abcdefgh12345678", "Authorization: Bearer ****", 1);
	masks_to(s, "authorization: bearer abc.DEF-ghi_jkl~mno+pq/r==\r\n",
		 "authorization: bearer ****\r\n", 1);
	masks_to(s, "BEARER\t\tsecret-token-value x", "BEARER\t\t**** x", 1);
	masks_to(s, "Bearer 12345678, Bearer abcdefgh", "Bearer ****, Bearer ****", 2);
	mask_spec_free(s);
}

Test(mask_bearer, near_misses)
{
	struct mask_spec *s = spec_of("pattern", "bearer-token", NULL);

	unchanged(s, "Bearer abc1234");		/* 7 characters: too short */
	unchanged(s, "Bearer");
	unchanged(s, "Bearer ");
	unchanged(s, "NotBearer abcdefghijkl");
	unchanged(s, "Bearerabcdefghijkl");
	unchanged(s, "Basic dXNlcjpwYXNzd29yZA==");
	mask_spec_free(s);
}

/* -------------------------------------------------------------- JWTs */

#define JWT_H "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ"
#define JWT_P "eyJzdWIiOiJhbGljZSIsImV4cCI6MTcwMDAwMDAwMH0"
#define JWT_S "c2lnbmF0dXJlLWJ5dGVzLWhlcmU_-x"

Test(mask_jwt, positives)
{
	struct mask_spec *s = spec_of("pattern", "jwt", NULL);

	masks_to(s, JWT_H "." JWT_P "." JWT_S, "****", 1);
	masks_to(s, "token=" JWT_H "." JWT_P "." JWT_S "&next=1", "token=****&next=1", 1);
	/* alg none: no signature */
	masks_to(s, "\"" JWT_H "." JWT_P ".\"", "\"****\"", 1);
	masks_to(s, JWT_H "." JWT_P "." JWT_S " " JWT_H "." JWT_P "." JWT_S, "**** ****", 2);
	mask_spec_free(s);
}

Test(mask_jwt, near_misses)
{
	struct mask_spec *s = spec_of("pattern", "jwt", NULL);

	unchanged(s, JWT_H "." JWT_P);				/* two segments */
	unchanged(s, JWT_H ".bm90LWpzb24." JWT_S);		/* payload not eyJ */
	unchanged(s, "x" JWT_H "." JWT_P "." JWT_S);		/* inside a longer run */
	unchanged(s, "eyJ");
	unchanged(s, "eyJ.eyJ");
	mask_spec_free(s);
}

/* ------------------------------------------------------- private keys */

Test(mask_private_key, blocks)
{
	struct mask_spec *s = spec_of("pattern", "private-key", NULL);

	masks_to(s,
		 "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nq0Zz==\n"
		 "-----END RSA PRIVATE KEY-----\nafter",
		 "before\n****\nafter", 1);
	masks_to(s, "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----",
		 "****", 1);
	masks_to(s,
		 "k: -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n"
		 "-----END OPENSSH PRIVATE KEY----- ; "
		 "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----",
		 "k: **** ; ****", 2);
	/* inside a JSON string, newlines escaped */
	masks_to(s,
		 "{\"key\":\"-----BEGIN ENCRYPTED PRIVATE KEY-----\\nMIIFHz\\n"
		 "-----END ENCRYPTED PRIVATE KEY-----\\n\"}",
		 "{\"key\":\"****\\n\"}", 1);
	mask_spec_free(s);
}

Test(mask_private_key, cut_block_masked_to_the_end)
{
	struct mask_spec *s = spec_of("pattern", "private-key", NULL);

	masks_to(s, "log: -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nq0Zz", "log: ****",
		 1);
	/* an END of something else does not close it */
	masks_to(s,
		 "-----BEGIN PRIVATE KEY-----\nabc\n-----END CERTIFICATE-----\nstill key",
		 "****", 1);
	mask_spec_free(s);
}

Test(mask_private_key, near_misses)
{
	struct mask_spec *s = spec_of("pattern", "private-key", NULL);

	unchanged(s, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----");
	unchanged(s, "-----BEGIN PUBLIC KEY-----\nMCow\n-----END PUBLIC KEY-----");
	unchanged(s, "-----BEGIN private key-----\nabc\n-----END private key-----");
	unchanged(s, "----BEGIN PRIVATE KEY-----");
	mask_spec_free(s);
}

/* ------------------------------------------------ several and overlaps */

Test(mask_text, several_patterns_in_one_text)
{
	struct mask_spec *s = all_patterns();

	masks_to(s,
		 "user bob@example.com paid with 4111 1111 1111 1111 using "
		 "Authorization: Bearer " JWT_H "." JWT_P "." JWT_S " and " JWT_H "." JWT_P
		 "." JWT_S,
		 "user **** paid with **** using Authorization: Bearer **** and ****", 4);
	mask_spec_free(s);
}

Test(mask_text, overlaps_mask_once)
{
	struct mask_spec *s = all_patterns();

	/* the JWT is the bearer token: one replacement, the word kept */
	masks_to(s, "Bearer " JWT_H "." JWT_P "." JWT_S, "Bearer ****", 1);
	/* an email inside a key block: the block wins */
	masks_to(s,
		 "-----BEGIN PRIVATE KEY-----\nbob@example.com\n-----END PRIVATE KEY-----",
		 "****", 1);
	/* a card number as an email's local part: the longer match wins */
	masks_to(s, "4111111111111111@example.com", "****", 1);
	/* an email whose domain looks like a JWT start */
	masks_to(s, "a@eyJb.eyJc.com", "****", 1);
	mask_spec_free(s);
}

Test(mask_text, null_spec_and_no_patterns_copy)
{
	struct mask_spec *cols = spec_of("sql_column", "email", NULL);

	unchanged(NULL, "bob@example.com 4111111111111111");
	unchanged(cols, "bob@example.com 4111111111111111");
	mask_spec_free(cols);
}

Test(mask_text, capacity_exhausted)
{
	struct mask_spec *s = all_patterns();
	const char *in = "mail bob@example.com";	/* 20 bytes -> "mail ****": 9 */
	char out[64];
	size_t outlen = 77;

	cr_assert_eq(mask_text(s, in, strlen(in), out, 8, &outlen), -ENOSPC);
	cr_assert_eq(mask_text(s, in, strlen(in), out, 4, &outlen), -ENOSPC);
	cr_assert_eq(mask_text(s, in, strlen(in), out, 0, &outlen), -ENOSPC);
	cr_assert_eq(mask_text(s, in, strlen(in), out, 9, &outlen), 1);
	cr_assert_eq(outlen, 9);
	cr_assert(!memcmp(out, "mail ****", 9));
	/* nothing to mask: the copy itself needs the room */
	cr_assert_eq(mask_text(s, "plain text", 10, out, 9, &outlen), -ENOSPC);
	cr_assert_eq(mask_text(NULL, "plain text", 10, out, 9, &outlen), -ENOSPC);
	cr_assert_eq(mask_text(s, "", 0, out, 0, &outlen), 0);
	cr_assert_eq(outlen, 0);
	mask_spec_free(s);
}

Test(mask_text, bad_arguments)
{
	char out[8];
	size_t outlen;

	cr_assert_eq(mask_text(NULL, NULL, 0, out, sizeof(out), &outlen), -EINVAL);
	cr_assert_eq(mask_text(NULL, "x", 1, NULL, 0, &outlen), -EINVAL);
	cr_assert_eq(mask_text(NULL, "x", 1, out, sizeof(out), NULL), -EINVAL);
}

/* The promise callers size buffers by: never longer, never out of bounds. */
Test(mask_text, never_grows_random_input)
{
	static const char alphabet[] = "0123456789 -@.abceyJBr:/=_+\n-----BEGIN PRIVATEKY";
	struct mask_spec *s = all_patterns();
	uint64_t x = 88172645463325252ull;
	int total = 0;

	for (int round = 0; round < 3000; round++) {
		size_t len, outlen;
		char *in, *out;
		int r;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		len = x % 200;
		in = malloc(len + 1);
		out = malloc(len + 1);
		cr_assert(in && out);
		for (size_t i = 0; i < len; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			in[i] = alphabet[x % (sizeof(alphabet) - 1)];
		}
		/* seed some real matches among the noise */
		if (round % 3 == 0 && len > 40)
			memcpy(in + len / 2 - 20, " 4111111111111111 bob@example.com ", 34);
		r = mask_text(s, in, len, out, len, &outlen);
		cr_assert_geq(r, 0, "round %d: %d", round, r);
		cr_assert_leq(outlen, len);
		total += r;
		free(in);
		free(out);
	}
	cr_assert_gt(total, 1000, "the seeded matches were found: %d", total);
	mask_spec_free(s);
}

/* ------------------------------------------------------------ columns */

Test(mask_column, names_and_globs)
{
	struct mask_spec *s = spec_of("sql_column", "email", "sql_column", "*ssn*", NULL);

	cr_assert(mask_column_matches(s, "email", 5));
	cr_assert(mask_column_matches(s, "EMAIL", 5));
	cr_assert(mask_column_matches(s, "Email", 5));
	cr_assert(!mask_column_matches(s, "emails", 6));
	cr_assert(!mask_column_matches(s, "e_mail", 6));
	cr_assert(mask_column_matches(s, "customer_ssn_hash", 17));
	cr_assert(mask_column_matches(s, "SSN", 3));
	cr_assert(!mask_column_matches(s, "name", 4));
	/* not NUL-terminated: the length decides */
	cr_assert(mask_column_matches(s, "emailXYZ", 5));
	cr_assert(!mask_column_matches(s, "emailXYZ", 8));
	mask_spec_free(s);
}

Test(mask_column, fail_closed)
{
	struct mask_spec *s = spec_of("sql_column", "email", NULL);
	struct mask_spec *p = spec_of("pattern", "email", NULL);
	char longname[2000];

	memset(longname, 'a', sizeof(longname));
	cr_assert(mask_column_matches(s, longname, sizeof(longname)));
	cr_assert(mask_column_matches(s, "em\0ail", 6));
	cr_assert(!mask_column_matches(p, longname, sizeof(longname)));	/* no column entries */
	cr_assert(!mask_column_matches(NULL, "email", 5));
	mask_spec_free(s);
	mask_spec_free(p);
}

/* --------------------------------------------------------- kubernetes */

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	cr_assert_not_null(j, "%s: %s", text, e.text);
	return j;
}

static void json_is(json_t *got, const char *want)
{
	json_t *w = J(want);
	char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);

	cr_assert(json_equal(got, w), "got  %s\nwant %s", g, want);
	free(g);
	json_decref(w);
}

#define SECRET(name)                                                                            \
	"{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"" name "\","        \
	"\"annotations\":{\"a\":\"b\",\"kubectl.kubernetes.io/last-applied-configuration\":"     \
	"\"{\\\"data\\\":{\\\"password\\\":\\\"aHVudGVyMg==\\\"}}\"}},"                             \
	"\"type\":\"Opaque\",\"data\":{\"password\":\"aHVudGVyMg==\",\"user\":\"YWRtaW4=\"},"      \
	"\"stringData\":{\"token\":\"plain\"}}"
#define SECRET_MASKED(name)                                                                     \
	"{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"" name "\","        \
	"\"annotations\":{\"a\":\"b\",\"kubectl.kubernetes.io/last-applied-configuration\":"     \
	"\"****\"}},\"type\":\"Opaque\",\"data\":{\"password\":\"KioqKg==\",\"user\":"           \
	"\"KioqKg==\"},\"stringData\":{\"token\":\"****\"}}"

Test(mask_k8s, secret)
{
	struct mask_spec *s = spec_of("k8s", "secrets.data", NULL);
	json_t *o = J(SECRET("db"));

	cr_assert_eq(mask_k8s_json(s, o), 4);
	json_is(o, SECRET_MASKED("db"));
	json_decref(o);
	mask_spec_free(s);
}

Test(mask_k8s, secret_list_items_without_kind)
{
	struct mask_spec *s = spec_of("k8s", "secrets.data", NULL);
	json_t *o = J("{\"kind\":\"SecretList\",\"apiVersion\":\"v1\",\"items\":["
		      "{\"metadata\":{\"name\":\"a\"},\"data\":{\"k\":\"dg==\"}},"
		      "{\"metadata\":{\"name\":\"b\"},\"data\":{\"k\":\"dg==\",\"l\":\"dw==\"}},"
		      "{\"metadata\":{\"name\":\"c\"}}]}");

	cr_assert_eq(mask_k8s_json(s, o), 3);
	json_is(o, "{\"kind\":\"SecretList\",\"apiVersion\":\"v1\",\"items\":["
		   "{\"metadata\":{\"name\":\"a\"},\"data\":{\"k\":\"KioqKg==\"}},"
		   "{\"metadata\":{\"name\":\"b\"},\"data\":{\"k\":\"KioqKg==\",\"l\":\"KioqKg==\"}},"
		   "{\"metadata\":{\"name\":\"c\"}}]}");
	json_decref(o);
	mask_spec_free(s);
}

Test(mask_k8s, list_watch_and_table)
{
	struct mask_spec *s = spec_of("k8s", "secrets.data", NULL);
	json_t *list = J("{\"kind\":\"List\",\"items\":[" SECRET("x") ","
			 "{\"kind\":\"ConfigMap\",\"data\":{\"k\":\"visible\"}}]}");
	json_t *watch = J("{\"type\":\"ADDED\",\"object\":" SECRET("w") "}");
	json_t *table = J("{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\","
			  "\"rows\":[{\"cells\":[\"t\"],\"object\":" SECRET("t") "}]}");

	cr_assert_eq(mask_k8s_json(s, list), 4);
	json_is(list, "{\"kind\":\"List\",\"items\":[" SECRET_MASKED("x") ","
		      "{\"kind\":\"ConfigMap\",\"data\":{\"k\":\"visible\"}}]}");
	cr_assert_eq(mask_k8s_json(s, watch), 4);
	json_is(watch, "{\"type\":\"ADDED\",\"object\":" SECRET_MASKED("w") "}");
	cr_assert_eq(mask_k8s_json(s, table), 4);
	json_is(table, "{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\","
		       "\"rows\":[{\"cells\":[\"t\"],\"object\":" SECRET_MASKED("t") "}]}");
	json_decref(list);
	json_decref(watch);
	json_decref(table);
	mask_spec_free(s);
}

Test(mask_k8s, other_objects_untouched)
{
	struct mask_spec *s = spec_of("k8s", "secrets.data", NULL);
	const char *cm = "{\"kind\":\"ConfigMap\",\"data\":{\"k\":\"v\"},\"metadata\":{"
			 "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":"
			 "\"{}\"}}}";
	json_t *o = J(cm), *empty = J("{\"kind\":\"Secret\",\"data\":null}");

	cr_assert_eq(mask_k8s_json(s, o), 0);
	json_is(o, cm);
	cr_assert_eq(mask_k8s_json(s, empty), 0);
	json_decref(o);
	json_decref(empty);
	mask_spec_free(s);
}

Test(mask_k8s, patterns_on_every_string)
{
	struct mask_spec *s = spec_of("pattern", "email", NULL);
	json_t *o = J("{\"kind\":\"ConfigMap\",\"data\":{\"owner\":\"bob@example.com\","
		      "\"list\":\"a@b.co, c@d.io\"},\"items\":[\"x@y.org\", 5, null]}");

	cr_assert_eq(mask_k8s_json(s, o), 4);
	json_is(o, "{\"kind\":\"ConfigMap\",\"data\":{\"owner\":\"****\","
		   "\"list\":\"****, ****\"},\"items\":[\"****\", 5, null]}");
	json_decref(o);
	mask_spec_free(s);
}

Test(mask_k8s, secrets_only_with_the_field_mask)
{
	struct mask_spec *s = spec_of("pattern", "email", NULL);
	json_t *o = J(SECRET("p"));

	cr_assert_eq(mask_k8s_json(s, o), 0);
	json_is(o, SECRET("p"));
	json_decref(o);
	mask_spec_free(s);
}

Test(mask_k8s, errors_fail_closed)
{
	struct mask_spec *s = spec_of("k8s", "secrets.data", NULL);
	json_t *bad = J("{\"kind\":\"Secret\",\"data\":\"not-an-object\"}");
	json_t *arr = J("[1]");
	json_t *deep = J("{\"kind\":\"List\",\"items\":[{\"kind\":\"List\",\"items\":["
			 "{\"kind\":\"Secret\",\"stringData\":[1]}]}]}");

	cr_assert_eq(mask_k8s_json(s, bad), -EINVAL);
	cr_assert_eq(mask_k8s_json(s, arr), -EINVAL);
	cr_assert_eq(mask_k8s_json(s, deep), -EINVAL);
	cr_assert_eq(mask_k8s_json(NULL, arr), -EINVAL);
	json_decref(bad);
	json_decref(arr);
	json_decref(deep);
	mask_spec_free(s);
}

/* -------------------------------------------------------------- specs */

Test(mask_spec, add_refusals)
{
	struct mask_spec *s = mask_spec_new();

	cr_assert_eq(mask_spec_add(s, "regex", "x", err, sizeof(err)), -ENOENT);
	err[0] = '\0';
	cr_assert_eq(mask_spec_add(s, "pattern", "ssn", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "unknown pattern (known: email, credit-card, bearer-token, jwt, "
			      "private-key)");
	cr_assert_eq(mask_spec_add(s, "k8s", "configmaps.data", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "unknown k8s field mask (known: secrets.data)");
	cr_assert_eq(mask_spec_add(s, "sql_column", "", err, sizeof(err)), -EINVAL);
	cr_assert_eq(mask_spec_add(s, "sql_column", "a\nb", err, sizeof(err)), -EINVAL);
	cr_assert_eq(mask_spec_kinds(s), 0);
	mask_spec_free(s);
	mask_spec_free(NULL);
}

Test(mask_spec, kinds_json_equal_union)
{
	struct mask_spec *a = spec_of("sql_column", "email", "pattern", "jwt", NULL);
	struct mask_spec *b = spec_of("k8s", "secrets.data", "sql_column", "EMAIL", "sql_column",
				      "phone", NULL);
	struct mask_spec *a2 = spec_of("pattern", "jwt", "sql_column", "Email", "sql_column",
				       "email", NULL);
	const struct mask_spec *both[] = { a, NULL, b };
	struct mask_spec *u;
	json_t *j;

	cr_assert_eq(mask_spec_kinds(a), MASK_KIND_COLUMN | MASK_KIND_PATTERN);
	cr_assert_eq(mask_spec_kinds(b), MASK_KIND_COLUMN | MASK_KIND_K8S);
	cr_assert_eq(mask_spec_kinds(NULL), 0);
	cr_assert_eq(mask_spec_patterns(a), MASK_PAT_JWT);
	cr_assert(mask_spec_equal(a, a2), "repeats count once, case-insensitively");
	cr_assert(!mask_spec_equal(a, b));
	cr_assert(mask_spec_equal(NULL, NULL));

	u = mask_spec_union(both, 3);
	cr_assert_not_null(u);
	j = mask_spec_json(u);
	json_is(j, "[{\"k8s\":\"secrets.data\"},{\"sql_column\":\"email\"},"
		   "{\"sql_column\":\"phone\"},{\"pattern\":\"jwt\"}]");
	cr_assert(mask_column_matches(u, "phone", 5));
	json_decref(j);
	j = mask_spec_json(NULL);
	json_is(j, "[]");
	json_decref(j);
	mask_spec_free(u);
	mask_spec_free(a);
	mask_spec_free(a2);
	mask_spec_free(b);
}
