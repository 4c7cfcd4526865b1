/* Minutia Cylinder-Code, bit-vector cylinders (MCC16b) with the LSS-R global score
 * (Cappelli, Ferrara, Maltoni, IEEE TPAMI 2010). See models/fingerprint.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/fingerprint.h"

static const double PI = 3.14159265358979323846;

typedef struct cylinder {
    float x, y, theta;
    int cells;          /* valid (i, j) cells */
    uint64_t *bits;     /* words: activation bits, (k * ns + i) * ns + j */
    uint64_t *valid;    /* words: validity of the (i, j) cell, repeated for every k */
} cylinder;

struct vb_fp_cylinders {
    int n, words, ns, nd;
    cylinder *c;
    uint64_t *store;
};

/* theta1 - theta2 in [-pi, pi) */
static double dphi(double a, double b)
{
    double d = a - b;
    while (d < -PI)
        d += 2 * PI;
    while (d >= PI)
        d -= 2 * PI;
    return d;
}

/* ------------------------------------------------------------- convex hull */

typedef struct pt {
    double x, y;
} pt;

static int cmp_pt(const void *a, const void *b)
{
    const pt *p = a, *q = b;
    if (p->x != q->x)
        return p->x < q->x ? -1 : 1;
    return (p->y > q->y) - (p->y < q->y);
}

