/* Confidence intervals of error rates (docs/metrics.md "Confidence"), and the metrics
 * rows built from them (reports/metrics.h groups VB_MG_CI*, VB_MG_BOOT*, VB_MG_CALIBRATION).
 *
 * Binomial intervals, for a rate that is k errors out of n trials:
 *   vb_wilson           Wilson score interval: center (p + z^2/2n) / (1 + z^2/n), half-width
 *                       z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/4n^2), z = Phi^-1(1 - alpha/2),
 *                       alpha = 1 - level. k = 0 gives low = 0 exactly, k = n high = 1.
 *   vb_clopper_pearson  the exact ("conservative") interval: low = Beta^-1(alpha/2; k, n-k+1),
 *                       high = Beta^-1(1-alpha/2; k+1, n-k), by bisection on the regularized
 *                       incomplete beta function (continued fraction). Closed forms at the
 *                       edges: k = 0 -> [0, 1 - (alpha/2)^(1/n)], k = n -> [(alpha/2)^(1/n), 1].
 *                       This is the bound a gate compares against (<metric>_ci_high).
 * Both return {NaN, NaN} when n = 0, k > n, or level is not in (0, 1). Both are conditional
 * on the threshold: for fnmr@fmr=X the threshold was itself chosen on the same trials, which
 * they do not account for (the bootstrap below does).
 *
 * Which rates get intervals (a rate that is k errors out of n trials):
 *   fnmr@fmr=X (false non-matches / genuine) and its achieved FMR fnmr@fmr=X_fmr (false
 *   matches / impostor) for every target X, fmr@threshold / fnmr@threshold (the model's
 *   threshold, run), threshold_fmr / threshold_fnmr (metrics --threshold), calibrated_fmr /
 *   calibrated_fnmr (run --target-fmr). Not eer, eer_fvc, min_hter, auc: they average two
 *   rates or are not error counts at one fixed threshold.
 *
 * Subject-level bootstrap (vb_bootstrap_metrics): trials of one subject are correlated, so
 * subjects, not trials, are resampled. The subjects that appear in the trials are drawn with
 * replacement, as many draws as there are such subjects; subject s drawn c_s times. A trial
 * of samples of subjects a and b is then counted with multiplicity
 *   genuine trial (a = b):   c_a           (it goes with its subject)
 *   impostor trial:          c_a * c_b     (kept when both subjects are drawn, once per pair
 *                                           of drawn copies: the "two-level" scheme)
 * and every rate is recomputed from the weighted counts, thresholds included (fnmr@fmr=X
 * re-chooses its threshold per replicate, so its interval covers the threshold choice).
 * A replicate with no genuine or no impostor weight leaves the rates undefined and is left
 * out. The interval is the percentile interval over the defined replicates, nearest-rank:
 * low = sorted[ceil(alpha/2 * R) - 1] (index 0 at least), high = sorted[ceil((1 - alpha/2) * R) - 1].
 * Random numbers: replicate r's draws come from splitmix64 started at a hash of (seed, r), so
 * the result depends on (seed, replicates) only, never on the thread count or the method.
 *
 * Two methods compute the same replicates (vb_boot_config.method):
 *   aggregated (default)  one pass over the trials counts, per subject, its genuine trials
 *                         and their false non-matches at the model threshold, and per
 *                         unordered subject pair its impostor trials and false matches; a
 *                         replicate's totals and model-threshold counts are then sums over
 *                         subjects (c_s * n_s) and pairs (c_a * c_b * n_ab). fnmr@fmr=X needs
 *                         the weighted counts above every threshold down to the loosest
 *                         target's crossing: only the "tail" (the trials more similar than a
 *                         cutoff placed, from a sample, where ~15% of the impostor trials lie
 *                         above) is sorted, and each replicate walks it from the top as the
 *                         per-trial method does. A replicate whose FMR stays <= 1e-1 to the
 *                         tail's end makes the tail 2x wider (at last every trial) and the
 *                         replicates run again. Counts are integers below 2^53 summed in
 *                         doubles, so every rate is the same double the per-trial method
 *                         gives: same intervals, bit for bit (tests/test_intervals.c).
 *                         The calibrated point gets its own per-subject and per-pair counts
 *                         (evaluation trials, errors at the calibrated threshold).
 *                         Replicates go 16 at a time through each pass over the counts/tail
 *                         (GCC/Clang vectors; AVX-512/AVX2 clones where the CPU has them).
 *                         Measured on lfw-all (87.5M trials, 5,749 subjects, 16.5M subject
 *                         pairs, 1000 replicates, 2 threads): 22 s of CPU time (run with
 *                         minus without --bootstrap), 64 s wall on two cores shared with ~15
 *                         other runnable processes. Streamed from run's score file
 *                         (vb_bootstrap_stream): peak RSS of the whole lfw-all run 475 MB,
 *                         against 1.88 GB with every score in memory (--scores-csv), the
 *                         same metrics.csv (bench/results/lfw-all-run-sharded-*.csv).
 *   per-trial             the reference: a pass over every trial per replicate; refused
 *                         (returns 0, *why says so) above VB_BOOT_MAX_WORK trials * replicates.
 * vb_boot_method_name gives the name provenance.csv records ("aggregated", "per-trial"). */
