// SPDX-License-Identifier: BSD-2-Clause
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "text.h"

void text_sanitize(char *out, size_t outlen, const char *s, bool quotes)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		size_t need = (ch < 0x20 || ch == 0x7f)		      ? 4 :
			      (quotes && (ch == '"' || ch == '\\')) ? 2 :
								      1;

		if (o + need + 4 > outlen) {
			if (o + 4 <= outlen) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 4) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			if (need == 2)
				out[o++] = '\\';
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
}
