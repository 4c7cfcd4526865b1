/* Metrics engine (reports/metrics.h): known answers from bob.measure's published facts,
 * hand-computed small cases (the computation is written next to each), and a brute-force
 * O(n^2) re-implementation of every definition checked on random tie-heavy score sets. */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/metrics.h"
#include "reports/radix_sort.h"
#include "tests/testlib.h"

/* ---- helpers ---- */

/* A vb_scores over the caller's arrays (not owned: never vb_scores_free it). */
static vb_scores over(const double *s, const uint8_t *l, const uint16_t *folds, size_t n, int is_distance)
{
    return (vb_scores){.score = (double *)s, .label = (uint8_t *)l, .fold = (uint16_t *)folds, .n = n, .cap = n,
                       .is_distance = is_distance};
}

/* The value of a metric field of m, checking that m holds its row (it would be written to
 * metrics.csv); field is a member designator, so a misspelled metric does not compile. */
static double present_value(const vb_metrics *m, size_t offset, double v)
{
    const vb_metric_row *row = NULL;
    for (size_t r = 0; r < vb_metric_row_count; r++)
        if (vb_metric_rows[r].offset == offset)
            row = &vb_metric_rows[r];
    CHECKF(row && vb_metric_present(m, row), "metric at offset %zu missing", offset);
    return v;
}
#define METRIC(m, field) present_value(&(m), offsetof(vb_metrics, field), (m).field)

static int compute_arrays(const double *s, const uint8_t *l, const uint16_t *folds, size_t n, int is_distance,
                          vb_metrics *m, vb_err *e)
{
    vb_scores sc = over(s, l, folds, n, is_distance);
    return vb_metrics_compute(&sc, m, e);
}

/* Builds (scores, labels) from separate genuine and impostor lists and computes. */
static int compute_sets(const double *gen, size_t ng, const double *imp, size_t ni, int is_distance, vb_metrics *m,
                        vb_err *e)
{
    size_t n = ng + ni;
    double *s = malloc(n * sizeof *s);
    uint8_t *l = malloc(n);
    for (size_t i = 0; i < ng; i++) {
        s[i] = gen[i];
        l[i] = 1;
    }
    for (size_t i = 0; i < ni; i++) {
        s[ng + i] = imp[i];
        l[ng + i] = 0;
    }
    int rc = compute_arrays(s, l, NULL, n, is_distance, m, e);
    free(s);
    free(l);
    return rc;
}

/* The i-th row m holds, in metrics.csv order (NULL past the end), and how many it holds. */
static const char *row_name(const vb_metrics *m, size_t i)
{
    for (size_t r = 0; r < vb_metric_row_count; r++)
        if (vb_metric_present(m, &vb_metric_rows[r]) && i-- == 0)
            return vb_metric_rows[r].name;
    return NULL;
}

static size_t row_count(const vb_metrics *m)
{
    size_t n = 0;
    while (row_name(m, n))
        n++;
    return n;
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* ---- normal quantile ---- */

static void test_probit_known_values(void)
{
    /* reference quantiles of the standard normal (tables / R's qnorm) */
    CHECK_NEAR(vb_probit(0.5), 0.0, 1e-15);
    CHECK_NEAR(vb_probit(0.975), 1.959963984540054, 1e-13);
    CHECK_NEAR(vb_probit(0.025), -1.959963984540054, 1e-13);
    CHECK_NEAR(vb_probit(0.9), 1.2815515655446004, 1e-13);
    CHECK_NEAR(vb_probit(0.99), 2.3263478740408408, 1e-13);
    CHECK_NEAR(vb_probit(0.001), -3.090232306167813, 1e-13);
    CHECK_NEAR(vb_probit(1e-10), -6.361340902404056, 1e-12);
    CHECK_NEAR(vb_probit(0.8413447460685429), 1.0, 1e-13); /* Phi(1) */
    CHECK(vb_probit(0) == -INFINITY);
    CHECK(vb_probit(1) == INFINITY);
    CHECK(isnan(vb_probit(-0.1)));
    CHECK(isnan(vb_probit(1.5)));
    CHECK(isnan(vb_probit(NAN)));
}

static void test_probit_roundtrip(void)
{
    /* Phi(Phi^-1(p)) = p down to 1e-300. One ulp of x moves Phi(x) by about |x| ulp(x)
     * relative (d ln Phi / dx ~ |x| in the tail), so the tolerance grows with x^2. */
    int bad = 0;
    for (double lp = -300; lp <= log10(0.5); lp += 0.37) {
        double p = pow(10, lp);
        double x = vb_probit(p);
        double back = vb_normal_cdf(x);
        if (fabs(back - p) > 1e-15 * (1 + x * x) * p)
            bad++;
    }
    CHECKF(bad == 0, "%d probit round trips off", bad);
    /* upper tail: 1 - 1e-10 is itself rounded by ~1e-16, i.e. ~2e-7 in x at x = 6.36 */
    CHECK_NEAR(vb_probit(1 - 1e-10), 6.361340902404056, 1e-6);
    CHECK_NEAR(vb_probit(0.999), 3.090232306167813, 1e-12);
    /* monotone */
    double prev = -INFINITY;
    int mono = 1;
    for (int i = 1; i < 1000; i++) {
        double x = vb_probit(i / 1000.0);
        mono &= x > prev;
        prev = x;
    }
    CHECK(mono);
}

/* ---- sorting ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void check_sort(size_t n, int kind)
{
    double *a = malloc((n ? n : 1) * sizeof *a), *b = malloc((n ? n : 1) * sizeof *b);
    static const double special[] = {-INFINITY, INFINITY, -0.0, 0.0, 5e-324, -5e-324, 1e308, -1e308};
    for (size_t i = 0; i < n; i++) {
        uint64_t r = rng();
        switch (kind) {
        case 0: a[i] = (double)(int64_t)(r % 2001) - 1000; break;                      /* ties */
        case 1: a[i] = ldexp((double)(r >> 11), -53) * 2 - 1; break;                   /* spread */
        case 2: a[i] = special[r % 8]; break;                                           /* extremes */
        case 3: a[i] = 0.25; break;                                                     /* all equal */
        default: a[i] = (double)(float)(0.9 + 0.1 * (ldexp((double)(r >> 11), -53) - 0.5)); /* float-like */
        }
    }
    memcpy(b, a, n * sizeof *a);
    vb_err e = {0};
    CHECK(vb_sort_doubles(a, n, &e) == 0);
    qsort(b, n, sizeof *b, cmp_double);
    int same = 1;
    for (size_t i = 0; i < n; i++)
        same &= a[i] == b[i]; /* qsort may order -0 and +0 either way: == treats them equal */
    CHECKF(same, "radix sort differs from qsort (n=%zu kind=%d)", n, kind);
    int ordered = 1; /* -0 before +0: the keys order them */
    for (size_t i = 1; i < n; i++)
        ordered &= vb_double_to_key(a[i - 1]) <= vb_double_to_key(a[i]);
    CHECKF(ordered, "keys not ascending (n=%zu kind=%d)", n, kind);
    free(a);
    free(b);
}

