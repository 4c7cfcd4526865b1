/* Every Vulkan shader against the CPU reference ops, on small graphs of awkward shapes.
 *
 * Reference: the CPU backend's reference path (cpu:ref), i.e. backends/cpu/ref_ops.c with
 * double accumulation, run on the same graph, input and weights (quantized weights
 * dequantized by vb_tensor_to_f32). Every node the Vulkan backend materializes is compared
 * (NMSE and max-abs); nodes it fuses away must read NAN.
 *
 * Tolerances (inputs in [-1, 1], weights in [-0.3, 0.3], reductions K <= 600):
 *  fp32 variants: NMSE <= 1e-10 and max-abs <= 1e-4 * max(1, max|ref|). The shaders sum in
 *    fp32 (the reference in double): for K <= 600 the rounding error of a sum is typically
 *    sqrt(K) * 2^-24 ~ 1.5e-6 of its magnitude, so NMSE ~ 1e-12 and max-abs ~ 1e-6 relative;
 *    the bounds leave ~100x margin and are still far below any indexing or padding bug,
 *    which shows up as O(1) relative error.
 *  fp16 variants: activations and float weights are rounded to fp16 (relative 2^-11 =
 *    4.9e-4 each), sums stay fp32: expected relative rms error ~ 1e-3, NMSE ~ 1e-6. Bounds:
 *    NMSE <= 1e-5 and max-abs <= 1e-2 * max(1, max|ref|) (the worst of thousands of outputs
 *    sits a few sigma out). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/ref_ops.h"
#include "tests/test_vulkan.h"

#define MAX_TENSORS 24

typedef struct tgraph {
    vb_graph g;
    vb_tensor t[MAX_TENSORS];
    int n_t;
} tgraph;

static vb_backend *vk32, *vk16, *cpu_ref; /* vk16 NULL when the device lacks fp16 */
static vb_err err;

/* ---- building test graphs ------------------------------------------------------------- */

static void tg_init(tgraph *t, int h, int w, int c)
{
    memset(t, 0, sizeof *t);
    vb_graph_input(&t->g, h, w, c);
}

static void tg_free(tgraph *t)
{
    for (int i = 0; i < t->n_t; i++)
        free(t->t[i].data);
    t->n_t = 0;
}

/* A tensor of random values in [lo, hi) stored as `type` (rows of ne[0]). */
static const vb_tensor *tg_tensor(tgraph *t, vb_dtype type, int n_dims, const int64_t *ne, unsigned seed, float lo,
                                  float hi)
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
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *dst = (uint8_t *)x->data + r * vb_dtype_row_bytes(type, row);
        const float *src = f + r * row;
        switch (type) {
        case VB_F32: memcpy(dst, src, (size_t)row * sizeof(float)); break;
        case VB_F16: vb_convert_row_f16(src, (uint16_t *)(void *)dst, row); break;
        case VB_Q8_0: vb_quantize_row_q8_0(src, dst, row); break;
        case VB_Q4_0: vb_quantize_row_q4_0(src, dst, row); break;
        }
    }
    free(f);
    return x;
}

static const vb_tensor *tg_vector(tgraph *t, int n, unsigned seed, float lo, float hi)
{
    int64_t ne[1] = {n};
    return tg_tensor(t, VB_F32, 1, ne, seed, lo, hi);
}

static int tg_conv(tgraph *t, int src, vb_dtype wt, int cout, int k, int stride, int same, int bias, unsigned seed)
{
    int cin = t->g.nodes[src].c;
    int64_t ne[4] = {cin, k, k, cout};
    const vb_tensor *w = tg_tensor(t, wt, 4, ne, seed, -0.3f, 0.3f);
    const vb_tensor *b = bias ? tg_vector(t, cout, seed + 1, -0.5f, 0.5f) : NULL;
    int id = vb_graph_conv(&t->g, src, "conv", w, b, stride, same, &err);
    CHECKF(id >= 0, "conv: %s", err.msg);
    return id;
}

