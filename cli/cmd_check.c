/* veribench check: run the model on a backend and on the CPU reference over the same images,
 * and report how far apart they are where it matters: per layer (NMSE, max-abs error of every
 * layer the backend materializes), per descriptor (cosine similarity), and per decision
 * (same/different verdicts at the model's threshold that flip, over all pairs of images).
 * For the fingerprint matcher: per print (templates and minutiae that differ) and per
 * decision. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/files.h"
#include "core/csv_write.h"
#include "cli/engine.h"
#include "cli/scores.h"
#include "core/progress.h"
#include "datasets/dataset.h"
#include "datasets/registry.h"

/* Default tolerances (README and --help say the same). fp32 variants differ from the
 * reference only in summation order/precision: measured cosine 1 - 1e-13 on the face net.
 * fp16 variants round every activation to fp16: measured cosine ~1 - 3e-7. */
#define MIN_COSINE_FP32 0.99999
#define MIN_COSINE_FP16 0.9999
#define DEFAULT_MAX_BATCH 8 /* both backends capture every layer: memory grows with the batch */

static void describe(FILE *f)
{
    fprintf(f,
            "Runs the model on backend B and on the reference R over the same images and reports:\n"
            "  - per layer: NMSE and max-abs error of every layer B materializes (layers B fuses\n"
            "    into a neighbour are not separately observable and are skipped);\n"
            "  - per image: cosine similarity of the descriptors (mean and worst reported);\n"
            "  - per pair of images (all pairs of IMAGE..., or the trials of a dataset's\n"
            "    protocol): whether the same/different decision at the model's threshold\n"
            "    (euclidean distance < 0.6 for the face net) flips. The face detector and\n"
            "    landmark nets (--model tiny_face_detector.gguf, face_landmark_68.gguf) take\n"
            "    no decisions: their whole output's cosine is checked; images are resized to\n"
            "    the net's input as they are (no letterbox, no face crop unless --crop).\n"
            "    The fingerprint matcher (--model fingerprint_mcc.gguf) is compared end to\n"
            "    end: templates and minutiae that differ, failures to enrol, and decisions\n"
            "    at its threshold (MCC distance <= t accepts); PASS needs no flips.\n"
            "Verdict: PASS (exit 0) when the worst cosine >= the tolerance (default %.5f when\n"
            "the backend runs fp32 variants, %.4f with fp16 variants) and no more than\n"
            "--max-flips decisions flip; otherwise FAIL (exit 1). The default batch is the\n"
            "backend's preferred one, at most %d.\n\n"
            "Datasets (--dataset):\n%s\n",
            MIN_COSINE_FP32, MIN_COSINE_FP16, DEFAULT_MAX_BATCH, vb_dataset_spec_help);
}

static const vb_command_help help = {
    "check",
    "[--model M] [--backend B] [--reference R] [options] IMAGE...\n"
    "       veribench check [options] --dataset SPEC [--folds LIST] [--trials F]",
    describe,
    "0 PASS; 1 FAIL (above tolerance); 2 usage; 3 bad model or image; 4 backend\n"
    "or device failure; 5 write error."};

static const char *const formats[] = {"table", "csv", NULL};
static const char *const references[] = {"cpu:ref", "cpu", NULL};

typedef struct layer_stat {
    double err2, ref2, max_abs;
    int materialized; /* the checked backend produced this layer's values */
} layer_stat;

typedef struct check_opts {
    vb_engine_opts eo;
    const char *reference;
    const char *dataset, *folds, *trials;
    double min_cosine; /* < 0: the default for the variant in use */
    int max_flips;
    int csv;
} check_opts;

typedef struct side {
    vb_prepared *prepared;
    float **node; /* per node capture buffers (batch * size) */
    float *out;   /* batch * out_dim */
} side;

typedef struct checker {
    const vb_graph *g;
    int batch;
    side test, ref;
    float *input;
    float *desc_test, *desc_ref; /* n_images * out_dim */
    layer_stat *layers;
    const float *chips;          /* align: the reference pipeline's net inputs, n_images * in */
} checker;

static int side_alloc(side *s, const vb_graph *g, int batch, vb_err *e)
{
    s->node = vb_calloc((size_t)g->n_nodes, sizeof *s->node, e);
    s->out = vb_malloc((size_t)batch * g->out_dim * sizeof(float), e);
    if (!s->node || !s->out)
        return -1;
    for (int i = 0; i < g->n_nodes; i++)
        if (!(s->node[i] = vb_malloc((size_t)batch * vb_node_size(&g->nodes[i]) * sizeof(float), e)))
            return -1;
    return 0;
}

