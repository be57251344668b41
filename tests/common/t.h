/*
 * Tiny test harness shared by every C test.
 *
 * A test is a program: it exits 0 when every CHECK held, 1 otherwise.
 * It runs on any malloc: under ptalloc (LD_PRELOAD or linked) t_heap_check()
 * runs ptalloc's full consistency check; on another allocator it is a no-op
 * that passes, so the same test can be validated against glibc.
 */
#ifndef T_H
#define T_H

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failures;

#define CHECK(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        t_failures++; \
    } } while (0)

#define CHECKF(cond, ...) do { \
    if (!(cond)) { \
        fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
        fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); \
        t_failures++; \
    } } while (0)

/* 1 when the process runs on ptalloc. */
static inline int t_on_ptalloc(void)
{
    return dlsym(RTLD_DEFAULT, "ptalloc_check") != NULL;
}

/* Runs ptalloc's heap check when present; counts a failure if it reports
 * any problem. */
static inline void t_heap_check(const char *where)
{
    int (*check)(int) = (int (*)(int))dlsym(RTLD_DEFAULT, "ptalloc_check");
    if (check) {
        int problems = check(1);
        if (problems) {
            fprintf(stderr, "heap check failed at %s: %d problem(s)\n", where, problems);
            t_failures++;
        }
    }
}

static inline int t_done(void)
{
    if (t_failures)
        fprintf(stderr, "%d check(s) failed\n", t_failures);
    return t_failures ? 1 : 0;
}

/* Deterministic PRNG (xorshift64*) for stress tests. */
static inline unsigned long long t_rand(unsigned long long *s)
{
    unsigned long long x = *s;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

#endif
