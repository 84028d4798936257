/* engine_order.c — kdissect engine: reordering and spill of records (see engine_int.h for the parts). */
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
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
typedef struct kd_rchunk { size_t live, used; struct kd_rchunk *next; int slab; } kd_rchunk;
#define RCHUNK_HDR ((sizeof(kd_rchunk) + 15) & ~(size_t)15)

/* With a budget of at least KD_RSLAB_MIN for waiting records, chunks are cut from slabs of
 * KD_RSLAB bytes, one transparent huge page each (MADV_HUGEPAGE): filling the waiting records'
 * share of the default --max-memory took 8 700 page faults of 4 KiB, half of kdissect's on
 * bench/data/api-one.pcap (the kernel's share of its time was 27 %, faults a third of that).
 * A slab's chunks are never handed back one by one: an emptied one waits on the spare list, so
 * the slabs hold what the chunks held at their peak, and are unmapped with the engine. Where the
 * kernel has no huge pages the madvise fails and the slab fills page by page, as malloc's did. */
#define KD_RSLAB (2u << 20)
#define KD_RSLAB_MIN (8u << 20)
struct kd_rslab { struct kd_rslab *next; char *base; };

/* a new slab: its first chunk, the others on the spare list; NULL without memory */
static kd_rchunk *rslab_new(kd_engine *e)
{
    struct kd_rslab *s = malloc(sizeof *s);
    if (!s) return NULL;
    /* twice the size, then the unaligned ends unmapped: a huge page needs a KD_RSLAB boundary */
    size_t len = 2 * (size_t)KD_RSLAB;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { free(s); return NULL; }
    char *a = (char *)(((uintptr_t)p + KD_RSLAB - 1) & ~(uintptr_t)(KD_RSLAB - 1));
    if (a > p) munmap(p, (size_t)(a - p));
    if (a + KD_RSLAB < p + len) munmap(a + KD_RSLAB, (size_t)(p + len - (a + KD_RSLAB)));
    madvise(a, KD_RSLAB, MADV_HUGEPAGE);
    s->base = a; s->next = e->rslabs; e->rslabs = s;
    for (size_t i = KD_RSLAB / KD_RCHUNK - 1; i >= 1; i--) {
        kd_rchunk *c = (kd_rchunk *)(a + i * KD_RCHUNK);
        c->slab = 1; c->next = e->rspare; e->rspare = c; e->nspare++;
    }
    kd_rchunk *c = (kd_rchunk *)a;
    c->slab = 1;
    return c;
}

/* a record goes into a chunk when it takes at most this much and the chunks are not far more
 * than the waiting records hold */
#define RCHUNK_MAXREC ((KD_RCHUNK - RCHUNK_HDR) / 8)
static int rchunk_ok(const kd_engine *e)
{
    return e->rchunk_bytes <= 2 * e->heap_bytes + 4 * KD_RCHUNK;
}
/* what a record of len bytes of text takes in a chunk */
static size_t rec_need(size_t len) { return (sizeof(kd_rec) + len + 15) & ~(size_t)15; }
/* where chunk c's next record goes */
static kd_rec *rchunk_next(kd_rchunk *c) { return (kd_rec *)(void *)((char *)c + c->used); }
/* the next record of chunk c, of need bytes (rec_need), which fit */
static kd_rec *rchunk_cut(kd_rchunk *c, size_t need)
{
    kd_rec *r = rchunk_next(c);
    c->used += need;
    c->live++;
    r->ch = c;
    return r;
}

