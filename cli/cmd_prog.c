// SPDX-License-Identifier: BSD-2-Clause
/* sluice prog { show | list }: the attached programs, read from bpffs. */
#include <jansson.h>

#include "cli.h"
#include "pins.h"

static const char help_text[] =
	"Usage: sluice prog { show | list | help }\n"
	"Show the programs attached through the links pinned under\n"
	SLUICE_PIN_DIR ": id, name, type, attach type and cgroup, link id,\n"
	"pin. run_cnt and run_time_ns are counted by the kernel only while\n"
	"/proc/sys/kernel/bpf_stats_enabled is 1; otherwise they are null\n"
	"(\"stats_enabled\": false). Missing pins are left out; an empty\n"
	"list still exits 0 (see 'sluice status' for health).\n";

static int do_show(int argc, char **argv)
{
	char why[256], b1[32], b2[32], b3[32];
	FILE *out = cli_out();
	size_t i;
	json_t *progs, *p;
	int err;

	if (argc > 0)
		return cli_usage("prog", "unexpected argument '%s'", argv[0]);
	err = cli_pinned_programs(&progs, why, sizeof(why));
	if (err) {
		p_err("%s", why);
		return CLI_FAIL;
	}
	if (cli.json) {
		cli_emit(progs);
		return CLI_OK;
	}
	if (!json_array_size(progs))
		fprintf(out, "no programs pinned under %s\n",
			SLUICE_PIN_DIR);
	json_array_foreach(progs, i, p) {
		/* strings come back borrowed from p; numbers use a buffer each */
		fprintf(out, "%s: %s  name %s\n",
			cli_jget(p, "id", b1, sizeof(b1)),
			cli_jget(p, "type", b2, sizeof(b2)),
			cli_jget(p, "name", b3, sizeof(b3)));
		fprintf(out, "\tattach %s on %s (cgroup id %s)\n",
			cli_jget(p, "attach_type", b1, sizeof(b1)),
			cli_jget(p, "attach_point", b2, sizeof(b2)),
			cli_jget(p, "cgroup_id", b3, sizeof(b3)));
		fprintf(out, "\tlink %s  pinned %s  loaded %s\n",
			cli_jget(p, "link_id", b1, sizeof(b1)),
			cli_jget(p, "pinned", b2, sizeof(b2)),
			cli_jget(p, "loaded_at", b3, sizeof(b3)));
		if (json_is_true(json_object_get(p, "stats_enabled")))
			fprintf(out, "\trun_cnt %s  run_time_ns %s\n",
				cli_jget(p, "run_cnt", b1, sizeof(b1)),
				cli_jget(p, "run_time_ns", b2, sizeof(b2)));
	}
	json_decref(progs);
	return CLI_OK;
}

static const struct cmd cmds[] = {
	{ "show", do_show, NULL },
	{ "list", do_show, NULL },
	{ "help", NULL, NULL },	/* help_text */
	{ 0 }
};

int do_prog(int argc, char **argv)
{
	return cli_dispatch(cmds, "prog", help_text, argc, argv);
}
