/* kf_capread — pcap / pcapng / gzip reader (see kf_capread.h).
 *
 * Hand-written: libpcap reads pcap and pcapng but hides pcapng's per-block detail we need
 * (several sections, every IDB's options, NRB, ISB, DSB, comments, epb_flags/dropcount), copies
 * each packet, and cannot read from memory; no other C library does this without copying.
 * Specs: the classic pcap format (draft-ietf-opsawg-pcap) and pcapng (draft-ietf-opsawg-pcapng).
 *
 * Input is either "memory" (a mmap'd file or a caller's buffer: records are handed out in place)
 * or "stream" (stdin, a pipe, a FILE*, or anything gzip'd: bytes are pulled into a growing buffer
 * that is compacted before each record). Every length read from the file is checked against what
 * is there before use. */
#include "kf_capread.h"
#include "kf_grow.h"
#include "kf_cursor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define NG_SHB 0x0A0D0D0Au
#define NG_BOM 0x1A2B3C4Du
#define NG_IDB 1u
#define NG_PB 2u
#define NG_SPB 3u
#define NG_NRB 4u
#define NG_ISB 5u
#define NG_EPB 6u
#define NG_DSB 0x0Au
/* Largest record/packet we accept: like Wireshark, a pcap record over 256 KiB (for the common
 * link types) is corruption; pcapng blocks up to 16 MiB. */
#define MAX_PCAP_CAPLEN (256u * 1024u)
#define MAX_PCAP_CAPLEN_BIG (16u * 1024u * 1024u)
#define MAX_NG_BLOCK (16u * 1024u * 1024u)
#define STREAM_CHUNK (256u * 1024u)
#define KF_RELEASE_STEP (16u << 20)   /* mmap mode: pages behind the reader are given back per 16 MiB */
#define KF_RELEASE_KEEP (4u << 20)    /* ... keeping the last 4 MiB */
#ifndef PF_DIST
#define PF_DIST 2048
#endif

enum { IN_MEM = 1, IN_STREAM = 2 };
enum { SRC_NONE = 0, SRC_FILE = 1, SRC_MEM = 2 };

typedef struct ng_if {   /* per-section view of an IDB */
    uint32_t gid;
} ng_if;

struct kf_reader {
    int mode;
    /* memory mode: base/len is the whole input; stream mode: base is buf, len is fill */
    const uint8_t *base;
    size_t len, pos;
    uint64_t abs0;          /* absolute stream offset of base[0] */
    void *map; size_t maplen;
    int fd;                 /* owned fd (mmap'd or streamed file), -1 if none */
    /* stream */
    int src;                /* where raw bytes come from in stream mode */
    FILE *f; int own_f;
    const uint8_t *msrc; size_t msrclen, msrcpos;  /* raw source in memory (gzip over mmap) */
    uint8_t *buf; size_t cap;
    int eof;
    int gz; z_stream zs; uint8_t *zin; size_t zinlen; int zdone;
    uint64_t rawsize;       /* size of the (compressed) input when known */
    /* format */
    enum kf_format fmt;
    int swap;               /* pcap: file byte order differs from ours; pcapng: current section */
    int ns;
    uint32_t snaplen;
    int linktype;
    uint32_t maxcap;
    /* pcapng */
    kf_iface *ifs; size_t nifs, capifs;
    uint32_t *secif; size_t nsecif, capsecif;   /* section-local IDB index -> global id */
    kf_section *secs; size_t nsecs, capsecs;
    kf_nrb_entry *nrb; size_t nnrb, capnrb;
    kf_dsb *dsb; size_t ndsb, capdsb;
    kf_isb *isb; size_t nisb, capisb;
    int have_shb;
    /* per packet */
    uint64_t frame;
    int64_t last_ts;
    int last_has_ts;
    char *comment; size_t commentcap;
    uint64_t good_end;
    int done;               /* 1 end reached, -1 error */
    size_t pf;              /* memory mode: prefetched up to here */
    size_t released;        /* mmap mode: pages before this were given back (MADV_DONTNEED) */
    size_t populated;       /* mmap mode: page tables filled up to here (populate_ahead); */
    int no_populate;        /* ... not again: the kernel has no MADV_POPULATE_READ */
    char err[256], warn[256];
};

/* ---------- small helpers ---------- */

