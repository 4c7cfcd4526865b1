/* Metrics engine: see metrics.h for the definitions this file implements. */
#include "reports/metrics.h"
#include "reports/metrics_engine.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv_write.h"
#include "reports/radix_sort.h"

/* Exact products of two trial counts (each < 2^64). */
__extension__ typedef unsigned __int128 u128;

/* ------------------------------------------------------------------------------------ */
/* Normal distribution                                                                   */

double vb_normal_cdf(double x)
{
    return 0.5 * erfc(-x / M_SQRT2);
}

/* Acklam's rational approximation of the lower half (p <= 0.5), relative error < 1.2e-9. */
static double acklam_lower(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    if (p < 0.02425) {
        double q = sqrt(-2 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

double vb_probit(double p)
{
    if (isnan(p) || p < 0 || p > 1)
        return NAN;
    if (p == 0)
        return -INFINITY;
    if (p == 1)
        return INFINITY;
    /* 1 - p is exact for p >= 0.5 (Sterbenz), so the upper half is the mirror image and
     * the refinement below only ever sees the accurate lower tail of erfc. */
    if (p > 0.5)
        return -vb_probit(1 - p);
    double x = acklam_lower(p);
    if (p < 1e-300)
        return x; /* exp(x*x/2) would overflow; the approximation is all we have */
    for (int i = 0; i < 3; i++) { /* Halley steps: cubic convergence */
        double err = vb_normal_cdf(x) - p;
        double u = err * sqrt(2 * M_PI) * exp(x * x / 2);
        double dx = u / (1 + x * u / 2);
        x -= dx;
        if (fabs(dx) <= 1e-16 * fabs(x))
            break;
    }
    return x;
}

/* ------------------------------------------------------------------------------------ */
/* The engine's private index of a vb_scores: genuine and impostor similarities, each     */
/* sorted ascending (-inf first). Built once per computation, never seen by callers.     */

typedef struct vb_sorted_scores {
    double *gen, *imp;
    size_t n_gen, n_imp;
    size_t fta_gen, fta_imp; /* number of -inf similarities in each */
    int is_distance;         /* inputs were distances: report thresholds as -t */
} vb_sorted_scores;

/* Similarity of one input score, or fails naming the trial. */
static int to_similarity(double x, int is_distance, size_t trial, double *s, vb_err *e)
{
    if (isnan(x))
        return vb_fail(e, VB_EXIT_INPUT, "trial %zu: score is NaN", trial);
    double v = (is_distance ? -x : x) + 0.0; /* + 0.0 turns -0 into +0: one tie group */
    if (v == INFINITY)
        return vb_fail(e, VB_EXIT_INPUT,
                       "trial %zu: %s score would accept at every threshold; failures to acquire are %s",
                       trial, is_distance ? "-inf distance" : "+inf similarity",
                       is_distance ? "+inf distances" : "-inf similarities");
    *s = v;
    return 0;
}

static int check_label(uint8_t label, size_t trial, vb_err *e)
{
    if (label > 1)
        return vb_fail(e, VB_EXIT_INPUT, "trial %zu: label %u is neither 1 (genuine) nor 0 (impostor)", trial,
                       (unsigned)label);
    return 0;
}

static void sorted_free(vb_sorted_scores *ss)
{
    free(ss->gen);
    free(ss->imp);
    memset(ss, 0, sizeof *ss);
}

static size_t count_minus_inf(const double *sorted, size_t n)
{
    size_t k = 0;
    while (k < n && sorted[k] == -INFINITY)
        k++;
    return k;
}

/* Runs fn(ctx, begin, end, half) on [0, n/2) and [n/2, n), the second half on another
 * thread when n is large: the passes over 87M scores are memory-bound on one core. */
typedef void (*range_fn)(void *ctx, size_t begin, size_t end, int half);
typedef struct half_call {
    range_fn fn;
    void *ctx;
    size_t begin, end;
} half_call;

static void *half_entry(void *arg)
{
    half_call *c = arg;
    c->fn(c->ctx, c->begin, c->end, 1);
    return NULL;
}

static void run_in_halves(range_fn fn, void *ctx, size_t n)
{
    enum { MIN_PARALLEL = 1 << 16 };
    half_call upper = {fn, ctx, n / 2, n};
    pthread_t thread;
    int threaded = n >= MIN_PARALLEL && pthread_create(&thread, NULL, half_entry, &upper) == 0;
    fn(ctx, 0, n / 2, 0);
    if (threaded)
        pthread_join(thread, NULL);
    else
        fn(ctx, n / 2, n, 1);
}

/* ---- building: validate, split by label, map to sort keys ---- */

typedef struct fill_job {
    const double *scores;
    const uint8_t *labels;
    int is_distance;
    uint64_t *gk, *ik;
    size_t gen_before[2], imp_before[2]; /* output offsets of each half */
    size_t n_gen[2];                      /* genuine trials in each half */
    size_t bad[2];                        /* first bad trial of each half, SIZE_MAX if none */
    vb_err err[2];
} fill_job;

static void count_labels(void *ctx, size_t begin, size_t end, int half)
{
    fill_job *j = ctx;
    size_t g = 0;
    for (size_t i = begin; i < end; i++) {
        if (j->labels[i] > 1 && j->bad[half] == SIZE_MAX) {
            j->bad[half] = i;
            check_label(j->labels[i], i, &j->err[half]);
        }
        g += j->labels[i] == 1;
    }
    j->n_gen[half] = g;
}

static void fill_keys(void *ctx, size_t begin, size_t end, int half)
{
    fill_job *j = ctx;
    uint64_t *g = j->gk + j->gen_before[half], *im = j->ik + j->imp_before[half];
    for (size_t i = begin; i < end; i++) {
        double s = 0;
        if (to_similarity(j->scores[i], j->is_distance, i, &s, &j->err[half])) {
            j->bad[half] = i;
            return;
        }
        if (j->labels[i])
            *g++ = vb_double_to_key(s);
        else
            *im++ = vb_double_to_key(s);
    }
}

/* The error of the earliest bad trial, if any. */
static int first_error(const fill_job *j, vb_err *e)
{
    int h = j->bad[0] != SIZE_MAX ? 0 : j->bad[1] != SIZE_MAX ? 1 : -1;
    if (h < 0)
        return 0;
    *e = j->err[h];
    return -1;
}

static void keys_to_doubles(void *ctx, size_t begin, size_t end, int half)
{
    uint64_t *k = ctx;
    (void)half;
    for (size_t i = begin; i < end; i++) {
        double d = vb_key_to_double(k[i]);
        memcpy(&k[i], &d, sizeof d); /* the buffer now holds doubles */
    }
}

/* Sorts the keys of one side and turns them back into doubles in the buffer that holds
 * the result; frees the other. Returns that buffer as doubles. */
static double *sort_side(uint64_t *keys, size_t n, vb_err *e)
{
    uint64_t *tmp = vb_malloc(n * sizeof *tmp, e);
    if (!tmp) {
        free(keys);
        return NULL;
    }
    uint64_t *sorted = vb_sort_keys(keys, tmp, n);
    free(sorted == keys ? tmp : keys);
    run_in_halves(keys_to_doubles, sorted, n);
    return (double *)(void *)sorted;
}

/* Validates the trials (see vb_metrics_compute) and sorts them into ss. */
static int sorted_build(vb_sorted_scores *ss, const vb_scores *s, vb_err *e)
{
    const double *scores = s->score;
    const uint8_t *labels = s->label;
    size_t n = s->n;
    int is_distance = s->is_distance;
    memset(ss, 0, sizeof *ss);
    ss->is_distance = is_distance;
    fill_job j = {.scores = scores, .labels = labels, .is_distance = is_distance, .bad = {SIZE_MAX, SIZE_MAX}};
    run_in_halves(count_labels, &j, n);
    if (first_error(&j, e))
        return -1;
    size_t n_gen = j.n_gen[0] + j.n_gen[1], n_imp = n - n_gen;
    if (!n_gen || !n_imp)
        return vb_fail(e, VB_EXIT_INPUT, "%zu trials hold no %s trial: error rates are undefined", n,
                       n_gen ? "impostor" : "genuine");
    j.gk = vb_malloc(n_gen * sizeof *j.gk, e);
    j.ik = j.gk ? vb_malloc(n_imp * sizeof *j.ik, e) : NULL;
    if (!j.ik) {
        free(j.gk);
        return -1;
    }
    j.gen_before[1] = j.n_gen[0];
    j.imp_before[1] = n / 2 - j.n_gen[0];
    run_in_halves(fill_keys, &j, n);
    if (first_error(&j, e)) {
        free(j.gk);
        free(j.ik);
        return -1;
    }
    ss->gen = sort_side(j.gk, n_gen, e);
    ss->imp = ss->gen ? sort_side(j.ik, n_imp, e) : (free(j.ik), NULL);
    if (!ss->imp) {
        sorted_free(ss);
        return -1;
    }
    ss->n_gen = n_gen;
    ss->n_imp = n_imp;
    ss->fta_gen = count_minus_inf(ss->gen, n_gen);
    ss->fta_imp = count_minus_inf(ss->imp, n_imp);
    return 0;
}

/* An internal similarity threshold in the caller's units. */
static double to_user(const vb_sorted_scores *ss, double t)
{
    return (ss->is_distance ? -t : t) + 0.0;
}

size_t vb_sorted_count_below(const double *a, size_t n, double t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ------------------------------------------------------------------------------------ */
/* The merge walk: one operating point per distinct score, then "accept nothing".        */

typedef struct oppoint {
    double v;       /* accepts s >= v */
    double mid;     /* bob's candidate threshold for this point (midpoint with the previous) */
    uint64_t fa;    /* false accepts: impostors >= v */
    uint64_t fr;    /* false rejects: genuines < v */
    uint64_t g, i;  /* genuine and impostor scores equal to v (0 for the last point) */
    int last;
} oppoint;

/* A threshold strictly between a < b that accepts b but not a: the midpoint, unless
 * rounding (adjacent doubles, or a = -inf) puts it on a, in which case b itself. */
static double safe_mid(double a, double b)
{
    double m = (a + b) / 2; /* bob's formula, so thresholds match its output exactly */
    if (isinf(m) && isfinite(a))
        m = a / 2 + b / 2; /* a + b overflowed */
    if (!(m > a) || m > b)
        m = b;
    return m;
}

/* ---- observers: one per metric family, each fed every operating point ---- */

typedef struct minimizer { /* bob's eer and min_hter */
    int found;
    u128 best;
    oppoint at;
} minimizer;

static void minimizer_see(minimizer *m, u128 cost, const oppoint *p)
{
    if (!m->found || cost <= m->best) { /* <=: ties go to the higher threshold, as in bob */
        m->found = 1;
        m->best = cost;
        m->at = *p;
    }
}

typedef struct fvc_eer {
    int found, have_prev;
    oppoint prev;
    double low, high;
} fvc_eer;

static void fvc_low_high(fvc_eer *f, const oppoint *p, uint64_t ni, uint64_t ng)
{
    double fmr = (double)p->fa / (double)ni, fnmr = (double)p->fr / (double)ng;
    f->low = fmr < fnmr ? fmr : fnmr;
    f->high = fmr < fnmr ? fnmr : fmr;
}

static void fvc_see(fvc_eer *f, const oppoint *p, uint64_t ni, uint64_t ng)
{
    if (f->found)
        return;
    u128 fmr_x = (u128)p->fa * ng, fnmr_x = (u128)p->fr * ni; /* FMR, FNMR times ni*ng */
    if (fmr_x > fnmr_x) {
        f->prev = *p;
        f->have_prev = 1;
        return;
    }
    f->found = 1;
    const oppoint *pick = p; /* t2; an exact tie FMR == FNMR is its own t1 */
    if (fmr_x != fnmr_x && f->have_prev) {
        u128 sum1 = (u128)f->prev.fa * ng + (u128)f->prev.fr * ni;
        u128 sum2 = fmr_x + fnmr_x;
        if (sum1 <= sum2)
            pick = &f->prev;
    }
    fvc_low_high(f, pick, ni, ng);
}

enum { N_TARGETS = VB_FMR_TARGETS };
const char *const vb_fmr_target_text[VB_FMR_TARGETS] = {"1e-1", "1e-2", "1e-3", "1e-4", "1e-5", "1e-6", "0"};
static const uint64_t target_inverse[N_TARGETS] = {10, 100, 1000, 10000, 100000, 1000000, 0}; /* 1/X */

typedef struct fmr_target {
    int found;
    oppoint at;
} fmr_target;

/* FMR only falls along the walk, so the targets (ordered by decreasing X) are met in
 * order: only the next unmet one needs checking. */
static void targets_see(fmr_target *t, int *next, const oppoint *p, uint64_t ni)
{
    while (*next < N_TARGETS) {
        int j = *next;
        /* FMR <= 1/inv  <=>  fa * inv <= ni, exactly; X = 0 needs fa == 0 */
        int ok = target_inverse[j] ? (u128)p->fa * target_inverse[j] <= ni : p->fa == 0;
        if (!ok)
            return;
        t[j].found = 1;
        t[j].at = *p;
        (*next)++;
    }
}

typedef struct pav_block {
    uint64_t gen, total;
} pav_block;

typedef struct rocch {
    pav_block *b;
    size_t n, cap;
    int oom;
} rocch;

/* Pool-adjacent-violators on the genuine fraction of each tie group, ascending score: the
 * pooled blocks are the ROC convex hull's segments. */
static void rocch_see(rocch *r, const oppoint *p)
{
    if (p->last || r->oom)
        return;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        pav_block *nb = realloc(r->b, cap * sizeof *nb);
        if (!nb) {
            r->oom = 1;
            return;
        }
        r->b = nb;
        r->cap = cap;
    }
    pav_block cur = {p->g, p->g + p->i};
    /* merge while the previous block's fraction >= the current one (gen/total compared
     * by cross-multiplication); equal fractions merge too: collinear hull points */
    while (r->n && (u128)r->b[r->n - 1].gen * cur.total >= (u128)cur.gen * r->b[r->n - 1].total) {
        cur.gen += r->b[r->n - 1].gen;
        cur.total += r->b[r->n - 1].total;
        r->n--;
    }
    r->b[r->n++] = cur;
}

/* EER on the hull: for each segment between vertices (pfa_i, pmiss_i), (pfa_j, pmiss_j),
 * the line s1*pfa + s2*pmiss = 1 through both crosses pfa = pmiss at 1/(s1+s2). */
static double rocch_eer(const rocch *r, uint64_t ni, uint64_t ng)
{
    double eer = 0;
    uint64_t fa = ni, miss = 0;
    double x0 = 1, y0 = 0;
    for (size_t k = 0; k < r->n; k++) {
        miss += r->b[k].gen;
        fa -= r->b[k].total - r->b[k].gen;
        double x1 = (double)fa / (double)ni, y1 = (double)miss / (double)ng;
        double seg = 0;
        if (fabs(x0 - x1) >= 2.220446049250313e-16 && fabs(y0 - y1) >= 2.220446049250313e-16) {
            double det = x0 * y1 - y0 * x1;
            double s1 = (y1 - y0) / det, s2 = (x0 - x1) / det;
            seg = 1 / (s1 + s2);
        }
        if (seg > eer)
            eer = seg;
        x0 = x1;
        y0 = y1;
    }
    return eer;
}

typedef struct det_decimator {
    vb_curve *curve;
    const vb_sorted_scores *ss;
    int keep_all, have;
    int64_t fa_trigger; /* keep the next point once fa <= this (-1: never) */
    uint64_t fr_trigger; /* ... or once fr >= this (UINT64_MAX: never) */
    int oom;
} det_decimator;

static int curve_push(vb_curve *c, double fmr, double fnmr, double threshold)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        vb_curve_point *np = realloc(c->pts, cap * sizeof *np);
        if (!np)
            return -1;
        c->pts = np;
        c->cap = cap;
    }
    c->pts[c->n++] = (vb_curve_point){fmr, fnmr, threshold};
    return 0;
}

/* After keeping a point, the counts at which either probit coordinate will have moved by
 * VB_DET_STEP: the decimation needs Phi only per kept point, not per operating point. */
static void det_set_triggers(det_decimator *d, uint64_t fa, uint64_t fr)
{
    uint64_t ni = d->ss->n_imp, ng = d->ss->n_gen;
    if (fa == 0) {
        d->fa_trigger = -1;
    } else if (fa == ni) {
        d->fa_trigger = (int64_t)ni - 1;
    } else {
        double x = vb_probit((double)fa / (double)ni);
        double t = floor(vb_normal_cdf(x - VB_DET_STEP) * (double)ni);
        d->fa_trigger = t < (double)fa ? (int64_t)t : (int64_t)fa - 1;
    }
    if (fr == ng) {
        d->fr_trigger = UINT64_MAX;
    } else if (fr == 0) {
        d->fr_trigger = 1;
    } else {
        double y = vb_probit((double)fr / (double)ng);
        double t = ceil(vb_normal_cdf(y + VB_DET_STEP) * (double)ng);
        d->fr_trigger = t > (double)fr ? (uint64_t)t : fr + 1;
    }
}

static void det_see(det_decimator *d, const oppoint *p)
{
    if (d->oom)
        return;
    int keep = d->keep_all || !d->have || p->last || (int64_t)p->fa <= d->fa_trigger || p->fr >= d->fr_trigger;
    if (!keep)
        return;
    double fmr = (double)p->fa / (double)d->ss->n_imp, fnmr = (double)p->fr / (double)d->ss->n_gen;
    if (curve_push(d->curve, fmr, fnmr, to_user(d->ss, p->v))) {
        d->oom = 1;
        return;
    }
    d->have = 1;
    det_set_triggers(d, p->fa, p->fr);
}

typedef struct walk_state {
    const vb_sorted_scores *ss;
    minimizer eer, hter;
    fvc_eer fvc;
    fmr_target targets[N_TARGETS];
    int next_target;
    rocch hull;
    u128 auc_num; /* sum of trapezoids times 2*ni*ng */
    det_decimator det;
    uint64_t gen_seen, imp_seen; /* scores of the groups walked so far */
    double prev;                 /* the previous group's similarity */
    int first;                   /* no group walked yet */
} walk_state;

static void observe(walk_state *w, const oppoint *p)
{
    uint64_t ni = w->ss->n_imp, ng = w->ss->n_gen;
    u128 fmr_x = (u128)p->fa * ng, fnmr_x = (u128)p->fr * ni;
    minimizer_see(&w->eer, fmr_x > fnmr_x ? fmr_x - fnmr_x : fnmr_x - fmr_x, p);
    minimizer_see(&w->hter, fmr_x + fnmr_x, p);
    fvc_see(&w->fvc, p, ni, ng);
    targets_see(w->targets, &w->next_target, p, ni);
    rocch_see(&w->hull, p);
    /* trapezoid from this point to the next: width i/ni, heights (ng-fr)/ng, (ng-fr-g)/ng */
    w->auc_num += (u128)p->i * (2 * (ng - p->fr) - p->g);
    det_see(&w->det, p);
}

/* One tie group of the walk: the next distinct similarity v (ascending) with g genuine and
 * i impostor scores equal to it. gen_seen/imp_seen count the scores of earlier groups. */
static void walk_group(walk_state *w, double v, uint64_t g, uint64_t i)
{
    uint64_t ni = w->ss->n_imp;
    oppoint p = {v, w->first ? v : safe_mid(w->prev, v), ni - w->imp_seen, w->gen_seen, g, i, 0};
    observe(w, &p);
    w->gen_seen += g;
    w->imp_seen += i;
    w->prev = v;
    w->first = 0;
}

/* The "accept nothing" point after the last group. */
static void walk_last(walk_state *w)
{
    double end = nextafter(w->prev, INFINITY);
    oppoint p = {end, end, 0, w->ss->n_gen, 0, 0, 1};
    observe(w, &p);
}

static void walk(walk_state *w)
{
    const double *gen = w->ss->gen, *imp = w->ss->imp;
    size_t ng = w->ss->n_gen, ni = w->ss->n_imp, ig = 0, ii = 0;
    while (ig < ng || ii < ni) {
        double v = (ii >= ni || (ig < ng && gen[ig] <= imp[ii])) ? gen[ig] : imp[ii];
        size_t g0 = ig, i0 = ii;
        while (ig < ng && gen[ig] == v)
            ig++;
        while (ii < ni && imp[ii] == v)
            ii++;
        walk_group(w, v, ig - g0, ii - i0);
    }
    walk_last(w);
}

/* ------------------------------------------------------------------------------------ */
/* The metric table                                                                      */

#define VB_METRIC_ROW(field, name, groups, unit, desc) {name, unit, desc, groups, offsetof(vb_metrics, field)},
const vb_metric_row vb_metric_rows[] = {VB_METRICS(VB_METRIC_ROW)};
#undef VB_METRIC_ROW
const size_t vb_metric_row_count = VB_ARRAY_LEN(vb_metric_rows);

/* The table covers every double from `genuine` up to the non-row fields: a field added to
 * the struct but not to VB_METRICS breaks this. */
#define VB_METRIC_ONE(field, name, groups, unit, desc) +1
_Static_assert(offsetof(vb_metrics, build_s) - offsetof(vb_metrics, genuine) ==
                   (0 VB_METRICS(VB_METRIC_ONE)) * sizeof(double),
               "every vb_metrics row field must be listed in VB_METRICS (and only once)");
#undef VB_METRIC_ONE

const vb_metric_row *vb_metric_find(const char *name)
{
    for (size_t i = 0; i < vb_metric_row_count; i++)
        if (!strcmp(vb_metric_rows[i].name, name))
            return &vb_metric_rows[i];
    return NULL;
}

int vb_metric_present(const vb_metrics *m, const vb_metric_row *r)
{
    return (m->have & r->groups) != 0;
}

double vb_metric_value(const vb_metrics *m, const vb_metric_row *r)
{
    double v;
    memcpy(&v, (const char *)m + r->offset, sizeof v);
    return v;
}

void vb_metrics_init(vb_metrics *m)
{
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < vb_metric_row_count; i++) {
        double nan = NAN;
        memcpy((char *)m + vb_metric_rows[i].offset, &nan, sizeof nan);
    }
    m->build_s = m->walk_s = NAN;
}

