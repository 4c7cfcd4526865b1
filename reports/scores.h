/* Trial scores: THE one representation of a set of verification trials in veribench.
 * `veribench run` computes into it (cli/scores.c), the score-file readers fill it
 * (reports/score_file.h), and the metrics engine takes it as input (reports/metrics.h).
 *
 * Per trial i < n:
 *   score[i]  a similarity (higher = more alike), or a distance when is_distance (lower =
 *             more alike; the face net's euclidean distance). A trial touching a sample that
 *             failed to acquire (FTA) scores the infinity that never matches: -inf similarity,
 *             +inf distance. The opposite infinity and NaN are invalid; the metrics refuse them.
 *   label[i]  1 genuine (mated), 0 impostor.
 *   fold[i]   the trial's fold id, 1..65535 (LFW: 1..10), or 0 = in no fold: the convention of
 *             datasets/dataset.h, whose vb_trial.fold has the same type (uint16_t), so a run
 *             copies folds as they are. fold is NULL when the trials carry no fold information
 *             at all (a score file without a fold column, a protocol without folds).
 * fta counts the trials scored with the FTA infinity (kept up to date by vb_scores_append;
 * vb_scores_alloc callers that fill the arrays themselves set it).
 *
 * Ownership: the arrays are owned by the struct; vb_scores_free releases them and zeroes it.
 * A zeroed struct ({0}) is a valid empty set (similarities, no folds). */
#ifndef VB_SCORES_H_REPORTS
#define VB_SCORES_H_REPORTS

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

typedef struct vb_scores {
    double *score;
    uint8_t *label;
    uint16_t *fold; /* NULL: no fold information */
    size_t n, cap;
    int is_distance;
    size_t fta;
} vb_scores;

/* An empty set; with_folds allocates the fold array (so fold != NULL even while n == 0).
 * VB_EXIT_IO on allocation failure. */
int vb_scores_init(vb_scores *s, int is_distance, int with_folds, vb_err *e);

/* n trials with uninitialised contents, for callers that fill the arrays in place (possibly
 * from several threads). */
int vb_scores_alloc(vb_scores *s, size_t n, int is_distance, int with_folds, vb_err *e);

/* Appends one trial (fold ignored when the set has no fold array); counts an FTA score. */
int vb_scores_append(vb_scores *s, double score, uint8_t label, uint16_t fold, vb_err *e);

void vb_scores_free(vb_scores *s);

/* Error counts at one threshold in the set's units (accept s >= t; for distances d <= t),
 * by one pass over the trials; exact integer counts. The threshold must not be NaN. */
typedef struct vb_rates {
    double threshold; /* as given */
    size_t genuine, impostor;
    size_t false_matches, false_nonmatches;
    double fmr, fnmr; /* NaN when there is no impostor / genuine trial */
} vb_rates;
void vb_scores_rates(const vb_scores *s, double threshold, vb_rates *out);
/* acc += part (same threshold): the counts of one more block of trials, rates recomputed, so
 * a stream of blocks gives exactly vb_scores_rates of the whole. A zeroed acc is empty. */
void vb_rates_merge(vb_rates *acc, const vb_rates *part);

#endif
