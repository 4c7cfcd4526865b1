/* The bounded-memory engine (reports/metrics_bounded.h) against the in-memory one
 * (vb_metrics_compute): every metric row, the DET curve and the histograms identical bit for
 * bit, on sets with ties, failures to acquire, folds (some trials in none), distances and
 * similarities, with buffers small enough that the trials spill into many sorted runs, and
 * with one buffer that holds everything (no disk at all). Errors are the same. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reports/metrics.h"
#include "reports/metrics_bounded.h"
#include "reports/scores.h"
#include "tests/testlib.h"

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* n trials: ~1/8 genuine, scores on a coarse grid (many ties), a few FTA, folds 1..10 with
 * some trials in no fold (fold 0). */
static void make_set(vb_scores *s, size_t n, int is_distance, int folds, uint64_t seed)
{
    vb_err e = {0};
    CHECK(vb_scores_alloc(s, n, is_distance, folds, &e) == 0);
    s->n = n;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = rng(&seed);
        int gen = r % 8 == 0;
        double x = (double)(r >> 40 & 1023) / 1000.0 + (gen ? 0.3 : 0.0); /* similarity-ish */
        if ((r >> 20) % 97 == 5 || (r >> 30) % 211 == 3)
            x = -INFINITY; /* failure to acquire */
        s->label[i] = (uint8_t)gen;
        s->score[i] = is_distance ? -x : x; /* -(-inf) = +inf: the distance FTA */
        if (folds)
            s->fold[i] = (uint16_t)((r >> 50) % (folds == 2 ? 2 : 11)); /* 0: in no fold; 2: one fold */
    }
}

static int same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static void compare(const vb_metrics *a, const vb_metrics *b, const char *what)
{
    CHECKF(a->have == b->have, "%s: groups %#x vs %#x", what, a->have, b->have);
    int bad = 0;
    for (size_t i = 0; i < vb_metric_row_count; i++) {
        const vb_metric_row *r = &vb_metric_rows[i];
        if (!vb_metric_present(a, r))
            continue;
        double x = vb_metric_value(a, r), y = vb_metric_value(b, r);
        if (!same_double(x, y) && bad++ < 5)
            CHECKF(0, "%s: %s = %.17g in memory, %.17g bounded", what, r->name, x, y);
    }
    CHECKF(bad == 0, "%s: %d rows differ", what, bad);
    CHECKF(a->curve.n == b->curve.n, "%s: curve %zu vs %zu points", what, a->curve.n, b->curve.n);
    int curve_same = a->curve.n == b->curve.n;
    for (size_t i = 0; curve_same && i < a->curve.n; i++)
        curve_same = same_double(a->curve.pts[i].fmr, b->curve.pts[i].fmr) &&
                     same_double(a->curve.pts[i].fnmr, b->curve.pts[i].fnmr) &&
                     same_double(a->curve.pts[i].threshold, b->curve.pts[i].threshold);
    CHECKF(curve_same, "%s: curve points differ", what);
    const vb_hist *h = &a->hist, *k = &b->hist;
    int hist_same = h->bins == k->bins && same_double(h->lo, k->lo) && same_double(h->hi, k->hi) &&
                    same_double(h->width, k->width) && h->n_gen == k->n_gen && h->n_imp == k->n_imp;
    for (size_t i = 0; hist_same && i < h->bins; i++)
        hist_same = h->gen[i] == k->gen[i] && h->imp[i] == k->imp[i];
    CHECKF(hist_same, "%s: histograms differ", what);
}

static void check_case(size_t n, int is_distance, int folds, size_t chunk, uint64_t seed)
{
    char what[128];
    snprintf(what, sizeof what, "n=%zu %s folds=%d chunk=%zu", n, is_distance ? "distances" : "similarities", folds,
             chunk);
    vb_scores s;
    make_set(&s, n, is_distance, folds, seed);
    vb_metrics a, b;
    vb_err e = {0};
    vb_bounded_stats st;
    vb_bounded_opts o = {.chunk_trials = chunk};
    int ra = vb_metrics_compute(&s, &a, &e);
    CHECKF(ra == 0, "%s: in memory: %s", what, e.msg);
    int rb = vb_metrics_compute_bounded(&s, &o, &b, &st, &e);
    CHECKF(rb == 0, "%s: bounded: %s", what, e.msg);
    if (ra == 0 && rb == 0) {
        compare(&a, &b, what);
        CHECKF(st.trials == n, "%s: %llu trials streamed", what, (unsigned long long)st.trials);
        if (chunk < n / 4)
            CHECKF(st.runs[1] >= 4 && st.spilled_bytes > 0, "%s: %zu impostor runs, %llu bytes spilled: expected "
                   "spilling", what, st.runs[1], (unsigned long long)st.spilled_bytes);
        else
            CHECKF(st.spilled_bytes == 0, "%s: spilled although everything fits", what);
        if (folds == 1)
            CHECKF(b.have & VB_MG_KFOLD, "%s: no k-fold rows", what);
        if (folds == 2) /* one fold (run --folds 1): no cross-validation to do */
            CHECKF(!(b.have & VB_MG_KFOLD), "%s: k-fold rows from a single fold", what);
        if (n >= 1000)
            CHECKF(b.fta_genuine > 0 && b.fta_impostor > 0, "%s: the set has no FTA trials to compare", what);
    }
    if (ra == 0)
        vb_metrics_free(&a);
    if (rb == 0)
        vb_metrics_free(&b);
    vb_scores_free(&s);
}

