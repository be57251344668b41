/*
 * The malloc path inside an arena (the arena is locked by the caller):
 * fastbin, small bin, then sorting the unsorted bin, best fit in a large
 * bin, the binmap search, and last the top chunk or the system.
 */
#include <string.h>
#include "internal.h"
#include "tcache.h"

void perturb_alloc(void *mem, size_t n)
{
    if (unlikely(mp.perturb))
        memset(mem, (int)(mp.perturb ^ 0xff), n);
}

static inline void *hand_out(chunk_t *p, size_t nb)
{
    void *mem = chunk2mem(p);
    ASSERT(aligned_ok((uintptr_t)mem));
    ASSERT(chunksize(p) >= nb && inuse(p) && !chunk_is_mmapped(p));
    perturb_alloc(mem, nb - SIZE_SZ);
    return mem;
}

/* Split nb bytes off the front of free chunk p (already out of its bin);
 * the remainder goes to the unsorted bin. */
static void *split_and_return(arena_t *a, chunk_t *p, size_t size, size_t nb, int remember)
{
    size_t rsize = size - nb;
    if (rsize < MINSIZE) {
        set_inuse_at(p, size);
        p->size |= a->chunk_flag;
        return hand_out(p, size);
    }
    chunk_t *r = chunk_at(p, nb);
    chunk_t *bck = unsorted_chunks(a), *fwd = bck->fd;
    if (unlikely(fwd->bk != bck))
        malloc_error("malloc(): corrupted unsorted chunks");
    r->bk = bck;
    r->fd = fwd;
    bck->fd = r;
    fwd->bk = r;
    if (!in_smallbin_range(rsize))
        r->fd_nextsize = r->bk_nextsize = NULL;
    if (remember)
        a->last_remainder = r;
    set_head(p, nb | PREV_INUSE | a->chunk_flag);
    set_head(r, rsize | PREV_INUSE);
    set_foot(r, rsize);
    return hand_out(p, nb);
}

/* Splits nb bytes off the top chunk, which holds at least nb + MINSIZE. */
void *split_top(arena_t *a, size_t nb)
{
    chunk_t *top = a->top;
    size_t size = chunksize(top);
    chunk_t *r = chunk_at(top, nb);
    a->top = r;
    set_head(r, (size - nb) | PREV_INUSE);
    set_head(top, nb | PREV_INUSE | a->chunk_flag);
    return hand_out(top, nb);
}

/* Fastbin pop; fills the thread's cache with more of the same size. */
static void *from_fastbin(arena_t *a, size_t nb)
{
    unsigned idx = fastbin_index(nb);
    chunk_t **fb = &a->fastbins[idx];
    chunk_t *victim = *fb;
    if (!victim)
        return NULL;
    if (unlikely(misaligned_chunk(victim)))
        malloc_error("malloc(): unaligned fastbin chunk detected 2");
    chunk_t *next = reveal_ptr(&victim->fd);
    if (unlikely(next && misaligned_chunk(next)))
        malloc_error("malloc(): unaligned fastbin chunk detected");
    if (unlikely(fastbin_index(chunksize(victim)) != idx))
        malloc_error("malloc(): memory corruption (fast)");
    *fb = next;
    size_t slot = nb >> 4;
    if (slot < TCACHE_SLOTS && tc.state == TC_ACTIVE) {
        chunk_t *c;
        while (tc.room[slot] > 0 && (c = *fb) != NULL) {
            if (unlikely(misaligned_chunk(c)))
                malloc_error("malloc(): unaligned fastbin chunk detected 3");
            *fb = reveal_ptr(&c->fd);
            tcache_push(c, slot);
        }
    }
    return hand_out(victim, nb);
}

