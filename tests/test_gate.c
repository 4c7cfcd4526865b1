/* The results folder reader (reports/results_read.h) and gate rules (reports/gate.h) on
 * small folders and specs written here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/gate.h"
#include "reports/results_read.h"
#include "tests/testlib.h"

static char tmp[64];

/* A fixture file under this test's temporary folder. */
static const char *put(const char *name, const char *text)
{
    return vb_test_put(tmp, name, text);
}

static const char *folder(const char *name, const char *metrics)
{
    static char dir[256];
    char p[128];
    snprintf(p, sizeof p, "%s/metrics.csv", name);
    put(p, metrics);
    snprintf(p, sizeof p, "%s/provenance.csv", name);
    put(p, "scope,key,value\nrun,dataset,lfw\ncpu-a-fp32,device_name,\"A, the CPU\"\n");
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    return dir;
}

#define HEAD "backend,device,quant,dataset,metric,value\n"
static const char *const RESULTS = HEAD "cpu,a,fp32,lfw,eer,0.05\n"
                                        "cpu,a,fp32,lfw,auc,0.99\n"
                                        "cpu,a,fp32,lfw,eer_ci_high,0.058\n"
                                        "cpu,a,int8,lfw,eer,0.052\n"
                                        "cpu,a,int8,lfw,auc,0.98\n"
                                        "vulkan,g,fp32,lfw,eer,nan\n"
                                        "vulkan,g,fp32,lfw,auc,inf\n";

static void test_reader(void)
{
    vb_results_folder rf;
    vb_err e = {0};
    CHECK(vb_results_folder_read(folder("r1", RESULTS), &rf, &e) == 0);
    CHECK(rf.n_combos == 3);
    const vb_rf_combo *c = vb_rf_find_combo(&rf, "cpu", "a", "int8", "lfw");
    double v = 0;
    CHECK(c && vb_rf_value(c, "eer", &v) == 1 && v == 0.052);
    CHECK(c && vb_rf_value(c, "eer_ci_high", &v) == 0);
    c = vb_rf_find_combo(&rf, "vulkan", "g", "fp32", "lfw");
    CHECK(c && vb_rf_value(c, "eer", &v) == 1 && isnan(v));
    CHECK(c && vb_rf_value(c, "auc", &v) == 1 && isinf(v) && v > 0);
    CHECK(vb_rf_find_combo(&rf, "cpu", "a", "fp16", "lfw") == NULL);
    const char *dev = vb_rf_provenance(&rf, "cpu-a-fp32", "device_name");
    CHECK(dev && !strcmp(dev, "A, the CPU"));
    CHECK(vb_rf_provenance(&rf, "run", "nothing") == NULL);
    char label[64];
    vb_rf_combo_label(&rf.combos[0], label, sizeof label);
    CHECK(!strcmp(label, "cpu/a/fp32/lfw"));
    vb_results_folder_free(&rf);
}

/* Each malformed folder fails with VB_EXIT_INPUT and a message holding `expect`. */
static void expect_bad_folder(const char *name, const char *metrics, const char *expect)
{
    vb_results_folder rf;
    vb_err e = {0};
    int rc = vb_results_folder_read(folder(name, metrics), &rf, &e);
    CHECKF(rc == -1 && e.code == VB_EXIT_INPUT && strstr(e.msg, expect), "%s: rc %d code %d '%s', expected '%s'",
           name, rc, e.code, e.msg, expect);
}

static void test_reader_errors(void)
{
    expect_bad_folder("bad1", HEAD "cpu,a,fp32,lfw,eer,0.05x\n", "metrics.csv:2:");
    expect_bad_folder("bad2", HEAD "cpu,a,fp32,lfw,eer,0.05\ncpu,a,fp32,lfw,eer,0.06\n", "metrics.csv:3: metric eer");
    expect_bad_folder("bad3", HEAD "cpu,,fp32,lfw,eer,0.05\n", "empty device");
    expect_bad_folder("bad4", HEAD "cpu,a,fp32,lfw,eer\n", "metrics.csv:2: 5 fields");
    expect_bad_folder("bad5", "backend,device,quant,metric,value\ncpu,a,fp32,eer,1\n", "dataset");
    expect_bad_folder("bad6", HEAD, "no metric rows");
    expect_bad_folder("bad7", HEAD "cpu,a,fp32,lfw,eer,\"0.05\n", "metrics.csv");
    vb_results_folder rf;
    vb_err e = {0};
    put("noprov/metrics.csv", RESULTS);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/noprov", tmp);
    CHECK(vb_results_folder_read(dir, &rf, &e) == -1 && e.code == VB_EXIT_INPUT && strstr(e.msg, "provenance.csv"));
    put("noprov/provenance.csv", "");
    CHECK(vb_results_folder_read(dir, &rf, &e) == -1 && e.code == VB_EXIT_INPUT && strstr(e.msg, "provenance.csv: empty"));
    put("noprov/provenance.csv", "scope,key,value\nrun,,x\n");
    CHECK(vb_results_folder_read(dir, &rf, &e) == -1 && strstr(e.msg, "provenance.csv:2: empty key"));
    put("noprov/provenance.csv", "scope,key,value\nrun,a,x\nrun,a,y\n");
    CHECK(vb_results_folder_read(dir, &rf, &e) == -1 && strstr(e.msg, "provenance.csv:3: run a given twice"));
    put("noprov/provenance.csv", "scope,key,value\nrun,a,\n");
    CHECK(vb_results_folder_read(dir, &rf, &e) == 0 && rf.n_prov == 1 && !strcmp(vb_rf_provenance(&rf, "run", "a"), ""));
    vb_results_folder_free(&rf);
}

