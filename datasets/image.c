#include "datasets/image.h"
#include "core/files.h"

#include <errno.h>
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

#define MAX_FILE_BYTES ((size_t)256 << 20)

void vb_image_free(vb_image *img)
{
    if (img) {
        free(img->px);
        img->px = NULL;
    }
}

static uint64_t max_pixels = VB_IMAGE_MAX_PIXELS;

void vb_image_set_max_pixels(uint64_t n)
{
    max_pixels = n;
}

uint64_t vb_image_max_pixels(void)
{
    return max_pixels;
}

static int alloc_pixels(vb_image *img, int w, int h, int c, const char *path, vb_err *e)
{
    if (w < 1 || h < 1)
        return vb_fail(e, VB_EXIT_INPUT, "%s: image size %dx%d is empty", path, w, h);
    if ((uint64_t)w * h > max_pixels)
        return vb_fail(e, VB_EXIT_INPUT, "%s: image size %dx%d is over the limit of %llu pixels (--max-pixels)",
                       path, w, h, (unsigned long long)max_pixels);
    img->w = w;
    img->h = h;
    img->c = c;
    img->px = malloc((size_t)w * h * c);
    if (!img->px)
        return vb_fail(e, VB_EXIT_IO, "%s: out of memory for a %dx%d image", path, w, h);
    return 0;
}

/* ------------------------------------------------------------------ JPEG */

typedef struct jpeg_guard {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    int warnings;
} jpeg_guard;

static void jpeg_fatal(j_common_ptr cinfo)
{
    jpeg_guard *g = (jpeg_guard *)cinfo->err;
    cinfo->err->format_message(cinfo, g->message);
    longjmp(g->jump, 1);
}

/* Warnings (msg_level < 0) include corrupt data and premature end of file: keep the first. */
static void jpeg_message(j_common_ptr cinfo, int msg_level)
{
    jpeg_guard *g = (jpeg_guard *)cinfo->err;
    if (msg_level < 0 && g->warnings++ == 0)
        cinfo->err->format_message(cinfo, g->message);
}

/* The output layout for the file's colour space: grey, RGB, or CMYK (4 samples, folded to
 * RGB by cmyk_to_rgb); 0 for a colour space we cannot read. YCCK is converted to CMYK by
 * libjpeg itself. */
static int jpeg_choose_output(struct jpeg_decompress_struct *cinfo)
{
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo->out_color_space = JCS_GRAYSCALE;
        return 1;
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo->out_color_space = JCS_RGB;
        return 3;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo->out_color_space = JCS_CMYK;
        return 4;
    default:
        return 0;
    }
}

/* CMYK row to RGB in place (rgb may alias cmyk: it is written behind the read position).
 * Adobe's writers (Photoshop; libjpeg with an Adobe marker) store the inverted values, so
 * there R = C * K / 255; plain CMYK gives R = (255 - C) * (255 - K) / 255. */
static void cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, size_t n, int inverted)
{
    for (size_t i = 0; i < n; i++) {
        unsigned c[4];
        for (int k = 0; k < 4; k++)
            c[k] = inverted ? cmyk[i * 4 + k] : 255u - cmyk[i * 4 + k];
        for (int k = 0; k < 3; k++)
            rgb[i * 3 + k] = (uint8_t)((c[k] * c[3] + 127) / 255);
    }
}

