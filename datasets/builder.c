/* The dataset builder the loaders share (datasets/builder.h), and the parts of the dataset
 * API that own or rebuild its store: free, sample lookup by id, fold selection. */
#include "datasets/builder.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int vb_ds_fail_missing(vb_err *e, const char *data_dir, const char *path, const char *what)
{
    const char *env = getenv("VERIBENCH_DATA");
    const char *origin = env && *env ? (strcmp(env, data_dir) == 0 ? "from VERIBENCH_DATA" : "given")
                                     : "the default; VERIBENCH_DATA is not set";
    const char *fix = "set VERIBENCH_DATA (environment or make variable) to the folder that "
                      "holds lfw/ and fvc2002/";
    if (strcmp(path, data_dir) == 0)
        return vb_fail(e, VB_EXIT_INPUT, "data folder %s (%s) does not exist or is not a folder: %s",
                       data_dir, origin, fix);
    return vb_fail(e, VB_EXIT_INPUT, "%s not found: %s (data folder %s, %s): %s", what, path,
                   data_dir, origin, fix);
}

/* ---- builder ---------------------------------------------------------------------------- */

static vb_dataset_store *store_of(const vb_dataset *d)
{
    return d->priv;
}

int vb_ds_begin(vb_dataset *d, const char *kind, const char *root, vb_err *e)
{
    d->kind = kind;
    d->priv = vb_calloc(1, sizeof(vb_dataset_store), e);
    d->root = strdup(root);
    if (!d->priv || !d->root)
        return vb_fail(e, VB_EXIT_IO, "out of memory opening dataset");
    return 0;
}

enum { VB_MAX_TEXT = 4096 };

/* Ids, subjects and paths go into tab-separated provenance text and CSV outputs: no control
 * characters (tabs and newlines included), not empty. */
static int check_text(const char *what, const char *s, vb_err *e)
{
    if (!*s)
        return vb_fail(e, VB_EXIT_INPUT, "empty %s", what);
    if (strlen(s) > VB_MAX_TEXT)
        return vb_fail(e, VB_EXIT_INPUT, "%s '%.40s...' is longer than %d bytes", what, s,
                       VB_MAX_TEXT);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return vb_fail(e, VB_EXIT_INPUT, "%s '%s' contains a control character (0x%02x)", what,
                           s, *p);
    return 0;
}

/* Grow an array to hold need elements (capacity doubles); returns the array, or NULL with e
 * filled and the old array intact. */
static void *grow_array(void *arr, uint64_t *cap, uint64_t need, size_t elem, vb_err *e)
{
    if (need <= *cap)
        return arr;
    uint64_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    size_t bytes;
    if (n > SIZE_MAX / elem || vb_mul_size((size_t)n, elem, &bytes)) {
        vb_fail(e, VB_EXIT_IO, "dataset too large");
        return NULL;
    }
    void *p = realloc(arr, bytes);
    if (!p) {
        vb_fail(e, VB_EXIT_IO, "out of memory growing the dataset (%zu bytes)", bytes);
        return NULL;
    }
    *cap = n;
    return p;
}

static int add_subject(vb_dataset *d, const char *subject, uint32_t *index, vb_err *e)
{
    vb_dataset_store *s = store_of(d);
    int64_t found = vb_strmap_get(&s->subjects, subject);
    if (found >= 0) {
        *index = (uint32_t)found;
        return 0;
    }
    const char **subjects =
        grow_array(d->subjects, &s->cap_subjects, (uint64_t)d->n_subjects + 1, sizeof *subjects, e);
    if (!subjects)
        return -1;
    d->subjects = subjects;
    const char *copy = vb_pool_strdup(&s->pool, subject, e);
    if (!copy || vb_strmap_put(&s->subjects, copy, d->n_subjects, NULL, e) < 0)
        return -1;
    d->subjects[d->n_subjects] = copy;
    *index = d->n_subjects++;
    return 0;
}

