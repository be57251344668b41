/*
 * free preserves errno (spirit of glibc's tst-free-errno): for tcache,
 * fastbin, small, large and top-merging frees, frees that trim the heap,
 * frees of mmapped blocks (munmap) and -- the hard case -- a free whose
 * munmap fails.
 *
 * munmap of a region strictly inside one mapping has to split it, which the
 * kernel refuses (ENOMEM) when the process is at vm.max_map_count.  So we
 * extend the mmapped block's mapping by one page on each side
 * (MAP_FIXED_NOREPLACE: only if those pages are free), fill the mapping
 * table up to the limit with single-page mappings, and free the block.
 * If any step is impossible here the case is reported as SKIP on stdout.
 */
#include "t.h"
#include <malloc.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static void free_keeps(void *p, const char *what)
{
    static const int values[] = { 0, 1789, EINVAL };
    static int k;
    int v = values[k++ % 3];
    errno = v;
    free(p);
    CHECKF(errno == v, "free(%s) changed errno %d -> %d", what, v, errno);
}

static void munmap_failure_case(void)
{
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    long max_maps = 0;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &max_maps) != 1) max_maps = 0;
        fclose(f);
    }
    if (max_maps <= 0 || max_maps > 70000) {
        printf("SKIP free errno when munmap fails: vm.max_map_count is %ld\n", max_maps);
        return;
    }

    const size_t big = 16u << 20;
    struct mallinfo2 m0 = mallinfo2();
    unsigned char *volatile ptr = malloc(big - 256);
    struct mallinfo2 m1 = mallinfo2();
    if (!ptr || m1.hblks != m0.hblks + 1) {
        printf("SKIP free errno when munmap fails: a 16 MiB block was not mmapped\n");
        free(ptr);
        return;
    }
    memset(ptr, 1, big - 256);
    /* the mapping: from the page holding the chunk header to the end of the
     * usable area */
    unsigned char *map_lo = (unsigned char *)(((uintptr_t)ptr - 16) & ~(uintptr_t)(ps - 1));
    unsigned char *map_hi = (unsigned char *)(((uintptr_t)ptr + malloc_usable_size(ptr) + ps - 1) & ~(uintptr_t)(ps - 1));
    void *before = mmap(map_lo - ps, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    void *after = mmap(map_hi, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (before != map_lo - ps || after != map_hi) {
        printf("SKIP free errno when munmap fails: no free page on both sides of the block\n");
        if (before != MAP_FAILED) munmap(before, ps);
        if (after != MAP_FAILED) munmap(after, ps);
        free(ptr);
        return;
    }
    /* Fill the mapping table: a PROT_NONE reservation with every other page
     * made readable is one mapping per page. */
    size_t pages = (size_t)max_maps + 16;
    unsigned char *res = mmap(NULL, pages * ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (res == MAP_FAILED) {
        printf("SKIP free errno when munmap fails: cannot reserve address space\n");
        munmap(before, ps);
        munmap(after, ps);
        free(ptr);
        return;
    }
    size_t i;
    for (i = 1; i + 1 < pages; i += 2)
        if (mprotect(res + i * ps, ps, PROT_READ) != 0)
            break;          /* ENOMEM: the process is at the limit */
    int at_limit = i + 1 < pages;

    errno = 1789;
    free(ptr);                       /* munmap(map_lo, ...) needs a split */
    int e = errno;
    /* Did munmap really fail?  (the chunk's page is then still mapped) */
    unsigned char vec;
    int still_mapped = mincore(map_lo, ps, &vec) == 0;

    munmap(res, pages * ps);
    munmap(before, ps);
    munmap(after, ps);
    /* A block whose munmap failed stays mapped (leaked); it is left alone in
     * case the allocator still has it on a list its heap check walks. */

    CHECKF(e == 1789, "free() of an mmapped block whose munmap fails changed errno 1789 -> %d", e);
    if (!at_limit || !still_mapped)
        printf("SKIP free errno when munmap fails: could not make munmap fail (at limit %d, still mapped %d); "
               "errno was kept\n", at_limit, still_mapped);
}

int main(void)
{
    /* tcache, then fastbin, sizes */
    {
        void *p[20];
        for (int i = 0; i < 20; i++) p[i] = malloc(40);
        for (int i = 0; i < 20; i++) free_keeps(p[i], "small, tcache/fastbin");
        for (int i = 0; i < 20; i++) p[i] = malloc(600);
        for (int i = 0; i < 20; i++) free_keeps(p[i], "600 bytes, tcache/small bin");
        for (int i = 0; i < 20; i++) p[i] = malloc(5000 + i * 100);
        for (int i = 0; i < 20; i += 2) free_keeps(p[i], "large, unsorted");
        for (int i = 1; i < 20; i += 2) free_keeps(p[i], "large, coalescing");
        free_keeps(NULL, "NULL");
        t_heap_check("bins");
    }
    /* frees that shrink the heap (top above the trim threshold) */
    {
        void *p[64];
        for (int i = 0; i < 64; i++) p[i] = malloc(100000);
        for (int i = 63; i >= 0; i--) free_keeps(p[i], "100000 bytes, trimming top");
        t_heap_check("trim");
    }
    /* mmapped: munmap succeeds */
    {
        CHECK(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1);
        for (int i = 0; i < 10; i++) {
            void *p = malloc(200000 + (size_t)i * 50000);
            CHECK(p != NULL);
            memset(p, 2, 1000);
            free_keeps(p, "mmapped");
        }
        void *p = memalign(65536, 300000);
        free_keeps(p, "mmapped, aligned");
        p = calloc(1, 1 << 20);
        free_keeps(p, "mmapped calloc");
        t_heap_check("mmapped");
    }
    /* realloc(p, 0) frees too */
    {
        void *p = malloc(300000);
        errno = 1789;
        CHECK(realloc(p, 0) == NULL);
        CHECKF(errno == 1789, "realloc(mmapped, 0) changed errno to %d", errno);
    }
    munmap_failure_case();
    t_heap_check("end");
    return t_done();
}
