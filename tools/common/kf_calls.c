/* kf_calls.c — see kf_calls.h. Rows have fixed widths so they stream (a terminal sees each call
 * as it comes); jansson parses each line (a terminal reads far slower than that). */
#include "kf_calls.h"
#include "kf_lines.h"
#include "kf_time.h"
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *js(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : "";
}
static long long ji(json_t *o, const char *k, long long d)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (long long)json_integer_value(v) : d;
}
static int jb(json_t *o, const char *k) { return json_is_true(json_object_get(o, k)); }

/* a cell: at most w display characters (UTF-8), control characters as spaces, padded */
static void cell(FILE *f, const char *s, int w, int right)
{
    char buf[512];
    size_t o = 0, chars = 0, n = strlen(s);
    int cut = 0;
    for (size_t i = 0; i < n && o + 4 < sizeof buf; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) != 0x80) {
            if ((int)chars == w - 1 && i + 1 < n) {
                size_t rest = 0;                 /* more than one character left: cut */
                for (size_t k = i; k < n; k++) rest += ((unsigned char)s[k] & 0xC0) != 0x80;
                if (rest > 1) { cut = 1; break; }
            }
            chars++;
        }
        buf[o++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    buf[o] = 0;
    int pad = w - (int)chars - cut;
    if (right) for (int i = 0; i < pad; i++) fputc(' ', f);
    fputs(buf, f);
    if (cut) fputs("…", f);
    if (!right) for (int i = 0; i < pad; i++) fputc(' ', f);
}

static void side(json_t *r, const char *k, char *b, size_t n)
{
    json_t *e = json_object_get(r, k);
    const char *ns = js(e, "namespace"), *name = js(e, "name"), *dns = js(e, "dns"), *ip = js(e, "ip");
    long long port = ji(e, "port", 0);
    if (*name) snprintf(b, n, "%s%s%s", ns, *ns ? "/" : "", name);
    else if (*dns) snprintf(b, n, "%s:%lld", dns, port);
    else snprintf(b, n, strchr(ip, ':') ? "[%s]:%lld" : "%s:%lld", ip, port);
}

static const int W_PROTO = 10, W_SIDE = 30, W_REQ = 48, W_STATUS = 12, W_LAT = 10;
static int w_time;

/* The widest time of the local zone: a call's local and UTC dates differ part of the day (the
 * UTC date is then shown too), and the zone's name may change with the season. Taken from the
 * times of every half hour of a day now and half a year on; before, from the time now only,
 * so the column was 11 characters wider at the hours the two dates differ than at the
 * others (between 18:30 and 24:00 UTC in India), and a longer row did not fit. */
static int time_width(void)
{
    if (!w_time) {
        char b[96];
        int64_t now = kf_now_ns();
        for (int k = 0; k < 96; k++) {
            int64_t t = now + (k >= 48 ? (int64_t)182 * 86400 * KF_NS_PER_SEC : 0) + (int64_t)(k % 48) * 1800 * KF_NS_PER_SEC;
            int w = 0;
            for (const char *p = kf_time_human(t, 0, 3, b, sizeof b); *p; p++) w += ((unsigned char)*p & 0xC0) != 0x80;
            if (w > w_time) w_time = w;
        }
    }
    return w_time;
}

void kf_calls_header(FILE *out)
{
    cell(out, "TIME", time_width(), 0); fputs("  ", out);
    cell(out, "PROTOCOL", W_PROTO, 0); fputs("  ", out);
    cell(out, "SOURCE", W_SIDE, 0); fputs("   ", out);
    cell(out, "DESTINATION", W_SIDE, 0); fputs("  ", out);
    cell(out, "REQUEST", W_REQ, 0); fputs("  ", out);
    cell(out, "STATUS", W_STATUS, 0); fputs("  ", out);
    cell(out, "LATENCY", W_LAT, 1); fputc('\n', out);
}

