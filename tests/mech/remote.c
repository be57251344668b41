/*
 * Remote frees: a thread freeing another arena's blocks past its caches
 * gathers them in a batch, hands the batch to the arena, and the arena's
 * next lock holder puts them away.
 *
 * The workers here allocate nothing, so every block they free belongs to
 * an arena that is not theirs.  5000-byte blocks go past the tcache and
 * the mid-size cache.
 *
 * 1. Two blocks freed by a worker wait in its batch:
 *    - to the main thread they are still in use;
 *    - the all-threads check accepts the batch, and finds a planted
 *      fault in it;
 *    - the worker's own locate hands the batch over, and then the
 *      blocks are free in the main arena.
 * 2. 100 blocks (half a MiB, past the bound on what may wait handed
 *    over) freed by a worker that then exits: the heap checks clean, and
 *    the main thread gets the memory back without the arena growing.
 * 3. A producer/consumer round trip, tcache sizes included: whatever the
 *    consumer frees comes back to the producer.
 * 4. remote_batch 0: a remote free goes straight to the bins.
 */
#include <pthread.h>
#include "mech.h"

#define BLK 5000
#define MANY 100

static pthread_barrier_t parked, release_;
static void *blk[MANY + 1];

static int where(void *p)
{
    struct ptalloc_chunk_info ci;
    if (ptalloc_locate(p, &ci) != 1)
        return -1;
    return ci.where;
}

static int is_free(int w)
{
    return w == PTALLOC_UNSORTED || w == PTALLOC_SMALLBIN || w == PTALLOC_LARGEBIN ||
           w == PTALLOC_TOP;
}

static size_t main_system(void)
{
    struct ptalloc_arena_info ai;
    CHECK(ptalloc_arena_info(0, &ai) == 1);
    return ai.system_bytes;
}

/* ---- 1 ------------------------------------------------------------------ */
static void *free_two_and_park(void *arg)
{
    free(blk[0]);
    free(blk[1]);
    pthread_barrier_wait(&parked);
    pthread_barrier_wait(&release_);
    int w = where(blk[0]);
    CHECKF(is_free(w), "after the worker's own locate, its freed block is %d", w);
    return NULL;
}

static void batch_waits(void)
{
    for (int i = 0; i < 3; i++)
        blk[i] = malloc(BLK);          /* blk[2] keeps them off the top */
    pthread_t t;
    pthread_barrier_init(&parked, NULL, 2);
    pthread_barrier_init(&release_, NULL, 2);
    pthread_create(&t, NULL, free_two_and_park, NULL);
    pthread_barrier_wait(&parked);

    CHECKF(where(blk[0]) == PTALLOC_INUSE, "a block in another thread's batch is %d",
           where(blk[0]));
    CHECK(ptalloc_check(PTALLOC_CHECK_VERBOSE | PTALLOC_CHECK_ALL_THREADS) == 0);
    /* The batch's entries carry the tcache key, like a tcache's. */
    uintptr_t *key = (uintptr_t *)blk[1] + 1;
    uintptr_t saved = *key;
    *key = saved ^ 0x5a5a;
    CHECK(ptalloc_check(PTALLOC_CHECK_ALL_THREADS) >= 1);
    *key = saved;
    CHECK(ptalloc_check(PTALLOC_CHECK_ALL_THREADS) == 0);

    pthread_barrier_wait(&release_);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&parked);
    pthread_barrier_destroy(&release_);
    free(blk[2]);
}

/* ---- 2 ------------------------------------------------------------------ */
static void *free_all(void *arg)
{
    for (int i = 0; blk[i]; i++)
        free(blk[i]);
    return NULL;
}

static void many_come_back(void)
{
    for (int i = 0; i < MANY; i++)
        blk[i] = malloc(BLK);
    blk[MANY] = NULL;
    void *guard = malloc(BLK);
    size_t before = main_system();
    pthread_t t;
    pthread_create(&t, NULL, free_all, NULL);
    pthread_join(t, NULL);
    CHECK(ptalloc_check(PTALLOC_CHECK_VERBOSE | PTALLOC_CHECK_ALL_THREADS) == 0);
    for (int i = 0; i < MANY; i++) {
        blk[i] = malloc(BLK);
        memset(blk[i], i, BLK);
    }
    CHECKF(main_system() <= before, "the arena grew from %zu to %zu bytes to serve "
           "blocks another thread had freed", before, main_system());
    for (int i = 0; i < MANY; i++)
        free(blk[i]);
    free(guard);
    CHECK(ptalloc_check(PTALLOC_CHECK_VERBOSE) == 0);
}

/* ---- 3 ------------------------------------------------------------------ */
#define RING 256
#define ROUNDS 200
static void *ring[RING];
static pthread_barrier_t turn;

static void *consumer(void *arg)
{
    for (int r = 0; r < ROUNDS; r++) {
        pthread_barrier_wait(&turn);   /* the producer filled the ring */
        for (int i = 0; i < RING; i++)
            free(ring[i]);
        pthread_barrier_wait(&turn);
    }
    return NULL;
}

static void round_trip(void)
{
    pthread_t t;
    pthread_barrier_init(&turn, NULL, 2);
    pthread_create(&t, NULL, consumer, NULL);
    size_t first = 0, second = 0;      /* largest arena in each half */
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < RING; i++) {
            size_t n = 16 + (size_t)((i * 37 + r * 11) % 6000);
            ring[i] = malloc(n);
            memset(ring[i], r, n);
        }
        pthread_barrier_wait(&turn);
        pthread_barrier_wait(&turn);
        size_t s = main_system(), *half = r < ROUNDS / 2 ? &first : &second;
        if (s > *half)
            *half = s;
    }
    /* Each round allocates ~770 KB: without the blocks coming back, the
     * arena would grow by that much every round. */
    CHECKF(second <= first + first / 2, "the arena grew from %zu bytes (first %d rounds) "
           "to %zu: freed blocks do not come back", first, ROUNDS / 2, second);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&turn);
    CHECK(ptalloc_check(PTALLOC_CHECK_VERBOSE) == 0);
}

/* ---- 4 ------------------------------------------------------------------ */
static void *free_one_and_park(void *arg)
{
    free(blk[0]);
    pthread_barrier_wait(&parked);
    pthread_barrier_wait(&release_);
    return NULL;
}

static void batching_off(void)
{
    CHECK(m_set("remote_batch", 0));
    blk[0] = malloc(BLK);
    blk[1] = malloc(BLK);
    pthread_t t;
    pthread_barrier_init(&parked, NULL, 2);
    pthread_barrier_init(&release_, NULL, 2);
    pthread_create(&t, NULL, free_one_and_park, NULL);
    pthread_barrier_wait(&parked);
    int w = where(blk[0]);
    CHECKF(is_free(w), "with remote_batch 0, a block another thread freed is %d", w);
    pthread_barrier_wait(&release_);
    pthread_join(t, NULL);
    free(blk[1]);
    CHECK(m_set("remote_batch", 32));
}

int main(void)
{
    CHECK(m_get("remote_batch") == 32);
    batch_waits();
    many_come_back();
    round_trip();
    batching_off();
    return t_done();
}
