/* The benchmark history (reports/history.h): two appends make one header and every row
 * read back with its fields, value and time; a link in place of the file is refused and
 * left alone; a malformed row is named by line; the history folder's precedence (--history,
 * $VERIBENCH_HISTORY, results/history); the timeline plot's script has one data block per
 * series with the times as given. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/files.h"
#include "reports/history.h"
#include "reports/plot.h"
#include "tests/testlib.h"

static char dir[256];

static void test_append_and_read(void)
{
    const vb_history_run run = {"bench-latency", "abc123", "binsha", "modelsha", "veribench bench-latency --x 'a b'",
                                1764653275}; /* 2025-12-02T05:27:55Z */
    const vb_history_entry rows[] = {
        {"cpu", "amd-epyc", "AMD EPYC", "im2col, 2 threads", "fp32", "lfw", "single-stream", "2", "p99_ms", 23.5,
         "VALID"},
        {"cpu", "amd-epyc", "AMD EPYC", "im2col, 2 threads", "fp32", "lfw", "offline", "8", "samples_per_s", NAN,
         "INVALID: min_duration (1.0 s < 60 s)"},
    };
    vb_err e = {0};
    CHECK(vb_history_append(dir, &run, rows, 2, &e) == 0);
    vb_history_run later = run;
    later.finished += 3600;
    CHECK(vb_history_append(dir, &later, rows, 1, &e) == 0);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, VB_HISTORY_FILE);
    FILE *f = fopen(path, "r");
    int headers = 0;
    char line[4096];
    while (f && fgets(line, sizeof line, f))
        headers += !strncmp(line, "time_utc,", 9);
    if (f)
        fclose(f);
    CHECK(headers == 1);
    vb_history h;
    CHECK(vb_history_read(path, &h, &e) == 0);
    CHECK(h.n == 3);
    if (h.n == 3) {
        CHECK(!strcmp(h.rows[0].field[VB_H_TIME], "2025-12-02T05:27:55Z"));
        CHECK(h.rows[0].t == 1764653275 && h.rows[2].t == 1764653275 + 3600);
        CHECK(h.rows[0].value == 23.5 && isnan(h.rows[1].value));
        CHECK(!strcmp(h.rows[0].field[VB_H_DRIVER], "im2col, 2 threads"));
        CHECK(!strcmp(h.rows[1].field[VB_H_VERDICT], "INVALID: min_duration (1.0 s < 60 s)"));
        CHECK(!strcmp(h.rows[0].field[VB_H_COMMAND_LINE], "veribench bench-latency --x 'a b'"));
        CHECK(!strcmp(h.rows[2].field[VB_H_SCENARIO], "single-stream") && !strcmp(h.rows[2].field[VB_H_BATCH], "2"));
        CHECK(!strcmp(h.rows[1].field[VB_H_MODEL_SHA256], "modelsha") && h.rows[1].field[VB_H_HOST][0]);
    }
    vb_history_free(&h);
}

static void test_refuses_link(void)
{
    char sub[300], target[320], link[320];
    snprintf(sub, sizeof sub, "%s/linked", dir);
    snprintf(target, sizeof target, "%s/elsewhere.csv", dir);
    snprintf(link, sizeof link, "%s/%s", sub, VB_HISTORY_FILE);
    vb_err e = {0};
    CHECK(vb_mkdirs(sub, &e) == 0);
    FILE *f = fopen(target, "w");
    if (f)
        fclose(f);
    CHECK(symlink(target, link) == 0);
    const vb_history_run run = {"bench", "c", "b", "m", "l", 0};
    const vb_history_entry row = {"cpu", "d", "D", "drv", "fp32", "", "bench", "1", "p50_ms", 1, ""};
    CHECK(vb_history_append(sub, &run, &row, 1, &e) != 0 && e.code == VB_EXIT_IO);
    FILE *t = fopen(target, "r");
    CHECK(t && fgetc(t) == EOF); /* the link's target was not written */
    if (t)
        fclose(t);
}

static void test_malformed(void)
{
    char path[320];
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    FILE *f = fopen(path, "w");
    for (int k = 0; k < VB_H_COLUMNS; k++)
        fprintf(f, "%s%s", k ? "," : "", vb_history_columns[k]);
    fprintf(f, "\n2025-12-02T05:27:55Z,bench,h,c,cpu,d,D,drv,fp32,,bench,1,p50_ms,abc,,g,b,m,l\n");
    fclose(f);
    vb_history h;
    vb_err e = {0};
    CHECK(vb_history_read(path, &h, &e) != 0 && e.code == VB_EXIT_INPUT && strstr(e.msg, "bad.csv:2") &&
          strstr(e.msg, "'abc'"));
    f = fopen(path, "w");
    fprintf(f, "time_utc,command\n2025-12-02T05:27:55Z,bench\n");
    fclose(f);
    CHECK(vb_history_read(path, &h, &e) != 0 && e.code == VB_EXIT_INPUT);
    time_t t;
    CHECK(vb_utc_parse("2025-12-02T05:27:55Z", &t) == 0 && t == 1764653275);
    CHECK(vb_utc_parse("2025-12-02 05:27:55", &t) != 0);
    CHECK(vb_utc_parse("2025-12-02T05:27:55Zx", &t) != 0);
}

static void test_dir_precedence(void)
{
    setenv("VERIBENCH_HISTORY", "/tmp/from-env", 1);
    CHECK(!strcmp(vb_history_dir("given"), "given"));
    CHECK(!strcmp(vb_history_dir(NULL), "/tmp/from-env"));
    setenv("VERIBENCH_HISTORY", "", 1);
    CHECK(!strcmp(vb_history_dir(NULL), "results/history"));
    unsetenv("VERIBENCH_HISTORY");
    CHECK(!strcmp(vb_history_dir(NULL), "results/history"));
}

static void test_timeline_script(void)
{
    const vb_timeline_point pts[] = {{"cpu p99", 100, 20}, {"vulkan p99", 150, 900}, {"cpu p99", 200, 21},
                                     {"cpu p99", 300, NAN}};
    vb_err e = {0};
    char *s = vb_plot_timeline_script("History", "p99_ms", pts, 4, &e);
    CHECK(s && strstr(s, "$T << EOD\n100 20\n200 21\n\n\n150 900\n\n\nEOD"));
    CHECK(s && strstr(s, "set xdata time") && strstr(s, "index 1 using 1:2") && strstr(s, "'vulkan p99'"));
    free(s);
    CHECK(vb_plot_timeline_script("x", "y", pts, 0, &e) == NULL);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/vb-test-history-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    RUN(test_append_and_read);
    RUN(test_refuses_link);
    RUN(test_malformed);
    RUN(test_dir_precedence);
    RUN(test_timeline_script);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return vb_test_finish();
}
