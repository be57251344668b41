/*
 * The free path inside an arena: validate, then a fastbin (no merging),
 * or merge with the free neighbours (or into the top) and park the result
 * in the unsorted bin; large merges consolidate the fastbins and may give
 * the top back to the system.
 */
#include <string.h>
#include "internal.h"
#include "tcache.h"

void perturb_free(void *mem, size_t n)
{
    if (unlikely(mp.perturb))
        memset(mem, (int)mp.perturb, n);
}

/* Lock held.  p is an in-use, non-mmapped chunk of this arena. */
NOINLINE void free_merge(arena_t *a, chunk_t *p, size_t size)
{
    chunk_t *next = chunk_at(p, size);
    ASSERT(size == chunksize(p) && !chunk_is_mmapped(p));
    ASSERT(arena_for_chunk(p) == a);

    check_free_next(a, p, next, true);
    size_t nextsize = chunksize(next);

    perturb_free(chunk2mem(p), size - 2 * SIZE_SZ);

    if (!prev_inuse(p)) {
        size_t prevsize = p->prev_size;
        size += prevsize;
        p = (chunk_t *)((char *)p - prevsize);
        if (unlikely(chunksize(p) != prevsize))
            malloc_error("corrupted size vs. prev_size while consolidating");
        unlink_chunk(a, p);
    }

    if (next != a->top) {
        if (!inuse_at(next, nextsize)) {
            unlink_chunk(a, next);
            size += nextsize;
        } else {
            clear_inuse_at(next, 0);
        }
        chunk_t *bck = unsorted_chunks(a), *fwd = bck->fd;
        if (unlikely(fwd->bk != bck))
            malloc_error("free(): corrupted unsorted chunks");
        p->fd = fwd;
        p->bk = bck;
        if (!in_smallbin_range(size))
            p->fd_nextsize = p->bk_nextsize = NULL;
        bck->fd = p;
        fwd->bk = p;
        set_head(p, size | PREV_INUSE);
        set_foot(p, size);
    } else {
        size += nextsize;
        set_head(p, size | PREV_INUSE);
        a->top = p;
    }

    /* A big free chunk: a good moment to merge the fastbins and see
     * whether the top has grown past the trim threshold. */
    if (size >= FASTBIN_CONSOLIDATION_THRESHOLD) {
        if (have_fastchunks(a))
            malloc_consolidate(a);
        if (a == &main_arena) {
            if (chunksize(a->top) >= mp.trim_threshold)
                sys_trim(a, mp.top_pad);
        } else {
            heap_trim(heap_for_ptr(a->top), mp.top_pad);
        }
    }
}

/* ---- remote frees ------------------------------------------------------------
 * A thread that frees another arena's chunks, past its caches, hands them
 * over in batches (tcache.c: remote_put) instead of taking the arena's
 * lock for each: in a producer/consumer pair the producer allocates under
 * that lock all the time, and a consumer freeing one chunk per lock
 * acquisition makes both wait on each other.  The batch goes onto the
 * arena's lock-free stack, linked like a tcache slot; the next thread to
 * allocate in the arena, already holding its lock, puts the chunks away
 * (int_malloc), as do malloc_trim, the statistics and the heap walk (the
 * check only verifies them).  If its owner does not come back for them,
 * the thread handing over puts them away itself once HANDED_MAX_BYTES
 * wait there. */

NOINLINE void arena_hand_over(arena_t *a, tc_entry_t *first, tc_entry_t *last, size_t bytes)
{
    /* Counted before the push, so the thread that takes the chunks off
     * counts them off after. */
    size_t waiting = __atomic_add_fetch(&a->handed_bytes, bytes, __ATOMIC_RELAXED);
    tc_entry_t *old = __atomic_load_n(&a->handed, __ATOMIC_RELAXED);
    do
        last->next = protect_ptr(&last->next, old);
    while (!__atomic_compare_exchange_n(&a->handed, &old, first, 1, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED));
    if (waiting > HANDED_MAX_BYTES) {
        lock_acquire(&a->lock);
        arena_drain(a, false);
        lock_release(&a->lock);
    }
}

/* Lock held.  Only the lock holder takes the stack, whole; others only
 * push onto it, so the entries taken cannot change under us.  With cache
 * (a thread allocating in its own arena), the thread's cache takes what it
 * has room for, as if the thread had freed the chunks itself; the rest
 * goes to the bins. */
NOINLINE void arena_drain(arena_t *a, bool cache)
{
    tc_entry_t *e = __atomic_exchange_n(&a->handed, NULL, __ATOMIC_ACQUIRE);
    cache = cache && tc.state == TC_ACTIVE;
    size_t bytes = 0;
    while (e) {
        if (unlikely(!aligned_ok((uintptr_t)e)))
            malloc_error("free(): unaligned chunk detected in a remote batch");
        tc_entry_t *next = reveal_ptr(&e->next);
        chunk_t *p = mem2chunk(e);
        size_t size = chunksize(p), slot = size >> 4;
        bytes += size;
        if (cache && slot < TCACHE_SLOTS && tc.room[slot] > 0) {
            tcache_push(p, slot);
        } else if (cache && size >= TCACHE_MID_MIN && size < tcm.end && tcache_mid_put(p, size)) {
            /* in the mid-size cache */
        } else {
            e->key = 0;
            free_locked(a, p, size);
        }
        e = next;
    }
    __atomic_sub_fetch(&a->handed_bytes, bytes, __ATOMIC_RELAXED);
}

/* Frees a non-mmapped chunk into arena a, without the tcache.  The
 * pointer checks (check_free_pointer) are the caller's. */
void int_free(arena_t *a, chunk_t *p, int have_lock)
{
    size_t size = chunksize(p);

    if (!have_lock)
        lock_acquire(&a->lock);
    free_locked(a, p, size);
    if (!have_lock)
        lock_release(&a->lock);
}
