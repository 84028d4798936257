/* Fuzz target: ksnap capture's own EPB encoder (tools/ksnap/segment.c seg_write_epb, built in
 * place for speed) must write exactly the bytes kf_pcapng_write_epb writes for the same packet:
 * interface, timestamp, captured and original length, epb_flags, epb_dropcount when non-zero.
 * Input: 8 bytes timestamp, 4 original length, 4 flags, 8 drop count, then the packet bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../tools/common/kf_tool.c"
#include "../../tools/ksnap/segment.c"

static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 24) return 0;
    int64_t ts = (int64_t)(rd64(data) & INT64_MAX);
    uint32_t origlen = rd32(data + 8), flags = rd32(data + 12);
    uint64_t drops = rd64(data + 16);
    const uint8_t *pkt = data + 24;
    uint32_t caplen = (uint32_t)(size - 24 > 262144 ? 262144 : size - 24);

    /* the reference: kf_pcapng after its section header and one interface */
    char *ref = NULL;
    size_t reflen = 0;
    FILE *f = open_memstream(&ref, &reflen);
    if (!f) return 0;
    kf_shb_opts shb = { .hardware = "x", .userappl = "fuzz" };
    kf_pcapng_w *w = kf_pcapng_open(f, &shb);
    kf_idb_opts idb = { .linktype = 1, .snaplen = 262144, .name = "eth0", .tsresol = 9 };
    if (!w || kf_pcapng_add_iface(w, &idb) != 0 || kf_pcapng_flush(w) != 0) abort();
    size_t head = reflen;
    kf_epb e = { .iface = 0, .ts_ns = ts, .caplen = caplen, .origlen = origlen, .data = pkt,
                 .flags = flags, .has_flags = 1, .dropcount = drops, .has_dropcount = drops != 0 };
    if (kf_pcapng_write_epb(w, &e) != 0 || kf_pcapng_close(w) != 0) abort();
    fclose(f);

    /* ours, into a capture context's buffer (nothing reaches a file: one EPB fits) */
    cap_ctx c;
    memset(&c, 0, sizeof c);
    c.obuf = malloc(OBUF_SIZE);
    if (!c.obuf) abort();
    if (seg_write_epb(&c, 0, ts, flags, pkt, caplen, origlen, drops) != 0) abort();
    if (c.olen != reflen - head || c.obytes != c.olen || memcmp(c.obuf, ref + head, c.olen) != 0) {
        fprintf(stderr, "EPB differs: ours %zu bytes, kf_pcapng %zu\n", c.olen, reflen - head);
        abort();
    }
    free(c.obuf);
    free(ref);
    return 0;
}
