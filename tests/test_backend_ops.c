/* Every op on every backend variant against the CPU reference, in the spirit of ggml's
 * tests/test-backend-ops.cpp. Each row of `cases` builds a small graph (awkward shapes,
 * weight types F32/F16/Q8_0/Q4_0, strides, paddings, kernel sizes, batches 1..5) and runs
 * it on cpu:ref and on every available variant:
 *   cpu           the fast path with the best kernels the CPU has (AVX-512 where present),
 *                 3 threads (an odd split of the rows), its default 3x3 convs (Winograd
 *                 F(4,3) on those of at least 16 4x4 output tiles per image, see
 *                 backends/cpu/winograd.h; the implicit GEMM on the others)
 *   cpu-avx2      the fast path with the AVX2+FMA kernels forced (vb_fast_set_kernels), 2
 *                 threads (skipped on a CPU without AVX2+FMA)
 *   cpu-portable  the fast path with the portable C kernels forced, 2 threads
 *   cpu-direct    the fast path with VERIBENCH_CPU_CONV=direct (every conv the implicit
 *                 GEMM), best kernels, 3 threads
 *   cpu-wino      the fast path with VERIBENCH_CPU_CONV=winograd (3x3 stride-1 convs through
 *                 Winograd F(4,3), backends/cpu/winograd.h), best kernels, 3 threads
 *   cpu-wino-port the same with the portable C kernels forced, 2 threads
 *   vulkan-fp32   Vulkan, fp32 shader variants, validation layer on (any message fails)
 *   vulkan-fp16   Vulkan, fp16 variants (where the device has fp16 storage/arithmetic)
 *   vk-tiles-fp32, vk-tiles-fp16   the same with the shared-memory conv kernel
 *                 (conv2d.comp) forced by VERIBENCH_VULKAN_CONV=tiles: the kernel GPUs run,
 *                 while CPU devices (llvmpipe, the CI device) default to conv2d_sg.comp
 * Every node a variant materializes is compared with cpu:ref (NMSE and max-abs); nodes it
 * fuses away must read NAN and may never be the output. Without a Vulkan device the
 * Vulkan columns are skipped with a note, not failed.
 *
 * The face chip warp (vb_backend_warp) has its own table, `warp_cases`, against
 * vb_warp_chip (see test_warp for its tolerances); the fingerprint kernels
 * (vb_backend_fp_orient, vb_backend_fp_gabor) theirs, `fp_cases`, against models/fp_image.h
 * (bit-identical: see test_fingerprint).
 *
 * A new op: one row in `kinds` (how to build its graph, whether the CPU fast path runs
 * the reference op itself) and rows in `cases`.
 *
 * Besides the tolerances: the fast path's outputs are bit-identical for 1, 2 and 3 threads,
 * and between the AVX2 and AVX-512 kernels (both one FMA per step in the same order; see
 * backends/cpu/fast_ops.h).
 *
 * Tolerances (inputs in [-1, 1], weights in [-0.3, 0.3], reductions K <= 600):
 *  exact: ops the CPU fast path runs with the reference code itself (pool, mean, affine,
 *    relu): identical floats on cpu and cpu-portable.
 *  fp32 (cpu GEMM paths, vulkan-fp32): NMSE <= 1e-10 and max-abs <= 1e-4 * max(1, max|ref|).
 *    Both sum in fp32 (the reference in double): for K <= 600 the rounding error of a sum
 *    is typically sqrt(K) * 2^-24 ~ 1.5e-6 of its magnitude, so NMSE ~ 1e-12 and max-abs
 *    ~ 1e-6 relative; the bounds leave ~100x margin and are still far below any indexing
 *    or padding bug, which shows up as O(1) relative error.
 *  winograd (cpu-wino): the fp32 sums of transformed values, whose magnitudes exceed the
 *    outputs' (B^T's and A^T's entries reach 5 and 8, G's filter values are divided by up
 *    to 24), so each output carries more rounding than the direct sum: WINO_TOL below,
 *    with the measured worst printed by test_winograd_error.
 *  fp16 (vulkan-fp16): activations and float weights are rounded to fp16 (relative 2^-11 =
 *    4.9e-4 each), sums stay fp32: expected relative rms error ~ 1e-3, NMSE ~ 1e-6. Bounds:
 *    NMSE <= 1e-5 and max-abs <= 1e-2 * max(1, max|ref|) (the worst of thousands of outputs
 *    sits a few sigma out). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/fast_ops.h"
#include "tests/test_graphs.h"
#include "tests/test_vulkan.h"

/* ---- the cases -------------------------------------------------------------------------- */

typedef enum case_kind {
    K_CONV, K_FC, K_POOL, K_ADD, K_AFFINE_RELU, K_MEAN, K_NET, K_DWCONV, K_LEAKY, K_SEPARABLE, K_RELU6, K_CONCAT,
    K_COUNT
} case_kind;

typedef struct op_case {
    case_kind kind;
    int h, w, c;               /* input, per image */
    int batch;
    int cout, k, stride, same; /* conv, fc (cout), pool (k, stride, same), add (its conv branch) */
    vb_dtype wt;               /* conv / fc weights */
    int bias, affine, relu;    /* conv, dwconv epilogue; add: relu after it; leaky: affine before it */
    float leaky;               /* > 0: a leaky ReLU of this slope instead of the ReLU (conv, fc,
                                  dwconv, add, leaky) */
    int explicit_pad, pad_top, pad_left; /* conv, dwconv: override SAME/VALID's padding */
    vb_op pool;                /* K_POOL: VB_OP_MAXPOOL or VB_OP_AVGPOOL */
    int input_first;           /* K_ADD: add(input, conv) instead of add(conv, input) */
    int pool_k, pool_stride, pool_same; /* conv: a max pool after the epilogue */
    int relu6;                 /* conv, dwconv, relu6: a ReLU6 instead of the ReLU; with affine,
                                  its scale is 4..12 so that many values pass 6 */
} op_case;