static void test_identical_to_in_memory(void)
{
    check_case(50000, 1, 1, 1000, 1);    /* 50 runs, folds, distances */
    check_case(50000, 0, 1, 777, 2);     /* similarities, odd chunk */
    check_case(30000, 1, 0, 2048, 3);    /* no folds */
    check_case(30000, 1, 1, 1 << 20, 4); /* one buffer: no spill */
    check_case(200, 1, 1, 2, 5);         /* the smallest buffer: a run per trial or two */
    check_case(25000, 0, 0, 5000, 6);    /* > DET_KEEP_ALL_BELOW: decimated curve */
    check_case(20000, 1, 2, 3000, 7);    /* a single fold (run --folds 1): crashed before */
}

/* Exact ties across runs: every score the same but one, split across many runs. */
static void test_ties_across_runs(void)
{
    vb_scores s;
    vb_err e = {0};
    size_t n = 10000;
    CHECK(vb_scores_alloc(&s, n, 1, 0, &e) == 0);
    s.n = n;
    for (size_t i = 0; i < n; i++) {
        s.label[i] = i % 3 == 0;
        s.score[i] = i == 17 ? 0.25 : 0.5;
    }
    vb_metrics a, b;
    vb_bounded_opts o = {.chunk_trials = 64};
    CHECK(vb_metrics_compute(&s, &a, &e) == 0);
    CHECK(vb_metrics_compute_bounded(&s, &o, &b, NULL, &e) == 0);
    compare(&a, &b, "ties");
    vb_metrics_free(&a);
    vb_metrics_free(&b);
    vb_scores_free(&s);
}

static void test_same_errors(void)
{
    vb_scores s;
    vb_err e1 = {0}, e2 = {0};
    vb_metrics m;
    vb_bounded_opts o = {.chunk_trials = 4};
    CHECK(vb_scores_alloc(&s, 20, 1, 0, &e1) == 0);
    s.n = 20;
    for (size_t i = 0; i < 20; i++)
        s.label[i] = i % 2, s.score[i] = (double)i;
    s.score[13] = NAN;
    CHECK(vb_metrics_compute(&s, &m, &e1) != 0);
    CHECK(vb_metrics_compute_bounded(&s, &o, &m, NULL, &e2) != 0);
    CHECKF(!strcmp(e1.msg, e2.msg) && strstr(e2.msg, "trial 13"), "NaN: '%s' vs '%s'", e1.msg, e2.msg);
    s.score[13] = -INFINITY; /* a distance that accepts everything */
    CHECK(vb_metrics_compute_bounded(&s, &o, &m, NULL, &e2) != 0);
    CHECKF(strstr(e2.msg, "trial 13") != NULL, "-inf distance: '%s'", e2.msg);
    s.score[13] = 1;
    s.label[5] = 2;
    CHECK(vb_metrics_compute_bounded(&s, &o, &m, NULL, &e2) != 0);
    CHECKF(strstr(e2.msg, "trial 5: label 2") != NULL, "label 2: '%s'", e2.msg);
    for (size_t i = 0; i < 20; i++)
        s.label[i] = 1;
    CHECK(vb_metrics_compute(&s, &m, &e1) != 0);
    CHECK(vb_metrics_compute_bounded(&s, &o, &m, NULL, &e2) != 0);
    CHECKF(!strcmp(e1.msg, e2.msg), "all genuine: '%s' vs '%s'", e1.msg, e2.msg);
    vb_scores_free(&s);
}

/* A temporary folder that cannot be written is an error naming it, not a crash. */
static void test_unwritable_tmp(void)
{
    vb_scores s;
    vb_err e = {0};
    make_set(&s, 1000, 1, 0, 9);
    vb_metrics m;
    vb_bounded_opts o = {.chunk_trials = 100, .tmp_dir = "/nonexistent-veribench-dir"};
    CHECK(vb_metrics_compute_bounded(&s, &o, &m, NULL, &e) != 0);
    CHECKF(strstr(e.msg, "/nonexistent-veribench-dir") != NULL, "message: %s", e.msg);
    vb_scores_free(&s);
}

int main(void)
{
    RUN(test_identical_to_in_memory);
    RUN(test_ties_across_runs);
    RUN(test_same_errors);
    RUN(test_unwritable_tmp);
    return vb_test_finish();
}
