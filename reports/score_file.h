/* Readers of score files into parallel arrays (score, label, fold) for metrics.h.
 *
 * Formats
 * - CSV (libcsv; read through zlib so FILE may be gzip-compressed, e.g. the
 *   scores/<backend>-<device>-<quant>.csv.gz that `veribench run` writes with the header
 *   a,b,label,score,fold): a header row naming at least `label` (1 genuine, 0 impostor)
 *   and `score`; an optional `fold` column (1..32767; 0, -1 or empty mean "in no fold",
 *   the convention of datasets/dataset.h) enables the LFW 10-fold accuracy. Every record must have as many fields as
 *   the header; other columns are ignored.
 * - bob4: bob.measure's whitespace-separated `claimed real sample score`; genuine when
 *   claimed == real. Blank lines and lines starting with '#' are skipped.
 * - pyeer: two files, genuine and impostor scores, one per line (blank lines skipped).
 *
 * Scores must be numbers; NaN is rejected, and so is the infinity that would accept at
 * every threshold (+inf similarity, -inf distance: is_distance says which), while the
 * other (a failure to acquire) is kept. Every error names the file and line (VB_EXIT_INPUT),
 * including a missing or unreadable file. */
#ifndef VB_SCORE_FILE_H
#define VB_SCORE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

typedef struct vb_score_table {
    double *score;
    uint8_t *label;
    int16_t *fold; /* NULL when the file has no fold column */
    size_t n, cap;
} vb_score_table;

int vb_scores_read_csv(const char *path, int is_distance, vb_score_table *t, vb_err *e);
int vb_scores_read_bob4(const char *path, int is_distance, vb_score_table *t, vb_err *e);
int vb_scores_read_pyeer(const char *genuine_path, const char *impostor_path, int is_distance, vb_score_table *t,
                         vb_err *e);
void vb_score_table_free(vb_score_table *t);

/* Parses a score: the whole text must be a number; NaN and the always-accepting infinity
 * are refused with a message (no file/line: the caller adds them). */
int vb_parse_score(const char *text, int is_distance, double *out, vb_err *e);

#endif