static const op_case cases[] = {
    /* conv: odd sizes, K = 27 (not a multiple of the 16-wide K tile) */
    {K_CONV, 7, 5, 3, 1, .cout = 5, .k = 3, .stride = 1, .same = 1, .bias = 1},
    /* 1x1 spatial, channels not a multiple of 4, batch 2, full epilogue */
    {K_CONV, 1, 1, 37, 2, .cout = 19, .k = 1, .stride = 1, .same = 1, .bias = 1, .affine = 1, .relu = 1},
    /* stride 2 VALID, cout 70 crosses a 64-channel tile, no bias */
    {K_CONV, 9, 9, 6, 3, .cout = 70, .k = 3, .stride = 2, .affine = 1},
    /* the first layer's shape family: 7x7/2 on 3 channels, cout 32 (narrow tile) */
    {K_CONV, 20, 17, 3, 2, .cout = 32, .k = 7, .stride = 2, .bias = 1, .affine = 1, .relu = 1},
    /* K = 117 with ReLU only */
    {K_CONV, 12, 11, 13, 2, .cout = 45, .k = 3, .stride = 1, .same = 1, .bias = 1, .relu = 1},
    /* many pixels and channels (64x64 tiles), several tiles in both directions */
    {K_CONV, 16, 16, 8, 2, .cout = 72, .k = 3, .stride = 1, .same = 1, .bias = 1, .affine = 1, .relu = 1},
    /* few pixels per image (the 16x64 tile), batch 3 */
    {K_CONV, 3, 3, 40, 3, .cout = 100, .k = 3, .stride = 1, .same = 1, .bias = 1, .affine = 1},
    /* explicit asymmetric padding: two rows on top, none on the left */
    {K_CONV, 6, 7, 4, 2, .cout = 9, .k = 3, .stride = 1, .same = 1, .bias = 1, .explicit_pad = 1, .pad_top = 2},
    /* 2x2 kernel, stride 3, ragged output */
    {K_CONV, 10, 8, 5, 2, .cout = 7, .k = 2, .stride = 3, .bias = 1},
    /* stored weight types: fp16, and ggml Q8_0 / Q4_0 (rows of 64 / 32 / 96) */
    {K_CONV, 5, 6, 64, 2, .cout = 40, .k = 3, .stride = 1, .same = 1, .wt = VB_F16, .bias = 1, .affine = 1, .relu = 1},
    {K_CONV, 5, 6, 64, 2, .cout = 40, .k = 3, .stride = 1, .same = 1, .wt = VB_Q8_0, .bias = 1, .affine = 1, .relu = 1},
    {K_CONV, 7, 7, 32, 3, .cout = 33, .k = 3, .stride = 2, .wt = VB_Q4_0, .bias = 1, .affine = 1, .relu = 1},
    {K_CONV, 4, 5, 96, 1, .cout = 17, .k = 1, .stride = 1, .same = 1, .wt = VB_Q8_0, .relu = 1},
    {K_CONV, 4, 5, 96, 2, .cout = 17, .k = 3, .stride = 1, .same = 1, .wt = VB_Q4_0, .bias = 1},
    /* the CPU GEMM's awkward shapes (tests/test_ops.c): 1x1 input, cout 17/33/31 (not a
     * multiple of the 16-wide panel), K = 343, a 64-channel layer at stride 2 */
    {K_CONV, 1, 1, 3, 1, .cout = 5, .k = 1, .stride = 1, .same = 1, .bias = 1},
    {K_CONV, 7, 5, 3, 2, .cout = 17, .k = 3, .stride = 1, .same = 1, .bias = 1},
    {K_CONV, 9, 9, 5, 3, .cout = 16, .k = 3, .stride = 2, .bias = 1},
    {K_CONV, 11, 13, 7, 1, .cout = 33, .k = 7, .stride = 2, .bias = 1},
    {K_CONV, 4, 4, 32, 2, .cout = 31, .k = 3, .stride = 1, .same = 1, .bias = 1},
    {K_CONV, 17, 17, 16, 1, .cout = 64, .k = 3, .stride = 2, .bias = 1},
    /* conv + bias + affine + leaky ReLU (Vulkan: one dispatch) */
    {K_CONV, 9, 8, 10, 2, .cout = 24, .k = 3, .stride = 1, .same = 1, .bias = 1, .affine = 1, .leaky = 0.1f},
    /* the leaky epilogue alone after the bias (the detector's pointwise conv), on K = 117
     * (implicit GEMM), on Q8_0 weights at stride 2, and on an fc */
    {K_CONV, 9, 11, 24, 2, .cout = 40, .k = 1, .stride = 1, .same = 1, .bias = 1, .leaky = 0.1f},
    {K_CONV, 12, 11, 13, 2, .cout = 45, .k = 3, .stride = 1, .same = 1, .bias = 1, .leaky = 0.1f},
    {K_CONV, 5, 6, 64, 1, .cout = 33, .k = 3, .stride = 2, .same = 1, .wt = VB_Q8_0, .bias = 1, .leaky = 0.1f},
    /* conv + epilogue + max pool (the CPU computes conv rows into a band and pools them):
     * the detector's first layer (3x3 VALID on 3 channels, leaky, TF SAME 2x2/2 on an odd
     * size), a 1x1 + ReLU with a VALID 2x2/2 over three images, a 3x3/3 pool (stride >
     * k: conv rows no window reads), and a 3x3/2 pool (overlapping windows: not fused) */
    {K_CONV, 21, 19, 3, 2, .cout = 16, .k = 3, .stride = 1, .bias = 1, .leaky = 0.1f, .pool_k = 2, .pool_stride = 2,
     .pool_same = 1},
    {K_CONV, 9, 10, 24, 3, .cout = 40, .k = 1, .stride = 1, .bias = 1, .relu = 1, .pool_k = 2, .pool_stride = 2},
    {K_CONV, 11, 10, 8, 1, .cout = 20, .k = 3, .stride = 1, .same = 1, .bias = 1, .pool_k = 2, .pool_stride = 3},
    {K_CONV, 9, 9, 8, 2, .cout = 24, .k = 3, .stride = 1, .same = 1, .affine = 1, .relu = 1, .pool_k = 3,
     .pool_stride = 2, .pool_same = 1},
    /* fc */
    {K_FC, 1, 1, 70, 5, .cout = 33, .bias = 1},
    {K_FC, 3, 2, 5, 2, .cout = 17},           /* flattens an NHWC input */
    {K_FC, 1, 1, 256, 1, .cout = 128},        /* the face net's head */
    {K_FC, 1, 1, 64, 3, .cout = 40, .bias = 1, .wt = VB_F16},
    {K_FC, 1, 1, 64, 3, .cout = 40, .bias = 1, .wt = VB_Q8_0},
    {K_FC, 1, 1, 96, 2, .cout = 20, .wt = VB_Q4_0},
    {K_FC, 1, 1, 70, 3, .cout = 33, .bias = 1, .leaky = 0.1f},
    /* pools */
    {K_POOL, 9, 7, 5, 2, .pool = VB_OP_MAXPOOL, .k = 3, .stride = 2},           /* the net's 3x3/2 VALID */
    {K_POOL, 8, 8, 3, 1, .pool = VB_OP_MAXPOOL, .k = 3, .stride = 2, .same = 1}, /* padded taps never win */
    {K_POOL, 7, 7, 3, 2, .pool = VB_OP_AVGPOOL, .k = 2, .stride = 2},           /* residual-down 2x2/2 */
    {K_POOL, 6, 5, 4, 3, .pool = VB_OP_AVGPOOL, .k = 3, .stride = 2, .same = 1}, /* padded taps not counted */
    {K_POOL, 1, 1, 7, 2, .pool = VB_OP_AVGPOOL, .k = 1, .stride = 1},           /* 1x1 spatial */
    /* Vulkan's runs of 4 pixels x 4 channels: a ragged last run, padding on both sides */
    {K_POOL, 9, 11, 8, 2, .pool = VB_OP_AVGPOOL, .k = 3, .stride = 1, .same = 1},
    {K_POOL, 10, 13, 12, 1, .pool = VB_OP_MAXPOOL, .k = 3, .stride = 2, .same = 1},
    /* the detector's TF SAME 2x2/2 on an odd size (last row and column one tap wide) and its
     * last 2x2/1 SAME, over channel counts with a masked tail in both vector widths */
    {K_POOL, 9, 11, 21, 2, .pool = VB_OP_MAXPOOL, .k = 2, .stride = 2, .same = 1},
    {K_POOL, 5, 6, 32, 1, .pool = VB_OP_MAXPOOL, .k = 2, .stride = 1, .same = 1},
    /* add_zeropad: both inputs padded (a 2x2 VALID conv of the input: 3x3x4 -> 4x4x6), ReLU */
    {K_ADD, 4, 4, 6, 3, .cout = 4, .k = 2, .stride = 1, .bias = 1, .relu = 1},
    /* channels only differ (a 1x1 conv widening 3 -> 8), no ReLU after the add */
    {K_ADD, 5, 3, 3, 2, .cout = 8, .k = 1, .stride = 1, .same = 1, .input_first = 1},
    /* add + leaky ReLU */
    {K_ADD, 5, 5, 4, 2, .cout = 4, .k = 3, .stride = 1, .same = 1, .bias = 1, .leaky = 0.1f},
    /* affine + relu (fusable), then a lone affine whose value is needed twice */
    {K_AFFINE_RELU, 3, 5, 7, 2, .cout = 0},
    /* the same on rows long enough for the vector loops (the add of two same-shape inputs,
     * as in the landmark net's dense blocks, is one vector loop over the rows) */
    {K_AFFINE_RELU, 9, 13, 40, 2, .cout = 0},
    /* global mean */
    {K_MEAN, 5, 3, 7, 3, .cout = 0},
    {K_MEAN, 2, 2, 256, 1, .cout = 0},
    {K_MEAN, 1, 1, 9, 2, .cout = 0},
    {K_MEAN, 17, 13, 3, 2, .cout = 0},
    /* depthwise conv (the detector's and landmark net's separable convs): SAME 3x3/1 on odd
     * sizes, TF SAME 3x3/2 on an even size (no leading pad, one trailing), VALID, 5x5, and
     * channel counts that are not a multiple of 4, 8 or 16 */
    {K_DWCONV, 7, 5, 3, 1, .k = 3, .stride = 1, .same = 1, .bias = 1},
    {K_DWCONV, 8, 8, 21, 2, .k = 3, .stride = 2, .same = 1, .bias = 1},
    {K_DWCONV, 9, 6, 40, 3, .k = 3, .stride = 2},
    {K_DWCONV, 6, 7, 17, 2, .k = 5, .stride = 1, .same = 1},
    {K_DWCONV, 1, 1, 64, 2, .k = 3, .stride = 1, .same = 1, .bias = 1},
    /* with a fused epilogue: bias + affine + leaky ReLU, and a ReLU after a strided filter */
    {K_DWCONV, 10, 9, 24, 2, .k = 3, .stride = 1, .same = 1, .bias = 1, .affine = 1, .leaky = 0.2f},
    {K_DWCONV, 9, 9, 8, 1, .k = 3, .stride = 2, .same = 1, .relu = 1},
    /* rows wide enough for the CPU kernel's 8-pixel blocks (and a ragged last block), with
     * the activation fused: ReLU, leaky at stride 2 over 40 channels, leaky VALID */
    {K_DWCONV, 5, 23, 19, 2, .k = 3, .stride = 1, .same = 1, .bias = 1, .relu = 1},
    {K_DWCONV, 6, 30, 40, 1, .k = 3, .stride = 2, .same = 1, .bias = 1, .leaky = 0.1f},
    {K_DWCONV, 4, 13, 16, 3, .k = 3, .stride = 1, .leaky = 0.1f},
    /* padding larger than the filter: the first output row and column have no tap in range
     * (bias alone), the next ones one tap */
    {K_DWCONV, 6, 12, 5, 1, .k = 3, .stride = 1, .same = 1, .bias = 1, .explicit_pad = 1, .pad_top = 3, .pad_left = 3},
    /* leaky ReLU, alpha 0.1 as in tiny YOLO; after an affine (one dispatch on Vulkan) */
    {K_LEAKY, 5, 4, 13, 2, .leaky = 0.1f},
    {K_LEAKY, 6, 3, 9, 3, .affine = 1, .leaky = 0.2f},
    /* separable block: dwconv -> 1x1 conv + bias -> leaky ReLU, then TF SAME 2x2/2 maxpool
     * (odd size: padded on the bottom/right only) */
    {K_SEPARABLE, 11, 9, 16, 2, .cout = 32, .k = 3, .stride = 1, .same = 1, .bias = 1},
    {K_SEPARABLE, 13, 13, 24, 1, .cout = 20, .k = 3, .stride = 2, .same = 1, .bias = 1},
    {K_SEPARABLE, 26, 26, 32, 1, .cout = 48, .k = 3, .stride = 1, .same = 1, .bias = 1},
    /* ReLU6 (SSD MobileNet v1): its first layer (3x3/2 TF SAME on an even size, 3 channels),
     * a 1x1 and a 3x3/2 pointwise conv + bias, the depthwise conv + batch-norm affine at
     * strides 1 and 2 (rows wide enough for the CPU's pixel blocks), and alone after an
     * affine (values well past 6 on both sides) */
    {K_CONV, 16, 16, 3, 2, .cout = 32, .k = 3, .stride = 2, .same = 1, .bias = 1, .affine = 1, .relu6 = 1},
    {K_CONV, 8, 8, 40, 2, .cout = 24, .k = 1, .stride = 1, .same = 1, .bias = 1, .relu6 = 1},
    {K_CONV, 4, 4, 32, 3, .cout = 20, .k = 3, .stride = 2, .same = 1, .bias = 1, .affine = 1, .relu6 = 1},
    {K_CONV, 5, 6, 64, 2, .cout = 40, .k = 1, .stride = 1, .same = 1, .wt = VB_Q8_0, .bias = 1, .affine = 1, .relu6 = 1},
    {K_DWCONV, 6, 30, 40, 2, .k = 3, .stride = 1, .same = 1, .affine = 1, .relu6 = 1},
    {K_DWCONV, 8, 8, 21, 1, .k = 3, .stride = 2, .same = 1, .affine = 1, .relu6 = 1},
    {K_RELU6, 5, 7, 19, 2, .affine = 1},
    {K_RELU6, 1, 1, 70, 3, .cout = 0},
    /* concat (the SSD's heads gathered into one output): two convs of different widths,
     * then the input appended; over 1 and 3 images */
    {K_CONCAT, 4, 3, 5, 1, .cout = 6},
    {K_CONCAT, 7, 5, 3, 3, .cout = 12},
    /* the recognition net's 3x3 stride-1 layers (Winograd's target; cpu-wino takes every 3x3
     * stride-1 conv above too): 35x35x32 (81 tiles: blocks of tiles over the threads), the
     * residual blocks at 18x18x64 and 9x9x128 (the residual fused into the epilogue), 3x3x256
     * (one tile per image: the output channels shared out), cin 330 (two k blocks and a
     * channel tail past the 16-wide vectors), VALID on a ragged 10x13 */
    {K_CONV, 35, 35, 32, 1, .cout = 32, .k = 3, .stride = 1, .same = 1, .affine = 1, .relu = 1},
    {K_ADD, 18, 18, 64, 2, .cout = 64, .k = 3, .stride = 1, .same = 1, .bias = 1, .relu = 1},
    {K_ADD, 9, 9, 128, 1, .cout = 128, .k = 3, .stride = 1, .same = 1, .bias = 1, .relu = 1},
    {K_CONV, 3, 3, 256, 2, .cout = 256, .k = 3, .stride = 1, .same = 1, .affine = 1, .relu = 1},
    {K_CONV, 5, 5, 330, 1, .cout = 40, .k = 3, .stride = 1, .same = 1, .bias = 1},
    {K_CONV, 10, 13, 16, 2, .cout = 24, .k = 3, .stride = 1, .bias = 1},
    /* two residual blocks and the head: slot reuse, a skip across several steps */
    {K_NET, 19, 17, 3, 1, .cout = 0},
    {K_NET, 19, 17, 3, 4, .cout = 0},
};

