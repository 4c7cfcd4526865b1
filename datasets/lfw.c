/* LFW: people.txt (the official listing: which people, how many images each) and pairs.txt
 * (View 2). Both are whitespace-separated text, not CSV. people.txt is the reference for
 * what exists: pairs.txt naming a person it lacks, or an image number above that person's
 * count, is a broken protocol (error); a listed image missing on disk is a failure to
 * acquire, found when decoding. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datasets/builder.h"
#include "datasets/loaders.h"

enum { LFW_MAX_FILE = 64 << 20, LFW_MAX_IMAGES = 9999, LFW_MAX_FIELDS = 5, LFW_MAX_NAME = 255,
       LFW_MAX_TRIALS = 10000000 };

#define LFW_IMAGE_FMT "lfw/images_deepfunneled/%s/%s_%04u.jpg"

/* A text file split into lines and whitespace-separated fields, in place. */
typedef struct text_file {
    const char *path;
    char *data;
    size_t size, pos;
    long line;        /* line number of the fields below */
    int n;            /* number of fields */
    char *f[LFW_MAX_FIELDS + 1];
} text_file;

static int text_open(text_file *t, const char *path, const char *data_dir, const char *what,
                     vb_err *e)
{
    memset(t, 0, sizeof *t);
    t->path = path;
    uint8_t *data;
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return vb_ds_fail_missing(e, data_dir, path, what);
    if (vb_read_file(path, LFW_MAX_FILE, &data, &t->size, e))
        return -1;
    t->data = (char *)data;
    if (memchr(t->data, 0, t->size)) {
        free(t->data);
        t->data = NULL;
        return vb_fail(e, VB_EXIT_INPUT, "%s: contains NUL bytes: not a text file", path);
    }
    return 0;
}

/* Next non-blank line; returns 1 with fields set, 0 at the end of the file. */
static int text_next(text_file *t)
{
    while (t->pos < t->size) {
        char *s = t->data + t->pos;
        char *nl = memchr(s, '\n', t->size - t->pos);
        size_t len = nl ? (size_t)(nl - s) : t->size - t->pos;
        t->pos += len + (nl != NULL);
        t->line++;
        s[len] = 0; /* data has a NUL past its end (vb_read_file), so this is in bounds */
        t->n = 0;
        for (char *p = s;;) {
            p += strspn(p, " \t\r");
            if (!*p)
                break;
            size_t flen = strcspn(p, " \t\r");
            if (t->n < LFW_MAX_FIELDS + 1)
                t->f[t->n++] = p;
            p += flen;
            if (*p)
                *p++ = 0;
        }
        if (t->n)
            return 1;
    }
    return 0;
}

static int text_number(const text_file *t, int field, uint64_t min, uint64_t max, const char *what,
                       uint64_t *out, vb_err *e)
{
    if (vb_parse_uint(t->f[field], max, out) || *out < min)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: %s '%s' is not a whole number in %llu..%llu",
                       t->path, t->line, what, t->f[field], (unsigned long long)min,
                       (unsigned long long)max);
    return 0;
}

static int check_name(const text_file *t, const char *name, vb_err *e)
{
    if (strlen(name) > LFW_MAX_NAME)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: name longer than %d bytes", t->path, t->line,
                       LFW_MAX_NAME);
    if (name[0] == '.' || strchr(name, '/') || strchr(name, '\\'))
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: '%s' is not a valid LFW name", t->path, t->line,
                       name);
    return 0;
}

/* ---- people.txt ------------------------------------------------------------------------- */

typedef struct lfw_people {
    const char **name; /* in the dataset's string pool */
    uint32_t *count;   /* images per person */
    uint32_t *rank;    /* position of the person in byte order of names */
    uint32_t n;
    vb_strmap index;   /* name -> person */
} lfw_people;

static void people_free(lfw_people *p)
{
    free(p->name);
    free(p->count);
    free(p->rank);
    vb_strmap_free(&p->index);
}

static int expect_fields(const text_file *t, int n, const char *form, vb_err *e)
{
    if (t->n == n)
        return 0;
    if (t->n > LFW_MAX_FIELDS)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: expected %s, found more than %d fields", t->path,
                       t->line, form, LFW_MAX_FIELDS);
    return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: expected %s, found %d field%s", t->path, t->line,
                   form, t->n, t->n == 1 ? "" : "s");
}

