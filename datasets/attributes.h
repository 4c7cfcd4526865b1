/* Sample attributes: categorical labels of each sample of a dataset (`sex`, `age_group`,
 * `skin_tone`, ...), the input of the demographic differentials (reports/demographics.h,
 * ISO/IEC 19795-10).
 *
 * Sources:
 *   - a side file keyed by sample (`veribench run --attributes FILE`): CSV with the header
 *     `sample,<attribute>[,<attribute>...]`; one row per sample id of the dataset; an empty
 *     field leaves that sample unlabelled for that attribute. Rows naming a sample the dataset
 *     does not hold are ignored (a file may describe a larger set than the protocol uses, as
 *     LFW's lists do for View 2), but a file matching none of the samples is an error.
 *   - LFW's per-image gender lists (`lfw/gender/male_names.txt`, `female_names.txt` under the
 *     data folder, one file name `Name_NNNN.jpg` a line), loaded as the attribute `sex` with the
 *     values `F` and `M`. A name in both lists, or in neither, is unlabelled: counted
 *     (vb_attribute.n_unlabelled), never guessed.
 *
 * Rules (errors name the file and line, VB_EXIT_INPUT): attribute names are 1..63 of
 * [A-Za-z0-9_] (not `sample`, no repeats); values are 1..63 printable ASCII characters
 * without `=`, `+`, `:`, `,`, `"`, `|` (they become part of metrics.csv row names such as
 * `sex=F+M:fmr@threshold`); at most VB_ATTR_MAX attributes and VB_ATTR_MAX_VALUES values
 * each; a sample given twice is an error.
 *
 * Values of an attribute are kept in byte order (`F` before `M`) whatever the file order, so
 * the metrics rows come out in the same order on every run. */
#ifndef VB_ATTRIBUTES_H
#define VB_ATTRIBUTES_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "datasets/dataset.h"

#define VB_ATTR_MAX 8
#define VB_ATTR_MAX_VALUES 32
#define VB_ATTR_NAME_MAX 64
#define VB_ATTR_UNLABELLED UINT16_MAX

typedef struct vb_attribute {
    char name[VB_ATTR_NAME_MAX];
    size_t n_values;
    char values[VB_ATTR_MAX_VALUES][VB_ATTR_NAME_MAX]; /* byte order */
    uint16_t *of_sample;   /* per sample of the dataset: value index, or VB_ATTR_UNLABELLED */
    uint32_t n_unlabelled; /* samples without a value */
} vb_attribute;

typedef struct vb_attributes {
    size_t n;
    vb_attribute attr[VB_ATTR_MAX];
    uint32_t n_samples;    /* of the dataset they were loaded for */
    char source[4200];     /* where they came from, for provenance ("" when none) */
} vb_attributes;

/* The side file at path over d's samples. out is initialised here; freed on failure. */
int vb_attributes_read(const char *path, const vb_dataset *d, vb_attributes *out, vb_err *e);

/* LFW's gender lists from data_dir/lfw/gender/ as `sex`. Returns 1 when loaded, 0 when the
 * folder holds neither list (out is then empty), -1 on a read error or malformed line. */
int vb_attributes_lfw_gender(const vb_dataset *d, const char *data_dir, vb_attributes *out, vb_err *e);

void vb_attributes_free(vb_attributes *a);

/* 1 when text is a valid attribute name / value (rules above). */
int vb_attribute_name_ok(const char *text);
int vb_attribute_value_ok(const char *text);

#endif