static void side_free(side *s, const vb_graph *g)
{
    if (s->node)
        for (int i = 0; i < g->n_nodes; i++)
            free(s->node[i]);
    free(s->node);
    free(s->out);
}

static void accumulate_layers(checker *c, int count)
{
    const vb_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const float *t = c->test.node[i], *r = c->ref.node[i];
        if (isnan(t[0]))
            continue; /* fused away on the checked backend */
        layer_stat *l = &c->layers[i];
        l->materialized = 1;
        size_t n = (size_t)count * vb_node_size(&g->nodes[i]);
        for (size_t k = 0; k < n; k++) {
            double d = (double)t[k] - r[k];
            l->err2 += d * d;
            l->ref2 += (double)r[k] * r[k];
            if (fabs(d) > l->max_abs || d != d)
                l->max_abs = fabs(d);
        }
    }
}

/* Decode, preprocess and run images first..first+count-1 on both backends. */
static int check_batch(checker *c, char **paths, size_t first, int count, const vb_crop *crop, vb_err *e)
{
    const vb_graph *g = c->g;
    const size_t in = (size_t)g->in_h * g->in_w * g->in_c;
    for (int k = 0; k < count && c->chips; k++)
        memcpy(c->input + k * in, c->chips + (first + k) * in, in * sizeof(float));
    for (int k = 0; k < count && !c->chips; k++) {
        vb_image img;
        const char *path = paths[first + k];
        int rc = vb_image_load(path, &img, e) || vb_preprocess(&img, crop, g, path, c->input + k * in, e);
        vb_image_free(&img);
        if (rc)
            return -1;
    }
    side *sides[2] = {&c->test, &c->ref};
    for (int s = 0; s < 2; s++) {
        if (vb_backend_run(sides[s]->prepared, c->input, count, sides[s]->out, sides[s]->node, NULL, e)) {
            vb_err_prefix(e, "%s backend", s ? "reference" : "checked");
            return -1;
        }
    }
    accumulate_layers(c, count);
    memcpy(c->desc_test + first * g->out_dim, c->test.out, (size_t)count * g->out_dim * sizeof(float));
    memcpy(c->desc_ref + first * g->out_dim, c->ref.out, (size_t)count * g->out_dim * sizeof(float));
    return 0;
}

typedef struct summary {
    double cos_mean, cos_worst;
    size_t worst_image;
    size_t pairs, flips;
    double max_dist_change;
    double min_cosine;
    int pass;
} summary;

/* Count one pair: does the decision at the threshold flip, how far did the distance move. */
static void score_pair(const checker *c, size_t i, size_t j, summary *s)
{
    const int dim = c->g->out_dim;
    const double thr = c->g->threshold;
    double dt = vb_descriptor_distance(c->desc_test + i * dim, c->desc_test + j * dim, dim);
    double dr = vb_descriptor_distance(c->desc_ref + i * dim, c->desc_ref + j * dim, dim);
    s->pairs++;
    s->flips += (dt < thr) != (dr < thr);
    s->max_dist_change = fmax(s->max_dist_change, fabs(dt - dr));
}

static void summarize(const checker *c, size_t n, const vb_dataset *ds, const check_opts *o, int fp16, summary *s)
{
    const int dim = c->g->out_dim;
    memset(s, 0, sizeof *s);
    s->cos_worst = 2;
    for (size_t i = 0; i < n; i++) {
        double cs = vb_descriptor_cosine(c->desc_test + i * dim, c->desc_ref + i * dim, dim);
        s->cos_mean += cs / (double)n;
        if (cs < s->cos_worst || cs != cs) {
            s->cos_worst = cs;
            s->worst_image = i;
        }
    }
    if (!c->g->distance) {
        /* a detector or landmark net: no descriptors, so no decisions to flip */
    } else if (ds) {
        vb_trial_iter it;
        vb_trial t;
        vb_trial_iter_init(&it, ds, 0, ds->n_trials);
        while (vb_trial_iter_next(&it, &t))
            score_pair(c, t.a, t.b, s);
    } else {
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                score_pair(c, i, j, s);
    }
    s->min_cosine = o->min_cosine >= 0 ? o->min_cosine : fp16 ? MIN_COSINE_FP16 : MIN_COSINE_FP32;
    s->pass = s->cos_worst >= s->min_cosine && s->flips <= (size_t)o->max_flips;
}

