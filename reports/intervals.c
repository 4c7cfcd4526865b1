/* Confidence intervals, subject bootstrap and calibration: see intervals.h. */
#include "reports/intervals.h"

#include "reports/radix_sort.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

__extension__ typedef unsigned __int128 u128;

/* ------------------------------------------------------------------------------------ */
/* Binomial intervals                                                                    */

static int bad_args(uint64_t k, uint64_t n, double level)
{
    return n == 0 || k > n || !(level > 0 && level < 1);
}

vb_interval vb_wilson(uint64_t k, uint64_t n, double level)
{
    if (bad_args(k, n, level))
        return (vb_interval){NAN, NAN};
    double z = vb_probit(1 - (1 - level) / 2), z2 = z * z, nn = (double)n, p = (double)k / nn;
    double denom = 1 + z2 / nn;
    double center = (p + z2 / (2 * nn)) / denom;
    double half = z / denom * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
    vb_interval r = {center - half, center + half};
    /* the formula gives exactly 0 / 1 at the edges; rounding must not move them */
    r.low = k == 0 ? 0 : fmax(r.low, 0);
    r.high = k == n ? 1 : fmin(r.high, 1);
    return r;
}

/* Modified Lentz continued fraction for I_x(a, b) (Numerical Recipes' betacf), converging
 * fast for x < (a + 1) / (a + b + 2). */
static double beta_cf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny)
        d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 1000000; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        d = fabs(d) < tiny ? tiny : d;
        c = 1 + aa / c;
        c = fabs(c) < tiny ? tiny : c;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        d = fabs(d) < tiny ? tiny : d;
        c = 1 + aa / c;
        c = fabs(c) < tiny ? tiny : c;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-16)
            break;
    }
    return h;
}

double vb_incomplete_beta(double a, double b, double x)
{
    if (isnan(x) || !(a > 0) || !(b > 0))
        return NAN;
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double log_front = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    double front = exp(log_front);
    if (x < (a + 1) / (a + b + 2))
        return front * beta_cf(a, b, x) / a;
    return 1 - front * beta_cf(b, a, 1 - x) / b;
}

/* x in (0, 1) with I_x(a, b) = p, by bisection to adjacent doubles: I_x rises with x. */
static double beta_quantile(double p, double a, double b)
{
    double lo = 0, hi = 1;
    for (int i = 0; i < 2200; i++) {
        double mid = lo + (hi - lo) / 2;
        if (mid <= lo || mid >= hi)
            break;
        if (vb_incomplete_beta(a, b, mid) < p)
            lo = mid;
        else
            hi = mid;
    }
    return lo + (hi - lo) / 2;
}

vb_interval vb_clopper_pearson(uint64_t k, uint64_t n, double level)
{
    if (bad_args(k, n, level))
        return (vb_interval){NAN, NAN};
    double half_alpha = (1 - level) / 2, kk = (double)k, nn = (double)n;
    vb_interval r;
    /* edges in closed form: Beta(1, n) and Beta(n, 1) quantiles */
    r.low = k == 0 ? 0 : k == n ? pow(half_alpha, 1 / nn) : beta_quantile(half_alpha, kk, nn - kk + 1);
    r.high = k == n ? 1 : k == 0 ? -expm1(log(half_alpha) / nn) : beta_quantile(1 - half_alpha, kk + 1, nn - kk);
    return r;
}

static void set_ci(vb_rate_ci *out, double k, double n, double level)
{
    uint64_t kk = isnan(k) ? 1 : (uint64_t)k, nn = isnan(n) ? 0 : (uint64_t)n;
    vb_interval cp = vb_clopper_pearson(kk, nn, level), w = vb_wilson(kk, nn, level);
    *out = (vb_rate_ci){cp.low, cp.high, w.low, w.high};
}

void vb_metrics_add_intervals(vb_metrics *m, double level)
{
    m->confidence = level;
    if (m->have & VB_MG_CORE) {
        for (int j = 0; j < VB_FMR_TARGETS; j++) {
            set_ci(&m->fnmr_at_fmr_ci[j], m->fnmr_at_fmr[j].false_nonmatches, m->genuine, level);
            set_ci(&m->fmr_at_fmr_ci[j], m->fnmr_at_fmr[j].false_matches, m->impostor, level);
        }
        m->have |= VB_MG_CI;
    }
    if (m->have & VB_MG_AT_THRESHOLD) {
        set_ci(&m->threshold_fmr_ci, m->threshold_false_matches, m->impostor, level);
        set_ci(&m->threshold_fnmr_ci, m->threshold_false_nonmatches, m->genuine, level);
        m->have |= VB_MG_CI_AT_THRESHOLD;
    }
    if (m->have & VB_MG_MODEL_THRESHOLD) {
        set_ci(&m->fmr_at_threshold_ci, m->false_matches_at_threshold, m->impostor, level);
        set_ci(&m->fnmr_at_threshold_ci, m->false_nonmatches_at_threshold, m->genuine, level);
        m->have |= VB_MG_CI_MODEL_THRESHOLD;
    }
}

/* ------------------------------------------------------------------------------------ */
/* Subject bootstrap                                                                     */

/* Statistics per replicate: FNMR and FMR at each fnmr@fmr target, then at the model
 * threshold, then at the calibrated threshold over the evaluation split. */
enum { N_TARGETS = VB_FMR_TARGETS, STAT_MODEL_FMR = 2 * N_TARGETS, STAT_MODEL_FNMR, STAT_CAL_FMR, STAT_CAL_FNMR,
       N_STATS };
static const uint64_t target_inverse[N_TARGETS] = {10, 100, 1000, 10000, 100000, 1000000, 0}; /* 1/X; 0: X = 0 */

/* The trials sorted by decreasing similarity, with their dense subjects. */
typedef struct boot_trial {
    double sim;
    uint32_t a, b;       /* dense subject indices */
    uint8_t genuine;
    uint8_t model_error; /* a false match or false non-match at the model threshold */
    uint8_t group_end;   /* last trial of its group of tied similarities */
    uint8_t cal_eval;    /* in the calibration's evaluation split */
    uint8_t cal_error;   /* ... and an error at the calibrated threshold */
} boot_trial;

typedef struct boot_data {
    boot_trial *t;
    size_t n;
    uint32_t n_subjects;
    int have_model, have_cal;
    unsigned replicates;
    uint64_t seed;
    double *stats; /* [N_STATS][replicates] */
} boot_data;