static double cross(pt o, pt a, pt b)
{
    return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

/* Andrew's monotone chain; hull has room for n + 1 points; returns its size (ccw). */
static int convex_hull(pt *p, int n, pt *hull)
{
    qsort(p, n, sizeof *p, cmp_pt);
    int k = 0;
    for (int i = 0; i < n; i++) {
        while (k >= 2 && cross(hull[k - 2], hull[k - 1], p[i]) <= 0)
            k--;
        hull[k++] = p[i];
    }
    for (int i = n - 2, lo = k + 1; i >= 0; i--) {
        while (k >= lo && cross(hull[k - 2], hull[k - 1], p[i]) <= 0)
            k--;
        hull[k++] = p[i];
    }
    return n > 1 ? k - 1 : n;
}

static double seg_dist(pt p, pt a, pt b)
{
    double vx = b.x - a.x, vy = b.y - a.y, l2 = vx * vx + vy * vy;
    double t = l2 > 0 ? ((p.x - a.x) * vx + (p.y - a.y) * vy) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double dx = a.x + t * vx - p.x, dy = a.y + t * vy - p.y;
    return sqrt(dx * dx + dy * dy);
}

/* Inside the hull, or within omega of it. */
static int in_hull(const pt *h, int nh, pt p, double omega)
{
    if (nh >= 3) {
        int inside = 1;
        for (int i = 0; i < nh && inside; i++)
            inside = cross(h[i], h[(i + 1) % nh], p) >= 0;
        if (inside)
            return 1;
    }
    for (int i = 0; i < nh; i++)
        if (seg_dist(p, h[i], h[(i + 1) % nh]) <= omega)
            return 1;
    return 0;
}

/* ------------------------------------------------------------- cylinders */

vb_fp_cylinders *vb_fp_cylinders_make(const vb_fp_template *t, const vb_fp_params *p, vb_err *e)
{
    int ns = (int)p->mcc_ns, nd = (int)p->mcc_nd, n = t->count;
    int words = (ns * ns * nd + 63) / 64;
    vb_fp_cylinders *cs = calloc(1, sizeof *cs);
    pt *pts = malloc((n + 1) * sizeof *pts), *hull = malloc((n + 2) * sizeof *hull);
    if (!cs || !pts || !hull)
        goto oom;
    cs->ns = ns, cs->nd = nd, cs->words = words;
    cs->c = calloc(n ? n : 1, sizeof *cs->c);
    cs->store = calloc((size_t)(n ? n : 1) * 2 * words, sizeof *cs->store);
    if (!cs->c || !cs->store)
        goto oom;
    for (int i = 0; i < n; i++)
        pts[i] = (pt){t->m[i].x, t->m[i].y};
    int nh = convex_hull(pts, n, hull);
    const double R = p->mcc_radius, ds = 2 * R / ns, dd = 2 * PI / nd, ss = p->mcc_sigma_s, sd = p->mcc_sigma_d;
    const double reach = 3 * ss, norm_s = 1 / (ss * sqrt(2 * PI));
    int cells_in_circle = 0;
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < ns; j++) {
            double u = (i + 0.5 - ns / 2.0) * ds, v = (j + 0.5 - ns / 2.0) * ds;
            cells_in_circle += u * u + v * v <= R * R;
        }
    for (int a = 0; a < n; a++) {
        const vb_fp_minutia *m = &t->m[a];
        int neighbours = 0;
        for (int b = 0; b < n; b++) {
            double dx = t->m[b].x - m->x, dy = t->m[b].y - m->y;
            neighbours += b != a && dx * dx + dy * dy <= (R + reach) * (R + reach);
        }
        cylinder *c = &cs->c[cs->n];
        c->x = m->x, c->y = m->y, c->theta = m->theta;
        c->bits = cs->store + (size_t)cs->n * 2 * words;
        c->valid = c->bits + words;
        memset(c->bits, 0, 2 * words * sizeof *c->bits);
        double co = cos(m->theta), si = sin(m->theta);
        c->cells = 0;
        for (int i = 0; i < ns; i++)
            for (int j = 0; j < ns; j++) {
                double u = (i + 0.5 - ns / 2.0) * ds, v = (j + 0.5 - ns / 2.0) * ds;
                if (u * u + v * v > R * R)
                    continue;
                pt cell = {m->x + co * u - si * v, m->y + si * u + co * v};
                if (!in_hull(hull, nh, cell, p->mcc_omega))
                    continue;
                c->cells++;
                for (int k = 0; k < nd; k++) {
                    int bit = (k * ns + i) * ns + j;
                    c->valid[bit / 64] |= 1ull << (bit % 64);
                }
                double sum[64] = {0};
                for (int b = 0; b < n; b++) {
                    if (b == a)
                        continue;
                    double dx = t->m[b].x - cell.x, dy = t->m[b].y - cell.y, d2 = dx * dx + dy * dy;
                    if (d2 > reach * reach)
                        continue;
                    double cs_ = norm_s * exp(-d2 / (2 * ss * ss));
                    double dth = dphi(m->theta, t->m[b].theta);
                    for (int k = 0; k < nd && k < 64; k++) {
                        double phik = -PI + (k + 0.5) * dd, alpha = dphi(phik, dth);
                        double cd = 0.5 * (erf((alpha + dd / 2) / (sd * sqrt(2))) - erf((alpha - dd / 2) / (sd * sqrt(2))));
                        sum[k] += cs_ * cd;
                    }
                }
                for (int k = 0; k < nd && k < 64; k++)
                    if (sum[k] >= p->mcc_mu_psi) {
                        int bit = (k * ns + i) * ns + j;
                        c->bits[bit / 64] |= 1ull << (bit % 64);
                    }
            }
        if (c->cells >= p->mcc_min_vc * cells_in_circle && neighbours >= p->mcc_min_m)
            cs->n++;
    }
    free(pts);
    free(hull);
    return cs;
oom:
    free(pts);
    free(hull);
    vb_fp_cylinders_free(cs);
    vb_fail(e, VB_EXIT_IO, "out of memory making %d cylinders", n);
    return NULL;
}

void vb_fp_cylinders_free(vb_fp_cylinders *c)
{
    if (!c)
        return;
    free(c->c);
    free(c->store);
    free(c);
}

int vb_fp_cylinders_count(const vb_fp_cylinders *c)
{
    return c ? c->n : 0;
}

/* ------------------------------------------------------------- matching */

