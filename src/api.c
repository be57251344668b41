/*
 * The public entry points.  malloc and free begin with the tcache fast
 * path (no lock, no call); everything else goes to the slow paths here,
 * which pick and lock an arena.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "tcache.h"
#include "ptalloc.h"
#include "vg.h"


int ptalloc_initialized;
int vg_active;


/* Called by the first allocation of the process (possibly from inside the
 * dynamic loader, before main).  Allocates nothing. */
NOINLINE void ptalloc_init(void)
{
    static lock_t init_lock;
    lock_acquire(&init_lock);
    if (ptalloc_initialized) {
        lock_release(&init_lock);
        return;
    }
    os_init();
    arena_init(&main_arena, 0);
    options_init();
    vg_init();
    tcache_process_init();
    ptalloc_initialized = 1;
    lock_release(&init_lock);
    /* The fork handlers come with the second thread (fork_hooks_register). */
}

/* The environment may not exist yet at the first allocation (the dynamic
 * loader allocates before libc is initialised); read it again once it
 * does. */
__attribute__((constructor)) static void read_options_late(void)
{
    static int done;
    if (!done) {
        done = 1;
        ensure_init();
        options_init();
        if (vg_active && !mp.valgrind) {
            vg_active = 0;
            tcache_flush();
        }
    }
}

/* ---- malloc ------------------------------------------------------------------ */

/* A chunk of nb bytes from a (locked), aligned to align (0 = the usual 16). */
static inline void *int_alloc(arena_t *a, size_t nb, size_t align)
{
    return align ? int_memalign(a, align, nb) : int_malloc(a, nb);
}

/* n bytes (aligned to align, 0 = the usual 16) from the thread's arena,
 * or from another one if that is out of memory.  NULL with ENOMEM.  The
 * general form, with Valgrind's red zones and the retry. */
static NOINLINE COLD void *arena_alloc_full(size_t n, size_t align)
{
    size_t nb = request2size(vg_pad(n));
    vg_quiet();
    arena_t *a = arena_get();
    void *mem = int_alloc(a, nb, align);
    if (unlikely(!mem)) {
        lock_release(&a->lock);
        a = arena_retry(a, nb);
        if (a)
            mem = int_alloc(a, nb, align);
    }
    if (a)
        lock_release(&a->lock);
    vg_loud();
    if (!mem)
        errno = ENOMEM;
    return vg_alloc(mem, n, 0);
}

/* A single-threaded process's own arena a: no lock to take, no last
 * user to note; the general form if it is out of memory. */
static inline void *arena_alloc_alone(arena_t *a, size_t n, size_t align)
{
    void *mem = int_alloc(a, request2size(n), align);
    if (likely(mem != NULL))
        return mem;
    return arena_alloc_full(n, align);
}

/* With threads: the thread's arena, locked (or another, if that one is
 * taken); the general form if it is out of memory. */
static inline void *arena_alloc_shared(size_t n, size_t align)
{
    arena_t *a = arena_get();
    void *mem = int_alloc(a, request2size(n), align);
    lock_release(&a->lock);
    if (likely(mem != NULL))
        return mem;
    return arena_alloc_full(n, align);
}

/* The usual case of it: not under Valgrind, and the arena has the memory. */
static inline void *arena_alloc(size_t n, size_t align)
{
    if (unlikely(vg_active))
        return arena_alloc_full(n, align);
    arena_t *a = tc.arena;
    if (likely(a != NULL) && __libc_single_threaded)
        return arena_alloc_alone(a, n, align);
    return arena_alloc_shared(n, align);
}

static NOINLINE void *malloc_general(size_t n)
{
    if (n <= TCACHE_MAX_REQUEST) {
        /* The fast path stops at a misaligned head: the end marker of an
         * empty slot, or a corrupted link. */
        size_t slot = tcache_slot_of_request(n);
        if (unlikely(tc.head[slot] != TC_END))
            malloc_error("malloc(): unaligned tcache chunk detected");
        /* Requests of 0..8 bytes index slot 1, which stays empty: their
         * chunks (32 bytes) are in slot 2. */
        if (n < 9 && tc.head[2] != TC_END)
            return tcache_pop(2);
    } else if (n <= tcm.limit) {
        void *mem = tcache_mid_get(request2size(n));
        if (mem)
            return mem;
    }
    ensure_init();
    if (unlikely(n > MAX_REQUEST)) {
        errno = ENOMEM;
        return NULL;
    }
    if (tc.state == TC_UNINIT)
        tcache_thread_init();
    else if (unlikely(!tc.hooked))
        tcache_hook_late();
    return arena_alloc(n, 0);
}

