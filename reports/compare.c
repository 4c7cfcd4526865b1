/* Device comparison across results folders (reports/compare.h). */
#include "reports/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/csv_read.h"
#include "core/csv_write.h"
#include "core/parse.h"
#include "reports/format.h"
#include "reports/metrics.h"
#include "reports/plot.h"
#include "reports/results_read.h"
#include "reports/score_bin.h"
#include "reports/score_file.h"

static vb_compare_row *new_row(vb_comparison *c, const char *dir, vb_err *e)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        vb_compare_row *r = realloc(c->rows, cap * sizeof *r);
        if (!r) {
            vb_fail(e, VB_EXIT_IO, "out of memory");
            return NULL;
        }
        c->rows = r, c->cap = cap;
    }
    vb_compare_row *r = &c->rows[c->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->folder, sizeof r->folder, "%s", dir);
    r->eer = r->fnmr_1e3 = r->threshold = r->false_matches = r->false_nonmatches = NAN;
    r->p50_ms = r->p99_ms = r->throughput = NAN;
    return r;
}

#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src) ? (src) : "")

static double row_value(const vb_rf_combo *k, const char *name)
{
    double v = NAN;
    vb_rf_value(k, name, &v);
    return v;
}

/* ---------------------------------------------------------- bench-latency files */

typedef struct lat_metric {
    char key[4][256]; /* backend, device, quant, dataset */
    char scenario[32], name[64];
    double value;
} lat_metric;

typedef struct lat_ctx {
    lat_metric *m;
    size_t n, cap;
    int col[7];
    vb_results_folder prov; /* only its prov rows are used */
} lat_ctx;

static const char *const lat_columns[7] = {"backend", "device", "quant", "dataset", "scenario", "metric", "value"};

static int lat_row(void *ctx_, const vb_csv_row *row, vb_err *e)
{
    lat_ctx *x = ctx_;
    if (row->index == 0)
        return vb_csv_header(row, lat_columns, 7, 7, x->col, e);
    if (row->n != 7)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: %zu fields, expected 7", row->file, row->line, row->n);
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 64;
        lat_metric *m = realloc(x->m, cap * sizeof *m);
        if (!m)
            return vb_fail(e, VB_EXIT_IO, "out of memory");
        x->m = m, x->cap = cap;
    }
    lat_metric *m = &x->m[x->n++];
    memset(m, 0, sizeof *m);
    for (int k = 0; k < 4; k++)
        COPY(m->key[k], row->f[x->col[k]]);
    COPY(m->scenario, row->f[x->col[4]]);
    COPY(m->name, row->f[x->col[5]]);
    const char *v = row->f[x->col[6]];
    if (!strcasecmp(v, "nan"))
        m->value = NAN;
    else if (vb_parse_real(v, 1, &m->value))
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: value '%s' is not a number", row->file, row->line, v);
    return 0;
}

static double lat_value(const lat_ctx *x, const vb_compare_row *r, const char *scenario, const char *name)
{
    for (size_t i = 0; i < x->n; i++) {
        const lat_metric *m = &x->m[i];
        if (!strcmp(m->key[0], r->backend) && !strcmp(m->key[1], r->device) && !strcmp(m->key[2], r->quant) &&
            !strcmp(m->scenario, scenario) && !strcmp(m->name, name))
            return m->value;
    }
    return NAN;
}

static int lat_has(const lat_ctx *x, const vb_compare_row *r, const char *scenario)
{
    return !isnan(lat_value(x, r, scenario, "valid"));
}

