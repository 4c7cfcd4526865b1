/* Confidence intervals, subject bootstrap and calibration (reports/intervals.h): published
 * values (Newcombe 1998, Table I), closed forms, an independent binomial-sum check of
 * Clopper-Pearson, symmetry and nesting, bootstrap determinism and its dependence on the
 * number of subjects, and calibration on a hand-built score set. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/intervals.h"
#include "tests/testlib.h"

/* Newcombe, "Two-sided confidence intervals for the single proportion", Stat. Med. 1998,
 * Table I: methods 3 (Wilson score) and 5 (exact, Clopper-Pearson), 95%, 4 decimals. */
static void test_newcombe_table(void)
{
    static const struct {
        uint64_t k, n;
        double wl, wh, cl, ch;
    } rows[] = {
        {81, 263, 0.2553, 0.3662, 0.2527, 0.3676},
        {15, 148, 0.0624, 0.1605, NAN, 0.1617}, /* exact low: checked by binomial sums below instead */
        {0, 20, 0.0000, 0.1611, 0.0000, 0.1684},
        {1, 29, 0.0061, 0.1718, 0.0009, 0.1776},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        vb_interval w = vb_wilson(rows[i].k, rows[i].n, 0.95), c = vb_clopper_pearson(rows[i].k, rows[i].n, 0.95);
        CHECK_NEAR(w.low, rows[i].wl, 5e-5);
        CHECK_NEAR(w.high, rows[i].wh, 5e-5);
        if (!isnan(rows[i].cl))
            CHECK_NEAR(c.low, rows[i].cl, 5e-5);
        CHECK_NEAR(c.high, rows[i].ch, 5e-5);
    }
}

/* Wilson for 5/100 at 95%, written out from the textbook formula with z = Phi^-1(0.975). */
static void test_wilson_formula(void)
{
    double z = 1.959963984540054, n = 100, p = 0.05;
    double center = (p + z * z / (2 * n)) / (1 + z * z / n);
    double half = z / (1 + z * z / n) * sqrt(p * (1 - p) / n + z * z / (4 * n * n));
    vb_interval w = vb_wilson(5, 100, 0.95);
    CHECK_NEAR(w.low, center - half, 1e-12);
    CHECK_NEAR(w.high, center + half, 1e-12);
    CHECK_NEAR(w.low, 0.0215, 5e-5); /* [2.15%, 11.18%] to 4 decimals */
    CHECK_NEAR(w.high, 0.1118, 5e-5);
    vb_interval z0 = vb_wilson(0, 10, 0.95), zn = vb_wilson(10, 10, 0.95);
    CHECK(z0.low == 0 && zn.high == 1);
    CHECK_NEAR(z0.high, z * z / (10 + z * z), 1e-12); /* k = 0: upper = z^2 / (n + z^2) */
}

static void test_clopper_pearson_edges(void)
{
    vb_interval c = vb_clopper_pearson(0, 3, 0.95);
    CHECK(c.low == 0);
    CHECK_NEAR(c.high, 1 - pow(0.025, 1.0 / 3), 1e-15);
    c = vb_clopper_pearson(3, 3, 0.95);
    CHECK(c.high == 1);
    CHECK_NEAR(c.low, pow(0.025, 1.0 / 3), 1e-15);
    c = vb_clopper_pearson(0, 1000000, 0.95); /* rule of 3: upper ~ 3.689 / n */
    CHECK_NEAR(c.high * 1e6, -log(0.025), 1e-4);
    /* 30 errors in 87M trials: the Poisson exact interval for 30 events is [20.24, 42.83] */
    c = vb_clopper_pearson(30, 87307271, 0.95);
    CHECK_NEAR(c.low * 87307271, 20.2409, 1e-3);
    CHECK_NEAR(c.high * 87307271, 42.8269, 1e-3);
    vb_interval bad = vb_clopper_pearson(1, 0, 0.95), bad2 = vb_wilson(5, 4, 0.95), bad3 = vb_wilson(1, 4, 1.0);
    CHECK(isnan(bad.low) && isnan(bad.high) && isnan(bad2.low) && isnan(bad3.high));
}

/* P(X <= k) for X ~ Binomial(n, p), summed term by term in long double: an independent
 * route to the Clopper-Pearson bounds (upper: P(X <= k) = alpha/2 there; lower:
 * P(X >= k) = alpha/2). */
static long double binom_cdf(int k, int n, long double p)
{
    long double sum = 0;
    for (int i = 0; i <= k; i++)
        sum += expl(lgammal(n + 1) - lgammal(i + 1) - lgammal(n - i + 1) + i * logl(p) + (n - i) * log1pl(-p));
    return sum;
}

