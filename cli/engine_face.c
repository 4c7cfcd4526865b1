#include "cli/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/files.h"
#include "datasets/image.h"
#include "models/arch.h"
#include "models/face_align.h"

const char *const vb_stage_names[VB_STAGES] = {"decode", "detect", "landmarks", "align", "describe"};
const char *const vb_face_source_names[3] = {"detected", "fallback", "none"};

/* dlib's default padding around the chip template (get_face_chip_details). */
#define CHIP_PADDING 0.25

/* side: the input side for a resizable net (the tiny detector's tiny:SIZE), 0: the model's. */
static int open_net(vb_engine *en, vb_engine_net *net, const char *path, const char *arch, int side, vb_err *e)
{
    if (access(path, R_OK) != 0)
        return vb_fail(e, VB_EXIT_INPUT, "%s: cannot read the %s model (--preprocess align needs it; `make models` "
                       "converts it from face-api.js, or pass --preprocess crop:x0,y0,x1,y1)", path, arch);
    if (vb_model_load(path, &net->model, e) || vb_graph_build_sized(&net->model, side, &net->graph, e))
        return -1;
    if (strcmp(net->graph.arch, arch) != 0)
        return vb_fail(e, VB_EXIT_INPUT, "%s: is a %s model, not a %s", path, net->graph.arch, arch);
    if (net->graph.in_c != 3)
        return vb_fail(e, VB_EXIT_INPUT, "%s: the %s takes %d channels, 3 expected", path, arch, net->graph.in_c);
    return vb_backend_load(en->backend, &net->graph, &net->prepared, e);
}

int vb_face_open(vb_engine *en, const vb_engine_opts *o, vb_err *e)
{
    char det_path[1100], lm_path[1100];
    /* Both detectors take the image letterboxed (padded bottom/right, resized to their input)
     * with their own normalization: face-api.js's toBatchTensor(inputSize, false) for each. */
    const int ssd = en->prep.detector == VB_DETECTOR_SSD;
    const char *det_arch = ssd ? "ssd_mobilenetv1" : "tiny_face_detector";
    snprintf(det_path, sizeof det_path, "%s",
             o->detector_model ? o->detector_model
                               : vb_default_model_file(ssd ? "ssd_mobilenetv1.gguf" : "tiny_face_detector.gguf"));
    snprintf(lm_path, sizeof lm_path, "%s",
             o->landmark_model ? o->landmark_model : vb_default_model_file("face_landmark_68.gguf"));
    if (open_net(en, &en->det, det_path, det_arch, ssd ? 0 : en->prep.detector_size, e) ||
        open_net(en, &en->lm, lm_path, "face_landmark_68", 0, e))
        return -1;
    if (en->lm.graph.out_dim != 2 * VB_LANDMARKS)
        return vb_fail(e, VB_EXIT_INPUT, "%s: the landmark net gives %d values, %d expected", lm_path,
                       en->lm.graph.out_dim, 2 * VB_LANDMARKS);
    if (en->det.graph.in_h != en->det.graph.in_w)
        return vb_fail(e, VB_EXIT_INPUT, "%s: the detector's input must be square", det_path);
    return vb_det_params_read(&en->det.model, en->det.graph.in_h, &en->det_params, e);
}

static void close_net(vb_engine_net *net)
{
    vb_backend_unload(net->prepared);
    vb_model_free(&net->model);
    memset(net, 0, sizeof *net);
}

void vb_face_close(vb_engine *en)
{
    close_net(&en->det);
    close_net(&en->lm);
}

static size_t input_floats(const vb_graph *g)
{
    return (size_t)g->in_h * g->in_w * g->in_c;
}

/* One chunk of images on its way through the stages. Arrays have one entry per position;
 * the nets' inputs and outputs are packed over the positions still alive. */
typedef struct chunk {
    vb_engine *en;
    const char *const *paths;
    size_t first, count;
    vb_image *img;
    int *alive;                /* decoded and, after detection, a face to go on with */
    vb_err *why;
    vb_face_record *rec;
    int *slot;                 /* position -> packed index in the current stage */
    float *det_in, *det_out, *lm_in, *lm_out, *rec_in;
    vb_landmark_box *lm_box;
    vb_similarity *xf, *xf_packed; /* chip -> image, per position / packed for the warp */
    uint8_t **px;                  /* packed image pointers and sizes for vb_backend_warp */
    int *w, *h, *ch;
    size_t det_out_floats;
} chunk;

typedef struct step_ctx {
    chunk *c;
    int stage;
} step_ctx;

