// SPDX-License-Identifier: BSD-2-Clause
/*
 * sluice session {list | show | replay | verify | export}: recorded
 * sessions, read straight from the store (DESIGN §5, §7) through a
 * read-only open, so all of it works while the daemon is down.
 *
 * A session ID is its 32 hex digits or a prefix of at least 8. The first
 * 16 digits are the start time in ns (store.h), so a prefix also bounds how
 * far back the lookup walks. An ambiguous prefix is a usage error (exit 2),
 * as an ambiguous keyword is, and names the candidates; an ID that matches
 * nothing is exit 1.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "cli.h"
#include "export/formats.h"
#include "store.h"

#define NS_PER_SEC		1000000000ull
#define ID_PREFIX_MIN		8
#define ID_HEX			(2 * STORE_SID_LEN)
#define AMBIGUOUS_SHOWN		4
#define REPLAY_WAIT_MAX_NS	(2 * NS_PER_SEC)	/* one gap, after --speed */
#define B64_BLOCK		(3u * 16384)	/* EVP_EncodeBlock takes an int */
#define OUT_BUF			4096

static const char help_text[] =
	"Usage: sluice session { list [--target T] [--user U] [--since TIME] |\n"
	"                        show ID |\n"
	"                        replay ID [--speed X] [--raw] [--dir up|down|both] |\n"
	"                        verify ID [--pubkey FILE] |\n"
	"                        export ID [--format jsonl|asciicast|k8s-audit|ocsf|cef] |\n"
	"                        help }\n"
	"Recorded sessions, read-only from the store (--store PATH), with or\n"
	"without the daemon running.\n"
	"  list    newest first. TIME: RFC 3339 (2026-11-22T10:00:00Z) or\n"
	"          90s, 15m, 2h, 3d meaning that long ago.\n"
	"  show    metadata, every event in order, chunk counts each way.\n"
	"  replay  the chunks in order with their recorded gaps divided by\n"
	"          --speed (default 1; 0: no waiting; one wait is at most 2 s).\n"
	"          Text: a transcript, a '--- +SECONDS DIR N bytes' line per\n"
	"          chunk, then its bytes with non-printables as \\xNN and '\\'\n"
	"          as '\\\\' (newlines kept). --raw: exactly the recorded bytes,\n"
	"          nothing else (also under -j). -j: the chunks as one JSON\n"
	"          array, bytes base64 in \"data\", without waiting.\n"
	"          --dir: up (agent to upstream), down, or both (default).\n"
	"  verify  the hash chain and the signed seals, against --pubkey or\n"
	"          the public key beside the writer's seal key. Exit 1 if a\n"
	"          record was altered, removed or reordered, naming it.\n"
	"  export  jsonl (default): one JSON object per record, chunk bytes\n"
	"          base64 in \"data\"; asciicast: asciinema v2, down chunks as\n"
	"          output (\"o\"), up as input (\"i\"), invalid UTF-8 as U+FFFD;\n"
	"          a session with exec events (kubectl exec/attach): stdout and\n"
	"          stderr as \"o\", stdin as \"i\", resizes as \"r\" (the first\n"
	"          one sizes the header), instead of the raw chunks;\n"
	"          k8s-audit, ocsf, cef: each event as the exporter sends it to a\n"
	"          SIEM, one per line (README \"Export to SIEMs\").\n"
	"ID: 32 hex digits, or a prefix of at least 8 naming one session.\n"
	"Exit status: 0 ok; 1 no such session, unreadable store, or verify\n"
	"found tampering; 2 usage error, including an ambiguous ID prefix.\n";

/* ---- the store, times, words ---------------------------------------- */

struct store *cli_store_open(void)
{
	char err[512] = "";
	struct store *s;
	struct stat st;

	/* RocksDB's own message for a missing directory is three paths long */
	if (stat(cli.store_path, &st)) {
		p_err("cannot open the store at %s: %s", cli.store_path,
		      strerror(errno));
		return NULL;
	}
	s = store_open_ro(cli.store_path, err, sizeof(err));
	if (!s)
		p_err("cannot open the store at %s: %s", cli.store_path,
		      err[0] ? err : strerror(errno));
	return s;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

const char *cli_rfc3339(uint64_t ns, char *buf, size_t len)
{
	time_t secs = (time_t)(ns / NS_PER_SEC);
	struct tm tm;

	if (!gmtime_r(&secs, &tm))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (unsigned)(ns % NS_PER_SEC / 1000));
	return buf;
}

/* Exactly n decimal digits at *p into *v, advancing *p. 0 or -1. */
static int digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

/* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), nothing after it. */
static int parse_rfc3339(const char *p, uint64_t *out)
{
	int y, mo, d, h, mi, s, oh = 0, om = 0, sign = 0;
	uint64_t frac = 0, scale = NS_PER_SEC;
	struct tm tm = { 0 };
	time_t t;

	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) ||
	    *p++ != '-' || digits(&p, 2, &d) || !*p || !strchr("Tt ", *p++) ||
	    digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) ||
	    *p++ != ':' || digits(&p, 2, &s))
		return -EINVAL;
	if (*p == '.') {
		if (!isdigit((unsigned char)p[1]))
			return -EINVAL;
		for (p++; isdigit((unsigned char)*p); p++) {
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			}
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) ||
		    oh > 23 || om > 59)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    s > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s == 60 ? 59 : s;	/* a leap second: the one before */
	t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != d)	/* e.g. April 31 */
		return -EINVAL;
	t -= sign * (oh * 3600 + om * 60);
	if (t < 0)
		return -EINVAL;
	*out = (uint64_t)t * NS_PER_SEC + frac;
	if (!*out)
		*out = 1;
	return 0;
}

