/*
 * Arenas: start-up, which arena a thread uses, the list of threads, and
 * fork (with the out-of-line copies of the lock, which registers the fork
 * handlers).
 *
 * A thread keeps its arena (in its thread-local state).  When other
 * threads allocating in the same arena keep its lock taken (see
 * arena_get_slow for "keep"), it moves: to an arena no thread is attached
 * to (those of exited threads), to a new arena while fewer than the limit
 * exist, to any arena whose lock is free, or at last it waits on the next
 * arena in round-robin order.  Arenas are never destroyed; the
 * list only grows, so readers may walk it without the list lock.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sys/single_threaded.h>
#include "internal.h"
#include "vg.h"

arena_t main_arena;
lock_t  arenas_lock;
lock_t  mmap_lock;
int     narenas = 1;
static arena_t *round_robin;
static int ncpus;

/* The thread's state: its arena, its tcache (every slot's list starts at
 * its end marker) and its mid-size cache.  tcache.c fills the caches. */
__thread tcache_t tc __attribute__((tls_model("initial-exec"))) = {
    .head = { [0 ... TCACHE_SLOTS - 1] = TC_END },
};
__thread tcache_mid_t tcm __attribute__((tls_model("initial-exec")));

/* The lock's one out-of-line copy of each function (lock.h). */
extern inline int lock_try(lock_t *l);
extern inline void lock_wait(lock_t *l);
extern inline void lock_acquire(lock_t *l);

/* ---- start-up -------------------------------------------------------------- */

int ptalloc_initialized;
ptrdiff_t tc_tp_offset;

/* Called by the first allocation of the process (possibly from inside the
 * dynamic loader, before main).  Allocates nothing.  The fork handlers
 * come with the second thread (fork_hooks_register). */
NOINLINE void ptalloc_init(void)
{
    static lock_t init_lock;
    lock_acquire(&init_lock);
    if (!ptalloc_initialized) {
        os_init();
        tc_tp_offset = (ptrdiff_t)((uintptr_t)&tc - (uintptr_t)__builtin_thread_pointer());
        arena_init(&main_arena, 0);
        options_init();
        vg_init();
        ptalloc_initialized = 1;
    }
    lock_release(&init_lock);
}

/* ---- arenas ---------------------------------------------------------------- */

static chunk_t zero_top;    /* the top of an arena before it has memory */

void arena_init(arena_t *a, int number)
{
    for (unsigned i = 1; i < NBINS; i++) {
        chunk_t *b = bin_at(a, i);
        b->fd = b->bk = b;
    }
    a->top = &zero_top;
    a->number = number;
    a->clock_ms = a->pass_ms = a->top_since = os_clock_ms();
}

static size_t arena_limit(void)
{
    if (mp.arena_max)
        return mp.arena_max;
    if (!ncpus)
        ncpus = os_ncpus();
    size_t by_cpus = 8 * (size_t)ncpus;
    return by_cpus > mp.arena_test ? by_cpus : mp.arena_test;
}

arena_t *arena_by_number(int n)
{
    for (arena_t *a = &main_arena; a; a = __atomic_load_n(&a->next, __ATOMIC_ACQUIRE))
        if (a->number == n)
            return a;
    return NULL;
}

/* arenas_lock held.  Appends a to the list. */
static void arena_link(arena_t *a)
{
    arena_t *last = &main_arena;
    while (last->next)
        last = last->next;
    a->number = narenas++;
    __atomic_store_n(&last->next, a, __ATOMIC_RELEASE);
    if (unlikely(trace_on)) {
        trace_arena_new_slow(a, a->heap);
        trace_sys_slow(TS_HEAP_NEW, a, a->heap, a->heap->size, NULL, 0);
        trace_top_slow(a);
    }
}

/* A new arena, at the start of a new sub-heap (heap.c draws it). */
static arena_t *arena_new(void)
{
    heap_info_t *h = heap_new(HEAP_ARENA_OFFSET + sizeof(arena_t) + MINSIZE, mp.top_pad);
    if (!h)
        return NULL;
    arena_t *a = (arena_t *)((char *)h + HEAP_ARENA_OFFSET);
    arena_init(a, 0);
    h->ar = a;
    a->heap = h;
    a->nheaps = 1;
    a->chunk_flag = NON_MAIN_ARENA;
    chunk_t *top = (chunk_t *)heap_chunks_start(h);
    a->top = top;
    set_head(top, (size_t)((char *)h + h->size - (char *)top) | PREV_INUSE);
    a->system_mem = a->max_system_mem = h->size;
    return a;
}

static void attach(arena_t *from, arena_t *to)
{
    if (from)
        from->attached--;
    to->attached++;
    tc.arena = to;
}

/* The thread's arena was busy (cur is not locked).  Returns another one,
 * locked. */
