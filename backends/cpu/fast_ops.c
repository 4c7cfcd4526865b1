#include "backends/cpu/fast_ops.h"

#include <float.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/ref_ops.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define VB_X86_SIMD 1
#else
#define VB_X86_SIMD 0
#endif

#define NR VB_FAST_NR
#define MR VB_FAST_MR /* rows per micro-tile (every family; AVX2 runs it as two 4-row halves) */
#define QK VB_QBLOCK  /* k rows per quantized block */
#define PANEL_ALIGN 64 /* a cache line */
#define KC_MAX 256    /* reduction rows per block: a 2-panel weight slice (KC x 32 floats, 32 KB) stays in L1 */
#define KC_SINGLE 320 /* up to this K, one block */
#define A_BLOCK_FLOATS 65536 /* im2col block per thread (256 KB): MC = this / K rows, within MC_MIN..MC_MAX */
#define MC_MIN 8
#define MC_MAX 192

/* ---------------------------------------------------------------------------------------
 * Packing */

static int alloc_panels(vb_packed_weights *out, int cout, int k)
{
    memset(out, 0, sizeof *out);
    out->k = k;
    out->cout = cout;
    out->n_panels = (cout + NR - 1) / NR;
    out->panel_floats = (size_t)k * NR;
    out->bytes = out->panel_floats * sizeof(float) * (size_t)out->n_panels;
    /* aligned_alloc wants a size that is a multiple of the alignment */
    size_t alloc = (out->bytes + PANEL_ALIGN - 1) / PANEL_ALIGN * PANEL_ALIGN;
    out->data = aligned_alloc(PANEL_ALIGN, alloc ? alloc : PANEL_ALIGN);
    if (!out->data)
        return -1;
    memset(out->data, 0, alloc ? alloc : PANEL_ALIGN);
    return 0;
}

int vb_fast_pack(const float *w, int cout, int k, vb_packed_weights *out)
{
    if (alloc_panels(out, cout, k))
        return -1;
    for (int co = 0; co < cout; co++)
        for (int i = 0; i < k; i++)
            out->data[((size_t)(co / NR) * k + i) * NR + co % NR] = w[(size_t)co * k + i];
    return 0;
}

float *vb_fast_decode_rows(const vb_tensor *t, int cout, int *k_out, vb_err *e)
{
    int64_t n = vb_tensor_nelements(t);
    if (n <= 0 || cout <= 0 || n % cout) {
        vb_fail(e, VB_EXIT_INPUT, "tensor %s: %lld elements do not split into %d output channels", t->name,
                (long long)n, cout);
        return NULL;
    }
    int64_t k = n / cout;
    size_t row_bytes = vb_dtype_row_bytes(t->type, t->ne[0]);
    if (!row_bytes || row_bytes * (size_t)(n / t->ne[0]) != t->nbytes) {
        vb_fail(e, VB_EXIT_INPUT, "tensor %s: %zu bytes do not match %s shape", t->name, t->nbytes,
                vb_dtype_name(t->type));
        return NULL;
    }
    if (k > INT_MAX / NR / 4 || (vb_dtype_block_len(t->type) > 1 && k % QK)) {
        vb_fail(e, VB_EXIT_INPUT, "tensor %s: reduction length %lld does not fit %s panels", t->name, (long long)k,
                vb_dtype_name(t->type));
        return NULL;
    }
    float *w = malloc((size_t)n * sizeof(float));
    if (!w) {
        vb_fail(e, VB_EXIT_IO, "out of memory decoding %s", t->name);
        return NULL;
    }
    if (vb_tensor_to_f32(t, w, e)) {
        free(w);
        return NULL;
    }
    *k_out = (int)k;
    return w;
}

int vb_fast_pack_tensor(const vb_tensor *t, int cout, vb_packed_weights *out, vb_err *e)
{
    memset(out, 0, sizeof *out);
    int k = 0;
    float *w = vb_fast_decode_rows(t, cout, &k, e);
    if (!w)
        return -1;
    int rc = 0;
    if (vb_fast_pack(w, cout, k, out))
        rc = vb_fail(e, VB_EXIT_IO, "out of memory packing %s", t->name);
    free(w);
    return rc;
}

void vb_fast_pack_free(vb_packed_weights *p)
{
    free(p->data);
    p->data = NULL;
}

/* ---------------------------------------------------------------------------------------
 * Micro-kernels. Each computes an MR x (16 * np) tile (np = 1 or 2 panels) over kc
 * reduction rows: c[i][j] (+)= sum over k in order of a_i[k] * w[k][j], starting from zero
 * or, when `accumulate`, from what c holds (the previous k block's sums: storing and
 * reloading a float changes nothing, so blocking over k keeps every output's order).
 * a: MR row pointers at the block's first k (a[i] for i >= m is not read: those rows
 * repeat row 0, and the caller drops them).
 * w: the first panel at the block's first k; the second panel wnext floats further.
 * c: MR rows of ldc floats (every row is written; only the first m are meaningful).
 *
 * Measured on AMD EPYC (Zen 3, AVX2, earlier version of this file): a 6 x 16 AVX2 tile
 * ran the same as 4 x 16. */
typedef vb_fast_tile_fn tile_fn;

static void tile_portable(const float *const *a, int m, const float *w, size_t wnext, int np, int kc,
                          float *c, size_t ldc, int accumulate)
{
    const float *ar[MR];
    for (int i = 0; i < MR; i++)
        ar[i] = a[i < m ? i : 0];
    for (int p = 0; p < np; p++) {
        const float *b = w + (size_t)p * wnext;
        float acc[MR][NR];
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                acc[i][j] = accumulate ? c[(size_t)i * ldc + p * NR + j] : 0.0f;
        for (int k = 0; k < kc; k++, b += NR)
            for (int i = 0; i < MR; i++) {
                const float v = ar[i][k];
                for (int j = 0; j < NR; j++)
                    acc[i][j] += v * b[j];
            }
        for (int i = 0; i < MR; i++)
            memcpy(c + (size_t)i * ldc + p * NR, acc[i], sizeof acc[i]);
    }
}

#if VB_X86_SIMD
/* AVX2 + FMA: 4 rows x 16 channels in eight 8-wide accumulators, acc = fma(a, w, acc). */
#define AVX2_ROW(r) const float *a##r = a[m > (r) ? (r) : 0]
#define AVX2_LOAD(r)                                                                           \
    __m256 c##r##0 = accumulate ? _mm256_loadu_ps(c + (r) * ldc) : _mm256_setzero_ps();       \
    __m256 c##r##1 = accumulate ? _mm256_loadu_ps(c + (r) * ldc + 8) : _mm256_setzero_ps()
