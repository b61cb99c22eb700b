// SPDX-License-Identifier: BSD-2-Clause
/*
 * The `sluice` CLI without a daemon and without bpf: keyword matching,
 * options, help, JSON shapes, exit codes, batch files, and the control
 * socket client against a fake daemon socket (see struct fake_ctl).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include <jansson.h>

#include "cli.h"
#include "ctl_client.h"

/*
 * Criterion runs each case in a worker process whose LeakSanitizer report
 * does not fail the case; check for leaks after each CLI run instead.
 */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define assert_no_leaks() \
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked")
#else
#define assert_no_leaks() do { } while (0)
#endif

/* ---- running the CLI in process, capturing what it prints ---- */

struct run {
	int rc;
	char *out;	/* everything printed to the result stream */
	char *err;	/* everything printed to the error stream */
};

static struct run run_argv(int argc, char **argv)
{
	struct run r = {};
	size_t olen = 0, elen = 0;
	FILE *out = open_memstream(&r.out, &olen);
	FILE *err = open_memstream(&r.err, &elen);

	cr_assert(out && err);
	cli_set_output(out, err);
	r.rc = cli_main(argc, argv);
	cli_set_output(NULL, NULL);
	fclose(out);
	fclose(err);
	assert_no_leaks();
	return r;
}

/* run("sluice", "-j", "version", NULL) */
static struct run run(const char *first, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)first;
	va_start(ap, first);
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	return run_argv(argc, argv);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* The result stream must be exactly one JSON value. Caller decrefs. */
static json_t *parse_out(const struct run *r)
{
	json_error_t jerr;
	json_t *v = json_loads(r->out, JSON_DECODE_ANY, &jerr);

	cr_assert_not_null(v, "stdout is not one JSON value: %s (%s)", r->out,
			   jerr.text);
	return v;
}

static void assert_json_error(const struct run *r, const char *needle)
{
	json_t *v = parse_out(r);
	json_t *e = json_object_get(v, "error");

	cr_assert(json_is_object(v) && json_object_size(v) == 1,
		  "error is not {\"error\": ...}: %s", r->out);
	cr_assert(json_is_string(e));
	if (needle)
		cr_assert(strstr(json_string_value(e), needle),
			  "'%s' not in error '%s'", needle,
			  json_string_value(e));
	json_decref(v);
}

/* A path where no socket is. */
static char missing_sock[128];

static void make_missing_sock(void)
{
	char dir[] = "/tmp/sluice-cli-test.XXXXXX";

	cr_assert_not_null(mkdtemp(dir));
	snprintf(missing_sock, sizeof(missing_sock), "%s/none.sock", dir);
	rmdir(dir);
}

/* ---- keyword matching ---- */

static int h_list(int argc, char **argv) { (void)argc; (void)argv; return 10; }
static int h_load(int argc, char **argv) { (void)argc; (void)argv; return 11; }
static int h_show(int argc, char **argv) { (void)argc; return argv[0] ? 12 : 13; }
static int h_shows(int argc, char **argv) { (void)argc; (void)argv; return 14; }

static const struct cmd table[] = {
	{ "show", h_show, NULL },
	{ "shows", h_shows, NULL },
	{ "list", h_list, NULL },
	{ "load", h_load, NULL },
	{ 0 }
};

Test(match, exact_wins_over_longer_entry)
{
	bool amb;

	cr_assert_eq(cli_match(table, "show", &amb), &table[0]);
	cr_assert_not(amb);
	cr_assert_eq(cli_match(table, "shows", &amb), &table[1]);
}

Test(match, unique_prefix)
{
	bool amb;

	cr_assert_eq(cli_match(table, "li", &amb), &table[2]);
	cr_assert_eq(cli_match(table, "lo", &amb), &table[3]);
	cr_assert_eq(cli_match(table, "shows", &amb), &table[1]);
}

