/* Element types: fp16 conversion and the ggml Q8_0 / Q4_0 block rules, checked against
 * values computed by hand from the rules (not by the code under test). */
#include <stdlib.h>
#include <string.h>

#include "cli/engine.h"
#include "models/quantize.h"
#include "models/tensor.h"
#include "tests/testlib.h"

static void test_fp16_known_values(void)
{
    CHECK(vb_fp32_to_fp16(0.0f) == 0x0000);
    CHECK(vb_fp32_to_fp16(-0.0f) == 0x8000);
    CHECK(vb_fp32_to_fp16(1.0f) == 0x3c00);
    CHECK(vb_fp32_to_fp16(-2.0f) == 0xc000);
    CHECK(vb_fp32_to_fp16(65504.0f) == 0x7bff);           /* largest finite */
    CHECK(vb_fp32_to_fp16(65519.0f) == 0x7bff);           /* rounds down */
    CHECK(vb_fp32_to_fp16(65520.0f) == 0x7c00);           /* rounds to inf */
    CHECK(vb_fp32_to_fp16(1.0f + 1.0f / 2048) == 0x3c00); /* tie -> even (mantissa 0) */
    CHECK(vb_fp32_to_fp16(1.0f + 3.0f / 2048) == 0x3c02); /* tie -> even (mantissa 2) */
    CHECK(vb_fp32_to_fp16(5.9604644775390625e-08f) == 0x0001); /* smallest subnormal 2^-24 */
    CHECK(vb_fp32_to_fp16(2.98023223876953125e-08f) == 0x0000); /* 2^-25: tie -> even (0) */
    CHECK(vb_fp32_to_fp16(4.0e-08f) == 0x0001);             /* above the tie: rounds up */
    CHECK(vb_fp32_to_fp16(6.103515625e-05f) == 0x0400);     /* smallest normal 2^-14 */
    CHECK(vb_fp32_to_fp16(1.0f / 0.0f) == 0x7c00);
    CHECK((vb_fp32_to_fp16(0.0f / 0.0f) & 0x7c00) == 0x7c00 && (vb_fp32_to_fp16(0.0f / 0.0f) & 0x3ff));
    CHECK(vb_fp16_to_fp32(0x3555) == 0.333251953125f);
    CHECK(vb_fp16_to_fp32(0x0001) == 5.9604644775390625e-08f);
    CHECK(vb_fp16_to_fp32(0xfbff) == -65504.0f);
}

/* Every finite half survives half -> float -> half unchanged. */
static void test_fp16_round_trip_all(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
            continue; /* NaN payloads may be canonicalized */
        if (vb_fp32_to_fp16(vb_fp16_to_fp32((uint16_t)h)) != h)
            bad++;
    }
    CHECKF(bad == 0, "%d halves do not round-trip", bad);
}

/* Q8_0: x_j = j - 16 for j = 0..31. amax = 16, d = 16/127, stored as fp16(d);
 * q_j = round(x_j * 127/16) computed with 1/d in float. */
static void test_q8_0_block_rule(void)
{
    float x[32], y[32];
    uint8_t blk[VB_Q8_0_BLOCK_BYTES];
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j - 16);
    vb_quantize_row_q8_0(x, blk, 32);
    uint16_t d_half = (uint16_t)(blk[0] | blk[1] << 8);
    CHECK(d_half == vb_fp32_to_fp16(16.0f / 127.0f));
    CHECK((int8_t)blk[2] == -127);      /* x_0 = -16 -> -127 */
    CHECK((int8_t)blk[2 + 16] == 0);    /* x_16 = 0 */
    CHECK((int8_t)blk[2 + 17] == 8);    /* 1 * 127/16 = 7.94 -> 8 */
    CHECK((int8_t)blk[2 + 24] == 64);   /* 8 * 127/16 = 63.5 -> 64 (round half away) */
    CHECK((int8_t)blk[2 + 31] == 119);  /* 15 * 127/16 = 119.06 */
    vb_dequantize_row_q8_0(blk, y, 32);
    float d = vb_fp16_to_fp32(d_half);
    for (int j = 0; j < 32; j++)
        CHECKF(y[j] == (float)(int8_t)blk[2 + j] * d, "dequant %d", j);
    CHECK(vb_max_abs(y, x, 32) <= d / 2 + 16 * fabs(d - 16.0 / 127)); /* rounding + scale rounding */
}

/* Q4_0: x_j = j - 8 for j < 16 and x_j = (j - 24) / 2 for j >= 16. The largest magnitude
 * is x_0 = -8, so d = -8 / -8 = 1 and q_j = (int)(x_j + 8.5): low nibble of byte j holds
 * q_j, the high nibble q_{j+16}. */
