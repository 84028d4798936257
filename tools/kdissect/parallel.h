/* parallel.h — kdissect -j N (parallel.c). */
#ifndef KD_PARALLEL_H
#define KD_PARALLEL_H
#include "engine.h"
#include "kf_source.h"
/* Reads every packet of src, dissects on jobs threads, writes the merged records through out.
 * Stats of all shards summed into agg. 0 ok, -1 failure (message in err), -2 input error. */
int kd_run_parallel(kf_source *src, const kd_engine_opts *o, int jobs, kd_out_fn out, void *out_arg,
                    kd_engine_stats *agg, char *err, size_t errlen);
#endif
