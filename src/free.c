/*
 * The free path inside an arena: validate, then a fastbin (no merging),
 * or merge with the free neighbours (or into the top) and park the result
 * in the unsorted bin; large merges consolidate the fastbins and may give
 * the top back to the system.
 */
#include <string.h>
#include "internal.h"

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