/* malloc_slow's way with threads, out of its line: a tail call there. */
static NOINLINE void *malloc_shared(size_t n)
{
    return arena_alloc_shared(n, 0);
}

/* A cache-size request that missed.  Usually the slot of the thread's
 * cache is empty (its end marker, not a corrupted link), and the cache set
 * up: then straight to the arena, keeping one register instead of the
 * general path's six.  With threads, once the thread-exit hook is set
 * (malloc_general sets the main thread's). */
static NOINLINE void *malloc_slow(size_t n)
{
    arena_t *a = tc.arena;
    tc.overflows = 0;
    if (likely(n >= 9 && tc.head[tcache_slot_of_request(n)] == TC_END && a != NULL &&
               tc.state == TC_ACTIVE && !vg_active)) {
        if (__libc_single_threaded)
            return arena_alloc_alone(a, n, 0);
        if (tc.hooked)
            return malloc_shared(n);
    }
    return malloc_general(n);
}

/* The fast path: a tcache hit costs a bound check, a shift, one test of
 * the head (empty slots end in a misaligned marker) and the pop. */
PUBLIC void *malloc(size_t n)
{
    if (likely(n <= TCACHE_MAX_REQUEST)) {
        tc_fs_t *t = tc_fast();
        size_t slot = tcache_slot_of_request(n);
        tc_entry_t *e = t->head[slot];
        if (likely(aligned_ok((uintptr_t)e))) {
            t->head[slot] = reveal_ptr(&e->next);
            t->room[slot]++;
            e->key = 0;
            return e;
        }
        return malloc_slow(n);
    }
    return malloc_general(n);
}

/* ---- free ------------------------------------------------------------------- */

static inline void free_block(void *mem);

static NOINLINE void free_slow(void *mem)
{
    if (unlikely(vg_active)) {
        vg_free(mem);
        vg_quiet();
        free_block(mem);
        vg_loud();
        return;
    }
    free_block(mem);
}

/* free() keeps errno: the system calls it may make (munmap, sbrk,
 * madvise, futex) preserve it in os.c. */
static inline void free_block(void *mem)
{
    chunk_t *p = mem2chunk(mem);
    size_t size = chunksize(p);

    if (chunk_is_mmapped(p)) {
        /* Freeing a big mapped chunk raises the mmap threshold to its size:
         * blocks like it are evidently not short-lived singletons. */
        if (!mp.no_dyn_threshold && size > mp.mmap_threshold &&
            size <= DEFAULT_MMAP_THRESHOLD_MAX) {
            mp.mmap_threshold = size;
            mp.trim_threshold = 2 * size;
        }
        mmap_chunk_free(p);
        return;
    }
    check_free_pointer(p, size);
    if (size >= TCACHE_MID_MIN && size < TCACHE_MID_END) {
        if (unlikely(tc.state == TC_UNINIT))
            tcache_thread_init();
        if (size < tcm.end && tcache_mid_put(p, size))
            return;
    }
    /* The fast path let it through: the cache is full, not set up, or the
     * key is there (a double free, or user data that looks like one). */
    size_t slot = size >> 4;
    if (slot < TCACHE_SLOTS && (tc.state != TC_ACTIVE || ((tc_entry_t *)mem)->key == tc.key) &&
        tcache_put_slow(p, size))
        return;
    arena_t *a = arena_for_chunk(p);
    if (a != tc.arena && !__libc_single_threaded) {
        /* Another thread's arena, most likely: batch it (tcache.c). */
        if (unlikely(tc.state == TC_UNINIT))
            tcache_thread_init();
        if (tc.remote_limit) {
            remote_put(a, p, size);
            return;
        }
    }
    if (unlikely(tc.remote != NULL) && __libc_single_threaded)
        remote_flush();                 /* the last batch, once alone */
    lock_acquire(&a->lock);             /* no-op while single-threaded */
    free_locked(a, p, size);
    lock_release(&a->lock);
}