/* An affine with scale 4..12: enough to push values past ReLU6's 6. */
static int wide_affine(tgraph *t, int src, unsigned seed)
{
    int ch = t->g.nodes[src].c;
    const vb_tensor *s = tg_vector(t, ch, seed, 4.0f, 12.0f), *sh = tg_vector(t, ch, seed + 1, -1.0f, 1.0f);
    int id = vb_graph_affine(&t->g, src, "affine", s, sh, &t->err);
    CHECKF(id >= 0, "affine: %s", t->err.msg);
    return id;
}

/* The nodes after a conv, fc or depthwise conv: [affine] [relu | leaky relu | relu6]. */
static int epilogue(tgraph *t, int x, const op_case *c, unsigned seed)
{
    if (x >= 0 && c->affine)
        x = c->relu6 ? wide_affine(t, x, seed + 2) : tg_affine(t, x, seed + 2);
    if (x >= 0 && c->relu6)
        x = vb_graph_relu6(&t->g, x, "relu6", &t->err);
    else if (x >= 0 && c->relu)
        x = vb_graph_relu(&t->g, x, "relu", &t->err);
    else if (x >= 0 && c->leaky > 0)
        x = vb_graph_leaky_relu(&t->g, x, "leaky", c->leaky, &t->err);
    return x;
}

static int build_conv(tgraph *t, const op_case *c, unsigned seed)
{
    int x = tg_conv(t, 0, c->wt, c->cout, c->k, c->stride, c->same, c->bias, seed);
    if (x < 0)
        return -1;
    if (c->explicit_pad) {
        t->g.nodes[x].pad_top = c->pad_top;
        t->g.nodes[x].pad_left = c->pad_left;
    }
    x = epilogue(t, x, c, seed);
    if (x >= 0 && c->pool_k)
        x = vb_graph_pool(&t->g, VB_OP_MAXPOOL, x, "maxpool", c->pool_k, c->pool_stride, c->pool_same, &t->err);
    return x;
}

static int build_fc(tgraph *t, const op_case *c, unsigned seed)
{
    return epilogue(t, tg_fc(t, 0, c->wt, c->cout, c->bias, seed), c, seed);
}

static int build_pool(tgraph *t, const op_case *c, unsigned seed)
{
    (void)seed;
    return vb_graph_pool(&t->g, c->pool, 0, "pool", c->k, c->stride, c->same, &t->err);
}

static int build_add(tgraph *t, const op_case *c, unsigned seed)
{
    int a = tg_conv(t, 0, VB_F32, c->cout, c->k, c->stride, c->same, c->bias, seed);
    if (a < 0)
        return -1;
    int sum = c->input_first ? vb_graph_add_zeropad(&t->g, 0, a, "add", &t->err)
                             : vb_graph_add_zeropad(&t->g, a, 0, "add", &t->err);
    if (sum >= 0 && c->relu)
        return vb_graph_relu(&t->g, sum, "relu", &t->err);
    if (sum >= 0 && c->leaky > 0)
        return vb_graph_leaky_relu(&t->g, sum, "leaky", c->leaky, &t->err);
    return sum;
}

static int build_affine_relu(tgraph *t, const op_case *c, unsigned seed)
{
    (void)c;
    int af = tg_affine(t, 0, seed);
    int r = vb_graph_relu(&t->g, af, "relu", &t->err);
    int af2 = tg_affine(t, r, seed + 2);
    int r2 = vb_graph_relu(&t->g, af2, "relu2", &t->err);
    return af >= 0 && r >= 0 && af2 >= 0 && r2 >= 0 ? vb_graph_add_zeropad(&t->g, r2, af2, "add", &t->err) : -1;
}

static int build_mean(tgraph *t, const op_case *c, unsigned seed)
{
    (void)c, (void)seed;
    return vb_graph_mean_hw(&t->g, 0, "mean", &t->err);
}

static int build_net(tgraph *t, const op_case *c, unsigned seed)
{
    (void)c, (void)seed;
    tg_free(t);
    return tg_mini_net(t);
}

static int build_dwconv(tgraph *t, const op_case *c, unsigned seed)
{
    int x = tg_dwconv(t, 0, c->k, c->stride, c->same, c->bias, seed);
    if (x >= 0 && c->explicit_pad) {
        t->g.nodes[x].pad_top = c->pad_top;
        t->g.nodes[x].pad_left = c->pad_left;
    }
    return epilogue(t, x, c, seed);
}

static int build_leaky(tgraph *t, const op_case *c, unsigned seed)
{
    int x = c->affine ? tg_affine(t, 0, seed) : 0;
    return x >= 0 ? vb_graph_leaky_relu(&t->g, x, "leaky", c->leaky, &t->err) : -1;
}

static int build_separable(tgraph *t, const op_case *c, unsigned seed)
{
    int x = tg_dwconv(t, 0, c->k, c->stride, c->same, 0, seed);
    if (x < 0 || (x = tg_conv(t, x, VB_F32, c->cout, 1, 1, 1, c->bias, seed + 3)) < 0 ||
        (x = vb_graph_leaky_relu(&t->g, x, "leaky", 0.1f, &t->err)) < 0)
        return -1;
    return vb_graph_pool(&t->g, VB_OP_MAXPOOL, x, "pool", 2, 2, 1, &t->err);
}

static int build_relu6(tgraph *t, const op_case *c, unsigned seed)
{
    int x = c->affine ? wide_affine(t, 0, seed) : 0;
    return x >= 0 ? vb_graph_relu6(&t->g, x, "relu6", &t->err) : -1;
}