static void print_table(const checker *c, const summary *s, char **paths, const vb_engine *en,
                        const vb_device_info *ref_dev, const check_opts *o, size_t n)
{
    const vb_graph *g = c->g;
    printf("checked:   %s (%s%s), batch %d\n", en->spec.text, en->device.name,
           !strcmp(en->device.backend, "vulkan") ? (en->device.uses_fp16 ? ", fp16 variants" : ", fp32 variants") : "",
           c->batch);
    printf("reference: %s (%s)\n", o->reference, ref_dev->name);
    if (o->dataset)
        printf("dataset:   %s%s%s, %zu images\n\n", o->dataset, o->folds ? ", folds " : "", o->folds ? o->folds : "", n);
    else
        printf("images:    %zu\n\n", n);
    printf("%-32s %-12s %-12s %12s %12s\n", "layer", "op", "shape", "NMSE", "max-abs");
    int fused = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const layer_stat *l = &c->layers[i];
        if (!l->materialized) {
            fused++;
            continue;
        }
        char shape[48];
        snprintf(shape, sizeof shape, "%dx%dx%d", g->nodes[i].h, g->nodes[i].w, g->nodes[i].c);
        printf("%-32s %-12s %-12s %12.3g %12.3g\n", g->nodes[i].name, vb_op_name(g->nodes[i].op), shape,
               l->ref2 > 0 ? l->err2 / l->ref2 : l->err2, l->max_abs);
    }
    if (fused)
        printf("(%d layers fused into their successor on %s, not separately observable)\n", fused, en->spec.text);
    printf("\n%s cosine: mean %.9f (1 - %.2g), worst %.9f (1 - %.2g, %s); tolerance >= %g\n",
           g->distance ? "descriptor" : "output", s->cos_mean, 1 - s->cos_mean, s->cos_worst, 1 - s->cos_worst,
           paths[s->worst_image], s->min_cosine);
    if (g->distance)
        printf("decisions at %s distance %g: %zu pairs, %zu flipped (tolerance %d), largest distance change %.3g\n",
               g->distance, g->threshold, s->pairs, s->flips, o->max_flips, s->max_dist_change);
    else
        printf("decisions: none (the %s net's output is not a descriptor)\n", g->arch);
    printf("verdict: %s\n", s->pass ? "PASS" : "FAIL");
}

static void csv_row(const char *metric, const char *item, double value)
{
    vb_csv_field(stdout, metric);
    putchar(',');
    vb_csv_field(stdout, item);
    printf(",%.10g\n", value);
}

static void print_csv(const checker *c, const summary *s, char **paths, size_t n)
{
    const vb_graph *g = c->g;
    printf("metric,item,value\n");
    for (int i = 0; i < g->n_nodes; i++) {
        const layer_stat *l = &c->layers[i];
        if (!l->materialized)
            continue;
        csv_row("layer_nmse", g->nodes[i].name, l->ref2 > 0 ? l->err2 / l->ref2 : l->err2);
        csv_row("layer_max_abs", g->nodes[i].name, l->max_abs);
    }
    const int dim = g->out_dim;
    for (size_t i = 0; i < n; i++)
        csv_row("cosine", paths[i], vb_descriptor_cosine(c->desc_test + i * dim, c->desc_ref + i * dim, dim));
    csv_row("cosine_mean", "", s->cos_mean);
    csv_row("cosine_worst", "", s->cos_worst);
    csv_row("cosine_tolerance", "", s->min_cosine);
    csv_row("pairs", "", (double)s->pairs);
    csv_row("decision_flips", "", (double)s->flips);
    csv_row("max_distance_change", "", s->max_dist_change);
    csv_row("pass", "", s->pass);
}

/* ---- --preprocess align: the whole pipeline on both backends ----------------------------
 * The descriptor net is compared layer by layer on the same inputs: the chips the reference
 * pipeline made. The whole pipelines (each backend detecting, finding landmarks and warping
 * on its own) are compared end to end: where each found the face, how far its landmarks
 * moved, and the descriptors' cosines and decision flips. */
typedef struct pipelines {
    float *chips;                /* reference pipeline: n * in floats */
    float *desc_test, *desc_ref; /* whole pipelines: n * out_dim */
    vb_face_record *face_test, *face_ref;
    size_t in;
    int dim;
    const vb_engine *capturing;
    int capturing_ref;
} pipelines;

