/* Dataset loaders against the small fixtures of tests/data/datasets: the LFW-shaped mini
 * folders (good, CRLF, and one defect each), CSV manifests and trials CSVs (good, quoted
 * commas, CRLF, BOM, and one defect each), fold lists, all-pairs enumeration, shard ranges
 * and the documented fingerprint text. Needs no real data. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/dataset.h"
#include "datasets/registry.h"
#include "tests/testlib.h"

#define FIX "tests/data/datasets"

/* Open must fail with this exit code and a message holding every given substring. */
static void expect_error(const char *spec, const char *trials, const char *data_dir, int code,
                         const char *n1, const char *n2)
{
    vb_dataset d;
    vb_err e = {0};
    int rc = vb_dataset_open(spec, trials, data_dir, &d, &e);
    CHECKF(rc == -1, "%s (trials %s, data %s) loaded, expected an error", spec, trials ? trials : "-",
           data_dir ? data_dir : "-");
    if (rc == 0) {
        vb_dataset_free(&d);
        return;
    }
    CHECKF(e.code == code, "%s: exit code %d, expected %d (%s)", spec, e.code, code, e.msg);
    CHECKF(!n1 || strstr(e.msg, n1), "%s: message lacks '%s': %s", spec, n1, e.msg);
    CHECKF(!n2 || strstr(e.msg, n2), "%s: message lacks '%s': %s", spec, n2, e.msg);
    CHECK(d.priv == NULL && d.samples == NULL && d.spec == NULL);
}

static int open_ok(const char *spec, const char *trials, const char *data_dir, vb_dataset *d)
{
    vb_err e = {0};
    int rc = vb_dataset_open(spec, trials, data_dir, d, &e);
    CHECKF(rc == 0, "%s (trials %s): %s", spec, trials ? trials : "-", e.msg);
    return rc;
}

static const char *sample_id(const vb_dataset *d, uint32_t i)
{
    return d->samples[i].id;
}

static void test_mixed_all_pairs(void);

/* The fingerprint must be SHA-256 of the text documented in dataset.h. */
static void check_fingerprint_text(const vb_dataset *d, const char *text)
{
    char hex[65];
    vb_sha256_hex(text, strlen(text), hex);
    CHECKF(strcmp(hex, d->fingerprint) == 0, "fingerprint %s, expected %s for:\n%s", d->fingerprint,
           hex, text);
}

/* ---- LFW-shaped fixtures ---------------------------------------------------------------- */

static void test_lfw_mini(void)
{
    vb_dataset d;
    if (open_ok("lfw", NULL, FIX "/lfw-mini", &d))
        return;
    static const char *const ids[] = {"Alice_0001", "Alice_0002", "Alice_0003", "Bob_0001",
                                      "Bob_0002",   "Carol_0001", "Carol_0002", "Dan_0001"};
    CHECK(d.n_samples == VB_ARRAY_LEN(ids));
    for (uint32_t i = 0; i < d.n_samples && i < VB_ARRAY_LEN(ids); i++) {
        CHECKF(strcmp(sample_id(&d, i), ids[i]) == 0, "sample %u is %s, expected %s", i,
               sample_id(&d, i), ids[i]);
        CHECK(d.samples[i].index == i);
        CHECK(d.samples[i].modality == VB_MODALITY_FACE);
        CHECK(d.samples[i].acquired == VB_ACQ_PENDING);
    }
    /* No image exists in the fixture: the loader must keep them all (failures to acquire
     * are counted when decoding, never filtered here). */
    CHECK(strcmp(d.samples[0].path, FIX "/lfw-mini/lfw/images_deepfunneled/Alice/Alice_0001.jpg") == 0);
    CHECK(strcmp(d.samples[0].rel, "lfw/images_deepfunneled/Alice/Alice_0001.jpg") == 0);
    CHECK(access(d.samples[0].path, F_OK) != 0);
    CHECK(strcmp(d.samples[3].subject, "Bob") == 0);
    CHECK(d.n_subjects == 4);
    CHECK(d.n_trials == 4 && d.n_genuine == 2 && d.n_impostor == 2 && d.n_folds == 2);
    CHECK(d.protocol == VB_PROTOCOL_EXPLICIT && strcmp(d.kind, "lfw") == 0);
    /* pairs.txt: Alice 1 2 / Alice 3 Bob 1 / Carol 1 2 / Dan 1 Bob 2 */
    static const struct { const char *a, *b; int label, fold; } want[] = {
        {"Alice_0001", "Alice_0002", 1, 1},
        {"Alice_0003", "Bob_0001", 0, 1},
        {"Carol_0001", "Carol_0002", 1, 2},
        {"Dan_0001", "Bob_0002", 0, 2},
    };
    for (uint64_t k = 0; k < d.n_trials; k++) {
        vb_trial t;
        CHECK(vb_dataset_trial(&d, k, &t) == 0);
        CHECKF(strcmp(sample_id(&d, t.a), want[k].a) == 0 && strcmp(sample_id(&d, t.b), want[k].b) == 0 &&
                   t.label == want[k].label && t.fold == want[k].fold,
               "trial %llu: %s %s %d %d", (unsigned long long)k, sample_id(&d, t.a),
               sample_id(&d, t.b), t.label, t.fold);
    }
    vb_trial t;
    CHECK(vb_dataset_trial(&d, d.n_trials, &t) == -1);
    CHECK(vb_dataset_find(&d, "Dan_0001") == 7 && vb_dataset_find(&d, "Dan_0002") == -1);
    CHECK(vb_dataset_count_failed(&d) == 0);
    d.samples[2].acquired = VB_ACQ_FAILED;
    CHECK(vb_dataset_count_failed(&d) == 1);

    /* CRLF copy: same protocol, same fingerprint although the folder differs. */
    vb_dataset c;
    if (open_ok("lfw", NULL, FIX "/lfw-crlf", &c) == 0) {
        CHECK(c.n_samples == d.n_samples && c.n_trials == d.n_trials);
        CHECK(strcmp(c.fingerprint, d.fingerprint) == 0);
        CHECK(strcmp(c.samples[0].path, d.samples[0].path) != 0);
        vb_dataset_free(&c);
    }
    vb_dataset_free(&d);
    CHECK(d.priv == NULL && d.n_samples == 0);
}

