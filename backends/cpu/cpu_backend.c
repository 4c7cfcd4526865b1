/* The CPU backend: executes a vb_graph. Two paths:
 *   reference (cpu:ref): backends/cpu/ref_ops.c node by node on one thread, the definition
 *                        every kernel is checked against; weights decoded to fp32 at load;
 *   fast (cpu):          backends/cpu/fast_ops.c on a persistent thread pool (threadpool.h): conv
 *                        and fc as a packed, blocked GEMM whose epilogue also does the
 *                        affine, residual add and ReLU, leaky ReLU or ReLU6 that follow it (one
 *                        step instead of up to four passes over the activations), the
 *                        depthwise conv with the affine and activation after it, and every other op
 *                        split over the threads too. Weights of any stored type are decoded
 *                        and packed into fp32 panels once at load.
 * The large 3x3 stride-1 convs run as Winograd F(4,3) instead (backends/cpu/winograd.c),
 * chosen once at load; VERIBENCH_CPU_CONV=direct or winograd makes every one the one or the
 * other.
 * The graph is executed as a list of steps: a step is one node, or on the fast path a
 * fused group conv/fc [-> affine] [-> add_zeropad] [-> relu | leaky_relu | relu6] [-> maxpool]
 * (the pool only after a conv, with windows that do not overlap: the conv's output is then
 * never written, only pooled from a per-thread band), or dwconv [-> affine] [-> relu |
 * leaky_relu | relu6]; activation buffers are
 * planned over the steps (backends/plan.h), and nodes fused away read NAN when asked for
 * (backends/backend.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backend.h"
#include "backends/backend_impl.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/fast_ops.h"
#include "backends/cpu/threadpool.h"
#include "backends/cpu/ref_ops.h"
#include "backends/cpu/winograd.h"
#include "backends/plan.h"

/* How the fast path runs 3x3 stride-1 convs (VERIBENCH_CPU_CONV): Winograd F(4x4, 3x3)
 * (backends/cpu/winograd.h) where vb_wino_pays says so and the implicit GEMM elsewhere
 * (auto, the default), the implicit GEMM for all (direct) or Winograd for all. */
typedef enum cpu_conv { CONV_DIRECT = 0, CONV_AUTO, CONV_WINOGRAD } cpu_conv;

typedef struct cpu_backend {
    vb_backend_opts opts;
    int threads;
    cpu_conv conv;
    vb_tpool *pool; /* fast path: the worker threads, alive as long as the backend */
} cpu_backend;

/* One step of execution: a node, or a fused group ending at `last`. */
typedef struct cpu_step {
    int node;               /* the first node (the conv/fc of a group) */
    int affine, add, act;   /* fused nodes, -1 when absent (act: a RELU, LEAKY_RELU or RELU6) */
    int pool;               /* a fused MAXPOOL after a conv, -1 when absent */
    int res;                /* add: the node supplying the residual (the add's other input) */
    int last;               /* the node whose output the step produces */
} cpu_step;

typedef struct node_weights {
    float *w32;               /* reference path: decoded weights ([cout][K] / [out][in]) */
    vb_packed_weights packed; /* fast path: panels in the stored type */
    vb_wino_weights wino;     /* fast path, a Winograd conv: transformed panels (packed unused) */
} node_weights;

