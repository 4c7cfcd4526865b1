/* Demographic differentials: see reports/demographics.h. */
#include "reports/demographics.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv_write.h"
#include "reports/format.h"
#include "reports/intervals.h"

vb_demog *vb_demog_new(vb_err *e)
{
    vb_demog *d = vb_calloc(1, sizeof *d, e);
    if (d)
        d->level = NAN;
    return d;
}

void vb_demog_free(vb_demog *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_attrs; i++) {
        vb_demog_attr *a = &d->attr[i];
        for (size_t g = 0; g < VB_ATTR_MAX_VALUES; g++) {
            free(a->det[g].pts);
            for (size_t h = 0; h < VB_ATTR_MAX_VALUES; h++)
                free(a->pair[g][h]);
        }
    }
    free(d);
}

size_t vb_demog_points(const vb_metrics *m, int with_calibrated, vb_demog_point *out)
{
    size_t n = 0;
    if (m->have & VB_MG_MODEL_THRESHOLD)
        out[n++] = (vb_demog_point){"threshold", m->threshold};
    for (int j = VB_FMR_1E1; j <= VB_FMR_1E6 && (m->have & VB_MG_CORE); j++)
        if (m->fnmr_at_fmr[j].rule_of_3 == 0) {
            snprintf(out[n].name, sizeof out[n].name, "fmr=%s", vb_fmr_target_text[j]);
            out[n++].threshold = m->fnmr_at_fmr[j].threshold;
        }
    if (with_calibrated && (m->have & VB_MG_CALIBRATION))
        out[n++] = (vb_demog_point){"calibrated", m->calibrated_threshold};
    return n;
}

/* ------------------------------------------------------------------ counting */

typedef struct acc_attr {
    const vb_attribute *a;
    size_t G;
    uint64_t gen_excluded, imp_excluded;
    uint64_t *gen;    /* [g] */
    uint64_t *imp;    /* [g*G+h], g <= h */
    uint64_t *fnm;    /* [p*G+g] */
    uint64_t *fm;     /* [(p*G+g)*G+h] */
    uint64_t *det_g;  /* [g*(nc+1)+J]: genuine trials of g accepted at exactly the first J curve points */
    uint64_t *det_gg; /* the same for impostor trials of g+g */
    uint64_t *block;  /* all of the above */
    size_t n_block;
} acc_attr;

struct vb_demog_acc {
    const vb_attributes *attrs;
    acc_attr at[VB_ATTR_MAX];
    size_t n_points;
    vb_demog_point points[VB_DEMOG_MAX_POINTS];
    double sim_t[VB_DEMOG_MAX_POINTS];
    double *curve_sim; /* the curve's thresholds as similarities, non-decreasing */
    size_t nc;
    /* a uniform grid over [curve_sim[0], curve_sim[nc-1]]: grid[i] = how many thresholds are
     * <= edge i, so a trial's count starts there and scans a few points, instead of a
     * binary search per trial (lfw-all: 87M trials) */
    uint32_t *grid;
    double grid_lo, grid_step;
    const vb_curve *curve;
    int is_distance;
    uint64_t gen, imp, fnm[VB_DEMOG_MAX_POINTS], fm[VB_DEMOG_MAX_POINTS];
};

void vb_demog_acc_free(vb_demog_acc *acc)
{
    if (!acc)
        return;
    for (size_t i = 0; i < VB_ATTR_MAX; i++)
        free(acc->at[i].block);
    free(acc->curve_sim);
    free(acc->grid);
    free(acc);
}

enum { GRID_CELLS = 1 << 16 };

static double grid_edge(const vb_demog_acc *acc, size_t i)
{
    return acc->grid_lo + (double)i * acc->grid_step;
}

static int build_grid(vb_demog_acc *acc, vb_err *e)
{
    size_t first = 0, last = acc->nc; /* the finite thresholds (an FTA score can be one) */
    while (first < acc->nc && !isfinite(acc->curve_sim[first]))
        first++;
    while (last > first && !isfinite(acc->curve_sim[last - 1]))
        last--;
    if (last - first < 2 || !(acc->curve_sim[last - 1] > acc->curve_sim[first]))
        return 0; /* binary search only */
    double lo = acc->curve_sim[first], hi = acc->curve_sim[last - 1];
    if (!(acc->grid = vb_malloc(GRID_CELLS * sizeof *acc->grid, e)))
        return -1;
    acc->grid_lo = lo;
    acc->grid_step = (hi - lo) / GRID_CELLS;
    for (size_t i = 0; i < GRID_CELLS; i++)
        acc->grid[i] = (uint32_t)vb_sorted_count_at_most(acc->curve_sim, acc->nc, grid_edge(acc, i));
    return 0;
}

/* How many curve points accept similarity s: their thresholds are <= s. Exact whatever the
 * rounding of the cell index: the count starts at an edge known to be <= s. */