/* Small bin: exact size, taken from the back (FIFO). */
static void *from_smallbin(arena_t *a, size_t nb)
{
    chunk_t *bin = bin_at(a, smallbin_index(nb));
    chunk_t *victim = bin->bk;
    if (victim == bin)
        return NULL;
    chunk_t *bck = victim->bk;
    if (unlikely(bck->fd != victim))
        malloc_error("malloc(): smallbin double linked list corrupted");
    set_inuse_at(victim, nb);
    bin->bk = bck;
    bck->fd = bin;
    victim->size |= a->chunk_flag;
    size_t slot = nb >> 4;
    if (slot < TCACHE_SLOTS && tc.state == TC_ACTIVE) {
        chunk_t *c;
        while (tc.room[slot] > 0 && (c = bin->bk) != bin) {
            bck = c->bk;
            if (unlikely(bck->fd != c))
                malloc_error("malloc(): smallbin double linked list corrupted");
            set_inuse_at(c, nb);
            c->size |= a->chunk_flag;
            bin->bk = bck;
            bck->fd = bin;
            tcache_push(c, slot);
        }
    }
    return hand_out(victim, nb);
}

/* Moves every fastbin chunk to the unsorted bin, merged with its free
 * neighbours (or into the top). */
void malloc_consolidate(arena_t *a)
{
    chunk_t *unsorted = unsorted_chunks(a);
    a->flags &= ~ARENA_HAVE_FASTCHUNKS;
    for (unsigned i = 0; i < NFASTBINS; i++) {
        chunk_t *p = a->fastbins[i];
        a->fastbins[i] = NULL;
        while (p) {
            if (unlikely(misaligned_chunk(p)))
                malloc_error("malloc_consolidate(): unaligned fastbin chunk detected");
            if (unlikely(fastbin_index(chunksize(p)) != i))
                malloc_error("malloc_consolidate(): invalid chunk size");
            chunk_t *nextp = reveal_ptr(&p->fd);
            size_t size = chunksize(p);
            chunk_t *next = chunk_at(p, size);
            size_t nextsize = chunksize(next);
            if (!prev_inuse(p)) {
                size_t prevsize = p->prev_size;
                size += prevsize;
                p = (chunk_t *)((char *)p - prevsize);
                if (unlikely(chunksize(p) != prevsize))
                    malloc_error("corrupted size vs. prev_size in fastbins");
                unlink_chunk(a, p);
            }
            if (next != a->top) {
                if (!inuse_at(next, nextsize)) {
                    size += nextsize;
                    unlink_chunk(a, next);
                } else {
                    clear_inuse_at(next, 0);
                }
                chunk_t *first = unsorted->fd;
                unsorted->fd = p;
                first->bk = p;
                if (!in_smallbin_range(size))
                    p->fd_nextsize = p->bk_nextsize = NULL;
                set_head(p, size | PREV_INUSE);
                p->bk = unsorted;
                p->fd = first;
                set_foot(p, size);
            } else {
                size += nextsize;
                set_head(p, size | PREV_INUSE);
                a->top = p;
            }
            p = nextp;
        }
    }
}

static void check_unsorted(arena_t *a, chunk_t *victim, size_t size)
{
    chunk_t *next = chunk_at(victim, size);
    if (unlikely(victim->size <= 2 * SIZE_SZ || size > a->system_mem))
        malloc_error("malloc(): invalid size (unsorted)");
    if (unlikely(next->size < 2 * SIZE_SZ || chunksize(next) > a->system_mem))
        malloc_error("malloc(): invalid next size (unsorted)");
    if (unlikely(next->prev_size != size))
        malloc_error("malloc(): mismatching next->prev_size (unsorted)");
    if (unlikely(victim->bk->fd != victim || victim->fd != unsorted_chunks(a)))
        malloc_error("malloc(): unsorted double linked list corrupted");
    if (unlikely(prev_inuse(next)))
        malloc_error("malloc(): invalid next->prev_inuse (unsorted)");
}

#define MAX_UNSORTED_ITERS 10000