static int tg_affine(tgraph *t, int src, unsigned seed)
{
    int c = t->g.nodes[src].c;
    const vb_tensor *s = tg_vector(t, c, seed, 0.5f, 1.5f), *sh = tg_vector(t, c, seed + 1, -0.5f, 0.5f);
    int id = vb_graph_affine(&t->g, src, "affine", s, sh, &err);
    CHECKF(id >= 0, "affine: %s", err.msg);
    return id;
}

static int tg_fc(tgraph *t, int src, vb_dtype wt, int out, int bias, unsigned seed)
{
    int64_t ne[2] = {(int64_t)vb_node_size(&t->g.nodes[src]), out};
    const vb_tensor *w = tg_tensor(t, wt, 2, ne, seed, -0.3f, 0.3f);
    const vb_tensor *b = bias ? tg_vector(t, out, seed + 1, -0.5f, 0.5f) : NULL;
    int id = vb_graph_fc(&t->g, src, "fc", w, b, &err);
    CHECKF(id >= 0, "fc: %s", err.msg);
    return id;
}

static void tg_finish(tgraph *t, int output)
{
    t->g.output = output;
    t->g.out_dim = (int)vb_node_size(&t->g.nodes[output]);
}

/* ---- running and comparing -------------------------------------------------------------- */

typedef struct capture {
    float **node;  /* per node, batch * size floats */
    float *out;
    int n;
} capture;

static void cap_alloc(capture *c, const vb_graph *g, int batch)
{
    c->n = g->n_nodes;
    c->node = calloc((size_t)g->n_nodes, sizeof *c->node);
    for (int i = 0; i < g->n_nodes; i++)
        c->node[i] = calloc((size_t)batch * vb_node_size(&g->nodes[i]), sizeof(float));
    c->out = calloc((size_t)batch * g->out_dim, sizeof(float));
}

static void cap_free(capture *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->node[i]);
    free(c->node);
    free(c->out);
}

static int run_on(vb_backend *b, const vb_graph *g, const float *x, int batch,
                  capture *c, vb_timings *t)
{
    vb_prepared *p = NULL;
    vb_err e = {0};
    int rc = vb_backend_load(b, g, &p, &e);
    CHECKF(rc == 0, "%s load: %s", vb_backend_name(b), e.msg);
    if (rc)
        return -1;
    rc = vb_backend_run(p, x, batch, c->out, c->node, t, &e);
    CHECKF(rc == 0, "%s run (batch %d): %s", vb_backend_name(b), batch, e.msg);
    vb_backend_unload(p);
    return rc;
}

typedef struct tol {
    double nmse, max_rel;
} tol;

static const tol TOL_F32 = {1e-10, 1e-4};
static const tol TOL_F16 = {1e-5, 1e-2};

static double max_abs_of(const float *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(x[i]));
    return m;
}

static void compare_node(const char *label, const vb_node *n, const float *got, const float *ref, size_t count,
                         tol t)
{
    double nmse = vb_nmse(got, ref, count), mabs = vb_max_abs(got, ref, count);
    double bound = t.max_rel * fmax(1.0, max_abs_of(ref, count));
    CHECKF(nmse <= t.nmse && mabs <= bound, "%s: node %s (%s %dx%dx%d): NMSE %.3g (max %.1g), max-abs %.3g (max %.3g)",
           label, n->name, vb_op_name(n->op), n->h, n->w, n->c, nmse, t.nmse, mabs, bound);
    if (getenv("VB_TEST_VERBOSE"))
        fprintf(stderr, "   %-28s %-12s %3dx%3dx%3d  NMSE %.3g  max-abs %.3g (bound %.3g)\n", label, n->name, n->h,
                n->w, n->c, nmse, mabs, bound);
}

