// SPDX-License-Identifier: BSD-2-Clause
/*
 * sluice target list: the daemon's view of its targets; while the daemon
 * is away, what the pinned bpf maps still hold ("source": "bpf", exit 1).
 */
#include <errno.h>
#include <string.h>
#include <jansson.h>

#include "cli.h"

static const char help_text[] =
	"Usage: sluice target { list | help }\n"
	"List the targets: name, kind, the addresses that are redirected,\n"
	"upstream, fail mode, connection counts. With -j the daemon's answer\n"
	"is passed through with \"source\": \"daemon\". If the daemon cannot\n"
	"be reached the pinned bpf maps are shown instead (\"source\": \"bpf\",\n"
	"\"daemon_error\": why) and the exit status is 1.\n";

/* "a,b,c" from a JSON array of scalars, into buf. */
static const char *join(json_t *arr, char *buf, size_t len)
{
	char tmp[32];
	size_t i, used = 0;
	json_t *v;
	int n;

	if (!json_is_array(arr) || !json_array_size(arr))
		return "-";
	buf[0] = '\0';
	json_array_foreach(arr, i, v) {
		n = snprintf(buf + used, len - used, "%s%s", i ? "," : "",
			     cli_jstr(v, tmp, sizeof(tmp)));
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	return buf;
}

static void print_daemon(json_t *targets)
{
	static const char *const cols[] = {
		"kind", "upstream", "fail_mode", "active", "total",
		"redirected", "bypassed", "refused",
	};
	char b[8][32], m[256], name[32];
	FILE *out = cli_out();
	size_t i, c;
	json_t *t;

	fprintf(out, "%-16s %-5s %-24s %-22s %-6s %6s %6s %10s %8s %7s\n",
		"NAME", "KIND", "MATCH", "UPSTREAM", "FAIL", "ACTIVE", "TOTAL",
		"REDIRECTED", "BYPASSED", "REFUSED");
	json_array_foreach(targets, i, t) {
		const char *v[8];

		for (c = 0; c < 8; c++)
			v[c] = cli_jget(t, cols[c], b[c], sizeof(b[c]));
		fprintf(out, "%-16s %-5s %-24s %-22s %-6s %6s %6s %10s %8s %7s\n",
			cli_jget(t, "name", name, sizeof(name)), v[0],
			join(json_object_get(t, "match"), m, sizeof(m)),
			v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
	}
}

static void print_bpf(json_t *targets)
{
	static const char *const cols[] = {
		"target_id", "fail_mode", "redirected", "bypassed", "refused",
		"events_lost",
	};
	char b[6][32], m[256];
	FILE *out = cli_out();
	size_t i, c;
	json_t *t;

	fprintf(out, "%-6s %-40s %-6s %10s %8s %7s %6s\n", "ID", "MATCH",
		"FAIL", "REDIRECTED", "BYPASSED", "REFUSED", "LOST");
	json_array_foreach(targets, i, t) {
		const char *v[6];

		for (c = 0; c < 6; c++)
			v[c] = cli_jget(t, cols[c], b[c], sizeof(b[c]));
		fprintf(out, "%-6s %-40s %-6s %10s %8s %7s %6s\n", v[0],
			join(json_object_get(t, "match"), m, sizeof(m)), v[1],
			v[2], v[3], v[4], v[5]);
	}
}

static int do_list(int argc, char **argv)
{
	json_t *req = NULL, *resp = NULL, *targets = NULL;
	char why[512];
	int err, rc = CLI_OK;

	if (argc > 0)
		return cli_usage("target", "unexpected argument '%s'", argv[0]);
	req = json_pack("{s:s}", "cmd", "target list");
	if (!req) {
		p_err("out of memory");
		return CLI_FAIL;
	}
	err = cli_ctl(req, &resp, why, sizeof(why));
	if (!err) {
		targets = json_object_get(resp, "targets");
		if (!json_is_array(targets)) {
			p_err("sluiced: answer to 'target list' has no targets");
			rc = CLI_FAIL;
			goto out;
		}
		if (cli.json) {
			json_object_set_new(resp, "source", json_string("daemon"));
			cli_emit(resp);
			resp = NULL;
		} else {
			print_daemon(targets);
		}
		goto out;
	}

	/* the daemon is away: the kernel side still knows the targets */
	rc = CLI_FAIL;
	err = cli_bpf_targets(&targets);
	if (err) {
		p_err("%s; bpf maps: %s", why, strerror(-err));
		goto out;
	}
	if (cli.json) {
		cli_emit(json_pack("{s:s, s:o, s:o}", "source", "bpf",
				   "daemon_error", cli_jstring(why),
				   "targets", targets));
	} else {
		p_info("%s; showing the pinned bpf maps", why);
		print_bpf(targets);
		json_decref(targets);
	}
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

int do_target(int argc, char **argv)
{
	return cli_dispatch(cmds, "target", help_text, argc, argv);
}
