/* The Vulkan compute backend: executes a vb_graph with the shaders of shaders/ on any
 * Vulkan 1.1 device (NVIDIA, AMD, Intel, Arm, Qualcomm GPUs, Mesa's llvmpipe).
 *
 * load():  the graph becomes a list of steps, one dispatch each, fusing conv (or depthwise
 *          conv) + affine + relu (or leaky relu), conv + affine + residual add + relu, add +
 *          relu and affine + relu (ReLU, leaky ReLU or ReLU6 wherever a ReLU fuses; concat is an
 *          element-wise copy); every weight tensor is converted to its
 *          device format (fp32, fp16, or repacked Q8_0/Q4_0 blocks, dequantized inside the
 *          kernel) and uploaded once to one device-local buffer through a staging buffer.
 *          Activations live in slots of one device-local buffer, a slot reused once its
 *          last reader has run (backends/plan.h, shared with the CPU backend).
 * run():   one command buffer per batch: input copy, the dispatches with a barrier after
 *          each, timestamps between them, copies of the output and of the requested nodes
 *          into a host-visible readback buffer; one fence wait with a timeout. It is
 *          recorded once per batch size and submitted again while nothing it names changes
 *          (buffers grown, readback moved, nodes captured: recorded anew).
 * fp16:    only when asked (opts.fp16: fp16 moves LFW distances by up to 6e-4 and flips
 *          near-threshold decisions against the CPU; fp32 keeps them within 3.1e-5) and the
 *          device has 16-bit storage and fp16 arithmetic, activations and float weights are
 *          stored as fp16 and shared-memory tiles are fp16; every sum still accumulates in
 *          fp32. Geometry graphs (detectors, landmarks: g->geometry) always run the fp32
 *          variants: fp16 moved LFW landmarks by up to 1.45 px. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/backend_impl.h"
#include "backends/plan.h"
#include "backends/vulkan/vk_device.h"
#include "backends/vulkan/vk_fingerprint.h"
#include "backends/vulkan/vk_kernels.h"

/* The warp kernel's objects, made on the first vb_backend_warp call. */
typedef struct vk_warp {
    int ready;
    VkPipeline pipeline;
    VkDescriptorPool dpool;
    VkDescriptorSet set;
    VkCommandBuffer cb;
    vb_vk_buffer in, out, dummy; /* host-visible: chip table + pixels, the chips; a placeholder */
} warp_state;

/* Which conv/fc kernel: conv2d_sg.comp on CPU devices, conv2d.comp elsewhere, unless
 * VERIBENCH_VULKAN_CONV forces one (tests run both kernels on the CI device). */
typedef enum conv_kernel { CONV_AUTO, CONV_TILES, CONV_SUBGROUP } conv_kernel;

typedef struct vk_backend {
    vb_backend_opts opts;
    vb_vk_ctx ctx;
    warp_state warp;
    conv_kernel conv;
    vb_vk_fp *fp;            /* the fingerprint kernels' objects, made on their first call */
    pthread_mutex_t fp_lock; /* their callers are the engine's extracting threads */
} vk_backend;

typedef enum step_kind {
    STEP_INPUT, STEP_CONV, STEP_DWCONV, STEP_MAXPOOL, STEP_AVGPOOL, STEP_ELTWISE, STEP_MEAN
} step_kind;

_Static_assert(sizeof(vb_vk_push) <= VB_VK_PUSH_BYTES, "push constants exceed the pipeline layout's range");

typedef enum weight_format { WF_NONE, WF_F32, WF_F16, WF_Q8_0, WF_Q4_0 } weight_format;

typedef struct range {
    VkDeviceSize off, size; /* size 0: unused */
} range;

typedef struct step {
    step_kind kind;
    int out;                /* the node this step materializes */
    int src[2];             /* nodes read (-1: none) */
    vb_vk_push pc;          /* batch filled in at record time */
    char shader[32];
    vb_vk_tile tile;        /* STEP_CONV on conv2d.comp */
    int sg;                 /* STEP_CONV on conv2d_sg.comp instead, with sg_tile */
    vb_vk_sg_tile sg_tile;
    weight_format wf;
    int conv;               /* STEP_CONV, STEP_DWCONV: the conv/fc/dwconv node (weights) */
    int affine;             /* fused or standalone affine node, -1 if none */
    range weights, params, wscale;
    VkPipeline pipeline;
    VkDescriptorSet set;
} step;

typedef struct vk_prepared {
    vk_backend *be;
    const vb_graph *g;
    step *steps;
    int n_steps;
    int node_step[VB_GRAPH_MAX_NODES];  /* step materializing node i; -1: fused away */
    int step_slot[VB_GRAPH_MAX_NODES];
    size_t slot_elems[VB_GRAPH_MAX_NODES]; /* per image */
    int n_slots;
    VkDeviceSize slot_off[VB_GRAPH_MAX_NODES];
    size_t act_bytes;                   /* 2 (fp16) or 4 */
    vb_vk_buffer weights, acts, staging_in, readback, dummy;
    int batch_cap;
    VkDescriptorPool dpool;
    VkCommandBuffer cb;
    VkQueryPool qpool;
    int timestamps;
    int recorded_batch;                 /* p->cb holds the plain run of this batch; 0: none */
} vk_prepared;

/* ---- small helpers ------------------------------------------------------------------- */

static VkDeviceSize align_up(VkDeviceSize v, VkDeviceSize a)
{
    return (v + a - 1) / a * a;
}

static VkDeviceSize storage_align(const vb_vk_ctx *c)
{
    VkDeviceSize a = c->caps.limits.minStorageBufferOffsetAlignment;
    return a < 16 ? 16 : a;
}

static int validation_wanted(const vb_backend_opts *o)
{
    const char *env = getenv("VERIBENCH_VULKAN_VALIDATION");
    return o->validation || (env && *env && strcmp(env, "0"));
}

/* ---- devices -------------------------------------------------------------------------- */

static int vk_list_devices(vb_device_info **infos, int *n, vb_err *e)
{
    *infos = NULL;
    *n = 0;
    vb_vk_instance vi;
    if (vb_vk_instance_create(&vi, 0, e))
        return -1;
    VkPhysicalDevice *pds = NULL;
    uint32_t count = 0;
    int rc = -1;
    if (vb_vk_physical_devices(&vi, &pds, &count, e))
        goto out;
    *infos = vb_calloc(count, sizeof **infos, e);
    if (!*infos)
        goto out;
    for (uint32_t i = 0; i < count; i++) {
        vb_vk_caps caps;
        vb_vk_query(&vi, pds[i], (int)i, &(*infos)[i], &caps);
    }
    *n = (int)count;
    rc = 0;
out:
    free(pds);
    vb_vk_instance_destroy(&vi);
    return rc;
}

static int subgroup_conv_possible(const vb_vk_ctx *c)
{
    const uint32_t sg = c->caps.subgroup_size;
    return c->caps.subgroup_broadcast && sg >= 4 && sg <= 16 && c->caps.limits.maxComputeWorkGroupSize[0] >= sg &&
           c->caps.limits.maxComputeWorkGroupInvocations >= sg;
}

static int conv_kernel_from_env(vk_backend *b, vb_err *e)
{
    const char *env = getenv("VERIBENCH_VULKAN_CONV");
    b->conv = CONV_AUTO;
    if (!env || !*env || !strcmp(env, "auto"))
        return 0;
    if (!strcmp(env, "tiles")) {
        b->conv = CONV_TILES;
        return 0;
    }
    if (strcmp(env, "subgroup"))
        return vb_fail(e, VB_EXIT_USAGE, "VERIBENCH_VULKAN_CONV='%s': expected auto, tiles or subgroup", env);
    if (!subgroup_conv_possible(&b->ctx))
        return vb_fail(e, VB_EXIT_DEVICE,
                       "VERIBENCH_VULKAN_CONV=subgroup: %s has no subgroupBroadcast in compute shaders or a "
                       "subgroup size outside 4..16 (%u)",
                       b->ctx.info.name, b->ctx.caps.subgroup_size);
    b->conv = CONV_SUBGROUP;
    return 0;
}

