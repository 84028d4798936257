/* engine_pend.c — the pending-call table (dissector.h, "The pending-call table"): requests
 * waiting for their responses, bounded, matched by key or in order, emitted unanswered when
 * evicted, at a gap, at a timeout or at close. Every dissector with calls keeps its requests
 * here instead of its own queue.
 *
 * It uses only the dissector API (kd_conn_pending, kd_conn_timer, kd_conn_mem, kd_stat_add), so
 * the unit tests' and fuzz targets' stand-in engine (tests/l7/fake_engine.h) links the same code.
 *
 * Entries sit in slots (grown by doubling up to the table's bound) with a sequence number saying
 * in which order they came; the bound is small (a few hundred at most), so finding the oldest,
 * a key or the earliest time scans the slots' small headers, which sit apart from the items. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "dissector.h"

struct kd_pslot {
    int64_t ts;
    uint64_t key, seq;
    int dir, used;
};

#define KD_PTAB_FIRST 4u   /* slots allocated at the first request */

void kd_ptab_init(kd_ptab *t, kd_conn *c, size_t item_size, unsigned max,
                  kd_ptab_emit_fn unanswered, kd_ptab_fn release, void *ctx)
{
    memset(t, 0, sizeof *t);
    t->c = c;
    t->ctx = ctx;
    t->unanswered = unanswered;
    t->release = release;
    t->isize = item_size ? item_size : 1;
    t->max = max < 1 ? 1 : max > KD_PTAB_MAX ? KD_PTAB_MAX : max;
}

void kd_ptab_set_timeout(kd_ptab *t, int64_t timeout_ns) { t->timeout_ns = timeout_ns > 0 ? timeout_ns : 0; }

unsigned kd_ptab_count(const kd_ptab *t) { return t->n; }

int64_t kd_ptab_earliest(const kd_ptab *t)
{
    int64_t m = INT64_MAX;
    for (unsigned i = 0; i < t->cap && t->n; i++)
        if (t->slot[i].used && t->slot[i].ts < m) m = t->slot[i].ts;
    return m;
}

/* the connection's ordering bound and timer follow the earliest entry */
static void ptab_sync(kd_ptab *t)
{
    int64_t e = kd_ptab_earliest(t);
    kd_conn_pending(t->c, e);
    if (t->timeout_ns) kd_conn_timer(t->c, e == INT64_MAX ? 0 : kd_ts_add(e, t->timeout_ns));
}

static void *item_at(const kd_ptab *t, unsigned i) { return t->items + (size_t)i * t->isize; }

static unsigned index_of(const kd_ptab *t, const void *item)
{
    if (!item || !t->items) return UINT32_MAX;
    size_t off = (size_t)((const unsigned char *)item - t->items);
    unsigned i = (unsigned)(off / t->isize);
    if ((const unsigned char *)item < t->items || i >= t->cap || off % t->isize || !t->slot[i].used) return UINT32_MAX;
    return i;
}

/* the oldest used slot sent by dir (dir < 0: any), optionally only those with ts <= before */
static unsigned oldest_slot(const kd_ptab *t, int dir, int64_t before)
{
    unsigned best = UINT32_MAX;
    for (unsigned i = 0; i < t->cap && t->n; i++) {
        const struct kd_pslot *s = &t->slot[i];
        if (!s->used || (dir >= 0 && s->dir != dir) || s->ts > before) continue;
        if (best == UINT32_MAX || s->seq < t->slot[best].seq) best = i;
    }
    return best;
}

static void remove_slot(kd_ptab *t, unsigned i)
{
    if (t->release) t->release(t->c, t->ctx, item_at(t, i));
    t->slot[i].used = 0;
    t->n--;
}

static void emit_unanswered(kd_ptab *t, unsigned i)
{
    if (!t->unanswered || t->unanswered(t->c, t->ctx, item_at(t, i))) kd_stat_add(t->c, KD_STAT_UNANSWERED, 1);
    remove_slot(t, i);
}

static int grow(kd_ptab *t)
{
    unsigned ncap = t->cap ? t->cap * 2 : KD_PTAB_FIRST;
    if (ncap > t->max) ncap = t->max;
    if (ncap <= t->cap) return -1;
    unsigned char *ni = realloc(t->items, (size_t)ncap * t->isize);
    if (!ni) return -1;
    t->items = ni;
    struct kd_pslot *ns = realloc(t->slot, (size_t)ncap * sizeof *ns);
    if (!ns) return -1;   /* items grew, slots did not: cap stays, the extra bytes idle */
    t->slot = ns;
    memset(ns + t->cap, 0, (size_t)(ncap - t->cap) * sizeof *ns);
    kd_conn_mem(t->c, (long)((size_t)(ncap - t->cap) * (t->isize + sizeof *ns)));
    t->cap = ncap;
    return 0;
}