static void pipelines_free(pipelines *p)
{
    free(p->chips);
    free(p->desc_test);
    free(p->desc_ref);
    free(p->face_test);
    free(p->face_ref);
    memset(p, 0, sizeof *p);
}

static void on_chip(void *ctx, size_t k, const float *input)
{
    pipelines *p = ctx;
    if (p->capturing_ref)
        memcpy(p->chips + k * p->in, input, p->in * sizeof(float));
}

static void on_face(void *ctx, size_t k, const vb_face_record *r)
{
    pipelines *p = ctx;
    (p->capturing_ref ? p->face_ref : p->face_test)[k] = *r;
}

typedef struct desc_sink {
    pipelines *p;
    float *out;
    vb_err first;
    int failed;
} desc_sink;

static int on_desc(void *ctx, size_t k, const float *desc, const vb_err *why)
{
    desc_sink *d = ctx;
    if (!desc) { /* check compares every image: one without a face has nothing to compare */
        d->first = *why;
        d->failed = 1;
        return 1;
    }
    memcpy(d->out + k * d->p->dim, desc, (size_t)d->p->dim * sizeof(float));
    return 0;
}

static int embed_all(vb_engine *en, pipelines *p, int ref, const char *const *paths, size_t n, vb_err *e)
{
    desc_sink d = {.p = p, .out = ref ? p->desc_ref : p->desc_test};
    p->capturing_ref = ref;
    en->on_face = on_face;
    en->on_chip = on_chip;
    en->face_ctx = p;
    int rc = vb_engine_embed_files(en, paths, n, on_desc, &d, e);
    if (d.failed)
        *e = d.first;
    return rc || d.failed ? -1 : 0;
}

static int run_pipelines(vb_engine *en, const check_opts *o, const char *const *paths, size_t n, pipelines *p,
                         vb_err *e)
{
    vb_engine ref;
    vb_engine_opts ro = o->eo;
    ro.backend = o->reference;
    p->in = (size_t)en->graph.in_h * en->graph.in_w * en->graph.in_c;
    p->dim = en->graph.out_dim;
    p->chips = vb_malloc((n ? n : 1) * p->in * sizeof(float), e);
    p->desc_test = vb_malloc((n ? n : 1) * p->dim * sizeof(float), e);
    p->desc_ref = vb_malloc((n ? n : 1) * p->dim * sizeof(float), e);
    p->face_test = vb_calloc(n ? n : 1, sizeof *p->face_test, e);
    p->face_ref = vb_calloc(n ? n : 1, sizeof *p->face_ref, e);
    if (!p->chips || !p->desc_test || !p->desc_ref || !p->face_test || !p->face_ref)
        return -1;
    if (vb_engine_open(&ref, &ro, e)) {
        vb_err_prefix(e, "reference backend");
        return -1;
    }
    int rc = embed_all(&ref, p, 1, paths, n, e);
    vb_engine_close(&ref);
    return rc || embed_all(en, p, 0, paths, n, e) ? -1 : 0;
}

/* How far the two pipelines' faces are apart: images whose face count or source differs,
 * and the largest landmark displacement (pixels) with its image. */
static size_t face_differences(const pipelines *p, size_t n, double *worst_lm, size_t *worst_i)
{
    size_t differ = 0;
    *worst_lm = 0, *worst_i = 0;
    for (size_t i = 0; i < n; i++) {
        const vb_face_record *t = &p->face_test[i], *r = &p->face_ref[i];
        differ += t->source != r->source || t->faces != r->faces;
        for (int k = 0; k < VB_LANDMARKS; k++) {
            double dx = t->landmarks[k].x - r->landmarks[k].x, dy = t->landmarks[k].y - r->landmarks[k].y;
            double d = sqrt(dx * dx + dy * dy);
            if (d > *worst_lm)
                *worst_lm = d, *worst_i = i;
        }
    }
    return differ;
}

/* The whole pipelines pass when they find the same faces and no decision flips (beyond
 * --max-flips). Their descriptors' cosines are reported, not judged: each backend warps its
 * own landmarks, and a landmark moved by a pixel (fp16 arithmetic in the landmark net) moves
 * a descriptor further than the descriptor net's own rounding ever does, so the net-level
 * cosine tolerance does not apply; the decisions are what a user sees. */
static void judge_pipelines(const pipelines *p, size_t n, const check_opts *o, summary *s)
{
    double worst_lm;
    size_t worst_i;
    s->pass = face_differences(p, n, &worst_lm, &worst_i) == 0 && s->flips <= (size_t)o->max_flips;
}

