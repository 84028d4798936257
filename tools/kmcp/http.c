/* kmcp http: the Streamable HTTP transport (MCP 2025-03-26 and later) on one endpoint, /mcp.
 * POST carries one JSON-RPC message (or a batch); a request is answered with application/json,
 * or with a text/event-stream when it is a tools/call asking for progress (the notifications,
 * then the answer). GET (a server-initiated stream) is 405: kmcp sends nothing unasked. DELETE
 * ends a session. Sessions: Mcp-Session-Id from initialize. Safety: loopback unless
 * --allow-remote, a bearer token from a file, Origin checked against localhost (DNS rebinding).
 * Hand-written: none of the chosen libraries serves HTTP, and this needs very little of it
 * (one endpoint, Content-Length bodies, no TLS: put a proxy in front for that). */
#include "kmcp.h"
#include "kf_tool.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HEAD (64 * 1024)
#define MAX_BODY (4 * 1024 * 1024)
#define MAX_SESSIONS 64

static char *token;
static int loopback_only;        /* bound to loopback: a Host that names another host is refused */

typedef struct hsession {
    char id[33];
    kmcp_session s;
    int used;
} hsession;
static hsession sessions[MAX_SESSIONS];
static pthread_mutex_t smu = PTHREAD_MUTEX_INITIALIZER;

static void rand_hex(char *out, size_t nbytes)
{
    unsigned char b[32];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, b, nbytes) != (ssize_t)nbytes) {
        for (size_t i = 0; i < nbytes; i++) b[i] = (unsigned char)(rand() ^ (int)(i * 31));
    }
    if (fd >= 0) close(fd);
    for (size_t i = 0; i < nbytes; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

static hsession *session_new(void)
{
    pthread_mutex_lock(&smu);
    for (int i = 0; i < MAX_SESSIONS; i++) {
        if (sessions[i].used) continue;
        sessions[i].used = 1;
        rand_hex(sessions[i].id, 16);
        kmcp_session_init(&sessions[i].s);
        pthread_mutex_unlock(&smu);
        return &sessions[i];
    }
    pthread_mutex_unlock(&smu);
    return NULL;
}

static hsession *session_find(const char *id)
{
    if (!id) return NULL;
    pthread_mutex_lock(&smu);
    for (int i = 0; i < MAX_SESSIONS; i++)
        if (sessions[i].used && !strcmp(sessions[i].id, id)) { pthread_mutex_unlock(&smu); return &sessions[i]; }
    pthread_mutex_unlock(&smu);
    return NULL;
}

/* --- a connection */
typedef struct conn {
    int fd;
    char *buf;
    size_t n, cap;
    int sse;              /* the answer is an event stream (headers sent) */
    int want_sse;         /* the client accepts text/event-stream */
    json_t *pending;      /* JSON mode: the answer(s), sent when the request is done */
    int broken;
    const char *session_hdr;
    pthread_mutex_t mu;
} conn;

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static void respond(conn *c, int code, const char *reason, const char *ctype, const char *extra, const char *body, int keep)
{
    char head[1024];
    size_t bl = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n%s%s%sContent-Length: %zu\r\n%s%s\r\n", code, reason,
                     ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "", bl,
                     keep ? "" : "Connection: close\r\n", extra ? extra : "");
    if (write_all(c->fd, head, (size_t)n) < 0 || (bl && write_all(c->fd, body, bl) < 0)) c->broken = 1;
}

static void respond_error(conn *c, int code, const char *reason, int rpc_code, const char *msg, const char *extra)
{
    json_t *e = kmcp_error_msg(NULL, rpc_code, msg);
    char *s = json_dumps(e, JSON_COMPACT);
    json_decref(e);
    respond(c, code, reason, "application/json", extra, s, 1);
    free(s);
}

