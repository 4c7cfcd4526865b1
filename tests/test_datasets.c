/* Dataset loaders against the real data in $VERIBENCH_DATA (LFW, FVC2002): counts, orders,
 * labels and folds checked against independent readings of pairs.txt, people.txt and the
 * image folders; every referenced file must exist in the shared copy. When the data folder
 * is absent the tests print "skipped" and count one pass (in CI the data is present). */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/dataset.h"
#include "datasets/registry.h"
#include "tests/testlib.h"

static const char *data_dir;

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int open_ds(const char *spec, const char *trials, const char *dir, vb_dataset *d)
{
    vb_err e = {0};
    double t0 = vb_now();
    int rc = vb_dataset_open(spec, trials, dir, d, &e);
    CHECKF(rc == 0, "open %s: %s", spec, e.msg);
    if (rc == 0 && getenv("VB_TEST_VERBOSE"))
        fprintf(stderr, "   %s: %u samples, %llu trials, loaded in %.3f s\n", spec, d->n_samples,
                (unsigned long long)d->n_trials, vb_now() - t0);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- an independent reading of pairs.txt ------------------------------------------------ */

typedef struct expected_pair {
    char a[128], b[128];
    int label, fold;
} expected_pair;

/* Reads pairs.txt with sscanf: 3 fields = matched, 4 = mismatched; fold from the position. */
static expected_pair *read_pairs(int *n_out)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lfw/pairs.txt", data_dir);
    FILE *f = fopen(path, "r");
    CHECKF(f != NULL, "cannot open %s", path);
    if (!f)
        return NULL;
    int folds = 0, per = 0;
    char line[512];
    if (!fgets(line, sizeof line, f) || sscanf(line, "%d %d", &folds, &per) != 2) {
        fclose(f);
        CHECK(!"pairs.txt first line");
        return NULL;
    }
    CHECK(folds == 10 && per == 300);
    expected_pair *p = calloc((size_t)(folds * per * 2), sizeof *p);
    int n = 0;
    while (p && n < folds * per * 2 && fgets(line, sizeof line, f)) {
        char n1[64], n2[64];
        int i1, i2;
        if (sscanf(line, "%63s %d %63s %d", n1, &i1, n2, &i2) == 4) {
            snprintf(p[n].a, sizeof p[n].a, "%s_%04d", n1, i1);
            snprintf(p[n].b, sizeof p[n].b, "%s_%04d", n2, i2);
            p[n].label = 0;
        } else if (sscanf(line, "%63s %d %d", n1, &i1, &i2) == 3) {
            snprintf(p[n].a, sizeof p[n].a, "%s_%04d", n1, i1);
            snprintf(p[n].b, sizeof p[n].b, "%s_%04d", n1, i2);
            p[n].label = 1;
        } else {
            break;
        }
        p[n].fold = n / (2 * per) + 1;
        n++;
    }
    fclose(f);
    CHECK(n == 6000);
    *n_out = n;
    return p;
}

/* Distinct ids among the expected pairs of the selected folds (sel[fold]), sorted. */
static char **distinct_ids(const expected_pair *p, int n, const int *sel, int *n_out)
{
    char **ids = calloc((size_t)(2 * n), sizeof *ids);
    int m = 0;
    *n_out = 0;
    if (!ids)
        return NULL;
    for (int k = 0; k < n; k++)
        if (!sel || sel[p[k].fold]) {
            ids[m++] = (char *)p[k].a;
            ids[m++] = (char *)p[k].b;
        }
    qsort(ids, (size_t)m, sizeof *ids, cmp_str);
    int u = 0;
    for (int k = 0; k < m; k++)
        if (u == 0 || strcmp(ids[k], ids[u - 1]) != 0)
            ids[u++] = ids[k];
    *n_out = u;
    return ids;
}

