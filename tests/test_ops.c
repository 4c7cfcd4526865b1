/* CPU ops: the reference ops on small hand-computed cases, then the fast path against the
 * reference on random inputs of awkward shapes, then the face_recognition graph's shapes. */
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/cpu/fast_ops.h"
#include "backends/cpu/ref_ops.h"
#include "cli/engine.h"
#include "models/arch.h"
#include "tests/testlib.h"

#define CHECK_ARRAY(got, want, n, tol)                                                         \
    for (size_t i_ = 0; i_ < (size_t)(n); i_++)                                                \
        CHECKF(fabs((double)(got)[i_] - (double)(want)[i_]) <= (tol), "%s[%zu] = %g, want %g", #got, i_, \
               (double)(got)[i_], (double)(want)[i_])

/* 3x3 input, one channel, 2x2 kernel [[1,2],[3,4]], VALID stride 1:
 * out[0][0] = 1*1+2*2+4*3+5*4 = 37, out[0][1] = 2+6+15+24 = 47,
 * out[1][0] = 4+10+21+32 = 67, out[1][1] = 5+12+24+36 = 77; bias 0.5 added. */
static void test_conv_valid_hand(void)
{
    const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 2, 3, 4}, b[1] = {0.5f};
    float y[4];
    vb_ref_conv2d(x, 1, 3, 3, 1, w, b, 1, 2, 2, 1, 0, 0, 2, 2, y);
    const float want[4] = {37.5f, 47.5f, 67.5f, 77.5f};
    CHECK_ARRAY(y, want, 4, 0);
}

/* SAME 3x3 on a 2x2 input with an all-ones kernel: each output sums its in-range
 * neighbours = the whole input (1+2+3+4 = 10) since every 3x3 window covers it. Two output
 * channels, the second kernel all twos (-> 20). Two input channels of which the second is 0. */
static void test_conv_same_hand(void)
{
    float x[8] = {1, 0, 2, 0, 3, 0, 4, 0}, w[2 * 9 * 2], y[8];
    for (int i = 0; i < 18; i++)
        w[i] = 1, w[18 + i] = 2;
    vb_ref_conv2d(x, 1, 2, 2, 2, w, NULL, 2, 3, 3, 1, 1, 1, 2, 2, y);
    const float want[8] = {10, 20, 10, 20, 10, 20, 10, 20};
    CHECK_ARRAY(y, want, 8, 0);
}

/* Stride 2, VALID, 5x5 input 0..24, 3x3 ones kernel: windows at (0,0),(0,2),(2,0),(2,2).
 * Window sum at top-left (r,c) = 9*(5r+c) + 9*6 (centre offset 6): 54, 72, 144, 162. */
static void test_conv_stride2_hand(void)
{
    float x[25], w[9], y[4];
    for (int i = 0; i < 25; i++)
        x[i] = (float)i;
    for (int i = 0; i < 9; i++)
        w[i] = 1;
    vb_ref_conv2d(x, 1, 5, 5, 1, w, NULL, 1, 3, 3, 2, 0, 0, 2, 2, y);
    const float want[4] = {54, 72, 144, 162};
    CHECK_ARRAY(y, want, 4, 0);
}

static void test_affine_relu_hand(void)
{
    const float x[4] = {1, -2, 3, -4}, scale[2] = {2, -1}, shift[2] = {0.5f, 1};
    float y[4], r[4];
    vb_ref_affine(x, 2, 2, scale, shift, y);
    const float want[4] = {2.5f, 3, 6.5f, 5};
    CHECK_ARRAY(y, want, 4, 0);
    const float z[4] = {-1, 0, 2.5f, -0.0f};
    vb_ref_relu(z, 4, r);
    const float want_r[4] = {0, 0, 2.5f, 0};
    CHECK_ARRAY(r, want_r, 4, 0);
}

/* 4x4 input 0..15: maxpool 3/2 VALID -> 1x1 = max of rows 0-2, cols 0-2 = 10;
 * avgpool 2/2 -> (0+1+4+5)/4 = 2.5, (2+3+6+7)/4 = 4.5, 10.5, 12.5. */
