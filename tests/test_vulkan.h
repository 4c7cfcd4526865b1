/* Set-up shared by the Vulkan tests (include from exactly one .c per test binary).
 *
 * - Every backend is opened with the Khronos validation layer (synchronization validation
 *   on): any message makes run()/load() fail, and vb_vk_validation_total() counts those at
 *   shutdown (objects never destroyed), which each test asserts to be 0 at the end.
 * - Without any Vulkan device the tests print that they skipped and exit 0.
 * - Under AddressSanitizer: the Vulkan loader unloads the driver and layers (dlclose) when
 *   the instance goes away, and memory those libraries still referenced from their own
 *   globals then looks leaked, in "<unknown module>" (seen: 128 bytes in Mesa, 16 KB in
 *   the validation layer). vk_test_pin_modules() keeps the Vulkan libraries mapped so LSan
 *   can attribute such blocks, and the suppressions below ignore leaks whose allocation
 *   stack passes through them. Leaks of our own allocations are still reported. */
#ifndef VB_TEST_VULKAN_H
#define VB_TEST_VULKAN_H

#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/vulkan/vk_device.h"
#include "tests/testlib.h"

const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libvulkan_\nleak:libVkLayer_\nleak:libLLVM\nleak:libvulkan.so\n";
}

static int vk_test_pin_one(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    const char *n = info->dlpi_name;
    if (n && (strstr(n, "libvulkan") || strstr(n, "libVkLayer") || strstr(n, "libLLVM")))
        dlopen(n, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    return 0;
}

/* Call once a Vulkan instance exists (the driver and layers are loaded then). */
static void vk_test_pin_modules(void)
{
    dl_iterate_phdr(vk_test_pin_one, NULL);
}

/* Open the default Vulkan device with validation; fp16 variants if fp16 (and the device has them). */
static vb_backend *vk_test_open(int fp16)
{
    vb_backend_opts o = {.device_index = -1, .fp16 = fp16, .validation = 1};
    vb_backend *b = NULL;
    vb_err e = {0};
    int rc = vb_backend_init_named("vulkan", &o, &b, &e);
    CHECKF(rc == 0, "vulkan init (fp16=%d): %s", fp16, e.msg);
    if (!rc)
        vk_test_pin_modules();
    return rc ? NULL : b;
}

/* The first backend of a test: NULL, with *skip set and the reason printed, when this
 * machine has no Vulkan device at all (any other failure is a test failure). Opening a
 * device first, before anything else creates an instance, lets the modules be pinned
 * before the loader ever unloads them. */
static vb_backend *vk_test_open_first(int fp16, int *skip)
{
    vb_backend_opts o = {.device_index = -1, .fp16 = fp16, .validation = 1};
    vb_backend *b = NULL;
    vb_err e = {0};
    *skip = 0;
    if (vb_backend_init_named("vulkan", &o, &b, &e) == 0) {
        vk_test_pin_modules();
        return b;
    }
    vb_device_info *infos = NULL;
    int n = 0;
    vb_err le = {0};
    if (vb_backend_list_devices("vulkan", &infos, &n, &le)) {
        printf("skipped: no Vulkan device (%s)\n", le.msg);
        *skip = 1;
    } else {
        CHECKF(0, "vulkan init failed although %d device(s) exist: %s", n, e.msg);
    }
    free(infos);
    return NULL;
}

static inline int vk_test_uses_fp16(vb_backend *b)
{
    return vb_backend_describe(b)->uses_fp16;
}

#endif
