/* `veribench run` orchestration: dataset -> templates (per combination, resumable) ->
 * scores (resumable) -> metrics -> plots -> report. See cli/run.h for the results folder. */
#include "cli/run.h"
#include "cli/shard.h"
#include "reports/metrics_bounded.h"
#include "reports/score_bin.h"
#include "datasets/fp_chip.h"
#include "datasets/chip.h"
#include "datasets/image.h"
#include "datasets/registry.h"

#include <errno.h>
#include <signal.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/csv_write.h"
#include "core/progress.h"
#include "cli/scores.h"
#include "cli/templates.h"
#include "models/arch.h"
#include "core/parse.h"
#include "reports/intervals.h"
#include "reports/plot.h"
#include "reports/results.h"
#include "reports/modal_report.h"
#include "core/files.h"

#include "version.h" /* generated: VB_GIT_COMMIT */
#ifndef VB_VERSION
#define VB_VERSION "0.1.0"
#endif

static void out_path(const vb_run *run, char *buf, size_t n, const char *fmt, const char *a)
{
    char rel[512];
    snprintf(rel, sizeof rel, fmt, a);
    snprintf(buf, n, "%s/%s", run->cfg.out_dir, rel);
}

static int cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* ------------------------------------------------------------ interrupts */

/* SIGINT/SIGTERM. While templates are being computed (the long phase) the first signal
 * stops the run at the next image: what is computed is synced and the run exits 128+signal
 * with a message, and the same command resumes. Anywhere else the signal is re-raised with
 * its default action at once: every file there is written atomically or resumably, so a
 * kill loses nothing but the step in flight. */
static volatile sig_atomic_t interrupt_signal, graceful_stop;

