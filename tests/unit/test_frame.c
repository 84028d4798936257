/* The engine's framed mode (tools/kdissect/engine_frame.c), through the stand-in engine and a
 * toy framed protocol: frames split over deliveries, several in one, the head of an oversize
 * frame and the skipping of its rest (also across a gap), a bad frame (parse error, resync on
 * the next frame start), resync after a gap, a direction that cannot resync, STOP and END. */
#include "t.h"
#include <stdint.h>
#include <stddef.h>
#include "../../tools/kdissect/dissector.h"

/* toy: 0xA5 | total length (4, big-endian, header included) | kind | … */
typedef struct toy { kd_framer fr; int nf; size_t n[16]; uint64_t len[16]; uint8_t kind[16]; int64_t first[16], last[16]; } toy;

static int64_t toy_frame(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n)
{
    (void)c; (void)st; (void)dir;
    if (p[0] != 0xA5) return KD_FRAME_BAD;
    if (n < 6) return KD_FRAME_MORE;
    uint32_t len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    return len < 6 ? KD_FRAME_BAD : (int64_t)len;
}
static int toy_sync(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n)
{
    (void)c; (void)st; (void)n;
    if (dir == 1) return KD_SYNC_NEVER;   /* side 1 cannot be resynchronised */
    return p[0] == 0xA5 ? KD_SYNC_YES : KD_SYNC_NO;
}
static int toy_on_frame(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n, uint64_t len,
                        const kd_pref *f, const kd_pref *l)
{
    (void)c; (void)dir;
    toy *t = st;
    if (t->nf < 16) {
        t->n[t->nf] = n; t->len[t->nf] = len; t->kind[t->nf] = p[5];
        t->first[t->nf] = f->ts_ns; t->last[t->nf] = l->ts_ns; t->nf++;
    }
    return p[5] == 'S' ? KD_FRAME_STOP : p[5] == 'E' ? KD_FRAME_END : KD_FRAME_OK;
}
static const kd_dissector toy_dissector = {
    .name = "toy", .protocol = "TOY", .flag = "toy", .transports = KD_TRANSPORT_TCP,
    .state_size = sizeof(toy), .frame = toy_frame, .on_frame = toy_on_frame, .frame_sync = toy_sync,
};

#include "../l7/fake_engine.h"

static size_t mk(uint8_t *b, uint32_t len, uint8_t kind)
{
    b[0] = 0xA5; b[1] = (uint8_t)(len >> 24); b[2] = (uint8_t)(len >> 16); b[3] = (uint8_t)(len >> 8); b[4] = (uint8_t)len;
    b[5] = kind;
    for (uint32_t i = 6; i < len && i < 64; i++) b[i] = 'x';
    return len < 64 ? len : 64;
}

