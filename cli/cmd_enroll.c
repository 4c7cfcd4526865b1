/* veribench enroll: the fingerprint templates of a dataset's prints as files, with a manifest
 * (and trials) that `veribench run` scores from the templates instead of the images. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/engine.h"
#include "cli/options.h"
#include "core/csv_write.h"
#include "core/files.h"
#include "core/progress.h"
#include "datasets/registry.h"

static void describe(FILE *f)
{
    fprintf(f, "Extracts the minutiae of every print of the dataset (the fingerprint matcher,\n"
               "--model, default fingerprint_mcc.gguf) and writes one template file per print:\n"
               "DIR/<sample>.fmr, an ISO/IEC 19794-2:2005 finger minutiae record (--format iso,\n"
               "the default; coordinates to the pixel, angles to 1.4 degrees), or DIR/<sample>.fpt,\n"
               "veribench's VBFPT001 text template (--format text; exact). Also DIR/manifest.csv\n"
               "(sample,subject,path,modality: each print's template, or its image when it failed\n"
               "to enrol, so a run counts it again) and, for a protocol with listed trials,\n"
               "DIR/trials.csv (a,b,label,fold). Then\n"
               "  veribench run --dataset csv:DIR/manifest.csv [--trials DIR/trials.csv] --out R\n"
               "matches the saved templates: a .fmr or .fpt sample is read, not extracted, and one\n"
               "that does not read stops the run naming the file (exit 3). A mixed dataset\n"
               "enrolls its prints.\n\n");
}

static const vb_command_help help = {
    "enroll", "--dataset SPEC --out DIR [--trials FILE] [--modality fingerprint] [--format iso|text] [--model M]",
    describe, "0 templates written (prints that failed to enrol are listed on stderr); 2 usage;\n"
              "3 bad dataset, model or template; 5 cannot write."};

typedef struct enroll_ctx {
    const vb_dataset *ds;
    const char *out, *ext;
    int text;
    uint8_t *ok;        /* per sample: its template file was written */
    size_t enrolled, failed, done;
    vb_err error;       /* a write error (stops) */
    vb_progress progress;
} enroll_ctx;