static int vk_init(vb_backend *handle, vb_err *e)
{
    const vb_backend_opts *opts = &handle->opts;
    vk_backend *b = vb_calloc(1, sizeof *b, e);
    if (!b)
        return -1;
    b->opts = *opts;
    if (vb_vk_ctx_create(&b->ctx, opts->device_index, opts->fp16, validation_wanted(opts), e)) {
        free(b);
        return -1;
    }
    if (conv_kernel_from_env(b, e)) {
        vb_vk_ctx_destroy(&b->ctx);
        free(b);
        return -1;
    }
    if (vb_vk_check_messages(&b->ctx, e)) {
        vb_vk_ctx_destroy(&b->ctx);
        free(b);
        return -1;
    }
    pthread_mutex_init(&b->fp_lock, NULL);
    handle->device = b->ctx.info;
    handle->context = b;
    return 0;
}

static void warp_free(vk_backend *b);

static void vk_free(vb_backend *handle)
{
    vk_backend *b = handle->context;
    warp_free(b);
    vb_vk_fp_free(&b->ctx, b->fp);
    pthread_mutex_destroy(&b->fp_lock);
    vb_vk_ctx_destroy(&b->ctx);
    free(b);
}

/* ---- planning: steps, fusion, slots ----------------------------------------------------- */

static void count_uses(const vb_graph *g, int *uses)
{
    memset(uses, 0, sizeof(int) * (size_t)g->n_nodes);
    for (int i = 0; i < g->n_nodes; i++)
        for (int s = 0; s < 2; s++)
            if (g->nodes[i].src[s] >= 0)
                uses[g->nodes[i].src[s]]++;
    uses[g->output]++;
}

/* Can node j+1 be folded into the step ending at node j? Only if it is of the given op,
 * reads j, and nothing else needs j's value. */
static int fusable(const vb_graph *g, const int *uses, int j, vb_op op)
{
    return j + 1 < g->n_nodes && g->nodes[j + 1].op == op && g->nodes[j + 1].src[0] == j &&
           g->nodes[j + 1].src[1] < 0 && uses[j] == 1;
}

/* Fold a residual add that follows conv step s (ending at node *j) into its epilogue: the
 * add must read *j, nothing else may need *j, the add's output must have the conv's shape
 * (the other input may be smaller: it reads zero outside its shape, as add_zeropad pads),
 * and the other input must be materialized by an earlier step (the face net's identity
 * blocks; in its down blocks the skip's avgpool comes after the conv). Saves a dispatch
 * and a pass over three activations per block. */
static void fuse_residual(const vk_prepared *p, const int *uses, int *j, step *s)
{
    const vb_graph *g = p->g;
    const int a = *j + 1;
    if (a >= g->n_nodes || g->nodes[a].op != VB_OP_ADD_ZEROPAD || uses[*j] != 1)
        return;
    const vb_node *add = &g->nodes[a], *conv = &g->nodes[*j];
    const int other = add->src[0] == *j ? add->src[1] : add->src[1] == *j ? add->src[0] : -1;
    if (other < 0 || other == *j || other >= s->conv || p->node_step[other] < 0 || add->h != conv->h ||
        add->w != conv->w || add->c != conv->c)
        return;
    s->src[1] = other;
    s->pc.flags |= VB_VK_FLAG_ADD;
    ++*j;
}

/* Fold a ReLU, leaky ReLU or ReLU6 that follows node *j into the step's epilogue. */
static void fuse_activation(const vb_graph *g, const int *uses, int *j, step *s)
{
    if (fusable(g, uses, *j, VB_OP_RELU)) {
        ++*j;
        s->pc.flags |= VB_VK_FLAG_RELU;
    } else if (fusable(g, uses, *j, VB_OP_LEAKY_RELU)) {
        ++*j;
        s->pc.flags |= VB_VK_FLAG_LEAKY;
        s->pc.alpha = g->nodes[*j].alpha;
    } else if (fusable(g, uses, *j, VB_OP_RELU6)) {
        ++*j;
        s->pc.flags |= VB_VK_FLAG_RELU6;
    }
}

static void set_shapes(const vb_graph *g, step *s)
{
    const vb_node *n = &g->nodes[s->out];
    s->pc.oh = (uint32_t)n->h;
    s->pc.ow = (uint32_t)n->w;
    s->pc.oc = (uint32_t)n->c;
    if (s->src[0] >= 0) {
        const vb_node *a = &g->nodes[s->src[0]];
        s->pc.ih = (uint32_t)a->h;
        s->pc.iw = (uint32_t)a->w;
        s->pc.ic = (uint32_t)a->c;
    }
    if (s->src[1] >= 0) {
        const vb_node *b = &g->nodes[s->src[1]];
        s->pc.bh = (uint32_t)b->h;
        s->pc.bw = (uint32_t)b->w;
        s->pc.bc = (uint32_t)b->c;
    }
}

/* Output pixels per invocation of shaders/dwconv.comp and pool.comp: runs of 4 along a row
 * (shorter on narrower outputs, where a longer run would only compute pixels it throws
 * away), and their channels per invocation: a vec4 where the channel count allows. */
static uint32_t run_length(const step *st)
{
    return st->pc.ow < 4 ? st->pc.ow : 4;
}

static uint32_t run_channels(const step *st)
{
    return st->pc.oc % 4 == 0 ? 4 : 1;
}

/* Tile shape of a layer's implicit GEMM (see shaders/conv2d.comp for the divisibility rules
 * every shape here satisfies). Chosen from the pixels per image, not per batch, so that one
 * pipeline serves every batch size and an image's descriptor never depends on its batch. */
static vb_vk_tile choose_tile(const vb_vk_ctx *c, int m_per_image, int n)
{
    const VkPhysicalDeviceLimits *l = &c->caps.limits;
    const vb_vk_tile small = {8, 8, 4, 4, 16, 64};     /* 32 x 32 tiles, 64 invocations */
    vb_vk_tile t;
    if (m_per_image <= 16)
        t = (vb_vk_tile){4, 16, 4, 4, 16, 64};         /* 16 x 64: few pixels, many channels */
    else if (n <= 32)
        t = (vb_vk_tile){32, 8, 4, 4, 16, 256};        /* 128 x 32: many pixels, few channels */
    else
        t = (vb_vk_tile){16, 16, 4, 4, 16, 256};       /* 64 x 64 */
    /* shared memory: BK rows of (BM + 1) and (BN + 1) fp32 values (conv2d.comp) */
    size_t shared = (size_t)t.bk * (t.wg_m * t.tm + 1 + t.wg_n * t.tn + 1) * sizeof(float);
    if (l->maxComputeWorkGroupInvocations < t.threads || l->maxComputeWorkGroupSize[0] < t.threads ||
        l->maxComputeSharedMemorySize < shared)
        return small; /* 4.2 KB and 64 invocations: within every device's guaranteed minimum */
    return t;
}

/* CPU implementations of Vulkan (llvmpipe, SwiftShader) run a subgroup as one SIMD register
 * and emulate every buffer load lane by lane: conv2d_sg.comp is written for that. GPUs keep
 * conv2d.comp's shared-memory tiles. */
static int use_subgroup_conv(const vk_backend *b)
{
    if (b->conv != CONV_AUTO)
        return b->conv == CONV_SUBGROUP;
    return b->ctx.caps.type == VK_PHYSICAL_DEVICE_TYPE_CPU && subgroup_conv_possible(&b->ctx);
}

/* conv2d_sg.comp's tile: two pixels per lane (2 * sg pixels, 4 * sg channels: per 4 k, 6
 * loaded words feed 32 * sg vector FMAs; on llvmpipe 8 and 32 pixels took 10-40% more CPU
 * time than 16), fewer where an image has fewer output pixels, so that small layers (fc,
 * 1x1 outputs) do not compute rows that are thrown away. Chosen per image, not per batch,
 * like choose_tile. Loads along k are vec4 where the channels allow (8 halves per load for
 * fp16 was measured no faster: it only trades load overhead for live registers). */
static vb_vk_sg_tile choose_sg_tile(const vb_vk_ctx *c, int m_per_image, int ic)
{
    uint32_t sg = c->caps.subgroup_size, pix = 2 * sg;
    if ((uint32_t)m_per_image < pix)
        pix = (uint32_t)m_per_image;
    return (vb_vk_sg_tile){sg, pix, ic % 4 == 0 ? 4 : 1};
}

