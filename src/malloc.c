/*
 * The malloc path.  malloc() itself (api.c) is the tcache's inline pop;
 * everything else is malloc_generic here, which tries the caches once
 * more (the mid-size cache, requests of 0-8 bytes), sets the thread up,
 * and takes an arena: malloc_from_arena, the one way into an arena that
 * calloc and the memalign family share.
 *
 * In the arena (int_malloc, lock held): fastbin, small bin, then sorting
 * the unsorted bin, best fit in a large bin, the binmap search, and last
 * the top chunk or the system.
 *
 * The arena's steps are written once, with a `traced` flag: int_malloc
 * is the copy without tracing, in which every hook compiles away, and
 * int_malloc_traced (cold) the copy that records each decision and each
 * chunk it moves (trace.h).  A hook left in the plain copy would cost a
 * test each time, and worse, the registers a call needs kept across it.
 */
#include <errno.h>
#include <string.h>
#include "internal.h"
#include "tcache.h"
#include "vg.h"

/* The traced copy's hooks; nothing in the plain one. */
static ALWAYS_INLINE void decide(bool traced, unsigned decision)
{
    if (traced)
        trace_decide(decision);
}
static ALWAYS_INLINE void moved(bool traced, const chunk_t *p, size_t size, unsigned where)
{
    if (traced)
        trace_set_slow(p, size, where);
}

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
    if (unlikely(mp.perturb))
        perturb_alloc(mem, nb - SIZE_SZ);
    return mem;
}

/* Split nb bytes off the front of free chunk p (already out of its bin);
 * the remainder goes to the unsorted bin. */
static ALWAYS_INLINE void *split_and_return(arena_t *a, chunk_t *p, size_t size, size_t nb,
                                             int remember, bool traced)
{
    size_t rsize = size - nb;
    if (rsize < MINSIZE) {
        set_inuse_at(p, size);
        p->size |= a->chunk_flag;
        return hand_out(p, size);
    }
    chunk_t *r = chunk_at(p, nb);
    uint64_t since = rsize >= PURGE_MIN_CHUNK ? *purge_stamp(p) : 0;
    unsorted_insert(a, r, rsize, since, "malloc(): corrupted unsorted chunks");
    if (remember)
        a->last_remainder = r;
    set_head(p, nb | PREV_INUSE | a->chunk_flag);
    set_head(r, rsize | PREV_INUSE);
    set_foot(r, rsize);
    moved(traced, r, rsize, W_UNSORTED);
    return hand_out(p, nb);
}

/* Splits nb bytes off the top chunk, which holds at least nb + MINSIZE.
 * Inline in int_malloc, which takes the top most often; sys_malloc takes
 * the out-of-line copy below. */
static ALWAYS_INLINE void *take_top(arena_t *a, size_t nb, bool traced)
{
    chunk_t *top = a->top;
    size_t size = chunksize(top);
    chunk_t *r = chunk_at(top, nb);
    a->top = r;
    decay_top_split(a, size - nb);
    set_head(r, (size - nb) | PREV_INUSE);
    set_head(top, nb | PREV_INUSE | a->chunk_flag);
    decide(traced, D_TOP);
    moved(traced, r, size - nb, W_TOP);
    return hand_out(top, nb);
}

void *split_top(arena_t *a, size_t nb)
{
    return unlikely(trace_on) ? take_top(a, nb, true) : take_top(a, nb, false);
}

/* Fastbin pop; fills the thread's cache with more of the same size. */
static ALWAYS_INLINE void *from_fastbin(arena_t *a, size_t nb, bool traced)
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
    a->flags |= ARENA_FAST_USED;
    decide(traced, D_FASTBIN);
    size_t slot = nb >> 4;
    if (slot < TCACHE_SLOTS && tc.state == TC_ACTIVE) {
        chunk_t *c;
        while (tc.room[slot] > 0 && (c = *fb) != NULL) {
            if (unlikely(misaligned_chunk(c)))
                malloc_error("malloc(): unaligned fastbin chunk detected 3");
            *fb = reveal_ptr(&c->fd);
            tcache_push_quiet(c, slot);
            moved(traced, c, nb, W_TCACHE);
        }
    }
    return hand_out(victim, nb);
}