int main(void)
{
    kd_conn c;
    static uint8_t big[300 << 10];
    uint8_t b[64];
    fe_open(&c, &toy_dissector, 0, 40000, 9999);
    toy *t = c.st;

    /* a frame in two pieces, then two in one delivery */
    mk(b, 10, 'a');
    fe_data(&c, 0, b, 4, 0);
    T_EQ_INT(t->nf, 0, "a partial header waits");
    fe_data(&c, 0, b + 4, 3, 0);
    T_EQ_INT(t->nf, 0, "a partial frame waits");
    T_EQ_INT(c.len[0], 7, "its bytes stay buffered");
    fe_data(&c, 0, b + 7, 3, 0);
    T_EQ_INT(t->nf, 1, "complete: one frame");
    T_OK(t->n[0] == 10 && t->len[0] == 10 && t->kind[0] == 'a', "the whole frame, n == len");
    T_OK(t->first[0] < t->last[0], "first and last packet references of the frame");
    uint8_t two[20];
    mk(two, 10, 'b'); mk(two + 10, 10, 'c');
    fe_data(&c, 0, two, 20, 0);
    T_OK(t->nf == 3 && t->kind[1] == 'b' && t->kind[2] == 'c', "two frames in one delivery");
    T_EQ_INT(c.len[0], 0, "all consumed");

    /* oversize: a frame of 1 MiB; its head once KD_FRAME_HEAD bytes are there, the rest skipped */
    uint32_t blen = 1u << 20;
    memset(big, 'y', sizeof big);
    mk(big, blen, 'h');
    fe_data(&c, 0, big, 1000, 0);
    T_EQ_INT(t->nf, 3, "an oversize frame's first 1000 bytes wait (below KD_FRAME_HEAD)");
    fe_data(&c, 0, big + 1000, KD_FRAME_HEAD, 0);
    T_EQ_INT(t->nf, 4, "then its head is handed over");
    T_OK(t->n[3] == 1000 + KD_FRAME_HEAD && t->len[3] == blen, "the head: what was there, and the frame's whole length");
    T_EQ_INT(c.len[0], 0, "the head is consumed");
    uint64_t rest = blen - 1000 - KD_FRAME_HEAD;
    fe_data(&c, 0, big, 200 << 10, 0);   /* skipped */
    rest -= 200 << 10;
    T_EQ_INT(t->nf, 4, "the body is skipped, not parsed");
    fe_gap(&c, 0, 100 << 10);            /* a gap inside the skipped part shortens it */
    rest -= 100 << 10;
    unsigned fl = KD_DATA_AFTER_GAP;
    while (rest) {
        size_t k = rest < (200u << 10) ? (size_t)rest : (200u << 10);
        fe_data(&c, 0, big, k, fl);
        fl = 0;
        rest -= k;
    }
    T_EQ_INT(t->nf, 4, "still skipping after the gap");
    T_EQ_INT(c.len[0], 0, "skipped bytes are consumed");
    mk(b, 12, 'd');
    fe_data(&c, 0, b, 12, 0);
    T_OK(t->nf == 5 && t->kind[4] == 'd', "the frame after the oversize one is found where it starts");
    T_EQ_INT(c.stats[KD_STAT_PARSE_ERRORS], 0, "no parse error so far");
    T_EQ_INT(c.stats[KD_STAT_RESYNCS], 1, "the gap made a resync (found at once)");

    /* a bad frame: counted, then the next frame start is found */
    uint8_t bad[3 + 10] = { 1, 2, 3 };
    mk(bad + 3, 10, 'e');
    fe_data(&c, 0, bad, sizeof bad, 0);
    T_EQ_INT(c.stats[KD_STAT_PARSE_ERRORS], 1, "a bad frame counts as a parse error");
    T_EQ_INT(c.stats[KD_STAT_RESYNCS], 2, "and one resync");
    T_OK(t->nf == 6 && t->kind[5] == 'e', "the frame after the garbage is parsed");

    /* after a gap: resync on the next frame start */
    fe_gap(&c, 0, 5);
    uint8_t g[4 + 10] = { 9, 9, 9, 9 };
    mk(g + 4, 10, 'f');
    fe_data(&c, 0, g, 2, KD_DATA_AFTER_GAP);
    T_EQ_INT(t->nf, 6, "garbage after a gap is skipped");
    fe_data(&c, 0, g + 2, sizeof g - 2, 0);
    T_OK(t->nf == 7 && t->kind[6] == 'f', "the next frame start after a gap");
    T_EQ_INT(c.stats[KD_STAT_RESYNCS], 3, "one more resync");

    /* side 1 cannot resync: after its gap nothing more is parsed */
    mk(b, 10, 'g');
    fe_data(&c, 1, b, 10, 0);
    T_OK(t->nf == 8 && t->kind[7] == 'g', "side 1 frames");
    fe_gap(&c, 1, 5);
    fe_data(&c, 1, b, 10, KD_DATA_AFTER_GAP);
    T_EQ_INT(t->nf, 8, "side 1 is given up after a gap (KD_SYNC_NEVER)");
    T_EQ_INT(c.len[1], 0, "its bytes are consumed unread");
    T_EQ_INT(c.stats[KD_STAT_RESYNCS], 3, "giving up is not a resync");

    /* STOP: the bytes after the frame are left (a hand-over); END: nothing more on either side */
    uint8_t st2[20];
    mk(st2, 10, 'S'); mk(st2 + 10, 10, 'h');
    size_t used = kd_dissector_data(&toy_dissector, &c, c.st, 0, st2, 20, 0, 0);
    T_EQ_INT(used, 10, "STOP: consumed up to the end of that frame");
    used = kd_dissector_data(&toy_dissector, &c, c.st, 0, st2 + 10, 10, 0, 0);
    T_EQ_INT(used, 10, "and the next frame is still read");
    mk(st2, 10, 'E');
    used = kd_dissector_data(&toy_dissector, &c, c.st, 0, st2, 20, 0, 0);
    T_EQ_INT(used, 20, "END: all consumed");
    int before = t->nf;
    used = kd_dissector_data(&toy_dissector, &c, c.st, 0, st2 + 10, 10, 0, 0);
    T_OK(used == 10 && t->nf == before, "END: nothing more is parsed");

    /* EOF: a partial frame is dropped, everything consumed */
    fe_close(&c);
    fe_free(&c);
    fe_open(&c, &toy_dissector, 0, 40000, 9999);
    t = c.st;
    mk(b, 30, 'i');
    fe_data(&c, 0, b, 12, KD_DATA_EOF);
    T_OK(t->nf == 0 && c.len[0] == 0, "EOF: a partial frame is dropped");
    T_EQ_INT(fe_close(&c), 0, "no memory held");
    fe_free(&c);
    T_DONE();
}
