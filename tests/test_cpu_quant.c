/* The CPU fast path on every weight type (F32, F16, Q8_0, Q4_0): it decodes them at load
 * into fp32 panels. Each is checked against the reference ops run on the same weights
 * decoded by vb_tensor_to_f32 (what the reference path does at load), on awkward shapes,
 * in every kernel family the CPU has (AVX-512, AVX2, portable C) and on 1 and 3 threads;
 * then the whole face net at each quantization level, fast path against reference path.
 *
 * Why the tolerances are fp32-tight although the weights are quantized: both sides use the
 * very same dequantized weight values (the quantization error is in both), so the only
 * difference left is the fast path's fp32 accumulation against the reference's double. */
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/fast_ops.h"
#include "backends/cpu/ref_ops.h"
#include "backends/cpu/winograd.h"
#include "cli/engine.h"
#include "models/quantize.h"
#include "models/tensor.h"
#include "tests/testlib.h"

static const vb_dtype all_types[] = {VB_F32, VB_F16, VB_Q8_0, VB_Q4_0};
static const vb_fast_kernels families[] = {VB_KERNELS_PORTABLE, VB_KERNELS_AVX2, VB_KERNELS_AVX512};
static const char *const family_names[] = {"portable", "avx2", "avx512"};

/* A weight tensor of shape ne (ne[0] = row length) holding w encoded as type t with the
 * models/type_traits.c row functions. The caller frees t->data. */
static void make_tensor(vb_tensor *t, vb_dtype type, const int64_t ne[4], const float *w)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "test/%s", vb_dtype_name(type));
    t->type = type;
    t->n_dims = 4;
    memcpy(t->ne, ne, sizeof t->ne);
    int64_t row = ne[0], rows = vb_tensor_nrows(t);
    size_t row_bytes = vb_dtype_row_bytes(type, row);
    t->nbytes = row_bytes * (size_t)rows;
    t->data = malloc(t->nbytes);
    vb_dtype_from_f32_rows(type, w, row, rows, t->data);
}

/* Compare a fast result with the reference. Tolerances: random inputs in [-1, 1), weights
 * in [-0.5, 0.5), K <= 576 terms per output. The reference sums in double; the fast path in
 * fp32, whose rounding error grows like sqrt(K) * 2^-24 relative to the typical partial
 * sum: NMSE ~ K * 2^-48 / 3 ~ 1e-12 at worst here, outputs of magnitude <= ~10 give
 * max-abs ~ 1e-5. Anything wrong with a weight (a swapped nibble, a wrong scale, a channel
 * off by one) gives NMSE >= ~1e-4. */
static void check_close(const float *fast, const float *ref, size_t n, const char *what)
{
    double nmse = vb_nmse(fast, ref, n), mx = vb_max_abs(fast, ref, n);
    CHECKF(nmse < 1e-12 && mx < 1e-4, "%s: nmse %.3g max-abs %.3g", what, nmse, mx);
}

typedef struct conv_case {
    int n, h, w, cin, cout, k, stride, same;
} conv_case;

static void conv_geometry(const conv_case *c, int *oh, int *ow, int *pt, int *pl)
{
    *pt = *pl = 0;
    if (c->same) {
        *oh = (c->h + c->stride - 1) / c->stride, *ow = (c->w + c->stride - 1) / c->stride;
        int th = (*oh - 1) * c->stride + c->k - c->h, tw = (*ow - 1) * c->stride + c->k - c->w;
        *pt = th > 0 ? th / 2 : 0, *pl = tw > 0 ? tw / 2 : 0;
    } else {
        *oh = (c->h - c->k) / c->stride + 1, *ow = (c->w - c->k) / c->stride + 1;
    }
}

/* One conv shape with weight type `type`: the fast conv (packed from the stored type) against
 * the reference conv on the decoded weights, and, bit for bit, against the fast conv on
 * F32 panels of the decoded weights (see fast_ops.h). */
