/* face-api.js weights -> GGUF.
 * The manifest lists tensors in .bin order; a tensor with `quantization {dtype: uint8,
 * scale, min}` is stored as one byte per value and decodes as q * scale + min (tfjs
 * computes that in double and stores float32; so do we, bit for bit). Filters are HWIO in
 * the manifest and become OHWI here (see models/tensor.h), fc [in][out] becomes [out][in];
 * depthwise filters [kh][kw][c][1] keep their order and drop the unit axis (ne = {c, kw,
 * kh}, what VB_OP_DWCONV reads). */
#include "models/convert_faceapi.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "models/arch.h"
#include "models/face_detect.h"
#include "models/gguf.h"

typedef struct net_desc {
    const char *net;        /* file stem in the npm package: <net>-weights_manifest.json */
    const char *out_name;   /* GGUF file stem */
    const char *arch;
    int in_h, in_w, in_c;
    float mean[3];
    float scale;
    int out_dim;
    const char *distance;   /* descriptor nets only (NULL: no distance/threshold keys) */
    float threshold;
    /* Detector nets only (det_kind NULL otherwise): VB_KEY_DET_KIND; the tiny detector's
     * anchors (face-api.js src/tinyFaceDetector/const.ts; the SSD's are its tensor
     * Output/extra_dim). */
    const char *det_kind;
    int n_anchors;
    float anchors[5][2];
    float iou_threshold, score_threshold;
} net_desc;

static const net_desc nets[] = {
    /* dlib's training convention: (pixel - mean) / 256 (see ../shared/docs/model.md). */
    {"face_recognition_model", "face_recognition", "face_recognition", 150, 150, 3,
     {122.782f, 117.001f, 104.298f}, 1.0f / 256.0f, 128, "euclidean", 0.6f, NULL, 0, {{0}}, 0, 0},
    /* TinyYolov2Base.forwardInput: (pixel - MEAN_RGB) / 255 at input 416 (TinyYolov2Options'
     * default); 13 x 13 cells x 5 anchors x (x, y, w, h, score). IOU_THRESHOLD 0.4, default
     * scoreThreshold 0.5. */
    {"tiny_face_detector_model", "tiny_face_detector", "tiny_face_detector", 416, 416, 3,
     {117.001f, 114.697f, 97.404f}, 1.0f / 255.0f, 13 * 13 * 5 * 5, NULL, 0, "tiny_yolo", 5,
     {{1.603231f, 2.094468f}, {6.041143f, 7.080126f}, {2.882459f, 3.518061f},
      {4.266906f, 5.178857f}, {9.041765f, 10.66308f}},
     0.4f, 0.5f},
    /* FaceFeatureExtractor.forwardInput: (pixel - mean) / 255 at 112; 68 (x, y) pairs. */
    {"face_landmark_68_model", "face_landmark_68", "face_landmark_68", 112, 112, 3,
     {122.782f, 117.001f, 104.298f}, 1.0f / 255.0f, 136, NULL, 0, NULL, 0, {{0}}, 0, 0},
    /* SsdMobilenetv1.forwardInput: x / 127.5 - 1 at 512; 5118 anchors x 4 box encodings then
     * 5118 x 3 class logits (models/arch_ssd_mobilenetv1.c). locateFaces: iouThreshold 0.5;
     * SsdMobilenetv1Options' default minConfidence 0.5 (maxResults 100: VB_DET_SSD_MAX). */
    {"ssd_mobilenetv1_model", "ssd_mobilenetv1", "ssd_mobilenetv1", 512, 512, 3, {127.5f, 127.5f, 127.5f},
     1.0f / 127.5f, 5118 * 7, NULL, 0, "ssd", 0, {{0}}, 0.5f, 0.5f},
};

static const net_desc *find_net(const char *net)
{
    for (size_t i = 0; i < VB_ARRAY_LEN(nets); i++)
        if (!strcmp(nets[i].net, net))
            return &nets[i];
    return NULL;
}

