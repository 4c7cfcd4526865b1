/* Placeholder until the Vulkan backend lands. */
#include "backends/backend.h"

static int no_vulkan(vb_err *e)
{
    return vb_fail(e, VB_EXIT_DEVICE, "the Vulkan backend is not part of this build yet");
}

static int list_devices(vb_device_info **infos, int *n, vb_err *e)
{
    *infos = NULL;
    *n = 0;
    return no_vulkan(e);
}

static int init(const vb_backend_opts *opts, vb_backend **out, vb_err *e)
{
    (void)opts;
    *out = NULL;
    return no_vulkan(e);
}

const vb_backend_iface vb_vulkan_backend = {
    .name = "vulkan",
    .list_devices = list_devices,
    .init = init,
};