/* Fills a row's latency columns from the folder's bench-latency files. */
static void join_latency(const lat_ctx *x, vb_compare_row *r)
{
    char label[160];
    snprintf(label, sizeof label, "%s-%s-%s", r->backend, r->device, r->quant);
    if (lat_has(x, r, "single-stream")) {
        r->has_latency = 1;
        r->p50_ms = lat_value(x, r, "single-stream", "p50_ms");
        r->p99_ms = lat_value(x, r, "single-stream", "p99_ms");
        const char *v = vb_rf_provenance(&x->prov, label, "single_stream_verdict");
        if (v && strcmp(v, "VALID"))
            snprintf(r->ss_verdict, sizeof r->ss_verdict, "INVALID: %s", v);
        else
            COPY(r->ss_verdict, v ? "VALID" : "");
    }
    if (lat_has(x, r, "offline")) {
        r->has_offline = 1;
        r->throughput = lat_value(x, r, "offline", "samples_per_s");
        COPY(r->throughput_source, "offline samples/s");
        const char *v = vb_rf_provenance(&x->prov, label, "offline_verdict");
        if (v && strcmp(v, "VALID"))
            snprintf(r->off_verdict, sizeof r->off_verdict, "INVALID: %s", v);
        else
            COPY(r->off_verdict, v ? "VALID" : "");
    }
    if (!r->device_name[0]) {
        COPY(r->device_name, vb_rf_provenance(&x->prov, label, "device_name"));
        COPY(r->device_type, vb_rf_provenance(&x->prov, label, "device_type"));
        COPY(r->driver, vb_rf_provenance(&x->prov, label, "driver"));
    }
    if (!r->host[0])
        COPY(r->host, vb_rf_provenance(&x->prov, "run", "host"));
    if (!r->model_sha[0])
        COPY(r->model_sha, vb_rf_provenance(&x->prov, "run", "model_sha256"));
}

/* ---------------------------------------------------------------- the folder */

static int exists(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, R_OK) == 0;
}

static int read_latency(const char *dir, lat_ctx *x, vb_err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/bench-latency.csv", dir);
    if (vb_csv_read(path, lat_row, x, e))
        return -1;
    /* the provenance file has run's format: read it with the results reader's rules */
    snprintf(path, sizeof path, "%s/bench-latency-provenance.csv", dir);
    return vb_provenance_read(path, &x->prov, e);
}

