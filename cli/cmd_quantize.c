/* veribench quantize: write a quantized copy of a GGUF model. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/files.h"
#include "core/common.h"
#include "models/quantize.h"

static void describe(FILE *f)
{
    fprintf(f, "Writes a copy of the model whose conv and fc weights are stored as F32, F16, Q8_0\n"
               "(ggml: blocks of 32 along the reduction, fp16 scale) or Q4_0 (blocks of 32, fp16\n"
               "scale, element j in the low nibble and j+16 in the high nibble of byte j). Weights\n"
               "whose rows are not a multiple of 32 stay at fp16. Vectors stay F32. Prints which\n"
               "tensors got which type; the list is also recorded in the file's metadata\n"
               "(veribench.quantized_tensors). Every command loads the result directly.\n\n");
}

static const char *const level_names[] = {"fp32", "fp16", "int8", "int4", NULL};
static const vb_command_help help = {"quantize", "--in M.gguf --out OUT.gguf --level fp32|fp16|int8|int4", describe,
                                     NULL};

int cmd_quantize(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    int level = -1;
    const vb_option opts[] = {
        VB_OPT_STRING_ROW("in", "FILE", "the model to quantize (GGUF)", &in),
        VB_OPT_STRING_ROW("out", "FILE", "the new model; never the input, never a device or folder", &out),
        VB_OPT_CHOICE_ROW("level", "L", "fp32, fp16, int8 (Q8_0) or int4 (Q4_0)", &level, level_names),
        VB_OPT_END_ROW};
    int prc = vb_options_parse_all(&help, opts, argc, argv);
    if (prc != VB_OPTS_GO)
        return prc;
    if (!in || !out || level < 0)
        return vb_usage_error(&help, "--in, --out and --level are required");
    vb_quant_level l;
    if (vb_quant_parse(level_names[level], &l))
        return vb_usage_error(&help, "--level '%s': unknown level", level_names[level]);
    vb_err e = {0};
    if (vb_same_file(in, out))
        return vb_usage_error(&help, "--out %s is the input model itself: name another file", out);
    if (vb_check_replaceable(out, &e)) { /* before the work, not after it */
        fprintf(stderr, "veribench quantize: %s\n", e.msg);
        return e.code;
    }
    vb_model m;
    if (vb_model_load(in, &m, &e)) {
        fprintf(stderr, "veribench quantize: %s\n", e.msg);
        return e.code;
    }
    const vb_kv *q = vb_model_kv(&m, "veribench.quant");
    if (q && q->type == 8 && strcmp(q->str, "fp32"))
        fprintf(stderr, "veribench quantize: note: %s is already %s; requantizing compounds the error\n", in, q->str);
    vb_gguf_writer *w = vb_gguf_writer_new();
    int rc = !w || vb_quantize_to_writer(&m, l, w, stdout, &e) || vb_gguf_write(w, out, &e);
    vb_gguf_writer_free(w);
    vb_model_free(&m);
    if (rc) {
        fprintf(stderr, "veribench quantize: %s\n", e.code ? e.msg : "out of memory");
        return e.code ? e.code : VB_EXIT_IO;
    }
    if (vb_close_output(stdout, "stdout", &e)) {
        fprintf(stderr, "veribench quantize: %s\n", e.msg);
        return VB_EXIT_IO;
    }
    return VB_EXIT_OK;
}
