/*
 * Remote frees do not push the allocating thread out of its arena.
 *
 * One producer allocates messages (32..512 bytes) and passes them through
 * a ring to one consumer, which frees them: every free is a visit to the
 * producer's arena (it "visits"), and the consumer often holds its lock.  Only one
 * thread allocates, so nothing contends for the arena as the design means
 * it: the producer must stay in the arena it started in (the main arena,
 * where the main thread allocated before), and no arena may be created.
 * (When a thread moved at every collision, the producer went through
 * several arenas, each left holding some of its memory.)
 * Then two producers share the main arena at first; they may separate, but
 * never by more than one arena each.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include "mech.h"

#define RING   256
#define COUNT  400000
#define SAMPLE 997              /* every so many messages: where is it? */

struct pair {
    _Atomic unsigned long head, tail;
    void *slot[RING];
    long sampled, off_home;     /* producer: samples, samples not at home */
    int home;                   /* arena of the first sample */
    int arenas_seen[64];
};

static int arena_of(void *p)
{
    struct ptalloc_chunk_info ci;
    return ptalloc_locate(p, &ci) ? ci.arena : -2;
}

static void *producer(void *arg)
{
    struct pair *q = arg;
    uint64_t rng = 7;
    q->home = -1;
    for (long i = 0; i < COUNT; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        size_t n = 32 + (rng >> 33) % 481;
        unsigned char *m = malloc(n);
        CHECK(m != NULL);
        m[0] = (unsigned char)i;
        m[n - 1] = (unsigned char)n;
        if (i % SAMPLE == 0) {
            int a = arena_of(m);
            if (q->home < 0)
                q->home = a;
            if (a >= 0 && a < 64)
                q->arenas_seen[a] = 1;
            q->sampled++;
            q->off_home += a != q->home;
        }
        unsigned long h = atomic_load_explicit(&q->head, memory_order_relaxed);
        while (h - atomic_load_explicit(&q->tail, memory_order_acquire) >= RING)
            sched_yield();
        q->slot[h % RING] = m;
        atomic_store_explicit(&q->head, h + 1, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct pair *q = arg;
    for (long i = 0; i < COUNT; i++) {
        unsigned long t = atomic_load_explicit(&q->tail, memory_order_relaxed);
        while (atomic_load_explicit(&q->head, memory_order_acquire) == t)
            sched_yield();
        unsigned char *m = q->slot[t % RING];
        atomic_store_explicit(&q->tail, t + 1, memory_order_release);
        free(m);
    }
    return NULL;
}

static void run(struct pair *q, int npairs)
{
    pthread_t th[4];
    for (int i = 0; i < npairs; i++) {
        CHECK(pthread_create(&th[2 * i], NULL, consumer, &q[i]) == 0);
        CHECK(pthread_create(&th[2 * i + 1], NULL, producer, &q[i]) == 0);
    }
    for (int i = 0; i < 2 * npairs; i++)
        pthread_join(th[i], NULL);
}

static int count_seen(const struct pair *q)
{
    int n = 0;
    for (int a = 0; a < 64; a++)
        n += q->arenas_seen[a];
    return n;
}

int main(void)
{
    free(malloc(64));                   /* the main thread is on the main arena */

    static struct pair one[1];
    run(one, 1);
    CHECKF(one[0].home == 0, "producer started in arena %d, not the main arena", one[0].home);
    CHECKF(one[0].off_home == 0, "%ld of %ld sampled messages came from another arena",
           one[0].off_home, one[0].sampled);
    CHECKF(ptalloc_arena_count() == 1, "%d arenas for one allocating thread", ptalloc_arena_count());

    static struct pair two[2];
    run(two, 2);
    for (int i = 0; i < 2; i++)
        CHECKF(count_seen(&two[i]) <= 2, "producer %d allocated in %d arenas", i, count_seen(&two[i]));
    CHECKF(ptalloc_arena_count() <= 3, "%d arenas for two allocating threads", ptalloc_arena_count());
    CHECK(ptalloc_check(0) == 0);
    return t_done();
}
