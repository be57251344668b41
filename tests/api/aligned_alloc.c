/*
 * aligned_alloc (spirit of glibc's tst-aligned-alloc).
 *
 *  - any power-of-two alignment 1 .. 16 MiB, and sizes that are NOT a
 *    multiple of the alignment (C17 dropped that requirement): aligned to
 *    max(align, 16), usable >= size;
 *  - alignment 0 or not a power of two -> NULL, EINVAL (GLIBC-FACTS.md);
 *  - impossible sizes -> NULL, ENOMEM.
 *
 * glibc before 2.38 made aligned_alloc an alias of memalign, which accepts
 * any alignment (rounding it up).  glibc 2.36 on this machine does that, so
 * when not running on ptalloc the EINVAL checks are skipped if aligned_alloc
 * turns out to accept a bad alignment (reported on stdout as SKIP).  On
 * ptalloc they always apply.
 */
#include "t.h"
#include <malloc.h>
#include <stdint.h>
#include <unistd.h>

static void *(*volatile v_aligned_alloc)(size_t, size_t) = aligned_alloc;

int main(void)
{
    /* ---- EINVAL ------------------------------------------------------ */
    const size_t bad_align[] = { 0, 3, 5, 6, 12, 24, 48, 100, 4097, 65535, 65537,
                                 SIZE_MAX, SIZE_MAX - 1, SIZE_MAX / 2 + 2, (SIZE_MAX / 2 + 1) | 0x40 };
    const size_t sizes[] = { 0, 1, 16, 100, 4096, 200000 };
    int strict = t_on_ptalloc();
    if (!strict) {
        void *probe = v_aligned_alloc(3, 16);
        strict = probe == NULL;
        free(probe);
        if (!strict)
            printf("SKIP aligned_alloc EINVAL checks: this libc accepts non-power-of-two alignments "
                   "(glibc < 2.38)\n");
    }
    if (strict)
        for (unsigned a = 0; a < sizeof bad_align / sizeof bad_align[0]; a++)
            for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                errno = 0;
                void *p = v_aligned_alloc(bad_align[a], sizes[s]);
                CHECKF(p == NULL && errno == EINVAL, "aligned_alloc(%#zx, %zu): %p, errno %d (want NULL, EINVAL)",
                       bad_align[a], sizes[s], p, errno);
                free(p);
            }

    /* ---- ENOMEM ------------------------------------------------------ */
    for (size_t a = 1; a <= ((size_t)1 << 20); a <<= 1) {
        const size_t huge[] = { SIZE_MAX, SIZE_MAX - a, (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX + 1 };
        for (unsigned s = 0; s < 4; s++) {
            errno = 0;
            void *p = v_aligned_alloc(a, huge[s]);
            CHECKF(p == NULL && errno == ENOMEM, "aligned_alloc(%zu, %#zx): %p, errno %d (want NULL, ENOMEM)",
                   a, huge[s], p, errno);
        }
    }
    {
        errno = 0;
        void *p = v_aligned_alloc(SIZE_MAX / 2 + 1, 1);
        CHECKF(p == NULL && errno == ENOMEM, "aligned_alloc(2^63, 1): %p, errno %d (want NULL, ENOMEM)", p, errno);
    }

    /* ---- valid, sizes not multiples of the alignment ------------------ */
    {
        const size_t n[] = { 0, 1, 7, 10, 33, 100, 1000, 1033, 4097, 10001, 131073, 300007 };
        for (size_t a = 1; a <= ((size_t)16 << 20); a <<= 1)
            for (unsigned s = 0; s < sizeof n / sizeof n[0]; s++) {
                if (a >= ((size_t)1 << 20) && n[s] > 10001)
                    continue;
                unsigned char *p = v_aligned_alloc(a, n[s]);
                CHECKF(p != NULL, "aligned_alloc(%zu, %zu) failed", a, n[s]);
                if (!p) continue;
                size_t want = a < 16 ? 16 : a;
                CHECKF(((uintptr_t)p & (want - 1)) == 0, "aligned_alloc(%zu, %zu) = %p misaligned", a, n[s], (void *)p);
                CHECKF(malloc_usable_size(p) >= n[s], "aligned_alloc(%zu, %zu): usable %zu", a, n[s],
                       malloc_usable_size(p));
                memset(p, 0x3c, n[s]);
                free(p);
            }
        t_heap_check("valid");
    }

    /* ---- many live, mixed with malloc --------------------------------- */
    {
        enum { N = 400 };
        static unsigned char *p[N];
        static size_t len[N];
        for (int i = 0; i < N; i++) {
            size_t a = (size_t)1 << (i % 13);
            len[i] = (size_t)(i * 53) % 3001;
            p[i] = (i % 3) ? v_aligned_alloc(a, len[i]) : malloc(len[i]);
            CHECK(p[i] != NULL);
            if (!p[i]) continue;
            if (i % 3) CHECK(((uintptr_t)p[i] & (a - 1)) == 0);
            memset(p[i], i & 0xff, len[i]);
        }
        for (int i = 0; i < N; i++)
            for (size_t k = 0; p[i] && k < len[i]; k++)
                if (p[i][k] != (unsigned char)(i & 0xff)) {
                    CHECKF(0, "block %d overwritten at %zu", i, k);
                    break;
                }
        for (int i = 0; i < N; i++)
            free(p[i]);
        t_heap_check("many");
    }
    return t_done();
}
