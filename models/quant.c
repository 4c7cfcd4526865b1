/* Element types, fp16 conversion and the ggml Q8_0 / Q4_0 block rules.
 * The quantizers follow ggml's reference functions (quantize_row_q8_0_ref,
 * quantize_row_q4_0_ref) so files we write load in ggml tools and vice versa. */
#include <math.h>
#include <string.h>

#include "models/tensor.h"

int vb_dtype_valid(uint32_t t)
{
    return t == VB_F32 || t == VB_F16 || t == VB_Q4_0 || t == VB_Q8_0;
}

const char *vb_dtype_name(vb_dtype t)
{
    switch (t) {
    case VB_F32: return "F32";
    case VB_F16: return "F16";
    case VB_Q4_0: return "Q4_0";
    case VB_Q8_0: return "Q8_0";
    }
    return "?";
}

int vb_dtype_block_len(vb_dtype t)
{
    return (t == VB_Q4_0 || t == VB_Q8_0) ? VB_QBLOCK : 1;
}

size_t vb_dtype_block_bytes(vb_dtype t)
{
    switch (t) {
    case VB_F32: return 4;
    case VB_F16: return 2;
    case VB_Q4_0: return VB_Q4_0_BLOCK_BYTES;
    case VB_Q8_0: return VB_Q8_0_BLOCK_BYTES;
    }
    return 0;
}

size_t vb_dtype_row_bytes(vb_dtype t, int64_t n)
{
    int bl = vb_dtype_block_len(t);
    if (n < 0 || n % bl)
        return 0;
    return (size_t)(n / bl) * vb_dtype_block_bytes(t);
}

int64_t vb_tensor_nelements(const vb_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->n_dims; i++) {
        if (t->ne[i] <= 0 || n > INT64_MAX / t->ne[i])
            return -1;
        n *= t->ne[i];
    }
    return n;
}

int64_t vb_tensor_nrows(const vb_tensor *t)
{
    int64_t n = vb_tensor_nelements(t);
    return n < 0 ? -1 : n / t->ne[0];
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t vb_fp32_to_fp16(float f)
{
    uint32_t x = f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t mag = x & 0x7fffffffu;
    if (mag >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00u | (mag > 0x7f800000u ? 0x200u : 0u));
    if (mag >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return (uint16_t)(sign | 0x7c00u);
    if (mag < 0x38800000u) { /* result is subnormal or zero */
        if (mag < 0x33000000u) /* below half the smallest subnormal */
            return (uint16_t)sign;
        uint32_t exp = mag >> 23;
        uint32_t mant = (mag & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - exp; /* 14..24 -> aligns to 2^-24 units */
        uint32_t q = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
        return (uint16_t)(sign | q);
    }
    uint32_t r = mag - 0x38000000u; /* rebias exponent 127 -> 15 */
    uint32_t q = r >> 13;
    uint32_t rem = r & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1)))
        q++;
    return (uint16_t)(sign | q);
}

float vb_fp16_to_fp32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24 is exact in float */
        float v = (float)mant * 5.9604644775390625e-08f;
        return sign ? -v : v;
    }
    if (exp == 31)
        return bits_f32(sign | 0x7f800000u | (mant << 13));
    return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

static void put_half(uint8_t *p, uint16_t h)
{
    p[0] = (uint8_t)(h & 0xff);
    p[1] = (uint8_t)(h >> 8);
}