void vb_metrics_free(vb_metrics *m)
{
    free(m->curve.pts);
    free(m->hist.gen);
    free(m->hist.imp);
    vb_metrics_init(m);
}

void vb_format_double(double x, char buf[32])
{
    if (isnan(x)) {
        snprintf(buf, 32, "nan");
        return;
    }
    if (isinf(x)) {
        snprintf(buf, 32, x > 0 ? "inf" : "-inf");
        return;
    }
    x += 0.0;
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}

int vb_metrics_write_csv(const vb_metrics *m, FILE *f, const char *const *prefix, size_t n_prefix, vb_err *e)
{
    enum { MAX_FIELDS = 16 };
    if (n_prefix > MAX_FIELDS - 2)
        return vb_fail(e, VB_EXIT_IO, "metrics CSV: %zu prefix fields, at most %d", n_prefix, MAX_FIELDS - 2);
    const char *fields[MAX_FIELDS];
    char value[32];
    for (size_t i = 0; i < n_prefix; i++)
        fields[i] = prefix[i];
    for (size_t i = 0; i < vb_metric_row_count; i++) {
        const vb_metric_row *r = &vb_metric_rows[i];
        if (!vb_metric_present(m, r))
            continue;
        vb_format_double(vb_metric_value(m, r), value);
        fields[n_prefix] = r->name;
        fields[n_prefix + 1] = value;
        if (vb_csv_write_row(f, fields, n_prefix + 2))
            return vb_fail(e, VB_EXIT_IO, "cannot write the metrics CSV");
    }
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Metrics from the sorted index                                                          */

/* Sum of (x[i] - center) or of its square: blocks of 4096 summed with four interleaved
 * double accumulators (no x87, no long dependency chain), the block sums added in long
 * double; the rounding error stays ~1e-12 relative even for 87M terms. */
static double blocked_sum(const double *x, size_t n, double center, int squared)
{
    long double total = 0;
    for (size_t b = 0; b < n; b += 4096) {
        size_t end = b + 4096 < n ? b + 4096 : n, i = b;
        double acc[4] = {0, 0, 0, 0};
        for (; i + 4 <= end; i += 4)
            for (int k = 0; k < 4; k++) {
                double d = x[i + k] - center;
                acc[k] += squared ? d * d : d;
            }
        for (; i < end; i++) {
            double d = x[i] - center;
            acc[0] += squared ? d * d : d;
        }
        total += (long double)((acc[0] + acc[1]) + (acc[2] + acc[3]));
    }
    return (double)total;
}

static double mean_of(const double *x, size_t n)
{
    return blocked_sum(x, n, 0, 0) / (double)n;
}

static double population_var(const double *x, size_t n, double mean)
{
    return blocked_sum(x, n, mean, 1) / (double)n;
}

static double dprime(const vb_sorted_scores *ss)
{
    const double *g = ss->gen + ss->fta_gen, *im = ss->imp + ss->fta_imp;
    size_t ng = ss->n_gen - ss->fta_gen, ni = ss->n_imp - ss->fta_imp;
    if (!ng || !ni)
        return NAN;
    double mg = mean_of(g, ng), mi = mean_of(im, ni);
    double vg = population_var(g, ng, mg), vi = population_var(im, ni, mi);
    double diff = fabs(mg - mi), den = sqrt((vg + vi) / 2);
    if (den == 0)
        return diff == 0 ? NAN : INFINITY;
    return diff / den;
}

size_t vb_sorted_count_at_most(const double *a, size_t n, double t)
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

/* How many of the sorted similarities s[0..n) are below u in the caller's units
 * (u = -s for distances: -s < u  <=>  s > -u). */
static size_t user_count_below(const double *s, size_t n, double u, int is_distance)
{
    return is_distance ? n - vb_sorted_count_at_most(s, n, -u) : vb_sorted_count_below(s, n, u);
}

static int build_hist(const vb_sorted_scores *ss, vb_hist *h, vb_err *e)
{
    memset(h, 0, sizeof *h);
    h->bins = VB_HIST_BINS;
    h->is_distance = ss->is_distance;
    h->gen = vb_calloc(h->bins, sizeof *h->gen, e);
    h->imp = h->gen ? vb_calloc(h->bins, sizeof *h->imp, e) : NULL;
    if (!h->imp)
        return -1;
    h->n_gen = ss->n_gen - ss->fta_gen;
    h->n_imp = ss->n_imp - ss->fta_imp;
    if (!h->n_gen && !h->n_imp)
        return 0;
    double lo = INFINITY, hi = -INFINITY; /* similarity units */
    if (h->n_gen) {
        lo = fmin(lo, ss->gen[ss->fta_gen]);
        hi = fmax(hi, ss->gen[ss->n_gen - 1]);
    }
    if (h->n_imp) {
        lo = fmin(lo, ss->imp[ss->fta_imp]);
        hi = fmax(hi, ss->imp[ss->n_imp - 1]);
    }
    h->lo = ss->is_distance ? -hi + 0.0 : lo;
    h->hi = ss->is_distance ? -lo + 0.0 : hi;
    if (h->hi == h->lo) {
        h->lo -= 0.5;
        h->hi += 0.5;
    }
    h->width = (h->hi - h->lo) / (double)h->bins;
    /* the scores are sorted: each bin count is a difference of two binary searches */
    const double *sets[2] = {ss->gen + ss->fta_gen, ss->imp + ss->fta_imp};
    size_t sizes[2] = {h->n_gen, h->n_imp};
    uint64_t *counts[2] = {h->gen, h->imp};
    for (int s = 0; s < 2; s++) {
        size_t below = 0; /* user values < lo: none */
        for (size_t b = 0; b + 1 < h->bins; b++) {
            size_t next = user_count_below(sets[s], sizes[s], h->lo + (double)(b + 1) * h->width, ss->is_distance);
            counts[s][b] = next - below;
            below = next;
        }
        counts[s][h->bins - 1] = sizes[s] - below; /* the last bin also holds hi */
    }
    return 0;
}

static void set_target_metrics(vb_fnmr_at_fmr *out, const vb_sorted_scores *ss, const fmr_target *t, int j)
{
    uint64_t ni = ss->n_imp, ng = ss->n_gen;
    const oppoint *p = &t->at;
    /* rule of 3: X < 3/ni  <=>  ni < 3/X = 3*inv (X = 0: always) */
    int rule3 = target_inverse[j] ? (u128)ni < (u128)3 * target_inverse[j] : 1;
    int rule30 = p->fa < 30 || p->fr < 30;
    *out = (vb_fnmr_at_fmr){
        .fnmr = (double)p->fr / (double)ng,
        .threshold = to_user(ss, p->v),
        .fmr = (double)p->fa / (double)ni,
        .false_matches = (double)p->fa,
        .false_nonmatches = (double)p->fr,
        .rule_of_3 = rule3,
        .rule_of_30 = rule30,
    };
}

static void set_walk_metrics(vb_metrics *m, const vb_sorted_scores *ss, const walk_state *w, double dprime_value)
{
    double ni = (double)ss->n_imp, ng = (double)ss->n_gen;
    const oppoint *eer = &w->eer.at, *hter = &w->hter.at;
    m->genuine = ng;
    m->impostor = ni;
    m->eer = ((double)eer->fa / ni + (double)eer->fr / ng) / 2;
    m->eer_threshold = to_user(ss, eer->mid);
    m->eer_fvc_low = w->fvc.low;
    m->eer_fvc_high = w->fvc.high;
    m->eer_fvc = (w->fvc.low + w->fvc.high) / 2;
    m->eer_rocch = rocch_eer(&w->hull, ss->n_imp, ss->n_gen);
    for (int j = 0; j < N_TARGETS; j++)
        set_target_metrics(&m->fnmr_at_fmr[j], ss, &w->targets[j], j);
    m->auc = (double)w->auc_num / (2 * ni * ng);
    m->dprime = dprime_value;
    m->fta_genuine = (double)ss->fta_gen;
    m->fta_impostor = (double)ss->fta_imp;
    m->min_hter = ((double)hter->fa / ni + (double)hter->fr / ng) / 2;
    m->min_hter_threshold = to_user(ss, hter->mid);
    m->have |= VB_MG_CORE;
}

/* Small sets keep every operating point on the curve. */
enum { DET_KEEP_ALL_BELOW = 20000 };

/* d' and the histograms read the sorted scores independently of the walk: a second
 * thread computes them meanwhile. */
typedef struct side_job {
    const vb_sorted_scores *ss;
    vb_hist *hist;
    double dprime;
    int rc;
    vb_err e;
} side_job;

static void *side_work(void *arg)
{
    side_job *j = arg;
    j->dprime = dprime(j->ss);
    j->rc = build_hist(j->ss, j->hist, &j->e);
    return NULL;
}

/* The CORE rows, the curve and the histograms into out (already initialised). */
static int metrics_from_sorted(const vb_sorted_scores *ss, vb_metrics *out, vb_err *e)
{
    walk_state *w = vb_calloc(1, sizeof *w, e);
    if (!w)
        return -1;
    w->ss = ss;
    w->first = 1;
    w->det.curve = &out->curve;
    w->det.ss = ss;
    w->det.keep_all = ss->n_gen + ss->n_imp < DET_KEEP_ALL_BELOW;
    side_job side = {.ss = ss, .hist = &out->hist};
    pthread_t thread;
    int threaded = pthread_create(&thread, NULL, side_work, &side) == 0;
    walk(w);
    if (threaded)
        pthread_join(thread, NULL);
    else
        side_work(&side);
    int rc = 0;
    if (side.rc) {
        *e = side.e;
        rc = -1;
    } else if (w->hull.oom || w->det.oom) {
        rc = vb_fail(e, VB_EXIT_IO, "out of memory computing the ROC hull and curve");
    }
    if (!rc)
        set_walk_metrics(out, ss, w, side.dprime);
    free(w->hull.b);
    free(w);
    return rc;
}

int vb_metrics_compute(const vb_scores *s, vb_metrics *out, vb_err *e)
{
    vb_metrics_init(out);
    vb_sorted_scores ss;
    double t0 = vb_now();
    if (sorted_build(&ss, s, e))
        return -1;
    double t1 = vb_now();
    int rc = metrics_from_sorted(&ss, out, e);
    out->build_s = t1 - t0;
    out->walk_s = vb_now() - t1;
    sorted_free(&ss);
    vb_kfold k;
    int have = rc ? 0 : vb_kfold_accuracy(s, &k, e);
    if (rc || have < 0) {
        vb_metrics_free(out);
        return -1;
    }
    if (have > 0) {
        out->accuracy_10fold_mean = k.mean;
        out->accuracy_10fold_std = k.std;
        out->accuracy_10fold_se = k.se;
        out->accuracy_10fold_folds = (double)k.folds;
        out->have |= VB_MG_KFOLD;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* LFW k-fold accuracy                                                                   */

typedef struct fold_trials {
    uint64_t *keys;  /* similarity keys (radix_sort.h order), sorted */
    uint32_t *vals;  /* dense fold index << 1 | label */
    size_t n, folds;
    size_t *fold_size;
} fold_trials;

static void fold_trials_free(fold_trials *t)
{
    free(t->keys);
    free(t->vals);
    free(t->fold_size);
}

enum { FOLD_IDS = 65536 }; /* every uint16_t fold id */

/* Dense fold indices for the fold ids >= 1 present, in id order (0: no fold). */
static size_t dense_folds(const uint16_t *folds, size_t n, int32_t *dense /* [FOLD_IDS] */)
{
    for (int i = 0; i < FOLD_IDS; i++)
        dense[i] = -1;
    for (size_t i = 0; i < n; i++)
        if (folds[i] > 0)
            dense[folds[i]] = 0;
    size_t k = 0;
    for (int i = 0; i < FOLD_IDS; i++)
        if (dense[i] == 0)
            dense[i] = (int32_t)k++;
    return k;
}

static int collect_fold_trials(const vb_scores *sc, const int32_t *dense, fold_trials *t, vb_err *e)
{
    const double *scores = sc->score;
    const uint8_t *labels = sc->label;
    const uint16_t *folds = sc->fold;
    size_t n = sc->n;
    int is_distance = sc->is_distance;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += folds[i] > 0;
    t->keys = vb_malloc(2 * m * sizeof *t->keys, e); /* second half: sort scratch */
    t->vals = t->keys ? vb_malloc(2 * m * sizeof *t->vals, e) : NULL;
    t->fold_size = t->vals ? vb_calloc(t->folds, sizeof *t->fold_size, e) : NULL;
    if (!t->fold_size)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (folds[i] == 0)
            continue;
        double s = 0;
        if (check_label(labels[i], i, e) || to_similarity(scores[i], is_distance, i, &s, e))
            return -1;
        uint32_t f = (uint32_t)dense[folds[i]];
        t->keys[t->n] = vb_double_to_key(s);
        t->vals[t->n] = f << 1 | labels[i];
        t->fold_size[f]++;
        t->n++;
    }
    vb_radix_sort_kv(t->keys, t->vals, t->keys + m, t->vals + m, m);
    return 0;
}

/* Threshold (similarity) maximising accuracy on every fold but `test`; ties: the lowest. */
static double best_training_threshold(const fold_trials *t, uint32_t test)
{
    size_t correct = 0; /* accept everything: every training genuine is right */
    for (size_t i = 0; i < t->n; i++)
        if ((t->vals[i] >> 1) != test)
            correct += t->vals[i] & 1;
    size_t best = 0;
    double best_t = 0, prev = 0;
    int first = 1;
    for (size_t i = 0; i < t->n;) {
        uint64_t key = t->keys[i];
        size_t g = 0, im = 0;
        for (; i < t->n && t->keys[i] == key; i++)
            if ((t->vals[i] >> 1) != test) {
                g += t->vals[i] & 1;
                im += !(t->vals[i] & 1);
            }
        if (g + im == 0)
            continue; /* a score of the test fold only */
        double v = vb_key_to_double(key);
        if (first || correct > best) {
            best = correct;
            best_t = first ? v : safe_mid(prev, v);
        }
        first = 0;
        correct = correct + im - g; /* this group is now rejected */
        prev = v;
    }
    if (correct > best)
        best_t = nextafter(prev, INFINITY);
    return best_t;
}

static double fold_accuracy(const fold_trials *t, uint32_t test, double threshold)
{
    uint64_t tk = vb_double_to_key(threshold);
    size_t correct = 0;
    for (size_t i = 0; i < t->n; i++) {
        if ((t->vals[i] >> 1) != test)
            continue;
        int accepted = t->keys[i] >= tk, genuine = t->vals[i] & 1;
        correct += accepted == genuine;
    }
    return (double)correct / (double)t->fold_size[test];
}

int vb_kfold_accuracy(const vb_scores *s, vb_kfold *out, vb_err *e)
{
    memset(out, 0, sizeof *out);
    if (!s->fold)
        return 0;
    int32_t *dense = vb_malloc(FOLD_IDS * sizeof *dense, e);
    if (!dense)
        return -1;
    fold_trials t = {0};
    t.folds = dense_folds(s->fold, s->n, dense);
    if (t.folds < 2) {
        free(dense);
        return 0;
    }
    double *acc = NULL;
    int rc = collect_fold_trials(s, dense, &t, e);
    if (!rc)
        acc = vb_malloc(t.folds * sizeof *acc, e);
    if (!rc && acc) {
        double sum = 0;
        for (uint32_t f = 0; f < t.folds; f++) {
            acc[f] = fold_accuracy(&t, f, best_training_threshold(&t, f));
            sum += acc[f];
        }
        double k = (double)t.folds, mean = sum / k, ss = 0;
        for (uint32_t f = 0; f < t.folds; f++)
            ss += (acc[f] - mean) * (acc[f] - mean);
        out->folds = t.folds;
        out->mean = mean;
        out->std = sqrt(ss / k);
        out->se = sqrt(ss / (k - 1)) / sqrt(k);
    }
    int result = (!rc && acc) ? 1 : -1;
    free(acc);
    free(dense);
    fold_trials_free(&t);
    return result;
}

/* ------------------------------------------------------------------------------------ */
/* The walk for engines that stream the sorted scores (reports/metrics_engine.h)         */

struct vb_walk {
    vb_sorted_scores ss; /* counts only: no arrays */
    walk_state w;
};

vb_walk *vb_walk_begin(uint64_t n_gen, uint64_t n_imp, uint64_t fta_gen, uint64_t fta_imp, int is_distance,
                       vb_metrics *out, vb_err *e)
{
    vb_walk *k = vb_calloc(1, sizeof *k, e);
    if (!k)
        return NULL;
    k->ss = (vb_sorted_scores){NULL, NULL, n_gen, n_imp, fta_gen, fta_imp, is_distance};
    k->w.ss = &k->ss;
    k->w.first = 1;
    k->w.det.curve = &out->curve;
    k->w.det.ss = &k->ss;
    k->w.det.keep_all = n_gen + n_imp < DET_KEEP_ALL_BELOW;
    return k;
}

void vb_walk_group(vb_walk *k, double v, uint64_t g, uint64_t i)
{
    walk_group(&k->w, v, g, i);
}

int vb_walk_end(vb_walk *k, double dprime_value, vb_metrics *out, vb_err *e)
{
    walk_last(&k->w);
    int rc = 0;
    if (k->w.hull.oom || k->w.det.oom)
        rc = vb_fail(e, VB_EXIT_IO, "out of memory computing the ROC hull and curve");
    else
        set_walk_metrics(out, &k->ss, &k->w, dprime_value);
    free(k->w.hull.b);
    free(k);
    return rc;
}

size_t vb_walk_hull_blocks(const vb_walk *k)
{
    return k->w.hull.n;
}

int vb_metrics_similarity(double x, int is_distance, size_t trial, double *s, vb_err *e)
{
    return to_similarity(x, is_distance, trial, s, e);
}

int vb_metrics_check_label(uint8_t label, size_t trial, vb_err *e)
{
    return check_label(label, trial, e);
}

double vb_metrics_midpoint(double a, double b)
{
    return safe_mid(a, b);
}
