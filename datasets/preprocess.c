#include "datasets/preprocess.h"

#include "core/parse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vb_crop_parse(const char *text, vb_crop *crop, vb_err *e)
{
    memset(crop, 0, sizeof *crop);
    int v[4], n = 0;
    if (vb_parse_int_list(text, 0, 1000000, v, 4, &n) || n != 4)
        return vb_fail(e, VB_EXIT_USAGE, "--crop '%s': expected x0,y0,x1,y1 (non-negative integers)", text);
    if (v[2] <= v[0] || v[3] <= v[1])
        return vb_fail(e, VB_EXIT_USAGE, "--crop '%s': the box is empty (need x1 > x0 and y1 > y0)", text);
    *crop = (vb_crop){1, v[0], v[1], v[2], v[3]};
    return 0;
}

int vb_face_prep_parse(const char *text, vb_face_prep *p, vb_err *e)
{
    if (!strcmp(text, "align")) {
        p->mode = VB_PREP_ALIGN;
    } else if (!strcmp(text, "crop")) {
        p->mode = VB_PREP_CROP;
        memset(&p->crop, 0, sizeof p->crop);
    } else if (!strncmp(text, "crop:", 5)) {
        if (vb_crop_parse(text + 5, &p->crop, e))
            return vb_fail(e, VB_EXIT_USAGE, "--preprocess '%s': expected crop:x0,y0,x1,y1 with x1 > x0, y1 > y0",
                           text);
        p->mode = VB_PREP_CROP;
    } else {
        return vb_fail(e, VB_EXIT_USAGE, "--preprocess '%s': expected align, crop:x0,y0,x1,y1 or crop", text);
    }
    p->set = 1;
    return 0;
}

int vb_no_face_parse(const char *text, vb_face_prep *p, vb_err *e)
{
    if (!strcmp(text, "fta")) {
        p->on_no_face = VB_NO_FACE_FTA;
        return 0;
    }
    if (!strncmp(text, "fallback-crop:", 14) && vb_crop_parse(text + 14, &p->fallback, e) == 0) {
        p->on_no_face = VB_NO_FACE_FALLBACK;
        return 0;
    }
    return vb_fail(e, VB_EXIT_USAGE, "--on-no-face '%s': expected fta or fallback-crop:x0,y0,x1,y1", text);
}

static int box_text(const vb_crop *c, char *buf, size_t n)
{
    return c->set ? snprintf(buf, n, "%d,%d,%d,%d", c->x0, c->y0, c->x1, c->y1) : snprintf(buf, n, "none");
}

void vb_face_prep_text(const vb_face_prep *p, char *buf, size_t n)
{
    char box[64];
    if (p->mode == VB_PREP_CROP) {
        box_text(&p->crop, box, sizeof box);
        snprintf(buf, n, "crop:%s", box);
        return;
    }
    char det[32];
    if (p->detector == VB_DETECTOR_SSD)
        snprintf(det, sizeof det, "ssd");
    else if (p->detector_size)
        snprintf(det, sizeof det, "tiny%d", p->detector_size);
    else
        snprintf(det, sizeof det, "tiny");
    const char *tpl = p->chip_points == 5 ? ":chip5" : "";
    if (p->on_no_face == VB_NO_FACE_FALLBACK) {
        box_text(&p->fallback, box, sizeof box);
        snprintf(buf, n, "align:%s:fallback-crop:%s%s", det, box, tpl);
    } else {
        snprintf(buf, n, "align:%s:fta%s", det, tpl);
    }
}

/* tfjs-backend-cpu's ResizeBilinear: src = dst * (in / out), floor/ceil neighbours clamped,
 * interpolate along x then y, all in double; the result is stored as float32. */
void vb_resize_bilinear_tf(const uint8_t *px, int w, int h, int c, int rx0, int ry0, int rw, int rh,
                           float *out, int ow, int oh)
{
    const double ratio_y = (double)rh / oh, ratio_x = (double)rw / ow;
    for (int y = 0; y < oh; y++) {
        double sy = ratio_y * y;
        int y0 = (int)floor(sy);
        int y1 = (int)ceil(sy) < rh - 1 ? (int)ceil(sy) : rh - 1;
        double fy = sy - y0;
        const uint8_t *row0 = px + ((size_t)(ry0 + y0) * w + rx0) * c;
        const uint8_t *row1 = px + ((size_t)(ry0 + y1) * w + rx0) * c;
        for (int x = 0; x < ow; x++) {
            double sx = ratio_x * x;
            int x0 = (int)floor(sx);
            int x1 = (int)ceil(sx) < rw - 1 ? (int)ceil(sx) : rw - 1;
            double fx = sx - x0;
            for (int ch = 0; ch < c; ch++) {
                double tl = row0[x0 * c + ch], tr = row0[x1 * c + ch];
                double bl = row1[x0 * c + ch], br = row1[x1 * c + ch];
                double top = tl + (tr - tl) * fx, bottom = bl + (br - bl) * fx;
                out[((size_t)y * ow + x) * c + ch] = (float)(top + (bottom - top) * fy);
            }
        }
    }
    (void)h;
}

