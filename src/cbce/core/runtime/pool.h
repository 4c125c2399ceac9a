/*
 * pool.h -- the C core's persistent thread pool (internal; not installed, not part of the API).
 *
 * cbce__pool_run(fn, ctx, ntasks, nthreads) calls fn(ctx, t) once for every t in [0, ntasks)
 * on up to nthreads threads, the calling thread being one of them, and returns when all are
 * done; every write of the tasks is then visible to the caller.  The split is static:
 * thread i (0 = the caller) runs one contiguous range of tasks, the i-th of nt nearly equal
 * ranges (the first ntasks % nt ranges one task longer).  It never fails: where threads
 * cannot be had (creation fails, the pool is busy with another caller's job, or the platform
 * has no threads) the caller runs the tasks itself, in order.  So a caller whose result must
 * not depend on the thread count must not let it depend on which thread runs a task.
 * Tasks must not call cbce__pool_run (they would run serially: harmless) nor fork().
 * See pool.c for the protocol, fork safety and concurrency.
 */
#ifndef CBCE_POOL_H
#define CBCE_POOL_H

#include <stddef.h>

/* At most this many threads take part in one job, the caller included. */
#define CBCE__POOL_MAX_THREADS 64

typedef void (*cbce__task_fn)(void *ctx, size_t task);

void cbce__pool_run(cbce__task_fn fn, void *ctx, size_t ntasks, int nthreads);

#endif
