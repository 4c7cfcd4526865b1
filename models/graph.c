#include "models/graph.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const op_names[VB_OP_COUNT] = {
    [VB_OP_INPUT] = "input",       [VB_OP_CONV2D] = "conv2d",  [VB_OP_AFFINE] = "affine",
    [VB_OP_RELU] = "relu",         [VB_OP_MAXPOOL] = "maxpool", [VB_OP_AVGPOOL] = "avgpool",
    [VB_OP_ADD_ZEROPAD] = "add_zeropad", [VB_OP_MEAN_HW] = "mean_hw", [VB_OP_FC] = "fc",
    [VB_OP_DWCONV] = "dwconv",     [VB_OP_LEAKY_RELU] = "leaky_relu", [VB_OP_RELU6] = "relu6",
    [VB_OP_CONCAT] = "concat",
};

const char *vb_op_name(vb_op op)
{
    return (op >= 0 && op < VB_OP_COUNT) ? op_names[op] : "?";
}

double vb_graph_macs(const vb_graph *g)
{
    double macs = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const vb_node *n = &g->nodes[i];
        if (n->op == VB_OP_CONV2D)
            macs += (double)n->h * n->w * n->c * n->kh * n->kw * g->nodes[n->src[0]].c;
        else if (n->op == VB_OP_DWCONV)
            macs += (double)n->h * n->w * n->c * n->kh * n->kw;
        else if (n->op == VB_OP_FC)
            macs += (double)n->c * vb_node_size(&g->nodes[n->src[0]]);
    }
    return macs;
}

size_t vb_node_size(const vb_node *n)
{
    return (size_t)n->h * n->w * n->c;
}

size_t vb_graph_max_activation(const vb_graph *g)
{
    size_t m = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (vb_node_size(&g->nodes[i]) > m)
            m = vb_node_size(&g->nodes[i]);
    return m;
}

static const char *model_path(const vb_graph *g)
{
    return g->model ? g->model->path : "(in-memory graph)";
}

static vb_node *new_node(vb_graph *g, vb_op op, const char *name, int src0, int src1, vb_err *e)
{
    if (g->n_nodes >= VB_GRAPH_MAX_NODES) {
        vb_fail(e, VB_EXIT_INPUT, "%s: graph has more than %d nodes", model_path(g), VB_GRAPH_MAX_NODES);
        return NULL;
    }
    if (src0 >= g->n_nodes || src1 >= g->n_nodes || (op != VB_OP_INPUT && src0 < 0)) {
        vb_fail(e, VB_EXIT_INPUT, "%s: node %s refers to a missing input", model_path(g), name);
        return NULL;
    }
    vb_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    snprintf(n->name, sizeof n->name, "%s", name);
    n->src[0] = src0;
    n->src[1] = src1;
    n->stride = 1;
    if (src0 >= 0) {
        n->h = g->nodes[src0].h;
        n->w = g->nodes[src0].w;
        n->c = g->nodes[src0].c;
    }
    return n;
}

static int vector_ok(const vb_graph *g, const vb_tensor *t, int len, const char *what, const char *node,
                     vb_err *e)
{
    if (!t)
        return vb_fail(e, VB_EXIT_INPUT, "%s: missing %s tensor for node %s", model_path(g), what, node);
    if (t->type != VB_F32 || t->n_dims != 1 || t->ne[0] != len)
        return vb_fail(e, VB_EXIT_INPUT, "%s: tensor %s must be F32 of length %d (is %s, %d dims, ne0=%lld)",
                       model_path(g), t->name, len, vb_dtype_name(t->type), t->n_dims, (long long)t->ne[0]);
    return 0;
}

int vb_graph_input(vb_graph *g, int h, int w, int c)
{
    vb_node *n = new_node(g, VB_OP_INPUT, "input", -1, -1, NULL);
    if (!n)
        return -1;
    n->h = h;
    n->w = w;
    n->c = c;
    g->in_h = h;
    g->in_w = w;
    g->in_c = c;
    return g->n_nodes++;
}

