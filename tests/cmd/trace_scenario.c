/*
 * A traced run whose heap the log must rebuild exactly (tests/cmd/trace.sh).
 * Each phase moves chunks through another part of the design - caches,
 * fastbins, sorting into small and large bins, consolidation, mapped
 * chunks and mremap, realloc and the memalign family, trimming, threads
 * freeing each other's blocks - and ends with ptalloc_walk, a checkpoint
 * in the log.  What each walk reports goes to the file named by argv[1],
 * one chunk a line as `ptalloc show --walk K` prints it, after a line
 * "walk K".
 *
 * Run with libptalloc.so preloaded; the ptalloc_* calls are found at run
 * time, so the program builds without the library.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ptalloc.h"
#include "walk_lines.h"

static int (*walk_fn)(ptalloc_walk_fn, void *);
static FILE *out;
static int walks;

static void checkpoint(void)
{
    walk_write(walk_fn, out, walks++);
}

static void *keep[4096];
static int nkeep;

static void *hold(void *p)
{
    if (nkeep < 4096)
        keep[nkeep++] = p;
    return p;
}

static void release_all(void)
{
    while (nkeep)
        free(keep[--nkeep]);
}

/* ---- threads freeing each other's blocks ---------------------------------- */

#define PER_THREAD 600
static void *handed[4][PER_THREAD];

static void *worker(void *arg)
{
    long id = (long)arg;
    void *own[PER_THREAD];
    for (int i = 0; i < PER_THREAD; i++) {
        size_t n = 16 + (size_t)((i * 37 + id * 101) % 3000);
        own[i] = malloc(n);
        memset(own[i], (int)id, n);
        handed[id][i] = malloc(n / 2 + 8);
    }
    for (int i = 0; i < PER_THREAD; i += 2)
        free(own[i]);
    for (int i = 1; i < PER_THREAD; i += 2)
        free(own[i]);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: trace_scenario OUT\n");
        return 2;
    }
    walk_fn = (int (*)(ptalloc_walk_fn, void *))dlsym(RTLD_DEFAULT, "ptalloc_walk");
    void (*mark)(const char *) = (void (*)(const char *))dlsym(RTLD_DEFAULT, "ptalloc_trace_mark");
    if (!walk_fn || !mark) {
        fprintf(stderr, "trace_scenario: not running on ptalloc\n");
        return 2;
    }
    out = fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        return 2;
    }
    checkpoint();

    /* 1. A cache slot fills, the fastbin takes the rest. */
    mark("caches and fastbins");
    void *p[20];
    for (int i = 0; i < 20; i++)
        p[i] = malloc(40);
    for (int i = 0; i < 20; i++)
        free(p[i]);
    checkpoint();

    /* 2. Small chunks past a full cache slot: unsorted, then sorted into
     * their small bins by a request none of them fits. */
    mark("small bins");
    for (int size = 200; size <= 900; size += 100) {
        void *q[8];
        for (int i = 0; i < 8; i++) {
            q[i] = malloc((size_t)size);
            hold(malloc(24));               /* keeps them apart */
        }
        for (int i = 0; i < 8; i++)
            free(q[i]);
    }
    checkpoint();
    hold(malloc(2000));
    checkpoint();

    /* 3. Large chunks: the unsorted bin, then large bins; a best fit and a
     * binmap split. */
    mark("large bins");
    static const size_t large[] = { 5000, 7000, 9000, 20000, 40000, 5100 };
    void *l[6];
    for (int i = 0; i < 6; i++) {
        l[i] = malloc(large[i]);
        hold(malloc(32));
    }
    for (int i = 0; i < 6; i++)
        free(l[i]);
    hold(malloc(4500));
    checkpoint();
    hold(malloc(6000));
    hold(malloc(15000));
    checkpoint();

    /* 4. Fastbin chunks next to each other, consolidated by a large
     * request. */
    mark("consolidation");
    void *f[30];
    for (int i = 0; i < 30; i++)
        f[i] = malloc(56);
    for (int i = 0; i < 30; i++)
        free(f[i]);
    hold(malloc(70000));
    checkpoint();

    /* 5. A mapped chunk, grown by mremap, then unmapped. */
    mark("mapped");
    char *m = malloc(300000);
    memset(m, 1, 300000);
    checkpoint();
    m = realloc(m, 900000);
    checkpoint();
    free(m);
    checkpoint();

    /* 6. realloc in place and moved, the memalign family, calloc. */
    mark("realloc and alignment");
    char *r = malloc(100);
    r = realloc(r, 60);
    r = realloc(r, 3000);
    r = realloc(r, 200);
    hold(r);
    hold(memalign(256, 1000));
    hold(aligned_alloc(4096, 8192));
    void *pm;
    if (posix_memalign(&pm, 64, 333) == 0)
        hold(pm);
    hold(calloc(100, 10));
    hold(valloc(100));
    hold(reallocarray(NULL, 10, 30));
    checkpoint();

    /* 7. Everything back, then trimmed. */
    mark("trim");
    release_all();
    checkpoint();
    malloc_trim(0);
    checkpoint();

    /* 8. Threads in arenas of their own; the blocks they hand over are
     * freed here, by another arena's thread. */
    mark("threads");
    pthread_t th[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, worker, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    checkpoint();
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < PER_THREAD; i++)
            free(handed[t][i]);
    checkpoint();
    void (*flush)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "ptalloc_thread_flush");
    if (flush)
        flush();
    checkpoint();
    fclose(out);
    return 0;
}
