/*
 * Aligned allocation: over-allocate by the alignment, find the aligned
 * spot inside, and give the leading and trailing pieces back to the bins.
 */
#include <errno.h>
#include <string.h>
#include "internal.h"

/* Lock held.  align is a power of two > MALLOC_ALIGNMENT. */
void *int_memalign(arena_t *a, size_t align, size_t nb)
{
    if (align > MAX_REQUEST / 2 || nb > MAX_REQUEST - align - MINSIZE) {
        errno = ENOMEM;
        return NULL;
    }
    void *m = int_malloc(a, nb + align + MINSIZE);
    if (!m)
        return NULL;
    chunk_t *p = mem2chunk(m);

    if (chunk_is_mmapped(p)) {
        /* A mapping of its own cannot give pieces back; take a new,
         * exactly aligned one instead. */
        mmap_chunk_free(p);
        return mmap_chunk_alloc(nb, align);
    }

    if ((uintptr_t)m % align != 0) {
        /* The first aligned spot leaving at least MINSIZE in front. */
        char *brk = (char *)mem2chunk((void *)align_up((uintptr_t)m, align));
        if ((size_t)(brk - (char *)p) < MINSIZE)
            brk += align;
        chunk_t *newp = (chunk_t *)brk;
        size_t lead = (size_t)(brk - (char *)p);
        size_t newsize = chunksize(p) - lead;
        set_head(newp, newsize | PREV_INUSE | a->chunk_flag);
        set_inuse_at(newp, newsize);
        set_head_size(p, lead | a->chunk_flag);
        int_free(a, p, 1);
        p = newp;
    }

    size_t size = chunksize(p);
    if (size > nb + MINSIZE) {
        chunk_t *r = chunk_at(p, nb);
        set_head(r, (size - nb) | PREV_INUSE | a->chunk_flag);
        set_head_size(p, nb);
        int_free(a, r, 1);
    }
    return chunk2mem(p);
}