static void test_pools_hand(void)
{
    float x[16], m[1], a[4];
    for (int i = 0; i < 16; i++)
        x[i] = (float)i;
    vb_ref_maxpool(x, 1, 4, 4, 1, 3, 2, 0, 0, 1, 1, m);
    CHECK(m[0] == 10);
    vb_ref_avgpool(x, 1, 4, 4, 1, 2, 2, 0, 0, 2, 2, a);
    const float want[4] = {2.5f, 4.5f, 10.5f, 12.5f};
    CHECK_ARRAY(a, want, 4, 0);
    const float neg[4] = {-5, -3, -4, -6};
    vb_ref_maxpool(neg, 1, 2, 2, 1, 2, 2, 0, 0, 1, 1, m);
    CHECK(m[0] == -3); /* all-negative window: the largest negative, not 0 */
}

/* The residual-down rule: a 1x1x1 conv branch padded to 2x2 with a zero row at the
 * bottom and a zero column at the right; a 2x2x1 skip padded with a zero channel to 2. */
static void test_add_zeropad_hand(void)
{
    const float a[2] = {10, 20}; /* 1x1x2 */
    const float b[4] = {1, 2, 3, 4}; /* 2x2x1 */
    float y[8];
    vb_ref_add_zeropad(a, 1, 1, 2, b, 2, 2, 1, 1, y, 2, 2, 2);
    const float want[8] = {11, 20, 2, 0, 3, 0, 4, 0};
    CHECK_ARRAY(y, want, 8, 0);
}

static void test_mean_fc_hand(void)
{
    const float x[8] = {1, 10, 2, 20, 3, 30, 6, 40}; /* 2x2x2 */
    float m[2], y[3];
    vb_ref_mean_hw(x, 1, 2, 2, 2, m);
    CHECK(m[0] == 3 && m[1] == 25);
    const float w[6] = {1, 0, 0, 1, 2, -1}, bias[3] = {0, 0, 0.5f}; /* [out=3][in=2] */
    vb_ref_fc(m, 1, 2, w, bias, 3, y);
    const float want[3] = {3, 25, -18.5f};
    CHECK_ARRAY(y, want, 3, 0);
}

/* Fast conv against the reference on awkward shapes. */
static void fast_conv_case(int n, int h, int w, int cin, int cout, int k, int stride, int same)
{
    int oh, ow, pt = 0, pl = 0;
    if (same) {
        oh = (h + stride - 1) / stride, ow = (w + stride - 1) / stride;
        int th = (oh - 1) * stride + k - h, tw = (ow - 1) * stride + k - w;
        pt = th > 0 ? th / 2 : 0, pl = tw > 0 ? tw / 2 : 0;
    } else {
        oh = (h - k) / stride + 1, ow = (w - k) / stride + 1;
    }
    size_t xs = (size_t)n * h * w * cin, ws = (size_t)cout * k * k * cin, ys = (size_t)n * oh * ow * cout;
    float *x = malloc(xs * 4), *wt = malloc(ws * 4), *b = malloc((size_t)cout * 4), *ref = malloc(ys * 4),
          *fast = malloc(ys * 4), *scratch = malloc(3 * vb_fast_scratch_floats(k * k * cin, cout) * 4);
    vb_test_fill_random(x, xs, 1u + (unsigned)h, -1, 1);
    vb_test_fill_random(wt, ws, 2u + (unsigned)cout, -0.5f, 0.5f);
    vb_test_fill_random(b, (size_t)cout, 3, -0.1f, 0.1f);
    vb_ref_conv2d(x, n, h, w, cin, wt, b, cout, k, k, stride, pt, pl, oh, ow, ref);
    vb_packed_weights pw;
    CHECK(vb_fast_pack(wt, cout, k * k * cin, &pw) == 0);
    const vb_fast_epilogue ep = {.bias = b};
    size_t pad_floats = vb_fast_conv_pad_floats(h, w, cin, k, k, stride, pt, pl, oh, ow);
    float *padded = malloc(((size_t)n * pad_floats + 1) * 4);
    /* threads 1 and 3; with no padded buffer (im2col) and with one (implicit GEMM where the
     * shape allows it) */
    for (int run = 0; run < 4; run++) {
        const int threads = run % 2 ? 3 : 1, implicit = run / 2;
        vb_tpool *pool = vb_tpool_create(threads);
        vb_fast_conv2d(x, n, h, w, cin, &pw, &ep, k, k, stride, pt, pl, oh, ow, fast, scratch,
                       implicit ? padded : NULL, pool);
        vb_tpool_free(pool);
        double nmse = vb_nmse(fast, ref, ys), mx = vb_max_abs(fast, ref, ys);
        /* fp32 accumulation of up to k*k*cin ~ 300 terms of magnitude <= 0.5 vs double */
        CHECKF(nmse < 1e-12 && mx < 1e-4, "conv n%d %dx%dx%d->%d k%d s%d %s t%d%s: nmse %.3g max %.3g", n, h, w,
               cin, cout, k, stride, same ? "same" : "valid", threads, implicit ? " implicit" : "", nmse, mx);
    }
    free(padded);
    vb_fast_pack_free(&pw);
    free(x), free(wt), free(b), free(ref), free(fast), free(scratch);
}