int vb_compare_add_folder(vb_comparison *c, const char *dir, vb_err *e)
{
    int has_run = exists(dir, "metrics.csv"), has_lat = exists(dir, "bench-latency.csv");
    if (!has_run && !has_lat)
        return vb_fail(e, VB_EXIT_INPUT, "%s: neither metrics.csv (veribench run) nor bench-latency.csv "
                                         "(veribench bench-latency --out)", dir);
    lat_ctx x;
    memset(&x, 0, sizeof x);
    vb_results_folder rf;
    memset(&rf, 0, sizeof rf);
    int rc = -1;
    if (has_lat && read_latency(dir, &x, e))
        goto done;
    if (has_run && vb_results_folder_read(dir, &rf, e))
        goto done;
    size_t first = c->n;
    for (size_t i = 0; i < rf.n_combos; i++) {
        const vb_rf_combo *k = &rf.combos[i];
        vb_compare_row *r = new_row(c, dir, e);
        if (!r)
            goto done;
        COPY(r->backend, k->backend);
        COPY(r->device, k->device);
        COPY(r->quant, k->quant);
        COPY(r->dataset, k->dataset);
        char label[160];
        snprintf(label, sizeof label, "%s-%s-%s", k->backend, k->device, k->quant);
        COPY(r->device_name, vb_rf_provenance(&rf, label, "device_name"));
        COPY(r->device_type, vb_rf_provenance(&rf, label, "device_type"));
        COPY(r->driver, vb_rf_provenance(&rf, label, "driver"));
        COPY(r->host, vb_rf_provenance(&rf, "run", "host"));
        COPY(r->model_sha, vb_rf_provenance(&rf, "run", "model_sha256"));
        COPY(r->dataset_fp, vb_rf_provenance(&rf, "run", "dataset_fingerprint"));
        const char *units = vb_rf_provenance(&rf, "run", "score_units");
        r->is_distance = !units || strstr(units, "lower = more alike") != NULL;
        r->has_accuracy = 1;
        r->eer = row_value(k, "eer");
        r->fnmr_1e3 = row_value(k, "fnmr@fmr=1e-3");
        r->threshold = row_value(k, "threshold");
        r->false_matches = row_value(k, "false_matches@threshold");
        r->false_nonmatches = row_value(k, "false_nonmatches@threshold");
        r->throughput = row_value(k, "faces_per_s");
        COPY(r->throughput_source, isnan(r->throughput) ? "" : "run faces/s (backend)");
        /* the binary score file of a run (reports/score_bin.h), else an older folder's CSV */
        snprintf(r->scores_path, sizeof r->scores_path, "%s/scores/%s" VB_SCORE_BIN_EXT, dir, label);
        if (access(r->scores_path, R_OK) != 0)
            snprintf(r->scores_path, sizeof r->scores_path, "%s/scores/%s.csv.gz", dir, label);
        if (access(r->scores_path, R_OK) != 0)
            r->scores_path[0] = 0;
        if (has_lat)
            join_latency(&x, r);
    }
    /* bench-latency combinations without a run in this folder */
    for (size_t i = 0; i < x.n; i++) {
        const lat_metric *m = &x.m[i];
        int seen = 0;
        for (size_t j = first; j < c->n && !seen; j++)
            seen = !strcmp(c->rows[j].backend, m->key[0]) && !strcmp(c->rows[j].device, m->key[1]) &&
                   !strcmp(c->rows[j].quant, m->key[2]);
        if (seen)
            continue;
        vb_compare_row *r = new_row(c, dir, e);
        if (!r)
            goto done;
        COPY(r->backend, m->key[0]);
        COPY(r->device, m->key[1]);
        COPY(r->quant, m->key[2]);
        COPY(r->dataset, m->key[3]);
        join_latency(&x, r);
    }
    rc = 0;
done:
    free(x.m);
    vb_results_folder_free(&x.prov);
    vb_results_folder_free(&rf);
    if (rc)
        vb_err_prefix(e, "compare: ");
    return rc;
}

void vb_comparison_free(vb_comparison *c)
{
    free(c->rows);
    memset(c, 0, sizeof *c);
}

/* ---------------------------------------------------------------- the flags */

static int accepts(double score, double thr, int is_distance)
{
    return is_distance ? score < thr : score >= thr;
}

/* Trial-by-trial flips between two score files of the same protocol; -1 when they cannot be
 * compared (different trial counts or labels: then the counts bound is used). */
/* A score file of a results folder: binary (.vbs) or CSV. */
static int read_scores(const vb_compare_row *r, vb_scores *out, vb_err *e)
{
    return vb_score_bin_is(r->scores_path) ? vb_scores_read_bin(r->scores_path, out, e)
                                           : vb_scores_read_csv(r->scores_path, r->is_distance, out, e);
}

static long exact_flips(const vb_compare_row *a, const vb_compare_row *b, vb_err *e)
{
    vb_scores sa, sb;
    memset(&sa, 0, sizeof sa);
    memset(&sb, 0, sizeof sb);
    long flips = -2;
    if (read_scores(a, &sa, e) || read_scores(b, &sb, e))
        goto done;
    flips = -1;
    if (sa.n != sb.n)
        goto done;
    flips = 0;
    for (size_t i = 0; i < sa.n; i++) {
        if (sa.label[i] != sb.label[i]) {
            flips = -1;
            break;
        }
        flips += accepts(sa.score[i], a->threshold, a->is_distance) != accepts(sb.score[i], b->threshold, b->is_distance);
    }
done:
    vb_scores_free(&sa);
    vb_scores_free(&sb);
    return flips;
}

static int same_device(const vb_compare_row *a, const vb_compare_row *b)
{
    return !strcmp(a->host, b->host) && !strcmp(a->backend, b->backend) && !strcmp(a->device, b->device) &&
           !strcmp(a->driver, b->driver);
}

