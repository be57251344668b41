/* prodcons: producer/consumer across threads with remote frees.
 * Two producer->consumer pairs, each with its own lock-free single-producer
 * single-consumer ring: the producer mallocs a message (24..512 B, filled
 * header), the consumer reads it and frees it, so every free is a free of
 * a block that another thread allocated.
 *
 * Built with -DPINNED (prodcons_pinned): one pair, the producer on CPU 0
 * and the consumer on CPU 1, so the two always run at once, as in a
 * pipeline with a core per stage.  Unpinned, four threads on two cores
 * take turns, and a run lands in one of two modes depending on where the
 * scheduler puts them. */
#include "common.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define RING 1024      /* power of two */
#ifdef PINNED
#define PAIRS 1
#else
#define PAIRS 2
#endif

/* Runs the calling thread on CPU cpu, if the machine has two. */
static void pin(int cpu)
{
#ifdef PINNED
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
#else
    (void)cpu;
#endif
}

struct ring {
    _Alignas(64) _Atomic unsigned long head;   /* written by the producer */
    _Alignas(64) _Atomic unsigned long tail;   /* written by the consumer */
    _Alignas(64) void *slot[RING];
    long count;
    uint64_t seed;
    uint64_t sum;
};

static void backoff(unsigned *spins)
{
    if (++*spins < 64)
        __builtin_ia32_pause();
    else {
        sched_yield();
        *spins = 0;
    }
}

static void *producer(void *arg)
{
    struct ring *r = arg;
    uint64_t rng = r->seed;
    pin(0);
    for (long i = 0; i < r->count; i++) {
        size_t n = rng_range(&rng, 24, 512);
        uint64_t *m = xmalloc(n);
        m[0] = (uint64_t)i;
        m[1] = n;
        ((unsigned char *)m)[n - 1] = (unsigned char)i;
        unsigned long h = atomic_load_explicit(&r->head, memory_order_relaxed);
        unsigned spins = 0;
        while (h - atomic_load_explicit(&r->tail, memory_order_acquire) >= RING)
            backoff(&spins);
        r->slot[h & (RING - 1)] = m;
        atomic_store_explicit(&r->head, h + 1, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct ring *r = arg;
    uint64_t sum = 0;
    pin(1);
    for (long i = 0; i < r->count; i++) {
        unsigned long t = atomic_load_explicit(&r->tail, memory_order_relaxed);
        unsigned spins = 0;
        while (atomic_load_explicit(&r->head, memory_order_acquire) == t)
            backoff(&spins);
        uint64_t *m = r->slot[t & (RING - 1)];
        atomic_store_explicit(&r->tail, t + 1, memory_order_release);
        sum += m[0] * 3 + m[1] + ((unsigned char *)m)[m[1] - 1];
        free(m);
    }
    r->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    static struct ring rings[PAIRS];
    pthread_t th[2 * PAIRS];
    uint64_t sum = 0;

    for (int i = 0; i < PAIRS; i++) {
        rings[i].count = scaled(4000000, scale);
        rings[i].seed = 1000 + (uint64_t)i;
        pthread_create(&th[2 * i], NULL, consumer, &rings[i]);
        pthread_create(&th[2 * i + 1], NULL, producer, &rings[i]);
    }
    for (int i = 0; i < 2 * PAIRS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < PAIRS; i++)
        sum = sum * 31 + rings[i].sum;
    report_checksum(sum);
    return 0;
}
