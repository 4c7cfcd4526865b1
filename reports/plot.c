#include "reports/plot.h"

#include "core/parse.h"
#include "reports/intervals.h"

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

/* ---- DET and ROC ---- */

void vb_det_tick_label(double p, char buf[32])
{
    double pct = p * 100;
    if (p < 1e-3 * (1 - 1e-9)) {
        /* "0.00001%" is unreadable and collides with its neighbours: 1e-7 instead */
        int ex = (int)floor(log10(p) + 1e-9);
        double mant = p / pow(10, ex);
        snprintf(buf, 32, "%.0fe%d", mant, ex);
        return;
    }
    if (pct >= 1) {
        snprintf(buf, 32, "%g%%", pct);
        return;
    }
    int decimals = (int)ceil(-log10(pct) - 1e-9);
    /* 0.5%, 0.2%: one significant digit after the leading zeros */
    snprintf(buf, 32, "%.*f%%", decimals, pct);
}

/* Tick candidates by importance: a tick is kept only when it is far enough from every more
 * important one already kept (det_pick_ticks). */
typedef struct det_tick {
    double p;
    int rank;
} det_tick;
static const det_tick det_ticks[] = {
    {1e-9, 0}, {1e-8, 0}, {1e-7, 0}, {1e-6, 0}, {1e-5, 0}, {1e-4, 0}, {1e-3, 0}, {1e-2, 0}, {1e-1, 0}, {0.5, 0},
    {0.2, 1},  {0.8, 1},  {0.99, 1}, {0.02, 2}, {0.05, 2}, {0.4, 2},  {0.6, 2},  {0.9, 2},  {0.95, 2},
    {2e-3, 3}, {5e-3, 3}, {2e-4, 3}, {5e-4, 3},
};
static const double det_axis_ends[] = {0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99};
#define DET_AXIS_FLOOR 1e-9
/* Labels of the kept ticks are at least this fraction of the axis apart. */
#define DET_TICK_GAP (1.0 / 20)

/* Range of one DET axis from its rates: the decade at or below the smallest non-zero rate
 * (within [1e-9, 1e-2]) to the first det_axis_ends value at or above the largest rate
 * below 1. */
typedef struct det_range {
    double lo, hi;
} det_range;

static det_range det_axis(double smallest, double largest)
{
    det_range r;
    r.lo = fmin(1e-2, fmax(DET_AXIS_FLOOR, pow(10, floor(log10(smallest) + 1e-9))));
    r.hi = det_axis_ends[VB_ARRAY_LEN(det_axis_ends) - 1];
    for (size_t i = 0; i < VB_ARRAY_LEN(det_axis_ends); i++)
        if (det_axis_ends[i] >= largest * (1 - 1e-9)) {
            r.hi = det_axis_ends[i];
            break;
        }
    return r;
}

/* An axis ends at the largest rate below 1 among the points the other axis shows (a
 * non-zero other rate): beyond it the curve runs along the edge, no data to show. */
static void det_ranges(const vb_det_series *s, size_t n, det_range *x, det_range *y)
{
    double minx = 1, miny = 1, maxx = 0, maxy = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < s[i].curve->n; k++) {
            const vb_curve_point *p = &s[i].curve->pts[k];
            if (p->fmr > 0 && p->fmr < minx)
                minx = p->fmr;
            if (p->fnmr > 0 && p->fnmr < miny)
                miny = p->fnmr;
            if (p->fnmr > 0 && p->fmr < 1 && p->fmr > maxx)
                maxx = p->fmr;
            if (p->fmr > 0 && p->fnmr < 1 && p->fnmr > maxy)
                maxy = p->fnmr;
        }
    *x = det_axis(minx, maxx);
    *y = det_axis(miny, maxy);
}

/* The ticks of one axis, most important first; returns how many (<= the candidates).
 * `coord` maps a rate onto the axis (probit for DET, log10 for the ROC's FMR). */
static size_t det_pick_ticks(det_range r, double (*coord)(double), double *out)
{
    double lo = coord(r.lo), gap = DET_TICK_GAP * (coord(r.hi) - lo);
    size_t n = 0;
    for (int rank = 0; rank <= 3; rank++)
        for (size_t i = 0; i < VB_ARRAY_LEN(det_ticks); i++) {
            double p = det_ticks[i].p;
            if (det_ticks[i].rank != rank || p < r.lo * (1 - 1e-9) || p > r.hi * (1 + 1e-9))
                continue;
            int far = 1;
            for (size_t k = 0; k < n && far; k++)
                far = fabs(coord(out[k]) - coord(p)) >= gap * (1 - 1e-9);
            if (far)
                out[n++] = p;
        }
    return n;
}

