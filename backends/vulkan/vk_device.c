#include "backends/vulkan/vk_device.h"
#include "core/parse.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "backends/vulkan/vk_shaders.h"

#define VB_VK_DRIVER_HINT                                                                      \
    "install a Vulkan driver: mesa-vulkan-drivers (llvmpipe, a CPU device, plus the AMD and "  \
    "Intel drivers) or the GPU vendor's driver with its Vulkan ICD"

/* VK_KHR_cooperative_matrix postdates the Vulkan headers of Debian 12; only the feature
 * query is needed (value from the Vulkan registry). */
#ifndef VK_KHR_cooperative_matrix
#define VB_STYPE_COOPMAT_FEATURES ((VkStructureType)1000506000)
typedef struct vb_coopmat_features {
    VkStructureType sType;
    void *pNext;
    VkBool32 cooperativeMatrix;
    VkBool32 cooperativeMatrixRobustBufferAccess;
} vb_coopmat_features;
#else
#define VB_STYPE_COOPMAT_FEATURES VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR
typedef VkPhysicalDeviceCooperativeMatrixFeaturesKHR vb_coopmat_features;
#endif

/* Test hook, VERIBENCH_VULKAN_FAULT (see backends/vulkan/README.md):
 *   oom      every device-local allocation fails as out of device memory
 *   oom@N    only the Nth device-local allocation of the process fails
 *   lost     every fence wait reports VK_ERROR_DEVICE_LOST
 *   lost@N   only the Nth fence wait does (N-1 submissions succeed: a device lost mid-run)
 * A lost fence is reported after the work really finished, so the clean-up paths run on a
 * quiet device. Counts are per process. */
int vb_vk_fault(const char *what)
{
    static unsigned counts[2];
    const char *f = getenv("VERIBENCH_VULKAN_FAULT");
    size_t n = strlen(what);
    if (!f || strncmp(f, what, n))
        return 0;
    if (!f[n])
        return 1;
    unsigned *count = &counts[strcmp(what, "oom") == 0];
    int nth;
    return f[n] == '@' && vb_parse_int(f + n + 1, 1, 1 << 30, &nth) == 0 && (int)++*count == nth;
}

/* ---- instance ---------------------------------------------------------------------- */

static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                 VkDebugUtilsMessageTypeFlagsEXT types,
                                                 const VkDebugUtilsMessengerCallbackDataEXT *data,
                                                 void *user)
{
    vb_vk_instance *vi = user;
    /* Validation and performance findings of warning or error severity fail the run; the
     * loader's general messages (which ICDs it skipped) are not about our use of the API. */
    int counts = (severity & (VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                              VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)) &&
                 (types & (VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT));
    if (!counts)
        return VK_FALSE;
    pthread_mutex_lock(&vi->msg_lock);
    if (vi->n_messages++ == 0)
        snprintf(vi->first_message, sizeof vi->first_message, "%s",
                 data && data->pMessage ? data->pMessage : "(no text)");
    pthread_mutex_unlock(&vi->msg_lock);
    if (getenv("VERIBENCH_VULKAN_VERBOSE"))
        fprintf(stderr, "vulkan validation: %s\n", data && data->pMessage ? data->pMessage : "");
    return VK_FALSE;
}

int vb_vk_messages(vb_vk_instance *vi, char *first, size_t n)
{
    pthread_mutex_lock(&vi->msg_lock);
    int count = vi->n_messages;
    if (first && n)
        snprintf(first, n, "%s", vi->first_message);
    pthread_mutex_unlock(&vi->msg_lock);
    return count;
}

