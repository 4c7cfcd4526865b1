/* The report above the results folders of a run over faces and prints (cli/run.c writes
 * OUT/face and OUT/fingerprint, one complete results folder per modality): OUT/report.md and
 * OUT/report.html, written from those folders read back (reports/results_load.h) by the
 * writers of reports/results.h (vb_report_write_modalities_md/_html). `run` calls it after
 * the modalities' runs, `veribench report --results OUT` on such a folder again. */
#ifndef VB_MODAL_REPORT_H
#define VB_MODAL_REPORT_H

#include "core/common.h"

/* 1 if dir holds no metrics.csv of its own but a modality folder (dir/face, dir/fingerprint)
 * that does: the layout of a run over several modalities. */
int vb_modal_folder(const char *dir);

/* Writes dir/report.md and dir/report.html (atomically) from every modality folder under
 * dir that has a metrics.csv. dataset_spec: the spec to title them with; NULL takes the
 * first folder's, less its "#<modality>" suffix. Errors name the folder or file. */
int vb_modal_report_write(const char *dir, const char *dataset_spec, vb_err *e);

#endif
