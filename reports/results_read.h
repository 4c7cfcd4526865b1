/* Reading a results folder written by `veribench run` back into memory, for the commands
 * that judge or combine finished runs (gate; report --results, compare, merge).
 *
 * Files read (both required; a run interrupted before its end has no provenance.csv and is
 * refused rather than judged on partial results):
 *   DIR/metrics.csv     header `backend,device,quant,dataset,metric,value` (any column order,
 *                       extra columns refused), one row per metric of each combination.
 *   DIR/provenance.csv  header `scope,key,value`.
 * Parsing is strict, through core/csv_read.h: every malformed record is an error naming
 * file:line with VB_EXIT_INPUT; so is an empty backend/device/quant/dataset/metric/scope/key
 * field, and a (combination, metric) or (scope, key) given twice. Values go through
 * vb_parse_real with infinities allowed; "nan" (what vb_format_double writes for NaN, any
 * case) reads as NaN. Metric names are NOT checked against reports/metrics.h: the reader
 * keeps whatever rows a run of any version wrote; judging names is the caller's business.
 *
 * Combinations and their rows keep the order of the file. Lookups are linear (a run has a
 * handful of combinations of ~100 rows). */
#ifndef VB_RESULTS_READ_H
#define VB_RESULTS_READ_H

#include <stddef.h>

#include "core/common.h"

typedef struct vb_rf_metric {
    char *name;
    double value;
    long line; /* in metrics.csv */
} vb_rf_metric;

/* One (backend, device, quant, dataset) of the run, with its metric rows. */
typedef struct vb_rf_combo {
    char *backend, *device, *quant, *dataset;
    vb_rf_metric *rows;
    size_t n_rows, cap_rows;
} vb_rf_combo;

typedef struct vb_rf_prov {
    char *scope, *key, *value;
} vb_rf_prov;

typedef struct vb_results_folder {
    char *dir;
    vb_rf_combo *combos;
    size_t n_combos, cap_combos;
    vb_rf_prov *prov;
    size_t n_prov, cap_prov;
} vb_results_folder;

/* Reads dir/metrics.csv and dir/provenance.csv into rf (initialised here; freed on failure).
 * Errors: VB_EXIT_INPUT naming the file (and line), VB_EXIT_IO on allocation failure. */
int vb_results_folder_read(const char *dir, vb_results_folder *rf, vb_err *e);
void vb_results_folder_free(vb_results_folder *rf);

/* Reads another file in provenance.csv's format (scope,key,value; the same rules) into
 * rf->prov, appended; rf may be zeroed (only its prov rows are then used, as `veribench
 * compare` reads bench-latency-provenance.csv). An empty file is an error naming it. */
int vb_provenance_read(const char *path, vb_results_folder *rf, vb_err *e);

/* The combination with exactly these four keys, or NULL. */
const vb_rf_combo *vb_rf_find_combo(const vb_results_folder *rf, const char *backend, const char *device,
                                    const char *quant, const char *dataset);
/* 1 and *v = the value of row `name` when the combination has it; 0 (v untouched) when not. */
int vb_rf_value(const vb_rf_combo *c, const char *name, double *v);
/* The value of provenance (scope, key), or NULL. */
const char *vb_rf_provenance(const vb_results_folder *rf, const char *scope, const char *key);
/* "backend/device/quant/dataset" into buf (truncated to n). */
void vb_rf_combo_label(const vb_rf_combo *c, char *buf, size_t n);

#endif
