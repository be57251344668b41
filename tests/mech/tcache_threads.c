/*
 * The consistency check covers every live thread's tcache: four threads
 * fill their caches and park on a barrier; the main thread checks them all
 * (PTALLOC_CHECK_ALL_THREADS), sees them listed, and sees a planted fault
 * in one of them (a cached chunk's key overwritten, then put back).
 */
#include <pthread.h>
#include <stdint.h>
#include "t.h"
#include "ptalloc.h"

#define THREADS 4
static pthread_barrier_t parked, release_;
static void *cached[THREADS];

static void *worker(void *arg)
{
    long id = (long)arg;
    void *p[5];
    for (int i = 0; i < 5; i++)
        p[i] = malloc(100 + 16 * id);
    for (int i = 0; i < 5; i++)
        free(p[i]);                    /* into this thread's tcache */
    cached[id] = p[4];                 /* the bin's head */
    pthread_barrier_wait(&parked);
    pthread_barrier_wait(&release_);
    return NULL;
}

int main(void)
{
    pthread_t th[THREADS];
    pthread_barrier_init(&parked, NULL, THREADS + 1);
    pthread_barrier_init(&release_, NULL, THREADS + 1);
    for (long i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, worker, (void *)i);
    pthread_barrier_wait(&parked);

    CHECK(ptalloc_check(PTALLOC_CHECK_VERBOSE | PTALLOC_CHECK_ALL_THREADS) == 0);

    /* A fault in thread 2's cache: invisible to a check of the caller's
     * cache only, found by the all-threads check. */
    uintptr_t *key = (uintptr_t *)cached[2] + 1;
    uintptr_t saved = *key;
    *key = saved ^ 0x5a5a;
    CHECK(ptalloc_check(0) == 0);
    CHECK(ptalloc_check(PTALLOC_CHECK_ALL_THREADS) >= 1);
    *key = saved;
    CHECK(ptalloc_check(PTALLOC_CHECK_ALL_THREADS) == 0);

    pthread_barrier_wait(&release_);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    /* The exited threads flushed their caches and left the list. */
    CHECK(ptalloc_check(PTALLOC_CHECK_VERBOSE | PTALLOC_CHECK_ALL_THREADS) == 0);
    return t_done();
}
