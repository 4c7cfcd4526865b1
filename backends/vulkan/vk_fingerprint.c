/* The fingerprint kernels on Vulkan (see backends/vulkan/vk_fingerprint.h). */
#include <stdlib.h>
#include <string.h>

#include "backends/vulkan/vk_fingerprint.h"
#include "backends/vulkan/vk_kernels.h"
#include "models/fp_image.h"

enum { FP_SETS = 5 }; /* the most dispatches of one call (orientation: rows, columns, Sobel, rows, columns) */

struct vb_vk_fp {
    VkPipeline rows, cols, sobel, gabor;
    VkDescriptorPool pool;
    VkDescriptorSet set[FP_SETS];
    VkCommandBuffer cb;
    vb_vk_buffer io;      /* host-visible staging: the inputs, taps or bank, the outputs */
    vb_vk_buffer dev;     /* device-local: io's layout, then intermediate planes; the kernels
                             read and write only this (a discrete GPU would otherwise read
                             each tap across the bus) */
    vb_vk_buffer dummy;   /* bound where a kernel reads nothing */
};

/* A range of one buffer; buf NULL: the placeholder. */
typedef struct fp_region {
    const vb_vk_buffer *buf;
    VkDeviceSize off, size;
} fp_region;

typedef struct fp_pass {
    VkPipeline pipe;
    fp_region src, src1, dst, taps;
    vb_vk_fp_push pc;
} fp_pass;

static VkDeviceSize align_up(VkDeviceSize v, VkDeviceSize a)
{
    return (v + a - 1) / a * a;
}

/* Bytes of `n` elements of `size`, rounded up to the device's storage offset alignment. */
static VkDeviceSize slot(const vb_vk_ctx *c, size_t n, size_t size)
{
    VkDeviceSize a = c->caps.limits.minStorageBufferOffsetAlignment;
    return align_up((VkDeviceSize)n * size, a < 16 ? 16 : a);
}

void vb_vk_fp_free(vb_vk_ctx *c, vb_vk_fp *st)
{
    if (!st)
        return;
    if (!c->dev || vb_vk_settle(c) != 0) /* a hung device may still use them */
        return;
    c->d.vkDeviceWaitIdle(c->dev);
    if (st->cb)
        c->d.vkFreeCommandBuffers(c->dev, c->cmd_pool, 1, &st->cb);
    if (st->pool)
        c->d.vkDestroyDescriptorPool(c->dev, st->pool, NULL);
    vb_vk_buffer_destroy(c, &st->io);
    vb_vk_buffer_destroy(c, &st->dev);
    vb_vk_buffer_destroy(c, &st->dummy);
    free(st);
}

static int fp_create(vb_vk_ctx *c, vb_vk_fp *st, vb_err *e)
{
    const uint32_t passes[3] = {VB_VK_FP_ROWS, VB_VK_FP_COLUMNS, VB_VK_FP_SOBEL};
    VkResult r;
    if (vb_vk_pipeline_get(c, "fp_orient", &passes[0], 1, &st->rows, e) ||
        vb_vk_pipeline_get(c, "fp_orient", &passes[1], 1, &st->cols, e) ||
        vb_vk_pipeline_get(c, "fp_orient", &passes[2], 1, &st->sobel, e) ||
        vb_vk_pipeline_get(c, "fp_gabor", passes, 0, &st->gabor, e) ||
        vb_vk_buffer_create(c, 16, 0, "a placeholder binding", &st->dummy, e))
        return -1;
    VkCommandBufferAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = c->cmd_pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    if ((r = c->d.vkAllocateCommandBuffers(c->dev, &ai, &st->cb)) != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkAllocateCommandBuffers");
    VkDescriptorPoolSize size = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                 .descriptorCount = VB_VK_BINDINGS * FP_SETS};
    VkDescriptorPoolCreateInfo pi = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = FP_SETS,
        .poolSizeCount = 1,
        .pPoolSizes = &size,
    };
    if ((r = c->d.vkCreateDescriptorPool(c->dev, &pi, NULL, &st->pool)) != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkCreateDescriptorPool");
    VkDescriptorSetLayout layouts[FP_SETS];
    for (int i = 0; i < FP_SETS; i++)
        layouts[i] = c->set_layout;
    VkDescriptorSetAllocateInfo si = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorPool = st->pool,
        .descriptorSetCount = FP_SETS,
        .pSetLayouts = layouts,
    };
    if ((r = c->d.vkAllocateDescriptorSets(c->dev, &si, st->set)) != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkAllocateDescriptorSets");
    return 0;
}

