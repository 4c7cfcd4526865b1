#include "backends/backend.h"
#include "backends/backend_impl.h"
#include "core/parse.h"

#include <stdlib.h>
#include <string.h>

static const vb_backend_iface *backend_find(const char *name)
{
    if (!strcmp(name, vb_cpu_backend.name))
        return &vb_cpu_backend;
    if (!strcmp(name, vb_vulkan_backend.name))
        return &vb_vulkan_backend;
    return NULL;
}

int vb_backend_parse_spec(const char *text, vb_backend_spec *spec, vb_err *e)
{
    memset(spec, 0, sizeof *spec);
    spec->opts.device_index = -1;
    if (strlen(text) >= sizeof spec->text)
        return vb_fail(e, VB_EXIT_USAGE, "backend '%s': name too long", text);
    snprintf(spec->text, sizeof spec->text, "%s", text);
    char name[64];
    snprintf(name, sizeof name, "%s", text);
    char *colon = strchr(name, ':');
    const char *arg = NULL;
    if (colon) {
        *colon = 0;
        arg = colon + 1;
    }
    spec->iface = backend_find(name);
    if (!spec->iface)
        return vb_fail(e, VB_EXIT_USAGE, "unknown backend '%s' (expected cpu, cpu:ref, vulkan or vulkan:N)", text);
    if (!arg)
        return 0;
    if (!strcmp(name, "cpu")) {
        if (strcmp(arg, "ref"))
            return vb_fail(e, VB_EXIT_USAGE, "backend '%s': the cpu backend takes only ':ref'", text);
        spec->opts.reference = 1;
        return 0;
    }
    int idx;
    if (vb_parse_int(arg, 0, 1000, &idx))
        return vb_fail(e, VB_EXIT_USAGE, "backend '%s': expected a device index after ':'", text);
    spec->opts.device_index = idx;
    return 0;
}

int vb_backend_list_devices(const char *name, vb_device_info **infos, int *n, vb_err *e)
{
    *infos = NULL;
    *n = 0;
    const vb_backend_iface *iface = backend_find(name);
    if (!iface)
        return vb_fail(e, VB_EXIT_USAGE, "unknown backend '%s' (expected cpu or vulkan)", name);
    return iface->list_devices(infos, n, e);
}

int vb_backend_init(const vb_backend_spec *spec, vb_backend **out, vb_err *e)
{
    *out = NULL;
    if (!spec->iface)
        return vb_fail(e, VB_EXIT_USAGE, "backend spec '%s' was not parsed", spec->text);
    vb_backend *b = vb_calloc(1, sizeof *b, e);
    if (!b)
        return -1;
    b->iface = spec->iface;
    b->opts = spec->opts;
    if (b->iface->init(b, e)) {
        free(b);
        return -1;
    }
    *out = b;
    return 0;
}

int vb_backend_init_named(const char *name, const vb_backend_opts *opts, vb_backend **out, vb_err *e)
{
    vb_backend_spec spec = {.iface = backend_find(name), .opts = *opts};
    snprintf(spec.text, sizeof spec.text, "%s", name);
    *out = NULL;
    if (!spec.iface)
        return vb_fail(e, VB_EXIT_USAGE, "unknown backend '%s' (expected cpu or vulkan)", name);
    return vb_backend_init(&spec, out, e);
}

const char *vb_backend_name(const vb_backend *b)
{
    return b->iface->name;
}

const vb_device_info *vb_backend_describe(const vb_backend *b)
{
    return &b->device;
}

int vb_backend_supports_type(const vb_backend *b, vb_dtype type)
{
    return b->iface->supports_type ? b->iface->supports_type(b, type) : 1;
}

int vb_backend_load(vb_backend *b, const vb_graph *g, vb_prepared **out, vb_err *e)
{
    *out = NULL;
    vb_prepared *p = vb_calloc(1, sizeof *p, e);
    if (!p)
        return -1;
    p->backend = b;
    if (b->iface->load(b, g, p, e)) {
        free(p);
        return -1;
    }
    *out = p;
    return 0;
}