typedef struct cpu_prepared {
    cpu_backend *be;
    const vb_graph *g;
    node_weights *weights;   /* per node */
    cpu_step steps[VB_GRAPH_MAX_NODES];
    int n_steps;
    int node_step[VB_GRAPH_MAX_NODES]; /* the step producing each node's output, -1: fused away */
    int *slot;               /* per step: activation buffer slot */
    int n_slots;
    size_t *slot_floats;     /* per-image capacity of each slot */
    float **slot_buf;
    int batch_cap;
    float *scratch;          /* fast path: per-thread GEMM scratch, threads blocks */
    size_t scratch_floats;   /* per thread */
    float *padded;           /* fast path: zero-padded conv input (implicit GEMM) */
    size_t padded_floats;    /* per image */
    float *band;             /* fast path: per-thread conv rows of a conv + maxpool step */
    size_t band_floats;      /* per thread */
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

static void fill_info(vb_device_info *info, int reference, int threads, cpu_conv conv)
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
        snprintf(info->driver, sizeof info->driver, "packed gemm + fused epilogue (%s kernels), %d thread%s%s",
                 vb_fast_kernel_family(), threads, threads == 1 ? "" : "s",
                 conv == CONV_WINOGRAD ? ", winograd F(4,3) on every 3x3 stride-1 conv"
                 : conv == CONV_AUTO   ? ", winograd F(4,3) on the large 3x3 stride-1 convs"
                                       : "");
    snprintf(info->vendor, sizeof info->vendor, "host");
    info->threads = threads;
    snprintf(info->kernels, sizeof info->kernels, "%s%s", reference ? "reference" : vb_fast_kernel_family(),
             reference ? "" : conv == CONV_WINOGRAD ? "+wino" : conv == CONV_AUTO ? "+wino-auto" : "");
}

static int cpu_threads(const vb_backend_opts *o)
{
    if (o->threads > 0)
        return o->threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* VERIBENCH_CPU_CONV: unset or "auto": Winograd F(4,3) on the 3x3 stride-1 convs where
 * vb_wino_pays, the implicit GEMM elsewhere (the default: faster at batch 1, 8 and 32 and no
 * LFW decision moved; see backends/cpu/README.md); "direct": the implicit GEMM for every
 * conv; "winograd": Winograd on every 3x3 stride-1 conv. Anything else is a usage error,
 * not a silent default. */
static int conv_from_env(cpu_conv *conv, vb_err *e)
{
    static const struct {
        const char *name;
        cpu_conv conv;
    } names[] = {{"direct", CONV_DIRECT}, {"auto", CONV_AUTO}, {"winograd", CONV_WINOGRAD}};
    const char *env = getenv("VERIBENCH_CPU_CONV");
    *conv = CONV_AUTO;
    if (!env || !*env)
        return 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(env, names[i].name)) {
            *conv = names[i].conv;
            return 0;
        }
    return vb_fail(e, VB_EXIT_USAGE, "VERIBENCH_CPU_CONV='%s': expected direct, auto or winograd", env);
}

static int cpu_list_devices(vb_device_info **infos, int *n, vb_err *e)
{
    *infos = vb_calloc(1, sizeof **infos, e);
    if (!*infos)
        return -1;
    vb_backend_opts o = {0};
    cpu_conv conv;
    vb_err ignored = {0}; /* a bad VERIBENCH_CPU_CONV fails the init that uses it, not the listing */
    if (conv_from_env(&conv, &ignored))
        conv = CONV_AUTO;
    fill_info(*infos, 0, cpu_threads(&o), conv);
    *n = 1;
    return 0;
}

static int cpu_init(vb_backend *handle, vb_err *e)
{
    const vb_backend_opts *opts = &handle->opts;
    if (opts->device_index > 0)
        return vb_fail(e, VB_EXIT_DEVICE, "the cpu backend has one device (index 0), not %d", opts->device_index);
    cpu_conv conv;
    if (conv_from_env(&conv, e))
        return -1;
    cpu_backend *b = vb_calloc(1, sizeof *b, e);
    if (!b)
        return -1;
    b->opts = *opts;
    b->conv = opts->reference ? CONV_DIRECT : conv;
    b->threads = opts->reference ? 1 : cpu_threads(opts);
    if (b->threads > 1 && !(b->pool = vb_tpool_create(b->threads))) {
        int threads = b->threads;
        free(b);
        return vb_fail(e, VB_EXIT_DEVICE, "cannot start %d cpu worker threads", threads);
    }
    fill_info(&handle->device, opts->reference, b->threads, b->conv);
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
            vb_wino_free(&p->weights[i].wino);
        }
    for (int s = 0; s < p->n_slots; s++)
        free(p->slot_buf[s]);
    free(p->slot_buf);
    free(p->slot_floats);
    free(p->slot);
    free(p->weights);
    free(p->scratch);
    free(p->padded);
    free(p->band);
    free(p);
}

