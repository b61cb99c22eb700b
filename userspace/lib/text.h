/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef SLUICE_TEXT_H
#define SLUICE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Copy s into out (outlen > 4) for echoing into a one-line message that
 * ends up in logs: control characters become \xNN, quotes and backslashes
 * are escaped when `quotes`, and a string too long is cut with "...", so
 * hostile text can neither forge nor flood log lines. Always terminates.
 */
void text_sanitize(char *out, size_t outlen, const char *s, bool quotes);

#endif
