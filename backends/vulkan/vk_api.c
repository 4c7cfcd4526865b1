#include "backends/vulkan/vk_api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define VB_VK_INSTALL_HINT                                                                     \
    "install the Vulkan loader (Debian/Ubuntu package libvulkan1) and a Vulkan driver "       \
    "(mesa-vulkan-drivers provides llvmpipe, a CPU device, and the AMD/Intel drivers; NVIDIA " \
    "GPUs need the NVIDIA driver's Vulkan ICD)"

/* The loader handle lives for the whole process: drivers keep pointers into it, and
 * dlclose-ing a Vulkan loader while an ICD's threads still run is a known source of
 * crashes at exit. */
static pthread_mutex_t loader_lock = PTHREAD_MUTEX_INITIALIZER;
static void *loader_handle;
static char loader_error[512];

static void *open_loader_locked(void)
{
    if (loader_handle || loader_error[0])
        return loader_handle;
    const char *forced = getenv("VERIBENCH_VULKAN_LOADER");
    const char *names[] = {"libvulkan.so.1", "libvulkan.so"};
    if (forced && *forced) {
        loader_handle = dlopen(forced, RTLD_NOW | RTLD_LOCAL);
        if (!loader_handle)
            snprintf(loader_error, sizeof loader_error, "%s (from $VERIBENCH_VULKAN_LOADER): %s",
                     forced, dlerror());
        return loader_handle;
    }
    for (size_t i = 0; i < VB_ARRAY_LEN(names) && !loader_handle; i++) {
        loader_handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!loader_handle && i == 0)
            snprintf(loader_error, sizeof loader_error, "%s", dlerror());
    }
    if (loader_handle)
        loader_error[0] = 0;
    return loader_handle;
}

int vb_vk_open_loader(vb_vk *vk, vb_err *e)
{
    memset(vk, 0, sizeof *vk);
    pthread_mutex_lock(&loader_lock);
    void *h = open_loader_locked();
    pthread_mutex_unlock(&loader_lock);
    if (!h)
        return vb_fail(e, VB_EXIT_DEVICE, "no Vulkan loader: cannot open %s; " VB_VK_INSTALL_HINT,
                       loader_error);
    /* POSIX allows converting dlsym's void* to a function pointer; go through memcpy so
     * -Wpedantic-style checks stay quiet. */
    void *sym = dlsym(h, "vkGetInstanceProcAddr");
    if (!sym)
        return vb_fail(e, VB_EXIT_DEVICE, "the Vulkan loader has no vkGetInstanceProcAddr; " VB_VK_INSTALL_HINT);
    memcpy(&vk->vkGetInstanceProcAddr, &sym, sizeof sym);
    vk->vkEnumerateInstanceVersion =
        (PFN_vkEnumerateInstanceVersion)vk->vkGetInstanceProcAddr(NULL, "vkEnumerateInstanceVersion");
#define VB_VK_RESOLVE_GLOBAL(name)                                                             \
    if (!(vk->name = (PFN_##name)vk->vkGetInstanceProcAddr(NULL, #name)))                      \
        return vb_fail(e, VB_EXIT_DEVICE, "the Vulkan loader lacks %s; " VB_VK_INSTALL_HINT, #name);
    VB_VK_GLOBAL_FNS(VB_VK_RESOLVE_GLOBAL)
#undef VB_VK_RESOLVE_GLOBAL
    return 0;
}

int vb_vk_load_instance(vb_vk *vk, VkInstance inst, int debug_utils, vb_err *e)
{
#define VB_VK_RESOLVE_INSTANCE(name)                                                           \
    if (!(vk->name = (PFN_##name)vk->vkGetInstanceProcAddr(inst, #name)))                      \
        return vb_fail(e, VB_EXIT_DEVICE, "the Vulkan instance lacks %s (Vulkan 1.1 needed)", #name);
    VB_VK_INSTANCE_FNS(VB_VK_RESOLVE_INSTANCE)
    if (debug_utils) {
        VB_VK_RESOLVE_INSTANCE(vkCreateDebugUtilsMessengerEXT)
        VB_VK_RESOLVE_INSTANCE(vkDestroyDebugUtilsMessengerEXT)
    }
#undef VB_VK_RESOLVE_INSTANCE
    return 0;
}

int vb_vk_load_device(const vb_vk *vk, VkDevice dev, vb_vk_device_fns *d, vb_err *e)
{
#define VB_VK_RESOLVE_DEVICE(name)                                                             \
    if (!(d->name = (PFN_##name)vk->vkGetDeviceProcAddr(dev, #name)))                          \
        return vb_fail(e, VB_EXIT_DEVICE, "the Vulkan device lacks %s", #name);
    VB_VK_DEVICE_FNS(VB_VK_RESOLVE_DEVICE)
#undef VB_VK_RESOLVE_DEVICE
    return 0;
}

const char *vb_vk_result_name(VkResult r)
{
    switch (r) {
#define VB_VK_CASE(x) case x: return #x;
    VB_VK_CASE(VK_SUCCESS)
    VB_VK_CASE(VK_NOT_READY)
    VB_VK_CASE(VK_TIMEOUT)
    VB_VK_CASE(VK_INCOMPLETE)
    VB_VK_CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
    VB_VK_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    VB_VK_CASE(VK_ERROR_INITIALIZATION_FAILED)
    VB_VK_CASE(VK_ERROR_DEVICE_LOST)
    VB_VK_CASE(VK_ERROR_MEMORY_MAP_FAILED)
    VB_VK_CASE(VK_ERROR_LAYER_NOT_PRESENT)
    VB_VK_CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
    VB_VK_CASE(VK_ERROR_FEATURE_NOT_PRESENT)
    VB_VK_CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
    VB_VK_CASE(VK_ERROR_TOO_MANY_OBJECTS)
    VB_VK_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
    VB_VK_CASE(VK_ERROR_FRAGMENTED_POOL)
    VB_VK_CASE(VK_ERROR_UNKNOWN)
    VB_VK_CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
    VB_VK_CASE(VK_ERROR_INVALID_EXTERNAL_HANDLE)
    VB_VK_CASE(VK_ERROR_FRAGMENTATION)
    VB_VK_CASE(VK_PIPELINE_COMPILE_REQUIRED)
#undef VB_VK_CASE
    default:
        return "unknown VkResult";
    }
}