enum { STEP_DECODE, STEP_LANDMARK_INPUT, STEP_ALIGN };

static void save_chip(chunk *c, size_t k, const uint8_t *rgb)
{
    int size = c->en->graph.in_h;
    vb_image chip = {size, size, 3, (uint8_t *)rgb};
    char path[1200];
    vb_err e = {0};
    snprintf(path, sizeof path, "%s/%zu.png", c->en->save_chips, c->first + k);
    if (vb_image_save_png(&chip, path, &e)) {
        c->alive[k] = 0;
        c->why[k] = e;
    }
}

static void decode_one(chunk *c, size_t k)
{
    const vb_graph *dg = &c->en->det.graph;
    const char *path = c->paths[c->first + k];
    memset(&c->img[k], 0, sizeof c->img[k]);
    c->alive[k] = vb_image_load(path, &c->img[k], &c->why[k]) == 0;
    if (c->alive[k])
        vb_prep_letterbox(&c->img[k], dg->in_h, dg->in_mean, dg->in_scale, c->det_in + k * input_floats(dg));
}

static void landmark_input_one(chunk *c, size_t k)
{
    const vb_graph *lg = &c->en->lm.graph;
    const vb_face_box *b = &c->rec[k].box;
    if (vb_prep_face_square(&c->img[k], b->x0, b->y0, b->x1, b->y1, lg->in_h, lg->in_mean, lg->in_scale,
                            c->lm_in + k * input_floats(lg), &c->lm_box[k])) {
        c->alive[k] = 0;
        vb_fail(&c->why[k], VB_EXIT_INPUT, "%s: the face box %.0f,%.0f,%.0f,%.0f lies outside the %dx%d image",
                c->paths[c->first + k], b->x0, b->y0, b->x1, b->y1, c->img[k].w, c->img[k].h);
    }
}

/* Landmarks -> the chip transform (and, for --save-chips, the 8-bit chip made on the CPU
 * with the reference warp: what the descriptor net sees is the backend's warp of the same
 * transform, vb_backend_warp, identical to it or within its stated tolerance). */
static void align_one(chunk *c, size_t k)
{
    const vb_graph *g = &c->en->graph;
    vb_face_record *r = &c->rec[k];
    vb_landmarks_to_image(c->lm_out + (size_t)c->slot[k] * 2 * VB_LANDMARKS, &c->lm_box[k], r->landmarks);
    vb_err e = {0};
    vb_chip_template tpl = c->en->prep.chip_points == 5 ? VB_CHIP_DLIB5 : VB_CHIP_DLIB68;
    if (vb_align_dlib_template(r->landmarks, tpl, g->in_h, CHIP_PADDING, &c->xf[k], &e)) {
        c->alive[k] = 0;
        vb_fail(&c->why[k], VB_EXIT_INPUT, "%s: no alignment from the landmarks: %s", c->paths[c->first + k], e.msg);
        return;
    }
    if (!c->en->save_chips)
        return;
    const vb_image *im = &c->img[k];
    size_t floats = input_floats(g);
    float *tmp = malloc(floats * sizeof(float));
    uint8_t *rgb = malloc((size_t)g->in_h * g->in_w * 3);
    if (!tmp || !rgb || vb_warp_chip(im->px, im->w, im->h, im->c, &c->xf[k], g->in_h, g->in_mean, g->in_scale, tmp,
                                     rgb, &e)) {
        c->alive[k] = 0;
        vb_fail(&c->why[k], VB_EXIT_IO, "%s: out of memory for the chip", c->paths[c->first + k]);
    } else {
        save_chip(c, k, rgb);
    }
    free(tmp);
    free(rgb);
}

/* The chips of every alive position in one backend call, packed in order into rec_in;
 * *packed receives how many. */
static int warp_alive(chunk *c, size_t *packed, vb_err *e)
{
    size_t n = 0;
    for (size_t k = 0; k < c->count; k++) {
        c->slot[k] = -1;
        if (!c->alive[k])
            continue;
        const vb_image *im = &c->img[k];
        c->px[n] = im->px, c->w[n] = im->w, c->h[n] = im->h, c->ch[n] = im->c, c->xf_packed[n] = c->xf[k];
        c->slot[k] = (int)n++;
    }
    *packed = n;
    const vb_graph *g = &c->en->graph;
    return vb_backend_warp(c->en->backend, (const uint8_t *const *)c->px, c->w, c->h, c->ch, c->xf_packed, (int)n,
                           g->in_h, g->in_mean, g->in_scale, c->rec_in, e);
}