static void conn_send(void *sink, json_t *msg)
{
    conn *c = sink;
    pthread_mutex_lock(&c->mu);
    int is_progress = json_is_object(msg) && json_object_get(msg, "method");
    if (is_progress && !c->sse && c->want_sse) {   /* first notification: switch to an event stream */
        const char *h = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n";
        char extra[128] = "";
        if (c->session_hdr) snprintf(extra, sizeof extra, "Mcp-Session-Id: %s\r\n", c->session_hdr);
        if (write_all(c->fd, h, strlen(h)) < 0 || write_all(c->fd, extra, strlen(extra)) < 0 || write_all(c->fd, "\r\n", 2) < 0) c->broken = 1;
        c->sse = 1;
    }
    if (c->sse) {
        char *s = json_dumps(msg, JSON_COMPACT);
        if (s && !c->broken) {
            if (write_all(c->fd, "event: message\ndata: ", 21) < 0 || write_all(c->fd, s, strlen(s)) < 0 || write_all(c->fd, "\n\n", 2) < 0)
                c->broken = 1;
        }
        free(s);
        json_decref(msg);
    } else if (is_progress) {
        json_decref(msg);                 /* no channel for it */
    } else if (c->pending) {             /* a batch: its answers go out as one array */
        if (!json_is_array(c->pending)) {
            json_t *a = json_array();
            json_array_append_new(a, c->pending);
            c->pending = a;
        }
        if (json_is_array(msg)) json_array_extend(c->pending, msg), json_decref(msg);
        else json_array_append_new(c->pending, msg);
    } else {
        c->pending = msg;
    }
    pthread_mutex_unlock(&c->mu);
}

/* the peer closed the connection (POLLRDHUP: its FIN arrived) while we work on its request */
static int http_gone(void *sink)
{
    conn *c = sink;
    struct pollfd p = {.fd = c->fd, .events = POLLRDHUP};
    return c->broken || (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)));
}

static const char *hdr(char **names, char **vals, int n, const char *name)
{
    for (int i = 0; i < n; i++) if (!strcasecmp(names[i], name)) return vals[i];
    return NULL;
}

static int origin_ok(const char *o)
{
    if (!o) return 1;
    const char *p = strstr(o, "://");
    if (!p) return 0;
    p += 3;
    static const char *hosts[] = {"localhost", "127.0.0.1", "[::1]", NULL};
    for (int i = 0; hosts[i]; i++) {
        size_t l = strlen(hosts[i]);
        if (!strncasecmp(p, hosts[i], l) && (p[l] == 0 || p[l] == ':' || p[l] == '/')) return 1;
    }
    return 0;
}

static int has_request(json_t *m)
{
    if (json_is_array(m)) {
        size_t i;
        json_t *e;
        json_array_foreach(m, i, e) if (has_request(e)) return 1;
        return 0;
    }
    return json_is_object(m) && json_object_get(m, "method") && json_object_get(m, "id");
}

static int is_initialize(json_t *m)
{
    json_t *meth = json_object_get(m, "method");
    return json_is_string(meth) && !strcmp(json_string_value(meth), "initialize");
}