static double local_similarity(const vb_fp_cylinders *A, const cylinder *a, const cylinder *b,
                               const vb_fp_params *p)
{
    if (fabs(dphi(a->theta, b->theta)) > p->mcc_delta_theta)
        return 0;
    int common = 0, na = 0, nb = 0, nx = 0;
    for (int w = 0; w < A->words; w++) {
        uint64_t m = a->valid[w] & b->valid[w], x = a->bits[w] & m, y = b->bits[w] & m;
        common += __builtin_popcountll(m);
        na += __builtin_popcountll(x);
        nb += __builtin_popcountll(y);
        nx += __builtin_popcountll(x ^ y);
    }
    common /= A->nd; /* per (i, j) cell */
    if (common < p->mcc_min_me * A->ns * A->ns)
        return 0;
    double den = sqrt((double)na) + sqrt((double)nb);
    return den > 0 ? 1 - sqrt((double)nx) / den : 0;
}

static double sigmoid(double v, double mu, double tau)
{
    return 1 / (1 + exp(-tau * (v - mu)));
}

typedef struct pair {
    int a, b;
    double lambda0, lambda, eff;
} pair;

static int cmp_pair_sim(const void *x, const void *y)
{
    const pair *p = x, *q = y;
    if (p->lambda0 != q->lambda0)
        return p->lambda0 < q->lambda0 ? 1 : -1;
    if (p->a != q->a)
        return p->a - q->a;
    return p->b - q->b;
}

static int cmp_pair_eff(const void *x, const void *y)
{
    const pair *p = x, *q = y;
    if (p->eff != q->eff)
        return p->eff < q->eff ? 1 : -1;
    return cmp_pair_sim(x, y);
}

/* Compatibility of pairs s and t: distances, relative directions and radial angles agree. */
static double rho(const cylinder *a1, const cylinder *b1, const cylinder *a2, const cylinder *b2,
                  const vb_fp_params *p)
{
    double da = hypot(a2->x - a1->x, a2->y - a1->y), db = hypot(b2->x - b1->x, b2->y - b1->y);
    double d1 = fabs(da - db);
    double d2 = fabs(dphi(dphi(a1->theta, a2->theta), dphi(b1->theta, b2->theta)));
    double ra = dphi(a1->theta, atan2(a2->y - a1->y, a2->x - a1->x));
    double rb = dphi(b1->theta, atan2(b2->y - b1->y, b2->x - b1->x));
    double d3 = fabs(dphi(ra, rb));
    return sigmoid(d1, p->relax_mu1, p->relax_tau1) * sigmoid(d2, p->relax_mu2, p->relax_tau2) *
           sigmoid(d3, p->relax_mu3, p->relax_tau3);
}

