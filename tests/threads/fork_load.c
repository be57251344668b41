/*
 * fork_load: fork while other threads allocate, and fork from a signal
 * handler that interrupted malloc.
 *
 * Part 1 (glibc tst-mallocfork2): a single-threaded subprocess mallocs and
 *   frees in a loop while a sender process bombards it with SIGUSR1; the
 *   handler forks (the grandchild only _exit()s) and waits.  Forks that
 *   interrupt malloc/free are counted.  fork() is async-signal-safe with
 *   respect to malloc only while the process is single-threaded (glibc then
 *   takes no arena lock), so this part runs before any thread exists; the
 *   multi-threaded form deadlocks on glibc by design and is not tested.
 *
 * Part 2 (tst-mallocfork3 / tst-malloc-fork-deadlock): 3 threads allocate,
 *   free and swap blocks continuously while the main thread forks a few
 *   hundred times.  Each child checks and frees every block the threads held
 *   at the fork (their arenas' locks were held across fork), allocates and
 *   frees a few hundred blocks of mixed sizes (some children also start a
 *   thread), runs the heap check and exits.  A child that hangs is killed
 *   after 10 s and counts as a failure.
 */
#include "tt.h"

#include <sched.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/wait.h>

/* A block that carries its own description: [0] size, [1] key, last word
 * key ^ TAIL.  Lets a child check any block it finds without a side table. */
#define TAIL 0x7a11ba5eULL
#define MINBLK 24

static void *tagged_alloc(size_t size, unsigned owner)
{
    if (size < MINBLK) size = MINBLK;
    uint64_t *w = malloc(size);
    if (!w) return NULL;
    w[0] = size;
    w[1] = tt_key(w, size, owner);
    uint64_t k = w[1] ^ TAIL;
    memcpy((char *)w + size - 8, &k, 8);
    return w;
}

/* 1 when the block still holds what tagged_alloc wrote. */
static int tagged_ok(const void *p)
{
    const uint64_t *w = p;
    size_t size = w[0];
    if (size < MINBLK || size > (1u << 30) || malloc_usable_size((void *)p) < size)
        return 0;
    uint64_t k;
    memcpy(&k, (const char *)p + size - 8, 8);
    return k == (w[1] ^ TAIL);
}

/* ======================= part 1: fork from a signal handler ============= */

#define SIG_OBJECTS 509
#define SIG_MAXSIZE 70000

static volatile sig_atomic_t sig_received;
static volatile sig_atomic_t sig_handler_failures;
static volatile pid_t sig_sender;

static void sigusr1_fork(int signo)
{
    (void)signo;
    int saved = errno;
    if (sig_received) {               /* one fork per loop iteration */
        errno = saved;
        return;
    }
    if (sig_sender > 0)
        kill(sig_sender, SIGSTOP);    /* let the loop make progress */
    sig_received = 1;
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    if (pid < 0) {
        sig_handler_failures++;
    } else {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            sig_handler_failures++;
    }
    errno = saved;
}

static void sig_sender_loop(pid_t target)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;) {
        if (getppid() != target || kill(target, SIGUSR1) != 0)
            _exit(0);
        sched_yield();
    }
}

/* Runs in a single-threaded subprocess. */
static int sigfork_child(long target_hits, double max_secs)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sigusr1_fork;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);

    pid_t self = getpid();
    pid_t s = fork();
    if (s == 0)
        sig_sender_loop(self);
    if (s < 0) {
        perror("fork_load: fork (sender)");
        return 1;
    }
    sig_sender = s;

    static void *obj[SIG_OBJECTS];
    unsigned long long rs = 42;
    long hits = 0, iters = 0, bad = 0;
    double end = tt_now() + max_secs;
    while (hits < target_hits && tt_now() < end) {
        int slot = (int)(t_rand(&rs) % SIG_OBJECTS);
        size_t size = (size_t)(t_rand(&rs) % SIG_MAXSIZE);
        if (obj[slot] && !tagged_ok(obj[slot]))
            bad++;
        kill(s, SIGCONT);
        sig_received = 0;
        free(obj[slot]);
        obj[slot] = tagged_alloc(size, 1);
        if (sig_received)
            hits++;
        if (!obj[slot])
            bad++;
        iters++;
    }
    signal(SIGUSR1, SIG_IGN);
    kill(s, SIGKILL);
    waitpid(s, NULL, 0);

    for (int i = 0; i < SIG_OBJECTS; i++) {
        if (obj[i] && !tagged_ok(obj[i]))
            bad++;
        free(obj[i]);
    }
    CHECKF(bad == 0, "%ld corrupted blocks or failed allocations", bad);
    CHECKF(sig_handler_failures == 0, "%d forks in the handler failed", (int)sig_handler_failures);
    CHECKF(hits >= 10, "only %ld forks interrupted malloc/free in %ld iterations", hits, iters);
    t_heap_check("fork_load signal-handler fork");
    printf("fork_load: %ld forks from a signal handler interrupted malloc/free (%ld iterations)\n",
           hits, iters);
    fflush(stdout);
    return t_done();
}

