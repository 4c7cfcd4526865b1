/* Release gates: see reports/gate.h. */
#include "reports/gate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv_read.h"
#include "core/files.h"
#include "core/parse.h"
#include "reports/demographics.h"
#include "reports/metrics.h"

const char *const vb_gate_op_text[] = {"<=", ">=", "<", ">", "max_increase", "max_decrease"};
const char *const vb_gate_bound_text[] = {"value", "upper", "lower"};

static int is_regression(vb_gate_op op)
{
    return op == VB_GATE_MAX_INCREASE || op == VB_GATE_MAX_DECREASE;
}

/* ------------------------------------------------------------------ spec parsing */

/* name is a table metric, or one with an interval suffix; 1 when known. */
static int known_metric(const char *name)
{
    vb_demog_name demog;
    if (vb_metric_find(name) || vb_demog_parse_name(name, &demog))
        return 1;
    char base[128];
    size_t n = strlen(name);
    static const char *const exact[] = {"_ci_low", "_ci_high"};
    for (size_t i = 0; i < VB_ARRAY_LEN(exact); i++) {
        size_t ls = strlen(exact[i]);
        if (n > ls && n - ls < sizeof base && !strcmp(name + n - ls, exact[i])) {
            memcpy(base, name, n - ls);
            base[n - ls] = 0;
            if (vb_metric_find(base))
                return 1;
        }
    }
    /* _wilson_<anything> and _boot_<anything>: the base is what precedes the last marker. */
    static const char *const open[] = {"_wilson_", "_boot_"};
    for (size_t i = 0; i < VB_ARRAY_LEN(open); i++) {
        const char *last = NULL;
        for (const char *p = strstr(name, open[i]); p; p = strstr(p + 1, open[i]))
            last = p;
        size_t nb = last ? (size_t)(last - name) : 0;
        if (last && last[strlen(open[i])] && nb < sizeof base) {
            memcpy(base, name, nb);
            base[nb] = 0;
            if (vb_metric_find(base))
                return 1;
        }
    }
    return 0;
}

static int parse_scope(const char *text, vb_gate_rule *r, const char *where, vb_err *e)
{
    if (!strcmp(text, "*")) {
        for (int k = 0; k < 4; k++)
            strcpy(r->scope[k], "*");
        return 0;
    }
    const char *p = text;
    for (int k = 0; k < 4; k++) {
        const char *end = k < 3 ? strchr(p, '/') : p + strlen(p);
        size_t n = end ? (size_t)(end - p) : 0;
        if (!end || n == 0 || n >= sizeof r->scope[k])
            return vb_fail(e, VB_EXIT_USAGE,
                           "%s: scope '%s' is neither '*' nor BACKEND/DEVICE/QUANT/DATASET with every part "
                           "given ('*' for any)",
                           where, text);
        memcpy(r->scope[k], p, n);
        r->scope[k][n] = 0;
        p = end + 1;
    }
    return 0;
}

static int parse_op(const char *text, vb_gate_rule *r, const char *where, vb_err *e)
{
    for (size_t i = 0; i < VB_ARRAY_LEN(vb_gate_op_text); i++)
        if (!strcmp(text, vb_gate_op_text[i])) {
            r->op = (vb_gate_op)i;
            return 0;
        }
    return vb_fail(e, VB_EXIT_USAGE, "%s: unknown op '%s' (<=, >=, <, >, max_increase, max_decrease)", where,
                   text);
}

static int parse_bound(const char *text, vb_gate_rule *r, const char *where, vb_err *e)
{
    r->bound = VB_GATE_VALUE;
    if (!text[0])
        return 0;
    for (size_t i = 0; i < VB_ARRAY_LEN(vb_gate_bound_text); i++)
        if (!strcmp(text, vb_gate_bound_text[i])) {
            r->bound = (vb_gate_bound)i;
            return 0;
        }
    return vb_fail(e, VB_EXIT_USAGE, "%s: unknown bound '%s' (value, upper or lower)", where, text);
}

