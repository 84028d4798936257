/* libFuzzer target: bytes -> kf_decode. The input is a sequence of frames
 * [link-type selector byte][length byte][frame bytes], all decoded with one decoder (so
 * fragments can meet and reassemble), each also decoded without a decoder. */
#include <stdint.h>
#include <string.h>
#include "kf_capread.h"
#include "kf_decode.h"

static volatile uint64_t sink;
static const int LT[] = { KF_LT_EN10MB, KF_LT_LINUX_SLL, KF_LT_LINUX_SLL2, KF_LT_NULL, KF_LT_LOOP,
                          KF_LT_RAW, KF_LT_IPV4, KF_LT_IPV6, 12, 14, 147 };

static void use(const kf_l4 *l)
{
    sink += l->ipver + l->proto + l->sport + l->dport + l->paylen + l->tcp.sack_blocks;
    if (l->l3 && l->l3len) sink += l->l3[l->l3len - 1];
    if (l->payload && l->paylen) sink += l->payload[0] + l->payload[l->paylen - 1];
    if (l->icmp_inner) {
        kf_l4 in;
        kf_decode_ip(l->icmp_inner, l->icmp_inner_len, &in);
        sink += in.sport;
        if (in.payload && in.paylen) sink += in.payload[in.paylen - 1];
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kf_decoder *d = kf_decoder_new();
    size_t pos = 0;
    int64_t ts = 0;
    while (pos + 2 <= size) {
        int lt = LT[data[pos] % (sizeof LT / sizeof *LT)];
        size_t len = data[pos + 1];
        if (len == 255) len = size - pos - 2;   /* rest of the input */
        pos += 2;
        if (len > size - pos) len = size - pos;
        kf_l4 l;
        ts += (int64_t)(data[pos - 2] & 0xf0) * 1000000000LL;   /* lets entries expire */
        if (kf_decode(d, lt, data + pos, (uint32_t)len, ts, &l) == KF_DEC_OK) use(&l);
        if (kf_decode(NULL, lt, data + pos, (uint32_t)len, ts, &l) == KF_DEC_OK) use(&l);
        pos += len;
    }
    kf_decoder_stats st;
    kf_decoder_stats_get(d, &st);
    sink += st.frags;
    kf_decoder_free(d);
    return 0;
}
