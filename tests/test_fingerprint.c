/* The fingerprint matcher (models/fingerprint.h) and the synthetic prints it is tested on
 * (datasets/synth_fp.h): minutiae found where they were planted, template records and
 * files round-trip and refuse damage, the parameter GGUF round-trips and refuses bad
 * values, and on a generated set the matcher is symmetric and scores every genuine pair
 * above every impostor pair. (The FVC2002 protocol counts are checked in test_datasets:
 * B set 325 trials = 280 genuine + 45 impostor; all pairs 3,160 = 280 + 2,880.) */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datasets/image.h"
#include "core/files.h"
#include "datasets/synth_fp.h"
#include "models/fingerprint.h"
#include "tests/testlib.h"

static vb_fp_params defaults(void)
{
    vb_fp_params p;
    vb_fp_params_default(&p);
    return p;
}

/* Five phase dislocations, far from each other and from the edge: five minutiae. */
static void test_known_minutiae(void)
{
    enum { W = 320, H = 320, N = 5 };
    const float pts[N][2] = {{100, 100}, {220, 95}, {160, 165}, {95, 230}, {225, 225}};
    uint8_t *gray = malloc(W * H);
    vb_synth_fp_dislocations(W, H, 9.0f, 0.5f, pts, N, gray);
    vb_fp_params p = defaults();
    vb_fp_template t;
    vb_err e = {0};
    CHECK(vb_fp_extract(gray, W, H, &p, &t, NULL, NULL, &e) == 0);
    int found = 0;
    double err = 0;
    for (int k = 0; k < N; k++) {
        double best = 1e9;
        for (int i = 0; i < t.count; i++)
            best = fmin(best, hypot(t.m[i].x - pts[k][0], t.m[i].y - pts[k][1]));
        if (best <= 8)
            found++, err += best;
    }
    CHECKF(found >= N - 1, "recall: %d of %d planted minutiae found within 8 px", found, N);
    CHECKF(found && err / found <= 4.0, "mean position error %.2f px", found ? err / found : 0.0);
    CHECKF(t.count <= N + 3, "%d minutiae reported for %d planted (spurious ones)", t.count, N);
    free(gray);
}

static void test_template_records(void)
{
    vb_fp_template t = {.width = 300, .height = 400, .count = 2};
    t.m[0] = (vb_fp_minutia){10.5f, 20, 1.25f, 1, 0.9f};
    t.m[1] = (vb_fp_minutia){200, 390, 6.0f, 2, 0.5f};
    float rec[VB_FP_TEMPLATE_FLOATS];
    vb_fp_template_pack(&t, rec);
    vb_fp_template u;
    vb_err e = {0};
    CHECK(vb_fp_template_unpack(rec, &u, &e) == 0 && u.count == 2 && u.m[1].kind == 2 && u.m[0].x == 10.5f);
    rec[3 + 4 + 2] = 7.0f; /* an angle out of range */
    CHECK(vb_fp_template_unpack(rec, &u, &e) != 0 && strstr(e.msg, "minutia 1"));
    rec[0] = 1000;
    CHECK(vb_fp_template_unpack(rec, &u, &e) != 0);

    char path[] = "/tmp/vb_fp_tplXXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK(vb_fp_template_save(path, &t, &e) == 0);
    CHECK(vb_fp_template_load(path, &u, &e) == 0 && u.count == 2 && u.m[1].theta == 6.0f && u.width == 300);
    FILE *f = fopen(path, "w");
    fputs("VBFPT001 300 400 2\n1 2 3 1 0.5\n", f); /* one minutia short */
    fclose(f);
    CHECK(vb_fp_template_load(path, &u, &e) != 0 && strstr(e.msg, "minutia 2"));
    unlink(path);
}

