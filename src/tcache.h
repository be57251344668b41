/*
 * The per-thread cache: push and pop, lock-free, a few instructions each.
 * Slot s holds chunks of size s * 16; room[s] counts the free places left.
 */
#ifndef PTALLOC_TCACHE_H
#define PTALLOC_TCACHE_H

#include "internal.h"

/* Slot of a request already known to be <= TCACHE_MAX_REQUEST. */
static inline size_t tcache_slot_of_request(size_t n)
{
    return ((n < 9 ? 9 : n) + SIZE_SZ + MALLOC_ALIGN_MASK) >> 4;
}

static inline void tcache_push(chunk_t *p, size_t slot)
{
    tc_entry_t *e = (tc_entry_t *)chunk2mem(p);
    e->key = tcache_key;
    e->next = protect_ptr(&e->next, tc.entries[slot]);
    tc.entries[slot] = e;
    tc.room[slot]--;
}

/* Pops the first entry of a non-empty slot. */
static inline void *tcache_pop(size_t slot)
{
    tc_entry_t *e = tc.entries[slot];
    tc_entry_t *next = reveal_ptr(&e->next);
    if (unlikely(!aligned_ok((uintptr_t)next)))
        malloc_error("malloc(): unaligned tcache chunk detected");
    tc.entries[slot] = next;
    tc.room[slot]++;
    e->key = 0;
    return e;
}

#endif