int cli_parse_duration(const char *text, uint64_t *out_s)
{
	static const char units[] = "smhd";
	static const uint64_t secs[] = { 1, 60, 3600, 86400 };
	unsigned long long n;
	const char *u;
	char *end;

	if (!text || !isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno || !end[0] || end[1] || !(u = strchr(units, end[0])) ||
	    n > UINT64_MAX / NS_PER_SEC / secs[u - units])
		return -EINVAL;
	*out_s = n * secs[u - units];
	return 0;
}

int cli_parse_since(const char *text, uint64_t now, uint64_t *out)
{
	uint64_t ago;

	if (cli_parse_duration(text, &ago) == 0) {
		ago *= NS_PER_SEC;
		*out = ago < now ? now - ago : 1;
		return 0;
	}
	return parse_rfc3339(text, out);
}

/* New reference to o[key], or JSON null. */
static json_t *or_null(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return v ? json_incref(v) : json_null();
}

/*
 * A session ID from the command line, checked and lowercased into id.
 * Returns CLI_OK or, after saying why, CLI_USAGE.
 */
static int parse_id(const char *word, char id[ID_HEX + 1])
{
	size_t n = word ? strlen(word) : 0;

	if (!word)
		return cli_usage("session", "missing session ID");
	if (n < ID_PREFIX_MIN || n > ID_HEX)
		return cli_usage("session", "session ID '%s': want %d to %d hex "
				 "digits", word, ID_PREFIX_MIN, ID_HEX);
	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)word[i]))
			return cli_usage("session", "session ID '%s': not hex",
					 word);
		id[i] = (char)tolower((unsigned char)word[i]);
	}
	id[n] = '\0';
	return CLI_OK;
}

/*
 * Find the session that id (from parse_id()) names: its id in sid and its
 * `sessions` value in *meta (new reference; NULL only if missing_ok and a
 * full id has no value). Returns CLI_OK, or the exit status after p_err().
 */
static int resolve(struct store *s, const char *id, uint8_t sid[STORE_SID_LEN],
		   json_t **meta, bool missing_ok)
{
	char bound[17], names[AMBIGUOUS_SHOWN * (ID_HEX + 2) + 8];
	size_t n = strlen(id), matches = 0, used = 0, i;
	json_t *list, *v, *found = NULL;
	int rc = CLI_OK;

	*meta = NULL;
	if (n == ID_HEX) {
		store_sid_parse(id, sid);
		*meta = store_session_get(s, sid);
		if (*meta || (errno == ENOENT && missing_ok))
			return CLI_OK;
		if (errno == ENOENT)
			p_err("no session %s", id);
		else
			p_err("reading session %s: %s", id, strerror(errno));
		return CLI_FAIL;
	}

	/* no session that starts with the prefix began before it, zero-filled */
	memset(bound, '0', 16);
	memcpy(bound, id, n < 16 ? n : 16);
	bound[16] = '\0';
	list = store_session_list(s, NULL, NULL, strtoull(bound, NULL, 16));
	if (!list) {
		p_err("reading sessions from %s: %s", cli.store_path,
		      strerror(errno));
		return CLI_FAIL;
	}
	names[0] = '\0';
	json_array_foreach(list, i, v) {
		const char *vid = json_string_value(json_object_get(v, "id"));

		if (!vid || strlen(vid) != ID_HEX || strncmp(vid, id, n))
			continue;
		if (!matches++)
			found = v;
		/* names holds AMBIGUOUS_SHOWN ids of ID_HEX digits */
		if (matches <= AMBIGUOUS_SHOWN)
			used += (size_t)snprintf(names + used, sizeof(names) - used,
						 "%s%s", used ? ", " : "", vid);
	}
	if (!matches) {
		p_err("no session %s", id);
		rc = CLI_FAIL;
	} else if (matches > 1) {
		rc = cli_usage("session", "ambiguous session ID '%s': %s%s", id,
			       names, matches > AMBIGUOUS_SHOWN ? ", ..." : "");
	} else if (store_sid_parse(json_string_value(json_object_get(found, "id")),
				   sid)) {
		p_err("session %s: malformed id in the store", id);
		rc = CLI_FAIL;
	} else {
		*meta = json_incref(found);
	}
	json_decref(list);
	return rc;
}

/* The session's start, ns: the first 8 bytes of its id (store.h). */
static uint64_t sid_ns(const uint8_t sid[STORE_SID_LEN])
{
	uint64_t t = 0;

	for (int i = 0; i < 8; i++)
		t = t << 8 | sid[i];
	return t;
}

/* base64 of n bytes as a new JSON string, or NULL. */
static json_t *b64_json(const uint8_t *p, size_t n)
{
	char *buf = malloc(4 * ((n + 2) / 3) + 1);
	size_t used = 0;
	json_t *v;

	if (!buf)
		return NULL;
	while (n) {
		size_t take = n > B64_BLOCK ? B64_BLOCK : n;

		used += (size_t)EVP_EncodeBlock((unsigned char *)buf + used, p,
						(int)take);
		p += take;
		n -= take;
	}
	buf[used] = '\0';
	v = json_stringn(buf, used);
	free(buf);
	return v;
}

static const char *dir_name(int dir)
{
	return dir == STORE_DIR_UP ? "up" : dir == STORE_DIR_DOWN ? "down" : "?";
}

/* fwrite all of it. 0 or -errno. */
static int write_all(FILE *f, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		size_t w;

		errno = 0;
		w = fwrite(c, 1, n, f);
		if (!w)
			return errno ? -errno : -EIO;
		c += w;
		n -= w;
	}
	return 0;
}

static int flush_out(FILE *f)
{
	errno = 0;
	if (fflush(f) || ferror(f))
		return errno ? -errno : -EIO;
	return 0;
}

/* ---- the summary that list and show share --------------------------- */

struct counts {
	uint64_t records, events;
	uint64_t chunks[3], bytes[3];	/* by STORE_DIR_* */
};

