/*
 * The main heap's mmap fallback (glibc's tst-malloc-alternate-path idea):
 * a page mapped right after the program break stops brk from growing, so
 * once the top chunk is used up every further allocation of the main arena
 * must come from mmapped memory.  100k small and 300 medium blocks all
 * succeed, keep their contents, and free cleanly.
 */
#include "t.h"
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define NSMALL  100000
#define NMEDIUM 300

static void *small[NSMALL];
static void *medium[NMEDIUM];

static unsigned char pat(size_t i) { return (unsigned char)(i * 151 + 3); }
static int intact(const void *p, size_t n, size_t i)
{
    const unsigned char *c = p;
    for (size_t k = 0; k < n; k++)
        if (c[k] != pat(i))
            return 0;
    return 1;
}

int main(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    free(malloc(100));                          /* heap set up first */
    uintptr_t brk0 = (uintptr_t)sbrk(0);
    uintptr_t at = (brk0 + page - 1) & ~(uintptr_t)(page - 1);
    void *blocker = mmap((void *)at, page, PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (blocker != (void *)at) {
        fprintf(stderr, "cannot map a page at the break %#lx: %s\n",
                (unsigned long)at, blocker == MAP_FAILED ? strerror(errno) : "placed elsewhere");
        return 1;
    }
    CHECKF(sbrk(page) == (void *)-1, "brk still grows past the blocker");

    size_t beyond = 0;                          /* blocks not below the break */
    for (size_t i = 0; i < NSMALL; i++) {
        size_t n = 100 + i % 32;
        small[i] = malloc(n);
        CHECKF(small[i] != NULL, "malloc(%zu) #%zu", n, i);
        if (!small[i])
            return t_done();
        memset(small[i], pat(i), n);
        beyond += (uintptr_t)small[i] >= at;
    }
    for (size_t i = 0; i < NMEDIUM; i++) {
        size_t n = 50 * 1024 + i * 16;
        medium[i] = malloc(n);
        CHECKF(medium[i] != NULL, "malloc(%zu) #%zu", n, i);
        if (!medium[i])
            return t_done();
        memset(medium[i], pat(i), n);
        beyond += (uintptr_t)medium[i] >= at;
    }
    /* the top chunk held at most a few hundred KiB: nearly all of these
     * (about 25 MiB) came from mappings above the blocker */
    CHECKF(beyond > (NSMALL + NMEDIUM) * 9 / 10, "only %zu of %d blocks from mmap",
           beyond, NSMALL + NMEDIUM);
    CHECKF((uintptr_t)sbrk(0) <= at, "the break moved past the blocker");
    t_heap_check("allocated");

    size_t bad = 0;
    for (size_t i = 0; i < NSMALL; i++)
        bad += !intact(small[i], 100 + i % 32, i);
    for (size_t i = 0; i < NMEDIUM; i++)
        bad += !intact(medium[i], 50 * 1024 + i * 16, i);
    CHECKF(bad == 0, "%zu blocks changed", bad);

    /* free half, reuse, then free everything */
    for (size_t i = 0; i < NSMALL; i += 2)
        free(small[i]);
    for (size_t i = 0; i < NMEDIUM; i += 2)
        free(medium[i]);
    t_heap_check("half freed");
    for (size_t i = 0; i < NSMALL; i += 2) {
        small[i] = malloc(200);
        CHECKF(small[i] != NULL, "malloc(200) #%zu", i);
        if (!small[i])
            return t_done();
        memset(small[i], pat(i), 100 + i % 32);
    }
    bad = 0;
    for (size_t i = 0; i < NSMALL; i++)
        bad += !intact(small[i], 100 + i % 32, i);
    for (size_t i = 1; i < NMEDIUM; i += 2)
        bad += !intact(medium[i], 50 * 1024 + i * 16, i);
    CHECKF(bad == 0, "%zu blocks changed after reuse", bad);
    for (size_t i = 0; i < NSMALL; i++)
        free(small[i]);
    for (size_t i = 1; i < NMEDIUM; i += 2)
        free(medium[i]);
    t_heap_check("all freed");

    void *p = malloc(1 << 20);                  /* still works */
    CHECK(p != NULL);
    free(p);
    t_heap_check("end");
    munmap(blocker, page);
    return t_done();
}
