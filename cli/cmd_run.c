/* veribench run: evaluate a model on a dataset (see cli/run.h for what it writes). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/run.h"
#include "cli/shard.h"
#include "datasets/registry.h"

static void describe(FILE *f)
{
    fprintf(f,
            "Embeds every sample once per (backend, quantization level), scores every trial,\n"
            "computes the metrics and writes into DIR: scores/<backend>-<device>-<quant>.vbs\n"
            "(binary: score, label, fold per trial; --scores-csv adds the .csv.gz export),\n"
            "metrics.csv (backend,device,quant,dataset,metric,value), latency.csv,\n"
            "provenance.csv, failures.csv, report.md and plots/. Results are saved as they are\n"
            "computed: the same command run again after a kill finishes the remaining work.\n"
            "Prints the report's path on stdout.\n\n"
            "Datasets (under $VERIBENCH_DATA):\n%s\n",
            vb_dataset_spec_help);
}

/* --shard i/N into cfg (the text is checked by vb_shard_parse). */
static int parse_shard(void *value, const char *text, vb_err *e)
{
    vb_run_config *cfg = value;
    return vb_shard_parse(text, &cfg->shard_index, &cfg->shard_count, e);
}

/* The options to save in shard.csv: all but --out, --shard and --restart (with their values),
 * so that veribench merge runs the same configuration into its own folder. */
static void keep_shard_args(const vb_option *opts, int argc, char **argv, vb_run_config *cfg)
{
    cfg->shard_args = argv + 1; /* kept in place: argv outlives the run */
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const vb_option *o = opts;
        while (o->name && !(argv[i][0] == '-' && argv[i][1] == '-' && !strcmp(argv[i] + 2, o->name)))
            o++;
        int takes_value = o->name && o->arg && i + 1 < argc;
        int drop = o->name && (!strcmp(o->name, "out") || !strcmp(o->name, "shard") || !strcmp(o->name, "restart"));
        if (!drop) {
            cfg->shard_args[n++] = argv[i];
            if (takes_value)
                cfg->shard_args[n++] = argv[i + 1];
        }
        i += takes_value;
    }
    cfg->n_shard_args = n;
}

static const vb_command_help help = {
    "run", "--dataset SPEC --out DIR [options]", describe,
    "0 done; 2 usage; 3 bad input (dataset, model); 4 device failure; 5 write error."};

int cmd_run(int argc, char **argv)
{
    return cmd_run_with(argc, argv, NULL);
}

