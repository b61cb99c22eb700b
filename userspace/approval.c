// SPDX-License-Identifier: BSD-2-Clause
/*
 * Approvals are read-modify-written by every worker and the control
 * thread; one lock around each change keeps two of them from overwriting
 * each other's state (approvals are rare, so one lock is plenty).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>

#include "approval.h"
#include "store.h"

static pthread_mutex_t approval_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const state_names[] = {
	[APPROVAL_NONE] = "none",	    [APPROVAL_PENDING] = "pending",
	[APPROVAL_GRANTED] = "granted",	    [APPROVAL_DENIED] = "denied",
	[APPROVAL_EXPIRED] = "expired",
};

const char *approval_state_name(enum approval_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

void approval_id(const char *identity_key, const char *target, const char *request_key,
		 char id[APPROVAL_ID_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	/* NUL separators: no two different triples hash the same bytes */
	const char *parts[] = { identity_key, target, request_key };

	memset(md, 0, sizeof(md));
	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		for (int i = 0; i < 3; i++)
			EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]) + 1);
		EVP_DigestFinal_ex(ctx, md, &mdlen);
	}
	EVP_MD_CTX_free(ctx);
	for (int i = 0; i < APPROVAL_ID_LEN / 2; i++)
		snprintf(id + 2 * i, 3, "%02x", md[i]);
	id[APPROVAL_ID_LEN] = '\0';
}

static void rfc3339(uint64_t ns, char out[40])
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *time_json(uint64_t ns)
{
	char buf[40];

	rfc3339(ns, buf);
	return json_string(buf);
}

/* The state of a stored approval at now_ns. */
static enum approval_state state_of(json_t *a, uint64_t now_ns)
{
	const char *st = json_string_value(json_object_get(a, "state"));

	if (!st)
		return APPROVAL_NONE;
	if (!strcmp(st, "granted"))
		return (uint64_t)json_integer_value(json_object_get(a, "expires_ns")) > now_ns ?
			       APPROVAL_GRANTED :
			       APPROVAL_EXPIRED;
	if (!strcmp(st, "denied"))
		return APPROVAL_DENIED;
	return APPROVAL_PENDING;
}

int approval_request(struct store *st, const char *id, const char *target, const char *rule,
		     json_t *identity, json_t *request, const char *session, uint64_t now_ns)
{
	json_t *a, *n;
	enum approval_state s;
	int ret;

	if (!st)
		return -ENOTSUP;
	pthread_mutex_lock(&approval_lock);
	a = store_approval_get(st, id);
	if (!a && errno != ENOENT) {
		ret = -errno;
		goto out;
	}
	s = a ? state_of(a, now_ns) : APPROVAL_NONE;
	if (s == APPROVAL_GRANTED || s == APPROVAL_DENIED) {
		ret = s;
		goto out;
	}
	/* first ask, a repeat while pending, or a new ask after the window */
	n = json_pack("{s:s, s:s, s:s, s:s, s:O, s:O, s:s, s:o, s:I, s:I}", "id", id,
		      "state", "pending", "target", target, "rule", rule,
		      "identity", identity, "request", request, "session", session,
		      "requested", time_json(now_ns), "requested_ns", (json_int_t)now_ns,
		      "requests",
		      (json_int_t)(s == APPROVAL_PENDING ?
					   json_integer_value(json_object_get(a, "requests")) + 1 :
					   1));
	ret = n ? store_approval_put(st, id, n) : -ENOMEM;
	json_decref(n);
	if (!ret)
		ret = APPROVAL_PENDING;
out:
	pthread_mutex_unlock(&approval_lock);
	json_decref(a);
	return ret;
}

int approval_decide(struct store *st, const char *id, int grant, uint32_t uid, uint64_t for_s,
		    uint64_t now_ns, json_t **out)
{
	json_t *a;
	int ret = 0;

	*out = NULL;
	if (!st)
		return -ENOTSUP;
	pthread_mutex_lock(&approval_lock);
	a = store_approval_get(st, id);
	if (!a) {
		ret = -errno;
		goto out;
	}
	json_object_set_new(a, "state", json_string(grant ? "granted" : "denied"));
	json_object_set_new(a, "decided_by_uid", json_integer(uid));
	json_object_set_new(a, "decided", time_json(now_ns));
	json_object_del(a, "expires");
	json_object_del(a, "expires_ns");
	if (grant) {
		uint64_t until = now_ns + for_s * 1000000000ull;

		json_object_set_new(a, "expires", time_json(until));
		json_object_set_new(a, "expires_ns", json_integer((json_int_t)until));
	}
	ret = store_approval_put(st, id, a);
	if (!ret) {
		*out = a;
		a = NULL;
	}
out:
	pthread_mutex_unlock(&approval_lock);
	json_decref(a);
	return ret;
}

json_t *approval_list(struct store *st, uint64_t now_ns)
{
	json_t *arr = store_approval_list(st), *a;
	size_t i;

	json_array_foreach(arr, i, a)
		json_object_set_new(a, "state", json_string(approval_state_name(state_of(a, now_ns))));
	return arr;
}