static void test_clopper_pearson_by_binomial_sums(void)
{
    static const int cases[][2] = {{1, 10}, {7, 40}, {15, 148}, {30, 1000}, {250, 600}, {99, 100}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int k = cases[i][0], n = cases[i][1];
        vb_interval c = vb_clopper_pearson((uint64_t)k, (uint64_t)n, 0.95);
        CHECK_NEAR((double)binom_cdf(k, n, c.high), 0.025, 1e-10);
        CHECK_NEAR((double)(1 - binom_cdf(k - 1, n, c.low)), 0.025, 1e-10);
    }
    CHECK_NEAR(vb_incomplete_beta(3, 1, 0.7), pow(0.7, 3), 1e-14);
    CHECK_NEAR(vb_incomplete_beta(1, 4, 0.3), 1 - pow(0.7, 4), 1e-14);
    CHECK_NEAR(vb_incomplete_beta(50, 50, 0.5), 0.5, 1e-13);
}

static void test_symmetry_and_nesting(void)
{
    static const double levels[] = {0.5, 0.8, 0.9, 0.95, 0.99, 0.999};
    for (uint64_t k = 0; k <= 12; k++) {
        vb_interval c = vb_clopper_pearson(k, 12, 0.95), cm = vb_clopper_pearson(12 - k, 12, 0.95);
        vb_interval w = vb_wilson(k, 12, 0.95), wm = vb_wilson(12 - k, 12, 0.95);
        CHECK_NEAR(c.low, 1 - cm.high, 1e-13);
        CHECK_NEAR(w.low, 1 - wm.high, 1e-13);
        double p = (double)k / 12;
        CHECK(c.low <= p && p <= c.high && w.low <= p && p <= w.high);
        CHECK(c.low <= w.low + 1e-15 || k == 12); /* Clopper-Pearson is the wider */
        vb_interval prev_c = {p, p}, prev_w = {p, p};
        for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
            vb_interval cl = vb_clopper_pearson(k, 12, levels[l]), wl = vb_wilson(k, 12, levels[l]);
            CHECKF(cl.low <= prev_c.low && cl.high >= prev_c.high, "CP k=%llu level %g not nested",
                   (unsigned long long)k, levels[l]);
            CHECKF(wl.low <= prev_w.low && wl.high >= prev_w.high, "Wilson k=%llu level %g not nested",
                   (unsigned long long)k, levels[l]);
            prev_c = cl, prev_w = wl;
        }
    }
}

/* ---- bootstrap ---- */

/* Trials among `subjects` subjects: each has `per` genuine trials, all failing (distance
 * 0.9 > 0.6) for the first half of the subjects and all passing (0.3) for the rest, and one
 * impostor trial with every other subject, a false match (0.5) when both are in the first
 * half. Split finer (`split` pieces per subject, the same trials), the errors are the
 * same but spread over more independent subjects. */
typedef struct boot_set {
    vb_scores s;
    uint32_t *a, *b;
} boot_set;

static void make_boot_set(boot_set *bs, uint32_t subjects, uint32_t per, uint32_t split)
{
    size_t n = (size_t)subjects * per + (size_t)subjects * (subjects - 1) / 2, i = 0;
    vb_err e = {0};
    CHECK(vb_scores_alloc(&bs->s, n, 1, 0, &e) == 0);
    bs->a = malloc(n * sizeof *bs->a);
    bs->b = malloc(n * sizeof *bs->b);
    for (uint32_t s = 0; s < subjects; s++)
        for (uint32_t k = 0; k < per; k++, i++) {
            bs->s.score[i] = s < subjects / 2 ? 0.9 : 0.3;
            bs->s.label[i] = 1;
            bs->a[i] = bs->b[i] = s * split + k % split;
        }
    for (uint32_t s = 0; s < subjects; s++)
        for (uint32_t t = s + 1; t < subjects; t++, i++) {
            bs->s.score[i] = s < subjects / 2 && t < subjects / 2 ? 0.5 : 1.2;
            bs->s.label[i] = 0;
            bs->a[i] = s * split;
            bs->b[i] = t * split + 1 % split;
        }
    bs->s.fta = 0;
}

static void free_boot_set(boot_set *bs)
{
    vb_scores_free(&bs->s);
    free(bs->a);
    free(bs->b);
}

static int boot_with(const boot_set *bs, unsigned reps, uint64_t seed, int threads, vb_boot_method method,
                     double tail_fraction, double model_threshold, vb_metrics *m)
{
    vb_metrics_init(m);
    vb_boot_input in = {&bs->s, bs->a, bs->b, model_threshold, 0, NAN, NULL};
    vb_boot_config cfg = {reps, seed, 0.95, threads, method, tail_fraction, 0, NULL};
    const char *why = NULL;
    vb_err e = {0};
    return vb_bootstrap_metrics(&in, &cfg, m, &why, &e);
}

static int boot(const boot_set *bs, unsigned reps, uint64_t seed, int threads, vb_metrics *m)
{
    vb_metrics_init(m);
    vb_boot_input in = {&bs->s, bs->a, bs->b, 0.6, 0, NAN, NULL};
    vb_boot_config cfg = {reps, seed, 0.95, threads, VB_BOOT_AGGREGATED, 0, 0, NULL};
    const char *why = NULL;
    vb_err e = {0};
    return vb_bootstrap_metrics(&in, &cfg, m, &why, &e);
}

