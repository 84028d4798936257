/* kf_meta — Kubernetes metadata over time: who held which IP, and when (docs/metadata.md).
 * Loaded from stored event files ({"ts","type","object"} per line), kubectl JSON (List, single
 * object, or a stream of watch events), a store DIR's meta/ or a snapshot's meta/events.ndjson.
 * Every lookup is "as of time T". Ownership: the model owns every string and json_t it returns;
 * they live until kf_meta_free. Never prints, never exits. */
#ifndef KF_META_H
#define KF_META_H
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <jansson.h>
#include "kf_decode.h"

#define KF_T_MIN INT64_MIN
#define KF_T_MAX INT64_MAX

enum kf_wkind { KF_WK_POD = 1, KF_WK_SERVICE = 2, KF_WK_NODE = 3 };

/* One workload (a pod, service or node identity, by uid, or namespace/name when no uid). */
typedef struct kf_workload {
    enum kf_wkind kind;
    const char *name, *namespace_, *uid;
    const char *node;           /* pods: spec.nodeName; nodes: own name */
    const char *owner_kind;     /* top owner: Deployment (via ReplicaSet), StatefulSet, DaemonSet, Job… or NULL */
    const char *owner_name;
    int host_network;           /* pods with hostNetwork: their IP is the node's */
    json_t *labels;             /* object (may be empty), as of the last event seen */
    json_t *annotations;        /* object */
    json_t *selector;           /* services: spec.selector object or NULL */
    int64_t created_ns, deleted_ns;  /* KF_T_MIN/KF_T_MAX when unknown */
} kf_workload;

/* One binding "ip -> workload" over [from_ns, to_ns). */
typedef struct kf_binding {
    kf_addr ip;
    const kf_workload *w;
    int64_t from_ns, to_ns;     /* to_ns = KF_T_MAX while still held */
} kf_binding;

typedef struct kf_meta kf_meta;

kf_meta *kf_meta_new(void);
void kf_meta_free(kf_meta *m);
/* Loads any supported file (events NDJSON, kubectl List/object, concatenated watch JSON).
 * at_ns stamps objects that carry no event time (kubectl Lists); KF_T_MIN = the file's mtime.
 * Returns 0, or -1 with "line N: what" / "offset N: what" in err; what was valid is kept. */
int kf_meta_load_file(kf_meta *m, const char *path, int64_t at_ns, char *err, size_t errlen);
int kf_meta_load_buffer(kf_meta *m, const char *buf, size_t len, int64_t at_ns, char *err, size_t errlen);
/* Loads DIR/meta/ of a store. */
int kf_meta_load_store(kf_meta *m, const char *dir, char *err, size_t errlen);
/* Adds one event (type "ADDED", "MODIFIED", "DELETED"; obj a kubectl object, borrowed). */
int kf_meta_add_event(kf_meta *m, int64_t ts_ns, const char *type, json_t *obj);
/* Must be called after loading and before lookups (sorts, builds indexes). Idempotent. */
void kf_meta_finish(kf_meta *m);

/* Who held ip at ts: the pod (or NULL), the service whose cluster IP it is (or NULL), the node
 * whose address it is (or NULL). host_network_pod: a host-network pod also on that IP (its
 * traffic cannot be told from the node's: report, do not guess). Returns 1 if anything found. */
typedef struct kf_ipinfo {
    const kf_workload *pod, *service, *node;
    int host_network_shared;    /* the IP is a node IP shared by host-network pods */
} kf_ipinfo;
int kf_meta_lookup(const kf_meta *m, const kf_addr *ip, int64_t ts_ns, kf_ipinfo *out);
/* Services a pod belongs to at ts (selector matches its labels, or endpoints list it). Up to max. */
size_t kf_meta_pod_services(const kf_meta *m, const kf_workload *pod, int64_t ts_ns,
                            const kf_workload **out, size_t max);
/* All bindings (every IP, every holder, every interval), sorted by ip then from. */
size_t kf_meta_bindings(const kf_meta *m, const kf_binding **out);
/* All workloads. */
size_t kf_meta_workloads(const kf_meta *m, const kf_workload *const **out);
/* Writes the state at t0 as ADDED events stamped t0, then every event in [t0, t1], as NDJSON
 * lines (the snapshot's meta/events.ndjson). Returns 0 / -1. */
int kf_meta_write_window(const kf_meta *m, int64_t t0, int64_t t1, FILE *f);
size_t kf_meta_event_count(const kf_meta *m);

/* Added by the metadata helper (issue 4): */
/* A new object holding only what resolution needs (docs/metadata.md lists the fields); NULL if
 * obj is not an object. Caller decrefs. */
json_t *kf_meta_trim_object(const json_t *obj);
/* One interchange line {"ts","type","object":<trimmed obj>}\n, malloc'd (caller frees); NULL if
 * type is not ADDED/MODIFIED/DELETED or on allocation failure. */
char *kf_meta_event_line(int64_t ts_ns, const char *type, const json_t *obj);
/* The parser under kf_meta_load_buffer: calls fn for every event of buf (watch events with
 * their "ts" or at_ns, List items and single objects as ADDED at at_ns); fn returns 0 or -1
 * (counted as an error). Malformed JSON: the error "line N (offset M): what" (lines counted from
 * first_line) goes to err (first one only), parsing resumes at the next line starting with '{'.
 * Returns 0, or -1 if anything was malformed or refused. */
typedef int (*kf_meta_event_fn)(void *ud, int64_t ts_ns, const char *type, json_t *obj);
int kf_meta_parse_buffer(const char *buf, size_t len, int64_t at_ns, int64_t first_line,
                         kf_meta_event_fn fn, void *ud, char *err, size_t errlen);
/* NULL if every reader accepts the event, else why not ("metadata is not an object"): writers
 * (ksnap meta record/import) check with this, so they never store what readers refuse. */
const char *kf_meta_event_invalid(const char *type, const json_t *obj);
/* 1 if a loader's error means the input was abandoned (a limit hit, binary data, unreadable):
 * bad input. Otherwise only bad values were skipped and the rest kept: readers warn and go on. */
static inline int kf_meta_err_fatal(const char *err)
{
    return strstr(err, "stopped reading") || strstr(err, "read error") || strstr(err, "(limit ") ||
           !strchr(err, ' ');
}
/* Streaming (bounded memory): rd reads up to n bytes into buf, returns the count, 0 at the end,
 * -1 on error. Values are handed to fn as kf_meta_parse_buffer does; a bad value is reported
 * (first one in err) and skipped, the rest kept. One value longer than KF_MAX_META_VALUE, a NUL
 * byte or more than KF_MAX_META_TOTAL bytes stop the reading (kf_limits.h). 0 or -1. */
typedef ssize_t (*kf_meta_read_fn)(void *ud, void *buf, size_t n);
int kf_meta_parse_stream(kf_meta_read_fn rd, void *rud, int64_t at_ns, kf_meta_event_fn fn, void *ud,
                         char *err, size_t errlen);
/* kf_meta_parse_stream into the model (at_ns KF_T_MIN = now). */
int kf_meta_load_stream(kf_meta *m, kf_meta_read_fn rd, void *rud, int64_t at_ns, char *err, size_t errlen);
#endif
