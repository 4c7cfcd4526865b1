/* veribench metrics: verification metrics (reports/metrics.h) of an existing score file. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/files.h"
#include "core/parse.h"
#include "core/common.h"
#include "core/csv_write.h"
#include "reports/intervals.h"
#include "reports/metrics.h"
#include "reports/plot.h"
#include "reports/metrics_bounded.h"
#include "reports/score_bin.h"
#include "reports/score_file.h"

static void describe(FILE *f)
{
    fprintf(f, "Prints the verification metrics of a score file as CSV (metric,value) on stdout:\n"
               "trial counts, EER (bob.measure, FVC2000 and ROC-convex-hull variants), FNMR at\n"
               "FMR 1e-1..1e-6 and 0 with thresholds and rule-of-3/30 flags, AUC, d', FTA counts,\n"
               "minimum HTER and, with a fold column, the LFW 10-fold accuracy. Definitions:\n"
               "docs/metrics.md and reports/metrics.h. Every rate that is k errors out of n\n"
               "trials also gets Clopper-Pearson (*_ci_low/_ci_high) and Wilson (*_wilson_*)\n"
               "intervals at --confidence (reports/intervals.h). A score file holds no subjects,\n"
               "so the subject bootstrap (*_boot_*) is only in veribench run.\n\n"
               "Formats: csv (default): a header with label (1/0) and score columns, optional\n"
               "fold column (1..K; 0 or empty = in no fold), e.g. the scores/*.csv.gz of\n"
               "veribench run (.gz read transparently); a binary score file (scores/*.vbs of\n"
               "veribench run, reports/score_bin.h) is recognised by its magic and says itself\n"
               "whether it holds distances; bob4: bob.measure's 4-column 'claimed\n"
               "real sample score'; pyeer: --genuine and --impostor files, one score per line.\n\n");
}

static const vb_command_help help = {
    "metrics",
    "--scores FILE [--format csv|bob4] [options]\n"
    "       veribench metrics --format pyeer --genuine FILE --impostor FILE [options]\n"
    "       veribench metrics --synthetic-bench [--bench-impostors N] [--bench-genuine N]",
    describe,
    "0 ok; 2 usage error; 3 missing or malformed input (the message names the file and\n"
    "line); 5 output or plotting failure."};

typedef struct metrics_opts {
    const char *scores, *format, *genuine, *impostor, *plot;
    int is_distance, have_threshold, bench, bounded;
    double threshold, confidence;
    size_t bench_imp, bench_gen;
    size_t chunk_trials;
    const char *tmp_dir;
} metrics_opts;

/* A trial count for the synthetic bench: a whole number 1..1e10, exponent form allowed. */
static int parse_count(void *value, const char *text, vb_err *e)
{
    double v;
    if (vb_parse_real(text, 0, &v) || !(v >= 1) || v > 1e10 || v != floor(v))
        return vb_fail(e, VB_EXIT_USAGE, "not a positive trial count up to 1e10");
    *(size_t *)value = (size_t)v;
    return 0;
}

