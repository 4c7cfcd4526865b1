/* Demographic differentials (reports/demographics.h) on a hand-built score set whose every
 * count is worked out below, the symmetry of group pairs, unlabelled samples, the rows'
 * round trip through metrics.csv names, gate rules on a ratio, and the attribute loaders
 * (datasets/attributes.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/attributes.h"
#include "datasets/registry.h"
#include "reports/demographics.h"
#include "reports/gate.h"
#include "reports/intervals.h"
#include "reports/results_read.h"
#include "tests/testlib.h"

static char tmp[64];

/* A fixture file under this test's temporary folder. */
static const char *put(const char *name, const char *text)
{
    return vb_test_put(tmp, name, text);
}

/* ---------------------------------------------------------------- the score set */

enum { F, M, U = VB_ATTR_UNLABELLED };
/* samples 0, 1, 2, 6 are F; 3, 4 M; 5 unlabelled */
static uint16_t sex_of[7] = {F, F, F, M, M, U, F};

static vb_attributes make_attrs(void)
{
    vb_attributes a;
    memset(&a, 0, sizeof a);
    a.n = 1;
    a.n_samples = 7;
    strcpy(a.attr[0].name, "sex");
    a.attr[0].n_values = 2;
    strcpy(a.attr[0].values[0], "F");
    strcpy(a.attr[0].values[1], "M");
    a.attr[0].of_sample = sex_of;
    a.attr[0].n_unlabelled = 1;
    return a;
}

typedef struct trial {
    uint32_t a, b;
    uint8_t label;
    double d; /* distance: accepted at 0.5 when d <= 0.5 */
} trial;

static const trial trials[] = {
    /* genuine */
    {0, 1, 1, 0.3},      /* F, accepted */
    {0, 2, 1, 0.7},      /* F, false non-match */
    {1, 2, 1, 0.5},      /* F, accepted (a tie with the threshold is accepted) */
    {3, 4, 1, 0.6},      /* M, false non-match */
    {5, 0, 1, 0.3},      /* unlabelled sample: excluded */
    {3, 6, 1, 0.9},      /* labels M and F: excluded */
    /* impostor */
    {0, 3, 0, 0.4},      /* F+M, false match */
    {4, 1, 0, 0.45},     /* M+F = F+M, false match */
    {2, 3, 0, 0.9},      /* F+M */
    {0, 4, 0, INFINITY}, /* F+M, failure to acquire: never matches */
    {0, 6, 0, 0.2},      /* F+F, false match */
    {1, 6, 0, 0.8},      /* F+F */
    {2, 6, 0, 0.8},      /* F+F */
    {4, 3, 0, 0.1},      /* M+M, false match */
    {3, 4, 0, 0.55},     /* M+M */
    {5, 3, 0, 0.1},      /* unlabelled: excluded (but a false match overall) */
};
#define N_TRIALS (sizeof trials / sizeof trials[0])

/* The differentials of trials [begin, end) (swapped: each trial's a and b exchanged), as
 * one accumulator or two merged halves. */
static vb_demog *compute(const vb_attributes *attrs, int swapped, int halves)
{
    vb_err e = {0};
    vb_demog_point pt = {"threshold", 0.5};
    vb_demog_acc *acc[2] = {vb_demog_acc_new(attrs, &pt, 1, NULL, 1, &e), vb_demog_acc_new(attrs, &pt, 1, NULL, 1, &e)};
    if (!acc[0] || !acc[1])
        abort();
    for (size_t i = 0; i < N_TRIALS; i++) {
        const trial *t = &trials[i];
        vb_demog_add(acc[halves && i % 2], swapped ? t->b : t->a, swapped ? t->a : t->b, t->label, t->d);
    }
    if (halves)
        vb_demog_acc_merge(acc[0], acc[1]);
    vb_demog *d = vb_demog_new(&e);
    if (!d || vb_demog_finish(acc[0], 0.95, d, &e))
        abort();
    vb_demog_acc_free(acc[0]);
    vb_demog_acc_free(acc[1]);
    return d;
}

