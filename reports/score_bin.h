/* The binary score file: every trial's score, label and fold in a compact, checksummed,
 * fast-to-write form (`veribench run` writes scores/<combo>.vbs; `veribench metrics
 * --scores F.vbs` and `veribench merge` read it). The gzip'd CSV (cli/scores.h) remains as
 * an export (`run --scores-csv`); this file is what makes writing 87M trials take about a
 * second instead of ~50 s, at 11 bytes a trial with folds (9 without) instead of ~13 gzip'd.
 *
 * Layout (little-endian, as written by the x86/ARM hosts veribench runs on; a file from a
 * big-endian host fails the byte-order check):
 *   header, 128 bytes: char magic[8] "VBSCORE1", u32 byte-order mark 0x01020304,
 *     u32 flags (bit 0: scores are distances, bit 1: the fold column is present),
 *     u32 compression (0 none, 1..9 zlib level), u32 trials per block (the largest block),
 *     u64 trials, u64 FTA trials, char[64] fingerprint (hex; what the scores were made from,
 *     NUL-padded), zero padding.
 *   blocks, in trial order: u32 trials n, u32 stored bytes, u32 raw bytes, u32 CRC-32 of the
 *     raw bytes; then the payload, the raw bytes (compression 0) or their zlib stream:
 *     raw = f64 score[n], u8 label[n], u16 fold[n] (fold only with flag bit 1).
 * Trial i of the file is trial i of the dataset's protocol (datasets/dataset.h trial order);
 * the sample ids are not repeated (the CSV export has them). Scores are stored as the
 * doubles the metrics use, so reading back is bit-exact.
 *
 * The writer writes atomically (core/files.h): the file appears complete or not at all. Blocks
 * are checksummed (and compressed, when asked) on up to `threads` threads. The reader checks
 * the header, every block's sizes and CRC and the total count, naming the file and the block
 * on any mismatch (VB_EXIT_INPUT). */
#ifndef VB_SCORE_BIN_H
#define VB_SCORE_BIN_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "core/files.h"
#include "reports/scores.h"

#define VB_SCORE_BIN_EXT ".vbs"
#define VB_SCORE_BIN_BLOCK ((size_t)1 << 20) /* trials per block the writer makes */

typedef struct vb_score_bin_info {
    int is_distance, has_fold, compression;
    uint64_t n, fta;
    uint32_t block_trials;
    char fingerprint[65];
} vb_score_bin_info;

typedef struct vb_score_writer {
    vb_atomic a;
    vb_score_bin_info info;
    int threads;
} vb_score_writer;

/* Starts path (atomically: nothing is visible until commit). compression: 0 none, 1..9 zlib
 * level. fingerprint may be NULL. */
int vb_score_writer_open(vb_score_writer *w, const char *path, int is_distance, int has_fold, int compression,
                         const char *fingerprint, int threads, vb_err *e);
/* Appends trials [begin, end) of s (its fold array is used when the file has folds). */
int vb_score_writer_put(vb_score_writer *w, const vb_scores *s, size_t begin, size_t end, vb_err *e);
/* Writes the header's counts and publishes the file. */
int vb_score_writer_commit(vb_score_writer *w, vb_err *e);
void vb_score_writer_abort(vb_score_writer *w);

/* The whole of s as path, in one call. */
int vb_score_bin_write(const char *path, const vb_scores *s, int compression, const char *fingerprint,
                       int threads, vb_err *e);

/* Block-by-block reading (bounded memory: one block at a time). */
typedef struct vb_score_reader {
    void *f;
    char path[1024];
    vb_score_bin_info info;
    uint64_t done, file_bytes, pos;
    size_t block_no;
    unsigned char *raw, *stored;
    size_t raw_cap, stored_cap;
} vb_score_reader;

/* 1 when path starts with the binary score file's magic, 0 otherwise (also unreadable). */
int vb_score_bin_is(const char *path);
int vb_score_reader_open(vb_score_reader *r, const char *path, vb_err *e);
/* The next block into *block (reused between calls: it is reallocated as needed and owned by
 * the caller, who frees it with vb_scores_free). Returns 1 with a block, 0 at the end (after
 * checking the count), -1 on error. */
int vb_score_reader_next(vb_score_reader *r, vb_scores *block, vb_err *e);
void vb_score_reader_close(vb_score_reader *r);

/* The whole file into out (initialised here). */
int vb_scores_read_bin(const char *path, vb_scores *out, vb_err *e);
/* Only the header: used to skip rewriting a complete file made from the same templates. */
int vb_score_bin_info_read(const char *path, vb_score_bin_info *info, vb_err *e);

#endif
