/* Byte-limited copies of UTF-8 text (snprintf's "%.Ns", a fixed buffer) can end inside a
 * multi-byte sequence, and jansson refuses such a string (json_string returns NULL, and the
 * key or the whole alert text silently disappears). */
#ifndef DRIFTD_UTF8CUT_H
#define DRIFTD_UTF8CUT_H

#include <string.h>

/* Drop an incomplete UTF-8 sequence at the end of s (NUL-terminated), in place. */
static inline void dd_utf8_cut(char *s)
{
	size_t n = strlen(s), i = n;
	/* Back to the last byte that is not a continuation byte (at most 3 steps). */
	while (i > 0 && n - i < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
		i--;
	if (i == 0)
		return;
	unsigned char lead = (unsigned char)s[i - 1];
	size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
	if (n - (i - 1) < need)
		s[i - 1] = '\0';
}

#endif
