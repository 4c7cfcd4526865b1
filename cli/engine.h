/* The embedding engine: model file -> graph -> backend, and image files -> descriptors.
 * Shared by `embed`, `run` and `check` so that every command computes a template the same
 * way (decode -> crop/resize/normalize -> backend, in batches). */
#ifndef VB_ENGINE_H
#define VB_ENGINE_H

#include "backends/backend.h"
#include "datasets/preprocess.h"
#include "models/fingerprint.h"
#include "models/gguf.h"
#include "models/graph.h"

typedef struct vb_engine_opts {
    const char *model_path;
    const char *backend;     /* "cpu", "cpu:ref", "vulkan", "vulkan:N" */
    int batch;               /* 0: the backend's preferred batch */
    int threads;             /* cpu threads (0: all cores) */
    int no_fp16;             /* vulkan: fp32 variants only */
    int validation;          /* vulkan: validation layer */
} vb_engine_opts;

typedef struct vb_engine {
    vb_model model;
    vb_graph graph;
    vb_backend_spec spec;
    vb_backend *backend;
    vb_prepared *prepared;
    vb_device_info device;
    int batch;
    /* Accumulated by vb_engine_embed_files: backend time and per-node times (node_ms has
     * graph.n_nodes entries), over `images` embedded images in `calls` backend calls. */
    double run_ms, node_ms[VB_GRAPH_MAX_NODES];
    size_t images, calls;
    /* A fingerprint_mcc model (models/fingerprint.h) is an algorithmic pipeline, not a
     * graph: graph holds only its output spec (out_dim = VB_FP_TEMPLATE_FLOATS, threshold,
     * distance "mcc") and one pseudo-node per extraction stage, whose times node_ms
     * accumulates; prepared is NULL and the work runs on the CPU. A print with fewer than
     * fp.min_minutiae minutiae is a failure to acquire (to enrol), like an unreadable file. */
    int fingerprint;
    vb_fp_params fp;
} vb_engine;

int vb_engine_open(vb_engine *en, const vb_engine_opts *o, vb_err *e);
/* Same, for a model already in memory (o->model_path ignored); takes ownership of *m,
 * which is zeroed, also on failure. */
int vb_engine_open_model(vb_engine *en, vb_model *m, const vb_engine_opts *o, vb_err *e);
void vb_engine_close(vb_engine *en);

/* Called once per image, in input order: desc is out_dim floats, or NULL when the image
 * could not be read or decoded (why says which file and what is wrong). Return non-zero
 * to stop early. */
typedef int (*vb_embed_cb)(void *ctx, size_t index, const float *desc, const vb_err *why);

/* Embed n image files. Image failures go to the callback; the return value is -1 only
 * for a failure that stops the work (backend/device error, out of memory, callback stop). */
int vb_engine_embed_files(vb_engine *en, const char *const *paths, size_t n, const vb_crop *crop,
                          vb_embed_cb cb, void *ctx, vb_err *e);

/* Default model path: $VB_MODELS/face_recognition.gguf or build/models/face_recognition.gguf. */
const char *vb_default_model_path(void);
/* The same rule for another model file (fingerprint_mcc.gguf); a static buffer per call. */
const char *vb_default_model_file(const char *file);
/* The model a dataset of this modality is evaluated with by default. */
const char *vb_default_model_for(int modality);
/* 1 if the loaded model is the fingerprint matcher. */
int vb_model_is_fingerprint(const vb_model *m);

#endif
