/*
 * Decay: memory that has stayed free for purge_delay_ms goes back to the
 * system by itself (docs/DESIGN-MAP.md, "Decay").
 *
 *  - Free chunks: each one big enough to hold a whole page carries the
 *    time since which it has been free (its purge stamp, bins.h); once
 *    that is purge_delay_ms old, the pages inside it are released with
 *    MADV_DONTNEED (purge_chunk, sysmem.c) and the chunk stays in its bin.
 *    The boundary tags are what makes this possible in the middle of the
 *    heap: a free chunk's pages can go while its neighbours live.
 *  - The top: once nothing has split it or merged into it for
 *    purge_delay_ms, it is trimmed down to top_pad; else its tail that no
 *    allocation reached for that long (the top's smallest size since,
 *    top_low) goes: the data segment or the sub-heap shrinks.  A program
 *    cycling through tens of megabytes keeps them; one that stops using
 *    them gets them back.
 *  - When a thread leaves, an arena no thread uses gives back all it can
 *    at once, and the others trim their tops.
 *
 * The clock is read on the slow paths only: every DECAY_TICK_CALLS locked
 * calls (decay_count), every DECAY_GENERIC_CALLS calls past the fast
 * paths (decay_generic_count: the mid-size cache serves many without a
 * lock), at every free that leaves a chunk able to hold a page
 * (decay_freed), and before the top grows.  A pass runs when one is
 * due, with the arena's lock held.  Calls the tcache serves inline never
 * read it; a program that goes quiet, or whose calls all hit the tcache,
 * can have a thread of ptalloc's own run the passes (option
 * purge_thread, off by default).
 *
 * purge_delay_ms = 0 gives back at once, as glibc trims (and purges too);
 * SIZE_MAX (set as -1) never, but for malloc_trim.  An arena no thread
 * uses gives back at once what other threads free in it.
 */
#include <pthread.h>
#include <time.h>
#include "internal.h"
#include "vg.h"

/* At most this many chunks looked at, and madvise calls made, in one
 * pass: the lock is held, and in a threaded process each call interrupts
 * the other CPUs to flush their TLBs.  What is left goes at the next pass,
 * which is then due at the next tick.  Before the top grows, fewer: that
 * may come often. */
#define PASS_SCAN  65536
#define PASS_CALLS 1024
#define GROW_SCAN  256
#define GROW_CALLS 16

static uint64_t min_u64(uint64_t x, uint64_t y) { return x < y ? x : y; }

/* The bins a pass looks at, in its order: the unsorted bin, then the
 * large bins that may hold chunks of PURGE_MIN_CHUNK bytes, largest first
 * (the most memory per call). */
static unsigned purge_bins(void) { return NBINS - largebin_index(PURGE_MIN_CHUNK) + 1; }
static unsigned purge_bin_at(unsigned k) { return k == 0 ? UNSORTED_BIN : NBINS - k; }

/* Purges the chunks free since `old` or before, looking at `scan` chunks
 * and making `calls` calls at most; a pass goes on where the last one
 * stopped (resume), the purge before a growth starts from the largest.
 * Returns when the next one will be due (UINT64_MAX: none waits; `now`:
 * it stopped short). */
static uint64_t purge_idle(arena_t *a, uint64_t now, uint64_t old, size_t delay,
                           unsigned scan, unsigned max_calls, bool resume)
{
    uint64_t next = UINT64_MAX;
    unsigned scanned = 0, calls = 0, nbins = purge_bins(), from = resume ? a->purge_bin : 0;
    for (unsigned k = 0; k < nbins; k++) {
        unsigned at = (from + k) % nbins, i = purge_bin_at(at);
        chunk_t *bin = bin_at(a, i);
        for (chunk_t *p = bin->fd; p != bin; p = p->fd) {
            if (++scanned > scan || calls >= max_calls) {
                if (resume)
                    a->purge_bin = at;      /* go on from here next time */
                return now;
            }
            if (chunksize(p) < PURGE_MIN_CHUNK) {
                if (i == UNSORTED_BIN)
                    continue;
                break;                      /* sorted: the rest is smaller */
            }
            uint64_t since = *purge_stamp(p);
            if (since == PURGED)
                continue;
            if (since > old)
                next = min_u64(next, since + delay);
            else
                calls += (unsigned)purge_chunk(a, p);
        }
    }
    if (resume)
        a->purge_bin = 0;
    return next;
}

/* Trims the top down to its pad if nothing has split it or merged into
 * it for the delay; else its tail that has stayed unused since top_since,
 * if that is delay ago, and starts counting again.  Returns when to look
 * again. */
static uint64_t trim_idle(arena_t *a, uint64_t now, size_t delay)
{
    size_t size = chunksize(a->top);
    bool big = top_trimmable(a);
    if (now - a->top_touched >= delay && big) {
        sys_trim(a, mp.top_pad, true);
    } else if (now - a->top_since < delay) {
        return min_u64(a->top_since, a->top_touched) + delay;
    } else if (a->top_low > mp.top_pad && big) {
        sys_trim(a, mp.top_pad + (size - a->top_low), a->top_low >= size);
    }
    a->top_low = chunksize(a->top);
    a->top_since = now;
    return now + delay;
}

