/* The results model from a results folder (reports/results_load.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/csv_read.h"
#include "core/parse.h"
#include "reports/results_load.h"
#include "reports/demographics.h"

/* A copy of text owned by the store (NULL reads as ""); NULL on allocation failure. */
static const char *keep(vb_results_store *st, const char *text, vb_err *e)
{
    if (st->n_strings == st->cap_strings) {
        size_t cap = st->cap_strings ? 2 * st->cap_strings : 64;
        char **n = realloc(st->strings, cap * sizeof *n);
        if (!n) {
            vb_fail(e, VB_EXIT_IO, "out of memory");
            return NULL;
        }
        st->strings = n, st->cap_strings = cap;
    }
    char *s = strdup(text ? text : "");
    if (!s) {
        vb_fail(e, VB_EXIT_IO, "out of memory");
        return NULL;
    }
    st->strings[st->n_strings++] = s;
    return s;
}

void vb_results_store_free(vb_results_store *st)
{
    for (size_t i = 0; i < st->n_strings; i++)
        free(st->strings[i]);
    free(st->strings);
    for (int i = 0; i < st->n_combos; i++) {
        free(st->gallery ? st->gallery[i] : NULL);
        free(st->layer_names ? st->layer_names[i] : NULL);
        free(st->layer_ms ? st->layer_ms[i] : NULL);
    }
    free(st->gallery);
    free(st->layer_names);
    free(st->layer_ms);
    free(st->combos);
    for (int i = 0; st->demog && i < st->n_combos; i++)
        vb_demog_free(st->demog[i]);
    free(st->demog);
    free(st->marks);
    free(st->mark_labels);
    free(st->fta);
    free(st->prov);
    memset(st, 0, sizeof *st);
}

/* ------------------------------------------------------------------ metrics */

unsigned vb_results_groups_complete(const unsigned char *present)
{
    unsigned seen = 0, missing = 0;
    for (size_t i = 0; i < vb_metric_row_count; i++) {
        unsigned g = vb_metric_rows[i].groups;
        if (g & (g - 1))
            continue; /* shared between groups: says nothing about either */
        if (present[i])
            seen |= g;
        else
            missing |= g;
    }
    return seen & ~missing;
}

static void metrics_from_rows(const vb_rf_combo *c, vb_metrics *m, unsigned char *present)
{
    vb_metrics_init(m);
    memset(present, 0, vb_metric_row_count);
    for (size_t i = 0; i < c->n_rows; i++) {
        const vb_metric_row *r = vb_metric_find(c->rows[i].name);
        if (!r)
            continue; /* a row of another version: kept in metrics.csv, not reported */
        *(double *)((char *)m + r->offset) = c->rows[i].value;
        present[r - vb_metric_rows] = 1;
    }
    m->have = vb_results_groups_complete(present);
}

static const char *prov_or(const vb_results_folder *rf, const char *scope, const char *key, const char *dflt)
{
    const char *v = vb_rf_provenance(rf, scope, key);
    return v ? v : dflt;
}

static size_t count_of(double v)
{
    return isnan(v) || v < 0 ? 0 : (size_t)v;
}

/* The demographic rows of c (reports/demographics.h), with the level and thresholds of the
 * combination's metrics and the per-group DET plots found under dir; NULL when c has none. */
