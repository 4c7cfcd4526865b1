/* report.html and what feeds it: the gallery's pair selection (reports/gallery.h), the PNG
 * encoder of face chips (datasets/chip.h), the DET/ROC scripts on a large synthetic score
 * set (axis ranges and tick labels follow the data, labels never collide), the DET's
 * confidence band, and the HTML
 * writer (sections, escaping of hostile names, inlined images); the results model rebuilt
 * from a results folder (reports/results_load.h: typed rows, groups claimed only whole). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datasets/chip.h"
#include "reports/intervals.h"
#include "reports/gallery.h"
#include "reports/metrics.h"
#include "reports/plot.h"
#include "reports/results.h"
#include "reports/results_load.h"
#include "reports/results_read.h"
#include "tests/testlib.h"

/* ---- gallery selection ---- */

static void test_gallery_distances(void)
{
    /* distances: impostors scored low look alike; genuines scored high look unlike */
    double score[] = {0.9, 0.2, 0.5, INFINITY, 0.2, 1.4, 0.3, 0.8, INFINITY, 0.1};
    uint8_t label[] = {0, 0, 1, 0, 0, 0, 1, 1, 1, 0};
    vb_scores s = {.score = score, .label = label, .n = 10, .is_distance = 1};
    size_t out[8];
    size_t n = vb_gallery_select(&s, 0, 3, out);
    CHECK(n == 3);
    /* 0.1 (trial 9), then the tie at 0.2: lower index first (1, then 4) */
    CHECK(out[0] == 9 && out[1] == 1 && out[2] == 4);
    n = vb_gallery_select(&s, 1, 8, out);
    CHECKF(n == 3, "the FTA genuine trial (inf) is skipped: got %zu", n);
    CHECK(out[0] == 7 && out[1] == 2 && out[2] == 6);
    CHECK(vb_gallery_select(&s, 1, 0, out) == 0);
}

static void test_gallery_similarities(void)
{
    double score[] = {0.1, 0.7, 0.9, -INFINITY, 0.3, 0.95};
    uint8_t label[] = {0, 0, 1, 1, 1, 0};
    vb_scores s = {.score = score, .label = label, .n = 6};
    size_t out[2];
    CHECK(vb_gallery_select(&s, 0, 2, out) == 2);
    CHECK(out[0] == 5 && out[1] == 1); /* most similar impostors */
    CHECK(vb_gallery_select(&s, 1, 2, out) == 2);
    CHECK(out[0] == 4 && out[1] == 2); /* least similar genuines, -inf (FTA) skipped */
}

/* ---- PNG encoder ---- */

static void test_png_roundtrip(void)
{
    uint8_t px[5 * 3 * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 37 + 11);
    vb_image img = {5, 3, 3, px}, back = {0};
    uint8_t *png = NULL;
    size_t n = 0;
    vb_err e = {0};
    CHECKF(vb_png_encode(&img, &png, &n, &e) == 0, "%s", e.msg);
    CHECK(n > 8 && png && !memcmp(png, "\x89PNG\r\n\x1a\n", 8));
    CHECKF(vb_image_decode(png, n, "mem.png", &back, &e) == 0, "%s", e.msg);
    CHECK(back.w == 5 && back.h == 3 && back.c == 3 && back.px && !memcmp(back.px, px, sizeof px));
    vb_image_free(&back);
    free(png);

    /* a chip of a crop: the right size, and a crop outside the image is refused */
    vb_image chip;
    vb_crop crop = {1, 1, 0, 4, 3};
    CHECK(vb_chip_make(&img, &crop, 8, "x", &chip, &e) == 0);
    CHECK(chip.w == 8 && chip.h == 8 && chip.c == 3);
    vb_image_free(&chip);
    vb_crop outside = {1, 0, 0, 9, 3};
    CHECK(vb_chip_make(&img, &outside, 8, "x.jpg", &chip, &e) != 0 && e.code == VB_EXIT_INPUT);
    CHECK(strstr(e.msg, "x.jpg") != NULL);
}

/* ---- DET and ROC scripts on a large synthetic set ---- */