static int decode_jpeg(const uint8_t *data, size_t size, const char *path, vb_image *img, vb_err *e)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_guard guard;
    memset(&guard, 0, sizeof guard);
    cinfo.err = jpeg_std_error(&guard.mgr);
    guard.mgr.error_exit = jpeg_fatal;
    guard.mgr.emit_message = jpeg_message;
    /* volatile: modified between setjmp and a possible longjmp */
    vb_image *volatile out = img;
    uint8_t *volatile row4 = NULL;
    if (setjmp(guard.jump)) {
        jpeg_destroy_decompress(&cinfo);
        vb_image_free(out);
        free(row4);
        return vb_fail(e, VB_EXIT_INPUT, "%s: corrupt JPEG: %s", path, guard.message);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    int chans = jpeg_choose_output(&cinfo);
    if (!chans) {
        int space = cinfo.jpeg_color_space;
        jpeg_destroy_decompress(&cinfo);
        return vb_fail(e, VB_EXIT_INPUT, "%s: unsupported colour space in JPEG (libjpeg J_COLOR_SPACE %d); "
                       "grey, YCbCr, RGB, CMYK and YCCK are read", path, space);
    }
    jpeg_start_decompress(&cinfo);
    if (alloc_pixels(img, (int)cinfo.output_width, (int)cinfo.output_height, chans == 1 ? 1 : 3, path, e)) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    if (chans == 4 && !(row4 = malloc((size_t)img->w * 4))) {
        jpeg_destroy_decompress(&cinfo);
        vb_image_free(img);
        return vb_fail(e, VB_EXIT_IO, "%s: out of memory", path);
    }
    size_t stride = (size_t)img->w * img->c;
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = img->px + cinfo.output_scanline * stride, dst = row;
        if (row4)
            row = row4;
        jpeg_read_scanlines(&cinfo, &row, 1);
        if (row4)
            cmyk_to_rgb(row4, dst, (size_t)img->w, cinfo.saw_Adobe_marker);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row4);
    if (guard.warnings) {
        vb_image_free(img);
        return vb_fail(e, VB_EXIT_INPUT, "%s: corrupt or truncated JPEG: %s", path, guard.message);
    }
    return 0;
}

/* ------------------------------------------------------------------- PNG */

/* The low-level libpng API, not png_image: the simplified API treats 16-bit data as
 * linear light and gamma-encodes it on the way to 8 bits (and honours gAMA/iCCP), so a
 * 16-bit file holding v*257 came back as a gamma curve. Here nothing is colour-managed:
 * 16-bit samples are scaled to 8 bits with rounding, palettes and low bit depths are
 * expanded, and alpha is composited on black (value * alpha / 255). */
typedef struct png_source {
    const uint8_t *data;
    size_t size, pos;
    char message[256];
} png_source;

static void png_read_memory(png_structp png, png_bytep out, size_t n)
{
    png_source *s = png_get_io_ptr(png);
    if (n > s->size - s->pos)
        png_error(png, "file ends inside a chunk");
    memcpy(out, s->data + s->pos, n);
    s->pos += n;
}

static void png_fatal(png_structp png, png_const_charp msg)
{
    png_source *s = png_get_error_ptr(png);
    snprintf(s->message, sizeof s->message, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg; /* ancillary-chunk trouble: the pixels are still exact */
}

/* Rows of `chans` 8-bit samples (grey, grey+alpha, RGB or RGBA) into img, alpha dropped. */
static void png_flatten(const uint8_t *rows, int chans, vb_image *img)
{
    size_t n = (size_t)img->w * img->h;
    int alpha = chans == 2 || chans == 4;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = rows + i * chans;
        for (int k = 0; k < img->c; k++)
            img->px[i * img->c + k] = alpha ? (uint8_t)((p[k] * p[chans - 1] + 127) / 255) : p[k];
    }
}