/* Output size and leading padding of a window op, TensorFlow's SAME/VALID rules. */
static int window_shape(int in, int k, int stride, int same_pad, int *out, int *pad_lead)
{
    if (same_pad) {
        *out = (in + stride - 1) / stride;
        int total = (*out - 1) * stride + k - in;
        *pad_lead = total > 0 ? total / 2 : 0;
    } else {
        if (in < k)
            return -1;
        *out = (in - k) / stride + 1;
        *pad_lead = 0;
    }
    return 0;
}

int vb_graph_conv(vb_graph *g, int src, const char *name, const vb_tensor *w, const vb_tensor *b,
                  int stride, int same_pad, vb_err *e)
{
    vb_node *n = new_node(g, VB_OP_CONV2D, name, src, -1, e);
    if (!n)
        return -1;
    if (!w)
        return vb_fail(e, VB_EXIT_INPUT, "%s: missing filter tensor for %s", model_path(g), name);
    if (w->n_dims != 4 || w->ne[0] != n->c)
        return vb_fail(e, VB_EXIT_INPUT, "%s: filter %s must be 4-D OHWI with %d input channels",
                       model_path(g), w->name, n->c);
    if (stride < 1)
        return vb_fail(e, VB_EXIT_INPUT, "%s: %s: bad stride %d", model_path(g), name, stride);
    n->kw = (int)w->ne[1];
    n->kh = (int)w->ne[2];
    int cout = (int)w->ne[3];
    if (b && vector_ok(g, b, cout, "bias", name, e))
        return -1;
    n->stride = stride;
    int oh, ow;
    if (window_shape(n->h, n->kh, stride, same_pad, &oh, &n->pad_top) ||
        window_shape(n->w, n->kw, stride, same_pad, &ow, &n->pad_left))
        return vb_fail(e, VB_EXIT_INPUT, "%s: %s: %dx%d input smaller than %dx%d filter",
                       model_path(g), name, n->h, n->w, n->kh, n->kw);
    n->h = oh;
    n->w = ow;
    n->c = cout;
    n->weight = w;
    n->bias = b;
    return g->n_nodes++;
}

int vb_graph_affine(vb_graph *g, int src, const char *name, const vb_tensor *scale,
                    const vb_tensor *shift, vb_err *e)
{
    vb_node *n = new_node(g, VB_OP_AFFINE, name, src, -1, e);
    if (!n || vector_ok(g, scale, n->c, "scale", name, e) || vector_ok(g, shift, n->c, "shift", name, e))
        return -1;
    n->scale = scale;
    n->shift = shift;
    return g->n_nodes++;
}

int vb_graph_relu(vb_graph *g, int src, const char *name, vb_err *e)
{
    return new_node(g, VB_OP_RELU, name, src, -1, e) ? g->n_nodes++ : -1;
}

int vb_graph_leaky_relu(vb_graph *g, int src, const char *name, float alpha, vb_err *e)
{
    vb_node *n = new_node(g, VB_OP_LEAKY_RELU, name, src, -1, e);
    if (!n)
        return -1;
    if (!(alpha >= 0.0f && alpha < 1.0f))
        return vb_fail(e, VB_EXIT_INPUT, "%s: %s: leaky ReLU slope %g outside [0, 1)", model_path(g), name,
                       (double)alpha);
    n->alpha = alpha;
    return g->n_nodes++;
}

int vb_graph_relu6(vb_graph *g, int src, const char *name, vb_err *e)
{
    return new_node(g, VB_OP_RELU6, name, src, -1, e) ? g->n_nodes++ : -1;
}

int vb_graph_concat(vb_graph *g, int a, int b, const char *name, vb_err *e)
{
    vb_node *n = new_node(g, VB_OP_CONCAT, name, a, b, e);
    if (!n)
        return -1;
    if (b < 0)
        return vb_fail(e, VB_EXIT_INPUT, "%s: %s needs two inputs", model_path(g), name);
    size_t total = vb_node_size(&g->nodes[a]) + vb_node_size(&g->nodes[b]);
    if (total > (size_t)1 << 30)
        return vb_fail(e, VB_EXIT_INPUT, "%s: %s: %zu outputs is too many", model_path(g), name, total);
    n->h = n->w = 1;
    n->c = (int)total;
    return g->n_nodes++;
}

