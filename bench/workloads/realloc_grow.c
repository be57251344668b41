/* realloc_grow: many buffers grown with realloc, round-robin so their
 * growth interleaves.  Even buffers double (16 B .. 64 KiB); odd buffers
 * grow by small increments (+8..+96 B, up to 8 KiB), like a string builder.
 * A finished buffer is verified, freed and restarted. */
#include "common.h"

#define NBUF 1000

struct buf { unsigned char *p; size_t len, cap; unsigned char tag; };

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    long steps = scaled(1000000, scale);
    struct buf b[NBUF];
    uint64_t rng = 99, sum = 0;
    unsigned char next_tag = 1;

    memset(b, 0, sizeof b);
    for (long s = 0; s < steps; s++) {
        struct buf *x = &b[s % NBUF];
        int doubling = (s % NBUF) % 2 == 0;
        size_t limit = doubling ? 65536 : 8192;
        size_t ncap;

        if (!x->p) {
            x->cap = 16;
            x->p = xmalloc(x->cap);
            x->tag = next_tag++;
            x->p[0] = x->tag;
            x->p[x->cap - 1] = x->tag;
            x->len = x->cap;
            continue;
        }
        ncap = doubling ? x->cap * 2 : x->cap + rng_range(&rng, 8, 96);
        if (ncap > limit) {
            /* done: check first and last written bytes, then free */
            sum += (x->p[0] == x->tag) + x->p[x->len - 1];
            free(x->p);
            x->p = NULL;
            continue;
        }
        unsigned char last = x->p[x->cap - 1];
        x->p = xrealloc(x->p, ncap);
        if (x->p[0] != x->tag || x->p[x->cap - 1] != last) {
            fprintf(stderr, "realloc lost data\n");
            return 1;
        }
        x->p[x->cap] = (unsigned char)s;     /* first new byte */
        x->p[ncap - 1] = (unsigned char)(s >> 4);
        x->len = ncap;
        x->cap = ncap;
        sum += last;
    }
    for (int i = 0; i < NBUF; i++)
        free(b[i].p);
    report_checksum(sum);
    return 0;
}
