/*
 * Coalescing and fastbin consolidation (tcache off).
 *
 *  - a freed chunk writes its boundary tag: the next chunk's prev_size is
 *    its size and the next chunk's PREV_INUSE is clear;
 *  - free merges with the next chunk, with the previous chunk, with both,
 *    and into the top (the top moves down and grows by the freed size);
 *  - fastbin chunks are not merged, not even with the top;
 *  - consolidation of the fastbins happens on a large request (a chunk of
 *    1024 bytes or more), on the free of a chunk that is 64 KiB or more
 *    once merged, and in malloc_trim; not on a small request or the free
 *    of a smaller chunk.
 */
#include "mech.h"

#define S 272           /* chunk size of malloc(264): not a fastbin size */

static int adjacent(void **p, int n)
{
    for (int i = 0; i + 1 < n; i++)
        if ((char *)p[i + 1] != (char *)p[i] + m_size(p[i]))
            return 0;
    return 1;
}

static void neighbours(void)
{
    void *p[6];
    for (int i = 0; i < 5; i++)
        p[i] = malloc(S - 8);
    p[5] = malloc(24);                      /* guard: keeps E away from the top */
    CHECKF(adjacent(p, 6), "fresh chunks are not contiguous");
    void *A = p[0], *B = p[1], *C = p[2], *D = p[3], *E = p[4], *G = p[5];

    free(B);                                /* alone */
    CHECK_WHERE(B, PTALLOC_UNSORTED, 1);
    CHECK(m_size(B) == S);
    CHECK(!m_prev_inuse(C) && m_prev_size(C) == S);
    CHECK(m_prev_inuse(B));

    free(A);                                /* merges with the next chunk, B */
    CHECK_WHERE(A, PTALLOC_UNSORTED, 1);
    CHECK(m_size(A) == 2 * S);
    CHECK(!m_found(B));
    CHECK(!m_prev_inuse(C) && m_prev_size(C) == 2 * S);
    CHECK(m_binlist(PTALLOC_UNSORTED, 1) == 1);
    t_heap_check("merge with next");

    free(C);                                /* merges with the previous, A+B */
    CHECK_WHERE(A, PTALLOC_UNSORTED, 1);
    CHECK(m_size(A) == 3 * S);
    CHECK(!m_found(C));
    CHECK(!m_prev_inuse(D) && m_prev_size(D) == 3 * S);
    t_heap_check("merge with previous");

    free(E);
    CHECK(m_size(E) == S && !m_prev_inuse(G) && m_prev_size(G) == S);
    CHECK(m_binlist(PTALLOC_UNSORTED, 1) == 2);
    free(D);                                /* both neighbours: A+B+C, D, E */
    CHECK_WHERE(A, PTALLOC_UNSORTED, 1);
    CHECK(m_size(A) == 5 * S);
    CHECK(!m_found(D) && !m_found(E));
    CHECK(!m_prev_inuse(G) && m_prev_size(G) == 5 * S);
    CHECK(m_binlist(PTALLOC_UNSORTED, 1) == 1);
    t_heap_check("merge with both");

    free(G);                                 /* G: a fastbin chunk, not merged */
    CHECK_WHERE(G, PTALLOC_FASTBIN, 0);
    CHECK_WHERE(A, PTALLOC_UNSORTED, 1);
    CHECK(m_prev_inuse(m_next(G)));          /* still "in use" by the tags */
    t_heap_check("fastbins do not merge");
    m_settle();
    CHECK(m_binlist(PTALLOC_FASTBIN, 0) == 0);
}

static void into_top(void)
{
    void *G = malloc(24), *T1 = malloc(S - 8), *T2 = malloc(S - 8);
    struct ptalloc_arena_info ai = m_arena();
    CHECKF(ai.top == (char *)m_chunk(T2) + S && (char *)T2 == (char *)T1 + S,
           "T1, T2 do not border the top");
    size_t top0 = ai.top_size;
    free(T2);
    ai = m_arena();
    CHECK(ai.top == m_chunk(T2) && ai.top_size == top0 + S);
    CHECK_WHERE(T2, PTALLOC_TOP, -1);
    free(T1);
    ai = m_arena();
    CHECK(ai.top == m_chunk(T1) && ai.top_size == top0 + 2 * S);
    CHECK_WHERE(T1, PTALLOC_TOP, -1);
    CHECK(!m_found(T2));
    CHECK(m_binlist(PTALLOC_UNSORTED, 1) == 0);
    t_heap_check("merge into top");

    /* a fastbin chunk next to the top stays where it is */
    void *F = malloc(24);
    CHECK(F == T1);                          /* carved from the top */
    ai = m_arena();
    free(F);
    CHECK_WHERE(F, PTALLOC_FASTBIN, 0);
    struct ptalloc_arena_info ai2 = m_arena();
    CHECK(ai2.top == ai.top && ai2.top_size == ai.top_size);
    t_heap_check("fastbin chunk next to the top");
    free(G);
    m_settle();
    ai = m_arena();
    CHECK(m_binlist(PTALLOC_FASTBIN, 0) == 0);
    CHECK((char *)ai.top <= m_chunk(G));             /* everything went back to the top */
}