static double gauss(uint64_t *r)
{
    double u[2];
    for (int k = 0; k < 2; k++) {
        *r = *r * 6364136223846793005ull + 1442695040888963407ull;
        u[k] = ((double)(*r >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    }
    return sqrt(-2 * log(u[0])) * cos(2 * M_PI * u[1]);
}

/* 2M impostor and 20k genuine distances, overlapping so much that at the smallest non-zero
 * FMR (5e-7) nearly every genuine trial is rejected: FNMR there is about 98%, the shape of
 * lfw-all's curve, whose FNMR axis used to stop at 60%. */
static int synthetic_metrics(vb_metrics *m)
{
    enum { NI = 2000000, NG = 20000 };
    vb_scores s = {0};
    vb_err e = {0};
    if (vb_scores_alloc(&s, NI + NG, 1, 0, &e))
        return -1;
    uint64_t r = 42;
    for (size_t i = 0; i < s.n; i++) {
        s.label[i] = i < NG;
        s.score[i] = s.label[i] ? 0.70 + 0.09 * gauss(&r) : 0.95 + 0.09 * gauss(&r);
    }
    int rc = vb_metrics_compute(&s, m, &e);
    vb_scores_free(&s);
    return rc;
}

/* The numbers after `set <name> [` as lo:hi. */
static int script_range(const char *script, const char *name, double *lo, double *hi)
{
    char key[32];
    snprintf(key, sizeof key, "set %s [", name);
    const char *p = strstr(script, key);
    return p && sscanf(p + strlen(key), "%lf:%lf", lo, hi) == 2 ? 0 : -1;
}

/* The ("label" position, ...) pairs of `set <axis> (`. Returns how many. */
static int script_tics(const char *script, const char *axis, char labels[][16], double *pos, int max)
{
    char key[32];
    snprintf(key, sizeof key, "set %s (", axis);
    const char *p = strstr(script, key);
    if (!p)
        return 0;
    p += strlen(key);
    int n = 0;
    while (n < max && *p == '"') {
        const char *end = strchr(p + 1, '"');
        if (!end)
            break;
        snprintf(labels[n], 16, "%.*s", (int)(end - p - 1), p + 1);
        char *next;
        pos[n++] = strtod(end + 1, &next);
        p = next;
        if (*p == ',')
            p += 2;
    }
    return n;
}

/* Every pair of ticks at least 1/20 of the axis apart (35 px on an 800 px plot: more than a label), and no two labels alike. */
static void check_tics_apart(const char *what, char labels[][16], const double *pos, int n, double span)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            CHECKF(fabs(pos[i] - pos[j]) >= span / 20 * 0.999, "%s: ticks %s and %s only %.3f apart (axis %.3f)", what,
                   labels[i], labels[j], fabs(pos[i] - pos[j]), span);
            CHECKF(strcmp(labels[i], labels[j]) != 0, "%s: label %s twice", what, labels[i]);
        }
}

static int has_label(char labels[][16], int n, const char *want)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(labels[i], want))
            return 1;
    return 0;
}

static void test_det_script_large(void)
{
    vb_metrics m;
    vb_err e = {0};
    CHECK(synthetic_metrics(&m) == 0);
    vb_det_series s = {"cpu-fp32 <big>", &m.curve};
    vb_det_mark marks[] = {{"thr 0.60", 1e-4, 0.03}, {"EER", m.eer, m.eer}, {"never", 0, 0}, {"nan", NAN, 0.1}};
    vb_det_marks mk = {marks, 4};
    char *det = vb_plot_det_script("DET", &s, &mk, 1, &e);
    CHECKF(det != NULL, "%s", e.msg);
    if (!det)
        return;
    double lo, hi;
    /* smallest non-zero FMR is 1/2e6 = 5e-7: the axis starts at the decade below, 1e-7 */
    CHECK(script_range(det, "xrange", &lo, &hi) == 0);
    CHECK_NEAR(lo, vb_probit(1e-7), 1e-5);
    /* the FNMR where FMR is smallest is above 95%: the axis runs to 99%, not 60% */
    CHECK(script_range(det, "yrange", &lo, &hi) == 0);
    CHECK_NEAR(hi, vb_probit(0.99), 1e-5);
    char labels[32][16];
    double pos[32];
    int n = script_tics(det, "xtics", labels, pos, 32);
    CHECKF(n >= 6, "only %d FMR ticks", n);
    if (getenv("VB_TEST_VERBOSE"))
        fprintf(stderr, "%s", det);
    CHECK(has_label(labels, n, "1e-7") && has_label(labels, n, "1e-6") && has_label(labels, n, "1e-4"));
    CHECK(has_label(labels, n, "1%%") && has_label(labels, n, "99%%"));
    CHECK(strstr(det, "0.0001%") == NULL && strstr(det, "0.00001%") == NULL);
    check_tics_apart("DET FMR", labels, pos, n, vb_probit(0.99) - vb_probit(1e-7));
    n = script_tics(det, "ytics", labels, pos, 32);
    CHECK(n >= 5);
    check_tics_apart("DET FNMR", labels, pos, n, hi - lo);
    /* the marks inside the axes are drawn and labelled, the others left out */
    CHECK(strstr(det, "\"thr 0.60\"") != NULL && strstr(det, "\"EER\"") != NULL);
    CHECK(strstr(det, "\"never\"") == NULL && strstr(det, "\"nan\"") == NULL);
    CHECK(strstr(det, "with labels") != NULL);
    free(det);

    char *roc = vb_plot_roc_script("ROC", &s, &mk, 1, &e);
    CHECKF(roc != NULL, "%s", e.msg);
    if (roc) {
        CHECK(strstr(roc, "set logscale x") != NULL);
        CHECK(script_range(roc, "xrange", &lo, &hi) == 0);
        CHECK_NEAR(lo, 1e-7, 1e-12);
        CHECK_NEAR(hi, 1, 1e-12);
        n = script_tics(roc, "xtics", labels, pos, 32);
        CHECK(n >= 5 && has_label(labels, n, "1e-7"));
        for (int i = 0; i < n; i++)
            CHECKF(pos[i] >= 1e-7 * 0.999 && pos[i] <= 1, "ROC tick %s at %g: a log axis takes values", labels[i],
                   pos[i]);
        free(roc);
    }
    CHECK(vb_plot_det_script("x", &s, NULL, 0, &e) == NULL);
    vb_metrics_free(&m);
}