Test(match, ambiguous_and_unknown)
{
	bool amb;
	char names[64];

	cr_assert_null(cli_match(table, "l", &amb));
	cr_assert(amb);
	cli_candidates(table, "l", names, sizeof(names));
	cr_assert_str_eq(names, "list, load");
	cr_assert_null(cli_match(table, "sh", &amb));	/* show, shows */
	cr_assert(amb);
	cr_assert_null(cli_match(table, "x", &amb));
	cr_assert_not(amb);
	cr_assert_null(cli_match(table, "", &amb));
	cr_assert_not(amb);
	cr_assert_null(cli_match(table, "listx", &amb));
	cr_assert_not(amb);
}

Test(match, names)
{
	static const char *const names[] = {
		"targets", "target_stats", "orig_by_cookie", "orig_by_tuple",
		"events", NULL
	};

	cr_assert_eq(cli_match_name(names, "targets"), 0);
	cr_assert_eq(cli_match_name(names, "target_"), 1);
	cr_assert_eq(cli_match_name(names, "orig_by_t"), 3);
	cr_assert_eq(cli_match_name(names, "e"), 4);
	cr_assert_eq(cli_match_name(names, "target"), -EINVAL);
	cr_assert_eq(cli_match_name(names, "orig"), -EINVAL);
	cr_assert_eq(cli_match_name(names, "zzz"), -ENOENT);
}

Test(dispatch, table)
{
	char *argv[] = { "lo", "x", NULL };
	char *amb[] = { "l", NULL };
	char *unk[] = { "frob", NULL };
	char *flag[] = { "--all", NULL };
	size_t len = 0;
	char *err = NULL;
	FILE *f = open_memstream(&err, &len);

	cli_set_output(f, f);
	cr_assert_eq(cli_dispatch(table, "thing", 2, argv), 11);
	/* no word, or a flag first: the first entry, with all the words */
	cr_assert_eq(cli_dispatch(table, "thing", 0, argv + 2), 13);
	cr_assert_eq(cli_dispatch(table, "thing", 1, flag), 12);
	cr_assert_eq(cli_dispatch(table, "thing", 1, amb), CLI_USAGE);
	cr_assert_eq(cli_dispatch(table, "thing", 1, unk), CLI_USAGE);
	cli_set_output(NULL, NULL);
	fclose(f);
	cr_assert(strstr(err, "ambiguous command 'l': list, load"), "%s", err);
	cr_assert(strstr(err, "unknown command 'frob' for thing"), "%s", err);
	free(err);
}

Test(dispatch, prefixes_on_the_command_line)
{
	struct run r = run("sluice", "t", "h", NULL);

	cr_assert_eq(r.rc, 0);
	cr_assert(strstr(r.out, "Usage: sluice target"), "%s", r.out);
	run_free(&r);

	r = run("sluice", "ver", NULL);
	cr_assert_eq(r.rc, 0);
	cr_assert_str_eq(r.out, "sluice " SLUICE_VERSION "\n");
	run_free(&r);
}

Test(dispatch, unknown_object_and_command_are_usage_errors)
{
	struct run r = run("sluice", "-j", "foo", NULL);

	cr_assert_eq(r.rc, CLI_USAGE);
	assert_json_error(&r, "unknown object 'foo'");
	run_free(&r);

	r = run("sluice", "target", "frob", NULL);
	cr_assert_eq(r.rc, CLI_USAGE);
	cr_assert(strstr(r.err, "Error: unknown command 'frob'"), "%s", r.err);
	cr_assert(strstr(r.err, "sluice target help"), "%s", r.err);
	cr_assert_str_eq(r.out, "");
	run_free(&r);

	r = run("sluice", NULL);
	cr_assert_eq(r.rc, CLI_USAGE);
	run_free(&r);
}

Test(dispatch, error_with_bytes_that_are_not_utf8)
{
	struct run r = run("sluice", "-j", "fo\xff\xfeo", NULL);

	cr_assert_eq(r.rc, CLI_USAGE);
	assert_json_error(&r, "unknown object 'fo??o'");
	run_free(&r);
}

