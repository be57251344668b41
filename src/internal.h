/*
 * Declarations shared between ptalloc's files, grouped by the file that
 * defines them, lowest layer first.  Nothing here is exported from the
 * library.  docs/DESIGN-MAP.md says which file holds which mechanism.
 */
#ifndef PTALLOC_INTERNAL_H
#define PTALLOC_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <sys/single_threaded.h>
#include "types.h"
#include "chunk.h"

#define PUBLIC   __attribute__((visibility("default")))
#define NOINLINE __attribute__((noinline))
#define NORETURN __attribute__((noreturn))
#define COLD     __attribute__((cold))
#define ALWAYS_INLINE inline __attribute__((always_inline))

/* ---- os.c: the only file that talks to the kernel ---------------------- */
extern size_t os_pagesize;
extern int    vg_active;                          /* vg.h */
void    os_init(void);                            /* page size */
void   *os_map(size_t len);                       /* read-write, NULL on failure */
void   *os_reserve(size_t len);                   /* PROT_NONE, NORESERVE       */
int     os_unmap(void *p, size_t len);
int     os_protect(void *p, size_t len, int writable);
void   *os_remap(void *p, size_t old_len, size_t new_len);  /* may move */
int     os_purge(void *p, size_t len);            /* MADV_DONTNEED              */
void   *os_sbrk(intptr_t inc);                    /* (void *)-1 on failure      */
size_t  os_resident_pages(void *p, size_t npages); /* mincore; 0 on failure   */
const char *os_getenv(const char *name);          /* NULL before the env exists */
int     os_env_any(const char *prefix);           /* a variable starts with it  */
int     os_secure(void);                          /* setuid: ignore environment */
uint64_t os_random(void);
int     os_ncpus(void);
int     os_getpid(void);
int     os_gettid(void);
int     os_getppid(void);
int     os_thread_gone(int tid);
int     os_open(const char *path, int create);    /* -1 on failure; close-on-exec */
long    os_read(int fd, void *buf, size_t n);      /* -errno on failure       */
int     os_resize(int fd, uint64_t size);          /* ftruncate               */
void   *os_map_shared(int fd, uint64_t off, size_t len);  /* NULL on failure  */
void    os_close(int fd);
uint64_t os_clock_ns(int realtime);               /* CLOCK_MONOTONIC / REALTIME */
uint64_t os_clock_ms(void);                       /* CLOCK_MONOTONIC_COARSE     */
void    os_write(int fd, const char *s, size_t n);
NORETURN void os_abort(void);

/* ---- fmt.c: messages without malloc: a formatter, the error path ------- */
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
/* Heap corruption found: the message (glibc's words) on stderr, then abort. */
NORETURN COLD void malloc_error(const char *msg);
NORETURN COLD void assert_fail(const char *expr, const char *file, int line);

#ifdef PTALLOC_DEBUG
#define ASSERT(c) do { if (!(c)) assert_fail(#c, __FILE__, __LINE__); } while (0)
#else
#define ASSERT(c) do { (void)sizeof(c); } while (0)
#endif

/* ---- lock.h: the lock (its out-of-line copies are emitted in arena.c) --- */
#include "lock.h"

/* ---- options.c: the tunable parameters ------------------------------------ */
extern params_t mp;
void options_init(void);                 /* reads the environment            */
int  options_mallopt(int param, int value);
int  options_set(const char *name, long value);   /* 0: no such option or value */
int  options_get(const char *name, long *value);

/* Plain string loops for reading the environment at start-up: libc's
 * vectorised string functions sit in pages a program may never touch
 * otherwise, and every page of libc faulted in counts in its resident
 * set. */
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

/* ---- trace.h, trace.c: the trace log's hooks ------------------------------- */
#include "trace.h"

/* ---- bins.h, bins.c: the arena's lists of free chunks ---------------------- */
#include "bins.h"