/* Decode one manifest entry's values from the .bin into float32, source layout. */
static int decode_values(const cJSON *entry, const char *name, const uint8_t *bin, size_t bin_size,
                         size_t *pos, size_t count, float *out, const char *path, vb_err *e)
{
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(entry, "quantization");
    if (!cJSON_IsString(dtype) || strcmp(dtype->valuestring, "float32"))
        return vb_fail(e, VB_EXIT_INPUT, "%s: tensor %s: unsupported dtype (expected float32)", path, name);
    if (!q) {
        if (count > (bin_size - *pos) / 4)
            return vb_fail(e, VB_EXIT_INPUT, "%s: weights file too short for tensor %s", path, name);
        for (size_t i = 0; i < count; i++) {
            uint32_t u = (uint32_t)bin[*pos] | (uint32_t)bin[*pos + 1] << 8 |
                         (uint32_t)bin[*pos + 2] << 16 | (uint32_t)bin[*pos + 3] << 24;
            memcpy(&out[i], &u, 4);
            *pos += 4;
        }
        return 0;
    }
    const cJSON *qd = cJSON_GetObjectItemCaseSensitive(q, "dtype");
    const cJSON *scale = cJSON_GetObjectItemCaseSensitive(q, "scale");
    const cJSON *min = cJSON_GetObjectItemCaseSensitive(q, "min");
    if (!cJSON_IsString(qd) || !cJSON_IsNumber(scale) || !cJSON_IsNumber(min))
        return vb_fail(e, VB_EXIT_INPUT, "%s: tensor %s: quantization needs dtype, scale and min", path, name);
    size_t width = !strcmp(qd->valuestring, "uint8") ? 1 : !strcmp(qd->valuestring, "uint16") ? 2 : 0;
    if (!width)
        return vb_fail(e, VB_EXIT_INPUT, "%s: tensor %s: unsupported quantization dtype %s", path, name,
                       qd->valuestring);
    if (count > (bin_size - *pos) / width)
        return vb_fail(e, VB_EXIT_INPUT, "%s: weights file too short for tensor %s", path, name);
    for (size_t i = 0; i < count; i++) {
        unsigned v = bin[*pos];
        if (width == 2)
            v |= (unsigned)bin[*pos + 1] << 8;
        *pos += width;
        out[i] = (float)((double)v * scale->valuedouble + min->valuedouble);
    }
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* A face-api.js depthwise filter: [kh][kw][c][1], named <layer>/depthwise_filter (tiny
 * detector, landmarks) or <layer>/depthwise_weights (SSD MobileNet v1). */
static int is_depthwise(const char *name, const int *shape, int rank)
{
    return rank == 4 && shape[3] == 1 && (ends_with(name, "depthwise_filter") || ends_with(name, "depthwise_weights"));
}

/* Source layout -> GGUF layout. HWIO filters -> OHWI; depthwise [kh][kw][c][1] -> HWC
 * (the same bytes, rank 3); 2-D [in][out] -> [out][in]. Returns the GGUF rank. */
static int to_gguf_layout(const char *name, const float *src, const int *shape, int rank, float *dst,
                          int64_t *ne)
{
    if (is_depthwise(name, shape, rank)) {
        memcpy(dst, src, (size_t)shape[0] * shape[1] * shape[2] * sizeof(float));
        ne[0] = shape[2], ne[1] = shape[1], ne[2] = shape[0];
        return 3;
    }
    if (rank == 4) {
        int kh = shape[0], kw = shape[1], ci = shape[2], co = shape[3];
        for (int y = 0; y < kh; y++)
            for (int x = 0; x < kw; x++)
                for (int i = 0; i < ci; i++)
                    for (int o = 0; o < co; o++)
                        dst[(((size_t)o * kh + y) * kw + x) * ci + i] = src[(((size_t)y * kw + x) * ci + i) * co + o];
        ne[0] = ci, ne[1] = kw, ne[2] = kh, ne[3] = co;
    } else if (rank == 2) {
        int in = shape[0], out = shape[1];
        for (int i = 0; i < in; i++)
            for (int o = 0; o < out; o++)
                dst[(size_t)o * in + i] = src[(size_t)i * out + o];
        ne[0] = in, ne[1] = out;
    } else {
        size_t n = 1;
        for (int d = 0; d < rank; d++) {
            n *= (size_t)shape[d];
            ne[rank - 1 - d] = shape[d];
        }
        memcpy(dst, src, n * sizeof(float));
    }
    return rank;
}

static int add_metadata(vb_gguf_writer *w, const net_desc *d, const char *model_dir,
                        const char *manifest_path, const char *bin_path, vb_err *e)
{
    char sha_manifest[65], sha_bin[65];
    if (vb_sha256_file(manifest_path, sha_manifest, e) || vb_sha256_file(bin_path, sha_bin, e))
        return -1;
    char pkg_name[128] = "@vladmandic/face-api", pkg_version[64] = "unknown";
    char pkg_path[1200];
    snprintf(pkg_path, sizeof pkg_path, "%s/../package.json", model_dir);
    uint8_t *pkg;
    size_t pkg_size;
    vb_err ignored;
    if (vb_read_file(pkg_path, 1 << 20, &pkg, &pkg_size, &ignored) == 0) {
        cJSON *j = cJSON_Parse((const char *)pkg);
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "name");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "version");
        if (cJSON_IsString(n))
            snprintf(pkg_name, sizeof pkg_name, "%s", n->valuestring);
        if (cJSON_IsString(v))
            snprintf(pkg_version, sizeof pkg_version, "%s", v->valuestring);
        cJSON_Delete(j);
        free(pkg);
    }
    const char *base_manifest = strrchr(manifest_path, '/') ? strrchr(manifest_path, '/') + 1 : manifest_path;
    const char *base_bin = strrchr(bin_path, '/') ? strrchr(bin_path, '/') + 1 : bin_path;
    char files0[300], files1[300];
    snprintf(files0, sizeof files0, "%s  %s", sha_manifest, base_manifest);
    snprintf(files1, sizeof files1, "%s  %s", sha_bin, base_bin);
    const char *files[2] = {files0, files1};
    int rc = 0;
    rc |= vb_gguf_set_str(w, VB_KEY_ARCH, d->arch);
    rc |= vb_gguf_set_str(w, "general.name", d->net);
    rc |= vb_gguf_set_str(w, "general.license", "MIT");
    rc |= vb_gguf_set_u32(w, "general.alignment", VB_GGUF_DEFAULT_ALIGNMENT);
    rc |= vb_gguf_set_u32(w, VB_KEY_IN_H, (uint32_t)d->in_h);
    rc |= vb_gguf_set_u32(w, VB_KEY_IN_W, (uint32_t)d->in_w);
    rc |= vb_gguf_set_u32(w, VB_KEY_IN_C, (uint32_t)d->in_c);
    rc |= vb_gguf_set_str(w, "veribench.input.layout", "NHWC, RGB 0..255 resized bilinear "
                          "(TF resizeBilinear, alignCorners=false, halfPixelCenters=false)");
    rc |= vb_gguf_set_f32_array(w, VB_KEY_IN_MEAN, d->mean, (size_t)d->in_c);
    rc |= vb_gguf_set_f32(w, VB_KEY_IN_SCALE, d->scale);
    rc |= vb_gguf_set_u32(w, VB_KEY_OUT_DIM, (uint32_t)d->out_dim);
    if (d->distance) {
        rc |= vb_gguf_set_str(w, VB_KEY_OUT_DISTANCE, d->distance);
        rc |= vb_gguf_set_f32(w, VB_KEY_OUT_THRESHOLD, d->threshold);
    }
    if (d->det_kind) {
        rc |= vb_gguf_set_str(w, VB_KEY_DET_KIND, d->det_kind);
        if (d->n_anchors)
            rc |= vb_gguf_set_f32_array(w, VB_KEY_DET_ANCHORS, &d->anchors[0][0], 2 * (size_t)d->n_anchors);
        rc |= vb_gguf_set_f32(w, VB_KEY_DET_IOU, d->iou_threshold);
        rc |= vb_gguf_set_f32(w, VB_KEY_DET_SCORE, d->score_threshold);
    }
    rc |= vb_gguf_set_str(w, VB_KEY_QUANT, "fp32");
    rc |= vb_gguf_set_str(w, "veribench.layout",
                          "conv filters OHWI ne={cin,kw,kh,cout}; depthwise filters HWC ne={c,kw,kh}; "
                          "fc [out][in] ne={in,out}; vectors F32; quantized blocks run along ne[0]");
    rc |= vb_gguf_set_str(w, "veribench.source.package", pkg_name);
    rc |= vb_gguf_set_str(w, "veribench.source.version", pkg_version);
    rc |= vb_gguf_set_str_array(w, "veribench.source.sha256", files, 2);
    return rc ? vb_fail(e, VB_EXIT_IO, "out of memory writing metadata") : 0;
}