static void set_err(kf_reader *r, uint64_t off, const char *fmt, ...)
{
    char m[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    snprintf(r->err, sizeof r->err, "offset %llu: %s", (unsigned long long)off, m);
    r->done = -1;
}

static int cut_short(kf_reader *r, uint64_t off, size_t need, size_t have)
{
    snprintf(r->warn, sizeof r->warn,
             "cut short at offset %llu (a %s needs %zu bytes, %zu left); %llu packets kept",
             (unsigned long long)off, r->fmt == KF_FMT_PCAP ? "record" : "block", need, have,
             (unsigned long long)r->frame);
    r->done = 1;
    return 0;
}

static inline uint16_t sw16(const kf_reader *r, const uint8_t *p)
{
    uint16_t v; memcpy(&v, p, 2);
    return r->swap ? __builtin_bswap16(v) : v;
}
static inline uint32_t sw32(const kf_reader *r, const uint8_t *p)
{
    uint32_t v; memcpy(&v, p, 4);
    return r->swap ? __builtin_bswap32(v) : v;
}
static inline uint64_t sw64(const kf_reader *r, const uint8_t *p)
{   /* pcapng 64-bit values in options are in section byte order as a whole */
    uint64_t v; memcpy(&v, p, 8);
    return r->swap ? __builtin_bswap64(v) : v;
}

static char *dupn(const uint8_t *p, size_t n)
{
    while (n > 0 && p[n - 1] == 0) n--;   /* options may carry trailing NULs */
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* ---------- raw input (stream mode) ---------- */

static ssize_t raw_read(kf_reader *r, uint8_t *dst, size_t n)
{
    if (r->src == SRC_MEM) {
        size_t k = r->msrclen - r->msrcpos;
        if (k > n) k = n;
        memcpy(dst, r->msrc + r->msrcpos, k);
        r->msrcpos += k;
        return (ssize_t)k;
    }
    size_t k = fread(dst, 1, n, r->f);
    if (k == 0 && ferror(r->f)) return -1;
    return (ssize_t)k;
}

/* Fills dst with up to n decompressed (or plain) bytes. 0 = end, -1 = error (r->err set). */
static ssize_t src_read(kf_reader *r, uint8_t *dst, size_t n)
{
    if (!r->gz) {
        ssize_t k = raw_read(r, dst, n);
        if (k < 0) set_err(r, r->abs0 + r->len, "read error: %s", strerror(errno));
        return k;
    }
    if (r->zdone) return 0;
    r->zs.next_out = dst;
    r->zs.avail_out = (uInt)n;
    while (r->zs.avail_out == n) {
        if (r->zs.avail_in == 0) {
            if (r->src == SRC_MEM) {   /* inflate straight from the mapping */
                size_t k = r->msrclen - r->msrcpos;
                if (k > (1u << 30)) k = 1u << 30;
                r->zs.next_in = (Bytef *)(uintptr_t)(r->msrc + r->msrcpos);
                r->zs.avail_in = (uInt)k;
                r->msrcpos += k;
            } else {
                ssize_t k = raw_read(r, r->zin, STREAM_CHUNK);
                if (k < 0) { set_err(r, r->abs0 + r->len, "read error: %s", strerror(errno)); return -1; }
                r->zs.next_in = r->zin;
                r->zs.avail_in = (uInt)k;
            }
            if (r->zs.avail_in == 0) {   /* compressed data ended without the gzip trailer */
                snprintf(r->warn, sizeof r->warn, "gzip stream cut short");
                r->zdone = 1;
                break;
            }
        }
        int z = inflate(&r->zs, Z_NO_FLUSH);
        if (z == Z_STREAM_END) {
            /* concatenated gzip members: go on if more input follows */
            int more = r->zs.avail_in > 0 || (r->src == SRC_MEM ? r->msrcpos < r->msrclen : !feof(r->f));
            if (more && r->zs.avail_in == 0 && r->src == SRC_FILE) {
                ssize_t k = raw_read(r, r->zin, STREAM_CHUNK);
                if (k <= 0) more = 0;
                else { r->zs.next_in = r->zin; r->zs.avail_in = (uInt)k; }
            }
            if (!more) { r->zdone = 1; break; }
            inflateReset(&r->zs);
        } else if (z != Z_OK && z != Z_BUF_ERROR) {
            set_err(r, r->abs0 + r->len + (n - r->zs.avail_out), "gzip data corrupt: %s",
                    r->zs.msg ? r->zs.msg : "inflate failed");
            return -1;
        }
    }
    return (ssize_t)(n - r->zs.avail_out);
}

/* Makes n bytes at r->pos available. Returns a pointer, or NULL when the input ends first
 * (r->done untouched) or on a read error (r->done = -1). Pointers handed out before are
 * invalidated (stream mode compacts). */
static const uint8_t *need_slow(kf_reader *r, size_t n)
{
    if (r->mode == IN_MEM) return NULL;
    if (r->pos > 0) {   /* compact */
        size_t keep = r->len - r->pos;
        memmove(r->buf, r->buf + r->pos, keep);
        r->abs0 += r->pos;
        r->len = keep;
        r->pos = 0;
    }
    if (n > r->cap) {
        size_t c = r->cap;
        while (c < n) c *= 2;
        uint8_t *b = realloc(r->buf, c);
        if (!b) { set_err(r, r->abs0, "out of memory"); return NULL; }
        r->buf = b; r->cap = c;
    }
    r->base = r->buf;
    while (r->len < n && !r->eof) {
        ssize_t k = src_read(r, r->buf + r->len, r->cap - r->len);
        if (k < 0) return NULL;
        if (k == 0) r->eof = 1;
        r->len += (size_t)k;
        r->base = r->buf;
    }
    return r->len - r->pos >= n ? r->base + r->pos : NULL;
}

static inline const uint8_t *need(kf_reader *r, size_t n)
{
    if (r->len - r->pos >= n) return r->base + r->pos;
    return need_slow(r, n);
}
static inline size_t avail(const kf_reader *r) { return r->len - r->pos; }
static inline uint64_t here(const kf_reader *r) { return r->abs0 + r->pos; }

/* The next record header is a cache miss: records are ~1 KiB apart, beyond what the hardware
 * prefetcher follows within a page, and each header's position depends on the one before. So
 * stream the bytes just ahead of the read position into the cache (bench/read.sh: -30% CPU). */
static inline void prefetch_ahead(kf_reader *r)
{
    if (r->pos < r->len) __builtin_prefetch(r->base + r->pos);
    if (r->mode != IN_MEM) return;
    size_t want = r->pos + PF_DIST;
    if (want > r->len) want = r->len;
    if (r->pf < r->pos) r->pf = r->pos;
    for (; r->pf < want; r->pf += 64) __builtin_prefetch(r->base + r->pf);
}

/* ---------- opening ---------- */

static int parse_pcap_header(kf_reader *r, const uint8_t *h)
{
    uint32_t magic; memcpy(&magic, h, 4);
    if (magic == PCAP_MAGIC_US || magic == PCAP_MAGIC_NS) r->swap = 0;
    else if (__builtin_bswap32(magic) == PCAP_MAGIC_US || __builtin_bswap32(magic) == PCAP_MAGIC_NS) {
        r->swap = 1; magic = __builtin_bswap32(magic);
    } else return -1;
    r->ns = magic == PCAP_MAGIC_NS;
    uint16_t major = sw16(r, h + 4), minor = sw16(r, h + 6);
    if (major < 2) {   /* as Wireshark: 2.x only (libpcap also refuses 1.x) */
        set_err(r, 4, "unsupported pcap version %u.%u", major, minor);
        return -2;
    }
    r->snaplen = sw32(r, h + 16);
    uint32_t lt = sw32(r, h + 20);
    if (lt & 0x03FF0000u) {
        set_err(r, 20, "pcap link-type reserved field not zero (0x%08x)", lt & 0x03FF0000u);
        return -2;
    }
    r->linktype = (int)(lt & 0xFFFF);
    r->fmt = KF_FMT_PCAP;
    /* as Wireshark: 256 KiB per record, more only for link types that carry big messages
     * (USB 189/220/249, D-Bus 231, EBHSCR 279) */
    switch (r->linktype) {
    case 189: case 220: case 231: case 249: case 279: r->maxcap = MAX_PCAP_CAPLEN_BIG; break;
    default: r->maxcap = MAX_PCAP_CAPLEN; break;
    }
    r->pos += 24;
    r->good_end = here(r);
    return 0;
}

static int read_shb(kf_reader *r);

static kf_reader *finish_open(kf_reader *r, char *err, size_t errlen)
{
    const uint8_t *h = need(r, 4);
    if (!h) {
        if (r->done < 0) snprintf(err, errlen, "%s", r->err);
        else snprintf(err, errlen, avail(r) == 0 ? "empty file" : "file too short to be a capture");
        kf_reader_close(r);
        return NULL;
    }
    if (h[0] == 0x1f && h[1] == 0x8b && !r->gz) {   /* gzip: restart through inflate */
        r->gz = 1;
        if (inflateInit2(&r->zs, 15 + 16) != Z_OK) {
            snprintf(err, errlen, "cannot start gzip decompression");
            kf_reader_close(r);
            return NULL;
        }
        if (r->mode == IN_MEM) {   /* decompress from the mapping, stream out */
            r->msrc = r->base; r->msrclen = r->len; r->msrcpos = 0;
            r->src = SRC_MEM;
        } else {                   /* bytes already pulled into buf are the start of the gzip */
            r->zin = malloc(STREAM_CHUNK);
            if (!r->zin) { snprintf(err, errlen, "out of memory"); kf_reader_close(r); return NULL; }
            r->zs.next_in = r->buf; /* consume buf's bytes first: copy them to zin */
            size_t k = r->len < STREAM_CHUNK ? r->len : STREAM_CHUNK;
            memcpy(r->zin, r->buf, k);
            r->zs.next_in = r->zin; r->zs.avail_in = (uInt)k;
            if (k < r->len) { snprintf(err, errlen, "internal: gzip header buffer"); kf_reader_close(r); return NULL; }
        }
        r->mode = IN_STREAM;
        r->cap = STREAM_CHUNK;
        uint8_t *b = r->buf ? r->buf : malloc(r->cap);
        if (!b) { snprintf(err, errlen, "out of memory"); kf_reader_close(r); return NULL; }
        r->buf = b; r->base = b; r->len = 0; r->pos = 0; r->abs0 = 0; r->eof = 0;
        h = need(r, 4);
        if (!h) {
            snprintf(err, errlen, "%s", r->done < 0 ? r->err : "gzip data too short to be a capture");
            kf_reader_close(r);
            return NULL;
        }
    }
    uint32_t m; memcpy(&m, h, 4);
    if (m == NG_SHB) {
        r->fmt = KF_FMT_PCAPNG;
        if (read_shb(r) != 1) {
            snprintf(err, errlen, "%s", r->err[0] ? r->err : "pcapng file cut inside its first block");
            kf_reader_close(r);
            return NULL;
        }
        return r;
    }
    h = need(r, 24);
    int rc = h ? parse_pcap_header(r, h) : -1;
    if (rc == -1) {
        uint32_t mm = m;
        if (mm == PCAP_MAGIC_US || mm == PCAP_MAGIC_NS || __builtin_bswap32(mm) == PCAP_MAGIC_US ||
            __builtin_bswap32(mm) == PCAP_MAGIC_NS)
            snprintf(err, errlen, "offset 0: pcap file header cut short");
        else
            snprintf(err, errlen, "offset 0: not a pcap or pcapng file (magic %02x%02x%02x%02x)",
                     h ? h[0] : r->base[r->pos], r->base[r->pos + 1], r->base[r->pos + 2], r->base[r->pos + 3]);
        kf_reader_close(r);
        return NULL;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s", r->err);
        kf_reader_close(r);
        return NULL;
    }
    return r;
}

static kf_reader *reader_new(void)
{
    kf_reader *r = calloc(1, sizeof *r);
    if (r) { r->fd = -1; r->last_has_ts = 1; }
    return r;
}

kf_reader *kf_reader_open_mem(const void *buf, size_t len, char *err, size_t errlen)
{
    kf_reader *r = reader_new();
    if (!r) { snprintf(err, errlen, "out of memory"); return NULL; }
    r->mode = IN_MEM;
    r->base = buf ? buf : (const uint8_t *)"";
    r->len = len;
    r->rawsize = len;
    return finish_open(r, err, errlen);
}

kf_reader *kf_reader_open_file(FILE *f, char *err, size_t errlen)
{
    kf_reader *r = reader_new();
    if (!r) { snprintf(err, errlen, "out of memory"); return NULL; }
    r->mode = IN_STREAM;
    r->src = SRC_FILE;
    r->f = f;
    r->cap = STREAM_CHUNK;
    r->buf = malloc(r->cap);
    if (!r->buf) { free(r); snprintf(err, errlen, "out of memory"); return NULL; }
    r->base = r->buf;
    return finish_open(r, err, errlen);
}

/* ---------- mappings shared between readers ---------- */

/* The whole file, read-only, to be read from start to end; NULL if it cannot be mapped. */
static void *map_file(int fd, size_t len)
{
    void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) return NULL;
    madvise(p, len, MADV_SEQUENTIAL);
    madvise(p, len, MADV_WILLNEED);
    return p;
}

kf_reader *kf_reader_open(const char *path, char *err, size_t errlen)
{
    if (strcmp(path, "-") == 0) return kf_reader_open_file(stdin, err, errlen);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { snprintf(err, errlen, "%s", strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0) { snprintf(err, errlen, "%s", strerror(errno)); close(fd); return NULL; }
    if (S_ISDIR(st.st_mode)) { snprintf(err, errlen, "is a directory"); close(fd); return NULL; }
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
        kf_reader *r = reader_new();
        if (!r) { close(fd); snprintf(err, errlen, "out of memory"); return NULL; }
        size_t len = (size_t)st.st_size;
        if ((r->map = map_file(fd, len))) {
            r->maplen = len;
            r->base = r->map;
        }
        if (r->base) {
            r->mode = IN_MEM;
            r->len = len;
            r->rawsize = (uint64_t)len;
            r->fd = fd;
            return finish_open(r, err, errlen);
        }
        free(r);   /* not mapped: read as a stream below */
    }
    if (S_ISREG(st.st_mode) && st.st_size == 0) { snprintf(err, errlen, "empty file"); close(fd); return NULL; }
    FILE *f = fdopen(fd, "rb");
    if (!f) { snprintf(err, errlen, "%s", strerror(errno)); close(fd); return NULL; }
    kf_reader *r = kf_reader_open_file(f, err, errlen);
    if (!r) { fclose(f); return NULL; }
    r->own_f = 1;
    if (S_ISREG(st.st_mode)) r->rawsize = (uint64_t)st.st_size;
    return r;
}

void kf_reader_close(kf_reader *r)
{
    if (!r) return;
    if (r->gz) inflateEnd(&r->zs);
    if (r->map) munmap(r->map, r->maplen);
    if (r->fd >= 0) close(r->fd);
    if (r->own_f && r->f) fclose(r->f);
    free(r->buf); free(r->zin);
    for (size_t i = 0; i < r->nifs; i++) {
        free(r->ifs[i].name); free(r->ifs[i].description); free(r->ifs[i].filter); free(r->ifs[i].os);
        free(r->ifs[i].comment);
    }
    free(r->ifs); free(r->secif);
    for (size_t i = 0; i < r->nsecs; i++) {
        free(r->secs[i].hardware); free(r->secs[i].os); free(r->secs[i].userappl); free(r->secs[i].comment);
    }
    free(r->secs);
    for (size_t i = 0; i < r->nnrb; i++) free(r->nrb[i].name);
    free(r->nrb);
    for (size_t i = 0; i < r->ndsb; i++) free(r->dsb[i].data);
    free(r->dsb); free(r->isb); free(r->comment);
    free(r);
}

/* ---------- pcapng blocks ---------- */

/* Iterates options in [p, end): calls back with code, value, length. Returns 0, or -1 if an
 * option runs past the end (the caller reports corruption). */
typedef int (*opt_fn)(kf_reader *r, void *ctx, uint16_t code, const uint8_t *v, uint16_t len);
static int walk_opts(kf_reader *r, const uint8_t *p, const uint8_t *end, opt_fn fn, void *ctx)
{
    kf_cur c = kf_cur_make(p, (size_t)(end - p));
    while (kf_cur_left(&c) >= 4) {
        const uint8_t *h = kf_cur_take(&c, 4);
        uint16_t code = sw16(r, h), len = sw16(r, h + 2);
        if (code == 0) return 0;   /* opt_endofopt */
        const uint8_t *v = kf_cur_take(&c, len);
        if (!v) return -1;
        kf_cur_skip(&c, (4 - (len & 3)) & 3);
        if (c.err) c.err = 0, c.p = c.end;   /* padding missing at the very end: tolerate */
        if (fn && fn(r, ctx, code, v, len) < 0) return -1;
    }
    return 0;
}

static int shb_opt(kf_reader *r, void *ctx, uint16_t code, const uint8_t *v, uint16_t len)
{
    kf_section *s = ctx;
    char **dst = NULL;
    switch (code) {
    case 1: if (!s->comment) dst = &s->comment; break;
    case 2: dst = &s->hardware; break;
    case 3: dst = &s->os; break;
    case 4: dst = &s->userappl; break;
    }
    if (dst) { free(*dst); *dst = dupn(v, len); }
    return 0;
}

/* Reads a pcapng block at r->pos into *blk (body between the length fields).
 * Returns 1 ok, 0 end/cut (r->done set when cut), -1 error. */
typedef struct ng_block { uint32_t type, total; const uint8_t *body; size_t bodylen; uint64_t off; } ng_block;

static int read_block(kf_reader *r, ng_block *b)
{
    b->off = here(r);
    const uint8_t *h = need(r, 8);
    if (!h) {
        if (r->done < 0) return -1;
        size_t a = avail(r);
        if (a == 0) { r->done = 1; return 0; }
        return cut_short(r, b->off, 8, a);
    }
    uint32_t type; memcpy(&type, h, 4);
    if (type == NG_SHB) return 2;   /* caller handles: byte order may change */
    b->type = sw32(r, h);
    b->total = sw32(r, h + 4);
    if (b->total < 12 || (b->total & 3)) {
        set_err(r, b->off, "pcapng block length %u is invalid", b->total);
        return -1;
    }
    if (b->total > MAX_NG_BLOCK) {
        set_err(r, b->off, "pcapng block length %u is larger than the 16 MiB limit", b->total);
        return -1;
    }
    h = need(r, b->total);
    if (!h) {
        if (r->done < 0) return -1;
        return cut_short(r, b->off, b->total, avail(r));
    }
    uint32_t trail = sw32(r, h + b->total - 4);
    if (trail != b->total) {
        set_err(r, b->off, "pcapng block length %u does not match its trailer %u", b->total, trail);
        return -1;
    }
    b->body = h + 8;
    b->bodylen = b->total - 12;
    r->pos += b->total;
    return 1;
}

/* Reads the SHB at r->pos (its first 4 bytes were seen). 1 ok, 0 cut, -1 error. */
static int read_shb(kf_reader *r)
{
    uint64_t off = here(r);
    const uint8_t *h = need(r, 12);
    if (!h) {
        if (r->done < 0) return -1;
        return cut_short(r, off, 12, avail(r));
    }
    uint32_t bom; memcpy(&bom, h + 8, 4);
    if (bom == NG_BOM) r->swap = 0;
    else if (__builtin_bswap32(bom) == NG_BOM) r->swap = 1;
    else { set_err(r, off + 8, "pcapng section header has a bad byte-order magic"); return -1; }
    uint32_t total = sw32(r, h + 4);
    if (total < 28 || (total & 3) || total > MAX_NG_BLOCK) {
        set_err(r, off, "pcapng section header length %u is invalid", total);
        return -1;
    }
    h = need(r, total);
    if (!h) {
        if (r->done < 0) return -1;
        return cut_short(r, off, total, avail(r));
    }
    uint32_t trail = sw32(r, h + total - 4);
    if (trail != total) {
        set_err(r, off, "pcapng block length %u does not match its trailer %u", total, trail);
        return -1;
    }
    uint16_t major = sw16(r, h + 12), minor = sw16(r, h + 14);
    if (!(major == 1 && (minor == 0 || minor == 2))) {   /* 1.2 is written by some tools; as Wireshark */
        set_err(r, off + 12, "unsupported pcapng version %u.%u", major, minor);
        return -1;
    }
    kf_section *ns = kf_grow(r->secs, &r->capsecs, r->nsecs + 1, sizeof *r->secs);
    if (!ns) { set_err(r, off, "out of memory"); return -1; }
    r->secs = ns;
    kf_section *s = &r->secs[r->nsecs++];
    memset(s, 0, sizeof *s);
    s->big_endian = (r->swap != 0) == (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
    if (walk_opts(r, h + 24, h + total - 4, shb_opt, s) < 0) {
        set_err(r, off, "pcapng section header option runs past the block");
        return -1;
    }
    r->nsecif = 0;
    r->have_shb = 1;
    r->pos += total;
    r->good_end = here(r);
    return 1;
}

typedef struct idb_ctx { kf_iface *i; int bad; } idb_ctx;

static int idb_opt(kf_reader *r, void *ctx, uint16_t code, const uint8_t *v, uint16_t len)
{
    kf_iface *i = ((idb_ctx *)ctx)->i;
    switch (code) {
    case 1: if (!i->comment) i->comment = dupn(v, len); break;
    case 2: free(i->name); i->name = dupn(v, len); break;
    case 3: free(i->description); i->description = dupn(v, len); break;
    case 9: if (len >= 1) i->tsresol = v[0]; break;
    case 11:   /* if_filter: first byte is the kind, 0 = libpcap filter string */
        if (len >= 1 && v[0] == 0) { free(i->filter); i->filter = dupn(v + 1, len - 1u); }
        break;
    case 12: free(i->os); i->os = dupn(v, len); break;
    case 14: if (len == 8) i->tsoffset = (int64_t)sw64(r, v); break;
    }
    return 0;
}

static uint64_t tsresol_per_sec(uint8_t res)
{
    uint64_t v = 1;
    if (res & 0x80) {
        unsigned e = res & 0x7f;
        if (e > 63) return 0;
        return v << e;
    }
    if (res > 19) return 0;
    for (unsigned k = 0; k < res; k++) v *= 10;
    return v;
}

static int on_idb(kf_reader *r, const ng_block *b)
{
    if (b->bodylen < 8) { set_err(r, b->off, "pcapng interface block too short"); return -1; }
    kf_iface *ni = kf_grow(r->ifs, &r->capifs, r->nifs + 1, sizeof *r->ifs);
    uint32_t *nl = kf_grow(r->secif, &r->capsecif, r->nsecif + 1, sizeof *r->secif);
    if (ni) r->ifs = ni;
    if (nl) r->secif = nl;
    if (!ni || !nl) { set_err(r, b->off, "out of memory"); return -1; }
    kf_iface *i = &r->ifs[r->nifs];
    memset(i, 0, sizeof *i);
    i->id = (uint32_t)r->nifs;
    i->section = r->nsecs ? (uint32_t)r->nsecs - 1 : 0;
    i->linktype = sw16(r, b->body);
    i->snaplen = sw32(r, b->body + 4);
    i->tsresol = 6;
    idb_ctx ctx = { i, 0 };
    r->nifs++;
    r->secif[r->nsecif++] = i->id;
    if (walk_opts(r, b->body + 8, b->body + b->bodylen, idb_opt, &ctx) < 0) {
        set_err(r, b->off, "pcapng interface block option runs past the block");
        return -1;
    }
    i->ts_per_sec = tsresol_per_sec(i->tsresol);
    return 0;
}

static inline int64_t ng_ts(const kf_iface *i, uint64_t units)
{
    uint64_t tps = i->ts_per_sec;
    int64_t ns;
    if (tps == 1000000) ns = (int64_t)(units * 1000);
    else if (tps == 1000000000) ns = (int64_t)units;
    else if (tps == 0) ns = 0;
    else {
        unsigned __int128 sec = units / tps, rem = units % tps;
        ns = (int64_t)(sec * 1000000000u + rem * 1000000000u / tps);
    }
    /* unsigned arithmetic: a hostile if_tsoffset wraps instead of overflowing (UB) */
    return (int64_t)((uint64_t)ns + (uint64_t)i->tsoffset * 1000000000u);
}

typedef struct epb_ctx { kf_pkt *pkt; const uint8_t *comment; uint16_t clen; } epb_ctx;

static int epb_opt(kf_reader *r, void *ctx, uint16_t code, const uint8_t *v, uint16_t len)
{
    epb_ctx *e = ctx;
    switch (code) {
    case 1: if (!e->comment) { e->comment = v; e->clen = len; } break;
    case 2: if (len == 4) { e->pkt->flags = sw32(r, v); e->pkt->has_flags = 1; } break;
    case 4: if (len == 8) e->pkt->dropcount = sw64(r, v); break;
    }
    return 0;
}

static int set_comment(kf_reader *r, kf_pkt *pkt, const epb_ctx *e)
{
    if (!e->comment) return 0;
    if (e->clen + 1u > r->commentcap) {
        char *c = realloc(r->comment, e->clen + 1u);
        if (!c) return -1;
        r->comment = c; r->commentcap = e->clen + 1u;
    }
    memcpy(r->comment, e->comment, e->clen);
    r->comment[e->clen] = 0;
    pkt->comment = r->comment;
    return 0;
}

typedef struct isb_ctx { kf_isb *s; const kf_iface *i; } isb_ctx;
static int isb_opt(kf_reader *r, void *ctx, uint16_t code, const uint8_t *v, uint16_t len)
{
    kf_isb *s = ((isb_ctx *)ctx)->s;
    if (len != 8) return 0;
    uint64_t x = sw64(r, v);
    switch (code) {
    case 4: s->ifrecv = x; break;
    case 5: s->ifdrop = x; break;
    case 6: s->filteraccept = x; break;
    case 7: s->osdrop = x; break;
    case 8: s->usrdeliv = x; break;
    }
    return 0;
}

static int lookup_if(kf_reader *r, const ng_block *b, uint32_t local, const kf_iface **out)
{
    if (local >= r->nsecif) {
        set_err(r, b->off, "pcapng block names interface %u, but the section has %zu", local, r->nsecif);
        return -1;
    }
    *out = &r->ifs[r->secif[local]];
    return 0;
}

static int on_nrb(kf_reader *r, const ng_block *b)
{
    kf_cur c = kf_cur_make(b->body, b->bodylen);
    while (kf_cur_left(&c) >= 4) {
        const uint8_t *h = kf_cur_take(&c, 4);
        uint16_t type = sw16(r, h), len = sw16(r, h + 2);
        if (type == 0) break;   /* nrb_record_end; options follow (ignored) */
        const uint8_t *v = kf_cur_take(&c, len);
        kf_cur_skip(&c, (4 - (len & 3)) & 3);
        if (!v) { set_err(r, b->off, "pcapng name resolution record runs past the block"); return -1; }
        size_t alen = type == 1 ? 4 : type == 2 ? 16 : 0;
        if (!alen || len < alen) continue;   /* unknown record types are skipped */
        const uint8_t *n = v + alen, *end = v + len;
        while (n < end) {   /* one or more NUL-terminated names */
            const uint8_t *z = memchr(n, 0, (size_t)(end - n));
            size_t nl = z ? (size_t)(z - n) : (size_t)(end - n);
            if (nl) {
                kf_nrb_entry *ne = kf_grow(r->nrb, &r->capnrb, r->nnrb + 1, sizeof *r->nrb);
                if (!ne) { set_err(r, b->off, "out of memory"); return -1; }
                r->nrb = ne;
                kf_nrb_entry *e = &ne[r->nnrb];
                memset(e, 0, sizeof *e);
                e->family = alen == 4 ? 4 : 6;
                memcpy(e->addr, v, alen);
                e->name = dupn(n, nl);
                if (!e->name) { set_err(r, b->off, "out of memory"); return -1; }
                r->nnrb++;
            }
            n += nl + 1;
        }
    }
    return 0;
}

static int on_dsb(kf_reader *r, const ng_block *b)
{
    if (b->bodylen < 8) { set_err(r, b->off, "pcapng decryption secrets block too short"); return -1; }
    uint32_t type = sw32(r, b->body), len = sw32(r, b->body + 4);
    if (len > b->bodylen - 8) { set_err(r, b->off, "pcapng secrets length %u runs past the block", len); return -1; }
    kf_dsb *nd = kf_grow(r->dsb, &r->capdsb, r->ndsb + 1, sizeof *r->dsb);
    if (!nd) { set_err(r, b->off, "out of memory"); return -1; }
    r->dsb = nd;
    kf_dsb *d = &nd[r->ndsb];
    d->type = type; d->len = len;
    d->data = malloc(len ? len : 1);
    if (!d->data) { set_err(r, b->off, "out of memory"); return -1; }
    memcpy(d->data, b->body + 8, len);
    r->ndsb++;
    return 0;
}

static int on_isb(kf_reader *r, const ng_block *b)
{
    if (b->bodylen < 12) { set_err(r, b->off, "pcapng statistics block too short"); return -1; }
    const kf_iface *i;
    if (lookup_if(r, b, sw32(r, b->body), &i) < 0) return -1;
    kf_isb *ns = kf_grow(r->isb, &r->capisb, r->nisb + 1, sizeof *r->isb);
    if (!ns) { set_err(r, b->off, "out of memory"); return -1; }
    r->isb = ns;
    kf_isb *s = &ns[r->nisb];
    s->iface = i->id;
    s->ts_ns = ng_ts(i, (uint64_t)sw32(r, b->body + 4) << 32 | sw32(r, b->body + 8));
    s->ifrecv = s->ifdrop = s->filteraccept = s->osdrop = s->usrdeliv = UINT64_MAX;
    isb_ctx ctx = { s, i };
    if (walk_opts(r, b->body + 12, b->body + b->bodylen, isb_opt, &ctx) < 0) {
        set_err(r, b->off, "pcapng statistics option runs past the block");
        return -1;
    }
    r->nisb++;
    return 0;
}

/* EPB (6) and obsolete PB (2). */
static int on_epb(kf_reader *r, const ng_block *b, kf_pkt *pkt, int obsolete)
{
    const uint8_t *p = b->body;
    if (b->bodylen < 20) { set_err(r, b->off, "pcapng packet block too short"); return -1; }
    uint32_t local = obsolete ? sw16(r, p) : sw32(r, p);
    const kf_iface *i;
    if (lookup_if(r, b, local, &i) < 0) return -1;
    uint64_t units = (uint64_t)sw32(r, p + 4) << 32 | sw32(r, p + 8);
    uint32_t cap = sw32(r, p + 12), orig = sw32(r, p + 16);
    if (cap > b->bodylen - 20) {
        set_err(r, b->off, "pcapng packet of %u bytes runs past its block", cap);
        return -1;
    }
    memset(pkt, 0, sizeof *pkt);
    pkt->ts_ns = ng_ts(i, units);
    pkt->caplen = cap;
    pkt->origlen = orig;
    pkt->data = p + 20;
    pkt->iface = i->id;
    pkt->linktype = i->linktype;
    if (obsolete) pkt->dropcount = sw16(r, p + 2);
    size_t padded = ((size_t)cap + 3) & ~(size_t)3;
    if (padded > b->bodylen - 20) padded = b->bodylen - 20;
    const uint8_t *o = p + 20 + padded, *end = b->body + b->bodylen;
    if (o < end) {
        epb_ctx e = { pkt, NULL, 0 };
        if (walk_opts(r, o, end, epb_opt, &e) < 0) {
            set_err(r, b->off, "pcapng packet option runs past the block");
            return -1;
        }
        if (obsolete) pkt->has_flags = pkt->flags != 0 || pkt->has_flags;
        if (set_comment(r, pkt, &e) < 0) { set_err(r, b->off, "out of memory"); return -1; }
    }
    r->last_has_ts = 1;
    r->last_ts = pkt->ts_ns;
    return 1;
}

static int on_spb(kf_reader *r, const ng_block *b, kf_pkt *pkt)
{
    if (b->bodylen < 4) { set_err(r, b->off, "pcapng simple packet block too short"); return -1; }
    const kf_iface *i;
    if (lookup_if(r, b, 0, &i) < 0) return -1;
    uint32_t orig = sw32(r, b->body);
    uint32_t cap = orig;
    if (i->snaplen && cap > i->snaplen) cap = i->snaplen;
    if (cap > b->bodylen - 4) cap = (uint32_t)(b->bodylen - 4);
    memset(pkt, 0, sizeof *pkt);
    pkt->ts_ns = r->last_ts;   /* an SPB has no time: keep the previous packet's for ordering */
    pkt->caplen = cap;
    pkt->origlen = orig;
    pkt->data = b->body + 4;
    pkt->iface = i->id;
    pkt->linktype = i->linktype;
    r->last_has_ts = 0;
    return 1;
}

static int next_pcapng(kf_reader *r, kf_pkt *pkt)
{
    for (;;) {
        ng_block b;
        int rc = read_block(r, &b);
        if (rc == 2) {
            rc = read_shb(r);
            if (rc != 1) return rc;
            continue;
        }
        if (rc != 1) return rc;
        switch (b.type) {
        case NG_IDB: rc = on_idb(r, &b); break;
        case NG_EPB: rc = on_epb(r, &b, pkt, 0); break;
        case NG_PB: rc = on_epb(r, &b, pkt, 1); break;
        case NG_SPB: rc = on_spb(r, &b, pkt); break;
        case NG_NRB: rc = on_nrb(r, &b); break;
        case NG_ISB: rc = on_isb(r, &b); break;
        case NG_DSB: rc = on_dsb(r, &b); break;
        case 0x00000BADu: case 0x40000BADu: case 9u:
            /* custom blocks and systemd journal entries are not packets, but Wireshark shows
             * them as frames: count them so frame numbers match what an analyst sees there */
            r->frame++;
            rc = 0;
            break;
        default: rc = 0; break;   /* unknown blocks are skipped */
        }
        if (rc < 0) return -1;
        r->good_end = here(r);
        if (rc == 1) {
            prefetch_ahead(r);
            pkt->frame = ++r->frame;
            pkt->offset = b.off;
            return 1;
        }
    }
}

static int next_pcap(kf_reader *r, kf_pkt *pkt)
{
    uint64_t off = here(r);
    const uint8_t *h = need(r, 16);
    if (!h) {
        if (r->done < 0) return -1;
        size_t a = avail(r);
        if (a == 0) { r->done = 1; return 0; }
        return cut_short(r, off, 16, a);
    }
    uint32_t sec = sw32(r, h), frac = sw32(r, h + 4), cap = sw32(r, h + 8), orig = sw32(r, h + 12);
    if (cap > r->maxcap) {
        set_err(r, off, "pcap record of %u bytes is larger than the %u-byte limit", cap, r->maxcap);
        return -1;
    }
    h = need(r, 16 + (size_t)cap);
    if (!h) {
        if (r->done < 0) return -1;
        return cut_short(r, off, 16 + (size_t)cap, avail(r));
    }
    pkt->ts_ns = (int64_t)sec * 1000000000LL + (r->ns ? (int64_t)frac : (int64_t)frac * 1000);
    pkt->caplen = cap;
    pkt->origlen = orig;
    pkt->data = h + 16;
    pkt->iface = 0;
    pkt->linktype = r->linktype;
    pkt->flags = 0; pkt->has_flags = 0; pkt->dropcount = 0;
    pkt->comment = NULL;
    pkt->frame = ++r->frame;
    pkt->offset = off;
    r->pos += 16 + (size_t)cap;
    r->good_end = here(r);
    prefetch_ahead(r);
    return 1;
}

/* A pass over a mapped file would otherwise keep every page it touched resident (and counted in
 * the process's RSS) until close. Pages well behind the read position are given back: for a
 * read-only private file mapping MADV_DONTNEED only drops them from this process, and a later
 * touch reads them again from the page cache, so no pointer handed out becomes invalid. */
static void release_behind(kf_reader *r)
{
    if (!r->map || r->base != r->map || r->pos < r->released + KF_RELEASE_STEP + KF_RELEASE_KEEP) return;
    size_t upto = (r->pos - KF_RELEASE_KEEP) & ~(size_t)4095;
    madvise((uint8_t *)r->map + r->released, upto - r->released, MADV_DONTNEED);
    r->released = upto;
}

/* mmap mode: the page tables of the next KF_POPULATE_STEP bytes are filled in one call
 * (MADV_POPULATE_READ, Linux 5.14) before the reader gets there, instead of a page fault per
 * 64 KiB (the kernel's fault-around): those faults were 14 % of kdissect's CPU time on the bulk
 * capture of bench/dissect.sh. At most KF_POPULATE_STEP ahead of the reader is mapped, so what
 * the mapping adds to the RSS stays as bounded as release_behind keeps it. */
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#define KF_POPULATE_STEP (2u << 20)
static void populate_ahead(kf_reader *r)
{
    const uint8_t *map = r->map;
    if (!map || r->base != map || r->no_populate || r->pos + KF_POPULATE_STEP / 2 < r->populated || r->populated >= r->len) return;
    size_t from = r->populated > r->pos ? r->populated : r->pos & ~(size_t)4095;
    size_t to = (r->pos + KF_POPULATE_STEP) & ~(size_t)4095;
    if (to > r->len) to = r->len;
    if (to <= from) return;
    if (madvise((uint8_t *)map + from, to - from, MADV_POPULATE_READ) != 0 && (errno == EINVAL || errno == ENOSYS)) r->no_populate = 1;
    r->populated = to;
}

int kf_reader_next(kf_reader *r, kf_pkt *pkt)
{
    if (r->done) return r->done < 0 ? -1 : 0;
    release_behind(r);
    populate_ahead(r);
    if (r->fmt == KF_FMT_PCAP) return next_pcap(r, pkt);
    return next_pcapng(r, pkt);
}

/* ---------- accessors ---------- */

const char *kf_reader_error(const kf_reader *r) { return r->err; }
const char *kf_reader_warning(const kf_reader *r) { return r->warn; }
enum kf_format kf_reader_format(const kf_reader *r) { return r->fmt; }
int kf_reader_nanosecond(const kf_reader *r) { return r->ns; }
uint32_t kf_reader_snaplen(const kf_reader *r) { return r->snaplen; }
int kf_reader_linktype(const kf_reader *r) { return r->linktype; }
int kf_reader_last_has_ts(const kf_reader *r) { return r->last_has_ts; }

size_t kf_reader_iface_count(const kf_reader *r) { return r->nifs; }
const kf_iface *kf_reader_iface(const kf_reader *r, uint32_t id) { return id < r->nifs ? &r->ifs[id] : NULL; }
size_t kf_reader_section_count(const kf_reader *r) { return r->nsecs; }
const kf_section *kf_reader_section(const kf_reader *r, uint32_t i) { return i < r->nsecs ? &r->secs[i] : NULL; }
size_t kf_reader_nrb_count(const kf_reader *r) { return r->nnrb; }
const kf_nrb_entry *kf_reader_nrb(const kf_reader *r, size_t i) { return i < r->nnrb ? &r->nrb[i] : NULL; }
size_t kf_reader_dsb_count(const kf_reader *r) { return r->ndsb; }
const kf_dsb *kf_reader_dsb(const kf_reader *r, size_t i) { return i < r->ndsb ? &r->dsb[i] : NULL; }
size_t kf_reader_isb_count(const kf_reader *r) { return r->nisb; }
const kf_isb *kf_reader_isb(const kf_reader *r, size_t i) { return i < r->nisb ? &r->isb[i] : NULL; }

uint64_t kf_reader_pos(const kf_reader *r)
{
    if (r->gz) return r->src == SRC_MEM ? r->msrcpos : (uint64_t)(r->zs.total_in);
    return here(r);
}
uint64_t kf_reader_size(const kf_reader *r) { return r->rawsize; }
uint64_t kf_reader_good_end(const kf_reader *r) { return r->good_end; }
