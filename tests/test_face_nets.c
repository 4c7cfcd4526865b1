/* The face pipeline's first two nets: the tiny face detector (or SSD MobileNet v1) and the
 * 68-point landmark net.
 *
 * Without models or data: the box decoding (cells, anchors, the non-square correction
 * factors), non-maximum suppression and the face pick on hand-made grids; the SSD's box
 * decoding, NMS, clipping and scaling on hand-made anchors and encodings; the landmark
 * mapping; the detector and landmark-net input resampling on synthetic images; missing
 * metadata and missing tensors named in errors.
 *
 * With build/models (make models) and LFW (VERIBENCH_DATA): the CPU backend against
 * face-api.js itself. Oracle: tests/data/faceapi_detections.csv, faceapi_landmarks.csv and
 * faceapi_ssd_detections.csv,
 * made by tests/oracle/make_faceapi_face_nets.sh (@vladmandic/face-api 1.7.15, tfjs 4.22
 * CPU backend, node) from pixels decoded by veribench, on 13 whole LFW images and three
 * non-square regions of one. Without them these tests print "skipped" and count one pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backend.h"
#include "cli/engine.h"
#include "datasets/image.h"
#include "datasets/preprocess.h"
#include "models/arch.h"
#include "models/face_detect.h"
#include "models/face_landmarks.h"
#include "tests/testlib.h"

/* ---- decoding, NMS and the pick on hand-made grids ------------------------------------ */

static double logit(double p)
{
    return log(p / (1 - p));
}

/* One cell's anchor entry: centre offsets (0..1 inside the cell), size in anchor units
 * (exp of the logit), score. */
static void put(float *grid, int cells, int n_anchors, int row, int col, int a, double fx, double fy,
                double sw, double sh, double score)
{
    float *v = grid + ((size_t)(row * cells + col) * n_anchors + a) * 5;
    v[0] = (float)logit(fx);
    v[1] = (float)logit(fy);
    v[2] = (float)log(sw);
    v[3] = (float)log(sh);
    v[4] = (float)logit(score);
}

static vb_det_params params_2anchors(void)
{
    vb_det_params p = {.input_size = 416, .n_anchors = 2, .anchors = {{1, 1}, {2, 3}},
                       .iou_threshold = 0.4f, .score_threshold = 0.5f};
    return p;
}

/* A square image: box = ((col + fx) / cells +- w / 2) * size, w = sw * anchor / cells. */
static void test_decode_square(void)
{
    enum { C = 4, A = 2 };
    float grid[C * C * A * 5];
    for (size_t i = 0; i < VB_ARRAY_LEN(grid); i++)
        grid[i] = i % 5 == 4 ? -10.0f : 0.0f; /* every score ~0 */
    vb_det_params p = params_2anchors();
    put(grid, C, A, 1, 2, 1, 0.5, 0.25, 1.0, 0.5, 0.9); /* anchor 2x3 cells */
    vb_face_box b[4];
    int n = vb_det_decode_tiny(grid, C, &p, 200, 200, b, 4);
    CHECK(n == 1);
    /* centre x (2 + 0.5)/4 = 0.625, width 1*2/4 = 0.5 -> 0.375..0.875 of 200 px
     * centre y (1 + 0.25)/4 = 0.3125, height 0.5*3/4 = 0.375 -> 0.125..0.5 */
    CHECK_NEAR(b[0].x0, 75.0, 1e-3);
    CHECK_NEAR(b[0].x1, 175.0, 1e-3);
    CHECK_NEAR(b[0].y0, 25.0, 1e-3);
    CHECK_NEAR(b[0].y1, 100.0, 1e-3);
    CHECK_NEAR(b[0].score, 0.9, 1e-6);
    /* scores must exceed the threshold: exactly 0.5 is dropped (face-api.js: score > t) */
    put(grid, C, A, 1, 2, 1, 0.5, 0.25, 1.0, 0.5, 0.5);
    CHECK(vb_det_decode_tiny(grid, C, &p, 200, 200, b, 4) == 0);
    p.score_threshold = 0; /* 0 keeps every box, as face-api.js's !scoreThreshold */
    CHECK(vb_det_decode_tiny(grid, C, &p, 200, 200, b, 4) >= 1);
}

/* A 400x200 image is letterboxed into the top half of the square input: the grid's y runs
 * over twice the image height, so relative y is doubled (correction factor 416/208). */
static void test_decode_non_square(void)
{
    enum { C = 4, A = 2 };
    float grid[C * C * A * 5];
    for (size_t i = 0; i < VB_ARRAY_LEN(grid); i++)
        grid[i] = i % 5 == 4 ? -10.0f : 0.0f;
    vb_det_params p = params_2anchors();
    put(grid, C, A, 0, 1, 0, 0.5, 0.5, 1.0, 1.0, 0.8); /* centre (1.5/4, 0.5/4), 1/4 x 1/4 */
    vb_face_box b[2];
    CHECK(vb_det_decode_tiny(grid, C, &p, 400, 200, b, 2) == 1);
    CHECK_NEAR(b[0].x0, (0.375 - 0.125) * 400, 1e-3);
    CHECK_NEAR(b[0].x1, (0.375 + 0.125) * 400, 1e-3);
    CHECK_NEAR(b[0].y0, (0.125 - 0.125) * 2 * 200, 1e-3);
    CHECK_NEAR(b[0].y1, (0.125 + 0.125) * 2 * 200, 1e-3);
    /* a tall image: x doubled */
    CHECK(vb_det_decode_tiny(grid, C, &p, 200, 400, b, 2) == 1);
    CHECK_NEAR(b[0].x0, (0.375 - 0.125) * 2 * 200, 1e-3);
    CHECK_NEAR(b[0].y1, (0.125 + 0.125) * 400, 1e-3);
    /* 3:1 with rounding: 300x100 -> reshaped 416x139 (Math.round(138.67)); y factor 416/139 */
    CHECK(vb_det_decode_tiny(grid, C, &p, 300, 100, b, 2) == 1);
    CHECK_NEAR(b[0].y1, 0.25 * 416.0 / 139.0 * 100, 1e-3);
}

