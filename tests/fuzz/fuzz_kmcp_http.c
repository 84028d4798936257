/* Fuzz target: kmcp's HTTP/1.1 request reader and its JSON-RPC handling (tools/kmcp/http.c,
 * proto.c): any bytes on a connection, pipelined requests included. The tools are stubs (they
 * would run child processes); everything before them is the real code. No crash, no leak, no
 * hang: the connection ends when the input does. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include "../../tools/kmcp/http.c"
#include "../../tools/kmcp/proto.c"
#include "../../tools/common/kf_tool.c"

kmcp_cfg g_cfg;
void kmcp_log(const char *fmt, ...) { (void)fmt; }
json_t *kmcp_tools_list(void) { return json_pack("[{s:s, s:{s:s}}]", "name", "t", "inputSchema", "type", "object"); }
int kmcp_tool_call(kmcp_req *r, const char *name, json_t *args, kmcp_result *res)
{
    if (strcmp(name, "t")) return -1;
    kmcp_progress(r, 1, 2, "half");
    res->text = strdup("ok");
    res->structured = json_pack("{s:O}", "args", args);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2];
    if (size > 65536) return 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return 0;
    int big = 1 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (size && write(sv[0], data, size) != (ssize_t)size) { close(sv[0]); close(sv[1]); return 0; }
    shutdown(sv[0], SHUT_WR);
    /* answers beyond the buffers make the server's writes fail, not block */
    fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
    conn *c = calloc(1, sizeof *c);
    c->fd = sv[1];
    pthread_mutex_init(&c->mu, NULL);
    for (int i = 0; i < 64 && serve_one(c) == 0; i++) {}
    free(c->buf);
    json_decref(c->pending);
    pthread_mutex_destroy(&c->mu);
    free(c);
    close(sv[0]);
    close(sv[1]);
    /* sessions made by this input end with it */
    for (int i = 0; i < MAX_SESSIONS; i++) sessions[i].used = 0;
    return 0;
}
