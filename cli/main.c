/* veribench: decides whether a biometric verification model may be promoted to release. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/common.h"

#ifndef VB_VERSION
#define VB_VERSION "0.1.0"
#endif

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"run", cmd_run, "evaluate a model on a dataset: scores, metrics, report, plots"},
    {"metrics", cmd_metrics, "compute verification metrics from an existing score file"},
    {"embed", cmd_embed, "print face descriptors of images as CSV"},
    {"check", cmd_check, "compare a backend against the CPU reference, layer by layer"},
    {"devices", cmd_devices, "list the CPU backend and every Vulkan device"},
    {"convert", cmd_convert, "convert face-api.js weights into GGUF model files"},
    {"quantize", cmd_quantize, "write a quantized copy of a GGUF model (fp16, int8, int4)"},
    {"bench", cmd_bench, "time a backend's inference (throughput, latency percentiles)"},
    {"bench-latency", cmd_bench_latency, "end-to-end verification latency and throughput under MLPerf LoadGen's rules"},
    {"gate", cmd_gate, "check a results folder against a gate spec: PASS/FAIL, JUnit XML"},
    {"merge", cmd_merge, "combine the shard folders of run --shard i/N into one results folder"},
    {"compare", cmd_compare, "merge results folders of several devices into one table and plot; flag accuracy differences"},
    {"history", cmd_history, "list and plot the benchmark history of bench and bench-latency runs"},
    {"report", cmd_report, "re-render report.md and report.html of a results folder (with a gate verdict)"},
    {"synth-fingerprints", cmd_synth_fingerprints, "write a synthetic fingerprint set (SFinGe-style) with its manifest"},
    {"enroll", cmd_enroll, "write the fingerprint templates (ISO/IEC 19794-2 records) of a dataset's prints"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: veribench <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < VB_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-18s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'veribench <command> --help' describes a command's options.\n"
               "Data folder: $VERIBENCH_DATA (holding lfw/ and fvc2002/).\n"
               "Exit status: 0 ok, 1 negative verdict or partial failure, 2 usage error,\n"
               "3 bad input, 4 device failure, 5 output/internal error.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return VB_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return VB_EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("veribench %s\n", VB_VERSION);
        return VB_EXIT_OK;
    }
    for (size_t i = 0; i < VB_ARRAY_LEN(commands); i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "veribench: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return VB_EXIT_USAGE;
}
