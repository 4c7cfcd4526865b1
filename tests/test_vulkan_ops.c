/* The Vulkan backend's behaviour beyond op numerics (those are in tests/test_backend_ops.c,
 * every op on every backend against cpu:ref): fused-away nodes in a capture (conv and
 * depthwise conv epilogues with ReLU or leaky ReLU, residual adds in conv epilogues), per-node
 * timings, batch sizes changing on one prepared graph, and the error paths (no device,
 * batch 0, out of device memory, device lost, a submission past its time limit). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/test_graphs.h"
#include "tests/test_vulkan.h"

static vb_backend *vk32;

/* Fused-away nodes read NAN and get 0 ms; materialized ones their values and a time. */
static void test_fusion_capture_and_timings(void)
{
    tgraph t;
    tg_init(&t, 6, 5, 4);
    int conv = tg_conv(&t, 0, VB_F32, 6, 3, 1, 1, 1, 1000);
    int af = tg_affine(&t, conv, 1001);
    int r = vb_graph_relu(&t.g, af, "relu", &t.err);
    tg_finish(&t, r);
    const vb_graph *g = &t.g;
    vb_prepared *p = NULL;
    vb_err e = {0};
    int rc = vb_backend_load(vk32, g, &p, &e);
    CHECKF(rc == 0, "load: %s", e.msg);
    if (rc) {
        tg_free(&t);
        return;
    }
    const int batch = 2;
    float x[2 * 6 * 5 * 4];
    vb_test_fill_random(x, VB_ARRAY_LEN(x), 1002, -1, 1);
    capture c, plain;
    cap_alloc(&c, g, batch);
    cap_alloc(&plain, g, batch);
    double ms[4] = {-1, -1, -1, -1};
    vb_timings tm = {.node_ms = ms};
    rc = vb_backend_run(p, x, batch, c.out, c.node, &tm, &e);
    CHECKF(rc == 0, "run: %s", e.msg);
    CHECK(isnan(c.node[conv][0]) && isnan(c.node[af][0]));
    CHECK(!isnan(c.node[0][0]) && !isnan(c.node[r][0]));
    CHECK(memcmp(c.node[0], x, sizeof x) == 0); /* the input node is the input */
    CHECK(memcmp(c.node[r], c.out, (size_t)batch * g->out_dim * sizeof(float)) == 0);
    CHECKF(ms[conv] == 0 && ms[af] == 0, "fused nodes report %g and %g ms", ms[conv], ms[af]);
    CHECKF(isfinite(ms[r]) && ms[r] > 0, "the fused step's time %g ms", ms[r]);
    CHECKF(isfinite(ms[0]) && ms[0] >= 0, "the input copy's time %g ms", ms[0]);
    CHECK(tm.total_ms > 0);
    /* No capture: the same output, bit for bit. */
    rc = vb_backend_run(p, x, batch, plain.out, NULL, NULL, &e);
    CHECKF(rc == 0, "run without capture: %s", e.msg);
    CHECK(memcmp(plain.out, c.out, (size_t)batch * g->out_dim * sizeof(float)) == 0);
    vb_backend_unload(p);
    cap_free(&c);
    cap_free(&plain);
    tg_free(&t);
}

/* The fusion tests' common steps: load t on vk32 and run `batch` images of x capturing
 * every node; then each `fused` node must read NAN (never materialized) and each `kept` one
 * a value. Returns the run's status, or -1 with *p NULL (c not allocated) when the load
 * failed; otherwise the caller unloads *p and frees *c. */
static int run_checking_fusion(tgraph *t, const float *x, int batch, const int *fused, size_t n_fused,
                               const int *kept, size_t n_kept, vb_prepared **p, capture *c)
{
    vb_err e = {0};
    *p = NULL;
    int rc = vb_backend_load(vk32, &t->g, p, &e);
    CHECKF(rc == 0, "load: %s", e.msg);
    if (rc) {
        *p = NULL;
        return -1;
    }
    cap_alloc(c, &t->g, batch);
    rc = vb_backend_run(*p, x, batch, c->out, c->node, NULL, &e);
    CHECKF(rc == 0, "run: %s", e.msg);
    for (size_t i = 0; i < n_fused && !rc; i++)
        CHECKF(isnan(c->node[fused[i]][0]), "node %s was materialized", t->g.nodes[fused[i]].name);
    for (size_t i = 0; i < n_kept && !rc; i++)
        CHECKF(!isnan(c->node[kept[i]][0]), "node %s was fused away", t->g.nodes[kept[i]].name);
    return rc;
}