int vb_graph_dwconv(vb_graph *g, int src, const char *name, const vb_tensor *w, const vb_tensor *b,
                    int stride, int same_pad, vb_err *e)
{
    vb_node *n = new_node(g, VB_OP_DWCONV, name, src, -1, e);
    if (!n)
        return -1;
    if (!w)
        return vb_fail(e, VB_EXIT_INPUT, "%s: missing depthwise filter tensor for %s", model_path(g), name);
    if (w->type != VB_F32 || w->n_dims != 3 || w->ne[0] != n->c)
        return vb_fail(e, VB_EXIT_INPUT, "%s: depthwise filter %s must be F32, 3-D HWC with %d channels",
                       model_path(g), w->name, n->c);
    if (stride < 1)
        return vb_fail(e, VB_EXIT_INPUT, "%s: %s: bad stride %d", model_path(g), name, stride);
    if (b && vector_ok(g, b, n->c, "bias", name, e))
        return -1;
    n->kw = (int)w->ne[1];
    n->kh = (int)w->ne[2];
    n->stride = stride;
    int oh, ow;
    if (window_shape(n->h, n->kh, stride, same_pad, &oh, &n->pad_top) ||
        window_shape(n->w, n->kw, stride, same_pad, &ow, &n->pad_left))
        return vb_fail(e, VB_EXIT_INPUT, "%s: %s: %dx%d input smaller than %dx%d filter", model_path(g), name,
                       n->h, n->w, n->kh, n->kw);
    n->h = oh;
    n->w = ow;
    n->weight = w;
    n->bias = b;
    return g->n_nodes++;
}

int vb_graph_pool(vb_graph *g, vb_op op, int src, const char *name, int k, int stride, int same_pad,
                  vb_err *e)
{
    vb_node *n = new_node(g, op, name, src, -1, e);
    if (!n)
        return -1;
    n->kh = n->kw = k;
    n->stride = stride;
    int oh, ow;
    if (k < 1 || stride < 1 || window_shape(n->h, k, stride, same_pad, &oh, &n->pad_top) ||
        window_shape(n->w, k, stride, same_pad, &ow, &n->pad_left))
        return vb_fail(e, VB_EXIT_INPUT, "%s: %s: bad pool window %d/%d on %dx%d", model_path(g),
                       name, k, stride, n->h, n->w);
    n->h = oh;
    n->w = ow;
    return g->n_nodes++;
}

int vb_graph_add_zeropad(vb_graph *g, int a, int b, const char *name, vb_err *e)
{
    vb_node *n = new_node(g, VB_OP_ADD_ZEROPAD, name, a, b, e);
    if (!n)
        return -1;
    if (b < 0)
        return vb_fail(e, VB_EXIT_INPUT, "%s: %s needs two inputs", model_path(g), name);
    const vb_node *nb = &g->nodes[b];
    n->h = n->h > nb->h ? n->h : nb->h;
    n->w = n->w > nb->w ? n->w : nb->w;
    n->c = n->c > nb->c ? n->c : nb->c;
    return g->n_nodes++;
}

int vb_graph_mean_hw(vb_graph *g, int src, const char *name, vb_err *e)
{
    vb_node *n = new_node(g, VB_OP_MEAN_HW, name, src, -1, e);
    if (!n)
        return -1;
    n->h = n->w = 1;
    return g->n_nodes++;
}

int vb_graph_fc(vb_graph *g, int src, const char *name, const vb_tensor *w, const vb_tensor *b,
                vb_err *e)
{
    vb_node *n = new_node(g, VB_OP_FC, name, src, -1, e);
    if (!n)
        return -1;
    int in = n->h * n->w * n->c;
    if (!w || w->n_dims != 2 || w->ne[0] != in)
        return vb_fail(e, VB_EXIT_INPUT, "%s: fc weight %s must be 2-D [out][%d]", model_path(g),
                       w ? w->name : name, in);
    int out = (int)w->ne[1];
    if (b && vector_ok(g, b, out, "bias", name, e))
        return -1;
    n->h = n->w = 1;
    n->c = out;
    n->weight = w;
    n->bias = b;
    return g->n_nodes++;
}
