// SPDX-License-Identifier: BSD-2-Clause
/*
 * sluice batch file FILE: one command per line, without the program name
 * and global options (those of the batch apply). Stops at the first line
 * whose exit status is not 0 and reports its number.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "cli.h"

#define BATCH_LINE_MAX	4096
#define BATCH_ARGS_MAX	64

static const char help_text[] =
	"Usage: sluice batch file FILE\n"
	"Run each line of FILE ('-': stdin) as 'OBJECT COMMAND ...'. Words\n"
	"are split on whitespace; a word starting with '#' starts a comment;\n"
	"blank lines are skipped. The global options of the batch apply to\n"
	"every line. With -j the output is one JSON array of the results;\n"
	"a failing line ends it with {\"error\", \"line\", \"exit\"}. The\n"
	"batch stops at the first line that does not exit 0 and exits with\n"
	"that line's status.\n";

int batch_split_line(char *line, char **argv, int max)
{
	int argc = 0;
	char *p = line;

	for (;;) {
		while (*p && strchr(" \t\r\n\v\f", *p))
			p++;
		if (!*p || *p == '#')
			break;
		if (argc == max)
			return -E2BIG;
		argv[argc++] = p;
		while (*p && !strchr(" \t\r\n\v\f", *p))
			p++;
		if (*p)
			*p++ = '\0';
	}
	return argc;
}

/*
 * Record the failure of line `n`: in JSON as the array's last element; in
 * text on stderr, where the command has already said what went wrong.
 */
static void batch_fail(const char *file, unsigned n, int rc, const char *msg)
{
	char why[64];

	if (!msg[0]) {
		/* e.g. a degraded `status`: a result, but not exit 0 */
		snprintf(why, sizeof(why), "exited with status %d", rc);
		msg = why;
	}
	if (cli.json) {
		json_array_append_new(cli.batch,
			json_pack("{s:o, s:I, s:i}", "error", cli_jstring(msg),
				  "line", (json_int_t)n, "exit", rc));
		return;
	}
	fprintf(cli_errf(), "Error: %s line %u failed (exit status %d)\n",
		strcmp(file, "-") ? file : "<stdin>", n, rc);
}

static int do_file(int argc, char **argv)
{
	char *line = NULL, *words[BATCH_ARGS_MAX];
	const char *file;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0, ran = 0;
	FILE *f = NULL;
	int n, rc = CLI_OK;

	if (argc != 1)
		return cli_usage("batch", argc ? "too many arguments" :
				 "batch file needs a FILE");
	if (cli.in_batch)
		return cli_usage("batch", "batch files cannot be nested");
	file = argv[0];
	f = strcmp(file, "-") ? fopen(file, "re") : stdin;
	if (!f) {
		p_err("cannot open %s: %s", file, strerror(errno));
		return CLI_FAIL;
	}
	cli.in_batch = true;
	if (cli.json) {
		cli.batch = json_array();
		if (!cli.batch) {
			p_err("out of memory");
			rc = CLI_FAIL;
			goto out;
		}
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		cli.last_err[0] = '\0';
		if (len > BATCH_LINE_MAX) {
			rc = CLI_USAGE;
			p_err("line too long");
			batch_fail(file, lineno, rc, cli.last_err);
			break;
		}
		n = batch_split_line(line, words, BATCH_ARGS_MAX);
		if (n < 0) {
			rc = CLI_USAGE;
			p_err("more than %d words", BATCH_ARGS_MAX);
			batch_fail(file, lineno, rc, cli.last_err);
			break;
		}
		if (!n)
			continue;
		ran++;
		rc = cli_run_object(n, words);
		if (rc) {
			batch_fail(file, lineno, rc, cli.last_err);
			break;
		}
	}
	if (!rc && ferror(f)) {
		rc = CLI_FAIL;
		p_err("reading %s: %s", file, strerror(errno));
		batch_fail(file, lineno, rc, cli.last_err);
	}
	if (!rc && !ran)
		p_info("%s: no commands", file);
out:
	cli.in_batch = false;
	if (cli.batch) {
		json_t *results = cli.batch;

		/* emit the array itself, not into itself */
		cli.batch = NULL;
		cli_emit(results);
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return rc;
}

static const struct cmd cmds[] = {
	{ "file", do_file, NULL },
	{ "help", NULL, NULL },	/* help_text */
	{ 0 }
};

int do_batch(int argc, char **argv)
{
	return cli_dispatch(cmds, "batch", help_text, argc, argv);
}
