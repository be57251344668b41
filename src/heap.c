/*
 * Sub-heaps: the memory of non-main arenas.
 *
 * A sub-heap is a HEAP_MAX_SIZE (64 MiB) region aligned to its own size,
 * reserved PROT_NONE and made read-write as it grows, so the heap_info
 * header of any chunk's sub-heap is found by masking the chunk's address.
 * An arena's first sub-heap also holds the arena itself.
 *
 *   +-----------+---------+--------------------------+ - - - - - - - - +
 *   | heap_info | arena_t | chunks ...          top  |  reserved only  |
 *   +-----------+---------+--------------------------+ - - - - - - - - +
 *               ^ at 64 bytes (a cache line)
 *   ^ aligned to 64 MiB                               ^ heap->size
 */
#include <string.h>
#include "internal.h"

static char *next_aligned_hint;   /* where the last reservation ended */

char *heap_chunks_start(heap_info_t *h)
{
    if (h->number == 0)
        return (char *)h + HEAP_ARENA_OFFSET + sizeof(arena_t);
    return (char *)(h + 1);
}

/* Reserves an aligned HEAP_MAX_SIZE region, commits `size` bytes of it. */
heap_info_t *heap_new(size_t size, size_t top_pad)
{
    if (size + top_pad < HEAP_MIN_SIZE)
        size = HEAP_MIN_SIZE;
    else if (size + top_pad <= HEAP_MAX_SIZE)
        size += top_pad;
    else if (size > HEAP_MAX_SIZE)
        return NULL;
    else
        size = HEAP_MAX_SIZE;
    size = align_up(size, os_pagesize);

    char *p = NULL;
    /* Try right after the previous reservation: that is usually aligned
     * already and keeps the address space tidy. */
    if (next_aligned_hint) {
        char *q = os_reserve(HEAP_MAX_SIZE);
        if (q && ((uintptr_t)q & (HEAP_MAX_SIZE - 1)) == 0)
            p = q;
        else if (q)
            os_unmap(q, HEAP_MAX_SIZE);
    }
    if (!p) {
        char *q = os_reserve(2 * HEAP_MAX_SIZE);
        if (!q)
            return NULL;
        p = (char *)align_up((uintptr_t)q, HEAP_MAX_SIZE);
        if (p > q)
            os_unmap(q, (size_t)(p - q));
        if (p + HEAP_MAX_SIZE < q + 2 * HEAP_MAX_SIZE)
            os_unmap(p + HEAP_MAX_SIZE, (size_t)(q + 2 * HEAP_MAX_SIZE - (p + HEAP_MAX_SIZE)));
    }
    next_aligned_hint = p + HEAP_MAX_SIZE;
    if (os_protect(p, size, 1) != 0) {
        os_unmap(p, HEAP_MAX_SIZE);
        return NULL;
    }
    heap_info_t *h = (heap_info_t *)p;
    memset(h, 0, sizeof *h);
    h->size = size;
    h->committed = size;
    return h;
}

/* Grows h by diff bytes (page-rounded).  0 on success. */
int heap_grow(heap_info_t *h, long diff)
{
    size_t n = align_up((size_t)(diff > 0 ? diff : 0), os_pagesize);
    size_t want = h->size + n;
    if (want > HEAP_MAX_SIZE || want < h->size)
        return -1;
    if (want > h->committed) {
        /* Commit top_pad ahead: each mprotect takes the process's mapping
         * lock for writing, stalling the page faults of every other
         * thread.  Untouched pages cost nothing; the heap itself still
         * grows by what is needed. */
        size_t commit = align_up(want + mp.top_pad, os_pagesize);
        if (commit > HEAP_MAX_SIZE)
            commit = HEAP_MAX_SIZE;
        if (os_protect((char *)h + h->committed, commit - h->committed, 1) != 0) {
            commit = want;
            if (os_protect((char *)h + h->committed, commit - h->committed, 1) != 0)
                return -2;
        }
        h->committed = commit;
    }
    h->size = want;
    return 0;
}

/* Shrinks h by diff bytes: the pages go back to the kernel (they read as
 * zero when the heap grows over them again) but stay mapped read-write. */
int heap_shrink(heap_info_t *h, long diff)
{
    size_t want = h->size - (size_t)diff;
    if (os_purge((char *)h + want, (size_t)diff) != 0)
        return -1;
    h->size = want;
    return 0;
}

/* Gives a whole sub-heap back, reservation and all. */
void heap_unmap(heap_info_t *h)
{
    os_unmap(h, HEAP_MAX_SIZE);
}
