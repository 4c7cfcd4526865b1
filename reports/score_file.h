/* Readers of score files into a vb_scores (reports/scores.h), the metrics' input.
 *
 * Formats
 * - CSV (libcsv; read through zlib so FILE may be gzip-compressed, e.g. the
 *   scores/<backend>-<device>-<quant>.csv.gz that `veribench run` writes with the header
 *   a,b,label,score,fold): a header row naming at least `label` (1 genuine, 0 impostor)
 *   and `score`; an optional `fold` column (1..32767; 0, -1 or empty mean "in no fold",
 *   the convention of datasets/dataset.h, and are stored as fold 0) enables the LFW 10-fold
 *   accuracy. Every record must have as many fields as the header; other columns are
 *   ignored. A column name given twice is an error (which one would be meant?).
 * - bob4: bob.measure's whitespace-separated `claimed real sample score`; genuine when
 *   claimed == real. Blank lines and lines starting with '#' are skipped.
 * - pyeer: two files, genuine and impostor scores, one per line (blank lines skipped).
 *
 * Scores must be numbers; NaN is rejected, and so is the infinity that would accept at
 * every threshold (+inf similarity, -inf distance: is_distance says which), while the
 * other (a failure to acquire) is kept. Every error names the file and line (VB_EXIT_INPUT),
 * including a missing or unreadable file.
 *
 * The readers initialise `out` (any previous content is NOT freed) and set its is_distance;
 * out->fold is non-NULL exactly when the file has a fold column. On failure out is empty. */
#ifndef VB_SCORE_FILE_H
#define VB_SCORE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "reports/scores.h"

int vb_scores_read_csv(const char *path, int is_distance, vb_scores *out, vb_err *e);
int vb_scores_read_bob4(const char *path, int is_distance, vb_scores *out, vb_err *e);
int vb_scores_read_pyeer(const char *genuine_path, const char *impostor_path, int is_distance, vb_scores *out,
                         vb_err *e);

/* Parses a score: the whole text must be a number; NaN and the always-accepting infinity
 * are refused with a message (no file/line: the caller adds them). */
int vb_parse_score(const char *text, int is_distance, double *out, vb_err *e);

#endif
