/* veribench embed: face descriptors of image files as CSV on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/files.h"
#include "core/csv_write.h"
#include "cli/engine.h"
#include "core/progress.h"

static void describe(FILE *f)
{
    fprintf(f, "Prints one CSV row per image on stdout: header image,d0,...,d<N-1>, values %%.9g.\n"
               "Images: JPEG, PNG, 8-bit grayscale/RGB TIFF, PGM/PPM (detected from content).\n"
               "Preprocessing (--preprocess): align (default) finds the face (--detector),\n"
               "its 68 landmarks, and warps it onto dlib's 150x150 chip template (padding 0.25);\n"
               "an image with no face is a failure (or, with --on-no-face fallback-crop:BOX, the\n"
               "landmarks are looked for in BOX). crop:BOX resizes a fixed box (end-exclusive\n"
               "pixels), crop the whole image, to the model's input with TensorFlow's bilinear rule.\n\n");
}

static const vb_command_help help = {
    "embed", "[--model M] [--backend B] [--preprocess align|crop:x0,y0,x1,y1] [options] IMAGE...", describe,
    "0 all embedded; 1 some images failed (--keep-going); 2 usage; 3 bad model or\n"
    "image; 4 backend/device failure; 5 write error."};

typedef struct embed_ctx {
    const char *const *paths;
    int dim;
    int keep_going;
    size_t failed;
    vb_err first_error;
    int write_error;
    vb_progress progress;
    size_t done;
} embed_ctx;

static int on_descriptor(void *arg, size_t index, const float *desc, const vb_err *why)
{
    embed_ctx *c = arg;
    vb_progress_update(&c->progress, ++c->done);
    if (!desc) {
        if (c->failed++ == 0)
            c->first_error = *why;
        fprintf(stderr, "veribench embed: %s\n", why->msg);
        return !c->keep_going;
    }
    vb_csv_field(stdout, c->paths[index]);
    for (int i = 0; i < c->dim; i++)
        printf(",%.9g", desc[i]);
    if (putchar('\n') == EOF) {
        c->write_error = 1;
        return 1;
    }
    return 0;
}

static int save_pixels(const char *dir, char **paths, int n)
{
    for (int i = 0; i < n; i++) {
        vb_image img;
        vb_err e = {0};
        char out[1100];
        snprintf(out, sizeof out, "%s/%d.ppm", dir, i);
        if (vb_image_load(paths[i], &img, &e) == 0) {
            if (img.c == 1) { /* the oracle wants RGB */
                uint8_t *rgb = malloc((size_t)img.w * img.h * 3);
                if (!rgb)
                    return -1;
                for (size_t p = 0; p < (size_t)img.w * img.h; p++)
                    rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = img.px[p];
                free(img.px);
                img.px = rgb;
                img.c = 3;
            }
            int rc = vb_image_save_pnm(&img, out, &e);
            vb_image_free(&img);
            if (rc) {
                fprintf(stderr, "veribench embed: %s\n", e.msg);
                return -1;
            }
        }
    }
    return 0;
}

int cmd_embed(int argc, char **argv)
{
    vb_engine_opts eo = {0};
    vb_err e = {0};
    int keep_going = 0;
    const char *save_dir = NULL;
    int max_pixels = 0;
    const vb_option opts[] = {
        VB_OPT_MODEL(&eo.model_path),
        VB_OPT_BACKEND(&eo.backend),
        VB_OPT_FACE_PREP(&eo.prep),
        VB_OPT_BATCH(&eo.batch),
        VB_OPT_THREADS(&eo.threads),
        VB_OPT_FP16(&eo.fp16),
        VB_OPT_VALIDATION(&eo.validation),
        VB_OPT_MAX_PIXELS(&max_pixels),
        VB_OPT_FLAG_ROW("keep-going", "report unreadable images on stderr and go on (exit 1 at the end)", &keep_going),
        VB_OPT_STRING_ROW("save-chips", "DIR", "align: also write each aligned 150x150 chip as DIR/<n>.png\n(n: the image's position, from 0), to see what the net saw", &eo.save_chips),
        VB_OPT_STRING_ROW("save-pixels", "DIR", "also write each decoded image as DIR/<n>.ppm (for oracle scripts)", &save_dir),
        VB_OPT_END_ROW};
    int first, prc = vb_options_parse(&help, opts, argc, argv, &first);
    if (prc != VB_OPTS_GO)
        return prc;
    vb_opt_apply_max_pixels(max_pixels);
    if (first >= argc)
        return vb_usage_error(&help, "no images given");
    const int n = argc - first;
    char **paths = argv + first;
    if (save_dir && save_pixels(save_dir, paths, n))
        return VB_EXIT_IO;
    vb_engine en;
    if (vb_engine_open(&en, &eo, &e)) {
        fprintf(stderr, "veribench embed: %s\n", e.msg);
        return e.code ? e.code : VB_EXIT_INPUT;
    }
    embed_ctx ctx = {.paths = (const char *const *)paths, .dim = en.graph.out_dim, .keep_going = keep_going};
    vb_progress_start(&ctx.progress, "embed", (size_t)n);
    printf("image");
    for (int i = 0; i < ctx.dim; i++)
        printf(",d%d", i);
    putchar('\n');
    int rc = vb_engine_embed_files(&en, (const char *const *)paths, (size_t)n, on_descriptor, &ctx, &e);
    vb_progress_end(&ctx.progress);
    vb_engine_close(&en);
    vb_err out_err = {0};
    if (vb_close_output(stdout, "stdout", &out_err) || ctx.write_error) {
        fprintf(stderr, "veribench embed: cannot write to stdout\n");
        return VB_EXIT_IO;
    }
    if (ctx.failed && !keep_going)
        return ctx.first_error.code ? ctx.first_error.code : VB_EXIT_INPUT;
    if (rc) {
        fprintf(stderr, "veribench embed: %s\n", e.msg);
        return e.code ? e.code : VB_EXIT_DEVICE;
    }
    if (ctx.failed) {
        fprintf(stderr, "veribench embed: %zu of %d images failed\n", ctx.failed, n);
        return VB_EXIT_FAIL;
    }
    return VB_EXIT_OK;
}
