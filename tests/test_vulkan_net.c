/* The whole face net on the Vulkan backend against the CPU reference (cpu:ref), on real
 * LFW faces (crop 70,70,180,180, the first protocol of model.md).
 *
 * Acceptance bounds:
 *  fp32 variants: descriptor cosine >= 0.99999 (the bound) and every materialized
 *    layer NMSE <= 1e-9. Measured on llvmpipe: cosine 1 - O(1e-13), layer NMSE <= ~1e-11;
 *    fp32 summation differs from the reference's double only by rounding, so anything
 *    near the bound means a real defect.
 *  fp16 variants: cosine >= 0.9999 and layer NMSE <= 1e-4. Every activation is rounded to
 *    fp16 (relative 4.9e-4) after each of ~35 steps and the weights once; measured cosine
 *    is ~0.9999997 and layer NMSE ~1e-6, the bounds leave two orders of magnitude.
 *  Quantized models (int8 = Q8_0, int4 = Q4_0 weights, dequantized inside the kernels):
 *    compared with cpu:ref on the same quantized model, so only summation differs: the
 *    fp32 bounds apply. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/engine.h"
#include "datasets/preprocess.h"
#include "models/quantize.h"
#include "tests/test_vulkan.h"

#define N_IMAGES 4
static const char *const names[N_IMAGES] = {"Abel_Pacheco_0001", "Abel_Pacheco_0004", "Akhmed_Zakayev_0001",
                                            "Amber_Tamblyn_0001"};

static vb_backend *vk32, *vk16, *cpu_ref;
static vb_model model;
static vb_graph graph;
static float *inputs; /* N_IMAGES preprocessed images */

static double cosine(const float *a, const float *b, int n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++)
        ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return ab / sqrt(aa * bb);
}

static double distance(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(s);
}

static int load_inputs(void)
{
    const size_t in = (size_t)graph.in_h * graph.in_w * graph.in_c;
    inputs = calloc(N_IMAGES * in, sizeof(float));
    vb_crop crop = {1, 70, 70, 180, 180};
    for (int i = 0; i < N_IMAGES; i++) {
        char person[64], path[1024];
        snprintf(person, sizeof person, "%s", names[i]);
        *strrchr(person, '_') = 0;
        snprintf(path, sizeof path, "%s/lfw/images_deepfunneled/%s/%s.jpg", vb_test_data_dir(), person, names[i]);
        vb_image img;
        vb_err e = {0};
        int rc = vb_image_load(path, &img, &e) || vb_preprocess(&img, &crop, &graph, path, inputs + i * in, &e);
        vb_image_free(&img);
        CHECKF(rc == 0, "%s", e.msg);
        if (rc)
            return -1;
    }
    return 0;
}

typedef struct result {
    float **node; /* per node captures */
    float *out;
    double *ms;
    double total_ms;
} result;

static int run(vb_backend *b, const vb_graph *g, int batch, int capture,
               result *r)
{
    memset(r, 0, sizeof *r);
    r->out = calloc((size_t)batch * g->out_dim, sizeof(float));
    r->ms = calloc((size_t)g->n_nodes, sizeof(double));
    if (capture) {
        r->node = calloc((size_t)g->n_nodes, sizeof *r->node);
        for (int i = 0; i < g->n_nodes; i++)
            r->node[i] = calloc((size_t)batch * vb_node_size(&g->nodes[i]), sizeof(float));
    }
    vb_prepared *p = NULL;
    vb_err e = {0};
    int rc = vb_backend_load(b, g, &p, &e);
    CHECKF(rc == 0, "%s load: %s", vb_backend_name(b), e.msg);
    if (!rc) {
        vb_timings t = {.node_ms = r->ms};
        rc = vb_backend_run(p, inputs, batch, r->out, r->node, &t, &e);
        CHECKF(rc == 0, "%s run: %s", vb_backend_name(b), e.msg);
        r->total_ms = t.total_ms;
        vb_backend_unload(p);
    }
    return rc;
}

static void result_free(const vb_graph *g, result *r)
{
    if (r->node)
        for (int i = 0; i < g->n_nodes; i++)
            free(r->node[i]);
    free(r->node);
    free(r->out);
    free(r->ms);
}

