/* The fingerprint image kernels on a Vulkan device: the Vulkan side of vb_backend_fp_orient
 * and vb_backend_fp_gabor (shaders/fp_orient.comp, shaders/fp_gabor.comp; the reference and
 * its determinism contract are models/fp_image.h). The taps and the Gabor bank are made on
 * the host by the reference's own functions; the device does the sums.
 *
 * A vb_vk_fp holds the kernels' pipelines, descriptor sets, command buffer and buffers
 * (host-visible in/out, device-local intermediate planes), made on the first call and grown
 * as images grow; *st stays NULL until a call succeeds in making them. Not thread-safe: the
 * backend serializes calls on one context. */
#ifndef VB_VK_FINGERPRINT_H
#define VB_VK_FINGERPRINT_H

#include "backends/vulkan/vk_device.h"

typedef struct vb_vk_fp vb_vk_fp;

int vb_vk_fp_orient(vb_vk_ctx *c, vb_vk_fp **st, const float *img, int w, int h, float grad_sigma, float orient_sigma,
                    float *tensor, vb_err *e);
int vb_vk_fp_gabor(vb_vk_ctx *c, vb_vk_fp **st, const float *img, const uint8_t *bins, int w, int h, float period,
                   float k, int na, float *out, vb_err *e);
/* Accepts NULL; leaves the objects alone when the device still hangs. */
void vb_vk_fp_free(vb_vk_ctx *c, vb_vk_fp *st);

#endif
