/* The fingerprint matcher: an algorithmic "model" whose parameters live in a GGUF file
 * (general.architecture = fingerprint_mcc, every parameter a fingerprint.* metadata key).
 *
 * Extraction (vb_fp_extract), on an 8-bit grayscale print at about 500 dpi:
 *   1. normalization to zero mean, unit variance;
 *   2. segmentation: blocks whose grey-level spread is below a fraction of the image's are
 *      background; the mask is closed and a distance-to-background map kept, so minutiae at
 *      the print's edge (where every ridge "ends") are never reported;
 *   3. ridge orientation: smoothed gradient structure tensor (doubled angles), with its
 *      coherence as the local quality (the tensor is models/fp_image.h's kernel);
 *   4. ridge frequency: the period along the normal to the ridges in each block, the
 *      median over the print used for all of it (robust to blocks with creases or noise);
 *   5. oriented Gabor enhancement (a zero-DC even Gabor per orientation bin, tuned to the
 *      period) inside the mask (models/fp_image.h's kernel);
 *   6. binarization (sign of the enhanced image) and Zhang-Suen thinning;
 *   7. minutiae by crossing number on the skeleton, direction by tracing the ridge and
 *      snapping to the orientation field; then false-minutiae removal: edge minutiae, short
 *      ridges and islands (two endings joined by a short skeleton path), spurs (an ending
 *      reaching a bifurcation), bridges/holes (two bifurcations joined by a short path),
 *      broken ridges (two facing endings close together), clusters closer than a minimum
 *      distance.
 * Matching (vb_fp_match): Minutia Cylinder-Code, bit-vector variant (Cappelli, Ferrara,
 * Maltoni, "Minutia Cylinder-Code", IEEE TPAMI 32(12), 2010), global score by local
 * similarity sort with relaxation (LSS-R), a similarity in [0, 1]. The run engine scores a
 * distance 1 - similarity, so one score type serves faces and prints.
 *
 * Template (fixed size, so the run's template store keeps prints like descriptors):
 * VB_FP_TEMPLATE_FLOATS floats = {count, image width, image height, then per minutia x, y
 * (pixels), direction (radians in [0, 2pi)), kind (1 ending, 2 bifurcation)}, unused
 * entries zero. Minutiae are sorted by quality, best first.
 *
 * Thread safety: every function is reentrant; a vb_fp_params is read-only once loaded. */
#ifndef VB_FINGERPRINT_H
#define VB_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "models/gguf.h"

#define VB_FP_ARCH "fingerprint_mcc"
#define VB_FP_MAX_MINUTIAE 128
#define VB_FP_TEMPLATE_FLOATS (3 + 4 * VB_FP_MAX_MINUTIAE)