/* concat(concat(conv a, conv b), input): flattening, unequal sizes, a chain. */
static int build_concat(tgraph *t, const op_case *c, unsigned seed)
{
    int a = tg_conv(t, 0, VB_F32, c->cout, 3, 1, 1, 1, seed);
    int b = a >= 0 ? tg_conv(t, 0, VB_F32, c->cout / 2 + 1, 1, 2, 1, 1, seed + 3) : -1;
    int ab = b >= 0 ? vb_graph_concat(&t->g, a, b, "concat", &t->err) : -1;
    return ab >= 0 ? vb_graph_concat(&t->g, ab, 0, "concat2", &t->err) : -1;
}

static const struct kind_info {
    const char *name;
    int (*build)(tgraph *t, const op_case *c, unsigned seed);
    int cpu_exact;  /* the CPU fast path runs the reference op itself */
} kinds[K_COUNT] = {
    [K_CONV] = {"conv", build_conv, 0},
    [K_FC] = {"fc", build_fc, 0},
    [K_POOL] = {"pool", build_pool, 1},
    [K_ADD] = {"add_zeropad", build_add, 0},
    [K_AFFINE_RELU] = {"affine/relu", build_affine_relu, 1},
    [K_MEAN] = {"mean", build_mean, 1},
    [K_NET] = {"mini net", build_net, 0},
    [K_DWCONV] = {"dwconv", build_dwconv, 0},
    [K_LEAKY] = {"leaky_relu", build_leaky, 1},
    [K_SEPARABLE] = {"separable", build_separable, 0},
    [K_RELU6] = {"relu6", build_relu6, 1},
    [K_CONCAT] = {"concat", build_concat, 0},
};

static void case_label(const op_case *c, char *out, size_t n)
{
    const char *name = c->kind == K_POOL ? vb_op_name(c->pool) : kinds[c->kind].name;
    int len = snprintf(out, n, "%s %dx%dx%d", name, c->h, c->w, c->c);
    if (c->kind == K_CONV || c->kind == K_ADD || c->kind == K_SEPARABLE)
        len += snprintf(out + len, n - (size_t)len, "->%d k%d/%d%s", c->cout, c->k, c->stride, c->same ? "S" : "V");
    else if (c->kind == K_FC)
        len += snprintf(out + len, n - (size_t)len, "->%d", c->cout);
    else if (c->kind == K_POOL || c->kind == K_DWCONV)
        len += snprintf(out + len, n - (size_t)len, " k%d/%d%s", c->k, c->stride, c->same ? "S" : "V");
    if (c->kind == K_CONV || c->kind == K_FC)
        len += snprintf(out + len, n - (size_t)len, " %s", vb_dtype_name(c->wt));
    if (c->pool_k)
        len += snprintf(out + len, n - (size_t)len, " mp%d/%d%s", c->pool_k, c->pool_stride, c->pool_same ? "S" : "V");
    if (c->kind == K_DWCONV && c->explicit_pad)
        len += snprintf(out + len, n - (size_t)len, " p%d,%d", c->pad_top, c->pad_left);
    if (c->kind == K_DWCONV || c->kind == K_LEAKY)
        len += snprintf(out + len, n - (size_t)len, "%s", c->affine ? " +aff" : "");
    if (c->relu && c->kind == K_DWCONV)
        len += snprintf(out + len, n - (size_t)len, " +relu");
    if (c->leaky > 0 && c->kind != K_LEAKY)
        len += snprintf(out + len, n - (size_t)len, " +leaky");
    if (c->relu6 && c->kind != K_RELU6)
        len += snprintf(out + len, n - (size_t)len, " +relu6");
    if (c->kind == K_RELU6 && c->affine)
        len += snprintf(out + len, n - (size_t)len, " +aff");
    snprintf(out + len, n - (size_t)len, " b%d", c->batch);
}

/* ---- the backend variants ---------------------------------------------------------------- */

typedef struct tol {
    double nmse, max_rel;
} tol;

static const tol TOL_EXACT = {0, 0};
#define TOL_F32 {1e-10, 1e-4}
#define TOL_F16 {1e-5, 1e-2}
/* Winograd F(4,3): measured over this file's cases (3x3 stride-1 convs with K up to 9 *
 * 330, AVX-512 and portable): worst NMSE 1.2e-11 (direct: 7e-13) and max-abs 8.3e-6 *
 * max(1, max|ref|) (direct: ~1e-6); the bounds leave ~10x. They happen to equal TOL_F32's:
 * F(4,3)'s extra rounding is ~10x the direct sum's, well inside the fp32 bounds' margin. */
#define TOL_WINO {1e-10, 1e-4}

typedef struct variant {
    const char *name;
    vb_backend *b;     /* NULL: not available here (skipped) */
    int cpu;           /* the CPU fast path: exact on the reference ops */
    vb_fast_kernels kernels; /* cpu: vb_fast_set_kernels */
    tol t;
    int cases, failed; /* cases run, cases with a failed check */
    double nmse, rel;  /* the worst over its cases: NMSE, max-abs / max(1, max|ref|) */
} variant;

enum { V_CPU, V_CPU_AVX2, V_CPU_PORTABLE, V_CPU_DIRECT, V_CPU_WINO, V_CPU_WINO_PORTABLE, V_VK32, V_VK16, V_VKT32, V_VKT16, V_COUNT };

static variant variants[V_COUNT] = {
    [V_CPU] = {"cpu", NULL, 1, VB_KERNELS_BEST, TOL_F32, 0, 0},
    [V_CPU_AVX2] = {"cpu-avx2", NULL, 1, VB_KERNELS_AVX2, TOL_F32, 0, 0},
    [V_CPU_PORTABLE] = {"cpu-portable", NULL, 1, VB_KERNELS_PORTABLE, TOL_F32, 0, 0},
    [V_CPU_DIRECT] = {"cpu-direct", NULL, 1, VB_KERNELS_BEST, TOL_F32, 0, 0},
    [V_CPU_WINO] = {"cpu-wino", NULL, 1, VB_KERNELS_BEST, TOL_WINO, 0, 0},
    [V_CPU_WINO_PORTABLE] = {"cpu-wino-port", NULL, 1, VB_KERNELS_PORTABLE, TOL_WINO, 0, 0},
    [V_VK32] = {"vulkan-fp32", NULL, 0, VB_KERNELS_BEST, TOL_F32, 0, 0},
    [V_VK16] = {"vulkan-fp16", NULL, 0, VB_KERNELS_BEST, TOL_F16, 0, 0},
    [V_VKT32] = {"vk-tiles-fp32", NULL, 0, VB_KERNELS_BEST, TOL_F32, 0, 0},
    [V_VKT16] = {"vk-tiles-fp16", NULL, 0, VB_KERNELS_BEST, TOL_F16, 0, 0},
};

static vb_backend *cpu_ref;

static int run_on(vb_backend *b, const vb_graph *g, const float *x, int batch, capture *c)
{
    vb_prepared *p = NULL;
    vb_err e = {0};
    int rc = vb_backend_load(b, g, &p, &e);
    CHECKF(rc == 0, "%s load: %s", vb_backend_name(b), e.msg);
    if (rc)
        return -1;
    rc = vb_backend_run(p, x, batch, c->out, c->node, NULL, &e);
    CHECKF(rc == 0, "%s run (batch %d): %s", vb_backend_name(b), batch, e.msg);
    vb_backend_unload(p);
    return rc;
}

static double max_abs_of(const float *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(x[i]));
    return m;
}

typedef struct worst {
    double nmse, mabs, rel; /* rel: max-abs / max(1, max|ref|) */
    int bad;
} worst;

static void compare_node(const char *label, const vb_node *n, const float *got, const float *ref, size_t count,
                         tol t, worst *w)
{
    double nmse = vb_nmse(got, ref, count), mabs = vb_max_abs(got, ref, count);
    double bound = t.max_rel * fmax(1.0, max_abs_of(ref, count));
    int ok = nmse <= t.nmse && mabs <= bound;
    CHECKF(ok, "%s: node %s (%s %dx%dx%d): NMSE %.3g (max %.1g), max-abs %.3g (max %.3g)", label, n->name,
           vb_op_name(n->op), n->h, n->w, n->c, nmse, t.nmse, mabs, bound);
    w->nmse = fmax(w->nmse, nmse);
    w->mabs = fmax(w->mabs, mabs);
    w->rel = fmax(w->rel, mabs / fmax(1.0, max_abs_of(ref, count)));
    w->bad |= !ok;
}