/* Samples carry a consistent id, subject, path and index; sorted by (subject, number). */
static void check_lfw_samples(const vb_dataset *d)
{
    uint32_t missing = 0, bad = 0;
    for (uint32_t i = 0; i < d->n_samples; i++) {
        const vb_sample *s = &d->samples[i];
        char rel[512];
        snprintf(rel, sizeof rel, "lfw/images_deepfunneled/%s/%s.jpg", s->subject, s->id);
        size_t sl = strlen(s->subject);
        int ok = s->index == i && strcmp(s->rel, rel) == 0 && strncmp(s->id, s->subject, sl) == 0 &&
                 strlen(s->id) == sl + 5 && s->id[sl] == '_' &&
                 strcmp(d->subjects[s->subject_index], s->subject) == 0 &&
                 s->modality == VB_MODALITY_FACE;
        if (i > 0) {
            const vb_sample *p = &d->samples[i - 1];
            int c = strcmp(p->subject, s->subject);
            ok &= c < 0 || (c == 0 && strcmp(p->id, s->id) < 0);
        }
        bad += !ok;
        missing += !exists(s->path);
        if (!ok && bad < 5)
            fprintf(stderr, "sample %u: id %s subject %s rel %s\n", i, s->id, s->subject, s->rel);
    }
    CHECKF(bad == 0, "%u inconsistent samples", bad);
    CHECKF(missing == 0, "%u of %u image files missing in %s", missing, d->n_samples, data_dir);
}

/* ---- LFW -------------------------------------------------------------------------------- */

static void test_lfw_view2(void)
{
    int n = 0;
    expected_pair *want = read_pairs(&n);
    vb_dataset d;
    if (!want || open_ds("lfw", NULL, data_dir, &d)) {
        free(want);
        return;
    }
    CHECK(strcmp(d.kind, "lfw") == 0 && d.protocol == VB_PROTOCOL_EXPLICIT);
    CHECK(d.n_trials == 6000 && d.n_genuine == 3000 && d.n_impostor == 3000);
    CHECK(d.n_folds == 10 && d.modality == VB_MODALITY_FACE);
    int per_fold[11] = {0}, genuine_per_fold[11] = {0}, wrong = 0;
    for (uint64_t k = 0; k < d.n_trials && k < (uint64_t)n; k++) {
        const vb_trial *t = &d.trials[k];
        per_fold[t->fold < 11 ? t->fold : 0]++;
        genuine_per_fold[t->fold < 11 ? t->fold : 0] += t->label;
        int ok = strcmp(d.samples[t->a].id, want[k].a) == 0 &&
                 strcmp(d.samples[t->b].id, want[k].b) == 0 && t->label == want[k].label &&
                 t->fold == want[k].fold &&
                 t->label == (d.samples[t->a].subject_index == d.samples[t->b].subject_index);
        if (!ok && wrong++ < 5)
            fprintf(stderr, "trial %llu: %s %s %d %d, pairs.txt: %s %s %d %d\n",
                    (unsigned long long)k, d.samples[t->a].id, d.samples[t->b].id, t->label,
                    t->fold, want[k].a, want[k].b, want[k].label, want[k].fold);
    }
    CHECKF(wrong == 0, "%d trials differ from pairs.txt", wrong);
    for (int f = 1; f <= 10; f++)
        CHECKF(per_fold[f] == 600 && genuine_per_fold[f] == 300, "fold %d: %d trials, %d genuine", f,
               per_fold[f], genuine_per_fold[f]);
    CHECK(per_fold[0] == 0);

    /* Samples: each distinct referenced image exactly once. */
    int n_ids = 0;
    char **ids = distinct_ids(want, n, NULL, &n_ids);
    CHECKF(d.n_samples == (uint32_t)n_ids, "%u samples, pairs.txt references %d images", d.n_samples,
           n_ids);
    for (int i = 0; ids && i < n_ids; i++)
        CHECKF(vb_dataset_find(&d, ids[i]) >= 0, "%s missing from the samples", ids[i]);
    check_lfw_samples(&d);
    free(ids);
    free(want);
    vb_dataset_free(&d);
}

