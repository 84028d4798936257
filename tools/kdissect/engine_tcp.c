/* engine_tcp.c — kdissect engine: TCP reassembly and analysis (see engine_int.h for the parts). */
#include "engine_int.h"

/* ---- delivery of in-order bytes */

long kd_reflist_push(kd_reflist *l, uint64_t off, const kd_pref *ref)
{
    long grew = 0;
    if (l->n && l->v[l->n - 1].ref.frame == ref->frame && l->v[l->n - 1].ref.file == ref->file) return 0;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : KD_REFS_MIN;
        kd_refent *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) return -1;
        grew = (long)((nc - l->cap) * sizeof *nv);
        l->v = nv; l->cap = nc;
    }
    l->v[l->n].off = off; l->v[l->n].ref = *ref;
    l->n++;
    return grew;
}
int kd_reflist_find(const kd_reflist *l, uint64_t off, kd_pref *out)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {   /* last entry with off <= target */
        size_t mid = (lo + hi) / 2;
        if (l->v[mid].off <= off) lo = mid + 1; else hi = mid;
    }
    if (lo == 0) { memset(out, 0, sizeof *out); return -1; }
    *out = l->v[lo - 1].ref;
    return 0;
}
void kd_reflist_prune(kd_reflist *l, uint64_t upto)
{
    size_t k = 0;   /* keep the last entry at or before upto, and everything after */
    while (k + 1 < l->n && l->v[k + 1].off <= upto) k++;
    if (k) { memmove(l->v, l->v + k, (l->n - k) * sizeof *l->v); l->n -= k; }
}
static void refs_push(kd_engine *e, kd_conn *c, kd_dir *d, uint64_t off)
{
    long grew = kd_reflist_push(&d->refs, off, &c->cur);
    if (grew > 0) { mem_add(e, grew); c->mem += grew; }
}
static int buf_append(kd_engine *e, kd_conn *c, kd_dir *d, const uint8_t *p, size_t n)
{
    if (d->blen + n > d->bcap) {
        size_t nc = d->bcap ? d->bcap : KD_BUF_MIN;
        while (nc < d->blen + n) nc *= 2;
        uint8_t *nb = realloc(d->buf, nc);
        if (!nb) return -1;
        mem_add(e, (long)(nc - d->bcap)); c->mem += (long)(nc - d->bcap);
        d->buf = nb; d->bcap = nc;
    }
    memcpy(d->buf + d->blen, p, n);
    d->blen += n;
    return 0;
}
void kde_buf_consume(kd_dir *d, size_t k)
{
    if (k >= d->blen) { d->boff += d->blen; d->blen = 0; }
    else { memmove(d->buf, d->buf + k, d->blen - k); d->blen -= k; d->boff += k; }
    kd_reflist_prune(&d->refs, d->boff);
}
void kde_buf_release(kd_engine *e, kd_conn *c, kd_dir *d)
{
    if (d->bcap > KD_BUF_SHRINK_OVER && d->blen < KD_BUF_KEEP) {  /* give memory back after a big message */
        uint8_t *nb = realloc(d->buf, KD_BUF_KEEP);
        if (nb) { mem_add(e, -(long)(d->bcap - KD_BUF_KEEP)); c->mem -= (long)(d->bcap - KD_BUF_KEEP); d->buf = nb; d->bcap = KD_BUF_KEEP; }
    }
}

/* zero-copy: the payload is presented where it lies (nothing of dir is buffered); only what the
 * dissector does not consume is kept */
static void deliver_in_place(kd_engine *e, kd_conn *c, kd_dir *d, int dir, const uint8_t *p, size_t n, uint64_t off)
{
    unsigned fl = d->after_gap ? KD_DATA_AFTER_GAP : 0;
    size_t k = kd_dissector_data(c->d, c, c->st, dir, p, n, off, fl);
    if (k > n) k = n;
    if (k) d->after_gap = 0;
    d->boff = off + k;
    kd_reflist_prune(&d->refs, d->boff);
    if (k < n) buf_append(e, c, d, p + k, n - k);
    if (c->up_d || c->reprobe) kde_apply_upgrade(e, c);
    else if (d->blen >= KD_BUF_MAX) kde_run_dissector(e, c, dir, 0);
}

