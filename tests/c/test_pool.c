/*
 * test_pool.c -- the C core's thread pool (src/cbce/core/runtime/pool.c), POSIX only:
 *
 *  (a) every task of every job runs exactly once, for many (ntasks, nthreads), and its
 *      writes are visible when cbce__pool_run returns;
 *  (b) the split is the documented static one: the caller runs range 0 and, when the pool
 *      is free, exactly nt = min(nthreads, 64, ntasks) threads run one contiguous range each,
 *      range i starting at i*q + min(i, r) (q = ntasks / nt, r = ntasks % nt);
 *  (c) a task that calls the pool (which its own job keeps busy) gets that job run
 *      serially on its own thread, without deadlock;
 *  (d) several application threads calling at once: each job is run exactly once, either
 *      serially by its caller (the pool was busy) or with the split of (b);
 *  (e) fork() while another thread keeps the pool busy: in the child the pool works again,
 *      with new workers (the split of (b)), and nothing hangs: alarm() is the watchdog,
 *      SIGALRM kills a hung process, and the parent reports a child killed by it.
 *
 * `test_pool --bench` instead prints the cost of one two-thread call with trivial tasks,
 * against starting and joining a thread per call (what the driver did before the pool).
 * Built by `make test` and ctest against the static library; run under ASan+UBSan and
 * ThreadSanitizer (TSAN_OPTIONS=die_after_fork=0: the children of (e) start threads) by
 * .ci/embed.sh.  Exit status 1 if any check failed; each failure names its case.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/pool.h"

static long n_checks, n_failed;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

/* Counts a check; a failure prints `what` and the case: a job's (ntasks, nthreads), or,
   with ntasks == (size_t)-1, the number `nthreads` of the fork or thread concerned. */
static int check(int ok, const char *what, size_t ntasks, int nthreads)
{
    pthread_mutex_lock(&report_lock);
    n_checks++;
    if (!ok && ++n_failed <= 50) {
        if (ntasks == (size_t)-1)
            printf("FAIL: %s (number %d)\n", what, nthreads);
        else
            printf("FAIL: %s (ntasks %zu, nthreads %d)\n", what, ntasks, nthreads);
    }
    pthread_mutex_unlock(&report_lock);
    return ok;
}
#define NONE ((size_t)-1)

/* One job's record: how often each task ran and on which thread. */
typedef struct job {
    size_t ntasks;
    int *count;
    pthread_t *who;
    int nested;   /* (c): each task also runs a small job of its own */
    int *bad;     /* per task: its nested job was not run once, serially, on its thread */
} job;

static void job_init(job *j, size_t ntasks)
{
    j->ntasks = ntasks;
    j->count = calloc(ntasks + 1, sizeof *j->count);
    j->who = calloc(ntasks + 1, sizeof *j->who);
    j->bad = calloc(ntasks + 1, sizeof *j->bad);
    j->nested = 0;
    if (!j->count || !j->who || !j->bad) {
        printf("FAIL: out of memory\n");
        exit(1);
    }
}

static void job_free(job *j)
{
    free(j->count);
    free(j->who);
    free(j->bad);
}

typedef struct small_job {
    int count[6];
    pthread_t who[6];
} small_job;

static void small_task(void *ctx, size_t t)
{
    small_job *s = (small_job *)ctx;
    s->count[t]++;
    s->who[t] = pthread_self();
}

static void task(void *ctx, size_t t)
{
    job *j = (job *)ctx;
    j->count[t]++;
    j->who[t] = pthread_self();
    if (j->nested) {
        small_job s;
        int i, ok = 1;
        memset(&s, 0, sizeof s);
        cbce__pool_run(small_task, &s, 6, 3);
        for (i = 0; i < 6; i++)
            ok &= s.count[i] == 1 && pthread_equal(s.who[i], pthread_self());
        j->bad[t] = !ok;
    }
}

/*
 * Runs a job and checks it: every task once; task 0 on the caller; the tasks split into
 * contiguous ranges of distinct threads; with must_split, exactly the ranges of (b),
 * otherwise either those or one range (all serial).  Returns 1 if all is well.
 */
