/*
 * Many sizes, 0 .. 300000, live together: every block is 16-aligned, has
 * usable >= requested, does not overlap another block and keeps its
 * contents until freed, through a long deterministic random sequence of
 * malloc / calloc / realloc / free that crosses tcache, fastbin, small,
 * large and mmapped sizes.
 */
#include "t.h"
#include <malloc.h>
#include <stdint.h>

enum { SLOTS = 1024, ITERS = 200000 };

static unsigned char *p[SLOTS];
static size_t len[SLOTS];
static unsigned tag[SLOTS];

/* Pattern: every byte for small blocks, a stride plus both ends for big
 * ones (keeps the run time low while still catching overlap). */
static inline unsigned char pat(unsigned t, size_t i)
{
    return (unsigned char)(t * 167u + i * 13u + (i >> 9));
}

static void stamp(int i)
{
    size_t n = len[i];
    if (n <= 8192) {
        for (size_t k = 0; k < n; k++) p[i][k] = pat(tag[i], k);
    } else {
        for (size_t k = 0; k < 4096; k++) p[i][k] = pat(tag[i], k);
        for (size_t k = 4096; k < n - 4096; k += 509) p[i][k] = pat(tag[i], k);
        for (size_t k = n - 4096; k < n; k++) p[i][k] = pat(tag[i], k);
    }
}

/* Checks the bytes stamp() wrote for the block's current length that lie
 * below n (n < len after a shrinking realloc). */
static int verify(int i, size_t n)
{
    size_t L = len[i];
    if (n > L) n = L;
    if (L <= 8192) {
        for (size_t k = 0; k < n; k++) if (p[i][k] != pat(tag[i], k)) return 0;
    } else {
        for (size_t k = 0; k < 4096 && k < n; k++) if (p[i][k] != pat(tag[i], k)) return 0;
        for (size_t k = 4096; k < L - 4096 && k < n; k += 509) if (p[i][k] != pat(tag[i], k)) return 0;
        for (size_t k = L - 4096; k < n; k++) if (p[i][k] != pat(tag[i], k)) return 0;
    }
    return 1;
}

static size_t pick(unsigned long long *s)
{
    unsigned r = (unsigned)(t_rand(s) % 1000);
    if (r < 400) return t_rand(s) % 129;            /* fastbin range */
    if (r < 700) return t_rand(s) % 1033;           /* tcache range */
    if (r < 900) return t_rand(s) % 16384;
    if (r < 985) return t_rand(s) % 131072;         /* below the threshold */
    return t_rand(s) % 300001;                      /* up to 300000, mmapped */
}

static int cmp(const void *a, const void *b)
{
    const uintptr_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

static void no_overlap(const char *where)
{
    static uintptr_t r[SLOTS][2];
    int m = 0;
    for (int i = 0; i < SLOTS; i++)
        if (p[i]) { r[m][0] = (uintptr_t)p[i]; r[m][1] = (uintptr_t)p[i] + (len[i] ? len[i] : 1); m++; }
    qsort(r, (size_t)m, sizeof r[0], cmp);
    for (int i = 1; i < m; i++)
        CHECKF(r[i][0] >= r[i - 1][1], "%s: blocks %#lx and %#lx overlap", where,
               (unsigned long)r[i - 1][0], (unsigned long)r[i][0]);
}

int main(void)
{
    unsigned long long s = 0x5eed;
    int errors = 0;
    for (int it = 0; it < ITERS && errors < 10; it++) {
        int i = (int)(t_rand(&s) % SLOTS);
        unsigned op = (unsigned)(t_rand(&s) % 10);
        if (p[i] && op < 4) {                           /* free */
            if (!verify(i, len[i])) { CHECKF(0, "iter %d: block %d (%zu bytes) corrupted", it, i, len[i]); errors++; }
            free(p[i]);
            p[i] = NULL;
            continue;
        } else if (p[i]) {                              /* realloc */
            size_t n = pick(&s);
            if (!verify(i, len[i])) { CHECKF(0, "iter %d: block %d (%zu bytes) corrupted", it, i, len[i]); errors++; }
            unsigned char *q = realloc(p[i], n);
            if (n == 0) {
                CHECK(q == NULL);
                if (q) free(q);
                p[i] = NULL;
                continue;
            }
            CHECKF(q != NULL, "realloc(%zu -> %zu) failed", len[i], n);
            if (!q) continue;
            p[i] = q;
            if (!verify(i, n)) { CHECKF(0, "iter %d: realloc %zu -> %zu lost contents", it, len[i], n); errors++; }
            len[i] = n;
        } else {                                        /* allocate */
            size_t n = pick(&s);
            p[i] = (op & 1) ? calloc(1, n) : malloc(n);
            CHECKF(p[i] != NULL, "allocation of %zu failed", n);
            if (!p[i]) continue;
            len[i] = n;
            if (op & 1)
                for (size_t k = 0; k < n; k += (n > 8192 ? 4093 : 1))
                    if (p[i][k]) { CHECKF(0, "calloc(%zu) byte %zu not zero", n, k); errors++; break; }
        }
        CHECKF(((uintptr_t)p[i] & 15) == 0, "iter %d: %p not 16-aligned", it, (void *)p[i]);
        CHECKF(malloc_usable_size(p[i]) >= len[i], "iter %d: usable %zu < %zu", it,
               malloc_usable_size(p[i]), len[i]);
        tag[i] = (unsigned)it;
        stamp(i);
        if (it % 10000 == 0) {
            no_overlap("periodic");
            t_heap_check("periodic");
        }
    }
    no_overlap("end");
    t_heap_check("end");
    for (int i = 0; i < SLOTS; i++) {
        if (p[i] && !verify(i, len[i])) CHECKF(0, "block %d corrupted at the end", i);
        free(p[i]);
    }
    t_heap_check("freed");
    return t_done();
}