Test(dispatch, ambiguous_map_name)
{
	struct run r = run("sluice", "-j", "map", "dump", "orig", NULL);

	cr_assert_eq(r.rc, CLI_USAGE);
	assert_json_error(&r, "orig_by_cookie, orig_by_tuple");
	run_free(&r);
}

Test(dispatch, ring_buffer_cannot_be_dumped)
{
	struct run r = run("sluice", "-j", "map", "dump", "ev", NULL);

	cr_assert_eq(r.rc, CLI_USAGE);
	assert_json_error(&r, "cannot dump a ring buffer");
	run_free(&r);
}

Test(dispatch, extra_arguments)
{
	struct run r = run("sluice", "version", "now", NULL);

	cr_assert_eq(r.rc, CLI_USAGE);
	run_free(&r);
	r = run("sluice", "conn", "list", "--bogus", NULL);
	cr_assert_eq(r.rc, CLI_USAGE);
	cr_assert(strstr(r.err, "--bogus"));
	run_free(&r);
}

/* ---- options ---- */

Test(options, json_and_pretty)
{
	struct run r = run("sluice", "-j", "version", NULL);
	json_t *v;

	cr_assert_eq(r.rc, 0);
	cr_assert_not(strchr(r.out, ' '), "compact JSON: %s", r.out);
	json_decref(parse_out(&r));
	run_free(&r);

	r = run("sluice", "-p", "version", NULL);	/* -p implies -j */
	cr_assert_eq(r.rc, 0);
	cr_assert(strstr(r.out, "{\n  \"version\": "), "%s", r.out);
	v = parse_out(&r);
	cr_assert(json_is_object(v));
	json_decref(v);
	run_free(&r);

	r = run("sluice", "--pretty", "version", NULL);
	cr_assert(strstr(r.out, "\n  \"abi\""));
	run_free(&r);
}

Test(options, combined_and_after_the_object)
{
	struct run r = run("sluice", "-jp", "version", NULL);

	cr_assert_eq(r.rc, 0);
	cr_assert(strstr(r.out, "\n  \"version\""), "%s", r.out);
	run_free(&r);

	r = run("sluice", "version", "--json", NULL);
	cr_assert_eq(r.rc, 0);
	json_decref(parse_out(&r));
	run_free(&r);

	r = run("sluice", "-V", NULL);
	cr_assert_eq(r.rc, 0);
	cr_assert_str_eq(r.out, "sluice " SLUICE_VERSION "\n");
	run_free(&r);
}

Test(options, ctl_path, .init = make_missing_sock)
{
	char eq[160];
	struct run r = run("sluice", "-j", "--ctl", missing_sock, "conn",
			   "list", NULL);

	cr_assert_eq(r.rc, CLI_FAIL);
	assert_json_error(&r, missing_sock);
	run_free(&r);

	snprintf(eq, sizeof(eq), "--ctl=%s", missing_sock);
	r = run("sluice", "conn", "list", eq, "-j", NULL);
	cr_assert_eq(r.rc, CLI_FAIL);
	assert_json_error(&r, missing_sock);
	run_free(&r);

	setenv("SLUICE_CTL", missing_sock, 1);
	r = run("sluice", "-j", "conn", NULL);
	unsetenv("SLUICE_CTL");
	cr_assert_eq(r.rc, CLI_FAIL);
	assert_json_error(&r, missing_sock);
	run_free(&r);
}

Test(options, bad_options)
{
	struct run r = run("sluice", "--bogus", "version", NULL);

	cr_assert_eq(r.rc, CLI_USAGE);
	cr_assert(strstr(r.err, "unknown option '--bogus'"), "%s", r.err);
	run_free(&r);

	r = run("sluice", "-x", "-j", "version", NULL);	/* -j after it */
	cr_assert_eq(r.rc, CLI_USAGE);
	assert_json_error(&r, "-x");
	run_free(&r);

	r = run("sluice", "version", "--ctl", NULL);
	cr_assert_eq(r.rc, CLI_USAGE);
	cr_assert(strstr(r.err, "needs an argument"), "%s", r.err);
	run_free(&r);
}

/* ---- help ---- */