/* tf.batchNorm's epsilon in mobileNetV1.ts (0.001 as float32). */
#define BN_EPSILON 0.0010000000474974513

/* The four vectors of one <layer>/BatchNorm, collected as the manifest lists them (gamma,
 * beta, moving_mean, moving_variance of a layer are adjacent). */
typedef struct batch_norm {
    char layer[256];
    float *v[4]; /* gamma, beta, mean, variance */
    size_t n;
} batch_norm;

static const char *const bn_parts[4] = {"/BatchNorm/gamma", "/BatchNorm/beta", "/BatchNorm/moving_mean",
                                        "/BatchNorm/moving_variance"};

static void bn_clear(batch_norm *bn)
{
    for (int i = 0; i < 4; i++)
        free(bn->v[i]);
    memset(bn, 0, sizeof *bn);
}

/* Takes a decoded vector that is part of a BatchNorm (returns 1: bn owns `values` now), or
 * leaves it (0). When the layer's four are in, adds <layer>/bn_scale = gamma / sqrt(variance
 * + eps) and <layer>/bn_shift = beta - mean * bn_scale (double, rounded once), the affine
 * models/arch_ssd_mobilenetv1.c runs in place of tf.batchNorm. -1 on a writer error. */
static int bn_take(vb_gguf_writer *w, batch_norm *bn, const char *name, float *values, size_t count, int rank,
                   const char *manifest_path, vb_err *e)
{
    int part = -1;
    for (int i = 0; i < 4; i++)
        if (rank == 1 && ends_with(name, bn_parts[i]))
            part = i;
    if (part < 0)
        return 0;
    size_t layer_len = strlen(name) - strlen(bn_parts[part]);
    if (layer_len >= sizeof bn->layer)
        return 0;
    if (strncmp(bn->layer, name, layer_len) || bn->layer[layer_len] || bn->n != count) {
        bn_clear(bn);
        memcpy(bn->layer, name, layer_len);
        bn->layer[layer_len] = 0;
        bn->n = count;
    }
    free(bn->v[part]);
    bn->v[part] = values;
    if (!bn->v[0] || !bn->v[1] || !bn->v[2] || !bn->v[3])
        return 1;
    float *scale = vb_malloc(count * sizeof(float), e), *shift = vb_malloc(count * sizeof(float), e);
    int rc = -1;
    if (scale && shift) {
        for (size_t c = 0; c < count; c++) {
            double s = (double)bn->v[0][c] / sqrt((double)bn->v[3][c] + BN_EPSILON);
            scale[c] = (float)s;
            shift[c] = (float)((double)bn->v[1][c] - (double)bn->v[2][c] * s);
        }
        char sname[300], tname[300];
        snprintf(sname, sizeof sname, "%s/bn_scale", bn->layer);
        snprintf(tname, sizeof tname, "%s/bn_shift", bn->layer);
        int64_t ne[VB_MAX_DIMS] = {(int64_t)count, 1, 1, 1};
        rc = vb_gguf_add_tensor(w, sname, VB_F32, 1, ne, scale, count * sizeof(float)) ||
                     vb_gguf_add_tensor(w, tname, VB_F32, 1, ne, shift, count * sizeof(float))
                 ? vb_fail(e, VB_EXIT_IO, "%s: cannot add the batch norm of %s", manifest_path, bn->layer)
                 : 1;
    }
    free(scale);
    free(shift);
    bn_clear(bn);
    return rc;
}