/* Whether node i (a conv) runs as Winograd: asked for (every 3x3 stride-1 conv, or in auto
 * those where it pays), and not a conv whose step ends in a fused max pool (that step
 * computes conv rows into a band). The choice is made here, once per model, so a conv's
 * floats never depend on the batch size or the threads. */
static int uses_winograd(const cpu_prepared *p, int i)
{
    const vb_node *n = &p->g->nodes[i];
    if (p->be->conv == CONV_DIRECT || n->op != VB_OP_CONV2D || !vb_wino_applies(n->kh, n->kw, n->stride) ||
        (p->be->conv == CONV_AUTO && !vb_wino_pays(n->h, n->w)))
        return 0;
    for (int s = 0; s < p->n_steps; s++)
        if (p->steps[s].node == i && p->steps[s].pool >= 0)
            return 0;
    return 1;
}

/* Winograd: the transformed filters, and the scratch they need. */
static int prepare_winograd(cpu_prepared *p, int i, vb_err *e)
{
    const vb_node *n = &p->g->nodes[i];
    if (vb_wino_pack_tensor(n->weight, n->c, &p->weights[i].wino, e))
        return -1;
    size_t need = vb_wino_scratch_floats(p->weights[i].wino.cin, n->c);
    if (need > p->scratch_floats)
        p->scratch_floats = need;
    return 0;
}

/* Reference path: decode a node's weights to fp32. Fast path: pack them in their stored
 * type (or transform them for Winograd), and size the im2col scratch. */
static int prepare_weights(cpu_prepared *p, int i, vb_err *e)
{
    const vb_node *n = &p->g->nodes[i];
    if (!n->weight)
        return 0;
    /* depthwise filters stay plain fp32 HWC on both paths: they are small and not GEMMs */
    if (p->be->opts.reference || n->op == VB_OP_DWCONV) {
        int64_t count = vb_tensor_nelements(n->weight);
        float *w = count > 0 ? vb_malloc((size_t)count * sizeof(float), e) : NULL;
        if (!w || vb_tensor_to_f32(n->weight, w, e)) {
            free(w);
            return -1;
        }
        p->weights[i].w32 = w;
        return 0;
    }
    if (uses_winograd(p, i))
        return prepare_winograd(p, i, e);
    int cout = n->op == VB_OP_CONV2D ? n->c : (int)n->weight->ne[1];
    if (vb_fast_pack_tensor(n->weight, cout, &p->weights[i].packed, e))
        return -1;
    size_t need = vb_fast_scratch_floats(p->weights[i].packed.k, cout);
    if (need > p->scratch_floats)
        p->scratch_floats = need;
    if (n->op == VB_OP_CONV2D) {
        const vb_node *a = &p->g->nodes[n->src[0]];
        need = vb_fast_conv_pad_floats(a->h, a->w, a->c, n->kh, n->kw, n->stride, n->pad_top, n->pad_left, n->h, n->w);
        if (need > p->padded_floats)
            p->padded_floats = need;
    }
    return 0;
}

double vb_cpu_fma_peak_gmacs(void)
{
    return vb_fast_fma_peak_gmacs();
}

size_t vb_cpu_weight_bytes(const vb_prepared *handle)
{
    const cpu_prepared *p = handle->context;
    size_t bytes = 0;
    for (int i = 0; i < p->g->n_nodes; i++) {
        if (p->weights[i].w32)
            bytes += (size_t)vb_tensor_nelements(p->g->nodes[i].weight) * sizeof(float);
        bytes += p->weights[i].packed.bytes + p->weights[i].wino.u.bytes;
    }
    return bytes;
}

/* The node reading `i` when exactly one node reads it (once) and it is not the graph
 * output; -1 otherwise. */
static int single_reader(const vb_graph *g, int i)
{
    if (i == g->output)
        return -1;
    int reader = -1;
    for (int j = i + 1; j < g->n_nodes; j++)
        for (int s = 0; s < 2; s++)
            if (g->nodes[j].src[s] == i) {
                if (reader >= 0)
                    return -1;
                reader = j;
            }
    return reader;
}

