/* The dataset loaders, one file each, all of one signature so that datasets/registry.c can
 * list them in one table. A loader fills an empty vb_dataset through the builder API
 * (datasets/builder.h) and nothing else; it does not call vb_ds_finish (the registry does).
 *   data_dir   the VERIBENCH_DATA folder (checked to exist when the row says it needs it)
 *   arg        the text after the spec's prefix ("DB1_B" in "fvc2002:DB1_B"), or "" for an
 *              exact name
 *   all_pairs  1 for the every-pair variant of a protocol ("lfw-all", "fvc2002-all:")
 * Adding a dataset: one file with its loader, its declaration here, one row in the table. */
#ifndef VB_DATASET_LOADERS_H
#define VB_DATASET_LOADERS_H

#include "core/common.h"
#include "datasets/dataset.h"

typedef int (*vb_dataset_loader)(vb_dataset *d, const char *data_dir, const char *arg, int all_pairs,
                                 vb_err *e);

int vb_lfw_load(vb_dataset *d, const char *data_dir, const char *arg, int all_pairs, vb_err *e);
int vb_fvc_load(vb_dataset *d, const char *data_dir, const char *set, int all_pairs, vb_err *e);
int vb_csv_manifest_load(vb_dataset *d, const char *data_dir, const char *manifest, int all_pairs, vb_err *e);

/* Not a loader but its companion: explicit trials (--trials F, header a,b,label[,fold]) over
 * the samples a loader added. */
int vb_csv_trials_load(vb_dataset *d, const char *trials_csv, vb_err *e);

#endif