/* In-order TCP bytes [off, off+n) of dir, from the current packet. */
static void tcp_deliver(kd_engine *e, kd_conn *c, int dir, const uint8_t *p, size_t n, uint64_t off)
{
    kd_dir *d = &c->dir[dir];
    c->goodput += n;
    if (c->l7_state == 2) { d->boff = off + n; return; }
    if (d->blen == 0) d->boff = off;
    if (d->blen && d->boff + d->blen != off) {
        /* bytes were dropped while the other direction was still being probed: a gap */
        uint64_t from = d->boff + d->blen;
        if (c->l7_state == 1) kde_run_dissector(e, c, dir, KD_DATA_GAP_NEXT);
        kde_buf_consume(d, d->blen);
        if (c->l7_state == 1 && c->d && off > from) kd_dissector_gap(c->d, c, c->st, dir, from, off - from);
        d->boff = off;
        d->after_gap = 1;
    }
    if (c->l7_state == 0) {
        if (d->probe_no) { if (!d->blen) d->boff = off + n; d->after_gap = 1; return; }
        size_t take = n;
        if (d->blen + take > KD_PROBE_MAX) take = KD_PROBE_MAX > d->blen ? KD_PROBE_MAX - d->blen : 0;
        refs_push(e, c, d, off);
        if (d->blen == 0) {
            /* Nothing kept yet: probe the payload where it lies, and copy it only when no dissector
             * takes it now. Copying every connection's first bytes into a buffer of its own cost a
             * malloc and 1 KiB per connection, kept while closed connections linger: 10 MB of
             * bench/data/api-one.pcap's peak (ab's short connections), faulted in page by page.
             * The outcome is the buffered path's: the probe sees the same bytes, a chosen
             * dissector gets them as in the zero-copy delivery below (what it leaves is kept). */
            if (!kde_probe(e, c, dir, p, take, take >= KD_PROBE_MAX)) {
                if (d->probe_no && c->dir[!dir].probe_no) {
                    c->l7_state = 2;
                    d->boff = off + take;   /* as if buffered and consumed */
                    kd_reflist_prune(&d->refs, d->boff);
                    kde_buf_consume(&c->dir[!dir], c->dir[!dir].blen);
                } else {
                    buf_append(e, c, d, p, take);
                }
                return;
            }
            /* (activate leaves no dissector when its state cannot be allocated) */
            if (c->l7_state == 1 && c->d && kd_dissector_takes_data(c->d) && !c->up_d && !c->reprobe)
                deliver_in_place(e, c, d, dir, p, n, off);
            else { buf_append(e, c, d, p, n); kde_run_dissector(e, c, dir, 0); }
            if (c->dir[!dir].blen) kde_run_dissector(e, c, !dir, 0);
            return;
        }
        buf_append(e, c, d, p, take);
        if (!kde_probe(e, c, dir, d->buf, d->blen, d->blen >= KD_PROBE_MAX)) {
            /* neither side looks like anything we know: stop; else keep these bytes, the
             * other direction may still name the protocol */
            if (d->probe_no && c->dir[!dir].probe_no) {
                c->l7_state = 2;
                for (int k = 0; k < 2; k++) kde_buf_consume(&c->dir[k], c->dir[k].blen);
            }
            return;
        }
        /* chosen: the probe buffer holds dir's bytes (maybe cut at the probe limit) */
        if (take < n) {
            /* rare: the rest of this segment */
            buf_append(e, c, d, p + take, n - take);
        }
        kde_run_dissector(e, c, dir, 0);
        if (c->dir[!dir].blen) kde_run_dissector(e, c, !dir, 0);
        return;
    }
    refs_push(e, c, d, off);
    if (d->blen == 0 && kd_dissector_takes_data(c->d) && !c->up_d && !c->reprobe) {
        deliver_in_place(e, c, d, dir, p, n, off);
        return;
    }
    buf_append(e, c, d, p, n);
    kde_run_dissector(e, c, dir, 0);
}

static void tcp_gap(kd_engine *e, kd_conn *c, int dir, uint64_t upto)
{
    kd_dir *d = &c->dir[dir];
    if (upto <= d->next) return;
    uint64_t len = upto - d->next;
    e->st.gaps++; e->st.gap_bytes += len;
    if (d->blen && c->l7_state == 1) kde_run_dissector(e, c, dir, KD_DATA_GAP_NEXT);
    if (d->blen) kde_buf_consume(d, d->blen);
    if (c->l7_state == 1 && c->d) kd_dissector_gap(c->d, c, c->st, dir, d->next, len);
    d->next = upto;
    d->boff = upto;
    d->after_gap = 1;
    d->refs.n = 0;
}

