/*
 * Shared helpers for the ptalloc benchmark workloads.
 *
 * Every workload is a plain C program: `prog [scale]`, scale a float
 * multiplier on the iteration counts (default 1.0).  It prints
 * "checksum=<hex>" computed only from data values (never from addresses),
 * so the same workload gives the same checksum on every allocator; the
 * harness compares them as a cheap correctness check.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: tiny, good enough, deterministic. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static inline size_t rng_range(uint64_t *s, size_t lo, size_t hi)
{
    return lo + (size_t)(rng_next(s) % (uint64_t)(hi - lo + 1));
}

static inline double bench_scale(int argc, char **argv)
{
    double s = argc > 1 ? atof(argv[1]) : 1.0;
    return s > 0 ? s : 1.0;
}

static inline long scaled(long base, double scale)
{
    long n = (long)((double)base * scale);
    return n < 1 ? 1 : n;
}

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "malloc(%zu) failed\n", n);
        exit(3);
    }
    return p;
}

static inline void *xrealloc(void *old, size_t n)
{
    void *p = realloc(old, n);
    if (!p) {
        fprintf(stderr, "realloc(%zu) failed\n", n);
        exit(3);
    }
    return p;
}

/* Writes one byte per page (and the last byte): faults the block in. */
static inline void touch_pages(unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i += 4096)
        p[i] = v;
    p[n - 1] = v;
}

/* A value from /proc/self/status in kB ("VmRSS", "VmHWM"), -1 if absent. */
static inline long proc_status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kl = strlen(key);
    long v = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

static inline void report_checksum(uint64_t sum)
{
    printf("checksum=%016llx\n", (unsigned long long)sum);
    fflush(stdout);
}

#endif
