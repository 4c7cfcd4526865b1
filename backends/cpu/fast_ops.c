#include "backends/cpu/fast_ops.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define VB_X86_SIMD 1
#else
#define VB_X86_SIMD 0
#endif

#define MR 4 /* output rows (pixels) per micro-tile */
#define NR VB_FAST_NR
#define QK VB_QBLOCK                                  /* k rows per quantized block */
#define QSCALE_BYTES (NR * sizeof(float))             /* a block's scales, one per channel */
#define Q8_GROUP_BYTES (QSCALE_BYTES + QK * NR)       /* scales + int8 [QK][NR] */
#define PANEL_ALIGN 64                                /* a cache line */

/* ---------------------------------------------------------------------------------------
 * Packing */

static int alloc_panels(vb_packed_weights *out, vb_dtype type, int cout, int k, size_t panel_bytes)
{
    out->type = type;
    out->k = k;
    out->cout = cout;
    out->n_panels = (cout + NR - 1) / NR;
    out->panel_bytes = panel_bytes;
    out->bytes = panel_bytes * (size_t)out->n_panels;
    /* aligned_alloc wants a size that is a multiple of the alignment */
    size_t alloc = (out->bytes + PANEL_ALIGN - 1) / PANEL_ALIGN * PANEL_ALIGN;
    out->data = aligned_alloc(PANEL_ALIGN, alloc ? alloc : PANEL_ALIGN);
    if (!out->data)
        return -1;
    memset(out->data, 0, alloc);
    return 0;
}

int vb_fast_pack(const float *w, int cout, int k, vb_packed_weights *out)
{
    if (alloc_panels(out, VB_F32, cout, k, (size_t)k * NR * sizeof(float)))
        return -1;
    float *panels = (float *)(void *)out->data;
    for (int co = 0; co < cout; co++)
        for (int i = 0; i < k; i++)
            panels[((size_t)(co / NR) * k + i) * NR + co % NR] = w[(size_t)co * k + i];
    return 0;
}

static uint16_t load_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8)); /* GGUF is little-endian */
}

/* F32 or F16 rows (one per output channel, k elements each) into [K][NR] panels, bits
 * unchanged. */
static void pack_float_rows(const vb_tensor *t, vb_packed_weights *out)
{
    const int k = out->k;
    const size_t esize = t->type == VB_F32 ? 4 : 2;
    const uint8_t *src = t->data;
    for (int co = 0; co < out->cout; co++) {
        uint8_t *panel = out->data + (size_t)(co / NR) * out->panel_bytes;
        for (int i = 0; i < k; i++) /* memcpy: tensor data carries no alignment promise */
            memcpy(panel + ((size_t)i * NR + co % NR) * esize, src + ((size_t)co * k + i) * esize, esize);
    }
}

/* Q8_0 and Q4_0 blocks into [k-block]{float scale[NR]; int8 q[QK][NR]}. Q4_0 nibbles are
 * widened to int8 as (nibble - 8), which is the value the block rule multiplies by d. */
static void pack_block_rows(const vb_tensor *t, vb_packed_weights *out)
{
    const int k = out->k, nblocks = k / QK;
    const size_t bbytes = vb_dtype_block_bytes(t->type);
    const uint8_t *src = t->data;
    for (int co = 0; co < out->cout; co++) {
        uint8_t *panel = out->data + (size_t)(co / NR) * out->panel_bytes;
        const int c = co % NR;
        for (int b = 0; b < nblocks; b++) {
            const uint8_t *blk = src + ((size_t)co * nblocks + b) * bbytes;
            uint8_t *group = panel + (size_t)b * Q8_GROUP_BYTES;
            float d = vb_fp16_to_fp32(load_u16(blk));
            memcpy(group + c * sizeof(float), &d, sizeof d);
            int8_t *q = (int8_t *)(group + QSCALE_BYTES);
            for (int j = 0; j < QK; j++) {
                int v;
                if (t->type == VB_Q8_0)
                    v = (int8_t)blk[2 + j];
                else
                    v = (j < QK / 2 ? (blk[2 + j] & 0x0f) : (blk[2 + j - QK / 2] >> 4)) - 8;
                q[j * NR + c] = (int8_t)v;
            }
        }
    }
}