static int read_spec(const char *text, vb_gate_spec *s, vb_err *e)
{
    return vb_gate_spec_read(put("spec.csv", text), s, e);
}

static void expect_bad_spec(const char *text, const char *expect)
{
    vb_gate_spec s;
    vb_err e = {0};
    int rc = read_spec(text, &s, &e);
    CHECKF(rc == -1 && e.code == VB_EXIT_USAGE && strstr(e.msg, expect), "spec: rc %d code %d '%s', expected '%s'",
           rc, e.code, e.msg, expect);
}

static void test_spec(void)
{
    vb_gate_spec s;
    vb_err e = {0};
    CHECK(read_spec("# a comment, with a comma\nmetric,scope,op,limit,bound\n"
                    "eer,*,<=,0.06,\n# another\n\neer,cpu/*/fp32/csv:/d/m.csv,<,0.1,upper\n"
                    "auc,*,max_decrease,5%,lower\neer_wilson_high,*,>,1e-3,value\n",
                    &s, &e) == 0);
    CHECK(s.n == 4);
    if (s.n == 4) {
        CHECK(s.rules[0].line == 3 && s.rules[0].bound == VB_GATE_VALUE && !strcmp(s.rules[0].row, "eer"));
        CHECK(!strcmp(s.rules[1].scope[1], "*") && !strcmp(s.rules[1].scope[3], "csv:/d/m.csv"));
        CHECK(!strcmp(s.rules[1].row, "eer_ci_high") && s.rules[1].op == VB_GATE_LT && s.rules[1].line == 6);
        CHECK(!strcmp(s.rules[2].row, "auc_ci_low") && s.rules[2].relative && s.rules[2].limit == 0.05);
        CHECK(s.rules[3].op == VB_GATE_GT && s.rules[3].limit == 1e-3);
    }
    vb_gate_spec_free(&s);
    /* bound column left out */
    CHECK(read_spec("metric,scope,op,limit\neer_boot_low,*,>=,0\n", &s, &e) == 0 && s.n == 1);
    vb_gate_spec_free(&s);
    /* bound as the last column may be left off a record, nothing else may */
    CHECK(read_spec("metric,scope,op,limit,bound\neer,*,<=,0.06\n", &s, &e) == 0 && s.n == 1 &&
          s.rules[0].bound == VB_GATE_VALUE && s.rules[0].limit == 0.06);
    vb_gate_spec_free(&s);
    expect_bad_spec("metric,scope,op,limit,bound\neer,*,<=\n", "spec.csv:2: 3 fields");
    expect_bad_spec("metric,bound,scope,op,limit\neer,*,<=,1\n", "spec.csv:2: 4 fields");
    expect_bad_spec("metric,scope,op,limit\neerr,*,<=,1\n", "spec.csv:2: unknown metric 'eerr'");
    expect_bad_spec("metric,scope,op,limit\nnope_ci_high,*,<=,1\n", "unknown metric");
    expect_bad_spec("metric,scope,op,limit\neer,*,=<,1\n", "spec.csv:2: unknown op");
    expect_bad_spec("metric,scope,op,limit,bound\neer,*,<=,1,top\n", "unknown bound");
    expect_bad_spec("metric,scope,op,limit\neer,*,<=,5%\n", "percentage");
    expect_bad_spec("metric,scope,op,limit\neer,*,<=,nan\n", "not a finite number");
    expect_bad_spec("metric,scope,op,limit\neer,cpu/a/fp32,<=,1\n", "spec.csv:2: scope");
    expect_bad_spec("metric,scope,op,limit\neer,cpu//fp32/lfw,<=,1\n", "scope");
    expect_bad_spec("metric,scope,op,limit,bound\neer_ci_high,*,<=,1,upper\n", "without interval suffix");
    expect_bad_spec("metric,scope,op\neer,*,<=\n", "limit");
    expect_bad_spec("metric,scope,op,limit\n# only a comment\n", "no rules");
    expect_bad_spec("metric,scope,op,limit\neer,*,<=\n", "spec.csv:2: 3 fields");
}

