/*
 * Bins, with the tcache switched off so frees reach them.
 *
 *  - placement: a freed chunk of 32..128 bytes goes to fastbin
 *    (size >> 4) - 2; 144 and 1056 bytes go to the unsorted bin (1);
 *  - fastbins are LIFO (ptalloc_bin order and reuse order);
 *  - the unsorted bin holds the newest first; a later malloc sorts it:
 *    small chunks go to small bin size >> 4, which is FIFO (the oldest
 *    freed chunk is reused first);
 *  - large bins are sorted by size, largest first in list order, equal
 *    sizes grouped; a large request takes the best fit (smallest chunk
 *    that fits), its remainder goes to the unsorted bin and does not
 *    become last_remainder; the binmap marks the non-empty bins;
 *  - last_remainder: a small request split from a bigger free chunk
 *    leaves the remainder as last_remainder, and consecutive small
 *    requests are carved from it one after another;
 *  - mxfast: 0 turns fastbins off, 160 extends them to 160-byte chunks.
 */
#include "mech.h"

static void fastbin_placement(void)
{
    void *p[9], *g[9];
    for (int i = 0; i < 9; i++) {
        size_t size = 32 + 16 * (size_t)i;       /* chunk sizes 32 .. 160 */
        p[i] = malloc(size - 8);
        g[i] = malloc(24);
        CHECK(m_size(p[i]) == size);
    }
    void *u = malloc(1048), *ug = malloc(24);    /* a 1056-byte chunk */
    CHECK(m_size(u) == 1056);
    for (int i = 0; i < 9; i++)
        free(p[i]);
    free(u);
    for (int i = 0; i < 7; i++) {               /* 32 .. 128: fastbins */
        size_t size = 32 + 16 * (size_t)i;
        CHECK_WHERE(p[i], PTALLOC_FASTBIN, (int)(size >> 4) - 2);
        CHECK(m_in_bin(PTALLOC_FASTBIN, (int)(size >> 4) - 2, p[i]));
        CHECK(m_prev_inuse(g[i]));               /* fastbin chunks stay "in use" */
    }
    CHECK_WHERE(p[7], PTALLOC_UNSORTED, 1);       /* 144 */
    CHECK_WHERE(p[8], PTALLOC_UNSORTED, 1);       /* 160 */
    CHECK_WHERE(u, PTALLOC_UNSORTED, 1);
    CHECK(m_in_bin(PTALLOC_UNSORTED, 1, u));
    CHECK(!m_prev_inuse(ug) && m_prev_size(ug) == 1056);
    t_heap_check("fastbin placement");
    for (int i = 0; i < 9; i++)
        free(g[i]);
    free(ug);
    m_settle();
}

static void fastbin_lifo(void)
{
    void *a = malloc(40), *b = malloc(40), *c = malloc(40);   /* 48-byte chunks */
    free(a);
    free(b);
    free(c);
    size_t n = m_binlist(PTALLOC_FASTBIN, 1);
    CHECKF(n == 3 && m_binbuf[0] == c && m_binbuf[1] == b && m_binbuf[2] == a,
           "fastbin[1] holds %zu, want c b a", n);
    t_heap_check("fastbin lifo");
    void *x = malloc(40), *y = malloc(40), *z = malloc(40);
    CHECK(x == c && y == b && z == a);
    CHECK(m_binlist(PTALLOC_FASTBIN, 1) == 0);
    free(x);
    free(y);
    free(z);
    m_settle();
}

static void smallbin_fifo(void)
{
    void *a = malloc(200), *ga = malloc(24);     /* 208-byte chunks */
    void *b = malloc(200), *gb = malloc(24);
    void *c = malloc(200), *gc = malloc(24);
    free(a);
    free(b);
    free(c);
    CHECK_WHERE(a, PTALLOC_UNSORTED, 1);
    size_t n = m_binlist(PTALLOC_UNSORTED, 1);
    CHECKF(n == 3 && m_binbuf[0] == c && m_binbuf[1] == b && m_binbuf[2] == a,
           "unsorted holds %zu, want c b a", n);

    void *big = malloc(3000);                    /* sorts the unsorted bin */
    CHECK(m_binlist(PTALLOC_UNSORTED, 1) == 0);
    CHECK_WHERE(a, PTALLOC_SMALLBIN, 208 >> 4);
    CHECK_WHERE(b, PTALLOC_SMALLBIN, 13);
    CHECK_WHERE(c, PTALLOC_SMALLBIN, 13);
    n = m_binlist(PTALLOC_SMALLBIN, 13);
    CHECKF(n == 3 && m_binbuf[0] == c && m_binbuf[1] == b && m_binbuf[2] == a,
           "smallbin[13] holds %zu, want c b a", n);
    struct ptalloc_arena_info ai = m_arena();
    CHECK(ai.binmap[13 / 32] & (1u << (13 % 32)));
    t_heap_check("small bin");

    void *x = malloc(200), *y = malloc(200), *z = malloc(200);
    CHECKF(x == a && y == b && z == c, "small bin reuse order is not FIFO");
    CHECK(m_binlist(PTALLOC_SMALLBIN, 13) == 0);
    free(x); free(y); free(z);
    free(ga); free(gb); free(gc);
    free(big);
    m_settle();
}

