#include "models/arch.h"

#include <stdio.h>
#include <string.h>

const vb_tensor *vb_arch_need(const vb_graph *g, const char *prefix, const char *suffix, vb_err *e)
{
    char name[160];
    snprintf(name, sizeof name, "%s%s%s", prefix, *prefix && *suffix ? "/" : "", suffix);
    const vb_tensor *t = vb_model_tensor(g->model, name);
    if (!t)
        vb_fail(e, VB_EXIT_INPUT, "%s: tensor '%s' not found (missing or renamed; the %s architecture needs it)",
                g->model->path, name, g->arch);
    return t;
}

/* descriptor: the net's output is a template compared by a distance at a threshold (the
 * keys VB_KEY_OUT_DISTANCE and VB_KEY_OUT_THRESHOLD are required); the detectors and the
 * landmark net feed the pipeline instead and have neither (g->distance NULL): their outputs
 * are coordinates (g->geometry). */
static const struct {
    const char *arch;
    int (*build)(vb_graph *g, vb_err *e);
    int descriptor; /* else a geometry net */
    int resizable;  /* fully convolutional: any square input side (vb_graph_build_sized) */
} builders[] = {
    {"face_recognition", vb_arch_face_recognition, 1, 0},
    {"tiny_face_detector", vb_arch_tiny_face_detector, 0, 1},
    {"ssd_mobilenetv1", vb_arch_ssd_mobilenetv1, 0, 0}, /* its anchors are laid out for 512 */
    {"face_landmark_68", vb_arch_face_landmark_68, 0, 0},
};

/* The output's distance and threshold, required for descriptor nets only. */
static int read_output_kind(const vb_model *m, int descriptor, vb_graph *g, vb_err *e)
{
    const char *distance;
    if (!descriptor)
        return 0;
    if (vb_model_get_str(m, VB_KEY_OUT_DISTANCE, &distance, e) ||
        vb_model_get_f32(m, VB_KEY_OUT_THRESHOLD, &g->threshold, e))
        return -1;
    g->distance = strcmp(distance, "euclidean") == 0 ? "euclidean" : NULL;
    if (!g->distance)
        return vb_fail(e, VB_EXIT_INPUT, "%s: unsupported %s '%s'", m->path, VB_KEY_OUT_DISTANCE, distance);
    return 0;
}

int vb_graph_build(const vb_model *m, vb_graph *g, vb_err *e)
{
    return vb_graph_build_sized(m, 0, g, e);
}

int vb_graph_build_sized(const vb_model *m, int side, vb_graph *g, vb_err *e)
{
    memset(g, 0, sizeof *g);
    g->model = m;
    const char *arch;
    uint32_t h, w, c, dim;
    if (vb_model_get_str(m, VB_KEY_ARCH, &arch, e) || vb_model_get_u32(m, VB_KEY_IN_H, &h, e) ||
        vb_model_get_u32(m, VB_KEY_IN_W, &w, e) || vb_model_get_u32(m, VB_KEY_IN_C, &c, e) ||
        vb_model_get_u32(m, VB_KEY_OUT_DIM, &dim, e) ||
        vb_model_get_f32(m, VB_KEY_IN_SCALE, &g->in_scale, e))
        return -1;
    if (h < 1 || w < 1 || c < 1 || c > 4 || h > 4096 || w > 4096)
        return vb_fail(e, VB_EXIT_INPUT, "%s: unsupported input shape %ux%ux%u", m->path, h, w, c);
    if (vb_model_get_f32_array(m, VB_KEY_IN_MEAN, g->in_mean, c, e))
        return -1;
    snprintf(g->arch, sizeof g->arch, "%s", arch);
    g->in_h = (int)h;
    g->in_w = (int)w;
    g->in_c = (int)c;
    g->out_dim = (int)dim;
    for (size_t i = 0; i < VB_ARRAY_LEN(builders); i++) {
        if (strcmp(builders[i].arch, arch) == 0) {
            if (side && side != g->in_h) {
                if (!builders[i].resizable || g->in_h != g->in_w)
                    return vb_fail(e, VB_EXIT_INPUT, "%s: the %s net's input is fixed at %dx%d; it cannot take %dx%d",
                                   m->path, arch, g->in_h, g->in_w, side, side);
                if (side < 32 || side > 4096)
                    return vb_fail(e, VB_EXIT_INPUT, "%s: input side %d outside 32..4096", m->path, side);
                g->in_h = g->in_w = side;
                g->out_dim = 0; /* from the graph below */
            }
            if (read_output_kind(m, builders[i].descriptor, g, e) || builders[i].build(g, e))
                return -1;
            g->geometry = !builders[i].descriptor;
            if (!g->out_dim)
                g->out_dim = (int)vb_node_size(&g->nodes[g->output]);
            if ((int)vb_node_size(&g->nodes[g->output]) != g->out_dim)
                return vb_fail(e, VB_EXIT_INPUT, "%s: graph output has %zu values, metadata says %d",
                               m->path, vb_node_size(&g->nodes[g->output]), g->out_dim);
            return 0;
        }
    }
    return vb_fail(e, VB_EXIT_INPUT, "%s: unknown architecture '%s'", m->path, arch);
}
