/* Trial scores: see scores.h. */
#include "reports/scores.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void vb_scores_free(vb_scores *s)
{
    free(s->score);
    free(s->label);
    free(s->fold);
    memset(s, 0, sizeof *s);
}

/* Resizes every array to cap trials; on failure the set keeps its old arrays. */
static int reserve(vb_scores *s, size_t cap, int with_folds, vb_err *e)
{
    double *sc = realloc(s->score, cap * sizeof *sc);
    if (sc)
        s->score = sc;
    uint8_t *l = sc ? realloc(s->label, cap * sizeof *l) : NULL;
    if (l)
        s->label = l;
    uint16_t *f = (l && with_folds) ? realloc(s->fold, cap * sizeof *f) : NULL;
    if (f)
        s->fold = f;
    if (!sc || !l || (with_folds && !f))
        return vb_fail(e, VB_EXIT_IO, "out of memory holding %zu trial scores", cap);
    s->cap = cap;
    return 0;
}

int vb_scores_init(vb_scores *s, int is_distance, int with_folds, vb_err *e)
{
    memset(s, 0, sizeof *s);
    s->is_distance = is_distance;
    if (reserve(s, 4096, with_folds, e)) {
        vb_scores_free(s);
        return -1;
    }
    return 0;
}

int vb_scores_alloc(vb_scores *s, size_t n, int is_distance, int with_folds, vb_err *e)
{
    memset(s, 0, sizeof *s);
    s->is_distance = is_distance;
    if (reserve(s, n ? n : 1, with_folds, e)) {
        vb_scores_free(s);
        return -1;
    }
    s->n = n;
    return 0;
}

int vb_scores_append(vb_scores *s, double score, uint8_t label, uint16_t fold, vb_err *e)
{
    if (s->n == s->cap && reserve(s, s->cap ? s->cap * 2 : 4096, s->fold != NULL, e))
        return -1;
    s->score[s->n] = score;
    s->label[s->n] = label;
    if (s->fold)
        s->fold[s->n] = fold;
    s->fta += score == (s->is_distance ? INFINITY : -INFINITY);
    s->n++;
    return 0;
}

void vb_scores_rates(const vb_scores *s, double threshold, vb_rates *out)
{
    size_t gen = 0, imp = 0, fm = 0, fnm = 0;
    for (size_t i = 0; i < s->n; i++) {
        double v = s->score[i];
        int accept = s->is_distance ? v <= threshold : v >= threshold;
        if (s->label[i]) {
            gen++;
            fnm += !accept;
        } else {
            imp++;
            fm += accept;
        }
    }
    *out = (vb_rates){threshold, gen, imp, fm, fnm, imp ? (double)fm / (double)imp : NAN,
                      gen ? (double)fnm / (double)gen : NAN};
}

void vb_rates_merge(vb_rates *acc, const vb_rates *part)
{
    size_t gen = acc->genuine + part->genuine, imp = acc->impostor + part->impostor;
    size_t fm = acc->false_matches + part->false_matches, fnm = acc->false_nonmatches + part->false_nonmatches;
    *acc = (vb_rates){part->threshold, gen, imp, fm, fnm, imp ? (double)fm / (double)imp : NAN,
                      gen ? (double)fnm / (double)gen : NAN};
}
