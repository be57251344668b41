/*
 * ptalloc-replay OPS_FD RESULT_FD: the driver of `ptalloc replay`.
 *
 * Runs the operations of OPS_FD (cmd/replay.h, written by cmd/replay.c)
 * on the ptalloc linked into this program (libptalloc.a), with whatever
 * options the environment gives it (PTALLOC_<NAME>, checked by the
 * command), and writes its measurements to RESULT_FD as "key value" lines.
 *
 * Why a program of its own: the command links ptalloc too and allocates
 * while it reads a log; replayed there, the record's calls would share a
 * heap with the reader's.  Here the heap is fresh: nothing before main
 * allocates, and from main on the only allocation calls are the replayed
 * ones, those of pthread_create and of a thread's end (between trace marks
 * that tell the command to leave them out).  Operations are read with
 * read() into a fixed buffer, the pointer table and the thread table are
 * mmapped: none of the driver's own memory comes from the allocator.
 *
 * Threads.  Recorded thread 0 is replayed on the main thread, every other
 * recorded thread on a thread of its own, started at its first operation
 * and ended at its RP_EXIT (the record's thread_exit: its cache goes back
 * to the arenas there, as it did).  The main thread is the sequencer: it
 * reads the operations in the log's order and hands each to its thread,
 * waiting until it is done before the next, so every thread sees its own
 * calls in order and every call sees the heap the record's call saw.
 * The handoff is a word per thread and a futex: simple, not fast.
 *
 * Memory is touched as the header's touch mode says (one byte per page by
 * default), so that resident memory reflects blocks a program uses.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include "ptalloc.h"
#include "replay.h"
#include "log.h"

/* C23's, exported by ptalloc; glibc 2.36's headers do not declare them. */
void free_sized(void *ptr, size_t size);
void free_aligned_sized(void *ptr, size_t alignment, size_t size);

_Static_assert(sizeof(struct rp_op) == 32, "rp_op is 32 bytes in the file");

static void **slots;                /* replayed pointer of each slot */
static uint64_t nslots;
static int touch_mode;
static size_t page_size;
static uint64_t null_results;       /* replay got NULL where the record got a block */
static uint64_t extra_results;      /* replay got a block where the record got NULL */

/* Errors before the replay starts: stderr, exit 2 (the command adds
 * nothing: the message names the driver). */
static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(buf, sizeof buf, "ptalloc-replay: ");
    n += vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    if (write(2, buf, (size_t)n) < 0)
        _exit(2);
    _exit(2);
}

static void *map_zero(size_t bytes)
{
    void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        fail("cannot map %zu bytes: %s", bytes, strerror(errno));
    return p;
}

/* ---- replaying one call ---------------------------------------------------------- */

static void touch(void *p, size_t n)
{
    if (!p || !n)
        return;
    char *c = p;
    switch (touch_mode) {
    case RP_TOUCH_PAGE:
        /* Touches a page apart, and the last byte: every page the block
         * spans, whatever its offset in the first. */
        for (size_t i = 0; i < n; i += page_size)
            c[i] = 1;
        c[n - 1] = 1;
        break;
    case RP_TOUCH_ALL:
        memset(c, 0x5a, n);
        break;
    }
}

static void *slot_ptr(uint32_t s)
{
    return s == RP_NONE || s >= nslots ? NULL : slots[s];
}

/* Where an allocation's result goes.  The record's slot is RP_NONE when
 * the recorded call failed: a block the replay got anyway is kept out of
 * the table (never freed, as the record never freed it). */
static void put_result(const struct rp_op *op, void *p, size_t request)
{
    if (op->slot != RP_NONE && op->slot < nslots) {
        slots[op->slot] = p;
        if (!p)
            null_results++;
    } else if (p) {
        extra_results++;
    }
    touch(p, request);
}

static size_t mul_or_zero(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) || r > SIZE_MAX ? 0 : (size_t)r;
}