/* ISO/IEC 19794-2-style record: round trip within its resolution; damage refused. */
static void test_iso_record(void)
{
    vb_fp_template t = {.width = 388, .height = 374, .count = 3}, u;
    t.m[0] = (vb_fp_minutia){12, 300, 0.1f, 1, 0.8f};
    t.m[1] = (vb_fp_minutia){387, 0, 3.0f, 2, 0.25f};
    t.m[2] = (vb_fp_minutia){200, 150, 6.25f, 1, 1.0f};
    uint8_t buf[1024];
    size_t len = 0;
    vb_err e = {0};
    CHECK(vb_fp_template_to_iso(&t, buf, sizeof buf, &len, &e) == 0 && len == 24 + 4 + 3 * 6 + 2);
    CHECK(memcmp(buf, "FMR\0 20\0", 8) == 0 && buf[14] == 388 >> 8 && buf[15] == (388 & 255));
    CHECK(vb_fp_template_from_iso(buf, len, &u, &e) == 0 && u.count == 3 && u.width == 388 && u.height == 374);
    for (int i = 0; i < 3; i++) {
        double d = fabs(u.m[i].theta - t.m[i].theta);
        d = fmin(d, 2 * M_PI - d);
        CHECKF(u.m[i].x == t.m[i].x && u.m[i].y == t.m[i].y && u.m[i].kind == t.m[i].kind && d <= M_PI / 256 + 1e-6,
               "minutia %d: (%g,%g,%g,%d) back as (%g,%g,%g,%d)", i, t.m[i].x, t.m[i].y, t.m[i].theta, t.m[i].kind,
               u.m[i].x, u.m[i].y, u.m[i].theta, u.m[i].kind);
    }
    CHECK(vb_fp_template_from_iso(buf, len - 1, &u, &e) != 0);
    buf[0] = 'X';
    CHECK(vb_fp_template_from_iso(buf, len, &u, &e) != 0);
    CHECK(vb_fp_template_to_iso(&t, buf, 20, &len, &e) != 0);
}

/* Reads path and expects an error naming the file and saying what is wrong. */
static void expect_bad_template(const char *path, const char *what)
{
    vb_fp_template u;
    vb_err e = {0};
    CHECKF(vb_fp_template_read_file(path, &u, &e) != 0 && strstr(e.msg, path) && strstr(e.msg, what),
           "%s: expected an error with '%s', got '%s'", path, what, e.msg);
}

/* Template files: both kinds read back by content; truncated, garbage, empty, missing files
 * are errors naming the file. */