static int has_layer(const vb_vk *vk, const char *name)
{
    uint32_t n = 0;
    if (vk->vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || !n)
        return 0;
    VkLayerProperties *props = calloc(n, sizeof *props);
    int found = 0;
    if (props && vk->vkEnumerateInstanceLayerProperties(&n, props) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = !strcmp(props[i].layerName, name);
    free(props);
    return found;
}

static int has_instance_ext(const vb_vk *vk, const char *layer, const char *name)
{
    uint32_t n = 0;
    if (vk->vkEnumerateInstanceExtensionProperties(layer, &n, NULL) != VK_SUCCESS || !n)
        return 0;
    VkExtensionProperties *props = calloc(n, sizeof *props);
    int found = 0;
    if (props && vk->vkEnumerateInstanceExtensionProperties(layer, &n, props) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = !strcmp(props[i].extensionName, name);
    free(props);
    return found;
}

static int instance_create(vb_vk_instance *vi, int validation, vb_err *e);

int vb_vk_instance_create(vb_vk_instance *vi, int validation, vb_err *e)
{
    memset(vi, 0, sizeof *vi);
    pthread_mutex_init(&vi->msg_lock, NULL);
    if (instance_create(vi, validation, e)) {
        vb_vk_instance_destroy(vi);
        return -1;
    }
    return 0;
}

static int instance_create(vb_vk_instance *vi, int validation, vb_err *e)
{
    vb_vk *vk = &vi->vk;
    if (vb_vk_open_loader(vk, e))
        return -1;
    uint32_t loader_version = VK_API_VERSION_1_0;
    if (vk->vkEnumerateInstanceVersion)
        vk->vkEnumerateInstanceVersion(&loader_version);
    if (loader_version < VK_API_VERSION_1_1)
        return vb_fail(e, VB_EXIT_DEVICE, "the Vulkan loader supports only Vulkan 1.0; veribench needs 1.1 "
                                          "(update the loader, Debian/Ubuntu package libvulkan1)");
    vi->api_version = loader_version < VK_API_VERSION_1_3 ? loader_version : VK_API_VERSION_1_3;

    const char *layers[1], *exts[3];
    uint32_t n_layers = 0, n_exts = 0;
    VkInstanceCreateFlags flags = 0;
    if (has_instance_ext(vk, NULL, "VK_KHR_portability_enumeration")) {
        /* lists portability devices (MoltenVK and the like) too */
        exts[n_exts++] = "VK_KHR_portability_enumeration";
        flags |= 0x00000001; /* VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR */
    }
    VkDebugUtilsMessengerCreateInfoEXT messenger_info = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_message,
        .pUserData = vi,
    };
    VkValidationFeatureEnableEXT sync_validation = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
    VkValidationFeaturesEXT features = {
        .sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
        .enabledValidationFeatureCount = 1,
        .pEnabledValidationFeatures = &sync_validation,
    };
    const void *chain = NULL;
    if (validation) {
        const char *layer = "VK_LAYER_KHRONOS_validation";
        if (!has_layer(vk, layer))
            return vb_fail(e, VB_EXIT_DEVICE, "validation requested but the Vulkan layer %s is not installed "
                                              "(Debian/Ubuntu package vulkan-validationlayers)", layer);
        if (!has_instance_ext(vk, NULL, VK_EXT_DEBUG_UTILS_EXTENSION_NAME) &&
            !has_instance_ext(vk, layer, VK_EXT_DEBUG_UTILS_EXTENSION_NAME))
            return vb_fail(e, VB_EXIT_DEVICE, "validation requested but %s is not available",
                           VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
        layers[n_layers++] = layer;
        exts[n_exts++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
        chain = &messenger_info;
        if (has_instance_ext(vk, layer, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME)) {
            exts[n_exts++] = VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME;
            features.pNext = &messenger_info;
            chain = &features;
        }
    }
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "veribench",
        .pEngineName = "veribench",
        .apiVersion = vi->api_version,
    };
    VkInstanceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = chain,
        .flags = flags,
        .pApplicationInfo = &app,
        .enabledLayerCount = n_layers,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = n_exts,
        .ppEnabledExtensionNames = exts,
    };
    VkResult r = vk->vkCreateInstance(&info, NULL, &vi->instance);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
        return vb_fail(e, VB_EXIT_DEVICE, "no Vulkan driver found (vkCreateInstance: %s); " VB_VK_DRIVER_HINT,
                       vb_vk_result_name(r));
    if (r != VK_SUCCESS)
        return vb_fail(e, VB_EXIT_DEVICE, "vkCreateInstance failed: %s", vb_vk_result_name(r));
    if (vb_vk_load_instance(vk, vi->instance, validation, e))
        return -1;
    if (validation) {
        r = vk->vkCreateDebugUtilsMessengerEXT(vi->instance, &messenger_info, NULL, &vi->messenger);
        if (r != VK_SUCCESS) {
            vi->messenger = VK_NULL_HANDLE;
            return vb_fail(e, VB_EXIT_DEVICE, "vkCreateDebugUtilsMessengerEXT failed: %s", vb_vk_result_name(r));
        }
        vi->validation = 1;
    }
    return 0;
}

static pthread_mutex_t total_lock = PTHREAD_MUTEX_INITIALIZER;
static int total_messages;

void vb_vk_instance_destroy(vb_vk_instance *vi)
{
    if (vi->instance) {
        int before = vb_vk_messages(vi, NULL, 0);
        if (vi->messenger)
            vi->vk.vkDestroyDebugUtilsMessengerEXT(vi->instance, vi->messenger, NULL);
        /* Messages during vkDestroyInstance still reach on_message through the messenger
         * chained at creation: the object tracker's report of objects never destroyed. */
        vi->vk.vkDestroyInstance(vi->instance, NULL);
        char first[768];
        int n = vb_vk_messages(vi, first, sizeof first);
        if (n > before)
            fprintf(stderr, "%s: vulkan validation: %d message%s while shutting down\n", vb_progname, n - before,
                    n - before == 1 ? "" : "s");
        pthread_mutex_lock(&total_lock);
        total_messages += n;
        pthread_mutex_unlock(&total_lock);
    }
    vi->instance = NULL;
    vi->messenger = VK_NULL_HANDLE;
    pthread_mutex_destroy(&vi->msg_lock);
}

int vb_vk_validation_total(void)
{
    pthread_mutex_lock(&total_lock);
    int n = total_messages;
    pthread_mutex_unlock(&total_lock);
    return n;
}

int vb_vk_physical_devices(vb_vk_instance *vi, VkPhysicalDevice **out, uint32_t *n, vb_err *e)
{
    *out = NULL;
    *n = 0;
    uint32_t count = 0;
    VkResult r = vi->vk.vkEnumeratePhysicalDevices(vi->instance, &count, NULL);
    if (r != VK_SUCCESS)
        return vb_fail(e, VB_EXIT_DEVICE, "vkEnumeratePhysicalDevices failed: %s", vb_vk_result_name(r));
    if (!count)
        return vb_fail(e, VB_EXIT_DEVICE, "no Vulkan device found; " VB_VK_DRIVER_HINT);
    VkPhysicalDevice *pds = vb_calloc(count, sizeof *pds, e);
    if (!pds)
        return -1;
    r = vi->vk.vkEnumeratePhysicalDevices(vi->instance, &count, pds);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
        free(pds);
        return vb_fail(e, VB_EXIT_DEVICE, "vkEnumeratePhysicalDevices failed: %s", vb_vk_result_name(r));
    }
    *out = pds;
    *n = count;
    return 0;
}

