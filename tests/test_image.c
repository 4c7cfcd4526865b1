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
    const char deep[] = "P5\n2 1\n65535\n\0\0\0\0";
    write_file(path, deep, sizeof deep - 1);
    CHECK(vb_image_load(path, &img, &e) == -1 && strstr(e.msg, "8-bit"));
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
    RUN(test_jpeg);
    RUN(test_tiff);
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