static int by_similarity_desc(const void *x, const void *y)
{
    double a = ((const boot_trial *)x)->sim, b = ((const boot_trial *)y)->sim;
    return (a < b) - (a > b);
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Draw counts of one replicate: n draws of n subjects with replacement. Each replicate's
 * stream starts at a hash of (seed, r): starting at seed + (r+1) * the splitmix increment
 * would make replicate r+1 the stream of replicate r shifted by one draw, nearly the same
 * resample, and an interval far too narrow. */
static void draw_subjects(uint64_t seed, unsigned r, uint32_t n, uint32_t *count)
{
    uint64_t x = seed ^ ((uint64_t)(r + 1) * 0xd1b54a32d192ed03ull);
    uint64_t s = splitmix64(&x);
    s ^= (uint64_t)r << 32 | r; /* distinct starts even if two hashes collided */
    memset(count, 0, n * sizeof *count);
    for (uint32_t i = 0; i < n; i++)
        count[(uint64_t)(((u128)splitmix64(&s) * n) >> 64)]++;
}

static uint64_t weight_of(const boot_trial *t, const uint32_t *count)
{
    return t->genuine ? count[t->a] : (uint64_t)count[t->a] * count[t->b];
}

/* One replicate: totals and model-threshold errors in one pass, then the targets walking
 * down from the strictest threshold until FMR exceeds the loosest target. */
static void one_replicate(const boot_data *d, unsigned r, uint32_t *count)
{
    draw_subjects(d->seed, r, d->n_subjects, count);
    uint64_t wg = 0, wi = 0, fm = 0, fnm = 0, cwg = 0, cwi = 0, cfm = 0, cfnm = 0;
    for (size_t i = 0; i < d->n; i++) {
        const boot_trial *t = &d->t[i];
        uint64_t w = weight_of(t, count), cw = t->cal_eval ? w : 0;
        if (t->genuine) {
            wg += w;
            fnm += t->model_error ? w : 0;
            cwg += cw;
            cfnm += t->cal_error ? cw : 0;
        } else {
            wi += w;
            fm += t->model_error ? w : 0;
            cwi += cw;
            cfm += t->cal_error ? cw : 0;
        }
    }
    double *st = d->stats;
    size_t R = d->replicates;
    if (!wg || !wi) {
        for (int k = 0; k < N_STATS; k++)
            st[k * R + r] = NAN;
        return;
    }
    st[STAT_MODEL_FMR * R + r] = d->have_model ? (double)fm / (double)wi : NAN;
    st[STAT_MODEL_FNMR * R + r] = d->have_model ? (double)fnm / (double)wg : NAN;
    st[STAT_CAL_FMR * R + r] = d->have_cal && cwi ? (double)cfm / (double)cwi : NAN;
    st[STAT_CAL_FNMR * R + r] = d->have_cal && cwg ? (double)cfnm / (double)cwg : NAN;
    uint64_t fa = 0, ga = 0, best_fa[N_TARGETS] = {0}, best_ga[N_TARGETS] = {0};
    int open = N_TARGETS; /* targets whose FMR limit is not exceeded yet */
    int done[N_TARGETS] = {0};
    for (size_t i = 0; i < d->n && open; i++) {
        uint64_t w = weight_of(&d->t[i], count);
        if (d->t[i].genuine)
            ga += w;
        else
            fa += w;
        if (!d->t[i].group_end)
            continue; /* tied scores move together */
        for (int j = 0; j < N_TARGETS; j++) {
            if (done[j])
                continue;
            int ok = target_inverse[j] ? (u128)fa * target_inverse[j] <= wi : fa == 0;
            if (ok) {
                best_fa[j] = fa;
                best_ga[j] = ga;
            } else {
                done[j] = 1;
                open--;
            }
        }
    }
    for (int j = 0; j < N_TARGETS; j++) {
        st[(2 * j) * R + r] = (double)(wg - best_ga[j]) / (double)wg;
        st[(2 * j + 1) * R + r] = (double)best_fa[j] / (double)wi;
    }
}

typedef struct boot_job {
    const boot_data *d;
    unsigned begin, end;
    int failed;
} boot_job;

static void *boot_work(void *arg)
{
    boot_job *j = arg;
    uint32_t *count = malloc(j->d->n_subjects * sizeof *count);
    if (!count) {
        j->failed = 1;
        return NULL;
    }
    for (unsigned r = j->begin; r < j->end; r++)
        one_replicate(j->d, r, count);
    free(count);
    return NULL;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Percentile interval (nearest rank) over the defined values of v[0..n); sorts v. */
static vb_boot_ci percentile_interval(double *v, size_t n, double level)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i]))
            v[m++] = v[i];
    if (!m)
        return (vb_boot_ci){NAN, NAN};
    qsort(v, m, sizeof *v, cmp_double);
    double half_alpha = (1 - level) / 2;
    size_t lo = (size_t)ceil(half_alpha * (double)m), hi = (size_t)ceil((1 - half_alpha) * (double)m);
    lo = lo ? lo - 1 : 0;
    hi = hi ? hi - 1 : 0;
    return (vb_boot_ci){v[lo], v[hi < m ? hi : m - 1]};
}

/* Trial i is an error (false match or false non-match) at a fixed threshold, 0 when it is NaN. */
static int error_at(const vb_scores *s, double threshold, size_t i)
{
    if (isnan(threshold))
        return 0;
    int accepted = s->is_distance ? s->score[i] <= threshold : s->score[i] >= threshold;
    return s->label[i] ? !accepted : accepted;
}

/* Trial i counts at the calibrated operating point: in the evaluation split. */
static int in_cal_eval(const vb_boot_input *in, size_t i)
{
    return in->have_calibrated && (!in->calibrated_eval || in->calibrated_eval[i]);
}

/* Dense subject ids of the trials; returns the number of distinct subjects or -1. */
static int64_t build_trials(const vb_boot_input *in, boot_trial *t, vb_err *e)
{
    const vb_scores *s = in->scores;
    uint32_t max = 0;
    for (size_t i = 0; i < s->n; i++) {
        max = in->subject_a[i] > max ? in->subject_a[i] : max;
        max = in->subject_b[i] > max ? in->subject_b[i] : max;
    }
    int64_t *dense = vb_malloc(((size_t)max + 1) * sizeof *dense, e);
    if (!dense)
        return -1;
    for (size_t k = 0; k <= max; k++)
        dense[k] = -1;
    int64_t n_subjects = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->label[i] > 1 || isnan(s->score[i])) {
            free(dense);
            return vb_fail(e, VB_EXIT_INPUT, "trial %zu: bad label or NaN score", i);
        }
        uint32_t ab[2] = {in->subject_a[i], in->subject_b[i]};
        for (int k = 0; k < 2; k++)
            if (dense[ab[k]] < 0)
                dense[ab[k]] = n_subjects++;
        double sim = s->is_distance ? -s->score[i] : s->score[i];
        int cal = in_cal_eval(in, i);
        t[i] = (boot_trial){sim + 0.0, (uint32_t)dense[ab[0]], (uint32_t)dense[ab[1]], s->label[i],
                            (uint8_t)error_at(s, in->model_threshold, i), 0, (uint8_t)cal,
                            (uint8_t)(cal && error_at(s, in->calibrated_threshold, i))};
    }
    free(dense);
    return n_subjects;
}

static void run_replicates(const boot_data *d, int threads, int *failed)
{
    enum { MAX_THREADS = 64 };
    boot_job jobs[MAX_THREADS];
    int n = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    if ((unsigned)n > d->replicates)
        n = (int)d->replicates;
    for (int k = 0; k < n; k++)
        jobs[k] = (boot_job){d, (unsigned)((uint64_t)d->replicates * k / n),
                             (unsigned)((uint64_t)d->replicates * (k + 1) / n), 0};
    vb_parallel_run(jobs, sizeof jobs[0], n, boot_work);
    for (int k = 0; k < n; k++)
        *failed |= jobs[k].failed;
}

/* The rows from the per-replicate statistics stats[N_STATS][R] (sorts them). */
static void set_boot_rows(vb_metrics *m, double *stats, size_t R, uint64_t seed, uint32_t n_subjects,
                          int have_model, int have_cal, double level)
{
    for (int j = 0; j < N_TARGETS; j++) {
        m->fnmr_at_fmr_boot[j] = percentile_interval(stats + (2 * j) * R, R, level);
        m->fmr_at_fmr_boot[j] = percentile_interval(stats + (2 * j + 1) * R, R, level);
    }
    m->bootstrap_replicates = (double)R;
    m->bootstrap_seed = (double)seed;
    m->bootstrap_subjects = (double)n_subjects;
    m->confidence = level;
    m->have |= VB_MG_BOOT;
    if (have_model) {
        m->fmr_at_threshold_boot = percentile_interval(stats + STAT_MODEL_FMR * R, R, level);
        m->fnmr_at_threshold_boot = percentile_interval(stats + STAT_MODEL_FNMR * R, R, level);
        m->have |= VB_MG_BOOT_MODEL_THRESHOLD;
    }
    if (have_cal) {
        m->calibrated_fmr_boot = percentile_interval(stats + STAT_CAL_FMR * R, R, level);
        m->calibrated_fnmr_boot = percentile_interval(stats + STAT_CAL_FNMR * R, R, level);
        m->have |= VB_MG_BOOT_CALIBRATION;
    }
}

static int bootstrap_aggregated(const vb_boot_input *in, const vb_boot_config *cfg, vb_metrics *m, vb_err *e);

const char *vb_boot_method_name(vb_boot_method method)
{
    return method == VB_BOOT_PER_TRIAL ? "per-trial" : "aggregated";
}

int vb_bootstrap_metrics(const vb_boot_input *in, const vb_boot_config *cfg, vb_metrics *m, const char **why,
                         vb_err *e)
{
    *why = NULL;
    const vb_scores *s = in->scores;
    if (!cfg->replicates)
        return 0;
    if (cfg->method != VB_BOOT_PER_TRIAL)
        return bootstrap_aggregated(in, cfg, m, e) ? -1 : 1;
    if ((double)s->n * cfg->replicates > VB_BOOT_MAX_WORK) {
        *why = "trials x replicates is over the per-trial bootstrap's limit of 5e8 (see reports/intervals.h)";
        return 0;
    }
    boot_data d = {.n = s->n, .have_model = !isnan(in->model_threshold), .have_cal = in->have_calibrated,
                   .replicates = cfg->replicates, .seed = cfg->seed};
    d.t = vb_malloc((s->n ? s->n : 1) * sizeof *d.t, e);
    int64_t subjects = d.t ? build_trials(in, d.t, e) : -1;
    if (subjects < 0) {
        free(d.t);
        return -1;
    }
    d.n_subjects = (uint32_t)subjects;
    qsort(d.t, d.n, sizeof *d.t, by_similarity_desc);
    for (size_t i = 0; i < d.n; i++)
        d.t[i].group_end = i + 1 == d.n || d.t[i + 1].sim != d.t[i].sim;
    d.stats = vb_malloc((size_t)N_STATS * cfg->replicates * sizeof *d.stats, e);
    if (!d.stats) {
        free(d.t);
        return -1;
    }
    int failed = 0;
    if (d.n_subjects)
        run_replicates(&d, cfg->threads, &failed);
    if (!failed)
        set_boot_rows(m, d.stats, d.replicates, d.seed, d.n_subjects, d.have_model, d.have_cal, cfg->level);
    free(d.stats);
    free(d.t);
    return failed ? vb_fail(e, VB_EXIT_IO, "out of memory in the bootstrap") : 1;
}

