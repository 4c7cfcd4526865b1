/* LoadGen's validity rules (reports/loadgen.h). */
#include "reports/loadgen.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double vb_nearest_rank(const double *sorted, size_t n, double p)
{
    if (!n)
        return NAN;
    /* ceil(p * n) without letting 0.9 * 100 = 90.00000000000001 round up to 91 */
    double r = ceil(p * (double)n - 1e-9);
    size_t k = r < 1 ? 1 : r > (double)n ? n : (size_t)r;
    return sorted[k - 1];
}

static double log_pmf(size_t k, size_t n, double q)
{
    double lc = lgamma((double)n + 1) - lgamma((double)k + 1) - lgamma((double)(n - k) + 1);
    return lc + (double)k * log(q) + (double)(n - k) * log1p(-q);
}

double vb_binomial_cdf(size_t t, size_t n, double q)
{
    if (t >= n || q <= 0)
        return 1.0;
    if (q >= 1)
        return 0.0;
    double sum = 0;
    for (size_t k = 0; k <= t; k++)
        sum += exp(log_pmf(k, n, q));
    return sum > 1 ? 1 : sum;
}

size_t vb_early_stopping_overlatency(size_t n, double p, double confidence)
{
    const double q = 1 - p, limit = 1 - confidence;
    if (n < 2 || q <= 0)
        return 0;
    /* The CDF grows with t: walk it up, one term at a time, while it stays under the limit. */
    double cdf = 0;
    size_t t = 0;
    for (size_t k = 0; k < n; k++) {
        cdf += exp(log_pmf(k, n, q));
        if (cdf > limit)
            break;
        t = k;
    }
    return t; /* LoadGen needs t >= 1; t = 0 reads as "failed" */
}

size_t vb_early_stopping_min_queries(double p, double confidence)
{
    const double q = 1 - p, limit = 1 - confidence;
    for (size_t n = 2; n < 100000000; n++)
        if (vb_binomial_cdf(1, n, q) <= limit)
            return n;
    return 0;
}

double vb_early_stopping_estimate(const double *sorted, size_t n, double p, double confidence)
{
    size_t t = vb_early_stopping_overlatency(n, p, confidence);
    return t ? sorted[n - t] : NAN;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Appends "; rule (detail)" to a verdict's list of failed rules. */
static void add_failure(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void add_failure(char *buf, size_t size, const char *fmt, ...)
{
    size_t len = strlen(buf);
    if (len && len + 2 < size)
        len += (size_t)snprintf(buf + len, size - len, "; ");
    va_list ap;
    va_start(ap, fmt);
    if (len < size)
        vsnprintf(buf + len, size - len, fmt, ap);
    va_end(ap);
}

void vb_single_stream_judge(double *latency, size_t n, double duration_s, const vb_ss_rules *r,
                            vb_ss_verdict *v)
{
    memset(v, 0, sizeof *v);
    qsort(latency, n, sizeof *latency, cmp_double);
    v->n = n;
    v->duration_s = duration_s;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += latency[i];
    v->mean = n ? sum / (double)n : NAN;
    v->min = n ? latency[0] : NAN;
    v->max = n ? latency[n - 1] : NAN;
    v->p50 = vb_nearest_rank(latency, n, 0.50);
    v->p90 = vb_nearest_rank(latency, n, 0.90);
    v->p99 = vb_nearest_rank(latency, n, 0.99);
    v->es_target = vb_early_stopping_estimate(latency, n, r->target_percentile, r->confidence);
    v->es_p99 = vb_early_stopping_estimate(latency, n, 0.99, r->confidence);
    v->es_min_target = vb_early_stopping_min_queries(r->target_percentile, r->confidence);
    v->es_min_p99 = vb_early_stopping_min_queries(0.99, r->confidence);
    if (n < r->min_queries)
        add_failure(v->failed, sizeof v->failed, "min_query_count (%zu queries < %zu)", n, r->min_queries);
    if (!(duration_s >= r->min_duration_s))
        add_failure(v->failed, sizeof v->failed, "min_duration (%.1f s < %g s)", duration_s, r->min_duration_s);
    if (isnan(v->es_target))
        add_failure(v->failed, sizeof v->failed, "early_stopping p%g (%zu queries < %zu at %g%% confidence)",
                    100 * r->target_percentile, n, v->es_min_target, 100 * r->confidence);
    if (isnan(v->es_p99))
        add_failure(v->failed, sizeof v->failed, "early_stopping p99 (%zu queries < %zu at %g%% confidence)", n,
                    v->es_min_p99, 100 * r->confidence);
    v->valid = v->failed[0] == 0;
}

void vb_offline_judge(size_t samples, double duration_s, size_t min_samples, double min_duration_s,
                      vb_offline_verdict *v)
{
    memset(v, 0, sizeof *v);
    if (samples < min_samples)
        add_failure(v->failed, sizeof v->failed, "min_sample_count (%zu samples < %zu)", samples, min_samples);
    if (!(duration_s >= min_duration_s))
        add_failure(v->failed, sizeof v->failed, "min_duration (%.1f s < %g s)", duration_s, min_duration_s);
    v->valid = v->failed[0] == 0;
}
