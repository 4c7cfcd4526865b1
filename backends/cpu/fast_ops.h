/* The CPU fast path: im2col + a register-blocked GEMM, threaded. Tested against
 * backends/cpu/ref_ops.c. */
#ifndef VB_FAST_OPS_H
#define VB_FAST_OPS_H

#include <stddef.h>

#define VB_FAST_NR 16 /* output channels per packed weight panel */

/* Packed weights: [ceil(cout/NR)][K][NR], zero-filled past cout. */
typedef struct vb_packed_weights {
    float *panels;
    int k, cout, n_panels;
} vb_packed_weights;

/* Pack [cout][K] row-major weights. Returns 0 or -1 (out of memory). */
int vb_fast_pack(const float *w, int cout, int k, vb_packed_weights *out);
void vb_fast_pack_free(vb_packed_weights *p);

/* Y[rows][cout] = A[rows][K] * W^T (+ bias), rows split across threads. */
void vb_fast_gemm(const float *a, int rows, const vb_packed_weights *w, const float *bias, float *y,
                  int threads);

/* Conv via im2col (scratch: rows*K floats, rows = n*oh*ow) then vb_fast_gemm. */
void vb_fast_conv2d(const float *x, int n, int h, int w, int cin, const vb_packed_weights *wt,
                    const float *bias, int kh, int kw, int stride, int pad_top, int pad_left, int oh,
                    int ow, float *y, float *scratch, int threads);

#endif
