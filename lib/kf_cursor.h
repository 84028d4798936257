/* kf_cursor — bounds-checked reads over a byte buffer.
 * A cursor {p, end, err}: every getter checks the bytes are there; on a short read it sets err
 * (sticky), returns 0 and never moves past end. Check err once after a group of reads. */
#ifndef KF_CURSOR_H
#define KF_CURSOR_H
#include <stdint.h>
#include <stddef.h>
#include <string.h>

typedef struct kf_cur {
    const uint8_t *p, *end;
    int err;
} kf_cur;

static inline kf_cur kf_cur_make(const void *p, size_t n) {
    kf_cur c = { (const uint8_t *)p, (const uint8_t *)p + n, 0 };
    return c;
}
static inline size_t kf_cur_left(const kf_cur *c) { return c->err ? 0 : (size_t)(c->end - c->p); }
static inline int kf_cur_need(kf_cur *c, size_t n) {
    if (c->err || (size_t)(c->end - c->p) < n) { c->err = 1; return 0; }
    return 1;
}
static inline void kf_cur_skip(kf_cur *c, size_t n) { if (kf_cur_need(c, n)) c->p += n; }
/* Returns a pointer to n bytes and advances, or NULL (err set). */
static inline const uint8_t *kf_cur_take(kf_cur *c, size_t n) {
    if (!kf_cur_need(c, n)) return NULL;
    const uint8_t *r = c->p; c->p += n; return r;
}
/* A sub-cursor over the next n bytes (narrowing); the parent advances past them. */
static inline kf_cur kf_cur_sub(kf_cur *c, size_t n) {
    const uint8_t *p = kf_cur_take(c, n);
    kf_cur s = { p, p ? p + n : NULL, p ? 0 : 1 };
    return s;
}
static inline uint8_t kf_u8(kf_cur *c) { return kf_cur_need(c, 1) ? *c->p++ : 0; }
static inline uint16_t kf_be16(kf_cur *c) {
    if (!kf_cur_need(c, 2)) return 0;
    uint16_t v = (uint16_t)(c->p[0] << 8 | c->p[1]); c->p += 2; return v;
}
static inline uint32_t kf_be24(kf_cur *c) {
    if (!kf_cur_need(c, 3)) return 0;
    uint32_t v = (uint32_t)c->p[0] << 16 | (uint32_t)c->p[1] << 8 | c->p[2]; c->p += 3; return v;
}
static inline uint32_t kf_be32(kf_cur *c) {
    if (!kf_cur_need(c, 4)) return 0;
    uint32_t v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 | (uint32_t)c->p[2] << 8 | c->p[3];
    c->p += 4; return v;
}
static inline uint64_t kf_be64(kf_cur *c) { uint64_t h = kf_be32(c); return h << 32 | kf_be32(c); }
static inline uint16_t kf_le16(kf_cur *c) {
    if (!kf_cur_need(c, 2)) return 0;
    uint16_t v = (uint16_t)(c->p[1] << 8 | c->p[0]); c->p += 2; return v;
}
static inline uint32_t kf_le32(kf_cur *c) {
    if (!kf_cur_need(c, 4)) return 0;
    uint32_t v = (uint32_t)c->p[3] << 24 | (uint32_t)c->p[2] << 16 | (uint32_t)c->p[1] << 8 | c->p[0];
    c->p += 4; return v;
}
static inline uint64_t kf_le64(kf_cur *c) { uint64_t l = kf_le32(c); return (uint64_t)kf_le32(c) << 32 | l; }

/* Unchecked loads for callers that already checked the length. */
static inline uint16_t kf_ld_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t kf_ld_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
#endif
