/*
 * A deterministic single-threaded program for tests/cmd/replay.sh: every
 * allocation function, sizes from 1 byte to mapped chunks, frees in
 * varied orders, realloc grown and shrunk (in place, moved, mremap),
 * malloc_trim.  Its pseudo-random numbers come from a fixed seed, so two
 * runs make the same calls; the test records one and replays it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* C23's sized frees: ptalloc has them, glibc 2.36 does not, so they are
 * looked up in the preloaded library (plain free without it). */
static void (*free_sized)(void *, size_t);
static void (*free_aligned_sized)(void *, size_t, size_t);
static void free_sized_fallback(void *p, size_t n) { (void)n; free(p); }
static void free_aligned_fallback(void *p, size_t a, size_t n) { (void)a; (void)n; free(p); }

static uint64_t seed = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(seed >> 33);
}

/* Sizes by class: mostly small, some mid-size, some large, a few mapped. */
static size_t some_size(void)
{
    uint32_t r = rnd() % 100;
    if (r < 60) return 1 + rnd() % 256;
    if (r < 85) return 257 + rnd() % 4000;
    if (r < 97) return 4096 + rnd() % 60000;
    return 140000 + rnd() % 400000;
}

/* Writes a byte in every page of the block, and its last, as `ptalloc
 * replay` does by default: which pages are resident is something the
 * allocator looks at (a trim that gave back resident pages raises the trim
 * threshold), so a record replays to the same decisions only when the
 * replay uses its blocks as the program did. */
static void *use(void *p, size_t n)
{
    char *c = p;
    if (p && n) {
        for (size_t i = 0; i < n; i += 4096)
            c[i] = 1;
        c[n - 1] = 1;
    }
    return p;
}

#define N 512
static void *blk[N];
static size_t len[N];

int main(void)
{
    free_sized = (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "free_sized");
    free_aligned_sized = (void (*)(void *, size_t, size_t))dlsym(RTLD_DEFAULT, "free_aligned_sized");
    if (!free_sized)
        free_sized = free_sized_fallback;
    if (!free_aligned_sized)
        free_aligned_sized = free_aligned_fallback;
    /* Phase 1: fill, then free in three orders (forward, backward, random). */
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < N; i++) {
            len[i] = some_size();
            blk[i] = use((i % 7 == 3) ? calloc(1, len[i]) : malloc(len[i]), len[i]);
            memset(blk[i], i, len[i] < 64 ? len[i] : 64);
        }
        for (int i = 0; i < N; i++) {
            int j = round % 3 == 0 ? i : round % 3 == 1 ? N - 1 - i : (int)((i * 197u + round) % N);
            free(blk[j]);
            blk[j] = NULL;
        }
    }
    /* Phase 2: churn with realloc growing and shrinking, sized frees. */
    for (int step = 0; step < 20000; step++) {
        int i = (int)(rnd() % N);
        uint32_t what = rnd() % 10;
        if (!blk[i]) {
            len[i] = some_size();
            blk[i] = what < 2 ? calloc(len[i] / 8 + 1, 8) : malloc(len[i]);
            if (blk[i] && what < 2)
                len[i] = (len[i] / 8 + 1) * 8;
            use(blk[i], len[i]);
        } else if (what < 4) {
            /* grow (may move, may mremap a mapped chunk) or shrink in place */
            size_t n = what < 2 ? len[i] * 2 + 16 : len[i] / 3 + 1;
            void *p = what == 3 ? reallocarray(blk[i], n, 1) : realloc(blk[i], n);
            if (p) {
                blk[i] = use(p, n);
                len[i] = n;
            }
        } else if (what < 6) {
            free_sized(blk[i], len[i]);
            blk[i] = NULL;
        } else {
            free(blk[i]);
            blk[i] = NULL;
        }
    }
    for (int i = 0; i < N; i++) {
        free(blk[i]);
        blk[i] = NULL;
    }
    /* Phase 3: the aligned allocators, realloc to 0 and of NULL,
     * free(NULL).  Alignments up to a page only: the heap starts at a
     * page boundary that moves from run to run, so where a larger
     * alignment falls in it - and the free piece cut off before the
     * aligned chunk - differs between the record and the replay. */
    void *a[64];
    for (int i = 0; i < 64; i++) {
        size_t al = (size_t)16 << (i % 9), n = 24 + (size_t)i * 40;
        switch (i % 6) {
        case 0: a[i] = memalign(al, n); break;
        case 1: a[i] = aligned_alloc(al, n); break;
        case 2: if (posix_memalign(&a[i], al, n)) a[i] = NULL; break;
        case 3: a[i] = valloc(n); break;
        case 4: a[i] = pvalloc(n); break;
        case 5: a[i] = realloc(NULL, n); break;
        }
        use(a[i], n);
    }
    for (int i = 63; i >= 0; i--) {
        if (i % 6 == 1)
            free_aligned_sized(a[i], (size_t)16 << (i % 9), 24 + (size_t)i * 40);
        else if (i % 5 == 0)
            a[i] = realloc(a[i], 0);
        else
            free(a[i]);
    }
    free(NULL);
    /* Phase 4: a big block freed at the top, then a trim. */
    void *big[8];
    for (int i = 0; i < 8; i++)
        big[i] = use(malloc(60000 + (size_t)i * 1000), 60000 + (size_t)i * 1000);
    for (int i = 0; i < 8; i++)
        free(big[i]);
    malloc_trim(0);
    printf("replay_prog done\n");
    return 0;
}
