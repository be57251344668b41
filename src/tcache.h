/*
 * The per-thread cache: push and pop, lock-free, a few instructions each.
 * Slot s holds chunks of size s * 16; room[s] counts the places left.
 */
#ifndef PTALLOC_TCACHE_H
#define PTALLOC_TCACHE_H

#include "internal.h"

/* The fast paths address the cache relative to %fs with the variable's
 * offset from the thread pointer, so no pointer to it is materialised.
 * (GCC's named address space; other compilers use the plain variable.) */
#if defined(__x86_64__) && defined(__SEG_FS) && !defined(__clang__)
#define TC_FAST 1
typedef __seg_fs tcache_t tc_fs_t;
static inline tc_fs_t *tc_fast(void)
{
    uintptr_t off;
    __asm__("movq tc@gottpoff(%%rip), %0" : "=r"(off));
    return (tc_fs_t *)off;
}
#else
typedef tcache_t tc_fs_t;
static inline tc_fs_t *tc_fast(void) { return &tc; }
#endif

/* Slot of a request n <= TCACHE_MAX_REQUEST: chunk size / 16, except that
 * requests of 0..8 bytes give slot 1, never filled (see malloc_generic). */
static inline size_t tcache_slot_of_request(size_t n)
{
    return (n + SIZE_SZ + MALLOC_ALIGN_MASK) >> 4;
}

/* tcache_push without the trace hook, for int_malloc, which has its own
 * (malloc.c). */
static inline void tcache_push_quiet(chunk_t *p, size_t slot)
{
    tc_entry_t *e = (tc_entry_t *)chunk2mem(p);
    ASSERT(chunksize(p) == slot << 4 && tc.room[slot] > 0);
    e->key = tc.key;
    e->next = protect_ptr(&e->next, tc.head[slot]);
    tc.head[slot] = e;
    tc.room[slot]--;
}

static inline void tcache_push(chunk_t *p, size_t slot)
{
    tcache_push_quiet(p, slot);
    trace_set(p, slot << 4, W_TCACHE);
}

/* Pops the first entry of a non-empty slot. */
static inline void *tcache_pop(size_t slot)
{
    tc_entry_t *e = tc.head[slot];
    if (unlikely(!aligned_ok((uintptr_t)e)))
        malloc_error("malloc(): unaligned tcache chunk detected");
    tc.head[slot] = reveal_ptr(&e->next);
    tc.room[slot]++;
    e->key = 0;
    return e;
}

/* The mid-size cache (types.h).  Put: a chunk of size TCACHE_MID_MIN or
 * more, below TCACHE_MID_END; 0 when its class is taken.  A chunk that is
 * there already is a double free. */
static inline int tcache_mid_put_quiet(chunk_t *p, size_t size)
{
    tc_entry_t *e = (tc_entry_t *)chunk2mem(p);
    tc_entry_t **slot = &tcm.slot[TCACHE_MID_CLASS_OF_CHUNK(size)];
    if (unlikely(e->key == tc.key) && *slot == e)
        malloc_error("free(): double free detected in tcache 2");
    if (*slot)
        return 0;
    /* Freed into the bins, the chunk would meet these checks there. */
    check_free_next(arena_for_chunk(p), p, chunk_at(p, size), false);
    e->key = tc.key;
    e->next = NULL;
    *slot = e;
    return 1;
}
static inline int tcache_mid_put(chunk_t *p, size_t size)
{
    if (!tcache_mid_put_quiet(p, size))
        return 0;
    trace_set(p, size, W_TCACHE);
    return 1;
}

/* The size of e, the chunk cached in class k.  It was checked when the
 * chunk was freed: a size outside its class now is corruption, which the
 * bins would have met in the unsorted walk. */
static inline size_t tcache_mid_size(tc_entry_t *e, size_t k)
{
    if (unlikely(!aligned_ok((uintptr_t)e)))
        malloc_error("malloc(): unaligned tcache chunk detected");
    size_t size = chunksize(mem2chunk(e));
    if (unlikely(size - TCACHE_MID_CLASS_MIN(k) >= (1u << TCACHE_MID_SHIFT)))
        malloc_error("malloc(): invalid size (tcache)");
    return size;
}

/* Get: a cached chunk of at least nb bytes (TCACHE_MID_MIN < nb <=
 * TCACHE_MID_MAX_NB), or NULL.  The chunk of nb's own class will do if it
 * is large enough; every chunk of the next class is (past the last class,
 * the slot that stays empty). */
static inline void *tcache_mid_get(size_t nb)
{
    size_t k = TCACHE_MID_CLASS_OF_CHUNK(nb);
    tc_entry_t *e = tcm.slot[k];
    if (!e || tcache_mid_size(e, k) < nb) {
        e = tcm.slot[++k];
        if (!e)
            return NULL;
        tcache_mid_size(e, k);
    }
    tcm.slot[k] = NULL;
    e->key = 0;
    return e;
}

#endif
