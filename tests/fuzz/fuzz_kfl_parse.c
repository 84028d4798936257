/* Fuzz target: kfl's lexer, parser and checker (and --explain's renderer) on arbitrary
 * expressions. The first byte chooses --allow-unknown. */
#include "../../lib/kfl/value.c"
#include "../../lib/kfl/ktime.c"
#include "../../lib/kfl/regex.c"
#include "../../lib/kfl/vars.c"
#include "../../lib/kfl/lex.c"
#include "../../lib/kfl/parse.c"
#include "../../lib/kfl/check.c"
#include "../../lib/kfl/scan.c"
#include "../../lib/kfl/eval.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 4096) return 0;
    int allow = data[0] & 1;
    char err[256]; size_t errpos = 0;
    kfl_prog *p = kfl_compile((const char *)data + 1, size - 1, allow, 1773509025000000000LL, err, sizeof err, &errpos);
    if (!p) {
        if (errpos > size - 1) __builtin_trap();      /* the caret must point into the expression */
        if (!err[0]) __builtin_trap();                /* and say something */
        return 0;
    }
    char buf[4096];
    kfl_explain(p, buf, sizeof buf);
    /* evaluate once against an empty record: every variable at its default */
    kfl_ctx c;
    kfl_ctx_init(&c, p);
    if (c.slots && c.locals) (void)kfl_match_line(&c, "{}", 2);
    kfl_ctx_free(&c);
    kfl_prog_free(p);
    return 0;
}