/* free_slow_refund's way when not alone, out of its line: with threads,
 * most often another thread's chunk, into the batch (free_block's way
 * there, without its checks for the sizes that cannot come here). */
static NOINLINE void free_refused(void *mem)
{
    chunk_t *p = mem2chunk(mem);
    size_t size = chunksize(p);
    if (!vg_active && !__libc_single_threaded && !chunk_is_mmapped(p) &&
        tc.state == TC_ACTIVE && tc.remote_limit && ((tc_entry_t *)mem)->key != tc.key) {
        check_free_pointer(p, size);
        arena_t *a = arena_for_chunk(p);
        if (a != tc.arena) {
            remote_put(a, p, size);
            return;
        }
    }
    free_slow(mem);
}

/* The fast path took a place in the cache and could not use it.  Most
 * often the cache was just full: in a single-threaded program that chunk
 * goes straight to its fastbin or is merged, and this path makes no call
 * it must come back from, so it keeps no registers.  Anything else (a
 * key that may mean a double free, threads, Valgrind) takes free_refused. */
static NOINLINE void free_slow_refund(void *mem)
{
    chunk_t *p = mem2chunk(mem);
    size_t size = chunksize(p);
    tc.room[size >> 4]++;
    arena_t *a = tc.arena;
    /* (the key, which may be past a small block's end, is read last: not
     * at all under Valgrind) */
    if (likely(__libc_single_threaded && a == &main_arena && chunk_main_arena(p) &&
               tc.state == TC_ACTIVE && !tc.remote && !vg_active &&
               ((tc_entry_t *)mem)->key != tc.key)) {
        /* free_locked's choice (no lock to take while alone), spelled out
         * so that free_merge and tcache_spill are tail calls */
        check_free_pointer(p, size);
        if (size > mp.max_fast) {
            free_merge(a, p, size);
            return;
        }
        fastbin_push(a, p, size);
        if (++tc.overflows >= SPILL_AFTER_OVERFLOWS)
            tcache_spill(a, size >> 4);
        return;
    }
    free_refused(mem);
}

PUBLIC void free(void *mem)
{
    if (unlikely(!mem))
        return;
    chunk_t *p = mem2chunk(mem);
    size_t sz = p->size;
    tc_entry_t *e = mem;
    /* Mapped chunks never pass: their size is at least a page.  The place
     * is taken first (one decrement that also tests), and given back if
     * the chunk cannot go in after all. */
    if (likely(sz < TCACHE_SLOTS * 16)) {
        tc_fs_t *t = tc_fast();
        size_t slot = sz >> 4;
        uintptr_t key = t->key;
        if (unlikely(--t->room[slot] < 0 || e->key == key || !aligned_ok((uintptr_t)mem))) {
            free_slow_refund(mem);
            return;
        }
        e->key = key;
        e->next = protect_ptr(&e->next, t->head[slot]);
        t->head[slot] = e;
        return;
    }
    free_slow(mem);
}

PUBLIC void cfree(void *mem) __attribute__((alias("free")));

/* ---- calloc ------------------------------------------------------------------ */

