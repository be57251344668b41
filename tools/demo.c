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
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
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

/* A scene of the page's tour (make demo traces this program and draws the
 * log with `ptalloc html`): a mark the page shows as chapter N of the
 * notes, selecting the chunk of user pointer p.  Untraced, nothing. */
static void scene(int chapter, const char *title, const char *text, const void *p)
{
    char label[1024];
    snprintf(label, sizeof label, "chapter %d | %s | %s | select %p", chapter, title, text, p);
    ptalloc_trace_mark(label);
}

/* Chapter 1 wants arenas.  A thread whose arena is locked by another moves
 * to a new one: each worker makes its first allocation while the main
 * thread holds the main arena's lock, inside a ptalloc_walk callback
 * (which allocates nothing: it only lets the worker go and waits).  Only
 * when traced, so the text stays the same. */
#define WORKERS 2
static sem_t go, done;

static int hold_main_arena(const struct ptalloc_chunk_info *ci, void *arg)
{
    int *once = arg;
    if (!*once) {
        *once = 1;
        sem_post(&go);
        sem_wait(&done);
    }
    return 1;                               /* one chunk is enough */
}

static void *worker(void *arg)
{
    sem_wait(&go);
    void *keep[64];
    for (int i = 0; i < 64; i++)
        keep[i] = malloc(48 + 16 * (size_t)(i % 8) + (size_t)(uintptr_t)arg);
    sem_post(&done);
    for (int i = 1; i < 64; i += 2)
        free(keep[i]);
    for (int i = 2; i < 64; i += 2)
        free(keep[i]);
    return keep[0];                         /* one block lives on, in the thread's arena */
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
    scene(2, "Chunks", "Every block is a chunk: prev_size, then size with three flag bits (A: not the main arena, M: mmapped, P: the chunk before is in use), then the user data. "
          "The selected chunk is f2, 64 bytes for malloc(56): look at its header on the right, and at the P bit that says f1 before it is in use.", f2);
    scene(3, "Space reuse", "While f1 is in use, the prev_size field of the next chunk (f2) belongs to f1's data: that is why malloc(56) fits a 64-byte chunk, 8 bytes of overhead. "
          "The picture marks that field as lent.", f1);
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
    scene(4, "Bins", "Freed chunks wait in bins, drawn below in list order. malloc(8000) found no fit: on its way to the top chunk it sorted the unsorted bin, "
          "s1 (600 bytes) into its small bin, l1 (selected) and l2 into large bins, and, a large request, it first consolidated the fastbins: f1 is in a small bin now.", l1);

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
    scene(6, "malloc, step by step", "This malloc(100) took step 6 of chapter 6: the unsorted bin held only the last remainder, so the request was split from it, right after the previous one. "
          "Step back through the events with the Left key to watch each step of the calls before.", r2);

    step("merging", "freeing a chunk between free neighbours (boundary tags) makes one bigger chunk");
    where("l1 (3000)", l1);
    where("l2 (2500)", l2);
    free(g2);
    printf("     free(g2), the chunk between l1 and l2:\n");
    where("l1 region", l1);
    scene(7, "free, step by step", "free(g2) found free chunks on both sides: the boundary tags (P bit, prev_size) let it merge with l1 before and l2 after in one step (chapter 7, step 5). "
          "The merged chunk, selected, went to the unsorted bin.", l1);
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
    scene(5, "sbrk and mmap", "Small requests come from the top chunk of the heap, which sbrk grows up to the program break (trimmed back down after the frees before). "
          "This 300 KiB block was at or above the mmap threshold: a mapping of its own, outside the heap (M set); see the address space above.", m);
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
    scene(8, "Odds and ends", "Options change the design's figures at run time, as mallopt does: the demo had set tcache_count to 0 to watch the arena's bins, and now 7 again. "
          "So free(b) went to this thread's tcache, and malloc(40) took it straight back, without a lock (chapter 4).", a);
    free(again);


    step("consistency", "ptalloc_check walks every chunk, bin and counter");
    printf("     ptalloc_check: %d problem(s)\n", ptalloc_check(1));

    step("the heap now", "every chunk in address order, then every non-empty bin in list order");
    picture();

    if (ptalloc_tracing()) {
        pthread_t th[WORKERS];
        void *kept[WORKERS];
        sem_init(&go, 0, 0);
        sem_init(&done, 0, 0);
        for (uintptr_t i = 0; i < WORKERS; i++) {
            int once = 0;
            pthread_create(&th[i], NULL, worker, (void *)i);
            ptalloc_walk(hold_main_arena, &once);
        }
        for (int i = 0; i < WORKERS; i++)
            pthread_join(th[i], &kept[i]);
        scene(1, "Arenas", "The main arena's heap is the data segment, up to the program break. A thread that found it locked got an arena of its own, "
              "in a sub-heap: 64 MiB of address space reserved, the used part made writable as it grows (the address space above, in log scale; "
              "switch to linear to see it to scale). The second thread found the main arena locked too and moved to that one, free then: "
              "arenas are shared, and new ones made only when every arena is busy. The selected chunk lives there: its A bit is set.", kept[0]);
        for (int i = 0; i < WORKERS; i++)
            free(kept[i]);
    }
    free(m); free(big); free(r1); free(r2); free(g1); free(g3); free(sep); free(guard);
    step("malloc_stats", "glibc's report, per arena and in total");
    fflush(stdout);
    malloc_stats();
    return ptalloc_check(1) == 0 ? 0 : 1;
}