static void run_op(const struct rp_op *op)
{
    void *p;
    size_t n;
    switch (op->type) {
    case TLOG_MALLOC:
        put_result(op, malloc(op->a), op->a);
        break;
    case TLOG_CALLOC:
        put_result(op, calloc(op->a, op->b), mul_or_zero(op->a, op->b));
        break;
    case TLOG_REALLOC:
    case TLOG_REALLOCARRAY:
        n = op->type == TLOG_REALLOC ? op->a : mul_or_zero(op->a, op->b);
        p = op->type == TLOG_REALLOC ? realloc(slot_ptr(op->old), op->a)
                                     : reallocarray(slot_ptr(op->old), op->a, op->b);
        if (p)
            put_result(op, p, n);
        else if (n == 0 && op->old != RP_NONE && op->old < nslots)
            slots[op->old] = NULL;          /* freed */
        else if (op->slot != RP_NONE && !slot_ptr(op->old))
            null_results++;                 /* an allocation that failed */
        break;
    case TLOG_FREE:
        free(slot_ptr(op->slot));
        break;
    case TLOG_FREE_SIZED:
        free_sized(slot_ptr(op->slot), op->a);
        break;
    case TLOG_FREE_ALIGNED_SIZED:
        free_aligned_sized(slot_ptr(op->slot), op->a, op->b);
        break;
    case TLOG_MEMALIGN:
        put_result(op, memalign(op->a, op->b), op->b);
        break;
    case TLOG_ALIGNED_ALLOC:
        put_result(op, aligned_alloc(op->a, op->b), op->b);
        break;
    case TLOG_POSIX_MEMALIGN:
        if (posix_memalign(&p, op->a, op->b) != 0)
            p = NULL;
        put_result(op, p, op->b);
        break;
    case TLOG_VALLOC:
        put_result(op, valloc(op->a), op->a);
        break;
    case TLOG_PVALLOC:
        put_result(op, pvalloc(op->a), op->a);
        break;
    case TLOG_MALLOC_TRIM:
        malloc_trim(op->a);
        break;
    case RP_PRE:
        /* A chunk of a snapshot: the request whose chunk has its size
         * (8 bytes of header for a heap chunk, 16 for a mapped one). */
        n = op->a > 16 ? op->a - (op->b ? 16 : 8) : 1;
        put_result(op, malloc(n), n);
        break;
    }
}

/* ---- threads ----------------------------------------------------------------------- */

enum { IDLE, WORK, QUIT };

struct worker {
    int state;                      /* IDLE, WORK, QUIT: the futex word */
    int started;
    const struct rp_op *ops;        /* a run of this thread's operations */
    size_t nops;
    pthread_t thread;
};

static struct worker *workers;      /* by recorded thread number */
static uint32_t nthreads;
static uint64_t threads_started;

static void futex_wait(int *word, int value)
{
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}

static void futex_wake(int *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Waits until *word is no longer `value`: a short spin first, as the
 * other side is often quick (a few allocation calls).  Short: with fewer
 * CPUs than threads, a longer spin measured slower, not faster. */
static int wait_change(int *word, int value)
{
    int v;
    for (int spin = 0; spin < 200; spin++) {
        if ((v = __atomic_load_n(word, __ATOMIC_ACQUIRE)) != value)
            return v;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    while ((v = __atomic_load_n(word, __ATOMIC_ACQUIRE)) == value)
        futex_wait(word, value);
    return v;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        int s = wait_change(&w->state, IDLE);
        if (s == QUIT)
            break;
        for (size_t i = 0; i < w->nops; i++)
            run_op(&w->ops[i]);
        __atomic_store_n(&w->state, IDLE, __ATOMIC_RELEASE);
        futex_wake(&w->state);
    }
    /* What the thread's end allocates or frees (its cache goes back to
     * the arenas, not a call) is not the record's. */
    ptalloc_trace_mark(RP_MARK_SKIP);
    return NULL;
}

static struct worker *worker_of(uint32_t t)
{
    struct worker *w = &workers[t];
    if (!w->started) {
        /* pthread_create allocates (the new thread's TLS vector). */
        ptalloc_trace_mark(RP_MARK_SKIP);
        w->state = IDLE;
        int err = pthread_create(&w->thread, NULL, worker_main, w);
        ptalloc_trace_mark(RP_MARK_GO);
        if (err)
            fail("cannot start a thread for recorded thread %u: %s", t, strerror(err));
        w->started = 1;
        threads_started++;
    }
    return w;
}

/* Runs ops[0..n) on w's thread; they stay in the buffer until it is done. */
static void handoff(struct worker *w, const struct rp_op *ops, size_t n)
{
    w->ops = ops;
    w->nops = n;
    __atomic_store_n(&w->state, WORK, __ATOMIC_RELEASE);
    futex_wake(&w->state);
    wait_change(&w->state, WORK);
}

static void worker_end(uint32_t t)
{
    struct worker *w = &workers[t];
    if (!w->started)
        return;
    __atomic_store_n(&w->state, QUIT, __ATOMIC_RELEASE);
    futex_wake(&w->state);
    ptalloc_trace_mark(RP_MARK_SKIP);
    pthread_join(w->thread, NULL);
    ptalloc_trace_mark(RP_MARK_GO);
    w->started = 0;
}

/* ---- reading operations ------------------------------------------------------------ */

static void read_all(int fd, void *buf, size_t n, const char *what)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            fail("operations file: %s cut short", what);
        got += (size_t)r;
    }
}

#define BATCH 2048                  /* operations per read: 64 KiB */

/* ---- measurements ------------------------------------------------------------------ */

/* A "Vm...:  N kB" line of /proc/self/status, in kB (0 if absent). */
static uint64_t status_kb(const char *key)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    size_t klen = strlen(key);
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, key, klen) == 0 && line[klen] == ':')
            return strtoull(line + klen + 1, NULL, 10);
    return 0;
}

