/* tiny_face_detector: face-api.js's TinyFaceDetector, a Tiny-YOLOv2 with depthwise
 * separable convolutions (src/tinyYolov2/TinyYolov2Base.ts runMobilenet, with the
 * TinyFaceDetector config: first layer a plain conv, filter sizes 16..512, so no conv6 and
 * conv7). Tensor names are the face-api.js manifest names.
 *
 *   conv0 3x3 VALID + bias, leaky        416 -> 414 x 16
 *   maxpool 2x2/2 SAME                   -> 207
 *   conv1..conv4: separable, maxpool     -> 104, 52, 26, 13 (SAME pads at the end)
 *   conv5: separable; maxpool 2x2/1 SAME -> 13 x 512
 *   conv8 1x1 + bias                     -> 13 x 13 x 25 (5 anchors x x,y,w,h,score)
 *
 * A separable layer (src/tinyYolov2/depthwiseSeparableConv.ts) pads by one on every side
 * and convolves VALID: the same as SAME for a 3x3 stride-1 filter; then 3x3 depthwise (no
 * bias), 1x1 pointwise + bias, leaky ReLU. face-api.js's leaky is relu(x - 0.1x) + 0.1x
 * with 0.1 as float32, the same function as x > 0 ? x : 0.1f * x up to one rounding. */
#include <stdio.h>

#include "models/arch.h"

#define LEAKY_ALPHA 0.1f

static int leaky(vb_graph *g, int x, const char *layer, vb_err *e)
{
    char name[128];
    snprintf(name, sizeof name, "%s/leaky", layer);
    return vb_graph_leaky_relu(g, x, name, LEAKY_ALPHA, e);
}

static int separable(vb_graph *g, int x, const char *layer, vb_err *e)
{
    const vb_tensor *dw, *pw, *bias;
    if (!(dw = vb_arch_need(g, layer, "depthwise_filter", e)) || !(pw = vb_arch_need(g, layer, "pointwise_filter", e)) ||
        !(bias = vb_arch_need(g, layer, "bias", e)))
        return -1;
    char name[128];
    snprintf(name, sizeof name, "%s/depthwise", layer);
    if ((x = vb_graph_dwconv(g, x, name, dw, NULL, 1, 1, e)) < 0)
        return -1;
    snprintf(name, sizeof name, "%s/pointwise", layer);
    if ((x = vb_graph_conv(g, x, name, pw, bias, 1, 1, e)) < 0)
        return -1;
    return leaky(g, x, layer, e);
}

int vb_arch_tiny_face_detector(vb_graph *g, vb_err *e)
{
    static const char *const layers[] = {"conv1", "conv2", "conv3", "conv4", "conv5"};
    int x = vb_graph_input(g, g->in_h, g->in_w, g->in_c);
    const vb_tensor *f0, *b0, *f8, *b8;
    if (!(f0 = vb_arch_need(g, "conv0", "filters", e)) || !(b0 = vb_arch_need(g, "conv0", "bias", e)) ||
        !(f8 = vb_arch_need(g, "conv8", "filters", e)) || !(b8 = vb_arch_need(g, "conv8", "bias", e)))
        return -1;
    if ((x = vb_graph_conv(g, x, "conv0", f0, b0, 1, 0, e)) < 0 || (x = leaky(g, x, "conv0", e)) < 0 ||
        (x = vb_graph_pool(g, VB_OP_MAXPOOL, x, "conv0/maxpool", 2, 2, 1, e)) < 0)
        return -1;
    for (size_t i = 0; i < VB_ARRAY_LEN(layers); i++) {
        char name[64];
        snprintf(name, sizeof name, "%s/maxpool", layers[i]);
        int last = i + 1 == VB_ARRAY_LEN(layers);
        if ((x = separable(g, x, layers[i], e)) < 0 ||
            (x = vb_graph_pool(g, VB_OP_MAXPOOL, x, name, 2, last ? 1 : 2, 1, e)) < 0)
            return -1;
    }
    if ((x = vb_graph_conv(g, x, "conv8", f8, b8, 1, 0, e)) < 0)
        return -1;
    g->output = x;
    return 0;
}
