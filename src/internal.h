/*
 * Declarations shared between ptalloc's files, grouped by the file that
 * defines them.  Nothing here is exported from the library.
 */
#ifndef PTALLOC_INTERNAL_H
#define PTALLOC_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <sys/single_threaded.h>
#include "types.h"
#include "chunk.h"
#include "bins.h"

#define PUBLIC   __attribute__((visibility("default")))
#define NOINLINE __attribute__((noinline))
#define NORETURN __attribute__((noreturn))
#define COLD     __attribute__((cold))

#ifdef PTALLOC_DEBUG
#define ASSERT(c) do { if (!(c)) assert_fail(#c, __FILE__, __LINE__); } while (0)
#else
#define ASSERT(c) do { (void)sizeof(c); } while (0)
#endif

/* ---- os.c: the only file that talks to the kernel ---------------------- */
extern size_t os_pagesize;
void    os_init(void);                            /* page size */
void   *os_map(size_t len);                       /* read-write, NULL on failure */
void   *os_reserve(size_t len);                   /* PROT_NONE, NORESERVE       */
int     os_unmap(void *p, size_t len);
int     os_protect(void *p, size_t len, int writable);
void   *os_remap(void *p, size_t old_len, size_t new_len);  /* may move */
int     os_purge(void *p, size_t len);            /* MADV_DONTNEED              */
void   *os_sbrk(intptr_t inc);                    /* (void *)-1 on failure      */
size_t  os_resident_pages(void *p, size_t npages); /* mincore; 0 on failure   */
void    os_futex_wait(int *addr, int val);
void    os_futex_wake(int *addr, int n);
const char *os_getenv(const char *name);          /* NULL before the env exists */
int     os_env_any(const char *prefix);           /* a variable starts with it  */
int     os_secure(void);                          /* setuid: ignore environment */
uint64_t os_random(void);
int     os_ncpus(void);
int     os_getpid(void);
void    os_write(int fd, const char *s, size_t n);
NORETURN void os_abort(void);

