/* run --shard and merge: see shard.h. */
#include "cli/shard.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/templates.h"
#include "core/csv_read.h"
#include "core/csv_write.h"
#include "core/files.h"
#include "core/parse.h"
#include "datasets/dataset.h"

#define SHARD_FORMAT "veribench-shard-v1"
#define SCORE_SHARD_FORMAT "veribench-score-shard-v1"
#define MAX_SHARDS 100000u

void vb_shard_samples(unsigned index, unsigned count, uint32_t n_samples, uint32_t *lo, uint32_t *hi)
{
    uint64_t b = 0, e = n_samples;
    if (count)
        vb_shard_range(n_samples, index, count, &b, &e);
    *lo = (uint32_t)b, *hi = (uint32_t)e;
}

void vb_shard_trials(unsigned index, unsigned count, uint64_t n_trials, uint64_t *lo, uint64_t *hi)
{
    *lo = 0, *hi = n_trials;
    if (count)
        vb_shard_range(n_trials, index, count, lo, hi);
}

int vb_shard_parse(const char *text, unsigned *index, unsigned *count, vb_err *e)
{
    char buf[64];
    const char *slash = strchr(text, '/');
    uint64_t i = 0, n = 0;
    int ok = slash && (size_t)(slash - text) < sizeof buf;
    if (ok) {
        memcpy(buf, text, (size_t)(slash - text));
        buf[slash - text] = 0;
        ok = !vb_parse_uint(buf, MAX_SHARDS, &i) && !vb_parse_uint(slash + 1, MAX_SHARDS, &n) && n >= 1 && i < n;
    }
    if (!ok)
        return vb_fail(e, VB_EXIT_USAGE, "--shard '%s': expected i/N with 0 <= i < N <= %u (e.g. 0/4 .. 3/4)", text,
                       MAX_SHARDS);
    *index = (unsigned)i, *count = (unsigned)n;
    return 0;
}

static void row(FILE *f, const char *key, const char *value)
{
    fprintf(f, "%s,", key);
    vb_csv_field(f, value);
    fputc('\n', f);
}

static void num_row(FILE *f, const char *key, uint64_t v)
{
    fprintf(f, "%s,%llu\n", key, (unsigned long long)v);
}

/* shard.csv's common part: format, index, count, samples; then the caller's rows. */
static int begin_shard_csv(vb_atomic *a, const char *dir, const char *format, unsigned index, unsigned count,
                           uint32_t n_samples, vb_err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/shard.csv", dir);
    if (vb_atomic_begin(a, path, "w", e))
        return -1;
    fprintf(a->f, "key,value\n");
    row(a->f, "format", format);
    num_row(a->f, "shard", index);
    num_row(a->f, "shards", count);
    num_row(a->f, "samples", n_samples);
    return 0;
}

static int end_shard_csv(vb_atomic *a, int argc, const char *const *argv, vb_err *e)
{
    for (int i = 0; i < argc; i++)
        row(a->f, "arg", argv[i]);
    return vb_atomic_commit(a, e);
}

int vb_shard_write(const char *dir, unsigned index, unsigned count, uint32_t n_samples, int argc,
                   const char *const *argv, vb_err *e)
{
    uint32_t lo, hi;
    vb_shard_samples(index, count, n_samples, &lo, &hi);
    vb_atomic a;
    if (begin_shard_csv(&a, dir, SHARD_FORMAT, index, count, n_samples, e))
        return -1;
    num_row(a.f, "samples_begin", lo);
    num_row(a.f, "samples_end", hi);
    return end_shard_csv(&a, argc, argv, e);
}

int vb_shard_write_scores(const char *dir, unsigned index, unsigned count, uint32_t n_samples, uint64_t n_trials,
                          unsigned embed_shards, int argc, const char *const *argv, vb_err *e)
{
    uint64_t lo, hi;
    vb_shard_trials(index, count, n_trials, &lo, &hi);
    vb_atomic a;
    if (begin_shard_csv(&a, dir, SCORE_SHARD_FORMAT, index, count, n_samples, e))
        return -1;
    num_row(a.f, "trials", n_trials);
    num_row(a.f, "trials_begin", lo);
    num_row(a.f, "trials_end", hi);
    num_row(a.f, "embed_shards", embed_shards);
    return end_shard_csv(&a, argc, argv, e);
}