int vb_ds_add_sample(vb_dataset *d, const char *id, const char *subject, const char *rel,
                     vb_modality modality, vb_err *e)
{
    vb_dataset_store *s = store_of(d);
    if (check_text("sample id", id, e) || check_text("subject", subject, e) ||
        check_text("path", rel, e))
        return -1;
    if (vb_strmap_get(&s->ids, id) >= 0)
        return vb_fail(e, VB_EXIT_INPUT, "duplicate sample id '%s'", id);
    if (d->n_samples == UINT32_MAX)
        return vb_fail(e, VB_EXIT_INPUT, "more than %u samples", UINT32_MAX - 1);
    vb_sample *samples =
        grow_array(d->samples, &s->cap_samples, (uint64_t)d->n_samples + 1, sizeof *samples, e);
    if (!samples)
        return -1;
    d->samples = samples;
    vb_sample *smp = &d->samples[d->n_samples];
    memset(smp, 0, sizeof *smp);
    if (add_subject(d, subject, &smp->subject_index, e))
        return -1;
    smp->subject = d->subjects[smp->subject_index];
    smp->id = vb_pool_strdup(&s->pool, id, e);
    smp->rel = smp->id ? vb_pool_strdup(&s->pool, rel, e) : NULL;
    if (!smp->rel)
        return -1;
    size_t root_len = strlen(d->root);
    if (rel[0] == '/' || root_len == 0)
        smp->path = smp->rel;
    else
        smp->path = vb_pool_printf(&s->pool, e, "%s%s%s", d->root,
                                   d->root[root_len - 1] == '/' ? "" : "/", rel);
    if (!smp->path)
        return -1;
    smp->index = d->n_samples;
    smp->modality = modality;
    smp->acquired = VB_ACQ_PENDING;
    if (vb_strmap_put(&s->ids, smp->id, smp->index, NULL, e) < 0)
        return -1;
    d->n_samples++;
    return 0;
}

int vb_ds_add_trial(vb_dataset *d, uint32_t a, uint32_t b, int label, unsigned fold, vb_err *e)
{
    vb_dataset_store *s = store_of(d);
    if (a >= d->n_samples || b >= d->n_samples)
        return vb_fail(e, VB_EXIT_IO, "internal: trial sample index out of range");
    const vb_sample *sa = &d->samples[a], *sb = &d->samples[b];
    if (a == b)
        return vb_fail(e, VB_EXIT_INPUT, "trial compares sample '%s' with itself", sa->id);
    if (sa->modality != sb->modality)
        return vb_fail(e, VB_EXIT_INPUT, "trial compares %s sample '%s' with %s sample '%s'",
                       vb_modality_name(sa->modality), sa->id, vb_modality_name(sb->modality),
                       sb->id);
    int same = sa->subject_index == sb->subject_index;
    if (label != 0 && label != 1)
        return vb_fail(e, VB_EXIT_INPUT, "label %d is neither 1 (genuine) nor 0 (impostor)", label);
    if (label != same)
        return vb_fail(e, VB_EXIT_INPUT,
                       "label %d contradicts the subjects: '%s' is subject '%s', '%s' is subject "
                       "'%s'",
                       label, sa->id, sa->subject, sb->id, sb->subject);
    if (fold > VB_MAX_FOLDS)
        return vb_fail(e, VB_EXIT_INPUT, "fold %u above the limit %d", fold, VB_MAX_FOLDS);
    vb_trial *trials = grow_array(d->trials, &s->cap_trials, d->n_trials + 1, sizeof *trials, e);
    if (!trials)
        return -1;
    d->trials = trials;
    d->trials[d->n_trials++] = (vb_trial){a, b, (uint8_t)label, (uint16_t)fold};
    return 0;
}

typedef struct pair_key {
    uint64_t key; /* min(a,b) << 32 | max(a,b) */
    uint64_t pos;
} pair_key;

static int cmp_pair_key(const void *x, const void *y)
{
    const pair_key *p = x, *q = y;
    if (p->key != q->key)
        return p->key < q->key ? -1 : 1;
    return p->pos < q->pos ? -1 : p->pos > q->pos;
}

int vb_ds_check_duplicate_trials(const vb_dataset *d, const long *line_of, const char *file,
                                 vb_err *e)
{
    if (d->n_trials < 2)
        return 0;
    pair_key *keys = vb_calloc((size_t)d->n_trials, sizeof *keys, e);
    if (!keys)
        return -1;
    for (uint64_t k = 0; k < d->n_trials; k++) {
        uint64_t a = d->trials[k].a, b = d->trials[k].b;
        keys[k].key = a < b ? a << 32 | b : b << 32 | a;
        keys[k].pos = k;
    }
    qsort(keys, (size_t)d->n_trials, sizeof *keys, cmp_pair_key);
    int rc = 0;
    for (uint64_t k = 1; k < d->n_trials; k++) {
        if (keys[k].key != keys[k - 1].key)
            continue;
        const vb_trial *t = &d->trials[keys[k].pos];
        long first = line_of ? line_of[keys[k - 1].pos] : (long)keys[k - 1].pos + 1;
        long again = line_of ? line_of[keys[k].pos] : (long)keys[k].pos + 1;
        rc = vb_fail(e, VB_EXIT_INPUT,
                     "%s:%ld: the pair '%s' - '%s' was already listed on line %ld (each pair "
                     "must appear once)",
                     file, again, d->samples[t->a].id, d->samples[t->b].id, first);
        break;
    }
    free(keys);
    return rc;
}

