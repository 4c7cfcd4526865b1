/* veribench embed: face descriptors of image files as CSV on stdout. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/csv_write.h"
#include "cli/engine.h"
#include "core/progress.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: veribench embed [--model M] [--backend B] [--crop x0,y0,x1,y1] [options] IMAGE...\n\n"
            "Prints one CSV row per image on stdout: header image,d0,...,d<N-1>, values %%.9g.\n"
            "Images: JPEG, PNG, 8-bit grayscale/RGB TIFF, PGM/PPM (detected from content).\n"
            "Preprocessing: the crop box (end-exclusive pixels), else the whole image, is resized\n"
            "to the model's input (150x150) with TensorFlow's bilinear rule, then normalized.\n\n"
            "  --model FILE        GGUF model (default %s)\n"
            "  --backend B         cpu (default), cpu:ref, vulkan, vulkan:N\n"
            "  --crop x0,y0,x1,y1  crop box, columns x0..x1-1, rows y0..y1-1\n"
            "  --batch N           images per backend call (default: the backend's choice)\n"
            "  --threads N         CPU threads (default: all cores)\n"
            "  --no-fp16           Vulkan: use fp32 shader variants only\n"
            "  --keep-going        report unreadable images on stderr and go on (exit 1 at the end)\n"
            "  --save-pixels DIR   also write each decoded image as DIR/<n>.ppm (for oracle scripts)\n"
            "  -h, --help          this text\n\n"
            "Exit: 0 all embedded; 1 some images failed (--keep-going); 2 usage; 3 bad model or\n"
            "image; 4 backend/device failure; 5 write error.\n",
            vb_default_model_path());
}

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
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},   {"backend", required_argument, 0, 'b'},
        {"crop", required_argument, 0, 'c'},    {"batch", required_argument, 0, 'B'},
        {"threads", required_argument, 0, 't'}, {"no-fp16", no_argument, 0, 'F'},
        {"keep-going", no_argument, 0, 'k'},    {"save-pixels", required_argument, 0, 'S'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    vb_engine_opts eo = {0};
    vb_crop crop = {0};
    vb_err e = {0};
    int keep_going = 0, c;
    const char *save_dir = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': eo.model_path = optarg; break;
        case 'b': eo.backend = optarg; break;
        case 'c':
            if (vb_crop_parse(optarg, &crop, &e)) {
                fprintf(stderr, "veribench embed: %s\n", e.msg);
                return VB_EXIT_USAGE;
            }
            break;
        case 'B': eo.batch = atoi(optarg); if (eo.batch < 1 || eo.batch > 4096) goto bad_number; break;
        case 't': eo.threads = atoi(optarg); if (eo.threads < 1 || eo.threads > 256) goto bad_number; break;
        case 'F': eo.no_fp16 = 1; break;
        case 'k': keep_going = 1; break;
        case 'S': save_dir = optarg; break;
        case 'h': usage(stdout); return VB_EXIT_OK;
        default: usage(stderr); return VB_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "veribench embed: no images given\n\n");
        usage(stderr);
        return VB_EXIT_USAGE;
    }
    const int n = argc - optind;
    char **paths = argv + optind;
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
    int rc = vb_engine_embed_files(&en, (const char *const *)paths, (size_t)n, &crop, on_descriptor, &ctx, &e);
    vb_progress_end(&ctx.progress);
    vb_engine_close(&en);
    if (fflush(stdout) != 0 || ctx.write_error) {
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
bad_number:
    fprintf(stderr, "veribench embed: bad number '%s' for --%s\n", optarg, opts[c == 'B' ? 3 : 4].name);
    return VB_EXIT_USAGE;
}
