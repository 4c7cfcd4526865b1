/* Writes the fuzz targets' seed corpora into tests/fuzz/corpus/<target>/ (committed): one
 * small valid input per format and layout each parser accepts, so the fuzzers start from
 * inputs that reach deep into the code. Run `make fuzz-seeds` after a format gains a case;
 * files are rewritten only when their content changes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>
#include <sys/stat.h>
#include <tiffio.h>

#include "core/files.h"
#include "models/gguf.h"
#include "reports/score_bin.h"

static int failures;

static void put(const char *target, const char *name, const void *data, size_t n)
{
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", target);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    vb_err e = {0};
    if (vb_mkdirs(dir, &e) || vb_write_file_atomic(path, data, n, &e)) {
        fprintf(stderr, "make_seeds: %s\n", e.msg);
        failures++;
    }
}

static void put_text(const char *target, const char *name, const char *a, const char *b)
{
    size_t na = strlen(a), nb = b ? strlen(b) : 0;
    char *buf = malloc(na + nb + 1);
    memcpy(buf, a, na);
    if (b) {
        buf[na] = 0; /* the targets split their input at the first NUL */
        memcpy(buf + na + 1, b, nb);
    }
    put(target, name, buf, na + (b ? nb + 1 : 0));
    free(buf);
}

/* ---- images: 5x3 pixels, every container and depth the decoder accepts ---- */

enum { W = 5, H = 3 };

static void seed_png(const char *name, png_uint_32 format, int depth16)
{
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = W, pi.height = H, pi.format = format;
    unsigned char px[W * H * 4 * 2];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (unsigned char)(i * 37);
    (void)depth16;
    png_alloc_size_t n = 0;
    png_image_write_to_memory(&pi, NULL, &n, 0, px, 0, NULL);
    void *buf = malloc(n);
    if (png_image_write_to_memory(&pi, buf, &n, 0, px, 0, NULL))
        put("fuzz_image", name, buf, n);
    else
        failures++;
    free(buf);
}

static void seed_jpeg(const char *name, int components)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char *data = NULL;
    unsigned long n = 0;
    jpeg_mem_dest(&c, &data, &n);
    c.image_width = W, c.image_height = H, c.input_components = components;
    c.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_start_compress(&c, TRUE);
    unsigned char row[W * 3];
    for (int y = 0; y < H; y++) {
        for (int i = 0; i < W * components; i++)
            row[i] = (unsigned char)(y * 50 + i * 9);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    put("fuzz_image", name, data, n);
    free(data);
}

static void seed_tiff(const char *name, int samples)
{
    const char *tmp = "build/fuzz/seed.tif";
    TIFF *t = TIFFOpen(tmp, "w");
    if (!t) {
        failures++;
        return;
    }
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, W);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, H);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, samples);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, samples == 1 ? PHOTOMETRIC_MINISBLACK : PHOTOMETRIC_RGB);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, H);
    unsigned char row[W * 3];
    for (int y = 0; y < H; y++) {
        for (int i = 0; i < W * samples; i++)
            row[i] = (unsigned char)(y * 60 + i * 11);
        TIFFWriteScanline(t, row, (uint32_t)y, 0);
    }
    TIFFClose(t);
    uint8_t *data;
    size_t n;
    vb_err e = {0};
    if (vb_read_file(tmp, 1 << 20, &data, &n, &e) == 0) {
        put("fuzz_image", name, data, n);
        free(data);
    } else {
        failures++;
    }
    remove(tmp);
}

static void seed_images(void)
{
    seed_png("gray8.png", PNG_FORMAT_GRAY, 0);
    seed_png("rgb8.png", PNG_FORMAT_RGB, 0);
    seed_png("rgba8.png", PNG_FORMAT_RGBA, 0);
    seed_png("gray16.png", PNG_FORMAT_LINEAR_Y, 1);
    seed_jpeg("gray.jpg", 1);
    seed_jpeg("rgb.jpg", 3);
    seed_tiff("gray8.tif", 1);
    seed_tiff("rgb8.tif", 3);
    static const char p5[] = "P5\n5 3\n255\n\x00\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0\xc0\xd0\xe0";
    put("fuzz_image", "gray.pgm", p5, sizeof p5 - 1);
    static const char p2[] = "P2\n# comment\n2 2\n255\n0 50\n100 255\n";
    put("fuzz_image", "ascii.pgm", p2, sizeof p2 - 1);
    unsigned char p6[64] = "P6\n2 2\n255\n";
    size_t h = strlen((char *)p6);
    for (int i = 0; i < 12; i++)
        p6[h + i] = (unsigned char)(i * 20);
    put("fuzz_image", "rgb.ppm", p6, h + 12);
}

