/* report.html: the same numbers as report.md and metrics.csv on one self-contained page a
 * reviewer can open anywhere (mail, an archive, a browser without network): plots and face
 * chips are inlined as base64 PNG, the style is inline, there is no script. Every string
 * that came from outside (file names, ids, device names, command lines) is escaped. */
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reports/gate.h"
#include "reports/format.h"
#include "reports/demographics.h"
#include "reports/results.h"

/* ---- escaping and inlining ---- */

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++)
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
}

/* The whole file at dir/rel, malloc'd; NULL when it cannot be read. */
static unsigned char *read_all(const char *dir, const char *rel, size_t *n)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : ".", rel);
    FILE *in = fopen(path, "rb");
    if (!in)
        return NULL;
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len == cap) {
            unsigned char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);
            if (!nb) {
                free(buf);
                fclose(in);
                return NULL;
            }
            buf = nb;
        }
        got = fread(buf + len, 1, cap - len, in);
        len += got;
    } while (got);
    int bad = ferror(in);
    fclose(in);
    if (bad || !len) {
        free(buf);
        return NULL;
    }
    *n = len;
    return buf;
}

/* <img> with the PNG at dir/rel as a data: URI, or a note naming the missing file. */
static void inline_png(FILE *f, const vb_results *r, const char *rel, const char *alt, const char *cls)
{
    size_t n = 0;
    unsigned char *png = read_all(r->out_dir, rel, &n);
    if (!png) {
        fputs("<p class=\"note\">image not available: ", f);
        esc(f, rel);
        fputs("</p>\n", f);
        return;
    }
    fprintf(f, "<img class=\"%s\" alt=\"", cls);
    esc(f, alt);
    fputs("\" src=\"data:image/png;base64,", f);
    unsigned char out[4 * 1024 + 1];
    for (size_t i = 0; i < n; i += 3 * 1024) {
        size_t len = n - i < 3 * 1024 ? n - i : 3 * 1024;
        int k = EVP_EncodeBlock(out, png + i, (int)len);
        fwrite(out, 1, (size_t)k, f);
    }
    fputs("\">\n", f);
    free(png);
}

static void plot(FILE *f, const vb_results *r, const char *stem, const char *alt)
{
    if (!stem || !*stem)
        return;
    char rel[512];
    snprintf(rel, sizeof rel, "%s.png", stem);
    fputs("<figure>", f);
    inline_png(f, r, rel, alt, "plot");
    fputs("<figcaption>", f);
    esc(f, alt);
    fputs("</figcaption></figure>\n", f);
}

/* ---- numbers ---- */

static const vb_metrics *metrics_of(const vb_result_combo *c, vb_metrics *blank)
{
    if (c->has_metrics)
        return &c->metrics;
    vb_metrics_init(blank);
    return blank;
}

/* ---- sections ---- */

static const char *const style =
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1150px;color:#222;line-height:1.4}"
    "h1{font-size:1.6em}h2{border-bottom:2px solid #ccd;padding-bottom:.2em;margin-top:2em}"
    "table{border-collapse:collapse;margin:.6em 0 1.2em}td,th{border:1px solid #ccd;padding:.25em .6em;"
    "text-align:left;vertical-align:top}th{background:#eef}td.n{text-align:right;font-variant-numeric:"
    "tabular-nums}code{font-size:.92em}.note{color:#666}.verdict{border:2px dashed #99a;padding:.6em 1em;"
    "background:#f7f7fb}img.plot{max-width:100%;border:1px solid #ddd}figure{margin:1em 0}"
    ".pairs{display:flex;flex-wrap:wrap;gap:12px}.pair{border:1px solid #ccd;padding:6px;width:260px;"
    "font-size:.8em;word-break:break-all}.pair img{width:96px;height:96px;margin-right:4px}"
    ".imp{background:#fff3f3}.gen{background:#f3f6ff}";

static void header(FILE *f, const vb_results *r)
{
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>veribench report: ", f);
    esc(f, r->dataset_spec);
    fprintf(f, "</title>\n<style>%s</style></head><body>\n<h1>veribench report: <code>", style);
    esc(f, r->dataset_spec);
    fprintf(f, "</code></h1>\n<p>Generated %s by veribench (commit <code>", when);
    esc(f, r->commit);
    fputs("</code>). Model <code>", f);
    esc(f, r->model_path);
    fputs("</code> (SHA-256 <code>", f);
    esc(f, r->model_sha);
    fputs("</code>). Preprocessing: ", f);
    esc(f, r->crop_text);
    fprintf(f, ". Protocol <code>");
    esc(f, r->kind);
    fprintf(f, "</code>: %u samples, %llu trials (%llu genuine, %llu impostor); %zu samples failed to acquire.</p>\n",
            r->n_samples, r->n_trials, r->n_genuine, r->n_impostor, r->n_fta);
}

