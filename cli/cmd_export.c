// SPDX-License-Identifier: BSD-2-Clause
/*
 * sluice export status: per SIEM sink, its cursor in the export feed, how
 * far behind it is (feed entries and seconds), retries and the last error
 * (DESIGN §6, README "Export to SIEMs"). From the daemon's control socket
 * ("export_status"); with the daemon down, the cursors are read from the
 * store read-only, so what each sink has taken is still visible (exit 1:
 * degraded).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "cli.h"
#include "store.h"

static const char help_text[] =
	"Usage: sluice export { status | help }\n"
	"Per export sink: cursor (the last feed entry it has taken), head (the\n"
	"last entry written), lag in entries and seconds, deliveries, retries,\n"
	"whether it is failing and its last error; and how many sessions\n"
	"retention keeps back because a sink has not taken them.\n"
	"With the daemon down, only the cursors stored in --store PATH (exit 1).\n"
	"-j: {\"daemon\": bool, \"sinks\": [{\"name\", \"type\", \"format\",\n"
	"\"destination\", \"cursor\", \"head\", \"lag_events\", \"lag_seconds\",\n"
	"\"lag_ms\", "
	"\"delivered\", \"retries\", \"failing\", \"last_error\", ...}],\n"
	"\"retention_held\"}.\n"
	"Exit status: 0 every sink delivering; 1 a sink failing or the daemon\n"
	"unreachable; 2 usage error.\n";

/* The cursors in the store, when nobody answers on the socket. */
static json_t *offline_status(void)
{
	struct store *s = cli_store_open();
	json_t *cursors, *sinks, *v;
	const char *name;
	uint64_t head;

	if (!s)
		return NULL;
	cursors = store_export_cursor_list(s);
	sinks = json_array();
	head = store_feed_head(s);
	json_object_foreach(cursors, name, v) {
		uint64_t n = 0, ms = 0, c = (uint64_t)json_integer_value(v);

		store_export_lag(s, c, &n, &ms);
		json_array_append_new(sinks, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}",
			"name", name, "cursor", (json_int_t)c, "head", (json_int_t)head,
			"lag_events", (json_int_t)n, "lag_seconds", (json_int_t)(ms / 1000),
			"lag_ms", (json_int_t)ms));
	}
	json_decref(cursors);
	store_close(s);
	return json_pack("{s:b, s:o}", "daemon", 0, "sinks", sinks);
}

static void print_text(json_t *st)
{
	FILE *o = cli_out();
	json_t *sinks = json_object_get(st, "sinks"), *x;
	char b[9][128];
	size_t i;

	fprintf(o, "%-16s %-7s %-9s %10s %10s %8s %7s %-8s %s\n", "NAME", "TYPE",
		"FORMAT", "CURSOR", "LAG", "LAG_S", "RETRIES", "STATE", "LAST ERROR");
	json_array_foreach(sinks, i, x) {
		const char *state = !json_is_boolean(json_object_get(x, "failing")) ?
			"-" : json_is_true(json_object_get(x, "failing")) ? "failing" : "ok";

		fprintf(o, "%-16s %-7s %-9s %10s %10s %8s %7s %-8s %s\n",
			cli_jget(x, "name", b[0], sizeof(b[0])),
			cli_jget(x, "type", b[1], sizeof(b[1])),
			cli_jget(x, "format", b[2], sizeof(b[2])),
			cli_jget(x, "cursor", b[3], sizeof(b[3])),
			cli_jget(x, "lag_events", b[4], sizeof(b[4])),
			cli_jget(x, "lag_seconds", b[5], sizeof(b[5])),
			cli_jget(x, "retries", b[6], sizeof(b[6])), state,
			cli_jget(x, "last_error", b[7], sizeof(b[7])));
	}
	if (!json_array_size(sinks))
		fprintf(o, "(no export sinks)\n");
	if (json_integer_value(json_object_get(st, "retention_held")))
		fprintf(o, "retention is keeping back %lld sessions not yet exported\n",
			(long long)json_integer_value(json_object_get(st, "retention_held")));
	if (!json_is_true(json_object_get(st, "daemon")))
		fprintf(o, "(daemon not reachable: cursors from the store only)\n");
}

static int do_sink_status(int argc, char **argv)
{
	json_t *req, *st = NULL, *x;
	char why[256];
	size_t i;
	int rc = CLI_OK, err;

	if (argc)
		return cli_usage("export", "unexpected argument '%s'", argv[0]);
	req = json_pack("{s:s}", "cmd", "export_status");
	err = req ? cli_ctl(req, &st, why, sizeof(why)) : -ENOMEM;
	json_decref(req);
	if (err) {
		p_info("daemon not reachable (%s): reading cursors from the store", why);
		st = offline_status();
		if (!st)
			return CLI_FAIL;
		rc = CLI_FAIL;
	} else {
		json_object_set_new(st, "daemon", json_true());
	}
	json_array_foreach(json_object_get(st, "sinks"), i, x)
		if (json_is_true(json_object_get(x, "failing")))
			rc = CLI_FAIL;
	if (cli.json)
		cli_emit(st);
	else {
		print_text(st);
		json_decref(st);
	}
	return rc;
}

static const struct cmd cmds[] = {
	{ "status", do_sink_status, NULL },
	{ "help", NULL, NULL },	/* help_text */
	{ 0 }
};

int do_export(int argc, char **argv)
{
	return cli_dispatch(cmds, "export", help_text, argc, argv);
}
