/*
 * ptalloc — a ptmalloc2-design memory allocator.
 *
 * The standard entry points (malloc, free, calloc, realloc, reallocarray,
 * memalign, posix_memalign, aligned_alloc, valloc, pvalloc,
 * malloc_usable_size, free_sized, free_aligned_sized, mallopt, malloc_trim,
 * mallinfo, mallinfo2, malloc_stats, malloc_info) are exported with glibc's
 * names and semantics; use <stdlib.h> and <malloc.h> for them.
 *
 * This header holds what ptalloc adds: options by name, the heap
 * consistency check and the heap walk used by tests and tools.
 */
#ifndef PTALLOC_H
#define PTALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PTALLOC_VERSION "0.1.0"

/* ---- Options ---------------------------------------------------------
 * Every knob has a name (the lower-case form of PTALLOC_<NAME>), e.g.
 * "mmap_threshold", "tcache_count".  Returns 1 on success, 0 when the name
 * is unknown or the value out of range (the old value is kept). */
int  ptalloc_set_option(const char *name, long value);
/* Current value; returns 0 and leaves *value alone for an unknown name. */
int  ptalloc_get_option(const char *name, long *value);
/* The i-th option's name (i from 0), NULL past the last. */
const char *ptalloc_option_name(int i);
/* How PTALLOC_<NAME>=value in the environment would be read (decimal, or
 * hex with 0x, optional k/m/g suffix), without setting anything: returns
 * 1 with the number in *out, 0 for no such option, -1 for a value that is
 * malformed or outside the option's range (the environment would ignore
 * it and keep the default). */
int  ptalloc_parse_option(const char *name, const char *value, long *out);

/* ---- Consistency check -----------------------------------------------
 * Walks every arena, sub-heap, bin and the thread caches and verifies
 * every invariant of the design (boundary tags, flags, bin links, sizes
 * and order, binmap, counters, mmapped chunks).  Returns the number of
 * problems found (0 = consistent).  Flags: PTALLOC_CHECK_VERBOSE describes
 * each problem on stderr (any odd value does, so ptalloc_check(1) works);
 * PTALLOC_CHECK_ALL_THREADS checks every live thread's tcache, not only
 * the caller's - call it so only while the other threads do not allocate
 * (a tcache has no lock).  Takes the arena locks. */
#define PTALLOC_CHECK_VERBOSE      1
#define PTALLOC_CHECK_ALL_THREADS  2
int  ptalloc_check(int flags);

/* ---- Heap walk -------------------------------------------------------- */
enum ptalloc_where {
    PTALLOC_INUSE = 0,      /* handed out to the program                 */
    PTALLOC_TCACHE,         /* in a thread cache (bin = tcache index:
                               0..63 chunk size (bin + 2) * 16;
                               64..111 the mid-size classes, chunk sizes
                               from 1056 + 64 * (bin - 64), one chunk
                               each)                                     */
    PTALLOC_FASTBIN,        /* in a fastbin (bin = fastbin index)        */
    PTALLOC_UNSORTED,       /* in the unsorted bin (bin = 1)             */
    PTALLOC_SMALLBIN,       /* in a small bin (bin = 2..63)              */
    PTALLOC_LARGEBIN,       /* in a large bin (bin = 64..126)            */
    PTALLOC_TOP,            /* the top chunk of its arena                */
    PTALLOC_MMAPPED,        /* a chunk of its own, mmapped               */
    PTALLOC_FENCE           /* a fence-post at the end of a segment      */
};

/* Chunk flag bits as stored in the size field. */
#define PTALLOC_PREV_INUSE     1u
#define PTALLOC_IS_MMAPPED     2u
#define PTALLOC_NON_MAIN_ARENA 4u

struct ptalloc_chunk_info {
    void    *chunk;     /* address of the chunk header (prev_size field)  */
    void    *mem;       /* the pointer malloc returns for it              */
    size_t   size;      /* chunk size, flags removed                      */
    unsigned flags;     /* PTALLOC_PREV_INUSE | IS_MMAPPED | NON_MAIN_ARENA */
    int      where;     /* enum ptalloc_where                             */
    int      bin;       /* bin index as described above, -1 if none      */
    int      arena;     /* arena number, 0 = main arena, -1 = mmapped     */
    int      segment;   /* heap segment (main) or sub-heap number         */
};

