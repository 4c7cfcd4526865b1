/* veribench convert: import published weights into GGUF model files. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/files.h"
#include "core/common.h"
#include "models/convert_faceapi.h"
#include "models/fingerprint.h"

static void describe(FILE *f)
{
    fprintf(f, "Converts the face-api.js nets in MODEL_DIR (the npm package's model/ folder:\n"
               "<net>-weights_manifest.json + <net>.bin) into GGUF v3 files in OUT_DIR, F32\n"
               "tensors decoded from the manifest's uint8 quantization: face_recognition.gguf\n"
               "(the 128-D descriptor), tiny_face_detector.gguf (face boxes, input 416) and\n"
               "face_landmark_68.gguf (68 landmarks, input 112). Prints each file written.\n"
               "--from fingerprint (no --in) writes OUT_DIR/" VB_FP_ARCH ".gguf: the fingerprint\n"
               "matcher's parameters (segmentation, orientation, Gabor, minutiae, MCC; see\n"
               "models/fingerprint.h) at their defaults.\n\n");
}

static const char *const sources[] = {"faceapi", "fingerprint", NULL};
static const vb_command_help help = {"convert", "--from faceapi --in MODEL_DIR --out OUT_DIR | --from fingerprint --out OUT_DIR",
                                     describe, NULL};

static int write_fingerprint_model(const char *out, vb_err *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.gguf", out, VB_FP_ARCH);
    if (vb_fp_model_write(path, e))
        return -1;
    printf("%s\n", path);
    return 0;
}

int cmd_convert(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    int from = -1;
    const vb_option opts[] = {
        VB_OPT_CHOICE_ROW("from", "FORMAT", "source: faceapi, or fingerprint (the matcher's parameters)", &from, sources),
        VB_OPT_STRING_ROW("in", "DIR", "folder with the manifests and .bin files", &in),
        VB_OPT_STRING_ROW("out", "DIR", "output folder (created with its parents if missing)", &out),
        VB_OPT_END_ROW};
    int prc = vb_options_parse_all(&help, opts, argc, argv);
    if (prc != VB_OPTS_GO)
        return prc;
    if (from < 0 || !out || (from == 0) != (in != NULL))
        return vb_usage_error(&help, "--from and --out are required, --in with faceapi only");
    vb_err e = {0};
    if (vb_mkdirs(out, &e) || (from == 0 ? vb_convert_faceapi(in, out, stdout, &e) : write_fingerprint_model(out, &e))) {
        fprintf(stderr, "veribench convert: %s\n", e.msg);
        return e.code ? e.code : VB_EXIT_INPUT;
    }
    if (vb_close_output(stdout, "stdout", &e)) {
        fprintf(stderr, "veribench convert: %s\n", e.msg);
        return VB_EXIT_IO;
    }
    return VB_EXIT_OK;
}
