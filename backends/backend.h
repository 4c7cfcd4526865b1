/* The public backend API. A backend executes a vb_graph on batches of preprocessed
 * images (NHWC float32, already normalized) and returns the output node's floats.
 * In the spirit of ggml's backend: a caller holds one handle (vb_backend, vb_prepared)
 * that carries its own interface table (backends/backend_impl.h); only backends/ sees
 * the table, everyone else calls the vb_backend_* wrappers below.
 *
 * Life cycle: vb_backend_init(spec) -> vb_backend_describe() -> vb_backend_load(graph)
 * -> vb_backend_run()* -> vb_backend_unload() -> vb_backend_free().
 *
 * Besides graphs, a backend may warp face chips (vb_backend_warp: the alignment step of the
 * face pipeline, on the device that then runs the recognition net) and run the fingerprint
 * pipeline's image kernels (vb_backend_fp_orient, vb_backend_fp_gabor; the rest of the
 * pipeline stays on the host, models/fingerprint.h).
 */
#ifndef VB_BACKEND_H
#define VB_BACKEND_H

#include "core/common.h"
#include "models/face_align.h"
#include "models/fp_image.h"
#include "models/graph.h"

typedef struct vb_device_info {
    int index;               /* device index within the backend */
    char backend[16];        /* "cpu", "vulkan" */
    char name[256];          /* human-readable device name */
    char slug[64];           /* short filesystem-safe device id for result file names */
    char vendor[64];
    char type[32];           /* "cpu", "discrete-gpu", "integrated-gpu", "virtual-gpu", ... */
    char driver[256];        /* driver name and version */
    char api_version[32];
    int subgroup_size;
    int fp16_storage, fp16_arith, int8_arith, int_dot, coopmat;
    int uses_fp16;           /* fp16 variants are in use for this run */
    int fp64;                /* vulkan: shaderFloat64, and an opened device uses it (the warp
                                kernel's exact variant; off with $VERIBENCH_VULKAN_NO_FP64) */
    int threads;             /* cpu: worker threads (0 elsewhere) */
    char kernels[32];        /* cpu: the kernel family in use ("avx512f", "avx2+fma",
                                "portable", "reference"); "" elsewhere */
} vb_device_info;

typedef struct vb_backend_opts {
    int device_index;        /* -1: backend's default choice */
    int reference;           /* cpu: use the plain reference path */
    int fp16;                /* vulkan: fp16 variants where the device has them (default fp32) */
    int threads;             /* cpu: worker threads (0 = all cores) */
    int validation;          /* vulkan: enable the Khronos validation layer; messages fail runs */
} vb_backend_opts;

/* Per-run timing. node_ms (if non-NULL, n_nodes long) receives per-node times; fused
 * nodes report their time on the last node of the fused group and 0 on the others. */
typedef struct vb_timings {
    double total_ms;
    double *node_ms;
} vb_timings;

typedef struct vb_backend vb_backend;   /* an initialized device: backends/backend_impl.h */
typedef struct vb_prepared vb_prepared; /* a graph loaded onto a backend */
typedef struct vb_backend_iface vb_backend_iface; /* per implementation: backend_impl.h */

/* A backend spec on the command line: "cpu", "cpu:ref", "vulkan", "vulkan:N". */
typedef struct vb_backend_spec {
    const vb_backend_iface *iface;
    vb_backend_opts opts;
    char text[64];
} vb_backend_spec;

int vb_backend_parse_spec(const char *text, vb_backend_spec *spec, vb_err *e);

/* Enumerate the devices of backend `name` ("cpu", "vulkan") without initializing one (for
 * `veribench devices`). *infos is malloc'd; a missing driver/loader is an error with an
 * actionable message. */
int vb_backend_list_devices(const char *name, vb_device_info **infos, int *n, vb_err *e);

/* Open the device a spec names. *out is NULL on failure. */
int vb_backend_init(const vb_backend_spec *spec, vb_backend **out, vb_err *e);
/* Same, for a backend by name ("cpu", "vulkan") with explicit options (tests). */
int vb_backend_init_named(const char *name, const vb_backend_opts *opts, vb_backend **out, vb_err *e);
/* "cpu" or "vulkan". */
const char *vb_backend_name(const vb_backend *b);
/* The device in use (valid until vb_backend_free). */
const vb_device_info *vb_backend_describe(const vb_backend *b);
/* Whether this backend can execute conv/fc weights stored as `type`. */
int vb_backend_supports_type(const vb_backend *b, vb_dtype type);
/* Prepare a graph for execution (weights converted/uploaded, buffers planned). The graph
 * and its model must outlive the prepared model. */
int vb_backend_load(vb_backend *b, const vb_graph *g, vb_prepared **out, vb_err *e);
/* Run `batch` images. input: batch * in_h*in_w*in_c floats; output: batch * out_dim.
 * node_out (optional, n_nodes entries): for each non-NULL entry, the backend copies
 * that node's activations (batch * vb_node_size floats) when it materializes the
 * node, and sets the entry's first float to NAN when it does not (fused away). */
int vb_backend_run(vb_prepared *p, const float *input, int batch, float *output, float **node_out,
                   vb_timings *t, vb_err *e);
/* The aligned chips of n images in one call: chip i samples image i (px[i], w[i] x h[i],
 * c[i] = 1 or 3 interleaved 8-bit channels) through chip-to-image transform t[i] into
 * out + i * size*size*3, exactly as vb_warp_chip (models/face_align.h, the reference) with
 * the same size, mean and scale. The CPU backend calls vb_warp_chip; Vulkan runs
 * shaders/warp.comp (bit-identical where the device has fp64; see backends/vulkan/README.md).
 * A backend without a warp kernel fails with VB_EXIT_USAGE saying so; n = 0 does nothing. */
int vb_backend_warp(vb_backend *b, const uint8_t *const *px, const int *w, const int *h, const int *c,
                    const vb_similarity *t, int n, int size, const float mean[3], float scale, float *out,
                    vb_err *e);
/* The fingerprint image kernels, equal to models/fp_image.h's reference (the CPU backend
 * calls it; Vulkan runs shaders/fp_orient.comp and shaders/fp_gabor.comp, the same fp32
 * operations in the same order, bit-identical where the device rounds as IEEE fp32 does).
 * fp_orient: the smoothed structure tensor of a w x h image (vb_fp_orient_tensor), 3 * w * h
 * floats. fp_gabor: the Gabor response (vb_fp_gabor_apply over vb_fp_gabor_bank(period, k,
 * na)) given each pixel's bin (vb_fp_gabor_bins), w * h floats. Safe to call from several
 * threads at once on one backend (the engine extracts one print per core). A backend without
 * them fails with VB_EXIT_USAGE saying so; sizes and parameters are checked here. */
int vb_backend_fp_orient(vb_backend *b, const float *img, int w, int h, float grad_sigma, float orient_sigma,
                         float *tensor, vb_err *e);
int vb_backend_fp_gabor(vb_backend *b, const float *img, const uint8_t *bins, int w, int h, float period, float k,
                        int na, float *out, vb_err *e);
/* Preferred batch size for throughput on this device. */
int vb_backend_preferred_batch(const vb_prepared *p);
/* Both accept NULL; unload every prepared model before freeing its backend. */
void vb_backend_unload(vb_prepared *p);
void vb_backend_free(vb_backend *b);

#endif
