#include "reports/plot.h"

#include "core/parse.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- a growable text buffer for the gnuplot script ---- */

typedef struct text {
    char *s;
    size_t len, cap;
    int oom;
} text;

static void tprintf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tprintf(text *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = 1;
            return;
        }
        if (t->s && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap ? t->cap * 2 : 4096) + (size_t)n;
        char *ns = realloc(t->s, cap);
        if (!ns) {
            t->oom = 1;
            return;
        }
        t->s = ns;
        t->cap = cap;
    }
}

/* A gnuplot single-quoted string: '' stands for one quote, nothing else is special. */
static void tquote(text *t, const char *s)
{
    tprintf(t, "'");
    for (; *s; s++)
        tprintf(t, "%s", *s == '\'' ? "''" : (char[2]){*s, 0});
    tprintf(t, "'");
}

/* ---- finding and running gnuplot ---- */

static int find_in_path(const char *name, char *out, size_t size)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        if (n && (size_t)snprintf(out, size, "%.*s/%s", (int)n, path, name) < size && access(out, X_OK) == 0)
            return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

static int gnuplot_path(char *out, size_t size)
{
    const char *env = getenv("VB_GNUPLOT");
    if (env) {
        if (!*env || access(env, X_OK) != 0)
            return 0;
        snprintf(out, size, "%s", env);
        return 1;
    }
    return find_in_path("gnuplot", out, size);
}

int vb_gnuplot_available(void)
{
    char p[PATH_MAX];
    return gnuplot_path(p, sizeof p);
}

/* A shell single-quoted word. */
static void shell_quote(text *t, const char *s)
{
    tprintf(t, "'");
    for (; *s; s++)
        tprintf(t, "%s", *s == '\'' ? "'\\''" : (char[2]){*s, 0});
    tprintf(t, "'");
}

static int timeout_seconds(void)
{
    const char *env = getenv("VB_GNUPLOT_TIMEOUT");
    int v = 120;
    if (env && *env && vb_parse_int(env, 1, 99999, &v))
        fprintf(stderr, "veribench: VB_GNUPLOT_TIMEOUT='%s' ignored: expected seconds in 1..99999\n", env);
    return v;
}

/* First line-ish part of gnuplot's stderr, for the error message. */
static void read_excerpt(const char *path, char *buf, size_t size)
{
    buf[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = 0;
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

static int describe_status(int status, int limit, const char *errtext, vb_err *e)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status) && (WEXITSTATUS(status) == 124 || WEXITSTATUS(status) == 137))
        return vb_fail(e, VB_EXIT_IO, "gnuplot did not finish within %d s and was killed", limit);
    if (WIFEXITED(status))
        return vb_fail(e, VB_EXIT_IO, "gnuplot exited with status %d: %s", WEXITSTATUS(status),
                       *errtext ? errtext : "(no message)");
    return vb_fail(e, VB_EXIT_IO, "gnuplot was killed by signal %d", WTERMSIG(status));
}

/* Feeds the script to gnuplot and waits for it. Returns VB_PLOT_WRITTEN, VB_PLOT_SKIPPED
 * or -1. */
static int run_gnuplot(const text *script, vb_err *e)
{
    char gp[PATH_MAX], timeout[PATH_MAX];
    if (!gnuplot_path(gp, sizeof gp))
        return VB_PLOT_SKIPPED;
    char errpath[] = "/tmp/vb-gnuplot-XXXXXX";
    int fd = mkstemp(errpath);
    if (fd < 0)
        return vb_fail(e, VB_EXIT_IO, "plot: cannot create a temporary file: %s", strerror(errno));
    close(fd);
    int limit = timeout_seconds();
    text cmd = {0};
    if (find_in_path("timeout", timeout, sizeof timeout)) {
        shell_quote(&cmd, timeout);
        tprintf(&cmd, " -k 5 %d ", limit);
    }
    shell_quote(&cmd, gp);
    tprintf(&cmd, " >/dev/null 2>");
    shell_quote(&cmd, errpath);
    int rc = -1;
    if (cmd.oom) {
        vb_fail(e, VB_EXIT_IO, "plot: out of memory");
    } else {
        /* gnuplot may die before reading everything: get EPIPE, not a fatal SIGPIPE */
        struct sigaction ignore = {.sa_handler = SIG_IGN}, old;
        sigemptyset(&ignore.sa_mask);
        sigaction(SIGPIPE, &ignore, &old);
        fflush(NULL);
        FILE *p = popen(cmd.s, "w");
        if (!p) {
            vb_fail(e, VB_EXIT_IO, "plot: cannot start gnuplot: %s", strerror(errno));
        } else {
            fwrite(script->s, 1, script->len, p);
            int status = pclose(p);
            char errtext[400];
            read_excerpt(errpath, errtext, sizeof errtext);
            if (status == -1)
                vb_fail(e, VB_EXIT_IO, "plot: waiting for gnuplot failed: %s", strerror(errno));
            else
                rc = describe_status(status, limit, errtext, e) ? -1 : VB_PLOT_WRITTEN;
        }
        sigaction(SIGPIPE, &old, NULL);
    }
    unlink(errpath);
    free(cmd.s);
    return rc;
}

