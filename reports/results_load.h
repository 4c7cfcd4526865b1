/* A results model (reports/results.h) rebuilt from a results folder alone, for `veribench
 * report --results DIR`: the report writers then render the folder exactly as they render
 * a run, from files, never from a run's memory.
 *
 * What comes from where:
 *   metrics.csv (via reports/results_read.h)  each combination, in file order; its label is
 *       backend-device-quant (the run's file stem). Typed metrics: each row whose name
 *       reports/metrics.h knows sets that field; unknown rows are ignored. A group bit of
 *       vb_metrics.have is set only when EVERY row whose groups are exactly that group is in
 *       the file (rows shared between groups, like `threshold` and `confidence`, do not
 *       count): a group present only in part is not claimed, its rows stay unreported
 *       (n/a), so no row of an absent group is ever shown as measured. has_metrics = any
 *       group. Combination counts: samples, fta_samples, model_bytes, faces_per_s,
 *       ms_per_face, cosine_vs_fp32_* (drift) from their rows.
 *   provenance.csv  dataset, model_path, model_sha256, crop, git_commit, dataset_kind, folds,
 *       samples, trials (scope run); device_name, device_type, driver, fp16_in_use, weights
 *       (scope = the label). The model threshold: the `threshold` row of the first
 *       combination with group MODEL_THRESHOLD. Genuine/impostor trials: the first
 *       combination's genuine/impostor rows. n_folds: accuracy_10fold_folds of the first
 *       combination with KFOLD, else 0.
 *   demographic rows of metrics.csv (`sex=F:fnmr@threshold`, ...: reports/demographics.h) fill
 *                   the combination's demog model, read as written (no recomputation); its
 *                   level is the `confidence` row, its thresholds the engine's rows; the per-
 *                   group DET plots/demog-<label>-<attr> when the .png exists.
 *   failures.csv    (optional) sample,path,reason.
 *   latency.csv     (optional) per combination: stage embed_wall (timed images, wall ms)
 *                   and layer:<name> (ms_per_image x images per layer, in file order; the
 *                   file keeps 6 significant digits, so a per-layer time can differ from
 *                   the run's report in its last shown digit).
 *   gallery.csv     (optional) the worst-error pairs, by combination label; a chip path
 *                   that is absolute or has a ".." component is refused (report.html
 *                   inlines chips: they must come from inside the folder).
 *   plots/          plot stems (plots/det, plots/roc, plots/quant-sweep, plots/hist-<label>)
 *                   set only when the .png exists under dir; none -> plots_skipped.
 * Not in a folder: resumed/embedded-now counts (embed_counts_known = 0).
 *
 * Every string and array of *out is owned by *store; free with vb_results_store_free. */
#ifndef VB_RESULTS_LOAD_H
#define VB_RESULTS_LOAD_H

#include <stddef.h>

#include "core/common.h"
#include "reports/results.h"
#include "reports/results_read.h"

typedef struct vb_results_store {
    vb_result_combo *combos;
    vb_gallery_pair **gallery; /* per combination */
    char (**layer_names)[96];  /* per combination (latency.csv) */
    double **layer_ms;
    vb_det_mark *marks;        /* per combination: the calibrated point */
    struct vb_demog **demog;   /* per combination: demographic rows (reports/demographics.h) or NULL */
    char (*mark_labels)[64];
    vb_fta_entry *fta;
    vb_provenance_kv *prov;
    char **strings;            /* every string *out points at */
    size_t n_strings, cap_strings;
    int n_combos;
} vb_results_store;

/* Fills *out from rf (already read from dir) and dir's optional files. Errors:
 * VB_EXIT_INPUT naming the file and line of a malformed failures.csv or gallery.csv,
 * VB_EXIT_IO on allocation failure; on failure *store is freed. */
int vb_results_from_folder(const vb_results_folder *rf, const char *dir, vb_results_store *store, vb_results *out,
                           vb_err *e);
void vb_results_store_free(vb_results_store *store);

/* The group bits of m whose exclusive rows were all set (see above), given which rows of
 * vb_metric_rows were present (present[i] for row i). */
unsigned vb_results_groups_complete(const unsigned char *present);

#endif