static void print_pipelines(const pipelines *p, const summary *s, char **paths, size_t n, int csv)
{
    double worst_lm;
    size_t worst_i;
    size_t moved_source = face_differences(p, n, &worst_lm, &worst_i);
    if (csv) {
        csv_row("pipeline_face_count_or_source_differs", "", (double)moved_source);
        csv_row("pipeline_landmark_worst_px", n ? paths[worst_i] : "", worst_lm);
        csv_row("pipeline_cosine_mean", "", s->cos_mean);
        csv_row("pipeline_cosine_worst", "", s->cos_worst);
        csv_row("pipeline_decision_flips", "", (double)s->flips);
        csv_row("pipeline_pass", "", s->pass);
        return;
    }
    printf("\nwhole pipeline (each backend detects, finds landmarks and warps on its own):\n");
    printf("  images whose face count or source differs: %zu of %zu\n", moved_source, n);
    printf("  worst landmark displacement: %.3g px (%s)\n", worst_lm, n ? paths[worst_i] : "-");
    printf("  descriptor cosine (reported, not judged): mean %.9f, worst %.9f\n", s->cos_mean, s->cos_worst);
    printf("  decisions: %zu pairs, %zu flipped\n", s->pairs, s->flips);
    printf("  verdict: %s (same faces found, flips within --max-flips)\n", s->pass ? "PASS" : "FAIL");
}

/* ---- fingerprints: the whole extraction on both backends ---------------------------------
 * The matcher's backends share everything but the image kernels (vb_backend_fp_orient,
 * vb_backend_fp_gabor), so the comparison is end to end: each backend extracts every print,
 * the templates are compared minutia by minutia, and every pair (or the dataset's trials) is
 * scored on both sides' templates with the one MCC matcher. PASS: no decision flips (beyond
 * --max-flips); template differences are reported. A print that fails to enrol on a side is
 * a non-match there, as in `run`; any other failure (an unreadable file) stops the check. */
static int fail(const char *what, const vb_err *e, int fallback);

typedef struct fp_side {
    float *records; /* n * VB_FP_TEMPLATE_FLOATS */
    uint8_t *ok;
    vb_err first;   /* the first failure that is not a failure to enrol */
    int failed;
} fp_side;

static int on_print(void *ctx, size_t k, const float *rec, const vb_err *why)
{
    fp_side *s = ctx;
    if (rec) {
        memcpy(s->records + k * VB_FP_TEMPLATE_FLOATS, rec, VB_FP_TEMPLATE_FLOATS * sizeof(float));
        s->ok[k] = 1;
        return 0;
    }
    if (strstr(why->msg, "(failure to enrol)")) /* the engine's words for too few minutiae */
        return 0;
    s->first = *why;
    s->failed = 1;
    return 1;
}

static int extract_side(vb_engine *en, const char *const *paths, size_t n, fp_side *s, vb_err *e)
{
    s->records = vb_calloc(n ? n : 1, VB_FP_TEMPLATE_FLOATS * sizeof(float), e);
    s->ok = vb_calloc(n ? n : 1, 1, e);
    if (!s->records || !s->ok)
        return -1;
    int rc = vb_engine_embed_files(en, paths, n, on_print, s, e);
    if (s->failed)
        *e = s->first;
    return rc || s->failed ? -1 : 0;
}

/* Minutiae of one side with no equal (position, direction, kind) on the other. */
static int unmatched_minutiae(const float *a, const float *b)
{
    int na = (int)a[0], nb = (int)b[0], miss = 0;
    for (int i = 0; i < na; i++) {
        const float *m = a + 3 + 4 * i;
        int found = 0;
        for (int j = 0; j < nb && !found; j++)
            found = !memcmp(m, b + 3 + 4 * j, 4 * sizeof(float));
        miss += !found;
    }
    return miss;
}

typedef struct fp_summary {
    size_t prints, both, templates_differ, minutiae_differ, fte_test, fte_ref, fte_differ;
    size_t pairs, flips;
    double max_dist_change;
    int pass;
} fp_summary;

static double fp_distance(const vb_fp_gallery *g, const uint8_t *ok, size_t a, size_t b)
{
    return ok[a] && ok[b] ? vb_fp_gallery_distance(g, (uint32_t)a, (uint32_t)b) : INFINITY;
}

