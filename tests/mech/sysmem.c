/*
 * sbrk and mmap.  Each part runs in a child process of its own, so each
 * starts from the default thresholds.
 *
 *  - mmap threshold (128 KiB): with the top too small, a request whose
 *    chunk is 128 KiB or more gets an IS_MMAPPED chunk of its own
 *    (ptalloc_locate: PTALLOC_MMAPPED, arena -1, usable = size - 16), a
 *    smaller one comes from the heap; a request the top can hold is split
 *    from the top whatever its size (design step 9, as in glibc);
 *  - the dynamic threshold: freeing a 200 KiB mmapped chunk raises
 *    mmap_threshold to its size and trim_threshold to twice that, and the
 *    next 200 KiB request comes from the heap; an mmapped chunk over
 *    32 MiB does not raise it; setting mmap_threshold turns the rule off;
 *  - trimming: freeing 3 MB of small blocks lowers the program break
 *    (trim past trim_threshold, keeping top_pad): with purge_delay_ms 0
 *    at once, as glibc; by default not at once, but once the top has
 *    stayed unused for the delay and a call reads the clock; with a huge
 *    trim_threshold it stays up until malloc_trim(0), which lowers it and
 *    returns 1; malloc_trim(pad) keeps pad bytes of top;
 *  - no grow/shrink ping-pong: 3 MB of blocks allocated and freed round
 *    after round, faster than the delay, keep the break where it is (no
 *    brk call, no fresh page); with purge_delay_ms 0 every round gives the
 *    memory back and takes it again;
 *  - brk blocked (a page mapped at the break): small blocks still
 *    succeed, are ordinary heap chunks (not IS_MMAPPED), and the main
 *    arena gains a segment (fence-posts at the seam).
 */
#include "mech.h"
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* Allocates all of the top but `leave` bytes, so the next request the
 * top cannot hold goes to the system.  Returns the filler block. */
static void *eat_top(size_t leave)
{
    struct ptalloc_arena_info ai = m_arena();
    if (ai.top_size < leave + 64)
        return NULL;
    void *p = malloc(ai.top_size - leave - 8);
    struct ptalloc_chunk_info ci = m_info(p);
    CHECKF(ci.where == PTALLOC_INUSE && ci.arena == 0, "filler not from the heap: %s",
           m_where_name(ci.where));
    ai = m_arena();
    CHECKF(ai.top_size == leave, "top is %zu bytes after the filler, want %zu", ai.top_size, leave);
    return p;
}

static void check_mmapped(void *p, size_t n, const char *what)
{
    struct ptalloc_chunk_info ci = m_info(p);
    CHECKF(ci.where == PTALLOC_MMAPPED && (ci.flags & PTALLOC_IS_MMAPPED) && ci.arena == -1,
           "%s: where %s flags %#x arena %d, want an mmapped chunk", what,
           m_where_name(ci.where), ci.flags, ci.arena);
    CHECKF(malloc_usable_size(p) == ci.size - 16 && malloc_usable_size(p) >= n,
           "%s: usable %zu of a %zu-byte chunk", what, malloc_usable_size(p), ci.size);
}

static void check_heap(void *p, const char *what)
{
    struct ptalloc_chunk_info ci = m_info(p);
    CHECKF(ci.where == PTALLOC_INUSE && !(ci.flags & PTALLOC_IS_MMAPPED) && ci.arena == 0,
           "%s: where %s flags %#x arena %d, want a chunk of the main heap", what,
           m_where_name(ci.where), ci.flags, ci.arena);
}

