/*
 * The full heap consistency check, ptalloc_check().
 *
 * Three levels of checking: cheap checks on every path (always on, they
 * call malloc_error with glibc's message: internal.h); ASSERT in debug
 * builds; and this one, which walks everything and is what tests call
 * after every phase.
 */
#include <string.h>
#include "internal.h"
#include "ptalloc.h"
#include "vg.h"


/* ---- the full check ------------------------------------------------------------ */

struct check_ctx {
    int verbose, problems;
    arena_t *a;
    chunk_t *prev;            /* the previous chunk of this segment */
    int prev_seg;
    size_t free_chunks;       /* free by the boundary tags, top excluded */
    size_t inuse_chunks;
    int saw_top;
    fmtbuf_t *out;
};

static COLD void problem(struct check_ctx *c, const char *what, const void *where, size_t value)
{
    c->problems++;
    if (c->verbose && c->problems <= 50)
        fmt_printf(c->out, "ptalloc_check: arena %d: %s at %p (%zu)\n",
                   c->a ? c->a->number : -1, what, where, value);
}

static COLD int check_chunk(arena_t *a, chunk_t *p, int seg, void *arg)
{
    struct check_ctx *c = arg;
    size_t size = chunksize(p);
    if (seg != c->prev_seg) {
        c->prev = NULL;
        c->prev_seg = seg;
        if (!prev_inuse(p))
            problem(c, "first chunk of a segment without PREV_INUSE", p, size);
    }
    if (size == 2 * SIZE_SZ) {            /* fence-post */
        c->prev = p;
        return 0;
    }
    if (size < MINSIZE)
        problem(c, "chunk smaller than MINSIZE", p, size);
    if (misaligned_chunk(p))
        problem(c, "misaligned chunk", p, size);
    if (chunk_is_mmapped(p))
        problem(c, "IS_MMAPPED chunk inside an arena", p, size);
    if (c->prev && !prev_inuse(p)) {
        if (chunksize(c->prev) == 2 * SIZE_SZ)
            problem(c, "PREV_INUSE clear after a fence-post", p, size);
        else if (p->prev_size != chunksize(c->prev))
            problem(c, "prev_size does not match the previous chunk's size", p, p->prev_size);
    }
    if (p == a->top) {
        c->saw_top++;
        if (!prev_inuse(p))
            problem(c, "top chunk without PREV_INUSE (a free chunk before the top)", p, size);
        if (size < MINSIZE)
            problem(c, "top smaller than MINSIZE", p, size);
    } else {
        chunk_t *next = chunk_at(p, size);
        /* The last chunk of a segment must be the top or a fence-post. */
        int is_free = !inuse(p);
        if (is_free) {
            c->free_chunks++;
            if (!prev_inuse(p))
                problem(c, "two free chunks next to each other", p, size);
            if (next->prev_size != size)
                problem(c, "free chunk's boundary tag differs from its size", p, next->prev_size);
            if (next == a->top)
                problem(c, "free chunk next to the top (not merged)", p, size);
        } else {
            c->inuse_chunks++;
            if ((p->size & NON_MAIN_ARENA) != a->chunk_flag)
                problem(c, "in-use chunk's NON_MAIN_ARENA bit does not match its arena", p, size);
        }
    }
    c->prev = p;
    return 0;
}

static COLD void check_bins(struct check_ctx *c, arena_t *a, size_t *bin_chunks, size_t limit)
{
    for (unsigned i = 1; i < NBINS; i++) {
        chunk_t *bin = bin_at(a, i);
        size_t n = 0;
        size_t last = SIZE_MAX;
        for (chunk_t *p = bin->fd; p != bin; p = p->fd) {
            if (++n > limit) {
                problem(c, "bin list does not end (cycle)", bin, i);
                break;
            }
            if (p->fd->bk != p || p->bk->fd != p) {
                problem(c, "bin links broken", p, i);
                break;
            }
            size_t size = chunksize(p);
            if (inuse(p))
                problem(c, "chunk in a bin is marked in use", p, i);
            if (i == UNSORTED_BIN) {
                /* any size */
            } else if (i < NSMALLBINS) {
                if (!in_smallbin_range(size) || smallbin_index(size) != i)
                    problem(c, "chunk in the wrong small bin", p, size);
            } else {
                if (in_smallbin_range(size) || largebin_index(size) != i)
                    problem(c, "chunk in the wrong large bin", p, size);
                if (size > last)
                    problem(c, "large bin not sorted", p, size);
                /* The first chunk of each size heads the nextsize ring. */
                int head = size != last;
                if (head && (!p->fd_nextsize || !p->bk_nextsize))
                    problem(c, "large bin size head without nextsize links", p, size);
                if (!head && (p->fd_nextsize || p->bk_nextsize))
                    problem(c, "large bin chunk has nextsize links but is not a head", p, size);
                if (head && p->fd_nextsize && (p->fd_nextsize->bk_nextsize != p ||
                                               p->bk_nextsize->fd_nextsize != p))
                    problem(c, "nextsize ring broken", p, size);
                if (head && p->fd_nextsize && p->fd_nextsize != bin->fd &&
                    chunksize(p->fd_nextsize) >= size)
                    problem(c, "nextsize ring not in decreasing order", p, size);
                last = size;
            }
        }
        *bin_chunks += n;
        if (n && !bin_marked(a, i) && i != UNSORTED_BIN)
            problem(c, "non-empty bin not marked in the binmap", bin, i);
    }
}

