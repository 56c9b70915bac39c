/* ea_thread.c - a minimal static-split task runner on pthreads. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include "ea_thread.h"

typedef struct {
    ea_task_fn fn;
    void *arg;
    size_t ntasks, first, stride;
    int rc;
} worker;

static void *run_worker(void *p)
{
    worker *wk = p;
    size_t i;
    wk->rc = EA_OK;
    for (i = wk->first; i < wk->ntasks; i += wk->stride) {
        int rc = wk->fn(wk->arg, i);
        if (rc != EA_OK && wk->rc == EA_OK)
            wk->rc = rc;
    }
    return NULL;
}

int ea_parallel_run(ea_task_fn fn, void *arg, size_t ntasks, unsigned threads)
{
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
    if (wk == NULL || tid == NULL) {
        free(wk);
        free(tid);
        return EA_ERR_NOMEM;
    }
    for (k = 0; k < nthr; k++) {
        wk[k].fn = fn;
        wk[k].arg = arg;
        wk[k].ntasks = ntasks;
        wk[k].first = k;
        wk[k].stride = nthr;
        wk[k].rc = EA_OK;
    }
    /* Threads 1..nthr-1 are spawned; if a spawn fails its tasks run on this thread. */
    for (k = 1; k < nthr; k++) {
        if (pthread_create(&tid[k], NULL, run_worker, &wk[k]) != 0)
            break;
        started = k + 1;
    }
    run_worker(&wk[0]);
    for (k = started; k < nthr; k++)
        run_worker(&wk[k]);
    for (k = 1; k < started; k++)
        pthread_join(tid[k], NULL);
    for (k = 0; k < nthr && rc == EA_OK; k++)
        rc = wk[k].rc;
    free(wk);
    free(tid);
    return rc;
}
