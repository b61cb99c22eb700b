// SPDX-License-Identifier: BSD-2-Clause
/*
 * userspace/policy.c: matching (each key alone and together), SQL
 * decisions per statement and per table, first match and the default,
 * masks and record levels in decisions, load errors at their exact
 * FILE:LINE:COLUMN, directories and reloads, the CLI's JSON shapes, and the
 * DESIGN §4 example as shipped in policies/example.json.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <criterion/criterion.h>

#include "policy.h"

static char err[1024];

static struct policy *load(const char *text)
{
	struct policy *p;

	err[0] = '\0';
	p = policy_parse("t.json", text, strlen(text), err, sizeof(err));
	cr_assert_not_null(p, "refused: %s\n--- text:\n%s", err, text);
	return p;
}

/* Refused with EINVAL and exactly this one-line message. */
static void load_bad(const char *text, const char *want)
{
	struct policy *p;

	err[0] = '\0';
	errno = 0;
	p = policy_parse("t.json", text, strlen(text), err, sizeof(err));
	cr_assert_null(p, "accepted:\n%s", text);
	cr_assert_eq(errno, EINVAL, "errno %d for:\n%s", errno, text);
	cr_assert_str_eq(err, want, "\ngot  %s\nwant %s\n--- text:\n%s", err, want, text);
}

/* ---------------------------------------------------------- identities */

static const char *const alice_groups[] = { "ai-agents", "dev" };
static const char *const bob_groups[] = { "ops" };
static const char *const label_k[] = { "app", "tier" };
static const char *const label_v[] = { "agent", "ai" };
static const struct policy_pod agent_pod = {
	.ns = "agents", .name = "agent-0", .service_account = "agent",
	.label_keys = label_k, .label_values = label_v, .n_labels = 2,
};
static const struct policy_identity alice = {
	.authenticated = true, .user = "alice", .groups = alice_groups, .n_groups = 2,
	.has_uid = true, .uid = 1000, .comm = "python3", .cgroup = "/agents/a1/task",
	.pod = &agent_pod,
};
/* the same claims, not verified: users and groups must not match */
static const struct policy_identity alice_unauth = {
	.authenticated = false, .user = "alice", .groups = alice_groups, .n_groups = 2,
	.has_uid = true, .uid = 1000, .comm = "python3", .cgroup = "/agents/a1/task",
	.pod = &agent_pod,
};
static const struct policy_identity bob = {
	.authenticated = true, .user = "bob", .groups = bob_groups, .n_groups = 1,
	.has_uid = true, .uid = 0, .comm = "kubectl", .cgroup = "/system.slice/ssh.service",
};
static const struct policy_identity anon = { 0 };

/* ------------------------------------------------------------ requests */

static const struct policy_request conn_pg = { .target = "prod-pg", .kind = POLICY_REQ_CONNECT };
static const struct policy_request conn_k8s = { .target = "prod-k8s" };
static const struct policy_request del_ns = {
	.target = "prod-k8s", .kind = POLICY_REQ_K8S,
	.k8s = { .verb = "delete", .group = "", .resource = "namespaces", .name = "team-a" },
};
static const struct policy_request exec_pod = {
	.target = "prod-k8s", .kind = POLICY_REQ_K8S,
	.k8s = { .verb = "create", .group = "", .resource = "pods", .subresource = "exec",
		 .ns = "default", .name = "web" },
};
static const struct policy_request get_pod = {
	.target = "prod-k8s", .kind = POLICY_REQ_K8S,
	.k8s = { .verb = "get", .resource = "pods", .ns = "default", .name = "web" },
};
static const struct policy_request list_deploy = {
	.target = "prod-k8s", .kind = POLICY_REQ_K8S,
	.k8s = { .verb = "list", .group = "apps", .resource = "deployments", .ns = "default" },
};
/* statements as sql_parse() fills them */
#define STMT(c, v, ...)                                                                         \
	{ .cls = (c), .classes = 1u << (c), .verb = v,                                           \
	  .n_tables = sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(const char *),            \
	  .tables = { __VA_ARGS__ } }
static const struct sql_stmt st_select = STMT(SQL_READ, "SELECT", "public.users");
static const struct sql_stmt st_insert = STMT(SQL_WRITE, "INSERT", "public.users");
static const struct sql_stmt st_select_unq = STMT(SQL_READ, "SELECT", "users");
static const struct sql_stmt st_select_mixed = STMT(SQL_READ, "SELECT", "Public.Users");
static const struct sql_stmt st_select_db = STMT(SQL_READ, "SELECT", "db.public.users");
static const struct policy_request sql_select = {
	.target = "prod-pg", .kind = POLICY_REQ_SQL, .stmts = &st_select, .n_stmts = 1,
};
static const struct policy_request sql_insert = {
	.target = "prod-pg", .kind = POLICY_REQ_SQL, .stmts = &st_insert, .n_stmts = 1,
};
static const struct policy_request sql_select_unq = {
	.target = "prod-pg", .kind = POLICY_REQ_SQL, .stmts = &st_select_unq, .n_stmts = 1,
};
static const struct policy_request sql_select_mixed = {
	.target = "prod-pg", .kind = POLICY_REQ_SQL, .stmts = &st_select_mixed, .n_stmts = 1,
};
static const struct policy_request sql_select_db = {
	.target = "prod-pg", .kind = POLICY_REQ_SQL, .stmts = &st_select_db, .n_stmts = 1,
};

/* Decide, check action and rule, release. */
static void expect(const struct policy *p, const struct policy_identity *id,
		   const struct policy_request *req, enum policy_action want, const char *rule)
{
	struct policy_decision d;

	cr_assert_eq(policy_decide(p, id, req, &d), 0);
	cr_assert_eq(d.action, want, "action %s, want %s (rule %s)",
		     policy_action_name(d.action), policy_action_name(want), d.rule);
	cr_assert_str_eq(d.rule, rule);
	policy_decision_release(&d);
}

/* ------------------------------------------------------------ matching */

struct mcase {
	const char *match;
	const struct policy_identity *id;
	const struct policy_request *req;
	bool want;
};