/* NMS: the best box first; a box overlapping it by IoU > 0.4 goes, one at <= 0.4 stays;
 * the survivors come out best first; max truncates. */
static void test_nms(void)
{
    enum { C = 8, A = 2 };
    float grid[C * C * A * 5];
    for (size_t i = 0; i < VB_ARRAY_LEN(grid); i++)
        grid[i] = i % 5 == 4 ? -10.0f : 0.0f;
    vb_det_params p = params_2anchors();
    /* unit-anchor boxes of 1 cell: A at cell (2,2) centre; B shifted by 0.25 cell (IoU 0.6);
     * C shifted by 0.5 cell in x and y (IoU 0.25/1.75 = 0.14); D far away */
    put(grid, C, A, 2, 2, 0, 0.5, 0.5, 1, 1, 0.70);  /* A */
    put(grid, C, A, 2, 2, 1, 0.75, 0.5, 0.5, 1.0 / 3, 0.90); /* B: anchor 2x3 scaled to 1x1 */
    put(grid, C, A, 3, 3, 0, 0.0 + 1e-9, 0.0 + 1e-9, 1, 1, 0.80); /* C: centre (3, 3) cells */
    put(grid, C, A, 6, 6, 0, 0.5, 0.5, 1, 1, 0.60);  /* D */
    vb_face_box b[8];
    int n = vb_det_decode_tiny(grid, C, &p, 416, 416, b, 8);
    CHECK(n == 3); /* A overlaps B (0.6 > 0.4) and goes */
    CHECK_NEAR(b[0].score, 0.90, 1e-6);
    CHECK_NEAR(b[1].score, 0.80, 1e-6);
    CHECK_NEAR(b[2].score, 0.60, 1e-6);
    CHECK_NEAR(b[0].x0, (2.75 - 0.5) * 52, 1e-2);
    /* IoU of B and C: B = [2.25, 3.25] x [2, 3], C = [2.5, 3.5] x [2.5, 3.5]:
     * 0.75 * 0.5 / (2 - 0.375) = 0.23: C stays even at threshold 0.2 ... */
    p.iou_threshold = 0.24f;
    CHECK(vb_det_decode_tiny(grid, C, &p, 416, 416, b, 8) == 3);
    /* ... and goes at 0.2 */
    p.iou_threshold = 0.2f;
    CHECK(vb_det_decode_tiny(grid, C, &p, 416, 416, b, 8) == 2);
    p.iou_threshold = 0.4f;
    CHECK(vb_det_decode_tiny(grid, C, &p, 416, 416, b, 2) == 2);
    CHECK(vb_det_decode_tiny(grid, C, &p, 416, 416, b, 1) == 1 && fabs(b[0].score - 0.9) < 1e-6);
}

/* Two boxes with equal scores: face-api.js sorts ascending (stable) and pops the last, so
 * the later one in row/col/anchor order wins. */
static void test_nms_tie(void)
{
    enum { C = 4, A = 2 };
    float grid[C * C * A * 5];
    for (size_t i = 0; i < VB_ARRAY_LEN(grid); i++)
        grid[i] = i % 5 == 4 ? -10.0f : 0.0f;
    vb_det_params p = params_2anchors();
    put(grid, C, A, 1, 1, 0, 0.5, 0.5, 1, 1, 0.75);
    put(grid, C, A, 1, 1, 1, 0.6, 0.5, 0.5, 1.0 / 3, 0.75); /* same size, 0.1 cell right */
    vb_face_box b[2];
    CHECK(vb_det_decode_tiny(grid, C, &p, 416, 416, b, 2) == 1);
    CHECK_NEAR((b[0].x0 + b[0].x1) / 2, 1.6 * 104, 1e-2);
}

/* ---- SSD decoding on hand-made anchors ------------------------------------------------- */

/* Anchor i of the hand-made set: (ymin, xmin, ymax, xmax) relative to the padded square. */
static const float ssd_priors[4][4] = {
    {0.2f, 0.2f, 0.6f, 0.4f},    /* 0.4 tall, 0.2 wide, centre (0.4, 0.3) */
    {0.25f, 0.2f, 0.65f, 0.4f},  /* the same shifted down by 0.05: IoU 0.35 / 0.45 = 0.78 */
    {0.7f, 0.7f, 0.9f, 0.9f},    /* far away */
    {0.8f, 0.8f, 1.2f, 1.2f},    /* sticks out of the square: clipped to 1 */
};

static vb_det_params ssd_params(void)
{
    vb_det_params p = {.kind = VB_DET_SSD, .input_size = 512, .n_priors = 4, .priors = &ssd_priors[0][0],
                       .iou_threshold = 0.5f, .score_threshold = 0.5f};
    return p;
}

/* Output: 4 x 4 encodings (all zero: the box is the anchor), then 4 x 3 logits. */
static void ssd_set_score(float *out, int i, double score)
{
    out[4 * 4 + i * 3 + 1] = (float)logit(score);
}