static void largebin_sorted_bestfit(void)
{
    /* bin 97 holds chunk sizes 3136 .. 3583 */
    static const size_t sizes[] = { 3328, 3568, 3200, 3456, 3456 };
    void *p[5], *g[5];
    for (int i = 0; i < 5; i++) {
        p[i] = malloc(sizes[i] - 8);
        g[i] = malloc(24);
        CHECK(m_size(p[i]) == sizes[i]);
        CHECK(ptalloc_bin_index(sizes[i]) == 97);
    }
    for (int i = 0; i < 5; i++)
        free(p[i]);
    for (int i = 0; i < 5; i++)
        CHECK_WHERE(p[i], PTALLOC_UNSORTED, 1);
    void *big = malloc(8000);                    /* sorts them */
    for (int i = 0; i < 5; i++)
        CHECK_WHERE(p[i], PTALLOC_LARGEBIN, 97);
    size_t n = m_binlist(PTALLOC_LARGEBIN, 97);
    CHECK(n == 5);
    static const size_t want[] = { 3568, 3456, 3456, 3328, 3200 };
    for (size_t i = 0; i < n && i < 5; i++)
        CHECKF(m_size(m_binbuf[i]) == want[i], "large bin 97 entry %zu has size %zu, want %zu",
               i, m_size(m_binbuf[i]), want[i]);
    CHECK(n == 5 && m_binbuf[0] == p[1] && m_binbuf[3] == p[0] && m_binbuf[4] == p[2]);
    struct ptalloc_arena_info ai = m_arena();
    CHECK(ai.binmap[97 / 32] & (1u << (97 % 32)));
    t_heap_check("large bin sorted");

    /* best fit: 3248 bytes fit 3328, 3456 and 3568; 3328 is taken */
    void *q = malloc(3240);
    CHECKF(q == p[0], "best fit took a %zu-byte chunk", m_size(q));
    CHECK(m_size(q) == 3248);
    void *rem = (char *)q + 3248;
    CHECK_WHERE(rem, PTALLOC_UNSORTED, 1);
    CHECK(m_size(rem) == 80);
    ai = m_arena();
    CHECK(ai.last_remainder != m_chunk(rem));   /* only small requests set it */
    t_heap_check("best fit");

    /* an exact size among equals: one of the two 3456 chunks */
    void *e = malloc(3448);
    CHECK(e == p[3] || e == p[4]);
    CHECK(m_size(e) == 3456);
    void *other = e == p[3] ? p[4] : p[3];
    CHECK_WHERE(other, PTALLOC_LARGEBIN, 97);
    n = m_binlist(PTALLOC_LARGEBIN, 97);
    CHECK(n == 3 && m_binbuf[0] == p[1] && m_binbuf[1] == other && m_binbuf[2] == p[2]);

    /* nothing in bin 97 fits 3584: the next non-empty larger bin, or the top */
    void *f = malloc(3576);
    CHECK(f != p[1] && f != other && f != p[2]);
    t_heap_check("large bin after best fits");

    free(q); free(e); free(f); free(big);
    for (int i = 0; i < 5; i++)
        free(g[i]);
    m_settle();
}

/* Many chunks of bin 97 (3136..3583) with repeated sizes, taken by best fit
 * one request at a time, against a model of the bin. */
