/* The fingerprint model file (parameters as GGUF metadata) and template records/files.
 * See models/fingerprint.h. */
#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/files.h"
#include "models/arch.h"
#include "models/fingerprint.h"

void vb_fp_params_default(vb_fp_params *p)
{
#define VB_FP_SET(name, def, doc) p->name = (float)(def);
    VB_FP_PARAMS(VB_FP_SET)
#undef VB_FP_SET
}

/* Integer-valued parameters and their ranges (sizes, counts); the rest need only be finite. */
static const struct {
    const char *name;
    size_t offset;
    float lo, hi;
} ranges[] = {
    {"seg_block", offsetof(vb_fp_params, seg_block), 4, 64},
    {"seg_threshold", offsetof(vb_fp_params, seg_threshold), 0, 10},
    {"border_margin", offsetof(vb_fp_params, border_margin), 0, 200},
    {"grad_sigma", offsetof(vb_fp_params, grad_sigma), 0, 10},
    {"orient_sigma", offsetof(vb_fp_params, orient_sigma), 0.5f, 30},
    {"freq_block", offsetof(vb_fp_params, freq_block), 8, 64},
    {"min_period", offsetof(vb_fp_params, min_period), 2, 64},
    {"max_period", offsetof(vb_fp_params, max_period), 2, 64},
    {"default_period", offsetof(vb_fp_params, default_period), 2, 64},
    {"gabor_k", offsetof(vb_fp_params, gabor_k), 0.1f, 3},
    {"gabor_angles", offsetof(vb_fp_params, gabor_angles), 4, 180},
    {"trace_len", offsetof(vb_fp_params, trace_len), 2, 64},
    {"min_minutiae", offsetof(vb_fp_params, min_minutiae), 0, VB_FP_MAX_MINUTIAE},
    {"max_minutiae", offsetof(vb_fp_params, max_minutiae), 1, VB_FP_MAX_MINUTIAE},
    {"mcc_radius", offsetof(vb_fp_params, mcc_radius), 5, 500},
    {"mcc_ns", offsetof(vb_fp_params, mcc_ns), 2, 32},
    {"mcc_nd", offsetof(vb_fp_params, mcc_nd), 1, 64},
    {"mcc_sigma_s", offsetof(vb_fp_params, mcc_sigma_s), 0.1f, 100},
    {"mcc_sigma_d", offsetof(vb_fp_params, mcc_sigma_d), 0.01f, 7},
    {"mcc_min_np", offsetof(vb_fp_params, mcc_min_np), 1, 100},
    {"mcc_max_np", offsetof(vb_fp_params, mcc_max_np), 1, 100},
    {"relax_iter", offsetof(vb_fp_params, relax_iter), 0, 50},
    {"relax_w", offsetof(vb_fp_params, relax_w), 0, 1},
    {"threshold", offsetof(vb_fp_params, threshold), 0, 1},
};

static int check_ranges(const vb_model *m, const vb_fp_params *p, vb_err *e)
{
    for (size_t i = 0; i < VB_ARRAY_LEN(ranges); i++) {
        float v = *(const float *)((const char *)p + ranges[i].offset);
        if (!(v >= ranges[i].lo && v <= ranges[i].hi))
            return vb_fail(e, VB_EXIT_INPUT, "%s: fingerprint.%s = %g is outside %g..%g", m->path, ranges[i].name,
                           v, ranges[i].lo, ranges[i].hi);
    }
    if (p->min_period > p->max_period || p->mcc_min_np > p->mcc_max_np)
        return vb_fail(e, VB_EXIT_INPUT, "%s: fingerprint.min_period/max_period or mcc_min_np/mcc_max_np reversed",
                       m->path);
    return 0;
}