static NOINLINE arena_t *arena_contended(arena_t *cur)
{
    arena_t *a;
    lock_acquire(&arenas_lock);
    /* 1. an arena no thread uses */
    for (a = &main_arena; a; a = a->next)
        if (a != cur && a->attached == 0 && lock_try(&a->lock))
            goto found;
    /* 2. a new one, under the limit */
    if ((size_t)narenas < arena_limit() && (a = arena_new()) != NULL) {
        lock_acquire(&a->lock);
        arena_link(a);
        goto found;
    }
    /* 3. any arena that is free right now, round robin */
    if (!round_robin)
        round_robin = &main_arena;
    a = round_robin;
    for (int i = 0; i < narenas; i++) {
        a = a->next ? a->next : &main_arena;
        if (lock_try(&a->lock)) {
            round_robin = a;
            goto found;
        }
    }
    /* 4. wait for the next one in turn */
    a = round_robin = round_robin->next ? round_robin->next : &main_arena;
    attach(cur, a);
    lock_release(&arenas_lock);
    lock_acquire(&a->lock);
    return a;
found:
    attach(cur, a);
    lock_release(&arenas_lock);
    return a;
}

/* The slow part of arena_get: a first arena, or another one.
 *
 * A thread moves when it finds its arena's lock taken and another thread
 * has allocated there since this one last did (arena_get notes the last
 * thread to allocate in each arena).  Otherwise the holder only frees into
 * the arena (a consumer freeing a producer's blocks, say) or reads it;
 * that thread would follow the blocks to any other arena, so the thread
 * waits - every move spreads its memory over one more arena. */
arena_t *arena_get_slow(arena_t *a)
{
    if (a) {
        while (__atomic_load_n(&a->lock.state, __ATOMIC_RELAXED) == 0)
            if (lock_try(&a->lock))
                return a;
        if (__atomic_load_n(&a->last_user, __ATOMIC_RELAXED) != (void *)&tc)
            return arena_contended(a);
        lock_wait(&a->lock);
        return a;
    }
    lock_acquire(&arenas_lock);
    attach(NULL, &main_arena);
    lock_release(&arenas_lock);
    a = &main_arena;
    if (lock_try(&a->lock))
        return a;
    return arena_contended(a);
}

/* failed could not serve a request (it is unlocked here).  Returns a
 * different arena, locked, or NULL: the main arena fails when brk and mmap
 * are exhausted for it, a sub-heap arena when no sub-heap can be mapped. */
COLD arena_t *arena_retry(arena_t *failed)
{
    arena_t *a = NULL;
    if (failed != &main_arena) {
        a = &main_arena;
        lock_acquire(&a->lock);
        return a;
    }
    lock_acquire(&arenas_lock);
    for (arena_t *b = main_arena.next; b; b = b->next)
        if (lock_try(&b->lock)) {
            a = b;
            break;
        }
    if (!a && (size_t)narenas < arena_limit() && (a = arena_new()) != NULL) {
        lock_acquire(&a->lock);
        arena_link(a);
    }
    lock_release(&arenas_lock);
    return a;
}

/* ---- the list of threads ------------------------------------------------------ */

/* Every live thread's state, for ptalloc_check (under arenas_lock). */
tcache_t *all_threads;

void arena_thread_start(void)
{
    lock_acquire(&arenas_lock);
    tc.prev_thread = NULL;
    tc.next_thread = all_threads;
    if (all_threads)
        all_threads->prev_thread = &tc;
    all_threads = &tc;
    tc.listed = 1;
    lock_release(&arenas_lock);
}

/* At thread exit, after its caches are flushed. */
void arena_thread_exit(void)
{
    lock_acquire(&arenas_lock);
    if (tc.listed) {
        if (tc.prev_thread) tc.prev_thread->next_thread = tc.next_thread;
        else all_threads = tc.next_thread;
        if (tc.next_thread) tc.next_thread->prev_thread = tc.prev_thread;
        tc.listed = 0;
    }
    if (tc.arena) {
        tc.arena->attached--;
        tc.arena = NULL;
    }
    lock_release(&arenas_lock);
}

/* ---- fork: every lock taken before, released (parent) or reset (child) -- */

/* ptalloc's fork handlers must be the first registered in glibc's list,
 * so that they take the locks after every other prepare handler, as
 * glibc's malloc does (docs/DESIGN-MAP.md says why): they are registered
 * just before anyone else's (__register_atfork below), or else when the
 * first lock is really taken, once the process has a second thread.  The
 * registration may allocate, which comes back here and must not wait. */
/* 0 none, -pid being registered by pid, FORK_HOOKS_DONE.  Read by every
 * lock_try, so on a cache line of its own start, away from the mmap
 * bookkeeping that each mmapped chunk writes. */
int fork_hooks __attribute__((aligned(CACHE_LINE)));
static __thread int registering __attribute__((tls_model("initial-exec")));

