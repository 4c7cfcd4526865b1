/* Results folder reader: see reports/results_read.h. */
#include "reports/results_read.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/csv_read.h"
#include "core/parse.h"

static char *dup_text(const char *s, vb_err *e)
{
    size_t n = strlen(s) + 1;
    char *p = vb_malloc(n, e);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* Make room for one more element of an array (doubling). */
static int grow(void **items, size_t *cap, size_t n, size_t size, vb_err *e)
{
    if (n < *cap)
        return 0;
    size_t new_cap = *cap ? *cap * 2 : 8, bytes;
    if (vb_mul_size(new_cap, size, &bytes))
        return vb_fail(e, VB_EXIT_IO, "results folder: too many rows");
    void *p = realloc(*items, bytes);
    if (!p)
        return vb_fail(e, VB_EXIT_IO, "out of memory reading a results folder");
    *items = p;
    *cap = new_cap;
    return 0;
}

/* A metric value as vb_format_double writes it: a number, an infinity or "nan". */
static int parse_value(const char *text, double *v)
{
    if (!strcasecmp(text, "nan")) {
        *v = NAN;
        return 0;
    }
    return vb_parse_real(text, 1, v) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- metrics.csv */

enum { M_BACKEND, M_DEVICE, M_QUANT, M_DATASET, M_METRIC, M_VALUE, M_COLUMNS };
static const char *const metric_columns[M_COLUMNS] = {"backend", "device", "quant", "dataset", "metric", "value"};

typedef struct metrics_ctx {
    vb_results_folder *rf;
    int col[M_COLUMNS];
} metrics_ctx;

static vb_rf_combo *find_combo(vb_results_folder *rf, const char *const key[4])
{
    for (size_t i = 0; i < rf->n_combos; i++) {
        vb_rf_combo *c = &rf->combos[i];
        if (!strcmp(c->backend, key[0]) && !strcmp(c->device, key[1]) && !strcmp(c->quant, key[2]) &&
            !strcmp(c->dataset, key[3]))
            return c;
    }
    return NULL;
}

static vb_rf_combo *add_combo(vb_results_folder *rf, const char *const key[4], vb_err *e)
{
    if (grow((void **)&rf->combos, &rf->cap_combos, rf->n_combos, sizeof *rf->combos, e))
        return NULL;
    vb_rf_combo *c = &rf->combos[rf->n_combos];
    memset(c, 0, sizeof *c);
    rf->n_combos++; /* counted before the copies so that free() sees whatever was made */
    char **dst[4] = {&c->backend, &c->device, &c->quant, &c->dataset};
    for (int k = 0; k < 4; k++)
        if (!(*dst[k] = dup_text(key[k], e)))
            return NULL;
    return c;
}

static int add_metric(vb_rf_combo *c, const char *name, double v, long line, vb_err *e)
{
    if (grow((void **)&c->rows, &c->cap_rows, c->n_rows, sizeof *c->rows, e))
        return -1;
    vb_rf_metric *m = &c->rows[c->n_rows];
    if (!(m->name = dup_text(name, e)))
        return -1;
    m->value = v;
    m->line = line;
    c->n_rows++;
    return 0;
}

static int metrics_row(void *ctx_, const vb_csv_row *row, vb_err *e)
{
    metrics_ctx *ctx = ctx_;
    if (row->index == 0)
        return vb_csv_header(row, metric_columns, M_COLUMNS, M_COLUMNS, ctx->col, e);
    if (row->n != M_COLUMNS)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: %zu fields, expected %d", row->file, row->line, row->n, M_COLUMNS);
    const char *f[M_COLUMNS];
    for (int k = 0; k < M_COLUMNS; k++) {
        f[k] = row->f[ctx->col[k]];
        if (!f[k][0])
            return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: empty %s", row->file, row->line, metric_columns[k]);
    }
    double v;
    if (parse_value(f[M_VALUE], &v))
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: value '%s' of %s is not a number (nan and inf allowed)",
                       row->file, row->line, f[M_VALUE], f[M_METRIC]);
    vb_rf_combo *c = find_combo(ctx->rf, f);
    if (!c && !(c = add_combo(ctx->rf, f, e)))
        return -1;
    double seen;
    if (vb_rf_value(c, f[M_METRIC], &seen)) {
        long first = 0;
        for (size_t i = 0; i < c->n_rows; i++)
            if (!strcmp(c->rows[i].name, f[M_METRIC]))
                first = c->rows[i].line;
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: metric %s of %s/%s/%s/%s given twice (first on line %ld)",
                       row->file, row->line, f[M_METRIC], f[0], f[1], f[2], f[3], first);
    }
    return add_metric(c, f[M_METRIC], v, row->line, e);
}

/* ------------------------------------------------------------- provenance.csv */

enum { P_SCOPE, P_KEY, P_VALUE, P_COLUMNS };
static const char *const prov_columns[P_COLUMNS] = {"scope", "key", "value"};

