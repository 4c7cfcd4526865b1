/* dlib's face chip alignment, rewritten in C from dlib's source (github.com/davisking/dlib,
 * read at commit 3d40bf5790ca9073c160cebb898800d9f33e12ab):
 *   find_similarity_transform      dlib/geometry/point_transforms.h
 *   get_face_chip_details          dlib/image_transforms/interpolation.h
 *   chip_details(from, to, dims)   dlib/image_transforms/interpolation.h
 *   centered_drect, drectangle     dlib/geometry/drectangle.h
 *   extract_image_chips            dlib/image_transforms/interpolation.h
 *   interpolate_bilinear           dlib/image_transforms/interpolation.h
 *   pyramid_down<2>                dlib/image_transforms/image_pyramid.h (pyramid_down_2_1)
 * dlib's face recognition example (examples/dnn_face_recognition_ex.cpp) extracts
 * extract_image_chip(img, get_face_chip_details(shape, 150, 0.25), chip) into an rgb_pixel
 * matrix: that is the chip this file reproduces. The example's 99.13% on LFW (no jitter) was
 * first published with the 68-point shape predictor (dlib 5ea4d11a, February 2017); since
 * September 2017 (41c2f217) it uses the 5-point one, whose template was added then
 * (1c7bbbd4) to give the same chips. Between February 2017 and 3d40bf57 the face chip path
 * (template, fit, chip_details, bilinear, truncation) is unchanged; only pyramid_down<2>'s
 * column filter was fixed (a05c1914, March 2017: it summed rows r-2, r-1, r, r-1, r-2), and
 * the fixed filter is the one here. dlib's shape_predictor hands its landmarks over
 * rounded to whole pixels (std::vector<point>); the landmarks given here are used as they
 * are. */
#include "models/face_align.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A point pair list in double: dlib fits the template in double, and the template's
 * coordinates would lose digits as vb_point's floats. */
typedef struct pair {
    double fx, fy, tx, ty;
} pair;

static int fit_pairs(const pair *pp, int n, vb_similarity *t, vb_err *e)
{
    if (n < 2)
        return vb_fail(e, VB_EXIT_INPUT, "similarity fit: %d point pairs, need at least 2", n);
    double mfx = 0, mfy = 0, mtx = 0, mty = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(pp[i].fx) || !isfinite(pp[i].fy) || !isfinite(pp[i].tx) || !isfinite(pp[i].ty))
            return vb_fail(e, VB_EXIT_INPUT, "similarity fit: point %d is not finite", i);
        mfx += pp[i].fx, mfy += pp[i].fy, mtx += pp[i].tx, mty += pp[i].ty;
    }
    mfx /= n, mfy /= n, mtx /= n, mty /= n;
    /* Umeyama's equations 34-43 as dlib writes them: the rotation is u*s*v' of the SVD of
     * cov = sum (to - mean_to)(from - mean_from)' / n, with s flipping the smaller singular
     * value when det(cov) < 0 (no reflections), and the scale is trace(d*s) / sigma_from.
     * In 2-D that product has a closed form: with P = cov00 + cov11 and Q = cov10 - cov01,
     * trace(d*s) = sqrt(P^2 + Q^2) in both det cases and the rotation's angle is atan2(Q, P),
     * so scale*rotation = [P -Q; Q P] / sigma_from (the same transform up to rounding, with
     * no SVD iteration). The 1/n factors cancel. */
    double sigma_from = 0, sigma_to = 0, p = 0, q = 0;
    for (int i = 0; i < n; i++) {
        double fx = pp[i].fx - mfx, fy = pp[i].fy - mfy, tx = pp[i].tx - mtx, ty = pp[i].ty - mty;
        sigma_from += fx * fx + fy * fy;
        sigma_to += tx * tx + ty * ty;
        p += tx * fx + ty * fy;
        q += ty * fx - tx * fy;
    }
    /* Degenerate inputs: dlib answers scale 1 when all `from` points coincide and scale 0 when
     * all `to` points do; neither is a face alignment. */
    if (!(sigma_from > 0))
        return vb_fail(e, VB_EXIT_INPUT, "similarity fit: the %d source points coincide", n);
    if (!(sigma_to > 0) || (p == 0 && q == 0))
        return vb_fail(e, VB_EXIT_INPUT, "similarity fit: the %d target points coincide or are uncorrelated", n);
    t->a = p / sigma_from;
    t->b = q / sigma_from;
    t->tx = mtx - (t->a * mfx - t->b * mfy);
    t->ty = mty - (t->b * mfx + t->a * mfy);
    return 0;
}

