// SPDX-License-Identifier: BSD-2-Clause
/* sluice version */
#include <bpf/libbpf.h>
#include <jansson.h>

#include "cli.h"

static const char help_text[] =
	"Usage: sluice version\n"
	"Print the CLI's version. With -j: {\"version\", \"abi\", \"libbpf\"},\n"
	"\"abi\" being the size of every struct of bpf/sluice_abi.h this\n"
	"binary was built against.\n";

/* The ABI this binary decodes maps with: struct name -> size. */
static json_t *abi_json(void)
{
	return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}",
		"sluice_addr_key", (int)sizeof(struct sluice_addr_key),
		"sluice_target_val", (int)sizeof(struct sluice_target_val),
		"sluice_settings", (int)sizeof(struct sluice_settings),
		"sluice_heartbeat", (int)sizeof(struct sluice_heartbeat),
		"sluice_orig", (int)sizeof(struct sluice_orig),
		"sluice_tuple", (int)sizeof(struct sluice_tuple),
		"sluice_target_stats", (int)sizeof(struct sluice_target_stats),
		"sluice_event", (int)sizeof(struct sluice_event));
}

int do_version(int argc, char **argv)
{
	if (cli_is_help(argc, argv))
		return cli_help(help_text);
	if (argc > 0)
		return cli_usage("version", "unexpected argument '%s'", argv[0]);
	if (cli.json) {
		cli_emit(json_pack("{s:s, s:o, s:s}", "version", SLUICE_VERSION,
				   "abi", abi_json(),
				   "libbpf", libbpf_version_string()));
		return CLI_OK;
	}
	fprintf(cli_out(), "sluice %s\n", SLUICE_VERSION);
	return CLI_OK;
}