static void test_lfw_mini_all(void)
{
    vb_dataset d;
    if (open_ok("lfw-all", NULL, FIX "/lfw-mini", &d))
        return;
    /* people.txt: Alice 3, Bob 2, Carol 2, Dan 1. */
    CHECK(d.n_samples == 8 && d.n_subjects == 4);
    CHECK(d.protocol == VB_PROTOCOL_ALL_PAIRS && d.trials == NULL);
    CHECK(d.n_trials == 28 && d.n_genuine == 3 + 1 + 1 && d.n_impostor == 23 && d.n_folds == 0);
    CHECK(strcmp(sample_id(&d, 7), "Dan_0001") == 0);
    /* Every pair exactly once in row-major order, labels from the subjects. */
    vb_trial_iter it;
    vb_trial t;
    vb_trial_iter_init(&it, &d, 0, UINT64_MAX);
    uint64_t k = 0, genuine = 0;
    for (uint32_t a = 0; a < d.n_samples; a++)
        for (uint32_t b = a + 1; b < d.n_samples; b++, k++) {
            CHECK(vb_trial_iter_next(&it, &t) == 1);
            CHECKF(t.a == a && t.b == b, "iterator trial %llu = (%u,%u), expected (%u,%u)",
                   (unsigned long long)k, t.a, t.b, a, b);
            int same = strcmp(d.samples[a].subject, d.samples[b].subject) == 0;
            CHECK(t.label == same && t.fold == 0);
            genuine += same;
        }
    CHECK(vb_trial_iter_next(&it, &t) == 0);
    CHECK(genuine == d.n_genuine);
    vb_err e = {0};
    CHECK(vb_dataset_select_folds(&d, "1", &e) == -1 && e.code == VB_EXIT_USAGE);
    vb_dataset_free(&d);
}

