/* The detectors' post-processing, reproducing face-api.js 1.7.15. Tiny face detector:
 * TinyYolov2Base.extractBoxes (cell grid -> boxes relative to the image, with the
 * correction factors for non-square images), TinyYolov2Base.detect (NMS on the boxes
 * scaled by the input size), ops/nonMaxSuppression.ts and ops/iou.ts. JavaScript computes
 * in double from the float32 grid; so do we, and round to float only at the end.
 * SSD MobileNet v1: ssdMobilenetv1/outputLayer.ts decodes the boxes with tfjs tensor ops,
 * each rounded to float32 (reproduced in float, exp as Math.exp in double), then
 * nonMaxSuppression.ts and SsdMobilenetv1.locateFaces compute in double from those floats. */
#include "models/face_detect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The thresholds and input size, common to both kinds. */
static int thresholds_read(const vb_model *m, int input_size, vb_det_params *p, vb_err *e)
{
    if (vb_model_get_f32(m, VB_KEY_DET_IOU, &p->iou_threshold, e) ||
        vb_model_get_f32(m, VB_KEY_DET_SCORE, &p->score_threshold, e))
        return -1;
    if (!(p->iou_threshold >= 0 && p->iou_threshold <= 1))
        return vb_fail(e, VB_EXIT_INPUT, "%s: %s %g outside [0, 1]", m->path, VB_KEY_DET_IOU,
                       (double)p->iou_threshold);
    if (!(p->score_threshold >= 0 && p->score_threshold < 1))
        return vb_fail(e, VB_EXIT_INPUT, "%s: %s %g outside [0, 1)", m->path, VB_KEY_DET_SCORE,
                       (double)p->score_threshold);
    if (input_size < 1)
        return vb_fail(e, VB_EXIT_INPUT, "%s: detector input size %d", m->path, input_size);
    p->input_size = input_size;
    return 0;
}

static int ssd_params_read(const vb_model *m, int input_size, vb_det_params *p, vb_err *e)
{
    p->kind = VB_DET_SSD;
    const vb_tensor *t = vb_model_tensor(m, VB_DET_SSD_PRIORS);
    if (!t)
        return vb_fail(e, VB_EXIT_INPUT, "%s: tensor '%s' (the SSD's anchors) not found", m->path, VB_DET_SSD_PRIORS);
    if (t->type != VB_F32 || t->ne[0] != 4 || t->ne[1] < 1 || t->ne[1] > (1 << 24) || vb_tensor_nelements(t) != 4 * t->ne[1])
        return vb_fail(e, VB_EXIT_INPUT, "%s: tensor '%s' must be F32 of n x 4 anchors", m->path, VB_DET_SSD_PRIORS);
    p->n_priors = (int)t->ne[1];
    p->priors = t->data;
    return thresholds_read(m, input_size, p, e);
}

int vb_det_params_read(const vb_model *m, int input_size, vb_det_params *p, vb_err *e)
{
    memset(p, 0, sizeof *p);
    const char *kind;
    if (vb_model_get_str(m, VB_KEY_DET_KIND, &kind, e))
        return -1;
    if (strcmp(kind, "ssd") == 0)
        return ssd_params_read(m, input_size, p, e);
    if (strcmp(kind, "tiny_yolo") != 0)
        return vb_fail(e, VB_EXIT_INPUT, "%s: %s is '%s'; this version decodes 'tiny_yolo' and 'ssd'", m->path,
                       VB_KEY_DET_KIND, kind);
    const vb_kv *kv = vb_model_kv(m, VB_KEY_DET_ANCHORS);
    if (!kv)
        return vb_fail(e, VB_EXIT_INPUT, "%s: metadata key %s missing", m->path, VB_KEY_DET_ANCHORS);
    if (kv->type != VB_GGUF_ARRAY || kv->arr_type != VB_GGUF_FLOAT32 || !kv->arr_f || kv->arr_n < 2 ||
        kv->arr_n % 2 || kv->arr_n > 2 * VB_DET_MAX_ANCHORS)
        return vb_fail(e, VB_EXIT_INPUT, "%s: %s must be an f32 array of 1..%d (width, height) pairs", m->path,
                       VB_KEY_DET_ANCHORS, VB_DET_MAX_ANCHORS);
    p->n_anchors = (int)(kv->arr_n / 2);
    for (int a = 0; a < p->n_anchors; a++) {
        p->anchors[a][0] = (float)kv->arr_f[2 * a];
        p->anchors[a][1] = (float)kv->arr_f[2 * a + 1];
        if (!(p->anchors[a][0] > 0 && p->anchors[a][1] > 0 && isfinite(p->anchors[a][0]) &&
              isfinite(p->anchors[a][1])))
            return vb_fail(e, VB_EXIT_INPUT, "%s: %s: anchor %d is not a positive size", m->path,
                           VB_KEY_DET_ANCHORS, a);
    }
    return thresholds_read(m, input_size, p, e);
}

static double sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* A candidate box relative to the image (0..1 on each axis), as extractBoxes makes it. */
typedef struct candidate {
    double x, y, w, h;
    double score;
    int index; /* order of discovery: row, col, anchor */
} candidate;

