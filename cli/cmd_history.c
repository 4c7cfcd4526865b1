/* veribench history DIR: the benchmark history (reports/history.h) as a table and a plot,
 * filtered to one device, metric, scenario..., so a device's numbers can be followed over
 * time, across drivers and veribench versions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/csv_write.h"
#include "core/files.h"
#include "reports/history.h"
#include "reports/plot.h"

static void describe(FILE *f)
{
    fprintf(f, "Lists DIR/history.csv, the append-only history every `veribench bench` and\n"
               "`veribench bench-latency` run adds its numbers to (with time, host, CPU, device,\n"
               "driver, quant, git commit, binary and model SHA-256 and the command line), in\n"
               "the order they were appended (time). Filters keep rows whose field equals the\n"
               "value exactly. --plot PREFIX draws value against time, one line per\n"
               "backend/device/quant/scenario/batch/metric (and host), as PREFIX.png and\n"
               "PREFIX.svg (gnuplot; skipped with a note when it is missing).\n\n"
               "Columns printed: time_utc,command,host,backend,device,device_name,driver,quant,\n"
               "dataset,scenario,batch,metric,value,verdict,git_commit\n\n");
}

static const vb_command_help help = {
    "history",
    "DIR [--metric M] [--backend B] [--device D] [--quant Q] [--scenario S] [--command C]\n"
    "       [--host H] [--format csv|md] [--plot PREFIX]",
    describe, "0 done; 2 usage error or no row matches the filters; 3 unreadable or malformed\n"
              "history; 5 cannot write output or the plot"};

static const int shown[] = {VB_H_TIME,     VB_H_COMMAND, VB_H_HOST,   VB_H_BACKEND,  VB_H_DEVICE,
                            VB_H_DEVICE_NAME, VB_H_DRIVER, VB_H_QUANT, VB_H_DATASET, VB_H_SCENARIO,
                            VB_H_BATCH,    VB_H_METRIC,  VB_H_VALUE,  VB_H_VERDICT,  VB_H_GIT_COMMIT};

typedef struct filter {
    int column;
    const char *value;
} filter;

static int keep(const vb_history_row *r, const filter *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (f[i].value && strcmp(r->field[f[i].column], f[i].value))
            return 0;
    return 1;
}

/* A markdown cell: pipes escaped, line breaks flattened. */
static void md_cell(const char *s)
{
    for (; *s; s++)
        fputs(*s == '|' ? "\\|" : *s == '\n' || *s == '\r' ? " " : (char[2]){*s, 0}, stdout);
}

static void print_row(const vb_history_row *r, int md)
{
    for (size_t k = 0; k < VB_ARRAY_LEN(shown); k++) {
        if (md) {
            fputs(k ? " | " : "| ", stdout);
            md_cell(r->field[shown[k]]);
        } else {
            if (k)
                putchar(',');
            vb_csv_field(stdout, r->field[shown[k]]);
        }
    }
    fputs(md ? " |\n" : "\n", stdout);
}

static int plot(const char *prefix, const vb_history *h, const unsigned char *sel, const char *metric, vb_err *e)
{
    vb_timeline_point *pts = vb_calloc(h->n ? h->n : 1, sizeof *pts, e);
    char (*labels)[512] = vb_calloc(h->n ? h->n : 1, sizeof *labels, e);
    int rc = -1;
    if (!pts || !labels)
        goto done;
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (!sel[i])
            continue;
        char *const *f = h->rows[i].field;
        snprintf(labels[n], sizeof labels[n], "%s/%s/%s %s%s%s %s (%s)", f[VB_H_BACKEND], f[VB_H_DEVICE],
                 f[VB_H_QUANT], f[VB_H_SCENARIO], f[VB_H_BATCH][0] ? " batch " : "", f[VB_H_BATCH], f[VB_H_METRIC],
                 f[VB_H_HOST]);
        pts[n] = (vb_timeline_point){labels[n], (double)h->rows[i].t, h->rows[i].value};
        n++;
    }
    rc = vb_plot_timeline(prefix, "Benchmark history", metric ? metric : "value", pts, n, e);
done:
    free(pts);
    free(labels);
    return rc;
}

