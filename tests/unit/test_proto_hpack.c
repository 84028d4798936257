/* HPACK decoder against RFC 7541 Appendix C examples (C.3 plain, C.4 Huffman, C.5 eviction). */
#include "t.h"
#include "../../tools/kdissect/proto/hpack.c"

static char got[4096];
static size_t gl;
static void collect(void *ctx, const char *n, size_t nl, const char *v, size_t vl, int unknown)
{
    gl += (size_t)snprintf(got + gl, sizeof got - gl, "%.*s: %.*s%s\n", (int)nl, n, (int)vl, v, unknown ? " (unknown)" : "");
}
static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    for (; h[0] && h[1]; h += 2) { unsigned b; sscanf(h, "%2x", &b); out[n++] = (uint8_t)b; }
    return n;
}
static int dec(kd_hpack *h, const char *hex)
{
    uint8_t b[1024];
    size_t n = unhex(hex, b);
    gl = 0; got[0] = 0;
    return kd_hpack_decode(h, b, n, collect, NULL);
}

int main(void)
{
    kd_hpack h;
    kd_hpack_init(&h, 4096);
    T_EQ_INT(dec(&h, "828684410f7777772e6578616d706c652e636f6d"), 0, "C.3.1 decodes");
    T_EQ_STR(got, ":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\n", "C.3.1 fields");
    T_EQ_INT(h.size, 57, "C.3.1 table size 57");
    T_EQ_INT(dec(&h, "828684be58086e6f2d6361636865"), 0, "C.3.2 decodes");
    T_EQ_STR(got, ":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\ncache-control: no-cache\n", "C.3.2 uses the dynamic table");
    T_EQ_INT(h.size, 110, "C.3.2 table size 110");
    T_EQ_INT(dec(&h, "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565"), 0, "C.3.3 decodes");
    T_EQ_STR(got, ":method: GET\n:scheme: https\n:path: /index.html\n:authority: www.example.com\ncustom-key: custom-value\n", "C.3.3 fields");
    T_EQ_INT(h.size, 164, "C.3.3 table size 164");
    kd_hpack_free(&h);

    kd_hpack_init(&h, 4096);
    T_EQ_INT(dec(&h, "828684418cf1e3c2e5f23a6ba0ab90f4ff"), 0, "C.4.1 Huffman decodes");
    T_EQ_STR(got, ":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\n", "C.4.1 fields");
    T_EQ_INT(dec(&h, "828684be5886a8eb10649cbf"), 0, "C.4.2 decodes");
    T_EQ_STR(got, ":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\ncache-control: no-cache\n", "C.4.2 fields");
    T_EQ_INT(dec(&h, "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"), 0, "C.4.3 decodes");
    T_EQ_STR(got, ":method: GET\n:scheme: https\n:path: /index.html\n:authority: www.example.com\ncustom-key: custom-value\n", "C.4.3 fields");
    kd_hpack_free(&h);

    /* C.5: responses with a 256-byte table, evictions */
    kd_hpack_init(&h, 4096);
    T_EQ_INT(dec(&h, "3fe101"), 0, "size update to 256");   /* 001 11111 + 225 = 256 */
    T_EQ_INT(h.max_size, 256, "max size 256");
    T_EQ_INT(dec(&h, "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d"), 0, "C.5.1 decodes");
    T_EQ_INT(h.size, 222, "C.5.1 table size 222");
    T_EQ_INT(dec(&h, "4803333037c1c0bf"), 0, "C.5.2 decodes");
    T_EQ_STR(got, ":status: 307\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:21 GMT\nlocation: https://www.example.com\n", "C.5.2 evicts :status 302");
    T_EQ_INT(h.size, 222, "C.5.2 table size 222");
    kd_hpack_free(&h);

    /* mid-stream: a reference to an entry inserted before the capture began */
    kd_hpack_init(&h, 4096);
    T_EQ_INT(dec(&h, "82c5"), 0, "unknown dynamic reference is not an error");
    T_EQ_STR(got, ":method: GET\n?:  (unknown)\n", "unknown entry marked");
    T_EQ_INT(h.unknown_refs, 1, "counted");
    T_EQ_INT(dec(&h, "ff"), -1, "truncated integer is an error");
    T_EQ_INT(dec(&h, "80"), -1, "index 0 is an error");
    T_EQ_INT(dec(&h, "418cf1e3c2e5f23a6ba0ab90f4"), -1, "truncated string is an error");
    char out[64];
    const uint8_t eos[] = {0xff, 0xff, 0xff, 0xff};
    T_EQ_INT(kd_hpack_huffman(eos, 4, out, sizeof out), -1, "EOS in a string is an error");
    const uint8_t badpad[] = {0x1f};   /* 'a' (00011) then 111: valid padding */
    T_EQ_INT(kd_hpack_huffman(badpad, 1, out, sizeof out), 1, "'a' + 3 bits of padding");
    const uint8_t zero_pad[] = {0x18};  /* 'a' then 000: padding not all ones */
    T_EQ_INT(kd_hpack_huffman(zero_pad, 1, out, sizeof out), -1, "zero padding rejected");
    kd_hpack_free(&h);
    T_DONE();
}
