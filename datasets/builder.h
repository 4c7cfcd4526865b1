/* The dataset-builder API: what a loader (datasets/lfw.c, fvc.c, csvset.c, ...) uses to
 * turn its files into a vb_dataset: begin, add samples and trials, compact, finish. A loader
 * depends on this header alone (and core/); it is registered by one row in
 * datasets/registry.c. Implemented by datasets/builder.c and strstore.c. */
#ifndef VB_DATASET_BUILDER_H
#define VB_DATASET_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "core/parse.h"
#include "datasets/dataset.h"

/* Append-only string storage: strings never move, freed all at once. */
typedef struct vb_pool_block vb_pool_block;
typedef struct vb_strpool {
    vb_pool_block *head;
} vb_strpool;
char *vb_pool_strndup(vb_strpool *p, const char *s, size_t n, vb_err *e);
char *vb_pool_strdup(vb_strpool *p, const char *s, vb_err *e);
char *vb_pool_printf(vb_strpool *p, vb_err *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void vb_pool_free(vb_strpool *p);

/* Map from string (not copied: must outlive the map) to uint32 value. Open addressing. */
typedef struct vb_strmap {
    const char **keys;
    uint32_t *vals;
    size_t cap, n; /* cap: power of two, 0 when empty */
} vb_strmap;
/* Value of key, or -1. */
int64_t vb_strmap_get(const vb_strmap *m, const char *key);
/* Insert key -> val. Returns 0 when inserted, 1 when the key was present (value unchanged,
 * *existing set if non-NULL), -1 on out-of-memory. */
int vb_strmap_put(vb_strmap *m, const char *key, uint32_t val, uint32_t *existing, vb_err *e);
void vb_strmap_free(vb_strmap *m);

/* What vb_dataset.priv points to. */
typedef struct vb_dataset_store {
    vb_strpool pool;
    vb_strmap ids;      /* sample id -> index */
    vb_strmap subjects; /* subject -> subject index */
    uint64_t cap_samples, cap_subjects, cap_trials;
} vb_dataset_store;

/* Builder used by the loaders. vb_ds_begin allocates the store and sets kind and root. */
int vb_ds_begin(vb_dataset *d, const char *kind, const char *root, vb_err *e);
/* Append a sample (strings are copied). Fails on a duplicate id ("duplicate sample id X"),
 * control characters, tabs or empty fields; the caller prefixes file:line. */
int vb_ds_add_sample(vb_dataset *d, const char *id, const char *subject, const char *rel,
                     vb_modality modality, vb_err *e);
/* Check then append an explicit trial: a != b, same modality, label agreeing with subjects,
 * fold within 0..VB_MAX_FOLDS. The caller prefixes file:line. */
int vb_ds_add_trial(vb_dataset *d, uint32_t a, uint32_t b, int label, unsigned fold, vb_err *e);
/* After all trials: reject a pair listed twice (unordered), naming both by position; the
 * caller maps positions to lines via line_of (NULL: positions are reported 1-based). */
int vb_ds_check_duplicate_trials(const vb_dataset *d, const long *line_of, const char *file,
                                 vb_err *e);
/* Keep only samples referenced by trials (and their subjects), renumbering. */
int vb_ds_compact_to_trials(vb_dataset *d, vb_err *e);
/* Counts, folds, modality, fingerprint. Fails if there are no trials. An all-pairs protocol
 * that mixes modalities becomes the explicit list of its same-modality pairs (dataset.h). */
int vb_ds_finish(vb_dataset *d, vb_err *e);

/* Error helper for a missing data folder or file: names VERIBENCH_DATA and the path. */
int vb_ds_fail_missing(vb_err *e, const char *data_dir, const char *path, const char *what);

#endif
