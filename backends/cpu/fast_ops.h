/* The CPU fast path: a blocked GEMM over weights packed once at load, convolution as
 * per-thread im2col blocks + that GEMM, a fused epilogue (bias, per-channel affine,
 * zero-padded residual add, ReLU, leaky ReLU or ReLU6), a depthwise convolution with the same
 * epilogue's bias and activation, and the element-wise and pooling ops, every one split
 * over a persistent thread pool (backends/cpu/threadpool.h). Tested against
 * backends/cpu/ref_ops.c (tests/test_backend_ops.c, tests/test_ops.c).
 *
 * Weights of every stored type (F32, F16, Q8_0, Q4_0) are decoded to fp32 at load by
 * vb_tensor_to_f32 (the same floats the reference path uses) and packed into fp32 panels,
 * so a quantized model runs exactly as fast as fp32 and gives bit-identical results to the
 * fp32 model on the decoded weights. (The panels take fp32 memory: 22 MB for this net.)
 *
 * Determinism: each output element is computed by one task, as acc = 0; acc = acc + a[k] *
 * w[k] for k = 0..K-1 in order (one fused multiply-add per step in the SIMD families, a
 * multiply then an add in portable C), then the epilogue's operations in the reference
 * ops' order (acc + bias, * scale + shift, + residual, activation), each rounded to float. How
 * the work is cut into tasks, blocks and threads never changes that order, so results are
 * bit-identical for any thread count, and the AVX2 and AVX-512 families (both one FMA per
 * step) agree bit for bit. The depthwise conv keeps the same promise: each output is
 * acc = 0; acc = acc + x * w over its in-range taps in (ky, kx) order, then the epilogue
 * (bias, affine, activation). */
#ifndef VB_FAST_OPS_H
#define VB_FAST_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "backends/cpu/threadpool.h"
#include "core/common.h"
#include "models/tensor.h"

#define VB_FAST_NR 16 /* output channels per packed weight panel */

/* Packed weights: ceil(cout/NR) panels of float [K][NR], channels past cout zero. */
typedef struct vb_packed_weights {
    float *data;
    size_t panel_floats; /* floats of one panel (K * NR) */
    size_t bytes;        /* bytes of all panels */
    int k, cout, n_panels;
} vb_packed_weights;

/* Pack [cout][K] row-major fp32 weights. Returns 0 or -1 (out of memory). */
int vb_fast_pack(const float *w, int cout, int k, vb_packed_weights *out);

/* Decode a weight tensor of any stored type and pack it: cout output channels, each one
 * contiguous row of K = elements / cout values (conv OHWI filters, fc [out][in]). Q8_0 and
 * Q4_0 need K to be a multiple of 32 so that every block lies inside one channel's row.
 * Fails (-1, e filled) on a shape or size that does not fit, or out of memory. */
int vb_fast_pack_tensor(const vb_tensor *t, int cout, vb_packed_weights *out, vb_err *e);

void vb_fast_pack_free(vb_packed_weights *p);

/* The activation that ends an epilogue, with the same float operations as the reference
 * op of the same name. */
typedef enum vb_fast_act {
    VB_ACT_NONE = 0,
    VB_ACT_RELU,  /* y > 0 ? y : 0 (NaN -> 0, as vb_ref_relu) */
    VB_ACT_LEAKY, /* y > 0 ? y : alpha * y (as vb_ref_leaky_relu) */
    VB_ACT_RELU6  /* y > 0 ? min(y, 6) : 0 (as vb_ref_relu6) */
} vb_fast_act;

/* What follows the GEMM, per output (pixel, channel c), in this order, each step rounded
 * to float as the reference ops do: y = acc + bias[c] (0 when NULL); y = y * scale[c] +
 * shift[c] (when scale); y = y + residual (when res: the residual tensor res_h x res_w x
 * res_c per image, read at the same pixel and channel, zero outside it); then the
 * activation `act` (alpha: the leaky slope). */
