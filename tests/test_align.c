/* Face alignment (models/face_align.h): the similarity fit against an independent least
 * squares solve, dlib's template and its chip geometry (the half-pixel and
 * (size*s-1)/(size-1) quirks of chip_details), the warp of a synthetic face drawn under a
 * known similarity, dlib's bilinear edge rule, truncation, normalization and the pyramid;
 * and the chips against dlib's own (tests/data/dlib_chips, tests/oracle/make_dlib_chip_oracle.sh). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/image.h"
#include "models/face_align.h"
#include "tests/testlib.h"

/* dlib's mean face (dlib/image_transforms/interpolation.h, get_face_chip_details), points
 * 17..67, copied independently of models/face_align.c. */
static const double tpl_x[51] = {
    0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004,
    0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036, 0.490127, 0.554217, 0.613373, 0.121737,
    0.187122, 0.265825, 0.334606, 0.260918, 0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751,
    0.719335, 0.254149, 0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
    0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874, 0.553364, 0.490127,
    0.42689};
static const double tpl_y[51] = {
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454,
    0.203352, 0.307009, 0.409805, 0.515625, 0.587326, 0.609345, 0.628106, 0.609345, 0.587326, 0.216423,
    0.178758, 0.179852, 0.231733, 0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077,
    0.245099, 0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805, 0.902192,
    0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746, 0.784792, 0.824182, 0.831803,
    0.824182};

enum { N = 150 };
static const double PAD = 0.25;

/* Landmarks at dlib's template positions in an N-pixel chip with padding PAD, mapped
 * through the similarity t (chip -> image); the jaw (0..16, absent from dlib's table) is
 * put far away: dlib ignores it, so must we. */
static void template_landmarks(const vb_similarity *t, vb_point pts[VB_LANDMARKS])
{
    for (int i = 0; i < VB_LANDMARKS; i++) {
        double u = i < 17 ? 1000 + 37 * i : (PAD + tpl_x[i - 17]) / (2 * PAD + 1) * N;
        double v = i < 17 ? -500 - 11 * i : (PAD + tpl_y[i - 17]) / (2 * PAD + 1) * N;
        pts[i].x = (float)(t->a * u - t->b * v + t->tx);
        pts[i].y = (float)(t->b * u + t->a * v + t->ty);
    }
}

/* dlib's effective chip -> image map for a template fit t (chip_details + extract_image_chips
 * worked out by hand): spacing (N*s - 1)/(N - 1), chip pixel (N-1)/2 on t(N/2, N/2). */
static vb_similarity dlib_effective(const vb_similarity *t)
{
    double s = hypot(t->a, t->b), k = (N * s - 1) / (N - 1);
    double cx = t->a * N / 2.0 - t->b * N / 2.0 + t->tx, cy = t->b * N / 2.0 + t->a * N / 2.0 + t->ty;
    vb_similarity r = {k * t->a / s, k * t->b / s, 0, 0};
    double m = (N - 1) / 2.0;
    r.tx = cx - (r.a * m - r.b * m);
    r.ty = cy - (r.b * m + r.a * m);
    return r;
}

static void apply(const vb_similarity *t, double u, double v, double *x, double *y)
{
    *x = t->a * u - t->b * v + t->tx;
    *y = t->b * u + t->a * v + t->ty;
}

static void test_fit_exact(void)
{
    vb_point from[12], to[12];
    vb_similarity truth = {0.8 * cos(0.5), 0.8 * sin(0.5), 31.25, -7.5}, got;
    for (int i = 0; i < 12; i++) {
        from[i].x = (float)(i * 13 % 17 - 5);
        from[i].y = (float)(i * 7 % 11 + 2);
        double x, y;
        apply(&truth, from[i].x, from[i].y, &x, &y);
        to[i].x = (float)x, to[i].y = (float)y;
    }
    vb_err e;
    CHECK(vb_similarity_fit(from, to, 12, &got, &e) == 0);
    /* the targets are floats: 1e-5 of rounding on values up to ~40 */
    CHECK_NEAR(got.a, truth.a, 1e-6);
    CHECK_NEAR(got.b, truth.b, 1e-6);
    CHECK_NEAR(got.tx, truth.tx, 2e-5);
    CHECK_NEAR(got.ty, truth.ty, 2e-5);
    /* two points determine it */
    CHECK(vb_similarity_fit(from, to, 2, &got, &e) == 0);
    CHECK_NEAR(got.a, truth.a, 1e-5);
    CHECK_NEAR(got.b, truth.b, 1e-5);
}