static void compare(const char *label, const vb_graph *g, int batch, const result *got, const result *ref,
                    double min_cos, double max_layer_nmse)
{
    double worst_cos = 1, worst_nmse = 0;
    for (int k = 0; k < batch; k++) {
        double c = cosine(got->out + k * g->out_dim, ref->out + k * g->out_dim, g->out_dim);
        worst_cos = fmin(worst_cos, c);
        CHECKF(c >= min_cos, "%s: %s: descriptor cosine %.9f < %.9f", label, names[k], c, min_cos);
    }
    if (got->node && ref->node)
        for (int i = 0; i < g->n_nodes; i++) {
            if (isnan(got->node[i][0]))
                continue;
            size_t n = (size_t)batch * vb_node_size(&g->nodes[i]);
            double nmse = vb_nmse(got->node[i], ref->node[i], n);
            worst_nmse = fmax(worst_nmse, nmse);
            CHECKF(nmse <= max_layer_nmse, "%s: layer %s NMSE %.3g > %.3g", label, g->nodes[i].name, nmse,
                   max_layer_nmse);
        }
    if (got->node && ref->node)
        printf("%-34s worst cosine 1-%.3g, worst layer NMSE %.3g\n", label, 1 - worst_cos, worst_nmse);
    else
        printf("%-34s worst cosine 1-%.3g\n", label, 1 - worst_cos);
}

static result ref4;

static void test_fp32(void)
{
    result got, one;
    if (run(vk32, &graph, N_IMAGES, 1, &got) == 0) {
        compare("fp32 variants, batch 4", &graph, N_IMAGES, &got, &ref4, 0.99999, 1e-9);
        /* decisions: every pair's distance as the reference has it, far below any margin */
        for (int a = 0; a < N_IMAGES; a++)
            for (int b = a + 1; b < N_IMAGES; b++) {
                double dv = distance(got.out + a * graph.out_dim, got.out + b * graph.out_dim, graph.out_dim);
                double dr = distance(ref4.out + a * graph.out_dim, ref4.out + b * graph.out_dim, graph.out_dim);
                CHECKF(fabs(dv - dr) <= 1e-5, "%s vs %s: distance %.7f, reference %.7f", names[a], names[b], dv, dr);
            }
        /* timings: each materialized step has one, fused-away nodes 0, all within the run */
        double sum = 0;
        int timed = 0;
        for (int i = 0; i < graph.n_nodes; i++) {
            CHECKF(isfinite(got.ms[i]) && got.ms[i] >= 0, "node %s time %g", graph.nodes[i].name, got.ms[i]);
            sum += got.ms[i];
            timed += got.ms[i] > 0;
        }
        CHECKF(timed >= 30 && sum <= got.total_ms, "%d timed nodes, %.3f ms of %.3f ms", timed, sum, got.total_ms);
        /* batch 1: the same bits as the first image of the batch of 4 */
        if (run(vk32, &graph, 1, 0, &one) == 0)
            CHECK(memcmp(one.out, got.out, (size_t)graph.out_dim * sizeof(float)) == 0);
        result_free(&graph, &one);
    }
    result_free(&graph, &got);
}

/* One prepared net, many runs: the command buffer recorded for a batch size is submitted
 * again with new inputs, recorded anew for a capturing run, after the buffers grow and for
 * another batch size; every output must be the bits a fresh load gives for that image. */