/* gnuplot reads tic labels as formats: every % must be written %% */
static void tic_label(text *t, double p)
{
    char label[32];
    vb_det_tick_label(p, label);
    tprintf(t, "\"");
    for (const char *c = label; *c; c++)
        tprintf(t, "%s", *c == '%' ? "%%" : (char[2]){*c, 0});
    tprintf(t, "\"");
}

/* `coord` spaces the ticks; they are placed at coord(p) on a probit axis and at p itself on a
 * gnuplot log axis (at_value), which takes data coordinates. */
static void axis_tics(text *t, const char *axis, det_range r, double (*coord)(double), int at_value)
{
    double ticks[VB_ARRAY_LEN(det_ticks)];
    size_t n = det_pick_ticks(r, coord, ticks);
    tprintf(t, "set %s (", axis);
    for (size_t i = 0; i < n; i++) {
        tprintf(t, "%s", i ? ", " : "");
        tic_label(t, ticks[i]);
        tprintf(t, " %.6g", at_value ? ticks[i] : coord(ticks[i]));
    }
    tprintf(t, ")\n");
}

/* Rates of 0 (or 1) have no probit: put them a decade outside the axis, where gnuplot's
 * clipping draws the line to the edge. */
static double det_coord(double p, double lo)
{
    return vb_probit(fmin(fmax(p, lo / 10), 1 - 1e-9));
}

/* A datablock string: double-quoted, so a double quote inside becomes a single one. */
static void data_string(text *t, const char *s)
{
    tprintf(t, "\"");
    for (; s && *s; s++)
        tprintf(t, "%c", *s == '"' || *s == '\n' ? '\'' : *s);
    tprintf(t, "\"");
}

/* Marks outside the axes are left out: gnuplot does not clip labels. (The ROC's y axis
 * covers every rate on the curves, so only its FMR range limits a mark there.) */
static int mark_shown(const vb_det_mark *m, det_range x, det_range y, int roc)
{
    if (!(m->fmr >= x.lo && m->fmr <= x.hi))
        return 0;
    return roc ? m->fnmr >= 0 && m->fnmr <= 1 : m->fnmr >= y.lo && m->fnmr <= y.hi;
}

/* Data blocks $S<i> (the curve) and $M<i> (its marks: x y "label"). */
static void series_blocks(text *b, const vb_det_series *s, const vb_det_marks *mk, size_t n, det_range x,
                          det_range y, int roc)
{
    for (size_t i = 0; i < n; i++) {
        tprintf(b, "$S%zu << EOD\n", i);
        for (size_t k = 0; k < s[i].curve->n; k++) {
            const vb_curve_point *p = &s[i].curve->pts[k];
            if (roc)
                tprintf(b, "%.6g %.6f\n", fmax(p->fmr, x.lo / 10), 1 - p->fnmr);
            else
                tprintf(b, "%.6f %.6f\n", det_coord(p->fmr, x.lo), det_coord(p->fnmr, y.lo));
        }
        tprintf(b, "EOD\n$M%zu << EOD\n", i);
        for (size_t k = 0; mk && k < mk[i].n; k++) {
            const vb_det_mark *m = &mk[i].marks[k];
            if (!mark_shown(m, x, y, roc))
                continue;
            if (roc)
                tprintf(b, "%.6g %.6f ", m->fmr, 1 - m->fnmr);
            else
                tprintf(b, "%.6f %.6f ", vb_probit(m->fmr), vb_probit(m->fnmr));
            data_string(b, m->label);
            tprintf(b, "\n");
        }
        tprintf(b, "EOD\n");
    }
}

static int has_band(const vb_det_band *bands, size_t i)
{
    return bands && bands[i].n_genuine > 0 && bands[i].level > 0 && bands[i].level < 1;
}

/* Data blocks $B<i>: x, FNMR interval low, high (DET coordinates) at each curve point. */
static void band_blocks(text *b, const vb_det_series *s, const vb_det_band *bands, size_t n, det_range x,
                        det_range y)
{
    for (size_t i = 0; i < n; i++) {
        if (!has_band(bands, i))
            continue;
        uint64_t ng = bands[i].n_genuine;
        tprintf(b, "$B%zu << EOD\n", i);
        for (size_t k = 0; k < s[i].curve->n; k++) {
            const vb_curve_point *p = &s[i].curve->pts[k];
            double errors = nearbyint(p->fnmr * (double)ng);
            uint64_t ke = errors <= 0 ? 0 : errors >= (double)ng ? ng : (uint64_t)errors;
            vb_interval ci = vb_clopper_pearson(ke, ng, bands[i].level);
            tprintf(b, "%.6f %.6f %.6f\n", det_coord(p->fmr, x.lo), det_coord(ci.low, y.lo), det_coord(ci.high, y.lo));
        }
        tprintf(b, "EOD\n");
    }
}

