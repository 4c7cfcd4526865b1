/* The activation-buffer planner shared by every backend: given a topologically ordered
 * list of steps (each writes one output buffer and reads up to two earlier outputs), give
 * every step a slot, reusing a slot once the last reader of its previous occupant has run.
 *
 * Guarantees (tests/test_plan.c):
 * - a step never writes a slot it reads (a slot is reused only strictly after its
 *   occupant's last reader, never by that reader itself);
 * - an output read by several later steps stays in its slot until the last of them;
 * - the `keep` step's output (the graph output) is never overwritten;
 * - each slot is as large as the largest output it ever holds;
 * - deterministic: the lowest-numbered free slot is taken (results are bit-identical
 *   from run to run, and to the per-backend planners this replaced).
 * Pure computation: no allocation, no I/O. */
#ifndef VB_PLAN_H
#define VB_PLAN_H

#include <stddef.h>

typedef struct vb_plan_step {
    size_t size;  /* elements of the step's output (per image) */
    int src[2];   /* steps whose outputs it reads (each < its own index), -1: none */
} vb_plan_step;

/* Fills slot[n] (slot of each step) and slot_size[n] (size of slot s, for s < the return
 * value; entries beyond it are zeroed). keep: a step whose output must survive to the
 * end (-1: none). Returns the number of slots used. */
int vb_plan_slots(const vb_plan_step *steps, int n, int keep, int *slot, size_t *slot_size);

#endif
