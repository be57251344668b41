/*
 * free_sized / free_aligned_sized (C23; GLIBC-FACTS.md: glibc 2.43 simply
 * frees).  glibc 2.36 has neither, and its <stdlib.h> does not declare them,
 * so they are declared weak here: when the running malloc does not export
 * them the checks are reported as SKIP on stdout (not as a pass).
 *
 *  - free_sized(NULL, 0) and free_aligned_sized(NULL, a, 0) are no-ops;
 *  - they really free: heap chunks (mallinfo2 uordblks back to where it
 *    was, no growth over many rounds) and mmapped chunks (hblks drops);
 *  - the size given is the size requested (malloc, calloc n*s, realloc's
 *    new size, aligned_alloc's size with its alignment);
 *  - errno is preserved as by free.
 */
#include "t.h"
#include <malloc.h>
#include <stdint.h>

extern void free_sized(void *ptr, size_t size) __attribute__((weak));
extern void free_aligned_sized(void *ptr, size_t alignment, size_t size) __attribute__((weak));

static void test_free_sized(void)
{
    void (*volatile fs)(void *, size_t) = free_sized;
    errno = 77;
    fs(NULL, 0);
    fs(NULL, 100);
    CHECK(errno == 77);

    /* every class, and the memory is really released */
    const size_t sizes[] = { 0, 1, 24, 100, 1000, 1032, 2000, 50000, 100000 };
    struct mallinfo2 base = mallinfo2();
    for (int round = 0; round < 200; round++)
        for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            void *p = malloc(sizes[i]);
            CHECK(p != NULL);
            memset(p, 0x6b, sizes[i]);
            errno = 1789;
            fs(p, sizes[i]);
            CHECKF(errno == 1789, "free_sized changed errno to %d", errno);
        }
    struct mallinfo2 now = mallinfo2();
    CHECKF(now.uordblks <= base.uordblks + 64 * 1024, "free_sized leaks: uordblks %zu -> %zu",
           base.uordblks, now.uordblks);

    /* calloc and realloc results, with the sizes last requested */
    for (int i = 0; i < 100; i++) {
        void *p = calloc((size_t)i + 1, 24);
        CHECK(p != NULL);
        fs(p, ((size_t)i + 1) * 24);
        p = malloc(10);
        void *q = realloc(p, (size_t)i * 50 + 20);
        CHECK(q != NULL);
        fs(q ? q : p, q ? (size_t)i * 50 + 20 : 10);
    }

    /* mmapped (bigger than all free memory, so it cannot come from the heap) */
    CHECK(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1);
    struct mallinfo2 m0 = mallinfo2();
    size_t big = m0.fordblks + (1 << 20);
    void *p = malloc(big);
    struct mallinfo2 m1 = mallinfo2();
    CHECK(p != NULL && m1.hblks == m0.hblks + 1);
    memset(p, 1, big);
    errno = 1789;
    fs(p, big);
    CHECKF(errno == 1789, "free_sized (mmapped) changed errno to %d", errno);
    struct mallinfo2 m2 = mallinfo2();
    CHECKF(m2.hblks == m0.hblks, "free_sized did not unmap a 1 MiB block: hblks %zu -> %zu", m1.hblks, m2.hblks);
    t_heap_check("free_sized");
}

static void test_free_aligned_sized(void)
{
    void (*volatile fas)(void *, size_t, size_t) = free_aligned_sized;
    errno = 77;
    fas(NULL, 64, 0);
    CHECK(errno == 77);

    struct mallinfo2 base = mallinfo2();
    for (int round = 0; round < 100; round++)
        for (size_t a = 1; a <= 65536; a <<= 1) {
            size_t n = (a * 3 + (size_t)round * 17) % 70000 + 1;   /* need not be a multiple of a */
            void *p = aligned_alloc(a, n);
            CHECK(p != NULL && ((uintptr_t)p & (a - 1)) == 0);
            if (!p) continue;
            memset(p, 0x2d, n);
            errno = 1789;
            fas(p, a, n);
            CHECKF(errno == 1789, "free_aligned_sized changed errno to %d", errno);
        }
    struct mallinfo2 now = mallinfo2();
    CHECKF(now.uordblks <= base.uordblks + 256 * 1024, "free_aligned_sized leaks: uordblks %zu -> %zu",
           base.uordblks, now.uordblks);

    struct mallinfo2 m0 = mallinfo2();
    size_t big = m0.fordblks + (1 << 20);
    void *p = aligned_alloc(4096, big);
    struct mallinfo2 m1 = mallinfo2();
    CHECK(p != NULL && m1.hblks == m0.hblks + 1);
    fas(p, 4096, big);
    struct mallinfo2 m2 = mallinfo2();
    CHECKF(m2.hblks == m0.hblks, "free_aligned_sized did not unmap a 1 MiB block");
    t_heap_check("free_aligned_sized");
}

int main(void)
{
    if (free_sized)
        test_free_sized();
    else
        printf("SKIP free_sized: not provided by this malloc (glibc < 2.43)\n");
    if (free_aligned_sized)
        test_free_aligned_sized();
    else
        printf("SKIP free_aligned_sized: not provided by this malloc (glibc < 2.43)\n");
    return t_done();
}
