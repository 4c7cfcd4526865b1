/* Image decoding (every format, truncated and corrupt files refused with the file named)
 * and the TF-exact bilinear resize and normalization. */
#include <stdio.h>
#include <jpeglib.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <unistd.h>

#include "datasets/image.h"
#include "datasets/preprocess.h"
#include "tests/testlib.h"

enum { W = 13, H = 7 };
static uint8_t rgb[W * H * 3];
static char tmpdir[] = "/tmp/vb_test_image_XXXXXX";

static void make_pattern(void)
{
    for (int i = 0; i < W * H * 3; i++)
        rgb[i] = (uint8_t)(i * 37 + 11);
}

static void write_file(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(d, 1, n, f);
    fclose(f);
}

static void path_of(char *out, const char *name)
{
    snprintf(out, 256, "%s/%s", tmpdir, name);
}

/* Decode `data` truncated to each of several lengths (up to n - tail: a cut inside a
 * trailer that holds no pixels, such as TIFF's next-directory offset, may be accepted):
 * all must fail naming the file. */
static void expect_truncations_refused(const char *name, const uint8_t *data, size_t n, size_t keep_min)
{
    char path[256];
    path_of(path, name);
    size_t cuts[] = {0, 1, keep_min / 2, keep_min, n / 2, n - 1};
    for (size_t k = 0; k < VB_ARRAY_LEN(cuts); k++) {
        size_t len = cuts[k] < n ? cuts[k] : n - 1;
        write_file(path, data, len);
        vb_image img;
        vb_err e = {0};
        int rc = vb_image_load(path, &img, &e);
        CHECKF(rc == -1, "%s cut at %zu of %zu accepted", name, len, n);
        CHECKF(strstr(e.msg, path) != NULL, "%s: message lacks the path: %s", name, e.msg);
        if (rc == 0)
            vb_image_free(&img);
    }
}

static void test_pnm(void)
{
    char path[256];
    path_of(path, "a.ppm");
    vb_image src = {W, H, 3, rgb}, img;
    vb_err e = {0};
    CHECK(vb_image_save_pnm(&src, path, &e) == 0);
    CHECK(vb_image_load(path, &img, &e) == 0 && img.w == W && img.h == H && img.c == 3 &&
          !memcmp(img.px, rgb, sizeof rgb));
    vb_image_free(&img);
    const char ascii[] = "P2\n# comment\n3 2\n255\n0 1 2\n253 254 255\n";
    path_of(path, "a.pgm");
    write_file(path, ascii, strlen(ascii));
    CHECK(vb_image_load(path, &img, &e) == 0 && img.c == 1 && img.px[2] == 2 && img.px[5] == 255);
    vb_image_free(&img);
    const char big[] = "P2\n2 1\n255\n0 256\n";
    write_file(path, big, strlen(big));
    CHECK(vb_image_load(path, &img, &e) == -1);
    const char deep[] = "P5\n2 1\n65536\n\0\0\0\0";
    write_file(path, deep, sizeof deep - 1);
    CHECK(vb_image_load(path, &img, &e) == -1 && strstr(e.msg, "maxval 65536"));
    uint8_t data[64 + sizeof rgb];
    int hdr = snprintf((char *)data, 64, "P6\n%d %d\n255\n", W, H);
    memcpy(data + hdr, rgb, sizeof rgb);
    expect_truncations_refused("t.ppm", data, (size_t)hdr + sizeof rgb, (size_t)hdr);
}

static void test_png(void)
{
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = W, pi.height = H, pi.format = PNG_FORMAT_RGB;
    size_t n = 0;
    CHECK(png_image_write_to_memory(&pi, NULL, &n, 0, rgb, 0, NULL));
    uint8_t *data = malloc(n);
    CHECK(png_image_write_to_memory(&pi, data, &n, 0, rgb, 0, NULL));
    char path[256];
    path_of(path, "a.png");
    write_file(path, data, n);
    vb_image img;
    vb_err e = {0};
    CHECK(vb_image_load(path, &img, &e) == 0 && img.w == W && img.h == H && img.c == 3 &&
          !memcmp(img.px, rgb, sizeof rgb));
    vb_image_free(&img);
    expect_truncations_refused("t.png", data, n, 40);
    free(data);
}