/* Rebuilds both maps from the current samples and subjects. */
static int reindex(vb_dataset *d, vb_err *e)
{
    vb_dataset_store *s = store_of(d);
    vb_strmap_free(&s->ids);
    vb_strmap_free(&s->subjects);
    for (uint32_t i = 0; i < d->n_samples; i++)
        if (vb_strmap_put(&s->ids, d->samples[i].id, i, NULL, e) < 0)
            return -1;
    for (uint32_t i = 0; i < d->n_subjects; i++)
        if (vb_strmap_put(&s->subjects, d->subjects[i], i, NULL, e) < 0)
            return -1;
    return 0;
}

int vb_ds_compact_to_trials(vb_dataset *d, vb_err *e)
{
    uint32_t *new_index = vb_malloc((size_t)d->n_samples * sizeof *new_index, e);
    uint32_t *new_subject = vb_malloc((size_t)d->n_subjects * sizeof *new_subject, e);
    if (!new_index || !new_subject) {
        free(new_index);
        free(new_subject);
        return -1;
    }
    memset(new_index, 0xff, (size_t)d->n_samples * sizeof *new_index);
    memset(new_subject, 0xff, (size_t)d->n_subjects * sizeof *new_subject);
    for (uint64_t k = 0; k < d->n_trials; k++)
        new_index[d->trials[k].a] = new_index[d->trials[k].b] = 0;
    /* Keep referenced samples in their order; subjects renumbered by first appearance. */
    uint32_t n = 0, n_subj = 0;
    for (uint32_t i = 0; i < d->n_samples; i++) {
        if (new_index[i] == UINT32_MAX)
            continue;
        vb_sample smp = d->samples[i];
        uint32_t old_subject = smp.subject_index;
        if (new_subject[old_subject] == UINT32_MAX) {
            new_subject[old_subject] = n_subj;
            d->subjects[n_subj++] = smp.subject; /* the sample's copy: slots are being reused */
        }
        smp.subject_index = new_subject[old_subject];
        smp.index = n;
        new_index[i] = n;
        d->samples[n++] = smp;
    }
    d->n_samples = n;
    d->n_subjects = n_subj;
    for (uint64_t k = 0; k < d->n_trials; k++) {
        d->trials[k].a = new_index[d->trials[k].a];
        d->trials[k].b = new_index[d->trials[k].b];
    }
    free(new_index);
    free(new_subject);
    return reindex(d, e);
}

/* All pairs of a manifest that mixes modalities: every pair of samples of one modality,
 * listed (a face is never compared with a print, so the pairs are no longer "all pairs" and
 * trial k cannot be computed from k). Row-major order, as the all-pairs rule. */
static int list_same_modality_pairs(vb_dataset *d, vb_err *e)
{
    uint64_t per[VB_MODALITY_COUNT] = {0}, n = 0;
    for (uint32_t i = 0; i < d->n_samples; i++)
        per[d->samples[i].modality]++;
    for (int m = 0; m < VB_MODALITY_COUNT; m++)
        n += vb_pair_count(per[m]);
    if (n > VB_MIXED_PAIRS_MAX)
        return vb_fail(e, VB_EXIT_INPUT,
                       "%s: %llu same-modality pairs is more than the %llu a mixed manifest may list "
                       "(give --trials, or one manifest per modality)",
                       d->spec, (unsigned long long)n, (unsigned long long)VB_MIXED_PAIRS_MAX);
    d->protocol = VB_PROTOCOL_EXPLICIT;
    d->n_trials = 0;
    for (uint32_t a = 0; a < d->n_samples; a++)
        for (uint32_t b = a + 1; b < d->n_samples; b++)
            if (d->samples[a].modality == d->samples[b].modality &&
                vb_ds_add_trial(d, a, b, d->samples[a].subject_index == d->samples[b].subject_index, 0, e))
                return -1;
    return 0;
}

