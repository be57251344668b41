/*
 * Getting memory from the system and giving it back.
 *
 *  - A request at or above the mmap threshold gets a mapping of its own
 *    (an IS_MMAPPED chunk), returned with munmap when freed.
 *  - Otherwise the arena's top chunk grows: the main arena with sbrk (or,
 *    when brk cannot grow, with mmapped segments of at least 1 MiB), the
 *    others by growing their sub-heap or chaining a new one (heap.c).
 *  - Memory goes back: the top shrinks (the data segment, or the
 *    sub-heap, and whole sub-heaps are unmapped), and the pages inside
 *    free chunks are released with MADV_DONTNEED.  When: decay.c.
 *
 * Where a segment or sub-heap ends without a top chunk, two 16-byte
 * fence-post chunks mark the end, so no chunk ever merges across it.
 */
#include <errno.h>
#include <string.h>
#include "internal.h"

mmap_hdr_t  *mmap_list;            /* under mmap_lock (arena.c) */
mmap_stats_t mstats;

static size_t page_align(size_t n) { return align_up(n, os_pagesize); }

/* ---- chunks with a mapping of their own ----------------------------------- */

static void mmap_register(mmap_hdr_t *h, size_t len)
{
    lock_acquire(&mmap_lock);
    h->prev = NULL;
    h->next = mmap_list;
    if (mmap_list)
        mmap_list->prev = h;
    mmap_list = h;
    mstats.n_mmaps++;
    if (mstats.n_mmaps > mstats.max_n_mmaps)
        mstats.max_n_mmaps = mstats.n_mmaps;
    mstats.mmapped_mem += len;
    if (mstats.mmapped_mem > mstats.max_mmapped_mem)
        mstats.max_mmapped_mem = mstats.mmapped_mem;
    lock_release(&mmap_lock);
}

/* Lock held. */
static void mmap_unlink(mmap_hdr_t *h)
{
    if ((h->prev ? h->prev->next : mmap_list) != h || (h->next && h->next->prev != h))
        malloc_error("munmap_chunk(): invalid pointer");
    if (h->prev) h->prev->next = h->next;
    else mmap_list = h->next;
    if (h->next) h->next->prev = h->prev;
}

/* A chunk of nb bytes in a mapping of its own, its user pointer aligned
 * to align (0 = the usual 16).  Returns the user pointer or NULL. */
void *mmap_chunk_alloc(size_t nb, size_t align)
{
    ASSERT((align & (align - 1)) == 0);
    if (align < MALLOC_ALIGNMENT)
        align = MALLOC_ALIGNMENT;
    size_t need = nb + SIZE_SZ + MMAP_HDR_SIZE + 2 * SIZE_SZ + align;
    if (need < nb)
        return NULL;
    size_t len = page_align(need);
    if (len < need)
        return NULL;
    char *map = os_map(len);
    if (!map)
        return NULL;
    char *mem = (char *)align_up((uintptr_t)map + MMAP_HDR_SIZE + 2 * SIZE_SZ, align);
    chunk_t *p = mem2chunk(mem);
    p->prev_size = (size_t)((char *)p - map);
    set_head(p, (len - p->prev_size) | IS_MMAPPED);
    mmap_hdr_t *h = (mmap_hdr_t *)map;
    h->mapped = len;
    h->chunk_off = p->prev_size;
    mmap_register(h, len);
    trace_sys(TS_MMAP, NULL, map, len);
    trace_decide(D_MMAP);
    return mem;
}

static void mmap_check(chunk_t *p)
{
    uintptr_t start = (uintptr_t)p - p->prev_size;
    size_t total = p->prev_size + chunksize(p);
    if (unlikely(((start | total) & (os_pagesize - 1)) != 0 || misaligned_chunk(p) ||
                 p->prev_size < MMAP_HDR_SIZE || mmap_hdr_of(p)->mapped != total))
        malloc_error("munmap_chunk(): invalid pointer");
}

void mmap_chunk_free(chunk_t *p)
{
    mmap_check(p);
    mmap_hdr_t *h = mmap_hdr_of(p);
    size_t len = h->mapped;
    lock_acquire(&mmap_lock);
    mmap_unlink(h);
    mstats.n_mmaps--;
    mstats.mmapped_mem -= len;
    lock_release(&mmap_lock);
    trace_set(h, len, W_GONE);
    trace_sys(TS_MUNMAP, NULL, h, len);
    os_unmap(h, len);
}