static void step_range(void *arg, size_t begin, size_t end)
{
    step_ctx *s = arg;
    for (size_t k = begin; k < end; k++) {
        if (s->stage == STEP_DECODE)
            decode_one(s->c, k);
        else if (s->c->alive[k])
            (s->stage == STEP_LANDMARK_INPUT ? landmark_input_one : align_one)(s->c, k);
    }
}

/* One step over the chunk's positions on up to one thread per core. */
static void parallel_step(chunk *c, int stage)
{
    step_ctx s = {c, stage};
    vb_parallel_for(c->count, 0, &s, step_range);
}

/* Packs the alive positions' inputs (each `floats` long, stored per position in buf) to the
 * front of buf, in order, and numbers them in c->slot. Returns how many. */
static size_t pack_alive(chunk *c, float *buf, size_t floats)
{
    size_t n = 0;
    for (size_t k = 0; k < c->count; k++) {
        c->slot[k] = -1;
        if (!c->alive[k])
            continue;
        if (n != k)
            memmove(buf + n * floats, buf + k * floats, floats * sizeof(float));
        c->slot[k] = (int)n++;
    }
    return n;
}

/* The boxes whose centre lies inside `box`, kept in order; returns how many. With
 * --on-no-face fallback-crop:BOX the user says where the subject's face is (a pre-centred
 * set such as LFW): a face detected elsewhere is someone in the background (LFW's
 * Kosuke_Kitajima_0002: the detector misses him and finds his neighbour), so it is not
 * taken; when no face is left the fallback box is used. */
static int keep_centred_in(vb_face_box *boxes, int n, const vb_crop *box)
{
    int kept = 0;
    for (int i = 0; i < n; i++) {
        float cx = 0.5f * (boxes[i].x0 + boxes[i].x1), cy = 0.5f * (boxes[i].y0 + boxes[i].y1);
        if (cx >= box->x0 && cx < box->x1 && cy >= box->y0 && cy < box->y1)
            boxes[kept++] = boxes[i];
    }
    return kept;
}

/* Detection results -> the face each position goes on with (or a failure to acquire). */
static void choose_faces(chunk *c)
{
    vb_engine *en = c->en;
    for (size_t k = 0; k < c->count; k++) {
        if (!c->alive[k])
            continue;
        vb_face_box boxes[VB_DET_MAX_FACES];
        const vb_image *im = &c->img[k];
        int cells = en->det.graph.nodes[en->det.graph.output].h;
        const float *out = c->det_out + (size_t)c->slot[k] * c->det_out_floats;
        int n = en->det_params.kind == VB_DET_SSD
                    ? vb_det_decode_ssd(out, &en->det_params, im->w, im->h, boxes, VB_DET_MAX_FACES)
                    : vb_det_decode_tiny(out, cells, &en->det_params, im->w, im->h, boxes, VB_DET_MAX_FACES);
        vb_face_record *r = &c->rec[k];
        r->faces = n;
        const vb_crop *fb = &en->prep.fallback;
        if (en->prep.on_no_face == VB_NO_FACE_FALLBACK) /* the box says where the subject is: */
            n = keep_centred_in(boxes, n, fb);          /* faces centred elsewhere are not them */
        int pick = vb_det_pick(boxes, n, im->w, im->h);
        if (pick >= 0) {
            r->source = VB_FACE_DETECTED;
            r->box = boxes[pick];
            continue;
        }
        if (en->prep.on_no_face == VB_NO_FACE_FALLBACK && fb->x1 <= im->w && fb->y1 <= im->h) {
            r->source = VB_FACE_FALLBACK;
            r->box = (vb_face_box){(float)fb->x0, (float)fb->y0, (float)fb->x1, (float)fb->y1, 0.0f};
            continue;
        }
        r->source = VB_FACE_NONE;
        c->alive[k] = 0;
        if (en->prep.on_no_face == VB_NO_FACE_FALLBACK)
            vb_fail(&c->why[k], VB_EXIT_INPUT, "%s: no face found, and the fallback box %d,%d,%d,%d lies outside the "
                    "%dx%d image", c->paths[c->first + k], fb->x0, fb->y0, fb->x1, fb->y1, im->w, im->h);
        else
            vb_fail(&c->why[k], VB_EXIT_INPUT, "%s: no face found (%s, score > %.2f)", c->paths[c->first + k],
                    en->det_params.kind == VB_DET_SSD ? "SSD MobileNet v1" : "tiny face detector",
                    (double)en->det_params.score_threshold);
    }
}

