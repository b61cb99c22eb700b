/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The formats events leave the node in (DESIGN §6): Kubernetes audit
 * (audit.k8s.io/v1 Event), OCSF and CEF. Pure functions of one recorded
 * event plus its session's `sessions` value: no store, no I/O, so the
 * exporter and `sluice session export` render the same bytes.
 *
 * The mapping of every event type is written down in README "Export to
 * SIEMs"; an event type this file does not know still goes out, as the
 * format's generic shape carrying the whole event.
 */
#ifndef SLUICE_EXPORT_FORMATS_H
#define SLUICE_EXPORT_FORMATS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define FMT_OCSF_VERSION	"1.3.0"

enum fmt_kind { FORMAT_K8S_AUDIT, FORMAT_OCSF, FORMAT_CEF };

/* "k8s-audit" | "ocsf" | "cef" -> kind: 0 or -EINVAL. */
int fmt_parse(const char *name, enum fmt_kind *out);
/* The kind's name (static). */
const char *fmt_name(enum fmt_kind k);

/* RFC 3339 UTC with microseconds: "2026-01-02T03:04:05.123456Z". */
#define FMT_TIME_LEN	80
void fmt_time(uint64_t ns, char out[FMT_TIME_LEN]);

/* One thing to render; everything borrowed. */
struct fmt_input {
	const char *sid;	/* 32 hex digits */
	uint64_t seq;		/* the event's seq in its session */
	uint64_t time_ns;	/* the record's time */
	int is_seal;		/* event is a seal value {"payload","sig"} */
	json_t *event;		/* the event object (or seal value) */
	json_t *session;	/* the session's `sessions` value, or NULL */
};

/*
 * Render in as kind. k8s-audit and OCSF give a JSON object, CEF a JSON
 * string (the CEF line). New reference (caller decrefs), or NULL with
 * errno set (ENOMEM, EINVAL when the event is not an object).
 */
json_t *fmt_render(enum fmt_kind kind, const struct fmt_input *in);

/*
 * The text of a rendered value as it goes on the wire: compact JSON for
 * an object, the string itself for CEF; no newline. Caller frees; NULL
 * with errno ENOMEM.
 */
char *fmt_text(json_t *rendered);

/*
 * CEF escaping (exposed for tests): a header field escapes '\' and '|'
 * and turns CR/LF into spaces (a header may not break a line); an
 * extension value escapes '\' and '=' and writes CR/LF as "\r"/"\n".
 * Appends to out (a growing buffer); returns 0 or -ENOMEM.
 */
struct fmt_buf {
	char *p;
	size_t len, cap;
};
int fmt_cef_header(struct fmt_buf *b, const char *s);
/* Append n bytes (kept NUL-terminated); 0 or -ENOMEM. Free b->p after. */
int fmt_buf_add(struct fmt_buf *b, const void *p, size_t n);
int fmt_cef_ext(struct fmt_buf *b, const char *s);

#endif