/* Sample ids name files: letters, digits, '.', '_', '-', not starting with '.'. */
static int check_ids(const vb_dataset *ds, vb_err *e)
{
    for (uint32_t i = 0; i < ds->n_samples; i++) {
        const char *id = ds->samples[i].id;
        if (id[0] == '.' || id[strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")])
            return vb_fail(e, VB_EXIT_INPUT, "%s: sample id '%s' cannot name a template file (letters, digits, "
                           ". _ - only, not starting with .)", ds->spec, id);
    }
    return 0;
}

static int on_template(void *arg, size_t k, const float *rec, const vb_err *why)
{
    enroll_ctx *c = arg;
    vb_progress_update(&c->progress, ++c->done);
    if (!rec) {
        c->failed++;
        fprintf(stderr, "veribench enroll: %s\n", why->msg);
        return 0;
    }
    vb_fp_template t;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s", c->out, c->ds->samples[k].id, c->ext);
    if (vb_fp_template_unpack(rec, &t, &c->error) ||
        (c->text ? vb_fp_template_save(path, &t, &c->error) : vb_fp_template_write_iso(path, &t, &c->error)))
        return 1;
    c->ok[k] = 1;
    c->enrolled++;
    return 0;
}

/* A path another folder can use: absolute (the cwd prefixed) unless it already is. */
static void absolute(const char *path, char *out, size_t n)
{
    char cwd[PATH_MAX];
    if (path[0] == '/' || !getcwd(cwd, sizeof cwd))
        snprintf(out, n, "%s", path);
    else
        snprintf(out, n, "%s/%s", cwd, path);
}

static int write_manifest(const enroll_ctx *c, vb_err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.csv", c->out);
    vb_atomic a;
    if (vb_atomic_begin(&a, path, "w", e))
        return -1;
    fputs("sample,subject,path,modality\n", a.f);
    for (uint32_t i = 0; i < c->ds->n_samples; i++) {
        const vb_sample *s = &c->ds->samples[i];
        char file[4200];
        if (c->ok[i])
            snprintf(file, sizeof file, "%s%s", s->id, c->ext);
        else
            absolute(s->path, file, sizeof file);
        const char *row[4] = {s->id, s->subject, file, "fingerprint"};
        vb_csv_write_row(a.f, row, 4);
    }
    return vb_atomic_commit(&a, e);
}

static int write_trials(const vb_dataset *ds, const char *out, vb_err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/trials.csv", out);
    if (ds->protocol != VB_PROTOCOL_EXPLICIT) {
        unlink(path); /* all pairs: a trials file from an earlier enrolment would change the protocol */
        return 0;
    }
    vb_atomic a;
    if (vb_atomic_begin(&a, path, "w", e))
        return -1;
    fputs("a,b,label,fold\n", a.f);
    for (uint64_t k = 0; k < ds->n_trials; k++) {
        const vb_trial *t = &ds->trials[k];
        char label[4], fold[8];
        snprintf(label, sizeof label, "%u", t->label);
        snprintf(fold, sizeof fold, "%u", t->fold);
        const char *row[4] = {ds->samples[t->a].id, ds->samples[t->b].id, label, fold};
        vb_csv_write_row(a.f, row, 4);
    }
    return vb_atomic_commit(&a, e);
}

/* The prints to enrol: the dataset itself, or the prints of a mixed one. */
static int open_prints(const char *spec, const char *trials, int modality, vb_dataset *ds, vb_err *e)
{
    if (vb_dataset_open(spec, trials, NULL, ds, e))
        return -1;
    if (modality >= 0 && vb_dataset_set_modality(ds, (vb_modality)modality, e)) {
        vb_dataset_free(ds);
        return -1;
    }
    if (ds->modality == VB_MODALITY_MIXED) {
        vb_dataset mixed = *ds;
        int rc = vb_dataset_modality_subset(&mixed, VB_MODALITY_FINGERPRINT, ds, e);
        vb_dataset_free(&mixed);
        return rc;
    }
    if (ds->modality != VB_MODALITY_FINGERPRINT) {
        vb_fail(e, VB_EXIT_USAGE, "dataset %s holds %s samples; enroll writes fingerprint templates", spec,
                vb_modality_name(ds->modality));
        vb_dataset_free(ds);
        return -1;
    }
    return check_ids(ds, e) ? (vb_dataset_free(ds), -1) : 0;
}

/* Every print through the matcher's extraction, each template written as it comes. */
static int embed_prints(enroll_ctx *c, vb_engine_opts *eo, vb_err *e)
{
    const vb_dataset *ds = c->ds;
    const char **paths = vb_calloc(ds->n_samples, sizeof *paths, e);
    if (!paths)
        return -1;
    for (uint32_t i = 0; i < ds->n_samples; i++)
        paths[i] = ds->samples[i].path;
    vb_engine en;
    int rc = vb_engine_open(&en, eo, e), opened = rc == 0;
    if (rc == 0 && !en.fingerprint)
        rc = vb_fail(e, VB_EXIT_USAGE, "%s is not the fingerprint matcher (a fingerprint_mcc model)", eo->model_path);
    if (rc == 0) {
        vb_progress_start(&c->progress, "enroll", ds->n_samples);
        rc = vb_engine_embed_files(&en, paths, ds->n_samples, on_template, c, e);
        vb_progress_end(&c->progress);
        if (rc && c->error.msg[0]) /* a template that could not be written */
            *e = c->error;
    }
    if (opened)
        vb_engine_close(&en);
    free(paths);
    return rc;
}

static int enroll(const char *spec, const char *trials, int modality, int text, vb_engine_opts *eo,
                  const char *out, vb_err *e)
{
    vb_dataset ds;
    if (open_prints(spec, trials, modality, &ds, e))
        return -1;
    if (!eo->model_path)
        eo->model_path = vb_default_model_for(VB_MODALITY_FINGERPRINT);
    enroll_ctx c = {.ds = &ds, .out = out, .text = text, .ext = text ? ".fpt" : ".fmr"};
    c.ok = vb_calloc(ds.n_samples, 1, e);
    int rc = !c.ok || vb_mkdirs(out, e) || embed_prints(&c, eo, e) || write_manifest(&c, e) ||
             write_trials(&ds, out, e);
    if (rc == 0)
        printf("%s/manifest.csv: %zu of %u prints enrolled (%zu failed to enrol)\n", out, c.enrolled, ds.n_samples,
               c.failed);
    free(c.ok);
    vb_dataset_free(&ds);
    return rc ? -1 : 0;
}

int cmd_enroll(int argc, char **argv)
{
    vb_engine_opts eo = {0};
    const char *spec = NULL, *trials = NULL, *out = NULL;
    int modality = -1, format = 0, max_pixels = 0;
    static const char *const modalities[] = {"face", "fingerprint", NULL};
    static const char *const formats[] = {"iso", "text", NULL};
    const vb_option opts[] = {
        VB_OPT_STRING_ROW("dataset", "SPEC", "the prints (fvc2002:DBn_B, fvc2002-all:DBn_B, csv:MANIFEST)", &spec),
        VB_OPT_STRING_ROW("trials", "FILE", "trials CSV a,b,label[,fold], copied to DIR/trials.csv", &trials),
        VB_OPT_CHOICE_ROW("modality", "M", "the samples of a csv: manifest without a modality column", &modality,
                          modalities),
        VB_OPT_CHOICE_ROW("format", "F", "iso (ISO/IEC 19794-2 record, .fmr; default) or text (.fpt)", &format,
                          formats),
        VB_OPT_MODEL(&eo.model_path),
        VB_OPT_MAX_PIXELS(&max_pixels),
        VB_OPT_STRING_ROW("out", "DIR", "template folder (created with its parents if missing)", &out),
        VB_OPT_END_ROW};
    int rc = vb_options_parse_all(&help, opts, argc, argv);
    if (rc != VB_OPTS_GO)
        return rc;
    if (!spec || !out)
        return vb_usage_error(&help, "--dataset and --out are required");
    vb_opt_apply_max_pixels(max_pixels);
    vb_err e = {0};
    if (enroll(spec, trials, modality, format == 1, &eo, out, &e)) {
        fprintf(stderr, "veribench enroll: %s\n", e.msg);
        return e.code ? e.code : VB_EXIT_IO;
    }
    vb_err out_err = {0};
    if (vb_close_output(stdout, "standard output", &out_err)) {
        fprintf(stderr, "veribench enroll: %s\n", out_err.msg);
        return VB_EXIT_IO;
    }
    return VB_EXIT_OK;
}