static void test_radix_sort(void)
{
    static const size_t sizes[] = {0, 1, 2, 47, 48, 49, 1000, 70000, 300000};
    for (size_t s = 0; s < VB_ARRAY_LEN(sizes); s++)
        for (int kind = 0; kind < 5; kind++)
            check_sort(sizes[s], kind);
    /* the key map is order preserving and invertible */
    double v[] = {-INFINITY, -1e300, -1, -5e-324, -0.0, 0.0, 5e-324, 1, 1e300, INFINITY};
    for (size_t i = 0; i < VB_ARRAY_LEN(v); i++) {
        CHECK(memcmp(&(double){vb_key_to_double(vb_double_to_key(v[i]))}, &v[i], sizeof(double)) == 0);
        if (i)
            CHECK(vb_double_to_key(v[i - 1]) < vb_double_to_key(v[i]));
    }
}

static void test_radix_sort_kv_stable(void)
{
    enum { N = 5000 };
    uint64_t keys[N], tk[N];
    uint32_t vals[N], tv[N];
    for (uint32_t i = 0; i < N; i++) {
        keys[i] = rng() % 37;
        vals[i] = i;
    }
    vb_radix_sort_kv(keys, vals, tk, tv, N);
    int ok = 1;
    for (size_t i = 1; i < N; i++)
        ok &= keys[i - 1] < keys[i] || (keys[i - 1] == keys[i] && vals[i - 1] < vals[i]);
    CHECK(ok);
}

/* ---- bob.measure known answers ---- */

/* Minimal reader of the 4-column fixture, independent of reports/score_file.c. */
static size_t load_bob4(const char *name, double *score, uint8_t *label, size_t max)
{
    char path[512], claimed[64], real[64], sample[64];
    snprintf(path, sizeof path, "tests/data/metrics/%s", name);
    FILE *f = fopen(path, "r");
    CHECKF(f != NULL, "cannot open %s", path);
    if (!f)
        return 0;
    size_t n = 0;
    while (n < max && fscanf(f, "%63s %63s %63s %lf", claimed, real, sample, &score[n]) == 4) {
        label[n] = !strcmp(claimed, real);
        n++;
    }
    fclose(f);
    return n;
}

static void rates_at(const char *file, double threshold, size_t *fm, size_t *fnm)
{
    static double s[1000];
    static uint8_t l[1000];
    size_t n = load_bob4(file, s, l, 1000);
    vb_scores sc = over(s, l, NULL, n, 0);
    vb_rates r;
    vb_scores_rates(&sc, threshold, &r);
    CHECK(r.genuine == 390 && r.impostor == 520);
    *fm = r.false_matches;
    *fnm = r.false_nonmatches;
    CHECK_NEAR(r.fmr, (double)r.false_matches / 520, 1e-15);
    CHECK_NEAR(r.fnmr, (double)r.false_nonmatches / 390, 1e-15);
}

static void test_bob_known_answers(void)
{
    static double s[1000];
    static uint8_t l[1000];
    size_t n = load_bob4("dev-4col.txt", s, l, 1000);
    CHECK(n == 910);
    vb_metrics m = {0};
    vb_err e = {0};
    CHECK(compute_arrays(s, l, NULL, n, 0, &m, &e) == 0);
    CHECK(METRIC(m, genuine) == 390);
    CHECK(METRIC(m, impostor) == 520);
    /* docs/metrics.md: EER threshold on dev -4.8305e-03 with 35/520 FM and 26/390 FNM */
    double t_eer = METRIC(m, eer_threshold);
    CHECK_NEAR(t_eer, -4.8305e-03, 5e-10);
    CHECK_NEAR(METRIC(m, eer), (35.0 / 520 + 26.0 / 390) / 2, 1e-15);
    /* minimum HTER threshold 3.4305e-03 with 22/520, 31/390 */
    double t_hter = METRIC(m, min_hter_threshold);
    CHECK_NEAR(t_hter, 3.4305e-03, 5e-10);
    CHECK_NEAR(METRIC(m, min_hter), (22.0 / 520 + 31.0 / 390) / 2, 1e-15);
    size_t fm, fnm;
    rates_at("dev-4col.txt", t_eer, &fm, &fnm);
    CHECK(fm == 35 && fnm == 26);
    rates_at("dev-4col.txt", t_hter, &fm, &fnm);
    CHECK(fm == 22 && fnm == 31);
    /* the thresholds chosen on dev, applied to test: 13/520, 24/390 and 9/520, 30/390 */
    rates_at("test-4col.txt", t_eer, &fm, &fnm);
    CHECKF(fm == 13 && fnm == 24, "test at EER threshold: %zu/%zu", fm, fnm);
    rates_at("test-4col.txt", t_hter, &fm, &fnm);
    CHECKF(fm == 9 && fnm == 30, "test at min-HTER threshold: %zu/%zu", fm, fnm);
    /* FVC: FMR 35/520 > FNMR 26/390 at the bob point, so [low, high] = [26/390, 35/520]
     * if that point is FVC's pick; at least the interval must bracket the two rates */
    CHECK(METRIC(m, eer_fvc_low) <= METRIC(m, eer_fvc_high));
    CHECK(METRIC(m, fta_genuine) == 0 && METRIC(m, fta_impostor) == 0);
    vb_metrics_free(&m);
}

/* ---- hand-computed cases ---- */

static void test_separable(void)
{
    /* gen {3,4,5}, imp {0,1,2}. Operating points (accept s >= v): v=0: FA 3 FR 0; v=1: 2,0;
     * v=2: 1,0; v=3: 0,0; v=4: 0,1; v=5: 0,2; none: 0,3.
     * bob: |FMR-FNMR| = 0 only at v=3 -> threshold (2+3)/2 = 2.5, EER 0. FVC: first
     * FMR <= FNMR at v=3, exact tie -> [0,0]. ROCCH: imp groups pool to one block, gen
     * groups to another: vertices (1,0),(0,0),(0,1), both segments degenerate -> 0.
     * FNMR@FMR=X for any X: first point with FA*X^-1 <= 3 is v=3 -> FNMR 0, threshold 3.
     * AUC 1. d' = |4-1| / sqrt((2/3 + 2/3)/2) = 3/sqrt(2/3). min HTER 0 at 2.5. */
    double gen[] = {5, 3, 4}, imp[] = {2, 0, 1};
    vb_metrics m = {0};
    vb_err e = {0};
    CHECK(compute_sets(gen, 3, imp, 3, 0, &m, &e) == 0);
    CHECK(METRIC(m, eer) == 0);
    CHECK(METRIC(m, eer_threshold) == 2.5);
    CHECK(METRIC(m, eer_fvc_low) == 0 && METRIC(m, eer_fvc_high) == 0 && METRIC(m, eer_fvc) == 0);
    CHECK(METRIC(m, eer_rocch) == 0);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].fnmr) == 0);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].threshold) == 3);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_ZERO].fnmr) == 0);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_ZERO].threshold) == 3);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_ZERO].fmr) == 0);
    CHECK(METRIC(m, auc) == 1);
    CHECK_NEAR(METRIC(m, dprime), 3 / sqrt(2.0 / 3), 1e-12);
    CHECK(METRIC(m, min_hter) == 0 && METRIC(m, min_hter_threshold) == 2.5);
    /* 3 impostors: every target below 3/3 = 1 fails the rule of 3; 0 errors: rule of 30 */
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].rule_of_3) == 1);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].rule_of_30) == 1);
    vb_metrics_free(&m);
}

