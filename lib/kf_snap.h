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
/* Next member: 1 and *name/*size set (valid until the next call), 0 at the end, -1 error
 * (unsafe member, corrupt archive: kf_snap_error names the member). */
int kf_snap_next(kf_snap *s, const char **name, int64_t *size);
/* Reads from the current member: bytes read, 0 at its end, -1 error. */
ssize_t kf_snap_read(kf_snap *s, void *buf, size_t n);
/* Reads the whole current member into a malloc'd buffer (caller frees). */
int kf_snap_read_all(kf_snap *s, uint8_t **buf, size_t *len);
const char *kf_snap_error(const kf_snap *s);
void kf_snap_close(kf_snap *s);
#endif
