/* Sample attributes: see datasets/attributes.h. */
#include "datasets/attributes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv_read.h"

int vb_attribute_name_ok(const char *text)
{
    size_t n = strlen(text);
    if (n == 0 || n >= VB_ATTR_NAME_MAX || !strcmp(text, "sample"))
        return 0;
    for (const char *p = text; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    return 1;
}

int vb_attribute_value_ok(const char *text)
{
    size_t n = strlen(text);
    if (n == 0 || n >= VB_ATTR_NAME_MAX)
        return 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p < 0x21 || *p > 0x7e || strchr("=+:,\"|", *p))
            return 0;
    return 1;
}

void vb_attributes_free(vb_attributes *a)
{
    for (size_t i = 0; i < VB_ATTR_MAX; i++)
        free(a->attr[i].of_sample);
    memset(a, 0, sizeof *a);
}

/* A new attribute called name, every sample unlabelled. */
static vb_attribute *add_attribute(vb_attributes *a, const char *name, vb_err *e)
{
    if (a->n == VB_ATTR_MAX)
        return vb_fail(e, VB_EXIT_INPUT, "more than %d attributes", VB_ATTR_MAX), NULL;
    vb_attribute *t = &a->attr[a->n];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->of_sample = vb_malloc((a->n_samples ? a->n_samples : 1) * sizeof *t->of_sample, e);
    if (!t->of_sample)
        return NULL;
    for (uint32_t i = 0; i < a->n_samples; i++)
        t->of_sample[i] = VB_ATTR_UNLABELLED;
    a->n++;
    return t;
}

/* Index of value in t, added when new; -1 when the attribute has too many values. */
static int value_index(vb_attribute *t, const char *value)
{
    for (size_t v = 0; v < t->n_values; v++)
        if (!strcmp(t->values[v], value))
            return (int)v;
    if (t->n_values == VB_ATTR_MAX_VALUES)
        return -1;
    snprintf(t->values[t->n_values], VB_ATTR_NAME_MAX, "%s", value);
    return (int)t->n_values++;
}

/* Values in byte order, samples renumbered; unlabelled samples counted. */
static void finish_attribute(vb_attribute *t, uint32_t n_samples)
{
    size_t order[VB_ATTR_MAX_VALUES], rank[VB_ATTR_MAX_VALUES];
    for (size_t i = 0; i < t->n_values; i++)
        order[i] = i;
    for (size_t i = 1; i < t->n_values; i++) /* insertion sort: a few values */
        for (size_t j = i; j > 0 && strcmp(t->values[order[j - 1]], t->values[order[j]]) > 0; j--) {
            size_t k = order[j];
            order[j] = order[j - 1];
            order[j - 1] = k;
        }
    char sorted[VB_ATTR_MAX_VALUES][VB_ATTR_NAME_MAX];
    for (size_t i = 0; i < t->n_values; i++) {
        rank[order[i]] = i;
        memcpy(sorted[i], t->values[order[i]], VB_ATTR_NAME_MAX);
    }
    memcpy(t->values, sorted, sizeof sorted[0] * t->n_values);
    t->n_unlabelled = 0;
    for (uint32_t s = 0; s < n_samples; s++) {
        if (t->of_sample[s] == VB_ATTR_UNLABELLED)
            t->n_unlabelled++;
        else
            t->of_sample[s] = (uint16_t)rank[t->of_sample[s]];
    }
}

/* ------------------------------------------------------------------ side file */

typedef struct side_ctx {
    const vb_dataset *d;
    vb_attributes *a;
    size_t n_columns;
    unsigned char *seen; /* per sample: a row named it */
    size_t matched;
} side_ctx;

static int side_header(side_ctx *c, const vb_csv_row *row, vb_err *e)
{
    if (row->n < 2 || strcmp(row->f[0], "sample"))
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: header must be sample,<attribute>[,<attribute>...]", row->file,
                       row->line);
    for (size_t k = 1; k < row->n; k++) {
        if (!vb_attribute_name_ok(row->f[k]))
            return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: attribute name '%s': 1..63 of A-Z a-z 0-9 _, not 'sample'",
                           row->file, row->line, row->f[k]);
        for (size_t j = 1; j < k; j++)
            if (!strcmp(row->f[j], row->f[k]))
                return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: attribute %s given twice", row->file, row->line, row->f[k]);
        if (!add_attribute(c->a, row->f[k], e))
            return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: more than %d attributes", row->file, row->line, VB_ATTR_MAX);
    }
    c->n_columns = row->n;
    return 0;
}