static void test_ssd_decode(void)
{
    float out[4 * 7] = {0};
    for (int i = 0; i < 4; i++)
        ssd_set_score(out, i, 0.1);
    vb_det_params p = ssd_params();
    vb_face_box b[4];
    ssd_set_score(out, 0, 0.9);
    int n = vb_det_decode_ssd(out, &p, 200, 200, b, 4);
    CHECK(n == 1);
    /* zero encodings: the anchor itself, times the image side */
    CHECK_NEAR(b[0].x0, 40, 1e-4);
    CHECK_NEAR(b[0].y0, 40, 1e-4);
    CHECK_NEAR(b[0].x1, 80, 1e-4);
    CHECK_NEAR(b[0].y1, 120, 1e-4);
    CHECK_NEAR(b[0].score, 0.9, 1e-6);
    /* encodings: centre moves by t/10 of the anchor size, size scales by exp(t/5) */
    out[0] = 1.0f;                /* ty: +0.1 * 0.4 */
    out[1] = -2.0f;               /* tx: -0.2 * 0.2 */
    out[2] = (float)(5 * log(2)); /* th: height x2 */
    out[3] = 0.0f;
    CHECK(vb_det_decode_ssd(out, &p, 200, 200, b, 4) == 1);
    const double cy = 0.4 + 0.04, cx = 0.3 - 0.04;
    CHECK_NEAR(b[0].y0, (cy - 0.4) * 200, 1e-3);
    CHECK_NEAR(b[0].y1, (cy + 0.4) * 200, 1e-3);
    CHECK_NEAR(b[0].x0, (cx - 0.1) * 200, 1e-3);
    CHECK_NEAR(b[0].x1, (cx + 0.1) * 200, 1e-3);
    memset(out, 0, 16 * sizeof(float));
    /* a score of exactly the threshold is dropped (score > minConfidence) */
    ssd_set_score(out, 0, 0.5);
    CHECK(vb_det_decode_ssd(out, &p, 200, 200, b, 4) == 0);
    /* the box sticking out is clipped to the padded square */
    ssd_set_score(out, 3, 0.8);
    CHECK(vb_det_decode_ssd(out, &p, 100, 100, b, 4) == 1);
    CHECK_NEAR(b[0].x1, 100, 1e-4);
    CHECK_NEAR(b[0].y1, 100, 1e-4);
    CHECK_NEAR(b[0].x0, 80, 1e-4);
    /* a wide 400x200 image fills the top half of the square: y scales by 512/256 */
    ssd_set_score(out, 3, 0.1);
    ssd_set_score(out, 0, 0.9);
    CHECK(vb_det_decode_ssd(out, &p, 400, 200, b, 4) == 1);
    CHECK_NEAR(b[0].y0, 0.2 * 2 * 200, 1e-3);
    CHECK_NEAR(b[0].y1, 0.6 * 2 * 200, 1e-3);
    CHECK_NEAR(b[0].x0, 0.2 * 400, 1e-3);
}

/* NMS: anchors 0 and 1 overlap by IoU 0.78: the better one stays; at threshold 0.8 both;
 * the far one always; results best first; max truncates. */
static void test_ssd_nms(void)
{
    float out[4 * 7] = {0};
    vb_det_params p = ssd_params();
    ssd_set_score(out, 0, 0.7);
    ssd_set_score(out, 1, 0.8);
    ssd_set_score(out, 2, 0.6);
    ssd_set_score(out, 3, 0.1);
    vb_face_box b[4];
    CHECK(vb_det_decode_ssd(out, &p, 100, 100, b, 4) == 2);
    CHECK_NEAR(b[0].score, 0.8, 1e-6);
    CHECK_NEAR(b[0].y0, 25, 1e-4);
    CHECK_NEAR(b[1].score, 0.6, 1e-6);
    p.iou_threshold = 0.8f;
    CHECK(vb_det_decode_ssd(out, &p, 100, 100, b, 4) == 3);
    CHECK_NEAR(b[1].score, 0.7, 1e-6);
    CHECK(vb_det_decode_ssd(out, &p, 100, 100, b, 1) == 1 && fabs(b[0].score - 0.8) < 1e-6);
    /* equal scores: the earlier anchor is taken first (stable descending sort) */
    p.iou_threshold = 0.5f;
    ssd_set_score(out, 0, 0.8);
    CHECK(vb_det_decode_ssd(out, &p, 100, 100, b, 4) == 2);
    CHECK_NEAR(b[0].y0, 20, 1e-4);
    /* a tiny-YOLO parameter set is not decoded as an SSD */
    p.kind = VB_DET_TINY_YOLO;
    CHECK(vb_det_decode_ssd(out, &p, 100, 100, b, 4) == 0);
}

static void test_pick(void)
{
    const vb_face_box boxes[] = {
        {0, 0, 40, 40, 0.99f},      /* corner, small */
        {80, 80, 120, 120, 0.60f},  /* centred (of 200x200), 40 px */
        {60, 60, 150, 150, 0.70f},  /* nearly centred, large: 5 px off / 90 px */
    };
    CHECK(vb_det_pick(boxes, 3, 200, 200) == 1);
    CHECK(vb_det_pick(boxes, 1, 200, 200) == 0);
    CHECK(vb_det_pick(boxes, 0, 200, 200) == -1);
    /* size weighs: 20 px off with a 100 px box beats 10 px off with a 20 px box */
    const vb_face_box sized[] = {{100, 90, 120, 110, 0.9f}, {70, 50, 170, 150, 0.5f}};
    CHECK(vb_det_pick(sized, 2, 200, 200) == 1);
    /* equal cost: the higher score */
    const vb_face_box tie[] = {{80, 80, 120, 120, 0.6f}, {80, 80, 120, 120, 0.8f}};
    CHECK(vb_det_pick(tie, 2, 200, 200) == 1);
}

/* ---- landmarks and resampling ---------------------------------------------------------- */

