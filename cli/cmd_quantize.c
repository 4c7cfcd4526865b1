/* veribench quantize: write a quantized copy of a GGUF model. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/common.h"
#include "models/quantize.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: veribench quantize --in M.gguf --out OUT.gguf --level fp32|fp16|int8|int4\n\n"
            "Writes a copy of the model whose conv and fc weights are stored as F32, F16, Q8_0\n"
            "(ggml: blocks of 32 along the reduction, fp16 scale) or Q4_0 (blocks of 32, fp16\n"
            "scale, element j in the low nibble and j+16 in the high nibble of byte j). Weights\n"
            "whose rows are not a multiple of 32 stay at fp16. Vectors stay F32. Prints which\n"
            "tensors got which type; the list is also recorded in the file's metadata\n"
            "(veribench.quantized_tensors). Every command loads the result directly.\n");
}

int cmd_quantize(int argc, char **argv)
{
    static const struct option opts[] = {{"in", required_argument, 0, 'i'}, {"out", required_argument, 0, 'o'},
                                         {"level", required_argument, 0, 'l'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *in = NULL, *out = NULL, *level = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': in = optarg; break;
        case 'o': out = optarg; break;
        case 'l': level = optarg; break;
        case 'h': usage(stdout); return VB_EXIT_OK;
        default: usage(stderr); return VB_EXIT_USAGE;
        }
    }
    vb_quant_level l;
    if (!in || !out || !level || optind != argc) {
        usage(stderr);
        return VB_EXIT_USAGE;
    }
    if (vb_quant_parse(level, &l)) {
        fprintf(stderr, "veribench quantize: unknown level '%s' (fp32, fp16, int8, int4)\n", level);
        return VB_EXIT_USAGE;
    }
    vb_err e = {0};
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
    return VB_EXIT_OK;
}
