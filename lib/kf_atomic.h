/* kf_atomic — write an output path without ever destroying what is there.
 * - A new path or a regular file: data goes to a temporary file beside the target
 *   (".<name>.tmp.XXXXXX", mode 0640 unless given), and kf_atomic_commit fsyncs and renames it
 *   over the target, so the file appears whole or not at all; kf_atomic_abort removes the
 *   temporary file.
 * - A symbolic link is followed (to its last target, even a missing one): the file it points to is
 *   replaced as above, beside itself, and the link stays a link.
 * - Anything else that exists (a character or block device such as /dev/null, a FIFO, a socket)
 *   is opened and written through in place, as tcpdump -w does: nothing temporary, nothing
 *   renamed, and an abort cannot take back what was written.
 * - "-", "/dev/stdout", "/dev/stderr", "/dev/fd/N" and "/proc/self/fd/N" write to that already
 *   open descriptor (the shell's redirection, appends included): commit just flushes.
 * - A directory is refused.
 * SIGINT, SIGTERM and SIGHUP remove the temporary files still open (where the tool left those
 * signals at their default action), then end the process as the signal would have. */
#ifndef KF_ATOMIC_H
#define KF_ATOMIC_H
#include <stdio.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct kf_atomic {
    FILE *f;
    char *path, *tmp;
    int is_stdout;      /* writes to standard output (path "-" or /dev/stdout) */
    int in_place;       /* written through: a device, FIFO, socket or an inherited descriptor */
} kf_atomic;

/* Returns 0, or -1 with a message in err. mode 0 means 0640. */
int kf_atomic_open(kf_atomic *a, const char *path, mode_t mode, char *err, size_t errlen);
int kf_atomic_commit(kf_atomic *a, char *err, size_t errlen);
void kf_atomic_abort(kf_atomic *a);
/* 1 when kf_atomic_open(path) would replace an existing regular file (after following symbolic
 * links): tools that never overwrite (snapshots) refuse then; 0 for a new path or one written
 * through in place ("-", /dev/stdout, a device, a FIFO); -1 when the links cannot be followed. */
int kf_atomic_replaces(const char *path);
/* 1 when the output goes through in place (see above), so temporaries belong in $TMPDIR, not
 * beside it; 0 otherwise. */
int kf_atomic_in_place(const char *path);
#endif