/* ---- device queries ----------------------------------------------------------------- */

static const char *vendor_name(uint32_t id)
{
    switch (id) {
    case 0x10DE: return "NVIDIA";
    case 0x1002: return "AMD";
    case 0x1022: return "AMD";
    case 0x8086: return "Intel";
    case 0x13B5: return "Arm";
    case 0x5143: return "Qualcomm";
    case 0x1010: return "Imagination";
    case 0x106B: return "Apple";
    case 0x14E4: return "Broadcom";
    case 0x19E5: return "Huawei";
    case 0x10005: return "Mesa";
    case 0x10002: return "VeriSilicon";
    default: return NULL;
    }
}

static const char *type_name(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete-gpu";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated-gpu";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual-gpu";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

static int device_has_ext(vb_vk_instance *vi, VkPhysicalDevice pd, const char *name)
{
    uint32_t n = 0;
    if (vi->vk.vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL) != VK_SUCCESS || !n)
        return 0;
    VkExtensionProperties *props = calloc(n, sizeof *props);
    int found = 0;
    if (props && vi->vk.vkEnumerateDeviceExtensionProperties(pd, NULL, &n, props) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = !strcmp(props[i].extensionName, name);
    free(props);
    return found;
}

/* Driver versions are vendor-encoded: NVIDIA uses 10.8.8.6 bits, the rest (Mesa, AMD's
 * open drivers, Arm...) the Vulkan version encoding. */
static void driver_version(uint32_t vendor, uint32_t v, char *out, size_t n)
{
    if (vendor == 0x10DE)
        snprintf(out, n, "%u.%u.%u.%u", (v >> 22) & 0x3ff, (v >> 14) & 0xff, (v >> 6) & 0xff, v & 0x3f);
    else
        snprintf(out, n, "%u.%u.%u", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v),
                 VK_API_VERSION_PATCH(v));
}

static void make_slug(int index, const char *name, char *out, size_t n)
{
    char buf[64];
    size_t j = 0;
    int dash = 0;
    for (const char *p = name; *p && j + 1 < 40; p++) {
        if (isalnum((unsigned char)*p)) {
            buf[j++] = (char)tolower((unsigned char)*p);
            dash = 0;
        } else if (!dash && j > 0) {
            buf[j++] = '-';
            dash = 1;
        }
    }
    while (j > 0 && buf[j - 1] == '-')
        j--;
    buf[j] = 0;
    snprintf(out, n, "vk%d-%s", index, buf);
}