static void test_bootstrap_deterministic(void)
{
    boot_set bs;
    make_boot_set(&bs, 20, 10, 1);
    vb_metrics m1, m4, again, other;
    CHECK(boot(&bs, 500, 1, 1, &m1) == 1);
    CHECK(boot(&bs, 500, 1, 4, &m4) == 1);
    CHECK(boot(&bs, 500, 1, 1, &again) == 1);
    CHECK(boot(&bs, 500, 2, 3, &other) == 1);
    size_t off = offsetof(vb_metrics, confidence), len = offsetof(vb_metrics, build_s) - off;
    CHECK(memcmp((char *)&m1 + off, (char *)&m4 + off, len) == 0);    /* thread count: no effect */
    CHECK(memcmp((char *)&m1 + off, (char *)&again + off, len) == 0); /* same seed: same result */
    CHECK(m1.fnmr_at_threshold_boot.low != other.fnmr_at_threshold_boot.low ||
          m1.fnmr_at_threshold_boot.high != other.fnmr_at_threshold_boot.high ||
          m1.fmr_at_threshold_boot.high != other.fmr_at_threshold_boot.high);
    CHECK((m1.have & (VB_MG_BOOT | VB_MG_BOOT_MODEL_THRESHOLD)) == (VB_MG_BOOT | VB_MG_BOOT_MODEL_THRESHOLD));
    CHECK(m1.bootstrap_replicates == 500 && m1.bootstrap_seed == 1 && m1.bootstrap_subjects == 20);
    /* FNMR at 0.6 is 1/2 on the data; the interval holds it and is a real interval */
    CHECK(m1.fnmr_at_threshold_boot.low < 0.5 && m1.fnmr_at_threshold_boot.high > 0.5);
    CHECK(m1.fnmr_at_threshold_boot.low >= 0 && m1.fnmr_at_threshold_boot.high <= 1);
    free_boot_set(&bs);
}

static void test_bootstrap_widens_with_fewer_subjects(void)
{
    boot_set coarse, fine;
    make_boot_set(&coarse, 10, 10, 1); /* 10 subjects of 10 trials */
    make_boot_set(&fine, 10, 10, 10);  /* the same trials as 100 subjects */
    vb_metrics mc, mf;
    CHECK(boot(&coarse, 1000, 1, 2, &mc) == 1);
    CHECK(boot(&fine, 1000, 1, 2, &mf) == 1);
    CHECK(mc.bootstrap_subjects == 10 && mf.bootstrap_subjects == 100);
    double wc = mc.fnmr_at_threshold_boot.high - mc.fnmr_at_threshold_boot.low;
    double wf = mf.fnmr_at_threshold_boot.high - mf.fnmr_at_threshold_boot.low;
    CHECKF(wc > 1.5 * wf, "10 subjects: width %g, 100 subjects: %g", wc, wf);
    /* both wider than the binomial interval over 100 independent trials would be */
    vb_interval cp = vb_clopper_pearson(50, 100, 0.95);
    CHECKF(wc > cp.high - cp.low, "10-subject bootstrap %g vs Clopper-Pearson %g", wc, cp.high - cp.low);
    free_boot_set(&coarse);
    free_boot_set(&fine);
}

/* Subjects that each own one genuine trial are independent, so the subject bootstrap of
 * FNMR is the plain binomial bootstrap: its interval must hold the estimate and be about as
 * wide as Clopper-Pearson's. (The replicates once drew from shifted copies of one random
 * stream: nearly identical resamples, an interval a fifth of this width that missed the
 * estimate.) */
static void test_bootstrap_independent_subjects_match_binomial(void)
{
    enum { N = 2000, ERRORS = 300 };
    boot_set bs;
    vb_err e = {0};
    CHECK(vb_scores_alloc(&bs.s, N + 1, 1, 0, &e) == 0);
    bs.a = malloc((N + 1) * sizeof *bs.a);
    bs.b = malloc((N + 1) * sizeof *bs.b);
    for (uint32_t i = 0; i < N; i++) {
        bs.s.score[i] = i < ERRORS ? 0.9 : 0.3; /* distances: above 0.6 is a false non-match */
        bs.s.label[i] = 1;
        bs.a[i] = bs.b[i] = i;
    }
    bs.s.score[N] = 1.5, bs.s.label[N] = 0, bs.a[N] = 0, bs.b[N] = 1; /* one impostor */
    bs.s.fta = 0;
    vb_metrics m;
    CHECK(boot(&bs, 2000, 7, 2, &m) == 1);
    double p = (double)ERRORS / N;
    vb_interval cp = vb_clopper_pearson(ERRORS, N, 0.95);
    double wb = m.fnmr_at_threshold_boot.high - m.fnmr_at_threshold_boot.low, wc = cp.high - cp.low;
    CHECKF(m.fnmr_at_threshold_boot.low < p && m.fnmr_at_threshold_boot.high > p, "interval [%g, %g] holds %g",
           m.fnmr_at_threshold_boot.low, m.fnmr_at_threshold_boot.high, p);
    CHECKF(wb > 0.8 * wc && wb < 1.25 * wc, "bootstrap width %g, Clopper-Pearson %g", wb, wc);
    free_boot_set(&bs);
}

