/*
 * The per-thread cache.
 *
 *  - defaults: 7 entries per bin, requests up to 1032 bytes;
 *  - every chunk size 32..1040 is cached in tcache bin (size >> 4) - 2 and
 *    handed back by the next malloc of that size; 1056 is not cached;
 *    mmapped chunks never are;
 *  - a bin takes 7 chunks, LIFO (ptalloc_bin order and reuse order); the
 *    8th goes to the fastbin / unsorted bin;
 *  - a long run of frees of one fastbin size moves the older half of the
 *    full bin to the fastbin too: the cache keeps only chunks among the
 *    last 8 freed, every chunk is in one or the other, all come back;
 *  - a malloc served from a fastbin or small bin moves the rest of that
 *    bin into the (empty) cache: from the fastbin newest first, from the
 *    small bin oldest first;
 *  - memalign takes a cached chunk of its size that is aligned as asked,
 *    wherever it is in the bin, and leaves the others in order;
 *  - tcache_count and tcache_max take effect (and setting them flushes);
 *  - ptalloc_thread_flush empties the cache into the arena, as thread
 *    exit does: a chunk cached by an exiting thread lands in the fastbin.
 */
#include "mech.h"
#include <pthread.h>

static void sizes(void)
{
    for (size_t s = 32; s <= 1040; s += 16) {
        int idx = (int)(s >> 4) - 2;
        void *p = malloc(s - 8);
        CHECK(m_size(p) == s);
        size_t before = ptalloc_bin(0, PTALLOC_TCACHE, idx, m_binbuf, M_BINMAX);
        free(p);
        CHECK_WHERE(p, PTALLOC_TCACHE, idx);
        CHECKF(ptalloc_bin(0, PTALLOC_TCACHE, idx, m_binbuf, M_BINMAX) == before + 1 &&
               m_binbuf[0] == p, "tcache[%d] head is not the chunk just freed", idx);
        void *q = malloc(s - 8);
        CHECKF(q == p, "malloc(%zu) did not take the cached chunk", s - 8);
        free(q);
    }
    /* 1056: past the 64 bins, the first class of the mid-size cache;
     * 4144: past that too. */
    void *p = malloc(1048), *g = malloc(2000), *b = malloc(4136), *g2 = malloc(2000);
    free(p);
    CHECK_WHERE(p, PTALLOC_TCACHE, 64);
    free(b);
    CHECK_WHERE(b, PTALLOC_UNSORTED, 1);
    free(g2);
    void *m = malloc(200 * KiB);
    CHECK(m_where(m) == PTALLOC_MMAPPED);
    free(m);
    CHECK(!m_found(m));
    free(g);
    t_heap_check("tcache sizes");
}

static void fill_and_overflow(void)
{
    ptalloc_thread_flush();
    void *p[8];
    for (int i = 0; i < 8; i++)
        p[i] = malloc(40);                       /* 48-byte chunks, tcache bin 1 */
    for (int i = 0; i < 8; i++)
        free(p[i]);
    for (int i = 0; i < 7; i++)
        CHECK_WHERE(p[i], PTALLOC_TCACHE, 1);
    CHECK_WHERE(p[7], PTALLOC_FASTBIN, 1);
    size_t n = ptalloc_bin(0, PTALLOC_TCACHE, 1, m_binbuf, M_BINMAX);
    CHECK(n == 7);
    for (size_t i = 0; i < n && i < 7; i++)
        CHECKF(m_binbuf[i] == p[6 - i], "tcache[1] entry %zu is not the %zuth freed", i, 7 - i);
    t_heap_check("tcache full");
    for (int i = 6; i >= 0; i--) {
        void *q = malloc(40);
        CHECKF(q == p[i], "tcache reuse is not LIFO");
    }
    void *q = malloc(40);
    CHECK(q == p[7]);                            /* then the fastbin */
    for (int i = 0; i < 8; i++)
        free(p[i]);
    ptalloc_thread_flush();
    malloc_trim(0);
}

