#include "datasets/image.h"

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

static int alloc_pixels(vb_image *img, int w, int h, int c, const char *path, vb_err *e)
{
    if (w < 1 || h < 1 || (uint64_t)w * h > VB_IMAGE_MAX_PIXELS)
        return vb_fail(e, VB_EXIT_INPUT, "%s: image size %dx%d is empty or too large", path, w, h);
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
    if (setjmp(guard.jump)) {
        jpeg_destroy_decompress(&cinfo);
        vb_image_free(out);
        return vb_fail(e, VB_EXIT_INPUT, "%s: corrupt JPEG: %s", path, guard.message);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    int gray = cinfo.jpeg_color_space == JCS_GRAYSCALE;
    cinfo.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if (alloc_pixels(img, (int)cinfo.output_width, (int)cinfo.output_height, gray ? 1 : 3, path, e)) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    size_t stride = (size_t)img->w * img->c;
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = img->px + cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    if (guard.warnings) {
        vb_image_free(img);
        return vb_fail(e, VB_EXIT_INPUT, "%s: corrupt or truncated JPEG: %s", path, guard.message);
    }
    return 0;
}

/* ------------------------------------------------------------------- PNG */

static int decode_png(const uint8_t *data, size_t size, const char *path, vb_image *img, vb_err *e)
{
    /* libpng stops reading after the last image row, so a file cut inside its trailer
     * would pass: insist on the IEND chunk that closes every complete PNG. */
    static const uint8_t iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    if (size < 8 + sizeof iend || memcmp(data + size - sizeof iend, iend, sizeof iend))
        return vb_fail(e, VB_EXIT_INPUT, "%s: truncated PNG (no IEND chunk at the end)", path);
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&pi, data, size))
        return vb_fail(e, VB_EXIT_INPUT, "%s: corrupt PNG: %s", path, pi.message);
    int gray = !(pi.format & PNG_FORMAT_FLAG_COLOR);
    pi.format = gray ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB; /* alpha is composited on black */
    if (alloc_pixels(img, (int)pi.width, (int)pi.height, gray ? 1 : 3, path, e)) {
        png_image_free(&pi);
        return -1;
    }
    if (!png_image_finish_read(&pi, NULL, img->px, 0, NULL)) {
        vb_image_free(img);
        return vb_fail(e, VB_EXIT_INPUT, "%s: corrupt or truncated PNG: %s", path, pi.message);
    }
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
    if (bits != 8 || (!ok_gray && !ok_rgb) || tiled) {
        TIFFClose(tif);
        return vb_fail(e, VB_EXIT_INPUT, "%s: unsupported TIFF (%u bits, %u samples, photometric %u%s); "
                       "only 8-bit grayscale or RGB strips are read", path, bits, spp, photometric,
                       tiled ? ", tiled" : "");
    }
    if (alloc_pixels(img, (int)w, (int)h, spp, path, e)) {
        TIFFClose(tif);
        return -1;
    }
    size_t stride = (size_t)w * spp;
    if ((size_t)TIFFScanlineSize(tif) != stride) {
        TIFFClose(tif);
        vb_image_free(img);
        return vb_fail(e, VB_EXIT_INPUT, "%s: TIFF scanline size disagrees with its dimensions", path);
    }
    for (uint32_t y = 0; y < h; y++) {
        if (TIFFReadScanline(tif, img->px + y * stride, y, 0) < 0) {
            TIFFClose(tif);
            vb_image_free(img);
            return vb_fail(e, VB_EXIT_INPUT, "%s: corrupt or truncated TIFF at row %u: %s", path, y,
                           tiff_message[0] ? tiff_message : "read failed");
        }
    }
    TIFFClose(tif);
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

static int decode_pnm(const uint8_t *d, size_t size, const char *path, vb_image *img, vb_err *e)
{
    int binary = d[1] == '5' || d[1] == '6', color = d[1] == '3' || d[1] == '6';
    size_t pos = 2;
    long w, h, maxval;
    if (pnm_int(d, size, &pos, &w) || pnm_int(d, size, &pos, &h) || pnm_int(d, size, &pos, &maxval))
        return vb_fail(e, VB_EXIT_INPUT, "%s: corrupt PNM header", path);
    if (maxval != 255)
        return vb_fail(e, VB_EXIT_INPUT, "%s: PNM maxval %ld not supported (8-bit only)", path, maxval);
    if (w > 65535 || h > 65535 || alloc_pixels(img, (int)w, (int)h, color ? 3 : 1, path, e))
        return w > 65535 || h > 65535 ? vb_fail(e, VB_EXIT_INPUT, "%s: PNM too large", path) : -1;
    size_t n = (size_t)w * h * img->c;
    if (binary) {
        pos++; /* exactly one whitespace byte after maxval */
        if (pos > size || size - pos < n) {
            vb_image_free(img);
            return vb_fail(e, VB_EXIT_INPUT, "%s: truncated PNM: %zu of %zu pixel bytes", path,
                           pos > size ? 0 : size - pos, n);
        }
        memcpy(img->px, d + pos, n);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        long v;
        if (pnm_int(d, size, &pos, &v) || v > 255) {
            vb_image_free(img);
            return vb_fail(e, VB_EXIT_INPUT, "%s: corrupt or truncated ASCII PNM at sample %zu", path, i);
        }
        img->px[i] = (uint8_t)v;
    }
    return 0;
}

int vb_image_decode(const uint8_t *data, size_t size, const char *path, vb_image *img, vb_err *e)
{
    memset(img, 0, sizeof *img);
    if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        return decode_jpeg(data, size, path, img, e);
    if (size >= 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8))
        return decode_png(data, size, path, img, e);
    if (size >= 2 && data[0] == 'P' && data[1] >= '2' && data[1] <= '6' && data[1] != '4')
        return decode_pnm(data, size, path, img, e);
    if (size >= 4 && (!memcmp(data, "II*\0", 4) || !memcmp(data, "MM\0*", 4)))
        return vb_fail(e, VB_EXIT_INPUT, "%s: TIFF must be read from a file", path);
    return vb_fail(e, VB_EXIT_INPUT, "%s: unknown image format (expected JPEG, PNG, TIFF or PGM/PPM)%s",
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
