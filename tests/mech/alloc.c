/*
 * calloc, the memalign family and realloc as the design describes them
 * (tcache off).
 *
 *  - calloc is zero whatever the memory's past: a dirty chunk reused from
 *    a bin, a dirty old top extended with fresh memory from the kernel
 *    (only the old part may need clearing), a fresh mmapped chunk, a
 *    chunk from the thread cache;
 *  - memalign returns aligned pointers; the over-allocation's leading piece
 *    and trailing piece are given back: the heap walk shows a free chunk
 *    (in a bin) right before and right after the aligned chunk, or the top
 *    after it when it was carved from the top;
 *  - realloc in place: growing into the top or into a free next chunk
 *    returns the same pointer (the spare tail becomes a free chunk);
 *    shrinking returns the same pointer and the tail becomes free; a slack
 *    under 32 bytes changes nothing; when the next chunk is in use the
 *    block moves and the old chunk is freed; contents are kept; an mmapped
 *    block grows in place or moves with its contents, and a small realloc
 *    of it moves it to the heap.
 */
#include "mech.h"

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}
static int all_byte(const unsigned char *p, size_t n, unsigned char c)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != c)
            return 0;
    return 1;
}

static void calloc_zero(void)
{
    /* a dirty chunk from a bin */
    unsigned char *d = malloc(5000), *g = malloc(24);
    memset(d, 0xab, malloc_usable_size(d));
    free(d);
    unsigned char *c = calloc(1, 5000);
    CHECK(c == d);
    CHECK(c && all_zero(c, malloc_usable_size(c)));
    free(c);
    free(g);
    m_settle();

    /* mmapped: fresh from the kernel */
    c = calloc(1, 2 * MiB);
    CHECK(m_where(c) == PTALLOC_MMAPPED);
    CHECK(c && all_zero(c, 2 * MiB));
    free(c);

    /* a dirty top, extended by the kernel's fresh memory (the mmap
     * threshold raised, so that the big blocks come from the heap) */
    CHECK(m_set("mmap_threshold", (long)(8 * MiB)) == 1);
    free(malloc(100 * KiB));                  /* a top of 128 KiB or more */
    struct ptalloc_arena_info ai = m_arena();
    CHECK(ai.top_size >= 100 * KiB);
    size_t top = ai.top_size;
    unsigned char *t = malloc(top - 64);      /* nearly all of the top */
    CHECK(m_where(t) == PTALLOC_INUSE);
    memset(t, 0xcd, malloc_usable_size(t));
    free(t);                                  /* back into the top, dirty */
    ai = m_arena();
    CHECK(ai.top == m_chunk(t));
    size_t want = ai.top_size + 100 * KiB;    /* more than the top holds */
    c = calloc(1, want);
    CHECK(c == t);                            /* the old top, then fresh memory */
    CHECK(m_where(c) == PTALLOC_INUSE);
    CHECKF(c && all_zero(c, malloc_usable_size(c)), "calloc over a dirty top is not zero");
    memset(c, 0xee, want);
    free(c);

    /* the same, again: the old top is dirty up to its end now */
    ai = m_arena();
    want = ai.top_size + 300 * KiB;
    c = calloc(want, 1);
    CHECK(m_where(c) == PTALLOC_INUSE);
    CHECKF(c && all_zero(c, malloc_usable_size(c)), "calloc over a dirty top is not zero (2)");
    free(c);

    /* a dirty chunk with a dirty neighbour merged in */
    unsigned char *a = malloc(3000), *b = malloc(3000), *g2 = malloc(24);
    memset(a, 0x11, 3000);
    memset(b, 0x22, 3000);
    free(a);
    free(b);
    c = calloc(2, 2900);
    CHECK(c == a);
    CHECK(c && all_zero(c, malloc_usable_size(c)));
    free(c);
    free(g2);

    CHECK(m_set("mmap_threshold", (long)(128 * KiB)) == 1);
    m_settle();
}

static void calloc_tcache(void)
{
    CHECK(m_set("tcache_count", 7) == 1);
    unsigned char *p = malloc(100);
    memset(p, 0x77, malloc_usable_size(p));
    free(p);
    CHECK_WHERE(p, PTALLOC_TCACHE, (112 >> 4) - 2);
    unsigned char *c = calloc(10, 10);
    CHECK(c == p);
    CHECK(c && all_zero(c, malloc_usable_size(c)));
    free(c);
    CHECK(m_set("tcache_count", 0) == 1);
    m_settle();
}

