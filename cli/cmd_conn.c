// SPDX-License-Identifier: BSD-2-Clause
/* sluice conn list [--all]: live connections with both identities. */
#include <string.h>
#include <jansson.h>

#include "cli.h"

static const char help_text[] =
	"Usage: sluice conn { list [--all] | help }\n"
	"List the daemon's connections: id, target, the agent's address and\n"
	"where it meant to go, pid/uid/comm/cgroup as the kernel saw them at\n"
	"connect, bytes up/down, state. --all adds the most recently closed\n"
	"ones. With -j the daemon's answer ({\"connections\": [...]}) is\n"
	"passed through. Exit 1 if the daemon cannot be reached.\n";

static void print_table(json_t *conns)
{
	static const char *const cols[] = {
		"id", "target", "client", "original", "kernel.pid",
		"kernel.uid", "kernel.comm", "kernel.cgroup", "bytes_up",
		"bytes_down", "state",
	};
	enum { NCOLS = sizeof(cols) / sizeof(cols[0]) };
	char b[NCOLS][48];
	const char *v[NCOLS];
	FILE *out = cli_out();
	size_t i, c;
	json_t *k;

	fprintf(out, "%-8s %-14s %-22s %-22s %7s %6s %-16s %-24s %10s %10s %s\n",
		"ID", "TARGET", "CLIENT", "ORIGINAL", "PID", "UID", "COMM",
		"CGROUP", "UP", "DOWN", "STATE");
	json_array_foreach(conns, i, k) {
		for (c = 0; c < NCOLS; c++)
			v[c] = cli_jget(k, cols[c], b[c], sizeof(b[c]));
		/* no path (cgroup gone or unresolved): show its id */
		if (!strcmp(v[7], "-"))
			v[7] = cli_jget(k, "kernel.cgroup_id", b[7], sizeof(b[7]));
		fprintf(out,
			"%-8s %-14s %-22s %-22s %7s %6s %-16s %-24s %10s %10s %s\n",
			v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8],
			v[9], v[10]);
	}
}

static int do_list(int argc, char **argv)
{
	json_t *req = NULL, *resp = NULL, *conns;
	bool all = false;
	char why[512];
	int rc = CLI_OK;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--all") || !strcmp(argv[i], "-a"))
			all = true;
		else
			return cli_usage("conn", "unexpected argument '%s'",
					 argv[i]);
	}
	req = json_pack("{s:s, s:b}", "cmd", "conn list", "all", all);
	if (!req) {
		p_err("out of memory");
		return CLI_FAIL;
	}
	if (cli_ctl(req, &resp, why, sizeof(why))) {
		p_err("%s", why);
		rc = CLI_FAIL;
		goto out;
	}
	conns = json_object_get(resp, "connections");
	if (!json_is_array(conns)) {
		p_err("sluiced: answer to 'conn list' has no connections");
		rc = CLI_FAIL;
		goto out;
	}
	if (cli.json) {
		cli_emit(resp);
		resp = NULL;
		goto out;
	}
	if (!json_array_size(conns))
		fprintf(cli_out(), "no connections\n");
	else
		print_table(conns);
out:
	json_decref(req);
	json_decref(resp);
	return rc;
}

static const struct cmd cmds[] = {
	{ "list", do_list, NULL },
	{ "show", do_list, NULL },
	{ "help", NULL, NULL },	/* help_text */
	{ 0 }
};

int do_conn(int argc, char **argv)
{
	return cli_dispatch(cmds, "conn", help_text, argc, argv);
}
