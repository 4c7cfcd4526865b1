/* A persistent thread pool for the CPU backend: the worker threads are created once (per
 * backend handle) and sleep between jobs, so a forward pass of ~40 ops costs ~40 wake-ups,
 * not ~40 thread creations.
 *
 * vb_tpool_run(pool, n_tasks, fn, ctx) calls fn(ctx, task, thread) once for every task in
 * [0, n_tasks), spread over the pool's threads (the caller is thread 0 and works too), and
 * returns when all have finished. Which thread runs which task is not fixed (a shared
 * counter hands them out), so a task must compute the same thing whoever runs it: callers
 * split work so that each output is computed by exactly one task, in an order that does
 * not depend on the number of tasks or threads; `thread` (0..threads-1) only selects
 * per-thread scratch memory. One job at a time per pool; fn must not call vb_tpool_run on
 * the same pool. */
#ifndef VB_THREADPOOL_H
#define VB_THREADPOOL_H

typedef struct vb_tpool vb_tpool;
typedef void vb_tpool_fn(void *ctx, int task, int thread);

/* A pool of `threads` threads in all (threads - 1 workers plus the caller); threads < 1
 * counts as 1. NULL when out of memory or threads cannot be created. */
vb_tpool *vb_tpool_create(int threads);
/* Accepts NULL. */
void vb_tpool_free(vb_tpool *p);
int vb_tpool_threads(const vb_tpool *p);
/* p may be NULL: then the caller runs every task itself (thread 0). */
void vb_tpool_run(vb_tpool *p, int n_tasks, vb_tpool_fn *fn, void *ctx);

#endif