static void spill(void)
{
    enum { N = 200 };
    static void *p[N], *q[N];
    ptalloc_thread_flush();
    for (int i = 0; i < N; i++)
        p[i] = malloc(40);                       /* 48-byte chunks, tcache bin 1 */
    for (int i = 0; i < N; i++)
        free(p[i]);
    size_t n = ptalloc_bin(0, PTALLOC_TCACHE, 1, m_binbuf, M_BINMAX);
    CHECKF(n >= 1 && n <= 7, "tcache[1] holds %zu chunks", n);
    for (size_t i = 0; i < n && i < 7; i++) {
        int j = N - 1;
        while (j >= 0 && p[j] != m_binbuf[i])
            j--;
        CHECKF(j >= N - 8, "tcache[1] entry %zu is p[%d], not one of the last 8 freed", i, j);
    }
    for (int i = 0; i < N; i++) {
        int w = m_where(p[i]);
        CHECKF(w == PTALLOC_TCACHE || w == PTALLOC_FASTBIN, "p[%d] is in %s", i, m_where_name(w));
    }
    CHECK_WHERE(p[0], PTALLOC_FASTBIN, 1);      /* the first cached, moved on */
    t_heap_check("tcache spilled");
    for (int i = 0; i < N; i++) {
        q[i] = malloc(40);
        int found = 0;
        for (int j = 0; j < N; j++)
            found += q[i] == p[j];
        for (int j = 0; j < i; j++)
            found += (q[i] == q[j]) * 100;
        CHECKF(found == 1, "malloc %d after the spill: %p is not a fresh one of the freed", i, q[i]);
    }
    for (int i = 0; i < N; i++)
        free(q[i]);
    ptalloc_thread_flush();
    malloc_trim(0);
}

static void stash_fastbin(void)
{
    void *p[14];
    for (int i = 0; i < 14; i++)
        p[i] = malloc(24);
    for (int i = 0; i < 14; i++)
        free(p[i]);
    CHECK(ptalloc_bin(0, PTALLOC_TCACHE, 0, m_binbuf, M_BINMAX) == 7);
    CHECK(m_binlist(PTALLOC_FASTBIN, 0) == 7);
    for (int i = 0; i < 7; i++)
        CHECK(malloc(24) == p[6 - i]);
    CHECK(ptalloc_bin(0, PTALLOC_TCACHE, 0, m_binbuf, M_BINMAX) == 0);
    void *q = malloc(24);                        /* the fastbin's head, p[13] */
    CHECK(q == p[13]);
    CHECK(m_binlist(PTALLOC_FASTBIN, 0) == 0);
    size_t n = ptalloc_bin(0, PTALLOC_TCACHE, 0, m_binbuf, M_BINMAX);
    CHECKF(n == 6, "%zu chunks moved from the fastbin into the cache", n);
    for (int i = 7; i < 13; i++)
        CHECK_WHERE(p[i], PTALLOC_TCACHE, 0);
    /* the cache is now drained in the reverse order of the fastbin */
    for (int i = 7; i < 13; i++)
        CHECK(malloc(24) == p[i]);
    t_heap_check("stash from fastbin");
    for (int i = 0; i < 14; i++)
        free(p[i]);
    ptalloc_thread_flush();
    malloc_trim(0);
}

static void stash_smallbin(void)
{
    void *p[14], *g[14];
    for (int i = 0; i < 14; i++) {
        p[i] = malloc(200);                      /* 208, tcache bin 11, small bin 13 */
        g[i] = malloc(24);
    }
    for (int i = 0; i < 14; i++)
        free(p[i]);
    CHECK(ptalloc_bin(0, PTALLOC_TCACHE, 11, m_binbuf, M_BINMAX) == 7);
    for (int i = 7; i < 14; i++)
        CHECK_WHERE(p[i], PTALLOC_UNSORTED, 1);
    void *big = malloc(3000);                    /* sorts them into small bin 13 */
    for (int i = 7; i < 14; i++)
        CHECK_WHERE(p[i], PTALLOC_SMALLBIN, 13);
    for (int i = 0; i < 7; i++)
        CHECK(malloc(200) == p[6 - i]);
    void *q = malloc(200);                       /* the oldest of the small bin */
    CHECK(q == p[7]);
    CHECK(m_binlist(PTALLOC_SMALLBIN, 13) == 0);
    CHECK(ptalloc_bin(0, PTALLOC_TCACHE, 11, m_binbuf, M_BINMAX) == 6);
    for (int i = 8; i < 14; i++)
        CHECK_WHERE(p[i], PTALLOC_TCACHE, 11);
    t_heap_check("stash from small bin");
    for (int i = 0; i < 14; i++) {
        if (i < 8)
            free(p[i]);                          /* p[8..13] are still cached */
        free(g[i]);
    }
    free(big);
    ptalloc_thread_flush();
    malloc_trim(0);
}

/* memalign looks in the cache of its size for an entry that happens to
 * be aligned, wherever it is in the list, and unlinks just that one. */
