/* GGUF v3 reader (validating every count, length, type and offset against the file's
 * size before use) and writer. */
#include "models/gguf.h"

#include "core/files.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GGUF_MAGIC "GGUF"
#define MAX_STRING_BYTES (1u << 20)   /* keys and string values */
#define MAX_NAME_BYTES 95            /* fits vb_tensor.name */

typedef struct reader {
    const uint8_t *buf;
    size_t size, pos;
    const char *path;
    vb_err *e;
} reader;

static int bad(reader *r, const char *what)
{
    return vb_fail(r->e, VB_EXIT_INPUT, "%s: corrupt GGUF file: %s (at byte %zu of %zu)", r->path,
                   what, r->pos, r->size);
}

static int need(reader *r, size_t n, const char *what)
{
    if (n > r->size - r->pos) {
        char msg[160];
        snprintf(msg, sizeof msg, "truncated while reading %s", what);
        return bad(r, msg);
    }
    return 0;
}

static int rd_u32(reader *r, uint32_t *v, const char *what)
{
    if (need(r, 4, what))
        return -1;
    const uint8_t *p = r->buf + r->pos;
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    r->pos += 4;
    return 0;
}

static int rd_u64(reader *r, uint64_t *v, const char *what)
{
    uint32_t lo, hi;
    if (need(r, 8, what) || rd_u32(r, &lo, what) || rd_u32(r, &hi, what))
        return -1;
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

/* A length-prefixed string; returns a malloc'd NUL-terminated copy. */
static int rd_str(reader *r, char **out, size_t max_len, const char *what)
{
    uint64_t len;
    *out = NULL;
    if (rd_u64(r, &len, what))
        return -1;
    if (len > max_len) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s length %llu exceeds the %zu-byte limit", what,
                 (unsigned long long)len, max_len);
        return bad(r, msg);
    }
    if (need(r, (size_t)len, what))
        return -1;
    char *s = malloc((size_t)len + 1);
    if (!s)
        return vb_fail(r->e, VB_EXIT_IO, "out of memory");
    memcpy(s, r->buf + r->pos, (size_t)len);
    s[len] = 0;
    if (strlen(s) != len) {
        free(s);
        return bad(r, "string contains a NUL byte");
    }
    r->pos += (size_t)len;
    *out = s;
    return 0;
}

static size_t scalar_size(uint32_t t)
{
    switch (t) {
    case VB_GGUF_UINT8: case VB_GGUF_INT8: case VB_GGUF_BOOL: return 1;
    case VB_GGUF_UINT16: case VB_GGUF_INT16: return 2;
    case VB_GGUF_UINT32: case VB_GGUF_INT32: case VB_GGUF_FLOAT32: return 4;
    case VB_GGUF_UINT64: case VB_GGUF_INT64: case VB_GGUF_FLOAT64: return 8;
    }
    return 0;
}

/* Read one scalar of type t, widened into u, i and f. */
static int rd_scalar(reader *r, uint32_t t, uint64_t *u, int64_t *i, double *f)
{
    size_t n = scalar_size(t);
    if (!n)
        return bad(r, "unknown value type");
    if (need(r, n, "metadata value"))
        return -1;
    uint64_t raw = 0;
    for (size_t k = 0; k < n; k++)
        raw |= (uint64_t)r->buf[r->pos + k] << (8 * k);
    r->pos += n;
    *u = raw;
    switch (t) {
    case VB_GGUF_INT8: *i = (int8_t)raw; break;
    case VB_GGUF_INT16: *i = (int16_t)raw; break;
    case VB_GGUF_INT32: *i = (int32_t)raw; break;
    case VB_GGUF_INT64: *i = (int64_t)raw; break;
    default: *i = (int64_t)raw; break;
    }
    if (t == VB_GGUF_FLOAT32) {
        uint32_t b = (uint32_t)raw;
        float fl;
        memcpy(&fl, &b, 4);
        *f = fl;
    } else if (t == VB_GGUF_FLOAT64) {
        memcpy(f, &raw, 8);
    } else {
        *f = (t == VB_GGUF_INT8 || t == VB_GGUF_INT16 || t == VB_GGUF_INT32 || t == VB_GGUF_INT64)
                 ? (double)*i : (double)raw;
    }
    if (t == VB_GGUF_BOOL && raw > 1)
        return bad(r, "bool value is neither 0 nor 1");
    return 0;
}