/* one HTTP request on c; 0 keep the connection, -1 close it */
static int serve_one(conn *c)
{
    char *e;
    /* read the head */
    while (!(e = c->n ? memmem(c->buf, c->n, "\r\n\r\n", 4) : NULL)) {
        if (c->n >= MAX_HEAD) { respond(c, 431, "Request Header Fields Too Large", NULL, NULL, NULL, 0); return -1; }
        if (c->cap - c->n < 4096) { c->cap = c->cap ? c->cap * 2 : 16384; c->buf = realloc(c->buf, c->cap); }
        ssize_t k = recv(c->fd, c->buf + c->n, c->cap - c->n - 1, 0);
        if (k <= 0) return -1;
        c->n += (size_t)k;
    }
    size_t hl = (size_t)(e - c->buf) + 4;
    c->buf[hl - 2] = 0;
    char *names[64], *vals[64], *line = c->buf, *save;
    int nh = 0;
    char *reqline = strtok_r(line, "\r\n", &save);
    for (char *h; nh < 64 && (h = strtok_r(NULL, "\r\n", &save));) {
        char *colon = strchr(h, ':');
        if (!colon) continue;
        *colon = 0;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        names[nh] = h;
        vals[nh++] = v;
    }
    char method[16] = "", target[512] = "";
    if (!reqline || sscanf(reqline, "%15s %511s", method, target) != 2) { respond(c, 400, "Bad Request", NULL, NULL, NULL, 0); return -1; }
    char *q = strchr(target, '?');
    if (q) *q = 0;
    const char *cl = hdr(names, vals, nh, "Content-Length");
    const char *te = hdr(names, vals, nh, "Transfer-Encoding");
    long long blen = cl ? strtoll(cl, NULL, 10) : 0;
    if (te) { respond(c, 411, "Length Required", NULL, NULL, NULL, 0); return -1; }
    if (blen < 0 || blen > MAX_BODY) { respond(c, 413, "Payload Too Large", NULL, NULL, NULL, 0); return -1; }
    char auth[512] = "", origin[256] = "", sid[80] = "", pver[32] = "", accept[256] = "", host[300] = "";
    const char *v;
    if ((v = hdr(names, vals, nh, "Authorization"))) snprintf(auth, sizeof auth, "%s", v);
    int has_origin = (v = hdr(names, vals, nh, "Origin")) != NULL;
    if (has_origin) snprintf(origin, sizeof origin, "%s", v);
    if ((v = hdr(names, vals, nh, "Mcp-Session-Id"))) snprintf(sid, sizeof sid, "%s", v);
    if ((v = hdr(names, vals, nh, "MCP-Protocol-Version"))) snprintf(pver, sizeof pver, "%s", v);
    if ((v = hdr(names, vals, nh, "Accept"))) snprintf(accept, sizeof accept, "%s", v);
    int has_host = (v = hdr(names, vals, nh, "Host")) != NULL;
    if (has_host) snprintf(host, sizeof host, "http://%s", v);
    /* the body (the buffer may move: header values were copied above) */
    while (c->n < hl + (size_t)blen) {
        if (c->cap < hl + (size_t)blen + 1) { c->cap = hl + (size_t)blen + 1; c->buf = realloc(c->buf, c->cap); }
        ssize_t k = recv(c->fd, c->buf + c->n, hl + (size_t)blen - c->n, 0);
        if (k <= 0) return -1;
        c->n += (size_t)k;
    }
    char *body = strndup(c->buf + hl, (size_t)blen);
    size_t used = hl + (size_t)blen;
    memmove(c->buf, c->buf + used, c->n - used);
    c->n -= used;
    int rc = 0;

    if (strcmp(target, "/mcp") && strcmp(target, "/")) { respond(c, 404, "Not Found", NULL, NULL, NULL, 1); goto done; }
    if (has_origin && !origin_ok(origin)) { respond_error(c, 403, "Forbidden", -32600, "Origin not allowed", NULL); goto done; }
    if (loopback_only && has_host && !origin_ok(host)) { respond_error(c, 403, "Forbidden", -32600, "Host not allowed", NULL); goto done; }
    if (token) {
        const char *b = strncasecmp(auth, "Bearer ", 7) ? NULL : auth + 7;
        if (!b || strcmp(b, token)) {
            respond_error(c, 401, "Unauthorized", -32001, "a bearer token is required",
                          "WWW-Authenticate: Bearer realm=\"kmcp\"\r\n");
            goto done;
        }
    }
    if (pver[0]) {
        int known = 0;
        for (int i = 0; kmcp_protocols[i]; i++) known |= !strcmp(pver, kmcp_protocols[i]);
        if (!known) { respond_error(c, 400, "Bad Request", -32600, "unsupported MCP-Protocol-Version", NULL); goto done; }
    }
    if (!strcmp(method, "GET")) { respond(c, 405, "Method Not Allowed", NULL, "Allow: POST, DELETE\r\n", NULL, 1); goto done; }
    if (!strcmp(method, "DELETE")) {
        hsession *h = session_find(sid);
        if (!h) { respond(c, 404, "Not Found", NULL, NULL, NULL, 1); goto done; }
        kmcp_session_close(&h->s);
        pthread_mutex_lock(&smu);
        h->used = 0;
        pthread_mutex_unlock(&smu);
        respond(c, 200, "OK", NULL, NULL, NULL, 1);
        goto done;
    }
    if (strcmp(method, "POST")) { respond(c, 405, "Method Not Allowed", NULL, "Allow: POST, DELETE\r\n", NULL, 1); goto done; }
    json_error_t je;
    json_t *m = json_loads(body, JSON_DECODE_ANY, &je);
    if (!m) {
        char msg[300];
        snprintf(msg, sizeof msg, "Parse error: %s", je.text);
        respond_error(c, 400, "Bad Request", -32700, msg, NULL);
        goto done;
    }
    hsession *h;
    char extra[128] = "";
    if (json_is_object(m) && is_initialize(m)) {
        h = session_new();
        if (!h) { json_decref(m); respond_error(c, 503, "Service Unavailable", -32603, "too many sessions", NULL); goto done; }
        snprintf(extra, sizeof extra, "Mcp-Session-Id: %s\r\n", h->id);
    } else {
        if (!sid[0]) { json_decref(m); respond_error(c, 400, "Bad Request", -32600, "Mcp-Session-Id header required (initialize first)", NULL); goto done; }
        h = session_find(sid);
        if (!h) { json_decref(m); respond_error(c, 404, "Not Found", -32600, "unknown or ended session", NULL); goto done; }
    }
    c->want_sse = strstr(accept, "text/event-stream") != NULL;
    c->sse = 0;
    c->pending = NULL;
    c->session_hdr = NULL;
    if (!has_request(m)) {
        kmcp_handle(&h->s, m, conn_send, c, 0);
        json_decref(c->pending);        /* e.g. an error answer to a bad notification */
        c->pending = NULL;
        respond(c, 202, "Accepted", NULL, NULL, NULL, 1);
        json_decref(m);
        goto done;
    }
    c->session_hdr = h->id;
    kmcp_handle(&h->s, m, conn_send, c, 0);
    json_decref(m);
    if (c->sse) { rc = -1; goto done; }   /* the stream ends with the connection */
    if (c->pending) {
        char *s = json_dumps(c->pending, JSON_COMPACT);
        respond(c, 200, "OK", "application/json", extra, s, 1);
        free(s);
        json_decref(c->pending);
        c->pending = NULL;
    } else {
        respond(c, 202, "Accepted", NULL, extra, NULL, 1);
    }
done:
    free(body);
    return c->broken ? -1 : rc;
}