static void test_resubmit(void)
{
    result fresh;
    if (run(vk32, &graph, N_IMAGES, 0, &fresh))
        return;
    const size_t in = (size_t)graph.in_h * graph.in_w * graph.in_c, dim = (size_t)graph.out_dim;
    vb_prepared *p = NULL;
    vb_err e = {0};
    CHECKF(vb_backend_load(vk32, &graph, &p, &e) == 0, "load: %s", e.msg);
    float out[N_IMAGES * 128];
    float **nodes = calloc((size_t)graph.n_nodes, sizeof *nodes);
    nodes[graph.output] = calloc((size_t)N_IMAGES * dim, sizeof(float));
    /* (first image, batch, capture) in an order that reuses, re-records and grows */
    static const int plan[][3] = {{0, 2, 0}, {2, 2, 0}, {0, 2, 1}, {2, 2, 0}, {0, 4, 0}, {2, 2, 0}, {1, 2, 0}};
    for (size_t i = 0; p && i < VB_ARRAY_LEN(plan); i++) {
        const int first = plan[i][0], batch = plan[i][1];
        vb_timings t = {.node_ms = NULL};
        int rc = vb_backend_run(p, inputs + first * in, batch, out, plan[i][2] ? nodes : NULL, &t, &e);
        CHECKF(rc == 0, "run %zu: %s", i, e.msg);
        CHECKF(rc == 0 && memcmp(out, fresh.out + first * dim, batch * dim * sizeof(float)) == 0,
               "run %zu (images %d.., batch %d%s): the bits of a fresh load", i, first, batch,
               plan[i][2] ? ", capturing" : "");
    }
    vb_backend_unload(p);
    free(nodes[graph.output]);
    free(nodes);
    result_free(&graph, &fresh);
}

static void test_fp16(void)
{
    if (!vk16) {
        printf("fp16 variants: not supported by this device, not tested\n");
        return;
    }
    result got;
    if (run(vk16, &graph, N_IMAGES, 1, &got) == 0)
        compare("fp16 variants, batch 4", &graph, N_IMAGES, &got, &ref4, 0.9999, 1e-4);
    result_free(&graph, &got);
}

static void test_quantized(void)
{
    static const vb_quant_level levels[] = {VB_QUANT_INT8, VB_QUANT_INT4};
    for (size_t l = 0; l < VB_ARRAY_LEN(levels); l++) {
        vb_model qm;
        vb_graph qg;
        vb_err e = {0};
        int rc = vb_model_quantize(&model, levels[l], &qm, NULL, &e);
        CHECKF(rc == 0, "quantize: %s", e.msg);
        if (rc)
            continue;
        rc = vb_graph_build(&qm, &qg, &e);
        CHECKF(rc == 0, "graph: %s", e.msg);
        result got, ref;
        if (!rc && run(cpu_ref, &qg, 2, 0, &ref) == 0 &&
            run(vk32, &qg, 2, 0, &got) == 0) {
            char label[64];
            snprintf(label, sizeof label, "%s weights, fp32 variants", vb_quant_name(levels[l]));
            compare(label, &qg, 2, &got, &ref, 0.99999, 1e-9);
            /* and the quantization is really in effect: not the fp32 model's output */
            CHECK(memcmp(got.out, ref4.out, (size_t)qg.out_dim * sizeof(float)) != 0);
        }
        result_free(&qg, &got);
        result_free(&qg, &ref);
        vb_model_free(&qm);
    }
}

int main(void)
{
    int skip;
    vk32 = vk_test_open_first(0, &skip);
    if (skip)
        return vb_test_finish();
    vb_err e = {0};
    int rc = vb_model_load(vb_default_model_path(), &model, &e) || vb_graph_build(&model, &graph, &e);
    CHECKF(rc == 0, "model: %s", e.msg);
    vb_backend_opts ro = {.device_index = -1, .reference = 1};
    CHECKF(vb_backend_init_named("cpu", &ro, &cpu_ref, &e) == 0, "cpu:ref: %s", e.msg);
    vb_backend *b16 = vk_test_open(1);
    if (b16 && vk_test_uses_fp16(b16))
        vk16 = b16;
    else
        vb_backend_free(b16);
    if (!rc && vk32 && cpu_ref && load_inputs() == 0 &&
        run(cpu_ref, &graph, N_IMAGES, 1, &ref4) == 0) {
        RUN(test_fp32);
        RUN(test_resubmit);
        RUN(test_fp16);
        RUN(test_quantized);
    }
    result_free(&graph, &ref4);
    free(inputs);
    vb_backend_free(vk32);
    vb_backend_free(vk16);
    vb_backend_free(cpu_ref);
    vb_model_free(&model);
    CHECKF(vb_vk_validation_total() == 0, "%d validation messages (see stderr)", vb_vk_validation_total());
    return vb_test_finish();
}