static void test_lfw_folds(void)
{
    int n = 0;
    expected_pair *want = read_pairs(&n);
    vb_dataset d;
    if (!want || open_ds("lfw", NULL, data_dir, &d)) {
        free(want);
        return;
    }
    char full[65];
    memcpy(full, d.fingerprint, sizeof full);
    vb_err e = {0};
    CHECK(vb_dataset_select_folds(&d, "11", &e) == -1 && e.code == VB_EXIT_USAGE &&
          strstr(e.msg, "1..10"));
    CHECK(vb_dataset_select_folds(&d, "1,3-", &e) == -1 && e.code == VB_EXIT_USAGE);
    CHECK(d.n_trials == 6000);
    CHECK(vb_dataset_select_folds(&d, "1,3-5", &e) == 0);
    CHECK(strcmp(d.folds, "1,3-5") == 0);
    CHECK(d.n_trials == 2400 && d.n_genuine == 1200 && d.n_folds == 10);
    int sel[11] = {0, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0}, bad_fold = 0;
    unsigned char *used = calloc(d.n_samples, 1);
    for (uint64_t k = 0; used && k < d.n_trials; k++) {
        bad_fold += d.trials[k].fold > 10 || !sel[d.trials[k].fold];
        used[d.trials[k].a] = used[d.trials[k].b] = 1;
    }
    CHECK(bad_fold == 0);
    uint32_t unused = 0;
    for (uint32_t i = 0; used && i < d.n_samples; i++)
        unused += !used[i];
    CHECKF(unused == 0, "%u samples referenced by no kept trial", unused);
    free(used);
    int n_ids = 0;
    char **ids = distinct_ids(want, n, sel, &n_ids);
    CHECKF(d.n_samples == (uint32_t)n_ids, "%u samples after --folds 1,3-5, expected %d", d.n_samples,
           n_ids);
    free(ids);
    /* Kept trials are those of pairs.txt in order (fold 1 then 3, 4, 5). */
    CHECK(strcmp(d.samples[d.trials[0].a].id, want[0].a) == 0);
    CHECK(strcmp(d.samples[d.trials[600].a].id, want[1200].a) == 0 &&
          strcmp(d.samples[d.trials[600].b].id, want[1200].b) == 0);
    check_lfw_samples(&d);
    CHECK(strcmp(d.fingerprint, full) != 0);
    vb_dataset_free(&d);

    if (open_ds("lfw", NULL, data_dir, &d) == 0) {
        CHECK(vb_dataset_select_folds(&d, "10,9,1", &e) == 0);
        CHECK(strcmp(d.folds, "1,9-10") == 0 && d.n_trials == 1800);
        vb_dataset_free(&d);
    }
    free(want);
}

/* The inverse of the row-major pair order: k = a*n - a(a+1)/2 + (b - a - 1). */
static uint64_t pair_index(uint64_t n, uint64_t a, uint64_t b)
{
    return a * n - a * (a + 1) / 2 + (b - a - 1);
}