static size_t accepted_points(const vb_demog_acc *acc, double s)
{
    if (!acc->grid || !(s >= acc->grid_lo))
        return vb_sorted_count_at_most(acc->curve_sim, acc->nc, s);
    double x = (s - acc->grid_lo) / acc->grid_step;
    size_t i = x < GRID_CELLS - 1 ? (size_t)x : GRID_CELLS - 1;
    while (i > 0 && s < grid_edge(acc, i))
        i--;
    size_t j = acc->grid[i];
    while (j < acc->nc && acc->curve_sim[j] <= s)
        j++;
    return j;
}

vb_demog_acc *vb_demog_acc_new(const vb_attributes *attrs, const vb_demog_point *points, size_t n_points,
                               const vb_curve *curve, int is_distance, vb_err *e)
{
    vb_demog_acc *acc = vb_calloc(1, sizeof *acc, e);
    if (!acc)
        return NULL;
    acc->attrs = attrs;
    acc->is_distance = is_distance;
    acc->n_points = n_points < VB_DEMOG_MAX_POINTS ? n_points : VB_DEMOG_MAX_POINTS;
    for (size_t p = 0; p < acc->n_points; p++) {
        acc->points[p] = points[p];
        acc->sim_t[p] = is_distance ? -points[p].threshold : points[p].threshold;
    }
    if (curve && curve->n) {
        if (!(acc->curve_sim = vb_malloc(curve->n * sizeof *acc->curve_sim, e))) {
            vb_demog_acc_free(acc);
            return NULL;
        }
        acc->nc = curve->n;
        acc->curve = curve;
        for (size_t k = 0; k < curve->n; k++) {
            acc->curve_sim[k] = is_distance ? -curve->pts[k].threshold : curve->pts[k].threshold;
            if (k && !(acc->curve_sim[k] >= acc->curve_sim[k - 1]))
                acc->nc = 0; /* not a threshold order: no per-group DET */
        }
        if (acc->nc && build_grid(acc, e)) {
            vb_demog_acc_free(acc);
            return NULL;
        }
    }
    for (size_t i = 0; i < attrs->n; i++) {
        acc_attr *t = &acc->at[i];
        size_t G = attrs->attr[i].n_values, P = acc->n_points, H = acc->nc + 1;
        t->a = &attrs->attr[i];
        t->G = G;
        t->n_block = G + G * G + P * G + P * G * G + 2 * G * H;
        if (!(t->block = vb_calloc(t->n_block ? t->n_block : 1, sizeof *t->block, e))) {
            vb_demog_acc_free(acc);
            return NULL;
        }
        t->gen = t->block;
        t->imp = t->gen + G;
        t->fnm = t->imp + G * G;
        t->fm = t->fnm + P * G;
        t->det_g = t->fm + P * G * G;
        t->det_gg = t->det_g + G * H;
    }
    return acc;
}

void vb_demog_add(vb_demog_acc *acc, uint32_t a, uint32_t b, uint8_t label, double score)
{
    double s = acc->is_distance ? -score : score;
    size_t P = acc->n_points, H = acc->nc + 1;
    unsigned char accept[VB_DEMOG_MAX_POINTS];
    for (size_t p = 0; p < P; p++) {
        accept[p] = s >= acc->sim_t[p];
        if (label)
            acc->fnm[p] += !accept[p];
        else
            acc->fm[p] += accept[p];
    }
    if (label)
        acc->gen++;
    else
        acc->imp++;
    size_t J = acc->nc ? accepted_points(acc, s) : 0;
    for (size_t i = 0; i < acc->attrs->n; i++) {
        acc_attr *t = &acc->at[i];
        uint16_t va = t->a->of_sample[a], vb = t->a->of_sample[b];
        size_t G = t->G;
        if (va == VB_ATTR_UNLABELLED || vb == VB_ATTR_UNLABELLED || (label && va != vb)) {
            if (label)
                t->gen_excluded++;
            else
                t->imp_excluded++;
            continue;
        }
        if (label) {
            t->gen[va]++;
            for (size_t p = 0; p < P; p++)
                t->fnm[p * G + va] += !accept[p];
            t->det_g[va * H + J]++;
            continue;
        }
        size_t g = va < vb ? va : vb, h = va < vb ? vb : va;
        t->imp[g * G + h]++;
        for (size_t p = 0; p < P; p++)
            t->fm[(p * G + g) * G + h] += accept[p];
        if (g == h)
            t->det_gg[g * H + J]++;
    }
}

void vb_demog_acc_merge(vb_demog_acc *dst, const vb_demog_acc *src)
{
    dst->gen += src->gen, dst->imp += src->imp;
    for (size_t p = 0; p < dst->n_points; p++)
        dst->fnm[p] += src->fnm[p], dst->fm[p] += src->fm[p];
    for (size_t i = 0; i < dst->attrs->n; i++) {
        acc_attr *t = &dst->at[i];
        const acc_attr *u = &src->at[i];
        t->gen_excluded += u->gen_excluded, t->imp_excluded += u->imp_excluded;
        for (size_t k = 0; k < t->n_block; k++)
            t->block[k] += u->block[k];
    }
}