/* An int32 entry (the TensorFlow export's shape and axis constants, which face-api.js never
 * reads: SSD MobileNet v1 has a few): its bytes are stepped over, no tensor is written.
 * Returns 1 when skipped, 0 when not int32, -1 when the file is too short. */
static int skip_int32(const cJSON *entry, const char *name, size_t count, size_t bin_size, size_t *pos,
                      const char *path, vb_err *e)
{
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    if (!cJSON_IsString(dtype) || strcmp(dtype->valuestring, "int32"))
        return 0;
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(entry, "quantization");
    const cJSON *qd = q ? cJSON_GetObjectItemCaseSensitive(q, "dtype") : NULL;
    size_t width = !q ? 4 : cJSON_IsString(qd) && !strcmp(qd->valuestring, "uint8") ? 1
                          : cJSON_IsString(qd) && !strcmp(qd->valuestring, "uint16") ? 2 : 0;
    if (!width)
        return vb_fail(e, VB_EXIT_INPUT, "%s: tensor %s: unsupported quantization", path, name);
    if (count > (bin_size - *pos) / width)
        return vb_fail(e, VB_EXIT_INPUT, "%s: weights file too short for tensor %s", path, name);
    *pos += count * width;
    return 1;
}

static int add_tensors(vb_gguf_writer *w, const cJSON *manifest, const uint8_t *bin, size_t bin_size,
                       const char *manifest_path, const char *bin_path, vb_err *e)
{
    size_t pos = 0;
    batch_norm bn = {0};
    const cJSON *group;
    cJSON_ArrayForEach(group, manifest) {
        const cJSON *weights = cJSON_GetObjectItemCaseSensitive(group, "weights");
        if (!cJSON_IsArray(weights))
            return vb_fail(e, VB_EXIT_INPUT, "%s: weight group without a 'weights' array", manifest_path);
        const cJSON *entry;
        cJSON_ArrayForEach(entry, weights) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(entry, "name");
            const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
            if (!cJSON_IsString(name) || !cJSON_IsArray(shape))
                return vb_fail(e, VB_EXIT_INPUT, "%s: weight entry without name or shape", manifest_path);
            int dims[VB_MAX_DIMS], rank = cJSON_GetArraySize(shape);
            if (rank < 0 || rank > VB_MAX_DIMS)
                return vb_fail(e, VB_EXIT_INPUT, "%s: tensor %s has rank %d", manifest_path, name->valuestring, rank);
            size_t count = 1;
            for (int d = 0; d < rank; d++) {
                const cJSON *s = cJSON_GetArrayItem(shape, d);
                if (!cJSON_IsNumber(s) || s->valuedouble < 1 || s->valuedouble > 1e7 ||
                    s->valuedouble != floor(s->valuedouble))
                    return vb_fail(e, VB_EXIT_INPUT, "%s: tensor %s has a bad dimension", manifest_path, name->valuestring);
                dims[d] = s->valueint;
                count *= (size_t)dims[d];
                if (count > ((size_t)1 << 30))
                    return vb_fail(e, VB_EXIT_INPUT, "%s: tensor %s is too large", manifest_path, name->valuestring);
            }
            if (rank == 0) /* a scalar (SSD MobileNet v1's export constants): stored as a 1-vector */
                dims[rank++] = 1;
            int skipped = skip_int32(entry, name->valuestring, count, bin_size, &pos, bin_path, e);
            if (skipped) {
                if (skipped < 0) {
                    bn_clear(&bn);
                    return -1;
                }
                continue;
            }
            float *src = vb_malloc(count * sizeof(float), e), *dst = vb_malloc(count * sizeof(float), e);
            int64_t ne[VB_MAX_DIMS] = {1, 1, 1, 1};
            int rc = -1;
            if (src && dst &&
                !decode_values(entry, name->valuestring, bin, bin_size, &pos, count, src, bin_path, e)) {
                int gguf_rank = to_gguf_layout(name->valuestring, src, dims, rank, dst, ne);
                rc = vb_gguf_add_tensor(w, name->valuestring, VB_F32, gguf_rank, ne, dst, count * sizeof(float));
                if (rc)
                    vb_fail(e, VB_EXIT_IO, "%s: cannot add tensor %s", manifest_path, name->valuestring);
                else if ((rc = bn_take(w, &bn, name->valuestring, src, count, rank, manifest_path, e)) > 0)
                    src = NULL, rc = 0; /* bn keeps it */
            }
            free(src);
            free(dst);
            if (rc) {
                bn_clear(&bn);
                return -1;
            }
        }
    }
    bn_clear(&bn);
    if (pos != bin_size)
        return vb_fail(e, VB_EXIT_INPUT, "%s: %zu bytes left over after the last tensor (manifest and weights disagree)",
                       bin_path, bin_size - pos);
    return 0;
}

