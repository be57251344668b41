/*
 * The free path.  free() itself (api.c) is the tcache's inline push;
 * everything else is free_generic here: mmapped chunks, the mid-size
 * cache, the tcache's set-up and double-free scan, remote frees, and the
 * arena.  In the arena (int_free, internal.h): a fastbin (no merging), or
 * merged with the free neighbours (or into the top) and parked in the
 * unsorted bin; large merges consolidate the fastbins and read the decay's
 * clock (decay.c), which gives memory back to the system.
 */
#include <string.h>
#include "internal.h"
#include "tcache.h"
#include "vg.h"

void perturb_free(void *mem, size_t n)
{
    if (unlikely(mp.perturb))
        memset(mem, (int)mp.perturb, n);
}

/* A merge's purge stamp is that of its largest part, whose pages are
 * most of the whole's: a block freed next to a long idle chunk does not
 * make all of it young, nor a long idle one next to a large block just
 * freed make that old.  A purged part counts as free for ever (the pass
 * gives back what the others brought).  Parts under PURGE_MIN_CHUNK have
 * no stamp: they count as free since the merge's own time (PURGE_NOW for
 * a free: decay_freed reads the clock). */
struct merge_age { uint64_t since; size_t weight; };
static inline void merge_part(struct merge_age *m, chunk_t *part, size_t size, uint64_t since)
{
    if (size <= m->weight)
        return;
    m->weight = size;
    if (size >= PURGE_MIN_CHUNK) {
        since = *purge_stamp(part);
        if (since == PURGED)
            since = 0;
    }
    m->since = since;
}

/* Lock held.  Merges chunk p (size bytes, followed by next of nextsize,
 * free since `since`) with its free neighbours, into the top or parked in
 * the unsorted bin; returns the merged chunk, or NULL for the top.  The
 * messages are glibc's, which differ between free and the consolidation
 * (which does not check the unsorted bin's link). */
static inline chunk_t *merge_chunk(arena_t *a, chunk_t *p, size_t size, chunk_t *next, size_t nextsize,
                                   uint64_t since, const char *prev_msg, const char *unsorted_msg)
{
    struct merge_age age = { since, size };
    if (!prev_inuse(p)) {
        size_t prevsize = p->prev_size;
        size += prevsize;
        p = (chunk_t *)((char *)p - prevsize);
        if (unlikely(chunksize(p) != prevsize))
            malloc_error(prev_msg);
        unlink_chunk(a, p);
        merge_part(&age, p, prevsize, since);
    }
    if (next != a->top) {
        if (!inuse_at(next, nextsize)) {
            unlink_chunk(a, next);
            size += nextsize;
            merge_part(&age, next, nextsize, since);
        } else {
            clear_inuse_at(next, 0);
        }
        unsorted_insert(a, p, size, age.since, unsorted_msg);
        set_head(p, size | PREV_INUSE);
        set_foot(p, size);
        trace_set(p, size, W_UNSORTED);
        return p;
    }
    size += nextsize;
    set_head(p, size | PREV_INUSE);
    a->top = p;
    a->top_touched = a->clock_ms;
    trace_top(a);
    return NULL;
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

    chunk_t *q = merge_chunk(a, p, size, next, nextsize, PURGE_NOW,
                             "corrupted size vs. prev_size while consolidating",
                             "free(): corrupted unsorted chunks");
    size = chunksize(q ? q : a->top);

    /* A free chunk that can hold a page: stamped by the clock, which may
     * have a pass due.  A big one: a good moment to merge the fastbins,
     * and with a purge delay of 0 to trim the top past the threshold. */
    if (q && size >= PURGE_MIN_CHUNK)
        decay_freed(a, q);
    else
        decay_count(a);
    if (size >= FASTBIN_CONSOLIDATION_THRESHOLD) {
        if (have_fastchunks(a))
            malloc_consolidate(a);
        if (decay_delay(a) == 0 && top_trimmable(a))
            sys_trim(a, mp.top_pad, true);
    }
}

/* Moves every fastbin chunk to the unsorted bin, merged with its free
 * neighbours (or into the top); they count as free since `since`. */
void consolidate_since(arena_t *a, uint64_t since)
{
    if (unlikely(trace_on))
        trace_consolidate_slow(a);
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
            merge_chunk(a, p, size, next, nextsize, since, "corrupted size vs. prev_size in fastbins", NULL);
            p = nextp;
        }
    }
}

void malloc_consolidate(arena_t *a)
{
    consolidate_since(a, a->clock_ms);
}

/* ---- the generic free ------------------------------------------------------- */

/* free_generic's work on chunk p of mem, Valgrind aside; traced: the
 * trace's hooks on (as int_malloc's two copies, malloc.c). */
