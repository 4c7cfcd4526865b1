/* veribench bench-latency: end-to-end verification latency and throughput under MLPerf
 * LoadGen's rules (reports/loadgen.h), on real images of a dataset.
 *
 * single-stream: one verification at a time, each issued when the previous one completes;
 *   a query is one trial of the dataset (drawn at random, with replacement, from a sample
 *   set of --sample-set trials whose encoded files were read into memory beforehand, as
 *   LoadGen's QSL loads its performance samples): decode, preprocess, describe both images
 *   in one backend call (or, with --template, only the probe against a template enrolled
 *   before timing), compare. Each stage is timed per query; --per-layer adds each layer's
 *   time per backend call (Vulkan: GPU timestamps; CPU: wall time per node).
 * offline: every image of the sample set at once, through the same embedding engine as
 *   `run` (decoding on helper threads overlapping the backend): a short probe at each
 *   --batch size, then one query at the fastest, sized as LoadGen sizes it (the larger of
 *   --min-samples and 1.1 x --min-duration x the probe's rate), timed end to end.
 * Warm-up queries run first, are excluded from every number, and are recorded. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/engine.h"
#include "cli/options.h"
#include "cli/scores.h"
#include "core/csv_write.h"
#include "core/files.h"
#include "core/parse.h"
#include "datasets/image.h"
#include "datasets/registry.h"
#include "models/quantize.h"
#include "reports/history.h"
#include "reports/loadgen.h"
#include "reports/metrics.h"

#include "version.h" /* generated: VB_GIT_COMMIT */
#ifndef VB_VERSION
#define VB_VERSION "0.1.0"
#endif

static void describe(FILE *f)
{
    fprintf(f,
            "Measures one verification end to end under MLPerf LoadGen's rules and says\n"
            "whether the run is VALID.\n\n"
            "single-stream: one query at a time; a query is a trial of the dataset drawn at\n"
            "  random from a sample set held in memory: decode both images, preprocess,\n"
            "  describe both in one backend call (--template: the probe only, against a\n"
            "  template enrolled before timing), compare. Reports p50/p90/p99 (nearest rank)\n"
            "  with the query count, LoadGen's early-stopping estimates, and per-stage times.\n"
            "  VALID when queries >= --min-queries, the run lasted >= --min-duration, and\n"
            "  early stopping at 99%% confidence holds for p90 (>= 64 queries) and p99\n"
            "  (>= 662 queries); otherwise INVALID naming each failed rule. The run goes on\n"
            "  until every rule holds, or --max-queries / --max-duration stops it.\n"
            "offline: the sample set's images all at once through the embedding engine;\n"
            "  a short probe per --batch size, then one query at the fastest, of\n"
            "  max(--min-samples, 1.1 x --min-duration x probe rate) images (resized from\n"
            "  its own rate, up to 3 times, if it ends too soon). VALID when it holds >= --min-samples\n"
            "  images and lasted >= --min-duration.\n"
            "Warm-up queries (--warmup) are excluded and recorded.\n\n"
            "Prints CSV backend,device,quant,dataset,scenario,metric,value on stdout and the\n"
            "verdicts on stderr. --out DIR writes bench-latency.csv (the same rows),\n"
            "bench-latency-provenance.csv, bench-latency-queries.csv (every query with its\n"
            "stage times), bench-latency-layers.csv (--per-layer) and bench-latency.md; DIR\n"
            "may be a run's results folder (veribench compare then reads both). Every run\n"
            "appends its numbers to the history (--history; see veribench history).\n\n"
            "MLPerf's submission rules are --min-duration 600 (single-stream 1024 queries);\n"
            "LoadGen's own defaults are 100 queries and 10 s.\n\n");
}

static const vb_command_help help = {
    "bench-latency",
    "[--dataset SPEC] [--crop x0,y0,x1,y1] [--backend B] [--quant L] [--template]\n"
    "       [--scenario both|single-stream|offline] [--min-queries N] [--min-duration S]\n"
    "       [--max-queries N] [--max-duration S] [--min-samples N] [--batch LIST]\n"
    "       [--warmup N] [--sample-set N] [--seed N] [--per-layer] [--out DIR]\n"
    "       [--history DIR | --no-history]",
    describe, "0 VALID; 1 INVALID (numbers still written); 2 usage; 3 bad model, dataset or image;\n"
              "4 backend or device failure; 5 cannot write output"};

/* ------------------------------------------------------------------ options */

enum { SCEN_BOTH, SCEN_SINGLE, SCEN_OFFLINE };
static const char *const scenario_choices[] = {"both", "single-stream", "offline", NULL};

typedef struct bl_opts {
    vb_engine_opts eo;
    const char *dataset, *trials, *out, *history;
    vb_crop crop;
    vb_quant_list quants;
    int scenario, template_mode, per_layer, no_history, quiet;
    int min_queries, max_queries, min_samples, warmup, sample_set, seed, max_pixels;
    double min_duration, max_duration;
    vb_batch_list batches;
} bl_opts;

/* ------------------------------------------------------------------ state */

typedef struct bytes {
    uint8_t *data;
    size_t size;
} bytes;

/* One timed query: stage times in ms. */
typedef struct query_rec {
    uint32_t trial; /* index into the sample set */
    int warmup;
    double score;
    double decode, preprocess, describe, compare, total;
} query_rec;