/* The weights, checked on a set where every replicate's answer is known: one genuine
 * trial per subject, all errors, so FNMR is 1 in every replicate, and FMR@threshold 0. */
static void test_bootstrap_degenerate_and_limit(void)
{
    double score[] = {0.9, 0.9, 0.9, 1.0, 1.0, 1.0};
    uint8_t label[] = {1, 1, 1, 0, 0, 0};
    uint32_t a[] = {0, 1, 2, 0, 0, 1}, b[] = {0, 1, 2, 1, 2, 2};
    vb_scores s = {.score = score, .label = label, .n = 6, .cap = 6, .is_distance = 1};
    vb_boot_input in = {&s, a, b, 0.6, 0, NAN, NULL};
    vb_boot_config cfg = {200, 7, 0.95, 2, VB_BOOT_AGGREGATED, 0, 0, NULL};
    vb_metrics m;
    const char *why = "x";
    vb_err e = {0};
    for (int method = 0; method < 2; method++) {
        cfg.method = method ? VB_BOOT_PER_TRIAL : VB_BOOT_AGGREGATED;
        vb_metrics_init(&m);
        CHECK(vb_bootstrap_metrics(&in, &cfg, &m, &why, &e) == 1 && why == NULL);
        CHECK(m.fnmr_at_threshold_boot.low == 1 && m.fnmr_at_threshold_boot.high == 1);
        CHECK(m.fmr_at_threshold_boot.low == 0 && m.fmr_at_threshold_boot.high == 0);
    }
    cfg.replicates = 1000000000u; /* per-trial, 6e9 trial-replicates: over its limit, skipped with a reason */
    vb_metrics_init(&m);
    CHECK(vb_bootstrap_metrics(&in, &cfg, &m, &why, &e) == 0 && why && !(m.have & VB_MG_BOOT));
    cfg.replicates = 0;
    CHECK(vb_bootstrap_metrics(&in, &cfg, &m, &why, &e) == 0 && !(m.have & VB_MG_BOOT));
}

/* A set with the structure real ones have: subjects of 1..7 samples, every genuine pair,
 * impostor pairs all-vs-all (sparse = 0), a random third of them (sparse = 1) or a 50th
 * (sparse = 2: the bootstrap counts pairs by sorting, not in a dense table), scores on a
 * 0.01 grid (ties, across labels too), a few failures to acquire (+inf distance). */
static void make_realistic_set(boot_set *bs, uint32_t subjects, int sparse, uint64_t seed)
{
    uint64_t x = seed;
#define NEXT() (x = x * 6364136223846793005ull + 1442695040888963407ull, (uint32_t)(x >> 33))
    uint32_t *owner = malloc(8 * subjects * sizeof *owner), n_samples = 0;
    for (uint32_t s = 0; s < subjects; s++)
        for (uint32_t k = 0, per = 1 + NEXT() % 7; k < per; k++)
            owner[n_samples++] = s * 3 + 5; /* sparse original subject ids */
    size_t cap = (size_t)n_samples * (n_samples - 1) / 2, n = 0;
    vb_err e = {0};
    CHECK(vb_scores_alloc(&bs->s, cap, 1, 0, &e) == 0);
    bs->a = malloc(cap * sizeof *bs->a);
    bs->b = malloc(cap * sizeof *bs->b);
    bs->s.fta = 0;
    for (uint32_t i = 0; i < n_samples; i++)
        for (uint32_t j = i + 1; j < n_samples; j++) {
            int genuine = owner[i] == owner[j];
            if (!genuine && sparse && NEXT() % (sparse == 1 ? 3 : 50))
                continue;
            double up = NEXT() % 50, down = NEXT() % 50, d = (genuine ? 40 : 75) + up - down;
            int fta = NEXT() % 97 == 0;
            bs->s.score[n] = fta ? INFINITY : d / 100;
            bs->s.fta += isinf(bs->s.score[n]);
            bs->s.label[n] = (uint8_t)genuine;
            bs->a[n] = owner[i];
            bs->b[n] = owner[j];
            n++;
        }
#undef NEXT
    bs->s.n = n;
    free(owner);
}

static int same_boot_rows(const vb_metrics *x, const vb_metrics *y)
{
    size_t off = offsetof(vb_metrics, confidence), len = offsetof(vb_metrics, build_s) - off;
    return x->have == y->have && memcmp((const char *)x + off, (const char *)y + off, len) == 0;
}

/* The aggregated method computes the same replicates as the per-trial reference: every
 * interval bit for bit, whatever the thread count and however often the tail must widen
 * (tail fraction 1e-9: the first tail is the top impostor trial and must grow to all). */