kd_rec *kde_rec_alloc(kd_engine *e, size_t len)
{
    size_t need = rec_need(len);
    if (need <= RCHUNK_MAXREC && rchunk_ok(e)) {
        kd_rchunk *c = e->rcur;
        if (!c || KD_RCHUNK - c->used < need) {
            if (c && !c->live) c->used = RCHUNK_HDR;   /* all of it went out: start it again */
            else {
                if (c) e->rcur = NULL;                  /* freed by its last record */
                if ((c = e->rspare)) { e->rspare = c->next; e->nspare--; }
                else if (e->o.max_memory / KD_REORDER_SHARE >= KD_RSLAB_MIN) c = rslab_new(e);
                else if ((c = malloc(KD_RCHUNK))) c->slab = 0;
                if (c) e->rchunk_bytes += KD_RCHUNK;
                if (c) { c->live = 0; c->used = RCHUNK_HDR; e->rcur = c; }
            }
        }
        if (c) return rchunk_cut(c, need);
    }
    kd_rec *r = malloc(sizeof *r + len);
    if (r) r->ch = NULL;
    return r;
}

char *kde_rec_room(kd_engine *e, size_t *cap)
{
    kd_rchunk *c = e->rcur;
    if (!c || !rchunk_ok(e)) return NULL;
    /* a text of n bytes and its NUL in room: offsetof + n + 1 <= room, so its kd_rec rounded up
     * to 16 fits too (room is a multiple of 16: used is) and takes at most RCHUNK_MAXREC */
    size_t room = KD_RCHUNK - c->used, max = RCHUNK_MAXREC & ~(size_t)15;
    if (room > max) room = max;
    if (room < offsetof(kd_rec, data) + 512) return NULL;   /* nearly full: a record would not fit */
    *cap = room - offsetof(kd_rec, data);
    return rchunk_next(c)->data;
}

kd_rec *kde_rec_placed(kd_engine *e, const char *text, size_t len)
{
    kd_rchunk *c = e->rcur;
    if (!c || text != rchunk_next(c)->data || !rchunk_ok(e)) return NULL;
    size_t need = rec_need(len);
    if (need > RCHUNK_MAXREC || need > KD_RCHUNK - c->used) return NULL;
    return rchunk_cut(c, need);   /* where kde_rec_alloc would have cut it */
}

void kde_rec_free(kd_engine *e, kd_rec *r)
{
    if (!r) return;
    kd_rchunk *c = r->ch;
    if (!c) { free(r); return; }
    if (--c->live || c == e->rcur) return;
    e->rchunk_bytes -= KD_RCHUNK;
    size_t keep = (size_t)(e->o.max_memory / KD_REORDER_SHARE) / KD_RCHUNK;
    if (c->slab || e->nspare < (keep ? keep : 1)) { c->next = e->rspare; e->rspare = c; e->nspare++; return; }
    free(c);
}

void kde_rec_arena_free(kd_engine *e)
{
    /* only the current and the spare chunks can be left once every record is freed */
    if (e->rcur && !e->rcur->live && !e->rcur->slab) free(e->rcur);
    e->rcur = NULL;
    for (kd_rchunk *c = e->rspare, *nx; c; c = nx) { nx = c->next; if (!c->slab) free(c); }
    e->rspare = NULL; e->nspare = 0;
    for (struct kd_rslab *s = e->rslabs, *nx; s; s = nx) { nx = s->next; munmap(s->base, KD_RSLAB); free(s); }
    e->rslabs = NULL;
}

/* ------------------------------------------------------------------ record heap */

/* records go out by time, then in the order they were made: the heap's slots, the runs' heads */
static int key_less(int64_t ats, uint64_t aseq, int64_t bts, uint64_t bseq)
{
    return ats < bts || (ats == bts && aseq < bseq);
}
static int slot_less(const kf_tsseq *a, const kf_tsseq *b)
{
    return key_less(a->ts, a->seq, b->ts, b->seq);
}
static int slot_cmp(const void *a, const void *b)
{
    return slot_less(a, b) ? -1 : slot_less(b, a);
}

