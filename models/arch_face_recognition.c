/* face_recognition: the dlib ResNet face descriptor net as ported to face-api.js
 * (see ../shared/docs/model.md). Tensor names are the face-api.js manifest names. */
#include <stdio.h>
#include <string.h>

#include "models/arch.h"

/* conv layer = conv + bias, per-channel scale, optional ReLU. */
static int conv_layer(vb_graph *g, int x, const char *prefix, int stride, int same_pad, int relu,
                      vb_err *e)
{
    const vb_tensor *filters, *bias, *scale, *shift;
    if (!(filters = vb_arch_need(g, prefix, "conv/filters", e)) || !(bias = vb_arch_need(g, prefix, "conv/bias", e)) ||
        !(scale = vb_arch_need(g, prefix, "scale/weights", e)) ||
        !(shift = vb_arch_need(g, prefix, "scale/biases", e)))
        return -1;
    char name[128];
    x = vb_graph_conv(g, x, prefix, filters, bias, stride, same_pad, e);
    if (x < 0)
        return -1;
    snprintf(name, sizeof name, "%s/scale", prefix);
    x = vb_graph_affine(g, x, name, scale, shift, e);
    if (x < 0 || !relu)
        return x;
    snprintf(name, sizeof name, "%s/relu", prefix);
    return vb_graph_relu(g, x, name, e);
}

/* residual: relu(conv_noRelu(conv(x)) + x)
 * residual down: relu(pad(conv_noRelu(convDown(x))) + chpad(avgPool2x2s2(x))) */
static int residual(vb_graph *g, int x, const char *block, int down, vb_err *e)
{
    char p1[128], p2[128], name[128];
    snprintf(p1, sizeof p1, "%s/conv1", block);
    snprintf(p2, sizeof p2, "%s/conv2", block);
    int y = conv_layer(g, x, p1, down ? 2 : 1, !down, 1, e);
    if (y < 0 || (y = conv_layer(g, y, p2, 1, 1, 0, e)) < 0)
        return -1;
    int skip = x;
    if (down) {
        snprintf(name, sizeof name, "%s/avgpool", block);
        if ((skip = vb_graph_pool(g, VB_OP_AVGPOOL, x, name, 2, 2, 0, e)) < 0)
            return -1;
    }
    snprintf(name, sizeof name, "%s/add", block);
    if ((y = vb_graph_add_zeropad(g, y, skip, name, e)) < 0)
        return -1;
    snprintf(name, sizeof name, "%s/relu", block);
    return vb_graph_relu(g, y, name, e);
}

int vb_arch_face_recognition(vb_graph *g, vb_err *e)
{
    static const struct { const char *name; int down; } blocks[] = {
        {"conv32_1", 0},     {"conv32_2", 0},  {"conv32_3", 0},  {"conv64_down", 1},
        {"conv64_1", 0},     {"conv64_2", 0},  {"conv64_3", 0},  {"conv128_down", 1},
        {"conv128_1", 0},    {"conv128_2", 0}, {"conv256_down", 1}, {"conv256_1", 0},
        {"conv256_2", 0},    {"conv256_down_out", 1},
    };
    int x = vb_graph_input(g, g->in_h, g->in_w, g->in_c);
    if ((x = conv_layer(g, x, "conv32_down", 2, 0, 1, e)) < 0)
        return -1;
    if ((x = vb_graph_pool(g, VB_OP_MAXPOOL, x, "maxpool", 3, 2, 0, e)) < 0)
        return -1;
    for (size_t i = 0; i < VB_ARRAY_LEN(blocks); i++)
        if ((x = residual(g, x, blocks[i].name, blocks[i].down, e)) < 0)
            return -1;
    if ((x = vb_graph_mean_hw(g, x, "mean", e)) < 0)
        return -1;
    const vb_tensor *fc = vb_arch_need(g, "fc", "", e);
    if (!fc || (x = vb_graph_fc(g, x, "fc", fc, NULL, e)) < 0)
        return -1;
    g->output = x;
    return 0;
}
