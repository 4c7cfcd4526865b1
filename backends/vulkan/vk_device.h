/* Vulkan plumbing under the backend: instance (with optional validation and a message
 * counter), physical-device queries, the logical device, buffers, pipelines and
 * submission with a timeout. Errors are vb_err with VB_EXIT_DEVICE. */
#ifndef VB_VK_DEVICE_H
#define VB_VK_DEVICE_H

#include <pthread.h>

#include "backends/backend.h"
#include "backends/vulkan/vk_api.h"

typedef struct vb_vk_instance {
    vb_vk vk;
    VkInstance instance;
    uint32_t api_version;               /* the version the instance was created with */
    int validation;
    VkDebugUtilsMessengerEXT messenger;
    /* validation messages (warnings and errors); the callback may run on driver threads */
    pthread_mutex_t msg_lock;
    int n_messages;
    char first_message[768];
} vb_vk_instance;

/* What the backend needs to know about a physical device beyond vb_device_info. */
typedef struct vb_vk_caps {
    uint32_t api_version;
    VkPhysicalDeviceType type;
    VkPhysicalDeviceLimits limits;
    VkPhysicalDeviceMemoryProperties memory;
    VkDeviceSize max_allocation;        /* maxMemoryAllocationSize */
    int storage16, float16, int8, int_dot, coopmat;
    int float64;                        /* shaderFloat64 (the warp kernel's exact variant) */
    int ext_float16_int8, ext_int_dot;  /* extension needed for the feature (pre-1.2/1.3) */
    uint32_t subgroup_size;
    int subgroup_broadcast;             /* subgroupBroadcast (basic + ballot) in compute shaders */
    int queue_family;                   /* first family with compute; -1 if none */
    uint32_t timestamp_valid_bits;
    float timestamp_period;             /* ns per tick */
    uint32_t vendor_id, device_id, driver_version;
    uint8_t cache_uuid[VK_UUID_SIZE];   /* pipelineCacheUUID: whose pipeline cache data fits */
} vb_vk_caps;

/* Create an instance; validation = enable VK_LAYER_KHRONOS_validation (with synchronization
 * validation) and count its warnings and errors. */
int vb_vk_instance_create(vb_vk_instance *vi, int validation, vb_err *e);
void vb_vk_instance_destroy(vb_vk_instance *vi);
/* Validation messages of every instance destroyed so far in this process, shutdown
 * included (objects never destroyed are reported then): tests assert it stays 0. */
int vb_vk_validation_total(void);
/* Messages counted so far; *first (may be NULL) receives the first one's text. */
int vb_vk_messages(vb_vk_instance *vi, char *first, size_t n);

/* All physical devices (malloc'd array); zero devices is an error naming what to install. */
int vb_vk_physical_devices(vb_vk_instance *vi, VkPhysicalDevice **out, uint32_t *n, vb_err *e);
void vb_vk_query(vb_vk_instance *vi, VkPhysicalDevice pd, int index, vb_device_info *info,
                 vb_vk_caps *caps);
/* The default device: first discrete GPU, else first integrated GPU, else device 0. */
int vb_vk_default_device(const vb_vk_caps *caps, uint32_t n);

typedef struct vb_vk_buffer {
    VkBuffer buf;
    VkDeviceMemory mem;
    VkDeviceSize size;
    void *map;                          /* host-visible buffers stay mapped */
} vb_vk_buffer;

#define VB_VK_MAX_PIPELINES 64
#define VB_VK_MAX_SPEC 8
#define VB_VK_BINDINGS 6
#define VB_VK_PUSH_BYTES 128 /* the guaranteed minimum of maxPushConstantsSize */

typedef struct vb_vk_pipeline {
    const char *shader;
    uint32_t spec[VB_VK_MAX_SPEC];
    int n_spec;
    VkPipeline pipeline;
} vb_vk_pipeline;

