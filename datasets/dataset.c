/* The dataset model: modality names, the data folder setting, trial enumeration (explicit
 * and implicit all-pairs), sample marking for shards, and the protocol fingerprint. It only
 * reads a built dataset; building, fold selection and freeing are in datasets/builder.c, and
 * opening by spec through the loader table in datasets/registry.c. */
#include "datasets/dataset.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const modality_names[VB_MODALITY_COUNT] = {"face", "fingerprint"};

const char *vb_modality_name(int modality)
{
    return modality >= 0 && modality < VB_MODALITY_COUNT ? modality_names[modality] : "?";
}

int vb_modality_parse(const char *s, vb_modality *out)
{
    for (int m = 0; m < VB_MODALITY_COUNT; m++)
        if (strcmp(s, modality_names[m]) == 0) {
            *out = (vb_modality)m;
            return 0;
        }
    return -1;
}

const char *vb_data_dir(void)
{
    const char *d = getenv("VERIBENCH_DATA");
    return d && *d ? d : "../shared/datasets";
}

uint32_t vb_dataset_count_failed(const vb_dataset *d)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < d->n_samples; i++)
        n += d->samples[i].acquired == VB_ACQ_FAILED;
    return n;
}

/* ---- trial enumeration ------------------------------------------------------------------ */

uint64_t vb_pair_count(uint64_t n)
{
    return n < 2 ? 0 : (n % 2 == 0 ? (n / 2) * (n - 1) : n * ((n - 1) / 2));
}

/* Index of the first pair of row a, (a, a+1): a(n-1) - a(a-1)/2. No overflow for n < 2^32. */
static uint64_t row_start(uint64_t n, uint64_t a)
{
    return a * (n - 1) - vb_pair_count(a);
}

/* Pair k of the row-major a < b enumeration of n items (k < n(n-1)/2). The row is the
 * largest a with row_start(a) <= k, i.e. a = floor((m - sqrt(m^2 - 8k)) / 2), m = 2n - 1;
 * the floating-point estimate is off by at most one and corrected exactly with integers.
 * (Above 2^31 items m^2 would overflow: binary search instead.) */
static void pair_at(uint64_t n, uint64_t k, uint32_t *a, uint32_t *b)
{
    uint64_t row;
    if (n < (UINT64_C(1) << 31)) {
        uint64_t m = 2 * n - 1;
        double est = ((double)m - sqrt((double)(m * m - 8 * k))) / 2;
        row = est <= 0 ? 0 : (uint64_t)est;
        if (row > n - 2)
            row = n - 2;
        while (row > 0 && row_start(n, row) > k)
            row--;
        while (row < n - 2 && row_start(n, row + 1) <= k)
            row++;
    } else {
        uint64_t lo = 0, hi = n - 2;
        while (lo < hi) {
            uint64_t mid = lo + (hi - lo + 1) / 2;
            if (row_start(n, mid) <= k)
                lo = mid;
            else
                hi = mid - 1;
        }
        row = lo;
    }
    *a = (uint32_t)row;
    *b = (uint32_t)(row + 1 + (k - row_start(n, row)));
}

static void implicit_trial(const vb_dataset *d, uint32_t a, uint32_t b, vb_trial *out)
{
    out->a = a;
    out->b = b;
    out->label = d->samples[a].subject_index == d->samples[b].subject_index;
    out->fold = 0;
}

int vb_dataset_trial(const vb_dataset *d, uint64_t k, vb_trial *out)
{
    if (k >= d->n_trials)
        return -1;
    if (d->protocol == VB_PROTOCOL_EXPLICIT) {
        *out = d->trials[k];
        return 0;
    }
    uint32_t a, b;
    pair_at(d->n_samples, k, &a, &b);
    implicit_trial(d, a, b, out);
    return 0;
}

void vb_trial_iter_init(vb_trial_iter *it, const vb_dataset *d, uint64_t begin, uint64_t end)
{
    it->d = d;
    it->end = end < d->n_trials ? end : d->n_trials;
    it->pos = begin < it->end ? begin : it->end;
    it->a = it->b = 0;
    if (d->protocol == VB_PROTOCOL_ALL_PAIRS && it->pos < it->end)
        pair_at(d->n_samples, it->pos, &it->a, &it->b);
}

int vb_trial_iter_next(vb_trial_iter *it, vb_trial *out)
{
    if (it->pos >= it->end)
        return 0;
    const vb_dataset *d = it->d;
    it->pos++;
    if (d->protocol == VB_PROTOCOL_EXPLICIT) {
        *out = d->trials[it->pos - 1];
        return 1;
    }
    implicit_trial(d, it->a, it->b, out);
    if (++it->b == d->n_samples) {
        it->a++;
        it->b = it->a + 1;
    }
    return 1;
}

static uint32_t mark_range(unsigned char *mask, uint64_t lo, uint64_t hi) /* [lo, hi] */
{
    uint32_t n = 0;
    for (uint64_t i = lo; i <= hi; i++) {
        n += !mask[i];
        mask[i] = 1;
    }
    return n;
}

