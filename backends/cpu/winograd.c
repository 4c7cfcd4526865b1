#include "backends/cpu/winograd.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VB_X86_SIMD 1
#else
#define VB_X86_SIMD 0
#endif

#define NR VB_FAST_NR
#define MR VB_FAST_MR
#define WT 6  /* input tile side */
#define WM 4  /* output tile side */
#define WE 36 /* tile elements */
#define CH 16 /* channels per transform vector */
/* Tiles per task: V and M blocks of T x 36 x (cin + cout) floats within ~384 KB (L2). */
#define BLOCK_FLOATS 98304
#define T_MAX 64
#define KC_MAX 256    /* the k blocking of fast_ops.c's GEMM: a 2-panel weight slice stays in L1 */
#define KC_SINGLE 320

/* 16 floats as one value (GCC vector extension): the transforms below are written once
 * and run on this type (an AVX-512 register, two AVX2 ones or four SSE ones, as the
 * function it is inlined into allows) and on plain floats for a tail of channels, with the
 * same operations lane by lane. aligned(4): loads and stores at any float. */
typedef float wvec __attribute__((vector_size(CH * sizeof(float)), aligned(4)));

int vb_wino_applies(int kh, int kw, int stride)
{
    return kh == 3 && kw == 3 && stride == 1;
}

int vb_wino_pays(int oh, int ow)
{
    const long tiles = (long)((oh + WM - 1) / WM) * ((ow + WM - 1) / WM);
    return tiles >= 16 && (long)oh * ow * 10 >= tiles * WM * WM * 7;
}

/* ---------------------------------------------------------------------------------------
 * Filter transform, at load: U = G g G^T in double, G the F(4, 3) matrix for the points 0,
 * 1, -1, 2, -2 and infinity (Lavin & Gray 2016). */
static const double G[WT][3] = {{1.0 / 4, 0, 0},
                                {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                {0, 0, 1}};

/* g: 9 taps (ky, kx) with stride `step` between them; u: the 36 elements. */
static void filter_transform(const float *g, size_t step, double u[WE])
{
    double t[WT][3];
    for (int i = 0; i < WT; i++)
        for (int kx = 0; kx < 3; kx++)
            t[i][kx] = G[i][0] * g[(0 * 3 + kx) * step] + G[i][1] * g[(1 * 3 + kx) * step] +
                       G[i][2] * g[(2 * 3 + kx) * step];
    for (int i = 0; i < WT; i++)
        for (int j = 0; j < WT; j++)
            u[i * WT + j] = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
}

int vb_wino_pack_tensor(const vb_tensor *t, int cout, vb_wino_weights *out, vb_err *e)
{
    memset(out, 0, sizeof *out);
    int k = 0;
    float *w = vb_fast_decode_rows(t, cout, &k, e);
    if (!w)
        return -1;
    if (k % 9) {
        free(w);
        return vb_fail(e, VB_EXIT_INPUT, "tensor %s: %d values per output channel are not 3 x 3 x channels",
                       t->name, k);
    }
    const int cin = k / 9, ppe = (cout + NR - 1) / NR, coutp = ppe * NR;
    /* rows (element, output channel) of cin values, channels past cout zero */
    float *rows = calloc((size_t)WE * coutp * cin, sizeof(float));
    int rc = 0;
    if (!rows) {
        rc = vb_fail(e, VB_EXIT_IO, "out of memory transforming %s", t->name);
    } else {
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++) {
                double u[WE];
                filter_transform(w + (size_t)co * k + ci, (size_t)cin, u);
                for (int el = 0; el < WE; el++)
                    rows[((size_t)el * coutp + co) * cin + ci] = (float)u[el];
            }
        if (vb_fast_pack(rows, WE * coutp, cin, &out->u))
            rc = vb_fail(e, VB_EXIT_IO, "out of memory packing %s", t->name);
        out->cin = cin, out->cout = cout, out->panels_per_element = ppe;
    }
    free(rows);
    free(w);
    return rc;
}

void vb_wino_free(vb_wino_weights *w)
{
    vb_fast_pack_free(&w->u);
}

