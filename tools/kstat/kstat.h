/* kstat.h — what kstat's subcommands share (main.c): reading the inputs into an aggregator,
 * the --by splitter, human durations. The report (report*.c) may use these too. */
#ifndef KSTAT_H
#define KSTAT_H
#include "agg.h"
#include <stddef.h>
#include <stdint.h>

/* reads every FILE ("-" or none: standard input; gzip detected) into a, then kst_agg_finish.
 * A line that is not a kdissect record: one message "kstat: FILE:LINE: why" and -1, unless
 * skip_invalid (then counted and warned about once). Returns 0 or -1 (reported). */
int kst_read_inputs(kst_agg *a, char **files, int nfiles, int skip_invalid);
/* splits a --by argument at commas outside brackets and quotes, appending to *by */
int kst_parse_by(const char *arg, char ***by, int *nby);
/* µs for people ("812us", "1.5ms", "2.3s"); "-" when us < 0 */
void kst_human_us(int64_t us, char *b, size_t n);
int kst_map_main(int argc, char **argv);
#endif
