/*
 * realloc contract (spirit of glibc's tst-realloc).
 *
 *  - realloc(NULL, n) is malloc(n) (n = 0 included);
 *  - realloc(p, 0) frees p and returns NULL (checked through mallinfo2);
 *  - a request that cannot be met (size near SIZE_MAX / PTRDIFF_MAX, or a
 *    real out-of-memory under RLIMIT_AS) returns NULL with ENOMEM and leaves
 *    the old block untouched (contents checked, then freed normally);
 *  - realloc to a size the block already holds returns the same pointer;
 *  - blocks from memalign/aligned_alloc/valloc can be realloc'd, contents kept.
 * Size-class crossings are in realloc_sizes.c.
 */
#include "t.h"
#include <malloc.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

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

/* realloc(p, n) must fail with ENOMEM and leave p's n0 bytes as they were. */
static void expect_fail(unsigned char *p, size_t n0, unsigned seed, size_t n, const char *why)
{
    errno = 0;
    void *q = vrealloc(p, n);
    CHECKF(q == NULL, "%s: realloc(%zu-byte block, %#zx) succeeded", why, n0, n);
    CHECKF(errno == ENOMEM, "%s: realloc(%zu-byte block, %#zx): errno %d, want ENOMEM", why, n0, n, errno);
    if (q) {                      /* should not happen; don't leak or double free */
        free(q);
        return;
    }
    long b = bad(p, n0, seed);
    CHECKF(b < 0, "%s: failed realloc(%zu-byte block, %#zx) changed byte %ld", why, n0, n, b);
}

