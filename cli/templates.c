#include "cli/templates.h"
#include "core/files.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define MAGIC "VBTPL001"
#define HEADER_BYTES (8 + 4 + 4 + 8 + 64)
#define MSG_BYTES_MIN 256

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t payload_bytes(int dim)
{
    size_t floats = (size_t)dim * 4;
    return floats > MSG_BYTES_MIN ? floats : MSG_BYTES_MIN;
}

static void make_header(uint8_t *h, const vb_template_store *s, const char *fingerprint)
{
    memset(h, 0, HEADER_BYTES);
    memcpy(h, MAGIC, 8);
    put_u32(h + 8, (uint32_t)s->dim);
    put_u32(h + 12, (uint32_t)s->record_bytes);
    put_u32(h + 16, (uint32_t)s->n_samples);
    put_u32(h + 20, (uint32_t)((uint64_t)s->n_samples >> 32));
    memcpy(h + 24, fingerprint, strnlen(fingerprint, 64));
}

/* Apply one record read from disk; returns 0 if valid. */
static int load_record(vb_template_store *s, const uint8_t *r)
{
    size_t body = s->record_bytes - 4;
    if ((uint32_t)crc32(0L, r, (uInt)body) != get_u32(r + body))
        return -1;
    uint32_t index = get_u32(r), status = get_u32(r + 4);
    if (index >= s->n_samples || (status != VB_TPL_OK && status != VB_TPL_FAILED))
        return -1;
    if (s->state[index] == VB_TPL_OK)
        s->n_ok--;
    else if (s->state[index] == VB_TPL_FAILED)
        s->n_failed--;
    free(s->why[index]);
    s->why[index] = NULL;
    if (status == VB_TPL_OK) {
        memcpy(s->desc + index * (size_t)s->dim, r + 8, (size_t)s->dim * 4);
        s->n_ok++;
    } else {
        s->why[index] = strndup((const char *)r + 8, payload_bytes(s->dim) - 1);
        s->n_failed++;
    }
    s->state[index] = (uint8_t)status;
    return 0;
}

int vb_templates_open(vb_template_store *s, const char *path, const char *fingerprint, size_t n_samples,
                      int dim, vb_err *e)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", path);
    s->dim = dim;
    s->n_samples = n_samples;
    s->record_bytes = 8 + payload_bytes(dim) + 4;
    s->desc = vb_calloc(n_samples, (size_t)dim * sizeof(float), e);
    s->state = vb_calloc(n_samples, 1, e);
    s->why = vb_calloc(n_samples, sizeof(char *), e);
    if (!s->desc || !s->state || !s->why)
        goto fail;
    uint8_t header[HEADER_BYTES], want[HEADER_BYTES];
    make_header(want, s, fingerprint);
    s->f = fopen(path, "r+b");
    if (!s->f) {
        if (errno != ENOENT || !(s->f = fopen(path, "w+b"))) {
            vb_fail(e, VB_EXIT_IO, "%s: cannot open: %s", path, strerror(errno));
            goto fail;
        }
        if (fwrite(want, 1, HEADER_BYTES, s->f) != HEADER_BYTES || vb_templates_sync(s, e))
            goto fail_io;
        return 0;
    }
    if (fread(header, 1, HEADER_BYTES, s->f) != HEADER_BYTES || memcmp(header, want, HEADER_BYTES)) {
        vb_fail(e, VB_EXIT_INPUT,
                "%s: saved templates belong to a different run (model, dataset, crop, backend or quant "
                "differ, or not a template file); use another --out folder or --restart", path);
        goto fail;
    }
    uint8_t *rec = vb_malloc(s->record_bytes, e);
    if (!rec)
        goto fail;
    long good_end = HEADER_BYTES;
    while (fread(rec, 1, s->record_bytes, s->f) == s->record_bytes && load_record(s, rec) == 0)
        good_end += (long)s->record_bytes;
    free(rec);
    s->n_resumed = s->n_ok + s->n_failed;
    /* Drop a torn or corrupt tail so new records follow the last good one. */
    if (fflush(s->f) || ftruncate(fileno(s->f), good_end) || fseek(s->f, good_end, SEEK_SET))
        goto fail_io;
    return 0;
fail_io:
    vb_fail(e, VB_EXIT_IO, "%s: write failed: %s", path, strerror(errno));
fail:
    vb_templates_close(s);
    return -1;
}

int vb_templates_put(vb_template_store *s, size_t index, const float *desc, const char *why, vb_err *e)
{
    uint8_t rec[8 + 8192 + 4];
    if (s->record_bytes > sizeof rec || index >= s->n_samples)
        return vb_fail(e, VB_EXIT_IO, "%s: bad template record", s->path);
    memset(rec, 0, s->record_bytes);
    put_u32(rec, (uint32_t)index);
    put_u32(rec + 4, desc ? VB_TPL_OK : VB_TPL_FAILED);
    if (desc)
        memcpy(rec + 8, desc, (size_t)s->dim * 4);
    else
        snprintf((char *)rec + 8, payload_bytes(s->dim), "%s", why ? why : "failed");
    size_t body = s->record_bytes - 4;
    put_u32(rec + body, (uint32_t)crc32(0L, rec, (uInt)body));
    if (fwrite(rec, 1, s->record_bytes, s->f) != s->record_bytes)
        return vb_fail(e, VB_EXIT_IO, "%s: write failed: %s", s->path, strerror(errno));
    load_record(s, rec);
    if (++s->unsynced >= 256)
        return vb_templates_sync(s, e);
    return 0;
}

