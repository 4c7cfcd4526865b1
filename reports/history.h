/* The benchmark history: an append-only CSV, DIR/history.csv, to which every `veribench
 * bench` and `veribench bench-latency` run adds one row per number it measured, each row
 * carrying the run's full provenance, so that a device's numbers can be listed and plotted
 * over time (`veribench history DIR`) across machines, drivers and veribench versions.
 *
 * Where: the folder given by --history DIR, else $VERIBENCH_HISTORY, else
 * `results/history` under the current folder (vb_history_dir). --no-history writes none.
 *
 * Columns (VB_HISTORY_COLUMNS, in this order; the reader accepts any order):
 *   time_utc       when the run finished, 2026-12-02T05:27:55Z
 *   command        bench | bench-latency
 *   host, cpu      hostname; the CPU's model name from /proc/cpuinfo
 *   backend, device, device_name, driver, quant     the combination measured
 *   dataset        bench-latency's dataset spec ("" for bench: synthetic inputs)
 *   scenario       single-stream | offline (bench-latency), bench
 *   batch          the batch size ("" where it does not apply)
 *   metric, value  e.g. p99_ms 23.4; samples_per_s 97.1
 *   verdict        VALID / INVALID: rule... (bench-latency), "" (bench)
 *   git_commit, binary_sha256, model_sha256, command_line
 *
 * Appending: all rows of a run are formatted first and written with one write() on a file
 * opened O_APPEND under an exclusive flock, then fsync'd, so concurrent runs never
 * interleave and a reader sees whole runs; the header is written when the file is empty.
 * The file is never rewritten. A target that is not a regular file (a link, a device) is
 * refused. Reading is strict: a malformed record is an error naming file:line. */
#ifndef VB_HISTORY_H
#define VB_HISTORY_H

#include <stddef.h>
#include <time.h>

#include "core/common.h"

#define VB_HISTORY_FILE "history.csv"

enum {
    VB_H_TIME, VB_H_COMMAND, VB_H_HOST, VB_H_CPU, VB_H_BACKEND, VB_H_DEVICE, VB_H_DEVICE_NAME, VB_H_DRIVER,
    VB_H_QUANT, VB_H_DATASET, VB_H_SCENARIO, VB_H_BATCH, VB_H_METRIC, VB_H_VALUE, VB_H_VERDICT, VB_H_GIT_COMMIT,
    VB_H_BINARY_SHA256, VB_H_MODEL_SHA256, VB_H_COMMAND_LINE, VB_H_COLUMNS
};
extern const char *const vb_history_columns[VB_H_COLUMNS];

/* What every row of one run shares. */
typedef struct vb_history_run {
    const char *command, *git_commit, *binary_sha256, *model_sha256, *command_line;
    time_t finished;
} vb_history_run;

/* One measured number. */
typedef struct vb_history_entry {
    const char *backend, *device, *device_name, *driver, *quant, *dataset, *scenario, *batch, *metric;
    double value;
    const char *verdict;
} vb_history_entry;

/* The history folder: opt when given, else $VERIBENCH_HISTORY when set and non-empty, else
 * "results/history". */
const char *vb_history_dir(const char *opt);

/* Appends rows (the run's fields filled in) to dir/history.csv, creating dir and the file.
 * Errors: VB_EXIT_IO naming the file. */
int vb_history_append(const char *dir, const vb_history_run *run, const vb_history_entry *rows, size_t n,
                      vb_err *e);

/* One row read back: fields[VB_H_*] owned by the history; t = time_utc in seconds. */
typedef struct vb_history_row {
    char *field[VB_H_COLUMNS];
    double value;
    time_t t;
    long line;
} vb_history_row;

typedef struct vb_history {
    vb_history_row *rows;
    size_t n, cap;
} vb_history;

/* Reads path (a history.csv). Errors: VB_EXIT_INPUT naming file:line (unknown or missing
 * column, wrong field count, a value that is not a number, a time not in the format above),
 * VB_EXIT_IO on allocation failure. */
int vb_history_read(const char *path, vb_history *h, vb_err *e);
void vb_history_free(vb_history *h);

/* time_utc back into seconds (-1 when text is not vb_utc_text's format). */
int vb_utc_parse(const char *text, time_t *t);

/* The CPU's model name from /proc/cpuinfo ("unknown" when not found). */
void vb_cpu_model(char *buf, size_t n);

#endif
