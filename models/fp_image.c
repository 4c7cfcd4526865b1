/* The fingerprint image kernels' reference (see models/fp_image.h for the contract). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/fp_image.h"

static const double PI = 3.14159265358979323846;

int vb_fp_gauss_radius(float sigma)
{
    int r = (int)ceilf(3 * sigma);
    return r < 1 ? 0 : r;
}

void vb_fp_gauss_taps(float sigma, float *k)
{
    int r = vb_fp_gauss_radius(sigma);
    float sum = 0;
    for (int i = -r; i <= r; i++)
        sum += k[i + r] = r ? expf(-(float)(i * i) / (2 * sigma * sigma)) : 1;
    for (int i = 0; i <= 2 * r; i++)
        k[i] /= sum;
}

/* One plane: rows into tmp, then columns into dst a whole row at a time (contiguous and
 * vectorizable, yet per pixel the same adds in the same order as a per-pixel loop). */
static void blur_plane(const float *src, float *dst, float *tmp, float *line, int w, int h, const float *k, int r)
{
    for (int y = 0; y < h; y++) {
        const float *row = src + (size_t)y * w;
        float *out = tmp + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            float acc = 0;
            if (x >= r && x + r < w) {
                const float *p = row + x - r;
                for (int i = 0; i <= 2 * r; i++)
                    acc += k[i] * p[i];
            } else {
                for (int i = -r; i <= r; i++) {
                    int xx = x + i < 0 ? 0 : x + i >= w ? w - 1 : x + i;
                    acc += k[i + r] * row[xx];
                }
            }
            out[x] = acc;
        }
    }
    for (int y = 0; y < h; y++) {
        memset(line, 0, (size_t)w * sizeof *line);
        for (int i = -r; i <= r; i++) {
            int yy = y + i < 0 ? 0 : y + i >= h ? h - 1 : y + i;
            const float *p = tmp + (size_t)yy * w;
            const float kv = k[i + r];
            for (int x = 0; x < w; x++)
                line[x] += kv * p[x];
        }
        memcpy(dst + (size_t)y * w, line, (size_t)w * sizeof *line);
    }
}

int vb_fp_blur(const float *src, float *dst, int w, int h, int planes, float sigma)
{
    const size_t n = (size_t)w * h;
    int r = vb_fp_gauss_radius(sigma);
    if (r < 1) {
        if (dst != src)
            memmove(dst, src, n * planes * sizeof *dst);
        return 0;
    }
    float *k = malloc((2 * r + 1) * sizeof *k), *tmp = malloc(n * sizeof *tmp), *line = malloc((size_t)w * sizeof *line);
    int rc = -1;
    if (k && tmp && line) {
        vb_fp_gauss_taps(sigma, k);
        for (int p = 0; p < planes; p++)
            blur_plane(src + p * n, dst + p * n, tmp, line, w, h, k, r);
        rc = 0;
    }
    free(k);
    free(tmp);
    free(line);
    return rc;
}

static float at_clamped(const float *img, int w, int h, int x, int y)
{
    x = x < 0 ? 0 : x >= w ? w - 1 : x;
    y = y < 0 ? 0 : y >= h ? h - 1 : y;
    return img[(size_t)y * w + x];
}

int vb_fp_orient_tensor(const float *img, int w, int h, float grad_sigma, float orient_sigma, float *tensor)
{
    const size_t n = (size_t)w * h;
    float *sm = malloc(n * sizeof *sm);
    if (!sm || vb_fp_blur(img, sm, w, h, 1, grad_sigma)) {
        free(sm);
        return -1;
    }
    float *gxx = tensor, *gyy = tensor + n, *gxy = tensor + 2 * n;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            /* Sobel; the 3x3 neighbourhood read directly inside, clamped at the edge */
            float nb[3][3];
            if (x > 0 && y > 0 && x + 1 < w && y + 1 < h) {
                for (int dy = 0; dy < 3; dy++)
                    for (int dx = 0; dx < 3; dx++)
                        nb[dy][dx] = sm[(size_t)(y + dy - 1) * w + x + dx - 1];
            } else {
                for (int dy = 0; dy < 3; dy++)
                    for (int dx = 0; dx < 3; dx++)
                        nb[dy][dx] = at_clamped(sm, w, h, x + dx - 1, y + dy - 1);
            }
            float gx = (nb[0][2] + 2 * nb[1][2] + nb[2][2]) - (nb[0][0] + 2 * nb[1][0] + nb[2][0]);
            float gy = (nb[2][0] + 2 * nb[2][1] + nb[2][2]) - (nb[0][0] + 2 * nb[0][1] + nb[0][2]);
            size_t i = (size_t)y * w + x;
            gxx[i] = gx * gx, gyy[i] = gy * gy, gxy[i] = gx * gy;
        }
    free(sm);
    return vb_fp_blur(tensor, tensor, w, h, 3, orient_sigma);
}

