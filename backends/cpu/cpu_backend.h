/* CPU-backend specifics beyond the backend interface (backends/backend.h). */
#ifndef VB_CPU_BACKEND_H
#define VB_CPU_BACKEND_H

#include <stddef.h>

#include "backends/backend.h"

/* Bytes of weights a model prepared on the cpu backend holds: the decoded fp32 copies on
 * the reference path, the packed fp32 panels on the fast path (for a conv run as Winograd,
 * its transformed filters: 4x). */
size_t vb_cpu_weight_bytes(const vb_prepared *p);

/* One core's measured multiply-accumulate throughput (GMAC/s: independent FMA chains in the
 * kernel family in use, best of a few ~5 ms tries; a loaded machine reads lower). The
 * bench's "fraction of peak" is GMAC/s over this times the threads. */
double vb_cpu_fma_peak_gmacs(void);

#endif