int vb_preprocess(const vb_image *img, const vb_crop *crop, const vb_graph *g, const char *path,
                  float *out, vb_err *e)
{
    int x0 = 0, y0 = 0, x1 = img->w, y1 = img->h;
    if (crop && crop->set) {
        if (crop->x1 > img->w || crop->y1 > img->h)
            return vb_fail(e, VB_EXIT_INPUT, "%s: crop box %d,%d,%d,%d lies outside the %dx%d image", path,
                           crop->x0, crop->y0, crop->x1, crop->y1, img->w, img->h);
        x0 = crop->x0, y0 = crop->y0, x1 = crop->x1, y1 = crop->y1;
    }
    if (g->in_c != 3 && g->in_c != img->c)
        return vb_fail(e, VB_EXIT_INPUT, "%s: the model takes %d channels, the image has %d", path, g->in_c, img->c);
    const size_t pixels = (size_t)g->in_h * g->in_w;
    float *resized = malloc(pixels * img->c * sizeof(float));
    if (!resized)
        return vb_fail(e, VB_EXIT_IO, "out of memory");
    vb_resize_bilinear_tf(img->px, img->w, img->h, img->c, x0, y0, x1 - x0, y1 - y0, resized, g->in_w, g->in_h);
    for (size_t p = 0; p < pixels; p++)
        for (int ch = 0; ch < g->in_c; ch++) {
            float v = resized[p * img->c + (img->c == 1 ? 0 : ch)];
            out[p * g->in_c + ch] = (v - g->in_mean[ch]) * g->in_scale;
        }
    free(resized);
    return 0;
}

/* Normalizes resized pixels (n pixels of c channels, 0..255) into the net's input:
 * (pixel - mean[ch]) * scale, three channels, gray replicated. */
static void normalize_rgb(const float *px, size_t n, int c, const float mean[3], float scale, float *out)
{
    for (size_t p = 0; p < n; p++)
        for (int ch = 0; ch < 3; ch++)
            out[p * 3 + ch] = (px[p * c + (c == 1 ? 0 : ch)] - mean[ch]) * scale;
}

/* The region (rx0, ry0, rw, rh) of img placed at (left, top) of a zeroed side x side square
 * (face-api.js padToSquare), resized to size x size and normalized. */
static int pad_resize_normalize(const vb_image *img, int rx0, int ry0, int rw, int rh, int left, int top,
                                int side, int size, const float mean[3], float scale, float *out)
{
    const int c = img->c;
    uint8_t *square = calloc((size_t)side * side, (size_t)c);
    float *resized = malloc((size_t)size * size * c * sizeof(float));
    if (!square || !resized) {
        free(square);
        free(resized);
        return -1;
    }
    for (int y = 0; y < rh; y++)
        memcpy(square + ((size_t)(top + y) * side + left) * c, img->px + ((size_t)(ry0 + y) * img->w + rx0) * c,
               (size_t)rw * c);
    vb_resize_bilinear_tf(square, side, side, c, 0, 0, side, side, resized, size, size);
    normalize_rgb(resized, (size_t)size * size, c, mean, scale, out);
    free(square);
    free(resized);
    return 0;
}

/* TinyYolov2Base.forwardInput -> NetInput.toBatchTensor(size, isCenterInputs=false). */
int vb_prep_letterbox(const vb_image *img, int size, const float mean[3], float scale, float *out)
{
    if (img->w < 1 || img->h < 1 || size < 1)
        return -1;
    if (img->w == img->h) { /* nothing to pad: resize straight from the image */
        float *resized = malloc((size_t)size * size * img->c * sizeof(float));
        if (!resized)
            return -1;
        vb_resize_bilinear_tf(img->px, img->w, img->h, img->c, 0, 0, img->w, img->h, resized, size, size);
        normalize_rgb(resized, (size_t)size * size, img->c, mean, scale, out);
        free(resized);
        return 0;
    }
    const int side = img->w > img->h ? img->w : img->h;
    return pad_resize_normalize(img, 0, 0, img->w, img->h, 0, 0, side, size, mean, scale, out);
}

/* DetectSingleFaceLandmarksTask with a tensor input: extractFaceTensors (Box
 * clipAtImageBorders: origin clamped to 0, size clamped to the image, each of x, y, width,
 * height floored), then FaceFeatureExtractor's toBatchTensor(size, isCenterInputs=true):
 * padToSquare appends round(diff / 2) zero rows/columns after the crop and the rest before,
 * then resizeBilinear unless the square already has the input size. */
int vb_prep_face_square(const vb_image *img, float x0, float y0, float x1, float y1, int size,
                        const float mean[3], float scale, float *out, vb_landmark_box *used)
{
    if (!(isfinite(x0) && isfinite(y0) && isfinite(x1) && isfinite(y1)) || size < 1)
        return -1;
    double cx = x0 > 0 ? x0 : 0, cy = y0 > 0 ? y0 : 0;
    if (!(cx < img->w && cy < img->h))
        return -1;
    double cw = fmin((double)x1 - cx, img->w - cx), ch = fmin((double)y1 - cy, img->h - cy);
    if (!(cw >= 1 && ch >= 1))
        return -1;
    const int rx0 = (int)floor(cx), ry0 = (int)floor(cy), rw = (int)floor(cw), rh = (int)floor(ch);
    const int side = rw > rh ? rw : rh, diff = side - (rw < rh ? rw : rh);
    const int before = diff - (diff + 1) / 2; /* Math.round(diff * 0.5) goes after */
    const int left = rw < rh ? before : 0, top = rh < rw ? before : 0;
    if (pad_resize_normalize(img, rx0, ry0, rw, rh, left, top, side, size, mean, scale, out))
        return -1;
    if (used)
        *used = (vb_landmark_box){(float)rx0, (float)ry0, (float)rw, (float)rh};
    return 0;
}
