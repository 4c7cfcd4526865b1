/* Datasets and verification protocols: which samples (image files) exist, and which pairs of
 * them (trials) are compared, with their ground-truth label and fold.
 *
 * Dataset specs (the `--dataset` argument):
 *   lfw                 LFW View 2: lfw/pairs.txt (10 folds x 300 matched + 300 mismatched).
 *                       Samples are the distinct images the pairs reference (each once).
 *   lfw-all             every image listed in lfw/people.txt (13,233 of 5,749 people);
 *                       trials are all unordered pairs (implicit, see "All-pairs protocols").
 *   fvc2002:DB1_B       FVC2002 set DB1_B (also DB2_B, DB3_B, DB4_B): fingers 101..110 x 8
 *                       impressions. FVC protocol: genuine = every pair of impressions of one
 *                       finger (10 x C(8,2) = 280), impostor = first impression of each finger
 *                       against the first impression of every other finger (C(10,2) = 45).
 *   fvc2002-all:DB1_B   the same 80 samples, all unordered pairs (3,160 trials).
 *   csv:MANIFEST        a CSV manifest with header columns sample,subject,path (any order;
 *                       optional column modality = face|fingerprint, default face). Paths are
 *                       relative to the manifest's folder unless absolute. All pairs, unless a
 *                       trials CSV is given. A manifest mixing modalities without a trials
 *                       CSV gets every pair of samples of the same modality, listed as
 *                       explicit trials (fold 0; at most VB_MIXED_PAIRS_MAX): a face is
 *                       never compared with a print.
 * A trials CSV (`--trials F`, header a,b,label[,fold]; a and b are sample ids, label 1 genuine
 * / 0 impostor, fold 0 = none or 1..VB_MAX_FOLDS) replaces the all-pairs rule of csv:,
 * lfw-all and fvc2002-all; lfw and fvc2002 have their own protocol and refuse one.
 *
 * Data folder: lfw/ and fvc2002/ live under one folder, VERIBENCH_DATA (see vb_data_dir).
 * LFW layout: lfw/pairs.txt, lfw/people.txt, lfw/images_deepfunneled/<Name>/<Name>_NNNN.jpg.
 * FVC layout: fvc2002/DB1_B/101_1.tif ... 110_8.tif.
 *
 * Why lfw-all enumerates people.txt and not the image folder: people.txt is the official
 * listing of what LFW contains. A file missing from a copy then stays a sample and becomes a
 * failure to acquire at decode time (counted, reported), instead of silently shrinking the
 * protocol, as a folder scan would. The tests check people.txt against the folder (13,233).
 *
 * What is an error and what is not:
 *   - Structural problems are load errors naming the file and line (exit code VB_EXIT_INPUT):
 *     a malformed line, wrong counts in pairs.txt/people.txt, a non-numeric or zero image
 *     number, a pairs.txt name not in people.txt or an image number above that person's count,
 *     a mismatched pair naming one person twice, a pair comparing an image with itself, the
 *     same pair twice, duplicate sample ids, a trial naming an unknown sample, a trial label
 *     contradicting the samples' subjects, a trial across modalities, control characters in
 *     ids or paths, a missing or unknown CSV header column.
 *   - A missing image file is NOT a load error: the loader never stats samples. The decode
 *     stage counts it as a failure to acquire (vb_sample.acquired), so nothing is silently
 *     dropped. A manifest line pointing to a missing file is kept likewise.
 *   - A missing data folder or protocol file is an error naming VERIBENCH_DATA and the path.
 *
 * Orders are deterministic and documented, so that trial k means the same pair in every
 * run, on every machine, in every shard:
 *   - lfw, lfw-all: samples sorted by (subject name in byte order, image number);
 *     lfw trials in pairs.txt order.
 *   - fvc2002: samples by finger then impression; trials: the genuine pairs finger by
 *     finger, (1,2), (1,3), ... (7,8), then the impostor pairs (101_1,102_1), (101_1,103_1) ...
 *   - csv: samples in manifest order; trials in trials-CSV order.
 *   - All-pairs: trial k is the k-th pair (a, b), a < b, in row-major order:
 *     (0,1), (0,2), ... (0,n-1), (1,2), ... (n-2,n-1).
 */
#ifndef VB_DATASET_H
#define VB_DATASET_H

#include <stdint.h>

#include "core/common.h"

#define VB_MAX_FOLDS 1000

