/* Face detection post-processing on the CPU: the face-api.js tiny face detector's output
 * grid (Tiny-YOLOv2 style) decoded into boxes, non-maximum suppression, and the rule that
 * picks the one face a verification sample stands for. The detector net itself is a graph
 * (models/arch_tiny_face_detector.c) run by any backend; its input is the image padded to a
 * square on the bottom/right and resized to input_size (datasets/preprocess.h,
 * vb_prep_letterbox). Read face-api.js src/tinyYolov2/TinyYolov2Base.ts (extractBoxes) and
 * src/ops/nonMaxSuppression.ts for the exact rules this reproduces. */
#ifndef VB_FACE_DETECT_H
#define VB_FACE_DETECT_H

#include "models/gguf.h"

#define VB_DET_MAX_ANCHORS 16
#define VB_DET_MAX_FACES 64

/* GGUF metadata of a detector model (written by `veribench convert`). */
#define VB_KEY_DET_KIND "veribench.detector.kind"          /* "tiny_yolo" */
#define VB_KEY_DET_ANCHORS "veribench.detector.anchors"    /* f32 array: w0,h0,w1,h1,... in cells */
#define VB_KEY_DET_IOU "veribench.detector.iou_threshold"  /* f32 */
#define VB_KEY_DET_SCORE "veribench.detector.score_threshold" /* f32, the default */

typedef struct vb_det_params {
    int input_size;           /* the net's square input side (the graph's in_h) */
    int n_anchors;
    float anchors[VB_DET_MAX_ANCHORS][2];
    float iou_threshold;      /* NMS */
    float score_threshold;    /* keep boxes whose sigmoid score is above this */
} vb_det_params;

/* A face box in source-image pixels (x0,y0 top-left; x1,y1 bottom-right, not clipped). */
typedef struct vb_face_box {
    float x0, y0, x1, y1;
    float score;
} vb_face_box;

/* Reads the detector metadata of a loaded model (input size from the graph's input node).
 * A missing or malformed key is an error naming the model file and the key. */
int vb_det_params_read(const vb_model *m, int input_size, vb_det_params *p, vb_err *e);

/* Decodes one image's output grid (cells x cells x n_anchors*5 floats, NHWC, as the graph
 * returns it) for a source image of img_w x img_h pixels that was letterboxed into the
 * net's input, applies NMS, and writes at most max boxes, best score first, in source-image
 * pixels. Returns the number of boxes. */
int vb_det_decode_tiny(const float *grid, int cells, const vb_det_params *p, int img_w, int img_h,
                       vb_face_box *out, int max);

/* The face a sample stands for when several are found: the one nearest the image centre,
 * weighted by size (score = distance from centre / sqrt(box area), smallest wins; ties to
 * the higher detector score). -1 when n == 0. */
int vb_det_pick(const vb_face_box *boxes, int n, int img_w, int img_h);

#endif