/* ---- GGUF: a face_recognition-shaped header with one tensor of each stored type ---- */

static void seed_gguf(void)
{
    vb_gguf_writer *w = vb_gguf_writer_new();
    vb_gguf_set_str(w, "general.architecture", "face_recognition");
    vb_gguf_set_u32(w, "veribench.input.height", 150);
    vb_gguf_set_f32(w, "veribench.threshold", 0.6f);
    static const float mean[3] = {122.782f, 117.001f, 104.298f};
    vb_gguf_set_f32_array(w, "veribench.input.mean", mean, 3);
    static const char *const names[] = {"a", "b"};
    vb_gguf_set_str_array(w, "veribench.quantized_tensors", names, 2);
    float f32[32];
    uint16_t f16[32];
    uint8_t q8[34] = {0}, q4[18] = {0};
    for (int i = 0; i < 32; i++)
        f32[i] = (float)i / 32, f16[i] = (uint16_t)(0x3c00 + i);
    int64_t ne[2] = {32, 1}, vec[1] = {4};
    vb_gguf_add_tensor(w, "conv/f32", VB_F32, 2, ne, f32, sizeof f32);
    vb_gguf_add_tensor(w, "conv/f16", VB_F16, 2, ne, f16, sizeof f16);
    vb_gguf_add_tensor(w, "conv/q8_0", VB_Q8_0, 2, ne, q8, sizeof q8);
    vb_gguf_add_tensor(w, "conv/q4_0", VB_Q4_0, 2, ne, q4, sizeof q4);
    vb_gguf_add_tensor(w, "bias", VB_F32, 1, vec, f32, 4 * sizeof(float));
    uint8_t *buf;
    size_t n;
    vb_err e = {0};
    if (vb_gguf_serialize(w, &buf, &n, &e) == 0) {
        put("fuzz_gguf", "types.gguf", buf, n);
        free(buf);
    } else {
        failures++;
    }
    vb_gguf_writer_free(w);
}

/* ---- text formats ---- */