/* The separable block of the face detector and landmark net: dwconv + affine + leaky ReLU
 * is one dispatch and 1x1 conv + bias + leaky ReLU another (their inner nodes read NAN);
 * a dwconv whose value has a second reader (the add) stays materialized, and the leaky
 * ReLU after it runs on its own. */
static void test_fusion_leaky(void)
{
    tgraph t;
    tg_init(&t, 7, 6, 5);
    int dw = tg_dwconv(&t, 0, 3, 1, 1, 0, 2000);
    int af = tg_affine(&t, dw, 2001);
    int lk = vb_graph_leaky_relu(&t.g, af, "leaky", 0.1f, &t.err);
    int pw = tg_conv(&t, lk, VB_F32, 5, 1, 1, 1, 1, 2003);
    int lk2 = vb_graph_leaky_relu(&t.g, pw, "leaky2", 0.1f, &t.err);
    int dw2 = tg_dwconv(&t, lk2, 3, 1, 1, 1, 2005);
    int lk3 = vb_graph_leaky_relu(&t.g, dw2, "leaky3", 0.2f, &t.err);
    int add = vb_graph_add_zeropad(&t.g, lk3, dw2, "add", &t.err);
    tg_finish(&t, add);
    float x[7 * 6 * 5];
    vb_test_fill_random(x, VB_ARRAY_LEN(x), 2006, -1, 1);
    const int fused[] = {dw, af, pw}, kept[] = {lk, lk2, dw2, lk3, add};
    vb_prepared *p = NULL;
    capture c;
    run_checking_fusion(&t, x, 1, fused, VB_ARRAY_LEN(fused), kept, VB_ARRAY_LEN(kept), &p, &c);
    if (p) {
        vb_backend_unload(p);
        cap_free(&c);
    }
    tg_free(&t);
}

/* The face net's residual blocks: conv + affine + add_zeropad + ReLU is one dispatch when
 * the skip input is already materialized (identity block: its add and the conv, affine
 * before it read NAN, the ReLU holds the value); a skip computed after the conv (down
 * block: avgpool of the block input comes after conv2 in node order) keeps its add a
 * separate step. */
static void test_fusion_residual(void)
{
    tgraph t;
    tg_init(&t, 6, 6, 8);
    int c1 = tg_conv(&t, 0, VB_F32, 8, 3, 1, 1, 0, 3000);
    int af1 = tg_affine(&t, c1, 3001);
    int add1 = vb_graph_add_zeropad(&t.g, af1, 0, "add1", &t.err);
    int r1 = vb_graph_relu(&t.g, add1, "relu1", &t.err);
    int c2 = tg_conv(&t, r1, VB_F32, 16, 3, 2, 1, 0, 3002);
    int af2 = tg_affine(&t, c2, 3003);
    int pool = vb_graph_pool(&t.g, VB_OP_AVGPOOL, r1, "pool", 2, 2, 0, &t.err);
    int add2 = vb_graph_add_zeropad(&t.g, af2, pool, "add2", &t.err);
    int r2 = vb_graph_relu(&t.g, add2, "relu2", &t.err);
    tg_finish(&t, r2);
    float x[2 * 6 * 6 * 8];
    vb_test_fill_random(x, VB_ARRAY_LEN(x), 3004, -1, 1);
    const int fused[] = {c1, af1, add1, c2}, kept[] = {r1, af2, pool, r2};
    vb_prepared *p = NULL;
    capture c;
    int rc = run_checking_fusion(&t, x, 2, fused, VB_ARRAY_LEN(fused), kept, VB_ARRAY_LEN(kept), &p, &c);
    if (!p) {
        tg_free(&t);
        return;
    }
    vb_err e = {0};
    /* both blocks' values against cpu:ref (the fp32 bound of test_backend_ops) */
    vb_backend_opts ro = {.device_index = -1, .reference = 1};
    vb_backend *ref = NULL;
    vb_prepared *rp = NULL;
    capture rc_ref;
    cap_alloc(&rc_ref, &t.g, 2);
    if (!rc && vb_backend_init_named("cpu", &ro, &ref, &e) == 0 && vb_backend_load(ref, &t.g, &rp, &e) == 0 &&
        vb_backend_run(rp, x, 2, rc_ref.out, rc_ref.node, NULL, &e) == 0) {
        const int cmp[] = {r1, r2};
        for (size_t i = 0; i < VB_ARRAY_LEN(cmp); i++) {
            size_t n = 2 * vb_node_size(&t.g.nodes[cmp[i]]);
            double nmse = vb_nmse(c.node[cmp[i]], rc_ref.node[cmp[i]], n);
            CHECKF(nmse <= 1e-10, "%s: NMSE %g against cpu:ref", t.g.nodes[cmp[i]].name, nmse);
        }
    } else {
        CHECKF(rc, "cpu:ref: %s", e.msg);
    }
    vb_backend_unload(rp);
    vb_backend_free(ref);
    cap_free(&rc_ref);
    vb_backend_unload(p);
    cap_free(&c);
    tg_free(&t);
}