static void heap_over_budget(kd_engine *e);
void kde_heap_push(kd_engine *e, kd_rec *r)
{
    if (e->hn == e->hcap) {
        size_t nc = e->hcap ? e->hcap * 2 : KD_HEAP_MIN;
        kf_tsseq *nh = realloc(e->heap, nc * sizeof *nh);
        if (!nh) { kde_rec_free(e, r); return; }
        e->heap = nh; e->hcap = nc;
    }
    kf_tsseq x = { r->ts, r->seq, r };
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
    kf_tsseq last = e->heap[--e->hn];
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
/* ------------------------------------------------------------------ output */

/* Records on their way out: each as two pieces, its id ({"id":"<prefix>-<index>", formatted
 * here) and the record without its '{', pointing where the record is (its chunk, or a spilled
 * run's read block). Delivered together, as iovecs to kd_outv_fn (main.c writev's them) or
 * joined into one buffer for kd_out_fn; a waiting record is freed, and a read block reused, only
 * after that. Hand-written for the benchmark: on bench/data/api-one.pcap almost every record is
 * spilled and read back, and joining id and record (e->idw) and then copying both into main.c's
 * output buffer were two copies of all 161 MB of output (kde_flush_ready 7 % of the time). */
struct kd_outq {
    int nrec, nfr;
    size_t bytes;
    struct iovec iov[2 * KD_OUT_RECS];
    kd_rec *fr[KD_OUT_RECS];          /* waiting records to free once delivered */
    char ids[KD_OUT_RECS][64];
};

void kd_engine_set_outv(kd_engine *e, kd_outv_fn outv) { e->outv = outv; }

static void out_deliver(kd_engine *e)
{
    struct kd_outq *q = e->oq;
    if (!q || !q->nrec) return;
    if (!e->out_failed) {
        if (e->outv) {
            if (e->outv(e->out_arg, q->iov, 2 * q->nrec) != 0) e->out_failed = 1;
        } else {
            size_t need = q->bytes;
            if (e->idw.cap < need) {
                char *nb = realloc(e->idw.buf, need);
                if (!nb) e->out_failed = 1;
                else { e->idw.buf = nb; e->idw.cap = need; }
            }
            if (!e->out_failed) {
                size_t k = 0;
                for (int i = 0; i < 2 * q->nrec; i++) { memcpy(e->idw.buf + k, q->iov[i].iov_base, q->iov[i].iov_len); k += q->iov[i].iov_len; }
                if (e->out(e->out_arg, e->idw.buf, k) != 0) e->out_failed = 1;
            }
        }
    }
    for (int i = 0; i < q->nfr; i++) kde_rec_free(e, q->fr[i]);
    q->nrec = q->nfr = 0;
    q->bytes = 0;
}

/* One record out (ts, its text): with its id in front, or, -j (raw_out), as it is: the merge
 * writes the id. fr: the waiting record to free once out (NULL for a run's). */
static void rec_output(kd_engine *e, int64_t ts, const char *data, size_t len, kd_rec *fr)
{
    e->out_ts = ts;
    if (e->out_failed) { kde_rec_free(e, fr); return; }
    if (e->o.raw_out) {
        if (e->out(e->out_arg, data, len) != 0) e->out_failed = 1;
        kde_rec_free(e, fr);
        return;
    }
    struct kd_outq *q = e->oq;
    if (!q) {
        if (!(q = e->oq = malloc(sizeof *q))) { e->out_failed = 1; kde_rec_free(e, fr); return; }
        q->nrec = q->nfr = 0; q->bytes = 0;
    }
    if (q->nrec && (q->nrec == KD_OUT_RECS || q->bytes + len > KD_OUT_BYTES)) out_deliver(e);
    char *id = q->ids[q->nrec];
    size_t k = kd_idgen_next(&e->ids, id, len > 3);
    q->iov[2 * q->nrec] = (struct iovec){ id, k };
    q->iov[2 * q->nrec + 1] = (struct iovec){ (char *)data + 1, len - 1 };
    q->nrec++;
    q->bytes += k + len - 1;
    if (fr) q->fr[q->nfr++] = fr;
}

static int64_t conn_min_pending(const kd_engine *e, const kd_conn *c)
{
    int64_t m = c->pending_ts;
    if (!e->o.no_conn && !c->emitted && c->first_ts < m) m = c->first_ts;
    return m;
}

/* ------------------------------------------------------------------ spilled runs */

/* When waiting records outgrow their budget they are written, sorted, to a temp file (a run);
 * output merges the runs with the heap, so order holds with bounded memory. The engine has one
 * file: runs follow each other in it, and once every run was read back the next starts at its
 * beginning again, over pages the page cache already holds (a file per run took a descriptor
 * each: at --max-memory 4M, 117 on bench/data/api-one.pcap, and where the descriptors ran out
 * the records went out of order, reorder_forced, exit 0). A run is read back a block at a time
 * (pread(2) into the run's block) and its head points into the block: no copy
 * per record (before: stdio's buffer, then a per-run record buffer, 5 % of kdissect's time on
 * bench/data/api-one.pcap, where a long keep-alive connection's conn record holds back nearly
 * every record and 130 of 161 MB go through a spill). A record longer than the block gets a
 * block of its size. Returns 1 with the head set, 0 at the run's end, -1 on a read error or a
 * corrupt run. Refilling the block moves what the output may still point to: out_deliver first. */
static int run_next(kd_engine *e, struct kd_run *run)
{
    run->has = 0;
    for (;;) {
        size_t avail = run->bend - run->bpos;
        if (avail >= KD_REC_HDR) {
            uint64_t hdr[3];
            memcpy(hdr, run->blk + run->bpos, sizeof hdr);
            if (hdr[2] > KD_RUN_RECORD_MAX) { errno = EIO; return -1; }
            size_t need = KD_REC_HDR + (size_t)hdr[2];
            if (avail >= need) {
                run->ts = (int64_t)hdr[0]; run->seq = hdr[1]; run->len = hdr[2];
                run->data = run->blk + run->bpos + KD_REC_HDR;
                run->bpos += need;
                run->has = 1;
                return 1;
            }
            if (need > run->bcap) {   /* a record longer than the block */
                out_deliver(e);
                char *nb = malloc(need);
                if (!nb) return -1;
                memcpy(nb, run->blk + run->bpos, avail);
                free(run->blk);
                run->blk = nb; run->bcap = need; run->bpos = 0; run->bend = avail;
            }
        }
        if (run->roff >= run->rend) { errno = EIO; return avail ? -1 : 0; }   /* a record cut short: corrupt */
        out_deliver(e);
        if (run->bpos) {
            memmove(run->blk, run->blk + run->bpos, avail);
            run->bpos = 0; run->bend = avail;
        }
        size_t want = run->bcap - run->bend;
        if (want > run->rend - run->roff) want = (size_t)(run->rend - run->roff);
        ssize_t n = pread(e->spill_fd, run->blk + run->bend, want, (off_t)run->roff);
        if (n < 0) { if (errno == EINTR) continue; return -1; }
        if (n == 0) { errno = EIO; return -1; }   /* the file is shorter than what was written */
        run->roff += (uint64_t)n;
        run->bend += (size_t)n;
    }
}

/* the run's first block (its head's key came from the spill) */
static int run_load(kd_engine *e, struct kd_run *run)
{
    size_t bsz = (size_t)(e->o.max_memory / KD_SPILL_BUF_DIV);
    if (bsz > KD_SPILL_BUF_MAX) bsz = KD_SPILL_BUF_MAX;
    if (bsz < KD_SPILL_BUF_MIN) bsz = KD_SPILL_BUF_MIN;
    if (!(run->blk = malloc(bsz))) return -1;
    run->bcap = bsz; run->bpos = run->bend = 0;
    run->loaded = 1;
    int64_t ts = run->ts;
    uint64_t seq = run->seq;
    int rc = run_next(e, run);
    if (rc == 1 && run->ts == ts && run->seq == seq) return 0;
    if (rc >= 0) errno = EIO;
    return -1;
}

static void run_close(struct kd_run *run)
{
    free(run->blk);
    run->blk = NULL; run->has = 0;
}

void kde_order_free(kd_engine *e)
{
    for (size_t i = 0; i < e->nruns; i++) run_close(&e->runs[i]);
    free(e->runs);
    e->runs = NULL; e->nruns = e->capruns = 0;
    if (e->spill_open) close(e->spill_fd);
    e->spill_open = 0;
    free(e->oq);
    e->oq = NULL;
}

/* A temp file for spilled runs: unnamed (O_TMPFILE: gone by itself on any exit) in $TMPDIR, else /tmp, as
 * docs/limits.md says (tmpfile(), used before, ignores $TMPDIR); where the file system has no
 * O_TMPFILE, a mkstemp file unlinked at once. -1 when there is none: heap_over_budget then lets
 * the oldest records out early (counted as reorder_forced). */
int kd_spill_fd(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) return fd;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/kdissect-run.XXXXXX", dir) >= (int)sizeof path) return -1;
    if ((fd = mkostemp(path, O_CLOEXEC)) >= 0) unlink(path);
    return fd;
}