int vb_fp_params_load(const vb_model *m, vb_fp_params *p, vb_err *e)
{
    const char *arch;
    if (vb_model_get_str(m, VB_KEY_ARCH, &arch, e))
        return -1;
    if (strcmp(arch, VB_FP_ARCH) != 0)
        return vb_fail(e, VB_EXIT_INPUT, "%s: architecture '%s' is not a fingerprint matcher (%s)", m->path, arch,
                       VB_FP_ARCH);
#define VB_FP_GET(name, def, doc)                                                                  \
    if (vb_model_get_f32(m, "fingerprint." #name, &p->name, e))                                   \
        return -1;                                                                                 \
    if (!isfinite(p->name))                                                                        \
        return vb_fail(e, VB_EXIT_INPUT, "%s: fingerprint." #name " is not finite", m->path);
    VB_FP_PARAMS(VB_FP_GET)
#undef VB_FP_GET
    return check_ranges(m, p, e);
}

int vb_fp_model_write(const char *path, vb_err *e)
{
    vb_fp_params p;
    vb_fp_params_default(&p);
    vb_gguf_writer *w = vb_gguf_writer_new();
    if (!w)
        return vb_fail(e, VB_EXIT_IO, "out of memory");
    int bad = vb_gguf_set_str(w, VB_KEY_ARCH, VB_FP_ARCH) ||
              vb_gguf_set_str(w, "general.name", "veribench fingerprint matcher (Gabor enhancement, MCC LSS-R)") ||
              vb_gguf_set_str(w, VB_KEY_OUT_DISTANCE, "mcc") ||
              vb_gguf_set_u32(w, VB_KEY_OUT_DIM, VB_FP_TEMPLATE_FLOATS) ||
              vb_gguf_set_f32(w, VB_KEY_OUT_THRESHOLD, p.threshold);
#define VB_FP_PUT(name, def, doc) bad = bad || vb_gguf_set_f32(w, "fingerprint." #name, p.name);
    VB_FP_PARAMS(VB_FP_PUT)
#undef VB_FP_PUT
    /* one small tensor, so the file has a data block the checksum covers: the parameter
     * vector in the order of VB_FP_PARAMS (informative; the metadata is what is read) */
    float vec[sizeof p / sizeof(float)];
    memcpy(vec, &p, sizeof vec);
    int64_t ne[1] = {(int64_t)(sizeof vec / sizeof vec[0])};
    bad = bad || vb_gguf_add_tensor(w, "fingerprint.params", VB_F32, 1, ne, vec, sizeof vec);
    if (bad) {
        vb_gguf_writer_free(w);
        return vb_fail(e, VB_EXIT_IO, "out of memory");
    }
    int rc = vb_gguf_write(w, path, e);
    vb_gguf_writer_free(w);
    return rc;
}

/* ------------------------------------------------------------- template records */

void vb_fp_template_pack(const vb_fp_template *t, float *out)
{
    memset(out, 0, VB_FP_TEMPLATE_FLOATS * sizeof *out);
    out[0] = (float)t->count, out[1] = (float)t->width, out[2] = (float)t->height;
    for (int i = 0; i < t->count; i++) {
        float *r = out + 3 + 4 * i;
        r[0] = t->m[i].x, r[1] = t->m[i].y, r[2] = t->m[i].theta, r[3] = (float)t->m[i].kind;
    }
}

static int check_minutia(const vb_fp_minutia *m, int w, int h)
{
    return isfinite(m->x) && isfinite(m->y) && isfinite(m->theta) && m->x >= 0 && m->y >= 0 && m->x <= w &&
           m->y <= h && m->theta >= 0 && m->theta < 6.2832f && (m->kind == 1 || m->kind == 2);
}

int vb_fp_template_unpack(const float *in, vb_fp_template *t, vb_err *e)
{
    memset(t, 0, sizeof *t);
    if (!(in[0] >= 0 && in[0] <= VB_FP_MAX_MINUTIAE && in[0] == floorf(in[0])) || !(in[1] >= 1 && in[1] <= 65536) ||
        !(in[2] >= 1 && in[2] <= 65536))
        return vb_fail(e, VB_EXIT_INPUT, "not a fingerprint template record (count %g, size %gx%g)", in[0], in[1],
                       in[2]);
    t->count = (int)in[0], t->width = (int)in[1], t->height = (int)in[2];
    for (int i = 0; i < t->count; i++) {
        const float *r = in + 3 + 4 * i;
        int kind = r[3] == 1.0f ? 1 : r[3] == 2.0f ? 2 : 0; /* never cast an arbitrary float to int */
        t->m[i] = (vb_fp_minutia){r[0], r[1], r[2], kind, 0};
        if (!check_minutia(&t->m[i], t->width, t->height))
            return vb_fail(e, VB_EXIT_INPUT, "fingerprint template record: minutia %d is invalid", i);
    }
    return 0;
}

int vb_fp_template_save(const char *path, const vb_fp_template *t, vb_err *e)
{
    vb_atomic a;
    if (vb_atomic_begin(&a, path, "w", e))
        return -1;
    fprintf(a.f, "VBFPT001 %d %d %d\n", t->width, t->height, t->count);
    for (int i = 0; i < t->count; i++)
        fprintf(a.f, "%.9g %.9g %.9g %d %.9g\n", t->m[i].x, t->m[i].y, t->m[i].theta, t->m[i].kind,
                t->m[i].quality);
    return vb_atomic_commit(&a, e);
}

int vb_fp_template_load(const char *path, vb_fp_template *t, vb_err *e)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f)
        return vb_fail(e, VB_EXIT_INPUT, "%s: cannot open: %s", path, strerror(errno));
    char magic[16];
    int rc = 0;
    if (fscanf(f, "%15s %d %d %d", magic, &t->width, &t->height, &t->count) != 4 || strcmp(magic, "VBFPT001") ||
        t->width < 1 || t->height < 1 || t->width > 65536 || t->height > 65536 || t->count < 0 ||
        t->count > VB_FP_MAX_MINUTIAE)
        rc = vb_fail(e, VB_EXIT_INPUT, "%s: not a veribench fingerprint template (header VBFPT001 W H COUNT)", path);
    for (int i = 0; !rc && i < t->count; i++) {
        vb_fp_minutia *m = &t->m[i];
        if (fscanf(f, "%f %f %f %d %f", &m->x, &m->y, &m->theta, &m->kind, &m->quality) != 5 ||
            !check_minutia(m, t->width, t->height))
            rc = vb_fail(e, VB_EXIT_INPUT, "%s: minutia %d is missing or invalid", path, i + 1);
    }
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------- ISO/IEC 19794-2 style */

enum { ISO_HEADER = 24, ISO_VIEW = 4, ISO_MINUTIA = 6 };

static void be16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

static unsigned rd16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

int vb_fp_template_to_iso(const vb_fp_template *t, uint8_t *buf, size_t cap, size_t *len, vb_err *e)
{
    size_t n = ISO_HEADER + ISO_VIEW + (size_t)t->count * ISO_MINUTIA + 2;
    if (n > cap || n > 0xffff || t->width > 0x3fff || t->height > 0x3fff)
        return vb_fail(e, VB_EXIT_INPUT, "template does not fit an ISO/IEC 19794-2 record (%d minutiae, %dx%d)",
                       t->count, t->width, t->height);
    memset(buf, 0, n);
    memcpy(buf, "FMR\0 20\0", 8);
    buf[8] = 0, buf[9] = 0, be16(buf + 10, (unsigned)n); /* 4-byte length form, high half zero */
    /* 12..13 capture equipment: 0 (unknown) */
    be16(buf + 14, (unsigned)t->width), be16(buf + 16, (unsigned)t->height);
    be16(buf + 18, 197), be16(buf + 20, 197); /* 500 dpi in pixels per cm */
    buf[22] = 1;                              /* one finger view */
    uint8_t *v = buf + ISO_HEADER;
    v[0] = 0, v[1] = 0, v[2] = 100, v[3] = (uint8_t)t->count; /* position unknown, view 0, quality */
    for (int i = 0; i < t->count; i++) {
        const vb_fp_minutia *m = &t->m[i];
        uint8_t *r = v + ISO_VIEW + (size_t)i * ISO_MINUTIA;
        unsigned x = (unsigned)lrintf(m->x), y = (unsigned)lrintf(m->y);
        double iso = fmod(2 * 3.14159265358979323846 - m->theta, 2 * 3.14159265358979323846);
        unsigned a = (unsigned)lrint(iso / (2 * 3.14159265358979323846) * 256) & 255;
        be16(r, (unsigned)(m->kind == 1 ? 1 : 2) << 14 | (x & 0x3fff));
        be16(r + 2, y & 0x3fff);
        r[4] = (uint8_t)a;
        r[5] = (uint8_t)lrintf(fminf(fmaxf(m->quality, 0), 1) * 100);
    }
    *len = n;
    return 0;
}

int vb_fp_template_from_iso(const uint8_t *buf, size_t len, vb_fp_template *t, vb_err *e)
{
    memset(t, 0, sizeof *t);
    if (len < ISO_HEADER + ISO_VIEW + 2 || memcmp(buf, "FMR\0 20\0", 8))
        return vb_fail(e, VB_EXIT_INPUT, "not an ISO/IEC 19794-2 (2005) finger minutiae record");
    size_t n = (size_t)rd16(buf + 8) << 16 | rd16(buf + 10);
    if (n != len)
        return vb_fail(e, VB_EXIT_INPUT, "ISO minutiae record: its header gives %zu bytes, but it has %zu (truncated "
                       "or padded)", n, len);
    if (buf[22] < 1)
        return vb_fail(e, VB_EXIT_INPUT, "ISO minutiae record: no finger view");
    t->width = (int)rd16(buf + 14), t->height = (int)rd16(buf + 16);
    const uint8_t *v = buf + ISO_HEADER;
    int count = v[3];
    if (count > VB_FP_MAX_MINUTIAE || ISO_HEADER + ISO_VIEW + (size_t)count * ISO_MINUTIA + 2 > len ||
        t->width < 1 || t->height < 1)
        return vb_fail(e, VB_EXIT_INPUT, "ISO minutiae record: %d minutiae do not fit (at most %d, %zu bytes)", count,
                       VB_FP_MAX_MINUTIAE, len);
    for (int i = 0; i < count; i++) {
        const uint8_t *r = v + ISO_VIEW + (size_t)i * ISO_MINUTIA;
        unsigned type = rd16(r) >> 14;
        vb_fp_minutia *m = &t->m[i];
        m->x = (float)(rd16(r) & 0x3fff), m->y = (float)(rd16(r + 2) & 0x3fff);
        m->kind = type == 2 ? 2 : 1;
        double a = r[4] * 2 * 3.14159265358979323846 / 256;
        m->theta = (float)fmod(2 * 3.14159265358979323846 - a, 2 * 3.14159265358979323846);
        if (m->theta >= 6.2831853f)
            m->theta = 0;
        m->quality = r[5] / 100.0f;
        if ((type != 1 && type != 2) || !check_minutia(m, t->width, t->height))
            return vb_fail(e, VB_EXIT_INPUT, "ISO minutiae record: minutia %d is invalid", i + 1);
    }
    t->count = count;
    return 0;
}

/* ------------------------------------------------------------- template files */

int vb_fp_is_template_path(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && (strcmp(path + n - 4, ".fmr") == 0 || strcmp(path + n - 4, ".fpt") == 0);
}

int vb_fp_template_write_iso(const char *path, const vb_fp_template *t, vb_err *e)
{
    uint8_t buf[ISO_HEADER + ISO_VIEW + VB_FP_MAX_MINUTIAE * ISO_MINUTIA + 2];
    size_t len;
    if (vb_fp_template_to_iso(t, buf, sizeof buf, &len, e)) {
        vb_err_prefix(e, "%s", path);
        return -1;
    }
    return vb_write_file_atomic(path, buf, len, e);
}

int vb_fp_template_read_file(const char *path, vb_fp_template *t, vb_err *e)
{
    enum { MAX_TEMPLATE_BYTES = 1 << 20 };
    uint8_t *data = NULL;
    size_t n = 0;
    memset(t, 0, sizeof *t);
    if (vb_read_file(path, MAX_TEMPLATE_BYTES, &data, &n, e))
        return -1;
    int rc;
    if (n >= 4 && memcmp(data, "FMR", 4) == 0) {
        rc = vb_fp_template_from_iso(data, n, t, e);
        if (rc)
            vb_err_prefix(e, "%s", path);
    } else if (n >= 8 && memcmp(data, "VBFPT001", 8) == 0) {
        rc = vb_fp_template_load(path, t, e);
    } else {
        rc = vb_fail(e, VB_EXIT_INPUT, "%s: not a fingerprint template (neither an ISO/IEC 19794-2 record, "
                                       "\"FMR\\0\", nor a VBFPT001 text template)", path);
    }
    free(data);
    return rc;
}