/* Solve the 4x4 system m x = r (Gaussian elimination with partial pivoting). */
static void solve4(double m[4][5], double x[4])
{
    for (int c = 0; c < 4; c++) {
        int p = c;
        for (int r = c + 1; r < 4; r++)
            if (fabs(m[r][c]) > fabs(m[p][c]))
                p = r;
        for (int k = 0; k < 5; k++) {
            double tmp = m[c][k];
            m[c][k] = m[p][k], m[p][k] = tmp;
        }
        for (int r = 0; r < 4; r++)
            if (r != c) {
                double f = m[r][c] / m[c][c];
                for (int k = c; k < 5; k++)
                    m[r][k] -= f * m[c][k];
            }
    }
    for (int i = 0; i < 4; i++)
        x[i] = m[i][4] / m[i][i];
}

/* With noise: the fit is the least-squares similarity. Every scaled rotation is [a -b; b a],
 * so Umeyama's answer must equal the linear least squares in (a, b, tx, ty), solved here
 * from the normal equations; and any nudge of the parameters must raise the residual. */
static void test_fit_least_squares(void)
{
    enum { M = 20 };
    vb_point from[M], to[M];
    float noise[2 * M];
    vb_test_fill_random(noise, 2 * M, 7, -1.5f, 1.5f);
    vb_similarity truth = {-0.3, 1.7, 100, 40}, got;
    for (int i = 0; i < M; i++) {
        from[i].x = (float)(i * 29 % 31), from[i].y = (float)(i * 17 % 23);
        double x, y;
        apply(&truth, from[i].x, from[i].y, &x, &y);
        to[i].x = (float)(x + noise[2 * i]), to[i].y = (float)(y + noise[2 * i + 1]);
    }
    vb_err e;
    CHECK(vb_similarity_fit(from, to, M, &got, &e) == 0);
    /* residuals: x - (a u - b v + tx), y - (b u + a v + ty); rows (u, -v, 1, 0) and (v, u, 0, 1) */
    double ne[4][5] = {{0}};
    for (int i = 0; i < M; i++) {
        double rows[2][5] = {{from[i].x, -from[i].y, 1, 0, to[i].x}, {from[i].y, from[i].x, 0, 1, to[i].y}};
        for (int r = 0; r < 2; r++)
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 5; k++)
                    ne[j][k] += rows[r][j] * rows[r][k];
    }
    double x[4];
    solve4(ne, x);
    CHECK_NEAR(got.a, x[0], 1e-9);
    CHECK_NEAR(got.b, x[1], 1e-9);
    CHECK_NEAR(got.tx, x[2], 1e-7);
    CHECK_NEAR(got.ty, x[3], 1e-7);
    CHECKF(fabs(got.a - truth.a) > 1e-4, "noise moved the fit (a %.6f vs %.6f): the test has teeth", got.a, truth.a);
    double best = 0;
    for (int pass = -1; pass < 8; pass++) {
        vb_similarity t = got;
        double *par[4] = {&t.a, &t.b, &t.tx, &t.ty};
        if (pass >= 0)
            *par[pass / 2] += pass % 2 ? 1e-3 : -1e-3;
        double sse = 0;
        for (int i = 0; i < M; i++) {
            double px, py;
            apply(&t, from[i].x, from[i].y, &px, &py);
            sse += (px - to[i].x) * (px - to[i].x) + (py - to[i].y) * (py - to[i].y);
        }
        if (pass < 0)
            best = sse;
        else
            CHECKF(sse > best, "nudge %d: residual %.9g must exceed the fit's %.9g", pass, sse, best);
    }
}

static void test_fit_degenerate(void)
{
    vb_point same[4] = {{3, 4}, {3, 4}, {3, 4}, {3, 4}}, spread[4] = {{0, 0}, {10, 0}, {0, 10}, {10, 10}};
    vb_similarity t;
    vb_err e;
    CHECK(vb_similarity_fit(same, spread, 4, &t, &e) == -1);
    CHECKF(strstr(e.msg, "source points coincide") != NULL, "message: %s", e.msg);
    CHECK(vb_similarity_fit(spread, same, 4, &t, &e) == -1);
    CHECKF(strstr(e.msg, "target points") != NULL, "message: %s", e.msg);
    CHECK(vb_similarity_fit(spread, spread, 1, &t, &e) == -1);
    vb_point nan_pt[4] = {{0, 0}, {NAN, 0}, {0, 10}, {10, 10}};
    CHECK(vb_similarity_fit(spread, nan_pt, 4, &t, &e) == -1);
    CHECKF(strstr(e.msg, "not finite") != NULL, "message: %s", e.msg);

    vb_point pts[VB_LANDMARKS];
    for (int i = 0; i < VB_LANDMARKS; i++)
        pts[i] = (vb_point){50, 60};
    CHECK(vb_align_dlib(pts, N, PAD, &t, &e) == -1);
    CHECKF(strstr(e.msg, "face alignment") != NULL, "message: %s", e.msg);
    /* a face smaller than one chip pixel */
    vb_similarity tiny = {0.001, 0, 5, 5};
    template_landmarks(&tiny, pts);
    CHECK(vb_align_dlib(pts, N, PAD, &t, &e) == -1);
    CHECK(vb_align_dlib(pts, 1, PAD, &t, &e) == -1);
}