#define NR 48
static void largebin_random(void)
{
    unsigned long long seed = 97;
    void *p[NR], *g[NR];
    size_t model[NR];
    int nmodel = 0;
    for (int i = 0; i < NR; i++) {
        size_t s = 3136 + 64 * (t_rand(&seed) % 7);        /* 7 distinct sizes */
        p[i] = malloc(s - 8);
        g[i] = malloc(24);
        model[nmodel++] = s;
    }
    for (int i = 0; i < NR; i++)
        free(p[i]);
    void *big = malloc(9000);
    static void *taken[64];
    int steps = 0, ntaken = 0;
    for (;;) {
        size_t n = m_binlist(PTALLOC_LARGEBIN, 97);
        CHECKF((int)n == nmodel, "large bin 97 holds %zu chunks, model %d", n, nmodel);
        int unsorted_order = 0, mismatch = 0;
        for (size_t i = 1; i < n; i++)
            unsorted_order += m_size(m_binbuf[i]) > m_size(m_binbuf[i - 1]);
        /* same multiset */
        size_t cnt[NR] = { 0 };
        for (size_t i = 0; i < n; i++)
            for (int k = 0; k < nmodel; k++)
                if (!cnt[k] && model[k] == m_size(m_binbuf[i])) {
                    cnt[k] = 1;
                    break;
                }
        for (int k = 0; k < nmodel; k++)
            mismatch += !cnt[k];
        CHECKF(unsorted_order == 0, "large bin 97 not sorted (step %d)", steps);
        CHECKF(mismatch == 0, "large bin 97 differs from the model (step %d)", steps);
        if (nmodel == 0 || steps++ > 60 || unsorted_order || mismatch)
            break;
        size_t nb = 3136 + 16 * (t_rand(&seed) % 28);
        int best = -1;
        for (int k = 0; k < nmodel; k++)
            if (model[k] >= nb && (best < 0 || model[k] < model[best]))
                best = k;
        void *q = malloc(nb - 8);
        taken[ntaken++] = q;
        size_t got = m_size(q);
        if (best >= 0) {
            size_t want = model[best] - nb < 32 ? model[best] : nb;
            CHECKF(got == want && ptalloc_bin_index(got) <= 97,
                   "request %zu: got a %zu-byte chunk, best fit is %zu", nb, got, model[best]);
            model[best] = model[--nmodel];
        }
        t_heap_check("large bin best fit");
    }
    free(big);
    for (int i = 0; i < ntaken; i++)
        free(taken[i]);
    for (int i = 0; i < NR; i++)
        free(g[i]);
    m_settle();
}

static void last_remainder(void)
{
    void *b = malloc(3992), *gb = malloc(24);    /* a 4000-byte chunk */
    free(b);
    void *big = malloc(8000);                    /* b goes to its large bin */
    CHECK_WHERE(b, PTALLOC_LARGEBIN, ptalloc_bin_index(4000));

    char *p1 = malloc(100);                      /* 112: split from b */
    CHECKF(p1 == b, "the small request was not split from the free chunk");
    struct ptalloc_arena_info ai = m_arena();
    CHECKF(ai.last_remainder == p1 - 16 + 112, "last_remainder %p, want %p",
           ai.last_remainder, (void *)(p1 - 16 + 112));
    CHECK_WHERE(p1 + 112, PTALLOC_UNSORTED, 1);
    CHECK(m_size(p1 + 112) == 4000 - 112);

    char *p2 = malloc(100), *p3 = malloc(100), *p4 = malloc(300);
    CHECKF(p2 == p1 + 112 && p3 == p2 + 112 && p4 == p3 + 112,
           "consecutive small requests are not carved one after another");
    ai = m_arena();
    CHECK(ai.last_remainder == p4 - 16 + 320);
    CHECK_WHERE(p4 + 320, PTALLOC_UNSORTED, 1);
    CHECK(m_size(p4 + 320) == 4000 - 3 * 112 - 320);
    t_heap_check("last remainder");
    free(p1); free(p2); free(p3); free(p4);
    free(gb);
    free(big);
    m_settle();
}

static void mxfast(void)
{
    CHECK(m_get("mxfast") == 128);
    CHECK(m_set("mxfast", 0) == 1);
    void *a = malloc(24), *ga = malloc(24);
    free(a);
    CHECK_WHERE(a, PTALLOC_UNSORTED, 1);
    CHECK(m_set("mxfast", 160) == 1);
    void *b = malloc(152), *gb = malloc(24), *c = malloc(168), *gc = malloc(24);
    CHECK(m_size(b) == 160 && m_size(c) == 176);
    free(b);
    free(c);
    CHECK_WHERE(b, PTALLOC_FASTBIN, 8);
    CHECK_WHERE(c, PTALLOC_UNSORTED, 1);
    t_heap_check("mxfast");
    CHECK(m_set("mxfast", 128) == 1);
    free(ga); free(gb); free(gc);
    m_settle();
    void *d = malloc(120), *gd = malloc(24), *e = malloc(136), *ge = malloc(24);
    free(d);
    free(e);
    CHECK_WHERE(d, PTALLOC_FASTBIN, 6);
    CHECK_WHERE(e, PTALLOC_UNSORTED, 1);
    free(gd); free(ge);
    m_settle();
}

int main(void)
{
    m_no_tcache();
    fastbin_placement();
    fastbin_lifo();
    smallbin_fifo();
    largebin_sorted_bestfit();
    largebin_random();
    last_remainder();
    mxfast();
    t_heap_check("end");
    return t_done();
}