static char *csv_of(const vb_demog *d)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    vb_err e = {0};
    const char *prefix[1] = {"c"};
    if (!f || vb_demog_write_csv(d, f, prefix, 1, &e))
        abort();
    fclose(f);
    return buf;
}

static void check_rate(const vb_demog_rate *r, double errors, double trials_, double overall)
{
    vb_interval cp = vb_clopper_pearson((uint64_t)errors, (uint64_t)trials_, 0.95);
    vb_interval w = vb_wilson((uint64_t)errors, (uint64_t)trials_, 0.95);
    CHECK(r->errors == errors);
    CHECK_NEAR(r->rate, errors / trials_, 1e-15);
    CHECK(r->ci_low == cp.low && r->ci_high == cp.high);
    CHECK(r->wilson_low == w.low && r->wilson_high == w.high);
    CHECK_NEAR(r->vs_overall, errors / trials_ / overall, 1e-15);
    CHECK(r->rule_of_3 == (3.0 / trials_ > overall));
    CHECK(r->rule_of_30 == 1);
}

static void test_counts(void)
{
    vb_attributes attrs = make_attrs();
    vb_demog *d = compute(&attrs, 0, 0);
    CHECK(d->n_attrs == 1 && d->n_points == 1);
    const vb_demog_attr *a = &d->attr[0];
    CHECK(a->n_groups == 2 && !strcmp(a->groups[0], "F") && !strcmp(a->groups[1], "M"));
    CHECK(a->group[F].samples == 4 && a->group[M].samples == 2);
    CHECK(a->samples_unlabelled == 1);
    CHECK(a->genuine_excluded == 2);  /* the unlabelled sample, the mixed pair */
    CHECK(a->impostor_excluded == 1); /* the unlabelled sample */
    CHECK(a->group[F].trials == 3 && a->group[M].trials == 1);
    CHECK(a->pair[F][F] && a->pair[F][F]->trials == 3);
    CHECK(a->pair[F][M] && a->pair[F][M]->trials == 4);
    CHECK(a->pair[M][M] && a->pair[M][M]->trials == 2);
    CHECK(a->pair[M][F] == NULL);
    /* overall at 0.5: FNMR 3 of 6 genuine (0.7, 0.6, 0.9), FMR 5 of 10 impostor */
    check_rate(&a->group[F].at[0], 1, 3, 0.5);
    check_rate(&a->group[M].at[0], 1, 1, 0.5);
    check_rate(&a->pair[F][F]->at[0], 1, 3, 0.5);
    check_rate(&a->pair[F][M]->at[0], 2, 4, 0.5);
    check_rate(&a->pair[M][M]->at[0], 1, 2, 0.5);
    /* ratios: FNMR 1 / (1/3); FMR over the same-group pairs only: 0.5 / (1/3) */
    CHECK_NEAR(a->fnmr_ratio[0].ratio, 3, 1e-12);
    CHECK_NEAR(a->fmr_ratio[0].ratio, 1.5, 1e-12);
    /* the Bonferroni bound: both groups' intervals at 1 - 0.05/2 */
    vb_interval ff = vb_clopper_pearson(1, 3, 0.975), mm = vb_clopper_pearson(1, 2, 0.975);
    CHECK_NEAR(a->fmr_ratio[0].ci_high, fmax(ff.high, mm.high) / fmin(ff.low, mm.low), 1e-12);
    CHECK_NEAR(a->fmr_ratio[0].ci_low, fmax(1, fmax(ff.low, mm.low) / fmin(ff.high, mm.high)), 1e-12);
    CHECK(a->fmr_ratio[0].ci_low <= a->fmr_ratio[0].ratio && a->fmr_ratio[0].ratio <= a->fmr_ratio[0].ci_high);
    CHECK(a->fmr_ratio[0].rule_of_30 == 1);
    vb_demog_free(d);
}

/* F+M and M+F are one pair: exchanging a and b of every trial changes no row; two
 * accumulators over halves of the trials merge to the same rows. */