int vb_templates_sync(vb_template_store *s, vb_err *e)
{
    s->unsynced = 0;
    if (fflush(s->f) != 0 || fsync(fileno(s->f)) != 0)
        return vb_fail(e, VB_EXIT_IO, "%s: write failed: %s", s->path, strerror(errno));
    return 0;
}

void vb_templates_close(vb_template_store *s)
{
    if (s->f)
        fclose(s->f);
    if (s->why)
        for (size_t i = 0; i < s->n_samples; i++)
            free(s->why[i]);
    free(s->why);
    free(s->desc);
    free(s->state);
    memset(s, 0, sizeof *s);
}

int vb_timing_read(const char *path, const char *fp, int n_layers, vb_saved_timing *t)
{
    char magic[32], saved_fp[80];
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fscanf(f, "%31s %79s %zu %zu %lf %lf", magic, saved_fp, &t->images, &t->calls, &t->run_ms,
                    &t->wall_ms) == 6 && !strcmp(magic, "veribench-timing-v1") && !strcmp(saved_fp, fp);
    int want = n_layers, i = 0;
    ok = ok && n_layers <= VB_GRAPH_MAX_NODES;
    for (; ok && i < (want < 0 ? VB_GRAPH_MAX_NODES : want); i++)
        if (fscanf(f, "%lf %95s", &t->layer_ms[i], t->layer_names[i]) != 2) {
            ok = want < 0 && feof(f); /* as many layers as there are */
            break;
        }
    fclose(f);
    t->n_layers = i;
    return ok ? 0 : -1;
}

int vb_timing_write(const char *path, const char *fp, const vb_saved_timing *t, vb_err *e)
{
    vb_atomic a;
    if (vb_atomic_begin(&a, path, "w", e))
        return -1;
    fprintf(a.f, "veribench-timing-v1 %s %zu %zu %.17g %.17g\n", fp, t->images, t->calls, t->run_ms, t->wall_ms);
    for (int i = 0; i < t->n_layers; i++)
        fprintf(a.f, "%.17g %s\n", t->layer_ms[i], t->layer_names[i]);
    return vb_atomic_commit(&a, e);
}

int vb_templates_peek(const char *path, char fingerprint[65], size_t *n_samples, int *dim, vb_err *e)
{
    uint8_t h[HEADER_BYTES];
    FILE *f = fopen(path, "rb");
    if (!f)
        return vb_fail(e, VB_EXIT_INPUT, "%s: cannot open: %s", path, strerror(errno));
    size_t got = fread(h, 1, HEADER_BYTES, f);
    fclose(f);
    if (got != HEADER_BYTES || memcmp(h, MAGIC, 8))
        return vb_fail(e, VB_EXIT_INPUT, "%s: not a veribench template file", path);
    *dim = (int)get_u32(h + 8);
    *n_samples = (size_t)get_u32(h + 16) | (size_t)get_u32(h + 20) << 32;
    memcpy(fingerprint, h + 24, 64);
    fingerprint[64] = 0;
    if (*dim <= 0 || *dim > 1 << 20 || get_u32(h + 12) != 8 + payload_bytes(*dim) + 4)
        return vb_fail(e, VB_EXIT_INPUT, "%s: inconsistent template header (dimension %d)", path, *dim);
    return 0;
}

int vb_templates_load(vb_template_store *s, const char *path, vb_err *e)
{
    char fp[65];
    size_t n;
    int dim;
    memset(s, 0, sizeof *s);
    if (vb_templates_peek(path, fp, &n, &dim, e))
        return -1;
    snprintf(s->path, sizeof s->path, "%s", path);
    s->dim = dim;
    s->n_samples = n;
    s->record_bytes = 8 + payload_bytes(dim) + 4;
    s->desc = vb_calloc(n ? n : 1, (size_t)dim * sizeof(float), e);
    s->state = vb_calloc(n ? n : 1, 1, e);
    s->why = vb_calloc(n ? n : 1, sizeof(char *), e);
    uint8_t *rec = s->why ? vb_malloc(s->record_bytes, e) : NULL;
    FILE *f = rec ? fopen(path, "rb") : NULL;
    if (!f) {
        if (rec)
            vb_fail(e, VB_EXIT_INPUT, "%s: cannot open: %s", path, strerror(errno));
        free(rec);
        vb_templates_close(s);
        return -1;
    }
    fseek(f, HEADER_BYTES, SEEK_SET);
    while (fread(rec, 1, s->record_bytes, f) == s->record_bytes && load_record(s, rec) == 0)
        ;
    fclose(f);
    free(rec);
    s->n_resumed = s->n_ok + s->n_failed;
    return 0;
}
