// SPDX-License-Identifier: BSD-2-Clause
/* Output, errors, keyword matching and the daemon call shared by all objects. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "cli.h"
#include "ctl_client.h"

struct cli_state cli;

FILE *cli_out(void)
{
	return cli.out ? cli.out : stdout;
}

FILE *cli_errf(void)
{
	return cli.err ? cli.err : stderr;
}

static size_t json_flags(void)
{
	return JSON_ENCODE_ANY | (cli.pretty ? JSON_INDENT(2) : JSON_COMPACT);
}

json_t *cli_jstring(const char *s)
{
	json_t *v = json_string(s);
	char *copy;

	if (v || !s)
		return v;
	/* not UTF-8 (a path, a word from the command line): mask the bytes */
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

void cli_emit(json_t *v)
{
	FILE *out = cli_out();

	if (!v) {
		/* not p_err(): building its JSON could fail the same way */
		snprintf(cli.last_err, sizeof(cli.last_err), "out of memory");
		if (cli.batch)
			return;
		fputs("{\"error\":\"out of memory\"}\n", out);
		cli.emitted = true;
		return;
	}
	if (cli.batch) {
		json_array_append_new(cli.batch, v);
		return;
	}
	json_dumpf(v, out, json_flags());
	fputc('\n', out);
	fflush(out);
	cli.emitted = true;
	json_decref(v);
}

void p_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cli.last_err, sizeof(cli.last_err), fmt, ap);
	va_end(ap);

	if (cli.json && cli.batch)
		return;	/* the batch reports it with its line number */
	/* stdout carries exactly one JSON value; a late error goes to stderr */
	if (cli.json && !cli.emitted) {
		cli_emit(json_pack("{s:o}", "error", cli_jstring(cli.last_err)));
		return;
	}
	fprintf(cli_errf(), "Error: %s\n", cli.last_err);
	fflush(cli_errf());
}

void p_info(const char *fmt, ...)
{
	va_list ap;

	if (cli.json)
		return;
	va_start(ap, fmt);
	vfprintf(cli_errf(), fmt, ap);
	va_end(ap);
	fputc('\n', cli_errf());
}

static bool is_prefix(const char *word, const char *name)
{
	size_t n = strlen(word);

	return n && !strncmp(word, name, n);
}

const struct cmd *cli_match(const struct cmd *cmds, const char *word,
			    bool *ambiguous)
{
	const struct cmd *found = NULL;
	int n = 0;

	*ambiguous = false;
	for (const struct cmd *c = cmds; c->name; c++) {
		if (!strcmp(word, c->name))
			return c;
		if (is_prefix(word, c->name)) {
			found = c;
			n++;
		}
	}
	if (n > 1) {
		*ambiguous = true;
		return NULL;
	}
	return found;
}

int cli_match_name(const char *const *names, const char *word)
{
	int found = -ENOENT, n = 0;

	for (int i = 0; names[i]; i++) {
		if (!strcmp(word, names[i]))
			return i;
		if (is_prefix(word, names[i])) {
			found = i;
			n++;
		}
	}
	return n > 1 ? -EINVAL : found;
}

