/* The backend interface: one table of function pointers per backend, in the spirit of
 * ggml's backend interface. A backend executes a vb_graph on batches of preprocessed
 * images (NHWC float32, already normalized) and returns the output node's floats.
 *
 * Life cycle: init(opts) -> describe() -> load(graph) -> run()* -> unload() -> shutdown().
 */
#ifndef VB_BACKEND_H
#define VB_BACKEND_H

#include "core/common.h"
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
} vb_device_info;

typedef struct vb_backend_opts {
    int device_index;        /* -1: backend's default choice */
    int reference;           /* cpu: use the plain reference path */
    int no_fp16;             /* vulkan: force fp32 variants */
    int threads;             /* cpu: worker threads (0 = all cores) */
    int validation;          /* vulkan: enable the Khronos validation layer; messages fail runs */
} vb_backend_opts;

/* Per-run timing. node_ms (if non-NULL, n_nodes long) receives per-node times; fused
 * nodes report their time on the last node of the fused group and 0 on the others. */
typedef struct vb_timings {
    double total_ms;
    double *node_ms;
} vb_timings;

typedef struct vb_backend vb_backend;   /* opaque, per implementation */
typedef struct vb_prepared vb_prepared; /* a graph loaded onto a backend */

typedef struct vb_backend_iface {
    const char *name;
    /* Enumerate devices without initializing one (for `veribench devices`). *infos is
     * malloc'd; a missing driver/loader is an error with an actionable message. */
    int (*list_devices)(vb_device_info **infos, int *n, vb_err *e);
    int (*init)(const vb_backend_opts *opts, vb_backend **out, vb_err *e);
    void (*describe)(vb_backend *b, vb_device_info *info);
    int (*load)(vb_backend *b, const vb_graph *g, vb_prepared **out, vb_err *e);
    /* Run `batch` images. input: batch * in_h*in_w*in_c floats; output: batch * out_dim.
     * node_out (optional, n_nodes entries): for each non-NULL entry, the backend copies
     * that node's activations (batch * vb_node_size floats) when it materializes the
     * node, and sets the entry's first float to NAN when it does not (fused away). */
    int (*run)(vb_prepared *p, const float *input, int batch, float *output, float **node_out,
               vb_timings *t, vb_err *e);
    /* Preferred batch size for throughput on this device. */
    int (*preferred_batch)(vb_prepared *p);
    void (*unload)(vb_prepared *p);
    void (*shutdown)(vb_backend *b);
} vb_backend_iface;

/* A backend spec on the command line: "cpu", "cpu:ref", "vulkan", "vulkan:N". */
typedef struct vb_backend_spec {
    const vb_backend_iface *iface;
    vb_backend_opts opts;
    char text[64];
} vb_backend_spec;

int vb_backend_parse_spec(const char *text, vb_backend_spec *spec, vb_err *e);
const vb_backend_iface *vb_backend_find(const char *name);

extern const vb_backend_iface vb_cpu_backend;
extern const vb_backend_iface vb_vulkan_backend;

#endif
