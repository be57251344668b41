/*
 * The tcache: a per-thread cache of small free chunks, no lock.
 *
 * The cache lives in thread-local storage (initial-exec model, so using it
 * costs no call).  It starts with no room, so the first free of a thread
 * reaches the slow path, which sets it up and registers the thread-exit
 * hook that returns every cached chunk to its arena.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include "internal.h"
#include "tcache.h"
#include "vg.h"

uintptr_t tcache_key;          /* the process's; set by the first cache */

static pthread_key_t exit_key;
static int exit_key_ok;

static void thread_exit(void *unused)
{
    int traced = trace_begin();
    tcache_flush();
    tc.state = TC_DEAD;
    arena_thread_exit();
    decay_thread_left();
    if (traced)
        trace_thread_exit();
}

/* The thread-exit hook (a pthread key's destructor) is set up once the
 * process has a second thread: the hook of a single-threaded process would
 * only run at its end, where the cache does not matter, and the key costs
 * a page of libc.  A thread started later hooks itself when it sets up its
 * cache; the main thread on its next malloc that misses the cache
 * (tcache_hook_late). */
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

static void make_exit_key(void)
{
    exit_key_ok = pthread_key_create(&exit_key, thread_exit) == 0;
}

static void hook_thread_exit(void)
{
    pthread_once(&exit_key_once, make_exit_key);
    tc.hooked = 1;
    if (exit_key_ok)
        pthread_setspecific(exit_key, &tc);
}

void tcache_hook_late(void)
{
    if (!tc.hooked && !__libc_single_threaded && tc.state == TC_ACTIVE)
        hook_thread_exit();
}