typedef struct bench {
    const bl_opts *o;
    vb_dataset ds;
    vb_engine en;
    char quant[16];
    char model_sha[65];
    vb_trial *set; /* the sample set: trials drawn from the dataset */
    size_t n_set;
    bytes *file;   /* per dataset sample: encoded bytes (NULL data when not in the set) */
    float *tmpl;   /* --template: per dataset sample, the enrolled descriptor (NaN-free) */
    uint8_t *has_tmpl;
    float *input;  /* 2 images' inputs */
    float out[2 * 1024];
    double node_ms[VB_GRAPH_MAX_NODES], layer_sum[2][VB_GRAPH_MAX_NODES]; /* [scenario] */
    size_t layer_calls[2];
    uint64_t rng;
    query_rec *q;
    size_t n_q, cap_q;
    vb_ss_verdict ss;
    int ran_ss, ran_off;
    size_t warm_ss;
    double warm_ss_ms, warm_ss_first_ms;
    /* offline */
    vb_offline_verdict off;
    size_t off_samples, off_failed, off_warm_samples;
    double off_duration_s, off_rate, off_backend_ms, off_warm_ms;
    int off_batch, off_reruns;
    double probe_rate[32];
    time_t started;
} bench;

static uint64_t next_random(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Draws the sample set and reads the files it touches into memory (untimed). */
static int load_sample_set(bench *b, vb_err *e)
{
    const bl_opts *o = b->o;
    if (b->ds.n_trials == 0)
        return vb_fail(e, VB_EXIT_INPUT, "dataset %s has no trials", o->dataset);
    b->n_set = (size_t)o->sample_set;
    if (b->n_set > b->ds.n_trials) /* a small protocol: every trial, in order */
        b->n_set = (size_t)b->ds.n_trials;
    b->set = vb_calloc(b->n_set, sizeof *b->set, e);
    b->file = vb_calloc(b->ds.n_samples, sizeof *b->file, e);
    if (!b->set || !b->file)
        return -1;
    uint64_t s = (uint64_t)o->seed * 0x2545f4914f6cdd1dull;
    for (size_t i = 0; i < b->n_set; i++) {
        uint64_t k = b->n_set == b->ds.n_trials ? i : next_random(&s) % b->ds.n_trials;
        if (vb_dataset_trial(&b->ds, k, &b->set[i]))
            return vb_fail(e, VB_EXIT_INPUT, "dataset %s: trial %llu out of range", o->dataset, (unsigned long long)k);
        uint32_t ab[2] = {b->set[i].a, b->set[i].b};
        for (int j = 0; j < 2; j++) {
            bytes *f = &b->file[ab[j]];
            if (f->data)
                continue;
            const char *path = b->ds.samples[ab[j]].path;
            if (vb_read_file(path, (size_t)1 << 28, &f->data, &f->size, e))
                return -1;
        }
    }
    return 0;
}

/* Decode and preprocess sample `idx` from memory into dst. */
static int prepare(bench *b, uint32_t idx, float *dst, double *decode_ms, double *pre_ms, vb_err *e)
{
    const vb_sample *s = &b->ds.samples[idx];
    vb_image img;
    double t0 = vb_now();
    if (vb_image_decode(b->file[idx].data, b->file[idx].size, s->path, &img, e))
        return -1;
    double t1 = vb_now();
    int rc = vb_preprocess(&img, &b->o->crop, &b->en.graph, s->path, dst, e);
    vb_image_free(&img);
    *decode_ms += (t1 - t0) * 1e3;
    *pre_ms += (vb_now() - t1) * 1e3;
    return rc;
}

static int describe_batch(bench *b, int n, int scenario, vb_err *e)
{
    vb_timings t = {0, b->o->per_layer ? b->node_ms : NULL};
    if (vb_backend_run(b->en.prepared, b->input, n, b->out, NULL, &t, e))
        return -1;
    if (b->o->per_layer && scenario >= 0) {
        for (int i = 0; i < b->en.graph.n_nodes; i++)
            b->layer_sum[scenario][i] += b->node_ms[i];
        b->layer_calls[scenario]++;
    }
    return 0;
}

/* Enrolls the template of every reference image of the sample set (untimed). */
static int enroll(bench *b, vb_err *e)
{
    const int dim = b->en.graph.out_dim;
    b->tmpl = vb_calloc((size_t)b->ds.n_samples, (size_t)dim * sizeof(float), e);
    b->has_tmpl = vb_calloc(b->ds.n_samples, 1, e);
    if (!b->tmpl || !b->has_tmpl)
        return -1;
    for (size_t i = 0; i < b->n_set; i++) {
        uint32_t a = b->set[i].a;
        if (b->has_tmpl[a])
            continue;
        double d = 0, p = 0;
        if (prepare(b, a, b->input, &d, &p, e) || describe_batch(b, 1, -1, e))
            return -1;
        memcpy(b->tmpl + (size_t)a * dim, b->out, (size_t)dim * sizeof(float));
        b->has_tmpl[a] = 1;
    }
    return 0;
}

/* One verification, end to end. */
static int run_query(bench *b, int warmup, vb_err *e)
{
    if (b->n_q == b->cap_q) {
        size_t cap = b->cap_q ? 2 * b->cap_q : 1024;
        query_rec *q = realloc(b->q, cap * sizeof *q);
        if (!q)
            return vb_fail(e, VB_EXIT_IO, "out of memory");
        b->q = q, b->cap_q = cap;
    }
    query_rec *q = &b->q[b->n_q];
    memset(q, 0, sizeof *q);
    q->trial = (uint32_t)(next_random(&b->rng) % b->n_set);
    q->warmup = warmup;
    const vb_trial *t = &b->set[q->trial];
    const int dim = b->en.graph.out_dim;
    const size_t in_size = (size_t)b->en.graph.in_h * b->en.graph.in_w * b->en.graph.in_c;
    double t0 = vb_now();
    int n = 0;
    if (!b->o->template_mode && prepare(b, t->a, b->input + in_size * n++, &q->decode, &q->preprocess, e))
        return -1;
    if (prepare(b, t->b, b->input + in_size * n++, &q->decode, &q->preprocess, e))
        return -1;
    double t1 = vb_now();
    if (describe_batch(b, n, warmup ? -1 : 0, e))
        return -1;
    double t2 = vb_now();
    const float *ref = b->o->template_mode ? b->tmpl + (size_t)t->a * dim : b->out;
    const float *probe = b->o->template_mode ? b->out : b->out + dim;
    q->score = vb_descriptor_distance(ref, probe, dim);
    volatile int same = q->score < b->en.graph.threshold; /* the decision a gate would act on */
    (void)same;
    double t3 = vb_now();
    q->describe = (t2 - t1) * 1e3;
    q->compare = (t3 - t2) * 1e3;
    q->total = (t3 - t0) * 1e3;
    b->n_q++;
    return 0;
}

static int single_stream(bench *b, vb_err *e)
{
    const bl_opts *o = b->o;
    b->rng = (uint64_t)o->seed ^ 0x5851f42d4c957f2dull;
    for (int i = 0; i < o->warmup; i++) {
        double t0 = vb_now();
        if (run_query(b, 1, e))
            return -1;
        double ms = (vb_now() - t0) * 1e3;
        if (i == 0)
            b->warm_ss_first_ms = ms;
        b->warm_ss_ms += ms;
    }
    b->warm_ss = (size_t)o->warmup;
    const vb_ss_rules rules = {(size_t)o->min_queries, o->min_duration, 0.9, 0.99};
    size_t need_es = vb_early_stopping_min_queries(0.99, rules.confidence);
    size_t es90 = vb_early_stopping_min_queries(0.9, rules.confidence);
    if (es90 > need_es)
        need_es = es90;
    double start = vb_now(), last_issue = 0;
    size_t n = 0;
    for (;;) {
        double elapsed = vb_now() - start;
        /* the duration rule is judged on the last query's issue time (LoadGen's
         * final_query_issued_time), so go on until a query was issued after min_duration */
        int rules_met = n >= rules.min_queries && n > 0 && last_issue >= rules.min_duration_s && n >= need_es;
        int stopped = (o->max_queries && n >= (size_t)o->max_queries) ||
                      (o->max_duration > 0 && elapsed >= o->max_duration);
        if (rules_met || stopped)
            break;
        last_issue = elapsed; /* LoadGen's final_query_issued_time */
        if (run_query(b, 0, e))
            return -1;
        n++;
        if (!o->quiet && isatty(2) && n % 16 == 0)
            fprintf(stderr, "\rsingle-stream: %zu queries, %.0f s", n, vb_now() - start);
    }
    if (!o->quiet && isatty(2))
        fprintf(stderr, "\r%40s\r", "");
    double *lat = vb_malloc((n ? n : 1) * sizeof *lat, e);
    if (!lat)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < b->n_q; i++)
        if (!b->q[i].warmup)
            lat[k++] = b->q[i].total;
    vb_single_stream_judge(lat, k, last_issue, &rules, &b->ss);
    free(lat);
    b->ran_ss = 1;
    return 0;
}

