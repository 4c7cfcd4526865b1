/* Winograd F(4x4, 3x3) convolution for the CPU fast path: 3x3 stride-1 convs (any padding,
 * NHWC) with the fused epilogue of backends/cpu/fast_ops.h, as an alternative to its
 * implicit GEMM that does 36 multiplies per 4x4 output tile and channel pair instead of 144.
 *
 * The filter transform U = G g G^T runs once at load (in double, rounded to float, packed
 * into fast_ops' NR-wide panels, one panel set per tile element). At run time a task takes
 * a block of 4x4 output tiles (and a share of the output channels when there are few
 * tiles): it transforms each tile's 6x6 input window (V = B^T d B; taps outside the input
 * are zero), runs the 36 element-wise products V[e] x U[e] as GEMMs over the input
 * channels with fast_ops' micro-kernel of the family in effect, transforms the sums back
 * (Y = A^T M A) and applies the epilogue (bias, affine, residual, activation).
 *
 * Determinism: each output is the same fixed sequence of float operations whoever computes
 * it: the transforms are plain multiplies and adds (no contraction, the same order in every
 * family: the vector and scalar code paths apply one expression lane by lane), and each
 * GEMM sum runs over the input channels in order, one FMA per step (AVX2 and AVX-512), in
 * k blocks that depend only on the channel count. So results are bit-identical for any
 * thread count and between the AVX2 and AVX-512 kernels. They are not the direct conv's
 * floats: the transforms round differently (measured against cpu:ref in
 * tests/test_backend_ops.c, the cpu-wino columns). */
#ifndef VB_WINOGRAD_H
#define VB_WINOGRAD_H

#include <stddef.h>

#include "backends/cpu/fast_ops.h"
#include "backends/cpu/threadpool.h"
#include "core/common.h"
#include "models/tensor.h"

/* Transformed filters: 36 * ceil(cout / NR) panels of [cin][NR] floats; element e's panel p
 * is panel e * panels_per_element + p. */
typedef struct vb_wino_weights {
    vb_packed_weights u;
    int cin, cout, panels_per_element;
} vb_wino_weights;

/* Whether the Winograd path computes this conv (3x3, stride 1). */
int vb_wino_applies(int kh, int kw, int stride);
/* Whether it is worth it on an oh x ow output, whatever the batch: at least 16 4x4 tiles per
 * image, at least 70% of their outputs inside it. Below that (the recognition net's 8x8,
 * 4x4, 3x3 and 1x1 layers) the transformed filters, 4x the direct ones, are read for too
 * few tiles at batch 1 (measured per layer: see backends/cpu/README.md). */
int vb_wino_pays(int oh, int ow);

/* Decode an OHWI 3x3 weight tensor of any stored type (cout output channels) and transform
 * and pack it. Fails (-1, e filled) on a tensor that is not cout x 3 x 3 x cin, or out of
 * memory. */
int vb_wino_pack_tensor(const vb_tensor *t, int cout, vb_wino_weights *out, vb_err *e);
void vb_wino_free(vb_wino_weights *w);

/* Floats of per-thread scratch vb_wino_conv3x3 needs for these channel counts. */
size_t vb_wino_scratch_floats(int cin, int cout);

/* y (n x oh x ow x cout) = the 3x3 stride-1 conv of x (n x h x w x cin) with padding
 * pad_top / pad_left (taps outside x read zero), then the epilogue. scratch:
 * vb_tpool_threads(pool) blocks of vb_wino_scratch_floats(cin, cout). */
void vb_wino_conv3x3(const float *x, int n, int h, int w, int cin, const vb_wino_weights *wt,
                     const vb_fast_epilogue *ep, int pad_top, int pad_left, int oh, int ow, float *y, float *scratch,
                     vb_tpool *pool);

#endif
