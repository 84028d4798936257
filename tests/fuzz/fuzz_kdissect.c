/* fuzz_kdissect: a capture file (pcap/pcapng) in, records out, through the whole kdissect
 * engine and every built-in dissector (and the same bytes as one DNS message through
 * kd_dns_names). Seeds: small captures in corpus/fuzz_kdissect/. */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "kf_capread.h"
#include "../../tools/kdissect/engine.h"
#include "../../tools/kdissect/engine.c"
#include "../../tools/kdissect/engine_order.c"
#include "../../tools/kdissect/engine_record.c"
#include "../../tools/kdissect/engine_tcp.c"
#include "../../tools/kdissect/engine_pend.c"
#include "../../tools/kdissect/engine_frame.c"
#include "../../tools/kdissect/proto/table.c"
#include "../../tools/kdissect/proto/http_common.c"
#include "../../tools/kdissect/proto/http1.c"
#include "../../tools/kdissect/proto/dns.c"

static int sink(void *arg, const char *buf, size_t len)
{
    size_t *n = arg;
    *n += len;
    if (len && buf[len - 1] != '\n') __builtin_trap();   /* every record is one whole line */
    return 0;
}

/* kd_dns_names (the -j hand-over of names) on the raw bytes as a DNS message */
static void name_check(void *arg, const kf_addr *ip, const char *name, size_t len)
{
    (void)arg;
    if ((ip->family != 4 && ip->family != 6) || strlen(name) != len || len > 1100) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kd_dns_names(data, size, name_check, NULL);
    char err[256];
    kf_reader *r = kf_reader_open_mem(data, size, err, sizeof err);
    if (!r) return 0;
    kd_engine_opts o;
    kd_engine_opts_default(&o);
    o.max_memory = 8u << 20;
    o.d.body_limit = 256;
    size_t out = 0;
    kd_engine *e = kd_engine_new(&o, sink, &out);
    if (e) {
        kf_pkt p;
        int n = 0;
        while (n++ < 20000 && kf_reader_next(r, &p) == 1)
            kd_engine_packet(e, p.ts_ns, p.linktype, p.data, p.caplen, p.origlen, p.iface, "fuzz", "node", KF_CAP_UNKNOWN, p.frame);
        kd_engine_finish(e);
        kd_engine_free(e);
    }
    kf_reader_close(r);
    return 0;
}