static void on_interrupt(int sig)
{
    if (graceful_stop && !interrupt_signal) {
        interrupt_signal = sig;
        return;
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void catch_interrupts(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int interrupted(const vb_run_combo *c, vb_err *e)
{
    return vb_fail(e, 128 + interrupt_signal,
                   "interrupted by %s: %zu new templates of %s are saved; run the same command again to resume",
                   interrupt_signal == SIGINT ? "SIGINT" : "SIGTERM", c->n_embedded_now, c->label);
}

/* ------------------------------------------------------------ embedding */

typedef struct embed_state {
    vb_template_store *store;
    const size_t *index;      /* position in the to-do list -> sample index */
    vb_progress progress;
    size_t done;
    vb_err error;
    int failed;
    vb_run *run;
} embed_state;

static void on_face(void *arg, size_t k, const vb_face_record *r)
{
    embed_state *s = arg;
    if (s->run->faces) {
        s->run->faces[s->index[k]] = *r;
        s->run->face_seen[s->index[k]] = 1;
    }
}

static int on_template(void *arg, size_t k, const float *desc, const vb_err *why)
{
    embed_state *s = arg;
    vb_progress_update(&s->progress, ++s->done);
    if (vb_templates_put(s->store, s->index[k], desc, why ? why->msg : NULL, &s->error)) {
        s->failed = 1;
        return 1;
    }
    return interrupt_signal != 0; /* this template is kept; stop before the next */
}

/* Everything that determines a template, hashed: the store refuses templates made otherwise.
 * v2: on fp16 devices the detector and landmark nets run in fp32 (models/graph.h geometry),
 * so aligned Vulkan templates of v1 are not reused. */
static void template_fingerprint(const vb_run *run, const vb_engine *en, const char *quant, char hex[65])
{
    char model_sha[65], text[4096];
    vb_sha256_hex(en->model.file_data, en->model.file_size, model_sha);
    snprintf(text, sizeof text,
             "veribench-templates-v2\nmodel %s\ndataset %s\ncrop %s\nbackend %s\ndevice %s\ndriver %s\n"
             "quant %s\nfp16 %d\n",
             model_sha, run->ds.fingerprint, run->crop_text, en->spec.text, en->device.name, en->device.driver,
             quant, en->device.uses_fp16);
    vb_sha256_hex(text, strlen(text), hex);
}

static int embed_missing(vb_run *run, vb_engine *en, vb_run_combo *c, vb_template_store *store, vb_err *e)
{
    const vb_dataset *ds = &run->ds;
    size_t todo = 0;
    size_t *index = vb_malloc(ds->n_samples * sizeof(size_t), e);
    const char **paths = vb_malloc(ds->n_samples * sizeof(char *), e);
    if (!index || !paths) {
        free(index);
        free(paths);
        return -1;
    }
    uint32_t lo, hi;
    vb_shard_samples(run->cfg.shard_index, run->cfg.shard_count, ds->n_samples, &lo, &hi);
    for (uint32_t i = lo; i < hi; i++)
        if (store->state[i] == VB_TPL_MISSING) {
            index[todo] = i;
            paths[todo++] = ds->samples[i].path;
        }
    embed_state st = {.store = store, .index = index, .run = run};
    if (en->prep.mode == VB_PREP_ALIGN && !en->fingerprint && !run->faces) {
        run->faces = vb_calloc(ds->n_samples, sizeof *run->faces, e);
        run->face_seen = vb_calloc(ds->n_samples, 1, e);
        if (!run->faces || !run->face_seen) {
            free(index);
            free(paths);
            return -1;
        }
    }
    en->on_face = on_face;
    en->face_ctx = &st;
    char label[160];
    snprintf(label, sizeof label, "embed %s", c->label);
    vb_progress_start(&st.progress, label, todo);
    double t0 = vb_now();
    graceful_stop = 1;
    int rc = todo ? vb_engine_embed_files(en, paths, todo, on_template, &st, e) : 0;
    graceful_stop = 0;
    vb_progress_end(&st.progress);
    c->embed_wall_s = vb_now() - t0;
    c->n_embedded_now = st.done;
    if (st.failed) {
        *e = st.error;
        rc = -1;
    }
    /* What was computed before a failure (device lost, interrupt) is kept for the re-run. */
    vb_err sync_error = {0};
    int sync_rc = vb_templates_sync(store, &sync_error);
    if (interrupt_signal)
        rc = interrupted(c, e);
    else if (rc == 0 && sync_rc)
        *e = sync_error, rc = -1;
    free(index);
    free(paths);
    return rc;
}

/* ------------------------------------------------------------- metrics */

/* FMR and FNMR at the model's own decision threshold (accept d <= t): the operating point
 * a deployment of this model uses unless it calibrates its own. */
static void set_operating_point(const vb_run *run, vb_metrics *m, const vb_rates *r)
{
    m->threshold = run->threshold;
    m->fmr_at_threshold = r->fmr;
    m->fnmr_at_threshold = r->fnmr;
    m->false_matches_at_threshold = (double)r->false_matches;
    m->false_nonmatches_at_threshold = (double)r->false_nonmatches;
    m->have |= VB_MG_MODEL_THRESHOLD;
}

/* The subject bootstrap (reports/intervals.h): each trial's two subjects, in the order
 * vb_scores_compute scored them (the dataset's trial order). With --target-fmr (computed
 * first), also the calibrated point's, over `cal_eval` (per trial: in the evaluation split;
 * NULL: every trial, as with --calibration-trials). */
static int add_bootstrap(const vb_run *run, const vb_run_combo *c, vb_metrics *m, const vb_scores *s,
                         const uint8_t *cal_eval, vb_err *e)
{
    const vb_run_config *cfg = &run->cfg;
    const char *why = NULL;
    if (!cfg->bootstrap)
        return 0;
    uint32_t *subjects = vb_malloc(2 * (s->n ? s->n : 1) * sizeof *subjects, e);
    if (!subjects)
        return -1;
    vb_trial_iter it;
    vb_trial t;
    size_t i = 0;
    vb_trial_iter_init(&it, &run->ds, 0, run->ds.n_trials);
    for (; i < s->n && vb_trial_iter_next(&it, &t); i++) {
        subjects[i] = run->ds.samples[t.a].subject_index;
        subjects[s->n + i] = run->ds.samples[t.b].subject_index;
    }
    if (i != s->n) {
        free(subjects);
        return vb_fail(e, VB_EXIT_IO, "internal: %zu scores for %zu trials", s->n, i);
    }
    vb_boot_input in = {s, subjects, subjects + s->n, run->threshold, (m->have & VB_MG_CALIBRATION) != 0,
                        m->calibrated_threshold, cal_eval};
    vb_boot_config bc = {cfg->bootstrap, cfg->seed, cfg->confidence, cfg->threads ? cfg->threads : cpu_count(),
                         VB_BOOT_AGGREGATED, 0, 0, NULL};
    double t0 = vb_now();
    int rc = vb_bootstrap_metrics(&in, &bc, m, &why, e);
    free(subjects);
    if (rc < 0)
        return -1;
    if (rc == 1 && !cfg->quiet)
        fprintf(stderr, "veribench run: %s: subject bootstrap, %u replicates over %.0f subjects (%s) in %.2fs\n",
                c->label, cfg->bootstrap, m->bootstrap_subjects, vb_boot_method_name(bc.method), vb_now() - t0);
    if (why && !cfg->quiet)
        fprintf(stderr, "veribench run: %s: subject bootstrap skipped: %s\n", c->label, why);
    return 0;
}

/* "1,3-5" -> sel[1], sel[3..5] = 1 (sel has 65536 entries: every fold id). */
static int parse_fold_set(const char *text, unsigned char *sel, vb_err *e)
{
    for (const char *p = text;;) {
        char tok[32];
        size_t len = strcspn(p, ",");
        uint64_t lo = 0, hi = 0;
        int ok = len > 0 && len < sizeof tok;
        if (ok) {
            memcpy(tok, p, len);
            tok[len] = 0;
            char *dash = strchr(tok, '-');
            if (dash)
                *dash = 0;
            ok = !vb_parse_uint(tok, 65535, &lo) && !vb_parse_uint(dash ? dash + 1 : tok, 65535, &hi) && lo >= 1 &&
                 lo <= hi;
        }
        if (!ok)
            return vb_fail(e, VB_EXIT_USAGE, "--calibration-folds '%s': expected fold numbers or ranges like 1-5",
                           text);
        for (uint64_t f = lo; f <= hi; f++)
            sel[f] = 1;
        p += len;
        if (!*p++)
            return 0;
    }
}

/* The trials of s with keep[i] == want, into out (no folds). */
static int subset_scores(const vb_scores *s, const uint8_t *keep, int want, vb_scores *out, vb_err *e)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += keep[i] == want;
    if (vb_scores_alloc(out, n ? n : 1, s->is_distance, 0, e))
        return -1;
    out->n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (keep[i] == want) {
            out->score[out->n] = s->score[i];
            out->label[out->n++] = s->label[i];
        }
    return 0;
}

/* --calibration-folds: the scores split by fold; *in_eval (the caller frees it): per trial,
 * 1 in the evaluation split. */
static int split_by_folds(const vb_run *run, const vb_scores *s, vb_scores *cal, vb_scores *eval, uint8_t **in_eval,
                          vb_err *e)
{
    if (!s->fold)
        return vb_fail(e, VB_EXIT_USAGE, "--calibration-folds: dataset %s has no folds", run->cfg.dataset);
    unsigned char *sel = vb_calloc(65536, 1, e);
    uint8_t *in_cal = sel ? vb_malloc(s->n ? s->n : 1, e) : NULL;
    int rc = !in_cal || parse_fold_set(run->cfg.calibration_folds, sel, e);
    for (size_t i = 0; !rc && i < s->n; i++)
        in_cal[i] = sel[s->fold[i]];
    rc = rc || subset_scores(s, in_cal, 1, cal, e) || subset_scores(s, in_cal, 0, eval, e);
    for (size_t i = 0; !rc && i < s->n; i++)
        in_cal[i] = !in_cal[i];
    free(sel);
    if (rc)
        free(in_cal);
    else
        *in_eval = in_cal;
    return rc ? -1 : 0;
}

/* --calibration-trials: the calibration trials scored with this combination's templates,
 * mapped onto the calibration dataset's sample order. */
/* CPU time of the process (every thread), in ms: what a comparison costs, whatever the cores. */
static double process_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Every trial of ds from the templates: the euclidean distance of descriptors, or for the
 * fingerprint matcher 1 - MCC similarity (cylinders made once per sample). */
static int score_trials(const vb_run *run, const vb_dataset *ds, const float *desc, const uint8_t *ok, int dim,
                        vb_scores *out, vb_err *e)
{
    if (!run->fingerprint)
        return vb_scores_compute(ds, desc, ok, dim, cpu_count(), out, e);
    vb_fp_gallery g;
    if (vb_fp_gallery_build(&g, desc, ok, ds->n_samples, &run->fp, cpu_count(), e))
        return -1;
    int rc = vb_scores_compute_with(ds, ok, vb_fp_gallery_distance, &g, cpu_count(), out, e);
    vb_fp_gallery_free(&g);
    return rc;
}

static int score_calibration_trials(const vb_run *run, const vb_run_combo *c, vb_scores *cal, vb_err *e)
{
    size_t n = run->cal_ds.n_samples, dim = (size_t)c->dim;
    float *desc = vb_malloc((n ? n : 1) * dim * sizeof *desc, e);
    uint8_t *ok = desc ? vb_malloc(n ? n : 1, e) : NULL;
    int rc = !ok;
    for (size_t i = 0; !rc && i < n; i++) {
        memcpy(desc + i * dim, c->templates + run->cal_sample[i] * dim, dim * sizeof *desc);
        ok[i] = c->ok[run->cal_sample[i]];
    }
    rc = rc || score_trials(run, &run->cal_ds, desc, ok, c->dim, cal, e);
    free(desc);
    free(ok);
    return rc ? -1 : 0;
}

/* run --target-fmr X: the threshold from the calibration split (folds or trials file), FMR
 * and FNMR at it on the other trials; *in_eval as split_by_folds gives it (NULL: every
 * trial of s is evaluated). */
static int add_calibration(const vb_run *run, const vb_run_combo *c, vb_metrics *m, const vb_scores *s,
                           uint8_t **in_eval, vb_err *e)
{
    const vb_run_config *cfg = &run->cfg;
    *in_eval = NULL;
    if (isnan(cfg->target_fmr))
        return 0;
    vb_scores cal = {0}, eval = {0};
    int rc = cfg->calibration_folds ? split_by_folds(run, s, &cal, &eval, in_eval, e)
                                    : score_calibration_trials(run, c, &cal, e);
    rc = rc || vb_calibrate(&cal, cfg->calibration_folds ? &eval : s, cfg->target_fmr, cfg->confidence, m, e);
    vb_scores_free(&cal);
    vb_scores_free(&eval);
    return rc ? -1 : 0;
}

/* --calibration-folds checked before any work: a dataset with folds, a well-formed list. */
static int check_calibration_folds(const vb_run *run, vb_err *e)
{
    if (!run->cfg.calibration_folds)
        return 0;
    if (!run->ds.n_folds)
        return vb_fail(e, VB_EXIT_USAGE, "--calibration-folds: dataset %s has no folds", run->cfg.dataset);
    unsigned char *sel = vb_calloc(65536, 1, e);
    int rc = !sel || parse_fold_set(run->cfg.calibration_folds, sel, e);
    free(sel);
    return rc ? -1 : 0;
}

/* --calibration-trials: that trials file over the dataset's samples; every sample it names
 * must be one the run embeds. */
static int open_calibration_trials(vb_run *run, vb_err *e)
{
    const char *file = run->cfg.calibration_trials;
    if (!file)
        return check_calibration_folds(run, e);
    if (vb_dataset_open(run->cfg.dataset, file, NULL, &run->cal_ds, e))
        return -1;
    run->cal_sample = vb_malloc((run->cal_ds.n_samples ? run->cal_ds.n_samples : 1) * sizeof *run->cal_sample, e);
    if (!run->cal_sample)
        return -1;
    for (uint32_t i = 0; i < run->cal_ds.n_samples; i++) {
        int64_t k = vb_dataset_find(&run->ds, run->cal_ds.samples[i].id);
        if (k < 0)
            return vb_fail(e, VB_EXIT_INPUT, "%s: sample %s is not among the samples this run embeds", file,
                           run->cal_ds.samples[i].id);
        run->cal_sample[i] = (uint32_t)k;
    }
    return 0;
}

/* Sample attributes for the demographic differentials: --attributes FILE, else on LFW its
 * gender lists when the data folder has them (datasets/attributes.h). */
static int load_attributes(vb_run *run, vb_err *e)
{
    const vb_run_config *cfg = &run->cfg;
    if (cfg->attributes)
        return vb_attributes_read(cfg->attributes, &run->ds, &run->attrs, e);
    if (strncmp(run->ds.kind, "lfw", 3))
        return 0;
    int rc = vb_attributes_lfw_gender(&run->ds, vb_data_dir(), &run->attrs, e);
    if (rc > 0 && !cfg->quiet)
        fprintf(stderr, "veribench run: attribute sex from LFW's gender lists: %u of %u samples unlabelled (in both "
                "lists or in neither)\n", run->attrs.attr[0].n_unlabelled, run->ds.n_samples);
    return rc < 0 ? -1 : 0;
}

/* Steps that need every score in memory at once: calibration and the CSV export. The
 * subject bootstrap and the demographic differentials read the score file back a chunk at
 * a time (score_stream) unless the scores are in memory anyway: a default run's memory does
 * not grow with the trial count. */
static int need_every_score(const vb_run *run)
{
    return !isnan(run->cfg.target_fmr) || run->cfg.scores_csv;
}

/* The score file read back a chunk (block) at a time, with each trial's samples and
 * subjects from the dataset's trial order: a source for the streamed bootstrap
 * (reports/intervals.h vb_boot_source) and the demographic counts. */
typedef struct score_stream {
    const vb_run *run;
    const char *path;
    vb_score_reader r;
    int open;
    vb_scores block;
    vb_trial_iter it;
    uint32_t *a, *b, *sa, *sb; /* per trial of the block: samples, subjects */
    size_t cap;
} score_stream;

static void stream_close(score_stream *st)
{
    if (st->open)
        vb_score_reader_close(&st->r);
    st->open = 0;
    vb_scores_free(&st->block);
    free(st->a);
    st->a = st->b = st->sa = st->sb = NULL, st->cap = 0;
}

static int stream_next(void *ctx, int restart, vb_boot_chunk *chunk, vb_err *e)
{
    score_stream *st = ctx;
    const vb_dataset *ds = &st->run->ds;
    if (restart) {
        if (st->open)
            vb_score_reader_close(&st->r);
        st->open = 0;
        if (vb_score_reader_open(&st->r, st->path, e))
            return -1;
        st->open = 1;
        vb_trial_iter_init(&st->it, ds, 0, ds->n_trials);
    }
    int got = vb_score_reader_next(&st->r, &st->block, e);
    if (got <= 0)
        return got;
    size_t n = st->block.n;
    if (n > st->cap) {
        free(st->a);
        st->cap = 0;
        if (!(st->a = vb_malloc(4 * n * sizeof *st->a, e)))
            return -1;
        st->b = st->a + n, st->sa = st->b + n, st->sb = st->sa + n, st->cap = n;
    }
    vb_trial t;
    for (size_t i = 0; i < n; i++) {
        if (!vb_trial_iter_next(&st->it, &t))
            return vb_fail(e, VB_EXIT_INPUT, "%s: more trials than the dataset's %llu", st->path,
                           (unsigned long long)ds->n_trials);
        st->a[i] = t.a, st->b[i] = t.b;
        st->sa[i] = ds->samples[t.a].subject_index, st->sb[i] = ds->samples[t.b].subject_index;
    }
    *chunk = (vb_boot_chunk){&st->block, st->sa, st->sb, NULL};
    return 1;
}

/* The subject bootstrap over the score file (no calibrated point: calibration keeps every
 * score in memory and takes add_bootstrap). */
static int add_bootstrap_streamed(const vb_run *run, const vb_run_combo *c, vb_metrics *m, const char *score_path,
                                  vb_err *e)
{
    const vb_run_config *cfg = &run->cfg;
    if (!cfg->bootstrap)
        return 0;
    score_stream st = {.run = run, .path = score_path};
    vb_boot_source src = {stream_next, &st, run->threshold, 0, NAN};
    vb_boot_config bc = {cfg->bootstrap, cfg->seed, cfg->confidence, cfg->threads ? cfg->threads : cpu_count(),
                         VB_BOOT_AGGREGATED, 0, 0, NULL};
    double t0 = vb_now();
    int rc = vb_bootstrap_stream(&src, &bc, m, e);
    stream_close(&st);
    if (rc)
        return -1;
    if (!cfg->quiet && (m->have & VB_MG_BOOT))
        fprintf(stderr, "veribench run: %s: subject bootstrap, %u replicates over %.0f subjects (%s, streamed from "
                "%s) in %.2fs\n", c->label, cfg->bootstrap, m->bootstrap_subjects,
                vb_boot_method_name(VB_BOOT_AGGREGATED), score_path, vb_now() - t0);
    return 0;
}

/* The demographic differentials over the score file, a block at a time. */
static int demog_streamed(const vb_run *run, vb_run_combo *c, const char *score_path, vb_err *e)
{
    if (!run->attrs.n)
        return 0;
    vb_demog_counter *dc = vb_demog_counter_new(&run->attrs, &c->metrics, run->cfg.calibration_trials != NULL, 1,
                                                run->cfg.threads ? run->cfg.threads : cpu_count(), e);
    if (!dc)
        return -1;
    score_stream st = {.run = run, .path = score_path};
    vb_boot_chunk chunk;
    int got;
    for (int restart = 1; (got = stream_next(&st, restart, &chunk, e)) == 1; restart = 0)
        vb_demog_counter_add(dc, st.a, st.b, chunk.scores);
    stream_close(&st);
    if (got < 0) {
        vb_demog_counter_free(dc);
        return -1;
    }
    return vb_demog_counter_finish(dc, run->cfg.confidence, &c->demog, e);
}

/* The rows beyond the engine's (c->metrics holds them, from score_and_measure): the model's
 * operating point, intervals, calibration, bootstrap and the demographic differentials, from
 * s when every score is in memory (need_every_score), else streamed from the score file;
 * counts and throughput. */
static int compute_metrics(vb_run *run, vb_run_combo *c, const vb_scores *s, const char *score_path,
                           const vb_rates *at_threshold, vb_err *e)
{
    double t0 = vb_now();
    vb_metrics *m = &c->metrics;
    set_operating_point(run, m, at_threshold);
    vb_metrics_add_intervals(m, run->cfg.confidence);
    if (!need_every_score(run)) {
        if (add_bootstrap_streamed(run, c, m, score_path, e) || demog_streamed(run, c, score_path, e))
            return -1;
    } else {
        uint8_t *in_eval = NULL; /* the calibrated point first: the bootstrap also covers it */
        int rc = add_calibration(run, c, m, s, &in_eval, e) || add_bootstrap(run, c, m, s, in_eval, e);
        free(in_eval);
        /* demographic differentials at the global thresholds just computed (the calibrated
         * one only when it was evaluated on all trials: reports/demographics.h) */
        if (rc || vb_demog_from_scores(&run->ds, &run->attrs, s, m, run->cfg.calibration_trials != NULL,
                                       run->cfg.confidence, run->cfg.threads ? run->cfg.threads : cpu_count(),
                                       &c->demog, e))
            return -1;
    }
    m->samples = (double)c->n_samples;
    m->fta_samples = (double)c->n_failed;
    m->model_bytes = (double)c->model_bytes;
    m->have |= VB_MG_RUN;
    if (c->faces_per_s > 0) {
        m->faces_per_s = c->faces_per_s;
        m->ms_per_face = c->infer_ms_per_face;
        m->have |= VB_MG_THROUGHPUT;
    }
    c->metrics_s += vb_now() - t0;
    return 0;
}

/* The running selection of the gallery's worst trials over the chunks: per kind, the global
 * trial indices and scores of the worst VB_GALLERY_PAIRS so far, worst first. A chunk's own
 * worst are merged in by vb_gallery_select over the candidates in trial order, so ties still
 * go to the lower trial index and the result is the whole set's selection. */
typedef struct gallery_pick {
    size_t n[2], index[2][VB_GALLERY_PAIRS];
    double score[2][VB_GALLERY_PAIRS];
} gallery_pick;

static void gallery_update(gallery_pick *g, const vb_scores *chunk, size_t base)
{
    enum { K = VB_GALLERY_PAIRS };
    for (int kind = 0; kind <= 1; kind++) {
        size_t idx[K], ci[2 * K], m = 0;
        double cs[2 * K];
        uint8_t labels[2 * K];
        size_t k = vb_gallery_select(chunk, kind, K, idx);
        for (size_t j = 0; j < g->n[kind]; j++)
            ci[m] = g->index[kind][j], cs[m++] = g->score[kind][j];
        for (size_t j = 0; j < k; j++)
            ci[m] = base + idx[j], cs[m++] = chunk->score[idx[j]];
        for (size_t a = 1; a < m; a++) /* trial order, so that ties go to the lower trial */
            for (size_t b = a; b > 0 && ci[b - 1] > ci[b]; b--) {
                size_t ti = ci[b];
                double ts = cs[b];
                ci[b] = ci[b - 1], cs[b] = cs[b - 1];
                ci[b - 1] = ti, cs[b - 1] = ts;
            }
        memset(labels, kind, sizeof labels);
        vb_scores cand = {.score = cs, .label = labels, .n = m, .cap = m, .is_distance = chunk->is_distance};
        size_t pick[K];
        g->n[kind] = vb_gallery_select(&cand, kind, K, pick);
        for (size_t j = 0; j < g->n[kind]; j++)
            g->index[kind][j] = ci[pick[j]], g->score[kind][j] = cs[pick[j]];
    }
}

/* Merge of score shards (cli/shard.h phase 3): their scores/<combo>.vbs read one block at a
 * time, in trial order, each checked against this run (the templates' fingerprint, folds,
 * units, its trial range's count). */
typedef struct score_parts {
    const vb_run *run;
    const vb_run_combo *c;
    const char *fp;
    int next, open;       /* the next part to open; whether r is open */
    vb_score_reader r;
    vb_scores block;      /* the block read last, used up to pos */
    size_t pos;
} score_parts;

static void parts_close(score_parts *p)
{
    if (p->open)
        vb_score_reader_close(&p->r);
    p->open = 0;
}

static void parts_free(score_parts *p)
{
    parts_close(p);
    vb_scores_free(&p->block);
}

static int parts_open(score_parts *p, vb_err *e)
{
    const vb_run *run = p->run;
    char path[1400];
    int j = p->next;
    snprintf(path, sizeof path, "%s/scores/%s" VB_SCORE_BIN_EXT, run->cfg.score_dirs[j], p->c->label);
    if (vb_score_reader_open(&p->r, path, e)) {
        vb_err_prefix(e, "score shard %d/%d", j, run->cfg.n_score_dirs);
        return -1;
    }
    p->open = 1, p->next++;
    uint64_t lo, hi;
    vb_shard_trials((unsigned)j, (unsigned)run->cfg.n_score_dirs, run->ds.n_trials, &lo, &hi);
    const vb_score_bin_info *in = &p->r.info;
    if (strcmp(in->fingerprint, p->fp) || !in->is_distance || in->has_fold != (run->ds.n_folds > 0) ||
        in->n != hi - lo)
        return vb_fail(e, VB_EXIT_INPUT, "%s: not score shard %d/%d of this run (%llu trials, fingerprint %.12s...; "
                       "expected trials %llu..%llu, fingerprint %.12s...): score it again with merge --shard %d/%d",
                       path, j, run->cfg.n_score_dirs, (unsigned long long)in->n, in->fingerprint,
                       (unsigned long long)lo, (unsigned long long)hi, p->fp, j, run->cfg.n_score_dirs);
    return 0;
}

/* The next block into block: 1, or 0 after the last part, -1 on error. */
static int parts_next(score_parts *p, vb_scores *block, vb_err *e)
{
    for (;;) {
        if (!p->open) {
            if (p->next >= p->run->cfg.n_score_dirs)
                return 0;
            if (parts_open(p, e))
                return -1;
        }
        int got = vb_score_reader_next(&p->r, block, e);
        if (got)
            return got;
        parts_close(p);
    }
}

/* chunk (allocated for want trials) filled with the next want trials of the parts, so that
 * the chunks, and the score file's blocks, are those of an unsharded run. */
static int parts_fill(score_parts *p, vb_scores *chunk, size_t want, vb_err *e)
{
    chunk->n = chunk->fta = 0;
    while (chunk->n < want) {
        if (p->pos == p->block.n) {
            int got = parts_next(p, &p->block, e);
            if (got <= 0)
                return got < 0 ? -1 : vb_fail(e, VB_EXIT_INPUT, "the score shards hold fewer trials than the run's %llu",
                                              (unsigned long long)p->run->ds.n_trials);
            p->pos = 0;
        }
        size_t k = p->block.n - p->pos < want - chunk->n ? p->block.n - p->pos : want - chunk->n;
        memcpy(chunk->score + chunk->n, p->block.score + p->pos, k * sizeof *chunk->score);
        memcpy(chunk->label + chunk->n, p->block.label + p->pos, k);
        if (chunk->fold)
            memcpy(chunk->fold + chunk->n, p->block.fold + p->pos, k * sizeof *chunk->fold);
        for (size_t i = 0; i < k; i++)
            chunk->fta += isinf(chunk->score[chunk->n + i]) != 0;
        chunk->n += k, p->pos += k;
    }
    return 0;
}

/* After the last chunk: nothing may be left in the parts (their counts are checked). */
static int parts_end(score_parts *p, vb_err *e)
{
    int got = p->pos < p->block.n ? 1 : parts_next(p, &p->block, e);
    return got < 0 ? -1 : got ? vb_fail(e, VB_EXIT_INPUT, "the score shards hold more trials than the run's %llu",
                                        (unsigned long long)p->run->ds.n_trials) : 0;
}

/* Trials scored a chunk at a time, each chunk written to the binary score file, streamed into
 * the bounded metrics engine (reports/metrics_bounded.h), counted at the model's threshold
 * and searched for the gallery's worst pairs: the memory is the chunk's and the engine's,
 * whatever the trial count. */
enum { SCORE_CHUNK = 1 << 22 };

static int score_and_measure(vb_run *run, vb_run_combo *c, const char *bin_path, const char *fp, vb_rates *at,
                             gallery_pick *gallery, vb_err *e)
{
    const vb_dataset *ds = &run->ds;
    size_t n = (size_t)ds->n_trials, chunk_n = n < SCORE_CHUNK ? (n ? n : 1) : SCORE_CHUNK;
    vb_scores chunk = {0};
    vb_score_writer w;
    vb_bounded_opts bo = {0, NULL};
    vb_fp_gallery prints; /* the fingerprint matcher's cylinders, made once per sample */
    if (run->fingerprint &&
        vb_fp_gallery_build(&prints, c->templates, c->ok, ds->n_samples, &run->fp, cpu_count(), e))
        return -1;
    vb_pair_distance_fn fn = run->fingerprint ? vb_fp_gallery_distance : NULL;
    const void *fn_ctx = run->fingerprint ? &prints : NULL;
    vb_bounded *b = NULL;
    int rc = vb_scores_alloc(&chunk, chunk_n, 1, ds->n_folds > 0, e) ||
             !(b = vb_bounded_begin(1, ds->n_folds > 0, &bo, e)) ||
             vb_score_writer_open(&w, bin_path, 1, ds->n_folds > 0, run->cfg.score_compression, fp, cpu_count(), e);
    if (rc) {
        vb_bounded_abort(b);
        vb_scores_free(&chunk);
        if (run->fingerprint)
            vb_fp_gallery_free(&prints);
        return -1;
    }
    memset(at, 0, sizeof *at);
    memset(gallery, 0, sizeof *gallery);
    c->scoring_s = c->writing_s = c->metrics_s = c->match_cpu_ms = 0;
    c->n_matched = 0;
    score_parts parts = {.run = run, .c = c, .fp = fp};
    for (size_t begin = 0; !rc && begin < n; begin += chunk.n) {
        size_t end = n - begin < chunk_n ? n : begin + chunk_n;
        double t0 = vb_now(), cpu0 = process_cpu_ms();
        if (run->cfg.n_score_dirs) { /* merge of score shards: their files, in trial order */
            if ((rc = parts_fill(&parts, &chunk, end - begin, e)))
                break;
        } else {
            vb_scores_compute_range(ds, c->templates, c->ok, c->dim, fn, fn_ctx, begin, end, cpu_count(), &chunk);
        }
        double t1 = vb_now();
        c->match_cpu_ms += process_cpu_ms() - cpu0;
        c->n_matched += chunk.n - chunk.fta;
        rc = vb_score_writer_put(&w, &chunk, 0, chunk.n, e);
        double t2 = vb_now();
        rc = rc || vb_bounded_add(b, &chunk, e);
        if (!rc) {
            vb_rates part;
            vb_scores_rates(&chunk, run->threshold, &part);
            vb_rates_merge(at, &part);
            gallery_update(gallery, &chunk, begin);
        }
        c->scoring_s += t1 - t0, c->writing_s += t2 - t1, c->metrics_s += vb_now() - t2;
    }
    if (!rc && run->cfg.n_score_dirs)
        rc = parts_end(&parts, e);
    vb_scores_free(&chunk);
    parts_free(&parts);
    if (run->fingerprint)
        vb_fp_gallery_free(&prints);
    double t0 = vb_now();
    if (rc) {
        vb_score_writer_abort(&w);
        vb_bounded_abort(b);
        return -1;
    }
    if (vb_score_writer_commit(&w, e)) {
        vb_bounded_abort(b);
        return -1;
    }
    double t1 = vb_now();
    c->writing_s += t1 - t0;
    vb_bounded_stats st;
    if (vb_bounded_finish(b, &c->metrics, &st, e))
        return -1;
    c->has_metrics = 1;
    c->metrics_s += vb_now() - t1;
    if (!run->cfg.quiet)
        fprintf(stderr, "veribench run: %s: %zu trials: scoring %.2fs (%.3g ms per comparison), writing %s %.2fs, "
                "metrics %.2fs (%zu sorted runs, %.0f MB spilled)\n", c->label, n, c->scoring_s,
                n ? c->scoring_s * 1e3 / (double)n : 0.0, bin_path, c->writing_s, c->metrics_s,
                st.runs[0] + st.runs[1], (double)st.spilled_bytes / 1e6);
    if (!run->cfg.quiet && run->fingerprint)
        fprintf(stderr, "veribench run: %s: %zu pairs of prints matched (MCC), %.3f ms CPU per comparison\n",
                c->label, c->n_matched, c->n_matched ? c->match_cpu_ms / (double)c->n_matched : 0.0);
    return 0;
}

/* merge --shard j/M (cli/shard.h phase 2): the j-th of M trial ranges scored into the score
 * file, a chunk at a time; nothing measured. */
static int score_trial_shard(vb_run *run, vb_run_combo *c, const char *bin_path, const char *fp, vb_err *e)
{
    const vb_dataset *ds = &run->ds;
    uint64_t lo, hi;
    vb_shard_trials(run->cfg.trial_index, run->cfg.trial_count, ds->n_trials, &lo, &hi);
    size_t n = (size_t)(hi - lo), chunk_n = n < SCORE_CHUNK ? (n ? n : 1) : SCORE_CHUNK;
    vb_scores chunk = {0};
    vb_score_writer w;
    vb_fp_gallery prints;
    if (run->fingerprint &&
        vb_fp_gallery_build(&prints, c->templates, c->ok, ds->n_samples, &run->fp, cpu_count(), e))
        return -1;
    vb_pair_distance_fn fn = run->fingerprint ? vb_fp_gallery_distance : NULL;
    const void *fn_ctx = run->fingerprint ? &prints : NULL;
    int rc = vb_scores_alloc(&chunk, chunk_n, 1, ds->n_folds > 0, e) ||
             vb_score_writer_open(&w, bin_path, 1, ds->n_folds > 0, run->cfg.score_compression, fp, cpu_count(), e);
    int opened = !rc;
    double t0 = vb_now();
    for (uint64_t begin = lo; !rc && begin < hi; begin += chunk_n) {
        uint64_t end = hi - begin < chunk_n ? hi : begin + chunk_n;
        vb_scores_compute_range(ds, c->templates, c->ok, c->dim, fn, fn_ctx, begin, end, cpu_count(), &chunk);
        rc = vb_score_writer_put(&w, &chunk, 0, chunk.n, e);
    }
    if (opened)
        rc = rc ? (vb_score_writer_abort(&w), -1) : vb_score_writer_commit(&w, e);
    c->scoring_s = vb_now() - t0;
    vb_scores_free(&chunk);
    if (run->fingerprint)
        vb_fp_gallery_free(&prints);
    if (!rc && !run->cfg.quiet)
        fprintf(stderr, "veribench run: %s: score shard %u/%u: trials %llu..%llu scored into %s in %.2fs\n", c->label,
                run->cfg.trial_index, run->cfg.trial_count, (unsigned long long)lo, (unsigned long long)hi, bin_path,
                c->scoring_s);
    return rc ? -1 : 0;
}

/* ------------------------------------------------------------- outputs */

static int write_atomically(const char *path, int (*fill)(FILE *, const vb_run *), const vb_run *run, vb_err *e)
{
    vb_atomic a;
    if (vb_atomic_begin(&a, path, "w", e))
        return -1;
    if (fill(a.f, run)) {
        vb_atomic_abort(&a);
        return vb_fail(e, VB_EXIT_IO, "%s: write failed: %s", path, strerror(errno ? errno : EIO));
    }
    return vb_atomic_commit(&a, e);
}

static int fill_metrics(FILE *f, const vb_run *run)
{
    vb_err e = {0};
    fprintf(f, "backend,device,quant,dataset,metric,value\n");
    for (int i = 0; i < run->n_combos; i++) {
        const vb_run_combo *c = &run->combos[i];
        if (!c->has_metrics)
            continue;
        const char *prefix[4] = {c->backend, c->device, c->quant, run->cfg.dataset};
        if (vb_metrics_write_csv(&c->metrics, f, prefix, 4, &e) || vb_demog_write_csv(c->demog, f, prefix, 4, &e))
            return -1;
    }
    return ferror(f);
}

static void latency_row(FILE *f, const vb_run_combo *c, const char *stage, size_t images, double total_ms)
{
    vb_csv_field(f, c->backend);
    fputc(',', f);
    vb_csv_field(f, c->device);
    fprintf(f, ",%s,", c->quant);
    vb_csv_field(f, stage);
    fprintf(f, ",%zu,%.6g,%.6g\n", images, total_ms, images ? total_ms / images : 0.0);
}

static int fill_latency(FILE *f, const vb_run *run)
{
    fprintf(f, "backend,device,quant,stage,images,total_ms,ms_per_image\n");
    for (int i = 0; i < run->n_combos; i++) {
        const vb_run_combo *c = &run->combos[i];
        size_t n = c->timed_images;
        if (!n)
            continue;
        latency_row(f, c, "embed_wall", n, c->timed_wall_ms);
        latency_row(f, c, "inference", n, c->infer_ms_per_face * n);
        for (int st = 0; st < VB_STAGES && c->stage_images; st++) {
            char stage[64];
            snprintf(stage, sizeof stage, "stage:%s", vb_stage_names[st]);
            latency_row(f, c, stage, c->stage_images, c->stage_ms[st]);
        }
        for (int l = 0; l < c->n_layers; l++) {
            char stage[128];
            snprintf(stage, sizeof stage, "layer:%s", c->layer_names[l]);
            latency_row(f, c, stage, n, c->layer_ms[l]);
        }
        if (c->n_matched && run->fingerprint) /* images = comparisons here */
            latency_row(f, c, "match", c->n_matched, c->match_cpu_ms);
    }
    return ferror(f);
}

/* Where provenance rows go: CSV lines on csv, or copies appended to kv (for report.html). */
typedef struct prov_sink {
    FILE *csv;
    vb_provenance_kv *kv;
    size_t n, cap;
    int oom;
} prov_sink;

static void prov_collect(prov_sink *f, const char *scope, const char *key, const char *value)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        vb_provenance_kv *nk = realloc(f->kv, cap * sizeof *nk);
        if (!nk) {
            f->oom = 1;
            return;
        }
        f->kv = nk, f->cap = cap;
    }
    vb_provenance_kv *p = &f->kv[f->n];
    p->scope = strdup(scope), p->key = strdup(key), p->value = strdup(value);
    f->n++;
    f->oom |= !p->scope || !p->key || !p->value;
}