static const struct mcase match_cases[] = {
	/* identity.users: only an authenticated identity has a user */
	{ "{\"identity\":{\"users\":[\"alice\"]}}", &alice, &conn_pg, true },
	{ "{\"identity\":{\"users\":[\"alice\"]}}", &bob, &conn_pg, false },
	{ "{\"identity\":{\"users\":[\"alice\"]}}", &alice_unauth, &conn_pg, false },
	{ "{\"identity\":{\"users\":[\"alice\"]}}", &anon, &conn_pg, false },
	{ "{\"identity\":{\"users\":[\"carol\",\"bob\"]}}", &bob, &conn_pg, true },
	/* groups */
	{ "{\"identity\":{\"groups\":[\"ops\",\"x\"]}}", &bob, &conn_pg, true },
	{ "{\"identity\":{\"groups\":[\"ops\",\"x\"]}}", &alice, &conn_pg, false },
	{ "{\"identity\":{\"groups\":[\"dev\"]}}", &alice, &conn_pg, true },
	{ "{\"identity\":{\"groups\":[\"dev\"]}}", &alice_unauth, &conn_pg, false },
	/* uids */
	{ "{\"identity\":{\"uids\":[1000]}}", &alice, &conn_pg, true },
	{ "{\"identity\":{\"uids\":[1000]}}", &alice_unauth, &conn_pg, true },
	{ "{\"identity\":{\"uids\":[1000]}}", &bob, &conn_pg, false },
	{ "{\"identity\":{\"uids\":[0]}}", &bob, &conn_pg, true },
	{ "{\"identity\":{\"uids\":[0]}}", &anon, &conn_pg, false },
	/* comms */
	{ "{\"identity\":{\"comms\":[\"python3\"]}}", &alice, &conn_pg, true },
	{ "{\"identity\":{\"comms\":[\"python3\"]}}", &bob, &conn_pg, false },
	{ "{\"identity\":{\"comms\":[\"python3\"]}}", &anon, &conn_pg, false },
	/* cgroups: globs, "*" crosses "/" */
	{ "{\"identity\":{\"cgroups\":[\"/agents/*\"]}}", &alice, &conn_pg, true },
	{ "{\"identity\":{\"cgroups\":[\"/agents/*\"]}}", &bob, &conn_pg, false },
	{ "{\"identity\":{\"cgroups\":[\"/agents/*\"]}}", &anon, &conn_pg, false },
	{ "{\"identity\":{\"cgroups\":[\"/agents/a?/task\"]}}", &alice, &conn_pg, true },
	{ "{\"identity\":{\"cgroups\":[\"/agents/a[0-9]/*\"]}}", &alice, &conn_pg, true },
	{ "{\"identity\":{\"cgroups\":[\"/agents\"]}}", &alice, &conn_pg, false },
	{ "{\"identity\":{\"cgroups\":[\"/x\",\"/system.slice/*\"]}}", &bob, &conn_pg, true },
	/* pods */
	{ "{\"identity\":{\"pods\":{\"namespaces\":[\"agents\"]}}}", &alice, &conn_pg, true },
	{ "{\"identity\":{\"pods\":{\"namespaces\":[\"agents\"]}}}", &bob, &conn_pg, false },
	{ "{\"identity\":{\"pods\":{\"namespaces\":[\"default\"]}}}", &alice, &conn_pg, false },
	{ "{\"identity\":{\"pods\":{\"names\":[\"agent-0\"]}}}", &alice, &conn_pg, true },
	{ "{\"identity\":{\"pods\":{\"names\":[\"agent-1\"]}}}", &alice, &conn_pg, false },
	{ "{\"identity\":{\"pods\":{\"service_accounts\":[\"agent\"]}}}", &alice, &conn_pg, true },
	{ "{\"identity\":{\"pods\":{\"service_accounts\":[\"default\"]}}}", &alice, &conn_pg,
	  false },
	{ "{\"identity\":{\"pods\":{}}}", &alice, &conn_pg, true },	/* any pod */
	{ "{\"identity\":{\"pods\":{}}}", &bob, &conn_pg, false },	/* but a pod */
	/* labels: every pair, exact values */
	{ "{\"identity\":{\"pods\":{\"labels\":{\"app\":\"agent\"}}}}", &alice, &conn_pg, true },
	{ "{\"identity\":{\"pods\":{\"labels\":{\"app\":\"agent\",\"tier\":\"ai\"}}}}", &alice,
	  &conn_pg, true },
	{ "{\"identity\":{\"pods\":{\"labels\":{\"app\":\"agent\",\"tier\":\"web\"}}}}", &alice,
	  &conn_pg, false },
	{ "{\"identity\":{\"pods\":{\"labels\":{\"app\":\"other\"}}}}", &alice, &conn_pg, false },
	{ "{\"identity\":{\"pods\":{\"labels\":{\"missing\":\"x\"}}}}", &alice, &conn_pg, false },
	/* authenticated */
	{ "{\"identity\":{\"authenticated\":true}}", &alice, &conn_pg, true },
	{ "{\"identity\":{\"authenticated\":true}}", &alice_unauth, &conn_pg, false },
	{ "{\"identity\":{\"authenticated\":false}}", &alice_unauth, &conn_pg, true },
	{ "{\"identity\":{\"authenticated\":false}}", &anon, &conn_pg, true },
	{ "{\"identity\":{\"authenticated\":false}}", &alice, &conn_pg, false },
	/* target: a name or a list */
	{ "{\"target\":\"prod-pg\"}", &anon, &conn_pg, true },
	{ "{\"target\":\"prod-pg\"}", &anon, &conn_k8s, false },
	{ "{\"target\":\"prod-pg\"}", &anon, &del_ns, false },
	{ "{\"target\":\"prod-pg\"}", &anon, &sql_select, true },
	{ "{\"target\":[\"prod-k8s\",\"prod-pg\"]}", &anon, &conn_pg, true },
	{ "{\"target\":[\"prod-k8s\",\"prod-pg\"]}", &anon, &del_ns, true },
	{ "{\"target\":[\"staging\"]}", &anon, &del_ns, false },
	/* k8s: only Kubernetes requests */
	{ "{\"k8s\":{}}", &anon, &del_ns, true },
	{ "{\"k8s\":{}}", &anon, &conn_k8s, false },
	{ "{\"k8s\":{}}", &anon, &sql_select, false },
	{ "{\"k8s\":{\"verbs\":[\"delete\",\"deletecollection\"]}}", &anon, &del_ns, true },
	{ "{\"k8s\":{\"verbs\":[\"delete\",\"deletecollection\"]}}", &anon, &get_pod, false },
	/* groups: "" is core; a NULL group in the request is core too */
	{ "{\"k8s\":{\"groups\":[\"\"]}}", &anon, &exec_pod, true },
	{ "{\"k8s\":{\"groups\":[\"\"]}}", &anon, &get_pod, true },
	{ "{\"k8s\":{\"groups\":[\"\"]}}", &anon, &list_deploy, false },
	{ "{\"k8s\":{\"groups\":[\"apps\"]}}", &anon, &list_deploy, true },
	{ "{\"k8s\":{\"groups\":[\"apps\"]}}", &anon, &get_pod, false },
	{ "{\"k8s\":{\"resources\":[\"namespaces\"]}}", &anon, &del_ns, true },
	{ "{\"k8s\":{\"resources\":[\"namespaces\"]}}", &anon, &get_pod, false },
	/* subresources: "" is none */
	{ "{\"k8s\":{\"subresources\":[\"exec\",\"attach\"]}}", &anon, &exec_pod, true },
	{ "{\"k8s\":{\"subresources\":[\"exec\",\"attach\"]}}", &anon, &get_pod, false },
	{ "{\"k8s\":{\"subresources\":[\"\"]}}", &anon, &get_pod, true },
	{ "{\"k8s\":{\"subresources\":[\"\"]}}", &anon, &exec_pod, false },
	/* namespaces: "" is cluster-scoped */
	{ "{\"k8s\":{\"namespaces\":[\"default\"]}}", &anon, &get_pod, true },
	{ "{\"k8s\":{\"namespaces\":[\"default\"]}}", &anon, &del_ns, false },
	{ "{\"k8s\":{\"namespaces\":[\"\"]}}", &anon, &del_ns, true },
	{ "{\"k8s\":{\"names\":[\"web\"]}}", &anon, &get_pod, true },
	{ "{\"k8s\":{\"names\":[\"web\"]}}", &anon, &list_deploy, false },
	{ "{\"k8s\":{\"names\":[\"\"]}}", &anon, &list_deploy, true },
	{ "{\"k8s\":{\"verbs\":[\"create\"],\"resources\":[\"pods\"],\"subresources\":[\"exec\"],"
	  "\"namespaces\":[\"default\"]}}", &anon, &exec_pod, true },
	{ "{\"k8s\":{\"verbs\":[\"create\"],\"resources\":[\"pods\"],\"subresources\":[\"exec\"],"
	  "\"namespaces\":[\"kube-system\"]}}", &anon, &exec_pod, false },
	/* sql: only SQL requests; classes */
	{ "{\"sql\":{}}", &anon, &sql_select, true },
	{ "{\"sql\":{}}", &anon, &conn_pg, false },
	{ "{\"sql\":{}}", &anon, &del_ns, false },
	{ "{\"sql\":{\"classes\":[\"read\"]}}", &anon, &sql_select, true },
	{ "{\"sql\":{\"classes\":[\"read\"]}}", &anon, &sql_insert, false },
	{ "{\"sql\":{\"classes\":[\"write\",\"ddl\"]}}", &anon, &sql_insert, true },
	/* tables: ASCII case-insensitive; unqualified matches any schema */
	{ "{\"sql\":{\"tables\":[\"users\"]}}", &anon, &sql_select, true },
	{ "{\"sql\":{\"tables\":[\"USERS\"]}}", &anon, &sql_select, true },
	{ "{\"sql\":{\"tables\":[\"public.users\"]}}", &anon, &sql_select, true },
	{ "{\"sql\":{\"tables\":[\"other.users\"]}}", &anon, &sql_select, false },
	{ "{\"sql\":{\"tables\":[\"public.users\"]}}", &anon, &sql_select_unq, false },
	{ "{\"sql\":{\"tables\":[\"users\"]}}", &anon, &sql_select_unq, true },
	{ "{\"sql\":{\"tables\":[\"secrets\"]}}", &anon, &sql_select, false },
	{ "{\"sql\":{\"tables\":[\"public.users\"]}}", &anon, &sql_select_mixed, true },
	{ "{\"sql\":{\"tables\":[\"users\"]}}", &anon, &sql_select_db, true },
	{ "{\"sql\":{\"tables\":[\"public.users\"]}}", &anon, &sql_select_db, true },
	{ "{\"sql\":{\"tables\":[\"db.public.users\"]}}", &anon, &sql_select_db, true },
	{ "{\"sql\":{\"tables\":[\"db.public.users\"]}}", &anon, &sql_select, false },
	{ "{\"sql\":{\"tables\":[\"sers\"]}}", &anon, &sql_select, false },
	{ "{\"sql\":{\"classes\":[\"read\"],\"tables\":[\"users\"]}}", &anon, &sql_insert, false },
	/* combined: all keys present must match */
	{ "{\"identity\":{\"groups\":[\"ai-agents\"],\"uids\":[1000]},\"target\":\"prod-pg\"}",
	  &alice, &conn_pg, true },
	{ "{\"identity\":{\"groups\":[\"ai-agents\"],\"uids\":[1000]},\"target\":\"prod-pg\"}",
	  &alice, &conn_k8s, false },
	{ "{\"identity\":{\"groups\":[\"ai-agents\"],\"uids\":[1000]},\"target\":\"prod-pg\"}",
	  &bob, &conn_pg, false },
	{ "{\"identity\":{\"groups\":[\"ai-agents\"],\"uids\":[0]}}", &alice, &conn_pg, false },
	{ "{\"identity\":{\"users\":[\"alice\"],\"pods\":{\"labels\":{\"app\":\"agent\"}},"
	  "\"authenticated\":true},\"target\":\"prod-k8s\",\"k8s\":{\"verbs\":[\"delete\"]}}",
	  &alice, &del_ns, true },
	{ "{\"identity\":{\"users\":[\"alice\"],\"pods\":{\"labels\":{\"app\":\"agent\"}},"
	  "\"authenticated\":true},\"target\":\"prod-k8s\",\"k8s\":{\"verbs\":[\"delete\"]}}",
	  &alice, &get_pod, false },
	/* {} matches everything, the connect of a tcp target included */
	{ "{}", &anon, &conn_pg, true },
	{ "{}", &alice, &sql_insert, true },
};

Test(policy_match, each_key_alone_and_combined)
{
	for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		const struct mcase *c = &match_cases[i];
		char text[1024];
		struct policy_decision d;
		struct policy *p;

		snprintf(text, sizeof(text),
			 "{\"version\":1,\"rules\":[{\"name\":\"r\",\"match\":%s,"
			 "\"action\":\"allow\"}]}", c->match);
		p = load(text);
		cr_assert_eq(policy_decide(p, c->id, c->req, &d), 0);
		cr_assert_eq(d.action, c->want ? POLICY_ALLOW : POLICY_DENY,
			     "case %zu: %s -> %s", i, c->match, policy_action_name(d.action));
		cr_assert_str_eq(d.rule, c->want ? "r" : "default", "case %zu", i);
		policy_decision_release(&d);
		policy_free(p);
	}
}

