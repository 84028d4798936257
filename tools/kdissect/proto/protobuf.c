/* protobuf.c — schema-less protobuf field dump (see protobuf.h).
 *   tag = varint (field_number << 3 | wire_type)
 *   0 VARINT  1 I64 (8 bytes LE)  2 LEN (varint length, bytes)  5 I32 (4 bytes LE)
 *   3/4 SGROUP/EGROUP are deprecated and treated as "not a message".
 * Hand-written: no protobuf library is on the build line and no schema is available. */
#include "protobuf.h"
#include "kf_cursor.h"

#define PB_MAX_DEPTH 4

static uint64_t pb_varint(kf_cur *c)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b = kf_u8(c);
        if (c->err) return 0;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    c->err = 1;
    return 0;
}

static int pb_valid_depth(const uint8_t *p, size_t n, int depth)
{
    if (depth > PB_MAX_DEPTH) return 0;
    kf_cur c = kf_cur_make(p, n);
    while (kf_cur_left(&c) > 0) {
        uint64_t tag = pb_varint(&c);
        uint64_t field = tag >> 3;
        if (c.err || field == 0 || field > 0x1fffffff) return 0;
        switch (tag & 7) {
        case 0: pb_varint(&c); break;
        case 1: kf_cur_skip(&c, 8); break;
        case 2: { uint64_t l = pb_varint(&c); if (l > kf_cur_left(&c)) return 0; kf_cur_skip(&c, (size_t)l); break; }
        case 5: kf_cur_skip(&c, 4); break;
        default: return 0;
        }
        if (c.err) return 0;
    }
    return 1;
}

int kd_pb_valid(const uint8_t *p, size_t n) { return pb_valid_depth(p, n, 0); }

/* Valid UTF-8 without control characters other than tab, CR, LF. */
static int pb_printable(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = p[i];
        if (b < 0x80) {
            if ((b < 0x20 && b != '\t' && b != '\n' && b != '\r') || b == 0x7f) return 0;
            i++;
            continue;
        }
        size_t k = (b & 0xe0) == 0xc0 ? 1 : (b & 0xf0) == 0xe0 ? 2 : (b & 0xf8) == 0xf0 ? 3 : 0;
        if (k == 0 || (k == 1 && b < 0xc2)) return 0;
        for (size_t j = 1; j <= k; j++) if (i + j >= n || (p[i + j] & 0xc0) != 0x80) return 0;
        i += k + 1;
    }
    return 1;
}

static void pb_dump_depth(kf_jw *w, const uint8_t *p, size_t n, int max_fields, int depth)
{
    kf_cur c = kf_cur_make(p, n);
    int count = 0;
    kf_jw_arr_begin(w);
    while (kf_cur_left(&c) > 0) {
        if (count++ >= max_fields) {
            kf_jw_obj_begin(w); kf_jw_kbool(w, "truncated", 1); kf_jw_obj_end(w);
            break;
        }
        uint64_t tag = pb_varint(&c);
        kf_jw_obj_begin(w);
        kf_jw_kuint(w, "field", tag >> 3);
        kf_jw_kint(w, "wire_type", (int64_t)(tag & 7));
        kf_jw_key(w, "value");
        switch (tag & 7) {
        case 0: kf_jw_uint(w, pb_varint(&c)); break;
        case 1: kf_jw_uint(w, kf_le64(&c)); break;
        case 5: kf_jw_uint(w, kf_le32(&c)); break;
        case 2: {
            uint64_t l = pb_varint(&c);
            const uint8_t *s = kf_cur_take(&c, (size_t)l);
            if (!s) { kf_jw_null(w); break; }
            if (pb_printable(s, (size_t)l)) kf_jw_strn(w, (const char *)s, (size_t)l);   /* "" too */
            else if (l > 0 && depth + 1 < PB_MAX_DEPTH && pb_valid_depth(s, (size_t)l, depth + 1))
                pb_dump_depth(w, s, (size_t)l, max_fields, depth + 1);
            else { kf_jw_obj_begin(w); kf_jw_key(w, "base64"); kf_jw_base64(w, s, (size_t)l); kf_jw_obj_end(w); }
            break;
        }
        default: kf_jw_null(w); break;
        }
        kf_jw_obj_end(w);
        if (c.err) break;
    }
    kf_jw_arr_end(w);
}

void kd_pb_dump(kf_jw *w, const uint8_t *p, size_t n, int max_fields)
{
    if (!kd_pb_valid(p, n)) { kf_jw_null(w); return; }
    pb_dump_depth(w, p, n, max_fields, 0);
}