static int people_add(lfw_people *p, vb_strpool *pool, const text_file *t, uint32_t cap, vb_err *e)
{
    uint64_t count;
    if (expect_fields(t, 2, "'Name count'", e) || check_name(t, t->f[0], e) ||
        text_number(t, 1, 1, LFW_MAX_IMAGES, "image count", &count, e))
        return -1;
    if (p->n == cap)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: more people than the fold counts announce",
                       t->path, t->line);
    const char *name = vb_pool_strdup(pool, t->f[0], e);
    if (!name)
        return -1;
    uint32_t first;
    int rc = vb_strmap_put(&p->index, name, p->n, &first, e);
    if (rc < 0)
        return -1;
    if (rc == 1)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: '%s' is listed twice", t->path, t->line, name);
    p->name[p->n] = name;
    p->count[p->n++] = (uint32_t)count;
    return 0;
}

typedef struct named {
    const char *name;
    uint32_t index;
} named;

static int cmp_named(const void *x, const void *y)
{
    return strcmp(((const named *)x)->name, ((const named *)y)->name);
}

/* rank[i] = position of person i when names are sorted bytewise. */
static int people_rank(lfw_people *p, vb_err *e)
{
    named *order = vb_malloc((size_t)p->n * sizeof *order, e);
    p->rank = vb_malloc((size_t)p->n * sizeof *p->rank, e);
    if (!order || !p->rank) {
        free(order);
        return -1;
    }
    for (uint32_t i = 0; i < p->n; i++)
        order[i] = (named){p->name[i], i};
    qsort(order, p->n, sizeof *order, cmp_named);
    for (uint32_t r = 0; r < p->n; r++)
        p->rank[order[r].index] = r;
    free(order);
    return 0;
}

/* people.txt: a line with the number of folds F; per fold a line with its number of people
 * P, then P lines "Name count". */
static int parse_people(text_file *t, lfw_people *p, vb_strpool *pool, vb_err *e)
{
    uint64_t folds, in_fold;
    if (!text_next(t))
        return vb_fail(e, VB_EXIT_INPUT, "%s: empty file", t->path);
    if (expect_fields(t, 1, "the number of folds", e) ||
        text_number(t, 0, 1, VB_MAX_FOLDS, "number of folds", &folds, e))
        return -1;
    /* The file size bounds the number of people: each needs at least 4 bytes. */
    uint32_t cap = (uint32_t)(t->size / 4 + 1);
    p->name = vb_malloc((size_t)cap * sizeof *p->name, e);
    p->count = vb_malloc((size_t)cap * sizeof *p->count, e);
    if (!p->name || !p->count)
        return -1;
    for (uint64_t f = 1; f <= folds; f++) {
        if (!text_next(t))
            return vb_fail(e, VB_EXIT_INPUT, "%s: ends before fold %llu of %llu", t->path,
                           (unsigned long long)f, (unsigned long long)folds);
        if (expect_fields(t, 1, "the number of people in the next fold", e) ||
            text_number(t, 0, 1, cap, "number of people", &in_fold, e))
            return -1;
        for (uint64_t i = 0; i < in_fold; i++) {
            if (!text_next(t))
                return vb_fail(e, VB_EXIT_INPUT,
                               "%s: ends inside fold %llu (%llu of %llu people listed)", t->path,
                               (unsigned long long)f, (unsigned long long)i,
                               (unsigned long long)in_fold);
            if (people_add(p, pool, t, cap, e))
                return -1;
        }
    }
    if (text_next(t))
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: unexpected line after the last fold", t->path,
                       t->line);
    return people_rank(p, e);
}

static int load_people(const char *data_dir, lfw_people *p, vb_strpool *pool, vb_err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/lfw/people.txt", data_dir);
    text_file t;
    if (text_open(&t, path, data_dir, "LFW people list", e))
        return -1;
    int rc = parse_people(&t, p, pool, e);
    free(t.data);
    return rc;
}

/* ---- samples ---------------------------------------------------------------------------- */

/* Sample key: person rank (byte order of names) and image number: sorting keys sorts samples
 * by (subject, number). */
static uint64_t image_key(const lfw_people *p, uint32_t person, uint32_t number)
{
    return (uint64_t)p->rank[person] << 16 | number;
}

static int add_image(vb_dataset *d, const char *name, uint32_t number, vb_err *e)
{
    char id[LFW_MAX_NAME + 16], rel[2 * LFW_MAX_NAME + 64];
    snprintf(id, sizeof id, "%s_%04u", name, number);
    snprintf(rel, sizeof rel, LFW_IMAGE_FMT, name, name, number);
    return vb_ds_add_sample(d, id, name, rel, VB_MODALITY_FACE, e);
}