static void prov(prov_sink *f, const char *scope, const char *key, const char *value)
{
    if (!f->csv) {
        prov_collect(f, scope, key, value);
        return;
    }
    vb_csv_field(f->csv, scope);
    fputc(',', f->csv);
    vb_csv_field(f->csv, key);
    fputc(',', f->csv);
    vb_csv_field(f->csv, value);
    fputc('\n', f->csv);
}

static void prov_free(prov_sink *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free((char *)f->kv[i].scope);
        free((char *)f->kv[i].key);
        free((char *)f->kv[i].value);
    }
    free(f->kv);
    memset(f, 0, sizeof *f);
}

/* provenance.csv's rows, to a CSV file or into a list (prov_sink). */
static void collect_provenance(prov_sink *f, const vb_run *run)
{
    char buf[256], sha[65];
    vb_err e = {0};
    prov(f, "run", "veribench_version", VB_VERSION);
    prov(f, "run", "git_commit", VB_GIT_COMMIT);
    char cmdline[2048];
    vb_command_line(cmdline, sizeof cmdline);
    prov(f, "run", "command_line", cmdline);
    prov(f, "run", "binary_sha256", vb_sha256_file("/proc/self/exe", sha, &e) == 0 ? sha : "unknown");
    prov(f, "run", "model_path", run->model_file);
    prov(f, "run", "model_sha256", run->model_sha);
    prov(f, "run", "dataset", run->cfg.dataset);
    prov(f, "run", "dataset_kind", run->ds.kind);
    prov(f, "run", "dataset_fingerprint", run->ds.fingerprint);
    prov(f, "run", "trials_file", run->cfg.trials ? run->cfg.trials : "");
    if (run->cfg.trials)
        prov(f, "run", "trials_sha256", vb_sha256_file(run->cfg.trials, sha, &e) == 0 ? sha : "unreadable");
    prov(f, "run", "data_dir", vb_data_dir());
    prov(f, "run", "folds", run->ds.folds);
    prov(f, "run", "preprocess", run->crop_text);
    prov(f, "run", "crop", run->cfg.prep.mode == VB_PREP_CROP && run->cfg.prep.crop.set ? run->crop_text + 5 : "");
    if (run->faces) {
        size_t seen = 0, none = 0, fallback = 0, multiple = 0;
        for (uint32_t i = 0; i < run->ds.n_samples; i++) {
            if (!run->face_seen[i])
                continue;
            seen++;
            none += run->faces[i].source == VB_FACE_NONE;
            fallback += run->faces[i].source == VB_FACE_FALLBACK;
            multiple += run->faces[i].faces > 1;
        }
        snprintf(buf, sizeof buf, "%zu", seen);
        prov(f, "run", "faces_examined", buf);
        snprintf(buf, sizeof buf, "%zu", none + fallback);
        prov(f, "run", "faces_not_found", buf);
        snprintf(buf, sizeof buf, "%zu", fallback);
        prov(f, "run", "faces_fallback", buf);
        snprintf(buf, sizeof buf, "%zu", multiple);
        prov(f, "run", "faces_multiple", buf);
    }
    snprintf(buf, sizeof buf, "%u", run->ds.n_samples);
    prov(f, "run", "samples", buf);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)run->ds.n_trials);
    prov(f, "run", "trials", buf);
    prov(f, "run", "score_units", run->fingerprint
                                      ? "1 - MCC similarity (lower = more alike); +inf = failure to acquire/enrol"
                                      : "euclidean distance (lower = more alike); +inf = failure to acquire");
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)vb_image_max_pixels());
    prov(f, "run", "max_pixels", buf);
    /* Only the subject bootstrap draws random numbers, from this seed (trial orders, folds and
     * kernels are fixed): the same inputs give bit-identical CPU scores (tests/cli_repro.sh)
     * and bootstrap intervals. */
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)run->cfg.seed);
    prov(f, "run", "random_seed", run->cfg.bootstrap ? buf : "none (deterministic)");
    prov(f, "run", "bootstrap_seed", buf);
    snprintf(buf, sizeof buf, "%u", run->cfg.bootstrap);
    prov(f, "run", "bootstrap_replicates", buf);
    prov(f, "run", "bootstrap_method", vb_boot_method_name(VB_BOOT_AGGREGATED));
    vb_format_double(run->cfg.confidence, buf); /* shortest text that reads back: 0.95 */
    prov(f, "run", "confidence", buf);
    prov(f, "run", "attributes", run->attrs.n ? run->attrs.source : "none");
    if (!isnan(run->cfg.target_fmr)) {
        vb_format_double(run->cfg.target_fmr, buf);
        prov(f, "run", "target_fmr", buf);
        if (run->cfg.calibration_folds)
            prov(f, "run", "calibration_folds", run->cfg.calibration_folds);
        else
            prov(f, "run", "calibration_trials", run->cfg.calibration_trials);
    }
    if (run->cfg.shard_count) {
        uint32_t lo, hi;
        vb_shard_samples(run->cfg.shard_index, run->cfg.shard_count, run->ds.n_samples, &lo, &hi);
        snprintf(buf, sizeof buf, "%u/%u", run->cfg.shard_index, run->cfg.shard_count);
        prov(f, "run", "shard", buf);
        snprintf(buf, sizeof buf, "%u-%u", lo, hi);
        prov(f, "run", "shard_samples", buf);
    }
    if (run->cfg.trial_count) {
        uint64_t lo, hi;
        vb_shard_trials(run->cfg.trial_index, run->cfg.trial_count, run->ds.n_trials, &lo, &hi);
        snprintf(buf, sizeof buf, "%u/%u", run->cfg.trial_index, run->cfg.trial_count);
        prov(f, "run", "score_shard", buf);
        snprintf(buf, sizeof buf, "%llu-%llu", (unsigned long long)lo, (unsigned long long)hi);
        prov(f, "run", "score_shard_trials", buf);
    }
    if (run->cfg.n_score_dirs) {
        snprintf(buf, sizeof buf, "%d", run->cfg.n_score_dirs);
        prov(f, "run", "merged_score_shards", buf);
    }
    vb_utc_text((time_t)run->started, buf);
    prov(f, "run", "started_utc", buf);
    vb_utc_text(run->finished > 0 ? (time_t)run->finished : time(NULL), buf);
    prov(f, "run", "finished_utc", buf);
    if (gethostname(buf, sizeof buf) == 0)
        prov(f, "run", "host", buf);
    for (int i = 0; i < run->n_combos; i++) {
        const vb_run_combo *c = &run->combos[i];
        prov(f, c->label, "device_name", c->info.name);
        prov(f, c->label, "device_type", c->info.type);
        prov(f, c->label, "driver", c->info.driver);
        prov(f, c->label, "api_version", c->info.api_version);
        prov(f, c->label, "fp16_in_use", c->info.uses_fp16 ? "yes" : "no");
        if (c->info.uses_fp16)
            prov(f, c->label, "fp16_scope", "descriptor net; detector and landmark nets fp32");
        prov(f, c->label, "weights", c->weights_note);
    }
}