static void memalign_reuse(void)
{
    ptalloc_thread_flush();
    /* its chunk may be a little larger than asked (the piece after it too
     * small to give back): ask again for what it holds, as glibc's
     * tst-memalign-2 does */
    void *p = memalign(64, 200);
    CHECK(p && (uintptr_t)p % 64 == 0);
    size_t usable = malloc_usable_size(p);
    int bin = (int)(m_size(p) >> 4) - 2;
    free(p);
    CHECK_WHERE(p, PTALLOC_TCACHE, bin);
    void *q = memalign(64, usable);
    CHECKF(q == p, "memalign(64, %zu) did not take back its cached chunk", usable);
    CHECK(m_binlist(PTALLOC_TCACHE, bin) == 0);
    free(q);
    ptalloc_thread_flush();

    /* five cached 208-byte chunks (user pointers 208 apart: one in four is
     * 64-aligned), the aligned one in the middle of the list */
    void *all[16], *b[5] = { 0 };
    int nu = 0, na = 0;
    for (int i = 0; i < 16; i++) {
        all[i] = malloc(200);
        if ((uintptr_t)all[i] % 64 == 0) {
            if (!na++)
                b[2] = all[i], all[i] = NULL;
        } else if (nu < 4) {
            b[nu < 2 ? nu : nu + 1] = all[i], all[i] = NULL;
            nu++;
        }
    }
    CHECKF(na > 0 && nu == 4, "no mix of aligned and unaligned 208-byte chunks (%d, %d)", na, nu);
    if (na > 0 && nu == 4) {
        for (int i = 0; i < 5; i++)
            free(b[i]);                          /* bin 11: b4 b3 b2 b1 b0 */
        void *r = memalign(64, 200);
        CHECKF(r == b[2], "memalign took %p, want the cached aligned %p", r, b[2]);
        size_t left = m_binlist(PTALLOC_TCACHE, 11);
        CHECKF(left == 4 && m_binbuf[0] == b[4] && m_binbuf[1] == b[3] && m_binbuf[2] == b[1] &&
               m_binbuf[3] == b[0], "bin 11 after memalign: %zu entries, not b4 b3 b1 b0", left);
        void *u = memalign(256, 200);           /* no cached one is 256-aligned: a new one */
        CHECK(u && (uintptr_t)u % 256 == 0 && m_binlist(PTALLOC_TCACHE, 11) == 4);
        free(u);
        free(r);
    }
    for (int i = 0; i < 16; i++)
        free(all[i]);
    t_heap_check("memalign from the cache");
    ptalloc_thread_flush();
}

static void options(void)
{
    void *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = malloc(56);                       /* 64-byte chunks, bin 2 */
    CHECK(m_set("tcache_count", 2) == 1);
    for (int i = 0; i < 3; i++)
        free(p[i]);
    CHECK_WHERE(p[0], PTALLOC_TCACHE, 2);
    CHECK_WHERE(p[1], PTALLOC_TCACHE, 2);
    CHECK_WHERE(p[2], PTALLOC_FASTBIN, 2);
    CHECK(m_set("tcache_count", 7) == 1);        /* flushed */
    CHECK_WHERE(p[0], PTALLOC_FASTBIN, 2);
    CHECK(ptalloc_bin(0, PTALLOC_TCACHE, 2, m_binbuf, M_BINMAX) == 0);
    malloc_trim(0);

    CHECK(m_set("tcache_max", 100) == 1);
    void *a = malloc(100), *b = malloc(120), *g = malloc(24);   /* 112 cached, 128 not */
    free(a);
    free(b);
    CHECK_WHERE(a, PTALLOC_TCACHE, 5);
    CHECK_WHERE(b, PTALLOC_FASTBIN, 6);
    CHECK(m_set("tcache_max", 1032) == 1);
    free(g);
    t_heap_check("tcache options");
    ptalloc_thread_flush();
    malloc_trim(0);
}

static void *exiting_thread(void *arg)
{
    free(arg);
    /* in this thread's cache, which the main thread does not see */
    return (void *)(uintptr_t)(ptalloc_bin(0, PTALLOC_TCACHE, 0, m_binbuf, 0) == 1);
}

static void flush(void)
{
    void *p = malloc(24), *q = malloc(24);
    free(p);
    CHECK_WHERE(p, PTALLOC_TCACHE, 0);
    ptalloc_thread_flush();
    CHECK_WHERE(p, PTALLOC_FASTBIN, 0);
    CHECK(ptalloc_bin(0, PTALLOC_TCACHE, 0, m_binbuf, M_BINMAX) == 0);
    t_heap_check("flush");

    pthread_t th;
    void *ret = NULL;
    CHECK(pthread_create(&th, NULL, exiting_thread, q) == 0);
    CHECK(pthread_join(th, &ret) == 0);
    CHECK(ret == (void *)1);
    CHECK(!m_in_bin(PTALLOC_TCACHE, 0, q));
    CHECK_WHERE(q, PTALLOC_FASTBIN, 0);
    t_heap_check("thread exit");
    malloc_trim(0);
}

int main(void)
{
    CHECK(m_get("tcache_count") == 7);
    CHECK(m_get("tcache_max") == 1032);
    sizes();
    fill_and_overflow();
    spill();
    stash_fastbin();
    stash_smallbin();
    memalign_reuse();
    options();
    flush();
    t_heap_check("end");
    return t_done();
}