int vb_ds_finish(vb_dataset *d, vb_err *e)
{
    d->modality = d->n_samples ? (int)d->samples[0].modality : VB_MODALITY_FACE;
    for (uint32_t i = 1; i < d->n_samples; i++)
        if ((int)d->samples[i].modality != d->modality) {
            if (d->protocol == VB_PROTOCOL_ALL_PAIRS && list_same_modality_pairs(d, e))
                return -1;
            d->modality = VB_MODALITY_MIXED;
            break;
        }
    d->n_genuine = 0;
    if (d->protocol == VB_PROTOCOL_ALL_PAIRS) {
        if (d->n_samples < 2)
            return vb_fail(e, VB_EXIT_INPUT, "%s: an all-pairs protocol needs at least 2 samples",
                           d->spec);
        uint64_t *per_subject = vb_calloc(d->n_subjects, sizeof *per_subject, e);
        if (!per_subject)
            return -1;
        for (uint32_t i = 0; i < d->n_samples; i++)
            per_subject[d->samples[i].subject_index]++;
        for (uint32_t s = 0; s < d->n_subjects; s++)
            d->n_genuine += vb_pair_count(per_subject[s]);
        free(per_subject);
        d->n_trials = vb_pair_count(d->n_samples);
        d->n_folds = 0;
    } else {
        if (d->n_trials == 0)
            return vb_fail(e, VB_EXIT_INPUT, "%s: the protocol has no trials", d->spec);
        for (uint64_t k = 0; k < d->n_trials; k++) {
            d->n_genuine += d->trials[k].label;
            if (d->trials[k].fold > d->n_folds)
                d->n_folds = d->trials[k].fold;
        }
    }
    d->n_impostor = d->n_trials - d->n_genuine;
    vb_dataset_fingerprint(d, d->fingerprint);
    return 0;
}

void vb_dataset_free(vb_dataset *d)
{
    vb_dataset_store *s = store_of(d);
    if (s) {
        vb_pool_free(&s->pool);
        vb_strmap_free(&s->ids);
        vb_strmap_free(&s->subjects);
        free(s);
    }
    free(d->spec);
    free(d->root);
    free(d->samples);
    free(d->subjects);
    free(d->trials);
    memset(d, 0, sizeof *d);
}

int64_t vb_dataset_find(const vb_dataset *d, const char *id)
{
    return d->priv ? vb_strmap_get(&store_of(d)->ids, id) : -1;
}

/* ---- folds ------------------------------------------------------------------------------ */

/* "1,3-5" -> sel[1], sel[3..5] = 1. */
static int parse_folds(const char *text, unsigned n_folds, unsigned char *sel, vb_err *e)
{
    const char *p = text;
    if (!*p)
        return vb_fail(e, VB_EXIT_USAGE, "--folds: empty list (expected e.g. 1,3-5)");
    for (;;) {
        char tok[32];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof tok)
            return vb_fail(e, VB_EXIT_USAGE,
                           "--folds '%s': %s item (expected numbers or ranges like 1,3-5)", text,
                           len ? "overlong" : "empty");
        memcpy(tok, p, len);
        tok[len] = 0;
        char *dash = strchr(tok, '-');
        if (dash)
            *dash = 0;
        uint64_t lo, hi;
        if (vb_parse_uint(tok, UINT32_MAX, &lo) || vb_parse_uint(dash ? dash + 1 : tok, UINT32_MAX, &hi))
            return vb_fail(e, VB_EXIT_USAGE,
                           "--folds '%s': '%.*s' is not a fold number or range (expected e.g. 1,3-5)",
                           text, (int)len, p);
        if (lo > hi)
            return vb_fail(e, VB_EXIT_USAGE, "--folds '%s': range '%.*s' runs backwards", text,
                           (int)len, p);
        if (lo < 1 || hi > n_folds)
            return vb_fail(e, VB_EXIT_USAGE, "--folds '%s': fold %llu is out of range 1..%u", text,
                           (unsigned long long)(lo < 1 ? lo : hi), n_folds);
        for (uint64_t f = lo; f <= hi; f++)
            sel[f] = 1;
        p += len;
        if (!*p)
            return 0;
        p++; /* the comma; an item must follow */
    }
}

