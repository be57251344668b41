/*
 * Four threads for tests/cmd/replay.sh: each allocates and frees in its
 * own arena, then frees blocks another thread allocated (remote frees),
 * and ends (its cache goes back to the arenas); the main thread allocates
 * before, between and after.  Not deterministic across runs (the threads
 * interleave as they please): the test replays one record of it.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T 4
#define N 1000
static void *handed[T][N];
static pthread_barrier_t barrier;

static void *work(void *arg)
{
    int me = (int)(intptr_t)arg;
    uint32_t s = 12345u + (uint32_t)me;
    void *mine[64] = { 0 };
    for (int step = 0; step < 6000; step++) {
        s = s * 1103515245u + 12345u;
        int i = (int)((s >> 8) % 64);
        if (mine[i]) {
            free(mine[i]);
            mine[i] = NULL;
        } else {
            size_t n = 16 + (s >> 16) % (step % 97 == 0 ? 200000 : 2000);
            mine[i] = malloc(n);
            memset(mine[i], me, 16);
        }
    }
    for (int i = 0; i < 64; i++)
        free(mine[i]);
    for (int i = 0; i < N; i++)
        handed[me][i] = malloc(24 + (size_t)(i % 300));
    pthread_barrier_wait(&barrier);
    /* The next thread's blocks, freed here: not this thread's arena. */
    for (int i = 0; i < N; i++)
        free(handed[(me + 1) % T][i]);
    return NULL;
}

int main(void)
{
    void *keep = malloc(1000);
    pthread_t th[T];
    pthread_barrier_init(&barrier, NULL, T);
    for (int t = 0; t < T; t++)
        pthread_create(&th[t], NULL, work, (void *)(intptr_t)t);
    void *mid = malloc(5000);
    for (int t = 0; t < T; t++)
        pthread_join(th[t], NULL);
    free(mid);
    free(keep);
    void *after[100];
    for (int i = 0; i < 100; i++)
        after[i] = malloc((size_t)i * 10 + 1);
    for (int i = 0; i < 100; i++)
        free(after[i]);
    printf("replay_threads done\n");
    return 0;
}