static int run_and_check(size_t ntasks, int nthreads, int must_split, int nested)
{
    job j;
    size_t t, q, r, i, nt = nthreads > 1 ? (size_t)nthreads : 1, nranges = 0;
    size_t starts[CBCE__POOL_MAX_THREADS + 1];
    int ok = 1, once = 1, contiguous = 1, distinct = 1, as_documented, nested_ok = 1;
    job_init(&j, ntasks);
    j.nested = nested;
    cbce__pool_run(task, &j, ntasks, nthreads);
    for (t = 0; t < ntasks; t++)
        once &= j.count[t] == 1;
    ok &= check(once, "every task runs exactly once", ntasks, nthreads);
    if (!once || ntasks == 0) {
        job_free(&j);
        return ok;
    }
    ok &= check(pthread_equal(j.who[0], pthread_self()), "the caller runs task 0", ntasks,
                nthreads);
    /* the ranges: where the thread changes */
    for (t = 0; t < ntasks; t++) {
        if (t > 0 && pthread_equal(j.who[t], j.who[t - 1]))
            continue;
        if (nranges == CBCE__POOL_MAX_THREADS) {
            contiguous = 0;
            break;
        }
        starts[nranges++] = t;
    }
    for (i = 0; contiguous && i < nranges; i++)
        for (q = i + 1; q < nranges; q++)
            distinct &= !pthread_equal(j.who[starts[i]], j.who[starts[q]]);
    ok &= check(contiguous && distinct, "each thread runs one contiguous range", ntasks,
                nthreads);
    if (nt > CBCE__POOL_MAX_THREADS)
        nt = CBCE__POOL_MAX_THREADS;
    if (nt > ntasks)
        nt = ntasks;
    q = ntasks / nt;
    r = ntasks % nt;
    as_documented = contiguous && distinct && nranges == nt;
    for (i = 0; as_documented && i < nt; i++)
        as_documented = starts[i] == i * q + (i < r ? i : r);
    if (must_split)
        ok &= check(as_documented, "the pool is free: the documented split", ntasks, nthreads);
    else
        ok &= check(as_documented || nranges == 1, "the documented split or serial", ntasks,
                    nthreads);
    for (t = 0; t < ntasks; t++)
        nested_ok &= !j.bad[t];
    if (nested)
        ok &= check(nested_ok, "a task's own pool job runs serially on its thread",
                    ntasks, nthreads);
    job_free(&j);
    return ok;
}

/* ---- (d) concurrent callers ------------------------------------------------------------- */

static void *caller_main(void *arg)
{
    unsigned seed = (unsigned)(size_t)arg * 2654435761u + 1u;
    int k;
    for (k = 0; k < 150; k++) {
        seed = seed * 1103515245u + 12345u;
        run_and_check((seed >> 8) % 300, 1 + (int)((seed >> 20) % 6), 0, 0);
    }
    return NULL;
}

/* ---- (e) fork -------------------------------------------------------------------------- */

static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;
static int stop_flag;

static void *busy_main(void *arg)
{
    int stop = 0;
    (void)arg;
    while (!stop) {
        run_and_check(64, 4, 0, 0);
        pthread_mutex_lock(&stop_lock);
        stop = stop_flag;
        pthread_mutex_unlock(&stop_lock);
    }
    return NULL;
}

static void test_fork(void)
{
    pthread_t busy;
    int k, nfork = 20;
    run_and_check(100, 4, 1, 0); /* the parent's workers exist */
    if (!check(pthread_create(&busy, NULL, busy_main, NULL) == 0, "start a thread", NONE, 0))
        return;
    for (k = 0; k < nfork; k++) {
        pid_t pid;
        int status = 0;
        struct timespec pause = {0, 200000L * (k % 5)}; /* fork at varied moments */
        nanosleep(&pause, NULL);
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            int ok = 1;
            alarm(120); /* a hang in the child kills it (generous: ASan on a loaded machine) */
            /* the busy thread may have held the test's own lock at the fork: reset it, as
               the pool resets its locks (without this, the child hangs here, not in the pool) */
            pthread_mutex_init(&report_lock, NULL);
            ok &= run_and_check(37, 2, 1, 0);
            ok &= run_and_check(100, 4, 1, 0);
            ok &= run_and_check(1000, 8, 1, 0);
            fflush(stdout);
            _exit(ok ? 0 : 1);
        }
        if (!check(pid > 0, "fork", NONE, k))
            break;
        if (!check(waitpid(pid, &status, 0) == pid, "waitpid", NONE, k))
            break;
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
            check(0, "the child hung (killed by its 120 s alarm)", NONE, k);
        else
            check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the child's pool works (it exits 0)", NONE, k);
    }
    pthread_mutex_lock(&stop_lock);
    stop_flag = 1;
    pthread_mutex_unlock(&stop_lock);
    pthread_join(busy, NULL);
    run_and_check(100, 4, 1, 0); /* and the parent's pool still works */
}