static void count(struct counts *c, const struct store_read_rec *r)
{
	c->records++;
	if (r->kind == STORE_REC_EVENT) {
		c->events++;
	} else if (r->dir == STORE_DIR_UP || r->dir == STORE_DIR_DOWN) {
		c->chunks[r->dir]++;
		c->bytes[r->dir] += r->len;
	}
}

static int count_cb(void *ctx, const struct store_read_rec *r)
{
	count(ctx, r);
	return 0;
}

/* v[key] if it is an integer (what the daemon wrote), else n. New ref. */
static json_t *stored_or(json_t *v, const char *key, uint64_t n)
{
	json_t *x = json_object_get(v, key);

	return json_is_integer(x) ? json_incref(x) : cli_ju64(n);
}

/*
 * The contract of `session list` (DESIGN §7) for one `sessions` value v,
 * with what the records say where the value does not (a session still
 * open has no bytes or record count yet). New reference or NULL.
 */
static json_t *summary(json_t *v, const struct counts *c)
{
	json_t *k = json_object_get(v, "kernel"), *kernel;
	bool ended = json_is_string(json_object_get(v, "end"));

	kernel = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}",
			   "pid", or_null(k, "pid"), "uid", or_null(k, "uid"),
			   "gid", or_null(k, "gid"), "comm", or_null(k, "comm"),
			   "cgroup", or_null(k, "cgroup"), "pod", or_null(k, "pod"));
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
			 "s:o, s:o}",
			 "id", or_null(v, "id"), "target", or_null(v, "target"),
			 "kind", or_null(v, "kind"), "start", or_null(v, "start"),
			 "end", or_null(v, "end"), "status", or_null(v, "status"),
			 "bytes_up", stored_or(v, "bytes_up", c->bytes[STORE_DIR_UP]),
			 "bytes_down", stored_or(v, "bytes_down",
						 c->bytes[STORE_DIR_DOWN]),
			 "events", cli_ju64(c->events),
			 /* begin writes 0; only the end's count means anything */
			 "records", ended ? stored_or(v, "records", c->records)
					  : cli_ju64(c->records),
			 "kernel", kernel, "user", or_null(v, "user"));
}

/* ---- list ------------------------------------------------------------ */

static void print_list(json_t *arr)
{
	static const char *const cols[] = {
		"id", "start", "target", "kind", "status", "bytes_up",
		"bytes_down", "events", "kernel.pid", "kernel.uid", "kernel.comm",
	};
	enum { NCOLS = sizeof(cols) / sizeof(cols[0]) };
	char b[NCOLS][40];
	const char *v[NCOLS];
	FILE *out = cli_out();
	size_t i, c;
	json_t *s;

	fprintf(out, "%-32s %-27s %-14s %-5s %-7s %10s %10s %6s %7s %6s %s\n",
		"ID", "START", "TARGET", "KIND", "STATUS", "UP", "DOWN", "EVENTS",
		"PID", "UID", "COMM");
	json_array_foreach(arr, i, s) {
		for (c = 0; c < NCOLS; c++)
			v[c] = cli_jget(s, cols[c], b[c], sizeof(b[c]));
		fprintf(out, "%-32s %-27s %-14s %-5s %-7s %10s %10s %6s %7s %6s %s\n",
			v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8],
			v[9], v[10]);
	}
}

static int do_list(int argc, char **argv)
{
	const char *target = NULL, *user = NULL, *since = NULL;
	const struct cli_opt opts[] = {
		{ "--target", true, &target },
		{ "--user", true, &user },
		{ "--since", true, &since },
		{ 0 }
	};
	json_t *list = NULL, *arr = NULL, *v;
	struct store *s = NULL;
	uint64_t since_ns = 0;
	int rc;
	size_t i;

	rc = cli_parse_opts("session", argc, argv, opts, NULL);
	if (rc)
		return rc;
	if (since && cli_parse_since(since, now_ns(), &since_ns))
		return cli_usage("session", "--since '%s': want RFC 3339 "
				 "(2026-11-22T10:00:00Z) or 90s, 15m, 2h, 3d",
				 since);
	s = cli_store_open();
	if (!s)
		return CLI_FAIL;
	list = store_session_list(s, target, user, since_ns);
	arr = json_array();
	if (!list || !arr) {
		p_err("reading sessions from %s: %s", cli.store_path,
		      strerror(list ? ENOMEM : errno));
		rc = CLI_FAIL;
		goto out;
	}
	json_array_foreach(list, i, v) {
		struct counts c = { 0 };
		uint8_t sid[STORE_SID_LEN];

		/* a record that does not decode ends the count; verify says why */
		if (!store_sid_parse(json_string_value(json_object_get(v, "id")),
				     sid))
			store_records(s, sid, count_cb, &c);
		if (json_array_append_new(arr, summary(v, &c))) {
			p_err("out of memory");
			rc = CLI_FAIL;
			goto out;
		}
	}
	if (cli.json) {
		cli_emit(arr);
		arr = NULL;
	} else if (!json_array_size(arr)) {
		fprintf(cli_out(), "no sessions\n");
	} else {
		print_list(arr);
	}
out:
	json_decref(list);
	json_decref(arr);
	store_close(s);
	return rc;
}

/* ---- show ------------------------------------------------------------ */

struct show_ctx {
	struct counts c;
	json_t *events;
	int err;
};

/*
 * One event record as `show` prints it: seq, time, type, decision, rule,
 * then the event's own fields (which win, but for seq and time).
 */
