// SPDX-License-Identifier: BSD-2-Clause
/*
 * approval.c against a real store: the id is a function of who, where and
 * what; a review is pending until decided; a grant allows within its
 * window only; a deny sticks; decisions and state survive a reopen (the
 * daemon's restart); the read-only store (the CLI) lists them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>

#include "approval.h"
#include "log.h"
#include "store.h"

#define SEC 1000000000ull
#define T0 (1795000000ull * SEC)

static char dir[64], db_path[128], key_path[128];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void setup(void)
{
	log_set_level(LOG_WARN);
	strcpy(dir, "/tmp/approval_test.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/db", dir);
	snprintf(key_path, sizeof(key_path), "%s/seal.pem", dir);
}

static void teardown(void)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(approval, .init = setup, .fini = teardown, .timeout = 60);

static struct store *open_rw(void)
{
	struct store_opts o = { .path = db_path, .mode = STORE_STRICT, .sync_ms = 100,
				.seal_key = key_path, .seal_interval_ms = 3600000u };
	char err[256] = "";
	struct store *s = store_open(&o, err, sizeof(err));

	cr_assert_not_null(s, "store_open: %s", err);
	return s;
}

static int ask(struct store *s, const char *id, uint64_t now)
{
	json_t *who = json_pack("{s:n, s:{s:i}}", "user", "kernel", "uid", 65534);
	json_t *req = json_pack("{s:s}", "kind", "connect");
	int r = approval_request(s, id, "web", "needs-review", who, req, "00ff", now);

	json_decref(who);
	json_decref(req);
	return r;
}

static json_t *find(json_t *arr, const char *id)
{
	size_t i;
	json_t *a;

	json_array_foreach(arr, i, a)
		if (!strcmp(json_string_value(json_object_get(a, "id")), id))
			return a;
	return NULL;
}

Test(approval, id_is_who_where_what)
{
	char a[APPROVAL_ID_LEN + 1], b[APPROVAL_ID_LEN + 1];

	approval_id("uid:1", "web", "{\"kind\":\"connect\"}", a);
	cr_expect_eq(strlen(a), APPROVAL_ID_LEN);
	cr_expect_eq(strspn(a, "0123456789abcdef"), APPROVAL_ID_LEN);
	approval_id("uid:1", "web", "{\"kind\":\"connect\"}", b);
	cr_expect_str_eq(a, b);
	approval_id("uid:2", "web", "{\"kind\":\"connect\"}", b);
	cr_expect_str_neq(a, b);
	approval_id("uid:1", "db", "{\"kind\":\"connect\"}", b);
	cr_expect_str_neq(a, b);
	approval_id("uid:1", "web", "{\"kind\":\"sql\"}", b);
	cr_expect_str_neq(a, b);
	/* the separators keep "ab"+"c" apart from "a"+"bc" */
	approval_id("uid:1w", "eb", "{\"kind\":\"connect\"}", b);
	cr_expect_str_neq(a, b);
}

Test(approval, review_grant_window_deny_and_restart)
{
	struct store *s = open_rw();
	json_t *out = NULL, *l, *a;

	cr_expect_eq(ask(s, "aaaaaaaaaaaaaaaa", T0), APPROVAL_PENDING);
	cr_expect_eq(ask(s, "aaaaaaaaaaaaaaaa", T0 + SEC), APPROVAL_PENDING);
	l = approval_list(s, T0 + SEC);
	a = find(l, "aaaaaaaaaaaaaaaa");
	cr_assert(a);
	cr_expect_str_eq(json_string_value(json_object_get(a, "state")), "pending");
	cr_expect_eq(json_integer_value(json_object_get(a, "requests")), 2);
	cr_expect_str_eq(json_string_value(json_object_get(a, "rule")), "needs-review");
	json_decref(l);

	/* deciding one never asked for is an error */
	cr_expect_eq(approval_decide(s, "bbbbbbbbbbbbbbbb", 1, 0, 60, T0, &out), -ENOENT);
	cr_expect_null(out);

	cr_assert_eq(approval_decide(s, "aaaaaaaaaaaaaaaa", 1, 1000, 60, T0 + 2 * SEC, &out), 0);
	cr_assert(out);
	cr_expect_str_eq(json_string_value(json_object_get(out, "state")), "granted");
	cr_expect_eq(json_integer_value(json_object_get(out, "decided_by_uid")), 1000);
	json_decref(out);
	cr_expect_eq(ask(s, "aaaaaaaaaaaaaaaa", T0 + 3 * SEC), APPROVAL_GRANTED);
	cr_expect_eq(ask(s, "aaaaaaaaaaaaaaaa", T0 + 61 * SEC), APPROVAL_GRANTED);

	/* a restart (reopen) keeps it */
	store_close(s);
	s = open_rw();
	cr_expect_eq(ask(s, "aaaaaaaaaaaaaaaa", T0 + 61 * SEC), APPROVAL_GRANTED);
	/* past the window: expired, and a new ask makes it pending again */
	l = approval_list(s, T0 + 63 * SEC);
	cr_expect_str_eq(json_string_value(json_object_get(find(l, "aaaaaaaaaaaaaaaa"), "state")),
			 "expired");
	json_decref(l);
	cr_expect_eq(ask(s, "aaaaaaaaaaaaaaaa", T0 + 63 * SEC), APPROVAL_PENDING);

	/* a deny sticks until someone grants */
	cr_assert_eq(approval_decide(s, "aaaaaaaaaaaaaaaa", 0, 0, 0, T0 + 64 * SEC, &out), 0);
	json_decref(out);
	cr_expect_eq(ask(s, "aaaaaaaaaaaaaaaa", T0 + 65 * SEC), APPROVAL_DENIED);
	cr_expect_eq(ask(s, "aaaaaaaaaaaaaaaa", T0 + 9999 * SEC), APPROVAL_DENIED);
	cr_assert_eq(approval_decide(s, "aaaaaaaaaaaaaaaa", 1, 0, 10, T0 + 9999 * SEC, &out), 0);
	json_decref(out);
	cr_expect_eq(ask(s, "aaaaaaaaaaaaaaaa", T0 + 10000 * SEC), APPROVAL_GRANTED);
	store_close(s);

	/* the CLI's read-only view */
	{
		char err[256] = "";
		struct store *ro = store_open_ro(db_path, err, sizeof(err));

		cr_assert(ro, "%s", err);
		l = approval_list(ro, T0 + 10000 * SEC);
		cr_expect_eq(json_array_size(l), 1);
		cr_expect_str_eq(json_string_value(json_object_get(json_array_get(l, 0), "state")),
				 "granted");
		cr_expect_eq(approval_decide(ro, "aaaaaaaaaaaaaaaa", 1, 0, 10, T0, &out), -EROFS);
		json_decref(l);
		store_close(ro);
	}
}

Test(approval, no_store_refuses)
{
	json_t *out = NULL, *l;

	cr_expect_eq(ask(NULL, "aaaaaaaaaaaaaaaa", T0), -ENOTSUP);
	cr_expect_eq(approval_decide(NULL, "aaaaaaaaaaaaaaaa", 1, 0, 10, T0, &out), -ENOTSUP);
	l = approval_list(NULL, T0);
	cr_expect_eq(json_array_size(l), 0);
	json_decref(l);
}