int cmd_run_with(int argc, char **argv, const vb_merge_plan *plan)
{
    vb_run_config cfg;
    memset(&cfg, 0, sizeof cfg);
    vb_backend_list backends = {0};
    vb_quant_list quants = {0};
    int max_pixels = 0, replicates = 1000, seed = 1;
    cfg.confidence = 0.95;
    cfg.target_fmr = NAN;
    cfg.modality = -1;
    static const char *const modalities[] = {"face", "fingerprint", NULL};
    const vb_option opts[] = {
        VB_OPT_STRING_ROW("dataset", "SPEC", "the dataset, see above", &cfg.dataset),
        VB_OPT_STRING_ROW("trials", "FILE", "trials CSV a,b,label[,fold] (csv:, lfw-all, fvc2002-all)", &cfg.trials),
        VB_OPT_STRING_ROW("folds", "LIST", "keep these folds, e.g. 1,3-5", &cfg.folds),
        VB_OPT_CHOICE_ROW("modality", "M", "face or fingerprint: the samples of a csv: manifest without\na modality column (default face); picks the default model", &cfg.modality, modalities),
        VB_OPT_FACE_PREP(&cfg.prep),
        VB_OPT_BACKENDS(&backends),
        VB_OPT_QUANTS(&quants),
        VB_OPT_MODEL(&cfg.model_path),
        VB_OPT_BATCH(&cfg.batch),
        VB_OPT_THREADS(&cfg.threads),
        VB_OPT_FP16(&cfg.fp16),
        VB_OPT_VALIDATION(&cfg.validation),
        VB_OPT_MAX_PIXELS(&max_pixels),
        VB_OPT_STRING_ROW("out", "DIR", "results folder (created with its parents if missing)", &cfg.out_dir),
        VB_OPT_FLAG_ROW("restart", "discard saved templates and scores of these combinations", &cfg.restart),
        VB_OPT_FLAG_ROW("no-plots", "skip gnuplot", &cfg.no_plots),
        VB_OPT_QUIET(&cfg.quiet),
        VB_OPT_CONFIDENCE(&cfg.confidence),
        VB_OPT_INT_ROW("bootstrap", "N", "subject-bootstrap replicates for the *_boot_low/_high rows,\n0..100000 (default 1000; 0: none)", &replicates, 0, 100000),
        VB_OPT_INT_ROW("seed", "N", "the bootstrap's random seed, 0..2147483647 (default 1)", &seed, 0, 2147483647),
        VB_OPT_DOUBLE_ROW("target-fmr", "X", "calibrate: the threshold with FMR <= X on the calibration\nsplit, evaluated on the other trials (rows calibrated_*)", &cfg.target_fmr, 0, 1),
        VB_OPT_STRING_ROW("calibration-folds", "LIST", "with --target-fmr: the calibration folds, e.g. 1-5 (LFW:\nfolds 6-10 then evaluate)", &cfg.calibration_folds),
        VB_OPT_STRING_ROW("calibration-trials", "FILE", "with --target-fmr: calibration trials a,b,label over the\ndataset's samples (csv:, lfw-all, fvc2002-all); the dataset's\ntrials evaluate", &cfg.calibration_trials),
        VB_OPT_FLAG_ROW("scores-csv", "also export scores/<combo>.csv.gz (a,b,label,score,fold;\nslow for large runs: ~50 s for 87M trials on 2 cores)", &cfg.scores_csv),
        VB_OPT_INT_ROW("score-compression", "N", "zlib level of the binary score file, 0..9 (default 0:\nnone, the fastest to write; higher: smaller, slower)", &cfg.score_compression, 0, 9),
        VB_OPT_CALL_ROW("shard", "i/N", "embed only shard i of N (0-based) of the samples and save\ntheir templates; no scores or metrics: veribench merge\ncombines the N shard folders (cli/shard.h)", &cfg, parse_shard),
        VB_OPT_STRING_ROW("attributes", "FILE", "sample attributes CSV sample,<attr>[,<attr>...] for the\ndemographic differentials (LFW: its gender lists as sex\nby default)", &cfg.attributes),
        VB_OPT_END_ROW};
    int rc = vb_options_parse_all(&help, opts, argc, argv);
    if (rc != VB_OPTS_GO)
        return rc;
    if (cfg.shard_count)
        keep_shard_args(opts, argc, argv, &cfg);
    if (plan && (plan->trial_count || plan->n_score_dirs) && cfg.shard_count)
        return vb_usage_error(&help, "--shard is for the embed phase; merge runs the later phases");
    if (plan && plan->trial_count) { /* phase 2: a score shard saves the embed shards' options */
        cfg.trial_index = plan->trial_index, cfg.trial_count = plan->trial_count;
        cfg.embed_shards = plan->embed_shards;
        cfg.shard_args = plan->argv, cfg.n_shard_args = plan->argc;
    }
    if (plan && plan->n_score_dirs)
        cfg.score_dirs = (const char *const *)plan->score_dirs, cfg.n_score_dirs = plan->n_score_dirs;
    vb_opt_apply_max_pixels(max_pixels);
    if (!cfg.dataset || !cfg.out_dir)
        return vb_usage_error(&help, "--dataset and --out are required");
    if (isnan(cfg.target_fmr) != (!cfg.calibration_folds && !cfg.calibration_trials) ||
        (cfg.calibration_folds && cfg.calibration_trials))
        return vb_usage_error(&help, "--target-fmr takes one of --calibration-folds and --calibration-trials");
    cfg.bootstrap = (unsigned)replicates;
    cfg.seed = (uint64_t)seed;
    if (!backends.n)
        snprintf(backends.spec[backends.n++], sizeof backends.spec[0], "cpu");
    if (!quants.n)
        quants.level[quants.n++] = VB_QUANT_FP32;
    for (int i = 0; i < backends.n; i++)
        cfg.backends[cfg.n_backends++] = backends.spec[i];
    for (int i = 0; i < quants.n; i++)
        cfg.quants[cfg.n_quants++] = quants.level[i];
    return vb_run_main(&cfg);
}