/* The state, made once; a failure frees what it made, so a later call retries. */
static int fp_ready(vb_vk_ctx *c, vb_vk_fp **st, vb_err *e)
{
    if (c->broken)
        return vb_fail(e, VB_EXIT_DEVICE, "Vulkan device %s is unusable: %s", c->info.name, c->broken_why);
    if (*st)
        return 0;
    vb_vk_fp *s = vb_calloc(1, sizeof *s, e);
    if (!s)
        return -1;
    if (fp_create(c, s, e)) {
        vb_vk_fp_free(c, s);
        return -1;
    }
    *st = s;
    return 0;
}

static int grow(vb_vk_ctx *c, vb_vk_buffer *buf, VkDeviceSize need, int host, const char *what, vb_err *e)
{
    if (buf->buf && buf->size >= need)
        return 0;
    vb_vk_buffer_destroy(c, buf);
    return vb_vk_buffer_create(c, need, host, what, buf, e);
}

/* Every region a dispatch binds must fit the device's storage buffer range. */
static int fits(const vb_vk_ctx *c, VkDeviceSize bytes, int w, int h, vb_err *e)
{
    if (bytes <= c->caps.limits.maxStorageBufferRange)
        return 0;
    e->too_large = 1;
    return vb_fail(e, VB_EXIT_DEVICE, "a %dx%d print needs %.0f MiB in one binding, more than %s binds", w, h,
                   (double)bytes / 1048576.0, c->info.name);
}

static void write_sets(vb_vk_ctx *c, vb_vk_fp *st, const fp_pass *p, int n)
{
    VkDescriptorBufferInfo bufs[FP_SETS][VB_VK_BINDINGS];
    VkWriteDescriptorSet wr[FP_SETS * VB_VK_BINDINGS];
    int nw = 0;
    for (int s = 0; s < n; s++) {
        const fp_region *bind[VB_VK_BINDINGS] = {NULL};
        bind[VB_VK_BIND_SRC0] = &p[s].src;
        bind[VB_VK_BIND_SRC1] = &p[s].src1;
        bind[VB_VK_BIND_DST] = &p[s].dst;
        bind[VB_VK_BIND_WEIGHTS] = &p[s].taps;
        for (int k = 0; k < VB_VK_BINDINGS; k++) {
            const fp_region *rg = bind[k];
            bufs[s][k] = rg && rg->buf ? (VkDescriptorBufferInfo){rg->buf->buf, rg->off, rg->size}
                                       : (VkDescriptorBufferInfo){st->dummy.buf, 0, VK_WHOLE_SIZE};
            wr[nw++] = (VkWriteDescriptorSet){
                .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                .dstSet = st->set[s],
                .dstBinding = (uint32_t)k,
                .descriptorCount = 1,
                .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                .pBufferInfo = &bufs[s][k],
            };
        }
    }
    c->d.vkUpdateDescriptorSets(c->dev, (uint32_t)nw, wr, 0, NULL);
}

/* How long one call may take before the device counts as hung: a GPU needs milliseconds; a
 * CPU implementation (llvmpipe) a second or so for a large print's Gabor. */
static double fp_timeout(const vb_vk_ctx *c)
{
    return 120.0 + (c->caps.type == VK_PHYSICAL_DEVICE_TYPE_CPU ? 60.0 : 0.0);
}