static void conv_case_run(const conv_case *c, vb_dtype type, unsigned seed)
{
    int oh, ow, pt, pl;
    conv_geometry(c, &oh, &ow, &pt, &pl);
    const int kdim = c->k * c->k * c->cin;
    size_t xs = (size_t)c->n * c->h * c->w * c->cin, ws = (size_t)c->cout * kdim,
           ys = (size_t)c->n * oh * ow * c->cout, rows = (size_t)c->n * oh * ow;
    float *x = malloc(xs * 4), *w = malloc(ws * 4), *wdec = malloc(ws * 4), *b = malloc((size_t)c->cout * 4),
          *ref = malloc(ys * 4), *fast = malloc(ys * 4), *fast32 = malloc(ys * 4),
          *scratch = malloc(3 * vb_fast_scratch_floats(kdim, c->cout) * 4),
          *padded = malloc(((size_t)c->n * vb_fast_conv_pad_floats(c->h, c->w, c->cin, c->k, c->k, c->stride, pt, pl,
                                                                   oh, ow) + 1) * 4);
    (void)rows;
    vb_test_fill_random(x, xs, seed, -1, 1);
    vb_test_fill_random(w, ws, seed + 1, -0.5f, 0.5f);
    vb_test_fill_random(b, (size_t)c->cout, seed + 2, -0.1f, 0.1f);
    const int64_t ne[4] = {c->cin, c->k, c->k, c->cout};
    vb_tensor t;
    vb_err e = {0};
    make_tensor(&t, type, ne, w);
    CHECK(vb_tensor_to_f32(&t, wdec, &e) == 0);
    vb_ref_conv2d(x, c->n, c->h, c->w, c->cin, wdec, b, c->cout, c->k, c->k, c->stride, pt, pl, oh, ow, ref);
    vb_packed_weights pw, p32;
    int rc = vb_fast_pack_tensor(&t, c->cout, &pw, &e);
    CHECKF(rc == 0, "pack %s: %s", vb_dtype_name(type), e.msg);
    CHECK(vb_fast_pack(wdec, c->cout, kdim, &p32) == 0);
    if (!rc) {
        CHECK(pw.k == kdim && pw.cout == c->cout);
        const vb_fast_epilogue ep = {.bias = b};
        for (size_t f = 0; f < VB_ARRAY_LEN(families); f++) {
            if (!vb_fast_has_kernels(families[f]))
                continue;
            vb_fast_set_kernels(families[f]);
            for (int threads = 1; threads <= 3; threads += 2) {
                vb_tpool *pool = vb_tpool_create(threads);
                char what[160];
                snprintf(what, sizeof what, "%s conv n%d %dx%dx%d->%d k%d s%d %s K=%d %s t%d", vb_dtype_name(type),
                         c->n, c->h, c->w, c->cin, c->cout, c->k, c->stride, c->same ? "same" : "valid", kdim,
                         family_names[f], threads);
                vb_fast_conv2d(x, c->n, c->h, c->w, c->cin, &pw, &ep, c->k, c->k, c->stride, pt, pl, oh, ow, fast,
                               scratch, padded, pool);
                check_close(fast, ref, ys, what);
                vb_fast_conv2d(x, c->n, c->h, c->w, c->cin, &p32, &ep, c->k, c->k, c->stride, pt, pl, oh, ow, fast32,
                               scratch, padded, pool);
                CHECKF(!memcmp(fast, fast32, ys * 4), "%s: differs from F32 panels of the decoded weights", what);
                vb_tpool_free(pool);
            }
        }
        vb_fast_set_kernels(VB_KERNELS_BEST);
        vb_fast_pack_free(&pw);
    }
    vb_fast_pack_free(&p32);
    free(t.data);
    free(x), free(w), free(wdec), free(b), free(ref), free(fast), free(fast32), free(scratch), free(padded);
}

