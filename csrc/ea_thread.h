/* ea_thread.h - (internal) run independent tasks on a few POSIX threads (no global state). */
#ifndef EA_THREAD_H
#define EA_THREAD_H

#include <stddef.h>
#include "ea_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A task: returns an ea_status. index runs over 0..ntasks-1. */
typedef int (*ea_task_fn)(void *arg, size_t index);

/* ea_parallel_run(fn, arg, ntasks, threads): run fn(arg, i) for every i < ntasks on up to
 * `threads` threads (the caller's thread is one of them); each thread takes the next undone
 * task, so uneven tasks or a thread slowed by other load balance out. Returns a non-OK status
 * if any task failed, else EA_OK. threads <= 1 runs everything inline, in order. */
int ea_parallel_run(ea_task_fn fn, void *arg, size_t ntasks, unsigned threads);

#ifdef __cplusplus
}
#endif
#endif