/* Lock held.  One pass over arena a at time now. */
static void decay_pass(arena_t *a, uint64_t now)
{
    size_t delay = mp.purge_delay_ms;
    if (delay == SIZE_MAX) {
        a->decay_due = now + 1000;          /* the option may change */
        return;
    }
    /* Fastbins no call has used since the last pass are merged, so that
     * the pages among their chunks can go: those chunks have been free
     * since then.  Fastbins in use are left alone (merging them at every
     * pass made frag 7-20% slower). */
    if (have_fastchunks(a) && !(a->flags & ARENA_FAST_USED))
        consolidate_since(a, a->pass_ms);
    a->flags &= ~ARENA_FAST_USED;
    uint64_t old = now >= delay ? now - delay : 0;
    uint64_t purge_next = purge_idle(a, now, old, delay, PASS_SCAN, PASS_CALLS, true);
    uint64_t next = min_u64(purge_next, trim_idle(a, now, delay));
    /* Passes come at most every quarter of the delay, unless the last one
     * stopped short. */
    uint64_t soonest = now + (purge_next == now ? 1 : delay >= 4 ? delay / 4 : 1);
    a->pass_ms = now;
    a->decay_due = next > soonest ? next : soonest;
}

/* The top must grow (lock held).  A pass due runs first.  And the chunks
 * free since before the previous growth go at once, as many as a short
 * scan finds (largest first): memory the program left unused while it
 * asks the system for more, as the purge before this one did. */
void decay_grow(arena_t *a)
{
    uint64_t now = os_clock_ms();
    a->clock_ms = now;
    size_t delay = decay_delay(a);
    if (delay != SIZE_MAX) {
        if (now >= a->decay_due)
            decay_pass(a, now);
        if (a->grow_ms)
            purge_idle(a, now, a->grow_ms - 1, delay, GROW_SCAN, GROW_CALLS, false);
        a->grow_ms = now;
    }
    a->top_low = 0;     /* the top is in use now (after the pass, which starts a new look) */
}

void decay_tick(arena_t *a)
{
    uint64_t now = os_clock_ms();
    a->clock_ms = now;
    if (now >= a->decay_due)
        decay_pass(a, now);
}

/* The thread's arena reads the clock, unless another thread holds its
 * lock (whose calls read it then).  A pass reads the headers inside
 * freed blocks: Valgrind is told to look away (vg.h), as on every path
 * into an arena. */
void decay_generic_tick(void)
{
    arena_t *a = tc.arena;
    if (!a || !lock_try(&a->lock))
        return;
    vg_quiet();
    decay_tick(a);
    vg_loud();
    lock_release(&a->lock);
}

/* A free left chunk p of PURGE_MIN_CHUNK bytes or more, stamped
 * PURGE_NOW if the freed block decided its age (free.c): it gets a fresh
 * reading of the clock (the last one may be old, and would make it look
 * idle already); or with a delay of 0 it is purged at once. */
void decay_freed(arena_t *a, chunk_t *p)
{
    size_t delay = decay_delay(a);
    if (delay == 0) {
        purge_chunk(a, p);
        return;
    }
    uint64_t now = os_clock_ms();
    a->clock_ms = now;
    if (*purge_stamp(p) == PURGE_NOW)
        *purge_stamp(p) = now;
    if (delay == SIZE_MAX)
        return;
    if (now >= a->decay_due)
        decay_pass(a, now);
}

/* A thread has left.  The memory it freed will not be used by it again,
 * and no call of its may come to read the clock: every arena no thread
 * uses gives back all it can now (the free pages, the top down to its pad,
 * the empty sub-heaps); the others trim their tops, as glibc's free does
 * past the trim threshold.  Arenas busy right now are left to their own
 * calls. */
void decay_thread_left(void)
{
    if (mp.purge_delay_ms == SIZE_MAX)
        return;
    vg_quiet();
    for (arena_t *a = &main_arena; a; a = __atomic_load_n(&a->next, __ATOMIC_ACQUIRE)) {
        if (!lock_try(&a->lock))
            continue;
        if (a->attached == 0) {
            arena_give_back(a, mp.top_pad);
        } else if (top_trimmable(a)) {
            sys_trim(a, mp.top_pad, true);
            a->top_low = chunksize(a->top);
        }
        lock_release(&a->lock);
    }
    vg_loud();
}

/* ---- the background thread (option purge_thread) -------------------------- */

static int decay_thread_running;

/* In a fork child, which has no such thread. */
static void decay_fork_child(void)
{
    if (decay_thread_running) {
        decay_thread_running = 0;
        decay_thread_wanted = mp.purge_thread != 0;
    }
}

static void *decay_thread(void *unused)
{
    (void)unused;
    for (;;) {
        size_t delay = mp.purge_delay_ms;
        uint64_t ms = delay == SIZE_MAX ? 1000 : delay / 2;
        if (ms < 10)
            ms = 10;
        if (ms > 1000)
            ms = 1000;
        struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
        if (trace_on)
            continue;           /* a trace's records belong to calls */
        uint64_t now = os_clock_ms();
        vg_quiet();
        for (arena_t *a = &main_arena; a; a = __atomic_load_n(&a->next, __ATOMIC_ACQUIRE)) {
            if (!lock_try(&a->lock))
                continue;       /* busy: its own calls read the clock */
            a->clock_ms = now;
            if (now >= a->decay_due)
                decay_pass(a, now);
            lock_release(&a->lock);
        }
        vg_loud();
    }
    return NULL;
}

/* Starts the thread, once per process (a fork child starts its own).  No
 * lock may be held: pthread_create allocates. */
void decay_thread_start(void)
{
    decay_thread_wanted = 0;
    if (decay_thread_running || !mp.purge_thread)
        return;
    decay_thread_running = 1;
    pthread_attr_t attr;
    pthread_t t;
    if (pthread_attr_init(&attr) != 0)
        return;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    if (pthread_create(&t, &attr, decay_thread, NULL) != 0)
        decay_thread_running = 0;
    else
        pthread_atfork(NULL, NULL, decay_fork_child);
    pthread_attr_destroy(&attr);
}

