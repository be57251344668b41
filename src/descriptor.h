/*
 * The heap descriptor: what a reader outside the process needs to find and
 * read ptalloc's heap while the process is stopped (`ptalloc heap --pid`,
 * cmd/heap.c).  Nothing in the library reads it.
 *
 * One hidden symbol, ptalloc_heap_descriptor (api.c, the one file every
 * program on ptalloc links), holds the addresses of the globals the heap
 * hangs from and the numbers of this build's layout.  The reader, built
 * from the same sources, compares those numbers with its own and refuses
 * a target whose ptalloc lays its structures out differently.  The symbol
 * is in the symbol table of libptalloc.so, or of an executable linked
 * with libptalloc.a, unless the file was stripped; it is hidden, so it is
 * not exported although its name matches exports.map's ptalloc_*.
 *
 * The thread-local state (tc) is found from each thread's thread pointer:
 * the offset between the two is the same in every thread, and ptalloc_init
 * notes it (tc_tp_offset, arena.c).
 */
#ifndef PTALLOC_DESCRIPTOR_H
#define PTALLOC_DESCRIPTOR_H

#include <stddef.h>
#include <stdint.h>
#include "types.h"
#include "chunk.h"

#define DESC_MAGIC   "ptalloc heap descriptor"   /* 24 bytes with the NUL */
#define DESC_VERSION 1                           /* of struct heap_descriptor */

/* Every number of the layout the reader relies on: the constants of the
 * design and the sizes and offsets of the structures it reads.  A field
 * added to a structure changes a size; one moved changes an offset. */
#define DESC_LAYOUT(X)                                                                   \
    X(SIZE_SZ) X(MALLOC_ALIGNMENT) X(MINSIZE) X(SIZE_BITS) X(NBINS) X(NSMALLBINS)        \
    X(NFASTBINS) X(TCACHE_BINS) X(TCACHE_SLOTS) X(TCACHE_MID_CLASSES) X(TCACHE_MID_MIN)  \
    X(TCACHE_MID_SHIFT) X(HEAP_MAX_SIZE) X(TC_ACTIVE) X((uintptr_t)TC_END)               \
    X(sizeof(chunk_t)) X(offsetof(chunk_t, size)) X(offsetof(chunk_t, fd))               \
    X(offsetof(chunk_t, bk))                                                             \
    X(sizeof(tc_entry_t)) X(offsetof(tc_entry_t, key))                                   \
    X(sizeof(lock_t))                                                                    \
    X(sizeof(segment_t)) X(offsetof(segment_t, end)) X(offsetof(segment_t, mapped))      \
    X(sizeof(heap_info_t)) X(offsetof(heap_info_t, prev)) X(offsetof(heap_info_t, size)) \
    X(offsetof(heap_info_t, committed)) X(offsetof(heap_info_t, number))                 \
    X(sizeof(arena_t)) X(offsetof(arena_t, flags)) X(offsetof(arena_t, fastbins))        \
    X(offsetof(arena_t, top)) X(offsetof(arena_t, bins)) X(offsetof(arena_t, next))      \
    X(offsetof(arena_t, attached)) X(offsetof(arena_t, system_mem))                      \
    X(offsetof(arena_t, number)) X(offsetof(arena_t, nheaps))                            \
    X(offsetof(arena_t, segments)) X(offsetof(arena_t, heap)) X(offsetof(arena_t, remote)) \
    X(sizeof(tcache_t)) X(offsetof(tcache_t, key)) X(offsetof(tcache_t, head))           \
    X(offsetof(tcache_t, state)) X(offsetof(tcache_t, listed))                           \
    X(offsetof(tcache_t, arena)) X(offsetof(tcache_t, next_thread))                      \
    X(offsetof(tcache_t, mid)) X(offsetof(tcache_t, remote))                             \
    X(offsetof(tcache_t, remote_count))                                                  \
    X(sizeof(tcache_mid_t)) X(offsetof(tcache_mid_t, slot))                              \
    X(sizeof(mmap_hdr_t)) X(offsetof(mmap_hdr_t, mapped)) X(offsetof(mmap_hdr_t, chunk_off)) \
    X(sizeof(mmap_stats_t))

#define DESC_ONE(e) + 1
enum { DESC_NLAYOUT = 0 DESC_LAYOUT(DESC_ONE) };

struct heap_descriptor {
    char     magic[24];             /* DESC_MAGIC */
    uint32_t version;               /* DESC_VERSION */
    uint32_t nlayout;               /* DESC_NLAYOUT */
    uint64_t layout[DESC_NLAYOUT];  /* DESC_LAYOUT's numbers, in its order */
    /* Where the chunks of a region start, from the region's start: a
     * segment of the main arena, an arena's first sub-heap (which holds
     * the arena), a later sub-heap (main_segment_start, heap_chunks_start). */
    uint64_t segment_chunks, first_heap_chunks, heap_chunks;
    /* The globals. */
    arena_t      *main_arena;       /* the arena list starts here */
    int          *narenas;
    int          *initialized;      /* ptalloc_initialized: 0, no heap yet */
    tcache_t    **all_threads;
    mmap_hdr_t  **mmap_list;
    mmap_stats_t *mstats;
    lock_t       *arenas_lock, *mmap_lock;
    ptrdiff_t    *tc_tp_offset;     /* &tc less the thread pointer, any thread */
};

#endif