static int add_images_by_key(vb_dataset *d, const lfw_people *p, const uint64_t *keys, size_t n,
                             vb_err *e)
{
    uint32_t *by_rank = vb_malloc((size_t)p->n * sizeof *by_rank, e);
    if (!by_rank)
        return -1;
    for (uint32_t i = 0; i < p->n; i++)
        by_rank[p->rank[i]] = i;
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++)
        rc = add_image(d, p->name[by_rank[keys[k] >> 16]], (uint32_t)(keys[k] & 0xffff), e);
    free(by_rank);
    return rc;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* lfw-all: every image of every person in people.txt. */
static int add_all_images(vb_dataset *d, const lfw_people *p, vb_err *e)
{
    size_t n = 0;
    for (uint32_t i = 0; i < p->n; i++)
        n += p->count[i];
    uint64_t *keys = vb_malloc(n * sizeof *keys, e);
    if (!keys)
        return -1;
    n = 0;
    for (uint32_t i = 0; i < p->n; i++)
        for (uint32_t k = 1; k <= p->count[i]; k++)
            keys[n++] = image_key(p, i, k);
    qsort(keys, n, sizeof *keys, cmp_u64);
    int rc = add_images_by_key(d, p, keys, n, e);
    free(keys);
    return rc;
}

/* ---- pairs.txt -------------------------------------------------------------------------- */

typedef struct lfw_pair {
    uint32_t person[2], number[2];
    long line;
    uint16_t fold;
    uint8_t label;
} lfw_pair;

/* Resolves field f (name) and f+1 (image number) of a pairs.txt line against people.txt. */
static int pair_image(const text_file *t, const lfw_people *p, int f, uint32_t *person,
                      uint32_t *number, vb_err *e)
{
    int64_t who = vb_strmap_get(&p->index, t->f[f]);
    if (who < 0)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: '%s' is not a person of lfw/people.txt", t->path,
                       t->line, t->f[f]);
    uint64_t num;
    if (text_number(t, f + 1, 1, LFW_MAX_IMAGES, "image number", &num, e))
        return -1;
    if (num > p->count[who])
        return vb_fail(e, VB_EXIT_INPUT,
                       "%s:%ld: image %llu of '%s' does not exist: people.txt lists %u image%s",
                       t->path, t->line, (unsigned long long)num, t->f[f], p->count[who],
                       p->count[who] == 1 ? "" : "s");
    *person = (uint32_t)who;
    *number = (uint32_t)num;
    return 0;
}

static int parse_pair(const text_file *t, const lfw_people *p, int matched, lfw_pair *pr, vb_err *e)
{
    pr->line = t->line;
    if (matched) {
        if (expect_fields(t, 3, "a matched pair 'Name n1 n2'", e) ||
            pair_image(t, p, 0, &pr->person[0], &pr->number[0], e))
            return -1;
        uint64_t n2;
        if (text_number(t, 2, 1, LFW_MAX_IMAGES, "image number", &n2, e))
            return -1;
        if (n2 > p->count[pr->person[0]])
            return vb_fail(e, VB_EXIT_INPUT,
                           "%s:%ld: image %llu of '%s' does not exist: people.txt lists %u", t->path,
                           t->line, (unsigned long long)n2, t->f[0], p->count[pr->person[0]]);
        if (n2 == pr->number[0])
            return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: the pair compares an image with itself",
                           t->path, t->line);
        pr->person[1] = pr->person[0];
        pr->number[1] = (uint32_t)n2;
        pr->label = 1;
        return 0;
    }
    if (expect_fields(t, 4, "a mismatched pair 'Name1 n1 Name2 n2'", e) ||
        pair_image(t, p, 0, &pr->person[0], &pr->number[0], e) ||
        pair_image(t, p, 2, &pr->person[1], &pr->number[1], e))
        return -1;
    if (pr->person[0] == pr->person[1])
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: a mismatched pair names '%s' twice", t->path,
                       t->line, t->f[0]);
    pr->label = 0;
    return 0;
}

