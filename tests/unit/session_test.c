// SPDX-License-Identifier: BSD-2-Clause
/*
 * The policy in force (session.c): a reload that fails leaves the old
 * policy in force, untouched, and says where the file is wrong; a good one
 * replaces it; requests holding the old one keep it until they let go.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "session.h"

static char dir[64];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void put(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	log_set_level(LOG_ERROR);	/* the refusals are expected */
	strcpy(dir, "/tmp/session_test.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	session_policy_set(NULL, 0);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(session_policy, .init = setup, .fini = teardown);

static const char one_rule[] =
	"{\"version\": 1, \"rules\": [{\"name\": \"a\", \"match\": {}, \"action\": \"allow\"}]}\n";
static const char two_rules[] =
	"{\"version\": 1, \"rules\": [{\"name\": \"a\", \"match\": {}, \"action\": \"allow\"},\n"
	" {\"name\": \"b\", \"match\": {}, \"action\": \"deny\"}]}\n";

Test(session_policy, broken_reload_keeps_the_old)
{
	struct policy *held, *p;
	char msg[512];
	int enabled;

	put("10.json", one_rule);
	cr_assert_eq(session_policy_reload(dir, msg, sizeof(msg)), 0, "%s", msg);
	held = session_policy_get(&enabled);
	cr_assert(held);
	cr_expect(enabled);
	cr_expect_eq(policy_rule_count(held), 1);

	/* a second file with an error: refused, with its place */
	put("20.json", "{\"version\": 1,\n \"rules\": [{\"name\": \"x\", \"match\": {},\n"
		       "   \"action\": \"perhaps\"}]}\n");
	cr_expect_eq(session_policy_reload(dir, msg, sizeof(msg)), -EINVAL);
	cr_expect(strstr(msg, "20.json:3:14"), "message: %s", msg);
	p = session_policy_get(&enabled);
	cr_expect_eq(p, held, "the policy in force changed after a broken reload");
	cr_expect(enabled);
	policy_free(p);

	/* a directory that went away: refused the same way */
	{
		char gone[96];

		snprintf(gone, sizeof(gone), "%s/nonexistent", dir);
		cr_expect_lt(session_policy_reload(gone, msg, sizeof(msg)), 0);
		p = session_policy_get(&enabled);
		cr_expect_eq(p, held);
		policy_free(p);
	}

	/* fixed: the new one is in force; the holder still has the old one */
	put("20.json", two_rules);
	put("10.json", "{\"version\": 1}\n");
	cr_assert_eq(session_policy_reload(dir, msg, sizeof(msg)), 0, "%s", msg);
	p = session_policy_get(&enabled);
	cr_expect_neq(p, held);
	cr_expect_eq(policy_rule_count(p), 2);
	cr_expect_eq(policy_rule_count(held), 1);
	policy_free(p);
	policy_free(held);

	/* no policy_dir: policy off */
	cr_assert_eq(session_policy_reload(NULL, msg, sizeof(msg)), 0);
	p = session_policy_get(&enabled);
	cr_expect_null(p);
	cr_expect(!enabled);
}