static void test_q4_0_block_rule(void)
{
    float x[32], y[32];
    uint8_t blk[VB_Q4_0_BLOCK_BYTES];
    for (int j = 0; j < 16; j++)
        x[j] = (float)(j - 8), x[j + 16] = (float)(j - 8) / 2;
    vb_quantize_row_q4_0(x, blk, 32);
    CHECK((blk[0] | blk[1] << 8) == 0x3c00); /* d = 1.0 */
    for (int j = 0; j < 16; j++) {
        int lo = j;                        /* (j - 8) + 8.5 truncated */
        int hi = (int)((float)(j - 8) / 2 + 8.5f);
        CHECKF(blk[2 + j] == (uint8_t)(lo | hi << 4), "byte %d = 0x%02x, want 0x%02x", j, blk[2 + j], lo | hi << 4);
    }
    vb_dequantize_row_q4_0(blk, y, 32);
    for (int j = 0; j < 16; j++) {
        CHECK(y[j] == (float)(j - 8));
        CHECK(y[j + 16] == (float)((int)((float)(j - 8) / 2 + 8.5f) - 8));
    }
    /* A positive maximum gives a negative scale; clamping keeps q <= 15. */
    for (int j = 0; j < 32; j++)
        x[j] = j == 5 ? 4.0f : -1.0f;
    vb_quantize_row_q4_0(x, blk, 32);
    vb_dequantize_row_q4_0(blk, y, 32);
    CHECK(vb_fp16_to_fp32((uint16_t)(blk[0] | blk[1] << 8)) == -0.5f);
    CHECK(y[5] == 4.0f && y[0] == -1.0f);
}

static void test_zero_block(void)
{
    float x[64] = {0}, y[64];
    uint8_t q8[2 * VB_Q8_0_BLOCK_BYTES], q4[2 * VB_Q4_0_BLOCK_BYTES];
    vb_quantize_row_q8_0(x, q8, 64);
    vb_quantize_row_q4_0(x, q4, 64);
    vb_dequantize_row_q8_0(q8, y, 64);
    CHECK(vb_max_abs(y, x, 64) == 0);
    vb_dequantize_row_q4_0(q4, y, 64);
    CHECK(vb_max_abs(y, x, 64) == 0);
}

/* Random rows: the error bound of each block is half a step (d/2), plus fp16 scale rounding. */
static void test_error_bounds(void)
{
    enum { N = 32 * 64 };
    float *x = malloc(N * 4), *y = malloc(N * 4);
    uint8_t *q = malloc(N / 32 * VB_Q8_0_BLOCK_BYTES);
    vb_test_fill_random(x, N, 99, -3, 3);
    vb_quantize_row_q8_0(x, q, N);
    vb_dequantize_row_q8_0(q, y, N);
    for (int b = 0; b < N / 32; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(x[b * 32 + j]));
        double bound = amax / 127 * 0.5 * 1.002 + amax * 0.001; /* half step, fp16 scale error */
        CHECKF(vb_max_abs(y + b * 32, x + b * 32, 32) <= bound, "q8 block %d", b);
    }
    vb_quantize_row_q4_0(x, q, N);
    vb_dequantize_row_q4_0(q, y, N);
    for (int b = 0; b < N / 32; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(x[b * 32 + j]));
        double bound = amax / 8 * 1.002 + amax * 0.002; /* one step at the clamped end */
        CHECKF(vb_max_abs(y + b * 32, x + b * 32, 32) <= bound, "q4 block %d", b);
    }
    free(x), free(y), free(q);
}

static void test_row_sizes(void)
{
    CHECK(vb_dtype_row_bytes(VB_F32, 7) == 28);
    CHECK(vb_dtype_row_bytes(VB_F16, 7) == 14);
    CHECK(vb_dtype_row_bytes(VB_Q8_0, 64) == 68);
    CHECK(vb_dtype_row_bytes(VB_Q4_0, 288) == 162);
    CHECK(vb_dtype_row_bytes(VB_Q8_0, 147) == 0); /* not a multiple of 32 */
    CHECK(!vb_dtype_valid(3) && vb_dtype_valid(8));
}

/* The traits table: every valid type has one entry whose shape matches the named block
 * structs, and whose from_float/to_float pair round-trips a row within the type's step
 * (exactly for F32; an unaligned destination must work, blocks are byte arrays). */
