/*
 * A program with known leaks at known call sites, for tests/cmd/report.sh:
 * `ptalloc report`, valgrind's leak check and heaptrack must all find the
 * same blocks at the same lines.
 *
 *   leaky SIDEFILE [none]
 *
 * writes one line per allocating call site to SIDEFILE:
 *   NAME FUNCTION LINE BLOCKS BYTES CALLS
 * (the blocks and bytes that site leaves allocated at exit, and how many
 * allocation calls it made), then a line "calls malloc M calloc C realloc R
 * free F" with the totals of the calls the program made (free(NULL)
 * included).  With "none" it makes no allocation call and writes only that
 * line, so that a test can subtract what the C library allocates by
 * itself.
 *
 * No stdio: its buffers would be allocations of their own.  Built -O0 so
 * that each call site stays one call instruction at its own line.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static int side = -1;
static long n_malloc, n_calloc, n_realloc, n_free;

static void note(const char *name, const char *func, int line, int blocks, long bytes, int calls)
{
    char buf[256];
    int len = snprintf(buf, sizeof buf, "%s %s %d %d %ld %d\n", name, func, line, blocks, bytes, calls);
    if (write(side, buf, (size_t)len) != len)
        _exit(3);
}

/* Kept reachable so that valgrind calls them "still reachable" and the
 * compiler cannot drop the calls; the test does not care which kind. */
static void *keep[64];
static int nkeep;

/* Seven blocks of 100 bytes, one call site. */
static NOINLINE void leak_a(void)
{
    int line = 0;
    for (int i = 0; i < 7; i++) {
        void *p = malloc(100); line = __LINE__;
        n_malloc++;
        memset(p, 1, 100);
        keep[nkeep++] = p;
    }
    note("a", __func__, line, 7, 700, 7);
}

/* One block of 5000 bytes; nothing kept: definitely lost to valgrind. */
static NOINLINE void leak_b(void)
{
    char *p = malloc(5000); int line = __LINE__;
    n_malloc++;
    memset(p, 2, 5000);
    asm volatile("" : : "r"(p) : "memory");
    note("b", __func__, line, 1, 5000, 1);
}

/* The helper behind site c: with one frame per site the leak is its
 * line; with two, also the line of leak_c that called it. */
static int dup_line;
static NOINLINE void *dup24(const char *s)
{
    char *p = malloc(24); dup_line = __LINE__;
    n_malloc++;
    strncpy(p, s, 23);
    p[23] = 0;
    return p;
}

static NOINLINE void leak_c(void)
{
    int line = 0;
    for (int i = 0; i < 20; i++) {
        void *p = dup24("twenty-four bytes each"); line = __LINE__;
        keep[nkeep++] = p;
    }
    note("c", "dup24", dup_line, 20, 480, 20);
    note("c2", __func__, line, 20, 480, 20);
}

/* Three zeroed blocks of 10 x 16 bytes. */
static NOINLINE void leak_d(void)
{
    int line = 0;
    for (int i = 0; i < 3; i++) {
        void *p = calloc(10, 16); line = __LINE__;
        n_calloc++;
        keep[nkeep++] = p;
    }
    note("d", __func__, line, 3, 480, 3);
}

/* A block grown by realloc and leaked: the leak is the realloc's site,
 * as valgrind and heaptrack count it; the malloc's site leaks nothing. */
static NOINLINE void leak_e(void)
{
    char *p = malloc(40); int mline = __LINE__;
    n_malloc++;
    char *q = realloc(p, 3000); int line = __LINE__;
    n_realloc++;
    memset(q, 3, 3000);
    keep[nkeep++] = q;
    note("e0", __func__, mline, 0, 0, 1);
    note("e", __func__, line, 1, 3000, 1);
}

/* Blocks freed properly, of sizes that go through the caches, the bins,
 * the top and a mapping of their own; none of them leaks. */
static NOINLINE void churn(void)
{
    static const size_t sizes[] = { 16, 24, 100, 200, 1000, 2000, 5000, 70000, 300000 };
    enum { N = sizeof sizes / sizeof sizes[0] };
    int line = 0;
    for (int round = 0; round < 10; round++) {
        void *p[N];
        for (int i = 0; i < N; i++) {
            p[i] = malloc(sizes[i]); line = __LINE__;
            n_malloc++;
        }
        for (int i = 0; i < N; i++) {
            free(p[(i * 4) % N]);   /* not in allocation order: merges both ways */
            n_free++;
        }
    }
    note("f", __func__, line, 0, 0, 10 * N);
    /* A calloc and a realloc chain, all freed; free(NULL) twice. */
    char *z = calloc(4, 250);
    char *r = realloc(NULL, 10);
    r = realloc(r, 20);
    r = realloc(r, 100000);
    r = realloc(r, 8);
    free(z);
    free(r);
    free(NULL);
    free(NULL);
    n_calloc += 1;
    n_realloc += 4;
    n_free += 4;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        static const char msg[] = "usage: leaky SIDEFILE [none]\n";
        if (write(2, msg, sizeof msg - 1) < 0)
            return 2;
        return 2;
    }
    side = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (side < 0)
        return 2;
    if (!(argc > 2 && strcmp(argv[2], "none") == 0)) {
        leak_a();
        leak_b();
        leak_c();
        leak_d();
        leak_e();
        churn();
    }
    char buf[128];
    int len = snprintf(buf, sizeof buf, "calls malloc %ld calloc %ld realloc %ld free %ld\n", n_malloc, n_calloc,
                       n_realloc, n_free);
    if (write(side, buf, (size_t)len) != len)
        return 3;
    close(side);
    return 0;
}