static int run_net(chunk *c, vb_engine_net *net, int *batch, float *in, size_t n, float *out, int stage, vb_err *e)
{
    vb_timings tm = {0, NULL};
    double t0 = vb_now();
    int rc = n ? vb_engine_run_net(c->en, net ? net->prepared : c->en->prepared, net ? &net->graph : &c->en->graph,
                                   batch, in, n, out, &tm, e)
               : 0;
    c->en->stage_ms[stage] += (vb_now() - t0) * 1e3;
    return rc;
}

/* The landmarks are the average of the net's points on the face and, mirrored back, on its
 * left-right mirror image. face-api.js's landmark net is less precise than the dlib shape
 * predictor the descriptor net's chips were made with, and not symmetric: on LFW its points
 * on a mirrored face, mirrored back, sit ~2.3 px (of its 112) right of its points on the
 * face, a bias and noise the average halves. Measured on LFW View 2 (6,000 pairs, CPU,
 * fallback box 70,70,180,180): 10-fold accuracy 98.78% -> 98.90%, EER 1.33% -> 1.20%, for
 * one more landmark-net pass (~1-2 ms per face on 2 cores).
 * iBUG 68-point mirror pairs: point i of a face is point mirror68[i] of its mirror image. */
static const int mirror68[VB_LANDMARKS] = {
    16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,  /* jaw */
    26, 25, 24, 23, 22, 21, 20, 19, 18, 17,                    /* brows */
    27, 28, 29, 30, 35, 34, 33, 32, 31,                        /* nose */
    45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,            /* eyes */
    54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,            /* outer lips */
    64, 63, 62, 61, 60, 67, 66, 65,                            /* inner lips */
};

/* Inputs 0..n-1 (h x w x 3) mirrored left-right into n..2n-1. */
static void mirror_inputs(float *in, size_t n, int h, int w)
{
    size_t floats = (size_t)h * w * 3;
    for (size_t i = 0; i < n; i++) {
        const float *src = in + i * floats;
        float *dst = in + (n + i) * floats;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                memcpy(dst + ((size_t)y * w + x) * 3, src + ((size_t)y * w + (w - 1 - x)) * 3, 3 * sizeof(float));
    }
}

/* Landmarks of input i averaged with those of its mirror (n + i), mapped back. */
static void average_mirrored(float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float *a = out + i * 2 * VB_LANDMARKS;
        const float *m = out + (n + i) * 2 * VB_LANDMARKS;
        for (int j = 0; j < VB_LANDMARKS; j++) {
            a[2 * j] = 0.5f * (a[2 * j] + (1.0f - m[2 * mirror68[j]]));
            a[2 * j + 1] = 0.5f * (a[2 * j + 1] + m[2 * mirror68[j] + 1]);
        }
    }
}

/* One chunk through every stage; the callbacks in input order. */
static int run_chunk(chunk *c, int *det_batch, int *lm_batch, vb_embed_cb cb, void *ctx, vb_err *e)
{
    vb_engine *en = c->en;
    double t0 = vb_now();
    parallel_step(c, STEP_DECODE);
    en->stage_ms[VB_STAGE_DECODE] += (vb_now() - t0) * 1e3;

    size_t n = pack_alive(c, c->det_in, input_floats(&en->det.graph));
    if (run_net(c, &en->det, det_batch, c->det_in, n, c->det_out, VB_STAGE_DETECT, e))
        return -1;
    t0 = vb_now();
    choose_faces(c);
    en->stage_ms[VB_STAGE_DETECT] += (vb_now() - t0) * 1e3;

    t0 = vb_now();
    parallel_step(c, STEP_LANDMARK_INPUT);
    n = pack_alive(c, c->lm_in, input_floats(&en->lm.graph));
    en->stage_ms[VB_STAGE_LANDMARKS] += (vb_now() - t0) * 1e3;
    mirror_inputs(c->lm_in, n, en->lm.graph.in_h, en->lm.graph.in_w);
    if (run_net(c, &en->lm, lm_batch, c->lm_in, 2 * n, c->lm_out, VB_STAGE_LANDMARKS, e))
        return -1;
    average_mirrored(c->lm_out, n);

    t0 = vb_now();
    parallel_step(c, STEP_ALIGN);
    if (warp_alive(c, &n, e))
        return -1;
    en->stage_ms[VB_STAGE_ALIGN] += (vb_now() - t0) * 1e3;
    float *desc = c->det_out; /* the detector's output is spent: reuse it for descriptors */
    double node_ms[VB_GRAPH_MAX_NODES] = {0};
    vb_timings tm = {0, node_ms};
    t0 = vb_now();
    if (n && vb_engine_run_net(en, en->prepared, &en->graph, &en->batch, c->rec_in, n, desc, &tm, e))
        return -1;
    en->stage_ms[VB_STAGE_DESCRIBE] += (vb_now() - t0) * 1e3;
    en->run_ms += tm.total_ms;
    for (int i = 0; i < en->graph.n_nodes; i++)
        en->node_ms[i] += node_ms[i];
    en->images += n;
    en->stage_images += c->count;

    for (size_t k = 0; k < c->count; k++) {
        if (en->on_face && (c->alive[k] || c->rec[k].source == VB_FACE_NONE))
            en->on_face(en->face_ctx, c->first + k, &c->rec[k]);
        if (en->on_chip && c->alive[k])
            en->on_chip(en->face_ctx, c->first + k, c->rec_in + (size_t)c->slot[k] * input_floats(&en->graph));
        const float *d = c->alive[k] ? desc + (size_t)c->slot[k] * en->graph.out_dim : NULL;
        if (cb(ctx, c->first + k, d, d ? NULL : &c->why[k]))
            return vb_fail(e, VB_EXIT_FAIL, "stopped");
    }
    return 0;
}

