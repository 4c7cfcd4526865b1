/* report.md: what a release manager reads. Every number in it is also in metrics.csv;
 * this file only arranges them, with the plots and the caveats next to them. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "reports/demographics.h"
#include "reports/gate.h"
#include "reports/format.h"
#include "reports/results.h"

/* The combination's metrics; a combination without any reads as all-NaN ("n/a"). */
static const vb_metrics *metrics_of(const vb_result_combo *c, vb_metrics *blank)
{
    if (c->has_metrics)
        return &c->metrics;
    vb_metrics_init(blank);
    return blank;
}

/* A rate with its Clopper-Pearson interval in percent, "30.6% [27.9, 33.4]", when the
 * interval rows are present (shown), else the rate alone. buf must hold 96 bytes. */
static const char *pct_ci(double v, const vb_rate_ci *ci, int have_ci, char *buf)
{
    char r[32];
    vb_fmt_pct(v, r);
    if (!have_ci || isnan(v) || isnan(ci->ci_low))
        snprintf(buf, 96, "%s", r);
    else
        snprintf(buf, 96, "%s [%.3g, %.3g]", r, 100 * ci->ci_low, 100 * ci->ci_high);
    return buf;
}

static void summary_table(FILE *f, const vb_results *run)
{
    char a[32], b[32], c[32], h[32];
    int folds = run->n_folds >= 2;
    fprintf(f, "| combination | EER | FNMR@FMR=1e-3 | FMR / FNMR at %.2f | %sAUC | d' | FTA samples | faces/s |\n",
            run->threshold, folds ? "10-fold accuracy | " : "");
    fprintf(f, "|---|---|---|---|%s---|---|---|---|\n", folds ? "---|" : "");
    for (int i = 0; i < run->n_combos; i++) {
        const vb_result_combo *k = &run->combos[i];
        vb_metrics blank;
        const vb_metrics *m = metrics_of(k, &blank);
        char acc[80] = "";
        if (folds)
            snprintf(acc, sizeof acc, "%s ± %s | ", vb_fmt_pct(m->accuracy_10fold_mean, a), vb_fmt_pct(m->accuracy_10fold_std, b));
        char d_ci[96], e_ci[96], g_ci[96];
        int ci = (m->have & VB_MG_CI) != 0, ci_model = (m->have & VB_MG_CI_MODEL_THRESHOLD) != 0;
        fprintf(f, "| `%s` | %s | %s | %s / %s | %s%s | %s | %zu | %s |\n", k->label, vb_fmt_pct(m->eer, c),
                pct_ci(m->fnmr_at_fmr[VB_FMR_1E3].fnmr, &m->fnmr_at_fmr_ci[VB_FMR_1E3], ci, d_ci),
                pct_ci(m->fmr_at_threshold, &m->fmr_at_threshold_ci, ci_model, e_ci),
                pct_ci(m->fnmr_at_threshold, &m->fnmr_at_threshold_ci, ci_model, g_ci), acc,
                vb_fmt_num(m->auc, "%.5f", h), vb_fmt_num(m->dprime, "%.3f", a), k->n_failed,
                k->faces_per_s > 0 ? vb_fmt_num(k->faces_per_s, "%.1f", b) : "n/a");
    }
    fprintf(f, "\n");
}

/* A calibrated rate's bootstrap interval in percent, or "not computed". */
static const char *boot_pct(const vb_metrics *m, const vb_boot_ci *b, char out[64])
{
    if ((m->have & VB_MG_BOOT_CALIBRATION) && !isnan(b->low))
        snprintf(out, 64, "[%.3g, %.3g]%%", 100 * b->low, 100 * b->high);
    else
        snprintf(out, 64, "not computed");
    return out;
}