static const char *act_name(const vk_prepared *p)
{
    return p->act_bytes == 2 ? "f16" : "f32";
}

static int plan_steps(vk_prepared *p, vb_err *e)
{
    const vb_graph *g = p->g;
    vb_vk_ctx *c = &p->be->ctx;
    int uses[VB_GRAPH_MAX_NODES];
    count_uses(g, uses);
    p->steps = vb_calloc((size_t)g->n_nodes, sizeof *p->steps, e);
    if (!p->steps)
        return -1;
    for (int i = 0; i < g->n_nodes; i++)
        p->node_step[i] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const vb_node *n = &g->nodes[i];
        step *s = &p->steps[p->n_steps];
        memset(s, 0, sizeof *s);
        s->src[0] = n->src[0];
        s->src[1] = -1;
        s->conv = s->affine = -1;
        int j = i;
        switch (n->op) {
        case VB_OP_INPUT:
            s->kind = STEP_INPUT;
            s->src[0] = -1;
            break;
        case VB_OP_CONV2D:
        case VB_OP_FC:
        case VB_OP_DWCONV:
            s->kind = n->op == VB_OP_DWCONV ? STEP_DWCONV : STEP_CONV;
            s->conv = i;
            if (n->bias)
                s->pc.flags |= VB_VK_FLAG_BIAS;
            if (fusable(g, uses, j, VB_OP_AFFINE)) {
                s->affine = ++j;
                s->pc.flags |= VB_VK_FLAG_AFFINE;
            }
            if (s->kind == STEP_CONV)
                fuse_residual(p, uses, &j, s);
            fuse_activation(g, uses, &j, s);
            break;
        case VB_OP_AFFINE:
            s->kind = STEP_ELTWISE;
            s->affine = i;
            s->pc.flags |= VB_VK_FLAG_AFFINE;
            fuse_activation(g, uses, &j, s);
            break;
        case VB_OP_RELU:
            s->kind = STEP_ELTWISE;
            s->pc.flags |= VB_VK_FLAG_RELU;
            break;
        case VB_OP_LEAKY_RELU:
            s->kind = STEP_ELTWISE;
            s->pc.flags |= VB_VK_FLAG_LEAKY;
            s->pc.alpha = n->alpha;
            break;
        case VB_OP_RELU6:
            s->kind = STEP_ELTWISE;
            s->pc.flags |= VB_VK_FLAG_RELU6;
            break;
        case VB_OP_CONCAT:
            s->kind = STEP_ELTWISE;
            s->src[1] = n->src[1];
            s->pc.flags |= VB_VK_FLAG_CONCAT;
            break;
        case VB_OP_ADD_ZEROPAD:
            s->kind = STEP_ELTWISE;
            s->src[1] = n->src[1];
            s->pc.flags |= VB_VK_FLAG_ADD;
            fuse_activation(g, uses, &j, s);
            break;
        case VB_OP_MAXPOOL:
        case VB_OP_AVGPOOL:
            s->kind = n->op == VB_OP_MAXPOOL ? STEP_MAXPOOL : STEP_AVGPOOL;
            break;
        case VB_OP_MEAN_HW:
            s->kind = STEP_MEAN;
            break;
        default:
            return vb_fail(e, VB_EXIT_INPUT, "vulkan backend: node %s: op %s has no Vulkan kernel yet", n->name,
                           vb_op_name(n->op));
        }
        s->out = j;
        set_shapes(g, s);
        if (n->op == VB_OP_CONV2D || n->op == VB_OP_DWCONV || n->op == VB_OP_MAXPOOL || n->op == VB_OP_AVGPOOL) {
            s->pc.kh = (uint32_t)n->kh;
            s->pc.kw = (uint32_t)(n->op == VB_OP_MAXPOOL || n->op == VB_OP_AVGPOOL ? n->kh : n->kw);
            s->pc.stride = (uint32_t)n->stride;
            s->pc.pad_top = (uint32_t)n->pad_top;
            s->pc.pad_left = (uint32_t)n->pad_left;
        }
        if (n->op == VB_OP_FC) {
            /* a 1x1 conv over the flattened input */
            s->pc.ih = s->pc.iw = 1;
            s->pc.ic = (uint32_t)vb_node_size(&g->nodes[n->src[0]]);
            s->pc.kh = s->pc.kw = s->pc.stride = 1;
        }
        switch (s->kind) {
        case STEP_INPUT: break;
        case STEP_CONV:
            s->sg = use_subgroup_conv(p->be);
            if (s->sg)
                s->sg_tile = choose_sg_tile(c, n->h * n->w, (int)s->pc.ic);
            else
                s->tile = choose_tile(c, n->h * n->w, n->c);
            break; /* shader name set with the weight format */
        case STEP_DWCONV: break; /* likewise */
        case STEP_MAXPOOL: snprintf(s->shader, sizeof s->shader, "pool_max_%s", act_name(p)); break;
        case STEP_AVGPOOL: snprintf(s->shader, sizeof s->shader, "pool_avg_%s", act_name(p)); break;
        case STEP_ELTWISE: snprintf(s->shader, sizeof s->shader, "eltwise_%s", act_name(p)); break;
        case STEP_MEAN: snprintf(s->shader, sizeof s->shader, "mean_%s", act_name(p)); break;
        }
        for (int k = i; k <= j; k++)
            p->node_step[k] = -1;
        p->node_step[j] = p->n_steps;
        p->n_steps++;
        i = j;
    }
    return 0;
}

/* Give every step's output a slot (backends/plan.h); a step reads the steps that
 * materialize its source nodes. */
static void plan_slots(vk_prepared *p)
{
    const vb_graph *g = p->g;
    vb_plan_step plan[VB_GRAPH_MAX_NODES];
    int keep = -1;
    for (int s = 0; s < p->n_steps; s++) {
        const step *st = &p->steps[s];
        plan[s].size = vb_node_size(&g->nodes[st->out]);
        for (int k = 0; k < 2; k++)
            plan[s].src[k] = st->src[k] >= 0 ? p->node_step[st->src[k]] : -1;
        if (st->out == g->output)
            keep = s;
    }
    p->n_slots = vb_plan_slots(plan, p->n_steps, keep, p->step_slot, p->slot_elems);
}

/* ---- weights ---------------------------------------------------------------------------- */

static weight_format device_format(const vb_tensor *t, int fp16)
{
    switch (t->type) {
    case VB_F32: return fp16 ? WF_F16 : WF_F32;
    case VB_F16: return WF_F16;
    case VB_Q8_0: return WF_Q8_0;
    case VB_Q4_0: return WF_Q4_0;
    }
    return WF_NONE;
}

static const char *format_name(weight_format wf)
{
    switch (wf) {
    case WF_F32: return "f32";
    case WF_F16: return "f16";
    case WF_Q8_0: return "q8_0";
    case WF_Q4_0: return "q4_0";
    default: return "?";
    }
}

/* Bytes of the converted weights (binding 3) and of the block scales (binding 5). */
static void weight_sizes(weight_format wf, int64_t n, VkDeviceSize *wbytes, VkDeviceSize *sbytes)
{
    *sbytes = 0;
    switch (wf) {
    case WF_F32: *wbytes = (VkDeviceSize)n * 4; break;
    case WF_F16: *wbytes = align_up((VkDeviceSize)n * 2, 4); break;
    case WF_Q8_0: *wbytes = (VkDeviceSize)n; *sbytes = (VkDeviceSize)(n / VB_QBLOCK) * 4; break;
    case WF_Q4_0: *wbytes = (VkDeviceSize)n / 2; *sbytes = (VkDeviceSize)(n / VB_QBLOCK) * 4; break;
    default: *wbytes = 0;
    }
}

static float read_half(const uint8_t *p)
{
    return vb_fp16_to_fp32((uint16_t)(p[0] | (p[1] << 8)));
}

