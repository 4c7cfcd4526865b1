/* The whole face net on the CPU backend against face-api.js itself.
 * Oracle: tests/data/faceapi_descriptors.csv, made by tests/oracle/make_faceapi_oracle.sh:
 * @vladmandic/face-api 1.7.15 (tfjs 4.22 CPU backend, node) on pixels decoded by
 * veribench's JPEG decoder (libjpeg-turbo, default settings), crop 70,70,180,180.
 * That package normalizes with /255 where dlib (and we) use /256: with /255 we must agree
 * to float rounding; with /256 to the documented ~5e-4 (model.md). */
#include <csv.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/engine.h"
#include "tests/testlib.h"

#define MAX_IMAGES 16
#define DIM 128

typedef struct oracle {
    char names[MAX_IMAGES][64];
    float desc[MAX_IMAGES][DIM];
    int n, field, row;
} oracle;

static void on_field(void *s, size_t len, void *data)
{
    oracle *o = data;
    char buf[64];
    snprintf(buf, sizeof buf, "%.*s", (int)len, (const char *)s);
    if (o->row > 0 && o->n < MAX_IMAGES) {
        if (o->field == 0)
            snprintf(o->names[o->n], sizeof o->names[o->n], "%s", buf);
        else if (o->field <= DIM)
            o->desc[o->n][o->field - 1] = strtof(buf, NULL);
    }
    o->field++;
}

static void on_row(int c, void *data)
{
    (void)c;
    oracle *o = data;
    if (o->row++ > 0 && o->field == DIM + 1)
        o->n++;
    o->field = 0;
}

static int load_oracle(oracle *o)
{
    memset(o, 0, sizeof *o);
    FILE *f = fopen("tests/data/faceapi_descriptors.csv", "rb");
    if (!f)
        return -1;
    struct csv_parser p;
    csv_init(&p, 0);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        csv_parse(&p, buf, n, on_field, on_row, o);
    csv_fini(&p, on_field, on_row, o);
    csv_free(&p);
    fclose(f);
    return 0;
}

static oracle orc;
static vb_engine engine;
static float ours[MAX_IMAGES][DIM];
static int got[MAX_IMAGES];

static int collect(void *ctx, size_t i, const float *d, const vb_err *why)
{
    (void)ctx;
    CHECKF(d != NULL, "image %zu failed: %s", i, why ? why->msg : "");
    if (d) {
        memcpy(ours[i], d, sizeof ours[i]);
        got[i] = 1;
    }
    return 0;
}

static double cosine(const float *a, const float *b)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < DIM; i++)
        ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return ab / sqrt(aa * bb);
}

static double distance(const float *a, const float *b)
{
    double s = 0;
    for (int i = 0; i < DIM; i++)
        s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(s);
}

/* "Abel_Pacheco_0001" -> <data>/lfw/images_deepfunneled/Abel_Pacheco/Abel_Pacheco_0001.jpg */
static void image_path(const char *name, char *out, size_t n)
{
    char person[64];
    snprintf(person, sizeof person, "%s", name);
    char *us = strrchr(person, '_');
    if (us)
        *us = 0;
    snprintf(out, n, "%s/lfw/images_deepfunneled/%s/%s.jpg", vb_test_data_dir(), person, name);
}

static void embed_all(const char *backend, float scale)
{
    vb_engine_opts o = {.model_path = vb_default_model_path(), .backend = backend, .batch = 4,
                        .prep = {.set = 1, .mode = VB_PREP_CROP, .crop = {1, 70, 70, 180, 180}}};
    vb_err e = {0};
    int rc = vb_engine_open(&engine, &o, &e);
    CHECKF(rc == 0, "engine: %s", e.msg);
    if (rc)
        return;
    engine.graph.in_scale = scale;
    static char paths[MAX_IMAGES][1024];
    const char *pp[MAX_IMAGES];
    for (int i = 0; i < orc.n; i++) {
        image_path(orc.names[i], paths[i], sizeof paths[i]);
        pp[i] = paths[i];
    }
    memset(got, 0, sizeof got);
    rc = vb_engine_embed_files(&engine, pp, (size_t)orc.n, collect, NULL, &e);
    CHECKF(rc == 0, "embed: %s", e.msg);
    vb_engine_close(&engine);
}