/* Run graph on cpu:ref and on each Vulkan variant, compare every materialized node. */
static void check_graph(const char *label, tgraph *t, int batch, unsigned seed)
{
    const vb_graph *g = &t->g;
    size_t in_size = vb_node_size(&g->nodes[0]) * (size_t)batch;
    float *x = malloc(in_size * sizeof(float));
    vb_test_fill_random(x, in_size, seed, -1.0f, 1.0f);
    capture ref;
    cap_alloc(&ref, g, batch);
    if (run_on(cpu_ref, g, x, batch, &ref, NULL) == 0) {
        vb_backend *variants[2] = {vk32, vk16};
        for (int v = 0; v < 2; v++) {
            if (!variants[v])
                continue;
            char name[160];
            snprintf(name, sizeof name, "%s [%s, batch %d]", label, v ? "fp16" : "fp32", batch);
            capture got;
            cap_alloc(&got, g, batch);
            if (run_on(variants[v], g, x, batch, &got, NULL) == 0) {
                int materialized = 0;
                for (int i = 0; i < g->n_nodes; i++) {
                    size_t count = (size_t)batch * vb_node_size(&g->nodes[i]);
                    if (isnan(got.node[i][0])) {
                        CHECKF(i != g->output, "%s: the output node reads NAN", name);
                        continue;
                    }
                    materialized++;
                    compare_node(name, &g->nodes[i], got.node[i], ref.node[i], count, v ? TOL_F16 : TOL_F32);
                }
                CHECKF(materialized >= 2, "%s: only %d nodes materialized", name, materialized);
                compare_node(name, &g->nodes[g->output], got.out, ref.out, (size_t)batch * g->out_dim,
                             v ? TOL_F16 : TOL_F32);
            }
            cap_free(&got);
        }
    }
    cap_free(&ref);
    free(x);
}

/* ---- the tests ------------------------------------------------------------------------------ */

typedef struct conv_case {
    int h, w, cin, cout, k, stride, same, batch, bias, affine, relu;
    vb_dtype wt;
    int pad_top, pad_left; /* -1: as SAME/VALID computed them */
} conv_case;

static void test_conv(void)
{
    static const conv_case cases[] = {
        /* odd sizes, K = 27 (not a multiple of the 16-wide K tile) */
        {7, 5, 3, 5, 3, 1, 1, 1, 1, 0, 0, VB_F32, -1, -1},
        /* 1x1 spatial, channels not a multiple of 4, batch 2, full epilogue */
        {1, 1, 37, 19, 1, 1, 1, 2, 1, 1, 1, VB_F32, -1, -1},
        /* stride 2 VALID, cout 70 crosses a 64-channel tile, no bias */
        {9, 9, 6, 70, 3, 2, 0, 3, 0, 1, 0, VB_F32, -1, -1},
        /* the first layer's shape family: 7x7/2 on 3 channels, cout 32 (narrow tile) */
        {20, 17, 3, 32, 7, 2, 0, 2, 1, 1, 1, VB_F32, -1, -1},
        /* K = 117 with ReLU only */
        {12, 11, 13, 45, 3, 1, 1, 2, 1, 0, 1, VB_F32, -1, -1},
        /* many pixels and channels (64x64 tiles), several tiles in both directions */
        {16, 16, 8, 72, 3, 1, 1, 2, 1, 1, 1, VB_F32, -1, -1},
        /* few pixels per image (the 16x64 tile), batch 3 */
        {3, 3, 40, 100, 3, 1, 1, 3, 1, 1, 0, VB_F32, -1, -1},
        /* explicit asymmetric padding: two rows on top, none on the left */
        {6, 7, 4, 9, 3, 1, 1, 2, 1, 0, 0, VB_F32, 2, 0},
        /* 2x2 kernel, stride 3, ragged output */
        {10, 8, 5, 7, 2, 3, 0, 2, 1, 0, 0, VB_F32, -1, -1},
        /* stored weight types: fp16, and ggml Q8_0 / Q4_0 (rows of 64 / 32 / 96) */
        {5, 6, 64, 40, 3, 1, 1, 2, 1, 1, 1, VB_F16, -1, -1},
        {5, 6, 64, 40, 3, 1, 1, 2, 1, 1, 1, VB_Q8_0, -1, -1},
        {7, 7, 32, 33, 3, 2, 0, 3, 1, 1, 1, VB_Q4_0, -1, -1},
        {4, 5, 96, 17, 1, 1, 1, 1, 0, 0, 1, VB_Q8_0, -1, -1},
        {4, 5, 96, 17, 3, 1, 1, 2, 1, 0, 0, VB_Q4_0, -1, -1},
    };
    for (size_t i = 0; i < VB_ARRAY_LEN(cases); i++) {
        const conv_case *c = &cases[i];
        tgraph t;
        tg_init(&t, c->h, c->w, c->cin);
        int x = tg_conv(&t, 0, c->wt, c->cout, c->k, c->stride, c->same, c->bias, 100 + (unsigned)i);
        if (x < 0) {
            tg_free(&t);
            continue;
        }
        if (c->pad_top >= 0) {
            t.g.nodes[x].pad_top = c->pad_top;
            t.g.nodes[x].pad_left = c->pad_left;
        }
        if (c->affine)
            x = tg_affine(&t, x, 200 + (unsigned)i);
        if (c->relu)
            x = vb_graph_relu(&t.g, x, "relu", &err);
        tg_finish(&t, x);
        char label[96];
        snprintf(label, sizeof label, "conv case %zu (%s weights)", i, vb_dtype_name(c->wt));
        check_graph(label, &t, c->batch, 300 + (unsigned)i);
        tg_free(&t);
    }
}

