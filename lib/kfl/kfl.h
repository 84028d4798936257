/* kfl — KFL (Kubeshark's filter language, a CEL subset) over NDJSON records.
 * Stages, one file each (jq's split): lex.c (tokens) → parse.c (AST) → check.c (names, types,
 * constant folding) → eval.c (values over one record) with scan.c (the selective scanner that
 * finds only the fields an expression uses), value.c (values, arena, JSON decoding), regex.c
 * (RE2 syntax onto POSIX ERE), ktime.c (timestamps and durations), vars.c (the variable table),
 * tools/kfl/main.c (the grep-like CLI). Nothing here prints or exits: kfl and kstat link it (libkfl.a).
 * Every non-main file can be #included into one translation unit (the fuzz targets do). */
#ifndef KFL_H
#define KFL_H
#include <stddef.h>
#include <stdint.h>

/* ---- static types (checker) and value kinds (evaluator) share one enum ---- */
typedef enum {
    KT_DYN = 0, KT_ERR, KT_NULL, KT_BOOL, KT_INT, KT_UINT, KT_DOUBLE, KT_STRING, KT_BYTES,
    KT_LIST, KT_MAP, KT_TS, KT_DUR,
} kfl_type;
const char *kfl_type_name(int t);

/* ---- arena: per-record scratch memory, reset after each record ---- */
typedef struct kfl_arena_blk { struct kfl_arena_blk *next; size_t cap, used; } kfl_arena_blk;
typedef struct { kfl_arena_blk *head, *cur; } kfl_arena;
void *kfl_alloc(kfl_arena *a, size_t n);          /* zeroed; NULL only when malloc fails */
void kfl_arena_reset(kfl_arena *a);                /* keeps the blocks for reuse */
void kfl_arena_free(kfl_arena *a);

/* ---- values ---- */
struct kfl_list; struct kfl_map;
typedef struct kfl_val {
    uint8_t k;                      /* kfl_type, never KT_DYN */
    union {
        int b;
        int64_t i;                  /* int, timestamp (ns since epoch), duration (ns) */
        uint64_t u;
        double d;
        struct { const char *p; size_t n; } s;   /* string (UTF-8) / bytes; not NUL-terminated */
        struct kfl_list *l;
        struct kfl_map *m;
        const char *err;            /* static message */
    };
} kfl_val;
typedef struct kfl_list { size_t n; kfl_val *v; } kfl_list;
typedef struct kfl_map { size_t n; kfl_val *key, *val; } kfl_map;

kfl_val kfl_err_val(const char *msg);
kfl_val kfl_bool(int b);
kfl_val kfl_int(int64_t i);
kfl_val kfl_str(const char *p, size_t n);
/* CEL equality: 1 equal, 0 not, -1 error (an operand is an error) */
int kfl_val_eq(const kfl_val *a, const kfl_val *b);
/* ordering: <0, 0, >0; KFL_CMP_ERR when the kinds do not order */
#define KFL_CMP_ERR 2
int kfl_val_cmp(const kfl_val *a, const kfl_val *b);
/* decodes one JSON value (the bytes of a value as found in a record) into *out, using the arena
 * for strings with escapes, lists and maps. Returns 0, or -1 when it is not valid JSON. */
int kfl_json_decode(kfl_arena *a, const char *p, size_t n, kfl_val *out);
/* writes a CEL-ish rendering of v into buf (for --explain and messages) */
void kfl_val_format(const kfl_val *v, char *buf, size_t len);

/* ---- time (ktime.c): own RFC 3339 and CEL duration parsers, kept local to kfl ---- */
int kfl_ts_parse(const char *s, size_t n, int64_t *ns);        /* RFC 3339; 0 ok, -1 bad */
/* timestamp()'s argument: RFC 3339 or any form of docs/time.md (now_ns is "now"); 0 ok, -1 bad */
int kfl_ts_parse_any(const char *s, size_t n, int64_t now_ns, int64_t *ns);
int kfl_dur_parse(const char *s, size_t n, int64_t *ns);       /* "1h2m3.5s", "-5m", "250ms" */
void kfl_ts_format(int64_t ns, char *buf, size_t len);         /* 2026-03-14T17:23:45.1Z */
void kfl_dur_format(int64_t ns, char *buf, size_t len);        /* "300s", "1.5s" (CEL's form) */

