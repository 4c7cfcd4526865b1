/* `veribench run`: from a dataset and a model to scores, metrics, plots and a report, for
 * every (backend, quantization level) combination asked for.
 *
 * Results folder (one per run; every file is rewritten atomically or appended resumably):
 *   templates/<combo>.bin        embeddings, appended as computed (cli/templates.h)
 *   scores/<combo>.vbs           every trial's score, label, fold: binary (reports/score_bin.h)
 *   scores/<combo>.csv.gz        with --scores-csv: a,b,label,score,fold per trial (cli/scores.h)
 *   metrics.csv                  backend,device,quant,dataset,metric,value (long format)
 *   latency.csv                  per-stage and per-layer times
 *   provenance.csv               what produced the numbers (model, data, binary, device)
 *   failures.csv                 samples that failed to acquire, with the reason
 *   detections.csv               --preprocess align: per sample embedded by this invocation,
 *                                faces found, where the face came from (detected, fallback,
 *                                none) and the box the landmarks were found in
 *   report.md, plots/ (PNG, SVG) the human-readable report
 *   report.html, gallery/        the same as one self-contained page; gallery/ holds the
 *                                face chips (PNG) of the worst errors it shows
 *   shard.csv                    only with --shard i/N: which shard, and the options (cli/shard.h);
 *                                such a folder holds templates, latency, failures, provenance;
 *                                a score shard (merge --shard j/M) also its trials' scores
 *   gallery.csv                  those pairs: combo,kind,rank,score,a,b,path_a,path_b,
 *                                chip_a,chip_b (kind genuine|impostor, rank 1 = worst)
 * <combo> is <backend>-<device>-<quant>, e.g. cpu-amd-epyc-fp32.
 * A dataset that mixes faces and prints (a csv: manifest's modality column) runs as one run
 * per modality into OUT/face and OUT/fingerprint (each folder as above, with that
 * modality's model and trials), and OUT/report.md, OUT/report.html combine them
 * (vb_report_write_modalities_md/_html, reports/results.h). */
#ifndef VB_RUN_H
#define VB_RUN_H

#include "cli/engine.h"
#include "datasets/attributes.h"
#include "datasets/dataset.h"
#include "models/quantize.h"
#include "reports/demographics.h"
#include "reports/gallery.h"
#include "reports/metrics.h"
#include "reports/plot.h"
#include "reports/results.h"

#define VB_RUN_MAX_BACKENDS 8

typedef struct vb_run_config {
    const char *dataset;
    const char *trials;
    const char *folds;
    int modality;       /* --modality for a csv: manifest without the column; -1: as loaded */
    const char *out_dir;
    const char *model_path;
    vb_face_prep prep;  /* --preprocess / --crop / --detector / --on-no-face */
    const char *backends[VB_RUN_MAX_BACKENDS];
    int n_backends;
    vb_quant_level quants[VB_QUANT_COUNT];
    int n_quants;
    int batch, threads, fp16, validation;
    int restart;    /* discard saved templates and scores of these combinations */
    int no_plots;
    int quiet;
    double confidence;             /* level of every interval (--confidence, 0.95) */
    unsigned bootstrap;            /* subject-bootstrap replicates (--bootstrap, 1000; 0: none) */
    uint64_t seed;                 /* the bootstrap's seed (--seed, 1) */
    double target_fmr;             /* --target-fmr; NaN: no calibrated operating point */
    const char *calibration_folds; /* folds the threshold is calibrated on ("1-5"); the rest evaluate */
    const char *calibration_trials; /* or: a trials file (a,b,label) over the dataset's samples */
    int scores_csv;                /* --scores-csv: also export scores/<combo>.csv.gz */
    int score_compression;         /* --score-compression: 0 none (default), 1..9 zlib level */
    unsigned shard_index, shard_count; /* --shard i/N (count 0: not sharded): embed the i-th of N
                                          sample ranges only, no scores or metrics;
                                          veribench merge combines the shards (cli/shard.h) */
    unsigned trial_index, trial_count; /* merge --shard j/M (count 0: no): score only the j-th of M
                                          trial ranges into scores/, no metrics: a score shard */
    unsigned embed_shards;         /* ... and how many embed shards its templates came from */
    const char *const *score_dirs; /* merge of score shards: their folders in trial order, whose */
    int n_score_dirs;              /* scores/<combo>.vbs are read instead of scoring (0: score) */
    int n_shard_args;              /* the run's options without --out/--shard/--restart, */
    char **shard_args;             /* written to shard.csv for merge to run them again */
    const char *attributes;        /* --attributes: sample attributes side file (datasets/attributes.h) */
} vb_run_config;

