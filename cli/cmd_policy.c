// SPDX-License-Identifier: BSD-2-Clause
/*
 * sluice policy: what the daemon enforces (show, reload, test) and what a
 * file would do before it is installed (check, test --dir). The engine is
 * policy.c itself, linked here, so a check or a local test answers exactly
 * as the daemon would.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>

#include "cli.h"
#include "policy.h"

static const char help_text[] =
	"Usage: sluice policy { show | check PATH | reload |\n"
	"                       test --identity JSON --request JSON [--dir DIR] | help }\n"
	"show     the policy the daemon enforces: files, rules in order, default\n"
	"check    load a policy file or directory as the daemon would; errors are\n"
	"         FILE:LINE:COLUMN: message (exit 1)\n"
	"reload   make the daemon load its policy_dir again (as SIGHUP does); a\n"
	"         broken file is refused and the policy in force stays (exit 1)\n"
	"test     the decision for an identity and a request, e.g.\n"
	"           --identity '{\"user\": {\"name\": \"bot\", \"groups\": [\"ai-agents\"]},\n"
	"                        \"kernel\": {\"uid\": 1000, \"comm\": \"kubectl\"}}'\n"
	"           --request '{\"target\": \"prod-pg\", \"sql\": \"DELETE FROM t\"}'\n"
	"         by the daemon's policy, or by the files in DIR with --dir\n";

static int daemon_call(json_t *req, json_t **resp)
{
	char why[512];
	int err;

	if (!req) {
		p_err("out of memory");
		return CLI_FAIL;
	}
	err = cli_ctl(req, resp, why, sizeof(why));
	json_decref(req);
	if (err) {
		p_err("%s", why);
		return CLI_FAIL;
	}
	return CLI_OK;
}

static void print_rules(json_t *pol)
{
	FILE *out = cli_out();
	char b[5][64];
	size_t i;
	json_t *r;

	fprintf(out, "default: %s\n", cli_jget(pol, "default", b[0], sizeof(b[0])));
	fprintf(out, "%-32s %-7s %-9s %s\n", "RULE", "ACTION", "RECORD", "WHERE");
	json_array_foreach(json_object_get(pol, "rules"), i, r)
		fprintf(out, "%-32s %-7s %-9s %s:%s\n", cli_jget(r, "name", b[0], sizeof(b[0])),
			cli_jget(r, "action", b[1], sizeof(b[1])),
			cli_jget(r, "record", b[2], sizeof(b[2])),
			cli_jget(r, "file", b[3], sizeof(b[3])),
			cli_jget(r, "line", b[4], sizeof(b[4])));
}

static int do_show(int argc, char **argv)
{
	json_t *resp = NULL, *pol;
	char dir[512];
	int rc;

	if (argc > 0)
		return cli_usage("policy", "unexpected argument '%s'", argv[0]);
	rc = daemon_call(json_pack("{s:s}", "cmd", "policy show"), &resp);
	if (rc)
		return rc;
	pol = json_object_get(resp, "policy");
	if (cli.json) {
		cli_emit(resp);
		return CLI_OK;
	}
	if (!json_is_true(json_object_get(resp, "enabled")))
		fprintf(cli_out(), "no policy_dir configured: every request is allowed\n");
	else {
		fprintf(cli_out(), "policy_dir: %s\n", cli_jget(resp, "dir", dir, sizeof(dir)));
		print_rules(pol);
	}
	json_decref(resp);
	return CLI_OK;
}

/* A file or a directory, loaded as the daemon loads them. */
static struct policy *load(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return policy_load_dir(path, err, errlen);
	return policy_load_file(path, err, errlen);
}

static int do_check(int argc, char **argv)
{
	struct policy *p;
	char err[1024];

	if (argc != 1)
		return cli_usage("policy", "check takes one file or directory");
	p = load(argv[0], err, sizeof(err));
	if (!p) {
		p_err("%s", err);
		return CLI_FAIL;
	}
	if (cli.json)
		cli_emit(json_pack("{s:s, s:b, s:o}", "path", argv[0], "ok", 1, "policy",
				   policy_json(p)));
	else
		fprintf(cli_out(), "%s: ok, %zu rules, default %s\n", argv[0],
			policy_rule_count(p), policy_action_name(policy_default_action(p)));
	policy_free(p);
	return CLI_OK;
}

