/*
 * mallopt (spirit of glibc's tst-mallopt): each M_* parameter returns 1
 * when the value is accepted and 0 when it is refused, and the accepted
 * settings take effect.
 *
 *  - M_MXFAST: 0 .. 160 accepted, above 160 (or negative) refused;
 *  - M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX,
 *    M_CHECK_ACTION, M_PERTURB, M_ARENA_TEST, M_ARENA_MAX: accepted
 *    (glibc returns 1 for M_ARENA_* values <= 0 too, ignoring them);
 *  - effects: M_MMAP_THRESHOLD moves the mmap boundary, M_MMAP_MAX 0 stops
 *    mmap use, M_PERTURB fills new blocks with byte ^ 0xff but not calloc.
 * Unknown parameter numbers are not tested: glibc returns 1 for them.
 */
#include "t.h"
#include <malloc.h>
#include <stdint.h>

static int (*volatile v_mallopt)(int, int) = mallopt;

#define OPT(param, value, want) do { \
    int r_ = v_mallopt(param, value); \
    CHECKF(r_ == (want), "mallopt(%s, %d) returned %d, want %d", #param, (int)(value), r_, want); \
    } while (0)

/* At least min, and more than all free memory of the heap: malloc tries
 * bins and the top chunk before mmap (as glibc does), so only such a size
 * is sure to reach the mmap decision. */
static size_t beyond_free(size_t min)
{
    free(malloc(1));            /* make sure the heap (and tcache) exist */
    struct mallinfo2 m = mallinfo2();
    size_t n = m.fordblks + 65536;
    return n > min ? n : min;
}

/* 1 if malloc(n) made a new mmapped chunk (freed again at once). */
static int is_mmapped(size_t n)
{
    struct mallinfo2 a = mallinfo2();
    void *p = malloc(n);
    struct mallinfo2 b = mallinfo2();
    CHECK(p != NULL);
    if (p) memset(p, 0, n);
    free(p);
    return b.hblks == a.hblks + 1;
}