double vb_fp_match(const vb_fp_cylinders *A, const vb_fp_cylinders *B, const vb_fp_params *p)
{
    if (!A || !B || !A->n || !B->n || A->words != B->words)
        return 0;
    int na = A->n, nb = B->n, nmin = na < nb ? na : nb;
    pair *all = malloc((size_t)na * nb * sizeof *all);
    double *lam = malloc((size_t)nmin * sizeof *lam);
    uint8_t *used_a = calloc(na, 1), *used_b = calloc(nb, 1);
    double score = 0;
    if (!all || !lam || !used_a || !used_b)
        goto done;
    size_t n = 0;
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++) {
            double s = local_similarity(A, &A->c[i], &B->c[j], p);
            if (s > 0)
                all[n++] = (pair){i, j, s, s, 0};
        }
    qsort(all, n, sizeof *all, cmp_pair_sim);
    /* the nR = min(nA, nB) most similar pairs, each minutia used once */
    int nr = 0;
    for (size_t k = 0; k < n && nr < nmin; k++)
        if (!used_a[all[k].a] && !used_b[all[k].b]) {
            used_a[all[k].a] = used_b[all[k].b] = 1;
            all[nr++] = all[k];
        }
    if (!nr)
        goto done;
    /* relaxation: a pair keeps its similarity in proportion to the support of the others */
    for (int it = 0; it < (int)p->relax_iter && nr > 1; it++) {
        for (int s = 0; s < nr; s++) {
            double support = 0;
            for (int t = 0; t < nr; t++)
                if (t != s)
                    support += rho(&A->c[all[s].a], &B->c[all[s].b], &A->c[all[t].a], &B->c[all[t].b], p) *
                               all[t].lambda;
            lam[s] = p->relax_w * all[s].lambda + (1 - p->relax_w) * support / (nr - 1);
        }
        for (int s = 0; s < nr; s++)
            all[s].lambda = lam[s];
    }
    for (int s = 0; s < nr; s++)
        all[s].eff = all[s].lambda / all[s].lambda0;
    qsort(all, nr, sizeof *all, cmp_pair_eff);
    int np = (int)p->mcc_min_np +
             (int)lrint(sigmoid(nmin, p->mcc_mu_p, p->mcc_tau_p) * (p->mcc_max_np - p->mcc_min_np));
    /* fewer supported pairs than nP count as zeros: a two-minutia coincidence is no match */
    for (int s = 0; s < np && s < nr; s++)
        score += all[s].lambda;
    score /= np;
done:
    free(all);
    free(lam);
    free(used_a);
    free(used_b);
    return score < 0 ? 0 : score > 1 ? 1 : score;
}

/* ------------------------------------------------------------- gallery */

typedef struct gallery_job {
    vb_fp_gallery *g;
    const float *records;
    const uint8_t *ok;
    size_t begin, end;
    vb_err e;
    int failed;
} gallery_job;

static void *build_range(void *arg)
{
    gallery_job *j = arg;
    for (size_t i = j->begin; i < j->end && !j->failed; i++) {
        if (!j->ok[i])
            continue;
        vb_fp_template t;
        if (vb_fp_template_unpack(j->records + i * VB_FP_TEMPLATE_FLOATS, &t, &j->e)) {
            vb_err_prefix(&j->e, "sample %zu", i);
            j->failed = 1;
            break;
        }
        j->g->c[i] = vb_fp_cylinders_make(&t, &j->g->p, &j->e);
        j->failed = !j->g->c[i];
    }
    return NULL;
}

int vb_fp_gallery_build(vb_fp_gallery *g, const float *records, const uint8_t *ok, size_t n,
                        const vb_fp_params *p, int threads, vb_err *e)
{
    enum { MAX_THREADS = 16 };
    memset(g, 0, sizeof *g);
    g->p = *p;
    g->n = n;
    g->c = calloc(n ? n : 1, sizeof *g->c);
    if (!g->c)
        return vb_fail(e, VB_EXIT_IO, "out of memory");
    threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    gallery_job jobs[MAX_THREADS];
    size_t per = (n + threads - 1) / threads;
    for (int t = 0; t < threads; t++) {
        size_t lo = t * per < n ? t * per : n, hi = lo + per < n ? lo + per : n;
        jobs[t] = (gallery_job){.g = g, .records = records, .ok = ok, .begin = lo, .end = hi};
    }
    vb_parallel_run(jobs, sizeof jobs[0], threads, build_range);
    for (int t = 0; t < threads; t++)
        if (jobs[t].failed) {
            *e = jobs[t].e;
            vb_fp_gallery_free(g);
            return -1;
        }
    return 0;
}

double vb_fp_gallery_distance(const void *ctx, uint32_t a, uint32_t b)
{
    const vb_fp_gallery *g = ctx;
    return 1 - vb_fp_match(g->c[a], g->c[b], &g->p);
}

void vb_fp_gallery_free(vb_fp_gallery *g)
{
    for (size_t i = 0; g->c && i < g->n; i++)
        vb_fp_cylinders_free(g->c[i]);
    free(g->c);
    memset(g, 0, sizeof *g);
}
