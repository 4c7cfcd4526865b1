#include "reports/radix_sort.h"

#include <stdlib.h>
#include <string.h>

enum { DIGIT_BITS = 11, DIGITS = 6, BUCKETS = 1 << DIGIT_BITS };

uint64_t vb_double_to_key(double x)
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    /* Negative numbers: flip all bits (larger magnitude -> smaller key); positive: set the
     * sign bit so they sort above every negative. */
    return (b >> 63) ? ~b : (b | 0x8000000000000000ull);
}

double vb_key_to_double(uint64_t k)
{
    uint64_t b = (k >> 63) ? (k & 0x7fffffffffffffffull) : ~k;
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}

/* Keys live in buffers that may be declared double (the caller's array), so every access
 * goes through memcpy: defined behaviour, and compiled to a plain 8-byte move. */
static inline uint64_t load_key(const unsigned char *base, size_t i)
{
    uint64_t k;
    memcpy(&k, base + i * 8, 8);
    return k;
}

static inline void store_key(unsigned char *base, size_t i, uint64_t k)
{
    memcpy(base + i * 8, &k, 8);
}

static inline unsigned digit_of(uint64_t k, int d)
{
    return (unsigned)(k >> (d * DIGIT_BITS)) & (BUCKETS - 1);
}

/* One histogram pass for all digits; returns a mask of digits worth a scatter pass (a
 * digit whose value is the same for every key does not reorder anything). */
static unsigned count_digits(const unsigned char *keys, size_t n, size_t (*hist)[BUCKETS])
{
    memset(hist, 0, sizeof(size_t) * BUCKETS * DIGITS);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = load_key(keys, i);
        for (int d = 0; d < DIGITS; d++)
            hist[d][digit_of(k, d)]++;
    }
    unsigned needed = 0;
    if (n == 0)
        return 0;
    uint64_t k0 = load_key(keys, 0);
    for (int d = 0; d < DIGITS; d++)
        if (hist[d][digit_of(k0, d)] != n)
            needed |= 1u << d;
    return needed;
}

/* Stable scatter of src into dst by digit d (counting sort); vals follow when non-NULL. */
static void scatter(const unsigned char *src, unsigned char *dst, const uint32_t *vsrc, uint32_t *vdst, size_t n,
                    int d, const size_t *hist)
{
    static _Thread_local size_t offset[BUCKETS];
    size_t sum = 0;
    for (int b = 0; b < BUCKETS; b++) {
        offset[b] = sum;
        sum += hist[b];
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t k = load_key(src, i);
        size_t at = offset[digit_of(k, d)]++;
        store_key(dst, at, k);
        if (vsrc)
            vdst[at] = vsrc[i];
    }
}

/* Sorts keys (as raw bytes, see load_key) ping-ponging with tmp; the result ends in keys. */
static void radix_sort_raw(unsigned char *keys, uint32_t *vals, unsigned char *tmp, uint32_t *tmp_vals, size_t n)
{
    static _Thread_local size_t hist[DIGITS][BUCKETS];
    unsigned needed = count_digits(keys, n, hist);
    unsigned char *src = keys, *dst = tmp;
    uint32_t *vsrc = vals, *vdst = tmp_vals;
    for (int d = 0; d < DIGITS; d++) {
        if (!(needed & (1u << d)))
            continue;
        scatter(src, dst, vsrc, vdst, n, d, hist[d]);
        unsigned char *t = src;
        src = dst;
        dst = t;
        uint32_t *tv = vsrc;
        vsrc = vdst;
        vdst = tv;
    }
    if (src != keys) {
        memcpy(keys, src, n * 8);
        if (vals)
            memcpy(vals, vsrc, n * sizeof *vals);
    }
}

void vb_radix_sort_kv(uint64_t *keys, uint32_t *vals, uint64_t *tmp_keys, uint32_t *tmp_vals, size_t n)
{
    radix_sort_raw((unsigned char *)keys, vals, (unsigned char *)tmp_keys, vals ? tmp_vals : NULL, n);
}

int vb_sort_doubles(double *x, size_t n, vb_err *e)
{
    if (n < 2)
        return 0;
    size_t bytes;
    if (vb_mul_size(n, 8, &bytes))
        return vb_fail(e, VB_EXIT_IO, "sort: %zu values overflow the address space", n);
    unsigned char *tmp = vb_malloc(bytes, e);
    if (!tmp)
        return -1;
    unsigned char *raw = (unsigned char *)x;
    for (size_t i = 0; i < n; i++) {
        double v;
        memcpy(&v, raw + i * 8, 8);
        store_key(raw, i, vb_double_to_key(v));
    }
    radix_sort_raw(raw, NULL, tmp, NULL, n);
    for (size_t i = 0; i < n; i++) {
        double v = vb_key_to_double(load_key(raw, i));
        memcpy(raw + i * 8, &v, 8);
    }
    free(tmp);
    return 0;
}
