/*
 * malloc_trim (spirit of glibc's tst-trim1).
 *
 *  - it returns 1 when it released memory and 0 when there was nothing to
 *    release: everything freed into the top chunk -> trim(0) gives 1 and
 *    lowers the program break; an immediate second trim(0) gives 0;
 *  - free pages inside free chunks below a live block (where sbrk cannot
 *    shrink) are returned with madvise: trim gives 1 and the resident set
 *    shrinks;
 *  - it covers every arena: memory a thread freed (in its own arena on glibc;
 *    ptalloc may keep an uncontended thread on the main arena) is released
 *    by a trim called from that thread;
 *  - memory stays fully usable afterwards (contents of live blocks kept,
 *    freed space reallocated and written).
 */
#include "t.h"
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

/* ptalloc's, when the test runs on it: free pages go back by themselves
 * there, which would leave malloc_trim nothing to do. */
extern int ptalloc_set_option(const char *name, long value) __attribute__((weak));

static long rss_pages(void)
{
    long size = 0, res = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &res) != 2) res = -1;
        fclose(f);
    }
    return res;
}

enum { N = 400, SZ = 20000 };     /* 8 MB, below the mmap threshold, above tcache/fast sizes */

static void use(void **p, int n, size_t sz, int c)
{
    for (int i = 0; i < n; i++) {
        p[i] = malloc(sz);
        CHECK(p[i] != NULL);
        if (p[i]) memset(p[i], c, sz);
    }
}

static void *thread_fn(void *arg)
{
    long *released = arg;
    static void *p[N];
    use(p, N, SZ, 0x33);
    void *pin = malloc(100);             /* keeps the sub-heap from shrinking */
    for (int i = 0; i < N; i++)
        free(p[i]);
    long before = rss_pages();
    int r = malloc_trim(0);              /* from this thread: all arenas */
    long after = rss_pages();
    released[0] = r;
    released[1] = before - after;
    use(p, N, SZ, 0x44);                 /* reusable */
    for (int i = 0; i < N; i++) free(p[i]);
    free(pin);
    return NULL;
}

int main(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    static void *p[N];

    /* Keep free() itself from trimming, so that malloc_trim has the work. */
    CHECK(mallopt(M_TRIM_THRESHOLD, 256 << 20) == 1);
    if (ptalloc_set_option)
        CHECK(ptalloc_set_option("purge_delay_ms", -1) == 1);
    CHECK(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1);

    /* ---- top chunk: sbrk shrinks ---------------------------------------- */
    {
        use(p, N, SZ, 0x11);
        for (int i = N - 1; i >= 0; i--)
            free(p[i]);
        void *brk0 = sbrk(0);
        int r = malloc_trim(0);
        void *brk1 = sbrk(0);
        CHECKF(r == 1, "malloc_trim(0) with ~8 MB free at the top returned %d, want 1", r);
        CHECKF((char *)brk1 < (char *)brk0 - (4 << 20), "program break did not go down: %p -> %p", brk0, brk1);
        r = malloc_trim(0);
        CHECKF(r == 0, "second malloc_trim(0) returned %d, want 0 (nothing left to release)", r);
        struct mallinfo2 mi = mallinfo2();
        CHECKF(mi.keepcost < (size_t)ps * 2 + 4096, "top chunk still %zu bytes after trim(0)", mi.keepcost);
        /* a huge pad keeps everything */
        use(p, 50, SZ, 0x12);
        for (int i = 49; i >= 0; i--) free(p[i]);
        r = malloc_trim((size_t)1 << 40);
        CHECKF(r == 0, "malloc_trim(1 TiB pad) returned %d, want 0", r);
        malloc_trim(0);
        use(p, N, SZ, 0x13);             /* reusable */
        for (int i = 0; i < N; i++) free(p[i]);
        t_heap_check("top");
    }

    /* ---- free chunks under a live block: madvise ------------------------ */
    {
        malloc_trim(0);
        use(p, N, SZ, 0x21);
        unsigned char *pin = malloc(100);     /* at the end: sbrk cannot shrink past it */
        CHECK(pin != NULL);
        memset(pin, 0x5f, 100);
        for (int i = 0; i < N; i += 2)        /* live blocks in between */
            free(p[i]);
        long before = rss_pages();
        int r = malloc_trim(0);
        long after = rss_pages();
        CHECKF(r == 1, "malloc_trim(0) with free chunks under a live block returned %d, want 1", r);
        CHECKF(before - after >= (N / 2) * (SZ / 2) / ps,
               "resident set went from %ld to %ld pages, want a drop of at least %ld", before, after,
               (long)((N / 2) * (SZ / 2) / ps));
        for (int i = 1; i < N; i += 2)        /* live blocks intact */
            for (size_t k = 0; k < SZ; k += 97)
                if (((unsigned char *)p[i])[k] != 0x21) {
                    CHECKF(0, "live block %d changed by malloc_trim at byte %zu", i, k);
                    break;
                }
        for (int k = 0; k < 100; k++)
            CHECKF(pin[k] == 0x5f, "pin block changed at %d", k);
        t_heap_check("madvise");
        /* the madvised space is reusable */
        for (int i = 0; i < N; i += 2) {
            p[i] = malloc(SZ);
            CHECK(p[i] != NULL);
            if (p[i]) memset(p[i], 0x22, SZ);
        }
        for (int i = 0; i < N; i++) {
            int want = (i & 1) ? 0x21 : 0x22;
            for (size_t k = 0; p[i] && k < SZ; k += 97)
                if (((unsigned char *)p[i])[k] != want) {
                    CHECKF(0, "block %d corrupted after reuse at byte %zu", i, k);
                    break;
                }
            free(p[i]);
        }
        free(pin);
        malloc_trim(0);
        t_heap_check("madvise reuse");
    }

    /* ---- a thread's arena -------------------------------------------------- */
    {
        long released[2] = { -1, 0 };
        pthread_t t;
        CHECK(pthread_create(&t, NULL, thread_fn, released) == 0);
        pthread_join(t, NULL);
        CHECKF(released[0] == 1, "malloc_trim(0) in a thread with free chunks in its arena returned %ld", released[0]);
        CHECKF(released[1] >= (N * SZ / 2) / ps, "thread arena trim released only %ld pages", released[1]);
        t_heap_check("thread arena");
    }
    return t_done();
}