/* Confidence intervals and the calibrated operating point (reports/intervals.h). */
static void intervals_section(FILE *f, const vb_results *run)
{
    int any_cal = 0;
    const vb_metrics *m0 = NULL; /* the first combination with intervals: their level */
    for (int i = 0; i < run->n_combos; i++) {
        const vb_metrics *m = &run->combos[i].metrics;
        if (run->combos[i].has_metrics && (m->have & VB_MG_CI) && !m0)
            m0 = m;
        any_cal |= run->combos[i].has_metrics && (m->have & VB_MG_CALIBRATION);
    }
    if (!m0)
        return;
    fprintf(f, "Intervals in brackets: %g%% Clopper-Pearson, in percent (metrics.csv also has Wilson `*_wilson_*` and, "
               "where computed, the subject bootstrap `*_boot_*`).\n\n", 100 * m0->confidence);
    fprintf(f, "| combination | FNMR@FMR=1e-3 bootstrap | FMR at %.2f bootstrap | FNMR at %.2f bootstrap |\n"
               "|---|---|---|---|\n", run->threshold, run->threshold);
    for (int i = 0; i < run->n_combos; i++) {
        const vb_result_combo *k = &run->combos[i];
        const vb_metrics *m = &k->metrics;
        if (!k->has_metrics)
            continue;
        int boot = (m->have & VB_MG_BOOT) != 0, bm = (m->have & VB_MG_BOOT_MODEL_THRESHOLD) != 0;
        const vb_boot_ci *b[3] = {&m->fnmr_at_fmr_boot[VB_FMR_1E3], &m->fmr_at_threshold_boot,
                                  &m->fnmr_at_threshold_boot};
        int have[3] = {boot, bm, bm};
        fprintf(f, "| `%s` |", k->label);
        for (int j = 0; j < 3; j++)
            if (have[j] && !isnan(b[j]->low))
                fprintf(f, " [%.3g, %.3g]%% |", 100 * b[j]->low, 100 * b[j]->high);
            else
                fprintf(f, " not computed |");
        fprintf(f, "\n");
    }
    fprintf(f, "\n");
    if (m0->have & VB_MG_BOOT) {
        const char *method = "not recorded"; /* folders written before the methods existed */
        for (size_t i = 0; i < run->n_provenance; i++)
            if (!strcmp(run->provenance[i].scope, "run") && !strcmp(run->provenance[i].key, "bootstrap_method"))
                method = run->provenance[i].value;
        fprintf(f, "Subject bootstrap: %.0f replicates over %.0f subjects, seed %.0f, method: %s.\n\n",
                m0->bootstrap_replicates, m0->bootstrap_subjects, m0->bootstrap_seed, method);
    }
    if (!any_cal)
        return;
    fprintf(f, "### Calibrated operating point\n\nThreshold chosen on the calibration split (FMR <= target there), "
               "FMR/FNMR measured on the evaluation split; bootstrap: the same subject draws as above, at that "
               "fixed threshold over the evaluation trials.\n\n"
               "| combination | target FMR | threshold | FMR on calibration | FMR (evaluation) | FMR bootstrap | "
               "FNMR (evaluation) | FNMR bootstrap |\n"
               "|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < run->n_combos; i++) {
        const vb_metrics *m = &run->combos[i].metrics;
        if (!run->combos[i].has_metrics || !(m->have & VB_MG_CALIBRATION))
            continue;
        char a[32], c[96], d[96], bc[64], bd[64];
        fprintf(f, "| `%s` | %g | %.6g | %s | %s | %s | %s | %s |\n", run->combos[i].label, m->calibrated_target_fmr,
                m->calibrated_threshold, vb_fmt_pct(m->calibrated_calibration_fmr, a),
                pct_ci(m->calibrated_fmr, &m->calibrated_fmr_ci, 1, c), boot_pct(m, &m->calibrated_fmr_boot, bc),
                pct_ci(m->calibrated_fnmr, &m->calibrated_fnmr_ci, 1, d), boot_pct(m, &m->calibrated_fnmr_boot, bd));
    }
    fprintf(f, "\n");
}

static int has_sweep(const vb_results *run)
{
    for (int i = 0; i < run->n_combos; i++)
        if (run->combos[i].has_drift)
            return 1;
    return 0;
}

static void sweep_table(FILE *f, const vb_results *run)
{
    char a[32], b[32], c[32], d[32], e[32], g[32], h[32], r[32];
    fprintf(f, "## Quantization: accuracy cost and what it buys\n\n"
               "Each level against fp32 on the same backend and device. Cosine: descriptor of each sample "
               "against its fp32 descriptor (mean and worst over %zu samples).\n\n",
            run->combos[0].n_ok);
    fprintf(f, "| combination | model bytes | size vs fp32 | EER | ΔEER | FNMR@FMR=1e-3 | ΔFNMR | cosine mean | "
               "cosine worst | faces/s | weights |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < run->n_combos; i++) {
        const vb_result_combo *k = &run->combos[i];
        vb_metrics blank;
        const vb_metrics *m = metrics_of(k, &blank);
        fprintf(f, "| `%s` | %zu | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", k->label, k->model_bytes,
                strcmp(k->quant, "fp32") ? vb_fmt_num(m->model_bytes_ratio_vs_fp32, "%.3f", r) : "1", vb_fmt_pct(m->eer, b),
                k->has_drift ? vb_fmt_pp(m->eer_delta_vs_fp32, c) : "—", vb_fmt_pct(m->fnmr_at_fmr[VB_FMR_1E3].fnmr, d),
                k->has_drift ? vb_fmt_pp(m->fnmr_at_fmr_1e3_delta_vs_fp32, e) : "—",
                k->has_drift ? vb_fmt_num(k->drift_mean, "%.7f", g) : "—", k->has_drift ? vb_fmt_num(k->drift_worst, "%.7f", h) : "—",
                k->faces_per_s > 0 ? vb_fmt_num(k->faces_per_s, "%.1f", a) : "n/a", k->weights_note);
    }
    fprintf(f, "\n");
    if (run->quant_plot[0])
        fprintf(f, "![accuracy cost against speed](%s.png)\n\n", run->quant_plot);
}