/* One variant on one case: every materialized node and the output against the reference. */
static worst check_variant(variant *v, const char *label, const vb_graph *g, const float *x, int batch,
                           const capture *ref, tol t)
{
    worst w = {0, 0, 0, 0};
    char name[200];
    snprintf(name, sizeof name, "%s [%s]", label, v->name);
    capture got;
    cap_alloc(&got, g, batch);
    if (v->cpu)
        vb_fast_set_kernels(v->kernels);
    int rc = run_on(v->b, g, x, batch, &got);
    vb_fast_set_kernels(VB_KERNELS_BEST);
    if (rc == 0) {
        int materialized = 0;
        for (int i = 0; i < g->n_nodes; i++) {
            if (isnan(got.node[i][0])) {
                CHECKF(i != g->output, "%s: the output node reads NAN", name);
                w.bad |= i == g->output;
                continue;
            }
            materialized++;
            compare_node(name, &g->nodes[i], got.node[i], ref->node[i], (size_t)batch * vb_node_size(&g->nodes[i]),
                         t, &w);
        }
        CHECKF(materialized >= 2, "%s: only %d nodes materialized", name, materialized);
        w.bad |= materialized < 2;
        compare_node(name, &g->nodes[g->output], got.out, ref->out, (size_t)batch * g->out_dim, t, &w);
    } else {
        w.bad = 1;
    }
    cap_free(&got);
    return w;
}

static void run_case(size_t index, const op_case *c)
{
    tgraph t;
    tg_init(&t, c->h, c->w, c->c);
    unsigned seed = 1000 + 10 * (unsigned)index;
    int out = kinds[c->kind].build(&t, c, seed);
    CHECKF(out >= 0, "case %zu: %s", index, t.err.msg);
    if (out < 0) {
        tg_free(&t);
        return;
    }
    tg_finish(&t, out);
    char label[120];
    case_label(c, label, sizeof label);
    const vb_graph *g = &t.g;
    size_t in_size = vb_node_size(&g->nodes[0]) * (size_t)c->batch;
    float *x = malloc(in_size * sizeof(float));
    vb_test_fill_random(x, in_size, seed + 5, -1.0f, 1.0f);
    capture ref;
    cap_alloc(&ref, g, c->batch);
    printf("%-44s", label);
    if (run_on(cpu_ref, g, x, c->batch, &ref) == 0)
        for (int k = 0; k < V_COUNT; k++) {
            variant *v = &variants[k];
            if (!v->b || ((c->kind == K_CONV || c->kind == K_FC) && !vb_backend_supports_type(v->b, c->wt))) {
                printf(" | %-21s", "-");
                continue;
            }
            tol tl = v->cpu && kinds[c->kind].cpu_exact ? TOL_EXACT : v->t;
            worst w = check_variant(v, label, g, x, c->batch, &ref, tl);
            v->cases++;
            v->failed += w.bad;
            v->nmse = fmax(v->nmse, w.nmse);
            v->rel = fmax(v->rel, w.rel);
            printf(" | %s%8.2g %-9.2g%s", w.bad ? "!" : " ", w.nmse, w.mabs, w.bad ? "!" : " ");
        }
    printf("\n");
    cap_free(&ref);
    free(x);
    tg_free(&t);
}

static void test_all_cases(void)
{
    printf("%-44s", "case (NMSE max-abs, worst node)");
    for (int k = 0; k < V_COUNT; k++)
        printf(" | %-21s", variants[k].name);
    printf("\n");
    for (size_t i = 0; i < VB_ARRAY_LEN(cases); i++)
        run_case(i, &cases[i]);
}

/* ---- the face chip warp ----------------------------------------------------------------- */

/* vb_backend_warp against vb_warp_chip (models/face_align.h). Each row is one call of n
 * chips; chip k samples its own image (w + 2k x h + k: sizes and row strides differ within
 * a call, channels alternate with `mixed`) through a rotation by angle + 11k degrees and a
 * scale (image pixels per chip pixel) that puts the chip's centre at (cx, cy) * the image
 * size. */
typedef struct warp_case {
    const char *what;
    int w, h, c, mixed;   /* chip 0's image; mixed: odd chips have the other channel count */
    double angle, scale;  /* degrees; image pixels per chip pixel */
    double cx, cy;        /* the chip centre's position, as a fraction of the image size */
    int size, n;
} warp_case;

static const warp_case warp_cases[] = {
    {"rgb, inside, small rotation", 251, 247, 3, 0, 7, 0.9, 0.5, 0.45, 150, 3},
    {"gray, odd sizes, -30 deg", 97, 131, 1, 0, -30, 0.6, 0.5, 0.5, 64, 2},
    {"gray and rgb in one call", 121, 119, 1, 1, 15, 0.7, 0.52, 0.48, 96, 4},
    {"reaches outside (corner)", 120, 90, 3, 0, 45, 1.0, 0.08, 0.9, 150, 2},
    {"reaches outside (all sides)", 63, 57, 3, 0, 100, 1.2, 0.5, 0.5, 80, 2},
    {"upscaled 4x, gray", 33, 29, 1, 0, -5, 0.25, 0.5, 0.5, 111, 1},
    {"axis-aligned on pixel centres", 40, 30, 3, 0, 0, 1.0, 0.45, 0.5, 37, 1},
    {"2x2 image", 2, 2, 3, 0, 30, 0.02, 0.25, 0.25, 17, 1},
    {"1x1 image (no full tap set)", 1, 1, 1, 0, 0, 0.01, 0.0, 0.0, 9, 1},
    {"3x face: dlib's pyramid (host)", 700, 601, 3, 0, 12, 3.0, 0.5, 0.5, 150, 2},
    {"many chips, one dispatch", 61, 67, 3, 1, 170, 0.35, 0.5, 0.5, 24, 40},
};

/* A smooth picture with noise: gradients of every steepness, and flat saturated corners
 * (where the 8-bit truncation of an exact integer is most fragile). */
