/*
 * Aligned allocation (memalign, aligned_alloc, posix_memalign, valloc,
 * pvalloc): a cached chunk that happens to be aligned, else over-allocate
 * by the alignment, find the aligned spot inside, and give the leading and
 * trailing pieces back to the bins.
 */
#include <errno.h>
#include <string.h>
#include "internal.h"

/* The memalign family's common part: align a power of two or not (it is
 * rounded up), n any size.  NULL with errno EINVAL or ENOMEM. */
void *memalign_generic(size_t align, size_t n)
{
    if (align <= MALLOC_ALIGNMENT)
        return malloc_generic(n, NULL);
    if (align > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (align & (align - 1)) {
        size_t a = MALLOC_ALIGNMENT * 2;
        while (a < align)
            a <<= 1;
        align = a;
    }
    if (align > MAX_REQUEST / 2 || n > MAX_REQUEST - align - MINSIZE) {
        errno = ENOMEM;
        return NULL;
    }
    ensure_init();
    if (tc.state == TC_UNINIT)
        tcache_thread_init();
    if (n <= TCACHE_MAX_REQUEST) {
        void *mem = tcache_get_aligned(request2size(n), align);
        if (mem)
            return mem;
    }
    return malloc_from_arena(n, align, false);
}

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
        int_free(a, p, lead);
        p = newp;
    }

    size_t size = chunksize(p);
    if (size > nb + MINSIZE) {
        chunk_t *r = chunk_at(p, nb);
        set_head(r, (size - nb) | PREV_INUSE | a->chunk_flag);
        set_head_size(p, nb);
        int_free(a, r, size - nb);
    }
    return chunk2mem(p);
}