static void threshold(void)
{
    CHECK(m_get("mmap_threshold") == (long)(128 * KiB));
    void *f1 = eat_top(1024);
    void *a = malloc(128 * KiB);               /* chunk 131088 */
    check_mmapped(a, 128 * KiB, "malloc(128 KiB)");
    void *b = malloc(128 * KiB - 8);           /* chunk 131072: at the threshold */
    check_mmapped(b, 128 * KiB - 8, "malloc(128 KiB - 8)");
    void *c = malloc(128 * KiB - 24);          /* chunk 131056: below */
    check_heap(c, "malloc(128 KiB - 24)");
    void *d = malloc(1000);
    check_heap(d, "malloc(1000)");
    t_heap_check("threshold");

    /* a top big enough serves any size */
    CHECK(m_set("top_pad", (long)MiB) == 1);
    void *f2 = eat_top(1024);
    void *e = malloc(1000);                    /* grows the top by 1 MiB or more */
    struct ptalloc_arena_info ai = m_arena();
    CHECK(ai.top_size >= MiB);
    void *f = malloc(512 * KiB);
    check_heap(f, "malloc(512 KiB) with a 1 MiB top");
    free(a); free(b); free(c); free(d); free(e); free(f); free(f1); free(f2);

    /* mmap_max 0: no more mmapped chunks, big blocks come from the heap */
    CHECK(m_set("mmap_max", 0) == 1);
    void *f3 = eat_top(1024);
    void *h = malloc(2 * MiB);
    check_heap(h, "malloc(2 MiB) with mmap_max 0");
    CHECK(m_set("mmap_max", 65536) == 1);
    void *f4 = eat_top(1024);
    void *k = malloc(2 * MiB);
    check_mmapped(k, 2 * MiB, "malloc(2 MiB) with mmap_max 65536");
    free(h); free(k); free(f3); free(f4);
}

static void dynamic(void)
{
    CHECK(m_get("mmap_threshold") == (long)(128 * KiB));
    CHECK(m_get("trim_threshold") == (long)(128 * KiB));
    void *f1 = eat_top(1024);
    void *p = malloc(200 * KiB);
    check_mmapped(p, 200 * KiB, "malloc(200 KiB)");
    size_t s = m_size(p);
    free(p);
    CHECKF(m_get("mmap_threshold") == (long)s, "mmap_threshold %ld after freeing a %zu-byte chunk",
           m_get("mmap_threshold"), s);
    CHECK(m_get("trim_threshold") == (long)(2 * s));
    void *f2 = eat_top(1024);
    void *q = malloc(200 * KiB);
    check_heap(q, "malloc(200 KiB) after the rise");

    /* a smaller mmapped chunk (below the new threshold) changes nothing */
    void *f3 = eat_top(1024);
    void *r = malloc(s + 64 * KiB);
    check_mmapped(r, s + 64 * KiB, "malloc(threshold + 64 KiB)");
    size_t rs = m_size(r);
    free(r);
    CHECK(m_get("mmap_threshold") == (long)rs);

    /* an explicit setting turns the rule off */
    CHECK(m_set("mmap_threshold", (long)(128 * KiB)) == 1);
    CHECK(m_get("mmap_threshold") == (long)(128 * KiB));
    long trim = m_get("trim_threshold");
    void *f4 = eat_top(1024);
    void *m = malloc(300 * KiB);
    check_mmapped(m, 300 * KiB, "malloc(300 KiB) after setting the threshold");
    free(m);
    CHECK(m_get("mmap_threshold") == (long)(128 * KiB));
    CHECK(m_get("trim_threshold") == trim);
    free(q); free(f1); free(f2); free(f3); free(f4);
}

static void dynamic_cap(void)
{
    void *f = eat_top(1024);
    void *p = malloc(40 * MiB);
    check_mmapped(p, 40 * MiB, "malloc(40 MiB)");
    free(p);
    CHECK(m_get("mmap_threshold") == (long)(128 * KiB));
    CHECK(m_get("trim_threshold") == (long)(128 * KiB));
    /* mallopt(M_MMAP_THRESHOLD) turns it off too */
    CHECK(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1);
    void *f2 = eat_top(1024);
    p = malloc(200 * KiB);
    check_mmapped(p, 200 * KiB, "malloc(200 KiB)");
    free(p);
    CHECK(m_get("mmap_threshold") == (long)(128 * KiB));
    free(f);
    free(f2);
}