/* Write a tensor in its device format: w (binding 3 bytes) and scales (binding 5). */
static void convert_weights(const vb_tensor *t, weight_format wf, int64_t n, uint8_t *w, float *scales)
{
    const uint8_t *src = t->data;
    switch (wf) {
    case WF_F32:
        memcpy(w, src, (size_t)n * 4);
        break;
    case WF_F16:
        if (t->type == VB_F16) {
            memcpy(w, src, (size_t)n * 2);
        } else {
            for (int64_t i = 0; i < n; i++) {
                float f;
                memcpy(&f, src + i * 4, 4);
                uint16_t h = vb_fp32_to_fp16(f);
                w[2 * i] = (uint8_t)(h & 0xff);
                w[2 * i + 1] = (uint8_t)(h >> 8);
            }
        }
        break;
    case WF_Q8_0:
        for (int64_t b = 0; b < n / VB_QBLOCK; b++) {
            const uint8_t *blk = src + b * VB_Q8_0_BLOCK_BYTES;
            scales[b] = read_half(blk);
            memcpy(w + b * VB_QBLOCK, blk + 2, VB_QBLOCK);
        }
        break;
    case WF_Q4_0:
        for (int64_t b = 0; b < n / VB_QBLOCK; b++) {
            const uint8_t *blk = src + b * VB_Q4_0_BLOCK_BYTES;
            scales[b] = read_half(blk);
            memcpy(w + b * (VB_QBLOCK / 2), blk + 2, VB_QBLOCK / 2);
        }
        break;
    default:
        break;
    }
}

static int check_weight_tensor(const vb_graph *g, const vb_node *n, int64_t *count, vb_err *e)
{
    const vb_tensor *t = n->weight;
    *count = vb_tensor_nelements(t);
    size_t row = vb_dtype_row_bytes(t->type, t->ne[0]);
    if (*count <= 0 || !row || (size_t)vb_tensor_nrows(t) * row != t->nbytes || !vb_dtype_valid(t->type))
        return vb_fail(e, VB_EXIT_INPUT, "%s: tensor %s: %zu bytes do not match its %s shape",
                       g->model ? g->model->path : "graph", t->name, t->nbytes, vb_dtype_name(t->type));
    if (*count > (int64_t)UINT32_MAX / 2)
        return vb_fail(e, VB_EXIT_INPUT, "tensor %s is too large for the Vulkan kernels", t->name);
    return 0;
}

/* Lay out every step's weights, parameters and scales in one buffer. */
static int layout_weights(vk_prepared *p, VkDeviceSize *total, vb_err *e)
{
    const vb_graph *g = p->g;
    const VkDeviceSize a = storage_align(&p->be->ctx);
    const int fp16 = p->act_bytes == 2;
    VkDeviceSize off = 0;
    for (int s = 0; s < p->n_steps; s++) {
        step *st = &p->steps[s];
        if (st->conv >= 0) {
            const vb_node *n = &g->nodes[st->conv];
            int64_t count;
            if (check_weight_tensor(g, n, &count, e))
                return -1;
            /* dwconv.comp reads its filter in the activations' float format only */
            if (st->kind == STEP_DWCONV && n->weight->type != VB_F32)
                return vb_fail(e, VB_EXIT_INPUT, "%s: depthwise filter %s must be F32",
                               g->model ? g->model->path : "graph", n->weight->name);
            st->wf = device_format(n->weight, fp16);
            VkDeviceSize wb, sb;
            weight_sizes(st->wf, count, &wb, &sb);
            st->weights = (range){off, wb};
            off = align_up(off + wb, a);
            if (sb) {
                st->wscale = (range){off, sb};
                off = align_up(off + sb, a);
            }
            snprintf(st->shader, sizeof st->shader, "%s_%s_w%s",
                     st->kind == STEP_DWCONV ? "dwconv" : st->sg ? "conv2d_sg" : "conv2d", act_name(p),
                     format_name(st->wf));
        }
        if (st->conv >= 0 || st->affine >= 0) {
            VkDeviceSize pb = (VkDeviceSize)3 * st->pc.oc * sizeof(float);
            st->params = (range){off, pb};
            off = align_up(off + pb, a);
        }
    }
    *total = off;
    return 0;
}

static void fill_weights(vk_prepared *p, uint8_t *base)
{
    const vb_graph *g = p->g;
    for (int s = 0; s < p->n_steps; s++) {
        step *st = &p->steps[s];
        const int oc = (int)st->pc.oc;
        if (st->conv >= 0) {
            const vb_node *n = &g->nodes[st->conv];
            convert_weights(n->weight, st->wf, vb_tensor_nelements(n->weight), base + st->weights.off,
                            st->wscale.size ? (float *)(void *)(base + st->wscale.off) : NULL);
        }
        if (!st->params.size)
            continue;
        float *prm = (float *)(void *)(base + st->params.off);
        for (int ch = 0; ch < oc; ch++) {
            prm[ch] = 0.0f;
            prm[oc + ch] = 1.0f;
            prm[2 * oc + ch] = 0.0f;
        }
        if (st->conv >= 0 && g->nodes[st->conv].bias)
            memcpy(prm, g->nodes[st->conv].bias->data, (size_t)oc * sizeof(float));
        if (st->affine >= 0) {
            memcpy(prm + oc, g->nodes[st->affine].scale->data, (size_t)oc * sizeof(float));
            memcpy(prm + 2 * oc, g->nodes[st->affine].shift->data, (size_t)oc * sizeof(float));
        }
    }
}

/* How long a submission may take before the device counts as hung. A GPU finishes a
 * batch of the face net in milliseconds, so two minutes only catch real hangs; CPU
 * implementations (llvmpipe: ~2 s per face on two cores) get 30 s more per image. */
static double submit_timeout(const vb_vk_ctx *c, int batch)
{
    return 120.0 + (c->caps.type == VK_PHYSICAL_DEVICE_TYPE_CPU ? 30.0 * batch : 0.0);
}

static int one_shot_copy(vk_prepared *p, const vb_vk_buffer *src, const vb_vk_buffer *dst, VkDeviceSize size,
                         vb_err *e)
{
    vb_vk_ctx *c = &p->be->ctx;
    VkCommandBufferBeginInfo bi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    p->recorded_batch = 0; /* p->cb is rewritten */
    VkResult r = c->d.vkBeginCommandBuffer(p->cb, &bi);
    if (r != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkBeginCommandBuffer");
    VkBufferCopy region = {.size = size};
    c->d.vkCmdCopyBuffer(p->cb, src->buf, dst->buf, 1, &region);
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT,
    };
    c->d.vkCmdPipelineBarrier(p->cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1,
                              &mb, 0, NULL, 0, NULL);
    if ((r = c->d.vkEndCommandBuffer(p->cb)) != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkEndCommandBuffer");
    return vb_vk_submit_wait(c, p->cb, submit_timeout(c, 1), e);
}

static int upload_weights(vk_prepared *p, vb_err *e)
{
    vb_vk_ctx *c = &p->be->ctx;
    VkDeviceSize total = 0;
    if (layout_weights(p, &total, e))
        return -1;
    if (!total)
        return 0;
    vb_vk_buffer staging;
    if (vb_vk_buffer_create(c, total, 1, "the weight staging buffer", &staging, e))
        return -1;
    memset(staging.map, 0, (size_t)total);
    fill_weights(p, staging.map);
    int rc = vb_vk_buffer_create(c, total, 0, "the model weights", &p->weights, e);
    if (!rc)
        rc = one_shot_copy(p, &staging, &p->weights, total, e);
    if (vb_vk_settle(c) == 0) /* a copy still running after a timeout reads the staging buffer */
        vb_vk_buffer_destroy(c, &staging);
    return rc;
}

/* ---- descriptors and activations ----------------------------------------------------------- */

static int create_pipelines(vk_prepared *p, vb_err *e)
{
    vb_vk_ctx *c = &p->be->ctx;
    for (int s = 0; s < p->n_steps; s++) {
        step *st = &p->steps[s];
        if (st->kind == STEP_INPUT)
            continue;
        uint32_t spec[6];
        int n_spec = 0;
        if (st->kind == STEP_CONV && st->sg) {
            const vb_vk_sg_tile *t = &st->sg_tile;
            uint32_t v[3] = {t->sg, t->pix, t->kv};
            memcpy(spec, v, sizeof v);
            n_spec = 3;
        } else if (st->kind == STEP_CONV) {
            const vb_vk_tile *t = &st->tile;
            uint32_t v[6] = {t->wg_m, t->wg_n, t->tm, t->tn, t->bk, t->threads};
            memcpy(spec, v, sizeof v);
            n_spec = 6;
        } else if (st->kind == STEP_DWCONV) { /* shaders/dwconv.comp */
            spec[0] = st->pc.kh;
            spec[1] = st->pc.kw;
            spec[2] = st->pc.stride;
            spec[3] = run_length(st);
            spec[4] = run_channels(st);
            n_spec = 5;
        } else if (st->kind == STEP_MAXPOOL || st->kind == STEP_AVGPOOL) { /* shaders/pool.comp */
            spec[0] = st->pc.kh;
            spec[1] = st->pc.stride;
            spec[2] = run_length(st);
            spec[3] = run_channels(st);
            n_spec = 4;
        }
        if (vb_vk_pipeline_get(c, st->shader, spec, n_spec, &st->pipeline, e))
            return -1;
    }
    return 0;
}

static int create_descriptors(vk_prepared *p, vb_err *e)
{
    vb_vk_ctx *c = &p->be->ctx;
    VkDescriptorPoolSize size = {
        .type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
        .descriptorCount = (uint32_t)(p->n_steps * VB_VK_BINDINGS),
    };
    VkDescriptorPoolCreateInfo pi = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = (uint32_t)p->n_steps,
        .poolSizeCount = 1,
        .pPoolSizes = &size,
    };
    VkResult r = c->d.vkCreateDescriptorPool(c->dev, &pi, NULL, &p->dpool);
    if (r != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkCreateDescriptorPool");
    for (int s = 0; s < p->n_steps; s++) {
        if (p->steps[s].kind == STEP_INPUT)
            continue;
        VkDescriptorSetAllocateInfo ai = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
            .descriptorPool = p->dpool,
            .descriptorSetCount = 1,
            .pSetLayouts = &c->set_layout,
        };
        if ((r = c->d.vkAllocateDescriptorSets(c->dev, &ai, &p->steps[s].set)) != VK_SUCCESS)
            return vb_vk_fail(c, r, e, "vkAllocateDescriptorSets");
    }
    return 0;
}