static int fill_provenance(FILE *f, const vb_run *run)
{
    prov_sink sink = {.csv = f};
    fprintf(f, "scope,key,value\n");
    collect_provenance(&sink, run);
    return ferror(f);
}

/* gallery.csv: the pairs report.html shows, so a results-folder reader can show them too. */
static int fill_gallery(FILE *f, const vb_run *run)
{
    fprintf(f, "combo,kind,rank,score,a,b,path_a,path_b,chip_a,chip_b\n");
    for (int i = 0; i < run->n_combos; i++) {
        const vb_run_combo *c = &run->combos[i];
        for (size_t g = 0, rank[2] = {0, 0}; g < c->n_gallery; g++) {
            const vb_gallery_pair *p = &c->gallery[g];
            char score[32];
            vb_format_double(p->score, score);
            vb_csv_field(f, c->label);
            fprintf(f, ",%s,%zu,%s", p->genuine ? "genuine" : "impostor", ++rank[p->genuine], score);
            const char *text[] = {p->id_a, p->id_b, p->path_a, p->path_b, p->chip_a, p->chip_b};
            for (size_t k = 0; k < VB_ARRAY_LEN(text); k++) {
                fputc(',', f);
                vb_csv_field(f, text[k]);
            }
            fputc('\n', f);
        }
    }
    return ferror(f);
}