int vb_similarity_fit(const vb_point *from, const vb_point *to, int n, vb_similarity *t, vb_err *e)
{
    if (n < 2)
        return vb_fail(e, VB_EXIT_INPUT, "similarity fit: %d point pairs, need at least 2", n);
    pair *pp = vb_malloc((size_t)n * sizeof *pp, e);
    if (!pp)
        return -1;
    for (int i = 0; i < n; i++)
        pp[i] = (pair){from[i].x, from[i].y, to[i].x, to[i].y};
    int rc = fit_pairs(pp, n, t, e);
    free(pp);
    return rc;
}

/* dlib's mean face, points 17..67 of the 68-point iBUG numbering, in a unit square
 * (get_face_chip_details, "Average positions of face points 17-67"). */
static const double mean_face_shape_x[51] = {
    0.000213256, 0.0752622, 0.18113,  0.29077,  0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004,
    0.490127,    0.490127,  0.490127, 0.490127, 0.36688,  0.426036, 0.490127, 0.554217, 0.613373, 0.121737,
    0.187122,    0.265825,  0.334606, 0.260918, 0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751,
    0.719335,    0.254149,  0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
    0.490127,    0.423532,  0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874, 0.553364, 0.490127,
    0.42689,
};
static const double mean_face_shape_y[51] = {
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454,
    0.203352, 0.307009, 0.409805,  0.515625,  0.587326,  0.609345,  0.628106,  0.609345,  0.587326, 0.216423,
    0.178758, 0.179852, 0.231733,  0.245099,  0.244077,  0.231733,  0.179852,  0.178758,  0.216423, 0.244077,
    0.245099, 0.780233, 0.745405,  0.727388,  0.742578,  0.727388,  0.745405,  0.780233,  0.864805, 0.902192,
    0.909281, 0.902192, 0.864805,  0.784792,  0.778746,  0.785343,  0.778746,  0.784792,  0.824182, 0.831803,
    0.824182,
};

/* dlib's 5-point template (get_face_chip_details, num_parts() == 5) and the 68-point
 * landmarks that stand for its parts: the outer and inner corners of the eye on the image's
 * right (45, 42), of the eye on its left (36, 39), and the base of the nose (33). Each
 * coordinate agrees with the 68-point table's value for that landmark within 0.003. */
static const double dlib5_x[5] = {0.8595674595992, 0.6460604764104, 0.1205750620789, 0.3340850613712, 0.4901123135679};
static const double dlib5_y[5] = {0.2134981538014, 0.2289674387677, 0.2137274526848, 0.2290642403242, 0.6277975316475};
static const int dlib5_landmark[5] = {45, 42, 36, 39, 33};

/* The 68-point template leaves out the jaw (0-16, not in the table), the brows (17-26)
 * and the lower lip (55-59, 65-67). */
static int dlib68_uses(int i)
{
    return i >= 27 && !(i >= 55 && i <= 59) && !(i >= 65 && i <= 67);
}

