/*
 * fork_handlers: fork with other fork handlers about, as on glibc.
 *
 * glibc takes its malloc locks inside fork, after every prepare handler,
 * and releases them before every parent or child handler.  So a prepare
 * handler may call malloc, and - the usual way a library protects its
 * state across fork - may lock a mutex that another thread holds while it
 * calls malloc.  A preloaded allocator registers handlers of its own, and
 * fork runs them in their place in the list: prepare handlers from the
 * last registered to the first, the others the other way.  Three sets
 * of handlers are registered here:
 *
 *  - "early", before any thread exists: its prepare locks a mutex that
 *    the worker threads hold while they allocate, then allocates, frees,
 *    reallocs and callocs; its parent handler frees and unlocks, its child
 *    handler allocates and resets the mutex;
 *  - "late", after the threads run: allocations in all three;
 *  - "compat", before any thread exists, through libc's
 *    pthread_atfork@GLIBC_2.2.5 (the compatibility symbol old binaries
 *    call), which goes straight to glibc's list: allocations
 *    in all three.  It is registered first, so ptalloc's handlers come
 *    after it: its prepare handler runs while ptalloc holds the locks.
 *
 * Three threads allocate and free, partly under the mutex, while the main
 * thread forks 150 times.  Each child allocates, checks the blocks its
 * handlers made and exits; a child that hangs for 10 s is a failure, and
 * the watchdog ends a parent stuck in fork (before ptalloc registered its
 * handlers ahead of everyone else's, it deadlocked on the mutex).
 */
#include "tt.h"

#include <stdatomic.h>
#include <sys/wait.h>

#define HOLD 8

static void *early_blocks[HOLD], *late_blocks[HOLD];
static atomic_long early_prepares, early_parents, late_prepares, late_parents;
static atomic_int stop;
static int (*heap_check)(int);       /* ptalloc_check, looked up before forking */

static void fill(void **blocks, size_t base)
{
    for (int i = 0; i < HOLD; i++) {
        blocks[i] = malloc(base + (size_t)i * 24);
        if (blocks[i])
            memset(blocks[i], 0x5a, base);
    }
    blocks[0] = realloc(blocks[0], base * 3);
    free(blocks[1]);
    blocks[1] = calloc(4, base);
}

static void empty(void **blocks)
{
    for (int i = 0; i < HOLD; i++) {
        free(blocks[i]);
        blocks[i] = NULL;
    }
}

static int all_there(void **blocks)
{
    for (int i = 0; i < HOLD; i++)
        if (!blocks[i])
            return 0;
    return 1;
}

static pthread_mutex_t lib_mutex = PTHREAD_MUTEX_INITIALIZER;

static void early_prepare(void)
{
    pthread_mutex_lock(&lib_mutex);
    fill(early_blocks, 40);
    early_prepares++;
}
static void early_parent(void)
{
    empty(early_blocks);
    free(malloc(300));
    early_parents++;
    pthread_mutex_unlock(&lib_mutex);
}
static void early_child(void)
{
    free(malloc(5000));
    pthread_mutex_init(&lib_mutex, NULL);
}
static void late_prepare(void)  { fill(late_blocks, 700); late_prepares++; }
static void late_parent(void)   { empty(late_blocks); late_parents++; }
static void late_child(void)    { void *p = malloc(64); free(realloc(p, 9000)); }

static void *compat_blocks[HOLD];
static atomic_long compat_prepares;
static void compat_prepare(void) { fill(compat_blocks, 90); compat_prepares++; }
static void compat_parent(void)  { empty(compat_blocks); }
static void compat_child(void)   { empty(compat_blocks); free(calloc(3, 700)); }

/* libc's own pthread_atfork, not the one in libc_nonshared.a (its
 * version is the architecture's first glibc: 2.2.5 on x86-64) */
#if defined(__x86_64__)
#define HAVE_COMPAT_ATFORK 1
int compat_atfork(void (*)(void), void (*)(void), void (*)(void));
__asm__(".symver compat_atfork, pthread_atfork@GLIBC_2.2.5");
#endif

static void *worker(void *arg)
{
    uint64_t x = (uintptr_t)arg * 2654435761u + 1;
    void *slot[64] = { 0 };
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        int i = (int)(x % 64);
        int under = (x >> 20) % 4 == 0;          /* a quarter under the library's mutex */
        if (under)
            pthread_mutex_lock(&lib_mutex);
        free(slot[i]);
        slot[i] = malloc(16 + x % 3000);
        if (under)
            pthread_mutex_unlock(&lib_mutex);
    }
    for (int i = 0; i < 64; i++)
        free(slot[i]);
    return NULL;
}

static int fork_round(int late)
{
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "fork_handlers: fork: %s\n", strerror(errno));
        return 0;
    }
    if (pid == 0) {
        int ok = all_there(early_blocks) && (!late || all_there(late_blocks));
        void *p[32];
        for (int i = 0; i < 32; i++)
            p[i] = malloc(32 + (size_t)i * 100);
        for (int i = 0; i < 32; i++)
            free(p[i]);
        empty(early_blocks);
        if (late)
            empty(late_blocks);
        _exit(ok && (!heap_check || heap_check(1) == 0) ? 0 : 3);
    }
    int status = tt_wait_child(pid, 10, "child");
    if (!tt_status_ok(status)) {
        tt_describe_status("child", status);
        return 0;
    }
    return 1;
}

int main(void)
{
    tt_watchdog("fork_handlers", 100);
    heap_check = (int (*)(int))dlsym(RTLD_DEFAULT, "ptalloc_check");
#ifdef HAVE_COMPAT_ATFORK
    /* first, so that it comes before ptalloc's handlers in glibc's list */
    CHECK(compat_atfork(compat_prepare, compat_parent, compat_child) == 0);
#endif
    CHECK(pthread_atfork(early_prepare, early_parent, early_child) == 0);

    pthread_t t[3];
    for (long i = 0; i < 3; i++)
        CHECK(pthread_create(&t[i], NULL, worker, (void *)(i + 1)) == 0);
    usleep(20000);                           /* contention: ptalloc's handlers */

    int good = 0, rounds = (int)tt_scaled(150, 40);
    for (int k = 0; k < rounds; k++) {
        if (k == rounds / 2)
            CHECK(pthread_atfork(late_prepare, late_parent, late_child) == 0);
        good += fork_round(k >= rounds / 2);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);

    CHECKF(good == rounds, "%d of %d forks went through", good, rounds);
    CHECK(early_prepares == rounds && early_parents == rounds);
    CHECK(late_prepares == rounds - rounds / 2 && late_parents == late_prepares);
#ifdef HAVE_COMPAT_ATFORK
    CHECK(compat_prepares == rounds);
#endif
    t_heap_check("end");
    return t_done();
}