/* --preprocess align: where each sample's face came from (only samples embedded by this
 * invocation; a resumed run's earlier samples have their templates, not their boxes). */
static int fill_detections(FILE *f, const vb_run *run)
{
    fprintf(f, "sample,path,faces,source,score,x0,y0,x1,y1\n");
    for (uint32_t i = 0; run->faces && i < run->ds.n_samples; i++) {
        if (!run->face_seen[i])
            continue;
        const vb_face_record *r = &run->faces[i];
        vb_csv_field(f, run->ds.samples[i].id);
        fputc(',', f);
        vb_csv_field(f, run->ds.samples[i].path);
        if (r->source == VB_FACE_NONE)
            fprintf(f, ",%d,none,,,,,\n", r->faces);
        else
            fprintf(f, ",%d,%s,%.4f,%.2f,%.2f,%.2f,%.2f\n", r->faces, vb_face_source_names[r->source], (double)r->box.score,
                    (double)r->box.x0, (double)r->box.y0, (double)r->box.x1, (double)r->box.y1);
    }
    return ferror(f);
}

static int fill_failures(FILE *f, const vb_run *run)
{
    fprintf(f, "sample,path,reason\n");
    for (uint32_t i = 0; i < run->ds.n_samples; i++) {
        if (!run->fta_reason || !run->fta_reason[i])
            continue;
        vb_csv_field(f, run->ds.samples[i].id);
        fputc(',', f);
        vb_csv_field(f, run->ds.samples[i].path);
        fputc(',', f);
        vb_csv_field(f, run->fta_reason[i]);
        fputc('\n', f);
    }
    return ferror(f);
}

/* ------------------------------------------------------------- one combination */

static void describe_weights(const vb_model *m, char *out, size_t n)
{
    int counts[16] = {0};
    for (size_t i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].n_dims >= 2 && m->tensors[i].type < 16)
            counts[m->tensors[i].type]++;
    size_t len = 0;
    out[0] = 0;
    const vb_dtype types[] = {VB_F32, VB_F16, VB_Q8_0, VB_Q4_0};
    for (size_t t = 0; t < VB_ARRAY_LEN(types); t++)
        if (counts[types[t]] && len < n)
            len += (size_t)snprintf(out + len, n - len, "%s%d %s", len ? ", " : "", counts[types[t]],
                                    vb_dtype_name(types[t]));
    if (len < n)
        snprintf(out + len, n - len, " weight tensors");
}

static int accumulate_timing(vb_run *run, vb_run_combo *c, const vb_engine *en, const char *fp, vb_err *e)
{
    char path[1200], tmp[1300];
    out_path(run, path, sizeof path, "templates/%s.timing", c->label);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp); /* left by a run killed while writing it */
    vb_saved_timing t = {.images = en->images, .calls = en->calls, .run_ms = en->run_ms,
                         .wall_ms = c->embed_wall_s * 1e3, .n_layers = en->graph.n_nodes};
    c->n_layers = en->graph.n_nodes;
    for (int i = 0; i < en->graph.n_nodes; i++) {
        t.layer_ms[i] = en->node_ms[i];
        snprintf(c->layer_names[i], sizeof c->layer_names[i], "%s", en->graph.nodes[i].name);
        memcpy(t.layer_names[i], c->layer_names[i], sizeof t.layer_names[i]);
    }
    vb_saved_timing old;
    if (vb_timing_read(path, fp, c->n_layers, &old) == 0) {
        t.images += old.images, t.calls += old.calls, t.run_ms += old.run_ms, t.wall_ms += old.wall_ms;
        for (int i = 0; i < c->n_layers; i++)
            t.layer_ms[i] += old.layer_ms[i];
    }
    memcpy(c->layer_ms, t.layer_ms, sizeof c->layer_ms);
    memcpy(c->stage_ms, en->stage_ms, sizeof c->stage_ms);
    c->stage_images = en->stage_images;
    c->timed_images = t.images;
    c->timed_wall_ms = t.wall_ms;
    c->infer_ms_per_face = t.images ? t.run_ms / t.images : 0;
    c->faces_per_s = t.run_ms > 0 ? 1e3 * t.images / t.run_ms : 0;
    if (!en->images)
        return 0; /* nothing new measured */
    return vb_timing_write(path, fp, &t, e);
}

/* Samples re-embedded to measure timing when the saved timing is lost: enough for a
 * stable per-face time, few enough to cost seconds, not the whole dataset again. */
#define RETIME_SAMPLES 32

static int discard_template(void *arg, size_t k, const float *desc, const vb_err *why)
{
    (void)arg, (void)k, (void)desc, (void)why;
    return 0;
}

/* issue 10 item 4: a resumed run that embeds nothing new but finds templates/<combo>.timing
 * missing or unreadable (deleted, torn by a full disk) would report no throughput and an
 * empty latency.csv. Re-embed up to RETIME_SAMPLES already-embedded samples (results
 * discarded: the saved templates stay) to measure it again, and say so. */
static int retime_if_lost(vb_run *run, vb_engine *en, vb_run_combo *c, const vb_template_store *store,
                          const char *fp, vb_err *e)
{
    char path[1200];
    vb_saved_timing old;
    out_path(run, path, sizeof path, "templates/%s.timing", c->label);
    if (en->images || vb_timing_read(path, fp, en->graph.n_nodes, &old) == 0)
        return 0;
    const char *paths[RETIME_SAMPLES];
    size_t n = 0;
    for (uint32_t i = 0; i < run->ds.n_samples && n < RETIME_SAMPLES; i++)
        if (store->state[i] == VB_TPL_OK)
            paths[n++] = run->ds.samples[i].path;
    if (!n)
        return 0;
    fprintf(stderr, "veribench run: %s: saved timing %s is missing or unreadable; re-embedding %zu samples "
            "to measure throughput and latency again (they rest on those %zu images)\n", c->label, path, n, n);
    double t0 = vb_now();
    if (vb_engine_embed_files(en, paths, n, discard_template, NULL, e))
        return -1;
    c->embed_wall_s = vb_now() - t0;
    return 0;
}

/* Acquisition does not depend on the backend or level: the first combination's failures
 * are the run's (reported once); a later combination failing elsewhere is reported too. */
static int record_failures(vb_run *run, const vb_template_store *store, vb_err *e)
{
    if (!run->fta_reason && !(run->fta_reason = vb_calloc(run->ds.n_samples, sizeof(char *), e)))
        return -1;
    for (uint32_t i = 0; i < run->ds.n_samples; i++) {
        int failed = store->state[i] == VB_TPL_FAILED;
        run->ds.samples[i].acquired = failed ? VB_ACQ_FAILED : VB_ACQ_OK;
        if (failed && !run->fta_reason[i]) {
            const char *why = store->why[i] ? store->why[i] : "failed to acquire";
            if (!run->cfg.quiet)
                fprintf(stderr, "veribench run: failure to acquire: %s\n", why);
            if (!(run->fta_reason[i] = strdup(why)))
                return vb_fail(e, VB_EXIT_IO, "out of memory");
            run->n_fta++;
        }
    }
    return 0;
}

/* ------------------------------------------------------------- gallery */

/* Side of the face chips in report.html, in pixels. */
#define GALLERY_CHIP_SIZE 96

/* gallery/<sample index>.png: the sample's crop as the model saw it, downscaled. A sample
 * that cannot be decoded gets no chip (the page says so); a chip that cannot be written is
 * an error, as every other results file. */
/* Height of a print in the gallery: its minutiae must be visible. */
#define GALLERY_PRINT_HEIGHT 224

/* A print with the minutiae of its template (c->templates) drawn; plain when it has none. */
static int make_print_chip(const vb_run_combo *c, uint32_t sample, const vb_image *img, vb_image *chip, vb_err *e)
{
    vb_fp_template t;
    vb_err ignore = {0};
    int have = c && c->ok && c->ok[sample] &&
               vb_fp_template_unpack(c->templates + (size_t)sample * c->dim, &t, &ignore) == 0;
    return vb_fp_chip_make(img, have ? &t : NULL, GALLERY_PRINT_HEIGHT, chip, e);
}