/* Calls fn once per chunk: every arena's segments in address order, then
 * the mmapped chunks.  A non-zero return from fn stops the walk and is
 * returned.  fn must not allocate or free.  Chunks in the calling thread's
 * tcache are reported as PTALLOC_TCACHE; those in other threads' caches,
 * which the walk cannot read safely, as in use (which, to the arena, they
 * are).  Blocks of other arenas that a thread freed past its caches wait
 * in a batch of that thread (option remote_batch).  The walk - and
 * ptalloc_locate, ptalloc_bin, ptalloc_print_heap, ptalloc_arena_info,
 * mallinfo2, malloc_stats, malloc_info - first hands the calling thread's
 * batch over and puts away what was handed to each arena, so the caller's
 * own frees show in the bins; other threads' batches show as in use.
 * ptalloc_check verifies the batches and what waits handed over without
 * moving them. */
typedef int (*ptalloc_walk_fn)(const struct ptalloc_chunk_info *info, void *arg);
int  ptalloc_walk(ptalloc_walk_fn fn, void *arg);

/* Describes the chunk that holds user pointer mem (allocated or not).
 * Returns 1 when found, 0 when mem is not the start of any chunk. */
int  ptalloc_locate(const void *mem, struct ptalloc_chunk_info *out);

/* The chunks of one bin, in list order (fd direction; for tcache and
 * fastbins: the order the next malloc takes them).  kind is
 * PTALLOC_TCACHE (this thread's cache), PTALLOC_FASTBIN, PTALLOC_UNSORTED,
 * PTALLOC_SMALLBIN or PTALLOC_LARGEBIN.  Stores up to max chunk user
 * pointers in out and returns how many the bin holds. */
size_t ptalloc_bin(int arena, int kind, int index, void **out, size_t max);

struct ptalloc_arena_info {
    int      number;          /* 0 = main arena                           */
    void    *top;             /* top chunk address                        */
    size_t   top_size;
    void    *last_remainder;  /* NULL if none                             */
    size_t   system_bytes;    /* memory obtained from the system          */
    size_t   max_system_bytes;
    size_t   in_use_bytes;
    unsigned binmap[4];
    int      segments;        /* main: contiguous segments; else sub-heaps */
    int      threads;         /* threads attached                          */
};
/* Number of arenas that exist. */
int  ptalloc_arena_count(void);
/* Fills *out for arena n; returns 0 when there is no such arena. */
int  ptalloc_arena_info(int n, struct ptalloc_arena_info *out);

/* Bin index of a chunk size, as the design computes it (small or large). */
int  ptalloc_bin_index(size_t chunk_size);
/* Chunk size for a request: max(32, align16(n + 8)). */
size_t ptalloc_request_size(size_t n);

/* Empties the calling thread's tcache into its arenas (as at thread exit). */
void ptalloc_thread_flush(void);

/* Draws the heap as the textbook pictures do: each arena's chunks in
 * address order with sizes, flags and where each free chunk sits, then
 * every non-empty bin.  Writes to file descriptor fd; allocates nothing. */
void ptalloc_print_heap(int fd);

/* ---- Tracing ------------------------------------------------------------
 * With PTALLOC_TRACE=FILE in the environment (or `ptalloc trace`), every
 * call is recorded in FILE with the allocator's decision
 * (docs/TRACE-FORMAT.md).  ptalloc_tracing says whether this process is
 * being traced; ptalloc_trace_mark writes a labelled mark into the log (a
 * point a report or `ptalloc show --at` can name).  Each ptalloc_walk is a
 * checkpoint in the log too. */
int  ptalloc_tracing(void);
void ptalloc_trace_mark(const char *label);

#ifdef __cplusplus
}
#endif
#endif /* PTALLOC_H */
