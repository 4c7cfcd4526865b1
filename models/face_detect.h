/* Face detection post-processing on the CPU: the face-api.js detectors' outputs decoded
 * into boxes, non-maximum suppression, and the rule that picks the one face a verification
 * sample stands for. Two detectors (VB_KEY_DET_KIND):
 *   tiny_yolo: the tiny face detector's output grid (Tiny-YOLOv2 style), vb_det_decode_tiny;
 *     read face-api.js src/tinyYolov2/TinyYolov2Base.ts (extractBoxes) and
 *     src/ops/nonMaxSuppression.ts for the exact rules this reproduces;
 *   ssd: SSD MobileNet v1's box encodings and class logits over its 5118 anchors,
 *     vb_det_decode_ssd; read src/ssdMobilenetv1/outputLayer.ts, nonMaxSuppression.ts and
 *     SsdMobilenetv1.ts (locateFaces).
 * The detector net itself is a graph (models/arch_tiny_face_detector.c,
 * arch_ssd_mobilenetv1.c) run by any backend; for both, its input is the image padded to a
 * square on the bottom/right and resized to input_size (datasets/preprocess.h,
 * vb_prep_letterbox), then normalized by the model's mean and scale. */
#ifndef VB_FACE_DETECT_H
#define VB_FACE_DETECT_H

#include "models/gguf.h"

#define VB_DET_MAX_ANCHORS 16
#define VB_DET_MAX_FACES 64

/* GGUF metadata of a detector model (written by `veribench convert`). */
#define VB_KEY_DET_KIND "veribench.detector.kind"          /* "tiny_yolo" or "ssd" */
#define VB_KEY_DET_ANCHORS "veribench.detector.anchors"    /* tiny_yolo: f32 array w0,h0,w1,h1,... in cells */
#define VB_KEY_DET_IOU "veribench.detector.iou_threshold"  /* f32 */
#define VB_KEY_DET_SCORE "veribench.detector.score_threshold" /* f32, the default */

/* ssd: the tensor holding the anchors (priors), F32 ne = {4, n_priors, 1}: per anchor ymin,
 * xmin, ymax, xmax relative to the padded square input (face-api.js's Output/extra_dim). */
#define VB_DET_SSD_PRIORS "Output/extra_dim"
/* ssd: SsdMobilenetv1Options' default maxResults. */
#define VB_DET_SSD_MAX 100

typedef enum vb_det_kind { VB_DET_TINY_YOLO = 0, VB_DET_SSD } vb_det_kind;

typedef struct vb_det_params {
    vb_det_kind kind;
    int input_size;           /* the net's square input side (the graph's in_h) */
    int n_anchors;            /* tiny_yolo */
    float anchors[VB_DET_MAX_ANCHORS][2];
    int n_priors;             /* ssd: anchors; the net's output is n_priors * 7 floats */
    const float *priors;      /* ssd: n_priors x (ymin, xmin, ymax, xmax), in the model */
    float iou_threshold;      /* NMS */
    float score_threshold;    /* keep boxes whose sigmoid score is above this */
} vb_det_params;

/* A face box in source-image pixels (x0,y0 top-left; x1,y1 bottom-right, not clipped). */
typedef struct vb_face_box {
    float x0, y0, x1, y1;
    float score;
} vb_face_box;

/* Reads the detector metadata of a loaded model (input size from the graph's input node);
 * p->priors points into m, which must outlive p. A missing or malformed key or prior tensor
 * is an error naming the model file and the key. */
int vb_det_params_read(const vb_model *m, int input_size, vb_det_params *p, vb_err *e);

/* Decodes one image's output grid (cells x cells x n_anchors*5 floats, NHWC, as the graph
 * returns it) for a source image of img_w x img_h pixels that was letterboxed into the
 * net's input, applies NMS, and writes at most max boxes, best score first, in source-image
 * pixels. Returns the number of boxes. */
int vb_det_decode_tiny(const float *grid, int cells, const vb_det_params *p, int img_w, int img_h,
                       vb_face_box *out, int max);

/* Decodes one image's SSD output (n_priors x 4 box encodings, then n_priors x 3 class
 * logits, as models/arch_ssd_mobilenetv1.c gathers them) for a source image of img_w x
 * img_h pixels letterboxed into the net's input, as face-api.js's locateFaces does: boxes
 * from encodings and priors (outputLayer.ts, in float32 operation by operation), score =
 * sigmoid(logit of class 1), NMS over boxes scoring above the threshold (nonMaxSuppression.ts:
 * best first, IoU > threshold suppresses), at most min(max, VB_DET_SSD_MAX) boxes, then each
 * box clipped to the padded square ([0, 1]) and scaled to source pixels. Writes the boxes
 * best score first; returns their number. */
int vb_det_decode_ssd(const float *net_out, const vb_det_params *p, int img_w, int img_h, vb_face_box *out,
                      int max);

/* The face a sample stands for when several are found: the one nearest the image centre,
 * weighted by size (score = distance from centre / sqrt(box area), smallest wins; ties to
 * the higher detector score). -1 when n == 0. */
int vb_det_pick(const vb_face_box *boxes, int n, int img_w, int img_h);

#endif
