#include "backends/backend.h"

#include <stdlib.h>
#include <string.h>

const vb_backend_iface *vb_backend_find(const char *name)
{
    if (!strcmp(name, vb_cpu_backend.name))
        return &vb_cpu_backend;
    if (!strcmp(name, vb_vulkan_backend.name))
        return &vb_vulkan_backend;
    return NULL;
}

int vb_backend_parse_spec(const char *text, vb_backend_spec *spec, vb_err *e)
{
    memset(spec, 0, sizeof *spec);
    spec->opts.device_index = -1;
    if (strlen(text) >= sizeof spec->text)
        return vb_fail(e, VB_EXIT_USAGE, "backend '%s': name too long", text);
    snprintf(spec->text, sizeof spec->text, "%s", text);
    char name[64];
    snprintf(name, sizeof name, "%s", text);
    char *colon = strchr(name, ':');
    const char *arg = NULL;
    if (colon) {
        *colon = 0;
        arg = colon + 1;
    }
    spec->iface = vb_backend_find(name);
    if (!spec->iface)
        return vb_fail(e, VB_EXIT_USAGE, "unknown backend '%s' (expected cpu, cpu:ref, vulkan or vulkan:N)", text);
    if (!arg)
        return 0;
    if (!strcmp(name, "cpu")) {
        if (strcmp(arg, "ref"))
            return vb_fail(e, VB_EXIT_USAGE, "backend '%s': the cpu backend takes only ':ref'", text);
        spec->opts.reference = 1;
        return 0;
    }
    char *end;
    long idx = strtol(arg, &end, 10);
    if (!*arg || *end || idx < 0 || idx > 1000)
        return vb_fail(e, VB_EXIT_USAGE, "backend '%s': expected a device index after ':'", text);
    spec->opts.device_index = (int)idx;
    return 0;
}