Test(policy_match, first_match_wins)
{
	const char *a = "{\"version\":1,\"rules\":["
			"{\"name\":\"alice-ok\",\"match\":{\"identity\":{\"users\":[\"alice\"]}},"
			"\"action\":\"allow\"},"
			"{\"name\":\"everyone-review\",\"match\":{},\"action\":\"review\"},"
			"{\"name\":\"never-reached\",\"match\":{},\"action\":\"deny\"}]}";
	const char *b = "{\"version\":1,\"rules\":["
			"{\"name\":\"everyone-review\",\"match\":{},\"action\":\"review\"},"
			"{\"name\":\"alice-ok\",\"match\":{\"identity\":{\"users\":[\"alice\"]}},"
			"\"action\":\"allow\"}]}";
	struct policy *p = load(a), *q = load(b);

	expect(p, &alice, &conn_pg, POLICY_ALLOW, "alice-ok");
	expect(p, &bob, &conn_pg, POLICY_REVIEW, "everyone-review");
	expect(q, &alice, &conn_pg, POLICY_REVIEW, "everyone-review");
	policy_free(p);
	policy_free(q);
}

Test(policy_match, default_action)
{
	struct policy *none = load("{\"version\":1}");
	struct policy *deny = load("{\"version\":1,\"default\":\"deny\",\"rules\":[]}");
	struct policy *allow = load("{\"version\":1,\"default\":\"allow\",\"rules\":["
				    "{\"name\":\"x\",\"match\":{\"target\":\"t\"},"
				    "\"action\":\"deny\"}]}");
	struct policy *review = load("{\"version\":1,\"default\":\"review\"}");
	struct policy_decision d;

	expect(none, &alice, &conn_pg, POLICY_DENY, "default");
	expect(deny, &alice, &sql_select, POLICY_DENY, "default");
	expect(allow, &alice, &conn_pg, POLICY_ALLOW, "default");
	expect(review, &alice, &del_ns, POLICY_REVIEW, "default");
	cr_assert_eq(policy_default_action(none), POLICY_DENY);
	cr_assert_eq(policy_default_action(allow), POLICY_ALLOW);
	/* no policy at all denies */
	expect(NULL, &alice, &conn_pg, POLICY_DENY, "default");
	/* bad arguments deny too */
	cr_assert_eq(policy_decide(allow, NULL, &conn_pg, &d), -EINVAL);
	cr_assert_eq(d.action, POLICY_DENY);
	policy_decision_release(&d);
	cr_assert_eq(policy_decide(allow, &alice, &conn_pg, NULL), -EINVAL);
	policy_free(none);
	policy_free(deny);
	policy_free(allow);
	policy_free(review);
}

/* ----------------------------------------------------------------- SQL */

static const char sql_policy[] =
	"{\"version\":1,\"rules\":["
	"{\"name\":\"no-secrets\",\"match\":{\"sql\":{\"tables\":[\"secrets\"]}},"
	"\"action\":\"deny\"},"
	"{\"name\":\"writes\",\"match\":{\"sql\":{\"classes\":[\"write\"]}},"
	"\"action\":\"review\",\"mask\":[{\"pattern\":\"email\"}]},"
	"{\"name\":\"reads\",\"match\":{\"sql\":{\"classes\":[\"read\"]}},"
	"\"action\":\"allow\",\"mask\":[{\"sql_column\":\"email\"}],\"record\":\"metadata\"}]}";

static struct policy_request sqlreq(const struct sql_stmt *st, size_t n)
{
	return (struct policy_request){
		.target = "prod-pg", .kind = POLICY_REQ_SQL, .stmts = st, .n_stmts = n,
	};
}

Test(policy_sql, one_statement)
{
	struct policy *p = load(sql_policy);
	struct policy_request r = sqlreq(&st_select, 1);
	struct policy_decision d, d2;

	cr_assert_eq(policy_decide(p, &alice, &r, &d), 0);
	cr_assert_eq(d.action, POLICY_ALLOW);
	cr_assert_str_eq(d.rule, "reads");
	cr_assert_eq(d.n_stmts, 1);
	cr_assert_str_eq(d.stmts[0].rule, "reads");
	cr_assert_eq(d.record, POLICY_RECORD_METADATA);
	cr_assert(mask_column_matches(d.mask, "email", 5));
	cr_assert_eq(mask_spec_patterns(d.mask), 0);
	/* one rule's mask is borrowed from the policy, not copied */
	cr_assert_null(d.mask_owned);
	cr_assert_eq(policy_decide(p, &bob, &r, &d2), 0);
	cr_assert_eq(d.mask, d2.mask);
	policy_decision_release(&d);
	policy_decision_release(&d2);
	policy_free(p);
}

Test(policy_sql, every_statement_must_pass)
{
	struct policy *p = load(sql_policy);
	struct sql_stmt two[] = { st_select, st_insert };
	struct sql_stmt three[] = {
		st_select,
		STMT(SQL_READ, "SELECT", "users", "secrets"),
		STMT(SQL_WRITE, "UPDATE", "orders"),
	};
	struct policy_request r2 = sqlreq(two, 2), r3 = sqlreq(three, 3);
	struct policy_decision d;

	/* read + write: the write's review decides; masks of both join */
	cr_assert_eq(policy_decide(p, &alice, &r2, &d), 0);
	cr_assert_eq(d.action, POLICY_REVIEW);
	cr_assert_str_eq(d.rule, "writes");
	cr_assert_eq(d.n_stmts, 2);
	cr_assert_eq(d.stmts[0].action, POLICY_ALLOW);
	cr_assert_str_eq(d.stmts[0].rule, "reads");
	cr_assert_eq(d.stmts[1].action, POLICY_REVIEW);
	cr_assert_str_eq(d.stmts[1].rule, "writes");
	cr_assert(mask_column_matches(d.mask, "EMAIL", 5));
	cr_assert_eq(mask_spec_patterns(d.mask), MASK_PAT_EMAIL);
	cr_assert_not_null(d.mask_owned);
	/* "writes" records in full: full wins */
	cr_assert_eq(d.record, POLICY_RECORD_FULL);
	policy_decision_release(&d);
	cr_assert_null(d.stmts);

	/* one denied table in the middle statement denies the message */
	cr_assert_eq(policy_decide(p, &alice, &r3, &d), 0);
	cr_assert_eq(d.action, POLICY_DENY);
	cr_assert_str_eq(d.rule, "no-secrets");
	cr_assert_eq(d.n_stmts, 3);
	cr_assert_eq(d.stmts[0].action, POLICY_ALLOW);
	cr_assert_eq(d.stmts[1].action, POLICY_DENY);
	cr_assert_str_eq(d.stmts[1].rule, "no-secrets");
	cr_assert_eq(d.stmts[2].action, POLICY_REVIEW);
	cr_assert_str_eq(d.stmts[2].rule, "writes");
	cr_assert_null(d.mask, "a denied request has nothing to mask");
	policy_decision_release(&d);
	policy_free(p);
}

Test(policy_sql, unmatched_statement_gets_the_default)
{
	struct policy *p = load(sql_policy);
	struct sql_stmt ddl[] = { st_select, { .cls = SQL_DDL, .verb = "DROP" } };
	struct policy_request r = sqlreq(ddl, 2), empty = sqlreq(NULL, 0);
	struct policy_decision d;

	cr_assert_eq(policy_decide(p, &alice, &r, &d), 0);
	cr_assert_eq(d.action, POLICY_DENY);
	cr_assert_str_eq(d.rule, "default");
	cr_assert_str_eq(d.stmts[0].rule, "reads");
	cr_assert_str_eq(d.stmts[1].rule, "default");
	policy_decision_release(&d);
	/* no statements: no sql rule matches, the default decides */
	expect(p, &alice, &empty, POLICY_DENY, "default");
	policy_free(p);
}

Test(policy_sql, each_table_must_pass)
{
	/* allowing one table must not allow a join with another */
	struct policy *p = load("{\"version\":1,\"rules\":[{\"name\":\"stats\",\"match\":"
				"{\"sql\":{\"tables\":[\"public_stats\"]}},\"action\":\"allow\"}]}");
	struct sql_stmt s1 = STMT(SQL_READ, "SELECT", "public_stats");
	struct sql_stmt s2 = STMT(SQL_READ, "SELECT", "public_stats", "secrets");
	struct sql_stmt s0 = { .cls = SQL_READ, .classes = 1u << SQL_READ };
	struct policy_request r1 = sqlreq(&s1, 1), r2 = sqlreq(&s2, 1), r0 = sqlreq(&s0, 1);

	expect(p, &alice, &r1, POLICY_ALLOW, "stats");
	expect(p, &alice, &r2, POLICY_DENY, "default");
	expect(p, &alice, &r0, POLICY_DENY, "default");
	policy_free(p);
}

Test(policy_sql, same_masks_are_borrowed_not_merged)
{
	struct policy *p = load("{\"version\":1,\"rules\":["
				"{\"name\":\"a\",\"match\":{\"sql\":{\"classes\":[\"read\"]}},"
				"\"action\":\"allow\",\"mask\":[{\"sql_column\":\"email\"}]},"
				"{\"name\":\"b\",\"match\":{\"sql\":{\"classes\":[\"write\"]}},"
				"\"action\":\"allow\",\"mask\":[{\"sql_column\":\"EMAIL\"}]}]}");
	struct sql_stmt two[] = { st_select, st_insert };
	struct policy_request r = sqlreq(two, 2);
	struct policy_decision d;

	cr_assert_eq(policy_decide(p, &alice, &r, &d), 0);
	cr_assert_eq(d.action, POLICY_ALLOW);
	cr_assert_str_eq(d.rule, "a");
	cr_assert_null(d.mask_owned);
	cr_assert(mask_column_matches(d.mask, "email", 5));
	policy_decision_release(&d);
	policy_free(p);
}