/* A finite number; with a regression op also N% (relative to |baseline|). */
static int parse_limit(const char *text, vb_gate_rule *r, const char *where, vb_err *e)
{
    size_t n = strlen(text);
    if (n >= sizeof r->limit_text)
        return vb_fail(e, VB_EXIT_USAGE, "%s: limit too long", where);
    strcpy(r->limit_text, text);
    r->relative = n > 1 && text[n - 1] == '%';
    if (r->relative && !is_regression(r->op))
        return vb_fail(e, VB_EXIT_USAGE, "%s: a percentage limit ('%s') is only for max_increase/max_decrease",
                       where, text);
    char number[64];
    memcpy(number, text, n - (size_t)r->relative);
    number[n - (size_t)r->relative] = 0;
    if (vb_parse_real(number, 0, &r->limit))
        return vb_fail(e, VB_EXIT_USAGE, "%s: limit '%s' is not a finite number%s", where, text,
                       is_regression(r->op) ? " or percentage" : "");
    if (r->relative)
        r->limit /= 100;
    return 0;
}

/* The metric, and the row a bound reads. */
static int parse_metric(const char *text, vb_gate_rule *r, const char *where, vb_err *e)
{
    if (strlen(text) >= sizeof r->metric || !known_metric(text))
        return vb_fail(e, VB_EXIT_USAGE,
                       "%s: unknown metric '%s' (a metrics.csv name of reports/metrics.h, optionally with "
                       "_ci_low, _ci_high, _wilson_*, _boot_*, or a demographic row of reports/demographics.h "
                       "such as sex:fmr_ratio@fmr=1e-3)",
                       where, text);
    strcpy(r->metric, text);
    if (r->bound == VB_GATE_VALUE) {
        strcpy(r->row, text);
        return 0;
    }
    vb_demog_name demog;
    if (!vb_metric_find(text) && !(vb_demog_parse_name(text, &demog) && demog.has_interval))
        return vb_fail(e, VB_EXIT_USAGE, "%s: bound %s takes a metric without interval suffix, not '%s'", where,
                       vb_gate_bound_text[r->bound], text);
    snprintf(r->row, sizeof r->row, "%s%s", text, r->bound == VB_GATE_UPPER ? "_ci_high" : "_ci_low");
    return 0;
}

enum { S_METRIC, S_SCOPE, S_OP, S_LIMIT, S_BOUND, S_COLUMNS };
static const char *const spec_columns[S_COLUMNS] = {"metric", "scope", "op", "limit", "bound"};

typedef struct spec_ctx {
    vb_gate_spec *spec;
    size_t cap, n_columns;
    int have_header, col[S_COLUMNS];
} spec_ctx;

static int spec_header(spec_ctx *ctx, const vb_csv_row *row, vb_err *e)
{
    if (vb_csv_header(row, spec_columns, S_COLUMNS, S_BOUND, ctx->col, e))
        return -1;
    ctx->have_header = 1;
    ctx->n_columns = row->n;
    return 0;
}

static int spec_rule(spec_ctx *ctx, const vb_csv_row *row, vb_gate_rule *r, vb_err *e)
{
    char where[4200];
    snprintf(where, sizeof where, "%s:%ld", row->file, row->line);
    /* bound, when it is the last column, may be left off a record ("eer,*,<=,0.06") */
    int bound_last = ctx->col[S_BOUND] == (int)ctx->n_columns - 1;
    if (row->n != ctx->n_columns && !(bound_last && row->n + 1 == ctx->n_columns))
        return vb_fail(e, VB_EXIT_USAGE, "%s: %zu fields, the header has %zu", where, row->n, ctx->n_columns);
    const char *f[S_COLUMNS];
    for (int k = 0; k < S_COLUMNS; k++)
        f[k] = ctx->col[k] >= 0 && (size_t)ctx->col[k] < row->n ? row->f[ctx->col[k]] : "";
    memset(r, 0, sizeof *r);
    r->line = row->line;
    return parse_bound(f[S_BOUND], r, where, e) || parse_metric(f[S_METRIC], r, where, e) ||
                   parse_scope(f[S_SCOPE], r, where, e) || parse_op(f[S_OP], r, where, e) ||
                   parse_limit(f[S_LIMIT], r, where, e)
               ? -1
               : 0;
}

