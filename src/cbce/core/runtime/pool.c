/*
 * pool.c -- a small persistent thread pool for the C core (see pool.h for the contract).
 *
 * Workers are created lazily, by the first job that needs them (never more than
 * CBCE__POOL_MAX_THREADS - 1), detached, and then sleep on a condition variable between
 * jobs: no thread spins while idle, and no exit handler joins them (process exit simply
 * ends them, asleep).  Nor do they spin before sleeping: on a busy 2-core machine a spin of
 * 200-4000 pauses made the median two-thread call slower (16-43 us against 9.5 us).  Worker i
 * (1, 2, ...) always runs range i of a job; range 0 is the
 * caller's.
 *
 * Protocol.  One job at a time runs on the pool: the caller that wins a try-lock on `busy`
 * owns the pool until its job is finished.  A caller that finds the pool busy (another
 * application thread is running a job) does not wait: it runs its whole job itself,
 * serially -- the same results, as the split never changes what a task computes.  The owner
 * posts a job under `lock`: the job fields, `pending` = the number of workers taking part
 * (nt - 1), and `gen` + 1, then wakes workers 1..nt-1, each on its own condition variable
 * (workers not taking part are not woken).  A worker remembers the last generation it saw
 * and runs when `gen` has moved past it and its id is below the job's nt; it reads the job
 * under `lock`, runs its range unlocked, and then, under `lock`, decrements `pending`; the
 * one reaching 0 wakes the owner (`done`).  The owner, after its own range, waits until
 * `pending` is 0: every worker of the job has finished, and the mutex hands their writes
 * over.  A worker therefore never runs a job twice, and never misses one it takes part in
 * (the owner waits for it before it can post the next).
 *
 * fork().  The child has only the forking thread: no workers.  A pthread_atfork child
 * handler forgets the workers and re-initialises the mutexes and `done` (one of them may
 * have been held by a thread that does not exist in the child), so the child's first job
 * creates its workers again.  If the handler cannot be registered, no worker is created.
 *
 * Platforms: POSIX threads; on Windows (no fork) the same code with SRW locks, condition
 * variables and CreateThread; elsewhere every job runs serially on the caller.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* pthread_sigmask under -std=c99 */
#endif
#include "runtime/pool.h"

#if defined(_WIN32)
#if !defined(_WIN32_WINNT) || _WIN32_WINNT < 0x0601
#undef _WIN32_WINNT
#define _WIN32_WINNT 0x0601 /* Windows 7: TryAcquireSRWLockExclusive */
#endif
#include <windows.h>
#define POOL_THREADS 1
typedef SRWLOCK pool_mutex;
typedef CONDITION_VARIABLE pool_cond;
#define MUTEX_INIT SRWLOCK_INIT
#define COND_INIT CONDITION_VARIABLE_INIT
#define mutex_lock(m) AcquireSRWLockExclusive(m)
#define mutex_unlock(m) ReleaseSRWLockExclusive(m)
#define mutex_trylock(m) (TryAcquireSRWLockExclusive(m) != 0)
#define cond_init(c) InitializeConditionVariable(c)
#define cond_wait(c, m) SleepConditionVariableSRW(c, m, INFINITE, 0)
#define cond_signal(c) WakeConditionVariable(c)
static void worker_main(void *arg);
static DWORD WINAPI worker_entry(LPVOID arg)
{
    worker_main(arg);
    return 0;
}
static int spawn(void *arg)
{
    HANDLE h = CreateThread(NULL, 0, worker_entry, arg, 0, NULL);
    if (h != NULL)
        CloseHandle(h); /* detached: the handle is not needed */
    return h != NULL;
}
static int fork_guard(void) { return 1; } /* no fork on Windows */
#elif defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#include <signal.h>
#define POOL_THREADS 1
typedef pthread_mutex_t pool_mutex;
typedef pthread_cond_t pool_cond;
#define MUTEX_INIT PTHREAD_MUTEX_INITIALIZER
#define COND_INIT PTHREAD_COND_INITIALIZER
#define mutex_lock(m) pthread_mutex_lock(m)
#define mutex_unlock(m) pthread_mutex_unlock(m)
#define mutex_trylock(m) (pthread_mutex_trylock(m) == 0)
#define cond_init(c) pthread_cond_init(c, NULL)
#define cond_wait(c, m) pthread_cond_wait(c, m)
#define cond_signal(c) pthread_cond_signal(c)
static void worker_main(void *arg);
static void *worker_entry(void *arg)
{
    worker_main(arg);
    return NULL;
}
/* A detached worker with every signal blocked: signals go to the application's threads. */
static int spawn(void *arg)
{
    pthread_t th;
    sigset_t all, old;
    int ok;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    ok = pthread_create(&th, NULL, worker_entry, arg) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (ok)
        pthread_detach(th);
    return ok;
}
static void after_fork_child(void);
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static int atfork_ok;
static void register_atfork(void) { atfork_ok = pthread_atfork(NULL, NULL, after_fork_child) == 0; }
static int fork_guard(void)
{
    pthread_once(&atfork_once, register_atfork);
    return atfork_ok;
}
#else
#define POOL_THREADS 0
#endif