static void test_conv_all_types(void)
{
    /* Shapes every type allows (K a multiple of 32). */
    const conv_case blocked[] = {
        {2, 5, 5, 32, 17, 1, 1, 1},  /* K = 32 (one block), 1x1 conv, cout 17, batch 2 */
        {3, 7, 7, 32, 33, 3, 2, 0},  /* K = 288, stride 2, cout 33 (a 1-channel last panel) */
        {1, 1, 1, 32, 5, 3, 1, 1},   /* 1x1 spatial, K = 288, cout 5 (< one panel) */
        {2, 6, 5, 64, 40, 3, 2, 1},  /* K = 576, stride 2 SAME, cout 40 */
        {1, 4, 4, 96, 16, 1, 1, 0},  /* K = 96, exactly one panel */
    };
    /* Shapes only the float types allow (K not a multiple of 32): the first conv, F16 at
     * int8/int4. */
    const conv_case unblocked[] = {
        {2, 15, 15, 3, 32, 7, 2, 0}, /* K = 147 like conv32_down */
        {1, 6, 7, 5, 19, 3, 1, 1},   /* K = 45, cout 19 */
        {3, 1, 1, 1, 3, 1, 1, 1},    /* K = 1 */
    };
    unsigned seed = 100;
    for (size_t t = 0; t < VB_ARRAY_LEN(all_types); t++) {
        for (size_t i = 0; i < VB_ARRAY_LEN(blocked); i++)
            conv_case_run(&blocked[i], all_types[t], seed += 10);
        if (vb_dtype_block_len(all_types[t]) == 1)
            for (size_t i = 0; i < VB_ARRAY_LEN(unblocked); i++)
                conv_case_run(&unblocked[i], all_types[t], seed += 10);
    }
}

/* fc: batch 1 and 5, in = 256 like the net's fc (and 37 for the float types), out = 19. */
static void test_fc_all_types(void)
{
    const int out = 19, ins[2] = {256, 37};
    for (size_t ti = 0; ti < VB_ARRAY_LEN(all_types); ti++) {
        vb_dtype type = all_types[ti];
        for (int ii = 0; ii < 2; ii++) {
            const int in = ins[ii];
            if (in % VB_QBLOCK && vb_dtype_block_len(type) > 1)
                continue;
            for (int n = 1; n <= 5; n += 4) {
                float *x = malloc((size_t)n * in * 4), *w = malloc((size_t)out * in * 4),
                      *wdec = malloc((size_t)out * in * 4), b[19], *ref = malloc((size_t)n * out * 4),
                      *fast = malloc((size_t)n * out * 4);
                vb_test_fill_random(x, (size_t)n * in, 7u + (unsigned)n, -1, 1);
                vb_test_fill_random(w, (size_t)out * in, 8, -0.5f, 0.5f);
                vb_test_fill_random(b, 19, 9, -0.5f, 0.5f);
                const int64_t ne[4] = {in, out, 1, 1};
                vb_tensor t;
                vb_err e = {0};
                make_tensor(&t, type, ne, w);
                CHECK(vb_tensor_to_f32(&t, wdec, &e) == 0);
                vb_ref_fc(x, n, in, wdec, b, out, ref);
                vb_packed_weights pw;
                CHECK(vb_fast_pack_tensor(&t, out, &pw, &e) == 0);
                vb_tpool *pool = vb_tpool_create(2);
                float *scratch = malloc(2 * vb_fast_scratch_floats(in, out) * 4);
                const vb_fast_epilogue ep = {.bias = b};
                for (size_t f = 0; f < VB_ARRAY_LEN(families); f++) {
                    if (!vb_fast_has_kernels(families[f]))
                        continue;
                    vb_fast_set_kernels(families[f]);
                    vb_fast_gemm(x, n, &pw, &ep, fast, scratch, pool);
                    char what[96];
                    snprintf(what, sizeof what, "%s fc n%d %d->%d %s", vb_dtype_name(type), n, in, out,
                             family_names[f]);
                    check_close(fast, ref, (size_t)n * out, what);
                }
                vb_fast_set_kernels(VB_KERNELS_BEST);
                vb_tpool_free(pool);
                free(scratch);
                vb_fast_pack_free(&pw);
                free(t.data);
                free(x), free(w), free(wdec), free(ref), free(fast);
            }
        }
    }
}

/* Packed sizes follow the documented panel layout (fast_ops.h): every stored type becomes
 * fp32 panels. K = 288, cout = 33 -> 3 panels of 16 channels. */
static void test_packed_bytes(void)
{
    const int64_t ne[4] = {32, 3, 3, 33};
    const int k = 288, panels = 3;
    float *w = malloc(33 * 288 * 4);
    vb_test_fill_random(w, 33 * 288, 5, -1, 1);
    const size_t want[4] = {
        (size_t)panels * k * 16 * 4, /* F32 */
        (size_t)panels * k * 16 * 4, /* F16 */
        (size_t)panels * k * 16 * 4, /* Q8_0 */
        (size_t)panels * k * 16 * 4, /* Q4_0 */
    };
    for (size_t ti = 0; ti < VB_ARRAY_LEN(all_types); ti++) {
        vb_tensor t;
        vb_err e = {0};
        vb_packed_weights pw;
        make_tensor(&t, all_types[ti], ne, w);
        CHECK(vb_fast_pack_tensor(&t, 33, &pw, &e) == 0);
        CHECKF(pw.bytes == want[ti], "%s packed %zu bytes, want %zu", vb_dtype_name(all_types[ti]), pw.bytes, want[ti]);
        vb_fast_pack_free(&pw);
        free(t.data);
    }
    free(w);
}

