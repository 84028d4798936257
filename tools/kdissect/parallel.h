/* parallel.h — kdissect -j N (parallel.c). */
#ifndef KD_PARALLEL_H
#define KD_PARALLEL_H
#include "engine.h"
#include "kf_source.h"
/* Dissects the inputs on jobs threads and writes the merged records through out. src is the
 * source opened on inputs with sopts: read once here when the inputs are stdin or compressed;
 * uncompressed files and folders are read by every worker on its own (opened again). Stats of
 * all shards summed into agg. 0 ok, -1 failure (message in err), -2 input error. */
int kd_run_parallel(kf_source *src, const char *const *inputs, size_t ninputs, const kf_source_opts *sopts,
                    const kd_engine_opts *o, int jobs, kd_out_fn out, void *out_arg,
                    kd_engine_stats *agg, char *err, size_t errlen);
#endif
