/* veribench compare DIR...: results folders from different machines, drivers and dates as
 * one table and one plot, with accuracy differences between devices flagged
 * (reports/compare.h). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/files.h"
#include "reports/compare.h"
#include "reports/plot.h"

static void describe(FILE *f)
{
    fprintf(f, "Merges results folders into one table: one row per (folder, backend, device, quant)\n"
               "with host, device name and driver, EER and FNMR@FMR=1e-3 (from a run's\n"
               "metrics.csv), single-stream p50/p99 and verdict, and throughput (offline\n"
               "samples/s from bench-latency.csv, else the run's backend faces/s; the\n"
               "throughput_source column says which). A folder may hold a run, a\n"
               "`bench-latency --out` result, or both.\n\n"
               "Accuracy is compared between rows of the same model (SHA-256), level and dataset\n"
               "protocol (fingerprint) on a different host, backend, device or driver, with\n"
               "veribench check's tolerance: no decision at the model's threshold may flip\n"
               "(--max-flips). Flips are counted trial by trial from the two score files when\n"
               "both folders keep them, else bounded from below by the counts at the threshold.\n"
               "A row beyond the tolerance gets a flag naming the other row: a finding (a driver\n"
               "or kernel bug), and exit 1.\n\n"
               "Prints the table as CSV (or markdown with --format md). --out DIR writes\n"
               "compare.csv, compare.md and compare.png/.svg (EER against throughput).\n\n");
}

static const vb_command_help help = {
    "compare", "DIR... [--out DIR] [--format csv|md] [--max-flips N]", describe,
    "0 no accuracy difference beyond the tolerance; 1 a difference was flagged; 2 usage;\n"
    "3 a folder without results or with a malformed file; 5 cannot write output"};

static int write_file(const char *dir, const char *name, int (*fn)(FILE *, const vb_comparison *),
                      const vb_comparison *c, vb_err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    vb_atomic a;
    if (vb_atomic_begin(&a, path, "w", e))
        return -1;
    if (fn(a.f, c)) {
        vb_atomic_abort(&a);
        return vb_fail(e, VB_EXIT_IO, "%s: write failed", path);
    }
    return vb_atomic_commit(&a, e);
}

int cmd_compare(int argc, char **argv)
{
    static const char *const formats[] = {"csv", "md", NULL};
    int format = 0, max_flips = 0;
    const char *out = NULL;
    const vb_option opts[] = {
        VB_OPT_STRING_ROW("out", "DIR", "write compare.csv, compare.md and compare.png/.svg into DIR", &out),
        VB_OPT_CHOICE_ROW("format", "F", "table on stdout: csv (default) or md", &format, formats),
        VB_OPT_INT_ROW("max-flips", "N", "decision flips tolerated between devices (default 0, as check)", &max_flips, 0,
                       2147483647),
        VB_OPT_END_ROW};
    int first, prc = vb_options_parse(&help, opts, argc, argv, &first);
    if (prc != VB_OPTS_GO)
        return prc;
    if (first >= argc)
        return vb_usage_error(&help, "no results folder given");
    vb_comparison c;
    memset(&c, 0, sizeof c);
    vb_err e = {0};
    int rc = VB_EXIT_OK;
    for (int i = first; i < argc && rc == VB_EXIT_OK; i++)
        if (vb_compare_add_folder(&c, argv[i], &e))
            rc = e.code ? e.code : VB_EXIT_INPUT;
    if (rc == VB_EXIT_OK && vb_compare_flag(&c, (size_t)max_flips, &e))
        rc = e.code ? e.code : VB_EXIT_INPUT;
    if (rc != VB_EXIT_OK) {
        fprintf(stderr, "veribench %s\n", e.msg);
        vb_comparison_free(&c);
        return rc;
    }
    (format ? vb_compare_write_md : vb_compare_write_csv)(stdout, &c);
    if (out) {
        char prefix[4096];
        snprintf(prefix, sizeof prefix, "%s/compare", out);
        int p;
        if (vb_mkdirs(out, &e) || write_file(out, "compare.csv", vb_compare_write_csv, &c, &e) ||
            write_file(out, "compare.md", vb_compare_write_md, &c, &e) ||
            (p = vb_compare_plot(prefix, &c, &e)) < 0) {
            fprintf(stderr, "veribench compare: %s\n", e.msg);
            rc = VB_EXIT_IO;
        } else if (p == VB_PLOT_SKIPPED)
            fprintf(stderr, "veribench compare: plot skipped (no gnuplot, or no row with both EER and throughput)\n");
    }
    if (vb_close_output(stdout, "stdout", &e) && rc == VB_EXIT_OK) {
        fprintf(stderr, "veribench compare: %s\n", e.msg);
        rc = VB_EXIT_IO;
    }
    if (rc == VB_EXIT_OK && c.n_flagged) {
        fprintf(stderr, "veribench compare: %zu row(s) differ in accuracy beyond the tolerance (see accuracy_flag)\n",
                c.n_flagged);
        rc = VB_EXIT_FAIL;
    }
    vb_comparison_free(&c);
    return rc;
}