static int decode_png(const uint8_t *data, size_t size, const char *path, vb_image *img, vb_err *e)
{
    /* libpng stops reading after the last image row, so a file cut inside its trailer
     * would pass: insist on the IEND chunk that closes every complete PNG. */
    static const uint8_t iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    if (size < 8 + sizeof iend || memcmp(data + size - sizeof iend, iend, sizeof iend))
        return vb_fail(e, VB_EXIT_INPUT, "%s: truncated PNG (no IEND chunk at the end)", path);
    png_source src = {data, size, 0, "unknown error"};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_fatal, png_warn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return vb_fail(e, VB_EXIT_IO, "%s: out of memory for the PNG decoder", path);
    }
    /* volatile: assigned between setjmp and a possible longjmp */
    uint8_t *volatile rows = NULL;
    png_bytep *volatile row_ptrs = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        free(row_ptrs);
        vb_image_free(img);
        return vb_fail(e, VB_EXIT_INPUT, "%s: corrupt or truncated PNG: %s", path, src.message);
    }
    png_set_read_fn(png, &src, png_read_memory);
    png_read_info(png, info);
    png_set_expand(png);   /* palette -> RGB, 1/2/4-bit grey -> 8, tRNS -> alpha */
    png_set_scale_16(png); /* round(v * 255 / 65535): exact for v * 257 */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int chans = png_get_channels(png, info);
    int w = (int)png_get_image_width(png, info), h = (int)png_get_image_height(png, info);
    if (png_get_bit_depth(png, info) != 8 || png_get_rowbytes(png, info) != (size_t)w * chans)
        png_error(png, "unexpected row layout after expansion to 8 bits");
    if (alloc_pixels(img, w, h, chans >= 3 ? 3 : 1, path, e)) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    rows = malloc((size_t)w * h * chans);
    row_ptrs = malloc(sizeof *row_ptrs * (size_t)h);
    if (!rows || !row_ptrs)
        png_error(png, "out of memory");
    for (int y = 0; y < h; y++)
        row_ptrs[y] = rows + (size_t)y * w * chans;
    png_read_image(png, row_ptrs);
    png_read_end(png, NULL);
    png_flatten(rows, chans, img);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    free(row_ptrs);
    return 0;
}

/* ------------------------------------------------------------------ TIFF */

static _Thread_local char tiff_message[512];

static void tiff_handler(const char *module, const char *fmt, va_list ap)
{
    if (tiff_message[0])
        return; /* keep the first, usually the cause */
    int n = snprintf(tiff_message, sizeof tiff_message, "%s: ", module ? module : "libtiff");
    if (n > 0 && (size_t)n < sizeof tiff_message)
        vsnprintf(tiff_message + n, sizeof tiff_message - (size_t)n, fmt, ap);
}

static void tiff_warning(const char *module, const char *fmt, va_list ap)
{
    (void)module, (void)fmt, (void)ap; /* unknown tags and the like: not our concern */
}

/* Scanlines of `bytes`-per-sample data into img (16-bit samples scaled to 8 bits with
 * rounding, no gamma); frees img on failure. */
static int tiff_read_rows(TIFF *tif, const char *path, int bytes, vb_image *img, vb_err *e)
{
    size_t samples = (size_t)img->w * img->c;
    if ((size_t)TIFFScanlineSize(tif) != samples * bytes) {
        vb_image_free(img);
        return vb_fail(e, VB_EXIT_INPUT, "%s: TIFF scanline size disagrees with its dimensions", path);
    }
    uint16_t *wide = bytes == 2 ? malloc(samples * 2) : NULL;
    if (bytes == 2 && !wide) {
        vb_image_free(img);
        return vb_fail(e, VB_EXIT_IO, "%s: out of memory", path);
    }
    for (int y = 0; y < img->h; y++) {
        uint8_t *row = img->px + (size_t)y * samples;
        if (TIFFReadScanline(tif, wide ? (void *)wide : (void *)row, (uint32_t)y, 0) < 0) {
            free(wide);
            vb_image_free(img);
            return vb_fail(e, VB_EXIT_INPUT, "%s: corrupt or truncated TIFF at row %d: %s", path, y,
                           tiff_message[0] ? tiff_message : "read failed");
        }
        for (size_t i = 0; wide && i < samples; i++)
            row[i] = (uint8_t)((wide[i] * 255u + 32767u) / 65535u);
    }
    free(wide);
    return 0;
}