/* Canonical text of the folds marked in present[]: "1,3-5". */
static int describe_folds(const unsigned char *present, char *out, size_t size, vb_err *e)
{
    size_t used = 0;
    out[0] = 0;
    for (unsigned f = 1; f <= VB_MAX_FOLDS; f++) {
        if (!present[f] || present[f - 1])
            continue;
        unsigned last = f;
        while (last < VB_MAX_FOLDS && present[last + 1])
            last++;
        int n = last == f ? snprintf(out + used, size - used, "%s%u", used ? "," : "", f)
                          : snprintf(out + used, size - used, "%s%u-%u", used ? "," : "", f, last);
        if (n < 0 || (size_t)n >= size - used)
            return vb_fail(e, VB_EXIT_USAGE, "--folds: the selection is too fragmented to record "
                                             "(use fewer separate ranges)");
        used += (size_t)n;
    }
    return 0;
}

int vb_dataset_select_folds(vb_dataset *d, const char *folds, vb_err *e)
{
    if (d->protocol == VB_PROTOCOL_ALL_PAIRS || d->n_folds == 0)
        return vb_fail(e, VB_EXIT_USAGE, "--folds: dataset '%s' has no folds (%s protocol)",
                       d->spec, d->protocol == VB_PROTOCOL_ALL_PAIRS ? "all-pairs" : "fold-less");
    unsigned char sel[VB_MAX_FOLDS + 1] = {0}, present[VB_MAX_FOLDS + 1] = {0};
    if (parse_folds(folds, d->n_folds, sel, e))
        return -1;
    uint64_t kept = 0;
    for (uint64_t k = 0; k < d->n_trials; k++) {
        uint16_t f = d->trials[k].fold;
        kept += sel[f];
        present[f] |= sel[f];
    }
    if (kept == 0)
        return vb_fail(e, VB_EXIT_USAGE, "--folds '%s': no trial of dataset '%s' is in these folds",
                       folds, d->spec);
    char text[sizeof d->folds];
    if (describe_folds(present, text, sizeof text, e))
        return -1;
    /* From here on only an out-of-memory failure is possible. */
    memcpy(d->folds, text, sizeof text);
    uint64_t n = 0;
    for (uint64_t k = 0; k < d->n_trials; k++)
        if (sel[d->trials[k].fold])
            d->trials[n++] = d->trials[k];
    d->n_trials = n;
    if (vb_ds_compact_to_trials(d, e))
        return -1;
    return vb_ds_finish(d, e);
}

/* ---- modality subsets ------------------------------------------------------------------- */

int vb_dataset_modality_subset(const vb_dataset *d, vb_modality m, vb_dataset *out, vb_err *e)
{
    memset(out, 0, sizeof *out);
    if (d->protocol != VB_PROTOCOL_EXPLICIT)
        return vb_fail(e, VB_EXIT_IO, "internal: a modality subset of an all-pairs protocol");
    size_t n = strlen(d->spec) + strlen(vb_modality_name(m)) + 2;
    out->spec = malloc(n);
    uint32_t *index = vb_malloc((size_t)d->n_samples * sizeof *index + 1, e);
    int rc = !out->spec || !index ? vb_fail(e, VB_EXIT_IO, "out of memory") : vb_ds_begin(out, d->kind, d->root, e);
    if (rc == 0) {
        snprintf(out->spec, n, "%s#%s", d->spec, vb_modality_name(m));
        out->protocol = VB_PROTOCOL_EXPLICIT;
        out->modality_column = d->modality_column;
        snprintf(out->folds, sizeof out->folds, "%s", d->folds);
    }
    for (uint32_t i = 0; rc == 0 && i < d->n_samples; i++) {
        const vb_sample *s = &d->samples[i];
        index[i] = out->n_samples;
        if (s->modality == m)
            rc = vb_ds_add_sample(out, s->id, s->subject, s->rel, m, e);
    }
    for (uint64_t k = 0; rc == 0 && k < d->n_trials; k++) {
        const vb_trial *t = &d->trials[k];
        if (d->samples[t->a].modality == m)
            rc = vb_ds_add_trial(out, index[t->a], index[t->b], t->label, t->fold, e);
    }
    if (rc == 0 && out->n_trials == 0)
        rc = vb_fail(e, VB_EXIT_INPUT, "%s: no trial compares two %s samples", d->spec, vb_modality_name(m));
    rc = rc || vb_ds_compact_to_trials(out, e) || vb_ds_finish(out, e);
    free(index);
    if (rc)
        vb_dataset_free(out);
    return rc ? -1 : 0;
}