/* ---------------------------------------------------------------------------------------
 * The data transforms, each one expression per output written for both types. */

/* B^T applied to d0..d5 (one column or row of a 6x6 window). */
#define BT6(o, d0, d1, d2, d3, d4, d5)                                                      \
    do {                                                                                   \
        (o)[0] = 4.0f * (d0) - 5.0f * (d2) + (d4);                                         \
        (o)[1] = ((d3) + (d4)) - 4.0f * ((d1) + (d2));                                     \
        (o)[2] = ((d4) - (d3)) + 4.0f * ((d1) - (d2));                                     \
        (o)[3] = ((d4) - (d2)) + 2.0f * ((d3) - (d1));                                     \
        (o)[4] = ((d4) - (d2)) - 2.0f * ((d3) - (d1));                                     \
        (o)[5] = 4.0f * (d1) - 5.0f * (d3) + (d5);                                         \
    } while (0)

/* A^T applied to m0..m5: four outputs. */
#define AT6(o, m0, m1, m2, m3, m4, m5)                                                      \
    do {                                                                                   \
        (o)[0] = (m0) + ((m1) + (m2)) + ((m3) + (m4));                                     \
        (o)[1] = ((m1) - (m2)) + 2.0f * ((m3) - (m4));                                     \
        (o)[2] = ((m1) + (m2)) + 4.0f * ((m3) + (m4));                                     \
        (o)[3] = (((m1) - (m2)) + 8.0f * ((m3) - (m4))) + (m5);                            \
    } while (0)

/* V = B^T d B for one vector (or one float) of channels: d(i, j) the window's pixel (i, j),
 * v(el) where element el goes. */
#define IN_TRANSFORM(T, D, VOUT)                                                            \
    do {                                                                                   \
        T t_[WT][WT], o_[WT];                                                              \
        for (int j = 0; j < WT; j++) {                                                     \
            BT6(o_, D(0, j), D(1, j), D(2, j), D(3, j), D(4, j), D(5, j));                 \
            for (int i = 0; i < WT; i++)                                                   \
                t_[i][j] = o_[i];                                                          \
        }                                                                                  \
        for (int i = 0; i < WT; i++) {                                                     \
            BT6(o_, t_[i][0], t_[i][1], t_[i][2], t_[i][3], t_[i][4], t_[i][5]);           \
            for (int j = 0; j < WT; j++)                                                   \
                VOUT(i * WT + j) = o_[j];                                                  \
        }                                                                                  \
    } while (0)

/* Y = A^T M A: m(el) the sums of element el, y(i, j) the 4x4 outputs. */
#define OUT_TRANSFORM(T, M, Y)                                                              \
    do {                                                                                   \
        T t_[WM][WT], o_[WM];                                                              \
        for (int j = 0; j < WT; j++) {                                                     \
            AT6(o_, M(0 * WT + j), M(1 * WT + j), M(2 * WT + j), M(3 * WT + j), M(4 * WT + j), \
                M(5 * WT + j));                                                            \
            for (int i = 0; i < WM; i++)                                                   \
                t_[i][j] = o_[i];                                                          \
        }                                                                                  \
        for (int i = 0; i < WM; i++) {                                                     \
            AT6(o_, t_[i][0], t_[i][1], t_[i][2], t_[i][3], t_[i][4], t_[i][5]);           \
            for (int j = 0; j < WM; j++)                                                   \
                Y(i, j) = o_[j];                                                           \
        }                                                                                  \
    } while (0)

/* One 6x6 window (pixel (i, j) channel c at src[i * rs + j * cin + c]) into v (element el,
 * channel c at v[el * vs + c]). */