/* VB_OPTS_GO, or the exit code to return. */
static int parse_args(int argc, char **argv, metrics_opts *o)
{
    memset(o, 0, sizeof *o);
    /* LFW all-vs-all: 13233 images of 5749 people give 242257 mated pairs (sum of
     * C(n_i, 2) over lfw-names.txt) and C(13233, 2) - 242257 = 87307271 non-mated ones */
    o->bench_imp = 87307271;
    o->bench_gen = 242257;
    o->threshold = NAN;
    o->confidence = 0.95;
    /* A finite threshold only: an infinite one would count failures to acquire (+inf
     * distance) as matches, since no finite score separates them. */
    const vb_option opts[] = {
        VB_OPT_STRING_ROW("scores", "FILE", "score file (.gz read transparently)", &o->scores),
        VB_OPT_STRING_ROW("format", "F", "csv (default), bob4 or pyeer (see above)", &o->format),
        VB_OPT_STRING_ROW("genuine", "FILE", "pyeer: the genuine scores", &o->genuine),
        VB_OPT_STRING_ROW("impostor", "FILE", "pyeer: the impostor scores", &o->impostor),
        VB_OPT_FLAG_ROW("distance", "scores are distances (lower = more alike; accepted when\nd <= threshold); thresholds are printed as distances", &o->is_distance),
        VB_OPT_DOUBLE_ROW("threshold", "T", "also print FMR/FNMR and error counts at threshold T\n(rows threshold, threshold_fmr, threshold_fnmr, ...)", &o->threshold, -DBL_MAX, DBL_MAX),
        VB_OPT_CONFIDENCE(&o->confidence),
        VB_OPT_STRING_ROW("plot", "PREFIX", "write PREFIX-det.{png,svg} and PREFIX-hist.{png,svg} with\ngnuplot (skipped with a note when gnuplot is missing)", &o->plot),
        VB_OPT_FLAG_ROW("synthetic-bench", "time the metrics step on synthetic LFW all-vs-all sized\ndistances and print the metrics plus bench_* timing rows", &o->bench),
        VB_OPT_CALL_ROW("bench-impostors", "N", "impostor trials of the synthetic bench (default 87307271)", &o->bench_imp, parse_count),
        VB_OPT_CALL_ROW("bench-genuine", "N", "genuine trials of the synthetic bench (default 242257)", &o->bench_gen, parse_count),
        VB_OPT_FLAG_ROW("bounded", "memory bounded whatever the trial count: an external merge\nsort (reports/metrics_bounded.h), identical results; a .vbs\nscore file and the synthetic bench are streamed, other\nformats are read whole first", &o->bounded),
        VB_OPT_CALL_ROW("chunk-trials", "N", "--bounded: trials sorted in memory at once, 16 bytes each\n(default 8388608: 128 MiB)", &o->chunk_trials, parse_count),
        VB_OPT_STRING_ROW("tmp-dir", "DIR", "--bounded: where the sorted runs spill (default $TMPDIR\nor /tmp; ~1-3 bytes a trial, removed when done)", &o->tmp_dir),
        VB_OPT_END_ROW};
    int rc = vb_options_parse_all(&help, opts, argc, argv);
    if (rc != VB_OPTS_GO)
        return rc;
    o->have_threshold = !isnan(o->threshold);
    return VB_OPTS_GO;
}

/* The input format after defaults; NULL (with a message) when the options conflict. */
static const char *resolve_format(const metrics_opts *o)
{
    const char *fmt = o->format ? o->format : (o->genuine || o->impostor) ? "pyeer" : "csv";
    if (strcmp(fmt, "csv") && strcmp(fmt, "bob4") && strcmp(fmt, "pyeer")) {
        fprintf(stderr, "veribench metrics: unknown --format '%s' (csv, bob4 or pyeer)\n", fmt);
        return NULL;
    }
    int pyeer = !strcmp(fmt, "pyeer");
    if (pyeer && (!o->genuine || !o->impostor || o->scores)) {
        fprintf(stderr, "veribench metrics: --format pyeer takes --genuine FILE and --impostor FILE\n");
        return NULL;
    }
    if (!pyeer && (!o->scores || o->genuine || o->impostor)) {
        fprintf(stderr, "veribench metrics: --format %s takes --scores FILE\n", fmt);
        return NULL;
    }
    return fmt;
}

static int read_scores(const metrics_opts *o, const char *fmt, vb_scores *t, vb_err *e)
{
    if (!strcmp(fmt, "csv") && vb_score_bin_is(o->scores))
        return vb_scores_read_bin(o->scores, t, e); /* the file says whether it holds distances */
    if (!strcmp(fmt, "csv"))
        return vb_scores_read_csv(o->scores, o->is_distance, t, e);
    if (!strcmp(fmt, "bob4"))
        return vb_scores_read_bob4(o->scores, o->is_distance, t, e);
    return vb_scores_read_pyeer(o->genuine, o->impostor, o->is_distance, t, e);
}