/* ---- --bench ----------------------------------------------------------------------------- */

static void trivial(void *ctx, size_t t) { ((volatile long *)ctx)[16 * t] += 1; }

typedef struct percall {
    void *ctx;
} percall;
static void *percall_main(void *arg)
{
    trivial(((percall *)arg)->ctx, 1);
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bench(void)
{
    static long cells[64];
    enum { ROUNDS = 15, CALLS = 4000 };
    double pool_us[ROUNDS], thr_us[ROUNDS], ser_us[ROUNDS];
    int r, k;
    cbce__pool_run(trivial, cells, 2, 2); /* create the worker */
    for (r = 0; r < ROUNDS; r++) {
        double t0 = now();
        for (k = 0; k < CALLS; k++)
            cbce__pool_run(trivial, cells, 2, 2);
        pool_us[r] = (now() - t0) / CALLS * 1e6;
        t0 = now();
        for (k = 0; k < CALLS; k++) {
            pthread_t th;
            percall pc;
            pc.ctx = cells;
            if (pthread_create(&th, NULL, percall_main, &pc) == 0) {
                trivial(cells, 0);
                pthread_join(th, NULL);
            }
        }
        thr_us[r] = (now() - t0) / CALLS * 1e6;
        t0 = now();
        for (k = 0; k < CALLS; k++)
            cbce__pool_run(trivial, cells, 2, 1);
        ser_us[r] = (now() - t0) / CALLS * 1e6;
    }
    qsort(pool_us, ROUNDS, sizeof(double), cmp_double);
    qsort(thr_us, ROUNDS, sizeof(double), cmp_double);
    qsort(ser_us, ROUNDS, sizeof(double), cmp_double);
    printf("one call, 2 trivial tasks, 2 threads (us per call; median [min, max] of %d rounds"
           " of %d calls):\n", ROUNDS, CALLS);
    printf("  pool:                     %7.2f [%.2f, %.2f]\n", pool_us[ROUNDS / 2], pool_us[0],
           pool_us[ROUNDS - 1]);
    printf("  pthread_create+join/call: %7.2f [%.2f, %.2f]\n", thr_us[ROUNDS / 2], thr_us[0],
           thr_us[ROUNDS - 1]);
    printf("  serial (nthreads 1):      %7.3f\n", ser_us[ROUNDS / 2]);
    printf("  ratio create+join / pool: %.1f\n", thr_us[ROUNDS / 2] / pool_us[ROUNDS / 2]);
}

int main(int argc, char **argv)
{
    static const size_t ntasks[] = {0, 1, 2, 3, 5, 7, 8, 31, 63, 64, 65, 100, 257, 1000, 4999};
    static const int nthreads[] = {-3, 0, 1, 2, 3, 4, 5, 7, 8, 16, 63, 64, 65, 1000};
    pthread_t callers[6];
    size_t a, b;
    int c, started[6];
    if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
        bench();
        return 0;
    }
    alarm(600); /* the whole test, even under a sanitizer, takes far less */
    /* (a), (b): the pool is free; twice, so the second round reuses the workers */
    for (c = 0; c < 2; c++)
        for (a = 0; a < sizeof ntasks / sizeof *ntasks; a++)
            for (b = 0; b < sizeof nthreads / sizeof *nthreads; b++)
                run_and_check(ntasks[a], nthreads[b], 1, 0);
    /* (c) */
    run_and_check(8, 4, 1, 1);
    run_and_check(50, 3, 1, 1);
    /* (d) */
    for (c = 0; c < 6; c++)
        started[c] = check(pthread_create(&callers[c], NULL, caller_main, (void *)(size_t)c) == 0,
                           "start a caller thread", NONE, c);
    for (c = 0; c < 6; c++)
        if (started[c])
            pthread_join(callers[c], NULL);
    run_and_check(1000, 8, 1, 0); /* the pool is free again */
    /* (e) */
    test_fork();
    printf("%s: %ld checks, %ld failed (thread pool)\n", n_failed ? "FAILED" : "ok", n_checks,
           n_failed);
    return n_failed ? 1 : 0;
}