/* The bands first, under the lines; one key entry for all of them. */
static void plot_bands(text *b, const vb_det_band *bands, size_t n)
{
    int titled = 0;
    for (size_t i = 0; i < n; i++) {
        if (!has_band(bands, i))
            continue;
        tprintf(b, "$B%zu using 1:2:3 with filledcurves fs transparent solid 0.18 noborder lc %zu ", i, i + 1);
        if (titled)
            tprintf(b, "notitle, \\\n     ");
        else
            tprintf(b, "title '%g%% Clopper-Pearson band of FNMR', \\\n     ", 100 * bands[i].level);
        titled = 1;
    }
}

/* One line per series in linetype i+1, its marks as filled points of the same colour with
 * their labels beside them. */
static void plot_series(text *b, const vb_det_series *s, const vb_det_marks *mk, const vb_det_band *bands, size_t n)
{
    tprintf(b, "plot ");
    plot_bands(b, bands, n);
    for (size_t i = 0; i < n; i++) {
        tprintf(b, "$S%zu using 1:2 with lines lw 2 lc %zu title ", i, i + 1);
        tquote(b, s[i].label ? s[i].label : "");
        tprintf(b, ", \\\n     ");
        /* labels of alternate series above and below their points: EER points lie close */
        if (mk && mk[i].n)
            tprintf(b, "$M%zu using 1:2 with points pt 7 ps 1.3 lc %zu notitle, \\\n     "
                       "$M%zu using 1:2:3 with labels left offset 0.8,%s font ',9' tc lt %zu notitle, \\\n     ",
                    i, i + 1, i, i % 2 ? "-0.8" : "0.7", i + 1);
    }
}

static double probit_axis(double p)
{
    return vb_probit(p);
}

char *vb_plot_det_script(const char *title, const vb_det_series *series, const vb_det_marks *marks, size_t n,
                         vb_err *e)
{
    return vb_plot_det_script_banded(title, series, marks, NULL, n, e);
}

char *vb_plot_det_script_banded(const char *title, const vb_det_series *series, const vb_det_marks *marks,
                                const vb_det_band *bands, size_t n, vb_err *e)
{
    if (!n)
        return vb_fail(e, VB_EXIT_IO, "plot: a DET plot needs at least one curve"), NULL;
    det_range x, y;
    det_ranges(series, n, &x, &y);
    text b = {0};
    series_blocks(&b, series, marks, n, x, y, 0);
    band_blocks(&b, series, bands, n, x, y);
    tprintf(&b, "set title ");
    tquote(&b, title ? title : "DET");
    tprintf(&b, "\nset xlabel 'False match rate (FMR)'\nset ylabel 'False non-match rate (FNMR)'\n");
    tprintf(&b, "set xrange [%.6f:%.6f]\nset yrange [%.6f:%.6f]\n", vb_probit(x.lo), vb_probit(x.hi),
            vb_probit(y.lo), vb_probit(y.hi));
    axis_tics(&b, "xtics", x, probit_axis, 0);
    axis_tics(&b, "ytics", y, probit_axis, 0);
    tprintf(&b, "set grid\nset size square\nset clip one\nset clip two\nset key top right\n");
    plot_series(&b, series, marks, bands, n);
    tprintf(&b, "x with lines dt 2 lc 'gray' title 'FMR = FNMR'\n");
    if (b.oom) {
        free(b.s);
        return vb_fail(e, VB_EXIT_IO, "plot: out of memory"), NULL;
    }
    return b.s;
}

static double log_axis(double p)
{
    return log10(p);
}

/* The ROC's lowest true match rate over the shown FMR range, rounded down to 0.1. */
static double roc_ymin(const vb_det_series *s, size_t n, double xlo)
{
    double lowest = 1;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < s[i].curve->n; k++)
            if (s[i].curve->pts[k].fmr >= xlo)
                lowest = fmin(lowest, 1 - s[i].curve->pts[k].fnmr);
    return fmin(0.9, floor(lowest * 10 + 1e-9) / 10);
}