static int spec_row(void *ctx_, const vb_csv_row *row, vb_err *e)
{
    spec_ctx *ctx = ctx_;
    if (row->n >= 1 && row->f[0][0] == '#')
        return 0;
    if (!ctx->have_header)
        return spec_header(ctx, row, e);
    vb_gate_spec *s = ctx->spec;
    if (s->n == ctx->cap) {
        size_t cap = ctx->cap ? ctx->cap * 2 : 16;
        vb_gate_rule *p = realloc(s->rules, cap * sizeof *p);
        if (!p)
            return vb_fail(e, VB_EXIT_IO, "out of memory reading %s", row->file);
        s->rules = p;
        ctx->cap = cap;
    }
    if (spec_rule(ctx, row, &s->rules[s->n], e))
        return -1;
    s->n++;
    return 0;
}

int vb_gate_spec_read(const char *path, vb_gate_spec *spec, vb_err *e)
{
    memset(spec, 0, sizeof *spec);
    snprintf(spec->path, sizeof spec->path, "%s", path);
    spec_ctx ctx = {spec, 0, 0, 0, {0}};
    int rc = vb_csv_read(path, spec_row, &ctx, e);
    if (rc == 0 && spec->n == 0)
        rc = vb_fail(e, VB_EXIT_USAGE, "%s: no rules (header metric,scope,op,limit[,bound], then one rule a line)",
                     path);
    if (rc) {
        /* The spec is part of the command: a bad one is a usage error, not bad data. */
        if (e->code == VB_EXIT_INPUT)
            e->code = VB_EXIT_USAGE;
        vb_gate_spec_free(spec);
    }
    return rc;
}

void vb_gate_spec_free(vb_gate_spec *spec)
{
    free(spec->rules);
    spec->rules = NULL;
    spec->n = 0;
}

/* ------------------------------------------------------------------- evaluation */

static int scope_selects(const vb_gate_rule *r, const vb_rf_combo *c)
{
    const char *key[4] = {c->backend, c->device, c->quant, c->dataset};
    for (int k = 0; k < 4; k++)
        if (strcmp(r->scope[k], "*") && strcmp(r->scope[k], key[k]))
            return 0;
    return 1;
}

static void scope_text(const vb_gate_rule *r, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s/%s/%s", r->scope[0], r->scope[1], r->scope[2], r->scope[3]);
}

/* Sets pass and note from the numbers. */
static void judge(vb_gate_check *c)
{
    const vb_gate_rule *r = c->rule;
    double v = c->value, b = c->baseline, lim = r->limit;
    c->pass = 0;
    if (isnan(v)) {
        snprintf(c->note, sizeof c->note, "value is NaN");
        return;
    }
    if (!is_regression(r->op)) {
        c->pass = r->op == VB_GATE_LE ? v <= lim : r->op == VB_GATE_GE ? v >= lim : r->op == VB_GATE_LT ? v < lim : v > lim;
        return;
    }
    if (isnan(b)) {
        snprintf(c->note, sizeof c->note, "baseline is NaN");
        return;
    }
    double change = r->op == VB_GATE_MAX_INCREASE ? v - b : b - v;
    if (isnan(change)) {
        snprintf(c->note, sizeof c->note, "change is NaN (both infinite)");
        return;
    }
    if (r->relative)
        lim *= fabs(b);
    c->pass = change <= lim;
    char ct[32], lt[32];
    vb_format_double(change, ct);
    vb_format_double(lim, lt);
    snprintf(c->note, sizeof c->note, "%s %s, allowed %s", r->op == VB_GATE_MAX_INCREASE ? "increase" : "decrease", ct,
             lt);
}

