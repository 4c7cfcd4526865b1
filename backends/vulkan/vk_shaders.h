/* The SPIR-V of every shader variant, compiled from the shaders/ .comp files at build time and
 * embedded by shaders/embed.sh (variant names: see shaders/shaders.mk). */
#ifndef VB_VK_SHADERS_H
#define VB_VK_SHADERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct vb_spirv {
    const char *name;
    const uint32_t *code;
    size_t size; /* bytes */
} vb_spirv;

extern const vb_spirv vb_spirv_table[];
extern const size_t vb_spirv_count;

#endif