/* ---- arena.c: arenas, the threads that use them, start-up, fork ----------- */
extern arena_t main_arena;
extern lock_t  arenas_lock;              /* arena list, thread list, counts  */
extern lock_t  mmap_lock;                /* mmapped chunks (sysmem.c)         */
extern int     narenas;
/* The thread's state: its arena and its caches (types.h). */
extern __thread tcache_t tc __attribute__((tls_model("initial-exec")));
extern __thread tcache_mid_t tcm __attribute__((tls_model("initial-exec")));
extern tcache_t *all_threads;            /* every live thread's state        */
/* &tc less the thread pointer, the same in every thread: for a reader
 * outside the process (descriptor.h), set by ptalloc_init. */
extern ptrdiff_t tc_tp_offset;

extern int ptalloc_initialized;
void ptalloc_init(void);
static inline void ensure_init(void)
{
    if (unlikely(!ptalloc_initialized))
        ptalloc_init();
}

void     arena_init(arena_t *a, int number);
arena_t *arena_get_slow(arena_t *a);
arena_t *arena_retry(arena_t *failed);   /* another one, locked, or NULL    */
arena_t *arena_by_number(int n);
void     arena_thread_start(void);       /* onto the list of threads        */
void     arena_thread_exit(void);        /* off it, and off its arena       */

/* The thread's arena, locked. */
static inline arena_t *arena_get(void)
{
    arena_t *a = tc.arena;
    if (unlikely(!(a && lock_try(&a->lock))))
        a = arena_get_slow(a);
    a->last_user = &tc;
    return a;
}

/* ---- heap.c: sub-heaps, the memory of the other arenas ---------------------- */
/* In an arena's first sub-heap the arena follows the header, on a cache
 * line of its own. */
#define HEAP_ARENA_OFFSET ((sizeof(heap_info_t) + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1))
static inline heap_info_t *heap_for_ptr(const void *p)
{
    return (heap_info_t *)((uintptr_t)p & ~(HEAP_MAX_SIZE - 1));
}
heap_info_t *heap_new(size_t size, size_t top_pad);
int      heap_grow(heap_info_t *h, long diff);
int      heap_shrink(heap_info_t *h, long diff);
void     heap_unmap(heap_info_t *h);
char    *heap_chunks_start(heap_info_t *h);

/* The arena a chunk belongs to (arena.c's, inline for the free path). */
static inline arena_t *arena_for_chunk(const chunk_t *p)
{
    return chunk_main_arena(p) ? &main_arena : heap_for_ptr(p)->ar;
}

/* ---- the cheap checks every path makes (glibc's messages) ----------------- */

/* The checks every pointer passed to free gets. */
static inline void check_free_pointer(const chunk_t *p, size_t size)
{
    if (unlikely((uintptr_t)p > (uintptr_t)-size || misaligned_chunk(p)))
        malloc_error("free(): invalid pointer");
    if (unlikely(size < MINSIZE || !aligned_ok(size)))
        malloc_error("free(): invalid size");
}

/* The checks of a free that read only the next chunk's header and the
 * arena's size: the header says the freed chunk is in use - not asked of
 * a fastbin-size chunk, which keeps that bit in a fastbin too - and has a
 * sane size. */
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
 * has a sane size.  The mid-size cache runs them without the lock: nothing
 * another thread may change meanwhile can make an in-use chunk fail them
 * (its PREV_INUSE bit is p's owner's), but the end-of-arena test needs the
 * lock, as the top may be seen in a new mapping below p. */
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

