/*
 * Remote frees: a thread that frees another arena's chunks, past its
 * caches, gathers them in its remote batch instead of taking the arena's
 * lock for each.  In a producer/consumer pair the producer allocates under
 * that lock all the time, and a consumer freeing one chunk per lock
 * acquisition makes both wait on each other.
 *
 *   remote_free     a chunk into the thread's batch (all of one arena)
 *   remote_flush    the full batch onto the arena's remote list, a lock-free
 *                   stack, with one compare-and-swap (remote_push)
 *   remote_collect  the arena's next lock holder takes the list whole and
 *                   puts the chunks away: into its own caches as far as
 *                   they have room, as if it had freed them, else the bins
 *
 * A batch waits in its thread until it is full, the thread frees a chunk
 * of another arena, exits, or calls malloc_trim or an introspection call.
 * Once more than REMOTE_WAITING_MAX bytes wait on an arena whose
 * allocating thread does not come back, the thread handing over puts them
 * away itself.
 */
#include "internal.h"
#include "tcache.h"

/* Pushes the chain first..last onto a's remote list. */
static NOINLINE void remote_push(arena_t *a, tc_entry_t *first, tc_entry_t *last, size_t bytes)
{
    /* Counted before the push, so the thread that takes the chunks off
     * counts them off after. */
    size_t waiting = __atomic_add_fetch(&a->remote_bytes, bytes, __ATOMIC_RELAXED);
    tc_entry_t *old = __atomic_load_n(&a->remote, __ATOMIC_RELAXED);
    do
        last->next = protect_ptr(&last->next, old);
    while (!__atomic_compare_exchange_n(&a->remote, &old, first, 1, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED));
    if (waiting > REMOTE_WAITING_MAX) {
        lock_acquire(&a->lock);
        remote_collect(a, false);
        lock_release(&a->lock);
    }
}

/* Hands the thread's batch over to its arena. */
NOINLINE void remote_flush(void)
{
    tc_entry_t *first = tc.remote;
    if (!first)
        return;
    size_t bytes = tc.remote_bytes;
    tc.remote = NULL;
    tc.remote_count = tc.remote_bytes = 0;
    remote_push(tc.remote_arena, first, tc.remote_last, bytes);
}

/* Lock held.  Only the lock holder takes the list, whole; others only
 * push onto it, so the entries taken cannot change under us.  With cache
 * (a thread allocating in its own arena), the thread's caches take what
 * they have room for; the rest goes to the bins. */
NOINLINE void remote_collect(arena_t *a, bool cache)
{
    tc_entry_t *e = __atomic_exchange_n(&a->remote, NULL, __ATOMIC_ACQUIRE);
    cache = cache && tc.state == TC_ACTIVE;
    if (cache)
        trace_whole_cache();
    size_t bytes = 0;
    while (e) {
        if (unlikely(!aligned_ok((uintptr_t)e)))
            malloc_error("free(): unaligned chunk detected in a remote batch");
        tc_entry_t *next = reveal_ptr(&e->next);
        chunk_t *p = mem2chunk(e);
        size_t size = chunksize(p), slot = size >> 4;
        bytes += size;
        if (cache && slot < TCACHE_SLOTS && tc.room[slot] > 0) {
            tcache_push(p, slot);
        } else if (cache && size >= TCACHE_MID_MIN && size < tcm.end && tcache_mid_put(p, size)) {
            /* in the mid-size cache */
        } else {
            e->key = 0;
            int_free(a, p, size);
        }
        e = next;
    }
    __atomic_sub_fetch(&a->remote_bytes, bytes, __ATOMIC_RELAXED);
}

/* Is e in the list from t?  Only asked when e carries the key. */
static int list_holds(tc_entry_t *t, tc_entry_t *e)
{
    for (; t && aligned_ok((uintptr_t)t); t = reveal_ptr(&t->next))
        if (t == e)
            return 1;
    return 0;
}

/* Is e waiting in the thread's batch, or on a's remote list? */
static int remote_holds(arena_t *a, tc_entry_t *e)
{
    if (list_holds(tc.remote, e))
        return 1;
    lock_acquire(&a->lock);
    int found = list_holds(__atomic_load_n(&a->remote, __ATOMIC_ACQUIRE), e);
    lock_release(&a->lock);
    return found;
}

/* A free of chunk p of arena a, which is not the thread's: into the
 * thread's batch.  The next chunk gets the checks a free into the bins
 * makes of it, bar the ones that read the arena's top, which its owner
 * keeps writing (the chunks bound for the bins meet them when they are
 * put away). */
NOINLINE void remote_free(arena_t *a, chunk_t *p, size_t size)
{
    tc_entry_t *e = (tc_entry_t *)chunk2mem(p);
    if (unlikely(e->key == tc.key) && remote_holds(a, e))
        malloc_error("free(): double free detected in tcache 2");
    check_next_header(a, chunk_at(p, size), size <= mp.max_fast);
    tcache_t *t = &tc;
    if (t->remote && t->remote_arena != a)
        remote_flush();
    if (!t->remote) {
        t->remote_last = e;
        t->remote_arena = a;
    }
    e->key = t->key;
    e->next = protect_ptr(&e->next, t->remote);
    t->remote = e;
    trace_set(p, size, W_REMOTE);
    size_t bytes = t->remote_bytes += size;
    if (++t->remote_count >= t->remote_limit || bytes >= REMOTE_BATCH_BYTES)
        remote_flush();
}