static void fp_pair(const vb_fp_gallery *gt, const vb_fp_gallery *gr, const fp_side *t, const fp_side *r, size_t a,
                    size_t b, double thr, fp_summary *s)
{
    double dt = fp_distance(gt, t->ok, a, b), dr = fp_distance(gr, r->ok, a, b);
    s->pairs++;
    s->flips += (dt <= thr) != (dr <= thr);
    if (isfinite(dt) && isfinite(dr))
        s->max_dist_change = fmax(s->max_dist_change, fabs(dt - dr));
}

static int fp_compare(const vb_engine *en, const fp_side *t, const fp_side *r, size_t n, const vb_dataset *ds,
                      fp_summary *s, vb_err *e)
{
    memset(s, 0, sizeof *s);
    s->prints = n;
    for (size_t i = 0; i < n; i++) {
        const float *a = t->records + i * VB_FP_TEMPLATE_FLOATS, *b = r->records + i * VB_FP_TEMPLATE_FLOATS;
        s->fte_test += !t->ok[i], s->fte_ref += !r->ok[i], s->fte_differ += t->ok[i] != r->ok[i];
        if (t->ok[i] && r->ok[i]) {
            s->both++;
            s->templates_differ += memcmp(a, b, VB_FP_TEMPLATE_FLOATS * sizeof(float)) != 0;
            s->minutiae_differ += (size_t)(unmatched_minutiae(a, b) + unmatched_minutiae(b, a));
        }
    }
    vb_fp_gallery gt = {0}, gr = {0};
    if (vb_fp_gallery_build(&gt, t->records, t->ok, n, &en->fp, 0, e) ||
        vb_fp_gallery_build(&gr, r->records, r->ok, n, &en->fp, 0, e)) {
        vb_fp_gallery_free(&gt);
        vb_fp_gallery_free(&gr);
        return -1;
    }
    const double thr = en->fp.threshold;
    if (ds) {
        vb_trial_iter it;
        vb_trial tr;
        vb_trial_iter_init(&it, ds, 0, ds->n_trials);
        while (vb_trial_iter_next(&it, &tr))
            fp_pair(&gt, &gr, t, r, tr.a, tr.b, thr, s);
    } else {
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                fp_pair(&gt, &gr, t, r, i, j, thr, s);
    }
    vb_fp_gallery_free(&gt);
    vb_fp_gallery_free(&gr);
    return 0;
}

static void fp_print(const fp_summary *s, const vb_engine *en, const vb_engine *ref, const check_opts *o)
{
    if (o->csv) {
        printf("metric,item,value\n");
        csv_row("prints", "", (double)s->prints);
        csv_row("templates_differ", "", (double)s->templates_differ);
        csv_row("minutiae_differ", "", (double)s->minutiae_differ);
        csv_row("fte_checked", "", (double)s->fte_test);
        csv_row("fte_reference", "", (double)s->fte_ref);
        csv_row("pairs", "", (double)s->pairs);
        csv_row("decision_flips", "", (double)s->flips);
        csv_row("max_distance_change", "", s->max_dist_change);
        csv_row("pass", "", s->pass);
        return;
    }
    printf("checked:   %s (%s), fingerprint kernels %s\n", en->spec.text, en->device.name,
           strcmp(en->device.backend, "cpu") ? "on the device" : "the reference");
    printf("reference: %s (%s)\n", o->reference, ref->device.name);
    printf("prints:    %zu%s%s\n\n", s->prints, o->dataset ? ", dataset " : "", o->dataset ? o->dataset : "");
    printf("templates differing: %zu of %zu enrolled on both; minutiae without an equal on the other side: %zu\n",
           s->templates_differ, s->both, s->minutiae_differ);
    printf("failures to enrol: %zu checked, %zu reference, %zu on one side only\n", s->fte_test, s->fte_ref,
           s->fte_differ);
    printf("decisions at %s distance %g: %zu pairs, %zu flipped (tolerance %d), largest distance change %.3g\n",
           en->graph.distance, en->fp.threshold, s->pairs, s->flips, o->max_flips, s->max_dist_change);
    printf("verdict: %s\n", s->pass ? "PASS" : "FAIL");
}