static void free_kv(vb_kv *kv)
{
    free(kv->key);
    free(kv->str);
    free(kv->arr_u);
    free(kv->arr_i);
    free(kv->arr_f);
    if (kv->arr_s)
        for (uint64_t j = 0; j < kv->arr_n; j++)
            free(kv->arr_s[j]);
    free(kv->arr_s);
}

static int rd_kv(reader *r, vb_kv *kv)
{
    if (rd_str(r, &kv->key, MAX_STRING_BYTES, "metadata key") || rd_u32(r, &kv->type, "value type"))
        return -1;
    if (kv->type == VB_GGUF_STRING)
        return rd_str(r, &kv->str, MAX_STRING_BYTES, "string value");
    if (kv->type != VB_GGUF_ARRAY)
        return rd_scalar(r, kv->type, &kv->u, &kv->i, &kv->f);
    if (rd_u32(r, &kv->arr_type, "array type") || rd_u64(r, &kv->arr_n, "array length"))
        return -1;
    if (kv->arr_type == VB_GGUF_ARRAY)
        return bad(r, "nested arrays are not supported");
    /* Every element takes at least one byte (strings at least 8): a count beyond the
     * remaining bytes is a lie, refused before any allocation. */
    size_t min_elem = kv->arr_type == VB_GGUF_STRING ? 8 : scalar_size(kv->arr_type);
    if (!min_elem)
        return bad(r, "unknown array element type");
    if (kv->arr_n > (r->size - r->pos) / min_elem)
        return bad(r, "array length exceeds the file size");
    size_t n = (size_t)kv->arr_n;
    if (kv->arr_type == VB_GGUF_STRING) {
        if (!(kv->arr_s = calloc(n ? n : 1, sizeof(char *))))
            return vb_fail(r->e, VB_EXIT_IO, "out of memory");
        for (size_t j = 0; j < n; j++)
            if (rd_str(r, &kv->arr_s[j], MAX_STRING_BYTES, "string array element"))
                return -1;
        return 0;
    }
    kv->arr_u = malloc((n ? n : 1) * sizeof(uint64_t));
    kv->arr_i = malloc((n ? n : 1) * sizeof(int64_t));
    kv->arr_f = malloc((n ? n : 1) * sizeof(double));
    if (!kv->arr_u || !kv->arr_i || !kv->arr_f)
        return vb_fail(r->e, VB_EXIT_IO, "out of memory");
    for (size_t j = 0; j < n; j++)
        if (rd_scalar(r, kv->arr_type, &kv->arr_u[j], &kv->arr_i[j], &kv->arr_f[j]))
            return -1;
    return 0;
}

static int rd_tensor_info(reader *r, vb_tensor *t, uint64_t *offset)
{
    char *name;
    uint32_t n_dims, type;
    if (rd_str(r, &name, MAX_NAME_BYTES, "tensor name"))
        return -1;
    snprintf(t->name, sizeof t->name, "%s", name);
    free(name);
    if (rd_u32(r, &n_dims, "tensor dimension count"))
        return -1;
    if (n_dims < 1 || n_dims > VB_MAX_DIMS)
        return bad(r, "tensor dimension count outside 1..4");
    t->n_dims = (int)n_dims;
    for (int d = 0; d < VB_MAX_DIMS; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        uint64_t ne;
        if (rd_u64(r, &ne, "tensor dimension"))
            return -1;
        if (ne < 1 || ne > ((uint64_t)1 << 40))
            return bad(r, "tensor dimension is zero or absurdly large");
        t->ne[d] = (int64_t)ne;
    }
    if (rd_u32(r, &type, "tensor type"))
        return -1;
    if (!vb_dtype_valid(type))
        return bad(r, "unsupported tensor type (expected F32, F16, Q8_0 or Q4_0)");
    t->type = (vb_dtype)type;
    if (rd_u64(r, offset, "tensor offset"))
        return -1;
    int64_t nel = vb_tensor_nelements(t);
    size_t row = vb_dtype_row_bytes(t->type, t->ne[0]);
    if (nel < 0 || !row)
        return bad(r, "tensor shape does not fit its type's block size");
    size_t nbytes;
    if (vb_mul_size(row, (size_t)(nel / t->ne[0]), &nbytes))
        return bad(r, "tensor size overflows");
    t->nbytes = nbytes;
    return 0;
}

