/*
 * Shared by malloc_info.c and malloc_stats.c: worker threads that make the
 * allocator use more than one arena, then hold a block each while the
 * main thread takes a report.
 */
#ifndef ARENA_WORKERS_H
#define ARENA_WORKERS_H

#include <pthread.h>
#include <stdint.h>
#include <unistd.h>
#include "t.h"

/* ---- more arenas ---------------------------------------------------------
 * glibc gives each new thread an arena of its own (up to arena_test);
 * ptalloc's design creates one when threads contend for an arena.  So W
 * threads churn malloc/free together until a second arena exists (on
 * ptalloc, asked through ptalloc_arena_count; elsewhere it is enough that
 * each thread allocated once), then each holds a 50000-byte block while the
 * main thread takes the report. */
enum { W = 4, HOLD = 50000 };
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int started, holding, churn_done, release_all;

static int arena_count(void)      /* -1 when the allocator does not say */
{
    int (*f)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "ptalloc_arena_count");
    return f ? f() : -1;
}

static void *worker(void *arg)
{
    unsigned long long s = (unsigned long long)(uintptr_t)arg * 7919 + 1;
    void *keep[8] = { 0 };
    free(malloc(100));
    pthread_mutex_lock(&mu);
    started++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    while (!__atomic_load_n(&churn_done, __ATOMIC_ACQUIRE)) {
        for (int i = 0; i < 1000; i++) {
            int k = (int)(t_rand(&s) % 8);
            free(keep[k]);
            keep[k] = malloc(16 + t_rand(&s) % 2000);
        }
    }
    for (int k = 0; k < 8; k++) free(keep[k]);
    void *h = malloc(HOLD);
    if (h) memset(h, 1, HOLD);
    pthread_mutex_lock(&mu);
    holding++;
    pthread_cond_broadcast(&cv);
    while (!release_all) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    free(h);
    return NULL;
}

/* Starts the workers; returns when they all hold their block.  *expected
 * is the number of arenas (-1: not known, but at least 2 on glibc). */
static void workers_start(pthread_t *t, int *expected)
{
    for (int i = 0; i < W; i++)
        CHECK(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1)) == 0);
    pthread_mutex_lock(&mu);
    while (started < W) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    if (t_on_ptalloc())
        for (int ms = 0; ms < 3000 && arena_count() < 2; ms++)
            usleep(1000);
    __atomic_store_n(&churn_done, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&mu);
    while (holding < W) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    *expected = arena_count();
}

static void workers_stop(pthread_t *t)
{
    pthread_mutex_lock(&mu);
    release_all = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < W; i++)
        pthread_join(t[i], NULL);
}

#endif
