/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Masking (DESIGN §4): what a policy rule's "mask" list hides in the
 * responses it allows. A spec is compiled once per policy load and is
 * read-only afterwards, so any number of threads may mask with it at once.
 *
 * Three kinds of entry, as written in a rule:
 *   {"k8s": "secrets.data"}     the values of a Kubernetes Secret's `data`
 *                               and `stringData` (and its
 *                               kubectl.kubernetes.io/last-applied-configuration
 *                               annotation, which holds the same values)
 *   {"sql_column": "email"}     result columns by name: ASCII
 *                               case-insensitive, fnmatch(3) globs allowed
 *                               ("*email*")
 *   {"pattern": NAME}           text patterns found anywhere in a value:
 *                               "email", "credit-card", "bearer-token",
 *                               "jwt", "private-key"
 *
 * FAIL CLOSED. Every function here that can fail returns -errno, and the
 * caller must then withhold the response (the protocol's own error, the
 * session record says why); it must never send the unmasked bytes. A
 * Kubernetes response masked with a "secrets.data" spec must be JSON: the
 * Kubernetes module asks the upstream for JSON (not protobuf) when the
 * decision carries a k8s mask, and withholds anything else.
 *
 * A column mask sees result labels, so `SELECT email AS e` evades
 * {"sql_column": "email"}; pair column masks with a pattern, or use a
 * glob, where that matters.
 */
#ifndef SLUICE_MASK_H
#define SLUICE_MASK_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* What replaces a masked value or pattern match in text. */
#define MASK_MARKER		"****"
#define MASK_MARKER_LEN		4
/* What replaces a Secret `data` value: base64 of MASK_MARKER, so typed
 * clients (client-go, kubectl) still decode the object. */
#define MASK_MARKER_B64		"KioqKg=="

/* Patterns, as bits of mask_spec_patterns(). */
enum mask_pattern {
	MASK_PAT_EMAIL		= 1u << 0,
	MASK_PAT_CREDIT_CARD	= 1u << 1,
	MASK_PAT_BEARER		= 1u << 2,
	MASK_PAT_JWT		= 1u << 3,
	MASK_PAT_PRIVATE_KEY	= 1u << 4,
};

/* What a spec asks for, as bits of mask_spec_kinds(). */
enum mask_kind {
	MASK_KIND_K8S		= 1u << 0,	/* Secret data */
	MASK_KIND_COLUMN	= 1u << 1,	/* SQL columns by name */
	MASK_KIND_PATTERN	= 1u << 2,	/* text patterns */
};

struct mask_spec;

/* An empty spec. Returns NULL with errno set; free with mask_spec_free(). */
struct mask_spec *mask_spec_new(void);

/*
 * Add one entry {kind: value}, as it appears in a rule's "mask" list.
 * Returns 0; -ENOENT when kind is not "k8s", "sql_column" or "pattern";
 * -EINVAL when value is not one this kind knows (a message listing the
 * known ones in err); -ENOMEM. A repeated entry is accepted once.
 */
int mask_spec_add(struct mask_spec *s, const char *kind, const char *value, char *err,
		  size_t errlen);

/*
 * A new spec masking everything any of specs[0..n) masks (NULL entries
 * skipped). Returns NULL with errno set; free with mask_spec_free().
 */
struct mask_spec *mask_spec_union(const struct mask_spec *const *specs, size_t n);

/* Accepts NULL. */
void mask_spec_free(struct mask_spec *s);

/* MASK_KIND_* bits of what s masks; 0 for NULL or an empty spec. Lets a
 * protocol module skip the work when there is nothing to do. */
unsigned mask_spec_kinds(const struct mask_spec *s);

/* MASK_PAT_* bits; 0 for NULL. */
unsigned mask_spec_patterns(const struct mask_spec *s);

/* True when s and t mask exactly the same things (NULL equals empty). */
bool mask_spec_equal(const struct mask_spec *s, const struct mask_spec *t);

/*
 * The spec as a rule's "mask" list, canonical order: k8s fields, columns,
 * patterns. New reference (an empty array for NULL), or NULL on ENOMEM.
 */
json_t *mask_spec_json(const struct mask_spec *s);

/*
 * Copy in[0..len) to out, replacing every match of s's patterns with
 * MASK_MARKER. Matches are found left to right; at one position the longest
 * match wins, and a match is never searched inside another (a JWT after
 * "Bearer " is masked once, as the bearer token).
 *   email        local@domain.tld, the last label at least two letters
 *   credit-card  13 to 19 digits, single spaces or dashes between digit
 *                groups allowed, passing the Luhn check, not inside a
 *                longer number or word
 *   bearer-token "Bearer" (any case), blanks, then a token68 of at least
 *                8 characters: the token is replaced, the word is kept
 *   jwt          eyJ<b64url>.eyJ<b64url>.<b64url or nothing>
 *   private-key  from "-----BEGIN ...PRIVATE KEY-----" to the matching
 *                "-----END ...PRIVATE KEY-----"; a block without its END
 *                (cut by truncation) is masked to the end of the text
 * Every match is longer than the marker, so the output is never longer
 * than the input: outcap >= len always suffices. in and out must not
 * overlap. NULL s (or no patterns) copies.
 *
 * Returns the number of replacements (>= 0) and the bytes written in
 * *outlen; -ENOSPC when out is too small (out's contents are then
 * undefined: withhold); -EINVAL for NULL in/out/outlen.
 */
int mask_text(const struct mask_spec *s, const char *in, size_t len, char *out, size_t outcap,
	      size_t *outlen);

/*
 * Whether a result column named name[0..len) (not NUL-terminated) is masked
 * by s: ASCII case-insensitive, globs as fnmatch(3). A name too long to
 * check (over 1023 bytes) or holding a NUL counts as masked when s has any
 * column entry: fail closed. False for NULL s.
 */
bool mask_column_matches(const struct mask_spec *s, const char *name, size_t len);

/*
 * Mask a decoded Kubernetes API response in place (obj borrowed, modified):
 *  - with a "secrets.data" entry: every value of `data` (set to
 *    MASK_MARKER_B64) and `stringData` (MASK_MARKER), and the
 *    last-applied-configuration annotation (MASK_MARKER), of each Secret
 *    found: the object itself (kind "Secret"), the items of a SecretList
 *    (whose items carry no kind), the items of a List, the object of a
 *    watch event ({"type", "object"}), the row objects of a Table; an
 *    item without a kind that has `data` or `stringData` and a string
 *    `type` is taken for a Secret;
 *  - with patterns: mask_text() on every string value in the tree.
 * Returns the number of values changed (>= 0); -EINVAL when obj is not an
 * object or a Secret's data/stringData is neither an object nor null;
 * -ENOMEM. On error obj may be partly masked: withhold it.
 */
int mask_k8s_json(const struct mask_spec *s, json_t *obj);

#endif
