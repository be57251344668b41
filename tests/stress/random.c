/*
 * Randomized stress with content verification: millions of malloc, calloc,
 * realloc, memalign and free calls over sizes in every range (tcache, fast,
 * small, large, mmapped), each block filled with a pattern derived from its
 * address and size and verified before it is resized or freed; a full heap
 * check after each phase.  STRESS_OPS scales the work.
 */
#include <malloc.h>
#include <stdint.h>
#include "t.h"
#include "ptalloc.h"

#define SLOTS 20000

struct slot { unsigned char *p; size_t n; unsigned seed; };
static struct slot slots[SLOTS];

static size_t pick_size(unsigned long long *rng)
{
    unsigned long long r = t_rand(rng);
    switch (r % 100) {
    case 0 ... 49: return (r >> 8) % 200;             /* tcache / fast   */
    case 50 ... 79: return (r >> 8) % 1100;           /* small           */
    case 80 ... 96: return 1024 + (r >> 8) % 60000;   /* large           */
    case 97 ... 98: return 60000 + (r >> 8) % 200000; /* around the mmap threshold */
    default:        return 200000 + (r >> 8) % 2000000; /* mmapped       */
    }
}

/* Blocks up to 4 KiB are filled whole; bigger ones at a stride, plus
 * their first and last 256 bytes (keeps the test's own cost down). */
static size_t step(size_t i, size_t n)
{
    return n <= 4096 || i < 256 || i + 256 >= n ? 1 : 97;
}

static void fill(struct slot *s)
{
    for (size_t i = 0; i < s->n; i += step(i, s->n))
        s->p[i] = (unsigned char)(s->seed + i * 31);
}

static int verify(struct slot *s, size_t n)
{
    for (size_t i = 0; i < n; i += step(i, s->n))
        if (s->p[i] != (unsigned char)(s->seed + i * 31))
            return 0;
    return 1;
}

int main(void)
{
    long ops = 3000000;
    const char *e = getenv("STRESS_OPS");
    if (e) ops = atol(e);
    if (getenv("PTALLOC_VARIANT") && strcmp(getenv("PTALLOC_VARIANT"), "release") != 0)
        ops /= 3;
    unsigned long long rng = 0x1234567;
    int phases = 6;
    for (int phase = 0; phase < phases; phase++) {
        for (long k = 0; k < ops / phases; k++) {
            unsigned long long r = t_rand(&rng);
            struct slot *s = &slots[r % SLOTS];
            unsigned op = (unsigned)(r >> 32) % 10;
            if (s->p) {
                if (!verify(s, s->n)) {
                    fprintf(stderr, "content of %p (%zu bytes) damaged\n", (void *)s->p, s->n);
                    t_failures++;
                    return t_done();
                }
                if (op < 3) {
                    size_t n = pick_size(&rng);
                    unsigned char *q = realloc(s->p, n);
                    if (n == 0) { s->p = NULL; continue; }
                    CHECK(q != NULL);
                    if (!q) continue;
                    s->p = q;
                    if (!verify(s, n < s->n ? n : s->n)) {
                        fprintf(stderr, "realloc lost content\n");
                        t_failures++;
                        return t_done();
                    }
                    s->n = n;
                    fill(s);
                } else {
                    free(s->p);
                    s->p = NULL;
                }
            } else {
                size_t n = pick_size(&rng);
                s->seed = (unsigned)r;
                if (op == 0) {
                    s->p = calloc(1, n);
                    CHECK(s->p != NULL);
                    for (size_t i = 0; i < n; i++)
                        if (s->p[i]) { CHECKF(0, "calloc not zero at %zu of %zu", i, n); break; }
                } else if (op == 1) {
                    size_t al = (size_t)16 << ((r >> 40) % 9);
                    s->p = memalign(al, n);
                    CHECK(s->p && ((uintptr_t)s->p & (al - 1)) == 0);
                } else {
                    s->p = malloc(n);
                    CHECK(s->p != NULL);
                }
                CHECK(((uintptr_t)s->p & 15) == 0);
                CHECK(malloc_usable_size(s->p) >= n);
                s->n = n;
                fill(s);
            }
        }
        if (phase == phases / 2)
            malloc_trim(0);
        char where[32];
        snprintf(where, sizeof where, "phase %d", phase);
        t_heap_check(where);
        if (t_failures)
            return t_done();
    }
    for (int i = 0; i < SLOTS; i++) {
        if (slots[i].p && !verify(&slots[i], slots[i].n)) { t_failures++; break; }
        free(slots[i].p);
    }
    t_heap_check("end");
    return t_done();
}