/* Tasks [begin, end) of range i of nt: sizes q or q + 1, no overflow for any ntasks. */
static void run_range(cbce__task_fn fn, void *ctx, size_t ntasks, size_t nt, size_t i)
{
    size_t q = ntasks / nt, r = ntasks % nt;
    size_t t = i * q + (i < r ? i : r), end = t + q + (i < r);
    for (; t < end; t++)
        fn(ctx, t);
}

#if POOL_THREADS
typedef struct pool_worker {
    size_t id;         /* 1 .. CBCE__POOL_MAX_THREADS - 1 */
    unsigned long gen; /* the last generation this worker saw; its own */
    pool_cond wake;    /* it sleeps here */
} pool_worker;

static struct {
    pool_mutex busy; /* held by the owner of the pool for a whole job */
    pool_mutex lock; /* guards the fields below and the workers' sleep */
    pool_cond done;  /* the owner sleeps here until pending == 0 */
    unsigned long gen;
    size_t pending;
    cbce__task_fn fn;
    void *ctx;
    size_t ntasks, nt;
    size_t nworkers; /* workers alive, ids 1..nworkers; only the owner changes it */
    pool_worker w[CBCE__POOL_MAX_THREADS - 1]; /* worker i is w[i - 1] */
} P = {.busy = MUTEX_INIT, .lock = MUTEX_INIT, .done = COND_INIT};

static void worker_main(void *arg)
{
    pool_worker *me = (pool_worker *)arg;
    mutex_lock(&P.lock);
    for (;;) {
        if (P.gen == me->gen || me->id >= P.nt) {
            cond_wait(&me->wake, &P.lock); /* may return spuriously: test again */
            continue;
        }
        cbce__task_fn fn = P.fn;
        void *ctx = P.ctx;
        size_t ntasks = P.ntasks, nt = P.nt;
        me->gen = P.gen;
        mutex_unlock(&P.lock);
        run_range(fn, ctx, ntasks, nt, me->id);
        mutex_lock(&P.lock);
        if (--P.pending == 0)
            cond_signal(&P.done);
    }
}

#if !defined(_WIN32)
static void after_fork_child(void)
{
    pthread_mutex_init(&P.busy, NULL);
    pthread_mutex_init(&P.lock, NULL);
    pthread_cond_init(&P.done, NULL);
    P.nworkers = 0; /* their condition variables are initialised again when re-created */
    P.pending = 0;
}
#endif
#endif

void cbce__pool_run(cbce__task_fn fn, void *ctx, size_t ntasks, int nthreads)
{
    size_t i, nt = nthreads > 1 ? (size_t)nthreads : 1;
    if (nt > CBCE__POOL_MAX_THREADS)
        nt = CBCE__POOL_MAX_THREADS;
    if (nt > ntasks)
        nt = ntasks;
#if POOL_THREADS
    if (nt > 1 && mutex_trylock(&P.busy)) {
        /* Grow the pool to nt - 1 workers; settle for fewer if a thread cannot start. */
        while (P.nworkers < nt - 1 && fork_guard()) {
            pool_worker *w = &P.w[P.nworkers];
            w->id = P.nworkers + 1;
            w->gen = P.gen; /* only the owner changes gen: a new worker waits for the next */
            cond_init(&w->wake);
            if (!spawn(w))
                break;
            P.nworkers++;
        }
        if (nt > P.nworkers + 1)
            nt = P.nworkers + 1;
        if (nt > 1) {
            mutex_lock(&P.lock);
            P.fn = fn;
            P.ctx = ctx;
            P.ntasks = ntasks;
            P.nt = nt;
            P.pending = nt - 1;
            P.gen++;
            for (i = 1; i < nt; i++)
                cond_signal(&P.w[i - 1].wake);
            mutex_unlock(&P.lock);
            run_range(fn, ctx, ntasks, nt, 0);
            mutex_lock(&P.lock);
            while (P.pending > 0)
                cond_wait(&P.done, &P.lock);
            mutex_unlock(&P.lock);
            mutex_unlock(&P.busy);
            return;
        }
        mutex_unlock(&P.busy);
    }
#endif
    for (i = 0; i < ntasks; i++)
        fn(ctx, i);
}