/* vb_image_save_png: what it writes decodes to the same pixels (RGB and grey), replaces an
 * existing file whole, and a folder that does not exist is an error naming the file. */
static void test_png_save(void)
{
    char path[256];
    path_of(path, "saved.png");
    vb_image out = {W, H, 3, rgb}, back;
    vb_err e = {0};
    CHECK(vb_image_save_png(&out, path, &e) == 0);
    CHECK(vb_image_load(path, &back, &e) == 0 && back.w == W && back.h == H && back.c == 3 &&
          !memcmp(back.px, rgb, sizeof rgb));
    vb_image_free(&back);
    uint8_t grey[W * H];
    for (int i = 0; i < W * H; i++)
        grey[i] = (uint8_t)(255 - i * 3);
    vb_image g = {W, H, 1, grey};
    CHECK(vb_image_save_png(&g, path, &e) == 0); /* over the RGB one */
    CHECK(vb_image_load(path, &back, &e) == 0 && back.w == W && back.h == H && back.c == 1 &&
          !memcmp(back.px, grey, sizeof grey));
    vb_image_free(&back);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0);
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no/such/folder/chip.png", tmpdir);
    CHECK(vb_image_save_png(&out, bad, &e) == -1);
    CHECKF(strstr(e.msg, "chip.png") != NULL && e.code == VB_EXIT_IO, "message: %s", e.msg);
    vb_image two = {W, H, 2, rgb};
    CHECK(vb_image_save_png(&two, path, &e) == -1);
}

static void test_jpeg(void)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char *data = NULL;
    unsigned long n = 0;
    jpeg_mem_dest(&c, &data, &n);
    c.image_width = W, c.image_height = H, c.input_components = 3, c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    jpeg_start_compress(&c, TRUE);
    for (int y = 0; y < H; y++) {
        JSAMPROW row = rgb + y * W * 3;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    char path[256];
    path_of(path, "a.jpg");
    write_file(path, data, n);
    vb_image img;
    vb_err e = {0};
    CHECK(vb_image_load(path, &img, &e) == 0 && img.w == W && img.h == H && img.c == 3);
    vb_image_free(&img);
    /* Cutting the entropy-coded data yields libjpeg's "premature end" warning: an error. */
    expect_truncations_refused("t.jpg", data, n, n * 3 / 4);
    free(data);
}

static void test_tiff(void)
{
    char path[256];
    path_of(path, "a.tif");
    TIFF *t = TIFFOpen(path, "w");
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, W);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, H);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, H);
    for (int y = 0; y < H; y++)
        TIFFWriteScanline(t, rgb + y * W, (uint32_t)y, 0);
    TIFFClose(t);
    vb_image img;
    vb_err e = {0};
    CHECK(vb_image_load(path, &img, &e) == 0 && img.w == W && img.h == H && img.c == 1 &&
          !memcmp(img.px, rgb, W * H));
    vb_image_free(&img);
    uint8_t *data;
    size_t n;
    CHECK(vb_read_file(path, 1 << 20, &data, &n, &e) == 0);
    /* The strip sits right after the 8-byte header, the directory at the end: cutting
     * anywhere before its last 4 bytes (the next-directory offset) loses the directory. */
    expect_truncations_refused("t.tif", data, n - 4, 8 + W * H);
    free(data);
}

/* ---- issue 10 item 2: every bit depth decodes to the stored values, no gamma ---- */

/* The 16-bit test values v * 257 (which must come back as v) and one value off that grid
 * (1000 * 255 / 65535 = 3.89 -> 4). */
static const unsigned v16[] = {0, 1 * 257, 64 * 257, 128 * 257, 192 * 257, 255 * 257, 1000};
static const uint8_t v16_as8[] = {0, 1, 64, 128, 192, 255, 4};
enum { NV = 7 };

/* Write a 1-row PNG of `n` pixels from `samples` (n * channels values at `depth` bits),
 * with a gAMA chunk of 1.0 (linear) so that a decoder applying gamma would be caught. */
