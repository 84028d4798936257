/* parallel.c — kdissect -j N: packets sharded by their address pair across N engines on N
 * threads (all packets of a connection, its IP fragments and its flow land on one shard);
 * each shard writes its records, already in timestamp order, to a temp file; at the end the
 * files are merged by timestamp and the record ids renumbered, so the output is the same
 * kind as one thread's. Known difference: names learned from DNS answers only show on
 * records of the same shard. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include "parallel.h"
#include "kf_decode.h"

#define BATCH_PKTS 512
#define BATCH_BYTES (1u << 20)
#define QUEUE_MAX 8

typedef struct pmeta {
    int64_t ts; uint32_t caplen, origlen, iface, off; int linktype;
    const char *file, *node; uint64_t frame;
} pmeta;

typedef struct batch {
    struct batch *next;
    size_t n, used;
    pmeta m[BATCH_PKTS];
    uint8_t data[BATCH_BYTES];
} batch;

typedef struct shard {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv, cv_space;
    batch *head, *tail, *cur;
    int queued, done;
    kd_engine *e;
    FILE *out;
    int failed, running;
} shard;

static int shard_out(void *arg, const char *buf, size_t len)
{
    shard *s = arg;
    if (fwrite(buf, 1, len, s->out) != len) { s->failed = 1; return -1; }
    return 0;
}

static void *worker(void *arg)
{
    shard *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->head && !s->done) pthread_cond_wait(&s->cv, &s->mu);
        batch *b = s->head;
        if (b) { s->head = b->next; if (!s->head) s->tail = NULL; s->queued--; pthread_cond_signal(&s->cv_space); }
        pthread_mutex_unlock(&s->mu);
        if (!b) break;
        for (size_t i = 0; i < b->n; i++) {
            pmeta *m = &b->m[i];
            kd_engine_packet(s->e, m->ts, m->linktype, b->data + m->off, m->caplen, m->origlen, m->iface,
                             m->file, m->node, m->frame);
        }
        free(b);
    }
    kd_engine_finish(s->e);
    return NULL;
}

static void push(shard *s)
{
    batch *b = s->cur;
    s->cur = NULL;
    if (!b || !b->n) { free(b); return; }
    pthread_mutex_lock(&s->mu);
    while (s->queued >= QUEUE_MAX) pthread_cond_wait(&s->cv_space, &s->mu);
    b->next = NULL;
    if (s->tail) s->tail->next = b; else s->head = b;
    s->tail = b; s->queued++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* FNV over the unordered address pair (ports left out: fragments have none) */
static unsigned pick(const kf_l4 *l4, int rc, unsigned n)
{
    if (rc == KF_DEC_NOT_IP || !l4->ipver) return 0;
    const uint8_t *a = l4->src.a, *b = l4->dst.a;
    if (memcmp(a, b, 16) > 0) { const uint8_t *t = a; a = b; b = t; }
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < 16; i++) { h ^= a[i]; h *= 0x100000001b3ULL; }
    for (int i = 0; i < 16; i++) { h ^= b[i]; h *= 0x100000001b3ULL; }
    h ^= h >> 29;
    return (unsigned)(h % n);
}

/* line's "timestamp" value (fixed width RFC 3339: compares as text) */
static const char *ts_of(const char *line)
{
    const char *t = strstr(line, "\"timestamp\":\"");
    return t ? t + 13 : "";
}

