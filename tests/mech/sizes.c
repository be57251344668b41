/*
 * Sizes: request2size and the bin index table.
 *
 *  - ptalloc_request_size(n) == max(32, align16(n + 8)) for every n up to
 *    8 KiB and for big n; malloc(0) and malloc(24) get 32-byte chunks with
 *    24 usable bytes, malloc(25) a 48-byte chunk (40 usable); every
 *    malloc(n), n <= 2100, gets exactly request2size(n) (usable = size - 8);
 *  - an mmapped chunk: IS_MMAPPED, usable = size - 16;
 *  - ptalloc_bin_index agrees with GLIBC-FACTS.md's table for every chunk
 *    size up to 4 MiB and for huge sizes, hand-picked boundaries give the
 *    listed bins, the index never decreases and every bin 2..126 is used.
 */
#include "mech.h"

static size_t want_request(size_t n)
{
    size_t s = (n + 8 + 15) & ~(size_t)15;
    return s < 32 ? 32 : s;
}

static int want_bin(size_t s)
{
    if (s < 1024)
        return (int)(s >> 4);
    if (s / 64 <= 48)     return 48 + (int)(s / 64);
    if (s / 512 <= 20)    return 91 + (int)(s / 512);
    if (s / 4096 <= 10)   return 110 + (int)(s / 4096);
    if (s / 32768 <= 4)   return 119 + (int)(s / 32768);
    if (s / 262144 <= 2)  return 124 + (int)(s / 262144);
    return 126;
}

int main(void)
{
    /* request2size */
    for (size_t n = 0; n <= 8192; n++)
        CHECKF(ptalloc_request_size(n) == want_request(n), "request_size(%zu) = %zu, want %zu",
               n, ptalloc_request_size(n), want_request(n));
    size_t big[] = { 65536, 131072 - 8, 131072, 1u << 20, (1u << 30) + 1, (size_t)1 << 40 };
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
        CHECKF(ptalloc_request_size(big[i]) == want_request(big[i]), "request_size(%zu)", big[i]);
    CHECK(ptalloc_request_size(0) == 32);
    CHECK(ptalloc_request_size(24) == 32);
    CHECK(ptalloc_request_size(25) == 48);

    void *p0 = malloc(0), *p24 = malloc(24), *p25 = malloc(25);
    CHECK(p0 && p24 && p25);
    CHECK(m_size(p0) == 32 && malloc_usable_size(p0) == 24);
    CHECK(m_size(p24) == 32 && malloc_usable_size(p24) == 24);
    CHECK(m_size(p25) == 48 && malloc_usable_size(p25) == 40);
    CHECK_WHERE(p0, PTALLOC_INUSE, -1);
    CHECK_WHERE(p24, PTALLOC_INUSE, -1);
    CHECK(((uintptr_t)p0 & 15) == 0 && ((uintptr_t)p24 & 15) == 0 && ((uintptr_t)p25 & 15) == 0);
    free(p0);
    free(p24);
    free(p25);

    for (size_t n = 0; n <= 2100; n++) {
        char *p = malloc(n);
        CHECKF(p != NULL, "malloc(%zu)", n);
        if (!p)
            break;
        struct ptalloc_chunk_info ci = m_info(p);
        CHECKF(ci.where == PTALLOC_INUSE && ci.size == want_request(n) &&
               malloc_usable_size(p) == ci.size - 8 && ci.chunk == p - 16 && ci.mem == p,
               "malloc(%zu): where %d size %zu usable %zu", n, ci.where, ci.size,
               malloc_usable_size(p));
        CHECKF((ci.flags & (PTALLOC_IS_MMAPPED | PTALLOC_NON_MAIN_ARENA)) == 0, "flags %#x", ci.flags);
        if (n)
            p[n - 1] = 1;       /* the last usable byte is really usable */
        free(p);
    }

    char *m = malloc(4 * MiB);
    CHECK(m != NULL);
    if (m) {
        struct ptalloc_chunk_info ci = m_info(m);
        CHECK(ci.where == PTALLOC_MMAPPED && (ci.flags & PTALLOC_IS_MMAPPED) && ci.arena == -1);
        CHECK(ci.size >= want_request(4 * MiB));
        CHECK(malloc_usable_size(m) == ci.size - 16);
        CHECK(malloc_usable_size(m) >= 4 * MiB);
        m[malloc_usable_size(m) - 1] = 1;
        free(m);
    }

    /* the bin index table */
    int prev = 0;
    char used[128] = { 0 };
    for (size_t s = 32; s <= 4 * MiB; s += 16) {
        int b = ptalloc_bin_index(s);
        CHECKF(b == want_bin(s), "bin_index(%zu) = %d, want %d", s, b, want_bin(s));
        CHECKF(b >= prev, "bin_index decreases at %zu", s);
        prev = b;
        if (b >= 0 && b < 128)
            used[b] = 1;
    }
    for (int b = 2; b <= 126; b++)
        CHECKF(used[b], "no chunk size maps to bin %d", b);
    for (size_t s = 4 * MiB; s && s < ((size_t)1 << 50); s = s * 3 / 2 + 16)
        CHECKF(ptalloc_bin_index(s & ~(size_t)15) == 126, "bin_index(%zu)", s & ~(size_t)15);

    static const struct { size_t size; int bin; } table[] = {
        { 32, 2 }, { 48, 3 }, { 128, 8 }, { 1008, 63 },
        { 1024, 64 }, { 1072, 64 }, { 1088, 65 }, { 3072, 96 }, { 3120, 96 },
        { 3136, 97 }, { 3584, 98 }, { 10240, 111 }, { 10752, 112 }, { 12288, 113 },
        { 40960, 120 }, { 45056, 120 }, { 65520, 120 }, { 65536, 121 }, { 131072, 123 },
        { 163840, 124 }, { 262144, 125 }, { 524288, 126 }, { 786432, 126 }, { 64 * MiB, 126 },
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        CHECKF(ptalloc_bin_index(table[i].size) == table[i].bin, "bin_index(%zu) = %d, want %d",
               table[i].size, ptalloc_bin_index(table[i].size), table[i].bin);

    t_heap_check("end");
    return t_done();
}