static void test_overlapping_ties(void)
{
    /* gen {1,2,2,3} (Ng 4), imp {0,1,1,2,4} (Ni 5). Points (v: FA FR, FMR FNMR):
     *   v=0: 5 0 (1, 0)      group g0 i1
     *   v=1: 4 0 (.8, 0)     group g1 i2   <- ties across classes move together
     *   v=2: 2 1 (.4, .25)   group g2 i1
     *   v=3: 1 3 (.2, .75)   group g1 i0
     *   v=4: 1 4 (.2, 1)     group g0 i1
     *   none: 0 4 (0, 1)
     * bob: FA*4 - FR*5 = 20, 16, 3, -11, -16, -20 -> min |.| at v=2, threshold (1+2)/2 =
     * 1.5, EER (.4 + .25)/2 = .325. FVC: first FMR <= FNMR at v=3 (t2), t1 = v=2; sums .65
     * vs .95 -> t1, [low, high] = [.25, .4], eer_fvc .325. min HTER: FA*4 + FR*5 = 20, 16,
     * 13, 19, 24, 20 -> v=2, (.4+.25)/2. AUC: sum i*(2(Ng-FR)-g) = 1*8 + 2*7 + 1*4 + 0 + 0
     * = 26, / (2*20) = .65 (Mann-Whitney: 13 of 20 pairs, ties 1/2). ROCCH: PAV blocks
     * (0,1) (1,3) (3,5) [gen, total]; vertices (1,0) (.8,0) (.4,.25) (0,1); segment lines
     * cross the diagonal at 0 (degenerate), 1/(1.25+2) = 4/13, 1/(1.875+1) = 8/23 -> 8/23.
     * FNMR@FMR=1e-1 (FA <= 0.5): only "accept nothing": FNMR 1, threshold just above 4.
     * d' = |2 - 1.6| / sqrt((0.5 + 1.84)/2). */
    double gen[] = {2, 1, 3, 2}, imp[] = {1, 4, 0, 2, 1};
    vb_metrics m = {0};
    vb_err e = {0};
    CHECK(compute_sets(gen, 4, imp, 5, 0, &m, &e) == 0);
    CHECK_NEAR(METRIC(m, eer), 0.325, 1e-15);
    CHECK(METRIC(m, eer_threshold) == 1.5);
    CHECK_NEAR(METRIC(m, eer_fvc_low), 0.25, 1e-15);
    CHECK_NEAR(METRIC(m, eer_fvc_high), 0.4, 1e-15);
    CHECK_NEAR(METRIC(m, eer_fvc), 0.325, 1e-15);
    CHECK_NEAR(METRIC(m, eer_rocch), 8.0 / 23, 1e-15);
    CHECK_NEAR(METRIC(m, min_hter), 0.325, 1e-15);
    CHECK(METRIC(m, min_hter_threshold) == 1.5);
    CHECK_NEAR(METRIC(m, auc), 0.65, 1e-15);
    CHECK_NEAR(METRIC(m, dprime), 0.4 / sqrt((0.5 + 1.84) / 2), 1e-12);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].fnmr) == 1);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].threshold) == nextafter(4, INFINITY));
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].false_nonmatches) == 4);
    /* the curve keeps every point of a small set: 6 operating points */
    CHECK(m.curve.n == 6);
    CHECK(m.curve.pts[2].fmr == 0.4 && m.curve.pts[2].fnmr == 0.25 && m.curve.pts[2].threshold == 2);
    vb_metrics_free(&m);

    /* the same as distances d = -s: every rate equal, thresholds negated */
    double dgen[] = {-2, -1, -3, -2}, dimp[] = {-1, -4, -0.0, -2, -1};
    CHECK(compute_sets(dgen, 4, dimp, 5, 1, &m, &e) == 0);
    CHECK_NEAR(METRIC(m, eer), 0.325, 1e-15);
    CHECK(METRIC(m, eer_threshold) == -1.5);
    CHECK_NEAR(METRIC(m, eer_rocch), 8.0 / 23, 1e-15);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].threshold) == -nextafter(4, INFINITY));
    CHECK_NEAR(METRIC(m, auc), 0.65, 1e-15);
    vb_metrics_free(&m);
}

static void test_fnmr_at_fmr_ties(void)
{
    /* 20 impostors: 17 at 0 and 3 tied at 5; gen {4,5,6,7}. FMR <= 0.1 needs FA <= 2, but
     * the three tied impostors move together: at v=5 FA = 3 (FMR .15, the "nearest" FMR),
     * at v=6 FA = 0. So fnmr@fmr=1e-1 is taken at v=6: FR = #{4,5} = 2 -> FNMR .5,
     * achieved FMR 0. Rule of 3: 20 < 3/0.1 = 30 -> flagged. */
    double gen[] = {4, 5, 6, 7}, imp[20];
    for (int i = 0; i < 20; i++)
        imp[i] = i < 17 ? 0 : 5;
    vb_metrics m = {0};
    vb_err e = {0};
    CHECK(compute_sets(gen, 4, imp, 20, 0, &m, &e) == 0);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].fnmr) == 0.5);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].threshold) == 6);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].fmr) == 0);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].false_matches) == 0);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].false_nonmatches) == 2);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].rule_of_3) == 1);
    vb_metrics_free(&m);
}

static void test_fvc_tie_of_sums(void)
{
    /* imp: 5 at 0, 3 at 10, 2 at 20; gen: 1 at 5, 3 at 10, 6 at 30 (Ni = Ng = 10).
     * Points: v=0 (1, 0); v=5 (.5, 0); v=10 (.5, .1); v=20 (.2, .4); v=30 (0, .4); none (0, 1).
     * FVC: t2 = v=20 (first FMR <= FNMR), t1 = v=10; FMR+FNMR .6 at both: the FVC2000 rule
     * takes t1 on a tie, so [low, high] = [.1, .5] (t2 would give [.2, .4]); eer_fvc .3.
     * bob: |FA - FR| * 10 = 100, 50, 40, 20, 40, 100 -> v=20, threshold 15, EER .3. */
    double imp[] = {0, 0, 0, 0, 0, 10, 10, 10, 20, 20}, gen[] = {5, 10, 10, 10, 30, 30, 30, 30, 30, 30};
    vb_metrics m = {0};
    vb_err e = {0};
    CHECK(compute_sets(gen, 10, imp, 10, 0, &m, &e) == 0);
    CHECK_NEAR(METRIC(m, eer_fvc_low), 0.1, 1e-15);
    CHECK_NEAR(METRIC(m, eer_fvc_high), 0.5, 1e-15);
    CHECK_NEAR(METRIC(m, eer_fvc), 0.3, 1e-15);
    CHECK(METRIC(m, eer_threshold) == 15);
    CHECK_NEAR(METRIC(m, eer), 0.3, 1e-15);
    vb_metrics_free(&m);
}