/* ------------------------------------------------------------------ offline */

typedef struct off_ctx {
    size_t failed;
    vb_err first;
} off_ctx;

static int count_failures(void *ctx_, size_t index, const float *desc, const vb_err *why)
{
    off_ctx *c = ctx_;
    (void)index;
    if (!desc && c->failed++ == 0)
        c->first = *why;
    return 0;
}

/* Embeds n images (the list cycled) at batch size `batch`; wall seconds in *secs. */
static int offline_pass(bench *b, const char **paths, size_t n_paths, size_t n, int batch, double *secs,
                        size_t *failed, vb_err *e)
{
    const char **list = vb_malloc(n * sizeof *list, e);
    if (!list)
        return -1;
    for (size_t i = 0; i < n; i++)
        list[i] = paths[i % n_paths];
    b->en.batch = batch;
    b->en.run_ms = 0;
    memset(b->en.node_ms, 0, sizeof b->en.node_ms);
    off_ctx c;
    memset(&c, 0, sizeof c);
    double t0 = vb_now();
    int rc = vb_engine_embed_files(&b->en, list, n, count_failures, &c, e);
    *secs = vb_now() - t0;
    free(list);
    if (failed)
        *failed = c.failed;
    if (!rc && c.failed && !b->o->quiet)
        fprintf(stderr, "veribench bench-latency: warning: %zu images failed (first: %s)\n", c.failed, c.first.msg);
    return rc;
}

