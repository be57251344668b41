/*
 * Decay: free pages go back to the system by themselves once they have
 * stayed free for purge_delay_ms, read on the slow paths (src/decay.c).
 *
 *  - holes (purge_delay_ms 100): a 512 KiB hole between live blocks keeps
 *    its pages right after the free and after calls that read the clock
 *    at once; once it has stayed free past the delay, such calls release
 *    every whole page inside it (mincore) while it stays in its bin; a
 *    hole freed later keeps its pages until its own delay has passed; a
 *    2 KiB hole (no whole page inside) keeps its bytes; malloc_info counts
 *    the released pages; the purged hole is still the best fit: malloc
 *    returns it, its inner bytes read zero (calloc's too), it can be
 *    written, and the heap check passes throughout;
 *  - purge_delay_ms 0: the pages go at the free; -1: never, even after
 *    the delay, until malloc_trim(0);
 *  - fastbins: 1 MiB of 48-byte blocks freed into the fastbins (cache
 *    off) are merged by a pass and then released like any hole;
 *  - the 98% case (default delay): 400,000 blocks of 16-512 bytes, 98%
 *    freed, survivors spread out, then a second of light activity: the
 *    resident set (/proc/self/statm) is at most 1.15 times (plus 1 MiB)
 *    what malloc_trim(0) leaves, with no call; right after the frees it
 *    was more than twice that;
 *  - threads that leave: 4 threads each allocate and free 30 MB; once
 *    they are joined the resident set is back within 8 MiB of before;
 *  - the background thread (purge_thread 1): a hole goes with no call at
 *    all from the program.
 */
#include "mech.h"
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

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
 * must be all resident (want_resident = 1) or none. */
static void expect_pages(const char *what, const void *mem, size_t n, int want_resident)
{
    size_t total, got = resident((const char *)mem + 64, n - 64, &total);
    if (want_resident)
        CHECKF(total >= 1 && got == total, "%s: %zu of %zu pages resident, want all", what, got, total);
    else
        CHECKF(total >= 1 && got == 0, "%s: %zu of %zu pages still resident", what, got, total);
}


static void pause_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static long rss_kib(void)
{
    long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    CHECK(f && fscanf(f, "%ld %ld", &size, &res) == 2);
    if (f)
        fclose(f);
    return res * (long)(page / 1024);
}

/* malloc_info's <total type="released" size="N"/>, the last one (the
 * process's total). */
static size_t info_released(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f && malloc_info(0, f) == 0);
    fclose(f);
    size_t v = 0;
    for (char *s = buf; (s = strstr(s, "<total type=\"released\" size=\"")) != NULL; s++)
        v = strtoul(s + strlen("<total type=\"released\" size=\""), NULL, 10);
    free(buf);
    return v;
}

#define HOLE  (512 * KiB)
#define YOUNG (256 * KiB)
#define SMALL (2 * KiB)

