// SPDX-License-Identifier: BSD-2-Clause
/*
 * Masking: a compiled spec (patterns as bits, Secret fields as bits, column
 * globs as a list) and the maskers the protocol modules call on responses.
 * The pattern scanner is hand-written rather than regex(3): it runs on
 * every result value, must stay linear in the input, and must never read
 * past the buffer it was given.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mask.h"

#define MASK_K8S_SECRETS	(1u << 0)
#define MASK_MAX_COLUMNS	1024
#define MASK_COLUMN_MAX		255	/* longest column pattern accepted */
#define MASK_NAME_BUF		1024	/* longest column name checked */
#define BEARER_MIN_TOKEN	8
#define PEM_LABEL_MAX		64

struct mask_spec {
	unsigned patterns;	/* MASK_PAT_* */
	unsigned k8s;		/* MASK_K8S_* */
	char **columns;		/* fnmatch patterns, FNM_CASEFOLD */
	size_t n_columns;
};

static const struct {
	const char *name;
	unsigned bit;
} pattern_names[] = {
	{ "email", MASK_PAT_EMAIL },
	{ "credit-card", MASK_PAT_CREDIT_CARD },
	{ "bearer-token", MASK_PAT_BEARER },
	{ "jwt", MASK_PAT_JWT },
	{ "private-key", MASK_PAT_PRIVATE_KEY },
};
#define N_PATTERNS (sizeof(pattern_names) / sizeof(pattern_names[0]))

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

struct mask_spec *mask_spec_new(void)
{
	return calloc(1, sizeof(struct mask_spec));
}

void mask_spec_free(struct mask_spec *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_columns; i++)
		free(s->columns[i]);
	free(s->columns);
	free(s);
}

static bool has_column(const struct mask_spec *s, const char *c)
{
	for (size_t i = 0; i < s->n_columns; i++)
		if (!strcasecmp(s->columns[i], c))
			return true;
	return false;
}

static int add_column(struct mask_spec *s, const char *c)
{
	char **v;

	if (has_column(s, c))
		return 0;
	if (s->n_columns >= MASK_MAX_COLUMNS)
		return -E2BIG;
	v = realloc(s->columns, (s->n_columns + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->columns = v;
	v[s->n_columns] = strdup(c);
	if (!v[s->n_columns])
		return -ENOMEM;
	s->n_columns++;
	return 0;
}

int mask_spec_add(struct mask_spec *s, const char *kind, const char *value, char *err,
		  size_t errlen)
{
	int ret;

	if (!s || !kind || !value)
		return -EINVAL;
	if (!strcmp(kind, "k8s")) {
		if (strcmp(value, "secrets.data")) {
			set_err(err, errlen, "unknown k8s field mask (known: secrets.data)");
			return -EINVAL;
		}
		s->k8s |= MASK_K8S_SECRETS;
		return 0;
	}
	if (!strcmp(kind, "pattern")) {
		for (size_t i = 0; i < N_PATTERNS; i++) {
			if (!strcmp(value, pattern_names[i].name)) {
				s->patterns |= pattern_names[i].bit;
				return 0;
			}
		}
		set_err(err, errlen, "unknown pattern (known: email, credit-card, "
			"bearer-token, jwt, private-key)");
		return -EINVAL;
	}
	if (!strcmp(kind, "sql_column")) {
		size_t len = strlen(value);

		if (!len || len > MASK_COLUMN_MAX) {
			set_err(err, errlen, "a column name is 1 to %d bytes", MASK_COLUMN_MAX);
			return -EINVAL;
		}
		for (const char *p = value; *p; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				set_err(err, errlen, "a column name holds no control characters");
				return -EINVAL;
			}
		}
		ret = add_column(s, value);
		if (ret == -E2BIG) {
			set_err(err, errlen, "more than %d column masks", MASK_MAX_COLUMNS);
			return -EINVAL;
		}
		return ret;
	}
	return -ENOENT;
}

struct mask_spec *mask_spec_union(const struct mask_spec *const *specs, size_t n)
{
	struct mask_spec *u = mask_spec_new();

	if (!u)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct mask_spec *s = specs[i];

		if (!s)
			continue;
		u->patterns |= s->patterns;
		u->k8s |= s->k8s;
		for (size_t c = 0; c < s->n_columns; c++) {
			int ret = add_column(u, s->columns[c]);

			if (ret) {
				mask_spec_free(u);
				errno = -ret == E2BIG ? ENOMEM : -ret;
				return NULL;
			}
		}
	}
	return u;
}

