/* The combined report of a run over faces and prints (reports/modal_report.h). */
#include "reports/modal_report.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/files.h"
#include "datasets/dataset.h"
#include "reports/results.h"
#include "reports/results_load.h"
#include "reports/results_read.h"

static int has_metrics(const char *dir, const char *sub)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s/metrics.csv", dir, sub ? "/" : "", sub ? sub : "");
    return access(path, R_OK) == 0;
}

int vb_modal_folder(const char *dir)
{
    if (has_metrics(dir, NULL))
        return 0;
    for (int m = 0; m < VB_MODALITY_COUNT; m++)
        if (has_metrics(dir, vb_modality_name(m)))
            return 1;
    return 0;
}

typedef struct modal_folders {
    vb_results_folder rf[VB_MODALITY_COUNT];
    vb_results_store st[VB_MODALITY_COUNT];
    vb_results r[VB_MODALITY_COUNT];
    vb_modality_results mr[VB_MODALITY_COUNT];
    char dirs[VB_MODALITY_COUNT][4096];
    size_t n;
} modal_folders;

static void folders_free(modal_folders *f)
{
    for (size_t i = 0; i < f->n; i++) {
        vb_results_store_free(&f->st[i]);
        vb_results_folder_free(&f->rf[i]);
    }
}

/* Every modality folder of dir, read back. */
static int folders_read(const char *dir, modal_folders *f, vb_err *e)
{
    f->n = 0;
    for (int m = 0; m < VB_MODALITY_COUNT; m++) {
        const char *name = vb_modality_name(m);
        if (!has_metrics(dir, name))
            continue;
        size_t i = f->n;
        snprintf(f->dirs[i], sizeof f->dirs[i], "%s/%s", dir, name);
        if (vb_results_folder_read(f->dirs[i], &f->rf[i], e))
            return -1;
        if (vb_results_from_folder(&f->rf[i], f->dirs[i], &f->st[i], &f->r[i], e)) {
            vb_results_folder_free(&f->rf[i]);
            return -1;
        }
        f->mr[i] = (vb_modality_results){name, name, &f->r[i]};
        f->n++;
    }
    if (!f->n)
        return vb_fail(e, VB_EXIT_INPUT, "%s: no modality folder (face/, fingerprint/) with a metrics.csv", dir);
    return 0;
}

typedef int (*modal_writer)(FILE *, const char *, const vb_modality_results *, size_t);

static int write_one(const char *dir, const char *name, modal_writer w, const char *spec, const modal_folders *f,
                     vb_err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    vb_atomic a;
    if (vb_atomic_begin(&a, path, "w", e))
        return -1;
    if (w(a.f, spec, f->mr, f->n)) {
        vb_atomic_abort(&a);
        return vb_fail(e, VB_EXIT_IO, "%s: write error", path);
    }
    return vb_atomic_commit(&a, e);
}

int vb_modal_report_write(const char *dir, const char *dataset_spec, vb_err *e)
{
    modal_folders f;
    if (folders_read(dir, &f, e)) {
        folders_free(&f);
        return -1;
    }
    char spec[4096];
    snprintf(spec, sizeof spec, "%s", dataset_spec ? dataset_spec : f.r[0].dataset_spec);
    char *hash = dataset_spec ? NULL : strrchr(spec, '#');
    if (hash)
        *hash = 0;
    int rc = write_one(dir, "report.md", vb_report_write_modalities_md, spec, &f, e) ||
             write_one(dir, "report.html", vb_report_write_modalities_html, spec, &f, e);
    folders_free(&f);
    return rc ? -1 : 0;
}
