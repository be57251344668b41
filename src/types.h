/*
 * ptalloc — the types of the design, with a glossary.
 *
 * Glossary
 *   chunk      The unit of memory the allocator hands out and keeps: a size
 *              word with three flag bits, the user's bytes, and (while free)
 *              links into a bin.  The boundary tag (the size repeated in the
 *              next chunk's prev_size) lets free merge neighbours in O(1).
 *   arena      One independent allocator: a lock, the bins, a top chunk.
 *              The main arena is static and grows with sbrk; the others live
 *              in mmapped sub-heaps.  Threads are spread over arenas.
 *   heap       (sub-heap) A HEAP_MAX_SIZE-aligned mmapped region owned by a
 *              non-main arena; reserved PROT_NONE and committed as it grows.
 *   bin        A list of free chunks: fastbins (LIFO, exact size, no merge),
 *              the unsorted bin (bin 1), small bins (2..63, exact size, FIFO)
 *              and large bins (64..126, size ranges, sorted).
 *   tcache     A per-thread cache of free chunks (up to 1040-byte chunks),
 *              used without any lock: one list per chunk size ("slot").
 *   top        The free chunk bordering the end of an arena's memory; never
 *              in a bin; split for requests no bin can serve; grown from the
 *              system.
 *   remainder  last_remainder: what was left of the latest split made for a
 *              small request; preferred for the next small request.
 *   fence-post A 16-byte in-use chunk header written where a segment or
 *              sub-heap ends without a top, so no chunk merges across it.
 *
 * ptalloc's own additions to the design:
 *   mid-size cache  The tcache's continuation for chunks of 1056-4127
 *              bytes: one free chunk per 64-byte class, per thread.
 *   spill      A run of frees overflowing a full tcache slot moves the
 *              slot's older half into the fastbin, so the next frees find
 *              room in the cache.
 *   remote free  A free of another arena's chunk that the thread's caches
 *              cannot take: gathered in the thread's remote batch, handed
 *              over to the arena's remote list in one atomic push, put
 *              away (collected) by the arena's next lock holder.
 *   purge stamp  The time (the arena's clock, in ms) since which a free
 *              chunk of PURGE_MIN_CHUNK bytes or more has been free, kept
 *              in the word after its header; once it is purge_delay_ms
 *              old, the chunk's inner pages go back to the system
 *              (purged) and the stamp says PURGED.
 *   decay      Giving back, by the clock, what has stayed free a while:
 *              purging idle free chunks and trimming an idle top (decay.c).
 *   segment    A contiguous run of chunks of the main arena: the sbrk region,
 *              or an mmapped region used when brk could not grow.
 *
 * The chunk, in use and free (x86_64, SIZE_SZ = 8):
 *
 *     chunk-> +-----------------------------------------------+
 *             | prev_size: size of previous chunk, if free;    |
 *             |   else the previous chunk's last user bytes    |
 *             +-----------------------------------------------+
 *             | size of this chunk                     |A|M|P|
 *       mem-> +-----------------------------------------------+
 *             | user data ...                                  |
 *             |   (free: fd, bk; in a large bin also           |
 *             |    fd_nextsize, bk_nextsize)                   |
 * next chunk->+-----------------------------------------------+
 *             | prev_size: this chunk's size when it is free,  |
 *             |   else this chunk's last 8 user bytes          |
 *             +-----------------------------------------------+
 *             | size of next chunk                     |A|M|P|  P: is this chunk in use?
 *             +-----------------------------------------------+
 *
 *   P = PREV_INUSE (1): the previous chunk is in use (prev_size is not valid).
 *   M = IS_MMAPPED (2): the chunk is a mapping of its own.
 *   A = NON_MAIN_ARENA (4): the chunk belongs to a sub-heap of a non-main arena.
 *
 * An in-use chunk costs 8 bytes: request2size(n) = max(32, align16(n + 8)).
 */
#ifndef PTALLOC_TYPES_H
#define PTALLOC_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define SIZE_SZ            8u
#define MALLOC_ALIGNMENT   16u
#define MALLOC_ALIGN_MASK  (MALLOC_ALIGNMENT - 1)
#define MINSIZE            32u

#define PREV_INUSE         1u
#define IS_MMAPPED         2u
#define NON_MAIN_ARENA     4u
#define SIZE_BITS          (PREV_INUSE | IS_MMAPPED | NON_MAIN_ARENA)

