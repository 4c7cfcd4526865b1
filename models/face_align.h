/* Face landmarks and alignment geometry (pure maths, no pixels): the 68-point landmark net's
 * output turned into image coordinates, and the similarity transform that maps those
 * landmarks onto dlib's 150x150 face chip template with dlib's default padding 0.25
 * (dlib's get_face_chip_details + find_similarity_transform, the alignment the dlib
 * ResNet face descriptor was trained with). The pixels are resampled by
 * datasets/preprocess.h (vb_prep_warp) on the CPU, or by a backend's warp kernel. */
#ifndef VB_FACE_ALIGN_H
#define VB_FACE_ALIGN_H

#include "core/common.h"

#define VB_LANDMARKS 68

typedef struct vb_point {
    float x, y;
} vb_point;

/* The square region the landmark net saw: face-api.js crops the detection box from the
 * image, pads it to a square (centred) and resizes it to the net's input. */
typedef struct vb_landmark_box {
    float x0, y0;   /* top-left of the crop, image pixels */
    float w, h;     /* crop size before padding, pixels */
} vb_landmark_box;

/* The landmark net's 136 outputs (x0,y0,x1,y1,... relative to the padded square input) ->
 * 68 points in image pixels (face-api.js FaceLandmark68NetBase.postProcess, then shifted by
 * the crop's origin). */
void vb_landmarks_to_image(const float *net_out, const vb_landmark_box *box, vb_point pts[VB_LANDMARKS]);

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

#endif
