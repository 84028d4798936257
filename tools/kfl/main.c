/* kfl — grep for NDJSON records with KFL (Kubeshark's filter language, a CEL subset).
 *   kfl [OPTIONS] EXPR [FILE…]     writes the lines whose record matches, unchanged
 * Exit: 0 something selected, 1 nothing, 2 error (grep's convention). */
#include "kfl.h"
#include "kf_time.h"
#include "kf_tool.h"
#include "kf_calls.h"
#include "kf_lines.h"
#include "kf_table.h"
#include "kf_time.h"
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
    printf("Usage: kfl [OPTIONS] EXPR [FILE...]\n"
           "       kfl [OPTIONS] -f EXPRFILE [FILE...]\n"
           "Select the NDJSON records (kdissect's output) that match a KFL filter expression\n"
           "and write their lines unchanged. Reads standard input when no FILE (or '-') is\n"
           "given; gzip-compressed input is read transparently.\n"
           "\n"
           "  -v, --invert-match   select the records that do not match\n"
           "  -c, --count          print the number of selected records instead of them\n"
           "  -q, --quiet          print nothing; exit 0 at the first selected record (--silent)\n"
           "  -m, --max-count N    stop reading a file after N selected records\n"
           "  -f, --file FILE      read the expression from FILE ('//' comments allowed)\n"
           "      --check          only compile the expression (exit 0 if it is valid)\n"
           "      --explain        print the parsed expression and the variables it uses\n"
           "      --vars           list the known variables and their types\n"
           "      --allow-unknown  accept names that are not known variables (absent: null)\n"
           "      --skip-invalid   count lines that are not JSON objects and go on\n"
           "      --fields EXPR,.. print these KFL expressions of each selected record as\n"
           "                       columns: tab-separated to a pipe, an aligned table on a\n"
           "                       terminal (like tshark -T fields, with KFL expressions)\n"
           "      --json           the records' NDJSON even on a terminal (default there: a\n"
           "                       compact call table: time, protocol, source -> destination,\n"
           "                       request, status, latency)\n"
           "      --now TIME       the time now() stands for (default: when kfl starts); on\n"
           "                       frozen records give their end, e.g. --now '2026-03-14 17:30'\n"
           "  -h, --help           this help;  --version  the version\n"
           "\n"
           "Examples:\n"
           "  kdissect snap.ksnap | kfl 'http && status_code >= 500'\n"
           "  kfl -c 'dns && \"google.com\" in dns_questions' calls.ndjson.gz\n"
           "  kfl 'timestamp > now() - duration(\"5m\") && dst.service.name == \"payments\"' calls.ndjson\n"
           "  kfl --fields timestamp,src.name,dst.name,path,status_code 'http' calls.ndjson\n"
           "Exit status: 0 if a record was selected, 1 if none, 2 on error.\n"
           "The language: man kfl, or docs/kfl.md.\n");
}

/* ---- error with a caret under the column ---- */
static void report_compile_error(const char *where, const char *src, size_t n, size_t pos, const char *msg)
{
    if (pos > n) pos = n;
    size_t ls = pos, line = 1;
    while (ls > 0 && src[ls - 1] != '\n') ls--;
    for (size_t i = 0; i < ls; i++) line += src[i] == '\n';
    size_t le = pos;
    while (le < n && src[le] != '\n') le++;
    size_t col = 1;
    for (size_t i = ls; i < pos; i++) col += ((unsigned char)src[i] & 0xC0) != 0x80;
    kf_err("%s:%zu:%zu: %s", where, line, col, msg);
    /* a long line: show 60 bytes either side of the column */
    const char *pre = "", *post = "";
    if (pos - ls > 70) { ls = pos - 60; while (ls < pos && ((unsigned char)src[ls] & 0xC0) == 0x80) ls++; pre = "..."; }
    if (le - pos > 70) { le = pos + 60; while (le > pos && ((unsigned char)src[le] & 0xC0) == 0x80) le--; post = "..."; }
    fprintf(stderr, " | %s%.*s%s\n | %s", pre, (int)(le - ls), src + ls, post, *pre ? "   " : "");
    for (size_t i = ls; i < pos; i++) {
        unsigned char c = (unsigned char)src[i];
        if ((c & 0xC0) == 0x80) continue;
        fputc(c == '\t' ? '\t' : ' ', stderr);
    }
    fputs("^\n", stderr);
}

