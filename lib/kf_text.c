/* kf_text — escaping control characters in text shown to people (see kf_text.h). */
#include "kf_text.h"
#include <stdio.h>
#include <string.h>

/* length of the valid UTF-8 sequence at p (1..4), 0 if p does not start one */
static size_t utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned min;
    if ((c & 0xe0) == 0xc0) { n = 2; min = 0x80; }
    else if ((c & 0xf0) == 0xe0) { n = 3; min = 0x800; }
    else if ((c & 0xf8) == 0xf0) { n = 4; min = 0x10000; }
    else return 0;
    unsigned cp = c & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

size_t kf_text_escape(const char *in, char *out, size_t outlen)
{
    if (!outlen) return 0;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)(in ? in : "");
    while (*p) {
        char e[8];
        size_t el, adv = 1;
        const char *src = e;
        size_t u = utf8_len(p);
        if (*p == '\n') { memcpy(e, "\\n", 2); el = 2; }
        else if (*p == '\r') { memcpy(e, "\\r", 2); el = 2; }
        else if (*p == '\t') { memcpy(e, "\\t", 2); el = 2; }
        else if (*p < 0x20 || *p == 0x7f || u == 0) { snprintf(e, sizeof e, "\\x%02x", *p); el = 4; }
        else if (u == 2 && p[0] == 0xc2 && p[1] < 0xa0) { snprintf(e, sizeof e, "\\u%04x", p[1]); el = 6; adv = 2; }
        else { src = (const char *)p; el = u; adv = u; }
        if (o + el >= outlen) break;
        memcpy(out + o, src, el);
        o += el;
        p += adv;
    }
    out[o] = 0;
    return o;
}

int kf_text_is_clean(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t u = utf8_len(p);
        if (*p < 0x20 || *p == 0x7f || u == 0 || (u == 2 && p[0] == 0xc2 && p[1] < 0xa0)) return 0;
        p += u;
    }
    return 1;
}
