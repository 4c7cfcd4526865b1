/* Small test graphs built from random tensors (shared by tests/test_backend_ops.c and
 * tests/test_vulkan_ops.c): an input, then ops through the models/graph.h builders, with
 * weights stored in any vb_dtype (encoded through the models/ type traits). Tensors are
 * owned by the tgraph; tg_free releases them. A builder failure is a test failure and
 * returns -1. */
#ifndef VB_TEST_GRAPHS_H
#define VB_TEST_GRAPHS_H

#include <stdlib.h>
#include <string.h>

#include "models/graph.h"
#include "tests/testlib.h"

#define TG_MAX_TENSORS 24

typedef struct tgraph {
    vb_graph g;
    vb_tensor t[TG_MAX_TENSORS];
    int n_t;
    vb_err err;
} tgraph;

static inline void tg_init(tgraph *t, int h, int w, int c)
{
    memset(t, 0, sizeof *t);
    vb_graph_input(&t->g, h, w, c);
}

static inline void tg_free(tgraph *t)
{
    for (int i = 0; i < t->n_t; i++)
        free(t->t[i].data);
    t->n_t = 0;
}

/* A tensor of random values in [lo, hi) stored as `type` (rows of ne[0]). */
static inline const vb_tensor *tg_tensor(tgraph *t, vb_dtype type, int n_dims, const int64_t *ne, unsigned seed,
                                         float lo, float hi)
{
    vb_tensor *x = &t->t[t->n_t++];
    snprintf(x->name, sizeof x->name, "t%d", t->n_t);
    x->type = type;
    x->n_dims = n_dims;
    for (int i = 0; i < VB_MAX_DIMS; i++)
        x->ne[i] = i < n_dims ? ne[i] : 1;
    int64_t n = vb_tensor_nelements(x), row = x->ne[0], rows = n / row;
    float *f = malloc((size_t)n * sizeof(float));
    vb_test_fill_random(f, (size_t)n, seed, lo, hi);
    x->nbytes = (size_t)rows * vb_dtype_row_bytes(type, row);
    x->data = malloc(x->nbytes);
    vb_dtype_from_f32_rows(type, f, row, rows, x->data);
    free(f);
    return x;
}

static inline const vb_tensor *tg_vector(tgraph *t, int n, unsigned seed, float lo, float hi)
{
    int64_t ne[1] = {n};
    return tg_tensor(t, VB_F32, 1, ne, seed, lo, hi);
}

static inline int tg_conv(tgraph *t, int src, vb_dtype wt, int cout, int k, int stride, int same, int bias,
                          unsigned seed)
{
    int cin = t->g.nodes[src].c;
    int64_t ne[4] = {cin, k, k, cout};
    const vb_tensor *w = tg_tensor(t, wt, 4, ne, seed, -0.3f, 0.3f);
    const vb_tensor *b = bias ? tg_vector(t, cout, seed + 1, -0.5f, 0.5f) : NULL;
    int id = vb_graph_conv(&t->g, src, "conv", w, b, stride, same, &t->err);
    CHECKF(id >= 0, "conv: %s", t->err.msg);
    return id;
}

/* A depthwise conv over src's channels: F32 HWC filter (ne = {c, k, k}). */
static inline int tg_dwconv(tgraph *t, int src, int k, int stride, int same, int bias, unsigned seed)
{
    int c = t->g.nodes[src].c;
    int64_t ne[3] = {c, k, k};
    const vb_tensor *w = tg_tensor(t, VB_F32, 3, ne, seed, -0.3f, 0.3f);
    const vb_tensor *b = bias ? tg_vector(t, c, seed + 1, -0.5f, 0.5f) : NULL;
    int id = vb_graph_dwconv(&t->g, src, "dwconv", w, b, stride, same, &t->err);
    CHECKF(id >= 0, "dwconv: %s", t->err.msg);
    return id;
}