#define AVX2_FMA(r)                                                                            \
    do {                                                                                       \
        const __m256 v_ = _mm256_broadcast_ss(a##r + k);                                       \
        c##r##0 = _mm256_fmadd_ps(v_, b0, c##r##0);                                            \
        c##r##1 = _mm256_fmadd_ps(v_, b1, c##r##1);                                            \
    } while (0)
#define AVX2_STORE(r) _mm256_storeu_ps(c + (r) * ldc, c##r##0), _mm256_storeu_ps(c + (r) * ldc + 8, c##r##1)

__attribute__((target("avx2,fma"))) static void tile4_avx2(const float *const *a, int m, const float *w,
                                                          int kc, float *c, size_t ldc, int accumulate)
{
    AVX2_ROW(0);
    AVX2_ROW(1);
    AVX2_ROW(2);
    AVX2_ROW(3);
    AVX2_LOAD(0);
    AVX2_LOAD(1);
    AVX2_LOAD(2);
    AVX2_LOAD(3);
    for (int k = 0; k < kc; k++, w += NR) {
        const __m256 b0 = _mm256_loadu_ps(w), b1 = _mm256_loadu_ps(w + 8);
        AVX2_FMA(0);
        AVX2_FMA(1);
        AVX2_FMA(2);
        AVX2_FMA(3);
    }
    AVX2_STORE(0);
    AVX2_STORE(1);
    AVX2_STORE(2);
    AVX2_STORE(3);
}

__attribute__((target("avx2,fma"))) static void tile_avx2(const float *const *a, int m, const float *w,
                                                         size_t wnext, int np, int kc, float *c, size_t ldc,
                                                         int accumulate)
{
    for (int p = 0; p < np; p++)
        for (int half = 0; half < MR; half += 4)
            if (half == 0 || m > half)
                tile4_avx2(a + half, m - half, w + (size_t)p * wnext, kc,
                           c + (size_t)half * ldc + p * NR, ldc, accumulate);
}

/* AVX-512F: 8 rows x 32 channels (two panels) in sixteen 16-wide accumulators, or 8 x 16
 * for a last odd panel. The broadcast folds into the FMA's memory operand. */
#define Z_ROW(r) const float *a##r = a[m > (r) ? (r) : 0]
#define Z_LOAD2(r)                                                                             \
    __m512 c##r##0 = accumulate ? _mm512_loadu_ps(c + (r) * ldc) : _mm512_setzero_ps();       \
    __m512 c##r##1 = accumulate ? _mm512_loadu_ps(c + (r) * ldc + NR) : _mm512_setzero_ps()
#define Z_FMA2(r)                                                                              \
    do {                                                                                       \
        const __m512 v_ = _mm512_set1_ps(a##r[k]);                                             \
        c##r##0 = _mm512_fmadd_ps(v_, b0, c##r##0);                                            \
        c##r##1 = _mm512_fmadd_ps(v_, b1, c##r##1);                                            \
    } while (0)
#define Z_STORE2(r) _mm512_storeu_ps(c + (r) * ldc, c##r##0), _mm512_storeu_ps(c + (r) * ldc + NR, c##r##1)
#define Z_LOAD1(r) __m512 c##r##0 = accumulate ? _mm512_loadu_ps(c + (r) * ldc) : _mm512_setzero_ps()
#define Z_FMA1(r) c##r##0 = _mm512_fmadd_ps(_mm512_set1_ps(a##r[k]), b0, c##r##0)
#define Z_STORE1(r) _mm512_storeu_ps(c + (r) * ldc, c##r##0)
#define Z_ALL(X) X(0); X(1); X(2); X(3); X(4); X(5); X(6); X(7)
#define Z_HALF(X) X(0); X(1); X(2); X(3)

/* The last rows of a block when there are at most 4 (batch-1 layers with 9 or 16 pixels). */
__attribute__((target("avx512f"))) static void tile4_avx512(const float *const *a, int m, const float *w,
                                                           size_t wnext, int np, int kc, float *c, size_t ldc,
                                                           int accumulate)
{
    Z_HALF(Z_ROW);
    if (np == 2) {
        Z_HALF(Z_LOAD2);
        const float *w1 = w + wnext;
        for (int k = 0; k < kc; k++) {
            const __m512 b0 = _mm512_loadu_ps(w + (size_t)k * NR), b1 = _mm512_loadu_ps(w1 + (size_t)k * NR);
            Z_HALF(Z_FMA2);
        }
        Z_HALF(Z_STORE2);
    } else {
        Z_HALF(Z_LOAD1);
        for (int k = 0; k < kc; k++) {
            const __m512 b0 = _mm512_loadu_ps(w + (size_t)k * NR);
            Z_HALF(Z_FMA1);
        }
        Z_HALF(Z_STORE1);
    }
}

__attribute__((target("avx512f"))) static void tile_avx512(const float *const *a, int m, const float *w,
                                                          size_t wnext, int np, int kc, float *c, size_t ldc,
                                                          int accumulate)
{
    if (m <= 4) {
        tile4_avx512(a, m, w, wnext, np, kc, c, ldc, accumulate);
        return;
    }
    Z_ALL(Z_ROW);
    if (np == 2) {
        Z_ALL(Z_LOAD2);
        const float *w1 = w + wnext;
        for (int k = 0; k < kc; k++) {
            const __m512 b0 = _mm512_loadu_ps(w + (size_t)k * NR), b1 = _mm512_loadu_ps(w1 + (size_t)k * NR);
            Z_ALL(Z_FMA2);
        }
        Z_ALL(Z_STORE2);
    } else {
        Z_ALL(Z_LOAD1);
        for (int k = 0; k < kc; k++) {
            const __m512 b0 = _mm512_loadu_ps(w + (size_t)k * NR);
            Z_ALL(Z_FMA1);
        }
        Z_ALL(Z_STORE1);
    }
}
#endif

static vb_fast_kernels kernel_choice = VB_KERNELS_BEST;

#if VB_X86_SIMD
/* What the CPU has, found once. (__builtin_cpu_supports' AVX checks include the OS saving
 * the wide registers.) */
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static int cpu_avx2_fma, cpu_avx512f;

static void detect_cpu(void)
{
    cpu_avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    cpu_avx512f = cpu_avx2_fma && __builtin_cpu_supports("avx512f");
}
#endif

int vb_fast_has_kernels(vb_fast_kernels k)
{
#if VB_X86_SIMD
    pthread_once(&cpu_once, detect_cpu);
    switch (k) {
    case VB_KERNELS_PORTABLE: return 1;
    case VB_KERNELS_AVX2: return cpu_avx2_fma;
    case VB_KERNELS_AVX512: return cpu_avx512f;
    case VB_KERNELS_BEST: return 1;
    }
    return 0;
#else
    return k == VB_KERNELS_PORTABLE || k == VB_KERNELS_BEST;
#endif
}

vb_fast_kernels vb_fast_set_kernels(vb_fast_kernels k)
{
    vb_fast_kernels old = kernel_choice;
    kernel_choice = k;
    return old;
}

/* The family in effect: the choice, or the best one below it the CPU has. */
static vb_fast_kernels effective_kernels(void)
{
    vb_fast_kernels k = kernel_choice == VB_KERNELS_BEST ? VB_KERNELS_AVX512 : kernel_choice;
    while (k > VB_KERNELS_PORTABLE && !vb_fast_has_kernels(k))
        k = (vb_fast_kernels)(k - 1);
    return k;
}

const char *vb_fast_kernel_family(void)
{
    switch (effective_kernels()) {
    case VB_KERNELS_AVX512: return "avx512f";
    case VB_KERNELS_AVX2: return "avx2+fma";
    default: return "portable";
    }
}

static tile_fn *pick_kernel(void)
{
#if VB_X86_SIMD
    switch (effective_kernels()) {
    case VB_KERNELS_AVX512: return tile_avx512;
    case VB_KERNELS_AVX2: return tile_avx2;
    default: break;
    }
#endif
    return tile_portable;
}

vb_fast_tile_fn *vb_fast_tile_kernel(void)
{
    return pick_kernel();
}

/* ---------------------------------------------------------------------------------------
 * FMA peak probe: 12 independent accumulator chains (enough to cover the FMA latency on
 * two pipes), n steps each; returns the multiply-accumulates done. */
#define PEAK_CHAINS 12

#if VB_X86_SIMD
__attribute__((target("avx512f"))) static double peak_avx512(long n)
{
    __m512 acc[PEAK_CHAINS];
    const __m512 b = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(1e-4f);
    for (int i = 0; i < PEAK_CHAINS; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (long k = 0; k < n; k++) {
#pragma GCC unroll 12
        for (int i = 0; i < PEAK_CHAINS; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], b, c);
    }
    float sink = 0;
    for (int i = 0; i < PEAK_CHAINS; i++)
        sink += _mm512_reduce_add_ps(acc[i]);
    return sink != sink ? 0 : (double)n * PEAK_CHAINS * 16;
}

__attribute__((target("avx2,fma"))) static double peak_avx2(long n)
{
    __m256 acc[PEAK_CHAINS];
    const __m256 b = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(1e-4f);
    for (int i = 0; i < PEAK_CHAINS; i++)
        acc[i] = _mm256_set1_ps((float)i);
    for (long k = 0; k < n; k++) {
#pragma GCC unroll 12
        for (int i = 0; i < PEAK_CHAINS; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], b, c);
    }
    float out[8], sink = 0;
    for (int i = 0; i < PEAK_CHAINS; i++) {
        _mm256_storeu_ps(out, acc[i]);
        sink += out[0];
    }
    return sink != sink ? 0 : (double)n * PEAK_CHAINS * 8;
}
#endif

static double peak_portable(long n)
{
    float acc[PEAK_CHAINS * 4];
    for (int i = 0; i < PEAK_CHAINS * 4; i++)
        acc[i] = (float)i;
    for (long k = 0; k < n; k++)
        for (int i = 0; i < PEAK_CHAINS * 4; i++)
            acc[i] = acc[i] * 0.999f + 1e-4f;
    float sink = 0;
    for (int i = 0; i < PEAK_CHAINS * 4; i++)
        sink += acc[i];
    return sink != sink ? 0 : (double)n * PEAK_CHAINS * 4;
}

double vb_fast_fma_peak_gmacs(void)
{
    double best = 0;
    for (int attempt = 0; attempt < 5; attempt++) {
        const double t0 = vb_now();
        double macs;
        switch (effective_kernels()) {
#if VB_X86_SIMD
        case VB_KERNELS_AVX512: macs = peak_avx512(200000); break;
        case VB_KERNELS_AVX2: macs = peak_avx2(200000); break;
#endif
        default: macs = peak_portable(50000); break;
        }
        const double s = vb_now() - t0;
        if (s > 0 && macs / s / 1e9 > best)
            best = macs / s / 1e9;
    }
    return best;
}

/* ---------------------------------------------------------------------------------------
 * GEMM driver. The rows (output pixels) are cut into blocks of mc rows and, when there are
 * too few rows to give every thread a block (batch 1, late layers), the panels into
 * groups; a task is one (row block, panel group). A task builds its rows' im2col block in
 * its thread's scratch (so im2col runs in parallel and stays in cache), then for each k
 * block of kc rows, for each panel pair of its group, runs the micro-kernel down its rows
 * (the weight slice stays in L1 while the rows stream from L2), accumulating into a
 * per-thread C block; the epilogue then writes y. */

static int mc_limit(int k)
{
    int mc = A_BLOCK_FLOATS / (k > 0 ? k : 1) / MR * MR;
    return mc < MC_MIN ? MC_MIN : mc > MC_MAX ? MC_MAX : mc;
}

static int round_up(int x, int m)
{
    return (x + m - 1) / m * m;
}

size_t vb_fast_scratch_floats(int k, int cout)
{
    const size_t mc = (size_t)mc_limit(k);
    return mc * (size_t)k + mc * (size_t)round_up(cout, 2 * NR);
}

static int task_count(size_t units, size_t unit_floats, vb_tpool *pool);
static void task_range(size_t units, int tasks, int task, size_t *u0, size_t *u1);
#define task_range_rows task_range

typedef struct conv_geom {
    const float *x;
    int h, w, cin, kh, kw, stride, pad_top, pad_left;
} conv_geom;

typedef struct gemm_ctx {
    const float *a;        /* plain GEMM: A rows; NULL for a conv (im2col from geom) */
    conv_geom geom;
    /* implicit GEMM (src != NULL): the conv reads its A rows straight from src, the input
     * laid out as src_h x src_w x cin per image with the padding already in it (the input
     * itself, or a zero-padded copy); filter row ky of pixel (oy, ox) is the kw * cin
     * contiguous floats at src pixel (oy * stride + ky, ox * stride). */
    const float *src;
    int src_h, src_w;
    int seg, seg_blocks, seg_kc; /* kw * cin, k blocks per filter row, their length */
    int rows, oh, ow;      /* oh x ow pixels per image (plain GEMM: 1 x 1, a row per image) */
    const vb_packed_weights *w;
    const vb_fast_epilogue *ep;
    float *y, *scratch;
    size_t scratch_stride; /* floats per thread */
    tile_fn *tile;
    vb_fast_kernels family; /* the epilogue's vector loop */
    int mc, kc, n_groups, group_panels;
} gemm_ctx;

/* One row of the im2col matrix per output pixel, (ky, kx, ci) order like the OHWI weight
 * rows. For each filter row ky the in-range taps kx0..kx1-1 read input pixels that lie next
 * to each other (NHWC), so they are one copy of (kx1-kx0)*cin floats; out-of-range taps are
 * zero. (One copy per tap cost more than the GEMM for the 3-channel first conv.) */
static void im2col_rows(const gemm_ctx *g, int r0, int r1, float *cols)
{
    const conv_geom *cg = &g->geom;
    const int cin = cg->cin, kw = cg->kw;
    const size_t k = (size_t)cg->kh * kw * cin, run = (size_t)kw * cin;
    for (int r = r0; r < r1; r++) {
        const int b = r / (g->oh * g->ow), rem = r % (g->oh * g->ow), oy = rem / g->ow, ox = rem % g->ow;
        float *row = cols + (size_t)(r - r0) * k;
        const int ix0 = ox * cg->stride - cg->pad_left;
        const int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = ix0 + kw > cg->w ? cg->w - ix0 : kw;
        for (int ky = 0; ky < cg->kh; ky++, row += run) {
            const int iy = oy * cg->stride - cg->pad_top + ky;
            if (iy < 0 || iy >= cg->h || kx0 >= kx1) {
                memset(row, 0, run * sizeof(float));
                continue;
            }
            if (kx0 > 0)
                memset(row, 0, (size_t)kx0 * cin * sizeof(float));
            memcpy(row + (size_t)kx0 * cin, cg->x + (((size_t)b * cg->h + iy) * cg->w + ix0 + kx0) * cin,
                   (size_t)(kx1 - kx0) * cin * sizeof(float));
            if (kx1 < kw)
                memset(row + (size_t)kx1 * cin, 0, (size_t)(kw - kx1) * cin * sizeof(float));
        }
    }
}

/* The activations, one float: the reference ops' expressions. */
static inline float act_scalar(float y, vb_fast_act act, float alpha)
{
    switch (act) {
    case VB_ACT_RELU: return y > 0.0f ? y : 0.0f;
    case VB_ACT_LEAKY: return y > 0.0f ? y : alpha * y;
    case VB_ACT_RELU6: return y > 0.0f ? (y < 6.0f ? y : 6.0f) : 0.0f;
    default: return y;
    }
}

static void act_rows(float *y, size_t count, vb_fast_act act, float alpha)
{
    if (act == VB_ACT_RELU)
        for (size_t j = 0; j < count; j++)
            y[j] = y[j] > 0.0f ? y[j] : 0.0f;
    else if (act == VB_ACT_LEAKY)
        for (size_t j = 0; j < count; j++)
            y[j] = y[j] > 0.0f ? y[j] : alpha * y[j];
    else if (act == VB_ACT_RELU6)
        for (size_t j = 0; j < count; j++)
            y[j] = y[j] > 0.0f ? (y[j] < 6.0f ? y[j] : 6.0f) : 0.0f;
}

#if VB_X86_SIMD
/* The activations on vectors, the same results as act_scalar lane by lane: ReLU is
 * max(y, 0) (vmaxps returns its second operand, 0, for NaN and for -0, as y > 0 ? y : 0
 * does); leaky picks y where y > 0 (ordered: false for NaN) and alpha * y elsewhere; ReLU6
 * is min(max(y, 0), 6) (the max has already turned NaN into 0). */
__attribute__((target("avx512f"))) static inline __m512 act_avx512(__m512 v, vb_fast_act act, float alpha)
{
    if (act == VB_ACT_RELU)
        return _mm512_max_ps(v, _mm512_setzero_ps());
    if (act == VB_ACT_LEAKY)
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ),
                                    _mm512_mul_ps(v, _mm512_set1_ps(alpha)), v);
    if (act == VB_ACT_RELU6)
        return _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(6.0f));
    return v;
}