static void write_png_row(const char *path, int depth, int color_type, const unsigned *samples, int n,
                          const png_color *palette, int npalette)
{
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)n, 1, depth, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette)
        png_set_PLTE(png, info, palette, npalette);
    png_set_gAMA(png, info, 1.0);
    png_write_info(png, info);
    int chans = png_get_channels(png, info);
    uint8_t row[256] = {0};
    int bitpos = 0;
    for (int i = 0; i < n * chans; i++) {
        if (depth == 16) {
            row[2 * i] = (uint8_t)(samples[i] >> 8), row[2 * i + 1] = (uint8_t)samples[i];
        } else { /* packed most significant bits first */
            row[bitpos / 8] |= (uint8_t)(samples[i] << (8 - depth - bitpos % 8));
            bitpos += depth;
        }
    }
    png_write_row(png, row);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

static void expect_pixels(const char *what, const char *path, int c, const uint8_t *want, int n)
{
    vb_image img;
    vb_err e = {0};
    int rc = vb_image_load(path, &img, &e);
    CHECKF(rc == 0, "%s: %s", what, e.msg);
    if (rc)
        return;
    CHECKF(img.w == n && img.h == 1 && img.c == c, "%s: %dx%dx%d", what, img.w, img.h, img.c);
    for (int i = 0; img.c == c && img.w == n && i < n * c; i++)
        CHECKF(img.px[i] == want[i], "%s: sample %d = %d, want %d", what, i, img.px[i], want[i]);
    vb_image_free(&img);
}

/* issue 10 item 2: grey PNG at 1, 2, 4, 8 and 16 bits. */
static void test_png_grey_depths(void)
{
    char path[256];
    path_of(path, "grey.png");
    for (int depth = 1; depth <= 8; depth *= 2) {
        /* Every value at 1, 2 and 4 bits (255 / top is whole); a selection at 8 bits. */
        unsigned top = (1u << depth) - 1, step = depth == 8 ? 17 : 1, s[16];
        uint8_t want[16];
        int n = (int)(top / step) + 1;
        for (int i = 0; i < n; i++)
            s[i] = (unsigned)i * step, want[i] = (uint8_t)(s[i] * 255 / top);
        write_png_row(path, depth, PNG_COLOR_TYPE_GRAY, s, n, NULL, 0);
        char what[32];
        snprintf(what, sizeof what, "grey %d-bit PNG", depth);
        expect_pixels(what, path, 1, want, n);
    }
    write_png_row(path, 16, PNG_COLOR_TYPE_GRAY, v16, NV, NULL, 0);
    expect_pixels("grey 16-bit PNG (v*257 -> v)", path, 1, v16_as8, NV);
}

/* issue 10 item 2: RGB, RGBA, grey+alpha (8 and 16 bits) and palette PNG. Alpha is
 * composited on black: opaque pixels keep their value, alpha 0 gives 0. */
static void test_png_colour_types(void)
{
    char path[256];
    path_of(path, "colour.png");
    for (int depth = 8; depth <= 16; depth += 8) {
        unsigned rgb_s[NV * 3], rgba_s[NV * 4], ga_s[NV * 2];
        uint8_t want3[NV * 3], want1[NV];
        unsigned opaque = depth == 16 ? 65535 : 255;
        for (int i = 0; i < NV; i++) {
            unsigned v = depth == 16 ? v16[i] : v16_as8[i];
            for (int k = 0; k < 3; k++) {
                unsigned vk = depth == 16 ? v16[(i + k) % NV] : v16_as8[(i + k) % NV];
                rgb_s[i * 3 + k] = vk, rgba_s[i * 4 + k] = vk, want3[i * 3 + k] = v16_as8[(i + k) % NV];
            }
            unsigned alpha = i == 0 ? 0 : opaque; /* pixel 0 is black anyway: make 1 transparent */
            if (i == 1)
                alpha = 0;
            rgba_s[i * 4 + 3] = alpha, ga_s[i * 2] = v, ga_s[i * 2 + 1] = alpha;
            want1[i] = alpha ? v16_as8[i] : 0;
            if (!alpha)
                want3[i * 3] = want3[i * 3 + 1] = want3[i * 3 + 2] = 0;
        }
        char what[40];
        write_png_row(path, depth, PNG_COLOR_TYPE_RGB, rgb_s, NV, NULL, 0);
        snprintf(what, sizeof what, "RGB %d-bit PNG", depth);
        uint8_t want_rgb[NV * 3];
        for (int i = 0; i < NV * 3; i++)
            want_rgb[i] = v16_as8[(i / 3 + i % 3) % NV];
        expect_pixels(what, path, 3, want_rgb, NV);
        write_png_row(path, depth, PNG_COLOR_TYPE_RGBA, rgba_s, NV, NULL, 0);
        snprintf(what, sizeof what, "RGBA %d-bit PNG", depth);
        expect_pixels(what, path, 3, want3, NV);
        write_png_row(path, depth, PNG_COLOR_TYPE_GRAY_ALPHA, ga_s, NV, NULL, 0);
        snprintf(what, sizeof what, "grey+alpha %d-bit PNG", depth);
        expect_pixels(what, path, 1, want1, NV);
    }
    /* Half alpha: 200 * 128 / 255 = 100.4 -> 100. */
    unsigned half[4] = {200, 10, 0, 128};
    write_png_row(path, 8, PNG_COLOR_TYPE_RGBA, half, 1, NULL, 0);
    expect_pixels("RGBA half alpha", path, 3, (const uint8_t[]){100, 5, 0}, 1);
    png_color pal[3] = {{255, 0, 0}, {1, 64, 128}, {192, 255, 7}};
    unsigned idx[4] = {2, 0, 1, 2};
    write_png_row(path, 8, PNG_COLOR_TYPE_PALETTE, idx, 4, pal, 3);
    expect_pixels("palette PNG", path, 3, (const uint8_t[]){192, 255, 7, 255, 0, 0, 1, 64, 128, 192, 255, 7}, 4);
    write_png_row(path, 2, PNG_COLOR_TYPE_PALETTE, idx, 4, pal, 3);
    expect_pixels("2-bit palette PNG", path, 3, (const uint8_t[]){192, 255, 7, 255, 0, 0, 1, 64, 128, 192, 255, 7}, 4);
}

