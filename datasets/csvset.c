/* csv:MANIFEST datasets (header sample,subject,path[,modality]) and trials CSVs (header
 * a,b,label[,fold]), read through libcsv (core/csv_read.c). */
#include <stdlib.h>
#include <string.h>

#include "core/csv_read.h"
#include "datasets/builder.h"
#include "datasets/loaders.h"

enum { COL_SAMPLE, COL_SUBJECT, COL_PATH, COL_MODALITY, MANIFEST_COLS };
static const char *const manifest_cols[MANIFEST_COLS] = {"sample", "subject", "path", "modality"};
enum { COL_A, COL_B, COL_LABEL, COL_FOLD, TRIAL_COLS };
static const char *const trial_cols[TRIAL_COLS] = {"a", "b", "label", "fold"};

/* Line of each record already accepted, for "first listed on line N" messages. */
typedef struct line_list {
    long *line;
    uint64_t n, cap;
} line_list;

static int lines_push(line_list *l, long line, vb_err *e)
{
    if (l->n == l->cap) {
        uint64_t cap = l->cap ? 2 * l->cap : 1024;
        long *p = realloc(l->line, (size_t)cap * sizeof *p);
        if (!p)
            return vb_fail(e, VB_EXIT_IO, "out of memory reading a CSV");
        l->line = p;
        l->cap = cap;
    }
    l->line[l->n++] = line;
    return 0;
}

static int check_field_count(const vb_csv_row *row, size_t expected, vb_err *e)
{
    if (row->n != expected)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: %zu field%s, but the header has %zu", row->file,
                       row->line, row->n, row->n == 1 ? "" : "s", expected);
    return 0;
}

/* Prefix "file:line: " to a builder error. */
static int at_line(const vb_csv_row *row, vb_err *e)
{
    vb_err_prefix(e, "%s:%ld", row->file, row->line);
    return -1;
}

/* ---- manifest --------------------------------------------------------------------------- */

typedef struct manifest_ctx {
    vb_dataset *d;
    int col[MANIFEST_COLS];
    size_t n_cols;
    line_list lines; /* per sample */
} manifest_ctx;

static int manifest_row(void *p, const vb_csv_row *row, vb_err *e)
{
    manifest_ctx *m = p;
    if (row->index == 0) {
        m->n_cols = row->n;
        int rc = vb_csv_header(row, manifest_cols, MANIFEST_COLS, 3, m->col, e);
        m->d->modality_column = rc == 0 && m->col[COL_MODALITY] >= 0;
        return rc;
    }
    if (check_field_count(row, m->n_cols, e))
        return -1;
    const char *id = row->f[m->col[COL_SAMPLE]];
    int64_t first = vb_dataset_find(m->d, id);
    if (first >= 0)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: duplicate sample id '%s' (first on line %ld)",
                       row->file, row->line, id, m->lines.line[first]);
    vb_modality modality = VB_MODALITY_FACE;
    if (m->col[COL_MODALITY] >= 0 && vb_modality_parse(row->f[m->col[COL_MODALITY]], &modality))
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: unknown modality '%s' (face or fingerprint)",
                       row->file, row->line, row->f[m->col[COL_MODALITY]]);
    if (vb_ds_add_sample(m->d, id, row->f[m->col[COL_SUBJECT]], row->f[m->col[COL_PATH]], modality,
                         e))
        return at_line(row, e);
    return lines_push(&m->lines, row->line, e);
}

/* Folder of the manifest: sample paths are relative to it. */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

int vb_csv_manifest_load(vb_dataset *d, const char *data_dir, const char *manifest, int all_pairs, vb_err *e)
{
    (void)data_dir, (void)all_pairs; /* a manifest names its own paths; all pairs unless --trials */
    char *root = folder_of(manifest);
    if (!root)
        return vb_fail(e, VB_EXIT_IO, "out of memory");
    int rc = vb_ds_begin(d, "csv", root, e);
    free(root);
    if (rc)
        return -1;
    d->protocol = VB_PROTOCOL_ALL_PAIRS;
    manifest_ctx m = {.d = d};
    rc = vb_csv_read(manifest, manifest_row, &m, e);
    free(m.lines.line);
    if (rc)
        return -1;
    if (d->n_samples == 0)
        return vb_fail(e, VB_EXIT_INPUT, "%s: no samples (expected a header sample,subject,path "
                                         "and one line per sample)",
                       manifest);
    return 0;
}

/* ---- trials ----------------------------------------------------------------------------- */

typedef struct trials_ctx {
    vb_dataset *d;
    int col[TRIAL_COLS];
    size_t n_cols;
    line_list lines; /* per trial */
} trials_ctx;

static int sample_field(const vb_csv_row *row, const vb_dataset *d, int col, uint32_t *index,
                        vb_err *e)
{
    int64_t i = vb_dataset_find(d, row->f[col]);
    if (i < 0)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: unknown sample '%s' (not in dataset '%s')",
                       row->file, row->line, row->f[col], d->spec);
    *index = (uint32_t)i;
    return 0;
}

static int trials_row(void *p, const vb_csv_row *row, vb_err *e)
{
    trials_ctx *t = p;
    if (row->index == 0) {
        t->n_cols = row->n;
        return vb_csv_header(row, trial_cols, TRIAL_COLS, 3, t->col, e);
    }
    uint32_t a, b;
    if (check_field_count(row, t->n_cols, e) || sample_field(row, t->d, t->col[COL_A], &a, e) ||
        sample_field(row, t->d, t->col[COL_B], &b, e))
        return -1;
    const char *label = row->f[t->col[COL_LABEL]];
    if (strcmp(label, "0") != 0 && strcmp(label, "1") != 0)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: label '%s' is neither 1 (genuine) nor 0 (impostor)",
                       row->file, row->line, label);
    uint64_t fold = 0;
    if (t->col[COL_FOLD] >= 0 && vb_parse_uint(row->f[t->col[COL_FOLD]], VB_MAX_FOLDS, &fold))
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: fold '%s' is not a whole number in 0..%d",
                       row->file, row->line, row->f[t->col[COL_FOLD]], VB_MAX_FOLDS);
    if (vb_ds_add_trial(t->d, a, b, label[0] == '1', (unsigned)fold, e))
        return at_line(row, e);
    return lines_push(&t->lines, row->line, e);
}

int vb_csv_trials_load(vb_dataset *d, const char *trials_csv, vb_err *e)
{
    trials_ctx t = {.d = d};
    int rc = vb_csv_read(trials_csv, trials_row, &t, e);
    if (rc == 0 && d->n_trials == 0)
        rc = vb_fail(e, VB_EXIT_INPUT, "%s: no trials (expected a header a,b,label[,fold] and one "
                                       "line per trial)",
                     trials_csv);
    if (rc == 0)
        rc = vb_ds_check_duplicate_trials(d, t.lines.line, trials_csv, e);
    free(t.lines.line);
    return rc;
}