__attribute__((target("avx2,fma"))) static inline __m256 act_avx2(__m256 v, vb_fast_act act, float alpha)
{
    if (act == VB_ACT_RELU)
        return _mm256_max_ps(v, _mm256_setzero_ps());
    if (act == VB_ACT_LEAKY)
        return _mm256_blendv_ps(_mm256_mul_ps(v, _mm256_set1_ps(alpha)), v,
                                _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ));
    if (act == VB_ACT_RELU6)
        return _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(6.0f));
    return v;
}

/* One row of the epilogue, 16 channels at a time: the same float operations as the C loops
 * of epilogue() (add, multiply, add, add, activation). res: the residual row (channel 0),
 * nin: its channels from c0 on (the rest add +0). */
__attribute__((target("avx512f"), always_inline)) static inline void epilogue_row_avx512(
    const vb_fast_epilogue *ep, const float *cr, float *yr, int c0, int nc, const float *res, int nin)
{
    const __m512 zero = _mm512_setzero_ps();
    for (int j = 0; j < nc; j += 16) {
        const __mmask16 m = j + 16 <= nc ? (__mmask16)0xffff : (__mmask16)((1u << (nc - j)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, cr + j);
        v = _mm512_add_ps(v, ep->bias ? _mm512_maskz_loadu_ps(m, ep->bias + c0 + j) : zero);
        if (ep->scale)
            v = _mm512_add_ps(_mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, ep->scale + c0 + j)),
                              _mm512_maskz_loadu_ps(m, ep->shift + c0 + j));
        if (ep->res) {
            const __mmask16 mr = j >= nin ? 0 : j + 16 <= nin ? m : (__mmask16)(m & ((1u << (nin - j)) - 1));
            v = _mm512_add_ps(v, mr ? _mm512_maskz_loadu_ps(mr, res + c0 + j) : zero);
        }
        v = act_avx512(v, ep->act, ep->alpha);
        _mm512_mask_storeu_ps(yr + j, m, v);
    }
}

/* The same with 8 channels per vector (vmaskmov for the last ones and the residual's). */
__attribute__((target("avx2,fma"), always_inline)) static inline void epilogue_row_avx2(
    const vb_fast_epilogue *ep, const float *cr, float *yr, int c0, int nc, const float *res, int nin)
{
    const __m256 zero = _mm256_setzero_ps();
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int j = 0; j < nc; j += 8) {
        const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(nc - j), lane);
        __m256 v = _mm256_maskload_ps(cr + j, m);
        v = _mm256_add_ps(v, ep->bias ? _mm256_maskload_ps(ep->bias + c0 + j, m) : zero);
        if (ep->scale)
            v = _mm256_add_ps(_mm256_mul_ps(v, _mm256_maskload_ps(ep->scale + c0 + j, m)),
                              _mm256_maskload_ps(ep->shift + c0 + j, m));
        if (ep->res) {
            const __m256i mr = _mm256_and_si256(m, _mm256_cmpgt_epi32(_mm256_set1_epi32(nin - j), lane));
            v = _mm256_add_ps(v, res ? _mm256_maskload_ps(res + c0 + j, mr) : zero);
        }
        v = act_avx2(v, ep->act, ep->alpha);
        _mm256_maskstore_ps(yr + j, m, v);
    }
}
#endif

/* Output row r's residual row (channel 0; NULL when the pixel lies outside the residual)
 * and nin, how many of the channels c0..c0+nc-1 it has. */
static inline const float *residual_row(const gemm_ctx *g, int r, int c0, int nc, int *nin)
{
    const vb_fast_epilogue *ep = g->ep;
    const int b = r / (g->oh * g->ow), rem = r % (g->oh * g->ow), oy = rem / g->ow, ox = rem % g->ow;
    *nin = 0;
    if (oy >= ep->res_h || ox >= ep->res_w)
        return NULL;
    *nin = ep->res_c - c0 < 0 ? 0 : ep->res_c - c0 < nc ? ep->res_c - c0 : nc;
    return ep->res + (((size_t)b * ep->res_h + oy) * ep->res_w + ox) * ep->res_c;
}

#if VB_X86_SIMD
/* epilogue() in the vector families: the row loop inside the target function, so each row
 * costs no call (a 16-channel row, as in the detector's first conv, is one vector). */
__attribute__((target("avx512f"))) static void epilogue_rows_avx512(const gemm_ctx *g, const float *cb, size_t ldc,
                                                                   int r0, int r1, int c0, int nc, float *y,
                                                                   int y_row0)
{
    const int cout = g->w->cout;
    for (int r = r0; r < r1; r++) {
        int nin = 0;
        const float *rr = g->ep->res ? residual_row(g, r, c0, nc, &nin) : NULL;
        epilogue_row_avx512(g->ep, cb + (size_t)(r - r0) * ldc, y + (size_t)(r - y_row0) * cout + c0, c0, nc, rr,
                            nin);
    }
}

__attribute__((target("avx2,fma"))) static void epilogue_rows_avx2(const gemm_ctx *g, const float *cb, size_t ldc,
                                                                  int r0, int r1, int c0, int nc, float *y,
                                                                  int y_row0)
{
    const int cout = g->w->cout;
    for (int r = r0; r < r1; r++) {
        int nin = 0;
        const float *rr = g->ep->res ? residual_row(g, r, c0, nc, &nin) : NULL;
        epilogue_row_avx2(g->ep, cb + (size_t)(r - r0) * ldc, y + (size_t)(r - y_row0) * cout + c0, c0, nc, rr,
                          nin);
    }
}
#endif

