/* The device's VkPipelineCache kept on disk between processes (vk_device.h says where and
 * why). The file is ours around the driver's data:
 *     "VBPCACHE1\n"                      magic and version (10 bytes)
 *     64 lowercase hex digits + "\n"     SHA-256 of the driver's data (65 bytes)
 *     the driver's vkGetPipelineCacheData bytes
 * The driver's data starts with VkPipelineCacheHeaderVersionOne (header size, version 1,
 * vendorID, deviceID, pipelineCacheUUID); the file name and this header must both match the
 * device, so one driver's cache is never handed to another: drivers are meant to reject
 * foreign data, but not all do so gracefully. Writing is atomic (core/files.h), so processes
 * sharing the cache never read half a file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/vulkan/vk_device.h"
#include "core/files.h"

#define CACHE_MAGIC "VBPCACHE1\n"
#define CACHE_MAGIC_LEN 10
#define CACHE_PREFIX (CACHE_MAGIC_LEN + 65)
#define CACHE_MAX_BYTES ((size_t)256 << 20)

/* The file for this device, or "" when the cache is off or no place is known. */
static void cache_path(const vb_vk_ctx *c, char *path, size_t n)
{
    const char *env = getenv("VERIBENCH_PIPELINE_CACHE");
    path[0] = 0;
    if (env && *env) {
        if (strcmp(env, "off") != 0)
            snprintf(path, n, "%s", env);
        return;
    }
    char dir[900];
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s/veribench", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.cache/veribench", home);
    else
        return;
    char uuid[2 * VK_UUID_SIZE + 1];
    for (unsigned i = 0; i < VK_UUID_SIZE; i++)
        snprintf(uuid + 2 * i, 3, "%02x", c->caps.cache_uuid[i]);
    snprintf(path, n, "%s/pipelines-%04x-%04x-%08x-%s.bin", dir, c->caps.vendor_id, c->caps.device_id,
             c->caps.driver_version, uuid);
}

static uint32_t read_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* NULL when data (n bytes, the whole file) is a sound cache of this device; else why not. */
static const char *check_file(const vb_vk_ctx *c, const uint8_t *data, size_t n)
{
    if (n < CACHE_PREFIX || memcmp(data, CACHE_MAGIC, CACHE_MAGIC_LEN) != 0)
        return "not a veribench pipeline cache";
    char hex[65];
    vb_sha256_hex(data + CACHE_PREFIX, n - CACHE_PREFIX, hex);
    if (memcmp(hex, data + CACHE_MAGIC_LEN, 64) != 0 || data[CACHE_PREFIX - 1] != '\n')
        return "checksum mismatch (truncated or damaged)";
    const uint8_t *h = data + CACHE_PREFIX;
    size_t len = n - CACHE_PREFIX;
    if (len < 16 + VK_UUID_SIZE || read_u32(h) < 16 + VK_UUID_SIZE || read_u32(h) > len ||
        read_u32(h + 4) != VK_PIPELINE_CACHE_HEADER_VERSION_ONE)
        return "the driver's header is malformed";
    if (read_u32(h + 8) != c->caps.vendor_id || read_u32(h + 12) != c->caps.device_id ||
        memcmp(h + 16, c->caps.cache_uuid, VK_UUID_SIZE) != 0)
        return "made by another device or driver";
    return NULL;
}

void vb_vk_cache_open(vb_vk_ctx *c)
{
    cache_path(c, c->pipeline_cache_path, sizeof c->pipeline_cache_path);
    uint8_t *data = NULL;
    size_t n = 0;
    const char *why = NULL;
    vb_err e = {0}; /* outlives the block: why may point into it */
    /* a missing file is the first run: no note */
    if (c->pipeline_cache_path[0] && access(c->pipeline_cache_path, F_OK) == 0) {
        if (vb_read_file(c->pipeline_cache_path, CACHE_MAX_BYTES, &data, &n, &e))
            why = e.msg;
        else
            why = check_file(c, data, n);
    }
    if (why)
        vb_log("note: pipeline cache %s not used: %s; starting an empty one", c->pipeline_cache_path, why);
    VkPipelineCacheCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
        .initialDataSize = data && !why ? n - CACHE_PREFIX : 0,
        .pInitialData = data && !why ? data + CACHE_PREFIX : NULL,
    };
    if (c->d.vkCreatePipelineCache(c->dev, &info, NULL, &c->pipeline_cache) != VK_SUCCESS)
        c->pipeline_cache = VK_NULL_HANDLE; /* pipelines are then made without one */
    free(data);
}

void vb_vk_cache_save(vb_vk_ctx *c)
{
    if (!c->pipeline_cache || !c->pipeline_cache_path[0] || !c->pipelines_created || c->broken)
        return;
    size_t n = 0;
    if (c->d.vkGetPipelineCacheData(c->dev, c->pipeline_cache, &n, NULL) != VK_SUCCESS || !n ||
        n > CACHE_MAX_BYTES - CACHE_PREFIX)
        return;
    uint8_t *buf = malloc(CACHE_PREFIX + n);
    if (!buf)
        return;
    VkResult r = c->d.vkGetPipelineCacheData(c->dev, c->pipeline_cache, &n, buf + CACHE_PREFIX);
    if (r == VK_SUCCESS) {
        char hex[65];
        vb_sha256_hex(buf + CACHE_PREFIX, n, hex);
        memcpy(buf, CACHE_MAGIC, CACHE_MAGIC_LEN);
        memcpy(buf + CACHE_MAGIC_LEN, hex, 64);
        buf[CACHE_PREFIX - 1] = '\n';
        char dir[1024];
        snprintf(dir, sizeof dir, "%s", c->pipeline_cache_path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        vb_err e = {0};
        if ((slash && vb_mkdirs(dir, &e)) || vb_write_file_atomic(c->pipeline_cache_path, buf, CACHE_PREFIX + n, &e))
            vb_log("note: pipeline cache not saved: %s", e.msg);
    }
    free(buf);
}
