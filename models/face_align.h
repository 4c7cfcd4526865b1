/* Face alignment: the similarity transform that maps a face's 68 landmarks onto dlib's 150x150 face chip template with dlib's default padding 0.25
 * (dlib's get_face_chip_details + find_similarity_transform, the alignment the dlib
 * ResNet face descriptor was trained with), and the chip resampling itself (the CPU
 * reference of every backend's warp kernel; on plain arrays so backends can use it). */
#ifndef VB_FACE_ALIGN_H
#define VB_FACE_ALIGN_H

#include <stdint.h>

#include "models/face_landmarks.h"

/* A similarity transform chip -> image: x = a*u - b*v + tx, y = b*u + a*v + ty, for chip
 * pixel (u, v) (pixel centres at integer coordinates, dlib's convention). */
typedef struct vb_similarity {
    double a, b, tx, ty;
} vb_similarity;

/* Least-squares similarity transform (Umeyama, as dlib's find_similarity_transform) that
 * maps from[i] onto to[i]. -1 with an error when the points are degenerate (all equal). */
int vb_similarity_fit(const vb_point *from, const vb_point *to, int n, vb_similarity *t, vb_err *e);

/* dlib's chip for 68 landmarks: the landmarks dlib uses (eyes, nose, upper mouth) fitted to
 * its mean face template scaled to chip_size with `padding` (0.25 by default) on each side;
 * returns the chip -> image transform. */
int vb_align_dlib(const vb_point pts[VB_LANDMARKS], int chip_size, double padding, vb_similarity *chip_to_image,
                  vb_err *e);

/* The aligned chip: out pixel (u, v) samples the image (w x h, c = 1 or 3 interleaved
 * 8-bit channels, gray replicated to RGB) at chip_to_image(u, v) with bilinear
 * interpolation (dlib's interpolate_bilinear; taps outside the image read 0), then
 * normalizes: out = (value - mean[ch]) * scale, size x size x 3 floats NHWC. chip_rgb, when
 * not NULL, receives the 8-bit chip (size*size*3, rounded, clamped) for --save-chips. */
void vb_warp_chip(const uint8_t *px, int w, int h, int c, const vb_similarity *chip_to_image, int size,
                  const float mean[3], float scale, float *out, uint8_t *chip_rgb);

#endif