/* One row of the epilogue in portable C (the reference ops' operations, one loop each). */
static void epilogue_row_portable(const vb_fast_epilogue *ep, const float *cr, float *yr, int c0, int nc,
                                  const float *rr, int nin)
{
    if (ep->bias)
        for (int j = 0; j < nc; j++)
            yr[j] = cr[j] + ep->bias[c0 + j];
    else
        for (int j = 0; j < nc; j++)
            yr[j] = cr[j] + 0.0f;
    if (ep->scale)
        for (int j = 0; j < nc; j++)
            yr[j] = yr[j] * ep->scale[c0 + j] + ep->shift[c0 + j];
    if (ep->res) {
        for (int j = 0; j < nin; j++)
            yr[j] = yr[j] + rr[c0 + j];
        for (int j = nin; j < nc; j++)
            yr[j] = yr[j] + 0.0f;
    }
    act_rows(yr, (size_t)nc, ep->act, ep->alpha);
}

#if VB_X86_SIMD
__attribute__((target("avx512f"))) static void epilogue_row_avx512_call(const vb_fast_epilogue *ep, const float *cr,
                                                                       float *yr, int c0, int nc, const float *rr,
                                                                       int nin)
{
    epilogue_row_avx512(ep, cr, yr, c0, nc, rr, nin);
}

__attribute__((target("avx2,fma"))) static void epilogue_row_avx2_call(const vb_fast_epilogue *ep, const float *cr,
                                                                      float *yr, int c0, int nc, const float *rr,
                                                                      int nin)
{
    epilogue_row_avx2(ep, cr, yr, c0, nc, rr, nin);
}
#endif

/* Output rows r0..r1, channels c0..c1 from a C tile (row r0, channel c0 at cb[0]); row r
 * goes to y + (r - y_row0) * cout. */
static void epilogue(const gemm_ctx *g, const float *cb, size_t ldc, int r0, int r1, int c0, int c1, float *y,
                     int y_row0)
{
    const vb_fast_epilogue *ep = g->ep;
    const int cout = g->w->cout, nc = c1 - c0;
#if VB_X86_SIMD
    if (g->family == VB_KERNELS_AVX512) {
        epilogue_rows_avx512(g, cb, ldc, r0, r1, c0, nc, y, y_row0);
        return;
    }
    if (g->family == VB_KERNELS_AVX2) {
        epilogue_rows_avx2(g, cb, ldc, r0, r1, c0, nc, y, y_row0);
        return;
    }
#endif
    for (int r = r0; r < r1; r++) {
        int nin = 0;
        const float *rr = ep->res ? residual_row(g, r, c0, nc, &nin) : NULL;
        epilogue_row_portable(ep, cb + (size_t)(r - r0) * ldc, y + (size_t)(r - y_row0) * cout + c0, c0, nc, rr, nin);
    }
}

vb_fast_epilogue_fn *vb_fast_epilogue_kernel(void)
{
#if VB_X86_SIMD
    switch (effective_kernels()) {
    case VB_KERNELS_AVX512: return epilogue_row_avx512_call;
    case VB_KERNELS_AVX2: return epilogue_row_avx2_call;
    default: break;
    }
#endif
    return epilogue_row_portable;
}

/* Rows r0..r1 (at most mc of them) x panels p0..p1 of the GEMM on the calling thread, with
 * its scratch; the epilogue writes row r at y + (r - y_row0) * cout. */
static void gemm_block(const gemm_ctx *g, int r0, int r1, int p0, int p1, int thread, float *y, int y_row0)
{
    const vb_packed_weights *w = g->w;
    const int k = w->k;
    float *scratch = g->scratch + (size_t)thread * g->scratch_stride;
    const float *a = NULL;
    float *cb = scratch;
    size_t base[MC_MAX]; /* implicit GEMM: each row's pixel in src */
    if (g->src) {
        /* (image, oy, ox) of row r0 by division, then stepped (a division per row cost 9%
         * of the detector's first conv) */
        int b = r0 / (g->oh * g->ow), rem = r0 % (g->oh * g->ow), oy = rem / g->ow, ox = rem % g->ow;
        for (int r = r0; r < r1; r++) {
            base[r - r0] = (((size_t)b * g->src_h + (size_t)oy * g->geom.stride) * g->src_w +
                            (size_t)ox * g->geom.stride) * g->geom.cin;
            if (++ox == g->ow) {
                ox = 0;
                if (++oy == g->oh)
                    oy = 0, b++;
            }
        }
    } else if (g->a) {
        a = g->a + (size_t)r0 * k;
    } else {
        im2col_rows(g, r0, r1, scratch);
        a = scratch;
        cb = scratch + (size_t)g->mc * k;
    }
    const size_t ldc = (size_t)(p1 - p0) * NR;
    const int n_kb = g->src ? g->geom.kh * g->seg_blocks : (k + g->kc - 1) / g->kc;
    for (int kb = 0; kb < n_kb; kb++) {
        int k0, kc;
        size_t src_off = 0; /* implicit: the block's offset from a row's pixel in src */
        if (g->src) {
            const int ky = kb / g->seg_blocks, off = kb % g->seg_blocks * g->seg_kc;
            k0 = ky * g->seg + off;
            kc = g->seg - off < g->seg_kc ? g->seg - off : g->seg_kc;
            src_off = (size_t)ky * g->src_w * g->geom.cin + (size_t)off;
        } else {
            k0 = kb * g->kc;
            kc = k - k0 < g->kc ? k - k0 : g->kc;
        }
        const int last = kb == n_kb - 1;
        for (int p = p0; p < p1; p += 2) {
            const int np = p1 - p < 2 ? p1 - p : 2;
            const int c0 = p * NR, c1 = (p + np) * NR < w->cout ? (p + np) * NR : w->cout;
            const float *wp = w->data + (size_t)p * w->panel_floats + (size_t)k0 * NR;
            for (int r = r0; r < r1; r += MR) {
                const int m = r1 - r < MR ? r1 - r : MR;
                const float *rows[MR];
                for (int i = 0; i < m; i++)
                    rows[i] = g->src ? g->src + base[r - r0 + i] + src_off : a + (size_t)(r - r0 + i) * k + k0;
                float *ct = cb + (size_t)(r - r0) * ldc + (size_t)(p - p0) * NR;
                g->tile(rows, m, wp, w->panel_floats, np, kc, ct, ldc, kb > 0);
                if (last) /* while the tile is in L1 */
                    epilogue(g, ct, ldc, r, r + m, c0, c1, y, y_row0);
            }
        }
    }
}

static void gemm_task(void *arg, int task, int thread)
{
    const gemm_ctx *g = arg;
    const int n_panels = g->w->n_panels;
    const int rb = task / g->n_groups, grp = task % g->n_groups;
    const int r0 = rb * g->mc, r1 = r0 + g->mc < g->rows ? r0 + g->mc : g->rows;
    const int p0 = grp * g->group_panels, p1 = p0 + g->group_panels < n_panels ? p0 + g->group_panels : n_panels;
    gemm_block(g, r0, r1, p0, p1, thread, g->y, 0);
}

/* Cut rows x panels into tasks for `threads` threads (see above). */
static void plan_tasks(gemm_ctx *g, int threads)
{
    const int k = g->w->k, n_panels = g->w->n_panels, limit = mc_limit(k);
    int blocks = (g->rows + limit - 1) / limit, groups = 1;
    if (blocks >= threads) {
        blocks = round_up(blocks, threads);
    } else {
        /* Few rows: each thread takes a share of the panels (and of the weights to read). */
        int per = round_up((n_panels + threads - 1) / threads, 2);
        groups = (n_panels + per - 1) / per;
        g->group_panels = per;
        if (groups < threads && g->rows >= 4 * MR * threads)
            blocks = threads;
    }
    if (groups == 1)
        g->group_panels = n_panels;
    g->n_groups = groups;
    g->mc = round_up((g->rows + blocks - 1) / blocks, MR);
    if (g->mc > limit)
        g->mc = limit;
    const int kblocks = k <= KC_SINGLE ? 1 : (k + KC_MAX - 1) / KC_MAX;
    g->kc = (k + kblocks - 1) / kblocks;
    if (g->src) {
        g->seg = g->geom.kw * g->geom.cin;
        g->seg_blocks = (g->seg + KC_MAX - 1) / KC_MAX;
        g->seg_kc = (g->seg + g->seg_blocks - 1) / g->seg_blocks;
    }
}

/* The kernel family, scratch layout and blocking for `threads` threads. */
static void gemm_setup(gemm_ctx *g, int threads)
{
    static const vb_fast_epilogue none;
    if (!g->ep)
        g->ep = &none;
    g->tile = pick_kernel();
    g->family = effective_kernels();
    g->scratch_stride = vb_fast_scratch_floats(g->w->k, g->w->cout);
    plan_tasks(g, threads);
}

static void run_gemm(gemm_ctx *g, vb_tpool *pool)
{
    gemm_setup(g, vb_tpool_threads(pool));
    const int blocks = (g->rows + g->mc - 1) / g->mc;
    vb_tpool_run(pool, blocks * g->n_groups, gemm_task, g);
}

void vb_fast_gemm(const float *a, int rows, const vb_packed_weights *w, const vb_fast_epilogue *ep, float *y,
                  float *scratch, vb_tpool *pool)
{
    gemm_ctx g = {.a = a, .rows = rows, .oh = 1, .ow = 1, .w = w, .ep = ep, .y = y, .scratch = scratch};
    run_gemm(&g, pool);
}