/* Fast path: grow a conv/fc at node i into conv [-> affine] [-> add_zeropad] [-> relu |
 * leaky_relu] [-> maxpool], or a dwconv into dwconv [-> affine] [-> relu | leaky_relu],
 * taking each next node when it is the only reader of the previous one. The add is taken
 * when its output has the conv's shape (the conv side needs no padding) and reads another
 * node; that node supplies the residual. The max pool is taken after a conv when its
 * windows do not overlap (k <= stride: no conv row is computed twice). */
static void fuse_group(const vb_graph *g, cpu_step *st, const unsigned char *claimed)
{
    const vb_node *conv = &g->nodes[st->node];
    int cur = st->node, next;
    if ((next = single_reader(g, cur)) >= 0 && g->nodes[next].op == VB_OP_AFFINE)
        st->affine = cur = next;
    if (conv->op == VB_OP_CONV2D && (next = single_reader(g, cur)) >= 0 && !claimed[next] &&
        g->nodes[next].op == VB_OP_ADD_ZEROPAD) {
        const vb_node *add = &g->nodes[next];
        int other = add->src[0] == cur ? add->src[1] : add->src[0];
        if (add->h == conv->h && add->w == conv->w && add->c == conv->c && other != cur && other >= 0)
            st->add = cur = next, st->res = other;
    }
    if ((next = single_reader(g, cur)) >= 0 &&
        (g->nodes[next].op == VB_OP_RELU || g->nodes[next].op == VB_OP_LEAKY_RELU || g->nodes[next].op == VB_OP_RELU6))
        st->act = cur = next;
    if (conv->op == VB_OP_CONV2D && (next = single_reader(g, cur)) >= 0 && g->nodes[next].op == VB_OP_MAXPOOL &&
        g->nodes[next].kh <= g->nodes[next].stride)
        st->pool = cur = next;
    st->last = cur;
}

/* The steps in execution order (each at the position of its last node, so a residual made
 * after the conv is ready), their slots (backends/plan.h), and node -> step. */
static int plan_steps(cpu_prepared *p, vb_err *e)
{
    const vb_graph *g = p->g;
    const int fuse = !p->be->opts.reference;
    cpu_step group[VB_GRAPH_MAX_NODES];
    unsigned char claimed[VB_GRAPH_MAX_NODES] = {0};
    for (int i = 0; i < g->n_nodes; i++) {
        group[i] = (cpu_step){.node = i, .affine = -1, .add = -1, .act = -1, .pool = -1, .res = -1, .last = i};
        if (claimed[i])
            continue;
        const vb_op op = g->nodes[i].op;
        if (fuse && (op == VB_OP_CONV2D || op == VB_OP_FC || op == VB_OP_DWCONV)) {
            fuse_group(g, &group[i], claimed);
            const int members[4] = {group[i].affine, group[i].add, group[i].act, group[i].pool};
            for (int m = 0; m < 4; m++)
                if (members[m] >= 0)
                    claimed[members[m]] = 1;
        }
    }
    for (int i = 0; i < g->n_nodes; i++)
        p->node_step[i] = -1;
    p->n_steps = 0;
    for (int last = 0; last < g->n_nodes; last++) /* emit each group at its last node */
        for (int i = 0; i <= last; i++)
            if (!claimed[i] && group[i].last == last) {
                p->node_step[last] = p->n_steps;
                p->steps[p->n_steps++] = group[i];
            }
    p->slot = vb_calloc((size_t)p->n_steps, sizeof(int), e);
    p->slot_floats = vb_calloc((size_t)p->n_steps, sizeof(size_t), e);
    p->slot_buf = vb_calloc((size_t)p->n_steps, sizeof(float *), e);
    if (!p->slot || !p->slot_floats || !p->slot_buf)
        return -1;
    vb_plan_step ps[VB_GRAPH_MAX_NODES];
    for (int s = 0; s < p->n_steps; s++) {
        const cpu_step *st = &p->steps[s];
        const vb_node *n = &g->nodes[st->node];
        int src0 = n->src[0] >= 0 ? p->node_step[n->src[0]] : -1;
        int src1 = st->res >= 0 ? p->node_step[st->res] : n->src[1] >= 0 ? p->node_step[n->src[1]] : -1;
        ps[s] = (vb_plan_step){vb_node_size(&g->nodes[st->last]), {src0, src1}};
    }
    p->n_slots = vb_plan_slots(ps, p->n_steps, p->node_step[g->output], p->slot, p->slot_floats);
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
    if (!p->weights || plan_steps(p, e))
        goto fail;
    for (int i = 0; i < g->n_nodes; i++)
        if (prepare_weights(p, i, e))
            goto fail;
    if (p->scratch_floats &&
        !(p->scratch = vb_malloc(p->scratch_floats * (size_t)p->be->threads * sizeof(float), e)))
        goto fail;
    for (int s = 0; s < p->n_steps; s++)
        if (p->steps[s].pool >= 0) {
            const vb_node *conv = &g->nodes[p->steps[s].node];
            size_t need = vb_fast_band_floats(g->nodes[p->steps[s].pool].kh, conv->w, conv->c);
            if (need > p->band_floats)
                p->band_floats = need;
        }
    if (p->band_floats && !(p->band = vb_malloc(p->band_floats * (size_t)p->be->threads * sizeof(float), e)))
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
    free(p->padded);
    p->padded = NULL;
    if (p->padded_floats && !(p->padded = vb_malloc(p->padded_floats * batch * sizeof(float), e)))
        return -1;
    p->batch_cap = batch;
    return 0;
}