typedef struct vb_fast_epilogue {
    const float *bias, *scale, *shift;
    const float *res;
    int res_h, res_w, res_c;
    vb_fast_act act;
    float alpha;
} vb_fast_epilogue;

/* Floats of per-thread scratch a conv with reduction length K needs (im2col block and
 * accumulator block); a GEMM without im2col needs the same. */
size_t vb_fast_scratch_floats(int k, int cout);

/* Y[rows][cout] = A[rows][K] * W^T, then the epilogue; each row counts as an image of one
 * pixel (a residual is rows x res_c: res_h = res_w = 1). scratch: vb_tpool_threads(pool)
 * blocks of vb_fast_scratch_floats(K, cout). */
void vb_fast_gemm(const float *a, int rows, const vb_packed_weights *w, const vb_fast_epilogue *ep, float *y,
                  float *scratch, vb_tpool *pool);

/* Convolution (NHWC input, weights packed from OHWI rows) with the epilogue. Out-of-range
 * taps read zero. Two ways, same floats in the same order:
 *   implicit GEMM (filter rows of kw * cin >= 8 floats: every conv of the face nets): the
 *     micro-kernel reads each output pixel's filter rows straight from the input, or from
 *     a zero-padded copy of it in `padded` (n * vb_fast_conv_pad_floats(...) floats) when
 *     taps fall outside; with padded NULL such a conv takes the im2col way;
 *   im2col: each task builds its rows' im2col block in its thread's scratch.
 * scratch as for vb_fast_gemm. */
void vb_fast_conv2d(const float *x, int n, int h, int w, int cin, const vb_packed_weights *wt,
                    const vb_fast_epilogue *ep, int kh, int kw, int stride, int pad_top, int pad_left, int oh,
                    int ow, float *y, float *scratch, float *padded, vb_tpool *pool);
/* Floats per image of the zero-padded input copy vb_fast_conv2d's implicit GEMM needs (0:
 * none: it reads the input as it is, or takes the im2col way). */
size_t vb_fast_conv_pad_floats(int h, int w, int cin, int kh, int kw, int stride, int pad_top, int pad_left,
                               int oh, int ow);

/* vb_fast_conv2d with its epilogue, then a max pool (pool_k x pool_k window, stride,
 * explicit padding; poh x pow outputs, as vb_ref_maxpool) of the conv's oh x ow output,
 * without writing that output: each task computes the conv rows its pool rows read into
 * its thread's band (`band`: vb_tpool_threads(pool) blocks of vb_fast_band_floats) and
 * pools them while they are in cache. The same floats as the two ops one after the other.
 * Windows that overlap (pool_k > stride) recompute the conv rows they share. */
void vb_fast_conv2d_maxpool(const float *x, int n, int h, int w, int cin, const vb_packed_weights *wt,
                            const vb_fast_epilogue *ep, int kh, int kw, int stride, int pad_top, int pad_left, int oh,
                            int ow, int pool_k, int pool_stride, int pool_pad_top, int pool_pad_left, int poh,
                            int pow, float *y, float *scratch, float *padded, float *band, vb_tpool *pool);
/* Floats of one thread's band for vb_fast_conv2d_maxpool. */
size_t vb_fast_band_floats(int pool_k, int ow, int cout);

/* Depthwise convolution (NHWC input, weight HWC [kh][kw][c] as VB_OP_DWCONV) with the
 * epilogue's bias, affine and activation (res must be NULL). Out-of-range taps are
 * skipped, as in vb_ref_dwconv2d. Vectorized over channels, split over output rows. */
void vb_fast_dwconv2d(const float *x, int n, int h, int w, int c, const float *weight, const vb_fast_epilogue *ep,
                      int kh, int kw, int stride, int pad_top, int pad_left, int oh, int ow, float *y,
                      vb_tpool *pool);

/* The element-wise and pooling ops, split over the pool; each output is computed with the
 * same float operations as the vb_ref_* op of the same name, so they are bit-identical to
 * it (tests/test_backend_ops.c checks exact equality). */