static VkDeviceSize slot_bytes(const vk_prepared *p, int slot, int batch)
{
    return (VkDeviceSize)p->slot_elems[slot] * (VkDeviceSize)batch * p->act_bytes;
}

/* Point every step's bindings at its slots (after the activation buffer changed). */
static void write_descriptors(vk_prepared *p)
{
    vb_vk_ctx *c = &p->be->ctx;
    for (int s = 0; s < p->n_steps; s++) {
        const step *st = &p->steps[s];
        if (st->kind == STEP_INPUT)
            continue;
        VkDescriptorBufferInfo bufs[VB_VK_BINDINGS];
        for (int b = 0; b < VB_VK_BINDINGS; b++)
            bufs[b] = (VkDescriptorBufferInfo){p->dummy.buf, 0, VK_WHOLE_SIZE};
        for (int k = 0; k < 2; k++)
            if (st->src[k] >= 0) {
                int slot = p->step_slot[p->node_step[st->src[k]]];
                bufs[k] = (VkDescriptorBufferInfo){p->acts.buf, p->slot_off[slot], slot_bytes(p, slot, p->batch_cap)};
            }
        int out_slot = p->step_slot[s];
        bufs[VB_VK_BIND_DST] = (VkDescriptorBufferInfo){p->acts.buf, p->slot_off[out_slot],
                                                        slot_bytes(p, out_slot, p->batch_cap)};
        const range *r[3] = {&st->weights, &st->params, &st->wscale};
        for (int k = 0; k < 3; k++)
            if (r[k]->size)
                bufs[VB_VK_BIND_WEIGHTS + k] = (VkDescriptorBufferInfo){p->weights.buf, r[k]->off, r[k]->size};
        VkWriteDescriptorSet w[VB_VK_BINDINGS];
        for (int b = 0; b < VB_VK_BINDINGS; b++)
            w[b] = (VkWriteDescriptorSet){
                .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                .dstSet = st->set,
                .dstBinding = (uint32_t)b,
                .descriptorCount = 1,
                .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                .pBufferInfo = &bufs[b],
            };
        c->d.vkUpdateDescriptorSets(c->dev, VB_VK_BINDINGS, w, 0, NULL);
    }
}

/* Dispatch size of a step, or 0 with an error when the device cannot take this batch. */
static void dispatch_size(const vk_prepared *p, const step *st, int batch, uint32_t groups[2])
{
    const uint32_t *max = p->be->ctx.caps.limits.maxComputeWorkGroupCount;
    uint64_t total;
    switch (st->kind) {
    case STEP_CONV: {
        uint64_t m = (uint64_t)batch * st->pc.oh * st->pc.ow;
        if (st->sg) {
            const vb_vk_sg_tile *t = &st->sg_tile;
            groups[0] = (uint32_t)((m + t->pix - 1) / t->pix);
            groups[1] = (st->pc.oc + 4 * t->sg - 1) / (4 * t->sg);
            return;
        }
        groups[0] = (uint32_t)((m + st->tile.wg_m * st->tile.tm - 1) / (st->tile.wg_m * st->tile.tm));
        groups[1] = (uint32_t)((st->pc.oc + st->tile.wg_n * st->tile.tn - 1) / (st->tile.wg_n * st->tile.tn));
        return;
    }
    case STEP_MEAN:
        total = ((uint64_t)batch * st->pc.oc + 63) / 64;
        break;
    case STEP_DWCONV: /* grid-stride loops of 256 invocations over channel groups x runs of a row */
    case STEP_MAXPOOL:
    case STEP_AVGPOOL: {
        uint64_t runs = (st->pc.ow + run_length(st) - 1) / run_length(st);
        total = ((uint64_t)batch * st->pc.oh * runs * (st->pc.oc / run_channels(st)) + 255) / 256;
        break;
    }
    default: /* grid-stride loops of 256 invocations */
        total = ((uint64_t)batch * st->pc.oh * st->pc.ow * st->pc.oc + 255) / 256;
        break;
    }
    groups[0] = (uint32_t)(total < max[0] ? total : max[0]);
    groups[1] = 1;
}

static int ensure_batch(vk_prepared *p, int batch, vb_err *e)
{
    if (batch <= p->batch_cap)
        return 0;
    vb_vk_ctx *c = &p->be->ctx;
    const VkDeviceSize a = storage_align(c);
    const VkDeviceSize max_range = c->caps.limits.maxStorageBufferRange;
    VkDeviceSize total = 0;
    for (int s = 0; s < p->n_slots; s++) {
        VkDeviceSize bytes = slot_bytes(p, s, batch);
        if (bytes > max_range || bytes / p->act_bytes > UINT32_MAX) {
            vb_fail(e, VB_EXIT_DEVICE,
                    "batch %d is too large for %s: one activation would take %.1f MiB, the device "
                    "binds at most %.1f MiB (use a smaller --batch)",
                    batch, c->info.name, (double)bytes / 1048576.0, (double)max_range / 1048576.0);
            e->too_large = 1;
            return -1;
        }
        p->slot_off[s] = total;
        total = align_up(total + bytes, a);
    }
    for (int s = 0; s < p->n_steps; s++) {
        uint32_t groups[2];
        dispatch_size(p, &p->steps[s], batch, groups);
        if (p->steps[s].kind == STEP_CONV && (groups[0] > c->caps.limits.maxComputeWorkGroupCount[0] ||
                                              groups[1] > c->caps.limits.maxComputeWorkGroupCount[1])) {
            vb_fail(e, VB_EXIT_DEVICE, "batch %d needs more workgroups than %s dispatches; use a smaller --batch",
                    batch, c->info.name);
            e->too_large = 1;
            return -1;
        }
    }
    vb_vk_buffer_destroy(c, &p->acts);
    vb_vk_buffer_destroy(c, &p->staging_in);
    p->batch_cap = 0;
    const vb_node *in = &p->g->nodes[0];
    if (vb_vk_buffer_create(c, total, 0, "the activations", &p->acts, e) ||
        vb_vk_buffer_create(c, (VkDeviceSize)batch * vb_node_size(in) * p->act_bytes, 1, "the input staging buffer",
                            &p->staging_in, e))
        return -1;
    p->batch_cap = batch;
    p->recorded_batch = 0; /* the recording names the old buffers and descriptor sets */
    write_descriptors(p);
    return 0;
}