int vb_backend_run(vb_prepared *p, const float *input, int batch, float *output, float **node_out,
                   vb_timings *t, vb_err *e)
{
    return p->backend->iface->run(p, input, batch, output, node_out, t, e);
}

int vb_backend_warp(vb_backend *b, const uint8_t *const *px, const int *w, const int *h, const int *c,
                    const vb_similarity *t, int n, int size, const float mean[3], float scale, float *out,
                    vb_err *e)
{
    if (!b->iface->warp)
        return vb_fail(e, VB_EXIT_USAGE, "the %s backend has no warp kernel (face alignment)", b->iface->name);
    if (n < 0 || size < 1)
        return vb_fail(e, VB_EXIT_USAGE, "warp: %d chips of size %d", n, size);
    for (int i = 0; i < n; i++)
        if (!px[i] || w[i] < 1 || h[i] < 1 || (c[i] != 1 && c[i] != 3))
            return vb_fail(e, VB_EXIT_USAGE, "warp: image %d is %dx%d with %d channels (expected 1 or 3)", i, w[i],
                           h[i], c[i]);
    return n ? b->iface->warp(b, px, w, h, c, t, n, size, mean, scale, out, e) : 0;
}

/* The image sizes the kernels index with 32-bit ints, and the parameter ranges of
 * models/fp_model.c (a blur radius up to 90 px, a Gabor kernel up to 289 px a side). */
static int fp_check(const vb_backend *b, int has, const char *what, int w, int h, vb_err *e)
{
    if (!has)
        return vb_fail(e, VB_EXIT_USAGE, "the %s backend has no %s kernel (fingerprints)", b->iface->name, what);
    if (w < 1 || h < 1 || (int64_t)w * h > (int64_t)1 << 26)
        return vb_fail(e, VB_EXIT_USAGE, "%s: a %dx%d image (at most 2^26 pixels)", what, w, h);
    return 0;
}

int vb_backend_fp_orient(vb_backend *b, const float *img, int w, int h, float grad_sigma, float orient_sigma,
                         float *tensor, vb_err *e)
{
    if (fp_check(b, b->iface->fp_orient != NULL, "orientation", w, h, e))
        return -1;
    if (!(grad_sigma >= 0 && grad_sigma <= 30) || !(orient_sigma >= 0 && orient_sigma <= 30))
        return vb_fail(e, VB_EXIT_USAGE, "orientation: sigmas %g and %g (0..30)", grad_sigma, orient_sigma);
    return b->iface->fp_orient(b, img, w, h, grad_sigma, orient_sigma, tensor, e);
}

int vb_backend_fp_gabor(vb_backend *b, const float *img, const uint8_t *bins, int w, int h, float period, float k,
                        int na, float *out, vb_err *e)
{
    if (fp_check(b, b->iface->fp_gabor != NULL, "gabor", w, h, e))
        return -1;
    if (!(period >= 1 && period <= 64) || !(k > 0 && k * period <= 50) || na < 1 || na > VB_FP_MAX_BINS)
        return vb_fail(e, VB_EXIT_USAGE, "gabor: period %g, k %g, %d bins (period 1..64, k * period <= 50, 1..%d bins)",
                       period, k, na, VB_FP_MAX_BINS);
    for (size_t i = 0; i < (size_t)w * h; i++)
        if (bins[i] >= na && bins[i] != VB_FP_NO_BIN)
            return vb_fail(e, VB_EXIT_USAGE, "gabor: pixel %zu is in bin %d of %d", i, bins[i], na);
    return b->iface->fp_gabor(b, img, bins, w, h, period, k, na, out, e);
}

int vb_backend_preferred_batch(const vb_prepared *p)
{
    return p->backend->iface->preferred_batch(p);
}

void vb_backend_unload(vb_prepared *p)
{
    if (!p)
        return;
    p->backend->iface->unload(p);
    free(p);
}

void vb_backend_free(vb_backend *b)
{
    if (!b)
        return;
    b->iface->free(b);
    free(b);
}