/* ---- the HTML writer ---- */

static char *write_html(const vb_results *r)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    int rc = vb_report_write_html(f, r);
    fclose(f);
    CHECK(rc == 0);
    return buf;
}

static void test_html_report(void)
{
    char dir[] = "/tmp/vb-report-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/chip.png", dir);
    uint8_t px[4 * 4];
    memset(px, 200, sizeof px);
    vb_image img = {4, 4, 1, px};
    uint8_t *png;
    size_t n;
    vb_err e = {0};
    CHECK(vb_png_encode(&img, &png, &n, &e) == 0);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(png, 1, n, f) == n);
    if (f)
        fclose(f);
    free(png);

    vb_result_combo c;
    memset(&c, 0, sizeof c);
    snprintf(c.label, sizeof c.label, "cpu-x-fp32");
    vb_metrics_init(&c.metrics);
    c.metrics.eer = 0.125;
    c.metrics.have = VB_MG_CORE;
    c.has_metrics = 1;
    c.ms_per_face = 2.5;
    c.timed_images = 4;
    c.timed_wall_ms = 20;
    vb_gallery_pair pair = {.genuine = 0, .score = 0.25, .id_a = "a<b>", .id_b = "c&d",
                            .path_a = "/tmp/<script>alert(1)</script>&x.jpg", .path_b = "q\"u'o.jpg"};
    snprintf(pair.chip_a, sizeof pair.chip_a, "chip.png");
    snprintf(pair.chip_b, sizeof pair.chip_b, "missing.png");
    c.gallery = &pair, c.n_gallery = 1;
    vb_det_mark calibrated = {"calibrated <FMR=1e-4>", 1e-4, 0.031};
    c.extra_marks = &calibrated, c.n_extra_marks = 1;
    vb_provenance_kv kv[] = {{"run", "command_line", "veribench run --out <dir> & more"}};
    vb_results r = {.dataset_spec = "csv:/data/<evil>.csv", .kind = "csv", .folds = "",
                    .n_samples = 2, .n_trials = 1, .n_impostor = 1, .model_path = "m.gguf", .model_sha = "ab",
                    .crop_text = "none", .commit = "c0ffee", .threshold = 0.6f, .out_dir = dir, .det_plot = "",
                    .quant_plot = "", .roc_plot = "", .plots_skipped = 1, .plot_error = "", .combos = &c,
                    .n_combos = 1, .provenance = kv, .n_provenance = 1};
    char *html = write_html(&r);
    CHECK(html != NULL);
    if (html) {
        static const char *const sections[] = {"id=\"summary\"", "VB_GATE_VERDICT", "id=\"metrics\"",
                                               "id=\"plots\"",   "id=\"histograms\"", "id=\"latency\"",
                                               "id=\"gallery\"", "id=\"provenance\""};
        for (size_t i = 0; i < sizeof sections / sizeof *sections; i++)
            CHECKF(strstr(html, sections[i]) != NULL, "section %s missing", sections[i]);
        /* escaping: no raw markup from names survives, the escaped text is there */
        CHECK(strstr(html, "<script") == NULL);
        CHECK(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;&amp;x.jpg") != NULL);
        CHECK(strstr(html, "q&quot;u&#39;o.jpg") != NULL);
        CHECK(strstr(html, "csv:/data/&lt;evil&gt;.csv") != NULL);
        CHECK(strstr(html, "--out &lt;dir&gt; &amp; more") != NULL);
        CHECK(strstr(html, "alt=\"a&lt;b&gt;\"") != NULL);
        /* the chip is inlined, the missing one named */
        CHECK(strstr(html, "src=\"data:image/png;base64,iVBORw0KGgo") != NULL);
        CHECK(strstr(html, "image not available: missing.png") != NULL);
        /* the metrics table: name, value, unit and description of a present row */
        CHECK(strstr(html, "<code>eer</code></td><td class=n>0.125</td>") != NULL);
        CHECK(strstr(html, "equal error rate, bob.measure") != NULL);
        CHECK(strstr(html, "Plots were skipped") != NULL);
        /* operating points: the EER and an extra (calibrated) point, its label escaped */
        CHECK(strstr(html, "<td>EER</td><td class=n>12.500%</td>") != NULL);
        CHECK(strstr(html, "<td>calibrated &lt;FMR=1e-4&gt;</td><td class=n>0.0100%</td><td class=n>3.100%</td>") != NULL);
        CHECK(strstr(html, "http://") == NULL && strstr(html, "https://") == NULL);
        free(html);
    }
    unlink(path);
    rmdir(dir);
}