static void test_fc(void)
{
    static const struct { int h, w, c, out, bias, batch; vb_dtype wt; } cases[] = {
        {1, 1, 70, 33, 1, 5, VB_F32},
        {3, 2, 5, 17, 0, 2, VB_F32},  /* flattens an NHWC input */
        {1, 1, 256, 128, 0, 1, VB_F32}, /* the face net's head */
        {1, 1, 64, 40, 1, 3, VB_F16},
        {1, 1, 64, 40, 1, 3, VB_Q8_0},
        {1, 1, 96, 20, 0, 2, VB_Q4_0},
    };
    for (size_t i = 0; i < VB_ARRAY_LEN(cases); i++) {
        tgraph t;
        tg_init(&t, cases[i].h, cases[i].w, cases[i].c);
        int x = tg_fc(&t, 0, cases[i].wt, cases[i].out, cases[i].bias, 400 + (unsigned)i);
        if (x >= 0) {
            tg_finish(&t, x);
            char label[96];
            snprintf(label, sizeof label, "fc case %zu (%s weights)", i, vb_dtype_name(cases[i].wt));
            check_graph(label, &t, cases[i].batch, 500 + (unsigned)i);
        }
        tg_free(&t);
    }
}

static void test_pool(void)
{
    static const struct { vb_op op; int h, w, c, k, stride, same, batch; } cases[] = {
        {VB_OP_MAXPOOL, 9, 7, 5, 3, 2, 0, 2},  /* the face net's 3x3/2 VALID, odd sizes */
        {VB_OP_MAXPOOL, 8, 8, 3, 3, 2, 1, 1},  /* SAME: padded taps never win */
        {VB_OP_AVGPOOL, 7, 7, 3, 2, 2, 0, 2},  /* the residual-down 2x2/2 VALID */
        {VB_OP_AVGPOOL, 6, 5, 4, 3, 2, 1, 3},  /* SAME: padded taps not counted */
        {VB_OP_AVGPOOL, 1, 1, 7, 1, 1, 0, 2},  /* 1x1 spatial */
    };
    for (size_t i = 0; i < VB_ARRAY_LEN(cases); i++) {
        tgraph t;
        tg_init(&t, cases[i].h, cases[i].w, cases[i].c);
        int x = vb_graph_pool(&t.g, cases[i].op, 0, "pool", cases[i].k, cases[i].stride, cases[i].same, &err);
        CHECKF(x >= 0, "pool: %s", err.msg);
        if (x >= 0) {
            tg_finish(&t, x);
            char label[96];
            snprintf(label, sizeof label, "pool case %zu (%s)", i, vb_op_name(cases[i].op));
            check_graph(label, &t, cases[i].batch, 600 + (unsigned)i);
        }
        tg_free(&t);
    }
}