void vb_vk_query(vb_vk_instance *vi, VkPhysicalDevice pd, int index, vb_device_info *info,
                 vb_vk_caps *caps)
{
    const vb_vk *vk = &vi->vk;
    memset(info, 0, sizeof *info);
    memset(caps, 0, sizeof *caps);
    VkPhysicalDeviceProperties base;
    vk->vkGetPhysicalDeviceProperties(pd, &base);
    caps->api_version = base.apiVersion;
    caps->type = base.deviceType;
    caps->limits = base.limits;
    caps->vendor_id = base.vendorID;
    caps->device_id = base.deviceID;
    caps->driver_version = base.driverVersion;
    memcpy(caps->cache_uuid, base.pipelineCacheUUID, VK_UUID_SIZE);
    vk->vkGetPhysicalDeviceMemoryProperties(pd, &caps->memory);
    const int v11 = base.apiVersion >= VK_API_VERSION_1_1;
    const int v12 = base.apiVersion >= VK_API_VERSION_1_2;
    const int v13 = base.apiVersion >= VK_API_VERSION_1_3;
    caps->ext_float16_int8 = !v12 && device_has_ext(vi, pd, "VK_KHR_shader_float16_int8");
    caps->ext_int_dot = !v13 && device_has_ext(vi, pd, "VK_KHR_shader_integer_dot_product");
    const int has_driver_props = v12 || device_has_ext(vi, pd, "VK_KHR_driver_properties");
    const int has_coopmat = device_has_ext(vi, pd, "VK_KHR_cooperative_matrix");

    VkPhysicalDeviceSubgroupProperties subgroup = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceMaintenance3Properties maint3 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceDriverProperties driver = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceProperties2 props2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    VkPhysicalDevice16BitStorageFeatures f16storage = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceShaderFloat16Int8Features f16int8 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDeviceShaderIntegerDotProductFeatures intdot = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES};
    vb_coopmat_features coopmat = {.sType = VB_STYPE_COOPMAT_FEATURES};
    VkPhysicalDeviceFeatures2 feats2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    if (v11) {
        /* Structures are chained only where the device knows them (its version or an
         * advertised extension); unknown ones are undefined behaviour for old drivers. */
        subgroup.pNext = &maint3;
        props2.pNext = &subgroup;
        if (has_driver_props) {
            driver.pNext = props2.pNext;
            props2.pNext = &driver;
        }
        vk->vkGetPhysicalDeviceProperties2(pd, &props2);
        feats2.pNext = &f16storage;
        if (v12 || caps->ext_float16_int8) {
            f16int8.pNext = feats2.pNext;
            feats2.pNext = &f16int8;
        }
        if (v13 || caps->ext_int_dot) {
            intdot.pNext = feats2.pNext;
            feats2.pNext = &intdot;
        }
        if (has_coopmat) {
            coopmat.pNext = feats2.pNext;
            feats2.pNext = &coopmat;
        }
        vk->vkGetPhysicalDeviceFeatures2(pd, &feats2);
        caps->float64 = feats2.features.shaderFloat64;
        caps->max_allocation = maint3.maxMemoryAllocationSize;
        caps->subgroup_size = subgroup.subgroupSize;
        const VkSubgroupFeatureFlags bcast = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_BALLOT_BIT;
        caps->subgroup_broadcast = (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                                   (subgroup.supportedOperations & bcast) == bcast;
    }
    caps->storage16 = f16storage.storageBuffer16BitAccess;
    caps->float16 = f16int8.shaderFloat16;
    caps->int8 = f16int8.shaderInt8;
    caps->int_dot = intdot.shaderIntegerDotProduct;
    caps->coopmat = has_coopmat && coopmat.cooperativeMatrix;
    if (!caps->max_allocation)
        caps->max_allocation = (VkDeviceSize)1 << 30; /* the minimum any device must allow */

    uint32_t n_fam = 0;
    vk->vkGetPhysicalDeviceQueueFamilyProperties(pd, &n_fam, NULL);
    VkQueueFamilyProperties *fams = calloc(n_fam ? n_fam : 1, sizeof *fams);
    caps->queue_family = -1;
    if (fams) {
        vk->vkGetPhysicalDeviceQueueFamilyProperties(pd, &n_fam, fams);
        for (uint32_t i = 0; i < n_fam; i++)
            if (fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
                caps->queue_family = (int)i;
                caps->timestamp_valid_bits = fams[i].timestampValidBits;
                break;
            }
        free(fams);
    }
    caps->timestamp_period = base.limits.timestampPeriod;

    info->index = index;
    snprintf(info->backend, sizeof info->backend, "vulkan");
    snprintf(info->name, sizeof info->name, "%s", base.deviceName);
    make_slug(index, base.deviceName, info->slug, sizeof info->slug);
    const char *vendor = vendor_name(base.vendorID);
    if (vendor)
        snprintf(info->vendor, sizeof info->vendor, "%s", vendor);
    else
        snprintf(info->vendor, sizeof info->vendor, "0x%04x", base.vendorID);
    snprintf(info->type, sizeof info->type, "%s", type_name(base.deviceType));
    char version[48];
    driver_version(base.vendorID, base.driverVersion, version, sizeof version);
    if (has_driver_props && v11)
        snprintf(info->driver, sizeof info->driver, "%s %s (%s)", driver.driverName, version, driver.driverInfo);
    else
        snprintf(info->driver, sizeof info->driver, "%s", version);
    snprintf(info->api_version, sizeof info->api_version, "%u.%u.%u", VK_API_VERSION_MAJOR(base.apiVersion),
             VK_API_VERSION_MINOR(base.apiVersion), VK_API_VERSION_PATCH(base.apiVersion));
    info->subgroup_size = (int)caps->subgroup_size;
    info->fp16_storage = caps->storage16;
    info->fp64 = caps->float64;
    info->fp16_arith = caps->float16;
    info->int8_arith = caps->int8;
    info->int_dot = caps->int_dot;
    info->coopmat = caps->coopmat;
}