uint32_t vb_dataset_mark_samples(const vb_dataset *d, uint64_t begin, uint64_t end,
                                 unsigned char *mask)
{
    if (end > d->n_trials)
        end = d->n_trials;
    if (begin >= end)
        return 0;
    uint32_t n = 0;
    if (d->protocol == VB_PROTOCOL_EXPLICIT) {
        for (uint64_t k = begin; k < end; k++) {
            n += mark_range(mask, d->trials[k].a, d->trials[k].a);
            n += mark_range(mask, d->trials[k].b, d->trials[k].b);
        }
        return n;
    }
    /* Rows a0..a1 of the row-major order: row a0 from b0, whole rows in between, row a1 up
     * to b1. Their b's are [b0, n-1] (or [b0, b1] in one row), [a0+2, n-1], [a1+1, b1]. */
    uint32_t a0, b0, a1, b1;
    uint64_t last = d->n_samples - 1;
    pair_at(d->n_samples, begin, &a0, &b0);
    pair_at(d->n_samples, end - 1, &a1, &b1);
    n += mark_range(mask, a0, a1);
    if (a0 == a1)
        return n + mark_range(mask, b0, b1);
    n += mark_range(mask, b0, last);
    if (a1 > a0 + 1)
        n += mark_range(mask, (uint64_t)a0 + 2, last);
    return n + mark_range(mask, (uint64_t)a1 + 1, b1);
}

void vb_shard_range(uint64_t total, uint64_t shard, uint64_t nshards, uint64_t *begin,
                    uint64_t *end)
{
    if (nshards == 0 || shard >= nshards) {
        *begin = *end = total;
        return;
    }
    uint64_t q = total / nshards, r = total % nshards;
    *begin = shard * q + (shard < r ? shard : r);
    *end = *begin + q + (shard < r);
}

/* ---- fingerprint ------------------------------------------------------------------------ */

typedef struct hasher {
    EVP_MD_CTX *ctx;
    char buf[1 << 14];
    size_t used;
} hasher;

static void hash_flush(hasher *h)
{
    EVP_DigestUpdate(h->ctx, h->buf, h->used);
    h->used = 0;
}

static void hash_printf(hasher *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hash_printf(hasher *h, const char *fmt, ...)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(h->buf + h->used, sizeof h->buf - h->used, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof h->buf - h->used) {
            h->used += (size_t)n;
            return;
        }
        hash_flush(h);
        if (n >= 0 && (size_t)n >= sizeof h->buf) { /* longer than the buffer: hash directly */
            char *big = malloc((size_t)n + 1);
            if (!big)
                abort(); /* a wrong fingerprint is worse than stopping */
            va_start(ap, fmt);
            vsnprintf(big, (size_t)n + 1, fmt, ap);
            va_end(ap);
            EVP_DigestUpdate(h->ctx, big, (size_t)n);
            free(big);
            return;
        }
    }
}

int vb_dataset_set_modality(vb_dataset *d, vb_modality m, vb_err *e)
{
    if (strcmp(d->kind, "csv") != 0)
        return vb_fail(e, VB_EXIT_USAGE, "--modality applies to csv: manifests; %s holds %s samples", d->spec,
                       vb_modality_name(d->modality));
    if (d->modality_column)
        return vb_fail(e, VB_EXIT_USAGE, "%s has a modality column, which decides; drop --modality", d->spec);
    for (uint32_t i = 0; i < d->n_samples; i++)
        d->samples[i].modality = m;
    d->modality = (int)m;
    vb_dataset_fingerprint(d, d->fingerprint);
    return 0;
}

void vb_dataset_fingerprint(const vb_dataset *d, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    hasher state, *h = &state;
    h->ctx = EVP_MD_CTX_new();
    h->used = 0;
    if (!h->ctx || !EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL))
        abort(); /* libcrypto without SHA-256: nothing sensible to return */
    hash_printf(h, "veribench-dataset-v1\nsamples %u\n", d->n_samples);
    for (uint32_t i = 0; i < d->n_samples; i++) {
        const vb_sample *s = &d->samples[i];
        hash_printf(h, "%s\t%s\t%s\t%s\n", s->id, s->subject, vb_modality_name(s->modality), s->rel);
    }
    if (d->protocol == VB_PROTOCOL_ALL_PAIRS) {
        hash_printf(h, "trials all-pairs\n");
    } else {
        hash_printf(h, "trials %llu\n", (unsigned long long)d->n_trials);
        for (uint64_t k = 0; k < d->n_trials; k++) {
            const vb_trial *t = &d->trials[k];
            hash_printf(h, "%u\t%u\t%u\t%u\n", t->a, t->b, t->label, t->fold);
        }
    }
    hash_flush(h);
    unsigned char md[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(h->ctx, md, &len);
    EVP_MD_CTX_free(h->ctx);
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = 0;
}