static void holes(void)
{
    m_no_tcache();
    CHECK(mallopt(M_MMAP_THRESHOLD, 32 * MiB) == 1);
    CHECK(m_set("purge_delay_ms", 100) == 1);
    CHECK(m_get("purge_delay_ms") == 100);
    char *lo = malloc(64), *hole = malloc(HOLE), *g_a = malloc(64);
    char *young = malloc(YOUNG), *g_b = malloc(64), *small = malloc(SMALL), *hi = malloc(64);
    CHECK(lo && hole && g_a && young && g_b && small && hi);
    memset(hole, 0xab, HOLE);
    memset(young, 0xcd, YOUNG);
    memset(small, 0xef, SMALL);
    size_t released0 = info_released();

    free(hole);
    free(small);
    m_ticks();
    expect_pages("hole at once", hole, HOLE, 1);
    pause_ms(150);
    free(young);
    m_ticks();
    expect_pages("hole after 150 ms", hole, HOLE, 0);
    CHECKF(m_is_free(m_where(hole)), "the purged hole is %s", m_where_name(m_where(hole)));
    expect_pages("young hole at once", young, YOUNG, 1);
    CHECKF(small[SMALL / 2] == (char)0xef, "the 2 KiB hole was purged");
    CHECKF(info_released() >= released0 + HOLE - 2 * page, "malloc_info: %zu bytes released, then %zu",
           released0, info_released());
    t_heap_check("hole purged");

    pause_ms(150);
    m_ticks();
    expect_pages("young hole after 150 ms", young, YOUNG, 0);
    CHECKF(small[SMALL / 2] == (char)0xef, "the 2 KiB hole was purged after 300 ms");
    t_heap_check("young hole purged");

    /* A purged chunk is reused as any free chunk is; its pages read 0. */
    char *r = malloc(HOLE);
    CHECKF(r == hole, "malloc(512 KiB) = %p, the hole is %p", (void *)r, (void *)hole);
    if (r == hole) {
        int same = 1;
        for (size_t i = page; i < HOLE - page; i++)
            same &= r[i] == 0;
        CHECKF(same, "an inner page of the reused hole does not read 0");
        memset(r, 0x5a, HOLE);
        CHECK(r[HOLE - 1] == 0x5a && r[0] == 0x5a);
    }
    char *z = calloc(1, YOUNG);
    CHECKF(z == young, "calloc(256 KiB) = %p, the young hole is %p", (void *)z, (void *)young);
    if (z) {
        int zero = 1;
        for (size_t i = 0; i < YOUNG; i++)
            zero &= z[i] == 0;
        CHECKF(zero, "calloc over a purged hole is not all zero");
    }
    t_heap_check("reuse");
    free(r); free(z);
    free(lo); free(g_a); free(g_b); free(hi);
}

/* delay 0: at the free; -1: never, but malloc_trim. */
static void at_once_and_never(void)
{
    m_no_tcache();
    CHECK(mallopt(M_MMAP_THRESHOLD, 32 * MiB) == 1);
    CHECK(m_set("purge_delay_ms", 0) == 1);
    char *lo = malloc(64), *hole = malloc(HOLE), *hi = malloc(64);
    memset(hole, 0xab, HOLE);
    free(hole);
    expect_pages("delay 0, at the free", hole, HOLE, 0);
    t_heap_check("delay 0");

    CHECK(m_set("purge_delay_ms", -1) == 1);
    CHECK(m_get("purge_delay_ms") == -1);
    char *h2 = malloc(HOLE), *hi2 = malloc(64);
    CHECK(h2 && hi2);
    memset(h2, 0xab, HOLE);
    free(h2);
    pause_ms(150);
    m_ticks();
    expect_pages("delay -1, after 150 ms", h2, HOLE, 1);
    CHECK(malloc_trim(0) == 1);
    expect_pages("delay -1, malloc_trim(0)", h2, HOLE, 0);
    t_heap_check("delay -1");
    free(lo); free(hi); free(hi2);
}

/* Small blocks freed into the fastbins: a pass merges them, the next one
 * (a delay on) releases the pages of what they became. */
static void fastbins(void)
{
    m_no_tcache();
    CHECK(m_set("purge_delay_ms", 50) == 1);
    enum { N = 1 << 14 };
    static char *b[N];
    char *lo = malloc(64);
    for (int i = 0; i < N; i++) {
        b[i] = malloc(56);
        memset(b[i], 1, 56);
    }
    char *hi = malloc(64);
    for (int i = 0; i < N; i++)
        free(b[i]);
    CHECKF(m_where(b[N / 2]) == PTALLOC_FASTBIN, "a 56-byte block went to %s", m_where_name(m_where(b[N / 2])));
    size_t span = (size_t)(b[N - 1] - b[0]);
    expect_pages("fastbin blocks at once", b[0], span, 1);
    for (int i = 0; i < 4; i++) {
        pause_ms(60);
        for (int k = 0; k < 64; k++)
            free(malloc(5000));     /* locked (past the caches), no fastbin touched */
    }
    /* The calls that read the clock take their 5000 bytes from the front
     * of what the blocks became: those two pages are in use again. */
    size_t total, got = resident(b[0] + 64, span - 64, &total);
    CHECKF(total > 200 && got <= 2, "fastbin blocks after 240 ms: %zu of %zu pages still resident", got, total);
    t_heap_check("fastbins");
    free(lo); free(hi);
}

