// SPDX-License-Identifier: BSD-2-Clause
/*
 * The `sluice` CLI without a daemon and without bpf: keyword matching,
 * options, help, JSON shapes, exit codes, batch files, the control
 * socket client against a fake daemon socket (see struct fake_ctl), and
 * `session`/`seal` against a real store written through store.h (see
 * rec_setup()), tampered with through RocksDB's C API.
 */
#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <rocksdb/c.h>

#include "cli.h"
#include "ctl_client.h"
#include "log.h"
#include "store.h"

/* store.c's test hook (not in store.h): nonzero replaces the wall clock. */
extern void store_test_set_clock(uint64_t ns);

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
	size_t out_len;	/* bytes in out (raw replays hold NULs) */
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
	r.out_len = olen;
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
	{ "help", NULL, NULL },
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
	cr_assert_eq(cli_dispatch(table, "thing", "thing help\n", 2, argv), 11);
	/* no word, or a flag first: the first entry, with all the words */
	cr_assert_eq(cli_dispatch(table, "thing", "thing help\n", 0, argv + 2), 13);
	cr_assert_eq(cli_dispatch(table, "thing", "thing help\n", 1, flag), 12);
	cr_assert_eq(cli_dispatch(table, "thing", "thing help\n", 1, amb), CLI_USAGE);
	cr_assert_eq(cli_dispatch(table, "thing", "thing help\n", 1, unk), CLI_USAGE);
	/* an entry without a handler prints the help text */
	cr_assert_eq(cli_dispatch(table, "thing", "thing help\n", 1, (char *[]){ "he", NULL }),
		     CLI_OK);
	cli_set_output(NULL, NULL);
	fclose(f);
	cr_assert(strstr(err, "ambiguous command 'l': list, load"), "%s", err);
	cr_assert(strstr(err, "unknown command 'frob' for thing"), "%s", err);
	cr_assert(strstr(err, "thing help\n"), "%s", err);
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
		"status", "prog", "map", "target", "conn", "session", "seal",
		"batch", "version",
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

/* ---- recorded sessions: a real store, written through store.h ---- */

#define NS		1000000000ull
#define MS		1000000ull
#define BIG_LEN		(100u << 10)
#define MAX_RECS	32

/*
 * Three sessions, written as the daemon writes them (session_start event
 * first, session_end event last, the end meta on the `sessions` value):
 *   A  3 h ago, target pg, tcp: one chunk each way.
 *   B  30 min ago, target web, tls: a tls event, chunks both ways with
 *      every byte value, a 100 KiB chunk, a UTF-8 character cut between
 *      two chunks, and a 10 s gap between the last two up chunks.
 *   C  now, target pg, ended by an error.
 */
static char rec_dir[64], rec_db[128], rec_key[128];
static uint8_t sid_a[STORE_SID_LEN], sid_b[STORE_SID_LEN], sid_c[STORE_SID_LEN];
static char id_a[33], id_b[33], id_c[33];
static uint64_t now_at_setup;

/* what each side of B sent, in order */
static uint8_t b_up[256 + BIG_LEN], b_down[256 + BIG_LEN];
static size_t b_up_len, b_down_len;
static uint8_t all_bytes[256], big[BIG_LEN];

static struct store_rec recs[MAX_RECS];
static char *owned[MAX_RECS];
static int n_recs, n_owned;
static atomic_int recs_done, recs_failed;

static void rec_done(struct store_rec *r, int err)
{
	(void)r;
	if (err)
		atomic_fetch_add(&recs_failed, 1);
	atomic_fetch_add(&recs_done, 1);
}

static uint64_t sid_time(const uint8_t *sid)
{
	uint64_t t = 0;

	for (int i = 0; i < 8; i++)
		t = t << 8 | sid[i];
	return t;
}

static void add_rec(struct store *s, struct store_chain *c, int kind, int dir,
		    const void *p, size_t len, uint64_t off_ns)
{
	struct store_rec *r;

	cr_assert_lt(n_recs, MAX_RECS);
	r = &recs[n_recs++];
	store_rec_fill(c, r, kind, dir, 0, sid_time(c->sid) + off_ns, p, len);
	r->done = rec_done;
	cr_assert_eq(store_submit(s, r), 0);
}

static void add_chunk(struct store *s, struct store_chain *c, int dir,
		      const void *p, size_t len, uint64_t off_ns)
{
	uint8_t *acc = dir == STORE_DIR_UP ? b_up : b_down;
	size_t *acc_len = dir == STORE_DIR_UP ? &b_up_len : &b_down_len;

	add_rec(s, c, STORE_REC_CHUNK, dir, p, len, off_ns);
	if (!memcmp(c->sid, sid_b, STORE_SID_LEN)) {
		memcpy(acc + *acc_len, p, len);
		*acc_len += len;
	}
}

/* Steals ev; adds "time_ns" as the daemon does. */
static void add_event(struct store *s, struct store_chain *c, json_t *ev,
		      uint64_t off_ns)
{
	char *text;

	cr_assert_not_null(ev);
	json_object_set_new(ev, "time_ns",
			    json_integer((json_int_t)(sid_time(c->sid) + off_ns)));
	text = json_dumps(ev, JSON_COMPACT);
	cr_assert_not_null(text);
	json_decref(ev);
	owned[n_owned++] = text;
	add_rec(s, c, STORE_REC_EVENT, 0, text, strlen(text), off_ns);
}

static json_t *meta_for(const char *target, const char *kind, int pid,
			const char *comm)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:{s:i, s:i, s:i, s:i, "
			 "s:s, s:i, s:s, s:i}}",
			 "target", target, "kind", kind, "client",
			 "127.0.0.1:40000", "original", "10.0.0.5:5432",
			 "upstream", "10.0.0.5:5432", "conn", pid,
			 "kernel", "pid", pid, "tid", pid + 1, "uid", 1000,
			 "gid", 100, "comm", comm, "cgroup_id", 42, "cgroup",
			 "/agents/a1", "netns_cookie", 4096);
}