unsigned mask_spec_kinds(const struct mask_spec *s)
{
	unsigned k = 0;

	if (!s)
		return 0;
	if (s->k8s)
		k |= MASK_KIND_K8S;
	if (s->n_columns)
		k |= MASK_KIND_COLUMN;
	if (s->patterns)
		k |= MASK_KIND_PATTERN;
	return k;
}

unsigned mask_spec_patterns(const struct mask_spec *s)
{
	return s ? s->patterns : 0;
}

bool mask_spec_equal(const struct mask_spec *s, const struct mask_spec *t)
{
	static const struct mask_spec empty;

	if (!s)
		s = &empty;
	if (!t)
		t = &empty;
	if (s->patterns != t->patterns || s->k8s != t->k8s || s->n_columns != t->n_columns)
		return false;
	/* columns are deduplicated, so same count and inclusion is equality */
	for (size_t i = 0; i < s->n_columns; i++)
		if (!has_column(t, s->columns[i]))
			return false;
	return true;
}

json_t *mask_spec_json(const struct mask_spec *s)
{
	json_t *a = json_array();

	if (!a || !s)
		return a;
	if ((s->k8s & MASK_K8S_SECRETS) &&
	    json_array_append_new(a, json_pack("{s:s}", "k8s", "secrets.data")))
		goto fail;
	for (size_t i = 0; i < s->n_columns; i++)
		if (json_array_append_new(a, json_pack("{s:s}", "sql_column", s->columns[i])))
			goto fail;
	for (size_t i = 0; i < N_PATTERNS; i++)
		if ((s->patterns & pattern_names[i].bit) &&
		    json_array_append_new(a, json_pack("{s:s}", "pattern", pattern_names[i].name)))
			goto fail;
	return a;
fail:
	json_decref(a);
	return NULL;
}

/* ------------------------------------------------------------ patterns */

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(unsigned char c)
{
	return is_digit(c) || is_alpha(c);
}

static bool is_word(unsigned char c)
{
	return is_alnum(c) || c == '_';
}

static bool is_b64url(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '_';
}

static bool is_token68(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' ||
	       c == '/';
}

