/* kmcp — the toolkit as an MCP server (docs/kmcp.md).
 * Shared declarations of the server's parts: the request context (cancellation, progress), the
 * child-process runner, the tool table, the background dissections and the two transports. */
#ifndef KMCP_H
#define KMCP_H
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <jansson.h>

#define KMCP_NAME "kforensics"

/* --- configuration (main.c) */
typedef struct kmcp_cfg {
    char *store;          /* capture store (may be NULL) */
    char *snapdir;        /* snapshots folder (realpath) */
    char *exportdir;      /* export folder (realpath) */
    char *bindir;         /* where ksnap, kdissect, … live (beside kmcp) */
    size_t max_rows;      /* cap on rows per result */
    size_t max_bytes;     /* cap on a result's JSON size */
    int verbose;
} kmcp_cfg;
extern kmcp_cfg g_cfg;

/* --- a request being served (proto.c): the transport writes what it sends through `send` */
typedef struct kmcp_req kmcp_req;
typedef void (*kmcp_send_fn)(void *sink, json_t *msg);     /* takes a reference */
struct kmcp_req {
    json_t *id;                  /* JSON-RPC id (owned) */
    json_t *progress_token;      /* _meta.progressToken or NULL (owned) */
    volatile int cancelled;      /* notifications/cancelled or the client went away */
    kmcp_send_fn send;
    void *sink;
    const char *protocol;        /* negotiated protocol revision */
    double last_progress;
    kmcp_req *next;              /* in the session's list of requests in flight */
};
/* Set by a transport that can tell when the client behind a sink went away (HTTP: the
 * connection closed); a request whose client is gone is treated as cancelled. */
extern int (*kmcp_client_gone)(void *sink);
int kmcp_req_cancelled(kmcp_req *r);
/* Sends notifications/progress when the client asked for it (progress only grows). */
void kmcp_progress(kmcp_req *r, double progress, double total, const char *message);

/* A session: its negotiated revision and its requests in flight (for cancellation). */
typedef struct kmcp_session {
    pthread_mutex_t mu;
    char protocol[16];
    int initialized;
    kmcp_req *inflight;
    int closing;
    int workers;                 /* tool calls running in threads */
    pthread_cond_t idle;
} kmcp_session;
void kmcp_session_init(kmcp_session *s);
/* Handles one parsed JSON-RPC message (object or batch). Replies (and notifications sent while
 * serving) go through send/sink. With `threaded`, tools/call runs in its own thread so the
 * transport keeps reading (cancellation, ping); otherwise it runs before returning. Returns 1
 * when the message held at least one request (an answer is or will be sent). */
int kmcp_handle(kmcp_session *s, json_t *msg, kmcp_send_fn send, void *sink, int threaded);
/* Marks every request in flight cancelled (client gone) and waits for the workers. */
void kmcp_session_close(kmcp_session *s);
/* Waits for the tool calls running in threads. */
void kmcp_session_wait(kmcp_session *s);
json_t *kmcp_error_msg(json_t *id, int code, const char *message);
extern const char *const kmcp_protocols[];      /* newest first, NULL-terminated */

/* --- tools (tools.c) */
typedef struct kmcp_result {
    json_t *structured;      /* object (owned) */
    char *text;              /* short text (malloc'd) */
    int is_error;
} kmcp_result;
json_t *kmcp_tools_list(void);
/* -1: no such tool (protocol error). Else fills res (tool errors are is_error results). */
int kmcp_tool_call(kmcp_req *r, const char *name, json_t *args, kmcp_result *res);
void kmcp_result_error(kmcp_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- child processes (run.c): argument vectors, never a shell */
typedef struct kmcp_buf { char *p; size_t n, cap; int truncated; } kmcp_buf;
void kmcp_buf_add(kmcp_buf *b, const void *p, size_t n, size_t limit);
void kmcp_buf_free(kmcp_buf *b);
/* Called with each line of the last stage's standard output (without '\n', NUL-terminated).
 * Return 1 to stop early (the children are then ended: not an error). */
typedef int (*kmcp_line_fn)(void *arg, char *line, size_t len);
typedef struct kmcp_run {
    char **argv[4];          /* pipeline stages; argv[0] of each is a tool name (found in bindir) */
    int nstages;
    const char *in_path;     /* first stage's stdin (NULL: /dev/null) */
    long long in_offset;     /* read in_path from this byte on */
    int out_fd;              /* >= 0: last stage writes here instead of a callback */
    kmcp_line_fn on_line;
    void *arg;
    kmcp_req *req;           /* cancellation (may be NULL) */
    volatile int *cancel;    /* another cancellation flag (may be NULL) */
    int timeout_s;           /* 0: none */
    void (*on_tick)(void *arg);   /* about every 250 ms while running (progress) */
    void *tick_arg;
    /* results */
    int status[4];           /* exit codes (-1: killed by a signal) */
    int stopped;             /* on_line asked to stop */
    int cancelled, timed_out;
    kmcp_buf err;            /* the stages' standard error (capped) */
} kmcp_run;
int kmcp_run_pipeline(kmcp_run *r);     /* 0 ran (see status), -1 could not start (err says) */
void kmcp_run_free(kmcp_run *r);
/* First non-empty line of err with the "tool: " prefix kept, control chars escaped. */
char *kmcp_run_message(const kmcp_run *r);
/* bindir/tool if it is executable, else NULL */
char *kmcp_tool_path(const char *tool);

/* --- dissections (dissect.c) */
void kmcp_dissect_startup(void);          /* cleans what a killed kmcp left half-written */
void kmcp_dissect_shutdown(void);         /* cancels running dissections, removes their tmp */
/* status object for a snapshot name (never NULL) */
json_t *kmcp_dissect_status(const char *name);
/* starts (or finds) the dissection of a snapshot; error text on failure */
json_t *kmcp_dissect_start(const char *name, char *err, size_t errlen);
json_t *kmcp_dissect_list(void);
int kmcp_dissect_delete(const char *name);
/* paths of a completed dissection's files (NULL when not complete); malloc'd */
char *kmcp_dissect_file(const char *name, const char *file);
/* the record index in a record's id ("…-000123" -> 123), -1 if none */
long long kmcp_record_index(const char *line, size_t len);
/* byte offset of the gzip member of calls.ndjson.gz holding record index ix (0 without an index) */
long long kmcp_dissect_offset(const char *name, long long ix);
/* waits for a dissection to finish, reporting progress to r; 0 done, -1 cancelled/failed */
int kmcp_dissect_wait(kmcp_req *r, const char *name, int timeout_s);

/* --- names and paths (tools.c) */
int kmcp_valid_name(const char *s);
char *kmcp_snap_path(const char *name);     /* snapdir/name.ksnap (NULL if name is bad) */

/* --- transports */
int kmcp_serve_stdio(void);
int kmcp_serve_http(const char *addr, const char *token_file, int allow_remote);

void kmcp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