/* Landmarks on dlib's template: the fit is the identity, and dlib's chip map is u + 0.5
 * (centered_drect puts the chip's corners (size*s - 1)/2 from its centre, and the chip's
 * centre pixel (size-1)/2 on the template's size/2). The jaw, brows and lower lip do not
 * count: moving them changes nothing; moving an eye does. */
static void test_template_identity(void)
{
    vb_similarity id = {1, 0, 0, 0}, t;
    vb_point pts[VB_LANDMARKS];
    template_landmarks(&id, pts);
    vb_err e;
    CHECK(vb_align_dlib(pts, N, PAD, &t, &e) == 0);
    CHECK_NEAR(t.a, 1, 1e-6);
    CHECK_NEAR(t.b, 0, 1e-6);
    CHECK_NEAR(t.tx, 0.5, 1e-4);
    CHECK_NEAR(t.ty, 0.5, 1e-4);

    int ignored[] = {17, 20, 26, 55, 57, 59, 65, 66, 67};
    for (size_t k = 0; k < VB_ARRAY_LEN(ignored); k++)
        pts[ignored[k]].x += 40, pts[ignored[k]].y -= 25;
    vb_similarity t2;
    CHECK(vb_align_dlib(pts, N, PAD, &t2, &e) == 0);
    CHECK(t2.a == t.a && t2.b == t.b && t2.tx == t.tx && t2.ty == t.ty);
    pts[36].x += 10;
    CHECK(vb_align_dlib(pts, N, PAD, &t2, &e) == 0);
    CHECKF(fabs(t2.tx - t.tx) > 0.01, "moving an eye corner moves the chip (tx %.4f vs %.4f)", t2.tx, t.tx);

    /* dlib's 5-point template, from the 68 landmarks 36, 39, 42, 45, 33 placed on it */
    const double p5x[5] = {0.8595674595992, 0.6460604764104, 0.1205750620789, 0.3340850613712, 0.4901123135679};
    const double p5y[5] = {0.2134981538014, 0.2289674387677, 0.2137274526848, 0.2290642403242, 0.6277975316475};
    const int idx[5] = {45, 42, 36, 39, 33};
    for (int k = 0; k < 5; k++)
        pts[idx[k]] = (vb_point){(float)((PAD + p5x[k]) / 1.5 * N), (float)((PAD + p5y[k]) / 1.5 * N)};
    CHECK(vb_align_dlib_template(pts, VB_CHIP_DLIB5, N, PAD, &t2, &e) == 0);
    CHECK_NEAR(t2.a, 1, 1e-6);
    CHECK_NEAR(t2.b, 0, 1e-6);
    CHECK_NEAR(t2.tx, 0.5, 1e-4);
    CHECK_NEAR(t2.ty, 0.5, 1e-4);

    /* padding 0: the template's unit square fills the chip */
    template_landmarks(&id, pts);
    CHECK(vb_align_dlib(pts, N, 0, &t2, &e) == 0);
    CHECK_NEAR(t2.a, 99.0 / 149, 1e-5); /* s = 1/1.5: (150/1.5 - 1)/149 */
}

/* A similarity with scale s: dlib's map is (N*s - 1)/(N - 1) per chip pixel, not s. */
static void test_template_scaled(void)
{
    vb_similarity truth = {2 * cos(-0.3), 2 * sin(-0.3), 420, 77}, t;
    vb_point pts[VB_LANDMARKS];
    template_landmarks(&truth, pts);
    vb_err e;
    CHECK(vb_align_dlib(pts, N, PAD, &t, &e) == 0);
    vb_similarity want = dlib_effective(&truth);
    CHECK_NEAR(hypot(want.a, want.b), 299.0 / 149, 1e-12);
    CHECK_NEAR(t.a, want.a, 1e-5);
    CHECK_NEAR(t.b, want.b, 1e-5);
    CHECK_NEAR(t.tx, want.tx, 2e-3);
    CHECK_NEAR(t.ty, want.ty, 2e-3);
}