#define NBLK 3000
static void *blk[NBLK];

static int alloc_blocks(size_t n)
{
    for (int i = 0; i < NBLK; i++) {
        blk[i] = malloc(n);
        if (!blk[i]) {
            CHECKF(0, "malloc(%zu) #%d failed", n, i);
            return 0;
        }
        memset(blk[i], 0x5a, n);
    }
    return 1;
}
static void free_blocks(void)
{
    for (int i = 0; i < NBLK; i++)
        free(blk[i]);
}


/* Rounds of allocate-all, free-all, faster than the delay: the break stays
 * up.  With purge_delay_ms 0, each free-all lowers it, each round raises
 * it again. */
static void cycles(long delay)
{
    m_no_tcache();
    CHECK(m_set("purge_delay_ms", delay) == 1);
    if (!alloc_blocks(1000))
        return;
    char *b1 = sbrk(0);
    for (int round = 0; round < 4; round++) {
        free_blocks();
        char *b2 = sbrk(0);
        if (delay == 0)
            CHECKF(b2 <= b1 - 2500 * KiB, "delay 0, round %d: free-all lowered the break by %td bytes only",
                   round, b1 - b2);
        else
            CHECKF(b2 == b1, "round %d: free-all moved the break by %td bytes", round, b1 - b2);
        if (!alloc_blocks(1000))
            return;
        CHECKF((char *)sbrk(0) == b1, "round %d: the break is %td bytes off after regrowing", round,
               (char *)sbrk(0) - b1);
    }
    CHECK(m_get("trim_threshold") == (long)(128 * KiB));
    free_blocks();
    t_heap_check("cycles");
}
static void cycles_delayed(void) { cycles(1000); }
static void cycles_at_once(void) { cycles(0); }

static void trim(void)
{
    m_no_tcache();
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *b0 = sbrk(0);
    size_t sys0 = m_arena().system_bytes;
    if (!alloc_blocks(1000))
        return;
    char *b1 = sbrk(0);
    CHECKF(b1 >= b0 + 2500 * KiB, "the break grew by %td bytes only", b1 - b0);
    size_t sys1 = m_arena().system_bytes;
    CHECKF(sys1 - sys0 == (size_t)(b1 - b0), "system_bytes grew by %zu, the break by %td",
           sys1 - sys0, b1 - b0);
    CHECK(m_set("purge_delay_ms", 100) == 1);
    free_blocks();
    CHECKF(sbrk(0) == b1, "the break moved at once, by %td bytes", b1 - (char *)sbrk(0));
    /* The top's tail counts as unused from the next pass on; one delay
     * later it goes. */
    for (int i = 0; i < 3; i++) {
        usleep(110 * 1000);
        m_ticks();
    }
    char *b2 = sbrk(0);
    CHECKF(b2 <= b1 - 2500 * KiB, "the break went down by %td bytes only", b1 - b2);
    struct ptalloc_arena_info ai = m_arena();
    CHECKF(sys1 - ai.system_bytes == (size_t)(b1 - b2), "system_bytes fell by %zu, the break by %td",
           sys1 - ai.system_bytes, b1 - b2);
    CHECKF(ai.top_size >= 128 * KiB && ai.top_size < 128 * KiB + page + 64,
           "top keeps %zu bytes after the automatic trim, want top_pad", ai.top_size);
    CHECK(ai.top == (char *)b2 - ai.top_size);
    t_heap_check("automatic trim");

    /* no automatic trim: malloc_trim does it */
    CHECK(m_set("trim_threshold", 1L << 30) == 1);
    if (!alloc_blocks(1000))
        return;
    char *b3 = sbrk(0);
    free_blocks();
    CHECKF(sbrk(0) == b3, "the break moved with trim_threshold at 1 GiB");
    ai = m_arena();
    CHECK(ai.top_size >= 2500 * KiB);
    size_t sys_before = ai.system_bytes;
    CHECK(malloc_trim(0) == 1);
    char *b4 = sbrk(0);
    CHECKF(b4 <= b3 - 2500 * KiB, "malloc_trim(0) lowered the break by %td bytes only", b3 - b4);
    ai = m_arena();
    CHECKF(ai.top_size < page + 64, "top keeps %zu bytes after malloc_trim(0)", ai.top_size);
    CHECK(ai.top == b4 - ai.top_size);
    CHECK(ai.system_bytes == sys_before - (size_t)(b3 - b4));
    t_heap_check("malloc_trim(0)");

    /* malloc_trim(pad) keeps pad */
    if (!alloc_blocks(1000))
        return;
    free_blocks();
    CHECK(malloc_trim(256 * KiB) == 1);
    ai = m_arena();
    CHECKF(ai.top_size >= 256 * KiB && ai.top_size < 256 * KiB + page + 64,
           "top keeps %zu bytes after malloc_trim(256 KiB)", ai.top_size);
    CHECK((char *)sbrk(0) == (char *)ai.top + ai.top_size);
}