static void request(json_t *r, const char *p, char *b, size_t n)
{
    if (jb(r, "flow")) { snprintf(b, n, "flow %s, %lld connections", js(r, "flow_state"), ji(r, "flow_conns", 0)); return; }
    if (jb(r, "conn")) { snprintf(b, n, "connection %s", js(r, "conn_state")); return; }
    if (!strcmp(p, "HTTP") || !strcmp(p, "HTTP2")) { snprintf(b, n, "%s %s", js(r, "method"), *js(r, "url") ? js(r, "url") : js(r, "path")); return; }
    if (!strcmp(p, "GRPC")) { snprintf(b, n, "%s", js(r, "path")); return; }
    if (!strcmp(p, "DNS")) {
        json_t *q = json_object_get(r, "dns_questions"), *t = json_object_get(r, "dns_question_types");
        snprintf(b, n, "%s %s", json_is_string(json_array_get(t, 0)) ? json_string_value(json_array_get(t, 0)) : "",
                 json_is_string(json_array_get(q, 0)) ? json_string_value(json_array_get(q, 0)) : "");
        return;
    }
    if (!strcmp(p, "REDIS")) { snprintf(b, n, "%s", js(r, "redis_command")); return; }
    if (!strcmp(p, "KAFKA")) { snprintf(b, n, "%s %s", js(r, "kafka_api_key_name"), js(r, "kafka_request_summary")); return; }
    if (!strcmp(p, "AMQP")) { snprintf(b, n, "%s %s", js(r, "amqp_method"), js(r, "amqp_summary")); return; }
    if (!strcmp(p, "POSTGRESQL")) { snprintf(b, n, "%s", *js(r, "postgresql_query") ? js(r, "postgresql_query") : js(r, "postgresql_command")); return; }
    if (!strcmp(p, "MYSQL")) { snprintf(b, n, "%s", *js(r, "mysql_query") ? js(r, "mysql_query") : js(r, "mysql_command")); return; }
    if (!strcmp(p, "MONGODB")) { snprintf(b, n, "%s %s", js(r, "mongodb_command"), js(r, "mongodb_collection")); return; }
    if (!strcmp(p, "TLS")) { snprintf(b, n, "%s", *js(r, "tlsx_summary") ? js(r, "tlsx_summary") : js(r, "tlsx_sni")); return; }
    if (!strcmp(p, "WS")) { snprintf(b, n, "%s %lld bytes", js(r, "ws_opcode"), ji(r, "ws_request_payload_length", ji(r, "ws_response_payload_length", 0))); return; }
    if (!strcmp(p, "ICMP")) { snprintf(b, n, "%s", js(r, "icmp_summary")); return; }
    /* another protocol: its <protocol>_summary when it has one */
    char k[64];
    size_t i;
    for (i = 0; p[i] && i + 9 < sizeof k; i++) k[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
    memcpy(k + i, "_summary", 9);
    snprintf(b, n, "%s", js(r, k));
}

static void status(json_t *r, const char *p, char *b, size_t n)
{
    *b = 0;
    if (jb(r, "unanswered")) { snprintf(b, n, "no reply"); return; }
    if (jb(r, "conn") || jb(r, "flow")) { snprintf(b, n, "%s", js(r, "tcp_error_type")); return; }
    if (!strcmp(p, "HTTP") || !strcmp(p, "HTTP2")) { snprintf(b, n, "%lld", ji(r, "status_code", 0)); return; }
    if (!strcmp(p, "GRPC")) {
        long long g = ji(r, "grpc_status", 0), h = ji(r, "status_code", 0);
        if (h && h != 200) snprintf(b, n, "%lld grpc %lld", h, g);
        else snprintf(b, n, "grpc %lld", g);
        return;
    }
    if (!strcmp(p, "DNS")) { snprintf(b, n, "%s", js(r, "dns_rcode")); return; }
    if (!strcmp(p, "REDIS")) { snprintf(b, n, "%s", jb(r, "redis_error") ? "ERR" : "OK"); return; }
    if (!strcmp(p, "KAFKA") && ji(r, "kafka_error_code", 0)) { snprintf(b, n, "%s", js(r, "kafka_error")); return; }
    if (!strcmp(p, "AMQP") && ji(r, "amqp_reply_code", 0)) { snprintf(b, n, "%lld", ji(r, "amqp_reply_code", 0)); return; }
    if (!strcmp(p, "POSTGRESQL")) { snprintf(b, n, "%s", *js(r, "postgresql_error_code") ? js(r, "postgresql_error_code") : "OK"); return; }
    if (!strcmp(p, "MYSQL")) { if (ji(r, "mysql_error_code", 0)) snprintf(b, n, "%lld", ji(r, "mysql_error_code", 0)); else snprintf(b, n, "OK"); return; }
    if (!strcmp(p, "MONGODB")) { snprintf(b, n, "%s", *js(r, "mongodb_error_name") ? js(r, "mongodb_error_name") : "OK"); return; }
}

void kf_calls_row(const char *line, size_t n, FILE *out)
{
    json_error_t e;
    json_t *r = json_loadb(line, n, 0, &e);
    if (!json_is_object(r)) { fwrite(line, 1, n, out); fputc('\n', out); json_decref(r); return; }
    char t[96] = "", a[256], b[256], req[1024], st[128], lat[48] = "";
    int64_t ns;
    const char *ts = js(r, "timestamp"), *p = js(r, "protocol");
    if (kf_time_parse_rfc3339(ts, strlen(ts), &ns) == 0) kf_time_human(ns, 0, 3, t, sizeof t);
    else snprintf(t, sizeof t, "%s", ts);
    side(r, "src", a, sizeof a);
    side(r, "dst", b, sizeof b);
    request(r, p, req, sizeof req);
    status(r, p, st, sizeof st);
    json_t *el = json_object_get(r, "elapsed_time");
    if (json_is_integer(el) && !jb(r, "unanswered")) kf_duration_human((int64_t)json_integer_value(el) * 1000, lat, sizeof lat);
    cell(out, t, time_width(), 0); fputs("  ", out);
    cell(out, p, W_PROTO, 0); fputs("  ", out);
    cell(out, a, W_SIDE, 0); fputs(" → ", out);
    cell(out, b, W_SIDE, 0); fputs("  ", out);
    cell(out, req, W_REQ, 0); fputs("  ", out);
    cell(out, st, W_STATUS, 0); fputs("  ", out);
    cell(out, lat, W_LAT, 1); fputc('\n', out);
    json_decref(r);
}

/* ---- the formatter process ---- */
static pid_t kc_child = -1;

static int kc_line(void *ctx, const char *name, const char *line, size_t n, long long lineno)
{
    (void)name; (void)lineno;
    int *rows = ctx;
    if ((*rows)++ == 0) kf_calls_header(stdout);     /* no header above an error alone */
    kf_calls_row(line, n, stdout);
    return 0;
}

static void kc_end(void)
{
    if (kc_child <= 0) return;
    fflush(stdout);
    close(STDOUT_FILENO);
    int st;
    while (waitpid(kc_child, &st, 0) < 0 && errno == EINTR) ;
    kc_child = -1;
}

int kf_calls_tty_begin(void)
{
    if (!isatty(STDOUT_FILENO)) return 0;
    int pfd[2];
    if (pipe(pfd)) return 0;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) { close(pfd[0]); close(pfd[1]); return 0; }
    if (pid == 0) {
        close(pfd[1]);
        if (dup2(pfd[0], STDIN_FILENO) < 0) _exit(1);
        close(pfd[0]);
        signal(SIGINT, SIG_IGN);        /* Ctrl-C stops the tool; the table shows what it wrote */
        setvbuf(stdout, NULL, _IOLBF, 0);
        int rows = 0;
        kf_lines_read("-", kc_line, &rows);
        fflush(stdout);
        _exit(0);
    }
    close(pfd[0]);
    if (dup2(pfd[1], STDOUT_FILENO) < 0) { close(pfd[1]); return 0; }
    close(pfd[1]);
    kc_child = pid;
    atexit(kc_end);
    return 1;
}