static int offline(bench *b, vb_err *e)
{
    const bl_opts *o = b->o;
    /* the distinct images of the sample set, in set order */
    const char **paths = vb_malloc(2 * b->n_set * sizeof *paths, e);
    uint8_t *seen = vb_calloc(b->ds.n_samples, 1, e);
    if (!paths || !seen) {
        free(paths);
        free(seen);
        return -1;
    }
    size_t n_paths = 0;
    for (size_t i = 0; i < b->n_set; i++) {
        uint32_t ab[2] = {b->set[i].a, b->set[i].b};
        for (int j = 0; j < 2; j++)
            if (!seen[ab[j]]++)
                paths[n_paths++] = b->ds.samples[ab[j]].path;
    }
    free(seen);
    int rc = -1, best = 0;
    double secs;
    /* warm-up: two calls at the largest batch */
    int max_batch = 1;
    for (int i = 0; i < o->batches.n; i++)
        if (o->batches.size[i] > max_batch)
            max_batch = o->batches.size[i];
    b->off_warm_samples = o->warmup > 0 ? (size_t)(2 * max_batch) : 0;
    if (b->off_warm_samples && offline_pass(b, paths, n_paths, b->off_warm_samples, max_batch, &secs, NULL, e))
        goto done;
    b->off_warm_ms = b->off_warm_samples ? secs * 1e3 : 0;
    /* probe each batch size: at least two calls and 16 images */
    for (int i = 0; i < o->batches.n; i++) {
        int bs = o->batches.size[i];
        size_t n = (size_t)(2 * bs > 16 ? 2 * bs : 16);
        if (offline_pass(b, paths, n_paths, n, bs, &secs, NULL, e))
            goto done;
        b->probe_rate[i] = n / secs;
        if (b->probe_rate[i] > b->probe_rate[best])
            best = i;
    }
    b->off_batch = o->batches.size[best];
    /* LoadGen's offline query: max(min samples, 1.1 x min duration x expected rate) */
    double want = ceil(1.1 * o->min_duration * b->probe_rate[best]);
    size_t n = want > (double)o->min_samples ? (size_t)want : (size_t)o->min_samples;
    if (o->max_duration > 0) {
        double cap = floor(o->max_duration * b->probe_rate[best]);
        if ((double)n > cap)
            n = cap >= 1 ? (size_t)cap : 1;
    }
    if (offline_pass(b, paths, n_paths, n, b->off_batch, &b->off_duration_s, &b->off_failed, e))
        goto done;
    /* The probe's rate was too low a guess (the machine got faster, the probe was cold):
     * LoadGen would say "increase the expected QPS"; do that from the measured rate, up to
     * three times (a shared machine's speed moves while it runs). */
    while (b->off_duration_s < o->min_duration && !(o->max_duration > 0) && b->off_reruns < 3) {
        double rate = n / b->off_duration_s;
        size_t again = (size_t)ceil(1.2 * o->min_duration * rate);
        if (again <= n)
            break;
        n = again;
        b->off_reruns++;
        if (offline_pass(b, paths, n_paths, n, b->off_batch, &b->off_duration_s, &b->off_failed, e))
            goto done;
    }
    b->off_samples = n;
    b->off_rate = n / b->off_duration_s;
    b->off_backend_ms = b->en.run_ms;
    if (o->per_layer) {
        for (int i = 0; i < b->en.graph.n_nodes; i++)
            b->layer_sum[1][i] = b->en.node_ms[i];
        b->layer_calls[1] = b->en.calls;
    }
    vb_offline_judge(n, b->off_duration_s, (size_t)o->min_samples, o->min_duration, &b->off);
    b->ran_off = 1;
    rc = 0;
done:
    free(paths);
    return rc;
}

/* ------------------------------------------------------------------ output */

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, c = *(const double *)y;
    return (a > c) - (a < c);
}

/* Nearest-rank p50 and the mean of one stage over the timed queries. */
static void stage_stats(const bench *b, size_t offset, double *p50, double *mean)
{
    size_t n = 0;
    double sum = 0;
    double *v = malloc((b->n_q ? b->n_q : 1) * sizeof *v);
    for (size_t i = 0; i < b->n_q; i++)
        if (!b->q[i].warmup) {
            double x = *(const double *)((const char *)&b->q[i] + offset);
            sum += x;
            if (v)
                v[n] = x;
            n++;
        }
    *mean = n ? sum / n : NAN;
    *p50 = NAN;
    if (v && n) {
        qsort(v, n, sizeof *v, cmp_double);
        *p50 = vb_nearest_rank(v, n, 0.5);
    }
    free(v);
}

/* One metric row, in the CSV and in the history. */
typedef struct row_sink {
    const bench *b;
    FILE *csv;
    vb_history_entry *h;
    char (*names)[64]; /* h[i].metric's text (names are built on the stack; see history_rows) */
    size_t n_h, cap_h;
    char batch_text[2][16];
    char verdict[2][600]; /* "VALID" or "INVALID: rules" per scenario, for the history */
    int oom;
} row_sink;

static void metric(row_sink *s, int scenario, const char *name, double value)
{
    const bench *b = s->b;
    const char *scen = scenario ? "offline" : "single-stream";
    if (s->csv) {
        char v[32];
        vb_format_double(value, v);
        const char *f[7] = {b->en.device.backend, b->en.device.slug, b->quant, b->o->dataset, scen, name, v};
        vb_csv_write_row(s->csv, f, 7);
        return;
    }
    if (s->n_h == s->cap_h) {
        size_t cap = s->cap_h ? 2 * s->cap_h : 64;
        vb_history_entry *h = realloc(s->h, cap * sizeof *h);
        if (h)
            s->h = h;
        char(*names)[64] = realloc(s->names, cap * sizeof *names);
        if (names)
            s->names = names;
        if (!h || !names) {
            s->oom = 1;
            return;
        }
        s->cap_h = cap;
    }
    snprintf(s->names[s->n_h], sizeof s->names[s->n_h], "%s", name);
    s->h[s->n_h++] = (vb_history_entry){b->en.device.backend, b->en.device.slug, b->en.device.name,
                                        b->en.device.driver, b->quant, b->o->dataset, scen,
                                        s->batch_text[scenario], name, value, s->verdict[scenario]};
}