Test(policy_sql, every_class_of_a_statement_must_pass)
{
	/* WITH d AS (DELETE ...) SELECT ...: sql.h says read and write */
	struct sql_stmt with_delete = {
		.cls = SQL_WRITE, .classes = (1u << SQL_READ) | (1u << SQL_WRITE), .verb = "WITH",
		.flags = SQL_F_NO_WHERE, .n_tables = 1, .tables = { "t" },
	};
	struct policy_request r = sqlreq(&with_delete, 1);
	struct policy *reads = load("{\"version\":1,\"rules\":[{\"name\":\"reads\",\"match\":"
				    "{\"sql\":{\"classes\":[\"read\"]}},\"action\":\"allow\"}]}");
	struct policy *rw = load("{\"version\":1,\"rules\":["
				 "{\"name\":\"reads\",\"match\":{\"sql\":{\"classes\":[\"read\"]}},"
				 "\"action\":\"allow\"},"
				 "{\"name\":\"writes\",\"match\":{\"sql\":{\"classes\":[\"write\"]}},"
				 "\"action\":\"review\"}]}");

	/* allowing reads does not allow the DELETE inside */
	expect(reads, &alice, &r, POLICY_DENY, "default");
	expect(rw, &alice, &r, POLICY_REVIEW, "writes");
	/* a class out of range counts as write */
	with_delete.cls = (enum sql_class)77;
	with_delete.classes = 0;
	expect(rw, &alice, &r, POLICY_REVIEW, "writes");
	policy_free(reads);
	policy_free(rw);
}

Test(policy_sql, unsure_names_fail_safe)
{
	struct sql_stmt unsure = STMT(SQL_READ, "SELECT", "secrets_cut_to_fit");
	struct policy_request r = sqlreq(&unsure, 1);
	struct policy *deny = load("{\"version\":1,\"default\":\"allow\",\"rules\":["
				   "{\"name\":\"no-secrets\",\"match\":{\"sql\":{\"tables\":"
				   "[\"secrets\"]}},\"action\":\"deny\"}]}");
	struct policy *allow = load("{\"version\":1,\"rules\":[{\"name\":\"stats\",\"match\":"
				    "{\"sql\":{\"tables\":[\"secrets_cut_to_fit\"]}},"
				    "\"action\":\"allow\"}]}");

	expect(deny, &alice, &r, POLICY_ALLOW, "default");
	expect(allow, &alice, &r, POLICY_ALLOW, "stats");
	unsure.flags = SQL_F_NAME_UNSURE;
	/* sql.h cannot vouch for the name: a deny naming tables matches it,
	 * an allow naming tables does not */
	expect(deny, &alice, &r, POLICY_DENY, "no-secrets");
	expect(allow, &alice, &r, POLICY_DENY, "default");
	/* a name filling its whole array without a NUL is unsure too */
	unsure.flags = 0;
	memset(unsure.tables[0], 'x', SQL_NAME_MAX);
	expect(deny, &alice, &r, POLICY_DENY, "no-secrets");
	expect(allow, &alice, &r, POLICY_DENY, "default");
	policy_free(deny);
	policy_free(allow);
}

Test(policy_sql, no_where)
{
	struct sql_stmt del = STMT(SQL_WRITE, "DELETE", "orders");
	struct policy_request r = sqlreq(&del, 1);
	struct policy *p = load("{\"version\":1,\"rules\":["
				"{\"name\":\"no-mass-delete\",\"match\":{\"sql\":{\"classes\":"
				"[\"write\"],\"no_where\":true}},\"action\":\"deny\"},"
				"{\"name\":\"scoped-writes\",\"match\":{\"sql\":{\"no_where\":false}},"
				"\"action\":\"allow\"}]}");

	expect(p, &alice, &r, POLICY_ALLOW, "scoped-writes");
	del.flags = SQL_F_NO_WHERE;
	expect(p, &alice, &r, POLICY_DENY, "no-mass-delete");
	load_bad("{\"version\":1,\"rules\":[{\"name\":\"a\",\"action\":\"deny\",\"match\":"
		 "{\"sql\":{\"no_where\":\"yes\"}}}]}",
		 "t.json:1:78: rules[0].match.sql.no_where: must be true or false");
	load_bad("{\"version\":1,\"rules\":[{\"name\":\"a\",\"action\":\"deny\",\"match\":"
		 "{\"sql\":{\"tables\":[\"\\\"Users\\\"\"]}}}]}",
		 "t.json:1:77: rules[0].match.sql.tables[0]: a table name without quotes, as the "
		 "classifier spells it (matching is case-insensitive)");
	policy_free(p);
}

/* SQL text through sql.h and the engine, as `sluice policy test` does it. */
static void expect_sql(const struct policy *p, const struct policy_identity *id,
		       const char *target, const char *sql, enum policy_action want,
		       const char *rule)
{
	json_t *j = json_pack("{s:s, s:s}", "target", target, "sql", sql);
	struct policy_request *r = policy_request_from_json(j, err, sizeof(err));

	cr_assert_not_null(r, "%s: %s", sql, err);
	json_decref(j);
	{
		struct policy_decision d;

		cr_assert_eq(policy_decide(p, id, r, &d), 0);
		cr_assert_eq(d.action, want, "%s: %s by %s", sql, policy_action_name(d.action),
			     d.rule);
		cr_assert_str_eq(d.rule, rule, "%s", sql);
		policy_decision_release(&d);
	}
	policy_request_free(r);
}

Test(policy_sql, text_end_to_end)
{
	struct policy *p = load(
		"{\"version\":1,\"rules\":["
		"{\"name\":\"no-secrets\",\"match\":{\"sql\":{\"tables\":[\"secrets\"]}},"
		"\"action\":\"deny\"},"
		"{\"name\":\"no-mass-delete\",\"match\":{\"sql\":{\"no_where\":true}},"
		"\"action\":\"deny\"},"
		"{\"name\":\"reads\",\"match\":{\"sql\":{\"classes\":[\"read\",\"tx\"]}},"
		"\"action\":\"allow\"},"
		"{\"name\":\"writes\",\"match\":{\"sql\":{\"classes\":[\"write\"]}},"
		"\"action\":\"review\"}]}");

	expect_sql(p, &alice, "prod-pg", "SELECT * FROM users", POLICY_ALLOW, "reads");
	expect_sql(p, &alice, "prod-pg", "BEGIN; SELECT 1; COMMIT", POLICY_ALLOW, "reads");
	expect_sql(p, &alice, "prod-pg", "SELECT * FROM users; UPDATE users SET a = 1 WHERE id = 2",
		   POLICY_REVIEW, "writes");
	expect_sql(p, &alice, "prod-pg", "SELECT * FROM users u JOIN public.Secrets s ON true",
		   POLICY_DENY, "no-secrets");
	expect_sql(p, &alice, "prod-pg", "SELECT 1; -- ; DROP TABLE users\nSELECT 2", POLICY_ALLOW,
		   "reads");
	expect_sql(p, &alice, "prod-pg", "SELECT $$; DROP TABLE x; $$", POLICY_ALLOW, "reads");
	expect_sql(p, &alice, "prod-pg", "WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) "
		   "SELECT * FROM d", POLICY_REVIEW, "writes");
	expect_sql(p, &alice, "prod-pg", "DELETE FROM orders", POLICY_DENY, "no-mass-delete");
	expect_sql(p, &alice, "prod-pg", "EXPLAIN ANALYZE DELETE FROM orders", POLICY_DENY,
		   "no-mass-delete");
	expect_sql(p, &alice, "prod-pg", "DROP TABLE users", POLICY_DENY, "default");
	expect_sql(p, &alice, "prod-pg", "", POLICY_DENY, "default");
	policy_free(p);
}

Test(policy_decision, mask_and_record_of_single_requests)
{
	struct policy *p = load("{\"version\":1,\"rules\":["
				"{\"name\":\"quiet\",\"match\":{\"target\":\"prod-k8s\"},"
				"\"action\":\"allow\",\"record\":\"metadata\","
				"\"mask\":[{\"k8s\":\"secrets.data\"}]},"
				"{\"name\":\"look\",\"match\":{},\"action\":\"review\","
				"\"mask\":[{\"pattern\":\"jwt\"}]}]}");
	struct policy_decision d;

	cr_assert_eq(policy_decide(p, &alice, &get_pod, &d), 0);
	cr_assert_eq(d.record, POLICY_RECORD_METADATA);
	cr_assert_eq(mask_spec_kinds(d.mask), MASK_KIND_K8S);
	cr_assert_eq(d.n_stmts, 0);
	policy_decision_release(&d);
	cr_assert_eq(policy_decide(p, &alice, &conn_pg, &d), 0);
	cr_assert_eq(d.action, POLICY_REVIEW);
	cr_assert_eq(d.record, POLICY_RECORD_FULL);
	cr_assert_eq(mask_spec_patterns(d.mask), MASK_PAT_JWT);
	policy_decision_release(&d);
	policy_free(p);
}