static void arena_fork_prepare(void);
static void arena_fork_parent(void);
static void arena_fork_child(void);

typedef int (*register_atfork_fn)(void (*)(void), void (*)(void), void (*)(void), void *);
extern void *__dso_handle;

/* glibc's __register_atfork, found once past this library. */
static register_atfork_fn libc_register_atfork(void)
{
    static register_atfork_fn fn;
    register_atfork_fn f = __atomic_load_n(&fn, __ATOMIC_ACQUIRE);
    if (!f) {
        f = (register_atfork_fn)dlvsym(RTLD_NEXT, "__register_atfork", "GLIBC_2.3.2");
        __atomic_store_n(&fn, f, __ATOMIC_RELEASE);
    }
    return f;
}

/* Every pthread_atfork comes here (libc_nonshared's pthread_atfork calls
 * it with the caller's DSO handle). */
PUBLIC int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void),
                             void *dso)
{
    register_atfork_fn f = libc_register_atfork();
    if (!f)
        return ENOSYS;
    fork_hooks_register();
    return f(prepare, parent, child, dso);
}

void fork_hooks_register(void)
{
    if (registering)
        return;
    int me = -os_getpid();
    for (;;) {
        int state = __atomic_load_n(&fork_hooks, __ATOMIC_ACQUIRE);
        if (state == FORK_HOOKS_DONE)
            return;
        if (state == 0) {
            if (!__atomic_compare_exchange_n(&fork_hooks, &state, me, 0, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE))
                continue;
            registering = 1;
            register_atfork_fn f = libc_register_atfork();
            if (f)
                f(arena_fork_prepare, arena_fork_parent, arena_fork_child, &__dso_handle);
            registering = 0;
            __atomic_store_n(&fork_hooks, FORK_HOOKS_DONE, __ATOMIC_RELEASE);
            return;
        }
        /* Being registered: by another thread, or - in a child forked
         * meanwhile - by a thread that does not exist here: start over. */
        if (state != me)
            __atomic_compare_exchange_n(&fork_hooks, &state, 0, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        else
            __builtin_ia32_pause();
    }
}

/* A single-threaded process takes no locks around fork: nobody else can
 * hold them, and fork may come from a signal handler that interrupted
 * malloc itself (which holds one). */
static int fork_locked;

/* glibc's lock on its list of stdio streams (libio), recursive.  Inside
 * fork, glibc takes it after the prepare handlers and before its own
 * malloc locks: a thread may hold it in fflush(NULL) while it waits for a
 * stream that another thread holds in getline, which calls realloc.  Our
 * prepare handler takes it first, so the arena locks come after it, in
 * glibc's order; otherwise those three threads deadlock (glibc BZ 19431,
 * tests/threads/fork_stdio).  Weak: only glibc has it. */
extern void _IO_list_lock(void) __attribute__((weak));
extern void _IO_list_unlock(void) __attribute__((weak));
extern void _IO_list_resetlock(void) __attribute__((weak));

__thread char fork_holding __attribute__((tls_model("initial-exec")));

static void arena_fork_prepare(void)
{
    fork_locked = ptalloc_initialized && !__libc_single_threaded;
    if (!fork_locked)
        return;
    if (_IO_list_lock)
        _IO_list_lock();
    lock_acquire(&arenas_lock);
    for (arena_t *a = &main_arena; a; a = a->next)
        lock_acquire(&a->lock);
    lock_acquire(&mmap_lock);
    fork_holding = 1;
}

static void arena_fork_parent(void)
{
    trace_fork_parent();
    if (!fork_locked)
        return;
    fork_holding = 0;
    lock_release(&mmap_lock);
    for (arena_t *a = &main_arena; a; a = a->next)
        lock_release(&a->lock);
    lock_release(&arenas_lock);
    if (_IO_list_unlock)
        _IO_list_unlock();
}

static void arena_fork_child(void)
{
    /* Running, so registered in the child's list even if the fork came
     * between pthread_atfork and the parent's note that it was done. */
    fork_hooks = FORK_HOOKS_DONE;
    fork_holding = 0;
    if (!ptalloc_initialized)
        return;
    /* Only this thread lives on: the others' attachments are gone. */
    mmap_lock.state = 0;
    for (arena_t *a = &main_arena; a; a = a->next) {
        a->lock.state = 0;
        a->attached = 0;
    }
    if (tc.arena)
        tc.arena->attached = 1;
    all_threads = tc.listed ? &tc : NULL;
    tc.next_thread = tc.prev_thread = NULL;
    arenas_lock.state = 0;
    /* glibc resets its stream list lock in a child forked with threads
     * about; this covers a fork its count of threads called single. */
    if (fork_locked && _IO_list_resetlock)
        _IO_list_resetlock();
    trace_fork_child();
}