static void test_rules_of_3_and_30(void)
{
    /* 1000 distinct impostors 0..999, genuines: 40 at 500.5 and 60 at 2000.
     * FMR <= 1e-1: FA <= 100 -> v = 900, FA 100, FR 40 (both >= 30): rule of 30 clear;
     * 1000 >= 3/0.1: rule of 3 clear. FMR <= 1e-2: v = 990, FA 10 < 30: rule of 30 set;
     * 1000 >= 300: rule of 3 clear. FMR <= 1e-3: FA <= 1 -> v = 999, FA 1; 1000 < 3000:
     * rule of 3 set. */
    static double imp[1000], gen[100];
    for (int i = 0; i < 1000; i++)
        imp[i] = i;
    for (int i = 0; i < 100; i++)
        gen[i] = i < 40 ? 500.5 : 2000;
    vb_metrics m = {0};
    vb_err e = {0};
    CHECK(compute_sets(gen, 100, imp, 1000, 0, &m, &e) == 0);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].threshold) == 900);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].false_matches) == 100);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].fnmr) == 0.4);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].rule_of_3) == 0);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].rule_of_30) == 0);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E2].threshold) == 990);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E2].fmr) == 0.01);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E2].rule_of_3) == 0);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E2].rule_of_30) == 1);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E3].threshold) == 999);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E3].rule_of_3) == 1);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_ZERO].rule_of_3) == 1);
    vb_metrics_free(&m);

    /* rule of 3 boundary: N_imp = 29 < 30 is flagged at 1e-1, N_imp = 30 is not */
    static double imp30[30];
    double g1[] = {100};
    for (int i = 0; i < 30; i++)
        imp30[i] = i;
    CHECK(compute_sets(g1, 1, imp30, 29, 0, &m, &e) == 0);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].rule_of_3) == 1);
    vb_metrics_free(&m);
    CHECK(compute_sets(g1, 1, imp30, 30, 0, &m, &e) == 0);
    CHECK(METRIC(m, fnmr_at_fmr[VB_FMR_1E1].rule_of_3) == 0);
    vb_metrics_free(&m);
}

static void test_fta(void)
{
    /* gen {-inf, 1, 2}, imp {-inf, 0}: the -inf trials failed to acquire. Points: v=-inf:
     * FA 2 FR 0; v=0: FA 1 FR 1 (the -inf genuine is a non-match); v=1: 0 1; v=2: 0 2;
     * none: 0 3. bob: FA*3 - FR*2 = 6, 1, -2, -4, -6 -> v=0, threshold between -inf and 0
     * is 0 itself, EER (1/2 + 1/3)/2 = 5/12. d' over finite scores: gen {1,2} mean 1.5
     * var .25, imp {0} -> 1.5/sqrt(.125). */
    double gen[] = {-INFINITY, 1, 2}, imp[] = {0, -INFINITY};
    vb_metrics m = {0};
    vb_err e = {0};
    CHECK(compute_sets(gen, 3, imp, 2, 0, &m, &e) == 0);
    CHECK(METRIC(m, fta_genuine) == 1);
    CHECK(METRIC(m, fta_impostor) == 1);
    CHECK_NEAR(METRIC(m, eer), 5.0 / 12, 1e-15);
    CHECK(METRIC(m, eer_threshold) == 0);
    CHECK_NEAR(METRIC(m, dprime), 1.5 / sqrt(0.125), 1e-12);
    CHECK(m.hist.n_gen == 2 && m.hist.n_imp == 1);
    vb_metrics_free(&m);
    /* as distances an FTA is +inf; the threshold prints as 0, never -0 */
    double dgen[] = {INFINITY, -1, -2}, dimp[] = {0, INFINITY};
    CHECK(compute_sets(dgen, 3, dimp, 2, 1, &m, &e) == 0);
    CHECK(METRIC(m, fta_genuine) == 1 && METRIC(m, fta_impostor) == 1);
    double t = METRIC(m, eer_threshold);
    CHECK(t == 0 && !signbit(t));
    vb_metrics_free(&m);
}

static void test_bad_input(void)
{
    double s[] = {1, 0, 0.5};
    uint8_t l[] = {1, 0, 1};
    vb_metrics m = {0};
    vb_err e = {0};
    s[2] = NAN;
    CHECK(compute_arrays(s, l, NULL, 3, 0, &m, &e) == -1);
    CHECK(e.code == VB_EXIT_INPUT && strstr(e.msg, "trial 2") && strstr(e.msg, "NaN"));
    s[2] = INFINITY; /* a similarity of +inf would match at every threshold */
    CHECK(compute_arrays(s, l, NULL, 3, 0, &m, &e) == -1);
    CHECK(strstr(e.msg, "trial 2") != NULL);
    s[2] = -INFINITY; /* ... as would a distance of -inf */
    CHECK(compute_arrays(s, l, NULL, 3, 1, &m, &e) == -1);
    CHECK(compute_arrays(s, l, NULL, 3, 0, &m, &e) == 0); /* -inf similarity: an FTA */
    vb_metrics_free(&m);
    s[2] = 0.5;
    l[1] = 2;
    CHECK(compute_arrays(s, l, NULL, 3, 0, &m, &e) == -1);
    CHECK(strstr(e.msg, "label 2") != NULL);
    uint8_t all_gen[] = {1, 1, 1}, all_imp[] = {0, 0, 0};
    CHECK(compute_arrays(s, all_gen, NULL, 3, 0, &m, &e) == -1 && strstr(e.msg, "no impostor"));
    CHECK(compute_arrays(s, all_imp, NULL, 3, 0, &m, &e) == -1 && strstr(e.msg, "no genuine"));
    CHECK(compute_arrays(s, l, NULL, 0, 0, &m, &e) == -1);
    CHECK(m.have == 0 && m.curve.pts == NULL && isnan(m.eer)); /* a failure leaves nothing */

    /* large inputs are validated on two threads: the earliest bad trial is still named */
    size_t n = 200000;
    double *big = malloc(n * sizeof *big);
    uint8_t *lab = malloc(n);
    for (size_t i = 0; i < n; i++) {
        big[i] = (double)(i % 1000);
        lab[i] = i % 7 == 0;
    }
    big[150000] = NAN;
    big[30001] = NAN;
    CHECK(compute_arrays(big, lab, NULL, n, 0, &m, &e) == -1);
    CHECKF(strstr(e.msg, "trial 30001:") != NULL, "message: %s", e.msg);
    big[30001] = 1;
    CHECK(compute_arrays(big, lab, NULL, n, 0, &m, &e) == -1);
    CHECKF(strstr(e.msg, "trial 150000:") != NULL, "message: %s", e.msg);
    big[150000] = 1;
    lab[199999] = 3;
    CHECK(compute_arrays(big, lab, NULL, n, 0, &m, &e) == -1);
    CHECKF(strstr(e.msg, "trial 199999: label 3") != NULL, "message: %s", e.msg);
    lab[199999] = 0;
    CHECK(compute_arrays(big, lab, NULL, n, 0, &m, &e) == 0);
    vb_metrics_free(&m);
    free(big);
    free(lab);
}