static void details(FILE *f, const vb_result_combo *k)
{
    fprintf(f, "### `%s`\n\n", k->label);
    fprintf(f, "Device: %s (%s; %s)%s. Samples: %zu, ", k->device_name, k->device_type, k->driver,
            k->uses_fp16 ? ", fp16 variants" : "", k->n_samples);
    if (k->embed_counts_known) /* a results folder does not keep them */
        fprintf(f, "embedded now %zu, resumed %zu, ", k->n_embedded_now, k->n_resumed);
    fprintf(f, "failed to acquire %zu.\n\n", k->n_failed);
    if (k->hist_plot[0])
        fprintf(f, "![score histograms](%s.png)\n\n", k->hist_plot);
    fprintf(f, "<details><summary>all metrics</summary>\n\n| metric | value |\n|---|---|\n");
    for (size_t i = 0; i < vb_metric_row_count; i++) {
        const vb_metric_row *r = &vb_metric_rows[i];
        if (!k->has_metrics || !vb_metric_present(&k->metrics, r))
            continue;
        char v[32];
        vb_format_double(vb_metric_value(&k->metrics, r), v);
        fprintf(f, "| `%s` | %s |\n", r->name, v);
    }
    fprintf(f, "\n</details>\n\n");
}

static void caveats(FILE *f, const vb_results *run)
{
    vb_metrics blank;
    const vb_metrics *m = metrics_of(&run->combos[0], &blank);
    fprintf(f, "## How far these numbers go\n\n");
    int any = 0;
    for (int t = VB_FMR_1E1; t <= VB_FMR_1E6; t++) { /* ZeroFMR is never measurable: not listed */
        double r3 = m->fnmr_at_fmr[t].rule_of_3, r30 = m->fnmr_at_fmr[t].rule_of_30;
        if (r3 == 1 || r30 == 1) {
            fprintf(f, "- FNMR@FMR=%s: %s\n", vb_fmr_target_text[t],
                    r3 == 1 ? "not measurable with this many impostor trials (rule of 3)"
                            : "rests on fewer than 30 errors (rule of 30): treat as indicative");
            any = 1;
        }
    }
    if (!any)
        fprintf(f, "- Every FNMR@FMR target is measurable and rests on at least 30 errors.\n");
    fprintf(f, "- Thresholds are euclidean distances between descriptors (accept when distance <= threshold); "
               "the model's own operating threshold is %.2f.\n", run->threshold);
    fprintf(f, "- `eer` follows bob.measure (midpoint thresholds), `eer_fvc` the FVC2000 interval, "
               "`eer_rocch` the ROC convex hull; see metrics.csv for all three.\n");
    fprintf(f, "- Trials involving a sample that failed to acquire are scored as non-matches (+inf distance), "
               "as NIST FRTE does; FMR/FNMR include them.\n");
    if (!strncmp(run->kind, "lfw", 3))
        fprintf(f, "- LFW (Huang et al. 2007): its authors ask that results on it not be taken as evidence that an "
                   "algorithm is fit for commercial use.\n");
    fprintf(f, "\n");
}

/* Error rates per group of each sample attribute (reports/demographics.h). */
static void demographics(FILE *f, const vb_results *run)
{
    int any = 0;
    for (int i = 0; i < run->n_combos; i++)
        any |= run->combos[i].demog && run->combos[i].demog->n_attrs;
    if (!any)
        return;
    fprintf(f, "## Demographic differentials\n\n");
    for (int i = 0; i < run->n_combos; i++)
        vb_demog_write_md(f, run->combos[i].label, run->combos[i].demog);
}

/* `veribench report --gate`: the verdict and every check, first thing after the header. */
static void verdict(FILE *f, const vb_results *run)
{
    fprintf(f, "## Verdict: %s\n\n%zu checks of gate spec `%s`, %zu failed.\n\n```\n", run->gate->failed ? "FAIL" : "PASS",
            run->gate->n, run->gate_spec->path, run->gate->failed);
    vb_gate_write_table(f, run->gate_spec, run->gate, 0);
    fprintf(f, "```\n\n");
}