static void barrier(vb_vk_ctx *c, VkCommandBuffer cb, VkAccessFlags src, VkPipelineStageFlags src_stage,
                    VkAccessFlags dst, VkPipelineStageFlags dst_stage)
{
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = src, .dstAccessMask = dst};
    c->d.vkCmdPipelineBarrier(cb, src_stage, dst_stage, 0, 1, &mb, 0, NULL, 0, NULL);
}

/* One call: io's first `up` bytes copied to dev, the passes in order with a barrier between
 * each, dev's [down_off, down_off + down) copied back to io for the host. */
static int run_passes(vb_vk_ctx *c, vb_vk_fp *st, const fp_pass *p, int n, VkDeviceSize up, VkDeviceSize down_off,
                      VkDeviceSize down, vb_err *e)
{
    write_sets(c, st, p, n);
    VkCommandBufferBeginInfo bi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    VkResult r = c->d.vkBeginCommandBuffer(st->cb, &bi);
    if (r != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkBeginCommandBuffer");
    const VkBufferCopy in = {0, 0, up}, out = {down_off, down_off, down};
    c->d.vkCmdCopyBuffer(st->cb, st->io.buf, st->dev.buf, 1, &in);
    barrier(c, st->cb, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_SHADER_READ_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT);
    for (int s = 0; s < n; s++) {
        const vb_vk_fp_push *pc = &p[s].pc;
        c->d.vkCmdBindPipeline(st->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p[s].pipe);
        c->d.vkCmdBindDescriptorSets(st->cb, VK_PIPELINE_BIND_POINT_COMPUTE, c->pipe_layout, 0, 1, &st->set[s], 0,
                                     NULL);
        c->d.vkCmdPushConstants(st->cb, c->pipe_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof *pc, pc);
        c->d.vkCmdDispatch(st->cb, (pc->w + 15) / 16, (pc->h + 15) / 16, pc->planes);
        if (s + 1 < n)
            barrier(c, st->cb, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                    VK_ACCESS_SHADER_READ_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT);
    }
    barrier(c, st->cb, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_TRANSFER_READ_BIT,
            VK_PIPELINE_STAGE_TRANSFER_BIT);
    c->d.vkCmdCopyBuffer(st->cb, st->dev.buf, st->io.buf, 1, &out);
    barrier(c, st->cb, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_HOST_READ_BIT,
            VK_PIPELINE_STAGE_HOST_BIT);
    if ((r = c->d.vkEndCommandBuffer(st->cb)) != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkEndCommandBuffer");
    if (vb_vk_submit_wait(c, st->cb, fp_timeout(c), e))
        return -1;
    return vb_vk_check_messages(c, e);
}

/* One separable blur (rows into A, columns into dst) of `planes` planes. */
static int blur_passes(const vb_vk_fp *st, fp_region src, fp_region a, fp_region dst, fp_region taps, uint32_t w,
                       uint32_t h, uint32_t planes, uint32_t r, fp_pass *out)
{
    out[0] = (fp_pass){st->rows, src, {0}, a, taps, {w, h, planes, r}};
    out[1] = (fp_pass){st->cols, a, {0}, dst, taps, {w, h, planes, r}};
    return 2;
}

int vb_vk_fp_orient(vb_vk_ctx *c, vb_vk_fp **stp, const float *img, int w, int h, float grad_sigma,
                    float orient_sigma, float *tensor, vb_err *e)
{
    if (fp_ready(c, stp, e))
        return -1;
    vb_vk_fp *st = *stp;
    const size_t n = (size_t)w * h;
    const int rg = vb_fp_gauss_radius(grad_sigma), ro = vb_fp_gauss_radius(orient_sigma);
    /* io and dev: image | grad taps | orient taps | tensor; then in dev only: A (3 planes) |
     * S | T (3 planes) */
    const VkDeviceSize img_b = slot(c, n, 4), tg_b = slot(c, 2 * rg + 1, 4), to_b = slot(c, 2 * ro + 1, 4);
    const VkDeviceSize plane3 = slot(c, 3 * n, 4), io_b = img_b + tg_b + to_b + plane3;
    if (fits(c, plane3, w, h, e) || grow(c, &st->io, io_b, 1, "a print's planes", e) ||
        grow(c, &st->dev, io_b + 2 * plane3 + img_b, 0, "a print's planes on the device", e))
        return -1;
    uint8_t *io = st->io.map;
    memcpy(io, img, n * sizeof *img);
    vb_fp_gauss_taps(grad_sigma, (float *)(io + img_b));
    vb_fp_gauss_taps(orient_sigma, (float *)(io + img_b + tg_b));
    const vb_vk_buffer *d = &st->dev;
    const fp_region in = {d, 0, n * 4}, taps_g = {d, img_b, (VkDeviceSize)(2 * rg + 1) * 4},
                    taps_o = {d, img_b + tg_b, (VkDeviceSize)(2 * ro + 1) * 4}, out = {d, img_b + tg_b + to_b, 3 * n * 4};
    const fp_region a1 = {d, io_b, n * 4}, a3 = {d, io_b, 3 * n * 4}, s = {d, io_b + plane3, n * 4},
                    t = {d, io_b + plane3 + img_b, 3 * n * 4};
    fp_pass p[FP_SETS];
    int np = 0;
    const uint32_t uw = (uint32_t)w, uh = (uint32_t)h;
    if (rg > 0)
        np += blur_passes(st, in, a1, s, taps_g, uw, uh, 1, (uint32_t)rg, p + np);
    p[np++] = (fp_pass){st->sobel, rg > 0 ? s : in, {0}, ro > 0 ? t : out, {0}, {uw, uh, 1, 0}};
    if (ro > 0)
        np += blur_passes(st, t, a3, out, taps_o, uw, uh, 3, (uint32_t)ro, p + np);
    if (run_passes(c, st, p, np, out.off, out.off, out.size, e))
        return -1;
    memcpy(tensor, io + out.off, 3 * n * sizeof *tensor);
    return 0;
}

int vb_vk_fp_gabor(vb_vk_ctx *c, vb_vk_fp **stp, const float *img, const uint8_t *bins, int w, int h, float period,
                   float k, int na, float *out, vb_err *e)
{
    if (fp_ready(c, stp, e))
        return -1;
    vb_vk_fp *st = *stp;
    const size_t n = (size_t)w * h;
    const int r = vb_fp_gabor_radius(period, k), side = 2 * r + 1;
    const size_t bank_n = (size_t)na * side * side;
    /* io: image | bins (4 per word) | bank | response */
    const VkDeviceSize img_b = slot(c, n, 4), bins_b = slot(c, (n + 3) / 4, 4), bank_b = slot(c, bank_n, 4);
    if (fits(c, bank_b, w, h, e) || fits(c, img_b, w, h, e) ||
        grow(c, &st->io, 2 * img_b + bins_b + bank_b, 1, "a print's planes and Gabor bank", e) ||
        grow(c, &st->dev, 2 * img_b + bins_b + bank_b, 0, "a print's planes and Gabor bank on the device", e))
        return -1;
    uint8_t *io = st->io.map;
    memcpy(io, img, n * sizeof *img);
    memcpy(io + img_b, bins, n);
    vb_fp_gabor_bank(period, k, na, (float *)(io + img_b + bins_b));
    const vb_vk_buffer *d = &st->dev;
    const fp_region in = {d, 0, n * 4}, bn = {d, img_b, align_up(n, 4)}, bank = {d, img_b + bins_b, bank_n * 4},
                    res = {d, img_b + bins_b + bank_b, n * 4};
    fp_pass p = {st->gabor, in, bn, res, bank, {(uint32_t)w, (uint32_t)h, 1, (uint32_t)r}};
    if (run_passes(c, st, &p, 1, res.off, res.off, res.size, e))
        return -1;
    memcpy(out, io + res.off, n * sizeof *out);
    if (vb_vk_fault("fp_skew")) /* a kernel bug, for check's tests: ridges become valleys */
        for (size_t i = 0; i < n; i++)
            out[i] = -out[i];
    return 0;
}