static int check_one(const vb_gate_spec *s, const vb_gate_rule *r, const vb_rf_combo *c, const vb_results_folder *res,
                     const vb_results_folder *base, vb_gate_check *out, vb_err *e)
{
    char label[1200];
    vb_rf_combo_label(c, label, sizeof label);
    memset(out, 0, sizeof *out);
    out->rule = r;
    out->combo = c;
    out->baseline = NAN;
    if (!vb_rf_value(c, r->row, &out->value))
        return vb_fail(e, VB_EXIT_USAGE, "%s:%ld: %s has no row %s in %s/metrics.csv%s", s->path, r->line, label,
                       r->row, res->dir,
                       r->bound != VB_GATE_VALUE ? " (bound upper/lower reads the interval rows _ci_high/_ci_low)"
                                                 : "");
    if (is_regression(r->op)) {
        if (!base)
            return vb_fail(e, VB_EXIT_USAGE, "%s:%ld: %s is a regression rule and needs --baseline DIR", s->path,
                           r->line, vb_gate_op_text[r->op]);
        const vb_rf_combo *bc = vb_rf_find_combo(base, c->backend, c->device, c->quant, c->dataset);
        if (!bc)
            return vb_fail(e, VB_EXIT_USAGE, "%s:%ld: the baseline %s has no combination %s", s->path, r->line,
                           base->dir, label);
        if (!vb_rf_value(bc, r->row, &out->baseline))
            return vb_fail(e, VB_EXIT_USAGE, "%s:%ld: the baseline %s has no row %s for %s", s->path, r->line,
                           base->dir, r->row, label);
    }
    judge(out);
    return 0;
}

int vb_gate_evaluate(const vb_gate_spec *spec, const vb_results_folder *results, const vb_results_folder *baseline,
                     vb_gate_result *out, vb_err *e)
{
    memset(out, 0, sizeof *out);
    size_t cap;
    if (vb_mul_size(spec->n, results->n_combos, &cap))
        return vb_fail(e, VB_EXIT_IO, "gate: too many checks");
    if (!(out->checks = vb_calloc(cap ? cap : 1, sizeof *out->checks, e)))
        return -1;
    for (size_t i = 0; i < spec->n; i++) {
        const vb_gate_rule *r = &spec->rules[i];
        size_t matched = 0;
        for (size_t j = 0; j < results->n_combos; j++) {
            if (!scope_selects(r, &results->combos[j]))
                continue;
            matched++;
            vb_gate_check *c = &out->checks[out->n];
            if (check_one(spec, r, &results->combos[j], results, baseline, c, e)) {
                vb_gate_result_free(out);
                return -1;
            }
            out->n++;
            out->failed += !c->pass;
        }
        if (!matched) {
            char scope[1100], first[1200];
            scope_text(r, scope, sizeof scope);
            vb_rf_combo_label(&results->combos[0], first, sizeof first);
            vb_fail(e, VB_EXIT_USAGE, "%s:%ld: scope %s selects none of the %zu combinations of %s (e.g. %s)",
                    spec->path, r->line, scope, results->n_combos, results->dir, first);
            vb_gate_result_free(out);
            return -1;
        }
    }
    return 0;
}

void vb_gate_result_free(vb_gate_result *r)
{
    free(r->checks);
    memset(r, 0, sizeof *r);
}

/* ----------------------------------------------------------------------- output */

typedef struct check_text {
    char line[24], metric[192], combo[1200], value[32], baseline[32], op[16], limit[64], result[8];
    const char *note;
} check_text;

