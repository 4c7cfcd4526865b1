/* LSD radix sort of doubles (and of 64-bit keys with a 32-bit payload), O(n).
 *
 * Why not qsort: the metrics step sorts ~87 million impostor scores (LFW all-vs-all); a
 * comparison sort takes ~10 s there, six 11-bit counting passes take ~1-2 s.
 *
 * Doubles are mapped to unsigned keys whose order is the IEEE-754 total order restricted
 * to non-NaN values: -inf < negative finite < -0 < +0 < positive finite < +inf. Callers
 * must reject NaN first (it would sort above +inf or below -inf depending on its sign). */
#ifndef VB_RADIX_SORT_H
#define VB_RADIX_SORT_H

#include <stddef.h>
#include <stdint.h>

#include "bench/common.h"

/* Order-preserving map double <-> uint64 (see above); exact inverses of each other. */
uint64_t vb_double_to_key(double x);
double vb_key_to_double(uint64_t k);

/* Sort x[0..n) ascending in place. Allocates an n-element scratch buffer; fails only when
 * that allocation fails (VB_EXIT_IO). */
int vb_sort_doubles(double *x, size_t n, vb_err *e);

/* Sort keys[0..n) ascending, applying the same permutation to vals[0..n) (stable).
 * tmp_keys/tmp_vals are caller-provided scratch of n elements each. */
void vb_radix_sort_kv(uint64_t *keys, uint32_t *vals, uint64_t *tmp_keys, uint32_t *tmp_vals, size_t n);

#endif