int vb_align_dlib_template(const vb_point pts[VB_LANDMARKS], vb_chip_template tpl, int chip_size, double padding,
                           vb_similarity *chip_to_image, vb_err *e)
{
    if (chip_size < 2 || !(padding >= 0))
        return vb_fail(e, VB_EXIT_USAGE, "face chip: size %d, padding %g (need size >= 2, padding >= 0)", chip_size,
                       padding);
    pair pp[VB_LANDMARKS];
    int n = 0;
    /* (padding + p) / (2 * padding + 1) * size: the unit template with `padding` template
     * widths around it, scaled to the chip. */
    double norm = 2 * padding + 1;
    if (tpl == VB_CHIP_DLIB5) {
        for (int k = 0; k < 5; k++, n++) {
            const vb_point *q = &pts[dlib5_landmark[k]];
            pp[n] = (pair){(padding + dlib5_x[k]) / norm * chip_size, (padding + dlib5_y[k]) / norm * chip_size, q->x,
                           q->y};
        }
    } else {
        for (int i = 17; i < VB_LANDMARKS; i++) {
            if (!dlib68_uses(i))
                continue;
            pp[n++] = (pair){(padding + mean_face_shape_x[i - 17]) / norm * chip_size,
                             (padding + mean_face_shape_y[i - 17]) / norm * chip_size, pts[i].x, pts[i].y};
        }
    }
    vb_similarity fit;
    if (fit_pairs(pp, n, &fit, e)) {
        vb_err_prefix(e, "face alignment: ");
        return -1;
    }
    /* chip_details(chip_points, img_points, dims) keeps only the fit's angle, its scale s and
     * the image point of the chip's centre c = fit(size/2, size/2), as the rectangle
     * centered_drect(c, size*s, size*s), whose corners lie (size*s - 1)/2 from c (dlib's
     * rectangles count pixels, right = left + width - 1). extract_image_chips then maps chip
     * pixel (0, 0) to the rectangle's top-left corner, (size-1, 0) to its top-right and
     * (0, size-1) to its bottom-left, each rotated about c by the angle: chip pixel spacing
     * (size*s - 1)/(size - 1), not s. */
    double s = hypot(fit.a, fit.b);
    double half = (chip_size * s - 1) / 2;
    if (!(half > 0))
        return vb_fail(e, VB_EXIT_INPUT, "face alignment: the face spans %.3g pixels, less than one chip pixel",
                       chip_size * s);
    double cs = fit.a / s, sn = fit.b / s;
    double cx = fit.a * chip_size / 2.0 - fit.b * chip_size / 2.0 + fit.tx;
    double cy = fit.b * chip_size / 2.0 + fit.a * chip_size / 2.0 + fit.ty;
    double k = 2 * half / (chip_size - 1);
    chip_to_image->a = k * cs;
    chip_to_image->b = k * sn;
    chip_to_image->tx = cx + cs * -half - sn * -half;
    chip_to_image->ty = cy + sn * -half + cs * -half;
    return 0;
}

int vb_align_dlib(const vb_point pts[VB_LANDMARKS], int chip_size, double padding, vb_similarity *chip_to_image,
                  vb_err *e)
{
    return vb_align_dlib_template(pts, VB_CHIP_DLIB68, chip_size, padding, chip_to_image, e);
}

/* ---- extract_image_chips ------------------------------------------------------------- */

/* dlib's drectangle: inclusive corners, width = r - l + 1. */
typedef struct drect {
    double l, t, r, b;
} drect;

static double drect_area(drect d)
{
    return d.l > d.r || d.t > d.b ? 0 : (d.r - d.l + 1) * (d.b - d.t + 1);
}

/* pyramid_down_2_1::rect_down: point_down(p) = p/2 - (1.25, 0.75) on both corners. */
static drect rect_down(drect d)
{
    return (drect){d.l / 2 - 1.25, d.t / 2 - 0.75, d.r / 2 - 1.25, d.b / 2 - 0.75};
}

/* The chip's rectangle (before rotation) in image pixels, recovered from the transform
 * vb_align_dlib_template returns: centre at chip pixel ((size-1)/2, (size-1)/2), half-side
 * (size-1)/2 chip pixels. */
static drect chip_rect(const vb_similarity *t, int size, double *cs, double *sn)
{
    double k = hypot(t->a, t->b), m = (size - 1) / 2.0;
    *cs = k > 0 ? t->a / k : 1;
    *sn = k > 0 ? t->b / k : 0;
    double cx = t->a * m - t->b * m + t->tx, cy = t->b * m + t->a * m + t->ty, half = k * m;
    return (drect){cx - half, cy - half, cx + half, cy + half};
}

/* extract_image_chips: level -1 (the image itself) while rect_down(rect) has at most
 * size*size pixels, else the pyramid level where it first does. */
int vb_chip_pyramid_level(const vb_similarity *chip_to_image, int size)
{
    double cs, sn;
    drect r = chip_rect(chip_to_image, size, &cs, &sn);
    int level = 0;
    while (drect_area(rect_down(r)) > (double)size * size && level < 30) {
        level++;
        r = rect_down(r);
    }
    return level;
}

/* interpolate_bilinear on an 8-bit image of c channels: the value of channel ch at (x, y),
 * truncated to 8 bits, or 0 when a tap falls outside (transform_image then assigns the
 * background, 0). Same operation order as dlib so the truncation agrees. */