/* Everything measured for one combination (also what the report prints). */
typedef struct vb_run_combo {
    char label[128];          /* <backend>-<device>-<quant> */
    char backend[16], device[64], quant[8];
    vb_device_info info;
    vb_metrics metrics;
    int has_metrics;
    size_t model_bytes;       /* tensor bytes of the model at this level */
    char weights_note[256];   /* which weights got which type */
    size_t n_samples, n_ok, n_failed, n_resumed, n_embedded_now;
    double embed_wall_s;      /* wall time of this run's embedding (decode + inference) */
    size_t timed_images;      /* images behind the timings, over resumed runs too */
    double timed_wall_ms;
    double infer_ms_per_face; /* backend time per face (over resumed runs too) */
    double stage_ms[VB_STAGES]; /* --preprocess align: wall ms per pipeline stage, this */
    size_t stage_images;        /* invocation's images only (not saved for resumes) */
    double faces_per_s;       /* backend throughput */
    double layer_ms[VB_GRAPH_MAX_NODES];
    int n_layers;
    char layer_names[VB_GRAPH_MAX_NODES][96];
    double scoring_s;         /* wall time of scoring every trial */
    double writing_s;         /* wall time of writing the score file(s) */
    double metrics_s;         /* wall time of the metrics step */
    double match_cpu_ms;      /* fingerprints: CPU time (all threads) of the comparisons */
    size_t n_matched;         /* ... and how many there were (FTA trials excluded) */
    int has_drift;            /* cosine of each template against the fp32 one, same backend */
    double drift_mean, drift_worst;
    size_t drift_count;
    float *templates;         /* n_samples * dim (kept for drift), NULL once released */
    uint8_t *ok;
    int dim;
    char hist_plot[160];
    vb_det_mark calibrated_mark; /* run --target-fmr: the calibrated threshold on the DET */
    char calibrated_label[48];
    int has_calibrated_mark;
    vb_gallery_pair gallery[2 * VB_GALLERY_PAIRS]; /* worst errors, for report.html */
    size_t n_gallery;
    vb_demog *demog;          /* demographic differentials (NULL without attributes) */
} vb_run_combo;

typedef struct vb_run {
    vb_run_config cfg;
    vb_dataset ds;
    vb_run_combo *combos;
    int n_combos;
    char model_file[1024];    /* the model's path: --model, else the modality's default */
    char model_sha[65];
    char crop_text[96];       /* the preprocessing (vb_face_prep_text), "none" for prints */
    vb_face_record *faces;    /* --preprocess align: per sample, when embedded by this run */
    uint8_t *face_seen;
    float threshold;          /* the model's decision threshold (its own units) */
    const char *distance;
    char det_plot[160], quant_plot[160], roc_plot[160];
    int plots_skipped;
    char plot_error[512];
    char **fta_reason;        /* per sample: why it failed to acquire (NULL if it did not) */
    size_t n_fta;
    double started;
    double finished;          /* set when the results files are written (one time for all) */
    int fingerprint;          /* the model is the fingerprint matcher (models/fingerprint.h) */
    vb_fp_params fp;          /* its parameters: scores are 1 - MCC similarity */
    vb_dataset cal_ds;        /* --calibration-trials: its trials over the same samples */
    uint32_t *cal_sample;     /* cal_ds sample -> run.ds sample; NULL without that option */
    vb_attributes attrs;      /* sample attributes: --attributes, or LFW's gender lists */
} vb_run;

/* Run everything; returns an exit code (core/common.h) after printing errors. */
int vb_run_main(const vb_run_config *cfg);

#endif