static void all_metrics(row_sink *s)
{
    const bench *b = s->b;
    if (b->ran_ss) {
        const vb_ss_verdict *v = &b->ss;
        metric(s, 0, "valid", v->valid);
        metric(s, 0, "queries", (double)v->n);
        metric(s, 0, "duration_s", v->duration_s);
        metric(s, 0, "p50_ms", v->p50);
        metric(s, 0, "p90_ms", v->p90);
        metric(s, 0, "p99_ms", v->p99);
        metric(s, 0, "mean_ms", v->mean);
        metric(s, 0, "min_ms", v->min);
        metric(s, 0, "max_ms", v->max);
        metric(s, 0, "early_stopping_p90_ms", v->es_target);
        metric(s, 0, "early_stopping_p99_ms", v->es_p99);
        metric(s, 0, "queries_per_s", v->mean > 0 ? 1e3 / v->mean : NAN);
        metric(s, 0, "images_per_query", b->o->template_mode ? 1 : 2);
        metric(s, 0, "min_queries_rule", b->o->min_queries);
        metric(s, 0, "min_duration_rule_s", b->o->min_duration);
        metric(s, 0, "warmup_queries", (double)b->warm_ss);
        metric(s, 0, "warmup_ms", b->warm_ss_ms);
        metric(s, 0, "warmup_first_ms", b->warm_ss ? b->warm_ss_first_ms : NAN);
        static const struct {
            const char *name;
            size_t off;
        } stages[] = {{"decode", offsetof(query_rec, decode)},
                      {"preprocess", offsetof(query_rec, preprocess)},
                      {"describe", offsetof(query_rec, describe)},
                      {"compare", offsetof(query_rec, compare)}};
        for (size_t i = 0; i < VB_ARRAY_LEN(stages); i++) {
            double p50, mean;
            char name[64];
            stage_stats(b, stages[i].off, &p50, &mean);
            snprintf(name, sizeof name, "stage_%s_p50_ms", stages[i].name);
            metric(s, 0, name, p50);
            snprintf(name, sizeof name, "stage_%s_mean_ms", stages[i].name);
            metric(s, 0, name, mean);
        }
    }
    if (b->ran_off) {
        metric(s, 1, "valid", b->off.valid);
        metric(s, 1, "samples", (double)b->off_samples);
        metric(s, 1, "duration_s", b->off_duration_s);
        metric(s, 1, "samples_per_s", b->off_rate);
        metric(s, 1, "batch", b->off_batch);
        metric(s, 1, "backend_ms_per_sample", b->off_samples ? b->off_backend_ms / b->off_samples : NAN);
        metric(s, 1, "failed_samples", (double)b->off_failed);
        metric(s, 1, "resized_queries", b->off_reruns);
        metric(s, 1, "min_samples_rule", b->o->min_samples);
        metric(s, 1, "min_duration_rule_s", b->o->min_duration);
        metric(s, 1, "warmup_samples", (double)b->off_warm_samples);
        metric(s, 1, "warmup_ms", b->off_warm_ms);
        for (int i = 0; i < b->o->batches.n; i++) {
            char name[64];
            snprintf(name, sizeof name, "probe_batch_%d_samples_per_s", b->o->batches.size[i]);
            metric(s, 1, name, b->probe_rate[i]);
        }
    }
}

static int fill_metrics(FILE *f, const bench *b)
{
    fprintf(f, "backend,device,quant,dataset,scenario,metric,value\n");
    row_sink s = {.b = b, .csv = f};
    all_metrics(&s);
    return ferror(f);
}

static int fill_queries(FILE *f, const bench *b)
{
    fprintf(f, "query,warmup,a,b,label,score,decode_ms,preprocess_ms,describe_ms,compare_ms,total_ms\n");
    for (size_t i = 0; i < b->n_q; i++) {
        const query_rec *q = &b->q[i];
        const vb_trial *t = &b->set[q->trial];
        fprintf(f, "%zu,%d,", i, q->warmup);
        vb_csv_field(f, b->ds.samples[t->a].id);
        fputc(',', f);
        vb_csv_field(f, b->ds.samples[t->b].id);
        fprintf(f, ",%d,%.9f,%.6g,%.6g,%.6g,%.6g,%.6g\n", t->label, q->score, q->decode, q->preprocess, q->describe,
                q->compare, q->total);
    }
    return ferror(f);
}

static int fill_layers(FILE *f, const bench *b)
{
    const char *source = strcmp(b->en.device.backend, "vulkan") ? "cpu-wall-clock" : "gpu-timestamps";
    fprintf(f, "scenario,node,layer,calls,total_ms,ms_per_call,source\n");
    for (int s = 0; s < 2; s++) {
        if (!b->layer_calls[s])
            continue;
        for (int i = 0; i < b->en.graph.n_nodes; i++) {
            fprintf(f, "%s,%d,", s ? "offline" : "single-stream", i);
            vb_csv_field(f, b->en.graph.nodes[i].name);
            fprintf(f, ",%zu,%.6g,%.6g,%s\n", b->layer_calls[s], b->layer_sum[s][i],
                    b->layer_sum[s][i] / b->layer_calls[s], source);
        }
    }
    return ferror(f);
}

static void prov(FILE *f, const char *scope, const char *key, const char *value)
{
    const char *row[3] = {scope, key, value};
    vb_csv_write_row(f, row, 3);
}