static inline int tg_affine(tgraph *t, int src, unsigned seed)
{
    int c = t->g.nodes[src].c;
    const vb_tensor *s = tg_vector(t, c, seed, 0.5f, 1.5f), *sh = tg_vector(t, c, seed + 1, -0.5f, 0.5f);
    int id = vb_graph_affine(&t->g, src, "affine", s, sh, &t->err);
    CHECKF(id >= 0, "affine: %s", t->err.msg);
    return id;
}

static inline int tg_fc(tgraph *t, int src, vb_dtype wt, int out, int bias, unsigned seed)
{
    int64_t ne[2] = {(int64_t)vb_node_size(&t->g.nodes[src]), out};
    const vb_tensor *w = tg_tensor(t, wt, 2, ne, seed, -0.3f, 0.3f);
    const vb_tensor *b = bias ? tg_vector(t, out, seed + 1, -0.5f, 0.5f) : NULL;
    int id = vb_graph_fc(&t->g, src, "fc", w, b, &t->err);
    CHECKF(id >= 0, "fc: %s", t->err.msg);
    return id;
}

static inline void tg_finish(tgraph *t, int output)
{
    t->g.output = output;
    t->g.out_dim = (int)vb_node_size(&t->g.nodes[output]);
}

/* A miniature of the face net: two residual blocks (one down) and the head, so that
 * activation slots are reused and a skip connection lives across several steps. */
static inline int tg_mini_net(tgraph *t)
{
    vb_err *err = &t->err;
    tg_init(t, 19, 17, 3);
    int x = tg_conv(t, 0, VB_F32, 8, 5, 2, 0, 1, 900);   /* 8x7x8 */
    x = tg_affine(t, x, 901);
    x = vb_graph_relu(&t->g, x, "relu", err);
    x = vb_graph_pool(&t->g, VB_OP_MAXPOOL, x, "maxpool", 3, 1, 1, err);
    int skip = x;
    int y = tg_conv(t, x, VB_F32, 8, 3, 1, 1, 1, 902);
    y = tg_affine(t, y, 903);
    y = vb_graph_relu(&t->g, y, "relu", err);
    y = tg_conv(t, y, VB_F32, 8, 3, 1, 1, 1, 904);
    y = tg_affine(t, y, 905);
    y = vb_graph_add_zeropad(&t->g, y, skip, "add", err);
    x = vb_graph_relu(&t->g, y, "relu", err);
    skip = vb_graph_pool(&t->g, VB_OP_AVGPOOL, x, "avgpool", 2, 2, 0, err);  /* 4x3x8 */
    y = tg_conv(t, x, VB_F32, 12, 3, 2, 0, 1, 906);                         /* 3x3x12 */
    y = tg_affine(t, y, 907);
    y = vb_graph_relu(&t->g, y, "relu", err);
    y = tg_conv(t, y, VB_F32, 12, 3, 1, 1, 1, 908);
    y = tg_affine(t, y, 909);
    y = vb_graph_add_zeropad(&t->g, y, skip, "add", err);                   /* 4x3x12 */
    x = vb_graph_relu(&t->g, y, "relu", err);
    x = vb_graph_mean_hw(&t->g, x, "mean", err);
    x = tg_fc(t, x, VB_F32, 10, 0, 910);
    CHECKF(x >= 0, "mini net: %s", err->msg);
    if (x >= 0)
        tg_finish(t, x);
    return x;
}

/* Per-node capture buffers for vb_backend_run. */
typedef struct capture {
    float **node;  /* per node, batch * size floats */
    float *out;
    int n;
} capture;

static inline void cap_alloc(capture *c, const vb_graph *g, int batch)
{
    c->n = g->n_nodes;
    c->node = calloc((size_t)g->n_nodes, sizeof *c->node);
    for (int i = 0; i < g->n_nodes; i++)
        c->node[i] = calloc((size_t)batch * vb_node_size(&g->nodes[i]), sizeof(float));
    c->out = calloc((size_t)batch * g->out_dim, sizeof(float));
}

static inline void cap_free(capture *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->node[i]);
    free(c->node);
    free(c->out);
}

#endif
