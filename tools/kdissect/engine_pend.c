/* engine_pend.c — the pending-call table (dissector.h, "The pending-call table"): requests
 * waiting for their responses, bounded, matched by key or in order, emitted unanswered when
 * evicted, at a gap, at a timeout or at close. Every dissector with calls keeps its requests
 * here instead of its own queue.
 *
 * It uses only the dissector API (kd_conn_pending, kd_conn_timer, kd_conn_mem, kd_stat_add), so
 * the unit tests' and fuzz targets' stand-in engine (tests/l7/fake_engine.h) links the same code.
 *
 * Layout: entries' small headers (time, key, side, item index) sit in a queue in the order they
 * were added, [head, tail) of an array, with holes where an entry left out of order; items sit
 * in a pool of their own (a free list), so adding, the oldest, and answering in order cost O(1)
 * (amortised: when the queue reaches the end of its array it is compacted, and the array is
 * doubled when more than half of it is live). Finding a key walks the queue (the bound is a few
 * hundred). The earliest time is the oldest entry's while entries came in time order (the usual
 * case), else a walk. Before (8a81d86) every add, answer and bound update scanned all slots, and
 * a flush was quadratic: fuzz_proto_redis ran ~30 inputs/s with 256 pipelined requests. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "dissector.h"

#define NONE UINT32_MAX

struct kd_pslot {
    int64_t ts;
    uint64_t key;
    int dir;
    unsigned item;              /* index in the item pool; NONE: a hole (the entry left) */
};

#define KD_PTAB_FIRST 4u   /* items (and twice as many queue places) allocated at the first request */

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
    t->mono = 1;
    t->hold = INT64_MAX;
}

void kd_ptab_set_timeout(kd_ptab *t, int64_t timeout_ns) { t->timeout_ns = timeout_ns > 0 ? timeout_ns : 0; }

unsigned kd_ptab_count(const kd_ptab *t) { return t->n; }

int64_t kd_ptab_earliest(const kd_ptab *t)
{
    if (!t->n) return INT64_MAX;
    if (t->mono) return t->slot[t->head].ts;   /* added in time order: the oldest is the earliest */
    int64_t m = INT64_MAX;
    for (unsigned i = t->head; i < t->tail; i++)
        if (t->slot[i].item != NONE && t->slot[i].ts < m) m = t->slot[i].ts;
    return m;
}

/* the connection's ordering bound follows the earliest entry (or the held time), its timer the
 * earliest entry */
static void ptab_sync(kd_ptab *t)
{
    int64_t e = kd_ptab_earliest(t);
    kd_conn_pending(t->c, e < t->hold ? e : t->hold);
    if (t->timeout_ns) kd_conn_timer(t->c, e == INT64_MAX ? 0 : kd_ts_add(e, t->timeout_ns));
}

void kd_ptab_hold(kd_ptab *t, int64_t ts)
{
    t->hold = ts;
    ptab_sync(t);
}

static void *item_at(const kd_ptab *t, unsigned i) { return t->items + (size_t)i * t->isize; }

/* the queue place of an item pointer, or NONE */
static unsigned place_of(const kd_ptab *t, const void *item)
{
    if (!item || !t->items || (const unsigned char *)item < t->items) return NONE;
    size_t off = (size_t)((const unsigned char *)item - t->items);
    size_t i = off / t->isize;
    if (i >= t->icap || off % t->isize) return NONE;
    return t->ipos[i];
}

/* removes the entry at queue place p; the queue's ends skip the holes */
static void remove_at(kd_ptab *t, unsigned p)
{
    unsigned it = t->slot[p].item;
    if (t->release) t->release(t->c, t->ctx, item_at(t, it));
    t->slot[p].item = NONE;
    t->ipos[it] = NONE;
    t->ifree[t->nfree++] = it;
    t->n--;
    while (t->head < t->tail && t->slot[t->head].item == NONE) t->head++;
    while (t->tail > t->head && t->slot[t->tail - 1].item == NONE) t->tail--;
    if (!t->n) { t->head = t->tail = 0; t->mono = 1; }
}

static void emit_unanswered(kd_ptab *t, unsigned p)
{
    if (!t->unanswered || t->unanswered(t->c, t->ctx, item_at(t, t->slot[p].item))) kd_stat_add(t->c, KD_STAT_UNANSWERED, 1);
    remove_at(t, p);
}

/* room for one more item in the pool */
static int grow_items(kd_ptab *t)
{
    if (t->nfree) return 0;
    unsigned ncap = t->icap ? t->icap * 2 : KD_PTAB_FIRST;
    if (ncap > t->max) ncap = t->max;
    if (ncap <= t->icap) return -1;
    unsigned char *ni = realloc(t->items, (size_t)ncap * t->isize);
    if (!ni) return -1;
    t->items = ni;
    unsigned *nm = realloc(t->ipos, (size_t)ncap * 2 * sizeof *nm);
    if (!nm) return -1;   /* items grew, the index did not: icap stays, the extra bytes idle */
    /* ipos[0..ncap) then ifree[0..ncap) in one block */
    memmove(nm + ncap, nm + t->icap, (size_t)t->nfree * sizeof *nm);
    t->ipos = nm;
    t->ifree = nm + ncap;
    for (unsigned i = t->icap; i < ncap; i++) { t->ipos[i] = NONE; t->ifree[t->nfree++] = ncap - 1 - (i - t->icap); }
    kd_conn_mem(t->c, (long)((size_t)(ncap - t->icap) * (t->isize + 2 * sizeof *nm)));
    t->icap = ncap;
    return 0;
}

