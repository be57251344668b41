/*
 * A heap walk as `ptalloc show --walk K` prints the log's rebuild, for the
 * traced programs of tests/cmd/trace.sh: one chunk a line, "ADDR SIZE
 * WHERE BIN", gathered without allocating (a walk's callback must not).
 */
#ifndef WALK_LINES_H
#define WALK_LINES_H

#include <stdint.h>
#include <stdio.h>
#include "ptalloc.h"

static char walk_lines[1 << 22];
static size_t walk_used;

static int walk_line(const struct ptalloc_chunk_info *ci, void *arg)
{
    static const char *const where[] = {
        "inuse", "tcache", "fastbin", "unsorted", "smallbin", "largebin", "top", "mmapped", "fence",
    };
    int n = snprintf(walk_lines + walk_used, sizeof walk_lines - walk_used, "0x%016llx %zu %s %d\n",
                     (unsigned long long)(uintptr_t)ci->chunk, ci->size, where[ci->where], ci->bin);
    if (n > 0 && (size_t)n < sizeof walk_lines - walk_used)
        walk_used += (size_t)n;
    return 0;
}

/* Walks the heap with walk (ptalloc_walk, found at run time) and writes
 * "walk K" and the lines to out. */
static void walk_write(int (*walk)(ptalloc_walk_fn, void *), FILE *out, int k)
{
    walk_used = 0;
    walk(walk_line, NULL);
    fprintf(out, "walk %d\n", k);
    fwrite(walk_lines, 1, walk_used, out);
    fflush(out);
}

#endif