static void test_lfw_errors(void)
{
    expect_error("lfw", NULL, FIX "/lfw-bad-first", VB_EXIT_INPUT, "lfw/pairs.txt:1:", "folds");
    expect_error("lfw", NULL, FIX "/lfw-short-line", VB_EXIT_INPUT, "pairs.txt:2:", "matched pair");
    expect_error("lfw", NULL, FIX "/lfw-non-numeric", VB_EXIT_INPUT, "pairs.txt:3:", "'one'");
    expect_error("lfw", NULL, FIX "/lfw-zero-number", VB_EXIT_INPUT, "pairs.txt:2:", "'0'");
    expect_error("lfw", NULL, FIX "/lfw-unknown-name", VB_EXIT_INPUT, "pairs.txt:4:", "'Zed'");
    expect_error("lfw", NULL, FIX "/lfw-number-range", VB_EXIT_INPUT, "pairs.txt:4:",
                 "image 3 of 'Carol'");
    expect_error("lfw", NULL, FIX "/lfw-too-few", VB_EXIT_INPUT, "pairs.txt", "after 3 of 4 pairs");
    expect_error("lfw", NULL, FIX "/lfw-extra-line", VB_EXIT_INPUT, "pairs.txt:6:", "more lines");
    expect_error("lfw", NULL, FIX "/lfw-self-pair", VB_EXIT_INPUT, "pairs.txt:4:", "itself");
    expect_error("lfw", NULL, FIX "/lfw-mismatch-same", VB_EXIT_INPUT, "pairs.txt:3:", "twice");
    expect_error("lfw", NULL, FIX "/lfw-duplicate-pair", VB_EXIT_INPUT, "pairs.txt:4:",
                 "already listed on line 2");
    expect_error("lfw", NULL, FIX "/lfw-matched-in-mismatched-slot", VB_EXIT_INPUT,
                 "pairs.txt:3:", "mismatched pair");
    expect_error("lfw", NULL, FIX "/lfw-crlf-bad", VB_EXIT_INPUT, "pairs.txt:4:", "'x'");
    expect_error("lfw", NULL, FIX "/lfw-bad-people", VB_EXIT_INPUT, "people.txt:5:", "Name count");
    expect_error("lfw-all", NULL, FIX "/lfw-people-dup", VB_EXIT_INPUT, "people.txt:6:",
                 "'Alice' is listed twice");
    /* A data folder without lfw/: names the file tried and VERIBENCH_DATA. */
    expect_error("lfw", NULL, FIX "/csv", VB_EXIT_INPUT, FIX "/csv/lfw/people.txt", "VERIBENCH_DATA");
    expect_error("fvc2002:DB1_B", NULL, FIX "/csv", VB_EXIT_INPUT, FIX "/csv/fvc2002/DB1_B",
                 "VERIBENCH_DATA");
    expect_error("lfw", NULL, FIX "/no-such-folder", VB_EXIT_INPUT, FIX "/no-such-folder",
                 "VERIBENCH_DATA");
    /* Usage errors: unknown specs, --trials where the protocol is fixed. */
    expect_error("lfw", FIX "/csv/good-trials.csv", FIX "/lfw-mini", VB_EXIT_USAGE, "own protocol", NULL);
    expect_error("fvc2002:DB1_B", FIX "/csv/good-trials.csv", NULL, VB_EXIT_USAGE, "own protocol", NULL);
    expect_error("fvc2002:DB9_B", NULL, NULL, VB_EXIT_USAGE, "DB9_B", "DB1_B");
    expect_error("lfw2", NULL, NULL, VB_EXIT_USAGE, "unknown dataset 'lfw2'", "csv:MANIFEST");
    expect_error("csv:", NULL, NULL, VB_EXIT_USAGE, "unknown dataset", NULL);
}

/* ---- folds ------------------------------------------------------------------------------ */

static void test_fold_lists(void)
{
    vb_dataset d;
    if (open_ok("lfw", NULL, FIX "/lfw-mini", &d))
        return;
    char fp[65];
    memcpy(fp, d.fingerprint, sizeof fp);
    static const char *const bad[] = {"",  ",",   "1,",  ",1", "a",    "1-",   "-1",   "2-1",
                                      "0", "3",   "1-3", "1,,2", "1 ", " 1", "+1", "1-2-3",
                                      "99999999999999999999999", "0-1", "1;2"};
    for (size_t i = 0; i < VB_ARRAY_LEN(bad); i++) {
        vb_err e = {0};
        int rc = vb_dataset_select_folds(&d, bad[i], &e);
        CHECKF(rc == -1 && e.code == VB_EXIT_USAGE, "--folds '%s' accepted (rc %d, code %d)", bad[i],
               rc, e.code);
        CHECKF(strstr(e.msg, "--folds"), "--folds '%s': message %s", bad[i], e.msg);
    }
    /* Failed selections leave the dataset as it was. */
    CHECK(d.n_trials == 4 && d.n_samples == 8 && strcmp(d.fingerprint, fp) == 0 && d.folds[0] == 0);

    vb_err e = {0};
    CHECK(vb_dataset_select_folds(&d, "2,1", &e) == 0);
    CHECK(d.n_trials == 4 && strcmp(d.folds, "1-2") == 0 && strcmp(d.fingerprint, fp) == 0);
    CHECK(vb_dataset_select_folds(&d, "2", &e) == 0);
    CHECK(d.n_trials == 2 && d.n_genuine == 1 && strcmp(d.folds, "2") == 0);
    /* Fold 2: Carol 1 2 / Dan 1 Bob 2 -> samples Bob_0002, Carol_0001, Carol_0002, Dan_0001. */
    CHECK(d.n_samples == 4 && d.n_subjects == 3);
    static const char *const ids[] = {"Bob_0002", "Carol_0001", "Carol_0002", "Dan_0001"};
    for (uint32_t i = 0; i < d.n_samples && i < 4; i++) {
        CHECKF(strcmp(sample_id(&d, i), ids[i]) == 0, "sample %u %s", i, sample_id(&d, i));
        CHECK(d.samples[i].index == i && vb_dataset_find(&d, ids[i]) == i);
        CHECK(strcmp(d.subjects[d.samples[i].subject_index], d.samples[i].subject) == 0);
    }
    CHECK(vb_dataset_find(&d, "Alice_0001") == -1);
    CHECK(d.trials[0].a == 1 && d.trials[0].b == 2 && d.trials[1].a == 3 && d.trials[1].b == 0);
    CHECK(strcmp(d.fingerprint, fp) != 0);
    char again[65];
    vb_dataset_fingerprint(&d, again);
    CHECK(strcmp(again, d.fingerprint) == 0);
    /* Fold 1 is no longer present: selecting it leaves nothing, an error, d unchanged. */
    CHECK(vb_dataset_select_folds(&d, "1", &e) == -1 && e.code == VB_EXIT_USAGE);
    CHECK(d.n_trials == 2);
    vb_dataset_free(&d);
}

