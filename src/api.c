/*
 * The public entry points.  malloc and free are the tcache's inline fast
 * paths (no lock, no call); everything else is a thin wrapper around the
 * generic paths: malloc.c, free.c, realloc.c, memalign.c, and the
 * options, trimming and statistics of their own files.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <string.h>
#include "internal.h"
#include "tcache.h"
#include "ptalloc.h"
#include "vg.h"
#include "trace.h"
#include "descriptor.h"

/* The caller's return address: the call site a trace records. */
#define CALLER __builtin_return_address(0)

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
        if (decay_thread_wanted)
            decay_thread_start();
        if (vg_active && !mp.valgrind) {
            vg_active = 0;
            tcache_flush();
        }
        trace_start();
    }
}

/* ---- malloc and free ------------------------------------------------------------ */

static void free_null(void *caller);

/* A tcache hit costs a bound check, a shift, one test of the head (empty
 * slots end in a misaligned marker) and the pop. */
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
        return malloc_miss(n, CALLER);
    }
    return malloc_generic(n, CALLER);
}

PUBLIC void free(void *mem)
{
    if (unlikely(!mem)) {
        free_null(CALLER);
        return;
    }
    chunk_t *p = mem2chunk(mem);
    size_t sz = p->size;
    tc_entry_t *e = mem;
    /* Mapped chunks never pass: their size is at least a page.  The place
     * is taken first (one decrement that also tests), and given back by
     * free_refused if the chunk cannot go in after all. */
    if (likely(sz < TCACHE_SLOTS * 16)) {
        tc_fs_t *t = tc_fast();
        size_t slot = sz >> 4;
        uintptr_t key = t->key;
        if (unlikely(--t->room[slot] < 0 || e->key == key || !aligned_ok((uintptr_t)mem))) {
            free_refused(mem, CALLER);
            return;
        }
        e->key = key;
        e->next = protect_ptr(&e->next, t->head[slot]);
        t->head[slot] = e;
        return;
    }
    free_generic(mem, CALLER);
}

PUBLIC void cfree(void *mem) __attribute__((alias("free")));

/* free(NULL) does nothing, but a trace records it. */
static NOINLINE void free_null(void *caller)
{
    if (trace_wanted())
        trace_free(NULL, OP_FREE, 0, 0, caller);
}

/* ---- calloc, realloc ------------------------------------------------------------ */

PUBLIC void *calloc(size_t n, size_t size)
{
    if (trace_wanted())
        return trace_calloc(n, size, CALLER);
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
    return malloc_from_arena(bytes, 0, true);
}

PUBLIC void *realloc(void *mem, size_t n)
{
    if (trace_wanted())
        return trace_realloc(mem, n, 0, 0, OP_REALLOC, CALLER);
    if (!mem)
        return malloc(n);
    if (n == 0) {
        free(mem);
        return NULL;
    }
    return realloc_generic(mem, n);
}

PUBLIC void *reallocarray(void *mem, size_t n, size_t size)
{
    if (trace_wanted())
        return trace_realloc(mem, n * size, n, size, OP_REALLOCARRAY, CALLER);
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(mem, bytes);
}

/* ---- the memalign family --------------------------------------------------------- */

PUBLIC void *memalign(size_t align, size_t n)
{
    if (trace_wanted())
        return trace_memalign(OP_MEMALIGN, align, n, NULL, NULL, CALLER);
    return memalign_generic(align, n);
}