/* Bad tensors are refused with a message, not packed into garbage. */
static void test_pack_rejects(void)
{
    float w[64 * 5];
    vb_test_fill_random(w, 64 * 5, 3, -1, 1);
    vb_tensor t;
    vb_packed_weights pw;
    vb_err e = {0};
    const int64_t ne[4] = {64, 5, 1, 1};
    make_tensor(&t, VB_Q8_0, ne, w);
    CHECK(vb_fast_pack_tensor(&t, 5, &pw, &e) == 0); /* 5 channels of K = 64: fits */
    vb_fast_pack_free(&pw);
    memset(&e, 0, sizeof e);
    CHECK(vb_fast_pack_tensor(&t, 20, &pw, &e) == -1 && strstr(e.msg, "test/Q8_0") &&
          strstr(e.msg, "reduction length 16")); /* blocks would straddle channels */
    memset(&e, 0, sizeof e);
    CHECK(vb_fast_pack_tensor(&t, 7, &pw, &e) == -1 && strstr(e.msg, "do not split")); /* 320 % 7 */
    memset(&e, 0, sizeof e);
    t.nbytes -= 1;
    CHECK(vb_fast_pack_tensor(&t, 5, &pw, &e) == -1 && strstr(e.msg, "bytes do not match"));
    free(t.data);
}

/* The extra fp32 bytes the fast path holds for the convs it runs as Winograd by default (3x
 * each one's weights: 36 transformed values per filter tap pair instead of 9). */
static size_t winograd_extra_bytes(const vb_model *m)
{
    vb_graph g;
    vb_err e = {0};
    size_t extra = 0;
    if (vb_graph_build(m, &g, &e)) {
        CHECKF(0, "%s", e.msg);
        return 0;
    }
    for (int i = 0; i < g.n_nodes; i++) {
        const vb_node *n = &g.nodes[i];
        if (n->op == VB_OP_CONV2D && vb_wino_applies(n->kh, n->kw, n->stride) && vb_wino_pays(n->h, n->w))
            extra += 3 * (size_t)vb_tensor_nelements(n->weight) * sizeof(float);
    }
    return extra;
}

/* The whole net at each level, fast path against reference path (which decodes to fp32),
 * every node, batch 2; and the weight memory each path holds. */