static void test_symmetry_and_merge(void)
{
    vb_attributes attrs = make_attrs();
    vb_demog *d0 = compute(&attrs, 0, 0), *d1 = compute(&attrs, 1, 0), *d2 = compute(&attrs, 0, 1);
    char *c0 = csv_of(d0), *c1 = csv_of(d1), *c2 = csv_of(d2);
    CHECK(strlen(c0) > 1000);
    CHECK(!strcmp(c0, c1));
    CHECK(!strcmp(c0, c2));
    CHECK(strstr(c0, "c,sex=F+M:fmr@threshold,0.5\n") != NULL);
    CHECK(strstr(c0, "sex=M+F") == NULL);
    CHECK(strstr(c0, "c,sex:genuine_excluded,2\n") != NULL);
    CHECK(strstr(c0, "c,sex:fmr_ratio@threshold,1.5\n") != NULL);
    free(c0), free(c1), free(c2);
    vb_demog_free(d0), vb_demog_free(d1), vb_demog_free(d2);
}

/* Rows read back by name give the same rows. */
static void test_round_trip(void)
{
    vb_attributes attrs = make_attrs();
    vb_demog *d = compute(&attrs, 0, 0), *back = NULL;
    vb_err e = {0};
    char *text = csv_of(d);
    CHECK((back = vb_demog_new(&e)) != NULL);
    size_t rows = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *name = strchr(line, ',') + 1, *comma = strrchr(line, ',');
        *comma = 0;
        rows++;
        CHECK(vb_demog_set_row(back, name, strcmp(comma + 1, "nan") ? strtod(comma + 1, NULL) : NAN) == 1);
    }
    free(text);
    back->level = d->level;
    char *a = csv_of(d), *b = csv_of(back);
    CHECK(rows > 50);
    CHECK(!strcmp(a, b));
    free(a), free(b);
    vb_demog_free(d), vb_demog_free(back);
}

static void test_names(void)
{
    vb_demog_name n;
    CHECK(vb_demog_parse_name("sex:fmr_ratio@fmr=1e-3_ci_high", &n) == 1 && n.scope == 0 && !n.has_interval);
    CHECK(vb_demog_parse_name("sex:fmr_ratio@fmr=1e-3", &n) == 1 && n.has_interval && !strcmp(n.point, "fmr=1e-3"));
    CHECK(vb_demog_parse_name("sex=F+M:fmr@threshold_wilson_low", &n) == 1 && n.scope == 2 && !strcmp(n.h, "M"));
    CHECK(vb_demog_parse_name("age_group=20-30:fnmr@calibrated", &n) == 1 && !strcmp(n.g, "20-30"));
    CHECK(vb_demog_parse_name("sex=F:genuine", &n) == 1 && n.scope == 1);
    CHECK(vb_demog_parse_name("sex:samples_unlabelled", &n) == 1);
    CHECK(vb_demog_parse_name("sex=M+F:fmr@threshold", &n) == 0); /* pairs are written in byte order */
    CHECK(vb_demog_parse_name("sex=F:fmr@threshold", &n) == 0);   /* FMR belongs to pairs */
    CHECK(vb_demog_parse_name("sex=F+M:fnmr@threshold", &n) == 0);
    CHECK(vb_demog_parse_name("sex:fmr_ratio@fmr=1e-7", &n) == 0);
    CHECK(vb_demog_parse_name("sex:fmr_ratio@fmr=1e-3_boot_low", &n) == 0);
    CHECK(vb_demog_parse_name("eer", &n) == 0);
    CHECK(vb_demog_parse_name("fnmr@fmr=1e-3", &n) == 0);
    CHECK(vb_demog_parse_name("se x:samples_unlabelled", &n) == 0);
}

/* A gate rule on the ratio's upper bound: passes under the limit, fails over it, reads the
 * _ci_high row (the value alone would pass 1.9). */