/* The activations of node i (which a step produced). */
static float *node_buf(const cpu_prepared *p, int i)
{
    return p->slot_buf[p->slot[p->node_step[i]]];
}

/* The epilogue's bias, affine and activation for a step. */
static vb_fast_epilogue step_epilogue(const cpu_prepared *p, const cpu_step *st)
{
    const vb_node *n = &p->g->nodes[st->node];
    vb_fast_epilogue ep = {.bias = n->bias ? n->bias->data : NULL};
    if (st->affine >= 0) {
        ep.scale = p->g->nodes[st->affine].scale->data;
        ep.shift = p->g->nodes[st->affine].shift->data;
    }
    if (st->act >= 0) {
        const vb_node *act = &p->g->nodes[st->act];
        ep.act = act->op == VB_OP_LEAKY_RELU ? VB_ACT_LEAKY : act->op == VB_OP_RELU6 ? VB_ACT_RELU6 : VB_ACT_RELU;
        ep.alpha = act->alpha;
    }
    return ep;
}

/* A conv/fc step with its fused epilogue. */
static void exec_gemm(cpu_prepared *p, const cpu_step *st, int batch, float *y)
{
    const vb_node *n = &p->g->nodes[st->node], *a = &p->g->nodes[n->src[0]];
    const float *x = node_buf(p, n->src[0]);
    vb_fast_epilogue ep = step_epilogue(p, st);
    if (st->add >= 0) {
        const vb_node *r = &p->g->nodes[st->res];
        ep.res = node_buf(p, st->res);
        ep.res_h = r->h, ep.res_w = r->w, ep.res_c = r->c;
    }
    vb_tpool *pool = p->be->pool;
    if (st->pool >= 0) {
        const vb_node *mp = &p->g->nodes[st->pool];
        vb_fast_conv2d_maxpool(x, batch, a->h, a->w, a->c, &p->weights[st->node].packed, &ep, n->kh, n->kw,
                               n->stride, n->pad_top, n->pad_left, n->h, n->w, mp->kh, mp->stride, mp->pad_top,
                               mp->pad_left, mp->h, mp->w, y, p->scratch, p->padded, p->band, pool);
    } else if (p->weights[st->node].wino.u.data)
        vb_wino_conv3x3(x, batch, a->h, a->w, a->c, &p->weights[st->node].wino, &ep, n->pad_top, n->pad_left, n->h,
                        n->w, y, p->scratch, pool);
    else if (n->op == VB_OP_CONV2D)
        vb_fast_conv2d(x, batch, a->h, a->w, a->c, &p->weights[st->node].packed, &ep, n->kh, n->kw, n->stride,
                       n->pad_top, n->pad_left, n->h, n->w, y, p->scratch, p->padded, pool);
    else
        vb_fast_gemm(x, batch, &p->weights[st->node].packed, &ep, y, p->scratch, pool);
}

