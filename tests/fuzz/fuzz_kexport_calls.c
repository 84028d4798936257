/* Fuzz target: kexport's --calls NDJSON reader (tools/kexport/calls.c) and the endpoint/5-tuple
 * parsing it relies on. Any bytes: no crash, no leak, every kept call is self-consistent. */
#include <stdint.h>
#include <stdlib.h>
#include "../../tools/common/kf_tool.c"    /* kf_err, for kf_lines.c */
#include "../../tools/common/kf_lines.c"   /* kx_calls_load reads through it */
#include "../../tools/kexport/calls.c"
#include "../../tools/kexport/select.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kx_calls c;
    char err[256];
    kx_calls_init(&c);
    kx_calls_parse(&c, (const char *)data, size, err, sizeof err);
    kx_calls_index(&c);
    for (size_t i = 0; i < c.n; i++) {
        size_t lo, hi;
        kx_calls_find(&c, &c.v[i].conn, 0, &lo, &hi);
        if (!(lo <= i && i < hi)) abort();          /* a call is found by its own key */
        kx_calls_find(&c, &c.v[i].conn, 1, &lo, &hi);
        if (!(lo <= i && i < hi)) abort();
        if (c.v[i].first_ts > c.v[i].last_ts) abort();
        if (c.v[i].conn_first_ts > c.v[i].first_ts || c.v[i].conn_last_ts < c.v[i].last_ts) abort();
    }
    kx_calls_free(&c);
    return 0;
}
