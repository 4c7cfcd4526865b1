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

#include "core/common.h"
#include "reports/metrics.h"

enum { VB_PLOT_WRITTEN = 0, VB_PLOT_SKIPPED = 1 };

/* One curve on a DET plot, e.g. one backend/quantization combination. */
typedef struct vb_det_series {
    const char *label;
    const vb_curve *curve;
} vb_det_series;

/* DET plot: x = Phi^-1(FMR), y = Phi^-1(FNMR), ticks labelled in percent (0.1%, 1%, 5%,
 * 20%, 40%, ...), the FMR = FNMR diagonal dashed, one line per series. Axis ranges start a
 * decade below the smallest non-zero rate of any series (not below 1e-8) and end at 60%;
 * points with a rate of 0 run along the axis edge. Returns VB_PLOT_WRITTEN,
 * VB_PLOT_SKIPPED, or -1 (e filled: no series, gnuplot failed or timed out, no output). */
int vb_plot_det(const char *prefix, const char *title, const vb_det_series *series, size_t n, vb_err *e);

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

/* 1 when gnuplot can be run (see above), else 0. */
int vb_gnuplot_available(void);

/* Tick label for a probability on a DET axis: 0.001 -> "0.1%", 0.2 -> "20%",
 * 1e-6 -> "0.0001%". buf must hold 32 bytes. */
void vb_det_tick_label(double p, char buf[32]);

#endif