static void test_order_and_format(void)
{
    double gen[] = {3, 4}, imp[] = {1, 2};
    vb_metrics m = {0};
    vb_err e = {0};
    CHECK(compute_sets(gen, 2, imp, 2, 0, &m, &e) == 0);
    static const char *const head[] = {"genuine", "impostor", "eer", "eer_threshold", "eer_fvc_low",
                                       "eer_fvc_high", "eer_fvc", "eer_rocch", "fnmr@fmr=1e-1",
                                       "fnmr@fmr=1e-1_threshold", "fnmr@fmr=1e-1_fmr"};
    for (size_t i = 0; i < VB_ARRAY_LEN(head); i++)
        CHECKF(!strcmp(row_name(&m, i), head[i]), "metric %zu is %s, expected %s", i,
               row_name(&m, i), head[i]);
    /* 8 head rows, 7 targets x 7 rows, then auc dprime fta_genuine fta_impostor min_hter... */
    CHECK(!strcmp(row_name(&m, 8 + 7 * 7 - 7), "fnmr@fmr=0"));
    CHECK(!strcmp(row_name(&m, 8 + 7 * 7), "auc"));
    CHECK(!strcmp(row_name(&m, 8 + 7 * 7 + 1), "dprime"));
    CHECK(!strcmp(row_name(&m, 8 + 7 * 7 + 2), "fta_genuine"));
    CHECK(!strcmp(row_name(&m, 8 + 7 * 7 + 3), "fta_impostor"));
    CHECK(!strcmp(row_name(&m, 8 + 7 * 7 + 5), "min_hter_threshold"));
    CHECK(row_count(&m) == 8 + 7 * 7 + 6); /* no folds: no accuracy rows */
    CHECK(row_name(&m, 1000) == NULL);
    vb_metrics_free(&m);

    char buf[32];
    vb_format_double(0.1, buf);
    CHECK(!strcmp(buf, "0.1"));
    vb_format_double(-0.0, buf);
    CHECK(!strcmp(buf, "0"));
    vb_format_double(1.0 / 3, buf);
    CHECK(strtod(buf, NULL) == 1.0 / 3);
    vb_format_double(-INFINITY, buf);
    CHECK(!strcmp(buf, "-inf"));
    vb_format_double(NAN, buf);
    CHECK(!strcmp(buf, "nan"));
    vb_format_double(35, buf);
    CHECK(!strcmp(buf, "35"));
}

static void test_kfold_accuracy(void)
{
    /* 3 folds (ids 1,2,3) of 2 genuine + 2 impostor, plus two trials in no fold (0):
     *   fold 1: gen .9 .8   imp .1 .6
     *   fold 2: gen .72 .3  imp .2 .4
     *   fold 3: gen .95 .5  imp .7 .05
     * Training on the other folds, correct = genuines >= t + impostors < t, candidates the
     * lowest score and the midpoints, ties -> lowest threshold:
     *  test fold 1, train 2+3 sorted .05i .2i .3g .4i .5g .7i .72g .95g: correct 4,5,6,5,6,
     *    5,6,5,4 -> first 6 at t=(.2+.3)/2=.25 (a higher tie .71 would give fold 1 100%);
     *    fold 1 at .25: .9 .8 accepted, .1 rejected, .6 accepted -> 3/4.
     *  test fold 2, train 1+3 .05i .1i .5g .6i .7i .8g .9g .95g: 4,5,6,5,6,7,... -> 7 at
     *    t=(.7+.8)/2=.75; fold 2: .72 .3 rejected (wrong), .2 .4 rejected -> 2/4.
     *  test fold 3, train 1+2 .1i .2i .3g .4i .6i .72g .8g .9g: 4,5,6,5,6,7 -> t=.66;
     *    fold 3: .95 ok, .5 wrong, .7 accepted (wrong), .05 ok -> 2/4.
     * mean 7/12; population std sqrt(((1/6)^2 + 2(1/12)^2)/3) = sqrt(1/72); se = sample std
     * sqrt((1/24)/2) / sqrt(3) = 1/12. */
    double s[] = {.9, .8, .1, .6, .72, .3, .2, .4, .95, .5, .7, .05, .99, .01};
    uint8_t l[] = {1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1};
    uint16_t f[] = {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 0, 0};
    vb_kfold k;
    vb_err e = {0};
    vb_scores sc = over(s, l, f, 14, 0);
    CHECK(vb_kfold_accuracy(&sc, &k, &e) == 1);
    CHECK(k.folds == 3);
    CHECK_NEAR(k.mean, 7.0 / 12, 1e-15);
    CHECK_NEAR(k.std, sqrt(1.0 / 72), 1e-15);
    CHECK_NEAR(k.se, 1.0 / 12, 1e-15);
    /* fold ids need not be consecutive: 2, 5, 65535 are the same three folds */
    uint16_t sparse[14];
    for (int i = 0; i < 14; i++)
        sparse[i] = f[i] == 1 ? 2 : f[i] == 2 ? 5 : f[i] == 3 ? 65535 : 0;
    vb_scores sc_sparse = over(s, l, sparse, 14, 0);
    CHECK(vb_kfold_accuracy(&sc_sparse, &k, &e) == 1);
    CHECK(k.folds == 3);
    CHECK_NEAR(k.mean, 7.0 / 12, 1e-15);
    /* as distances (d = -s) the same folds give the same accuracies */
    double d[14];
    for (int i = 0; i < 14; i++)
        d[i] = -s[i];
    vb_scores sc_dist = over(d, l, f, 14, 1);
    CHECK(vb_kfold_accuracy(&sc_dist, &k, &e) == 1);
    CHECK_NEAR(k.mean, 7.0 / 12, 1e-15);
    /* through vb_metrics_compute the rows appear at the end */
    vb_metrics m = {0};
    CHECK(vb_metrics_compute(&sc, &m, &e) == 0);
    CHECK_NEAR(METRIC(m, accuracy_10fold_mean), 7.0 / 12, 1e-15);
    CHECK(METRIC(m, accuracy_10fold_folds) == 3);
    CHECK(!strcmp(row_name(&m, row_count(&m) - 1), "accuracy_10fold_folds"));
    vb_metrics_free(&m);
    /* one fold only: nothing to cross-validate */
    uint16_t one[14];
    for (int i = 0; i < 14; i++)
        one[i] = f[i] ? 1 : 0;
    vb_scores sc_one = over(s, l, one, 14, 0);
    CHECK(vb_kfold_accuracy(&sc_one, &k, &e) == 0);
    /* no fold information at all: nothing either */
    vb_scores sc_none = over(s, l, NULL, 14, 0);
    CHECK(vb_kfold_accuracy(&sc_none, &k, &e) == 0);
}

/* ---- brute force: every definition re-implemented in O(n^2) ---- */

typedef struct brute {
    double eer, eer_t, hter, hter_t, fvc_low, fvc_high, auc;
    double fnmr[7], fnmr_t[7];
} brute;

static void brute_rates(const double *g, size_t ng, const double *im, size_t ni, double t, size_t *fa, size_t *fr)
{
    *fa = *fr = 0;
    for (size_t i = 0; i < ni; i++)
        *fa += im[i] >= t;
    for (size_t i = 0; i < ng; i++)
        *fr += g[i] < t;
}

