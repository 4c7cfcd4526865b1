/* Face alignment: the similarity transform that maps a face's 68 landmarks onto dlib's face
 * chip template (dlib's get_face_chip_details + find_similarity_transform; 150x150 with
 * padding 0.25 is what dlib's face recognition example passes, and what the dlib ResNet
 * face descriptor was trained with), and the chip resampling itself (dlib's
 * extract_image_chip: bilinear, and a 2x image pyramid when the face is over twice the
 * chip's size). The warp is the CPU reference of every backend's warp kernel; it works on
 * plain arrays so backends can use it. Citations and dlib's quirks: models/face_align.c. */
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
 * maps from[i] onto to[i]. -1 with an error when the points are degenerate: fewer than 2,
 * not finite, all `from` equal, or all `to` equal (a zero-scale transform). */
int vb_similarity_fit(const vb_point *from, const vb_point *to, int n, vb_similarity *t, vb_err *e);

/* Which of dlib's templates to fit (get_face_chip_details): dlib's 68-point one (eyes,
 * nose and upper mouth of the 68 landmarks: 33 points), or the 5-point one (its eye corners
 * and the base of the nose, taken here from the 68 landmarks 36, 39, 42, 45 and 33), which
 * leans less on the mouth and the landmark net's weaker points. */
typedef enum vb_chip_template {
    VB_CHIP_DLIB68 = 0,
    VB_CHIP_DLIB5 = 1,
} vb_chip_template;

/* The chip -> image transform dlib's extract_image_chip applies at full resolution for
 * landmarks `pts`, a chip_size x chip_size chip and `padding` (dlib: 0.25 for the face
 * descriptor). Not the plain template fit: dlib turns the fit into a rectangle and angle
 * and back, which scales it by (chip_size*s - 1)/((chip_size - 1)*s) about the chip's
 * centre (s the fit's scale) and shifts it by half a pixel; on the template itself this
 * gives u + 0.5, not u. -1 when the landmarks are degenerate or chip_size < 2. */
int vb_align_dlib_template(const vb_point pts[VB_LANDMARKS], vb_chip_template tpl, int chip_size, double padding,
                           vb_similarity *chip_to_image, vb_err *e);
/* The 68-point template: vb_align_dlib_template(..., VB_CHIP_DLIB68, ...). */
int vb_align_dlib(const vb_point pts[VB_LANDMARKS], int chip_size, double padding, vb_similarity *chip_to_image,
                  vb_err *e);

/* How many 2x pyramid levels dlib samples the chip from: 0 while the chip spans at most
 * about twice its size in image pixels (scale <= 2, LFW's faces), where the chip is a
 * plain bilinear warp of the image that any backend kernel can reproduce; k >= 1 above. */
int vb_chip_pyramid_level(const vb_similarity *chip_to_image, int size);

/* The aligned chip, as dlib's extract_image_chip makes it: out pixel (u, v) samples the
 * image (w x h, c = 1 or 3 interleaved 8-bit channels, gray replicated to RGB) at
 * chip_to_image(u, v) with dlib's interpolate_bilinear: a sample whose four taps are not
 * all inside the image (floor(x) < 0, floor(x) + 1 > w - 1, likewise y) is 0 in every
 * channel; the interpolated value is truncated to 8 bits (dlib stores the chip as
 * rgb_pixel). When vb_chip_pyramid_level > 0 the samples come from dlib's pyramid_down<2>
 * of the image instead, with dlib's mapping onto that level. Then normalizes:
 * out = (value - mean[ch]) * scale, size x size x 3 floats NHWC. chip_rgb, when not NULL,
 * receives the 8-bit chip (size*size*3) for --save-chips. -1 only when the pyramid's
 * memory cannot be allocated. */
int vb_warp_chip(const uint8_t *px, int w, int h, int c, const vb_similarity *chip_to_image, int size,
                 const float mean[3], float scale, float *out, uint8_t *chip_rgb, vb_err *e);

#endif