static int write_chip(vb_run *run, const vb_run_combo *c, uint32_t sample, char *rel, size_t n, vb_err *e)
{
    const char *path = run->ds.samples[sample].path;
    vb_image img = {0}, chip = {0};
    vb_err why = {0};
    uint8_t *png = NULL;
    size_t len = 0;
    rel[0] = 0;
    if (vb_image_load(path, &img, &why) ||
        (run->fingerprint ? make_print_chip(c, sample, &img, &chip, &why)
                          : vb_chip_make(&img, run->cfg.prep.mode == VB_PREP_CROP ? &run->cfg.prep.crop : NULL,
                                        GALLERY_CHIP_SIZE, path, &chip, &why)) ||
        vb_png_encode(&chip, &png, &len, &why)) {
        vb_image_free(&img);
        vb_image_free(&chip);
        return 0;
    }
    vb_image_free(&img);
    vb_image_free(&chip);
    char full[1300];
    snprintf(rel, n, "gallery/%u.png", sample);
    snprintf(full, sizeof full, "%s/%s", run->cfg.out_dir, rel);
    int rc = vb_write_file_atomic(full, png, len, e);
    free(png);
    return rc;
}

/* The worst errors of this combination (reports/gallery.h) with their face chips. */
static int make_gallery(vb_run *run, vb_run_combo *c, const gallery_pick *g, vb_err *e)
{
    char dir[1200];
    out_path(run, dir, sizeof dir, "%s", "gallery");
    if (vb_mkdirs(dir, e))
        return -1;
    c->n_gallery = 0;
    for (int genuine = 0; genuine <= 1; genuine++) {
        for (size_t j = 0; j < g->n[genuine]; j++) {
            vb_trial t;
            if (vb_dataset_trial(&run->ds, g->index[genuine][j], &t))
                continue;
            vb_gallery_pair *p = &c->gallery[c->n_gallery++];
            memset(p, 0, sizeof *p);
            p->genuine = genuine;
            p->score = g->score[genuine][j];
            p->id_a = run->ds.samples[t.a].id, p->id_b = run->ds.samples[t.b].id;
            p->path_a = run->ds.samples[t.a].rel, p->path_b = run->ds.samples[t.b].rel;
            if (write_chip(run, c, t.a, p->chip_a, sizeof p->chip_a, e) ||
                write_chip(run, c, t.b, p->chip_b, sizeof p->chip_b, e))
                return -1;
        }
    }
    return 0;
}

static int run_combo(vb_run *run, const vb_model *base, const char *backend, vb_quant_level q, vb_run_combo *c,
                     vb_err *e)
{
    vb_model m;
    vb_engine en;
    vb_template_store store;
    vb_scores scores = {0};
    memset(&store, 0, sizeof store);
    if (vb_model_quantize(base, q, &m, NULL, e))
        return -1;
    c->model_bytes = vb_model_tensor_bytes(&m);
    describe_weights(&m, c->weights_note, sizeof c->weights_note);
    vb_engine_opts eo = {.backend = backend, .batch = run->cfg.batch, .threads = run->cfg.threads,
                         .fp16 = run->cfg.fp16, .validation = run->cfg.validation, .prep = run->cfg.prep};
    if (vb_engine_open_model(&en, &m, &eo, e))
        return -1;
    int rc = -1;
    c->info = en.device;
    snprintf(c->backend, sizeof c->backend, "%s", vb_backend_name(en.backend));
    snprintf(c->device, sizeof c->device, "%s", en.device.slug);
    snprintf(c->quant, sizeof c->quant, "%s", vb_quant_name(q));
    snprintf(c->label, sizeof c->label, "%s-%s-%s", c->backend, c->device, c->quant);
    c->dim = en.graph.out_dim;
    char tpl_path[1200], score_path[1200], csv_path[1200], fp[65];
    out_path(run, tpl_path, sizeof tpl_path, "templates/%s.bin", c->label);
    out_path(run, score_path, sizeof score_path, "scores/%s" VB_SCORE_BIN_EXT, c->label);
    out_path(run, csv_path, sizeof csv_path, "scores/%s.csv.gz", c->label);
    if (run->cfg.restart) {
        char progress[1300];
        snprintf(progress, sizeof progress, "%s.progress", csv_path);
        unlink(tpl_path);
        unlink(score_path);
        unlink(csv_path);
        unlink(progress);
    }
    template_fingerprint(run, &en, c->quant, fp);
    if (vb_templates_open(&store, tpl_path, fp, run->ds.n_samples, c->dim, e))
        goto done;
    c->n_samples = run->ds.n_samples;
    c->n_resumed = store.n_resumed;
    if (!run->cfg.quiet)
        fprintf(stderr, "veribench run: %s: %u samples, %zu already embedded, batch %d\n", c->label,
                run->ds.n_samples, store.n_resumed, en.batch);
    if (embed_missing(run, &en, c, &store, e) || retime_if_lost(run, &en, c, &store, fp, e))
        goto done;
    if (accumulate_timing(run, c, &en, fp, e))
        goto done;
    if (!run->cfg.quiet && c->n_embedded_now)
        fprintf(stderr, "veribench run: %s: embedding %zu samples took %.2fs\n", c->label, c->n_embedded_now,
                c->embed_wall_s);
    c->n_ok = store.n_ok;
    c->n_failed = store.n_failed;
    if (record_failures(run, &store, e))
        goto done;
    if (run->cfg.shard_count) { /* a shard stops at its templates: veribench merge scores */
        uint32_t lo, hi;
        vb_shard_samples(run->cfg.shard_index, run->cfg.shard_count, run->ds.n_samples, &lo, &hi);
        if (hi > lo && !c->n_ok) {
            const char *first = store.why[lo] ? store.why[lo] : "unknown";
            vb_fail(e, VB_EXIT_INPUT, "none of this shard's %u samples could be read (first: %s); check "
                    "VERIBENCH_DATA (%s)", hi - lo, first, vb_data_dir());
            goto done;
        }
        rc = 0;
        goto done;
    }
    if (!c->n_ok && c->n_samples) {
        const char *first = store.why[0] ? store.why[0] : "unknown";
        vb_fail(e, VB_EXIT_INPUT, "none of the %zu samples could be read (first: %s); check VERIBENCH_DATA (%s)",
                c->n_samples, first, vb_data_dir());
        goto done;
    }
    if (c->n_failed && !run->cfg.quiet)
        fprintf(stderr, "veribench run: %s: %zu of %zu samples failed to acquire (scored as non-matches; see "
                "failures.csv)\n", c->label, c->n_failed, c->n_samples);
    c->templates = vb_malloc(store.n_samples * (size_t)c->dim * sizeof(float), e);
    c->ok = vb_malloc(store.n_samples, e);
    if (!c->templates || !c->ok)
        goto done;
    memcpy(c->templates, store.desc, store.n_samples * (size_t)c->dim * sizeof(float));
    for (size_t i = 0; i < store.n_samples; i++)
        c->ok[i] = store.state[i] == VB_TPL_OK;
    if (run->cfg.trial_count) { /* a score shard stops at its scores: the final merge measures */
        rc = score_trial_shard(run, c, score_path, fp, e);
        goto done;
    }
    vb_rates at_threshold;
    gallery_pick gallery;
    if (score_and_measure(run, c, score_path, fp, &at_threshold, &gallery, e)) {
        vb_err_prefix(e, "%s", score_path);
        goto done;
    }
    if (need_every_score(run)) { /* read back: calibration or the CSV need them all */
        double t0 = vb_now();
        if (vb_scores_read_bin(score_path, &scores, e))
            goto done;
        if (run->cfg.scores_csv) {
            size_t csv_written = 0;
            if (vb_scores_write(csv_path, &run->ds, &scores, fp, cpu_count(), &csv_written, e))
                goto done;
        }
        c->writing_s += vb_now() - t0;
    }
    if (compute_metrics(run, c, &scores, score_path, &at_threshold, e)) {
        vb_err_prefix(e, "%s", score_path);
        goto done;
    }
    if (make_gallery(run, c, &gallery, e))
        goto done;
    rc = 0;
done:
    vb_scores_free(&scores);
    vb_templates_close(&store);
    vb_engine_close(&en);
    return rc;
}

/* ------------------------------------------------------------- cross-combination */

/* Against the fp32 combination of the same backend and device: descriptor cosine drift and
 * the change of EER and FNMR@FMR=1e-3. */
static void compare_with_fp32(vb_run *run)
{
    for (int i = 0; i < run->n_combos; i++) {
        vb_run_combo *c = &run->combos[i], *ref = NULL;
        for (int j = 0; j < run->n_combos; j++) {
            vb_run_combo *r = &run->combos[j];
            if (j != i && !strcmp(r->quant, "fp32") && !strcmp(r->backend, c->backend) && !strcmp(r->device, c->device))
                ref = r;
        }
        if (!ref || !c->has_metrics || !ref->has_metrics || strcmp(c->quant, "fp32") == 0)
            continue;
        double sum = 0, worst = 1;
        size_t n = 0;
        for (size_t s = 0; s < c->n_samples; s++)
            if (c->ok[s] && ref->ok[s]) {
                double cs = vb_descriptor_cosine(c->templates + s * c->dim, ref->templates + s * c->dim, c->dim);
                sum += cs;
                worst = cs < worst ? cs : worst;
                n++;
            }
        c->has_drift = n > 0;
        c->drift_mean = n ? sum / n : NAN;
        c->drift_worst = n ? worst : NAN;
        c->drift_count = n;
        vb_metrics *m = &c->metrics;
        const vb_metrics *r = &ref->metrics;
        m->eer_delta_vs_fp32 = m->eer - r->eer;
        m->fnmr_at_fmr_1e3_delta_vs_fp32 = m->fnmr_at_fmr[VB_FMR_1E3].fnmr - r->fnmr_at_fmr[VB_FMR_1E3].fnmr;
        m->fnmr_at_threshold_delta_vs_fp32 = m->fnmr_at_threshold - r->fnmr_at_threshold;
        m->cosine_vs_fp32_mean = c->drift_mean;
        m->cosine_vs_fp32_min = c->drift_worst;
        m->model_bytes_ratio_vs_fp32 = (double)c->model_bytes / ref->model_bytes;
        m->have |= VB_MG_VS_FP32;
    }
}

/* With --target-fmr, each combination's calibrated operating point, for the DET plot and the
 * report's operating-points table (also when plots are skipped). */
static void calibrated_marks(vb_run *run)
{
    for (int i = 0; i < run->n_combos; i++) {
        vb_run_combo *c = &run->combos[i];
        c->has_calibrated_mark = c->has_metrics && (c->metrics.have & VB_MG_CALIBRATION);
        if (!c->has_calibrated_mark)
            continue;
        snprintf(c->calibrated_label, sizeof c->calibrated_label, "cal FMR %g", c->metrics.calibrated_target_fmr);
        c->calibrated_mark = (vb_det_mark){c->calibrated_label, c->metrics.calibrated_fmr, c->metrics.calibrated_fnmr};
    }
}

/* Per combination and attribute: the DET of each group (FNMR of its genuine trials against
 * the FMR of its same-group impostor pairs), plots/demog-<combo>-<attr>. */
static int demographic_plots(vb_run *run, vb_run_combo *c, vb_err *e)
{
    for (size_t i = 0; c->demog && i < c->demog->n_attrs; i++) {
        vb_demog_attr *a = &c->demog->attr[i];
        vb_det_series series[VB_ATTR_MAX_VALUES];
        size_t n = 0;
        for (size_t g = 0; g < a->n_groups; g++)
            if (a->det[g].n)
                series[n++] = (vb_det_series){a->groups[g], &a->det[g]};
        if (!n)
            continue;
        char prefix[1400], title[400], stem[sizeof a->det_plot];
        snprintf(stem, sizeof stem, "plots/demog-%s-%s", c->label, a->name);
        memcpy(a->det_plot, stem, sizeof stem);
        snprintf(prefix, sizeof prefix, "%s/%s", run->cfg.out_dir, a->det_plot);
        snprintf(title, sizeof title, "DET per %s group (same-group impostors): %s on %s", a->name, c->label,
                 run->cfg.dataset);
        if (vb_plot_det(prefix, title, series, n, e) < 0)
            return -1;
    }
    return 0;
}

