/* The tensor-type traits table (models/tensor.h): element types, fp16 conversion and the
 * ggml Q8_0 / Q4_0 block rules. The quantizers follow ggml's reference functions
 * (quantize_row_q8_0_ref, quantize_row_q4_0_ref) so files we write load in ggml tools and
 * vice versa. The model-level quantizer is models/quantize.c. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "models/tensor.h"

int vb_dtype_valid(uint32_t t)
{
    return vb_type_traits_of(t) != NULL;
}

const char *vb_dtype_name(vb_dtype t)
{
    const vb_type_traits *tt = vb_type_traits_of(t);
    return tt ? tt->name : "?";
}

int vb_dtype_block_len(vb_dtype t)
{
    const vb_type_traits *tt = vb_type_traits_of(t);
    return tt ? tt->block_len : 1;
}

size_t vb_dtype_block_bytes(vb_dtype t)
{
    const vb_type_traits *tt = vb_type_traits_of(t);
    return tt ? tt->block_bytes : 0;
}

size_t vb_dtype_row_bytes(vb_dtype t, int64_t n)
{
    const vb_type_traits *tt = vb_type_traits_of(t);
    if (!tt || n < 0 || n % tt->block_len)
        return 0;
    return (size_t)(n / tt->block_len) * tt->block_bytes;
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

/* fp16 values as bytes, little-endian whatever the host (ggml files are). */
static void put_half(uint8_t *p, uint16_t h)
{
    p[0] = (uint8_t)(h & 0xff);
    p[1] = (uint8_t)(h >> 8);
}

static uint16_t get_half(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

void vb_quantize_row_q8_0(const float *x, void *blocks, int64_t n)
{
    vb_block_q8_0 *out = blocks;
    for (int64_t b = 0; b < n / VB_QBLOCK; b++, out++) {
        const float *xb = x + b * VB_QBLOCK;
        float amax = 0.0f;
        for (int j = 0; j < VB_QBLOCK; j++)
            amax = fmaxf(amax, fabsf(xb[j]));
        const float d = amax / 127.0f;
        const float id = d ? 1.0f / d : 0.0f;
        put_half(out->d, vb_fp32_to_fp16(d));
        for (int j = 0; j < VB_QBLOCK; j++)
            out->qs[j] = (int8_t)roundf(xb[j] * id);
    }
}

void vb_quantize_row_q4_0(const float *x, void *blocks, int64_t n)
{
    vb_block_q4_0 *out = blocks;
    for (int64_t b = 0; b < n / VB_QBLOCK; b++, out++) {
        const float *xb = x + b * VB_QBLOCK;
        float amax = 0.0f, max = 0.0f; /* max keeps the sign of the largest magnitude */
        for (int j = 0; j < VB_QBLOCK; j++) {
            if (amax < fabsf(xb[j])) {
                amax = fabsf(xb[j]);
                max = xb[j];
            }
        }
        const float d = max / -8.0f;
        const float id = d ? 1.0f / d : 0.0f;
        put_half(out->d, vb_fp32_to_fp16(d));
        for (int j = 0; j < VB_QBLOCK / 2; j++) {
            float x0 = xb[j] * id, x1 = xb[j + VB_QBLOCK / 2] * id;
            int q0 = (int)(x0 + 8.5f), q1 = (int)(x1 + 8.5f);
            q0 = q0 > 15 ? 15 : q0;
            q1 = q1 > 15 ? 15 : q1;
            out->qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void vb_dequantize_row_q8_0(const void *blocks, float *y, int64_t n)
{
    const vb_block_q8_0 *in = blocks;
    for (int64_t b = 0; b < n / VB_QBLOCK; b++, in++) {
        const float d = vb_fp16_to_fp32(get_half(in->d));
        for (int j = 0; j < VB_QBLOCK; j++)
            y[b * VB_QBLOCK + j] = (float)in->qs[j] * d;
    }
}

void vb_dequantize_row_q4_0(const void *blocks, float *y, int64_t n)
{
    const vb_block_q4_0 *in = blocks;
    for (int64_t b = 0; b < n / VB_QBLOCK; b++, in++) {
        const float d = vb_fp16_to_fp32(get_half(in->d));
        for (int j = 0; j < VB_QBLOCK / 2; j++) {
            y[b * VB_QBLOCK + j] = (float)((in->qs[j] & 0x0f) - 8) * d;
            y[b * VB_QBLOCK + j + VB_QBLOCK / 2] = (float)((in->qs[j] >> 4) - 8) * d;
        }
    }
}

void vb_convert_row_f16(const float *x, void *y, int64_t n)
{
    uint8_t *h = y;
    for (int64_t i = 0; i < n; i++)
        put_half(h + 2 * i, vb_fp32_to_fp16(x[i]));
}

void vb_dequantize_row_f16(const void *x, float *y, int64_t n)
{
    const uint8_t *h = x;
    for (int64_t i = 0; i < n; i++)
        y[i] = vb_fp16_to_fp32(get_half(h + 2 * i));
}

static void row_f32_to_float(const void *row, float *y, int64_t n)
{
    memcpy(y, row, (size_t)n * sizeof(float));
}

static void row_f32_from_float(const float *x, void *row, int64_t n)
{
    memcpy(row, x, (size_t)n * sizeof(float));
}

static const vb_type_traits type_traits[] = {
    [VB_F32] = {"F32", 1, 4, 0, row_f32_to_float, row_f32_from_float},
    [VB_F16] = {"F16", 1, 2, 0, vb_dequantize_row_f16, vb_convert_row_f16},
    [VB_Q4_0] = {"Q4_0", VB_QBLOCK, sizeof(vb_block_q4_0), 1, vb_dequantize_row_q4_0, vb_quantize_row_q4_0},
    [VB_Q8_0] = {"Q8_0", VB_QBLOCK, sizeof(vb_block_q8_0), 1, vb_dequantize_row_q8_0, vb_quantize_row_q8_0},
};

const vb_type_traits *vb_type_traits_of(uint32_t t)
{
    if (t >= sizeof type_traits / sizeof type_traits[0] || !type_traits[t].name)
        return NULL;
    return &type_traits[t];
}

void vb_dtype_from_f32_rows(vb_dtype t, const float *x, int64_t row, int64_t n_rows, void *out)
{
    const vb_type_traits *tt = vb_type_traits_of(t);
    size_t row_bytes = vb_dtype_row_bytes(t, row);
    uint8_t *dst = out;
    for (int64_t r = 0; r < n_rows; r++, x += row, dst += row_bytes)
        tt->from_float(x, dst, row);
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
    const vb_type_traits *tt = vb_type_traits_of(t->type);
    const uint8_t *src = t->data;
    for (int64_t r = 0; r < rows; r++, src += row_bytes)
        tt->to_float(src, out + r * row, row);
    return 0;
}
