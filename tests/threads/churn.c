/*
 * churn: thousands of short-lived threads, a few at a time.
 *
 * Each thread allocates and frees a few dozen blocks of mixed sizes (with
 * content checks), reallocs some, hands two blocks to the main thread (freed
 * there after the join: remote frees into an arena whose thread is gone) and
 * exits with blocks still in its tcache.  Arenas of exited threads must be
 * reused, so:
 *   - RSS after all threads is close to RSS after the first 500
 *     (growth < 16 MiB), and so are the in-use bytes (mallinfo2 uordblks,
 *     growth < 2 MiB);
 *   - the number of arenas never exceeds the limit 8 x online CPUs;
 *   - on ptalloc, after the last join no thread other than main is still
 *     attached to an arena, and the heap is consistent.
 */
#include "tt.h"

#define AT_ONCE  4
#define HANDOFF  2
#define NBLK     48

struct slot {
    pthread_t th;
    int       index;
    int       bad;
    void     *p[HANDOFF];
    size_t    size[HANDOFF];
};

static size_t pick_size(unsigned long long *rs)
{
    unsigned r = (unsigned)(t_rand(rs) % 1000);
    unsigned long long v = t_rand(rs);
    if (r < 600) return 1 + v % 1032;                /* tcache sizes      */
    if (r < 850) return 1033 + v % 3000;             /* small / large     */
    if (r < 995) return 4096 + v % 28672;            /* large             */
    return 131072 + v % 131072;                      /* mmapped (maybe)   */
}

static void *thread_main(void *arg)
{
    struct slot *s = arg;
    unsigned long long rs = 0x9e3779b97f4a7c15ULL ^ (unsigned long long)s->index * 7919;
    void *p[NBLK];
    size_t sz[NBLK];
    uint64_t key[NBLK];

    for (int i = 0; i < NBLK; i++) {
        sz[i] = pick_size(&rs);
        p[i] = malloc(sz[i]);
        if (!p[i]) { s->bad++; sz[i] = 0; continue; }
        key[i] = tt_key(p[i], sz[i], (unsigned)s->index);
        tt_fill(p[i], sz[i], key[i]);
    }
    /* realloc a few */
    for (int i = 0; i < NBLK; i += 7) {
        if (!p[i]) continue;
        size_t ns = pick_size(&rs);
        void *q = realloc(p[i], ns);
        if (!q) { s->bad++; continue; }
        size_t keep = ns < sz[i] ? ns : sz[i];
        if (tt_verify(q, keep, key[i]) != (size_t)-1) s->bad++;
        p[i] = q; sz[i] = ns;
        key[i] = tt_key(q, ns, (unsigned)s->index);
        tt_fill(q, ns, key[i]);
    }
    for (int i = 0; i < NBLK; i++)
        if (p[i] && tt_verify(p[i], sz[i], key[i]) != (size_t)-1)
            s->bad++;
    /* hand the first HANDOFF blocks to the main thread (pattern keyed with
     * owner 0 so main can check them) */
    for (int h = 0; h < HANDOFF; h++) {
        s->p[h] = p[h];
        s->size[h] = sz[h];
        if (p[h]) tt_fill(p[h], sz[h], tt_key(p[h], sz[h], 0));
        p[h] = NULL;
    }
    /* free the big ones first, the tcache-sized ones last: those stay in
     * the tcache when the thread exits */
    for (int i = 0; i < NBLK; i++)
        if (p[i] && sz[i] > 1032) free(p[i]);
    for (int i = 0; i < NBLK; i++)
        if (p[i] && sz[i] <= 1032) free(p[i]);
    return NULL;
}

int main(void)
{
    tt_watchdog("churn", 120);
    long total = tt_scaled(5000, 1000);
    long first = 500;
    long limit = 8 * tt_nprocs();
    tt_arena_info_fn info = tt_pt_arena_info();
    const char *how = "";

    struct slot slots[AT_ONCE];
    long rss_first = -1, started = 0, bad = 0, handoff_bad = 0;
    int max_arenas = 0;
    struct mallinfo2 mi_first = { 0 };

    double t0 = tt_now();
    while (started < total) {
        int n = 0;
        for (; n < AT_ONCE && started < total; n++, started++) {
            memset(&slots[n], 0, sizeof slots[n]);
            slots[n].index = (int)started + 1;
            if (pthread_create(&slots[n].th, NULL, thread_main, &slots[n]) != 0) {
                CHECKF(0, "pthread_create failed at thread %ld", started);
                return t_done();
            }
        }
        for (int i = 0; i < n; i++) {
            pthread_join(slots[i].th, NULL);
            bad += slots[i].bad;
            for (int h = 0; h < HANDOFF; h++) {
                void *q = slots[i].p[h];
                if (!q) continue;
                if (tt_verify(q, slots[i].size[h], tt_key(q, slots[i].size[h], 0)) != (size_t)-1)
                    handoff_bad++;
                free(q);
            }
        }
        /* arena count: cheap on ptalloc, so sample it often; malloc_info
         * (glibc) is sampled now and then */
        if (info || started % 400 < AT_ONCE || started >= total) {
            int a = tt_arena_count(&how);
            if (a > max_arenas) max_arenas = a;
        }
        if (rss_first < 0 && started >= first) {
            rss_first = tt_rss_kib();
            mi_first = mallinfo2();
        }
    }
    long rss_last = tt_rss_kib();
    struct mallinfo2 mi_last = mallinfo2();
    double dt = tt_now() - t0;

    CHECKF(bad == 0, "%ld content/alloc failures in threads", bad);
    CHECKF(handoff_bad == 0, "%ld handed-off blocks corrupted", handoff_bad);
    CHECK(rss_first > 0 && rss_last > 0);
    CHECKF(rss_last - rss_first < 16 * 1024,
           "RSS grew from %ld KiB (after %ld threads) to %ld KiB (after %ld)",
           rss_first, first, rss_last, total);
    long du = (long)mi_last.uordblks - (long)mi_first.uordblks;
    CHECKF(du < 2 * 1024 * 1024, "in-use bytes grew by %ld (from %zu to %zu)", du,
           mi_first.uordblks, mi_last.uordblks);
    CHECKF(max_arenas >= 1 && max_arenas <= limit,
           "arena count reached %d (%s), limit %ld", max_arenas, how, limit);

    if (info) {
        int attached = 0, n = tt_arena_count(NULL);
        struct ptalloc_arena_info ai;
        for (int a = 0; a < n; a++)
            if (info(a, &ai))
                attached += ai.threads;
        CHECKF(attached <= 1, "%d threads still attached to arenas after all joins", attached);
    } else {
        printf("skip: attached-thread count (ptalloc_arena_info absent)\n");
    }
    printf("churn: %ld threads in %.2fs, RSS %ld -> %ld KiB, in use %zu -> %zu, "
           "max arenas %d (%s, limit %ld)\n", total, dt, rss_first, rss_last,
           mi_first.uordblks, mi_last.uordblks, max_arenas, how, limit);

    t_heap_check("churn end");
    return t_done();
}