char *vb_plot_roc_script(const char *title, const vb_det_series *series, const vb_det_marks *marks, size_t n,
                         vb_err *e)
{
    if (!n)
        return vb_fail(e, VB_EXIT_IO, "plot: a ROC plot needs at least one curve"), NULL;
    det_range x, y;
    det_ranges(series, n, &x, &y);
    x.hi = 1;
    text b = {0};
    series_blocks(&b, series, marks, n, x, y, 1);
    tprintf(&b, "set title ");
    tquote(&b, title ? title : "ROC");
    tprintf(&b, "\nset xlabel 'False match rate (FMR, log scale)'\nset ylabel 'True match rate (1 - FNMR)'\n");
    tprintf(&b, "set logscale x\nset xrange [%.3g:1]\nset yrange [%.2f:1]\n", x.lo, roc_ymin(series, n, x.lo));
    axis_tics(&b, "xtics", x, log_axis, 1);
    tprintf(&b, "set ytics 0.1\nset grid\nset clip one\nset clip two\nset key bottom right\n");
    plot_series(&b, series, marks, NULL, n);
    tprintf(&b, "1/0 notitle\n"); /* closes the list (no chance line: it hugs the right edge on a log axis) */
    if (b.oom) {
        free(b.s);
        return vb_fail(e, VB_EXIT_IO, "plot: out of memory"), NULL;
    }
    return b.s;
}

static int render_script(const char *prefix, const char *size, char *script, vb_err *e)
{
    if (!script)
        return -1;
    text b = {.s = script, .len = strlen(script), .cap = strlen(script) + 1};
    int rc = render(prefix, size, &b, e);
    free(script);
    return rc;
}

int vb_plot_det(const char *prefix, const char *title, const vb_det_series *series, size_t n, vb_err *e)
{
    return vb_plot_det_marked(prefix, title, series, NULL, n, e);
}

int vb_plot_det_marked(const char *prefix, const char *title, const vb_det_series *series,
                       const vb_det_marks *marks, size_t n, vb_err *e)
{
    return render_script(prefix, "800,800", vb_plot_det_script(title, series, marks, n, e), e);
}

int vb_plot_det_banded(const char *prefix, const char *title, const vb_det_series *series,
                       const vb_det_marks *marks, const vb_det_band *bands, size_t n, vb_err *e)
{
    return render_script(prefix, "800,800", vb_plot_det_script_banded(title, series, marks, bands, n, e), e);
}

int vb_plot_roc(const char *prefix, const char *title, const vb_det_series *series, const vb_det_marks *marks,
                size_t n, vb_err *e)
{
    return render_script(prefix, "800,640", vb_plot_roc_script(title, series, marks, n, e), e);
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

/* ---- timelines (the benchmark history) ---- */

char *vb_plot_timeline_script(const char *title, const char *ylabel, const vb_timeline_point *pts, size_t n,
                              vb_err *e)
{
    if (!n)
        return vb_fail(e, VB_EXIT_IO, "plot: no history points"), NULL;
    enum { MAX_SERIES = 64 };
    const char *series[MAX_SERIES];
    size_t n_series = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < n_series && strcmp(series[k], pts[i].series))
            k++;
        if (k == n_series && n_series < MAX_SERIES)
            series[n_series++] = pts[i].series;
    }
    text b = {0};
    tprintf(&b, "$T << EOD\n");
    for (size_t k = 0; k < n_series; k++) {
        for (size_t i = 0; i < n; i++)
            if (!strcmp(pts[i].series, series[k]) && isfinite(pts[i].value))
                tprintf(&b, "%.0f %.9g\n", pts[i].t, pts[i].value);
        tprintf(&b, "\n\n");
    }
    tprintf(&b, "EOD\nset title ");
    tquote(&b, title ? title : "Benchmark history");
    /* dates along a slanted axis: a history spans seconds to years, labels must not collide */
    tprintf(&b, "\nset xdata time\nset timefmt '%%s'\nset format x '%%Y-%%m-%%d %%H:%%M'\nset xtics rotate by 30 right"
                "\nset xlabel 'time (UTC)'\nset ylabel ");
    tquote(&b, ylabel ? ylabel : "value");
    tprintf(&b, "\nset grid\nset key below\nset offsets graph 0.05, graph 0.05, graph 0.1, graph 0.1\n"
                "plot ");
    for (size_t k = 0; k < n_series; k++) {
        tprintf(&b, "%s$T index %zu using 1:2 with linespoints pt 7 ps 1.0 title ", k ? ", \\\n     " : "", k);
        tquote(&b, series[k]);
    }
    tprintf(&b, "\n");
    if (b.oom) {
        free(b.s);
        return vb_fail(e, VB_EXIT_IO, "plot: out of memory"), NULL;
    }
    return b.s;
}

int vb_plot_timeline(const char *prefix, const char *title, const char *ylabel, const vb_timeline_point *pts,
                     size_t n, vb_err *e)
{
    return render_script(prefix, "1000,560", vb_plot_timeline_script(title, ylabel, pts, n, e), e);
}
