/* The gallery of worst errors: which trials a report shows as face pairs. Pure selection over
 * a vb_scores (reports/scores.h); loading and drawing the faces is the caller's.
 *
 * "Worst" means most misleading for a verifier: the impostor trials that look most alike
 * (highest similarity, lowest distance) and the genuine trials that look least alike
 * (lowest similarity, highest distance). Trials with a non-finite score (failures to
 * acquire, scored with the infinity that never matches) are skipped: they carry no face
 * comparison, and failures.csv lists them. Ties go to the lower trial index, so the
 * selection is deterministic. */
#ifndef VB_GALLERY_H
#define VB_GALLERY_H

#include <stddef.h>

#include "reports/scores.h"

/* Pairs shown per kind and combination. */
#define VB_GALLERY_PAIRS 8

/* Writes the indices (into s) of up to k worst trials of one kind, worst first: genuine = 1
 * picks the least alike genuine trials, genuine = 0 the most alike impostor trials. Returns
 * how many were written (fewer than k when the set has fewer finite trials of that kind).
 * One pass, O(n k). */
size_t vb_gallery_select(const vb_scores *s, int genuine, size_t k, size_t *out);

#endif
