#include "cli/engine.h"
#include "datasets/dataset.h"
#include "models/arch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* $VB_MODELS, else the models/ folder beside the binary (build/models for build/veribench,
 * also found from build/san/veribench), else build/models under the current folder. */
const char *vb_default_model_path(void)
{
    return vb_default_model_file("face_recognition.gguf");
}

const char *vb_default_model_for(int modality)
{
    return modality == VB_MODALITY_FINGERPRINT ? vb_default_model_file(VB_FP_ARCH ".gguf") : vb_default_model_path();
}

int vb_model_is_fingerprint(const vb_model *m)
{
    const vb_kv *kv = vb_model_kv(m, VB_KEY_ARCH);
    return kv && kv->type == VB_GGUF_STRING && strcmp(kv->str, VB_FP_ARCH) == 0;
}

const char *vb_default_model_file(const char *file)
{
    static char path[1100];
    const char *dir = getenv("VB_MODELS");
    if (dir && *dir) {
        snprintf(path, sizeof path, "%s/%s", dir, file);
        return path;
    }
    char exe[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            static const char *const rel[] = {"models", "../models"};
            for (size_t i = 0; i < VB_ARRAY_LEN(rel); i++) {
                snprintf(path, sizeof path, "%s/%s/%s", exe, rel[i], file);
                if (access(path, R_OK) == 0)
                    return path;
            }
        }
    }
    snprintf(path, sizeof path, "build/models/%s", file);
    return path;
}

int vb_engine_open(vb_engine *en, const vb_engine_opts *o, vb_err *e)
{
    vb_model m;
    memset(en, 0, sizeof *en);
    if (vb_model_load(o->model_path ? o->model_path : vb_default_model_path(), &m, e))
        return -1;
    return vb_engine_open_model(en, &m, o, e);
}

/* The fingerprint pipeline runs on the host with its image kernels on the backend; its
 * pseudo-graph names the stages. */
static int open_fingerprint(vb_engine *en, const vb_engine_opts *o, vb_err *e)
{
    if (vb_fp_params_load(&en->model, &en->fp, e) || vb_backend_init(&en->spec, &en->backend, e))
        return -1;
    en->fingerprint = 1;
    en->device = *vb_backend_describe(en->backend);
    vb_graph *g = &en->graph;
    snprintf(g->arch, sizeof g->arch, "%s", VB_FP_ARCH);
    g->model = &en->model;
    g->out_dim = VB_FP_TEMPLATE_FLOATS;
    g->threshold = en->fp.threshold;
    g->distance = "mcc";
    g->n_nodes = VB_FP_STAGES;
    for (int i = 0; i < VB_FP_STAGES; i++)
        snprintf(g->nodes[i].name, sizeof g->nodes[i].name, "%s", vb_fp_stage_names[i]);
    en->batch = o->batch > 0 ? o->batch : 16;
    return 0;
}

int vb_engine_open_model(vb_engine *en, vb_model *m, const vb_engine_opts *o, vb_err *e)
{
    memset(en, 0, sizeof *en);
    en->model = *m;
    memset(m, 0, sizeof *m);
    if (vb_backend_parse_spec(o->backend ? o->backend : "cpu", &en->spec, e))
        goto fail;
    en->spec.opts.threads = o->threads;
    en->spec.opts.fp16 = o->fp16;
    en->spec.opts.validation = o->validation;
    if (vb_model_is_fingerprint(&en->model))
        return open_fingerprint(en, o, e) ? (vb_engine_close(en), -1) : 0;
    if (vb_graph_build(&en->model, &en->graph, e))
        goto fail;
    if (vb_backend_init(&en->spec, &en->backend, e))
        goto fail;
    en->device = *vb_backend_describe(en->backend);
    if (vb_backend_load(en->backend, &en->graph, &en->prepared, e))
        goto fail;
    en->batch = o->batch > 0 ? o->batch : vb_backend_preferred_batch(en->prepared);
    en->prep = o->prep;
    en->save_chips = o->save_chips;
    /* align feeds a face descriptor net; any other graph (a detector run on its own by bench
     * or embed) takes its input resized, unless align was asked for explicitly */
    if (en->prep.mode == VB_PREP_ALIGN && strcmp(en->graph.arch, "face_recognition") != 0) {
        if (en->prep.set) {
            vb_fail(e, VB_EXIT_USAGE, "%s: --preprocess align feeds a face descriptor net, and this is a %s model",
                    en->model.path, en->graph.arch);
            goto fail;
        }
        en->prep.mode = VB_PREP_CROP;
    }
    if (en->prep.mode == VB_PREP_ALIGN && vb_face_open(en, o, e))
        goto fail;
    return 0;
fail:
    vb_engine_close(en);
    return -1;
}

