/*
 * Chunk arithmetic: sizes, flags, neighbours, boundary tags.
 * The picture of a chunk is in types.h.
 */
#ifndef PTALLOC_CHUNK_H
#define PTALLOC_CHUNK_H

#include "types.h"

static inline void *chunk2mem(const chunk_t *p)   { return (char *)p + 2 * SIZE_SZ; }
static inline chunk_t *mem2chunk(const void *mem) { return (chunk_t *)((char *)mem - 2 * SIZE_SZ); }

static inline size_t chunksize(const chunk_t *p)        { return p->size & ~(size_t)SIZE_BITS; }
static inline int prev_inuse(const chunk_t *p)      { return (p->size & PREV_INUSE) != 0; }
static inline int chunk_is_mmapped(const chunk_t *p) { return (p->size & IS_MMAPPED) != 0; }
static inline int chunk_main_arena(const chunk_t *p) { return (p->size & NON_MAIN_ARENA) == 0; }

static inline chunk_t *chunk_at(const void *p, size_t off) { return (chunk_t *)((char *)p + off); }
static inline chunk_t *next_chunk(const chunk_t *p) { return chunk_at(p, chunksize(p)); }
static inline chunk_t *prev_chunk(const chunk_t *p) { return (chunk_t *)((char *)p - p->prev_size); }

/* Is p in use?  Told by the next chunk's PREV_INUSE bit. */
static inline int inuse(const chunk_t *p)            { return prev_inuse(next_chunk(p)); }
static inline int inuse_at(const chunk_t *p, size_t s) { return prev_inuse(chunk_at(p, s)); }
static inline void set_inuse_at(chunk_t *p, size_t s)   { chunk_at(p, s)->size |= PREV_INUSE; }
static inline void clear_inuse_at(chunk_t *p, size_t s) { chunk_at(p, s)->size &= ~(size_t)PREV_INUSE; }

static inline void set_head(chunk_t *p, size_t s)      { p->size = s; }
static inline void set_head_size(chunk_t *p, size_t s) { p->size = (p->size & SIZE_BITS) | s; }
/* The boundary tag: a free chunk's size repeated at the next chunk's start. */
static inline void set_foot(chunk_t *p, size_t s)      { chunk_at(p, s)->prev_size = s; }

static inline int aligned_ok(uintptr_t a)     { return (a & MALLOC_ALIGN_MASK) == 0; }
static inline int misaligned_chunk(const chunk_t *p) { return !aligned_ok((uintptr_t)chunk2mem(p)); }

static inline size_t align_up(size_t n, size_t a)   { return (n + a - 1) & ~(a - 1); }
static inline size_t align_down(size_t n, size_t a) { return n & ~(a - 1); }

/* Requests above this fail with ENOMEM (PTRDIFF_MAX less the overhead). */
#define MAX_REQUEST  ((size_t)PTRDIFF_MAX - MINSIZE - MALLOC_ALIGNMENT)

/* The chunk size that serves a request of n bytes. */
static inline size_t request2size(size_t n)
{
    return n + SIZE_SZ + MALLOC_ALIGN_MASK < MINSIZE
         ? MINSIZE : (n + SIZE_SZ + MALLOC_ALIGN_MASK) & ~(size_t)MALLOC_ALIGN_MASK;
}

/* Bytes the program may use in an in-use chunk. */
static inline size_t chunk_usable(const chunk_t *p)
{
    return chunk_is_mmapped(p) ? chunksize(p) - 2 * SIZE_SZ : chunksize(p) - SIZE_SZ;
}

/* An mmapped chunk sits behind this record at the start of its mapping;
 * the records chain every mmapped chunk for the heap walk and statistics.
 * The chunk's prev_size holds the distance from the mapping's start. */
typedef struct mmap_hdr {
    struct mmap_hdr *next, *prev;
    size_t           mapped;     /* length of the whole mapping */
    size_t           chunk_off;  /* where the chunk starts in it  */
} mmap_hdr_t;

#define MMAP_HDR_SIZE  sizeof(mmap_hdr_t)

static inline mmap_hdr_t *mmap_hdr_of(const chunk_t *p)
{
    return (mmap_hdr_t *)((char *)p - p->prev_size);
}

/* Fastbin index of a chunk size. */
static inline unsigned fastbin_index(size_t sz) { return (unsigned)(sz >> 4) - 2; }

#endif
