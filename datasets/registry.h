/* Opening a dataset by its spec ("lfw", "fvc2002:DB1_B", "csv:people.csv", ...): the one
 * table of loaders (datasets/registry.c) maps a spec to its loader, then the dataset is
 * finished (counts, folds, fingerprint) and, with --trials, restricted to those trials. */
#ifndef VB_DATASET_REGISTRY_H
#define VB_DATASET_REGISTRY_H

#include "core/common.h"
#include "datasets/dataset.h"

/* Load a dataset. spec: one of vb_dataset_spec_help (forms: datasets/dataset.h). trials_csv: NULL or a trials CSV.
 * data_dir: NULL for vb_data_dir(). On failure returns -1 with e filled: VB_EXIT_USAGE for
 * a bad spec or a refused --trials, VB_EXIT_INPUT for missing or malformed data. *out is
 * zeroed first and needs no vb_dataset_free after a failure. Loads take milliseconds for
 * lfw, lfw-all, fvc2002 (no image is touched). */
int vb_dataset_open(const char *spec, const char *trials_csv, const char *data_dir, vb_dataset *out,
                    vb_err *e);

/* One line per table row, for --help. */
extern const char vb_dataset_spec_help[];

#endif