static void seed_text(void)
{
    put_text("fuzz_dataset_csv", "manifest-only.csv", "sample,subject,path\na1,alice,a1.jpg\na2,alice,a2.jpg\nb1,bob,b1.jpg\n", NULL);
    put_text("fuzz_dataset_csv", "with-trials.csv",
             "sample,subject,path,modality\n\"a,1\",alice,a1.jpg,face\na2,alice,a2.jpg,face\nb1,bob,b1.jpg,face\n",
             "a,b,label,fold\n\"a,1\",a2,1,1\na2,b1,0,2\n");
    put_text("fuzz_dataset_csv", "crlf-bom.csv", "\xef\xbb\xbfsample,subject,path\r\nx,s,x.png\r\ny,t,y.png\r\n",
             "a,b,label\r\nx,y,0\r\n");
    put_text("fuzz_scores", "csv-folds.csv", "\x0c" "a,b,label,score,fold\nx,y,1,0.25,1\nx,z,0,0.75,1\ny,z,0,inf,2\nz,w,1,0.5,2\n", NULL);
    put_text("fuzz_scores", "bob4.txt", "\x01# claimed real sample score\nA A s1 0.9\nA B s2 0.1\nB B s3 0.8\nB A s4 -inf\n", NULL);
    put_text("fuzz_scores", "pyeer.txt", "\x02" "0.1\n0.2\n0.15\n", "0.8\n0.9\n\n0.7\n");
    put_text("fuzz_results", "two-combos.csv",
             "backend,device,quant,dataset,metric,value\ncpu,amd,fp32,lfw,eer,0.0533\ncpu,amd,fp32,lfw,eer_ci_high,0.06\n"
             "cpu,amd,fp32,lfw,auc,0.99\ncpu,amd,fp32,lfw,auc_ci_low,0.98\n"
             "vulkan,llvmpipe,int8,\"csv:/d/m,1.csv\",eer,nan\nvulkan,llvmpipe,int8,\"csv:/d/m,1.csv\",dprime,inf\n",
             "scope,key,value\nrun,dataset,lfw\ncpu-amd-fp32,device_name,\"AMD EPYC, 2 cores\"\n");
    put_text("fuzz_results", "crlf-reordered.csv",
             "\xef\xbb\xbfmetric,value,backend,device,quant,dataset\r\neer,-inf,cpu,a,fp16,lfw\r\neer,1e-3,cpu,a,fp32,lfw\r\n",
             "key,scope,value\r\nhost,run,\r\n");
    /* three files, NUL-separated: gallery.csv, latency.csv, failures.csv */
    static const char load_seed[] =
        "combo,kind,rank,score,a,b,path_a,path_b,chip_a,chip_b\n"
        "cpu-amd-fp32,genuine,1,1.25,\"a,1\",b,/d/a.jpg,/d/b.jpg,gallery/a.png,\n"
        "cpu-amd-int8,impostor,1,nan,a,c,,,gallery/c.png,gallery/d.png\n"
        "\0"
        "backend,device,quant,stage,images,total_ms,ms_per_image\r\n"
        "cpu,amd,fp32,embed_wall,5,170.5,34.1\r\ncpu,amd,fp32,layer:conv1,5,4.5,0.9\r\n"
        "\0"
        "sample,path,reason\nx_1,/x.jpg,no face\n";
    put("fuzz_results_load", "gallery-latency-failures.csv", load_seed, sizeof load_seed - 1);
    static const char attr_seed[] = "sample,sex,age_group\nAnn_0001,F,20-30\nBob_0001,M,\nZed_0001,M,40-50\n"
                                    "\0Bob_0001.jpg\r\nCid_0001.jpg\r\n\0Ann_0001.jpg\nAnn_0002.jpg\nCid_0001.jpg\n"
                                    "\0sex=F:genuine\nsex=F+M:fmr@threshold_ci_high\nsex:fmr_ratio@fmr=1e-3\n"
                                    "sex:samples_unlabelled\nsex=F:fnmr@calibrated_rule_of_30\n";
    put("fuzz_attributes", "side-file-lists-rows.txt", attr_seed, sizeof attr_seed - 1);
    put_text("fuzz_lfw", "view2.txt", "2\n2\nAlice\t2\nBob\t1\n1\nCarol\t2\n",
             "2 1\nAlice\t1\t2\nAlice\t1\tBob\t1\nCarol\t1\t2\nCarol\t2\tBob\t1\n");
    put_text("fuzz_faceapi", "one-tensor.json",
             "[{\"paths\":[\"face_recognition_model.bin\"],\"weights\":[{\"name\":\"fc\",\"shape\":[2,2],"
             "\"dtype\":\"float32\",\"quantization\":{\"dtype\":\"uint8\",\"scale\":0.5,\"min\":-1}}]}]",
             "\x01\x02\x03\x04");
}

/* A .vbs with folds, ties and an FTA trial, plain and zlib-compressed; and a shard.csv. */
static void seed_binary_scores(void)
{
    double score[6] = {0.25, 0.5, 0.5, INFINITY, 0.75, 0.3};
    uint8_t label[6] = {1, 0, 1, 0, 0, 1};
    uint16_t fold[6] = {1, 1, 2, 2, 0, 2};
    vb_scores s = {.score = score, .label = label, .fold = fold, .n = 6, .cap = 6, .is_distance = 1};
    vb_err e = {0};
    const char *dir = "tests/fuzz/corpus/fuzz_score_bin";
    char path[256];
    for (int level = 0; level <= 1; level++) {
        snprintf(path, sizeof path, "%s/%s.vbs", dir, level ? "zlib" : "plain");
        if (vb_mkdirs(dir, &e) || vb_score_bin_write(path, &s, level, "seed", 1, &e)) {
            fprintf(stderr, "make_seeds: %s\n", e.msg);
            failures++;
        }
    }
    put_text("fuzz_shard", "shard.csv", "key,value\nformat,veribench-shard-v1\nshard,0\nshards,1\nsamples,3\n"
             "samples_begin,0\nsamples_end,3\narg,--crop\narg,\"70,70,180,180\"\n", NULL);
}

int main(void)
{
    mkdir("build", 0777);
    mkdir("build/fuzz", 0777);
    seed_images();
    seed_gguf();
    seed_text();
    seed_binary_scores();
    if (failures)
        fprintf(stderr, "make_seeds: %d seeds could not be made\n", failures);
    return failures != 0;
}
