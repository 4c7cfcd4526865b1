/* veribench run: evaluate a model on a dataset (see bench/run.h for what it writes). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/run.h"
#include "datasets/registry.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: veribench run --dataset SPEC --out DIR [options]\n\n"
            "Embeds every sample once per (backend, quantization level), scores every trial,\n"
            "computes the metrics and writes into DIR: scores/<backend>-<device>-<quant>.csv.gz,\n"
            "metrics.csv (backend,device,quant,dataset,metric,value), latency.csv,\n"
            "provenance.csv, failures.csv, report.md and plots/. Results are saved as they are\n"
            "computed: the same command run again after a kill finishes the remaining work.\n"
            "Prints the report's path on stdout.\n\n"
            "Datasets (under $VERIBENCH_DATA):\n%s\n"
            "Options:\n"
            "  --dataset SPEC        see above\n"
            "  --trials FILE         trials CSV a,b,label[,fold] (csv:, lfw-all, fvc2002-all)\n"
            "  --folds LIST          keep these folds, e.g. 1,3-5\n"
            "  --crop x0,y0,x1,y1    crop box before the resize (LFW: 70,70,180,180)\n"
            "  --backend LIST        cpu (default), cpu:ref, vulkan, vulkan:N; comma-separated or\n"
            "                        repeated for several\n"
            "  --quant LIST          fp32 (default), fp16, int8, int4; comma-separated\n"
            "  --model FILE          GGUF model (default %s)\n"
            "  --batch N             images per backend call\n"
            "  --threads N           CPU threads\n"
            "  --no-fp16             Vulkan: fp32 shader variants only\n"
            "  --out DIR             results folder (created if missing)\n"
            "  --restart             discard saved templates and scores of these combinations\n"
            "  --no-plots            skip gnuplot\n"
            "  --quiet               no progress or notes on stderr\n"
            "  -h, --help            this text\n\n"
            "Exit: 0 done; 2 usage; 3 bad input (dataset, model); 4 device failure; 5 write error.\n",
            vb_dataset_spec_help, vb_default_model_path());
}

static int add_list(const char *arg, int (*add)(vb_run_config *, const char *), vb_run_config *cfg)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", arg);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (add(cfg, tok))
            return -1;
    return 0;
}

static int add_backend(vb_run_config *cfg, const char *name)
{
    static char store[VB_RUN_MAX_BACKENDS][64];
    vb_backend_spec spec;
    vb_err e = {0};
    if (vb_backend_parse_spec(name, &spec, &e)) {
        fprintf(stderr, "veribench run: %s\n", e.msg);
        return -1;
    }
    for (int i = 0; i < cfg->n_backends; i++)
        if (!strcmp(cfg->backends[i], name))
            return 0;
    if (cfg->n_backends == VB_RUN_MAX_BACKENDS) {
        fprintf(stderr, "veribench run: at most %d backends\n", VB_RUN_MAX_BACKENDS);
        return -1;
    }
    snprintf(store[cfg->n_backends], sizeof store[0], "%s", name);
    cfg->backends[cfg->n_backends] = store[cfg->n_backends];
    cfg->n_backends++;
    return 0;
}

static int add_quant(vb_run_config *cfg, const char *name)
{
    vb_quant_level l;
    if (vb_quant_parse(name, &l)) {
        fprintf(stderr, "veribench run: unknown quantization level '%s' (fp32, fp16, int8, int4)\n", name);
        return -1;
    }
    for (int i = 0; i < cfg->n_quants; i++)
        if (cfg->quants[i] == l)
            return 0;
    cfg->quants[cfg->n_quants++] = l;
    return 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dataset", required_argument, 0, 'd'}, {"trials", required_argument, 0, 'T'},
        {"folds", required_argument, 0, 'f'},   {"crop", required_argument, 0, 'c'},
        {"backend", required_argument, 0, 'b'}, {"quant", required_argument, 0, 'q'},
        {"model", required_argument, 0, 'm'},   {"batch", required_argument, 0, 'B'},
        {"threads", required_argument, 0, 't'}, {"no-fp16", no_argument, 0, 'F'},
        {"out", required_argument, 0, 'o'},     {"restart", no_argument, 0, 'R'},
        {"no-plots", no_argument, 0, 'P'},      {"quiet", no_argument, 0, 'Q'},
        {"validation", no_argument, 0, 'V'},    {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    vb_run_config cfg;
    memset(&cfg, 0, sizeof cfg);
    vb_err e = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': cfg.dataset = optarg; break;
        case 'T': cfg.trials = optarg; break;
        case 'f': cfg.folds = optarg; break;
        case 'c':
            if (vb_crop_parse(optarg, &cfg.crop, &e)) {
                fprintf(stderr, "veribench run: %s\n", e.msg);
                return VB_EXIT_USAGE;
            }
            break;
        case 'b': if (add_list(optarg, add_backend, &cfg)) return VB_EXIT_USAGE; break;
        case 'q': if (add_list(optarg, add_quant, &cfg)) return VB_EXIT_USAGE; break;
        case 'm': cfg.model_path = optarg; break;
        case 'B':
            if (parse_int(optarg, 1, 4096, &cfg.batch)) {
                fprintf(stderr, "veribench run: bad --batch '%s' (1..4096)\n", optarg);
                return VB_EXIT_USAGE;
            }
            break;
        case 't':
            if (parse_int(optarg, 1, 256, &cfg.threads)) {
                fprintf(stderr, "veribench run: bad --threads '%s' (1..256)\n", optarg);
                return VB_EXIT_USAGE;
            }
            break;
        case 'F': cfg.no_fp16 = 1; break;
        case 'o': cfg.out_dir = optarg; break;
        case 'R': cfg.restart = 1; break;
        case 'P': cfg.no_plots = 1; break;
        case 'Q': cfg.quiet = 1; break;
        case 'V': cfg.validation = 1; break;
        case 'h': usage(stdout); return VB_EXIT_OK;
        default: usage(stderr); return VB_EXIT_USAGE;
        }
    }
    if (optind != argc || !cfg.dataset || !cfg.out_dir) {
        fprintf(stderr, "veribench run: %s\n\n", optind != argc ? "unexpected arguments" : "--dataset and --out are required");
        usage(stderr);
        return VB_EXIT_USAGE;
    }
    if (!cfg.n_backends)
        add_backend(&cfg, "cpu");
    if (!cfg.n_quants)
        add_quant(&cfg, "fp32");
    return vb_run_main(&cfg);
}
