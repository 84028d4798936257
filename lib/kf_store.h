/* kf_store — the capture store layout (docs/store.md): DIR/<node>/<start>.pcapng segments,
 * one open <start>.pcapng.part per node, DIR/meta/ for metadata events, and the locks that
 * capture, prune and freeze honour. */
#ifndef KF_STORE_H
#define KF_STORE_H
#include <stdint.h>
#include <stddef.h>

typedef struct kf_segment {
    char *path;          /* full path */
    char *node;          /* node folder name */
    int64_t start_ns;    /* from the name */
    int64_t end_ns;      /* start of the next segment of the node; for the last, file mtime */
    uint64_t size;
    int open;            /* 1 for a .part */
} kf_segment;

/* "20260314T172345.123456789Z" (26 chars + NUL); buf >= 32. */
char *kf_segname_format(int64_t start_ns, char *buf, size_t len);
/* Parses a segment file name (with or without directory, .pcapng or .pcapng.part). 0 ok, -1 not
 * a segment name. *open set to 1 for .part. */
int kf_segname_parse(const char *name, int64_t *start_ns, int *open);

/* 1 if dir looks like a store (has node folders with segments or a meta/ folder). */
int kf_store_is_store(const char *dir);
/* Node folder names, sorted. Caller frees with kf_strv_free. */
int kf_store_nodes(const char *dir, char ***nodes, size_t *n, char *err, size_t errlen);
/* Segments of one node sorted by start; if node is NULL, of every node (sorted by node, start).
 * Caller frees with kf_segments_free. */
int kf_store_segments(const char *dir, const char *node, kf_segment **segs, size_t *n,
                      char *err, size_t errlen);
void kf_segments_free(kf_segment *segs, size_t n);
void kf_strv_free(char **v, size_t n);

/* Locks (flock on DIR/<node>/.lock, or DIR/meta/.lock when node is "meta"):
 *   readers (freeze, kexport over a store) take it shared; deleters (retention, prune) take it
 *   exclusive and, when they cannot get it at once, skip deleting this round.
 * Returns an fd >= 0, or -1 (errno EWOULDBLOCK when nonblock and held). */
int kf_store_lock(const char *dir, const char *node, int exclusive, int nonblock);
void kf_store_unlock(int fd);
/* The capture lock DIR/<node>/.capture: held exclusive by the running ksnap capture of the node. */
int kf_store_capture_lock(const char *dir, const char *node);
/* 1 if a capture holds the node's capture lock. */
int kf_store_capture_running(const char *dir, const char *node);
#endif
