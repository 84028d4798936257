/* kf_atomic — write a file so that it appears whole or not at all: data goes to a temporary
 * file beside the target (".<name>.tmp.XXXXXX", mode 0640 unless given), and kf_atomic_commit
 * fsyncs and renames it over the target. kf_atomic_abort removes the temporary file.
 * Path "-" means standard output: nothing temporary, commit just flushes. */
#ifndef KF_ATOMIC_H
#define KF_ATOMIC_H
#include <stdio.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct kf_atomic {
    FILE *f;
    char *path, *tmp;
    int is_stdout;
} kf_atomic;

/* Returns 0, or -1 with a message in err. mode 0 means 0640. */
int kf_atomic_open(kf_atomic *a, const char *path, mode_t mode, char *err, size_t errlen);
int kf_atomic_commit(kf_atomic *a, char *err, size_t errlen);
void kf_atomic_abort(kf_atomic *a);
#endif