/* ------------------------------------------------------------------ reading shard.csv */

typedef struct shard_info {
    char dir[2048];
    unsigned index, count;
    uint32_t n_samples, lo, hi;
    uint64_t n_trials;             /* score shards */
    unsigned embed_shards;         /* score shards */
    int scores;                    /* 1: a score shard (phase 2), 0: an embed shard */
    int argc, have_format, have[6];
    char **argv;
} shard_info;

void vb_shard_args_free(int argc, char **argv)
{
    for (int i = 0; argv && i < argc; i++)
        free(argv[i]);
    free(argv);
}

static int number(const vb_csv_row *r, uint64_t max, uint64_t *out, vb_err *e)
{
    if (vb_parse_uint(r->f[1], max, out))
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: %s '%s' is not a whole number up to %llu", r->file, r->line,
                       r->f[0], r->f[1], (unsigned long long)max);
    return 0;
}

static int shard_row(void *ctx, const vb_csv_row *r, vb_err *e)
{
    shard_info *s = ctx;
    if (r->n != 2)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: expected 2 fields (key,value), got %zu", r->file, r->line, r->n);
    const char *k = r->f[0];
    uint64_t v = 0;
    if (r->index == 0)
        return strcmp(k, "key") || strcmp(r->f[1], "value")
                   ? vb_fail(e, VB_EXIT_INPUT, "%s:%ld: expected the header key,value", r->file, r->line)
                   : 0;
    if (!strcmp(k, "format")) {
        if (strcmp(r->f[1], SHARD_FORMAT) && strcmp(r->f[1], SCORE_SHARD_FORMAT))
            return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: format '%s', expected %s or %s", r->file, r->line, r->f[1],
                           SHARD_FORMAT, SCORE_SHARD_FORMAT);
        s->scores = !strcmp(r->f[1], SCORE_SHARD_FORMAT);
        s->have_format = 1;
    } else if (!strcmp(k, "trials")) {
        if (number(r, UINT64_MAX, &s->n_trials, e))
            return -1;
        s->have[3] = 1;
    } else if (!strcmp(k, "embed_shards")) {
        if (number(r, MAX_SHARDS, &v, e))
            return -1;
        s->embed_shards = (unsigned)v, s->have[4] = 1;
    } else if (!strcmp(k, "shard") || !strcmp(k, "shards") || !strcmp(k, "samples")) {
        uint64_t max = !strcmp(k, "shard") ? MAX_SHARDS - 1 : !strcmp(k, "shards") ? MAX_SHARDS : UINT32_MAX;
        if (number(r, max, &v, e))
            return -1;
        if (!strcmp(k, "shard"))
            s->index = (unsigned)v, s->have[0] = 1;
        else if (!strcmp(k, "shards"))
            s->count = (unsigned)v, s->have[1] = 1;
        else
            s->n_samples = (uint32_t)v, s->have[2] = 1;
    } else if (!strcmp(k, "arg")) {
        char **p = realloc(s->argv, (size_t)(s->argc + 1) * sizeof *p);
        if (!p || !(p[s->argc] = strdup(r->f[1]))) {
            if (p)
                s->argv = p;
            return vb_fail(e, VB_EXIT_IO, "out of memory");
        }
        s->argv = p;
        s->argc++;
    } /* samples_begin/_end are for people: recomputed from shard, shards, samples */
    return 0;
}

static int shard_read(const char *dir, shard_info *s, vb_err *e)
{
    char path[4200];
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    snprintf(path, sizeof path, "%s/shard.csv", dir);
    if (access(path, R_OK))
        return vb_fail(e, VB_EXIT_INPUT, "%s: not a shard's results folder (no readable shard.csv: %s); make "
                       "shards with veribench run --shard i/N", dir, strerror(errno));
    if (vb_csv_read(path, shard_row, s, e))
        return -1;
    if (!s->have_format || !s->have[0] || !s->have[1] || !s->have[2] || s->index >= s->count ||
        (s->scores && (!s->have[3] || !s->have[4])))
        return vb_fail(e, VB_EXIT_INPUT, "%s: incomplete or inconsistent (format, shard < shards, samples, and for a "
                       "score shard trials and embed_shards needed)", path);
    if (s->scores) /* a score shard holds every template (phase 2 combined them) */
        s->lo = 0, s->hi = s->n_samples;
    else
        vb_shard_samples(s->index, s->count, s->n_samples, &s->lo, &s->hi);
    return 0;
}