#ifndef VB_INTERVALS_H
#define VB_INTERVALS_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "reports/metrics.h"
#include "reports/scores.h"

typedef struct vb_interval {
    double low, high;
} vb_interval;

vb_interval vb_wilson(uint64_t k, uint64_t n, double level);
vb_interval vb_clopper_pearson(uint64_t k, uint64_t n, double level);

/* I_x(a, b), the regularized incomplete beta function, a, b > 0, x in [0, 1]. */
double vb_incomplete_beta(double a, double b, double x);

/* The Wilson and Clopper-Pearson rows (ci_*, wilson_*) of every rate that m holds, from its
 * error counts, at `level`; sets m->confidence and the VB_MG_CI* bits of the groups present. */
void vb_metrics_add_intervals(vb_metrics *m, double level);

/* ---- subject-level bootstrap ---- */

#define VB_BOOT_MAX_WORK 5e8 /* per-trial method: trials * replicates, ~7 s on two shared cores */

typedef enum vb_boot_method { VB_BOOT_AGGREGATED = 0, VB_BOOT_PER_TRIAL } vb_boot_method;
const char *vb_boot_method_name(vb_boot_method method);

typedef struct vb_boot_input {
    const vb_scores *scores;      /* the trials (their units: s->is_distance) */
    const uint32_t *subject_a;    /* per trial: subject index of each sample */
    const uint32_t *subject_b;
    double model_threshold;       /* caller's units; NaN: no model-threshold rows */
    /* run --target-fmr: the calibrated operating point, a second fixed threshold counted
     * like the model's (same replicates) but over the evaluation split only */
    int have_calibrated;          /* 0: no calibrated_*_boot rows */
    double calibrated_threshold;  /* caller's units (m->calibrated_threshold) */
    const uint8_t *calibrated_eval; /* per trial: 1 in the evaluation split; NULL: every trial */
} vb_boot_input;

typedef struct vb_boot_config {
    unsigned replicates; /* 0: nothing to do */
    uint64_t seed;
    double level;
    int threads;         /* >= 1 */
    vb_boot_method method; /* 0: aggregated */
    double tail_fraction;  /* aggregated: the first tail's share of impostor trials; 0: 0.15
                              (tests make it tiny to exercise the widening) */
    size_t buffer_trials;  /* aggregated: tail trials (and sparse pair keys) held in memory at a
                              time before a sorted run is spilled; 0: 1M (tests make it tiny) */
    const char *tmp_dir;   /* aggregated: where spilled runs go; NULL: $TMPDIR, else /tmp */
} vb_boot_config;

