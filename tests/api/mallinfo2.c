/*
 * mallinfo2 / mallinfo (spirit of glibc's tst-mallinfo2): the fields move
 * the right way.
 *
 *  - arena == uordblks + fordblks (system bytes = in use + free);
 *  - malloc(n) from the heap raises uordblks by >= n, free lowers it by
 *    >= n; usmblks is 0; ordblks >= 1 (the top chunk); keepcost > 0;
 *  - mmapped blocks: hblks counts them, hblkhd >= their total size, both
 *    drop back on free; they are not part of arena/uordblks;
 *  - fastbin chunks (sizes <= 128 freed once the tcache bin is full) show in
 *    smblks/fsmblks and disappear when malloc_trim consolidates;
 *  - allocations of another thread (another arena) are included;
 *  - mallinfo (int fields) agrees with mallinfo2 while the values are small.
 */
#include "t.h"
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>

static void sane(const char *where)
{
    struct mallinfo2 m = mallinfo2();
    CHECKF(m.arena == m.uordblks + m.fordblks, "%s: arena %zu != uordblks %zu + fordblks %zu", where,
           m.arena, m.uordblks, m.fordblks);
    CHECKF(m.usmblks == 0, "%s: usmblks %zu", where, m.usmblks);
    CHECKF(m.ordblks >= 1, "%s: ordblks %zu", where, m.ordblks);
    CHECKF(m.fsmblks <= m.fordblks, "%s: fsmblks %zu > fordblks %zu", where, m.fsmblks, m.fordblks);
    CHECKF(m.keepcost <= m.fordblks, "%s: keepcost %zu > fordblks %zu", where, m.keepcost, m.fordblks);
}

enum { TN = 50, TSZ = 60000 };
static void *tblk[TN];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int phase;

static void *thread_fn(void *arg)
{
    (void)arg;
    for (int i = 0; i < TN; i++) {
        tblk[i] = malloc(TSZ);
        if (tblk[i]) memset(tblk[i], 1, TSZ);
    }
    pthread_mutex_lock(&mu);
    phase = 1;
    pthread_cond_broadcast(&cv);
    while (phase != 2) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < TN; i++) free(tblk[i]);
    return NULL;
}