/* One rate from its counts; overall = the rate over all trials at that threshold. */
static void fill_rate(vb_demog_rate *r, uint64_t errors, uint64_t trials, double overall, double level)
{
    vb_interval cp = vb_clopper_pearson(errors, trials, level), w = vb_wilson(errors, trials, level);
    r->errors = (double)errors;
    r->rate = trials ? (double)errors / (double)trials : NAN;
    r->ci_low = cp.low, r->ci_high = cp.high, r->wilson_low = w.low, r->wilson_high = w.high;
    r->vs_overall = r->rate / overall;
    r->rule_of_3 = !trials || 3.0 / (double)trials > overall;
    r->rule_of_30 = errors < 30;
}

/* max/min over the cells with trials, with the Bonferroni bound of the header. */
static void fill_ratio(vb_demog_ratio *q, const vb_demog_cell *const *cells, size_t n, size_t p, double level)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += cells[i]->trials > 0;
    *q = (vb_demog_ratio){NAN, NAN, NAN, NAN};
    if (k < 2)
        return;
    double joint = 1 - (1 - level) / (double)k;
    double max = -1, min = INFINITY, max_lo = -1, min_lo = INFINITY, max_hi = -1, min_hi = INFINITY;
    int few = 0;
    for (size_t i = 0; i < n; i++) {
        const vb_demog_cell *c = cells[i];
        if (!(c->trials > 0))
            continue;
        const vb_demog_rate *r = &c->at[p];
        vb_interval ci = vb_clopper_pearson((uint64_t)r->errors, (uint64_t)c->trials, joint);
        max = fmax(max, r->rate), min = fmin(min, r->rate);
        max_lo = fmax(max_lo, ci.low), min_lo = fmin(min_lo, ci.low);
        max_hi = fmax(max_hi, ci.high), min_hi = fmin(min_hi, ci.high);
        few |= r->rule_of_30 == 1;
    }
    q->ratio = max == 0 ? NAN : min == 0 ? INFINITY : max / min;
    q->ci_high = min_lo == 0 ? INFINITY : max_hi / min_lo;
    q->ci_low = fmax(1, max_lo / min_hi);
    q->rule_of_30 = few;
}

/* The per-group DET of group g from the histograms; empty when g or g+g has no trials. */
static int group_det(const vb_demog_acc *acc, const acc_attr *t, size_t g, vb_curve *out, vb_err *e)
{
    size_t H = acc->nc + 1;
    uint64_t ng = t->gen[g], ni = t->imp[g * t->G + g];
    if (!acc->nc || !ng || !ni)
        return 0;
    if (!(out->pts = vb_malloc(acc->nc * sizeof *out->pts, e)))
        return -1;
    out->cap = out->n = acc->nc;
    uint64_t cg = 0, ci = 0;
    for (size_t k = 0; k < acc->nc; k++) {
        cg += t->det_g[g * H + k];  /* rejected at point k: accepted by at most the first k points */
        ci += t->det_gg[g * H + k];
        out->pts[k] = (vb_curve_point){(double)(ni - ci) / (double)ni, (double)cg / (double)ng,
                                       acc->curve->pts[k].threshold};
    }
    return 0;
}