static void test_fast_conv_awkward_shapes(void)
{
    fast_conv_case(1, 1, 1, 3, 5, 1, 1, 1);
    fast_conv_case(2, 7, 5, 3, 17, 3, 1, 1);
    fast_conv_case(3, 9, 9, 5, 16, 3, 2, 0);
    fast_conv_case(1, 11, 13, 7, 33, 7, 2, 0);
    fast_conv_case(2, 4, 4, 32, 31, 3, 1, 1);
    fast_conv_case(1, 17, 17, 16, 64, 3, 2, 0);
}

static void test_fast_fc(void)
{
    const int n = 5, in = 37, out = 19;
    float x[5 * 37], w[19 * 37], b[19], ref[5 * 19], fast[5 * 19];
    vb_test_fill_random(x, sizeof x / 4, 7, -1, 1);
    vb_test_fill_random(w, sizeof w / 4, 8, -1, 1);
    vb_test_fill_random(b, 19, 9, -1, 1);
    vb_ref_fc(x, n, in, w, b, out, ref);
    vb_packed_weights pw;
    CHECK(vb_fast_pack(w, out, in, &pw) == 0);
    vb_tpool *pool = vb_tpool_create(2);
    float *scratch = malloc(2 * vb_fast_scratch_floats(in, out) * 4);
    const vb_fast_epilogue ep = {.bias = b};
    vb_fast_gemm(x, n, &pw, &ep, fast, scratch, pool);
    vb_tpool_free(pool);
    free(scratch);
    CHECKF(vb_max_abs(fast, ref, sizeof ref / 4) < 1e-5, "fc max abs %g", vb_max_abs(fast, ref, sizeof ref / 4));
    vb_fast_pack_free(&pw);
}

/* The graph of the real model: shapes as model.md lists them, 5,614,592 parameters. */
static void test_face_graph_shapes(void)
{
    vb_model m;
    vb_graph g;
    vb_err e = {0};
    int rc = vb_model_load(vb_default_model_path(), &m, &e);
    CHECKF(rc == 0, "%s", e.msg);
    if (rc)
        return;
    CHECK(vb_graph_build(&m, &g, &e) == 0);
    struct { const char *name; int h, w, c; } want[] = {
        {"conv32_down/relu", 72, 72, 32}, {"maxpool", 35, 35, 32}, {"conv32_3/relu", 35, 35, 32},
        {"conv64_down/relu", 17, 17, 64}, {"conv128_down/relu", 8, 8, 128}, {"conv256_down/relu", 4, 4, 256},
        {"conv256_down_out/relu", 2, 2, 256}, {"mean", 1, 1, 256}, {"fc", 1, 1, 128},
    };
    for (size_t k = 0; k < VB_ARRAY_LEN(want); k++) {
        int found = 0;
        for (int i = 0; i < g.n_nodes; i++)
            if (!strcmp(g.nodes[i].name, want[k].name)) {
                found = 1;
                CHECKF(g.nodes[i].h == want[k].h && g.nodes[i].w == want[k].w && g.nodes[i].c == want[k].c,
                       "%s is %dx%dx%d", want[k].name, g.nodes[i].h, g.nodes[i].w, g.nodes[i].c);
            }
        CHECKF(found, "node %s missing", want[k].name);
    }
    int64_t params = 0;
    for (size_t i = 0; i < m.n_tensors; i++)
        params += vb_tensor_nelements(&m.tensors[i]);
    CHECKF(params == 5614592, "parameters: %lld", (long long)params);
    CHECK(g.in_h == 150 && g.in_w == 150 && g.in_c == 3 && g.out_dim == 128 && g.threshold == 0.6f);
    CHECK(g.in_scale == 1.0f / 256 && g.in_mean[0] == 122.782f);
    vb_model_free(&m);
}