/* ------------------------------------------------------------------------------------ */
/* Subject bootstrap, aggregated method (the default): same replicates, same numbers as  */
/* the per-trial method above, without a pass over every trial per replicate.            */

/* Replicates computed side by side: one pass over the aggregates or the tail serves LANES
 * replicates, and the per-lane loops have a fixed trip count the compiler vectorizes. */
enum { LANES = 16 };
#define TAIL_FLAG 0x80000000u    /* a: last trial of its tie group; b: genuine */
#define TAIL_SUBJECT 0x7fffffffu /* the dense subject index */
#define TAIL_SAMPLE (1u << 20)   /* impostor similarities sampled to place the tail's cutoff */
#define TAIL_DEFAULT_FRACTION 0.15
#define BUFFER_DEFAULT ((size_t)1 << 20) /* tail trials sorted in memory at a time; walk window */

/* Impostor trial counts per unordered subject pair (lo <= hi), row lo: entries
 * row[lo] .. row[lo+1]-1 hold (col = hi, count). */
typedef struct pair_counts {
    size_t *row;
    uint32_t *col, *count;
} pair_counts;

/* The tail: trials with similarity >= a cutoff, by decreasing similarity, tie groups whole. */
typedef struct tail_trial {
    uint32_t a, b; /* TAIL_SUBJECT bits + TAIL_FLAG */
} tail_trial;

/* The counts of one fixed operating point: per subject its genuine trials and their false
 * non-matches, per subject pair its impostor trials and their false matches. */
typedef struct point_counts {
    double *gen_total, *gen_errors;
    pair_counts imp_total, imp_errors;
} point_counts;

typedef struct boot_agg {
    uint32_t n_subjects;
    size_t n_impostor;
    point_counts model; /* every trial; errors at the model threshold */
    point_counts cal;   /* the evaluation split; errors at the calibrated threshold */
    tail_trial *tail; /* in memory, or NULL: */
    int tail_fd;      /* ... in this unlinked file (tail_trial records), read a window at a time */
    size_t window;    /* trials per window */
    size_t n_tail;
    int tail_is_all; /* the tail holds every trial: a walk that reaches its end is complete */
    int have_model, have_cal;
    unsigned replicates;
    uint64_t seed;
    double *stats; /* [N_STATS][replicates] */
} boot_agg;

/* Large scratch (hundreds of MB for lfw-all): asked for as transparent huge pages, so that
 * first touching it is not a page fault per 4 KiB (a fifth of the time otherwise). Freed
 * with free(). */
