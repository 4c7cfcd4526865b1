/* The Vulkan API as veribench uses it: the loader is opened at run time with dlopen, so the
 * binary starts (and the CPU backend works) on machines without any Vulkan installed.
 * Compiled with VK_NO_PROTOTYPES: every entry point is a pointer in vb_vk, filled from
 * vkGetInstanceProcAddr / vkGetDeviceProcAddr.
 *
 * Which loader file is opened: $VERIBENCH_VULKAN_LOADER if set (tests use it to simulate
 * a machine without Vulkan), else libvulkan.so.1, else libvulkan.so. */
#ifndef VB_VK_API_H
#define VB_VK_API_H

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include "core/common.h"

/* Entry points resolved before an instance exists. */
#define VB_VK_GLOBAL_FNS(X)                                                                    \
    X(vkCreateInstance)                                                                        \
    X(vkEnumerateInstanceLayerProperties)                                                      \
    X(vkEnumerateInstanceExtensionProperties)

/* Entry points resolved from an instance. */
#define VB_VK_INSTANCE_FNS(X)                                                                  \
    X(vkDestroyInstance)                                                                       \
    X(vkEnumeratePhysicalDevices)                                                              \
    X(vkGetPhysicalDeviceProperties)                                                           \
    X(vkGetPhysicalDeviceProperties2)                                                          \
    X(vkGetPhysicalDeviceFeatures2)                                                            \
    X(vkGetPhysicalDeviceQueueFamilyProperties)                                                \
    X(vkGetPhysicalDeviceMemoryProperties)                                                     \
    X(vkEnumerateDeviceExtensionProperties)                                                    \
    X(vkCreateDevice)                                                                          \
    X(vkGetDeviceProcAddr)

/* Entry points resolved from a device. */
#define VB_VK_DEVICE_FNS(X)                                                                    \
    X(vkDestroyDevice)                                                                         \
    X(vkGetDeviceQueue)                                                                        \
    X(vkCreateBuffer)                                                                          \
    X(vkDestroyBuffer)                                                                         \
    X(vkGetBufferMemoryRequirements)                                                           \
    X(vkAllocateMemory)                                                                        \
    X(vkFreeMemory)                                                                            \
    X(vkBindBufferMemory)                                                                      \
    X(vkMapMemory)                                                                             \
    X(vkUnmapMemory)                                                                           \
    X(vkCreateShaderModule)                                                                    \
    X(vkDestroyShaderModule)                                                                   \
    X(vkCreateDescriptorSetLayout)                                                             \
    X(vkDestroyDescriptorSetLayout)                                                            \
    X(vkCreatePipelineLayout)                                                                  \
    X(vkDestroyPipelineLayout)                                                                 \
    X(vkCreateComputePipelines)                                                                \
    X(vkCreatePipelineCache)                                                                   \
    X(vkGetPipelineCacheData)                                                                  \
    X(vkDestroyPipelineCache)                                                                  \
    X(vkDestroyPipeline)                                                                       \
    X(vkCreateDescriptorPool)                                                                  \
    X(vkDestroyDescriptorPool)                                                                 \
    X(vkResetDescriptorPool)                                                                   \
    X(vkAllocateDescriptorSets)                                                                \
    X(vkUpdateDescriptorSets)                                                                  \
    X(vkCreateCommandPool)                                                                     \
    X(vkDestroyCommandPool)                                                                    \
    X(vkAllocateCommandBuffers)                                                                \
    X(vkFreeCommandBuffers)                                                                    \
    X(vkBeginCommandBuffer)                                                                    \
    X(vkEndCommandBuffer)                                                                      \
    X(vkResetCommandBuffer)                                                                    \
    X(vkCmdBindPipeline)                                                                       \
    X(vkCmdBindDescriptorSets)                                                                 \
    X(vkCmdPushConstants)                                                                      \
    X(vkCmdDispatch)                                                                           \
    X(vkCmdPipelineBarrier)                                                                    \
    X(vkCmdCopyBuffer)                                                                         \
    X(vkCmdResetQueryPool)                                                                     \
    X(vkCmdWriteTimestamp)                                                                     \
    X(vkCreateQueryPool)                                                                       \
    X(vkDestroyQueryPool)                                                                      \
    X(vkGetQueryPoolResults)                                                                   \
    X(vkCreateFence)                                                                           \
    X(vkDestroyFence)                                                                          \
    X(vkResetFences)                                                                           \
    X(vkWaitForFences)                                                                         \
    X(vkQueueSubmit)                                                                           \
    X(vkDeviceWaitIdle)

#define VB_VK_DECLARE(name) PFN_##name name;
typedef struct vb_vk {
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
    PFN_vkEnumerateInstanceVersion vkEnumerateInstanceVersion; /* NULL on a 1.0 loader */
    VB_VK_GLOBAL_FNS(VB_VK_DECLARE)
    VB_VK_INSTANCE_FNS(VB_VK_DECLARE)
    /* VK_EXT_debug_utils (only with validation) */
    PFN_vkCreateDebugUtilsMessengerEXT vkCreateDebugUtilsMessengerEXT;
    PFN_vkDestroyDebugUtilsMessengerEXT vkDestroyDebugUtilsMessengerEXT;
} vb_vk;

typedef struct vb_vk_device_fns {
    VB_VK_DEVICE_FNS(VB_VK_DECLARE)
} vb_vk_device_fns;
#undef VB_VK_DECLARE

/* Open the loader (once per process) and resolve the global entry points into *vk.
 * Fails with VB_EXIT_DEVICE and a message saying what to install. */
int vb_vk_open_loader(vb_vk *vk, vb_err *e);
/* Resolve the instance-level entry points (debug utils ones only when debug_utils). */
int vb_vk_load_instance(vb_vk *vk, VkInstance inst, int debug_utils, vb_err *e);
int vb_vk_load_device(const vb_vk *vk, VkDevice dev, vb_vk_device_fns *d, vb_err *e);

/* "VK_ERROR_DEVICE_LOST" etc. */
const char *vb_vk_result_name(VkResult r);

#endif