static int check_outputs(const char *prefix, vb_err *e)
{
    static const char *const ext[] = {".png", ".svg"};
    for (size_t i = 0; i < VB_ARRAY_LEN(ext); i++) {
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof path, "%s%s", prefix, ext[i]);
        if (stat(path, &st) != 0 || st.st_size == 0)
            return vb_fail(e, VB_EXIT_IO, "plot: gnuplot did not write %s", path);
    }
    return 0;
}

/* Writes the plot for both terminals: `plot_cmd` is the script after the terminal setup. */
static int render(const char *prefix, const char *size, text *body, vb_err *e)
{
    if (strlen(prefix) + 5 >= PATH_MAX)
        return vb_fail(e, VB_EXIT_USAGE, "plot: output prefix too long");
    text t = {0};
    char path[PATH_MAX];
    tprintf(&t, "set terminal pngcairo noenhanced size %s font ',11'\nset output ", size);
    snprintf(path, sizeof path, "%s.png", prefix);
    tquote(&t, path);
    tprintf(&t, "\n%s", body->s ? body->s : "");
    tprintf(&t, "set terminal svg noenhanced size %s font ',11'\nset output ", size);
    snprintf(path, sizeof path, "%s.svg", prefix);
    tquote(&t, path);
    tprintf(&t, "\nreplot\nunset output\nexit\n");
    int rc;
    if (t.oom || body->oom)
        rc = vb_fail(e, VB_EXIT_IO, "plot: out of memory");
    else
        rc = run_gnuplot(&t, e);
    if (rc == VB_PLOT_WRITTEN && check_outputs(prefix, e))
        rc = -1;
    free(t.s);
    return rc;
}

/* ---- DET ---- */

void vb_det_tick_label(double p, char buf[32])
{
    double pct = p * 100;
    if (pct >= 1) {
        snprintf(buf, 32, "%g%%", pct);
        return;
    }
    int decimals = (int)ceil(-log10(pct) - 1e-9);
    /* 0.5%, 0.02%: one significant digit after the leading zeros */
    snprintf(buf, 32, "%.*f%%", decimals, pct);
}

static const double det_ticks[] = {1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.4, 0.6};
static const double det_axis_max = 0.6;

/* The decade at or below the smallest non-zero rate of all series, within [1e-8, 1e-2]. */
static void det_axis_min(const vb_det_series *s, size_t n, double *xmin, double *ymin)
{
    double mx = 1, my = 1;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < s[i].curve->n; k++) {
            const vb_curve_point *p = &s[i].curve->pts[k];
            if (p->fmr > 0 && p->fmr < mx)
                mx = p->fmr;
            if (p->fnmr > 0 && p->fnmr < my)
                my = p->fnmr;
        }
    *xmin = fmin(1e-2, fmax(1e-8, pow(10, floor(log10(mx) + 1e-9))));
    *ymin = fmin(1e-2, fmax(1e-8, pow(10, floor(log10(my) + 1e-9))));
}

static void det_tics(text *t, const char *axis, double lo)
{
    char label[32];
    int first = 1;
    tprintf(t, "set %s (", axis);
    for (size_t i = 0; i < VB_ARRAY_LEN(det_ticks); i++) {
        if (det_ticks[i] < lo * (1 - 1e-9) || det_ticks[i] > det_axis_max)
            continue;
        vb_det_tick_label(det_ticks[i], label);
        /* gnuplot reads tic labels as formats: the % sign must be written %% */
        tprintf(t, "%s\"%.*s%%%%\" %.6f", first ? "" : ", ", (int)strlen(label) - 1, label,
                vb_probit(det_ticks[i]));
        first = 0;
    }
    tprintf(t, ")\n");
}

/* Rates of 0 (or 1) have no probit: put them a decade outside the axis, where gnuplot's
 * clipping draws the line to the edge. */
static double det_coord(double p, double lo)
{
    return vb_probit(fmin(fmax(p, lo / 10), 1 - 1e-9));
}