int vb_fast_pack_tensor(const vb_tensor *t, int cout, vb_packed_weights *out, vb_err *e)
{
    memset(out, 0, sizeof *out);
    int64_t n = vb_tensor_nelements(t);
    if (n <= 0 || cout <= 0 || n % cout)
        return vb_fail(e, VB_EXIT_INPUT, "tensor %s: %lld elements do not split into %d output channels", t->name,
                       (long long)n, cout);
    int64_t k = n / cout;
    size_t row_bytes = vb_dtype_row_bytes(t->type, t->ne[0]);
    if (!row_bytes || row_bytes * (size_t)(n / t->ne[0]) != t->nbytes)
        return vb_fail(e, VB_EXIT_INPUT, "tensor %s: %zu bytes do not match %s shape", t->name, t->nbytes,
                       vb_dtype_name(t->type));
    if (k > INT_MAX / NR / 4 || (vb_dtype_block_len(t->type) > 1 && k % QK))
        return vb_fail(e, VB_EXIT_INPUT, "tensor %s: reduction length %lld does not fit %s panels", t->name,
                       (long long)k, vb_dtype_name(t->type));
    size_t panel_bytes = 0;
    switch (t->type) {
    case VB_F32: panel_bytes = (size_t)k * NR * 4; break;
    case VB_F16: panel_bytes = (size_t)k * NR * 2; break;
    case VB_Q8_0: /* fall through: Q4_0 is widened to the Q8_0 layout */
    case VB_Q4_0: panel_bytes = (size_t)(k / QK) * Q8_GROUP_BYTES; break;
    }
    if (alloc_panels(out, t->type, cout, (int)k, panel_bytes))
        return vb_fail(e, VB_EXIT_IO, "out of memory packing %s", t->name);
    if (t->type == VB_F32 || t->type == VB_F16)
        pack_float_rows(t, out);
    else
        pack_block_rows(t, out);
    return 0;
}

void vb_fast_pack_free(vb_packed_weights *p)
{
    free(p->data);
    p->data = NULL;
}

/* ---------------------------------------------------------------------------------------
 * Micro-kernels. Each computes one MR x NR tile over the whole reduction: acc_out[i][c] =
 * sum over k, in order, of a_i[k] * w[k][c], where w is the weight converted to float
 * exactly as vb_tensor_to_f32 decodes it. Rows past m read row 0 again; the caller drops
 * them.
 *
 * Two families, picked per call (pick_kernel):
 *   AVX2+FMA (x86-64 with those features; F16C too for F16): intrinsics, the tile in eight
 *     8-wide accumulators, the weights converted in registers, acc = fma(a, w, acc).
 *   portable C (everywhere else): a multiply then an add (ISO C mode does not contract).
 * Within a family every type runs the same operations on the same floats in the same order,
 * so F16/Q8_0/Q4_0 give bit-identical results to F32 on the decoded weights; across the
 * families results differ by the FMA's single rounding (tests compare each to the
 * reference ops).
 *
 * Measured on an AMD EPYC (Zen 3), one thread, GEMM only, best of 20 (GMAC/s, shapes of
 * this net's 3x3 convs, K = 576..2304): the old auto-vectorized mul+add fp32 kernel ~27;
 * AVX2+FMA F32 ~44, F16 ~45, Q8_0 ~35, Q4_0 widened to int8 ~35, Q4_0 kept as nibbles and
 * unpacked in the kernel ~21 (hence the widening at load). A 6 x 16 tile measured the same
 * as 4 x 16. For Q8_0, none of these beat the plain per-weight convert-and-scale (which is
 * also exact): summing a block's 32 rows unscaled and scaling once per block, converting
 * the next row ahead, unrolling two rows, or converting int8 with the 1.5*2^23 magic-number
 * add instead of vcvtdq2ps. */

typedef void tile_fn(const float *a, size_t lda, int m, const uint8_t *panel, int k, float *acc_out);

#define TILE_ROWS                                                                              \
    const float *a0 = a, *a1 = a + (m > 1 ? lda : 0), *a2 = a + (m > 2 ? 2 * lda : 0),         \
                *a3 = a + (m > 3 ? 3 * lda : 0)

