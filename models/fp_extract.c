/* Fingerprint minutiae extraction (see models/fingerprint.h for the stages). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/fingerprint.h"
#include "models/fp_image.h"

const char *const vb_fp_stage_names[VB_FP_STAGES] = {"fp/segment", "fp/orientation", "fp/frequency",
                                                      "fp/gabor", "fp/binarize+thin", "fp/minutiae"};

static const double PI = 3.14159265358979323846;

/* CPU time of the calling thread: what a stage costs, whatever else runs on the machine
 * (wall time on a shared machine measures the neighbours); wall time when kernels run
 * through hooks, whose work is not this thread's. */
static double now_ms(int wall)
{
    struct timespec ts;
    clock_gettime(wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void vb_fp_debug_free(vb_fp_debug *d)
{
    free(d->mask);
    free(d->skeleton);
    free(d->orientation);
    free(d->enhanced);
    memset(d, 0, sizeof *d);
}

/* ------------------------------------------------------------- image helpers */

static float at_clamped(const float *img, int w, int h, int x, int y)
{
    x = x < 0 ? 0 : x >= w ? w - 1 : x;
    y = y < 0 ? 0 : y >= h ? h - 1 : y;
    return img[(size_t)y * w + x];
}

static float bilinear(const float *img, int w, int h, float x, float y)
{
    int x0 = (int)floorf(x), y0 = (int)floorf(y);
    float fx = x - x0, fy = y - y0;
    return (1 - fy) * ((1 - fx) * at_clamped(img, w, h, x0, y0) + fx * at_clamped(img, w, h, x0 + 1, y0)) +
           fy * ((1 - fx) * at_clamped(img, w, h, x0, y0 + 1) + fx * at_clamped(img, w, h, x0 + 1, y0 + 1));
}

/* ------------------------------------------------------------- state */

typedef struct fp_work {
    int w, h;
    const vb_fp_params *p;
    float *norm;      /* normalized image */
    uint8_t *mask;    /* foreground */
    float *border;    /* distance to background (px, chamfer) */
    float *orient;    /* ridge direction [0, pi) */
    float *coherence; /* 0..1 */
    float period;
    float *enh;       /* Gabor response */
    uint8_t *skel;
} fp_work;

static void work_free(fp_work *f)
{
    free(f->norm);
    free(f->mask);
    free(f->border);
    free(f->orient);
    free(f->coherence);
    free(f->enh);
    free(f->skel);
}

/* ------------------------------------------------------------- 1, 2: normalize, segment */

static void normalize(fp_work *f, const uint8_t *gray)
{
    size_t n = (size_t)f->w * f->h;
    double s = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
        s += gray[i], ss += (double)gray[i] * gray[i];
    double mean = s / n, var = ss / n - mean * mean;
    double sd = var > 1e-6 ? sqrt(var) : 1;
    for (size_t i = 0; i < n; i++)
        f->norm[i] = (float)((gray[i] - mean) / sd);
}

/* One step of binary dilation (grow = 1) or erosion (grow = 0) of a block map, 3x3. */
static void morph_blocks(uint8_t *m, uint8_t *tmp, int bw, int bh, int grow)
{
    for (int y = 0; y < bh; y++)
        for (int x = 0; x < bw; x++) {
            int any = 0, all = 1;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx, yy = y + dy;
                    int v = xx >= 0 && yy >= 0 && xx < bw && yy < bh ? m[yy * bw + xx] : 0;
                    any |= v;
                    all &= v;
                }
            tmp[y * bw + x] = (uint8_t)(grow ? any : all);
        }
    memcpy(m, tmp, (size_t)bw * bh);
}

/* Keep the largest 4-connected foreground component of the block map (specks of dirt or
 * latent prints off the finger are not the finger). */
static int keep_largest(uint8_t *m, int bw, int bh)
{
    int n = bw * bh, best = 0, best_label = 0;
    int *label = calloc(n, sizeof *label), *stack = malloc(n * sizeof *stack);
    if (!label || !stack) {
        free(label);
        free(stack);
        return -1;
    }
    int next = 0;
    for (int i = 0; i < n; i++) {
        if (!m[i] || label[i])
            continue;
        int size = 0, top = 0;
        label[i] = ++next;
        stack[top++] = i;
        while (top) {
            int c = stack[--top], cx = c % bw, cy = c / bw;
            size++;
            const int nb[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
            for (int k = 0; k < 4; k++) {
                int xx = cx + nb[k][0], yy = cy + nb[k][1];
                if (xx < 0 || yy < 0 || xx >= bw || yy >= bh)
                    continue;
                int j = yy * bw + xx;
                if (m[j] && !label[j]) {
                    label[j] = next;
                    stack[top++] = j;
                }
            }
        }
        if (size > best)
            best = size, best_label = next;
    }
    for (int i = 0; i < n; i++)
        m[i] = (uint8_t)(m[i] && label[i] == best_label);
    free(label);
    free(stack);
    return 0;
}

/* Chamfer (3-4) distance of every pixel to the nearest background pixel or image edge. */
static void border_distance(fp_work *f)
{
    int w = f->w, h = f->h;
    float *d = f->border;
    const float big = 1e9f, a = 1.0f, b = 1.41421356f;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            d[(size_t)y * w + x] = f->mask[(size_t)y * w + x] ? big : 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float *c = &d[(size_t)y * w + x];
            if (*c == 0)
                continue;
            float v = *c;
            v = fminf(v, x > 0 ? d[(size_t)y * w + x - 1] + a : a);
            v = fminf(v, y > 0 ? d[(size_t)(y - 1) * w + x] + a : a);
            v = fminf(v, x > 0 && y > 0 ? d[(size_t)(y - 1) * w + x - 1] + b : b);
            v = fminf(v, x + 1 < w && y > 0 ? d[(size_t)(y - 1) * w + x + 1] + b : b);
            *c = v;
        }
    for (int y = h - 1; y >= 0; y--)
        for (int x = w - 1; x >= 0; x--) {
            float *c = &d[(size_t)y * w + x];
            if (*c == 0)
                continue;
            float v = *c;
            v = fminf(v, x + 1 < w ? d[(size_t)y * w + x + 1] + a : a);
            v = fminf(v, y + 1 < h ? d[(size_t)(y + 1) * w + x] + a : a);
            v = fminf(v, x + 1 < w && y + 1 < h ? d[(size_t)(y + 1) * w + x + 1] + b : b);
            v = fminf(v, x > 0 && y + 1 < h ? d[(size_t)(y + 1) * w + x - 1] + b : b);
            *c = v;
        }
}

static int segment(fp_work *f)
{
    int B = (int)f->p->seg_block, w = f->w, h = f->h;
    int bw = (w + B - 1) / B, bh = (h + B - 1) / B;
    uint8_t *bm = calloc((size_t)bw * bh, 1), *tmp = calloc((size_t)bw * bh, 1);
    if (!bm || !tmp) {
        free(bm);
        free(tmp);
        return -1;
    }
    for (int by = 0; by < bh; by++)
        for (int bx = 0; bx < bw; bx++) {
            double s = 0, ss = 0;
            int n = 0;
            for (int y = by * B; y < (by + 1) * B && y < h; y++)
                for (int x = bx * B; x < (bx + 1) * B && x < w; x++) {
                    float v = f->norm[(size_t)y * w + x];
                    s += v, ss += v * v, n++;
                }
            double mean = s / n, var = ss / n - mean * mean;
            bm[by * bw + bx] = (uint8_t)(var > (double)f->p->seg_threshold * f->p->seg_threshold);
        }
    /* close (fill gaps between ridge blocks), then open (drop isolated noisy blocks) */
    morph_blocks(bm, tmp, bw, bh, 1);
    morph_blocks(bm, tmp, bw, bh, 0);
    morph_blocks(bm, tmp, bw, bh, 0);
    morph_blocks(bm, tmp, bw, bh, 1);
    int rc = keep_largest(bm, bw, bh);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            f->mask[(size_t)y * w + x] = bm[(y / B) * bw + x / B];
    free(bm);
    free(tmp);
    if (rc)
        return -1;
    border_distance(f);
    return 0;
}

/* ------------------------------------------------------------- 3: orientation */

/* The tensor by the hook (a backend) or the reference, then the angles on the host. */
static int orientation(fp_work *f, const vb_fp_kernels *k, vb_err *e)
{
    size_t n = (size_t)f->w * f->h;
    float *tensor = malloc(3 * n * sizeof *tensor);
    if (!tensor)
        return -1;
    int rc = k ? (k->orient(k->ctx, f->norm, f->w, f->h, f->p->grad_sigma, f->p->orient_sigma, tensor, e) ? -2 : 0)
               : vb_fp_orient_tensor(f->norm, f->w, f->h, f->p->grad_sigma, f->p->orient_sigma, tensor);
    if (!rc)
        vb_fp_orient_from_tensor(tensor, n, f->orient, f->coherence);
    free(tensor);
    return rc;
}

/* ------------------------------------------------------------- 4: frequency */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The ridge period of the window centred at (cx, cy): grey levels summed along the ridge
 * and sampled across it; the mean distance between the signature's maxima. 0 if none. */
static float block_period(const fp_work *f, int cx, int cy)
{
    enum { MAXL = 64 };
    int L = (int)f->p->freq_block;
    if (L > MAXL)
        L = MAXL;
    float th = f->orient[(size_t)cy * f->w + cx];
    float tx = cosf(th), ty = sinf(th), nx = -ty, ny = tx;
    float sig[MAXL];
    for (int k = 0; k < L; k++) {
        float acc = 0, o = k - L / 2.0f;
        for (int d = -L / 4; d <= L / 4; d++)
            acc += bilinear(f->norm, f->w, f->h, cx + o * nx + d * tx, cy + o * ny + d * ty);
        sig[k] = acc;
    }
    /* light smoothing against pores and noise */
    float sm[MAXL];
    for (int k = 0; k < L; k++)
        sm[k] = (sig[k > 0 ? k - 1 : 0] + 2 * sig[k] + sig[k + 1 < L ? k + 1 : L - 1]) / 4;
    int first = -1, last = -1, peaks = 0;
    for (int k = 1; k + 1 < L; k++)
        if (sm[k] > sm[k - 1] && sm[k] >= sm[k + 1]) {
            if (first < 0)
                first = k;
            last = k;
            peaks++;
        }
    if (peaks < 2)
        return 0;
    float period = (float)(last - first) / (peaks - 1);
    return period >= f->p->min_period && period <= f->p->max_period ? period : 0;
}

static int frequency(fp_work *f)
{
    int L = (int)f->p->freq_block, step = L / 2;
    size_t cap = (size_t)(f->w / step + 1) * (f->h / step + 1), n = 0;
    float *periods = malloc(cap * sizeof *periods);
    if (!periods)
        return -1;
    for (int cy = L / 2; cy + L / 2 < f->h; cy += step)
        for (int cx = L / 2; cx + L / 2 < f->w; cx += step) {
            size_t i = (size_t)cy * f->w + cx;
            if (f->border[i] < L / 2.0f || f->coherence[i] < 0.3f)
                continue;
            float p = block_period(f, cx, cy);
            if (p > 0 && n < cap)
                periods[n++] = p;
        }
    if (n) {
        qsort(periods, n, sizeof *periods, cmp_float);
        f->period = periods[n / 2];
    } else {
        f->period = f->p->default_period;
    }
    free(periods);
    return 0;
}

/* ------------------------------------------------------------- 5: Gabor */

/* Orientation bins on the host (the rounding of orient / pi * na is the reference's), the
 * filtering by the hook (a backend) or the reference. */
static int gabor(fp_work *f, const vb_fp_kernels *k, vb_err *e)
{
    int w = f->w, h = f->h, na = (int)f->p->gabor_angles;
    uint8_t *bins = malloc((size_t)w * h);
    if (!bins)
        return -1;
    vb_fp_gabor_bins(f->orient, f->mask, (size_t)w * h, na, bins);
    int rc = 0;
    if (k) {
        rc = k->gabor(k->ctx, f->norm, bins, w, h, f->period, f->p->gabor_k, na, f->enh, e) ? -2 : 0;
    } else {
        int r = vb_fp_gabor_radius(f->period, f->p->gabor_k), side = 2 * r + 1;
        float *bank = malloc((size_t)na * side * side * sizeof *bank);
        if (bank && vb_fp_gabor_bank(f->period, f->p->gabor_k, na, bank) == 0)
            vb_fp_gabor_apply(f->norm, bins, w, h, bank, r, f->enh);
        else
            rc = -1;
        free(bank);
    }
    free(bins);
    return rc;
}

/* ------------------------------------------------------------- 6: binarize, thin */

static int thin(fp_work *f)
{
    int w = f->w, h = f->h;
    uint8_t *s = f->skel;
    /* ridges are dark: the even Gabor answers a dark ridge with a negative response */
    for (size_t i = 0; i < (size_t)w * h; i++)
        s[i] = (uint8_t)(f->mask[i] && f->enh[i] < 0);
    for (int x = 0; x < w; x++)
        s[x] = s[(size_t)(h - 1) * w + x] = 0;
    for (int y = 0; y < h; y++)
        s[(size_t)y * w] = s[(size_t)y * w + w - 1] = 0;
    size_t cap = (size_t)w * h / 2 + 1;
    uint32_t *del = malloc(cap * sizeof *del);
    if (!del)
        return -1;
    for (int changed = 1; changed;) {
        changed = 0;
        for (int pass = 0; pass < 2; pass++) {
            size_t nd = 0;
            for (int y = 1; y < h - 1; y++)
                for (int x = 1; x < w - 1; x++) {
                    size_t i = (size_t)y * w + x;
                    if (!s[i])
                        continue;
                    /* P2..P9 clockwise from north */
                    int p[8] = {s[i - w], s[i - w + 1], s[i + 1], s[i + w + 1],
                                s[i + w], s[i + w - 1], s[i - 1], s[i - w - 1]};
                    int b = 0, a = 0;
                    for (int k = 0; k < 8; k++)
                        b += p[k], a += !p[k] && p[(k + 1) % 8];
                    if (b < 2 || b > 6 || a != 1)
                        continue;
                    if (pass == 0 ? ((p[0] && p[2] && p[4]) || (p[2] && p[4] && p[6]))
                                  : ((p[0] && p[2] && p[6]) || (p[0] && p[4] && p[6])))
                        continue;
                    if (nd < cap)
                        del[nd++] = (uint32_t)i;
                }
            for (size_t k = 0; k < nd; k++)
                s[del[k]] = 0;
            changed |= nd > 0;
        }
    }
    /* remove the staircase pixels Zhang-Suen leaves (a pixel whose removal keeps the
     * 8-connectivity: two 4-neighbours set at a right angle and the corner between them
     * empty), so every skeleton pixel has the crossing number its shape says */
    for (int y = 1; y < h - 1; y++)
        for (int x = 1; x < w - 1; x++) {
            size_t i = (size_t)y * w + x;
            if (!s[i])
                continue;
            int n = s[i - w], e = s[i + 1], so = s[i + w], we = s[i - 1];
            int ne = s[i - w + 1], se = s[i + w + 1], sw = s[i + w - 1], nw = s[i - w - 1];
            int cnt = n + e + so + we + ne + se + sw + nw;
            if (cnt != 2)
                continue;
            if ((n && e && !so && !we) || (e && so && !n && !we) || (so && we && !n && !e) ||
                (we && n && !e && !so))
                s[i] = 0;
            (void)ne, (void)se, (void)sw, (void)nw;
        }
    free(del);
    return 0;
}

/* ------------------------------------------------------------- 7: minutiae */

static const int DX[8] = {0, 1, 1, 1, 0, -1, -1, -1};
static const int DY[8] = {-1, -1, 0, 1, 1, 1, 0, -1};

static int skel_at(const fp_work *f, int x, int y)
{
    return x >= 0 && y >= 0 && x < f->w && y < f->h && f->skel[(size_t)y * f->w + x];
}

static int crossing_number(const fp_work *f, int x, int y)
{
    int cn = 0;
    for (int k = 0; k < 8; k++)
        cn += skel_at(f, x + DX[k], y + DY[k]) != skel_at(f, x + DX[(k + 1) % 8], y + DY[(k + 1) % 8]);
    return cn / 2;
}

typedef struct cand {
    int x, y, kind, alive;
    float theta, quality;
} cand;

typedef struct trace_result {
    int x, y;      /* where the trace stopped */
    int steps;
    int hit;       /* 0 ran its length, 1 reached an ending, 2 a bifurcation, 3 left the mask/dead end */
    int hx, hy;    /* the minutia pixel reached */
} trace_result;

/* Follow the skeleton from (x, y) through neighbour (nx, ny) for at most max_steps. */
static trace_result trace(const fp_work *f, int x, int y, int nx, int ny, int max_steps)
{
    trace_result r = {nx, ny, 1, 0, 0, 0};
    int px = x, py = y, cx = nx, cy = ny;
    for (; r.steps < max_steps; r.steps++) {
        int cn = crossing_number(f, cx, cy);
        if (cn == 1 || cn >= 3) {
            r.hit = cn == 1 ? 1 : 2;
            r.hx = cx, r.hy = cy;
            break;
        }
        if (f->border[(size_t)cy * f->w + cx] < 1) {
            r.hit = 3;
            break;
        }
        /* next: a neighbour that is not the previous pixel nor adjacent to it (4-neighbours first) */
        int bx = -1, by = -1;
        for (int pref = 0; pref < 2 && bx < 0; pref++)
            for (int k = pref; k < 8; k += 2) {
                int qx = cx + DX[k], qy = cy + DY[k];
                if (!skel_at(f, qx, qy) || (qx == px && qy == py))
                    continue;
                if (abs(qx - px) <= 1 && abs(qy - py) <= 1)
                    continue;
                bx = qx, by = qy;
                break;
            }
        if (bx < 0) {
            r.hit = 3;
            break;
        }
        px = cx, py = cy, cx = bx, cy = by;
    }
    r.x = cx, r.y = cy;
    return r;
}

/* Start pixels of the branches around (x, y): one per run of set neighbours on the ring. */
static int branches(const fp_work *f, int x, int y, int bx[3], int by[3])
{
    int n = 0;
    for (int k = 0; k < 8 && n < 3; k++) {
        int cur = skel_at(f, x + DX[k], y + DY[k]), prev = skel_at(f, x + DX[(k + 7) % 8], y + DY[(k + 7) % 8]);
        if (cur && !prev) {
            /* the run starting at k: prefer its 4-neighbour */
            int pick = k;
            for (int j = k; skel_at(f, x + DX[j % 8], y + DY[j % 8]) && j < k + 8; j++)
                if (j % 2 == 0) {
                    pick = j % 8;
                    break;
                }
            bx[n] = x + DX[pick], by[n] = y + DY[pick];
            n++;
        }
    }
    return n;
}

static double wrap_2pi(double a)
{
    a = fmod(a, 2 * PI);
    return a < 0 ? a + 2 * PI : a;
}

static double angle_diff(double a, double b) /* |a - b| on the circle, 0..pi */
{
    double d = fabs(wrap_2pi(a - b));
    return d > PI ? 2 * PI - d : d;
}

/* Direction and removal checks of one candidate; returns 0 to drop it at once. */
static int describe_candidate(const fp_work *f, cand *c, cand *all, int n_all, int *grid)
{
    (void)all, (void)n_all, (void)grid;
    int tl = (int)f->p->trace_len, bx[3], by[3];
    int nb = branches(f, c->x, c->y, bx, by);
    if (c->kind == 1) {
        if (nb != 1)
            return 0;
        trace_result t = trace(f, c->x, c->y, bx[0], by[0], tl);
        if (t.steps < tl / 2)
            return 0;
        c->theta = (float)atan2(c->y - t.y, c->x - t.x);
    } else {
        if (nb != 3)
            return 0;
        double dir[3];
        for (int k = 0; k < 3; k++) {
            trace_result t = trace(f, c->x, c->y, bx[k], by[k], tl);
            dir[k] = atan2(t.y - c->y, t.x - c->x);
        }
        /* the stem is the branch opposite the closest pair (the fork) */
        double d01 = angle_diff(dir[0], dir[1]), d02 = angle_diff(dir[0], dir[2]), d12 = angle_diff(dir[1], dir[2]);
        int stem = d01 <= d02 && d01 <= d12 ? 2 : d02 <= d12 ? 1 : 0;
        c->theta = (float)dir[stem];
    }
    /* snap to the (smoother) orientation field, keeping the traced sense */
    double o = f->orient[(size_t)c->y * f->w + c->x];
    double t1 = wrap_2pi(o), t2 = wrap_2pi(o + PI);
    c->theta = (float)(angle_diff(t1, c->theta) < angle_diff(t2, c->theta) ? t1 : t2);
    c->quality = f->coherence[(size_t)c->y * f->w + c->x];
    return 1;
}

/* Structural false minutiae: short ridges, islands, spurs, bridges (traced), and pairs
 * closer than the minimum distance or facing across a break. Marks them dead. */
static void remove_false(const fp_work *f, cand *c, int n, int *at)
{
    int w = f->w;
    int short_len = (int)lrintf(f->p->short_ridge * f->period);
    /* index of a candidate by pixel, to find the one a trace reached */
    for (int i = 0; i < n; i++) {
        if (!c[i].alive)
            continue;
        int bx[3], by[3], nb = branches(f, c[i].x, c[i].y, bx, by);
        for (int k = 0; k < nb; k++) {
            trace_result t = trace(f, c[i].x, c[i].y, bx[k], by[k], short_len);
            if (!t.hit || t.hit == 3)
                continue;
            int j = at[(size_t)t.hy * w + t.hx];
            /* ending-ending: a short ridge/island; ending-bifurcation: a spur; two
             * bifurcations: a bridge or a hole */
            c[i].alive = 0;
            if (j >= 0)
                c[j].alive = 0;
        }
    }
    float min_d = f->p->min_distance * f->period, broken = f->p->broken_ridge * f->period;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            if (!c[i].alive && !c[j].alive)
                continue;
            float dx = (float)(c[j].x - c[i].x), dy = (float)(c[j].y - c[i].y), d = sqrtf(dx * dx + dy * dy);
            if (d < min_d) {
                c[i].alive = c[j].alive = 0;
                continue;
            }
            if (d < broken && c[i].kind == 1 && c[j].kind == 1 && c[i].alive && c[j].alive) {
                /* facing: opposite directions, each pointing roughly at the other */
                double to_j = atan2(dy, dx), to_i = atan2(-dy, -dx);
                if (angle_diff(c[i].theta, c[j].theta + PI) < PI / 4 && angle_diff(c[i].theta, to_j) < PI / 3 &&
                    angle_diff(c[j].theta, to_i) < PI / 3)
                    c[i].alive = c[j].alive = 0;
            }
        }
}