/* Every parameter, with its GGUF key (fingerprint.<name>) and default, in one X-macro. */
#define VB_FP_PARAMS(X)                                                                         \
    X(seg_block, 16, "segmentation block size (px)")                                          \
    X(seg_threshold, 0.3f, "block std (normalized image) below which a block is background")  \
    X(border_margin, 8,  "minutiae closer than this to the background are dropped (px)")      \
    X(grad_sigma, 1.0f, "Gaussian sigma of the gradient (px)")                                \
    X(orient_sigma, 7.0f, "Gaussian sigma smoothing the structure tensor (px)")               \
    X(freq_block, 32, "ridge period estimation window (px)")                                  \
    X(min_period, 4, "shortest accepted ridge period (px)")                                   \
    X(max_period, 16, "longest accepted ridge period (px)")                                   \
    X(default_period, 9, "ridge period when none can be measured (px)")                       \
    X(gabor_k, 0.5f, "Gabor envelope sigma as a fraction of the period")                      \
    X(gabor_angles, 24, "orientation bins of the Gabor filter bank")                          \
    X(trace_len, 10, "ridge length traced for a minutia's direction (px)")                    \
    X(short_ridge, 1.4f, "short ridge / spur / bridge length, in periods")                    \
    X(min_distance, 0.7f, "minutiae closer than this (periods) are removed in pairs")         \
    X(broken_ridge, 1.8f, "facing endings closer than this (periods) are a broken ridge")     \
    X(min_minutiae, 8, "fewer minutiae: failure to acquire")                                  \
    X(max_minutiae, 80, "at most this many minutiae (best quality) are kept")                 \
    X(mcc_radius, 70, "cylinder radius R (px)")                                               \
    X(mcc_ns, 16, "cells per cylinder side")                                                  \
    X(mcc_nd, 6, "cylinder sections (direction bins)")                                        \
    X(mcc_sigma_s, 9.333333f, "spatial contribution sigma (px)")                              \
    X(mcc_sigma_d, 0.6981317f, "directional contribution sigma (rad)")                        \
    X(mcc_mu_psi, 0.01f, "cell activation threshold (bit cylinders)")                         \
    X(mcc_omega, 50, "convex hull offset for valid cells (px)")                               \
    X(mcc_min_vc, 0.75f, "minimum fraction of valid cells of a valid cylinder")               \
    X(mcc_min_m, 2, "minimum neighbouring minutiae of a valid cylinder")                      \
    X(mcc_min_me, 0.6f, "minimum fraction of matchable cells of a comparable pair")           \
    X(mcc_delta_theta, 1.5707964f, "largest direction difference of comparable minutiae")      \
    X(mcc_min_np, 4, "fewest pairs averaged by the global score")                             \
    X(mcc_max_np, 12, "most pairs averaged by the global score")                              \
    X(mcc_mu_p, 20, "sigmoid centre of the pair count")                                       \
    X(mcc_tau_p, 0.4f, "sigmoid slope of the pair count")                                     \
    X(relax_iter, 5, "relaxation iterations")                                                 \
    X(relax_w, 0.5f, "relaxation weight of a pair's own similarity")                          \
    X(relax_mu1, 5, "relaxation: distance difference centre (px)")                            \
    X(relax_tau1, -1.6f, "relaxation: distance difference slope")                             \
    X(relax_mu2, 0.2617994f, "relaxation: direction difference centre (rad)")                 \
    X(relax_tau2, -30, "relaxation: direction difference slope")                              \
    X(relax_mu3, 0.2617994f, "relaxation: radial angle difference centre (rad)")              \
    X(relax_tau3, -30, "relaxation: radial angle difference slope")                           \
    X(threshold, 0.98f, "decision threshold on the distance 1 - similarity (accept <=)")

typedef struct vb_fp_params {
#define VB_FP_FIELD(name, def, doc) float name;
    VB_FP_PARAMS(VB_FP_FIELD)
#undef VB_FP_FIELD
} vb_fp_params;

void vb_fp_params_default(vb_fp_params *p);
/* Read every parameter from a fingerprint_mcc model; a missing key or a value outside its
 * sane range is an error naming the file and key. */
int vb_fp_params_load(const vb_model *m, vb_fp_params *p, vb_err *e);
/* Write the default parameters as OUT/fingerprint_mcc.gguf (atomically). */
int vb_fp_model_write(const char *path, vb_err *e);

typedef struct vb_fp_minutia {
    float x, y, theta; /* pixels, radians [0, 2pi) */
    int kind;          /* 1 ending, 2 bifurcation */
    float quality;     /* orientation coherence around it, 0..1 */
} vb_fp_minutia;

typedef struct vb_fp_template {
    int width, height, count;
    vb_fp_minutia m[VB_FP_MAX_MINUTIAE];
} vb_fp_template;

/* CPU milliseconds (of the extracting thread) per stage of one extraction (accumulated by
 * the caller). */
enum { VB_FP_STAGE_SEGMENT, VB_FP_STAGE_ORIENT, VB_FP_STAGE_FREQ, VB_FP_STAGE_GABOR,
       VB_FP_STAGE_THIN, VB_FP_STAGE_MINUTIAE, VB_FP_STAGES };
extern const char *const vb_fp_stage_names[VB_FP_STAGES];

/* Intermediate images, for reports and tests (all w * h, owned by the caller via
 * vb_fp_debug_free): mask 0/1, orientation (radians [0, pi)), enhanced, skeleton 0/1. */
typedef struct vb_fp_debug {
    uint8_t *mask, *skeleton;
    float *orientation, *enhanced;
    float period;
} vb_fp_debug;
void vb_fp_debug_free(vb_fp_debug *d);

/* Extract the minutiae of a w x h grayscale print (row-major, dark ridges). Returns 0 with
 * t->count possibly below min_minutiae (the caller decides what a failure to enrol is);
 * -1 only on allocation failure or an image smaller than 32 x 32. stage_ms (VB_FP_STAGES
 * entries, may be NULL) receives the time of each stage; dbg (may be NULL) the images. */
int vb_fp_extract(const uint8_t *gray, int w, int h, const vb_fp_params *p, vb_fp_template *t,
                  double *stage_ms, vb_fp_debug *dbg, vb_err *e);