static void begin(struct store *s, struct store_chain *c, json_t *meta,
		  uint8_t *sid)
{
	json_t *ev = json_deep_copy(meta);

	cr_assert_eq(store_session_begin(s, c, meta), 0);
	memcpy(sid, c->sid, STORE_SID_LEN);
	json_object_set_new(ev, "type", json_string("session_start"));
	add_event(s, c, ev, 0);
}

static void end(struct store *s, struct store_chain *c, const char *status,
		const char *reason, uint64_t up, uint64_t down, uint64_t off_ns)
{
	json_t *m = json_pack("{s:s, s:s, s:I, s:I}", "status", status,
			      "reason", reason, "bytes_up", (json_int_t)up,
			      "bytes_down", (json_int_t)down);
	json_t *ev = json_deep_copy(m);

	json_object_set_new(ev, "type", json_string("session_end"));
	add_event(s, c, ev, off_ns);
	cr_assert_eq(store_session_end(s, c, m), 0);
	json_decref(m);
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void rec_setup(void)
{
	struct store_opts o = {
		.mode = STORE_STRICT, .sync_ms = 100,
		.seal_interval_ms = 3600000,	/* no periodic seals */
	};
	static const char up2[] = "caf\xc3", up3[] = "\xa9 \xff\\end\n";
	static const char req[] = "GET / HTTP/1.1\r\n\r\n";
	static const char sel[] = "SELECT 1;\n", row[] = "one row\n";
	static const char sleep_[] = "SELECT pg_sleep(1);\n";
	struct store_chain a, b, c;
	char err[256] = "";
	struct timespec ts;
	struct store *s;
	json_t *m;

	log_set_level(LOG_WARN);
	strcpy(rec_dir, "/tmp/sluice-cli-rec.XXXXXX");
	cr_assert_not_null(mkdtemp(rec_dir));
	snprintf(rec_db, sizeof(rec_db), "%s/db", rec_dir);
	snprintf(rec_key, sizeof(rec_key), "%s/seal.key", rec_dir);
	o.path = rec_db;
	o.seal_key = rec_key;
	for (int i = 0; i < 256; i++)
		all_bytes[i] = (uint8_t)i;
	for (size_t i = 0; i < BIG_LEN; i++)
		big[i] = (uint8_t)(i * 7 + 3);
	clock_gettime(CLOCK_REALTIME, &ts);
	now_at_setup = (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;

	s = store_open(&o, err, sizeof(err));
	cr_assert_not_null(s, "store_open: %s", err);

	store_test_set_clock(now_at_setup - 3 * 3600 * NS);
	m = meta_for("pg", "tcp", 100, "psql");
	begin(s, &a, m, sid_a);
	add_chunk(s, &a, STORE_DIR_UP, sel, strlen(sel), 5 * MS);
	add_chunk(s, &a, STORE_DIR_DOWN, row, strlen(row), 7 * MS);
	end(s, &a, "closed", "closed", strlen(sel), strlen(row), 9 * MS);
	json_decref(m);

	store_test_set_clock(now_at_setup - 1800 * NS);
	m = meta_for("web", "tls", 200, "curl");
	begin(s, &b, m, sid_b);
	add_event(s, &b, json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "tls",
				   "side", "client", "version", "TLSv1.3",
				   "sni", "web.test", "alpn", "h2"), 1 * MS);
	add_chunk(s, &b, STORE_DIR_UP, req, strlen(req), 10 * MS);
	add_chunk(s, &b, STORE_DIR_DOWN, all_bytes, sizeof(all_bytes), 20 * MS);
	add_chunk(s, &b, STORE_DIR_DOWN, big, sizeof(big), 30 * MS);
	add_chunk(s, &b, STORE_DIR_UP, up2, strlen(up2), 40 * MS);
	add_chunk(s, &b, STORE_DIR_UP, up3, strlen(up3), 10 * NS + 40 * MS);
	end(s, &b, "closed", "closed", b_up_len, b_down_len, 10 * NS + 50 * MS);
	json_decref(m);

	store_test_set_clock(0);
	m = meta_for("pg", "tcp", 300, "agent");
	begin(s, &c, m, sid_c);
	add_chunk(s, &c, STORE_DIR_UP, sleep_, strlen(sleep_), 2 * MS);
	add_event(s, &c, json_pack("{s:s, s:s}", "type", "error", "message",
				   "upstream: Connection reset by peer"), 3 * MS);
	end(s, &c, "error", "upstream: Connection reset by peer",
	    strlen(sleep_), 0, 4 * MS);
	json_decref(m);

	store_close(s);		/* drains the queue: every done() has run */
	cr_assert_eq(atomic_load(&recs_done), n_recs);
	cr_assert_eq(atomic_load(&recs_failed), 0);
	for (int i = 0; i < n_owned; i++)
		free(owned[i]);
	n_owned = 0;
	store_sid_format(sid_a, id_a);
	store_sid_format(sid_b, id_b);
	store_sid_format(sid_c, id_c);
}

static void rec_teardown(void)
{
	store_test_set_clock(0);
	unsetenv("SLUICE_STORE");
	nftw(rec_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(session, .init = rec_setup, .fini = rec_teardown, .timeout = 60);

/* run() with "--store rec_db" and "-j" first. */
#define jrun(...) run("sluice", "-j", "--store", rec_db, __VA_ARGS__, NULL)
#define trun(...) run("sluice", "--store", rec_db, __VA_ARGS__, NULL)

static json_t *list_json(struct run *r)
{
	json_t *v;

	cr_assert_eq(r->rc, 0, "rc %d: %s%s", r->rc, r->out, r->err);
	v = parse_out(r);
	cr_assert(json_is_array(v), "%s", r->out);
	return v;
}

static const char *jid(json_t *arr, size_t i)
{
	return json_string_value(json_object_get(json_array_get(arr, i), "id"));
}

static json_int_t jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	cr_assert(json_is_integer(v), "%s is not an integer", k);
	return json_integer_value(v);
}

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	cr_assert(json_is_string(v), "%s is not a string", k);
	return json_string_value(v);
}

/* RFC 3339 UTC as store.c and the CLI write it: ...T..:..:...ffffffZ */
static void assert_rfc3339(const char *t)
{
	cr_assert_eq(strlen(t), 27, "'%s'", t);
	cr_assert(t[4] == '-' && t[10] == 'T' && t[19] == '.' && t[26] == 'Z',
		  "'%s'", t);
}

Test(session, list_newest_first_with_the_contract_fields)
{
	struct run r = jrun("session", "list");
	json_t *v = list_json(&r), *a, *b, *c, *k;

	cr_assert_eq(json_array_size(v), 3, "%s", r.out);
	cr_assert_str_eq(jid(v, 0), id_c);
	cr_assert_str_eq(jid(v, 1), id_b);
	cr_assert_str_eq(jid(v, 2), id_a);
	c = json_array_get(v, 0);
	b = json_array_get(v, 1);
	a = json_array_get(v, 2);

	cr_assert_str_eq(jstr(a, "target"), "pg");
	cr_assert_str_eq(jstr(a, "kind"), "tcp");
	cr_assert_str_eq(jstr(a, "status"), "closed");
	cr_assert_eq(jint(a, "events"), 2);
	cr_assert_eq(jint(a, "records"), 4);
	cr_assert_eq(jint(a, "bytes_up"), 10);
	cr_assert_eq(jint(a, "bytes_down"), 8);
	assert_rfc3339(jstr(a, "start"));
	assert_rfc3339(jstr(a, "end"));

	cr_assert_str_eq(jstr(b, "target"), "web");
	cr_assert_str_eq(jstr(b, "kind"), "tls");
	cr_assert_eq(jint(b, "events"), 3);
	cr_assert_eq(jint(b, "records"), 8);
	cr_assert_eq(jint(b, "bytes_up"), (json_int_t)b_up_len);
	cr_assert_eq(jint(b, "bytes_down"), (json_int_t)b_down_len);

	cr_assert_str_eq(jstr(c, "status"), "error");
	cr_assert_eq(jint(c, "events"), 3);
	k = json_object_get(c, "kernel");
	cr_assert_eq(jint(k, "pid"), 300);
	cr_assert_eq(jint(k, "uid"), 1000);
	cr_assert_eq(jint(k, "gid"), 100);
	cr_assert_str_eq(jstr(k, "comm"), "agent");
	cr_assert_str_eq(jstr(k, "cgroup"), "/agents/a1");
	cr_assert(json_is_null(json_object_get(k, "pod")));
	cr_assert(json_is_null(json_object_get(c, "user")));
	cr_assert_null(json_object_get(k, "netns_cookie"), "list stays lean");
	json_decref(v);
	run_free(&r);
}

Test(session, list_text_table_and_env_store)
{
	struct run r;

	setenv("SLUICE_STORE", rec_db, 1);
	r = run("sluice", "sess", "l", NULL);	/* prefixes, store from env */
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert(strstr(r.out, "TARGET"), "%s", r.out);
	cr_assert(strstr(r.out, id_a) && strstr(r.out, id_b) &&
		  strstr(r.out, id_c), "%s", r.out);
	cr_assert(strstr(r.out, id_c) < strstr(r.out, id_a), "newest first");
	run_free(&r);
}

Test(session, list_filters)
{
	char abs[64], when[40];
	struct run r;
	json_t *v;

	r = jrun("session", "list", "--target", "pg");
	v = list_json(&r);
	cr_assert_eq(json_array_size(v), 2, "%s", r.out);
	cr_assert_str_eq(jid(v, 0), id_c);
	cr_assert_str_eq(jid(v, 1), id_a);
	json_decref(v);
	run_free(&r);

	r = jrun("session", "list", "--target=nope");
	v = list_json(&r);
	cr_assert_eq(json_array_size(v), 0);
	json_decref(v);
	run_free(&r);

	r = jrun("session", "list", "--since", "1h");
	v = list_json(&r);
	cr_assert_eq(json_array_size(v), 2, "%s", r.out);
	cr_assert_str_eq(jid(v, 0), id_c);
	cr_assert_str_eq(jid(v, 1), id_b);
	json_decref(v);
	run_free(&r);

	r = jrun("session", "list", "--since", "181m");
	v = list_json(&r);
	cr_assert_eq(json_array_size(v), 3, "%s", r.out);
	json_decref(v);
	run_free(&r);

	/* absolute: two hours before setup, in UTC and with an offset */
	cli_rfc3339(now_at_setup - 2 * 3600 * NS, when, sizeof(when));
	r = jrun("session", "list", "--since", when);
	v = list_json(&r);
	cr_assert_eq(json_array_size(v), 2, "%s: %s", when, r.out);
	cr_assert_str_eq(jid(v, 1), id_b);
	json_decref(v);
	run_free(&r);

	/* the same instant written in +01:00 */
	{
		time_t t = (time_t)((now_at_setup - 2 * 3600 * NS) / NS) + 3600;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(abs, sizeof(abs), "%Y-%m-%dT%H:%M:%S+01:00", &tm);
	}
	r = jrun("session", "list", "--since", abs, "--target", "web");
	v = list_json(&r);
	cr_assert_eq(json_array_size(v), 1, "%s: %s", abs, r.out);
	cr_assert_str_eq(jid(v, 0), id_b);
	json_decref(v);
	run_free(&r);

	/* only C started in the last 10 minutes */
	r = jrun("session", "list", "--since", "10m");
	v = list_json(&r);
	cr_assert_eq(json_array_size(v), 1, "%s", r.out);
	cr_assert_str_eq(jid(v, 0), id_c);
	json_decref(v);
	run_free(&r);

	r = jrun("session", "list", "--since", "2999-01-01T00:00:00Z");
	v = list_json(&r);
	cr_assert_eq(json_array_size(v), 0, "%s", r.out);
	json_decref(v);
	run_free(&r);

	r = jrun("session", "list", "--since", "yesterday");
	cr_assert_eq(r.rc, CLI_USAGE);
	assert_json_error(&r, "--since 'yesterday'");
	run_free(&r);

	r = jrun("session", "list", "--user", "carol");	/* none has one */
	v = list_json(&r);
	cr_assert_eq(json_array_size(v), 0, "%s", r.out);
	json_decref(v);
	run_free(&r);
}

Test(session, parse_since)
{
	const uint64_t now = 1800000000ull * NS;
	static const char *const bad[] = {
		"", "5", "5x", "m", "-5m", "1.5h", "5mm", "2026-02-30T00:00:00Z",
		"2026-11-22T10:00:00", "2026-11-22T24:00:00Z",
		"2026-11-22T10:00:00Zjunk", "2026-11-22", "2026-11-22T10:00Z",
		"2026-11-22T10:00:00.Z", "2026-11-22T10:00:00+1:00",
		"99999999999999999999d", "1969-12-31T23:59:59Z",
	};
	uint64_t t;

	cr_assert_eq(cli_parse_since("90s", now, &t), 0);
	cr_assert_eq(t, now - 90 * NS);
	cr_assert_eq(cli_parse_since("15m", now, &t), 0);
	cr_assert_eq(t, now - 900 * NS);
	cr_assert_eq(cli_parse_since("2h", now, &t), 0);
	cr_assert_eq(t, now - 7200 * NS);
	cr_assert_eq(cli_parse_since("3d", now, &t), 0);
	cr_assert_eq(t, now - 3 * 86400 * NS);
	cr_assert_eq(cli_parse_since("100000d", now, &t), 0);
	cr_assert_eq(t, 1, "before the epoch: the earliest time, not 'any'");
	cr_assert_eq(cli_parse_since("2026-11-22T10:00:00Z", now, &t), 0);
	cr_assert_eq(t, 1795341600ull * NS);
	cr_assert_eq(cli_parse_since("2026-11-22t11:30:00+01:30", now, &t), 0);
	cr_assert_eq(t, 1795341600ull * NS);
	cr_assert_eq(cli_parse_since("2026-11-22T09:00:00-01:00", now, &t), 0);
	cr_assert_eq(t, 1795341600ull * NS);
	cr_assert_eq(cli_parse_since("2026-11-22T10:00:00.25Z", now, &t), 0);
	cr_assert_eq(t, 1795341600ull * NS + 250 * MS);
	cr_assert_eq(cli_parse_since("2026-11-22T10:00:00.1234567891Z", now, &t),
		     0);
	cr_assert_eq(t, 1795341600ull * NS + 123456789);
	cr_assert_eq(cli_parse_since("2024-02-29T00:00:00Z", now, &t), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(cli_parse_since(bad[i], now, &t), -EINVAL,
			     "'%s' accepted", bad[i]);
}

Test(session, show_events_in_order)
{
	static const char *const types[] = { "session_start", "tls",
					     "session_end" };
	static const json_int_t seqs[] = { 0, 1, 7 };
	struct run r = jrun("session", "show", id_b);
	json_t *v, *evs, *ev, *ch;
	char want[40];

	cr_assert_eq(r.rc, 0, "%s%s", r.out, r.err);
	v = parse_out(&r);
	cr_assert_str_eq(jstr(v, "id"), id_b);
	cr_assert_str_eq(jstr(v, "target"), "web");
	evs = json_object_get(v, "events");
	cr_assert(json_is_array(evs), "%s", r.out);
	cr_assert_eq(json_array_size(evs), 3, "%s", r.out);
	for (size_t i = 0; i < 3; i++) {
		ev = json_array_get(evs, i);
		cr_assert_eq(jint(ev, "seq"), seqs[i]);
		cr_assert_str_eq(jstr(ev, "type"), types[i]);
		assert_rfc3339(jstr(ev, "time"));
		cr_assert(json_is_null(json_object_get(ev, "decision")));
		cr_assert(json_is_null(json_object_get(ev, "rule")));
	}
	/* times are the records' own, to the microsecond */
	cli_rfc3339(sid_time(sid_b) + 1 * MS, want, sizeof(want));
	cr_assert_str_eq(jstr(json_array_get(evs, 1), "time"), want);
	ev = json_array_get(evs, 1);
	cr_assert_str_eq(jstr(ev, "sni"), "web.test");
	cr_assert_str_eq(jstr(ev, "alpn"), "h2");
	cr_assert_str_eq(jstr(ev, "side"), "client");
	cr_assert_str_eq(jstr(json_array_get(evs, 2), "status"), "closed");
	ch = json_object_get(v, "chunks");
	cr_assert_eq(jint(ch, "up"), 3);
	cr_assert_eq(jint(ch, "down"), 2);
	/* show adds where the connection went and the rest of the kernel's */
	cr_assert_str_eq(jstr(v, "upstream"), "10.0.0.5:5432");
	cr_assert_eq(jint(json_object_get(v, "kernel"), "netns_cookie"), 4096);
	cr_assert_eq(strlen(jstr(v, "chain")), 64);
	json_decref(v);
	run_free(&r);
}

Test(session, show_error_session_by_prefix_and_text)
{
	char prefix[9];
	struct run r;
	json_t *v, *evs;

	memcpy(prefix, id_c, 8);
	prefix[8] = '\0';
	r = jrun("session", "show", prefix);
	cr_assert_eq(r.rc, 0, "%s", r.out);
	v = parse_out(&r);
	cr_assert_str_eq(jstr(v, "id"), id_c);
	cr_assert_str_eq(jstr(v, "status"), "error");
	cr_assert_str_eq(jstr(v, "reason"), "upstream: Connection reset by peer");
	evs = json_object_get(v, "events");
	cr_assert_str_eq(jstr(json_array_get(evs, 1), "type"), "error");
	cr_assert_str_eq(jstr(json_array_get(evs, 1), "message"),
			 "upstream: Connection reset by peer");
	cr_assert_eq(jint(json_array_get(evs, 1), "seq"), 2);
	json_decref(v);
	run_free(&r);

	/* uppercase is the same id */
	for (char *p = prefix; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	r = trun("session", "show", prefix);
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert(strstr(r.out, id_c), "%s", r.out);
	cr_assert(strstr(r.out, "error"), "%s", r.out);
	cr_assert(strstr(r.out, "message=upstream: Connection reset by peer"),
		  "%s", r.out);
	run_free(&r);
}

static double elapsed_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

Test(session, replay_raw_is_what_each_side_sent)
{
	struct timespec t0;
	struct run r;
	double took;

	/* speed 1: the 10 s idle gap is cut to 2 s */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = trun("session", "replay", id_b, "--raw", "--dir", "up");
	took = elapsed_since(&t0);
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_eq(r.out_len, b_up_len);
	cr_assert_eq(memcmp(r.out, b_up, b_up_len), 0);
	cr_assert_geq(took, 1.95, "took %.3fs: the capped gap was not waited",
		      took);
	cr_assert_lt(took, 6.0, "took %.3fs: the gap was not capped", took);
	run_free(&r);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = trun("session", "replay", "--raw", "--dir", "down", "--speed", "0",
		 id_b);
	took = elapsed_since(&t0);
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_eq(r.out_len, b_down_len, "%zu != %zu", r.out_len, b_down_len);
	cr_assert_eq(memcmp(r.out, b_down, b_down_len), 0);
	cr_assert_lt(took, 1.5, "speed 0 waited: %.3fs", took);
	run_free(&r);

	/* -j does not turn --raw into JSON; both ways, in seq order */
	r = run("sluice", "-j", "--store", rec_db, "session", "replay", id_a,
		"--raw", "--speed=0", NULL);
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_eq(r.out_len, strlen("SELECT 1;\none row\n"));
	cr_assert_eq(memcmp(r.out, "SELECT 1;\none row\n", r.out_len), 0);
	run_free(&r);
}

Test(session, replay_speed_divides_the_gaps)
{
	struct timespec t0;
	struct run r;
	double took;

	/* down gaps: 10 ms; at speed 0.05 that is 200 ms */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = trun("session", "replay", id_b, "--raw", "--dir", "down", "--speed",
		 "0.05");
	took = elapsed_since(&t0);
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_eq(r.out_len, b_down_len);
	cr_assert_geq(took, 0.19, "took %.3fs", took);
	run_free(&r);
}

Test(session, replay_transcript)
{
	struct run r = trun("session", "replay", id_b, "--speed", "0");

	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_eq(strlen(r.out), r.out_len, "no raw NUL in a transcript");
	cr_assert(strstr(r.out, "--- +0.000s event session_start\n"), "%s", r.out);
	cr_assert(strstr(r.out, "--- +0.001s event tls\n"), "%s", r.out);
	cr_assert(strstr(r.out, "--- +0.010s up 18 bytes\n"
				"GET / HTTP/1.1\\x0d\n\\x0d\n"), "%s", r.out);
	cr_assert(strstr(r.out, "--- +0.020s down 256 bytes\n"
				"\\x00\\x01\\x02"), "%.300s", r.out);
	cr_assert(strstr(r.out, "\\x7e" ) == NULL, "~ is printable");
	cr_assert(strstr(r.out, "xyz{|}~\\x7f\\x80"), "%.2000s", r.out);
	cr_assert(strstr(r.out, "--- +0.030s down 102400 bytes\n"), "%.300s",
		  r.out);
	cr_assert(strstr(r.out, "--- +0.040s up 4 bytes\ncaf\\xc3\n"), "%s",
		  r.out);
	cr_assert(strstr(r.out, "--- +10.040s up 8 bytes\n\\xa9 \\xff\\\\end\n"),
		  "%s", r.out);
	cr_assert(strstr(r.out, "--- +10.050s event session_end\n"), "%s", r.out);
	run_free(&r);

	/* one direction: no event lines */
	r = trun("session", "replay", id_a, "--speed", "0", "--dir", "d");
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "--- +0.007s down 8 bytes\none row\n");
	run_free(&r);
}

Test(session, replay_json_chunks)
{
	struct run r = jrun("session", "replay", id_b, "--dir", "both");
	json_t *v = list_json(&r), *c;
	static const char *const dirs[] = { "up", "down", "down", "up", "up" };

	cr_assert_eq(json_array_size(v), 5, "%s", r.out);
	for (size_t i = 0; i < 5; i++)
		cr_assert_str_eq(jstr(json_array_get(v, i), "dir"), dirs[i]);
	c = json_array_get(v, 0);
	cr_assert_eq(jint(c, "seq"), 2);
	cr_assert_eq(jint(c, "len"), 18);
	cr_assert_str_eq(jstr(c, "data"), "R0VUIC8gSFRUUC8xLjENCg0K");
	cr_assert_eq(strlen(jstr(json_array_get(v, 2), "data")),
		     4 * ((BIG_LEN + 2) / 3));
	json_decref(v);
	run_free(&r);
}

Test(session, replay_usage_errors)
{
	static const char *const bad[][3] = {
		{ "--speed", "-1", NULL }, { "--speed", "fast", NULL },
		{ "--speed", "nan", NULL }, { "--dir", "sideways", NULL },
		{ "--bogus", NULL, NULL }, { "--raw=yes", NULL, NULL },
		{ "--speed", NULL, NULL },
	};
	struct run r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = jrun("session", "replay", id_b, bad[i][0], bad[i][1]);
		cr_assert_eq(r.rc, CLI_USAGE, "%s %s: %d", bad[i][0],
			     bad[i][1] ? bad[i][1] : "", r.rc);
		assert_json_error(&r, NULL);
		run_free(&r);
	}
	r = jrun("session", "replay");
	cr_assert_eq(r.rc, CLI_USAGE);
	assert_json_error(&r, "missing session ID");
	run_free(&r);
	r = jrun("session", "replay", id_a, id_b);
	cr_assert_eq(r.rc, CLI_USAGE);
	assert_json_error(&r, "unexpected argument");
	run_free(&r);
}

Test(session, verify_intact)
{
	struct run r;
	json_t *v;

	r = jrun("session", "verify", id_b);
	cr_assert_eq(r.rc, 0, "%s", r.out);
	v = parse_out(&r);
	cr_assert_str_eq(jstr(v, "id"), id_b);
	cr_assert(json_is_true(json_object_get(v, "intact")), "%s", r.out);
	cr_assert(strstr(jstr(v, "detail"), "8 records intact"), "%s", r.out);
	json_decref(v);
	run_free(&r);

	r = trun("session", "verify", id_a);
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert(!strncmp(r.out, id_a, 32) && strstr(r.out, ": intact ("),
		  "%s", r.out);
	run_free(&r);
}

/* Open every family of the database as an intruder with the files would. */
static void tamper_chunk(const uint8_t *sid, uint64_t seq, size_t at)
{
	rocksdb_options_t *o = rocksdb_options_create();
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	rocksdb_column_family_handle_t **h;
	const rocksdb_options_t **co;
	char **names, *e = NULL, *val, key[24];
	size_t n = 0, vl = 0;
	rocksdb_t *db;
	int chunks = -1;

	names = rocksdb_list_column_families(o, rec_db, &n, &e);
	cr_assert_null(e, "list families: %s", e);
	h = calloc(n, sizeof(*h));
	co = calloc(n, sizeof(*co));
	cr_assert(h && co);
	for (size_t i = 0; i < n; i++) {
		co[i] = o;
		if (!strcmp(names[i], "chunks"))
			chunks = (int)i;
	}
	cr_assert_geq(chunks, 0, "no chunks family");
	db = rocksdb_open_column_families(o, rec_db, (int)n,
					  (const char *const *)names, co, h, &e);
	cr_assert_null(e, "open: %s", e);
	memcpy(key, sid, STORE_SID_LEN);
	for (int i = 0; i < 8; i++)
		key[16 + i] = (char)(seq >> (56 - 8 * i));
	val = rocksdb_get_cf(db, ro, h[chunks], key, sizeof(key), &vl, &e);
	cr_assert_null(e, "get: %s", e);
	cr_assert_not_null(val, "no chunk at seq %llu", (unsigned long long)seq);
	cr_assert_gt(vl, STORE_HDR_LEN + at);
	val[STORE_HDR_LEN + at] ^= 0x01;
	rocksdb_put_cf(db, wo, h[chunks], key, sizeof(key), val, vl, &e);
	cr_assert_null(e, "put: %s", e);
	rocksdb_free(val);
	for (size_t i = 0; i < n; i++)
		rocksdb_column_family_handle_destroy(h[i]);
	rocksdb_close(db);
	rocksdb_list_column_families_destroy(names, n);
	free(h);
	free(co);
	rocksdb_options_destroy(o);
	rocksdb_readoptions_destroy(ro);
	rocksdb_writeoptions_destroy(wo);
}

Test(session, verify_names_the_tampered_record)
{
	struct run r;
	json_t *v;

	/* seq 4 is the 100 KiB chunk (a blob file); its successor, seq 5,
	 * carries the hash it no longer has */
	tamper_chunk(sid_b, 4, 50000);
	r = jrun("session", "verify", id_b);
	cr_assert_eq(r.rc, CLI_FAIL, "%s", r.out);
	v = parse_out(&r);
	cr_assert_str_eq(jstr(v, "id"), id_b);
	cr_assert(json_is_false(json_object_get(v, "intact")), "%s", r.out);
	cr_assert(strstr(jstr(v, "detail"), "seq 5: previous-hash mismatch"),
		  "%s", r.out);
	json_decref(v);
	run_free(&r);

	r = trun("session", "verify", id_b);
	cr_assert_eq(r.rc, CLI_FAIL);
	cr_assert(strstr(r.out, "NOT intact: seq 5"), "%s", r.out);
	run_free(&r);

	/* the other sessions are untouched */
	r = jrun("session", "verify", id_c);
	cr_assert_eq(r.rc, 0, "%s", r.out);
	run_free(&r);

	/* and the altered bytes are what replay shows now */
	r = trun("session", "replay", id_b, "--raw", "--dir", "down",
		 "--speed", "0");
	cr_assert_eq(r.rc, 0);
	cr_assert_eq(r.out_len, b_down_len);
	cr_assert_eq((uint8_t)r.out[256 + 50000], big[50000] ^ 0x01);
	run_free(&r);
}

Test(session, verify_with_the_wrong_key)
{
	char other[160], cmd[1024];
	struct run r;
	json_t *v;

	if (system("openssl version >/dev/null 2>&1"))
		cr_skip_test("openssl is not installed");
	snprintf(other, sizeof(other), "%s/other.pem", rec_dir);
	snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm ed25519 -out %s "
		 "2>/dev/null && openssl pkey -in %s -pubout -out %s.pub",
		 other, other, other);
	cr_assert_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s.pub", other);
	r = jrun("session", "verify", id_a, "--pubkey", cmd);
	cr_assert_eq(r.rc, CLI_FAIL, "%s", r.out);
	v = parse_out(&r);
	cr_assert(json_is_false(json_object_get(v, "intact")), "%s", r.out);
	cr_assert(strstr(jstr(v, "detail"), "signature invalid"), "%s", r.out);
	json_decref(v);
	run_free(&r);

	/* the right key, given explicitly */
	snprintf(cmd, sizeof(cmd), "%s.pub", rec_key);
	r = jrun("session", "verify", id_a, "--pubkey", cmd);
	cr_assert_eq(r.rc, 0, "%s", r.out);
	run_free(&r);

	r = jrun("session", "verify", id_a, "--pubkey", "/nonexistent.pub");
	cr_assert_eq(r.rc, CLI_FAIL);
	assert_json_error(&r, "/nonexistent.pub");
	run_free(&r);
}