/* One prepared graph, batch sizes growing and shrinking (buffers and bindings rebuilt):
 * each image's output must not depend on the batch it ran in. */
static void test_batch_changes(void)
{
    tgraph t;
    if (tg_mini_net(&t) < 0) {
        tg_free(&t);
        return;
    }
    const vb_graph *g = &t.g;
    vb_prepared *p = NULL;
    vb_err e = {0};
    int rc = vb_backend_load(vk32, g, &p, &e);
    CHECKF(rc == 0, "load: %s", e.msg);
    if (!rc) {
        const size_t in = vb_node_size(&g->nodes[0]);
        const int max_batch = 5;
        float *x = malloc(in * max_batch * sizeof(float));
        float *all = malloc((size_t)g->out_dim * max_batch * sizeof(float));
        float *y = malloc((size_t)g->out_dim * max_batch * sizeof(float));
        vb_test_fill_random(x, in * max_batch, 1100, -1, 1);
        rc = vb_backend_run(p, x, max_batch, all, NULL, NULL, &e);
        CHECKF(rc == 0, "batch %d: %s", max_batch, e.msg);
        const int order[] = {1, 3, 2, 5, 1};
        for (size_t k = 0; k < VB_ARRAY_LEN(order); k++) {
            int b = order[k];
            int first = max_batch - b; /* the last b images */
            rc = vb_backend_run(p, x + in * first, b, y, NULL, NULL, &e);
            CHECKF(rc == 0, "batch %d: %s", b, e.msg);
            /* same kernels, same per-output arithmetic: identical bits */
            CHECKF(!rc && memcmp(y, all + (size_t)g->out_dim * first, (size_t)g->out_dim * b * sizeof(float)) == 0,
                   "batch %d differs from the same images in batch %d", b, max_batch);
        }
        free(x);
        free(all);
        free(y);
        vb_backend_unload(p);
    }
    tg_free(&t);
}

