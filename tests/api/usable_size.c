/*
 * malloc_usable_size (spirit of glibc's tst-malloc-usable).
 *
 *  - NULL -> 0;
 *  - usable >= requested for every function and size;
 *  - heap chunks: usable = chunk size - 8 (GLIBC-FACTS.md).  The chunk is
 *    request2size(n) = max(32, align16(n + 8)), or 16 bytes more when the
 *    chunk it was cut from would have left a remainder below MINSIZE (glibc
 *    then hands out the whole chunk), so usable is request2size(n) - 8 or
 *    request2size(n) + 8.  On a fresh heap (carved from the top) it is
 *    exact: malloc(24) and malloc(0) -> 24 (a 32-byte chunk), malloc(25) -> 40;
 *  - mmapped chunks: usable >= n and less than a page (+ header) above it;
 *  - every usable byte can be written without touching a neighbour (the
 *    next chunk's prev_size field is part of this chunk's usable bytes).
 */
#include "t.h"
#include <malloc.h>
#include <stdint.h>
#include <unistd.h>

static size_t req2size(size_t n)
{
    size_t s = (n + 8 + 15) & ~(size_t)15;
    return s < 32 ? 32 : s;
}

int main(void)
{
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);

    CHECK(malloc_usable_size(NULL) == 0);

    /* ---- exact values for heap chunks --------------------------------- */
    {
        void *p = malloc(24);
        CHECKF(p && malloc_usable_size(p) == 24, "malloc(24): usable %zu, want 24", p ? malloc_usable_size(p) : 0);
        free(p);
        p = malloc(0);
        CHECKF(p && malloc_usable_size(p) == 24, "malloc(0): usable %zu, want 24", p ? malloc_usable_size(p) : 0);
        free(p);
        p = malloc(25);
        CHECKF(p && malloc_usable_size(p) == 40, "malloc(25): usable %zu, want 40", p ? malloc_usable_size(p) : 0);
        free(p);
        int reported = 0;
        for (size_t n = 0; n <= 70000; n += (n < 5000 ? 1 : 37)) {
            p = malloc(n);
            CHECK(p != NULL);
            if (!p) continue;
            size_t u = malloc_usable_size(p);
            if (u != req2size(n) - 8 && u != req2size(n) + 8 && reported++ < 10)
                CHECKF(0, "malloc(%zu): usable %zu, want %zu (or %zu)", n, u, req2size(n) - 8, req2size(n) + 8);
            free(p);
        }
        /* calloc and realloc results too */
        for (size_t n = 0; n <= 3000; n += 7) {
            p = calloc(1, n);
            CHECKF(p && (malloc_usable_size(p) == req2size(n) - 8 || malloc_usable_size(p) == req2size(n) + 8),
                   "calloc(1, %zu): usable %zu, want %zu (or %zu)", n, p ? malloc_usable_size(p) : 0,
                   req2size(n) - 8, req2size(n) + 8);
            void *q = realloc(p, n + 100);
            CHECKF(q && malloc_usable_size(q) >= n + 100, "realloc(%zu): usable %zu", n + 100,
                   q ? malloc_usable_size(q) : 0);
            free(q ? q : p);
        }
        t_heap_check("exact");
    }

    /* ---- mmapped chunks ---------------------------------------------- */
    {
        /* Pin the threshold so that it does not move.  A request at or above
         * it is still served from a free chunk or the top when one is big
         * enough (malloc tries those first, as glibc does), so a block that
         * did not get mmapped is only an error if it exceeded all free memory. */
        CHECK(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1);
        const size_t n[] = { 131072, 131073, 140000, 200000, 262144 - 16, 262144, 1u << 20, (1u << 20) + 1,
                             4u << 20 };
        int saw_mmapped = 0;
        for (unsigned i = 0; i < sizeof n / sizeof n[0]; i++) {
            struct mallinfo2 m0 = mallinfo2();
            unsigned char *p = malloc(n[i]);
            struct mallinfo2 m1 = mallinfo2();
            CHECK(p != NULL);
            if (!p) continue;
            size_t u = malloc_usable_size(p);
            if (m1.hblks == m0.hblks + 1) {
                saw_mmapped = 1;
                CHECKF(u >= n[i] && u - n[i] < ps + 32, "mmapped malloc(%zu): usable %zu", n[i], u);
            } else {
                CHECKF(n[i] < m0.fordblks, "malloc(%zu) is above the threshold and all free memory (%zu) "
                       "but was not mmapped", n[i], m0.fordblks);
                CHECKF(u == req2size(n[i]) - 8 || u == req2size(n[i]) + 8, "malloc(%zu): usable %zu, want %zu",
                       n[i], u, req2size(n[i]) - 8);
            }
            memset(p, 0x77, u);
            free(p);
        }
        CHECKF(saw_mmapped, "no block was mmapped");
        t_heap_check("mmapped");
    }

    /* ---- aligned allocations ----------------------------------------- */
    for (size_t a = 16; a <= 65536; a <<= 1)
        for (size_t n = 0; n < 5000; n += 499) {
            void *p = memalign(a, n);
            CHECK(p != NULL);
            if (!p) continue;
            size_t u = malloc_usable_size(p);
            CHECKF(u >= n, "memalign(%zu, %zu): usable %zu", a, n, u);
            memset(p, 0x11, u);
            free(p);
        }
    t_heap_check("aligned");

    /* ---- the whole usable area is ours ------------------------------- */
    {
        enum { N = 300 };
        static unsigned char *p[N];
        static size_t u[N];
        for (int i = 0; i < N; i++) {
            size_t n = (size_t)(i * 29) % 1200;
            p[i] = malloc(n);
            CHECK(p[i] != NULL);
            if (!p[i]) continue;
            u[i] = malloc_usable_size(p[i]);
            CHECK(u[i] >= n);
            memset(p[i], i & 0xff, u[i]);
        }
        for (int i = 0; i < N; i++)
            for (size_t k = 0; p[i] && k < u[i]; k++)
                if (p[i][k] != (unsigned char)(i & 0xff)) {
                    CHECKF(0, "block %d: usable byte %zu of %zu overwritten by a neighbour", i, k, u[i]);
                    break;
                }
        t_heap_check("usable filled");     /* writing every usable byte broke nothing */
        for (int i = 0; i < N; i += 2) free(p[i]);
        for (int i = 1; i < N; i += 2) {
            for (size_t k = 0; p[i] && k < u[i]; k++)
                if (p[i][k] != (unsigned char)(i & 0xff)) {
                    CHECKF(0, "block %d: byte %zu changed when neighbours were freed", i, k);
                    break;
                }
            free(p[i]);
        }
        t_heap_check("usable freed");
    }
    return t_done();
}