typedef enum vb_modality {
    VB_MODALITY_FACE = 0,
    VB_MODALITY_FINGERPRINT = 1,
} vb_modality;
#define VB_MODALITY_COUNT 2
#define VB_MODALITY_MIXED (-1) /* vb_dataset.modality when samples differ (explicit trials only) */
/* A mixed manifest without a trials file lists its same-modality pairs: at most this many. */
#define VB_MIXED_PAIRS_MAX (UINT64_C(1) << 26)

/* "face", "fingerprint" (or "?" for an invalid value). */
const char *vb_modality_name(int modality);
/* Parse "face" / "fingerprint"; 0 on success, -1 if unknown. */
int vb_modality_parse(const char *s, vb_modality *out);

/* Acquisition state of a sample: the loader leaves it VB_ACQ_PENDING; the decode stage sets
 * OK or FAILED (missing/corrupt file, later: no face found). Failures to acquire are counted
 * (ISO/IEC 19795-1), never silently dropped. */
enum { VB_ACQ_PENDING = 0, VB_ACQ_OK = 1, VB_ACQ_FAILED = 2 };

typedef struct vb_sample {
    const char *id;         /* unique in the dataset: "Aaron_Eckhart_0001", "101_1" */
    const char *subject;    /* "Aaron_Eckhart", "101" */
    const char *rel;        /* path as the protocol names it: relative to the dataset root
                               (the data folder for lfw/fvc2002, the manifest's folder for
                               csv:) or absolute. Location-independent: goes into the
                               fingerprint. */
    const char *path;       /* path to open: root joined with rel (rel itself if absolute) */
    uint32_t index;         /* position in vb_dataset.samples */
    uint32_t subject_index; /* position of subject in vb_dataset.subjects */
    vb_modality modality;
    int acquired;           /* VB_ACQ_*, written by the decode stage */
} vb_sample;

typedef struct vb_trial {
    uint32_t a, b;  /* sample indices, a != b (a < b in all-pairs protocols) */
    uint8_t label;  /* 1 genuine (same subject), 0 impostor */
    uint16_t fold;  /* 1..vb_dataset.n_folds, or 0 when the protocol has no folds */
} vb_trial;

typedef enum vb_protocol {
    VB_PROTOCOL_EXPLICIT = 0,  /* trials[] lists every trial */
    VB_PROTOCOL_ALL_PAIRS = 1, /* trials are every a < b pair; trials == NULL */
} vb_protocol;

typedef struct vb_dataset {
    char *spec;               /* as given to vb_dataset_open */
    const char *kind;         /* "lfw", "lfw-all", "fvc2002", "fvc2002-all", "csv" */
    char *root;               /* folder sample rel paths are relative to */
    vb_sample *samples;
    uint32_t n_samples;
    const char **subjects;    /* distinct subjects, in order of first appearance in samples */
    uint32_t n_subjects;
    vb_protocol protocol;
    vb_trial *trials;         /* explicit protocols only */
    uint64_t n_trials;        /* explicit or implicit: n(n-1)/2 for all-pairs */
    uint64_t n_genuine, n_impostor;
    unsigned n_folds;         /* folds are 1..n_folds; 0 when the protocol has none */
    int modality;             /* vb_modality of every sample, or VB_MODALITY_MIXED */
    int modality_column;      /* csv: the manifest has a modality column (it decides) */
    char folds[256];          /* folds kept by vb_dataset_select_folds, canonical ("1,3-5"),
                                 "" when no selection was applied; for provenance */
    char fingerprint[65];     /* SHA-256 of the protocol (see vb_dataset_fingerprint) */
    void *priv;               /* string storage and id index (internal) */
} vb_dataset;

/* The data folder: $VERIBENCH_DATA if set and non-empty, else "../shared/datasets". */
const char *vb_data_dir(void);

/* Opening by spec is datasets/registry.h (vb_dataset_open); building is datasets/builder.h. */

/* Keep only the trials of the given folds ("1,3-5": numbers and inclusive ranges, comma
 * separated, each within 1..n_folds; trials with fold 0 are never kept), then only the
 * samples those trials reference (and their subjects); indices are renumbered, orders kept,
 * counts and fingerprint recomputed. May be called again to narrow further.
 * Errors (VB_EXIT_USAGE): bad syntax, fold out of range, a dataset without folds (all-pairs
 * or fold-less), a selection with no trials. On error d is unchanged. */
