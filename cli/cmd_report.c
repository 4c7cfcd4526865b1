/* veribench report: report.md and report.html of a results folder, re-rendered from the
 * folder's files alone (reports/results_load.h), optionally with a gate verdict first. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/common.h"
#include "core/files.h"
#include "datasets/dataset.h"
#include "reports/gate.h"
#include "reports/modal_report.h"
#include "reports/results.h"
#include "reports/results_load.h"
#include "reports/results_read.h"

static void describe(FILE *f)
{
    fprintf(f, "Writes DIR/report.md and DIR/report.html again from the results folder alone\n"
               "(metrics.csv, provenance.csv, failures.csv, gallery.csv, latency.csv, plots/,\n"
               "gallery/), so a folder copied or moved anywhere renders the same report. Not\n"
               "kept in a folder, so not shown: the resumed/embedded-now sample counts.\n"
               "The folder of a run over faces and prints (DIR/face, DIR/fingerprint) has each\n"
               "modality's reports rewritten, then DIR's combined ones.\n"
               "With --gate SPEC (the spec of veribench gate; --baseline DIR for its regression\n"
               "rules) the verdict, PASS or FAIL with every check, comes first in both reports.\n\n");
}

static const vb_command_help help = {
    "report", "--results DIR [--gate SPEC] [--baseline DIR]", describe,
    "0 reports written (and the gate passed); 1 the gate failed (reports still written);\n"
    "2 usage error or bad spec; 3 unreadable results or baseline folder; 5 cannot write."};

typedef struct report_opts {
    const char *results, *gate, *baseline;
} report_opts;

static int parse_args(int argc, char **argv, report_opts *o)
{
    memset(o, 0, sizeof *o);
    const vb_option opts[] = {
        VB_OPT_STRING_ROW("results", "DIR", "results folder of veribench run (required)", &o->results),
        VB_OPT_STRING_ROW("gate", "SPEC", "gate spec CSV: put its verdict first (see veribench gate)", &o->gate),
        VB_OPT_STRING_ROW("baseline", "DIR", "results folder the gate's regression rules compare against",
                          &o->baseline),
        VB_OPT_END_ROW};
    int rc = vb_options_parse_all(&help, opts, argc, argv);
    if (rc != VB_OPTS_GO)
        return rc;
    if (!o->results)
        return vb_usage_error(&help, "--results DIR is required");
    if (o->baseline && !o->gate)
        return vb_usage_error(&help, "--baseline needs --gate SPEC");
    return VB_OPTS_GO;
}

static int fail(vb_err *e)
{
    fprintf(stderr, "veribench report: %s\n", e->msg);
    return e->code ? e->code : VB_EXIT_IO;
}

/* One report file, written atomically: a failed write leaves the old one. */
static int write_one(const char *dir, const char *name, int (*writer)(FILE *, const vb_results *),
                     const vb_results *r, vb_err *e)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    vb_atomic a;
    if (vb_atomic_begin(&a, path, "w", e))
        return -1;
    if (writer(a.f, r)) {
        vb_atomic_abort(&a);
        return vb_fail(e, VB_EXIT_IO, "%s: write error", path);
    }
    return vb_atomic_commit(&a, e);
}

/* report.md and report.html of one folder; -1 with e set on failure. */
static int write_reports(const char *dir, const vb_results_folder *rf, const vb_gate_spec *spec,
                         const vb_gate_result *g, vb_err *e)
{
    vb_results_store st;
    vb_results r;
    if (vb_results_from_folder(rf, dir, &st, &r, e))
        return -1;
    r.gate_spec = spec, r.gate = g;
    int rc = write_one(dir, "report.md", vb_report_write_md, &r, e) ||
             write_one(dir, "report.html", vb_report_write_html, &r, e);
    vb_results_store_free(&st);
    return rc ? -1 : 0;
}

/* Both reports from the folder (and the verdict when gated). */
static int render(const report_opts *o, const vb_results_folder *rf, const vb_gate_spec *spec,
                  const vb_gate_result *g, vb_err *e)
{
    int rc = VB_EXIT_OK;
    if (write_reports(o->results, rf, spec, g, e))
        return fail(e);
    if (rc == VB_EXIT_OK && g) {
        printf("veribench report: gate %s (%zu checks, %zu failed)\n", g->failed ? "FAIL" : "PASS", g->n, g->failed);
        rc = g->failed ? VB_EXIT_FAIL : VB_EXIT_OK;
    }
    if (vb_close_output(stdout, "standard output", e) && rc <= VB_EXIT_FAIL)
        rc = fail(e);
    return rc;
}

/* With --gate: read the spec and the baseline, evaluate, render. */
static int gated(const report_opts *o, const vb_results_folder *rf, vb_err *e)
{
    vb_gate_spec spec;
    if (vb_gate_spec_read(o->gate, &spec, e))
        return fail(e);
    vb_results_folder base;
    if (o->baseline && vb_results_folder_read(o->baseline, &base, e)) {
        vb_gate_spec_free(&spec);
        return fail(e);
    }
    vb_gate_result g;
    int rc;
    if (vb_gate_evaluate(&spec, rf, o->baseline ? &base : NULL, &g, e))
        rc = fail(e);
    else {
        rc = render(o, rf, &spec, &g, e);
        vb_gate_result_free(&g);
    }
    if (o->baseline)
        vb_results_folder_free(&base);
    vb_gate_spec_free(&spec);
    return rc;
}

/* The folder of a run over faces and prints: each modality's folder, then the report above. */
static int render_modalities(const report_opts *o)
{
    vb_err e = {0};
    if (o->gate) {
        vb_fail(&e, VB_EXIT_USAGE, "%s holds one results folder per modality; gate each (--results %s/face, "
                "%s/fingerprint)", o->results, o->results, o->results);
        return fail(&e);
    }
    for (int m = 0; m < VB_MODALITY_COUNT; m++) {
        char dir[8192], metrics[8300];
        snprintf(dir, sizeof dir, "%s/%s", o->results, vb_modality_name(m));
        snprintf(metrics, sizeof metrics, "%s/metrics.csv", dir);
        vb_results_folder rf;
        if (access(metrics, F_OK) != 0)
            continue;
        if (vb_results_folder_read(dir, &rf, &e))
            return fail(&e);
        int rc = write_reports(dir, &rf, NULL, NULL, &e);
        vb_results_folder_free(&rf);
        if (rc)
            return fail(&e);
    }
    if (vb_modal_report_write(o->results, NULL, &e) || vb_close_output(stdout, "standard output", &e))
        return fail(&e);
    return VB_EXIT_OK;
}

int cmd_report(int argc, char **argv)
{
    report_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc != VB_OPTS_GO)
        return rc;
    if (vb_modal_folder(o.results))
        return render_modalities(&o);
    vb_err e = {0};
    vb_results_folder rf;
    if (vb_results_folder_read(o.results, &rf, &e))
        return fail(&e);
    rc = o.gate ? gated(&o, &rf, &e) : render(&o, &rf, NULL, NULL, &e);
    vb_results_folder_free(&rf);
    return rc;
}