static void test_landmarks_to_image(void)
{
    float out[2 * VB_LANDMARKS] = {0};
    out[0] = 0.5f, out[1] = 0.5f;   /* the square's centre */
    out[2] = 0.0f, out[3] = 0.0f;   /* its top-left corner */
    vb_point pts[VB_LANDMARKS];
    /* a tall 60x100 crop at (10, 20): the square is 100, padded by 20 left and right */
    vb_landmark_box tall = {10, 20, 60, 100};
    vb_landmarks_to_image(out, &tall, pts);
    CHECK_NEAR(pts[0].x, 10 + 30, 1e-5);
    CHECK_NEAR(pts[0].y, 20 + 50, 1e-5);
    CHECK_NEAR(pts[1].x, 10 - 20, 1e-5);
    CHECK_NEAR(pts[1].y, 20, 1e-5);
    /* a wide 100x61 crop: padding (100 - 61) / 2 = 19.5 above (face-api.js's even split) */
    vb_landmark_box wide = {0, 0, 100, 61};
    vb_landmarks_to_image(out, &wide, pts);
    CHECK_NEAR(pts[0].x, 50, 1e-5);
    CHECK_NEAR(pts[0].y, 50 - 19.5, 1e-5);
}

/* An image whose pixel value encodes its position: v = (x + 10 * y) % 251 in every channel. */
static vb_image synthetic(int w, int h)
{
    vb_image img = {w, h, 3, malloc((size_t)w * h * 3)};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                img.px[((size_t)y * w + x) * 3 + c] = (uint8_t)((x + 10 * y) % 251);
    return img;
}

static const float zero_mean[3] = {0, 0, 0};

/* Output pixel (x, y) of an identity-size resample. */
static float at(const float *out, int size, int x, int y)
{
    return out[((size_t)y * size + x) * 3];
}

static void test_prep_face_square(void)
{
    vb_image img = synthetic(50, 40);
    float out[30 * 30 * 3];
    vb_landmark_box used;
    /* box 10.7,5.2 - 30.9,35.1: floored origin (10, 5), floored size (20, 29) -> a tall
     * crop padded to 29: 9 columns, 4 before (floor) and 5 after (Math.round(4.5)) */
    CHECK(vb_prep_face_square(&img, 10.7f, 5.2f, 30.9f, 35.1f, 29, zero_mean, 1.0f, out, &used) == 0);
    CHECK(used.x0 == 10 && used.y0 == 5 && used.w == 20 && used.h == 29);
    CHECK(at(out, 29, 3, 0) == 0 && at(out, 29, 24, 0) == 0);
    CHECK(at(out, 29, 4, 0) == (10 + 10 * 5) % 251);
    CHECK(at(out, 29, 23, 7) == (29 + 10 * 12) % 251);
    /* clipped at the image's left and bottom: origin 0, width 25 - 0, height 40 - 30 */
    CHECK(vb_prep_face_square(&img, -5.5f, 30.0f, 25.0f, 60.0f, 25, zero_mean, 1.0f, out, &used) == 0);
    CHECK(used.x0 == 0 && used.y0 == 30 && used.w == 25 && used.h == 10);
    /* wide crop: 15 rows of padding, 7 above, 8 below */
    CHECK(at(out, 25, 0, 6) == 0 && at(out, 25, 0, 7) == (0 + 10 * 30) % 251 && at(out, 25, 0, 17) == 0);
    /* normalization: (v - mean) * scale */
    const float mean[3] = {1, 2, 3};
    CHECK(vb_prep_face_square(&img, 0, 0, 10, 10, 10, mean, 0.5f, out, &used) == 0);
    CHECK(out[3 * 11] == ((1 + 10) - 1) * 0.5f && out[3 * 11 + 2] == ((1 + 10) - 3) * 0.5f);
    /* empty after clipping: outside, or less than a pixel */
    CHECK(vb_prep_face_square(&img, 60, 0, 80, 10, 10, zero_mean, 1, out, &used) == -1);
    CHECK(vb_prep_face_square(&img, 10, 10, 10.5f, 30, 10, zero_mean, 1, out, &used) == -1);
    CHECK(vb_prep_face_square(&img, 10, 10, NAN, 30, 10, zero_mean, 1, out, &used) == -1);
    vb_image_free(&img);
}

static void test_prep_letterbox(void)
{
    /* 40x20 image into a 40x40 input: no resampling, the bottom half zero */
    vb_image img = synthetic(40, 20);
    float out[40 * 40 * 3];
    CHECK(vb_prep_letterbox(&img, 40, zero_mean, 1.0f, out) == 0);
    CHECK(at(out, 40, 39, 19) == (39 + 190) % 251 && at(out, 40, 5, 20) == 0 && at(out, 40, 39, 39) == 0);
    vb_image_free(&img);
    /* tall: the right half zero */
    img = synthetic(20, 40);
    CHECK(vb_prep_letterbox(&img, 40, zero_mean, 1.0f, out) == 0);
    CHECK(at(out, 40, 19, 39) == (19 + 390) % 251 && at(out, 40, 20, 0) == 0);
    /* halving: TF's rule samples even source pixels (src = dst * 2, no half-pixel offset) */
    CHECK(vb_prep_letterbox(&img, 20, zero_mean, 1.0f, out) == 0);
    CHECK(at(out, 20, 3, 5) == (6 + 100) % 251 && at(out, 20, 10, 5) == 0);
    vb_image_free(&img);
}

/* ---- metadata and conversion errors ---------------------------------------------------- */