static void test_gate_on_ratio(void)
{
    put("g/provenance.csv", "scope,key,value\nrun,dataset,lfw-all\n");
    put("g/metrics.csv", "backend,device,quant,dataset,metric,value\n"
                         "cpu,a,fp32,lfw-all,eer,0.05\n"
                         "cpu,a,fp32,lfw-all,sex:fmr_ratio@fmr=1e-3,1.87\n"
                         "cpu,a,fp32,lfw-all,sex:fmr_ratio@fmr=1e-3_ci_low,1.80\n"
                         "cpu,a,fp32,lfw-all,sex:fmr_ratio@fmr=1e-3_ci_high,1.95\n");
    const char *spec = put("g/spec.csv", "metric,scope,op,limit,bound\n"
                                         "sex:fmr_ratio@fmr=1e-3,*,<=,2.0,upper\n"
                                         "sex:fmr_ratio@fmr=1e-3,*,<=,1.9,upper\n"
                                         "sex:fmr_ratio@fmr=1e-3,*,<=,1.9,value\n"
                                         "sex:fmr_ratio@fmr=1e-3,*,>=,1.5,lower\n");
    char dir[128];
    snprintf(dir, sizeof dir, "%s/g", tmp);
    vb_results_folder rf;
    vb_gate_spec gs;
    vb_gate_result res;
    vb_err e = {0};
    CHECK(vb_results_folder_read(dir, &rf, &e) == 0);
    CHECKF(vb_gate_spec_read(spec, &gs, &e) == 0, "%s", e.msg);
    CHECKF(vb_gate_evaluate(&gs, &rf, NULL, &res, &e) == 0, "%s", e.msg);
    CHECK(res.n == 4 && res.failed == 1);
    CHECK(res.n == 4 && res.checks[0].pass && res.checks[0].value == 1.95);
    CHECK(res.n == 4 && !res.checks[1].pass);
    CHECK(res.n == 4 && res.checks[2].pass && res.checks[3].pass && res.checks[3].value == 1.80);
    vb_gate_result_free(&res);
    vb_gate_spec_free(&gs);
    /* a row that is not there is an error, never a pass; a bound on a row without interval
     * is refused */
    spec = put("g/spec2.csv", "metric,scope,op,limit,bound\nsex:fnmr_ratio@fmr=1e-3,*,<=,2.0,upper\n");
    CHECK(vb_gate_spec_read(spec, &gs, &e) == 0);
    CHECK(vb_gate_evaluate(&gs, &rf, NULL, &res, &e) != 0 && e.code == VB_EXIT_USAGE);
    vb_gate_spec_free(&gs);
    spec = put("g/spec3.csv", "metric,scope,op,limit,bound\nsex=F:genuine,*,<=,2.0,upper\n");
    CHECK(vb_gate_spec_read(spec, &gs, &e) != 0 && e.code == VB_EXIT_USAGE);
    vb_results_folder_free(&rf);
}

/* ---------------------------------------------------------------- attribute loaders */

