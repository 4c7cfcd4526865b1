/* Architecture builders: each turns a loaded model's tensors into a vb_graph.
 * vb_graph_build reads the common metadata (input shape, normalization, output kind)
 * and dispatches on general.architecture. */
#ifndef VB_ARCH_H
#define VB_ARCH_H

#include "models/graph.h"

/* Metadata keys written by `veribench convert` and read here. */
#define VB_KEY_ARCH "general.architecture"
#define VB_KEY_IN_H "veribench.input.height"
#define VB_KEY_IN_W "veribench.input.width"
#define VB_KEY_IN_C "veribench.input.channels"
#define VB_KEY_IN_MEAN "veribench.input.mean"
#define VB_KEY_IN_SCALE "veribench.input.scale"
#define VB_KEY_OUT_DIM "veribench.output.dim"
#define VB_KEY_OUT_DISTANCE "veribench.output.distance"
#define VB_KEY_OUT_THRESHOLD "veribench.output.threshold"
#define VB_KEY_QUANT "veribench.quant"
#define VB_KEY_QUANTIZED "veribench.quantized_tensors"

/* The tensor "prefix/suffix" of g's model, or NULL with an error naming the model file, the
 * tensor and the architecture (a renamed or missing tensor must say which, not just
 * "missing scale tensor"). */
const vb_tensor *vb_arch_need(const vb_graph *g, const char *prefix, const char *suffix, vb_err *e);

int vb_arch_face_recognition(vb_graph *g, vb_err *e);
/* face-api.js tiny face detector (models/arch_tiny_face_detector.c): output cells x cells x
 * (anchors x 5), decoded by models/face_detect.h. */
int vb_arch_tiny_face_detector(vb_graph *g, vb_err *e);
/* face-api.js SSD MobileNet v1 face detector (models/arch_ssd_mobilenetv1.c): output 5118
 * anchors x 4 box encodings then 5118 x 3 class logits, decoded by models/face_detect.h. */
int vb_arch_ssd_mobilenetv1(vb_graph *g, vb_err *e);
/* face-api.js 68-point landmark net (models/arch_face_landmark.c): 136 outputs, mapped to
 * image pixels by models/face_landmarks.h. */
int vb_arch_face_landmark_68(vb_graph *g, vb_err *e);

#endif