static COLD size_t check_fastbins(struct check_ctx *c, arena_t *a, size_t limit)
{
    size_t total = 0;
    for (unsigned i = 0; i < NFASTBINS; i++) {
        size_t n = 0;
        for (chunk_t *p = a->fastbins[i]; p; p = reveal_ptr(&p->fd)) {
            if (misaligned_chunk(p)) {
                problem(c, "misaligned fastbin chunk", p, i);
                break;
            }
            if (++n > limit) {
                problem(c, "fastbin list does not end (cycle)", p, i);
                break;
            }
            if (fastbin_index(chunksize(p)) != i)
                problem(c, "chunk in the wrong fastbin", p, chunksize(p));
            if (!inuse(p))
                problem(c, "fastbin chunk not marked in use", p, i);
        }
        total += n;
        if (n && !have_fastchunks(a))
            problem(c, "fastbins hold chunks but the arena's flag says none", a, i);
    }
    return total;
}

/* Frees handed over to arena a, or waiting in a thread's batch for it
 * (remote.c): in-use chunks of a, carrying the key, at most limit of them. */
static COLD void check_remote(struct check_ctx *c, arena_t *a, tc_entry_t *e, size_t limit)
{
    size_t n = 0;
    for (; e; e = reveal_ptr(&e->next)) {
        if (!aligned_ok((uintptr_t)e)) {
            problem(c, "misaligned remote free entry", e, n);
            return;
        }
        if (++n > limit) {
            problem(c, "remote free list longer than its limit", e, n);
            return;
        }
        chunk_t *p = mem2chunk(e);
        if (chunk_is_mmapped(p) || !inuse(p) || arena_for_chunk(p) != a)
            problem(c, "remote free chunk not an in-use chunk of its arena", p, chunksize(p));
        if (e->key != tcache_key)
            problem(c, "remote free chunk without the key", p, n);
    }
}

static COLD void check_arena(struct check_ctx *c, arena_t *a)
{
    c->a = a;
    c->prev = NULL;
    c->prev_seg = -1;
    c->free_chunks = c->inuse_chunks = 0;
    c->saw_top = 0;
    if (walk_chunks(a, check_chunk, c) < 0)
        problem(c, "chunk size runs outside its segment", a->top, 0);
    if (a->system_mem && c->saw_top != 1)
        problem(c, "top chunk not found in the arena's memory", a->top, (size_t)c->saw_top);
    size_t limit = c->free_chunks + c->inuse_chunks + 1;
    size_t in_bins = 0;
    check_bins(c, a, &in_bins, limit);
    if (in_bins != c->free_chunks)
        problem(c, "free chunks (by boundary tags) and chunks in bins differ", a, in_bins);
    check_fastbins(c, a, limit);
    if (a != &main_arena) {
        size_t sum = 0;
        int n = 0;
        for (heap_info_t *h = a->heap; h; h = h->prev, n++) {
            sum += h->size;
            if (h->ar != a)
                problem(c, "sub-heap header names another arena", h, 0);
            if (heap_for_ptr(h) != h)
                problem(c, "sub-heap not aligned to HEAP_MAX_SIZE", h, 0);
            if (h->size > h->committed || h->committed > HEAP_MAX_SIZE)
                problem(c, "sub-heap size beyond its committed memory", h, h->size);
        }
        if (sum != a->system_mem)
            problem(c, "system_mem differs from the sub-heaps' sizes", a, a->system_mem);
        if (n != a->nheaps)
            problem(c, "sub-heap count differs", a, (size_t)n);
        if (heap_for_ptr(a->top) != a->heap)
            problem(c, "top is not in the newest sub-heap", a->top, 0);
    } else if (a->segments) {
        if ((char *)a->top + chunksize(a->top) != a->segments->end)
            problem(c, "top does not end its segment", a->top, chunksize(a->top));
    }
    if (a->max_system_mem < a->system_mem)
        problem(c, "max_system_mem below system_mem", a, a->max_system_mem);
    check_remote(c, a, __atomic_load_n(&a->remote, __ATOMIC_ACQUIRE), c->inuse_chunks);
}

