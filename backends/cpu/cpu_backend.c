/* The CPU backend: executes a vb_graph node by node. Two paths:
 *   reference (cpu:ref): backends/cpu/ref_ops.c, the definition every kernel is checked against;
 *   fast (cpu):          im2col + packed GEMM for conv/fc (backends/cpu/fast_ops.c), the
 *                        reference ops for the cheap element-wise and pooling ops.
 * The reference path decodes weights of any stored type to fp32 once at load (the
 * "dequantized reference" every kernel is tested against); the fast path packs them in
 * their stored type (F32, F16, Q8_0, Q4_0) and its GEMM kernels convert them in registers,
 * so a quantized model also takes less memory and bandwidth here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backend.h"
#include "backends/backend_impl.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/fast_ops.h"
#include "backends/cpu/ref_ops.h"
#include "backends/plan.h"

typedef struct cpu_backend {
    vb_backend_opts opts;
    int threads;
} cpu_backend;

typedef struct node_weights {
    float *w32;               /* reference path: decoded weights ([cout][K] / [out][in]) */
    vb_packed_weights packed; /* fast path: panels in the stored type */
} node_weights;

typedef struct cpu_prepared {
    cpu_backend *be;
    const vb_graph *g;
    node_weights *weights;   /* per node */
    int *slot;               /* per node: activation buffer slot */
    int n_slots;
    size_t *slot_floats;     /* per-image capacity of each slot */
    float **slot_buf;
    int batch_cap;
    float *scratch;          /* im2col */
    size_t scratch_floats;   /* per image */
} cpu_prepared;

static void cpu_model_name(char *out, size_t n)
{
    snprintf(out, n, "CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10)) {
            char *p = strchr(line, ':');
            if (p) {
                p++;
                while (*p == ' ')
                    p++;
                p[strcspn(p, "\n")] = 0;
                snprintf(out, n, "%s", p);
            }
            break;
        }
    }
    fclose(f);
}

static void fill_info(vb_device_info *info, int reference, int threads)
{
    memset(info, 0, sizeof *info);
    snprintf(info->backend, sizeof info->backend, "cpu");
    cpu_model_name(info->name, sizeof info->name);
    /* e.g. "amd-epyc" (fast path) or "amd-epyc-ref" (reference path) */
    char slug[48];
    vb_slugify(info->name, slug, sizeof slug);
    snprintf(info->slug, sizeof info->slug, "%s%s", slug, reference ? "-ref" : "");
    snprintf(info->type, sizeof info->type, "cpu");
    if (reference)
        snprintf(info->driver, sizeof info->driver, "fp32 reference path, 1 thread");
    else
        snprintf(info->driver, sizeof info->driver, "im2col+gemm (%s kernels), %d thread%s",
                 vb_fast_kernel_family(), threads, threads == 1 ? "" : "s");
    snprintf(info->vendor, sizeof info->vendor, "host");
}

