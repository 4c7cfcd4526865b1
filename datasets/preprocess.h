/* Preprocessing for the face net (../shared/docs/model.md): an optional crop box, a bilinear
 * resize to the model's input size exactly as face-api.js does it (TensorFlow's
 * resizeBilinear with alignCorners=false, halfPixelCenters=false, computed in double and
 * stored as float, never rounded back to 8 bits), then (pixel - mean[c]) * scale. */
#ifndef VB_PREPROCESS_H
#define VB_PREPROCESS_H

#include "datasets/image.h"
#include "models/face_landmarks.h"
#include "models/graph.h"

/* Crop box, end-exclusive: columns x0..x1-1, rows y0..y1-1. */
typedef struct vb_crop {
    int set;
    int x0, y0, x1, y1;
} vb_crop;

/* Parse "x0,y0,x1,y1". */
int vb_crop_parse(const char *text, vb_crop *crop, vb_err *e);

/* Resize an 8-bit interleaved image region into out (oh x ow x c floats, 0..255 scale). */
void vb_resize_bilinear_tf(const uint8_t *px, int w, int h, int c, int rx0, int ry0, int rw, int rh,
                           float *out, int ow, int oh);

/* Image -> the graph's normalized NHWC input (g->in_h * g->in_w * g->in_c floats).
 * Gray images are replicated to RGB; a crop box outside the image is an error naming it. */
int vb_preprocess(const vb_image *img, const vb_crop *crop, const vb_graph *g, const char *path,
                  float *out, vb_err *e);

/* ---- the detect -> landmarks -> align pipeline's resampling (issue 11) ----------------
 * Both write the net's normalized input, (pixel - mean[c]) * scale, NHWC floats; gray
 * images are replicated to RGB. */

/* Detector input: the whole image padded with zeros to a square on the bottom/right
 * (face-api.js padToSquare(isCenter=false)) and resized to size x size with
 * vb_resize_bilinear_tf. */
int vb_prep_letterbox(const vb_image *img, int size, const float mean[3], float scale, float *out);

/* Landmark-net input: the box (x0,y0,x1,y1 in pixels, clipped to the image the way
 * face-api.js extractFaceTensors does, integer-floored) cropped, padded to a centred square
 * and resized to size x size. *used receives the clipped crop (origin and size) for
 * vb_landmarks_to_image. -1 when the clipped box is empty. */
int vb_prep_face_square(const vb_image *img, float x0, float y0, float x1, float y1, int size,
                        const float mean[3], float scale, float *out, vb_landmark_box *used);

#endif