/* Fast path: one step. */
static void exec_fast(cpu_prepared *p, const cpu_step *st, int batch, float *y)
{
    const vb_node *n = &p->g->nodes[st->node];
    const vb_node *a = n->src[0] >= 0 ? &p->g->nodes[n->src[0]] : NULL;
    const float *x = a ? node_buf(p, n->src[0]) : NULL;
    vb_tpool *pool = p->be->pool;
    switch (n->op) {
    case VB_OP_INPUT:
    case VB_OP_COUNT:
        break;
    case VB_OP_CONV2D:
    case VB_OP_FC:
        exec_gemm(p, st, batch, y);
        break;
    case VB_OP_AFFINE:
        vb_fast_affine(x, (size_t)batch * n->h * n->w, n->c, n->scale->data, n->shift->data, y, pool);
        break;
    case VB_OP_RELU:
        vb_fast_relu(x, (size_t)batch * vb_node_size(n), y, pool);
        break;
    case VB_OP_MAXPOOL:
    case VB_OP_AVGPOOL:
        vb_fast_pool2d(x, batch, a->h, a->w, a->c, n->kh, n->stride, n->pad_top, n->pad_left, n->h, n->w, y,
                       n->op == VB_OP_MAXPOOL, pool);
        break;
    case VB_OP_ADD_ZEROPAD: {
        const vb_node *bn = &p->g->nodes[n->src[1]];
        vb_fast_add_zeropad(x, a->h, a->w, a->c, node_buf(p, n->src[1]), bn->h, bn->w, bn->c, batch, y, n->h, n->w,
                            n->c, pool);
        break;
    }
    case VB_OP_MEAN_HW:
        vb_fast_mean_hw(x, batch, a->h, a->w, a->c, y, pool);
        break;
    case VB_OP_DWCONV: {
        const vb_fast_epilogue ep = step_epilogue(p, st);
        vb_fast_dwconv2d(x, batch, a->h, a->w, a->c, p->weights[st->node].w32, &ep, n->kh, n->kw, n->stride,
                         n->pad_top, n->pad_left, n->h, n->w, y, pool);
        break;
    }
    case VB_OP_LEAKY_RELU:
        vb_fast_leaky_relu(x, (size_t)batch * vb_node_size(n), n->alpha, y, pool);
        break;
    case VB_OP_RELU6:
        vb_fast_relu6(x, (size_t)batch * vb_node_size(n), y, pool);
        break;
    case VB_OP_CONCAT: /* a copy of a few thousand floats, next to the convs that make them */
        vb_ref_concat(x, vb_node_size(a), node_buf(p, n->src[1]), vb_node_size(&p->g->nodes[n->src[1]]), batch, y);
        break;
    }
}