static void test_template_files(void)
{
    char dir[] = "/tmp/vb_fp_tplXXXXXX", iso[256], text[256], bad[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(iso, sizeof iso, "%s/a.fmr", dir);
    snprintf(text, sizeof text, "%s/a.fpt", dir);
    snprintf(bad, sizeof bad, "%s/bad.fmr", dir);
    vb_fp_template t = {.width = 300, .height = 400, .count = 2}, u;
    t.m[0] = (vb_fp_minutia){10, 20, 1.0f, 1, 0};
    t.m[1] = (vb_fp_minutia){150, 390, 4.0f, 2, 0};
    vb_err e = {0};
    CHECK(vb_fp_is_template_path(iso) && vb_fp_is_template_path(text) && !vb_fp_is_template_path("x.png"));
    CHECK(vb_fp_template_write_iso(iso, &t, &e) == 0 && vb_fp_template_save(text, &t, &e) == 0);
    CHECK(vb_fp_template_read_file(iso, &u, &e) == 0 && u.count == 2 && u.m[1].x == 150 && u.m[1].kind == 2);
    CHECK(vb_fp_template_read_file(text, &u, &e) == 0 && memcmp(&u, &t, sizeof u) == 0);
    uint8_t *data = NULL;
    size_t n = 0;
    CHECK(vb_read_file(iso, 1 << 20, &data, &n, &e) == 0 && n > 30);
    CHECK(vb_write_file_atomic(bad, data, n - 6, &e) == 0);
    expect_bad_template(bad, "truncated");
    data[24 + 4 + 4] = 0; /* minutia 1's angle is fine; break its type bits instead */
    data[24 + 4] = 0xc0;
    CHECK(vb_write_file_atomic(bad, data, n, &e) == 0);
    expect_bad_template(bad, "minutia 1 is invalid");
    free(data);
    CHECK(vb_write_file_atomic(bad, "garbage\n", 8, &e) == 0);
    expect_bad_template(bad, "not a fingerprint template");
    CHECK(vb_write_file_atomic(bad, "VBFPT001 300 400 3\n1 2 3 1 0\n", 30, &e) == 0);
    expect_bad_template(bad, "minutia 2 is missing");
    CHECK(vb_write_file_atomic(bad, "", 0, &e) == 0);
    expect_bad_template(bad, "not a fingerprint template");
    unlink(bad);
    expect_bad_template(bad, "bad.fmr");
    unlink(iso);
    unlink(text);
    rmdir(dir);
}

static void test_model_file(void)
{
    char dir[] = "/tmp/vb_fp_modelXXXXXX", path[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/" VB_FP_ARCH ".gguf", dir);
    vb_err e = {0};
    CHECK(vb_fp_model_write(path, &e) == 0);
    vb_model m;
    vb_fp_params p, d = defaults();
    CHECK(vb_model_load(path, &m, &e) == 0);
    CHECK(vb_fp_params_load(&m, &p, &e) == 0 && memcmp(&p, &d, sizeof p) == 0);
    vb_model_free(&m);
    /* a parameter out of its range is refused by name */
    vb_gguf_writer *w = vb_gguf_writer_new();
    vb_gguf_set_str(w, "general.architecture", VB_FP_ARCH);
#define PUT(name, def, doc) vb_gguf_set_f32(w, "fingerprint." #name, strcmp(#name, "mcc_ns") ? d.name : 1000.0f);
    VB_FP_PARAMS(PUT)
#undef PUT
    CHECK(vb_gguf_write(w, path, &e) == 0);
    vb_gguf_writer_free(w);
    CHECK(vb_model_load(path, &m, &e) == 0);
    CHECK(vb_fp_params_load(&m, &p, &e) != 0 && strstr(e.msg, "fingerprint.mcc_ns"));
    vb_model_free(&m);
    unlink(path);
    rmdir(dir);
}

/* 3 fingers x 2 impressions: every genuine score above every impostor score; s(a,b) = s(b,a). */
static void test_matcher_on_generated_prints(void)
{
    enum { W = 288, H = 384, FINGERS = 3, IMPR = 2, N = FINGERS * IMPR };
    float *master = malloc(W * H * sizeof *master);
    uint8_t *gray = malloc(W * H);
    vb_fp_params p = defaults();
    vb_fp_cylinders *c[N];
    vb_err e = {0};
    for (int f = 0; f < FINGERS; f++) {
        CHECK(vb_synth_fp_master(100 + f, W, H, master, &e) == 0);
        for (int i = 0; i < IMPR; i++) {
            vb_fp_template t;
            vb_synth_fp_impression(master, W, H, 1000 * f + i, gray);
            CHECK(vb_fp_extract(gray, W, H, &p, &t, NULL, NULL, &e) == 0);
            CHECKF(t.count >= p.min_minutiae, "finger %d impression %d: %d minutiae", f, i, t.count);
            c[f * IMPR + i] = vb_fp_cylinders_make(&t, &p, &e);
        }
    }
    double min_gen = 2, max_imp = -1, asym = 0;
    for (int a = 0; a < N; a++)
        for (int b = a + 1; b < N; b++) {
            double s = vb_fp_match(c[a], c[b], &p), s2 = vb_fp_match(c[b], c[a], &p);
            asym = fmax(asym, fabs(s - s2));
            if (a / IMPR == b / IMPR)
                min_gen = fmin(min_gen, s);
            else
                max_imp = fmax(max_imp, s);
        }
    CHECKF(min_gen > max_imp, "lowest genuine %.4f above highest impostor %.4f", min_gen, max_imp);
    CHECKF(asym <= 1e-9, "largest |s(a,b) - s(b,a)| = %g", asym);
    CHECK(vb_fp_match(c[0], c[0], &p) >= min_gen);
    for (int k = 0; k < N; k++)
        vb_fp_cylinders_free(c[k]);
    free(master);
    free(gray);
}

static void test_generator_is_deterministic(void)
{
    enum { W = 64, H = 64 };
    float a[W * H], b[W * H];
    vb_err e = {0};
    CHECK(vb_synth_fp_master(7, W, H, a, &e) == 0 && vb_synth_fp_master(7, W, H, b, &e) == 0);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(vb_synth_fp_master(8, W, H, b, &e) == 0 && memcmp(a, b, sizeof a) != 0);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v & 255, p[1] = v >> 8 & 255, p[2] = v >> 16 & 255, p[3] = v >> 24;
}

/* A BMP header for a w x h bitmap of bpp bits (h < 0: top-down), palette of n entries. */
static size_t bmp_header(uint8_t *b, int w, int h, int bpp, int n_pal)
{
    memset(b, 0, 54);
    b[0] = 'B', b[1] = 'M';
    put32(b + 10, 54 + 4 * n_pal);
    put32(b + 14, 40);
    put32(b + 18, (uint32_t)w);
    put32(b + 22, (uint32_t)h);
    b[26] = 1, b[28] = (uint8_t)bpp;
    put32(b + 46, (uint32_t)n_pal);
    return 54;
}

/* Prints decode from BMP: 8-bit grey palette bottom-up (rows padded to 4 bytes), 24-bit
 * top-down; truncated and 4-bit bitmaps refused. */
static void test_bmp(void)
{
    uint8_t b[2048];
    size_t n = bmp_header(b, 5, 2, 8, 256);
    for (int i = 0; i < 256; i++)
        b[n + 4 * i] = b[n + 4 * i + 1] = b[n + 4 * i + 2] = (uint8_t)i, b[n + 4 * i + 3] = 0;
    n += 1024;
    const uint8_t rows[2][8] = {{10, 11, 12, 13, 14, 0, 0, 0}, {20, 21, 22, 23, 24, 0, 0, 0}}; /* bottom row first */
    memcpy(b + n, rows, sizeof rows);
    n += sizeof rows;
    vb_image img;
    vb_err e = {0};
    CHECK(vb_image_decode(b, n, "g.bmp", &img, &e) == 0 && img.c == 1 && img.w == 5 && img.h == 2);
    CHECK(img.px[0] == 20 && img.px[4] == 24 && img.px[5] == 10 && img.px[9] == 14);
    vb_image_free(&img);
    CHECK(vb_image_decode(b, n - 1, "g.bmp", &img, &e) != 0 && strstr(e.msg, "truncated"));
    n = bmp_header(b, 2, -1, 24, 0);
    const uint8_t px[8] = {1, 2, 3, 4, 5, 6, 0, 0}; /* BGR BGR, padded */
    memcpy(b + n, px, sizeof px);
    CHECK(vb_image_decode(b, n + 8, "c.bmp", &img, &e) == 0 && img.c == 3 && img.px[0] == 3 && img.px[2] == 1 &&
          img.px[3] == 6);
    vb_image_free(&img);
    bmp_header(b, 2, 1, 4, 16);
    CHECK(vb_image_decode(b, 200, "4.bmp", &img, &e) != 0 && strstr(e.msg, "4 bits"));
}

int main(void)
{
    RUN(test_bmp);
    RUN(test_known_minutiae);
    RUN(test_template_records);
    RUN(test_iso_record);
    RUN(test_template_files);
    RUN(test_model_file);
    RUN(test_generator_is_deterministic);
    RUN(test_matcher_on_generated_prints);
    return vb_test_finish();
}
