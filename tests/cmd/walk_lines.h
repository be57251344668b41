/*
 * A heap walk as `ptalloc show --walk K` prints the log's rebuild, for the
 * traced programs of tests/cmd/trace.sh: one chunk a line, "ADDR SIZE
 * WHERE BIN", gathered without allocating (a walk's callback must not);
 * then each non-empty bin in list order as ptalloc_bin gives it, "bin
 * KIND ARENA INDEX: CHUNK..." (KIND: the PTALLOC_* number; the tcache's
 * arena 0 means this thread's cache).
 */
#ifndef WALK_LINES_H
#define WALK_LINES_H

#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include "ptalloc.h"

static char walk_lines[1 << 22];
static size_t walk_used;

static void walk_put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void walk_put(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(walk_lines + walk_used, sizeof walk_lines - walk_used, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof walk_lines - walk_used)
        walk_used += (size_t)n;
}

static int walk_line(const struct ptalloc_chunk_info *ci, void *arg)
{
    static const char *const where[] = {
        "inuse", "tcache", "fastbin", "unsorted", "smallbin", "largebin", "top", "mmapped", "fence",
    };
    walk_put("0x%016llx %zu %s %d\n", (unsigned long long)(uintptr_t)ci->chunk, ci->size, where[ci->where],
             ci->bin);
    return 0;
}

/* Walks the heap with walk (ptalloc_walk, found at run time) and writes
 * "walk K" and the lines to out. */
static void walk_write(int (*walk)(ptalloc_walk_fn, void *), FILE *out, int k)
{
    static void *items[1 << 16];
    size_t (*bin)(int, int, int, void **, size_t) =
        (size_t (*)(int, int, int, void **, size_t))dlsym(RTLD_DEFAULT, "ptalloc_bin");
    int (*arenas)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "ptalloc_arena_count");
    walk_used = 0;
    walk(walk_line, NULL);
    static const struct { int kind, first, last; } kinds[] = {
        { PTALLOC_TCACHE, 0, 127 }, { PTALLOC_FASTBIN, 0, 9 }, { PTALLOC_UNSORTED, 1, 1 },
        { PTALLOC_SMALLBIN, 2, 63 }, { PTALLOC_LARGEBIN, 64, 126 },
    };
    int na = arenas();
    for (int a = 0; a < na; a++)
        for (size_t x = 0; x < sizeof kinds / sizeof kinds[0]; x++) {
            if (kinds[x].kind == PTALLOC_TCACHE && a)
                continue;
            for (int i = kinds[x].first; i <= kinds[x].last; i++) {
                size_t n = bin(a, kinds[x].kind, i, items, sizeof items / sizeof items[0]);
                if (!n)
                    continue;
                walk_put("bin %d %d %d:", kinds[x].kind, a, i);
                for (size_t j = 0; j < n && j < sizeof items / sizeof items[0]; j++)
                    walk_put(" 0x%016llx", (unsigned long long)(uintptr_t)items[j] - 16);
                walk_put("\n");
            }
        }
    fprintf(out, "walk %d\n", k);    /* stdio may allocate only now, after the bins are read */
    fwrite(walk_lines, 1, walk_used, out);
    fflush(out);
}

#endif