static int cpu_threads(const vb_backend_opts *o)
{
    if (o->threads > 0)
        return o->threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int cpu_list_devices(vb_device_info **infos, int *n, vb_err *e)
{
    *infos = vb_calloc(1, sizeof **infos, e);
    if (!*infos)
        return -1;
    vb_backend_opts o = {0};
    fill_info(*infos, 0, cpu_threads(&o));
    *n = 1;
    return 0;
}

static int cpu_init(vb_backend *handle, vb_err *e)
{
    const vb_backend_opts *opts = &handle->opts;
    if (opts->device_index > 0)
        return vb_fail(e, VB_EXIT_DEVICE, "the cpu backend has one device (index 0), not %d", opts->device_index);
    cpu_backend *b = vb_calloc(1, sizeof *b, e);
    if (!b)
        return -1;
    b->opts = *opts;
    b->threads = opts->reference ? 1 : cpu_threads(opts);
    fill_info(&handle->device, opts->reference, b->threads);
    handle->context = b;
    return 0;
}

static void cpu_free_prepared(cpu_prepared *p)
{
    if (!p)
        return;
    if (p->weights)
        for (int i = 0; i < p->g->n_nodes; i++) {
            free(p->weights[i].w32);
            vb_fast_pack_free(&p->weights[i].packed);
        }
    for (int s = 0; s < p->n_slots; s++)
        free(p->slot_buf[s]);
    free(p->slot_buf);
    free(p->slot_floats);
    free(p->slot);
    free(p->weights);
    free(p->scratch);
    free(p);
}

/* Reference path: decode a node's weights to fp32. Fast path: pack them in their stored
 * type, and size the im2col scratch. */
static int prepare_weights(cpu_prepared *p, int i, vb_err *e)
{
    const vb_node *n = &p->g->nodes[i];
    if (!n->weight)
        return 0;
    if (p->be->opts.reference) {
        int64_t count = vb_tensor_nelements(n->weight);
        float *w = count > 0 ? vb_malloc((size_t)count * sizeof(float), e) : NULL;
        if (!w || vb_tensor_to_f32(n->weight, w, e)) {
            free(w);
            return -1;
        }
        p->weights[i].w32 = w;
        return 0;
    }
    int cout = n->op == VB_OP_CONV2D ? n->c : (int)n->weight->ne[1];
    if (vb_fast_pack_tensor(n->weight, cout, &p->weights[i].packed, e))
        return -1;
    if (n->op == VB_OP_CONV2D) {
        size_t need = (size_t)n->h * n->w * n->kh * n->kw * p->g->nodes[n->src[0]].c;
        if (need > p->scratch_floats)
            p->scratch_floats = need;
    }
    return 0;
}

size_t vb_cpu_weight_bytes(const vb_prepared *handle)
{
    const cpu_prepared *p = handle->context;
    size_t bytes = 0;
    for (int i = 0; i < p->g->n_nodes; i++) {
        if (p->weights[i].w32)
            bytes += (size_t)vb_tensor_nelements(p->g->nodes[i].weight) * sizeof(float);
        bytes += p->weights[i].packed.bytes;
    }
    return bytes;
}

/* Give every node an activation slot (backends/plan.h). */
static int plan_slots(cpu_prepared *p, vb_err *e)
{
    const vb_graph *g = p->g;
    p->slot = vb_calloc((size_t)g->n_nodes, sizeof(int), e);
    p->slot_floats = vb_calloc((size_t)g->n_nodes, sizeof(size_t), e);
    p->slot_buf = vb_calloc((size_t)g->n_nodes, sizeof(float *), e);
    if (!p->slot || !p->slot_floats || !p->slot_buf)
        return -1;
    vb_plan_step steps[VB_GRAPH_MAX_NODES];
    for (int i = 0; i < g->n_nodes; i++)
        steps[i] = (vb_plan_step){vb_node_size(&g->nodes[i]), {g->nodes[i].src[0], g->nodes[i].src[1]}};
    p->n_slots = vb_plan_slots(steps, g->n_nodes, g->output, p->slot, p->slot_floats);
    return 0;
}

static int cpu_load(vb_backend *handle, const vb_graph *g, vb_prepared *out, vb_err *e)
{
    cpu_prepared *p = vb_calloc(1, sizeof *p, e);
    if (!p)
        return -1;
    p->be = handle->context;
    p->g = g;
    p->weights = vb_calloc((size_t)g->n_nodes, sizeof *p->weights, e);
    if (!p->weights || plan_slots(p, e))
        goto fail;
    for (int i = 0; i < g->n_nodes; i++)
        if (prepare_weights(p, i, e))
            goto fail;
    out->context = p;
    return 0;
fail:
    cpu_free_prepared(p);
    return -1;
}

static int ensure_batch(cpu_prepared *p, int batch, vb_err *e)
{
    if (batch <= p->batch_cap)
        return 0;
    for (int s = 0; s < p->n_slots; s++) {
        free(p->slot_buf[s]);
        p->slot_buf[s] = vb_malloc(p->slot_floats[s] * batch * sizeof(float), e);
        if (!p->slot_buf[s])
            return -1;
    }
    free(p->scratch);
    p->scratch = NULL;
    if (p->scratch_floats && !(p->scratch = vb_malloc(p->scratch_floats * batch * sizeof(float), e)))
        return -1;
    p->batch_cap = batch;
    return 0;
}

static void exec_node(cpu_prepared *p, int i, int batch)
{
    const vb_node *n = &p->g->nodes[i];
    const vb_node *a = n->src[0] >= 0 ? &p->g->nodes[n->src[0]] : NULL;
    const vb_node *bn = n->src[1] >= 0 ? &p->g->nodes[n->src[1]] : NULL;
    const float *x = a ? p->slot_buf[p->slot[n->src[0]]] : NULL;
    float *y = p->slot_buf[p->slot[i]];
    const int ref = p->be->opts.reference;
    const float *bias = n->bias ? n->bias->data : NULL;
    switch (n->op) {
    case VB_OP_INPUT:
    case VB_OP_COUNT:
        break;
    case VB_OP_CONV2D:
        if (ref)
            vb_ref_conv2d(x, batch, a->h, a->w, a->c, p->weights[i].w32, bias, n->c, n->kh, n->kw,
                          n->stride, n->pad_top, n->pad_left, n->h, n->w, y);
        else
            vb_fast_conv2d(x, batch, a->h, a->w, a->c, &p->weights[i].packed, bias, n->kh, n->kw,
                           n->stride, n->pad_top, n->pad_left, n->h, n->w, y, p->scratch, p->be->threads);
        break;
    case VB_OP_AFFINE:
        vb_ref_affine(x, (size_t)batch * n->h * n->w, n->c, n->scale->data, n->shift->data, y);
        break;
    case VB_OP_RELU:
        vb_ref_relu(x, (size_t)batch * vb_node_size(n), y);
        break;
    case VB_OP_MAXPOOL:
        vb_ref_maxpool(x, batch, a->h, a->w, a->c, n->kh, n->stride, n->pad_top, n->pad_left, n->h, n->w, y);
        break;
    case VB_OP_AVGPOOL:
        vb_ref_avgpool(x, batch, a->h, a->w, a->c, n->kh, n->stride, n->pad_top, n->pad_left, n->h, n->w, y);
        break;
    case VB_OP_ADD_ZEROPAD:
        vb_ref_add_zeropad(x, a->h, a->w, a->c, p->slot_buf[p->slot[n->src[1]]], bn->h, bn->w, bn->c,
                           batch, y, n->h, n->w, n->c);
        break;
    case VB_OP_MEAN_HW:
        vb_ref_mean_hw(x, batch, a->h, a->w, a->c, y);
        break;
    case VB_OP_FC: {
        int in = (int)vb_node_size(a);
        if (ref)
            vb_ref_fc(x, batch, in, p->weights[i].w32, bias, n->c, y);
        else
            vb_fast_gemm(x, batch, &p->weights[i].packed, bias, y, p->be->threads);
        break;
    }
    }
}

static int cpu_run(vb_prepared *handle, const float *input, int batch, float *output, float **node_out,
                   vb_timings *t, vb_err *e)
{
    cpu_prepared *p = handle->context;
    const vb_graph *g = p->g;
    if (batch < 1)
        return vb_fail(e, VB_EXIT_USAGE, "batch size must be at least 1");
    if (ensure_batch(p, batch, e))
        return -1;
    double t0 = vb_now();
    for (int i = 0; i < g->n_nodes; i++) {
        double ts = vb_now();
        const vb_node *n = &g->nodes[i];
        size_t count = (size_t)batch * vb_node_size(n);
        if (n->op == VB_OP_INPUT)
            memcpy(p->slot_buf[p->slot[i]], input, count * sizeof(float));
        else
            exec_node(p, i, batch);
        if (node_out && node_out[i])
            memcpy(node_out[i], p->slot_buf[p->slot[i]], count * sizeof(float));
        if (t && t->node_ms)
            t->node_ms[i] = (vb_now() - ts) * 1e3;
    }
    memcpy(output, p->slot_buf[p->slot[g->output]], (size_t)batch * g->out_dim * sizeof(float));
    if (t)
        t->total_ms = (vb_now() - t0) * 1e3;
    return 0;
}

static int cpu_preferred_batch(const vb_prepared *handle)
{
    const cpu_prepared *p = handle->context;
    return p->be->opts.reference ? 1 : 8;
}

static void cpu_unload(vb_prepared *handle)
{
    cpu_free_prepared(handle->context);
}

static void cpu_free(vb_backend *handle)
{
    free(handle->context);
}

const vb_backend_iface vb_cpu_backend = {
    .name = "cpu",
    .list_devices = cpu_list_devices,
    .init = cpu_init,
    .load = cpu_load,
    .run = cpu_run,
    .preferred_batch = cpu_preferred_batch,
    .unload = cpu_unload,
    .free = cpu_free,
};
