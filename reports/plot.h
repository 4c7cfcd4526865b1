/* DET curves and score histograms drawn by gnuplot (through a popen pipe), each written as
 * PREFIX.png (pngcairo) and PREFIX.svg.
 *
 * gnuplot is looked up as $VB_GNUPLOT when that is set (set it empty to disable plots),
 * else as `gnuplot` on $PATH. When it is not there the functions return VB_PLOT_SKIPPED,
 * which is not an error: callers say "plots skipped". gnuplot runs under coreutils'
 * `timeout` ($VB_GNUPLOT_TIMEOUT seconds, default 120; then SIGTERM, SIGKILL 5 s later) so
 * it can never hang the caller; its exit status is checked, its stdout is discarded (it
 * never reaches the caller's CSV) and its stderr is quoted in the error message. */
#ifndef VB_PLOT_H
#define VB_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "reports/metrics.h"

enum { VB_PLOT_WRITTEN = 0, VB_PLOT_SKIPPED = 1 };

/* A marked operating point on a DET or ROC plot: the model's threshold, the EER point, a
 * calibrated threshold. Rates as fractions; a point with a NaN rate is not drawn. */
typedef struct vb_det_mark {
    const char *label; /* printed next to the point, e.g. "thr 0.60", "EER" */
    double fmr, fnmr;
} vb_det_mark;

/* One curve on a DET or ROC plot, e.g. one backend/quantization combination. */
typedef struct vb_det_series {
    const char *label;
    const vb_curve *curve;
} vb_det_series;

/* The marked operating points of one series (marks may be NULL when n is 0). */
typedef struct vb_det_marks {
    const vb_det_mark *marks;
    size_t n;
} vb_det_marks;

/* DET plot: x = Phi^-1(FMR), y = Phi^-1(FNMR), the FMR = FNMR diagonal dashed, one line
 * per series. Axis ranges follow the data: each starts at the decade at or below the
 * smallest non-zero rate of any series (about 1/N_impostor for FMR; not below 1e-9) and
 * ends at the first of 20%, 40%, 60%, 80%, 90%, 95%, 99% at or above the largest rate below
 * 1 among the curve points whose other rate is non-zero (beyond it a curve only runs along
 * the axis edge): on lfw-all, FNMR up to 99% where FMR is 1e-7. Tick labels: percent from 0.1% up, scientific (1e-6) below; a tick that
 * would sit closer than 1/20 of the axis to a more important one (decades first) is
 * dropped, so labels never collide. Points with a rate of 0 run along the axis edge.
 * Returns VB_PLOT_WRITTEN, VB_PLOT_SKIPPED, or -1 (e filled: no series, gnuplot failed or
 * timed out, no output). */
int vb_plot_det(const char *prefix, const char *title, const vb_det_series *series, size_t n, vb_err *e);

/* The same with each series' marks (marks[i] for series[i]; marks may be NULL) drawn as
 * filled points in the series' colour, labelled. Marks outside the axes are left out. */
int vb_plot_det_marked(const char *prefix, const char *title, const vb_det_series *series,
                       const vb_det_marks *marks, size_t n, vb_err *e);

/* A confidence band around a DET curve: the pointwise Clopper-Pearson interval of FNMR at
 * `level` (FNMR at a curve point is k of n_genuine genuine trials, k = round(FNMR *
 * n_genuine)), drawn as a transparent band in the series' colour under its line: how far
 * each FNMR could move by chance at that FMR (the FMR of a point is taken as measured, so
 * the band is vertical only). No band when n_genuine is 0 or level is not in (0, 1). */
typedef struct vb_det_band {
    uint64_t n_genuine;
    double level; /* e.g. 0.95, the run's --confidence */
} vb_det_band;

/* vb_plot_det_marked with bands[i] around series[i] (bands may be NULL: none). */
int vb_plot_det_banded(const char *prefix, const char *title, const vb_det_series *series,
                       const vb_det_marks *marks, const vb_det_band *bands, size_t n, vb_err *e);

/* ROC plot of the same series: x = FMR on a log axis (from the same data-driven decade as
 * the DET plot to 1), y = 1 - FNMR (true match rate) from the lowest value on the shown
 * curves rounded down to 0.1, to 1; marks as on the DET plot. Returns as vb_plot_det. */
int vb_plot_roc(const char *prefix, const char *title, const vb_det_series *series, const vb_det_marks *marks,
                size_t n, vb_err *e);

/* The gnuplot script body vb_plot_det_marked / vb_plot_roc would send (data blocks,
 * ranges, tics, plot command; no terminal lines), malloc'd, NUL-terminated; NULL with e
 * filled when there is no series or on allocation failure. For tests and for debugging a
 * plot without gnuplot. */
char *vb_plot_det_script(const char *title, const vb_det_series *series, const vb_det_marks *marks, size_t n,
                         vb_err *e);
char *vb_plot_det_script_banded(const char *title, const vb_det_series *series, const vb_det_marks *marks,
                                const vb_det_band *bands, size_t n, vb_err *e);
char *vb_plot_roc_script(const char *title, const vb_det_series *series, const vb_det_marks *marks, size_t n,
                         vb_err *e);

/* Genuine and impostor histograms (each normalised to a density, so sets of very
 * different sizes compare) over the bins of h, x axis in the score's units. */
int vb_plot_hist(const char *prefix, const char *title, const vb_hist *h, vb_err *e);

/* One point of the quantization sweep plot: a (backend, level) combination. */
typedef struct vb_sweep_point {
    const char *series;   /* backend/device, one line per series */
    const char *label;    /* the level, printed next to the point */
    double speed;         /* faces per second */
    double error;         /* EER (a rate, plotted in %) */
} vb_sweep_point;

/* Accuracy cost against speed: EER (%) over throughput (faces/s, log axis), one line per
 * series through its levels, each point labelled. */
int vb_plot_sweep(const char *prefix, const char *title, const vb_sweep_point *pts, size_t n, vb_err *e);

/* One value of a history (reports/history.h) at a time: a point of a timeline plot. */
typedef struct vb_timeline_point {
    const char *series; /* one line per series, e.g. "cpu/amd-epyc/fp32 single-stream p99_ms" */
    double t;           /* seconds since 1970 (UTC) */
    double value;       /* NaN: left out */
} vb_timeline_point;

/* A device's numbers over time: value (ylabel) against date, one line per series in order
 * of first appearance, points marked. Returns as vb_plot_det. */
int vb_plot_timeline(const char *prefix, const char *title, const char *ylabel, const vb_timeline_point *pts,
                     size_t n, vb_err *e);
/* Its script body (as vb_plot_det_script), for tests. */
char *vb_plot_timeline_script(const char *title, const char *ylabel, const vb_timeline_point *pts, size_t n,
                              vb_err *e);

/* 1 when gnuplot can be run (see above), else 0. */
int vb_gnuplot_available(void);

/* Tick label for a probability on a DET/ROC axis: percent from 0.1% up (0.001 -> "0.1%",
 * 0.2 -> "20%", 0.99 -> "99%"), scientific below (1e-4 -> "1e-4", 2e-5 -> "2e-5"), so
 * small rates stay short. buf must hold 32 bytes. */
void vb_det_tick_label(double p, char buf[32]);

#endif