void vb_model_free(vb_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_kv; i++)
        free_kv(&m->kv[i]);
    free(m->kv);
    free(m->tensors);
    free(m->file_data);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------- integrity checks */

/* The tensor data block [data_offset, end of file) against the SHA-256 that `convert` and
 * `quantize` record in VB_GGUF_KEY_DATA_SHA256: flipped bytes in the weights would
 * otherwise give plausible-looking descriptors. A file without the key (older writers)
 * is accepted with m->data_checksum = 0; vb_model_load warns about it. */
static int verify_data_checksum(vb_model *m, vb_err *e)
{
    const vb_kv *kv = vb_model_kv(m, VB_GGUF_KEY_DATA_SHA256);
    if (!kv)
        return 0;
    if (kv->type != VB_GGUF_STRING || strlen(kv->str) != 64)
        return vb_fail(e, VB_EXIT_INPUT, "%s: corrupt GGUF file: %s must be 64 hex digits", m->path,
                       VB_GGUF_KEY_DATA_SHA256);
    char hex[65];
    size_t start = m->data_offset < m->file_size ? m->data_offset : m->file_size;
    vb_sha256_hex(m->file_data + start, m->file_size - start, hex);
    if (strcmp(hex, kv->str))
        return vb_fail(e, VB_EXIT_INPUT, "%s: corrupt model: tensor data SHA-256 is %s, the file records %s "
                       "(damaged or edited weights; convert or download it again)", m->path, hex, kv->str);
    m->data_checksum = 1;
    return 0;
}

/* Every F32/F16 weight and every Q8_0/Q4_0 block scale must be finite: one NaN poisons
 * every descriptor, silently. */
static int tensor_finite(const vb_tensor *t, const char *path, vb_err *e)
{
    size_t step, n;
    switch (t->type) {
    case VB_F32: step = 4, n = t->nbytes / 4; break;
    case VB_F16: step = 2, n = t->nbytes / 2; break;
    case VB_Q8_0: step = VB_Q8_0_BLOCK_BYTES, n = t->nbytes / step; break;
    case VB_Q4_0: step = VB_Q4_0_BLOCK_BYTES, n = t->nbytes / step; break;
    default: return 0;
    }
    const uint8_t *p = t->data;
    for (size_t i = 0; i < n; i++, p += step) {
        float v;
        if (t->type == VB_F32) {
            memcpy(&v, p, 4);
        } else { /* F16 values and the leading fp16 scale of a quantized block */
            uint16_t h = (uint16_t)(p[0] | p[1] << 8);
            v = vb_fp16_to_fp32(h);
        }
        if (!isfinite(v))
            return vb_fail(e, VB_EXIT_INPUT, "%s: corrupt model: tensor %s has a non-finite %s (%g) at %s %zu",
                           path, t->name, t->type == VB_F32 || t->type == VB_F16 ? "weight" : "block scale",
                           (double)v, t->type == VB_F32 || t->type == VB_F16 ? "element" : "block", i);
    }
    return 0;
}