static inline __attribute__((always_inline)) void in_tile(const float *src, size_t rs, int cin, float *v,
                                                          size_t vs)
{
    int c = 0;
    for (; c + CH <= cin; c += CH) {
#define D(i, j) (*(const wvec *)(src + (i) * rs + (size_t)(j) * cin + c))
#define VOUT(el) (*(wvec *)(v + (size_t)(el) * vs + c))
        IN_TRANSFORM(wvec, D, VOUT);
#undef D
#undef VOUT
    }
    for (; c < cin; c++) {
#define D(i, j) (src[(i) * rs + (size_t)(j) * cin + c])
#define VOUT(el) (v[(size_t)(el) * vs + c])
        IN_TRANSFORM(float, D, VOUT);
#undef D
#undef VOUT
    }
}

/* One tile's sums (element el, channel c at m[el * ms + c], nc a multiple of CH) into
 * out (pixel (i, j), channel c at out[(i * 4 + j) * nc + c]). */
static inline __attribute__((always_inline)) void out_tile(const float *m, size_t ms, int nc, float *out)
{
    for (int c = 0; c < nc; c += CH) {
#define M(el) (*(const wvec *)(m + (size_t)(el) * ms + c))
#define Y(i, j) (*(wvec *)(out + (size_t)((i) * WM + (j)) * nc + c))
        OUT_TRANSFORM(wvec, M, Y);
#undef M
#undef Y
    }
}

/* The transforms compiled for each family's registers (the same floats in all). */
#if VB_X86_SIMD
__attribute__((target("avx512f"))) static void in_tile_avx512(const float *src, size_t rs, int cin, float *v,
                                                             size_t vs)
{
    in_tile(src, rs, cin, v, vs);
}
__attribute__((target("avx512f"))) static void out_tile_avx512(const float *m, size_t ms, int nc, float *out)
{
    out_tile(m, ms, nc, out);
}
__attribute__((target("avx2"))) static void in_tile_avx2(const float *src, size_t rs, int cin, float *v, size_t vs)
{
    in_tile(src, rs, cin, v, vs);
}
__attribute__((target("avx2"))) static void out_tile_avx2(const float *m, size_t ms, int nc, float *out)
{
    out_tile(m, ms, nc, out);
}
#endif
static void in_tile_portable(const float *src, size_t rs, int cin, float *v, size_t vs)
{
    in_tile(src, rs, cin, v, vs);
}
static void out_tile_portable(const float *m, size_t ms, int nc, float *out)
{
    out_tile(m, ms, nc, out);
}

typedef void in_fn(const float *src, size_t rs, int cin, float *v, size_t vs);
typedef void out_fn(const float *m, size_t ms, int nc, float *out);

/* ---------------------------------------------------------------------------------------
 * The driver. */

typedef struct wino_ctx {
    const float *x;
    int h, w, cin, cout, pad_top, pad_left, oh, ow;
    int tiles_y, tiles_x, tiles; /* 4x4 output tiles per column, per row, in all */
    const vb_wino_weights *wt;
    const vb_fast_epilogue *ep;
    float *y, *scratch;
    size_t scratch_stride;
    int tb, n_groups, group_panels; /* tiles per block (a multiple of MR), panel groups */
    vb_fast_tile_fn *tile;
    vb_fast_epilogue_fn *epilogue;
    in_fn *in;
    out_fn *out;
} wino_ctx;

static int round_up(int x, int m)
{
    return (x + m - 1) / m * m;
}

static int tile_limit(int cin, int cout)
{
    int t = BLOCK_FLOATS / (WE * (cin + round_up(cout, NR))) / MR * MR;
    return t < MR ? MR : t > T_MAX ? T_MAX : t;
}

size_t vb_wino_scratch_floats(int cin, int cout)
{
    const size_t t = (size_t)tile_limit(cin, cout), coutp = (size_t)round_up(cout, NR);
    return WE * t * ((size_t)cin + coutp) + WE * (size_t)cin + (size_t)WM * WM * coutp;
}

/* Tiles x panel groups into tasks (as fast_ops.c cuts rows x panels): blocks of tiles for
 * every thread when there are enough, else the panels shared out. */