/* Resizes an mmapped chunk with mremap; NULL if that failed (p intact). */
chunk_t *mmap_chunk_remap(chunk_t *p, size_t nb)
{
    mmap_check(p);
    mmap_hdr_t *h = mmap_hdr_of(p);
    size_t off = p->prev_size, old = h->mapped;
    size_t len = page_align(off + nb + SIZE_SZ);
    if (len == old)
        return p;
    lock_acquire(&mmap_lock);
    mmap_hdr_t *n = os_remap(h, old, len);
    if (!n) {
        lock_release(&mmap_lock);
        return NULL;
    }
    n->mapped = len;
    if (n->prev) n->prev->next = n;
    else mmap_list = n;
    if (n->next) n->next->prev = n;
    mstats.mmapped_mem += len - old;
    if (mstats.mmapped_mem > mstats.max_mmapped_mem)
        mstats.max_mmapped_mem = mstats.mmapped_mem;
    lock_release(&mmap_lock);
    chunk_t *q = chunk_at(n, off);
    set_head(q, (len - off) | IS_MMAPPED);
    if (unlikely(trace_on)) {
        if (n != h)
            trace_set_slow(h, old, W_GONE);
        trace_sys_slow(TS_MREMAP, NULL, h, old, n, len);
    }
    return q;
}

/* ---- growing an arena's top ------------------------------------------------ */

/* Ends a run of chunks at `end`: the old top becomes a free chunk followed
 * by two fence-posts.  top must end at `end`. */
static void close_top(arena_t *a, chunk_t *top, size_t size)
{
    if (size < 2 * SIZE_SZ * 2)      /* nothing to close (the initial top) */
        return;
    size_t keep = size - 4 * SIZE_SZ;
    chunk_t *f1 = chunk_at(top, keep);
    set_head(f1, (2 * SIZE_SZ) | PREV_INUSE);
    set_head(chunk_at(f1, 2 * SIZE_SZ), (2 * SIZE_SZ) | PREV_INUSE);
    trace_set(f1, 2 * SIZE_SZ, W_FENCE);
    trace_set(chunk_at(f1, 2 * SIZE_SZ), 2 * SIZE_SZ, W_FENCE);
    if (keep >= MINSIZE) {
        set_head(top, keep | (top->size & PREV_INUSE) | a->chunk_flag);
        int_free(a, top, keep);
    } else if (keep) {
        /* Too small to be a chunk: a third fence-post. */
        set_head(top, (2 * SIZE_SZ) | PREV_INUSE);
        trace_set(top, 2 * SIZE_SZ, W_FENCE);
    }
}

char *main_segment_start(segment_t *s)
{
    return (char *)s + sizeof(segment_t);
}

/* A new segment of the main arena over [base, base + len). */
static void main_new_segment(arena_t *a, char *base, size_t len, size_t mapped)
{
    char *start = (char *)align_up((uintptr_t)base, MALLOC_ALIGNMENT);
    char *end = base + len;
    segment_t *s = (segment_t *)start;
    chunk_t *top = (chunk_t *)main_segment_start(s);
    size_t topsize = align_down((size_t)(end - (char *)top), MALLOC_ALIGNMENT);
    s->end = (char *)top + topsize;
    s->mapped = mapped;
    s->next = a->segments;
    a->segments = s;
    a->nheaps++;
    chunk_t *old = a->top;
    size_t oldsize = chunksize(old);
    a->top = top;
    set_head(top, topsize | PREV_INUSE);
    trace_top(a);
    close_top(a, old, oldsize);
}

static int main_grow(arena_t *a, size_t nb)
{
    chunk_t *old = a->top;
    size_t oldsize = chunksize(old);
    char *old_end = (char *)old + oldsize;
    size_t size = nb + mp.top_pad + MINSIZE;
    if (size < nb)
        return 0;
    if (contiguous(a) && oldsize < size)
        size -= oldsize;          /* the new memory extends the old top */
    size = page_align(size);

    char *brk = (char *)-1;
    if (contiguous(a) && size < (size_t)PTRDIFF_MAX)
        brk = os_sbrk((intptr_t)size);

    if (brk != (char *)-1) {
        trace_sys(TS_BRK, a, brk, size);
        if (oldsize && brk == old_end && a->segments && a->segments->end == old_end) {
            set_head(old, (oldsize + size) | PREV_INUSE);
            a->segments->end += size;
            trace_top(a);
        } else {
            /* The first sbrk, or someone else moved the break. */
            main_new_segment(a, brk, size, 0);
        }
    } else {
        /* brk cannot grow (an rlimit, a mapping in the way): carry on in
         * mmapped segments, and stop trying brk. */
        size_t len = page_align(nb + mp.top_pad + MINSIZE + sizeof(segment_t) + 4 * SIZE_SZ);
        if (len < MMAP_FALLBACK_SIZE)
            len = MMAP_FALLBACK_SIZE;
        char *m = len > nb ? os_map(len) : NULL;
        if (!m)
            return 0;
        a->flags |= ARENA_NONCONTIGUOUS;
        trace_sys(TS_SEGMENT, a, m, len);
        main_new_segment(a, m, len, len);
        size = len;
    }
    a->system_mem += size;
    if (a->system_mem > a->max_system_mem)
        a->max_system_mem = a->system_mem;
    return 1;
}