static int fill_provenance(FILE *f, const bench *b)
{
    const bl_opts *o = b->o;
    char buf[512], sha[65];
    vb_err e = {0};
    fprintf(f, "scope,key,value\n");
    prov(f, "run", "veribench_version", VB_VERSION);
    prov(f, "run", "git_commit", VB_GIT_COMMIT);
    char cmdline[2048];
    vb_command_line(cmdline, sizeof cmdline);
    prov(f, "run", "command_line", cmdline);
    prov(f, "run", "binary_sha256", vb_sha256_file("/proc/self/exe", sha, &e) == 0 ? sha : "unknown");
    prov(f, "run", "model_path", o->eo.model_path ? o->eo.model_path : vb_default_model_path());
    prov(f, "run", "model_sha256", b->model_sha);
    prov(f, "run", "dataset", o->dataset);
    prov(f, "run", "dataset_fingerprint", b->ds.fingerprint);
    prov(f, "run", "data_dir", vb_data_dir());
    if (o->crop.set)
        snprintf(buf, sizeof buf, "%d,%d,%d,%d", o->crop.x0, o->crop.y0, o->crop.x1, o->crop.y1);
    prov(f, "run", "crop", o->crop.set ? buf : "");
    prov(f, "run", "query", o->template_mode ? "probe image against a stored template" : "both images");
    snprintf(buf, sizeof buf, "%zu", b->n_set);
    prov(f, "run", "sample_set_trials", buf);
    snprintf(buf, sizeof buf, "%d", o->seed);
    prov(f, "run", "seed", buf);
    prov(f, "run", "rules", "MLPerf LoadGen: min queries, min duration, early stopping p90 and p99 at 99% confidence");
    vb_utc_text(b->started, buf);
    prov(f, "run", "started_utc", buf);
    vb_utc_text(time(NULL), buf);
    prov(f, "run", "finished_utc", buf);
    if (gethostname(buf, sizeof buf) == 0)
        prov(f, "run", "host", buf);
    vb_cpu_model(buf, sizeof buf);
    prov(f, "run", "cpu", buf);
    char label[128];
    snprintf(label, sizeof label, "%s-%s-%s", b->en.device.backend, b->en.device.slug, b->quant);
    prov(f, label, "device_name", b->en.device.name);
    prov(f, label, "device_type", b->en.device.type);
    prov(f, label, "driver", b->en.device.driver);
    prov(f, label, "api_version", b->en.device.api_version);
    prov(f, label, "fp16_in_use", b->en.device.uses_fp16 ? "yes" : "no");
    if (b->ran_ss)
        prov(f, label, "single_stream_verdict", b->ss.valid ? "VALID" : b->ss.failed);
    if (b->ran_off)
        prov(f, label, "offline_verdict", b->off.valid ? "VALID" : b->off.failed);
    return ferror(f);
}

static int fill_md(FILE *f, const bench *b)
{
    fprintf(f, "# Latency benchmark\n\n%s on %s (%s), %s, dataset %s%s\n\n", b->en.device.backend, b->en.device.name,
            b->en.device.driver, b->quant, b->o->dataset, b->o->template_mode ? ", probe against stored template" : "");
    if (b->ran_ss) {
        const vb_ss_verdict *v = &b->ss;
        fprintf(f, "## Single-stream: %s\n\n", v->valid ? "VALID" : "INVALID");
        if (!v->valid)
            fprintf(f, "Failed: %s\n\n", v->failed);
        fprintf(f, "| queries | duration | p50 | p90 | p99 | early-stopping p90 | early-stopping p99 |\n"
                   "|---:|---:|---:|---:|---:|---:|---:|\n"
                   "| %zu | %.1f s | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %.2f ms |\n\n",
                v->n, v->duration_s, v->p50, v->p90, v->p99, v->es_target, v->es_p99);
        fprintf(f, "Warm-up: %zu queries, %.1f ms in all, first %.1f ms (excluded).\n\n", b->warm_ss, b->warm_ss_ms,
                b->warm_ss_first_ms);
        fprintf(f, "| stage | p50 (ms) | mean (ms) |\n|---|---:|---:|\n");
        static const char *const names[] = {"decode", "preprocess", "describe", "compare"};
        static const size_t offs[] = {offsetof(query_rec, decode), offsetof(query_rec, preprocess),
                                      offsetof(query_rec, describe), offsetof(query_rec, compare)};
        for (int i = 0; i < 4; i++) {
            double p50, mean;
            stage_stats(b, offs[i], &p50, &mean);
            fprintf(f, "| %s | %.3f | %.3f |\n", names[i], p50, mean);
        }
        fputc('\n', f);
    }
    if (b->ran_off) {
        fprintf(f, "## Offline: %s\n\n", b->off.valid ? "VALID" : "INVALID");
        if (!b->off.valid)
            fprintf(f, "Failed: %s\n\n", b->off.failed);
        fprintf(f, "%.2f samples/s at batch %d (%zu samples in %.1f s; backend %.2f ms/sample).\n\n", b->off_rate,
                b->off_batch, b->off_samples, b->off_duration_s,
                b->off_samples ? b->off_backend_ms / b->off_samples : NAN);
        fprintf(f, "| batch | probe samples/s |\n|---:|---:|\n");
        for (int i = 0; i < b->o->batches.n; i++)
            fprintf(f, "| %d | %.2f |\n", b->o->batches.size[i], b->probe_rate[i]);
        fputc('\n', f);
    }
    return ferror(f);
}

static int write_one(const char *dir, const char *name, int (*fill)(FILE *, const bench *), const bench *b,
                     vb_err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    vb_atomic a;
    if (vb_atomic_begin(&a, path, "w", e))
        return -1;
    if (fill(a.f, b)) {
        vb_atomic_abort(&a);
        return vb_fail(e, VB_EXIT_IO, "%s: write failed", path);
    }
    return vb_atomic_commit(&a, e);
}

static int write_outputs(const bench *b, vb_err *e)
{
    const char *dir = b->o->out;
    if (vb_mkdirs(dir, e) || write_one(dir, "bench-latency.csv", fill_metrics, b, e) ||
        write_one(dir, "bench-latency-provenance.csv", fill_provenance, b, e) ||
        (b->ran_ss && write_one(dir, "bench-latency-queries.csv", fill_queries, b, e)) ||
        (b->o->per_layer && write_one(dir, "bench-latency-layers.csv", fill_layers, b, e)) ||
        write_one(dir, "bench-latency.md", fill_md, b, e))
        return -1;
    return 0;
}