/* ---- CSV -------------------------------------------------------------------------------- */

static void test_csv_all_pairs(void)
{
    vb_dataset d;
    if (open_ok("csv:" FIX "/csv/good.csv", NULL, NULL, &d))
        return;
    CHECK(strcmp(d.kind, "csv") == 0 && d.protocol == VB_PROTOCOL_ALL_PAIRS);
    CHECK(d.n_samples == 5 && d.n_subjects == 3);
    CHECK(d.n_trials == 10 && d.n_genuine == 2 && d.n_impostor == 8);
    CHECK(strcmp(d.samples[0].subject, "Doe, Jane") == 0);
    CHECK(strcmp(d.samples[1].rel, "img/b,2.png") == 0);
    CHECK(strcmp(d.samples[1].path, FIX "/csv/img/b,2.png") == 0);
    CHECK(strcmp(d.samples[3].id, "s4") == 0); /* its file is missing: kept */
    CHECK(strcmp(d.samples[4].path, "/abs/e.png") == 0);
    CHECK(d.modality == VB_MODALITY_FACE);
    check_fingerprint_text(&d, "veribench-dataset-v1\nsamples 5\n"
                               "s1\tDoe, Jane\tface\timg/a.png\n"
                               "s2\tDoe, Jane\tface\timg/b,2.png\n"
                               "s3\tRoe\tface\timg/c.png\n"
                               "s4\tRoe\tface\timg/missing.png\n"
                               "s5\tPoe\tface\t/abs/e.png\n"
                               "trials all-pairs\n");
    /* Random access agrees with the iterator on every sub-range. */
    for (uint64_t begin = 0; begin <= d.n_trials; begin++)
        for (uint64_t end = begin; end <= d.n_trials + 1; end++) {
            vb_trial_iter it;
            vb_trial t, u;
            vb_trial_iter_init(&it, &d, begin, end);
            uint64_t k = begin;
            while (vb_trial_iter_next(&it, &t)) {
                CHECK(vb_dataset_trial(&d, k, &u) == 0);
                CHECK(t.a == u.a && t.b == u.b && t.label == u.label);
                k++;
            }
            CHECK(k == (end < d.n_trials ? end : d.n_trials));
        }
    vb_err e = {0};
    CHECK(vb_dataset_select_folds(&d, "1", &e) == -1 && strstr(e.msg, "all-pairs"));
    vb_dataset_free(&d);

    if (open_ok("csv:" FIX "/csv/bom.csv", NULL, NULL, &d) == 0) {
        CHECK(d.n_samples == 3 && strcmp(d.samples[0].id, "x1") == 0 && d.n_genuine == 1);
        CHECK(strcmp(d.samples[0].path, FIX "/csv/x1.png") == 0);
        vb_dataset_free(&d);
    }
}