/* ---- fmt.c: a formatter that never allocates ---------------------------- */
typedef struct fmtbuf {
    char   *buf;
    size_t  cap, len;
    int     fd;          /* flushed to fd when full; -1 = truncate */
} fmtbuf_t;
void fmt_init(fmtbuf_t *b, char *buf, size_t cap, int fd);
void fmt_printf(fmtbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fmt_vprintf(fmtbuf_t *b, const char *fmt, va_list ap);
void fmt_flush(fmtbuf_t *b);
size_t fmt_snprintf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int  parse_long(const char *s, const char *end, long *out);

/* ---- lock.h is inline; lock slow paths in arena.c ----------------------- */
void lock_wait(lock_t *l);
void lock_wake(lock_t *l);

/* While the process has a single thread nobody can contend, and the
 * locks are not taken at all.  The flag turns false in pthread_create,
 * before a second thread exists, and only a thread outside malloc can
 * create one; so a lock taken while it was true is released while it
 * still is.  It turns true again only in a fork child, whose fork handler
 * resets every lock. */
extern int fork_hooks;                   /* FORK_HOOKS_DONE when registered */
#define FORK_HOOKS_DONE 2
void fork_hooks_register(void);

/* Between its fork prepare handler and the parent's or child's, the
 * forking thread holds every lock (but init's).  ptalloc's handlers are
 * registered before anyone else's (arena.c), so no other fork handler
 * runs in that time - unless it was registered past __register_atfork
 * (an old binary's pthread_atfork@GLIBC_2.2.5 goes straight to libc's).
 * Such a handler may allocate, as glibc allows: for the forking thread
 * (fork_holding set) the locks it holds count as taken again, and their
 * releases are left to ptalloc's handlers. */
extern __thread char fork_holding __attribute__((tls_model("initial-exec")));
static inline int lock_try(lock_t *l)
{
    if (__libc_single_threaded)
        return 1;
    if (unlikely(__atomic_load_n(&fork_hooks, __ATOMIC_ACQUIRE) != FORK_HOOKS_DONE))
        fork_hooks_register();
    int zero = 0;
    if (likely(__atomic_compare_exchange_n(&l->state, &zero, LOCK_TAKEN, 0, __ATOMIC_ACQUIRE,
                                           __ATOMIC_RELAXED)))
        return 1;
    return unlikely(fork_holding);
}
/* Out of line, in arena.c.  As a static inline, GCC kept it out of line
 * anyway, with a private copy in each part of the link-time build. */
void lock_acquire(lock_t *l);
static inline void lock_release(lock_t *l)
{
    if (__libc_single_threaded)
        return;
    if (unlikely(fork_holding))
        return;
    if (unlikely(__atomic_exchange_n(&l->state, 0, __ATOMIC_RELEASE) & LOCK_WAITERS))
        lock_wake(l);
}

/* ---- options.c ------------------------------------------------------------ */
extern params_t mp;
void options_init(void);                 /* reads the environment once       */

/* Plain string loops for reading the environment at start-up.  libc's
 * vectorised string functions sit in pages a program may never touch
 * otherwise, and every page of libc that is faulted in (with its
 * neighbours: the kernel maps up to 64 KiB around a fault in a file)
 * counts in the resident set. */
static inline size_t str_len(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}
static inline int str_eqn(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}
int  options_mallopt(int param, int value);

/* ---- init (api.c) --------------------------------------------------------- */
extern int ptalloc_initialized;
void ptalloc_init(void);
static inline void ensure_init(void)
{
    if (unlikely(!ptalloc_initialized))
        ptalloc_init();
}
void remote_flush(void);

/* The start of every introspection call (statistics, the heap walk and
 * picture, locate, bins, arena info): the thread's batch of frees of other
 * arenas' chunks is handed over first, so its frees show where they go,
 * as in glibc (the arenas' handed lists are put away under their locks). */
static inline void introspection_start(void)
{
    ensure_init();
    remote_flush();
}

/* ---- arena.c -------------------------------------------------------------- */
extern arena_t main_arena;
extern lock_t  arenas_lock;              /* arena list, free list, counts    */
extern int     narenas;
void     arena_init(arena_t *a, int number);
arena_t *arena_get_slow(arena_t *a);     /* arena_get() is in tcache.h    */
arena_t *arena_retry(arena_t *failed, size_t nb);  /* another one, locked    */
void     arena_thread_detach(void);      /* at thread exit                   */
void     arena_fork_prepare(void);
void     arena_fork_parent(void);
void     arena_fork_child(void);
arena_t *arena_by_number(int n);

/* ---- heap.c: sub-heaps of non-main arenas --------------------------------- */
static inline heap_info_t *heap_for_ptr(const void *p)
{
    return (heap_info_t *)((uintptr_t)p & ~(HEAP_MAX_SIZE - 1));
}
static inline arena_t *arena_for_chunk(const chunk_t *p)
{
    return chunk_main_arena(p) ? &main_arena : heap_for_ptr(p)->ar;
}
heap_info_t *heap_new(size_t size, size_t top_pad);
int      heap_grow(heap_info_t *h, long diff);
int      heap_shrink(heap_info_t *h, long diff);
int      heap_trim(heap_info_t *h, size_t pad);
arena_t *arena_new(void);                /* in a fresh sub-heap              */
char    *heap_chunks_start(heap_info_t *h);

/* ---- sysmem.c: memory from and back to the system --------------------- */
extern lock_t       mmap_lock;
extern mmap_hdr_t  *mmap_list;
extern mmap_stats_t mstats;
void *sys_malloc(arena_t *a, size_t nb);          /* a == NULL: mmap only  */
void *mmap_chunk_alloc(size_t nb, size_t align);  /* an IS_MMAPPED chunk   */
void  mmap_chunk_free(chunk_t *p);
chunk_t *mmap_chunk_remap(chunk_t *p, size_t nb);
int   sys_trim(arena_t *a, size_t pad);
void  note_trim(arena_t *a, size_t released, bool dense);
int   arena_release_pages(arena_t *a, size_t pad);            /* madvise free pages    */
char *main_segment_start(segment_t *s);

/* ---- malloc.c -------------------------------------------------------------- */
void *int_malloc(arena_t *a, size_t nb);
void *split_top(arena_t *a, size_t nb);
void  malloc_consolidate(arena_t *a);
void  perturb_alloc(void *mem, size_t n);

/* ---- free.c ---------------------------------------------------------------- */
void  int_free(arena_t *a, chunk_t *p, int have_lock);
void  arena_hand_over(arena_t *a, tc_entry_t *first, tc_entry_t *last, size_t bytes);
void  arena_drain(arena_t *a, bool cache);               /* lock held */
/* Lock held: puts away what other threads handed over, if anything; with
 * cache, the calling thread's caches take what they have room for. */
static inline void arena_take_handed(arena_t *a, bool cache)
{
    if (unlikely(__atomic_load_n(&a->handed, __ATOMIC_RELAXED) != NULL))
        arena_drain(a, cache);
}
void  free_merge(arena_t *a, chunk_t *p, size_t size);   /* lock held */

/* ---- realloc.c, memalign.c ------------------------------------------------- */
void *int_realloc(arena_t *a, chunk_t *oldp, size_t oldsize, size_t nb);
void *int_memalign(arena_t *a, size_t align, size_t nb);
void *aligned_alloc_impl(size_t align, size_t n);

/* ---- tcache.c -------------------------------------------------------------- */
extern __thread tcache_t tc __attribute__((tls_model("initial-exec")));
extern __thread tcache_mid_t tcm __attribute__((tls_model("initial-exec")));
extern uintptr_t tcache_key;
extern tcache_t *all_tcaches;
void tcache_fork_child(void);
void tcache_process_init(void);
void tcache_thread_init(void);
void tcache_hook_late(void);                     /* main thread: exit hook    */
void tcache_flush(void);
int  tcache_put_slow(chunk_t *p, size_t size);   /* 1 if it went in the cache */
void *tcache_get_aligned(size_t nb, size_t align);  /* memalign's; or NULL */
void tcache_spill(arena_t *a, size_t slot);      /* lock held, fastbin sizes  */
void remote_put(arena_t *a, chunk_t *p, size_t size);

/* ---- check.c: integrity errors, heap checking ----------------------------- */
NORETURN COLD void malloc_error(const char *msg);
NORETURN COLD void assert_fail(const char *expr, const char *file, int line);

/* The cheap checks every pointer passed to free gets. */
static inline void check_free_pointer(const chunk_t *p, size_t size)
{
    if (unlikely((uintptr_t)p > (uintptr_t)-size || misaligned_chunk(p)))
        malloc_error("free(): invalid pointer");
    if (unlikely(size < MINSIZE || !aligned_ok(size)))
        malloc_error("free(): invalid size");
}

/* The checks of a free that read only the next chunk's header and the
 * arena's size (check_free_next below, remote_put, fastbin_push): the
 * header says the freed chunk is in use - not asked of a fastbin-size
 * chunk, which keeps that bit in a fastbin too - and has a sane size. */
static inline void check_next_header(arena_t *a, const chunk_t *next, bool fast)
{
    size_t nsize = __atomic_load_n(&next->size, __ATOMIC_RELAXED);
    if (unlikely(!fast && !(nsize & PREV_INUSE)))
        malloc_error("double free or corruption (!prev)");
    if (unlikely(nsize <= 2 * SIZE_SZ ||
                 (nsize & ~(size_t)SIZE_BITS) >= __atomic_load_n(&a->system_mem, __ATOMIC_RELAXED)))
        malloc_error(fast ? "free(): invalid next size (fast)" : "free(): invalid next size (normal)");
}

/* The checks of a free that look at the arena and the next chunk: p is
 * not the top, ends inside the arena, the next chunk says p is in use and
 * has a sane size.  The mid-size cache runs them without the lock
 * (tcache.h): the loads are relaxed, and nothing another thread may change
 * meanwhile (the top, the arena's size, the next chunk split or merged)
 * can make an in-use chunk fail them - its PREV_INUSE bit is p's owner's.
 * Only the end-of-arena test needs the lock: without it, the top may be
 * seen in a new mapping below p. */
static inline void check_free_next(arena_t *a, const chunk_t *p, const chunk_t *next, bool locked)
{
    const chunk_t *top = __atomic_load_n(&a->top, __ATOMIC_RELAXED);
    if (unlikely(p == top))
        malloc_error("double free or corruption (top)");
    if (locked && unlikely(contiguous(a) && a == &main_arena &&
                           (const char *)next >= (const char *)top + chunksize(top)))
        malloc_error("double free or corruption (out)");
    check_next_header(a, next, false);
}

/* Safe-linking: next pointers in tcache and fastbins are stored XORed with
 * the address of the field shifted right by a page, so a leaked or
 * overwritten pointer does not give (or take) a usable address. */
static inline void *protect_ptr(const void *field, const void *ptr)
{
    return (void *)(((uintptr_t)field >> 12) ^ (uintptr_t)ptr);
}
#define reveal_ptr(field) ((__typeof__(*(field)))protect_ptr((field), *(field)))

/* ---- free.c, inline part ------------------------------------------------------ */
void  perturb_free(void *mem, size_t n);

/* Pushes a fastbin-size chunk onto its fastbin (lock held). */
static inline void fastbin_push(arena_t *a, chunk_t *p, size_t size)
{
    check_next_header(a, chunk_at(p, size), true);
    if (unlikely(mp.perturb))
        perturb_free(chunk2mem(p), size - 2 * SIZE_SZ);
    unsigned idx = fastbin_index(size);
    chunk_t *old = a->fastbins[idx];
    if (unlikely(old == p))
        malloc_error("double free or corruption (fasttop)");
    if (unlikely(old && fastbin_index(chunksize(old)) != idx))
        malloc_error("invalid fastbin entry (free)");
    p->fd = protect_ptr(&p->fd, old);
    a->fastbins[idx] = p;
    a->flags |= ARENA_HAVE_FASTCHUNKS;
}

/* Frees a chunk of a non-mmapped size into arena a (lock held): its
 * fastbin, or merged into the unsorted bin or the top.  int_free's body,
 * inline for free()'s own slow path. */
static inline void free_locked(arena_t *a, chunk_t *p, size_t size)
{
    if (size <= mp.max_fast)
        fastbin_push(a, p, size);
    else
        free_merge(a, p, size);
}

/* ---- stats.c --------------------------------------------------------------- */
struct arena_totals {
    size_t system, max_system, top, free_bytes, free_chunks, fast_bytes, fast_chunks;
};
void arena_totals(arena_t *a, struct arena_totals *t);   /* lock held */

#endif