void vb_fp_orient_from_tensor(const float *tensor, size_t n, float *orient, float *coherence)
{
    const float *gxx = tensor, *gyy = tensor + n, *gxy = tensor + 2 * n;
    for (size_t i = 0; i < n; i++) {
        float a = gxx[i] - gyy[i], b = 2 * gxy[i], sum = gxx[i] + gyy[i];
        double phi = 0.5 * atan2(b, a) + PI / 2;
        if (phi >= PI)
            phi -= PI;
        if (phi < 0)
            phi += PI;
        orient[i] = (float)phi;
        coherence[i] = sum > 1e-9f ? sqrtf(a * a + b * b) / sum : 0;
    }
}

int vb_fp_gabor_radius(float period, float k)
{
    return (int)ceilf(3 * (k * period));
}

int vb_fp_gabor_bank(float period, float gk, int na, float *bank)
{
    if (na < 1 || na > VB_FP_MAX_BINS)
        return -1;
    float sigma = gk * period, freq = 1.0f / period;
    int r = vb_fp_gabor_radius(period, gk), side = 2 * r + 1;
    for (int a = 0; a < na; a++) {
        float th = (float)(PI * a / na), tx = cosf(th), ty = sinf(th);
        float *k = bank + (size_t)a * side * side;
        double sum = 0, env_sum = 0;
        for (int y = -r; y <= r; y++)
            for (int x = -r; x <= r; x++) {
                float across = -x * ty + y * tx, along = x * tx + y * ty;
                float env = expf(-(across * across + along * along) / (2 * sigma * sigma));
                k[(y + r) * side + x + r] = env * cosf((float)(2 * PI) * freq * across);
                sum += k[(y + r) * side + x + r];
                env_sum += env;
            }
        /* zero DC: a flat patch gives 0, whatever its grey level */
        for (int y = -r; y <= r; y++)
            for (int x = -r; x <= r; x++) {
                float across = -x * ty + y * tx, along = x * tx + y * ty;
                float env = expf(-(across * across + along * along) / (2 * sigma * sigma));
                k[(y + r) * side + x + r] -= (float)(env * sum / env_sum);
            }
    }
    return 0;
}

void vb_fp_gabor_bins(const float *orient, const uint8_t *mask, size_t n, int na, uint8_t *bins)
{
    for (size_t i = 0; i < n; i++)
        bins[i] = mask[i] ? (uint8_t)((int)lrintf(orient[i] / (float)PI * na) % na) : VB_FP_NO_BIN;
}

void vb_fp_gabor_apply(const float *img, const uint8_t *bins, int w, int h, const float *bank, int r, float *out)
{
    const int side = 2 * r + 1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            if (bins[i] == VB_FP_NO_BIN) {
                out[i] = 0;
                continue;
            }
            const float *k = bank + (size_t)bins[i] * side * side;
            float acc = 0;
            if (x >= r && y >= r && x + r < w && y + r < h) {
                for (int dy = -r; dy <= r; dy++) {
                    const float *row = img + (size_t)(y + dy) * w + x - r;
                    const float *kr = k + (dy + r) * side;
                    for (int dx = 0; dx < side; dx++)
                        acc += kr[dx] * row[dx];
                }
            } else {
                for (int dy = -r; dy <= r; dy++)
                    for (int dx = -r; dx <= r; dx++)
                        acc += k[(dy + r) * side + dx + r] * at_clamped(img, w, h, x + dx, y + dy);
            }
            out[i] = acc;
        }
}