/* Whole graph: fast path vs reference on random inputs, batch 1 and 3, every node. */
static void test_fast_vs_reference_graph(void)
{
    vb_model m;
    vb_graph g;
    vb_err e = {0};
    if (vb_model_load(vb_default_model_path(), &m, &e) || vb_graph_build(&m, &g, &e)) {
        CHECKF(0, "%s", e.msg);
        return;
    }
    const int batch = 3;
    vb_backend_opts ro = {.device_index = -1, .reference = 1}, fo = {.device_index = -1, .threads = 2};
    vb_backend *rb, *fb;
    vb_prepared *rp, *fp;
    CHECK(vb_backend_init_named("cpu", &ro, &rb, &e) == 0 && vb_backend_load(rb, &g, &rp, &e) == 0);
    CHECK(vb_backend_init_named("cpu", &fo, &fb, &e) == 0 && vb_backend_load(fb, &g, &fp, &e) == 0);
    size_t in = (size_t)batch * 150 * 150 * 3;
    float *x = malloc(in * 4), ro_out[3 * 128], fo_out[3 * 128];
    vb_test_fill_random(x, in, 42, -0.5f, 0.5f);
    float **rn = calloc((size_t)g.n_nodes, sizeof(float *)), **fn = calloc((size_t)g.n_nodes, sizeof(float *));
    for (int i = 0; i < g.n_nodes; i++) {
        rn[i] = malloc(batch * vb_node_size(&g.nodes[i]) * 4);
        fn[i] = malloc(batch * vb_node_size(&g.nodes[i]) * 4);
    }
    double ms[VB_GRAPH_MAX_NODES];
    vb_timings t = {0, ms};
    CHECK(vb_backend_run(rp, x, batch, ro_out, rn, NULL, &e) == 0);
    CHECK(vb_backend_run(fp, x, batch, fo_out, fn, &t, &e) == 0);
    int fused = 0;
    for (int i = 0; i < g.n_nodes; i++) {
        size_t cnt = batch * vb_node_size(&g.nodes[i]);
        if (isnan(fn[i][0]) && i != g.output) { /* fused into a conv's epilogue */
            fused++;
            continue;
        }
        double nmse = vb_nmse(fn[i], rn[i], cnt);
        CHECKF(nmse < 1e-10, "node %s nmse %.3g", g.nodes[i].name, nmse);
    }
    /* Every conv's affine is fused, and the ReLU or residual add (+ ReLU) after it:
     * 29 convs, 29 affines, 15 first-conv ReLUs, 14 adds: at least 58 nodes fused. */
    CHECKF(fused >= 58, "only %d nodes fused", fused);
    CHECK(vb_nmse(fo_out, ro_out, 3 * 128) < 1e-10);
    CHECK(t.total_ms > 0);
    /* The batch must not mix images: image 1 alone gives the same descriptor. */
    float single[128];
    CHECK(vb_backend_run(fp, x + in / 3, 1, single, NULL, NULL, &e) == 0);
    CHECK(vb_max_abs(single, fo_out + 128, 128) < 1e-6);
    for (int i = 0; i < g.n_nodes; i++)
        free(rn[i]), free(fn[i]);
    free(rn), free(fn), free(x);
    vb_backend_unload(rp), vb_backend_unload(fp);
    vb_backend_free(rb), vb_backend_free(fb);
    vb_model_free(&m);
}

int main(void)
{
    RUN(test_conv_valid_hand);
    RUN(test_conv_same_hand);
    RUN(test_conv_stride2_hand);
    RUN(test_affine_relu_hand);
    RUN(test_pools_hand);
    RUN(test_add_zeropad_hand);
    RUN(test_mean_fc_hand);
    RUN(test_fast_conv_awkward_shapes);
    RUN(test_fast_fc);
    RUN(test_face_graph_shapes);
    RUN(test_fast_vs_reference_graph);
    return vb_test_finish();
}