static int demog_from_rows(const vb_rf_combo *c, const vb_metrics *m, const char *dir, const char *label,
                           vb_demog **out, vb_err *e)
{
    vb_demog *d = NULL;
    for (size_t i = 0; i < c->n_rows; i++) {
        vb_demog_name name;
        if (!vb_demog_parse_name(c->rows[i].name, &name))
            continue;
        if (!d && !(d = vb_demog_new(e)))
            return -1;
        if (vb_demog_set_row(d, c->rows[i].name, c->rows[i].value) < 0) {
            vb_demog_free(d);
            return vb_fail(e, VB_EXIT_INPUT, "%s/metrics.csv:%ld: %s: more attributes, groups or points than a "
                           "report holds", dir, c->rows[i].line, c->rows[i].name);
        }
    }
    if (d) {
        vb_demog_set_context(d, m);
        for (size_t a = 0; a < d->n_attrs; a++) {
            char stem[sizeof d->attr[a].det_plot], path[8192];
            snprintf(stem, sizeof stem, "plots/demog-%s-%s", label, d->attr[a].name);
            snprintf(path, sizeof path, "%s/%s.png", dir, stem);
            if (access(path, R_OK) == 0)
                memcpy(d->attr[a].det_plot, stem, sizeof stem);
        }
    }
    *out = d;
    return 0;
}

/* One combination: identity, typed metrics, device from provenance, plot stem. */
static int fill_combo(const vb_results_folder *rf, const char *dir, int i, vb_results_store *st, vb_err *e)
{
    const vb_rf_combo *c = &rf->combos[i];
    vb_result_combo *k = &st->combos[i];
    unsigned char *present = malloc(vb_metric_row_count);
    if (!present)
        return vb_fail(e, VB_EXIT_IO, "out of memory");
    metrics_from_rows(c, &k->metrics, present);
    free(present);
    const vb_metrics *m = &k->metrics;
    k->has_metrics = m->have != 0;
    snprintf(k->label, sizeof k->label, "%s-%s-%s", c->backend, c->device, c->quant);
    snprintf(k->backend, sizeof k->backend, "%s", c->backend);
    snprintf(k->device, sizeof k->device, "%s", c->device);
    snprintf(k->quant, sizeof k->quant, "%s", c->quant);
    snprintf(k->device_name, sizeof k->device_name, "%s", prov_or(rf, k->label, "device_name", "unknown"));
    snprintf(k->device_type, sizeof k->device_type, "%s", prov_or(rf, k->label, "device_type", "unknown"));
    snprintf(k->driver, sizeof k->driver, "%s", prov_or(rf, k->label, "driver", "unknown"));
    snprintf(k->weights_note, sizeof k->weights_note, "%s", prov_or(rf, k->label, "weights", ""));
    k->uses_fp16 = !strcmp(prov_or(rf, k->label, "fp16_in_use", "no"), "yes");
    k->model_bytes = count_of(m->model_bytes);
    k->n_samples = count_of(m->samples);
    k->n_failed = count_of(m->fta_samples);
    k->n_ok = k->n_samples - (k->n_failed <= k->n_samples ? k->n_failed : k->n_samples);
    k->faces_per_s = m->faces_per_s;
    k->ms_per_face = m->ms_per_face;
    k->has_drift = (m->have & VB_MG_VS_FP32) && !isnan(m->cosine_vs_fp32_mean);
    k->drift_mean = m->cosine_vs_fp32_mean, k->drift_worst = m->cosine_vs_fp32_min;
    char path[8192];
    snprintf(path, sizeof path, "%s/plots/hist-%s.png", dir, k->label);
    if (access(path, R_OK) == 0)
        snprintf(k->hist_plot, sizeof k->hist_plot, "plots/hist-%s", k->label);
    if (m->have & VB_MG_CALIBRATION) { /* the calibrated point, as the run marks it */
        snprintf(st->mark_labels[i], sizeof st->mark_labels[i], "cal FMR %g", m->calibrated_target_fmr);
        st->marks[i] = (vb_det_mark){st->mark_labels[i], m->calibrated_fmr, m->calibrated_fnmr};
        k->extra_marks = &st->marks[i], k->n_extra_marks = 1;
    }
    if (demog_from_rows(c, m, dir, k->label, &st->demog[i], e))
        return -1;
    k->demog = st->demog[i];
    return 0;
}

/* ------------------------------------------------------------------ optional CSV files */

static int combo_index(const vb_results_store *st, const char *label)
{
    for (int i = 0; i < st->n_combos; i++)
        if (!strcmp(st->combos[i].label, label))
            return i;
    return -1;
}