Test(policy_decision, json)
{
	struct policy *p = load(sql_policy);
	struct sql_stmt two[] = { st_select, st_insert };
	struct policy_request r = sqlreq(two, 2);
	struct policy_decision d;
	json_t *j, *want;
	json_error_t e;

	cr_assert_eq(policy_decide(p, &alice, &r, &d), 0);
	j = policy_decision_json(&d, &r);
	want = json_loads("{\"decision\":\"review\",\"rule\":\"writes\",\"record\":\"full\","
			  "\"mask\":[{\"sql_column\":\"email\"},{\"pattern\":\"email\"}],"
			  "\"statements\":["
			  "{\"decision\":\"allow\",\"rule\":\"reads\",\"class\":\"read\","
			  "\"tables\":[\"public.users\"],\"verb\":\"SELECT\"},"
			  "{\"decision\":\"review\",\"rule\":\"writes\",\"class\":\"write\","
			  "\"tables\":[\"public.users\"],\"verb\":\"INSERT\"}]}", 0, &e);
	cr_assert_not_null(want, "%s", e.text);
	cr_assert(json_equal(j, want), "%s", json_dumps(j, JSON_SORT_KEYS));
	json_decref(j);
	json_decref(want);
	policy_decision_release(&d);

	cr_assert_eq(policy_decide(p, &alice, &del_ns, &d), 0);
	j = policy_decision_json(&d, NULL);
	want = json_loads("{\"decision\":\"deny\",\"rule\":\"default\",\"record\":\"full\"}", 0,
			  &e);
	cr_assert(json_equal(j, want), "%s", json_dumps(j, JSON_SORT_KEYS));
	json_decref(j);
	json_decref(want);
	policy_decision_release(&d);
	policy_free(p);
}

/* ---------------------------------------------- errors at LINE:COLUMN */

Test(policy_errors, json_syntax)
{
	load_bad("{\n"
		 "  \"version\": 1,\n"
		 "  \"rules\": [\n"
		 "    {\"name\": \"a\", \"match\": {}, \"action\": \"allow\",}\n"
		 "  ]\n"
		 "}\n",
		 "t.json:4:50: string or '}' expected near '}'");
	load_bad("{\n  \"version\": 1,\n  \"default\": dney\n}",
		 "t.json:3:17: invalid token near 'dney'");
	load_bad("", "t.json:1:0: '[' or '{' expected near end of file");
	/* a member repeated in one object is refused, not silently overridden */
	load_bad("{\"version\": 1, \"default\": \"allow\", \"default\": \"deny\"}",
		 "t.json:1:44: duplicate object key near '\"default\"'");
}

Test(policy_errors, unknown_key_deep_in_rule_three)
{
	load_bad("{\n"
		 "  \"version\": 1,\n"
		 "  \"default\": \"deny\",\n"
		 "  \"rules\": [\n"
		 "    {\"name\": \"one\", \"match\": {}, \"action\": \"allow\"},\n"
		 "    {\"name\": \"two\", \"match\": {\"target\": \"x\"}, \"action\": \"deny\"},\n"
		 "    {\"name\": \"three\",\n"
		 "     \"match\": {\"identity\": {\"pods\": {\"namespaces\": [\"a\"],\n"
		 "                                     \"lables\": {\"app\": \"x\"}}}},\n"
		 "     \"action\": \"allow\"}\n"
		 "  ]\n"
		 "}\n",
		 "t.json:9:38: rules[2].match.identity.pods.lables: unknown key (known: "
		 "namespaces, names, service_accounts, labels)");
}

Test(policy_errors, unknown_keys_everywhere)
{
	load_bad("{\"version\": 1, \"rule\": []}",
		 "t.json:1:16: rule: unknown key (known: version, default, rules, description)");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"match\": {}, \"action\": "
		 "\"allow\", \"when\": 1}]}",
		 "t.json:1:72: rules[0].when: unknown key (known: name, match, action, mask, "
		 "record, description)");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"match\": {\"k8s\": "
		 "{\"verb\": [\"get\"]}}, \"action\": \"allow\"}]}",
		 "t.json:1:58: rules[0].match.k8s.verb: unknown key (known: verbs, groups, "
		 "resources, subresources, namespaces, names)");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"match\": {\"targets\": "
		 "\"x\"}, \"action\": \"allow\"}]}",
		 "t.json:1:50: rules[0].match.targets: unknown key (known: identity, target, "
		 "k8s, sql)");
}

Test(policy_errors, positions_count_characters_and_decode_escapes)
{
	/* "é" is two bytes, one column, as jansson counts */
	load_bad("{\"description\": \"é\", \"vérsion\": 1}",
		 "t.json:1:22: vérsion: unknown key (known: version, default, rules, "
		 "description)");
	/* a key written with escapes is found by what it decodes to */
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"allow\",\n"
		 "  \"match\": {\"identity\": {\"\\u0075sers\": \"alice\"}}}]}",
		 "t.json:2:40: rules[0].match.identity.users: must be a list of strings");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"allow\",\n"
		 "  \"match\": {\"identity\": {\"x\\ty\": 1, \"\\ud83d\\ude00\": 2}}}]}",
		 "t.json:2:26: rules[0].match.identity.x\\x09y: unknown key (known: users, "
		 "groups, uids, comms, cgroups, pods, authenticated)");
}

Test(policy_errors, wrong_types)
{
	load_bad("{\"version\": 1, \"rules\": [\n"
		 "  {\"name\": \"a\", \"action\": \"allow\",\n"
		 "   \"match\": {\"identity\": {\"uids\": [1000, \"1001\"]}}}]}",
		 "t.json:3:42: rules[0].match.identity.uids[1]: must be an integer from 0 to "
		 "4294967295");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"allow\", "
		 "\"match\": {\"identity\": {\"uids\": [-1]}}}]}",
		 "t.json:1:91: rules[0].match.identity.uids[0]: must be an integer from 0 to "
		 "4294967295");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"allow\", "
		 "\"match\": {\"identity\": {\"groups\": \"ops\"}}}]}",
		 "t.json:1:92: rules[0].match.identity.groups: must be a list of strings");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"allow\", "
		 "\"match\": {\"identity\": {\"authenticated\": \"yes\"}}}]}",
		 "t.json:1:99: rules[0].match.identity.authenticated: must be true or false");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"allow\", "
		 "\"match\": {\"target\": 7}}]}",
		 "t.json:1:79: rules[0].match.target: must be a target name or a list of them");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"allow\", "
		 "\"match\": []}]}",
		 "t.json:1:68: rules[0].match: must be an object ({} matches everything)");
	load_bad("{\"version\": 1, \"rules\": {}}", "t.json:1:25: rules: must be a list of rules");
	load_bad("{\"version\": 1, \"rules\": [\"allow\"]}",
		 "t.json:1:26: rules[0]: a rule must be an object");
	load_bad("[]", "t.json:1:1: a policy file is an object {\"version\": 1, \"default\", "
			"\"rules\"}");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"allow\", "
		 "\"match\": {\"identity\": {\"pods\": {\"labels\": {\"app\": 1}}}}}]}",
		 "t.json:1:109: rules[0].match.identity.pods.labels.app: a label value must be a "
		 "string");
}

Test(policy_errors, bad_values)
{
	load_bad("{\"version\": 1,\n \"rules\": [{\"name\": \"a\", \"match\": {},\n"
		 "            \"action\": \"permit\"}]}",
		 "t.json:3:23: rules[0].action: action is \"allow\", \"deny\" or \"review\"");
	load_bad("{\"version\": 1, \"default\": \"block\"}",
		 "t.json:1:27: default: default is \"deny\", \"allow\" or \"review\"");
	load_bad("{\"version\": 2}",
		 "t.json:1:13: version: unsupported version (this sluice reads version 1)");
	load_bad("{\"rules\": []}", "t.json:1:1: missing \"version\": 1");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"allow\", "
		 "\"match\": {}, \"record\": \"none\"}]}",
		 "t.json:1:82: rules[0].record: record is \"full\" or \"metadata\"");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"allow\", "
		 "\"match\": {\"sql\": {\"classes\": [\"read\", \"select\"]}}}]}",
		 "t.json:1:97: rules[0].match.sql.classes[1]: not a SQL class (read, write, ddl, "
		 "dcl, admin, tx)");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"allow\", "
		 "\"match\": {\"k8s\": {\"verbs\": [\"delet\"]}}}]}",
		 "t.json:1:87: rules[0].match.k8s.verbs[0]: not a Kubernetes verb (get, list, "
		 "watch, create, update, patch, delete, deletecollection, proxy, impersonate, "
		 "bind, escalate, use, approve, sign)");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"allow\", "
		 "\"match\": {\"k8s\": {\"groups\": [\"core\"]}}}]}",
		 "t.json:1:88: rules[0].match.k8s.groups[0]: the core API group is \"\", not "
		 "\"core\"");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"allow\", "
		 "\"match\": {\"k8s\": {\"resources\": [\"pods/exec\"]}}}]}",
		 "t.json:1:91: rules[0].match.k8s.resources[0]: a subresource goes in "
		 "\"subresources\": resources [\"pods\"], subresources [\"exec\"]");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"allow\", "
		 "\"match\": {\"k8s\": {\"resources\": [\"Pods\"]}}}]}",
		 "t.json:1:91: rules[0].match.k8s.resources[0]: resources are lower-case plurals "
		 "such as \"pods\"");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"allow\", "
		 "\"match\": {\"identity\": {\"comms\": [\"python3.11-worker\"]}}}]}",
		 "t.json:1:92: rules[0].match.identity.comms[0]: longer than 15 bytes: the kernel "
		 "keeps only the first 15 of a comm");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"allow\", "
		 "\"match\": {\"identity\": {\"cgroups\": [\"agents/*\"]}}}]}",
		 "t.json:1:94: rules[0].match.identity.cgroups[0]: a cgroup path starts with "
		 "\"/\"");
	/* an empty list can never match: refused rather than silently dead */
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"deny\", "
		 "\"match\": {\"identity\": {\"users\": []}}}]}",
		 "t.json:1:90: rules[0].match.identity.users: an empty list never matches; leave "
		 "the key out to match anything");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"deny\", "
		 "\"match\": {\"k8s\": {}, \"sql\": {}}}]}",
		 "t.json:1:79: rules[0].match.sql: a request is Kubernetes or SQL: k8s and sql "
		 "together never match");
}