static int check_prints(vb_engine *en, const check_opts *o, const char *const *paths, size_t n, const vb_dataset *ds)
{
    vb_engine ref;
    vb_engine_opts ro = o->eo;
    ro.backend = o->reference;
    fp_side t = {0}, r = {0};
    fp_summary s;
    vb_err e = {0};
    int status;
    if (vb_engine_open(&ref, &ro, &e)) {
        vb_err_prefix(&e, "reference backend");
        return fail("", &e, VB_EXIT_DEVICE);
    }
    if (extract_side(&ref, paths, n, &r, &e) || extract_side(en, paths, n, &t, &e) ||
        fp_compare(en, &t, &r, n, ds, &s, &e)) {
        status = fail("", &e, VB_EXIT_INPUT);
    } else {
        s.pass = s.flips <= (size_t)o->max_flips;
        fp_print(&s, en, &ref, o);
        status = fflush(stdout) != 0 ? (fprintf(stderr, "veribench check: cannot write to stdout\n"), VB_EXIT_IO)
                 : s.pass          ? VB_EXIT_OK
                                   : VB_EXIT_FAIL;
    }
    free(t.records), free(t.ok), free(r.records), free(r.ok);
    vb_engine_close(&ref);
    return status;
}

/* Returns VB_OPTS_GO with *first_image set, or the exit code to return. */
static int parse_args(int argc, char **argv, check_opts *o, int *first_image)
{
    memset(o, 0, sizeof *o);
    o->eo.backend = "vulkan";
    o->min_cosine = -1;
    int reference = 0, max_pixels = 0;
    const vb_option opts[] = {
        VB_OPT_MODEL(&o->eo.model_path),
        VB_OPT_BACKEND(&o->eo.backend),
        VB_OPT_CHOICE_ROW("reference", "R", "cpu:ref (default, the plain fp32 reference) or cpu", &reference, references),
        VB_OPT_STRING_ROW("dataset", "SPEC", "the images and trials of a dataset instead of IMAGE...", &o->dataset),
        VB_OPT_STRING_ROW("folds", "LIST", "keep these folds of the dataset, e.g. 1 or 1,3-5", &o->folds),
        VB_OPT_STRING_ROW("trials", "FILE", "trials CSV for csv:, lfw-all and fvc2002-all specs", &o->trials),
        VB_OPT_FACE_PREP(&o->eo.prep),
        VB_OPT_BATCH(&o->eo.batch),
        VB_OPT_FP16(&o->eo.fp16),
        VB_OPT_VALIDATION(&o->eo.validation),
        VB_OPT_MAX_PIXELS(&max_pixels),
        VB_OPT_DOUBLE_ROW("min-cosine", "X", "tolerance for the worst descriptor cosine, -1..1", &o->min_cosine, -1, 1),
        VB_OPT_INT_ROW("max-flips", "N", "decision flips tolerated (default 0)", &o->max_flips, 0, 2147483647),
        VB_OPT_CHOICE_ROW("format", "F", "table (default) or csv: rows metric,item,value on stdout", &o->csv, formats),
        VB_OPT_END_ROW};
    int first, rc = vb_options_parse(&help, opts, argc, argv, &first);
    if (rc != VB_OPTS_GO)
        return rc;
    vb_opt_apply_max_pixels(max_pixels);
    o->reference = references[reference];
    if (o->dataset && first < argc)
        return vb_usage_error(&help, "give either --dataset or image files, not both");
    if (!o->dataset && (o->folds || o->trials))
        return vb_usage_error(&help, "--folds and --trials need --dataset");
    if (!o->dataset && first >= argc)
        return vb_usage_error(&help, "no images given");
    *first_image = first;
    return VB_OPTS_GO;
}

static int fail(const char *what, const vb_err *e, int fallback)
{
    fprintf(stderr, "veribench check: %s%s%s\n", what, *what ? ": " : "", e->msg);
    return e->code ? e->code : fallback;
}