int vb_vk_default_device(const vb_vk_caps *caps, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (caps[i].type == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU)
            return (int)i;
    for (uint32_t i = 0; i < n; i++)
        if (caps[i].type == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU)
            return (int)i;
    return 0;
}

/* ---- logical device ----------------------------------------------------------------- */

int vb_vk_fail(vb_vk_ctx *c, VkResult r, vb_err *e, const char *what)
{
    if (r == VK_ERROR_DEVICE_LOST && c) {
        c->broken = 1;
        snprintf(c->broken_why, sizeof c->broken_why, "the device was lost (%s)", what);
    }
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY) {
        vb_fail(e, VB_EXIT_DEVICE, "%s: %s (%s memory exhausted)", what, vb_vk_result_name(r),
                r == VK_ERROR_OUT_OF_DEVICE_MEMORY ? "device" : "host");
        e->too_large = 1;
        return -1;
    }
    return vb_fail(e, VB_EXIT_DEVICE, "%s failed: %s", what, vb_vk_result_name(r));
}

static double env_timeout(void)
{
    const char *s = getenv("VERIBENCH_VULKAN_TIMEOUT");
    double t = 0;
    if (s && *s && vb_parse_double(s, 0, 86400, &t))
        fprintf(stderr, "veribench: VERIBENCH_VULKAN_TIMEOUT='%s' ignored: expected seconds in 0..86400\n", s);
    return t;
}

static int pick_device(vb_vk_ctx *c, int index, vb_err *e)
{
    VkPhysicalDevice *pds;
    uint32_t n;
    if (vb_vk_physical_devices(&c->inst, &pds, &n, e))
        return -1;
    vb_vk_caps *caps = vb_calloc(n, sizeof *caps, e);
    vb_device_info *infos = vb_calloc(n, sizeof *infos, e);
    int rc = -1;
    if (!caps || !infos)
        goto out;
    for (uint32_t i = 0; i < n; i++)
        vb_vk_query(&c->inst, pds[i], (int)i, &infos[i], &caps[i]);
    if (index >= (int)n) {
        vb_fail(e, VB_EXIT_DEVICE, "no Vulkan device %d: this machine has %u (0..%u; see 'veribench devices')",
                index, n, n - 1);
        goto out;
    }
    if (index < 0)
        index = vb_vk_default_device(caps, n);
    c->phys = pds[index];
    c->caps = caps[index];
    c->info = infos[index];
    if (c->caps.api_version < VK_API_VERSION_1_1) {
        vb_fail(e, VB_EXIT_DEVICE, "Vulkan device %d (%s) supports only Vulkan %s; veribench needs 1.1",
                index, c->info.name, c->info.api_version);
        goto out;
    }
    if (c->caps.queue_family < 0) {
        vb_fail(e, VB_EXIT_DEVICE, "Vulkan device %d (%s) has no compute queue", index, c->info.name);
        goto out;
    }
    rc = 0;
out:
    free(pds);
    free(caps);
    free(infos);
    return rc;
}

static int create_layouts(vb_vk_ctx *c, vb_err *e)
{
    VkDescriptorSetLayoutBinding bindings[VB_VK_BINDINGS];
    for (int i = 0; i < VB_VK_BINDINGS; i++)
        bindings[i] = (VkDescriptorSetLayoutBinding){
            .binding = (uint32_t)i,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    VkDescriptorSetLayoutCreateInfo sl = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = VB_VK_BINDINGS,
        .pBindings = bindings,
    };
    VkResult r = c->d.vkCreateDescriptorSetLayout(c->dev, &sl, NULL, &c->set_layout);
    if (r != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkCreateDescriptorSetLayout");
    VkPushConstantRange push = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = VB_VK_PUSH_BYTES};
    VkPipelineLayoutCreateInfo pl = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &c->set_layout,
        .pushConstantRangeCount = 1,
        .pPushConstantRanges = &push,
    };
    r = c->d.vkCreatePipelineLayout(c->dev, &pl, NULL, &c->pipe_layout);
    if (r != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkCreatePipelineLayout");
    return 0;
}

