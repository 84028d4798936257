/* engine_order.c — kdissect engine: reordering and spill of records (see engine_int.h for the parts). */
#include "engine_int.h"

/* ------------------------------------------------------------------ record chunks */

/* Records are cut from the current chunk in turn; a chunk counts its records still waiting and
 * is freed when the last one went out. Records leave in time order, which follows the order
 * they were made closely, so a chunk does not outlive its records by much; should chunks hold
 * more than twice what the waiting records count, new records get a malloc of their own until
 * they do not. Emptied chunks are kept for reuse, as many as the waiting records' share of
 * --max-memory fills (they held that much a moment before): a spill empties all of them at
 * once, and handing them back to libc, which gave the pages back to the kernel, made the next
 * round fault every page in again (7 % of kdissect's time on bench/data/api-one.pcap).
 * Hand-written for the benchmark (see engine_int.h). */
typedef struct kd_rchunk { size_t live, used; struct kd_rchunk *next; } kd_rchunk;
#define RCHUNK_HDR ((sizeof(kd_rchunk) + 15) & ~(size_t)15)

kd_rec *kde_rec_alloc(kd_engine *e, size_t len)
{
    size_t need = (sizeof(kd_rec) + len + 15) & ~(size_t)15;
    if (need <= (KD_RCHUNK - RCHUNK_HDR) / 8 && e->rchunk_bytes <= 2 * e->heap_bytes + 4 * KD_RCHUNK) {
        kd_rchunk *c = e->rcur;
        if (!c || KD_RCHUNK - c->used < need) {
            if (c && !c->live) c->used = RCHUNK_HDR;   /* all of it went out: start it again */
            else {
                if (c) e->rcur = NULL;                  /* freed by its last record */
                if ((c = e->rspare)) { e->rspare = c->next; e->nspare--; e->rchunk_bytes += KD_RCHUNK; }
                else if ((c = malloc(KD_RCHUNK))) e->rchunk_bytes += KD_RCHUNK;
                if (c) { c->live = 0; c->used = RCHUNK_HDR; e->rcur = c; }
            }
        }
        if (c) {
            kd_rec *r = (kd_rec *)((char *)c + c->used);
            c->used += need;
            c->live++;
            r->ch = c;
            return r;
        }
    }
    kd_rec *r = malloc(sizeof *r + len);
    if (r) r->ch = NULL;
    return r;
}

void kde_rec_free(kd_engine *e, kd_rec *r)
{
    if (!r) return;
    kd_rchunk *c = r->ch;
    if (!c) { free(r); return; }
    if (--c->live || c == e->rcur) return;
    e->rchunk_bytes -= KD_RCHUNK;
    size_t keep = (size_t)(e->o.max_memory / KD_REORDER_SHARE) / KD_RCHUNK;
    if (e->nspare < (keep ? keep : 1)) { c->next = e->rspare; e->rspare = c; e->nspare++; return; }
    free(c);
}

void kde_rec_arena_free(kd_engine *e)
{
    /* only the current and the spare chunks can be left once every record is freed */
    if (e->rcur && !e->rcur->live) { free(e->rcur); e->rcur = NULL; }
    for (kd_rchunk *c = e->rspare, *nx; c; c = nx) { nx = c->next; free(c); }
    e->rspare = NULL; e->nspare = 0;
}

/* ------------------------------------------------------------------ record heap */

static int rec_less(const kd_rec *a, const kd_rec *b)
{
    return a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq);
}
static int slot_less(const struct kd_hslot *a, const struct kd_hslot *b)
{
    return a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq);
}
static void heap_over_budget(kd_engine *e);
void kde_heap_push(kd_engine *e, kd_rec *r)
{
    if (e->hn == e->hcap) {
        size_t nc = e->hcap ? e->hcap * 2 : KD_HEAP_MIN;
        struct kd_hslot *nh = realloc(e->heap, nc * sizeof *nh);
        if (!nh) { kde_rec_free(e, r); return; }
        e->heap = nh; e->hcap = nc;
    }
    struct kd_hslot x = { r->ts, r->seq, r };
    size_t i = e->hn++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!slot_less(&x, &e->heap[p])) break;
        e->heap[i] = e->heap[p]; i = p;
    }
    e->heap[i] = x;
    e->heap_bytes += KD_REC_BYTES(r);
    mem_add(e, (long)KD_REC_BYTES(r));
    /* over its share of --max-memory: to disk now, not at the next release (up to 16384
     * packets later: records of evicted connections piled up far past the budget meanwhile) */
    if (!e->finishing && e->heap_bytes > e->o.max_memory / KD_REORDER_SHARE) heap_over_budget(e);
}
static kd_rec *heap_pop(kd_engine *e)
{
    if (!e->hn) return NULL;
    kd_rec *top = e->heap[0].r;
    struct kd_hslot last = e->heap[--e->hn];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l >= e->hn) break;
        m = l;
        if (l + 1 < e->hn && slot_less(&e->heap[l + 1], &e->heap[l])) m = l + 1;
        if (!slot_less(&e->heap[m], &last)) break;
        e->heap[i] = e->heap[m]; i = m;
    }
    if (e->hn) e->heap[i] = last;
    e->heap_bytes -= KD_REC_BYTES(top);
    mem_add(e, -(long)KD_REC_BYTES(top));
    return top;
}
/* Writes one record with its id in front: {"id":"<prefix>-<index>", then the record without its
 * '{'. The id is formatted by hand (snprintf was 2 % of kdissect's time on
 * bench/data/api-one.pcap). Does not free r. */