/* --threshold's rows from the rates there (counted in memory or while streaming). */
static void set_threshold_rows(vb_metrics *m, const vb_rates *r)
{
    m->threshold = r->threshold;
    m->threshold_fmr = r->fmr;
    m->threshold_fnmr = r->fnmr;
    m->threshold_false_matches = (double)r->false_matches;
    m->threshold_false_nonmatches = (double)r->false_nonmatches;
    m->threshold_hter = (r->fmr + r->fnmr) / 2;
    m->have |= VB_MG_AT_THRESHOLD;
}

/* Fold 0 means "in no fold" (datasets/dataset.h); a file numbering its folds 0..9 would
 * silently lose one, so say how many trials were left out. */
static void note_unfolded(const vb_scores *t)
{
    size_t none = 0;
    for (size_t i = 0; i < t->n; i++)
        none += t->fold[i] == 0;
    if (none && none < t->n)
        fprintf(stderr,
                "veribench metrics: %zu trials have fold 0 or none and are left out of the 10-fold "
                "accuracy (folds are numbered from 1)\n",
                none);
}

/* Every metric of the scores, plus the --threshold rows. */
static void print_bounded_stats(const vb_bounded_stats *st)
{
    fprintf(stderr,
            "veribench metrics: bounded: %llu trials, %zu genuine + %zu impostor sorted runs, %.1f MB spilled, "
            "%zu ROC hull blocks; sort %.2fs, merge passes %.2fs\n",
            (unsigned long long)st->trials, st->runs[0], st->runs[1], (double)st->spilled_bytes / 1e6,
            st->hull_blocks, st->sort_s, st->merge_s);
}

static int compute(const metrics_opts *o, const vb_scores *t, vb_metrics *m, vb_err *e)
{
    vb_bounded_opts bo = {o->chunk_trials, o->tmp_dir};
    vb_bounded_stats st;
    if (o->bounded ? vb_metrics_compute_bounded(t, &bo, m, &st, e) : vb_metrics_compute(t, m, e))
        return -1;
    if (o->bounded)
        print_bounded_stats(&st);
    if (t->fold)
        note_unfolded(t);
    if (o->have_threshold) {
        vb_rates r;
        vb_scores_rates(t, o->threshold, &r);
        set_threshold_rows(m, &r);
    }
    vb_metrics_add_intervals(m, o->confidence);
    return 0;
}

static int print_metrics(const vb_metrics *m, vb_err *e)
{
    const char *header[] = {"metric", "value"};
    if (vb_csv_write_row(stdout, header, 2) || vb_metrics_write_csv(m, stdout, NULL, 0, e) || fflush(stdout))
        return vb_fail(e, VB_EXIT_IO, "cannot write to stdout");
    return 0;
}

/* Returns VB_EXIT_OK or the exit code of a plotting failure (message printed). */
static int write_plots(const char *prefix, const char *title, const vb_metrics *m, double confidence)
{
    char path[4096];
    vb_err e = {0};
    vb_det_series s = {title, &m->curve};
    /* the same pointwise Clopper-Pearson band of FNMR as run's DET plot */
    vb_det_band band = {(uint64_t)m->genuine, confidence};
    snprintf(path, sizeof path, "%s-det", prefix);
    int rc = vb_plot_det_banded(path, title, &s, NULL, &band, 1, &e);
    if (rc == VB_PLOT_WRITTEN) {
        snprintf(path, sizeof path, "%s-hist", prefix);
        rc = vb_plot_hist(path, title, &m->hist, &e);
    }
    if (rc == VB_PLOT_SKIPPED) {
        fprintf(stderr, "veribench metrics: plots skipped: gnuplot not found\n");
        return VB_EXIT_OK;
    }
    if (rc < 0) {
        fprintf(stderr, "veribench metrics: %s\n", e.msg);
        return e.code ? e.code : VB_EXIT_IO;
    }
    return VB_EXIT_OK;
}

/* ---- synthetic benchmark ---- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Normal deviate (Box-Muller), rounded to float like the face net's distances, so ties
 * occur as they do in real score files. */