/* Bins. */
#define NBINS              128
#define NSMALLBINS         64
#define MIN_LARGE_SIZE     1024u         /* first chunk size of a large bin */
#define UNSORTED_BIN       1
#define BINMAPSHIFT        5
#define BITSPERMAP         32u
#define BINMAPSIZE         (NBINS / BITSPERMAP)

/* Fastbins: chunk sizes 32..176 at most (M_MXFAST <= 160). */
#define MAX_FAST_SIZE      160u
#define NFASTBINS          10
#define DEFAULT_MXFAST     128u          /* 64 * SIZE_SZ / 4 */
#define FASTBIN_CONSOLIDATION_THRESHOLD  (64u * 1024)

/* tcache: 64 bins, chunk sizes 32..1040 (requests up to 1032).  A tcache
 * slot is indexed directly by chunk size >> 4, so slots 0 and 1 are never
 * used; the public tcache index is slot - 2. */
#define TCACHE_BINS        64
#define TCACHE_SLOTS       (TCACHE_BINS + 2)
#define TCACHE_MAX_REQUEST 1032u
#define TCACHE_DEFAULT_COUNT 7
#define TCACHE_MAX_COUNT   65535
/* Overflowing frees in a row, with no cache miss between them, after which
 * a full slot spills its older half into the fastbin (tcache.c). */
#define SPILL_AFTER_OVERFLOWS 32

/* The mid-size cache, the tcache's continuation for chunk sizes from 1056
 * to 4127 (requests up to 4104): one free chunk per class of 64 bytes of
 * chunk size, per thread.  On by default (option tcache_mid); a tcache_max
 * above 1032 caps it (glibc 2.42 caches chunks that large in its tcache),
 * one below 1032 turns it off.  A chunk goes to the class its size
 * starts; a request takes the chunk of its own class if that is large
 * enough, else the next class's, so it may get up to 96 bytes more than
 * it asked for; a request of the last class has only its own.  The slow
 * paths use it (tcache.h); the public tcache index continues from 64. */
#define TCACHE_MID_CLASSES 48
#define TCACHE_MID_SHIFT   6
#define TCACHE_MID_MIN     (TCACHE_SLOTS * 16)
#define TCACHE_MID_END     (TCACHE_MID_MIN + (TCACHE_MID_CLASSES << TCACHE_MID_SHIFT))
#define TCACHE_MID_MAX_NB  (TCACHE_MID_END - 16u)   /* the last class's largest */
#define TCACHE_MID_MAX_REQUEST (TCACHE_MID_MAX_NB - 8u)
/* The class a free chunk of that size is filed under; the class whose
 * every chunk is at least nb bytes; the smallest chunk size of class k. */
#define TCACHE_MID_CLASS_OF_CHUNK(size) (((size) - TCACHE_MID_MIN) >> TCACHE_MID_SHIFT)
#define TCACHE_MID_CLASS_FOR(nb) \
    (((nb) - TCACHE_MID_MIN + (1u << TCACHE_MID_SHIFT) - 1) >> TCACHE_MID_SHIFT)
#define TCACHE_MID_CLASS_MIN(k)  (TCACHE_MID_MIN + ((size_t)(k) << TCACHE_MID_SHIFT))
/* The largest tcache_max accepted (glibc 2.42's); above 4104 it changes
 * nothing. */
#define TCACHE_MAX_TUNABLE (4ul << 20)

/* Remote frees (remote.c): a batch holds up to remote_batch chunks or
 * REMOTE_BATCH_BYTES; once more than REMOTE_WAITING_MAX bytes wait in an
 * arena's remote list, the thread handing over puts them away itself. */
#define REMOTE_BATCH_DEFAULT 32
#define REMOTE_BATCH_MAX     1024
#define REMOTE_BATCH_BYTES   (16u * 1024)
#define REMOTE_WAITING_MAX   (128u * 1024)

/* Sub-heaps of non-main arenas. */
#define HEAP_MIN_SIZE      (32u * 1024)
#define HEAP_MAX_SIZE      (64ul * 1024 * 1024)

/* System memory. */
#define DEFAULT_MMAP_THRESHOLD      (128u * 1024)
#define DEFAULT_MMAP_THRESHOLD_MAX  (32ul * 1024 * 1024)
#define DEFAULT_TRIM_THRESHOLD      (128u * 1024)
#define DEFAULT_TOP_PAD             (128u * 1024)
/* Free pages go back to the system once they have stayed free this long
 * (docs/DESIGN-MAP.md, "Decay", has the measurements that chose it). */