static int same_run(const shard_info *a, const shard_info *b, vb_err *e)
{
    if (a->scores != b->scores)
        return vb_fail(e, VB_EXIT_INPUT, "%s is a %s shard, %s a %s shard: give either the embed shards (run --shard) "
                       "or the score shards (merge --shard)", a->dir, a->scores ? "score" : "embed", b->dir,
                       b->scores ? "score" : "embed");
    int same = a->count == b->count && a->n_samples == b->n_samples && a->argc == b->argc &&
               a->n_trials == b->n_trials && a->embed_shards == b->embed_shards;
    for (int i = 0; same && i < a->argc; i++)
        same = !strcmp(a->argv[i], b->argv[i]);
    if (!same)
        return vb_fail(e, VB_EXIT_INPUT, "%s and %s are shards of different runs (shard count, sample count or "
                       "options differ; see their shard.csv)", a->dir, b->dir);
    return 0;
}

/* ------------------------------------------------------------------ templates */

/* Shard s's slice of one combination into the merged store. */
static int copy_slice(const shard_info *s, const char *name, vb_template_store *out, const char *fp, vb_err *e)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/templates/%s", s->dir, name);
    vb_template_store in;
    if (vb_templates_load(&in, path, e))
        return -1;
    int rc = 0;
    char in_fp[65];
    size_t n;
    int dim;
    if (vb_templates_peek(path, in_fp, &n, &dim, e))
        rc = -1;
    else if (strcmp(in_fp, fp) || n != out->n_samples || dim != out->dim)
        rc = vb_fail(e, VB_EXIT_INPUT, "%s: made with another model, dataset, crop, backend, device or quant than "
                     "shard 0's (fingerprint %.12s..., %zu samples, dimension %d)", path, in_fp, n, dim);
    for (uint32_t k = s->lo; !rc && k < s->hi; k++) {
        if (in.state[k] == VB_TPL_MISSING)
            rc = vb_fail(e, VB_EXIT_INPUT, "%s: shard %u/%u has not embedded sample %u (of its %u..%u): it did "
                         "not finish; run it again", path, s->index, s->count, k, s->lo, s->hi);
        else
            rc = vb_templates_put(out, k, in.state[k] == VB_TPL_OK ? in.desc + (size_t)k * in.dim : NULL,
                                  in.why[k] ? in.why[k] : "failed to acquire", e);
    }
    vb_templates_close(&in);
    return rc;
}

/* The shards' saved timings added up ("<combo>.timing" beside "<combo>.bin"); shards whose
 * timing is lost contribute nothing (the merged run then rests on the others' images). */
static int merge_timing(const shard_info *shards, int n, const char *out, const char *name, const char *fp,
                        vb_err *e)
{
    static vb_saved_timing sum, t;
    char stem[256], path[4400];
    snprintf(stem, sizeof stem, "%.*s", (int)(strlen(name) - 4), name);
    memset(&sum, 0, sizeof sum);
    int have = 0;
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/templates/%s.timing", shards[i].dir, stem);
        if (vb_timing_read(path, fp, have ? sum.n_layers : -1, &t))
            continue;
        if (!have)
            sum = t;
        else {
            sum.images += t.images, sum.calls += t.calls, sum.run_ms += t.run_ms, sum.wall_ms += t.wall_ms;
            for (int l = 0; l < sum.n_layers; l++)
                sum.layer_ms[l] += t.layer_ms[l];
        }
        have = 1;
    }
    snprintf(path, sizeof path, "%s/templates/%s.timing", out, stem);
    unlink(path);
    return have ? vb_timing_write(path, fp, &sum, e) : 0;
}