/* The walk's neighbours of the chunk at mem; *next_used is the first
 * chunk after mem's that is not free in a bin (the top, an in-use chunk). */
static void around(void *mem, struct ptalloc_chunk_info *before, struct ptalloc_chunk_info *after,
                   struct ptalloc_chunk_info *next_used)
{
    m_collect();
    int i = m_find(mem);
    memset(before, 0, sizeof *before);
    memset(after, 0, sizeof *after);
    memset(next_used, 0, sizeof *next_used);
    before->where = after->where = next_used->where = -1;
    CHECK(i >= 0);
    if (i < 0)
        return;
    if (i > 0 && m_ch[i - 1].arena == m_ch[i].arena && m_ch[i - 1].segment == m_ch[i].segment)
        *before = m_ch[i - 1];
    if (i + 1 < m_nch && m_ch[i + 1].arena == m_ch[i].arena && m_ch[i + 1].segment == m_ch[i].segment)
        *after = m_ch[i + 1];
    for (int j = i + 1; j < m_nch && m_ch[j].segment == m_ch[i].segment; j++)
        if (!m_is_free(m_ch[j].where)) {
            *next_used = m_ch[j];
            break;
        }
}

static void memalign_pieces(void)
{
    static const size_t aligns[] = { 32, 64, 256, 1024, 4096, 16384 };
    for (size_t k = 0; k < sizeof aligns / sizeof aligns[0]; k++) {
        size_t al = aligns[k];
        /* from a free chunk with a live guard after it */
        char *x = malloc(60000), *g = malloc(24);
        free(x);
        char *p = memalign(al, 1000);
        CHECKF(p && (uintptr_t)p % al == 0, "memalign(%zu) = %p", al, (void *)p);
        if (!p)
            continue;
        struct ptalloc_chunk_info ci = m_info(p), before, after, used;
        CHECK(ci.where == PTALLOC_INUSE && ci.size >= 1008 && ci.size < 1008 + 32);
        CHECK(malloc_usable_size(p) >= 1000);
        around(p, &before, &after, &used);
        if (ci.chunk != m_chunk(x)) {
            CHECKF(before.chunk == m_chunk(x) && m_is_free(before.where),
                   "memalign(%zu): the leading piece is %s", al, m_where_name(before.where));
            CHECK((char *)before.chunk + before.size == (char *)ci.chunk);
        }
        CHECKF(m_is_free(after.where), "memalign(%zu): the trailing piece is %s", al,
               m_where_name(after.where));
        CHECKF(used.chunk == m_chunk(g), "memalign(%zu): a %s chunk between the aligned "
               "chunk and the guard", al, m_where_name(used.where));
        t_heap_check("memalign from a bin");
        memset(p, 1, 1000);
        free(p);
        free(g);
        m_settle();

        /* from the top: the trailing piece goes back to the top */
        char *h = malloc(24);
        p = memalign(al, 1000);
        CHECK(p && (uintptr_t)p % al == 0);
        around(p, &before, &after, &used);
        CHECKF(used.where == PTALLOC_TOP && (after.where == PTALLOC_TOP || m_is_free(after.where)),
               "memalign(%zu) from the top: next is %s, then %s", al,
               m_where_name(after.where), m_where_name(used.where));
        if (m_chunk(p) != h + m_size(h) - 16)
            CHECKF(m_is_free(before.where) && (char *)before.chunk == h - 16 + m_size(h),
                   "memalign(%zu) from the top: the leading piece is %s", al,
                   m_where_name(before.where));
        t_heap_check("memalign from the top");
        free(p);
        free(h);
        m_settle();
    }

    void *q = NULL;
    CHECK(posix_memalign(&q, 8192, 3000) == 0 && (uintptr_t)q % 8192 == 0);
    free(q);
    q = aligned_alloc(512, 512 * 3);
    CHECK(q && (uintptr_t)q % 512 == 0);
    free(q);
    q = valloc(100);
    CHECK(q && (uintptr_t)q % (uintptr_t)sysconf(_SC_PAGESIZE) == 0);
    free(q);
    q = memalign(1 * MiB, 300 * KiB);          /* an aligned mmapped chunk */
    CHECK(q && (uintptr_t)q % MiB == 0);
    CHECK(m_where(q) == PTALLOC_MMAPPED);
    free(q);
    m_settle();
}