Test(help, every_level)
{
	static const char *const objs[] = {
		"status", "prog", "map", "target", "conn", "batch", "version",
	};
	struct run r;

	r = run("sluice", "help", NULL);
	cr_assert_eq(r.rc, 0);
	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++)
		cr_assert(strstr(r.out, objs[i]), "%s not in help", objs[i]);
	run_free(&r);

	r = run("sluice", "--help", NULL);
	cr_assert_eq(r.rc, 0);
	cr_assert(strstr(r.out, "Usage: sluice [OPTIONS] OBJECT"));
	run_free(&r);

	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		char want[64];

		snprintf(want, sizeof(want), "Usage: sluice %s", objs[i]);
		r = run("sluice", objs[i], "help", NULL);
		cr_assert_eq(r.rc, 0, "%s help: %d", objs[i], r.rc);
		cr_assert(strstr(r.out, want), "%s help: %s", objs[i], r.out);
		run_free(&r);

		r = run("sluice", "help", objs[i], NULL);
		cr_assert_eq(r.rc, 0, "help %s: %d", objs[i], r.rc);
		cr_assert(strstr(r.out, want), "help %s: %s", objs[i], r.out);
		run_free(&r);

		r = run("sluice", "-h", objs[i], NULL);
		cr_assert_eq(r.rc, 0, "-h %s: %d", objs[i], r.rc);
		cr_assert(strstr(r.out, want), "-h %s: %s", objs[i], r.out);
		run_free(&r);
	}
}

Test(help, of_help_itself)
{
	struct run r = run("sluice", "help", "help", NULL);

	cr_assert_eq(r.rc, 0);
	cr_assert(strstr(r.out, "Usage: sluice [OPTIONS] OBJECT"));
	run_free(&r);
	r = run("sluice", "-h", "h", NULL);
	cr_assert_eq(r.rc, 0);
	cr_assert(strstr(r.out, "Usage: sluice [OPTIONS] OBJECT"));
	run_free(&r);
	r = run("sluice", "help", "nope", NULL);
	cr_assert_eq(r.rc, CLI_USAGE);
	run_free(&r);
}

Test(help, json_mode_is_json)
{
	struct run r = run("sluice", "-j", "map", "help", NULL);
	json_t *v;

	cr_assert_eq(r.rc, 0);
	v = parse_out(&r);
	cr_assert(strstr(json_string_value(json_object_get(v, "help")),
			 "dump NAME"));
	json_decref(v);
	run_free(&r);
}

/* ---- version ---- */

Test(version, json)
{
	struct run r = run("sluice", "-j", "version", NULL);
	json_t *v = parse_out(&r), *abi;

	cr_assert_eq(r.rc, 0);
	cr_assert_str_eq(json_string_value(json_object_get(v, "version")),
			 SLUICE_VERSION);
	abi = json_object_get(v, "abi");
	cr_assert_eq(json_integer_value(json_object_get(abi, "sluice_orig")),
		     (json_int_t)sizeof(struct sluice_orig));
	cr_assert_eq(json_integer_value(json_object_get(abi, "sluice_tuple")),
		     (json_int_t)sizeof(struct sluice_tuple));
	json_decref(v);
	run_free(&r);
}

/* ---- daemon unreachable ---- */

Test(unreachable, json_error_and_exit_1, .init = make_missing_sock)
{
	struct run r = run("sluice", "-j", "--ctl", missing_sock, "conn", "list",
			   "--all", NULL);

	cr_assert_eq(r.rc, CLI_FAIL);
	assert_json_error(&r, "cannot reach sluiced");
	cr_assert_str_eq(r.err, "");
	run_free(&r);
}

Test(unreachable, text_error_and_exit_1, .init = make_missing_sock)
{
	struct run r = run("sluice", "--ctl", missing_sock, "c", "l", NULL);

	cr_assert_eq(r.rc, CLI_FAIL);
	cr_assert_str_eq(r.out, "");
	cr_assert(strstr(r.err, "Error: cannot reach sluiced"), "%s", r.err);
	cr_assert(strstr(r.err, "No such file or directory"), "%s", r.err);
	run_free(&r);
}