Test(session, unknown_and_malformed_ids)
{
	static const char *const cmds[] = { "show", "replay", "verify", "export" };
	const char *none = "0123456789abcdef0123456789abcdef";
	char want[64];
	struct run r;

	snprintf(want, sizeof(want), "no session %s", none);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		r = jrun("session", cmds[i], none);
		cr_assert_eq(r.rc, CLI_FAIL, "%s: %d %s", cmds[i], r.rc, r.out);
		assert_json_error(&r, want);
		run_free(&r);

		r = jrun("session", cmds[i], "ffffffff");	/* a prefix */
		cr_assert_eq(r.rc, CLI_FAIL, "%s: %d", cmds[i], r.rc);
		assert_json_error(&r, "no session ffffffff");
		run_free(&r);

		r = jrun("session", cmds[i], "0123456");	/* too short */
		cr_assert_eq(r.rc, CLI_USAGE, "%s: %d", cmds[i], r.rc);
		assert_json_error(&r, "want 8 to 32 hex digits");
		run_free(&r);

		r = jrun("session", cmds[i], "0123456789abcdeg");
		cr_assert_eq(r.rc, CLI_USAGE, "%s: %d", cmds[i], r.rc);
		assert_json_error(&r, "not hex");
		run_free(&r);
	}
	r = trun("session", "show", none);
	cr_assert_eq(r.rc, CLI_FAIL);
	cr_assert(strstr(r.err, "Error: no session"), "%s", r.err);
	cr_assert_str_eq(r.out, "");
	run_free(&r);
}