/* ---- the run ---- */
typedef struct {
    int invert, count, quiet, skip_invalid;
    long long max;
    kfl_prog *prog;
    kfl_ctx ctx;
    long long invalid;
    int nfiles;
    /* --fields: one program holding the list of expressions; a table on a terminal */
    kfl_prog *fprog;
    kfl_ctx fctx;
    int nfields;
    kf_table *table;
    char *cell; size_t cellcap;
} run;

/* ---- --fields: a value as text (TSV: RFC 3339 times, tabs and newlines escaped; the table:
 * times for people, local with UTC in parentheses) ---- */
static void cell_put(run *r, size_t *n, const char *p, size_t len)
{
    if (*n + len + 1 > r->cellcap) {
        size_t cap = r->cellcap ? r->cellcap : 256;
        while (cap < *n + len + 1) cap *= 2;
        char *nc = realloc(r->cell, cap);
        if (!nc) return;
        r->cell = nc; r->cellcap = cap;
    }
    memcpy(r->cell + *n, p, len);
    *n += len;
    r->cell[*n] = 0;
}

static void field_text(run *r, size_t *n, const kfl_val *v, int human)
{
    char b[128];
    switch (v->k) {
    case KT_NULL: case KT_ERR: break;
    case KT_STRING: case KT_BYTES:
        if (human) { cell_put(r, n, v->s.p, v->s.n); break; }
        for (size_t i = 0; i < v->s.n; i++) {
            char c = v->s.p[i];
            const char *e = c == '\t' ? "\\t" : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\\' ? "\\\\" : NULL;
            if (e) cell_put(r, n, e, 2); else cell_put(r, n, &c, 1);
        }
        break;
    case KT_TS:
        if (human) kf_time_human(v->i, 0, 3, b, sizeof b); else kf_time_rfc3339(v->i, b, sizeof b);
        cell_put(r, n, b, strlen(b));
        break;
    case KT_LIST:
        for (size_t i = 0; i < v->l->n; i++) {
            if (i) cell_put(r, n, ",", 1);
            field_text(r, n, &v->l->v[i], human);
        }
        break;
    default: {
        char *big = malloc(4096);
        if (!big) break;
        kfl_val_format(v, big, 4096);
        cell_put(r, n, big, strlen(big));
        free(big);
    }
    }
}

static void emit_fields(run *r, const char *line, size_t n)
{
    size_t off;
    kfl_arena_reset(&r->fctx.ar);
    if (kfl_scan_line(r->fprog, line, n, r->fctx.slots, &off)) return;
    for (int i = 0; i < r->nfields; i++) {
        kfl_val v = kfl_eval(&r->fctx, r->fprog->root->args[i]);
        size_t len = 0;
        cell_put(r, &len, "", 0);
        field_text(r, &len, &v, r->table != NULL);
        if (r->table) kf_table_cell(r->table, r->cell ? r->cell : "");
        else { if (i) putchar_unlocked('\t'); fputs_unlocked(r->cell ? r->cell : "", stdout); }
    }
    if (!r->table) putchar_unlocked('\n');
}

/* one input: its lines come from kf_lines (tools/common/kf_lines.c, shared with kstat) */
typedef struct {
    run *r;
    long long sel;      /* lines selected in this input */
    int stop;           /* -q matched: stop everything */
} file_run;