static void test_csv_trials(void)
{
    vb_dataset d;
    if (open_ok("csv:" FIX "/csv/good.csv", FIX "/csv/good-trials.csv", NULL, &d))
        return;
    CHECK(d.protocol == VB_PROTOCOL_EXPLICIT);
    CHECK(d.n_samples == 4 && vb_dataset_find(&d, "s5") == -1); /* unreferenced: dropped */
    CHECK(d.n_trials == 4 && d.n_genuine == 2 && d.n_folds == 2);
    CHECK(d.n_subjects == 2);
    check_fingerprint_text(&d, "veribench-dataset-v1\nsamples 4\n"
                               "s1\tDoe, Jane\tface\timg/a.png\n"
                               "s2\tDoe, Jane\tface\timg/b,2.png\n"
                               "s3\tRoe\tface\timg/c.png\n"
                               "s4\tRoe\tface\timg/missing.png\n"
                               "trials 4\n0\t1\t1\t1\n0\t2\t0\t1\n2\t3\t1\t2\n3\t1\t0\t2\n");
    vb_err e = {0};
    CHECK(vb_dataset_select_folds(&d, "2", &e) == 0);
    CHECK(strcmp(d.folds, "2") == 0);
    check_fingerprint_text(&d, "veribench-dataset-v1\nsamples 3\n"
                               "s2\tDoe, Jane\tface\timg/b,2.png\n"
                               "s3\tRoe\tface\timg/c.png\n"
                               "s4\tRoe\tface\timg/missing.png\n"
                               "trials 2\n1\t2\t1\t2\n2\t0\t0\t2\n");
    vb_dataset_free(&d);

    /* Columns in another order; no fold column: fold 0, no folds to select. */
    if (open_ok("csv:" FIX "/csv/good.csv", FIX "/csv/no-fold-trials.csv", NULL, &d) == 0) {
        CHECK(d.n_trials == 2 && d.n_folds == 0 && d.n_genuine == 1);
        CHECK(strcmp(sample_id(&d, d.trials[0].a), "s1") == 0 &&
              strcmp(sample_id(&d, d.trials[0].b), "s2") == 0 && d.trials[0].fold == 0);
        CHECK(vb_dataset_select_folds(&d, "1", &e) == -1 && strstr(e.msg, "no folds"));
        vb_dataset_free(&d);
    }
    /* Two modalities: fine with explicit same-modality trials. */
    if (open_ok("csv:" FIX "/csv/mixed.csv", FIX "/csv/mixed-trials.csv", NULL, &d) == 0) {
        CHECK(d.modality == VB_MODALITY_MIXED);
        CHECK(d.samples[vb_dataset_find(&d, "p1")].modality == VB_MODALITY_FINGERPRINT);
        CHECK(d.samples[vb_dataset_find(&d, "f1")].modality == VB_MODALITY_FACE);
        vb_dataset_free(&d);
    }
    test_mixed_all_pairs();
    expect_error("csv:" FIX "/csv/mixed.csv", FIX "/csv/mixed-cross-trials.csv", NULL, VB_EXIT_INPUT,
                 "mixed-cross-trials.csv:3:", "face sample 'f1' with fingerprint sample 'p1'");
}

/* A subset holds the samples of m and the trials between them, in the source's order. */
static void check_subset(const vb_dataset *d, vb_modality m, const char *a, const char *b, int label)
{
    vb_dataset sub;
    vb_err e = {0};
    CHECKF(vb_dataset_modality_subset(d, m, &sub, &e) == 0, "subset %s: %s", vb_modality_name(m), e.msg);
    if (!sub.priv)
        return;
    CHECK(sub.modality == (int)m && sub.n_samples == 2 && sub.n_trials == 1 && sub.n_genuine == (uint64_t)label);
    CHECK(strcmp(sample_id(&sub, sub.trials[0].a), a) == 0 && strcmp(sample_id(&sub, sub.trials[0].b), b) == 0);
    CHECK(strstr(sub.spec, vb_modality_name(m)) != NULL && strcmp(sub.fingerprint, d->fingerprint) != 0);
    vb_dataset_free(&sub);
}

/* A mixed manifest without trials: every pair of one modality, listed, and no cross pair. */
static void test_mixed_all_pairs(void)
{
    vb_dataset d;
    if (open_ok("csv:" FIX "/csv/mixed.csv", NULL, NULL, &d))
        return;
    CHECK(d.modality == VB_MODALITY_MIXED && d.protocol == VB_PROTOCOL_EXPLICIT);
    CHECK(d.n_trials == 2 && d.n_genuine == 1 && d.n_impostor == 1);
    for (uint64_t k = 0; k < d.n_trials; k++)
        CHECK(d.samples[d.trials[k].a].modality == d.samples[d.trials[k].b].modality);
    check_subset(&d, VB_MODALITY_FACE, "f1", "f2", 1);
    check_subset(&d, VB_MODALITY_FINGERPRINT, "p1", "p2", 0);
    vb_dataset_free(&d);
    /* one face among the prints: no face trial, so no face subset */
    if (open_ok("csv:" FIX "/csv/mixed.csv", FIX "/csv/mixed-trials.csv", NULL, &d) == 0) {
        vb_dataset sub;
        vb_err e = {0};
        CHECK(vb_dataset_modality_subset(&d, VB_MODALITY_FINGERPRINT, &sub, &e) == 0 && sub.n_trials == 1);
        vb_dataset_free(&sub);
        vb_dataset_free(&d);
    }
}