int vb_model_parse(uint8_t *buf, size_t size, const char *path, vb_model *m, vb_err *e)
{
    memset(m, 0, sizeof *m);
    snprintf(m->path, sizeof m->path, "%s", path);
    m->file_data = buf;
    m->file_size = size;
    reader r = {buf, size, 0, m->path, e};
    uint32_t version;
    uint64_t n_tensors, n_kv;
    if (need(&r, 4, "magic") < 0)
        goto fail;
    if (memcmp(buf, GGUF_MAGIC, 4)) {
        bad(&r, "bad magic (not a GGUF file)");
        goto fail;
    }
    r.pos = 4;
    if (rd_u32(&r, &version, "version") || rd_u64(&r, &n_tensors, "tensor count") ||
        rd_u64(&r, &n_kv, "metadata count"))
        goto fail;
    if (version != 3) {
        vb_fail(e, VB_EXIT_INPUT, "%s: GGUF version %u is not supported (expected 3)", path, version);
        goto fail;
    }
    /* A key/value takes at least 12 bytes, a tensor info at least 28: bound counts by the
     * file size before allocating anything. */
    if (n_kv > (size - r.pos) / 12 || n_tensors > (size - r.pos) / 28) {
        bad(&r, "tensor or metadata count exceeds what the file can hold");
        goto fail;
    }
    m->version = version;
    m->kv = calloc(n_kv ? n_kv : 1, sizeof *m->kv);
    m->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *m->tensors);
    uint64_t *offsets = calloc(n_tensors ? n_tensors : 1, sizeof *offsets);
    if (!m->kv || !m->tensors || !offsets) {
        free(offsets);
        vb_fail(e, VB_EXIT_IO, "out of memory");
        goto fail;
    }
    m->alignment = VB_GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < n_kv; i++) {
        m->n_kv++;
        if (rd_kv(&r, &m->kv[i]))
            goto fail_offsets;
        for (uint64_t j = 0; j < i; j++)
            if (!strcmp(m->kv[j].key, m->kv[i].key)) {
                bad(&r, "duplicate metadata key");
                goto fail_offsets;
            }
        if (!strcmp(m->kv[i].key, "general.alignment")) {
            if (m->kv[i].type != VB_GGUF_UINT32 || m->kv[i].u == 0 || (m->kv[i].u & (m->kv[i].u - 1)) ||
                m->kv[i].u > 65536) {
                bad(&r, "general.alignment must be a u32 power of two up to 65536");
                goto fail_offsets;
            }
            m->alignment = (size_t)m->kv[i].u;
        }
    }
    for (uint64_t i = 0; i < n_tensors; i++) {
        m->n_tensors++;
        if (rd_tensor_info(&r, &m->tensors[i], &offsets[i]))
            goto fail_offsets;
        for (uint64_t j = 0; j < i; j++)
            if (!strcmp(m->tensors[j].name, m->tensors[i].name)) {
                bad(&r, "duplicate tensor name");
                goto fail_offsets;
            }
    }
    size_t data = (r.pos + m->alignment - 1) / m->alignment * m->alignment;
    if (data > size && n_tensors) {
        bad(&r, "truncated before the tensor data section");
        goto fail_offsets;
    }
    m->data_offset = data;
    for (uint64_t i = 0; i < n_tensors; i++) {
        vb_tensor *t = &m->tensors[i];
        if (offsets[i] % m->alignment) {
            vb_fail(e, VB_EXIT_INPUT, "%s: corrupt GGUF file: tensor %s offset %llu is not aligned to %zu",
                    path, t->name, (unsigned long long)offsets[i], m->alignment);
            goto fail_offsets;
        }
        if (offsets[i] > size - data || t->nbytes > size - data - offsets[i]) {
            vb_fail(e, VB_EXIT_INPUT, "%s: corrupt GGUF file: tensor %s (%zu bytes at data offset %llu) lies "
                    "outside the file (%zu bytes; truncated?)", path, t->name, t->nbytes,
                    (unsigned long long)offsets[i], size);
            goto fail_offsets;
        }
        t->data = buf + data + offsets[i];
    }
    /* Tensors must not overlap: sort-free O(n^2) check is fine for a few hundred tensors. */
    for (uint64_t i = 0; i < n_tensors; i++)
        for (uint64_t j = i + 1; j < n_tensors; j++) {
            uint64_t a0 = offsets[i], a1 = a0 + m->tensors[i].nbytes;
            uint64_t b0 = offsets[j], b1 = b0 + m->tensors[j].nbytes;
            if (a0 < b1 && b0 < a1) {
                vb_fail(e, VB_EXIT_INPUT, "%s: corrupt GGUF file: tensors %s and %s overlap", path,
                        m->tensors[i].name, m->tensors[j].name);
                goto fail_offsets;
            }
        }
    free(offsets);
    if (verify_data_checksum(m, e))
        goto fail;
    for (size_t i = 0; i < m->n_tensors; i++)
        if (tensor_finite(&m->tensors[i], path, e))
            goto fail;
    return 0;
