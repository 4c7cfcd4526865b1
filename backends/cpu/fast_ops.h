/* The CPU fast path: im2col + a register-blocked GEMM, threaded. Tested against
 * backends/cpu/ref_ops.c.
 *
 * Weights stay in their stored precision: the panels hold F32, F16, Q8_0 or Q4_0 data
 * rearranged for the micro-kernel, which converts each weight to float in registers just
 * before it is used. The float a kernel computes for a weight is bit-identical to what
 * vb_tensor_to_f32 decodes (fp16 -> fp32 is exact; a quantized weight is (float)q * d with
 * the same float d), and every kernel accumulates y += a * w in the same k order with
 * separate multiply and add, so the quantized kernels return exactly what the fp32 kernel
 * returns on the decoded weights. */
#ifndef VB_FAST_OPS_H
#define VB_FAST_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "models/tensor.h"

#define VB_FAST_NR 16 /* output channels per packed weight panel */

/* Packed weights: ceil(cout/NR) panels of panel_bytes each, channels past cout zero.
 * Panel layouts (k = the reduction index, c = channel within the panel):
 *   F32   float    [K][NR]
 *   F16   uint16   [K][NR]                 (IEEE half bits)
 *   Q8_0  per 32-row k-block: float scale[NR], then int8 q[32][NR]; w = q * scale[c]
 *   Q4_0  per 32-row k-block: float scale[NR], then int8 q[32][NR] holding the nibble
 *         minus 8 (-8..7), widened at load; w = q * scale[c]. Widening measured faster
 *         than unpacking nibbles in the kernel (see fast_ops.c), and 1 byte per weight is
 *         still a quarter of fp32.
 * The scale is the block's fp16 d decoded to float (exact). */
typedef struct vb_packed_weights {
    vb_dtype type;      /* the stored type the panels keep */
    uint8_t *data;
    size_t panel_bytes; /* bytes of one panel */
    size_t bytes;       /* bytes of all panels */
    int k, cout, n_panels;
} vb_packed_weights;

/* Pack [cout][K] row-major fp32 weights as F32 panels. Returns 0 or -1 (out of memory). */
int vb_fast_pack(const float *w, int cout, int k, vb_packed_weights *out);

/* Pack a weight tensor in its stored type: cout output channels, each one contiguous row of
 * K = elements / cout values (conv OHWI filters, fc [out][in]). Q8_0/Q4_0 need K to be a
 * multiple of 32 so that every block lies inside one channel's row. Fails (-1, e filled)
 * on a shape or size that does not fit, or out of memory. */
int vb_fast_pack_tensor(const vb_tensor *t, int cout, vb_packed_weights *out, vb_err *e);

void vb_fast_pack_free(vb_packed_weights *p);

/* Y[rows][cout] = A[rows][K] * W^T (+ bias), rows split across threads. */
void vb_fast_gemm(const float *a, int rows, const vb_packed_weights *w, const float *bias, float *y,
                  int threads);

/* Conv via im2col (scratch: rows*K floats, rows = n*oh*ow) then vb_fast_gemm. */
void vb_fast_conv2d(const float *x, int n, int h, int w, int cin, const vb_packed_weights *wt,
                    const float *bias, int kh, int kw, int stride, int pad_top, int pad_left, int oh,
                    int ow, float *y, float *scratch, int threads);

/* Which micro-kernels run: 1 (default) uses the SIMD kernels where the CPU has them (x86-64
 * with AVX2, and F16C for F16), 0 forces the portable C kernels everywhere, so tests can
 * check both on one machine. Not thread-safe: set it before running. Returns the old value. */
int vb_fast_set_simd(int enable);
/* The kernel family fp32 weights run with now: "avx2+fma" or "portable" (for provenance:
 * the two differ at rounding level). */
const char *vb_fast_kernel_family(void);

#endif