/* Implicit GEMM pays off when a filter row is long enough to run the micro-kernel over: it
 * measured faster than im2col for every conv of the recognition net, the first one included
 * (7x7 on 3 channels: filter rows of 21 floats; 0.63 -> 0.48 ms per image at batch 8,
 * AVX-512), and for the tiny face detector's first conv (3x3 on 3 channels: rows of 9
 * floats; 6.2 -> 3.8 ms per 416x416 image on one thread, AVX-512: im2col's three 36-byte
 * copies per pixel cost more than its GEMM). */
#define IMPLICIT_MIN_SEG 8

/* The padded input an implicit conv reads: rows and columns from -pad_top / -pad_left up to
 * the last tap of the last output. 0 when the input serves as it is (no tap outside it). */
static void padded_shape(int h, int w, int kh, int kw, int stride, int pad_top, int pad_left, int oh, int ow,
                         int *ph, int *pw)
{
    *ph = (oh - 1) * stride + kh;
    *pw = (ow - 1) * stride + kw;
    if (pad_top == 0 && pad_left == 0 && *ph <= h && *pw <= w)
        *ph = *pw = 0;
}

size_t vb_fast_conv_pad_floats(int h, int w, int cin, int kh, int kw, int stride, int pad_top, int pad_left,
                               int oh, int ow)
{
    int ph, pw;
    if (kw * cin < IMPLICIT_MIN_SEG)
        return 0;
    padded_shape(h, w, kh, kw, stride, pad_top, pad_left, oh, ow, &ph, &pw);
    return (size_t)ph * pw * cin;
}

typedef struct pad_ctx {
    const float *x;
    float *y;
    int h, w, cin, ph, pw, pad_top, pad_left, rows, tasks;
} pad_ctx;

static void pad_task(void *arg, int task, int thread)
{
    (void)thread;
    const pad_ctx *t = arg;
    size_t r0, r1;
    const size_t cin = (size_t)t->cin;
    task_range_rows((size_t)t->rows, t->tasks, task, &r0, &r1);
    for (size_t r = r0; r < r1; r++) {
        const int b = (int)(r / (size_t)t->ph), yy = (int)(r % (size_t)t->ph), iy = yy - t->pad_top;
        float *row = t->y + r * (size_t)t->pw * cin;
        const int x0 = t->pad_left < t->pw ? t->pad_left : t->pw;
        const int x1 = t->pad_left + t->w < t->pw ? t->pad_left + t->w : t->pw;
        if (iy < 0 || iy >= t->h || x1 <= x0) {
            memset(row, 0, (size_t)t->pw * cin * sizeof(float));
            continue;
        }
        if (x0 > 0)
            memset(row, 0, (size_t)x0 * cin * sizeof(float));
        memcpy(row + (size_t)x0 * cin, t->x + (((size_t)b * t->h + iy) * t->w + (x0 - t->pad_left)) * cin,
               (size_t)(x1 - x0) * cin * sizeof(float));
        if (x1 < t->pw)
            memset(row + (size_t)x1 * cin, 0, (size_t)(t->pw - x1) * cin * sizeof(float));
    }
}

/* A conv's GEMM context; for the implicit way, the zero-padded copy of the input is made
 * here (over the pool). */
static gemm_ctx conv_ctx(const float *x, int n, int h, int w, int cin, const vb_packed_weights *wt,
                         const vb_fast_epilogue *ep, int kh, int kw, int stride, int pad_top, int pad_left, int oh,
                         int ow, float *y, float *scratch, float *padded, vb_tpool *pool)
{
    gemm_ctx g = {.geom = {x, h, w, cin, kh, kw, stride, pad_top, pad_left},
                  .rows = n * oh * ow,
                  .oh = oh,
                  .ow = ow,
                  .w = wt,
                  .ep = ep,
                  .y = y,
                  .scratch = scratch};
    int ph, pw;
    padded_shape(h, w, kh, kw, stride, pad_top, pad_left, oh, ow, &ph, &pw);
    if (kw * cin >= IMPLICIT_MIN_SEG && (ph == 0 || padded)) {
        if (ph == 0) {
            g.src = x, g.src_h = h, g.src_w = w;
        } else {
            pad_ctx t = {x, padded, h, w, cin, ph, pw, pad_top, pad_left, n * ph, 0};
            t.tasks = task_count((size_t)t.rows, (size_t)pw * cin, pool);
            vb_tpool_run(pool, t.tasks, pad_task, &t);
            g.src = padded, g.src_h = ph, g.src_w = pw;
        }
    }
    return g;
}

void vb_fast_conv2d(const float *x, int n, int h, int w, int cin, const vb_packed_weights *wt,
                    const vb_fast_epilogue *ep, int kh, int kw, int stride, int pad_top, int pad_left, int oh,
                    int ow, float *y, float *scratch, float *padded, vb_tpool *pool)
{
    gemm_ctx g = conv_ctx(x, n, h, w, cin, wt, ep, kh, kw, stride, pad_top, pad_left, oh, ow, y, scratch, padded,
                          pool);
    run_gemm(&g, pool);
}

/* Conv + max pool: tasks are ranges of pool output rows (image, py); for each, the conv
 * rows its window reads are computed (gemm_block, mc rows at a time, every panel) into
 * the thread's band, then pooled. Windows that overlap (k > stride) recompute the shared
 * conv rows: the same floats, so still bit-identical; the planner fuses only k <= stride. */
typedef struct convpool_ctx {
    gemm_ctx g;
    float *band, *y;
    size_t band_stride; /* floats per thread */
    int pk, pstride, ppad_top, ppad_left, poh, pow;
    size_t units;
    int tasks;
} convpool_ctx;

static void maxpool_out_row(const float *xr, size_t row, int ny, int w, int c, int k, int stride, int pad_left,
                            int ow, float *yrow, vb_fast_kernels family);

static void convpool_task(void *arg, int task, int thread)
{
    const convpool_ctx *t = arg;
    const gemm_ctx *g = &t->g;
    const int oh = g->oh, ow = g->ow, cout = g->w->cout;
    float *band = t->band + (size_t)thread * t->band_stride;
    const vb_fast_kernels family = effective_kernels();
    size_t u0, u1;
    task_range(t->units, t->tasks, task, &u0, &u1);
    for (size_t u = u0; u < u1; u++) {
        const int b = (int)(u / (size_t)t->poh), py = (int)(u % (size_t)t->poh);
        const int cy = py * t->pstride - t->ppad_top;
        const int cy0 = cy < 0 ? 0 : cy, cy1 = cy + t->pk > oh ? oh : cy + t->pk;
        float *yrow = t->y + u * (size_t)t->pow * cout;
        if (cy0 >= cy1) { /* no window row in range: the pool's empty max */
            for (size_t j = 0; j < (size_t)t->pow * cout; j++)
                yrow[j] = -FLT_MAX;
            continue;
        }
        const int r0 = (b * oh + cy0) * ow, r1 = (b * oh + cy1) * ow;
        for (int r = r0; r < r1; r += g->mc)
            gemm_block(g, r, r1 - r < g->mc ? r1 : r + g->mc, 0, g->w->n_panels, thread, band, r0);
        maxpool_out_row(band, (size_t)ow * cout, cy1 - cy0, ow, cout, t->pk, t->pstride, t->ppad_left, t->pow, yrow,
                        family);
    }
}

size_t vb_fast_band_floats(int pool_k, int ow, int cout)
{
    return (size_t)pool_k * ow * cout;
}

void vb_fast_conv2d_maxpool(const float *x, int n, int h, int w, int cin, const vb_packed_weights *wt,
                            const vb_fast_epilogue *ep, int kh, int kw, int stride, int pad_top, int pad_left, int oh,
                            int ow, int pool_k, int pool_stride, int pool_pad_top, int pool_pad_left, int poh,
                            int pow, float *y, float *scratch, float *padded, float *band, vb_tpool *pool)
{
    convpool_ctx t = {.g = conv_ctx(x, n, h, w, cin, wt, ep, kh, kw, stride, pad_top, pad_left, oh, ow, NULL,
                                    scratch, padded, pool),
                      .band = band, .y = y, .band_stride = vb_fast_band_floats(pool_k, ow, wt->cout),
                      .pk = pool_k, .pstride = pool_stride, .ppad_top = pool_pad_top, .ppad_left = pool_pad_left,
                      .poh = poh, .pow = pow, .units = (size_t)n * poh};
    /* one thread's blocking: a task runs whole conv rows over every panel itself */
    gemm_setup(&t.g, 1);
    t.tasks = task_count(t.units, (size_t)pool_k * ow * wt->cout * (size_t)wt->k / 16, pool);
    vb_tpool_run(pool, t.tasks, convpool_task, &t);
}

/* ---------------------------------------------------------------------------------------
 * Depthwise convolution. Each output (pixel, channel) is acc = 0; acc = acc + x * w over
 * its in-range taps in (ky, kx) order (out-of-range taps are skipped, as in the
 * reference), then the epilogue's acc + bias, * scale + shift, activation: one FMA per
 * tap in the SIMD families (so AVX2 and AVX-512 agree bit for bit), a multiply then an add
 * in portable C. Tasks are ranges of output rows (image, oy); within a row, the pixels
 * whose taps are all in range go DW_PX at a time (the weight vector is loaded once for
 * DW_PX pixels, their sums stay in registers), the border pixels one at a time over their
 * in-range taps only. */

#define DW_PX 8 /* interior output pixels per register block */
#define DW_ZERO_CH 64 /* channels per epilogue call for pixels with no tap in range */