static void write_tiff_row(const char *path, int bits, int spp, const void *row, int n)
{
    TIFF *t = TIFFOpen(path, "w");
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, n);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, 1);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bits);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, spp);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, spp == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 1);
    TIFFWriteScanline(t, (void *)row, 0, 0);
    TIFFClose(t);
}

/* issue 10 item 2: TIFF 8-bit RGB and 16-bit grey/RGB; 32-bit refused by name. */
static void test_tiff_depths(void)
{
    char path[256];
    path_of(path, "d.tif");
    uint16_t g16[NV], c16[NV * 3];
    uint8_t c8[NV * 3], want3[NV * 3];
    for (int i = 0; i < NV; i++) {
        g16[i] = (uint16_t)v16[i];
        for (int k = 0; k < 3; k++) {
            c16[i * 3 + k] = (uint16_t)v16[(i + k) % NV];
            c8[i * 3 + k] = want3[i * 3 + k] = v16_as8[(i + k) % NV];
        }
    }
    write_tiff_row(path, 8, 3, c8, NV);
    expect_pixels("RGB 8-bit TIFF", path, 3, want3, NV);
    write_tiff_row(path, 16, 1, g16, NV);
    expect_pixels("grey 16-bit TIFF", path, 1, v16_as8, NV);
    write_tiff_row(path, 16, 3, c16, NV);
    expect_pixels("RGB 16-bit TIFF", path, 3, want3, NV);
    uint32_t g32[NV] = {0};
    write_tiff_row(path, 32, 1, g32, NV);
    vb_image img;
    vb_err e = {0};
    CHECK(vb_image_load(path, &img, &e) == -1 && strstr(e.msg, "unsupported TIFF") && strstr(e.msg, "32 bits") &&
          strstr(e.msg, path));
}

/* issue 10 item 2: PGM/PPM with maxval 65535 (two bytes per sample, big-endian) and an
 * ASCII maxval other than 255. */