/* Writing or reading back a run failed (errno says why): the output is incomplete */
static void spill_failed(kd_engine *e)
{
    if (!e->spill_err) e->spill_err = errno ? errno : EIO;
    e->out_failed = 1;
}
int kd_engine_spill_error(const kd_engine *e) { return e->spill_err; }

/* n iovecs to fd at *off, all of them; *off moves past them */
static int pwritev_all(int fd, struct iovec *iov, int n, uint64_t *off)
{
    while (n > 0) {
        ssize_t w = pwritev(fd, iov, n, (off_t)*off);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        *off += (uint64_t)w;
        while (n > 0 && (size_t)w >= iov->iov_len) { w -= (ssize_t)iov->iov_len; iov++; n--; }
        if (n > 0) { iov->iov_base = (char *)iov->iov_base + w; iov->iov_len -= (size_t)w; }
    }
    return 0;
}

/* Too many runs waiting at once (KD_RUNS_MAX): the smallest quarter of them are merged into one
 * new run at the file's end, and the file's pages under them given back (a hole punched;
 * where the file system cannot, they stay until every run was read back). Each run waiting
 * holds a read block once it is loaded, and output looks at every run's head for each record:
 * a capture with a connection open from its start to its end (everything waits for its conn
 * record) spilled a run per third of --max-memory, so the blocks grew past the budget and the
 * work per record with the capture's length. Merging the smallest first keeps runs of like
 * size together (each record is rewritten about log base 16 of the runs times). The
 * order is (ts, seq) as everywhere, so the output is the same. 0, or -1 with errno. */
