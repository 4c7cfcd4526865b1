/* Radix sorts of 64-bit keys, and the order-preserving map from doubles to such keys.
 *
 * Why not qsort: the metrics step sorts ~87 million impostor scores (LFW all-vs-all); a
 * comparison sort takes ~15 s there. vb_sort_keys is an MSD radix sort: one memory-bound
 * scatter on the top 11 bits of the key range, after which each bucket fits in cache and
 * is finished there (recursively, insertion sort for small buckets), the buckets split
 * between two threads. That is ~3 passes over memory instead of LSD's 7.
 *
 * Doubles map to keys whose unsigned order is the IEEE-754 order restricted to non-NaN
 * values: -inf < negative finite < -0 < +0 < positive finite < +inf. Callers must reject
 * NaN first (it would sort above +inf or below -inf depending on its sign bit). */
#ifndef VB_RADIX_SORT_H
#define VB_RADIX_SORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

/* Order-preserving map double <-> uint64 (see above); exact inverses of each other. */
uint64_t vb_double_to_key(double x);
double vb_key_to_double(uint64_t k);

/* Sorts keys[0..n) ascending using tmp[0..n) as scratch; returns the buffer that holds
 * the result (keys or tmp: no final copy is made). Uses up to two threads. */
uint64_t *vb_sort_keys(uint64_t *keys, uint64_t *tmp, size_t n);

/* Sorts x[0..n) ascending in place (no NaN allowed). Allocates two n-element buffers;
 * fails only when that allocation fails (VB_EXIT_IO). */
int vb_sort_doubles(double *x, size_t n, vb_err *e);

/* Stable LSD sort of keys[0..n) carrying vals[0..n) along (vals may be NULL);
 * tmp_keys/tmp_vals are caller-provided scratch of n elements each. */
void vb_radix_sort_kv(uint64_t *keys, uint32_t *vals, uint64_t *tmp_keys, uint32_t *tmp_vals, size_t n);

#endif