typedef struct load_ctx {
    vb_results_store *st;
    vb_results *out;
    int col[10];
} load_ctx;

static const char *const failure_columns[] = {"sample", "path", "reason"};

static int failure_row(void *arg, const vb_csv_row *row, vb_err *e)
{
    load_ctx *ctx = arg;
    if (row->index == 0)
        return vb_csv_header(row, failure_columns, 3, 3, ctx->col, e);
    if (row->n != 3)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: %zu fields, expected 3", row->file, row->line, row->n);
    vb_fta_entry *n = realloc(ctx->st->fta, (ctx->out->n_fta + 1) * sizeof *n);
    if (!n)
        return vb_fail(e, VB_EXIT_IO, "out of memory");
    ctx->st->fta = n;
    vb_fta_entry *f = &n[ctx->out->n_fta];
    if (!(f->sample = keep(ctx->st, row->f[ctx->col[0]], e)) || !(f->reason = keep(ctx->st, row->f[ctx->col[2]], e)))
        return -1;
    ctx->out->n_fta++;
    return 0;
}

static const char *const gallery_columns[] = {"combo", "kind", "rank", "score", "a", "b",
                                              "path_a", "path_b", "chip_a", "chip_b"};

/* report.html inlines chips: a gallery.csv naming an absolute path, a ".." component or a
 * name too long to keep could make it inline a file from outside the folder. */
static int chip_path_ok(const char *chip)
{
    if (chip[0] == '/' || strlen(chip) >= sizeof(((vb_gallery_pair *)0)->chip_a))
        return 0;
    for (const char *p = chip; (p = strstr(p, "..")); p += 2)
        if ((p == chip || p[-1] == '/') && (p[2] == 0 || p[2] == '/'))
            return 0;
    return 1;
}

static int gallery_pair_of(load_ctx *ctx, const vb_csv_row *row, vb_gallery_pair *p, vb_err *e)
{
    const char *kind = row->f[ctx->col[1]];
    if (strcmp(kind, "genuine") && strcmp(kind, "impostor"))
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: kind '%s' is neither genuine nor impostor", row->file, row->line,
                       kind);
    p->genuine = !strcmp(kind, "genuine");
    const char *score = row->f[ctx->col[3]];
    if (strcasecmp(score, "nan") && vb_parse_real(score, 1, &p->score))
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: score '%s' is not a number", row->file, row->line, score);
    if (!strcasecmp(score, "nan"))
        p->score = NAN;
    if (!(p->id_a = keep(ctx->st, row->f[ctx->col[4]], e)) || !(p->id_b = keep(ctx->st, row->f[ctx->col[5]], e)) ||
        !(p->path_a = keep(ctx->st, row->f[ctx->col[6]], e)) || !(p->path_b = keep(ctx->st, row->f[ctx->col[7]], e)))
        return -1;
    for (int k = 8; k <= 9; k++)
        if (!chip_path_ok(row->f[ctx->col[k]]))
            return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: %s '%s' is not a file inside the results folder", row->file,
                           row->line, gallery_columns[k], row->f[ctx->col[k]]);
    snprintf(p->chip_a, sizeof p->chip_a, "%s", row->f[ctx->col[8]]);
    snprintf(p->chip_b, sizeof p->chip_b, "%s", row->f[ctx->col[9]]);
    return 0;
}

/* Rows go to the combination with that label; a label no combination has is an error. */
static int gallery_row(void *arg, const vb_csv_row *row, vb_err *e)
{
    load_ctx *ctx = arg;
    if (row->index == 0)
        return vb_csv_header(row, gallery_columns, 10, 10, ctx->col, e);
    if (row->n != 10)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: %zu fields, expected 10", row->file, row->line, row->n);
    vb_results_store *st = ctx->st;
    int i = combo_index(st, row->f[ctx->col[0]]);
    if (i < 0)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: combination '%s' is not in metrics.csv", row->file, row->line,
                       row->f[ctx->col[0]]);
    vb_result_combo *k = &st->combos[i];
    vb_gallery_pair *n = realloc(st->gallery[i], (k->n_gallery + 1) * sizeof *n);
    if (!n)
        return vb_fail(e, VB_EXIT_IO, "out of memory");
    st->gallery[i] = n, k->gallery = n;
    memset(&n[k->n_gallery], 0, sizeof *n);
    if (gallery_pair_of(ctx, row, &n[k->n_gallery], e))
        return -1;
    k->n_gallery++;
    return 0;
}