static int append_history(const bench *b, vb_err *e)
{
    row_sink s = {.b = b};
    snprintf(s.verdict[0], sizeof s.verdict[0], "%s%s%s", b->ss.valid ? "VALID" : "INVALID", b->ss.valid ? "" : ": ",
             b->ss.failed);
    snprintf(s.verdict[1], sizeof s.verdict[1], "%s%s%s", b->off.valid ? "VALID" : "INVALID", b->off.valid ? "" : ": ",
             b->off.failed);
    snprintf(s.batch_text[0], sizeof s.batch_text[0], "%d", b->o->template_mode ? 1 : 2);
    snprintf(s.batch_text[1], sizeof s.batch_text[1], "%d", b->off_batch);
    all_metrics(&s);
    for (size_t i = 0; i < s.n_h; i++) /* the names array has stopped moving */
        s.h[i].metric = s.names[i];
    char sha[65], cmdline[2048];
    vb_err ignore = {0};
    vb_command_line(cmdline, sizeof cmdline);
    vb_history_run run = {"bench-latency", VB_GIT_COMMIT,
                          vb_sha256_file("/proc/self/exe", sha, &ignore) == 0 ? sha : "unknown", b->model_sha,
                          cmdline, time(NULL)};
    int rc = s.h && !s.oom ? vb_history_append(vb_history_dir(b->o->history), &run, s.h, s.n_h, e)
                           : vb_fail(e, VB_EXIT_IO, "out of memory");
    free(s.h);
    free(s.names);
    return rc;
}

/* ------------------------------------------------------------------ main */

static int open_bench(bench *b, vb_err *e)
{
    const bl_opts *o = b->o;
    if (vb_dataset_open(o->dataset, o->trials, NULL, &b->ds, e))
        return -1;
    const char *model_path = o->eo.model_path ? o->eo.model_path : vb_default_model_path();
    if (vb_sha256_file(model_path, b->model_sha, e))
        return -1;
    vb_model base, m;
    if (vb_model_load(model_path, &base, e))
        return -1;
    if (vb_model_is_fingerprint(&base)) {
        vb_model_free(&base);
        return vb_fail(e, VB_EXIT_USAGE, "%s is the fingerprint matcher: bench-latency times the face net "
                                         "(fingerprint times: veribench run's latency.csv)", model_path);
    }
    const vb_kv *stored = vb_model_kv(&base, "veribench.quant");
    int rc;
    if (o->quants.n) {
        snprintf(b->quant, sizeof b->quant, "%s", vb_quant_name(o->quants.level[0]));
        rc = vb_model_quantize(&base, o->quants.level[0], &m, NULL, e);
        vb_model_free(&base);
        if (rc)
            return -1;
    } else {
        snprintf(b->quant, sizeof b->quant, "%s", stored && stored->str ? stored->str : "fp32");
        m = base;
    }
    vb_engine_opts eo = o->eo;
    eo.batch = 2;
    /* the single-stream queries decode and resize samples themselves (prepare): crop mode
     * (--crop, else the whole image) until the face pipeline has a per-query path */
    eo.prep.mode = VB_PREP_CROP;
    eo.prep.crop = o->crop;
    if (vb_engine_open_model(&b->en, &m, &eo, e))
        return -1;
    if (b->en.graph.out_dim > 1024)
        return vb_fail(e, VB_EXIT_INPUT, "%s: output dimension %d above 1024", model_path, b->en.graph.out_dim);
    const size_t in_size = (size_t)b->en.graph.in_h * b->en.graph.in_w * b->en.graph.in_c;
    b->input = vb_malloc(2 * in_size * sizeof(float), e);
    return b->input ? 0 : -1;
}

static void close_bench(bench *b)
{
    if (b->file)
        for (uint32_t i = 0; i < b->ds.n_samples; i++)
            free(b->file[i].data);
    free(b->file);
    free(b->set);
    free(b->tmpl);
    free(b->has_tmpl);
    free(b->input);
    free(b->q);
    vb_engine_close(&b->en);
    vb_dataset_free(&b->ds);
}

static void print_verdicts(const bench *b)
{
    if (b->ran_ss)
        fprintf(stderr,
                "single-stream: %s%s%s\n  %zu queries in %.1f s: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms (nearest rank);"
                " early stopping p90 %.2f ms, p99 %.2f ms; warm-up %zu queries excluded\n",
                b->ss.valid ? "VALID" : "INVALID", b->ss.valid ? "" : ": ", b->ss.failed, b->ss.n, b->ss.duration_s,
                b->ss.p50, b->ss.p90, b->ss.p99, b->ss.es_target, b->ss.es_p99, b->warm_ss);
    if (b->ran_off)
        fprintf(stderr, "offline: %s%s%s\n  %.2f samples/s at batch %d (%zu samples in %.1f s)\n",
                b->off.valid ? "VALID" : "INVALID", b->off.valid ? "" : ": ", b->off.failed, b->off_rate, b->off_batch,
                b->off_samples, b->off_duration_s);
}