int main(void)
{
    const size_t sizes[] = { 0, 10, 24, 100, 1000, 5000, 100000, 300000, 4u << 20 };
    const unsigned NS = sizeof sizes / sizeof sizes[0];

    /* ---- realloc(NULL, n) ------------------------------------------- */
    for (unsigned i = 0; i < NS; i++) {
        unsigned char *p = vrealloc(NULL, sizes[i]);
        CHECKF(p != NULL, "realloc(NULL, %zu) failed", sizes[i]);
        if (!p) continue;
        CHECK(((uintptr_t)p & 15) == 0);
        CHECK(malloc_usable_size(p) >= sizes[i]);
        fill(p, sizes[i], i);
        CHECK(bad(p, sizes[i], i) < 0);
        free(p);
    }

    /* ---- realloc(p, 0) frees ---------------------------------------- */
    const size_t sizes0[] = { 0, 10, 24, 100, 1000, 5000, 100000, 300000, 4u << 20 };
    for (unsigned i = 0; i < sizeof sizes0 / sizeof sizes0[0]; i++) {
        struct mallinfo2 m0 = mallinfo2();
        unsigned char *p = malloc(sizes0[i]);
        CHECK(p != NULL);
        if (!p) continue;
        fill(p, sizes0[i], i);
        struct mallinfo2 before = mallinfo2();
        int mmapped = before.hblks > m0.hblks;
        void *q = vrealloc(p, 0);
        struct mallinfo2 after = mallinfo2();
        CHECKF(q == NULL, "realloc(%zu-byte block, 0) returned %p, want NULL", sizes0[i], q);
        if (mmapped) {                     /* the mapping went away */
            CHECKF(after.hblks == before.hblks - 1, "realloc(p, 0) of an mmapped block: hblks %zu -> %zu",
                   before.hblks, after.hblks);
        } else if (sizes0[i] > 1032) {      /* not cacheable: in-use bytes drop */
            CHECKF(after.uordblks + sizes0[i] <= before.uordblks,
                   "realloc(%zu-byte block, 0): uordblks %zu -> %zu", sizes0[i], before.uordblks,
                   after.uordblks);
        }
    }
    /* A block surely mmapped: above the largest dynamic threshold (32 MiB)
     * and above all free memory (malloc tries the heap first). */
    {
        struct mallinfo2 m0 = mallinfo2();
        size_t n = m0.fordblks + (1u << 20);
        if (n < (33u << 20)) n = 33u << 20;
        unsigned char *p = malloc(n);
        struct mallinfo2 before = mallinfo2();
        CHECK(p != NULL);
        CHECKF(before.hblks == m0.hblks + 1, "malloc(%zu) was not mmapped", n);
        if (p) {
            p[0] = 1; p[n - 1] = 2;
            CHECK(vrealloc(p, 0) == NULL);
            struct mallinfo2 after = mallinfo2();
            CHECKF(after.hblks == before.hblks - 1, "realloc(p, 0) of an mmapped block: hblks %zu -> %zu",
                   before.hblks, after.hblks);
        }
    }
    /* repeated: must not leak */
    {
        struct mallinfo2 before = mallinfo2();
        for (int i = 0; i < 2000; i++) {
            void *p = malloc(3000 + (i % 7) * 1000);
            CHECK(p != NULL);
            CHECK(vrealloc(p, 0) == NULL);
        }
        struct mallinfo2 after = mallinfo2();
        CHECKF(after.uordblks <= before.uordblks + 65536, "realloc(p, 0) x2000 leaked: uordblks %zu -> %zu",
               before.uordblks, after.uordblks);
    }
    t_heap_check("realloc 0");

    /* ---- same pointer when the block already fits -------------------- */
    for (unsigned i = 0; i < NS; i++) {
        unsigned char *p = malloc(sizes[i]);
        CHECK(p != NULL);
        if (!p) continue;
        size_t u = malloc_usable_size(p);
        fill(p, u, i);
        void *q = vrealloc(p, u);
        CHECKF(q == p, "realloc(p, usable=%zu) moved the block (malloc(%zu))", u, sizes[i]);
        if (q) p = q;
        if (sizes[i] >= 8) {
            q = vrealloc(p, sizes[i] - 1);
            CHECKF(q == p, "realloc(p, %zu) moved a block of usable size %zu", sizes[i] - 1, u);
            if (q) p = q;
            q = vrealloc(p, sizes[i]);
            CHECKF(q == p, "realloc(p, %zu) moved the block back", sizes[i]);
            if (q) p = q;
        }
        CHECK(bad(p, sizes[i], i) < 0);
        free(p);
    }
    t_heap_check("same pointer");

    /* ---- failures on size -------------------------------------------- */
    {
        const size_t huge[] = { SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 16, SIZE_MAX - 4096,
                                (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX - 4096,
                                (size_t)1 << 62 };
        for (unsigned i = 0; i < NS; i++) {
            unsigned char *p = malloc(sizes[i]);
            CHECK(p != NULL);
            if (!p) continue;
            fill(p, sizes[i], 50 + i);
            for (unsigned h = 0; h < sizeof huge / sizeof huge[0]; h++)
                expect_fail(p, sizes[i], 50 + i, huge[h], "too large");
            /* still a valid block: grow it for real */
            unsigned char *q = vrealloc(p, sizes[i] + 50);
            CHECK(q != NULL);
            if (q) {
                CHECK(bad(q, sizes[i], 50 + i) < 0);
                p = q;
            }
            free(p);
        }
        errno = 0;
        CHECK(vrealloc(NULL, SIZE_MAX) == NULL && errno == ENOMEM);
        t_heap_check("too large");
    }

    /* ---- real out-of-memory (RLIMIT_AS) ------------------------------ */
    {
        struct rlimit old;
        long vm_pages = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (f) {
            if (fscanf(f, "%ld", &vm_pages) != 1) vm_pages = 0;
            fclose(f);
        }
        unsigned char *small = malloc(3000), *mm = malloc(8u << 20);
        CHECK(small && mm);
        if (small && mm && vm_pages > 0 && getrlimit(RLIMIT_AS, &old) == 0) {
            fill(small, 3000, 7);
            fill(mm, 8u << 20, 8);
            struct rlimit lim = old;
            rlim_t want = (rlim_t)vm_pages * (rlim_t)sysconf(_SC_PAGESIZE) + (256u << 20);
            if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur > want)
                lim.rlim_cur = want;
            if (setrlimit(RLIMIT_AS, &lim) == 0) {
                expect_fail(small, 3000, 7, (size_t)1 << 30, "RLIMIT_AS");
                expect_fail(mm, 8u << 20, 8, (size_t)1 << 30, "RLIMIT_AS, mmapped");
                expect_fail(small, 3000, 7, (size_t)3 << 30, "RLIMIT_AS");
                expect_fail(mm, 8u << 20, 8, (size_t)3 << 30, "RLIMIT_AS, mmapped");
                errno = 0;
                void *volatile r = malloc((size_t)1 << 30);
                CHECK(r == NULL && errno == ENOMEM);
                setrlimit(RLIMIT_AS, &old);
            } else {
                printf("SKIP realloc under RLIMIT_AS: setrlimit failed\n");
            }
            /* the blocks still work */
            unsigned char *q = vrealloc(small, 20000);
            CHECK(q != NULL);
            if (q) { CHECK(bad(q, 3000, 7) < 0); small = q; }
            q = vrealloc(mm, 9u << 20);
            CHECK(q != NULL);
            if (q) { CHECK(bad(q, 8u << 20, 8) < 0); mm = q; }
        }
        free(small);
        free(mm);
        t_heap_check("RLIMIT_AS");
    }

    /* ---- aligned blocks ---------------------------------------------- */
    {
        struct { size_t align, n, to; } c[] = {
            { 64, 100, 5000 }, { 256, 1000, 50 }, { 4096, 5000, 300000 },
            { 4096, 300000, 600000 }, { 65536, 200000, 100 }, { 1024, 200, 200000 },
        };
        for (unsigned i = 0; i < sizeof c / sizeof c[0]; i++) {
            unsigned char *p = memalign(c[i].align, c[i].n);
            CHECK(p != NULL);
            if (!p) continue;
            CHECK(((uintptr_t)p & (c[i].align - 1)) == 0);
            fill(p, c[i].n, 90 + i);
            unsigned char *q = vrealloc(p, c[i].to);
            CHECK(q != NULL);
            if (!q) { free(p); continue; }
            size_t keep = c[i].n < c[i].to ? c[i].n : c[i].to;
            CHECKF(bad(q, keep, 90 + i) < 0, "memalign(%zu, %zu) realloc'd to %zu lost contents",
                   c[i].align, c[i].n, c[i].to);
            CHECK(((uintptr_t)q & 15) == 0);
            fill(q, c[i].to, 91 + i);
            free(q);
        }
        unsigned char *p = valloc(10000);
        CHECK(p != NULL);
        if (p) {
            fill(p, 10000, 3);
            unsigned char *q = vrealloc(p, 20000);
            CHECK(q != NULL && bad(q, 10000, 3) < 0);
            free(q ? q : p);
        }
        p = aligned_alloc(128, 300);
        CHECK(p != NULL);
        if (p) {
            fill(p, 300, 4);
            unsigned char *q = vrealloc(p, 100);
            CHECK(q != NULL && bad(q, 100, 4) < 0);
            free(q ? q : p);
        }
        t_heap_check("aligned");
    }
    return t_done();
}
