/*
 * A short traced run that makes a tour of its own, for the page `ptalloc
 * html` writes (tests/cmd/html.sh): each step ends with a mark
 * "chapter N | title | text | select ADDR", which the page shows as a
 * chapter of its tour, with the chunk of ADDR selected.  The steps put a
 * chunk in each place a reader meets first: handed out from the top, the
 * tcache, a fastbin, the unsorted bin, a large bin, a mapping of its own.
 *
 * Run with libptalloc.so preloaded; ptalloc_trace_mark is found at run
 * time, so the program builds without the library.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static void (*mark)(const char *);

static void chapter(int n, const char *title, const char *text, void *select)
{
    char label[512];
    snprintf(label, sizeof label, "chapter %d | %s | %s | select %p", n, title, text, select);
    mark(label);
}

int main(void)
{
    mark = (void (*)(const char *))dlsym(RTLD_DEFAULT, "ptalloc_trace_mark");
    if (!mark) {
        fprintf(stderr, "trace_tour: run with libptalloc.so preloaded\n");
        return 2;
    }
    void *first = malloc(100);
    chapter(1, "from the top", "malloc(100) split a chunk of 112 bytes off the top chunk", first);

    void *small[10];
    for (int i = 0; i < 10; i++)
        small[i] = malloc(40);
    for (int i = 0; i < 10; i++)
        free(small[i]);
    chapter(2, "tcache", "ten chunks of 48 bytes freed: seven in the tcache, the rest in a fastbin", small[0]);
    chapter(3, "fastbin", "the eighth chunk freed went to fastbin [1]", small[7]);

    void *big = malloc(5000), *guard = malloc(40), *big2 = malloc(9000), *guard2 = malloc(40);
    free(big);
    chapter(4, "unsorted", "a chunk too large for the caches waits in the unsorted bin", big);

    void *bigger = malloc(20000);
    chapter(5, "large bin", "malloc(20000) sorted the unsorted chunk into its large bin", big);

    free(big2);
    void *mapped = malloc(1 << 20);
    chapter(6, "mmap", "a request above the mmap threshold gets a mapping of its own", mapped);

    free(mapped);
    free(bigger);
    free(guard);
    free(guard2);
    free(first);
    printf("6 chapters\n");
    return 0;
}