static void plan(wino_ctx *g, int threads)
{
    const int ppe = g->wt->panels_per_element, limit = tile_limit(g->cin, g->cout);
    int blocks = (g->tiles + limit - 1) / limit, groups = 1, per = ppe;
    if (blocks >= threads) {
        blocks = round_up(blocks, threads);
    } else {
        per = round_up((ppe + threads - 1) / threads, 2);
        groups = (ppe + per - 1) / per;
        if (groups < threads && g->tiles >= 4 * MR * threads)
            blocks = threads;
    }
    g->n_groups = groups;
    g->group_panels = per;
    g->tb = round_up((g->tiles + blocks - 1) / blocks, MR);
    if (g->tb > limit)
        g->tb = limit;
}

/* Tile t's 6x6 input window into V (column tt of the block), through the thread's window
 * buffer `win` when part of it lies outside the input. */
static void transform_input(const wino_ctx *g, int t, int tt, float *v, float *win)
{
    const int cin = g->cin, per_image = g->tiles_y * g->tiles_x;
    const int b = t / per_image, ty = t % per_image / g->tiles_x, tx = t % g->tiles_x;
    const int iy0 = ty * WM - g->pad_top, ix0 = tx * WM - g->pad_left;
    const size_t row = (size_t)g->w * cin, vs = (size_t)g->tb * cin;
    const float *img = g->x + (size_t)b * g->h * row;
    if (iy0 >= 0 && ix0 >= 0 && iy0 + WT <= g->h && ix0 + WT <= g->w) {
        g->in(img + (size_t)iy0 * row + (size_t)ix0 * cin, row, cin, v + (size_t)tt * cin, vs);
        return;
    }
    const int jx0 = ix0 < 0 ? -ix0 : 0, jx1 = ix0 + WT > g->w ? g->w - ix0 : WT;
    for (int i = 0; i < WT; i++) {
        float *dst = win + (size_t)i * WT * cin;
        const int iy = iy0 + i;
        memset(dst, 0, (size_t)WT * cin * sizeof(float));
        if (iy >= 0 && iy < g->h && jx0 < jx1)
            memcpy(dst + (size_t)jx0 * cin, img + (size_t)iy * row + (size_t)(ix0 + jx0) * cin,
                   (size_t)(jx1 - jx0) * cin * sizeof(float));
    }
    g->in(win, (size_t)WT * cin, cin, v + (size_t)tt * cin, vs);
}

/* The 36 GEMMs of a block: M[el][tt][c] = sum over ci of V[el][tt][ci] * U[el][ci][c] for
 * the group's panels p0..p1. */
static void block_gemms(const wino_ctx *g, const float *v, int nt, int p0, int p1, float *m)
{
    const vb_packed_weights *u = &g->wt->u;
    const int cin = g->cin, ppe = g->wt->panels_per_element;
    const int kblocks = cin <= KC_SINGLE ? 1 : (cin + KC_MAX - 1) / KC_MAX, kc0 = (cin + kblocks - 1) / kblocks;
    const size_t ldc = (size_t)(p1 - p0) * NR;
    for (int el = 0; el < WE; el++) {
        const float *ve = v + (size_t)el * g->tb * cin;
        float *me = m + (size_t)el * g->tb * ldc;
        for (int k0 = 0; k0 < cin; k0 += kc0) {
            const int kc = cin - k0 < kc0 ? cin - k0 : kc0;
            for (int p = p0; p < p1; p += 2) {
                const int np = p1 - p < 2 ? p1 - p : 2;
                const float *wp = u->data + ((size_t)el * ppe + p) * u->panel_floats + (size_t)k0 * NR;
                for (int r = 0; r < nt; r += MR) {
                    const int mr = nt - r < MR ? nt - r : MR;
                    const float *rows[MR];
                    for (int i = 0; i < mr; i++)
                        rows[i] = ve + (size_t)(r + i) * cin + k0;
                    g->tile(rows, mr, wp, u->panel_floats, np, kc, me + (size_t)r * ldc + (size_t)(p - p0) * NR,
                            ldc, k0 > 0);
                }
            }
        }
    }
}

/* Tile t's sums (column tt of M) back to its 4x4 outputs, channels c0..c1, with the
 * epilogue. */
