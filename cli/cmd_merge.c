/* veribench merge OUT DIR...: the shards of a `run --shard i/N` combined into one results
 * folder (cli/shard.h), then scored, measured and reported by `veribench run`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/shard.h"
#include "core/common.h"

static void describe(FILE *f)
{
    fprintf(f, "Combines the results folders of the N shards of one veribench run --shard i/N\n"
               "(each embedded its slice of the samples) into OUT: their templates, their\n"
               "saved timings (added up) and, under OUT/shards/, each shard's provenance.csv\n"
               "and latency.csv. Then runs veribench run with the shards' options into OUT,\n"
               "which embeds nothing and scores every trial: OUT is a complete results folder\n"
               "whose metrics.csv equals the unsharded run's byte for byte, but for the\n"
               "measured timing rows (faces_per_s, ms_per_face), which here cover the shards'\n"
               "embedding together. Run it again after re-running a failed shard.\n"
               "Examples for Slurm and Kubernetes: examples/slurm/, examples/kubernetes/.\n\n");
}

static const vb_command_help help = {
    "merge", "OUT DIR... [--quiet]", describe,
    "0 done; 2 usage; 3 a shard folder is missing, incomplete or from another run (the\n"
    "message names it); otherwise as veribench run."};

int cmd_merge(int argc, char **argv)
{
    int quiet = 0, first = 0;
    const vb_option opts[] = {VB_OPT_QUIET(&quiet), VB_OPT_END_ROW};
    int rc = vb_options_parse(&help, opts, argc, argv, &first);
    if (rc != VB_OPTS_GO)
        return rc;
    if (argc - first < 2)
        return vb_usage_error(&help, "expected OUT and at least one shard folder");
    const char *out = argv[first];
    vb_err e = {0};
    int run_argc = 0;
    char **run_args = NULL;
    if (vb_shard_merge(out, (const char *const *)argv + first + 1, argc - first - 1, &run_argc, &run_args, &e)) {
        fprintf(stderr, "veribench merge: %s\n", e.msg);
        return e.code ? e.code : VB_EXIT_IO;
    }
    /* veribench run <the shards' options> --out OUT [--quiet] */
    char **v = calloc((size_t)run_argc + 5, sizeof *v);
    if (!v) {
        vb_shard_args_free(run_argc, run_args);
        fprintf(stderr, "veribench merge: out of memory\n");
        return VB_EXIT_IO;
    }
    int n = 0;
    v[n++] = "run";
    for (int i = 0; i < run_argc; i++)
        v[n++] = run_args[i];
    v[n++] = "--out";
    v[n++] = (char *)out;
    int has_quiet = 0;
    for (int i = 0; i < run_argc; i++)
        has_quiet |= !strcmp(run_args[i], "--quiet");
    if (quiet && !has_quiet)
        v[n++] = "--quiet";
    if (!quiet)
        fprintf(stderr, "veribench merge: %d shard folders combined into %s; scoring and metrics follow\n",
                argc - first - 1, out);
    rc = cmd_run(n, v);
    free(v);
    vb_shard_args_free(run_argc, run_args);
    return rc;
}