typedef struct prov_ctx {
    vb_results_folder *rf;
    int col[P_COLUMNS];
    int have_header; /* an empty file is no provenance */
} prov_ctx;

static int prov_row(void *ctx_, const vb_csv_row *row, vb_err *e)
{
    prov_ctx *ctx = ctx_;
    if (row->index == 0) {
        ctx->have_header = 1;
        return vb_csv_header(row, prov_columns, P_COLUMNS, P_COLUMNS, ctx->col, e);
    }
    if (row->n != P_COLUMNS)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: %zu fields, expected %d", row->file, row->line, row->n, P_COLUMNS);
    const char *f[P_COLUMNS];
    for (int k = 0; k < P_COLUMNS; k++)
        f[k] = row->f[ctx->col[k]];
    if (!f[P_SCOPE][0] || !f[P_KEY][0])
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: empty %s", row->file, row->line, f[P_SCOPE][0] ? "key" : "scope");
    if (vb_rf_provenance(ctx->rf, f[P_SCOPE], f[P_KEY]))
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: %s %s given twice", row->file, row->line, f[P_SCOPE], f[P_KEY]);
    vb_results_folder *rf = ctx->rf;
    if (grow((void **)&rf->prov, &rf->cap_prov, rf->n_prov, sizeof *rf->prov, e))
        return -1;
    vb_rf_prov *p = &rf->prov[rf->n_prov];
    memset(p, 0, sizeof *p);
    rf->n_prov++;
    if (!(p->scope = dup_text(f[P_SCOPE], e)) || !(p->key = dup_text(f[P_KEY], e)) ||
        !(p->value = dup_text(f[P_VALUE], e)))
        return -1;
    return 0;
}

/* ------------------------------------------------------------------- the folder */

/* dir/name through vb_csv_read (which reads an empty file as no records). */
static int read_one(const char *dir, const char *name, vb_csv_row_fn fn, void *ctx, vb_err *e)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = vb_malloc(n, e);
    if (!path)
        return -1;
    snprintf(path, n, "%s/%s", dir, name);
    int rc = vb_csv_read(path, fn, ctx, e);
    free(path);
    return rc;
}

int vb_results_folder_read(const char *dir, vb_results_folder *rf, vb_err *e)
{
    memset(rf, 0, sizeof *rf);
    metrics_ctx mc = {rf, {0}};
    prov_ctx pc = {rf, {0}, 0};
    if (!(rf->dir = dup_text(dir, e)) || read_one(dir, "metrics.csv", metrics_row, &mc, e) ||
        read_one(dir, "provenance.csv", prov_row, &pc, e)) {
        vb_results_folder_free(rf);
        return -1;
    }
    if (rf->n_combos == 0 || !pc.have_header) {
        vb_fail(e, VB_EXIT_INPUT, "%s/%s", dir, rf->n_combos ? "provenance.csv: empty" : "metrics.csv: no metric rows");
        vb_results_folder_free(rf);
        return -1;
    }
    return 0;
}

void vb_results_folder_free(vb_results_folder *rf)
{
    for (size_t i = 0; i < rf->n_combos; i++) {
        vb_rf_combo *c = &rf->combos[i];
        for (size_t j = 0; j < c->n_rows; j++)
            free(c->rows[j].name);
        free(c->rows);
        free(c->backend);
        free(c->device);
        free(c->quant);
        free(c->dataset);
    }
    for (size_t i = 0; i < rf->n_prov; i++) {
        free(rf->prov[i].scope);
        free(rf->prov[i].key);
        free(rf->prov[i].value);
    }
    free(rf->combos);
    free(rf->prov);
    free(rf->dir);
    memset(rf, 0, sizeof *rf);
}

const vb_rf_combo *vb_rf_find_combo(const vb_results_folder *rf, const char *backend, const char *device,
                                    const char *quant, const char *dataset)
{
    const char *const key[4] = {backend, device, quant, dataset};
    return find_combo((vb_results_folder *)rf, key);
}

int vb_rf_value(const vb_rf_combo *c, const char *name, double *v)
{
    for (size_t i = 0; i < c->n_rows; i++)
        if (!strcmp(c->rows[i].name, name)) {
            *v = c->rows[i].value;
            return 1;
        }
    return 0;
}

const char *vb_rf_provenance(const vb_results_folder *rf, const char *scope, const char *key)
{
    for (size_t i = 0; i < rf->n_prov; i++)
        if (!strcmp(rf->prov[i].scope, scope) && !strcmp(rf->prov[i].key, key))
            return rf->prov[i].value;
    return NULL;
}

void vb_rf_combo_label(const vb_rf_combo *c, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s/%s/%s", c->backend, c->device, c->quant, c->dataset);
}

int vb_provenance_read(const char *path, vb_results_folder *rf, vb_err *e)
{
    prov_ctx pc = {rf, {0}, 0};
    if (vb_csv_read(path, prov_row, &pc, e))
        return -1;
    return pc.have_header ? 0 : vb_fail(e, VB_EXIT_INPUT, "%s: empty", path);
}
