/*
 * Calls whose decision the design fixes, each announced in the log by a
 * mark "expect KIND DECISION[+merged_prev][+merged_next]": the next call
 * of this thread after the mark must be a KIND with that decision
 * (tests/cmd/trace.sh checks it against the log).  Run with libptalloc.so
 * preloaded, its default options, tracing on.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void (*mark_fn)(const char *);
static int expected;

static void expect(const char *what)
{
    mark_fn(what);
    expected++;
}

/* A block that keeps its neighbours from merging, never freed: small
 * enough to come from a bin, or (wall) so large that only the top serves
 * it, right after the block taken from the top before it. */
static void *guards[256];
static int nguards;
static void guard(void)
{
    guards[nguards++ % 256] = malloc(24);
}
static void wall(void)
{
    guards[nguards++ % 256] = malloc(100000);
}

int main(void)
{
    mark_fn = (void (*)(const char *))dlsym(RTLD_DEFAULT, "ptalloc_trace_mark");
    if (!mark_fn) {
        fprintf(stderr, "trace_decisions: not running on ptalloc\n");
        return 2;
    }
    void *p[16];

    /* The thread's cache: a free goes in, the next malloc of the size
     * comes out of it. */
    p[0] = malloc(100);
    expect("expect free tcache");
    free(p[0]);
    expect("expect malloc tcache");
    p[0] = malloc(100);
    free(p[0]);

    /* Fastbin: the eighth free of a size finds its slot full; after the
     * slot is drained, the next malloc takes the fastbin. */
    for (int i = 0; i < 8; i++)
        p[i] = malloc(40);
    for (int i = 0; i < 7; i++)
        free(p[i]);
    expect("expect free fastbin");
    free(p[7]);
    for (int i = 0; i < 7; i++)
        p[i] = malloc(40);
    expect("expect malloc fastbin");
    p[7] = malloc(40);

    /* Small bin: past a full slot the chunk is parked unsorted; a request
     * that none fits sorts it into its small bin; an exact request takes
     * it from there. */
    for (int i = 0; i < 8; i++) {
        p[i] = malloc(200);
        guard();
    }
    for (int i = 0; i < 7; i++)
        free(p[i]);
    expect("expect free unsorted");
    free(p[7]);
    void *big = malloc(2000);
    for (int i = 0; i < 7; i++)
        p[i] = malloc(200);
    expect("expect malloc smallbin");
    p[7] = malloc(200);
    free(big);

    /* Unsorted: an exact fit met while sorting. */
    for (int i = 0; i < 8; i++) {
        p[i] = malloc(296);
        guard();
    }
    for (int i = 0; i < 8; i++)
        free(p[i]);
    for (int i = 0; i < 7; i++)
        p[i] = malloc(296);
    expect("expect malloc unsorted");
    p[7] = malloc(296);

    /* Binmap, then the last remainder: a small request no bin of its size
     * serves takes a piece of a larger free chunk found through the
     * binmap; the next one takes the next piece of what remained. */
    void *large = malloc(5000);
    guard();
    free(large);
    expect("expect malloc binmap");
    p[8] = malloc(500);
    expect("expect malloc last_remainder");
    p[9] = malloc(500);

    /* Large bin: the best fit in the request's own large bin. */
    void *l = malloc(6120);
    wall();
    free(l);
    expect("expect malloc largebin");
    p[10] = malloc(5900);

    /* The top, and a mapping of its own. */
    expect("expect malloc top");
    p[11] = malloc(60000);
    expect("expect malloc mmap");
    void *m = malloc(500000);
    expect("expect free munmap");
    free(m);

    /* Merges: B freed between free A and free C merges with both. */
    void *a = malloc(5000), *b = malloc(5000), *c = malloc(5000);
    wall();
    expect("expect free unsorted");
    free(a);
    expect("expect free unsorted");
    free(c);
    expect("expect free unsorted+merged_prev+merged_next");
    free(b);

    /* The mid-size cache. */
    void *mid = malloc(2000);
    expect("expect free tcache_mid");
    free(mid);
    expect("expect malloc tcache_mid");
    mid = malloc(2000);

    /* realloc: moved, grown in place into the top, remapped. */
    void *r = malloc(100);
    guard();
    expect("expect realloc moved");
    r = realloc(r, 3000);
    void *t = malloc(7000);
    expect("expect realloc in_place");
    t = realloc(t, 9000);
    void *mm = malloc(2000000);     /* above the threshold the free above raised */
    expect("expect realloc mremap");
    mm = realloc(mm, 4000000);
    free(mm);

    /* Freed into the top, then the top given back. */
    free(t);
    free(p[11]);
    expect("expect malloc_trim trim");
    malloc_trim(0);

    /* A free of NULL, and a request too large to serve. */
    expect("expect free null");
    free(NULL);
    expect("expect malloc failed");
    void *no = malloc((size_t)-1 / 2);

    printf("%d expectations\n", expected);
    return no != NULL;
}