/* one non-blank line: 0 go on, 1 stop this input (-q matched, -m reached), -1 error (reported) */
static int on_line(void *ctx, const char *name, const char *ls, size_t ll, long long lineno)
{
    file_run *f = ctx;
    run *r = f->r;
    int m = kfl_match_line(&r->ctx, ls, ll);
    if (m < 0) {
        if (!r->skip_invalid) { kf_err("%s:%lld: not a JSON object", name, lineno); return -1; }
        r->invalid++;
        return 0;
    }
    if (m == r->invert) return 0;
    ++f->sel;
    if (r->quiet) { f->stop = 1; return 1; }
    if (r->fprog && !r->count) emit_fields(r, ls, ll);
    else if (!r->count) {
        if (ls[ll] == '\n') fwrite_unlocked(ls, 1, ll + 1, stdout);   /* kf_lines: ls[ll] is readable */
        else { fwrite_unlocked(ls, 1, ll, stdout); putchar_unlocked('\n'); }
    }
    return r->max >= 0 && f->sel >= r->max ? 1 : 0;
}

/* 0 ok, 1 stop everything (-q matched), -1 error */
static int run_file(run *r, const char *path, long long *selected)
{
    const char *name = strcmp(path, "-") ? path : "(standard input)";
    if (r->max == 0) {                      /* grep -m 0: read nothing */
        if (r->count && !r->quiet && r->nfiles > 1) printf("%s:0\n", name);
        return 0;
    }
    /* from a pipe or terminal, what was selected is flushed before each read that may wait */
    static const kf_lines_opts lo = { .flush_stdout = 1 };
    file_run f = { r, 0, 0 };
    int rc = kf_lines_read_opts(path, &lo, on_line, &f) ? -1 : f.stop ? 1 : 0;
    if (r->count && !r->quiet && rc != -1 && r->nfiles > 1) printf("%s:%lld\n", name, f.sel);
    *selected += f.sel;
    return rc;
}

static char *read_expr_file(const char *path, size_t *n)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) { kf_err("%s: %s", path, strerror(errno)); return NULL; }
    size_t cap = 4096, len = 0;
    char *b = malloc(cap);
    while (b) {
        size_t r = fread(b + len, 1, cap - len - 1, f);
        len += r;
        if (r == 0) break;
        if (len + 1 == cap) { char *nb = realloc(b, cap *= 2); if (!nb) { free(b); b = NULL; } else b = nb; }
    }
    int bad = ferror(f);
    if (f != stdin) fclose(f);
    if (!b || bad) { kf_err("%s: %s", path, b ? "read error" : "out of memory"); free(b); return NULL; }
    b[len] = 0;
    *n = len;
    return b;
}

static void print_vars(void)
{
    for (const char *const *g = kfl_var_groups; *g; g++) {
        printf("# %s\n", *g);
        for (size_t i = 0; i < kfl_nvars; i++) {
            const kfl_var *v = &kfl_vars[i];
            if (strcmp(v->group, *g)) continue;
            char t[48];
            if (v->type == KT_LIST || v->type == KT_MAP)
                snprintf(t, sizeof t, v->type == KT_LIST ? "list(%s)" : "map(string, %s)", kfl_type_name(v->elem));
            else snprintf(t, sizeof t, "%s", kfl_type_name(v->type));
            if (strcmp(v->name, v->path)) printf("%-32s %-22s (in the record: %s)\n", v->name, t, v->path);
            else printf("%-32s %s\n", v->name, t);
        }
    }
}

