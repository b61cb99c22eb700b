// SPDX-License-Identifier: BSD-2-Clause
/*
 * `sluice session export ID --format asciicast` for a session recorded
 * from kubectl exec: a real store written through store.h with exec
 * events made by proto/kstream.c's ks_event_json() (the shape the
 * Kubernetes module records), exported through the CLI in process, checked
 * line by line, and, where Debian's asciinema is installed, read back by
 * `asciinema cat`.
 */
#include <errno.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include <jansson.h>

#include "cli.h"
#include "log.h"
#include "proto/kstream.h"
#include "store.h"

#define MS	1000000ull
#define MAX	16

static char dir[64], db[128], key[128], id[33];
static struct store_rec recs[MAX];
static char *texts[MAX];
static int n_recs;
static atomic_int done_count;

static void rec_done(struct store_rec *r, int err)
{
	(void)r;
	cr_assert_eq(err, 0);
	atomic_fetch_add(&done_count, 1);
}

static uint64_t sid_ns(const uint8_t *sid)
{
	uint64_t t = 0;

	for (int i = 0; i < 8; i++)
		t = t << 8 | sid[i];
	return t;
}

/* Steals ev. */
static void event(struct store *s, struct store_chain *c, json_t *ev, uint64_t off_ns)
{
	struct store_rec *r = &recs[n_recs];

	cr_assert_not_null(ev);
	cr_assert_lt(n_recs, MAX);
	texts[n_recs] = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	store_rec_fill(c, r, STORE_REC_EVENT, 0, 0, sid_ns(c->sid) + off_ns, texts[n_recs],
		       strlen(texts[n_recs]));
	r->done = rec_done;
	n_recs++;
	cr_assert_eq(store_submit(s, r), 0);
}

static void exec_data(struct store *s, struct store_chain *c, enum ks_channel ch,
		      const char *text, uint64_t off_ns)
{
	struct ks_event ev = { .type = KS_EV_DATA, .channel = ch,
			       .data = (const uint8_t *)text, .len = strlen(text) };

	event(s, c, ks_event_json(&ev), off_ns);
}