fail_offsets:
    free(offsets);
fail:
    vb_model_free(m);
    return -1;
}

int vb_model_load(const char *path, vb_model *m, vb_err *e)
{
    uint8_t *buf;
    size_t size;
    memset(m, 0, sizeof *m);
    if (vb_read_file(path, VB_GGUF_MAX_FILE_BYTES, &buf, &size, e)) {
        if (e->code == VB_EXIT_INPUT && strstr(e->msg, "cannot open"))
            snprintf(e->msg + strlen(e->msg), sizeof e->msg - strlen(e->msg),
                     " (run 'make models' to fetch and convert the face-api.js weights)");
        return -1;
    }
    if (vb_model_parse(buf, size, path, m, e))
        return -1;
    if (!m->data_checksum)
        vb_log("warning: %s has no tensor-data checksum (%s; written by an older veribench): damaged "
               "weights cannot be detected. Convert it again ('make models') to add one.", path,
               VB_GGUF_KEY_DATA_SHA256);
    return 0;
}

const vb_tensor *vb_model_tensor(const vb_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name))
            return &m->tensors[i];
    return NULL;
}

const vb_kv *vb_model_kv(const vb_model *m, const char *key)
{
    for (size_t i = 0; i < m->n_kv; i++)
        if (!strcmp(m->kv[i].key, key))
            return &m->kv[i];
    return NULL;
}

static const vb_kv *get_kv(const vb_model *m, const char *key, uint32_t type, const char *tname, vb_err *e)
{
    const vb_kv *kv = vb_model_kv(m, key);
    if (!kv)
        vb_fail(e, VB_EXIT_INPUT, "%s: metadata key %s is missing", m->path, key);
    else if (kv->type != type)
        vb_fail(e, VB_EXIT_INPUT, "%s: metadata key %s should be a %s", m->path, key, tname);
    else
        return kv;
    return NULL;
}

int vb_model_get_str(const vb_model *m, const char *key, const char **out, vb_err *e)
{
    const vb_kv *kv = get_kv(m, key, VB_GGUF_STRING, "string", e);
    return kv ? (*out = kv->str, 0) : -1;
}

int vb_model_get_u32(const vb_model *m, const char *key, uint32_t *out, vb_err *e)
{
    const vb_kv *kv = get_kv(m, key, VB_GGUF_UINT32, "u32", e);
    return kv ? (*out = (uint32_t)kv->u, 0) : -1;
}

int vb_model_get_f32(const vb_model *m, const char *key, float *out, vb_err *e)
{
    const vb_kv *kv = get_kv(m, key, VB_GGUF_FLOAT32, "f32", e);
    return kv ? (*out = (float)kv->f, 0) : -1;
}

int vb_model_get_f32_array(const vb_model *m, const char *key, float *out, size_t n, vb_err *e)
{
    const vb_kv *kv = get_kv(m, key, VB_GGUF_ARRAY, "f32 array", e);
    if (!kv)
        return -1;
    if (kv->arr_type != VB_GGUF_FLOAT32 || kv->arr_n != n)
        return vb_fail(e, VB_EXIT_INPUT, "%s: metadata key %s should be an array of %zu f32", m->path, key, n);
    for (size_t i = 0; i < n; i++)
        out[i] = (float)kv->arr_f[i];
    return 0;
}

size_t vb_model_tensor_bytes(const vb_model *m)
{
    size_t total = 0;
    for (size_t i = 0; i < m->n_tensors; i++)
        total += m->tensors[i].nbytes;
    return total;
}

/* ---------------------------------------------------------------- writer */

typedef struct wkv {
    char *key;
    uint32_t type;     /* VB_GGUF_STRING, UINT32, FLOAT32 or ARRAY */
    uint32_t arr_type;
    uint64_t n;
    uint8_t *payload;  /* serialized value bytes (after the type field) */
    size_t payload_len;
} wkv;

