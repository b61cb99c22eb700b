/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The `sluice` command line: bpftool's grammar,
 *
 *	sluice [OPTIONS] OBJECT {COMMAND | help}
 *
 * cli.c holds the option parser and the table of objects; each object lives
 * in its own cmd_<object>.c with a table of commands, all dispatched by
 * cli_dispatch() on unambiguous prefixes. Adding an object is one file and
 * one line in cli.c's table.
 *
 * A command handler gets the words after its keyword and returns an exit
 * status (enum cli_exit), never -errno: that is the one place where errors
 * stop being errno values and become what the user sees. JSON output is the
 * contract; text output may change.
 */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "sluice_abi.h"
#include "version.h"	/* SLUICE_VERSION */

/* How long the CLI waits for the daemon's control socket. */
#define CLI_CTL_TIMEOUT_MS	5000

/* Where recordings are read when neither --store nor $SLUICE_STORE says
 * (the daemon's store.path default, DESIGN §9). */
#define SLUICE_STORE_DEFAULT	"/var/lib/sluice"

enum cli_exit {
	CLI_OK = 0,		/* done */
	CLI_FAIL = 1,		/* degraded, or the daemon is unreachable */
	CLI_USAGE = 2,		/* the command line is wrong */
};

/*
 * One keyword and its handler. `synopsis` is the line shown by the help of
 * the level above (may be NULL). Tables end with an all-zero entry; the
 * first entry is what runs when no command is given (`sluice prog`).
 */
struct cmd {
	const char *name;
	int (*func)(int argc, char **argv);
	const char *synopsis;
};

/* Process-wide state of one cli_main() run; reset by cli_main(). */
struct cli_state {
	bool json;		/* -j: print JSON */
	bool pretty;		/* -p: indented JSON (implies json) */
	const char *ctl_path;	/* --ctl, $SLUICE_CTL or the default; borrowed */
	const char *store_path;	/* --store, $SLUICE_STORE or the default;
				 * borrowed */
	FILE *out;		/* results; NULL: stdout */
	FILE *err;		/* text errors and notes; NULL: stderr */
	json_t *batch;		/* JSON batch: results are appended here */
	bool in_batch;		/* a batch is running (no nesting) */
	bool emitted;		/* a JSON value went to `out` (not in batch) */
	char last_err[512];	/* message of the last p_err() */
};

extern struct cli_state cli;

/* cli.c */

/*
 * Run the command line `argv` (argv[0] is the program name). Returns the
 * process exit status. May be called repeatedly (tests, nothing global
 * survives but the output streams set with cli_set_output()).
 */
int cli_main(int argc, char **argv);

/* Send results to `out` and text errors to `err` (NULL: stdout/stderr). */
void cli_set_output(FILE *out, FILE *err);

/* Run one OBJECT COMMAND... line (argv[0] is the object); for batch. */
int cli_run_object(int argc, char **argv);

/* common.c */

FILE *cli_out(void);
FILE *cli_errf(void);

/*
 * Report an error: "Error: ..." on stderr in text mode, {"error": "..."} on
 * stdout in JSON mode (held back for the batch's own report while a JSON
 * batch runs). Does not decide the exit status.
 */
void p_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A note for humans: stderr in text mode, dropped in JSON mode. */
void p_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Print one JSON result (steals the reference; NULL is reported as out of
 * memory). In a JSON batch the value is appended to the batch's array.
 */
void cli_emit(json_t *v);

/*
 * Find `word` in `cmds`: an exact match, else the one entry it is a prefix
 * of. Returns the entry, or NULL with *ambiguous set when several entries
 * match (and clear when none does).
 */
const struct cmd *cli_match(const struct cmd *cmds, const char *word,
			    bool *ambiguous);

/*
 * Same for a NULL-terminated array of plain names; returns the index or
 * -ENOENT (no match) or -EINVAL (ambiguous).
 */
int cli_match_name(const char *const *names, const char *word);

/* "a, b, c": the entries of `cmds` that start with `word`, into buf. */
void cli_candidates(const struct cmd *cmds, const char *word, char *buf,
		    size_t len);

/*
 * Dispatch argv[0] through `cmds` (`what` names the level for messages,
 * e.g. "target"; NULL for the objects). No word, or below the objects a
 * first word that is a flag, runs the first entry with all the words. An
 * entry without a handler (the "help" of every object) prints `help`.
 * Unknown or ambiguous words are usage errors. Returns the handler's exit
 * status.
 */
int cli_dispatch(const struct cmd *cmds, const char *what, const char *help, int argc,
		 char **argv);

/*
 * For commands without sub-commands (`status`, `version`): true if the
 * words are exactly a prefix of "help".
 */
bool cli_is_help(int argc, char **argv);

/*
 * Print a help text: as is in text mode, as {"help": text} in JSON mode.
 * Returns CLI_OK.
 */
int cli_help(const char *text);

