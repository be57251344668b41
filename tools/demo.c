/*
 * make demo: a short tour of ptalloc's heap, step by step.
 *
 * Runs a built-in program that sends chunks through every container of the
 * design - the tcache, the fastbins, the unsorted bin, small and large
 * bins, the top chunk, last_remainder and an mmapped chunk - and draws the
 * heap after each step the way the textbook pictures do, then prints
 * malloc_stats.  Linked with libptalloc.a, so every allocation below (and
 * stdio's) is ptalloc's.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ptalloc.h"

static int step_no;

static void step(const char *title, const char *why)
{
    fflush(stdout);
    printf("\n==== step %d: %s\n     %s\n", ++step_no, title, why);
    fflush(stdout);
}

static const char *where_name(int w)
{
    static const char *n[] = { "in use", "tcache", "fastbin", "unsorted bin", "small bin",
                               "large bin", "top", "mmapped", "fence" };
    return n[w];
}

static void where(const char *label, void *p)
{
    struct ptalloc_chunk_info ci;
    if (!ptalloc_locate(p, &ci)) {
        printf("     %-10s %p: not a chunk start\n", label, p);
        return;
    }
    printf("     %-10s chunk %p  size %6zu  flags %c%c%c  -> %s", label, ci.chunk, ci.size,
           ci.flags & PTALLOC_NON_MAIN_ARENA ? 'A' : '-', ci.flags & PTALLOC_IS_MMAPPED ? 'M' : '-',
           ci.flags & PTALLOC_PREV_INUSE ? 'P' : '-', where_name(ci.where));
    if (ci.bin >= 0)
        printf(" [%d]", ci.bin);
    printf("\n");
}

static void picture(void)
{
    fflush(stdout);
    ptalloc_print_heap(1);
}

int main(void)
{
    printf("ptalloc %s demo: the ptmalloc2 design, one mechanism at a time.\n", PTALLOC_VERSION);

    /* The tcache would catch most of the small frees below: it is off
     * until step 9, so the arena's own bins can be watched. */
    ptalloc_set_option("tcache_count", 0);

    step("chunk sizes", "request2size(n) = max(32, align16(n + 8)): 8 bytes of overhead per chunk");
    size_t reqs[] = { 0, 24, 25, 100, 1000, 5000 };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        void *p = malloc(reqs[i]);
        printf("     malloc(%4zu) -> %zu-byte chunk, %zu usable\n", reqs[i],
               ptalloc_request_size(reqs[i]), malloc_usable_size(p));
        free(p);
    }

    step("fastbins", "a small free (chunks up to 128 bytes) goes to a fastbin: LIFO, never merged");
    void *f1 = malloc(56), *f2 = malloc(56), *sep = malloc(16);
    free(f1);
    free(f2);
    where("f1", f1);
    where("f2", f2);
    printf("     malloc(56) gives %s (last in, first out)\n", malloc(56) == f2 ? "f2" : "not f2");

    step("unsorted, then small and large bins",
         "bigger frees wait in the unsorted bin; the next malloc sorts them into their bins");
    /* The guards keep the three apart; no free chunk can serve 1500
     * bytes yet, so all six come from the top, in order. */
    void *s1 = malloc(600), *g1 = malloc(1500);
    void *l1 = malloc(3000), *g2 = malloc(1500);
    void *l2 = malloc(2500), *g3 = malloc(1500);
    free(s1);
    free(l1);
    free(l2);
    where("s1 (600)", s1);
    where("l1 (3000)", l1);
    where("l2 (2500)", l2);
    void *big = malloc(8000);           /* no fit: sorts the unsorted bin */
    printf("     malloc(8000) found no fit and sorted the unsorted bin:\n");
    where("s1 (600)", s1);
    where("l1 (3000)", l1);
    where("l2 (2500)", l2);

    step("last_remainder", "a small request split from a bigger chunk; the rest is remembered for the next one");
    void *r1 = malloc(100);
    struct ptalloc_arena_info ai;
    ptalloc_arena_info(0, &ai);
    void *lr = ai.last_remainder;
    void *r2 = malloc(100);
    printf("     malloc(100) took %p from the 600-byte chunk; last_remainder = %p\n", r1,
           lr ? (char *)lr + 16 : NULL);
    printf("     the next malloc(100) took %p: %s\n", r2,
           (char *)r2 == (char *)r1 + 112 ? "right after it, from the remainder" : "elsewhere");

    step("merging", "freeing a chunk between free neighbours (boundary tags) makes one bigger chunk");
    where("l1 (3000)", l1);
    where("l2 (2500)", l2);
    free(g2);
    printf("     free(g2), the chunk between l1 and l2:\n");
    where("l1 region", l1);
    picture();

    step("the top chunk and trimming", "a free next to the top merges into it; past 128 KiB the heap shrinks");
    ptalloc_arena_info(0, &ai);
    printf("     top before: %zu bytes, program break %p\n", ai.top_size, sbrk(0));
    void *blocks[64];
    for (int i = 0; i < 64; i++)
        blocks[i] = malloc(4000);
    printf("     after 64 x malloc(4000): program break %p\n", sbrk(0));
    for (int i = 63; i >= 0; i--)
        free(blocks[i]);
    ptalloc_arena_info(0, &ai);
    printf("     after freeing them: top %zu bytes, program break %p\n", ai.top_size, sbrk(0));

    step("mmap", "requests of 128 KiB and more get a mapping of their own; freeing one raises the threshold");
    long thr;
    ptalloc_get_option("mmap_threshold", &thr);
    void *m = malloc(300 * 1024);
    where("m (300K)", m);
    printf("     mmap_threshold before free: %ld\n", thr);
    free(m);
    ptalloc_get_option("mmap_threshold", &thr);
    printf("     mmap_threshold after free:  %ld (dynamic: the size of the freed chunk)\n", thr);
    m = malloc(300 * 1024);
    where("m again", m);

    step("the tcache", "turned on again: a freed small chunk goes to this thread's cache first, no lock, LIFO");
    ptalloc_set_option("tcache_count", 7);
    void *a = malloc(40), *b = malloc(40);
    void *guard = malloc(16);
    free(a);
    free(b);
    where("a", a);
    where("b", b);
    void *again = malloc(40);
    printf("     malloc(40) again gives %s (last in, first out)\n", again == b ? "b" : "not b");
    free(again);


    step("consistency", "ptalloc_check walks every chunk, bin and counter");
    printf("     ptalloc_check: %d problem(s)\n", ptalloc_check(1));

    step("the heap now", "every chunk in address order, then every non-empty bin in list order");
    picture();

    free(m); free(big); free(r1); free(r2); free(g1); free(g3); free(sep); free(guard);
    step("malloc_stats", "glibc's report, per arena and in total");
    fflush(stdout);
    malloc_stats();
    return ptalloc_check(1) == 0 ? 0 : 1;
}