typedef struct dw_ctx {
    const float *x, *wt;
    const vb_fast_epilogue *ep;
    float *y;
    int h, w, c, kh, kw, stride, pad_top, pad_left, oh, ow;
    int ox_lo, ox_hi; /* interior output columns: every kx tap in range */
    size_t units;
    int tasks;
    vb_fast_kernels family;
} dw_ctx;

/* What one call computes: npix output pixels of one row, next to each other, sharing the
 * in-range taps ky0..ky1-1 x kx0..kx1-1 (at least one). xp: the first pixel's input at its
 * first in-range tap (ky0, kx0); yp: the first pixel's output. */
typedef struct dw_pix {
    const float *xp;
    float *yp;
    int npix, ky0, ky1, kx0, kx1;
} dw_pix;

/* y[j] for channels c0..c0+nc-1 from their sums: the epilogue()'s operations. */
static void dw_epilogue(const vb_fast_epilogue *ep, const float *acc, float *y, int c0, int nc)
{
    for (int j = 0; j < nc; j++) {
        float v = acc[j] + (ep->bias ? ep->bias[c0 + j] : 0.0f);
        if (ep->scale)
            v = v * ep->scale[c0 + j] + ep->shift[c0 + j];
        y[j] = act_scalar(v, ep->act, ep->alpha);
    }
}

static void dw_pixels_portable(const dw_ctx *t, const dw_pix *q)
{
    enum { CH = 64 };
    const int c = t->c;
    const size_t xstep = (size_t)t->stride * c, row = (size_t)t->w * c;
    for (int p = 0; p < q->npix; p++)
        for (int c0 = 0; c0 < c; c0 += CH) {
            const int nc = c - c0 < CH ? c - c0 : CH;
            float acc[CH];
            for (int j = 0; j < nc; j++)
                acc[j] = 0.0f;
            for (int ky = q->ky0; ky < q->ky1; ky++)
                for (int kx = q->kx0; kx < q->kx1; kx++) {
                    const float *xs = q->xp + p * xstep + (size_t)(ky - q->ky0) * row + (size_t)(kx - q->kx0) * c + c0;
                    const float *ws = t->wt + ((size_t)ky * t->kw + kx) * c + c0;
                    for (int j = 0; j < nc; j++)
                        acc[j] = acc[j] + xs[j] * ws[j];
                }
            dw_epilogue(t->ep, acc, q->yp + (size_t)p * c + c0, c0, nc);
        }
}

#if VB_X86_SIMD
/* Pixel p of block q as a block of its own, for the SIMD kernels' tails (fewer than DW_PX
 * pixels): one place that knows how pixels step through x and y. */
static inline dw_pix dw_one_pixel(const dw_ctx *t, const dw_pix *q, int p)
{
    const dw_pix one = {q->xp + (size_t)p * t->stride * t->c, q->yp + (size_t)p * t->c, 1, q->ky0, q->ky1,
                        q->kx0, q->kx1};
    return one;
}

/* PX pixels (a constant after inlining, so the sums live in registers), 16 channels at a
 * time, the last ones masked. */
__attribute__((target("avx512f"), always_inline)) static inline void dw_block_avx512(const dw_ctx *t,
                                                                                    const dw_pix *q, const int px)
{
    const int c = t->c;
    const size_t xstep = (size_t)t->stride * c, row = (size_t)t->w * c;
    const __m512 zero = _mm512_setzero_ps();
    for (int j = 0; j < c; j += 16) {
        const __mmask16 m = j + 16 <= c ? (__mmask16)0xffff : (__mmask16)((1u << (c - j)) - 1);
        __m512 acc[DW_PX];
#pragma GCC unroll 8
        for (int p = 0; p < px; p++)
            acc[p] = zero;
        for (int ky = q->ky0; ky < q->ky1; ky++) {
            const float *xr = q->xp + (size_t)(ky - q->ky0) * row + j, *wr = t->wt + (size_t)ky * t->kw * c + j;
            for (int kx = q->kx0; kx < q->kx1; kx++) {
                const __m512 wv = _mm512_maskz_loadu_ps(m, wr + (size_t)kx * c);
                const float *xs = xr + (size_t)(kx - q->kx0) * c;
#pragma GCC unroll 8
                for (int p = 0; p < px; p++)
                    acc[p] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, xs + p * xstep), wv, acc[p]);
            }
        }
        const vb_fast_epilogue *ep = t->ep;
        const __m512 bv = ep->bias ? _mm512_maskz_loadu_ps(m, ep->bias + j) : zero;
        const __m512 sv = ep->scale ? _mm512_maskz_loadu_ps(m, ep->scale + j) : zero;
        const __m512 hv = ep->scale ? _mm512_maskz_loadu_ps(m, ep->shift + j) : zero;
#pragma GCC unroll 8
        for (int p = 0; p < px; p++) {
            __m512 v = _mm512_add_ps(acc[p], bv);
            if (ep->scale)
                v = _mm512_add_ps(_mm512_mul_ps(v, sv), hv);
            _mm512_mask_storeu_ps(q->yp + (size_t)p * c + j, m, act_avx512(v, ep->act, ep->alpha));
        }
    }
}

__attribute__((target("avx512f"))) static void dw_pixels_avx512(const dw_ctx *t, const dw_pix *q)
{
    if (q->npix == DW_PX)
        dw_block_avx512(t, q, DW_PX);
    else
        for (int p = 0; p < q->npix; p++) {
            const dw_pix one = dw_one_pixel(t, q, p);
            dw_block_avx512(t, &one, 1);
        }
}

/* The same with 8 channels per vector; the last ones through vmaskmov. */
__attribute__((target("avx2,fma"), always_inline)) static inline void dw_block_avx2(const dw_ctx *t,
                                                                                   const dw_pix *q, const int px)
{
    const int c = t->c;
    const size_t xstep = (size_t)t->stride * c, row = (size_t)t->w * c;
    const __m256 zero = _mm256_setzero_ps();
    for (int j = 0; j < c; j += 8) {
        const int nc = c - j < 8 ? c - j : 8;
        const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(nc), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 acc[DW_PX];
#pragma GCC unroll 8
        for (int p = 0; p < px; p++)
            acc[p] = zero;
        for (int ky = q->ky0; ky < q->ky1; ky++) {
            const float *xr = q->xp + (size_t)(ky - q->ky0) * row + j, *wr = t->wt + (size_t)ky * t->kw * c + j;
            for (int kx = q->kx0; kx < q->kx1; kx++) {
                const __m256 wv = _mm256_maskload_ps(wr + (size_t)kx * c, m);
                const float *xs = xr + (size_t)(kx - q->kx0) * c;
#pragma GCC unroll 8
                for (int p = 0; p < px; p++)
                    acc[p] = _mm256_fmadd_ps(_mm256_maskload_ps(xs + p * xstep, m), wv, acc[p]);
            }
        }
        const vb_fast_epilogue *ep = t->ep;
        const __m256 bv = ep->bias ? _mm256_maskload_ps(ep->bias + j, m) : zero;
        const __m256 sv = ep->scale ? _mm256_maskload_ps(ep->scale + j, m) : zero;
        const __m256 hv = ep->scale ? _mm256_maskload_ps(ep->shift + j, m) : zero;
#pragma GCC unroll 8
        for (int p = 0; p < px; p++) {
            __m256 v = _mm256_add_ps(acc[p], bv);
            if (ep->scale)
                v = _mm256_add_ps(_mm256_mul_ps(v, sv), hv);
            _mm256_maskstore_ps(q->yp + (size_t)p * c + j, m, act_avx2(v, ep->act, ep->alpha));
        }
    }
}

__attribute__((target("avx2,fma"))) static void dw_pixels_avx2(const dw_ctx *t, const dw_pix *q)
{
    if (q->npix == DW_PX)
        dw_block_avx2(t, q, DW_PX);
    else
        for (int p = 0; p < q->npix; p++) {
            const dw_pix one = dw_one_pixel(t, q, p);
            dw_block_avx2(t, &one, 1);
        }
}
#endif

static void dw_task(void *arg, int task, int thread)
{
    (void)thread;
    const dw_ctx *t = arg;
    void (*pixels)(const dw_ctx *, const dw_pix *) = dw_pixels_portable;
#if VB_X86_SIMD
    if (t->family == VB_KERNELS_AVX512)
        pixels = dw_pixels_avx512;
    else if (t->family == VB_KERNELS_AVX2)
        pixels = dw_pixels_avx2;
#endif
    size_t r0, r1;
    task_range(t->units, t->tasks, task, &r0, &r1);
    const size_t c = (size_t)t->c;
    for (size_t r = r0; r < r1; r++) {
        const int b = (int)(r / (size_t)t->oh), oy = (int)(r % (size_t)t->oh);
        const int iy0 = oy * t->stride - t->pad_top;
        dw_pix q = {.ky0 = iy0 < 0 ? -iy0 : 0, .ky1 = iy0 + t->kh > t->h ? t->h - iy0 : t->kh};
        const float *ximg = t->x + (size_t)b * t->h * t->w * c;
        float *yrow = t->y + r * (size_t)t->ow * c;
        for (int ox = 0; ox < t->ow;) {
            const int ix0 = ox * t->stride - t->pad_left;
            q.yp = yrow + (size_t)ox * c;
            if (ox >= t->ox_lo && ox < t->ox_hi) {
                q.npix = t->ox_hi - ox < DW_PX ? t->ox_hi - ox : DW_PX;
                q.kx0 = 0, q.kx1 = t->kw;
            } else {
                q.npix = 1;
                q.kx0 = ix0 < 0 ? -ix0 : 0;
                q.kx1 = ix0 + t->kw > t->w ? t->w - ix0 : t->kw;
            }
            if (q.ky0 < q.ky1 && q.kx0 < q.kx1) {
                q.xp = ximg + ((size_t)(iy0 + q.ky0) * t->w + (size_t)(ix0 + q.kx0)) * c;
                pixels(t, &q);
            } else { /* no tap in range: the epilogue of zero sums */
                for (int p = 0; p < q.npix; p++)
                    for (int c0 = 0; c0 < t->c; c0 += DW_ZERO_CH) {
                        static const float zeros[DW_ZERO_CH];
                        dw_epilogue(t->ep, zeros, q.yp + (size_t)p * c + c0, c0,
                                    t->c - c0 < DW_ZERO_CH ? t->c - c0 : DW_ZERO_CH);
                    }
            }
            ox += q.npix;
        }
    }
}