/* Delivers queued out-of-order segments that became in order. */
static void ooo_drain(kd_engine *e, kd_conn *c, int dir)
{
    kd_dir *d = &c->dir[dir];
    while (d->ooo && d->ooo->off <= d->next) {
        kd_seg *s = d->ooo;
        d->ooo = s->next;
        d->ooo_bytes -= s->len;
        mem_add(e, -(long)(sizeof *s + s->len)); c->mem -= (long)(sizeof *s + s->len);
        if (s->off + s->len > d->next) {
            size_t skip = (size_t)(d->next - s->off);
            kd_pref save = c->cur;
            c->cur = s->ref;
            uint64_t o = d->next;
            d->next += s->len - skip;
            tcp_deliver(e, c, dir, s->data + skip, s->len - skip, o);
            c->cur = save;
        }
        free(s);
    }
}
static void ooo_insert(kd_engine *e, kd_conn *c, int dir, const uint8_t *p, uint32_t n, uint64_t off)
{
    kd_dir *d = &c->dir[dir];
    kd_seg **pp = &d->ooo;
    while (*pp && (*pp)->off < off) pp = &(*pp)->next;
    if (*pp && (*pp)->off == off && (*pp)->len >= n) return;   /* same data again */
    kd_seg *s = malloc(sizeof *s + n);
    if (!s) { e->st.ooo_dropped_bytes += n; return; }
    s->off = off; s->len = n; s->ref = c->cur;
    memcpy(s->data, p, n);
    s->next = *pp; *pp = s;
    d->ooo_bytes += n;
    mem_add(e, (long)(sizeof *s + n)); c->mem += (long)(sizeof *s + n);
    while (d->ooo_bytes > KD_OOO_MAX && d->ooo) {   /* too much held: skip the hole */
        tcp_gap(e, c, dir, d->ooo->off);
        ooo_drain(e, c, dir);
    }
}

/* Ends a direction: skips holes up to what we have, then EOF to the dissector. */
void kde_dir_end(kd_engine *e, kd_conn *c, int dir)
{
    kd_dir *d = &c->dir[dir];
    while (d->ooo) { tcp_gap(e, c, dir, d->ooo->off); ooo_drain(e, c, dir); }
    if (d->eof_sent) return;
    d->eof_sent = 1;
    if (c->l7_state == 0 && c->info.transport == KD_TRANSPORT_TCP) {
        /* last chance: probers that wanted more bytes decide on what there is */
        for (int k = 0; k < 2 && c->l7_state == 0; k++) {
            int dd = k == 0 ? dir : !dir;
            if (c->dir[dd].blen && kde_probe(e, c, dd, c->dir[dd].buf, c->dir[dd].blen, 1)) {
                kde_run_dissector(e, c, dd, 0);
                if (c->dir[!dd].blen) kde_run_dissector(e, c, !dd, 0);
            }
        }
    }
    if (c->l7_state == 1 && c->d) {
        if (c->info.transport == KD_TRANSPORT_TCP) kde_run_dissector(e, c, dir, KD_DATA_EOF);
    }
}

/* ------------------------------------------------------------------ TCP */

#define SEQ_LT(a, b) ((int32_t)((a) - (b)) < 0)
#define SEQ_LE(a, b) ((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b) ((int32_t)((a) - (b)) > 0)

/* Wireshark's tcp.analysis flags for one segment (packet-tcp.c tcp_analyze_sequence_number,
 * reimplemented from its documented behaviour). */
