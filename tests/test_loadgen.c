/* LoadGen's validity rules (reports/loadgen.h): nearest-rank percentiles by hand, the
 * binomial CDF against closed forms, and the early-stopping counts against MLPerf LoadGen
 * itself: the table below was printed by loadgen/early_stopping.cc (mlcommons/inference
 * b66003e) driven as loadgen/results.cc drives it (confidence 0.99, tolerance 0), and
 * LoadGen's MultiStream min_query_count of 662 is the p99 minimum. Then the verdicts: each
 * rule failing alone is named, and a run meeting all of them is VALID. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/loadgen.h"
#include "tests/testlib.h"

static void test_nearest_rank(void)
{
    double v[10];
    for (int i = 0; i < 10; i++)
        v[i] = i + 1; /* 1..10 */
    CHECK(vb_nearest_rank(v, 10, 0.5) == 5);   /* ceil(5) = 5th */
    CHECK(vb_nearest_rank(v, 10, 0.9) == 9);   /* ceil(9) = 9th, not 10th */
    CHECK(vb_nearest_rank(v, 10, 0.99) == 10); /* ceil(9.9) */
    CHECK(vb_nearest_rank(v, 10, 0.91) == 10);
    CHECK(vb_nearest_rank(v, 1, 0.5) == 1);
    CHECK(vb_nearest_rank(v, 3, 0.5) == 2); /* ceil(1.5) */
    CHECK(isnan(vb_nearest_rank(v, 0, 0.5)));
    double w[100];
    for (int i = 0; i < 100; i++)
        w[i] = i + 1;
    CHECK(vb_nearest_rank(w, 100, 0.9) == 90);
    CHECK(vb_nearest_rank(w, 100, 0.99) == 99);
}

static void test_binomial_cdf(void)
{
    CHECK_NEAR(vb_binomial_cdf(0, 10, 0.1), pow(0.9, 10), 1e-15);
    CHECK_NEAR(vb_binomial_cdf(1, 10, 0.1), pow(0.9, 10) + 10 * 0.1 * pow(0.9, 9), 1e-14);
    CHECK_NEAR(vb_binomial_cdf(2, 4, 0.5), 11.0 / 16, 1e-14);
    CHECK(vb_binomial_cdf(10, 10, 0.3) == 1.0);
}

static void test_early_stopping_matches_loadgen(void)
{
    CHECK(vb_early_stopping_min_queries(0.5, 0.99) == 11);
    CHECK(vb_early_stopping_min_queries(0.9, 0.99) == 64);
    CHECK(vb_early_stopping_min_queries(0.99, 0.99) == 662);
    static const struct {
        double p;
        size_t n, t; /* t = 0: LoadGen says early stopping failed */
    } rows[] = {
        {0.5, 64, 22},   {0.5, 100, 37},  {0.5, 500, 223}, {0.5, 662, 300}, {0.5, 1024, 474}, {0.5, 5000, 2417},
        {0.9, 64, 1},    {0.9, 100, 3},   {0.9, 500, 34},  {0.9, 662, 48},  {0.9, 1024, 80},  {0.9, 5000, 450},
        {0.99, 64, 0},   {0.99, 100, 0},  {0.99, 500, 0},  {0.99, 662, 1},  {0.99, 1024, 3},  {0.99, 5000, 33},
        {0.9, 63, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t t = vb_early_stopping_overlatency(rows[i].n, rows[i].p, 0.99);
        CHECKF(t == rows[i].t, "p%g n=%zu: t=%zu, LoadGen %zu", rows[i].p, rows[i].n, t, rows[i].t);
    }
    /* The estimate is the t-th largest latency: with 1024 queries 1..1024 at p90, t = 80. */
    double *v = malloc(1024 * sizeof *v);
    for (int i = 0; i < 1024; i++)
        v[i] = i + 1;
    CHECK(vb_early_stopping_estimate(v, 1024, 0.9, 0.99) == 1024 - 80 + 1);
    CHECK(isnan(vb_early_stopping_estimate(v, 500, 0.99, 0.99)));
    free(v);
}

static void fill(double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (double)((i * 7919) % n) + 1; /* a permutation of 1..n: the judge sorts */
}

static void test_single_stream_verdicts(void)
{
    const vb_ss_rules rules = {1024, 60, 0.9, 0.99};
    double *v = malloc(2000 * sizeof *v);
    vb_ss_verdict s;

    fill(v, 1024);
    vb_single_stream_judge(v, 1024, 61, &rules, &s);
    CHECKF(s.valid && !s.failed[0], "1024 queries, 61 s: %s", s.failed);
    CHECK(s.p50 == 512 && s.p90 == 922 && s.p99 == 1014 && s.min == 1 && s.max == 1024);
    CHECK_NEAR(s.mean, 512.5, 1e-12);
    CHECK(s.es_min_target == 64 && s.es_min_p99 == 662);

    fill(v, 1023);
    vb_single_stream_judge(v, 1023, 61, &rules, &s);
    CHECK(!s.valid && strstr(s.failed, "min_query_count (1023 queries < 1024)") && !strstr(s.failed, "min_duration"));

    fill(v, 1024);
    vb_single_stream_judge(v, 1024, 59.5, &rules, &s);
    CHECK(!s.valid && strstr(s.failed, "min_duration (59.5 s < 60 s)") && !strstr(s.failed, "min_query"));

    /* LoadGen's TestSettings defaults (100 queries, 10 s) pass p90 but not the p99 rule. */
    const vb_ss_rules small = {100, 10, 0.9, 0.99};
    fill(v, 100);
    vb_single_stream_judge(v, 100, 11, &small, &s);
    CHECK(!s.valid && strstr(s.failed, "early_stopping p99 (100 queries < 662") && !strstr(s.failed, "p90"));
    CHECK(!isnan(s.es_target) && isnan(s.es_p99));

    fill(v, 50);
    vb_single_stream_judge(v, 50, 11, &small, &s);
    CHECK(!s.valid && strstr(s.failed, "min_query_count") && strstr(s.failed, "early_stopping p90 (50 queries < 64"));

    vb_single_stream_judge(v, 0, 0, &rules, &s);
    CHECK(!s.valid && isnan(s.p50));
    free(v);
}

static void test_offline_verdicts(void)
{
    vb_offline_verdict o;
    vb_offline_judge(2048, 61, 1024, 60, &o);
    CHECK(o.valid && !o.failed[0]);
    vb_offline_judge(1000, 61, 1024, 60, &o);
    CHECK(!o.valid && strstr(o.failed, "min_sample_count (1000 samples < 1024)"));
    vb_offline_judge(2048, 5, 1024, 60, &o);
    CHECK(!o.valid && strstr(o.failed, "min_duration (5.0 s < 60 s)") && !strstr(o.failed, "sample"));
}

int main(void)
{
    RUN(test_nearest_rank);
    RUN(test_binomial_cdf);
    RUN(test_early_stopping_matches_loadgen);
    RUN(test_single_stream_verdicts);
    RUN(test_offline_verdicts);
    return vb_test_finish();
}
