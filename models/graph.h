/* The model graph: a topologically ordered list of ops over NHWC float activations.
 * Built from a GGUF model by an architecture-specific builder (models/arch_*.c); executed
 * by any backend (backends/backend.h). Batch size is a run-time parameter; shapes here
 * are per image. */
#ifndef VB_GRAPH_H
#define VB_GRAPH_H

#include "models/gguf.h"
#include "models/tensor.h"

typedef enum vb_op {
    VB_OP_INPUT = 0,    /* the preprocessed image, h x w x c */
    VB_OP_CONV2D,       /* weight OHWI (+ optional bias[cout]); explicit pad_top/pad_left,
                           out-of-range taps read zero */
    VB_OP_AFFINE,       /* per-channel y = x * scale[c] + shift[c] */
    VB_OP_RELU,         /* y = max(x, 0) */
    VB_OP_MAXPOOL,      /* k x k window, stride, explicit padding (padding never wins) */
    VB_OP_AVGPOOL,      /* k x k window, stride, mean over in-range taps */
    VB_OP_ADD_ZEROPAD,  /* y = pad(a) + pad(b): output shape is the max of both inputs in
                           h, w and c; each input is extended with zeros at the bottom rows,
                           right columns and last channels (the residual-down rule) */
    VB_OP_MEAN_HW,      /* global mean over h and w -> 1 x 1 x c */
    VB_OP_FC,           /* fully connected: weight [out][in] (+ optional bias[out]) on a
                           1 x 1 x in input -> 1 x 1 x out */
    VB_OP_DWCONV,       /* depthwise conv: one kh x kw filter per channel, weight HWC
                           [kh][kw][c] (ne = {c, kw, kh}, F32) + optional bias[c]; stride and
                           explicit padding as CONV2D; output channels = input channels */
    VB_OP_LEAKY_RELU,   /* y = x > 0 ? x : alpha * x (the node's alpha) */
    VB_OP_RELU6,        /* y = min(max(x, 0), 6) (NaN -> 0), TensorFlow's relu6 / clipByValue(x, 0, 6) */
    VB_OP_CONCAT,       /* y = a ++ b, each input flattened in its NHWC order (per image):
                           output 1 x 1 x (size(a) + size(b)); gathers several heads into
                           the graph's one output (chain it for more than two) */
    VB_OP_COUNT
} vb_op;

const char *vb_op_name(vb_op op);

typedef struct vb_node {
    vb_op op;
    char name[96];           /* e.g. "conv64_down/conv1" */
    int src[2];              /* input node indices (-1 when unused) */
    int h, w, c;             /* output shape per image */
    /* CONV2D / DWCONV / MAXPOOL / AVGPOOL */
    int kh, kw, stride, pad_top, pad_left;
    float alpha;             /* LEAKY_RELU: slope for negative inputs */
    /* CONV2D, DWCONV, FC: weight and bias (bias may be NULL); AFFINE: scale, shift */
    const vb_tensor *weight, *bias, *scale, *shift;
} vb_node;

#define VB_GRAPH_MAX_NODES 256

typedef struct vb_graph {
    char arch[64];           /* architecture name from the model metadata */
    vb_node nodes[VB_GRAPH_MAX_NODES];
    int n_nodes;
    int output;              /* index of the node whose output is the model's result */
    int in_h, in_w, in_c;
    float in_mean[4];        /* preprocessing: (pixel - mean[c]) * in_scale */
    float in_scale;
    int out_dim;             /* floats per image at the output */
    const char *distance;    /* "euclidean": scores are distances (lower = more alike);
                                NULL: not a descriptor net (detector, landmarks) */
    float threshold;         /* the model's trained decision threshold, in its own units */
    int geometry;            /* 1: outputs are image coordinates (face boxes, landmarks) that
                                the pipeline cuts and warps pixels by; backends keep such a
                                graph's activations in fp32 even where they store others in
                                fp16 (fp16 moved LFW landmarks by up to 1.45 px and flipped a
                                decision against the CPU; fp32 keeps scores within 3.1e-5) */
    const vb_model *model;   /* tensors live here; the graph does not own it */
} vb_graph;

/* Build the graph for a loaded model according to its general.architecture. */
int vb_graph_build(const vb_model *m, vb_graph *g, vb_err *e);
/* The same with a square input of side x side instead of the model's, for fully
 * convolutional nets whose output grid follows the input (the tiny face detector, as
 * face-api.js's inputSize); out_dim follows. side 0: the model's own. Other architectures
 * refuse a different side, naming the model file. */
int vb_graph_build_sized(const vb_model *m, int side, vb_graph *g, vb_err *e);

/* Helpers used by architecture builders; they validate tensor shapes and compute the
 * output shape, failing with a message that names the model file and the tensor. */
int vb_graph_input(vb_graph *g, int h, int w, int c);
int vb_graph_conv(vb_graph *g, int src, const char *name, const vb_tensor *w, const vb_tensor *b,
                  int stride, int same_pad, vb_err *e);
int vb_graph_affine(vb_graph *g, int src, const char *name, const vb_tensor *scale,
                    const vb_tensor *shift, vb_err *e);
int vb_graph_relu(vb_graph *g, int src, const char *name, vb_err *e);
int vb_graph_leaky_relu(vb_graph *g, int src, const char *name, float alpha, vb_err *e);
int vb_graph_relu6(vb_graph *g, int src, const char *name, vb_err *e);
/* 1 x 1 x (size(a) + size(b)): a's floats, then b's, each in its NHWC order. */
int vb_graph_concat(vb_graph *g, int a, int b, const char *name, vb_err *e);
/* Depthwise conv; w is F32 with ne = {c, kw, kh} where c is the input's channel count. */
int vb_graph_dwconv(vb_graph *g, int src, const char *name, const vb_tensor *w, const vb_tensor *b,
                    int stride, int same_pad, vb_err *e);
int vb_graph_pool(vb_graph *g, vb_op op, int src, const char *name, int k, int stride, int same_pad,
                  vb_err *e);
int vb_graph_add_zeropad(vb_graph *g, int a, int b, const char *name, vb_err *e);
int vb_graph_mean_hw(vb_graph *g, int src, const char *name, vb_err *e);
int vb_graph_fc(vb_graph *g, int src, const char *name, const vb_tensor *w, const vb_tensor *b,
                vb_err *e);

/* Floats of one image's output of node i. */
size_t vb_node_size(const vb_node *n);
/* Multiply-accumulates of one image through the graph (conv, depthwise conv and fc; the cheap element-wise
 * ops are not counted), for GMAC/s figures. */
double vb_graph_macs(const vb_graph *g);
/* Largest per-image activation in the graph, in floats. */
size_t vb_graph_max_activation(const vb_graph *g);

#endif