Test(unreachable, ctl_call_errno, .init = make_missing_sock)
{
	json_t *req = json_pack("{s:s}", "cmd", "status");
	char longpath[200];

	errno = 0;
	cr_assert_null(ctl_call(missing_sock, req, 100));
	cr_assert_eq(errno, ENOENT);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	cr_assert_null(ctl_call(longpath, req, 100));
	cr_assert_eq(errno, ENAMETOOLONG);
	json_decref(req);
}

/* ---- batch ---- */

Test(batch, split_line)
{
	char line[] = "  target\tlist  # a comment\n";
	char hash[] = "map dump a#b";
	char blank[] = " \t \r\n";
	char comment[] = "# all of it";
	char many[] = "a b c d";
	char *argv[3];

	cr_assert_eq(batch_split_line(line, argv, 3), 2);
	cr_assert_str_eq(argv[0], "target");
	cr_assert_str_eq(argv[1], "list");
	cr_assert_eq(batch_split_line(hash, argv, 3), 3);
	cr_assert_str_eq(argv[2], "a#b");
	cr_assert_eq(batch_split_line(blank, argv, 3), 0);
	cr_assert_eq(batch_split_line(comment, argv, 3), 0);
	cr_assert_eq(batch_split_line(many, argv, 3), -E2BIG);
}

static char batch_path[64];

static void write_batch(const char *text)
{
	int fd;

	strcpy(batch_path, "/tmp/sluice-batch.XXXXXX");
	fd = mkstemp(batch_path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

Test(batch, json_array_of_results)
{
	struct run r;
	json_t *v;

	write_batch("# versions\n\nversion\n   \n  v  # again\nversion");
	r = run("sluice", "-j", "batch", "file", batch_path, NULL);
	unlink(batch_path);
	cr_assert_eq(r.rc, 0);
	v = parse_out(&r);
	cr_assert(json_is_array(v));
	cr_assert_eq(json_array_size(v), 3);
	cr_assert_str_eq(json_string_value(json_object_get(
		json_array_get(v, 2), "version")), SLUICE_VERSION);
	json_decref(v);
	run_free(&r);
}

Test(batch, stops_at_first_failing_line)
{
	struct run r;
	json_t *v, *last;

	write_batch("version\n\n# skip\nversion extra\nversion\n");
	r = run("sluice", "-j", "b", "f", batch_path, NULL);
	cr_assert_eq(r.rc, CLI_USAGE);
	v = parse_out(&r);
	cr_assert_eq(json_array_size(v), 2, "%s", r.out);
	last = json_array_get(v, 1);
	cr_assert_eq(json_integer_value(json_object_get(last, "line")), 4);
	cr_assert_eq(json_integer_value(json_object_get(last, "exit")),
		     CLI_USAGE);
	cr_assert(strstr(json_string_value(json_object_get(last, "error")),
			 "unexpected argument 'extra'"), "%s", r.out);
	json_decref(v);
	run_free(&r);

	r = run("sluice", "batch", "file", batch_path, NULL);
	unlink(batch_path);
	cr_assert_eq(r.rc, CLI_USAGE);
	cr_assert(strstr(r.err, "line 4 failed"), "%s", r.err);
	/* the lines before ran, the one after did not */
	cr_assert_str_eq(r.out, "sluice " SLUICE_VERSION "\n");
	run_free(&r);
}

Test(batch, unreachable_daemon_line, .init = make_missing_sock)
{
	char text[256];
	struct run r;
	json_t *v;

	snprintf(text, sizeof(text), "version\nconn list\n");
	write_batch(text);
	r = run("sluice", "-j", "--ctl", missing_sock, "batch", "file",
		batch_path, NULL);
	unlink(batch_path);
	cr_assert_eq(r.rc, CLI_FAIL);
	v = parse_out(&r);
	cr_assert_eq(json_array_size(v), 2);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(v, 1),
							"line")), 2);
	cr_assert(strstr(json_string_value(json_object_get(json_array_get(v, 1),
							   "error")),
			 "cannot reach sluiced"));
	json_decref(v);
	run_free(&r);
}