/* run a's head goes out before run b's (b NULL: yes); the order of slot_less */
static int run_first(const struct kd_run *a, const struct kd_run *b)
{
    return !b || key_less(a->ts, a->seq, b->ts, b->seq);
}
/* the heap's oldest record goes out before run's head (run NULL: if there is one) */
static int heap_first(const kd_engine *e, const struct kd_run *run)
{
    if (!e->hn) return 0;
    if (!run) return 1;
    return key_less(e->heap[0].ts, e->heap[0].seq, run->ts, run->seq);
}
static int merge_put(kd_engine *e, char *buf, size_t *used, const void *p, size_t n)
{
    if (*used + n > KD_MERGE_BUF) {
        struct iovec v[2] = { { buf, *used }, { (void *)p, n } };
        if (pwritev_all(e->spill_fd, v, 2, &e->spill_end) != 0) return -1;
        *used = 0;
        return 0;
    }
    memcpy(buf + *used, p, n);
    *used += n;
    return 0;
}
static int run_bytes_cmp(const void *a, const void *b)
{
    const struct kd_run *x = a, *y = b;
    uint64_t p = x->rend - x->roff, q = y->rend - y->roff;
    return p < q ? -1 : p > q;
}
static int merge_runs(kd_engine *e)
{
    out_deliver(e);   /* (nothing on its way out may point into a block read anew) */
    qsort(e->runs, e->nruns, sizeof *e->runs, run_bytes_cmp);
    size_t k = e->runs_max / KD_RUNS_FANIN_DIV < 2 ? 2 : e->runs_max / KD_RUNS_FANIN_DIV;   /* (<= nruns: called at runs_max >= 4) */
    char *buf = malloc(KD_MERGE_BUF);
    if (!buf) return -1;
    struct kd_run m;
    memset(&m, 0, sizeof m);
    m.roff = e->spill_end;
    size_t used = 0;
    int rc = 0, first = 1;
    for (size_t i = 0; i < k && rc == 0; i++)
        if (e->runs[i].has && !e->runs[i].loaded && run_load(e, &e->runs[i]) != 0) rc = -1;
    while (rc == 0) {
        struct kd_run *b = NULL;
        for (size_t i = 0; i < k; i++) {
            struct kd_run *r = &e->runs[i];
            if (r->has && run_first(r, b)) b = r;
        }
        if (!b) break;
        if (first) { m.ts = b->ts; m.seq = b->seq; first = 0; }
        uint64_t hdr[3] = { (uint64_t)b->ts, b->seq, b->len };
        if (merge_put(e, buf, &used, hdr, sizeof hdr) != 0 || merge_put(e, buf, &used, b->data, (size_t)b->len) != 0 ||
            run_next(e, b) < 0) rc = -1;
    }
    if (rc == 0 && used) {
        struct iovec v = { buf, used };
        if (pwritev_all(e->spill_fd, &v, 1, &e->spill_end) != 0) rc = -1;
    }
    int err = errno;
    free(buf);
    if (rc != 0) { errno = err; return -1; }
    for (size_t i = 0; i < k; i++) {
        struct kd_run *r = &e->runs[i];
#ifdef FALLOC_FL_PUNCH_HOLE
        if (r->rend > r->start)
            (void)fallocate(e->spill_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)r->start, (off_t)(r->rend - r->start));
#endif
        run_close(r);
    }
    memmove(e->runs, e->runs + k, (e->nruns - k) * sizeof *e->runs);
    e->nruns -= k;
    if (!first) {
        m.rend = e->spill_end; m.start = m.roff; m.has = 1;
        e->runs[e->nruns++] = m;
    }
    e->st.merged_runs += k;
    return 0;
}

