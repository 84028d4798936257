/* Minimal TAP unit-test helpers. Each test program prints "ok N - what" / "not ok N - what"
 * and exits non-zero when anything failed; tests/run.sh counts the lines. */
#ifndef KF_T_H
#define KF_T_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>

static int t_n, t_fail;
#define T_OK(cond, ...) do { int t_c_ = !!(cond); ++t_n; \
    printf("%sok %d - ", t_c_ ? "" : "not ", t_n); printf(__VA_ARGS__); printf("\n"); \
    if (!t_c_) { ++t_fail; printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define T_EQ_INT(a, b, ...) do { long long t_a_ = (long long)(a), t_b_ = (long long)(b); \
    T_OK(t_a_ == t_b_, __VA_ARGS__); if (t_a_ != t_b_) printf("#   got %lld, want %lld\n", t_a_, t_b_); } while (0)
#define T_EQ_STR(a, b, ...) do { const char *t_a_ = (a), *t_b_ = (b); \
    int t_e_ = t_a_ && t_b_ && strcmp(t_a_, t_b_) == 0; T_OK(t_e_, __VA_ARGS__); \
    if (!t_e_) printf("#   got \"%s\", want \"%s\"\n", t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)"); } while (0)
#define T_DONE() do { printf("1..%d\n", t_n); return t_fail ? 1 : 0; } while (0)
/* The vendored public captures, relative to the repository (tests run from the repo root). */
static inline const char *t_corpus(void) { const char *c = getenv("KF_CORPUS"); return c ? c : "tests/corpus"; }
#endif
