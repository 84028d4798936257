/* kstat report's escapes and number forms (tools/kstat/report_html.c), exact expectations. */
#include "t.h"
#include "../../tools/kstat/report_html.c"

static const char *esc(const char *s, size_t n, size_t max, int *cut)
{
    static kr_buf b;
    kr_free(&b);
    int c = kr_esc(&b, s, n, max);
    if (cut) *cut = c;
    return b.p ? b.p : "";
}

int main(void)
{
    int cut;
    T_EQ_STR(esc("<script>\"'&", 11, 0, NULL), "&lt;script&gt;&quot;&#39;&amp;", "markup characters become entities");
    T_EQ_STR(esc("a\x01\x1b\x7f" "b", 5, 0, NULL), "a\\x01\\x1B\\x7Fb", "control characters and DEL shown as \\xNN");
    T_EQ_STR(esc("\xff\xc3(", 3, 0, NULL), "\\xFF\\xC3(", "bytes that are not UTF-8 shown as \\xNN");
    T_EQ_STR(esc("x\xe2\x80\xaey", 5, 0, NULL), "x\\u202Ey", "a right-to-left override is shown, not obeyed");
    T_EQ_STR(esc("\xc2\x85", 2, 0, NULL), "\\u0085", "a C1 control is shown");
    T_EQ_STR(esc("h\xc3\xa9llo \xf0\x9f\x98\x80", 11, 0, NULL), "h\xc3\xa9llo \xf0\x9f\x98\x80", "valid UTF-8 kept");
    T_EQ_STR(esc("\xed\xa0\x80", 3, 0, NULL), "\\xED\\xA0\\x80", "a UTF-16 surrogate is not UTF-8");
    T_EQ_STR(esc("h\xc3\xa9llo w\xc3\xb6rld", 13, 5, &cut), "h\xc3\xa9llo\xe2\x80\xa6", "cut after 5 characters, not bytes");
    T_EQ_INT(cut, 1, "the cut is reported");
    T_EQ_STR(esc("hello", 5, 5, &cut), "hello", "exactly max characters: no cut");
    T_EQ_INT(cut, 0, "no cut reported");
    T_EQ_STR(esc("a\0b", 3, 0, NULL), "a\\x00b", "an embedded NUL is shown");

    kr_buf b = {0};
    kr_kfl_str(&b, "a\"b\\c\nd\x01", 8);
    T_EQ_STR(b.p, "\"a\\\"b\\\\c\\nd\\u0001\"", "KFL string literal");
    kr_free(&b);
    kr_sh_quote(&b, "it's", 4);
    T_EQ_STR(b.p, "'it'\\''s'", "shell single quotes");
    kr_free(&b);
    kr_dot_str(&b, "a\"b\\N\x01" "c", 0);
    T_EQ_STR(b.p, "\"a\\\"b\\\\Nc\"", "Graphviz string: quote and backslash escaped, controls dropped");
    kr_free(&b);
    kr_dot_str(&b, "\xc3\xa9\xc3\xa9\xc3\xa9", 2);
    T_EQ_STR(b.p, "\"\xc3\xa9\xc3\xa9\xe2\x80\xa6\"", "Graphviz string cut by characters");
    kr_free(&b);

    char buf[64];
    T_EQ_STR(kr_us_human(-1, buf, sizeof buf), "-", "no latency");
    T_EQ_STR(kr_us_human(850, buf, sizeof buf), "850 \xc2\xb5s", "µs");
    T_EQ_STR(kr_us_human(1500, buf, sizeof buf), "1.50 ms", "ms with two decimals");
    T_EQ_STR(kr_us_human(250000, buf, sizeof buf), "250 ms", "hundreds of ms");
    T_EQ_STR(kr_us_human(1500626, buf, sizeof buf), "1.50 s", "seconds");
    T_EQ_STR(kr_pct(0.025, buf, sizeof buf), "2.5 %", "percent");
    T_EQ_STR(kr_pct(0.0001, buf, sizeof buf), "&lt; 0.1 %", "tiny percent");
    T_EQ_STR(kr_count(1234567, buf, sizeof buf), "1,234,567", "thousands");
    T_EQ_STR(kr_count(0, buf, sizeof buf), "0", "zero");
    kr_base64((const uint8_t *)"abc", 3, buf);
    T_EQ_STR(buf, "YWJj", "base64 of 3 bytes");
    kr_base64((const uint8_t *)"ab", 2, buf);
    T_EQ_STR(buf, "YWI=", "base64 with one pad");
    kr_base64((const uint8_t *)"a", 1, buf);
    T_EQ_STR(buf, "YQ==", "base64 with two pads");
    esc("", 0, 0, NULL);
    T_DONE();
}