/* Evaluates spec text on the results (and baseline); returns the rc, fills r. */
static int gate(const char *spec_text, const vb_results_folder *res, const vb_results_folder *base, vb_gate_result *r,
                vb_gate_spec *s, vb_err *e)
{
    memset(r, 0, sizeof *r);
    if (read_spec(spec_text, s, e))
        return -2;
    return vb_gate_evaluate(s, res, base, r, e);
}

/* One rule; the verdicts of its checks in order as "PF..." ("E" on error). */
static void verdicts(const char *rule, const vb_results_folder *res, const vb_results_folder *base, char *out)
{
    char text[512];
    snprintf(text, sizeof text, "metric,scope,op,limit,bound\n%s\n", rule);
    vb_gate_spec s;
    vb_gate_result r;
    vb_err e = {0};
    int rc = gate(text, res, base, &r, &s, &e);
    if (rc) {
        strcpy(out, "E");
    } else {
        size_t i = 0;
        for (; i < r.n; i++)
            out[i] = r.checks[i].pass ? 'P' : 'F';
        out[i] = 0;
        size_t fails = 0;
        for (size_t k = 0; k < r.n; k++)
            fails += out[k] == 'F';
        CHECK(r.failed == fails);
    }
    vb_gate_result_free(&r);
    if (rc != -2)
        vb_gate_spec_free(&s);
}

#define EXPECT_VERDICTS(rule, res, base, expect)                                                       \
    do {                                                                                               \
        char got_[64];                                                                                 \
        verdicts(rule, res, base, got_);                                                               \
        CHECKF(!strcmp(got_, expect), "%s: verdicts %s, expected %s", rule, got_, expect);             \
    } while (0)

static void test_ops_and_scopes(void)
{
    vb_results_folder rf;
    vb_err e = {0};
    if (vb_results_folder_read(folder("r2", RESULTS), &rf, &e)) {
        CHECKF(0, "%s", e.msg);
        return;
    }
    /* file order: cpu/a/fp32, cpu/a/int8, vulkan/g/fp32 (eer NaN) */
    EXPECT_VERDICTS("eer,*,<=,0.051,", &rf, NULL, "PFF");
    EXPECT_VERDICTS("eer,cpu/*/*/lfw,<=,0.05,", &rf, NULL, "PF");  /* equal passes <= */
    EXPECT_VERDICTS("eer,cpu/*/*/lfw,<,0.05,", &rf, NULL, "FF");   /* equal fails < */
    EXPECT_VERDICTS("eer,cpu/a/*/*,>=,0.052,", &rf, NULL, "FP");
    EXPECT_VERDICTS("eer,*/*/int8/*,>,0.051,", &rf, NULL, "P");
    EXPECT_VERDICTS("eer,*/*/fp32/lfw,>,-1,", &rf, NULL, "PF");    /* NaN fails even a trivial rule */
    EXPECT_VERDICTS("auc,vulkan/g/fp32/lfw,>=,1,", &rf, NULL, "P"); /* inf */
    EXPECT_VERDICTS("eer,cpu/a/fp32/lfw,<=,0.06,upper", &rf, NULL, "P"); /* reads eer_ci_high 0.058 */
    EXPECT_VERDICTS("eer,cpu/a/fp32/lfw,<=,0.057,upper", &rf, NULL, "F");
    /* errors, never passes */
    EXPECT_VERDICTS("eer,cpu/a/fp16/lfw,<=,1,", &rf, NULL, "E");       /* scope selects nothing */
    EXPECT_VERDICTS("eer,cpu/a/fp32/lfw-x,<=,1,", &rf, NULL, "E");     /* exact parts, no prefix match */
    EXPECT_VERDICTS("dprime,*,>=,0,", &rf, NULL, "E");                 /* row absent */
    EXPECT_VERDICTS("eer,*,<=,1,upper", &rf, NULL, "E");               /* interval row absent on int8 */
    EXPECT_VERDICTS("eer,*,max_increase,1,", &rf, NULL, "E");          /* no baseline */

    vb_gate_spec s;
    vb_gate_result r;
    CHECK(gate("metric,scope,op,limit\n\neer,cpu/a/fp16/*,<=,1\n", &rf, NULL, &r, &s, &e) == -1);
    CHECKF(e.code == VB_EXIT_USAGE && strstr(e.msg, "spec.csv:3: scope cpu/a/fp16/*"), "%s", e.msg);
    vb_gate_spec_free(&s);
    CHECK(gate("metric,scope,op,limit\ndprime,*,<=,1\n", &rf, NULL, &r, &s, &e) == -1);
    CHECKF(strstr(e.msg, "spec.csv:2:") && strstr(e.msg, "no row dprime"), "%s", e.msg);
    vb_gate_spec_free(&s);
    CHECK(gate("metric,scope,op,limit\neer,*,<=,1\n", &rf, NULL, &r, &s, &e) == 0 && r.n == 3 && r.failed == 1);
    CHECK(r.n == 3 && !strcmp(r.checks[2].note, "value is NaN"));
    vb_gate_result_free(&r);
    vb_gate_spec_free(&s);
    vb_results_folder_free(&rf);
}

