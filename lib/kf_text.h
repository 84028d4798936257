/* kf_text — making data-derived text safe to show: every message that quotes a member name, a
 * file name, a comment or a field from the input goes through kf_text_escape, so a name holding
 * "\n" or "ESC[2J" cannot split an error over two lines or rewrite the terminal. */
#ifndef KF_TEXT_H
#define KF_TEXT_H
#include <stddef.h>

/* Copies in to out (always NUL-terminated when outlen > 0), writing C0 controls and DEL as
 * \n \r \t or \xHH, C1 controls (U+0080..U+009F) as \u00HH and bytes that are not valid UTF-8
 * as \xHH; other text, including valid UTF-8, is kept. Returns the length written. */
size_t kf_text_escape(const char *in, char *out, size_t outlen);
/* 1 if s holds nothing kf_text_escape would change. */
int kf_text_is_clean(const char *s);
#endif