/* The synthetic face: a smooth pattern in chip coordinates, f(u, v), values 20..235. */
static double pattern(double u, double v)
{
    return 127.5 + 60 * sin(u * 2 * M_PI / 41 + 0.3) * cos(v * 2 * M_PI / 29) + 40 * cos((u + v) * 2 * M_PI / 53);
}

/* Draw f under the similarity `truth` (chip -> image) into a w x h RGB image: pixel (x, y)
 * = f(truth^-1(x, y)) in red, f + 10 in green, f - 10 in blue, rounded. */
static uint8_t *draw(const vb_similarity *truth, int w, int h)
{
    uint8_t *img = malloc((size_t)w * h * 3);
    double d = truth->a * truth->a + truth->b * truth->b;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double dx = x - truth->tx, dy = y - truth->ty;
            double u = (truth->a * dx + truth->b * dy) / d, v = (-truth->b * dx + truth->a * dy) / d;
            double f = pattern(u, v);
            img[((size_t)y * w + x) * 3 + 0] = (uint8_t)lround(f);
            img[((size_t)y * w + x) * 3 + 1] = (uint8_t)lround(f + 10);
            img[((size_t)y * w + x) * 3 + 2] = (uint8_t)lround(f - 10);
        }
    return img;
}

/* Warp back: chip pixel (u, v) must show f at the template point dlib's map sends it to,
 * truth^-1(dlib_effective(u, v)), within the bilinear error on this pattern plus dlib's
 * truncation to 8 bits (max 3 levels, mean under 1). Returns the chip's mean |error|. */
static double warp_and_compare(const vb_similarity *truth, int w, int h, int expect_level)
{
    uint8_t *img = draw(truth, w, h);
    vb_point pts[VB_LANDMARKS];
    template_landmarks(truth, pts);
    vb_similarity t;
    vb_err e;
    CHECK(vb_align_dlib(pts, N, PAD, &t, &e) == 0);
    CHECK(vb_chip_pyramid_level(&t, N) == expect_level);
    float *out = malloc(sizeof(float) * N * N * 3);
    uint8_t *chip = malloc(N * N * 3);
    const float mean[3] = {122.782f, 117.001f, 104.298f};
    CHECK(vb_warp_chip(img, w, h, 3, &t, N, mean, 1 / 256.0f, out, chip, &e) == 0);
    vb_similarity eff = dlib_effective(truth);
    double d = truth->a * truth->a + truth->b * truth->b, sum = 0, bias = 0, worst = 0, worst_norm = 0;
    for (int v = 0; v < N; v++)
        for (int u = 0; u < N; u++) {
            double x, y;
            apply(&eff, u, v, &x, &y);
            double dx = x - truth->tx, dy = y - truth->ty;
            double f = pattern((truth->a * dx + truth->b * dy) / d, (-truth->b * dx + truth->a * dy) / d);
            for (int ch = 0; ch < 3; ch++) {
                double want = f + (ch == 1 ? 10 : ch == 2 ? -10 : 0);
                int i = (v * N + u) * 3 + ch;
                double err = fabs(chip[i] - want);
                bias += chip[i] - want;
                sum += err;
                worst = fmax(worst, err);
                worst_norm = fmax(worst_norm, fabs(out[i] - (chip[i] - mean[ch]) / 256.0));
            }
        }
    double mae = sum / (N * N * 3);
    bias /= N * N * 3;
    if (getenv("VB_TEST_VERBOSE"))
        printf("  level %d: max |error| %.3f, mean |error| %.3f, mean error %.3f\n", expect_level, worst, mae, bias);
    /* each truncation to 8 bits (every pyramid level's /256, then the sample's) costs half
     * a level on average; a pyramid level also costs dlib's rect_down offset, a quarter of
     * a level pixel from its filter's centre (p/2 - (1.25, 0.75), where the [1 4 6 4 1]
     * taps centre on p/2 - 1), up to ~2 levels on this pattern per level. */
    double want_bias = -0.5 * (expect_level + 1), max_err = 3 + 2 * expect_level;
    CHECKF(fabs(bias - want_bias) < 0.1, "chip vs drawn face (level %d): mean error %.3f, expected %.1f (truncation)",
           expect_level, bias, want_bias);
    CHECKF(worst <= max_err && mae < 1 + expect_level,
           "chip vs drawn face (level %d): max |error| %.2f (<= %g), mean |error| %.3f (< %d)", expect_level, worst,
           max_err, mae, 1 + expect_level);
    CHECKF(worst_norm < 1e-6, "normalized = (chip - mean) / 256: worst %.3g", worst_norm);
    free(img), free(out), free(chip);
    return mae;
}