static void exec_resize(struct store *s, struct store_chain *c, uint16_t w, uint16_t h,
			uint64_t off_ns)
{
	struct ks_event ev = { .type = KS_EV_RESIZE, .width = w, .height = h };

	event(s, c, ks_event_json(&ev), off_ns);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void setup(void)
{
	struct store_opts o = { .mode = STORE_STRICT, .sync_ms = 100,
				.seal_interval_ms = 3600000 };
	struct store_chain c;
	char err[256] = "";
	struct store *s;
	json_t *meta, *end;

	log_set_level(LOG_WARN);
	strcpy(dir, "/tmp/sluice-cast-test.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/db", dir);
	snprintf(key, sizeof(key), "%s/seal.key", dir);
	o.path = db;
	o.seal_key = key;
	s = store_open(&o, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	meta = json_pack("{s:s, s:s}", "target", "prod-k8s", "kind", "kubernetes");
	cr_assert_eq(store_session_begin(s, &c, meta), 0);
	event(s, &c, json_pack("{s:s, s:s, s:s, s:s}", "type", "k8s", "verb", "create",
			       "resource", "pods", "subresource", "exec"), 1 * MS);
	exec_resize(s, &c, 100, 30, 2 * MS);
	exec_data(s, &c, KS_STDIN, "ls\r", 10 * MS);
	exec_data(s, &c, KS_STDOUT, "file1\r\nfile2\r\n", 20 * MS);
	/* an é cut between two stderr messages */
	exec_data(s, &c, KS_STDERR, "caf\xc3", 30 * MS);
	exec_data(s, &c, KS_STDERR, "\xa9\r\n", 40 * MS);
	exec_resize(s, &c, 120, 40, 50 * MS);
	exec_data(s, &c, KS_ERROR, "{\"status\":\"Success\"}", 60 * MS);
	event(s, &c, json_pack("{s:s, s:s, s:s}", "type", "exec", "channel", "stdout", "data",
			       "not base64!"), 70 * MS);
	exec_data(s, &c, KS_STDOUT, "bye\r\n", 1500 * MS);
	end = json_pack("{s:s}", "status", "closed");
	cr_assert_eq(store_session_end(s, &c, end), 0);
	store_sid_format(c.sid, id);
	store_close(s);
	cr_assert_eq(atomic_load(&done_count), n_recs);
	json_decref(meta);
	json_decref(end);
	for (int i = 0; i < n_recs; i++)
		free(texts[i]);
}

static void teardown(void)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(cast, .init = setup, .fini = teardown, .timeout = 60);

/* The export, as the CLI prints it. Caller frees. */
static char *export(void)
{
	char *argv[] = { "sluice", "--store", db, "session", "export", id, "--format",
			 "asciicast", NULL };
	char *out = NULL, *errs = NULL;
	size_t olen = 0, elen = 0;
	FILE *o = open_memstream(&out, &olen), *e = open_memstream(&errs, &elen);
	int rc;

	cli_set_output(o, e);
	rc = cli_main(8, argv);
	cli_set_output(NULL, NULL);
	fclose(o);
	fclose(e);
	cr_assert_eq(rc, 0, "%s", errs);
	free(errs);
	return out;
}

Test(cast, exec_events_as_asciicast_v2)
{
	static const char *const want[][2] = {
		{ "i", "ls\r" },      { "o", "file1\r\nfile2\r\n" },
		{ "o", "caf" },	      { "o", "\xc3\xa9\r\n" },
		{ "r", "120x40" },    { "o", "bye\r\n" },
	};
	char *out = export(), *save = NULL, *line;
	json_t *v;
	double last = -1;
	int n = 0;

	line = strtok_r(out, "\n", &save);
	v = json_loads(line, 0, NULL);
	cr_assert_not_null(v, "%s", line);
	cr_assert_eq(json_integer_value(json_object_get(v, "version")), 2);
	cr_assert_eq(json_integer_value(json_object_get(v, "width")), 100);
	cr_assert_eq(json_integer_value(json_object_get(v, "height")), 30);
	cr_assert(json_integer_value(json_object_get(v, "timestamp")) > 1600000000);
	json_decref(v);
	while ((line = strtok_r(NULL, "\n", &save))) {
		double t;

		cr_assert_lt(n, 6, "extra line %s", line);
		v = json_loads(line, 0, NULL);
		cr_assert(json_is_array(v) && json_array_size(v) == 3, "%s", line);
		t = json_real_value(json_array_get(v, 0));
		cr_assert_geq(t, last, "%s", line);
		last = t;
		cr_assert_str_eq(json_string_value(json_array_get(v, 1)), want[n][0], "%s", line);
		cr_assert_str_eq(json_string_value(json_array_get(v, 2)), want[n][1], "%s", line);
		if (n == 0)
			cr_assert(t > 0.0099 && t < 0.0101, "%f", t);
		json_decref(v);
		n++;
	}
	cr_assert_eq(n, 6);
	cr_assert(last > 1.49 && last < 1.51);
	free(out);
}

/* The bytes without the CRs a terminal may add or keep. */
static void strip_cr(char *s)
{
	char *o = s;

	for (; *s; s++)
		if (*s != '\r')
			*o++ = *s;
	*o = 0;
}

/*
 * Debian's asciinema reads the file back: the output, in order.
 * asciinema 2.2's cat opens /dev/tty, so it runs under script(1)'s pty.
 */
Test(cast, asciinema_cat_accepts_it)
{
	char path[192], cmd[256], got[256] = "";
	char *out;
	FILE *f, *p;
	size_t n;

	if (access("/usr/bin/asciinema", X_OK))
		cr_skip_test("SKIP: asciinema not installed (scripts/deps.sh installs it)");
	out = export();
	snprintf(path, sizeof(path), "%s/exec.cast", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(out, f);
	fclose(f);
	free(out);
	snprintf(cmd, sizeof(cmd), "script -qec 'asciinema cat %s' /dev/null 2>&1 </dev/null",
		 path);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	n = fread(got, 1, sizeof(got) - 1, p);
	got[n] = 0;
	cr_assert_eq(pclose(p), 0, "asciinema cat: %s", got);
	strip_cr(got);
	cr_assert_str_eq(got, "file1\nfile2\ncaf\xc3\xa9\nbye\n");
}
