/* The embedding engine: model file -> graph -> backend, and image files -> descriptors.
 * Shared by `embed`, `run` and `check` so that every command computes a template the same
 * way (decode -> crop/resize/normalize -> backend, in batches). */
#ifndef VB_ENGINE_H
#define VB_ENGINE_H

#include "backends/backend.h"
#include "datasets/preprocess.h"
#include "models/face_detect.h"
#include "models/face_landmarks.h"
#include "models/fingerprint.h"
#include "models/gguf.h"
#include "models/graph.h"

typedef struct vb_engine_opts {
    const char *model_path;
    const char *backend;     /* "cpu", "cpu:ref", "vulkan", "vulkan:N" */
    int batch;               /* 0: the backend's preferred batch */
    int threads;             /* cpu threads (0: all cores) */
    int fp16;                /* vulkan: fp16 variants (--fp16) */
    int validation;          /* vulkan: validation layer */
    vb_face_prep prep;       /* face models: align (default) or crop (datasets/preprocess.h) */
    const char *save_chips;  /* align: also write each aligned chip as DIR/<index>.png */
    const char *detector_model, *landmark_model; /* default: beside the face model's default */
} vb_engine_opts;

/* The stages of the face pipeline whose times the engine accumulates (wall ms). */
enum { VB_STAGE_DECODE, VB_STAGE_DETECT, VB_STAGE_LANDMARKS, VB_STAGE_ALIGN, VB_STAGE_DESCRIBE, VB_STAGES };
extern const char *const vb_stage_names[VB_STAGES];

/* Where a sample's face came from (--preprocess align). */
typedef enum vb_face_source { VB_FACE_DETECTED = 0, VB_FACE_FALLBACK, VB_FACE_NONE } vb_face_source;
extern const char *const vb_face_source_names[3];

typedef struct vb_face_record {
    int faces;               /* faces the detector found (after NMS) */
    vb_face_source source;
    vb_face_box box;         /* the box the landmark net looked at (detected or fallback) */
    vb_point landmarks[VB_LANDMARKS];
} vb_face_record;

/* A net of the pipeline besides the descriptor: model, graph, prepared on en->backend. */
typedef struct vb_engine_net {
    vb_model model;
    vb_graph graph;
    vb_prepared *prepared;
} vb_engine_net;

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
     * accumulates; prepared is NULL: the pipeline runs on the host, its image kernels on the
     * backend (vb_backend_fp_orient, vb_backend_fp_gabor; on a CPU backend the reference on
     * the extracting thread, timed as its CPU time; elsewhere wall time). A print with fewer than
     * fp.min_minutiae minutiae is a failure to acquire (to enrol), like an unreadable file.
     * A path ending in .fmr or .fpt is a saved template (models/fingerprint.h: `veribench
     * enroll` writes them), used without extraction; a corrupt one stops the embedding
     * with an error naming the file (VB_EXIT_INPUT), never a silent failure to acquire. */
    int fingerprint;
    vb_fp_params fp;
    /* Face preprocessing. Align opens the detector and landmark nets on the same backend;
     * stage_ms accumulates per-stage wall time over stage_images images; on_face (set by
     * the caller, may be NULL) hears, in input order and before the descriptor callback,
     * where each decoded sample's face came from. */
    vb_face_prep prep;
    const char *save_chips;
    vb_engine_net det, lm;
    vb_det_params det_params;
    double stage_ms[VB_STAGES];
    size_t stage_images;
    void (*on_face)(void *ctx, size_t index, const vb_face_record *r);
    /* also in input order, for each sample that reaches the descriptor net: its input
     * (the aligned chip, normalized; in_h*in_w*in_c floats). May be NULL. */
    void (*on_chip)(void *ctx, size_t index, const float *input);
    void *face_ctx;
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
int vb_engine_embed_files(vb_engine *en, const char *const *paths, size_t n, vb_embed_cb cb, void *ctx,
                          vb_err *e);

/* Run n inputs of a net prepared on en->backend in calls of at most *batch (halved, once
 * said, when the device cannot take a call that size); backend times are added to tm
 * (node_ms sized for g). */
int vb_engine_run_net(vb_engine *en, vb_prepared *p, const vb_graph *g, int *batch, const float *input, size_t n,
                      float *out, vb_timings *tm, vb_err *e);

/* The whole face model behind `--preprocess align` (issue 11), as the engine runs it:
 *   decode -> detect (tiny face detector or SSD MobileNet v1 graph, boxes decoded and NMS'd on the CPU, the face
 *   nearest the centre weighted by size kept) -> landmarks (68-point net on the box padded
 *   to a square) -> align (similarity onto dlib's chip template, bilinear warp) -> describe
 *   (the descriptor net).
 * All three nets run on the engine's backend, batch by batch; the CPU steps between them
 * (decoding, box decoding, the warp) run on one thread per core. A sample in which no face
 * is found is a failure to acquire ("no face found ...") or, with --on-no-face
 * fallback-crop, goes on with the landmark net on the given box; either way the engine's
 * on_face callback hears it. Implemented in cli/engine_face.c; the engine calls these. */
/* Loads the detector and landmark models (o->detector_model / o->landmark_model, else
 * tiny_face_detector.gguf / face_landmark_68.gguf beside the default models) onto
 * en->backend. A missing model names the file and says how to get it. */
int vb_face_open(vb_engine *en, const vb_engine_opts *o, vb_err *e);
/* Safe on an engine that never opened them. */
void vb_face_close(vb_engine *en);
int vb_face_embed_files(vb_engine *en, const char *const *paths, size_t n, vb_embed_cb cb, void *ctx, vb_err *e);

/* Default model path: $VB_MODELS/face_recognition.gguf or build/models/face_recognition.gguf. */
const char *vb_default_model_path(void);
/* The same rule for another model file (fingerprint_mcc.gguf); a static buffer per call. */
const char *vb_default_model_file(const char *file);
/* The model a dataset of this modality is evaluated with by default. */
const char *vb_default_model_for(int modality);
/* 1 if the loaded model is the fingerprint matcher. */
int vb_model_is_fingerprint(const vb_model *m);

#endif