static void test_pnm_maxval(void)
{
    char path[256];
    path_of(path, "deep.pgm");
    uint8_t d[64 + NV * 6];
    int hdr = snprintf((char *)d, 64, "P5\n%d 1\n65535\n", NV);
    for (int i = 0; i < NV; i++)
        d[hdr + 2 * i] = (uint8_t)(v16[i] >> 8), d[hdr + 2 * i + 1] = (uint8_t)v16[i];
    write_file(path, d, (size_t)hdr + NV * 2);
    expect_pixels("PGM maxval 65535", path, 1, v16_as8, NV);
    expect_truncations_refused("t16.pgm", d, (size_t)hdr + NV * 2, (size_t)hdr);
    path_of(path, "deep.ppm");
    hdr = snprintf((char *)d, 64, "P6\n%d 1\n65535\n", NV);
    uint8_t want3[NV * 3];
    for (int i = 0; i < NV * 3; i++) {
        unsigned v = v16[(i / 3 + i % 3) % NV];
        d[hdr + 2 * i] = (uint8_t)(v >> 8), d[hdr + 2 * i + 1] = (uint8_t)v;
        want3[i] = v16_as8[(i / 3 + i % 3) % NV];
    }
    write_file(path, d, (size_t)hdr + NV * 6);
    expect_pixels("PPM maxval 65535", path, 3, want3, NV);
    const char ascii[] = "P2\n3 1\n15\n0 1 15\n"; /* 1 * 255 / 15 = 17 */
    path_of(path, "a15.pgm");
    write_file(path, ascii, strlen(ascii));
    expect_pixels("ASCII PGM maxval 15", path, 1, (const uint8_t[]){0, 17, 255}, 3);
    const uint8_t above[] = "P5\n1 1\n1000\n\x03\xe9"; /* 1001 */
    path_of(path, "above.pgm");
    write_file(path, above, sizeof above - 1);
    vb_image img;
    vb_err e = {0};
    CHECK(vb_image_load(path, &img, &e) == -1 && strstr(e.msg, "above maxval"));
}

/* issue 10 item 10: a CMYK JPEG as Photoshop writes it (Adobe marker, inverted values)
 * decodes to RGB with R = C * K / 255, not "corrupt JPEG". */
static void test_jpeg_cmyk(void)
{
    enum { N = 8 };
    uint8_t cmyk[N * 4], want[N * 3];
    for (int i = 0; i < N; i++) {
        uint8_t k = (uint8_t)(i % 2 ? 255 : 128); /* inverted: 255 = no black ink */
        cmyk[i * 4 + 0] = (uint8_t)(i * 32), cmyk[i * 4 + 1] = 255, cmyk[i * 4 + 2] = 0, cmyk[i * 4 + 3] = k;
        want[i * 3 + 0] = (uint8_t)((i * 32 * k + 127) / 255), want[i * 3 + 1] = k, want[i * 3 + 2] = 0;
    }
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char *data = NULL;
    unsigned long n = 0;
    jpeg_mem_dest(&c, &data, &n);
    c.image_width = N, c.image_height = 1, c.input_components = 4, c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c); /* writes an Adobe marker for CMYK, as Photoshop does */
    jpeg_set_quality(&c, 100, TRUE);
    for (int k = 0; k < 4; k++) /* no chroma subsampling: keep pixels separate */
        c.comp_info[k].h_samp_factor = c.comp_info[k].v_samp_factor = 1;
    jpeg_start_compress(&c, TRUE);
    JSAMPROW row = cmyk;
    jpeg_write_scanlines(&c, &row, 1);
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    char path[256];
    path_of(path, "cmyk.jpg");
    write_file(path, data, n);
    free(data);
    vb_image img;
    vb_err e = {0};
    int rc = vb_image_load(path, &img, &e);
    CHECKF(rc == 0, "CMYK JPEG refused: %s", e.msg);
    if (rc)
        return;
    CHECK(img.w == N && img.h == 1 && img.c == 3);
    for (int i = 0; img.c == 3 && i < N * 3; i++) /* quality 100 JPEG: within a few levels */
        CHECKF(abs(img.px[i] - want[i]) <= 3, "CMYK sample %d = %d, want %d", i, img.px[i], want[i]);
    vb_image_free(&img);
}

static void test_real_fvc_tiff(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/fvc2002/DB1_B/101_1.tif", vb_test_data_dir());
    vb_image img;
    vb_err e = {0};
    int rc = vb_image_load(path, &img, &e);
    CHECKF(rc == 0, "%s", e.msg);
    CHECK(rc == 0 && img.w == 388 && img.h == 374 && img.c == 1);
    if (rc == 0)
        vb_image_free(&img);
}

