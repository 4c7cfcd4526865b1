/* The validity rules of a latency benchmark, after MLPerf LoadGen (github.com/mlcommons/
 * inference, loadgen/results.cc and early_stopping.cc), for `veribench bench-latency`.
 *
 * Single-stream (one query at a time, the next issued when the previous completes). A run
 * is VALID when every rule holds, otherwise INVALID naming each rule that failed:
 *   min_query_count   queries >= min_queries (LoadGen's TestSettings default is 100, the
 *                     MLPerf submission rule for single-stream 1024; veribench: 1024);
 *   min_duration      the time from the first query's issue to the last query's issue >=
 *                     min_duration_s (LoadGen: final_query_issued_time; MLPerf submission
 *                     600 s, TestSettings default 10 s);
 *   early_stopping    LoadGen's early-stopping test at 99% confidence and tolerance 0 for
 *                     the target percentile (90th) AND for the 99th: with n queries, let t be
 *                     the largest number of "over-latency" queries such that
 *                     P(Binomial(n, 1 - p) <= t) <= 1 - confidence; it must be t >= 1, i.e.
 *                     n >= the minimum from vb_early_stopping_min_queries (64 for p90, 662
 *                     for p99 — LoadGen's MultiStream min_query_count is this 662). The
 *                     estimate is then the t-th largest latency: a conservative bound on the
 *                     percentile at that confidence. (LoadGen checks the target percentile
 *                     for validity and prints the 99th as information; veribench quotes p99
 *                     in its verdict, so it must hold too.)
 * Offline (all samples in one query): VALID when samples >= min_samples and the query's
 * duration >= min_duration_s (LoadGen: max_latency >= min_duration).
 *
 * Percentiles are nearest-rank: the ceil(p * n)-th smallest value (1-based). LoadGen indexes
 * sorted[floor(n * p)] (0-based), one rank higher when n * p is a whole number; veribench
 * keeps the textbook definition (also `veribench bench`'s). */
#ifndef VB_LOADGEN_H
#define VB_LOADGEN_H

#include <stddef.h>

/* Nearest-rank percentile of sorted[0..n) (ascending), p in (0, 1]; NaN when n is 0. */
double vb_nearest_rank(const double *sorted, size_t n, double p);

/* P(X <= t) for X ~ Binomial(n, q), summed in log space (exact to double rounding for the
 * n of a benchmark, up to millions). */
double vb_binomial_cdf(size_t t, size_t n, double q);

/* The largest t (0 when none, i.e. early stopping fails) with P(Binomial(n, 1 - p) <= t) <=
 * 1 - confidence: how many of the slowest queries LoadGen's early stopping may treat as
 * over-latency at percentile p. */
size_t vb_early_stopping_overlatency(size_t n, double p, double confidence);

/* The fewest queries for which early stopping succeeds at percentile p (t >= 1). */
size_t vb_early_stopping_min_queries(double p, double confidence);

/* The early-stopping estimate of percentile p: the t-th largest of sorted[0..n); NaN when
 * t is 0 (too few queries). */
double vb_early_stopping_estimate(const double *sorted, size_t n, double p, double confidence);

typedef struct vb_ss_rules {
    size_t min_queries;
    double min_duration_s;
    double target_percentile; /* 0.90 */
    double confidence;        /* 0.99 */
} vb_ss_rules;

typedef struct vb_ss_verdict {
    int valid;
    size_t n;
    double duration_s;
    double p50, p90, p99, mean, min, max;          /* ms (the caller's unit) */
    double es_target, es_p99;                       /* early-stopping estimates, NaN if failed */
    size_t es_min_target, es_min_p99;               /* queries early stopping needs */
    char failed[512]; /* "" when valid, else "rule (measured vs needed); rule ..." */
} vb_ss_verdict;

/* Judges n latencies (any order; the array is sorted in place) issued over duration_s. */
void vb_single_stream_judge(double *latency, size_t n, double duration_s, const vb_ss_rules *r,
                            vb_ss_verdict *v);

typedef struct vb_offline_verdict {
    int valid;
    char failed[256];
} vb_offline_verdict;

void vb_offline_judge(size_t samples, double duration_s, size_t min_samples, double min_duration_s,
                      vb_offline_verdict *v);

#endif