static void test_regressions(void)
{
    vb_results_folder rf, base, partial;
    vb_err e = {0};
    int ok = vb_results_folder_read(folder("r3", RESULTS), &rf, &e) == 0 &&
             vb_results_folder_read(folder("base", HEAD "cpu,a,fp32,lfw,eer,0.048\ncpu,a,fp32,lfw,auc,0.995\n"
                                                         "cpu,a,int8,lfw,eer,0.05\ncpu,a,int8,lfw,auc,0.99\n"
                                                         "vulkan,g,fp32,lfw,eer,0.05\nvulkan,g,fp32,lfw,auc,inf\n"),
                                    &base, &e) == 0 &&
             vb_results_folder_read(folder("partial", HEAD "cpu,a,fp32,lfw,eer,0.048\n"), &partial, &e) == 0;
    CHECKF(ok, "%s", e.msg);
    if (!ok)
        return;
    /* eer changes: fp32 +0.002, int8 +0.002, vulkan NaN */
    EXPECT_VERDICTS("eer,cpu/*/*/*,max_increase,0.0021,", &rf, &base, "PP");
    EXPECT_VERDICTS("eer,cpu/*/*/*,max_increase,0.0019,", &rf, &base, "FF");
    EXPECT_VERDICTS("eer,*,max_increase,1,", &rf, &base, "PPF");       /* NaN value fails */
    /* relative: +0.002 on 0.048 is 4.17%, on 0.05 is 4% */
    EXPECT_VERDICTS("eer,cpu/*/*/*,max_increase,4.1%,", &rf, &base, "FP");
    EXPECT_VERDICTS("eer,cpu/*/*/*,max_increase,4.2%,", &rf, &base, "PP");
    /* auc decreases: 0.005, 0.01; vulkan inf - inf is NaN and fails */
    EXPECT_VERDICTS("auc,*,max_decrease,0.006,", &rf, &base, "PFF");
    EXPECT_VERDICTS("auc,*,max_decrease,1%,", &rf, &base, "PFF");
    EXPECT_VERDICTS("eer,*,max_decrease,0,", &rf, &base, "PPF");       /* eer rose: a decrease <= 0 */
    /* the baseline lacks a combination or a row: error */
    EXPECT_VERDICTS("eer,cpu/a/fp32/*,max_increase,1,", &rf, &partial, "P");
    EXPECT_VERDICTS("eer,*,max_increase,1,", &rf, &partial, "E");
    EXPECT_VERDICTS("auc,cpu/a/fp32/*,max_decrease,1,", &rf, &partial, "E");
    vb_gate_spec s;
    vb_gate_result r;
    CHECK(gate("metric,scope,op,limit\neer,*,max_increase,1\n", &rf, &partial, &r, &s, &e) == -1);
    CHECKF(strstr(e.msg, "spec.csv:2:") && strstr(e.msg, "no combination cpu/a/int8/lfw"), "%s", e.msg);
    vb_gate_spec_free(&s);
    CHECK(gate("metric,scope,op,limit\nauc,vulkan/*/*/*,max_decrease,1\n", &rf, &base, &r, &s, &e) == 0);
    CHECK(r.n == 1 && !r.checks[0].pass && strstr(r.checks[0].note, "NaN"));
    vb_gate_result_free(&r);
    vb_gate_spec_free(&s);
    vb_results_folder_free(&partial);
    vb_results_folder_free(&base);
    vb_results_folder_free(&rf);
}

static void test_xml_escape(void)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    vb_xml_escape(f, "a<b>&\"c'\x01\t\xc3\xa9\xff\xe0\x80");
    fclose(f);
    CHECKF(buf && !strcmp(buf, "a&lt;b&gt;&amp;&quot;c&apos;?&#9;\xc3\xa9???"), "escaped: %s", buf ? buf : "");
    free(buf);
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/vb-test-gate-XXXXXX");
    if (!mkdtemp(tmp))
        return 1;
    RUN(test_reader);
    RUN(test_reader_errors);
    RUN(test_spec);
    RUN(test_ops_and_scopes);
    RUN(test_regressions);
    RUN(test_xml_escape);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    return vb_test_finish();
}
