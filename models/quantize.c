#include "models/quantize.h"

#include <stdlib.h>
#include <string.h>

#include "models/arch.h"

static const char *const level_names[VB_QUANT_COUNT] = {"fp32", "fp16", "int8", "int4"};

const char *vb_quant_name(vb_quant_level l)
{
    return l >= 0 && l < VB_QUANT_COUNT ? level_names[l] : "?";
}

int vb_quant_parse(const char *name, vb_quant_level *out)
{
    for (int i = 0; i < VB_QUANT_COUNT; i++)
        if (!strcmp(name, level_names[i])) {
            *out = (vb_quant_level)i;
            return 0;
        }
    return -1;
}

vb_dtype vb_quant_weight_type(vb_quant_level l, int64_t ne0)
{
    switch (l) {
    case VB_QUANT_FP32: return VB_F32;
    case VB_QUANT_FP16: return VB_F16;
    case VB_QUANT_INT8: return ne0 % VB_QBLOCK == 0 ? VB_Q8_0 : VB_F16;
    case VB_QUANT_INT4: return ne0 % VB_QBLOCK == 0 ? VB_Q4_0 : VB_F16;
    case VB_QUANT_COUNT: break;
    }
    return VB_F32;
}

/* Conv filters (4-D) and fc weights (2-D) are quantized; vectors and depthwise filters
 * (3-D: VB_OP_DWCONV reads F32 only, and they are a few KB) keep their type. */
static int is_quantized_weight(const vb_tensor *t)
{
    return t->n_dims == 2 || t->n_dims == 4;
}

int vb_quantize_to_writer(const vb_model *src, vb_quant_level l, vb_gguf_writer *w, FILE *log, vb_err *e)
{
    if (vb_gguf_copy_kv(w, src))
        return vb_fail(e, VB_EXIT_IO, "out of memory copying metadata");
    char **record = calloc(src->n_tensors ? src->n_tensors : 1, sizeof(char *));
    size_t n_record = 0;
    int rc = -1;
    if (!record)
        return vb_fail(e, VB_EXIT_IO, "out of memory");
    for (size_t i = 0; i < src->n_tensors; i++) {
        const vb_tensor *t = &src->tensors[i];
        int64_t n = vb_tensor_nelements(t);
        vb_dtype target = is_quantized_weight(t) ? vb_quant_weight_type(l, t->ne[0]) : t->type;
        if (is_quantized_weight(t) && target == VB_F16 && t->type == VB_F32 && l == VB_QUANT_FP32)
            target = VB_F32;
        float *f = vb_malloc((size_t)n * sizeof(float), e);
        size_t bytes = vb_dtype_row_bytes(target, t->ne[0]) * (size_t)(n / t->ne[0]);
        uint8_t *q = f ? vb_malloc(bytes, e) : NULL;
        if (!q || vb_tensor_to_f32(t, f, e)) {
            free(f);
            free(q);
            goto done;
        }
        vb_dtype_from_f32_rows(target, f, t->ne[0], n / t->ne[0], q);
        int add = vb_gguf_add_tensor(w, t->name, target, t->n_dims, t->ne, q, bytes);
        free(f);
        free(q);
        if (add) {
            vb_fail(e, VB_EXIT_IO, "out of memory adding tensor %s", t->name);
            goto done;
        }
        if (is_quantized_weight(t)) {
            char line[200];
            snprintf(line, sizeof line, "%s=%s", t->name, vb_dtype_name(target));
            record[n_record++] = strdup(line);
            if (log)
                fprintf(log, "%-40s %-5s -> %s%s\n", t->name, vb_dtype_name(t->type), vb_dtype_name(target),
                        (l >= VB_QUANT_INT8 && target == VB_F16) ? "  (rows not a multiple of 32: kept at fp16)" : "");
        }
    }
    if (vb_gguf_set_str(w, VB_KEY_QUANT, vb_quant_name(l)) ||
        vb_gguf_set_str_array(w, VB_KEY_QUANTIZED, (const char *const *)record, n_record))
        vb_fail(e, VB_EXIT_IO, "out of memory writing metadata");
    else
        rc = 0;
done:
    for (size_t i = 0; i < n_record; i++)
        free(record[i]);
    free(record);
    return rc;
}

int vb_model_quantize(const vb_model *src, vb_quant_level l, vb_model *dst, FILE *log, vb_err *e)
{
    vb_gguf_writer *w = vb_gguf_writer_new();
    uint8_t *buf = NULL;
    size_t size = 0;
    if (!w)
        return vb_fail(e, VB_EXIT_IO, "out of memory");
    int rc = vb_quantize_to_writer(src, l, w, log, e);
    if (!rc)
        rc = vb_gguf_serialize(w, &buf, &size, e);
    vb_gguf_writer_free(w);
    if (rc)
        return -1;
    char name[1100];
    snprintf(name, sizeof name, "%s[%s]", src->path, vb_quant_name(l));
    return vb_model_parse(buf, size, name, dst, e);
}