void vb_engine_close(vb_engine *en)
{
    vb_face_close(en);
    vb_backend_unload(en->prepared);
    vb_backend_free(en->backend);
    vb_model_free(&en->model);
    memset(en, 0, sizeof *en);
}

/* One batch of decoded, preprocessed inputs. */
typedef struct batch_buf {
    size_t first, count;   /* image indices first .. first+count-1 */
    float *input;          /* count * in_size floats, successful images packed first */
    int *ok;               /* per image: 1 decoded */
    vb_err *why;           /* per image failure */
    size_t n_ok;
} batch_buf;

typedef struct decode_ctx {
    const vb_engine *en;
    const char *const *paths;
    const vb_crop *crop;
    batch_buf *buf;
    float *staging;        /* per-position inputs before packing */
} decode_ctx;

static void decode_range(void *arg, size_t begin, size_t end)
{
    decode_ctx *d = arg;
    const size_t in_size = (size_t)d->en->graph.in_h * d->en->graph.in_w * d->en->graph.in_c;
    for (size_t k = begin; k < end; k++) {
        const char *path = d->paths[d->buf->first + k];
        vb_image img;
        vb_err *why = &d->buf->why[k];
        d->buf->ok[k] = vb_image_load(path, &img, why) == 0 &&
                        vb_preprocess(&img, d->crop, &d->en->graph, path, d->staging + k * in_size, why) == 0;
        vb_image_free(&img);
    }
}

/* Decode images first..first+count-1 with up to `workers` threads, then pack successes. */
static void decode_batch(const vb_engine *en, const char *const *paths, const vb_crop *crop, batch_buf *b,
                         float *staging, int workers)
{
    decode_ctx d = {en, paths, crop, b, staging};
    vb_parallel_for(b->count, workers > 0 ? workers : 1, &d, decode_range);
    const size_t in_size = (size_t)en->graph.in_h * en->graph.in_w * en->graph.in_c;
    b->n_ok = 0;
    for (size_t k = 0; k < b->count; k++)
        if (b->ok[k])
            memmove(b->input + b->n_ok++ * in_size, staging + k * in_size, in_size * sizeof(float));
}

typedef struct prefetch {
    const vb_engine *en;
    const char *const *paths;
    const vb_crop *crop;
    batch_buf *buf;
    float *staging;
    int workers;
} prefetch;

static void *prefetch_main(void *arg)
{
    prefetch *p = arg;
    decode_batch(p->en, p->paths, p->crop, p->buf, p->staging, p->workers);
    return NULL;
}