#define DEFAULT_PURGE_DELAY_MS      250
#define DEFAULT_MMAP_MAX            65536
#define MMAP_FALLBACK_SIZE          (1024u * 1024)
#define DEFAULT_ARENA_TEST          8

/* A chunk.  Only prev_size and size exist in every chunk; the links exist
 * only while the chunk is free (they overlay the user's bytes). */
typedef struct chunk {
    size_t        prev_size;
    size_t        size;
    struct chunk *fd;
    struct chunk *bk;
    struct chunk *fd_nextsize;   /* large bins only: next smaller size */
    struct chunk *bk_nextsize;   /* large bins only: next larger size  */
} chunk_t;

/* A free chunk in a tcache or fastbin: a singly linked entry.  The next
 * pointer is stored mangled (safe-linking: protect_ptr in internal.h); key
 * marks a chunk that sits in a tcache or a remote batch (double-free
 * detection). */
typedef struct tc_entry {
    struct tc_entry *next;
    uintptr_t        key;
} tc_entry_t;

/* The arena lock: a futex word, 0 free, LOCK_TAKEN, or LOCK_WAITERS
 * (taken, and someone may sleep on it). */
typedef struct lock {
    int state;
} lock_t;
#define LOCK_TAKEN    1
#define LOCK_WAITERS  2

/* A segment of the main arena: sbrk'd memory, or an mmapped region used
 * when brk could not grow.  The record sits at the segment's start; the
 * chunks follow it.  Segments are chained newest first. */
typedef struct segment {
    struct segment *next;
    char           *end;          /* first byte past the segment           */
    size_t          mapped;       /* mmapped region size, 0 for sbrk memory */
    size_t          pad;
} segment_t;

struct arena;

/* The header at the start of each sub-heap. */
typedef struct heap_info {
    struct arena     *ar;            /* the owning arena                      */
    struct heap_info *prev;          /* the arena's previous (older) sub-heap */
    size_t            size;          /* bytes in use (readable/writable)      */
    size_t            committed;     /* bytes made read-write so far          */
    int               number;        /* 0 for an arena's first sub-heap       */
    int               pad_[3];
} heap_info_t;

/* An arena.  The bins array holds, for each bin, the fd/bk pair of a
 * pretend chunk header (bin_at() in bins.h), so a bin is a circular doubly
 * linked list whose sentinel costs two words.  It takes whole cache lines:
 * its lock and counters are written on every locked call, and must not
 * share a line with globals that other threads read on their own paths. */
#define CACHE_LINE 64
typedef struct __attribute__((aligned(CACHE_LINE))) arena {
    lock_t          lock;
    int             flags;               /* ARENA_* below                   */
    chunk_t        *fastbins[NFASTBINS];
    chunk_t        *top;
    chunk_t        *last_remainder;
    void           *last_user;           /* the thread-local state of the
                                            last thread to allocate here  */
    chunk_t        *bins[NBINS * 2 - 2];
    unsigned        binmap[BINMAPSIZE];
    struct arena   *next;                /* all arenas, in creation order   */
    size_t          attached;            /* threads using this arena        */
    size_t          system_mem;          /* memory obtained from the system */
    size_t          max_system_mem;
    int             number;              /* 0 = main arena                  */
    int             nheaps;              /* sub-heaps (non-main) or segments */
    segment_t      *segments;            /* main arena only                 */
    heap_info_t    *heap;                /* non-main: the newest sub-heap   */
    size_t          chunk_flag;          /* NON_MAIN_ARENA, or 0 for main    */
    /* Decay (decay.c): the clock as last read, when the next pass is
     * due, when the last one ran; the top's smallest size since top_since
     * (its tail beyond that has stayed unused), the last time it changed
     * at all (by the clock as last read); the locked calls since
     * the clock was last read; where the purge scan goes on. */
    uint64_t        clock_ms;
    uint64_t        decay_due;
    uint64_t        pass_ms;
    uint64_t        top_since;
    uint64_t        top_touched;         /* last split of or merge into it  */
    uint64_t        grow_ms;             /* the top's last growth           */
    size_t          top_low;
    unsigned        ticks;
    unsigned        purge_bin;
    size_t          purged;              /* bytes given back by purges, ever */
    size_t          trimmed;             /* ... and by trims of the top      */
    /* The remote list: frees of this arena's chunks by other threads,
     * handed over in batches for the next lock holder to put away
     * (remote.c); a lock-free stack of chunks linked like a tcache slot,
     * and their bytes.  On a line of its own: the threads handing over
     * write it, and the lock's line is the allocating thread's. */
    _Alignas(CACHE_LINE) tc_entry_t *remote;
    size_t          remote_bytes;
} arena_t;

