/*
 * reallocarray (spirit of glibc's tst-reallocarray).
 *
 *  - reallocarray(NULL, n, s) allocates like malloc(n * s);
 *  - n * s overflow -> NULL, ENOMEM, old block untouched (contents checked);
 *    products above PTRDIFF_MAX likewise;
 *  - n * s == 0 with a block behaves as realloc(p, 0): frees, returns NULL;
 *  - growing/shrinking keeps the elements.
 */
#include "t.h"
#include <malloc.h>
#include <stdint.h>

static void *(*volatile vreallocarray)(void *, size_t, size_t) = reallocarray;

static void expect_fail(unsigned *a, size_t count, size_t n, size_t s)
{
    errno = 0;
    void *q = vreallocarray(a, n, s);
    CHECKF(q == NULL, "reallocarray(p, %#zx, %#zx) succeeded", n, s);
    CHECKF(errno == ENOMEM, "reallocarray(p, %#zx, %#zx): errno %d, want ENOMEM", n, s, errno);
    if (q) { free(q); return; }
    for (size_t i = 0; i < count; i++)
        if (a[i] != (unsigned)(i * 2654435761u)) {
            CHECKF(0, "failed reallocarray(p, %#zx, %#zx) changed element %zu", n, s, i);
            break;
        }
}

int main(void)
{
    /* ---- NULL + n * s ----------------------------------------------- */
    {
        unsigned *a = vreallocarray(NULL, 100, sizeof(unsigned));
        CHECK(a != NULL);
        if (a) {
            CHECK(((uintptr_t)a & 15) == 0);
            CHECK(malloc_usable_size(a) >= 100 * sizeof(unsigned));
            memset(a, 1, 100 * sizeof(unsigned));
            free(a);
        }
        void *z = vreallocarray(NULL, 0, 0);
        CHECK(z != NULL);           /* like malloc(0) */
        free(z);
        errno = 0;
        CHECK(vreallocarray(NULL, SIZE_MAX, 2) == NULL && errno == ENOMEM);
        errno = 0;
        CHECK(vreallocarray(NULL, (size_t)1 << 62, 2) == NULL && errno == ENOMEM);
    }

    /* ---- overflow keeps the old block ------------------------------- */
    {
        const size_t counts[] = { 1, 10, 300, 5000, 50000 };   /* up to 200 KB: mmapped */
        for (unsigned c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            size_t count = counts[c];
            unsigned *a = malloc(count * sizeof *a);
            CHECK(a != NULL);
            if (!a) continue;
            for (size_t i = 0; i < count; i++)
                a[i] = (unsigned)(i * 2654435761u);
            expect_fail(a, count, SIZE_MAX, 2);
            expect_fail(a, count, 2, SIZE_MAX);
            expect_fail(a, count, SIZE_MAX / 2 + 1, 2);
            expect_fail(a, count, (size_t)1 << 32, (size_t)1 << 32);
            expect_fail(a, count, SIZE_MAX, SIZE_MAX);
            expect_fail(a, count, (size_t)1 << 62, 2);       /* 2^63: no overflow, > PTRDIFF_MAX */
            expect_fail(a, count, 3, SIZE_MAX / 3);
            expect_fail(a, count, SIZE_MAX / 16, 16);
            for (int k = 1; k < 64; k++)
                expect_fail(a, count, (size_t)1 << k, SIZE_MAX / ((size_t)1 << k) + 1);
            free(a);
        }
        t_heap_check("overflow");
    }

    /* ---- zero product frees ----------------------------------------- */
    {
        void *p = malloc(5000);
        CHECK(p != NULL);
        struct mallinfo2 m1 = mallinfo2();
        CHECK(vreallocarray(p, 0, 16) == NULL);
        struct mallinfo2 m2 = mallinfo2();
        CHECKF(m2.uordblks + 5000 <= m1.uordblks, "reallocarray(p, 0, 16) did not free: uordblks %zu -> %zu",
               m1.uordblks, m2.uordblks);
        p = malloc(5000);
        CHECK(p != NULL);
        CHECK(vreallocarray(p, 16, 0) == NULL);
    }

    /* ---- growth and shrink keep the elements ------------------------ */
    {
        unsigned long long *a = NULL;
        size_t n = 0;
        const size_t steps[] = { 1, 3, 16, 100, 129, 500, 2000, 20000, 40000, 100000, 30000, 1000, 50, 2 };
        for (unsigned k = 0; k < sizeof steps / sizeof steps[0]; k++) {
            size_t m = steps[k];
            unsigned long long *b = vreallocarray(a, m, sizeof *b);
            CHECKF(b != NULL, "reallocarray(p, %zu, 8) failed", m);
            if (!b) break;
            size_t keep = n < m ? n : m;
            for (size_t i = 0; i < keep; i++)
                if (b[i] != i * 0x9E3779B97F4A7C15ull) {
                    CHECKF(0, "reallocarray %zu -> %zu elements: element %zu lost", n, m, i);
                    break;
                }
            for (size_t i = 0; i < m; i++)
                b[i] = i * 0x9E3779B97F4A7C15ull;
            a = b;
            n = m;
        }
        free(a);
        t_heap_check("growth");
    }
    return t_done();
}
