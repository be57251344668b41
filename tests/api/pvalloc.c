/*
 * pvalloc (spirit of glibc's tst-pvalloc): page-aligned, and the size is
 * rounded up to a whole page, so every byte up to the page boundary is
 * usable; n + pagesize overflowing -> NULL, ENOMEM.
 *
 * pvalloc(0): glibc 2.36 gives a small (24-byte) block; rounding 0 up to a
 * whole page gives 0, so only "non-NULL and page-aligned" is required.
 */
#include "t.h"
#include <malloc.h>
#include <stdint.h>
#include <unistd.h>

static void *(*volatile v_pvalloc)(size_t) = pvalloc;

int main(void)
{
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);

    /* overflow of the rounding, and plain impossible sizes */
    for (size_t i = 0; i <= ps + 2; i++) {
        errno = 0;
        void *p = v_pvalloc(SIZE_MAX - i);
        CHECKF(p == NULL && errno == ENOMEM, "pvalloc(SIZE_MAX - %zu): %p, errno %d", i, p, errno);
    }
    {
        const size_t huge[] = { (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX - ps };
        for (unsigned i = 0; i < 3; i++) {
            errno = 0;
            void *p = v_pvalloc(huge[i]);
            CHECKF(p == NULL && errno == ENOMEM, "pvalloc(%#zx): %p, errno %d", huge[i], p, errno);
        }
    }

    {
        void *p = v_pvalloc(0);
        CHECK(p != NULL && ((uintptr_t)p & (ps - 1)) == 0);
        free(p);
    }

    const size_t sizes[] = { 1, 2, 15, 16, 100, 1000, ps - 1, ps, ps + 1, 2 * ps - 1, 2 * ps,
                             3 * ps + 7, 20000, 65536, 131072, 140000, 300001 };
    enum { NS = sizeof sizes / sizeof sizes[0] };
    unsigned char *p[NS];
    for (unsigned i = 0; i < NS; i++) {
        size_t whole = (sizes[i] + ps - 1) & ~(ps - 1);
        p[i] = v_pvalloc(sizes[i]);
        CHECKF(p[i] != NULL, "pvalloc(%zu) failed", sizes[i]);
        if (!p[i]) continue;
        CHECKF(((uintptr_t)p[i] & (ps - 1)) == 0, "pvalloc(%zu) = %p not page-aligned", sizes[i], (void *)p[i]);
        CHECKF(malloc_usable_size(p[i]) >= whole, "pvalloc(%zu): usable %zu < %zu (a whole page)",
               sizes[i], malloc_usable_size(p[i]), whole);
        memset(p[i], (int)i + 1, whole);     /* the whole rounded size is ours */
    }
    for (unsigned i = 0; i < NS; i++) {
        size_t whole = (sizes[i] + ps - 1) & ~(ps - 1);
        for (size_t k = 0; p[i] && k < whole; k++)
            if (p[i][k] != (unsigned char)(i + 1)) {
                CHECKF(0, "pvalloc block %u overwritten at %zu", i, k);
                break;
            }
    }
    t_heap_check("live");
    for (unsigned i = 0; i < NS; i++)
        free(p[i]);
    t_heap_check("freed");
    return t_done();
}