int main(void)
{
    /* ---- return values ----------------------------------------------- */
    OPT(M_MXFAST, 0, 1);
    OPT(M_MXFAST, 64, 1);
    OPT(M_MXFAST, 128, 1);
    OPT(M_MXFAST, 160, 1);
    OPT(M_MXFAST, 161, 0);
    OPT(M_MXFAST, 176, 0);
    OPT(M_MXFAST, 1 << 20, 0);
    OPT(M_MXFAST, -1, 0);
    OPT(M_MXFAST, 128, 1);                  /* back to the default */

    OPT(M_CHECK_ACTION, 1, 1);
    OPT(M_CHECK_ACTION, 3, 1);
    OPT(M_MMAP_MAX, 64 * 1024, 1);
    OPT(M_MMAP_THRESHOLD, 64 * 1024, 1);
    OPT(M_PERTURB, 0, 1);
    OPT(M_TOP_PAD, 64 * 1024, 1);
    OPT(M_TOP_PAD, 0, 1);
    OPT(M_TRIM_THRESHOLD, -1, 1);           /* i.e. never trim */
    OPT(M_TRIM_THRESHOLD, 128 * 1024, 1);
    OPT(M_ARENA_TEST, 8, 1);
    OPT(M_ARENA_MAX, 16, 1);
    OPT(M_ARENA_TEST, 0, 1);                /* ignored */
    OPT(M_ARENA_MAX, 0, 1);                 /* ignored */
    OPT(M_ARENA_MAX, -5, 1);                /* ignored */
    OPT(M_TOP_PAD, 128 * 1024, 1);

    /* ---- M_MMAP_THRESHOLD -------------------------------------------- */
    OPT(M_MMAP_THRESHOLD, 64 * 1024, 1);
    CHECKF(is_mmapped(beyond_free(70000)), "threshold 64 KiB: a big malloc was not mmapped");
    CHECKF(!is_mmapped(60000), "threshold 64 KiB: malloc(60000) mmapped");
    OPT(M_MMAP_THRESHOLD, 1024 * 1024, 1);
    CHECKF(!is_mmapped(200000), "threshold 1 MiB: malloc(200000) mmapped");
    CHECKF(!is_mmapped(1000000), "threshold 1 MiB: malloc(1000000) mmapped");
    CHECKF(is_mmapped(beyond_free(1100000)), "threshold 1 MiB: malloc(>1100000) not mmapped");
    OPT(M_MMAP_THRESHOLD, 128 * 1024, 1);
    CHECKF(is_mmapped(beyond_free(200000)), "threshold 128 KiB: malloc(>200000) not mmapped");
    /* set explicitly: no dynamic raise after freeing an mmapped block */
    CHECKF(is_mmapped(beyond_free(200000)), "threshold moved after free although it was set with mallopt");
    t_heap_check("threshold");

    /* ---- M_MMAP_MAX -------------------------------------------------- */
    OPT(M_MMAP_MAX, 0, 1);
    CHECKF(!is_mmapped(400000), "M_MMAP_MAX 0: malloc(400000) mmapped");
    {
        void *p = malloc(2u << 20);         /* must still succeed, from the heap */
        CHECK(p != NULL);
        free(p);
    }
    OPT(M_MMAP_MAX, 65536, 1);
    CHECKF(is_mmapped(beyond_free(400000)), "M_MMAP_MAX back to 65536: a big malloc was not mmapped");
    t_heap_check("mmap max");

    /* ---- M_PERTURB ---------------------------------------------------- */
    /* Only blocks carved fresh (not recycled from a cache) are checked, so
     * sizes used nowhere else in this program are used.  The first 16 bytes
     * are skipped in case the allocator keeps a cache link there. */
    OPT(M_PERTURB, 0x5a, 1);
    {
        const size_t sizes[] = { 200, 3000, 70000, 400000 };
        for (unsigned i = 0; i < 4; i++) {
            unsigned char *p = malloc(sizes[i]);
            CHECK(p != NULL);
            if (!p) continue;
            for (size_t k = 16; k < sizes[i]; k++)
                if (p[k] != (0x5a ^ 0xff)) {
                    CHECKF(0, "M_PERTURB 0x5a: malloc(%zu) byte %zu is %#x, want %#x", sizes[i], k, p[k], 0x5a ^ 0xff);
                    break;
                }
            free(p);
        }
        for (unsigned i = 0; i < 4; i++) {
            unsigned char *p = calloc(1, sizes[i] + 8);
            CHECK(p != NULL);
            for (size_t k = 0; p && k < sizes[i] + 8; k++)
                if (p[k]) {
                    CHECKF(0, "M_PERTURB: calloc(%zu) byte %zu is %#x, want 0", sizes[i] + 8, k, p[k]);
                    break;
                }
            free(p);
        }
    }
    OPT(M_PERTURB, 0, 1);
    t_heap_check("perturb");

    /* ---- M_MXFAST 0 and M_TRIM_THRESHOLD / M_TOP_PAD keep a sane heap --- */
    OPT(M_MXFAST, 0, 1);
    {
        void *p[100];
        for (int i = 0; i < 100; i++) p[i] = malloc((size_t)(i % 10) * 12 + 1);
        for (int i = 0; i < 100; i++) free(p[i]);
    }
    OPT(M_MXFAST, 160, 1);
    {
        void *p[100];
        for (int i = 0; i < 100; i++) p[i] = malloc((size_t)(i % 10) * 16 + 1);
        for (int i = 0; i < 100; i++) free(p[i]);
    }
    OPT(M_TRIM_THRESHOLD, 0, 1);
    OPT(M_TOP_PAD, 0, 1);
    {
        void *p[50];
        for (int i = 0; i < 50; i++) p[i] = malloc(50000);
        for (int i = 49; i >= 0; i--) free(p[i]);
    }
    t_heap_check("fast/trim");
    return t_done();
}
