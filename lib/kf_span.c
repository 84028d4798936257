/* kf_span — what time an input covers (see kf_span.h). */
#include "kf_span.h"
#include "kf_meta.h"
#include "kf_snap.h"
#include "kf_source.h"
#include "kf_store.h"
#include "kf_time.h"

#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

int kf_time_is_relative(const char *s)
{
    int64_t a, b;
    char err[256];
    if (kf_time_parse(s, 1000000000LL * 86400 * 400, &a, err, sizeof err) != 0) return 0;
    if (kf_time_parse(s, 1000000000LL * 86400 * 800, &b, err, sizeof err) != 0) return 0;
    return a != b;
}

static int64_t jtime(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    int64_t ns;
    if (!json_is_string(v) || kf_time_parse_rfc3339(json_string_value(v), json_string_length(v), &ns) != 0)
        return KF_T_MIN;
    return ns;
}

static void widen(kf_span *sp, int64_t first, int64_t last)
{
    if (first < sp->first) sp->first = first;
    if (last > sp->last) sp->last = last;
}

/* packets of one input, read through kf_source without a window */
static int read_range(const char *in, kf_span *sp, char *err, size_t errlen)
{
    const char *v[1] = { in };
    kf_source_opts so = { KF_T_MIN, KF_T_MAX, NULL, 0, 1 };
    kf_source *s = kf_source_open(v, 1, &so, err, errlen);
    if (!s) return -1;
    kf_src_pkt p;
    int rc;
    while ((rc = kf_source_next(s, &p)) == 1) widen(sp, p.pkt.ts_ns, p.pkt.ts_ns);
    while (kf_source_warning(s)) {}
    if (rc < 0) snprintf(err, errlen, "%s", kf_source_error(s));
    kf_source_close(s);
    return rc < 0 ? -1 : 0;
}

int kf_span_of(const char *const *inputs, size_t n, int want_range, kf_span *sp, char *err, size_t errlen)
{
    sp->now = KF_T_MIN;
    sp->first = KF_T_MAX;
    sp->last = KF_T_MIN;
    sp->live = 0;
    sp->known = 1;
    for (size_t i = 0; i < n; i++) {
        const char *in = inputs[i];
        struct stat st;
        if (!strcmp(in, "-")) { sp->known = 0; continue; }
        if (stat(in, &st) == 0 && S_ISDIR(st.st_mode)) {
            sp->live = 1;
            if (want_range && read_range(in, sp, err, errlen) != 0) return -1;
            continue;
        }
        if (kf_snap_detect(in) == 1) {
            json_t *m = kf_snap_read_manifest(in, err, errlen);
            if (!m) return -1;
            int64_t to = jtime(json_object_get(m, "window"), "to");
            const char *node;
            json_t *nd;
            json_object_foreach(json_object_get(m, "nodes"), node, nd) {
                int64_t f = jtime(nd, "first_packet"), l = jtime(nd, "last_packet");
                if (f != KF_T_MIN && l != KF_T_MIN) widen(sp, f, l);
                if (to == KF_T_MIN && l > sp->now) sp->now = l;
            }
            if (to > sp->now) sp->now = to;
            json_decref(m);
            continue;
        }
        int64_t before = sp->last;
        sp->last = KF_T_MIN;
        if (read_range(in, sp, err, errlen) != 0) return -1;
        if (sp->last > sp->now) sp->now = sp->last;
        if (before > sp->last) sp->last = before;
    }
    if (sp->live) sp->now = kf_now_ns();
    if (sp->now == KF_T_MIN) sp->now = kf_now_ns();   /* nothing to go by (empty files) */
    return 0;
}