static void agreement(const char *backend, float scale, double min_cos, double max_abs)
{
    embed_all(backend, scale);
    for (int i = 0; i < orc.n; i++) {
        if (!got[i])
            continue;
        double c = cosine(ours[i], orc.desc[i]), m = vb_max_abs(ours[i], orc.desc[i], DIM);
        CHECKF(c >= min_cos, "%s %s scale 1/%.0f: cosine %.9f < %.9f", backend, orc.names[i], 1 / scale, c, min_cos);
        CHECKF(m <= max_abs, "%s %s scale 1/%.0f: max abs %.3g > %.3g", backend, orc.names[i], 1 / scale, m, max_abs);
    }
}

/* Same normalization as the package (/255): only float summation order differs. */
static void test_matches_faceapi_bitwise_normalization(void)
{
    agreement("cpu:ref", 1.0f / 255, 0.9999999, 2e-6);
    agreement("cpu", 1.0f / 255, 0.9999999, 2e-6);
}

/* dlib's /256: the acceptance bound (cos >= 0.99999, max abs <= 1e-3). */
static void test_matches_faceapi_dlib_normalization(void)
{
    agreement("cpu:ref", 1.0f / 256, 0.99999, 1e-3);
    agreement("cpu", 1.0f / 256, 0.99999, 1e-3);
}

static int find(const char *name)
{
    for (int i = 0; i < orc.n; i++)
        if (!strcmp(orc.names[i], name))
            return i;
    return -1;
}

/* The first four matched and four mismatched pairs of LFW View 2 fold 1: same person
 * closer than dlib's 0.6, different people farther. */
static void test_decisions(void)
{
    static const struct { const char *a, *b; int same; } trials[] = {
        {"Abel_Pacheco_0001", "Abel_Pacheco_0004", 1},
        {"Akhmed_Zakayev_0001", "Akhmed_Zakayev_0003", 1},
        {"Akhmed_Zakayev_0002", "Akhmed_Zakayev_0003", 1},
        {"Amber_Tamblyn_0001", "Amber_Tamblyn_0002", 1},
        {"Abdel_Madi_Shabneh_0001", "Dean_Barker_0001", 0},
        {"Abdel_Madi_Shabneh_0001", "Giancarlo_Fisichella_0001", 0},
        {"Abdel_Madi_Shabneh_0001", "Mikhail_Gorbachev_0001", 0},
        {"Abdul_Rahman_0001", "Portia_de_Rossi_0001", 0},
    };
    embed_all("cpu", 1.0f / 256);
    for (size_t t = 0; t < VB_ARRAY_LEN(trials); t++) {
        int i = find(trials[t].a), j = find(trials[t].b);
        CHECKF(i >= 0 && j >= 0, "oracle lacks %s or %s", trials[t].a, trials[t].b);
        if (i < 0 || j < 0)
            continue;
        double d = distance(ours[i], ours[j]);
        if (trials[t].same)
            CHECKF(d < 0.6, "%s vs %s: same person at distance %.4f", trials[t].a, trials[t].b, d);
        else
            CHECKF(d > 0.6, "%s vs %s: different people at distance %.4f", trials[t].a, trials[t].b, d);
    }
}

int main(void)
{
    CHECKF(load_oracle(&orc) == 0 && orc.n == 13, "oracle file: %d descriptors read", orc.n);
    if (orc.n) {
        RUN(test_matches_faceapi_bitwise_normalization);
        RUN(test_matches_faceapi_dlib_normalization);
        RUN(test_decisions);
    }
    return vb_test_finish();
}