static json_t *event_json(const struct store_read_rec *r)
{
	json_t *o, *ev = NULL;
	const char *k;
	char t[40];
	json_t *x;

	o = json_pack("{s:o, s:s, s:n, s:n, s:n}", "seq", cli_ju64(r->seq),
		      "time", cli_rfc3339(r->time_ns, t, sizeof(t)), "type",
		      "decision", "rule");
	if (!o)
		return NULL;
	if (!(r->flags & STORE_F_METADATA_ONLY))
		ev = json_loadb((const char *)r->payload, r->len, 0, NULL);
	if (!json_is_object(ev)) {
		json_object_set_new(o, "error", json_string("payload is not a "
							    "JSON object"));
		json_decref(ev);
		return o;
	}
	json_object_foreach(ev, k, x) {
		if (strcmp(k, "seq") && strcmp(k, "time"))
			json_object_set(o, k, x);
	}
	json_decref(ev);
	return o;
}

static int show_cb(void *ctx, const struct store_read_rec *r)
{
	struct show_ctx *sc = ctx;

	count(&sc->c, r);
	if (r->kind == STORE_REC_EVENT &&
	    json_array_append_new(sc->events, event_json(r)))
		return -ENOMEM;
	return 0;
}

/* "key=value ..." of an event's own fields, for the text table. */
static void event_detail(json_t *ev, char *buf, size_t len)
{
	static const char *const skip[] = {
		"seq", "time", "type", "decision", "rule", "time_ns", "kernel",
		NULL,
	};
	size_t used = 0;
	const char *k;
	char tmp[40];
	json_t *v;

	buf[0] = '\0';
	json_object_foreach(ev, k, v) {
		const char *const *s;
		int n;

		for (s = skip; *s && strcmp(*s, k); s++)
			;
		if (*s || json_is_null(v) || json_is_object(v) ||
		    json_is_array(v))
			continue;
		n = snprintf(buf + used, len - used, "%s%s=%s", used ? " " : "",
			     k, cli_jstr(v, tmp, sizeof(tmp)));
		if (n < 0 || (size_t)n >= len - used) {
			if (len > 4)
				memcpy(buf + len - 4, "...", 4);
			return;
		}
		used += (size_t)n;
	}
}

static void print_show(json_t *o)
{
	char b[8][64], detail[160];
	const char *status, *reason;
	FILE *out = cli_out();
	json_t *ev;
	size_t i;

#define F(n, path) cli_jget(o, path, b[n], sizeof(b[n]))
	fprintf(out, "session  %s\n", F(0, "id"));
	fprintf(out, "target   %s (%s)\n", F(0, "target"), F(1, "kind"));
	/* the reason, when it says more than the status */
	status = F(0, "status");
	reason = F(1, "reason");
	fprintf(out, "status   %s%s%s\n", status, strcmp(reason, status) &&
		strcmp(reason, "-") ? ": " : "", strcmp(reason, status) &&
		strcmp(reason, "-") ? reason : "");
	fprintf(out, "start    %s\nend      %s\n", F(0, "start"), F(1, "end"));
	fprintf(out, "client   %s -> %s via %s\n", F(0, "client"),
		F(1, "original"), F(2, "upstream"));
	fprintf(out, "kernel   pid %s uid %s gid %s comm %s cgroup %s\n",
		F(0, "kernel.pid"), F(1, "kernel.uid"), F(2, "kernel.gid"),
		F(3, "kernel.comm"), F(4, "kernel.cgroup"));
	fprintf(out, "bytes    up %s down %s\n", F(0, "bytes_up"),
		F(1, "bytes_down"));
	fprintf(out, "chunks   up %s down %s\n", F(0, "chunks.up"),
		F(1, "chunks.down"));
	fprintf(out, "records  %s\n\n", F(0, "records"));
	fprintf(out, "%6s  %-27s  %-14s  %s\n", "SEQ", "TIME", "EVENT", "DETAIL");
	json_array_foreach(json_object_get(o, "events"), i, ev) {
		event_detail(ev, detail, sizeof(detail));
		fprintf(out, "%6s  %-27s  %-14s  %s\n",
			cli_jget(ev, "seq", b[0], sizeof(b[0])),
			cli_jget(ev, "time", b[1], sizeof(b[1])),
			cli_jget(ev, "type", b[2], sizeof(b[2])), detail);
	}
#undef F
}

static int do_show(int argc, char **argv)
{
	static const char *const extra[] = {
		"client", "original", "upstream", "conn", "reason", "chain",
		"recording", NULL,
	};
	struct show_ctx sc = { .events = json_array() };
	char word[ID_HEX + 1];
	uint8_t sid[STORE_SID_LEN];
	const char *id = NULL;
	json_t *meta = NULL, *o = NULL, *k;
	struct store *s = NULL;
	int rc, err;

	rc = cli_parse_opts("session", argc, argv, NULL, &id);
	if (rc)
		goto out;
	rc = parse_id(id, word);
	if (rc)
		goto out;
	s = cli_store_open();
	if (!s) {
		rc = CLI_FAIL;
		goto out;
	}
	rc = resolve(s, word, sid, &meta, false);
	if (rc)
		goto out;
	err = sc.events ? store_records(s, sid, show_cb, &sc) : -ENOMEM;
	if (err) {
		p_err("reading the records of %s: %s%s", id, strerror(-err),
		      err == -EBADMSG ? " (see 'sluice session verify')" : "");
		rc = CLI_FAIL;
		goto out;
	}
	o = summary(meta, &sc.c);
	if (!o || json_object_set(o, "events", sc.events) ||
	    json_object_set_new(o, "chunks", json_pack("{s:o, s:o}",
		    "up", cli_ju64(sc.c.chunks[STORE_DIR_UP]),
		    "down", cli_ju64(sc.c.chunks[STORE_DIR_DOWN])))) {
		p_err("out of memory");
		rc = CLI_FAIL;
		goto out;
	}
	for (const char *const *e = extra; *e; e++)
		if (json_object_get(meta, *e))
			json_object_set(o, *e, json_object_get(meta, *e));
	/* show keeps the rest of what the kernel said (tid, cgroup_id, ...) */
	k = json_object_get(o, "kernel");
	if (json_is_object(json_object_get(meta, "kernel")))
		json_object_update_missing(k, json_object_get(meta, "kernel"));
	if (cli.json) {
		cli_emit(o);
		o = NULL;
	} else {
		print_show(o);
	}
out:
	json_decref(sc.events);
	json_decref(meta);
	json_decref(o);
	store_close(s);
	return rc;
}