PUBLIC void *aligned_alloc(size_t align, size_t n)
{
    if (trace_wanted())
        return trace_memalign(OP_ALIGNED_ALLOC, align, n, NULL, NULL, CALLER);
    if (align == 0 || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    return memalign_generic(align, n);
}

PUBLIC int posix_memalign(void **out, size_t align, size_t n)
{
    if (trace_wanted()) {
        int err;
        trace_memalign(OP_POSIX_MEMALIGN, align, n, out, &err, CALLER);
        return err;
    }
    if (align % sizeof(void *) != 0 || (align & (align - 1)) || align == 0)
        return EINVAL;
    void *mem = memalign_generic(align, n);
    if (!mem)
        return ENOMEM;                  /* errno is ENOMEM too, as on glibc */
    *out = mem;
    return 0;
}

COLD PUBLIC void *valloc(size_t n)
{
    if (trace_wanted())
        return trace_memalign(OP_VALLOC, 0, n, NULL, NULL, CALLER);
    ensure_init();
    return memalign_generic(os_pagesize, n);
}

COLD PUBLIC void *pvalloc(size_t n)
{
    if (trace_wanted())
        return trace_memalign(OP_PVALLOC, 0, n, NULL, NULL, CALLER);
    ensure_init();
    size_t rounded = align_up(n, os_pagesize);
    if (n > SIZE_MAX - os_pagesize || rounded < n) {
        errno = ENOMEM;
        return NULL;
    }
    return memalign_generic(os_pagesize, rounded ? rounded : os_pagesize);
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
    if (trace_wanted())
        trace_free(mem, OP_FREE_SIZED, 0, n, CALLER);
    else
        free(mem);
}

PUBLIC void free_aligned_sized(void *mem, size_t align, size_t n)
{
    if (trace_wanted())
        trace_free(mem, OP_FREE_ALIGNED_SIZED, align, n, CALLER);
    else
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
    int traced = trace_begin();
    vg_quiet();
    lock_acquire(&main_arena.lock);
    malloc_consolidate(&main_arena);
    int r = options_mallopt(param, value);
    lock_release(&main_arena.lock);
    vg_loud();
    if (r && param == M_PERTURB)
        tcache_flush();    /* this thread's cache now honours the setting */
    trace_end(traced);
    return r;
}

COLD PUBLIC int malloc_trim(size_t pad)
{
    if (trace_wanted())
        return trace_malloc_trim(pad, CALLER);
    ensure_init();
    vg_quiet();
    int released = sys_trim_all(pad);
    vg_loud();
    return released;
}

/* ---- ptalloc's own ---------------------------------------------------------------- */

COLD PUBLIC int ptalloc_set_option(const char *name, long value)
{
    ensure_init();
    int traced = trace_begin();
    lock_acquire(&main_arena.lock);
    int ok = options_set(name, value);
    lock_release(&main_arena.lock);
    if (ok && str_eqn(name, "tcache", 6))
        tcache_flush();       /* the calling thread picks the new shape up */
    trace_end(traced);
    return ok;
}

COLD PUBLIC int ptalloc_get_option(const char *name, long *value)
{
    return options_get(name, value);
}

COLD PUBLIC void ptalloc_thread_flush(void)
{
    int traced = trace_begin();
    tcache_flush();
    trace_end(traced);
}

/* What `ptalloc heap --pid` reads first (descriptor.h).  Here because
 * every program on ptalloc links this file; `used`, as nothing refers to
 * it. */
#define DESC_VALUE(e) (uint64_t)(e),
__attribute__((used)) const struct heap_descriptor ptalloc_heap_descriptor = {
    .magic = DESC_MAGIC,
    .version = DESC_VERSION,
    .nlayout = DESC_NLAYOUT,
    .layout = { DESC_LAYOUT(DESC_VALUE) },
    .segment_chunks = sizeof(segment_t),
    .first_heap_chunks = HEAP_ARENA_OFFSET + sizeof(arena_t),
    .heap_chunks = sizeof(heap_info_t),
    .main_arena = &main_arena,
    .narenas = &narenas,
    .initialized = &ptalloc_initialized,
    .all_threads = &all_threads,
    .mmap_list = &mmap_list,
    .mstats = &mstats,
    .arenas_lock = &arenas_lock,
    .mmap_lock = &mmap_lock,
    .tc_tp_offset = &tc_tp_offset,
};
