/* Fingerprint chips with minutiae drawn (see datasets/fp_chip.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/fp_chip.h"

static void put(vb_image *o, int x, int y, uint8_t r, uint8_t g, uint8_t b)
{
    if (x < 0 || y < 0 || x >= o->w || y >= o->h)
        return;
    uint8_t *p = o->px + 3 * ((size_t)y * o->w + x);
    p[0] = r, p[1] = g, p[2] = b;
}

int vb_fp_chip_make(const vb_image *img, const vb_fp_template *t, int height, vb_image *out, vb_err *e)
{
    memset(out, 0, sizeof *out);
    if (img->w < 1 || img->h < 1 || height < 8)
        return vb_fail(e, VB_EXIT_INPUT, "empty print");
    double s = (double)height / img->h;
    int w = (int)lround(img->w * s);
    w = w < 1 ? 1 : w;
    out->w = w, out->h = height, out->c = 3;
    out->px = malloc((size_t)w * height * 3);
    if (!out->px)
        return vb_fail(e, VB_EXIT_IO, "out of memory");
    /* area average of the source pixels under each output pixel (a downscale) */
    for (int y = 0; y < height; y++)
        for (int x = 0; x < w; x++) {
            int x0 = (int)(x / s), x1 = (int)((x + 1) / s), y0 = (int)(y / s), y1 = (int)((y + 1) / s);
            x1 = x1 <= x0 ? x0 + 1 : x1 > img->w ? img->w : x1;
            y1 = y1 <= y0 ? y0 + 1 : y1 > img->h ? img->h : y1;
            unsigned sum = 0, n = 0;
            for (int yy = y0; yy < y1 && yy < img->h; yy++)
                for (int xx = x0; xx < x1 && xx < img->w; xx++) {
                    const uint8_t *p = img->px + ((size_t)yy * img->w + xx) * img->c;
                    sum += img->c == 1 ? p[0] : (p[0] + p[1] + p[2]) / 3u, n++;
                }
            uint8_t v = (uint8_t)(n ? 128 + (sum / n) / 2 : 255); /* lightened, so marks stand out */
            put(out, x, y, v, v, v);
        }
    for (int i = 0; t && i < t->count; i++) {
        const vb_fp_minutia *m = &t->m[i];
        int cx = (int)lround(m->x * s), cy = (int)lround(m->y * s);
        uint8_t r = m->kind == 1 ? 220 : 0, b = m->kind == 1 ? 0 : 220;
        for (int d = -2; d <= 2; d++) {
            put(out, cx + d, cy - 2, r, 0, b), put(out, cx + d, cy + 2, r, 0, b);
            put(out, cx - 2, cy + d, r, 0, b), put(out, cx + 2, cy + d, r, 0, b);
        }
        for (int k = 3; k <= 8; k++)
            put(out, cx + (int)lround(k * cos(m->theta)), cy + (int)lround(k * sin(m->theta)), 0, 170, 0);
    }
    return 0;
}
