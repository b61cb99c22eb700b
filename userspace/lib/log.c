// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "log.h"

static enum log_level min_level = LOG_INFO;
static const char *const names[] = { "debug", "info", "warn", "error" };

void log_set_level(enum log_level lvl)
{
	min_level = lvl;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_kv(enum log_level lvl, const char *msg, const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char when[96];
	json_t *line = NULL, *extra = NULL;
	json_error_t jerr;
	char *text = NULL;
	va_list ap;

	if (lvl < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
	if (fmt) {
		va_start(ap, fmt);
		extra = json_vpack_ex(&jerr, 0, fmt, ap);
		va_end(ap);
	}
	line = json_pack("{s:s, s:s, s:s}", "ts", when, "level", names[lvl],
			 "msg", msg);
	if (!line)
		return;
	if (extra)
		json_object_update(line, extra);
	else if (fmt)
		json_object_set_new(line, "log_error", json_string(jerr.text));
	text = json_dumps(line, JSON_COMPACT);
	if (text) {
		size_t n = strlen(text);

		text[n] = '\n';
		/* one write per line keeps lines whole across threads */
		if (write(STDERR_FILENO, text, n + 1) < 0)
			errno = 0;
		free(text);
	}
	json_decref(extra);
	json_decref(line);
}