static void test_errors(void)
{
    tgraph t;
    tg_init(&t, 3, 3, 2);
    int r = vb_graph_relu(&t.g, 0, "relu", &t.err);
    tg_finish(&t, r);
    vb_prepared *p = NULL;
    vb_err e = {0};
    float x[3 * 3 * 2] = {0}, y[3 * 3 * 2];

    /* no such device */
    vb_backend_opts o = {.device_index = 99};
    vb_backend *b = NULL;
    CHECK(vb_backend_init_named("vulkan", &o, &b, &e) == -1 && e.code == VB_EXIT_DEVICE && strstr(e.msg, "99"));

    /* a conv kernel name VERIBENCH_VULKAN_CONV does not know: a usage error, not a silent default */
    vb_backend_opts d = {.device_index = -1, .fp16 = 0};
    setenv("VERIBENCH_VULKAN_CONV", "fast", 1);
    CHECKF(vb_backend_init_named("vulkan", &d, &b, &e) == -1 && e.code == VB_EXIT_USAGE && strstr(e.msg, "tiles"),
           "VERIBENCH_VULKAN_CONV=fast: %s", e.msg);
    unsetenv("VERIBENCH_VULKAN_CONV");

    /* batch 0 */
    CHECK(vb_backend_load(vk32, &t.g, &p, &e) == 0);
    if (p) {
        CHECK(vb_backend_run(p, x, 0, y, NULL, NULL, &e) == -1 && e.code == VB_EXIT_USAGE);
        vb_backend_unload(p);
        p = NULL;
    }

    /* out of device memory while loading: a clean error, exit code 4 */
    setenv("VERIBENCH_VULKAN_FAULT", "oom", 1);
    int rc = vb_backend_load(vk32, &t.g, &p, &e);
    CHECKF(rc == -1 && e.code == VB_EXIT_DEVICE && strstr(e.msg, "OUT_OF_DEVICE_MEMORY"), "oom: rc %d: %s", rc, e.msg);
    if (!rc)
        vb_backend_unload(p);
    p = NULL;
    /* ... and while making the warp's buffers: the call fails, the next one (no fault) works
     * (and nothing half-made leaks: the validation layer counts undestroyed objects) */
    const uint8_t pix[4] = {9, 9, 9, 9}, *pp = pix;
    const int two = 2, gray = 1;
    const vb_similarity id = {1, 0, 0, 0};
    const float mean[3] = {0, 0, 0};
    float chip[2 * 2 * 3];
    rc = vb_backend_warp(vk32, &pp, &two, &two, &gray, &id, 1, 2, mean, 1, chip, &e);
    CHECKF(rc == -1 && e.code == VB_EXIT_DEVICE && strstr(e.msg, "OUT_OF_DEVICE_MEMORY"), "warp oom: rc %d: %s", rc,
           e.msg);
    unsetenv("VERIBENCH_VULKAN_FAULT");
    rc = vb_backend_warp(vk32, &pp, &two, &two, &gray, &id, 1, 2, mean, 1, chip, &e);
    CHECKF(rc == 0 && chip[0] == 9 && chip[3] == 0, "warp after oom: rc %d (%s), chip %g %g", rc, e.msg, chip[0],
           chip[3]);

    /* device lost during a run: that run and every later one fail with exit code 4;
     * unload and free still work (a separate backend, this one is spent) */
    vb_backend *lost = vk_test_open(0);
    if (lost && vb_backend_load(lost, &t.g, &p, &e) == 0) {
        setenv("VERIBENCH_VULKAN_FAULT", "lost", 1);
        rc = vb_backend_run(p, x, 1, y, NULL, NULL, &e);
        CHECKF(rc == -1 && e.code == VB_EXIT_DEVICE && strstr(e.msg, "DEVICE_LOST"), "lost: %s", e.msg);
        unsetenv("VERIBENCH_VULKAN_FAULT");
        rc = vb_backend_run(p, x, 1, y, NULL, NULL, &e);
        CHECKF(rc == -1 && e.code == VB_EXIT_DEVICE && strstr(e.msg, "unusable"), "after loss: %s", e.msg);
        /* the warp refuses the lost device too */
        rc = vb_backend_warp(lost, &pp, &two, &two, &gray, &id, 1, 2, mean, 1, chip, &e);
        CHECKF(rc == -1 && e.code == VB_EXIT_DEVICE && strstr(e.msg, "unusable"), "warp after loss: %s", e.msg);
        vb_backend_unload(p);
    }
    vb_backend_free(lost);
    tg_free(&t);

    /* a submission that outlives its time limit (1 us, far below any device's time for the
     * mini net): a clean error, the backend refuses further work, and unload/free wait
     * for the late work before freeing what it uses (ASan would see a use after free) */
    tgraph net;
    tg_mini_net(&net);
    setenv("VERIBENCH_VULKAN_TIMEOUT", "0.000001", 1);
    vb_backend *slow = vk_test_open(0);
    unsetenv("VERIBENCH_VULKAN_TIMEOUT");
    if (slow) {
        float in[4 * 19 * 17 * 3], out[4 * 10];
        vb_test_fill_random(in, VB_ARRAY_LEN(in), 1200, -1, 1);
        p = NULL;
        rc = vb_backend_load(slow, &net.g, &p, &e);
        if (rc == 0) /* the weight upload may have made it in time; the run cannot */
            rc = vb_backend_run(p, in, 4, out, NULL, NULL, &e);
        CHECKF(rc == -1 && e.code == VB_EXIT_DEVICE && strstr(e.msg, "did not finish"), "timeout: rc %d: %s", rc,
               e.msg);
        if (p) {
            rc = vb_backend_run(p, in, 1, out, NULL, NULL, &e);
            CHECKF(rc == -1 && strstr(e.msg, "unusable"), "after a timeout: rc %d: %s", rc, e.msg);
            vb_backend_unload(p);
        }
        vb_backend_free(slow);
    }
    tg_free(&net);
}

int main(void)
{
    int skip;
    vk32 = vk_test_open_first(0, &skip);
    if (skip)
        return vb_test_finish();
    if (vk32) {
        RUN(test_fusion_capture_and_timings);
        RUN(test_fusion_leaky);
        RUN(test_fusion_residual);
        RUN(test_batch_changes);
        RUN(test_errors);
    }
    vb_backend_free(vk32);
    CHECKF(vb_vk_validation_total() == 0, "%d validation messages (see stderr)", vb_vk_validation_total());
    return vb_test_finish();
}