static void test_csv_errors(void)
{
    const char *good = "csv:" FIX "/csv/good.csv";
    expect_error("csv:" FIX "/csv/dup-id.csv", NULL, NULL, VB_EXIT_INPUT,
                 FIX "/csv/dup-id.csv:4: duplicate sample id 's1'", "first on line 2");
    /* Line numbers with CRLF (a blank line and a quoted line break included) and CR-only ends. */
    expect_error("csv:" FIX "/csv/crlf-dup-id.csv", NULL, NULL, VB_EXIT_INPUT,
                 "crlf-dup-id.csv:6: duplicate sample id 's1'", "first on line 2");
    expect_error("csv:" FIX "/csv/cr-dup-id.csv", NULL, NULL, VB_EXIT_INPUT,
                 "cr-dup-id.csv:4: duplicate sample id 's2'", "first on line 3");
    expect_error("csv:" FIX "/csv/missing-col.csv", NULL, NULL, VB_EXIT_INPUT, "missing-col.csv:1:",
                 "lacks column 'subject'");
    expect_error("csv:" FIX "/csv/unknown-col.csv", NULL, NULL, VB_EXIT_INPUT, "unknown-col.csv:1:",
                 "unknown column 'gender'");
    expect_error("csv:" FIX "/csv/repeated-col.csv", NULL, NULL, VB_EXIT_INPUT, "repeated-col.csv:1:",
                 "twice");
    expect_error("csv:" FIX "/csv/short-row.csv", NULL, NULL, VB_EXIT_INPUT, "short-row.csv:3:",
                 "2 fields");
    expect_error("csv:" FIX "/csv/bad-quote.csv", NULL, NULL, VB_EXIT_INPUT, "bad-quote.csv:",
                 "unterminated");
    expect_error("csv:" FIX "/csv/stray-quote.csv", NULL, NULL, VB_EXIT_INPUT, "stray-quote.csv:2:",
                 "quote");
    expect_error("csv:" FIX "/csv/control-char.csv", NULL, NULL, VB_EXIT_INPUT, "control-char.csv:2:",
                 "control character");
    expect_error("csv:" FIX "/csv/empty-field.csv", NULL, NULL, VB_EXIT_INPUT, "empty-field.csv:2:",
                 "empty subject");
    expect_error("csv:" FIX "/csv/bad-modality.csv", NULL, NULL, VB_EXIT_INPUT, "bad-modality.csv:2:",
                 "'iris'");
    expect_error("csv:" FIX "/csv/empty.csv", NULL, NULL, VB_EXIT_INPUT, "empty.csv", "no samples");
    expect_error("csv:" FIX "/csv/header-only.csv", NULL, NULL, VB_EXIT_INPUT, "no samples", NULL);
    expect_error("csv:" FIX "/csv/one-sample.csv", NULL, NULL, VB_EXIT_INPUT, "at least 2 samples", NULL);
    expect_error("csv:" FIX "/csv/no-such.csv", NULL, NULL, VB_EXIT_INPUT, "no-such.csv", "cannot open");

    expect_error(good, FIX "/csv/trials-unknown.csv", NULL, VB_EXIT_INPUT, "trials-unknown.csv:3:",
                 "unknown sample 's9'");
    expect_error(good, FIX "/csv/trials-bad-label.csv", NULL, VB_EXIT_INPUT,
                 "trials-bad-label.csv:2:", "'yes'");
    expect_error(good, FIX "/csv/trials-contradict.csv", NULL, VB_EXIT_INPUT,
                 "trials-contradict.csv:3:", "contradicts");
    expect_error(good, FIX "/csv/trials-self.csv", NULL, VB_EXIT_INPUT, "trials-self.csv:2:", "itself");
    expect_error(good, FIX "/csv/trials-dup.csv", NULL, VB_EXIT_INPUT, "trials-dup.csv:4:",
                 "already listed on line 2");
    expect_error(good, FIX "/csv/trials-bad-fold.csv", NULL, VB_EXIT_INPUT, "trials-bad-fold.csv:3:",
                 "'x'");
    expect_error(good, FIX "/csv/trials-big-fold.csv", NULL, VB_EXIT_INPUT, "trials-big-fold.csv:2:",
                 "'1001'");
    expect_error(good, FIX "/csv/trials-missing-col.csv", NULL, VB_EXIT_INPUT,
                 "trials-missing-col.csv:1:", "lacks column 'label'");
    expect_error(good, FIX "/csv/trials-header-only.csv", NULL, VB_EXIT_INPUT, "no trials", NULL);
    expect_error(good, FIX "/csv/no-such-trials.csv", NULL, VB_EXIT_INPUT, "no-such-trials.csv",
                 "cannot open");
}