static void bilinear(const uint8_t *px, int w, int h, int c, double x, double y, uint8_t out[3])
{
    double fl = floor(x), ft = floor(y);
    if (!(fl >= 0 && ft >= 0 && fl + 1 < w && ft + 1 < h)) {
        out[0] = out[1] = out[2] = 0;
        return;
    }
    long left = (long)fl, top = (long)ft;
    double lr = x - left, tb = y - top;
    const uint8_t *p0 = px + ((size_t)top * w + left) * c, *p1 = p0 + (size_t)w * c;
    for (int ch = 0; ch < c; ch++) {
        double v = (1 - tb) * ((1 - lr) * p0[ch] + lr * p0[c + ch]) + tb * ((1 - lr) * p1[ch] + lr * p1[c + ch]);
        out[ch] = (uint8_t)v;
    }
    for (int ch = c; ch < 3; ch++)
        out[ch] = out[0];
}

/* pyramid_down_2_1::operator(): a [1 4 6 4 1] x [1 4 6 4 1] / 256 filter, integer sums,
 * truncated, sampled every other pixel; out is (h-3)/2 x (w-3)/2 (empty when either side
 * of the input is 8 or less). Output (x, y) is centred on input (2x + 2, 2y + 2). */
static int pyramid_down(const uint8_t *in, int w, int h, int c, uint8_t **out, int *ow, int *oh, vb_err *e)
{
    *out = NULL;
    *ow = *oh = 0;
    if (w <= 8 || h <= 8)
        return 0;
    int tw = (w - 3) / 2, dw = tw, dh = (h - 3) / 2;
    uint32_t *tmp = vb_malloc((size_t)h * tw * c * sizeof *tmp, e);
    uint8_t *down = tmp ? vb_malloc((size_t)dw * dh * c, e) : NULL;
    if (!down) {
        free(tmp);
        return -1;
    }
    for (int r = 0; r < h; r++)
        for (int x = 0; x < tw; x++)
            for (int ch = 0; ch < c; ch++) {
                const uint8_t *p = in + ((size_t)r * w + 2 * x) * c + ch;
                tmp[((size_t)r * tw + x) * c + ch] = p[0] + 4u * p[c] + 6u * p[2 * c] + 4u * p[3 * c] + p[4 * c];
            }
    for (int y = 0; y < dh; y++)
        for (int x = 0; x < tw; x++)
            for (int ch = 0; ch < c; ch++) {
                const uint32_t *p = tmp + ((size_t)(2 * y) * tw + x) * c + ch;
                size_t st = (size_t)tw * c;
                uint32_t v = p[0] + 4 * p[st] + 6 * p[2 * st] + 4 * p[3 * st] + p[4 * st];
                down[((size_t)y * dw + x) * c + ch] = (uint8_t)(v / 256);
            }
    free(tmp);
    *out = down;
    *ow = dw;
    *oh = dh;
    return 0;
}

static void put_pixel(const uint8_t v[3], int i, const float mean[3], float scale, float *out, uint8_t *chip_rgb)
{
    for (int ch = 0; ch < 3; ch++) {
        out[(size_t)i * 3 + ch] = ((float)v[ch] - mean[ch]) * scale;
        if (chip_rgb)
            chip_rgb[(size_t)i * 3 + ch] = v[ch];
    }
}

/* The pyramid path of extract_image_chips for one chip: the image cropped to the rotated
 * chip rectangle grown by the border dlib allows for (2, then grow*2+2 per level, rounded
 * to whole pixels and clipped to the image), downsampled `levels` times, and sampled
 * through the affine map of the chip's corners onto the rectangle taken down as many times
 * (rect_down, which is dlib's own level geometry). */