int vb_report_write_md(FILE *f, const vb_results *run)
{
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    fprintf(f, "# veribench report: `%s`\n\n", run->dataset_spec);
    fprintf(f, "Generated %s by veribench (commit %s). Model `%s` (SHA-256 %.16s…). Preprocessing: %s.\n\n", when,
            run->commit, run->model_path, run->model_sha,
            run->crop_text);
    fprintf(f, "Protocol `%s`%s%s: %u samples, %llu trials (%llu genuine, %llu impostor)%s. "
               "Failures to acquire: %zu samples.\n\n",
            run->kind, run->folds[0] ? ", folds " : "", run->folds, run->n_samples, run->n_trials, run->n_genuine,
            run->n_impostor, run->n_folds >= 2 ? ", 10-fold protocol" : "", run->n_fta);
    if (run->gate)
        verdict(f, run);
    fprintf(f, "## Summary\n\n");
    summary_table(f, run);
    intervals_section(f, run);
    if (has_sweep(run))
        sweep_table(f, run);
    if (run->det_plot[0])
        fprintf(f, "![DET curves](%s.png)\n\n", run->det_plot);
    else if (run->plots_skipped)
        fprintf(f, "Plots were skipped%s%s.\n\n", run->plot_error[0] ? ": " : " (gnuplot not available or --no-plots)",
                run->plot_error);
    caveats(f, run);
    demographics(f, run);
    fprintf(f, "## Per combination\n\n");
    for (int i = 0; i < run->n_combos; i++)
        details(f, &run->combos[i]);
    if (run->n_fta) {
        fprintf(f, "## Failures to acquire\n\n");
        size_t shown = 0;
        for (; run->fta && shown < run->n_fta && shown < 50; shown++)
            fprintf(f, "- `%s`: %s\n", run->fta[shown].sample, run->fta[shown].reason);
        if (run->n_fta > shown)
            fprintf(f, "- … %zu more in failures.csv\n", run->n_fta - shown);
        fprintf(f, "\n");
    }
    fprintf(f, "Files: `metrics.csv`, `scores/`, `latency.csv`, `provenance.csv`, `failures.csv`.\n");
    return ferror(f);
}

/* ---- a run over faces and prints: one results folder per modality, one report above ---- */

/* One row per (modality, combination): the protocol's counts and the headline metrics. */
static void modality_rows(FILE *f, const vb_modality_results *mr)
{
    const vb_results *r = mr->r;
    for (int i = 0; i < r->n_combos; i++) {
        const vb_result_combo *k = &r->combos[i];
        vb_metrics blank;
        const vb_metrics *m = metrics_of(k, &blank);
        char a[32], b[32], c[32], d[32];
        fprintf(f, "| %s | `%s` | %u | %llu | %llu | %llu | `%s` | %s | %s | %s / %s at %.3g | %zu |\n", mr->modality,
                r->model_path, r->n_samples, r->n_trials, r->n_genuine, r->n_impostor, k->label, vb_fmt_pct(m->eer, a),
                vb_fmt_pct(m->fnmr_at_fmr[VB_FMR_1E3].fnmr, b), vb_fmt_pct(m->fmr_at_threshold, c),
                vb_fmt_pct(m->fnmr_at_threshold, d), r->threshold, k->n_failed);
    }
}

int vb_report_write_modalities_md(FILE *f, const char *dataset_spec, const vb_modality_results *m, size_t n)
{
    fprintf(f, "# veribench report: `%s`\n\n", dataset_spec);
    fprintf(f, "The dataset holds %zu modalities. Each is evaluated by its own model over the trials between its "
               "own samples (a face is never compared with a print), in a results folder of its own:",
            n);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s [%s/report.md](%s/report.md)", i ? "," : "", m[i].dir, m[i].dir);
    fprintf(f, ". Each folder's metrics.csv has every number; thresholds are in each model's units.\n\n");
    fprintf(f, "| modality | model | samples | trials | genuine | impostor | combination | EER | FNMR@FMR=1e-3 | "
               "FMR / FNMR at threshold | FTA samples |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++)
        modality_rows(f, &m[i]);
    fprintf(f, "\n## DET curves\n\n|");
    for (size_t i = 0; i < n; i++)
        fprintf(f, " %s |", m[i].modality);
    fprintf(f, "\n|");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "---|");
    fprintf(f, "\n|");
    for (size_t i = 0; i < n; i++)
        if (m[i].r->det_plot && m[i].r->det_plot[0])
            fprintf(f, " ![DET %s](%s/%s.png) |", m[i].modality, m[i].dir, m[i].r->det_plot);
        else
            fprintf(f, " plots skipped |");
    fprintf(f, "\n");
    return ferror(f);
}
