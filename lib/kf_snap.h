/* kf_snap — snapshot archives (.ksnap): a pax tar compressed with zstd, written and read with
 * libarchive (docs/snapshot.md). Reading streams members in archive order and refuses members
 * whose path is absolute or contains "..", and links, devices, fifos. */
#ifndef KF_SNAP_H
#define KF_SNAP_H
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

typedef struct kf_snap kf_snap;

/* 1 if the file starts like a .ksnap (zstd magic) or ends in .ksnap. */
int kf_snap_detect(const char *path);
/* Opens for streaming. Returns NULL with a message in err. */
kf_snap *kf_snap_open(const char *path, char *err, size_t errlen);
/* Added by the snapshot helper: the same over a buffer the caller keeps alive until close. */
kf_snap *kf_snap_open_mem(const void *buf, size_t len, char *err, size_t errlen);
/* Next member: 1 and *name, *size set (valid until the next call), 0 at the end, -1 error
 * (unsafe member, corrupt archive: kf_snap_error names the member). */
int kf_snap_next(kf_snap *s, const char **name, int64_t *size);
/* Reads from the current member: bytes read, 0 at its end, -1 error. */
ssize_t kf_snap_read(kf_snap *s, void *buf, size_t n);
/* Reads the whole current member into a malloc'd buffer (caller frees). */
int kf_snap_read_all(kf_snap *s, uint8_t **buf, size_t *len);
/* The same refusing a member longer than max bytes ("member 'x': more than 32 MiB (limit
 * <limit>)"): the header's size is checked first, then what is read. */
int kf_snap_read_max(kf_snap *s, uint8_t **buf, size_t *len, size_t max, const char *limit);
/* kf_snap_read with a void * handle, for stream readers (kf_meta_load_stream). */
ssize_t kf_snap_read_fn(void *s, void *buf, size_t n);
const char *kf_snap_error(const kf_snap *s);
void kf_snap_close(kf_snap *s);

/* Added by the snapshot helper (issue 4): writing (lib/kf_snap_write.c).
 * A writer puts members, in the order given, into a zstd-compressed pax tar written to a
 * temporary file beside path (kf_atomic) that kf_snapw_commit renames into place, read-only
 * (0440). A member's size must be known before its data (tar headers carry it). */
typedef struct kf_snapw kf_snapw;
/* level: zstd level (0 = libarchive's default, 3); threads: zstd worker threads (0 = none). */
kf_snapw *kf_snapw_open(const char *path, int level, int threads, char *err, size_t errlen);
int kf_snapw_begin(kf_snapw *w, const char *name, int64_t size, int64_t mtime_ns);
int kf_snapw_write(kf_snapw *w, const void *buf, size_t n);
/* begin + write in one call */
int kf_snapw_add(kf_snapw *w, const char *name, const void *buf, size_t n, int64_t mtime_ns);
const char *kf_snapw_error(const kf_snapw *w);
/* Finishes the archive and renames it into place; frees w. 0 or -1 (err set). */
int kf_snapw_commit(kf_snapw *w, char *err, size_t errlen);
/* Removes the temporary file; frees w. */
void kf_snapw_abort(kf_snapw *w);
/* Deferred first member (a writer that learns manifest.json last, e.g. after hashing members
 * while they are being compressed): the archive body starts head_reserve bytes into the file;
 * kf_snapw_commit_head then writes the first member, padded with spaces (and a final newline)
 * to fill the reserve exactly, as a zstd frame of raw blocks at offset 0, and commits. Readers
 * (libarchive, zstd, GNU tar) see one ordinary archive. The member must be text such as JSON.
 * kf_snap_head_reserve gives the reserve for a head member of at most max_len bytes.
 * kf_snapw_commit_head returns 1 when the member does not fit (nothing committed: abort and
 * write the archive the plain way), 0 ok, -1 error. */
size_t kf_snap_head_reserve(size_t max_len);
kf_snapw *kf_snapw_open_deferred(const char *path, size_t head_reserve, int level, int threads,
                                 char *err, size_t errlen);
int kf_snapw_commit_head(kf_snapw *w, const char *name, const void *buf, size_t n, int64_t mtime_ns,
                         char *err, size_t errlen);
/* Hashes/validates a member name for writing: relative, no "..", no empty components. */
int kf_snap_name_ok(const char *name);

/* manifest.json (lib/kf_snap_manifest.c). A manifest is a jansson object as documented. */
/* New manifest: format, version, a random id, created = now, tool, window, filter (or null). */
json_t *kf_manifest_new(int64_t from_ns, int64_t to_ns, const char *filter, const char *tool);
/* Adds or replaces nodes.<node> (segments list kept when it exists). */
int kf_manifest_add_node(json_t *m, const char *node, int64_t first_ns, int64_t last_ns,
                         uint64_t packets, uint64_t bytes);
/* members.<name> = {size, sha256}; with node set, also appended to nodes.<node>.segments. */
int kf_manifest_add_member(json_t *m, const char *name, const char *node, int64_t size,
                           const uint8_t sha[32]);
/* Checks a parsed manifest's shape; 0 ok, -1 with the reason in err. */
int kf_manifest_check(const json_t *m, char *err, size_t errlen);
/* Opens path and reads its first member, which must be manifest.json. NULL with err. */
json_t *kf_snap_read_manifest(const char *path, char *err, size_t errlen);
#endif
