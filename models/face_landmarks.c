/* face-api.js FaceLandmark68NetBase.postProcess + FaceLandmarks: the net predicts each point
 * relative to its square input, the crop padded to a centred square. With s = input /
 * max(w, h) and the padding taken as |w - h| * s / 2 on the short side, a point is
 *   x = (out_x * input - pad_x) / (w * s) * w = out_x * max(w, h) - pad_x / s
 * in crop pixels, the input size cancelling out; then shifted to the image by the crop's
 * origin. (face-api.js assumes the padding is split evenly even when |w - h| is odd and
 * padToSquare puts the extra pixel after the crop; we reproduce that. It shifts by the
 * detection box's unclipped, unfloored origin; we shift by the crop's, where the pixels
 * really came from: on an unclipped box the two differ by the fraction of a pixel.) */
#include "models/face_landmarks.h"

void vb_landmarks_to_image(const float *net_out, const vb_landmark_box *box, vb_point pts[VB_LANDMARKS])
{
    const double w = box->w, h = box->h, side = w > h ? w : h;
    const double pad_x = w < h ? (h - w) / 2 : 0, pad_y = h < w ? (w - h) / 2 : 0;
    for (int i = 0; i < VB_LANDMARKS; i++) {
        pts[i].x = (float)(net_out[2 * i] * side - pad_x + box->x0);
        pts[i].y = (float)(net_out[2 * i + 1] * side - pad_y + box->y0);
    }
}