static uint64_t ns_of(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put_kv(int fd, const char *key, uint64_t v)
{
    char line[96];
    int n = snprintf(line, sizeof line, "%s %llu\n", key, (unsigned long long)v);
    if (write(fd, line, (size_t)n) != n)
        fail("cannot write the results: %s", strerror(errno));
}

int main(int argc, char **argv)
{
    if (argc != 3)
        fail("usage: ptalloc-replay OPS_FD RESULT_FD (started by 'ptalloc replay')");
    int ops_fd = atoi(argv[1]), res_fd = atoi(argv[2]);
    struct rp_header h;
    read_all(ops_fd, &h, sizeof h, "header");
    if (memcmp(h.magic, RP_MAGIC, 8) != 0)
        fail("operations file: not written by this version of 'ptalloc replay'");
    if (h.threads == 0 || h.threads > 65536 || h.slots > (1ull << 40))
        fail("operations file: %u threads, %llu slots: corrupt", h.threads,
             (unsigned long long)h.slots);
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    touch_mode = (int)h.touch;
    nslots = h.slots;
    nthreads = h.threads;
    slots = map_zero(nslots * sizeof *slots);
    workers = map_zero(nthreads * sizeof *workers);
    struct rp_op *buf = map_zero(BATCH * sizeof *buf);

    uint64_t rss_start = status_kb("VmRSS");
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t wall0 = ns_of(CLOCK_MONOTONIC);

    uint64_t done = 0, calls = 0;
    int in_pre = 0;
    while (done < h.ops) {
        size_t want = h.ops - done < BATCH ? (size_t)(h.ops - done) : BATCH;
        read_all(ops_fd, buf, want * sizeof *buf, "operations");
        for (size_t i = 0; i < want; i++)
            if (buf[i].thread >= nthreads)
                fail("operation %llu: thread %u of %u: corrupt",
                     (unsigned long long)(done + i), buf[i].thread, nthreads);
        for (size_t i = 0; i < want; i++) {
            const struct rp_op *op = &buf[i];
            /* The snapshot's chunks come first; they are not the
             * record's calls. */
            if ((op->type == RP_PRE) != in_pre) {
                in_pre = !in_pre;
                ptalloc_trace_mark(in_pre ? RP_MARK_SKIP : RP_MARK_GO);
            }
            if (op->type == RP_EXIT) {
                if (op->thread != 0)
                    worker_end(op->thread);
                continue;
            }
            if (op->type != RP_PRE)
                calls++;
            if (op->thread == 0) {
                run_op(op);
                continue;
            }
            /* The calls that follow on the same thread go with this one:
             * one handoff for a run, not one per call. */
            size_t n = 1;
            while (i + n < want && buf[i + n].thread == op->thread && buf[i + n].type < RP_PRE)
                n++;
            calls += n - 1;
            handoff(worker_of(op->thread), op, n);
            i += n - 1;
        }
        done += want;
    }
    uint64_t wall1 = ns_of(CLOCK_MONOTONIC);
    getrusage(RUSAGE_SELF, &ru1);
    ptalloc_trace_mark(RP_MARK_SKIP);
    for (uint32_t t = 1; t < nthreads; t++)
        worker_end(t);

    struct mallinfo2 mi = mallinfo2();
    uint64_t max_system = 0;
    for (int a = 0; a < ptalloc_arena_count(); a++) {
        struct ptalloc_arena_info ai;
        if (ptalloc_arena_info(a, &ai))
            max_system += ai.max_system_bytes;
    }
    uint64_t cpu_ns = (uint64_t)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
                                 ru0.ru_stime.tv_sec) * 1000000000u +
                      (uint64_t)((ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec +
                                  ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) * 1000);
    put_kv(res_fd, "ops", done);
    put_kv(res_fd, "calls", calls);
    put_kv(res_fd, "threads", threads_started + 1);
    put_kv(res_fd, "wall_ns", wall1 - wall0);
    put_kv(res_fd, "cpu_ns", cpu_ns);
    put_kv(res_fd, "rss_start_kb", rss_start);
    put_kv(res_fd, "rss_peak_kb", status_kb("VmHWM"));
    put_kv(res_fd, "rss_final_kb", status_kb("VmRSS"));
    put_kv(res_fd, "heap_final", mi.arena + mi.hblkhd);
    put_kv(res_fd, "mmapped_final", mi.hblkhd);
    put_kv(res_fd, "in_use_final", mi.uordblks + mi.hblkhd);
    put_kv(res_fd, "arena_max_system", max_system);
    put_kv(res_fd, "null_results", null_results);
    put_kv(res_fd, "extra_results", extra_results);
    put_kv(res_fd, "minor_faults", (uint64_t)(ru1.ru_minflt - ru0.ru_minflt));
    return 0;
}
