/* Fuzz target: EVERY dissector of the table (tools/kdissect/proto/table.c), through the fake
 * engine (tests/l7/fake_engine.h), so a protocol added to the table is fuzzed without a target of
 * its own. The target links every file of kdissect's proto/ as it is (the Makefile lists them by wildcard).
 *
 * Input: the dissector's name, optionally "/tcp", "/udp" or "/ip" (default: the first transport it
 * handles in that order), a newline, then one connection in that transport's form:
 *   tcp  [ctl][len][len bytes]…: ctl bit 0 the sending side, bit 1 a gap before, bit 2 EOF with it
 *        (as fe_fuzz; the probe on the first piece says which side is the client; hint port = its first)
 *   udp  [ctl][len][len bytes]…: ctl bit 0 the side, bit 1 probe the datagram first, bit 2 run the
 *        timer 20 s later
 *   ip   [ctl][len hi][len lo][IP datagram]…: decoded with kf_decode_ip; the first packet the
 *        dissector's probe (if any) does not refuse starts the connection, as in the engine;
 *        packets of TCP or UDP are skipped (the engine never gives them to on_packet)
 * The seeds are tests/fuzz/corpus/fuzz_proto/<name>.<what> (tests/bats/fuzz_replay.bats checks that
 * every dissector of kdissect -p list has one, made from its test data). Fails on any sanitizer
 * report, on consuming more than given, and on kd_conn_mem memory not given back. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "../../tools/kdissect/dissector.h"
#include "../l7/fake_engine.h"

/* KF_FUZZ_PROTO_VERBOSE set: each input prints "NAME: N records" on stderr (the replay of the
 * seeds shows they reach their dissector: tests/bats/add_protocol.bats) */
static int fz_done(kd_conn *c)
{
    if (fe_close(c) != 0) abort();   /* records written at close count too */
    int n = c->nrec;
    fe_free(c);
    return n;
}

/* TCP and UDP: the fake engine's drivers (fe_fuzz_tcp, fe_fuzz_udp); a memory balance other
 * than 0 fails */
static int fz_tcp(const kd_dissector *d, const uint8_t *data, size_t size)
{
    int n = 0;
    if (fe_fuzz_tcp(d, data, size, d->ports ? d->ports[0] : 0, &n) != 0) abort();
    return n;
}

static int fz_udp(const kd_dissector *d, const uint8_t *data, size_t size)
{
    int n = 0;
    if (fe_fuzz_udp(d, data, size, d->ports ? d->ports[0] : 0, &n) != 0) abort();
    return n;
}

static int fz_ip(const kd_dissector *d, const uint8_t *data, size_t size)
{
    kd_conn c;
    int open = 0;
    kd_pref ref = {1000, 1, 0};
    size_t i = 0;
    while (i + 3 <= size) {
        int dir = data[i] & 1;
        size_t n = (size_t)data[i + 1] << 8 | data[i + 2];
        i += 3;
        if (n > size - i) n = size - i;
        kf_l4 l4;
        memset(&l4, 0, sizeof l4);
        if (kf_decode_ip(data + i, (uint32_t)n, &l4) == KF_DEC_OK && l4.proto != 6 && l4.proto != 17) {
            l4.sport = l4.dport = 0;   /* as the engine: one connection per address pair */
            if (!open) {
                kd_conn_info ci = {0};
                ci.transport = KD_TRANSPORT_OTHER; ci.ipproto = l4.proto; ci.client = -1;
                if (!d->probe || d->probe(&ci, dir, l4.payload, l4.paylen) != KD_PROBE_NO) {
                    fe_open(&c, d, 0, 0, 0);
                    c.ci.transport = KD_TRANSPORT_OTHER;
                    c.ci.ipproto = l4.proto;
                    open = 1;
                }
            }
            if (open && d->on_packet) d->on_packet(&c, c.st, dir, &l4, &ref);
        }
        ref.ts_ns += 1000; ref.frame++;
        i += n;
    }
    return open ? fz_done(&c) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 64 ? size : 64);
    if (!nl) return 0;
    char name[64];
    memcpy(name, data, (size_t)(nl - data));
    name[nl - data] = 0;
    unsigned want = 0;
    char *slash = strchr(name, '/');
    if (slash) {
        *slash++ = 0;
        want = !strcmp(slash, "tcp") ? KD_TRANSPORT_TCP : !strcmp(slash, "udp") ? KD_TRANSPORT_UDP
             : !strcmp(slash, "ip") ? KD_TRANSPORT_OTHER : 0;
        if (!want) return 0;
    }
    const kd_dissector *d = kd_dissector_find(name);
    if (!d) return 0;
    if (!want) want = d->transports & KD_TRANSPORT_TCP ? KD_TRANSPORT_TCP
                    : d->transports & KD_TRANSPORT_UDP ? KD_TRANSPORT_UDP : KD_TRANSPORT_OTHER;
    if (!(d->transports & want)) return 0;
    const uint8_t *body = nl + 1;
    size_t n = size - (size_t)(body - data);
    int nrec = want == KD_TRANSPORT_TCP ? fz_tcp(d, body, n) : want == KD_TRANSPORT_UDP ? fz_udp(d, body, n)
             : fz_ip(d, body, n);
    if (getenv("KF_FUZZ_PROTO_VERBOSE")) fprintf(stderr, "%s: %d records\n", d->name, nrec);
    return 0;
}
