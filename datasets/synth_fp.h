/* Synthetic fingerprints, SFinGe-style (Cappelli, Maio, Maltoni): for the tests, for
 * `veribench synth-fingerprints`, and as the data a fresh machine without LFW evaluates.
 *
 * Master print of a finger (vb_synth_fp_master): a ridge-orientation field from the
 * zero-pole model of Sherlock and Monro (cores and deltas of a randomly drawn class: arch,
 * left/right loop, whorl), a ridge period drawn per finger, and ridges grown from random
 * seeds by repeated oriented Gabor filtering and clipping, so minutiae appear where the
 * field forces ridges to split or end, as in real prints. Values in [-1, 1], ridge > 0.
 *
 * Impression (vb_synth_fp_impression): the master seen through one touch: rotation and
 * translation, a smooth elastic displacement field, finger pressure (ridge width), an
 * elliptical contact region moved off centre (partial contact), background, sensor noise
 * and blotches; 8-bit grey, dark ridges on a light background.
 *
 * Known minutiae (vb_synth_fp_dislocations): a straight ridge pattern whose phase winds by
 * 2 pi around each given point (a phase dislocation), which puts exactly one minutia there;
 * the ground truth of the extractor's tests.
 *
 * Everything is a pure function of its seed: the same seed gives the same bytes on every
 * machine (only +, *, and libm's sin/cos/atan2/exp, no threads). */
#ifndef VB_SYNTH_FP_H
#define VB_SYNTH_FP_H

#include <stdint.h>
#include <stdio.h>

#include "core/common.h"

/* Master print, w x h floats. 0 on success, -1 on allocation failure. */
int vb_synth_fp_master(uint64_t seed, int w, int h, float *ridges, vb_err *e);

/* One impression of a master (same size), into gray (w * h bytes). */
void vb_synth_fp_impression(const float *master, int w, int h, uint64_t seed, uint8_t *gray);

/* A w x h print of straight ridges (period px, direction angle rad) with a minutia at each
 * of the n points (x, y). */
void vb_synth_fp_dislocations(int w, int h, float period, float angle, const float (*pts)[2], int n,
                              uint8_t *gray);

/* Write DIR/<finger>_<impression>.png for fingers 1..subjects and impressions 1..impressions
 * (w x h = 288 x 384, about 500 dpi) and DIR/manifest.csv (sample,subject,path,modality with
 * modality fingerprint), all atomically. log (may be NULL) gets one line per finger. */
int vb_synth_fp_write_set(const char *dir, int subjects, int impressions, uint64_t seed, FILE *log, vb_err *e);

#endif