static void brute_force(const double *g, size_t ng, const double *im, size_t ni, brute *b)
{
    /* distinct values ascending */
    size_t n = ng + ni, m = 0;
    double *v = malloc(n * sizeof *v);
    memcpy(v, g, ng * sizeof *v);
    memcpy(v + ng, im, ni * sizeof *v);
    qsort(v, n, sizeof *v, cmp_double);
    for (size_t i = 0; i < n; i++)
        if (!m || v[i] != v[m - 1])
            v[m++] = v[i];
    /* operating points: thresholds v[0..m) then "above everything"; bob candidates: v[0],
     * midpoints (v[k-1]+v[k])/2, and the last point */
    double best_eer = INFINITY, best_hter = INFINITY;
    size_t prev_fa = 0, prev_fr = 0;
    int fvc_done = 0;
    for (size_t i = 0; i < 7; i++)
        b->fnmr[i] = -1;
    static const double targets[7] = {1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 0};
    for (size_t k = 0; k <= m; k++) {
        double t = k < m ? v[k] : nextafter(v[m - 1], INFINITY);
        double cand = k == 0 ? v[0] : k < m ? (v[k - 1] + v[k]) / 2 : t;
        size_t fa, fr;
        brute_rates(g, ng, im, ni, t, &fa, &fr);
        double fmr = (double)fa / ni, fnmr = (double)fr / ng;
        double d = fabs(fmr - fnmr);
        if (d <= best_eer + 1e-15) {
            best_eer = d;
            b->eer = (fmr + fnmr) / 2;
            b->eer_t = cand;
        }
        if ((fmr + fnmr) <= best_hter + 1e-15) {
            best_hter = fmr + fnmr;
            b->hter = (fmr + fnmr) / 2;
            b->hter_t = cand;
        }
        if (!fvc_done && fmr <= fnmr) {
            fvc_done = 1;
            double pf = (double)prev_fa / ni, pr = (double)prev_fr / ng;
            if (fmr != fnmr && pf + pr <= fmr + fnmr) {
                b->fvc_low = fmin(pf, pr);
                b->fvc_high = fmax(pf, pr);
            } else {
                b->fvc_low = fmin(fmr, fnmr);
                b->fvc_high = fmax(fmr, fnmr);
            }
        }
        for (int j = 0; j < 7; j++)
            if (b->fnmr[j] < 0 && fmr <= targets[j]) {
                b->fnmr[j] = fnmr;
                b->fnmr_t[j] = t;
            }
        prev_fa = fa;
        prev_fr = fr;
    }
    /* AUC as the Mann-Whitney statistic, ties 1/2 */
    double wins = 0;
    for (size_t i = 0; i < ng; i++)
        for (size_t j = 0; j < ni; j++)
            wins += g[i] > im[j] ? 1 : g[i] == im[j] ? 0.5 : 0;
    b->auc = wins / ((double)ng * ni);
    free(v);
}

static void test_brute_force_random(void)
{
    int mismatches = 0;
    for (int round = 0; round < 300; round++) {
        size_t ng = 1 + rng() % 60, ni = 1 + rng() % 200;
        int levels = 2 + (int)(rng() % 40); /* few levels: many ties */
        double *g = malloc(ng * sizeof *g), *im = malloc(ni * sizeof *im);
        for (size_t i = 0; i < ng; i++)
            g[i] = (double)(rng() % levels) + 3;
        for (size_t i = 0; i < ni; i++)
            im[i] = (double)(rng() % levels);
        brute b = {0};
        brute_force(g, ng, im, ni, &b);
        vb_metrics m = {0};
        vb_err e = {0};
        if (compute_sets(g, ng, im, ni, 0, &m, &e)) {
            mismatches++;
            continue;
        }
        int ok = fabs(METRIC(m, eer) - b.eer) < 1e-12 && METRIC(m, eer_threshold) == b.eer_t &&
                 fabs(METRIC(m, min_hter) - b.hter) < 1e-12 && METRIC(m, min_hter_threshold) == b.hter_t &&
                 fabs(METRIC(m, eer_fvc_low) - b.fvc_low) < 1e-12 &&
                 fabs(METRIC(m, eer_fvc_high) - b.fvc_high) < 1e-12 && fabs(METRIC(m, auc) - b.auc) < 1e-12;
        for (int j = 0; j < VB_FMR_TARGETS; j++)
            ok &= fabs(METRIC(m, fnmr_at_fmr[j].fnmr) - b.fnmr[j]) < 1e-12 && METRIC(m, fnmr_at_fmr[j].threshold) == b.fnmr_t[j];
        /* the hull EER is never above the bob point's error pair's max, and >= 0 */
        double r = METRIC(m, eer_rocch);
        ok &= r >= 0 && r <= 0.5 + 1e-12;
        if (!ok && mismatches++ < 3)
            fprintf(stderr, "brute force mismatch: round %d ng %zu ni %zu levels %d\n", round, ng, ni, levels);
        vb_metrics_free(&m);
        free(g);
        free(im);
    }
    CHECKF(mismatches == 0, "%d random sets disagree with the brute force", mismatches);
}

/* The ROC convex hull EER against an independent hull: Andrew's monotone chain over the
 * ROC points, then the crossing of the diagonal on the hull polyline. */
static double brute_rocch_eer(const double *g, size_t ng, const double *im, size_t ni)
{
    size_t n = ng + ni, m = 0;
    double *v = malloc(n * sizeof *v);
    memcpy(v, g, ng * sizeof *v);
    memcpy(v + ng, im, ni * sizeof *v);
    qsort(v, n, sizeof *v, cmp_double);
    for (size_t i = 0; i < n; i++)
        if (!m || v[i] != v[m - 1])
            v[m++] = v[i];
    double *x = malloc((m + 1) * sizeof *x), *y = malloc((m + 1) * sizeof *y);
    size_t h = 0;
    for (size_t k = 0; k <= m; k++) {
        size_t fa, fr;
        brute_rates(g, ng, im, ni, k < m ? v[k] : INFINITY, &fa, &fr);
        double px = (double)fa / ni, py = (double)fr / ng;
        /* points come with x falling: keep the lower-left hull (turns must be clockwise) */
        while (h >= 2) {
            double cross = (x[h - 1] - x[h - 2]) * (py - y[h - 2]) - (y[h - 1] - y[h - 2]) * (px - x[h - 2]);
            if (cross >= 0) /* B on or above the line A-C: not on the lower-left hull */
                h--;
            else
                break;
        }
        x[h] = px;
        y[h] = py;
        h++;
    }
    double eer = 0;
    for (size_t k = 1; k < h; k++) {
        /* the segment crosses x = y where (x - y) changes sign */
        double d0 = x[k - 1] - y[k - 1], d1 = x[k] - y[k];
        if (d0 >= 0 && d1 <= 0 && d0 != d1) {
            double u = d0 / (d0 - d1);
            eer = x[k - 1] + u * (x[k] - x[k - 1]);
        }
    }
    free(v);
    free(x);
    free(y);
    return eer;
}