int main(int argc, char **argv)
{
    kf_set_prog(argv[0]);
    enum { O_CHECK = 256, O_EXPLAIN, O_VARS, O_ALLOW, O_SKIP, O_VERSION, O_NOW, O_FIELDS, O_JSON };
    static const struct option opts[] = {
        { "invert-match", no_argument, 0, 'v' }, { "count", no_argument, 0, 'c' },
        { "quiet", no_argument, 0, 'q' }, { "silent", no_argument, 0, 'q' },
        { "max-count", required_argument, 0, 'm' }, { "file", required_argument, 0, 'f' },
        { "check", no_argument, 0, O_CHECK }, { "explain", no_argument, 0, O_EXPLAIN },
        { "vars", no_argument, 0, O_VARS }, { "allow-unknown", no_argument, 0, O_ALLOW },
        { "skip-invalid", no_argument, 0, O_SKIP }, { "help", no_argument, 0, 'h' },
        { "version", no_argument, 0, O_VERSION }, { "now", required_argument, 0, O_NOW },
        { "fields", required_argument, 0, O_FIELDS }, { "json", no_argument, 0, O_JSON },
        { 0, 0, 0, 0 },
    };
    run r = { .max = -1 };
    const char *exprfile = NULL;
    int check = 0, explain = 0, vars = 0, allow = 0, json = 0, c;
    char **fields = NULL, *fields_src = NULL; int nfields = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    while ((c = kf_getopt(argc, argv, "+vcqm:f:h", opts)) != -1) {
        switch (c) {
        case 'v': r.invert = 1; break;
        case 'c': r.count = 1; break;
        case 'q': r.quiet = 1; break;
        case 'm': {
            char *e; errno = 0;
            r.max = strtoll(optarg, &e, 10);
            if (*e || errno || r.max < 0) kf_usage_die("-m: not a count: '%s'", optarg);
            break;
        }
        case 'f': exprfile = optarg; break;
        case O_CHECK: check = 1; break;
        case O_EXPLAIN: explain = 1; break;
        case O_VARS: vars = 1; break;
        case O_ALLOW: allow = 1; break;
        case O_SKIP: r.skip_invalid = 1; break;
        case O_FIELDS: if (kf_split_list(optarg, &fields, &nfields)) kf_die(KF_EXIT_ERR, "out of memory"); break;
        case O_JSON: json = 1; break;
        case O_NOW: {
            char terr[256];
            int64_t wall = now;
            if (kf_time_parse(optarg, wall, &now, terr, sizeof terr) != 0) kf_usage_die("--now: %s", terr);
            break;
        }
        case 'h': usage(); return kf_finish_stdout(KF_EXIT_OK);
        case O_VERSION: printf("kfl %s\n", KF_VERSION); return kf_finish_stdout(KF_EXIT_OK);
        default: kf_usage_die("unknown option");
        }
    }
    if (vars) { print_vars(); return kf_finish_stdout(KF_EXIT_OK); }
    char *src = NULL; size_t srclen = 0;
    const char *where = "filter";
    if (exprfile) {
        src = read_expr_file(exprfile, &srclen);
        if (!src) return KF_EXIT_ERR;
        where = exprfile;
    } else {
        if (optind >= argc) kf_usage_die("no filter expression given");
        srclen = strlen(argv[optind]);
        src = malloc(srclen + 1);
        if (!src) kf_die(KF_EXIT_ERR, "out of memory");
        memcpy(src, argv[optind++], srclen + 1);
    }
    char err[256]; size_t errpos = 0;
    r.prog = kfl_compile(src, srclen, allow, now, err, sizeof err, &errpos);
    if (!r.prog) { report_compile_error(where, src, srclen, errpos, err); free(src); return KF_EXIT_ERR; }
    if (explain) {
        char *b = malloc(65536);
        if (!b) kf_die(KF_EXIT_ERR, "out of memory");
        kfl_explain(r.prog, b, 65536);
        printf("expression: %s\n", b);
        printf("variables:");
        if (!r.prog->nused) printf(" (none)");
        for (int i = 0; i < r.prog->nused; i++) {
            const kfl_used *u = &r.prog->used[i];
            printf("%s %s (%s%s)", i ? "," : "", u->var ? u->var->name : u->path,
                   u->var ? kfl_type_name(u->type) : "unknown", u->var && strcmp(u->var->name, u->path) ? "" : "");
        }
        printf("\n");
        free(b);
    }
    if (check || explain) { kfl_prog_free(r.prog); free(src); return kf_finish_stdout(KF_EXIT_OK); }

    if (nfields) {
        /* each expression checked alone (messages point into what was written), then one
         * program for all, so each selected line is scanned once for them */
        size_t cap = 2;
        for (int i = 0; i < nfields; i++) {
            kfl_prog *p = kfl_compile_flags(fields[i], strlen(fields[i]), KFL_VALUE | (allow ? KFL_ALLOW_UNKNOWN : 0),
                                            now, err, sizeof err, &errpos);
            if (!p) {
                report_compile_error("--fields", fields[i], strlen(fields[i]), errpos, err);
                for (int k = 0; k < nfields; k++) free(fields[k]);
                free(fields); kfl_prog_free(r.prog); free(src);
                return KF_EXIT_ERR;
            }
            kfl_prog_free(p);
            cap += strlen(fields[i]) + 3;
        }
        char *all = malloc(cap);
        if (!all) kf_die(KF_EXIT_ERR, "out of memory");
        size_t o = 0;
        all[o++] = '[';
        for (int i = 0; i < nfields; i++) o += (size_t)sprintf(all + o, "%s(%s)", i ? "," : "", fields[i]);
        all[o++] = ']'; all[o] = 0;
        r.fprog = kfl_compile_flags(all, o, KFL_VALUE | (allow ? KFL_ALLOW_UNKNOWN : 0), now, err, sizeof err, &errpos);
        if (!r.fprog || !r.fprog->root || r.fprog->root->op != N_LIST || r.fprog->root->nargs != nfields)
            kf_die(KF_EXIT_ERR, "--fields: an expression with a top-level comma (put it in parentheses)");
        r.nfields = nfields;
        kfl_ctx_init(&r.fctx, r.fprog);
        if (!r.fctx.slots || !r.fctx.locals) kf_die(KF_EXIT_ERR, "out of memory");
        if (!json && !r.count && !r.quiet && kf_is_terminal(stdout)) {
            r.table = kf_table_new(nfields, (const char *const *)fields, NULL);
            if (!r.table) kf_die(KF_EXIT_ERR, "out of memory");
        }
        fields_src = all;        /* the program's names point into it: freed after it */
    } else if (!json && !r.count && !r.quiet) kf_calls_tty_begin();   /* a terminal: the call table */

    kfl_ctx_init(&r.ctx, r.prog);
    if (!r.ctx.slots || !r.ctx.locals) kf_die(KF_EXIT_ERR, "out of memory");
    static char outbuf[1 << 20];
    setvbuf(stdout, outbuf, isatty(1) ? _IOLBF : _IOFBF, sizeof outbuf);
    const char *stdin_only[] = { "-" };
    const char **files = optind < argc ? (const char **)argv + optind : stdin_only;
    int nfiles = optind < argc ? argc - optind : 1;
    r.nfiles = nfiles;
    long long selected = 0;
    int errors = 0, stop = 0;
    for (int i = 0; i < nfiles && !stop; i++) {
        int rc = run_file(&r, files[i], &selected);
        if (rc < 0) errors++;
        if (rc == 1) stop = 1;
    }
    if (r.count && !r.quiet && nfiles == 1) printf("%lld\n", selected);
    if (r.table) { kf_table_print(r.table, stdout, 80); kf_table_free(r.table); }
    if (r.fprog) { kfl_ctx_free(&r.fctx); kfl_prog_free(r.fprog); }
    for (int i = 0; i < nfields; i++) free(fields[i]);
    free(fields); free(r.cell); free(fields_src);
    if (r.invalid) kf_warn("%lld line%s not JSON objects, skipped", r.invalid, r.invalid == 1 ? " was" : "s were");
    int code = r.quiet && selected ? KF_EXIT_OK : errors ? KF_EXIT_ERR : selected ? KF_EXIT_OK : KF_EXIT_NONE;
    kfl_ctx_free(&r.ctx);
    kfl_prog_free(r.prog);
    free(src);
    return kf_finish_stdout(code);
}