int vb_dataset_select_folds(vb_dataset *d, const char *folds, vb_err *e);

/* `--modality`: the modality of every sample of a csv: manifest without a modality column
 * (default face). Fingerprint recomputed. Errors (VB_EXIT_USAGE): another kind of dataset
 * (its modality is fixed), a manifest whose modality column already decides. */
int vb_dataset_set_modality(vb_dataset *d, vb_modality m, vb_err *e);

/* The samples of one modality of a dataset that mixes them (modality VB_MODALITY_MIXED,
 * whose trials are explicit), with the trials between them, as a dataset of its own: spec
 * "<spec>#<modality>", the same kind, root, folds and orders, samples no trial references
 * dropped, counts and fingerprint its own. A trial never crosses modalities (refused at
 * load), so each trial lands in exactly one subset: `run` evaluates a mixed dataset as one
 * run per modality. Errors: no trial between samples of m (VB_EXIT_INPUT). */
int vb_dataset_modality_subset(const vb_dataset *d, vb_modality m, vb_dataset *out, vb_err *e);

void vb_dataset_free(vb_dataset *d);

/* Thread safety: after open (and fold selection) a dataset is read-only; vb_dataset_find,
 * vb_dataset_trial, iterators and vb_dataset_mark_samples may run in many threads at once.
 * The decode stage writes samples[i].acquired, each thread its own samples. */

/* Index of the sample with this id, or -1. */
int64_t vb_dataset_find(const vb_dataset *d, const char *id);

/* Number of unordered pairs of n items, n(n-1)/2. */
uint64_t vb_pair_count(uint64_t n);

/* Trial k (0 <= k < d->n_trials) in the protocol's order: O(1) (all-pairs: a square root
 * and an exact integer correction, ~15 ns). Returns -1 if k is out of range. */
int vb_dataset_trial(const vb_dataset *d, uint64_t k, vb_trial *out);

/* Sequential access to trials [begin, end) (clamped to n_trials): the way to walk all-pairs
 * protocols cheaply, e.g. one iterator per thread over its chunk. Example:
 *     vb_trial_iter it; vb_trial t;
 *     vb_trial_iter_init(&it, d, begin, end);
 *     while (vb_trial_iter_next(&it, &t)) score(t.a, t.b, t.label);
 * it.pos is the index of the trial the next call returns. */
typedef struct vb_trial_iter {
    const vb_dataset *d;
    uint64_t pos, end;
    uint32_t a, b; /* all-pairs: the pair at pos */
} vb_trial_iter;
void vb_trial_iter_init(vb_trial_iter *it, const vb_dataset *d, uint64_t begin, uint64_t end);
int vb_trial_iter_next(vb_trial_iter *it, vb_trial *out); /* 1 = *out filled, 0 = done */

/* Mark (mask[i] = 1) every sample that trials [begin, end) compare; mask has n_samples
 * entries and is not cleared first. Returns the number of entries newly set. For a shard
 * or chunk that embeds only what it scores; O(range) for explicit protocols, O(n) for
 * all-pairs. */
uint32_t vb_dataset_mark_samples(const vb_dataset *d, uint64_t begin, uint64_t end,
                                 unsigned char *mask);

/* Split [0, total) into nshards contiguous ranges whose sizes differ by at most one;
 * shard is 0-based. Deterministic: the basis of --shard i/N and of parallel chunks. */
void vb_shard_range(uint64_t total, uint64_t shard, uint64_t nshards, uint64_t *begin,
                    uint64_t *end);

/* Samples whose acquisition failed (acquired == VB_ACQ_FAILED). */
uint32_t vb_dataset_count_failed(const vb_dataset *d);

/* The fingerprint identifies the protocol, not the image bytes and not where the data lives:
 * SHA-256 (lowercase hex) of the text
 *     "veribench-dataset-v1\n"
 *     "samples <n>\n"  then per sample "<id>\t<subject>\t<modality name>\t<rel>\n"
 *     then "trials all-pairs\n"
 *       or "trials <m>\n"  then per trial "<a>\t<b>\t<label>\t<fold>\n" (sample indices)
 * Ids, subjects and paths cannot hold tabs or newlines (rejected at load), so the text is
 * unambiguous. vb_dataset.fingerprint holds it; this recomputes it. */
void vb_dataset_fingerprint(const vb_dataset *d, char hex[65]);

#endif
