/* Tensors as stored in GGUF model files: ggml-compatible element types.
 *
 * Weight layout convention (documented in README "Model files"):
 *   conv filters  ne = {cin, kw, kh, cout}   i.e. [cout][kh][kw][cin] row-major (OHWI),
 *                 so one output channel's reduction (kh*kw*cin values) is one contiguous row;
 *   fc weights    ne = {in, out}             i.e. [out][in], one output's reduction per row;
 *   vectors       ne = {n}.
 * Quantized types block along the row (ne[0]-major flattening of everything but the last
 * dimension), so every block of 32 lies inside one output channel's reduction.
 */
#ifndef VB_TENSOR_H
#define VB_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

typedef enum vb_dtype {
    VB_F32 = 0,  /* ggml GGML_TYPE_F32 */
    VB_F16 = 1,  /* ggml GGML_TYPE_F16 */
    VB_Q4_0 = 2, /* ggml GGML_TYPE_Q4_0: 32 weights, fp16 scale d, q in 0..15, w = (q-8)*d */
    VB_Q8_0 = 8  /* ggml GGML_TYPE_Q8_0: 32 weights, fp16 scale d, q in -127..127, w = q*d */
} vb_dtype;

#define VB_QBLOCK 32
#define VB_Q4_0_BLOCK_BYTES 18 /* fp16 d + 16 bytes of nibbles */
#define VB_Q8_0_BLOCK_BYTES 34 /* fp16 d + 32 int8 */

/* The ggml block layouts (fp16 scale first, little-endian as bytes, so blocks need no
 * alignment). The row functions address blocks through these, so a layout change that
 * breaks file compatibility fails to build. */
typedef struct vb_block_q8_0 {
    uint8_t d[2];          /* fp16 scale */
    int8_t qs[VB_QBLOCK];  /* w = qs[j] * d */
} vb_block_q8_0;

typedef struct vb_block_q4_0 {
    uint8_t d[2];              /* fp16 scale */
    uint8_t qs[VB_QBLOCK / 2]; /* low nibbles: weights 0..15, high nibbles: 16..31; w = (q-8)*d */
} vb_block_q4_0;

_Static_assert(sizeof(vb_block_q8_0) == VB_Q8_0_BLOCK_BYTES, "Q8_0 block must be 34 bytes, as in ggml");
_Static_assert(sizeof(vb_block_q4_0) == VB_Q4_0_BLOCK_BYTES, "Q4_0 block must be 18 bytes, as in ggml");

#define VB_MAX_DIMS 4

typedef struct vb_tensor {
    char name[96];
    vb_dtype type;
    int n_dims;
    int64_t ne[VB_MAX_DIMS]; /* ne[0] fastest varying, as in ggml; unused dims are 1 */
    void *data;              /* points into the model's data block (not owned) */
    size_t nbytes;
} vb_tensor;

/* One row of every element type: its name, block shape and row conversions (as ggml's
 * type_traits). Indexed by vb_dtype; the one table everything about a type goes through
 * (models/type_traits.c). to_float/from_float convert n elements (a multiple of
 * block_len); from_float rounds as ggml's reference quantizers do. */
typedef struct vb_type_traits {
    const char *name;        /* "F32", "F16", "Q8_0", "Q4_0" */
    int block_len;           /* elements per block (1 for float types) */
    size_t block_bytes;      /* bytes per block */
    int is_quantized;
    void (*to_float)(const void *row, float *y, int64_t n);
    void (*from_float)(const float *x, void *row, int64_t n);
} vb_type_traits;

/* The traits of a type; NULL for a value that is no vb_dtype. */
const vb_type_traits *vb_type_traits_of(uint32_t t);

/* Known type? */
int vb_dtype_valid(uint32_t t);
const char *vb_dtype_name(vb_dtype t);
/* Elements per block (1 for float types). */
int vb_dtype_block_len(vb_dtype t);
/* Bytes per block. */
size_t vb_dtype_block_bytes(vb_dtype t);
/* Bytes for one row of n elements; 0 when n is not a multiple of the block length. */
size_t vb_dtype_row_bytes(vb_dtype t, int64_t n);
/* Total element count; -1 on overflow. */
int64_t vb_tensor_nelements(const vb_tensor *t);
/* Row length (ne[0]) and row count (product of the other dims). */
int64_t vb_tensor_nrows(const vb_tensor *t);

/* fp16 <-> fp32, IEEE binary16, round to nearest even (matches ggml's reference). */
uint16_t vb_fp32_to_fp16(float f);
float vb_fp16_to_fp32(uint16_t h);

/* Row conversions (the traits' to_float/from_float). n must be a multiple of 32 for the
 * quantized types. */
void vb_quantize_row_q8_0(const float *x, void *blocks, int64_t n);
void vb_quantize_row_q4_0(const float *x, void *blocks, int64_t n);
void vb_dequantize_row_q8_0(const void *blocks, float *y, int64_t n);
void vb_dequantize_row_q4_0(const void *blocks, float *y, int64_t n);
void vb_convert_row_f16(const float *x, void *y, int64_t n);
void vb_dequantize_row_f16(const void *x, float *y, int64_t n);

/* Encode n_rows rows of `row` floats as type t into out (n_rows * vb_dtype_row_bytes). */
void vb_dtype_from_f32_rows(vb_dtype t, const float *x, int64_t row, int64_t n_rows, void *out);

/* Decode any supported tensor into float32 (out has vb_tensor_nelements floats). */
int vb_tensor_to_f32(const vb_tensor *t, float *out, vb_err *e);

#endif