static const char *const latency_columns[] = {"backend", "device", "quant", "stage", "images", "total_ms",
                                              "ms_per_image"};

static int add_layer(vb_results_store *st, int i, const char *name, double total_ms, vb_err *e)
{
    vb_result_combo *k = &st->combos[i];
    size_t n = (size_t)k->n_layers + 1;
    char(*names)[96] = realloc(st->layer_names[i], n * sizeof *names);
    if (names)
        st->layer_names[i] = names;
    double *ms = names ? realloc(st->layer_ms[i], n * sizeof *ms) : NULL;
    if (!ms)
        return vb_fail(e, VB_EXIT_IO, "out of memory");
    st->layer_ms[i] = ms;
    snprintf(names[n - 1], sizeof names[n - 1], "%s", name);
    ms[n - 1] = total_ms;
    k->layer_names = (const char(*)[96])names, k->layer_ms = ms, k->n_layers = (int)n;
    return 0;
}

/* Rows of combinations metrics.csv does not have are ignored: latency is an addition. */
static int latency_row(void *arg, const vb_csv_row *row, vb_err *e)
{
    load_ctx *ctx = arg;
    if (row->index == 0)
        return vb_csv_header(row, latency_columns, 7, 7, ctx->col, e);
    if (row->n != 7)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: %zu fields, expected 7", row->file, row->line, row->n);
    char label[512];
    snprintf(label, sizeof label, "%s-%s-%s", row->f[ctx->col[0]], row->f[ctx->col[1]], row->f[ctx->col[2]]);
    int i = combo_index(ctx->st, label);
    const char *stage = row->f[ctx->col[3]];
    uint64_t images;
    double total, per_image;
    if (vb_parse_uint(row->f[ctx->col[4]], UINT64_MAX, &images) || vb_parse_real(row->f[ctx->col[5]], 0, &total) ||
        vb_parse_real(row->f[ctx->col[6]], 0, &per_image))
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: images, total_ms or ms_per_image is not a number", row->file,
                       row->line);
    if (i < 0)
        return 0;
    vb_result_combo *k = &ctx->st->combos[i];
    if (!strcmp(stage, "embed_wall"))
        k->timed_images = images, k->timed_wall_ms = total;
    else if (!strncmp(stage, "layer:", 6))
        return add_layer(ctx->st, i, stage + 6, per_image * (double)images, e); /* the report shows per image */
    return 0;
}

/* An optional file: absent is fine, present must parse. */
static int read_optional(const char *dir, const char *name, vb_csv_row_fn fn, load_ctx *ctx, vb_err *e)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (access(path, F_OK) != 0)
        return 0;
    return vb_csv_read(path, fn, ctx, e);
}

/* ------------------------------------------------------------------ the whole model */

static const char *plot_stem(const char *dir, const char *stem, int *found)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s.png", dir, stem);
    if (access(path, R_OK) != 0)
        return "";
    *found = 1;
    return stem;
}

static unsigned long long count_text(const char *text)
{
    uint64_t v = 0;
    return text && vb_parse_uint(text, UINT64_MAX, &v) == 0 ? v : 0;
}

