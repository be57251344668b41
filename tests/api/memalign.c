/*
 * memalign (spirit of glibc's tst-memalign).
 *
 *  - power-of-two alignments 1 .. 16 MiB with many sizes: aligned to
 *    max(align, 16), usable >= size, contents independent;
 *  - alignment <= 16 is plain malloc; a non-power-of-two alignment is
 *    rounded up to the next power of two;
 *  - alignment > SIZE_MAX/2+1 -> NULL, EINVAL; huge sizes -> NULL, ENOMEM;
 *  - interleaved aligned/unaligned allocations and frees keep the heap sound
 *    (the leading and trailing pieces memalign gives back are reusable).
 */
#include "t.h"
#include <malloc.h>
#include <stdint.h>
#include <unistd.h>

static void *(*volatile v_memalign)(size_t, size_t) = memalign;

static size_t next_pow2(size_t a)
{
    size_t p = 1;
    while (p < a)
        p <<= 1;
    return p;
}

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

static void *one(size_t align, size_t n)
{
    unsigned char *p = v_memalign(align, n);
    CHECKF(p != NULL, "memalign(%zu, %zu) failed", align, n);
    if (!p) return NULL;
    size_t want = align < 16 ? 16 : next_pow2(align);
    CHECKF(((uintptr_t)p & (want - 1)) == 0, "memalign(%zu, %zu) = %p not %zu-aligned", align, n, (void *)p, want);
    CHECKF(malloc_usable_size(p) >= n, "memalign(%zu, %zu): usable %zu", align, n, malloc_usable_size(p));
    return p;
}

int main(void)
{
    long pagesize = sysconf(_SC_PAGESIZE);

    /* ---- errors, as glibc's tst-memalign ---------------------------- */
    errno = 0;
    CHECK(v_memalign(sizeof(void *), SIZE_MAX) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(v_memalign((size_t)pagesize, -(size_t)pagesize) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(v_memalign(64, (size_t)PTRDIFF_MAX) == NULL && errno == ENOMEM);
    {
        const size_t inval[] = { SIZE_MAX, SIZE_MAX - 1, SIZE_MAX / 2 + 2, SIZE_MAX / 2 + 3,
                                 (SIZE_MAX / 2 + 1) | 0x1000 };
        for (unsigned i = 0; i < sizeof inval / sizeof inval[0]; i++) {
            errno = 0;
            void *p = v_memalign(inval[i], (size_t)pagesize);
            CHECKF(p == NULL && errno == EINVAL, "memalign(%#zx, pagesize): %p, errno %d (want NULL, EINVAL)",
                   inval[i], p, errno);
        }
        /* SIZE_MAX/2+1 = 2^63 is a valid power of two, but no block can
         * have it: ENOMEM (glibc: the over-allocation request fails). */
        errno = 0;
        void *p = v_memalign(SIZE_MAX / 2 + 1, 1);
        CHECKF(p == NULL && errno == ENOMEM, "memalign(2^63, 1): %p, errno %d (want NULL, ENOMEM)", p, errno);
    }

    /* ---- power-of-two alignments x sizes ----------------------------- */
    {
        const size_t sizes[] = { 0, 1, 15, 16, 17, 24, 100, 1000, 1032, 4095, 4096, 5000, 65536,
                                 140000, 300000 };
        for (size_t a = 1; a <= ((size_t)16 << 20); a <<= 1)
            for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                if (a >= ((size_t)1 << 20) && sizes[s] > 5000)
                    continue;       /* keep address space use small */
                unsigned char *p = one(a, sizes[s]);
                if (!p) continue;
                fill(p, sizes[s], s);
                CHECK(bad(p, sizes[s], s) < 0);
                free(p);
            }
        t_heap_check("powers of two");
    }

    /* ---- small and odd alignments ------------------------------------ */
    {
        const size_t odd[] = { 0, 3, 5, 7, 12, 17, 24, 48, 100, 129, 1000, 3000, 4097, 10000, 65535 };
        for (unsigned i = 0; i < sizeof odd / sizeof odd[0]; i++)
            for (size_t n = 0; n < 3000; n += 333) {
                unsigned char *p = one(odd[i], n);
                if (!p) continue;
                fill(p, n, (unsigned)i);
                free(p);
            }
        /* alignment <= 16: usable size as for malloc of the same size */
        for (size_t a = 0; a <= 16; a++) {
            void *p = one(a, 100), *q = malloc(100);
            if (p && q)
                CHECKF(malloc_usable_size(p) == malloc_usable_size(q),
                       "memalign(%zu, 100) usable %zu, malloc(100) usable %zu", a,
                       malloc_usable_size(p), malloc_usable_size(q));
            free(p);
            free(q);
        }
        t_heap_check("odd alignments");
    }

    /* ---- interleaved with plain allocations -------------------------- */
    {
        enum { SLOTS = 300 };
        static unsigned char *p[SLOTS];
        static size_t n[SLOTS];
        static unsigned seed[SLOTS];
        unsigned long long s = 4242;
        for (int it = 0; it < 30000; it++) {
            int i = (int)(t_rand(&s) % SLOTS);
            if (p[i]) {
                long at = bad(p[i], n[i], seed[i]);
                CHECKF(at < 0, "block %d (size %zu) corrupted at byte %ld", i, n[i], at);
                free(p[i]);
                p[i] = NULL;
                continue;
            }
            n[i] = (size_t)(t_rand(&s) % 3000);
            if (t_rand(&s) % 8 == 0)
                n[i] += 100000 + (size_t)(t_rand(&s) % 100000);
            unsigned r = (unsigned)(t_rand(&s) % 3);
            if (r == 0)
                p[i] = malloc(n[i]);
            else
                p[i] = one((size_t)1 << (t_rand(&s) % 14), n[i]);
            CHECK(p[i] != NULL);
            if (!p[i]) continue;
            seed[i] = (unsigned)it;
            fill(p[i], n[i], seed[i]);
        }
        for (int i = 0; i < SLOTS; i++) {
            if (p[i]) CHECK(bad(p[i], n[i], seed[i]) < 0);
            free(p[i]);
        }
        t_heap_check("interleaved");
    }
    return t_done();
}
