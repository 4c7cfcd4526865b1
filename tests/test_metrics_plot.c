/* Plots (reports/plot.h): tick labels, gnuplot missing -> skipped, a hanging or failing
 * gnuplot -> an error within the timeout, and real PNG/SVG output when gnuplot exists. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reports/metrics.h"
#include "reports/plot.h"
#include "tests/testlib.h"

static char tmpdir[64];

static void make_metrics(vb_metrics *m, double shift)
{
    enum { NG = 300, NI = 3000 };
    static double s[NG + NI];
    static uint8_t l[NG + NI];
    uint64_t r = 12345;
    for (int i = 0; i < NG + NI; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(r >> 11) * (1.0 / 9007199254740992.0);
        l[i] = i < NG;
        s[i] = (l[i] ? 0.5 + shift : 0.0) + u;
    }
    vb_err e = {0};
    vb_scores sc = {.score = s, .label = l, .n = NG + NI, .cap = NG + NI};
    CHECK(vb_metrics_compute(&sc, m, &e) == 0);
}

static void write_script(const char *path, const char *body)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(path, 0755);
}

static int file_starts_with(const char *path, const char *magic, size_t n)
{
    char buf[16] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    return got == n && memcmp(buf, magic, n) == 0;
}

static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, needle) != NULL;
}

static void test_tick_labels(void)
{
    char b[32];
    vb_det_tick_label(0.001, b);
    CHECK(!strcmp(b, "0.1%"));
    vb_det_tick_label(0.01, b);
    CHECK(!strcmp(b, "1%"));
    vb_det_tick_label(0.05, b);
    CHECK(!strcmp(b, "5%"));
    vb_det_tick_label(0.2, b);
    CHECK(!strcmp(b, "20%"));
    vb_det_tick_label(0.4, b);
    CHECK(!strcmp(b, "40%"));
    vb_det_tick_label(1e-6, b);
    CHECK(!strcmp(b, "1e-6"));
    vb_det_tick_label(2e-4, b);
    CHECK(!strcmp(b, "2e-4"));
    vb_det_tick_label(0.99, b);
    CHECK(!strcmp(b, "99%"));
}

static void test_skipped_without_gnuplot(void)
{
    vb_metrics m = {0};
    make_metrics(&m, 0);
    vb_err e = {0};
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s/skip", tmpdir);
    setenv("VB_GNUPLOT", "", 1);
    vb_det_series s = {"a", &m.curve};
    CHECK(vb_gnuplot_available() == 0);
    CHECK(vb_plot_det(prefix, "t", &s, 1, &e) == VB_PLOT_SKIPPED);
    CHECK(vb_plot_hist(prefix, "t", &m.hist, &e) == VB_PLOT_SKIPPED);
    setenv("VB_GNUPLOT", "/nonexistent/gnuplot", 1);
    CHECK(vb_plot_det(prefix, "t", &s, 1, &e) == VB_PLOT_SKIPPED);
    unsetenv("VB_GNUPLOT");
    vb_metrics_free(&m);
}

static void test_hanging_and_failing_gnuplot(void)
{
    vb_metrics m = {0};
    make_metrics(&m, 0);
    vb_err e = {0};
    char fake[128], prefix[128];
    snprintf(prefix, sizeof prefix, "%s/hang", tmpdir);
    vb_det_series s = {"a", &m.curve};

    /* a gnuplot that never exits is killed after VB_GNUPLOT_TIMEOUT seconds */
    snprintf(fake, sizeof fake, "%s/hang.sh", tmpdir);
    write_script(fake, "exec sleep 60");
    setenv("VB_GNUPLOT", fake, 1);
    setenv("VB_GNUPLOT_TIMEOUT", "1", 1);
    double t0 = vb_now();
    CHECK(vb_plot_det(prefix, "t", &s, 1, &e) == -1);
    CHECKF(vb_now() - t0 < 30, "a hung gnuplot held the caller %.1f s", vb_now() - t0);
    CHECKF(strstr(e.msg, "did not finish") != NULL, "message: %s", e.msg);

    /* a failing gnuplot: its exit status and stderr reach the message */
    snprintf(fake, sizeof fake, "%s/fail.sh", tmpdir);
    write_script(fake, "cat >/dev/null; echo 'line 3: undefined variable' >&2; exit 1");
    setenv("VB_GNUPLOT", fake, 1);
    CHECK(vb_plot_det(prefix, "t", &s, 1, &e) == -1);
    CHECKF(strstr(e.msg, "status 1") && strstr(e.msg, "undefined variable"), "message: %s", e.msg);

    /* one that exits 0 without writing anything is caught too */
    snprintf(fake, sizeof fake, "%s/lazy.sh", tmpdir);
    write_script(fake, "exit 0");
    setenv("VB_GNUPLOT", fake, 1);
    CHECK(vb_plot_hist(prefix, "t", &m.hist, &e) == -1);
    CHECKF(strstr(e.msg, "did not write") != NULL, "message: %s", e.msg);

    unsetenv("VB_GNUPLOT");
    unsetenv("VB_GNUPLOT_TIMEOUT");
    vb_metrics_free(&m);
}

static void test_real_gnuplot(void)
{
    if (!vb_gnuplot_available()) {
        fprintf(stderr, "gnuplot not installed: real plot test skipped\n");
        return;
    }
    vb_metrics a = {0}, b = {0};
    make_metrics(&a, 0);
    make_metrics(&b, 0.3);
    vb_err e = {0};
    char prefix[128], path[160];
    /* several curves on one DET plot, labels with characters gnuplot treats specially */
    vb_det_series s[] = {{"cpu fp32", &a.curve}, {"vulkan_int8 'q'", &b.curve}};
    snprintf(prefix, sizeof prefix, "%s/det", tmpdir);
    CHECKF(vb_plot_det(prefix, "two backends", s, 2, &e) == VB_PLOT_WRITTEN, "%s", e.msg);
    snprintf(path, sizeof path, "%s.png", prefix);
    CHECK(file_starts_with(path, "\x89PNG", 4));
    snprintf(path, sizeof path, "%s.svg", prefix);
    CHECK(file_contains(path, "<svg"));
    CHECK(file_contains(path, "cpu fp32"));
    CHECK(file_contains(path, "vulkan_int8"));
    CHECK(file_contains(path, "20%")); /* probit axis ticks in percent */
    snprintf(prefix, sizeof prefix, "%s/hist", tmpdir);
    CHECKF(vb_plot_hist(prefix, "scores", &a.hist, &e) == VB_PLOT_WRITTEN, "%s", e.msg);
    snprintf(path, sizeof path, "%s.png", prefix);
    CHECK(file_starts_with(path, "\x89PNG", 4));
    /* an unwritable output folder is an error naming gnuplot's complaint */
    CHECK(vb_plot_det("/nonexistent-dir/x", "t", s, 1, &e) == -1);
    CHECK(strstr(e.msg, "gnuplot") != NULL);
    vb_metrics_free(&a);
    vb_metrics_free(&b);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/vb-plot-test-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_tick_labels);
    RUN(test_skipped_without_gnuplot);
    RUN(test_hanging_and_failing_gnuplot);
    RUN(test_real_gnuplot);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return vb_test_finish();
}
