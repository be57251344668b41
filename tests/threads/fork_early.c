/*
 * fork_early: fork just as a process becomes multi-threaded.
 *
 * A single-threaded process takes no arena locks, and ptalloc sets up its
 * fork handlers only when the first lock is really taken (src/arena.c).
 * This drives forks into that moment: each round is a fresh process that
 * allocates single-threaded, starts a thread that allocates at once
 * (sizes past the per-thread cache, so it takes arena locks), and forks
 * immediately and again a little later.  Every child must allocate, free,
 * start a thread of its own, fork a grandchild that allocates, and exit;
 * one that hangs (a lock inherited taken) is killed by its watchdog and
 * fails the round.  Passes on glibc as well.
 */
#include "tt.h"

#include <sched.h>
#include <stdatomic.h>
#include <sys/wait.h>

static atomic_int stop;

static void *hammer(void *arg)
{
    (void)arg;
    void *keep[16] = { 0 };
    unsigned r = 1;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        r = r * 1103515245 + 12345;
        int i = (r >> 16) % 16;
        free(keep[i]);
        keep[i] = malloc(1100 + (r >> 8) % 9000);
        if (keep[i])
            memset(keep[i], 0x5a, 64);
    }
    for (int i = 0; i < 16; i++)
        free(keep[i]);
    return NULL;
}

static void *small_worker(void *arg)
{
    for (int i = 0; i < 200; i++)
        free(malloc(16 + (size_t)(i * 37) % 5000));
    return arg;
}

/* Allocates a mixture and frees it; 0 on success. */
static int churn(int n)
{
    void *p[64];
    for (int i = 0; i < n; i++) {
        size_t sz = 8 + (size_t)(i * 7919) % 20000;
        p[i % 64] = malloc(sz);
        if (!p[i % 64])
            return 1;
        memset(p[i % 64], i, sz < 128 ? sz : 128);
        if (i % 64 == 63)
            for (int k = 0; k < 64; k++)
                free(p[k]);
    }
    for (int k = 0; k < n % 64; k++)
        free(p[k]);
    return 0;
}

/* In a child: allocate, start a thread, fork a grandchild, exit. */
static int child_work(void)
{
    alarm(10);
    if (churn(300))
        return 10;
    pthread_t t;
    if (pthread_create(&t, NULL, small_worker, NULL) != 0)
        return 11;
    if (churn(300))
        return 12;
    pid_t g = fork();
    if (g == 0) {
        alarm(10);
        _exit(churn(200) ? 13 : 0);
    }
    int st = 0;
    if (g < 0 || waitpid(g, &st, 0) != g)
        return 14;
    pthread_join(t, NULL);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 15;
    return 0;
}

/* One round, in a fresh single-threaded process; its exit status says
 * how it went. */
static int round_process(int delay_loops)
{
    if (churn(100))
        return 20;
    pthread_t t;
    if (pthread_create(&t, NULL, hammer, NULL) != 0)
        return 21;
    for (volatile int i = 0; i < delay_loops; i++)
        ;
    int bad = 0;
    for (int k = 0; k < 2 && !bad; k++) {
        pid_t c = fork();
        if (c == 0)
            _exit(child_work());
        int st = 0;
        if (c < 0 || waitpid(c, &st, 0) != c)
            bad = 22;
        else if (!WIFEXITED(st))
            bad = 23;               /* killed: hung (watchdog) or crashed */
        else if (WEXITSTATUS(st) != 0)
            bad = WEXITSTATUS(st);
        sched_yield();
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    return bad;
}

int main(void)
{
    tt_watchdog("fork_early", 300);
    int rounds = (int)tt_scaled(150, 30), failed = 0;
    for (int r = 0; r < rounds; r++) {
        pid_t p = fork();
        if (p == 0)
            _exit(round_process((r % 5) * 2000));
        int st = 0;
        if (p < 0 || waitpid(p, &st, 0) != p) {
            CHECKF(0, "round %d: fork/wait failed", r);
            failed++;
            continue;
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            if (++failed <= 3)
                fprintf(stderr, "round %d: %s %d\n", r,
                        WIFEXITED(st) ? "exit status" : "signal",
                        WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        }
    }
    CHECKF(failed == 0, "%d of %d rounds failed", failed, rounds);
    return t_done();
}