static void describe_check(const vb_gate_check *c, check_text *t)
{
    const vb_gate_rule *r = c->rule;
    snprintf(t->line, sizeof t->line, "%ld", r->line);
    if (r->bound == VB_GATE_VALUE)
        snprintf(t->metric, sizeof t->metric, "%s", r->metric);
    else
        snprintf(t->metric, sizeof t->metric, "%s (%s)", r->metric, vb_gate_bound_text[r->bound]);
    vb_rf_combo_label(c->combo, t->combo, sizeof t->combo);
    vb_format_double(c->value, t->value);
    if (is_regression(r->op))
        vb_format_double(c->baseline, t->baseline);
    else
        strcpy(t->baseline, "-");
    snprintf(t->op, sizeof t->op, "%s", vb_gate_op_text[r->op]);
    snprintf(t->limit, sizeof t->limit, "%s", r->limit_text);
    strcpy(t->result, c->pass ? "PASS" : "FAIL");
    t->note = c->note;
}

static void write_csv(FILE *f, const vb_gate_result *r)
{
    fprintf(f, "line,metric,bound,row,backend,device,quant,dataset,value,baseline,op,limit,result,note\n");
    for (size_t i = 0; i < r->n; i++) {
        const vb_gate_check *c = &r->checks[i];
        check_text t;
        describe_check(c, &t);
        const vb_rf_combo *k = c->combo;
        const char *fields[] = {t.line,      c->rule->metric, vb_gate_bound_text[c->rule->bound], c->rule->row,
                                k->backend,  k->device,       k->quant,
                                k->dataset,  t.value,         is_regression(c->rule->op) ? t.baseline : "",
                                t.op,        t.limit,         t.result,
                                t.note};
        for (size_t j = 0; j < VB_ARRAY_LEN(fields); j++) {
            if (j)
                fputc(',', f);
            int quote = strpbrk(fields[j], ",\"\r\n") != NULL;
            if (!quote) {
                fputs(fields[j], f);
                continue;
            }
            fputc('"', f);
            for (const char *p = fields[j]; *p; p++) {
                if (*p == '"')
                    fputc('"', f);
                fputc(*p, f);
            }
            fputc('"', f);
        }
        fputc('\n', f);
    }
}

enum { T_COLUMNS = 8 };
static const char *const table_heads[T_COLUMNS] = {"line", "metric", "combination", "value",
                                                   "baseline", "op", "limit", "result"};

static void table_fields(const check_text *t, const char *out[T_COLUMNS])
{
    const char *f[T_COLUMNS] = {t->line, t->metric, t->combo, t->value, t->baseline, t->op, t->limit, t->result};
    memcpy(out, f, sizeof f);
}

static void write_text(FILE *f, const vb_gate_spec *spec, const vb_gate_result *r)
{
    size_t width[T_COLUMNS];
    for (int k = 0; k < T_COLUMNS; k++)
        width[k] = strlen(table_heads[k]);
    for (size_t i = 0; i < r->n; i++) {
        check_text t;
        const char *fields[T_COLUMNS];
        describe_check(&r->checks[i], &t);
        table_fields(&t, fields);
        for (int k = 0; k < T_COLUMNS; k++)
            if (strlen(fields[k]) > width[k])
                width[k] = strlen(fields[k]);
    }
    for (int k = 0; k < T_COLUMNS; k++)
        fprintf(f, "%-*s%s", (int)width[k], table_heads[k], k + 1 < T_COLUMNS ? "  " : "\n");
    for (size_t i = 0; i < r->n; i++) {
        check_text t;
        const char *fields[T_COLUMNS];
        describe_check(&r->checks[i], &t);
        table_fields(&t, fields);
        for (int k = 0; k < T_COLUMNS; k++)
            fprintf(f, "%-*s%s", k + 1 < T_COLUMNS ? (int)width[k] : 0, fields[k], k + 1 < T_COLUMNS ? "  " : "");
        fprintf(f, "%s%s\n", t.note[0] ? "  " : "", t.note);
    }
    fprintf(f, "gate %s: %s (%zu checks, %zu failed)\n", spec->path, r->failed ? "FAIL" : "PASS", r->n, r->failed);
}