#define ARENA_HAVE_FASTCHUNKS  1
#define ARENA_NONCONTIGUOUS    2
#define ARENA_CORRUPT          4
#define ARENA_FAST_USED        8     /* a fastbin was used since the last pass */

/* The tunable parameters, filled by options.c (one table there says each
 * one's name, range, mallopt number and environment variables). */
typedef struct params {
    size_t   trim_threshold;
    size_t   top_pad;
    size_t   mmap_threshold;
    size_t   mmap_max;
    size_t   arena_test;
    size_t   arena_max;            /* 0 = from the number of CPUs          */
    size_t   mxfast;               /* M_MXFAST, a request size             */
    size_t   perturb;              /* 0 = off, else the byte               */
    size_t   check_action;
    size_t   tcache_count;
    size_t   tcache_max;           /* largest request the tcache keeps     */
    size_t   tcache_unsorted_limit;
    size_t   hugetlb;
    size_t   valgrind;             /* 1: report blocks to Valgrind when under it */
    size_t   purge_delay_ms;       /* free pages go back after this; SIZE_MAX: never */
    size_t   purge_thread;         /* 1: a thread of ptalloc's own runs decay */
    size_t   tcache_mid;           /* 1: the mid-size cache, unless tcache_max < 1032 */
    size_t   remote_batch;         /* frees of other arenas' chunks gathered per hand-over */
    /* derived */
    size_t   max_fast;             /* largest fastbin chunk size           */
    int      no_dyn_threshold;     /* a static setting turned the rule off */
} params_t;

/* Process-wide counters of mmapped chunks (under mmap_lock). */
typedef struct mmap_stats {
    long     n_mmaps;
    long     max_n_mmaps;
    size_t   mmapped_mem;
    size_t   max_mmapped_mem;
} mmap_stats_t;

/* The per-thread state: the tcache and the thread's arena.  room[s] is
 * how many more chunks the slot may take: zero for an uninitialised or
 * disabled cache, so the lock-free free path falls through to the slow
 * path, which initialises it.
 *
 * Every slot's list ends in TC_END, not NULL: a misaligned value, so the
 * one alignment check of malloc's fast path also sees an empty slot.  The
 * thread-local image starts with every head at TC_END. */
enum { TC_UNINIT = 0, TC_ACTIVE, TC_BUSY, TC_DEAD,
       TC_TRACED };      /* the cache is parked while tracing (trace.c) */

typedef struct tcache {
    int32_t     room[TCACHE_SLOTS];  /* free places left in each slot      */
    uintptr_t   key;        /* copy of tcache_key, one TLS load away */
    tc_entry_t *head[TCACHE_SLOTS];  /* slot = chunk size / 16             */
    uint16_t    state;
    uint16_t    listed;     /* on the list of all threads (arena.c)   */
    uint16_t    hooked;     /* thread-exit hook set (tcache.c)        */
    uint32_t    overflows;  /* full-slot frees since a cache miss     */
    arena_t    *arena;
    struct tcache *next_thread, *prev_thread;  /* all_threads (arenas_lock) */
    struct tcache_mid *mid;             /* the thread's mid-size cache */
    /* The remote batch: frees of another arena's chunks (remote.c). */
    tc_entry_t *remote, *remote_last;
    arena_t    *remote_arena;
    size_t      remote_bytes;
    uint32_t    remote_count;
    uint32_t    remote_limit;   /* chunks per batch; 0 = no batching   */
    /* Tracing (trace.c).  decision: where the current allocation came
     * from, written by the paths that decide (one store, tracing or not);
     * in_trace: inside a traced call, whose record the wrapper writes. */
    uint8_t     decision;
    uint8_t     in_trace;
    uint16_t    generic_calls;  /* calls past the fast paths (decay.c) */
    struct trace_thread *trace;
} tcache_t;

#define TC_END ((tc_entry_t *)1)

/* The mid-size cache of a thread (zero until its tcache is set up). */
typedef struct tcache_mid {
    size_t      limit;      /* largest request size it serves; 0 = off  */
    size_t      end;        /* chunk sizes below this it takes          */
    /* One more than the classes, always empty: a request of the last
     * class may look at "the next class" (tcache_mid_get). */
    tc_entry_t *slot[TCACHE_MID_CLASSES + 1];
} tcache_mid_t;

#endif
