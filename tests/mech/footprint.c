/*
 * The library's own resident pages (src/layout.ld.in).  A preloaded
 * allocator's pages count in the program's resident set, so libptalloc.so
 * keeps what a program does not run in mappings of their own:
 *
 *  - the library has two executable mappings: the allocator's code, then
 *    the cold code (introspection, statistics, the heap check, error
 *    reports), with the unwind tables in a read-only mapping between;
 *  - malloc, free, calloc, realloc, the aligned calls, an mmapped block,
 *    a second thread and its remote frees, malloc_usable_size and a fork
 *    leave the cold mapping and the unwind tables without a resident page
 *    (Rss 0 in /proc/self/smaps);
 *  - the first introspection call (ptalloc_print_heap) maps cold pages:
 *    the measurement sees the mapping it claims to see.
 */
#include "mech.h"
#include <fcntl.h>
#include <pthread.h>

struct lib_map { unsigned long start, end; char perm[5]; long rss_kb; };

/* The mappings of libptalloc.so, in address order; their count. */
static int lib_maps(struct lib_map *m, int max)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    int n = 0, ours = 0;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e;
        char perm[5];
        if (sscanf(line, "%lx-%lx %4s", &s, &e, perm) == 3) {     /* a mapping's first line */
            ours = strstr(line, "/libptalloc.so") != NULL && n < max;
            if (ours) {
                m[n].start = s;
                m[n].end = e;
                memcpy(m[n].perm, perm, 5);
                m[n].rss_kb = -1;
                n++;
            }
        } else if (ours && strncmp(line, "Rss:", 4) == 0) {
            m[n - 1].rss_kb = atol(line + 4);
        }
    }
    fclose(f);
    return n;
}

/* Index of the second executable mapping (the cold code), or -1. */
static int cold_index(const struct lib_map *m, int n)
{
    int seen = 0;
    for (int i = 0; i < n; i++)
        if (m[i].perm[2] == 'x' && seen++ == 1)
            return i;
    return -1;
}

static void *worker(void *arg)
{
    void **blocks = arg;
    for (int i = 0; i < 64; i++)
        free(blocks[i]);                     /* remote frees */
    for (int i = 0; i < 2000; i++) {
        void *p = malloc(16 + i % 900);
        free(p);
    }
    return NULL;
}

static void everyday_work(void)
{
    void *keep[256];
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 256; i++)
            keep[i] = malloc(8 + (size_t)i * 37 % 5000);
        for (int i = 0; i < 256; i += 2)
            free(keep[i]);
        for (int i = 0; i < 256; i += 2)
            keep[i] = calloc(1, 24 + (size_t)i * 11);
        for (int i = 0; i < 256; i++)
            keep[i] = realloc(keep[i], 100 + (size_t)i * 53);
        for (int i = 0; i < 256; i++) {
            CHECK(malloc_usable_size(keep[i]) >= 100 + (size_t)i * 53);
            free(keep[i]);
        }
    }
    void *a = NULL;
    CHECK(posix_memalign(&a, 256, 1000) == 0);
    void *b = aligned_alloc(4096, 8192);
    void *c = memalign(64, 300);
    free(a);
    free(b);
    free(c);
    void *big = malloc(4 * MiB);             /* mmapped */
    memset(big, 1, 4096);
    free(big);

    void *given[64];
    for (int i = 0; i < 64; i++)
        given[i] = malloc(48 + i * 8);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, worker, given) == 0);
    pthread_join(t, NULL);

    pid_t pid = fork();
    if (pid == 0) {
        free(malloc(100));
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
    struct lib_map m[16];
    everyday_work();

    int n = lib_maps(m, 16);
    CHECKF(n >= 5, "%d mappings of libptalloc.so", n);
    int cold = cold_index(m, n);
    CHECKF(cold > 0, "no second executable mapping (build/layout.ld not applied?)");
    if (cold <= 0)
        return t_failures != 0;

    CHECKF(m[cold - 1].perm[0] == 'r' && m[cold - 1].perm[1] == '-' && m[cold - 1].perm[2] == '-',
           "the mapping before the cold code is %s, not the read-only unwind tables",
           m[cold - 1].perm);
    CHECKF(m[cold].rss_kb == 0, "cold code resident: %ld KiB", m[cold].rss_kb);
    CHECKF(m[cold - 1].rss_kb == 0, "unwind tables resident: %ld KiB", m[cold - 1].rss_kb);

    int fd = open("/dev/null", O_WRONLY);
    ptalloc_print_heap(fd);
    close(fd);
    struct lib_map after[16];
    int n2 = lib_maps(after, 16);
    CHECK(n2 == n);
    if (n2 == n)
        CHECKF(after[cold].rss_kb > 0, "ptalloc_print_heap ran, yet the cold mapping shows %ld KiB",
               after[cold].rss_kb);
    return t_failures != 0;
}