static void *big_alloc(size_t bytes, vb_err *e)
{
    enum { HUGE = 2 << 20 };
    if (bytes < HUGE)
        return vb_malloc(bytes ? bytes : 1, e);
    size_t rounded = (bytes + HUGE - 1) / HUGE * HUGE;
    void *p = aligned_alloc(HUGE, rounded);
    if (!p) {
        vb_fail(e, VB_EXIT_IO, "out of memory (%zu bytes)", rounded);
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    madvise(p, rounded, MADV_HUGEPAGE); /* advice only: without it, ordinary pages */
#endif
    return p;
}

static void free_pairs(pair_counts *p)
{
    free(p->row);
    free(p->col);
    free(p->count);
    *p = (pair_counts){0};
}

static void free_point(point_counts *p)
{
    free(p->gen_total);
    free(p->gen_errors);
    free_pairs(&p->imp_total);
    free_pairs(&p->imp_errors);
}

/* The tail only (it is built again, wider, when too short). */
static void free_tail(boot_agg *g)
{
    free(g->tail);
    g->tail = NULL;
    if (g->tail_fd >= 0)
        close(g->tail_fd);
    g->tail_fd = -1;
    g->n_tail = 0;
}

static void free_agg(boot_agg *g)
{
    free_point(&g->model);
    free_point(&g->cal);
    free_tail(g);
    free(g->stats);
}

/* Trial i of a chunk is an error at the fixed threshold t (NaN: never). */
static double similarity(const vb_scores *s, size_t i)
{
    return (s->is_distance ? -s->score[i] : s->score[i]) + 0.0; /* -0 and +0 tie */
}

static int alloc_pairs(pair_counts *p, uint32_t n_subjects, size_t entries, vb_err *e)
{
    p->row = vb_malloc(((size_t)n_subjects + 1) * sizeof *p->row, e);
    p->col = p->row ? big_alloc(entries * sizeof *p->col, e) : NULL;
    p->count = p->col ? big_alloc(entries * sizeof *p->count, e) : NULL;
    if (!p->count)
        return -1;
    memset(p->row, 0, ((size_t)n_subjects + 1) * sizeof *p->row);
    return 0;
}

/* Row ends filled only where a row has entries: carry them forward into offsets. */
static void finish_rows(pair_counts *p, uint32_t n_subjects)
{
    for (size_t r = 1; r <= n_subjects; r++)
        p->row[r] = p->row[r] > p->row[r - 1] ? p->row[r] : p->row[r - 1];
}

/* Rows of the dense triangle of all pairs (lo <= hi), row-major: row lo has n - lo cells. */
static size_t triangle_row(uint32_t lo, uint32_t n)
{
    return (size_t)lo * n - (size_t)lo * ((size_t)lo - 1) / 2;
}

/* ---- pass 1: subjects, genuine counts, the impostor sample ---- */

/* What the first pass over the stream finds. Subjects are numbered densely in order of
 * first appearance (trial order, a before b): the per-trial method's numbering, so a
 * replicate's draw picks the same subjects in both. */
typedef struct pass1 {
    uint32_t *map;        /* original subject -> dense index, UINT32_MAX: not seen */
    size_t map_n, gen_cap;
    uint64_t trials, n_cal_impostor;
    double *sample;       /* impostor similarities, every stride-th impostor trial */
    size_t n_sample;
    uint64_t stride, seen;
} pass1;

static void pass1_free(pass1 *p)
{
    free(p->map);
    free(p->sample);
}

static int dense_subject(pass1 *p, boot_agg *g, uint32_t orig, uint32_t *out, vb_err *e)
{
    if (orig >= p->map_n) {
        size_t n = (size_t)orig + 1 > 2 * p->map_n ? (size_t)orig + 1 : 2 * p->map_n;
        uint32_t *m = realloc(p->map, n * sizeof *m);
        if (!m)
            return vb_fail(e, VB_EXIT_IO, "out of memory in the bootstrap");
        memset(m + p->map_n, 0xff, (n - p->map_n) * sizeof *m);
        p->map = m, p->map_n = n;
    }
    if (p->map[orig] == UINT32_MAX) {
        if (g->n_subjects >= TAIL_SUBJECT)
            return vb_fail(e, VB_EXIT_INPUT, "the bootstrap takes at most %u subjects", TAIL_SUBJECT);
        p->map[orig] = g->n_subjects++;
    }
    *out = p->map[orig];
    return 0;
}

/* The per-subject genuine counts (model and calibrated point) grown to n subjects. */
static int grow_gen(pass1 *p, boot_agg *g, size_t n, vb_err *e)
{
    if (n <= p->gen_cap)
        return 0;
    size_t cap = n > 2 * p->gen_cap ? n : 2 * p->gen_cap;
    double **v[4] = {&g->model.gen_total, &g->model.gen_errors, &g->cal.gen_total, &g->cal.gen_errors};
    for (int k = 0; k < 4; k++) {
        double *q = realloc(*v[k], (cap + 1) * sizeof *q);
        if (!q)
            return vb_fail(e, VB_EXIT_IO, "out of memory in the bootstrap");
        memset(q + p->gen_cap, 0, (cap + 1 - p->gen_cap) * sizeof *q);
        *v[k] = q;
    }
    p->gen_cap = cap;
    return 0;
}

/* Every stride-th impostor similarity; a full sample keeps every other one, stride doubled. */
static void sample_impostor(pass1 *p, double sim)
{
    if (p->seen++ % p->stride)
        return;
    if (p->n_sample == 2 * TAIL_SAMPLE) {
        for (size_t k = 0; k < TAIL_SAMPLE; k++)
            p->sample[k] = p->sample[2 * k];
        p->n_sample = TAIL_SAMPLE;
        p->stride *= 2;
        if ((p->seen - 1) % p->stride)
            return;
    }
    p->sample[p->n_sample++] = sim;
}

static int in_eval(const vb_boot_source *src, const vb_boot_chunk *c, size_t i)
{
    return src->have_calibrated && (!c->calibrated_eval || c->calibrated_eval[i]);
}

static int pass1_chunk(const vb_boot_source *src, const vb_boot_chunk *c, pass1 *p, boot_agg *g, vb_err *e)
{
    const vb_scores *s = c->scores;
    for (size_t i = 0; i < s->n; i++) {
        if (s->label[i] > 1 || isnan(s->score[i]))
            return vb_fail(e, VB_EXIT_INPUT, "trial %llu: bad label or NaN score", (unsigned long long)(p->trials + i));
        uint32_t a, b;
        if (dense_subject(p, g, c->subject_a[i], &a, e) || dense_subject(p, g, c->subject_b[i], &b, e) ||
            grow_gen(p, g, g->n_subjects, e))
            return -1;
        int cal = in_eval(src, c, i);
        if (s->label[i]) {
            g->model.gen_total[a] += 1;
            g->model.gen_errors[a] += error_at(s, src->model_threshold, i);
            g->cal.gen_total[a] += cal;
            g->cal.gen_errors[a] += cal && error_at(s, src->calibrated_threshold, i);
        } else {
            g->n_impostor++;
            p->n_cal_impostor += cal;
            sample_impostor(p, similarity(s, i));
        }
    }
    p->trials += s->n;
    return 0;
}

/* ---- pass 2: impostor counts per subject pair ---- */

/* The impostor trials and errors of one fixed point per unordered subject pair: a dense
 * triangle when it is no larger than twice the impostor trials (LFW all-vs-all: 16.5M pairs
 * for 87M trials), else sorted keys (lo << 32 | hi << 1 | error) buffered, their runs
 * counted and merged into the counts so far as the buffer fills (many subjects with few
 * trials each, where the triangle would be mostly empty). */
typedef struct pair_acc {
    uint32_t n;                  /* subjects */
    int dense;
    uint32_t *tot, *err;         /* dense: the triangle */
    uint64_t *keys, *tmp;        /* sparse: the buffer (cap) and the sort's scratch */
    size_t n_keys, cap;
    uint64_t *pair;              /* sparse: counts so far, ascending pair (lo << 31 | hi) */
    uint32_t *ptot, *perr;
    size_t n_pairs;
} pair_acc;

static void pair_acc_free(pair_acc *a)
{
    free(a->tot);
    free(a->err);
    free(a->keys);
    free(a->tmp);
    free(a->pair);
    free(a->ptot);
    free(a->perr);
    memset(a, 0, sizeof *a);
}

static int pair_acc_init(pair_acc *a, uint32_t n_subjects, uint64_t n_imp, size_t cap, vb_err *e)
{
    memset(a, 0, sizeof *a);
    a->n = n_subjects;
    size_t cells = (size_t)n_subjects * (n_subjects + 1) / 2;
    a->dense = cells <= 2 * n_imp;
    if (a->dense) {
        a->tot = big_alloc(cells * sizeof *a->tot, e);
        a->err = a->tot ? big_alloc(cells * sizeof *a->err, e) : NULL;
        if (!a->err)
            return -1;
        memset(a->tot, 0, cells * sizeof *a->tot);
        memset(a->err, 0, cells * sizeof *a->err);
        return 0;
    }
    a->cap = cap;
    a->keys = vb_malloc(cap * sizeof *a->keys, e);
    a->tmp = a->keys ? vb_malloc(cap * sizeof *a->tmp, e) : NULL;
    return a->tmp ? 0 : -1;
}

/* The buffered keys sorted, counted per pair and merged with the counts so far. */
static int pair_acc_flush(pair_acc *a, vb_err *e)
{
    if (!a->n_keys)
        return 0;
    const uint64_t *k = vb_sort_keys(a->keys, a->tmp, a->n_keys);
    size_t distinct = 0;
    for (size_t i = 0; i < a->n_keys; i++)
        distinct += i == 0 || k[i] >> 1 != k[i - 1] >> 1;
    size_t cap = a->n_pairs + distinct;
    uint64_t *pair = vb_malloc(cap * sizeof *pair, e);
    uint32_t *tot = pair ? vb_malloc(cap * sizeof *tot, e) : NULL, *err = tot ? vb_malloc(cap * sizeof *err, e) : NULL;
    if (!err) {
        free(pair);
        free(tot);
        return -1;
    }
    size_t n = 0, o = 0;
    for (size_t i = 0; i < a->n_keys;) {
        uint64_t p = k[i] >> 1;
        uint32_t t = 0, x = 0;
        for (; i < a->n_keys && k[i] >> 1 == p; i++)
            t++, x += (uint32_t)(k[i] & 1);
        for (; o < a->n_pairs && a->pair[o] < p; o++, n++)
            pair[n] = a->pair[o], tot[n] = a->ptot[o], err[n] = a->perr[o];
        if (o < a->n_pairs && a->pair[o] == p)
            t += a->ptot[o], x += a->perr[o], o++;
        pair[n] = p, tot[n] = t, err[n++] = x;
    }
    for (; o < a->n_pairs; o++, n++)
        pair[n] = a->pair[o], tot[n] = a->ptot[o], err[n] = a->perr[o];
    free(a->pair);
    free(a->ptot);
    free(a->perr);
    a->pair = pair, a->ptot = tot, a->perr = err, a->n_pairs = n, a->n_keys = 0;
    return 0;
}

static int pair_acc_add(pair_acc *a, uint32_t x, uint32_t y, int error, vb_err *e)
{
    uint32_t lo = x < y ? x : y, hi = x < y ? y : x;
    if (a->dense) {
        size_t cell = triangle_row(lo, a->n) + (hi - lo);
        a->tot[cell]++;
        a->err[cell] += (uint32_t)error;
        return 0;
    }
    if (a->n_keys == a->cap && pair_acc_flush(a, e))
        return -1;
    a->keys[a->n_keys++] = (uint64_t)lo << 32 | (uint64_t)hi << 1 | (uint64_t)error;
    return 0;
}

/* The counts as the replicates read them (pair_counts: rows by lo, entries (hi, count)). */
static int pair_acc_finish(pair_acc *a, point_counts *pc, vb_err *e)
{
    if (!a->dense && pair_acc_flush(a, e))
        return -1;
    uint32_t n = a->n;
    size_t n_tot = 0, n_err = 0, cells = (size_t)n * (n + 1) / 2;
    for (size_t c = 0; a->dense && c < cells; c++)
        n_tot += a->tot[c] > 0, n_err += a->err[c] > 0;
    for (size_t k = 0; !a->dense && k < a->n_pairs; k++)
        n_tot++, n_err += a->perr[k] > 0;
    if (alloc_pairs(&pc->imp_total, n, n_tot, e) || alloc_pairs(&pc->imp_errors, n, n_err, e))
        return -1;
    pair_counts *T = &pc->imp_total, *E = &pc->imp_errors;
    n_tot = n_err = 0;
    for (uint32_t lo = 0; a->dense && lo < n; lo++) {
        size_t row = triangle_row(lo, n);
        for (uint32_t hi = lo; hi < n; hi++) {
            size_t c = row + (hi - lo);
            if (a->tot[c])
                T->col[n_tot] = hi, T->count[n_tot++] = a->tot[c];
            if (a->err[c])
                E->col[n_err] = hi, E->count[n_err++] = a->err[c];
        }
        T->row[lo + 1] = n_tot;
        E->row[lo + 1] = n_err;
    }
    for (size_t k = 0; !a->dense && k < a->n_pairs; k++) {
        uint32_t lo = (uint32_t)(a->pair[k] >> 31), hi = (uint32_t)(a->pair[k] & TAIL_SUBJECT);
        T->col[n_tot] = hi, T->count[n_tot++] = a->ptot[k], T->row[lo + 1] = n_tot;
        if (a->perr[k])
            E->col[n_err] = hi, E->count[n_err++] = a->perr[k], E->row[lo + 1] = n_err;
    }
    if (!a->dense) {
        finish_rows(T, n);
        finish_rows(E, n);
    }
    pair_acc_free(a);
    return 0;
}

/* ---- pass 2: the tail ---- */

/* The similarity above which (about) `fraction` of the impostor trials lie, from the
 * first pass's sample; -inf (every trial) when fraction >= 1. */
static double tail_cutoff(const pass1 *p, const double *sorted_sample, double fraction)
{
    size_t n = p->n_sample;
    if (fraction >= 1 || !n)
        return -INFINITY;
    size_t above = (size_t)(fraction * (double)n);
    return sorted_sample[n - 1 - (above < n - 1 ? above : n - 1)];
}

/* Puts run[0..n) (keys sharing their top 32 bits, the buffer index below) in the order of
 * the full keys: rewritten to (low 32 bits of the full key, index) and sorted again. */
static void order_run(uint64_t *run, uint64_t *scratch, size_t n, const uint64_t *full)
{
    for (size_t k = 0; k < n; k++) {
        uint32_t local = (uint32_t)run[k];
        run[k] = full[local] << 32 | local;
    }
    if (n <= 32) {
        for (size_t k = 1; k < n; k++)
            for (size_t j = k; j > 0 && run[j - 1] > run[j]; j--) {
                uint64_t t = run[j];
                run[j] = run[j - 1];
                run[j - 1] = t;
            }
        return;
    }
    const uint64_t *sorted = vb_sort_keys(run, scratch, n);
    if (sorted != run)
        memcpy(run, sorted, n * sizeof *run);
}

/* A spilled tail trial: its descending-order key and the trial. */
typedef struct spill_rec {
    uint64_t key;
    tail_trial t;
} spill_rec;

/* The tail trials are buffered (cap of them), each full buffer sorted by key (ascending key
 * = decreasing similarity) and spilled as one run; the runs are heap-merged at the end. */
typedef struct tail_build {
    size_t cap, n;
    uint64_t *full, *key;        /* key: 2 * cap, the sort's keys and scratch */
    tail_trial *rec;
    spill_rec *out;              /* the sorted buffer */
    int spill_fd;                /* -1: nothing spilled */
    size_t n_runs, runs_cap;
    uint64_t *run_len, total;
    const char *tmp_dir;
} tail_build;

static void tail_build_free(tail_build *t)
{
    free(t->full);
    free(t->key);
    free(t->rec);
    free(t->out);
    free(t->run_len);
    if (t->spill_fd >= 0)
        close(t->spill_fd);
    t->full = t->key = t->run_len = NULL, t->rec = NULL, t->out = NULL, t->spill_fd = -1;
}

static int tail_build_init(tail_build *t, size_t cap, const char *tmp_dir, vb_err *e)
{
    memset(t, 0, sizeof *t);
    t->spill_fd = -1;
    t->cap = cap;
    t->tmp_dir = tmp_dir;
    t->full = vb_malloc(cap * sizeof *t->full, e);
    t->key = t->full ? vb_malloc(2 * cap * sizeof *t->key, e) : NULL;
    t->rec = t->key ? vb_malloc(cap * sizeof *t->rec, e) : NULL;
    t->out = t->rec ? vb_malloc(cap * sizeof *t->out, e) : NULL;
    return t->out ? 0 : -1;
}

/* The buffer sorted into t->out: an MSD radix sort (two threads) of 64-bit keys holding the
 * top 32 bits of the full key and the buffer index, then each run that shares those bits in
 * full order (runs are short: 2^-20 of the similarity's relative range). */
static void sort_buffer(tail_build *t)
{
    size_t n = t->n;
    for (size_t k = 0; k < n; k++)
        t->key[k] = (t->full[k] & 0xffffffff00000000ull) | k;
    uint64_t *sorted = vb_sort_keys(t->key, t->key + n, n), *scratch = sorted == t->key ? t->key + n : t->key;
    for (size_t k = 0; k < n;) {
        size_t end = k + 1;
        while (end < n && sorted[end] >> 32 == sorted[k] >> 32)
            end++;
        if (end - k > 1)
            order_run(sorted + k, scratch + k, end - k, t->full);
        for (size_t p = k; p < end; p++) {
            uint32_t i = (uint32_t)sorted[p];
            t->out[p] = (spill_rec){t->full[i], t->rec[i]};
        }
        k = end;
    }
}

/* An unlinked temporary file in dir (it goes away with the process however it ends). */
static int temp_file(const char *dir, vb_err *e)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/veribench-tail-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0)
        return vb_fail(e, VB_EXIT_IO, "%s: cannot create a temporary file for the bootstrap's tail: %s", dir,
                       strerror(errno));
    unlink(path);
    return fd;
}