int vb_engine_run_net(vb_engine *en, vb_prepared *p, const vb_graph *g, int *batch, const float *input, size_t n,
                      float *out, vb_timings *tm, vb_err *e)
{
    const size_t in_size = (size_t)g->in_h * g->in_w * g->in_c;
    const size_t dim = (size_t)g->out_dim;
    for (size_t done = 0; done < n;) {
        size_t m = n - done < (size_t)*batch ? n - done : (size_t)*batch;
        double node_ms[VB_GRAPH_MAX_NODES] = {0};
        vb_timings t = {0, node_ms};
        if (vb_backend_run(p, input + done * in_size, (int)m, out + done * dim, NULL, &t, e)) {
            if (!e->too_large || m < 2)
                return -1;
            *batch = (int)(m / 2);
            fprintf(stderr, "veribench: warning: batch %zu does not fit on %s (%s); going on with batch %d\n", m,
                    en->device.name, e->msg, *batch);
            continue;
        }
        tm->total_ms += t.total_ms;
        if (tm->node_ms)
            for (int i = 0; i < g->n_nodes; i++)
                tm->node_ms[i] += node_ms[i];
        if (p == en->prepared) /* calls of the descriptor net */
            en->calls++;
        done += m;
    }
    return 0;
}

/* The descriptor net over n images, in calls of at most en->batch. When the device cannot
 * take a call that size (out of device memory, a binding or dispatch limit: e->too_large),
 * the batch is halved, said once, and kept smaller for the rest of the work: the results
 * per image do not depend on the batch. */
static int run_batches(vb_engine *en, const float *input, size_t n, float *out, vb_timings *tm, vb_err *e)
{
    return vb_engine_run_net(en, en->prepared, &en->graph, &en->batch, input, n, out, tm, e);
}

/* ------------------------------------------------------------- fingerprints */

typedef struct fp_job {
    const vb_engine *en;
    const char *const *paths;
    size_t begin, end;          /* images of this job */
    size_t first;               /* index of the chunk's first image */
    float *out;                 /* chunk * VB_FP_TEMPLATE_FLOATS */
    int *ok;
    uint8_t *broken;            /* per image: a template file that did not read (stops the work) */
    vb_err *why;
    double stage_ms[VB_FP_STAGES], total_ms;
    size_t n_ok;
} fp_job;

/* Gray level of a decoded print (RGB averaged as ITU-R 601 luma). */
static uint8_t *to_gray(const vb_image *img)
{
    size_t n = (size_t)img->w * img->h;
    uint8_t *g = malloc(n ? n : 1);
    if (!g)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = img->px + i * img->c;
        g[i] = img->c == 1 ? p[0] : (uint8_t)((299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000);
    }
    return g;
}

static int fp_orient_hook(void *ctx, const float *img, int w, int h, float grad_sigma, float orient_sigma,
                          float *tensor, vb_err *e)
{
    return vb_backend_fp_orient(ctx, img, w, h, grad_sigma, orient_sigma, tensor, e);
}

static int fp_gabor_hook(void *ctx, const float *img, const uint8_t *bins, int w, int h, float period, float k, int na,
                         float *out, vb_err *e)
{
    return vb_backend_fp_gabor(ctx, img, bins, w, h, period, k, na, out, e);
}

/* Print k's template, unless it has too few minutiae (a failure to enrol). */
static void enrol(fp_job *j, size_t k, const char *path, const vb_fp_template *t)
{
    if (t->count < (int)j->en->fp.min_minutiae) {
        vb_fail(&j->why[k], VB_EXIT_INPUT, "%s: %d minutiae found, %d needed (failure to enrol)", path, t->count,
                (int)j->en->fp.min_minutiae);
        return;
    }
    vb_fp_template_pack(t, j->out + k * VB_FP_TEMPLATE_FLOATS);
    j->ok[k] = 1;
}

