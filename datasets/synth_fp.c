/* Synthetic fingerprints (see datasets/synth_fp.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/files.h"
#include "datasets/chip.h"
#include "datasets/synth_fp.h"

static const double PI = 3.14159265358979323846;

/* splitmix64: tiny, seedable, the same everywhere */
typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next_u64(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(rng *r, double lo, double hi) /* [lo, hi) */
{
    return lo + (hi - lo) * (double)(next_u64(r) >> 11) / 9007199254740992.0;
}

static double gaussian(rng *r)
{
    double u = uniform(r, 1e-12, 1), v = uniform(r, 0, 1);
    return sqrt(-2 * log(u)) * cos(2 * PI * v);
}

/* ------------------------------------------------------------- master */

typedef struct fp_class {
    int n_core, n_delta;
    double core[2][2], delta[2][2];
    double theta0;
    double arch_amp; /* arch: no singular points, a bent field */
} fp_class;

static void draw_class(rng *r, int w, int h, fp_class *c)
{
    memset(c, 0, sizeof *c);
    double cx = w * uniform(r, 0.4, 0.6), cy = h * uniform(r, 0.35, 0.5);
    int kind = (int)(next_u64(r) % 4);
    if (kind == 0) { /* arch */
        c->arch_amp = uniform(r, 0.5, 0.9);
        c->core[0][0] = cx, c->core[0][1] = cy;
        return;
    }
    if (kind == 1 || kind == 2) { /* loop, delta below-left or below-right */
        double side = kind == 1 ? -1 : 1;
        c->n_core = c->n_delta = 1;
        c->core[0][0] = cx, c->core[0][1] = cy;
        c->delta[0][0] = cx + side * w * uniform(r, 0.2, 0.35), c->delta[0][1] = cy + h * uniform(r, 0.25, 0.4);
        return;
    }
    /* whorl: two cores one above the other, deltas on both sides below */
    c->n_core = c->n_delta = 2;
    double gap = uniform(r, 12, 28);
    c->core[0][0] = cx - gap * 0.3, c->core[0][1] = cy - gap / 2;
    c->core[1][0] = cx + gap * 0.3, c->core[1][1] = cy + gap / 2;
    c->delta[0][0] = cx - w * uniform(r, 0.25, 0.35), c->delta[0][1] = cy + h * uniform(r, 0.25, 0.4);
    c->delta[1][0] = cx + w * uniform(r, 0.25, 0.35), c->delta[1][1] = cy + h * uniform(r, 0.25, 0.4);
}

/* Sherlock-Monro zero-pole orientation (ridge direction, radians mod pi). */
static double orientation_at(const fp_class *c, double x, double y)
{
    if (c->n_core == 0) {
        double u = (x - c->core[0][0]) / 120.0;
        return atan(c->arch_amp * 2 * u * exp(-u * u) * 1.5) + 0.0;
    }
    double t = 0;
    for (int i = 0; i < c->n_core; i++)
        t += atan2(y - c->core[i][1], x - c->core[i][0]);
    for (int i = 0; i < c->n_delta; i++)
        t -= atan2(y - c->delta[i][1], x - c->delta[i][0]);
    return 0.5 * t + c->theta0;
}

int vb_synth_fp_master(uint64_t seed, int w, int h, float *ridges, vb_err *e)
{
    rng r = {seed * 0x9e3779b97f4a7c15ull + 12345};
    fp_class cls;
    draw_class(&r, w, h, &cls);
    double period = uniform(&r, 8.0, 10.5);
    enum { ANGLES = 16 };
    size_t n = (size_t)w * h;
    float *tmp = malloc(n * sizeof *tmp);
    uint8_t *bin = malloc(n);
    double sigma = 0.45 * period;
    int rad = (int)ceil(2 * sigma), side = 2 * rad + 1;
    float *bank = malloc((size_t)ANGLES * side * side * sizeof *bank);
    if (!tmp || !bin || !bank) {
        free(tmp);
        free(bin);
        free(bank);
        return vb_fail(e, VB_EXIT_IO, "out of memory growing a synthetic print");
    }
    for (int a = 0; a < ANGLES; a++) {
        double th = PI * a / ANGLES, tx = cos(th), ty = sin(th);
        float *k = bank + (size_t)a * side * side;
        double sum = 0;
        for (int y = -rad; y <= rad; y++)
            for (int x = -rad; x <= rad; x++) {
                double across = -x * ty + y * tx;
                double v = exp(-(x * x + y * y) / (2 * sigma * sigma)) * cos(2 * PI * across / period);
                k[(y + rad) * side + x + rad] = (float)v;
                sum += fabs(v);
            }
        for (int i = 0; i < side * side; i++)
            k[i] = (float)(k[i] / sum * 6);
    }
    for (size_t i = 0; i < n; i++) {
        int x = (int)(i % w), y = (int)(i / w);
        double o = fmod(orientation_at(&cls, x, y), PI);
        if (o < 0)
            o += PI;
        bin[i] = (uint8_t)((int)lround(o / PI * ANGLES) % ANGLES);
        ridges[i] = (float)(uniform(&r, 0, 1) < 0.004 ? (uniform(&r, 0, 1) < 0.5 ? -1 : 1) : 0);
    }
    for (int it = 0; it < 14; it++) {
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                const float *k = bank + (size_t)bin[(size_t)y * w + x] * side * side;
                double acc = 0;
                for (int dy = -rad; dy <= rad; dy++) {
                    int yy = y + dy;
                    if (yy < 0 || yy >= h)
                        continue;
                    for (int dx = -rad; dx <= rad; dx++) {
                        int xx = x + dx;
                        if (xx >= 0 && xx < w)
                            acc += k[(dy + rad) * side + dx + rad] * ridges[(size_t)yy * w + xx];
                    }
                }
                tmp[(size_t)y * w + x] = (float)(acc > 1 ? 1 : acc < -1 ? -1 : acc);
            }
        memcpy(ridges, tmp, n * sizeof *tmp);
    }
    free(tmp);
    free(bin);
    free(bank);
    return 0;
}

