/* batch_*: allocate many blocks, then free them all; repeat.
 * Compiled three times:
 *   -DBATCH_SMALL    100k x 16..128 B
 *   -DBATCH_MEDIUM   10k x 1..8 KiB
 *   -DBATCH_NEARMMAP 500 x 100..127 KiB (just under the 128 KiB mmap threshold)
 * The free order rotates between forward, reverse and evens-then-odds. */
#include "common.h"

#if defined(BATCH_SMALL)
#define COUNT 100000
#define LO 16
#define HI 128
#define ROUNDS 40
#elif defined(BATCH_MEDIUM)
#define COUNT 10000
#define LO 1024
#define HI 8192
#define ROUNDS 200
#elif defined(BATCH_NEARMMAP)
#define COUNT 500
#define LO (100 * 1024)
#define HI (127 * 1024)
#define ROUNDS 24
#else
#error "define BATCH_SMALL, BATCH_MEDIUM or BATCH_NEARMMAP"
#endif

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    long rounds = scaled(ROUNDS, scale);
    unsigned char **v = xmalloc(COUNT * sizeof *v);
    size_t *sz = xmalloc(COUNT * sizeof *sz);
    uint64_t rng = 42, sum = 0;

    for (long r = 0; r < rounds; r++) {
        for (long i = 0; i < COUNT; i++) {
            size_t n = rng_range(&rng, LO, HI);
            unsigned char *p = xmalloc(n);
            sz[i] = n;
            if (n >= 4096)
                touch_pages(p, n, (unsigned char)i);
            else
                p[0] = p[n - 1] = (unsigned char)i;
            v[i] = p;
        }
        for (long k = 0; k < COUNT; k++) {
            long i;
            switch (r % 3) {
            case 0: i = k; break;
            case 1: i = COUNT - 1 - k; break;
            default: i = k < (COUNT + 1) / 2 ? 2 * k : 2 * (k - (COUNT + 1) / 2) + 1; break;
            }
            sum += v[i][0] + v[i][sz[i] - 1];
            free(v[i]);
        }
    }
    free(v);
    free(sz);
    report_checksum(sum);
    return 0;
}