static void *fp_extract_range(void *arg)
{
    fp_job *j = arg;
    /* the CPU backend's kernels are the reference itself: run them on this thread, timed as
     * its CPU time; any other backend through the hooks */
    vb_fp_kernels hooks = {j->en->backend, fp_orient_hook, fp_gabor_hook};
    const vb_fp_kernels *kernels = strcmp(vb_backend_name(j->en->backend), "cpu") ? &hooks : NULL;
    for (size_t k = j->begin; k < j->end; k++) {
        const char *path = j->paths[j->first + k];
        vb_image img = {0};
        vb_err *why = &j->why[k];
        vb_fp_template t;
        double ms[VB_FP_STAGES];
        j->ok[k] = 0;
        if (vb_fp_is_template_path(path)) { /* enrolled before (veribench enroll): used as is */
            if (vb_fp_template_read_file(path, &t, why)) {
                j->broken[k] = 1;
                continue;
            }
            j->n_ok++; /* acquired, with no extraction time */
            enrol(j, k, path, &t);
            continue;
        }
        if (vb_image_load(path, &img, why))
            continue;
        uint8_t *gray = to_gray(&img);
        int w = img.w, h = img.h;
        vb_image_free(&img);
        if (!gray) {
            vb_fail(why, VB_EXIT_IO, "%s: out of memory", path);
            continue;
        }
        int rc = vb_fp_extract_with(kernels, gray, w, h, &j->en->fp, &t, ms, NULL, why);
        free(gray);
        if (rc) {
            vb_err_prefix(why, "%s", path);
            continue;
        }
        for (int s = 0; s < VB_FP_STAGES; s++)
            j->stage_ms[s] += ms[s], j->total_ms += ms[s];
        j->n_ok++;
        enrol(j, k, path, &t);
    }
    return NULL;
}

/* Prints in chunks of one image per core; callbacks in input order after each chunk. The
 * timings are the extraction's own (per print, summed over threads), images the prints
 * whose extraction ran (failures to enrol included: the work was done). A template file
 * (.fmr/.fpt) is read instead of extracted; one that does not read stops the work with its
 * error (a broken enrolment is not a print that failed to acquire). */
static int fp_embed_files(vb_engine *en, const char *const *paths, size_t n, vb_embed_cb cb, void *ctx,
                          vb_err *e)
{
    enum { MAX_WORKERS = 16 };
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int workers = cores > 1 ? (int)(cores < MAX_WORKERS ? cores : MAX_WORKERS) : 1;
    size_t chunk = (size_t)workers * 2;
    float *out = vb_malloc(chunk * VB_FP_TEMPLATE_FLOATS * sizeof *out, e);
    int *ok = vb_calloc(chunk, sizeof *ok, e);
    vb_err *why = vb_calloc(chunk, sizeof *why, e);
    uint8_t *broken = vb_calloc(chunk, 1, e);
    int rc = -1;
    if (!out || !ok || !why || !broken)
        goto done;
    for (size_t first = 0; first < n; first += chunk) {
        size_t count = n - first < chunk ? n - first : chunk;
        fp_job jobs[MAX_WORKERS];
        size_t per = (count + workers - 1) / workers;
        for (int t = 0; t < workers; t++) {
            size_t lo = t * per < count ? t * per : count, hi = lo + per < count ? lo + per : count;
            jobs[t] = (fp_job){.en = en, .paths = paths, .begin = lo, .end = hi, .first = first, .out = out,
                               .ok = ok, .broken = broken, .why = why};
        }
        memset(why, 0, chunk * sizeof *why);
        memset(broken, 0, chunk);
        vb_parallel_run(jobs, sizeof jobs[0], workers, fp_extract_range);
        for (int t = 0; t < workers; t++) {
            for (int s = 0; s < VB_FP_STAGES; s++)
                en->node_ms[s] += jobs[t].stage_ms[s];
            en->run_ms += jobs[t].total_ms;
            en->images += jobs[t].n_ok;
        }
        en->calls++;
        for (size_t i = 0; i < count; i++)
            if (!ok[i] && (broken[i] || why[i].code == VB_EXIT_DEVICE)) { /* the backend or a saved
                                                                          template failed, not the print */
                *e = why[i];
                goto done;
            }
        for (size_t i = 0; i < count; i++)
            if (cb(ctx, first + i, ok[i] ? out + i * VB_FP_TEMPLATE_FLOATS : NULL, ok[i] ? NULL : &why[i])) {
                vb_fail(e, VB_EXIT_FAIL, "stopped");
                goto done;
            }
    }
    rc = 0;
done:
    free(out);
    free(ok);
    free(why);
    free(broken);
    return rc;
}

