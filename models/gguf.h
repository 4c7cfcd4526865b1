/* GGUF v3 model files: a validating reader and a writer.
 * Format (little-endian): "GGUF", u32 version, u64 n_tensors, u64 n_kv, n_kv key/value
 * pairs, n_tensors tensor infos (name, n_dims, ne[], type, offset), padding to
 * general.alignment (default 32), then the tensor data; every offset is relative to the
 * start of the data section and aligned.
 * Integrity: the writer records the SHA-256 of the tensor data block (from the data
 * section's start to the end of the file) under VB_GGUF_KEY_DATA_SHA256; the reader
 * refuses a file whose data does not match it, and any file with a non-finite F32/F16
 * weight or Q8_0/Q4_0 block scale, naming the tensor. A file without the key (written
 * before it existed) is read, and vb_model_load warns that damage cannot be detected. */
#ifndef VB_GGUF_H
#define VB_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "models/tensor.h"

enum vb_gguf_type {
    VB_GGUF_UINT8 = 0, VB_GGUF_INT8 = 1, VB_GGUF_UINT16 = 2, VB_GGUF_INT16 = 3,
    VB_GGUF_UINT32 = 4, VB_GGUF_INT32 = 5, VB_GGUF_FLOAT32 = 6, VB_GGUF_BOOL = 7,
    VB_GGUF_STRING = 8, VB_GGUF_ARRAY = 9, VB_GGUF_UINT64 = 10, VB_GGUF_INT64 = 11,
    VB_GGUF_FLOAT64 = 12, VB_GGUF_TYPE_COUNT
};

#define VB_GGUF_DEFAULT_ALIGNMENT 32
#define VB_GGUF_KEY_DATA_SHA256 "veribench.tensor_data.sha256"

/* One metadata value. Scalars are widened into u/i/f; strings are NUL-terminated
 * copies; arrays hold arr_n elements of arr_type (strings as char*[]), widened the same
 * way into arr_u / arr_i / arr_f / arr_s. */
typedef struct vb_kv {
    char *key;
    uint32_t type;
    uint64_t u;
    int64_t i;
    double f;
    char *str;
    uint32_t arr_type;
    uint64_t arr_n;
    uint64_t *arr_u;
    int64_t *arr_i;
    double *arr_f;
    char **arr_s;
} vb_kv;

typedef struct vb_model {
    char path[1024];
    uint32_t version;
    vb_kv *kv;
    size_t n_kv;
    vb_tensor *tensors;
    size_t n_tensors;
    uint8_t *file_data; /* owned: the whole file */
    size_t file_size;
    size_t alignment;
    size_t data_offset;
    int data_checksum; /* 1: tensor data matched its recorded SHA-256; 0: no checksum recorded */
} vb_model;

/* Upper bound on a model file we agree to read (refused above, never allocated). */
#define VB_GGUF_MAX_FILE_BYTES ((size_t)1 << 32)

int vb_model_load(const char *path, vb_model *m, vb_err *e);
/* Parse an in-memory file; takes ownership of buf (freed by vb_model_free, or on error). */
int vb_model_parse(uint8_t *buf, size_t size, const char *path_for_errors, vb_model *m, vb_err *e);
void vb_model_free(vb_model *m);

const vb_tensor *vb_model_tensor(const vb_model *m, const char *name);
const vb_kv *vb_model_kv(const vb_model *m, const char *key);
/* Typed getters: fail with a message naming the file and key when missing or mistyped. */
int vb_model_get_str(const vb_model *m, const char *key, const char **out, vb_err *e);
int vb_model_get_u32(const vb_model *m, const char *key, uint32_t *out, vb_err *e);
int vb_model_get_f32(const vb_model *m, const char *key, float *out, vb_err *e);
int vb_model_get_f32_array(const vb_model *m, const char *key, float *out, size_t n, vb_err *e);
/* Total bytes of tensor data (model size for reports). */
size_t vb_model_tensor_bytes(const vb_model *m);

/* Writer. Values and tensor data are copied. */
typedef struct vb_gguf_writer vb_gguf_writer;
vb_gguf_writer *vb_gguf_writer_new(void);
void vb_gguf_writer_free(vb_gguf_writer *w);
int vb_gguf_set_str(vb_gguf_writer *w, const char *key, const char *val);
int vb_gguf_set_u32(vb_gguf_writer *w, const char *key, uint32_t val);
int vb_gguf_set_f32(vb_gguf_writer *w, const char *key, float val);
int vb_gguf_set_f32_array(vb_gguf_writer *w, const char *key, const float *vals, size_t n);
int vb_gguf_set_str_array(vb_gguf_writer *w, const char *key, const char *const *vals, size_t n);
/* Copy every key/value of a loaded model (used by quantize). */
int vb_gguf_copy_kv(vb_gguf_writer *w, const vb_model *m);
int vb_gguf_add_tensor(vb_gguf_writer *w, const char *name, vb_dtype type, int n_dims,
                       const int64_t *ne, const void *data, size_t nbytes);
/* Write to path atomically (temporary file + rename). */
int vb_gguf_write(vb_gguf_writer *w, const char *path, vb_err *e);
/* Serialize to memory; caller frees *buf. Sets VB_GGUF_KEY_DATA_SHA256 in w first (so
 * the checksum of a copied model, as quantize makes, is always recomputed). */
int vb_gguf_serialize(vb_gguf_writer *w, uint8_t **buf, size_t *size, vb_err *e);

#endif