int vb_plot_det(const char *prefix, const char *title, const vb_det_series *series, size_t n, vb_err *e)
{
    if (!n)
        return vb_fail(e, VB_EXIT_IO, "plot: a DET plot needs at least one curve");
    double xmin, ymin;
    det_axis_min(series, n, &xmin, &ymin);
    text b = {0};
    for (size_t i = 0; i < n; i++) {
        tprintf(&b, "$S%zu << EOD\n", i);
        for (size_t k = 0; k < series[i].curve->n; k++) {
            const vb_curve_point *p = &series[i].curve->pts[k];
            tprintf(&b, "%.6f %.6f\n", det_coord(p->fmr, xmin), det_coord(p->fnmr, ymin));
        }
        tprintf(&b, "EOD\n");
    }
    tprintf(&b, "set title ");
    tquote(&b, title ? title : "DET");
    tprintf(&b, "\nset xlabel 'False match rate (FMR)'\nset ylabel 'False non-match rate (FNMR)'\n");
    tprintf(&b, "set xrange [%.6f:%.6f]\nset yrange [%.6f:%.6f]\n", vb_probit(xmin), vb_probit(det_axis_max),
            vb_probit(ymin), vb_probit(det_axis_max));
    det_tics(&b, "xtics", xmin);
    det_tics(&b, "ytics", ymin);
    tprintf(&b, "set grid\nset size square\nset clip one\nset clip two\nset key top right\nplot ");
    for (size_t i = 0; i < n; i++) {
        tprintf(&b, "$S%zu using 1:2 with lines lw 2 title ", i);
        tquote(&b, series[i].label ? series[i].label : "");
        tprintf(&b, ", \\\n     ");
    }
    tprintf(&b, "x with lines dt 2 lc 'gray' title 'FMR = FNMR'\n");
    int rc = render(prefix, "800,800", &b, e);
    free(b.s);
    return rc;
}

/* ---- histograms ---- */

int vb_plot_hist(const char *prefix, const char *title, const vb_hist *h, vb_err *e)
{
    if (!h->bins || !h->gen || !h->imp)
        return vb_fail(e, VB_EXIT_IO, "plot: empty histogram");
    text b = {0};
    tprintf(&b, "$H << EOD\n");
    for (size_t i = 0; i < h->bins; i++) {
        double center = h->lo + ((double)i + 0.5) * h->width;
        double dg = h->n_gen ? (double)h->gen[i] / ((double)h->n_gen * h->width) : 0;
        double di = h->n_imp ? (double)h->imp[i] / ((double)h->n_imp * h->width) : 0;
        tprintf(&b, "%.9g %.9g %.9g %.9g\n", center, dg, h->width, di);
    }
    tprintf(&b, "EOD\nset title ");
    tquote(&b, title ? title : "Score distributions");
    tprintf(&b, "\nset xlabel '%s'\nset ylabel 'density'\n", h->is_distance ? "distance" : "similarity");
    tprintf(&b, "set style fill transparent solid 0.45 noborder\nset grid\nset key top right\n");
    tprintf(&b, "plot $H using 1:2:3 with boxes lc rgb '#1f77b4' title 'genuine (%llu)', \\\n"
                "     $H using 1:4:3 with boxes lc rgb '#d62728' title 'impostor (%llu)'\n",
            (unsigned long long)h->n_gen, (unsigned long long)h->n_imp);
    int rc = render(prefix, "900,500", &b, e);
    free(b.s);
    return rc;
}

/* ---- quantization sweep ---- */

int vb_plot_sweep(const char *prefix, const char *title, const vb_sweep_point *pts, size_t n, vb_err *e)
{
    if (!n)
        return vb_fail(e, VB_EXIT_IO, "plot: no sweep points");
    text b = {0};
    size_t n_series = 0;
    const char *series[64];
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < n_series && strcmp(series[k], pts[i].series))
            k++;
        if (k == n_series && n_series < 64)
            series[n_series++] = pts[i].series;
    }
    /* One data block per series; gnuplot indexes them with `index`. */
    tprintf(&b, "$S << EOD\n");
    for (size_t k = 0; k < n_series; k++) {
        for (size_t i = 0; i < n; i++)
            if (!strcmp(pts[i].series, series[k]) && pts[i].speed > 0 && isfinite(pts[i].error))
                tprintf(&b, "%.9g %.9g\n", pts[i].speed, 100 * pts[i].error);
        tprintf(&b, "\n\n");
    }
    tprintf(&b, "EOD\nset title ");
    tquote(&b, title ? title : "Accuracy cost against speed");
    /* Labels alternate above and below their points: neighbouring levels often lie close. */
    for (size_t i = 0; i < n; i++)
        if (pts[i].speed > 0 && isfinite(pts[i].error)) {
            tprintf(&b, "\nset label ");
            tquote(&b, pts[i].label);
            tprintf(&b, " at %.9g,%.9g offset 0.8,%s", pts[i].speed, 100 * pts[i].error, i % 2 ? "-1.1" : "0.9");
        }
    tprintf(&b, "\nset xlabel 'throughput (faces/s, log scale)'\nset ylabel 'EER (%%)'\nset logscale x\n"
                "set grid\nset key outside right top\nset offsets graph 0.08, graph 0.08, graph 0.1, graph 0.1\n");
    tprintf(&b, "plot ");
    for (size_t k = 0; k < n_series; k++) {
        tprintf(&b, "%s$S index %zu using 1:2 with linespoints pt 7 ps 1.2 title ", k ? ", \\\n     " : "", k);
        tquote(&b, series[k]);
    }
    tprintf(&b, "\n");
    int rc = render(prefix, "900,560", &b, e);
    free(b.s);
    return rc;
}