static void test_warp_synthetic(void)
{
    /* LFW's scale (a face a little larger than the chip), rotated and shifted */
    vb_similarity lfw = {1.15 * cos(0.35), 1.15 * sin(0.35), 120, 30};
    warp_and_compare(&lfw, 400, 360, 0);
    /* a smaller face, rotated the other way */
    vb_similarity small = {0.7 * cos(-0.2), 0.7 * sin(-0.2), 20, 60};
    warp_and_compare(&small, 200, 220, 0);
}

/* dlib's interpolate_bilinear: the four taps must lie inside, else the sample is 0 in
 * every channel (so the last row and column are never sampled directly); values are
 * truncated, not rounded; gray is replicated. */
static void test_bilinear_edges(void)
{
    enum { W = 4, H = 3 };
    uint8_t g[W * H];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            g[y * W + x] = (uint8_t)(10 * x + 100 * y);
    const float zero[3] = {0, 0, 0};
    float out[4 * 4 * 3];
    uint8_t chip[4 * 4 * 3];
    vb_err e;
    /* chip (u, v) -> image (u * 0.75 + 0.75, v) : x = 0.75, 1.5, 2.25, 3.0 */
    vb_similarity t = {0.75, 0, 0.75, 0};
    CHECK(vb_warp_chip(g, W, H, 1, &t, 4, zero, 1.0f, out, chip, &e) == 0);
    /* row 0: 7.5 -> 7, 15, 22.5 -> 22, x = 3.0 has its right tap at 4 >= W: 0 */
    CHECK(chip[0] == 7 && chip[3] == 15 && chip[6] == 22 && chip[9] == 0);
    /* gray replicated */
    CHECK(chip[1] == 7 && chip[2] == 7 && out[4] == 15.0f && out[5] == 15.0f);
    /* row 1 (y = 0.75): 7.5 + 75 = 82.5 -> 82 */
    CHECK(chip[(1 * 4 + 0) * 3] == 82);
    /* rows 2 and 3 (y = 1.5, 2.25): y = 1.5 inside (bottom tap 2); y = 2.25 outside */
    CHECK(chip[(2 * 4 + 1) * 3] == 165);
    CHECK(chip[(3 * 4 + 1) * 3] == 0);
    /* taps left of 0 */
    vb_similarity left = {1, 0, -0.25, 0};
    CHECK(vb_warp_chip(g, W, H, 1, &left, 2, zero, 1.0f, out, chip, &e) == 0);
    CHECK(chip[0] == 0 && chip[3] == 7);
    /* normalization with mean and scale, RGB */
    uint8_t rgb[W * H * 3];
    for (int i = 0; i < W * H; i++)
        rgb[3 * i] = 200, rgb[3 * i + 1] = 100, rgb[3 * i + 2] = 50;
    const float mean[3] = {100, 50, 25};
    vb_similarity id = {1, 0, 0, 0};
    CHECK(vb_warp_chip(rgb, W, H, 3, &id, 2, mean, 0.5f, out, NULL, &e) == 0);
    CHECK(out[0] == 50.0f && out[1] == 25.0f && out[2] == 12.5f);
}

/* A face more than twice the chip's size: dlib samples pyramid_down<2> levels. The level
 * count follows rect_down's area rule (scale 2 is the last without); a constant image stays
 * constant through the [1 4 6 4 1] filter; a fine checkerboard is averaged to gray instead
 * of aliasing; and the drawn face comes back through level 1 and level 2. */