Test(session, ambiguous_prefix_is_a_usage_error)
{
	struct store_opts o = {
		.path = rec_db, .mode = STORE_STRICT, .sync_ms = 100,
		.seal_key = rec_key, .seal_interval_ms = 3600000,
	};
	char err[256] = "", prefix[17], id_d[33];
	struct store_chain d;
	struct store *s;
	struct run r;
	json_t *m = meta_for("other", "tcp", 400, "x");

	/* a fourth session that began within a ns of C: same 8-digit prefix */
	store_test_set_clock(sid_time(sid_c) ^ 1);
	s = store_open(&o, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(store_session_begin(s, &d, m), 0);
	cr_assert_eq(store_session_end(s, &d, m), 0);
	store_close(s);
	store_test_set_clock(0);
	json_decref(m);
	store_sid_format(d.sid, id_d);

	memcpy(prefix, id_c, 8);
	prefix[8] = '\0';
	r = jrun("session", "show", prefix);
	cr_assert_eq(r.rc, CLI_USAGE, "%s", r.out);
	assert_json_error(&r, "ambiguous session ID");
	cr_assert(strstr(r.out, id_c) && strstr(r.out, id_d), "%s", r.out);
	run_free(&r);

	/* 16 digits are the start time to the ns: enough here */
	memcpy(prefix, id_c, 16);
	prefix[16] = '\0';
	r = jrun("session", "verify", prefix);
	cr_assert_eq(r.rc, 0, "%s", r.out);
	run_free(&r);
	memcpy(prefix, id_d, 16);
	r = jrun("session", "show", prefix);
	cr_assert_eq(r.rc, 0, "%s", r.out);
	cr_assert(strstr(r.out, "\"target\":\"other\""), "%s", r.out);
	run_free(&r);
}

Test(session, export_jsonl)
{
	struct run r = jrun("session", "export", id_b, "--format", "jsonl");
	unsigned char dec[256 + 4];
	char *line, *save = NULL;
	int n = 0, len;

	cr_assert_eq(r.rc, 0, "%s", r.err);
	for (line = strtok_r(r.out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), n++) {
		json_t *v = json_loads(line, 0, NULL);

		cr_assert_not_null(v, "line %d is not JSON: %.200s", n, line);
		cr_assert_str_eq(jstr(v, "id"), id_b);
		cr_assert_eq(jint(v, "seq"), n);
		if (n == 1) {
			cr_assert_str_eq(jstr(v, "kind"), "event");
			cr_assert_str_eq(jstr(json_object_get(v, "event"), "sni"),
					 "web.test");
		}
		if (n == 3) {
			cr_assert_str_eq(jstr(v, "kind"), "chunk");
			cr_assert_str_eq(jstr(v, "dir"), "down");
			len = EVP_DecodeBlock(dec, (const unsigned char *)
					      jstr(v, "data"), 344);
			cr_assert_eq(len, 258);	/* 256 rounded up to 3s */
			cr_assert_eq(memcmp(dec, all_bytes, 256), 0);
		}
		json_decref(v);
	}
	cr_assert_eq(n, 8);
	run_free(&r);
}

Test(session, export_asciicast)
{
	struct run r = trun("session", "export", id_b, "--format", "asc");
	char *line, *save = NULL;
	json_t *v, *ev[5];
	int n = 0;

	cr_assert_eq(r.rc, 0, "%s", r.err);
	line = strtok_r(r.out, "\n", &save);
	v = json_loads(line, 0, NULL);
	cr_assert_not_null(v, "%s", line);
	cr_assert_eq(jint(v, "version"), 2);
	cr_assert_eq(jint(v, "width"), 80);
	cr_assert_eq(jint(v, "timestamp"), (json_int_t)(sid_time(sid_b) / NS));
	json_decref(v);
	while ((line = strtok_r(NULL, "\n", &save))) {
		cr_assert_lt(n, 5, "more lines than chunks: %s", line);
		/* the 0x00 byte is "\u0000" */
		ev[n] = json_loads(line, JSON_ALLOW_NUL, NULL);
		cr_assert(json_is_array(ev[n]) && json_array_size(ev[n]) == 3,
			  "%.200s", line);
		n++;
	}
	cr_assert_eq(n, 5);
	cr_assert_str_eq(json_string_value(json_array_get(ev[0], 1)), "i");
	cr_assert_str_eq(json_string_value(json_array_get(ev[1], 1)), "o");
	cr_assert_str_eq(json_string_value(json_array_get(ev[0], 2)),
			 "GET / HTTP/1.1\r\n\r\n");
	cr_assert(json_real_value(json_array_get(ev[0], 0)) > 0.0099 &&
		  json_real_value(json_array_get(ev[0], 0)) < 0.0101);
	/* 0x80..0xff alone are not UTF-8: each one U+FFFD */
	cr_assert_not_null(memmem(json_string_value(json_array_get(ev[1], 2)),
				  json_string_length(json_array_get(ev[1], 2)),
				  "~\x7f\xef\xbf\xbd\xef\xbf\xbd", 8));
	cr_assert_eq(json_string_length(json_array_get(ev[1], 2)),
		     128 + 3 * 128);
	/* the é cut between two up chunks is whole in the second */
	cr_assert_str_eq(json_string_value(json_array_get(ev[3], 2)), "caf");
	cr_assert_str_eq(json_string_value(json_array_get(ev[4], 2)),
			 "\xc3\xa9 \xef\xbf\xbd\\end\n");
	for (int i = 0; i < n; i++)
		json_decref(ev[i]);
	run_free(&r);

	r = jrun("session", "export", id_b, "--format", "leef");
	cr_assert_eq(r.rc, CLI_USAGE);
	assert_json_error(&r, "want jsonl, asciicast, k8s-audit, ocsf or cef");
	run_free(&r);
}

Test(session, store_missing_or_not_a_store)
{
	char path[160];
	struct run r;

	snprintf(path, sizeof(path), "%s/nothing-here", rec_dir);
	r = run("sluice", "-j", "--store", path, "session", "list", NULL);
	cr_assert_eq(r.rc, CLI_FAIL);
	assert_json_error(&r, path);
	run_free(&r);

	snprintf(path, sizeof(path), "--store=%s", rec_dir);	/* no CURRENT */
	r = run("sluice", "session", "show", id_a, path, NULL);
	cr_assert_eq(r.rc, CLI_FAIL);
	cr_assert(strstr(r.err, rec_dir), "%s", r.err);
	run_free(&r);

	r = run("sluice", "session", "list", "--store", NULL);
	cr_assert_eq(r.rc, CLI_USAGE);
	run_free(&r);
}

Test(session, readable_beside_a_running_writer)
{
	struct store_opts o = {
		.path = rec_db, .mode = STORE_STRICT, .sync_ms = 100,
		.seal_key = rec_key, .seal_interval_ms = 3600000,
	};
	char err[256] = "";
	struct store *s = store_open(&o, err, sizeof(err));
	struct run r;
	json_t *v;

	cr_assert_not_null(s, "%s", err);
	r = jrun("session", "list");
	v = list_json(&r);
	cr_assert_eq(json_array_size(v), 3);
	json_decref(v);
	run_free(&r);
	r = jrun("session", "verify", id_b);
	cr_assert_eq(r.rc, 0, "%s", r.out);
	run_free(&r);
	store_close(s);
}

Test(session, help)
{
	struct run r = trun("session", "help");

	cr_assert_eq(r.rc, 0);
	cr_assert(strstr(r.out, "Usage: sluice session"));
	cr_assert(strstr(r.out, "replay ID"));
	run_free(&r);
	r = trun("seal", "h");
	cr_assert_eq(r.rc, 0);
	cr_assert(strstr(r.out, "Usage: sluice seal"));
	run_free(&r);
	r = jrun("session", "frob");
	cr_assert_eq(r.rc, CLI_USAGE);
	assert_json_error(&r, "unknown command 'frob' for session");
	run_free(&r);
}

Test(session, seal_pubkey_is_a_pem_openssl_takes)
{
	char pem_path[160], cmd[512], keyarg[160];
	struct run r, k;
	json_t *v;
	FILE *f;

	r = trun("seal", "pubkey");
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert(!strncmp(r.out, "-----BEGIN PUBLIC KEY-----\n", 27), "%s",
		  r.out);
	cr_assert(strstr(r.out, "-----END PUBLIC KEY-----\n"), "%s", r.out);

	/* --key names the key; its .pub is the same PEM */
	k = run("sluice", "seal", "pubkey", "--key", rec_key, NULL);
	cr_assert_eq(k.rc, 0, "%s", k.err);
	cr_assert_str_eq(k.out, r.out);
	run_free(&k);

	k = run("sluice", "-j", "--store", rec_db, "seal", "pubkey", NULL);
	cr_assert_eq(k.rc, 0);
	v = parse_out(&k);
	cr_assert_str_eq(jstr(v, "pem"), r.out);
	snprintf(cmd, sizeof(cmd), "%s.pub", rec_key);
	cr_assert_str_eq(jstr(v, "path"), cmd);
	json_decref(v);
	run_free(&k);

	snprintf(keyarg, sizeof(keyarg), "--key=%s/none", rec_dir);
	k = run("sluice", "-j", "seal", "pubkey", keyarg, NULL);
	cr_assert_eq(k.rc, CLI_FAIL);
	assert_json_error(&k, "none.pub");
	run_free(&k);

	if (system("openssl version >/dev/null 2>&1")) {
		run_free(&r);
		cr_skip_test("openssl is not installed");
	}
	snprintf(pem_path, sizeof(pem_path), "%s/exported.pem", rec_dir);
	f = fopen(pem_path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(r.out, 1, r.out_len, f), r.out_len);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "openssl pkey -pubin -noout -in %s", pem_path);
	cr_assert_eq(system(cmd), 0, "openssl refused %s", pem_path);
	/* and a file that is not a key is refused by the same command */
	snprintf(cmd, sizeof(cmd), "openssl pkey -pubin -noout -in %s "
		 "2>/dev/null", rec_key);
	cr_assert_neq(system(cmd), 0);
	run_free(&r);
}