int vb_face_embed_files(vb_engine *en, const char *const *paths, size_t n, vb_embed_cb cb, void *ctx, vb_err *e)
{
    const size_t B = (size_t)en->batch;
    chunk c = {.en = en, .paths = paths};
    c.det_out_floats = (size_t)en->det.graph.out_dim;
    size_t det_out = c.det_out_floats > (size_t)en->graph.out_dim ? c.det_out_floats : (size_t)en->graph.out_dim;
    int rc = -1;
    c.img = vb_calloc(B, sizeof *c.img, e);
    c.alive = vb_calloc(B, sizeof *c.alive, e);
    c.why = vb_calloc(B, sizeof *c.why, e);
    c.rec = vb_calloc(B, sizeof *c.rec, e);
    c.slot = vb_calloc(B, sizeof *c.slot, e);
    c.lm_box = vb_calloc(B, sizeof *c.lm_box, e);
    c.xf = vb_calloc(B, sizeof *c.xf, e);
    c.xf_packed = vb_calloc(B, sizeof *c.xf_packed, e);
    c.px = vb_calloc(B, sizeof *c.px, e);
    c.w = vb_calloc(B, sizeof *c.w, e);
    c.h = vb_calloc(B, sizeof *c.h, e);
    c.ch = vb_calloc(B, sizeof *c.ch, e);
    c.det_in = vb_malloc(B * input_floats(&en->det.graph) * sizeof(float), e);
    c.det_out = vb_malloc(B * det_out * sizeof(float), e);
    c.lm_in = vb_malloc(2 * B * input_floats(&en->lm.graph) * sizeof(float), e);
    c.lm_out = vb_malloc(2 * B * 2 * VB_LANDMARKS * sizeof(float), e);
    c.rec_in = vb_malloc(B * input_floats(&en->graph) * sizeof(float), e);
    if (!c.img || !c.alive || !c.why || !c.rec || !c.slot || !c.lm_box || !c.det_in || !c.det_out || !c.lm_in ||
        !c.lm_out || !c.rec_in || !c.xf || !c.xf_packed || !c.px || !c.w || !c.h || !c.ch)
        goto done;
    if (en->save_chips && vb_mkdirs(en->save_chips, e))
        goto done;
    int det_batch = (int)B, lm_batch = (int)B;
    for (size_t first = 0; first < n; first += B) {
        c.first = first;
        c.count = n - first < B ? n - first : B;
        memset(c.why, 0, B * sizeof *c.why);
        memset(c.rec, 0, B * sizeof *c.rec);
        int chunk_rc = run_chunk(&c, &det_batch, &lm_batch, cb, ctx, e);
        for (size_t k = 0; k < c.count; k++)
            vb_image_free(&c.img[k]);
        if (chunk_rc)
            goto done;
    }
    rc = 0;
done:
    free(c.img);
    free(c.alive);
    free(c.why);
    free(c.rec);
    free(c.slot);
    free(c.lm_box);
    free(c.xf);
    free(c.xf_packed);
    free(c.px);
    free(c.w);
    free(c.h);
    free(c.ch);
    free(c.det_in);
    free(c.det_out);
    free(c.lm_in);
    free(c.lm_out);
    free(c.rec_in);
    return rc;
}