/* ---- load / unload ------------------------------------------------------------------------------------------- */

static void vk_free_prepared(vk_prepared *p)
{
    if (!p)
        return;
    vb_vk_ctx *c = &p->be->ctx;
    if (vb_vk_settle(c) == 0) { /* a hung device may still use them (see vb_vk_ctx_destroy) */
        if (c->dev)
            c->d.vkDeviceWaitIdle(c->dev);
        if (p->qpool)
            c->d.vkDestroyQueryPool(c->dev, p->qpool, NULL);
        if (p->cb)
            c->d.vkFreeCommandBuffers(c->dev, c->cmd_pool, 1, &p->cb);
        if (p->dpool)
            c->d.vkDestroyDescriptorPool(c->dev, p->dpool, NULL);
        vb_vk_buffer_destroy(c, &p->weights);
        vb_vk_buffer_destroy(c, &p->acts);
        vb_vk_buffer_destroy(c, &p->staging_in);
        vb_vk_buffer_destroy(c, &p->readback);
        vb_vk_buffer_destroy(c, &p->dummy);
    }
    free(p->steps);
    free(p);
}

static int create_command_objects(vk_prepared *p, vb_err *e)
{
    vb_vk_ctx *c = &p->be->ctx;
    VkCommandBufferAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = c->cmd_pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VkResult r = c->d.vkAllocateCommandBuffers(c->dev, &ai, &p->cb);
    if (r != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkAllocateCommandBuffers");
    p->timestamps = c->caps.timestamp_valid_bits > 0 && c->caps.timestamp_period > 0;
    if (p->timestamps) {
        VkQueryPoolCreateInfo qi = {
            .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
            .queryType = VK_QUERY_TYPE_TIMESTAMP,
            .queryCount = (uint32_t)p->n_steps + 1,
        };
        if ((r = c->d.vkCreateQueryPool(c->dev, &qi, NULL, &p->qpool)) != VK_SUCCESS)
            return vb_vk_fail(c, r, e, "vkCreateQueryPool");
    }
    return 0;
}

static int vk_load(vb_backend *handle, const vb_graph *g, vb_prepared *out, vb_err *e)
{
    vk_backend *b = handle->context;
    if (g->n_nodes < 1 || g->nodes[0].op != VB_OP_INPUT)
        return vb_fail(e, VB_EXIT_INPUT, "vulkan backend: the graph must start with its input node");
    vk_prepared *p = vb_calloc(1, sizeof *p, e);
    if (!p)
        return -1;
    p->be = b;
    p->g = g;
    p->act_bytes = b->ctx.info.uses_fp16 && !g->geometry ? 2 : 4;
    if (plan_steps(p, e))
        goto fail;
    plan_slots(p);
    if (create_command_objects(p, e) || vb_vk_buffer_create(&b->ctx, 16, 0, "a placeholder binding", &p->dummy, e) ||
        upload_weights(p, e) || create_pipelines(p, e) || create_descriptors(p, e) || ensure_batch(p, 1, e) ||
        vb_vk_check_messages(&b->ctx, e))
        goto fail;
    out->context = p;
    return 0;
fail:
    vk_free_prepared(p);
    return -1;
}

/* ---- run ------------------------------------------------------------------------------------------------------- */

static void full_barrier(const vb_vk_ctx *c, VkCommandBuffer cb)
{
    /* Between dependent steps: every shader or copy write so far is visible to every later
     * shader or copy, and no later write starts before earlier reads finished. */
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                         VK_ACCESS_TRANSFER_WRITE_BIT,
    };
    const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    c->d.vkCmdPipelineBarrier(cb, stages, stages, 0, 1, &mb, 0, NULL, 0, NULL);
}

static void copy_slot_out(const vk_prepared *p, int node, int batch, VkDeviceSize dst_off)
{
    const vb_vk_ctx *c = &p->be->ctx;
    int slot = p->step_slot[p->node_step[node]];
    VkBufferCopy region = {
        .srcOffset = p->slot_off[slot],
        .dstOffset = dst_off,
        .size = (VkDeviceSize)vb_node_size(&p->g->nodes[node]) * batch * p->act_bytes,
    };
    c->d.vkCmdCopyBuffer(p->cb, p->acts.buf, p->readback.buf, 1, &region);
}