static int count_fences(void)
{
    int n = 0;
    m_collect();
    for (int i = 0; i < m_nch; i++)
        n += m_ch[i].where == PTALLOC_FENCE && m_ch[i].arena == 0;
    return n;
}

static void brk_blocked(void)
{
    m_no_tcache();
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    free(malloc(100));
    struct ptalloc_arena_info ai0 = m_arena();
    CHECK(ai0.segments == 1);
    CHECK(count_fences() == 0);
    uintptr_t at = ((uintptr_t)sbrk(0) + page - 1) & ~(uintptr_t)(page - 1);
    void *blocker = mmap((void *)at, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                         -1, 0);
    if (blocker != (void *)at) {
        CHECKF(0, "cannot map a page at the break: %s", blocker == MAP_FAILED ? strerror(errno) : "elsewhere");
        return;
    }
    CHECK(sbrk((intptr_t)page) == (void *)-1);

    if (!alloc_blocks(1000))
        return;
    int beyond = 0, bad = 0;
    for (int i = 0; i < NBLK; i++) {
        struct ptalloc_chunk_info ci = m_info(blk[i]);
        bad += ci.where != PTALLOC_INUSE || (ci.flags & PTALLOC_IS_MMAPPED) || ci.arena != 0;
        beyond += (uintptr_t)blk[i] > at;
    }
    CHECKF(bad == 0, "%d blocks are not ordinary heap chunks", bad);
    CHECKF(beyond > NBLK / 2, "only %d blocks beyond the break", beyond);
    void *mid = malloc(100 * KiB);
    check_heap(mid, "malloc(100 KiB) with brk blocked");
    struct ptalloc_arena_info ai = m_arena();
    CHECKF(ai.segments > 1, "the main arena has %d segment(s)", ai.segments);
    CHECK(count_fences() >= 2);              /* the old segment is closed */
    int maxseg = 0;
    for (int i = 0; i < m_nch; i++)
        if (m_ch[i].arena == 0 && m_ch[i].segment > maxseg)
            maxseg = m_ch[i].segment;
    CHECK(maxseg == ai.segments - 1);
    CHECK((uintptr_t)sbrk(0) <= at);
    t_heap_check("brk blocked");
    free_blocks();
    free(mid);
    t_heap_check("brk blocked, freed");
    void *again = malloc(1000);
    check_heap(again, "malloc(1000) after freeing");
    free(again);
    malloc_trim(0);
    munmap(blocker, page);
}

int main(void)
{
    m_in_child("threshold", threshold);
    m_in_child("dynamic threshold", dynamic);
    m_in_child("dynamic threshold cap", dynamic_cap);
    m_in_child("trim", trim);
    m_in_child("cycles, delayed", cycles_delayed);
    m_in_child("cycles, delay 0", cycles_at_once);
    m_in_child("brk blocked", brk_blocked);
    t_heap_check("end");
    return t_done();
}
