/* The results model: what a report is built from. `veribench run` fills one after it has
 * computed everything (cli/run.c), and report writers read only this, never the run's
 * working state, so later commands (report, gate, compare, merge) can fill the same struct
 * from a results folder written anywhere. Strings and arrays are borrowed: they must
 * outlive the vb_results. */
#ifndef VB_RESULTS_H
#define VB_RESULTS_H

#include <stddef.h>
#include <stdio.h>

#include "datasets/dataset.h"
#include "reports/metrics.h"

/* One (backend, device, quantization level) combination. */
typedef struct vb_result_combo {
    char label[128];            /* <backend>-<device>-<quant>, also the file stem */
    char backend[16], device[64], quant[8];
    char device_name[256], device_type[32], driver[256];
    int uses_fp16;              /* the backend ran fp16 variants */
    vb_metrics metrics;         /* valid when has_metrics */
    int has_metrics;
    size_t model_bytes;         /* tensor bytes of the model at this level */
    char weights_note[256];     /* which weights got which type */
    size_t n_samples, n_ok, n_failed, n_resumed, n_embedded_now;
    double faces_per_s;         /* backend throughput; NaN when not measured */
    int has_drift;              /* cosine of each template against the fp32 one */
    double drift_mean, drift_worst;
    char hist_plot[160];        /* plot stem relative to the results folder, "" if none */
} vb_result_combo;

typedef struct vb_results {
    const char *dataset_spec;   /* as given on the command line */
    const vb_dataset *ds;       /* counts, folds, sample ids */
    const char *model_path, *model_sha, *crop_text, *commit;
    float threshold;            /* the model's decision threshold (its own units) */
    const char *det_plot, *quant_plot; /* plot stems, "" if none */
    int plots_skipped;
    const char *plot_error;
    const vb_result_combo *combos;
    int n_combos;
    char *const *fta_reason;    /* per sample: why it failed to acquire, NULL if it did not */
    size_t n_fta;
} vb_results;

/* report.md from the results (reports/report.c); non-zero on a write error. */
int vb_report_write_md(FILE *f, const vb_results *r);

#endif