/* acc[MR][NR] += a rows [0, kc) x b[kc][NR] */
static void accumulate_rows(float acc[MR][NR], const float *a0, const float *a1, const float *a2,
                            const float *a3, const float *b, int kc)
{
    for (int i = 0; i < kc; i++, b += NR) {
        const float v0 = a0[i], v1 = a1[i], v2 = a2[i], v3 = a3[i];
        for (int j = 0; j < NR; j++) {
            acc[0][j] += v0 * b[j];
            acc[1][j] += v1 * b[j];
            acc[2][j] += v2 * b[j];
            acc[3][j] += v3 * b[j];
        }
    }
}

static void tile_f32_c(const float *a, size_t lda, int m, const uint8_t *panel, int k, float *acc_out)
{
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    TILE_ROWS;
    accumulate_rows(acc, a0, a1, a2, a3, (const float *)(const void *)panel, k);
    memcpy(acc_out, acc, sizeof acc);
}

/* The portable kernels for stored types decode QK rows of the panel at a time into floats
 * on the stack, then accumulate them as tile_f32_c does. */
static void tile_f16_c(const float *a, size_t lda, int m, const uint8_t *panel, int k, float *acc_out)
{
    float acc[MR][NR], b[QK * NR];
    memset(acc, 0, sizeof acc);
    TILE_ROWS;
    for (int k0 = 0; k0 < k; k0 += QK) {
        const int kc = k - k0 < QK ? k - k0 : QK;
        for (int i = 0; i < kc * NR; i++)
            b[i] = vb_fp16_to_fp32(load_u16(panel + ((size_t)k0 * NR + i) * 2));
        accumulate_rows(acc, a0 + k0, a1 + k0, a2 + k0, a3 + k0, b, kc);
    }
    memcpy(acc_out, acc, sizeof acc);
}

static void tile_q8_c(const float *a, size_t lda, int m, const uint8_t *panel, int k, float *acc_out)
{
    float acc[MR][NR], b[QK * NR], scale[NR];
    memset(acc, 0, sizeof acc);
    TILE_ROWS;
    for (int k0 = 0; k0 < k; k0 += QK, panel += Q8_GROUP_BYTES) {
        memcpy(scale, panel, sizeof scale);
        const int8_t *q = (const int8_t *)(panel + QSCALE_BYTES);
        for (int i = 0; i < QK * NR; i++)
            b[i] = (float)q[i] * scale[i % NR];
        accumulate_rows(acc, a0 + k0, a1 + k0, a2 + k0, a3 + k0, b, QK);
    }
    memcpy(acc_out, acc, sizeof acc);
}

#if VB_X86_SIMD
#define SIMD_TARGET "avx2,fma"
#define ACC_DECL                                                                               \
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, \
           c30 = c00, c31 = c00
#define ACC_ROW(c0, c1, ap, i, b0, b1)                                                         \
    do {                                                                                       \
        const __m256 v_ = _mm256_broadcast_ss((ap) + (i));                                     \
        c0 = _mm256_fmadd_ps(v_, b0, c0);                                                      \
        c1 = _mm256_fmadd_ps(v_, b1, c1);                                                      \
    } while (0)
/* one k step: the four rows' a[i] times the 16 weights b0 (channels 0-7), b1 (8-15) */
#define ACC_STEP(i, b0, b1)                                                                    \
    do {                                                                                       \
        ACC_ROW(c00, c01, a0, i, b0, b1);                                                      \
        ACC_ROW(c10, c11, a1, i, b0, b1);                                                      \
        ACC_ROW(c20, c21, a2, i, b0, b1);                                                      \
        ACC_ROW(c30, c31, a3, i, b0, b1);                                                      \
    } while (0)
#define ACC_STORE(out)                                                                         \
    do {                                                                                       \
        _mm256_storeu_ps(out + 0, c00), _mm256_storeu_ps(out + 8, c01);                        \
        _mm256_storeu_ps(out + 16, c10), _mm256_storeu_ps(out + 24, c11);                      \
        _mm256_storeu_ps(out + 32, c20), _mm256_storeu_ps(out + 40, c21);                      \
        _mm256_storeu_ps(out + 48, c30), _mm256_storeu_ps(out + 56, c31);                      \
    } while (0)