/* ------------------------------------------------------------- impression */

static float sample_master(const float *m, int w, int h, double x, double y)
{
    int x0 = (int)floor(x), y0 = (int)floor(y);
    if (x0 < 0 || y0 < 0 || x0 + 1 >= w || y0 + 1 >= h)
        return -1; /* off the finger: valley/background */
    double fx = x - x0, fy = y - y0;
    const float *p = m + (size_t)y0 * w + x0;
    return (float)((1 - fy) * ((1 - fx) * p[0] + fx * p[1]) + fy * ((1 - fx) * p[w] + fx * p[w + 1]));
}

void vb_synth_fp_impression(const float *master, int w, int h, uint64_t seed, uint8_t *gray)
{
    rng r = {seed * 0xd1b54a32d192ed03ull + 777};
    double rot = uniform(&r, -0.2, 0.2), tx = uniform(&r, -18, 18), ty = uniform(&r, -18, 18);
    double pressure = uniform(&r, -0.35, 0.35);
    /* elastic distortion: a few smooth waves of a few pixels */
    double wa[3][4];
    for (int k = 0; k < 3; k++)
        wa[k][0] = uniform(&r, -2.5, 2.5), wa[k][1] = uniform(&r, 0.004, 0.015), wa[k][2] = uniform(&r, 0, 2 * PI),
        wa[k][3] = uniform(&r, 0, PI);
    /* contact ellipse, shifted for partial contact */
    double ex = w / 2.0 + uniform(&r, -0.12, 0.12) * w, ey = h / 2.0 + uniform(&r, -0.1, 0.1) * h;
    double ax = w * uniform(&r, 0.36, 0.46), ay = h * uniform(&r, 0.38, 0.48);
    double noise = uniform(&r, 6, 16), bg = uniform(&r, 215, 245);
    double blot[4][3];
    for (int k = 0; k < 4; k++)
        blot[k][0] = uniform(&r, 0, w), blot[k][1] = uniform(&r, 0, h), blot[k][2] = uniform(&r, 8, 25);
    double c = cos(rot), s = sin(rot), cx = w / 2.0, cy = h / 2.0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double v;
            double ddx = (x - ex) / ax, ddy = (y - ey) / ay, rr = ddx * ddx + ddy * ddy;
            if (rr > 1) {
                v = bg;
            } else {
                double dx = 0, dy = 0;
                for (int k = 0; k < 3; k++) {
                    double ph = wa[k][1] * (x * cos(wa[k][3]) + y * sin(wa[k][3])) + wa[k][2];
                    dx += wa[k][0] * sin(ph), dy += wa[k][0] * cos(ph);
                }
                /* inverse map: the impression pixel comes from the rotated, shifted master */
                double u = x - cx - tx + dx, q = y - cy - ty + dy;
                double mx = c * u + s * q + cx, my = -s * u + c * q + cy;
                double m = sample_master(master, w, h, mx, my) + pressure;
                m = m > 1 ? 1 : m < -1 ? -1 : m;
                /* contrast fades towards the rim of the contact region */
                double fade = rr > 0.75 ? (1 - rr) / 0.25 : 1;
                double ink = 0.5 + 0.5 * m;
                for (int k = 0; k < 4; k++) {
                    double bx = x - blot[k][0], by = y - blot[k][1];
                    if (bx * bx + by * by < blot[k][2] * blot[k][2])
                        ink *= 0.55; /* a dry patch */
                }
                v = bg - fade * ink * (bg - 30);
            }
            v += noise * gaussian(&r);
            gray[(size_t)y * w + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v));
        }
}