static void tcp_analyze(kd_engine *e, kd_conn *c, int dir, const kf_tcpinfo *t, uint32_t seglen, int64_t ts)
{
    kd_dir *f = &c->dir[dir], *r = &c->dir[!dir];
    uint8_t fl = t->flags;
    int sfr = fl & (KF_TCP_SYN | KF_TCP_FIN | KF_TCP_RST);
    int keepalive = 0, dupack = 0;
    uint32_t win = t->win;
    if (!(fl & KF_TCP_SYN) && f->wscale >= 0 && r->wscale >= 0) win = (uint32_t)t->win << f->wscale;
    if (fl & KF_TCP_SYN) {
        if (t->has_wscale) f->wscale = t->wscale > KD_WSCALE_MAX ? KD_WSCALE_MAX : t->wscale;
        else f->wscale = -2;
    }
    if (f->an_seen) {
        /* zero window probe */
        if (seglen == 1 && t->seq == f->nextseq && r->an_seen && r->win == 0) goto done;
        if (t->win == 0 && !sfr) c->zerowin++;
        if (f->nextseq && SEQ_GT(t->seq, f->nextseq) && !(fl & KF_TCP_RST)) c->lost++;
        if (seglen <= 1 && !(fl & (KF_TCP_SYN | KF_TCP_FIN | KF_TCP_RST)) && t->seq == f->nextseq - 1) {
            keepalive = 1; c->keepalive++; goto done;
        }
        /* window update */
        if (seglen == 0 && t->win && win != f->win && t->seq == f->nextseq && t->ack == f->lastack && !sfr) goto done;
        if (seglen > 0 && r->an_seen && !sfr && r->wscale != -1 &&
            t->seq + seglen == r->lastack + r->win) c->winfull++;
        /* keep-alive ack */
        if (seglen == 0 && win == f->win && t->seq == f->nextseq && t->ack == f->lastack && r->last_keepalive && !sfr) goto done;
        if (seglen == 0 && t->win && win == f->win && t->seq == f->nextseq && t->ack == f->lastack && !sfr) {
            dupack = 1; f->dupacks++; c->dupacks++;
        }
    }
done:
    if (!dupack) f->dupacks = 0;
    /* a segment with data (or SYN/FIN) that does not advance the sequence: fast retransmission,
     * out of order, spurious retransmission or retransmission, in that order of tests */
    if ((seglen > 0 || (fl & (KF_TCP_SYN | KF_TCP_FIN))) && !keepalive && f->an_seen) {
        int not_adv = f->nextseq && SEQ_LT(t->seq, f->nextseq);
        if (seglen > 1 && f->nextseq - 1 == t->seq) not_adv = 0;
        int64_t thres = c->syn_ts && c->hs_ack_ts ? kd_ts_diff(c->hs_ack_ts, c->syn_ts) : KD_RTO_DEFAULT_NS;
        if (thres <= 0) thres = KD_RTO_DEFAULT_NS;
        if (not_adv && r->dupacks >= 2 && r->lastack == t->seq && kd_ts_diff(ts, r->lastack_ts) < KD_FAST_RETRANS_NS) c->fast_retrans++;
        else if (not_adv && kd_ts_diff(ts, f->nextseq_ts) < thres &&
                 f->nextseq != t->seq + seglen + ((fl & (KF_TCP_SYN | KF_TCP_FIN)) ? 1 : 0)) c->ooo++;
        else if (seglen > 0 && r->an_seen && r->lastack && SEQ_LE(t->seq + seglen, r->lastack)) c->spurious++;
        else if (not_adv) c->retrans++;
    }
    {
        uint32_t nxt = t->seq + seglen + ((fl & (KF_TCP_SYN | KF_TCP_FIN)) ? 1 : 0);
        if (seglen > 0 && f->nunacked < KD_UNACKED && !keepalive) {
            f->unacked[f->nunacked].end = nxt; f->unacked[f->nunacked].ts = ts; f->nunacked++;
        }
        if (!f->an_seen || SEQ_GT(nxt, f->nextseq) || !f->nextseq) { f->nextseq = nxt; f->nextseq_ts = ts; }
        if (!f->an_seen || t->seq == f->maxseqtobeacked || !f->maxseqtobeacked) f->maxseqtobeacked = f->nextseq;
    }
    if (seglen > 0) c->data_pkts++;
    /* ACK: RTT from the newest segment it acknowledges */
    if (fl & KF_TCP_ACK) {
        int k = 0, hit = -1;
        while (k < r->nunacked && SEQ_LE(r->unacked[k].end, t->ack)) { hit = k; k++; }
        if (hit >= 0) {
            uint64_t rtt = (uint64_t)kd_ts_diff(ts, r->unacked[hit].ts);
            if (!c->rtt_n || rtt < c->rtt_min) c->rtt_min = rtt;
            if (rtt > c->rtt_max) c->rtt_max = rtt;
            if (c->rtt_n) c->jit_sum += rtt > c->rtt_last ? rtt - c->rtt_last : c->rtt_last - rtt;
            c->rtt_sum += rtt; c->rtt_n++; c->rtt_last = rtt;
            memmove(r->unacked, r->unacked + k, (size_t)(r->nunacked - k) * sizeof r->unacked[0]);
            r->nunacked -= k;
        }
        f->lastack = t->ack; f->lastack_ts = ts;
    }
    f->last_keepalive = keepalive;
    f->win = win;
    f->an_seen = 1;
}

