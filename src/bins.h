/*
 * Bins: indexing, the binmap, and unlinking a chunk from its bin.
 *
 *   bin 1          unsorted: any size, freed and split-off chunks wait here
 *   bins 2..63     small: one chunk size each (32, 48, ... 1008), FIFO
 *   bins 64..126   large: size ranges, kept sorted largest first, with the
 *                  nextsize list linking the first chunk of each size
 *
 * Each bin's fd/bk pair lives in arena->bins and is addressed as if it
 * were the fd/bk of a chunk header placed 16 bytes before it; that pretend
 * chunk is the circular list's sentinel.
 */
#ifndef PTALLOC_BINS_H
#define PTALLOC_BINS_H

#include <stddef.h>
#include "chunk.h"

static inline chunk_t *bin_at(arena_t *a, unsigned i)
{
    return (chunk_t *)((char *)&a->bins[(i - 1) * 2] - offsetof(chunk_t, fd));
}
static inline chunk_t *unsorted_chunks(arena_t *a) { return bin_at(a, UNSORTED_BIN); }

static inline int in_smallbin_range(size_t sz) { return sz < MIN_LARGE_SIZE; }
static inline unsigned smallbin_index(size_t sz) { return (unsigned)(sz >> 4); }

static inline unsigned largebin_index(size_t sz)
{
    if ((sz >> 6) <= 48)  return 48 + (unsigned)(sz >> 6);
    if ((sz >> 9) <= 20)  return 91 + (unsigned)(sz >> 9);
    if ((sz >> 12) <= 10) return 110 + (unsigned)(sz >> 12);
    if ((sz >> 15) <= 4)  return 119 + (unsigned)(sz >> 15);
    if ((sz >> 18) <= 2)  return 124 + (unsigned)(sz >> 18);
    return 126;
}

static inline unsigned bin_index(size_t sz)
{
    return in_smallbin_range(sz) ? smallbin_index(sz) : largebin_index(sz);
}

/* The binmap: one bit per bin, set when the bin may be non-empty (bits are
 * cleared lazily by the search that finds a bin empty). */
static inline unsigned idx2block(unsigned i) { return i >> BINMAPSHIFT; }
static inline unsigned idx2bit(unsigned i)   { return 1u << (i & (BITSPERMAP - 1)); }
static inline void mark_bin(arena_t *a, unsigned i)   { a->binmap[idx2block(i)] |= idx2bit(i); }
static inline void unmark_bin(arena_t *a, unsigned i) { a->binmap[idx2block(i)] &= ~idx2bit(i); }
static inline int  bin_marked(arena_t *a, unsigned i) { return (a->binmap[idx2block(i)] & idx2bit(i)) != 0; }

static inline int have_fastchunks(arena_t *a) { return (a->flags & ARENA_HAVE_FASTCHUNKS) != 0; }
static inline int contiguous(arena_t *a)      { return (a->flags & ARENA_NONCONTIGUOUS) == 0; }

/* Idle pages.  A free chunk of PURGE_MIN_CHUNK bytes or more (which may
 * hold a whole 4 KiB page past its header and stamp; from 8,248 bytes on
 * it always does) carries, in the word after its
 * header, the time since which it has been free: the arena's clock in ms
 * (decay.c), or PURGED once its inner pages went back to the system.  A
 * piece split off it keeps the stamp (its pages were free as long, and the
 * purged ones are still gone: a piece's inner pages lie inside the whole
 * chunk's). */
#define PURGE_MIN_CHUNK  (4096u + 64u)
#define PURGED           UINT64_MAX
#define PURGE_NOW        (UINT64_MAX - 1)   /* just freed: the clock to be read */
static inline uint64_t *purge_stamp(chunk_t *p) { return (uint64_t *)(p + 1); }

/* Puts free chunk p (of size bytes, free since `since`) at the front of
 * the unsorted bin.  With a message, first checks that the bin's first
 * link is intact (the free path and the split remainder check it, as glibc
 * does; the consolidation does not). */
static inline void unsorted_insert(arena_t *a, chunk_t *p, size_t size, uint64_t since,
                                   const char *corrupt_msg)
{
    chunk_t *bck = unsorted_chunks(a), *fwd = bck->fd;
    if (corrupt_msg && unlikely(fwd->bk != bck))
        malloc_error(corrupt_msg);
    p->fd = fwd;
    p->bk = bck;
    if (!in_smallbin_range(size))
        p->fd_nextsize = p->bk_nextsize = NULL;
    if (size >= PURGE_MIN_CHUNK)
        *purge_stamp(p) = since;
    bck->fd = p;
    fwd->bk = p;
}

void unlink_chunk(arena_t *a, chunk_t *p);              /* bins.c */
void bin_insert_sorted(arena_t *a, chunk_t *p, size_t size);  /* bins.c */

#endif