/* add_zeropad with both inputs padded (h, w and c), ReLU fused; standalone affine and relu. */
static void test_eltwise(void)
{
    tgraph t;
    /* b = the 4x4x6 input; a = a 2x2 VALID conv of it: 3x3x4, padded to 4x4x6 */
    tg_init(&t, 4, 4, 6);
    int a = tg_conv(&t, 0, VB_F32, 4, 2, 1, 0, 1, 700);
    int sum = vb_graph_add_zeropad(&t.g, a, 0, "add", &err);
    int r = vb_graph_relu(&t.g, sum, "relu", &err);
    CHECK(a >= 0 && sum >= 0 && r >= 0);
    tg_finish(&t, r);
    check_graph("add_zeropad+relu", &t, 3, 701);
    tg_free(&t);

    /* channels only differ (a 1x1 conv widening 3 -> 8), and no ReLU after the add */
    tg_init(&t, 5, 3, 3);
    a = tg_conv(&t, 0, VB_F32, 8, 1, 1, 1, 0, 710);
    sum = vb_graph_add_zeropad(&t.g, 0, a, "add", &err);
    CHECK(a >= 0 && sum >= 0);
    tg_finish(&t, sum);
    check_graph("add_zeropad channels", &t, 2, 711);
    tg_free(&t);

    /* affine + relu on the input (fused into one element-wise step), then a lone relu of a
     * lone affine (the affine's value is needed twice, so nothing fuses) */
    tg_init(&t, 3, 5, 7);
    int af = tg_affine(&t, 0, 720);
    r = vb_graph_relu(&t.g, af, "relu", &err);
    int af2 = tg_affine(&t, r, 722);
    int r2 = vb_graph_relu(&t.g, af2, "relu2", &err);
    sum = vb_graph_add_zeropad(&t.g, r2, af2, "add", &err);
    CHECK(af >= 0 && r >= 0 && af2 >= 0 && r2 >= 0 && sum >= 0);
    tg_finish(&t, sum);
    check_graph("affine/relu", &t, 2, 723);
    tg_free(&t);
}

static void test_mean(void)
{
    static const struct { int h, w, c, batch; } cases[] = {{5, 3, 7, 3}, {2, 2, 256, 1}, {1, 1, 9, 2}, {17, 13, 3, 2}};
    for (size_t i = 0; i < VB_ARRAY_LEN(cases); i++) {
        tgraph t;
        tg_init(&t, cases[i].h, cases[i].w, cases[i].c);
        int x = vb_graph_mean_hw(&t.g, 0, "mean", &err);
        CHECK(x >= 0);
        tg_finish(&t, x);
        char label[64];
        snprintf(label, sizeof label, "mean case %zu", i);
        check_graph(label, &t, cases[i].batch, 800 + (unsigned)i);
        tg_free(&t);
    }
}

/* A miniature of the face net: two residual blocks (one down) and the head, so that
 * activation slots are reused and a skip connection lives across several steps. */