static void test_pyramid(void)
{
    vb_similarity t = {2.0, 0, 0, 0};
    CHECK(vb_chip_pyramid_level(&t, N) == 0);
    t.a = 2.02;
    CHECK(vb_chip_pyramid_level(&t, N) == 1);
    t.a = 0, t.b = 4.0;
    CHECK(vb_chip_pyramid_level(&t, N) == 1);
    t.b = 4.05;
    CHECK(vb_chip_pyramid_level(&t, N) == 2);

    enum { W = 700, H = 700 };
    uint8_t *img = malloc(W * H * 3);
    for (int i = 0; i < W * H * 3; i++)
        img[i] = 200;
    float *out = malloc(sizeof(float) * N * N * 3);
    uint8_t *chip = malloc(N * N * 3);
    const float zero[3] = {0, 0, 0};
    vb_err e;
    vb_similarity big = {3 * cos(0.1), 3 * sin(0.1), 150, 100};
    CHECK(vb_warp_chip(img, W, H, 3, &big, N, zero, 1.0f, out, chip, &e) == 0);
    int bad = 0;
    for (int v = 10; v < N - 10; v++)
        for (int u = 10; u < N - 10; u++)
            bad += chip[(v * N + u) * 3] != 200;
    CHECKF(bad == 0, "constant image through the pyramid: %d interior pixels differ from 200", bad);

    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int ch = 0; ch < 3; ch++)
                img[(y * W + x) * 3 + ch] = (x + y) % 2 ? 255 : 0;
    CHECK(vb_warp_chip(img, W, H, 3, &big, N, zero, 1.0f, out, chip, &e) == 0);
    int lo = 255, hi = 0;
    for (int v = 10; v < N - 10; v++)
        for (int u = 10; u < N - 10; u++) {
            int p = chip[(v * N + u) * 3];
            lo = p < lo ? p : lo, hi = p > hi ? p : hi;
        }
    CHECKF(lo >= 120 && hi <= 135, "checkerboard at scale 3 is averaged to gray: %d..%d", lo, hi);
    free(img), free(out), free(chip);

    vb_similarity l1 = {3 * cos(0.25), 3 * sin(0.25), 300, 40};
    warp_and_compare(&l1, 760, 720, 1);
    vb_similarity l2 = {5 * cos(-0.15), 5 * sin(-0.15), 100, 260};
    warp_and_compare(&l2, 1000, 1100, 2);
}

/* Part of the face outside the image: those chip pixels are exactly 0, the rest is the face. */
static void test_face_off_image(void)
{
    vb_similarity truth = {1.0, 0, -75, -40};
    int w = 200, h = 200;
    uint8_t *img = draw(&truth, w, h);
    vb_point pts[VB_LANDMARKS];
    template_landmarks(&truth, pts);
    vb_similarity t;
    vb_err e;
    CHECK(vb_align_dlib(pts, N, PAD, &t, &e) == 0);
    float *out = malloc(sizeof(float) * N * N * 3);
    uint8_t *chip = malloc(N * N * 3);
    const float zero[3] = {0, 0, 0};
    CHECK(vb_warp_chip(img, w, h, 3, &t, N, zero, 1.0f, out, chip, &e) == 0);
    int wrong = 0, zeros = 0;
    for (int v = 0; v < N; v++)
        for (int u = 0; u < N; u++) {
            double x, y;
            apply(&t, u, v, &x, &y);
            int outside = floor(x) < 0 || floor(y) < 0 || floor(x) + 1 > w - 1 || floor(y) + 1 > h - 1;
            uint8_t *p = chip + (v * N + u) * 3;
            if (outside) {
                zeros++;
                wrong += p[0] || p[1] || p[2] || out[(v * N + u) * 3] != 0.0f;
            } else {
                wrong += p[1] < 10; /* green is f + 10 >= 30 inside */
            }
        }
    CHECKF(zeros > 5000 && wrong == 0, "%d chip pixels outside the image, %d wrong", zeros, wrong);
    free(img), free(out), free(chip);
}

/* A gray image gives the chip of its RGB replica (dlib loads gray as rgb_pixel), on the
 * plain path and through the pyramid. */
static void test_gray_is_replicated(void)
{
    enum { W = 500, H = 460 };
    uint8_t *g = malloc(W * H), *rgb = malloc(W * H * 3);
    for (int i = 0; i < W * H; i++)
        g[i] = (uint8_t)((i % W) * 3 + (i / W) * 7 + (i % 13) * 11), rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = g[i];
    vb_similarity ts[2] = {{0.9 * cos(0.3), 0.9 * sin(0.3), 200, 40}, {2.7 * cos(-0.2), 2.7 * sin(-0.2), 30, 120}};
    float *o1 = malloc(sizeof(float) * N * N * 3), *o3 = malloc(sizeof(float) * N * N * 3);
    uint8_t *c1 = malloc(N * N * 3), *c3 = malloc(N * N * 3);
    const float mean[3] = {122.782f, 117.001f, 104.298f};
    vb_err e;
    for (int k = 0; k < 2; k++) {
        CHECK(vb_chip_pyramid_level(&ts[k], N) == k);
        CHECK(vb_warp_chip(g, W, H, 1, &ts[k], N, mean, 1 / 256.0f, o1, c1, &e) == 0);
        CHECK(vb_warp_chip(rgb, W, H, 3, &ts[k], N, mean, 1 / 256.0f, o3, c3, &e) == 0);
        CHECKF(!memcmp(c1, c3, N * N * 3) && !memcmp(o1, o3, sizeof(float) * N * N * 3),
               "gray and its RGB replica give the same chip (level %d)", k);
    }
    free(g), free(rgb), free(o1), free(o3), free(c1), free(c3);
}