/* ------------------------------------------------------------- known minutiae */

void vb_synth_fp_dislocations(int w, int h, float period, float angle, const float (*pts)[2], int n,
                              uint8_t *gray)
{
    double nx = cos(angle + PI / 2), ny = sin(angle + PI / 2);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double phase = 2 * PI * (x * nx + y * ny) / period;
            for (int k = 0; k < n; k++)
                phase += atan2(y - pts[k][1], x - pts[k][0]);
            double v = 140 - 90 * cos(phase);
            gray[(size_t)y * w + x] = (uint8_t)lround(v);
        }
}

/* ------------------------------------------------------------- a whole set */

int vb_synth_fp_write_set(const char *dir, int subjects, int impressions, uint64_t seed, FILE *log, vb_err *e)
{
    enum { W = 288, H = 384 };
    if (vb_mkdirs(dir, e))
        return -1;
    float *master = malloc((size_t)W * H * sizeof *master);
    uint8_t *gray = malloc((size_t)W * H);
    size_t mcap = 64 + (size_t)subjects * impressions * 64, mlen = 0;
    char *manifest = malloc(mcap);
    int rc = -1;
    if (!master || !gray || !manifest) {
        vb_fail(e, VB_EXIT_IO, "out of memory");
        goto done;
    }
    mlen += (size_t)snprintf(manifest, mcap, "sample,subject,path,modality\n");
    for (int f = 1; f <= subjects; f++) {
        if (vb_synth_fp_master(seed * 1000003ull + (uint64_t)f, W, H, master, e))
            goto done;
        for (int i = 1; i <= impressions; i++) {
            vb_synth_fp_impression(master, W, H, (seed * 1000003ull + (uint64_t)f) * 131ull + (uint64_t)i, gray);
            vb_image img = {W, H, 1, gray};
            uint8_t *png = NULL;
            size_t len = 0;
            char name[64], path[4200];
            snprintf(name, sizeof name, "%d_%d.png", f, i);
            snprintf(path, sizeof path, "%s/%s", dir, name);
            if (vb_png_encode(&img, &png, &len, e) || vb_write_file_atomic(path, png, len, e)) {
                free(png);
                goto done;
            }
            free(png);
            mlen += (size_t)snprintf(manifest + mlen, mcap - mlen, "%d_%d,%d,%s,fingerprint\n", f, i, f, name);
        }
        if (log)
            fprintf(log, "synth-fingerprints: finger %d of %d: %d impressions\n", f, subjects, impressions);
    }
    char mpath[4200];
    snprintf(mpath, sizeof mpath, "%s/manifest.csv", dir);
    rc = vb_write_file_atomic(mpath, manifest, mlen, e);
done:
    free(master);
    free(gray);
    free(manifest);
    return rc;
}