static int build_mini_net(tgraph *t)
{
    tg_init(t, 19, 17, 3);
    int x = tg_conv(t, 0, VB_F32, 8, 5, 2, 0, 1, 900);   /* 8x7x8 */
    x = tg_affine(t, x, 901);
    x = vb_graph_relu(&t->g, x, "relu", &err);
    x = vb_graph_pool(&t->g, VB_OP_MAXPOOL, x, "maxpool", 3, 1, 1, &err);
    int skip = x;
    int y = tg_conv(t, x, VB_F32, 8, 3, 1, 1, 1, 902);
    y = tg_affine(t, y, 903);
    y = vb_graph_relu(&t->g, y, "relu", &err);
    y = tg_conv(t, y, VB_F32, 8, 3, 1, 1, 1, 904);
    y = tg_affine(t, y, 905);
    y = vb_graph_add_zeropad(&t->g, y, skip, "add", &err);
    x = vb_graph_relu(&t->g, y, "relu", &err);
    skip = vb_graph_pool(&t->g, VB_OP_AVGPOOL, x, "avgpool", 2, 2, 0, &err);  /* 4x3x8 */
    y = tg_conv(t, x, VB_F32, 12, 3, 2, 0, 1, 906);                          /* 3x3x12 */
    y = tg_affine(t, y, 907);
    y = vb_graph_relu(&t->g, y, "relu", &err);
    y = tg_conv(t, y, VB_F32, 12, 3, 1, 1, 1, 908);
    y = tg_affine(t, y, 909);
    y = vb_graph_add_zeropad(&t->g, y, skip, "add", &err);                   /* 4x3x12 */
    x = vb_graph_relu(&t->g, y, "relu", &err);
    x = vb_graph_mean_hw(&t->g, x, "mean", &err);
    x = tg_fc(t, x, VB_F32, 10, 0, 910);
    CHECKF(x >= 0, "mini net: %s", err.msg);
    tg_finish(t, x);
    return x;
}

static void test_mini_net(void)
{
    tgraph t;
    if (build_mini_net(&t) >= 0) {
        check_graph("mini net", &t, 1, 911);
        check_graph("mini net", &t, 4, 912);
    }
    tg_free(&t);
}

/* Fused-away nodes read NAN and get 0 ms; materialized ones their values and a time. */
static void test_fusion_capture_and_timings(void)
{
    tgraph t;
    tg_init(&t, 6, 5, 4);
    int conv = tg_conv(&t, 0, VB_F32, 6, 3, 1, 1, 1, 1000);
    int af = tg_affine(&t, conv, 1001);
    int r = vb_graph_relu(&t.g, af, "relu", &err);
    tg_finish(&t, r);
    const vb_graph *g = &t.g;
    vb_prepared *p = NULL;
    vb_err e = {0};
    int rc = vb_backend_load(vk32, g, &p, &e);
    CHECKF(rc == 0, "load: %s", e.msg);
    if (rc) {
        tg_free(&t);
        return;
    }
    const int batch = 2;
    float x[2 * 6 * 5 * 4];
    vb_test_fill_random(x, VB_ARRAY_LEN(x), 1002, -1, 1);
    capture c, plain;
    cap_alloc(&c, g, batch);
    cap_alloc(&plain, g, batch);
    double ms[4] = {-1, -1, -1, -1};
    vb_timings tm = {.node_ms = ms};
    rc = vb_backend_run(p, x, batch, c.out, c.node, &tm, &e);
    CHECKF(rc == 0, "run: %s", e.msg);
    CHECK(isnan(c.node[conv][0]) && isnan(c.node[af][0]));
    CHECK(!isnan(c.node[0][0]) && !isnan(c.node[r][0]));
    CHECK(memcmp(c.node[0], x, sizeof x) == 0); /* the input node is the input */
    CHECK(memcmp(c.node[r], c.out, (size_t)batch * g->out_dim * sizeof(float)) == 0);
    CHECKF(ms[conv] == 0 && ms[af] == 0, "fused nodes report %g and %g ms", ms[conv], ms[af]);
    CHECKF(isfinite(ms[r]) && ms[r] > 0, "the fused step's time %g ms", ms[r]);
    CHECKF(isfinite(ms[0]) && ms[0] >= 0, "the input copy's time %g ms", ms[0]);
    CHECK(tm.total_ms > 0);
    /* No capture: the same output, bit for bit. */
    rc = vb_backend_run(p, x, batch, plain.out, NULL, NULL, &e);
    CHECKF(rc == 0, "run without capture: %s", e.msg);
    CHECK(memcmp(plain.out, c.out, (size_t)batch * g->out_dim * sizeof(float)) == 0);
    vb_backend_unload(p);
    cap_free(&c);
    cap_free(&plain);
    tg_free(&t);
}