static void warp_image(uint8_t *px, int w, int h, int c, unsigned seed)
{
    unsigned r = seed * 2654435761u + 1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++) {
                r = r * 1103515245u + 12345u;
                double v = 128 + 110 * sin(0.11 * x + 0.07 * y + ch) + (double)((r >> 16) % 40) - 20;
                if (x < w / 5 && y < h / 5)
                    v = 255; /* flat, saturated */
                px[((size_t)y * w + x) * c + ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
}

typedef struct warp_diff {
    size_t samples, differ, over1; /* samples, samples not bit-identical, more than 1 level off */
    double max_levels;
} warp_diff;

/* One backend on one row: chips vs the reference, in 8-bit levels (out / scale). */
static warp_diff warp_run(vb_backend *b, const warp_case *wc, unsigned seed)
{
    warp_diff d = {0, 0, 0, 0};
    const int n = wc->n, size = wc->size;
    const float mean[3] = {122.782f, 117.001f, 104.298f}, scale = 1.0f / 256.0f;
    uint8_t **px = calloc((size_t)n, sizeof *px);
    int *w = calloc((size_t)n, sizeof *w), *h = calloc((size_t)n, sizeof *h), *c = calloc((size_t)n, sizeof *c);
    vb_similarity *t = calloc((size_t)n, sizeof *t);
    size_t chip = (size_t)size * size * 3;
    float *got = malloc((size_t)n * chip * sizeof(float)), *ref = malloc(chip * sizeof(float));
    for (int k = 0; k < n; k++) {
        w[k] = wc->w + 2 * (k % 5), h[k] = wc->h + k % 3;
        c[k] = wc->mixed && k % 2 ? 4 - wc->c : wc->c;
        px[k] = malloc((size_t)w[k] * h[k] * c[k]);
        warp_image(px[k], w[k], h[k], c[k], seed + (unsigned)k);
        double ang = (wc->angle + 11.0 * k) * M_PI / 180.0, m = (size - 1) / 2.0;
        double a = wc->scale * cos(ang), bb = wc->scale * sin(ang);
        double cx = wc->cx * w[k] + 0.37 * k, cy = wc->cy * h[k] - 0.21 * k;
        t[k] = (vb_similarity){a, bb, cx - (a * m - bb * m), cy - (bb * m + a * m)};
    }
    vb_err e = {0};
    int rc = vb_backend_warp(b, (const uint8_t *const *)px, w, h, c, t, n, size, mean, scale, got, &e);
    CHECKF(rc == 0, "%s: warp on %s: %s", wc->what, vb_backend_name(b), e.msg);
    for (int k = 0; k < n && rc == 0; k++) {
        vb_err re = {0};
        CHECKF(vb_warp_chip(px[k], w[k], h[k], c[k], &t[k], size, mean, scale, ref, NULL, &re) == 0, "reference: %s",
               re.msg);
        const float *g = got + (size_t)k * chip;
        for (size_t i = 0; i < chip; i++) {
            double lv = fabs((double)g[i] - ref[i]) / scale;
            d.samples++;
            d.differ += memcmp(&g[i], &ref[i], sizeof(float)) != 0;
            d.over1 += lv > 1.0 + 1e-3;
            d.max_levels = fmax(d.max_levels, isnan(lv) ? INFINITY : lv);
        }
    }
    for (int k = 0; k < n; k++)
        free(px[k]);
    free(px), free(w), free(h), free(c), free(t), free(got), free(ref);
    return d;
}

/* The warp on cpu, vulkan-fp32, vulkan-fp16 (the warp has one output type, fp32: the same
 * kernel as vulkan-fp32, run on the second device handle) and vulkan-nofp64 (the kernel's
 * variant for devices without shaderFloat64, forced with VERIBENCH_VULKAN_NO_FP64).
 * Tolerances: bit-identical chips on cpu (it runs the reference) and wherever the kernel
 * runs in fp64 (it repeats the reference's double arithmetic operation for operation). The
 * fp32 variant places a sample to ~1e-5 px, so a truncation to 8 bits may land one level
 * off (values within ~1e-3 of an integer) and, rarely, a sample within ~1e-5 px of the
 * image's last row or column falls on the other side of the all-taps-inside rule: at most
 * 0.1% of samples more than one level off, and at most 2% differing at all. An indexing
 * or transform bug moves whole rows or chips: far more samples, by tens of levels. */
static void test_warp(void)
{
    vb_backend *nofp64 = NULL;
    if (variants[V_VK32].b) {
        setenv("VERIBENCH_VULKAN_NO_FP64", "1", 1);
        nofp64 = vk_test_open(0);
        unsetenv("VERIBENCH_VULKAN_NO_FP64");
        CHECK(!nofp64 || !vb_backend_describe(nofp64)->fp64);
    }
    struct {
        const char *name;
        vb_backend *b;
    } cols[4] = {{"cpu", variants[V_CPU].b}, {"vulkan-fp32", variants[V_VK32].b},
                 {"vulkan-fp16", variants[V_VK16].b}, {"vulkan-nofp64", nofp64}};
    printf("%-34s", "warp (differing samples, max levels)");
    for (int k = 0; k < 4; k++)
        printf(" | %-21s", cols[k].name);
    printf("\n");
    for (size_t i = 0; i < VB_ARRAY_LEN(warp_cases); i++) {
        const warp_case *wc = &warp_cases[i];
        char label[40];
        snprintf(label, sizeof label, "%s", wc->what);
        printf("%-34s", label);
        for (int k = 0; k < 4; k++) {
            if (!cols[k].b) {
                printf(" | %-21s", "-");
                continue;
            }
            warp_diff d = warp_run(cols[k].b, wc, 500 + 7 * (unsigned)i);
            int exact = !strcmp(vb_backend_name(cols[k].b), "cpu") || vb_backend_describe(cols[k].b)->fp64;
            int ok = exact ? d.differ == 0
                           : d.over1 <= d.samples / 1000 && d.differ <= d.samples / 50;
            CHECKF(ok, "warp %s [%s]: %zu of %zu samples differ, %zu by more than one level (max %.3g)", wc->what,
                   cols[k].name, d.differ, d.samples, d.over1, d.max_levels);
            char cell[40];
            snprintf(cell, sizeof cell, "%s%zu/%zu %.3g%s", ok ? " " : "!", d.differ, d.samples, d.max_levels,
                     ok ? "" : "!");
            printf(" | %-21s", cell);
        }
        printf("\n");
    }
    /* a backend without a warp kernel says so; bad images are refused */
    if (variants[V_CPU].b) {
        const uint8_t pix[3] = {1, 2, 3}, *pp = pix;
        int one = 1, two = 2;
        vb_similarity id = {1, 0, 0, 0};
        float out[3];
        const float mean[3] = {0, 0, 0};
        vb_err e = {0};
        CHECK(vb_backend_warp(variants[V_CPU].b, &pp, &one, &one, &two, &id, 1, 1, mean, 1, out, &e) != 0 &&
              e.code == VB_EXIT_USAGE && strstr(e.msg, "channels"));
        CHECK(vb_backend_warp(variants[V_CPU].b, &pp, &one, &one, &one, &id, 0, 1, mean, 1, out, &e) == 0);
    }
    vb_backend_free(nofp64);
}

/* ---- the fingerprint kernels -------------------------------------------------------------- */

/* vb_backend_fp_orient / vb_backend_fp_gabor against models/fp_image.h's reference on a
 * ridge-like picture (a sinusoid whose direction turns across the image, plus noise, in
 * normalized units). Each row is one call; `mask` keeps a disc (1), nothing (2) or all (0)
 * of the pixels for the Gabor rows. */
typedef struct fp_case {
    const char *what;
    int gabor;            /* 0 orientation tensor, 1 Gabor response */
    int w, h;
    float s1, s2;         /* orientation: grad and orient sigma; Gabor: period and k */
    int na, mask;         /* Gabor: bins, mask kind */
} fp_case;

static const fp_case fp_cases[] = {
    {"orient 388x374 (DB1 size, model)", 0, 388, 374, 1.0f, 7.0f, 0, 0},
    {"orient 37x53, no gradient blur", 0, 37, 53, 0.0f, 2.0f, 0, 0},
    {"orient 64x40, no tensor blur", 0, 64, 40, 2.5f, 0.2f, 0, 0},
    {"orient 5x3 (taps wider than image)", 0, 5, 3, 1.0f, 7.0f, 0, 0},
    {"orient 1x1", 0, 1, 1, 1.0f, 7.0f, 0, 0},
    {"gabor 388x374 p9 k.6 24 bins, disc", 1, 388, 374, 9.0f, 0.6f, 24, 1},
    {"gabor 61x47 p4 k.6 180 bins", 1, 61, 47, 4.0f, 0.6f, 180, 0},
    {"gabor 40x30 p16 k1 (r 48 > image)", 1, 40, 30, 16.0f, 1.0f, 8, 1},
    {"gabor 33x35 every pixel masked", 1, 33, 35, 9.0f, 0.6f, 24, 2},
    {"gabor 1x1, 1 bin", 1, 1, 1, 5.0f, 0.5f, 1, 0},
};

static void fp_picture(float *img, int w, int h, unsigned seed)
{
    unsigned r = seed * 2654435761u + 7;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            r = r * 1103515245u + 12345u;
            double th = 0.8 * x / (w + 1.0) + 0.5 * y / (h + 1.0), u = x * cos(th) + y * sin(th);
            img[(size_t)y * w + x] = (float)(sin(2 * M_PI * u / 9.0) + 0.3 * ((double)((r >> 16) % 1000) / 500.0 - 1));
        }
}

/* The row's bins: the reference orientation of the picture, quantized, inside the mask. */
static void fp_bins(const fp_case *fc, const float *img, uint8_t *bins)
{
    size_t n = (size_t)fc->w * fc->h;
    float *t = malloc(3 * n * sizeof *t), *o = malloc(n * sizeof *o), *coh = malloc(n * sizeof *coh);
    uint8_t *mask = malloc(n);
    CHECK(vb_fp_orient_tensor(img, fc->w, fc->h, 1.0f, 7.0f, t) == 0);
    vb_fp_orient_from_tensor(t, n, o, coh);
    for (int y = 0; y < fc->h; y++)
        for (int x = 0; x < fc->w; x++) {
            double dx = x - fc->w / 2.0, dy = y - fc->h / 2.0, rr = 0.4 * (fc->w < fc->h ? fc->w : fc->h);
            mask[(size_t)y * fc->w + x] = fc->mask == 0 ? 1 : fc->mask == 2 ? 0 : dx * dx + dy * dy < rr * rr;
        }
    vb_fp_gabor_bins(o, mask, n, fc->na, bins);
    free(t), free(o), free(coh), free(mask);
}

/* One backend on one row: values that are not bit-identical to the reference's. */
static size_t fp_run(vb_backend *b, const fp_case *fc, unsigned seed, size_t *count)
{
    const size_t n = (size_t)fc->w * fc->h, outs = fc->gabor ? n : 3 * n;
    float *img = malloc(n * sizeof *img), *got = malloc(outs * sizeof *got), *ref = malloc(outs * sizeof *ref);
    uint8_t *bins = malloc(n);
    fp_picture(img, fc->w, fc->h, seed);
    vb_err e = {0};
    int rc;
    if (fc->gabor) {
        fp_bins(fc, img, bins);
        int r = vb_fp_gabor_radius(fc->s1, fc->s2), side = 2 * r + 1;
        float *bank = malloc((size_t)fc->na * side * side * sizeof *bank);
        CHECK(vb_fp_gabor_bank(fc->s1, fc->s2, fc->na, bank) == 0);
        vb_fp_gabor_apply(img, bins, fc->w, fc->h, bank, r, ref);
        free(bank);
        rc = vb_backend_fp_gabor(b, img, bins, fc->w, fc->h, fc->s1, fc->s2, fc->na, got, &e);
    } else {
        CHECK(vb_fp_orient_tensor(img, fc->w, fc->h, fc->s1, fc->s2, ref) == 0);
        rc = vb_backend_fp_orient(b, img, fc->w, fc->h, fc->s1, fc->s2, got, &e);
    }
    CHECKF(rc == 0, "%s on %s: %s", fc->what, vb_backend_name(b), e.msg);
    size_t differ = 0;
    for (size_t i = 0; i < outs && rc == 0; i++)
        differ += memcmp(&got[i], &ref[i], sizeof(float)) != 0;
    *count = outs;
    free(img), free(got), free(ref), free(bins);
    return rc ? outs : differ;
}

/* The fingerprint kernels on cpu and on Vulkan (their one fp32 variant; vulkan-fp16 is the
 * same kernel on a second device handle). Tolerance: bit-identical everywhere. The kernels
 * repeat the reference's fp32 operations in its order with `precise` (no fma), and the taps
 * come from the host, so an IEEE fp32 device has no excuse for a single differing bit; a
 * device that flushes denormals could differ on values below 1.2e-38 only. */