/* ---- replay ---------------------------------------------------------- */

struct replay {
	FILE *out;
	unsigned dirs;		/* bits 1 << STORE_DIR_* */
	bool raw;
	double speed;		/* 0: no waiting */
	uint64_t t0;		/* session start: offsets count from it */
	uint64_t last_ns;	/* time of the last chunk shown */
	bool have_last;
	json_t *chunks;		/* -j: the array being built */
};

#define DIRS_BOTH ((1u << STORE_DIR_UP) | (1u << STORE_DIR_DOWN))

/* Wait the recorded gap since the last chunk shown, over speed, capped. */
static int pace(struct replay *rp, uint64_t t)
{
	struct timespec ts;
	double gap;
	uint64_t ns;
	int err;

	if (rp->speed > 0 && rp->have_last && t > rp->last_ns) {
		/* what was shown must be seen during the wait */
		err = flush_out(rp->out);
		if (err)
			return err;
		gap = (double)(t - rp->last_ns) / rp->speed;
		ns = gap >= (double)REPLAY_WAIT_MAX_NS ? REPLAY_WAIT_MAX_NS
						       : (uint64_t)gap;
		ts.tv_sec = (time_t)(ns / NS_PER_SEC);
		ts.tv_nsec = (long)(ns % NS_PER_SEC);
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	rp->last_ns = t;
	rp->have_last = true;
	return 0;
}

/* Seconds from t0 to t; negative if the clock stepped back. */
static double rel_s(uint64_t t0, uint64_t t)
{
	return (double)(int64_t)(t - t0) / 1e9;
}

/* Bytes as the transcript shows them: \xNN but for printables and \n. */
static int write_escaped(FILE *f, const uint8_t *p, size_t n)
{
	char buf[OUT_BUF + 8];
	size_t used = 0;
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		uint8_t c = p[i];

		if (c == '\\') {
			buf[used++] = '\\';
			buf[used++] = '\\';
		} else if (c == '\n' || (c >= 0x20 && c < 0x7f)) {
			buf[used++] = (char)c;
		} else {
			used += (size_t)snprintf(buf + used, 5, "\\x%02x", c);
		}
		if (used >= OUT_BUF) {
			err = write_all(f, buf, used);
			used = 0;
		}
	}
	if (!err && (!n || p[n - 1] != '\n'))
		buf[used++] = '\n';	/* the next header starts a line */
	return err ? err : write_all(f, buf, used);
}

static int replay_cb(void *ctx, const struct store_read_rec *r)
{
	struct replay *rp = ctx;
	char head[128], t[40];
	json_t *c, *ev;
	int err, n;

	if (r->kind == STORE_REC_EVENT) {
		/* the transcript marks events in place; they take no time */
		if (rp->raw || rp->chunks || rp->dirs != DIRS_BOTH)
			return 0;
		ev = json_loadb((const char *)r->payload, r->len, 0, NULL);
		n = snprintf(head, sizeof(head), "--- %+.3fs event %s\n",
			     rel_s(rp->t0, r->time_ns),
			     cli_jget(ev, "type", t, sizeof(t)));
		json_decref(ev);
		return write_all(rp->out, head, n < (int)sizeof(head) ?
					  (size_t)n : sizeof(head) - 1);
	}
	if (r->kind != STORE_REC_CHUNK || r->dir < 0 || r->dir > 7 ||
	    !(rp->dirs & (1u << r->dir)))
		return 0;
	if (rp->chunks) {
		c = json_pack("{s:o, s:s, s:f, s:s, s:o, s:o}",
			      "seq", cli_ju64(r->seq),
			      "time", cli_rfc3339(r->time_ns, t, sizeof(t)),
			      "offset", rel_s(rp->t0, r->time_ns),
			      "dir", dir_name(r->dir), "len", cli_ju64(r->len),
			      "data", b64_json(r->payload, r->len));
		return json_array_append_new(rp->chunks, c) ? -ENOMEM : 0;
	}
	err = pace(rp, r->time_ns);
	if (err)
		return err;
	/* from the first byte on, a late error must not look like output */
	cli.emitted = true;
	if (rp->raw)
		return write_all(rp->out, r->payload, r->len);
	n = snprintf(head, sizeof(head), "--- %+.3fs %s %zu bytes%s\n",
		     rel_s(rp->t0, r->time_ns), dir_name(r->dir), r->len,
		     r->flags & STORE_F_METADATA_ONLY ? " (not recorded)" : "");
	err = write_all(rp->out, head, (size_t)n);
	return err ? err : write_escaped(rp->out, r->payload, r->len);
}