/* One prepared graph, batch sizes growing and shrinking (buffers and bindings rebuilt):
 * each image's output must not depend on the batch it ran in. */
static void test_batch_changes(void)
{
    tgraph t;
    if (build_mini_net(&t) < 0) {
        tg_free(&t);
        return;
    }
    const vb_graph *g = &t.g;
    vb_prepared *p = NULL;
    vb_err e = {0};
    int rc = vb_backend_load(vk32, g, &p, &e);
    CHECKF(rc == 0, "load: %s", e.msg);
    if (!rc) {
        const size_t in = vb_node_size(&g->nodes[0]);
        const int max_batch = 5;
        float *x = malloc(in * max_batch * sizeof(float));
        float *all = malloc((size_t)g->out_dim * max_batch * sizeof(float));
        float *y = malloc((size_t)g->out_dim * max_batch * sizeof(float));
        vb_test_fill_random(x, in * max_batch, 1100, -1, 1);
        rc = vb_backend_run(p, x, max_batch, all, NULL, NULL, &e);
        CHECKF(rc == 0, "batch %d: %s", max_batch, e.msg);
        const int order[] = {1, 3, 2, 5, 1};
        for (size_t k = 0; k < VB_ARRAY_LEN(order); k++) {
            int b = order[k];
            int first = max_batch - b; /* the last b images */
            rc = vb_backend_run(p, x + in * first, b, y, NULL, NULL, &e);
            CHECKF(rc == 0, "batch %d: %s", b, e.msg);
            /* same kernels, same per-output arithmetic: identical bits */
            CHECKF(!rc && memcmp(y, all + (size_t)g->out_dim * first, (size_t)g->out_dim * b * sizeof(float)) == 0,
                   "batch %d differs from the same images in batch %d", b, max_batch);
        }
        free(x);
        free(all);
        free(y);
        vb_backend_unload(p);
    }
    tg_free(&t);
}