/* ---- against dlib itself -------------------------------------------------------------
 * tests/data/dlib_chips/case_K.png: dlib's extract_image_chip(img,
 * get_face_chip_details(det, size, padding)) of the synthetic cases below, made by
 * tests/oracle/make_dlib_chip_oracle.sh (which has this binary write the cases). */
typedef struct dlib_case {
    int w, h, size;
    double padding, scale, angle, fx, fy; /* fx, fy: the chip centre's place in the image */
    int level;
} dlib_case;

static const dlib_case dlib_cases[] = {
    {250, 250, 150, 0.25, 0.75, 0.10, 0.50, 0.45, 0},  /* LFW-like */
    {300, 240, 150, 0.25, 1.30, -0.45, 0.15, 0.20, 0}, /* partly off the image */
    {400, 380, 64, 0.25, 2.60, 0.30, 0.50, 0.50, 1},   /* pyramid level 1 */
    {700, 650, 64, 0.20, 4.60, -0.20, 0.50, 0.50, 2},  /* level 2 */
    {120, 100, 80, 0.00, 0.45, 0.60, 0.50, 0.50, 0},   /* enlarged, no padding */
    {300, 300, 64, 0.25, 2.30, 0.50, 0.85, 0.85, 1},   /* pyramid at the image's corner */
};

static unsigned long long lcg;
static double lcg_next(void)
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg >> 11) / 9007199254740992.0;
}

/* The case's image (a smooth pattern with a fine texture that truncation and tap choice
 * show up in) and landmarks (the template under the case's similarity, 2 pixels of noise,
 * a random jaw). */
static uint8_t *dlib_case_make(int k, vb_point pts[VB_LANDMARKS])
{
    const dlib_case *c = &dlib_cases[k];
    lcg = 1000 + (unsigned)k;
    uint8_t *img = malloc((size_t)c->w * c->h * 3);
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++)
            for (int ch = 0; ch < 3; ch++)
                img[((size_t)y * c->w + x) * 3 + ch] =
                    (uint8_t)(120 + 90 * sin(x * 0.045 + ch) * cos(y * 0.033 - ch) + (x * 7 + y * 13 + ch * 5) % 23);
    double a = c->scale * cos(c->angle), b = c->scale * sin(c->angle), m = c->size / 2.0;
    double tx = c->fx * c->w - (a * m - b * m), ty = c->fy * c->h - (b * m + a * m);
    double norm = 2 * c->padding + 1;
    for (int i = 0; i < VB_LANDMARKS; i++) {
        double u = i < 17 ? lcg_next() * c->size : (c->padding + tpl_x[i - 17]) / norm * c->size;
        double v = i < 17 ? lcg_next() * c->size : (c->padding + tpl_y[i - 17]) / norm * c->size;
        pts[i].x = (float)(a * u - b * v + tx + (lcg_next() - 0.5) * 4);
        pts[i].y = (float)(b * u + a * v + ty + (lcg_next() - 0.5) * 4);
    }
    return img;
}

static int dlib_cases_write(const char *dir)
{
    for (int k = 0; k < (int)VB_ARRAY_LEN(dlib_cases); k++) {
        vb_point pts[VB_LANDMARKS];
        uint8_t *img = dlib_case_make(k, pts);
        char path[512];
        snprintf(path, sizeof path, "%s/case_%d.txt", dir, k);
        FILE *f = fopen(path, "wb");
        if (!f)
            return 1;
        const dlib_case *c = &dlib_cases[k];
        fprintf(f, "%d %d %d %d %.17g\n", c->w, c->h, VB_LANDMARKS, c->size, c->padding);
        fwrite(img, 1, (size_t)c->w * c->h * 3, f);
        for (int i = 0; i < VB_LANDMARKS; i++)
            fprintf(f, "%.9g %.9g\n", pts[i].x, pts[i].y); /* exact for floats */
        free(img);
        if (fclose(f))
            return 1;
    }
    return 0;
}

/* Our chip against dlib's: the same but for samples whose bilinear value lies within
 * rounding of an integer (dlib fits by SVD and re-solves the corner map by least squares,
 * we in closed form): at most 1 in 5000 samples, by 1. */