/* Small bin: exact size, taken from the back (FIFO). */
static ALWAYS_INLINE void *from_smallbin(arena_t *a, size_t nb, bool traced)
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
    decide(traced, D_SMALLBIN);
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
            tcache_push_quiet(c, slot);
            moved(traced, c, nb, W_TCACHE);
        }
    }
    return hand_out(victim, nb);
}

static ALWAYS_INLINE void check_unsorted(arena_t *a, chunk_t *victim, size_t size)
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

static ALWAYS_INLINE void *int_malloc_steps(arena_t *a, size_t nb, bool traced)
{
    void *mem;
    unsigned idx;

    remote_take(a, a == tc.arena);
    decay_count(a);
    if (nb <= mp.max_fast && (mem = from_fastbin(a, nb, traced)))
        return mem;

    if (in_smallbin_range(nb)) {
        if ((mem = from_smallbin(a, nb, traced)))
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
                decide(traced, D_LAST_REMAINDER);
                return split_and_return(a, victim, size, nb, 1, traced);
            }

            unsorted->bk = bck;
            bck->fd = unsorted;

            if (size == nb) {
                set_inuse_at(victim, size);
                victim->size |= a->chunk_flag;
                decide(traced, D_UNSORTED);
                if (can_cache && tc.room[tslot] > 0) {
                    tcache_push_quiet(victim, tslot);
                    moved(traced, victim, size, W_TCACHE);
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
                moved(traced, victim, size, W_SMALLBIN);
            } else {
                bin_insert_sorted(a, victim, size);
                moved(traced, victim, size, W_LARGEBIN);
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
                decide(traced, D_LARGEBIN);
                return split_and_return(a, victim, size, nb, 0, traced);
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
            decide(traced, D_BINMAP);
            return split_and_return(a, victim, size, nb, in_smallbin_range(nb), traced);
        }

        /* The top. */
        size_t size = chunksize(a->top);
        if (unlikely(size > a->system_mem))
            malloc_error("malloc(): corrupted top size");
        if (size >= nb + MINSIZE)
            return take_top(a, nb, traced);
        if (!have_fastchunks(a)) {
            decay_grow(a);
            return sys_malloc(a, nb);
        }
        malloc_consolidate(a);
    }
}

static COLD NOINLINE void *int_malloc_traced(arena_t *a, size_t nb)
{
    return int_malloc_steps(a, nb, true);
}

void *int_malloc(arena_t *a, size_t nb)
{
    if (unlikely(trace_on))
        return int_malloc_traced(a, nb);
    return int_malloc_steps(a, nb, false);
}

/* ---- the generic malloc ------------------------------------------------------ */

/* A chunk of nb bytes from a (locked), aligned to align (0 = the usual 16). */
static inline void *int_alloc(arena_t *a, size_t nb, size_t align)
{
    return align ? int_memalign(a, align, nb) : int_malloc(a, nb);
}

/* calloc's clearing: memory carved from beyond the old top's end is fresh
 * from the kernel, already zero, so of a chunk split off the old top only
 * what was the top needs clearing. */
static void clear_block(void *mem, size_t n, chunk_t *oldtop, size_t oldtopsize)
{
    chunk_t *p = mem2chunk(mem);
    if (chunk_is_mmapped(p)) {
        if (unlikely(mp.perturb))
            memset(mem, 0, n);
        return;
    }
    size_t clear = chunksize(p) - SIZE_SZ;
    if (p == oldtop && !mp.perturb && oldtopsize < clear + SIZE_SZ)
        clear = oldtopsize > 2 * SIZE_SZ ? oldtopsize - 2 * SIZE_SZ : 0;
    memset(mem, 0, clear);
}

/* malloc_from_arena's general form: Valgrind's red zones, calloc's
 * clearing, and another arena when the thread's is out of memory. */
static NOINLINE void *malloc_from_any_arena(size_t n, size_t align, bool zero)
{
    size_t nb = request2size(vg_pad(n));
    vg_quiet();
    arena_t *a = arena_get();
    chunk_t *oldtop = a->top;
    size_t oldtopsize = chunksize(oldtop);
    if (a == &main_arena && a->segments && (char *)oldtop + oldtopsize != a->segments->end)
        oldtopsize = SIZE_MAX;      /* not the end of the segment: trust nothing */
    void *mem = int_alloc(a, nb, align);
    if (unlikely(!mem)) {
        lock_release(&a->lock);
        a = arena_retry(a);
        if (a) {
            mem = int_alloc(a, nb, align);
            oldtop = NULL;
        }
    }
    if (a)
        lock_release(&a->lock);
    if (mem && zero)
        clear_block(mem, n, oldtop, oldtopsize);
    vg_loud();
    if (!mem)
        errno = ENOMEM;
    return vg_alloc(mem, n, zero);
}