/* PASS/FAIL and one row per check, as `veribench gate` prints them. */
static void gate_verdict(FILE *f, const vb_results *r)
{
    const vb_gate_result *g = r->gate;
    fprintf(f, "<div class=\"verdict\" id=\"verdict\"><b>Verdict: %s</b> (%zu checks, %zu failed; spec <code>",
            g->failed ? "FAIL" : "PASS", g->n, g->failed);
    esc(f, r->gate_spec->path);
    fputs("</code>)\n<table><tr><th>combination</th><th>metric</th><th>row</th><th>value</th><th>baseline</th>"
          "<th>op</th><th>limit</th><th>result</th></tr>\n", f);
    for (size_t i = 0; i < g->n; i++) {
        const vb_gate_check *c = &g->checks[i];
        char label[1024], v[32], b[32];
        vb_rf_combo_label(c->combo, label, sizeof label);
        vb_format_double(c->value, v);
        vb_format_double(c->baseline, b);
        const char *cells[] = {label, c->rule->metric, c->rule->row, v, isnan(c->baseline) ? "" : b,
                               vb_gate_op_text[c->rule->op], c->rule->limit_text};
        fputs("<tr>", f);
        for (size_t k = 0; k < sizeof cells / sizeof *cells; k++) {
            fputs("<td>", f);
            esc(f, cells[k]);
            fputs("</td>", f);
        }
        fprintf(f, "<td><b>%s</b>", c->pass ? "PASS" : "FAIL");
        if (c->note[0]) {
            fputs(" ", f);
            esc(f, c->note);
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</table></div>\n", f);
}

/* "30.633% <small>[29, 32.3]</small>": a rate and an interval in percent (none when NaN:
 * intervals not computed). buf holds 96 bytes. */
static const char *pct_interval(const char *rate, double lo, double hi, char *buf)
{
    if (isnan(lo) || isnan(hi))
        snprintf(buf, 96, "%s", rate);
    else
        snprintf(buf, 96, "%s <small>[%.3g, %.3g]</small>", rate, 100 * lo, 100 * hi);
    return buf;
}

static const char *provenance_value(const vb_results *r, const char *key)
{
    for (size_t i = 0; i < r->n_provenance; i++)
        if (!strcmp(r->provenance[i].scope, "run") && !strcmp(r->provenance[i].key, key))
            return r->provenance[i].value;
    return NULL;
}

/* The subject-bootstrap intervals of the summary's rates, and how they were made. */
static void bootstrap_table(FILE *f, const vb_results *r)
{
    const vb_metrics *m0 = NULL;
    for (int i = 0; i < r->n_combos && !m0; i++)
        if (r->combos[i].has_metrics && (r->combos[i].metrics.have & VB_MG_BOOT))
            m0 = &r->combos[i].metrics;
    if (!m0)
        return;
    const char *method = provenance_value(r, "bootstrap_method");
    fprintf(f, "<p>Brackets: %g%% Clopper-Pearson. Subject bootstrap, %g%% percentile intervals: %.0f replicates over "
               "%.0f subjects, seed %.0f, method ",
            100 * m0->confidence, 100 * m0->confidence, m0->bootstrap_replicates, m0->bootstrap_subjects,
            m0->bootstrap_seed);
    esc(f, method ? method : "not recorded");
    int cal = 0; /* run --target-fmr: the calibrated point's rates on the evaluation split too */
    for (int i = 0; i < r->n_combos; i++)
        cal |= r->combos[i].has_metrics && (r->combos[i].metrics.have & VB_MG_BOOT_CALIBRATION);
    fprintf(f, ".</p>\n<table><tr><th>combination</th><th>FNMR@FMR=1e-3</th><th>FMR at %.2f</th><th>FNMR at %.2f</th>",
            r->threshold, r->threshold);
    if (cal)
        fputs("<th>calibrated FMR (evaluation)</th><th>calibrated FNMR (evaluation)</th>", f);
    fputs("</tr>\n", f);
    for (int i = 0; i < r->n_combos; i++) {
        const vb_metrics *m = &r->combos[i].metrics;
        if (!r->combos[i].has_metrics || !(m->have & VB_MG_BOOT))
            continue;
        int bm = (m->have & VB_MG_BOOT_MODEL_THRESHOLD) != 0, bc = (m->have & VB_MG_BOOT_CALIBRATION) != 0;
        const vb_boot_ci *b[5] = {&m->fnmr_at_fmr_boot[VB_FMR_1E3], &m->fmr_at_threshold_boot,
                                  &m->fnmr_at_threshold_boot, &m->calibrated_fmr_boot, &m->calibrated_fnmr_boot};
        int have[5] = {1, bm, bm, bc, bc};
        fputs("<tr><td><code>", f);
        esc(f, r->combos[i].label);
        fputs("</code></td>", f);
        for (int j = 0; j < (cal ? 5 : 3); j++)
            if (have[j] && !isnan(b[j]->low))
                fprintf(f, "<td class=n>[%.3g, %.3g]%%</td>", 100 * b[j]->low, 100 * b[j]->high);
            else
                fputs("<td>not computed</td>", f);
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void summary(FILE *f, const vb_results *r)
{
    fputs("<h2 id=\"summary\">Summary</h2>\n", f);
    /* The gate verdict (veribench report --gate) goes here: keep this marker. */
    fputs("<!-- VB_GATE_VERDICT -->\n", f);
    if (r->gate)
        gate_verdict(f, r);
    else
        fputs("<div class=\"verdict\" id=\"verdict\"><b>Verdict:</b> not evaluated "
              "(run <code>veribench report --results DIR --gate SPEC</code>).</div>\n",
              f);
    fprintf(f, "<table><tr><th>combination</th><th>EER</th><th>FNMR@FMR=1e-3</th><th>FMR at %.2f</th>"
               "<th>FNMR at %.2f</th><th>AUC</th><th>d&#39;</th><th>FTA samples</th><th>faces/s</th></tr>\n",
            r->threshold, r->threshold);
    for (int i = 0; i < r->n_combos; i++) {
        const vb_result_combo *k = &r->combos[i];
        vb_metrics blank;
        const vb_metrics *m = metrics_of(k, &blank);
        char a[32], b[32], c[32], d[32], e[32], g[32], h[32];
        fputs("<tr><td><code>", f);
        esc(f, k->label);
        char b_ci[96], c_ci[96], d_ci[96];
        fprintf(f, "</code></td><td class=n>%s</td><td class=n>%s</td><td class=n>%s</td><td class=n>%s</td>"
                   "<td class=n>%s</td><td class=n>%s</td><td class=n>%zu</td><td class=n>%s</td></tr>\n",
                vb_fmt_pct(m->eer, a),
                pct_interval(vb_fmt_pct(m->fnmr_at_fmr[VB_FMR_1E3].fnmr, b), m->fnmr_at_fmr_ci[VB_FMR_1E3].ci_low,
                             m->fnmr_at_fmr_ci[VB_FMR_1E3].ci_high, b_ci),
                pct_interval(vb_fmt_pct(m->fmr_at_threshold, c), m->fmr_at_threshold_ci.ci_low,
                             m->fmr_at_threshold_ci.ci_high, c_ci),
                pct_interval(vb_fmt_pct(m->fnmr_at_threshold, d), m->fnmr_at_threshold_ci.ci_low,
                             m->fnmr_at_threshold_ci.ci_high, d_ci),
                vb_fmt_num(m->auc, "%.5f", e), vb_fmt_num(m->dprime, "%.3f", g), k->n_failed,
                k->faces_per_s > 0 ? vb_fmt_num(k->faces_per_s, "%.1f", h) : "n/a");
    }
    fputs("</table>\n", f);
    bootstrap_table(f, r);
}

/* The interval of metric row `r` of one kind (suffixes "_ci_low"/"_ci_high": Clopper-Pearson,
 * "_boot_low"/"_boot_high": subject bootstrap), when the table has those rows and m holds
 * them; 0 otherwise. */
static int interval_of(const vb_metrics *m, const vb_metric_row *r, const char *low, const char *high, double *lo,
                       double *hi)
{
    char name[160];
    snprintf(name, sizeof name, "%s%s", r->name, low);
    const vb_metric_row *l = vb_metric_find(name);
    snprintf(name, sizeof name, "%s%s", r->name, high);
    const vb_metric_row *h = vb_metric_find(name);
    if (!l || !h || !vb_metric_present(m, l) || !vb_metric_present(m, h))
        return 0;
    *lo = vb_metric_value(m, l), *hi = vb_metric_value(m, h);
    return 1;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n > t && !strcmp(s + n - t, tail);
}

/* Rows shown in the interval columns rather than as rows of their own. */
static int is_interval_row(const vb_metric_row *r)
{
    return ends_with(r->name, "_ci_low") || ends_with(r->name, "_ci_high") || ends_with(r->name, "_boot_low") ||
           ends_with(r->name, "_boot_high");
}

static void interval_cell(FILE *f, const vb_metrics *m, const vb_metric_row *r, const char *low, const char *high)
{
    char lo[32], hi[32];
    double l, h;
    fputs("</td><td class=n>", f);
    if (interval_of(m, r, low, high, &l, &h)) {
        vb_format_double(l, lo);
        vb_format_double(h, hi);
        fprintf(f, "%s – %s", lo, hi);
    }
}

static void metrics_table(FILE *f, const vb_result_combo *k)
{
    fputs("<h3><code>", f);
    esc(f, k->label);
    fputs("</code></h3>\n", f);
    if (!k->has_metrics) {
        fputs("<p class=\"note\">no metrics (the combination did not finish)</p>\n", f);
        return;
    }
    double level = 100 * (isnan(k->metrics.confidence) ? 0.95 : k->metrics.confidence);
    fprintf(f, "<details><summary>all metrics (click to open)</summary>\n<table><tr><th>metric</th><th>value</th>"
               "<th>%g%% Clopper-Pearson</th><th>%g%% subject bootstrap</th><th>unit</th><th>description</th></tr>\n",
            level, level);
    for (size_t i = 0; i < vb_metric_row_count; i++) {
        const vb_metric_row *r = &vb_metric_rows[i];
        if (!vb_metric_present(&k->metrics, r) || is_interval_row(r))
            continue;
        char v[32];
        vb_format_double(vb_metric_value(&k->metrics, r), v);
        fputs("<tr><td><code>", f);
        esc(f, r->name);
        fprintf(f, "</code></td><td class=n>%s", v);
        interval_cell(f, &k->metrics, r, "_ci_low", "_ci_high");
        interval_cell(f, &k->metrics, r, "_boot_low", "_boot_high");
        fputs("</td><td>", f);
        esc(f, r->unit);
        fputs("</td><td>", f);
        esc(f, r->description);
        fputs("</td></tr>\n", f);
    }
    fputs("</table></details>\n", f);
}

static void point_row(FILE *f, const char *combo, const char *point, double fmr, double fnmr)
{
    char a[32], b[32];
    fputs("<tr><td><code>", f);
    esc(f, combo);
    fputs("</code></td><td>", f);
    esc(f, point);
    fprintf(f, "</td><td class=n>%s</td><td class=n>%s</td></tr>\n", vb_fmt_pct(fmr, a), vb_fmt_pct(fnmr, b));
}

/* The points marked on the plots, as numbers. */
static void operating_points(FILE *f, const vb_results *r)
{
    char thr[48];
    snprintf(thr, sizeof thr, "model threshold %.2f", r->threshold);
    fputs("<table><tr><th>combination</th><th>operating point</th><th>FMR</th><th>FNMR</th></tr>\n", f);
    for (int i = 0; i < r->n_combos; i++) {
        const vb_result_combo *k = &r->combos[i];
        if (!k->has_metrics)
            continue;
        point_row(f, k->label, thr, k->metrics.fmr_at_threshold, k->metrics.fnmr_at_threshold);
        point_row(f, k->label, "EER", k->metrics.eer, k->metrics.eer);
        for (size_t m = 0; m < k->n_extra_marks; m++)
            point_row(f, k->label, k->extra_marks[m].label, k->extra_marks[m].fmr, k->extra_marks[m].fnmr);
    }
    fputs("</table>\n", f);
}

static void plots(FILE *f, const vb_results *r)
{
    fputs("<h2 id=\"plots\">DET and ROC</h2>\n", f);
    if ((!r->det_plot || !*r->det_plot) && r->plots_skipped) {
        fputs("<p class=\"note\">Plots were skipped", f);
        if (r->plot_error && *r->plot_error) {
            fputs(": ", f);
            esc(f, r->plot_error);
        } else {
            fputs(" (gnuplot not available or --no-plots)", f);
        }
        fputs(".</p>\n", f);
    }
    fputs("<p>Marked on the plots: these operating points of each combination.</p>\n", f);
    operating_points(f, r);
    plot(f, r, r->det_plot, "DET curves (probit axes)");
    plot(f, r, r->roc_plot, "ROC curves (log FMR axis)");
    plot(f, r, r->quant_plot, "Quantization: EER against throughput");
    fputs("<h2 id=\"histograms\">Score histograms</h2>\n", f);
    for (int i = 0; i < r->n_combos; i++) {
        char alt[200];
        snprintf(alt, sizeof alt, "score distributions of %s", r->combos[i].label);
        plot(f, r, r->combos[i].hist_plot, alt);
    }
}

static void demog_line(void *arg, const char *const *cells, size_t n)
{
    FILE *f = arg;
    fputs("<tr>", f);
    for (size_t i = 0; i < n; i++) {
        fputs("<td>", f);
        esc(f, cells[i]);
        fputs("</td>", f);
    }
    fputs("</tr>\n", f);
}

static void demog_attr(FILE *f, const vb_results *r, const char *combo, const vb_demog *d, const vb_demog_attr *a)
{
    char summary[2048], level[64], alt[200];
    vb_demog_attr_summary(a, summary, sizeof summary);
    snprintf(level, sizeof level, " Level %g%%.", 100 * d->level);
    fputs("<h3>", f);
    esc(f, a->name);
    fputs(" — ", f);
    esc(f, combo);
    fputs("</h3>\n<p>", f);
    esc(f, summary);
    fputs("</p>\n<p class=\"note\">", f);
    esc(f, vb_demog_explanation);
    esc(f, level);
    fputs("</p>\n<table>\n<tr>", f);
    for (size_t c = 0; c < VB_DEMOG_COLUMNS; c++) {
        fputs("<th>", f);
        esc(f, vb_demog_columns[c]);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    vb_demog_table(d, a, demog_line, f);
    fputs("</table>\n", f);
    snprintf(alt, sizeof alt, "DET per %s group: FNMR of each group against the FMR of its same-group impostor pairs",
             a->name);
    plot(f, r, a->det_plot, alt);
}

/* Error rates per group of each sample attribute (reports/demographics.h). */
static void demographics(FILE *f, const vb_results *r)
{
    int any = 0;
    for (int i = 0; i < r->n_combos; i++)
        any |= r->combos[i].demog && r->combos[i].demog->n_attrs;
    if (!any)
        return;
    fputs("<h2 id=\"demographics\">Demographic differentials</h2>\n", f);
    for (int i = 0; i < r->n_combos; i++)
        for (size_t j = 0; r->combos[i].demog && j < r->combos[i].demog->n_attrs; j++)
            demog_attr(f, r, r->combos[i].label, r->combos[i].demog, &r->combos[i].demog->attr[j]);
}

static void latency(FILE *f, const vb_results *r)
{
    fputs("<h2 id=\"latency\">Latency</h2>\n<table><tr><th>combination</th><th>faces/s</th><th>ms/face "
          "(backend)</th><th>ms/image (decode + inference, wall)</th><th>timed images</th></tr>\n", f);
    for (int i = 0; i < r->n_combos; i++) {
        const vb_result_combo *k = &r->combos[i];
        char a[32], b[32], c[32];
        fputs("<tr><td><code>", f);
        esc(f, k->label);
        fprintf(f, "</code></td><td class=n>%s</td><td class=n>%s</td><td class=n>%s</td><td class=n>%zu</td></tr>\n",
                k->faces_per_s > 0 ? vb_fmt_num(k->faces_per_s, "%.1f", a) : "n/a", vb_fmt_num(k->ms_per_face, "%.3f", b),
                k->timed_images ? vb_fmt_num(k->timed_wall_ms / k->timed_images, "%.3f", c) : "n/a", k->timed_images);
    }
    fputs("</table>\n", f);
    for (int i = 0; i < r->n_combos; i++) {
        const vb_result_combo *k = &r->combos[i];
        if (!k->n_layers || !k->timed_images || !k->layer_names || !k->layer_ms)
            continue;
        fputs("<details><summary>per layer: <code>", f);
        esc(f, k->label);
        fputs("</code></summary>\n<table><tr><th>layer</th><th>ms/image</th></tr>\n", f);
        for (int l = 0; l < k->n_layers; l++) {
            fputs("<tr><td><code>", f);
            esc(f, k->layer_names[l]);
            fprintf(f, "</code></td><td class=n>%.4f</td></tr>\n", k->layer_ms[l] / (double)k->timed_images);
        }
        fputs("</table></details>\n", f);
    }
}

static void face(FILE *f, const vb_results *r, const char *chip, const char *id)
{
    if (chip && *chip)
        inline_png(f, r, chip, id, "chip");
    else
        fputs("<span class=\"note\">(no image)</span>", f);
}

static void pair_card(FILE *f, const vb_results *r, const vb_gallery_pair *p)
{
    char s[32];
    vb_format_double(p->score, s);
    fprintf(f, "<div class=\"pair %s\">", p->genuine ? "gen" : "imp");
    face(f, r, p->chip_a, p->id_a);
    face(f, r, p->chip_b, p->id_b);
    fprintf(f, "<br>score <b>%s</b><br><code>", s);
    esc(f, p->path_a);
    fputs("</code><br><code>", f);
    esc(f, p->path_b);
    fputs("</code></div>\n", f);
}

static void gallery(FILE *f, const vb_results *r)
{
    fputs("<h2 id=\"gallery\">Worst errors</h2>\n<p>Per combination: the impostor pairs scored most alike "
          "and the genuine pairs scored least alike (failures to acquire excluded), each as the two face "
          "crops the model saw.</p>\n", f);
    for (int i = 0; i < r->n_combos; i++) {
        const vb_result_combo *k = &r->combos[i];
        fputs("<h3><code>", f);
        esc(f, k->label);
        fputs("</code></h3>\n", f);
        if (!k->n_gallery) {
            fputs("<p class=\"note\">no gallery for this combination</p>\n", f);
            continue;
        }
        for (int genuine = 0; genuine <= 1; genuine++) {
            fprintf(f, "<h4>%s</h4>\n<div class=\"pairs\">\n",
                    genuine ? "Genuine pairs scored least alike (false non-matches first)"
                            : "Impostor pairs scored most alike (false matches first)");
            for (size_t g = 0; g < k->n_gallery; g++)
                if (k->gallery[g].genuine == genuine)
                    pair_card(f, r, &k->gallery[g]);
            fputs("</div>\n", f);
        }
    }
}

static void failures(FILE *f, const vb_results *r)
{
    if (!r->n_fta || !r->fta)
        return;
    fputs("<h2 id=\"failures\">Failures to acquire</h2>\n<table><tr><th>sample</th><th>reason</th></tr>\n", f);
    size_t shown = 0;
    for (; shown < r->n_fta && shown < 50; shown++) {
        fputs("<tr><td><code>", f);
        esc(f, r->fta[shown].sample);
        fputs("</code></td><td>", f);
        esc(f, r->fta[shown].reason);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
    if (r->n_fta > shown)
        fprintf(f, "<p>… %zu more in failures.csv</p>\n", r->n_fta - shown);
}

static void provenance(FILE *f, const vb_results *r)
{
    fputs("<h2 id=\"provenance\">Provenance</h2>\n", f);
    if (!r->n_provenance) {
        fputs("<p class=\"note\">see provenance.csv</p>\n", f);
        return;
    }
    fputs("<table><tr><th>scope</th><th>key</th><th>value</th></tr>\n", f);
    for (size_t i = 0; i < r->n_provenance; i++) {
        const vb_provenance_kv *p = &r->provenance[i];
        fputs("<tr><td>", f);
        esc(f, p->scope);
        fputs("</td><td><code>", f);
        esc(f, p->key);
        fputs("</code></td><td><code>", f);
        esc(f, p->value);
        fputs("</code></td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

int vb_report_write_html(FILE *f, const vb_results *r)
{
    header(f, r);
    summary(f, r);
    fputs("<h2 id=\"metrics\">Metrics</h2>\n<p>Every row of metrics.csv with its unit and meaning; "
          "thresholds are in the run&#39;s units (euclidean distance, accept when distance &lt;= "
          "threshold).</p>\n", f);
    for (int i = 0; i < r->n_combos; i++)
        metrics_table(f, &r->combos[i]);
    plots(f, r);
    demographics(f, r);
    latency(f, r);
    gallery(f, r);
    failures(f, r);
    provenance(f, r);
    fputs("<p class=\"note\">Files: metrics.csv, scores/, latency.csv, provenance.csv, failures.csv, "
          "report.md.</p>\n</body></html>\n", f);
    return ferror(f);
}

/* ---- a run over faces and prints: one results folder per modality, one page above ---- */

static void modality_rows(FILE *f, const vb_modality_results *mr)
{
    const vb_results *r = mr->r;
    for (int i = 0; i < r->n_combos; i++) {
        const vb_result_combo *k = &r->combos[i];
        vb_metrics blank;
        const vb_metrics *m = metrics_of(k, &blank);
        char a[32], b[32], c[32], d[32];
        fputs("<tr><td>", f);
        esc(f, mr->modality);
        fputs("</td><td><code>", f);
        esc(f, r->model_path);
        fprintf(f, "</code></td><td class=n>%u</td><td class=n>%llu</td><td class=n>%llu</td><td class=n>%llu</td>"
                   "<td><code>",
                r->n_samples, r->n_trials, r->n_genuine, r->n_impostor);
        esc(f, k->label);
        fprintf(f, "</code></td><td class=n>%s</td><td class=n>%s</td><td class=n>%s / %s at %.3g</td>"
                   "<td class=n>%zu</td></tr>\n",
                vb_fmt_pct(m->eer, a), vb_fmt_pct(m->fnmr_at_fmr[VB_FMR_1E3].fnmr, b),
                vb_fmt_pct(m->fmr_at_threshold, c), vb_fmt_pct(m->fnmr_at_threshold, d), r->threshold, k->n_failed);
    }
}

/* The DET curves of every modality in one row. */
static void modality_dets(FILE *f, const vb_modality_results *m, size_t n)
{
    fputs("<h2 id=\"det\">DET curves</h2>\n<div class=\"dets\">\n", f);
    for (size_t i = 0; i < n; i++) {
        char alt[96];
        snprintf(alt, sizeof alt, "DET: %s", m[i].modality);
        if (m[i].r->det_plot && *m[i].r->det_plot) {
            plot(f, m[i].r, m[i].r->det_plot, alt);
            continue;
        }
        fputs("<p class=\"note\">", f);
        esc(f, alt);
        fputs(": plots skipped (gnuplot not available or --no-plots)</p>\n", f);
    }
    fputs("</div>\n", f);
}

int vb_report_write_modalities_html(FILE *f, const char *dataset_spec, const vb_modality_results *m, size_t n)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>veribench report: ", f);
    esc(f, dataset_spec);
    fprintf(f, "</title>\n<style>%s.dets{display:flex;gap:12px}.dets figure{flex:1;min-width:0}</style></head>"
               "<body>\n<h1>veribench report: <code>", style);
    esc(f, dataset_spec);
    fprintf(f, "</code></h1>\n<p>The dataset holds %zu modalities. Each is evaluated by its own model over the trials "
               "between its own samples (a face is never compared with a print), in a results folder of its own:", n);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", <a href=\"" : " <a href=\"", f);
        esc(f, m[i].dir);
        fputs("/report.html\">", f);
        esc(f, m[i].dir);
        fputs("/report.html</a>", f);
    }
    fputs(". Thresholds are in each model&#39;s units.</p>\n<h2 id=\"summary\">Summary</h2>\n<table><tr><th>modality"
          "</th><th>model</th><th>samples</th><th>trials</th><th>genuine</th><th>impostor</th><th>combination</th>"
          "<th>EER</th><th>FNMR@FMR=1e-3</th><th>FMR / FNMR at threshold</th><th>FTA samples</th></tr>\n", f);
    for (size_t i = 0; i < n; i++)
        modality_rows(f, &m[i]);
    fputs("</table>\n", f);
    modality_dets(f, m, n);
    for (size_t i = 0; i < n; i++) {
        fputs("<h2>Metrics: ", f);
        esc(f, m[i].modality);
        fputs("</h2>\n", f);
        for (int k = 0; k < m[i].r->n_combos; k++)
            metrics_table(f, &m[i].r->combos[k]);
    }
    fputs("</body></html>\n", f);
    return ferror(f);
}