__attribute__((target(SIMD_TARGET))) static void tile_f32_avx2(const float *a, size_t lda, int m,
                                                              const uint8_t *panel, int k, float *acc_out)
{
    TILE_ROWS;
    ACC_DECL;
    const float *w = (const float *)(const void *)panel;
    for (int i = 0; i < k; i++, w += NR) {
        const __m256 b0 = _mm256_loadu_ps(w), b1 = _mm256_loadu_ps(w + 8);
        ACC_STEP(i, b0, b1);
    }
    ACC_STORE(acc_out);
}

/* vcvtph2ps is exact, like vb_fp16_to_fp32 (subnormal halves included). Intrinsics because
 * GCC 12 does not vectorize half -> float: a _Float16 loop under target("f16c") compiles to
 * one scalar vcvtph2ps per element at -O2 and -O3. */
__attribute__((target(SIMD_TARGET ",f16c"))) static void tile_f16_avx2(const float *a, size_t lda, int m,
                                                                     const uint8_t *panel, int k,
                                                                     float *acc_out)
{
    TILE_ROWS;
    ACC_DECL;
    for (int i = 0; i < k; i++, panel += NR * 2) {
        const __m256 b0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)panel));
        const __m256 b1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(panel + 16)));
        ACC_STEP(i, b0, b1);
    }
    ACC_STORE(acc_out);
}

/* 8 int8 at p -> 8 floats, times the channels' scales s: (float)q * d, one rounding, as
 * vb_dequantize_row_q8_0 / _q4_0 compute it. */
#define Q8_TO_PS(p, s) \
    _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p)))), s)

__attribute__((target(SIMD_TARGET))) static void tile_q8_avx2(const float *a, size_t lda, int m, const uint8_t *panel,
                                                             int k, float *acc_out)
{
    TILE_ROWS;
    ACC_DECL;
    for (int k0 = 0; k0 < k; k0 += QK, panel += Q8_GROUP_BYTES) {
        const __m256 s0 = _mm256_loadu_ps((const float *)(const void *)panel);
        const __m256 s1 = _mm256_loadu_ps((const float *)(const void *)panel + 8);
        const uint8_t *q = panel + QSCALE_BYTES;
        for (int r = 0; r < QK; r++, q += NR) {
            const __m256 b0 = Q8_TO_PS(q, s0), b1 = Q8_TO_PS(q + 8, s1);
            ACC_STEP(k0 + r, b0, b1);
        }
    }
    ACC_STORE(acc_out);
}
#endif

static int use_simd = 1;

int vb_fast_set_simd(int enable)
{
    int old = use_simd;
    use_simd = enable;
    return old;
}

#if VB_X86_SIMD
/* What the CPU has, found once. F16C through cpuid: clang's __builtin_cpu_supports does not
 * know "f16c". (The AVX2 check covers the OS saving the ymm registers.) */
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static int cpu_avx2_fma, cpu_f16c;

static void detect_cpu(void)
{
    unsigned a, b, c, d;
    cpu_avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    cpu_f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}
#endif

const char *vb_fast_kernel_family(void)
{
#if VB_X86_SIMD
    pthread_once(&cpu_once, detect_cpu);
    if (use_simd && cpu_avx2_fma)
        return "avx2+fma";
#endif
    return "portable";
}

static tile_fn *pick_kernel(vb_dtype type)
{
#if VB_X86_SIMD
    pthread_once(&cpu_once, detect_cpu);
    if (use_simd && cpu_avx2_fma) {
        switch (type) {
        case VB_F32: return tile_f32_avx2;
        case VB_F16:
            if (cpu_f16c)
                return tile_f16_avx2;
            break;
        case VB_Q8_0:
        case VB_Q4_0: return tile_q8_avx2;
        }
    }
#endif
    switch (type) {
    case VB_F32: break;
    case VB_F16: return tile_f16_c;
    case VB_Q8_0:
    case VB_Q4_0: return tile_q8_c;
    }
    return tile_f32_c;
}

/* ---------------------------------------------------------------------------------------
 * GEMM driver */

