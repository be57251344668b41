/*
 * posix_memalign (spirit of glibc's tst-posix_memalign).
 *
 *  - valid alignments (powers of two that are multiples of sizeof(void *),
 *    8 .. 16 MiB) with sizes 0 .. 300000: returns 0, the block is aligned,
 *    usable >= size;
 *  - alignment 0, not a power of two, or not a multiple of sizeof(void *):
 *    returns EINVAL and leaves *memptr alone;
 *  - impossible sizes: returns ENOMEM and leaves *memptr alone.
 *  - errno: ENOMEM after ENOMEM, as glibc leaves it (its
 *    tst-malloc-thread-fail checks it); untouched after EINVAL.
 */
#include "t.h"
#include <malloc.h>
#include <stdint.h>
#include <unistd.h>

static int (*volatile v_posix_memalign)(void **, size_t, size_t) = posix_memalign;
#define SENTINEL ((void *)(uintptr_t)0xdeadbee0)

int main(void)
{
    long pagesize = sysconf(_SC_PAGESIZE);

    /* ---- EINVAL ------------------------------------------------------ */
    {
        const size_t bad_align[] = { 0, 1, 2, 4, 3, 12, 24, 40, 48, 100, 4097, 4096 + 8,
                                     SIZE_MAX, SIZE_MAX - 7, SIZE_MAX / 2 + 9, (SIZE_MAX / 2 + 1) | 8 };
        const size_t sizes[] = { 0, 1, 100, 100000, SIZE_MAX };
        for (unsigned a = 0; a < sizeof bad_align / sizeof bad_align[0]; a++)
            for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                void *p = SENTINEL;
                errno = EDOM;
                int r = v_posix_memalign(&p, bad_align[a], sizes[s]);
                CHECKF(r == EINVAL, "posix_memalign(&p, %#zx, %#zx) returned %d, want EINVAL",
                       bad_align[a], sizes[s], r);
                CHECKF(errno == EDOM, "posix_memalign(&p, %#zx, %#zx) set errno to %d",
                       bad_align[a], sizes[s], errno);
                CHECKF(p == SENTINEL, "posix_memalign(&p, %#zx, %#zx) wrote p = %p on failure",
                       bad_align[a], sizes[s], p);
                if (r == 0) free(p);
            }
    }

    /* ---- ENOMEM ------------------------------------------------------ */
    {
        const size_t huge[] = { SIZE_MAX, SIZE_MAX - (size_t)pagesize, (size_t)PTRDIFF_MAX,
                                (size_t)PTRDIFF_MAX + 1, (size_t)1 << 62 };
        for (size_t a = sizeof(void *); a <= ((size_t)1 << 20); a <<= 1)
            for (unsigned s = 0; s < sizeof huge / sizeof huge[0]; s++) {
                void *p = SENTINEL;
                errno = 0;
                int r = v_posix_memalign(&p, a, huge[s]);
                CHECKF(r == ENOMEM, "posix_memalign(&p, %zu, %#zx) returned %d, want ENOMEM", a, huge[s], r);
                CHECKF(errno == ENOMEM, "posix_memalign(&p, %zu, %#zx) left errno %d, want ENOMEM "
                       "(as glibc, which tst-malloc-thread-fail checks)", a, huge[s], errno);
                CHECKF(p == SENTINEL, "posix_memalign(&p, %zu, %#zx) wrote p on failure", a, huge[s]);
                if (r == 0) free(p);
            }
        /* a valid power of two too big for any block */
        void *p = SENTINEL;
        errno = 0;
        int r = v_posix_memalign(&p, SIZE_MAX / 2 + 1, 1);
        CHECKF(r == ENOMEM && p == SENTINEL && errno == ENOMEM,
               "posix_memalign(&p, 2^63, 1) returned %d, errno %d", r, errno);
    }

    /* ---- valid ------------------------------------------------------- */
    {
        const size_t sizes[] = { 0, 1, 8, 24, 100, 1000, 4096, 10000, 140000, 300000 };
        for (size_t a = sizeof(void *); a <= ((size_t)16 << 20); a <<= 1)
            for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                if (a >= ((size_t)1 << 20) && sizes[s] > 10000)
                    continue;
                void *p = SENTINEL;
                int r = v_posix_memalign(&p, a, sizes[s]);
                CHECKF(r == 0, "posix_memalign(&p, %zu, %zu) returned %d", a, sizes[s], r);
                if (r) continue;
                CHECKF(p != NULL && p != SENTINEL, "posix_memalign(&p, %zu, %zu) gave p = %p", a, sizes[s], p);
                if (p == NULL || p == SENTINEL) continue;
                CHECKF(((uintptr_t)p & (a - 1)) == 0, "posix_memalign(&p, %zu, %zu) = %p misaligned", a, sizes[s], p);
                CHECKF(((uintptr_t)p & 15) == 0, "posix_memalign(&p, %zu, %zu) = %p not 16-aligned", a, sizes[s], p);
                CHECK(malloc_usable_size(p) >= sizes[s]);
                memset(p, 0x5c, sizes[s]);
                free(p);
            }
        t_heap_check("valid");
    }

    /* ---- many live at once ------------------------------------------- */
    {
        enum { N = 500 };
        static void *p[N];
        static size_t al[N];
        for (int i = 0; i < N; i++) {
            al[i] = (size_t)8 << (i % 10);
            int r = v_posix_memalign(&p[i], al[i], (size_t)(i * 37) % 2000);
            CHECK(r == 0);
            if (r) { p[i] = NULL; continue; }
            CHECK(((uintptr_t)p[i] & (al[i] - 1)) == 0);
            memset(p[i], i & 0xff, (size_t)(i * 37) % 2000);
        }
        for (int i = 0; i < N; i++) {
            if (!p[i]) continue;
            size_t n = (size_t)(i * 37) % 2000;
            for (size_t k = 0; k < n; k++)
                if (((unsigned char *)p[i])[k] != (unsigned char)(i & 0xff)) {
                    CHECKF(0, "block %d overwritten at byte %zu", i, k);
                    break;
                }
        }
        for (int i = N - 1; i >= 0; i -= 2) free(p[i]);
        for (int i = N - 2; i >= 0; i -= 2) free(p[i]);
        t_heap_check("many");
    }
    return t_done();
}