static int write_all(int fd, const void *p, size_t n, const char *dir, vb_err *e)
{
    for (const char *c = p; n;) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return vb_fail(e, VB_EXIT_IO, "%s: writing the bootstrap's tail: %s", dir, strerror(w < 0 ? errno : ENOSPC));
        c += w, n -= (size_t)w;
    }
    return 0;
}

static int read_at(int fd, void *p, size_t n, uint64_t off, vb_err *e)
{
    for (char *c = p; n;) {
        ssize_t r = pread(fd, c, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return vb_fail(e, VB_EXIT_IO, "reading the bootstrap's tail back: %s", r < 0 ? strerror(errno) : "short file");
        c += r, n -= (size_t)r, off += (uint64_t)r;
    }
    return 0;
}

static int spill_buffer(tail_build *t, vb_err *e)
{
    if (t->spill_fd < 0 && (t->spill_fd = temp_file(t->tmp_dir, e)) < 0)
        return -1;
    if (t->n_runs == t->runs_cap) {
        size_t cap = t->runs_cap ? 2 * t->runs_cap : 16;
        uint64_t *r = realloc(t->run_len, cap * sizeof *r);
        if (!r)
            return vb_fail(e, VB_EXIT_IO, "out of memory in the bootstrap");
        t->run_len = r, t->runs_cap = cap;
    }
    sort_buffer(t);
    if (write_all(t->spill_fd, t->out, t->n * sizeof *t->out, t->tmp_dir, e))
        return -1;
    t->run_len[t->n_runs++] = t->n;
    t->n = 0;
    return 0;
}

static int tail_add(tail_build *t, double sim, uint32_t a, uint32_t b, int genuine, vb_err *e)
{
    if (t->n == t->cap && spill_buffer(t, e))
        return -1;
    t->full[t->n] = ~vb_double_to_key(sim); /* ascending keys = decreasing similarity */
    t->rec[t->n++] = (tail_trial){a, b | (genuine ? TAIL_FLAG : 0)};
    t->total++;
    return 0;
}

/* The tail of a single buffer: in memory, each trial flagged at the end of its tie group. */
static int tail_in_memory(tail_build *t, boot_agg *g, vb_err *e)
{
    sort_buffer(t);
    g->tail = big_alloc(t->n * sizeof *g->tail, e);
    if (!g->tail)
        return -1;
    for (size_t p = 0; p < t->n; p++) {
        g->tail[p] = t->out[p].t;
        g->tail[p].a |= p + 1 == t->n || t->out[p + 1].key != t->out[p].key ? TAIL_FLAG : 0;
    }
    g->n_tail = t->n;
    return 0;
}

/* One spilled run being merged: a buffer of its records read ahead. */
typedef struct run_cursor {
    uint64_t off, left;  /* the next record's file offset; records not yet read */
    spill_rec *buf;
    size_t n, pos;
} run_cursor;

enum { MERGE_READ = 4096 }; /* records read ahead per run */

static int cursor_fill(int fd, run_cursor *c, vb_err *e)
{
    c->n = c->left < MERGE_READ ? (size_t)c->left : MERGE_READ;
    c->pos = 0;
    if (c->n && read_at(fd, c->buf, c->n * sizeof *c->buf, c->off, e))
        return -1;
    c->off += c->n * sizeof *c->buf, c->left -= c->n;
    return 0;
}

/* heap[0..n) of run indexes ordered by their current key */
static void heap_down(uint32_t *heap, size_t n, size_t i, const run_cursor *c)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && c[heap[l]].buf[c[heap[l]].pos].key < c[heap[m]].buf[c[heap[m]].pos].key)
            m = l;
        if (l + 1 < n && c[heap[l + 1]].buf[c[heap[l + 1]].pos].key < c[heap[m]].buf[c[heap[m]].pos].key)
            m = l + 1;
        if (m == i)
            return;
        uint32_t x = heap[i];
        heap[i] = heap[m], heap[m] = x, i = m;
    }
}

/* The spilled runs heap-merged into one file of tail trials (g->tail_fd), each flagged at
 * the end of its tie group. */