static void test_against_dlib(void)
{
    for (int k = 0; k < (int)VB_ARRAY_LEN(dlib_cases); k++) {
        const dlib_case *c = &dlib_cases[k];
        char path[256];
        snprintf(path, sizeof path, "tests/data/dlib_chips/case_%d.png", k);
        vb_image ref;
        vb_err e;
        if (vb_image_load(path, &ref, &e)) {
            CHECKF(0, "%s", e.msg);
            continue;
        }
        CHECK(ref.w == c->size && ref.h == c->size && ref.c == 3);
        vb_point pts[VB_LANDMARKS];
        uint8_t *img = dlib_case_make(k, pts);
        vb_similarity t;
        CHECK(vb_align_dlib(pts, c->size, c->padding, &t, &e) == 0);
        CHECKF(vb_chip_pyramid_level(&t, c->size) == c->level, "case %d: pyramid level %d, expected %d", k,
               vb_chip_pyramid_level(&t, c->size), c->level);
        size_t n = (size_t)c->size * c->size * 3;
        float *out = malloc(n * sizeof *out);
        uint8_t *chip = malloc(n);
        const float zero[3] = {0, 0, 0};
        CHECK(vb_warp_chip(img, c->w, c->h, 3, &t, c->size, zero, 1.0f, out, chip, &e) == 0);
        size_t differ = 0, zeros = 0;
        int worst = 0;
        for (size_t i = 0; i < n && ref.w == c->size && ref.h == c->size && ref.c == 3; i++) {
            int d = abs((int)chip[i] - (int)ref.px[i]);
            differ += d != 0;
            worst = d > worst ? d : worst;
            zeros += ref.px[i] == 0;
        }
        if (getenv("VB_TEST_VERBOSE"))
            printf("  dlib case %d (%dx%d, chip %d, padding %.2f, level %d): %zu of %zu samples differ, max %d; "
                   "%zu zero samples\n",
                   k, c->w, c->h, c->size, c->padding, c->level, differ, n, worst, zeros);
        CHECKF(worst <= 1 && differ * 5000 <= n, "case %d: %zu of %zu samples differ from dlib's, max by %d", k,
               differ, n, worst);
        if (k == 1)
            CHECKF(zeros > n / 20, "case 1 reaches outside the image (%zu zero samples)", zeros);
        vb_image_free(&ref);
        free(img), free(out), free(chip);
    }
}

/* LFW's scale, from face-api.js's own landmarks of 13 LFW images (tests/data/
 * faceapi_landmarks.csv, whole-image rows): a chip pixel spans 0.7-0.9 image pixels, far
 * from the 2 where dlib's pyramid starts, so on LFW every backend's plain bilinear warp is
 * the whole of dlib's chip. */
static void test_lfw_scale(void)
{
    FILE *f = fopen("tests/data/faceapi_landmarks.csv", "r");
    CHECKF(f != NULL, "tests/data/faceapi_landmarks.csv");
    if (!f)
        return;
    static char line[16384];
    int rows = 0;
    double lo = 1e9, hi = 0;
    for (int r = 0; fgets(line, sizeof line, f); r++) {
        char *fld[11 + 2 * VB_LANDMARKS];
        int n = 0;
        for (char *s = strtok(line, ",\r\n"); s && n < (int)VB_ARRAY_LEN(fld); s = strtok(NULL, ",\r\n"))
            fld[n++] = s;
        if (r == 0 || n != (int)VB_ARRAY_LEN(fld) || strcmp(fld[1], "0") || strcmp(fld[2], "0") ||
            strcmp(fld[3], "250") || strcmp(fld[4], "250"))
            continue;
        vb_point pts[VB_LANDMARKS];
        for (int i = 0; i < VB_LANDMARKS; i++)
            pts[i] = (vb_point){strtof(fld[11 + 2 * i], NULL), strtof(fld[12 + 2 * i], NULL)};
        vb_similarity t;
        vb_err e;
        CHECK(vb_align_dlib(pts, N, PAD, &t, &e) == 0);
        CHECK(vb_chip_pyramid_level(&t, N) == 0);
        double k = hypot(t.a, t.b);
        lo = fmin(lo, k), hi = fmax(hi, k);
        rows++;
    }
    fclose(f);
    CHECKF(rows == 13 && lo > 0.7 && hi < 0.9, "%d LFW rows, chip scale %.3f..%.3f", rows, lo, hi);
}

int main(void)
{
    if (getenv("VB_WRITE_DLIB_CASES"))
        return dlib_cases_write(getenv("VB_WRITE_DLIB_CASES"));
    RUN(test_fit_exact);
    RUN(test_fit_least_squares);
    RUN(test_fit_degenerate);
    RUN(test_template_identity);
    RUN(test_template_scaled);
    RUN(test_warp_synthetic);
    RUN(test_bilinear_edges);
    RUN(test_pyramid);
    RUN(test_face_off_image);
    RUN(test_gray_is_replicated);
    RUN(test_against_dlib);
    RUN(test_lfw_scale);
    return vb_test_finish();
}