int vb_gate_write_table(FILE *f, const vb_gate_spec *spec, const vb_gate_result *r, int csv)
{
    if (csv)
        write_csv(f, r);
    else
        write_text(f, spec, r);
    return ferror(f);
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is not one. */
static size_t utf8_length(const unsigned char *p)
{
    size_t n = p[0] >= 0xF0 && p[0] <= 0xF4 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 && p[0] < 0xE0 ? 2 : 0;
    if (p[0] > 0xF4)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    /* overlong 3/4-byte forms, surrogates and code points above U+10FFFF */
    if ((n == 3 && p[0] == 0xE0 && p[1] < 0xA0) || (n == 3 && p[0] == 0xED && p[1] >= 0xA0) ||
        (n == 4 && p[0] == 0xF0 && p[1] < 0x90) || (n == 4 && p[0] == 0xF4 && p[1] >= 0x90))
        return 0;
    return n;
}

void vb_xml_escape(FILE *f, const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        unsigned char ch = *p;
        const char *entity = ch == '&' ? "&amp;" : ch == '<' ? "&lt;" : ch == '>' ? "&gt;" : ch == '"' ? "&quot;"
                             : ch == '\'' ? "&apos;" : NULL;
        if (entity) {
            fputs(entity, f);
            p++;
        } else if (ch < 0x20) {
            /* tab, LF and CR are characters XML keeps; as references they survive attributes */
            if (ch == '\t' || ch == '\n' || ch == '\r')
                fprintf(f, "&#%d;", ch);
            else
                fputc('?', f);
            p++;
        } else if (ch < 0x80) {
            fputc(ch, f);
            p++;
        } else {
            size_t n = utf8_length(p);
            if (n)
                fwrite(p, 1, n, f);
            else
                fputc('?', f);
            p += n ? n : 1;
        }
    }
}

static void junit_case(FILE *f, const vb_gate_spec *spec, const vb_gate_check *c)
{
    check_text t;
    describe_check(c, &t);
    char name[1600], message[1800];
    snprintf(name, sizeof name, "line %s: %s %s %s on %s", t.line, t.metric, t.op, t.limit, t.combo);
    if (is_regression(c->rule->op))
        snprintf(message, sizeof message, "%s = %s (baseline %s), %s %s: %s", t.metric, t.value, t.baseline, t.op,
                 t.limit, t.note);
    else
        snprintf(message, sizeof message, "%s = %s, required %s %s%s%s", t.metric, t.value, t.op, t.limit,
                 t.note[0] ? ": " : "", t.note);
    fputs("  <testcase classname=\"", f);
    vb_xml_escape(f, spec->path);
    fputs("\" name=\"", f);
    vb_xml_escape(f, name);
    if (c->pass) {
        fputs("\"/>\n", f);
        return;
    }
    fputs("\">\n    <failure message=\"", f);
    vb_xml_escape(f, message);
    fputs("\">", f);
    vb_xml_escape(f, message);
    fputs("</failure>\n  </testcase>\n", f);
}

int vb_gate_write_junit(const char *path, const vb_gate_spec *spec, const vb_gate_result *r, vb_err *e)
{
    vb_atomic a;
    if (vb_atomic_begin(&a, path, "w", e))
        return -1;
    fprintf(a.f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"veribench gate ");
    vb_xml_escape(a.f, spec->path);
    fprintf(a.f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\">\n", r->n, r->failed);
    for (size_t i = 0; i < r->n; i++)
        junit_case(a.f, spec, &r->checks[i]);
    fprintf(a.f, "</testsuite>\n");
    return vb_atomic_commit(&a, e);
}
