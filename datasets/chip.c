#include "datasets/chip.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
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

typedef struct png_sink {
    uint8_t *buf;
    size_t len, cap;
    int oom;
} png_sink;

static void sink_write(png_structp png, png_bytep data, size_t n)
{
    png_sink *s = png_get_io_ptr(png);
    if (s->oom)
        return;
    if (s->len + n > s->cap) {
        size_t cap = (s->cap ? s->cap * 2 : 4096) + n;
        uint8_t *nb = realloc(s->buf, cap);
        if (!nb) {
            s->oom = 1;
            return;
        }
        s->buf = nb, s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
}

static void sink_flush(png_structp png)
{
    (void)png;
}

int vb_png_encode(const vb_image *img, uint8_t **png_out, size_t *n_out, vb_err *e)
{
    png_sink sink = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return vb_fail(e, VB_EXIT_IO, "PNG encoder: out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(sink.buf);
        return vb_fail(e, VB_EXIT_IO, "PNG encoder: libpng failed");
    }
    png_set_write_fn(png, &sink, sink_write, sink_flush);
    png_set_IHDR(png, info, (png_uint_32)img->w, (png_uint_32)img->h, 8,
                 img->c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < img->h; y++)
        png_write_row(png, img->px + (size_t)y * img->w * img->c);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (sink.oom) {
        free(sink.buf);
        return vb_fail(e, VB_EXIT_IO, "PNG encoder: out of memory");
    }
    *png_out = sink.buf;
    *n_out = sink.len;
    return 0;
}
