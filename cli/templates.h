/* The template store of one (backend, device, quant) combination in a run folder:
 * DIR/templates/<combo>.bin, appended as samples are embedded so a killed run resumes
 * without recomputing what was saved.
 *
 * File: header {magic "VBTPL001", u32 dim, u32 record bytes, u64 n_samples, char[64]
 * fingerprint (hex SHA-256 of everything that determines a template: model, dataset,
 * crop, backend, device, quant)} then fixed-size records {u32 sample index, u32 status,
 * dim floats (status 0) or a NUL-padded failure message (status 1), u32 CRC-32 of the
 * record}. A torn last record (killed mid-write) fails its CRC and is dropped on open. */
#ifndef VB_TEMPLATES_H
#define VB_TEMPLATES_H

#include <stdint.h>
#include <stdio.h>

#include "core/common.h"
#include "models/graph.h"

enum { VB_TPL_MISSING = 0, VB_TPL_OK = 1, VB_TPL_FAILED = 2 };

typedef struct vb_template_store {
    char path[1024];
    FILE *f;
    int dim;
    size_t n_samples;
    size_t record_bytes;
    float *desc;        /* n_samples * dim */
    uint8_t *state;     /* VB_TPL_* per sample */
    char **why;         /* failure message per failed sample (NULL otherwise) */
    size_t n_ok, n_failed, n_resumed;
    size_t unsynced;
} vb_template_store;

/* Open (or create) the store; loads every valid record already there. A file made for a
 * different fingerprint or sample count is refused with an error naming it. */
int vb_templates_open(vb_template_store *s, const char *path, const char *fingerprint, size_t n_samples,
                      int dim, vb_err *e);
/* Record one sample: desc (dim floats) or NULL with a failure message. */
int vb_templates_put(vb_template_store *s, size_t index, const float *desc, const char *why, vb_err *e);
/* Flush to disk (fsync): called every few hundred records and at the end. */
int vb_templates_sync(vb_template_store *s, vb_err *e);
void vb_templates_close(vb_template_store *s);

/* Only the header of a store: its fingerprint, sample count and dimension (veribench merge
 * opens the shards' stores with what they say). */
/* Read-only: every valid record of the store at path (a torn tail is ignored, not cut off),
 * with the header's own fingerprint; s->f stays NULL. Close with vb_templates_close. */
int vb_templates_load(vb_template_store *s, const char *path, vb_err *e);
int vb_templates_peek(const char *path, char fingerprint[65], size_t *n_samples, int *dim, vb_err *e);

/* Inference timing is saved beside the templates (templates/<combo>.timing) and added up
 * over resumed runs, so a run that resumes everything still reports the throughput measured
 * when the templates were made, and metrics.csv does not change on resume; veribench merge
 * adds up its shards' the same way. Text: "veribench-timing-v1 <fp> images calls run_ms
 * wall_ms", then one "<ms> <layer name>" line per layer. */
typedef struct vb_saved_timing {
    size_t images, calls;
    double run_ms, wall_ms, layer_ms[VB_GRAPH_MAX_NODES];
    int n_layers;
    char layer_names[VB_GRAPH_MAX_NODES][96];
} vb_saved_timing;

/* The saved timing for fingerprint fp with n_layers layers (-1: as many as it lists); -1
 * when the file is missing, torn, for another configuration, or lists other layers. */
int vb_timing_read(const char *path, const char *fp, int n_layers, vb_saved_timing *t);
/* Write t (its n_layers layers) atomically; a failed write (full disk) leaves no .tmp. */
int vb_timing_write(const char *path, const char *fp, const vb_saved_timing *t, vb_err *e);

#endif