PUBLIC void *calloc(size_t n, size_t size)
{
    size_t bytes;
    if (unlikely(__builtin_mul_overflow(n, size, &bytes) || bytes > MAX_REQUEST)) {
        errno = ENOMEM;
        return NULL;
    }
    ensure_init();
    size_t nb = request2size(vg_pad(bytes));
    size_t slot = nb >> 4;
    if (slot < TCACHE_SLOTS && tc.head[slot] != TC_END) {
        void *mem = tcache_pop(slot);
        memset(mem, 0, nb - SIZE_SZ);
        return mem;
    }
    if (tc.state == TC_UNINIT)
        tcache_thread_init();

    vg_quiet();
    arena_t *a = arena_get();
    /* Memory carved from beyond the old top's end is fresh from the
     * kernel, already zero: only what was the old top needs clearing. */
    chunk_t *oldtop = a->top;
    size_t oldtopsize = chunksize(oldtop);
    if (a == &main_arena && a->segments && (char *)oldtop + oldtopsize != a->segments->end)
        oldtopsize = SIZE_MAX;      /* not the end of the segment: trust nothing */
    void *mem = int_malloc(a, nb);
    if (unlikely(!mem)) {
        lock_release(&a->lock);
        a = arena_retry(a, nb);
        if (a) {
            mem = int_malloc(a, nb);
            oldtop = NULL;
        }
    }
    if (a)
        lock_release(&a->lock);
    if (!mem) {
        vg_loud();
        errno = ENOMEM;
        return NULL;
    }
    chunk_t *p = mem2chunk(mem);
    if (chunk_is_mmapped(p)) {
        if (unlikely(mp.perturb))
            memset(mem, 0, bytes);
    } else {
        size_t clear = chunksize(p) - SIZE_SZ;
        if (p == oldtop && !mp.perturb && oldtopsize < clear + SIZE_SZ)
            clear = oldtopsize > 2 * SIZE_SZ ? oldtopsize - 2 * SIZE_SZ : 0;
        memset(mem, 0, clear);
    }
    vg_loud();
    return vg_alloc(mem, bytes, 1);
}

/* ---- realloc ------------------------------------------------------------------ */

/* Under Valgrind a block always moves, so memcheck sees each size.  The
 * copy may read the chunk's slack past the old block: it runs quiet. */
static void *realloc_by_moving(void *mem, size_t n)
{
    void *m = malloc(n);
    if (!m)
        return NULL;
    vg_quiet();
    size_t usable = malloc_usable_size(mem);
    memcpy(m, mem, n < usable ? n : usable);
    vg_loud();
    free(mem);
    return m;
}

PUBLIC void *realloc(void *mem, size_t n)
{
    if (!mem)
        return malloc(n);
    if (n == 0) {
        free(mem);
        return NULL;
    }
    if (unlikely(n > MAX_REQUEST)) {
        errno = ENOMEM;
        return NULL;
    }
    if (unlikely(vg_active))
        return realloc_by_moving(mem, n);
    chunk_t *p = mem2chunk(mem);
    size_t oldsize = chunksize(p);
    size_t nb = request2size(n);

    if (unlikely((uintptr_t)p > (uintptr_t)-oldsize || misaligned_chunk(p)))
        malloc_error("realloc(): invalid pointer");

    if (chunk_is_mmapped(p)) {
        size_t usable = oldsize - 2 * SIZE_SZ;
        /* Small enough for the heap now, and much smaller: move it there. */
        if (nb < mp.mmap_threshold && n < usable / 2) {
            void *m = malloc(n);
            if (!m)
                return NULL;
            memcpy(m, mem, n);
            free(mem);
            return m;
        }
        if (usable >= n && usable - n < os_pagesize)
            return mem;
        chunk_t *q = mmap_chunk_remap(p, nb);
        if (q)
            return chunk2mem(q);
        if (usable >= n)
            return mem;
        void *m = malloc(n);
        if (!m)
            return NULL;
        memcpy(m, mem, usable);
        free(mem);
        return m;
    }

    if (unlikely(oldsize < MINSIZE || !aligned_ok(oldsize)))
        malloc_error("realloc(): invalid old size");
    /* Fits already with little slack: nothing to do. */
    if (oldsize >= nb && oldsize - nb < MINSIZE)
        return mem;

    ensure_init();
    arena_t *a = arena_for_chunk(p);
    lock_acquire(&a->lock);
    void *m = int_realloc(a, p, oldsize, nb);
    lock_release(&a->lock);
    if (m)
        return m;
    /* The arena is full: try anywhere else. */
    m = malloc(n);
    if (!m)
        return NULL;
    memcpy(m, mem, oldsize - SIZE_SZ);
    free(mem);
    return m;
}

PUBLIC void *reallocarray(void *mem, size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(mem, bytes);
}

/* ---- the memalign family --------------------------------------------------------- */