static int sub_heap_grow(arena_t *a, size_t nb)
{
    chunk_t *old = a->top;
    size_t oldsize = chunksize(old);
    heap_info_t *h = heap_for_ptr(old);
    size_t before = h->size;

    if (heap_grow(h, (long)(MINSIZE + nb - oldsize)) == 0) {
        a->system_mem += h->size - before;
        set_head(old, (size_t)((char *)h + h->size - (char *)old) | PREV_INUSE);
        trace_sys(TS_HEAP_GROW, a, h, h->size);
        trace_top(a);
    } else {
        heap_info_t *n = heap_new(nb + MINSIZE + sizeof(heap_info_t), mp.top_pad);
        if (!n)
            return 0;
        n->ar = a;
        n->prev = h;
        n->number = h->number + 1;
        a->heap = n;
        a->nheaps++;
        a->system_mem += n->size;
        chunk_t *top = (chunk_t *)heap_chunks_start(n);
        a->top = top;
        set_head(top, (size_t)((char *)n + n->size - (char *)top) | PREV_INUSE);
        trace_sys(TS_HEAP_NEW, a, n, n->size);
        trace_top(a);
        close_top(a, old, oldsize);
    }
    if (a->system_mem > a->max_system_mem)
        a->max_system_mem = a->system_mem;
    return 1;
}

/* The top is too small for nb: get more from the system.  Lock held.
 * a == NULL: only an mmapped chunk will do. */
void *sys_malloc(arena_t *a, size_t nb)
{
    int tried_mmap = 0;
    if (!a || (nb >= mp.mmap_threshold && (size_t)mstats.n_mmaps < mp.mmap_max)) {
        void *mem = mmap_chunk_alloc(nb, 0);
        if (mem || !a) {
            if (!mem)
                errno = ENOMEM;
            else
                perturb_alloc(mem, nb - SIZE_SZ);
            return mem;
        }
        tried_mmap = 1;
    }

    int ok = a == &main_arena ? main_grow(a, nb) : sub_heap_grow(a, nb);
    if (ok && chunksize(a->top) >= nb + MINSIZE)
        return split_top(a, nb);
    /* The arena could not grow: a mapping of its own is the last resort. */
    if (!tried_mmap && (size_t)mstats.n_mmaps < mp.mmap_max) {
        void *mem = mmap_chunk_alloc(nb, 0);
        if (mem)
            return mem;
    }
    errno = ENOMEM;
    return NULL;
}

/* ---- giving memory back ------------------------------------------------------ */

/* Gives memory of a non-main arena back: with heaps, whole sub-heaps whose
 * only chunk is the top; then the top's tail if it is past the trim
 * threshold.  Returns 1 if anything was released. */
static int sub_heap_trim(arena_t *a, size_t pad, bool heaps)
{
    chunk_t *top = a->top;
    heap_info_t *h = heap_for_ptr(top);
    int released = 0;

    while (heaps && h->prev && (char *)top == heap_chunks_start(h)) {
        heap_info_t *prev = h->prev;
        /* The previous sub-heap ends with fence-posts; the chunk before
         * them (if free) becomes the top again. */
        char *end = (char *)prev + prev->size;
        chunk_t *f = (chunk_t *)(end - 4 * SIZE_SZ);
        chunk_t *p = f;
        if (!prev_inuse(f)) {
            p = prev_chunk(f);
            unlink_chunk(a, p);
        }
        size_t newsize = (size_t)(end - (char *)p);
        a->system_mem -= h->size;
        a->trimmed += h->size;
        a->heap = prev;
        a->nheaps--;
        trace_set(h, h->size, W_GONE);
        trace_sys(TS_HEAP_UNMAP, a, h, h->size);
        heap_unmap(h);
        h = prev;
        top = p;
        set_head(top, newsize | PREV_INUSE);
        a->top = top;
        trace_top(a);
        released = 1;
    }

    size_t size = chunksize(top);
    if (size < mp.trim_threshold || size <= MINSIZE + 1 || size - MINSIZE - 1 <= pad)
        return released;
    size_t extra = align_down(size - MINSIZE - 1 - pad, os_pagesize);
    if (extra == 0 || heap_shrink(h, (long)extra) != 0)
        return released;
    a->system_mem -= extra;
    a->trimmed += extra;
    set_head(top, (size - extra) | PREV_INUSE);
    trace_set((char *)h + h->size, extra, W_GONE);
    trace_sys(TS_HEAP_SHRINK, a, h, h->size);
    trace_top(a);
    return 1;
}

