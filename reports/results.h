/* The results model: what a report is built from. `veribench run` fills one after it has
 * computed everything (cli/run.c), and report writers read only this, never the run's
 * working state, so later commands (report, gate, compare, merge) can fill the same struct
 * from a results folder written anywhere. Strings and arrays are borrowed: they must
 * outlive the vb_results. */
#ifndef VB_RESULTS_H
#define VB_RESULTS_H

#include <stddef.h>
#include <stdio.h>

#include "reports/metrics.h"
#include "reports/plot.h"

/* One trial of the gallery of worst errors (reports/gallery.h chooses them). */
typedef struct vb_gallery_pair {
    int genuine;                /* 1: a genuine pair scored unlike; 0: an impostor pair scored alike */
    double score;               /* in the run's units */
    const char *id_a, *id_b;    /* sample ids */
    const char *path_a, *path_b;/* the files as the dataset names them */
    char chip_a[192], chip_b[192]; /* face chip PNGs relative to the results folder, "" if none */
} vb_gallery_pair;

/* One line of provenance.csv. */
/* One sample that failed to acquire (failures.csv). */
typedef struct vb_fta_entry {
    const char *sample, *reason;
} vb_fta_entry;

/* A gate verdict to put first in the reports (reports/gate.h); NULL when none was run. */
struct vb_gate_spec;
struct vb_gate_result;

typedef struct vb_provenance_kv {
    const char *scope, *key, *value;
} vb_provenance_kv;

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
    int embed_counts_known;     /* n_resumed/n_embedded_now are known (a run; not in a folder) */
    double faces_per_s;         /* backend throughput; NaN when not measured */
    int has_drift;              /* cosine of each template against the fp32 one */
    double drift_mean, drift_worst;
    char hist_plot[160];        /* plot stem relative to the results folder, "" if none */
    /* latency (latency.csv): backend time per face and per layer, over timed_images */
    double ms_per_face;         /* NaN when not measured */
    size_t timed_images;
    double timed_wall_ms;       /* decode + inference wall time over those images */
    int n_layers;
    const char (*layer_names)[96];
    const double *layer_ms;     /* total per layer over timed_images */
    /* the worst errors, genuine and impostor, worst first within each kind */
    const vb_gallery_pair *gallery;
    size_t n_gallery;
    /* extra operating points to show (calibrated thresholds); the model's threshold and the
     * EER point come from metrics */
    const vb_det_mark *extra_marks;
    size_t n_extra_marks;
    /* demographic differentials (reports/demographics.h); NULL when none */
    const struct vb_demog *demog;
} vb_result_combo;

typedef struct vb_results {
    const char *dataset_spec;   /* as given on the command line */
    /* the protocol, as plain values so a results folder can fill them without the dataset */
    const char *kind;           /* dataset kind ("lfw", "csv", ...) */
    const char *folds;          /* folds kept, canonical text; "" when none */
    unsigned n_folds;           /* the protocol's folds; >= 2 shows the 10-fold accuracy */
    unsigned n_samples;
    unsigned long long n_trials, n_genuine, n_impostor;
    const char *model_path, *model_sha, *crop_text, *commit;
    float threshold;            /* the model's decision threshold (its own units) */
    const char *out_dir;        /* the results folder: plot stems and chips are relative to it */
    const char *det_plot, *quant_plot, *roc_plot; /* plot stems, "" (or NULL) if none */
    int plots_skipped;
    const char *plot_error;
    const vb_result_combo *combos;
    int n_combos;
    const vb_fta_entry *fta;    /* the samples that failed to acquire, in sample order */
    size_t n_fta;
    const struct vb_gate_spec *gate_spec; /* with gate: the verdict comes first */
    const struct vb_gate_result *gate;
    const vb_provenance_kv *provenance; /* provenance.csv's rows, in order */
    size_t n_provenance;
} vb_results;

/* report.md from the results (reports/report.c); with r->gate, a "## Verdict: PASS|FAIL"
 * section with the table of checks comes before the summary. Non-zero on a write error. */
int vb_report_write_md(FILE *f, const vb_results *r);

/* report.html from the results (reports/report_html.c): one self-contained page (inline
 * CSS, plots and face chips inlined as base64 PNG data: URIs read from r->out_dir, no
 * script, no external resource), every string HTML-escaped. Sections, in order: summary
 * (the `<!-- VB_GATE_VERDICT -->` marker, then the verdict box: PASS/FAIL and one row per
 * check with r->gate, "not evaluated" without), metrics, plots, latency, gallery of worst
 * errors, failures to acquire, provenance. A plot or chip file that cannot be read is
 * named in the page, not an error. Non-zero on a write error. */
int vb_report_write_html(FILE *f, const vb_results *r);

/* A run over a dataset that mixes faces and prints is one run per modality, each in a
 * results folder of its own (cli/run.c: OUT/face, OUT/fingerprint); the combined report
 * above them is written from those folders read back (reports/results_load.h). */
typedef struct vb_modality_results {
    const char *modality; /* "face", "fingerprint" */
    const char *dir;      /* its results folder, relative to the combined report's ("face") */
    const vb_results *r;  /* that folder's results; r->out_dir is where its plots are read */
} vb_modality_results;

/* The combined report.md / report.html: one table row per modality and combination (model,
 * protocol counts, EER, FNMR@FMR=1e-3, FMR/FNMR at the model's threshold, FTA), the DET
 * curves side by side, links to each folder's own report; the HTML page inlines the plots
 * and adds each modality's full metric tables. Non-zero on a write error. */
int vb_report_write_modalities_md(FILE *f, const char *dataset_spec, const vb_modality_results *m, size_t n);
int vb_report_write_modalities_html(FILE *f, const char *dataset_spec, const vb_modality_results *m, size_t n);

#endif