Test(policy_errors, rules_and_names)
{
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"match\": {}}]}",
		 "t.json:1:26: rules[0]: a rule needs \"name\", \"match\" and \"action\"");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"has space\", \"match\": {}, "
		 "\"action\": \"deny\"}]}",
		 "t.json:1:35: rules[0].name: a rule name is 1 to 128 of A-Z a-z 0-9 - _ . : / @, "
		 "starting with a letter or digit");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"default\", \"match\": {}, "
		 "\"action\": \"deny\"}]}",
		 "t.json:1:35: rules[0].name: \"default\" is reserved: it names the default "
		 "decision");
	load_bad("{\n"
		 "  \"version\": 1,\n"
		 "  \"rules\": [\n"
		 "    {\"name\": \"dup\", \"match\": {}, \"action\": \"deny\"},\n"
		 "    {\"name\": \"other\", \"match\": {}, \"action\": \"deny\"},\n"
		 "    {\"name\": \"dup\", \"match\": {}, \"action\": \"allow\"}\n"
		 "  ]\n"
		 "}\n",
		 "t.json:6:14: rules[2].name: duplicate rule name \"dup\" (first at t.json:4:5)");
}

Test(policy_errors, masks)
{
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"allow\", "
		 "\"match\": {}, \"mask\": [{\"pattern\": \"ssn\"}]}]}",
		 "t.json:1:93: rules[0].mask[0].pattern: unknown pattern (known: email, "
		 "credit-card, bearer-token, jwt, private-key)");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"allow\", "
		 "\"match\": {}, \"mask\": [{\"k8s\": \"secrets.data\"}, {\"regex\": \".*\"}]}]}",
		 "t.json:1:107: rules[0].mask[1].regex: unknown mask kind (known: k8s, sql_column, "
		 "pattern)");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"allow\", "
		 "\"match\": {}, \"mask\": [{\"k8s\": \"secrets.data\", \"pattern\": \"jwt\"}]}]}",
		 "t.json:1:81: rules[0].mask[0]: a mask entry is one {\"k8s\"|\"sql_column\"|"
		 "\"pattern\": value}");
	load_bad("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"action\": \"deny\", "
		 "\"match\": {}, \"mask\": [{\"pattern\": \"jwt\"}]}]}",
		 "t.json:1:71: rules[0].mask: a deny rule sends nothing to mask: mask goes with "
		 "allow or review");
}

/* Random damage to a good file never crashes the loader, and every
 * refusal is one "t.json:LINE:COL: ..." line. */
Test(policy_errors, damaged_files)
{
	static const char good[] =
		"{\"version\": 1, \"default\": \"deny\", \"rules\": [\n"
		" {\"name\": \"r1\", \"match\": {\"identity\": {\"groups\": [\"g\"], \"uids\": [1],"
		" \"pods\": {\"labels\": {\"a\": \"b\"}}}, \"target\": [\"t\"],\n"
		"  \"k8s\": {\"verbs\": [\"get\"], \"groups\": [\"\"]}}, \"action\": \"allow\","
		" \"mask\": [{\"pattern\": \"jwt\"}]},\n"
		" {\"name\": \"r2\", \"match\": {\"sql\": {\"classes\": [\"read\"], \"tables\": "
		"[\"t\"]}}, \"action\": \"review\", \"record\": \"metadata\"}]}\n";
	char buf[sizeof(good)];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int refused = 0;

	for (int round = 0; round < 3000; round++) {
		struct policy *p;
		int line, col, lines;

		memcpy(buf, good, sizeof(good));
		for (int k = 0; k < 1 + round % 3; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[x % (sizeof(good) - 1)] = "\"{}[]:,x1 \\\n-"[(x >> 32) % 13];
		}
		err[0] = '\0';
		p = policy_parse("t.json", buf, sizeof(good) - 1, err, sizeof(err));
		if (p) {
			policy_free(p);
			continue;
		}
		refused++;
		lines = 1;
		for (size_t i = 0; i < sizeof(good) - 1; i++)
			lines += buf[i] == '\n';
		cr_assert_eq(sscanf(err, "t.json:%d:%d: ", &line, &col), 2, "%s", err);
		cr_assert(line >= 1 && line <= lines, "%s", err);
		cr_assert_null(strchr(err, '\n'), "%s", err);
	}
	cr_assert_gt(refused, 1000);
}

/* ------------------------------------------------- directories, reload */

static char *tmpdir(void)
{
	char *d = strdup("/tmp/sluice_policy_test.XXXXXX");

	cr_assert_not_null(d);
	cr_assert_not_null(mkdtemp(d));
	return d;
}

static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static void rmtree(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

static const char allow_alice[] =
	"{\"version\": 1, \"rules\": [{\"name\": \"alice\", \"match\": {\"identity\": "
	"{\"users\": [\"alice\"]}}, \"action\": \"allow\"}]}";

Test(policy_reload, broken_file_keeps_the_old_policy)
{
	char *dir = tmpdir();
	struct policy *cur, *next;

	put(dir, "10-main.json", allow_alice);
	cur = policy_load_dir(dir, err, sizeof(err));
	cr_assert_not_null(cur, "%s", err);
	expect(cur, &alice, &conn_pg, POLICY_ALLOW, "alice");

	/* an operator breaks the file and reloads: refused, the old one stays */
	put(dir, "10-main.json", "{\"version\": 1, \"rules\": [{\"name\": \"alice\",,}]}");
	errno = 0;
	next = policy_load_dir(dir, err, sizeof(err));
	cr_assert_null(next);
	cr_assert_eq(errno, EINVAL);
	cr_assert_not_null(strstr(err, "/10-main.json:1:"), "%s", err);
	expect(cur, &alice, &conn_pg, POLICY_ALLOW, "alice");
	expect(cur, &bob, &conn_pg, POLICY_DENY, "default");

	/* a valid schema error in a second file also refuses the whole reload */
	put(dir, "10-main.json", allow_alice);
	put(dir, "20-more.json", "{\"version\": 1, \"rules\": [{\"name\": \"x\", \"match\": {}, "
				 "\"action\": \"alow\"}]}");
	cr_assert_null(policy_load_dir(dir, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "/20-more.json:1:"), "%s", err);
	expect(cur, &alice, &conn_pg, POLICY_ALLOW, "alice");

	/* fixed: the new policy loads; requests in flight keep the old one */
	put(dir, "20-more.json", "{\"version\": 1, \"rules\": [{\"name\": \"rest\", \"match\": {}, "
				 "\"action\": \"review\"}]}");
	next = policy_load_dir(dir, err, sizeof(err));
	cr_assert_not_null(next, "%s", err);
	policy_ref(cur);	/* a request in flight */
	policy_free(cur);	/* the daemon swaps */
	expect(cur, &bob, &conn_pg, POLICY_DENY, "default");
	expect(next, &bob, &conn_pg, POLICY_REVIEW, "rest");
	policy_free(cur);	/* the request ends */
	policy_free(next);
	rmtree(dir);
	free(dir);
}

Test(policy_dir, files_in_name_order)
{
	char *dir = tmpdir();
	struct policy *p;
	json_t *j;

	put(dir, "20-b.json", "{\"version\": 1, \"rules\": [{\"name\": \"b\", \"match\": {}, "
			      "\"action\": \"allow\"}]}");
	put(dir, "10-a.json", "{\"version\": 1, \"default\": \"review\", \"rules\": [{\"name\": "
			      "\"a\", \"match\": {\"identity\": {\"users\": [\"alice\"]}}, "
			      "\"action\": \"deny\"}]}");
	/* not policy files: skipped */
	put(dir, "README.md", "not json");
	put(dir, ".hidden.json", "not json");
	put(dir, "x.json.bak", "not json");
	p = policy_load_dir(dir, err, sizeof(err));
	cr_assert_not_null(p, "%s", err);
	cr_assert_eq(policy_rule_count(p), 2);
	cr_assert_eq(policy_file_count(p), 2);
	cr_assert_eq(policy_default_action(p), POLICY_REVIEW);
	expect(p, &alice, &conn_pg, POLICY_DENY, "a");
	expect(p, &bob, &conn_pg, POLICY_ALLOW, "b");
	j = policy_json(p);
	cr_assert_not_null(j);
	cr_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(j, "rules"), 0), "name")),
			 "a");
	cr_assert_not_null(strstr(json_string_value(json_array_get(json_object_get(j, "files"), 1)),
				  "/20-b.json"));
	json_decref(j);
	policy_free(p);
	rmtree(dir);
	free(dir);
}

Test(policy_dir, default_and_names_across_files)
{
	char *dir = tmpdir();
	struct policy *p;
	char want[700];

	put(dir, "a.json", "{\"version\": 1, \"default\": \"deny\", \"rules\": [{\"name\": \"x\", "
			   "\"match\": {}, \"action\": \"allow\"}]}");
	put(dir, "b.json", "{\"version\": 1, \"default\": \"deny\"}");
	p = policy_load_dir(dir, err, sizeof(err));
	cr_assert_not_null(p, "agreeing defaults are fine: %s", err);
	policy_free(p);

	put(dir, "b.json", "{\"version\": 1,\n \"default\": \"allow\"}");
	cr_assert_null(policy_load_dir(dir, err, sizeof(err)));
	snprintf(want, sizeof(want),
		 "%s/b.json:2:13: default: default \"allow\" conflicts with \"deny\" set at "
		 "%s/a.json:1:27", dir, dir);
	cr_assert_str_eq(err, want);

	put(dir, "b.json", "{\"version\": 1, \"rules\": [{\"name\": \"x\", \"match\": {}, "
			   "\"action\": \"deny\"}]}");
	cr_assert_null(policy_load_dir(dir, err, sizeof(err)));
	snprintf(want, sizeof(want),
		 "%s/b.json:1:35: rules[0].name: duplicate rule name \"x\" (first at "
		 "%s/a.json:1:45)", dir, dir);
	cr_assert_str_eq(err, want);
	rmtree(dir);
	free(dir);
}