static void *memalign_impl(size_t align, size_t n)
{
    if (align <= MALLOC_ALIGNMENT)
        return malloc(n);
    if (align > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (align & (align - 1)) {
        size_t a = MALLOC_ALIGNMENT * 2;
        while (a < align)
            a <<= 1;
        align = a;
    }
    if (align > MAX_REQUEST / 2 || n > MAX_REQUEST - align - MINSIZE) {
        errno = ENOMEM;
        return NULL;
    }
    ensure_init();
    if (tc.state == TC_UNINIT)
        tcache_thread_init();
    if (n <= TCACHE_MAX_REQUEST) {
        void *mem = tcache_get_aligned(request2size(n), align);
        if (mem)
            return mem;
    }
    return arena_alloc(n, align);
}

PUBLIC void *memalign(size_t align, size_t n)
{
    return memalign_impl(align, n);
}

PUBLIC void *aligned_alloc(size_t align, size_t n)
{
    if (align == 0 || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    return memalign_impl(align, n);
}

PUBLIC int posix_memalign(void **out, size_t align, size_t n)
{
    if (align % sizeof(void *) != 0 || (align & (align - 1)) || align == 0)
        return EINVAL;
    void *mem = memalign_impl(align, n);
    if (!mem)
        return ENOMEM;                  /* errno is ENOMEM too, as on glibc */
    *out = mem;
    return 0;
}

COLD PUBLIC void *valloc(size_t n)
{
    ensure_init();
    return memalign_impl(os_pagesize, n);
}

COLD PUBLIC void *pvalloc(size_t n)
{
    ensure_init();
    size_t rounded = align_up(n, os_pagesize);
    if (n > SIZE_MAX - os_pagesize || rounded < n) {
        errno = ENOMEM;
        return NULL;
    }
    return memalign_impl(os_pagesize, rounded ? rounded : os_pagesize);
}

/* ---- sizes, C23 frees ---------------------------------------------------------- */

PUBLIC size_t malloc_usable_size(void *mem)
{
    if (!mem)
        return 0;
    chunk_t *p = mem2chunk(mem);
    if (chunk_is_mmapped(p))
        return chunksize(p) - 2 * SIZE_SZ;
    if (inuse(p))
        return chunksize(p) - SIZE_SZ;
    return 0;
}

PUBLIC void free_sized(void *mem, size_t n)
{
    free(mem);
}

PUBLIC void free_aligned_sized(void *mem, size_t align, size_t n)
{
    free(mem);
}

/* glibc's internal names, which some programs and libraries call. */
PUBLIC void *__libc_malloc(size_t n) __attribute__((alias("malloc")));
PUBLIC void  __libc_free(void *p) __attribute__((alias("free")));
PUBLIC void *__libc_calloc(size_t n, size_t s) __attribute__((alias("calloc")));
PUBLIC void *__libc_realloc(void *p, size_t n) __attribute__((alias("realloc")));
PUBLIC void *__libc_memalign(size_t a, size_t n) __attribute__((alias("memalign")));
PUBLIC void *__libc_valloc(size_t n) __attribute__((alias("valloc")));
PUBLIC void *__libc_pvalloc(size_t n) __attribute__((alias("pvalloc")));

/* ---- mallopt, malloc_trim ----------------------------------------------------- */

COLD PUBLIC int mallopt(int param, int value)
{
    ensure_init();
    vg_quiet();
    lock_acquire(&main_arena.lock);
    malloc_consolidate(&main_arena);
    int r = options_mallopt(param, value);
    lock_release(&main_arena.lock);
    vg_loud();
    if (r && param == M_PERTURB)
        tcache_flush();    /* this thread's cache now honours the setting */
    return r;
}

COLD PUBLIC int malloc_trim(size_t pad)
{
    ensure_init();
    int released = 0;
    vg_quiet();
    tcache_flush();
    for (arena_t *a = &main_arena; a; a = __atomic_load_n(&a->next, __ATOMIC_ACQUIRE)) {
        lock_acquire(&a->lock);
        arena_take_handed(a, false);
        malloc_consolidate(a);
        released |= arena_release_pages(a, pad);
        if (a == &main_arena) {
            if (a->top != NULL)
                released |= sys_trim(a, pad);
        } else {
            released |= heap_trim(heap_for_ptr(a->top), pad);
        }
        lock_release(&a->lock);
    }
    vg_loud();
    return released;
}