Test(batch, global_options_are_not_objects)
{
	struct run r;
	json_t *v;

	write_batch("-j version\n");
	r = run("sluice", "-j", "batch", "file", batch_path, NULL);
	unlink(batch_path);
	cr_assert_eq(r.rc, CLI_USAGE);
	v = parse_out(&r);
	cr_assert(strstr(json_string_value(json_object_get(json_array_get(v, 0),
							   "error")),
			 "unknown object '-j'"), "%s", r.out);
	json_decref(v);
	run_free(&r);
}

Test(batch, no_nesting_and_missing_file)
{
	struct run r;

	write_batch("batch file /dev/null\n");
	r = run("sluice", "batch", "file", batch_path, NULL);
	unlink(batch_path);
	cr_assert_eq(r.rc, CLI_USAGE);
	cr_assert(strstr(r.err, "cannot be nested"), "%s", r.err);
	run_free(&r);

	r = run("sluice", "-j", "batch", "file", "/nonexistent/sluice", NULL);
	cr_assert_eq(r.rc, CLI_FAIL);
	assert_json_error(&r, "cannot open");
	run_free(&r);

	r = run("sluice", "batch", "file", NULL);
	cr_assert_eq(r.rc, CLI_USAGE);
	run_free(&r);
}

/* ---- map decoding ---- */

Test(decode, orig)
{
	struct sluice_orig o = {
		.orig_addr = { [10] = 0xff, [11] = 0xff, 10, 0, 0, 1 },
		.orig_port = 5432,
		.family = AF_INET,
		.target_id = 3,
		.pid_tgid = (1234ULL << 32) | 5678,
		.uid = 1000,
		.gid = 100,
		.cgroup_id = 42,
		.netns_cookie = 4096,
		.comm = "psql\x01\xff",
	};
	json_t *j = json_object();

	cr_assert_eq(cli_orig_fields(j, &o), 0);
	cr_assert_str_eq(json_string_value(json_object_get(j, "original")),
			 "10.0.0.1:5432");
	cr_assert_str_eq(json_string_value(json_object_get(j, "family")),
			 "inet");
	cr_assert_eq(json_integer_value(json_object_get(j, "pid")), 1234);
	cr_assert_eq(json_integer_value(json_object_get(j, "tid")), 5678);
	cr_assert_eq(json_integer_value(json_object_get(j, "uid")), 1000);
	cr_assert_eq(json_integer_value(json_object_get(j, "gid")), 100);
	cr_assert_eq(json_integer_value(json_object_get(j, "cgroup_id")), 42);
	cr_assert_eq(json_integer_value(json_object_get(j, "netns_cookie")),
		     4096);
	cr_assert_str_eq(json_string_value(json_object_get(j, "comm")),
			 "psql??");
	json_decref(j);
}

Test(decode, addresses)
{
	uint8_t v4[16] = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 };
	uint8_t v6[16] = { [15] = 1 };
	char buf[64];

	cr_assert_str_eq(cli_addr_str(v4, 5432, true, buf, sizeof(buf)),
			 "127.0.0.1:5432");
	cr_assert_str_eq(cli_addr_str(v6, 5432, true, buf, sizeof(buf)),
			 "[::1]:5432");
	cr_assert_str_eq(cli_addr_str(v4, 0, false, buf, sizeof(buf)),
			 "127.0.0.1");
	cr_assert_str_eq(cli_addr_str(v6, 0, false, buf, sizeof(buf)), "::1");
}

Test(decode, u64_above_int64)
{
	json_t *v = cli_ju64(UINT64_MAX), *w = cli_ju64(7);

	cr_assert_str_eq(json_string_value(v), "18446744073709551615");
	cr_assert_eq(json_integer_value(w), 7);
	json_decref(v);
	json_decref(w);
}

/* ---- against a fake daemon ---- */