/* mark_samples against brute force over every sub-range. */
static void check_marks_every_range(const vb_dataset *d)
{
    unsigned char *want = calloc(d->n_samples, 1), *got = calloc(d->n_samples, 1);
    int wrong = 0;
    for (uint64_t begin = 0; want && got && begin <= d->n_trials; begin++)
        for (uint64_t end = begin; end <= d->n_trials + 1; end++) {
            memset(want, 0, d->n_samples);
            memset(got, 0, d->n_samples);
            vb_trial_iter it;
            vb_trial t;
            uint32_t n_want = 0;
            vb_trial_iter_init(&it, d, begin, end);
            while (vb_trial_iter_next(&it, &t)) {
                n_want += !want[t.a] + !want[t.b];
                want[t.a] = want[t.b] = 1;
            }
            uint32_t n_got = vb_dataset_mark_samples(d, begin, end, got);
            wrong += n_got != n_want || memcmp(want, got, d->n_samples) != 0;
        }
    CHECKF(wrong == 0, "%s: vb_dataset_mark_samples wrong on %d ranges", d->spec, wrong);
    free(want);
    free(got);
}

static void test_mark_samples(void)
{
    vb_dataset d;
    if (open_ok("lfw-all", NULL, FIX "/lfw-mini", &d) == 0) {
        check_marks_every_range(&d);
        vb_dataset_free(&d);
    }
    if (open_ok("lfw", NULL, FIX "/lfw-mini", &d) == 0) {
        check_marks_every_range(&d);
        vb_dataset_free(&d);
    }
}

/* ---- parser robustness ------------------------------------------------------------------ */

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 16);
    *n = buf ? fread(buf, 1, 1 << 16, f) : 0;
    fclose(f);
    return buf;
}

static void spit(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

/* Deterministic mutations (byte changes, insertions of separators and quotes, deletions)
 * of good inputs: each load must either succeed or fail with VB_EXIT_INPUT, never crash
 * (the sanitizer build checks memory). */
static void test_mutated_inputs(void)
{
    char dir[] = "/tmp/vb-datasets-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(!"mkdtemp");
        return;
    }
    char lfw[300], people[300], pairs[300], manifest[300], trials[300];
    snprintf(lfw, sizeof lfw, "%s/lfw", dir);
    mkdir(lfw, 0700);
    snprintf(people, sizeof people, "%s/people.txt", lfw);
    snprintf(pairs, sizeof pairs, "%s/pairs.txt", lfw);
    snprintf(manifest, sizeof manifest, "%s/m.csv", dir);
    snprintf(trials, sizeof trials, "%s/t.csv", dir);
    struct { const char *source, *target; } inputs[] = {
        {FIX "/lfw-mini/lfw/pairs.txt", pairs},
        {FIX "/lfw-mini/lfw/people.txt", people},
        {FIX "/csv/good.csv", manifest},
        {FIX "/csv/good-trials.csv", trials},
    };
    size_t n_orig[4] = {0};
    char *orig[4];
    for (int i = 0; i < 4; i++) {
        orig[i] = slurp(inputs[i].source, &n_orig[i]);
        CHECK(orig[i] != NULL);
        if (orig[i])
            spit(inputs[i].target, orig[i], n_orig[i]);
    }
    static const char alphabet[] = "\t\n\r,\" 0123456789-_aZ\xef";
    uint64_t s = 0x243f6a8885a308d3ull;
    int unexpected = 0, loaded = 0;
    for (int round = 0; round < 1600 && orig[0] && orig[1] && orig[2] && orig[3]; round++) {
        int which = round % 4;
        char buf[1 << 16];
        size_t n = n_orig[which];
        if (n + 8 > sizeof buf)
            break; /* fixtures are small; room for the insertions below */
        memcpy(buf, orig[which], n);
        for (int m = 0; m < 1 + round % 3; m++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = n ? (size_t)(s >> 33) % n : 0;
            char c = alphabet[(s >> 20) % (sizeof alphabet - 1)];
            switch ((s >> 10) % 3) {
            case 0: if (n) buf[at] = c; break;
            case 1: memmove(buf + at + 1, buf + at, n - at); buf[at] = c; n++; break;
            default: if (n) { memmove(buf + at, buf + at + 1, n - at - 1); n--; } break;
            }
        }
        spit(inputs[which].target, buf, n);
        vb_dataset d;
        vb_err e = {0};
        char spec[320];
        snprintf(spec, sizeof spec, "csv:%s", manifest);
        int rc = which < 2 ? vb_dataset_open(which == 0 ? "lfw" : "lfw-all", NULL, dir, &d, &e)
                           : vb_dataset_open(spec, which == 3 ? trials : NULL, NULL, &d, &e);
        if (rc == 0) {
            loaded++;
            vb_dataset_free(&d);
        } else if (e.code != VB_EXIT_INPUT && unexpected++ < 3) {
            fprintf(stderr, "mutation %d: code %d: %s\n", round, e.code, e.msg);
        }
        spit(inputs[which].target, orig[which], n_orig[which]);
    }
    CHECKF(unexpected == 0, "%d mutated inputs failed with a code other than VB_EXIT_INPUT", unexpected);
    if (getenv("VB_TEST_VERBOSE"))
        fprintf(stderr, "   %d of 1600 mutated inputs loaded\n", loaded);
    CHECK(loaded > 0); /* some mutations are harmless (e.g. inside a path) */
    for (int i = 0; i < 4; i++) {
        remove(inputs[i].target);
        free(orig[i]);
    }
    rmdir(lfw);
    rmdir(dir);
}