/* ops/iou.ts on boxes scaled by s (TinyYolov2Base.detect passes box.rescale(inputSize)). */
static double iou_scaled(const candidate *a, const candidate *b, double s)
{
    double ax = a->x * s, ay = a->y * s, aw = a->w * s, ah = a->h * s;
    double bx = b->x * s, by = b->y * s, bw = b->w * s, bh = b->h * s;
    double w = fmax(0.0, fmin(ax + aw, bx + bw) - fmax(ax, bx));
    double h = fmax(0.0, fmin(ay + ah, by + bh) - fmax(ay, by));
    double inter = w * h;
    return inter / (aw * ah + bw * bh - inter);
}

/* Ascending score; equal scores keep discovery order (JavaScript's sort is stable), so the
 * later of two equal boxes is popped first, as nonMaxSuppression does. */
static int by_score_ascending(const void *pa, const void *pb)
{
    const candidate *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score < b->score ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* JavaScript's Math.round (halves round up). */
static double js_round(double x)
{
    return floor(x + 0.5);
}

int vb_det_decode_tiny(const float *grid, int cells, const vb_det_params *p, int img_w, int img_h,
                       vb_face_box *out, int max)
{
    if (cells < 1 || img_w < 1 || img_h < 1 || max < 1 || p->n_anchors < 1)
        return 0;
    /* NetInput.getReshapedInputDimensions: the image's size once scaled into the input. */
    const double scale = (double)p->input_size / (img_w > img_h ? img_w : img_h);
    const double rw = js_round(img_w * scale), rh = js_round(img_h * scale);
    const double side = rw > rh ? rw : rh;
    const double cfx = side / rw, cfy = side / rh;
    const int na = p->n_anchors, stride = na * 5;
    candidate *c = malloc((size_t)cells * cells * na * sizeof *c);
    if (!c)
        return 0;
    int n = 0;
    for (int row = 0; row < cells; row++)
        for (int col = 0; col < cells; col++)
            for (int a = 0; a < na; a++) {
                const float *v = grid + ((size_t)row * cells + col) * stride + (size_t)a * 5;
                double score = sigmoid(v[4]);
                if (p->score_threshold > 0 && !(score > p->score_threshold))
                    continue;
                double ct_x = ((col + sigmoid(v[0])) / cells) * cfx;
                double ct_y = ((row + sigmoid(v[1])) / cells) * cfy;
                double w = ((exp(v[2]) * p->anchors[a][0]) / cells) * cfx;
                double h = ((exp(v[3]) * p->anchors[a][1]) / cells) * cfy;
                c[n] = (candidate){ct_x - w / 2, ct_y - h / 2, w, h, score, n};
                n++;
            }
    qsort(c, (size_t)n, sizeof *c, by_score_ascending);
    /* Pop the best remaining box, drop every remaining box overlapping it by more than the
     * threshold; repeat (the dropped are compacted out of c[0..left)). */
    int left = n, kept = 0;
    while (left > 0 && kept < max) {
        const candidate best = c[--left];
        int m = 0;
        for (int i = 0; i < left; i++)
            if (iou_scaled(&best, &c[i], p->input_size) <= p->iou_threshold)
                c[m++] = c[i];
        left = m;
        /* ObjectDetection: the relative box rescaled to the image (right = x + width). */
        double x0 = best.x * img_w, y0 = best.y * img_h;
        out[kept++] = (vb_face_box){(float)x0, (float)y0, (float)(x0 + best.w * img_w),
                                    (float)(y0 + best.h * img_h), (float)best.score};
    }
    free(c);
    return kept;
}

/* ---- SSD MobileNet v1 ---- */

typedef struct ssd_candidate {
    double score;
    int index; /* the anchor */
} ssd_candidate;

/* Descending score; equal scores keep anchor order (face-api.js sorts with a stable sort). */
static int by_score_descending(const void *pa, const void *pb)
{
    const ssd_candidate *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* nonMaxSuppression.ts's IOU on two decoded boxes (ymin, xmin, ymax, xmax), in double. */
static double ssd_iou(const float *bi, const float *bj)
{
    double ymin_i = fmin(bi[0], bi[2]), xmin_i = fmin(bi[1], bi[3]);
    double ymax_i = fmax(bi[0], bi[2]), xmax_i = fmax(bi[1], bi[3]);
    double ymin_j = fmin(bj[0], bj[2]), xmin_j = fmin(bj[1], bj[3]);
    double ymax_j = fmax(bj[0], bj[2]), xmax_j = fmax(bj[1], bj[3]);
    double area_i = (ymax_i - ymin_i) * (xmax_i - xmin_i), area_j = (ymax_j - ymin_j) * (xmax_j - xmin_j);
    if (area_i <= 0 || area_j <= 0)
        return 0.0;
    double inter = fmax(fmin(ymax_i, ymax_j) - fmax(ymin_i, ymin_j), 0.0) *
                   fmax(fmin(xmax_i, xmax_j) - fmax(xmin_i, xmin_j), 0.0);
    return inter / (area_i + area_j - inter);
}

/* outputLayer.ts decodeBoxesLayer for one anchor: every tfjs op rounds to float32. The
 * anchor gives sizes and centres (index 0: y, 1: x); the encoding is (ty, tx, th, tw). */
static void ssd_decode_box(const float *anchor, const float *enc, float *box)
{
    const float size0 = anchor[2] - anchor[0], size1 = anchor[3] - anchor[1];
    const float center0 = anchor[0] + size0 / 2.0f, center1 = anchor[1] + size1 / 2.0f;
    const float half0 = ((float)exp((double)(enc[2] / 5.0f)) * size0) / 2.0f;
    const float mid0 = (enc[0] / 10.0f) * size0 + center0;
    const float half1 = ((float)exp((double)(enc[3] / 5.0f)) * size1) / 2.0f;
    const float mid1 = (enc[1] / 10.0f) * size1 + center1;
    box[0] = mid0 - half0;
    box[1] = mid1 - half1;
    box[2] = mid0 + half0;
    box[3] = mid1 + half1;
}

int vb_det_decode_ssd(const float *net_out, const vb_det_params *p, int img_w, int img_h, vb_face_box *out,
                      int max)
{
    const int n = p->n_priors;
    if (p->kind != VB_DET_SSD || n < 1 || img_w < 1 || img_h < 1 || max < 1)
        return 0;
    if (max > VB_DET_SSD_MAX)
        max = VB_DET_SSD_MAX;
    const float *enc = net_out, *logits = net_out + (size_t)n * 4;
    ssd_candidate *cand = malloc((size_t)n * sizeof *cand);
    int *selected = malloc((size_t)max * sizeof *selected);
    float *boxes = malloc((size_t)n * 4 * sizeof *boxes);
    if (!cand || !selected || !boxes) {
        free(cand);
        free(selected);
        free(boxes);
        return 0;
    }
    int nc = 0;
    for (int i = 0; i < n; i++) {
        /* tfjs's CPU sigmoid: 1 / (1 + Math.exp(-x)) in double, stored as float32 */
        const float score = (float)(1.0 / (1.0 + exp(-(double)logits[(size_t)i * 3 + 1])));
        if (score > p->score_threshold) {
            cand[nc++] = (ssd_candidate){score, i};
            ssd_decode_box(p->priors + (size_t)i * 4, enc + (size_t)i * 4, boxes + (size_t)i * 4);
        }
    }
    qsort(cand, (size_t)nc, sizeof *cand, by_score_descending);
    /* A candidate is kept unless a kept box overlaps it by more than the IoU threshold (the
     * score * 0 of nonMaxSuppression.ts: the first such box decides). */
    int kept = 0;
    for (int c = 0; c < nc && kept < max; c++) {
        const float *b = boxes + (size_t)cand[c].index * 4;
        int suppressed = 0;
        for (int j = kept - 1; j >= 0 && !suppressed; j--) {
            double iou = ssd_iou(b, boxes + (size_t)cand[selected[j]].index * 4);
            suppressed = iou != 0.0 && !(iou <= p->iou_threshold);
        }
        if (!suppressed)
            selected[kept++] = c;
    }
    /* locateFaces: clip to the padded square, scale by inputSize / the reshaped side
     * (NetInput.getReshapedInputDimensions), then FaceDetection rescales to the image. */
    const double scale = (double)p->input_size / (img_w > img_h ? img_w : img_h);
    const double pad_x = p->input_size / js_round(img_w * scale), pad_y = p->input_size / js_round(img_h * scale);
    for (int k = 0; k < kept; k++) {
        const float *b = boxes + (size_t)cand[selected[k]].index * 4;
        double top = fmax(0.0, b[0]) * pad_y, bottom = fmin(1.0, b[2]) * pad_y;
        double left = fmax(0.0, b[1]) * pad_x, right = fmin(1.0, b[3]) * pad_x;
        double x0 = left * img_w, y0 = top * img_h, score = cand[selected[k]].score;
        out[k] = (vb_face_box){(float)x0, (float)y0, (float)(x0 + (right - left) * img_w),
                               (float)(y0 + (bottom - top) * img_h), (float)score};
    }
    free(cand);
    free(selected);
    free(boxes);
    return kept;
}

int vb_det_pick(const vb_face_box *boxes, int n, int img_w, int img_h)
{
    int best = -1;
    double best_cost = INFINITY;
    for (int i = 0; i < n; i++) {
        const vb_face_box *b = &boxes[i];
        double area = ((double)b->x1 - b->x0) * ((double)b->y1 - b->y0);
        double dx = ((double)b->x0 + b->x1) / 2 - img_w / 2.0, dy = ((double)b->y0 + b->y1) / 2 - img_h / 2.0;
        double cost = area > 0 ? sqrt(dx * dx + dy * dy) / sqrt(area) : INFINITY;
        if (best < 0 || cost < best_cost || (cost == best_cost && b->score > boxes[best].score)) {
            best = i;
            best_cost = cost;
        }
    }
    return best;
}