static int decode_tiff(const char *path, vb_image *img, vb_err *e)
{
    TIFFSetErrorHandler(tiff_handler);
    TIFFSetWarningHandler(tiff_warning);
    tiff_message[0] = 0;
    TIFF *tif = TIFFOpen(path, "r");
    if (!tif)
        return vb_fail(e, VB_EXIT_INPUT, "%s: corrupt TIFF: %s", path, tiff_message[0] ? tiff_message : "cannot open");
    uint32_t w = 0, h = 0;
    uint16_t bits = 0, spp = 0, planar = PLANARCONFIG_CONTIG, photometric = 0;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric))
        photometric = spp == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
    int ok_gray = spp == 1 && (photometric == PHOTOMETRIC_MINISBLACK || photometric == PHOTOMETRIC_MINISWHITE);
    int ok_rgb = spp == 3 && photometric == PHOTOMETRIC_RGB && planar == PLANARCONFIG_CONTIG;
    int tiled = TIFFIsTiled(tif);
    if ((bits != 8 && bits != 16) || (!ok_gray && !ok_rgb) || tiled) {
        TIFFClose(tif);
        return vb_fail(e, VB_EXIT_INPUT, "%s: unsupported TIFF (%u bits, %u samples, photometric %u%s); "
                       "only 8- or 16-bit grayscale or RGB strips are read", path, bits, spp, photometric,
                       tiled ? ", tiled" : "");
    }
    if (alloc_pixels(img, (int)w, (int)h, spp, path, e)) {
        TIFFClose(tif);
        return -1;
    }
    int rc = tiff_read_rows(tif, path, bits / 8, img, e);
    TIFFClose(tif);
    if (rc)
        return -1;
    if (photometric == PHOTOMETRIC_MINISWHITE)
        for (size_t i = 0; i < (size_t)w * h; i++)
            img->px[i] = (uint8_t)(255 - img->px[i]);
    return 0;
}

/* ------------------------------------------------------------------- PNM */

/* Next header integer of a PNM file, skipping whitespace and comments. */
static int pnm_int(const uint8_t *d, size_t size, size_t *pos, long *out)
{
    for (;;) {
        while (*pos < size && (d[*pos] == ' ' || d[*pos] == '\t' || d[*pos] == '\n' || d[*pos] == '\r'))
            (*pos)++;
        if (*pos < size && d[*pos] == '#') {
            while (*pos < size && d[*pos] != '\n')
                (*pos)++;
            continue;
        }
        break;
    }
    long v = 0;
    size_t start = *pos;
    while (*pos < size && d[*pos] >= '0' && d[*pos] <= '9' && *pos - start < 9)
        v = v * 10 + (d[(*pos)++] - '0');
    if (*pos == start || (*pos < size && d[*pos] >= '0' && d[*pos] <= '9'))
        return -1;
    *out = v;
    return 0;
}

/* A PNM sample in 0..maxval to 8 bits, rounded (the identity for maxval 255). */
static uint8_t pnm_scale(long v, long maxval)
{
    return (uint8_t)((v * 255 + maxval / 2) / maxval);
}

/* Binary samples: one byte each up to maxval 255, else two bytes, most significant first. */
static int pnm_binary(const uint8_t *d, size_t size, size_t pos, long maxval, const char *path,
                      vb_image *img, vb_err *e)
{
    size_t n = (size_t)img->w * img->h * img->c, bytes = maxval > 255 ? 2 : 1;
    if (pos > size || (size - pos) / bytes < n) {
        vb_image_free(img);
        return vb_fail(e, VB_EXIT_INPUT, "%s: truncated PNM: %zu of %zu pixel bytes", path,
                       pos > size ? 0 : size - pos, n * bytes);
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = d + pos + i * bytes;
        long v = bytes == 2 ? (long)p[0] << 8 | p[1] : p[0];
        if (v > maxval) {
            vb_image_free(img);
            return vb_fail(e, VB_EXIT_INPUT, "%s: PNM sample %zu is %ld, above maxval %ld", path, i, v, maxval);
        }
        img->px[i] = pnm_scale(v, maxval);
    }
    return 0;
}

