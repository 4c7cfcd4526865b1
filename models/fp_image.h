/* The fingerprint pipeline's heavy image kernels, as plain functions on arrays: the CPU
 * reference that every backend's fingerprint kernels reproduce (vb_backend_fp_orient and
 * vb_backend_fp_gabor in backends/backend.h; vb_fp_extract_with runs them through hooks).
 *
 * Determinism contract (why a backend can be bit-identical): every output value is one fp32
 * accumulator that starts at 0 and adds tap * input products in the order stated below, one
 * rounding per multiply and per add (no fused multiply-add: the build is -std=c11, whose
 * default is -ffp-contract=off); the taps themselves (Gaussian weights, the Gabor bank) are
 * made on the host by vb_fp_gauss_taps / vb_fp_gabor_bank, so no device evaluates exp or cos.
 * Coordinates outside the image are clamped to its edge.
 *
 * Thread safety: reentrant. */
#ifndef VB_FP_IMAGE_H
#define VB_FP_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* A pixel outside the print's mask in the Gabor bin map: its enhanced value is 0. */
#define VB_FP_NO_BIN 255
/* Most Gabor orientation bins (bins are bytes, VB_FP_NO_BIN excluded). */
#define VB_FP_MAX_BINS 180

/* Gaussian of `sigma` px: radius ceil(3 sigma) (0: no blur at all, for sigma < 1/3), and its
 * 2r+1 taps normalized to sum 1 (expf in fp32, as the pipeline always did). */
int vb_fp_gauss_radius(float sigma);
void vb_fp_gauss_taps(float sigma, float *taps);

/* Separable blur of `planes` w x h planes (plane p at p*w*h): rows then columns, each output
 * sum_{i=-r..r} taps[i+r] * in[clamped], i ascending. dst may alias src; -1 on OOM. */
int vb_fp_blur(const float *src, float *dst, int w, int h, int planes, float sigma);

/* The smoothed structure tensor of a normalized print: blur (grad_sigma), Sobel gradient
 * gx = (n02 + 2 n12 + n22) - (n00 + 2 n10 + n20), gy likewise down the columns, then the
 * three products gx^2, gy^2, gx*gy blurred (orient_sigma). tensor: 3 planes, gxx gyy gxy.
 * -1 on OOM. */
int vb_fp_orient_tensor(const float *img, int w, int h, float grad_sigma, float orient_sigma, float *tensor);

/* Ridge direction [0, pi) and coherence 0..1 of each pixel from the tensor (doubled angle;
 * the ridge runs across the gradient). Pointwise on the host: atan2 differs between devices. */
void vb_fp_orient_from_tensor(const float *tensor, size_t n, float *orient, float *coherence);

/* The even Gabor bank tuned to a ridge period: radius ceil(3 k period), `na` kernels of
 * (2r+1)^2 taps, kernel a oriented at pi a / na, each with zero DC. */
int vb_fp_gabor_radius(float period, float k);
int vb_fp_gabor_bank(float period, float k, int na, float *bank); /* -1 for na outside 1..180 */

/* Bin of each pixel: lrintf(orient / pi * na) % na inside the mask, else VB_FP_NO_BIN. */
void vb_fp_gabor_bins(const float *orient, const uint8_t *mask, size_t n, int na, uint8_t *bins);

/* out = sum_{dy=-r..r} sum_{dx=-r..r} bank[bin][dy+r][dx+r] * img[clamped (x+dx, y+dy)]
 * (dy outer, dx inner), 0 where bins says VB_FP_NO_BIN. The bank is vb_fp_gabor_bank's. */
void vb_fp_gabor_apply(const float *img, const uint8_t *bins, int w, int h, const float *bank, int r, float *out);

#endif