/* ---- sysmem.c: memory from and back to the system --------------------- */
extern mmap_hdr_t  *mmap_list;
extern mmap_stats_t mstats;
void *sys_malloc(arena_t *a, size_t nb);          /* a == NULL: mmap only  */
void *mmap_chunk_alloc(size_t nb, size_t align);  /* an IS_MMAPPED chunk   */
void  mmap_chunk_free(chunk_t *p);
chunk_t *mmap_chunk_remap(chunk_t *p, size_t nb);
int   sys_trim(arena_t *a, size_t pad, bool heaps);  /* lock held          */
int   sys_trim_all(size_t pad);                   /* malloc_trim           */
int   arena_give_back(arena_t *a, size_t pad);    /* lock held: all of it  */
int   purge_chunk(arena_t *a, chunk_t *p);        /* lock held             */
/* The whole pages inside free chunk p (size bytes) past its header and
 * purge stamp, the ones a purge gives back: their start in *from, their
 * length returned (0: none). */
static inline size_t purge_span(chunk_t *p, size_t size, uintptr_t *from)
{
    *from = align_up((uintptr_t)(purge_stamp(p) + 1), os_pagesize);
    uintptr_t to = align_down((uintptr_t)p + size, os_pagesize);
    return to > *from ? to - *from : 0;
}
/* Whether arena a's top is one a trim may shrink: the main arena's past
 * the trim threshold, any sub-heap's (sub_heap_trim checks the threshold
 * for the shrink itself). */
static inline bool top_trimmable(arena_t *a)
{
    return a != &main_arena || chunksize(a->top) >= mp.trim_threshold;
}

/* ---- decay.c: giving memory back by the clock ----------------------------- */
/* Locked calls between two readings of the clock (a power of two). */
#define DECAY_TICK_CALLS 32
void decay_tick(arena_t *a);                      /* lock held: read the clock */
void decay_grow(arena_t *a);                      /* lock held: the top grows  */
void decay_freed(arena_t *a, chunk_t *p);         /* lock held: a big free     */
void decay_thread_left(void);                     /* a thread has exited       */
void decay_thread_start(void);                    /* the background thread     */
extern int decay_thread_wanted;                   /* options.c                 */
/* The purge delay for arena a: none for an arena no thread uses (the
 * frees of its chunks by other threads after its own left), whose memory
 * no call of its own will come back for. */
static inline size_t decay_delay(arena_t *a)
{
    size_t delay = mp.purge_delay_ms;
    return a->attached == 0 && delay != SIZE_MAX ? 0 : delay;
}
/* Counts a call past the fast paths (malloc_generic, free_generic): the
 * mid-size cache serves many that never lock, and every
 * DECAY_GENERIC_CALLS of them the thread's arena reads the clock. */
#define DECAY_GENERIC_CALLS 64
void decay_generic_tick(void);
static inline void decay_generic_count(void)
{
    if (unlikely((++tc.generic_calls & (DECAY_GENERIC_CALLS - 1)) == 0))
        decay_generic_tick();
}
/* Lock held: an allocation took the front of the top, leaving `left`
 * bytes: the decay notes when, and how far down the top has been since
 * its last look (top_low). */
static inline void decay_top_split(arena_t *a, size_t left)
{
    a->top_touched = a->clock_ms;
    if (left < a->top_low)
        a->top_low = left;
}
/* Lock held: counts a locked call, and reads the clock every
 * DECAY_TICK_CALLS of them. */
static inline void decay_count(arena_t *a)
{
    if (unlikely((++a->ticks & (DECAY_TICK_CALLS - 1)) == 0))
        decay_tick(a);
}
char *main_segment_start(segment_t *s);

/* ---- malloc.c: the malloc path -------------------------------------------- */
/* caller: the call site a trace records; NULL from inside the library. */
void *malloc_generic(size_t n, void *caller);  /* everything malloc's fast path is not */
void *malloc_miss(size_t n, void *caller);     /* the fast path's slot was empty    */
void *malloc_from_arena(size_t n, size_t align, bool zero);
void *int_malloc(arena_t *a, size_t nb); /* lock held */
void *split_top(arena_t *a, size_t nb);  /* lock held */
void  perturb_alloc(void *mem, size_t n);