static int cmp_quality(const void *a, const void *b)
{
    const vb_fp_minutia *x = a, *y = b;
    if (x->quality != y->quality)
        return x->quality < y->quality ? 1 : -1;
    if (x->y != y->y)
        return x->y < y->y ? -1 : 1;
    return (x->x > y->x) - (x->x < y->x);
}

static int minutiae(fp_work *f, vb_fp_template *t)
{
    int w = f->w, h = f->h;
    size_t cap = 4096, n = 0;
    cand *c = malloc(cap * sizeof *c);
    int *at = malloc((size_t)w * h * sizeof *at);
    if (!c || !at) {
        free(c);
        free(at);
        return -1;
    }
    for (size_t i = 0; i < (size_t)w * h; i++)
        at[i] = -1;
    float margin = f->p->border_margin;
    for (int y = 1; y < h - 1; y++)
        for (int x = 1; x < w - 1; x++) {
            if (!f->skel[(size_t)y * w + x])
                continue;
            int cn = crossing_number(f, x, y);
            if (cn != 1 && cn != 3)
                continue;
            if (n == cap) {
                cand *g = realloc(c, 2 * cap * sizeof *c);
                if (!g) {
                    free(c);
                    free(at);
                    return -1;
                }
                c = g, cap *= 2;
            }
            at[(size_t)y * w + x] = (int)n;
            c[n++] = (cand){x, y, cn == 1 ? 1 : 2, 1, 0, 0};
        }
    for (size_t i = 0; i < n; i++)
        if (!describe_candidate(f, &c[i], c, (int)n, at))
            c[i].alive = 0;
    remove_false(f, c, (int)n, at);
    /* edge minutiae last: the removal above needs them to catch pairs straddling the margin */
    for (size_t i = 0; i < n; i++)
        if (f->border[(size_t)c[i].y * w + c[i].x] < margin)
            c[i].alive = 0;
    vb_fp_minutia *keep = malloc((n ? n : 1) * sizeof *keep);
    if (!keep) {
        free(c);
        free(at);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (c[i].alive)
            keep[k++] = (vb_fp_minutia){(float)c[i].x, (float)c[i].y, (float)wrap_2pi(c[i].theta), c[i].kind,
                                        c[i].quality};
    qsort(keep, k, sizeof *keep, cmp_quality);
    int limit = (int)f->p->max_minutiae;
    if (limit > VB_FP_MAX_MINUTIAE)
        limit = VB_FP_MAX_MINUTIAE;
    t->count = (int)k < limit ? (int)k : limit;
    memcpy(t->m, keep, (size_t)t->count * sizeof *keep);
    free(keep);
    free(c);
    free(at);
    return 0;
}

/* ------------------------------------------------------------- the pipeline */

int vb_fp_extract(const uint8_t *gray, int w, int h, const vb_fp_params *p, vb_fp_template *t,
                  double *stage_ms, vb_fp_debug *dbg, vb_err *e)
{
    return vb_fp_extract_with(NULL, gray, w, h, p, t, stage_ms, dbg, e);
}

int vb_fp_extract_with(const vb_fp_kernels *k, const uint8_t *gray, int w, int h, const vb_fp_params *p,
                       vb_fp_template *t, double *stage_ms, vb_fp_debug *dbg, vb_err *e)
{
    memset(t, 0, sizeof *t);
    t->width = w, t->height = h;
    if (w < 32 || h < 32)
        return vb_fail(e, VB_EXIT_INPUT, "print of %dx%d pixels is too small (at least 32x32)", w, h);
    fp_work f = {.w = w, .h = h, .p = p};
    size_t n = (size_t)w * h;
    f.norm = malloc(n * sizeof(float));
    f.mask = malloc(n);
    f.border = malloc(n * sizeof(float));
    f.orient = malloc(n * sizeof(float));
    f.coherence = malloc(n * sizeof(float));
    f.enh = malloc(n * sizeof(float));
    f.skel = malloc(n);
    /* with hooks the work runs elsewhere (a device, its driver's threads): wall time */
    const int wall = k != NULL;
    double ms[VB_FP_STAGES] = {0}, t0 = now_ms(wall);
    int rc = -1;
    if (!f.norm || !f.mask || !f.border || !f.orient || !f.coherence || !f.enh || !f.skel)
        goto done;
    normalize(&f, gray);
    for (int s = 0; s < VB_FP_STAGES; s++) {
        switch (s) {
        case VB_FP_STAGE_SEGMENT: rc = segment(&f); break;
        case VB_FP_STAGE_ORIENT: rc = orientation(&f, k, e); break;
        case VB_FP_STAGE_FREQ: rc = frequency(&f); break;
        case VB_FP_STAGE_GABOR: rc = gabor(&f, k, e); break;
        case VB_FP_STAGE_THIN: rc = thin(&f); break;
        default: rc = minutiae(&f, t); break;
        }
        if (rc)
            goto done;
        double t1 = now_ms(wall);
        ms[s] = t1 - t0, t0 = t1;
    }
    if (stage_ms)
        memcpy(stage_ms, ms, sizeof ms);
    if (dbg) {
        dbg->mask = f.mask, dbg->skeleton = f.skel, dbg->orientation = f.orient, dbg->enhanced = f.enh;
        dbg->period = f.period;
        f.mask = f.skel = NULL;
        f.orient = f.enh = NULL;
    }
    rc = 0;
done:
    work_free(&f);
    if (rc == -1)
        vb_fail(e, VB_EXIT_IO, "out of memory extracting minutiae of a %dx%d print", w, h);
    return rc ? -1 : 0; /* -2: a kernel hook failed and said why in e */
}