/* A GGUF in memory with the input/output keys of a net of architecture arch, one tensor. */
static int fake_model(const char *arch, int detector_keys, vb_model *m, vb_err *e)
{
    vb_gguf_writer *w = vb_gguf_writer_new();
    const float mean[3] = {0, 0, 0}, anchors[4] = {1, 2, 3, 4}, bias[16] = {0};
    const int64_t ne[1] = {16};
    vb_gguf_set_str(w, VB_KEY_ARCH, arch);
    vb_gguf_set_u32(w, VB_KEY_IN_H, 416);
    vb_gguf_set_u32(w, VB_KEY_IN_W, 416);
    vb_gguf_set_u32(w, VB_KEY_IN_C, 3);
    vb_gguf_set_f32_array(w, VB_KEY_IN_MEAN, mean, 3);
    vb_gguf_set_f32(w, VB_KEY_IN_SCALE, 1.0f / 255);
    vb_gguf_set_u32(w, VB_KEY_OUT_DIM, 4225);
    if (detector_keys) {
        vb_gguf_set_str(w, VB_KEY_DET_KIND, "tiny_yolo");
        vb_gguf_set_f32_array(w, VB_KEY_DET_ANCHORS, anchors, 4);
        vb_gguf_set_f32(w, VB_KEY_DET_IOU, 0.4f);
    }
    vb_gguf_add_tensor(w, "conv0/bias", VB_F32, 1, ne, bias, sizeof bias);
    uint8_t *buf;
    size_t size;
    int rc = vb_gguf_serialize(w, &buf, &size, e);
    vb_gguf_writer_free(w);
    return rc ? rc : vb_model_parse(buf, size, "fake.gguf", m, e);
}

static void test_missing_metadata_and_tensors(void)
{
    vb_model m;
    vb_err e = {0};
    vb_det_params p;
    vb_graph g;
    CHECK(fake_model("tiny_face_detector", 1, &m, &e) == 0);
    /* the score threshold key is missing: named with the file */
    CHECK(vb_det_params_read(&m, 416, &p, &e) == -1);
    CHECKF(strstr(e.msg, "fake.gguf") && strstr(e.msg, VB_KEY_DET_SCORE), "message: %s", e.msg);
    /* the graph needs conv0/filters first */
    CHECK(vb_graph_build(&m, &g, &e) == -1);
    CHECKF(strstr(e.msg, "fake.gguf") && strstr(e.msg, "'conv0/filters'") && strstr(e.msg, "tiny_face_detector"),
           "message: %s", e.msg);
    vb_model_free(&m);
    CHECK(fake_model("face_landmark_68", 0, &m, &e) == 0);
    CHECK(vb_det_params_read(&m, 416, &p, &e) == -1 && strstr(e.msg, VB_KEY_DET_KIND));
    CHECK(vb_graph_build(&m, &g, &e) == -1);
    CHECKF(strstr(e.msg, "'dense0/conv0/filters'") && strstr(e.msg, "face_landmark_68"), "message: %s", e.msg);
    vb_model_free(&m);
    /* a descriptor net still needs its distance and threshold */
    CHECK(fake_model("face_recognition", 0, &m, &e) == 0);
    CHECK(vb_graph_build(&m, &g, &e) == -1 && strstr(e.msg, VB_KEY_OUT_DISTANCE));
    vb_model_free(&m);
}

/* The converted model with one tensor left out (deep inside the net): the graph build
 * names it. */
static void check_without_tensor(const vb_model *src, const char *drop)
{
    vb_gguf_writer *w = vb_gguf_writer_new();
    vb_gguf_copy_kv(w, src);
    for (size_t i = 0; i < src->n_tensors; i++) {
        const vb_tensor *t = &src->tensors[i];
        if (strcmp(t->name, drop))
            vb_gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes);
    }
    uint8_t *buf;
    size_t size;
    vb_err e = {0};
    vb_model m;
    vb_graph g;
    int rc = vb_gguf_serialize(w, &buf, &size, &e);
    vb_gguf_writer_free(w);
    CHECK(rc == 0 && vb_model_parse(buf, size, "dropped.gguf", &m, &e) == 0);
    CHECK(vb_graph_build(&m, &g, &e) == -1);
    char want[128];
    snprintf(want, sizeof want, "'%s' not found", drop);
    CHECKF(strstr(e.msg, want) && strstr(e.msg, "dropped.gguf"), "message: %s", e.msg);
    vb_model_free(&m);
}

/* ---- against face-api.js --------------------------------------------------------------- */

#define MAX_ROWS 512

typedef struct det_row {
    char image[64];
    int region[4];
    float threshold;
    int n, index;
    double box[4], score;
} det_row;

typedef struct lm_row {
    char image[64];
    int region[4];
    float threshold;
    double box[4], score;
    double pts[2 * VB_LANDMARKS];
} lm_row;

/* Splits a CSV line without quoting into at most max fields (empty fields kept). */
static int split(char *line, char **f, int max)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = 0;
    for (char *s = line; n < max;) {
        f[n++] = s;
        char *c = strchr(s, ',');
        if (!c)
            break;
        *c = 0;
        s = c + 1;
    }
    return n;
}

static int read_detections(const char *path, det_row *rows, int max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[1024], *fld[16];
    int n = 0;
    for (int r = 0; fgets(line, sizeof line, f); r++) {
        if (r == 0 || n >= max || split(line, fld, 16) != 13)
            continue;
        det_row *d = &rows[n++];
        snprintf(d->image, sizeof d->image, "%s", fld[0]);
        for (int k = 0; k < 4; k++)
            d->region[k] = atoi(fld[1 + k]);
        d->threshold = strtof(fld[5], NULL);
        d->n = atoi(fld[6]);
        d->index = d->n ? atoi(fld[7]) : -1;
        for (int k = 0; k < 4; k++)
            d->box[k] = d->n ? strtod(fld[8 + k], NULL) : 0;
        d->score = d->n ? strtod(fld[12], NULL) : 0;
    }
    fclose(f);
    return n;
}