void kde_tcp_packet(kd_engine *e, kd_conn *c, int dir, const kf_l4 *l4, int64_t ts)
{
    const kf_tcpinfo *t = &l4->tcp;
    kd_dir *d = &c->dir[dir];
    uint8_t fl = t->flags;
    uint32_t seglen = l4->wire_paylen;   /* on the wire (analysis); captured bytes: l4->paylen */
    tcp_analyze(e, c, dir, t, seglen, ts);
    if (fl & KF_TCP_SYN) {
        if (!(fl & KF_TCP_ACK)) {
            if (!c->syn[dir]) { c->syn_ts = c->syn_ts ? c->syn_ts : ts; }
            c->syn[dir] = 1; c->completeness |= KD_CC_SYN;
            if (c->info.client < 0) c->info.client = dir;
            if (!c->dir[0].pkts && !c->dir[1].pkts) c->info.client = dir;
        } else {
            c->synack = 1; c->completeness |= KD_CC_SYNACK;
            if (!c->synack_ts) c->synack_ts = ts;
            c->info.client = !dir;
        }
        d->have_base = 1; d->base = t->seq + 1; d->next = 0; d->boff = 0;
    } else if (!d->have_base) {
        d->have_base = 1; d->base = t->seq; d->next = 0; d->boff = 0;
    }
    if ((fl & KF_TCP_ACK) && !(fl & KF_TCP_SYN) && c->synack && !c->hs_done && dir == c->info.client) {
        c->hs_done = 1; c->hs_ack_ts = ts; c->completeness |= KD_CC_ACK;
    }
    if (fl & KF_TCP_RST) {
        c->rst[dir] = 1; c->rst_count++; c->completeness |= KD_CC_RST;
        if (c->syn[!dir] && !c->synack && !c->dir[dir].payload) c->refused = 1;
    }
    if (fl & KF_TCP_FIN) { c->fin_count++; c->completeness |= KD_CC_FIN; }
    /* the peer acknowledged bytes of ours we never saw: lost in the capture */
    if ((fl & KF_TCP_ACK) && c->dir[!dir].have_base && !c->dir[!dir].ended) {
        kd_dir *o = &c->dir[!dir];
        int64_t ad = (int32_t)(t->ack - (o->base + (uint32_t)o->next));
        if (ad > 0 && ad < KD_ACK_AHEAD_MAX) {
            uint64_t upto = o->next + (uint64_t)ad;
            if (o->ooo && o->ooo->off < upto) upto = o->ooo->off;
            if (o->fin_seen && upto > o->fin_off) upto = o->fin_off;
            tcp_gap(e, c, !dir, upto);
            ooo_drain(e, c, !dir);
        }
    }
    /* payload into the stream */
    uint32_t n = l4->paylen;
    if (n && (fl & KF_TCP_SYN) && !(fl & KF_TCP_ACK)) n = 0;   /* data on SYN: ignore (TFO) */
    int64_t delta = (int32_t)(t->seq + ((fl & KF_TCP_SYN) ? 1 : 0) - (d->base + (uint32_t)d->next));
    int64_t off = (int64_t)d->next + delta;
    if (n) {
        c->completeness |= KD_CC_DATA;
        if (!c->data_ts[dir]) c->data_ts[dir] = ts;
        d->payload += n;
        const uint8_t *p = l4->payload;
        if (off < 0) { if ((int64_t)n + off <= 0) n = 0; else { p -= off; n = (uint32_t)((int64_t)n + off); off = 0; } }
        if (n && (uint64_t)off + n > d->next && !d->ended) {
            if ((uint64_t)off <= d->next) {
                size_t skip = (size_t)(d->next - (uint64_t)off);
                uint64_t o = d->next;
                d->next += n - skip;
                tcp_deliver(e, c, dir, p + skip, n - skip, o);
                ooo_drain(e, c, dir);
            } else {
                ooo_insert(e, c, dir, p, n, (uint64_t)off);
            }
        }
        if (l4->wire_paylen > l4->paylen && !d->ended) {
            /* bytes not captured (snaplen): a gap right away */
            uint64_t end = (uint64_t)(off < 0 ? 0 : off) + l4->wire_paylen;
            if (end > d->next && !d->ooo) tcp_gap(e, c, dir, end);
        }
    }
    if (fl & KF_TCP_FIN) {
        uint64_t fo = (uint64_t)(off < 0 ? 0 : off) + l4->wire_paylen;
        if (!d->fin_seen) { d->fin_seen = 1; d->fin_off = fo; }
        c->fin[dir] = 1;
    }
    if (d->fin_seen && !d->ended && d->next >= d->fin_off) { d->ended = 1; kde_dir_end(e, c, dir); }
    if (fl & KF_TCP_RST) {
        for (int k = 0; k < 2; k++) if (!c->dir[k].ended) { c->dir[k].ended = 1; kde_dir_end(e, c, k); }
    }
    if ((c->rst[0] || c->rst[1] || (c->fin[0] && c->fin[1])) && c->lru != LRU_CLOSED) {
        lru_unlink(e, c); lru_append(e, c, LRU_CLOSED);
    }
}