void vb_fast_dwconv2d(const float *x, int n, int h, int w, int c, const float *weight, const vb_fast_epilogue *ep,
                      int kh, int kw, int stride, int pad_top, int pad_left, int oh, int ow, float *y,
                      vb_tpool *pool)
{
    static const vb_fast_epilogue none;
    dw_ctx t = {.x = x, .wt = weight, .ep = ep ? ep : &none, .y = y, .h = h, .w = w, .c = c, .kh = kh, .kw = kw,
                .stride = stride, .pad_top = pad_top, .pad_left = pad_left, .oh = oh, .ow = ow,
                .units = (size_t)n * oh, .family = effective_kernels()};
    /* interior: ox * stride - pad_left >= 0 and ox * stride - pad_left + kw <= w */
    t.ox_lo = (pad_left + stride - 1) / stride;
    t.ox_hi = w - kw + pad_left >= 0 ? (w - kw + pad_left) / stride + 1 : 0;
    if (t.ox_hi > ow)
        t.ox_hi = ow;
    if (t.ox_lo > t.ox_hi)
        t.ox_lo = t.ox_hi;
    t.tasks = task_count(t.units, (size_t)ow * c * kh * kw, pool);
    vb_tpool_run(pool, t.tasks, dw_task, &t);
}

/* ---------------------------------------------------------------------------------------
 * Element-wise and pooling ops: contiguous ranges of outputs per task. */

#define ELEMS_PER_TASK 8192

static int task_count(size_t units, size_t unit_floats, vb_tpool *pool)
{
    size_t per = unit_floats ? (ELEMS_PER_TASK + unit_floats - 1) / unit_floats : 1;
    size_t tasks = (units + per - 1) / per;
    size_t most = (size_t)vb_tpool_threads(pool) * 4;
    tasks = tasks > most ? most : tasks;
    return tasks < 1 ? 1 : (int)tasks;
}

static void task_range(size_t units, int tasks, int task, size_t *u0, size_t *u1)
{
    *u0 = units * (size_t)task / (size_t)tasks;
    *u1 = units * (size_t)(task + 1) / (size_t)tasks;
}

typedef struct ew_ctx {
    const float *x, *x2, *scale, *shift;
    float *y;
    size_t units;
    int tasks;
    int n, h, w, c, k, stride, pad_top, pad_left, oh, ow, oc, is_max;
    vb_fast_kernels family; /* activations, pooling: the vector loops */
    vb_fast_act act;
    float alpha;
    int ah, aw, ac, bh, bw, bc;
} ew_ctx;

static void affine_task(void *arg, int task, int thread)
{
    (void)thread;
    const ew_ctx *t = arg;
    size_t p0, p1;
    task_range(t->units, t->tasks, task, &p0, &p1);
    vb_ref_affine(t->x + p0 * t->c, p1 - p0, t->c, t->scale, t->shift, t->y + p0 * t->c);
}

void vb_fast_affine(const float *x, size_t pixels, int c, const float *scale, const float *shift, float *y,
                    vb_tpool *pool)
{
    ew_ctx t = {.x = x, .scale = scale, .shift = shift, .y = y, .units = pixels, .c = c};
    t.tasks = task_count(pixels, (size_t)c, pool);
    vb_tpool_run(pool, t.tasks, affine_task, &t);
}

#if VB_X86_SIMD
/* The activation over a range, 16 / 8 floats at a time (vectors: no branch per element;
 * the scalar reference mispredicts on about half the elements of a random-signed tensor). */
__attribute__((target("avx512f"))) static void act_range_avx512(const float *x, size_t count, float *y,
                                                               vb_fast_act act, float alpha)
{
    for (size_t i = 0; i < count; i += 16) {
        const __mmask16 m = i + 16 <= count ? (__mmask16)0xffff : (__mmask16)((1u << (count - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, act_avx512(_mm512_maskz_loadu_ps(m, x + i), act, alpha));
    }
}

__attribute__((target("avx2,fma"))) static void act_range_avx2(const float *x, size_t count, float *y,
                                                              vb_fast_act act, float alpha)
{
    size_t i = 0;
    for (; i + 8 <= count; i += 8)
        _mm256_storeu_ps(y + i, act_avx2(_mm256_loadu_ps(x + i), act, alpha));
    for (; i < count; i++)
        y[i] = act_scalar(x[i], act, alpha);
}
#endif

static void act_task(void *arg, int task, int thread)
{
    (void)thread;
    const ew_ctx *t = arg;
    size_t i0, i1;
    task_range(t->units, t->tasks, task, &i0, &i1);
#if VB_X86_SIMD
    if (t->family == VB_KERNELS_AVX512) {
        act_range_avx512(t->x + i0, i1 - i0, t->y + i0, t->act, t->alpha);
        return;
    }
    if (t->family == VB_KERNELS_AVX2) {
        act_range_avx2(t->x + i0, i1 - i0, t->y + i0, t->act, t->alpha);
        return;
    }
#endif
    if (t->act == VB_ACT_LEAKY)
        vb_ref_leaky_relu(t->x + i0, i1 - i0, t->alpha, t->y + i0);
    else if (t->act == VB_ACT_RELU6)
        vb_ref_relu6(t->x + i0, i1 - i0, t->y + i0);
    else
        vb_ref_relu(t->x + i0, i1 - i0, t->y + i0);
}

static void run_act(const float *x, size_t count, vb_fast_act act, float alpha, float *y, vb_tpool *pool)
{
    ew_ctx t = {.x = x, .y = y, .units = count, .act = act, .alpha = alpha, .family = effective_kernels()};
    t.tasks = task_count(count, 1, pool);
    vb_tpool_run(pool, t.tasks, act_task, &t);
}

void vb_fast_relu(const float *x, size_t count, float *y, vb_tpool *pool)
{
    run_act(x, count, VB_ACT_RELU, 0.0f, y, pool);
}

void vb_fast_leaky_relu(const float *x, size_t count, float alpha, float *y, vb_tpool *pool)
{
    run_act(x, count, VB_ACT_LEAKY, alpha, y, pool);
}

void vb_fast_relu6(const float *x, size_t count, float *y, vb_tpool *pool)
{
    run_act(x, count, VB_ACT_RELU6, 0.0f, y, pool);
}

/* Pooling over output rows (image, oy). The taps are visited in the reference's order
 * (ky, kx) per channel, so the max keeps the same first winner and the mean sums the same
 * doubles in the same order as vb_ref_maxpool / vb_ref_avgpool. */
#define POOL_CHUNK 256 /* channels per double accumulator chunk */

#if VB_X86_SIMD
/* One tap of the mean for nc channels: sum += (double)x lane by lane. */
__attribute__((target("avx512f"))) static void avgpool_tap_avx512(const float *xp, double *sum, int nc)
{
    for (int j = 0; j < nc; j += 16) {
        const __mmask16 m = j + 16 <= nc ? (__mmask16)0xffff : (__mmask16)((1u << (nc - j)) - 1);
        const __m512 x = _mm512_maskz_loadu_ps(m, xp + j);
        const __mmask8 lo = (__mmask8)(m & 0xff), hi = (__mmask8)(m >> 8);
        const __m256 x_hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1));
        const __m256 x_lo = _mm512_castps512_ps256(x);
        _mm512_mask_storeu_pd(sum + j, lo, _mm512_add_pd(_mm512_maskz_loadu_pd(lo, sum + j), _mm512_cvtps_pd(x_lo)));
        _mm512_mask_storeu_pd(sum + j + 8, hi,
                              _mm512_add_pd(_mm512_maskz_loadu_pd(hi, sum + j + 8), _mm512_cvtps_pd(x_hi)));
    }
}
#endif

static void avgpool_pixel(const ew_ctx *t, const float *xi, int oy, int ox, float *yp)
{
    const int c = t->c;
    for (int c0 = 0; c0 < c; c0 += POOL_CHUNK) {
        const int nc = c - c0 < POOL_CHUNK ? c - c0 : POOL_CHUNK;
        double sum[POOL_CHUNK];
        int taps = 0;
        for (int j = 0; j < nc; j++)
            sum[j] = 0.0;
        for (int ky = 0; ky < t->k; ky++) {
            const int iy = oy * t->stride - t->pad_top + ky;
            if (iy < 0 || iy >= t->h)
                continue;
            for (int kx = 0; kx < t->k; kx++) {
                const int ix = ox * t->stride - t->pad_left + kx;
                if (ix < 0 || ix >= t->w)
                    continue;
                const float *xp = xi + ((size_t)iy * t->w + ix) * c + c0;
                taps++;
#if VB_X86_SIMD
                if (t->family == VB_KERNELS_AVX512) {
                    avgpool_tap_avx512(xp, sum, nc);
                    continue;
                }
#endif
                for (int j = 0; j < nc; j++)
                    sum[j] += xp[j];
            }
        }
        for (int j = 0; j < nc; j++)
            yp[c0 + j] = taps ? (float)(sum[j] / taps) : 0.0f;
    }
}

