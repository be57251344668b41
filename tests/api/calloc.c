/*
 * calloc (spirit of glibc's tst-calloc).
 *
 *  - nmemb * size overflow -> NULL, ENOMEM; products above PTRDIFF_MAX too;
 *  - zero-sized requests give unique freeable blocks;
 *  - the memory is zero: fresh, reused after being dirtied (tcache, fastbin,
 *    small/large bins, the top chunk, memory given back by trim) and large
 *    mmapped blocks, including once the dynamic mmap threshold has moved
 *    so that a big request is served from a dirty heap instead of mmap.
 */
#include "t.h"
#include <malloc.h>
#include <stdint.h>

static void *(*volatile vcalloc)(size_t, size_t) = calloc;

/* Index of the first non-zero byte, or -1. */
static long nonzero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i])
            return (long)i;
    return -1;
}

static void dirty(void *p, size_t n)
{
    memset(p, 0xa5, n);
}

/* calloc(nmemb, size), check it is 16-aligned and zero. */
static void *zcalloc(size_t nmemb, size_t size, const char *what)
{
    void *p = vcalloc(nmemb, size);
    CHECKF(p != NULL, "%s: calloc(%zu, %zu) failed", what, nmemb, size);
    if (!p)
        return NULL;
    CHECKF(((uintptr_t)p & 15) == 0, "%s: calloc(%zu, %zu) = %p not aligned", what, nmemb, size, p);
    long z = nonzero(p, nmemb * size);
    CHECKF(z < 0, "%s: calloc(%zu, %zu): byte %ld not zero", what, nmemb, size, z);
    return p;
}

static void expect_enomem(size_t a, size_t b)
{
    errno = 0;
    void *p = vcalloc(a, b);
    CHECKF(p == NULL, "calloc(%#zx, %#zx) succeeded", a, b);
    CHECKF(errno == ENOMEM, "calloc(%#zx, %#zx): errno %d, want ENOMEM", a, b, errno);
    if (p)
        free(p);
}