static int merge_runs(tail_build *t, boot_agg *g, vb_err *e)
{
    size_t R = t->n_runs;
    run_cursor *c = vb_calloc(R, sizeof *c, e);
    uint32_t *heap = c ? vb_malloc(R * sizeof *heap, e) : NULL;
    tail_trial *out = heap ? vb_malloc(MERGE_READ * sizeof *out, e) : NULL;
    int rc = !out || (g->tail_fd = temp_file(t->tmp_dir, e)) < 0 ? -1 : 0;
    uint64_t off = 0;
    size_t n_heap = 0, n_out = 0;
    for (size_t r = 0; !rc && r < R; off += t->run_len[r++] * sizeof(spill_rec)) {
        c[r] = (run_cursor){off, t->run_len[r], vb_malloc(MERGE_READ * sizeof(spill_rec), e), 0, 0};
        rc = !c[r].buf || cursor_fill(t->spill_fd, &c[r], e);
        if (!rc && c[r].n)
            heap[n_heap++] = (uint32_t)r;
    }
    for (size_t i = n_heap; !rc && i-- > 0;)
        heap_down(heap, n_heap, i, c);
    int have_prev = 0;
    spill_rec prev = {0, {0, 0}};
    while (!rc && n_heap) {
        run_cursor *top = &c[heap[0]];
        spill_rec cur = top->buf[top->pos++];
        if (top->pos == top->n && (rc = cursor_fill(t->spill_fd, top, e)))
            break;
        if (!top->n)
            heap[0] = heap[--n_heap];
        heap_down(heap, n_heap, 0, c);
        if (have_prev) {
            prev.t.a |= prev.key != cur.key ? TAIL_FLAG : 0;
            out[n_out++] = prev.t;
            if (n_out == MERGE_READ)
                rc = write_all(g->tail_fd, out, n_out * sizeof *out, t->tmp_dir, e), n_out = 0;
        }
        prev = cur, have_prev = 1;
    }
    if (!rc && have_prev) {
        prev.t.a |= TAIL_FLAG;
        out[n_out++] = prev.t;
    }
    rc = rc || write_all(g->tail_fd, out, n_out * sizeof *out, t->tmp_dir, e);
    g->n_tail = t->total;
    for (size_t r = 0; c && r < R; r++)
        free(c[r].buf);
    free(c);
    free(heap);
    free(out);
    return rc ? -1 : 0;
}

static int tail_finish(tail_build *t, boot_agg *g, vb_err *e)
{
    if (!t->n_runs)
        return tail_in_memory(t, g, e);
    if (t->n && spill_buffer(t, e))
        return -1;
    free(t->full), free(t->key), free(t->rec), free(t->out);
    t->full = t->key = NULL, t->rec = NULL, t->out = NULL;
    return merge_runs(t, g, e);
}

/* ---- the passes ---- */

static int pass1_run(const vb_boot_source *src, pass1 *p, boot_agg *g, vb_err *e)
{
    p->stride = 1;
    p->sample = vb_malloc(2 * TAIL_SAMPLE * sizeof *p->sample, e);
    if (!p->sample || grow_gen(p, g, 1, e))
        return -1;
    vb_boot_chunk c;
    int got;
    for (int restart = 1; (got = src->next(src->ctx, restart, &c, e)) == 1; restart = 0)
        if (pass1_chunk(src, &c, p, g, e))
            return -1;
    return got < 0 ? -1 : vb_sort_doubles(p->sample, p->n_sample, e);
}

/* The tail (trials with similarity >= cutoff) and, when counts is set, the impostor counts
 * per subject pair of the model point and the calibrated one. */
static int pass2_run(const vb_boot_source *src, const pass1 *p, double cutoff, pair_acc *counts, tail_build *tb,
                     vb_err *e)
{
    vb_boot_chunk c;
    int got;
    for (int restart = 1; (got = src->next(src->ctx, restart, &c, e)) == 1; restart = 0) {
        const vb_scores *s = c.scores;
        for (size_t i = 0; i < s->n; i++) {
            uint32_t a = p->map[c.subject_a[i]], b = p->map[c.subject_b[i]];
            int cal = in_eval(src, &c, i);
            if (counts && !s->label[i] &&
                (pair_acc_add(&counts[0], a, b, error_at(s, src->model_threshold, i), e) ||
                 (cal && pair_acc_add(&counts[1], a, b, error_at(s, src->calibrated_threshold, i), e))))
                return -1;
            double sim = similarity(s, i);
            if (sim >= cutoff && tail_add(tb, sim, a, b, s->label[i], e))
                return -1;
        }
    }
    return got < 0 ? -1 : 0;
}

static int collect(const vb_boot_source *src, const vb_boot_config *cfg, const pass1 *p, double fraction,
                   int with_counts, boot_agg *g, vb_err *e)
{
    size_t cap = cfg->buffer_trials ? cfg->buffer_trials : BUFFER_DEFAULT;
    const char *tmp = cfg->tmp_dir ? cfg->tmp_dir : getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    double cutoff = tail_cutoff(p, p->sample, fraction);
    g->tail_is_all = cutoff == -INFINITY;
    pair_acc counts[2];
    memset(counts, 0, sizeof counts);
    tail_build tb;
    int rc = tail_build_init(&tb, cap, tmp, e);
    if (!rc && with_counts)
        rc = pair_acc_init(&counts[0], g->n_subjects, g->n_impostor, cap, e) ||
             (g->have_cal && pair_acc_init(&counts[1], g->n_subjects, p->n_cal_impostor, cap, e));
    rc = rc || pass2_run(src, p, cutoff, with_counts ? counts : NULL, &tb, e) || tail_finish(&tb, g, e);
    if (!rc && with_counts)
        rc = pair_acc_finish(&counts[0], &g->model, e) || (g->have_cal && pair_acc_finish(&counts[1], &g->cal, e));
    pair_acc_free(&counts[0]);
    pair_acc_free(&counts[1]);
    tail_build_free(&tb);
    return rc ? -1 : 0;
}

/* One value per lane, as a GCC/Clang vector: the per-lane arithmetic compiles to SIMD
 * instructions whatever the target (C loops over 16 lanes stayed scalar at -O2). */
typedef double lane_v __attribute__((vector_size(LANES * sizeof(double))));
/* ... and the hot loops in an AVX-512 and an AVX2 build as well as the baseline one, the
 * loader picking what the CPU has (the rest of veribench is built for baseline x86-64). */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define LANE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef LANE_CLONES
#define LANE_CLONES
#endif
typedef int64_t lane_mask __attribute__((vector_size(LANES * sizeof(int64_t))));

/* *out = sum over subjects s of w[s] * per_subject[s]. (Vectors go by pointer: passing
 * them by value between the clones below would change the ABI.) */
LANE_CLONES static void linear_sum(const double *per_subject, uint32_t n_subjects, const lane_v *w, lane_v *out)
{
    lane_v sum = {0};
    for (uint32_t s = 0; s < n_subjects; s++)
        if (per_subject[s])
            sum += w[s] * per_subject[s];
    *out = sum;
}

/* *out = sum over pairs (a, b) of w[a] * w[b] * count(a, b). Integers below 2^53
 * throughout, so the double sums are exact and equal the per-trial method's. */
LANE_CLONES static void pair_sum(const pair_counts *p, uint32_t n_subjects, const lane_v *w, lane_v *out)
{
    lane_v sum = {0};
    for (uint32_t a = 0; a < n_subjects; a++) {
        if (p->row[a] == p->row[a + 1])
            continue;
        lane_v acc = {0};
        for (size_t k = p->row[a]; k < p->row[a + 1]; k++)
            acc += w[p->col[k]] * (double)p->count[k];
        sum += w[a] * acc;
    }
    *out = sum;
}

/* The fnmr@fmr walk of one block of lanes down the tail; targets in order of strictness
 * (X = 0 first), so each lane closes them in order. lim[l][k]: the largest weighted false
 * match count with FMR <= X (fa * 1/X <= wi  <=>  fa <= floor(wi / (1/X)) for integers). */
typedef struct lane_walk {
    double lim[LANES][N_TARGETS];
    double best_fa[LANES][N_TARGETS], best_ga[LANES][N_TARGETS];
    int next[LANES];
} lane_walk;

/* Closes the targets of lane l that fa has passed, at the previous operating point; returns
 * the lane's next limit (+inf when all are closed) and counts the lanes done in *open. */