typedef struct gemm_job {
    const float *a;
    const vb_packed_weights *w;
    tile_fn *tile;
    const float *bias;
    float *y;
    int row0, row1;
} gemm_job;

static void gemm_rows(const gemm_job *j)
{
    static const float no_bias[NR]; /* no bias: add zeros */
    const int k = j->w->k, cout = j->w->cout;
    float acc[MR * NR];
    for (int r = j->row0; r < j->row1; r += MR) {
        int m = j->row1 - r < MR ? j->row1 - r : MR;
        const float *a = j->a + (size_t)r * k;
        for (int p = 0; p < j->w->n_panels; p++) {
            j->tile(a, (size_t)k, m, j->w->data + (size_t)p * j->w->panel_bytes, k, acc);
            const int c0 = p * NR, nc = cout - c0 < NR ? cout - c0 : NR;
            const float *bias = j->bias ? j->bias + c0 : no_bias;
            for (int i = 0; i < m; i++) {
                float *yr = j->y + (size_t)(r + i) * cout + c0;
                for (int c = 0; c < nc; c++)
                    yr[c] = acc[i * NR + c] + bias[c];
            }
        }
    }
}

static void *gemm_thread(void *arg)
{
    gemm_rows(arg);
    return NULL;
}

void vb_fast_gemm(const float *a, int rows, const vb_packed_weights *w, const float *bias, float *y,
                  int threads)
{
    enum { MAX_THREADS = 64 };
    if (threads < 1)
        threads = 1;
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    /* Below ~64 rows per thread the spawn costs more than it saves. */
    while (threads > 1 && rows / threads < 64)
        threads--;
    tile_fn *tile = pick_kernel(w->type);
    gemm_job jobs[MAX_THREADS];
    int per = ((rows + threads - 1) / threads + MR - 1) / MR * MR;
    int started = 0;
    for (int t = 0; t < threads; t++) {
        int r0 = t * per, r1 = r0 + per < rows ? r0 + per : rows;
        if (r0 >= r1)
            break;
        jobs[t] = (gemm_job){a, w, tile, bias, y, r0, r1};
        started++;
    }
    vb_parallel_run(jobs, sizeof jobs[0], started, gemm_thread);
}

/* One row of the im2col matrix per output pixel, (ky, kx, ci) order like the OHWI weight
 * rows. For each filter row ky the in-range taps kx0..kx1-1 read input pixels that lie next
 * to each other (NHWC), so they are one copy of (kx1-kx0)*cin floats; out-of-range taps are
 * zero. (One copy per tap cost more than the GEMM for the 3-channel first conv.) */
static void im2col(const float *x, int n, int h, int w, int cin, int kh, int kw, int stride,
                   int pad_top, int pad_left, int oh, int ow, float *cols)
{
    const size_t k = (size_t)kh * kw * cin, run = (size_t)kw * cin;
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float *row = cols + (((size_t)b * oh + oy) * ow + ox) * k;
                const int ix0 = ox * stride - pad_left;
                const int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = ix0 + kw > w ? w - ix0 : kw;
                for (int ky = 0; ky < kh; ky++, row += run) {
                    const int iy = oy * stride - pad_top + ky;
                    if (iy < 0 || iy >= h || kx0 >= kx1) {
                        memset(row, 0, run * sizeof(float));
                        continue;
                    }
                    memset(row, 0, (size_t)kx0 * cin * sizeof(float));
                    memcpy(row + (size_t)kx0 * cin, x + (((size_t)b * h + iy) * w + ix0 + kx0) * cin,
                           (size_t)(kx1 - kx0) * cin * sizeof(float));
                    memset(row + (size_t)kx1 * cin, 0, (size_t)(kw - kx1) * cin * sizeof(float));
                }
            }
}

void vb_fast_conv2d(const float *x, int n, int h, int w, int cin, const vb_packed_weights *wt,
                    const float *bias, int kh, int kw, int stride, int pad_top, int pad_left, int oh,
                    int ow, float *y, float *scratch, int threads)
{
    im2col(x, n, h, w, cin, kh, kw, stride, pad_top, pad_left, oh, ow, scratch);
    vb_fast_gemm(scratch, n * oh * ow, wt, bias, y, threads);
}