/*
 * TEST DOUBLE of sluiced's control socket: a thread listening on a Unix
 * socket in a temp dir that answers each connection with a canned line and
 * records the request it got. It speaks only the framing of ctl_client.h
 * (one line in, one line out, close), nothing of the daemon's logic.
 */
struct fake_ctl {
	char dir[40];
	char path[80];	/* fits sun_path */
	int lfd;
	pthread_t th;
	const char *reply;	/* written as is, then "\n" unless raw */
	bool raw;		/* no newline: the answer ends at EOF */
	bool hang;		/* answer nothing; wait for the client to go */
	char req[4096];		/* the last request line */
};

static struct fake_ctl fake;

static void *fake_serve(void *arg)
{
	struct fake_ctl *f = arg;
	size_t len = 0;
	ssize_t n;
	int cfd;

	cfd = accept(f->lfd, NULL, NULL);
	if (cfd < 0)
		return NULL;
	while (len < sizeof(f->req) - 1) {
		n = read(cfd, f->req + len, sizeof(f->req) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(f->req, '\n', len))
			break;
	}
	f->req[len] = '\0';
	if (f->hang) {
		char c;

		while (read(cfd, &c, 1) > 0)
			;
	} else {
		if (write(cfd, f->reply, strlen(f->reply)) < 0 ||
		    (!f->raw && write(cfd, "\n", 1) < 0))
			perror("fake ctl write");
	}
	close(cfd);
	return NULL;
}