/* ---- free.c: the free path --------------------------------------------------- */
void  free_generic(void *mem, void *caller);   /* everything free's fast path is not */
void  free_refused(void *mem, void *caller);   /* the fast path took a place, unused */
void  free_merge(arena_t *a, chunk_t *p, size_t size);   /* lock held */
void  malloc_consolidate(arena_t *a);                    /* lock held */
void  consolidate_since(arena_t *a, uint64_t since);     /* lock held */
void  perturb_free(void *mem, size_t n);

/* Pushes a fastbin-size chunk onto its fastbin (lock held); _quiet: with
 * no trace hook, for a caller that has its own. */
static inline void fastbin_push_quiet(arena_t *a, chunk_t *p, size_t size)
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
    a->flags |= ARENA_HAVE_FASTCHUNKS | ARENA_FAST_USED;
}
static inline void fastbin_push(arena_t *a, chunk_t *p, size_t size)
{
    fastbin_push_quiet(a, p, size);
    trace_set(p, size, W_FASTBIN);
}

/* Frees a non-mmapped chunk into arena a (lock held), past the caches: its
 * fastbin, or merged into the unsorted bin or the top.  The pointer checks
 * (check_free_pointer) are the caller's.  _quiet: a fastbin push is not
 * traced (the caller does it). */
static inline void int_free_quiet(arena_t *a, chunk_t *p, size_t size)
{
    if (size <= mp.max_fast)
        fastbin_push_quiet(a, p, size);
    else
        free_merge(a, p, size);
}
static inline void int_free(arena_t *a, chunk_t *p, size_t size)
{
    if (size <= mp.max_fast)
        fastbin_push(a, p, size);
    else
        free_merge(a, p, size);
}

/* ---- remote.c: frees of other arenas' chunks, handed over in batches ---- */
void remote_free(arena_t *a, chunk_t *p, size_t size);   /* into the batch */
void remote_flush(void);                 /* hands the thread's batch over    */
void remote_collect(arena_t *a, bool cache);             /* lock held */
/* Lock held: puts away what other threads handed over to a, if anything;
 * with cache, the calling thread's caches take what they have room for. */
static inline void remote_take(arena_t *a, bool cache)
{
    if (unlikely(__atomic_load_n(&a->remote, __ATOMIC_RELAXED) != NULL))
        remote_collect(a, cache);
}

/* ---- tcache.c (inline part in tcache.h): the per-thread caches ------------ */
extern uintptr_t tcache_key;
void tcache_thread_init(void);
void tcache_hook_late(void);                     /* main thread: exit hook    */
void tcache_flush(void);
int  tcache_put_slow(chunk_t *p, size_t size);   /* 1 if it went in the cache */
void *tcache_get_aligned(size_t nb, size_t align);  /* memalign's; or NULL */
void tcache_spill(arena_t *a, size_t slot);      /* lock held, fastbin sizes  */

/* ---- realloc.c, memalign.c ------------------------------------------------- */
void *realloc_generic(void *mem, size_t n);
void *int_realloc(arena_t *a, chunk_t *oldp, size_t oldsize, size_t nb);
void *memalign_generic(size_t align, size_t n);
void *int_memalign(arena_t *a, size_t align, size_t nb);

/* ---- walk.c, stats.c, check.c: introspection -------------------------------- */
/* Calls fn for every chunk of arena a (lock held), in address order. */
int walk_chunks(arena_t *a, int (*fn)(arena_t *, chunk_t *, int seg, void *), void *arg);

struct totals {
    size_t system, max_system, top, free_bytes, free_chunks, fast_bytes, fast_chunks;
    size_t released;        /* free bytes whose pages are not resident now */
    size_t resident;        /* free bytes (bins, fastbins, top) still resident */
    size_t given_back;      /* bytes purged or trimmed, ever               */
};
void stats_totals(arena_t *a, struct totals *t);   /* lock held */

/* The start of every introspection call: the thread's batch of remote
 * frees is handed over first, so its frees show where they go, as in
 * glibc. */
static inline void introspection_start(void)
{
    ensure_init();
    remote_flush();
}

#endif