/* Fills the *_boot_low/_boot_high rows of fnmr@fmr=X (FNMR and achieved FMR, every target)
 * and, with a model threshold, of fmr@threshold/fnmr@threshold, plus bootstrap_replicates,
 * bootstrap_seed and bootstrap_subjects; sets VB_MG_BOOT (and VB_MG_BOOT_MODEL_THRESHOLD).
 * With have_calibrated, also calibrated_fmr/_fnmr_boot_*, VB_MG_BOOT_CALIBRATION: the same
 * draws (subjects of ALL the trials, so the calibration split's subjects are drawn too and
 * weigh nothing), each replicate's FMR/FNMR at calibrated_threshold over the weighted
 * evaluation trials; a replicate whose evaluation split has no genuine (impostor) weight
 * leaves that FNMR (FMR) undefined. The threshold is not re-chosen per replicate: the
 * interval is conditional on the calibration split, as the Clopper-Pearson one is.
 * Returns 1 when done, 0 when skipped (replicates 0, or per-trial over VB_BOOT_MAX_WORK:
 * *why says so), -1 on bad input (NaN score, label) or allocation failure. */
int vb_bootstrap_metrics(const vb_boot_input *in, const vb_boot_config *cfg, vb_metrics *m, const char **why,
                         vb_err *e);

/* ---- the aggregated bootstrap over a stream of trials ---- */

/* One chunk of trials: their scores, each trial's two subjects and, with a calibrated
 * point, whether it is in the evaluation split. */
typedef struct vb_boot_chunk {
    const vb_scores *scores;
    const uint32_t *subject_a, *subject_b;
    const uint8_t *calibrated_eval; /* NULL: every trial of the chunk */
} vb_boot_chunk;

/* Every trial, in the same order on each pass, a chunk at a time: next(ctx, restart, ...)
 * with restart = 1 starts a pass (from the first trial); returns 1 with *chunk filled (valid
 * until the next call), 0 after the last chunk, -1 on error (e filled). */
typedef struct vb_boot_source {
    int (*next)(void *ctx, int restart, vb_boot_chunk *chunk, vb_err *e);
    void *ctx;
    double model_threshold;       /* as vb_boot_input */
    int have_calibrated;
    double calibrated_threshold;
} vb_boot_source;

/* The aggregated method of vb_bootstrap_metrics over a stream (vb_bootstrap_metrics with
 * VB_BOOT_AGGREGATED is this over its arrays): the same rows, bit for bit, in memory that
 * does not grow with the trial count. Two passes over the trials (a third and more only when
 * the tail is widened): the first numbers the subjects, counts the genuine trials per subject
 * and samples impostor similarities for the tail's cutoff; the second counts impostor trials
 * per subject pair (the dense triangle, or sorted key runs merged as they fill
 * buffer_trials) and collects the tail, sorted buffer_trials at a time and spilled to a
 * temporary file in tmp_dir when it does not fit one buffer, then heap-merged into one
 * sorted file that each block of replicates walks a window (buffer_trials) at a time.
 * Memory: the per-subject and per-pair counts (lfw-all: 5,749 subjects, 16.5M pairs, the
 * dense triangle ~130 MB), ~48 bytes a buffered tail trial, one window per thread; the
 * tail's disk: 16 bytes a tail trial (spilled runs) plus 8 (the merged tail). Returns 0
 * (rows filled when some trial has subjects) or -1. */
int vb_bootstrap_stream(const vb_boot_source *src, const vb_boot_config *cfg, vb_metrics *m, vb_err *e);

/* ---- calibration ---- */

/* The operating threshold for FMR <= target on the calibration trials `cal`, by the fnmr@fmr
 * rule of docs/metrics.md: the lowest FNMR, i.e. the most permissive operating point whose FMR
 * <= target ("accept nothing" when none qualifies: the double just beyond the most similar
 * score); then FMR/FNMR at that fixed threshold on the evaluation trials `eval` (same units),
 * with Wilson and Clopper-Pearson intervals at `level`. Fills the calibrated_* rows and sets
 * VB_MG_CALIBRATION. Fails (VB_EXIT_INPUT) when either set lacks genuine or impostor trials. */
int vb_calibrate(const vb_scores *cal, const vb_scores *eval, double target_fmr, double level, vb_metrics *m,
                 vb_err *e);

#endif
