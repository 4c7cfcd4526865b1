/* The host side of the shader contract in shaders/common.glsl: push constants, epilogue
 * flags and binding numbers. The two must agree field for field. */
#ifndef VB_VK_KERNELS_H
#define VB_VK_KERNELS_H

#include <stdint.h>

typedef struct vb_vk_push {
    uint32_t batch;
    uint32_t ih, iw, ic;   /* src0 shape per image */
    uint32_t oh, ow, oc;   /* dst shape per image */
    uint32_t bh, bw, bc;   /* src1 shape per image (add) */
    uint32_t kh, kw, stride, pad_top, pad_left;
    uint32_t flags;
    float alpha;           /* VB_VK_FLAG_LEAKY: slope for negative values */
} vb_vk_push;

enum {
    VB_VK_FLAG_BIAS = 1,
    VB_VK_FLAG_AFFINE = 2,
    VB_VK_FLAG_RELU = 4,
    VB_VK_FLAG_ADD = 8,
    VB_VK_FLAG_LEAKY = 16,
    VB_VK_FLAG_RELU6 = 32,
    VB_VK_FLAG_CONCAT = 64, /* eltwise.comp: dst = src0 ++ src1 per image (VB_OP_CONCAT) */
};

enum {
    VB_VK_BIND_SRC0 = 0,
    VB_VK_BIND_SRC1 = 1,
    VB_VK_BIND_DST = 2,
    VB_VK_BIND_WEIGHTS = 3,
    VB_VK_BIND_PARAMS = 4,
    VB_VK_BIND_WSCALE = 5,
};

/* conv2d specialization constants, ids 0..5 (shaders/conv2d.comp) */
typedef struct vb_vk_tile {
    uint32_t wg_m, wg_n, tm, tn, bk, threads;
} vb_vk_tile;

/* shaders/warp.comp: its push constants and one chip's entry in binding 4 (std430). */
typedef struct vb_vk_warp_push {
    uint32_t n, size;
    float mean[3], scale;
} vb_vk_warp_push;

typedef struct vb_vk_warp_chip {
    double a, b, tx, ty;   /* the chip -> image transform (read as raw bits by WARP_F64) */
    int32_t ix, iy;        /* floor(tx), floor(ty) */
    float fx, fy;          /* tx - ix, ty - iy */
    float af, bf;          /* a, b in fp32 */
    uint32_t offset;       /* the image's first byte in binding 3 */
    uint32_t w, h, c;
} vb_vk_warp_chip;

_Static_assert(sizeof(vb_vk_warp_push) == 24, "warp.comp's push constants");
_Static_assert(sizeof(vb_vk_warp_chip) == 72, "warp.comp's Chip is 72 bytes in std430");

/* shaders/fp_orient.comp (specialization constant 0: the pass) and shaders/fp_gabor.comp. */
typedef struct vb_vk_fp_push {
    uint32_t w, h, planes, r;
} vb_vk_fp_push;

enum { VB_VK_FP_ROWS = 0, VB_VK_FP_COLUMNS = 1, VB_VK_FP_SOBEL = 2 };

_Static_assert(sizeof(vb_vk_fp_push) == 16, "fp_orient.comp's and fp_gabor.comp's push constants");

/* conv2d_sg specialization constants, ids 0..2 (shaders/conv2d_sg.comp): subgroup size (=
 * local size), output pixels per workgroup, k per load (4 or 1). A workgroup covers pix
 * pixels x 4 * sg channels. */
typedef struct vb_vk_sg_tile {
    uint32_t sg, pix, kv;
} vb_vk_sg_tile;

#endif