typedef struct wtensor {
    vb_tensor t;
    uint8_t *data;
} wtensor;

struct vb_gguf_writer {
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *tensors;
    size_t n_tensors, cap_tensors;
};

typedef struct bytes {
    uint8_t *p;
    size_t len, cap;
    int oom;
} bytes;

static void put(bytes *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_u32(bytes *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}

static void put_u64(bytes *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_str(bytes *b, const char *s)
{
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}

vb_gguf_writer *vb_gguf_writer_new(void)
{
    return calloc(1, sizeof(vb_gguf_writer));
}

void vb_gguf_writer_free(vb_gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].payload);
    }
    for (size_t i = 0; i < w->n_tensors; i++)
        free(w->tensors[i].data);
    free(w->kv);
    free(w->tensors);
    free(w);
}

/* Add or replace a key with an already-serialized value. Takes ownership of payload. */
static int set_kv(vb_gguf_writer *w, const char *key, uint32_t type, bytes *payload)
{
    if (payload->oom)
        return -1;
    for (size_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->kv[i].key, key)) {
            free(w->kv[i].payload);
            w->kv[i].type = type;
            w->kv[i].payload = payload->p;
            w->kv[i].payload_len = payload->len;
            return 0;
        }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 16;
        wkv *kv = realloc(w->kv, cap * sizeof *kv);
        if (!kv)
            return -1;
        w->kv = kv;
        w->cap_kv = cap;
    }
    wkv *kv = &w->kv[w->n_kv];
    memset(kv, 0, sizeof *kv);
    if (!(kv->key = strdup(key)))
        return -1;
    kv->type = type;
    kv->payload = payload->p;
    kv->payload_len = payload->len;
    w->n_kv++;
    return 0;
}

int vb_gguf_set_str(vb_gguf_writer *w, const char *key, const char *val)
{
    bytes b = {0};
    put_str(&b, val);
    return set_kv(w, key, VB_GGUF_STRING, &b);
}

int vb_gguf_set_u32(vb_gguf_writer *w, const char *key, uint32_t val)
{
    bytes b = {0};
    put_u32(&b, val);
    return set_kv(w, key, VB_GGUF_UINT32, &b);
}

int vb_gguf_set_f32(vb_gguf_writer *w, const char *key, float val)
{
    bytes b = {0};
    uint32_t u;
    memcpy(&u, &val, 4);
    put_u32(&b, u);
    return set_kv(w, key, VB_GGUF_FLOAT32, &b);
}

int vb_gguf_set_f32_array(vb_gguf_writer *w, const char *key, const float *vals, size_t n)
{
    bytes b = {0};
    put_u32(&b, VB_GGUF_FLOAT32);
    put_u64(&b, n);
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &vals[i], 4);
        put_u32(&b, u);
    }
    return set_kv(w, key, VB_GGUF_ARRAY, &b);
}

int vb_gguf_set_str_array(vb_gguf_writer *w, const char *key, const char *const *vals, size_t n)
{
    bytes b = {0};
    put_u32(&b, VB_GGUF_STRING);
    put_u64(&b, n);
    for (size_t i = 0; i < n; i++)
        put_str(&b, vals[i]);
    return set_kv(w, key, VB_GGUF_ARRAY, &b);
}

/* Re-serialize one loaded scalar of type t. */
static void put_scalar(bytes *b, uint32_t t, uint64_t u)
{
    size_t n = scalar_size(t);
    for (size_t k = 0; k < n; k++) {
        uint8_t byte = (uint8_t)(u >> (8 * k));
        put(b, &byte, 1);
    }
}

int vb_gguf_copy_kv(vb_gguf_writer *w, const vb_model *m)
{
    for (size_t i = 0; i < m->n_kv; i++) {
        const vb_kv *kv = &m->kv[i];
        bytes b = {0};
        if (kv->type == VB_GGUF_STRING) {
            put_str(&b, kv->str);
        } else if (kv->type == VB_GGUF_ARRAY) {
            put_u32(&b, kv->arr_type);
            put_u64(&b, kv->arr_n);
            for (uint64_t j = 0; j < kv->arr_n; j++) {
                if (kv->arr_type == VB_GGUF_STRING)
                    put_str(&b, kv->arr_s[j]);
                else
                    put_scalar(&b, kv->arr_type, kv->arr_u[j]);
            }
        } else {
            put_scalar(&b, kv->type, kv->u);
        }
        if (set_kv(w, kv->key, kv->type, &b))
            return -1;
    }
    return 0;
}