void cli_candidates(const struct cmd *cmds, const char *word, char *buf,
		    size_t len)
{
	size_t used = 0;

	if (len)
		buf[0] = '\0';
	for (const struct cmd *c = cmds; c->name; c++) {
		int n;

		if (!is_prefix(word, c->name))
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
			     c->name);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

int cli_usage(const char *what, const char *fmt, ...)
{
	char msg[sizeof(cli.last_err)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p_err("%s", msg);
	p_info("Try 'sluice %s%shelp'.", what ? what : "", what ? " " : "");
	return CLI_USAGE;
}

int cli_dispatch(const struct cmd *cmds, const char *what, const char *help, int argc,
		 char **argv)
{
	const struct cmd *c;
	char names[256];
	bool ambiguous;

	/* no command, or only its flags (`conn --all`): the first entry */
	if (argc < 1 || (what && argv[0][0] == '-' && argv[0][1]))
		return cmds[0].func(argc, argv);
	c = cli_match(cmds, argv[0], &ambiguous);
	if (c)
		return c->func ? c->func(argc - 1, argv + 1) : cli_help(help);
	if (ambiguous) {
		cli_candidates(cmds, argv[0], names, sizeof(names));
		return cli_usage(what, "ambiguous %s '%s': %s",
				 what ? "command" : "object", argv[0], names);
	}
	return cli_usage(what, "unknown %s '%s'%s%s", what ? "command" : "object",
			 argv[0], what ? " for " : "", what ? what : "");
}

bool cli_is_help(int argc, char **argv)
{
	return argc == 1 && is_prefix(argv[0], "help");
}

int cli_help(const char *text)
{
	if (cli.json)
		cli_emit(json_pack("{s:s}", "help", text));
	else
		fputs(text, cli_out());
	return CLI_OK;
}

int cli_ctl(json_t *req, json_t **resp, char *why, size_t why_len)
{
	json_t *r, *e;
	int err;

	*resp = NULL;
	r = ctl_call(cli.ctl_path, req, CLI_CTL_TIMEOUT_MS);
	if (!r) {
		err = errno ? -errno : -EIO;
		if (err == -EPROTO || err == -EMSGSIZE)
			snprintf(why, why_len, "bad answer from sluiced at %s: %s",
				 cli.ctl_path, strerror(-err));
		else if (err == -ETIMEDOUT)
			snprintf(why, why_len,
				 "sluiced at %s did not answer within %d ms",
				 cli.ctl_path, CLI_CTL_TIMEOUT_MS);
		else
			snprintf(why, why_len, "cannot reach sluiced at %s: %s",
				 cli.ctl_path, strerror(-err));
		return err;
	}
	e = json_object_get(r, "error");
	if (e) {
		snprintf(why, why_len, "sluiced: %s",
			 json_is_string(e) ? json_string_value(e) : "error");
		json_decref(r);
		return -EREMOTEIO;
	}
	*resp = r;
	return 0;
}

const char *cli_jstr(json_t *v, char *buf, size_t len)
{
	if (!v)
		return "-";
	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_string_value(v);
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	case JSON_REAL:
		snprintf(buf, len, "%g", json_real_value(v));
		return buf;
	case JSON_TRUE:
		return "yes";
	case JSON_FALSE:
		return "no";
	default:
		/* missing, null, or a container that has no one-cell form */
		return "-";
	}
}

const char *cli_jget(json_t *obj, const char *path, char *buf, size_t len)
{
	char key[64];
	const char *dot;
	size_t n;

	while (obj && (dot = strchr(path, '.'))) {
		n = (size_t)(dot - path);
		if (n >= sizeof(key))
			return "-";
		memcpy(key, path, n);
		key[n] = '\0';
		obj = json_object_get(obj, key);
		path = dot + 1;
	}
	return cli_jstr(json_object_get(obj, path), buf, len);
}

json_t *cli_ju64(uint64_t v)
{
	char buf[24];

	if (v <= (uint64_t)INT64_MAX)
		return json_integer((json_int_t)v);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return json_string(buf);
}

int cli_parse_opts(const char *what, int argc, char **argv, const struct cli_opt *opts,
		   const char **pos)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *eq;
		const struct cli_opt *o = NULL;
		size_t n;

		if (a[0] != '-' || !a[1]) {
			if (!pos || *pos)
				return cli_usage(what, "unexpected argument '%s'", a);
			*pos = a;
			continue;
		}
		eq = strchr(a, '=');
		n = eq ? (size_t)(eq - a) : strlen(a);
		for (const struct cli_opt *p = opts; p && p->name; p++)
			if (strlen(p->name) == n && !strncmp(a, p->name, n))
				o = p;
		if (!o)
			return cli_usage(what, "unknown option '%s'", a);
		if (!o->has_arg) {
			if (eq)
				return cli_usage(what, "option '%s' takes no argument", o->name);
			*o->val = "";
		} else if (eq) {
			*o->val = eq + 1;
		} else if (i + 1 < argc) {
			*o->val = argv[++i];
		} else {
			return cli_usage(what, "option '%s' needs an argument", o->name);
		}
	}
	return CLI_OK;
}
