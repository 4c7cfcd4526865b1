/* A fingerprint as the report shows it: the print scaled to a given height, grey, with its
 * extracted minutiae drawn (ending: red square, bifurcation: blue square, each with a green
 * tick along its direction), for the worst-error gallery of report.html and the print sheet
 * of a fingerprint run. */
#ifndef VB_FP_CHIP_H
#define VB_FP_CHIP_H

#include "core/common.h"
#include "datasets/image.h"
#include "models/fingerprint.h"

/* out: RGB, height px high (aspect kept); t may be NULL (no marks). */
int vb_fp_chip_make(const vb_image *img, const vb_fp_template *t, int height, vb_image *out, vb_err *e);

#endif