/* n bytes (aligned to align, 0 = the usual 16; zeroed if asked) from the
 * thread's arena, for a thread whose cache is set up; NULL with ENOMEM.
 * The usual case (not under Valgrind, not calloc, memory there) keeps
 * apart from the general form, which needs many more registers; a
 * single-threaded process takes no lock and notes no last user. */
static inline void *from_arena(size_t n, size_t align, bool zero)
{
    if (likely(!vg_active) && !zero) {
        arena_t *a = tc.arena;
        void *mem;
        if (likely(a != NULL) && __libc_single_threaded) {
            mem = int_alloc(a, request2size(n), align);
        } else {
            a = arena_get();
            mem = int_alloc(a, request2size(n), align);
            lock_release(&a->lock);
        }
        if (likely(mem != NULL))
            return mem;
    }
    return malloc_from_any_arena(n, align, zero);
}

/* from_arena for calloc and the memalign family (malloc_generic has its
 * own inline copy). */
void *malloc_from_arena(size_t n, size_t align, bool zero)
{
    return from_arena(n, align, zero);
}

/* malloc's fast path found the slot of a cache-size request empty (or its
 * head corrupted).  Usually the cache is set up and the slot is just
 * empty: in a single-threaded program the request then goes straight to
 * the thread's arena, keeping one register where malloc_generic needs six
 * (docs/DESIGN-MAP.md has what it saves); anything else takes
 * malloc_generic.  A miss ends a run of overflowing frees (tcache.c).
 * While tracing, a thread's cache state is TC_TRACED between calls, so a
 * call from the program goes on to malloc_generic, which records it. */
NOINLINE void *malloc_miss(size_t n, void *caller)
{
    arena_t *a = tc.arena;
    tc.overflows = 0;
    if (likely(n >= 9 && tc.head[tcache_slot_of_request(n)] == TC_END && a != NULL &&
               tc.state == TC_ACTIVE && !vg_active && __libc_single_threaded)) {
        void *mem = int_malloc(a, request2size(n));
        if (likely(mem != NULL))
            return mem;
        return malloc_from_any_arena(n, 0, false);
    }
    return malloc_generic(n, caller);
}

/* Everything malloc's fast path does not do; any caller may use it. */
NOINLINE void *malloc_generic(size_t n, void *caller)
{
    decay_generic_count();
    if (n <= TCACHE_MAX_REQUEST) {
        /* A non-empty slot is taken (tcache_pop checks its head: the fast
         * path stops at a misaligned one, a corrupted link).  Requests of
         * 0..8 bytes index slot 1, which stays empty: their chunks (32
         * bytes) are in slot 2. */
        size_t slot = tcache_slot_of_request(n);
        if (unlikely(tc.head[slot] != TC_END))
            return tcache_pop(slot);
        if (n < 9 && tc.head[2] != TC_END)
            return tcache_pop(2);
        tc.overflows = 0;               /* a miss ends a run of overflowing frees */
    } else if (n <= tcm.limit) {
        void *mem = tcache_mid_get(request2size(n));
        if (mem)
            return mem;
    }
    ensure_init();
    /* A cache not in use: not set up yet, or parked while tracing (the
     * steps above found it empty: trace.c), and the call is recorded. */
    if (unlikely(tc.state != TC_ACTIVE)) {
        if (trace_wanted())
            return trace_malloc(n, caller);
        if (tc.state == TC_UNINIT)
            tcache_thread_init();
    } else if (unlikely(!tc.hooked) && !__libc_single_threaded) {
        tcache_hook_late();
    }
    if (unlikely(n > MAX_REQUEST)) {
        errno = ENOMEM;
        return NULL;
    }
    if (unlikely(decay_thread_wanted))
        decay_thread_start();
    return from_arena(n, 0, false);
}