int cmd_bench_latency(int argc, char **argv)
{
    bl_opts o = {.dataset = "lfw",
                 .min_queries = 1024,
                 .min_samples = 1024,
                 .warmup = 10,
                 .sample_set = 1024,
                 .seed = 1,
                 .min_duration = 60,
                 .batches = {{1, 8, 16, 32}, 4}};
    const vb_option opts[] = {
        VB_OPT_STRING_ROW("dataset", "SPEC", "dataset whose trials are the queries (default lfw)", &o.dataset),
        VB_OPT_STRING_ROW("trials", "FILE", "trials CSV for csv:, lfw-all, fvc2002-all (as in run)", &o.trials),
        VB_OPT_CROP_BOX(&o.crop),
        VB_OPT_MODEL(&o.eo.model_path),
        VB_OPT_BACKEND(&o.eo.backend),
        VB_OPT_QUANTS(&o.quants),
        VB_OPT_FLAG_ROW("template", "single-stream: probe image against a template enrolled before timing\n(every reference image of the sample set: lower --sample-set on slow devices)", &o.template_mode),
        VB_OPT_CHOICE_ROW("scenario", "S", "both (default), single-stream or offline", &o.scenario, scenario_choices),
        VB_OPT_INT_ROW("min-queries", "N", "single-stream: minimum query count, 1..100000000 (default 1024)", &o.min_queries, 1, 1e8),
        VB_OPT_DOUBLE_ROW("min-duration", "S", "minimum duration of each scenario in seconds, 0..86400 (default 60)", &o.min_duration, 0, 86400),
        VB_OPT_INT_ROW("max-queries", "N", "single-stream: stop after N queries even if a rule is not met\n(the run is then INVALID), 1..100000000", &o.max_queries, 1, 1e8),
        VB_OPT_DOUBLE_ROW("max-duration", "S", "stop a scenario after S seconds even if a rule is not met, 1..86400", &o.max_duration, 1, 86400),
        VB_OPT_INT_ROW("min-samples", "N", "offline: minimum samples in the query, 1..100000000 (default 1024)", &o.min_samples, 1, 1e8),
        VB_OPT_CALL_ROW("batch", "LIST", "offline: batch sizes to try, each 1..4096 (default 1,8,16,32)", &o.batches, vb_opt_batch_list),
        VB_OPT_INT_ROW("warmup", "N", "warm-up queries before timing, 0..100000 (default 10)", &o.warmup, 0, 100000),
        VB_OPT_INT_ROW("sample-set", "N", "trials drawn into the in-memory sample set, 1..1000000 (default 1024)", &o.sample_set, 1, 1000000),
        VB_OPT_INT_ROW("seed", "N", "seed of the sample set and query order, 0..2147483647 (default 1)", &o.seed, 0, 2147483647),
        VB_OPT_FLAG_ROW("per-layer", "per-layer times per backend call (Vulkan: GPU timestamps)", &o.per_layer),
        VB_OPT_STRING_ROW("out", "DIR", "write the bench-latency-* files into DIR", &o.out),
        VB_OPT_STRING_ROW("history", "DIR", "append to DIR/history.csv (default $VERIBENCH_HISTORY, else\nresults/history)", &o.history),
        VB_OPT_FLAG_ROW("no-history", "do not append to the history", &o.no_history),
        VB_OPT_THREADS(&o.eo.threads),
        VB_OPT_FP16(&o.eo.fp16),
        VB_OPT_VALIDATION(&o.eo.validation),
        VB_OPT_MAX_PIXELS(&o.max_pixels),
        VB_OPT_QUIET(&o.quiet),
        VB_OPT_END_ROW};
    int prc = vb_options_parse_all(&help, opts, argc, argv);
    if (prc != VB_OPTS_GO)
        return prc;
    if (o.quants.n > 1)
        return vb_usage_error(&help, "one --quant level at a time");
    if (o.history && o.no_history)
        return vb_usage_error(&help, "--history and --no-history together");
    if (o.max_duration > 0 && o.max_duration < o.min_duration && !o.quiet)
        fprintf(stderr, "veribench bench-latency: note: --max-duration %g < --min-duration %g: the run will be INVALID\n",
                o.max_duration, o.min_duration);
    vb_opt_apply_max_pixels(o.max_pixels);
    bench b;
    memset(&b, 0, sizeof b);
    b.o = &o;
    b.started = time(NULL);
    vb_err e = {0};
    int rc = VB_EXIT_OK;
    if (open_bench(&b, &e) || load_sample_set(&b, &e) || (o.scenario != SCEN_OFFLINE && o.template_mode && enroll(&b, &e)) ||
        (o.scenario != SCEN_OFFLINE && single_stream(&b, &e)) || (o.scenario != SCEN_SINGLE && offline(&b, &e))) {
        fprintf(stderr, "veribench bench-latency: %s\n", e.msg);
        close_bench(&b);
        return e.code ? e.code : VB_EXIT_DEVICE;
    }
    if (!o.quiet)
        print_verdicts(&b);
    fill_metrics(stdout, &b);
    if (o.out && write_outputs(&b, &e)) {
        fprintf(stderr, "veribench bench-latency: %s\n", e.msg);
        rc = e.code ? e.code : VB_EXIT_IO;
    }
    if (rc == VB_EXIT_OK && !o.no_history && append_history(&b, &e)) {
        fprintf(stderr, "veribench bench-latency: history: %s\n", e.msg);
        rc = e.code ? e.code : VB_EXIT_IO;
    }
    if (vb_close_output(stdout, "stdout", &e) && rc == VB_EXIT_OK) {
        fprintf(stderr, "veribench bench-latency: %s\n", e.msg);
        rc = VB_EXIT_IO;
    }
    if (rc == VB_EXIT_OK && ((b.ran_ss && !b.ss.valid) || (b.ran_off && !b.off.valid)))
        rc = VB_EXIT_FAIL;
    close_bench(&b);
    return rc;
}
