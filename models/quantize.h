/* Weight quantization levels for the sweep: fp32, fp16, int8 (ggml Q8_0), int4 (ggml Q4_0).
 * Only conv filters and fc weights (4-D and 2-D tensors) are quantized; vectors and
 * depthwise filters (3-D) stay F32.
 * A tensor whose rows (ne[0], the contiguous part of each output's reduction) are not a
 * multiple of 32 cannot hold Q8_0/Q4_0 blocks and stays at the next higher level that fits
 * (fp16). */
#ifndef VB_QUANTIZE_H
#define VB_QUANTIZE_H

#include "models/gguf.h"

typedef enum vb_quant_level { VB_QUANT_FP32, VB_QUANT_FP16, VB_QUANT_INT8, VB_QUANT_INT4, VB_QUANT_COUNT } vb_quant_level;

const char *vb_quant_name(vb_quant_level l);
int vb_quant_parse(const char *name, vb_quant_level *out);
/* The tensor type a weight of row length ne0 gets at level l. */
vb_dtype vb_quant_weight_type(vb_quant_level l, int64_t ne0);

/* Write a quantized copy of src into a GGUF writer (metadata copied, veribench.quant and
 * veribench.quantized_tensors set). `log` (may be NULL) gets one line per weight tensor:
 * name, source type, new type. */
int vb_quantize_to_writer(const vb_model *src, vb_quant_level l, vb_gguf_writer *w, FILE *log, vb_err *e);

/* Quantize in memory: dst is a complete model (as if loaded from the quantized file). */
int vb_model_quantize(const vb_model *src, vb_quant_level l, vb_model *dst, FILE *log, vb_err *e);

#endif