/* A logical device with one compute queue. */
typedef struct vb_vk_ctx {
    vb_vk_instance inst;
    VkPhysicalDevice phys;
    vb_vk_caps caps;
    vb_device_info info;
    VkDevice dev;
    vb_vk_device_fns d;
    VkQueue queue;
    VkCommandPool cmd_pool;
    VkFence fence;
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout pipe_layout;
    vb_vk_pipeline pipelines[VB_VK_MAX_PIPELINES];
    int n_pipelines;
    VkPipelineCache pipeline_cache;     /* from disk (backends/vulkan/vk_cache.c) */
    char pipeline_cache_path[1024];     /* "" when off */
    int pipelines_created;              /* compiled in this process: the cache is saved if > 0 */
    int uses_fp64;                      /* shaderFloat64 enabled (caps.float64, unless
                                           $VERIBENCH_VULKAN_NO_FP64 is set) */
    double timeout_s;                   /* $VERIBENCH_VULKAN_TIMEOUT, 0 if unset */
    int broken;                         /* device lost or hung: refuse further work */
    char broken_why[256];
} vb_vk_ctx;

/* Pick device `index` (-1: default), create the logical device. use_fp16: request fp16
 * storage + arithmetic when the device has both (ctx->info.uses_fp16 says if it did). */
int vb_vk_ctx_create(vb_vk_ctx *c, int index, int use_fp16, int validation, vb_err *e);
void vb_vk_ctx_destroy(vb_vk_ctx *c);

/* host_visible: mapped, coherent (cached preferred, for readback); else device-local. */
int vb_vk_buffer_create(vb_vk_ctx *c, VkDeviceSize size, int host_visible, const char *what,
                        vb_vk_buffer *b, vb_err *e);
void vb_vk_buffer_destroy(vb_vk_ctx *c, vb_vk_buffer *b);

/* The on-disk pipeline cache (VkPipelineCache) of the device, so a second process does not
 * compile the same pipelines again (backends/vulkan/vk_cache.c). Where: the file named by
 * $VERIBENCH_PIPELINE_CACHE ("off": none), else $XDG_CACHE_HOME/veribench/ or
 * ~/.cache/veribench/, one file per vendor, device, driver version and pipelineCacheUUID.
 * A file that is not ours, is truncated or corrupt (a SHA-256 guards it) or belongs to
 * another device or driver is not handed to the driver: the cache starts empty, with a
 * note. Failing to read or write it never fails the work: it is a cache. */
void vb_vk_cache_open(vb_vk_ctx *c);
void vb_vk_cache_save(vb_vk_ctx *c);

/* The cached pipeline for a shader variant and specialization constants (ids 0..n-1). */
int vb_vk_pipeline_get(vb_vk_ctx *c, const char *shader, const uint32_t *spec, int n_spec,
                       VkPipeline *out, vb_err *e);

/* Submit one command buffer and wait for it, at most timeout_s seconds (fence). A lost or
 * hung device marks the context broken. */
int vb_vk_submit_wait(vb_vk_ctx *c, VkCommandBuffer cb, double timeout_s, vb_err *e);
/* After a fence timeout: wait up to 60 s more for the work to finish. 0 when the device is
 * quiet (objects may be destroyed), -1 when it still hangs (leave them alone). */
int vb_vk_settle(vb_vk_ctx *c);
/* Turn a failed VkResult into a vb_err (VB_EXIT_DEVICE) naming the call. */
int vb_vk_fail(vb_vk_ctx *c, VkResult r, vb_err *e, const char *what);
/* Fault injection for tests (VERIBENCH_VULKAN_FAULT): 1 when this call of kind `what`
 * ("oom", "lost"; "fp_skew": the fingerprint Gabor response is negated) is to fail. */
int vb_vk_fault(const char *what);
/* Fail if validation is on and the layer has reported anything. */
int vb_vk_check_messages(vb_vk_ctx *c, vb_err *e);

#endif
