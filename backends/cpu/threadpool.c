#include "backends/cpu/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Workers wait for a new job generation: they spin a short while first (the next op of a
 * forward pass usually follows within microseconds), then sleep on a condition variable,
 * so an idle pool costs no CPU on a machine shared with other work. */
#define SPIN_ROUNDS 20000

typedef struct worker {
    vb_tpool *pool;
    int index;
    pthread_t tid;
} worker;

struct vb_tpool {
    int threads;
    worker *workers;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    atomic_uint generation;    /* bumped for each job */
    atomic_int next_task;      /* the next task to hand out */
    atomic_int busy;           /* workers still inside the current job */
    int n_tasks, stopping;
    vb_tpool_fn *fn;
    void *ctx;
};

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void run_tasks(vb_tpool *p, int thread)
{
    for (;;) {
        int t = atomic_fetch_add_explicit(&p->next_task, 1, memory_order_relaxed);
        if (t >= p->n_tasks)
            break;
        p->fn(p->ctx, t, thread);
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    vb_tpool *p = w->pool;
    unsigned seen = 0;
    for (;;) {
        unsigned gen;
        int spins = 0;
        while ((gen = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen && spins < SPIN_ROUNDS) {
            cpu_relax();
            spins++;
        }
        if (gen == seen) {
            pthread_mutex_lock(&p->mu);
            while ((gen = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen && !p->stopping)
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (p->stopping)
            return NULL;
        seen = gen;
        run_tasks(p, w->index);
        if (atomic_fetch_sub_explicit(&p->busy, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

vb_tpool *vb_tpool_create(int threads)
{
    vb_tpool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->threads = threads < 1 ? 1 : threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->generation, 0);
    atomic_init(&p->next_task, 0);
    atomic_init(&p->busy, 0);
    if (p->threads > 1) {
        p->workers = calloc((size_t)p->threads, sizeof *p->workers);
        if (!p->workers) {
            vb_tpool_free(p);
            return NULL;
        }
        for (int i = 1; i < p->threads; i++) {
            p->workers[i] = (worker){p, i, 0};
            if (pthread_create(&p->workers[i].tid, NULL, worker_main, &p->workers[i])) {
                p->threads = i; /* those started so far are joined by vb_tpool_free */
                vb_tpool_free(p);
                return NULL;
            }
        }
    }
    return p;
}

void vb_tpool_free(vb_tpool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->threads && p->workers; i++)
        pthread_join(p->workers[i].tid, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->workers);
    free(p);
}

int vb_tpool_threads(const vb_tpool *p)
{
    return p ? p->threads : 1;
}

void vb_tpool_run(vb_tpool *p, int n_tasks, vb_tpool_fn *fn, void *ctx)
{
    if (n_tasks <= 0)
        return;
    if (!p || p->threads == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next_task, 0, memory_order_relaxed);
    atomic_store_explicit(&p->busy, p->threads - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, 0);
    /* Wait for the workers to leave the job (not just for the tasks to be taken), so the
     * next job's fields are not changed under a worker still reading them. */
    int spins = 0;
    while (atomic_load_explicit(&p->busy, memory_order_acquire) > 0 && spins < SPIN_ROUNDS) {
        cpu_relax();
        spins++;
    }
    if (atomic_load_explicit(&p->busy, memory_order_acquire) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->busy, memory_order_acquire) > 0)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