static int decode_pnm(const uint8_t *d, size_t size, const char *path, vb_image *img, vb_err *e)
{
    int binary = d[1] == '5' || d[1] == '6', color = d[1] == '3' || d[1] == '6';
    size_t pos = 2;
    long w, h, maxval;
    if (pnm_int(d, size, &pos, &w) || pnm_int(d, size, &pos, &h) || pnm_int(d, size, &pos, &maxval))
        return vb_fail(e, VB_EXIT_INPUT, "%s: corrupt PNM header", path);
    if (maxval < 1 || maxval > 65535)
        return vb_fail(e, VB_EXIT_INPUT, "%s: PNM maxval %ld outside 1..65535", path, maxval);
    if (w > 65535 || h > 65535 || alloc_pixels(img, (int)w, (int)h, color ? 3 : 1, path, e))
        return w > 65535 || h > 65535 ? vb_fail(e, VB_EXIT_INPUT, "%s: PNM too large", path) : -1;
    if (binary)
        return pnm_binary(d, size, pos + 1 /* exactly one whitespace byte after maxval */, maxval, path, img, e);
    size_t n = (size_t)w * h * img->c;
    for (size_t i = 0; i < n; i++) {
        long v;
        if (pnm_int(d, size, &pos, &v) || v > maxval) {
            vb_image_free(img);
            return vb_fail(e, VB_EXIT_INPUT, "%s: corrupt or truncated ASCII PNM at sample %zu", path, i);
        }
        img->px[i] = pnm_scale(v, maxval);
    }
    return 0;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* BMP (Windows bitmap, as FVC2000/2004 and many sensors ship prints): uncompressed 8-bit
 * palette, 24-bit BGR or 32-bit BGRX, bottom-up or top-down. A palette of greys decodes to
 * one channel, any other to RGB. Compressed or 1/4/16-bit bitmaps are refused by name. */
static int decode_bmp(const uint8_t *d, size_t size, const char *path, vb_image *img, vb_err *e)
{
    if (size < 54)
        return vb_fail(e, VB_EXIT_INPUT, "%s: truncated BMP header", path);
    uint32_t offset = le32(d + 10), dib = le32(d + 14), compression = le32(d + 30), colors = le32(d + 46);
    int32_t w = (int32_t)le32(d + 18), h = (int32_t)le32(d + 22);
    unsigned planes = d[26] | d[27] << 8, bpp = d[28] | d[29] << 8;
    if (dib < 40 || dib > size - 14 || planes != 1)
        return vb_fail(e, VB_EXIT_INPUT, "%s: unsupported BMP header (size %u, planes %u)", path, dib, planes);
    if (compression != 0 || (bpp != 8 && bpp != 24 && bpp != 32))
        return vb_fail(e, VB_EXIT_INPUT, "%s: unsupported BMP: %u bits per pixel, compression %u (8, 24 or 32 bits, "
                       "uncompressed)", path, bpp, compression);
    int top_down = h < 0;
    int64_t ah = h < 0 ? -(int64_t)h : h;
    if (w < 1 || ah < 1 || w > 65535 || ah > 65535)
        return vb_fail(e, VB_EXIT_INPUT, "%s: BMP size %dx%lld out of range", path, (int)w, (long long)ah);
    const uint8_t *pal = d + 14 + dib;
    size_t n_pal = bpp == 8 ? (colors ? colors : 256) : 0;
    if (n_pal > 256 || (size_t)(pal - d) + 4 * n_pal > size)
        return vb_fail(e, VB_EXIT_INPUT, "%s: BMP palette of %zu colours does not fit", path, n_pal);
    int gray = bpp == 8;
    for (size_t i = 0; i < n_pal && gray; i++)
        gray = pal[4 * i] == pal[4 * i + 1] && pal[4 * i] == pal[4 * i + 2];
    size_t stride = ((size_t)w * bpp + 31) / 32 * 4;
    if (offset > size || (size - offset) / stride < (size_t)ah)
        return vb_fail(e, VB_EXIT_INPUT, "%s: truncated BMP pixel data", path);
    if (alloc_pixels(img, (int)w, (int)ah, gray ? 1 : 3, path, e))
        return -1;
    for (int64_t y = 0; y < ah; y++) {
        const uint8_t *row = d + offset + stride * (size_t)(top_down ? y : ah - 1 - y);
        uint8_t *out = img->px + (size_t)y * w * img->c;
        for (int32_t x = 0; x < w; x++) {
            const uint8_t *p = bpp == 8 ? NULL : row + (size_t)x * (bpp / 8);
            if (bpp == 8) {
                if (row[x] >= n_pal) {
                    vb_image_free(img);
                    return vb_fail(e, VB_EXIT_INPUT, "%s: BMP pixel index %u outside the palette", path, row[x]);
                }
                p = pal + 4 * row[x];
            }
            if (gray)
                out[x] = p[0];
            else
                out[3 * x] = p[2], out[3 * x + 1] = p[1], out[3 * x + 2] = p[0];
        }
    }
    return 0;
}

int vb_image_decode(const uint8_t *data, size_t size, const char *path, vb_image *img, vb_err *e)
{
    if (size >= 2 && data[0] == 'B' && data[1] == 'M')
        return decode_bmp(data, size, path, img, e);
    memset(img, 0, sizeof *img);
    if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        return decode_jpeg(data, size, path, img, e);
    if (size >= 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8))
        return decode_png(data, size, path, img, e);
    if (size >= 2 && data[0] == 'P' && data[1] >= '2' && data[1] <= '6' && data[1] != '4')
        return decode_pnm(data, size, path, img, e);
    if (size >= 4 && (!memcmp(data, "II*\0", 4) || !memcmp(data, "MM\0*", 4)))
        return vb_fail(e, VB_EXIT_INPUT, "%s: TIFF must be read from a file", path);
    return vb_fail(e, VB_EXIT_INPUT, "%s: unknown image format (expected JPEG, PNG, TIFF, BMP or PGM/PPM)%s",
                   path, size == 0 ? ": file is empty" : "");
}