static int warp_pyramid(const uint8_t *px, int w, int h, int c, const vb_similarity *t, int size, int levels,
                        const float mean[3], float scale, float *out, uint8_t *chip_rgb, vb_err *e)
{
    double cs, sn;
    drect rect = chip_rect(t, size, &cs, &sn);
    double grow = 2;
    for (int i = 0; i < levels; i++)
        grow = grow * 2 + 2;
    double ccx = (rect.l + rect.r) / 2, ccy = (rect.t + rect.b) / 2;
    drect rot = {INFINITY, INFINITY, -INFINITY, -INFINITY};
    double corners[4][2] = {{rect.l, rect.t}, {rect.r, rect.t}, {rect.l, rect.b}, {rect.r, rect.b}};
    for (int i = 0; i < 4; i++) {
        double dx = corners[i][0] - ccx, dy = corners[i][1] - ccy;
        double x = cs * dx - sn * dy + ccx, y = sn * dx + cs * dy + ccy;
        rot.l = fmin(rot.l, x), rot.r = fmax(rot.r, x), rot.t = fmin(rot.t, y), rot.b = fmax(rot.b, y);
    }
    /* grow_rect(rot_rect, grow).intersect(get_rect(img)), then drectangle -> rectangle
     * (lround of each side). */
    long bl = lround(fmax(rot.l - grow, 0)), bt = lround(fmax(rot.t - grow, 0));
    long br = lround(fmin(rot.r + grow, w - 1)), bb = lround(fmin(rot.b + grow, h - 1));
    uint8_t *level = NULL;
    int lw = 0, lh = 0;
    if (br >= bl && bb >= bt) {
        int sw = (int)(br - bl + 1), sh = (int)(bb - bt + 1);
        uint8_t *sub = vb_malloc((size_t)sw * sh * c, e);
        if (!sub)
            return -1;
        for (int y = 0; y < sh; y++)
            memcpy(sub + (size_t)y * sw * c, px + ((size_t)(bt + y) * w + bl) * c, (size_t)sw * c);
        level = sub, lw = sw, lh = sh;
        for (int i = 0; i < levels && level; i++) {
            uint8_t *next;
            int nw, nh;
            int rc = pyramid_down(level, lw, lh, c, &next, &nw, &nh, e);
            free(level);
            if (rc)
                return -1;
            level = next, lw = nw, lh = nh;
        }
    }
    drect rt = {rect.l - bl, rect.t - bt, rect.r - bl, rect.b - bt};
    for (int i = 0; i < levels; i++)
        rt = rect_down(rt);
    double mx = (rt.l + rt.r) / 2, my = (rt.t + rt.b) / 2;
    /* rotate_point(center(rect), corner, angle) for the top-left, top-right and
     * bottom-left corners: the exact affine map of the chip's corners onto them. */
    double tlx = cs * (rt.l - mx) - sn * (rt.t - my) + mx, tly = sn * (rt.l - mx) + cs * (rt.t - my) + my;
    double trx = cs * (rt.r - mx) - sn * (rt.t - my) + mx, try_ = sn * (rt.r - mx) + cs * (rt.t - my) + my;
    double blx = cs * (rt.l - mx) - sn * (rt.b - my) + mx, bly = sn * (rt.l - mx) + cs * (rt.b - my) + my;
    double ux = (trx - tlx) / (size - 1), uy = (try_ - tly) / (size - 1);
    double vx = (blx - tlx) / (size - 1), vy = (bly - tly) / (size - 1);
    for (int v = 0; v < size; v++)
        for (int u = 0; u < size; u++) {
            uint8_t val[3] = {0, 0, 0};
            if (level)
                bilinear(level, lw, lh, c, tlx + u * ux + v * vx, tly + u * uy + v * vy, val);
            put_pixel(val, v * size + u, mean, scale, out, chip_rgb);
        }
    free(level);
    return 0;
}

/* One branch of extract_image_chip is left out: when the angle is exactly 0 and the chip's
 * rectangle exactly size pixels wide (scale exactly 1), dlib copies whole pixels from the
 * rectangle rounded to integers (basic_extract_image_chip) instead of interpolating. Real
 * landmarks never land there; the template itself would (shifted by a pixel, not half). */
int vb_warp_chip(const uint8_t *px, int w, int h, int c, const vb_similarity *t, int size, const float mean[3],
                 float scale, float *out, uint8_t *chip_rgb, vb_err *e)
{
    int levels = vb_chip_pyramid_level(t, size);
    if (levels > 0)
        return warp_pyramid(px, w, h, c, t, size, levels, mean, scale, out, chip_rgb, e);
    for (int v = 0; v < size; v++)
        for (int u = 0; u < size; u++) {
            uint8_t val[3];
            bilinear(px, w, h, c, t->a * u - t->b * v + t->tx, t->b * u + t->a * v + t->ty, val);
            put_pixel(val, v * size + u, mean, scale, out, chip_rgb);
        }
    return 0;
}
