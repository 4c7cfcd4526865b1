#include "backends/cpu/ref_ops.h"

#include <float.h>

/* One output pixel's kernel window over one image: the input size, the kernel size, and
 * where the window's top-left tap falls (iy0, ix0; negative inside the top/left padding). */
typedef struct vb_window {
    int h, w, kh, kw, iy0, ix0;
} vb_window;

/* The window walk that conv and depthwise conv share: the double sum, in tap order (ky, kx,
 * then len values), of x at each in-range tap times the tap's weights; taps in the padding
 * count zero. ximg: the image's first pixel (plus the channel, for depthwise); x_pixel: floats
 * from one pixel to the next; wk: the first tap's weights; w_tap: floats from one tap to the
 * next; len: values multiplied per tap (cin for conv, 1 for depthwise). */
static double window_dot(const vb_window *win, const float *ximg, size_t x_pixel, const float *wk,
                         size_t w_tap, int len)
{
    double acc = 0.0;
    for (int ky = 0; ky < win->kh; ky++) {
        int iy = win->iy0 + ky;
        if (iy < 0 || iy >= win->h)
            continue;
        for (int kx = 0; kx < win->kw; kx++) {
            int ix = win->ix0 + kx;
            if (ix < 0 || ix >= win->w)
                continue;
            const float *xp = ximg + ((size_t)iy * win->w + ix) * x_pixel;
            const float *wp = wk + ((size_t)ky * win->kw + kx) * w_tap;
            for (int i = 0; i < len; i++)
                acc += (double)xp[i] * (double)wp[i];
        }
    }
    return acc;
}

void vb_ref_conv2d(const float *x, int n, int h, int w, int cin, const float *weight,
                   const float *bias, int cout, int kh, int kw, int stride, int pad_top,
                   int pad_left, int oh, int ow, float *y)
{
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                for (int co = 0; co < cout; co++) {
                    const vb_window win = {h, w, kh, kw, oy * stride - pad_top, ox * stride - pad_left};
                    double acc = window_dot(&win, x + (size_t)b * h * w * cin, cin,
                                            weight + (size_t)co * kh * kw * cin, cin, cin);
                    if (bias)
                        acc += bias[co];
                    y[(((size_t)b * oh + oy) * ow + ox) * cout + co] = (float)acc;
                }
}

void vb_ref_affine(const float *x, size_t pixels, int c, const float *scale, const float *shift,
                   float *y)
{
    for (size_t p = 0; p < pixels; p++)
        for (int ch = 0; ch < c; ch++)
            y[p * c + ch] = x[p * c + ch] * scale[ch] + shift[ch];
}

void vb_ref_relu(const float *x, size_t count, float *y)
{
    for (size_t i = 0; i < count; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void vb_ref_leaky_relu(const float *x, size_t count, float alpha, float *y)
{
    for (size_t i = 0; i < count; i++)
        y[i] = x[i] > 0.0f ? x[i] : alpha * x[i];
}

void vb_ref_relu6(const float *x, size_t count, float *y)
{
    for (size_t i = 0; i < count; i++)
        y[i] = x[i] > 0.0f ? (x[i] < 6.0f ? x[i] : 6.0f) : 0.0f;
}

void vb_ref_concat(const float *a, size_t a_floats, const float *b, size_t b_floats, int n, float *y)
{
    for (int i = 0; i < n; i++) {
        float *out = y + (size_t)i * (a_floats + b_floats);
        for (size_t j = 0; j < a_floats; j++)
            out[j] = a[(size_t)i * a_floats + j];
        for (size_t j = 0; j < b_floats; j++)
            out[a_floats + j] = b[(size_t)i * b_floats + j];
    }
}

void vb_ref_dwconv2d(const float *x, int n, int h, int w, int c, const float *weight, const float *bias,
                     int kh, int kw, int stride, int pad_top, int pad_left, int oh, int ow, float *y)
{
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                for (int ch = 0; ch < c; ch++) {
                    const vb_window win = {h, w, kh, kw, oy * stride - pad_top, ox * stride - pad_left};
                    double acc = window_dot(&win, x + (size_t)b * h * w * c + ch, c, weight + ch, c, 1);
                    if (bias)
                        acc += bias[ch];
                    y[(((size_t)b * oh + oy) * ow + ox) * c + ch] = (float)acc;
                }
}

/* Shared window walk for both pools: max of in-range taps, or their mean. */
static void pool(const float *x, int n, int h, int w, int c, int k, int stride, int pad_top,
                 int pad_left, int oh, int ow, float *y, int is_max)
{
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                for (int ch = 0; ch < c; ch++) {
                    double sum = 0.0;
                    float best = -FLT_MAX;
                    int taps = 0;
                    for (int ky = 0; ky < k; ky++) {
                        int iy = oy * stride - pad_top + ky;
                        if (iy < 0 || iy >= h)
                            continue;
                        for (int kx = 0; kx < k; kx++) {
                            int ix = ox * stride - pad_left + kx;
                            if (ix < 0 || ix >= w)
                                continue;
                            float v = x[(((size_t)b * h + iy) * w + ix) * c + ch];
                            sum += v;
                            if (v > best)
                                best = v;
                            taps++;
                        }
                    }
                    float out = is_max ? best : (taps ? (float)(sum / taps) : 0.0f);
                    y[(((size_t)b * oh + oy) * ow + ox) * c + ch] = out;
                }
}

void vb_ref_maxpool(const float *x, int n, int h, int w, int c, int k, int stride, int pad_top,
                    int pad_left, int oh, int ow, float *y)
{
    pool(x, n, h, w, c, k, stride, pad_top, pad_left, oh, ow, y, 1);
}

void vb_ref_avgpool(const float *x, int n, int h, int w, int c, int k, int stride, int pad_top,
                    int pad_left, int oh, int ow, float *y)
{
    pool(x, n, h, w, c, k, stride, pad_top, pad_left, oh, ow, y, 0);
}

static float at_or_zero(const float *t, int b, int th, int tw, int tc, int yy, int xx, int ch)
{
    if (yy >= th || xx >= tw || ch >= tc)
        return 0.0f;
    return t[(((size_t)b * th + yy) * tw + xx) * tc + ch];
}

void vb_ref_add_zeropad(const float *a, int ah, int aw, int ac, const float *b, int bh, int bw,
                        int bc, int n, float *y, int oh, int ow, int oc)
{
    for (int i = 0; i < n; i++)
        for (int yy = 0; yy < oh; yy++)
            for (int xx = 0; xx < ow; xx++)
                for (int ch = 0; ch < oc; ch++)
                    y[(((size_t)i * oh + yy) * ow + xx) * oc + ch] =
                        at_or_zero(a, i, ah, aw, ac, yy, xx, ch) + at_or_zero(b, i, bh, bw, bc, yy, xx, ch);
}

void vb_ref_mean_hw(const float *x, int n, int h, int w, int c, float *y)
{
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++) {
            double sum = 0.0;
            for (int p = 0; p < h * w; p++)
                sum += x[((size_t)b * h * w + p) * c + ch];
            y[(size_t)b * c + ch] = (float)(sum / (h * w));
        }
}

void vb_ref_fc(const float *x, int n, int in, const float *weight, const float *bias, int out,
               float *y)
{
    for (int b = 0; b < n; b++)
        for (int o = 0; o < out; o++) {
            double acc = 0.0;
            for (int i = 0; i < in; i++)
                acc += (double)x[(size_t)b * in + i] * weight[(size_t)o * in + i];
            if (bias)
                acc += bias[o];
            y[(size_t)b * out + o] = (float)acc;
        }
}
