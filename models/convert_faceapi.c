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
    /* Detector nets only (n_anchors 0 otherwise): face-api.js src/tinyFaceDetector/const.ts. */
    int n_anchors;
    float anchors[5][2];
    float iou_threshold, score_threshold;
} net_desc;

static const net_desc nets[] = {
    /* dlib's training convention: (pixel - mean) / 256 (see ../shared/docs/model.md). */
    {"face_recognition_model", "face_recognition", "face_recognition", 150, 150, 3,
     {122.782f, 117.001f, 104.298f}, 1.0f / 256.0f, 128, "euclidean", 0.6f, 0, {{0}}, 0, 0},
    /* TinyYolov2Base.forwardInput: (pixel - MEAN_RGB) / 255 at input 416 (TinyYolov2Options'
     * default); 13 x 13 cells x 5 anchors x (x, y, w, h, score). IOU_THRESHOLD 0.4, default
     * scoreThreshold 0.5. */
    {"tiny_face_detector_model", "tiny_face_detector", "tiny_face_detector", 416, 416, 3,
     {117.001f, 114.697f, 97.404f}, 1.0f / 255.0f, 13 * 13 * 5 * 5, NULL, 0, 5,
     {{1.603231f, 2.094468f}, {6.041143f, 7.080126f}, {2.882459f, 3.518061f},
      {4.266906f, 5.178857f}, {9.041765f, 10.66308f}},
     0.4f, 0.5f},
    /* FaceFeatureExtractor.forwardInput: (pixel - mean) / 255 at 112; 68 (x, y) pairs. */
    {"face_landmark_68_model", "face_landmark_68", "face_landmark_68", 112, 112, 3,
     {122.782f, 117.001f, 104.298f}, 1.0f / 255.0f, 136, NULL, 0, 0, {{0}}, 0, 0},
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

/* A face-api.js depthwise filter: [kh][kw][c][1], named <layer>/depthwise_filter. */
static int is_depthwise(const char *name, const int *shape, int rank)
{
    const char *suffix = "depthwise_filter";
    size_t n = strlen(name), k = strlen(suffix);
    return rank == 4 && shape[3] == 1 && n >= k && !strcmp(name + n - k, suffix);
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
    if (d->n_anchors) {
        rc |= vb_gguf_set_str(w, VB_KEY_DET_KIND, "tiny_yolo");
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

static int add_tensors(vb_gguf_writer *w, const cJSON *manifest, const uint8_t *bin, size_t bin_size,
                       const char *manifest_path, const char *bin_path, vb_err *e)
{
    size_t pos = 0;
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
            if (rank < 1 || rank > VB_MAX_DIMS)
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
            float *src = vb_malloc(count * sizeof(float), e), *dst = vb_malloc(count * sizeof(float), e);
            int64_t ne[VB_MAX_DIMS] = {1, 1, 1, 1};
            int rc = -1;
            if (src && dst &&
                !decode_values(entry, name->valuestring, bin, bin_size, &pos, count, src, bin_path, e)) {
                int gguf_rank = to_gguf_layout(name->valuestring, src, dims, rank, dst, ne);
                rc = vb_gguf_add_tensor(w, name->valuestring, VB_F32, gguf_rank, ne, dst, count * sizeof(float));
                if (rc)
                    vb_fail(e, VB_EXIT_IO, "%s: cannot add tensor %s", manifest_path, name->valuestring);
            }
            free(src);
            free(dst);
            if (rc)
                return -1;
        }
    }
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