/* Run-wide fields: provenance, protocol counts, plots, the model threshold. */
static int fill_run(const vb_results_folder *rf, const char *dir, vb_results_store *st, vb_results *r, vb_err *e)
{
    r->dataset_spec = prov_or(rf, "run", "dataset", "unknown");
    r->model_path = prov_or(rf, "run", "model_path", "unknown");
    r->model_sha = prov_or(rf, "run", "model_sha256", "unknown");
    /* "preprocess" (crop:BOX, align:...); folders from before it name only the crop box */
    r->crop_text = prov_or(rf, "run", "preprocess", prov_or(rf, "run", "crop", "unknown"));
    r->commit = prov_or(rf, "run", "git_commit", "unknown");
    r->kind = prov_or(rf, "run", "dataset_kind", "unknown");
    r->folds = prov_or(rf, "run", "folds", "");
    r->n_samples = (unsigned)count_text(vb_rf_provenance(rf, "run", "samples"));
    r->n_trials = count_text(vb_rf_provenance(rf, "run", "trials"));
    r->threshold = NAN;
    for (int i = 0; i < st->n_combos; i++) {
        const vb_metrics *m = &st->combos[i].metrics;
        if (i == 0)
            r->n_genuine = count_of(m->genuine), r->n_impostor = count_of(m->impostor);
        if (isnan(r->threshold) && (m->have & VB_MG_MODEL_THRESHOLD))
            r->threshold = (float)m->threshold;
        if (!r->n_folds && (m->have & VB_MG_KFOLD))
            r->n_folds = (unsigned)count_of(m->accuracy_10fold_folds);
    }
    r->out_dir = dir;
    int found = 0;
    r->det_plot = plot_stem(dir, "plots/det", &found);
    r->roc_plot = plot_stem(dir, "plots/roc", &found);
    r->quant_plot = plot_stem(dir, "plots/quant-sweep", &found);
    r->plots_skipped = !found;
    r->plot_error = "";
    if (!(st->prov = vb_calloc(rf->n_prov + 1, sizeof *st->prov, e)))
        return -1;
    for (size_t i = 0; i < rf->n_prov; i++)
        st->prov[i] = (vb_provenance_kv){rf->prov[i].scope, rf->prov[i].key, rf->prov[i].value};
    r->provenance = st->prov, r->n_provenance = rf->n_prov;
    return 0;
}

static int load(const vb_results_folder *rf, const char *dir, vb_results_store *st, vb_results *out, vb_err *e)
{
    st->n_combos = (int)rf->n_combos;
    size_t n = rf->n_combos + 1;
    if (!(st->combos = vb_calloc(n, sizeof *st->combos, e)) || !(st->gallery = vb_calloc(n, sizeof *st->gallery, e)) ||
        !(st->layer_names = vb_calloc(n, sizeof *st->layer_names, e)) || !(st->layer_ms = vb_calloc(n, sizeof *st->layer_ms, e)) ||
        !(st->marks = vb_calloc(n, sizeof *st->marks, e)) || !(st->demog = vb_calloc(n, sizeof *st->demog, e)) || !(st->mark_labels = vb_calloc(n, sizeof *st->mark_labels, e)))
        return -1;
    for (int i = 0; i < st->n_combos; i++)
        if (fill_combo(rf, dir, i, st, e))
            return -1;
    out->combos = st->combos, out->n_combos = st->n_combos;
    if (fill_run(rf, dir, st, out, e))
        return -1;
    load_ctx ctx = {.st = st, .out = out};
    if (read_optional(dir, "failures.csv", failure_row, &ctx, e) || read_optional(dir, "gallery.csv", gallery_row, &ctx, e) ||
        read_optional(dir, "latency.csv", latency_row, &ctx, e))
        return -1;
    out->fta = st->fta;
    return 0;
}

int vb_results_from_folder(const vb_results_folder *rf, const char *dir, vb_results_store *st, vb_results *out,
                           vb_err *e)
{
    memset(st, 0, sizeof *st);
    memset(out, 0, sizeof *out);
    if (load(rf, dir, st, out, e)) {
        vb_results_store_free(st);
        memset(out, 0, sizeof *out);
        return -1;
    }
    return 0;
}