static void test_bootstrap_methods_agree(void)
{
    for (int sparse = 0; sparse < 3; sparse++) {
        boot_set bs;
        make_realistic_set(&bs, 40, sparse, 11 + (uint64_t)sparse);
        CHECK(bs.s.fta > 0);
        double thresholds[] = {0.6, NAN};
        for (int t = 0; t < 2; t++) {
            vb_metrics ref, agg;
            CHECK(boot_with(&bs, 300, 5, 1, VB_BOOT_PER_TRIAL, 0, thresholds[t], &ref) == 1);
            CHECK((ref.have & VB_MG_BOOT) && !(ref.have & VB_MG_BOOT_MODEL_THRESHOLD) == (t == 1));
            double fractions[] = {0, 1e-9, 0.01, 1};
            int threads[] = {1, 3, 2, 4};
            for (int f = 0; f < 4; f++) {
                CHECK(boot_with(&bs, 300, 5, threads[f], VB_BOOT_AGGREGATED, fractions[f], thresholds[t], &agg) == 1);
                CHECKF(same_boot_rows(&ref, &agg), "sparse %d threshold %g tail %g: fnmr@fmr=1e-2 [%.17g, %.17g] vs "
                       "[%.17g, %.17g]", sparse, thresholds[t], fractions[f], ref.fnmr_at_fmr_boot[VB_FMR_1E2].low,
                       ref.fnmr_at_fmr_boot[VB_FMR_1E2].high, agg.fnmr_at_fmr_boot[VB_FMR_1E2].low,
                       agg.fnmr_at_fmr_boot[VB_FMR_1E2].high);
            }
        }
        /* the intervals are not degenerate: the comparison above compares something */
        vb_metrics m;
        CHECK(boot_with(&bs, 300, 5, 2, VB_BOOT_AGGREGATED, 0, 0.6, &m) == 1);
        CHECK(m.fnmr_at_fmr_boot[VB_FMR_1E1].low < m.fnmr_at_fmr_boot[VB_FMR_1E1].high);
        CHECK(m.fmr_at_threshold_boot.low < m.fmr_at_threshold_boot.high);
        free_boot_set(&bs);
    }
}

static int boot_calibrated(const boot_set *bs, vb_boot_method method, double tail_fraction, int threads,
                           double cal_threshold, const uint8_t *eval, vb_metrics *m)
{
    vb_metrics_init(m);
    vb_boot_input in = {&bs->s, bs->a, bs->b, 0.6, 1, cal_threshold, eval};
    vb_boot_config cfg = {300, 5, 0.95, threads, method, tail_fraction, 0, NULL};
    const char *why = NULL;
    vb_err e = {0};
    return vb_bootstrap_metrics(&in, &cfg, m, &why, &e);
}

/* The calibrated point's bootstrap uses the same draws as the other rows: at the model's
 * threshold over every trial it is the fmr@threshold/fnmr@threshold interval exactly; over
 * an evaluation split (trials whose first subject has an even id: a subject-wise split, as
 * LFW's folds are) both methods agree bit for bit, and the rows computed before are not
 * changed by asking for it. */
static void test_bootstrap_calibrated(void)
{
    for (int sparse = 0; sparse < 3; sparse += 2) {
        boot_set bs;
        make_realistic_set(&bs, 40, sparse, 21 + (uint64_t)sparse);
        uint8_t *eval = malloc(bs.s.n), *none = calloc(bs.s.n, 1);
        for (size_t i = 0; i < bs.s.n; i++)
            eval[i] = (bs.a[i] / 3) % 2 == 0; /* ids are s * 3 + 5 */
        vb_metrics plain, same, ref, agg;
        for (int method = 0; method < 2; method++) {
            vb_boot_method mt = method ? VB_BOOT_PER_TRIAL : VB_BOOT_AGGREGATED;
            CHECK(boot_with(&bs, 300, 5, 2, mt, 0, 0.6, &plain) == 1);
            CHECK(boot_calibrated(&bs, mt, 0, 2, 0.6, NULL, &same) == 1);
            CHECK(same.have == (plain.have | VB_MG_BOOT_CALIBRATION));
            CHECK(memcmp(&same.calibrated_fmr_boot, &plain.fmr_at_threshold_boot, sizeof(vb_boot_ci)) == 0);
            CHECK(memcmp(&same.calibrated_fnmr_boot, &plain.fnmr_at_threshold_boot, sizeof(vb_boot_ci)) == 0);
            CHECK(plain.fmr_at_threshold_boot.low < plain.fmr_at_threshold_boot.high);
            same.have = plain.have; /* all else as without the calibrated point */
            same.calibrated_fmr_boot = plain.calibrated_fmr_boot;
            same.calibrated_fnmr_boot = plain.calibrated_fnmr_boot;
            CHECK(same_boot_rows(&same, &plain));
            /* no evaluation trials: the rows are there, undefined */
            CHECK(boot_calibrated(&bs, mt, 0, 1, 0.6, none, &same) == 1 && (same.have & VB_MG_BOOT_CALIBRATION));
            CHECK(isnan(same.calibrated_fmr_boot.low) && isnan(same.calibrated_fnmr_boot.high));
        }
        CHECK(boot_calibrated(&bs, VB_BOOT_PER_TRIAL, 0, 1, 0.55, eval, &ref) == 1);
        CHECK(ref.calibrated_fmr_boot.low < ref.calibrated_fmr_boot.high);
        CHECK(ref.calibrated_fnmr_boot.low < ref.calibrated_fnmr_boot.high);
        CHECK(memcmp(&ref.calibrated_fmr_boot, &plain.fmr_at_threshold_boot, sizeof(vb_boot_ci)) != 0);
        double fractions[] = {0, 1e-9, 1};
        for (int f = 0; f < 3; f++) {
            CHECK(boot_calibrated(&bs, VB_BOOT_AGGREGATED, fractions[f], 1 + f, 0.55, eval, &agg) == 1);
            CHECKF(same_boot_rows(&ref, &agg), "sparse %d tail %g: calibrated_fnmr [%.17g, %.17g] vs [%.17g, %.17g]",
                   sparse, fractions[f], ref.calibrated_fnmr_boot.low, ref.calibrated_fnmr_boot.high,
                   agg.calibrated_fnmr_boot.low, agg.calibrated_fnmr_boot.high);
        }
        free(eval);
        free(none);
        free_boot_set(&bs);
    }
}