static void test_fingerprint(void)
{
    struct {
        const char *name;
        vb_backend *b;
    } cols[3] = {{"cpu", variants[V_CPU].b}, {"vulkan-fp32", variants[V_VK32].b}, {"vulkan-fp16", variants[V_VK16].b}};
    printf("%-38s", "fingerprint (values not bit-identical)");
    for (int k = 0; k < 3; k++)
        printf(" | %-14s", cols[k].name);
    printf("\n");
    for (size_t i = 0; i < VB_ARRAY_LEN(fp_cases); i++) {
        printf("%-38s", fp_cases[i].what);
        for (int k = 0; k < 3; k++) {
            if (!cols[k].b) {
                printf(" | %-14s", "-");
                continue;
            }
            size_t count, differ = fp_run(cols[k].b, &fp_cases[i], 900 + 13 * (unsigned)i, &count);
            CHECKF(differ == 0, "fingerprint %s [%s]: %zu of %zu values differ", fp_cases[i].what, cols[k].name,
                   differ, count);
            char cell[40];
            snprintf(cell, sizeof cell, "%s%zu/%zu", differ ? "!" : " ", differ, count);
            printf(" | %-14s", cell);
        }
        printf("\n");
    }
    /* bad arguments are refused by the wrapper, on every backend */
    if (variants[V_CPU].b) {
        float img[4] = {0}, out[12];
        uint8_t bins[4] = {0, 1, 7, VB_FP_NO_BIN};
        vb_err e = {0};
        CHECK(vb_backend_fp_gabor(variants[V_CPU].b, img, bins, 2, 2, 9, 0.6f, 4, out, &e) != 0 &&
              e.code == VB_EXIT_USAGE && strstr(e.msg, "bin 7"));
        CHECK(vb_backend_fp_gabor(variants[V_CPU].b, img, bins, 2, 2, 9, 0.6f, 181, out, &e) != 0 &&
              e.code == VB_EXIT_USAGE);
        CHECK(vb_backend_fp_orient(variants[V_CPU].b, img, 0, 2, 1, 7, out, &e) != 0 && e.code == VB_EXIT_USAGE);
        CHECK(vb_backend_fp_orient(variants[V_CPU].b, img, 2, 2, -1, 7, out, &e) != 0 && e.code == VB_EXIT_USAGE);
    }
}

/* The fast path's outputs are bit-identical whatever the thread count (1, 2, 3: different
 * row blocks and panel groups per task) and between the AVX2 and AVX-512 kernels, on
 * shapes that cut K into several blocks, the rows into several blocks and, with few rows,
 * the panels into groups; and for the depthwise conv (rows split over tasks, 8-pixel
 * blocks and border pixels, channel counts with a masked tail in either vector width) and
 * the separable block (dwconv -> 1x1 conv + leaky ReLU -> maxpool), and a conv + leaky +
 * maxpool step (pool rows split over tasks, each computing its conv rows). */
static void bitwise_across_threads_and_kernels(const char *conv)
{
    static const op_case shapes[] = {
        {K_CONV, 24, 24, 40, 2, .cout = 72, .k = 3, .stride = 1, .same = 1, .bias = 1, .affine = 1, .relu = 1},
        {K_CONV, 3, 3, 256, 1, .cout = 100, .k = 3, .stride = 1, .same = 1, .bias = 1, .affine = 1},
        {K_FC, 1, 1, 300, 3, .cout = 70, .bias = 1},
        {K_NET, 19, 17, 3, 3, .cout = 0},
        {K_CONV, 20, 21, 40, 2, .cout = 72, .k = 1, .stride = 1, .same = 1, .bias = 1, .leaky = 0.1f},
        {K_DWCONV, 20, 37, 40, 2, .k = 3, .stride = 1, .same = 1, .bias = 1, .affine = 1, .leaky = 0.1f},
        {K_DWCONV, 15, 30, 21, 3, .k = 3, .stride = 2, .same = 1, .relu = 1},
        {K_SEPARABLE, 26, 26, 32, 2, .cout = 48, .k = 3, .stride = 1, .same = 1, .bias = 1},
        {K_CONV, 41, 39, 3, 2, .cout = 16, .k = 3, .stride = 1, .bias = 1, .leaky = 0.1f, .pool_k = 2,
         .pool_stride = 2, .pool_same = 1},
        {K_ADD, 35, 35, 32, 1, .cout = 32, .k = 3, .stride = 1, .same = 1, .bias = 1, .relu = 1},
    };
    vb_backend *b[3] = {NULL, NULL, NULL};
    vb_err e = {0};
    setenv("VERIBENCH_CPU_CONV", conv, 1);
    for (int t = 0; t < 3; t++) {
        vb_backend_opts o = {.device_index = -1, .threads = t + 1};
        CHECKF(vb_backend_init_named("cpu", &o, &b[t], &e) == 0, "cpu %d threads (%s): %s", t + 1, conv, e.msg);
    }
    unsetenv("VERIBENCH_CPU_CONV");
    for (size_t i = 0; i < VB_ARRAY_LEN(shapes) && b[0] && b[1] && b[2]; i++) {
        const op_case *c = &shapes[i];
        tgraph t;
        tg_init(&t, c->h, c->w, c->c);
        int out = kinds[c->kind].build(&t, c, 4242 + (unsigned)i);
        CHECKF(out >= 0, "shape %zu: %s", i, t.err.msg);
        if (out < 0) {
            tg_free(&t);
            continue;
        }
        tg_finish(&t, out);
        size_t in_size = vb_node_size(&t.g.nodes[0]) * (size_t)c->batch, out_size = (size_t)c->batch * t.g.out_dim;
        float *x = malloc(in_size * sizeof(float));
        vb_test_fill_random(x, in_size, 99 + (unsigned)i, -1.0f, 1.0f);
        capture got[4];
        for (int r = 0; r < 4; r++) {
            cap_alloc(&got[r], &t.g, c->batch);
            /* runs 0-2: 1, 2, 3 threads, best kernels; run 3: 3 threads, AVX2 */
            vb_fast_set_kernels(r == 3 ? VB_KERNELS_AVX2 : VB_KERNELS_BEST);
            run_on(b[r == 3 ? 2 : r], &t.g, x, c->batch, &got[r]);
            vb_fast_set_kernels(VB_KERNELS_BEST);
        }
        for (int r = 1; r < 4; r++) {
            if (r == 3 && !vb_fast_has_kernels(VB_KERNELS_AVX2))
                continue;
            CHECKF(memcmp(got[r].out, got[0].out, out_size * sizeof(float)) == 0,
                   "shape %zu (%s): %s differs from 1 thread (%s)", i, conv,
                   r == 3 ? "AVX2 kernels" : "more threads", vb_fast_kernel_family());
        }
        for (int r = 0; r < 4; r++)
            cap_free(&got[r]);
        free(x);
        tg_free(&t);
    }
    for (int t = 0; t < 3; t++)
        vb_backend_free(b[t]);
}

static void test_cpu_bitwise_across_threads_and_kernels(void)
{
    bitwise_across_threads_and_kernels("direct");
}

/* The same promise for Winograd: the shapes above whose convs are 3x3 stride 1 take it (the
 * first row's 24x24 over 2 images: 72 tiles in blocks; the second: one tile, the panels
 * shared out), plus the recognition net's 35x35x32 layer. */
static void test_cpu_winograd_bitwise_across_threads_and_kernels(void)
{
    bitwise_across_threads_and_kernels("winograd");
}

/* A 3x3 stride-1 conv of hw x hw x 64 -> 64 loaded on a backend opened with
 * VERIBENCH_CPU_CONV=conv: its weight bytes, and its output on one random image in y. */
static size_t conv_weight_bytes(const char *conv, int hw, float *y)
{
    const op_case c = {K_CONV, hw, hw, 64, 1, .cout = 64, .k = 3, .stride = 1, .same = 1, .bias = 1, .relu = 1};
    size_t bytes = 0;
    vb_err e = {0};
    vb_backend *b = NULL;
    vb_backend_opts o = {.device_index = -1, .threads = 2};
    setenv("VERIBENCH_CPU_CONV", conv, 1);
    CHECKF(vb_backend_init_named("cpu", &o, &b, &e) == 0, "cpu (%s): %s", conv, e.msg);
    unsetenv("VERIBENCH_CPU_CONV");
    tgraph t;
    tg_init(&t, c.h, c.w, c.c);
    int out = build_conv(&t, &c, 31);
    CHECKF(out >= 0, "conv: %s", t.err.msg);
    vb_prepared *p = NULL;
    if (b && out >= 0) {
        tg_finish(&t, out);
        CHECKF(vb_backend_load(b, &t.g, &p, &e) == 0, "load: %s", e.msg);
    }
    if (p) {
        bytes = vb_cpu_weight_bytes(p);
        size_t n = vb_node_size(&t.g.nodes[0]);
        float *x = malloc(n * sizeof(float));
        vb_test_fill_random(x, n, 32, -1.0f, 1.0f);
        CHECKF(vb_backend_run(p, x, 1, y, NULL, NULL, &e) == 0, "run: %s", e.msg);
        free(x);
    }
    vb_backend_unload(p);
    vb_backend_free(b);
    tg_free(&t);
    return bytes;
}

