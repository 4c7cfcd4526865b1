/* Release gates: rules on the metrics of a results folder (reports/results_read.h), checked
 * against every combination they select, with a PASS/FAIL verdict per check.
 *
 * Spec file: CSV, header `metric,scope,op,limit[,bound]` (bound may be left out of the header,
 * left empty, or, as the last column, left off a record: `value`). A record whose first field starts with '#' is a comment (it is still read as CSV,
 * so a double quote in it must be balanced); blank lines are skipped. One rule per record:
 *   metric  a CSV name of reports/metrics.h (vb_metric_find), or such a name followed by one
 *           of the interval suffixes _ci_low, _ci_high, _wilson_*, _boot_* (rows other steps
 *           add); anything else is an error.
 *   scope   `*` (every combination), or exactly `BACKEND/DEVICE/QUANT/DATASET` where each part
 *           is `*` or the exact text (no partial patterns). The first three parts end at the
 *           first three '/'; the dataset part is the rest, so a dataset holding slashes
 *           (csv:/data/m.csv) can be named.
 *   op      `<=`, `>=`, `<`, `>`: the measured number against limit;
 *           `max_increase` (value - baseline <= limit) and `max_decrease`
 *           (baseline - value <= limit): regressions against the same row of the same
 *           combination in the baseline folder. Their limit is absolute (`0.002`) or relative
 *           to |baseline| (`5%`).
 *   limit   a finite number (or `N%` for the regression ops).
 *   bound   `value`: the metric's row; `upper`: its `<metric>_ci_high` row; `lower`: its
 *           `<metric>_ci_low` row (bounds only on a table metric without suffix).
 * Errors (VB_EXIT_USAGE, naming spec:line): a malformed record, unknown metric/op/bound, a bad
 * limit, a spec without rules; when evaluating: a scope selecting nothing, a row the
 * combination lacks, a regression rule without a baseline folder or whose combination or row
 * the baseline lacks. Nothing ever passes silently. A NaN measured (or baseline) value, or a
 * NaN difference (inf - inf), fails its check, with a note saying so. */
#ifndef VB_GATE_H
#define VB_GATE_H

#include <stddef.h>
#include <stdio.h>

#include "core/common.h"
#include "reports/results_read.h"

typedef enum vb_gate_op { VB_GATE_LE, VB_GATE_GE, VB_GATE_LT, VB_GATE_GT, VB_GATE_MAX_INCREASE, VB_GATE_MAX_DECREASE } vb_gate_op;
typedef enum vb_gate_bound { VB_GATE_VALUE, VB_GATE_UPPER, VB_GATE_LOWER } vb_gate_bound;

typedef struct vb_gate_rule {
    long line;            /* in the spec */
    char metric[128];     /* as written */
    char row[160];        /* the metrics.csv row it reads: metric, metric_ci_high or _ci_low */
    char scope[4][256];   /* backend, device, quant, dataset; "*" = any */
    vb_gate_op op;
    vb_gate_bound bound;
    double limit;         /* relative limits as a fraction (5% -> 0.05) */
    int relative;
    char limit_text[64];  /* as written, for the table */
} vb_gate_rule;

typedef struct vb_gate_spec {
    char path[4096];
    vb_gate_rule *rules;
    size_t n;
} vb_gate_spec;

/* One rule on one combination. */
typedef struct vb_gate_check {
    const vb_gate_rule *rule;
    const vb_rf_combo *combo;
    double value, baseline; /* baseline: NaN when the rule is no regression */
    int pass;
    char note[96];          /* why a check failed beyond the numbers ("value is NaN"), or "" */
} vb_gate_check;

typedef struct vb_gate_result {
    vb_gate_check *checks;
    size_t n, failed;
} vb_gate_result;

extern const char *const vb_gate_op_text[];    /* "<=", ..., "max_decrease" */
extern const char *const vb_gate_bound_text[]; /* "value", "upper", "lower" */

int vb_gate_spec_read(const char *path, vb_gate_spec *spec, vb_err *e);
void vb_gate_spec_free(vb_gate_spec *spec);

/* Every rule against every combination of `results` its scope selects, in spec order then
 * file order. baseline may be NULL (then a regression rule is an error). On error (see
 * above) out holds nothing. */
int vb_gate_evaluate(const vb_gate_spec *spec, const vb_results_folder *results, const vb_results_folder *baseline,
                     vb_gate_result *out, vb_err *e);
void vb_gate_result_free(vb_gate_result *r);

/* The checks as an aligned table with a final verdict line, or (csv) as CSV with a header
 * and no verdict line. Returns ferror(f). */
int vb_gate_write_table(FILE *f, const vb_gate_spec *spec, const vb_gate_result *r, int csv);
/* JUnit XML: one testsuite, one testcase per check, <failure message=...> on FAIL; written
 * atomically (core/files.h). */
int vb_gate_write_junit(const char *path, const vb_gate_spec *spec, const vb_gate_result *r, vb_err *e);
/* Text escaped for XML attribute or element content: & < > " ' as entities, control
 * characters other than tab/LF/CR and bytes that are not UTF-8 as '?' (XML 1.0 cannot hold
 * them). */
void vb_xml_escape(FILE *f, const char *text);

#endif
