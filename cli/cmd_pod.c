// SPDX-License-Identifier: BSD-2-Clause
/*
 * sluice pod list: the daemon's pod table, the pods callers are resolved
 * to (DESIGN §3): the config's static map ("source": "config") and, on a
 * cluster, this node's pods from the API server ("source": "api").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "cli.h"

static const char help_text[] =
	"Usage: sluice pod { list | help }\n"
	"List the pods the daemon knows: uid, namespace, name, service account,\n"
	"labels and where the entry came from (\"config\": the static pods map,\n"
	"\"api\": the pod cache, filled from the API server). Needs the daemon.\n";

/* "k=v,k=v" from a JSON object of strings, into buf. */
static const char *labels_text(json_t *labels, char *buf, size_t len)
{
	const char *k;
	size_t used = 0;
	json_t *v;
	int n;

	if (!json_is_object(labels) || !json_object_size(labels))
		return "-";
	buf[0] = '\0';
	json_object_foreach(labels, k, v) {
		n = snprintf(buf + used, len - used, "%s%s=%s", used ? "," : "", k,
			     json_is_string(v) ? json_string_value(v) : "?");
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	return buf;
}

static void print_pods(json_t *pods)
{
	char uid[40], ns[64], name[64], sa[64], src[16], lab[256];
	FILE *out = cli_out();
	size_t i;
	json_t *p;

	fprintf(out, "%-36s %-20s %-28s %-16s %-6s %s\n", "UID", "NAMESPACE", "NAME",
		"SERVICEACCOUNT", "SOURCE", "LABELS");
	json_array_foreach(pods, i, p) {
		fprintf(out, "%-36s %-20s %-28s %-16s %-6s %s\n",
			cli_jget(p, "uid", uid, sizeof(uid)),
			cli_jget(p, "namespace", ns, sizeof(ns)),
			cli_jget(p, "name", name, sizeof(name)),
			cli_jget(p, "service_account", sa, sizeof(sa)),
			cli_jget(p, "source", src, sizeof(src)),
			labels_text(json_object_get(p, "labels"), lab, sizeof(lab)));
	}
}

static int do_list(int argc, char **argv)
{
	json_t *req = NULL, *resp = NULL, *pods;
	char why[512];
	int rc = CLI_OK;

	if (argc > 0)
		return cli_usage("pod", "unexpected argument '%s'", argv[0]);
	req = json_pack("{s:s}", "cmd", "pod list");
	if (!req) {
		p_err("out of memory");
		return CLI_FAIL;
	}
	if (cli_ctl(req, &resp, why, sizeof(why))) {
		p_err("%s", why);
		rc = CLI_FAIL;
		goto out;
	}
	pods = json_object_get(resp, "pods");
	if (!json_is_array(pods)) {
		p_err("sluiced: answer to 'pod list' has no pods");
		rc = CLI_FAIL;
		goto out;
	}
	if (cli.json) {
		cli_emit(resp);
		resp = NULL;
	} else {
		print_pods(pods);
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

int do_pod(int argc, char **argv)
{
	return cli_dispatch(cmds, "pod", help_text, argc, argv);
}
