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

int vb_arch_face_recognition(vb_graph *g, vb_err *e);

#endif