static COLD void check_one_tcache(struct check_ctx *c, tcache_t *t)
{
    if (t->state != TC_ACTIVE)
        return;
    for (size_t s = 2; s < TCACHE_SLOTS; s++) {
        size_t n = 0;
        for (tc_entry_t *e = t->head[s]; e != TC_END; e = reveal_ptr(&e->next)) {
            if (!aligned_ok((uintptr_t)e)) {
                problem(c, "misaligned tcache entry", e, s);
                break;
            }
            if (++n > mp.tcache_count + 1 || n > TCACHE_MAX_COUNT) {
                problem(c, "tcache bin longer than its limit", e, s);
                break;
            }
            chunk_t *p = mem2chunk(e);
            if (chunksize(p) != s << 4)
                problem(c, "tcache chunk of the wrong size", p, chunksize(p));
            if (e->key != tcache_key)
                problem(c, "tcache chunk without the key", p, s);
            if (!chunk_is_mmapped(p) && !inuse(p))
                problem(c, "tcache chunk not marked in use", p, s);
        }
        if (n + (size_t)t->room[s] > TCACHE_MAX_COUNT)
            problem(c, "tcache count out of range", t, s);
    }
    if (t->remote)
        check_remote(c, t->remote_arena, t->remote, t->remote_limit);
    struct tcache_mid *m = t->mid;
    if (!m)
        return;
    for (size_t k = 0; k < TCACHE_MID_CLASSES; k++) {
        tc_entry_t *e = m->slot[k];
        if (!e)
            continue;
        if (!aligned_ok((uintptr_t)e)) {
            problem(c, "misaligned tcache entry", e, TCACHE_BINS + k);
            continue;
        }
        chunk_t *p = mem2chunk(e);
        size_t size = chunksize(p);
        if (size < TCACHE_MID_MIN || TCACHE_MID_CLASS_OF_CHUNK(size) != k || size >= m->end)
            problem(c, "tcache chunk of the wrong size", p, size);
        if (e->key != tcache_key)
            problem(c, "tcache chunk without the key", p, TCACHE_BINS + k);
        if (chunk_is_mmapped(p) || !inuse(p))
            problem(c, "tcache chunk not marked in use", p, TCACHE_BINS + k);
    }
}

/* The calling thread's cache; with every_thread, every live thread's (the
 * others must not be allocating meanwhile: their caches have no lock). */
static COLD void check_tcache(struct check_ctx *c, int every_thread)
{
    c->a = NULL;
    if (!every_thread) {
        check_one_tcache(c, &tc);
        return;
    }
    lock_acquire(&arenas_lock);
    for (tcache_t *t = all_threads; t; t = t->next_thread)
        check_one_tcache(c, t);
    lock_release(&arenas_lock);
    if (!tc.listed)
        check_one_tcache(c, &tc);
}

static COLD void check_mmapped(struct check_ctx *c)
{
    long n = 0;
    size_t bytes = 0;
    c->a = NULL;
    lock_acquire(&mmap_lock);
    for (mmap_hdr_t *h = mmap_list; h; h = h->next) {
        chunk_t *p = (chunk_t *)((char *)h + h->chunk_off);
        if (h->next && h->next->prev != h)
            problem(c, "mmapped chunk list broken", h, 0);
        if (!chunk_is_mmapped(p))
            problem(c, "mmapped chunk without IS_MMAPPED", p, 0);
        if (p->prev_size != h->chunk_off || chunksize(p) + h->chunk_off != h->mapped)
            problem(c, "mmapped chunk header disagrees with its mapping", p, h->mapped);
        if (((uintptr_t)h | h->mapped) & (os_pagesize - 1))
            problem(c, "mmapped region not page aligned", h, h->mapped);
        if (++n > mstats.n_mmaps)
            break;
        bytes += h->mapped;
    }
    if (n != mstats.n_mmaps || bytes != mstats.mmapped_mem)
        problem(c, "mmapped chunk count or bytes differ from the statistics", NULL, (size_t)n);
    lock_release(&mmap_lock);
}

COLD PUBLIC int ptalloc_check(int verbose)
{
    char buf[1024];
    fmtbuf_t out;
    fmt_init(&out, buf, sizeof buf, 2);
    struct check_ctx c = { .verbose = verbose & PTALLOC_CHECK_VERBOSE, .out = &out };
    ensure_init();
    int traced = trace_begin();
    vg_quiet();
    for (arena_t *a = &main_arena; a; a = __atomic_load_n(&a->next, __ATOMIC_ACQUIRE)) {
        lock_acquire(&a->lock);
        check_arena(&c, a);
        lock_release(&a->lock);
    }
    check_tcache(&c, verbose & PTALLOC_CHECK_ALL_THREADS);
    check_mmapped(&c);
    vg_loud();
    trace_end(traced);
    fmt_flush(&out);
    return c.problems;
}