int vb_vk_ctx_create(vb_vk_ctx *c, int index, int use_fp16, int validation, vb_err *e)
{
    memset(c, 0, sizeof *c);
    c->timeout_s = env_timeout();
    if (vb_vk_instance_create(&c->inst, validation, e))
        return -1;
    if (pick_device(c, index, e))
        goto fail;
    const int fp16 = use_fp16 && c->caps.storage16 && c->caps.float16;
    c->info.uses_fp16 = fp16;
    const char *no_fp64 = getenv("VERIBENCH_VULKAN_NO_FP64");
    c->uses_fp64 = c->caps.float64 && !(no_fp64 && *no_fp64 && strcmp(no_fp64, "0"));
    c->info.fp64 = c->uses_fp64;

    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = (uint32_t)c->caps.queue_family,
        .queueCount = 1,
        .pQueuePriorities = &priority,
    };
    VkPhysicalDeviceShaderFloat16Int8Features f16int8 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES,
        .shaderFloat16 = VK_TRUE,
    };
    VkPhysicalDevice16BitStorageFeatures storage16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
        .pNext = &f16int8,
        .storageBuffer16BitAccess = VK_TRUE,
    };
    VkPhysicalDeviceFeatures2 features = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
        .pNext = fp16 ? &storage16 : NULL,
        .features = {.shaderFloat64 = c->uses_fp64 ? VK_TRUE : VK_FALSE},
    };
    const char *exts[2];
    uint32_t n_exts = 0;
    if (fp16 && c->caps.ext_float16_int8)
        exts[n_exts++] = "VK_KHR_shader_float16_int8";
    VkDeviceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = &features,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &queue,
        .enabledExtensionCount = n_exts,
        .ppEnabledExtensionNames = exts,
    };
    VkResult r = c->inst.vk.vkCreateDevice(c->phys, &info, NULL, &c->dev);
    if (r != VK_SUCCESS) {
        vb_vk_fail(c, r, e, "vkCreateDevice");
        goto fail;
    }
    if (vb_vk_load_device(&c->inst.vk, c->dev, &c->d, e))
        goto fail;
    c->d.vkGetDeviceQueue(c->dev, (uint32_t)c->caps.queue_family, 0, &c->queue);
    VkCommandPoolCreateInfo pool = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = (uint32_t)c->caps.queue_family,
    };
    if ((r = c->d.vkCreateCommandPool(c->dev, &pool, NULL, &c->cmd_pool)) != VK_SUCCESS) {
        vb_vk_fail(c, r, e, "vkCreateCommandPool");
        goto fail;
    }
    VkFenceCreateInfo fence = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if ((r = c->d.vkCreateFence(c->dev, &fence, NULL, &c->fence)) != VK_SUCCESS) {
        vb_vk_fail(c, r, e, "vkCreateFence");
        goto fail;
    }
    if (create_layouts(c, e))
        goto fail;
    vb_vk_cache_open(c);
    return 0;
fail:
    vb_vk_ctx_destroy(c);
    return -1;
}

int vb_vk_settle(vb_vk_ctx *c)
{
    if (c->broken != 2)
        return 0;
    /* A late finish is the common case (a CPU device far slower than the limit): give the
     * submission a grace period, then the objects can be destroyed as usual. */
    if (c->d.vkWaitForFences(c->dev, 1, &c->fence, VK_TRUE, (uint64_t)60e9) == VK_SUCCESS)
        c->broken = 1;
    return c->broken == 2 ? -1 : 0;
}

void vb_vk_ctx_destroy(vb_vk_ctx *c)
{
    if (c->dev) {
        /* A hung device (still busy after the grace period) may still be using these
         * objects; destroying them would be undefined, so they are left to process exit.
         * A lost device is done and its objects may be destroyed. */
        if (vb_vk_settle(c))
            return;
        c->d.vkDeviceWaitIdle(c->dev);
        vb_vk_cache_save(c);
        if (c->pipeline_cache)
            c->d.vkDestroyPipelineCache(c->dev, c->pipeline_cache, NULL);
        for (int i = 0; i < c->n_pipelines; i++)
            c->d.vkDestroyPipeline(c->dev, c->pipelines[i].pipeline, NULL);
        if (c->pipe_layout)
            c->d.vkDestroyPipelineLayout(c->dev, c->pipe_layout, NULL);
        if (c->set_layout)
            c->d.vkDestroyDescriptorSetLayout(c->dev, c->set_layout, NULL);
        if (c->fence)
            c->d.vkDestroyFence(c->dev, c->fence, NULL);
        if (c->cmd_pool)
            c->d.vkDestroyCommandPool(c->dev, c->cmd_pool, NULL);
        c->d.vkDestroyDevice(c->dev, NULL);
        c->dev = NULL;
    }
    vb_vk_instance_destroy(&c->inst);
}