static bool is_email_local(unsigned char c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static bool is_label(unsigned char c)
{
	return is_alnum(c) || c == '-';
}

/*
 * Each matcher looks for a match starting exactly at in[i] (i < len). It
 * returns the end of the match (exclusive; 0 when none) and sets *rstart
 * to where the replaced part begins (>= i).
 */

static bool starts(const char *in, size_t len, size_t i, const char *lit)
{
	size_t n = strlen(lit);

	return len - i >= n && !memcmp(in + i, lit, n);
}

/* "-----BEGIN " [A-Z0-9 ]* "PRIVATE KEY-----" at i; its end in *end. */
static bool pem_line(const char *in, size_t len, size_t i, const char *word, size_t *end)
{
	static const char tail[] = "PRIVATE KEY-----";
	size_t j, label_end;

	if (!starts(in, len, i, word))
		return false;
	j = i + strlen(word);
	label_end = j;
	while (label_end < len && label_end - j <= PEM_LABEL_MAX &&
	       (in[label_end] == ' ' || is_digit(in[label_end]) ||
		(in[label_end] >= 'A' && in[label_end] <= 'Z')))
		label_end++;
	/* the label ends with "PRIVATE KEY", then the dashes */
	for (size_t k = j; k <= label_end; k++) {
		if (starts(in, len, k, tail) && k + sizeof(tail) - 1 - 5 == label_end) {
			*end = label_end + 5;
			return true;
		}
	}
	return false;
}

static size_t match_pem(const char *in, size_t len, size_t i, size_t *rstart)
{
	size_t end;

	if (in[i] != '-' || !pem_line(in, len, i, "-----BEGIN ", &end))
		return 0;
	*rstart = i;
	for (size_t k = end; k < len; k++) {
		size_t e;

		if (in[k] == '-' && pem_line(in, len, k, "-----END ", &e))
			return e;
	}
	return len;	/* no END: cut by truncation, mask the rest */
}

static size_t match_bearer(const char *in, size_t len, size_t i, size_t *rstart)
{
	size_t j, t;

	if ((in[i] != 'B' && in[i] != 'b') || len - i < 7 || strncasecmp(in + i, "bearer", 6))
		return 0;
	if (i > 0 && is_alnum((unsigned char)in[i - 1]))
		return 0;
	j = i + 6;
	if (in[j] != ' ' && in[j] != '\t')
		return 0;
	while (j < len && (in[j] == ' ' || in[j] == '\t'))
		j++;
	t = j;
	while (j < len && is_token68((unsigned char)in[j]))
		j++;
	if (j - t < BEARER_MIN_TOKEN)
		return 0;
	while (j < len && in[j] == '=')
		j++;
	*rstart = t;
	return j;
}

/* "eyJ" then base64url; the end of the segment, or 0. */
static size_t jwt_segment(const char *in, size_t len, size_t i)
{
	if (!starts(in, len, i, "eyJ"))
		return 0;
	i += 3;
	while (i < len && is_b64url((unsigned char)in[i]))
		i++;
	return i;
}

static size_t match_jwt(const char *in, size_t len, size_t i, size_t *rstart)
{
	size_t j;

	if (in[i] != 'e' || (i > 0 && is_b64url((unsigned char)in[i - 1])))
		return 0;
	j = jwt_segment(in, len, i);
	if (!j || j >= len || in[j] != '.')
		return 0;
	j = jwt_segment(in, len, j + 1);
	if (!j || j >= len || in[j] != '.')
		return 0;
	j++;
	while (j < len && is_b64url((unsigned char)in[j]))
		j++;
	*rstart = i;
	return j;
}

static size_t match_email(const char *in, size_t len, size_t i, size_t *rstart)
{
	size_t j = i, k, end = 0;
	int labels = 0;

	/* only from the start of a run, so each run is scanned once */
	if (!is_email_local((unsigned char)in[i]) ||
	    (i > 0 && is_email_local((unsigned char)in[i - 1])))
		return 0;
	while (j < len && is_email_local((unsigned char)in[j]))
		j++;
	if (j >= len || in[j] != '@')
		return 0;
	k = j + 1;
	for (;;) {
		size_t l = k;
		bool alpha = true;

		while (k < len && is_label((unsigned char)in[k])) {
			if (!is_alpha((unsigned char)in[k]))
				alpha = false;
			k++;
		}
		if (k == l)
			break;
		labels++;
		if (labels >= 2 && alpha && k - l >= 2)
			end = k;
		if (k + 1 < len && in[k] == '.' && is_label((unsigned char)in[k + 1]))
			k++;
		else
			break;
	}
	if (!end)
		return 0;
	*rstart = i;
	return end;
}

static bool luhn(const unsigned char *d, size_t n)
{
	unsigned sum = 0;

	for (size_t k = 0; k < n; k++) {
		unsigned v = d[n - 1 - k];

		if (k & 1) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return sum % 10 == 0;
}

/* A number does not continue past here: no word character, no decimal. */
static bool number_ends(const char *in, size_t len, size_t e)
{
	if (e >= len)
		return true;
	if (is_word((unsigned char)in[e]))
		return false;
	if ((in[e] == '.' || in[e] == ',') && e + 1 < len && is_digit((unsigned char)in[e + 1]))
		return false;
	return true;
}

static size_t match_card(const char *in, size_t len, size_t i, size_t *rstart)
{
	unsigned char d[19];
	size_t n = 0, j = i, best = 0;

	if (!is_digit((unsigned char)in[i]))
		return 0;
	if (i > 0) {
		unsigned char p = (unsigned char)in[i - 1];

		if (is_word(p))
			return 0;
		if ((p == '.' || p == ',') && i > 1 && is_digit((unsigned char)in[i - 2]))
			return 0;
	}
	/* digit groups joined by single blanks or dashes: the longest passing prefix */
	for (;;) {
		while (j < len && is_digit((unsigned char)in[j])) {
			if (n == sizeof(d))
				return best ? (*rstart = i, best) : 0;
			d[n++] = (unsigned char)(in[j++] - '0');
		}
		if (n >= 13 && number_ends(in, len, j) && luhn(d, n))
			best = j;
		if (j + 1 < len && (in[j] == ' ' || in[j] == '-') && is_digit((unsigned char)in[j + 1]))
			j++;
		else
			break;
	}
	if (!best)
		return 0;
	*rstart = i;
	return best;
}

int mask_text(const struct mask_spec *s, const char *in, size_t len, char *out, size_t outcap,
	      size_t *outlen)
{
	unsigned pats = s ? s->patterns : 0;
	size_t i = 0, from = 0, o = 0;
	int n = 0;

	if (!in || !out || !outlen)
		return -EINVAL;
	*outlen = 0;
	while (pats && i < len) {
		size_t end = 0, rs = 0, e, r = 0;

		if ((pats & MASK_PAT_PRIVATE_KEY) && (e = match_pem(in, len, i, &r)) > end)
			end = e, rs = r;
		if ((pats & MASK_PAT_BEARER) && (e = match_bearer(in, len, i, &r)) > end)
			end = e, rs = r;
		if ((pats & MASK_PAT_JWT) && (e = match_jwt(in, len, i, &r)) > end)
			end = e, rs = r;
		if ((pats & MASK_PAT_EMAIL) && (e = match_email(in, len, i, &r)) > end)
			end = e, rs = r;
		if ((pats & MASK_PAT_CREDIT_CARD) && (e = match_card(in, len, i, &r)) > end)
			end = e, rs = r;
		if (!end) {
			i++;
			continue;
		}
		if (rs - from > outcap - o || MASK_MARKER_LEN > outcap - o - (rs - from))
			return -ENOSPC;
		memcpy(out + o, in + from, rs - from);
		o += rs - from;
		memcpy(out + o, MASK_MARKER, MASK_MARKER_LEN);
		o += MASK_MARKER_LEN;
		from = i = end;
		if (n < INT32_MAX)
			n++;
	}
	if (len - from > outcap - o)
		return -ENOSPC;
	memcpy(out + o, in + from, len - from);
	*outlen = o + (len - from);
	return n;
}

bool mask_column_matches(const struct mask_spec *s, const char *name, size_t len)
{
	char buf[MASK_NAME_BUF];

	if (!s || !s->n_columns)
		return false;
	if (!name || len >= sizeof(buf) || memchr(name, '\0', len))
		return true;
	memcpy(buf, name, len);
	buf[len] = '\0';
	for (size_t i = 0; i < s->n_columns; i++)
		if (!fnmatch(s->columns[i], buf, FNM_CASEFOLD))
			return true;
	return false;
}

/* ---------------------------------------------------------- kubernetes */

static int set_all(json_t *obj, const char *marker)
{
	const char *k;
	json_t *v;
	int n = 0;

	json_object_foreach(obj, k, v) {
		if (json_object_set_new(obj, k, json_string(marker)))
			return -ENOMEM;
		n++;
	}
	return n;
}

static int mask_secret(json_t *o)
{
	static const char *const fields[] = { "data", "stringData" };
	json_t *ann;
	int n = 0, r;

	for (size_t f = 0; f < 2; f++) {
		json_t *d = json_object_get(o, fields[f]);

		if (!d || json_is_null(d))
			continue;
		if (!json_is_object(d))
			return -EINVAL;
		r = set_all(d, f == 0 ? MASK_MARKER_B64 : MASK_MARKER);
		if (r < 0)
			return r;
		n += r;
	}
	ann = json_object_get(json_object_get(o, "metadata"), "annotations");
	if (json_is_object(ann) &&
	    json_object_get(ann, "kubectl.kubernetes.io/last-applied-configuration")) {
		if (json_object_set_new(ann, "kubectl.kubernetes.io/last-applied-configuration",
					json_string(MASK_MARKER)))
			return -ENOMEM;
		n++;
	}
	return n;
}

static bool looks_like_secret(json_t *o)
{
	return json_is_string(json_object_get(o, "type")) &&
	       (json_object_get(o, "data") || json_object_get(o, "stringData"));
}

/* Secrets in o and in whatever o carries (list items, a watch event's
 * object, a Table's rows). forced: o is an item of a SecretList. */
static int mask_secrets_in(json_t *o, bool forced, int depth)
{
	const char *kind;
	json_t *items, *rows, *inner;
	int n = 0, r;

	if (!json_is_object(o))
		return 0;
	if (depth > 8)	/* Kubernetes nests no deeper; an attacker might */
		return -EINVAL;
	kind = json_string_value(json_object_get(o, "kind"));
	if (forced || (kind && !strcmp(kind, "Secret")) || (!kind && looks_like_secret(o))) {
		r = mask_secret(o);
		if (r < 0)
			return r;
		n += r;
	}
	items = json_object_get(o, "items");
	if (json_is_array(items)) {
		bool secret_list = kind && !strcmp(kind, "SecretList");
		size_t i;
		json_t *it;

		json_array_foreach(items, i, it) {
			r = mask_secrets_in(it, secret_list, depth + 1);
			if (r < 0)
				return r;
			n += r;
		}
	}
	inner = json_object_get(o, "object");
	if (json_is_object(inner) && json_is_string(json_object_get(o, "type"))) {
		r = mask_secrets_in(inner, false, depth + 1);
		if (r < 0)
			return r;
		n += r;
	}
	rows = json_object_get(o, "rows");
	if (kind && !strcmp(kind, "Table") && json_is_array(rows)) {
		size_t i;
		json_t *row;

		json_array_foreach(rows, i, row) {
			r = mask_secrets_in(json_object_get(row, "object"), false, depth + 1);
			if (r < 0)
				return r;
			n += r;
		}
	}
	return n;
}

/* mask_text() on one string value; replaces it when anything matched. */
static int mask_string(const struct mask_spec *s, json_t *str)
{
	size_t len = json_string_length(str), outlen;
	char *buf = malloc(len + 1);
	int r;

	if (!buf)
		return -ENOMEM;
	r = mask_text(s, json_string_value(str), len, buf, len + 1, &outlen);
	if (r > 0 && json_string_setn(str, buf, outlen))
		r = -ENOMEM;
	free(buf);
	return r;
}

static int mask_strings_in(const struct mask_spec *s, json_t *v)
{
	int n = 0, r = 0;

	if (json_is_string(v))
		return mask_string(s, v);
	if (json_is_object(v)) {
		const char *k;
		json_t *c;

		json_object_foreach(v, k, c) {
			r = mask_strings_in(s, c);
			if (r < 0)
				return r;
			n += r;
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *c;

		json_array_foreach(v, i, c) {
			r = mask_strings_in(s, c);
			if (r < 0)
				return r;
			n += r;
		}
	}
	return n;
}

int mask_k8s_json(const struct mask_spec *s, json_t *obj)
{
	int n = 0, r;

	if (!json_is_object(obj))
		return -EINVAL;
	if (!s)
		return 0;
	if (s->k8s & MASK_K8S_SECRETS) {
		r = mask_secrets_in(obj, false, 0);
		if (r < 0)
			return r;
		n += r;
	}
	if (s->patterns) {
		r = mask_strings_in(s, obj);
		if (r < 0)
			return r;
		n += r;
	}
	return n;
}
