/* The CPU reference ops: plain loops, fp32 in and out, double accumulation, no tricks.
 * They define what every op means; every optimized kernel (CPU fast path, Vulkan shaders)
 * is tested against them. Keep them obviously correct rather than fast.
 * Layouts: activations NHWC; conv weights OHWI [cout][kh][kw][cin]; fc weights [out][in]. */
#ifndef VB_REF_OPS_H
#define VB_REF_OPS_H

#include <stddef.h>

void vb_ref_conv2d(const float *x, int n, int h, int w, int cin, const float *weight,
                   const float *bias, int cout, int kh, int kw, int stride, int pad_top,
                   int pad_left, int oh, int ow, float *y);
void vb_ref_affine(const float *x, size_t pixels, int c, const float *scale, const float *shift,
                   float *y);
void vb_ref_relu(const float *x, size_t count, float *y);
void vb_ref_leaky_relu(const float *x, size_t count, float alpha, float *y);
/* min(max(x, 0), 6); NaN -> 0 (as vb_ref_relu). */
void vb_ref_relu6(const float *x, size_t count, float *y);
/* Per image: y = a (a_floats) followed by b (b_floats). */
void vb_ref_concat(const float *a, size_t a_floats, const float *b, size_t b_floats, int n, float *y);
/* Depthwise conv: weight HWC [kh][kw][c], one filter per channel. */
void vb_ref_dwconv2d(const float *x, int n, int h, int w, int c, const float *weight, const float *bias,
                     int kh, int kw, int stride, int pad_top, int pad_left, int oh, int ow, float *y);
void vb_ref_maxpool(const float *x, int n, int h, int w, int c, int k, int stride, int pad_top,
                    int pad_left, int oh, int ow, float *y);
void vb_ref_avgpool(const float *x, int n, int h, int w, int c, int k, int stride, int pad_top,
                    int pad_left, int oh, int ow, float *y);
void vb_ref_add_zeropad(const float *a, int ah, int aw, int ac, const float *b, int bh, int bw,
                        int bc, int n, float *y, int oh, int ow, int oc);
void vb_ref_mean_hw(const float *x, int n, int h, int w, int c, float *y);
void vb_ref_fc(const float *x, int n, int in, const float *weight, const float *bias, int out,
               float *y);

#endif
