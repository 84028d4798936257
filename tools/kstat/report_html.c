/* report_html — buffer and escapes for `kstat report` (see report_html.h).
 * Hand-written: none of the chosen libraries escapes HTML, and the rules here (visible control
 * characters, bidi overrides, cut by characters not bytes) are the report's own. */
#include "report_html.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(kr_buf *b, size_t add)
{
    if (b->oom) return -1;
    if (b->n + add + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + add + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) { b->oom = 1; return -1; }
    b->p = p;
    b->cap = cap;
    return 0;
}

void kr_put(kr_buf *b, const char *s, size_t n)
{
    if (grow(b, n) < 0) return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void kr_puts(kr_buf *b, const char *s) { kr_put(b, s, strlen(s)); }

void kr_printf(kr_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if ((size_t)k < sizeof tmp) { kr_put(b, tmp, (size_t)k); return; }
    if (grow(b, (size_t)k) < 0) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

void kr_free(kr_buf *b) { free(b->p); memset(b, 0, sizeof *b); }

/* length of the valid UTF-8 sequence at s (1..4), 0 when it is not one */
static size_t utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    size_t k;
    uint32_t v;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xC2 && c <= 0xDF) { k = 2; v = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { k = 3; v = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { k = 4; v = c & 0x07; }
    else return 0;
    if (n < k) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if ((k == 3 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))) || (k == 4 && (v < 0x10000 || v > 0x10FFFF)))
        return 0;
    *cp = v;
    return k;
}

static int hidden_cp(uint32_t cp)
{
    return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E ||
           cp == 0x200F || cp == 0x061C || cp == 0xFEFF || (cp >= 0x80 && cp < 0xA0);
}

int kr_esc(kr_buf *b, const char *s, size_t n, size_t max_chars)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, chars = 0, run = 0;   /* run: start of bytes copied as they are */
    if (!s) return 0;
    while (i < n) {
        if (max_chars && chars >= max_chars) {
            kr_put(b, s + run, i - run);
            kr_puts(b, "\xE2\x80\xA6");   /* … */
            return 1;
        }
        unsigned c = p[i];
        const char *rep = NULL;
        char tmp[16];
        size_t k = 1;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default:
            if (c < 0x20 || c == 0x7F) { snprintf(tmp, sizeof tmp, "\\x%02X", c); rep = tmp; }
            else if (c >= 0x80) {
                uint32_t cp;
                k = utf8_len(p + i, n - i, &cp);
                if (!k) { snprintf(tmp, sizeof tmp, "\\x%02X", c); rep = tmp; k = 1; }
                else if (hidden_cp(cp)) { snprintf(tmp, sizeof tmp, "\\u%04X", (unsigned)cp); rep = tmp; }
            }
        }
        if (rep) {
            kr_put(b, s + run, i - run);
            kr_puts(b, rep);
            run = i + k;
        }
        i += k;
        chars++;
    }
    kr_put(b, s + run, n - run);
    return 0;
}

int kr_escs(kr_buf *b, const char *s, size_t max_chars)
{
    return s ? kr_esc(b, s, strlen(s), max_chars) : 0;
}

void kr_kfl_str(kr_buf *out, const char *s, size_t n)
{
    kr_put(out, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[8];
        const char *rep = NULL;
        if (c == '"') rep = "\\\"";
        else if (c == '\\') rep = "\\\\";
        else if (c == '\n') rep = "\\n";
        else if (c == '\t') rep = "\\t";
        else if (c < 0x20 || c == 0x7F) { snprintf(tmp, sizeof tmp, "\\u%04x", c); rep = tmp; }
        if (rep) {
            kr_put(out, s + run, i - run);
            kr_puts(out, rep);
            run = i + 1;
        }
    }
    kr_put(out, s + run, n - run);
    kr_put(out, "\"", 1);
}

void kr_sh_quote(kr_buf *out, const char *s, size_t n)
{
    kr_put(out, "'", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\'') {
            kr_put(out, s + run, i - run);
            kr_puts(out, "'\\''");
            run = i + 1;
        }
    kr_put(out, s + run, n - run);
    kr_put(out, "'", 1);
}

void kr_dot_str(kr_buf *out, const char *s, size_t max_chars)
{
    kr_put(out, "\"", 1);
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if ((*p & 0xC0) != 0x80 && max_chars && chars++ >= max_chars) { kr_puts(out, "\xE2\x80\xA6"); break; }
        if (*p == '"' || *p == '\\') { char e[2] = {'\\', (char)*p}; kr_put(out, e, 2); }
        else if (*p < 0x20 || *p == 0x7F) continue;
        else kr_put(out, (const char *)p, 1);
    }
    kr_put(out, "\"", 1);
}

char *kr_us_human(int64_t us, char *buf, size_t len)
{
    if (us < 0) snprintf(buf, len, "-");
    else if (us < 1000) snprintf(buf, len, "%lld \xC2\xB5s", (long long)us);
    else if (us < 10000) snprintf(buf, len, "%.2f ms", us / 1e3);
    else if (us < 100000) snprintf(buf, len, "%.1f ms", us / 1e3);
    else if (us < 1000000) snprintf(buf, len, "%.0f ms", us / 1e3);
    else if (us < 60000000) snprintf(buf, len, "%.2f s", us / 1e6);
    else snprintf(buf, len, "%.1f min", us / 6e7);
    return buf;
}

char *kr_pct(double r, char *buf, size_t len)
{
    if (r <= 0) snprintf(buf, len, "0 %%");
    else if (r < 0.001) snprintf(buf, len, "&lt; 0.1 %%");
    else if (r < 0.1) snprintf(buf, len, "%.1f %%", r * 100);
    else snprintf(buf, len, "%.0f %%", r * 100);
    return buf;
}

char *kr_count(uint64_t v, char *buf, size_t len)
{
    char tmp[32];
    int k = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < k && o + 2 < len; i++) {
        if (i && (k - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
    return buf;
}

void kr_base64(const uint8_t *p, size_t n, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = t[v >> 18]; out[o++] = t[v >> 12 & 63]; out[o++] = t[v >> 6 & 63]; out[o++] = t[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        out[o++] = t[v >> 18]; out[o++] = t[v >> 12 & 63];
        out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
        out[o++] = '=';
    }
    out[o] = 0;
}
