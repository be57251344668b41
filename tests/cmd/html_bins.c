/*
 * The bin of every chunk size from 32 bytes to 8 MiB, as the library
 * computes it (ptalloc_bin_index): one line per run of sizes that share a
 * bin, "LOWEST HIGHEST BIN".  tests/cmd/html.sh builds it against
 * libptalloc.a and compares the page's own arithmetic (binOf, binRange,
 * largebinIndex) with it.
 */
#include <stdio.h>
#include "ptalloc.h"

int main(void)
{
    const size_t end = (size_t)8 << 20;
    size_t lo = 32;
    int bin = ptalloc_bin_index(lo);
    for (size_t s = lo + 16; s <= end; s += 16) {
        int b = ptalloc_bin_index(s);
        if (b != bin) {
            printf("%zu %zu %d\n", lo, s - 16, bin);
            lo = s;
            bin = b;
        }
    }
    printf("%zu %zu %d\n", lo, end, bin);
    return 0;
}