int kd_run_parallel(kf_source *src, const kd_engine_opts *o, int jobs, kd_out_fn out, void *out_arg,
                    kd_engine_stats *agg, char *err, size_t errlen)
{
    shard *sh = calloc((size_t)jobs, sizeof *sh);
    if (!sh) { snprintf(err, errlen, "out of memory"); return -1; }
    int rc = 0;
    kd_engine_opts so = *o;
    so.max_memory = o->max_memory / (uint64_t)jobs;
    for (int i = 0; i < jobs; i++) {
        sh[i].out = tmpfile();
        if (!sh[i].out) { snprintf(err, errlen, "cannot create a temporary file"); rc = -1; break; }
        pthread_mutex_init(&sh[i].mu, NULL);
        pthread_cond_init(&sh[i].cv, NULL);
        pthread_cond_init(&sh[i].cv_space, NULL);
        so.id_base = (uint32_t)i; so.id_step = (uint32_t)jobs;   /* unique conn/flow ids */
        sh[i].e = kd_engine_new(&so, shard_out, &sh[i]);
        if (!sh[i].e || pthread_create(&sh[i].th, NULL, worker, &sh[i]) != 0) {
            snprintf(err, errlen, "cannot start worker %d", i); rc = -1; break;
        }
        sh[i].running = 1;
    }
    int started = 0;
    while (started < jobs && sh[started].running) started++;
    kf_src_pkt p;
    int r = 0;
    uint64_t stray_pkts = 0, stray_bytes = 0;
    while (rc == 0 && (r = kf_source_next(src, &p)) == 1) {
        kf_l4 l4;
        int d = kf_decode(NULL, p.pkt.linktype, p.pkt.data, p.pkt.caplen, p.pkt.ts_ns, &l4);
        unsigned k = pick(&l4, d, (unsigned)jobs);
        shard *s = &sh[k];
        if (p.pkt.caplen > BATCH_BYTES) { stray_pkts++; stray_bytes += p.pkt.origlen; continue; }
        if (s->cur && (s->cur->n == BATCH_PKTS || s->cur->used + p.pkt.caplen > BATCH_BYTES)) push(s);
        if (!s->cur) {
            s->cur = malloc(sizeof *s->cur);
            if (!s->cur) { snprintf(err, errlen, "out of memory"); rc = -1; break; }
            s->cur->n = s->cur->used = 0;
        }
        pmeta *m = &s->cur->m[s->cur->n++];
        m->ts = p.pkt.ts_ns; m->caplen = p.pkt.caplen; m->origlen = p.pkt.origlen; m->iface = p.pkt.iface;
        m->linktype = p.pkt.linktype; m->file = p.file; m->node = p.node; m->frame = p.frame;
        m->off = (uint32_t)s->cur->used;
        memcpy(s->cur->data + s->cur->used, p.pkt.data, p.pkt.caplen);
        s->cur->used += p.pkt.caplen;
    }
    if (r < 0) { snprintf(err, errlen, "%s", kf_source_error(src)); rc = -2; }
    for (int i = 0; i < started; i++) {
        push(&sh[i]);
        pthread_mutex_lock(&sh[i].mu);
        sh[i].done = 1;
        pthread_cond_signal(&sh[i].cv);
        pthread_mutex_unlock(&sh[i].mu);
    }
    for (int i = 0; i < started; i++) pthread_join(sh[i].th, NULL);
    /* merge: every shard file is sorted by timestamp; ids renumbered in output order */
    char *line[64] = { 0 };
    size_t cap[64] = { 0 };
    int n = jobs < 64 ? jobs : 64;
    for (int i = 0; i < n && rc != -1; i++) {
        if (!sh[i].out) continue;
        if (sh[i].failed) { snprintf(err, errlen, "cannot write a temporary file"); rc = -1; break; }
        rewind(sh[i].out);
        if (getline(&line[i], &cap[i], sh[i].out) < 0) { free(line[i]); line[i] = NULL; }
    }
    uint64_t idx = 0;
    char *obuf = NULL; size_t ocap = 0;
    while (rc != -1) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (line[i] && (best < 0 || strncmp(ts_of(line[i]), ts_of(line[best]), 30) < 0)) best = i;
        if (best < 0) break;
        char *l = line[best];
        /* {"id":"<16 hex>-<digits>", ... -> renumber */
        const char *dash = strchr(l + 7, '-'), *q = dash ? strchr(dash, '"') : NULL;
        size_t len = strlen(l);
        if (dash && q) {
            size_t need = len + 32;
            if (need > ocap) { char *nb = realloc(obuf, need); if (!nb) { rc = -1; break; } obuf = nb; ocap = need; }
            int k = snprintf(obuf, ocap, "%.*s-%06" PRIu64, (int)(dash - l), l, idx++);
            memcpy(obuf + k, q, len - (size_t)(q - l));
            if (out(out_arg, obuf, (size_t)k + len - (size_t)(q - l)) != 0) { rc = -1; snprintf(err, errlen, "write error"); break; }
        } else if (out(out_arg, l, len) != 0) { rc = -1; snprintf(err, errlen, "write error"); break; }
        if (getline(&line[best], &cap[best], sh[best].out) < 0) { free(line[best]); line[best] = NULL; }
    }
    free(obuf);
    memset(agg, 0, sizeof *agg);
    for (int i = 0; i < jobs; i++) {
        free(line[i < 64 ? i : 0]); if (i < 64) line[i] = NULL;
        if (sh[i].e) {
            if (!sh[i].running) kd_engine_finish(sh[i].e);
            const kd_engine_stats *s = kd_engine_get_stats(sh[i].e);
            const uint64_t *a = (const uint64_t *)s;
            uint64_t *b = (uint64_t *)agg;
            for (size_t k = 0; k < sizeof *s / sizeof(uint64_t); k++) b[k] += a[k];
            kd_engine_free(sh[i].e);
        }
        if (sh[i].out) fclose(sh[i].out);
        free(sh[i].cur);
        pthread_mutex_destroy(&sh[i].mu); pthread_cond_destroy(&sh[i].cv); pthread_cond_destroy(&sh[i].cv_space);
    }
    agg->packets += stray_pkts; agg->bytes += stray_bytes;
    free(sh);
    return rc;
}