static void test_lfw_all(void)
{
    /* Independent counts from people.txt: lines "Name<TAB>count". */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lfw/people.txt", data_dir);
    FILE *f = fopen(path, "r");
    CHECKF(f != NULL, "cannot open %s", path);
    if (!f)
        return;
    char line[512], name[256];
    uint64_t people = 0, images = 0, genuine = 0;
    int count;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%255s %d", name, &count) == 2) {
            people++;
            images += (uint64_t)count;
            genuine += (uint64_t)count * (uint64_t)(count - 1) / 2;
        }
    fclose(f);
    CHECK(people == 5749 && images == 13233);

    vb_dataset d;
    if (open_ds("lfw-all", NULL, data_dir, &d))
        return;
    CHECK(strcmp(d.kind, "lfw-all") == 0 && d.protocol == VB_PROTOCOL_ALL_PAIRS && !d.trials);
    CHECK(d.n_samples == 13233 && d.n_subjects == 5749);
    CHECKF(d.n_genuine == genuine, "loader: %llu genuine pairs, people.txt: %llu",
           (unsigned long long)d.n_genuine, (unsigned long long)genuine);
    CHECK(d.n_trials == images * (images - 1) / 2 && d.n_trials == 87549528ull);
    CHECK(d.n_impostor == d.n_trials - genuine);
    check_lfw_samples(&d);

    /* The image folder holds exactly these samples (people.txt and the folder agree). */
    snprintf(path, sizeof path, "%s/lfw/images_deepfunneled", data_dir);
    DIR *top = opendir(path);
    CHECKF(top != NULL, "cannot open %s", path);
    uint64_t files = 0, unknown = 0;
    struct dirent *de;
    while (top && (de = readdir(top))) {
        if (de->d_name[0] == '.')
            continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        DIR *dir = opendir(sub);
        struct dirent *fe;
        while (dir && (fe = readdir(dir))) {
            size_t len = strlen(fe->d_name);
            if (fe->d_name[0] == '.' || len < 5 || strcmp(fe->d_name + len - 4, ".jpg") != 0)
                continue;
            fe->d_name[len - 4] = 0;
            files++;
            unknown += vb_dataset_find(&d, fe->d_name) < 0;
        }
        if (dir)
            closedir(dir);
    }
    if (top)
        closedir(top);
    CHECKF(files == 13233 && unknown == 0, "%llu images in the folder, %llu not in the dataset",
           (unsigned long long)files, (unsigned long long)unknown);

    /* Random access agrees with the closed-form inverse and the subjects. */
    uint64_t n = d.n_samples, s = 12345, bad = 0;
    uint64_t probes[2000 + 5] = {0, n - 2, n - 1, d.n_trials - 2, d.n_trials - 1};
    for (int i = 5; i < 2005; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        probes[i] = (s >> 11) % d.n_trials;
    }
    for (size_t i = 0; i < VB_ARRAY_LEN(probes); i++) {
        vb_trial t;
        CHECK(vb_dataset_trial(&d, probes[i], &t) == 0);
        bad += !(t.a < t.b && t.b < n && pair_index(n, t.a, t.b) == probes[i] && t.fold == 0 &&
                 t.label == (strcmp(d.samples[t.a].subject, d.samples[t.b].subject) == 0));
    }
    CHECKF(bad == 0, "%llu of %zu random trials wrong", (unsigned long long)bad, VB_ARRAY_LEN(probes));
    /* Every row boundary (last pair of a row, first and second of the next): where an
     * off-by-one in the index -> pair mapping would show. */
    vb_trial t;
    uint64_t boundary_bad = 0;
    for (uint64_t a = 1; a + 1 < n; a++) {
        uint64_t first = pair_index(n, a, a + 1);
        for (uint64_t k = first - 1; k <= first + 1 && k < d.n_trials; k++) {
            vb_dataset_trial(&d, k, &t);
            boundary_bad += pair_index(n, t.a, t.b) != k || t.a >= t.b;
        }
    }
    CHECKF(boundary_bad == 0, "%llu trials wrong at row boundaries", (unsigned long long)boundary_bad);
    vb_dataset_trial(&d, n - 1, &t);
    CHECK(t.a == 1 && t.b == 2);
    vb_dataset_trial(&d, d.n_trials - 1, &t);
    CHECK(t.a == n - 2 && t.b == n - 1);

    /* Samples a chunk needs: vb_dataset_mark_samples against the iterator, on chunks within
     * one row, across a few rows and across many. */
    static const uint64_t chunk[][2] = {{5, 9}, {13000, 40000}, {0, 1}, {87549000ull, 87549528ull},
                                        {40000000ull, 40300000ull}, {13231, 13232}};
    unsigned char *want = calloc(n, 1), *got = calloc(n, 1);
    for (size_t c = 0; want && got && c < VB_ARRAY_LEN(chunk); c++) {
        memset(want, 0, n);
        memset(got, 0, n);
        vb_trial_iter it;
        vb_trial_iter_init(&it, &d, chunk[c][0], chunk[c][1]);
        uint32_t marked = 0;
        while (vb_trial_iter_next(&it, &t)) {
            marked += !want[t.a] + !want[t.b];
            want[t.a] = want[t.b] = 1;
        }
        CHECKF(vb_dataset_mark_samples(&d, chunk[c][0], chunk[c][1], got) == marked &&
                   memcmp(want, got, n) == 0,
               "mark_samples on trials [%llu, %llu)", (unsigned long long)chunk[c][0],
               (unsigned long long)chunk[c][1]);
    }
    free(want);
    free(got);

    /* Walk all 87.5M pairs in 7 shards: each pair once, in order, genuine count exact. */
    uint64_t seen = 0, walked_genuine = 0, out_of_order = 0;
    uint32_t ea = 0, eb = 1;
    for (uint64_t shard = 0; shard < 7; shard++) {
        uint64_t begin, end;
        vb_shard_range(d.n_trials, shard, 7, &begin, &end);
        CHECK(begin == seen);
        vb_trial_iter it;
        vb_trial_iter_init(&it, &d, begin, end);
        while (vb_trial_iter_next(&it, &t)) {
            out_of_order += t.a != ea || t.b != eb;
            walked_genuine += t.label;
            seen++;
            if (++eb == n) {
                ea++;
                eb = ea + 1;
            }
        }
    }
    CHECK(seen == d.n_trials && out_of_order == 0 && walked_genuine == genuine);
    vb_dataset_free(&d);
}

