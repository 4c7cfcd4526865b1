#include "datasets/chip.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int vb_chip_make(const vb_image *img, const vb_crop *crop, int size, const char *path, vb_image *out, vb_err *e)
{
    int x0 = 0, y0 = 0, x1 = img->w, y1 = img->h;
    memset(out, 0, sizeof *out);
    if (crop && crop->set) {
        if (crop->x1 > img->w || crop->y1 > img->h)
            return vb_fail(e, VB_EXIT_INPUT, "%s: crop box %d,%d,%d,%d lies outside the %dx%d image", path,
                           crop->x0, crop->y0, crop->x1, crop->y1, img->w, img->h);
        x0 = crop->x0, y0 = crop->y0, x1 = crop->x1, y1 = crop->y1;
    }
    size_t n = (size_t)size * size * img->c;
    float *f = vb_malloc(n * sizeof *f, e);
    uint8_t *px = vb_malloc(n, e);
    if (!f || !px) {
        free(f);
        free(px);
        return -1;
    }
    vb_resize_bilinear_tf(img->px, img->w, img->h, img->c, x0, y0, x1 - x0, y1 - y0, f, size, size);
    for (size_t i = 0; i < n; i++)
        px[i] = (uint8_t)fmin(255, fmax(0, lrintf(f[i])));
    free(f);
    *out = (vb_image){size, size, img->c, px};
    return 0;
}