static int record(vk_prepared *p, int batch, const VkDeviceSize *capture_off, vb_err *e)
{
    vb_vk_ctx *c = &p->be->ctx;
    const vb_graph *g = p->g;
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    p->recorded_batch = 0;
    VkResult r = c->d.vkBeginCommandBuffer(p->cb, &bi);
    if (r != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkBeginCommandBuffer");
    if (p->timestamps) {
        c->d.vkCmdResetQueryPool(p->cb, p->qpool, 0, (uint32_t)p->n_steps + 1);
        c->d.vkCmdWriteTimestamp(p->cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, p->qpool, 0);
    }
    for (int s = 0; s < p->n_steps; s++) {
        const step *st = &p->steps[s];
        if (st->kind == STEP_INPUT) {
            int slot = p->step_slot[s];
            VkBufferCopy region = {
                .dstOffset = p->slot_off[slot],
                .size = (VkDeviceSize)vb_node_size(&g->nodes[st->out]) * batch * p->act_bytes,
            };
            c->d.vkCmdCopyBuffer(p->cb, p->staging_in.buf, p->acts.buf, 1, &region);
        } else {
            vb_vk_push pc = st->pc;
            pc.batch = (uint32_t)batch;
            uint32_t groups[2];
            dispatch_size(p, st, batch, groups);
            c->d.vkCmdBindPipeline(p->cb, VK_PIPELINE_BIND_POINT_COMPUTE, st->pipeline);
            c->d.vkCmdBindDescriptorSets(p->cb, VK_PIPELINE_BIND_POINT_COMPUTE, c->pipe_layout, 0, 1, &st->set, 0,
                                         NULL);
            c->d.vkCmdPushConstants(p->cb, c->pipe_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof pc, &pc);
            c->d.vkCmdDispatch(p->cb, groups[0], groups[1], 1);
        }
        if (p->timestamps)
            c->d.vkCmdWriteTimestamp(p->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, p->qpool, (uint32_t)s + 1);
        full_barrier(c, p->cb);
        if (capture_off && capture_off[st->out] != (VkDeviceSize)-1) {
            copy_slot_out(p, st->out, batch, capture_off[st->out]);
            full_barrier(c, p->cb); /* the slot may be overwritten by the next step */
        }
    }
    copy_slot_out(p, g->output, batch, 0);
    VkMemoryBarrier to_host = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
    };
    c->d.vkCmdPipelineBarrier(p->cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0,
                              NULL, 0, NULL);
    if ((r = c->d.vkEndCommandBuffer(p->cb)) != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkEndCommandBuffer");
    p->recorded_batch = capture_off ? 0 : batch; /* a capturing run is not the plain one */
    return 0;
}

static void to_device_act(const vk_prepared *p, const float *x, size_t n, void *dst)
{
    if (p->act_bytes == 4) {
        memcpy(dst, x, n * sizeof(float));
        return;
    }
    uint16_t *h = dst;
    for (size_t i = 0; i < n; i++)
        h[i] = vb_fp32_to_fp16(x[i]);
}

static void from_device_act(const vk_prepared *p, const void *src, size_t n, float *y)
{
    if (p->act_bytes == 4) {
        memcpy(y, src, n * sizeof(float));
        return;
    }
    const uint16_t *h = src;
    for (size_t i = 0; i < n; i++)
        y[i] = vb_fp16_to_fp32(h[i]);
}

/* Readback layout: the output first, then each captured node. Offsets per node, -1: none. */
static int plan_readback(vk_prepared *p, int batch, float **node_out, VkDeviceSize *off, vb_err *e)
{
    const vb_graph *g = p->g;
    VkDeviceSize total = align_up((VkDeviceSize)g->out_dim * batch * p->act_bytes, 16);
    for (int i = 0; i < g->n_nodes; i++) {
        off[i] = (VkDeviceSize)-1;
        if (node_out && node_out[i] && p->node_step[i] >= 0) {
            off[i] = total;
            total = align_up(total + (VkDeviceSize)vb_node_size(&g->nodes[i]) * batch * p->act_bytes, 16);
        }
    }
    if (total <= p->readback.size)
        return 0;
    p->recorded_batch = 0; /* the recording copies into the old readback buffer */
    vb_vk_buffer_destroy(&p->be->ctx, &p->readback);
    return vb_vk_buffer_create(&p->be->ctx, total, 1, "the readback buffer", &p->readback, e);
}

static void read_timings(vk_prepared *p, vb_timings *t)
{
    const vb_graph *g = p->g;
    vb_vk_ctx *c = &p->be->ctx;
    for (int i = 0; i < g->n_nodes; i++)
        t->node_ms[i] = p->timestamps ? 0.0 : NAN;
    if (!p->timestamps)
        return;
    uint64_t ts[VB_GRAPH_MAX_NODES + 1];
    VkResult r = c->d.vkGetQueryPoolResults(c->dev, p->qpool, 0, (uint32_t)p->n_steps + 1, sizeof ts, ts,
                                            sizeof ts[0], VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r != VK_SUCCESS) {
        for (int i = 0; i < g->n_nodes; i++)
            t->node_ms[i] = NAN;
        return;
    }
    const uint32_t bits = c->caps.timestamp_valid_bits;
    const uint64_t mask = bits >= 64 ? ~0ull : ((1ull << bits) - 1);
    for (int s = 0; s < p->n_steps; s++) {
        uint64_t ticks = (ts[s + 1] - ts[s]) & mask;
        t->node_ms[p->steps[s].out] = (double)ticks * c->caps.timestamp_period * 1e-6;
    }
}

static int vk_run(vb_prepared *handle, const float *input, int batch, float *output, float **node_out,
                  vb_timings *t, vb_err *e)
{
    vk_prepared *p = handle->context;
    const vb_graph *g = p->g;
    vb_vk_ctx *c = &p->be->ctx;
    if (batch < 1)
        return vb_fail(e, VB_EXIT_USAGE, "batch size must be at least 1");
    if (c->broken)
        return vb_fail(e, VB_EXIT_DEVICE, "Vulkan device %s is unusable: %s", c->info.name, c->broken_why);
    double t0 = vb_now();
    VkDeviceSize capture_off[VB_GRAPH_MAX_NODES];
    if (ensure_batch(p, batch, e) || plan_readback(p, batch, node_out, capture_off, e))
        return -1;
    to_device_act(p, input, (size_t)batch * vb_node_size(&g->nodes[0]), p->staging_in.map);
    int recorded = !node_out && p->recorded_batch == batch;
    if ((!recorded && record(p, batch, node_out ? capture_off : NULL, e)) ||
        vb_vk_submit_wait(c, p->cb, submit_timeout(c, batch), e))
        return -1;
    const uint8_t *rb = p->readback.map;
    from_device_act(p, rb, (size_t)batch * g->out_dim, output);
    if (node_out)
        for (int i = 0; i < g->n_nodes; i++) {
            if (!node_out[i])
                continue;
            if (capture_off[i] == (VkDeviceSize)-1)
                node_out[i][0] = NAN; /* fused away: never materialized */
            else
                from_device_act(p, rb + capture_off[i], (size_t)batch * vb_node_size(&g->nodes[i]), node_out[i]);
        }
    if (t && t->node_ms)
        read_timings(p, t);
    if (t)
        t->total_ms = (vb_now() - t0) * 1e3;
    return vb_vk_check_messages(c, e);
}

/* ---- face chip warp ---------------------------------------------------------------------------------------------- */

static void warp_free(vk_backend *b)
{
    warp_state *w = &b->warp;
    vb_vk_ctx *c = &b->ctx;
    if (!w->cb && !w->dpool && !w->in.buf && !w->out.buf && !w->dummy.buf)
        return; /* never used */
    if (!c->dev || vb_vk_settle(c) != 0) /* a hung device may still use them */
        return;
    c->d.vkDeviceWaitIdle(c->dev);
    if (w->cb)
        c->d.vkFreeCommandBuffers(c->dev, c->cmd_pool, 1, &w->cb);
    if (w->dpool)
        c->d.vkDestroyDescriptorPool(c->dev, w->dpool, NULL);
    vb_vk_buffer_destroy(c, &w->in);
    vb_vk_buffer_destroy(c, &w->out);
    vb_vk_buffer_destroy(c, &w->dummy);
    memset(w, 0, sizeof *w);
}

static int warp_create(vk_backend *b, vb_err *e)
{
    warp_state *w = &b->warp;
    vb_vk_ctx *c = &b->ctx;
    const uint32_t no_spec[1] = {0};
    VkResult r;
    if (vb_vk_pipeline_get(c, c->uses_fp64 ? "warp_f64" : "warp_f32", no_spec, 0, &w->pipeline, e) ||
        vb_vk_buffer_create(c, 16, 0, "a placeholder binding", &w->dummy, e))
        return -1;
    VkCommandBufferAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = c->cmd_pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    if ((r = c->d.vkAllocateCommandBuffers(c->dev, &ai, &w->cb)) != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkAllocateCommandBuffers");
    VkDescriptorPoolSize size = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = VB_VK_BINDINGS};
    VkDescriptorPoolCreateInfo pi = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = 1,
        .poolSizeCount = 1,
        .pPoolSizes = &size,
    };
    if ((r = c->d.vkCreateDescriptorPool(c->dev, &pi, NULL, &w->dpool)) != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkCreateDescriptorPool");
    VkDescriptorSetAllocateInfo si = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorPool = w->dpool,
        .descriptorSetCount = 1,
        .pSetLayouts = &c->set_layout,
    };
    if ((r = c->d.vkAllocateDescriptorSets(c->dev, &si, &w->set)) != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkAllocateDescriptorSets");
    w->ready = 1;
    return 0;
}

/* The warp's objects, made once; a failure frees what it made, so a later call retries. */
static int warp_init(vk_backend *b, vb_err *e)
{
    if (b->warp.ready)
        return 0;
    if (warp_create(b, e) == 0)
        return 0;
    warp_free(b);
    return -1;
}

/* A chip the kernel reproduces: a finite transform at pyramid level 0. Chips of faces over
 * about twice the chip's size come from dlib's image pyramid, which the kernel does not
 * build; the backend makes those with the reference on the host. */
static int warp_on_device(const vb_similarity *t, int size)
{
    const double lim = 1e9; /* keeps floor(tx), floor(ty) in an int32 */
    return isfinite(t->a) && isfinite(t->b) && fabs(t->tx) < lim && fabs(t->ty) < lim &&
           vb_chip_pyramid_level(t, size) == 0;
}

static int grow_host_buffer(vb_vk_ctx *c, vb_vk_buffer *buf, VkDeviceSize need, const char *what, vb_err *e)
{
    if (buf->buf && buf->size >= need)
        return 0;
    vb_vk_buffer_destroy(c, buf);
    return vb_vk_buffer_create(c, need, 1, what, buf, e);
}

/* Chips [i, j) (all on the device) in one dispatch. */
static int warp_chunk(vk_backend *b, const uint8_t *const *px, const int *w, const int *h, const int *c,
                      const vb_similarity *t, int i, int j, int size, const float mean[3], float scale, float *out,
                      vb_err *e)
{
    warp_state *wp = &b->warp;
    vb_vk_ctx *ctx = &b->ctx;
    const VkDeviceSize a = storage_align(ctx);
    const VkDeviceSize table = (VkDeviceSize)(j - i) * sizeof(vb_vk_warp_chip);
    const VkDeviceSize pix_off = align_up(table, a);
    VkDeviceSize pix_bytes = 0;
    for (int k = i; k < j; k++)
        pix_bytes += (VkDeviceSize)w[k] * h[k] * c[k];
    pix_bytes = align_up(pix_bytes, 4);
    const VkDeviceSize out_bytes = (VkDeviceSize)(j - i) * size * size * 3 * sizeof(float);
    if (grow_host_buffer(ctx, &wp->in, pix_off + pix_bytes, "the warp's images", e) ||
        grow_host_buffer(ctx, &wp->out, out_bytes, "the warped chips", e))
        return -1;
    uint8_t *base = wp->in.map;
    vb_vk_warp_chip *chips = wp->in.map;
    uint32_t off = 0;
    for (int k = i; k < j; k++) {
        vb_vk_warp_chip *ch = &chips[k - i];
        double ix = floor(t[k].tx), iy = floor(t[k].ty);
        *ch = (vb_vk_warp_chip){
            .a = t[k].a, .b = t[k].b, .tx = t[k].tx, .ty = t[k].ty,
            .ix = (int32_t)ix, .iy = (int32_t)iy,
            .fx = (float)(t[k].tx - ix), .fy = (float)(t[k].ty - iy),
            .af = (float)t[k].a, .bf = (float)t[k].b,
            .offset = off, .w = (uint32_t)w[k], .h = (uint32_t)h[k], .c = (uint32_t)c[k],
        };
        size_t bytes = (size_t)w[k] * h[k] * c[k];
        memcpy(base + pix_off + off, px[k], bytes);
        off += (uint32_t)bytes;
    }
    VkDescriptorBufferInfo bufs[VB_VK_BINDINGS];
    for (int k = 0; k < VB_VK_BINDINGS; k++)
        bufs[k] = (VkDescriptorBufferInfo){wp->dummy.buf, 0, VK_WHOLE_SIZE};
    bufs[VB_VK_BIND_DST] = (VkDescriptorBufferInfo){wp->out.buf, 0, out_bytes};
    bufs[VB_VK_BIND_WEIGHTS] = (VkDescriptorBufferInfo){wp->in.buf, pix_off, pix_bytes};
    bufs[VB_VK_BIND_PARAMS] = (VkDescriptorBufferInfo){wp->in.buf, 0, table};
    VkWriteDescriptorSet wr[VB_VK_BINDINGS];
    for (int k = 0; k < VB_VK_BINDINGS; k++)
        wr[k] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = wp->set,
            .dstBinding = (uint32_t)k,
            .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .pBufferInfo = &bufs[k],
        };
    ctx->d.vkUpdateDescriptorSets(ctx->dev, VB_VK_BINDINGS, wr, 0, NULL);

    VkCommandBufferBeginInfo bi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    VkResult r = ctx->d.vkBeginCommandBuffer(wp->cb, &bi);
    if (r != VK_SUCCESS)
        return vb_vk_fail(ctx, r, e, "vkBeginCommandBuffer");
    vb_vk_warp_push pc = {(uint32_t)(j - i), (uint32_t)size, {mean[0], mean[1], mean[2]}, scale};
    const uint64_t groups = ((uint64_t)(j - i) * size * size + 255) / 256;
    const uint32_t max_groups = ctx->caps.limits.maxComputeWorkGroupCount[0];
    ctx->d.vkCmdBindPipeline(wp->cb, VK_PIPELINE_BIND_POINT_COMPUTE, wp->pipeline);
    ctx->d.vkCmdBindDescriptorSets(wp->cb, VK_PIPELINE_BIND_POINT_COMPUTE, ctx->pipe_layout, 0, 1, &wp->set, 0, NULL);
    ctx->d.vkCmdPushConstants(wp->cb, ctx->pipe_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof pc, &pc);
    ctx->d.vkCmdDispatch(wp->cb, (uint32_t)(groups < max_groups ? groups : max_groups), 1, 1);
    VkMemoryBarrier to_host = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
    };
    ctx->d.vkCmdPipelineBarrier(wp->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                                &to_host, 0, NULL, 0, NULL);
    if ((r = ctx->d.vkEndCommandBuffer(wp->cb)) != VK_SUCCESS)
        return vb_vk_fail(ctx, r, e, "vkEndCommandBuffer");
    if (vb_vk_submit_wait(ctx, wp->cb, submit_timeout(ctx, 1), e))
        return -1;
    memcpy(out + (size_t)i * size * size * 3, wp->out.map, (size_t)out_bytes);
    return 0;
}

