/* serverN: multi-threaded server-like churn, compiled with -DNTHREADS=N.
 * A fixed total of requests is split across the threads (so on 2 cores
 * server2 should take about half of server1, and server4 about as long as
 * server2).  Per request: allocate 2..6 buffers of mixed sizes (header
 * 32..256 B, bodies mostly 256 B..4 KiB, sometimes 4..32 KiB, rarely
 * 64..128 KiB), touch them, free most; one in four requests keeps a buffer
 * in the thread's cache of 2048 live objects (evicting a random one). */
#include "common.h"
#include <pthread.h>

#ifndef NTHREADS
#define NTHREADS 1
#endif
#define CACHE 2048

struct worker { long requests; uint64_t seed, sum; };

static size_t body_size(uint64_t *rng)
{
    unsigned r = (unsigned)(rng_next(rng) % 1000);
    if (r < 900) return rng_range(rng, 256, 4096);
    if (r < 995) return rng_range(rng, 4097, 32768);
    return rng_range(rng, 65536, 131072);
}

static void *work(void *arg)
{
    struct worker *w = arg;
    uint64_t rng = w->seed, sum = 0;
    unsigned char **cache = calloc(CACHE, sizeof *cache);
    size_t *csz = calloc(CACHE, sizeof *csz);
    unsigned char *buf[6];
    size_t sz[6];

    for (long q = 0; q < w->requests; q++) {
        int k = 2 + (int)(rng_next(&rng) % 5);
        for (int i = 0; i < k; i++) {
            sz[i] = i == 0 ? rng_range(&rng, 32, 256) : body_size(&rng);
            buf[i] = xmalloc(sz[i]);
            memset(buf[i], (int)(q + i), sz[i] < 512 ? sz[i] : 512);
            buf[i][sz[i] - 1] = (unsigned char)q;
        }
        for (int i = 0; i < k; i++)         /* "process" the request */
            sum += buf[i][0] + buf[i][sz[i] - 1];
        int keep = (q % 4 == 0) ? (int)(rng_next(&rng) % (uint64_t)k) : -1;
        for (int i = 0; i < k; i++) {
            if (i == keep) {
                int s = (int)(rng_next(&rng) % CACHE);
                if (cache[s]) {
                    sum += cache[s][csz[s] - 1];
                    free(cache[s]);
                }
                cache[s] = buf[i];
                csz[s] = sz[i];
            } else {
                free(buf[i]);
            }
        }
    }
    for (int s = 0; s < CACHE; s++)
        if (cache[s]) {
            sum += cache[s][csz[s] - 1];
            free(cache[s]);
        }
    free(cache);
    free(csz);
    w->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    long total = scaled(2000000, scale);
    struct worker w[NTHREADS];
    pthread_t th[NTHREADS];
    uint64_t sum = 0;

    for (int i = 0; i < NTHREADS; i++) {
        w[i].requests = total / NTHREADS + (i < total % NTHREADS);
        w[i].seed = 5000 + (uint64_t)i;
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        sum = sum * 31 + w[i].sum;
    }
    report_checksum(sum);
    return 0;
}