static void *conn_thread(void *arg)
{
    conn *c = arg;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    while (serve_one(c) == 0) {}
    close(c->fd);
    free(c->buf);
    pthread_mutex_destroy(&c->mu);
    free(c);
    return NULL;
}

int kmcp_serve_http(const char *addr, const char *token_file, int allow_remote)
{
    char host[256] = "127.0.0.1", port[32];
    const char *colon = strrchr(addr, ':');
    if (!colon) snprintf(port, sizeof port, "%s", addr);
    else {
        if (colon > addr) {
            size_t l = (size_t)(colon - addr);
            if (addr[0] == '[' && colon[-1] == ']') { addr++; l -= 2; }
            snprintf(host, sizeof host, "%.*s", (int)l, addr);
        }
        snprintf(port, sizeof port, "%s", colon + 1);
    }
    kmcp_client_gone = http_gone;
    if (token_file) {
        FILE *f = fopen(token_file, "r");
        if (!f) kf_die(KF_EXIT_ERR, "%s: %s", token_file, strerror(errno));
        char *l = NULL;
        size_t cap = 0;
        ssize_t n = getline(&l, &cap, f);
        fclose(f);
        while (n > 0 && isspace((unsigned char)l[n - 1])) l[--n] = 0;
        if (n < 16) kf_die(KF_EXIT_ERR, "%s: the token must be at least 16 characters on the first line", token_file);
        token = l;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV}, *ai;
    int gr = getaddrinfo(host, port, &hints, &ai);
    if (gr) kf_die(KF_EXIT_ERR, "--http %s: %s (give IP:PORT)", addr, gai_strerror(gr));
    int loop = 0;
    if (ai->ai_family == AF_INET) loop = (ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr) >> 24) == 127;
    else if (ai->ai_family == AF_INET6) loop = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
    if (!loop && !allow_remote) kf_die(KF_EXIT_ERR, "--http %s: not a loopback address (add --allow-remote and --token-file to serve others)", addr);
    if (!loop && !token) kf_die(KF_EXIT_ERR, "--http %s: serving beyond loopback needs --token-file", addr);
    loopback_only = loop;
    int s = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s < 0 || bind(s, ai->ai_addr, ai->ai_addrlen) < 0 || listen(s, 64) < 0)
        kf_die(KF_EXIT_IO, "--http %s: %s", addr, strerror(errno));
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(s, (struct sockaddr *)&ss, &sl);
    char hb[64];
    int p = 0;
    if (ss.ss_family == AF_INET) { inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, hb, sizeof hb); p = ntohs(((struct sockaddr_in *)&ss)->sin_port); }
    else { inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, hb, sizeof hb); p = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port); }
    /* the one line a script waits for (port 0 picks a free port) */
    fprintf(stderr, "kmcp: listening on http://%s%s%s:%d/mcp\n", ss.ss_family == AF_INET6 ? "[" : "", hb, ss.ss_family == AF_INET6 ? "]" : "", p);
    fflush(stderr);
    for (;;) {
        int fd = accept4(s, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) { if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) continue; return KF_EXIT_IO; }
        conn *c = calloc(1, sizeof *c);
        if (!c) { close(fd); continue; }
        c->fd = fd;
        pthread_mutex_init(&c->mu, NULL);
        pthread_t t;
        if (pthread_create(&t, NULL, conn_thread, c) != 0) { close(fd); free(c); continue; }
        pthread_detach(t);
    }
}
