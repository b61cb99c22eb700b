/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * JSON-lines logging to stderr: {"ts","level","msg",...fields}.
 * Thread-safe: each line is formatted whole and written with one write(2).
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Lines below this level are dropped. Default LOG_INFO. */
void log_set_level(enum log_level lvl);
/* "debug"|"info"|"warn"|"error" -> level; returns 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);

/*
 * Log `msg` with extra fields given as a jansson pack format and its
 * arguments, e.g. log_kv(LOG_INFO, "accepted", "{s:i}", "fd", fd).
 * `fmt` may be NULL for no extra fields. Never fails visibly: a field that
 * cannot be packed is reported in the line instead.
 */
void log_kv(enum log_level lvl, const char *msg, const char *fmt, ...);

#define log_info(msg, ...)  log_kv(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...)  log_kv(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_kv(LOG_ERROR, msg, __VA_ARGS__)
#define log_debug(msg, ...) log_kv(LOG_DEBUG, msg, __VA_ARGS__)

#endif