static int do_replay(int argc, char **argv)
{
	static const char *const dirs[] = { "up", "down", "both", NULL };
	static const unsigned masks[] = {
		1u << STORE_DIR_UP, 1u << STORE_DIR_DOWN, DIRS_BOTH,
	};
	const char *id = NULL, *speed = NULL, *raw = NULL, *dir = NULL;
	const struct cli_opt opts[] = {
		{ "--speed", true, &speed },
		{ "--raw", false, &raw },
		{ "--dir", true, &dir },
		{ 0 }
	};
	struct replay rp = { .out = cli_out(), .dirs = DIRS_BOTH, .speed = 1 };
	char word[ID_HEX + 1];
	uint8_t sid[STORE_SID_LEN];
	struct store *s = NULL;
	json_t *meta = NULL;
	int rc, err, d;
	char *end;

	rc = cli_parse_opts("session", argc, argv, opts, &id);
	if (rc)
		return rc;
	rc = parse_id(id, word);
	if (rc)
		return rc;
	if (speed) {
		errno = 0;
		rp.speed = strtod(speed, &end);
		/* !(x >= 0) also refuses NaN */
		if (errno || end == speed || *end || !(rp.speed >= 0) ||
		    rp.speed > 1e9)
			return cli_usage("session", "--speed '%s': want a number "
					 ">= 0", speed);
	}
	if (dir) {
		d = cli_match_name(dirs, dir);
		if (d < 0)
			return cli_usage("session", "--dir '%s': want up, down or "
					 "both", dir);
		rp.dirs = masks[d];
	}
	rp.raw = raw != NULL;
	s = cli_store_open();
	if (!s)
		return CLI_FAIL;
	rc = resolve(s, word, sid, &meta, false);
	if (rc)
		goto out;
	rp.t0 = sid_ns(sid);
	if (cli.json && !rp.raw) {
		rp.chunks = json_array();
		if (!rp.chunks) {
			p_err("out of memory");
			rc = CLI_FAIL;
			goto out;
		}
	}
	err = store_records(s, sid, replay_cb, &rp);
	if (!err && !rp.chunks)
		err = flush_out(rp.out);
	if (err) {
		p_err("replay of %s: %s", id, strerror(-err));
		rc = CLI_FAIL;
		goto out;
	}
	if (rp.chunks) {
		cli_emit(rp.chunks);
		rp.chunks = NULL;
	}
out:
	json_decref(rp.chunks);
	json_decref(meta);
	store_close(s);
	return rc;
}

/* ---- verify ---------------------------------------------------------- */

static int do_verify(int argc, char **argv)
{
	const char *id = NULL, *pubkey = NULL;
	const struct cli_opt opts[] = {
		{ "--pubkey", true, &pubkey },
		{ 0 }
	};
	char word[ID_HEX + 1];
	uint8_t sid[STORE_SID_LEN];
	char why[512] = "", hex[ID_HEX + 1];
	struct store *s = NULL;
	json_t *meta = NULL;
	int rc, err;

	rc = cli_parse_opts("session", argc, argv, opts, &id);
	if (rc)
		return rc;
	rc = parse_id(id, word);
	if (rc)
		return rc;
	s = cli_store_open();
	if (!s)
		return CLI_FAIL;
	/* a full id is checked even if its `sessions` value is gone: the
	 * records and seals are the evidence, the value is not */
	rc = resolve(s, word, sid, &meta, true);
	if (rc)
		goto out;
	store_sid_format(sid, hex);
	err = store_verify(s, sid, pubkey, why, sizeof(why));
	if (err == -ENOENT && !meta && strstr(why, "no such session")) {
		p_err("no session %s", hex);
		rc = CLI_FAIL;
		goto out;
	}
	if (err && err != -EBADMSG) {
		p_err("cannot verify %s: %s", hex, why[0] ? why : strerror(-err));
		rc = CLI_FAIL;
		goto out;
	}
	rc = err ? CLI_FAIL : CLI_OK;
	if (cli.json)
		cli_emit(json_pack("{s:s, s:b, s:s}", "id", hex, "intact", !err,
				   "detail", why));
	else if (err)
		fprintf(cli_out(), "%s: NOT intact: %s\n", hex, why);
	else
		fprintf(cli_out(), "%s: intact (%s)\n", hex, why);
	if (err)
		/* the batch and scripts reading stderr learn why it failed */
		snprintf(cli.last_err, sizeof(cli.last_err), "%s: %s", hex, why);
out:
	json_decref(meta);
	store_close(s);
	return rc;
}

/* ---- export ---------------------------------------------------------- */

/* the SIEM formats follow, in formats.h's enum fmt_kind order */
enum { FMT_JSONL, FMT_ASCIICAST, FMT_SIEM };

struct export {
	FILE *out;
	int fmt;
	json_t *meta;		/* the session's value, for the SIEM formats */
	char id[ID_HEX + 1];
	uint64_t t0;
	double last_s;		/* asciicast times never go back */
	/* asciicast from exec events (proto/kstream.h's shape), not chunks */
	bool exec, exec_output;
	int width, height;
	/* by dir: a UTF-8 sequence cut by the chunk; exec: stdin in UP,
	 * stdout in DOWN, stderr in 0 */
	uint8_t carry[3][4];
	size_t ncarry[3];
	uint64_t carry_ns[3];
};

/*
 * Length of the well-formed UTF-8 sequence at p (Unicode table 3-7), 0 if
 * the n bytes end inside what could still become one, -1 if it is not one.
 */