static void realloc_in_place(void)
{
    /* into a top that must grow first: still in place */
    unsigned char *p = malloc(100);
    struct ptalloc_arena_info ai = m_arena();
    CHECK(ai.top == m_chunk(p) + m_size(p));
    if (ai.top_size < 5008) {
        memset(p, 0x30, 100);
        unsigned char *r0 = realloc(p, 50000);
        CHECK(r0 == p && m_size(r0) >= 50016);
        CHECK(r0 && all_byte(r0, 100, 0x30));
        t_heap_check("realloc over a growing top");
        p = r0;
    }
    free(p);
    m_settle();
    free(malloc(100 * KiB));                  /* a top of 100 KiB or more */

    /* into the top */
    p = malloc(100);
    memset(p, 0x31, 100);
    ai = m_arena();
    CHECK(ai.top == m_chunk(p) + m_size(p) && ai.top_size >= 100 * KiB);
    unsigned char *r = realloc(p, 5000);
    CHECK(r == p);
    CHECK(m_size(r) == 5008);
    ai = m_arena();
    CHECK(ai.top == m_chunk(r) + 5008);
    CHECK(all_byte(r, 100, 0x31));

    /* shrink: the tail becomes a free chunk next to the top -> the top */
    unsigned char *g = malloc(24);            /* keep r away from the top */
    r = realloc(r, 1000);
    CHECK(r == p && m_size(r) == 1008);
    unsigned char *tail = r + 1008;
    CHECK_WHERE(tail, PTALLOC_UNSORTED, 1);
    CHECK(m_size(tail) == 5008 - 1008);
    CHECK(!m_prev_inuse(g) && m_prev_size(g) == 4000);
    CHECK(all_byte(r, 100, 0x31));
    t_heap_check("realloc shrink");

    /* small slack: nothing happens */
    r = realloc(r, 990);
    CHECK(r == p && m_size(r) == 1008);
    r = realloc(r, 1000);
    CHECK(r == p && m_size(r) == 1008);

    /* grow into the free next chunk (the tail): same pointer, the rest free */
    r = realloc(r, 3000);
    CHECK(r == p && m_size(r) == 3008);
    CHECK_WHERE(r + 3008, PTALLOC_UNSORTED, 1);
    CHECK(m_size(r + 3008) == 5008 - 3008);
    CHECK(all_byte(r, 100, 0x31));
    t_heap_check("realloc grow into a free chunk");

    /* grow exactly over the whole free next chunk */
    r = realloc(r, 5000);
    CHECK(r == p && m_size(r) == 5008);
    CHECK(m_prev_inuse(g));
    CHECK(m_binlist(PTALLOC_UNSORTED, 1) == 0);

    /* the spare tail of a merge that is a fastbin size */
    unsigned char *a = malloc(200), *b = malloc(500), *g2 = malloc(24);   /* 208, 512 */
    memset(a, 0x42, 200);
    free(b);
    unsigned char *a2 = realloc(a, 600);                                   /* 608 of 720 */
    CHECK(a2 == a && m_size(a2) == 608);
    CHECK_WHERE(a2 + 608, PTALLOC_FASTBIN, (112 >> 4) - 2);
    CHECK(all_byte(a2, 200, 0x42));

    /* the next chunk in use: the block moves, the old chunk is freed */
    unsigned char *m = realloc(a2, 2000);
    CHECK(m != a2);
    CHECK(m && all_byte(m, 200, 0x42));
    CHECK(m_is_free(m_where(a2)));
    t_heap_check("realloc move");
    free(m);
    free(r);
    free(g);
    free(g2);
    m_settle();

    /* mmapped */
    unsigned char *big = malloc(300 * KiB);
    CHECK(m_where(big) == PTALLOC_MMAPPED);
    memset(big, 0x66, 300 * KiB);
    unsigned char *big2 = realloc(big, 900 * KiB);
    CHECK(big2 && m_where(big2) == PTALLOC_MMAPPED);
    CHECK(big2 && all_byte(big2, 300 * KiB, 0x66));
    CHECK(malloc_usable_size(big2) >= 900 * KiB);
    unsigned char *small = realloc(big2, 100);
    CHECK(small && m_where(small) == PTALLOC_INUSE);
    CHECK(small && all_byte(small, 100, 0x66));
    free(small);
    m_settle();
}

int main(void)
{
    m_no_tcache();
    m_settle();
    calloc_zero();
    calloc_tcache();
    memalign_pieces();
    realloc_in_place();
    t_heap_check("end");
    return t_done();
}
