/*
 * realloc keeps the contents when a block grows or shrinks within and
 * across every size class: tcache (requests <= 1032), fastbin (chunks <=
 * 128), small bin (chunks < 1024), large bin, mmapped (>= the 128 KiB
 * threshold), with the next chunk in use, free, or the top chunk.
 *
 * Pass 1 runs with the default (dynamic) mmap threshold, pass 2 with the
 * threshold pinned at 128 KiB (M_MMAP_THRESHOLD) so that every size above it
 * really is mmapped on both sides of each realloc.
 */
#include "t.h"
#include <malloc.h>
#include <stdint.h>

static void *(*volatile vrealloc)(void *, size_t) = realloc;

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed * 131u + i * 7u + (i >> 8));
}

static long bad(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed * 131u + i * 7u + (i >> 8)))
            return (long)i;
    return -1;
}

static const size_t sizes[] = {
    0, 1, 8, 24, 25, 40, 56, 72, 100, 120, 128, 136, 152, 160,     /* tcache + fast */
    200, 500, 1000, 1008, 1016, 1024, 1032,                        /* tcache + small */
    1040, 2000, 4088, 4096, 10000, 65536, 100000,                  /* large */
    131064, 131072, 131073, 140000, 262144, 500000, 1u << 20, 2u << 20, /* mmap range */
};
#define NS (sizeof sizes / sizeof sizes[0])

/* mode 0: block alone; 1: a live neighbour allocated right after it;
 * 2: a neighbour allocated after it and freed (room to grow in place). */
static void one(size_t a, size_t b, int mode, unsigned seed)
{
    unsigned char *p = malloc(a);
    CHECKF(p != NULL, "malloc(%zu) failed", a);
    if (!p) return;
    unsigned char *g = NULL;
    if (mode) {
        g = malloc(mode == 2 ? b : 48);
        CHECK(g != NULL);
        if (g) fill(g, mode == 2 ? b : 48, seed + 1);
        if (mode == 2) { free(g); g = NULL; }
    }
    fill(p, a, seed);
    unsigned char *q = vrealloc(p, b);
    if (b == 0) {           /* realloc(p, 0) frees */
        CHECKF(q == NULL, "realloc(p, 0) returned %p", (void *)q);
        free(g);
        return;
    }
    CHECKF(q != NULL, "realloc(%zu -> %zu) failed", a, b);
    if (!q) { free(p); free(g); return; }
    CHECKF(((uintptr_t)q & 15) == 0, "realloc(%zu -> %zu) = %p not 16-aligned", a, b, (void *)q);
    CHECKF(malloc_usable_size(q) >= b, "realloc(%zu -> %zu): usable %zu", a, b, malloc_usable_size(q));
    size_t keep = a < b ? a : b;
    long at = bad(q, keep, seed);
    CHECKF(at < 0, "realloc(%zu -> %zu, mode %d) lost contents at byte %ld", a, b, mode, at);
    fill(q, b, seed + 2);          /* whole new size is writable ... */
    if (g) {                       /* ... and does not reach the neighbour */
        at = bad(g, 48, seed + 1);
        CHECKF(at < 0, "realloc(%zu -> %zu) overwrote the next block at byte %ld", a, b, at);
    }
    free(q);
    free(g);
}

static void pairs(const char *pass)
{
    unsigned seed = 1;
    for (unsigned i = 0; i < NS; i++)
        for (unsigned j = 0; j < NS; j++)
            for (int mode = 0; mode < 3; mode++)
                one(sizes[i], sizes[j], mode, seed += 3);
    t_heap_check(pass);
}

/* One block walks up through every size and back down, with other
 * allocations made and released around it at each step. */
static void chain(const char *pass)
{
    unsigned char *p = NULL;
    size_t cur = 0;
    unsigned seed = 1000;
    void *junk[8] = { 0 };
    for (int dir = 0; dir < 2; dir++) {
        for (unsigned k = 0; k < NS; k++) {
            size_t n = sizes[dir == 0 ? k : NS - 1 - k];
            if (n == 0) n = 1;
            unsigned char *q = vrealloc(p, n);
            CHECKF(q != NULL, "chain realloc(%zu -> %zu) failed", cur, n);
            if (!q) break;
            size_t keep = cur < n ? cur : n;
            long at = bad(q, keep, seed);
            CHECKF(at < 0, "chain realloc(%zu -> %zu) lost contents at byte %ld", cur, n, at);
            p = q;
            cur = n;
            fill(p, cur, ++seed);
            free(junk[k % 8]);
            junk[k % 8] = malloc((k * 37) % 3000);
        }
    }
    CHECK(bad(p, cur, seed) < 0);
    free(p);
    for (int i = 0; i < 8; i++)
        free(junk[i]);
    t_heap_check(pass);
}

/* Grow many small blocks a few bytes at a time (the typical string-building
 * pattern), interleaved so that neighbours keep changing. */
static void creep(void)
{
    enum { N = 16 };
    unsigned char *p[N] = { 0 };
    size_t n[N] = { 0 };
    for (int step = 0; step < 400; step++) {
        for (int i = 0; i < N; i++) {
            size_t m = n[i] + 1 + (size_t)(i * 13 + step) % 29;
            unsigned char *q = vrealloc(p[i], m);
            CHECK(q != NULL);
            if (!q) continue;
            CHECKF(bad(q, n[i], (unsigned)i) < 0, "creep: block %d lost contents at size %zu", i, n[i]);
            fill(q, m, (unsigned)i);
            p[i] = q;
            n[i] = m;
        }
    }
    /* and shrink them back */
    for (int step = 0; step < 40; step++)
        for (int i = 0; i < N; i++) {
            size_t m = n[i] * 3 / 4;
            unsigned char *q = vrealloc(p[i], m ? m : 1);
            CHECK(q != NULL);
            if (!q) continue;
            CHECKF(bad(q, m, (unsigned)i) < 0, "creep: block %d lost contents shrinking to %zu", i, m);
            p[i] = q;
            n[i] = m;
        }
    for (int i = 0; i < N; i++)
        free(p[i]);
    t_heap_check("creep");
}

int main(void)
{
    pairs("pairs, dynamic threshold");
    chain("chain, dynamic threshold");
    creep();
    CHECK(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1);
    pairs("pairs, threshold 128 KiB");
    chain("chain, threshold 128 KiB");
    return t_done();
}