static int side_row(void *ctx, const vb_csv_row *row, vb_err *e)
{
    side_ctx *c = ctx;
    if (row->index == 0)
        return side_header(c, row, e);
    if (row->n != c->n_columns)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: %zu fields, the header has %zu", row->file, row->line, row->n,
                       c->n_columns);
    int64_t s = vb_dataset_find(c->d, row->f[0]);
    if (s < 0)
        return 0; /* a sample this protocol does not use */
    if (c->seen[s])
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: sample %s given twice", row->file, row->line, row->f[0]);
    c->seen[s] = 1;
    c->matched++;
    for (size_t k = 1; k < row->n; k++) {
        vb_attribute *t = &c->a->attr[k - 1];
        if (!row->f[k][0])
            continue; /* unlabelled */
        if (!vb_attribute_value_ok(row->f[k]))
            return vb_fail(e, VB_EXIT_INPUT,
                           "%s:%ld: %s value '%s': 1..63 printable characters without = + : , \" or spaces",
                           row->file, row->line, t->name, row->f[k]);
        int v = value_index(t, row->f[k]);
        if (v < 0)
            return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: attribute %s has more than %d values", row->file, row->line,
                           t->name, VB_ATTR_MAX_VALUES);
        t->of_sample[s] = (uint16_t)v;
    }
    return 0;
}

int vb_attributes_read(const char *path, const vb_dataset *d, vb_attributes *out, vb_err *e)
{
    memset(out, 0, sizeof *out);
    out->n_samples = d->n_samples;
    side_ctx c = {d, out, 0, vb_calloc(d->n_samples ? d->n_samples : 1, 1, e), 0};
    int rc = !c.seen || vb_csv_read(path, side_row, &c, e);
    if (!rc && !c.n_columns)
        rc = vb_fail(e, VB_EXIT_INPUT, "%s: empty (header sample,<attribute>... expected)", path);
    if (!rc && !c.matched)
        rc = vb_fail(e, VB_EXIT_INPUT, "%s: no row names a sample of dataset %s", path, d->spec);
    free(c.seen);
    if (rc) {
        vb_attributes_free(out);
        return -1;
    }
    for (size_t i = 0; i < out->n; i++)
        finish_attribute(&out->attr[i], d->n_samples);
    snprintf(out->source, sizeof out->source, "%s", path);
    return 0;
}

/* ------------------------------------------------------------------ LFW gender */

/* Marks every sample named in list (one "Name_NNNN.jpg" a line) with bit `bit` of mark.
 * Returns 1 when read, 0 when the file does not exist. */
static int read_name_list(const char *path, const vb_dataset *d, unsigned char *mark, unsigned char bit, vb_err *e)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : vb_fail(e, VB_EXIT_INPUT, "%s: %s", path, strerror(errno));
    char line[512];
    long no = 0;
    while (fgets(line, sizeof line, f)) {
        no++;
        size_t n = strcspn(line, "\r\n");
        if (line[n] == 0 && !feof(f)) {
            fclose(f);
            return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: line too long", path, no);
        }
        line[n] = 0;
        if (!n)
            continue;
        if (n < 5 || strcmp(line + n - 4, ".jpg")) {
            fclose(f);
            return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: '%s' is not an LFW file name (Name_NNNN.jpg)", path, no, line);
        }
        line[n - 4] = 0;
        int64_t s = vb_dataset_find(d, line);
        if (s >= 0)
            mark[s] |= bit;
    }
    int bad = ferror(f);
    fclose(f);
    return bad ? vb_fail(e, VB_EXIT_INPUT, "%s: read error", path) : 1;
}

int vb_attributes_lfw_gender(const vb_dataset *d, const char *data_dir, vb_attributes *out, vb_err *e)
{
    memset(out, 0, sizeof *out);
    out->n_samples = d->n_samples;
    char male[4096], female[4096];
    snprintf(male, sizeof male, "%s/lfw/gender/male_names.txt", data_dir);
    snprintf(female, sizeof female, "%s/lfw/gender/female_names.txt", data_dir);
    unsigned char *mark = vb_calloc(d->n_samples ? d->n_samples : 1, 1, e);
    if (!mark)
        return -1;
    int m = read_name_list(male, d, mark, 1, e);
    int f = m < 0 ? -1 : read_name_list(female, d, mark, 2, e);
    if (m < 0 || f < 0 || (m == 0 && f == 0)) {
        free(mark);
        return m < 0 || f < 0 ? -1 : 0;
    }
    vb_attribute *t = add_attribute(out, "sex", e);
    if (!t) {
        free(mark);
        return -1;
    }
    t->n_values = 2;
    strcpy(t->values[0], "F");
    strcpy(t->values[1], "M");
    for (uint32_t s = 0; s < d->n_samples; s++)
        if (mark[s] == 1 || mark[s] == 2) /* in exactly one list */
            t->of_sample[s] = mark[s] == 2 ? 0 : 1;
    free(mark);
    finish_attribute(t, d->n_samples);
    snprintf(out->source, sizeof out->source, "%s, %s (sex: F, M; in both or neither: unlabelled)", female, male);
    return 1;
}