static uint16_t get_half(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

void vb_quantize_row_q8_0(const float *x, uint8_t *blocks, int64_t n)
{
    for (int64_t b = 0; b < n / VB_QBLOCK; b++) {
        const float *xb = x + b * VB_QBLOCK;
        uint8_t *out = blocks + b * VB_Q8_0_BLOCK_BYTES;
        float amax = 0.0f;
        for (int j = 0; j < VB_QBLOCK; j++)
            amax = fmaxf(amax, fabsf(xb[j]));
        const float d = amax / 127.0f;
        const float id = d ? 1.0f / d : 0.0f;
        put_half(out, vb_fp32_to_fp16(d));
        for (int j = 0; j < VB_QBLOCK; j++)
            out[2 + j] = (uint8_t)(int8_t)roundf(xb[j] * id);
    }
}

void vb_quantize_row_q4_0(const float *x, uint8_t *blocks, int64_t n)
{
    for (int64_t b = 0; b < n / VB_QBLOCK; b++) {
        const float *xb = x + b * VB_QBLOCK;
        uint8_t *out = blocks + b * VB_Q4_0_BLOCK_BYTES;
        float amax = 0.0f, max = 0.0f; /* max keeps the sign of the largest magnitude */
        for (int j = 0; j < VB_QBLOCK; j++) {
            if (amax < fabsf(xb[j])) {
                amax = fabsf(xb[j]);
                max = xb[j];
            }
        }
        const float d = max / -8.0f;
        const float id = d ? 1.0f / d : 0.0f;
        put_half(out, vb_fp32_to_fp16(d));
        for (int j = 0; j < VB_QBLOCK / 2; j++) {
            float x0 = xb[j] * id, x1 = xb[j + VB_QBLOCK / 2] * id;
            int q0 = (int)(x0 + 8.5f), q1 = (int)(x1 + 8.5f);
            q0 = q0 > 15 ? 15 : q0;
            q1 = q1 > 15 ? 15 : q1;
            out[2 + j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void vb_dequantize_row_q8_0(const uint8_t *blocks, float *y, int64_t n)
{
    for (int64_t b = 0; b < n / VB_QBLOCK; b++) {
        const uint8_t *in = blocks + b * VB_Q8_0_BLOCK_BYTES;
        const float d = vb_fp16_to_fp32(get_half(in));
        for (int j = 0; j < VB_QBLOCK; j++)
            y[b * VB_QBLOCK + j] = (float)(int8_t)in[2 + j] * d;
    }
}

void vb_dequantize_row_q4_0(const uint8_t *blocks, float *y, int64_t n)
{
    for (int64_t b = 0; b < n / VB_QBLOCK; b++) {
        const uint8_t *in = blocks + b * VB_Q4_0_BLOCK_BYTES;
        const float d = vb_fp16_to_fp32(get_half(in));
        for (int j = 0; j < VB_QBLOCK / 2; j++) {
            y[b * VB_QBLOCK + j] = (float)((in[2 + j] & 0x0f) - 8) * d;
            y[b * VB_QBLOCK + j + VB_QBLOCK / 2] = (float)((in[2 + j] >> 4) - 8) * d;
        }
    }
}

void vb_convert_row_f16(const float *x, uint16_t *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = vb_fp32_to_fp16(x[i]);
}

void vb_dequantize_row_f16(const uint16_t *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = vb_fp16_to_fp32(x[i]);
}

int vb_tensor_to_f32(const vb_tensor *t, float *out, vb_err *e)
{
    int64_t n = vb_tensor_nelements(t);
    if (n < 0)
        return vb_fail(e, VB_EXIT_INPUT, "tensor %s: bad shape", t->name);
    int64_t row = t->ne[0], rows = n / row;
    size_t row_bytes = vb_dtype_row_bytes(t->type, row);
    if (!row_bytes || (size_t)rows * row_bytes != t->nbytes)
        return vb_fail(e, VB_EXIT_INPUT, "tensor %s: %zu bytes do not match %s shape", t->name,
                       t->nbytes, vb_dtype_name(t->type));
    const uint8_t *src = t->data;
    for (int64_t r = 0; r < rows; r++, src += row_bytes) {
        float *dst = out + r * row;
        switch (t->type) {
        case VB_F32: memcpy(dst, src, row_bytes); break;
        case VB_F16: vb_dequantize_row_f16((const uint16_t *)(const void *)src, dst, row); break;
        case VB_Q8_0: vb_dequantize_row_q8_0(src, dst, row); break;
        case VB_Q4_0: vb_dequantize_row_q4_0(src, dst, row); break;
        }
    }
    return 0;
}
