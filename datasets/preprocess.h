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

/* How a face sample becomes the recognition net's input (--preprocess, --on-no-face,
 * --detector):
 *   align  detect the faces, take the one nearest the image centre weighted by size, find
 *          its 68 landmarks, warp the image onto dlib's chip template (the whole model);
 *   crop   a fixed box (or the whole image when no box is given) resized to the input: only
 *          right for pre-aligned benchmark images.
 * When align finds no face the sample is a failure to acquire (fta: counted, listed, its
 * trials scored as non-matches), or, with fallback-crop, the landmark net runs on the given
 * box instead (suits pre-centred sets such as LFW), and that is recorded. */
typedef enum vb_prep_mode { VB_PREP_ALIGN = 0, VB_PREP_CROP } vb_prep_mode;
typedef enum vb_no_face { VB_NO_FACE_FTA = 0, VB_NO_FACE_FALLBACK } vb_no_face;
typedef enum vb_detector { VB_DETECTOR_TINY = 0, VB_DETECTOR_SSD } vb_detector;

typedef struct vb_face_prep {
    int set;               /* --preprocess or --crop given (else the command's default) */
    vb_prep_mode mode;
    vb_crop crop;          /* crop: the box (unset: the whole image) */
    vb_detector detector;
    int detector_size;     /* tiny: the net's input side, a multiple of 32 (face-api.js's
                              inputSize); 0: the model's own (416) */
    vb_no_face on_no_face;
    vb_crop fallback;      /* fallback-crop: where the landmark net looks instead */
    int chip_points;       /* dlib's chip template: 68 (default; 0 means 68) or 5 points */
} vb_face_prep;

/* "align", "crop:x0,y0,x1,y1" or "crop" (the whole image). */
int vb_face_prep_parse(const char *text, vb_face_prep *p, vb_err *e);
/* "fta" or "fallback-crop:x0,y0,x1,y1". */
int vb_no_face_parse(const char *text, vb_face_prep *p, vb_err *e);
/* The canonical text of the whole setting, for provenance and template headers:
 * "crop:70,70,180,180", "crop:none", "align:tiny:fta", "align:tiny:fallback-crop:...", with
 * ":chip5" appended for the 5-point chip template. */
void vb_face_prep_text(const vb_face_prep *p, char *buf, size_t n);

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