static ALWAYS_INLINE void free_chunk(void *mem, bool traced)
{
    chunk_t *p = mem2chunk(mem);
    size_t size = chunksize(p);
    decay_generic_count();

    if (chunk_is_mmapped(p)) {
        /* Freeing a big mapped chunk raises the mmap threshold to its size:
         * blocks like it are evidently not short-lived singletons. */
        if (!mp.no_dyn_threshold && size > mp.mmap_threshold &&
            size <= DEFAULT_MMAP_THRESHOLD_MAX) {
            mp.mmap_threshold = size;
            mp.trim_threshold = 2 * size;
        }
        mmap_chunk_free(p);
        return;
    }
    check_free_pointer(p, size);
    if (size >= TCACHE_MID_MIN && size < TCACHE_MID_END) {
        if (unlikely(tc.state == TC_UNINIT))
            tcache_thread_init();
        if (size < tcm.end && tcache_mid_put_quiet(p, size)) {
            if (traced)
                trace_set_slow(p, size, W_TCACHE);
            return;
        }
    }
    /* The cache: not set up yet, room in it (a caller other than free's
     * fast path), or the key is there (a double free, or user data that
     * looks like one).  The key may lie past a small block's end: it is
     * read last. */
    size_t slot = size >> 4;
    if (slot < TCACHE_SLOTS &&
        (tc.state != TC_ACTIVE || tc.room[slot] > 0 || ((tc_entry_t *)mem)->key == tc.key) &&
        tcache_put_slow(p, size))
        return;
    arena_t *a = arena_for_chunk(p);
    if (a != tc.arena && !__libc_single_threaded) {
        /* Another thread's arena, most likely: into the remote batch. */
        if (unlikely(tc.state == TC_UNINIT))
            tcache_thread_init();
        if (tc.remote_limit) {
            remote_free(a, p, size);
            return;
        }
    }
    if (unlikely(tc.remote != NULL) && __libc_single_threaded)
        remote_flush();                 /* the last batch, once alone */
    lock_acquire(&a->lock);             /* no-op while single-threaded */
    int_free_quiet(a, p, size);
    if (traced && size <= mp.max_fast)
        trace_set_slow(p, size, W_FASTBIN);
    lock_release(&a->lock);
}

/* free's fast path took a place in the cache and could not use it: the
 * place goes back.  Most often the slot was full, and in a single-threaded
 * program that chunk then goes straight to the main arena's fastbin or
 * bins: this path makes no call it must come back from, so it keeps no
 * registers (docs/DESIGN-MAP.md has what it saves).  Anything else - a
 * key that may mean a double free, threads, Valgrind, a chunk of another
 * arena - takes free_generic.  Written once with a `traced` flag, as
 * int_malloc is (malloc.c): the plain copy has no hook. */
static ALWAYS_INLINE void free_refused_steps(void *mem, bool traced)
{
    chunk_t *p = mem2chunk(mem);
    size_t size = chunksize(p);
    tc.room[size >> 4]++;
    arena_t *a = tc.arena;
    /* (the key, which may lie past a small block's end, is read last: not
     * at all under Valgrind) */
    if (likely(__libc_single_threaded && a == &main_arena && chunk_main_arena(p) &&
               tc.state == TC_ACTIVE && !tc.remote && !vg_active &&
               ((tc_entry_t *)mem)->key != tc.key)) {
        check_free_pointer(p, size);
        if (size > mp.max_fast) {
            free_merge(a, p, size);
            return;
        }
        fastbin_push_quiet(a, p, size);
        if (traced)
            trace_set_slow(p, size, W_FASTBIN);
        if (++tc.overflows >= SPILL_AFTER_OVERFLOWS)
            tcache_spill(a, size >> 4);
        return;
    }
    free_generic(mem, NULL);
}

/* While tracing: a call from the program is recorded (trace.c), one from
 * inside a recorded call takes the traced copy. */
static COLD NOINLINE void free_refused_traced(void *mem, void *caller)
{
    if (!tc.in_trace)
        trace_free(mem, OP_FREE, 0, 0, caller);
    else
        free_refused_steps(mem, true);
}

NOINLINE void free_refused(void *mem, void *caller)
{
    if (unlikely(trace_on)) {
        free_refused_traced(mem, caller);
        return;
    }
    free_refused_steps(mem, false);
}

/* Everything free's fast path does not do.  free() keeps errno: the
 * system calls it may make (munmap, sbrk, madvise, futex) preserve it in
 * os.c. */
static COLD NOINLINE void free_watched(void *mem, void *caller)
{
    if (trace_wanted()) {
        trace_free(mem, OP_FREE, 0, 0, caller);
        return;
    }
    if (vg_active) {
        vg_free(mem);
        vg_quiet();
        free_chunk(mem, trace_on);
        vg_loud();
        return;
    }
    free_chunk(mem, true);
}

NOINLINE void free_generic(void *mem, void *caller)
{
    /* Valgrind or the trace watching: the copy that tells them. */
    if (unlikely(vg_active | trace_on)) {
        free_watched(mem, caller);
        return;
    }
    free_chunk(mem, false);
}