int vb_compare_flag(vb_comparison *c, size_t max_flips, vb_err *e)
{
    c->n_flagged = 0;
    for (size_t i = 0; i < c->n; i++) {
        vb_compare_row *a = &c->rows[i];
        if (!a->has_accuracy)
            continue;
        for (size_t j = 0; j < c->n; j++) {
            const vb_compare_row *b = &c->rows[j];
            if (j == i || !b->has_accuracy || same_device(a, b) || strcmp(a->model_sha, b->model_sha) ||
                strcmp(a->quant, b->quant) || strcmp(a->dataset_fp, b->dataset_fp) || !a->dataset_fp[0])
                continue;
            a->compared++;
            long flips = -1;
            const char *how = "exact, trial by trial";
            if (a->scores_path[0] && b->scores_path[0] && (flips = exact_flips(a, b, e)) == -2)
                return -1;
            if (flips < 0) {
                how = "at least, from the counts at the threshold";
                double d = fabs(a->false_matches - b->false_matches) + fabs(a->false_nonmatches - b->false_nonmatches);
                flips = isnan(d) ? 0 : (long)d;
            }
            if ((size_t)flips <= max_flips)
                continue;
            size_t len = strlen(a->flag);
            snprintf(a->flag + len, sizeof a->flag - len,
                     "%s%ld decisions flip against %s/%s on %s (%s; tolerance %zu, as veribench check); EER %+.4f pp",
                     len ? "; " : "", flips, b->backend, b->device, b->host[0] ? b->host : b->folder, how, max_flips,
                     100 * (a->eer - b->eer));
        }
        if (a->flag[0])
            c->n_flagged++;
    }
    return 0;
}

/* ---------------------------------------------------------------- output */

static const char *const csv_header =
    "folder,host,backend,device,device_name,device_type,driver,quant,dataset,eer,fnmr@fmr=1e-3,"
    "single_stream_p50_ms,single_stream_p99_ms,single_stream_verdict,throughput_per_s,throughput_source,"
    "offline_verdict,accuracy_compared,accuracy_flag";

int vb_compare_write_csv(FILE *f, const vb_comparison *c)
{
    fprintf(f, "%s\n", csv_header);
    for (size_t i = 0; i < c->n; i++) {
        const vb_compare_row *r = &c->rows[i];
        char v[5][32], compared[32];
        snprintf(compared, sizeof compared, "%zu", r->compared);
        vb_format_double(r->eer, v[0]);
        vb_format_double(r->fnmr_1e3, v[1]);
        vb_format_double(r->p50_ms, v[2]);
        vb_format_double(r->p99_ms, v[3]);
        vb_format_double(r->throughput, v[4]);
        const char *row[] = {r->folder, r->host,    r->backend,       r->device,     r->device_name,
                             r->device_type, r->driver, r->quant,     r->dataset,    r->has_accuracy ? v[0] : "",
                             r->has_accuracy ? v[1] : "", r->has_latency ? v[2] : "", r->has_latency ? v[3] : "",
                             r->ss_verdict, isnan(r->throughput) ? "" : v[4], r->throughput_source, r->off_verdict,
                             r->has_accuracy ? compared : "", r->flag};
        vb_csv_write_row(f, row, VB_ARRAY_LEN(row));
    }
    return ferror(f);
}

static void md_text(FILE *f, const char *s)
{
    for (; *s; s++)
        fputs(*s == '|' ? "\\|" : *s == '\n' ? " " : (char[2]){*s, 0}, f);
}

