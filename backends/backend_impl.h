/* The backend interface table, for backend implementations (backends/cpu, backends/vulkan)
 * and backends/backend.c only; everyone else uses backends/backend.h. As ggml's
 * ggml_backend_i: the public handles carry the table and an implementation context, and
 * the vb_backend_* wrappers dispatch through it.
 *
 * Contract for an implementation:
 * - init: read b->opts; set b->context and fill b->device; on failure free what it made
 *   (the wrapper then frees the handle).
 * - load: set p->context (p->backend is set); on failure free what it made.
 * - run / preferred_batch: p->context is what load set; run fails with VB_EXIT_USAGE for
 *   batch < 1.
 * - unload / free: release p->context / b->context (never NULL here).
 * - supports_type: may be NULL (then every vb_dtype is supported).
 * - warp: may be NULL (vb_backend_warp then fails saying so); called with arguments the
 *   wrapper checked (n >= 1, size >= 1, every image non-empty with c = 1 or 3).
 * - fp_orient, fp_gabor: may be NULL (the wrappers then fail saying so); called with sizes
 *   and parameters the wrappers checked, possibly from several threads at once. */
#ifndef VB_BACKEND_IMPL_H
#define VB_BACKEND_IMPL_H

#include "backends/backend.h"

struct vb_backend_iface {
    const char *name;
    int (*list_devices)(vb_device_info **infos, int *n, vb_err *e);
    int (*init)(vb_backend *b, vb_err *e);
    int (*supports_type)(const vb_backend *b, vb_dtype type);
    int (*load)(vb_backend *b, const vb_graph *g, vb_prepared *p, vb_err *e);
    int (*run)(vb_prepared *p, const float *input, int batch, float *output, float **node_out,
               vb_timings *t, vb_err *e);
    int (*preferred_batch)(const vb_prepared *p);
    int (*warp)(vb_backend *b, const uint8_t *const *px, const int *w, const int *h, const int *c,
                const vb_similarity *t, int n, int size, const float mean[3], float scale, float *out, vb_err *e);
    int (*fp_orient)(vb_backend *b, const float *img, int w, int h, float grad_sigma, float orient_sigma,
                     float *tensor, vb_err *e);
    int (*fp_gabor)(vb_backend *b, const float *img, const uint8_t *bins, int w, int h, float period, float k,
                    int na, float *out, vb_err *e);
    void (*unload)(vb_prepared *p);
    void (*free)(vb_backend *b);
};

struct vb_backend {
    const vb_backend_iface *iface;
    void *context;            /* the implementation's device state */
    vb_backend_opts opts;
    vb_device_info device;
};

struct vb_prepared {
    vb_backend *backend;
    void *context;            /* the implementation's prepared graph */
};

extern const vb_backend_iface vb_cpu_backend;
extern const vb_backend_iface vb_vulkan_backend;

#endif