int main(void)
{
    CHECK(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1);   /* fixed, not dynamic */
    free(malloc(1));
    sane("start");
    {
        struct mallinfo2 m = mallinfo2();
        CHECK(m.keepcost > 0);
    }

    /* ---- heap allocations ------------------------------------------ */
    {
        const size_t sizes[] = { 5000, 9000, 20000, 100000 };   /* not cached, not mmapped */
        for (unsigned i = 0; i < 4; i++) {
            size_t n = sizes[i];
            struct mallinfo2 a = mallinfo2();
            void *p = malloc(n);
            struct mallinfo2 b = mallinfo2();
            CHECK(p != NULL);
            CHECKF(b.uordblks >= a.uordblks + n, "malloc(%zu): uordblks %zu -> %zu", n, a.uordblks, b.uordblks);
            CHECKF(b.hblks == a.hblks, "malloc(%zu) changed hblks", n);
            sane("after malloc");
            free(p);
            struct mallinfo2 c = mallinfo2();
            CHECKF(c.uordblks + n <= b.uordblks, "free(%zu): uordblks %zu -> %zu", n, b.uordblks, c.uordblks);
            sane("after free");
        }
        /* many at once */
        void *p[200];
        struct mallinfo2 a = mallinfo2();
        for (int i = 0; i < 200; i++) p[i] = malloc(5000);
        struct mallinfo2 b = mallinfo2();
        CHECKF(b.uordblks >= a.uordblks + 200 * 5000, "200 x malloc(5000): uordblks %zu -> %zu", a.uordblks, b.uordblks);
        CHECKF(b.arena >= 200 * 5000, "arena %zu too small", b.arena);
        for (int i = 0; i < 200; i += 2) free(p[i]);
        struct mallinfo2 c = mallinfo2();
        CHECKF(c.ordblks > b.ordblks, "freeing every other block did not add free chunks: ordblks %zu -> %zu",
               b.ordblks, c.ordblks);
        CHECKF(c.fordblks >= b.fordblks + 100 * 5000, "fordblks %zu -> %zu", b.fordblks, c.fordblks);
        for (int i = 1; i < 200; i += 2) free(p[i]);
        sane("many");
        t_heap_check("heap");
    }

    /* ---- mmapped ----------------------------------------------------- */
    {
        enum { K = 5 };
        void *p[K];
        struct mallinfo2 a = mallinfo2();
        for (int i = 0; i < K; i++) {
            p[i] = malloc((1u << 20) + (size_t)i * 4096 + a.fordblks);   /* beyond all free memory */
            CHECK(p[i] != NULL);
        }
        struct mallinfo2 b = mallinfo2();
        CHECKF(b.hblks == a.hblks + K, "%d mmapped blocks: hblks %zu -> %zu", K, a.hblks, b.hblks);
        CHECKF(b.hblkhd >= a.hblkhd + K * (1u << 20), "hblkhd %zu -> %zu", a.hblkhd, b.hblkhd);
        CHECKF(b.arena == a.arena, "mmapped blocks changed arena: %zu -> %zu", a.arena, b.arena);
        sane("mmapped");
        for (int i = 0; i < K; i++) free(p[i]);
        struct mallinfo2 c = mallinfo2();
        CHECKF(c.hblks == a.hblks && c.hblkhd == a.hblkhd, "after free: hblks %zu hblkhd %zu, want %zu %zu",
               c.hblks, c.hblkhd, a.hblks, a.hblkhd);
        /* calloc and memalign go through the same accounting */
        struct mallinfo2 d = mallinfo2();
        void *q = calloc(1, d.fordblks + (2u << 20));
        void *r = memalign(65536, d.fordblks + (2u << 20));
        struct mallinfo2 e = mallinfo2();
        CHECK(q && r);
        CHECKF(e.hblks == d.hblks + 2, "mmapped calloc+memalign: hblks %zu -> %zu", d.hblks, e.hblks);
        free(q);
        free(r);
        struct mallinfo2 f = mallinfo2();
        CHECK(f.hblks == d.hblks && f.hblkhd == d.hblkhd);
        t_heap_check("mmapped");
    }

    /* ---- fastbins ---------------------------------------------------- */
    {
        void *p[20];
        malloc_trim(0);
        struct mallinfo2 a = mallinfo2();
        for (int i = 0; i < 20; i++) p[i] = malloc(56);      /* 64-byte chunks */
        for (int i = 0; i < 20; i++) free(p[i]);             /* 7 to tcache, 13 to the fastbin */
        struct mallinfo2 b = mallinfo2();
        CHECKF(b.smblks >= a.smblks + 13, "fastbin chunks: smblks %zu -> %zu, want +13", a.smblks, b.smblks);
        CHECKF(b.fsmblks >= a.fsmblks + 13 * 64, "fastbin bytes: fsmblks %zu -> %zu", a.fsmblks, b.fsmblks);
        sane("fastbins");
        malloc_trim(0);                                      /* consolidates */
        struct mallinfo2 c = mallinfo2();
        CHECKF(c.smblks == 0 && c.fsmblks == 0, "after malloc_trim: smblks %zu fsmblks %zu", c.smblks, c.fsmblks);
        sane("consolidated");
    }

    /* ---- another arena ----------------------------------------------- */
    {
        struct mallinfo2 a = mallinfo2();
        pthread_t t;
        CHECK(pthread_create(&t, NULL, thread_fn, NULL) == 0);
        pthread_mutex_lock(&mu);
        while (phase != 1) pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
        struct mallinfo2 b = mallinfo2();
        CHECKF(b.uordblks >= a.uordblks + TN * TSZ, "thread's blocks not counted: uordblks %zu -> %zu",
               a.uordblks, b.uordblks);
        CHECKF(b.arena >= a.arena + TN * TSZ, "thread's arena not counted: arena %zu -> %zu", a.arena, b.arena);
        sane("two arenas");
        pthread_mutex_lock(&mu);
        phase = 2;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
        pthread_join(t, NULL);
        struct mallinfo2 c = mallinfo2();
        CHECKF(c.uordblks + TN * TSZ <= b.uordblks, "thread's frees not counted: uordblks %zu -> %zu",
               b.uordblks, c.uordblks);
        sane("thread gone");
        t_heap_check("threads");
    }

    /* ---- mallinfo (int) agrees --------------------------------------- */
    {
        void *p = malloc(5000), *q = malloc((2u << 20) + mallinfo2().fordblks);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        struct mallinfo o = mallinfo();
#pragma GCC diagnostic pop
        struct mallinfo2 n = mallinfo2();
        CHECK((size_t)o.arena == n.arena);
        CHECK((size_t)o.ordblks == n.ordblks);
        CHECK((size_t)o.smblks == n.smblks);
        CHECK((size_t)o.hblks == n.hblks);
        CHECK((size_t)o.hblkhd == n.hblkhd);
        CHECK((size_t)o.usmblks == n.usmblks);
        CHECK((size_t)o.fsmblks == n.fsmblks);
        CHECK((size_t)o.uordblks == n.uordblks);
        CHECK((size_t)o.fordblks == n.fordblks);
        CHECK((size_t)o.keepcost == n.keepcost);
        free(p);
        free(q);
    }
    return t_done();
}
