// SPDX-License-Identifier: BSD-2-Clause
/*
 * sluice status: the daemon's own answer, checked against what the kernel
 * side shows without it (pinned links, heartbeat, settings).
 *
 *   ok        the daemon answers, all programs are attached, the heartbeat
 *             is fresh
 *   down      the daemon does not answer and the heartbeat is stale: every
 *             target is in its fail mode
 *   degraded  anything in between
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "cli.h"

static const char help_text[] =
	"Usage: sluice status\n"
	"Daemon, attached bpf programs, targets, heartbeat age, record and\n"
	"export lag. \"state\" is ok, degraded or down (\"reasons\" says why);\n"
	"exit status 1 unless ok: daemon unreachable, heartbeat older than\n"
	"settings.stale_ns, or not every program attached. Without the daemon,\n"
	"targets come from the pinned bpf maps.\n";

struct status {
	json_t *resp;		/* daemon's answer, or NULL */
	char daemon_err[512];
	json_t *programs;	/* never NULL after collect() */
	char prog_err[256];
	json_t *targets;	/* may be NULL */
	const char *targets_source;
	long long hb_ms;	/* -1: never / unknown */
	long long stale_ms;	/* -1: unknown */
	json_t *reasons;
	const char *state;
};

static void reason(struct status *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reason(struct status *st, const char *fmt, ...)
{
	char buf[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(st->reasons, cli_jstring(buf));
}

static int collect(struct status *st)
{
	struct sluice_settings set;
	json_t *req;
	uint64_t mono = 0;
	int nprog = cli_program_count(), err;
	size_t attached;
	bool daemon_ok, hb_fresh = false;

	st->hb_ms = st->stale_ms = -1;
	st->reasons = json_array();
	req = json_pack("{s:s}", "cmd", "status");
	if (!req || !st->reasons) {
		json_decref(req);
		return -ENOMEM;
	}
	err = cli_ctl(req, &st->resp, st->daemon_err, sizeof(st->daemon_err));
	json_decref(req);
	daemon_ok = !err;
	if (!daemon_ok)
		reason(st, "%s", st->daemon_err);

	if (cli_pinned_programs(&st->programs, st->prog_err,
				sizeof(st->prog_err))) {
		st->programs = json_array();
		if (!st->programs)
			return -ENOMEM;
		reason(st, "programs: %s", st->prog_err);
	}
	attached = json_array_size(st->programs);
	if (attached < (size_t)nprog)
		reason(st, "%zu of %d programs attached", attached, nprog);

	err = cli_read_heartbeat(&mono);
	if (err)
		reason(st, "heartbeat map: %s", strerror(-err));
	else
		st->hb_ms = cli_heartbeat_age_ms(mono);
	err = cli_read_settings(&set);
	if (err)
		reason(st, "settings map: %s", strerror(-err));
	else if (set.stale_ns)
		st->stale_ms = (long long)(set.stale_ns / 1000000);
	if (!err && st->hb_ms >= 0 && set.stale_ns) {
		hb_fresh = (unsigned long long)st->hb_ms * 1000000ULL <=
			   set.stale_ns;
		if (!hb_fresh)
			reason(st, "heartbeat %lld ms old, stale after %lld ms",
			       st->hb_ms, st->stale_ms);
	} else if (!err && mono == 0) {
		reason(st, "no heartbeat yet");
	}

	if (daemon_ok && json_is_array(json_object_get(st->resp, "targets"))) {
		st->targets = json_incref(json_object_get(st->resp, "targets"));
		st->targets_source = "daemon";
	} else if (!cli_bpf_targets(&st->targets)) {
		st->targets_source = "bpf";
	}

	if (daemon_ok && hb_fresh && attached == (size_t)nprog)
		st->state = "ok";
	else if (!daemon_ok && !hb_fresh)
		st->state = "down";
	else
		st->state = "degraded";
	return 0;
}

/* resp[key], a new reference, or null */
static json_t *from_daemon(struct status *st, const char *key)
{
	json_t *v = st->resp ? json_object_get(st->resp, key) : NULL;

	return v ? json_incref(v) : json_null();
}

static json_t *status_json(struct status *st)
{
	json_t *o;

	o = json_pack("{s:s, s:o, s:o, s:o, s:I, s:I, s:o, s:o, s:o, s:o, s:o,"
		      " s:o, s:o, s:o, s:O}",
		      "state", st->state,
		      "daemon", from_daemon(st, "daemon"),
		      "daemon_error", st->resp ? json_null() :
		      cli_jstring(st->daemon_err),
		      "programs", json_incref(st->programs),
		      "programs_attached",
		      (json_int_t)json_array_size(st->programs),
		      "programs_expected", (json_int_t)cli_program_count(),
		      "targets", st->targets ? json_incref(st->targets) :
		      json_null(),
		      "targets_source", st->targets_source ?
		      json_string(st->targets_source) : json_null(),
		      "heartbeat_ms", st->hb_ms >= 0 ?
		      json_integer(st->hb_ms) : json_null(),
		      "stale_ms", st->stale_ms >= 0 ?
		      json_integer(st->stale_ms) : json_null(),
		      "connections", from_daemon(st, "connections"),
		      "gaps", from_daemon(st, "gaps"),
		      "record_lag", from_daemon(st, "record_lag"),
		      "export_lag", from_daemon(st, "export_lag"),
		      "reasons", st->reasons);
	return o;
}

static void print_text(struct status *st)
{
	FILE *out = cli_out();
	json_t *d = st->resp ? json_object_get(st->resp, "daemon") : NULL;
	json_t *v;
	char b[6][64];
	size_t i;

	fprintf(out, "state        %s\n", st->state);
	json_array_foreach(st->reasons, i, v)
		fprintf(out, "             - %s\n", json_string_value(v));
	if (d) {
		fprintf(out, "daemon       pid %s  version %s  up %s s  workers %s\n",
			cli_jget(d, "pid", b[0], sizeof(b[0])),
			cli_jget(d, "version", b[1], sizeof(b[1])),
			cli_jget(d, "uptime_s", b[2], sizeof(b[2])),
			cli_jget(d, "workers", b[3], sizeof(b[3])));
		fprintf(out, "             config %s  cgroup %s\n",
			cli_jget(d, "config", b[0], sizeof(b[0])),
			cli_jget(d, "cgroup", b[1], sizeof(b[1])));
		json_array_foreach(json_object_get(d, "listen"), i, v)
			fprintf(out, "             listen %s\n",
				cli_jstr(v, b[0], sizeof(b[0])));
	} else {
		fprintf(out, "daemon       unreachable\n");
	}
	if (st->hb_ms >= 0)
		fprintf(out, "heartbeat    %lld ms ago", st->hb_ms);
	else
		fprintf(out, "heartbeat    -");
	if (st->stale_ms >= 0)
		fprintf(out, " (stale after %lld ms)", st->stale_ms);
	fputc('\n', out);
	fprintf(out, "programs     %zu/%d attached\n",
		json_array_size(st->programs), cli_program_count());
	json_array_foreach(st->programs, i, v)
		fprintf(out, "             %-20s %-24s %s\n",
			cli_jget(v, "name", b[0], sizeof(b[0])),
			cli_jget(v, "attach_type", b[1], sizeof(b[1])),
			cli_jget(v, "attach_point", b[2], sizeof(b[2])));
	if (st->targets) {
		fprintf(out, "targets      %zu (from %s)\n",
			json_array_size(st->targets), st->targets_source);
		json_array_foreach(st->targets, i, v) {
			char *m = json_dumps(json_object_get(v, "match"),
					     JSON_COMPACT | JSON_ENCODE_ANY);
			const char *name = cli_jget(v, "name", b[0], sizeof(b[0]));

			if (!strcmp(name, "-"))
				name = cli_jget(v, "target_id", b[0], sizeof(b[0]));
			fprintf(out, "             %-16s %-6s %s\n", name,
				cli_jget(v, "fail_mode", b[1], sizeof(b[1])),
				m ? m : "-");
			free(m);
		}
	} else {
		fprintf(out, "targets      -\n");
	}
	v = st->resp ? json_object_get(st->resp, "connections") : NULL;
	fprintf(out, "connections  %s active, %s total\n",
		cli_jget(v, "active", b[0], sizeof(b[0])),
		cli_jget(v, "total", b[1], sizeof(b[1])));
	v = st->resp ? json_object_get(st->resp, "gaps") : NULL;
	if (v)
		fprintf(out, "gaps         %s bypassed, %s refused\n",
			cli_jget(v, "bypassed", b[0], sizeof(b[0])),
			cli_jget(v, "refused", b[1], sizeof(b[1])));
	fprintf(out, "record lag   %s\n",
		cli_jget(st->resp, "record_lag", b[0], sizeof(b[0])));
	fprintf(out, "export lag   %s\n",
		cli_jget(st->resp, "export_lag", b[0], sizeof(b[0])));
}

int do_status(int argc, char **argv)
{
	struct status st = {};
	int rc;

	if (cli_is_help(argc, argv))
		return cli_help(help_text);
	if (argc > 0)
		return cli_usage("status", "unexpected argument '%s'", argv[0]);
	if (collect(&st)) {
		p_err("out of memory");
		rc = CLI_FAIL;
		goto out;
	}
	if (cli.json)
		cli_emit(status_json(&st));
	else
		print_text(&st);
	rc = strcmp(st.state, "ok") ? CLI_FAIL : CLI_OK;
out:
	json_decref(st.resp);
	json_decref(st.programs);
	json_decref(st.targets);
	json_decref(st.reasons);
	return rc;
}
