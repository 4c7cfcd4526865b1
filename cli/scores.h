/* Scoring every trial of a run and writing DIR/scores/<combo>.csv.gz (header
 * a,b,label,score,fold), incrementally and resumably: the file is a sequence of gzip
 * members of ~1M rows each (a valid .gz for any reader) and <file>.progress records after
 * each member how many trials and bytes are complete and the SHA-256 of those bytes, so a
 * killed run truncates to the last complete member and carries on (a file that no longer
 * matches its record is written again). Scores are in the model's own units (a euclidean
 * distance for the face net) rounded to 9 decimal places, score = round(d * 1e9) / 1e9, and
 * written with %.9f: strtod of that text is the correctly rounded double of the same
 * decimal, which is exactly that quotient, so the file reads back to bit-identical values and
 * `veribench metrics` on it reproduces the run's metrics exactly. (1e-9 is finer than float
 * descriptors resolve.) A trial touching a sample that failed to acquire scores +inf (never
 * a match), written "inf". */
#ifndef VB_SCORES_H
#define VB_SCORES_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "datasets/dataset.h"
#include "reports/scores.h"

/* Euclidean distance of two descriptors, in double: the face net's score. */
static inline double vb_descriptor_distance(const float *a, const float *b, int dim)
{
    double sum = 0;
    for (int i = 0; i < dim; i++) {
        double d = (double)a[i] - b[i];
        sum += d * d;
    }
    return sqrt(sum);
}

/* Cosine similarity of two descriptors (1 for two zero vectors, 0 when only one is zero):
 * how far a backend or a quantization level moved a template. */
static inline double vb_descriptor_cosine(const float *a, const float *b, int dim)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < dim; i++)
        ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
}

/* Every trial's score from the templates (desc: n_samples * dim floats; ok: 1 if the
 * sample's template exists) with `threads` threads, each walking its own range, into a
 * vb_scores of distances (reports/scores.h): 9 decimals, +inf for a failure to acquire
 * (counted in out->fta); folds copied from the protocol, out->fold NULL when it has none. */
int vb_scores_compute(const vb_dataset *d, const float *desc, const uint8_t *ok, int dim,
                      int threads, vb_scores *out, vb_err *e);

/* The same for a scorer other than the euclidean distance (the fingerprint matcher): fn
 * gives the distance of samples a and b, both acquired, and must be safe to call from
 * several threads at once. Rounding, FTA and folds as above. */
typedef double (*vb_pair_distance_fn)(const void *ctx, uint32_t a, uint32_t b);
int vb_scores_compute_with(const vb_dataset *d, const uint8_t *ok, vb_pair_distance_fn fn, const void *ctx,
                           int threads, vb_scores *out, vb_err *e);

/* Trials [begin, end) the same way (fn NULL: euclidean distance of desc rows) into
 * out[0 .. end-begin) (out allocated by the caller with that capacity, and a fold array when
 * the dataset has folds); sets out->n and out->fta. */
void vb_scores_compute_range(const vb_dataset *d, const float *desc, const uint8_t *ok, int dim,
                             vb_pair_distance_fn fn, const void *ctx, size_t begin, size_t end, int threads,
                             vb_scores *out);

/* Write (or finish writing) the score file. `fingerprint` identifies the templates the
 * scores come from: a partial file made from other templates is started over. Returns the
 * number of trials written now via *written_now (0 when the file was already complete). */
int vb_scores_write(const char *path, const vb_dataset *d, const vb_scores *s, const char *fingerprint,
                    int threads, size_t *written_now, vb_err *e);

#endif