/* room for one more place at the queue's tail: compact, or double the array */
static int grow_queue(kd_ptab *t)
{
    if (t->tail < t->qcap) return 0;
    if (t->n * 2 >= t->qcap) {
        unsigned ncap = t->qcap ? t->qcap * 2 : 2 * KD_PTAB_FIRST;
        struct kd_pslot *ns = realloc(t->slot, (size_t)ncap * sizeof *ns);
        if (!ns) { if (t->n < t->qcap) goto compact; return -1; }
        kd_conn_mem(t->c, (long)((size_t)(ncap - t->qcap) * sizeof *ns));
        t->slot = ns;
        t->qcap = ncap;
        if (t->tail < t->qcap) return 0;
    }
compact:
    {
        unsigned w = 0;
        for (unsigned r = t->head; r < t->tail; r++) {
            if (t->slot[r].item == NONE) continue;
            t->slot[w] = t->slot[r];
            t->ipos[t->slot[w].item] = w;
            w++;
        }
        t->head = 0;
        t->tail = w;
    }
    return 0;
}

void *kd_ptab_add(kd_ptab *t, int dir, uint64_t key, int64_t ts)
{
    if (t->n >= t->max && t->n) emit_unanswered(t, t->head);   /* full: the oldest goes out unanswered */
    if (grow_items(t) != 0 || grow_queue(t) != 0) { ptab_sync(t); return NULL; }
    unsigned it = t->ifree[--t->nfree];
    unsigned p = t->tail++;
    struct kd_pslot *s = &t->slot[p];
    s->dir = dir; s->key = key; s->ts = ts; s->item = it;
    t->ipos[it] = p;
    if (t->n && ts < t->last_ts) t->mono = 0;
    t->last_ts = ts;
    t->n++;
    void *x = item_at(t, it);
    memset(x, 0, t->isize);
    ptab_sync(t);
    return x;
}

void *kd_ptab_find(const kd_ptab *t, int dir, uint64_t key)
{
    for (unsigned i = t->head; i < t->tail; i++) {
        const struct kd_pslot *s = &t->slot[i];
        if (s->item != NONE && s->key == key && (dir < 0 || s->dir == dir)) return item_at(t, s->item);
    }
    return NULL;
}

void *kd_ptab_oldest(const kd_ptab *t) { return t->n ? item_at(t, t->slot[t->head].item) : NULL; }

void *kd_ptab_newest(const kd_ptab *t) { return t->n ? item_at(t, t->slot[t->tail - 1].item) : NULL; }

void *kd_ptab_next(const kd_ptab *t, const void *prev)
{
    unsigned p = t->head;
    if (prev) {
        unsigned q = place_of(t, prev);
        if (q == NONE) return NULL;
        p = q + 1;
    }
    for (; p < t->tail; p++)
        if (t->slot[p].item != NONE) return item_at(t, t->slot[p].item);
    return NULL;
}

int kd_ptab_dir(const kd_ptab *t, const void *item)
{
    unsigned p = place_of(t, item);
    return p == NONE ? -1 : t->slot[p].dir;
}

int64_t kd_ptab_ts(const kd_ptab *t, const void *item)
{
    unsigned p = place_of(t, item);
    return p == NONE ? INT64_MAX : t->slot[p].ts;
}

void kd_ptab_done(kd_ptab *t, void *item)
{
    unsigned p = place_of(t, item);
    if (p == NONE) return;
    remove_at(t, p);
    ptab_sync(t);
}

void kd_ptab_unanswered(kd_ptab *t, void *item)
{
    unsigned p = place_of(t, item);
    if (p == NONE) return;
    emit_unanswered(t, p);
    ptab_sync(t);
}

/* emits, oldest first, the entries sent by dir (< 0: any) at or before `before` */
static void emit_until(kd_ptab *t, int dir, int64_t before)
{
    /* the queue only shrinks meanwhile (callbacks write records, they add nothing), and places
     * keep their entries: walk them in order */
    for (unsigned p = t->head; p < t->tail && t->n; p++) {
        const struct kd_pslot *s = &t->slot[p];
        if (s->item == NONE || (dir >= 0 && s->dir != dir)) continue;
        if (s->ts > before) { if (t->mono && dir < 0) break; continue; }
        emit_unanswered(t, p);
        if (!t->n) break;
        if (p < t->head) p = t->head - 1;   /* the head moved past holes */
    }
}

void kd_ptab_flush(kd_ptab *t, int dir)
{
    emit_until(t, dir, INT64_MAX);
    ptab_sync(t);
}

void kd_ptab_timer(kd_ptab *t, int64_t now_ns)
{
    if (t->timeout_ns) emit_until(t, -1, kd_ts_diff(now_ns, t->timeout_ns));   /* sent at or before: expired */
    ptab_sync(t);
}

void kd_ptab_free(kd_ptab *t)
{
    for (unsigned p = t->head; p < t->tail; p++)
        if (t->slot[p].item != NONE && t->release) t->release(t->c, t->ctx, item_at(t, t->slot[p].item));
    long mem = (long)((size_t)t->icap * (t->isize + 2 * sizeof(unsigned)) + (size_t)t->qcap * sizeof(struct kd_pslot));
    if (mem) kd_conn_mem(t->c, -mem);
    free(t->items);
    free(t->ipos);
    free(t->slot);
    t->items = NULL; t->ipos = t->ifree = NULL; t->slot = NULL;
    t->icap = t->qcap = t->n = t->nfree = t->head = t->tail = 0;
    t->mono = 1;
}