/* ---- enumeration helpers ---------------------------------------------------------------- */

static void test_pair_count_and_shards(void)
{
    CHECK(vb_pair_count(0) == 0 && vb_pair_count(1) == 0 && vb_pair_count(2) == 1);
    CHECK(vb_pair_count(5) == 10 && vb_pair_count(13233) == 87549528ull);
    unsigned __int128 big = (unsigned __int128)UINT32_MAX * (UINT32_MAX - 1) / 2;
    CHECK(vb_pair_count(UINT32_MAX) == (uint64_t)big);

    static const uint64_t totals[] = {0, 1, 5, 10, 97, 87549528ull};
    static const uint64_t shards[] = {1, 2, 3, 7, 16, 100};
    for (size_t i = 0; i < VB_ARRAY_LEN(totals); i++)
        for (size_t j = 0; j < VB_ARRAY_LEN(shards); j++) {
            uint64_t total = totals[i], n = shards[j], next = 0, smallest = UINT64_MAX, largest = 0;
            for (uint64_t s = 0; s < n; s++) {
                uint64_t b, e;
                vb_shard_range(total, s, n, &b, &e);
                CHECKF(b == next && e >= b, "shard %llu/%llu of %llu: [%llu,%llu)",
                       (unsigned long long)s, (unsigned long long)n, (unsigned long long)total,
                       (unsigned long long)b, (unsigned long long)e);
                next = e;
                smallest = e - b < smallest ? e - b : smallest;
                largest = e - b > largest ? e - b : largest;
            }
            CHECK(next == total && largest - smallest <= 1);
        }
    uint64_t b, e;
    vb_shard_range(10, 3, 3, &b, &e);
    CHECK(b == e);
    vb_shard_range(10, 0, 0, &b, &e);
    CHECK(b == e);
}

static void test_data_dir_and_names(void)
{
    const char *saved = getenv("VERIBENCH_DATA");
    char *copy = saved ? strdup(saved) : NULL;
    setenv("VERIBENCH_DATA", "/some/where", 1);
    CHECK(strcmp(vb_data_dir(), "/some/where") == 0);
    setenv("VERIBENCH_DATA", "", 1);
    CHECK(strcmp(vb_data_dir(), "../shared/datasets") == 0);
    unsetenv("VERIBENCH_DATA");
    CHECK(strcmp(vb_data_dir(), "../shared/datasets") == 0);
    if (copy)
        setenv("VERIBENCH_DATA", copy, 1);
    free(copy);

    vb_modality m;
    CHECK(vb_modality_parse("fingerprint", &m) == 0 && m == VB_MODALITY_FINGERPRINT);
    CHECK(vb_modality_parse("face", &m) == 0 && m == VB_MODALITY_FACE);
    CHECK(vb_modality_parse("Face", &m) == -1);
    CHECK(strcmp(vb_modality_name(VB_MODALITY_FINGERPRINT), "fingerprint") == 0);
    CHECK(strcmp(vb_modality_name(7), "?") == 0);
}

int main(void)
{
    RUN(test_lfw_mini);
    RUN(test_lfw_mini_all);
    RUN(test_lfw_errors);
    RUN(test_fold_lists);
    RUN(test_csv_all_pairs);
    RUN(test_csv_trials);
    RUN(test_csv_errors);
    RUN(test_mark_samples);
    RUN(test_mutated_inputs);
    RUN(test_pair_count_and_shards);
    RUN(test_data_dir_and_names);
    return vb_test_finish();
}