/* Past the per-trial limit (trials x replicates > 5e8) the default method still gives every
 * bootstrap row with the default 1000 replicates, and each interval holds its estimate. */
static void test_bootstrap_scales_past_per_trial_limit(void)
{
    boot_set bs;
    make_realistic_set(&bs, 300, 0, 3);
    CHECKF((double)bs.s.n * 1000 > VB_BOOT_MAX_WORK, "%zu trials", bs.s.n);
    vb_metrics ref, m, point;
    CHECK(boot_with(&bs, 1000, 1, 1, VB_BOOT_PER_TRIAL, 0, 0.6, &ref) == 0 && !(ref.have & VB_MG_BOOT));
    CHECK(boot_with(&bs, 1000, 1, 2, VB_BOOT_AGGREGATED, 0, 0.6, &m) == 1);
    CHECK((m.have & VB_MG_BOOT) && (m.have & VB_MG_BOOT_MODEL_THRESHOLD));
    CHECK(m.bootstrap_replicates == 1000 && m.bootstrap_subjects == 300);
    vb_err e = {0};
    CHECK(vb_metrics_compute(&bs.s, &point, &e) == 0);
    vb_rates r;
    vb_scores_rates(&bs.s, 0.6, &r);
    CHECKF(m.fmr_at_threshold_boot.low < r.fmr && r.fmr < m.fmr_at_threshold_boot.high, "fmr %g in [%g, %g]",
           r.fmr, m.fmr_at_threshold_boot.low, m.fmr_at_threshold_boot.high);
    CHECKF(m.fnmr_at_threshold_boot.low < r.fnmr && r.fnmr < m.fnmr_at_threshold_boot.high, "fnmr %g in [%g, %g]",
           r.fnmr, m.fnmr_at_threshold_boot.low, m.fnmr_at_threshold_boot.high);
    for (int j = VB_FMR_1E1; j <= VB_FMR_1E3; j++) {
        const vb_boot_ci *b = &m.fnmr_at_fmr_boot[j];
        CHECKF(b->low <= point.fnmr_at_fmr[j].fnmr && point.fnmr_at_fmr[j].fnmr <= b->high,
               "fnmr@fmr=%s %g in [%g, %g]", vb_fmr_target_text[j], point.fnmr_at_fmr[j].fnmr, b->low, b->high);
        CHECK(m.fmr_at_fmr_boot[j].high <= (j == VB_FMR_1E1 ? 1e-1 : j == VB_FMR_1E2 ? 1e-2 : 1e-3));
    }
    vb_metrics_free(&point);
    free_boot_set(&bs);
}

/* ---- the aggregated bootstrap over a stream (bounded memory) ---- */

/* A boot_set as a stream of chunks of `chunk` trials (views into its arrays). */
typedef struct set_stream {
    const boot_set *bs;
    const uint8_t *eval;
    size_t chunk, pos;
    vb_scores view;
    unsigned passes;
} set_stream;

static int set_next(void *ctx, int restart, vb_boot_chunk *c, vb_err *e)
{
    (void)e;
    set_stream *st = ctx;
    if (restart)
        st->pos = 0, st->passes++;
    const vb_scores *s = &st->bs->s;
    if (st->pos >= s->n)
        return 0;
    size_t n = s->n - st->pos < st->chunk ? s->n - st->pos : st->chunk;
    st->view = (vb_scores){.score = s->score + st->pos, .label = s->label + st->pos, .n = n, .cap = n,
                           .is_distance = s->is_distance};
    *c = (vb_boot_chunk){&st->view, st->bs->a + st->pos, st->bs->b + st->pos, st->eval ? st->eval + st->pos : NULL};
    st->pos += n;
    return 1;
}

static int boot_stream(const boot_set *bs, const uint8_t *eval, int have_cal, size_t chunk, size_t buffer,
                       double tail_fraction, const char *tmp_dir, set_stream *st, vb_metrics *m, vb_err *e)
{
    vb_metrics_init(m);
    *st = (set_stream){bs, eval, chunk, 0, {0}, 0};
    vb_boot_source src = {set_next, st, 0.6, have_cal, 0.55};
    vb_boot_config cfg = {300, 5, 0.95, 2, VB_BOOT_AGGREGATED, tail_fraction, buffer, tmp_dir};
    return vb_bootstrap_stream(&src, &cfg, m, e);
}

