/* The engine's pending-call table (tools/kdissect/engine_pend.c), through the stand-in engine:
 * matching by key and in order, the bound (oldest evicted unanswered), the earliest pending
 * time handed to kd_conn_pending, flush oldest first, the timeout, memory accounting; and ICMP
 * on it (the earliest, not the newest, pending echo request bounds the connection). */
#include "t.h"
#include "../../tools/kdissect/proto/icmp.c"
#include "../l7/fake_engine.h"

typedef struct item { int id; int released; } item;
typedef struct ctx { int out[64]; int nout; int released; } ctx;

static int unans(kd_conn *c, void *cx, void *it) { ctx *x = cx; (void)c; if (x->nout < 64) x->out[x->nout++] = ((item *)it)->id; return 1; }
static void rel(kd_conn *c, void *cx, void *it) { ctx *x = cx; (void)c; (void)it; x->released++; }

static item *add(kd_ptab *t, int dir, uint64_t key, int64_t ts, int id)
{
    item *i = kd_ptab_add(t, dir, key, ts);
    if (i) i->id = id;
    return i;
}

int main(void)
{
    kd_conn c;
    fe_open(&c, &kd_proto_icmp, 0, 0, 0);   /* any dissector: the table only needs the conn */
    ctx x = {0};
    kd_ptab t;
    kd_ptab_init(&t, &c, sizeof(item), 3, unans, rel, &x);
    T_EQ_INT(kd_ptab_count(&t), 0, "empty");
    T_OK(kd_ptab_oldest(&t) == NULL && kd_ptab_find(&t, -1, 1) == NULL, "nothing to find in an empty table");
    add(&t, 0, 10, 500, 1);
    add(&t, 0, 11, 300, 2);   /* an earlier time added later (capture not in time order) */
    add(&t, 1, 10, 700, 3);
    T_EQ_INT(c.pending, 300, "the connection waits on the EARLIEST pending time, not the newest");
    T_EQ_INT(((item *)kd_ptab_oldest(&t))->id, 1, "in order: the first added");
    T_EQ_INT(((item *)kd_ptab_newest(&t))->id, 3, "the last added");
    T_EQ_INT(((item *)kd_ptab_find(&t, -1, 10))->id, 1, "by key, either side: the first added");
    T_EQ_INT(((item *)kd_ptab_find(&t, 1, 10))->id, 3, "by key and side");
    T_OK(kd_ptab_find(&t, 1, 11) == NULL, "a key sent by the other side only does not match");
    add(&t, 0, 12, 900, 4);   /* full (3): the oldest (1) goes out unanswered */
    T_EQ_INT(x.nout, 1, "bound: one evicted");
    T_EQ_INT(x.out[0], 1, "bound: the oldest added is evicted");
    T_EQ_INT(c.stats[KD_STAT_UNANSWERED], 1, "eviction counts as unanswered");
    T_EQ_INT(kd_ptab_count(&t), 3, "still at the bound");
    item *two = kd_ptab_find(&t, -1, 11);
    T_EQ_INT(kd_ptab_ts(&t, two), 300, "an entry's time");
    T_EQ_INT(kd_ptab_dir(&t, two), 0, "an entry's side");
    kd_ptab_done(&t, two);
    T_EQ_INT(c.pending, 700, "answered: the bound moves to the next earliest");
    T_EQ_INT(x.released, 2, "done and eviction release the entry");
    T_EQ_INT(c.stats[KD_STAT_UNANSWERED], 1, "an answered entry is not counted");
    kd_ptab_flush(&t, 1);
    T_EQ_INT(x.nout, 2, "flush of one side's requests");
    T_EQ_INT(x.out[1], 3, "flush of side 1 emits its request only");
    add(&t, 0, 13, 800, 5);
    kd_ptab_flush(&t, -1);
    T_EQ_INT(x.nout, 4, "flush of all");
    T_OK(x.out[2] == 4 && x.out[3] == 5, "flush: oldest first");
    T_EQ_INT(c.pending, INT64_MAX, "empty: nothing pending");
    T_EQ_INT(c.stats[KD_STAT_UNANSWERED], 4, "every unanswered entry counted once");
    kd_ptab_set_timeout(&t, 100);
    add(&t, 0, 1, 1000, 6);
    add(&t, 0, 2, 1050, 7);
    T_EQ_INT(c.timer, 1100, "timeout: the timer is the earliest time + timeout");
    kd_ptab_timer(&t, 1120);
    T_EQ_INT(x.nout, 5, "timer: what waited the timeout goes out");
    T_EQ_INT(x.out[4], 6, "timer: the older one");
    T_EQ_INT(c.timer, 1150, "timer follows the next");
    kd_ptab_free(&t);
    T_EQ_INT(x.released, 7, "free releases what is left without emitting");
    T_EQ_INT(x.nout, 5, "free emits nothing");
    kd_ptab bigt;
    kd_ptab_init(&bigt, &c, sizeof(item), 1000, unans, NULL, &x);
    for (int i = 0; i < 1000; i++) add(&bigt, 0, (uint64_t)i, i, i);
    T_EQ_INT(kd_ptab_count(&bigt), 1000, "grows to its bound");
    kd_ptab_free(&bigt);
    /* against a plain list: random adds, answers by key and in order, flushes, hold; times in
     * order and not (the queue, its compaction and growth, the earliest time) */
    {
        struct { int id, dir; uint64_t key; int64_t ts; } ref[64];
        int nref = 0, bad = 0, nextid = 100;
        uint32_t r = 12345;
        ctx y = {0};
        kd_ptab rt;
        kd_ptab_init(&rt, &c, sizeof(item), 40, unans, NULL, &y);
        int64_t clock = 0;
        for (int step = 0; step < 20000 && !bad; step++) {
            r = r * 1103515245u + 12345u;
            unsigned op = (r >> 16) % 100;
            if (op < 55) {
                int dir = (int)((r >> 8) & 1);
                uint64_t key = (r >> 20) % 8;
                int64_t ts = (step / 3000) % 2 ? clock - (int64_t)((r >> 10) % 50) : clock;   /* phases out of order */
                clock += 10;
                if (nref == 40) { memmove(ref, ref + 1, sizeof ref[0] * 39); nref--; }
                item *it = add(&rt, dir, key, ts, nextid);
                if (!it) { bad = 1; break; }
                ref[nref].id = nextid++; ref[nref].dir = dir; ref[nref].key = key; ref[nref].ts = ts; nref++;
            } else if (op < 75 && nref) {   /* answered in order */
                item *o = kd_ptab_oldest(&rt);
                if (!o || o->id != ref[0].id) bad = 2;
                kd_ptab_done(&rt, o);
                memmove(ref, ref + 1, sizeof ref[0] * (size_t)(nref - 1)); nref--;
            } else if (op < 97) {           /* answered by key */
                int dir = (int)((r >> 8) & 1);
                uint64_t key = (r >> 20) % 8;
                item *f = kd_ptab_find(&rt, dir, key);
                int k = 0;
                while (k < nref && !(ref[k].dir == dir && ref[k].key == key)) k++;
                if ((k == nref) != (f == NULL) || (f && f->id != ref[k].id)) { bad = 3; break; }
                if (f) { kd_ptab_done(&rt, f); memmove(ref + k, ref + k + 1, sizeof ref[0] * (size_t)(nref - k - 1)); nref--; }
            } else {                        /* a gap on one side */
                int dir = (int)((r >> 8) & 1);
                y.nout = 0;
                kd_ptab_flush(&rt, dir);
                int w = 0, o = 0;
                for (int k = 0; k < nref; k++) {
                    if (ref[k].dir == dir) { if (o >= y.nout || y.out[o] != ref[k].id) bad = 4; o++; }
                    else ref[w++] = ref[k];
                }
                if (o != y.nout) bad = 5;
                nref = w;
            }
            int64_t e = INT64_MAX;
            for (int k = 0; k < nref; k++) if (ref[k].ts < e) e = ref[k].ts;
            if ((int)kd_ptab_count(&rt) != nref) bad = 6;
            else if (kd_ptab_earliest(&rt) != e || c.pending != e) bad = 7;
            else if (nref && ((item *)kd_ptab_newest(&rt))->id != ref[nref - 1].id) bad = 8;
            y.nout = 0;
        }
        T_EQ_INT(bad, 0, "random adds, answers and flushes agree with a plain list (oldest, key, earliest, count, flush order)");
        kd_ptab_hold(&rt, INT64_MIN + 1);
        T_EQ_INT(c.pending, INT64_MIN + 1, "hold: the bound is the held time when earlier");
        kd_ptab_hold(&rt, INT64_MAX);
        T_EQ_INT(c.pending, kd_ptab_earliest(&rt), "hold released: the earliest entry again");
        kd_ptab_free(&rt);
    }
    T_EQ_INT(fe_close(&c), 0, "memory accounted both ways");
    fe_free(&c);

    /* ICMP on the table: two echo requests, the second answered; then close */
    fe_open(&c, &kd_proto_icmp, 0, 0, 0);
    c.ci.transport = KD_TRANSPORT_OTHER;
    c.ci.ipproto = 1;
    static const uint8_t req1[] = { 0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
                                    8, 0, 0, 0, 0, 7, 0, 1 };
    uint8_t req2[sizeof req1], rep2[sizeof req1];
    memcpy(req2, req1, sizeof req1); req2[27] = 2;
    memcpy(rep2, req2, sizeof req1); rep2[20] = 0;
    kf_l4 l4;
    kd_pref ref = { 1000, 1, 0 };
    memset(&l4, 0, sizeof l4); kf_decode_ip(req1, sizeof req1, &l4);
    kd_proto_icmp.on_packet(&c, c.st, 0, &l4, &ref);
    ref.ts_ns = 2000; ref.frame = 2;
    memset(&l4, 0, sizeof l4); kf_decode_ip(req2, sizeof req2, &l4);
    kd_proto_icmp.on_packet(&c, c.st, 0, &l4, &ref);
    T_EQ_INT(c.pending, 1000, "icmp: the earliest pending request bounds the connection (was the newest)");
    ref.ts_ns = 3000; ref.frame = 3;
    memset(&l4, 0, sizeof l4); kf_decode_ip(rep2, sizeof rep2, &l4);
    kd_proto_icmp.on_packet(&c, c.st, 1, &l4, &ref);
    T_EQ_INT(c.nrec, 1, "icmp: the answered pair is written");
    T_EQ_INT(c.pending, 1000, "icmp: request 1 still pending");
    T_EQ_INT(fe_close(&c), 0, "icmp: memory released");
    T_EQ_INT(c.nrec, 2, "icmp: the unanswered request is written at close");
    T_EQ_INT(c.stats[KD_STAT_UNANSWERED], 1, "icmp: and counted (was never)");
    T_EQ_INT(c.pending, INT64_MAX, "icmp: nothing pending after close");
    fe_free(&c);
    T_DONE();
}
