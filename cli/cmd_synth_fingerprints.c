/* veribench synth-fingerprints: write a synthetic fingerprint set (datasets/synth_fp.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/common.h"
#include "datasets/synth_fp.h"

static void describe(FILE *f)
{
    fprintf(f, "Generates SFinGe-style synthetic prints: per finger a master print (Sherlock-Monro\n"
               "orientation with cores and deltas of a random class, ridges grown by iterated\n"
               "Gabor filtering), then impressions with rotation, translation, elastic\n"
               "distortion, pressure, partial contact, noise and dry patches. Writes\n"
               "DIR/<finger>_<impression>.png (288x384, 8-bit grey, about 500 dpi) and\n"
               "DIR/manifest.csv (sample,subject,path,modality), ready for\n"
               "`veribench run --dataset csv:DIR/manifest.csv` (all pairs). The same seed gives\n"
               "the same files. About a second per finger.\n\n");
}

static const vb_command_help help = {
    "synth-fingerprints", "--out DIR [--subjects N] [--impressions K] [--seed S]", describe,
    "0 done; 2 usage; 5 cannot write."};

int cmd_synth_fingerprints(int argc, char **argv)
{
    const char *out = NULL;
    int subjects = 10, impressions = 8, seed = 1;
    const vb_option opts[] = {
        VB_OPT_STRING_ROW("out", "DIR", "output folder (created with its parents if missing)", &out),
        VB_OPT_INT_ROW("subjects", "N", "fingers, 1..10000 (default 10)", &subjects, 1, 10000),
        VB_OPT_INT_ROW("impressions", "K", "impressions per finger, 1..100 (default 8)", &impressions, 1, 100),
        VB_OPT_INT_ROW("seed", "S", "random seed, 0..2147483647 (default 1)", &seed, 0, 2147483647),
        VB_OPT_END_ROW};
    int rc = vb_options_parse_all(&help, opts, argc, argv);
    if (rc != VB_OPTS_GO)
        return rc;
    if (!out)
        return vb_usage_error(&help, "--out is required");
    vb_err e = {0};
    if (vb_synth_fp_write_set(out, subjects, impressions, (uint64_t)seed, isatty(2) ? stderr : NULL, &e)) {
        fprintf(stderr, "veribench synth-fingerprints: %s\n", e.msg);
        return e.code ? e.code : VB_EXIT_IO;
    }
    printf("%s/manifest.csv\n", out);
    return VB_EXIT_OK;
}