static void test_garbage_and_empty(void)
{
    char path[256];
    vb_image img;
    vb_err e = {0};
    path_of(path, "empty.jpg");
    write_file(path, "", 0);
    CHECK(vb_image_load(path, &img, &e) == -1 && strstr(e.msg, "empty"));
    path_of(path, "text.png");
    write_file(path, "hello world", 11);
    CHECK(vb_image_load(path, &img, &e) == -1 && strstr(e.msg, "unknown image format"));
    CHECK(vb_image_load("/nonexistent/x.jpg", &img, &e) == -1 && strstr(e.msg, "/nonexistent/x.jpg") &&
          e.code == VB_EXIT_INPUT);
}

/* tf.image.resizeBilinear(alignCorners=false, halfPixelCenters=false), by hand: a 2x2
 * image [[0, 100], [200, 60]] to 4x4. src = dst * 0.5; x0 = floor, x1 = min(ceil, 1).
 * out(0,1): sx = .5 -> 0 + (100-0)*.5 = 50. out(1,1): sy = .5: top 50, bottom
 * 200 + (60-200)*.5 = 130 -> 90. Columns/rows 2,3 clamp to the last pixel. */
static void test_resize_by_hand(void)
{
    const uint8_t px[4] = {0, 100, 200, 60};
    float out[16];
    vb_resize_bilinear_tf(px, 2, 2, 1, 0, 0, 2, 2, out, 4, 4);
    const float want[16] = {0, 50, 100, 100, 100, 90, 80, 80, 200, 130, 60, 60, 200, 130, 60, 60};
    for (int i = 0; i < 16; i++)
        CHECKF(out[i] == want[i], "out[%d] = %g, want %g", i, out[i], want[i]);
    /* Downscale 3 -> 2: src = dst * 1.5: out(0) = px0, out(1) = px1 + (px2-px1)*.5. */
    const uint8_t row[3] = {10, 20, 41};
    float o2[2];
    vb_resize_bilinear_tf(row, 3, 1, 1, 0, 0, 3, 1, o2, 2, 1);
    CHECK(o2[0] == 10 && o2[1] == 30.5f);
}

static void test_preprocess_crop_and_normalize(void)
{
    vb_graph g = {0};
    g.in_h = 2, g.in_w = 2, g.in_c = 3, g.in_scale = 0.5f;
    g.in_mean[0] = 1, g.in_mean[1] = 2, g.in_mean[2] = 3;
    uint8_t gray[16];
    for (int i = 0; i < 16; i++)
        gray[i] = (uint8_t)(i * 10);
    vb_image img = {4, 4, 1, gray};
    vb_crop crop = {1, 1, 1, 3, 3}; /* rows/cols 1..2: 50, 60 / 90, 100 */
    float out[12];
    vb_err e = {0};
    CHECK(vb_preprocess(&img, &crop, &g, "p.pgm", out, &e) == 0);
    CHECK(out[0] == (50 - 1) * 0.5f && out[1] == (50 - 2) * 0.5f && out[2] == (50 - 3) * 0.5f);
    CHECK(out[9] == (100 - 1) * 0.5f);
    vb_crop outside = {1, 2, 2, 5, 4};
    CHECK(vb_preprocess(&img, &outside, &g, "p.pgm", out, &e) == -1 && strstr(e.msg, "p.pgm") &&
          strstr(e.msg, "outside"));
    vb_crop c;
    CHECK(vb_crop_parse("70,70,180,180", &c, &e) == 0 && c.x0 == 70 && c.y1 == 180);
    CHECK(vb_crop_parse("70,70,180", &c, &e) == -1);
    CHECK(vb_crop_parse("70,70,60,180", &c, &e) == -1);
    CHECK(vb_crop_parse("a,b,c,d", &c, &e) == -1);
    CHECK(vb_crop_parse("1,2,3,4,", &c, &e) == -1);
}

int main(void)
{
    if (!mkdtemp(tmpdir))
        return 1;
    make_pattern();
    RUN(test_pnm);
    RUN(test_png);
    RUN(test_png_save);
    RUN(test_jpeg);
    RUN(test_tiff);
    RUN(test_png_grey_depths);
    RUN(test_png_colour_types);
    RUN(test_tiff_depths);
    RUN(test_pnm_maxval);
    RUN(test_jpeg_cmyk);
    RUN(test_real_fvc_tiff);
    RUN(test_garbage_and_empty);
    RUN(test_resize_by_hand);
    RUN(test_preprocess_crop_and_normalize);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return vb_test_finish();
}
