/* large: blocks around the mmap threshold (64 KiB .. 512 KiB), allocated,
 * touched page by page and freed, with a small live set of 16 blocks. */
#include "common.h"

#define LIVE 16

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    long ops = scaled(60000, scale);
    unsigned char *live[LIVE] = { 0 };
    size_t lsz[LIVE] = { 0 };
    uint64_t rng = 3, sum = 0;

    for (long op = 0; op < ops; op++) {
        int s = (int)(rng_next(&rng) % LIVE);
        size_t n = rng_range(&rng, 64 * 1024, 512 * 1024);
        if (live[s]) {
            sum += live[s][0] + live[s][lsz[s] - 1];
            free(live[s]);
        }
        live[s] = xmalloc(n);
        lsz[s] = n;
        touch_pages(live[s], n, (unsigned char)op);
    }
    for (int s = 0; s < LIVE; s++)
        if (live[s]) {
            sum += live[s][0] + live[s][lsz[s] - 1];
            free(live[s]);
        }
    report_checksum(sum);
    return 0;
}
