/* veribench gate: PASS/FAIL of a results folder against a spec of rules (reports/gate.h). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/common.h"
#include "core/files.h"
#include "reports/gate.h"
#include "reports/results_read.h"

static void describe(FILE *f)
{
    fprintf(f, "Checks the metrics of a results folder of veribench run (DIR/metrics.csv and\n"
               "DIR/provenance.csv) against the rules of a spec and prints one line per rule and\n"
               "combination (measured value, baseline, op, limit, PASS/FAIL) and a verdict.\n\n"
               "Spec: CSV with header metric,scope,op,limit[,bound]; lines starting with # are\n"
               "comments. scope: * or BACKEND/DEVICE/QUANT/DATASET, each part * or exact text.\n"
               "op: <=, >=, <, > against limit; max_increase, max_decrease against the same row\n"
               "of --baseline DIR, limit absolute (0.002) or relative to the baseline (5%%).\n"
               "bound: value (default), upper (row <metric>_ci_high), lower (<metric>_ci_low).\n"
               "A scope selecting nothing, an unknown or absent metric, a regression without\n"
               "baseline are errors, never passes; a NaN value fails. Examples: cli/gates/.\n\n");
}

static const vb_command_help help = {
    "gate", "--results DIR --spec FILE [--baseline DIR] [--junit FILE] [--format text|csv]", describe,
    "0 every check passed; 1 a check failed; 2 usage error or bad spec (the message names\n"
    "the spec line); 3 unreadable results or baseline folder; 5 cannot write the output."};

static const char *const formats[] = {"text", "csv", NULL};

typedef struct gate_opts {
    const char *results, *spec, *baseline, *junit;
    int format;
} gate_opts;

static int parse_args(int argc, char **argv, gate_opts *o)
{
    memset(o, 0, sizeof *o);
    const vb_option opts[] = {
        VB_OPT_STRING_ROW("results", "DIR", "results folder of veribench run (required)", &o->results),
        VB_OPT_STRING_ROW("spec", "FILE", "gate spec CSV (required; see above and cli/gates/)", &o->spec),
        VB_OPT_STRING_ROW("baseline", "DIR", "results folder the regression rules compare against", &o->baseline),
        VB_OPT_STRING_ROW("junit", "FILE", "also write the checks as JUnit XML", &o->junit),
        VB_OPT_CHOICE_ROW("format", "F", "text (default): aligned table; csv: one row per check", &o->format,
                          formats),
        VB_OPT_END_ROW};
    int rc = vb_options_parse_all(&help, opts, argc, argv);
    if (rc != VB_OPTS_GO)
        return rc;
    if (!o->results || !o->spec)
        return vb_usage_error(&help, "--results DIR and --spec FILE are required");
    return VB_OPTS_GO;
}

static int fail(vb_err *e)
{
    fprintf(stderr, "veribench gate: %s\n", e->msg);
    return e->code ? e->code : VB_EXIT_IO;
}

/* Checks and outputs, once everything is read. */
static int judge(const gate_opts *o, const vb_gate_spec *spec, const vb_results_folder *res,
                 const vb_results_folder *base, vb_err *e)
{
    vb_gate_result r;
    if (vb_gate_evaluate(spec, res, base, &r, e))
        return fail(e);
    int rc = r.failed ? VB_EXIT_FAIL : VB_EXIT_OK;
    vb_gate_write_table(stdout, spec, &r, o->format == 1);
    if (o->format == 1)
        fprintf(stderr, "veribench gate: %s (%zu checks, %zu failed)\n", r.failed ? "FAIL" : "PASS", r.n, r.failed);
    if (o->junit && vb_gate_write_junit(o->junit, spec, &r, e))
        rc = fail(e);
    vb_gate_result_free(&r);
    if (vb_close_output(stdout, "standard output", e) && rc <= VB_EXIT_FAIL)
        rc = fail(e);
    return rc;
}

int cmd_gate(int argc, char **argv)
{
    gate_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc != VB_OPTS_GO)
        return rc;
    vb_err e = {0};
    vb_gate_spec spec;
    vb_results_folder res, base;
    if (vb_gate_spec_read(o.spec, &spec, &e))
        return fail(&e);
    if (vb_results_folder_read(o.results, &res, &e)) {
        vb_gate_spec_free(&spec);
        return fail(&e);
    }
    if (o.baseline && vb_results_folder_read(o.baseline, &base, &e)) {
        vb_results_folder_free(&res);
        vb_gate_spec_free(&spec);
        return fail(&e);
    }
    rc = judge(&o, &spec, &res, o.baseline ? &base : NULL, &e);
    if (o.baseline)
        vb_results_folder_free(&base);
    vb_results_folder_free(&res);
    vb_gate_spec_free(&spec);
    return rc;
}
