/* ssd_mobilenetv1: face-api.js's SsdMobilenetv1 face detector (src/ssdMobilenetv1/:
 * mobileNetV1.ts, pointwiseConvLayer.ts, predictionLayer.ts, boxPredictionLayer.ts). Tensor
 * names are the face-api.js manifest names (the TensorFlow export's), plus the converter's
 * bn_scale/bn_shift per depthwise layer (models/convert_faceapi.c). Input 512x512, x / 127.5 - 1
 * (the model's mean 127.5 and scale 1/127.5).
 *
 *   pointwise layer (Conv2d_0 of MobilenetV1, all of Prediction): conv SAME + bias
 *     (convolution_bn_offset, the batch norm folded in by the export), relu6
 *   depthwise layer: 3x3 depthwise SAME (stride 2 at layers 2, 4, 6, 12), batch norm, relu6.
 *     face-api.js runs tf.batchNorm(mean, variance, offset, gamma, eps 0.001); here it is the
 *     per-channel affine x * bn_scale + bn_shift with bn_scale = gamma / sqrt(variance + eps)
 *     and bn_shift = beta - mean * bn_scale, computed once by the converter (the depthwise
 *     filters stay face-api.js's own).
 *
 *   MobilenetV1: Conv2d_0 3x3/2 (512 -> 256 x 32), then 13 (depthwise, pointwise 1x1) pairs;
 *     conv11 = pair 11's output (32 x 32 x 512), out = pair 13's (16 x 16 x 1024)
 *   Prediction: Conv2d_0..7 pointwise from `out` (1x1, 3x3/2 alternating): 8, 4, 2, 1 cells
 *   six box predictors (1x1 conv + bias, no activation) on conv11, out, Conv2d_1, _3, _5, _7:
 *     BoxEncodingPredictor (anchors x 4) and ClassPredictor (anchors x 3)
 *
 * The graph's one output gathers the heads the way predictionLayer.ts concatenates them: all
 * box encodings (predictor 0..5, each flattened NHWC: cell-major, anchor, 4 values), then
 * all class logits (the same, 3 values): 5118 anchors x 4 then 5118 x 3 floats. Decoding
 * with the anchors (tensor Output/extra_dim) and NMS: models/face_detect.h. */
#include <stdio.h>

#include "models/arch.h"

#define SSD_PREDICTORS 6

static int pointwise(vb_graph *g, int x, const char *scope, int idx, int stride, vb_err *e)
{
    char layer[96], name[128];
    snprintf(layer, sizeof layer, "%s/Conv2d_%d_pointwise", scope, idx);
    const vb_tensor *w, *b;
    if (!(w = vb_arch_need(g, layer, "weights", e)) || !(b = vb_arch_need(g, layer, "convolution_bn_offset", e)) ||
        (x = vb_graph_conv(g, x, layer, w, b, stride, 1, e)) < 0)
        return -1;
    snprintf(name, sizeof name, "%s/relu6", layer);
    return vb_graph_relu6(g, x, name, e);
}

static int depthwise(vb_graph *g, int x, int idx, int stride, vb_err *e)
{
    char layer[96], name[128];
    snprintf(layer, sizeof layer, "MobilenetV1/Conv2d_%d_depthwise", idx);
    const vb_tensor *w, *scale, *shift;
    if (!(w = vb_arch_need(g, layer, "depthwise_weights", e)) || !(scale = vb_arch_need(g, layer, "bn_scale", e)) ||
        !(shift = vb_arch_need(g, layer, "bn_shift", e)) || (x = vb_graph_dwconv(g, x, layer, w, NULL, stride, 1, e)) < 0)
        return -1;
    snprintf(name, sizeof name, "%s/batchnorm", layer);
    if ((x = vb_graph_affine(g, x, name, scale, shift, e)) < 0)
        return -1;
    snprintf(name, sizeof name, "%s/relu6", layer);
    return vb_graph_relu6(g, x, name, e);
}

/* One predictor's head (BoxEncodingPredictor or ClassPredictor): 1x1 conv + bias. */
static int head(vb_graph *g, int x, int idx, const char *kind, vb_err *e)
{
    char layer[96];
    snprintf(layer, sizeof layer, "Prediction/BoxPredictor_%d/%s", idx, kind);
    const vb_tensor *w, *b;
    if (!(w = vb_arch_need(g, layer, "weights", e)) || !(b = vb_arch_need(g, layer, "biases", e)))
        return -1;
    return vb_graph_conv(g, x, layer, w, b, 1, 1, e);
}

/* Appends node x to the gathered output (-1: none yet). */
static int gather(vb_graph *g, int acc, int x, const char *name, vb_err *e)
{
    return acc < 0 ? x : vb_graph_concat(g, acc, x, name, e);
}

int vb_arch_ssd_mobilenetv1(vb_graph *g, vb_err *e)
{
    int x = vb_graph_input(g, g->in_h, g->in_w, g->in_c), conv11 = -1;
    if ((x = pointwise(g, x, "MobilenetV1", 0, 2, e)) < 0)
        return -1;
    for (int i = 1; i <= 13; i++) {
        int stride = (i == 2 || i == 4 || i == 6 || i == 12) ? 2 : 1;
        if ((x = depthwise(g, x, i, stride, e)) < 0 || (x = pointwise(g, x, "MobilenetV1", i, 1, e)) < 0)
            return -1;
        if (i == 11)
            conv11 = x;
    }
    int features[SSD_PREDICTORS] = {conv11, x};
    int p = x;
    for (int i = 0; i < 8; i++) {
        if ((p = pointwise(g, p, "Prediction", i, i % 2 ? 2 : 1, e)) < 0)
            return -1;
        if (i % 2)
            features[2 + i / 2] = p;
    }
    int boxes = -1, classes = -1;
    for (int i = 0; i < SSD_PREDICTORS; i++) {
        int b, c;
        if ((b = head(g, features[i], i, "BoxEncodingPredictor", e)) < 0 ||
            (boxes = gather(g, boxes, b, "box_encodings", e)) < 0 ||
            (c = head(g, features[i], i, "ClassPredictor", e)) < 0 ||
            (classes = gather(g, classes, c, "class_predictions", e)) < 0)
            return -1;
    }
    if ((x = vb_graph_concat(g, boxes, classes, "output", e)) < 0)
        return -1;
    g->output = x;
    return 0;
}
