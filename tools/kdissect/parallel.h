/* parallel.h — kdissect -j N (parallel.c). */
#ifndef KD_PARALLEL_H
#define KD_PARALLEL_H
#include "engine.h"
#include "kf_source.h"
#include <sys/uio.h>
/* Writes n pieces (it may change iov). 0, or -1: the run stops. */
typedef int (*kd_outv_fn)(void *arg, struct iovec *iov, int n);
/* Dissects the inputs on jobs threads and writes the merged records through outv (in place:
 * the pieces point into the shards' buffers, no copy on the way). src is the source opened on
 * inputs, not read yet: read by this thread and handed out when the inputs are stdin or
 * compressed (copy mode), by the workers in turn when they are uncompressed files and folders
 * (scan mode). Stats of all shards summed into agg. 0 ok, -1 failure (message in err), -2
 * input error, -3 a shard's temporary file for waiting records could not be written or read
 * back (message in err). */
int kd_run_parallel(kf_source *src, const char *const *inputs, size_t ninputs,
                    const kd_engine_opts *o, int jobs, kd_outv_fn outv, void *out_arg,
                    kd_engine_stats *agg, char *err, size_t errlen);
#endif
