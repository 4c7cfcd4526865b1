/* Confidence intervals, subject bootstrap and calibration: see intervals.h. */
#include "reports/intervals.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
 * threshold. */
enum { N_TARGETS = VB_FMR_TARGETS, STAT_MODEL_FMR = 2 * N_TARGETS, STAT_MODEL_FNMR, N_STATS };
static const uint64_t target_inverse[N_TARGETS] = {10, 100, 1000, 10000, 100000, 1000000, 0}; /* 1/X; 0: X = 0 */

/* The trials sorted by decreasing similarity, with their dense subjects. */
typedef struct boot_trial {
    double sim;
    uint32_t a, b;       /* dense subject indices */
    uint8_t genuine;
    uint8_t model_error; /* a false match or false non-match at the model threshold */
    uint8_t group_end;   /* last trial of its group of tied similarities */
} boot_trial;

typedef struct boot_data {
    boot_trial *t;
    size_t n;
    uint32_t n_subjects;
    int have_model;
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
    uint64_t wg = 0, wi = 0, fm = 0, fnm = 0;
    for (size_t i = 0; i < d->n; i++) {
        uint64_t w = weight_of(&d->t[i], count);
        if (d->t[i].genuine) {
            wg += w;
            fnm += d->t[i].model_error ? w : 0;
        } else {
            wi += w;
            fm += d->t[i].model_error ? w : 0;
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
        int accepted = !isnan(in->model_threshold) &&
                       (s->is_distance ? s->score[i] <= in->model_threshold : s->score[i] >= in->model_threshold);
        t[i] = (boot_trial){sim + 0.0, (uint32_t)dense[ab[0]], (uint32_t)dense[ab[1]], s->label[i],
                            (uint8_t)(s->label[i] ? !accepted : accepted), 0};
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

static void set_boot_rows(vb_metrics *m, const boot_data *d, double level)
{
    size_t R = d->replicates;
    for (int j = 0; j < N_TARGETS; j++) {
        m->fnmr_at_fmr_boot[j] = percentile_interval(d->stats + (2 * j) * R, R, level);
        m->fmr_at_fmr_boot[j] = percentile_interval(d->stats + (2 * j + 1) * R, R, level);
    }
    m->bootstrap_replicates = (double)d->replicates;
    m->bootstrap_seed = (double)d->seed;
    m->bootstrap_subjects = (double)d->n_subjects;
    m->confidence = level;
    m->have |= VB_MG_BOOT;
    if (d->have_model) {
        m->fmr_at_threshold_boot = percentile_interval(d->stats + STAT_MODEL_FMR * R, R, level);
        m->fnmr_at_threshold_boot = percentile_interval(d->stats + STAT_MODEL_FNMR * R, R, level);
        m->have |= VB_MG_BOOT_MODEL_THRESHOLD;
    }
}

int vb_bootstrap_metrics(const vb_boot_input *in, const vb_boot_config *cfg, vb_metrics *m, const char **why,
                         vb_err *e)
{
    *why = NULL;
    const vb_scores *s = in->scores;
    if (!cfg->replicates)
        return 0;
    if ((double)s->n * cfg->replicates > VB_BOOT_MAX_WORK) {
        *why = "trials x replicates is over the bootstrap's limit of 5e8 (see reports/intervals.h)";
        return 0;
    }
    boot_data d = {.n = s->n, .have_model = !isnan(in->model_threshold), .replicates = cfg->replicates,
                   .seed = cfg->seed};
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
        set_boot_rows(m, &d, cfg->level);
    free(d.stats);
    free(d.t);
    return failed ? vb_fail(e, VB_EXIT_IO, "out of memory in the bootstrap") : 1;
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