static int read_landmarks(lm_row *rows, int max)
{
    FILE *f = fopen("tests/data/faceapi_landmarks.csv", "r");
    if (!f)
        return -1;
    static char line[8192];
    char *fld[160];
    int n = 0;
    for (int r = 0; fgets(line, sizeof line, f); r++) {
        if (r == 0 || n >= max || split(line, fld, 160) != 11 + 2 * VB_LANDMARKS)
            continue;
        lm_row *l = &rows[n++];
        snprintf(l->image, sizeof l->image, "%s", fld[0]);
        for (int k = 0; k < 4; k++)
            l->region[k] = atoi(fld[1 + k]);
        l->threshold = strtof(fld[5], NULL);
        for (int k = 0; k < 4; k++)
            l->box[k] = strtod(fld[6 + k], NULL);
        l->score = strtod(fld[10], NULL);
        for (int k = 0; k < 2 * VB_LANDMARKS; k++)
            l->pts[k] = strtod(fld[11 + k], NULL);
    }
    fclose(f);
    return n;
}

/* One net loaded on the CPU backend. */
typedef struct net {
    vb_model model;
    vb_graph graph;
    vb_backend *backend;
    vb_prepared *prepared;
    double ms;   /* summed run time */
    int runs;
} net;

/* side: the input side (vb_graph_build_sized), 0: the model's. */
static int net_open_sized(net *n, const char *file, int side)
{
    memset(n, 0, sizeof *n);
    vb_err e = {0};
    vb_backend_spec spec;
    int rc = vb_model_load(vb_default_model_file(file), &n->model, &e) ||
             vb_graph_build_sized(&n->model, side, &n->graph, &e) ||
             vb_backend_parse_spec("cpu", &spec, &e) || vb_backend_init(&spec, &n->backend, &e) ||
             vb_backend_load(n->backend, &n->graph, &n->prepared, &e);
    CHECKF(rc == 0, "%s: %s", file, e.msg);
    return rc ? -1 : 0;
}

static int net_open(net *n, const char *file)
{
    return net_open_sized(n, file, 0);
}

static void net_close(net *n)
{
    vb_backend_unload(n->prepared);
    vb_backend_free(n->backend);
    vb_model_free(&n->model);
}

static int net_run(net *n, const float *input, float *output)
{
    vb_err e = {0};
    vb_timings t = {0};
    int rc = vb_backend_run(n->prepared, input, 1, output, NULL, &t, &e);
    CHECKF(rc == 0, "run %s: %s", n->graph.arch, e.msg);
    n->ms += t.total_ms;
    n->runs++;
    return rc;
}

/* The LFW image NAME (Person_Name_0001), cut to region x0,y0,x1,y1. */
static int load_region(const char *name, const int *region, vb_image *out)
{
    char person[64], path[1200];
    snprintf(person, sizeof person, "%s", name);
    char *us = strrchr(person, '_');
    if (us)
        *us = 0;
    snprintf(path, sizeof path, "%s/lfw/images_deepfunneled/%s/%s.jpg", vb_test_data_dir(), person, name);
    vb_image img;
    vb_err e = {0};
    if (vb_image_load(path, &img, &e)) {
        CHECKF(0, "%s", e.msg);
        return -1;
    }
    int w = region[2] - region[0], h = region[3] - region[1];
    *out = (vb_image){w, h, img.c, malloc((size_t)w * h * img.c)};
    for (int y = 0; y < h; y++)
        memcpy(out->px + (size_t)y * w * img.c, img.px + ((size_t)(region[1] + y) * img.w + region[0]) * img.c,
               (size_t)w * img.c);
    vb_image_free(&img);
    return 0;
}

/* Letterbox, detector, decode: our detections of an image. */
static int detect(net *det, const vb_image *img, float threshold, vb_face_box *boxes, int max)
{
    const vb_graph *g = &det->graph;
    vb_det_params p;
    vb_err e = {0};
    int rc = vb_det_params_read(&det->model, g->in_h, &p, &e);
    CHECKF(rc == 0, "%s", e.msg);
    const vb_node *out = &g->nodes[g->output];
    float *input = malloc((size_t)g->in_h * g->in_w * 3 * sizeof(float));
    float *grid = malloc(vb_node_size(out) * sizeof(float));
    int n = -1;
    if (!rc && !vb_prep_letterbox(img, g->in_h, g->in_mean, g->in_scale, input) && !net_run(det, input, grid)) {
        p.score_threshold = threshold;
        n = p.kind == VB_DET_SSD ? vb_det_decode_ssd(grid, &p, img->w, img->h, boxes, max)
                                 : vb_det_decode_tiny(grid, out->h, &p, img->w, img->h, boxes, max);
    }
    free(input);
    free(grid);
    return n;
}

/* Worst disagreements, for the summary line (the detector under test). */
static double worst_box, worst_score, worst_point;

/* Tolerances. Both sides run the same float32 weights on the same pixels; what differs is
 * the summation order of the convolutions (tfjs's CPU kernels vs ours) and rounding in the
 * post-processing: measured max 1.2e-5 px on the boxes, 1.4e-6 on the scores, 2.3e-5 px on
 * the landmarks (faces ~120 px). The bounds are ~10x that and far below a pixel, so a wrong
 * padding, anchor, correction factor, crop, resampling or shift fails. */
#define BOX_TOL_PX 2e-4
#define SCORE_TOL 2e-5
#define POINT_TOL_PX 3e-4