static vb_demog_cell *new_cell(vb_err *e)
{
    vb_demog_cell *c = vb_malloc(sizeof *c, e);
    if (!c)
        return NULL;
    c->samples = c->trials = NAN;
    for (size_t p = 0; p < VB_DEMOG_MAX_POINTS; p++)
        c->at[p] = (vb_demog_rate){NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    return c;
}

int vb_demog_finish(const vb_demog_acc *acc, double level, vb_demog *out, vb_err *e)
{
    size_t P = acc->n_points;
    out->level = level;
    out->n_points = P;
    memcpy(out->point, acc->points, P * sizeof *acc->points);
    for (size_t i = 0; i < acc->attrs->n; i++) {
        const acc_attr *t = &acc->at[i];
        vb_demog_attr *a = &out->attr[out->n_attrs++];
        size_t G = t->G;
        snprintf(a->name, sizeof a->name, "%s", t->a->name);
        a->n_groups = G;
        a->samples_unlabelled = t->a->n_unlabelled;
        a->genuine_excluded = (double)t->gen_excluded;
        a->impostor_excluded = (double)t->imp_excluded;
        const vb_demog_cell *groups[VB_ATTR_MAX_VALUES], *same[VB_ATTR_MAX_VALUES];
        for (size_t g = 0; g < G; g++) {
            snprintf(a->groups[g], sizeof a->groups[g], "%s", t->a->values[g]);
            vb_demog_cell *c = &a->group[g];
            c->samples = 0;
            for (uint32_t s = 0; s < acc->attrs->n_samples; s++)
                c->samples += t->a->of_sample[s] == g;
            c->trials = (double)t->gen[g];
            for (size_t p = 0; p < P; p++)
                fill_rate(&c->at[p], t->fnm[p * G + g], t->gen[g], (double)acc->fnm[p] / (double)acc->gen, level);
            groups[g] = c;
            for (size_t h = g; h < G; h++) {
                if (!t->imp[g * G + h])
                    continue;
                vb_demog_cell *pc = a->pair[g][h] = new_cell(e);
                if (!pc)
                    return -1;
                pc->trials = (double)t->imp[g * G + h];
                for (size_t p = 0; p < P; p++)
                    fill_rate(&pc->at[p], t->fm[(p * G + g) * G + h], t->imp[g * G + h],
                              (double)acc->fm[p] / (double)acc->imp, level);
            }
            if (group_det(acc, t, g, &a->det[g], e))
                return -1;
        }
        static const vb_demog_cell none = {0};
        for (size_t g = 0; g < G; g++)
            same[g] = a->pair[g][g] ? a->pair[g][g] : &none;
        for (size_t p = 0; p < P; p++) {
            fill_ratio(&a->fnmr_ratio[p], groups, G, p, level);
            fill_ratio(&a->fmr_ratio[p], same, G, p, level);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ row names */

enum row_kind { K_ATTR, K_GROUP, K_PAIR, K_FNMR, K_FMR, K_FNMR_RATIO, K_FMR_RATIO };

typedef struct suffix_row {
    const char *suffix, *unit;
    size_t offset;
} suffix_row;

#define VB_DEMOG_RATE_SUFFIX(f, s, u, d) {s, u, offsetof(vb_demog_rate, f)},
#define VB_DEMOG_RATIO_SUFFIX(f, s, u, d) {s, u, offsetof(vb_demog_ratio, f)},
static const suffix_row rate_rows[] = {VB_DEMOG_RATE_ROWS(VB_DEMOG_RATE_SUFFIX)};
static const suffix_row ratio_rows[] = {VB_DEMOG_RATIO_ROWS(VB_DEMOG_RATIO_SUFFIX)};

/* The point-free rows: {scope, name, offset}. */
static const struct {
    int scope;
    const char *name;
    size_t offset;
} plain_rows[] = {
    {0, "samples_unlabelled", offsetof(vb_demog_attr, samples_unlabelled)},
    {0, "genuine_excluded", offsetof(vb_demog_attr, genuine_excluded)},
    {0, "impostor_excluded", offsetof(vb_demog_attr, impostor_excluded)},
    {1, "samples", offsetof(vb_demog_cell, samples)},
    {1, "genuine", offsetof(vb_demog_cell, trials)},
    {2, "impostor", offsetof(vb_demog_cell, trials)},
};

/* "threshold", "calibrated", "fmr=1e-1" .. "fmr=1e-6": length of the point name at the start
 * of text, 0 when none. */
static size_t point_prefix(const char *text, char *name, size_t n)
{
    char cand[VB_FMR_TARGETS + 2][32];
    size_t k = 0;
    snprintf(cand[k++], 32, "threshold");
    snprintf(cand[k++], 32, "calibrated");
    for (int j = VB_FMR_1E1; j <= VB_FMR_1E6; j++)
        snprintf(cand[k++], 32, "fmr=%s", vb_fmr_target_text[j]);
    size_t best = 0;
    for (size_t i = 0; i < k; i++) {
        size_t len = strlen(cand[i]);
        if (!strncmp(text, cand[i], len) && len > best) {
            best = len;
            snprintf(name, n, "%s", cand[i]);
        }
    }
    return best;
}

static int split_scope(const char *scope, vb_demog_name *out)
{
    const char *eq = strchr(scope, '=');
    size_t an = eq ? (size_t)(eq - scope) : strlen(scope);
    if (an >= sizeof out->attr)
        return 0;
    memcpy(out->attr, scope, an);
    out->attr[an] = 0;
    if (!vb_attribute_name_ok(out->attr))
        return 0;
    out->scope = 0;
    if (!eq)
        return 1;
    const char *plus = strchr(eq + 1, '+');
    size_t gn = plus ? (size_t)(plus - eq - 1) : strlen(eq + 1);
    if (gn >= sizeof out->g)
        return 0;
    memcpy(out->g, eq + 1, gn);
    out->g[gn] = 0;
    out->scope = 1;
    if (plus) {
        if (strlen(plus + 1) >= sizeof out->h)
            return 0;
        strcpy(out->h, plus + 1);
        out->scope = 2;
        if (!vb_attribute_value_ok(out->h) || strcmp(out->g, out->h) > 0)
            return 0;
    }
    return vb_attribute_value_ok(out->g);
}

int vb_demog_parse_name(const char *name, vb_demog_name *out)
{
    memset(out, 0, sizeof *out);
    const char *colon = strchr(name, ':');
    char scope[3 * VB_ATTR_NAME_MAX];
    size_t sn = colon ? (size_t)(colon - name) : 0;
    if (!colon || sn >= sizeof scope)
        return 0;
    memcpy(scope, name, sn);
    scope[sn] = 0;
    if (!split_scope(scope, out))
        return 0;
    const char *metric = colon + 1, *at = strchr(metric, '@');
    if (!at) {
        for (size_t i = 0; i < VB_ARRAY_LEN(plain_rows); i++)
            if (plain_rows[i].scope == out->scope && !strcmp(metric, plain_rows[i].name)) {
                out->kind = plain_rows[i].scope, out->field = plain_rows[i].offset;
                out->unit = "count";
                return 1;
            }
        return 0;
    }
    static const struct {
        int scope, kind;
        const char *base;
    } bases[] = {{1, K_FNMR, "fnmr"}, {2, K_FMR, "fmr"}, {0, K_FNMR_RATIO, "fnmr_ratio"}, {0, K_FMR_RATIO, "fmr_ratio"}};
    size_t bn = (size_t)(at - metric);
    for (size_t i = 0; i < VB_ARRAY_LEN(bases); i++) {
        if (bases[i].scope != out->scope || strlen(bases[i].base) != bn || strncmp(metric, bases[i].base, bn))
            continue;
        size_t pn = point_prefix(at + 1, out->point, sizeof out->point);
        if (!pn)
            return 0;
        const char *suffix = at + 1 + pn;
        int ratio = bases[i].kind == K_FNMR_RATIO || bases[i].kind == K_FMR_RATIO;
        const suffix_row *rows = ratio ? ratio_rows : rate_rows;
        size_t n = ratio ? VB_ARRAY_LEN(ratio_rows) : VB_ARRAY_LEN(rate_rows);
        for (size_t r = 0; r < n; r++)
            if (!strcmp(suffix, rows[r].suffix)) {
                out->kind = bases[i].kind, out->field = rows[r].offset, out->unit = rows[r].unit;
                out->has_interval = !suffix[0];
                return 1;
            }
        return 0;
    }
    return 0;
}

/* ------------------------------------------------------------------ writing rows */

typedef struct row_out {
    FILE *f;
    const char *const *prefix;
    size_t n_prefix;
} row_out;

static void row(const row_out *o, const char *name, double v)
{
    for (size_t i = 0; i < o->n_prefix; i++) {
        vb_csv_field(o->f, o->prefix[i] ? o->prefix[i] : "");
        fputc(',', o->f);
    }
    char text[32];
    vb_format_double(v, text);
    vb_csv_field(o->f, name);
    fprintf(o->f, ",%s\n", text);
}

static void rate_rows_out(const row_out *o, const char *stem, const void *base)
{
    for (size_t r = 0; r < VB_ARRAY_LEN(rate_rows); r++) {
        char name[320];
        snprintf(name, sizeof name, "%s%s", stem, rate_rows[r].suffix);
        row(o, name, *(const double *)((const char *)base + rate_rows[r].offset));
    }
}

static void ratio_rows_out(const row_out *o, const char *stem, const vb_demog_ratio *q)
{
    for (size_t r = 0; r < VB_ARRAY_LEN(ratio_rows); r++) {
        char name[320];
        snprintf(name, sizeof name, "%s%s", stem, ratio_rows[r].suffix);
        row(o, name, *(const double *)((const char *)q + ratio_rows[r].offset));
    }
}

int vb_demog_write_csv(const vb_demog *d, FILE *f, const char *const *prefix, size_t n_prefix, vb_err *e)
{
    row_out o = {f, prefix, n_prefix};
    char name[320];
    for (size_t i = 0; d && i < d->n_attrs; i++) {
        const vb_demog_attr *a = &d->attr[i];
        for (size_t k = 0; k < 3; k++) {
            snprintf(name, sizeof name, "%s:%s", a->name, plain_rows[k].name);
            row(&o, name, *(const double *)((const char *)a + plain_rows[k].offset));
        }
        for (size_t g = 0; g < a->n_groups; g++) {
            snprintf(name, sizeof name, "%s=%s:samples", a->name, a->groups[g]);
            row(&o, name, a->group[g].samples);
            snprintf(name, sizeof name, "%s=%s:genuine", a->name, a->groups[g]);
            row(&o, name, a->group[g].trials);
        }
        for (size_t g = 0; g < a->n_groups; g++)
            for (size_t h = g; h < a->n_groups; h++)
                if (a->pair[g][h]) {
                    snprintf(name, sizeof name, "%s=%s+%s:impostor", a->name, a->groups[g], a->groups[h]);
                    row(&o, name, a->pair[g][h]->trials);
                }
        for (size_t p = 0; p < d->n_points; p++) {
            const char *pn = d->point[p].name;
            for (size_t g = 0; g < a->n_groups; g++) {
                snprintf(name, sizeof name, "%s=%s:fnmr@%s", a->name, a->groups[g], pn);
                rate_rows_out(&o, name, &a->group[g].at[p]);
            }
            for (size_t g = 0; g < a->n_groups; g++)
                for (size_t h = g; h < a->n_groups; h++)
                    if (a->pair[g][h]) {
                        snprintf(name, sizeof name, "%s=%s+%s:fmr@%s", a->name, a->groups[g], a->groups[h], pn);
                        rate_rows_out(&o, name, &a->pair[g][h]->at[p]);
                    }
            snprintf(name, sizeof name, "%s:fnmr_ratio@%s", a->name, pn);
            ratio_rows_out(&o, name, &a->fnmr_ratio[p]);
            snprintf(name, sizeof name, "%s:fmr_ratio@%s", a->name, pn);
            ratio_rows_out(&o, name, &a->fmr_ratio[p]);
        }
    }
    if (ferror(f))
        return vb_fail(e, VB_EXIT_IO, "write error");
    return 0;
}

/* ------------------------------------------------------------------ reading rows */

static vb_demog_attr *find_attr(vb_demog *d, const char *name)
{
    for (size_t i = 0; i < d->n_attrs; i++)
        if (!strcmp(d->attr[i].name, name))
            return &d->attr[i];
    if (d->n_attrs == VB_ATTR_MAX)
        return NULL;
    vb_demog_attr *a = &d->attr[d->n_attrs++];
    snprintf(a->name, sizeof a->name, "%s", name);
    a->samples_unlabelled = a->genuine_excluded = a->impostor_excluded = NAN;
    return a;
}

static int find_group(vb_demog_attr *a, const char *name)
{
    for (size_t g = 0; g < a->n_groups; g++)
        if (!strcmp(a->groups[g], name))
            return (int)g;
    if (a->n_groups == VB_ATTR_MAX_VALUES)
        return -1;
    size_t g = a->n_groups++;
    snprintf(a->groups[g], sizeof a->groups[g], "%s", name);
    vb_demog_cell *c = &a->group[g];
    c->samples = c->trials = NAN;
    for (size_t p = 0; p < VB_DEMOG_MAX_POINTS; p++)
        c->at[p] = (vb_demog_rate){NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    return (int)g;
}

static int find_point(vb_demog *d, const char *name)
{
    for (size_t p = 0; p < d->n_points; p++)
        if (!strcmp(d->point[p].name, name))
            return (int)p;
    if (d->n_points == VB_DEMOG_MAX_POINTS)
        return -1;
    size_t p = d->n_points++;
    snprintf(d->point[p].name, sizeof d->point[p].name, "%s", name);
    d->point[p].threshold = NAN;
    for (size_t i = 0; i < d->n_attrs; i++)
        d->attr[i].fnmr_ratio[p] = d->attr[i].fmr_ratio[p] = (vb_demog_ratio){NAN, NAN, NAN, NAN};
    return (int)p;
}

int vb_demog_set_row(vb_demog *d, const char *name, double value)
{
    vb_demog_name n;
    if (!vb_demog_parse_name(name, &n))
        return 0;
    size_t before = d->n_attrs;
    vb_demog_attr *a = find_attr(d, n.attr);
    if (!a)
        return -1;
    if (d->n_attrs != before)
        for (size_t p = 0; p < VB_DEMOG_MAX_POINTS; p++)
            a->fnmr_ratio[p] = a->fmr_ratio[p] = (vb_demog_ratio){NAN, NAN, NAN, NAN};
    int p = n.point[0] ? find_point(d, n.point) : 0;
    int g = n.scope ? find_group(a, n.g) : 0, h = n.scope == 2 ? find_group(a, n.h) : 0;
    if (p < 0 || g < 0 || h < 0)
        return -1;
    vb_demog_cell *cell = n.scope == 1 ? &a->group[g] : NULL;
    if (n.scope == 2) {
        if (!a->pair[g][h]) {
            vb_err e;
            if (!(a->pair[g][h] = new_cell(&e)))
                return -1;
        }
        cell = a->pair[g][h];
    }
    char *base = n.kind == K_ATTR                              ? (char *)a
                 : n.kind == K_GROUP || n.kind == K_PAIR       ? (char *)cell
                 : n.kind == K_FNMR || n.kind == K_FMR         ? (char *)&cell->at[p]
                 : n.kind == K_FNMR_RATIO                      ? (char *)&a->fnmr_ratio[p]
                                                               : (char *)&a->fmr_ratio[p];
    *(double *)(base + n.field) = value;
    return 1;
}

void vb_demog_set_context(vb_demog *d, const vb_metrics *m)
{
    vb_demog_point known[VB_DEMOG_MAX_POINTS];
    size_t n = vb_demog_points(m, 1, known);
    d->level = m->confidence;
    for (size_t p = 0; p < d->n_points; p++)
        for (size_t k = 0; k < n; k++)
            if (!strcmp(d->point[p].name, known[k].name))
                d->point[p].threshold = known[k].threshold;
}

/* ------------------------------------------------------------------ report sections */

/* FNMR in percent, FMR in scientific notation (they differ by orders of magnitude). */
static const char *fmt_rate(double v, int fmr, char buf[32])
{
    if (!fmr)
        return vb_fmt_pct(v, buf);
    return vb_fmt_num(v, "%.3g", buf);
}

static void rate_text(const vb_demog_rate *r, int fmr, char *buf, size_t n)
{
    char v[32], lo[32], hi[32];
    const char *text = fmt_rate(r->rate, fmr, v);
    if (isnan(r->ci_low))
        snprintf(buf, n, "%s", text);
    else
        snprintf(buf, n, "%s [%s, %s]", text, fmt_rate(r->ci_low, fmr, lo), fmt_rate(r->ci_high, fmr, hi));
}

static void flags_text(double r3, double r30, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s%s", r3 == 1 ? "rule of 3" : "", r3 == 1 && r30 == 1 ? ", " : "",
             r30 == 1 ? "rule of 30" : "");
}

static void md_line(void *arg, const char *const *cells, size_t n)
{
    FILE *f = arg;
    fputs("|", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, " %s |", cells[i]);
    fputs("\n", f);
}

#define COLS VB_DEMOG_COLUMNS
const char *const vb_demog_columns[VB_DEMOG_COLUMNS] = {"point", "threshold", "rate", "group", "trials", "errors",
                                                       "rate [CI]", "× overall"};
#define columns vb_demog_columns
typedef vb_demog_line_fn line_fn;

static void cell_line(void *f, line_fn line, const char *point, const char *thr, int fmr, const char *group,
                      const vb_demog_cell *c, size_t p)
{
    char tb[32], eb[32], rate[128], vb[32], flags[40], rate_flags[200];
    const vb_demog_rate *r = &c->at[p];
    rate_text(r, fmr, rate, sizeof rate);
    flags_text(r->rule_of_3, r->rule_of_30, flags, sizeof flags);
    snprintf(rate_flags, sizeof rate_flags, "%s%s%s%s", rate, flags[0] ? " (" : "", flags, flags[0] ? ")" : "");
    const char *cells[COLS] = {point,
                               thr,
                               fmr ? "FMR" : "FNMR",
                               group,
                               vb_fmt_num(c->trials, "%.0f", tb),
                               vb_fmt_num(r->errors, "%.0f", eb),
                               rate_flags,
                               vb_fmt_num(r->vs_overall, "%.3g", vb)};
    line(f, cells, COLS);
}

static void ratio_line(void *f, line_fn line, const char *point, const char *thr, const char *what,
                       const vb_demog_ratio *q)
{
    char v[32], lo[32], hi[32], text[160];
    snprintf(text, sizeof text, "%s [%s, %s]%s", vb_fmt_num(q->ratio, "%.3g", v), vb_fmt_num(q->ci_low, "%.3g", lo),
             vb_fmt_num(q->ci_high, "%.3g", hi), q->rule_of_30 == 1 ? " (rule of 30)" : "");
    const char *cells[COLS] = {point, thr, what, "max/min", "", "", text, ""};
    line(f, cells, COLS);
}

void vb_demog_table(const vb_demog *d, const vb_demog_attr *a, vb_demog_line_fn line, void *f)
{
    for (size_t p = 0; p < d->n_points; p++) {
        char tb[32];
        const char *pn = d->point[p].name, *thr = vb_fmt_num(d->point[p].threshold, "%.6g", tb);
        for (size_t g = 0; g < a->n_groups; g++)
            cell_line(f, line, pn, thr, 0, a->groups[g], &a->group[g], p);
        for (size_t g = 0; g < a->n_groups; g++)
            for (size_t h = g; h < a->n_groups; h++)
                if (a->pair[g][h]) {
                    char pair[2 * VB_ATTR_NAME_MAX + 4];
                    snprintf(pair, sizeof pair, "%s–%s", a->groups[g], a->groups[h]);
                    cell_line(f, line, pn, thr, 1, pair, a->pair[g][h], p);
                }
        ratio_line(f, line, pn, thr, "FNMR ratio", &a->fnmr_ratio[p]);
        ratio_line(f, line, pn, thr, "FMR ratio (same-group)", &a->fmr_ratio[p]);
    }
}

void vb_demog_attr_summary(const vb_demog_attr *a, char *buf, size_t n)
{
    size_t len = (size_t)snprintf(buf, n, "Groups:");
    for (size_t g = 0; g < a->n_groups && len < n; g++) {
        char s[32];
        len += (size_t)snprintf(buf + len, n - len, "%s %s (%s samples)", g ? "," : "", a->groups[g],
                                vb_fmt_num(a->group[g].samples, "%.0f", s));
    }
    char u[32], ge[32], ie[32];
    if (len < n)
        snprintf(buf + len, n - len,
                 ". Unlabelled samples: %s. Trials in no group (an unlabelled sample, or a genuine pair with two "
                 "labels): %s genuine, %s impostor.",
                 vb_fmt_num(a->samples_unlabelled, "%.0f", u), vb_fmt_num(a->genuine_excluded, "%.0f", ge),
                 vb_fmt_num(a->impostor_excluded, "%.0f", ie));
}

const char *const vb_demog_explanation =
    "One global threshold for everyone (the deployment's situation): the model's threshold and the thresholds "
    "that give each FMR target over all trials. FNMR per group over its genuine trials; FMR per pair of groups "
    "over its impostor trials, same-group and cross-group separately. Intervals: Clopper-Pearson; × overall: "
    "the rate over the overall rate at that threshold; ratio: max/min over the groups (FMR: same-group pairs) "
    "with a conservative Bonferroni bound. Rule of 3: the group is too small to show a rate as low as the "
    "overall one; rule of 30: fewer than 30 errors.";

void vb_demog_write_md(FILE *f, const char *combo, const vb_demog *d)
{
    for (size_t i = 0; d && i < d->n_attrs; i++) {
        const vb_demog_attr *a = &d->attr[i];
        char summary[2048];
        vb_demog_attr_summary(a, summary, sizeof summary);
        fprintf(f, "### `%s` — `%s`\n\n%s\n\n%s Level %g%%.\n\n", a->name, combo, summary, vb_demog_explanation,
                100 * d->level);
        md_line(f, columns, COLS);
        fputs("|---|---|---|---|---|---|---|---|\n", f);
        vb_demog_table(d, a, md_line, f);
        fputs("\n", f);
        if (a->det_plot[0])
            fprintf(f, "![DET per %s group](%s.png)\n\n", a->name, a->det_plot);
    }
}

/* ------------------------------------------------------------------ from a run's scores */

enum { COUNT_THREADS = 16 };

/* One accumulator per thread; each chunk is split between them (counts add up). */
struct vb_demog_counter {
    vb_demog_acc *acc[COUNT_THREADS];
    size_t threads;
};

typedef struct count_job {
    vb_demog_acc *acc;
    const uint32_t *a, *b;
    const vb_scores *s;
    uint64_t begin, end;
} count_job;

static void *count_work(void *arg)
{
    count_job *j = arg;
    for (uint64_t k = j->begin; k < j->end; k++)
        vb_demog_add(j->acc, j->a[k], j->b[k], j->s->label[k], j->s->score[k]);
    return NULL;
}

void vb_demog_counter_free(vb_demog_counter *c)
{
    for (size_t i = 0; c && i < c->threads; i++)
        vb_demog_acc_free(c->acc[i]);
    free(c);
}

vb_demog_counter *vb_demog_counter_new(const vb_attributes *attrs, const vb_metrics *m, int with_calibrated,
                                       int is_distance, int threads, vb_err *e)
{
    vb_demog_counter *c = vb_calloc(1, sizeof *c, e);
    if (!c)
        return NULL;
    vb_demog_point points[VB_DEMOG_MAX_POINTS];
    size_t n_points = vb_demog_points(m, with_calibrated, points);
    c->threads = threads < 1 ? 1 : threads > COUNT_THREADS ? COUNT_THREADS : (size_t)threads;
    for (size_t i = 0; i < c->threads; i++)
        if (!(c->acc[i] = vb_demog_acc_new(attrs, points, n_points, &m->curve, is_distance, e))) {
            vb_demog_counter_free(c);
            return NULL;
        }
    return c;
}

void vb_demog_counter_add(vb_demog_counter *c, const uint32_t *a, const uint32_t *b, const vb_scores *s)
{
    count_job jobs[COUNT_THREADS];
    size_t T = s->n < 100000 ? 1 : c->threads; /* a small chunk is not worth a thread */
    for (size_t i = 0; i < T; i++) {
        jobs[i] = (count_job){c->acc[i], a, b, s, 0, 0};
        vb_shard_range(s->n, i, T, &jobs[i].begin, &jobs[i].end);
    }
    vb_parallel_run(jobs, sizeof jobs[0], (int)T, count_work);
}

int vb_demog_counter_finish(vb_demog_counter *c, double level, vb_demog **out, vb_err *e)
{
    for (size_t i = 1; i < c->threads; i++)
        vb_demog_acc_merge(c->acc[0], c->acc[i]);
    vb_demog *d = vb_demog_new(e);
    if (!d || vb_demog_finish(c->acc[0], level, d, e)) {
        vb_demog_free(d);
        vb_demog_counter_free(c);
        return -1;
    }
    vb_demog_counter_free(c);
    *out = d;
    return 0;
}

int vb_demog_from_scores(const vb_dataset *ds, const vb_attributes *attrs, const vb_scores *s, const vb_metrics *m,
                         int with_calibrated, double level, int threads, vb_demog **out, vb_err *e)
{
    enum { CHUNK = 1 << 20 };
    *out = NULL;
    if (!attrs || !attrs->n)
        return 0;
    if (s->n != ds->n_trials || attrs->n_samples != ds->n_samples)
        return vb_fail(e, VB_EXIT_IO, "internal: %zu scores for %llu trials", s->n, (unsigned long long)ds->n_trials);
    vb_demog_counter *c = vb_demog_counter_new(attrs, m, with_calibrated, s->is_distance, threads, e);
    uint32_t *a = c ? vb_malloc(2 * CHUNK * sizeof *a, e) : NULL, *b = a ? a + CHUNK : NULL;
    if (!a) {
        vb_demog_counter_free(c);
        return -1;
    }
    vb_trial_iter it;
    vb_trial t;
    vb_trial_iter_init(&it, ds, 0, ds->n_trials);
    for (size_t begin = 0; begin < s->n; begin += CHUNK) {
        size_t n = s->n - begin < CHUNK ? s->n - begin : CHUNK;
        for (size_t k = 0; k < n && vb_trial_iter_next(&it, &t); k++)
            a[k] = t.a, b[k] = t.b;
        vb_scores view = {.score = s->score + begin, .label = s->label + begin, .n = n, .cap = n,
                          .is_distance = s->is_distance};
        vb_demog_counter_add(c, a, b, &view);
    }
    free(a);
    return vb_demog_counter_finish(c, level, out, e);
}
