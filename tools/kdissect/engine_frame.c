/* engine_frame.c — the framed mode for length-prefixed protocols (dissector.h, "Framed mode"):
 * buffering until a frame is whole, the head of an oversize frame and the skipping of its rest,
 * resynchronisation after a gap or a bad frame. Kafka, MongoDB, PostgreSQL, MySQL, AMQP, HTTP/2
 * and DNS over TCP each had their own copy of this loop, with their own limits; this is the one.
 *
 * Like engine_pend.c it uses only the dissector API (kd_stream_ref, kd_stat_add), so the unit
 * tests' and fuzz targets' stand-in engine (tests/l7/fake_engine.h) links the same code. */
#include <stdint.h>
#include <string.h>
#include "dissector.h"

/* Looks for a frame start from p[*used] on (resync mode). 1: found (resync over), 0: not yet
 * (wait for more bytes), -1: the direction is given up. */
static int frame_resync(const kd_dissector *d, kd_conn *c, void *st, kd_framer *fr, int dir,
                        const uint8_t *p, size_t n, size_t *used)
{
    while (*used < n) {
        int r = d->frame_sync ? d->frame_sync(c, st, dir, p + *used, n - *used) : KD_SYNC_NEVER;
        if (r != KD_SYNC_NEVER && fr->resync[dir] == 1) {   /* counted once it has begun */
            kd_stat_add(c, KD_STAT_RESYNCS, 1);
            fr->resync[dir] = 2;
        }
        if (r == KD_SYNC_YES) { fr->resync[dir] = 0; return 1; }
        if (r == KD_SYNC_MORE) return 0;
        if (r == KD_SYNC_NEVER) { fr->dead[dir] = 1; return -1; }
        (*used)++;
    }
    return 0;
}

static void frame_lost(const kd_dissector *d, kd_framer *fr, int dir)
{
    if (!d->frame_sync) fr->dead[dir] = 1;
    else if (!fr->resync[dir]) fr->resync[dir] = 1;
}

static size_t framed_data(const kd_dissector *d, kd_conn *c, void *st, int dir, const uint8_t *p,
                          size_t n, uint64_t off, unsigned flags)
{
    kd_framer *fr = st;
    size_t used = 0;
    if (fr->dead[dir]) return n;
    if (fr->skip[dir]) {
        size_t k = fr->skip[dir] < n ? (size_t)fr->skip[dir] : n;
        fr->skip[dir] -= k;
        used = k;
    }
    if (flags & KD_DATA_AFTER_GAP) frame_lost(d, fr, dir);
    for (;;) {
        if (fr->resync[dir]) {
            int r = frame_resync(d, c, st, fr, dir, p, n, &used);
            if (r < 0) return n;
            if (r == 0) break;
        }
        if (used >= n) break;
        const uint8_t *m = p + used;
        size_t left = n - used;
        int64_t len = d->frame(c, st, dir, m, left);
        if (len == KD_FRAME_MORE) break;
        if (len < 0) {   /* not a frame: look for the next one from the following byte on */
            kd_stat_add(c, KD_STAT_PARSE_ERRORS, 1);
            frame_lost(d, fr, dir);
            if (fr->dead[dir]) return n;
            used++;
            continue;
        }
        kd_pref f, l;
        int rc;
        kd_stream_ref(c, dir, off + used, &f);
        if ((uint64_t)len <= left) {
            kd_stream_ref(c, dir, off + used + (size_t)len - 1, &l);
            used += (size_t)len;
            rc = d->on_frame(c, st, dir, m, (size_t)len, (uint64_t)len, &f, &l);
        } else if ((uint64_t)len > KD_FRAME_MAX && left >= KD_FRAME_HEAD) {
            /* oversize: its head now, the rest skipped as it comes */
            kd_stream_ref(c, dir, off + n - 1, &l);
            fr->skip[dir] = (uint64_t)len - left;
            used = n;
            rc = d->on_frame(c, st, dir, m, left, (uint64_t)len, &f, &l);
        } else {
            break;   /* wait for the rest */
        }
        if (rc == KD_FRAME_STOP) return used;
        if (rc == KD_FRAME_END) { fr->dead[0] = fr->dead[1] = 1; return n; }
    }
    if (flags & KD_DATA_EOF) return n;
    return used;
}

size_t kd_dissector_data(const kd_dissector *d, kd_conn *c, void *st, int dir, const uint8_t *p,
                         size_t n, uint64_t off, unsigned flags)
{
    if (d->frame) return framed_data(d, c, st, dir, p, n, off, flags);
    return d->on_data ? d->on_data(c, st, dir, p, n, off, flags) : n;
}

void kd_dissector_gap(const kd_dissector *d, kd_conn *c, void *st, int dir, uint64_t off, uint64_t len)
{
    if (d->frame) {
        kd_framer *fr = st;
        fr->skip[dir] = fr->skip[dir] > len ? fr->skip[dir] - len : 0;
    }
    if (d->on_gap) d->on_gap(c, st, dir, off, len);
}