static uint64_t rng = 7;
static size_t rnd(size_t lo, size_t hi)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return lo + rng % (hi - lo + 1);
}
static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The case, with the default delay. */
static void most_freed(void)
{
    enum { N = 400000 };
    char **v = malloc(N * sizeof *v);
    for (int i = 0; i < N; i++) {
        size_t s = rnd(16, 512);
        v[i] = malloc(s);
        v[i][0] = 1;
        v[i][s - 1] = 2;
    }
    for (int i = 0; i < N; i++)
        if (i % 50)
            free(v[i]);
    long after_free = rss_kib();
    /* A second of light activity: 32 blocks of up to 4 KiB a millisecond. */
    for (double t0 = now_s(); now_s() - t0 < 1.0;) {
        void *p[32];
        for (int i = 0; i < 32; i++) {
            p[i] = malloc(rnd(16, 4096));
            *(char *)p[i] = 1;
        }
        for (int i = 0; i < 32; i++)
            free(p[i]);
        pause_ms(1);
    }
    long later = rss_kib();
    t_heap_check("98% freed");
    malloc_trim(0);
    long trimmed = rss_kib();
    fprintf(stderr, "98%% freed: %ld KiB resident after the frees, %ld after 1 s, %ld after malloc_trim(0)\n",
           after_free, later, trimmed);
    /* With a delay of 0 the pages went at the frees. */
    if (m_get("purge_delay_ms") != 0)
        CHECKF(after_free > 2 * trimmed, "right after the frees %ld KiB, after malloc_trim %ld: no test",
               after_free, trimmed);
    /* 1.00 times here; without decay it would be 2.9 times. */
    CHECKF(later <= trimmed + trimmed * 15 / 100 + 1024,
           "%ld KiB resident after 1 s of activity, malloc_trim(0) leaves %ld", later, trimmed);
    for (int i = 0; i < N; i += 50)
        free(v[i]);
    free(v);
}

static void *thirty_mb(void *arg)
{
    uint64_t r = (uintptr_t)arg * 7919 + 1;
    enum { MAXB = 100000 };
    char **v = malloc(MAXB * sizeof *v);
    size_t k = 0, total = 0;
    while (total < 30 * MiB && k < MAXB) {
        r ^= r << 13; r ^= r >> 7; r ^= r << 17;
        size_t s = 16 + r % 4000;
        v[k] = malloc(s);
        memset(v[k], 1, s);
        total += s;
        k++;
    }
    for (size_t i = 0; i < k; i += 2)
        free(v[i]);
    for (size_t i = 1; i < k; i += 2)
        free(v[i]);
    free(v);
    return arg;
}

static void threads_leave(void)
{
    long before = rss_kib();
    for (int round = 0; round < 2; round++) {
        pthread_t t[4];
        for (int i = 0; i < 4; i++)
            CHECK(pthread_create(&t[i], NULL, thirty_mb, (void *)(uintptr_t)(i + 1)) == 0);
        for (int i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
    }
    long after = rss_kib();
    fprintf(stderr, "threads: %ld KiB resident before, %ld after\n", before, after);
    CHECKF(after <= before + 8 * 1024, "%ld KiB resident after the threads left, %ld before", after, before);
}

/* No call at all while the hole ages: the background thread passes. */
static void background(void)
{
    CHECK(mallopt(M_MMAP_THRESHOLD, 32 * MiB) == 1);
    CHECK(m_set("purge_delay_ms", 50) == 1);
    CHECK(m_set("purge_thread", 1) == 1);
    free(malloc(5000));             /* past the caches: starts the thread */
    char *lo = malloc(64), *hole = malloc(HOLE), *hi = malloc(64);
    memset(hole, 0xab, HOLE);
    free(hole);
    expect_pages("background, at once", hole, HOLE, 1);
    pause_ms(400);
    expect_pages("background, after 400 ms", hole, HOLE, 0);
    t_heap_check("background");
    free(lo); free(hi);
}

int main(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    CHECK(m_get("purge_delay_ms") >= 0);
    m_in_child("holes", holes);
    m_in_child("delay 0 and -1", at_once_and_never);
    m_in_child("fastbins", fastbins);
    m_in_child("98% freed", most_freed);
    m_in_child("threads", threads_leave);
    m_in_child("background thread", background);
    return t_done();
}