/* Every waiting record, in order, to a new run: written with pwritev straight from the records
 * (header and text are contiguous in a kd_rec), KD_SPILL_IOV at a time, then freed (before:
 * fwrite copied each into stdio's buffer first). */
static int spill(kd_engine *e)
{
    if (!e->hn) return 0;
    if (e->nruns == e->capruns) {
        size_t nc = e->capruns ? e->capruns * 2 : KD_RUNS_MIN;
        struct kd_run *nr = realloc(e->runs, nc * sizeof *nr);
        if (!nr) return -1;
        e->runs = nr; e->capruns = nc;
    }
    if (!e->spill_open) {
        if ((e->spill_fd = kd_spill_fd()) < 0) return -1;
        e->spill_open = 1;
        e->spill_end = 0;
    }
    if (!e->nruns) e->spill_end = 0;   /* every run was read back: the file is free again */
    struct kd_run *run = &e->runs[e->nruns];
    memset(run, 0, sizeof *run);
    run->roff = run->start = e->spill_end;
    run->ts = e->heap[0].ts; run->seq = e->heap[0].seq;
    /* every record goes: sorted at once, not popped one by one (heap_pop was 3 % of kdissect's
     * time on bench/data/api-one.pcap, most of it here) */
    size_t cnt = e->hn;
    if (e->stmpcap < cnt) {   /* the sort's copy, as big as the heap, kept for the next spill: a
                               * malloc each time came back as fresh pages, page faults each */
        kf_tsseq *t = realloc(e->stmp, e->hcap * sizeof *t);
        if (t) { e->stmp = t; e->stmpcap = e->hcap; }
    }
    if (e->stmpcap >= cnt) kf_tsseq_sort(e->heap, e->stmp, cnt);
    else qsort(e->heap, cnt, sizeof *e->heap, slot_cmp);   /* (no room for the radix sort's copy) */
    e->hn = 0;
    mem_add(e, -(long)e->heap_bytes);
    e->heap_bytes = 0;
    struct iovec iov[KD_SPILL_IOV];
    int n = 0, ok = 1, werr = 0;
    for (size_t k = 0; k < cnt; k++) {
        kd_rec *r = e->heap[k].r;
        iov[n++] = (struct iovec){ &r->ts, KD_REC_HDR + (size_t)r->len };
        if (n == KD_SPILL_IOV || k + 1 == cnt) {
            if (ok && pwritev_all(e->spill_fd, iov, n, &e->spill_end) != 0) { ok = 0; werr = errno; }
            for (size_t j = k + 1 - (size_t)n; j <= k; j++) kde_rec_free(e, e->heap[j].r);
            n = 0;
        }
    }
    if (!ok) { errno = werr; spill_failed(e); return -1; }
    run->rend = e->spill_end;
    run->has = 1;
    e->nruns++;
    e->st.spilled_runs++;
    if (!e->runs_max) {   /* tests: KDISSECT_RUNS_MAX makes a small capture merge its runs */
        const char *v = getenv("KDISSECT_RUNS_MAX");
        long n = v && *v ? strtol(v, NULL, 10) : 0;
        e->runs_max = n >= 4 && n <= KD_RUNS_MAX ? (size_t)n : KD_RUNS_MAX;
    }
    if (e->nruns >= e->runs_max && merge_runs(e) != 0) { spill_failed(e); return -1; }
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
        rec_output(e, r->ts, r->data, (size_t)r->len, r);
    }
    out_deliver(e);
}