/* The DET's confidence band: for each curve point, the Clopper-Pearson interval of FNMR
 * (k = FNMR x N_genuine errors of N_genuine) at the given level, in the same probit
 * coordinates as the curve, drawn before (under) the line; no band without one. */
static void test_det_band(void)
{
    vb_curve_point pts[] = {{1, 0, 0}, {0.1, 0.05, 0.5}, {0.01, 0.2, 0.4}, {0, 1, 0.3}};
    vb_curve curve = {pts, 4, 4};
    vb_det_series s = {"cpu-fp32", &curve};
    vb_det_band band = {100, 0.95};
    vb_err e = {0};
    char *det = vb_plot_det_script_banded("DET", &s, NULL, &band, 1, &e);
    CHECKF(det != NULL, "%s", e.msg);
    if (!det)
        return;
    const uint64_t k[] = {5, 20};
    for (int i = 0; i < 2; i++) {
        vb_interval ci = vb_clopper_pearson(k[i], 100, 0.95);
        CHECK(ci.low < pts[i + 1].fnmr && pts[i + 1].fnmr < ci.high); /* the band holds the curve */
        char row[128];
        snprintf(row, sizeof row, "\n%.6f %.6f %.6f\n", vb_probit(pts[i + 1].fmr), vb_probit(ci.low),
                 vb_probit(ci.high));
        const char *block = strstr(det, "$B0 << EOD");
        CHECKF(block && strstr(block, row), "band row%s missing", row);
    }
    const char *fill = strstr(det, "$B0 using 1:2:3 with filledcurves"), *line = strstr(det, "$S0 using 1:2 with lines");
    CHECK(fill && line && fill < line);
    CHECK(strstr(det, "95% Clopper-Pearson band of FNMR") != NULL);
    free(det);
    /* a 90% band is narrower; without a band, no band block */
    band.level = 0.90;
    det = vb_plot_det_script_banded("DET", &s, NULL, &band, 1, &e);
    vb_interval ci90 = vb_clopper_pearson(5, 100, 0.90), ci95 = vb_clopper_pearson(5, 100, 0.95);
    CHECK(ci90.low > ci95.low && ci90.high < ci95.high);
    CHECK(det && strstr(det, "90% Clopper-Pearson band") != NULL);
    free(det);
    det = vb_plot_det_script("DET", &s, NULL, 1, &e);
    CHECK(det && strstr(det, "$B0") == NULL && strstr(det, "filledcurves") == NULL);
    free(det);
}

/* ---- the results model from a folder ---- */

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Every row of the exclusive KFOLD group, and only one row of MODEL_THRESHOLD: KFOLD is
 * claimed with its values, MODEL_THRESHOLD is not (its one row stays unreported). */