static int make_plots(vb_run *run, vb_err *e)
{
    calibrated_marks(run);
    if (run->cfg.no_plots || !vb_gnuplot_available()) {
        run->plots_skipped = 1;
        if (!run->cfg.quiet)
            fprintf(stderr, "veribench run: plots skipped (%s)\n", run->cfg.no_plots ? "--no-plots" : "gnuplot not found");
        return 0;
    }
    vb_det_series series[VB_RUN_MAX_BACKENDS * VB_QUANT_COUNT];
    vb_det_mark marks[VB_RUN_MAX_BACKENDS * VB_QUANT_COUNT][3];
    vb_det_marks marked[VB_RUN_MAX_BACKENDS * VB_QUANT_COUNT];
    vb_det_band bands[VB_RUN_MAX_BACKENDS * VB_QUANT_COUNT];
    char thr_label[32];
    snprintf(thr_label, sizeof thr_label, "thr %.2f", run->threshold);
    size_t n = 0;
    for (int i = 0; i < run->n_combos; i++) {
        vb_run_combo *c = &run->combos[i];
        if (!c->has_metrics)
            continue;
        /* the operating points a reader looks for: the model's threshold, the EER and, with
         * --target-fmr, the calibrated threshold where the evaluation split put it */
        marks[n][0] = (vb_det_mark){thr_label, c->metrics.fmr_at_threshold, c->metrics.fnmr_at_threshold};
        marks[n][1] = (vb_det_mark){"EER", c->metrics.eer, c->metrics.eer};
        size_t n_marks = 2;
        if (c->has_calibrated_mark)
            marks[n][n_marks++] = c->calibrated_mark;
        series[n] = (vb_det_series){c->label, &c->metrics.curve};
        /* the DET's band: the pointwise interval of FNMR at the run's --confidence */
        bands[n] = (vb_det_band){(uint64_t)c->metrics.genuine, run->cfg.confidence};
        marked[n] = (vb_det_marks){marks[n], n_marks};
        n++;
        char prefix[1300], title[300];
        snprintf(c->hist_plot, sizeof c->hist_plot, "plots/hist-%s", c->label);
        snprintf(prefix, sizeof prefix, "%s/%s", run->cfg.out_dir, c->hist_plot);
        snprintf(title, sizeof title, "Score distributions: %s on %s", c->label, run->cfg.dataset);
        int rc = vb_plot_hist(prefix, title, &c->metrics.hist, e);
        if (rc < 0 || demographic_plots(run, c, e))
            return -1;
    }
    if (!n)
        return 0;
    char prefix[1300], title[300];
    snprintf(run->det_plot, sizeof run->det_plot, "plots/det");
    snprintf(prefix, sizeof prefix, "%s/%s", run->cfg.out_dir, run->det_plot);
    snprintf(title, sizeof title, "DET: %s", run->cfg.dataset);
    if (vb_plot_det_banded(prefix, title, series, marked, bands, n, e) < 0)
        return -1;
    snprintf(run->roc_plot, sizeof run->roc_plot, "plots/roc");
    snprintf(prefix, sizeof prefix, "%s/%s", run->cfg.out_dir, run->roc_plot);
    snprintf(title, sizeof title, "ROC: %s", run->cfg.dataset);
    if (vb_plot_roc(prefix, title, series, marked, n, e) < 0)
        return -1;
    if (run->cfg.n_quants < 2)
        return 0;
    vb_sweep_point pts[VB_RUN_MAX_BACKENDS * VB_QUANT_COUNT];
    char names[VB_RUN_MAX_BACKENDS * VB_QUANT_COUNT][96];
    size_t np = 0;
    for (int i = 0; i < run->n_combos; i++) {
        vb_run_combo *c = &run->combos[i];
        if (!c->has_metrics)
            continue;
        double eer = c->metrics.eer;
        snprintf(names[np], sizeof names[np], "%s-%s", c->backend, c->device);
        pts[np] = (vb_sweep_point){names[np], c->quant, c->faces_per_s, eer};
        np++;
    }
    snprintf(run->quant_plot, sizeof run->quant_plot, "plots/quant-sweep");
    snprintf(prefix, sizeof prefix, "%s/%s", run->cfg.out_dir, run->quant_plot);
    snprintf(title, sizeof title, "Quantization: EER against throughput on %s", run->cfg.dataset);
    return vb_plot_sweep(prefix, title, pts, np, e) < 0 ? -1 : 0;
}

static int fill_report(FILE *f, const vb_run *run);
static int fill_report_html(FILE *f, const vb_run *run);

/* The results files: the first two are rewritten after every combination (so a later
 * failure loses nothing computed), the rest once at the end. */
static int write_outputs(vb_run *run, int final, vb_err *e)
{
    static const struct {
        const char *name;
        int (*fill)(FILE *, const vb_run *);
    } files[] = {
        {"metrics.csv", fill_metrics},       {"latency.csv", fill_latency}, {"failures.csv", fill_failures},
        {"detections.csv", fill_detections},
        {"provenance.csv", fill_provenance}, {"report.md", fill_report},   {"gallery.csv", fill_gallery},
        {"report.html", fill_report_html},
    };
    /* one finishing time for every file: provenance.csv and report.html (which prints the
     * provenance) must agree even when writing them crosses a second */
    run->finished = (double)time(NULL);
    for (size_t i = 0; i < (final ? VB_ARRAY_LEN(files) : 2); i++) {
        char path[1200];
        out_path(run, path, sizeof path, "%s", files[i].name);
        if (write_atomically(path, files[i].fill, run, e))
            return -1;
    }
    return 0;
}

/* The report-facing copy of one combination (reports/results.h). */
static void result_combo(const vb_run_combo *c, vb_result_combo *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->label, sizeof r->label, "%s", c->label);
    snprintf(r->backend, sizeof r->backend, "%s", c->backend);
    snprintf(r->device, sizeof r->device, "%s", c->device);
    snprintf(r->quant, sizeof r->quant, "%s", c->quant);
    snprintf(r->device_name, sizeof r->device_name, "%s", c->info.name);
    snprintf(r->device_type, sizeof r->device_type, "%s", c->info.type);
    snprintf(r->driver, sizeof r->driver, "%s", c->info.driver);
    r->uses_fp16 = c->info.uses_fp16;
    r->metrics = c->metrics; /* shallow: borrowed for the report's lifetime */
    r->has_metrics = c->has_metrics;
    r->model_bytes = c->model_bytes;
    snprintf(r->weights_note, sizeof r->weights_note, "%s", c->weights_note);
    r->n_samples = c->n_samples, r->n_ok = c->n_ok, r->n_failed = c->n_failed;
    r->n_resumed = c->n_resumed, r->n_embedded_now = c->n_embedded_now;
    r->embed_counts_known = 1;
    r->faces_per_s = c->faces_per_s;
    r->has_drift = c->has_drift, r->drift_mean = c->drift_mean, r->drift_worst = c->drift_worst;
    snprintf(r->hist_plot, sizeof r->hist_plot, "%s", c->hist_plot);
    r->extra_marks = c->has_calibrated_mark ? &c->calibrated_mark : NULL;
    r->n_extra_marks = c->has_calibrated_mark ? 1 : 0;
    r->ms_per_face = c->timed_images ? c->infer_ms_per_face : NAN;
    r->timed_images = c->timed_images, r->timed_wall_ms = c->timed_wall_ms;
    r->n_layers = c->n_layers, r->layer_names = c->layer_names, r->layer_ms = c->layer_ms;
    r->gallery = c->gallery, r->n_gallery = c->n_gallery;
    r->demog = c->demog;
}

/* The run's failures to acquire in sample order; fta has run->n_fta entries. */
static void fta_entries(const vb_run *run, vb_fta_entry *fta)
{
    size_t n = 0;
    for (uint32_t i = 0; run->fta_reason && i < run->ds.n_samples && n < run->n_fta; i++)
        if (run->fta_reason[i])
            fta[n++] = (vb_fta_entry){run->ds.samples[i].id, run->fta_reason[i]};
}

/* The results model of the run (reports/results.h); combos has run->n_combos entries, fta
 * run->n_fta. */
static void build_results(const vb_run *run, vb_result_combo *combos, vb_fta_entry *fta, vb_results *r)
{
    fta_entries(run, fta);
    for (int i = 0; i < run->n_combos; i++)
        result_combo(&run->combos[i], &combos[i]);
    *r = (vb_results){
        .dataset_spec = run->cfg.dataset,
        .kind = run->ds.kind,
        .folds = run->ds.folds,
        .n_folds = run->ds.n_folds,
        .n_samples = run->ds.n_samples,
        .n_trials = run->ds.n_trials,
        .n_genuine = run->ds.n_genuine,
        .n_impostor = run->ds.n_impostor,
        .model_path = run->model_file,
        .model_sha = run->model_sha,
        .crop_text = run->crop_text,
        .commit = VB_GIT_COMMIT,
        .threshold = run->threshold,
        .out_dir = run->cfg.out_dir,
        .det_plot = run->det_plot,
        .quant_plot = run->quant_plot,
        .roc_plot = run->roc_plot,
        .plots_skipped = run->plots_skipped,
        .plot_error = run->plot_error,
        .combos = combos,
        .n_combos = run->n_combos,
        .fta = fta,
        .n_fta = run->n_fta,
    };
}

/* The report is written from the results model alone, not from the run's working state. */
/* report.md / report.html: the results model of the run plus provenance.csv's rows. */
static int fill_report_with(FILE *f, const vb_run *run, int (*write)(FILE *, const vb_results *))
{
    vb_result_combo *combos = calloc((size_t)run->n_combos, sizeof *combos);
    vb_fta_entry *fta = calloc(run->n_fta + 1, sizeof *fta);
    if (!combos || !fta) {
        free(combos);
        free(fta);
        return -1;
    }
    vb_results r;
    build_results(run, combos, fta, &r);
    prov_sink prov = {0};
    collect_provenance(&prov, run);
    int rc = -1;
    if (!prov.oom) {
        r.provenance = prov.kv, r.n_provenance = prov.n;
        rc = write(f, &r);
    }
    prov_free(&prov);
    free(fta);
    free(combos);
    return rc;
}

static int fill_report(FILE *f, const vb_run *run)
{
    return fill_report_with(f, run, vb_report_write_md);
}

static int fill_report_html(FILE *f, const vb_run *run)
{
    return fill_report_with(f, run, vb_report_write_html);
}

/* The results folder's lock (lock_results_folder), held from before the first file in the
 * folder is touched until the run ends: one run per process. */
static int results_lock_fd = -1;

static void free_run(vb_run *run)
{
    if (results_lock_fd >= 0)
        close(results_lock_fd);
    results_lock_fd = -1;
    for (int i = 0; i < run->n_combos; i++) {
        vb_metrics_free(&run->combos[i].metrics);
        vb_demog_free(run->combos[i].demog);
        free(run->combos[i].templates);
        free(run->combos[i].ok);
    }
    free(run->combos);
    if (run->fta_reason)
        for (uint32_t i = 0; i < run->ds.n_samples; i++)
            free(run->fta_reason[i]);
    free(run->fta_reason);
    free(run->faces);
    free(run->face_seen);
    free(run->cal_sample);
    vb_attributes_free(&run->attrs);
    if (run->cfg.calibration_trials)
        vb_dataset_free(&run->cal_ds);
    vb_dataset_free(&run->ds);
}

