#include "backends/cpu/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Workers wait for a new job: they spin a short while first (the next op of a forward
 * pass usually follows within microseconds), then sleep on a condition variable, so an idle
 * pool costs no CPU on a machine shared with other work.
 *
 * A worker joins a job under the mutex, and only while the job is open; the caller closes
 * it once every task has been taken and waits only for the workers that joined. So a worker
 * that is asleep or descheduled (a loaded machine) never holds the caller up: the caller
 * runs the tasks itself, and the late worker finds the job closed and goes back to sleep. */
#define SPIN_ROUNDS 2000

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
    int open;                  /* the current job takes new workers (under mu) */
    int active;                /* workers inside the current job (under mu) */
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
        for (int spins = 0; spins < SPIN_ROUNDS &&
                            atomic_load_explicit(&p->generation, memory_order_acquire) == seen; spins++)
            cpu_relax();
        pthread_mutex_lock(&p->mu);
        while (!p->stopping && !(p->open && atomic_load_explicit(&p->generation, memory_order_relaxed) != seen))
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->stopping) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = atomic_load_explicit(&p->generation, memory_order_relaxed);
        p->active++;
        pthread_mutex_unlock(&p->mu);
        run_tasks(p, w->index);
        pthread_mutex_lock(&p->mu);
        if (--p->active == 0 && !p->open)
            pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
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
    /* No worker is inside a job here (the previous one ended with active == 0), so the
     * job's fields can change. */
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next_task, 0, memory_order_relaxed);
    p->open = 1;
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, 0);
    pthread_mutex_lock(&p->mu);
    p->open = 0;
    while (p->active > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
