/* Fuzz target: kstat report's escapes (tools/kstat/report_html.c). Any bytes, HTML-escaped with and
 * without a length cut, must come out as text a browser cannot take for markup: no < > " ', every
 * & starts one of our entities, no control character, only valid UTF-8 with no bidi override.
 * The KFL and shell quotings must round-trip: unquoting them gives the input back. */
#include <stdint.h>
#include <stdlib.h>
#include "../../tools/kstat/report_html.c"

static void check_html(const kr_buf *b)
{
    const unsigned char *p = (const unsigned char *)(b->p ? b->p : "");
    for (size_t i = 0; i < b->n;) {
        unsigned c = p[i];
        if (c == '<' || c == '>' || c == '"' || c == '\'' || c < 0x20 || c == 0x7F) abort();
        if (c == '&') {
            static const char *const ent[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
            size_t k;
            for (k = 0; k < 5; k++)
                if (!strncmp((const char *)p + i, ent[k], strlen(ent[k]))) break;
            if (k == 5) abort();
        }
        uint32_t cp;
        size_t n = utf8_len(p + i, b->n - i, &cp);
        if (!n) abort();                            /* not UTF-8 */
        if (hidden_cp(cp)) abort();                  /* a bidi override or invisible mark got through */
        i += n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    kr_buf b = {0};
    kr_esc(&b, s, size, 0);
    check_html(&b);
    kr_free(&b);
    kr_esc(&b, s, size, size % 7 + 1);
    check_html(&b);
    kr_free(&b);
    /* KFL literal: "…" with \" \\ \n \t \u00XX; undo and compare */
    kr_kfl_str(&b, s, size);
    if (b.n < 2 || b.p[0] != '"' || b.p[b.n - 1] != '"') abort();
    kr_buf u = {0};
    for (size_t i = 1; i + 1 < b.n; i++) {
        char c = b.p[i];
        if (c == '"') abort();                       /* an unescaped quote ends the literal early */
        if (c != '\\') { kr_put(&u, &c, 1); continue; }
        c = b.p[++i];
        if (c == 'n') kr_put(&u, "\n", 1);
        else if (c == 't') kr_put(&u, "\t", 1);
        else if (c == 'u') { char h[5] = {b.p[i + 1], b.p[i + 2], b.p[i + 3], b.p[i + 4], 0}; char v = (char)strtol(h, NULL, 16); kr_put(&u, &v, 1); i += 4; }
        else kr_put(&u, &c, 1);
    }
    if (u.n != size || (size && memcmp(u.p, s, size))) abort();
    kr_free(&u);
    kr_free(&b);
    /* shell: '…' with ' as '\'' */
    kr_sh_quote(&b, s, size);
    for (size_t i = 1; i + 1 < b.n; i++) {
        if (b.p[i] != '\'') { kr_put(&u, b.p + i, 1); continue; }
        if (b.n - i < 4 || memcmp(b.p + i, "'\\''", 4)) abort();
        kr_put(&u, "'", 1);
        i += 3;
    }
    if (u.n != size || (size && memcmp(u.p, s, size))) abort();
    kr_free(&u);
    kr_free(&b);
    return 0;
}