static void match_detections(net *det, const det_row *rows, int n_rows, double box_tol, double score_tol)
{
    for (int r = 0; r < n_rows;) {
        const det_row *d = &rows[r];
        int group = 1; /* the oracle's rows of this (image, region, threshold) */
        while (r + group < n_rows && rows[r + group].index > 0)
            group++;
        vb_image img;
        vb_face_box boxes[VB_DET_MAX_FACES];
        int n = load_region(d->image, d->region, &img) ? -1 : detect(det, &img, d->threshold, boxes, VB_DET_MAX_FACES);
        if (n >= 0)
            vb_image_free(&img);
        CHECKF(n == d->n, "%s region %d,%d,%d,%d threshold %g: %d faces, face-api.js %d", d->image, d->region[0],
               d->region[1], d->region[2], d->region[3], (double)d->threshold, n, d->n);
        for (int i = 0; i < d->n && i < n; i++) {
            const det_row *o = &rows[r + i];
            const double ours[4] = {boxes[i].x0, boxes[i].y0, boxes[i].x1, boxes[i].y1};
            double err = 0;
            for (int k = 0; k < 4; k++)
                err = fmax(err, fabs(ours[k] - o->box[k]));
            double serr = fabs(boxes[i].score - o->score);
            worst_box = fmax(worst_box, err);
            worst_score = fmax(worst_score, serr);
            CHECKF(err <= box_tol && serr <= score_tol,
                   "%s region %d,%d,%d,%d box %d: %.4f,%.4f,%.4f,%.4f score %.6f; face-api.js %.4f,%.4f,%.4f,%.4f %.6f",
                   d->image, d->region[0], d->region[1], d->region[2], d->region[3], i, ours[0], ours[1], ours[2],
                   ours[3], boxes[i].score, o->box[0], o->box[1], o->box[2], o->box[3], o->score);
        }
        r += group;
    }
}

static void test_detections_match_faceapi(net *det, const det_row *rows, int n_rows)
{
    match_detections(det, rows, n_rows, BOX_TOL_PX, SCORE_TOL);
}

/* detectSingleFace(...).withFaceLandmarks(): the highest-scoring box, its landmarks.
 * face-api.js shifts the points by the box's raw origin, we by the crop's (the floored,
 * clipped origin the pixels came from); the oracle is moved by the difference before the
 * comparison. On the left-cut region that difference is 18 px: face-api.js's points there
 * are off by that much. */
static void test_landmarks_match_faceapi(net *det, net *lm, const lm_row *rows, int n_rows)
{
    const vb_graph *g = &lm->graph;
    float *input = malloc((size_t)g->in_h * g->in_w * 3 * sizeof(float)), out[2 * VB_LANDMARKS];
    for (int r = 0; r < n_rows; r++) {
        const lm_row *l = &rows[r];
        vb_image img;
        vb_face_box boxes[VB_DET_MAX_FACES];
        if (load_region(l->image, l->region, &img))
            continue;
        int n = detect(det, &img, l->threshold, boxes, VB_DET_MAX_FACES);
        CHECKF(n >= 1, "%s: no face", l->image);
        vb_landmark_box used;
        if (n < 1 || vb_prep_face_square(&img, boxes[0].x0, boxes[0].y0, boxes[0].x1, boxes[0].y1, g->in_h,
                                         g->in_mean, g->in_scale, input, &used) ||
            net_run(lm, input, out)) {
            CHECKF(n < 1, "%s: landmark crop failed", l->image);
            vb_image_free(&img);
            continue;
        }
        vb_image_free(&img);
        vb_point pts[VB_LANDMARKS];
        vb_landmarks_to_image(out, &used, pts);
        const double dx = used.x0 - l->box[0], dy = used.y0 - l->box[1];
        double err = 0;
        int worst = 0;
        for (int i = 0; i < VB_LANDMARKS; i++) {
            double e = fmax(fabs(pts[i].x - (l->pts[2 * i] + dx)), fabs(pts[i].y - (l->pts[2 * i + 1] + dy)));
            if (e > err)
                err = e, worst = i;
        }
        worst_point = fmax(worst_point, err);
        CHECKF(err <= POINT_TOL_PX, "%s region %d,%d,%d,%d: landmark %d off by %.4f px (ours %.4f,%.4f)", l->image,
               l->region[0], l->region[1], l->region[2], l->region[3], worst, err, pts[worst].x, pts[worst].y);
    }
    free(input);
}

/* tiny:256 (--detector tiny:256): the graph rebuilt for a 256x256 input, 8x8 cells, against
 * face-api.js with inputSize 256 (tests/data/faceapi_detections_256.csv, same images and
 * regions). The fixed-input nets refuse another side. */
static void test_detector_sized(const net *native)
{
    static det_row dets[MAX_ROWS];
    int nd = read_detections("tests/data/faceapi_detections_256.csv", dets, MAX_ROWS);
    CHECKF(nd >= 16, "oracle file: %d detection rows at inputSize 256", nd);
    net det;
    if (net_open_sized(&det, "tiny_face_detector.gguf", 256))
        return;
    const vb_node *out = &det.graph.nodes[det.graph.output];
    CHECKF(det.graph.in_h == 256 && det.graph.in_w == 256 && out->h == 8 && out->w == 8 &&
               det.graph.out_dim == 8 * 8 * 25 && native->graph.in_h == 416,
           "tiny:256 graph: input %dx%d, output %dx%dx%d, out_dim %d", det.graph.in_h, det.graph.in_w, out->h,
           out->w, out->c, det.graph.out_dim);
    double box = worst_box, score = worst_score;
    worst_box = worst_score = 0;
    match_detections(&det, dets, nd, BOX_TOL_PX, SCORE_TOL);
    printf("face-api.js agreement at inputSize 256: %d rows, max box error %.2g px, max score error %.2g\n", nd,
           worst_box, worst_score);
    worst_box = fmax(box, worst_box), worst_score = fmax(score, worst_score);
    net_close(&det);
    vb_model lm;
    vb_graph g;
    vb_err e = {0};
    if (vb_model_load(vb_default_model_file("face_landmark_68.gguf"), &lm, &e) == 0) {
        CHECKF(vb_graph_build_sized(&lm, 256, &g, &e) == -1 && strstr(e.msg, "fixed at 112x112"),
               "the landmark net refuses another input side: %s", e.msg);
        vb_model_free(&lm);
    }
}

