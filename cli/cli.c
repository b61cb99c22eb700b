// SPDX-License-Identifier: BSD-2-Clause
/* Global options, the table of objects, and the top-level help. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ctl_client.h"

static int do_help(int argc, char **argv);

/*
 * Every object of `sluice`, in the order `help` lists them. Adding an
 * object is a cmd_<object>.c with its do_<object>() and one line here.
 */
static const struct cmd objects[] = {
	{ "status", do_status, "status" },
	{ "prog", do_prog, "prog { show | list | help }" },
	{ "map", do_map, "map { show | dump NAME | help }" },
	{ "target", do_target, "target { list | help }" },
	{ "conn", do_conn, "conn { list [--all] | help }" },
	{ "pod", do_pod, "pod { list | help }" },
	{ "session", do_session,
	  "session { list | show ID | replay ID | verify ID | export ID | help }" },
	{ "seal", do_seal, "seal { pubkey [--key SEALKEY] | help }" },
	{ "policy", do_policy,
	  "policy { show | check FILE | reload | test --identity J --request J | help }" },
	{ "approval", do_approval, "approval { list | grant ID [--for DUR] | deny ID | help }" },
	{ "export", do_export, "export { status | help }" },
	{ "batch", do_batch, "batch file FILE" },
	{ "version", do_version, "version" },
	{ "help", do_help, NULL },
	{ 0 }
};

static int do_help(int argc, char **argv)
{
	char text[2048], *help_argv[2];
	const struct cmd *c = NULL;
	size_t used;
	bool amb;

	/* `sluice help target` is `sluice target help`; `help help` is this */
	if (argc > 0)
		c = cli_match(objects, argv[0], &amb);
	if (argc > 0 && (!c || c->func != do_help)) {
		help_argv[0] = argv[0];
		help_argv[1] = "help";
		return cli_run_object(2, help_argv);
	}
	used = (size_t)snprintf(text, sizeof(text),
		"Usage: sluice [OPTIONS] OBJECT {COMMAND | help}\n");
	for (const struct cmd *c = objects; c->name; c++) {
		if (c->synopsis && used < sizeof(text))
			used += (size_t)snprintf(text + used, sizeof(text) - used,
						 "       sluice %s\n", c->synopsis);
	}
	if (used < sizeof(text))
		snprintf(text + used, sizeof(text) - used,
		"\n"
		"OPTIONS := { -j|--json | -p|--pretty | --ctl PATH | --store PATH |\n"
		"             -h|--help | -V|--version }\n"
		"  -j, --json     print JSON (the stable output; text may change)\n"
		"  -p, --pretty   print indented JSON (implies --json)\n"
		"  --ctl PATH     daemon control socket (default $SLUICE_CTL,\n"
		"                 else " SLUICE_CTL_DEFAULT ")\n"
		"  --store PATH   recordings database, read-only (default\n"
		"                 $SLUICE_STORE, else " SLUICE_STORE_DEFAULT ")\n"
		"Keywords may be shortened to any unambiguous prefix:\n"
		"'sluice t l' is 'sluice target list'.\n"
		"Exit status: 0 ok, 1 degraded or daemon unreachable, 2 usage.\n");
	return cli_help(text);
}

int cli_run_object(int argc, char **argv)
{
	if (argc < 1)
		return cli_usage(NULL, "missing OBJECT");
	return cli_dispatch(objects, NULL, NULL, argc, argv);
}

void cli_set_output(FILE *out, FILE *err)
{
	cli.out = out;
	cli.err = err;
}

enum opt_result { OPT_NONE, OPT_TAKEN, OPT_TAKEN_NEXT, OPT_BAD };

/* Short flags may be bundled: -jp. */
static enum opt_result short_opts(const char *a, bool *help, bool *version)
{
	for (const char *p = a + 1; *p; p++) {
		if (!strchr("jphV", *p))
			return OPT_NONE;
	}
	for (const char *p = a + 1; *p; p++) {
		switch (*p) {
		case 'p':
			cli.pretty = true;
			/* fallthrough */
		case 'j':
			cli.json = true;
			break;
		case 'h':
			*help = true;
			break;
		case 'V':
			*version = true;
			break;
		}
	}
	return OPT_TAKEN;
}

static enum opt_result global_opt(const char *a, const char *next,
				  bool *help, bool *version)
{
	if (a[0] != '-' || !a[1])
		return OPT_NONE;
	if (a[1] != '-')
		return short_opts(a, help, version);
	if (!strcmp(a, "--json")) {
		cli.json = true;
	} else if (!strcmp(a, "--pretty")) {
		cli.json = cli.pretty = true;
	} else if (!strcmp(a, "--help")) {
		*help = true;
	} else if (!strcmp(a, "--version")) {
		*version = true;
	} else if (!strncmp(a, "--ctl=", 6)) {
		cli.ctl_path = a + 6;
	} else if (!strcmp(a, "--ctl")) {
		if (!next)
			return OPT_BAD;
		cli.ctl_path = next;
		return OPT_TAKEN_NEXT;
	} else if (!strncmp(a, "--store=", 8)) {
		cli.store_path = a + 8;
	} else if (!strcmp(a, "--store")) {
		if (!next)
			return OPT_BAD;
		cli.store_path = next;
		return OPT_TAKEN_NEXT;
	} else {
		return OPT_NONE;
	}
	return OPT_TAKEN;
}

int cli_main(int argc, char **argv)
{
	FILE *out = cli.out, *err = cli.err;
	bool help = false, version = false, dashdash = false;
	char **pos = NULL, *help_argv[2], bad[160] = "";
	const char *env;
	int npos = 0, rc;

	memset(&cli, 0, sizeof(cli));
	cli.out = out;
	cli.err = err;
	env = getenv("SLUICE_CTL");
	cli.ctl_path = env && *env ? env : SLUICE_CTL_DEFAULT;
	env = getenv("SLUICE_STORE");
	cli.store_path = env && *env ? env : SLUICE_STORE_DEFAULT;

	pos = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*pos));
	if (!pos) {
		p_err("out of memory");
		return CLI_FAIL;
	}
	/*
	 * Global options may come anywhere (`sluice target list -j`), as in
	 * bpftool; other dashed words after the object belong to the command
	 * (`conn list --all`). Before the object they are usage errors.
	 */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		enum opt_result r = OPT_NONE;

		if (!dashdash && !strcmp(a, "--")) {
			dashdash = true;
			continue;
		}
		if (!dashdash)
			r = global_opt(a, i + 1 < argc ? argv[i + 1] : NULL,
				       &help, &version);
		if (r == OPT_BAD && !bad[0])
			snprintf(bad, sizeof(bad), "option '%s' needs an argument",
				 a);
		if (r == OPT_TAKEN_NEXT)
			i++;
		if (r != OPT_NONE)
			continue;
		if (!dashdash && !npos && a[0] == '-' && a[1]) {
			/* keep going: a later -j decides how this is reported */
			if (!bad[0])
				snprintf(bad, sizeof(bad), "unknown option '%s'", a);
			continue;
		}
		pos[npos++] = argv[i];
	}

	if (bad[0]) {
		rc = cli_usage(NULL, "%s", bad);
		goto out;
	}
	if (version) {
		rc = do_version(0, NULL);
	} else if (help && npos) {
		help_argv[0] = pos[0];
		help_argv[1] = "help";
		rc = cli_run_object(2, help_argv);
	} else if (help) {
		rc = do_help(0, NULL);
	} else if (!npos) {
		rc = cli_usage(NULL, "missing OBJECT");
	} else {
		rc = cli_run_object(npos, pos);
	}
out:
	free(pos);
	return rc;
}