void *kd_ptab_add(kd_ptab *t, int dir, uint64_t key, int64_t ts)
{
    if (t->n >= t->max) {   /* full: the oldest goes out unanswered */
        unsigned o = oldest_slot(t, -1, INT64_MAX);
        if (o != UINT32_MAX) emit_unanswered(t, o);
    }
    unsigned i = 0;
    while (i < t->cap && t->slot[i].used) i++;
    if (i == t->cap && grow(t) != 0) { ptab_sync(t); return NULL; }
    struct kd_pslot *s = &t->slot[i];
    s->used = 1; s->dir = dir; s->key = key; s->ts = ts; s->seq = ++t->seq;
    t->n++;
    void *it = item_at(t, i);
    memset(it, 0, t->isize);
    ptab_sync(t);
    return it;
}

void *kd_ptab_find(const kd_ptab *t, int dir, uint64_t key)
{
    unsigned best = UINT32_MAX;
    for (unsigned i = 0; i < t->cap && t->n; i++) {
        const struct kd_pslot *s = &t->slot[i];
        if (!s->used || s->key != key || (dir >= 0 && s->dir != dir)) continue;
        if (best == UINT32_MAX || s->seq < t->slot[best].seq) best = i;
    }
    return best == UINT32_MAX ? NULL : item_at(t, best);
}

void *kd_ptab_oldest(const kd_ptab *t)
{
    unsigned o = oldest_slot(t, -1, INT64_MAX);
    return o == UINT32_MAX ? NULL : item_at(t, o);
}

void *kd_ptab_newest(const kd_ptab *t)
{
    unsigned best = UINT32_MAX;
    for (unsigned i = 0; i < t->cap && t->n; i++)
        if (t->slot[i].used && (best == UINT32_MAX || t->slot[i].seq > t->slot[best].seq)) best = i;
    return best == UINT32_MAX ? NULL : item_at(t, best);
}

void *kd_ptab_next(const kd_ptab *t, const void *prev)
{
    uint64_t after = 0;
    if (prev) {
        unsigned p = index_of(t, prev);
        if (p == UINT32_MAX) return NULL;
        after = t->slot[p].seq;
    }
    unsigned best = UINT32_MAX;
    for (unsigned i = 0; i < t->cap && t->n; i++)
        if (t->slot[i].used && t->slot[i].seq > after && (best == UINT32_MAX || t->slot[i].seq < t->slot[best].seq)) best = i;
    return best == UINT32_MAX ? NULL : item_at(t, best);
}

int kd_ptab_dir(const kd_ptab *t, const void *item)
{
    unsigned i = index_of(t, item);
    return i == UINT32_MAX ? -1 : t->slot[i].dir;
}

int64_t kd_ptab_ts(const kd_ptab *t, const void *item)
{
    unsigned i = index_of(t, item);
    return i == UINT32_MAX ? INT64_MAX : t->slot[i].ts;
}

void kd_ptab_done(kd_ptab *t, void *item)
{
    unsigned i = index_of(t, item);
    if (i == UINT32_MAX) return;
    remove_slot(t, i);
    ptab_sync(t);
}

void kd_ptab_unanswered(kd_ptab *t, void *item)
{
    unsigned i = index_of(t, item);
    if (i == UINT32_MAX) return;
    emit_unanswered(t, i);
    ptab_sync(t);
}

void kd_ptab_flush(kd_ptab *t, int dir)
{
    unsigned o;
    while ((o = oldest_slot(t, dir, INT64_MAX)) != UINT32_MAX) emit_unanswered(t, o);
    ptab_sync(t);
}

void kd_ptab_timer(kd_ptab *t, int64_t now_ns)
{
    if (t->timeout_ns) {
        int64_t before = kd_ts_diff(now_ns, t->timeout_ns);   /* sent at or before: expired */
        unsigned o;
        while ((o = oldest_slot(t, -1, before)) != UINT32_MAX) emit_unanswered(t, o);
    }
    ptab_sync(t);
}

void kd_ptab_free(kd_ptab *t)
{
    for (unsigned i = 0; i < t->cap; i++)
        if (t->slot[i].used) remove_slot(t, i);
    if (t->cap) kd_conn_mem(t->c, -(long)((size_t)t->cap * (t->isize + sizeof(struct kd_pslot))));
    free(t->items);
    free(t->slot);
    t->items = NULL; t->slot = NULL;
    t->cap = t->n = 0;
}