int cmd_check(int argc, char **argv)
{
    check_opts o;
    int first = 0;
    int rc = parse_args(argc, argv, &o, &first);
    if (rc != VB_OPTS_GO)
        return rc;
    char **paths = argv + first;
    size_t n = (size_t)(argc - first);
    vb_err e = {0};
    vb_dataset ds, *dsp = NULL;
    char **ds_paths = NULL;
    if (o.dataset) {
        if (vb_dataset_open(o.dataset, o.trials, NULL, &ds, &e))
            return fail("", &e, VB_EXIT_INPUT);
        dsp = &ds;
        if ((o.folds && vb_dataset_select_folds(&ds, o.folds, &e)) ||
            !(ds_paths = vb_calloc(ds.n_samples ? ds.n_samples : 1, sizeof *ds_paths, &e))) {
            vb_dataset_free(&ds);
            return fail("", &e, VB_EXIT_USAGE);
        }
        for (uint32_t i = 0; i < ds.n_samples; i++)
            ds_paths[i] = (char *)ds.samples[i].path;
        paths = ds_paths;
        n = ds.n_samples;
    }
    vb_engine en;
    if (vb_engine_open(&en, &o.eo, &e)) {
        free(ds_paths);
        if (dsp)
            vb_dataset_free(dsp);
        return fail("", &e, VB_EXIT_INPUT);
    }
    if (en.fingerprint) {
        int status = check_prints(&en, &o, (const char *const *)paths, n, dsp);
        vb_engine_close(&en);
        free(ds_paths);
        if (dsp)
            vb_dataset_free(dsp);
        return status;
    }
    vb_backend_spec ref_spec;
    vb_backend *ref_be = NULL;
    vb_device_info ref_dev;
    checker c = {.g = &en.graph};
    pipelines pl = {0};
    if (en.prep.mode == VB_PREP_ALIGN && run_pipelines(&en, &o, (const char *const *)paths, n, &pl, &e)) {
        pipelines_free(&pl);
        vb_engine_close(&en);
        free(ds_paths);
        if (dsp)
            vb_dataset_free(dsp);
        return fail("", &e, VB_EXIT_INPUT);
    }
    c.chips = pl.chips;
    c.batch = o.eo.batch ? o.eo.batch : (en.batch < DEFAULT_MAX_BATCH ? en.batch : DEFAULT_MAX_BATCH);
    int status = VB_EXIT_IO;
    if (vb_backend_parse_spec(o.reference, &ref_spec, &e) || vb_backend_init(&ref_spec, &ref_be, &e) ||
        vb_backend_load(ref_be, &en.graph, &c.ref.prepared, &e)) {
        status = fail("reference backend", &e, VB_EXIT_DEVICE);
        goto done;
    }
    ref_dev = *vb_backend_describe(ref_be);
    c.test.prepared = en.prepared;
    const size_t in = (size_t)en.graph.in_h * en.graph.in_w * en.graph.in_c;
    c.input = vb_malloc(in * c.batch * sizeof(float), &e);
    c.desc_test = vb_malloc(n * en.graph.out_dim * sizeof(float), &e);
    c.desc_ref = vb_malloc(n * en.graph.out_dim * sizeof(float), &e);
    c.layers = vb_calloc((size_t)en.graph.n_nodes, sizeof *c.layers, &e);
    if (!c.input || !c.desc_test || !c.desc_ref || !c.layers || side_alloc(&c.test, &en.graph, c.batch, &e) ||
        side_alloc(&c.ref, &en.graph, c.batch, &e)) {
        status = fail("", &e, VB_EXIT_IO);
        goto done;
    }
    vb_progress progress;
    vb_progress_start(&progress, "check", n);
    for (size_t i = 0; i < n; i += (size_t)c.batch) {
        int count = n - i < (size_t)c.batch ? (int)(n - i) : c.batch;
        if (check_batch(&c, paths, i, count, &o.eo.prep.crop, &e)) {
            vb_progress_end(&progress);
            status = fail("", &e, VB_EXIT_INPUT);
            goto done;
        }
        vb_progress_update(&progress, i + (size_t)count);
    }
    vb_progress_end(&progress);
    summary s, whole = {0};
    summarize(&c, n, dsp, &o, en.device.uses_fp16, &s);
    if (pl.chips) { /* the whole pipelines, each backend with its own detections and chips */
        checker cw = c;
        cw.desc_test = pl.desc_test, cw.desc_ref = pl.desc_ref;
        summarize(&cw, n, dsp, &o, en.device.uses_fp16, &whole);
        judge_pipelines(&pl, n, &o, &whole);
        s.pass = s.pass && whole.pass;
    }
    if (o.csv)
        print_csv(&c, &s, paths, n);
    else
        print_table(&c, &s, paths, &en, &ref_dev, &o, n);
    if (pl.chips)
        print_pipelines(&pl, &whole, paths, n, o.csv);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "veribench check: cannot write to stdout\n");
        status = VB_EXIT_IO;
    } else {
        status = s.pass ? VB_EXIT_OK : VB_EXIT_FAIL;
    }
done:
    side_free(&c.test, &en.graph);
    side_free(&c.ref, &en.graph);
    free(c.input);
    free(c.desc_test);
    free(c.desc_ref);
    free(c.layers);
    vb_backend_unload(c.ref.prepared);
    vb_backend_free(ref_be);
    pipelines_free(&pl);
    vb_engine_close(&en);
    free(ds_paths);
    if (dsp)
        vb_dataset_free(dsp);
    return status;
}
