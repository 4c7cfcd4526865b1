/* Device comparison across results folders, for `veribench compare DIR...`: any number of
 * folders from different machines, drivers and dates merged into one table, with a flag
 * where accuracy differs between devices for the same model and quantization level beyond
 * the cross-backend tolerance (itself a finding: a driver or a kernel bug).
 *
 * A folder may hold a run (metrics.csv + provenance.csv, read by reports/results_read.h),
 * a latency benchmark (bench-latency.csv + bench-latency-provenance.csv, written by
 * `veribench bench-latency --out DIR`), or both; at least one. One row per combination
 * (backend, device, quant): a run's combination joined with the bench-latency numbers of
 * the same backend/device/quant in the same folder; a bench-latency combination without a
 * run is a row of its own (accuracy n/a).
 *
 * Columns: device name, type and driver from the provenance; EER and FNMR@FMR=1e-3 from
 * metrics.csv; single-stream p50/p99 and its verdict; throughput = offline samples/s
 * (decode + preprocess + describe, end to end) when a bench-latency ran, else the run's
 * backend faces/s (`throughput_source` says which: they are not the same quantity).
 *
 * The tolerance is `veribench check`'s: no decision at the model's threshold may flip
 * between two backends (--max-flips, default 0). Rows are compared when they share model
 * (model_sha256), quantization level and dataset protocol (dataset_fingerprint) and differ
 * in host, backend, device or driver. Flips are counted exactly, trial by trial, when both
 * folders keep their score files (scores/<backend>-<device>-<quant>.csv.gz, same trial
 * order by the fingerprint); otherwise the counts at the threshold give a lower bound
 * (|false matches difference| + |false non-matches difference|). The flag names the other
 * row, the flip count and how it was counted, and the EER difference. */
#ifndef VB_COMPARE_H
#define VB_COMPARE_H

#include <stddef.h>
#include <stdio.h>

#include "core/common.h"

typedef struct vb_compare_row {
    char folder[1024], host[256];
    char backend[16], device[64], quant[16], dataset[256];
    char device_name[256], device_type[32], driver[256];
    char model_sha[65], dataset_fp[65];
    int has_accuracy, has_latency, has_offline, is_distance;
    double eer, fnmr_1e3, threshold, false_matches, false_nonmatches;
    double p50_ms, p99_ms, throughput;
    char throughput_source[32];
    char ss_verdict[600], off_verdict[600];
    char scores_path[1200]; /* "" when the folder has no score file for it */
    char flag[1024];        /* "" when nothing differs beyond the tolerance */
    size_t compared;        /* other rows its accuracy was compared with */
} vb_compare_row;

typedef struct vb_comparison {
    vb_compare_row *rows;
    size_t n, cap;
    size_t n_flagged;
} vb_comparison;

/* Reads one folder's rows into c (appended). Errors: VB_EXIT_INPUT naming the file (a
 * folder with neither kind of results, a malformed file), VB_EXIT_IO on allocation. */
int vb_compare_add_folder(vb_comparison *c, const char *dir, vb_err *e);

/* Sets each row's flag (see above) and c->n_flagged. Errors: a score file that cannot be
 * read (VB_EXIT_INPUT). */
int vb_compare_flag(vb_comparison *c, size_t max_flips, vb_err *e);

void vb_comparison_free(vb_comparison *c);

/* The table as CSV (header first) or as markdown. Non-zero on a write error. */
int vb_compare_write_csv(FILE *f, const vb_comparison *c);
int vb_compare_write_md(FILE *f, const vb_comparison *c);

/* EER against throughput, one line per host/backend/device, each level labelled (through
 * vb_plot_sweep): PREFIX.png and PREFIX.svg. Returns as vb_plot_sweep; VB_PLOT_SKIPPED also
 * when no row has both numbers. */
int vb_compare_plot(const char *prefix, const vb_comparison *c, vb_err *e);

#endif