static void transform_output(const wino_ctx *g, int t, int tt, const float *m, size_t ldc, int c0, int c1,
                             float *out)
{
    const vb_fast_epilogue *ep = g->ep;
    const int per_image = g->tiles_y * g->tiles_x;
    const int b = t / per_image, ty = t % per_image / g->tiles_x, tx = t % g->tiles_x;
    g->out(m + (size_t)tt * ldc, (size_t)g->tb * ldc, (int)ldc, out);
    for (int i = 0; i < WM && ty * WM + i < g->oh; i++)
        for (int j = 0; j < WM && tx * WM + j < g->ow; j++) {
            const int oy = ty * WM + i, ox = tx * WM + j;
            const float *res = NULL;
            int nin = 0;
            if (ep->res && oy < ep->res_h && ox < ep->res_w) {
                res = ep->res + (((size_t)b * ep->res_h + oy) * ep->res_w + ox) * ep->res_c;
                nin = ep->res_c - c0 < 0 ? 0 : ep->res_c - c0 < c1 - c0 ? ep->res_c - c0 : c1 - c0;
            }
            float *yp = g->y + (((size_t)b * g->oh + oy) * g->ow + ox) * g->cout + c0;
            g->epilogue(ep, out + (size_t)(i * WM + j) * ldc, yp, c0, c1 - c0, res, nin);
        }
}

static void wino_task(void *arg, int task, int thread)
{
    const wino_ctx *g = arg;
    const int ppe = g->wt->panels_per_element;
    const int blk = task / g->n_groups, grp = task % g->n_groups;
    const int t0 = blk * g->tb, nt = g->tiles - t0 < g->tb ? g->tiles - t0 : g->tb;
    const int p0 = grp * g->group_panels, p1 = p0 + g->group_panels < ppe ? p0 + g->group_panels : ppe;
    const int c0 = p0 * NR, c1 = p1 * NR < g->cout ? p1 * NR : g->cout;
    const size_t ldc = (size_t)(p1 - p0) * NR;
    float *v = g->scratch + (size_t)thread * g->scratch_stride;
    float *m = v + (size_t)WE * g->tb * g->cin;
    float *win = m + (size_t)WE * g->tb * ldc, *out = win + (size_t)WE * g->cin;
    for (int tt = 0; tt < nt; tt++)
        transform_input(g, t0 + tt, tt, v, win);
    block_gemms(g, v, nt, p0, p1, m);
    for (int tt = 0; tt < nt; tt++)
        transform_output(g, t0 + tt, tt, m, ldc, c0, c1, out);
}

void vb_wino_conv3x3(const float *x, int n, int h, int w, int cin, const vb_wino_weights *wt,
                     const vb_fast_epilogue *ep, int pad_top, int pad_left, int oh, int ow, float *y, float *scratch,
                     vb_tpool *pool)
{
    static const vb_fast_epilogue none;
    wino_ctx g = {.x = x, .h = h, .w = w, .cin = cin, .cout = wt->cout, .pad_top = pad_top, .pad_left = pad_left,
                  .oh = oh, .ow = ow, .wt = wt, .ep = ep ? ep : &none, .y = y, .scratch = scratch,
                  .scratch_stride = vb_wino_scratch_floats(cin, wt->cout), .tile = vb_fast_tile_kernel(),
                  .epilogue = vb_fast_epilogue_kernel(),
                  .in = in_tile_portable, .out = out_tile_portable};
    g.tiles_y = (oh + WM - 1) / WM, g.tiles_x = (ow + WM - 1) / WM;
    g.tiles = n * g.tiles_y * g.tiles_x;
#if VB_X86_SIMD
    if (!strcmp(vb_fast_kernel_family(), "avx512f"))
        g.in = in_tile_avx512, g.out = out_tile_avx512;
    else if (!strcmp(vb_fast_kernel_family(), "avx2+fma"))
        g.in = in_tile_avx2, g.out = out_tile_avx2;
#endif
    plan(&g, vb_tpool_threads(pool));
    const int blocks = (g.tiles + g.tb - 1) / g.tb;
    vb_tpool_run(pool, blocks * g.n_groups, wino_task, &g);
}
