/* ea_thread.c - a minimal static-split task runner on pthreads. */
#define _GNU_SOURCE                 /* pthread_tryjoin_np where glibc has it */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include "ea_thread.h"

typedef struct {
    ea_task_fn fn;
    void *arg;
    size_t ntasks, next;        /* next task to hand out, under lock */
    pthread_mutex_t lock;
} pool;

typedef struct {
    pool *pl;
    int rc;
} worker;

/* Each worker takes the next undone task until none is left (dynamic: a thread slowed by
 * other load simply takes fewer tasks). */
static void *run_worker(void *p)
{
    worker *wk = p;
    pool *pl = wk->pl;
    wk->rc = EA_OK;
    for (;;) {
        size_t i;
        int rc;
        pthread_mutex_lock(&pl->lock);
        i = pl->next < pl->ntasks ? pl->next++ : pl->ntasks;
        pthread_mutex_unlock(&pl->lock);
        if (i >= pl->ntasks)
            break;
        rc = pl->fn(pl->arg, i);
        if (rc != EA_OK && wk->rc == EA_OK)
            wk->rc = rc;
    }
    return NULL;
}

/* Joins a thread that is about to end. Blocking in pthread_join at once costs 20-30 us here
 * (the joiner's CPU idles, and waking it takes a VM exit); yielding while it ends takes ~5 us.
 * After JOIN_YIELDS tries (a task still running) it blocks. */
#define JOIN_YIELDS 2000

static void join(pthread_t tid)
{
#ifdef __GLIBC__
    int i;
    for (i = 0; i < JOIN_YIELDS; i++) {
        if (pthread_tryjoin_np(tid, NULL) == 0)
            return;
        sched_yield();
    }
#endif
    pthread_join(tid, NULL);
}

int ea_parallel_run(ea_task_fn fn, void *arg, size_t ntasks, unsigned threads)
{
    pool pl;
    worker *wk;
    pthread_t *tid;
    size_t k, nthr, started = 1;
    int rc = EA_OK;
    if (threads < 1)
        threads = 1;
    nthr = threads < ntasks ? threads : ntasks;
    if (nthr <= 1) {
        size_t i;
        for (i = 0; i < ntasks; i++) {
            int r = fn(arg, i);
            if (r != EA_OK && rc == EA_OK)
                rc = r;
        }
        return rc;
    }
    wk = malloc(nthr * sizeof *wk);
    tid = malloc(nthr * sizeof *tid);
    if (wk == NULL || tid == NULL || pthread_mutex_init(&pl.lock, NULL) != 0) {
        free(wk);
        free(tid);
        return EA_ERR_NOMEM;
    }
    pl.fn = fn;
    pl.arg = arg;
    pl.ntasks = ntasks;
    pl.next = 0;
    for (k = 0; k < nthr; k++) {
        wk[k].pl = &pl;
        wk[k].rc = EA_OK;
    }
    /* Threads 1..nthr-1 are spawned; if a spawn fails, the others take its share. */
    for (k = 1; k < nthr; k++) {
        if (pthread_create(&tid[k], NULL, run_worker, &wk[k]) != 0)
            break;
        started = k + 1;
    }
    run_worker(&wk[0]);
    for (k = 1; k < started; k++)
        join(tid[k]);
    for (k = 0; k < started && rc == EA_OK; k++)
        rc = wk[k].rc;
    pthread_mutex_destroy(&pl.lock);
    free(wk);
    free(tid);
    return rc;
}
