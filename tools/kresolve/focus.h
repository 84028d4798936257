#ifndef KRESOLVE_FOCUS_H
#define KRESOLVE_FOCUS_H
#include <stddef.h>
#include <stdint.h>
/* One input's bytes (modified in place: dropped lines are blanked). */
typedef struct focus_src { char *buf; size_t len; int64_t at_ns; char *name; int lenient; } focus_src;
/* needles: exact byte strings (e.g. "\"10.1.0.7\""); expand: also follow the IPs of matched pods. */
void focus_apply(focus_src *src, size_t nsrc, const char *const *needles, size_t nneedles, int expand);
#endif