static void test_results_from_folder(void)
{
    char dir[] = "/tmp/vb-load-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    write_text(dir, "metrics.csv",
               "backend,device,quant,dataset,metric,value\n"
               "cpu,d0,fp32,lfw,eer,0.0533\n"
               "cpu,d0,fp32,lfw,genuine,3000\n"
               "cpu,d0,fp32,lfw,impostor,3000\n"
               "cpu,d0,fp32,lfw,accuracy_10fold_mean,0.9452\n"
               "cpu,d0,fp32,lfw,accuracy_10fold_std,0.01\n"
               "cpu,d0,fp32,lfw,accuracy_10fold_se,0.003\n"
               "cpu,d0,fp32,lfw,accuracy_10fold_folds,10\n"
               "cpu,d0,fp32,lfw,fmr@threshold,0.001\n"
               "cpu,d0,fp32,lfw,samples,7\n"
               "cpu,d0,fp32,lfw,future_metric,1\n");
    write_text(dir, "provenance.csv", "scope,key,value\nrun,dataset_kind,lfw\nrun,trials,6000\n"
                                      "cpu-d0-fp32,device_name,Test CPU\n");
    write_text(dir, "failures.csv", "sample,path,reason\nx_1,/x.jpg,no face\n");
    write_text(dir, "gallery.csv", "combo,kind,rank,score,a,b,path_a,path_b,chip_a,chip_b\n"
                                   "cpu-d0-fp32,genuine,1,1.25,a,b,/a.jpg,/b.jpg,gallery/a.png,\n");
    vb_err e = {0};
    vb_results_folder rf;
    vb_results_store st;
    vb_results r;
    CHECK(vb_results_folder_read(dir, &rf, &e) == 0);
    CHECKF(vb_results_from_folder(&rf, dir, &st, &r, &e) == 0, "%s", e.msg);
    CHECK(r.n_combos == 1);
    if (r.n_combos == 1) {
        const vb_result_combo *k = &r.combos[0];
        CHECK(!strcmp(k->label, "cpu-d0-fp32") && !strcmp(k->device_name, "Test CPU"));
        CHECK(k->metrics.have & VB_MG_KFOLD);
        CHECK(k->metrics.accuracy_10fold_mean == 0.9452);
        CHECK(!(k->metrics.have & VB_MG_MODEL_THRESHOLD)); /* only fmr@threshold of its rows */
        CHECK(!vb_metric_present(&k->metrics, vb_metric_find("fmr@threshold")));
        CHECK(!(k->metrics.have & VB_MG_CORE)); /* eer alone is not the engine's group */
        CHECK(!(k->metrics.have & VB_MG_RUN));  /* samples without fta_samples, model_bytes */
        CHECK(k->metrics.eer == 0.0533 && k->n_samples == 7 && !k->embed_counts_known);
        CHECK(k->n_gallery == 1 && k->gallery[0].genuine == 1 && k->gallery[0].score == 1.25);
        CHECK(!strcmp(k->gallery[0].chip_a, "gallery/a.png") && k->gallery[0].chip_b[0] == 0);
    }
    CHECK(r.n_folds == 10 && !strcmp(r.kind, "lfw") && r.n_trials == 6000 && r.n_genuine == 3000);
    CHECK(r.n_fta == 1 && !strcmp(r.fta[0].sample, "x_1") && !strcmp(r.fta[0].reason, "no face"));
    CHECK(r.plots_skipped && r.det_plot[0] == 0); /* no plots/ on disk */
    vb_results_store_free(&st);
    /* a gallery row naming a combination metrics.csv lacks is an error naming the line */
    write_text(dir, "gallery.csv", "combo,kind,rank,score,a,b,path_a,path_b,chip_a,chip_b\n"
                                   "cpu-zz-fp32,genuine,1,1,a,b,,,,\n");
    CHECK(vb_results_from_folder(&rf, dir, &st, &r, &e) == -1 && e.code == VB_EXIT_INPUT &&
          strstr(e.msg, "gallery.csv:2") != NULL);
    /* a chip outside the folder is refused: report.html would inline it */
    const char *outside[] = {"/etc/passwd", "../x.png", "gallery/../../x.png"};
    for (size_t i = 0; i < sizeof outside / sizeof *outside; i++) {
        char text[256];
        snprintf(text, sizeof text, "combo,kind,rank,score,a,b,path_a,path_b,chip_a,chip_b\n"
                                    "cpu-d0-fp32,impostor,1,1,a,b,,,gallery/ok..png,%s\n", outside[i]);
        write_text(dir, "gallery.csv", text);
        int rc = vb_results_from_folder(&rf, dir, &st, &r, &e);
        CHECKF(rc == -1 && strstr(e.msg, "chip_b") && strstr(e.msg, outside[i]),
               "chip %s accepted", outside[i]);
    }
    vb_results_folder_free(&rf);
    const char *names[] = {"metrics.csv", "provenance.csv", "failures.csv", "gallery.csv"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

int main(void)
{
    RUN(test_gallery_distances);
    RUN(test_gallery_similarities);
    RUN(test_png_roundtrip);
    RUN(test_det_script_large);
    RUN(test_det_band);
    RUN(test_html_report);
    RUN(test_results_from_folder);
    return vb_test_finish();
}