Test(session, open_session_counts_its_records)
{
	struct store_opts o = {
		.path = rec_db, .mode = STORE_STRICT, .sync_ms = 100,
		.seal_key = rec_key, .seal_interval_ms = 3600000,
	};
	char err[256] = "", id[33];
	struct store_chain c;
	struct store *s;
	struct run r;
	json_t *m = meta_for("pg", "tcp", 500, "crashy"), *v, *e;
	uint8_t sid[STORE_SID_LEN];

	/* as a daemon killed mid-session leaves it: begun, never ended */
	s = store_open(&o, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	begin(s, &c, m, sid);
	add_chunk(s, &c, STORE_DIR_UP, "abc", 3, 1 * MS);
	add_chunk(s, &c, STORE_DIR_DOWN, "defgh", 5, 2 * MS);
	store_close(s);
	json_decref(m);
	for (int i = 0; i < n_owned; i++)
		free(owned[i]);
	n_owned = 0;
	store_sid_format(sid, id);

	r = jrun("session", "list", "--since", "1m");
	v = list_json(&r);
	cr_assert_eq(json_array_size(v), 2, "%s", r.out);
	e = json_array_get(v, 0);
	cr_assert_str_eq(jstr(e, "id"), id);
	cr_assert_str_eq(jstr(e, "status"), "open");
	cr_assert(json_is_null(json_object_get(e, "end")));
	cr_assert_eq(jint(e, "records"), 3, "not the 0 that begin wrote");
	cr_assert_eq(jint(e, "bytes_up"), 3);
	cr_assert_eq(jint(e, "bytes_down"), 5);
	cr_assert_eq(jint(e, "events"), 1);
	json_decref(v);
	run_free(&r);

	r = jrun("session", "verify", id);
	cr_assert_eq(r.rc, 0, "%s", r.out);
	cr_assert(strstr(r.out, "not ended"), "%s", r.out);
	run_free(&r);
}
