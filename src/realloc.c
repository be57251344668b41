/*
 * realloc: an mmapped block is remapped (or moved into the heap when it
 * becomes small); in an arena, shrink in place by splitting, grow in place
 * into a free next chunk or the top, else move (malloc, copy, free).
 */
#include <errno.h>
#include <string.h>
#include "internal.h"
#include "tcache.h"
#include "vg.h"

/* A new block of n bytes with the first `copy` bytes of mem, which is
 * freed; NULL (mem intact) when there is no memory. */
static void *move_block(void *mem, size_t n, size_t copy)
{
    void *m = malloc_generic(n, NULL);
    if (!m)
        return NULL;
    memcpy(m, mem, copy);
    free_generic(mem, NULL);
    return m;
}

/* An mmapped chunk p (of mem) resized to n bytes (nb as a chunk). */
static void *realloc_mmapped(void *mem, chunk_t *p, size_t n, size_t nb)
{
    size_t usable = chunksize(p) - 2 * SIZE_SZ;
    /* Small enough for the heap now, and much smaller: move it there. */
    if (nb < mp.mmap_threshold && n < usable / 2)
        return move_block(mem, n, n);
    if (usable >= n && usable - n < os_pagesize)
        return mem;
    chunk_t *q = mmap_chunk_remap(p, nb);
    if (q) {
        trace_decide(D_MREMAP);
        return chunk2mem(q);
    }
    if (usable >= n)
        return mem;
    return move_block(mem, n, usable);
}

/* realloc of a block mem != NULL to n > 0 bytes. */
void *realloc_generic(void *mem, size_t n)
{
    if (unlikely(n > MAX_REQUEST)) {
        errno = ENOMEM;
        return NULL;
    }
    chunk_t *p = mem2chunk(mem);
    if (unlikely(vg_active)) {
        /* Under Valgrind a block always moves, so memcheck sees each size;
         * the copy may read the chunk's slack past the old block: quiet. */
        void *m = malloc_generic(n, NULL);
        if (!m)
            return NULL;
        vg_quiet();
        size_t usable = chunk_usable(p);
        memcpy(m, mem, n < usable ? n : usable);
        vg_loud();
        free_generic(mem, NULL);
        return m;
    }
    size_t oldsize = chunksize(p);
    size_t nb = request2size(n);
    if (unlikely((uintptr_t)p > (uintptr_t)-oldsize || misaligned_chunk(p)))
        malloc_error("realloc(): invalid pointer");
    if (chunk_is_mmapped(p))
        return realloc_mmapped(mem, p, n, nb);
    if (unlikely(oldsize < MINSIZE || !aligned_ok(oldsize)))
        malloc_error("realloc(): invalid old size");
    /* Fits already with little slack: nothing to do. */
    if (oldsize >= nb && oldsize - nb < MINSIZE)
        return mem;

    ensure_init();
    arena_t *a = arena_for_chunk(p);
    lock_acquire(&a->lock);
    void *m = int_realloc(a, p, oldsize, nb);
    lock_release(&a->lock);
    if (m)
        return m;
    /* The arena is full: try anywhere else. */
    return move_block(mem, n, oldsize - SIZE_SZ);
}

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
            decay_top_split(a, oldsize + nextsize - nb);
            set_head(r, (oldsize + nextsize - nb) | PREV_INUSE);
            trace_top(a);
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
                    int_free(a, oldp, oldsize);
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
        int_free(a, r, rsize);
    }
    return chunk2mem(newp);
}
