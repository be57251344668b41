/*
 * The trace log's hooks (trace.c writes the log; docs/TRACE-FORMAT.md
 * says what is in it).  The paths that decide where an allocation comes
 * from store the decision in the thread's state, traced or not (one
 * store); the places that change a chunk's state or the system memory
 * call a hook that does nothing unless tracing is on (a load and a
 * branch).  Neither is on malloc's or free's fast path.
 */
#ifndef PTALLOC_TRACE_H
#define PTALLOC_TRACE_H

#include "types.h"

/* Decision codes, as the log has them. */
enum trace_decision {
    D_NONE = 0, D_TCACHE, D_FASTBIN, D_SMALLBIN, D_UNSORTED, D_LAST_REMAINDER, D_LARGEBIN,
    D_BINMAP, D_TOP, D_MMAP, D_MUNMAP, D_REMOTE, D_TCACHE_MID, D_IN_PLACE, D_MOVED, D_MREMAP,
    D_FAILED, D_NULL, D_TRIM
};
#define D_MERGED_PREV 0x20
#define D_MERGED_NEXT 0x40

/* Chunk states of the `set` step record (enum ptalloc_where, then two). */
enum trace_where {
    W_INUSE = 0, W_TCACHE, W_FASTBIN, W_UNSORTED, W_SMALLBIN, W_LARGEBIN, W_TOP, W_MMAPPED,
    W_FENCE, W_REMOTE, W_GONE
};

/* Kinds of the `sys` record: system memory obtained or given back. */
enum trace_sys {
    TS_BRK = 1, TS_SBRK_SHRINK, TS_SEGMENT, TS_HEAP_NEW, TS_HEAP_GROW, TS_HEAP_SHRINK,
    TS_HEAP_UNMAP, TS_MMAP, TS_MUNMAP, TS_MREMAP, TS_MADVISE
};

/* Call record types: the public functions. */
enum trace_op {
    OP_MALLOC = 1, OP_CALLOC, OP_REALLOC, OP_REALLOCARRAY, OP_FREE, OP_FREE_SIZED,
    OP_FREE_ALIGNED_SIZED, OP_MEMALIGN, OP_ALIGNED_ALLOC, OP_POSIX_MEMALIGN, OP_VALLOC,
    OP_PVALLOC, OP_MALLOC_TRIM
};

extern int trace_on;
extern __thread tcache_t tc __attribute__((tls_model("initial-exec")));

/* Is this call to be recorded?  (Not when it comes from inside a call
 * already being recorded.) */
static inline int trace_wanted(void)
{
    return unlikely(trace_on) && !tc.in_trace;
}

/* Where the allocation being made comes from. */
static inline void trace_decide(unsigned decision)
{
    tc.decision = (uint8_t)decision;
}

void trace_set_slow(const void *chunk, size_t size, unsigned where);
void trace_top_slow(const arena_t *a);
void trace_sys_slow(unsigned kind, const arena_t *a, const void *addr, size_t len,
                    const void *addr2, size_t len2);
void trace_consolidate_slow(const arena_t *a);
void trace_arena_new_slow(const arena_t *a, const void *heap);
void trace_fastbin_run(const chunk_t *first, size_t size, int n);

/* The chunk at p, size bytes, is now in state `where`. */
static inline void trace_set(const void *p, size_t size, unsigned where)
{
    if (unlikely(trace_on))
        trace_set_slow(p, size, where);
}
/* a's top chunk changed (moved or resized). */
static inline void trace_top(const arena_t *a)
{
    if (unlikely(trace_on))
        trace_top_slow(a);
}
static inline void trace_sys(unsigned kind, const arena_t *a, const void *addr, size_t len)
{
    if (unlikely(trace_on))
        trace_sys_slow(kind, a, addr, len, NULL, 0);
}

/* The recording wrappers of the public functions (api.c calls them when
 * trace_wanted()); ra is the caller's return address. */
void *trace_malloc(size_t n, void *ra);
void *trace_calloc(size_t n, size_t size, void *ra);
void *trace_realloc(void *mem, size_t n, size_t count, size_t elsize, int op, void *ra);
void  trace_free(void *mem, int op, size_t align, size_t n, void *ra);
void *trace_memalign(int op, size_t align, size_t n, void **out, int *err, void *ra);
int   trace_malloc_trim(size_t pad, void *ra);

/* Introspection and settings calls: the thread's cache is put back for
 * the call, and the changes it makes recorded.  trace_begin returns 1 when
 * it did so, to be passed to trace_end. */
int  trace_begin(void);
/* A path that may use any slot of the thread's cache calls this first
 * (while tracing, a call gets back only the slots it is expected to use). */
void trace_need_cache(void);
static inline void trace_whole_cache(void)
{
    if (unlikely(trace_on))
        trace_need_cache();
}
void trace_end(int began);
void trace_walk_checkpoint(void);

void trace_start(void);                  /* PTALLOC_TRACE, at start-up */
void trace_thread_exit(void);            /* after the cache went back   */
void trace_fork_parent(void);
void trace_fork_child(void);

#endif