static double close_targets(lane_walk *s, int l, double fa, double prev_fa, double prev_ga, int *open)
{
    for (; s->next[l] < N_TARGETS && fa > s->lim[l][s->next[l]]; s->next[l]++) {
        s->best_fa[l][s->next[l]] = prev_fa; /* the last operating point within X */
        s->best_ga[l][s->next[l]] = prev_ga;
        *open -= s->next[l] == N_TARGETS - 1;
    }
    return s->next[l] < N_TARGETS ? s->lim[l][s->next[l]] : INFINITY;
}

/* Tail trials [from, to) (to - from >= 1, `to` right after a group end) trial by trial with
 * the operating-point checks at every group end; fa, ga hold the counts at `from`, which
 * follows a group end (or is the start), and come back as the counts at `to`. */
static void walk_exactly(const tail_trial *tail, const lane_v *w, size_t from, size_t to, lane_v *fa, lane_v *ga,
                         lane_v *cur, lane_walk *s, int *open)
{
    lane_v prev_fa = *fa, prev_ga = *ga;
    for (size_t i = from; i < to; i++) {
        tail_trial t = tail[i];
        if (t.b & TAIL_FLAG)
            *ga += w[t.a & TAIL_SUBJECT];
        else
            *fa += w[t.a & TAIL_SUBJECT] * w[t.b & TAIL_SUBJECT];
        if (!(t.a & TAIL_FLAG))
            continue; /* tied scores move together */
        for (int l = 0; l < LANES; l++)
            if ((*fa)[l] > (*cur)[l])
                (*cur)[l] = close_targets(s, l, (*fa)[l], prev_fa[l], prev_ga[l], open);
        prev_fa = *fa;
        prev_ga = *ga;
    }
}

static int any_over(const lane_v *fa, const lane_v *cur)
{
    lane_mask over = *fa > *cur;
    int64_t any = 0;
    for (int l = 0; l < LANES; l++)
        any |= over[l];
    return any != 0;
}

/* The tail a window at a time, each window ending at a group end: the whole array when it
 * is in memory, else read from the tail file into buf (grown when one tie group is longer
 * than the window). */
typedef struct tail_window {
    tail_trial *buf;
    size_t cap;
    uint64_t pos; /* the next window's first trial */
    int failed;
} tail_window;

static const tail_trial *next_window(const boot_agg *g, tail_window *tw, size_t *n)
{
    if (tw->pos >= g->n_tail)
        return NULL;
    if (g->tail) {
        *n = g->n_tail;
        tw->pos = g->n_tail;
        return g->tail;
    }
    vb_err e = {0};
    for (size_t want = g->window;; want *= 2) {
        if (want > tw->cap) {
            tail_trial *b = realloc(tw->buf, want * sizeof *b);
            if (!b)
                break;
            tw->buf = b, tw->cap = want;
        }
        size_t got = g->n_tail - tw->pos < want ? (size_t)(g->n_tail - tw->pos) : want;
        if (read_at(g->tail_fd, tw->buf, got * sizeof *tw->buf, tw->pos * sizeof *tw->buf, &e))
            break;
        size_t end = got;
        while (end > 0 && !(tw->buf[end - 1].a & TAIL_FLAG))
            end--;
        if (end) { /* the tail's last trial ends a group: a window is never empty at the end */
            *n = end;
            tw->pos += end;
            return tw->buf;
        }
    }
    tw->failed = 1;
    return NULL;
}

/* The walk goes in batches of at least BATCH trials ending at a group end (and at every
 * window's end): counts only, then one check; a batch in which some lane passed a limit
 * (rare: 7 targets per lane) is walked again from its start with the check at every group
 * end (walk_exactly), which is what the result comes from. Counts only grow, so no lane
 * passed a limit within a batch that ends below them all: any such partition gives the same
 * result. Returns 1 when a lane reached the end of a partial tail with a target still open,
 * -1 when the tail could not be read. */
enum { BATCH = 64 };
LANE_CLONES static int walk_tail(const boot_agg *g, tail_window *tw, const lane_v *w, const lane_v *wi,
                                 const unsigned live[LANES], lane_walk *s)
{
    int open = 0;
    lane_v cur;
    for (int l = 0; l < LANES; l++) {
        s->next[l] = live[l] ? 0 : N_TARGETS;
        open += live[l] != 0;
        for (int k = 0; k < N_TARGETS; k++) {
            uint64_t inverse = target_inverse[N_TARGETS - 1 - k];
            s->lim[l][k] = inverse ? (double)((uint64_t)(*wi)[l] / inverse) : 0;
            s->best_fa[l][k] = s->best_ga[l][k] = 0;
        }
        cur[l] = live[l] ? s->lim[l][0] : INFINITY;
    }
    lane_v fa = {0}, ga = {0};
    const tail_trial *tail;
    size_t n;
    tw->pos = 0;
    while (open && (tail = next_window(g, tw, &n))) {
        lane_v start_fa = fa, start_ga = ga;
        size_t start = 0;
        for (size_t i = 0; i < n && open; i++) {
            tail_trial t = tail[i];
            if (t.b & TAIL_FLAG)
                ga += w[t.a & TAIL_SUBJECT];
            else
                fa += w[t.a & TAIL_SUBJECT] * w[t.b & TAIL_SUBJECT];
            if (!(t.a & TAIL_FLAG) || (i + 1 - start < BATCH && i + 1 < n))
                continue;
            if (any_over(&fa, &cur)) {
                fa = start_fa, ga = start_ga;
                walk_exactly(tail, w, start, i + 1, &fa, &ga, &cur, s, &open);
            }
            start = i + 1, start_fa = fa, start_ga = ga;
        }
    }
    if (tw->failed)
        return -1;
    if (open && !g->tail_is_all)
        return 1;
    for (int l = 0; l < LANES; l++) /* the whole set within X: its last operating point */
        for (; s->next[l] < N_TARGETS; s->next[l]++) {
            s->best_fa[l][s->next[l]] = fa[l];
            s->best_ga[l][s->next[l]] = ga[l];
        }
    return 0;
}

/* Replicates r0 .. r0+n-1 (n <= LANES); w and count are scratch of n_subjects lane
 * vectors and n_subjects counts. Returns 1 when the tail was too short, -1 when it could not
 * be read. */
static int run_block(const boot_agg *g, unsigned r0, unsigned n, lane_v *w, uint32_t *count, lane_walk *walk,
                     tail_window *tw)
{
    memset(w, 0, (size_t)g->n_subjects * sizeof *w);
    for (unsigned l = 0; l < n; l++) {
        draw_subjects(g->seed, r0 + l, g->n_subjects, count);
        for (uint32_t s = 0; s < g->n_subjects; s++)
            w[s][l] = count[s];
    }
    lane_v wg, wi, fnm = {0}, fm = {0}, cwg = {0}, cwi = {0}, cfnm = {0}, cfm = {0};
    linear_sum(g->model.gen_total, g->n_subjects, w, &wg);
    pair_sum(&g->model.imp_total, g->n_subjects, w, &wi);
    if (g->have_model) {
        linear_sum(g->model.gen_errors, g->n_subjects, w, &fnm);
        pair_sum(&g->model.imp_errors, g->n_subjects, w, &fm);
    }
    if (g->have_cal) {
        linear_sum(g->cal.gen_total, g->n_subjects, w, &cwg);
        linear_sum(g->cal.gen_errors, g->n_subjects, w, &cfnm);
        pair_sum(&g->cal.imp_total, g->n_subjects, w, &cwi);
        pair_sum(&g->cal.imp_errors, g->n_subjects, w, &cfm);
    }
    unsigned live[LANES];
    for (unsigned l = 0; l < LANES; l++)
        live[l] = l < n && wg[l] > 0 && wi[l] > 0; /* else the rates are undefined */
    int walked = walk_tail(g, tw, w, &wi, live, walk);
    if (walked)
        return walked;
    double *st = g->stats;
    size_t R = g->replicates;
    for (unsigned l = 0; l < n; l++) {
        size_t r = r0 + l;
        if (!live[l]) {
            for (int k = 0; k < N_STATS; k++)
                st[k * R + r] = NAN;
            continue;
        }
        st[STAT_MODEL_FMR * R + r] = g->have_model ? fm[l] / wi[l] : NAN;
        st[STAT_MODEL_FNMR * R + r] = g->have_model ? fnm[l] / wg[l] : NAN;
        st[STAT_CAL_FMR * R + r] = g->have_cal && cwi[l] > 0 ? cfm[l] / cwi[l] : NAN;
        st[STAT_CAL_FNMR * R + r] = g->have_cal && cwg[l] > 0 ? cfnm[l] / cwg[l] : NAN;
        for (int j = 0; j < N_TARGETS; j++) {
            int k = N_TARGETS - 1 - j;
            st[(2 * j) * R + r] = (wg[l] - walk->best_ga[l][k]) / wg[l];
            st[(2 * j + 1) * R + r] = walk->best_fa[l][k] / wi[l];
        }
    }
    return 0;
}