/* Reference path: one node. */
static void exec_ref(cpu_prepared *p, int i, int batch, float *y)
{
    const vb_node *n = &p->g->nodes[i];
    const vb_node *a = n->src[0] >= 0 ? &p->g->nodes[n->src[0]] : NULL;
    const vb_node *bn = n->src[1] >= 0 ? &p->g->nodes[n->src[1]] : NULL;
    const float *x = a ? node_buf(p, n->src[0]) : NULL;
    const float *bias = n->bias ? n->bias->data : NULL;
    switch (n->op) {
    case VB_OP_INPUT:
    case VB_OP_COUNT:
        break;
    case VB_OP_CONV2D:
        vb_ref_conv2d(x, batch, a->h, a->w, a->c, p->weights[i].w32, bias, n->c, n->kh, n->kw, n->stride,
                      n->pad_top, n->pad_left, n->h, n->w, y);
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
        vb_ref_add_zeropad(x, a->h, a->w, a->c, node_buf(p, n->src[1]), bn->h, bn->w, bn->c, batch, y, n->h, n->w,
                           n->c);
        break;
    case VB_OP_MEAN_HW:
        vb_ref_mean_hw(x, batch, a->h, a->w, a->c, y);
        break;
    case VB_OP_FC:
        vb_ref_fc(x, batch, (int)vb_node_size(a), p->weights[i].w32, bias, n->c, y);
        break;
    case VB_OP_DWCONV:
        vb_ref_dwconv2d(x, batch, a->h, a->w, a->c, p->weights[i].w32, bias, n->kh, n->kw, n->stride, n->pad_top,
                        n->pad_left, n->h, n->w, y);
        break;
    case VB_OP_LEAKY_RELU:
        vb_ref_leaky_relu(x, (size_t)batch * vb_node_size(n), n->alpha, y);
        break;
    case VB_OP_RELU6:
        vb_ref_relu6(x, (size_t)batch * vb_node_size(n), y);
        break;
    case VB_OP_CONCAT:
        vb_ref_concat(x, vb_node_size(a), node_buf(p, n->src[1]), vb_node_size(bn), batch, y);
        break;
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
    if (t && t->node_ms)
        for (int i = 0; i < g->n_nodes; i++)
            t->node_ms[i] = 0;
    for (int s = 0; s < p->n_steps; s++) {
        double ts = vb_now();
        const cpu_step *st = &p->steps[s];
        float *y = p->slot_buf[p->slot[s]];
        if (g->nodes[st->node].op == VB_OP_INPUT)
            memcpy(y, input, (size_t)batch * vb_node_size(&g->nodes[st->node]) * sizeof(float));
        else if (p->be->opts.reference)
            exec_ref(p, st->node, batch, y);
        else
            exec_fast(p, st, batch, y);
        if (node_out && node_out[st->last])
            memcpy(node_out[st->last], y, (size_t)batch * vb_node_size(&g->nodes[st->last]) * sizeof(float));
        if (t && t->node_ms)
            t->node_ms[st->last] = (vb_now() - ts) * 1e3;
    }
    if (node_out) /* nodes fused into a step: not materialized */
        for (int i = 0; i < g->n_nodes; i++)
            if (node_out[i] && p->node_step[i] < 0)
                node_out[i][0] = NAN;
    memcpy(output, node_buf(p, g->output), (size_t)batch * g->out_dim * sizeof(float));
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
    cpu_backend *b = handle->context;
    vb_tpool_free(b->pool);
    free(b);
}

/* The reference itself, one chip after another: a 150x150 chip is ~0.2 ms of bilinear
 * sampling, next to tens of milliseconds for the net that reads it. */
static int cpu_warp(vb_backend *b, const uint8_t *const *px, const int *w, const int *h, const int *c,
                    const vb_similarity *t, int n, int size, const float mean[3], float scale, float *out, vb_err *e)
{
    (void)b;
    for (int i = 0; i < n; i++)
        if (vb_warp_chip(px[i], w[i], h[i], c[i], &t[i], size, mean, scale, out + (size_t)i * size * size * 3, NULL,
                         e))
            return -1;
    return 0;
}

/* The fingerprint kernels: the reference itself (models/fp_image.h), reentrant. */
static int cpu_fp_orient(vb_backend *b, const float *img, int w, int h, float grad_sigma, float orient_sigma,
                         float *tensor, vb_err *e)
{
    (void)b;
    if (vb_fp_orient_tensor(img, w, h, grad_sigma, orient_sigma, tensor))
        return vb_fail(e, VB_EXIT_IO, "orientation: out of memory for a %dx%d image", w, h);
    return 0;
}

static int cpu_fp_gabor(vb_backend *b, const float *img, const uint8_t *bins, int w, int h, float period, float k,
                        int na, float *out, vb_err *e)
{
    (void)b;
    int r = vb_fp_gabor_radius(period, k), side = 2 * r + 1;
    float *bank = vb_malloc((size_t)na * side * side * sizeof *bank, e);
    if (!bank)
        return -1;
    vb_fp_gabor_bank(period, k, na, bank);
    vb_fp_gabor_apply(img, bins, w, h, bank, r, out);
    free(bank);
    return 0;
}

const vb_backend_iface vb_cpu_backend = {
    .name = "cpu",
    .list_devices = cpu_list_devices,
    .init = cpu_init,
    .load = cpu_load,
    .run = cpu_run,
    .preferred_batch = cpu_preferred_batch,
    .warp = cpu_warp,
    .fp_orient = cpu_fp_orient,
    .fp_gabor = cpu_fp_gabor,
    .unload = cpu_unload,
    .free = cpu_free,
};
