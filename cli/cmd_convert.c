/* veribench convert: import published weights into GGUF model files. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/common.h"
#include "models/convert_faceapi.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: veribench convert --from faceapi --in MODEL_DIR --out OUT_DIR\n\n"
            "Converts the face-api.js nets in MODEL_DIR (the npm package's model/ folder:\n"
            "<net>-weights_manifest.json + <net>.bin) into OUT_DIR/<net>.gguf (GGUF v3, F32\n"
            "tensors decoded from the manifest's uint8 quantization). Prints each file written.\n\n"
            "  --from faceapi   source format (the only one so far)\n"
            "  --in DIR         folder with the manifests and .bin files\n"
            "  --out DIR        output folder (created if missing)\n"
            "  -h, --help       this text\n");
}

int cmd_convert(int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, 0, 'f'}, {"in", required_argument, 0, 'i'},
        {"out", required_argument, 0, 'o'},  {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *from = NULL, *in = NULL, *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': from = optarg; break;
        case 'i': in = optarg; break;
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return VB_EXIT_OK;
        default: usage(stderr); return VB_EXIT_USAGE;
        }
    }
    if (!from || !in || !out || optind != argc) {
        usage(stderr);
        return VB_EXIT_USAGE;
    }
    if (strcmp(from, "faceapi")) {
        fprintf(stderr, "veribench convert: unknown source format '%s' (expected faceapi)\n", from);
        return VB_EXIT_USAGE;
    }
    vb_err e = {0};
    if (vb_convert_faceapi(in, out, stdout, &e)) {
        fprintf(stderr, "veribench convert: %s\n", e.msg);
        return e.code ? e.code : VB_EXIT_INPUT;
    }
    return VB_EXIT_OK;
}