int vb_compare_write_md(FILE *f, const vb_comparison *c)
{
    fprintf(f, "| # | host | device | driver | backend | quant | dataset | EER | FNMR@FMR=1e-3 | p50 | p99 |"
               " single-stream | throughput | offline | accuracy |\n"
               "|---:|---|---|---|---|---|---|---:|---:|---:|---:|---|---:|---|---|\n");
    for (size_t i = 0; i < c->n; i++) {
        const vb_compare_row *r = &c->rows[i];
        char b[4][32];
        fprintf(f, "| %zu | ", i + 1);
        md_text(f, r->host);
        fputs(" | ", f);
        md_text(f, r->device_name[0] ? r->device_name : r->device);
        fputs(" | ", f);
        md_text(f, r->driver);
        fprintf(f, " | %s | %s | ", r->backend, r->quant);
        md_text(f, r->dataset);
        fprintf(f, " | %s | %s | %s | %s | %s | ", r->has_accuracy ? vb_fmt_pct(r->eer, b[0]) : "n/a",
                r->has_accuracy ? vb_fmt_pct(r->fnmr_1e3, b[1]) : "n/a",
                r->has_latency ? vb_fmt_num(r->p50_ms, "%.2f ms", b[2]) : "n/a",
                r->has_latency ? vb_fmt_num(r->p99_ms, "%.2f ms", b[3]) : "n/a",
                r->has_latency ? (strncmp(r->ss_verdict, "VALID", 5) ? "INVALID" : "VALID") : "n/a");
        if (isnan(r->throughput))
            fputs("n/a", f);
        else
            fprintf(f, "%.2f/s (%s)", r->throughput, r->throughput_source);
        fprintf(f, " | %s | ", r->has_offline ? (strncmp(r->off_verdict, "VALID", 5) ? "INVALID" : "VALID") : "n/a");
        if (r->flag[0])
            md_text(f, r->flag);
        else if (r->compared)
            fprintf(f, "within tolerance (vs %zu other row%s)", r->compared, r->compared > 1 ? "s" : "");
        else
            fputs(r->has_accuracy ? "not compared (no other device ran this model, level and protocol)" : "n/a", f);
        fputs(" |\n", f);
    }
    int invalid = 0;
    for (size_t i = 0; i < c->n; i++)
        if ((c->rows[i].has_latency && strncmp(c->rows[i].ss_verdict, "VALID", 5)) ||
            (c->rows[i].has_offline && strncmp(c->rows[i].off_verdict, "VALID", 5))) {
            if (!invalid++)
                fprintf(f, "\nINVALID latency runs (the rule that failed):\n\n");
            fprintf(f, "- row %zu: ", i + 1);
            if (c->rows[i].has_latency && strncmp(c->rows[i].ss_verdict, "VALID", 5))
                fprintf(f, "single-stream %s. ", c->rows[i].ss_verdict);
            if (c->rows[i].has_offline && strncmp(c->rows[i].off_verdict, "VALID", 5))
                fprintf(f, "offline %s.", c->rows[i].off_verdict);
            fputc('\n', f);
        }
    return ferror(f);
}

int vb_compare_plot(const char *prefix, const vb_comparison *c, vb_err *e)
{
    vb_sweep_point *pts = vb_calloc(c->n ? c->n : 1, sizeof *pts, e);
    char (*series)[400] = vb_calloc(c->n ? c->n : 1, sizeof *series, e);
    int rc = -1;
    if (!pts || !series)
        goto done;
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++) {
        const vb_compare_row *r = &c->rows[i];
        if (!r->has_accuracy || isnan(r->throughput) || isnan(r->eer))
            continue;
        /* short labels, or the key crowds the plot: host, backend, dataset file, which throughput */
        const char *ds = strrchr(r->dataset, '/');
        snprintf(series[n], sizeof series[n], "%s %s %s, %s", r->host, r->backend, ds ? ds + 1 : r->dataset,
                 r->has_offline ? "end to end" : "backend only");
        pts[n] = (vb_sweep_point){series[n], r->quant, r->throughput, r->eer};
        n++;
    }
    rc = n ? vb_plot_sweep(prefix, "Devices: accuracy against throughput", pts, n, e) : VB_PLOT_SKIPPED;
done:
    free(pts);
    free(series);
    return rc;
}
