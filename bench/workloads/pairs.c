/* pairs: malloc/free pairs by size class in a hot loop (16 .. 4096 B).
 * The 16..1024 classes stay in the per-thread cache on ptmalloc designs;
 * 4096 goes past it (bins / top chunk). */
#include "common.h"

int main(int argc, char **argv)
{
    static const size_t sizes[] = { 16, 64, 256, 1024, 4096 };
    double scale = bench_scale(argc, argv);
    long n = scaled(6000000, scale);
    uint64_t sum = 0;

    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        size_t sz = sizes[c];
        for (long i = 0; i < n; i++) {
            unsigned char *p = xmalloc(sz);
            p[0] = (unsigned char)i;
            p[sz - 1] = (unsigned char)(i >> 8);
            sum += p[0] + p[sz - 1];
            free(p);
        }
        sum = sum * 31 + sz;
    }
    report_checksum(sum);
    return 0;
}