static int merge_combo(const shard_info *shards, int n, const char *out, const char *name, vb_err *e)
{
    char path[4400], fp[65];
    size_t n_samples;
    int dim;
    snprintf(path, sizeof path, "%s/templates/%s", shards[0].dir, name);
    if (vb_templates_peek(path, fp, &n_samples, &dim, e))
        return -1;
    if (n_samples != shards[0].n_samples)
        return vb_fail(e, VB_EXIT_INPUT, "%s: %zu samples, shard.csv says %u", path, n_samples, shards[0].n_samples);
    snprintf(path, sizeof path, "%s/templates/%s", out, name);
    unlink(path); /* made afresh: a merge again after a shard was re-run replaces it */
    vb_template_store store;
    if (vb_templates_open(&store, path, fp, n_samples, dim, e))
        return -1;
    int rc = 0;
    for (int i = 0; !rc && i < n; i++)
        rc = copy_slice(&shards[i], name, &store, fp, e);
    rc = rc || vb_templates_sync(&store, e);
    vb_templates_close(&store);
    return rc ? -1 : merge_timing(shards, n, out, name, fp, e);
}

static int is_template_file(const char *name)
{
    size_t len = strlen(name);
    return len > 4 && len < 200 && !strcmp(name + len - 4, ".bin") && name[0] != '.';
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The combinations (template file names) of shard 0, sorted. */
static int list_combos(const char *dir, char ***names, int *n, vb_err *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/templates", dir);
    DIR *d = opendir(path);
    if (!d)
        return vb_fail(e, VB_EXIT_INPUT, "%s: %s", path, strerror(errno));
    *names = NULL, *n = 0;
    struct dirent *ent;
    int rc = 0;
    while (!rc && (ent = readdir(d))) {
        if (!is_template_file(ent->d_name))
            continue;
        char **p = realloc(*names, (size_t)(*n + 1) * sizeof *p);
        if (!p || !(p[*n] = strdup(ent->d_name)))
            rc = vb_fail(e, VB_EXIT_IO, "out of memory");
        if (p)
            *names = p;
        if (!rc)
            (*n)++;
    }
    closedir(d);
    if (!rc && !*n)
        rc = vb_fail(e, VB_EXIT_INPUT, "%s: no template files: the shard has not run", path);
    if (!rc)
        qsort(*names, (size_t)*n, sizeof **names, by_name);
    return rc;
}

/* src copied to dst (nothing when src is missing): the shards' provenance and timings, kept
 * beside the merge. */
static int keep_file(const char *src, const char *dst, vb_err *e)
{
    FILE *f = fopen(src, "rb");
    if (!f)
        return 0; /* nothing to keep */
    char *buf = NULL;
    size_t len = 0, cap = 0, got;
    char chunk[65536];
    int rc = 0;
    while (!rc && (got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + got > cap) {
            char *p = realloc(buf, cap = 2 * (len + got));
            if (!p)
                rc = vb_fail(e, VB_EXIT_IO, "out of memory");
            else
                buf = p;
        }
        if (!rc)
            memcpy(buf + len, chunk, got), len += got;
    }
    fclose(f);
    rc = rc || vb_write_file_atomic(dst, buf ? buf : "", len, e);
    free(buf);
    return rc;
}

/* OUT/shards/: each embed shard's provenance.csv and latency.csv as <i>-<file> (from the
 * shard's folder, or the copies a score shard holds), each score shard's provenance.csv as
 * scores-<j>-provenance.csv. */
static int keep_shard_files(const shard_info *s, int n, const char *out, vb_err *e)
{
    static const char *const files[] = {"provenance.csv", "latency.csv"};
    char src[4300], dst[4300];
    int rc = 0;
    unsigned n_embed = s[0].scores ? s[0].embed_shards : (unsigned)n;
    for (unsigned k = 0; !rc && k < n_embed; k++)
        for (int f = 0; !rc && f < 2; f++) {
            if (s[0].scores)
                snprintf(src, sizeof src, "%s/shards/%u-%s", s[0].dir, k, files[f]);
            else
                snprintf(src, sizeof src, "%s/%s", s[k].dir, files[f]);
            snprintf(dst, sizeof dst, "%s/shards/%u-%s", out, k, files[f]);
            rc = keep_file(src, dst, e);
        }
    for (int j = 0; !rc && s[0].scores && j < n; j++) {
        snprintf(src, sizeof src, "%s/provenance.csv", s[j].dir);
        snprintf(dst, sizeof dst, "%s/shards/scores-%u-provenance.csv", out, s[j].index);
        rc = keep_file(src, dst, e);
    }
    return rc;
}

static int by_index(const void *a, const void *b)
{
    unsigned x = ((const shard_info *)a)->index, y = ((const shard_info *)b)->index;
    return x < y ? -1 : x > y;
}

void vb_merge_plan_free(vb_merge_plan *plan)
{
    vb_shard_args_free(plan->argc, plan->argv);
    vb_shard_args_free(plan->n_score_dirs, plan->score_dirs);
    memset(plan, 0, sizeof *plan);
}

static void shards_free(shard_info *s, int n)
{
    for (int i = 0; s && i < n; i++)
        vb_shard_args_free(s[i].argc, s[i].argv);
    free(s);
}

int vb_shard_merge(const char *out, const char *const *dirs, int n_dirs, vb_merge_plan *plan, vb_err *e)
{
    shard_info *s = vb_calloc((size_t)n_dirs, sizeof *s, e);
    if (!s)
        return -1;
    int rc = 0;
    for (int i = 0; !rc && i < n_dirs; i++)
        rc = shard_read(dirs[i], &s[i], e) || (i && same_run(&s[0], &s[i], e));
    if (!rc && plan->trial_count && s[0].scores)
        rc = vb_fail(e, VB_EXIT_USAGE, "merge --shard scores from the embed shards (run --shard i/N folders); %s is "
                     "already a score shard", s[0].dir);
    unsigned char *seen = rc ? NULL : vb_calloc(s[0].count, 1, e);
    rc = rc || !seen;
    for (int i = 0; !rc && i < n_dirs; i++) {
        if (seen[s[i].index]++)
            rc = vb_fail(e, VB_EXIT_INPUT, "%s: %s shard %u/%u given twice", s[i].dir, s[i].scores ? "score" : "embed",
                         s[i].index, s[i].count);
    }
    for (unsigned k = 0; !rc && k < s[0].count; k++)
        if (!seen[k])
            rc = vb_fail(e, VB_EXIT_INPUT, "%s shard %u/%u is missing: give all %u shard folders",
                         s[0].scores ? "score" : "embed", k, s[0].count, s[0].count);
    free(seen);
    if (!rc)
        qsort(s, (size_t)n_dirs, sizeof *s, by_index);
    char path[4200];
    snprintf(path, sizeof path, "%s/templates", out);
    rc = rc || vb_mkdirs(path, e);
    snprintf(path, sizeof path, "%s/shards", out);
    rc = rc || vb_mkdirs(path, e);
    char **names = NULL;
    int n_names = 0;
    rc = rc || list_combos(s[0].dir, &names, &n_names, e);
    /* score shards hold the same whole templates and summed timing: shard 0's are taken */
    for (int c = 0; !rc && c < n_names; c++)
        rc = merge_combo(s, s[0].scores ? 1 : n_dirs, out, names[c], e);
    rc = rc || keep_shard_files(s, n_dirs, out, e);
    vb_shard_args_free(n_names, names);
    if (!rc && s[0].scores) {
        plan->score_dirs = vb_calloc((size_t)n_dirs, sizeof *plan->score_dirs, e);
        for (int i = 0; plan->score_dirs && i < n_dirs; i++)
            if (!(plan->score_dirs[plan->n_score_dirs++] = strdup(s[i].dir)))
                rc = vb_fail(e, VB_EXIT_IO, "out of memory");
        rc = rc || !plan->score_dirs;
    }
    if (!rc) {
        plan->argc = s[0].argc, plan->argv = s[0].argv;
        plan->embed_shards = s[0].count;
        s[0].argc = 0, s[0].argv = NULL;
    }
    shards_free(s, n_dirs);
    if (rc)
        vb_merge_plan_free(plan);
    return rc ? -1 : 0;
}