static void test_net_levels(void)
{
    vb_model m;
    vb_err e = {0};
    int rc = vb_model_load(vb_default_model_path(), &m, &e);
    CHECKF(rc == 0, "%s", e.msg);
    if (rc)
        return;
    const int batch = 2;
    size_t in = (size_t)batch * 150 * 150 * 3;
    float *x = malloc(in * 4);
    vb_test_fill_random(x, in, 77, -0.5f, 0.5f);
    size_t fast_bytes[VB_QUANT_COUNT] = {0}, ref_bytes[VB_QUANT_COUNT] = {0};
    for (int l = 0; l < VB_QUANT_COUNT; l++) {
        const char *lname = vb_quant_name((vb_quant_level)l);
        vb_model q;
        vb_graph g;
        if (vb_model_quantize(&m, (vb_quant_level)l, &q, NULL, &e) || vb_graph_build(&q, &g, &e)) {
            CHECKF(0, "%s: %s", lname, e.msg);
            continue;
        }
        vb_backend_opts ro = {.device_index = -1, .reference = 1}, fo = {.device_index = -1, .threads = 2};
        vb_backend *rb = NULL, *fb = NULL;
        vb_prepared *rp = NULL, *fp = NULL;
        rc = vb_backend_init_named("cpu", &ro, &rb, &e) || vb_backend_load(rb, &g, &rp, &e) ||
             vb_backend_init_named("cpu", &fo, &fb, &e) || vb_backend_load(fb, &g, &fp, &e);
        CHECKF(rc == 0, "%s: %s", lname, e.msg);
        if (rc == 0) {
            fast_bytes[l] = vb_cpu_weight_bytes(fp);
            ref_bytes[l] = vb_cpu_weight_bytes(rp);
            float **rn = calloc((size_t)g.n_nodes, sizeof(float *)), **fn = calloc((size_t)g.n_nodes, sizeof(float *));
            for (int i = 0; i < g.n_nodes; i++) {
                rn[i] = malloc(batch * vb_node_size(&g.nodes[i]) * 4);
                fn[i] = malloc(batch * vb_node_size(&g.nodes[i]) * 4);
            }
            float rout[2 * 128], fout[2 * 128];
            CHECK(vb_backend_run(rp, x, batch, rout, rn, NULL, &e) == 0);
            CHECK(vb_backend_run(fp, x, batch, fout, fn, NULL, &e) == 0);
            /* Per node: fp32 accumulation against double through up to ~30 layers; test_ops
             * holds the fp32 model to the same bound. */
            double worst = 0;
            const char *worst_name = "";
            for (int i = 0; i < g.n_nodes; i++) {
                if (isnan(fn[i][0])) /* fused into a conv's epilogue: not materialized */
                    continue;
                double nmse = vb_nmse(fn[i], rn[i], batch * vb_node_size(&g.nodes[i]));
                if (!(nmse <= worst))
                    worst = nmse, worst_name = g.nodes[i].name;
            }
            CHECKF(worst < 1e-10, "%s: worst node %s nmse %.3g", lname, worst_name, worst);
            double min_cos = 1;
            for (int b = 0; b < batch; b++) {
                double dot = 0, nr = 0, nf = 0;
                for (int j = 0; j < 128; j++) {
                    dot += (double)rout[b * 128 + j] * fout[b * 128 + j];
                    nr += (double)rout[b * 128 + j] * rout[b * 128 + j];
                    nf += (double)fout[b * 128 + j] * fout[b * 128 + j];
                }
                double cosine = dot / sqrt(nr * nf);
                CHECKF(cosine >= 0.999999, "%s image %d: descriptor cosine %.9f", lname, b, cosine);
                min_cos = cosine < min_cos ? cosine : min_cos;
            }
            if (getenv("VB_TEST_VERBOSE"))
                fprintf(stderr, "   %s: worst node nmse %.3g (%s), min cosine %.12f, weight bytes fast %zu ref %zu\n",
                        lname, worst, worst_name, min_cos, fast_bytes[l], ref_bytes[l]);
            for (int i = 0; i < g.n_nodes; i++)
                free(rn[i]), free(fn[i]);
            free(rn), free(fn);
        }
        if (rp)
            vb_backend_unload(rp);
        if (fp)
            vb_backend_unload(fp);
        if (rb)
            vb_backend_free(rb);
        if (fb)
            vb_backend_free(fb);
        vb_model_free(&q);
    }
    /* Memory: both paths hold fp32 at every level (4 bytes per weight; the fast path decodes
     * into fp32 panels at load, and all this net's channel counts are multiples of 16, so
     * the panels have no padding), the fast path 36 / 9 = 4x for the convs it runs as
     * Winograd (backends/cpu/winograd.h: the 3x3 stride-1 ones where vb_wino_pays). */
    const size_t wino_extra = winograd_extra_bytes(&m);
    CHECKF(wino_extra > 0, "no conv of the recognition net runs as Winograd");
    for (int l = 0; l < VB_QUANT_COUNT; l++) {
        CHECKF(ref_bytes[l] == ref_bytes[0], "%s reference holds %zu bytes, fp32 %zu", vb_quant_name((vb_quant_level)l),
               ref_bytes[l], ref_bytes[0]);
        CHECKF(fast_bytes[l] == ref_bytes[0] + wino_extra, "%s fast path holds %zu bytes, reference %zu + %zu Winograd",
               vb_quant_name((vb_quant_level)l), fast_bytes[l], ref_bytes[0], wino_extra);
    }
    free(x);
    vb_model_free(&m);
}

int main(void)
{
    RUN(test_conv_all_types);
    RUN(test_fc_all_types);
    RUN(test_packed_bytes);
    RUN(test_pack_rejects);
    RUN(test_net_levels);
    return vb_test_finish();
}
