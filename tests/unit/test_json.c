/* Unit tests for lib/kf_json: commas, nesting, escaping (incl. invalid UTF-8 as \xNN), numbers,
 * base64, time; every produced line is parsed back with jansson. */
#include "t.h"
#include "kf_json.h"
#include <jansson.h>
#include <math.h>

static int parses(const kf_jw *w)
{
    json_error_t e;
    json_t *j = json_loadb(kf_jw_data(w), kf_jw_len(w), JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!j) printf("#   jansson: %s: %s\n", e.text, kf_jw_data(w));
    json_decref(j);
    return j != NULL;
}

/* decodes the single string value in w with jansson */
static char *decoded(const kf_jw *w)
{
    static char out[512];
    json_t *j = json_loadb(kf_jw_data(w), kf_jw_len(w), JSON_DECODE_ANY, NULL);
    if (!j || !json_is_string(j)) { json_decref(j); return NULL; }
    snprintf(out, sizeof out, "%s", json_string_value(j));
    json_decref(j);
    return out;
}

int main(void)
{
    kf_jw w;
    kf_jw_init(&w);

    kf_jw_obj_begin(&w);
    kf_jw_kstr(&w, "a", "x");
    kf_jw_kint(&w, "b", -5);
    kf_jw_key(&w, "c");
    kf_jw_arr_begin(&w);
    kf_jw_uint(&w, 4294967296ULL);
    kf_jw_bool(&w, 1);
    kf_jw_null(&w);
    kf_jw_obj_begin(&w);
    kf_jw_obj_end(&w);
    kf_jw_arr_begin(&w);
    kf_jw_arr_end(&w);
    kf_jw_arr_end(&w);
    kf_jw_kbool(&w, "d", 0);
    kf_jw_kstr(&w, "e", NULL);
    kf_jw_obj_end(&w);
    kf_jw_newline(&w);
    T_EQ_STR(kf_jw_data(&w), "{\"a\":\"x\",\"b\":-5,\"c\":[4294967296,true,null,{},[]],\"d\":false,\"e\":null}\n",
             "commas and nesting");
    T_OK(parses(&w), "nested record parses with jansson");

    /* second record after newline starts fresh */
    kf_jw_obj_begin(&w);
    kf_jw_kint(&w, "n", 2);
    kf_jw_obj_end(&w);
    kf_jw_newline(&w);
    T_OK(strstr(kf_jw_data(&w), "}\n{\"n\":2}\n") != NULL, "second record has no leading comma");

    kf_jw_reset(&w);
    T_EQ_INT(kf_jw_len(&w), 0, "reset empties");
    kf_jw_str(&w, "q\"b\\s\n\t\r\b\f\x01\x1f\x7f");
    T_EQ_STR(kf_jw_data(&w), "\"q\\\"b\\\\s\\n\\t\\r\\b\\f\\u0001\\u001f\x7f\"", "control and quote escapes");
    T_OK(parses(&w), "escaped string parses");

    /* valid UTF-8 passes through: é (2 bytes), € (3), 😀 (4) */
    kf_jw_reset(&w);
    kf_jw_str(&w, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    T_EQ_STR(kf_jw_data(&w), "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", "valid UTF-8 unchanged");

    /* invalid: lone continuation, truncated lead, overlong, surrogate, >U+10FFFF, 0xff */
    struct { const char *in; const char *want; } bad[] = {
        { "a\x80z", "a\\xpz" },
        { "\xc3", "\\xc3" },
        { "\xc0\xaf", "\\xc0\\xaf" },
        { "\xe0\x80\xaf", "\\xe0\\x80\\xaf" },
        { "\xed\xa0\x80", "\\xed\\xa0\\x80" },
        { "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80" },
        { "\xff\xfe", "\\xff\\xfe" },
        { "\xe2\x82", "\\xe2\\x82" },
    };
    bad[0].want = "a\\x80z";
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kf_jw_reset(&w);
        kf_jw_str(&w, bad[i].in);
        T_OK(parses(&w), "invalid UTF-8 case %zu gives valid JSON", i);
        T_EQ_STR(decoded(&w), bad[i].want, "invalid UTF-8 case %zu decodes to the text \\xNN", i);
    }

    /* embedded NUL via strn */
    kf_jw_reset(&w);
    kf_jw_strn(&w, "a\0b", 3);
    T_EQ_STR(kf_jw_data(&w), "\"a\\u0000b\"", "NUL escaped");

    /* every single byte value gives a parseable string */
    int allok = 1;
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        kf_jw_reset(&w);
        kf_jw_strn(&w, &c, 1);
        if (!parses(&w)) allok = 0;
    }
    T_OK(allok, "every byte value alone parses");

    kf_jw_reset(&w);
    kf_jw_uint(&w, UINT64_MAX);
    T_EQ_STR(kf_jw_data(&w), "18446744073709551615", "largest uint");
    {   /* an encoded value with its key: the text kf_jw_key + kf_jw_raw write */
        kf_jw_reset(&w);
        kf_jw_obj_begin(&w);
        kf_jw_kraw(&w, "a", "{\"x\":1}", 7);
        const char *k = getenv("KF_T_NOSUCH") ? "x" : "b\"";   /* not a constant: the escaping way */
        kf_jw_kraw(&w, k, "[]", 2);
        kf_jw_obj_end(&w);
        T_EQ_STR(kf_jw_data(&w), "{\"a\":{\"x\":1},\"b\\\"\":[]}", "kraw: key and encoded value");
    }
    {   /* every number of digits at its edges, and powers of two, against printf's */
        int good = 1;
        char want[64];
        for (int k = 0; k < 64 && good; k++) {
            uint64_t p10 = 1;
            for (int j = 0; j < k % 20; j++) p10 *= 10;
            uint64_t vs[] = { p10 - 1, p10, p10 + 1, (uint64_t)1 << k, ((uint64_t)1 << k) - 1, UINT64_MAX - (uint64_t)k };
            for (size_t x = 0; x < sizeof vs / sizeof vs[0]; x++) {
                kf_jw_reset(&w);
                kf_jw_kuint(&w, "n", vs[x]);
                snprintf(want, sizeof want, "\"n\":%" PRIu64, vs[x]);
                if (strcmp(kf_jw_data(&w), want) != 0) { good = 0; printf("#   got %s, want %s\n", kf_jw_data(&w), want); }
            }
        }
        T_OK(good, "unsigned numbers at every digit count's edges as printf writes them");
    }

    /* random byte strings (biased to UTF-8 lead/continuation bytes): always one valid line */
    {
        uint32_t seed = 12345;
        int good = 1;
        for (int i = 0; i < 20000 && good; i++) {
            unsigned char r[24];
            size_t len = (size_t)(i % 24);
            for (size_t k = 0; k < len; k++) {
                seed = seed * 1103515245u + 12345u;
                unsigned v = seed >> 16;
                static const unsigned char pick[] = { 0x80, 0xbf, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, '\n', '"', '\\', 0, 'a' };
                r[k] = (v & 1) ? pick[(v >> 1) & 15] : (unsigned char)(v >> 3);
            }
            kf_jw_reset(&w);
            kf_jw_strn(&w, (const char *)r, len);
            if (memchr(kf_jw_data(&w), '\n', kf_jw_len(&w)) || !parses(&w)) good = 0;
        }
        T_OK(good, "20000 random byte strings: valid JSON and UTF-8, no raw newline");
    }

    /* strings of pieces whose escaped text is known (plain ASCII runs, quotes, backslashes,
     * control bytes, valid UTF-8, invalid bytes), at every length and offset the word-wise
     * escaper meets: the text the writer and kf_json_escape make, byte for byte */
    {
        static const struct { const char *in, *out; } piece[] = {
            { "a", "a" }, { "json", "json" }, { "0123456789", "0123456789" }, { "\"", "\\\"" },
            { "\\", "\\\\" }, { "\n", "\\n" }, { "\t", "\\t" }, { "\x01", "\\u0001" }, { "\x1f", "\\u001f" },
            { "\x7f", "\x7f" }, { "\xc3\xa9", "\xc3\xa9" }, { "\xe2\x82\xac", "\xe2\x82\xac" },
            { "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" }, { "\xff", "\\\\xff" }, { "\xc3", "\\\\xc3" }, { " ", " " },
        };
        uint32_t seed = 777;
        int good = 1;
        char in[160], want[1024], got[1024];
        for (int i = 0; i < 30000 && good; i++) {
            size_t il = 0, wl = 0;
            int np = i % 24;
            for (int k = 0; k < np; k++) {
                seed = seed * 1103515245u + 12345u;
                /* mostly plain runs and quotes (JSON bodies); no piece starts with a continuation
                 * byte, so a lone lead byte stays invalid whatever follows */
                unsigned v = (seed >> 16) % 40, x = v < 16 ? v : v < 28 ? 0 : v < 34 ? 3 : 2;
                size_t a = strlen(piece[x].in), o = strlen(piece[x].out);
                memcpy(in + il, piece[x].in, a); il += a;
                memcpy(want + wl, piece[x].out, o); wl += o;
            }
            want[wl] = 0;
            size_t n = kf_json_escape(in, il, got, sizeof got);
            if (n != wl || strcmp(got, want) != 0) good = 0;
            n = kf_json_escape(in, il, got, wl + 1);   /* exactly room: the careful path */
            if (n != wl || strcmp(got, want) != 0) good = 0;
            kf_jw_reset(&w);
            kf_jw_strn(&w, in, il);
            if (kf_jw_len(&w) != wl + 2 || memcmp(kf_jw_data(&w) + 1, want, wl) != 0) good = 0;
            if (!good) printf("#   case %d: got \"%s\", want \"%s\"\n", i, got, want);
        }
        T_OK(good, "30000 strings of known pieces: escaped text byte for byte");
    }

    /* numbers */
    kf_jw_reset(&w);
    kf_jw_arr_begin(&w);
    kf_jw_int(&w, INT64_MIN);
    kf_jw_double(&w, 0.1);
    kf_jw_double(&w, 1.0 / 3);
    kf_jw_double(&w, NAN);
    kf_jw_double(&w, INFINITY);
    kf_jw_double(&w, 250.0);
    kf_jw_arr_end(&w);
    T_EQ_STR(kf_jw_data(&w), "[-9223372036854775808,0.1,0.33333333333333331,null,null,250]", "numbers");
    T_OK(parses(&w), "numbers parse");

    /* base64 */
    const char *b64in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    const char *b64out[] = { "\"\"", "\"Zg==\"", "\"Zm8=\"", "\"Zm9v\"", "\"Zm9vYg==\"", "\"Zm9vYmE=\"", "\"Zm9vYmFy\"" };
    for (int i = 0; i < 7; i++) {
        kf_jw_reset(&w);
        kf_jw_base64(&w, (const uint8_t *)b64in[i], strlen(b64in[i]));
        T_EQ_STR(kf_jw_data(&w), b64out[i], "base64 of '%s' (RFC 4648 vector)", b64in[i]);
    }

    /* time */
    kf_jw_reset(&w);
    kf_jw_obj_begin(&w);
    kf_jw_ktime(&w, "ts", 1773509025123456789LL);
    kf_jw_ktime(&w, "t0", 0);
    kf_jw_ktime(&w, "neg", -1);
    kf_jw_obj_end(&w);
    T_EQ_STR(kf_jw_data(&w), "{\"ts\":\"2026-03-14T17:23:45.123456789Z\",\"t0\":\"1970-01-01T00:00:00.000000000Z\","
             "\"neg\":\"1969-12-31T23:59:59.999999999Z\"}", "RFC 3339 ns times");

    /* raw and kstrn */
    kf_jw_reset(&w);
    kf_jw_obj_begin(&w);
    kf_jw_key(&w, "r");
    kf_jw_raw(&w, "{\"x\":1}", 7);
    kf_jw_kstrn(&w, "s", "abcdef", 3);
    kf_jw_kdouble(&w, "d", 1.5);
    kf_jw_kuint(&w, "u", 7);
    kf_jw_obj_end(&w);
    T_EQ_STR(kf_jw_data(&w), "{\"r\":{\"x\":1},\"s\":\"abc\",\"d\":1.5,\"u\":7}", "raw value and shorthands");

    /* deep nesting stays balanced up to the limit, beyond sets failed */
    kf_jw_reset(&w);
    for (int i = 0; i < 60; i++) kf_jw_arr_begin(&w);
    kf_jw_int(&w, 1);
    kf_jw_int(&w, 2);
    for (int i = 0; i < 60; i++) kf_jw_arr_end(&w);
    T_OK(!kf_jw_failed(&w) && parses(&w), "60 levels of nesting");
    kf_jw_reset(&w);
    for (int i = 0; i < 70; i++) kf_jw_arr_begin(&w);
    T_OK(kf_jw_failed(&w), "too deep nesting reports failure");
    kf_jw_reset(&w);
    kf_jw_arr_end(&w);
    T_OK(kf_jw_failed(&w), "unbalanced end reports failure");

    /* large string grows the buffer */
    kf_jw_reset(&w);
    size_t big = 1 << 20;
    char *s = malloc(big + 1);
    memset(s, 'x', big);
    s[big] = 0;
    kf_jw_str(&w, s);
    T_EQ_INT(kf_jw_len(&w), big + 2, "1 MiB string");
    free(s);

    {   /* kf_jw_items: items copied out of an earlier record write what writing them again does */
        kf_jw a, b;
        kf_jw_init(&a); kf_jw_init(&b);
        kf_jw_obj_begin(&a);
        kf_jw_kstr(&a, "x", "1");
        kf_jw_key(&a, "o"); kf_jw_obj_begin(&a);
        size_t f0 = kf_jw_len(&a);
        kf_jw_kstr(&a, "file", "f"); kf_jw_kstr(&a, "node", "n");
        size_t f1 = kf_jw_len(&a);
        kf_jw_kuint(&a, "k", 7);
        kf_jw_obj_end(&a);
        kf_jw_obj_end(&a);
        char items[64];
        memcpy(items, kf_jw_data(&a) + f0, f1 - f0);
        /* again: as the first items of the object, then after one, then in an array */
        kf_jw_obj_begin(&b);
        kf_jw_kstr(&b, "x", "1");
        kf_jw_key(&b, "o"); kf_jw_obj_begin(&b);
        kf_jw_items(&b, items, f1 - f0);
        kf_jw_kuint(&b, "k", 7);
        kf_jw_obj_end(&b);
        kf_jw_obj_end(&b);
        T_OK(kf_jw_len(&a) == kf_jw_len(&b) && !memcmp(kf_jw_data(&a), kf_jw_data(&b), kf_jw_len(&a)),
             "kf_jw_items as the first items: the same text");
        kf_jw_reset(&b);
        kf_jw_obj_begin(&b);
        kf_jw_kuint(&b, "k", 7);
        kf_jw_items(&b, items, f1 - f0);
        kf_jw_kuint(&b, "z", 1);
        kf_jw_obj_end(&b);
        T_EQ_STR(kf_jw_data(&b), "{\"k\":7,\"file\":\"f\",\"node\":\"n\",\"z\":1}", "kf_jw_items after an item");
        kf_jw_reset(&b);
        kf_jw_arr_begin(&b);
        kf_jw_items(&b, "1,2", 3);
        kf_jw_items(&b, "3", 1);
        kf_jw_arr_end(&b);
        T_EQ_STR(kf_jw_data(&b), "[1,2,3]", "kf_jw_items in an array");
        kf_jw_free(&a); kf_jw_free(&b);
    }

    /* kf_json_escape */
    char out[16];
    size_t n = kf_json_escape("a\"\xff", 3, out, sizeof out);
    T_EQ_INT(n, 8, "escape length");
    T_EQ_STR(out, "a\\\"\\\\xff", "escape into buffer");
    n = kf_json_escape("abc\"def", 7, out, 5);
    T_EQ_INT(n, 8, "escape length when truncated");
    T_EQ_STR(out, "abc", "truncation keeps whole escapes");
    T_EQ_INT(kf_json_escape("\xc3\xa9", 2, NULL, 0), 2, "length only");

    /* kf_jw_reset_into: the text in the caller's memory while it fits, then in the writer's own
     * buffer (grown, or already big enough), the caller's bytes past it untouched. (A string
     * asks for room for its worst-case escaping: 6 bytes a byte.) */
    char mem[160];
    memset(mem, '#', sizeof mem);
    kf_jw_reset_into(&w, mem, 64);
    kf_jw_obj_begin(&w);
    kf_jw_kstr(&w, "k", "short");
    T_OK(kf_jw_in_ext(&w) && kf_jw_data(&w) == mem, "a text that fits stays in the caller's memory");
    T_EQ_STR(mem, "{\"k\":\"short\"", "... written there");
    kf_jw_kstr(&w, "long", "a value that cannot fit in 64 bytes");
    kf_jw_obj_end(&w);
    T_OK(!kf_jw_in_ext(&w) && kf_jw_data(&w) != mem, "outgrown: on in the writer's own buffer");
    T_EQ_STR(kf_jw_data(&w), "{\"k\":\"short\",\"long\":\"a value that cannot fit in 64 bytes\"}",
             "... with the text written before");
    T_OK(mem[64] == '#' && mem[159] == '#', "nothing written past the caller's room");
    for (int round = 0; round < 2; round++) {   /* the own buffer is big enough now; then after a reset */
        kf_jw_reset_into(&w, mem, 8);
        kf_jw_obj_begin(&w);
        kf_jw_kint(&w, "number", 123456789);
        kf_jw_obj_end(&w);
        T_OK(!kf_jw_in_ext(&w), "outgrown again (round %d)", round);
        T_EQ_STR(kf_jw_data(&w), "{\"number\":123456789}", "the text whole (round %d)", round);
        kf_jw_reset(&w);
        T_OK(!kf_jw_in_ext(&w) && kf_jw_data(&w) != mem && !*kf_jw_data(&w), "reset: the own buffer, empty");
    }
    kf_jw_reset_into(&w, mem, sizeof mem);   /* freed while in the caller's memory: the own buffer goes */
    kf_jw_kstr(&w, "x", "y");

    kf_jw_free(&w);
    T_DONE();
}