/* Usage error: p_err(), a hint on stderr, returns CLI_USAGE. */
int cli_usage(const char *what, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Ask the daemon: send `req` (borrowed) to cli.ctl_path. Returns 0 and the
 * answer in *resp (caller json_decref()s), or -errno with a message in
 * `why` (also when the daemon answered {"error": ...}: -EREMOTEIO).
 */
int cli_ctl(json_t *req, json_t **resp, char *why, size_t why_len);

/* Scalar JSON value as text for tables: "-" for missing/null. */
const char *cli_jstr(json_t *v, char *buf, size_t len);
/* Same, for obj[key] or a dotted path "kernel.pid". */
const char *cli_jget(json_t *obj, const char *path, char *buf, size_t len);

/* json_string(s), with non-ASCII bytes masked if s is not UTF-8. New ref. */
json_t *cli_jstring(const char *s);

/* A u64 as a JSON integer, or as a decimal string above INT64_MAX. */
json_t *cli_ju64(uint64_t v);

/* pinned.c: what the CLI reads straight from bpffs, without the daemon */

/*
 * addr_format() ("1.2.3.4:5", "[::1]:5"), or with `with_port` false the
 * bare address ("1.2.3.4", "::1"). buf should hold 64 bytes. Returns buf.
 */
const char *cli_addr_str(const uint8_t addr[16], uint16_t port,
			 bool with_port, char *buf, size_t len);

/* json string of at most `len` bytes of `s`, non-printables as '?'. */
json_t *cli_json_comm(const char *s, size_t len);

/* The first cgroup2 mount point from /proc/self/mounts. 0 or -errno. */
int cli_cgroup2_mount(char *buf, size_t len);

/*
 * Pinned links of SLUICE_PROGRAMS, as `prog show` prints them: a new
 * array in *out (caller decrefs); missing pins are skipped. 0 or -errno
 * with a message in `why` (e.g. EACCES when not root).
 */
int cli_pinned_programs(json_t **out, char *why, size_t why_len);

/* Number of programs in SLUICE_PROGRAMS. */
int cli_program_count(void);

/*
 * Open the pinned map `name` and check its key/value sizes (0: any).
 * Returns an fd (caller closes) or -errno (-EPROTO: the sizes are not
 * sluice_abi.h's).
 */
int cli_map_open(const char *name, uint32_t key_size, uint32_t value_size);

/*
 * Walk at most `bound` keys of map `fd`, calling cb (may be NULL) with
 * each (borrowed for the call). A non-zero cb return stops the walk and is
 * returned. Returns the number of keys seen or -errno.
 */
int cli_map_keys(int fd, size_t key_size, uint32_t bound,
		 int (*cb)(const void *key, void *ctx), void *ctx);

/* heartbeat[0].mono_ns. 0 or -errno. */
int cli_read_heartbeat(uint64_t *mono_ns);

/* settings[0]. 0 or -errno. */
int cli_read_settings(struct sluice_settings *s);

/* Age in ms of a heartbeat value; -1 if never beaten. */
long long cli_heartbeat_age_ms(uint64_t mono_ns);

/* target_stats[id] summed over CPUs, from the map open as `fd`. 0/-errno. */
int cli_read_target_stats(uint32_t id, struct sluice_target_stats *sum,
			  int fd);

/*
 * Targets as the bpf maps know them, grouped by id: [{"target_id",
 * "match": [addr...], "fail_mode", "redirected", "bypassed", "refused",
 * "events_lost"}]. New array in *out (caller decrefs). 0 or -errno.
 */
int cli_bpf_targets(json_t **out);

/* cmd_map.c: the fields of a sluice_orig ("original", "pid", "tid", "uid",
 * "gid", "comm", "cgroup_id", "netns_cookie", ...) added to `o`. 0/-ENOMEM. */
int cli_orig_fields(json_t *o, const struct sluice_orig *v);

/* cmd_session.c: recorded sessions, read straight from the store */

struct store;

/*
 * Open cli.store_path read-only (works while the daemon runs, and while it
 * is down). Returns the store (caller frees with store_close()), or NULL
 * after p_err() naming the path.
 */
struct store *cli_store_open(void);

/*
 * A --since TIME: RFC 3339 ("2026-11-22T10:00:00Z", fractions and
 * "+02:00" offsets allowed) or a relative "90s", "15m", "2h", "3d"
 * meaning that long before now_ns. Returns 0 and ns since the epoch in
 * *out (at least 1, so never "any"), or -EINVAL.
 */
int cli_parse_since(const char *text, uint64_t now_ns, uint64_t *out);

/* "90s", "15m", "2h", "3d" as seconds. Returns 0 or -EINVAL. */
int cli_parse_duration(const char *text, uint64_t *out_s);

/* RFC 3339 UTC with microseconds, "2026-01-02T03:04:05.123456Z". */
const char *cli_rfc3339(uint64_t ns, char *buf, size_t len);

/* batch: split `line` in place; returns argc or -E2BIG (too many words). */
int batch_split_line(char *line, char **argv, int max);

/* One option of a command: "--name VALUE", "--name=VALUE", or a flag. */
struct cli_opt {
	const char *name;
	bool has_arg;
	const char **val;	/* the argument; "" for a flag that is present */
};

/*
 * Sort a command's words into opts and at most one positional word (pos
 * NULL: none allowed); what names the object in usage errors. Returns
 * CLI_OK or, after saying why, CLI_USAGE.
 */
int cli_parse_opts(const char *what, int argc, char **argv, const struct cli_opt *opts,
		   const char **pos);

/* Object handlers, one per cmd_<object>.c */
int do_approval(int argc, char **argv);
int do_batch(int argc, char **argv);
int do_conn(int argc, char **argv);
int do_export(int argc, char **argv);
int do_map(int argc, char **argv);
int do_pod(int argc, char **argv);
int do_policy(int argc, char **argv);
int do_prog(int argc, char **argv);
int do_seal(int argc, char **argv);
int do_session(int argc, char **argv);
int do_status(int argc, char **argv);
int do_target(int argc, char **argv);
int do_version(int argc, char **argv);

#endif