int vb_gguf_add_tensor(vb_gguf_writer *w, const char *name, vb_dtype type, int n_dims,
                       const int64_t *ne, const void *data, size_t nbytes)
{
    if (strlen(name) > MAX_NAME_BYTES || n_dims < 1 || n_dims > VB_MAX_DIMS)
        return -1;
    if (w->n_tensors == w->cap_tensors) {
        size_t cap = w->cap_tensors ? w->cap_tensors * 2 : 64;
        wtensor *t = realloc(w->tensors, cap * sizeof *t);
        if (!t)
            return -1;
        w->tensors = t;
        w->cap_tensors = cap;
    }
    wtensor *t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    snprintf(t->t.name, sizeof t->t.name, "%s", name);
    t->t.type = type;
    t->t.n_dims = n_dims;
    for (int d = 0; d < VB_MAX_DIMS; d++)
        t->t.ne[d] = d < n_dims ? ne[d] : 1;
    t->t.nbytes = nbytes;
    if (!(t->data = malloc(nbytes ? nbytes : 1)))
        return -1;
    memcpy(t->data, data, nbytes);
    w->n_tensors++;
    return 0;
}

/* The tensor data block as it follows the header: each tensor padded to `align`. */
static void put_tensor_data(bytes *b, const vb_gguf_writer *w, size_t align)
{
    static const uint8_t zeros[VB_GGUF_DEFAULT_ALIGNMENT];
    for (size_t i = 0; i < w->n_tensors; i++) {
        put(b, w->tensors[i].data, w->tensors[i].t.nbytes);
        put(b, zeros, (align - w->tensors[i].t.nbytes % align) % align);
    }
}

int vb_gguf_serialize(vb_gguf_writer *w, uint8_t **out, size_t *size, vb_err *e)
{
    const size_t align = VB_GGUF_DEFAULT_ALIGNMENT;
    bytes data = {0};
    put_tensor_data(&data, w, align);
    char hex[65];
    vb_sha256_hex(data.p ? data.p : (const uint8_t *)"", data.len, hex);
    if (data.oom || vb_gguf_set_str(w, VB_GGUF_KEY_DATA_SHA256, hex)) {
        free(data.p);
        return vb_fail(e, VB_EXIT_IO, "out of memory serializing GGUF");
    }
    bytes b = {0};
    put(&b, GGUF_MAGIC, 4);
    put_u32(&b, 3);
    put_u64(&b, w->n_tensors);
    put_u64(&b, w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        put_str(&b, w->kv[i].key);
        put_u32(&b, w->kv[i].type);
        put(&b, w->kv[i].payload, w->kv[i].payload_len);
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const vb_tensor *t = &w->tensors[i].t;
        put_str(&b, t->name);
        put_u32(&b, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++)
            put_u64(&b, (uint64_t)t->ne[d]);
        put_u32(&b, (uint32_t)t->type);
        put_u64(&b, offset);
        offset += (t->nbytes + align - 1) / align * align;
    }
    static const uint8_t zeros[VB_GGUF_DEFAULT_ALIGNMENT];
    put(&b, zeros, (align - b.len % align) % align);
    if (data.len)
        put(&b, data.p, data.len);
    free(data.p);
    if (b.oom) {
        free(b.p);
        return vb_fail(e, VB_EXIT_IO, "out of memory serializing GGUF");
    }
    *out = b.p;
    *size = b.len;
    return 0;
}

int vb_gguf_write(vb_gguf_writer *w, const char *path, vb_err *e)
{
    uint8_t *buf;
    size_t size;
    if (vb_gguf_serialize(w, &buf, &size, e))
        return -1;
    int rc = vb_write_file_atomic(path, buf, size, e);
    free(buf);
    return rc;
}
