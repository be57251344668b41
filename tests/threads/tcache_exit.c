/*
 * tcache_exit: a thread's tcache is flushed when the thread exits.
 *
 * Each thread fills every tcache bin (64 sizes, user sizes 24..1032): it
 * allocates count+1 blocks of each size and frees them all, so the tcache is
 * full and the extra block goes to the arena; then it exits.  Two threads at
 * a time, 2000 threads in all.  Nothing may leak:
 *   - RSS after all threads is close to RSS after the first 200;
 *   - in-use bytes (mallinfo2().uordblks) return near the baseline taken
 *     after a warm-up round;
 *   - on ptalloc, the heap walk finds no more in-use or cached chunks than
 *     at the baseline (a leaked tcache would be hundreds of chunks), and the
 *     heap is consistent.
 */
#include "tt.h"

#define AT_ONCE 2
#define NBINS   64
#define MAXCNT  64      /* cap on blocks per size we allocate */

static int tcache_count = 7;

struct walk_sum {
    long inuse_chunks, cached_chunks;
    size_t inuse_bytes, cached_bytes;
};

static int walk_cb(const struct ptalloc_chunk_info *ci, void *arg)
{
    struct walk_sum *w = arg;
    if (ci->where == PTALLOC_INUSE) {
        w->inuse_chunks++; w->inuse_bytes += ci->size;
    } else if (ci->where == PTALLOC_TCACHE) {
        w->cached_chunks++; w->cached_bytes += ci->size;
    }
    return 0;
}

static int walk_sum(struct walk_sum *w)
{
    tt_walk_fn walk = tt_pt_walk();
    memset(w, 0, sizeof *w);
    if (!walk)
        return 0;
    walk(walk_cb, w);
    return 1;
}

static void *thread_main(void *arg)
{
    long *bad = arg;
    void *p[MAXCNT + 1];
    int n = tcache_count + 1;
    if (n > MAXCNT + 1) n = MAXCNT + 1;
    for (int b = 0; b < NBINS; b++) {
        size_t size = 24 + 16 * (size_t)b;        /* chunk 32 + 16*b */
        for (int i = 0; i < n; i++) {
            p[i] = malloc(size);
            if (!p[i]) { (*bad)++; continue; }
            memset(p[i], 0xa5 ^ b, size);
        }
        for (int i = 0; i < n; i++) {
            if (!p[i]) continue;
            unsigned char *c = p[i];
            if (c[0] != (0xa5 ^ b) || c[size - 1] != (0xa5 ^ b)) (*bad)++;
            free(p[i]);
        }
    }
    return NULL;
}

static long bad[AT_ONCE];

static void run_threads(long count)
{
    pthread_t th[AT_ONCE];
    for (long done = 0; done < count; ) {
        int n = 0;
        for (; n < AT_ONCE && done < count; n++, done++)
            if (pthread_create(&th[n], NULL, thread_main, &bad[n]) != 0) {
                CHECKF(0, "pthread_create failed");
                exit(t_done());
            }
        for (int i = 0; i < n; i++)
            pthread_join(th[i], NULL);
    }
}

int main(void)
{
    tt_watchdog("tcache_exit", 120);
    tt_get_option_fn getopt_fn = tt_pt_get_option();
    long v;
    if (getopt_fn && getopt_fn("tcache_count", &v) && v >= 0)
        tcache_count = (int)v;

    long total = tt_scaled(2000, 400);
    long first = total / 10;

    /* warm-up: thread stacks get cached, arenas exist, stdio is set up */
    run_threads(first);
    struct mallinfo2 mi0 = mallinfo2();
    struct walk_sum w0, w1;
    int walked = walk_sum(&w0);
    long rss0 = tt_rss_kib();

    double t0 = tt_now();
    run_threads(total - first);
    double dt = tt_now() - t0;

    struct mallinfo2 mi1 = mallinfo2();
    walk_sum(&w1);
    long rss1 = tt_rss_kib();

    CHECKF(bad[0] + bad[1] == 0, "%ld content/alloc failures", bad[0] + bad[1]);
    CHECKF(rss1 - rss0 < 8 * 1024, "RSS grew from %ld KiB to %ld KiB", rss0, rss1);
    long du = (long)mi1.uordblks - (long)mi0.uordblks;
    CHECKF(du < 256 * 1024, "in-use bytes grew by %ld (from %zu to %zu)", du,
           mi0.uordblks, mi1.uordblks);
    if (walked) {
        long dchunks = (w1.inuse_chunks + w1.cached_chunks) - (w0.inuse_chunks + w0.cached_chunks);
        CHECKF(dchunks <= 64,
               "in-use+cached chunks grew by %ld (in use %ld -> %ld, cached %ld -> %ld)",
               dchunks, w0.inuse_chunks, w1.inuse_chunks, w0.cached_chunks, w1.cached_chunks);
    } else {
        printf("skip: heap walk (ptalloc_walk absent)\n");
    }
    printf("tcache_exit: %ld threads x %d bins x %d blocks in %.2fs; RSS %ld -> %ld KiB; "
           "uordblks %zu -> %zu\n", total, NBINS, tcache_count + 1, dt, rss0, rss1,
           mi0.uordblks, mi1.uordblks);

    t_heap_check("tcache_exit end");
    return t_done();
}