static void test_against_faceapi(void)
{
    static det_row dets[MAX_ROWS];
    static lm_row lms[MAX_ROWS];
    int nd = read_detections("tests/data/faceapi_detections.csv", dets, MAX_ROWS), nl = read_landmarks(lms, MAX_ROWS);
    CHECKF(nd >= 20 && nl >= 16, "oracle files: %d detection rows, %d landmark rows", nd, nl);
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/lfw/images_deepfunneled/Abel_Pacheco/Abel_Pacheco_0001.jpg",
             vb_test_data_dir());
    const char *missing = access(vb_default_model_file("tiny_face_detector.gguf"), R_OK) ? "tiny_face_detector.gguf"
                          : access(vb_default_model_file("face_landmark_68.gguf"), R_OK) ? "face_landmark_68.gguf"
                          : access(probe, R_OK)                                            ? "LFW (VERIBENCH_DATA)"
                                                                                           : NULL;
    if (missing) {
        printf("skipped: face-api.js agreement: %s not found (make models; set VERIBENCH_DATA)\n", missing);
        CHECK(1);
        return;
    }
    net det, lm;
    if (net_open(&det, "tiny_face_detector.gguf"))
        return;
    if (net_open(&lm, "face_landmark_68.gguf")) {
        net_close(&det);
        return;
    }
    test_detections_match_faceapi(&det, dets, nd);
    test_landmarks_match_faceapi(&det, &lm, lms, nl);
    printf("face-api.js agreement: max box error %.2g px, max score error %.2g, max landmark error %.2g px\n",
           worst_box, worst_score, worst_point);
    printf("cpu backend, batch 1: detector %.1f ms/image (%d runs), landmarks %.1f ms/face (%d runs)\n",
           det.ms / det.runs, det.runs, lm.ms / lm.runs, lm.runs);
    check_without_tensor(&det.model, "conv4/pointwise_filter");
    test_detector_sized(&det);
    check_without_tensor(&lm.model, "dense2/conv3/depthwise_filter");
    net_close(&lm);
    net_close(&det);
}

/* SSD MobileNet v1 against face-api.js (tests/data/faceapi_ssd_detections.csv: the 13 whole
 * images and the three regions at minConfidence 0.5, and five of them at 0.05, where NMS
 * and the clip to the padded square decide; 22 rows). Same float32 weights and pixels; our
 * depthwise batch norm is one affine with the scale folded in double (tfjs: (x - mean) *
 * scale / sqrt(var + eps) + offset per element), and the summation order of 27 convs
 * differs: measured max 5.9e-5 px on the boxes (faces ~100 px), 6.6e-7 on the scores. The
 * bounds are ~10x that, far below a pixel: a wrong anchor order, box decoding, clip, pad
 * factor or normalization is off by pixels. */
#define SSD_BOX_TOL_PX 6e-4
#define SSD_SCORE_TOL 1e-5

static void test_ssd_rows(net *det, const det_row *rows, int n_rows)
{
    match_detections(det, rows, n_rows, SSD_BOX_TOL_PX, SSD_SCORE_TOL);
}

static void test_ssd_against_faceapi(void)
{
    static det_row dets[MAX_ROWS];
    int nd = read_detections("tests/data/faceapi_ssd_detections.csv", dets, MAX_ROWS);
    CHECKF(nd >= 20, "oracle file: %d SSD detection rows", nd);
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/lfw/images_deepfunneled/Abel_Pacheco/Abel_Pacheco_0001.jpg",
             vb_test_data_dir());
    const char *missing = access(vb_default_model_file("ssd_mobilenetv1.gguf"), R_OK) ? "ssd_mobilenetv1.gguf"
                          : access(probe, R_OK)                                       ? "LFW (VERIBENCH_DATA)"
                                                                                      : NULL;
    if (missing) {
        printf("skipped: face-api.js SSD agreement: %s not found (make models; set VERIBENCH_DATA)\n", missing);
        CHECK(1);
        return;
    }
    net det;
    if (net_open(&det, "ssd_mobilenetv1.gguf"))
        return;
    worst_box = worst_score = 0;
    test_ssd_rows(&det, dets, nd);
    printf("face-api.js SSD agreement: %d rows, max box error %.2g px, max score error %.2g\n", nd, worst_box,
           worst_score);
    printf("cpu backend, batch 1: SSD MobileNet v1 %.1f ms/image (%d runs)\n", det.ms / det.runs, det.runs);
    check_without_tensor(&det.model, "MobilenetV1/Conv2d_7_depthwise/bn_scale");
    check_without_tensor(&det.model, "Prediction/BoxPredictor_3/ClassPredictor/biases");
    net_close(&det);
}

int main(void)
{
    RUN(test_decode_square);
    RUN(test_decode_non_square);
    RUN(test_nms);
    RUN(test_nms_tie);
    RUN(test_ssd_decode);
    RUN(test_ssd_nms);
    RUN(test_pick);
    RUN(test_landmarks_to_image);
    RUN(test_prep_face_square);
    RUN(test_prep_letterbox);
    RUN(test_missing_metadata_and_tensors);
    RUN(test_against_faceapi);
    RUN(test_ssd_against_faceapi);
    return vb_test_finish();
}