int main(void)
{
    /* ---- overflow and too large ----------------------------------- */
    for (int k = 1; k < 64; k++) {
        size_t n = (size_t)1 << k;
        expect_enomem(n, SIZE_MAX / n + 1);     /* product overflows */
        expect_enomem(SIZE_MAX / n + 1, n);
        expect_enomem(n, SIZE_MAX / n);         /* no overflow, > PTRDIFF_MAX */
        expect_enomem(SIZE_MAX / n, n);
    }
    expect_enomem(SIZE_MAX, SIZE_MAX);
    expect_enomem(SIZE_MAX, 2);
    expect_enomem((size_t)1 << 32, (size_t)1 << 32);
    expect_enomem(((size_t)1 << 50) - 1, ((size_t)1 << 14) - 1);  /* ~2^64, no overflow */
    expect_enomem(((size_t)1 << 14) - 1, ((size_t)1 << 50) - 1);
    expect_enomem(((size_t)1 << 50) + 1, ((size_t)1 << 14) + 1);  /* overflows */
    expect_enomem(3, SIZE_MAX / 3 + 1);
    expect_enomem(1, (size_t)PTRDIFF_MAX + 1);
    expect_enomem((size_t)PTRDIFF_MAX + 1, 1);

    /* ---- zero sizes ---------------------------------------------- */
    {
        void *a = vcalloc(0, 0), *b = vcalloc(0, 100), *c = vcalloc(100, 0);
        CHECK(a != NULL && b != NULL && c != NULL);
        CHECK(a != b && b != c && a != c);
        free(a); free(b); free(c);
    }

    /* ---- reused, dirtied memory of every class --------------------- */
    {
        static const size_t sizes[] = { 1, 8, 16, 24, 25, 40, 64, 100, 120, 128, 136, 160,
                                        200, 500, 1000, 1008, 1024, 1032, 1040, 2000, 4096,
                                        5000, 20000, 60000, 100000, 120000 };
        enum { K = 12 };   /* more than a tcache bin holds */
        for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s];
            void *p[K];
            for (int i = 0; i < K; i++) {
                p[i] = malloc(n);
                CHECK(p[i] != NULL);
                if (p[i])
                    dirty(p[i], malloc_usable_size(p[i]));
            }
            for (int i = 0; i < K; i++)
                free(p[i]);
            for (int i = 0; i < K; i++)
                p[i] = zcalloc(1, n, "reused");
            for (int i = 0; i < K; i++)
                if (p[i])
                    dirty(p[i], malloc_usable_size(p[i]));
            for (int i = 0; i < K; i++)
                free(p[i]);
            /* same bytes split differently */
            for (int i = 0; i < K; i++)
                p[i] = zcalloc(n < 4 ? 1 : 4, n < 4 ? n : n / 4, "reused/4");
            for (int i = 0; i < K; i++)
                free(p[i]);
        }
        t_heap_check("reused classes");
    }

    /* ---- dirty top chunk ------------------------------------------ */
    {
        void *p = malloc(60000);
        CHECK(p != NULL);
        if (p) { dirty(p, 60000); free(p); }
        free(zcalloc(1, 100000, "top"));
        p = malloc(120000);
        CHECK(p != NULL);
        if (p) { dirty(p, 120000); free(p); }
        free(zcalloc(1, 125000, "top, grown"));
        free(zcalloc(5, 25000, "top, grown, 5x"));
        t_heap_check("top");
    }

    /* ---- mmapped and the moving mmap threshold --------------------- */
    {
        const size_t M = 1 << 20;
        void *p = zcalloc(1, M, "mmapped");
        if (p) { dirty(p, M); free(p); }    /* frees an mmapped chunk: threshold rises */
        p = zcalloc(1, M, "1 MiB after threshold moved");
        if (p) { dirty(p, M); free(p); }    /* now in the heap, dirty */
        p = zcalloc(1, M, "1 MiB reused from heap");
        if (p) { dirty(p, M); free(p); }
        p = zcalloc(M, 1, "1 MiB, nmemb form");
        free(p);
        p = zcalloc(4, M, "4 MiB mmapped");
        if (p) { dirty(p, 4 * M); free(p); }
        p = zcalloc(4, M, "4 MiB again");
        free(p);
        t_heap_check("mmapped");
    }

    /* ---- after malloc_trim ---------------------------------------- */
    {
        void *p[40];
        for (int i = 0; i < 40; i++) {
            p[i] = malloc(30000);
            CHECK(p[i] != NULL);
            if (p[i]) dirty(p[i], 30000);
        }
        for (int i = 0; i < 40; i += 2)     /* leave holes that trim can madvise */
            free(p[i]);
        malloc_trim(0);
        for (int i = 0; i < 40; i += 2)
            p[i] = zcalloc(1, 30000, "after trim");
        for (int i = 0; i < 40; i++)
            free(p[i]);
        malloc_trim(0);
        free(zcalloc(1, 500000, "after trim, big"));
        t_heap_check("trim");
    }

    /* ---- random mix of dirty mallocs and callocs ------------------- */
    {
        enum { SLOTS = 256 };
        static void *p[SLOTS];
        static size_t n[SLOTS];
        unsigned long long s = 777;
        for (int it = 0; it < 20000; it++) {
            int i = (int)(t_rand(&s) % SLOTS);
            if (p[i]) {
                free(p[i]);
                p[i] = NULL;
                continue;
            }
            unsigned r = (unsigned)(t_rand(&s) % 1000);
            n[i] = r < 700 ? t_rand(&s) % 600 : r < 990 ? t_rand(&s) % 70000 : 100000 + t_rand(&s) % 200000;
            if (t_rand(&s) & 1) {
                p[i] = malloc(n[i]);
                CHECK(p[i] != NULL);
                if (p[i]) dirty(p[i], malloc_usable_size(p[i]));
            } else {
                p[i] = zcalloc(1, n[i], "random");
                if (p[i]) dirty(p[i], n[i]);
            }
        }
        for (int i = 0; i < SLOTS; i++)
            free(p[i]);
        t_heap_check("random");
    }
    return t_done();
}