static void fake_start(const char *reply)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	fake.reply = reply;
	strcpy(fake.dir, "/tmp/sluice-fakectl.XXXXXX");
	cr_assert_not_null(mkdtemp(fake.dir));
	snprintf(fake.path, sizeof(fake.path), "%s/ctl.sock", fake.dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fake.path);
	fake.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert(fake.lfd >= 0);
	cr_assert_eq(bind(fake.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	cr_assert_eq(listen(fake.lfd, 4), 0);
	cr_assert_eq(pthread_create(&fake.th, NULL, fake_serve, &fake), 0);
}

static void fake_stop(void)
{
	pthread_join(fake.th, NULL);
	close(fake.lfd);
	unlink(fake.path);
	rmdir(fake.dir);
}

/* The request the fake got, parsed. Caller decrefs. */
static json_t *fake_request(void)
{
	json_t *v = json_loads(fake.req, 0, NULL);

	cr_assert_not_null(v, "request is not one JSON line: '%s'", fake.req);
	cr_assert(strchr(fake.req, '\n'), "request not newline-terminated");
	return v;
}

static const char conn_reply[] =
	"{\"connections\":[{\"id\":7,\"target\":\"pg\",\"kind\":\"tcp\","
	"\"state\":\"open\",\"client\":\"127.0.0.1:40000\","
	"\"original\":\"10.0.0.5:5432\",\"upstream\":\"10.0.0.5:5432\","
	"\"start\":\"2025-01-01T00:00:00Z\",\"end\":null,\"bytes_up\":12,"
	"\"bytes_down\":34,\"close_reason\":null,\"kernel\":{\"pid\":4242,"
	"\"tid\":4243,\"uid\":1000,\"gid\":1000,\"comm\":\"agent-bot\","
	"\"cgroup_id\":99,\"cgroup\":\"/agents/a1\",\"netns_cookie\":1}}]}";

Test(fake_daemon, conn_list_json_pass_through)
{
	struct run r;
	json_t *got, *want, *req;

	fake_start(conn_reply);
	r = run("sluice", "-j", "--ctl", fake.path, "conn", "list", NULL);
	fake_stop();
	cr_assert_eq(r.rc, 0, "%s%s", r.out, r.err);
	got = parse_out(&r);
	want = json_loads(conn_reply, 0, NULL);
	cr_assert(json_equal(got, want), "%s", r.out);
	req = fake_request();
	cr_assert_str_eq(json_string_value(json_object_get(req, "cmd")),
			 "conn list");
	cr_assert(json_is_false(json_object_get(req, "all")));
	json_decref(req);
	json_decref(got);
	json_decref(want);
	run_free(&r);
}

Test(fake_daemon, conn_list_all_and_text_table)
{
	struct run r;
	json_t *req;

	fake_start(conn_reply);
	r = run("sluice", "--ctl", fake.path, "conn", "list", "--all", NULL);
	fake_stop();
	cr_assert_eq(r.rc, 0, "%s", r.err);
	req = fake_request();
	cr_assert(json_is_true(json_object_get(req, "all")));
	json_decref(req);
	cr_assert(strstr(r.out, "agent-bot"), "%s", r.out);
	cr_assert(strstr(r.out, "10.0.0.5:5432"), "%s", r.out);
	cr_assert(strstr(r.out, "/agents/a1"), "%s", r.out);
	cr_assert(strstr(r.out, "4242"), "%s", r.out);
	run_free(&r);
}

Test(fake_daemon, target_list_json_pass_through)
{
	static const char reply[] =
		"{\"targets\":[{\"name\":\"pg\",\"kind\":\"tcp\","
		"\"match\":[\"127.0.0.1:5432\"],\"upstream\":\"10.0.0.5:5432\","
		"\"fail_mode\":\"closed\",\"active\":1,\"total\":5,"
		"\"redirected\":5,\"bypassed\":0,\"refused\":0}]}";
	struct run r;
	json_t *got, *want, *req;

	fake_start(reply);
	r = run("sluice", "-j", "--ctl", fake.path, "t", "l", NULL);
	fake_stop();
	cr_assert_eq(r.rc, 0, "%s", r.out);
	got = parse_out(&r);
	want = json_loads(reply, 0, NULL);
	cr_assert(json_equal(json_object_get(got, "targets"),
			     json_object_get(want, "targets")), "%s", r.out);
	cr_assert_str_eq(json_string_value(json_object_get(got, "source")),
			 "daemon");
	req = fake_request();
	cr_assert_str_eq(json_string_value(json_object_get(req, "cmd")),
			 "target list");
	json_decref(req);
	json_decref(got);
	json_decref(want);
	run_free(&r);
}

Test(fake_daemon, error_answer_is_exit_1)
{
	struct run r;

	fake_start("{\"error\":\"not allowed\"}");
	r = run("sluice", "-j", "--ctl", fake.path, "conn", "list", NULL);
	fake_stop();
	cr_assert_eq(r.rc, CLI_FAIL);
	assert_json_error(&r, "not allowed");
	run_free(&r);
}

Test(fake_daemon, malformed_answer_is_eproto)
{
	json_t *req = json_pack("{s:s}", "cmd", "status");

	fake_start("{\"connections\": [");
	errno = 0;
	cr_assert_null(ctl_call(fake.path, req, 2000));
	cr_assert_eq(errno, EPROTO);
	fake_stop();
	json_decref(req);
}

Test(fake_daemon, malformed_answer_through_the_cli)
{
	struct run r;

	fake_start("not json");
	r = run("sluice", "-j", "--ctl", fake.path, "conn", "list", NULL);
	fake_stop();
	cr_assert_eq(r.rc, CLI_FAIL);
	assert_json_error(&r, "bad answer from sluiced");
	run_free(&r);
}

Test(fake_daemon, answer_ending_at_eof)
{
	json_t *req = json_pack("{s:s}", "cmd", "status"), *resp;

	fake.raw = true;
	fake_start("{\"daemon\":{\"pid\":1}}");
	resp = ctl_call(fake.path, req, 2000);
	fake_stop();
	cr_assert_not_null(resp, "errno %d", errno);
	cr_assert_eq(json_integer_value(json_object_get(
		json_object_get(resp, "daemon"), "pid")), 1);
	json_decref(resp);
	json_decref(req);
}

Test(fake_daemon, silent_daemon_times_out)
{
	json_t *req = json_pack("{s:s}", "cmd", "status");

	fake.hang = true;
	fake_start("");
	errno = 0;
	cr_assert_null(ctl_call(fake.path, req, 200));
	cr_assert_eq(errno, ETIMEDOUT);
	fake_stop();
	json_decref(req);
}
