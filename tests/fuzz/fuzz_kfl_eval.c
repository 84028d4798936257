/* Fuzz target: kfl's selective scanner and evaluator. Input: a filter on the first line, then
 * NDJSON lines. Each line is run through the fuzzed filter (when it compiles) and through a fixed
 * filter that reaches into nested objects, lists and maps. Checks, besides memory safety: a line
 * jansson accepts as an object must be accepted by the scanner too. */
#include "../../lib/kfl/value.c"
#include "../../lib/kfl/ktime.c"
#include "../../lib/kfl/regex.c"
#include "../../lib/kfl/vars.c"
#include "../../lib/kfl/lex.c"
#include "../../lib/kfl/parse.c"
#include "../../lib/kfl/check.c"
#include "../../lib/kfl/scan.c"
#include "../../lib/kfl/eval.c"

static const char fixed[] =
    "src.pod.name.startsWith(\"a\") || request.headers[\"x\"] == \"y\" || \"q\" in dns_questions || "
    "status_code >= 500.0 || timestamp > timestamp(\"2026-01-01T00:00:00Z\") || "
    "items.exists(i, i.k == 1 || has(i.z)) || map_get(local_labels, \"app\", \"\").matches(\"^p.*s$\") || "
    "size(x.y.z) > 1 || elapsed_time / 0 == 1 || tcp_metrics.retransmission_rate < 0.5";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) return 0;
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    size_t elen = nl ? (size_t)(nl - s) : size;
    char err[256]; size_t errpos;
    kfl_prog *progs[2];
    progs[0] = kfl_compile(s, elen, 1, 1773509025000000000LL, err, sizeof err, &errpos);
    progs[1] = kfl_compile(fixed, sizeof fixed - 1, 1, 1773509025000000000LL, err, sizeof err, &errpos);
    if (!progs[1]) __builtin_trap();
    kfl_ctx ctx[2];
    for (int k = 0; k < 2; k++) if (progs[k]) kfl_ctx_init(&ctx[k], progs[k]);
    size_t off = nl ? elen + 1 : size;
    while (off < size) {
        const char *ls = s + off;
        const char *e = memchr(ls, '\n', size - off);
        size_t len = e ? (size_t)(e - ls) : size - off;
        int accepted = 1;
        for (int k = 0; k < 2; k++)
            if (progs[k]) accepted = kfl_match_line(&ctx[k], ls, len) >= 0;
        json_error_t je;
        json_t *j = json_loadb(ls, len, 0, &je);
        /* the scanner refused valid JSON? (jansson 2.14 reads a NUL byte right after a number or
         * literal as nothing, so lines with a NUL are not compared) */
        if (j && json_is_object(j) && !accepted && !memchr(ls, 0, len)) __builtin_trap();
        json_decref(j);
        off += len + 1;
    }
    for (int k = 0; k < 2; k++) if (progs[k]) { kfl_ctx_free(&ctx[k]); kfl_prog_free(progs[k]); }
    return 0;
}