/* ---- buffers ------------------------------------------------------------------------ */

static int find_memory_type(const VkPhysicalDeviceMemoryProperties *mp, uint32_t bits,
                            VkMemoryPropertyFlags need, VkMemoryPropertyFlags want)
{
    int fallback = -1;
    for (uint32_t i = 0; i < mp->memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = mp->memoryTypes[i].propertyFlags;
        if (!(bits & (1u << i)) || (f & need) != need)
            continue;
        if ((f & want) == want)
            return (int)i;
        if (fallback < 0)
            fallback = (int)i;
    }
    return fallback;
}

int vb_vk_buffer_create(vb_vk_ctx *c, VkDeviceSize size, int host_visible, const char *what,
                        vb_vk_buffer *b, vb_err *e)
{
    memset(b, 0, sizeof *b);
    if (size < 16)
        size = 16;
    const double mib = (double)size / (1024.0 * 1024.0);
    if (size > c->caps.max_allocation)
        return vb_fail(e, VB_EXIT_DEVICE, "%s needs %.1f MiB in one allocation; %s allows at most %.1f MiB",
                       what, mib, c->info.name, (double)c->caps.max_allocation / (1024.0 * 1024.0));
    VkBufferCreateInfo bi = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                 VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VkResult r = c->d.vkCreateBuffer(c->dev, &bi, NULL, &b->buf);
    if (r != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkCreateBuffer");
    VkMemoryRequirements req;
    c->d.vkGetBufferMemoryRequirements(c->dev, b->buf, &req);
    VkMemoryPropertyFlags need = host_visible
                                     ? VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
                                     : 0;
    VkMemoryPropertyFlags want = host_visible ? VK_MEMORY_PROPERTY_HOST_CACHED_BIT
                                              : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    int type = find_memory_type(&c->caps.memory, req.memoryTypeBits, need, want);
    if (type < 0) {
        vb_vk_buffer_destroy(c, b);
        return vb_fail(e, VB_EXIT_DEVICE, "%s: %s has no suitable memory type", what, c->info.name);
    }
    VkMemoryAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = (uint32_t)type,
    };
    r = !host_visible && vb_vk_fault("oom") ? VK_ERROR_OUT_OF_DEVICE_MEMORY
                                         : c->d.vkAllocateMemory(c->dev, &ai, NULL, &b->mem);
    if (r != VK_SUCCESS) {
        vb_vk_buffer_destroy(c, b);
        char ctx[160];
        snprintf(ctx, sizeof ctx, "allocating %.1f MiB of %s memory for %s", mib,
                 host_visible ? "host-visible" : "device", what);
        return vb_vk_fail(c, r, e, ctx);
    }
    if ((r = c->d.vkBindBufferMemory(c->dev, b->buf, b->mem, 0)) != VK_SUCCESS) {
        vb_vk_buffer_destroy(c, b);
        return vb_vk_fail(c, r, e, "vkBindBufferMemory");
    }
    if (host_visible && (r = c->d.vkMapMemory(c->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map)) != VK_SUCCESS) {
        vb_vk_buffer_destroy(c, b);
        return vb_vk_fail(c, r, e, "vkMapMemory");
    }
    b->size = size;
    return 0;
}

void vb_vk_buffer_destroy(vb_vk_ctx *c, vb_vk_buffer *b)
{
    if (b->map)
        c->d.vkUnmapMemory(c->dev, b->mem);
    if (b->buf)
        c->d.vkDestroyBuffer(c->dev, b->buf, NULL);
    if (b->mem)
        c->d.vkFreeMemory(c->dev, b->mem, NULL);
    memset(b, 0, sizeof *b);
}

/* ---- pipelines ---------------------------------------------------------------------- */

static const vb_spirv *find_spirv(const char *name)
{
    for (size_t i = 0; i < vb_spirv_count; i++)
        if (!strcmp(vb_spirv_table[i].name, name))
            return &vb_spirv_table[i];
    return NULL;
}