/* cpu-wino really runs Winograd (its 3x3 stride-1 weights are the 36-element transforms,
 * 4x the direct panels, and its floats are not the direct conv's); auto, and the default
 * (unset), take it on a 17x17 output (25 tiles) and not on 8x8 (4 tiles), with the same
 * floats as winograd where they do; the worst error of cpu-wino over the case table, printed here, is within
 * TOL_WINO; an unknown VERIBENCH_CPU_CONV is a usage error naming the variable. */
static void test_winograd(void)
{
    const variant *v = &variants[V_CPU_WINO];
    if (!v->b)
        return;
    float y[4][17 * 17 * 64];
    size_t direct = conv_weight_bytes("direct", 17, y[0]), wino = conv_weight_bytes("winograd", 17, y[1]);
    size_t autow = conv_weight_bytes("auto", 17, y[2]), dflt = conv_weight_bytes("", 17, y[3]);
    CHECKF(direct > 0 && wino == 4 * direct && autow == wino && dflt == wino,
           "17x17: weights direct %zu, winograd %zu, auto %zu, default %zu bytes", direct, wino, autow, dflt);
    CHECK(memcmp(y[1], y[0], sizeof y[0]) != 0 && memcmp(y[2], y[1], sizeof y[0]) == 0 &&
          memcmp(y[3], y[1], sizeof y[0]) == 0);
    direct = conv_weight_bytes("direct", 8, y[0]), wino = conv_weight_bytes("winograd", 8, y[1]);
    autow = conv_weight_bytes("auto", 8, y[2]);
    CHECKF(direct > 0 && wino == 4 * direct && autow == direct, "8x8: weights direct %zu, winograd %zu, auto %zu bytes",
           direct, wino, autow);
    CHECK(memcmp(y[2], y[0], 8 * 8 * 64 * sizeof(float)) == 0);
    for (int k = V_CPU_WINO; k <= V_CPU_WINO_PORTABLE; k++) {
        const variant *vk = &variants[k];
        printf("%s: worst NMSE %.3g (bound %.1g), worst max-abs %.3g of max(1, max|ref|) (bound %.1g) over %d cases\n",
               vk->name, vk->nmse, vk->t.nmse, vk->rel, vk->t.max_rel, vk->cases);
        CHECK(vk->cases > 0 && vk->nmse <= vk->t.nmse && vk->rel <= vk->t.max_rel);
    }
    setenv("VERIBENCH_CPU_CONV", "fft", 1);
    vb_backend *bad = NULL;
    vb_err e = {0};
    vb_backend_opts o = {.device_index = -1};
    CHECKF(vb_backend_init_named("cpu", &o, &bad, &e) != 0 && e.code == VB_EXIT_USAGE &&
               strstr(e.msg, "VERIBENCH_CPU_CONV"),
           "VERIBENCH_CPU_CONV=fft: %s", e.msg);
    vb_backend_free(bad);
    unsetenv("VERIBENCH_CPU_CONV");
}

/* The CPU planner fuses a max pool into the conv step before it only when the windows do
 * not overlap: conv -> leaky -> maxpool 2x2/2 runs as one step (the conv and leaky nodes
 * are never written: they read NAN), conv -> leaky -> maxpool 3x3/2 as conv+leaky, pool. */
static void test_cpu_conv_maxpool_fusion(void)
{
    static const struct {
        int pool_k, pool_stride, fused;
    } rows[] = {{2, 2, 1}, {3, 2, 0}};
    for (size_t i = 0; i < VB_ARRAY_LEN(rows) && variants[V_CPU].b; i++) {
        const op_case c = {K_CONV, 12, 13, 3, 2, .cout = 16, .k = 3, .stride = 1, .bias = 1, .leaky = 0.1f,
                           .pool_k = rows[i].pool_k, .pool_stride = rows[i].pool_stride, .pool_same = 1};
        tgraph t;
        tg_init(&t, c.h, c.w, c.c);
        int out = build_conv(&t, &c, 77);
        CHECKF(out == 3, "conv, leaky, pool: %s", t.err.msg);
        if (out != 3) {
            tg_free(&t);
            continue;
        }
        tg_finish(&t, out);
        size_t in_size = vb_node_size(&t.g.nodes[0]) * (size_t)c.batch;
        float *x = malloc(in_size * sizeof(float));
        vb_test_fill_random(x, in_size, 78, -1.0f, 1.0f);
        capture got;
        cap_alloc(&got, &t.g, c.batch);
        if (run_on(variants[V_CPU].b, &t.g, x, c.batch, &got) == 0) {
            CHECKF(isnan(got.node[1][0]) && isnan(got.node[2][0]) == rows[i].fused && !isnan(got.node[3][0]),
                   "maxpool %d/%d: conv %s, leaky %s, pool %s (want the leaky %s)", rows[i].pool_k,
                   rows[i].pool_stride, isnan(got.node[1][0]) ? "fused" : "written",
                   isnan(got.node[2][0]) ? "fused" : "written", isnan(got.node[3][0]) ? "fused" : "written",
                   rows[i].fused ? "fused" : "written");
        }
        cap_free(&got);
        free(x);
        tg_free(&t);
    }
}

/* The Vulkan variants: NULL columns, with a note, on a machine without Vulkan or fp16. */
static void open_vulkan(void)
{
    int skip;
    variants[V_VK32].b = vk_test_open_first(0, &skip);
    if (skip) {
        printf("note: no Vulkan device: the vulkan columns are skipped\n");
        return;
    }
    vb_backend *fp16 = vk_test_open(1);
    if (fp16 && vk_test_uses_fp16(fp16)) {
        variants[V_VK16].b = fp16;
    } else if (fp16) {
        printf("note: the device has no fp16 storage/arithmetic; vulkan-fp16 skipped\n");
        vb_backend_free(fp16);
    }
    setenv("VERIBENCH_VULKAN_CONV", "tiles", 1); /* read when a backend is opened */
    variants[V_VKT32].b = vk_test_open(0);
    if (variants[V_VK16].b)
        variants[V_VKT16].b = vk_test_open(1);
    unsetenv("VERIBENCH_VULKAN_CONV");
}

static void open_cpu(void)
{
    vb_err e = {0};
    vb_backend_opts ro = {.device_index = -1, .reference = 1}, fo3 = {.device_index = -1, .threads = 3},
                    fo2 = {.device_index = -1, .threads = 2};
    CHECKF(vb_backend_init_named("cpu", &ro, &cpu_ref, &e) == 0, "cpu:ref: %s", e.msg);
    CHECKF(vb_backend_init_named("cpu", &fo3, &variants[V_CPU].b, &e) == 0, "cpu: %s", e.msg);
    CHECKF(vb_backend_init_named("cpu", &fo2, &variants[V_CPU_PORTABLE].b, &e) == 0, "cpu: %s", e.msg);
    if (vb_fast_has_kernels(VB_KERNELS_AVX2))
        CHECKF(vb_backend_init_named("cpu", &fo2, &variants[V_CPU_AVX2].b, &e) == 0, "cpu: %s", e.msg);
    else
        printf("note: no AVX2+FMA on this CPU: cpu-avx2 skipped\n");
    setenv("VERIBENCH_CPU_CONV", "direct", 1); /* read when a backend is opened */
    CHECKF(vb_backend_init_named("cpu", &fo3, &variants[V_CPU_DIRECT].b, &e) == 0, "cpu direct: %s", e.msg);
    setenv("VERIBENCH_CPU_CONV", "winograd", 1);
    CHECKF(vb_backend_init_named("cpu", &fo3, &variants[V_CPU_WINO].b, &e) == 0, "cpu winograd: %s", e.msg);
    CHECKF(vb_backend_init_named("cpu", &fo2, &variants[V_CPU_WINO_PORTABLE].b, &e) == 0, "cpu winograd: %s", e.msg);
    unsetenv("VERIBENCH_CPU_CONV");
    printf("note: the cpu column runs the %s kernels\n", vb_fast_kernel_family());
}

int main(void)
{
    open_vulkan(); /* first: see test_vulkan.h (module pinning) */
    open_cpu();
    if (cpu_ref)
        RUN(test_all_cases);
    if (cpu_ref)
        RUN(test_warp);
    RUN(test_fingerprint);
    RUN(test_cpu_bitwise_across_threads_and_kernels);
    RUN(test_cpu_winograd_bitwise_across_threads_and_kernels);
    if (cpu_ref)
        RUN(test_winograd);
    RUN(test_cpu_conv_maxpool_fusion);
    printf("backend-ops:");
    for (int k = 0; k < V_COUNT; k++) {
        if (variants[k].b)
            printf("%s %s %d cases (%d failed)", k ? "," : "", variants[k].name, variants[k].cases, variants[k].failed);
        else
            printf("%s %s skipped", k ? "," : "", variants[k].name);
        int expected = (int)VB_ARRAY_LEN(cases);
        if (variants[k].b && cpu_ref) /* every case ran where the backend exists */
            CHECKF(variants[k].cases == expected, "%s ran %d of %d cases", variants[k].name, variants[k].cases,
                   expected);
    }
    printf("\n");
    for (int k = 0; k < V_COUNT; k++)
        vb_backend_free(variants[k].b);
    vb_backend_free(cpu_ref);
    CHECKF(vb_vk_validation_total() == 0, "%d validation messages (see stderr)", vb_vk_validation_total());
    return vb_test_finish();
}
