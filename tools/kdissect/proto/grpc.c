/* grpc.c — gRPC message framing over HTTP/2 DATA (see grpc.h). The HTTP/2 side (headers,
 * trailers with grpc-status and grpc-message) lives in http2.c. */
#include "grpc.h"
#include <stdlib.h>
#include <string.h>

long kd_grpc_feed(kd_grpc_dir *g, const uint8_t *p, size_t n, size_t keep)
{
    long alloc = 0;
    size_t i = 0;
    while (i < n && !g->bad) {
        if (!g->in_msg) {
            size_t take = 5 - (size_t)g->hdr_have;
            if (take > n - i) take = n - i;
            memcpy(g->hdr + g->hdr_have, p + i, take);
            g->hdr_have += (int)take;
            i += take;
            if (g->hdr_have < 5) break;
            if (g->hdr[0] > 1) { g->bad = 1; break; }
            g->msg_len = (uint32_t)g->hdr[1] << 24 | (uint32_t)g->hdr[2] << 16 | (uint32_t)g->hdr[3] << 8 | g->hdr[4];
            g->msg_have = 0;
            g->in_msg = 1;
            g->hdr_have = 0;
            if (g->hdr[0]) g->compressed++;
            if (!g->first_done && !g->first) {
                g->first_total = g->msg_len;
                g->first_compressed = g->hdr[0];
                size_t want = g->msg_len < keep ? g->msg_len : keep;
                g->first = malloc(want ? want : 1);
                if (g->first) alloc += (long)(want ? want : 1);
                g->first_len = 0;
            }
        }
        size_t take = g->msg_len - g->msg_have;
        if (take > n - i) take = n - i;
        if (!g->first_done && g->first) {
            size_t want = g->first_total < keep ? g->first_total : keep;
            size_t room = want - g->first_len;
            size_t c = take < room ? take : room;
            memcpy(g->first + g->first_len, p + i, c);
            g->first_len += c;
        }
        g->msg_have += (uint32_t)take;
        g->bytes += take;
        i += take;
        if (g->msg_have == g->msg_len) {
            g->in_msg = 0;
            g->messages++;
            if (g->first) g->first_done = 1;
        }
    }
    return alloc;
}

void kd_grpc_free(kd_grpc_dir *g)
{
    free(g->first);
    g->first = NULL;
}

void kd_grpc_split_path(const char *path, size_t len, const char **svc, size_t *svc_len,
                        const char **method, size_t *method_len)
{
    size_t q = 0;
    while (q < len && path[q] != '?') q++;
    len = q;
    size_t slash = len;
    while (slash > 0 && path[slash - 1] != '/') slash--;
    *method = path + slash;
    *method_len = len - slash;
    size_t s0 = len && path[0] == '/' ? 1 : 0;
    *svc = path + s0;
    *svc_len = slash > s0 + 1 ? slash - 1 - s0 : 0;
}
