/* frag: fragmentation.  Each round allocates many small blocks (16..256 B),
 * frees every other one, keeps one in four of the survivors as long-lived
 * (scattered through the heap), then allocates blocks of a different size
 * (500..3000 B) that do not fit the holes, keeps one in sixteen of those as
 * long-lived and frees the rest.  At the end 7 of 8 long-lived blocks are
 * freed too, so only a thin scattered set stays live.  Prints
 *   final_rss_kb=  VmRSS at the end (what the allocator did not give back)
 *   peak_rss_kb=   VmHWM
 *   live_kb=       bytes still allocated at the end (requested sizes) */
#include "common.h"

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    long rounds = 24;
    long n = scaled(75000, scale);
    long nb = n / 4 > 0 ? n / 4 : 1;
    unsigned char **a = xmalloc((size_t)n * sizeof *a);
    unsigned char **b = xmalloc((size_t)nb * sizeof *b);
    size_t nkeep = 0, cap = 1024, live = 0;
    unsigned char **keep = xmalloc(cap * sizeof *keep);
    size_t *ksz = xmalloc(cap * sizeof *ksz);
    uint64_t rng = 11, sum = 0;

#define KEEP(p, s) do {                                             \
        if (nkeep == cap) {                                         \
            cap *= 2;                                               \
            keep = xrealloc(keep, cap * sizeof *keep);              \
            ksz = xrealloc(ksz, cap * sizeof *ksz);                 \
        }                                                           \
        ksz[nkeep] = (s);                                           \
        keep[nkeep++] = (p);                                        \
    } while (0)

    size_t *asz = xmalloc((size_t)n * sizeof *asz);
    size_t *bsz = xmalloc((size_t)nb * sizeof *bsz);
    for (long r = 0; r < rounds; r++) {
        for (long i = 0; i < n; i++) {
            size_t s = rng_range(&rng, 16, 256);
            a[i] = xmalloc(s);
            asz[i] = s;
            a[i][0] = (unsigned char)(i + r);
            a[i][s - 1] = 1;
        }
        for (long i = 0; i < n; i += 2) {          /* every other block */
            sum += a[i][0];
            free(a[i]);
        }
        for (long i = 0; i < nb; i++) {            /* differently sized */
            size_t s = rng_range(&rng, 500, 3000);
            b[i] = xmalloc(s);
            bsz[i] = s;
            memset(b[i], (int)i, s < 256 ? s : 256);
            b[i][s - 1] = 2;
        }
        for (long i = 1; i < n; i += 2) {          /* survivors: keep 1 in 4 */
            if (i % 8 == 1)
                KEEP(a[i], asz[i]);
            else {
                sum += a[i][0];
                free(a[i]);
            }
        }
        for (long i = 0; i < nb; i++) {
            if (i % 16 == 0)
                KEEP(b[i], bsz[i]);
            else {
                sum += b[i][0];
                free(b[i]);
            }
        }
    }
    for (size_t i = 0; i < nkeep; i++) {           /* free 7 of 8 long-lived */
        if (i % 8 == 3) {
            live += ksz[i];
            continue;
        }
        sum += keep[i][0] + keep[i][ksz[i] - 1];
        free(keep[i]);
        keep[i] = NULL;
    }
    long final_kb = proc_status_kb("VmRSS");
    long peak_kb = proc_status_kb("VmHWM");
    for (size_t i = 0; i < nkeep; i++)
        if (keep[i]) {
            sum += keep[i][0];
            free(keep[i]);
        }
    free(keep); free(ksz); free(a); free(b); free(asz); free(bsz);
    report_checksum(sum);
    printf("final_rss_kb=%ld\npeak_rss_kb=%ld\nlive_kb=%zu\n", final_kb, peak_kb, live / 1024);
    return 0;
}