/* Outputs every record no connection can precede any more (all: everything). */
void kde_flush_ready(kd_engine *e, int all)
{
    int64_t w = INT64_MAX;
    if (!all) {
        if (!e->o.no_conn && !e->pending_early) {
            /* every live connection still owes its conn record, stamped first_ts, and waits on
             * nothing older: the oldest first_ts is the minimum */
            if (e->ftn) w = e->ft[0]->first_ts;
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
        /* the run whose head goes out first, and the one after it */
        struct kd_run *run = NULL, *next = NULL;
        for (size_t i = 0; i < e->nruns; i++) {
            struct kd_run *r = &e->runs[i];
            if (!r->has) continue;
            if (run_first(r, run)) { next = run; run = r; }
            else if (run_first(r, next)) next = r;
        }
        if (heap_first(e, run)) {   /* the heap's oldest */
            if (e->heap[0].ts > w) break;
            kd_rec *r = heap_pop(e); rec_output(e, r->ts, r->data, (size_t)r->len, r); continue;
        }
        if (!run || run->ts > w) break;
        if (!run->loaded && run_load(e, run) != 0) { spill_failed(e); run->has = 0; continue; }
        /* its records for as long as it stays first: runs seldom overlap much in time, and looking
         * at every run's head for each record was 2 % of kdissect's instructions on
         * bench/data/api-one.pcap (36 runs) */
        do {
            rec_output(e, run->ts, run->data, (size_t)run->len, NULL);
            if (run_next(e, run) < 0) { spill_failed(e); break; }
        } while (run->has && run->ts <= w && run_first(run, next) && !heap_first(e, run));
    }
    out_deliver(e);
    /* drop exhausted runs (nothing on its way out points into them now) */
    for (size_t i = 0; i < e->nruns;) {
        if (!e->runs[i].has) { run_close(&e->runs[i]); e->runs[i] = e->runs[--e->nruns]; }
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
        if (e->runs[i].has && e->runs[i].ts < w) w = e->runs[i].ts;
    e->watermark = w;
}