static void test_rocch_against_hull(void)
{
    int bad = 0;
    for (int round = 0; round < 200; round++) {
        size_t ng = 2 + rng() % 40, ni = 2 + rng() % 80;
        int levels = 3 + (int)(rng() % 30);
        double *g = malloc(ng * sizeof *g), *im = malloc(ni * sizeof *im);
        for (size_t i = 0; i < ng; i++)
            g[i] = (double)(rng() % levels) + (double)(rng() % 3);
        for (size_t i = 0; i < ni; i++)
            im[i] = (double)(rng() % levels);
        vb_metrics m = {0};
        vb_err e = {0};
        CHECK(compute_sets(g, ng, im, ni, 0, &m, &e) == 0);
        double want = brute_rocch_eer(g, ng, im, ni), got = METRIC(m, eer_rocch);
        if (fabs(want - got) > 1e-12 && bad++ < 3)
            fprintf(stderr, "rocch: got %.15g want %.15g (ng %zu ni %zu)\n", got, want, ng, ni);
        vb_metrics_free(&m);
        free(g);
        free(im);
    }
    CHECKF(bad == 0, "%d hull EERs differ", bad);
}

/* ---- large sets: decimated curve, histograms, threshold rates ---- */

/* Number of sorted a[0..n) that are <= t: the test's own rate counter (distances). */
static size_t count_at_most_sorted(const double *a, size_t n, double t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void test_large_curve_and_hist(void)
{
    size_t ng = 50000, ni = 400000, n = ng + ni;
    double *s = malloc(n * sizeof *s);
    uint8_t *l = malloc(n);
    for (size_t i = 0; i < n; i++) {
        l[i] = i < ng;
        double u = ldexp((double)(rng() >> 11), -53);
        s[i] = (double)(float)((l[i] ? 0.4 : 0.9) + 0.15 * (u - 0.5) * 2); /* distances, ties */
    }
    vb_scores sc = over(s, l, NULL, n, 1);
    vb_metrics m;
    vb_err e = {0};
    CHECK(vb_metrics_compute(&sc, &m, &e) == 0);
    /* sorted copies, so each curve point's rates take two binary searches here */
    double *gs = malloc(ng * sizeof *gs), *is = malloc(ni * sizeof *is);
    memcpy(gs, s, ng * sizeof *gs);
    memcpy(is, s + ng, ni * sizeof *is);
    qsort(gs, ng, sizeof *gs, cmp_double);
    qsort(is, ni, sizeof *is, cmp_double);
    const vb_curve *c = &m.curve;
    CHECKF(c->n > 100 && c->n < 5000, "curve has %zu points", c->n);
    CHECK(c->pts[0].fmr == 1 && c->pts[0].fnmr == 0);
    CHECK(c->pts[c->n - 1].fmr == 0 && c->pts[c->n - 1].fnmr == 1);
    int mono = 1, exact = 1;
    for (size_t i = 0; i < c->n; i++) {
        if (i)
            mono &= c->pts[i].fmr <= c->pts[i - 1].fmr && c->pts[i].fnmr >= c->pts[i - 1].fnmr;
        double t = c->pts[i].threshold; /* accept d <= t */
        double fmr = (double)count_at_most_sorted(is, ni, t) / (double)ni;
        double fnmr = (double)(ng - count_at_most_sorted(gs, ng, t)) / (double)ng;
        exact &= fmr == c->pts[i].fmr && fnmr == c->pts[i].fnmr;
    }
    free(gs);
    free(is);
    CHECK(mono);
    CHECKF(exact, "curve points disagree with the rates at their thresholds");
    /* histograms: every finite score in exactly one bin, distance units */
    uint64_t sg = 0, si = 0;
    for (size_t b = 0; b < m.hist.bins; b++) {
        sg += m.hist.gen[b];
        si += m.hist.imp[b];
    }
    CHECK(sg == ng && si == ni);
    CHECK(m.hist.is_distance && m.hist.lo >= 0.25 - 1e-6 && m.hist.hi <= 1.05 + 1e-6);
    CHECK(m.hist.gen[0] > 0 && m.hist.imp[m.hist.bins - 1] > 0);
    /* each bin b holds the user values in [lo + b*width, lo + (b+1)*width), the last one
     * also hi: recount directly from the inputs */
    uint64_t *want = calloc(2 * m.hist.bins, sizeof *want);
    for (size_t i = 0; i < n; i++) {
        size_t b = 0;
        while (b + 1 < m.hist.bins && s[i] >= m.hist.lo + (double)(b + 1) * m.hist.width)
            b++;
        want[(l[i] ? 0 : m.hist.bins) + b]++;
    }
    int bins_ok = 1;
    for (size_t b = 0; b < m.hist.bins; b++)
        bins_ok &= want[b] == m.hist.gen[b] && want[m.hist.bins + b] == m.hist.imp[b];
    CHECK(bins_ok);
    free(want);
    /* the reported thresholds reproduce the reported rates */
    vb_rates r;
    vb_scores_rates(&sc, METRIC(m, fnmr_at_fmr[VB_FMR_1E3].threshold), &r);
    CHECK(r.fmr == METRIC(m, fnmr_at_fmr[VB_FMR_1E3].fmr) && r.fnmr == METRIC(m, fnmr_at_fmr[VB_FMR_1E3].fnmr));
    CHECK(r.fmr <= 1e-3);
    vb_scores_rates(&sc, METRIC(m, eer_threshold), &r);
    CHECK_NEAR((r.fmr + r.fnmr) / 2, METRIC(m, eer), 1e-15);
    vb_metrics_free(&m);
    free(s);
    free(l);
}

/* ---- the metric table (VB_METRICS) and the row groups ---- */

static void test_metric_table(void)
{
    /* every row names a distinct field and a distinct CSV name, with a unit, a description
     * and at least one group */
    int names_unique = 1, offsets_unique = 1, described = 1;
    for (size_t i = 0; i < vb_metric_row_count; i++) {
        const vb_metric_row *r = &vb_metric_rows[i];
        described &= r->unit[0] && r->description[0] && r->groups != 0;
        for (size_t j = 0; j < i; j++) {
            names_unique &= strcmp(r->name, vb_metric_rows[j].name) != 0;
            offsets_unique &= r->offset != vb_metric_rows[j].offset;
        }
    }
    CHECK(names_unique);
    CHECK(offsets_unique);
    CHECK(described);
    /* names map to the fields the code uses */
    CHECK(vb_metric_find("eer")->offset == offsetof(vb_metrics, eer));
    CHECK(vb_metric_find("fnmr@fmr=1e-3_threshold")->offset ==
          offsetof(vb_metrics, fnmr_at_fmr[VB_FMR_1E3].threshold));
    CHECK(vb_metric_find("fnmr@fmr=0_rule_of_30")->offset == offsetof(vb_metrics, fnmr_at_fmr[VB_FMR_ZERO].rule_of_30));
    CHECK(vb_metric_find("fmr@threshold")->offset == offsetof(vb_metrics, fmr_at_threshold));
    CHECK(vb_metric_find("fnmr@fmr=1e-3_delta_vs_fp32")->offset ==
          offsetof(vb_metrics, fnmr_at_fmr_1e3_delta_vs_fp32));
    CHECK(vb_metric_find("EER") == NULL && vb_metric_find("fnmr@fmr=1e-7") == NULL);
    CHECK(!strcmp(vb_fmr_target_text[VB_FMR_1E6], "1e-6") && !strcmp(vb_fmr_target_text[VB_FMR_ZERO], "0"));
    /* init: nothing present, every field NaN */
    vb_metrics m;
    vb_metrics_init(&m);
    int all_nan = m.have == 0;
    for (size_t i = 0; i < vb_metric_row_count; i++)
        all_nan &= isnan(vb_metric_value(&m, &vb_metric_rows[i])) && !vb_metric_present(&m, &vb_metric_rows[i]);
    CHECK(all_nan);
}

/* The rows vb_metrics_write_csv writes (names only, one per line) into buf. */
static void csv_names(const vb_metrics *m, char *buf, size_t cap)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    vb_err e = {0};
    const char *prefix[] = {"p"};
    CHECK(f && vb_metrics_write_csv(m, f, prefix, 1, &e) == 0);
    fclose(f);
    buf[0] = 0;
    size_t used = 0;
    for (char *line = text, *next; line && *line; line = next) { /* "p,name,value\n" -> name */
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        char *name = strchr(line, ',') + 1, *comma = strchr(name, ',');
        used += (size_t)snprintf(buf + used, cap - used, "%.*s\n", (int)(comma - name), name);
    }
    free(text);
}