/* lfw-all + a trials CSV: a custom protocol over real ids. */
static void test_lfw_custom_trials(void)
{
    vb_dataset d;
    if (open_ds("lfw-all", "tests/data/datasets/csv/lfw-custom-trials.csv", data_dir, &d))
        return;
    CHECK(d.protocol == VB_PROTOCOL_EXPLICIT && d.n_trials == 3 && d.n_genuine == 1);
    CHECK(d.n_samples == 4 && d.n_subjects == 2 && d.n_folds == 2);
    static const char *const ids[] = {"Aaron_Eckhart_0001", "Abel_Pacheco_0001", "Abel_Pacheco_0002",
                                      "Abel_Pacheco_0004"};
    for (uint32_t i = 0; i < d.n_samples && i < 4; i++)
        CHECKF(strcmp(d.samples[i].id, ids[i]) == 0, "sample %u: %s", i, d.samples[i].id);
    check_lfw_samples(&d);
    vb_dataset_free(&d);
}

/* ---- FVC2002 ---------------------------------------------------------------------------- */

static void test_fvc(void)
{
    static const char *const sets[] = {"DB1_B", "DB2_B", "DB3_B", "DB4_B"};
    char seen_fp[4][65];
    for (int s = 0; s < 4; s++) {
        char spec[64];
        snprintf(spec, sizeof spec, "fvc2002:%s", sets[s]);
        vb_dataset d;
        if (open_ds(spec, NULL, data_dir, &d))
            continue;
        memcpy(seen_fp[s], d.fingerprint, 65);
        CHECK(strcmp(d.kind, "fvc2002") == 0 && d.modality == VB_MODALITY_FINGERPRINT);
        CHECK(d.n_samples == 80 && d.n_subjects == 10 && d.n_folds == 0);
        CHECK(d.n_trials == 325 && d.n_genuine == 280 && d.n_impostor == 45);
        int missing = 0, bad = 0, repeated = 0;
        unsigned char pair_seen[80][80] = {{0}};
        for (uint32_t i = 0; i < d.n_samples; i++) {
            const vb_sample *smp = &d.samples[i];
            char id[32], rel[64];
            snprintf(id, sizeof id, "%u_%u", 101 + i / 8, 1 + i % 8);
            snprintf(rel, sizeof rel, "fvc2002/%s/%s.tif", sets[s], id);
            bad += strcmp(smp->id, id) != 0 || strcmp(smp->rel, rel) != 0 ||
                   strncmp(smp->subject, id, 3) != 0 || smp->modality != VB_MODALITY_FINGERPRINT;
            missing += !exists(smp->path);
        }
        for (uint64_t k = 0; k < d.n_trials; k++) {
            const vb_trial *t = &d.trials[k];
            const char *a = d.samples[t->a].id, *b = d.samples[t->b].id;
            int same_finger = strncmp(a, b, 3) == 0;
            if (t->label)
                bad += !same_finger || strcmp(a, b) == 0;
            else
                bad += same_finger || strcmp(a + 3, "_1") != 0 || strcmp(b + 3, "_1") != 0;
            uint32_t lo = t->a < t->b ? t->a : t->b, hi = t->a ^ t->b ^ lo;
            repeated += pair_seen[lo][hi]++;
            bad += t->fold != 0;
        }
        CHECKF(bad == 0 && repeated == 0, "%s: %d inconsistent samples/trials, %d repeated pairs",
               spec, bad, repeated);
        CHECKF(missing == 0, "%s: %d impressions missing", spec, missing);
        vb_dataset_free(&d);

        snprintf(spec, sizeof spec, "fvc2002-all:%s", sets[s]);
        if (open_ds(spec, NULL, data_dir, &d) == 0) {
            CHECK(d.protocol == VB_PROTOCOL_ALL_PAIRS && d.n_trials == 3160 && d.n_genuine == 280 &&
                  d.n_impostor == 2880);
            vb_dataset_free(&d);
        }
    }
    for (int a = 0; a < 4; a++)
        for (int b = a + 1; b < 4; b++)
            CHECK(strcmp(seen_fp[a], seen_fp[b]) != 0);
}