/* pairs.txt: "F P", then per fold P matched and P mismatched lines. */
static int parse_pairs(text_file *t, const lfw_people *p, lfw_pair **out, size_t *n_out,
                       unsigned *n_folds, vb_err *e)
{
    uint64_t folds, per;
    if (!text_next(t))
        return vb_fail(e, VB_EXIT_INPUT, "%s: empty file", t->path);
    if (expect_fields(t, 2, "'folds pairs-per-fold' (View 2: '10 300')", e) ||
        text_number(t, 0, 1, VB_MAX_FOLDS, "number of folds", &folds, e) ||
        text_number(t, 1, 1, LFW_MAX_TRIALS, "pairs per fold", &per, e))
        return -1;
    if (folds * per * 2 > LFW_MAX_TRIALS)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: %llu folds x %llu pairs is above the limit",
                       t->path, t->line, (unsigned long long)folds, (unsigned long long)per);
    size_t n = (size_t)(folds * per * 2);
    lfw_pair *pairs = vb_calloc(n, sizeof *pairs, e);
    if (!pairs)
        return -1;
    for (size_t k = 0; k < n; k++) {
        size_t in_fold = k % (2 * per);
        int matched = in_fold < per;
        if (!text_next(t)) {
            free(pairs);
            return vb_fail(e, VB_EXIT_INPUT,
                           "%s: ends after %zu of %zu pairs (expected %llu folds x (%llu matched + "
                           "%llu mismatched))",
                           t->path, k, n, (unsigned long long)folds, (unsigned long long)per,
                           (unsigned long long)per);
        }
        pairs[k].fold = (uint16_t)(k / (2 * per) + 1);
        if (parse_pair(t, p, matched, &pairs[k], e)) {
            size_t used = strlen(e->msg);
            snprintf(e->msg + used, sizeof e->msg - used, " (fold %u, %s pair %zu of %llu)",
                     pairs[k].fold, matched ? "matched" : "mismatched",
                     (size_t)(matched ? in_fold : in_fold - per) + 1, (unsigned long long)per);
            free(pairs);
            return -1;
        }
    }
    if (text_next(t)) {
        free(pairs);
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: more lines than the %zu pairs the first line announces",
                       t->path, t->line, n);
    }
    *out = pairs;
    *n_out = n;
    *n_folds = (unsigned)folds;
    return 0;
}

static int64_t find_key(const uint64_t *keys, size_t n, uint64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (keys[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && keys[lo] == key ? (int64_t)lo : -1;
}

/* View 2: samples are the distinct images of the pairs, sorted; trials in file order. */
static int build_view2(vb_dataset *d, const lfw_people *p, const lfw_pair *pairs, size_t n,
                       const char *path, vb_err *e)
{
    uint64_t *keys = vb_malloc(2 * n * sizeof *keys, e);
    long *lines = vb_malloc(n * sizeof *lines, e);
    int rc = -1;
    if (!keys || !lines)
        goto out;
    for (size_t k = 0; k < n; k++)
        for (int s = 0; s < 2; s++)
            keys[2 * k + s] = image_key(p, pairs[k].person[s], pairs[k].number[s]);
    qsort(keys, 2 * n, sizeof *keys, cmp_u64);
    size_t distinct = 0;
    for (size_t k = 0; k < 2 * n; k++)
        if (k == 0 || keys[k] != keys[distinct - 1])
            keys[distinct++] = keys[k];
    if (add_images_by_key(d, p, keys, distinct, e))
        goto out;
    for (size_t k = 0; k < n; k++) {
        const lfw_pair *pr = &pairs[k];
        int64_t a = find_key(keys, distinct, image_key(p, pr->person[0], pr->number[0]));
        int64_t b = find_key(keys, distinct, image_key(p, pr->person[1], pr->number[1]));
        lines[k] = pr->line;
        if (vb_ds_add_trial(d, (uint32_t)a, (uint32_t)b, pr->label, pr->fold, e)) {
            vb_err_prefix(e, "%s:%ld", path, pr->line);
            goto out;
        }
    }
    rc = vb_ds_check_duplicate_trials(d, lines, path, e);
out:
    free(keys);
    free(lines);
    return rc;
}

static int load_view2(vb_dataset *d, const char *data_dir, const lfw_people *p, vb_err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/lfw/pairs.txt", data_dir);
    text_file t;
    if (text_open(&t, path, data_dir, "LFW View 2 protocol", e))
        return -1;
    lfw_pair *pairs = NULL;
    size_t n = 0;
    unsigned folds = 0;
    int rc = parse_pairs(&t, p, &pairs, &n, &folds, e);
    free(t.data);
    if (rc == 0)
        rc = build_view2(d, p, pairs, n, path, e);
    d->n_folds = folds;
    free(pairs);
    return rc;
}

int vb_lfw_load(vb_dataset *d, const char *data_dir, const char *arg, int all_pairs, vb_err *e)
{
    (void)arg; /* LFW has one layout; the spec name chose all_pairs */
    if (vb_ds_begin(d, all_pairs ? "lfw-all" : "lfw", data_dir, e))
        return -1;
    lfw_people people = {0};
    vb_dataset_store *store = d->priv;
    int rc = load_people(data_dir, &people, &store->pool, e);
    if (rc == 0 && all_pairs) {
        d->protocol = VB_PROTOCOL_ALL_PAIRS;
        rc = add_all_images(d, &people, e);
    } else if (rc == 0) {
        d->protocol = VB_PROTOCOL_EXPLICIT;
        rc = load_view2(d, data_dir, &people, e);
    }
    people_free(&people);
    return rc;
}