Test(policy_dir, configmap_layout_and_odd_entries)
{
	char *dir = tmpdir(), sub[600], link[600], target[600];
	struct policy *p;

	/* what a Kubernetes ConfigMap mount looks like: symlinks into ..data */
	snprintf(sub, sizeof(sub), "%s/..2024_01_01", dir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	put(sub, "main.json", allow_alice);
	snprintf(link, sizeof(link), "%s/..data", dir);
	cr_assert_eq(symlink("..2024_01_01", link), 0);
	snprintf(link, sizeof(link), "%s/main.json", dir);
	cr_assert_eq(symlink("..data/main.json", link), 0);
	p = policy_load_dir(dir, err, sizeof(err));
	cr_assert_not_null(p, "%s", err);
	cr_assert_eq(policy_rule_count(p), 1);
	expect(p, &alice, &conn_pg, POLICY_ALLOW, "alice");
	policy_free(p);

	/* a directory named like a policy file is an error, not skipped */
	snprintf(target, sizeof(target), "%s/zz.json", dir);
	cr_assert_eq(mkdir(target, 0700), 0);
	cr_assert_null(policy_load_dir(dir, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "zz.json: not a regular file"), "%s", err);
	rmtree(dir);
	free(dir);
}

Test(policy_dir, empty_missing_and_big)
{
	char *dir = tmpdir(), path[600];
	struct policy *p;
	char *big;
	FILE *f;

	p = policy_load_dir(dir, err, sizeof(err));
	cr_assert_not_null(p, "%s", err);
	cr_assert_eq(policy_rule_count(p), 0);
	expect(p, &alice, &conn_pg, POLICY_DENY, "default");
	policy_free(p);

	errno = 0;
	cr_assert_null(policy_load_dir("/nonexistent/sluice", err, sizeof(err)));
	cr_assert_eq(errno, ENOENT);
	cr_assert_str_eq(err, "/nonexistent/sluice: No such file or directory");

	snprintf(path, sizeof(path), "%s/big.json", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	big = calloc(1, POLICY_MAX_FILE + 2);
	memset(big, ' ', POLICY_MAX_FILE + 1);
	fputs(big, f);
	fclose(f);
	free(big);
	errno = 0;
	cr_assert_null(policy_load_file(path, err, sizeof(err)));
	cr_assert_eq(errno, EINVAL);
	cr_assert_not_null(strstr(err, "big.json: larger than 1048576 bytes"), "%s", err);
	rmtree(dir);
	free(dir);
}

/* ------------------------------------------------------ the CLI's JSON */

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	cr_assert_not_null(j, "%s: %s", text, e.text);
	return j;
}

Test(policy_json_input, identity)
{
	json_t *j = J("{\"user\": {\"name\": \"alice\", \"groups\": [\"ai-agents\", \"dev\"], "
		      "\"source\": \"jwt\", \"issuer\": \"https://k\"},"
		      " \"kernel\": {\"pid\": 42, \"tid\": 42, \"uid\": 1000, \"gid\": 1000, "
		      "\"comm\": \"python3\", \"cgroup\": \"/agents/a1\", \"cgroup_id\": 7, "
		      "\"pod\": {\"namespace\": \"agents\", \"name\": \"agent-0\", \"uid\": "
		      "\"6f1c\", \"service_account\": \"agent\", \"labels\": {\"app\": "
		      "\"agent\"}}}}");
	struct policy_identity *id = policy_identity_from_json(j, err, sizeof(err));

	json_decref(j);	/* the identity keeps its own copy */
	cr_assert_not_null(id, "%s", err);
	cr_assert(id->authenticated);
	cr_assert_str_eq(id->user, "alice");
	cr_assert_eq(id->n_groups, 2);
	cr_assert_str_eq(id->groups[1], "dev");
	cr_assert(id->has_uid);
	cr_assert_eq(id->uid, 1000);
	cr_assert_str_eq(id->comm, "python3");
	cr_assert_str_eq(id->cgroup, "/agents/a1");
	cr_assert_not_null(id->pod);
	cr_assert_str_eq(id->pod->ns, "agents");
	cr_assert_str_eq(id->pod->name, "agent-0");
	cr_assert_str_eq(id->pod->service_account, "agent");
	cr_assert_eq(id->pod->n_labels, 1);
	cr_assert_str_eq(id->pod->label_keys[0], "app");
	cr_assert_str_eq(id->pod->label_values[0], "agent");
	policy_identity_free(id);

	/* a user without a name, or marked so, is not authenticated */
	j = J("{\"user\": {\"groups\": [\"g\"]}, \"kernel\": {\"uid\": null, \"pod\": null}}");
	id = policy_identity_from_json(j, err, sizeof(err));
	cr_assert_not_null(id, "%s", err);
	cr_assert(!id->authenticated);
	cr_assert(!id->has_uid);
	cr_assert_null(id->pod);
	policy_identity_free(id);
	json_decref(j);
	j = J("{\"user\": {\"name\": \"alice\", \"authenticated\": false}}");
	id = policy_identity_from_json(j, err, sizeof(err));
	cr_assert_not_null(id, "%s", err);
	cr_assert(!id->authenticated);
	policy_identity_free(id);
	json_decref(j);
	policy_identity_free(NULL);
}

static void identity_bad(const char *text, const char *want)
{
	json_t *j = J(text);

	errno = 0;
	cr_assert_null(policy_identity_from_json(j, err, sizeof(err)), "%s", text);
	cr_assert_eq(errno, EINVAL);
	cr_assert_str_eq(err, want);
	json_decref(j);
}

Test(policy_json_input, identity_refusals)
{
	identity_bad("{\"usr\": {}}", "usr: unknown key (known: user, kernel)");
	identity_bad("{\"kernel\": {\"uid\": -1}}",
		     "kernel.uid: must be an integer from 0 to 4294967295");
	identity_bad("{\"kernel\": {\"uid\": \"0\"}}",
		     "kernel.uid: must be an integer from 0 to 4294967295");
	identity_bad("{\"user\": {\"groups\": \"ops\"}}", "user.groups: must be a list of strings");
	identity_bad("{\"user\": {\"name\": 5}}", "user.name: must be a string");
	identity_bad("{\"user\": {\"name\": \"a\", \"authenticated\": \"yes\"}}",
		     "user.authenticated: must be true or false");
	identity_bad("{\"kernel\": {\"pod\": {\"labels\": {\"a\": 1}}}}",
		     "kernel.pod.labels: label values must be strings");
	identity_bad("{\"kernel\": {\"pod\": {\"sa\": \"x\"}}}",
		     "kernel.pod.sa: unknown key (known: namespace, name, service_account, "
		     "labels, uid, container, container_id, resolved, source)");
	identity_bad("[]", "identity: must be an object {\"user\", \"kernel\"}");
}

Test(policy_json_input, request)
{
	json_t *j = J("{\"target\": \"prod-k8s\", \"k8s\": {\"verb\": \"delete\", \"group\": "
		      "\"\", \"resource\": \"namespaces\", \"subresource\": null, \"namespace\": "
		      "null, \"name\": \"team-a\"}}");
	struct policy_request *r = policy_request_from_json(j, err, sizeof(err));

	json_decref(j);
	cr_assert_not_null(r, "%s", err);
	cr_assert_str_eq(r->target, "prod-k8s");
	cr_assert_eq(r->kind, POLICY_REQ_K8S);
	cr_assert_str_eq(r->k8s.verb, "delete");
	cr_assert_str_eq(r->k8s.group, "");
	cr_assert_str_eq(r->k8s.resource, "namespaces");
	cr_assert_null(r->k8s.subresource);
	cr_assert_null(r->k8s.ns);
	cr_assert_str_eq(r->k8s.name, "team-a");
	policy_request_free(r);

	j = J("{\"target\": \"prod-pg\", \"sql\": [{\"class\": \"read\", \"tables\": [\"a\", "
	      "\"s.b\"], \"verb\": \"SELECT\"}, {\"class\": \"ddl\"}]}");
	r = policy_request_from_json(j, err, sizeof(err));
	json_decref(j);
	cr_assert_not_null(r, "%s", err);
	cr_assert_eq(r->kind, POLICY_REQ_SQL);
	cr_assert_eq(r->n_stmts, 2);
	cr_assert_eq(r->stmts[0].cls, SQL_READ);
	cr_assert_eq(r->stmts[0].n_tables, 2);
	cr_assert_str_eq(r->stmts[0].tables[1], "s.b");
	cr_assert_str_eq(r->stmts[0].verb, "SELECT");
	cr_assert_eq(r->stmts[1].cls, SQL_DDL);
	cr_assert_eq(r->stmts[1].n_tables, 0);
	policy_request_free(r);

	j = J("{\"target\": \"prod-pg\"}");
	r = policy_request_from_json(j, err, sizeof(err));
	json_decref(j);
	cr_assert_not_null(r, "%s", err);
	cr_assert_eq(r->kind, POLICY_REQ_CONNECT);
	policy_request_free(r);

	/* SQL text goes through sql.h */
	j = J("{\"target\": \"prod-pg\", \"sql\": \"select 1; INSERT INTO Orders VALUES (1) "
	      "-- ; drop table x\"}");
	r = policy_request_from_json(j, err, sizeof(err));
	json_decref(j);
	cr_assert_not_null(r, "%s", err);
	cr_assert_eq(r->kind, POLICY_REQ_SQL);
	cr_assert_eq(r->n_stmts, 2);
	cr_assert_eq(r->stmts[0].cls, SQL_READ);
	cr_assert_eq(r->stmts[1].cls, SQL_WRITE);
	cr_assert_str_eq(r->stmts[1].verb, "INSERT");
	cr_assert_eq(r->stmts[1].n_tables, 1);
	cr_assert_str_eq(r->stmts[1].tables[0], "orders");
	policy_request_free(r);

	j = J("{\"target\": \"db\", \"dialect\": \"mysql\", \"sql\": \"SELECT * FROM `Secrets` "
	      "# ; DROP TABLE x\"}");
	r = policy_request_from_json(j, err, sizeof(err));
	json_decref(j);
	cr_assert_not_null(r, "%s", err);
	cr_assert_eq(r->n_stmts, 1);
	cr_assert_str_eq(r->stmts[0].tables[0], "secrets");
	policy_request_free(r);
}

static void request_bad(const char *text, const char *want)
{
	json_t *j = J(text);

	errno = 0;
	cr_assert_null(policy_request_from_json(j, err, sizeof(err)), "%s", text);
	cr_assert_eq(errno, EINVAL);
	cr_assert_str_eq(err, want);
	json_decref(j);
}

Test(policy_json_input, request_refusals)
{
	request_bad("{\"k8s\": {}}", "target: a target name is required");
	request_bad("{\"target\": \"t\", \"k8s\": {}, \"sql\": []}",
		    "sql: a request is k8s or sql, not both");
	request_bad("{\"target\": \"t\", \"k8s\": {\"verbs\": \"get\"}}",
		    "k8s.verbs: unknown key (known: verb, group, resource, subresource, "
		    "namespace, name)");
	request_bad("{\"target\": \"t\", \"k8s\": {\"verb\": 1}}", "k8s.verb: must be a string");
	request_bad("{\"target\": \"t\", \"sql\": [{\"class\": \"select\"}]}",
		    "sql[0].class: read, write, ddl, dcl, admin or tx");
	request_bad("{\"target\": \"t\", \"sql\": [{\"class\": \"read\", \"tables\": [1]}]}",
		    "sql[0].tables: must be a list of table names");
	request_bad("{\"target\": \"t\", \"sql\": 5}", "sql: must be SQL text or a list of statements");
	request_bad("{\"target\": \"t\", \"kind\": \"sql\"}",
		    "kind: unknown key (known: target, k8s, sql, dialect)");
	request_bad("{\"target\": \"t\", \"sql\": \"SELECT 'unterminated\"}",
		    "sql: unterminated string starting at byte 7");
	request_bad("{\"target\": \"t\", \"sql\": \"SELECT 1\", \"dialect\": \"oracle\"}",
		    "dialect: \"postgres\" or \"mysql\"");
	request_bad("{\"target\": \"t\", \"dialect\": \"mysql\"}", "dialect: goes with SQL text");
}

Test(policy_json_input, parsed_inputs_decide)
{
	struct policy *p = load("{\"version\": 1, \"rules\": [{\"name\": \"agents-exec\", "
				"\"match\": {\"identity\": {\"pods\": {\"labels\": {\"app\": "
				"\"agent\"}}}, \"k8s\": {\"subresources\": [\"exec\"]}}, "
				"\"action\": \"review\"}]}");
	json_t *ij = J("{\"kernel\": {\"pod\": {\"namespace\": \"agents\", \"labels\": "
		       "{\"app\": \"agent\"}}}}");
	json_t *rj = J("{\"target\": \"prod-k8s\", \"k8s\": {\"verb\": \"create\", "
		       "\"resource\": \"pods\", \"subresource\": \"exec\"}}");
	struct policy_identity *id = policy_identity_from_json(ij, err, sizeof(err));
	struct policy_request *r = policy_request_from_json(rj, err, sizeof(err));

	cr_assert(id && r, "%s", err);
	expect(p, id, r, POLICY_REVIEW, "agents-exec");
	policy_identity_free(id);
	policy_request_free(r);
	json_decref(ij);
	json_decref(rj);
	policy_free(p);
}

/* ------------------------------------------------------ DESIGN example */

static char *example_path(void)
{
	/* tests run from the repository root (tests/run.sh); __FILE__ is
	 * tests/unit/policy_test.c relative to it, or absolute */
	const char *f = __FILE__, *cut = strstr(f, "tests/unit/");
	char *path;

	cr_assert_not_null(cut);
	cr_assert_geq(asprintf(&path, "%.*spolicies/example.json", (int)(cut - f), f), 0);
	return path;
}

static const char *const agents_group[] = { "ai-agents" };

Test(policy_example, loads_and_decides_its_three_rules)
{
	char *path = example_path();
	struct policy *p = policy_load_file(path, err, sizeof(err));
	const struct policy_identity agent = {
		.authenticated = true, .user = "agent-7", .groups = agents_group, .n_groups = 1,
	};
	const struct policy_identity agent_unverified = {
		.user = "agent-7", .groups = agents_group, .n_groups = 1,
	};
	const struct policy_request del_ns_other = {
		.target = "staging-k8s", .kind = POLICY_REQ_K8S,
		.k8s = { .verb = "deletecollection", .resource = "namespaces" },
	};
	const struct policy_request sql_insert_staging = {
		.target = "staging-pg", .kind = POLICY_REQ_SQL, .stmts = &st_insert, .n_stmts = 1,
	};
	struct policy_decision d;
	json_t *j;

	cr_assert_not_null(p, "%s", err);
	cr_assert_eq(policy_rule_count(p), 3);
	cr_assert_eq(policy_default_action(p), POLICY_DENY);

	/* rule 1: agents never delete namespaces on prod-k8s */
	expect(p, &agent, &del_ns, POLICY_DENY, "agents-never-delete-namespaces");
	/* rule 2: agents' writes on prod-pg need approval */
	expect(p, &agent, &sql_insert, POLICY_REVIEW, "agents-writes-need-approval");
	/* rule 3: everything else agents do is allowed, masked */
	cr_assert_eq(policy_decide(p, &agent, &sql_select, &d), 0);
	cr_assert_eq(d.action, POLICY_ALLOW);
	cr_assert_str_eq(d.rule, "agents-read-with-masking");
	cr_assert_eq(mask_spec_kinds(d.mask), MASK_KIND_K8S | MASK_KIND_COLUMN | MASK_KIND_PATTERN);
	cr_assert(mask_column_matches(d.mask, "email", 5));
	cr_assert_eq(mask_spec_patterns(d.mask), MASK_PAT_CREDIT_CARD);
	policy_decision_release(&d);
	expect(p, &agent, &get_pod, POLICY_ALLOW, "agents-read-with-masking");
	/* rules 1 and 2 name their targets; elsewhere rule 3 allows */
	expect(p, &agent, &del_ns_other, POLICY_ALLOW, "agents-read-with-masking");
	expect(p, &agent, &sql_insert_staging, POLICY_ALLOW, "agents-read-with-masking");
	/* a read and a write in one message: the write's review holds it */
	{
		struct sql_stmt both[] = { st_select, st_insert };
		struct policy_request r = sqlreq(both, 2);

		expect(p, &agent, &r, POLICY_REVIEW, "agents-writes-need-approval");
	}
	/* the same through SQL text */
	expect_sql(p, &agent, "prod-pg", "SELECT email FROM customers", POLICY_ALLOW,
		   "agents-read-with-masking");
	expect_sql(p, &agent, "prod-pg", "SELECT 1; GRANT ALL ON t TO agent", POLICY_REVIEW,
		   "agents-writes-need-approval");
	expect_sql(p, &agent, "prod-pg", "CREATE TABLE x (a int)", POLICY_REVIEW,
		   "agents-writes-need-approval");
	/* not an agent, or the group claim unverified: the default */
	expect(p, &bob, &get_pod, POLICY_DENY, "default");
	expect(p, &agent_unverified, &get_pod, POLICY_DENY, "default");

	j = policy_json(p);
	cr_assert_not_null(j);
	{
		json_t *r0 = json_array_get(json_object_get(j, "rules"), 0);
		json_t *r2 = json_array_get(json_object_get(j, "rules"), 2);
		json_t *want_mask = J("[{\"k8s\": \"secrets.data\"}, {\"sql_column\": \"email\"}, "
				      "{\"pattern\": \"credit-card\"}]");

		cr_assert_str_eq(json_string_value(json_object_get(j, "default")), "deny");
		cr_assert_eq(json_integer_value(json_object_get(r0, "line")), 5);
		cr_assert_eq(json_integer_value(json_object_get(r0, "column")), 5);
		cr_assert_str_eq(json_string_value(json_object_get(r0, "action")), "deny");
		cr_assert_str_eq(json_string_value(json_object_get(
					 json_object_get(r0, "match"), "target")),
				 "prod-k8s");
		cr_assert(json_equal(json_object_get(r2, "mask"), want_mask));
		json_decref(want_mask);
	}
	json_decref(j);
	policy_free(p);
	free(path);
}

Test(policy_misc, names_and_refs)
{
	cr_assert_str_eq(policy_action_name(POLICY_REVIEW), "review");
	cr_assert_str_eq(policy_action_name((enum policy_action)9), "?");
	cr_assert_str_eq(policy_record_name(POLICY_RECORD_METADATA), "metadata");
	cr_assert_str_eq(policy_record_name((enum policy_record)7), "?");
	cr_assert_null(policy_ref(NULL));
	policy_free(NULL);
	policy_decision_release(NULL);
	cr_assert_eq(policy_rule_count(NULL), 0);
}