static int fail(vb_run *run, vb_err *e)
{
    fprintf(stderr, "veribench run: %s\n", e->msg);
    free_run(run);
    return e->code ? e->code : VB_EXIT_IO;
}

/* issue 10 item 11: one veribench per results folder. Two runs into the same --out would
 * append to the same template and score files; an exclusive, non-blocking flock on
 * OUT/.lock (released by the kernel when the process ends, however it ends) refuses the
 * second one. Returns the lock's descriptor, or -1 with the error set. */
static int lock_results_folder(const char *out_dir, vb_err *e)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/.lock", out_dir);
    if (vb_mkdirs(out_dir, e))
        return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return vb_fail(e, VB_EXIT_IO, "%s: cannot create the results folder's lock: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        close(fd);
        if (err == EWOULDBLOCK)
            return vb_fail(e, VB_EXIT_IO, "%s: results folder in use: another veribench holds its lock (%s); "
                           "wait for it to finish or choose another --out", out_dir, path);
        return vb_fail(e, VB_EXIT_IO, "%s: cannot lock: %s", path, strerror(err));
    }
    return fd;
}

/* Prints have no weights to quantize and no face crop. */
static int check_fingerprint_options(const vb_run_config *cfg, const vb_model *m, vb_fp_params *p, vb_err *e)
{
    if (cfg->prep.set)
        return vb_fail(e, VB_EXIT_USAGE, "--preprocess/--crop are for faces; fingerprints are used whole");
    for (int q = 0; q < cfg->n_quants; q++)
        if (cfg->quants[q] != VB_QUANT_FP32)
            return vb_fail(e, VB_EXIT_USAGE, "the fingerprint matcher has no weights to quantize: --quant fp32 only");
    return vb_fp_params_load(m, p, e);
}

/* run --shard i/N: the templates are saved; latency, failures, provenance and shard.csv
 * (what veribench merge reads) complete the shard's folder. The same for a score shard
 * (merge --shard j/M), whose scores are saved. */
static int finish_shard(vb_run *run)
{
    vb_err e = {0};
    char path[1200];
    out_path(run, path, sizeof path, "%s", "provenance.csv");
    int rc = write_atomically(path, fill_provenance, run, &e);
    out_path(run, path, sizeof path, "%s", "latency.csv");
    rc = rc || write_atomically(path, fill_latency, run, &e);
    out_path(run, path, sizeof path, "%s", "failures.csv");
    rc = rc || write_atomically(path, fill_failures, run, &e);
    const vb_run_config *cfg = &run->cfg;
    if (cfg->trial_count)
        rc = rc || vb_shard_write_scores(cfg->out_dir, cfg->trial_index, cfg->trial_count, run->ds.n_samples,
                                         run->ds.n_trials, cfg->embed_shards, cfg->n_shard_args,
                                         (const char *const *)cfg->shard_args, &e);
    else
        rc = rc || vb_shard_write(cfg->out_dir, cfg->shard_index, cfg->shard_count, run->ds.n_samples,
                                  cfg->n_shard_args, (const char *const *)cfg->shard_args, &e);
    if (rc)
        return fail(run, &e);
    printf("%s/shard.csv\n", run->cfg.out_dir);
    free_run(run);
    return VB_EXIT_OK;
}

/* One dataset of one modality, already opened into run->ds: model, combinations, outputs.
 * Frees the run; returns an exit code after printing errors. */
static int run_dataset(vb_run *run)
{
    vb_err e = {0};
    const vb_run_config *cfg = &run->cfg;
    vb_face_prep_text(&cfg->prep, run->crop_text, sizeof run->crop_text);
    snprintf(run->model_file, sizeof run->model_file, "%s",
             cfg->model_path ? cfg->model_path : vb_default_model_for(run->ds.modality));
    vb_model base;
    if (vb_model_load(run->model_file, &base, &e))
        return fail(run, &e);
    vb_sha256_hex(base.file_data, base.file_size, run->model_sha);
    run->fingerprint = vb_model_is_fingerprint(&base);
    if (run->fingerprint)
        snprintf(run->crop_text, sizeof run->crop_text, "none");
    if (run->fingerprint != (run->ds.modality == VB_MODALITY_FINGERPRINT) ||
        (run->fingerprint && check_fingerprint_options(cfg, &base, &run->fp, &e))) {
        if (!e.msg[0])
            vb_fail(&e, VB_EXIT_USAGE, "dataset %s holds %s samples; model %s is a %s model", cfg->dataset,
                    vb_modality_name(run->ds.modality), base.path, run->fingerprint ? "fingerprint" : "face");
        vb_model_free(&base);
        return fail(run, &e);
    }
    vb_graph g;
    if (run->fingerprint) {
        run->threshold = run->fp.threshold;
        run->distance = "mcc";
    } else if (vb_graph_build(&base, &g, &e) ||
               (!g.distance && vb_fail(&e, VB_EXIT_USAGE, "%s: a %s net gives no descriptor to compare; run takes "
                                       "a descriptor model (face_recognition)", base.path, g.arch))) {
        vb_model_free(&base);
        return fail(run, &e);
    } else {
        run->threshold = g.threshold;
        run->distance = g.distance;
    }
    char dir[1200];
    int rc = (results_lock_fd = lock_results_folder(cfg->out_dir, &e)) < 0;
    out_path(run, dir, sizeof dir, "%s", "templates");
    rc = rc || vb_mkdirs(dir, &e);
    out_path(run, dir, sizeof dir, "%s", "scores");
    rc = rc || vb_mkdirs(dir, &e);
    out_path(run, dir, sizeof dir, "%s", "plots");
    rc = rc || vb_mkdirs(dir, &e);
    run->combos = rc ? NULL : vb_calloc((size_t)cfg->n_backends * cfg->n_quants, sizeof *run->combos, &e);
    if (!run->combos) {
        vb_model_free(&base);
        return fail(run, &e);
    }
    for (int b = 0; b < cfg->n_backends && !rc; b++)
        for (int q = 0; q < cfg->n_quants && !rc; q++) {
            vb_run_combo *c = &run->combos[run->n_combos++];
            rc = run_combo(run, &base, cfg->backends[b], cfg->quants[q], c, &e) ||
                 (!cfg->shard_count && !cfg->trial_count && write_outputs(run, 0, &e));
        }
    vb_model_free(&base);
    if (rc)
        return fail(run, &e);
    if (cfg->shard_count || cfg->trial_count)
        return finish_shard(run);
    compare_with_fp32(run);
    if (make_plots(run, &e)) {
        /* A plot failure is reported, not fatal: the numbers are already saved. */
        snprintf(run->plot_error, sizeof run->plot_error, "%s", e.msg);
        fprintf(stderr, "veribench run: plots failed: %s\n", e.msg);
        run->plots_skipped = 1;
    }
    if (write_outputs(run, 1, &e))
        return fail(run, &e);
    printf("%s/report.md\n", cfg->out_dir);
    free_run(run);
    return VB_EXIT_OK;
}

/* ------------------------------------------------------------- faces and prints together */

/* The model of modality m: --model when it is one of that modality, else the default. */
static int modality_model(const vb_run_config *cfg, vb_modality m, char *out, size_t n, vb_err *e)
{
    snprintf(out, n, "%s", vb_default_model_for(m));
    if (!cfg->model_path)
        return 0;
    vb_model model;
    if (vb_model_load(cfg->model_path, &model, e))
        return -1;
    if (vb_model_is_fingerprint(&model) == (m == VB_MODALITY_FINGERPRINT))
        snprintf(out, n, "%s", cfg->model_path);
    vb_model_free(&model);
    return 0;
}

/* The run of modality m of a mixed dataset, in OUT/<modality>. The matcher has no weights to
 * quantize and uses prints whole: its run is fp32 without the face preprocessing options.
 * Returns an exit code (errors printed). */
static int run_modality(const vb_run *mixed, vb_modality m, const char *out_dir)
{
    vb_err e = {0};
    vb_run sub;
    char model[1024];
    memset(&sub, 0, sizeof sub);
    sub.cfg = mixed->cfg;
    sub.started = mixed->started;
    int parent_lock = results_lock_fd; /* the sub-run takes (and frees) its own folder's */
    results_lock_fd = -1;
    int rc;
    if (modality_model(&mixed->cfg, m, model, sizeof model, &e) ||
        vb_dataset_modality_subset(&mixed->ds, m, &sub.ds, &e)) {
        rc = fail(&sub, &e);
        results_lock_fd = parent_lock;
        return rc;
    }
    sub.cfg.out_dir = out_dir;
    sub.cfg.dataset = sub.ds.spec;
    sub.cfg.model_path = model;
    if (m == VB_MODALITY_FINGERPRINT) {
        sub.cfg.prep.set = 0;
        sub.cfg.quants[0] = VB_QUANT_FP32;
        sub.cfg.n_quants = 1;
    }
    if (!sub.cfg.quiet)
        fprintf(stderr, "veribench run: %s: %u samples, %llu trials, model %s, into %s\n", sub.ds.spec,
                sub.ds.n_samples, (unsigned long long)sub.ds.n_trials, model, out_dir);
    rc = run_dataset(&sub);
    results_lock_fd = parent_lock;
    return rc;
}

/* A dataset that mixes faces and prints: one run per modality with trials, each into
 * OUT/<modality> with that modality's model, then the combined report in OUT. */
static int run_modalities(vb_run *run)
{
    vb_err e = {0};
    const vb_run_config *cfg = &run->cfg;
    if (cfg->shard_count || cfg->calibration_trials || cfg->attributes) {
        vb_fail(&e, VB_EXIT_USAGE, "dataset %s mixes faces and fingerprints, which run as one run per modality; "
                "--shard, --calibration-trials and --attributes take a dataset of one modality", cfg->dataset);
        return fail(run, &e);
    }
    if ((results_lock_fd = lock_results_folder(cfg->out_dir, &e)) < 0)
        return fail(run, &e);
    for (int m = 0; m < VB_MODALITY_COUNT; m++) {
        int any = 0;
        for (uint64_t k = 0; k < run->ds.n_trials && !any; k++)
            any = (int)run->ds.samples[run->ds.trials[k].a].modality == m;
        if (!any)
            continue;
        char dir[1200];
        out_path(run, dir, sizeof dir, "%s", vb_modality_name(m));
        int rc = run_modality(run, (vb_modality)m, dir);
        if (rc != VB_EXIT_OK) {
            free_run(run);
            return rc;
        }
    }
    if (vb_modal_report_write(cfg->out_dir, cfg->dataset, &e))
        return fail(run, &e);
    printf("%s/report.md\n", cfg->out_dir);
    free_run(run);
    return VB_EXIT_OK;
}

int vb_run_main(const vb_run_config *cfg)
{
    vb_run run;
    vb_err e = {0};
    memset(&run, 0, sizeof run);
    run.cfg = *cfg;
    catch_interrupts();
    run.started = (double)time(NULL);
    if (vb_dataset_open(cfg->dataset, cfg->trials, NULL, &run.ds, &e) ||
        (cfg->modality >= 0 && vb_dataset_set_modality(&run.ds, (vb_modality)cfg->modality, &e)) ||
        (cfg->folds && vb_dataset_select_folds(&run.ds, cfg->folds, &e)))
        return fail(&run, &e);
    if (run.ds.modality == VB_MODALITY_MIXED)
        return run_modalities(&run);
    if (open_calibration_trials(&run, &e) || load_attributes(&run, &e))
        return fail(&run, &e);
    return run_dataset(&run);
}
