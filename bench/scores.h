/* Scoring every trial of a run and writing DIR/scores/<combo>.csv.gz (header
 * a,b,label,score,fold), incrementally and resumably: the file is a sequence of gzip
 * members of ~1M rows each (a valid .gz for any reader) and <file>.progress records after
 * each member how many trials and bytes are complete, so a killed run truncates to the
 * last complete member and carries on. Scores are in the model's own units (a euclidean
 * distance for the face net), rounded to float so that the %.9g text reads back to exactly
 * the value the metrics used; a trial touching a sample that failed to acquire scores +inf
 * (never a match). */
#ifndef VB_SCORES_H
#define VB_SCORES_H

#include <stddef.h>
#include <stdint.h>

#include "bench/common.h"

typedef struct vb_trial_source {
    size_t n_trials;
    size_t n_samples;
    /* Trial k (0 <= k < n_trials), in the protocol's deterministic order. */
    void (*get)(const void *ctx, size_t k, uint32_t *a, uint32_t *b, uint8_t *label, int16_t *fold);
    /* Sample id as written in the score file. */
    const char *(*sample_id)(const void *ctx, uint32_t i);
    const void *ctx;
} vb_trial_source;

typedef struct vb_score_set {
    size_t n;
    float *score;     /* distance (model units); +inf for failure to acquire */
    uint8_t *label;   /* 1 genuine, 0 impostor */
    int16_t *fold;    /* 0 when the protocol has no folds */
    size_t fta_trials;
} vb_score_set;

/* Compute every trial's score from the templates (desc: n_samples * dim floats; ok: 1 if
 * the sample's template exists) with `threads` threads. */
int vb_scores_compute(const vb_trial_source *src, const float *desc, const uint8_t *ok, int dim,
                      int threads, vb_score_set *out, vb_err *e);
void vb_score_set_free(vb_score_set *s);

/* Write (or finish writing) the score file. Returns the number of trials written now via
 * *written_now (0 when the file was already complete). */
int vb_scores_write(const char *path, const vb_trial_source *src, const vb_score_set *s, int threads,
                    size_t *written_now, vb_err *e);

#endif