void tcache_thread_init(void)
{
    if (tc.state != TC_UNINIT)
        return;
    trace_whole_cache();
    tc.state = TC_BUSY;                 /* recursion from here skips the cache */
    if (!tc.hooked && !__libc_single_threaded)
        hook_thread_exit();
    uintptr_t none = 0;
    __atomic_compare_exchange_n(&tcache_key, &none, (uintptr_t)os_random() | 1, 0,
                                __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    tc.key = __atomic_load_n(&tcache_key, __ATOMIC_RELAXED);
    size_t count = mp.perturb || vg_active ? 0 : mp.tcache_count;
    size_t last = request2size(mp.tcache_max) >> 4;
    for (size_t s = 2; s <= last && s < TCACHE_SLOTS; s++)
        tc.room[s] = count;
    tc.mid = &tcm;
    tc.remote_limit = count ? (uint32_t)mp.remote_batch : 0;
    /* The mid-size cache: off with tcache_mid 0 or a tcache_max below 1032;
     * a tcache_max above 1032 caps it, the default leaves it whole. */
    tcm.limit = 0;
    if (count && mp.tcache_mid && mp.tcache_max >= TCACHE_MAX_REQUEST)
        tcm.limit = mp.tcache_max == TCACHE_MAX_REQUEST || mp.tcache_max > TCACHE_MID_MAX_REQUEST
                        ? TCACHE_MID_MAX_REQUEST : mp.tcache_max;
    /* The class the largest request takes from is the last one worth
     * filling. */
    size_t end = TCACHE_MID_CLASS_MIN(TCACHE_MID_CLASS_FOR(request2size(tcm.limit)) + 1);
    tcm.end = !tcm.limit ? 0 : end < TCACHE_MID_END ? end : TCACHE_MID_END;
    if (!tc.listed)
        arena_thread_start();
    tc.state = TC_ACTIVE;
}

/* A cached chunk back to its arena. */
static void give_back(tc_entry_t *e)
{
    e->key = 0;
    chunk_t *p = mem2chunk(e);
    size_t size = chunksize(p);
    check_free_pointer(p, size);
    arena_t *a = arena_for_chunk(p);
    lock_acquire(&a->lock);
    int_free(a, p, size);
    lock_release(&a->lock);
}

/* Returns every cached chunk to its arena and leaves the cache empty and
 * uninitialised (the next slow path sets it up again with the current
 * options). */
void tcache_flush(void)
{
    if (tc.state != TC_ACTIVE)
        return;
    trace_whole_cache();
    remote_flush();
    tc.remote_limit = 0;
    tc.state = TC_BUSY;
    for (size_t s = 0; s < TCACHE_SLOTS; s++) {
        tc_entry_t *e = tc.head[s];
        tc.head[s] = TC_END;
        tc.room[s] = 0;
        while (e != TC_END) {
            tc_entry_t *next = reveal_ptr(&e->next);
            if (next != TC_END && !aligned_ok((uintptr_t)next))
                malloc_error("malloc(): unaligned tcache chunk detected");
            give_back(e);
            e = next;
        }
    }
    for (size_t i = 0; i < TCACHE_MID_CLASSES; i++) {
        tc_entry_t *e = tcm.slot[i];
        if (!e)
            continue;
        tcm.slot[i] = NULL;
        if (!aligned_ok((uintptr_t)e))
            malloc_error("malloc(): unaligned tcache chunk detected");
        give_back(e);
    }
    tcm.limit = tcm.end = 0;
    tc.state = TC_UNINIT;
}

/* The free path's way into the cache, past the inline fast path: sets the
 * cache up, and tells a real double free from a key that happens to be
 * in the user's data. */
int tcache_put_slow(chunk_t *p, size_t size)
{
    if (tc.state == TC_UNINIT)
        tcache_thread_init();
    size_t slot = size >> 4;
    if (tc.state != TC_ACTIVE || slot >= TCACHE_SLOTS)
        return 0;
    tc_entry_t *e = (tc_entry_t *)chunk2mem(p);
    if (unlikely(e->key == tcache_key)) {
        size_t n = 0;
        for (tc_entry_t *t = tc.head[slot]; t != TC_END; t = reveal_ptr(&t->next)) {
            if (!aligned_ok((uintptr_t)t))
                malloc_error("free(): unaligned chunk detected in tcache 2");
            if (t == e)
                malloc_error("free(): double free detected in tcache 2");
            if (++n > TCACHE_MAX_COUNT)
                malloc_error("free(): too many chunks detected in tcache");
        }
    }
    if (tc.room[slot] <= 0)
        return 0;
    tcache_push(p, slot);
    return 1;
}

/* memalign's look into the cache (glibc 2.38 looks too): the first entry
 * of nb's slot that happens to be aligned as asked, taken out of the
 * slot wherever it is, so that a program freeing an aligned block and
 * asking for one like it again gets it back without a lock; NULL when
 * there is none.  The walk stops after as many entries as a slot holds. */
void *tcache_get_aligned(size_t nb, size_t align)
{
    size_t slot = nb >> 4;
    if (tc.state != TC_ACTIVE || slot >= TCACHE_SLOTS)
        return NULL;
    tc_entry_t *prev = NULL, *e = tc.head[slot];
    for (size_t n = 0; e != TC_END && n < mp.tcache_count; n++) {
        if (unlikely(!aligned_ok((uintptr_t)e)))
            malloc_error("malloc(): unaligned tcache chunk detected");
        tc_entry_t *next = reveal_ptr(&e->next);
        if (((uintptr_t)e & (align - 1)) == 0) {
            if (!prev)
                return tcache_pop(slot);
            prev->next = protect_ptr(&prev->next, next);
            tc.room[slot]++;
            e->key = 0;
            return e;
        }
        prev = e;
        e = next;
    }
    return NULL;
}

/* The spill (lock held; single-threaded): a run of SPILL_AFTER_OVERFLOWS
 * frees found the slot of a fastbin size full since the last cache miss
 * (free.c).  The slot's older entries follow the last one to the fastbin
 * and the newest stay, so the next frees find room.  Each chunk moved gets
 * a fastbin free's checks; a chunk of another arena ends the move. */
NOINLINE void tcache_spill(arena_t *a, size_t slot)
{
    tc_entry_t *last = tc.head[slot];
    for (size_t keep = mp.tcache_count / 2;; keep--) {
        if (last == TC_END)
            return;
        if (unlikely(!aligned_ok((uintptr_t)last)))
            malloc_error("free(): unaligned chunk detected in tcache 2");
        if (keep <= 1)
            break;
        last = reveal_ptr(&last->next);
    }
    /* fastbin_push's link and checks (fasttop, next header) for each
     * chunk, with the fastbin's head kept in a register and stored once
     * (docs/DESIGN-MAP.md: why not fastbin_push itself) */
    size_t size = slot << 4;
    unsigned idx = fastbin_index(size);
    chunk_t *top = a->fastbins[idx];
    tc_entry_t *e = reveal_ptr(&last->next);
    int moved = 0;
    while (e != TC_END) {
        if (unlikely(!aligned_ok((uintptr_t)e)))
            malloc_error("free(): unaligned chunk detected in tcache 2");
        chunk_t *p = mem2chunk(e);
        if (!chunk_main_arena(p))
            break;
        if (unlikely(chunksize(p) != size))
            malloc_error("free(): invalid size");
        if (unlikely(p == top))
            malloc_error("double free or corruption (fasttop)");
        check_next_header(a, chunk_at(p, size), true);
        tc_entry_t *next = reveal_ptr(&e->next);
        e->key = 0;
        p->fd = protect_ptr(&p->fd, top);   /* the same word as e->next */
        top = p;
        e = next;
        moved++;
    }
    if (!moved)
        return;
    last->next = protect_ptr(&last->next, e);
    a->fastbins[idx] = top;
    a->flags |= ARENA_HAVE_FASTCHUNKS | ARENA_FAST_USED;
    tc.room[slot] += moved;
    if (unlikely(trace_on))
        trace_fastbin_run(top, size, moved);
}
