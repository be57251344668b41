/*
 * realloc inside an arena: shrink in place by splitting, grow in place into
 * a free next chunk or the top, else move (malloc, copy, free).
 */
#include <string.h>
#include "internal.h"
#include "tcache.h"

/* Lock held.  oldp is an in-use, non-mmapped chunk of a. */
void *int_realloc(arena_t *a, chunk_t *oldp, size_t oldsize, size_t nb)
{
    chunk_t *next = chunk_at(oldp, oldsize);

    if (unlikely(oldp->size <= 2 * SIZE_SZ || oldsize >= a->system_mem))
        malloc_error("realloc(): invalid old size");
    if (unlikely(next->size <= 2 * SIZE_SZ || chunksize(next) >= a->system_mem))
        malloc_error("realloc(): invalid next size");

    chunk_t *newp = oldp;
    size_t newsize = oldsize;

    if (oldsize < nb) {
        size_t nextsize = chunksize(next);
        if (next == a->top && oldsize + nextsize >= nb + MINSIZE) {
            /* Into the top. */
            set_head_size(oldp, nb | a->chunk_flag);
            chunk_t *r = chunk_at(oldp, nb);
            a->top = r;
            set_head(r, (oldsize + nextsize - nb) | PREV_INUSE);
            return chunk2mem(oldp);
        }
        if (next != a->top && !inuse_at(next, nextsize) && oldsize + nextsize >= nb) {
            /* Into the free next chunk. */
            unlink_chunk(a, next);
            newsize = oldsize + nextsize;
        } else {
            void *mem = int_malloc(a, nb);
            if (!mem)
                return NULL;
            newp = mem2chunk(mem);
            if (newp == next) {
                /* int_malloc gave us the very next chunk: merge it. */
                newsize = oldsize + chunksize(newp);
                newp = oldp;
            } else {
                memcpy(mem, chunk2mem(oldp), oldsize - SIZE_SZ);
                /* The old chunk is freed as free() would: the thread's
                 * cache first. */
                size_t slot = oldsize >> 4;
                if (slot < TCACHE_SLOTS && tc.state == TC_ACTIVE && tc.room[slot] > 0)
                    tcache_push(oldp, slot);
                else
                    free_locked(a, oldp, oldsize);
                return mem;
            }
        }
    }

    /* Give back what is left over, if it makes a chunk. */
    size_t rsize = newsize - nb;
    if (rsize < MINSIZE) {
        set_head_size(newp, newsize | a->chunk_flag);
        set_inuse_at(newp, newsize);
    } else {
        chunk_t *r = chunk_at(newp, nb);
        set_head_size(newp, nb | a->chunk_flag);
        set_head(r, rsize | PREV_INUSE | a->chunk_flag);
        set_inuse_at(r, rsize);
        free_locked(a, r, rsize);
    }
    return chunk2mem(newp);
}