/* ======================= part 2: fork under load ======================== */

#define NWORK  3
#define WSLOTS 128
#define XSLOTS 16

static _Atomic(void *) wslot[NWORK][WSLOTS];   /* always live blocks or NULL */
static _Atomic(void *) xslot[XSLOTS];          /* swapped between threads    */
static atomic_int stop_workers;
static atomic_long worker_bad;
static atomic_long worker_ops;

static size_t mixed_size(unsigned long long *rs)
{
    unsigned r = (unsigned)(t_rand(rs) % 1000);
    unsigned long long v = t_rand(rs);
    if (r < 550) return MINBLK + v % 1032;
    if (r < 700) return MINBLK + v % 120;
    if (r < 900) return 1033 + v % 7000;
    if (r < 995) return 8192 + v % 57344;
    return 131072 + v % 131072;
}

static void *load_worker(void *arg)
{
    int me = (int)(intptr_t)arg;
    unsigned long long rs = 1000 + me;
    long ops = 0;
    while (!atomic_load_explicit(&stop_workers, memory_order_relaxed)) {
        int i = (int)(t_rand(&rs) % WSLOTS);
        void *np = tagged_alloc(mixed_size(&rs), 2 + me);
        if (!np) { atomic_fetch_add(&worker_bad, 1); continue; }
        /* publish the new block before freeing the old one: at any instant
         * (and so in a forked child) every slot holds a live block */
        void *old = atomic_exchange(&wslot[me][i], np);
        if (old) {
            if (!tagged_ok(old)) atomic_fetch_add(&worker_bad, 1);
            if ((t_rand(&rs) & 3) == 0) {
                /* swap with the shared slots: the block we get back was
                 * allocated by another thread */
                old = atomic_exchange(&xslot[t_rand(&rs) % XSLOTS], old);
                if (old && !tagged_ok(old)) atomic_fetch_add(&worker_bad, 1);
            }
            free(old);
        }
        if ((++ops & 1023) == 0)
            atomic_fetch_add(&worker_ops, 1024);
    }
    return NULL;
}

static void *child_thread(void *arg)
{
    unsigned long long rs = (uintptr_t)arg;
    void *p[64];
    for (int i = 0; i < 64; i++)
        p[i] = tagged_alloc(mixed_size(&rs), 9);
    long bad = 0;
    for (int i = 0; i < 64; i++) {
        if (!p[i] || !tagged_ok(p[i])) bad++;
        free(p[i]);
    }
    return (void *)(intptr_t)bad;
}

