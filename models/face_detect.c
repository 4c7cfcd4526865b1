/* The tiny face detector's post-processing, reproducing face-api.js 1.7.15:
 * TinyYolov2Base.extractBoxes (cell grid -> boxes relative to the image, with the
 * correction factors for non-square images), TinyYolov2Base.detect (NMS on the boxes
 * scaled by the input size), ops/nonMaxSuppression.ts and ops/iou.ts. JavaScript computes
 * in double from the float32 grid; so do we, and round to float only at the end. */
#include "models/face_detect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int vb_det_params_read(const vb_model *m, int input_size, vb_det_params *p, vb_err *e)
{
    memset(p, 0, sizeof *p);
    const char *kind;
    if (vb_model_get_str(m, VB_KEY_DET_KIND, &kind, e))
        return -1;
    if (strcmp(kind, "tiny_yolo") != 0)
        return vb_fail(e, VB_EXIT_INPUT, "%s: %s is '%s'; this version decodes 'tiny_yolo' only", m->path,
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