static void test_metrics_csv_groups(void)
{
    double gen[] = {3, 4}, imp[] = {1, 2};
    vb_metrics m;
    vb_err e = {0};
    CHECK(compute_sets(gen, 2, imp, 2, 0, &m, &e) == 0);
    CHECK(m.have == VB_MG_CORE);
    static char names[8192];
    csv_names(&m, names, sizeof names);
    CHECK(strstr(names, "genuine\nimpostor\neer\neer_threshold\n") == names);
    CHECK(strstr(names, "min_hter_threshold\n") + strlen("min_hter_threshold\n") == names + strlen(names));
    /* the run's rows: threshold once, then the model-threshold rows, after the engine's */
    m.threshold = 0.6;
    m.fmr_at_threshold = 0.25;
    m.have |= VB_MG_MODEL_THRESHOLD;
    csv_names(&m, names, sizeof names);
    CHECK(strstr(names, "min_hter_threshold\nthreshold\nfmr@threshold\nfnmr@threshold\nfalse_matches@threshold\n"
                        "false_nonmatches@threshold\n") != NULL);
    CHECK(strstr(names, "threshold_fmr") == NULL && strstr(names, "samples") == NULL);
    /* metrics --threshold rows share the threshold row; it is written once */
    m.have = VB_MG_CORE | VB_MG_AT_THRESHOLD | VB_MG_MODEL_THRESHOLD;
    csv_names(&m, names, sizeof names);
    CHECK(strstr(names, "\nthreshold\nthreshold_fmr\nthreshold_fnmr\nthreshold_false_matches\n"
                        "threshold_false_nonmatches\nthreshold_hter\nfmr@threshold\n") != NULL);
    CHECK(strstr(strstr(names, "\nthreshold\n") + 1, "\nthreshold\n") == NULL);
    /* a present NaN is written as nan (d' of constant scores); absent rows are not written */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    m.dprime = NAN;
    m.have = VB_MG_CORE;
    CHECK(vb_metrics_write_csv(&m, f, NULL, 0, &e) == 0);
    fclose(f);
    CHECK(strstr(text, "\ndprime,nan\n") != NULL && strstr(text, "accuracy_10fold") == NULL);
    free(text);
    vb_metrics_free(&m);
    CHECK(m.have == 0 && m.curve.pts == NULL && isnan(m.auc)); /* free leaves an empty set */
}

/* ---- the trial-score type (reports/scores.h) ---- */

static void test_scores_type(void)
{
    vb_scores s;
    vb_err e = {0};
    CHECK(vb_scores_init(&s, 1, 0, &e) == 0);
    CHECK(s.fold == NULL && s.n == 0 && s.is_distance == 1);
    /* distances: +inf is a failure to acquire, counted; -inf is not one */
    double d[] = {0.3, INFINITY, 0.7, INFINITY, 0.5};
    uint8_t l[] = {1, 1, 0, 0, 0};
    for (int i = 0; i < 5; i++)
        CHECK(vb_scores_append(&s, d[i], l[i], 7, &e) == 0);
    CHECK(s.n == 5 && s.fta == 2);
    /* accept d <= 0.6: genuine 0.3 ok, inf missed; impostor 0.5 matches, 0.7 and inf do not */
    vb_rates r;
    vb_scores_rates(&s, 0.6, &r);
    CHECK(r.genuine == 2 && r.impostor == 3 && r.false_matches == 1 && r.false_nonmatches == 1);
    CHECK(r.fmr == 1.0 / 3 && r.fnmr == 0.5 && r.threshold == 0.6);
    /* the largest finite threshold still rejects the FTA impostor */
    vb_scores_rates(&s, DBL_MAX, &r);
    CHECK(r.false_matches == 2 && r.false_nonmatches == 1);
    vb_scores_free(&s);
    CHECK(s.score == NULL && s.n == 0 && s.fta == 0);

    /* similarities with folds, past the first growth: every trial and fold kept */
    CHECK(vb_scores_init(&s, 0, 1, &e) == 0);
    CHECK(s.fold != NULL);
    int kept = 1, appended = 1;
    for (size_t i = 0; i < 10000; i++)
        appended &= vb_scores_append(&s, i % 3 ? (double)i : -INFINITY, (uint8_t)(i & 1), (uint16_t)(i % 11), &e) == 0;
    CHECK(appended);
    for (size_t i = 0; i < 10000; i++)
        kept &= s.fold[i] == i % 11 && s.label[i] == (i & 1) && (i % 3 ? s.score[i] == (double)i : s.score[i] < 0);
    CHECK(kept && s.n == 10000 && s.fta == 3334);
    vb_scores_rates(&s, 5000, &r); /* accept s >= 5000 */
    size_t fm = 0, fnm = 0;
    for (size_t i = 0; i < 10000; i++) {
        int accept = (i % 3 ? (double)i : -INFINITY) >= 5000;
        fm += !(i & 1) && accept;
        fnm += (i & 1) && !accept;
    }
    CHECK(r.false_matches == fm && r.false_nonmatches == fnm);
    vb_scores_free(&s);

    /* vb_scores_alloc: n trials to fill in place, folds only when asked */
    CHECK(vb_scores_alloc(&s, 3, 1, 0, &e) == 0);
    CHECK(s.n == 3 && s.fold == NULL && s.score && s.label && s.is_distance);
    vb_scores_free(&s);
}

int main(void)
{
    RUN(test_probit_known_values);
    RUN(test_probit_roundtrip);
    RUN(test_radix_sort);
    RUN(test_radix_sort_kv_stable);
    RUN(test_bob_known_answers);
    RUN(test_separable);
    RUN(test_overlapping_ties);
    RUN(test_fnmr_at_fmr_ties);
    RUN(test_fvc_tie_of_sums);
    RUN(test_rules_of_3_and_30);
    RUN(test_fta);
    RUN(test_bad_input);
    RUN(test_order_and_format);
    RUN(test_kfold_accuracy);
    RUN(test_brute_force_random);
    RUN(test_rocch_against_hull);
    RUN(test_large_curve_and_hist);
    RUN(test_metric_table);
    RUN(test_metrics_csv_groups);
    RUN(test_scores_type);
    return vb_test_finish();
}