static int vk_warp(vb_backend *handle, const uint8_t *const *px, const int *w, const int *h, const int *c,
                   const vb_similarity *t, int n, int size, const float mean[3], float scale, float *out, vb_err *e)
{
    vk_backend *b = handle->context;
    vb_vk_ctx *ctx = &b->ctx;
    if (ctx->broken)
        return vb_fail(e, VB_EXIT_DEVICE, "Vulkan device %s is unusable: %s", ctx->info.name, ctx->broken_why);
    if (warp_init(b, e))
        return -1;
    /* Each dispatch binds at most maxStorageBufferRange bytes of images and of chips, and
     * indexes samples with 32-bit unsigned ints. */
    VkDeviceSize limit = ctx->caps.limits.maxStorageBufferRange;
    if (limit > ctx->caps.max_allocation / 2) /* images and chip table share one buffer */
        limit = ctx->caps.max_allocation / 2;
    if (limit > UINT32_MAX / 4)
        limit = UINT32_MAX / 4;
    const VkDeviceSize chip_bytes = (VkDeviceSize)size * size * 3 * sizeof(float);
    if (chip_bytes + 4096 > limit)
        return vb_fail(e, VB_EXIT_DEVICE, "warp: a %dx%d chip is more than %s binds", size, size, ctx->info.name);
    size_t chip_floats = (size_t)size * size * 3;
    for (int i = 0; i < n;) {
        if (!warp_on_device(&t[i], size)) {
            if (vb_warp_chip(px[i], w[i], h[i], c[i], &t[i], size, mean, scale, out + (size_t)i * chip_floats, NULL, e))
                return -1;
            i++;
            continue;
        }
        VkDeviceSize pix = 0, outb = 0, table = 0;
        int j = i;
        while (j < n && warp_on_device(&t[j], size)) {
            VkDeviceSize img = (VkDeviceSize)w[j] * h[j] * c[j];
            if (img + 4096 > limit)
                return vb_fail(e, VB_EXIT_DEVICE, "warp: image %d (%dx%d, %d channels) is more than %s binds in one "
                               "buffer (%.0f MiB)", j, w[j], h[j], c[j], ctx->info.name, (double)limit / 1048576.0);
            if (j > i && (pix + img + 4 > limit || outb + chip_bytes > limit ||
                          table + sizeof(vb_vk_warp_chip) + 1024 > limit))
                break;
            pix += img;
            outb += chip_bytes;
            table += sizeof(vb_vk_warp_chip);
            j++;
        }
        if (warp_chunk(b, px, w, h, c, t, i, j, size, mean, scale, out, e))
            return -1;
        i = j;
    }
    return vb_vk_check_messages(ctx, e);
}

static int vk_preferred_batch(const vb_prepared *handle)
{
    const vk_prepared *p = handle->context;
    switch (p->be->ctx.caps.type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 64;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 16;
    default: return 8;
    }
}

static void vk_unload(vb_prepared *handle)
{
    vk_free_prepared(handle->context);
}

/* ---- fingerprint kernels (backends/vulkan/vk_fingerprint.c), one call at a time ---------- */

static int vk_fp_orient(vb_backend *handle, const float *img, int w, int h, float grad_sigma, float orient_sigma,
                        float *tensor, vb_err *e)
{
    vk_backend *b = handle->context;
    pthread_mutex_lock(&b->fp_lock);
    int rc = vb_vk_fp_orient(&b->ctx, &b->fp, img, w, h, grad_sigma, orient_sigma, tensor, e);
    pthread_mutex_unlock(&b->fp_lock);
    return rc;
}

static int vk_fp_gabor(vb_backend *handle, const float *img, const uint8_t *bins, int w, int h, float period,
                       float k, int na, float *out, vb_err *e)
{
    vk_backend *b = handle->context;
    pthread_mutex_lock(&b->fp_lock);
    int rc = vb_vk_fp_gabor(&b->ctx, &b->fp, img, bins, w, h, period, k, na, out, e);
    pthread_mutex_unlock(&b->fp_lock);
    return rc;
}

const vb_backend_iface vb_vulkan_backend = {
    .name = "vulkan",
    .list_devices = vk_list_devices,
    .init = vk_init,
    .load = vk_load,
    .run = vk_run,
    .preferred_batch = vk_preferred_batch,
    .warp = vk_warp,
    .fp_orient = vk_fp_orient,
    .fp_gabor = vk_fp_gabor,
    .unload = vk_unload,
    .free = vk_free,
};