static void test_type_traits(void)
{
    const struct {
        vb_dtype t;
        const char *name;
        int block_len;
        size_t block_bytes;
        int quantized;
        double max_rel;
    } want[] = {{VB_F32, "F32", 1, 4, 0, 0}, {VB_F16, "F16", 1, 2, 0, 1.0 / 1024},
                {VB_Q8_0, "Q8_0", 32, sizeof(vb_block_q8_0), 1, 1.0 / 127}, {VB_Q4_0, "Q4_0", 32, sizeof(vb_block_q4_0), 1, 1.0 / 8}};
    int n_valid = 0;
    for (uint32_t t = 0; t < 64; t++)
        n_valid += vb_type_traits_of(t) != NULL;
    CHECK(n_valid == 4 && !vb_type_traits_of(3) && !vb_type_traits_of(1000));
    float x[64], y[64];
    uint8_t storage[64 * 4 + 1];
    for (int i = 0; i < 64; i++)
        x[i] = sinf((float)i * 0.7f) * 3.0f;
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        const vb_type_traits *tt = vb_type_traits_of(want[k].t);
        CHECK(tt && !strcmp(tt->name, want[k].name) && !strcmp(vb_dtype_name(want[k].t), want[k].name));
        if (!tt)
            continue;
        CHECK(tt->block_len == want[k].block_len && tt->block_bytes == want[k].block_bytes);
        CHECK(tt->is_quantized == want[k].quantized);
        CHECK(vb_dtype_row_bytes(want[k].t, 64) == 64 / (size_t)tt->block_len * tt->block_bytes);
        tt->from_float(x, storage + 1, 64); /* odd address on purpose */
        tt->to_float(storage + 1, y, 64);
        CHECKF(vb_max_abs(y, x, 64) <= want[k].max_rel * 3.0 * 1.01, "%s round trip max-abs %.3g", tt->name,
               vb_max_abs(y, x, 64));
    }
}

/* The real model at each level: which tensors get which type, sizes against fp32, and
 * that the quantized weights decode to within the block error of the fp32 ones. */
static void test_model_levels(void)
{
    vb_model m;
    vb_err e = {0};
    int rc = vb_model_load(vb_default_model_path(), &m, &e);
    CHECKF(rc == 0, "%s", e.msg);
    if (rc)
        return;
    size_t fp32_bytes = vb_model_tensor_bytes(&m);
    const double want_ratio[VB_QUANT_COUNT] = {1.0, 0.5, 34.0 / 128, 18.0 / 128};
    for (int l = 0; l < VB_QUANT_COUNT; l++) {
        vb_model q;
        rc = vb_model_quantize(&m, (vb_quant_level)l, &q, NULL, &e);
        CHECKF(rc == 0, "%s: %s", vb_quant_name((vb_quant_level)l), e.msg);
        if (rc)
            continue;
        double ratio = (double)vb_model_tensor_bytes(&q) / fp32_bytes;
        CHECKF(fabs(ratio - want_ratio[l]) < 0.01, "%s size ratio %.4f", vb_quant_name((vb_quant_level)l), ratio);
        const vb_tensor *first = vb_model_tensor(&q, "conv32_down/conv/filters");
        const vb_tensor *mid = vb_model_tensor(&q, "conv128_1/conv1/conv/filters");
        const vb_tensor *bias = vb_model_tensor(&q, "conv128_1/conv1/conv/bias");
        const vb_dtype want_mid[VB_QUANT_COUNT] = {VB_F32, VB_F16, VB_Q8_0, VB_Q4_0};
        CHECK(first && first->type == (l == 0 ? VB_F32 : VB_F16)); /* 3 input channels */
        CHECK(mid && mid->type == want_mid[l]);
        CHECK(bias && bias->type == VB_F32);
        const vb_kv *rec = vb_model_kv(&q, "veribench.quantized_tensors");
        CHECK(rec && rec->arr_n == 30); /* conv32_down + 14 blocks x 2 convs + fc */
        const vb_kv *lvl = vb_model_kv(&q, "veribench.quant");
        CHECK(lvl && !strcmp(lvl->str, vb_quant_name((vb_quant_level)l)));
        const vb_tensor *orig = vb_model_tensor(&m, "conv128_1/conv1/conv/filters");
        size_t n = (size_t)vb_tensor_nelements(orig);
        float *a = malloc(n * 4), *b = malloc(n * 4);
        CHECK(vb_tensor_to_f32(orig, a, &e) == 0 && vb_tensor_to_f32(mid, b, &e) == 0);
        const double max_nmse[VB_QUANT_COUNT] = {0, 1e-6, 1e-4, 2e-2};
        double nmse = vb_nmse(b, a, n);
        CHECKF(nmse <= max_nmse[l], "%s weight nmse %.3g", vb_quant_name((vb_quant_level)l), nmse);
        free(a), free(b);
        vb_model_free(&q);
    }
    vb_model_free(&m);
}

int main(void)
{
    RUN(test_model_levels);
    RUN(test_fp16_known_values);
    RUN(test_fp16_round_trip_all);
    RUN(test_q8_0_block_rule);
    RUN(test_q4_0_block_rule);
    RUN(test_zero_block);
    RUN(test_error_bounds);
    RUN(test_row_sizes);
    RUN(test_type_traits);
    return vb_test_finish();
}
