/*
 * valloc (spirit of glibc's tst-valloc): page-aligned blocks of any size,
 * usable >= size, independent contents; impossible sizes -> NULL, ENOMEM.
 */
#include "t.h"
#include <malloc.h>
#include <stdint.h>
#include <unistd.h>

static void *(*volatile v_valloc)(size_t) = valloc;

int main(void)
{
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);

    const size_t huge[] = { SIZE_MAX, SIZE_MAX - ps, SIZE_MAX - ps + 1, (size_t)PTRDIFF_MAX,
                            (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX - ps };
    for (unsigned i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        errno = 0;
        void *p = v_valloc(huge[i]);
        CHECKF(p == NULL && errno == ENOMEM, "valloc(%#zx): %p, errno %d", huge[i], p, errno);
    }

    enum { N = 200 };
    static unsigned char *p[N];
    static size_t n[N];
    unsigned long long s = 31337;
    for (int i = 0; i < N; i++) {
        unsigned r = (unsigned)(t_rand(&s) % 10);
        n[i] = r < 5 ? t_rand(&s) % 200 : r < 9 ? t_rand(&s) % 20000 : 100000 + t_rand(&s) % 200000;
        if (i < 4)
            n[i] = (size_t)i * ps;    /* 0, exactly one page, two, three */
        p[i] = v_valloc(n[i]);
        CHECKF(p[i] != NULL, "valloc(%zu) failed", n[i]);
        if (!p[i]) continue;
        CHECKF(((uintptr_t)p[i] & (ps - 1)) == 0, "valloc(%zu) = %p not page-aligned", n[i], (void *)p[i]);
        CHECKF(malloc_usable_size(p[i]) >= n[i], "valloc(%zu): usable %zu", n[i], malloc_usable_size(p[i]));
        memset(p[i], i & 0xff, n[i]);
    }
    for (int i = 0; i < N; i++)
        for (size_t k = 0; p[i] && k < n[i]; k++)
            if (p[i][k] != (unsigned char)(i & 0xff)) {
                CHECKF(0, "valloc block %d (size %zu) overwritten at %zu", i, n[i], k);
                break;
            }
    t_heap_check("live");
    for (int i = 0; i < N; i += 2) free(p[i]);
    /* reuse the holes */
    for (int i = 0; i < N; i += 2) {
        p[i] = v_valloc(n[i] / 2 + 1);
        CHECK(p[i] != NULL && ((uintptr_t)p[i] & (ps - 1)) == 0);
        if (p[i]) memset(p[i], 0, n[i] / 2 + 1);
    }
    for (int i = 0; i < N; i++) free(p[i]);
    t_heap_check("freed");
    return t_done();
}
