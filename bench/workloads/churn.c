/* churn: random-size churn over a large live set: each op frees a random
 * slot of a 50k-slot table and puts a new block of a random size there.
 * Sizes 8..4096 with a long tail: 60% 8..64, 25% 65..256, 12% 257..1024,
 * 3% 1025..4096. */
#include "common.h"

#define SLOTS 50000

static size_t pick_size(uint64_t *rng)
{
    unsigned r = (unsigned)(rng_next(rng) % 100);
    if (r < 60) return rng_range(rng, 8, 64);
    if (r < 85) return rng_range(rng, 65, 256);
    if (r < 97) return rng_range(rng, 257, 1024);
    return rng_range(rng, 1025, 4096);
}

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    long ops = scaled(8000000, scale);
    long slots = SLOTS;
    uint64_t rng = 7, sum = 0;
    uint64_t **tab;

    if (slots > ops)
        slots = ops;
    tab = calloc((size_t)slots, sizeof *tab);
    for (long i = 0; i < slots; i++) {
        size_t n = pick_size(&rng);
        tab[i] = xmalloc(n);
        tab[i][0] = (uint64_t)i ^ n;
    }
    for (long op = 0; op < ops; op++) {
        long s = (long)(rng_next(&rng) % (uint64_t)slots);
        size_t n = pick_size(&rng);
        sum += tab[s][0];
        free(tab[s]);
        tab[s] = xmalloc(n);
        tab[s][0] = (uint64_t)op ^ n;
        ((unsigned char *)tab[s])[n - 1] = (unsigned char)op;
    }
    for (long i = 0; i < slots; i++) {
        sum += tab[i][0];
        free(tab[i]);
    }
    free(tab);
    report_checksum(sum);
    return 0;
}