/* Three adjacent 32-byte fastbin chunks between two guards. */
struct fast3 { void *g0, *f[3], *g1; };

static void make_fast3(struct fast3 *t)
{
    /* a top big enough for what follows (a malloc the top cannot serve
     * consolidates the fastbins too) */
    free(malloc(100 * KiB));
    CHECK(m_arena().top_size >= 100 * KiB);
    t->g0 = malloc(200);
    for (int i = 0; i < 3; i++)
        t->f[i] = malloc(24);
    t->g1 = malloc(200);
    CHECKF(adjacent(t->f, 3), "fresh 32-byte chunks are not contiguous");
    for (int i = 0; i < 3; i++)
        free(t->f[i]);
    for (int i = 0; i < 3; i++)
        CHECK_WHERE(t->f[i], PTALLOC_FASTBIN, 0);
}

/* The three have become one free 96-byte chunk, out of the fastbins. */
static void check_consolidated(struct fast3 *t, const char *how)
{
    CHECKF(m_binlist(PTALLOC_FASTBIN, 0) == 0, "%s: fastbin[0] not emptied", how);
    struct ptalloc_chunk_info ci = m_info(t->f[0]);
    CHECKF(ci.size == 96 && (ci.where == PTALLOC_UNSORTED || ci.where == PTALLOC_SMALLBIN),
           "%s: merged chunk in %s, size %zu", how, m_where_name(ci.where), ci.size);
    CHECKF(!m_found(t->f[1]) && !m_found(t->f[2]), "%s: fastbin chunks not merged", how);
    CHECK(!m_prev_inuse(t->g1) && m_prev_size(t->g1) == 96);
}

static void free_fast3(struct fast3 *t)
{
    free(t->g0);
    free(t->g1);
    m_settle();
}

static void consolidate_on_large_request(void)
{
    struct fast3 t;
    make_fast3(&t);
    void *small = malloc(500);               /* small request: no consolidation */
    for (int i = 0; i < 3; i++)
        CHECK_WHERE(t.f[i], PTALLOC_FASTBIN, 0);
    void *mid = malloc(1000);                /* 1008: still small */
    CHECK_WHERE(t.f[0], PTALLOC_FASTBIN, 0);
    void *large = malloc(1016);              /* 1024: a large request */
    check_consolidated(&t, "large request");
    CHECK_WHERE(t.f[0], PTALLOC_SMALLBIN, 96 >> 4);   /* and it was sorted */
    t_heap_check("consolidate on large request");
    free(small);
    free(mid);
    free(large);
    free_fast3(&t);
}

static void consolidate_on_big_free(void)
{
    struct fast3 t;
    /* (allocated first: a large request would consolidate by itself) */
    void *l1 = malloc(40000), *l2 = malloc(40000), *g = malloc(24);
    make_fast3(&t);
    free(l1);                                /* under 64 KiB: no consolidation */
    for (int i = 0; i < 3; i++)
        CHECK_WHERE(t.f[i], PTALLOC_FASTBIN, 0);
    free(l2);                                /* merged with l1: 80 KiB */
    CHECK(m_size(l1) == 2 * ptalloc_request_size(40000));
    check_consolidated(&t, "free of a merged 80 KiB chunk");
    t_heap_check("consolidate on big free");
    free(g);
    free_fast3(&t);

    void *l = malloc(70000), *g2 = malloc(24);   /* 64 KiB or more by itself */
    make_fast3(&t);
    free(l);
    check_consolidated(&t, "free of a 70000-byte chunk");
    free(g2);
    free_fast3(&t);
}

static void consolidate_on_trim(void)
{
    struct fast3 t;
    make_fast3(&t);
    malloc_trim(0);
    check_consolidated(&t, "malloc_trim");
    t_heap_check("consolidate on trim");
    free_fast3(&t);
}

int main(void)
{
    m_no_tcache();
    m_settle();
    neighbours();
    into_top();
    consolidate_on_large_request();
    consolidate_on_big_free();
    consolidate_on_trim();
    t_heap_check("end");
    return t_done();
}
