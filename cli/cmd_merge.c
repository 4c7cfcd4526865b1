/* veribench merge [--shard j/M] OUT DIR...: the shards of a `run --shard i/N` combined into one
 * results folder (cli/shard.h), then scored (phase 2: one trial range per score shard) or
 * measured and reported by `veribench run`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/shard.h"
#include "core/common.h"

static void describe(FILE *f)
{
    fprintf(f, "Combines the results folders of the shards of one veribench run into OUT.\n\n"
               "Given the N embed shards (run --shard i/N: each embedded its slice of the samples):\n"
               "their templates, their saved timings (added up) and, under OUT/shards/, each\n"
               "shard's provenance.csv and latency.csv; then runs veribench run with the shards'\n"
               "options into OUT, which embeds nothing and scores every trial.\n\n"
               "With --shard j/M (phase 2, one per machine): the same combined templates, then\n"
               "only the j-th of M ranges of the trials is scored, into OUT/scores/ (no metrics)\n"
               "and OUT/shard.csv: a score shard.\n\n"
               "Given the M score shards: OUT gets their templates and timings, and veribench run\n"
               "reads their score files in trial order instead of scoring.\n\n"
               "Either way OUT is a complete results folder whose metrics.csv equals the unsharded\n"
               "run's byte for byte, but for the measured timing rows (faces_per_s, ms_per_face),\n"
               "which here cover the shards' embedding together. Run it again after re-running a\n"
               "failed shard. Examples for Slurm and Kubernetes: examples/slurm/,\n"
               "examples/kubernetes/; the design: cli/shard.h.\n\n");
}

static int parse_shard(void *value, const char *text, vb_err *e)
{
    vb_merge_plan *plan = value;
    return vb_shard_parse(text, &plan->trial_index, &plan->trial_count, e);
}

static const vb_command_help help = {
    "merge", "[--shard j/M] OUT DIR... [--quiet]", describe,
    "0 done; 2 usage; 3 a shard folder is missing, incomplete or from another run (the\n"
    "message names it); otherwise as veribench run."};

int cmd_merge(int argc, char **argv)
{
    int quiet = 0, first = 0;
    vb_merge_plan plan;
    memset(&plan, 0, sizeof plan);
    const vb_option opts[] = {
        VB_OPT_QUIET(&quiet),
        VB_OPT_CALL_ROW("shard", "j/M", "phase 2: score only the j-th of M ranges of the trials\n(0-based) into OUT, a score shard for the final merge", &plan, parse_shard),
        VB_OPT_END_ROW};
    int rc = vb_options_parse(&help, opts, argc, argv, &first);
    if (rc != VB_OPTS_GO)
        return rc;
    if (argc - first < 2)
        return vb_usage_error(&help, "expected OUT and at least one shard folder");
    const char *out = argv[first];
    vb_err e = {0};
    if (vb_shard_merge(out, (const char *const *)argv + first + 1, argc - first - 1, &plan, &e)) {
        fprintf(stderr, "veribench merge: %s\n", e.msg);
        return e.code ? e.code : VB_EXIT_IO;
    }
    /* veribench run <the shards' options> --out OUT [--quiet] */
    char **v = calloc((size_t)plan.argc + 5, sizeof *v);
    if (!v) {
        vb_merge_plan_free(&plan);
        fprintf(stderr, "veribench merge: out of memory\n");
        return VB_EXIT_IO;
    }
    int n = 0;
    v[n++] = "run";
    for (int i = 0; i < plan.argc; i++)
        v[n++] = plan.argv[i];
    v[n++] = "--out";
    v[n++] = (char *)out;
    int has_quiet = 0;
    for (int i = 0; i < plan.argc; i++)
        has_quiet |= !strcmp(plan.argv[i], "--quiet");
    if (quiet && !has_quiet)
        v[n++] = "--quiet";
    if (!quiet)
        fprintf(stderr, "veribench merge: %d %s shard folders combined into %s; %s follow\n", argc - first - 1,
                plan.n_score_dirs ? "score" : "embed", out,
                plan.trial_count ? "scoring of this trial range" : plan.n_score_dirs ? "metrics" : "scoring and metrics");
    rc = cmd_run_with(n, v, &plan);
    free(v);
    vb_merge_plan_free(&plan);
    return rc;
}