/* ---- regex (regex.c) ---- */
typedef struct kfl_regex kfl_regex;
/* compiles RE2 syntax; NULL with a message in err when unsupported or invalid */
kfl_regex *kfl_regex_new(const char *pat, size_t n, char *err, size_t errlen);
int kfl_regex_search(kfl_regex *re, const char *s, size_t n);   /* 1 found, 0 not (keeps a scratch copy) */
void kfl_regex_free(kfl_regex *re);

/* ---- variables (vars.c) ---- */
typedef struct { const char *name, *path; uint8_t type, elem; const char *group; } kfl_var;
extern const kfl_var kfl_vars[];
extern const char *const kfl_var_groups[];   /* the groups in the registry's order, NULL-ended */
extern const size_t kfl_nvars;
const kfl_var *kfl_var_find(const char *name, size_t n);
const char *kfl_var_suggest(const char *name, size_t n);       /* closest known name or NULL */

/* ---- tokens (lex.c) ---- */
typedef enum {
    TK_EOF, TK_INT, TK_UINT, TK_DOUBLE, TK_STRING, TK_BYTES, TK_IDENT, TK_TRUE, TK_FALSE, TK_NULL,
    TK_IN, TK_LPAREN, TK_RPAREN, TK_LBRACKET, TK_RBRACKET, TK_LBRACE, TK_RBRACE, TK_DOT, TK_COMMA,
    TK_COLON, TK_QUESTION, TK_OR, TK_AND, TK_NOT, TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE,
    TK_PLUS, TK_MINUS, TK_STAR, TK_SLASH, TK_PERCENT, TK_ERROR,
} kfl_tok_kind;
typedef struct {
    int kind;
    size_t pos, len;         /* byte offset and length in the source */
    uint64_t u; double d;    /* numbers (TK_INT keeps the magnitude in u) */
    char *s; size_t slen;    /* decoded string/bytes/ident (arena) */
} kfl_tok;
typedef struct {
    const char *src; size_t n, pos;
    kfl_arena *ar;
    char *err; size_t errlen; size_t errpos;   /* first error */
} kfl_lexer;
int kfl_lex_next(kfl_lexer *lx, kfl_tok *t);   /* 0 ok (t filled), -1 error (lx->err) */

/* ---- AST (parse.c), resolved in place by check.c ---- */
typedef enum {
    N_LIT, N_IDENT, N_SELECT, N_INDEX, N_CALL, N_LIST, N_MAP,
    N_NOT, N_NEG, N_AND, N_OR, N_COND,
    N_EQ, N_NE, N_LT, N_LE, N_GT, N_GE, N_IN, N_ADD, N_SUB, N_MUL, N_DIV, N_MOD,
    /* after checking */
    N_VAR, N_LOCAL, N_HAS_VAR, N_HAS_KEY, N_FN, N_MACRO,
} kfl_node_op;
typedef enum {
    F_CONTAINS, F_STARTS, F_ENDS, F_MATCHES, F_LOWER, F_UPPER, F_SIZE, F_MAPGET, F_TIMESTAMP,
    F_DURATION, F_NOW, F_INT, F_UINT, F_DOUBLE, F_STRING, F_BYTES, F_BOOL, F_TRIM,
} kfl_fn;
typedef enum { M_EXISTS, M_ALL, M_EXISTS_ONE, M_FILTER, M_MAP } kfl_macro;