/* The stream gives the per-trial reference's rows bit for bit when the trials come in small
 * chunks and the buffers are tiny: the tail sorted 16 (or 7) trials at a time, spilled,
 * heap-merged into a file and walked 16 at a time (a tie group longer than that grows the
 * window); sparse pair keys flushed 16 at a time. A tail widened from one trial to all takes
 * more passes over the stream. A temporary folder that cannot be written is named. */
static void test_bootstrap_stream_bounded(void)
{
    for (int sparse = 0; sparse < 3; sparse++) {
        boot_set bs;
        make_realistic_set(&bs, 40, sparse, 31 + (uint64_t)sparse);
        uint8_t *eval = malloc(bs.s.n);
        for (size_t i = 0; i < bs.s.n; i++)
            eval[i] = (bs.a[i] / 3) % 2 == 0;
        for (int cal = 0; cal < 2; cal++) {
            vb_metrics ref, got;
            set_stream st;
            vb_err e = {0};
            CHECK(cal ? boot_calibrated(&bs, VB_BOOT_PER_TRIAL, 0, 1, 0.55, eval, &ref) == 1
                      : boot_with(&bs, 300, 5, 1, VB_BOOT_PER_TRIAL, 0, 0.6, &ref) == 1);
            size_t chunks[] = {37, 1, 100000}, buffers[] = {16, 7, 0};
            double fractions[] = {0, 1e-9, 0.01};
            for (int k = 0; k < 3; k++) {
                CHECK(boot_stream(&bs, cal ? eval : NULL, cal, chunks[k], buffers[k], fractions[k], NULL, &st, &got,
                                  &e) == 0);
                CHECKF(same_boot_rows(&ref, &got), "sparse %d cal %d chunk %zu buffer %zu: fnmr@fmr=1e-2 [%.17g, %.17g] "
                       "vs [%.17g, %.17g]", sparse, cal, chunks[k], buffers[k], ref.fnmr_at_fmr_boot[VB_FMR_1E2].low,
                       ref.fnmr_at_fmr_boot[VB_FMR_1E2].high, got.fnmr_at_fmr_boot[VB_FMR_1E2].low,
                       got.fnmr_at_fmr_boot[VB_FMR_1E2].high);
                CHECKF(fractions[k] != 1e-9 || st.passes > 2, "a widened tail reads the stream again (%u passes)",
                       st.passes);
            }
        }
        vb_metrics m;
        set_stream st;
        vb_err e = {0};
        CHECK(boot_stream(&bs, NULL, 0, 50, 16, 0, "/nonexistent-veribench-dir", &st, &m, &e) == -1);
        CHECKF(strstr(e.msg, "/nonexistent-veribench-dir") != NULL, "%s", e.msg);
        free(eval);
        free_boot_set(&bs);
    }
}

/* ---- calibration ---- */

static void test_calibration(void)
{
    /* similarities. Calibration: impostors 1.0 0.9 0.8 0.7, genuines 0.95 0.85 0.6. Walking
     * down: 1.0 fa=1 (FMR .25), 0.95, 0.9 fa=2 (.5), 0.85, 0.8 fa=3 (.75 > .5 stop): target
     * 0.5 -> threshold 0.85 (the most permissive point with FMR <= 0.5), FMR 0.5 there.
     * Evaluation: impostors 0.86 0.84 0.1 -> one accepted (1/3); genuines 0.85 0.7 -> one
     * rejected (1/2). */
    double cal_sim[] = {1.0, 0.9, 0.8, 0.7, 0.95, 0.85, 0.6}, eval_sim[] = {0.86, 0.84, 0.1, 0.85, 0.7};
    uint8_t cal_label[] = {0, 0, 0, 0, 1, 1, 1}, eval_label[] = {0, 0, 0, 1, 1};
    double cal_dist[7], eval_dist[5];
    for (int i = 0; i < 7; i++)
        cal_dist[i] = -cal_sim[i];
    for (int i = 0; i < 5; i++)
        eval_dist[i] = -eval_sim[i];
    for (int as_distance = 0; as_distance < 2; as_distance++) {
        vb_scores cal = {.score = as_distance ? cal_dist : cal_sim, .label = cal_label, .n = 7, .cap = 7,
                         .is_distance = as_distance};
        vb_scores eval = {.score = as_distance ? eval_dist : eval_sim, .label = eval_label, .n = 5, .cap = 5,
                          .is_distance = as_distance};
        vb_metrics m;
        vb_metrics_init(&m);
        vb_err e = {0};
        CHECK(vb_calibrate(&cal, &eval, 0.5, 0.95, &m, &e) == 0);
        CHECK(m.calibrated_threshold == (as_distance ? -0.85 : 0.85));
        CHECK(m.calibrated_calibration_fmr == 0.5);
        CHECK(m.calibrated_fmr == 1.0 / 3 && m.calibrated_fnmr == 0.5);
        CHECK(m.calibrated_genuine == 2 && m.calibrated_impostor == 3);
        CHECK(m.calibrated_false_matches == 1 && m.calibrated_false_nonmatches == 1);
        vb_interval c = vb_clopper_pearson(1, 3, 0.95), w = vb_wilson(1, 2, 0.95);
        CHECK(m.calibrated_fmr_ci.ci_low == c.low && m.calibrated_fmr_ci.ci_high == c.high);
        CHECK(m.calibrated_fnmr_ci.wilson_low == w.low && m.calibrated_fnmr_ci.wilson_high == w.high);
        CHECK(m.have & VB_MG_CALIBRATION);
        /* target 0.2: even the strictest point (1.0: FMR .25) is too high -> accept nothing */
        CHECK(vb_calibrate(&cal, &eval, 0.2, 0.95, &m, &e) == 0);
        CHECK(m.calibrated_calibration_fmr == 0 && m.calibrated_fmr == 0 && m.calibrated_fnmr == 1);
        /* target 0.25: threshold 0.95 (0.9 would bring FMR to .5) */
        CHECK(vb_calibrate(&cal, &eval, 0.25, 0.95, &m, &e) == 0);
        CHECK(m.calibrated_threshold == (as_distance ? -0.95 : 0.95) && m.calibrated_calibration_fmr == 0.25);
    }
    vb_scores cal = {.score = cal_sim, .label = cal_label, .n = 7, .cap = 7};
    vb_scores no_genuine = {.score = eval_sim, .label = eval_label, .n = 3, .cap = 3}; /* impostors only */
    vb_metrics m;
    vb_metrics_init(&m);
    vb_err e = {0};
    CHECK(vb_calibrate(&cal, &no_genuine, 0.5, 0.95, &m, &e) == -1 && e.code == VB_EXIT_INPUT);
    CHECK(strstr(e.msg, "evaluation") != NULL && !(m.have & VB_MG_CALIBRATION));
}

