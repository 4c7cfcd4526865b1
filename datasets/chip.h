/* Face chips for reports: the region of an image that went into the model (the crop box, or
 * the whole image), downscaled, for a report to show (as PNG: vb_png_encode, image.h)
 * which faces a trial compared. */
#ifndef VB_CHIP_H
#define VB_CHIP_H

#include <stddef.h>
#include <stdint.h>

#include "datasets/image.h"
#include "datasets/preprocess.h"

/* The crop region of img (whole image when crop is NULL or unset) resized to a square of
 * size x size pixels with the model's bilinear resize, rounded to 8 bits; same channels as
 * img. A crop box outside the image is an error naming path (VB_EXIT_INPUT). */
int vb_chip_make(const vb_image *img, const vb_crop *crop, int size, const char *path, vb_image *out, vb_err *e);


#endif
