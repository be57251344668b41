/*
 * Idle pages go back.  A free chunk of 32 KiB or more that has sat unused
 * in its large bin while the top grew once, and then grows again, is memory
 * the program did not want while it asked the system for more: at that
 * growth its inner pages are released (madvise), though the chunk stays
 * free in its bin.
 *
 *  - a 512 KiB hole, freed and sorted before growth 1, is still resident
 *    after growth 1 and has no resident inner page after growth 2;
 *  - a 256 KiB hole freed after growth 1 survives growth 2 and goes at
 *    growth 3 (the age counts from when the chunk was binned);
 *  - a 24 KiB hole (under 32 KiB) stays resident;
 *  - the purged hole is still the best fit for its size: malloc returns
 *    it, its inner bytes read zero, it can be written, and the heap check
 *    passes throughout;
 *  - with the option purge_idle set to 0, all of it stays resident.
 */
#include "mech.h"
#include <sys/mman.h>

static size_t page;

/* How many of the whole pages inside [p, p + n) are resident; *total
 * gets how many there are. */
static size_t resident(const void *p, size_t n, size_t *total)
{
    uintptr_t from = ((uintptr_t)p + page - 1) & ~(page - 1);
    uintptr_t to = ((uintptr_t)p + n) & ~(page - 1);
    static unsigned char vec[4096];
    size_t count = 0, np = to > from ? (to - from) / page : 0;
    *total = np;
    if (np == 0 || np > sizeof vec)
        return 0;
    CHECK(mincore((void *)from, to - from, vec) == 0);
    for (size_t i = 0; i < np; i++)
        count += vec[i] & 1;
    return count;
}

/* The pages of a free block past its header page (the ones that may go)
 * must be all resident (resident = 1) or none. */
static void expect_pages(const char *what, const void *mem, size_t n, int want_resident)
{
    size_t total, got = resident((const char *)mem + 64, n - 64, &total);
    if (want_resident)
        CHECKF(total >= 2 && got == total, "%s: %zu of %zu pages resident, want all", what, got, total);
    else
        CHECKF(got == 0, "%s: %zu of %zu pages still resident", what, got, total);
}

/* Makes the main arena's top grow once, with a request larger than the
 * top and than any free chunk.  The block is kept, so the top stays up. */
static void *grow(void)
{
    struct ptalloc_arena_info before = m_arena();
    void *p = malloc(before.top_size + 1 * MiB);
    CHECK(p != NULL);
    struct ptalloc_arena_info after = m_arena();
    CHECKF(after.system_bytes > before.system_bytes, "the top did not grow (%zu -> %zu)",
           before.system_bytes, after.system_bytes);
    CHECKF(m_info(p).where == PTALLOC_INUSE && m_info(p).arena == 0, "grow block not from the heap");
    return p;
}

/* One round: three holes, three growths.  purge: whether pages go. */
static void holes(int purge)
{
    const size_t HOLE = 512 * KiB, YOUNG = 256 * KiB, SMALL = 24 * KiB;
    char *lo = malloc(64), *hole = malloc(HOLE), *g_a = malloc(64);
    char *young = malloc(YOUNG), *g_b = malloc(64), *small = malloc(SMALL), *hi = malloc(64);
    CHECK(lo && hole && g_a && young && g_b && small && hi);
    memset(hole, 0xab, HOLE);
    memset(young, 0xcd, YOUNG);
    memset(small, 0xef, SMALL);

    free(hole);
    free(small);
    void *g1 = grow();          /* sorts hole and small into their bins */
    CHECKF(m_where(hole) == PTALLOC_LARGEBIN, "hole is %s", m_where_name(m_where(hole)));
    expect_pages("hole after growth 1", hole, HOLE, 1);
    t_heap_check("growth 1");

    free(young);
    void *g2 = grow();
    expect_pages(purge ? "hole after growth 2" : "hole, purge_idle=0", hole, HOLE, !purge);
    CHECKF(m_where(hole) == PTALLOC_LARGEBIN, "hole is %s", m_where_name(m_where(hole)));
    expect_pages("young hole after growth 2", young, YOUNG, 1);
    t_heap_check("growth 2");

    void *g3 = grow();
    expect_pages(purge ? "young hole after growth 3" : "young hole, purge_idle=0", young, YOUNG, !purge);
    expect_pages("24 KiB hole after growth 3", small, SMALL, 1);
    t_heap_check("growth 3");

    /* A purged chunk is reused as any free chunk is. */
    char *r = malloc(HOLE);
    CHECKF(r == hole, "malloc(512 KiB) = %p, the hole is %p", (void *)r, (void *)hole);
    if (r == hole) {
        int expect = purge ? 0 : 0xab, same = 1;
        for (size_t i = page; i < HOLE - page; i++)
            same &= (unsigned char)r[i] == expect;
        CHECKF(same, "an inner page of the reused hole does not read 0x%x", expect);
        memset(r, 0x5a, HOLE);
        CHECK(r[HOLE - 1] == 0x5a && r[0] == 0x5a);
    }
    t_heap_check("reuse");

    free(r);
    free(g1); free(g2); free(g3);
    free(lo); free(g_a); free(g_b); free(hi);
    t_heap_check("end of round");
}

int main(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    /* Everything below 32 MiB from the heap, and no trimming. */
    CHECK(mallopt(M_MMAP_THRESHOLD, 32 * MiB) == 1);
    CHECK(mallopt(M_TRIM_THRESHOLD, 256 * MiB) == 1);
    CHECK(m_get("purge_idle") == 1);
    holes(1);
    CHECK(m_set("purge_idle", 0) == 1);
    holes(0);
    t_heap_check("end");
    return t_done();
}