static void open_manifest(vb_dataset *ds)
{
    const char *m = put("a/manifest.csv", "sample,subject,path\n"
                                          "Ann_0001,Ann,x1.jpg\nAnn_0002,Ann,x2.jpg\nBob_0001,Bob,x3.jpg\n"
                                          "Cid_0001,Cid,x4.jpg\nDee_0001,Dee,x5.jpg\n");
    char spec[300];
    snprintf(spec, sizeof spec, "csv:%s", m);
    vb_err e = {0};
    if (vb_dataset_open(spec, NULL, NULL, ds, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        abort();
    }
}

static void test_side_file(void)
{
    vb_dataset ds;
    open_manifest(&ds);
    vb_attributes a;
    vb_err e = {0};
    /* values sorted whatever the file order; an empty field and a sample without a row are
     * unlabelled; a sample the dataset lacks is ignored */
    const char *f = put("a/attrs.csv", "sample,sex,age_group\nBob_0001,M,40-50\nAnn_0001,F,\nAnn_0002,F,20-30\n"
                                       "Zed_0001,M,20-30\nCid_0001,,40-50\n");
    CHECKF(vb_attributes_read(f, &ds, &a, &e) == 0, "%s", e.msg);
    CHECK(a.n == 2 && !strcmp(a.attr[0].name, "sex") && !strcmp(a.attr[1].name, "age_group"));
    CHECK(a.attr[0].n_values == 2 && !strcmp(a.attr[0].values[0], "F") && !strcmp(a.attr[0].values[1], "M"));
    CHECK(a.attr[0].of_sample[0] == 0 && a.attr[0].of_sample[2] == 1 && a.attr[0].of_sample[3] == VB_ATTR_UNLABELLED);
    CHECK(a.attr[0].n_unlabelled == 2); /* Cid (empty), Dee (no row) */
    CHECK(a.attr[1].n_values == 2 && !strcmp(a.attr[1].values[0], "20-30"));
    CHECK(a.attr[1].of_sample[2] == 1 && a.attr[1].n_unlabelled == 2);
    vb_attributes_free(&a);
    static const struct {
        const char *text, *expect;
    } bad[] = {
        {"id,sex\nAnn_0001,F\n", "header"},
        {"sample,sex,sex\nAnn_0001,F,F\n", "twice"},
        {"sample,s-x\nAnn_0001,F\n", "attribute name"},
        {"sample,sex\nAnn_0001,F+M\n", "value"},
        {"sample,sex\nAnn_0001,F\nAnn_0001,F\n", "given twice"},
        {"sample,sex\nAnn_0001,F,M\n", "fields"},
        {"sample,sex\nZed_0001,F\n", "no row names a sample"},
    };
    for (size_t i = 0; i < VB_ARRAY_LEN(bad); i++) {
        f = put("a/bad.csv", bad[i].text);
        memset(&e, 0, sizeof e);
        CHECKF(vb_attributes_read(f, &ds, &a, &e) != 0 && e.code == VB_EXIT_INPUT && strstr(e.msg, bad[i].expect) &&
                   strstr(e.msg, "bad.csv"),
               "case %zu: %s", i, e.msg);
    }
    vb_dataset_free(&ds);
}

/* LFW's lists: a name in both lists or in neither is unlabelled; CRLF line ends. */
static void test_lfw_gender(void)
{
    vb_dataset ds;
    open_manifest(&ds);
    vb_attributes a;
    vb_err e = {0};
    char data[128];
    snprintf(data, sizeof data, "%s/data", tmp);
    CHECK(vb_attributes_lfw_gender(&ds, data, &a, &e) == 0 && a.n == 0); /* no lists: no attribute */
    put("data/lfw/gender/male_names.txt", "Bob_0001.jpg\r\nCid_0001.jpg\r\nZed_0001.jpg\r\n");
    put("data/lfw/gender/female_names.txt", "Ann_0001.jpg\r\nAnn_0002.jpg\r\nCid_0001.jpg\r\n");
    CHECKF(vb_attributes_lfw_gender(&ds, data, &a, &e) == 1, "%s", e.msg);
    CHECK(a.n == 1 && !strcmp(a.attr[0].name, "sex"));
    const uint16_t *v = a.attr[0].of_sample;
    CHECK(v[0] == 0 && v[1] == 0 && v[2] == 1);
    CHECK(v[3] == VB_ATTR_UNLABELLED && v[4] == VB_ATTR_UNLABELLED); /* Cid in both, Dee in neither */
    CHECK(a.attr[0].n_unlabelled == 2);
    vb_attributes_free(&a);
    put("data/lfw/gender/male_names.txt", "Bob_0001\n");
    CHECK(vb_attributes_lfw_gender(&ds, data, &a, &e) == -1 && strstr(e.msg, "male_names.txt:1"));
    vb_dataset_free(&ds);
}

/* The run's path: a dataset's trials in order, scores beside them. */
static void test_from_scores(void)
{
    vb_dataset ds;
    open_manifest(&ds); /* all pairs of 5 samples: 10 trials, Ann's pair genuine */
    vb_attributes a;
    vb_err e = {0};
    const char *f = put("a/attrs2.csv", "sample,sex\nAnn_0001,F\nAnn_0002,F\nBob_0001,M\nCid_0001,M\nDee_0001,F\n");
    CHECK(vb_attributes_read(f, &ds, &a, &e) == 0);
    vb_scores s = {0};
    CHECK(vb_scores_init(&s, 1, 0, &e) == 0);
    vb_trial_iter it;
    vb_trial t;
    vb_trial_iter_init(&it, &ds, 0, ds.n_trials);
    while (vb_trial_iter_next(&it, &t))
        vb_scores_append(&s, t.label ? 0.25 : 0.25 + 0.125 * t.b, t.label, 0, &e);
    vb_metrics m;
    CHECK(vb_metrics_compute(&s, &m, &e) == 0);
    m.threshold = 0.6, m.have |= VB_MG_MODEL_THRESHOLD;
    vb_demog *d = NULL;
    CHECKF(vb_demog_from_scores(&ds, &a, &s, &m, 0, 0.95, 2, &d, &e) == 0 && d, "%s", e.msg);
    if (d) {
        const vb_demog_attr *x = &d->attr[0];
        CHECK(!strcmp(d->point[0].name, "threshold") && d->point[0].threshold == 0.6);
        CHECK(x->group[0].trials == 1 && x->group[1].trials == 0 && isnan(x->group[1].at[0].rate));
        /* impostors: F = {0, 1, 4}, M = {2, 3}: F+F (0,4) (1,4); M+M (2,3); F+M the other 6 */
        CHECK(x->pair[0][0]->trials == 2 && x->pair[1][1]->trials == 1 && x->pair[0][1]->trials == 6);
        /* accepted at 0.6: impostor score 0.25 + b/8 <= 0.6 when b <= 2: (0,2) (1,2) */
        CHECK(x->pair[0][1]->at[0].errors == 2 && x->pair[0][0]->at[0].errors == 0);
        CHECK(isnan(x->fnmr_ratio[0].ratio)); /* one group with genuine trials */
    }
    vb_demog_free(d);
    vb_metrics_free(&m);
    vb_scores_free(&s);
    vb_attributes_free(&a);
    vb_dataset_free(&ds);
}

/* With one group holding every sample, the group's DET is the overall DET point for point
 * (counted at the overall curve's thresholds through the accumulator's grid), and its rates
 * at a point equal the overall rates. Scores with many ties and failures to acquire. */
static void det_matches_overall(int with_fta)
{
    static uint16_t one[2] = {0, 0};
    vb_attributes attrs;
    memset(&attrs, 0, sizeof attrs);
    attrs.n = 1, attrs.n_samples = 2;
    strcpy(attrs.attr[0].name, "all");
    attrs.attr[0].n_values = 1;
    strcpy(attrs.attr[0].values[0], "x");
    attrs.attr[0].of_sample = one;
    vb_scores s = {0};
    vb_err e = {0};
    CHECK(vb_scores_init(&s, 1, 0, &e) == 0);
    unsigned r = 7;
    for (int i = 0; i < 3000; i++) {
        r = r * 1103515245u + 12345u;
        int genuine = (r >> 9) % 5 == 0;
        double d = ((r >> 12) % 400) / 256.0 + (genuine ? 0 : 0.4); /* coarse: ties */
        if (with_fta && (r >> 20) % 97 == 0)
            d = INFINITY;
        vb_scores_append(&s, d, (uint8_t)genuine, 0, &e);
    }
    vb_metrics m;
    CHECK(vb_metrics_compute(&s, &m, &e) == 0);
    vb_demog_point pt = {"fmr=1e-2", m.fnmr_at_fmr[VB_FMR_1E2].threshold};
    vb_demog_acc *acc = vb_demog_acc_new(&attrs, &pt, 1, &m.curve, 1, &e);
    for (size_t i = 0; acc && i < s.n; i++)
        vb_demog_add(acc, 0, 1, s.label[i], s.score[i]);
    vb_demog *d = vb_demog_new(&e);
    CHECK(acc && d && vb_demog_finish(acc, 0.95, d, &e) == 0);
    const vb_curve *c = &d->attr[0].det[0];
    CHECK(c->n == m.curve.n && m.curve.n > 100);
    size_t same = 0;
    for (size_t k = 0; k < c->n && k < m.curve.n; k++)
        same += c->pts[k].fmr == m.curve.pts[k].fmr && c->pts[k].fnmr == m.curve.pts[k].fnmr &&
                c->pts[k].threshold == m.curve.pts[k].threshold;
    CHECKF(same == m.curve.n, "%zu of %zu curve points equal", same, m.curve.n);
    CHECK(d->attr[0].group[0].at[0].errors == m.fnmr_at_fmr[VB_FMR_1E2].false_nonmatches);
    CHECK(d->attr[0].pair[0][0]->at[0].errors == m.fnmr_at_fmr[VB_FMR_1E2].false_matches);
    CHECK(d->attr[0].pair[0][0]->at[0].vs_overall == 1);
    vb_demog_free(d);
    vb_demog_acc_free(acc);
    vb_metrics_free(&m);
    vb_scores_free(&s);
}

/* Counted over several threads (all pairs of 500 samples: 124,750 trials), the rows are
 * those of one thread. */
static void test_threads(void)
{
    char *manifest = NULL, *attrs_text = NULL;
    size_t n1 = 0, n2 = 0;
    FILE *m = open_memstream(&manifest, &n1), *a = open_memstream(&attrs_text, &n2);
    fprintf(m, "sample,subject,path\n");
    fprintf(a, "sample,grp\n");
    for (int i = 0; i < 500; i++) {
        fprintf(m, "s%d,p%d,x.jpg\n", i, i / 3);
        fprintf(a, "s%d,%s\n", i, i % 7 == 0 ? "" : i % 3 ? "a" : i % 5 ? "b" : "c");
    }
    fclose(m), fclose(a);
    char spec[300];
    snprintf(spec, sizeof spec, "csv:%s", put("t/manifest.csv", manifest));
    vb_dataset ds;
    vb_attributes at;
    vb_err e = {0};
    CHECK(vb_dataset_open(spec, NULL, NULL, &ds, &e) == 0 && ds.n_trials == 124750);
    CHECK(vb_attributes_read(put("t/attrs.csv", attrs_text), &ds, &at, &e) == 0);
    free(manifest), free(attrs_text);
    vb_scores s = {0};
    CHECK(vb_scores_init(&s, 1, 0, &e) == 0);
    vb_trial_iter it;
    vb_trial t;
    vb_trial_iter_init(&it, &ds, 0, ds.n_trials);
    while (vb_trial_iter_next(&it, &t))
        vb_scores_append(&s, ((t.a * 7919u + t.b * 104729u) % 1000) / 1000.0 - (t.label ? 0.3 : 0), t.label, 0, &e);
    vb_metrics mm;
    CHECK(vb_metrics_compute(&s, &mm, &e) == 0);
    vb_demog *one = NULL, *many = NULL;
    CHECK(vb_demog_from_scores(&ds, &at, &s, &mm, 0, 0.95, 1, &one, &e) == 0);
    CHECK(vb_demog_from_scores(&ds, &at, &s, &mm, 0, 0.95, 3, &many, &e) == 0);
    char *c1 = csv_of(one), *c3 = csv_of(many);
    CHECK(one->attr[0].det[0].n > 0);
    CHECK(strstr(c1, "c,grp=a+b:impostor,") && strstr(c1, "c,grp:samples_unlabelled,72\n"));
    CHECK(!strcmp(c1, c3));
    for (size_t g = 0; g < 3; g++)
        CHECK(one->attr[0].det[g].n == many->attr[0].det[g].n &&
              (!one->attr[0].det[g].n || !memcmp(one->attr[0].det[g].pts, many->attr[0].det[g].pts, one->attr[0].det[g].n * sizeof(vb_curve_point))));
    free(c1), free(c3);
    vb_demog_free(one), vb_demog_free(many);
    vb_metrics_free(&mm);
    vb_scores_free(&s);
    vb_attributes_free(&at);
    vb_dataset_free(&ds);
}

static void test_det_matches_overall(void)
{
    det_matches_overall(0);
    det_matches_overall(1);
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/vb_test_demog_XXXXXX");
    if (!mkdtemp(tmp))
        return 1;
    RUN(test_counts);
    RUN(test_symmetry_and_merge);
    RUN(test_round_trip);
    RUN(test_names);
    RUN(test_gate_on_ratio);
    RUN(test_side_file);
    RUN(test_lfw_gender);
    RUN(test_from_scores);
    RUN(test_det_matches_overall);
    RUN(test_threads);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        return 1;
    return vb_test_finish();
}
