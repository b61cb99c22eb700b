// SPDX-License-Identifier: BSD-2-Clause
/*
 * sluice approval: the just-in-time approvals that `review` rules ask
 * for. Decisions go through the daemon, which records who decided (the
 * caller's uid, from the control socket); the list is read from the store
 * directly when the daemon is away.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "approval.h"
#include "cli.h"
#include "clock.h"
#include "store.h"

static const char help_text[] =
	"Usage: sluice approval { list | grant ID [--for DUR] | deny ID | help }\n"
	"list     approvals with their state (pending, granted, denied, expired),\n"
	"         who asked (identity), for what (target, request) and by which rule\n"
	"grant    let that identity repeat that request on that target for DUR\n"
	"         (90s, 15m, 2h, 1d; default 15m, at most 30d)\n"
	"deny     refuse it; repeats are refused until someone grants it\n"
	"Grant and deny record the deciding user (the caller's uid).\n";

static void print_list(json_t *arr)
{
	static const char *const cols[] = {
		"id", "state", "target", "rule", "requested", "expires",
	};
	enum { NCOLS = sizeof(cols) / sizeof(cols[0]) };
	char b[NCOLS][64], who[160], req[256];
	const char *v[NCOLS];
	FILE *out = cli_out();
	size_t i, c;
	json_t *a;

	fprintf(out, "%-16s %-8s %-14s %-24s %-20s %-20s %-28s %s\n", "ID", "STATE", "TARGET",
		"RULE", "REQUESTED", "EXPIRES", "WHO", "REQUEST");
	json_array_foreach(arr, i, a) {
		json_t *id = json_object_get(a, "identity");
		json_t *user = json_object_get(id, "user");
		char *r = json_dumps(json_object_get(a, "request"), JSON_COMPACT);

		for (c = 0; c < NCOLS; c++)
			v[c] = cli_jget(a, cols[c], b[c], sizeof(b[c]));
		if (json_is_object(user))
			snprintf(who, sizeof(who), "%s", cli_jget(user, "name", req, sizeof(req)));
		else
			snprintf(who, sizeof(who), "uid %s",
				 cli_jget(id, "kernel.uid", req, sizeof(req)));
		snprintf(req, sizeof(req), "%s", r ? r : "-");
		free(r);
		fprintf(out, "%-16s %-8s %-14s %-24s %-20s %-20s %-28s %s\n", v[0], v[1], v[2],
			v[3], v[4], v[5], who, req);
	}
}

static int do_list(int argc, char **argv)
{
	json_t *req, *resp = NULL, *arr;
	struct store *st;
	char why[512];
	int rc = CLI_OK;

	if (argc > 0)
		return cli_usage("approval", "unexpected argument '%s'", argv[0]);
	req = json_pack("{s:s}", "cmd", "approval list");
	if (req && cli_ctl(req, &resp, why, sizeof(why)) == 0) {
		arr = json_incref(json_object_get(resp, "approvals"));
	} else {
		/* the daemon is away: the store still has them */
		st = cli_store_open();
		if (!st) {
			json_decref(req);
			return CLI_FAIL;
		}
		arr = approval_list(st, clock_real_ns());
		store_close(st);
	}
	json_decref(req);
	json_decref(resp);
	if (!json_is_array(arr)) {
		p_err("no approvals in the daemon's answer");
		rc = CLI_FAIL;
	} else if (cli.json) {
		cli_emit(arr);
		arr = NULL;
	} else {
		print_list(arr);
	}
	json_decref(arr);
	return rc;
}

static int decide(int argc, char **argv, int grant)
{
	const char *id = NULL, *dur = NULL;
	const struct cli_opt opts[] = {
		{ "--for", true, &dur },
		{ 0 }
	};
	json_t *req, *resp = NULL, *a;
	uint64_t for_s = 900;
	char why[512], b[3][64];
	int rc;

	rc = cli_parse_opts("approval", argc, argv, grant ? opts : NULL, &id);
	if (rc)
		return rc;
	if (!id)
		return cli_usage("approval", "%s needs an approval ID", grant ? "grant" : "deny");
	if (dur && (cli_parse_duration(dur, &for_s) || !for_s || for_s > 30 * 86400))
		return cli_usage("approval", "--for '%s': want 90s, 15m, 2h or 1d (at most 30d)",
				 dur);
	req = grant ? json_pack("{s:s, s:s, s:I}", "cmd", "approval grant", "id", id, "for_s",
				(json_int_t)for_s) :
		      json_pack("{s:s, s:s}", "cmd", "approval deny", "id", id);
	if (!req || cli_ctl(req, &resp, why, sizeof(why))) {
		p_err("%s", req ? why : "out of memory");
		json_decref(req);
		return CLI_FAIL;
	}
	json_decref(req);
	a = json_object_get(resp, "approval");
	if (cli.json) {
		cli_emit(json_incref(a));
	} else {
		fprintf(cli_out(), "%s %s", cli_jget(a, "id", b[0], sizeof(b[0])),
			cli_jget(a, "state", b[1], sizeof(b[1])));
		if (grant)
			fprintf(cli_out(), " until %s", cli_jget(a, "expires", b[2], sizeof(b[2])));
		fputc('\n', cli_out());
	}
	json_decref(resp);
	return CLI_OK;
}

static int do_grant(int argc, char **argv)
{
	return decide(argc, argv, 1);
}

static int do_deny(int argc, char **argv)
{
	return decide(argc, argv, 0);
}

static const struct cmd cmds[] = {
	{ "list", do_list, NULL },
	{ "grant", do_grant, NULL },
	{ "deny", do_deny, NULL },
	{ "help", NULL, NULL },	/* help_text */
	{ 0 }
};

int do_approval(int argc, char **argv)
{
	return cli_dispatch(cmds, "approval", help_text, argc, argv);
}