/* ---- fingerprint ------------------------------------------------------------------------ */

static void test_fingerprint_stable(void)
{
    vb_dataset a, b, c;
    if (open_ds("lfw", NULL, data_dir, &a))
        return;
    if (open_ds("lfw", NULL, data_dir, &b) == 0) {
        CHECK(strcmp(a.fingerprint, b.fingerprint) == 0);
        vb_dataset_free(&b);
    }
    /* The same data reached by another path: same protocol, same fingerprint. */
    char *abs = realpath(data_dir, NULL);
    if (abs && open_ds("lfw", NULL, abs, &b) == 0) {
        CHECK(strcmp(a.fingerprint, b.fingerprint) == 0);
        if (strcmp(abs, data_dir) != 0)
            CHECK(strcmp(a.samples[0].path, b.samples[0].path) != 0);
        vb_dataset_free(&b);
    }
    free(abs);
    if (open_ds("lfw-all", NULL, data_dir, &c) == 0) {
        CHECK(strcmp(a.fingerprint, c.fingerprint) != 0);
        char again[65];
        vb_dataset_fingerprint(&c, again);
        CHECK(strcmp(again, c.fingerprint) == 0);
        vb_dataset_free(&c);
    }
    vb_dataset_free(&a);
}

int main(void)
{
    data_dir = vb_test_data_dir();
    char probe[PATH_MAX];
    snprintf(probe, sizeof probe, "%s/lfw/pairs.txt", data_dir);
    char probe2[PATH_MAX];
    snprintf(probe2, sizeof probe2, "%s/fvc2002/DB1_B", data_dir);
    if (!exists(probe) || !exists(probe2)) {
        printf("skipped: real-data dataset tests: %s or %s not found (set VERIBENCH_DATA)\n", probe,
               probe2);
        CHECK(1);
        return vb_test_finish();
    }
    RUN(test_lfw_view2);
    RUN(test_lfw_folds);
    RUN(test_lfw_all);
    RUN(test_lfw_custom_trials);
    RUN(test_fvc);
    RUN(test_fingerprint_stable);
    return vb_test_finish();
}