int cmd_history(int argc, char **argv)
{
    filter f[] = {{VB_H_METRIC, NULL},   {VB_H_BACKEND, NULL}, {VB_H_DEVICE, NULL}, {VB_H_QUANT, NULL},
                  {VB_H_SCENARIO, NULL}, {VB_H_COMMAND, NULL}, {VB_H_HOST, NULL}};
    static const char *const formats[] = {"csv", "md", NULL};
    int format = 0;
    const char *plot_prefix = NULL;
    const vb_option opts[] = {
        VB_OPT_STRING_ROW("metric", "M", "only this metric (p99_ms, samples_per_s, faces_per_s, ...)", &f[0].value),
        VB_OPT_STRING_ROW("backend", "B", "only this backend (cpu, vulkan)", &f[1].value),
        VB_OPT_STRING_ROW("device", "D", "only this device (its slug: amd-epyc, llvmpipe-...)", &f[2].value),
        VB_OPT_STRING_ROW("quant", "Q", "only this level", &f[3].value),
        VB_OPT_STRING_ROW("scenario", "S", "only this scenario (single-stream, offline, bench)", &f[4].value),
        VB_OPT_STRING_ROW("command", "C", "only rows of this command (bench, bench-latency)", &f[5].value),
        VB_OPT_STRING_ROW("host", "H", "only this host", &f[6].value),
        VB_OPT_CHOICE_ROW("format", "F", "csv (default) or md (a markdown table)", &format, formats),
        VB_OPT_STRING_ROW("plot", "PREFIX", "also draw value over time as PREFIX.png and PREFIX.svg", &plot_prefix),
        VB_OPT_END_ROW};
    int first, prc = vb_options_parse(&help, opts, argc, argv, &first);
    if (prc != VB_OPTS_GO)
        return prc;
    if (argc - first != 1)
        return vb_usage_error(&help, "expected one history folder (got %d)", argc - first);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", argv[first], VB_HISTORY_FILE);
    vb_history h;
    vb_err e = {0};
    if (vb_history_read(path, &h, &e)) {
        fprintf(stderr, "veribench history: %s\n", e.msg);
        return e.code ? e.code : VB_EXIT_INPUT;
    }
    unsigned char *sel = vb_calloc(h.n ? h.n : 1, 1, &e);
    if (!sel) {
        vb_history_free(&h);
        fprintf(stderr, "veribench history: %s\n", e.msg);
        return VB_EXIT_IO;
    }
    size_t n_sel = 0;
    for (size_t i = 0; i < h.n; i++)
        n_sel += sel[i] = (unsigned char)keep(&h.rows[i], f, VB_ARRAY_LEN(f));
    int rc = VB_EXIT_OK;
    if (!n_sel) {
        fprintf(stderr, "veribench history: no row of %s matches the filters (%zu rows in all)\n", path, h.n);
        rc = VB_EXIT_USAGE;
        goto done;
    }
    if (format == 1) {
        printf("|");
        for (size_t k = 0; k < VB_ARRAY_LEN(shown); k++)
            printf(" %s |", vb_history_columns[shown[k]]);
        printf("\n|");
        for (size_t k = 0; k < VB_ARRAY_LEN(shown); k++)
            printf("%s|", shown[k] == VB_H_VALUE ? "---:" : "---");
        putchar('\n');
    } else {
        for (size_t k = 0; k < VB_ARRAY_LEN(shown); k++)
            printf("%s%s", k ? "," : "", vb_history_columns[shown[k]]);
        putchar('\n');
    }
    for (size_t i = 0; i < h.n; i++)
        if (sel[i])
            print_row(&h.rows[i], format == 1);
    if (plot_prefix) {
        int p = plot(plot_prefix, &h, sel, f[0].value, &e);
        if (p == VB_PLOT_SKIPPED)
            fprintf(stderr, "veribench history: gnuplot not found: plot skipped\n");
        else if (p < 0) {
            fprintf(stderr, "veribench history: %s\n", e.msg);
            rc = VB_EXIT_IO;
        }
    }
done:
    free(sel);
    vb_history_free(&h);
    if (vb_close_output(stdout, "stdout", &e) && rc == VB_EXIT_OK) {
        fprintf(stderr, "veribench history: %s\n", e.msg);
        rc = VB_EXIT_IO;
    }
    return rc;
}