/* The max of one output pixel over its ny x nx in-range taps (at least one; xp: the first,
 * row: floats from one input row to the next), the running max in registers: best =
 * max(x, best) tap by tap from -FLT_MAX, the reference's rule (vmaxps returns its second
 * operand unless x > best: NaN x never wins, an equal x leaves best). */
#if VB_X86_SIMD
__attribute__((target("avx512f"))) static void maxpool_pixel_avx512(const float *xp, size_t row, int ny, int nx,
                                                                   int c, float *yp)
{
    for (int j = 0; j < c; j += 16) {
        const __mmask16 m = j + 16 <= c ? (__mmask16)0xffff : (__mmask16)((1u << (c - j)) - 1);
        __m512 best = _mm512_set1_ps(-FLT_MAX);
        for (int ky = 0; ky < ny; ky++)
            for (int kx = 0; kx < nx; kx++)
                best = _mm512_max_ps(_mm512_maskz_loadu_ps(m, xp + ky * row + (size_t)kx * c + j), best);
        _mm512_mask_storeu_ps(yp + j, m, best);
    }
}

__attribute__((target("avx2,fma"))) static void maxpool_pixel_avx2(const float *xp, size_t row, int ny, int nx,
                                                                  int c, float *yp)
{
    for (int j = 0; j < c; j += 8) {
        const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(c - j), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 best = _mm256_set1_ps(-FLT_MAX);
        for (int ky = 0; ky < ny; ky++)
            for (int kx = 0; kx < nx; kx++)
                best = _mm256_max_ps(_mm256_maskload_ps(xp + ky * row + (size_t)kx * c + j, m), best);
        _mm256_maskstore_ps(yp + j, m, best);
    }
}
#endif

static void maxpool_pixel_portable(const float *xp, size_t row, int ny, int nx, int c, float *yp)
{
    for (int j = 0; j < c; j++)
        yp[j] = -FLT_MAX;
    for (int ky = 0; ky < ny; ky++)
        for (int kx = 0; kx < nx; kx++) {
            const float *xs = xp + ky * row + (size_t)kx * c;
            for (int j = 0; j < c; j++)
                yp[j] = xs[j] > yp[j] ? xs[j] : yp[j];
        }
}

/* One output row of a max pool whose window rows in range are the ny input rows from xr on
 * (row floats apart): each pixel over its in-range columns. */
static void maxpool_out_row(const float *xr, size_t row, int ny, int w, int c, int k, int stride, int pad_left,
                            int ow, float *yrow, vb_fast_kernels family)
{
    for (int ox = 0; ox < ow; ox++) {
        const int ix0 = ox * stride - pad_left, kx0 = ix0 < 0 ? -ix0 : 0;
        const int kx1 = ix0 + k > w ? w - ix0 : k;
        float *yp = yrow + (size_t)ox * c;
        if (ny <= 0 || kx0 >= kx1) { /* no tap in range */
            for (int j = 0; j < c; j++)
                yp[j] = -FLT_MAX;
            continue;
        }
        const float *xp = xr + (size_t)(ix0 + kx0) * c;
#if VB_X86_SIMD
        if (family == VB_KERNELS_AVX512) {
            maxpool_pixel_avx512(xp, row, ny, kx1 - kx0, c, yp);
            continue;
        }
        if (family == VB_KERNELS_AVX2) {
            maxpool_pixel_avx2(xp, row, ny, kx1 - kx0, c, yp);
            continue;
        }
#endif
        maxpool_pixel_portable(xp, row, ny, kx1 - kx0, c, yp);
    }
}

static void pool_task(void *arg, int task, int thread)
{
    (void)thread;
    const ew_ctx *t = arg;
    size_t r0, r1;
    task_range(t->units, t->tasks, task, &r0, &r1);
    const size_t in_image = (size_t)t->h * t->w * t->c, row = (size_t)t->w * t->c;
    for (size_t r = r0; r < r1; r++) {
        const int b = (int)(r / (size_t)t->oh), oy = (int)(r % (size_t)t->oh);
        const float *xi = t->x + (size_t)b * in_image;
        float *yrow = t->y + r * (size_t)t->ow * t->c;
        if (t->is_max) {
            const int iy0 = oy * t->stride - t->pad_top, ky0 = iy0 < 0 ? -iy0 : 0;
            const int ky1 = iy0 + t->k > t->h ? t->h - iy0 : t->k;
            maxpool_out_row(ky0 < ky1 ? xi + (size_t)(iy0 + ky0) * row : xi, row, ky1 - ky0, t->w, t->c, t->k,
                            t->stride, t->pad_left, t->ow, yrow, t->family);
            continue;
        }
        for (int ox = 0; ox < t->ow; ox++)
            avgpool_pixel(t, xi, oy, ox, yrow + (size_t)ox * t->c);
    }
}

void vb_fast_pool2d(const float *x, int n, int h, int w, int c, int k, int stride, int pad_top, int pad_left,
                    int oh, int ow, float *y, int is_max, vb_tpool *pool)
{
    ew_ctx t = {.x = x, .y = y, .units = (size_t)n * oh, .n = n, .h = h, .w = w, .c = c, .k = k, .stride = stride,
                .pad_top = pad_top, .pad_left = pad_left, .oh = oh, .ow = ow, .is_max = is_max,
                .family = effective_kernels()};
    t.tasks = task_count(t.units, (size_t)ow * c * k * k, pool);
    vb_tpool_run(pool, t.tasks, pool_task, &t);
}

#if VB_X86_SIMD
/* y = a + b over a range, 16 / 8 floats at a time (the same float additions). */
__attribute__((target("avx512f"))) static void add_range_avx512(const float *a, const float *b, size_t count,
                                                               float *y)
{
    for (size_t i = 0; i < count; i += 16) {
        const __mmask16 m = i + 16 <= count ? (__mmask16)0xffff : (__mmask16)((1u << (count - i)) - 1);
        const __m512 sum = _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        _mm512_mask_storeu_ps(y + i, m, sum);
    }
}

__attribute__((target("avx2,fma"))) static void add_range_avx2(const float *a, const float *b, size_t count, float *y)
{
    size_t i = 0;
    for (; i + 8 <= count; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < count; i++)
        y[i] = a[i] + b[i];
}
#endif

/* at_or_zero(a) + at_or_zero(b), as vb_ref_add_zeropad, over output rows (image, yy). When
 * both inputs have the output's shape (the landmark net's dense-block sums) nothing is
 * padded: a row is one vector loop. */
static void add_task(void *arg, int task, int thread)
{
    (void)thread;
    const ew_ctx *t = arg;
    size_t r0, r1;
    task_range(t->units, t->tasks, task, &r0, &r1);
    const int same = t->ah == t->oh && t->aw == t->ow && t->ac == t->oc && t->bh == t->oh && t->bw == t->ow &&
                     t->bc == t->oc;
#if VB_X86_SIMD
    if (same && (t->family == VB_KERNELS_AVX512 || t->family == VB_KERNELS_AVX2)) {
        const size_t row = (size_t)t->ow * t->oc, off = r0 * row, count = (r1 - r0) * row;
        if (t->family == VB_KERNELS_AVX512)
            add_range_avx512(t->x + off, t->x2 + off, count, t->y + off);
        else
            add_range_avx2(t->x + off, t->x2 + off, count, t->y + off);
        return;
    }
#else
    (void)same;
#endif
    for (size_t r = r0; r < r1; r++) {
        const int i = (int)(r / (size_t)t->oh), yy = (int)(r % (size_t)t->oh);
        for (int xx = 0; xx < t->ow; xx++) {
            const float *ap = yy < t->ah && xx < t->aw ? t->x + (((size_t)i * t->ah + yy) * t->aw + xx) * t->ac : NULL;
            const float *bp = yy < t->bh && xx < t->bw ? t->x2 + (((size_t)i * t->bh + yy) * t->bw + xx) * t->bc : NULL;
            float *yp = t->y + (((size_t)i * t->oh + yy) * t->ow + xx) * t->oc;
            for (int ch = 0; ch < t->oc; ch++)
                yp[ch] = (ap && ch < t->ac ? ap[ch] : 0.0f) + (bp && ch < t->bc ? bp[ch] : 0.0f);
        }
    }
}

void vb_fast_add_zeropad(const float *a, int ah, int aw, int ac, const float *b, int bh, int bw, int bc, int n,
                         float *y, int oh, int ow, int oc, vb_tpool *pool)
{
    ew_ctx t = {.x = a, .x2 = b, .y = y, .units = (size_t)n * oh, .oh = oh, .ow = ow, .oc = oc,
                .ah = ah, .aw = aw, .ac = ac, .bh = bh, .bw = bw, .bc = bc, .family = effective_kernels()};
    t.tasks = task_count(t.units, (size_t)ow * oc, pool);
    vb_tpool_run(pool, t.tasks, add_task, &t);
}

static void mean_task(void *arg, int task, int thread)
{
    (void)thread;
    const ew_ctx *t = arg;
    size_t i0, i1;
    task_range(t->units, t->tasks, task, &i0, &i1);
    for (size_t i = i0; i < i1; i++)
        vb_ref_mean_hw(t->x + i * (size_t)t->h * t->w * t->c, 1, t->h, t->w, t->c, t->y + i * (size_t)t->c);
}

void vb_fast_mean_hw(const float *x, int n, int h, int w, int c, float *y, vb_tpool *pool)
{
    ew_ctx t = {.x = x, .y = y, .units = (size_t)n, .h = h, .w = w, .c = c};
    t.tasks = task_count(t.units, (size_t)h * w * c, pool);
    vb_tpool_run(pool, t.tasks, mean_task, &t);
}