int vb_image_load(const char *path, vb_image *img, vb_err *e)
{
    uint8_t *data;
    size_t size;
    memset(img, 0, sizeof *img);
    if (vb_read_file(path, MAX_FILE_BYTES, &data, &size, e))
        return -1;
    int rc;
    if (size >= 4 && (!memcmp(data, "II*\0", 4) || !memcmp(data, "MM\0*", 4)))
        rc = decode_tiff(path, img, e);
    else
        rc = vb_image_decode(data, size, path, img, e);
    free(data);
    return rc;
}

int vb_image_save_pnm(const vb_image *img, const char *path, vb_err *e)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return vb_fail(e, VB_EXIT_IO, "%s: cannot create: %s", path, strerror(errno));
    fprintf(f, "P%c\n%d %d\n255\n", img->c == 3 ? '6' : '5', img->w, img->h);
    size_t n = (size_t)img->w * img->h * img->c;
    int ok = fwrite(img->px, 1, n, f) == n;
    if (fclose(f) != 0 || !ok)
        return vb_fail(e, VB_EXIT_IO, "%s: write failed", path);
    return 0;
}

/* ------------------------------------------------------------ PNG encoding */

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

int vb_image_save_png(const vb_image *img, const char *path, vb_err *e)
{
    if (img->w <= 0 || img->h <= 0 || (img->c != 1 && img->c != 3))
        return vb_fail(e, VB_EXIT_IO, "%s: cannot write a %dx%d image of %d channels as PNG", path, img->w, img->h,
                       img->c);
    uint8_t *png;
    size_t n;
    if (vb_png_encode(img, &png, &n, e)) {
        vb_err_prefix(e, "%s", path);
        return -1;
    }
    int rc = vb_write_file_atomic(path, png, n, e); /* its errors name the file */
    free(png);
    return rc;
}