typedef struct agg_job {
    const boot_agg *g;
    unsigned char *block_done; /* shared; each block belongs to one job */
    unsigned first_block, end_block;
    int failed, tail_short;
} agg_job;

static void *agg_work(void *arg)
{
    agg_job *j = arg;
    const boot_agg *g = j->g;
    lane_v *w = aligned_alloc(sizeof(lane_v), ((size_t)g->n_subjects + 1) * sizeof *w);
    uint32_t *count = malloc((size_t)g->n_subjects * sizeof *count);
    lane_walk *walk = malloc(sizeof *walk);
    tail_window tw = {0};
    if (!w || !count || !walk)
        j->failed = 1;
    for (unsigned b = j->first_block; !j->failed && b < j->end_block; b++) {
        unsigned r0 = b * LANES, n = g->replicates - r0 < LANES ? g->replicates - r0 : LANES;
        if (j->block_done[b])
            continue;
        int rc = run_block(g, r0, n, w, count, walk, &tw);
        if (rc < 0)
            j->failed = 1;
        else if (rc)
            j->tail_short = 1;
        else
            j->block_done[b] = 1;
    }
    free(tw.buf);
    free(w);
    free(count);
    free(walk);
    return NULL;
}

/* The blocks not done yet, on `threads` threads; 1 when the tail was too short for some. */
static int run_blocks(const boot_agg *g, unsigned char *block_done, int threads, int *failed)
{
    enum { MAX_THREADS = 64 };
    agg_job jobs[MAX_THREADS];
    unsigned blocks = (g->replicates + LANES - 1) / LANES;
    int n = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    if ((unsigned)n > blocks)
        n = (int)blocks;
    for (int k = 0; k < n; k++)
        jobs[k] = (agg_job){g, block_done, (unsigned)((uint64_t)blocks * k / n),
                            (unsigned)((uint64_t)blocks * (k + 1) / n), 0, 0};
    vb_parallel_run(jobs, sizeof jobs[0], n, agg_work);
    int short_tail = 0;
    for (int k = 0; k < n; k++) {
        *failed |= jobs[k].failed;
        short_tail |= jobs[k].tail_short;
    }
    return short_tail;
}

int vb_bootstrap_stream(const vb_boot_source *src, const vb_boot_config *cfg, vb_metrics *m, vb_err *e)
{
    boot_agg g = {.have_model = !isnan(src->model_threshold), .have_cal = src->have_calibrated,
                  .replicates = cfg->replicates, .seed = cfg->seed, .tail_fd = -1,
                  .window = cfg->buffer_trials ? cfg->buffer_trials : BUFFER_DEFAULT};
    pass1 p = {0};
    unsigned blocks = (cfg->replicates + LANES - 1) / LANES;
    int rc = -1, failed = 0;
    unsigned char *block_done = NULL;
    if (!cfg->replicates)
        return 0;
    g.stats = vb_malloc((size_t)N_STATS * cfg->replicates * sizeof *g.stats, e);
    block_done = g.stats ? vb_calloc(blocks, 1, e) : NULL;
    if (!block_done || pass1_run(src, &p, &g, e))
        goto out;
    /* The walk needs the tail down to the loosest target's crossing in every replicate; a
     * block with a replicate that runs past the tail's end is run again on a tail twice as
     * wide (at last every trial). */
    double fraction = cfg->tail_fraction > 0 ? cfg->tail_fraction : TAIL_DEFAULT_FRACTION;
    for (int first = 1;; first = 0) {
        if (collect(src, cfg, &p, fraction, first, &g, e))
            goto out;
        int done = !g.n_subjects || !run_blocks(&g, block_done, cfg->threads, &failed) || failed;
        if (done)
            break;
        free_tail(&g);
        fraction = fraction * 2 >= 1 ? 1 : fraction * 2;
    }
    if (failed) {
        vb_fail(e, VB_EXIT_IO, "out of memory or a read error in the bootstrap");
        goto out;
    }
    if (g.n_subjects)
        set_boot_rows(m, g.stats, g.replicates, g.seed, g.n_subjects, g.have_model, g.have_cal, cfg->level);
    rc = 0;
out:
    pass1_free(&p);
    free(block_done);
    free_agg(&g);
    return rc;
}

/* vb_boot_input's arrays as a stream of one chunk. */
static int input_next(void *ctx, int restart, vb_boot_chunk *chunk, vb_err *e)
{
    (void)e;
    const vb_boot_input *in = ctx;
    if (!restart)
        return 0;
    *chunk = (vb_boot_chunk){in->scores, in->subject_a, in->subject_b, in->calibrated_eval};
    return 1;
}

static int bootstrap_aggregated(const vb_boot_input *in, const vb_boot_config *cfg, vb_metrics *m, vb_err *e)
{
    vb_boot_source src = {input_next, (void *)in, in->model_threshold, in->have_calibrated, in->calibrated_threshold};
    return vb_bootstrap_stream(&src, cfg, m, e);
}

/* ------------------------------------------------------------------------------------ */
/* Calibration                                                                           */

typedef struct sim_label {
    double sim;
    uint8_t genuine;
} sim_label;

static int sim_desc(const void *x, const void *y)
{
    double a = ((const sim_label *)x)->sim, b = ((const sim_label *)y)->sim;
    return (a < b) - (a > b);
}

/* Similarity threshold of the most permissive operating point with FMR <= target on the
 * calibration trials (sorted descending); *fmr_out its FMR there. */
static double calibration_threshold(const sim_label *t, size_t n, size_t n_imp, double target, double *fmr_out)
{
    double best = nextafter(t[0].sim, INFINITY); /* accept nothing */
    size_t fa = 0, best_fa = 0;
    for (size_t i = 0; i < n; i++) {
        fa += !t[i].genuine;
        if (i + 1 < n && t[i + 1].sim == t[i].sim)
            continue;
        if ((double)fa / (double)n_imp > target) /* the FMR as printed, against X as typed */
            break;
        best = t[i].sim;
        best_fa = fa;
    }
    *fmr_out = (double)best_fa / (double)n_imp;
    return best;
}

/* Genuine and impostor counts of s. */
static void count_labels(const vb_scores *s, size_t *gen, size_t *imp)
{
    *gen = 0;
    for (size_t i = 0; i < s->n; i++)
        *gen += s->label[i] == 1;
    *imp = s->n - *gen;
}

int vb_calibrate(const vb_scores *cal, const vb_scores *eval, double target_fmr, double level, vb_metrics *m,
                 vb_err *e)
{
    size_t cal_gen, cal_imp, gen, imp;
    count_labels(cal, &cal_gen, &cal_imp);
    count_labels(eval, &gen, &imp);
    if (!cal_gen || !cal_imp || !gen || !imp)
        return vb_fail(e, VB_EXIT_INPUT,
                       "calibration needs genuine and impostor trials on both sides: the calibration trials hold "
                       "%zu genuine and %zu impostor, the evaluation trials %zu and %zu",
                       cal_gen, cal_imp, gen, imp);
    sim_label *t = vb_malloc(cal->n * sizeof *t, e);
    if (!t)
        return -1;
    for (size_t i = 0; i < cal->n; i++)
        t[i] = (sim_label){(cal->is_distance ? -cal->score[i] : cal->score[i]) + 0.0, cal->label[i] == 1};
    qsort(t, cal->n, sizeof *t, sim_desc);
    double cal_fmr, sim = calibration_threshold(t, cal->n, cal_imp, target_fmr, &cal_fmr);
    free(t);
    double user = (eval->is_distance ? -sim : sim) + 0.0;
    vb_rates r;
    vb_scores_rates(eval, user, &r);
    m->calibrated_target_fmr = target_fmr;
    m->calibrated_threshold = user;
    m->calibrated_calibration_fmr = cal_fmr;
    m->calibrated_genuine = (double)r.genuine;
    m->calibrated_impostor = (double)r.impostor;
    m->calibrated_fmr = r.fmr;
    m->calibrated_fnmr = r.fnmr;
    m->calibrated_false_matches = (double)r.false_matches;
    m->calibrated_false_nonmatches = (double)r.false_nonmatches;
    set_ci(&m->calibrated_fmr_ci, (double)r.false_matches, (double)r.impostor, level);
    set_ci(&m->calibrated_fnmr_ci, (double)r.false_nonmatches, (double)r.genuine, level);
    m->confidence = level;
    m->have |= VB_MG_CALIBRATION;
    return 0;
}
