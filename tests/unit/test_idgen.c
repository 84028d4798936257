/* Unit test for kdissect's record ids (kd_idgen in tools/kdissect/engine.h: the index counted in
 * decimal in place) against printf, across the widths: 0, 999 999 -> 1 000 000, 9 999 999 ->
 * 10 000 000, with and without the comma, for a 16-digit prefix and an empty one. */
#include "t.h"
#include "../../tools/kdissect/engine.h"

static void run(const char *prefix, uint64_t upto)
{
    kd_idgen g;
    kd_idgen_init(&g, prefix);
    char id[64], want[96];
    uint64_t bad = UINT64_MAX;
    for (uint64_t i = 0; i <= upto && bad == UINT64_MAX; i++) {
        int comma = (int)(i % 3 != 0);
        size_t k = kd_idgen_next(&g, id, comma);
        if (i > 2000 && i % 1009 && (i + 50) % 1000000 >= 100) continue;   /* (each near a width's edge) */
        int n = snprintf(want, sizeof want, "{\"id\":\"%s-%06" PRIu64 "\"%s", prefix, i, comma ? "," : "");
        if (k != (size_t)n || memcmp(id, want, k) != 0) bad = i;
    }
    T_OK(bad == UINT64_MAX, "ids 0..%" PRIu64 " (some) with prefix '%s' as printf writes them", upto, prefix);
    if (bad != UINT64_MAX) printf("#   first wrong at index %" PRIu64 "\n", bad);
}

int main(void)
{
    run("0123456789abcdef", 10000100);
    run("", 1000100);
    T_DONE();
}