int vb_convert_faceapi_net(const char *model_dir, const char *net, const char *out_path, vb_err *e)
{
    const net_desc *d = find_net(net);
    if (!d)
        return vb_fail(e, VB_EXIT_USAGE, "no converter for face-api.js net '%s'", net);
    char manifest_path[1200], bin_path[1200];
    snprintf(manifest_path, sizeof manifest_path, "%s/%s-weights_manifest.json", model_dir, net);
    uint8_t *text = NULL, *bin = NULL;
    size_t text_size, bin_size;
    if (vb_read_file(manifest_path, 16 << 20, &text, &text_size, e))
        return -1;
    cJSON *manifest = cJSON_Parse((const char *)text);
    free(text);
    if (!cJSON_IsArray(manifest)) {
        cJSON_Delete(manifest);
        return vb_fail(e, VB_EXIT_INPUT, "%s: not a tfjs weights manifest (expected a JSON array)", manifest_path);
    }
    /* All groups name their shard files; face-api.js nets use one shard. */
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(manifest, 0), "paths");
    const cJSON *first = cJSON_GetArrayItem(paths, 0);
    if (!cJSON_IsString(first) || cJSON_GetArraySize(manifest) != 1 || cJSON_GetArraySize(paths) != 1) {
        cJSON_Delete(manifest);
        return vb_fail(e, VB_EXIT_INPUT, "%s: expected exactly one weights group with one shard", manifest_path);
    }
    if (strchr(first->valuestring, '/')) {
        cJSON_Delete(manifest);
        return vb_fail(e, VB_EXIT_INPUT, "%s: shard path '%s' leaves the model folder", manifest_path, first->valuestring);
    }
    snprintf(bin_path, sizeof bin_path, "%s/%s", model_dir, first->valuestring);
    vb_gguf_writer *w = vb_gguf_writer_new();
    int rc = -1;
    if (!w)
        vb_fail(e, VB_EXIT_IO, "out of memory");
    else if (!vb_read_file(bin_path, 256 << 20, &bin, &bin_size, e) &&
             !add_metadata(w, d, model_dir, manifest_path, bin_path, e) &&
             !add_tensors(w, manifest, bin, bin_size, manifest_path, bin_path, e))
        rc = vb_gguf_write(w, out_path, e);
    free(bin);
    cJSON_Delete(manifest);
    vb_gguf_writer_free(w);
    return rc;
}

int vb_convert_faceapi(const char *model_dir, const char *out_dir, FILE *report, vb_err *e)
{
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST)
        return vb_fail(e, VB_EXIT_IO, "%s: cannot create folder: %s", out_dir, strerror(errno));
    for (size_t i = 0; i < VB_ARRAY_LEN(nets); i++) {
        char out_path[1200];
        snprintf(out_path, sizeof out_path, "%s/%s.gguf", out_dir, nets[i].out_name);
        if (vb_convert_faceapi_net(model_dir, nets[i].net, out_path, e))
            return -1;
        if (report)
            fprintf(report, "%s\n", out_path);
    }
    return 0;
}