void *int_malloc(arena_t *a, size_t nb)
{
    void *mem;
    unsigned idx;

    a->mallocs++;
    arena_take_handed(a, a == tc.arena);
    if (nb <= mp.max_fast && (mem = from_fastbin(a, nb)))
        return mem;

    if (in_smallbin_range(nb)) {
        if ((mem = from_smallbin(a, nb)))
            return mem;
        idx = smallbin_index(nb);
    } else {
        idx = largebin_index(nb);
        if (have_fastchunks(a))
            malloc_consolidate(a);
    }

    /* A request the tcache serves: exact fits found while sorting go to
     * the cache, and sorting goes on; one of them is returned after. */
    size_t tslot = nb >> 4;
    int can_cache = tslot < TCACHE_SLOTS && tc.state == TC_ACTIVE;
    int cached = 0;

    for (;;) {
        chunk_t *unsorted = unsorted_chunks(a), *victim;
        int iters = 0;

        /* Sort the unsorted bin, oldest first, unless a chunk fits. */
        while ((victim = unsorted->bk) != unsorted) {
            chunk_t *bck = victim->bk;
            size_t size = chunksize(victim);
            check_unsorted(a, victim, size);

            /* A small request takes a piece of the last remainder when
             * that is all there is: consecutive small requests then sit
             * next to each other. */
            if (in_smallbin_range(nb) && bck == unsorted && victim == a->last_remainder &&
                size > nb + MINSIZE) {
                unsorted->bk = unsorted->fd = unsorted;
                return split_and_return(a, victim, size, nb, 1);
            }

            unsorted->bk = bck;
            bck->fd = unsorted;

            if (size == nb) {
                set_inuse_at(victim, size);
                victim->size |= a->chunk_flag;
                if (can_cache && tc.room[tslot] > 0) {
                    tcache_push(victim, tslot);
                    cached = 1;
                    continue;
                }
                return hand_out(victim, nb);
            }

            if (in_smallbin_range(size)) {
                unsigned vi = smallbin_index(size);
                chunk_t *bin = bin_at(a, vi), *fwd = bin->fd;
                victim->bk = bin;
                victim->fd = fwd;
                fwd->bk = victim;
                bin->fd = victim;
                mark_bin(a, vi);
            } else {
                bin_insert_sorted(a, victim, size);
            }
            if (cached && mp.tcache_unsorted_limit && (size_t)iters >= mp.tcache_unsorted_limit)
                return tcache_pop(tslot);
            if (++iters >= MAX_UNSORTED_ITERS)
                break;
        }
        if (cached)
            return tcache_pop(tslot);

        /* A large request: the smallest chunk of its bin that fits. */
        if (!in_smallbin_range(nb)) {
            chunk_t *bin = bin_at(a, idx);
            victim = bin->fd;
            if (victim != bin && chunksize(victim) >= nb) {
                victim = victim->bk_nextsize;
                size_t size;
                while ((size = chunksize(victim)) < nb)
                    victim = victim->bk_nextsize;
                /* Take the second of a size, so the nextsize ring stays. */
                if (victim != bin->bk && chunksize(victim->fd) == size)
                    victim = victim->fd;
                unlink_chunk(a, victim);
                return split_and_return(a, victim, size, nb, 0);
            }
        }

        /* The binmap: the next non-empty larger bin; any chunk there fits.
         * Bits are cleared lazily, so a marked bin may turn out empty. */
        for (unsigned i = idx + 1; i < NBINS;) {
            unsigned block = idx2block(i);
            unsigned map = a->binmap[block] & ~(idx2bit(i) - 1);
            if (!map) {
                i = (block + 1) << BINMAPSHIFT;
                continue;
            }
            i = (block << BINMAPSHIFT) + (unsigned)__builtin_ctz(map);
            chunk_t *bin = bin_at(a, i);
            victim = bin->bk;
            if (victim == bin) {
                unmark_bin(a, i);
                i++;
                continue;
            }
            size_t size = chunksize(victim);
            ASSERT(size >= nb);
            unlink_chunk(a, victim);
            return split_and_return(a, victim, size, nb, in_smallbin_range(nb));
        }
        goto use_top;

    use_top:
        {
            size_t size = chunksize(a->top);
            if (unlikely(size > a->system_mem))
                malloc_error("malloc(): corrupted top size");
            if (size >= nb + MINSIZE)
                return split_top(a, nb);
            if (have_fastchunks(a)) {
                malloc_consolidate(a);
                continue;
            }
            return sys_malloc(a, nb);
        }
    }
}