int vb_vk_pipeline_get(vb_vk_ctx *c, const char *shader, const uint32_t *spec, int n_spec,
                       VkPipeline *out, vb_err *e)
{
    for (int i = 0; i < c->n_pipelines; i++) {
        vb_vk_pipeline *p = &c->pipelines[i];
        if (!strcmp(p->shader, shader) && p->n_spec == n_spec &&
            !memcmp(p->spec, spec, (size_t)n_spec * sizeof *spec)) {
            *out = p->pipeline;
            return 0;
        }
    }
    const vb_spirv *sp = find_spirv(shader);
    if (!sp)
        return vb_fail(e, VB_EXIT_IO, "internal error: no shader variant '%s' in this build", shader);
    if (c->n_pipelines >= VB_VK_MAX_PIPELINES || n_spec > VB_VK_MAX_SPEC)
        return vb_fail(e, VB_EXIT_IO, "internal error: too many pipeline variants");
    VkShaderModuleCreateInfo mi = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = sp->size,
        .pCode = sp->code,
    };
    VkShaderModule module;
    VkResult r = c->d.vkCreateShaderModule(c->dev, &mi, NULL, &module);
    if (r != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkCreateShaderModule");
    VkSpecializationMapEntry entries[VB_VK_MAX_SPEC];
    for (int i = 0; i < n_spec; i++)
        entries[i] = (VkSpecializationMapEntry){.constantID = (uint32_t)i, .offset = (uint32_t)(4 * i), .size = 4};
    VkSpecializationInfo si = {
        .mapEntryCount = (uint32_t)n_spec,
        .pMapEntries = entries,
        .dataSize = (size_t)n_spec * 4,
        .pData = spec,
    };
    VkComputePipelineCreateInfo pi = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
            .stage = VK_SHADER_STAGE_COMPUTE_BIT,
            .module = module,
            .pName = "main",
            .pSpecializationInfo = n_spec ? &si : NULL,
        },
        .layout = c->pipe_layout,
    };
    VkPipeline pipeline;
    r = c->d.vkCreateComputePipelines(c->dev, c->pipeline_cache, 1, &pi, NULL, &pipeline);
    c->pipelines_created += r == VK_SUCCESS;
    c->d.vkDestroyShaderModule(c->dev, module, NULL);
    if (r != VK_SUCCESS) {
        char what[128];
        snprintf(what, sizeof what, "creating the compute pipeline for %s", shader);
        return vb_vk_fail(c, r, e, what);
    }
    vb_vk_pipeline *p = &c->pipelines[c->n_pipelines++];
    p->shader = sp->name;
    memcpy(p->spec, spec, (size_t)n_spec * sizeof *spec);
    p->n_spec = n_spec;
    p->pipeline = pipeline;
    *out = pipeline;
    return 0;
}

/* ---- submission --------------------------------------------------------------------- */

int vb_vk_submit_wait(vb_vk_ctx *c, VkCommandBuffer cb, double timeout_s, vb_err *e)
{
    if (c->timeout_s > 0)
        timeout_s = c->timeout_s;
    if (c->broken)
        return vb_fail(e, VB_EXIT_DEVICE, "Vulkan device %s is unusable: %s", c->info.name, c->broken_why);
    VkResult r = c->d.vkResetFences(c->dev, 1, &c->fence);
    if (r != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkResetFences");
    VkSubmitInfo si = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &cb,
    };
    if ((r = c->d.vkQueueSubmit(c->queue, 1, &si, c->fence)) != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "vkQueueSubmit");
    uint64_t ns = (uint64_t)(timeout_s * 1e9);
    r = c->d.vkWaitForFences(c->dev, 1, &c->fence, VK_TRUE, ns);
    if (r == VK_SUCCESS && vb_vk_fault("lost"))
        r = VK_ERROR_DEVICE_LOST;
    if (r == VK_TIMEOUT) {
        c->broken = 2;
        snprintf(c->broken_why, sizeof c->broken_why, "a submission did not finish within %g s", timeout_s);
        return vb_fail(e, VB_EXIT_DEVICE,
                       "Vulkan device %s did not finish its work within %g s (hung, or far too slow for "
                       "this batch; $VERIBENCH_VULKAN_TIMEOUT sets the limit in seconds)",
                       c->info.name, timeout_s);
    }
    if (r != VK_SUCCESS)
        return vb_vk_fail(c, r, e, "waiting for the device (vkWaitForFences)");
    return 0;
}

int vb_vk_check_messages(vb_vk_ctx *c, vb_err *e)
{
    if (!c->inst.validation)
        return 0;
    char first[768];
    int n = vb_vk_messages(&c->inst, first, sizeof first);
    if (n)
        return vb_fail(e, VB_EXIT_DEVICE, "the Vulkan validation layer reported %d message%s; first: %s", n,
                       n == 1 ? "" : "s", first);
    return 0;
}