/* ---- the rows ---- */

static void test_interval_rows(void)
{
    static const char *const gate_rows[] = {"fnmr@fmr=1e-3_ci_high", "fnmr@fmr=1e-3_fmr_ci_high", "fmr@threshold_ci_high",
                                            "fnmr@threshold_ci_high", "threshold_fnmr_ci_high", "calibrated_fnmr_ci_high",
                                            "calibrated_fmr_ci_high", "fnmr@fmr=1e-6_boot_high", "confidence"};
    for (size_t i = 0; i < sizeof gate_rows / sizeof gate_rows[0]; i++)
        CHECKF(vb_metric_find(gate_rows[i]) != NULL, "row %s missing", gate_rows[i]);
    /* the new rows come after every earlier row: metrics.csv keeps its order */
    CHECK(vb_metric_find("confidence") > vb_metric_find("bench_metrics_cpu_s"));
    double score[] = {0.1, 0.2, 0.3, 0.8, 0.9, 0.7, 0.25};
    uint8_t label[] = {1, 1, 1, 0, 0, 0, 0};
    vb_scores s = {.score = score, .label = label, .n = 7, .cap = 7, .is_distance = 1};
    vb_metrics m;
    vb_err e = {0};
    CHECK(vb_metrics_compute(&s, &m, &e) == 0);
    vb_metrics_add_intervals(&m, 0.9);
    CHECK((m.have & VB_MG_CI) && !(m.have & VB_MG_CI_AT_THRESHOLD) && !(m.have & VB_MG_CI_MODEL_THRESHOLD));
    CHECK(m.confidence == 0.9);
    for (int j = 0; j < VB_FMR_TARGETS; j++) {
        vb_interval c = vb_clopper_pearson((uint64_t)m.fnmr_at_fmr[j].false_nonmatches, 3, 0.9);
        CHECK(m.fnmr_at_fmr_ci[j].ci_low == c.low && m.fnmr_at_fmr_ci[j].ci_high == c.high);
        vb_interval w = vb_wilson((uint64_t)m.fnmr_at_fmr[j].false_matches, 4, 0.9);
        CHECK(m.fmr_at_fmr_ci[j].wilson_low == w.low && m.fmr_at_fmr_ci[j].wilson_high == w.high);
    }
    CHECK(vb_metric_present(&m, vb_metric_find("fnmr@fmr=1e-2_ci_high")));
    CHECK(!vb_metric_present(&m, vb_metric_find("fnmr@fmr=1e-2_boot_high")));
    CHECK(!vb_metric_present(&m, vb_metric_find("fmr@threshold_ci_high")));
    vb_metrics_free(&m);
}

int main(void)
{
    RUN(test_newcombe_table);
    RUN(test_wilson_formula);
    RUN(test_clopper_pearson_edges);
    RUN(test_clopper_pearson_by_binomial_sums);
    RUN(test_symmetry_and_nesting);
    RUN(test_bootstrap_deterministic);
    RUN(test_bootstrap_widens_with_fewer_subjects);
    RUN(test_bootstrap_independent_subjects_match_binomial);
    RUN(test_bootstrap_degenerate_and_limit);
    RUN(test_bootstrap_methods_agree);
    RUN(test_bootstrap_scales_past_per_trial_limit);
    RUN(test_bootstrap_calibrated);
    RUN(test_bootstrap_stream_bounded);
    RUN(test_calibration);
    RUN(test_interval_rows);
    return vb_test_finish();
}