static void rec_output(kd_engine *e, kd_rec *r)
{
    e->out_ts = r->ts;
    if (e->out_failed) return;
    if (e->o.raw_out) {   /* -j: the merge writes the id */
        if (e->out(e->out_arg, r->data, r->len) != 0) e->out_failed = 1;
        return;
    }
    char id[64], dig[24];
    size_t k = 0, pl = strlen(e->idprefix);
    int nd = 0;
    for (uint64_t v = e->out_index++; v || nd < 6; v /= 10) dig[nd++] = (char)('0' + v % 10);
    memcpy(id, "{\"id\":\"", 7); k = 7;
    memcpy(id + k, e->idprefix, pl); k += pl;
    id[k++] = '-';
    while (nd) id[k++] = dig[--nd];
    id[k++] = '"';
    if (r->len > 3) id[k++] = ',';
    /* the output gets whole lines (engine.h): id and record joined in one buffer */
    size_t need = k + r->len;
    if (e->idw.cap < need) {
        char *nb = realloc(e->idw.buf, need);
        if (!nb) { e->out_failed = 1; return; }
        e->idw.buf = nb; e->idw.cap = need;
    }
    memcpy(e->idw.buf, id, k);
    memcpy(e->idw.buf + k, r->data + 1, r->len - 1);
    if (e->out(e->out_arg, e->idw.buf, k + r->len - 1) != 0) e->out_failed = 1;
}

static int64_t conn_min_pending(const kd_engine *e, const kd_conn *c)
{
    int64_t m = c->pending_ts;
    if (!e->o.no_conn && !c->emitted && c->first_ts < m) m = c->first_ts;
    return m;
}

/* Outputs every record no connection can precede any more. */
/* Spilled runs: when waiting records outgrow their budget they are written, sorted, to a temp
 * file; output merges the runs with the heap, so order holds with bounded memory. */
/* The run's next record, into the run's own buffer (grown as needed, reused: one malloc per
 * record read back was 2 % of kdissect's time on bench/data/api-one.pcap); NULL at its end. */
static kd_rec *run_read(struct kd_run *run)
{
    FILE *f = run->f;
    /* the header in one call, and without stdio's lock (a run belongs to one engine, one
     * thread): four locked calls per record were most of this function */
    uint64_t hdr[3];
    if (fread_unlocked(hdr, sizeof hdr, 1, f) != 1) return NULL;
    int64_t ts = (int64_t)hdr[0];
    uint64_t seq = hdr[1], len = hdr[2];
    if (len > KD_RUN_RECORD_MAX) return NULL;
    if (!run->rec || run->reccap < len) {
        size_t cap = len < 4096 ? 4096 : (size_t)len;
        kd_rec *nr = realloc(run->rec, sizeof *nr + cap);
        if (!nr) return NULL;
        run->rec = nr; run->reccap = cap;
    }
    kd_rec *r = run->rec;
    r->ts = ts; r->seq = seq; r->len = (size_t)len;
    if (fread_unlocked(r->data, 1, (size_t)len, f) != len) return NULL;
    return r;
}
static int spill(kd_engine *e)
{
    if (e->nruns == e->capruns) {
        size_t nc = e->capruns ? e->capruns * 2 : KD_RUNS_MIN;
        struct kd_run *nr = realloc(e->runs, nc * sizeof *nr);
        if (!nr) return -1;
        e->runs = nr; e->capruns = nc;
    }
    FILE *f = tmpfile();
    if (!f) return -1;
    /* glibc ignores setvbuf's size without a buffer (4 KiB writes then: a syscall each) */
    size_t bsz = (size_t)(e->o.max_memory / KD_SPILL_BUF_DIV);
    if (bsz > KD_SPILL_BUF_MAX) bsz = KD_SPILL_BUF_MAX;
    char *buf = bsz >= KD_SPILL_BUF_MIN ? malloc(bsz) : NULL;
    if (buf) setvbuf(f, buf, _IOFBF, bsz);
    int ok = 1;
    while (e->hn) {
        kd_rec *r = heap_pop(e);
        uint64_t hdr[3] = { (uint64_t)r->ts, r->seq, r->len };   /* ts, seq, len: run_read */
        if (fwrite_unlocked(hdr, sizeof hdr, 1, f) != 1 || fwrite_unlocked(r->data, 1, r->len, f) != r->len) ok = 0;
        kde_rec_free(e, r);
    }
    if (fflush(f) != 0 || !ok) { fclose(f); free(buf); e->out_failed = 1; return -1; }
    rewind(f);
    e->runs[e->nruns].f = f;
    e->runs[e->nruns].buf = buf;
    e->runs[e->nruns].rec = NULL;
    e->runs[e->nruns].reccap = 0;
    e->runs[e->nruns].head = run_read(&e->runs[e->nruns]);
    e->nruns++;
    e->st.spilled_runs++;
    return 0;
}