/* Gives memory of arena a back from its top, keeping pad bytes: the main
 * arena shrinks its data segment, the others their sub-heaps (and, with
 * heaps, unmap the sub-heaps the top covers whole).  Returns 1 if memory
 * was released.  Lock held. */
int sys_trim(arena_t *a, size_t pad, bool heaps)
{
    if (a != &main_arena)
        return sub_heap_trim(a, pad, heaps);
    chunk_t *top = a->top;
    size_t size = chunksize(top);
    segment_t *s = a->segments;
    if (!s || size <= MINSIZE + 1 || size - MINSIZE - 1 <= pad || (char *)top + size != s->end)
        return 0;
    size_t extra = align_down(size - MINSIZE - 1 - pad, os_pagesize);
    if (extra == 0)
        return 0;
    if (s->mapped) {
        /* An mmapped segment cannot shrink in place; its pages can go. */
        char *from = (char *)align_up((uintptr_t)top + MINSIZE + pad, os_pagesize);
        if (from < s->end) {
            trace_sys(TS_MADVISE, a, from, (size_t)(s->end - from));
            return os_purge(from, (size_t)(s->end - from)) == 0;
        }
        return 0;
    }
    char *cur = os_sbrk(0);
    if (cur != s->end)
        return 0;                   /* someone else moved the break */
    os_sbrk(-(intptr_t)extra);
    char *now = os_sbrk(0);
    if (now == (char *)-1 || now >= cur)
        return 0;
    size_t released = (size_t)(cur - now);
    a->system_mem -= released;
    a->trimmed += released;
    s->end = now;
    set_head(top, (size - released) | PREV_INUSE);
    trace_set(now, released, W_GONE);
    trace_sys(TS_SBRK_SHRINK, a, now, released);
    trace_top(a);
    return 1;
}

/* Gives back the whole pages inside free chunk p past its header and
 * purge stamp (p stays in its bin; the pages read as zeros when used
 * again), and stamps it PURGED.  Returns 1 if a call was made.  Lock
 * held. */
int purge_chunk(arena_t *a, chunk_t *p)
{
    uintptr_t from;
    size_t len = purge_span(p, chunksize(p), &from);
    *purge_stamp(p) = PURGED;
    if (len == 0 || os_purge((void *)from, len) != 0)
        return 0;
    a->purged += len;
    trace_sys(TS_MADVISE, a, (void *)from, len);
    return 1;
}

/* Purges every free chunk of the bins that can hold a page, and the top's
 * interior past pad bytes.  Returns 1 if any page was released.  Lock
 * held. */
static int release_free_pages(arena_t *a, size_t pad)
{
    int released = 0;
    for (unsigned i = 1; i < NBINS; i++) {
        chunk_t *bin = bin_at(a, i);
        for (chunk_t *p = bin->fd; p != bin; p = p->fd)
            if (chunksize(p) >= PURGE_MIN_CHUNK)
                released |= purge_chunk(a, p);
    }
    /* And the top's interior past pad bytes (sys_trim may hand the tail
     * back to the system as well). */
    chunk_t *top = a->top;
    if (chunksize(top) <= sizeof(chunk_t) || chunksize(top) - sizeof(chunk_t) <= pad)
        return released;
    uintptr_t from = align_up((uintptr_t)top + sizeof(chunk_t) + pad, os_pagesize);
    uintptr_t to = align_down((uintptr_t)top + chunksize(top), os_pagesize);
    if (to > from && os_purge((void *)from, to - from) == 0) {
        trace_sys(TS_MADVISE, a, (void *)from, to - from);
        released = 1;
    }
    return released;
}

/* All of arena a's free memory back to the system: what other threads
 * handed over and the fastbins merged first, then the pages inside its
 * free chunks and its top's tail past pad bytes, and its empty
 * sub-heaps.  Returns 1 if anything was released.  Lock held. */
int arena_give_back(arena_t *a, size_t pad)
{
    remote_take(a, false);
    malloc_consolidate(a);
    int released = release_free_pages(a, pad);
    if (a != &main_arena || a->top != NULL)
        released |= sys_trim(a, pad, true);
    a->top_low = chunksize(a->top);
    a->top_since = a->clock_ms;
    return released;
}

/* malloc_trim: every arena's free memory back to the system, the thread's
 * caches first, so their chunks count as free. */
int sys_trim_all(size_t pad)
{
    int released = 0;
    tcache_flush();
    for (arena_t *a = &main_arena; a; a = __atomic_load_n(&a->next, __ATOMIC_ACQUIRE)) {
        lock_acquire(&a->lock);
        released |= arena_give_back(a, pad);
        lock_release(&a->lock);
    }
    return released;
}