typedef struct kfl_node {
    uint8_t op, type, elem;          /* elem: element type of a list/map type */
    uint8_t fn;                      /* kfl_fn / kfl_macro */
    size_t pos;                      /* byte offset in the source, for carets */
    struct kfl_node *a, *b, *c;      /* operands; method calls: a = receiver */
    struct kfl_node **args; int nargs;
    const char *name; size_t nlen;   /* identifier, field, function name; macro variable */
    int idx;                         /* N_VAR: used-variable index; N_LOCAL/N_MACRO: slot */
    kfl_val lit;                     /* N_LIT */
    kfl_regex *re;                   /* F_MATCHES with a constant pattern */
    int method;                      /* N_CALL written as x.f(…) */
} kfl_node;

/* ---- a compiled program ---- */
typedef struct {
    const kfl_var *var;      /* NULL for an unknown name allowed by --allow-unknown */
    char *path;              /* dotted JSON path */
    int type, elem;
} kfl_used;

typedef struct kfl_trie kfl_trie;
typedef struct kfl_prog {
    kfl_arena ar;            /* everything compiled lives here */
    kfl_node *root;          /* NULL: empty filter, matches everything */
    kfl_used *used; int nused, capused;
    int nslots;              /* macro variables */
    int64_t now;
    int allow_unknown;
    int any_type;            /* KFL_VALUE: the root may be of any type (kstat's --by), not only bool */
    kfl_trie *trie;          /* the selective scanner's key tree */
    kfl_regex **regs; int nregs, capregs;
    const char *src; size_t srclen;
    char err[256]; size_t errpos;   /* compile error: message and byte offset */
} kfl_prog;

/* parses and checks src; returns NULL on error with the message in err/errpos (*errpos is a byte
 * offset into src). now_ns: the value of now(). */
kfl_prog *kfl_compile(const char *src, size_t n, int allow_unknown, int64_t now_ns,
                      char *err, size_t errlen, size_t *errpos);
/* the same with flags: KFL_ALLOW_UNKNOWN (as allow_unknown above), KFL_VALUE (an expression of
 * any type whose value is wanted, as kstat's --by keys, not a filter) */
#define KFL_ALLOW_UNKNOWN 1
#define KFL_VALUE 2
kfl_prog *kfl_compile_flags(const char *src, size_t n, int flags, int64_t now_ns,
                            char *err, size_t errlen, size_t *errpos);
void kfl_prog_free(kfl_prog *p);
/* renders the checked expression fully parenthesised */
void kfl_explain(const kfl_prog *p, char *buf, size_t len);

/* parse.c */
kfl_node *kfl_parse(kfl_prog *p, const char *src, size_t n);   /* NULL + p->err; root may be NULL for empty */
/* check.c */
int kfl_check(kfl_prog *p);                                      /* 0 or -1 + p->err */

/* ---- selective scanner (scan.c) ---- */
typedef struct {
    const char *p; uint32_t n;   /* raw JSON value bytes */
    uint8_t found, decoded;
    kfl_val v;                   /* decoded value, valid when decoded */
} kfl_slot;
/* builds the key tree for p->used */
int kfl_scan_build(kfl_prog *p);
/* scans one line (one JSON object, no trailing newline needed); fills slots[0..nused) for the
 * used paths. Returns 0, or -1 when the line is not a JSON object (the whole line is checked). */
int kfl_scan_line(const kfl_prog *p, const char *line, size_t n, kfl_slot *slots, size_t *erroff);

/* ---- evaluation (eval.c) ---- */
typedef struct {
    const kfl_prog *prog;
    kfl_slot *slots;
    kfl_val *locals;
    kfl_arena ar;
    kfl_regex *dyn_re; char *dyn_pat; size_t dyn_len;   /* cache for non-constant patterns */
} kfl_ctx;
void kfl_ctx_init(kfl_ctx *c, const kfl_prog *p);
void kfl_ctx_free(kfl_ctx *c);
/* evaluates the program on the record whose fields were scanned into c->slots:
 * 1 match, 0 no match (false, or an error such as a missing map key) */
int kfl_match(kfl_ctx *c);
kfl_val kfl_eval(kfl_ctx *c, const kfl_node *n);
/* convenience: scan + evaluate one line; -1 when the line is not JSON */
int kfl_match_line(kfl_ctx *c, const char *line, size_t n);
#endif