int vb_engine_embed_files(vb_engine *en, const char *const *paths, size_t n, vb_embed_cb cb, void *ctx,
                          vb_err *e)
{
    if (en->fingerprint)
        return fp_embed_files(en, paths, n, cb, ctx, e);
    if (en->prep.mode == VB_PREP_ALIGN)
        return vb_face_embed_files(en, paths, n, cb, ctx, e);
    const vb_crop *crop = &en->prep.crop;
    const size_t B = (size_t)en->batch; /* buffers are sized once; run_batches may shrink en->batch */
    const size_t in_size = (size_t)en->graph.in_h * en->graph.in_w * en->graph.in_c;
    const int dim = en->graph.out_dim;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int workers = cores > 1 ? (int)cores : 1;
    batch_buf bufs[2];
    float *staging[2] = {NULL, NULL};
    float *out = vb_malloc(B * dim * sizeof(float), e);
    int rc = -1;
    memset(bufs, 0, sizeof bufs);
    for (int i = 0; i < 2; i++) {
        bufs[i].input = vb_malloc(B * in_size * sizeof(float), e);
        staging[i] = vb_malloc(B * in_size * sizeof(float), e);
        bufs[i].ok = vb_calloc(B, sizeof(int), e);
        bufs[i].why = vb_calloc(B, sizeof(vb_err), e);
        if (!bufs[i].input || !staging[i] || !bufs[i].ok || !bufs[i].why)
            goto done;
    }
    if (!out)
        goto done;
    /* Decode batch k+1 on a helper thread while the backend runs batch k. */
    size_t n_batches = (n + B - 1) / B;
    if (n_batches) {
        bufs[0].first = 0;
        bufs[0].count = n < B ? n : B;
        decode_batch(en, paths, crop, &bufs[0], staging[0], workers);
    }
    for (size_t k = 0; k < n_batches; k++) {
        batch_buf *cur = &bufs[k % 2], *next = &bufs[(k + 1) % 2];
        pthread_t tid;
        int prefetching = 0;
        prefetch pf = {en, paths, crop, next, staging[(k + 1) % 2], workers};
        if (k + 1 < n_batches) {
            next->first = (k + 1) * B;
            next->count = n - next->first < B ? n - next->first : B;
            prefetching = pthread_create(&tid, NULL, prefetch_main, &pf) == 0;
            if (!prefetching)
                decode_batch(en, paths, crop, next, pf.staging, workers);
        }
        double node_ms[VB_GRAPH_MAX_NODES] = {0};
        vb_timings tm = {0, node_ms};
        int run_rc = cur->n_ok ? run_batches(en, cur->input, cur->n_ok, out, &tm, e) : 0;
        if (cur->n_ok && !run_rc) {
            en->run_ms += tm.total_ms;
            for (int i = 0; i < en->graph.n_nodes; i++)
                en->node_ms[i] += node_ms[i];
            en->images += cur->n_ok;
        }
        if (prefetching)
            pthread_join(tid, NULL);
        if (run_rc)
            goto done;
        size_t packed = 0;
        for (size_t i = 0; i < cur->count; i++) {
            const float *desc = cur->ok[i] ? out + packed++ * dim : NULL;
            if (cb(ctx, cur->first + i, desc, cur->ok[i] ? NULL : &cur->why[i])) {
                vb_fail(e, VB_EXIT_FAIL, "stopped");
                goto done;
            }
        }
    }
    rc = 0;
done:
    for (int i = 0; i < 2; i++) {
        free(bufs[i].input);
        free(bufs[i].ok);
        free(bufs[i].why);
        free(staging[i]);
    }
    free(out);
    return rc;
}
