/* The 68-point landmark net's output (face-api.js face_landmark_68_model) in image
 * coordinates. The net is a graph (models/arch_face_landmark.c) run by any backend on the
 * detection box cropped, padded to a centred square and resized to its input
 * (datasets/preprocess.h, vb_prep_face_square). Points follow the iBUG 300-W 68-point
 * numbering (0-16 jaw, 17-26 brows, 27-35 nose, 36-47 eyes, 48-67 mouth), as dlib's. */
#ifndef VB_FACE_LANDMARKS_H
#define VB_FACE_LANDMARKS_H

#include "core/common.h"

#define VB_LANDMARKS 68

typedef struct vb_point {
    float x, y;
} vb_point;

/* The region the landmark net saw: face-api.js crops the detection box from the image
 * (clipped to the image, integer pixels), pads it to a centred square and resizes it. */
typedef struct vb_landmark_box {
    float x0, y0;   /* top-left of the crop, image pixels */
    float w, h;     /* crop size before padding, pixels */
} vb_landmark_box;

/* The net's 136 outputs (x0,y0,x1,y1,... relative to the padded square input) -> 68 points
 * in image pixels (face-api.js FaceLandmark68NetBase.postProcess, then shifted by the
 * crop's origin; face-api.js shifts by the detection box's unclipped, unfloored origin
 * instead, less than a pixel away unless the box leaves the image). */
void vb_landmarks_to_image(const float *net_out, const vb_landmark_box *box, vb_point pts[VB_LANDMARKS]);

#endif