static int utf8_len(const uint8_t *p, size_t n)
{
	uint8_t c = p[0], lo, hi;
	int len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return -1;
	for (int i = 1; i < len; i++) {
		if ((size_t)i >= n)
			return 0;
		lo = 0x80;
		hi = 0xbf;
		if (i == 1 && c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (i == 1 && c == 0xed)
			hi = 0x9f;	/* surrogates */
		else if (i == 1 && c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (i == 1 && c == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
		if (p[i] < lo || p[i] > hi)
			return -1;
	}
	return len;
}

/*
 * The carry of direction d followed by p as valid UTF-8 (each bad byte a
 * U+FFFD) in a new JSON string; a sequence cut at the end becomes the new
 * carry. NULL on allocation failure.
 */
static json_t *utf8_text(struct export *ex, int d, const uint8_t *p, size_t n)
{
	size_t total = ex->ncarry[d] + n, used = 0, i = 0;
	uint8_t *in = malloc(total + 1);
	char *out = malloc(3 * total + 1);
	json_t *v = NULL;

	if (!in || !out)
		goto out;
	memcpy(in, ex->carry[d], ex->ncarry[d]);
	if (n)
		memcpy(in + ex->ncarry[d], p, n);
	ex->ncarry[d] = 0;
	while (i < total) {
		int len = utf8_len(in + i, total - i);

		if (len > 0) {
			memcpy(out + used, in + i, (size_t)len);
			used += (size_t)len;
			i += (size_t)len;
		} else if (len == 0) {
			ex->ncarry[d] = total - i;	/* at most 3 bytes */
			memcpy(ex->carry[d], in + i, total - i);
			break;
		} else {
			memcpy(out + used, "\xef\xbf\xbd", 3);
			used += 3;
			i++;
		}
	}
	v = json_stringn(out, used);
out:
	free(in);
	free(out);
	return v;
}

/* cast_line()'s d for a resize ("r") line; 0 is stderr in exec mode */
#define CAST_RESIZE	3

/* One asciicast event line: [seconds, "o"|"i"|"r", text]. 0 or -errno. */
static int cast_line(struct export *ex, uint64_t t, int d, json_t *text)
{
	char head[64];
	double s = rel_s(ex->t0, t);
	int err, n;

	if (!text)
		return -ENOMEM;
	if (s < ex->last_s)
		s = ex->last_s;
	ex->last_s = s;
	n = snprintf(head, sizeof(head), "[%.6f, \"%s\", ", s,
		     d == STORE_DIR_UP ? "i" : d == CAST_RESIZE ? "r" : "o");
	err = write_all(ex->out, head, (size_t)n);
	if (!err && json_dumpf(text, ex->out, JSON_ENCODE_ANY))
		err = -EIO;
	if (!err)
		err = write_all(ex->out, "]\n", 2);
	json_decref(text);
	return err;
}

/* One event in a SIEM format (formats.c, as the exporter renders it). */
static int siem_line(struct export *ex, const struct store_read_rec *r)
{
	struct fmt_input in = {
		.sid = ex->id, .seq = r->seq, .time_ns = r->time_ns,
		.session = ex->meta,
	};
	json_t *out;
	char *text;
	int err;

	if (r->kind != STORE_REC_EVENT)
		return 0;
	in.event = json_loadb((const char *)r->payload, r->len, 0, NULL);
	if (!json_is_object(in.event)) {
		json_decref(in.event);
		in.event = json_pack("{s:s, s:s%}", "type", "unparseable", "raw",
				     (const char *)r->payload, r->len);
	}
	out = in.event ? fmt_render((enum fmt_kind)(ex->fmt - FMT_SIEM), &in) : NULL;
	text = out ? fmt_text(out) : NULL;
	err = text ? write_all(ex->out, text, strlen(text)) : -ENOMEM;
	if (!err)
		err = write_all(ex->out, "\n", 1);
	free(text);
	json_decref(out);
	json_decref(in.event);
	return err;
}

/* An exec event (kstream.h): {"type": "exec", "channel", "data"} or a
 * resize; NULL for anything else. Caller decrefs. */
static json_t *exec_event(const struct store_read_rec *r, const char **channel)
{
	json_t *ev;

	if (r->kind != STORE_REC_EVENT)
		return NULL;
	ev = json_loadb((const char *)r->payload, r->len, 0, NULL);
	*channel = json_string_value(json_object_get(ev, "channel"));
	if (!json_is_string(json_object_get(ev, "type")) || !*channel ||
	    strcmp(json_string_value(json_object_get(ev, "type")), "exec")) {
		json_decref(ev);
		return NULL;
	}
	return ev;
}

/* Before an asciicast: does the session hold exec events, and the size of
 * the terminal before its first output. */
static int cast_scan_cb(void *ctx, const struct store_read_rec *r)
{
	struct export *ex = ctx;
	const char *ch;
	json_t *ev = exec_event(r, &ch);
	json_int_t w, h;

	if (!ev)
		return 0;
	ex->exec = true;
	w = json_integer_value(json_object_get(ev, "width"));
	h = json_integer_value(json_object_get(ev, "height"));
	if (!strcmp(ch, "stdout") || !strcmp(ch, "stderr"))
		ex->exec_output = true;
	else if (!strcmp(ch, "resize") && !ex->exec_output && w > 0 && h > 0 && w <= 65535 &&
		 h <= 65535) {
		ex->width = (int)w;
		ex->height = (int)h;
	}
	json_decref(ev);
	return 0;
}

/* One exec event as an asciicast line; undecodable ones are left out. */
static int cast_exec(struct export *ex, const struct store_read_rec *r)
{
	const char *ch, *b64;
	json_t *ev = exec_event(r, &ch);
	uint8_t *bytes = NULL;
	size_t n, pad = 0;
	char size[32];
	int d, len, err = 0;

	if (!ev)
		return 0;
	b64 = json_string_value(json_object_get(ev, "data"));
	d = !strcmp(ch, "stdin") ? STORE_DIR_UP : !strcmp(ch, "stdout") ? STORE_DIR_DOWN
		: !strcmp(ch, "stderr") ? 0 : -1;
	if (!strcmp(ch, "resize")) {
		json_int_t w = json_integer_value(json_object_get(ev, "width"));
		json_int_t h = json_integer_value(json_object_get(ev, "height"));

		/* a resize before any output is the header's size */
		if (ex->exec_output && w > 0 && h > 0 && w <= 65535 && h <= 65535) {
			snprintf(size, sizeof(size), "%dx%d", (int)w, (int)h);
			err = cast_line(ex, r->time_ns, CAST_RESIZE, json_string(size));
		}
		goto out;
	}
	n = b64 ? strlen(b64) : 0;
	if (d < 0 || !n || n % 4 || n / 4 * 3 > INT_MAX)
		goto out;
	bytes = malloc(n / 4 * 3 + 1);
	if (!bytes) {
		err = -ENOMEM;
		goto out;
	}
	len = EVP_DecodeBlock(bytes, (const unsigned char *)b64, (int)n);
	if (len < 0)
		goto out;
	while (pad < 2 && n > pad && b64[n - 1 - pad] == '=')
		pad++;
	if (d != STORE_DIR_UP)
		ex->exec_output = true;
	ex->carry_ns[d] = r->time_ns;
	err = cast_line(ex, r->time_ns, d, utf8_text(ex, d, bytes, (size_t)len - pad));
out:
	free(bytes);
	json_decref(ev);
	return err;
}

static int export_cb(void *ctx, const struct store_read_rec *r)
{
	struct export *ex = ctx;
	bool chunk = r->kind == STORE_REC_CHUNK;
	json_t *o, *ev = NULL;
	char t[40];
	int err = 0;

	cli.emitted = true;
	if (ex->fmt >= FMT_SIEM)
		return siem_line(ex, r);
	if (ex->fmt == FMT_ASCIICAST && ex->exec)
		return cast_exec(ex, r);
	if (ex->fmt == FMT_ASCIICAST) {
		if (!chunk || (r->dir != STORE_DIR_UP && r->dir != STORE_DIR_DOWN))
			return 0;
		ex->carry_ns[r->dir] = r->time_ns;
		return cast_line(ex, r->time_ns, r->dir,
				 utf8_text(ex, r->dir, r->payload, r->len));
	}
	o = json_pack("{s:s, s:o, s:s, s:o, s:s, s:o, s:i, s:o}",
		      "id", ex->id, "seq", cli_ju64(r->seq),
		      "time", cli_rfc3339(r->time_ns, t, sizeof(t)),
		      "time_ns", cli_ju64(r->time_ns),
		      "kind", chunk ? "chunk" : "event",
		      "dir", chunk ? json_string(dir_name(r->dir)) : json_null(),
		      "flags", (int)r->flags, "len", cli_ju64(r->len));
	if (o && chunk) {
		err = json_object_set_new(o, "data", b64_json(r->payload, r->len));
	} else if (o) {
		ev = json_loadb((const char *)r->payload, r->len, 0, NULL);
		/* an event that is not JSON: its bytes, as for a chunk */
		err = ev ? json_object_set_new(o, "event", ev)
			 : json_object_set_new(o, "data", b64_json(r->payload,
								     r->len));
	}
	if (!o || err) {
		json_decref(o);
		return -ENOMEM;
	}
	if (json_dumpf(o, ex->out, JSON_COMPACT))
		err = -EIO;
	json_decref(o);
	return err ? err : write_all(ex->out, "\n", 1);
}

static int do_session_export(int argc, char **argv)
{
	static const char *const formats[] = { "jsonl", "asciicast", "k8s-audit",
					       "ocsf", "cef", NULL };
	const char *id = NULL, *format = NULL;
	const struct cli_opt opts[] = {
		{ "--format", true, &format },
		{ 0 }
	};
	struct export ex = { .out = cli_out(), .fmt = FMT_JSONL, .width = 80, .height = 24 };
	char word[ID_HEX + 1];
	uint8_t sid[STORE_SID_LEN];
	struct store *s = NULL;
	json_t *meta = NULL, *hdr = NULL;
	char title[128];
	int rc, err = 0;

	rc = cli_parse_opts("session", argc, argv, opts, &id);
	if (rc)
		return rc;
	rc = parse_id(id, word);
	if (rc)
		return rc;
	if (format) {
		ex.fmt = cli_match_name(formats, format);
		if (ex.fmt < 0)
			return cli_usage("session", "--format '%s': want jsonl, "
					 "asciicast, k8s-audit, ocsf or cef", format);
	}
	s = cli_store_open();
	if (!s)
		return CLI_FAIL;
	rc = resolve(s, word, sid, &meta, false);
	if (rc)
		goto out;
	store_sid_format(sid, ex.id);
	ex.t0 = sid_ns(sid);
	ex.meta = meta;
	if (ex.fmt == FMT_ASCIICAST) {
		err = store_records(s, sid, cast_scan_cb, &ex);
		ex.exec_output = false;
	}
	if (!err && ex.fmt == FMT_ASCIICAST) {
		snprintf(title, sizeof(title), "sluice session %s (%s)", ex.id,
			 json_is_string(json_object_get(meta, "target")) ?
			 json_string_value(json_object_get(meta, "target")) : "-");
		hdr = json_pack("{s:i, s:i, s:i, s:I, s:o}", "version", 2,
				"width", ex.width, "height", ex.height, "timestamp",
				(json_int_t)(ex.t0 / NS_PER_SEC), "title",
				cli_jstring(title));
		cli.emitted = true;
		err = !hdr || json_dumpf(hdr, ex.out, JSON_COMPACT) ? -EIO
			: write_all(ex.out, "\n", 1);
	}
	if (!err)
		err = store_records(s, sid, export_cb, &ex);
	/* a sequence cut by the end of the session is one bad character */
	for (int d = 0; !err && d <= STORE_DIR_DOWN; d++)
		if (ex.ncarry[d]) {
			ex.ncarry[d] = 0;
			err = cast_line(&ex, ex.carry_ns[d], d,
					json_string("\xef\xbf\xbd"));
		}
	if (!err)
		err = flush_out(ex.out);
	if (err) {
		p_err("export of %s: %s", ex.id, strerror(-err));
		rc = CLI_FAIL;
	}
out:
	json_decref(hdr);
	json_decref(meta);
	store_close(s);
	return rc;
}

/* ---- the table ------------------------------------------------------- */

static const struct cmd cmds[] = {
	{ "list", do_list, NULL },
	{ "show", do_show, NULL },
	{ "replay", do_replay, NULL },
	{ "verify", do_verify, NULL },
	{ "export", do_session_export, NULL },
	{ "help", NULL, NULL },	/* help_text */
	{ 0 }
};

int do_session(int argc, char **argv)
{
	return cli_dispatch(cmds, "session", help_text, argc, argv);
}