static int do_reload(int argc, char **argv)
{
	json_t *resp = NULL;
	char msg[512];
	int rc;

	if (argc > 0)
		return cli_usage("policy", "unexpected argument '%s'", argv[0]);
	rc = daemon_call(json_pack("{s:s}", "cmd", "policy reload"), &resp);
	if (rc)
		return rc;
	if (cli.json)
		cli_emit(resp);
	else {
		fprintf(cli_out(), "reloaded: %s\n", cli_jget(resp, "message", msg, sizeof(msg)));
		json_decref(resp);
	}
	return CLI_OK;
}

static json_t *parse_arg(const char *opt, const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);

	if (!j)
		cli_usage("policy", "%s: %s (column %d)", opt, e.text, e.column);
	return j;
}

/* The decision by the files in dir, as the daemon would make it. */
static json_t *test_local(const char *dir, json_t *id_j, json_t *req_j)
{
	struct policy_identity *id = NULL;
	struct policy_request *req = NULL;
	struct policy_decision d = { 0 };
	struct policy *p;
	json_t *r = NULL;
	char err[1024];

	p = load(dir, err, sizeof(err));
	if (p && !(id = policy_identity_from_json(id_j, err, sizeof(err))))
		snprintf(err + strlen(err), sizeof(err) - strlen(err), " (in --identity)");
	else if (p && !(req = policy_request_from_json(req_j, err, sizeof(err))))
		snprintf(err + strlen(err), sizeof(err) - strlen(err), " (in --request)");
	if (p && id && req) {
		policy_decide(p, id, req, &d);
		r = policy_decision_json(&d, req);
		policy_decision_release(&d);
	} else {
		r = json_pack("{s:s}", "error", err);
	}
	policy_request_free(req);
	policy_identity_free(id);
	policy_free(p);
	return r;
}

static void print_decision(json_t *r)
{
	FILE *out = cli_out();
	char b[4][128];
	size_t i;
	json_t *s;

	fprintf(out, "%s (rule %s, record %s)\n", cli_jget(r, "decision", b[0], sizeof(b[0])),
		cli_jget(r, "rule", b[1], sizeof(b[1])), cli_jget(r, "record", b[2], sizeof(b[2])));
	json_array_foreach(json_object_get(r, "statements"), i, s)
		fprintf(out, "  statement %zu: %s (rule %s) class %s\n", i + 1,
			cli_jget(s, "decision", b[0], sizeof(b[0])),
			cli_jget(s, "rule", b[1], sizeof(b[1])),
			cli_jget(s, "class", b[2], sizeof(b[2])));
}

static int do_test(int argc, char **argv)
{
	const char *ident = NULL, *request = NULL, *dir = NULL;
	const struct cli_opt opts[] = {
		{ "--identity", true, &ident },
		{ "--request", true, &request },
		{ "--dir", true, &dir },
		{ 0 }
	};
	json_t *id_j = NULL, *req_j = NULL, *r = NULL;
	int rc;

	rc = cli_parse_opts("policy", argc, argv, opts, NULL);
	if (rc)
		return rc;
	if (!ident || !request)
		return cli_usage("policy", "test needs --identity JSON and --request JSON");
	id_j = parse_arg("--identity", ident);
	req_j = id_j ? parse_arg("--request", request) : NULL;
	if (!id_j || !req_j) {
		rc = CLI_USAGE;
		goto out;
	}
	if (dir)
		r = test_local(dir, id_j, req_j);
	else
		rc = daemon_call(json_pack("{s:s, s:O, s:O}", "cmd", "policy test", "identity",
					   id_j, "request", req_j),
				 &r);
	if (rc)
		goto out;
	if (!r || json_object_get(r, "error")) {
		char why[1024];

		p_err("%s", r ? cli_jget(r, "error", why, sizeof(why)) : "out of memory");
		rc = CLI_FAIL;
		goto out;
	}
	if (cli.json) {
		cli_emit(r);
		r = NULL;
	} else {
		print_decision(r);
	}
out:
	json_decref(r);
	json_decref(id_j);
	json_decref(req_j);
	return rc;
}

static const struct cmd cmds[] = {
	{ "show", do_show, NULL },
	{ "check", do_check, NULL },
	{ "reload", do_reload, NULL },
	{ "test", do_test, NULL },
	{ "help", NULL, NULL },	/* help_text */
	{ 0 }
};

int do_policy(int argc, char **argv)
{
	return cli_dispatch(cmds, "policy", help_text, argc, argv);
}