/* The forked child: runs on the copy of a heap whose other threads vanished. */
static void load_child(int round)
{
    alarm(10);     /* the watchdog handler reports and _exit()s */
    t_failures = 0;
    long bad = 0;

    /* every block the workers held at the fork is intact and freeable */
    for (int t = 0; t < NWORK; t++)
        for (int i = 0; i < WSLOTS; i++) {
            void *p = atomic_load(&wslot[t][i]);
            if (!p) continue;
            if (!tagged_ok(p)) bad++;
            free(p);
        }
    for (int i = 0; i < XSLOTS; i++) {
        void *p = atomic_load(&xslot[i]);
        if (!p) continue;
        if (!tagged_ok(p)) bad++;
        free(p);
    }

    unsigned long long rs = 77 + round;
    enum { N = 300 };
    static void *p[N];
    static size_t sz[N];
    for (int i = 0; i < N; i++) {
        sz[i] = mixed_size(&rs);
        if (i % 8 == 0) {
            p[i] = calloc(1, sz[i]);
            if (p[i] && !tt_is_zero(p[i], sz[i])) bad++;
        } else {
            p[i] = malloc(sz[i]);
        }
        if (!p[i]) { bad++; continue; }
        tt_fill(p[i], sz[i], tt_key(p[i], sz[i], 5));
    }
    for (int i = 0; i < N; i += 3) {
        if (!p[i]) continue;
        size_t ns = mixed_size(&rs);
        void *q = realloc(p[i], ns);
        if (!q) { bad++; continue; }
        size_t keep = ns < sz[i] ? ns : sz[i];
        if (tt_verify(q, keep, tt_key(p[i], sz[i], 5)) != (size_t)-1) bad++;
        p[i] = q; sz[i] = ns;
        tt_fill(q, ns, tt_key(q, ns, 5));
    }
    if (round % 10 == 0) {
        pthread_t th;
        void *res = NULL;
        if (pthread_create(&th, NULL, child_thread, (void *)(uintptr_t)(round + 1)) != 0) {
            bad++;
        } else {
            pthread_join(th, &res);
            bad += (long)(intptr_t)res;
        }
    }
    for (int i = 0; i < N; i++) {
        if (!p[i]) continue;
        if (tt_verify(p[i], sz[i], tt_key(p[i], sz[i], 5)) != (size_t)-1) bad++;
        free(p[i]);
    }
    if (bad)
        fprintf(stderr, "fork_load: child %d: %ld bad blocks\n", round, bad);
    t_heap_check("fork_load child");
    _exit(bad || t_failures ? 1 : 0);
}

int main(void)
{
    tt_watchdog("fork_load", 150);
    long nforks = tt_scaled(300, 50);

    /* ---- part 1: before any thread exists ---- */
    fflush(stdout);
    pid_t sp = fork();
    if (sp == 0) {
        t_failures = 0;
        alarm(30);
        _exit(sigfork_child(tt_scaled(300, 30), 6.0 * tt_scale() + 1.0));
    }
    CHECK(sp > 0);
    if (sp > 0) {
        int st = tt_wait_child(sp, 40, "signal-handler fork subprocess");
        tt_describe_status("signal-handler fork subprocess", st);
        CHECK(tt_status_ok(st));
    }

    /* ---- part 2: fork under load ---- */
    pthread_t th[NWORK];
    for (int i = 0; i < NWORK; i++)
        CHECK(pthread_create(&th[i], NULL, load_worker, (void *)(intptr_t)i) == 0);

    unsigned long long rs = 5;
    void *mine[32] = { 0 };
    long failed = 0;
    double t0 = tt_now();
    for (long r = 0; r < nforks; r++) {
        /* the main thread allocates too */
        for (int k = 0; k < 8; k++) {
            int i = (int)(t_rand(&rs) % 32);
            if (mine[i] && !tagged_ok(mine[i])) failed++;
            free(mine[i]);
            mine[i] = tagged_alloc(mixed_size(&rs), 1);
        }
        pid_t pid = fork();
        if (pid == 0)
            load_child((int)r);
        if (pid < 0) {
            CHECKF(0, "fork failed: %s", strerror(errno));
            break;
        }
        int st = tt_wait_child(pid, 12, "child");
        if (!tt_status_ok(st)) {
            if (failed < 5)
                tt_describe_status("child", st);
            failed++;
        }
    }
    double dt = tt_now() - t0;
    atomic_store(&stop_workers, 1);
    for (int i = 0; i < NWORK; i++)
        pthread_join(th[i], NULL);

    CHECKF(failed == 0, "%ld of %ld children failed", failed, nforks);
    CHECKF(atomic_load(&worker_bad) == 0, "%ld bad blocks in workers", (long)atomic_load(&worker_bad));
    for (int t = 0; t < NWORK; t++)
        for (int i = 0; i < WSLOTS; i++) {
            void *p = atomic_load(&wslot[t][i]);
            if (p) { CHECK(tagged_ok(p)); free(p); }
        }
    for (int i = 0; i < XSLOTS; i++) {
        void *p = atomic_load(&xslot[i]);
        if (p) { CHECK(tagged_ok(p)); free(p); }
    }
    for (int i = 0; i < 32; i++) {
        if (mine[i]) CHECK(tagged_ok(mine[i]));
        free(mine[i]);
    }
    printf("fork_load: %ld forks under load in %.2fs (workers did ~%ld ops)\n",
           nforks, dt, (long)atomic_load(&worker_ops));
    t_heap_check("fork_load end");
    return t_done();
}