static void test_errors(void)
{
    tgraph t;
    tg_init(&t, 3, 3, 2);
    int r = vb_graph_relu(&t.g, 0, "relu", &err);
    tg_finish(&t, r);
    vb_prepared *p = NULL;
    vb_err e = {0};
    float x[3 * 3 * 2] = {0}, y[3 * 3 * 2];

    /* no such device */
    vb_backend_opts o = {.device_index = 99};
    vb_backend *b = NULL;
    CHECK(vb_backend_init_named("vulkan", &o, &b, &e) == -1 && e.code == VB_EXIT_DEVICE && strstr(e.msg, "99"));

    /* batch 0 */
    CHECK(vb_backend_load(vk32, &t.g, &p, &e) == 0);
    if (p) {
        CHECK(vb_backend_run(p, x, 0, y, NULL, NULL, &e) == -1 && e.code == VB_EXIT_USAGE);
        vb_backend_unload(p);
        p = NULL;
    }

    /* out of device memory while loading: a clean error, exit code 4 */
    setenv("VERIBENCH_VULKAN_FAULT", "oom", 1);
    int rc = vb_backend_load(vk32, &t.g, &p, &e);
    CHECKF(rc == -1 && e.code == VB_EXIT_DEVICE && strstr(e.msg, "OUT_OF_DEVICE_MEMORY"), "oom: rc %d: %s", rc, e.msg);
    if (!rc)
        vb_backend_unload(p);
    p = NULL;
    unsetenv("VERIBENCH_VULKAN_FAULT");

    /* device lost during a run: that run and every later one fail with exit code 4;
     * unload and shutdown still work (a separate backend, this one is spent) */
    vb_backend *lost = vk_test_open(1);
    if (lost && vb_backend_load(lost, &t.g, &p, &e) == 0) {
        setenv("VERIBENCH_VULKAN_FAULT", "lost", 1);
        rc = vb_backend_run(p, x, 1, y, NULL, NULL, &e);
        CHECKF(rc == -1 && e.code == VB_EXIT_DEVICE && strstr(e.msg, "DEVICE_LOST"), "lost: %s", e.msg);
        unsetenv("VERIBENCH_VULKAN_FAULT");
        rc = vb_backend_run(p, x, 1, y, NULL, NULL, &e);
        CHECKF(rc == -1 && e.code == VB_EXIT_DEVICE && strstr(e.msg, "unusable"), "after loss: %s", e.msg);
        vb_backend_unload(p);
    }
    vb_backend_free(lost);
    tg_free(&t);

    /* a submission that outlives its time limit (1 us, far below any device's time for the
     * mini net): a clean error, the backend refuses further work, and unload/shutdown wait
     * for the late work before freeing what it uses (ASan would see a use after free) */
    tgraph net;
    build_mini_net(&net);
    setenv("VERIBENCH_VULKAN_TIMEOUT", "0.000001", 1);
    vb_backend *slow = vk_test_open(1);
    unsetenv("VERIBENCH_VULKAN_TIMEOUT");
    if (slow) {
        float in[4 * 19 * 17 * 3], out[4 * 10];
        vb_test_fill_random(in, VB_ARRAY_LEN(in), 1200, -1, 1);
        p = NULL;
        rc = vb_backend_load(slow, &net.g, &p, &e);
        if (rc == 0) /* the weight upload may have made it in time; the run cannot */
            rc = vb_backend_run(p, in, 4, out, NULL, NULL, &e);
        CHECKF(rc == -1 && e.code == VB_EXIT_DEVICE && strstr(e.msg, "did not finish"), "timeout: rc %d: %s", rc,
               e.msg);
        if (p) {
            rc = vb_backend_run(p, in, 1, out, NULL, NULL, &e);
            CHECKF(rc == -1 && strstr(e.msg, "unusable"), "after a timeout: rc %d: %s", rc, e.msg);
            vb_backend_unload(p);
        }
        vb_backend_free(slow);
    }
    tg_free(&net);
}

int main(void)
{
    int skip;
    vk32 = vk_test_open_first(1, &skip);
    if (skip)
        return vb_test_finish();
    vb_backend_opts ro = {.device_index = -1, .reference = 1};
    CHECKF(vb_backend_init_named("cpu", &ro, &cpu_ref, &err) == 0, "cpu:ref: %s", err.msg);
    vb_backend *fp16 = vk_test_open(0);
    if (fp16 && vk_test_uses_fp16(fp16))
        vk16 = fp16;
    else if (fp16) {
        printf("note: the device has no fp16 storage/arithmetic; fp16 variants not tested\n");
        vb_backend_free(fp16);
    }
    if (vk32 && cpu_ref) {
        RUN(test_conv);
        RUN(test_fc);
        RUN(test_pool);
        RUN(test_eltwise);
        RUN(test_mean);
        RUN(test_mini_net);
        RUN(test_fusion_capture_and_timings);
        RUN(test_batch_changes);
        RUN(test_errors);
    }
    vb_backend_free(vk32);
    vb_backend_free(vk16);
    vb_backend_free(cpu_ref);
    CHECKF(vb_vk_validation_total() == 0, "%d validation messages (see stderr)", vb_vk_validation_total());
    return vb_test_finish();
}