/* Waiting records past their share of the budget: a sorted run to a temp file; without one,
 * the oldest go out now (out of order, counted). */
static void heap_over_budget(kd_engine *e)
{
    if (spill(e) == 0) return;
    while (e->hn && e->heap_bytes > e->o.max_memory / KD_REORDER_SHARE) {
        e->st.reorder_forced++;
        kd_rec *r = heap_pop(e);
        rec_output(e, r);
        kde_rec_free(e, r);
    }
}

/* Outputs every record no connection can precede any more (all: everything). */
void kde_flush_ready(kd_engine *e, int all)
{
    int64_t w = INT64_MAX;
    if (!all) {
        if (!e->o.no_conn && !e->pending_early) {
            /* every live connection still owes its conn record, stamped first_ts, and waits on
             * nothing older: the oldest first_ts is the minimum */
            if (e->thead) w = e->thead->first_ts;
        } else {
            int early = 0;
            for (int l = 0; l < LRU_N; l++)
                for (kd_conn *c = e->lru_head[l]; c; c = c->lnext) {
                    int64_t m = conn_min_pending(e, c);
                    if (m < w) w = m;
                    if (c->pending_ts < c->first_ts) early = 1;
                }
            e->pending_early = early;
        }
        if (!e->o.no_conn)
            for (size_t i = 0; i < e->fhtcap; i++)
                for (kd_flow *f = e->fht[i]; f; f = f->hnext)
                    if (f->dirty && f->rec_start < w) w = f->rec_start;
    }
    if (all) w = INT64_MAX;
    e->natural = w;
    if (w > e->cap) w = e->cap;   /* -j: what other shards cannot precede yet stays here */
    for (;;) {
        kd_rec *best = e->hn ? e->heap[0].r : NULL;
        size_t bi = (size_t)-1;
        for (size_t i = 0; i < e->nruns; i++)
            if (e->runs[i].head && (!best || rec_less(e->runs[i].head, best))) { best = e->runs[i].head; bi = i; }
        if (!best || best->ts > w) break;
        if (bi == (size_t)-1) { kd_rec *r = heap_pop(e); rec_output(e, r); kde_rec_free(e, r); }
        else { rec_output(e, best); e->runs[bi].head = run_read(&e->runs[bi]); }
    }
    /* drop exhausted runs */
    for (size_t i = 0; i < e->nruns;) {
        if (!e->runs[i].head) { fclose(e->runs[i].f); free(e->runs[i].buf); free(e->runs[i].rec); e->runs[i] = e->runs[--e->nruns]; }
        else i++;
    }
    /* bounded: a third of the memory budget for waiting records, the rest goes to disk. Not once
     * finishing: what waits then is what one engine holds at its end (every connection's last
     * record), and with -j it goes out as soon as the other shards get there too */
    if (!e->finishing && e->heap_bytes > e->o.max_memory / KD_REORDER_SHARE) heap_over_budget(e);
    /* nothing more goes out before the oldest record still waiting, nor before a record yet
     * to be made */
    w = e->natural;
    if (e->hn && e->heap[0].ts < w) w = e->heap[0].ts;
    for (size_t i = 0; i < e->nruns; i++)
        if (e->runs[i].head && e->runs[i].head->ts < w) w = e->runs[i].head->ts;
    e->watermark = w;
}

