/* kmcp proto: JSON-RPC 2.0 and the MCP lifecycle (initialize, ping, tools/list, tools/call,
 * notifications/cancelled, progress), the same for both transports.
 * Protocol revisions: 2025-11-25 (current), 2025-06-18, 2025-03-26, 2024-11-05. Revisions before
 * 2025-06-18 have no structuredContent: their text content carries the JSON as well. */
#include "kmcp.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const kmcp_protocols[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", NULL};

static const char *instructions =
    "Offline network forensics for Kubernetes over a capture store and a folder of snapshots. "
    "Workflow: get_data_boundaries -> create_snapshot (incident window with a buffer) or "
    "list_snapshots -> start_snapshot_dissection -> get_snapshot_dissection_status until "
    "completed -> get_api_stats / get_service_map -> list_api_calls with a KFL filter -> "
    "get_api_call -> export_snapshot_pcap. Timestamps are RFC 3339 UTC; show people local "
    "time with UTC in parentheses. KFL field names: status_code, elapsed_time (microseconds), "
    "src.pod.namespace, dst.service.name, path, method, dns_rcode, grpc_status.";

json_t *kmcp_error_msg(json_t *id, int code, const char *message)
{
    return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                     "error", "code", code, "message", message);
}

static json_t *result_msg(json_t *id, json_t *result)
{
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

int (*kmcp_client_gone)(void *sink);

int kmcp_req_cancelled(kmcp_req *r)
{
    if (!r) return 0;
    if (!r->cancelled && kmcp_client_gone && kmcp_client_gone(r->sink)) r->cancelled = 1;
    return r->cancelled;
}

void kmcp_session_init(kmcp_session *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    snprintf(s->protocol, sizeof s->protocol, "%s", kmcp_protocols[0]);
}

void kmcp_progress(kmcp_req *r, double progress, double total, const char *message)
{
    if (!r || !r->progress_token || r->cancelled) return;
    if (progress <= r->last_progress) return;
    r->last_progress = progress;
    json_t *p = json_pack("{s:O, s:f}", "progressToken", r->progress_token, "progress", progress);
    if (total > 0) json_object_set_new(p, "total", json_real(total));
    if (message && strcmp(r->protocol, "2025-03-26") >= 0) json_object_set_new(p, "message", json_string(message));
    json_t *n = json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", "notifications/progress", "params", p);
    r->send(r->sink, n);
}

static int is_valid_id(json_t *id)
{
    return id && (json_is_string(id) || json_is_integer(id));
}

/* --- tools/call, possibly in a thread */
typedef struct call_job {
    kmcp_session *s;
    kmcp_req req;
    char *name;
    json_t *args;
    char protocol[16];
} call_job;

static json_t *render_result(kmcp_result *res, const char *protocol)
{
    json_t *content = json_array();
    int structured = strcmp(protocol, "2025-06-18") >= 0;
    char *text = res->text ? res->text : strdup("");
    if (!structured && res->structured && !res->is_error) {
        char *js = json_dumps(res->structured, JSON_COMPACT);
        char *t = NULL;
        if (js && asprintf(&t, "%s\n%s", text, js) >= 0) { free(text); text = t; }
        free(js);
    }
    json_array_append_new(content, json_pack("{s:s, s:s}", "type", "text", "text", text));
    free(text);
    res->text = NULL;
    json_t *out = json_pack("{s:o, s:b}", "content", content, "isError", res->is_error);
    if (structured && res->structured) json_object_set_new(out, "structuredContent", res->structured);
    else json_decref(res->structured);
    res->structured = NULL;
    return out;
}

static void *call_run(void *arg)
{
    call_job *j = arg;
    kmcp_result res = {0};
    json_t *reply;
    int rc = kmcp_tool_call(&j->req, j->name, j->args, &res);
    if (rc < 0) {
        char m[256];
        snprintf(m, sizeof m, "Unknown tool: %.200s", j->name);
        reply = kmcp_error_msg(j->req.id, -32602, m);
        json_decref(res.structured);
        free(res.text);
    } else {
        reply = result_msg(j->req.id, render_result(&res, j->protocol));
    }
    /* a cancelled request gets no answer (the spec: the receiver should not respond) */
    kmcp_session *s = j->s;
    pthread_mutex_lock(&s->mu);
    for (kmcp_req **pp = &s->inflight; *pp; pp = &(*pp)->next)
        if (*pp == &j->req) { *pp = j->req.next; break; }
    int cancelled = j->req.cancelled;
    pthread_mutex_unlock(&s->mu);
    if (!cancelled) j->req.send(j->req.sink, reply);
    else json_decref(reply);
    json_decref(j->req.id);
    json_decref(j->req.progress_token);
    json_decref(j->args);
    free(j->name);
    free(j);
    pthread_mutex_lock(&s->mu);
    s->workers--;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static json_t *initialize(kmcp_session *s, json_t *params, json_t *id)
{
    const char *want = NULL;
    json_t *pv = json_object_get(params, "protocolVersion");
    if (!json_is_string(pv)) return kmcp_error_msg(id, -32602, "initialize: protocolVersion (a string) is required");
    want = json_string_value(pv);
    const char *use = kmcp_protocols[0];
    for (int i = 0; kmcp_protocols[i]; i++)
        if (!strcmp(kmcp_protocols[i], want)) use = kmcp_protocols[i];
    pthread_mutex_lock(&s->mu);
    snprintf(s->protocol, sizeof s->protocol, "%s", use);
    s->initialized = 1;
    pthread_mutex_unlock(&s->mu);
    json_t *info = json_pack("{s:s, s:s, s:s}", "name", KMCP_NAME, "title", "kforensics (kmcp)", "version", "0.1.0");
    json_t *res = json_pack("{s:s, s:{s:{s:b}}, s:o, s:s}", "protocolVersion", use,
                            "capabilities", "tools", "listChanged", 0, "serverInfo", info,
                            "instructions", instructions);
    return result_msg(id, res);
}

static void cancel_request(kmcp_session *s, json_t *rid)
{
    if (!is_valid_id(rid)) return;
    pthread_mutex_lock(&s->mu);
    for (kmcp_req *r = s->inflight; r; r = r->next)
        if (json_equal(r->id, rid)) r->cancelled = 1;
    pthread_mutex_unlock(&s->mu);
}

/* one message; returns the reply (or NULL: none now) */
static json_t *handle_one(kmcp_session *s, json_t *m, kmcp_send_fn send, void *sink, int threaded, int *had_request)
{
    if (!json_is_object(m)) return kmcp_error_msg(NULL, -32600, "Invalid Request: not a JSON-RPC object");
    json_t *ver = json_object_get(m, "jsonrpc");
    json_t *method = json_object_get(m, "method");
    json_t *id = json_object_get(m, "id");
    json_t *params = json_object_get(m, "params");
    if (!method && (json_object_get(m, "result") || json_object_get(m, "error"))) return NULL;   /* a response to us: none expected */
    if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0") || !json_is_string(method) ||
        (id && !is_valid_id(id)) || (params && !json_is_object(params) && !json_is_array(params))) {
        if (had_request) *had_request = 1;
        return kmcp_error_msg(is_valid_id(id) ? id : NULL, -32600, "Invalid Request: needs jsonrpc \"2.0\", a method string, an id string or integer and params object");
    }
    const char *meth = json_string_value(method);
    if (!id) {  /* notification: never answered */
        if (!strcmp(meth, "notifications/cancelled"))
            cancel_request(s, json_object_get(params, "requestId"));
        return NULL;
    }
    if (had_request) *had_request = 1;
    if (!strcmp(meth, "initialize")) return initialize(s, params, id);
    if (!strcmp(meth, "ping")) return result_msg(id, json_object());
    if (!strcmp(meth, "tools/list")) {
        json_t *c = json_object_get(params, "cursor");
        if (c && !json_is_null(c) && (!json_is_string(c) || *json_string_value(c)))
            return kmcp_error_msg(id, -32602, "tools/list: unknown cursor (the list has one page)");
        return result_msg(id, json_pack("{s:o}", "tools", kmcp_tools_list()));
    }
    if (!strcmp(meth, "resources/list")) return result_msg(id, json_pack("{s:[]}", "resources"));
    if (!strcmp(meth, "prompts/list")) return result_msg(id, json_pack("{s:[]}", "prompts"));
    if (!strcmp(meth, "logging/setLevel")) return result_msg(id, json_object());
    if (!strcmp(meth, "tools/call")) {
        json_t *name = json_object_get(params, "name"), *args = json_object_get(params, "arguments");
        if (!json_is_string(name)) return kmcp_error_msg(id, -32602, "tools/call: params.name (a string) is required");
        if (args && !json_is_object(args) && !json_is_null(args))
            return kmcp_error_msg(id, -32602, "tools/call: params.arguments must be an object");
        call_job *j = calloc(1, sizeof *j);
        if (!j) return kmcp_error_msg(id, -32603, "out of memory");
        j->s = s;
        j->name = strdup(json_string_value(name));
        j->args = json_is_object(args) ? json_incref(args) : json_object();
        j->req.id = json_incref(id);
        json_t *tok = json_object_get(json_object_get(params, "_meta"), "progressToken");
        if (tok && (json_is_string(tok) || json_is_integer(tok))) j->req.progress_token = json_incref(tok);
        j->req.send = send;
        j->req.sink = sink;
        pthread_mutex_lock(&s->mu);
        snprintf(j->protocol, sizeof j->protocol, "%s", s->protocol);
        j->req.protocol = j->protocol;
        j->req.next = s->inflight;
        s->inflight = &j->req;
        s->workers++;
        pthread_mutex_unlock(&s->mu);
        if (threaded) {
            pthread_t t;
            pthread_attr_t at;
            pthread_attr_init(&at);
            pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
            if (pthread_create(&t, &at, call_run, j) != 0) call_run(j);
            pthread_attr_destroy(&at);
        } else {
            call_run(j);
        }
        return NULL;
    }
    char msg[160];
    snprintf(msg, sizeof msg, "Method not found: %.100s", meth);
    return kmcp_error_msg(id, -32601, msg);
}

int kmcp_handle(kmcp_session *s, json_t *msg, kmcp_send_fn send, void *sink, int threaded)
{
    int had = 0;
    if (json_is_array(msg)) {       /* a batch (2025-03-26 allows them): answers in one array */
        if (!json_array_size(msg)) {
            send(sink, kmcp_error_msg(NULL, -32600, "Invalid Request: empty batch"));
            return 1;
        }
        json_t *out = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(msg, i, m) {
            json_t *r = handle_one(s, m, send, sink, 0, &had);
            if (r) json_array_append_new(out, r);
        }
        if (json_array_size(out)) send(sink, out);
        else json_decref(out);
        return had;
    }
    json_t *r = handle_one(s, msg, send, sink, threaded, &had);
    if (r) send(sink, r);
    return had;
}

void kmcp_session_close(kmcp_session *s)
{
    pthread_mutex_lock(&s->mu);
    s->closing = 1;
    for (kmcp_req *r = s->inflight; r; r = r->next) r->cancelled = 1;
    while (s->workers > 0) pthread_cond_wait(&s->idle, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

void kmcp_session_wait(kmcp_session *s)
{
    pthread_mutex_lock(&s->mu);
    while (s->workers > 0) pthread_cond_wait(&s->idle, &s->mu);
    pthread_mutex_unlock(&s->mu);
}