void vb_fast_affine(const float *x, size_t pixels, int c, const float *scale, const float *shift, float *y,
                    vb_tpool *pool);
void vb_fast_relu(const float *x, size_t count, float *y, vb_tpool *pool);
void vb_fast_leaky_relu(const float *x, size_t count, float alpha, float *y, vb_tpool *pool);
void vb_fast_relu6(const float *x, size_t count, float *y, vb_tpool *pool);
void vb_fast_pool2d(const float *x, int n, int h, int w, int c, int k, int stride, int pad_top, int pad_left,
                    int oh, int ow, float *y, int is_max, vb_tpool *pool);
void vb_fast_add_zeropad(const float *a, int ah, int aw, int ac, const float *b, int bh, int bw, int bc, int n,
                         float *y, int oh, int ow, int oc, vb_tpool *pool);
void vb_fast_mean_hw(const float *x, int n, int h, int w, int c, float *y, vb_tpool *pool);

/* The micro-kernel families, chosen at run time from the CPU's features. */
typedef enum vb_fast_kernels {
    VB_KERNELS_PORTABLE = 0, /* plain C: a multiply then an add (ISO C mode does not contract) */
    VB_KERNELS_AVX2 = 1,     /* x86-64 AVX2 + FMA: 4 x 16 tiles */
    VB_KERNELS_AVX512 = 2,   /* x86-64 AVX-512F: 8 x 32 tiles */
    VB_KERNELS_BEST = 3      /* the best the CPU has (the default) */
} vb_fast_kernels;

/* Select the family for later calls (tests run every one the CPU has); a family the CPU
 * lacks falls back to the best one below it. Not thread-safe: set it before running.
 * Returns the previous setting. */
vb_fast_kernels vb_fast_set_kernels(vb_fast_kernels k);
/* Whether the CPU can run family k. */
int vb_fast_has_kernels(vb_fast_kernels k);
/* One thread's multiply-accumulate throughput in the family in effect, measured (GMAC/s). */
double vb_fast_fma_peak_gmacs(void);
/* The family calls run with now: "avx512f", "avx2+fma" or "portable" (for provenance and
 * the bench CSV: portable differs from the FMA families at rounding level). */
const char *vb_fast_kernel_family(void);

/* For the CPU backend's other GEMM drivers (backends/cpu/winograd.c), the pieces above in
 * the family in effect, so that they keep this file's promises (one FMA per step, the
 * epilogue's operations and order):
 * - the micro-kernel: an MR x (NR * np) tile (np = 1 or 2 panels) over kc reduction rows,
 *   c[i][j] (+)= sum over k in order of a[i][k] * w[k][j], from zero or, when accumulate,
 *   from what c holds; a: MR row pointers at the block's first k (rows i >= m repeat row 0
 *   and are dropped), w: the first panel at that k, the second wnext floats further, c: MR
 *   rows of ldc floats (all written, the first m meaningful);
 * - the epilogue of one output pixel's channels c0..c0+nc-1 from their sums acc[0..nc-1]
 *   into y[0..nc-1]; res: the residual tensor's row at that pixel (its channel 0; NULL
 *   outside the residual) and nin how many of those channels it has (the rest add +0);
 * - the decoded fp32 rows of a weight tensor (cout rows of *k values, as
 *   vb_fast_pack_tensor checks and decodes them; free() it). */
#define VB_FAST_MR 8 /* rows per micro-tile */
typedef void vb_fast_tile_fn(const float *const *a, int m, const float *w, size_t wnext, int np, int kc, float *c,
                             size_t ldc, int accumulate);
vb_fast_tile_fn *vb_fast_tile_kernel(void);
typedef void vb_fast_epilogue_fn(const vb_fast_epilogue *ep, const float *acc, float *y, int c0, int nc,
                                 const float *res, int nin);
vb_fast_epilogue_fn *vb_fast_epilogue_kernel(void);
float *vb_fast_decode_rows(const vb_tensor *t, int cout, int *k, vb_err *e);

#endif