static double rng_normal_float(uint64_t *s, double mean, double sd)
{
    double u1 = ((double)(rng_next(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double u2 = (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
    double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
    return (double)(float)fabs(mean + sd * z);
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The bench's trials [begin, begin + n): every stride-th trial genuine (bench_gen of them). */
static void bench_fill(uint64_t *rng, size_t begin, size_t n, size_t stride, size_t n_gen, double *scores,
                       uint8_t *labels)
{
    for (size_t k = 0; k < n; k++) {
        size_t i = begin + k;
        labels[k] = i % stride == 0 && i / stride < n_gen;
        scores[k] = labels[k] ? rng_normal_float(rng, 0.42, 0.08) : rng_normal_float(rng, 0.95, 0.07);
    }
}

/* The synthetic benchmark's rows (trials, generation, build+sort, walk, metrics wall and CPU
 * seconds) added to m, all printed, m freed. */
static int print_bench_metrics(vb_metrics *m, size_t n, double generate_s, double metrics_s, double metrics_cpu_s)
{
    vb_err e = {0};
    m->bench_trials = (double)n;
    m->bench_generate_s = generate_s;
    m->bench_build_sort_s = m->build_s;
    m->bench_walk_s = m->walk_s;
    m->bench_metrics_s = metrics_s;
    m->bench_metrics_cpu_s = metrics_cpu_s;
    m->have |= VB_MG_BENCH;
    int rc = print_metrics(m, &e);
    vb_metrics_free(m);
    if (rc) {
        fprintf(stderr, "veribench metrics: %s\n", e.msg);
        return VB_EXIT_IO;
    }
    return VB_EXIT_OK;
}

/* --synthetic-bench --bounded: the same trials generated a block at a time into the bounded
 * engine, never all in memory (1e9 trials run in the memory of a few million). */
static int synthetic_bench_bounded(const metrics_opts *o)
{
    size_t n = o->bench_imp + o->bench_gen, stride = n / o->bench_gen, block_n = (size_t)1 << 20;
    vb_err e = {0};
    vb_scores block = {0};
    vb_bounded_opts bo = {o->chunk_trials, o->tmp_dir};
    vb_bounded *b = vb_scores_alloc(&block, block_n, 1, 0, &e) ? NULL : vb_bounded_begin(1, 0, &bo, &e);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    double gen_s = 0, t0 = vb_now(), cpu0 = cpu_seconds();
    int rc = b ? 0 : -1;
    for (size_t at = 0; !rc && at < n; at += block_n) {
        double g0 = vb_now();
        block.n = n - at < block_n ? n - at : block_n;
        bench_fill(&rng, at, block.n, stride, o->bench_gen, block.score, block.label);
        gen_s += vb_now() - g0;
        rc = vb_bounded_add(b, &block, &e);
    }
    vb_scores_free(&block);
    vb_metrics m;
    vb_bounded_stats st;
    if (rc)
        vb_bounded_abort(b);
    else
        rc = vb_bounded_finish(b, &m, &st, &e);
    double t1 = vb_now(), cpu1 = cpu_seconds();
    if (rc) {
        fprintf(stderr, "veribench metrics: %s\n", e.msg);
        return e.code ? e.code : VB_EXIT_IO;
    }
    print_bounded_stats(&st);
    /* cpu_s includes the generation here */
    return print_bench_metrics(&m, n, gen_s, t1 - t0 - gen_s, cpu1 - cpu0);
}

static int synthetic_bench(const metrics_opts *o)
{
    if (o->bounded)
        return synthetic_bench_bounded(o);
    size_t n = o->bench_imp + o->bench_gen;
    vb_err e = {0};
    double *scores = vb_malloc(n * sizeof *scores, &e);
    uint8_t *labels = scores ? vb_malloc(n, &e) : NULL;
    if (!labels) {
        free(scores);
        fprintf(stderr, "veribench metrics: %s\n", e.msg);
        return VB_EXIT_IO;
    }
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    double t0 = vb_now();
    size_t stride = n / o->bench_gen; /* >= 1: genuine trials spread evenly, bench_gen of them */
    bench_fill(&rng, 0, n, stride, o->bench_gen, scores, labels);
    double t1 = vb_now(), cpu1 = cpu_seconds();
    vb_metrics m;
    vb_scores trials = {.score = scores, .label = labels, .n = n, .cap = n, .is_distance = 1};
    int rc = vb_metrics_compute(&trials, &m, &e);
    double t3 = vb_now(), cpu3 = cpu_seconds();
    vb_scores_free(&trials);
    if (rc) {
        fprintf(stderr, "veribench metrics: %s\n", e.msg);
        return e.code ? e.code : VB_EXIT_IO;
    }
    /* bench_metrics_s is the metrics step `veribench run` pays: build (validate, split,
     * radix sort) + walk; cpu_s counts both threads, so it shows contention from other
     * processes when wall time is much larger than cpu_s / 2 */
    return print_bench_metrics(&m, n, t1 - t0, t3 - t1, cpu3 - cpu1);
}

/* --bounded on a binary score file: block by block into the bounded engine, the --threshold
 * counts added up on the way; memory does not depend on the file's size. */
static int compute_streamed(const metrics_opts *o, vb_metrics *m, vb_err *e)
{
    vb_score_reader r;
    if (vb_score_reader_open(&r, o->scores, e))
        return -1;
    vb_bounded_opts bo = {o->chunk_trials, o->tmp_dir};
    vb_bounded *b = vb_bounded_begin(r.info.is_distance, r.info.has_fold, &bo, e);
    vb_scores block = {0};
    vb_rates at = {0}, part;
    size_t unfolded = 0;
    int got = b ? 1 : -1;
    while (got == 1 && (got = vb_score_reader_next(&r, &block, e)) == 1) {
        if (vb_bounded_add(b, &block, e))
            got = -1;
        if (o->have_threshold) {
            vb_scores_rates(&block, o->threshold, &part);
            vb_rates_merge(&at, &part);
        }
        for (size_t i = 0; block.fold && i < block.n; i++)
            unfolded += block.fold[i] == 0;
    }
    uint64_t n = r.info.n;
    vb_scores_free(&block);
    vb_score_reader_close(&r);
    if (got < 0) {
        vb_bounded_abort(b);
        return -1;
    }
    vb_bounded_stats st;
    if (vb_bounded_finish(b, m, &st, e))
        return -1;
    print_bounded_stats(&st);
    if (unfolded && unfolded < n)
        fprintf(stderr, "veribench metrics: %zu trials have fold 0 or none and are left out of the 10-fold "
                "accuracy (folds are numbered from 1)\n", unfolded);
    if (o->have_threshold)
        set_threshold_rows(m, &at);
    vb_metrics_add_intervals(m, o->confidence);
    return 0;
}

int cmd_metrics(int argc, char **argv)
{
    metrics_opts o;
    int p = parse_args(argc, argv, &o);
    if (p != VB_OPTS_GO)
        return p;
    if (o.bench)
        return synthetic_bench(&o);
    const char *fmt = resolve_format(&o);
    if (!fmt)
        return VB_EXIT_USAGE;
    vb_err e = {0};
    vb_scores t = {0};
    vb_metrics m;
    int streamed = o.bounded && !strcmp(fmt, "csv") && vb_score_bin_is(o.scores);
    if (streamed ? compute_streamed(&o, &m, &e) : (read_scores(&o, fmt, &t, &e) || compute(&o, &t, &m, &e))) {
        if (strncmp(e.msg, "trial ", 6) == 0) /* engine messages name trials, not files */
            vb_err_prefix(&e, "%s", o.scores ? o.scores : o.genuine);
        fprintf(stderr, "veribench metrics: %s\n", e.msg);
        vb_scores_free(&t);
        return e.code ? e.code : VB_EXIT_INPUT;
    }
    vb_scores_free(&t);
    int rc = print_metrics(&m, &e) ? VB_EXIT_IO : VB_EXIT_OK;
    if (rc)
        fprintf(stderr, "veribench metrics: %s\n", e.msg);
    else if (o.plot)
        rc = write_plots(o.plot, o.scores ? o.scores : o.genuine, &m, o.confidence);
    vb_metrics_free(&m);
    return rc;
}
