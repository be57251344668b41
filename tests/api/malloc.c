/*
 * malloc / free basics (spirit of glibc's tst-malloc).
 *
 *  - malloc(0) gives unique, 16-aligned, freeable blocks (a 32-byte chunk,
 *    24 usable bytes, per GLIBC-FACTS.md);
 *  - free(NULL) is a no-op and keeps errno;
 *  - requests above PTRDIFF_MAX fail with ENOMEM (the exhaustive version is
 *    too_large.c);
 *  - many live blocks of mixed sizes never overlap, keep their contents
 *    while others are allocated and freed, and are reusable after free.
 */
#include "t.h"
#include <malloc.h>
#include <stdint.h>

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed * 131u + i * 7u + (i >> 8));
}

static size_t bad(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed * 131u + i * 7u + (i >> 8)))
            return i;
    return (size_t)-1;
}

#define NZERO 200
#define NLIVE 600

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    /* ---- malloc(0) ------------------------------------------------- */
    static void *z[NZERO];
    for (int i = 0; i < NZERO; i++) {
        z[i] = malloc(0);
        CHECKF(z[i] != NULL, "malloc(0) #%d returned NULL", i);
        CHECKF(((uintptr_t)z[i] & 15) == 0, "malloc(0) = %p not 16-aligned", z[i]);
        if (z[i]) {
            CHECKF(malloc_usable_size(z[i]) == 24, "usable(malloc(0)) = %zu, want 24",
                   malloc_usable_size(z[i]));
            fill(z[i], 24, (unsigned)i);     /* the 24 usable bytes are really ours */
        }
    }
    for (int i = 0; i < NZERO; i++)
        if (z[i])
            CHECKF(bad(z[i], 24, (unsigned)i) == (size_t)-1, "malloc(0) block %d overwritten", i);
    qsort(z, NZERO, sizeof z[0], cmp_ptr);
    for (int i = 1; i < NZERO; i++)
        CHECKF(z[i] != z[i - 1] && (uintptr_t)z[i] - (uintptr_t)z[i - 1] >= 24,
               "malloc(0) blocks %p and %p overlap", z[i - 1], z[i]);
    for (int i = 0; i < NZERO; i++)
        free(z[i]);
    t_heap_check("malloc(0)");

    /* ---- free(NULL) ------------------------------------------------ */
    errno = 4321;
    free(NULL);
    CHECKF(errno == 4321, "free(NULL) changed errno to %d", errno);

    /* ---- too large ------------------------------------------------- */
    {
        volatile size_t big[] = { SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 4096,
                                  (size_t)PTRDIFF_MAX + 1, SIZE_MAX / 2 + 100 };
        for (unsigned i = 0; i < sizeof big / sizeof big[0]; i++) {
            errno = 0;
            void *volatile p = malloc(big[i]);
            CHECKF(p == NULL, "malloc(%zu) succeeded", (size_t)big[i]);
            CHECKF(errno == ENOMEM, "malloc(%zu): errno %d, want ENOMEM", (size_t)big[i], errno);
        }
    }

    /* ---- many live blocks ---------------------------------------- */
    {
        static unsigned char *p[NLIVE];
        static size_t n[NLIVE];
        unsigned long long s = 12345;
        for (int i = 0; i < NLIVE; i++) {
            unsigned r = (unsigned)(t_rand(&s) % 100);
            n[i] = r < 60 ? t_rand(&s) % 256 : r < 90 ? t_rand(&s) % 4096
                 : r < 98 ? t_rand(&s) % 100000 : 130000 + t_rand(&s) % 200000;
            p[i] = malloc(n[i]);
            CHECKF(p[i] != NULL, "malloc(%zu) failed", n[i]);
            if (!p[i]) return t_done();
            CHECKF(((uintptr_t)p[i] & 15) == 0, "malloc(%zu) = %p not 16-aligned", n[i], (void *)p[i]);
            CHECKF(malloc_usable_size(p[i]) >= n[i], "usable %zu < %zu",
                   malloc_usable_size(p[i]), n[i]);
            fill(p[i], n[i], (unsigned)i);
        }
        /* no two live blocks overlap */
        {
            static uintptr_t r[NLIVE][2];
            for (int i = 0; i < NLIVE; i++) {
                r[i][0] = (uintptr_t)p[i];
                r[i][1] = (uintptr_t)p[i] + (n[i] ? n[i] : 1);
            }
            qsort(r, NLIVE, sizeof r[0], cmp_ptr);
            for (int i = 1; i < NLIVE; i++)
                CHECKF(r[i][0] >= r[i - 1][1], "blocks at %#lx and %#lx overlap",
                       (unsigned long)r[i - 1][0], (unsigned long)r[i][0]);
        }
        t_heap_check("live blocks");
        /* free every other one, reallocate with new sizes, check survivors */
        for (int round = 0; round < 4; round++) {
            for (int i = round & 1; i < NLIVE; i += 2) {
                CHECKF(bad(p[i], n[i], (unsigned)i + round * 1000u) == (size_t)-1,
                       "block %d (size %zu) corrupted in round %d", i, n[i], round);
                free(p[i]);
                n[i] = (n[i] * 7 + 13) % 5000;
                p[i] = malloc(n[i]);
                CHECK(p[i] != NULL);
                if (!p[i]) return t_done();
                CHECK(((uintptr_t)p[i] & 15) == 0);
                fill(p[i], n[i], (unsigned)i + (round + 1) * 1000u);
            }
            for (int i = !(round & 1); i < NLIVE; i += 2) {
                /* these were untouched this round: re-stamp with next seed */
                CHECKF(bad(p[i], n[i], (unsigned)i + round * 1000u) == (size_t)-1,
                       "untouched block %d (size %zu) corrupted in round %d", i, n[i], round);
                fill(p[i], n[i], (unsigned)i + (round + 1) * 1000u);
            }
            t_heap_check("reuse round");
        }
        for (int i = 0; i < NLIVE; i++) {
            CHECKF(bad(p[i], n[i], (unsigned)i + 4000u) == (size_t)-1, "block %d corrupted at end", i);
            free(p[i]);
        }
        t_heap_check("all freed");
    }

    /* ---- freed memory is reusable: same size again and again ------- */
    {
        unsigned long long s = 99;
        for (int i = 0; i < 20000; i++) {
            size_t n = 1 + t_rand(&s) % 2000;
            unsigned char *volatile q = malloc(n);
            CHECK(q != NULL);
            if (!q) break;
            q[0] = 1; q[n - 1] = 2;
            free(q);
        }
        t_heap_check("churn");
    }
    return t_done();
}
