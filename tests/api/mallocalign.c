/*
 * Every pointer any allocation function returns is 16-byte aligned
 * (MALLOC_ALIGNMENT; spirit of glibc's tst-mallocalign1), for every size
 * 0..4200 and a dense sweep up to 300000, taken from fresh memory, from
 * reused chunks (a sliding window of live blocks keeps bins populated) and
 * from mmap.
 */
#include "t.h"
#include <malloc.h>
#include <stdint.h>

static void *(*volatile v_malloc)(size_t) = malloc;
static void *(*volatile v_calloc)(size_t, size_t) = calloc;
static void *(*volatile v_realloc)(void *, size_t) = realloc;
static void *(*volatile v_reallocarray)(void *, size_t, size_t) = reallocarray;
static void *(*volatile v_memalign)(size_t, size_t) = memalign;
static void *(*volatile v_aligned_alloc)(size_t, size_t) = aligned_alloc;
static int (*volatile v_posix_memalign)(void **, size_t, size_t) = posix_memalign;

enum { WIN = 64 };
static void *win[WIN];
static unsigned wpos;
static int reported;

static void keep(void *p)          /* hold p for a while, free an older one */
{
    free(win[wpos]);
    win[wpos] = p;
    wpos = (wpos + 1) % WIN;
}

static void chk(void *p, const char *fn, size_t n)
{
    if (p == NULL) {
        t_failures++;
        if (reported++ < 20) fprintf(stderr, "%s(%zu) returned NULL\n", fn, n);
        return;
    }
    if ((uintptr_t)p & 15) {
        t_failures++;
        if (reported++ < 20) fprintf(stderr, "%s(%zu) = %p is not 16-byte aligned\n", fn, n, p);
    }
    if (n) {
        ((volatile unsigned char *)p)[0] = 1;
        ((volatile unsigned char *)p)[n - 1] = 2;
    }
}

static void all_functions(size_t n)
{
    void *p;
    chk(p = v_malloc(n), "malloc", n);
    keep(p);
    chk(p = v_calloc(1, n), "calloc", n);
    keep(p);
    chk(p = v_realloc(NULL, n), "realloc(NULL)", n);
    keep(p);
    p = v_malloc(n / 2 + 1);
    chk(p, "malloc", n / 2 + 1);
    if (p) {                                         /* grow */
        void *q = v_realloc(p, n + 1);
        chk(q, "realloc(grow)", n + 1);
        keep(q ? q : p);
    }
    p = v_malloc(n + 40);
    chk(p, "malloc", n + 40);
    if (p) {                                         /* shrink */
        void *q = v_realloc(p, n ? n : 1);
        chk(q, "realloc(shrink)", n);
        keep(q ? q : p);
    }
    chk(p = v_reallocarray(NULL, n, 1), "reallocarray", n);
    keep(p);
    for (size_t a = 1; a <= 16; a <<= 1) {
        chk(p = v_memalign(a, n), "memalign(<=16)", n);
        keep(p);
        chk(p = v_aligned_alloc(a, n), "aligned_alloc(<=16)", n);
        keep(p);
    }
    if (v_posix_memalign(&p, sizeof(void *), n) == 0)
        chk(p, "posix_memalign(8)", n);
    else
        chk(p = NULL, "posix_memalign(8)", n);
    keep(p);
}

int main(void)
{
    for (size_t n = 0; n <= 4200; n++)
        all_functions(n);
    t_heap_check("0..4200");
    for (size_t n = 4200; n <= 300000; n += 97)
        all_functions(n);
    t_heap_check("..300000");
    /* boundaries of bins, pages and the mmap threshold */
    for (size_t base = 1024; base <= 262144; base *= 2)
        for (size_t n = base - 40; n <= base + 40; n++)
            all_functions(n);
    for (int i = 0; i < WIN; i++)
        free(win[i]);
    t_heap_check("boundaries");
    return t_done();
}
