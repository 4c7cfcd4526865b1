/* face_landmark_68: face-api.js's FaceLandmark68Net, a feature extractor of four dense
 * blocks (src/faceFeatureExtractor/FaceFeatureExtractor.ts, denseBlock.ts denseBlock4) and
 * a fully connected layer (src/faceProcessor/FaceProcessor.ts). Tensor names are the
 * face-api.js manifest names.
 *
 *   112x112x3 -> dense0 56x56x32 -> dense1 28x28x64 -> dense2 14x14x128 -> dense3 7x7x256
 *   -> avgpool 7x7/2 VALID 1x1x256 -> fc 256 -> 136 (+ bias)
 *
 * A dense block, with sepconv = depthwise 3x3 SAME at the stride (no bias) then 1x1
 * pointwise + bias, no activation (src/common/depthwiseSeparableConv.ts):
 *   out1 = relu(conv0(x))  conv0 a plain 3x3/2 SAME conv + bias in dense0, else a sepconv /2
 *   out2 = sepconv1(out1)
 *   out3 = sepconv2(relu(out1 + out2))
 *   out4 = sepconv3(relu(out1 + (out2 + out3)))
 *   y    = relu(out1 + (out2 + (out3 + out4)))
 * The sums are built in face-api.js's nesting, so the float additions happen in its order.
 * TF's SAME with stride 2 on an even size pads one row/column at the end only, which
 * vb_graph_conv / vb_graph_dwconv follow. */
#include <stdio.h>

#include "models/arch.h"

static int sepconv(vb_graph *g, int x, const char *block, const char *conv, int stride, vb_err *e)
{
    char layer[96], name[128];
    snprintf(layer, sizeof layer, "%s/%s", block, conv);
    const vb_tensor *dw, *pw, *bias;
    if (!(dw = vb_arch_need(g, layer, "depthwise_filter", e)) || !(pw = vb_arch_need(g, layer, "pointwise_filter", e)) ||
        !(bias = vb_arch_need(g, layer, "bias", e)))
        return -1;
    snprintf(name, sizeof name, "%s/depthwise", layer);
    if ((x = vb_graph_dwconv(g, x, name, dw, NULL, stride, 1, e)) < 0)
        return -1;
    snprintf(name, sizeof name, "%s/pointwise", layer);
    return vb_graph_conv(g, x, name, pw, bias, 1, 1, e);
}

static int add(vb_graph *g, int a, int b, const char *block, const char *what, vb_err *e)
{
    char name[128];
    snprintf(name, sizeof name, "%s/%s", block, what);
    return vb_graph_add_zeropad(g, a, b, name, e);
}

static int relu(vb_graph *g, int x, const char *block, const char *what, vb_err *e)
{
    char name[128];
    snprintf(name, sizeof name, "%s/%s", block, what);
    return vb_graph_relu(g, x, name, e);
}

static int dense_block(vb_graph *g, int x, const char *block, int first, vb_err *e)
{
    int out1;
    if (first) {
        char layer[96];
        snprintf(layer, sizeof layer, "%s/conv0", block);
        const vb_tensor *f, *b;
        if (!(f = vb_arch_need(g, layer, "filters", e)) || !(b = vb_arch_need(g, layer, "bias", e)))
            return -1;
        out1 = vb_graph_conv(g, x, layer, f, b, 2, 1, e);
    } else {
        out1 = sepconv(g, x, block, "conv0", 2, e);
    }
    int out2, out3, out4, s;
    if (out1 < 0 || (out1 = relu(g, out1, block, "conv0/relu", e)) < 0 ||
        (out2 = sepconv(g, out1, block, "conv1", 1, e)) < 0 ||
        (s = add(g, out1, out2, block, "in3", e)) < 0 || (s = relu(g, s, block, "in3/relu", e)) < 0 ||
        (out3 = sepconv(g, s, block, "conv2", 1, e)) < 0 ||
        (s = add(g, out2, out3, block, "in4/sum23", e)) < 0 || (s = add(g, out1, s, block, "in4", e)) < 0 ||
        (s = relu(g, s, block, "in4/relu", e)) < 0 || (out4 = sepconv(g, s, block, "conv3", 1, e)) < 0 ||
        (s = add(g, out3, out4, block, "out/sum34", e)) < 0 || (s = add(g, out2, s, block, "out/sum234", e)) < 0 ||
        (s = add(g, out1, s, block, "out", e)) < 0)
        return -1;
    return relu(g, s, block, "out/relu", e);
}

int vb_arch_face_landmark_68(vb_graph *g, vb_err *e)
{
    static const char *const blocks[] = {"dense0", "dense1", "dense2", "dense3"};
    int x = vb_graph_input(g, g->in_h, g->in_w, g->in_c);
    for (size_t i = 0; i < VB_ARRAY_LEN(blocks); i++)
        if ((x = dense_block(g, x, blocks[i], i == 0, e)) < 0)
            return -1;
    if ((x = vb_graph_pool(g, VB_OP_AVGPOOL, x, "avgpool", 7, 2, 0, e)) < 0)
        return -1;
    const vb_tensor *w, *b;
    if (!(w = vb_arch_need(g, "fc", "weights", e)) || !(b = vb_arch_need(g, "fc", "bias", e)) ||
        (x = vb_graph_fc(g, x, "fc", w, b, e)) < 0)
        return -1;
    g->output = x;
    return 0;
}
