#include "backends/cpu/fast_ops.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MR 4 /* output rows (pixels) per micro-tile */
#define NR VB_FAST_NR

int vb_fast_pack(const float *w, int cout, int k, vb_packed_weights *out)
{
    out->k = k;
    out->cout = cout;
    out->n_panels = (cout + NR - 1) / NR;
    out->panels = calloc((size_t)out->n_panels * k * NR, sizeof(float));
    if (!out->panels)
        return -1;
    for (int co = 0; co < cout; co++)
        for (int i = 0; i < k; i++)
            out->panels[((size_t)(co / NR) * k + i) * NR + co % NR] = w[(size_t)co * k + i];
    return 0;
}

void vb_fast_pack_free(vb_packed_weights *p)
{
    free(p->panels);
    p->panels = NULL;
}

/* One MR x NR tile: fixed-size accumulators the compiler keeps in vector registers.
 * Cloned for AVX2 on x86-64 (picked at load time from the CPU's features), so one binary
 * runs everywhere and uses the wide units where they exist. (An FMA clone measured slower
 * here: the 8 accumulators do not hide FMA latency.) */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VB_KERNEL_ATTR __attribute__((target_clones("avx2", "default"), optimize("O3")))
#else
#define VB_KERNEL_ATTR
#endif
VB_KERNEL_ATTR static void micro_tile(const float *a, size_t lda, int m, const float *panel, int k, float *acc_out)
{
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    const float *a0 = a, *a1 = a + (m > 1 ? lda : 0), *a2 = a + (m > 2 ? 2 * lda : 0),
                *a3 = a + (m > 3 ? 3 * lda : 0);
    for (int i = 0; i < k; i++) {
        const float *b = panel + (size_t)i * NR;
        const float v0 = a0[i], v1 = a1[i], v2 = a2[i], v3 = a3[i];
        for (int j = 0; j < NR; j++) {
            acc[0][j] += v0 * b[j];
            acc[1][j] += v1 * b[j];
            acc[2][j] += v2 * b[j];
            acc[3][j] += v3 * b[j];
        }
    }
    memcpy(acc_out, acc, sizeof acc);
}

typedef struct gemm_job {
    const float *a;
    const vb_packed_weights *w;
    const float *bias;
    float *y;
    int row0, row1;
} gemm_job;

static void gemm_rows(const gemm_job *j)
{
    const int k = j->w->k, cout = j->w->cout;
    float acc[MR * NR];
    for (int r = j->row0; r < j->row1; r += MR) {
        int m = j->row1 - r < MR ? j->row1 - r : MR;
        const float *a = j->a + (size_t)r * k;
        for (int p = 0; p < j->w->n_panels; p++) {
            micro_tile(a, (size_t)k, m, j->w->panels + (size_t)p * k * NR, k, acc);
            int c0 = p * NR, nc = cout - c0 < NR ? cout - c0 : NR;
            for (int i = 0; i < m; i++) {
                float *yr = j->y + (size_t)(r + i) * cout + c0;
                for (int c = 0; c < nc; c++)
                    yr[c] = acc[i * NR + c] + (j->bias ? j->bias[c0 + c] : 0.0f);
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
    gemm_job jobs[MAX_THREADS];
    pthread_t tids[MAX_THREADS];
    int per = ((rows + threads - 1) / threads + MR - 1) / MR * MR;
    int started = 0;
    for (int t = 0; t < threads; t++) {
        int r0 = t * per, r1 = r0 + per < rows ? r0 + per : rows;
        if (r0 >= r1)
            break;
        jobs[t] = (gemm_job){a, w, bias, y, r0, r1};
        started++;
    }
    /* Worker threads take jobs 1..n-1; this thread runs job 0. A failed spawn runs inline. */
    int spawned[MAX_THREADS] = {0};
    for (int t = 1; t < started; t++)
        spawned[t] = pthread_create(&tids[t], NULL, gemm_thread, &jobs[t]) == 0;
    if (started)
        gemm_rows(&jobs[0]);
    for (int t = 1; t < started; t++) {
        if (spawned[t])
            pthread_join(tids[t], NULL);
        else
            gemm_rows(&jobs[t]);
    }
}

static void im2col(const float *x, int n, int h, int w, int cin, int kh, int kw, int stride,
                   int pad_top, int pad_left, int oh, int ow, float *cols)
{
    const size_t k = (size_t)kh * kw * cin;
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float *row = cols + (((size_t)b * oh + oy) * ow + ox) * k;
                for (int ky = 0; ky < kh; ky++) {
                    int iy = oy * stride - pad_top + ky;
                    for (int kx = 0; kx < kw; kx++) {
                        int ix = ox * stride - pad_left + kx;
                        float *dst = row + ((size_t)ky * kw + kx) * cin;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                            memset(dst, 0, (size_t)cin * sizeof(float));
                        else
                            memcpy(dst, x + (((size_t)b * h + iy) * w + ix) * cin, (size_t)cin * sizeof(float));
                    }
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