/* The heavy image kernels of extraction, as hooks (models/ cannot call a backend: the engine
 * points these at vb_backend_fp_orient / vb_backend_fp_gabor). Each returns 0, or -1 with e
 * filled; its output must be models/fp_image.h's reference (vb_fp_orient_tensor with the
 * same sigmas; vb_fp_gabor_apply over vb_fp_gabor_bank(period, k, na)). Hooks may be called
 * from several extracting threads at once. */
typedef struct vb_fp_kernels {
    void *ctx;
    int (*orient)(void *ctx, const float *img, int w, int h, float grad_sigma, float orient_sigma, float *tensor,
                  vb_err *e);
    int (*gabor)(void *ctx, const float *img, const uint8_t *bins, int w, int h, float period, float k, int na,
                 float *out, vb_err *e);
} vb_fp_kernels;

/* vb_fp_extract with the kernels run by k (NULL: the reference, on this thread). With hooks
 * the stage times are wall time, not this thread's CPU time. */
int vb_fp_extract_with(const vb_fp_kernels *k, const uint8_t *gray, int w, int h, const vb_fp_params *p,
                       vb_fp_template *t, double *stage_ms, vb_fp_debug *dbg, vb_err *e);

/* Template <-> the fixed-size float record (see above). Unpacking validates the record
 * (count, finite coordinates, angles) and fails with a message otherwise. */
void vb_fp_template_pack(const vb_fp_template *t, float *out);
int vb_fp_template_unpack(const float *in, vb_fp_template *t, vb_err *e);

/* Template files: "VBFPT001" text header line, then one line per minutia "x y theta kind
 * quality"; written atomically. */
int vb_fp_template_save(const char *path, const vb_fp_template *t, vb_err *e);
int vb_fp_template_load(const char *path, vb_fp_template *t, vb_err *e);

/* ISO/IEC 19794-2:2005-style finger minutiae record ("FMR\0", version " 20\0"): one finger
 * view, 500 dpi (197 px/cm), per minutia 6 bytes: type (01 ending, 10 bifurcation) and x
 * in 14 bits, y in 14 bits, angle in units of 360/256 degrees counter-clockwise from the x
 * axis (image y points down, so ISO angle = -theta), quality 0..100; no extended data.
 * The conversion rounds angles to 1.4 degrees and coordinates to whole pixels. */
int vb_fp_template_to_iso(const vb_fp_template *t, uint8_t *buf, size_t cap, size_t *len, vb_err *e);
int vb_fp_template_from_iso(const uint8_t *buf, size_t len, vb_fp_template *t, vb_err *e);

/* Template files as `veribench enroll` writes them and the run engine reads them in place of
 * a print: a path ending in .fmr or .fpt names one (vb_fp_is_template_path). Reading tells
 * the kinds apart by their first bytes (ISO record "FMR\0" or "VBFPT001" text); an
 * unreadable, truncated or malformed file, or one of neither kind, is an error naming the
 * file (VB_EXIT_INPUT). Writing the ISO record is atomic. */
int vb_fp_is_template_path(const char *path);
int vb_fp_template_write_iso(const char *path, const vb_fp_template *t, vb_err *e);
int vb_fp_template_read_file(const char *path, vb_fp_template *t, vb_err *e);

/* MCC: the cylinders of one template, computed once and compared many times. */
typedef struct vb_fp_cylinders vb_fp_cylinders;
vb_fp_cylinders *vb_fp_cylinders_make(const vb_fp_template *t, const vb_fp_params *p, vb_err *e);
void vb_fp_cylinders_free(vb_fp_cylinders *c);
/* Number of valid cylinders. */
int vb_fp_cylinders_count(const vb_fp_cylinders *c);
/* Similarity in [0, 1] (0 when either side has no valid cylinder). */
double vb_fp_match(const vb_fp_cylinders *a, const vb_fp_cylinders *b, const vb_fp_params *p);

/* The cylinders of many templates (a run's samples), for scoring all its trials. records:
 * n template records (VB_FP_TEMPLATE_FLOATS floats each); ok[i] = 0 skips sample i. A
 * record that does not unpack is an error naming the sample index. Built with `threads`. */
typedef struct vb_fp_gallery {
    vb_fp_params p;
    vb_fp_cylinders **c;
    size_t n;
} vb_fp_gallery;
int vb_fp_gallery_build(vb_fp_gallery *g, const float *records, const uint8_t *ok, size_t n,
                        const vb_fp_params *p, int threads, vb_err *e);
/* 1 - vb_fp_match of samples a and b: the run's distance (ctx is the gallery). */
double vb_fp_gallery_distance(const void *ctx, uint32_t a, uint32_t b);
void vb_fp_gallery_free(vb_fp_gallery *g);

#endif
