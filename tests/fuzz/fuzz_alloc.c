/*
 * libFuzzer target: the input is a program of allocator operations over a
 * table of NSLOTS blocks.  Built together with every src/ file into one
 * executable (tests/fuzz/run.sh), so every allocation of the process,
 * libFuzzer's included, is ptalloc's.
 *
 * Each operation starts with one byte (the opcode, modulo 20: see the switch
 * in LLVMFuzzerTestOneInput) followed by its operands; a missing byte reads
 * as 0 and the program ends with the input.  The operations: malloc, calloc,
 * realloc, reallocarray, memalign / aligned_alloc / posix_memalign, valloc /
 * pvalloc, free / free_sized / free_aligned_sized / cfree, use of the whole
 * malloc_usable_size, malloc_trim, mallopt and ptalloc_set_option (restored
 * at the end), bursts of same-size blocks, tcache flush, heap checks, the
 * introspection calls, and "shape the top" (a block that puts the top chunk
 * on a page boundary).  tests/fuzz/gen_corpus.py writes programs in this
 * language.  Sizes come from draw_size(): mostly small, sometimes around the
 * tcache / fastbin / mmap boundaries, up to a few MiB, and sometimes huge
 * (>= 2^57), which must fail with NULL and errno ENOMEM.
 *
 * Checked on every input:
 *   - every live block holds a pattern derived from its seed: verified in
 *     full before realloc and free and at the end of the input, sparsely
 *     (head, tail, one word per 4 KiB) every CHECK_EVERY operations and
 *     after malloc_trim;
 *   - calloc memory is zero; alignments (16, or the one asked for);
 *   - realloc keeps min(old, new) bytes; a failed realloc keeps the block;
 *   - malloc_usable_size >= request, the usable bytes are writable;
 *   - a new block overlaps no live block; free keeps errno;
 *   - error cases: overflowing calloc / reallocarray, bad alignments, huge
 *     sizes return NULL (or the error code) with the right errno;
 *   - ptalloc_check(1) == 0 every CHECK_EVERY operations, after trim and
 *     mallopt, and at the end; ptalloc_locate / ptalloc_walk / ptalloc_bin /
 *     mallinfo2 agree with the table.
 * Any failure prints what went wrong and calls abort(), which libFuzzer
 * reports as a crash.  Every input frees all it allocated and puts back the
 * options it changed, so inputs do not depend on each other.
 *
 * PTALLOC_FUZZ_TRACE=1 in the environment prints each operation (useful to
 * read a reproducer).  PTALLOC_FUZZ_LAST_INPUT=file: each input is written
 * there before it runs, so a crash that corrupts the heap libFuzzer itself
 * allocates from (its crash handler then cannot save the input) still
 * leaves the reproducer behind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ptalloc.h"

/* Compiled with -fno-builtin (so that the allocator calls stay opaque):
 * ask for the inline copies explicitly. */
#define memcpy(d, s, n) __builtin_memcpy(d, s, n)
#define memset(d, c, n) __builtin_memset(d, c, n)

/* Not declared by every libc's headers; ptalloc defines them all. */
void free_sized(void *p, size_t n);
void free_aligned_sized(void *p, size_t align, size_t n);
void cfree(void *p);

#define NSLOTS       64
#define NBURST       256
#define CHECK_EVERY  32
#define HUGE_MIN     ((size_t)1 << 57)          /* can never be mapped      */
#define MUST_FIT     ((size_t)64 << 20)         /* must succeed below this  */
#define CALLOC_CAP   ((size_t)8 << 20)

typedef struct {
    unsigned char *p;
    size_t   len;      /* bytes holding the pattern                        */
    size_t   req;      /* size asked for                                   */
    size_t   align;    /* alignment asked for (16 when none)               */
    uint64_t seed;
} slot_t;

static slot_t   slots[NSLOTS];
static void    *burst[NBURST];
static const uint8_t *in;
static size_t   in_len, in_pos;
static unsigned op_no;
static uint64_t counter;
static int      trace;
static int      last_fd = -1;
static size_t   pagesize;

/* ---- options changed by an input, restored at its end ---------------- */
static const char *const opt_names[] = {
    "mxfast", "trim_threshold", "top_pad", "mmap_threshold", "mmap_max",
    "perturb", "tcache_count", "tcache_max", "purge_delay_ms", "tcache_mid",
};
#define NOPTS (sizeof opt_names / sizeof opt_names[0])
enum { O_MXFAST, O_TRIM, O_TOP_PAD, O_MMAP_THRESHOLD, O_MMAP_MAX, O_PERTURB,
       O_TCACHE_COUNT, O_TCACHE_MAX, O_PURGE_DELAY, O_TCACHE_MID };
/* mallopt numbers, 0 for the options that only have a name. */
static const int opt_param[NOPTS] = {
    M_MXFAST, M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX, M_PERTURB, 0, 0, 0, 0,
};
static long opt_saved[NOPTS];
static int  opt_dirty[NOPTS];

/* ---- failing ---------------------------------------------------------- */
__attribute__((noreturn, format(printf, 1, 2)))
static void fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "\nfuzz_alloc: FAILED at operation %u: ", op_no);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

#define T(...) do { if (trace) fprintf(stderr, __VA_ARGS__); } while (0)

static void heap_check(const char *where)
{
    int n = ptalloc_check(1);
    if (n)
        fail("ptalloc_check found %d problem(s) (%s)", n, where);
}

/* ---- input ------------------------------------------------------------ */
static unsigned u8(void) { return in_pos < in_len ? in[in_pos++] : 0; }
static unsigned u16(void) { unsigned v = u8(); return v | u8() << 8; }
static uint32_t u24(void) { uint32_t v = u16(); return v | (uint32_t)u8() << 16; }

static const size_t edge_sizes[] = {
    0, 1, 8, 9, 16, 24, 25, 40, 56, 64, 120, 128, 136, 152, 160, 168, 176,
    504, 1000, 1008, 1016, 1024, 1032, 1033, 1040, 4080, 4096, 8192,
    65528, 65536, 131048, 131056, 131064, 131072, 131080, 139264, 262144,
    524288, 1 << 20, 2 << 20, 4 << 20,
};
static const size_t huge_sizes[] = {
    SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 15, SIZE_MAX - 4095,
    (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX - 15,
    (size_t)PTRDIFF_MAX - 31, (size_t)PTRDIFF_MAX - 47, (size_t)PTRDIFF_MAX - 48,
    (size_t)PTRDIFF_MAX - 63, (size_t)PTRDIFF_MAX - 4096,
    (size_t)1 << 62, ((size_t)1 << 62) + 4096, (size_t)1 << 60, (size_t)1 << 58,
    HUGE_MIN + 4096, HUGE_MIN + 64,
};
#define NELEM(a) (sizeof (a) / sizeof (a)[0])

/* A request size: biased to small, every range now and then. */
static size_t draw_size(void)
{
    unsigned c = u8();
    switch (c & 15) {
    case 0: case 1: case 2: case 3: case 4:
        return u8();                                   /* 0..255        */
    case 5:
        return u8() % 177;                             /* fastbin range */
    case 6: case 7: case 8:
        return u16() % 1100;                           /* tcache range  */
    case 9: case 10:
        return u16();                                  /* 0..64 KiB     */
    case 11:                                           /* mmap threshold */
        return c & 0x80 ? u24() % (256u << 10) : (120u << 10) + u16() % (16u << 10);
    case 12: case 13: {
        size_t base = edge_sizes[u8() % NELEM(edge_sizes)];
        int delta = (int)(int8_t)u8() % 17;
        return (delta < 0 && (size_t)-delta > base) ? 0 : base + (size_t)(ptrdiff_t)delta;
    }
    case 14:                                           /* 0..1 MiB      */
        return c & 0x80 ? u24() % ((1u << 20) + 1) : u24() % (128u << 10);
    default:
        if (c & 0x80)                                  /* one in 32     */
            return huge_sizes[u8() % NELEM(huge_sizes)] - (u8() & 31);
        return u16() % 4096;
    }
}

/* ---- patterns ----------------------------------------------------------
 * The byte loops are left out of the coverage instrumentation: it would
 * trace every comparison and make them the bulk of the run time. */
#define NOCOV __attribute__((no_sanitize("coverage"), noinline))

static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
static inline uint64_t pat_word(uint64_t seed, size_t w)
{
    uint64_t v = (seed + w) * 0x9E3779B97F4A7C15ull;
    return v ^ (v >> 29);
}
static inline unsigned char pat_byte(uint64_t seed, size_t i)
{
    return (unsigned char)(pat_word(seed, i >> 3) >> (8 * (i & 7)));
}

/* Pattern byte i sits at offset i of the block, so a copied prefix still
 * matches and a grown block continues it. */
NOCOV static void fill(unsigned char *p, size_t from, size_t to, uint64_t seed)
{
    size_t i = from;
    for (; i < to && (i & 7); i++)
        p[i] = pat_byte(seed, i);
    for (; i + 8 <= to; i += 8) {
        uint64_t w = pat_word(seed, i >> 3);
        memcpy(p + i, &w, 8);
    }
    for (; i < to; i++)
        p[i] = pat_byte(seed, i);
}

/* Index of the first byte in [from, to) that differs from the pattern, or
 * to when none does. */
NOCOV static size_t first_bad(const unsigned char *p, uint64_t seed, size_t from, size_t to)
{
    size_t i = from;
    for (; i < to && (i & 7); i++)
        if (p[i] != pat_byte(seed, i))
            return i;
    for (; i + 8 <= to; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w != pat_word(seed, i >> 3))
            break;
    }
    for (; i < to; i++)
        if (p[i] != pat_byte(seed, i))
            return i;
    return to;
}

NOCOV static size_t first_nonzero(const unsigned char *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w)
            break;
    }
    for (; i < n; i++)
        if (p[i])
            return i;
    return n;
}

static void verify_range(const slot_t *s, int idx, size_t from, size_t to, const char *what)
{
    size_t i = first_bad(s->p, s->seed, from, to);
    if (i < to)
        fail("%s: slot %d block %p (len %zu, req %zu, align %zu): byte %zu is 0x%02x, expected 0x%02x",
             what, idx, (void *)s->p, s->len, s->req, s->align, i, s->p[i], pat_byte(s->seed, i));
}

static void verify_full(int idx, const char *what)
{
    verify_range(&slots[idx], idx, 0, slots[idx].len, what);
}

/* Head, tail and one word per page: cheap, and it sees a page that was
 * given back to the kernel while still in use. */
static void verify_sparse(int idx, const char *what)
{
    const slot_t *s = &slots[idx];
    size_t len = s->len;
    if (len <= 256) {
        verify_range(s, idx, 0, len, what);
        return;
    }
    verify_range(s, idx, 0, 64, what);
    verify_range(s, idx, len - 64, len, what);
    for (size_t off = 4096 - ((uintptr_t)s->p & 4095); off + 8 <= len; off += 4096)
        verify_range(s, idx, off & ~(size_t)7, (off & ~(size_t)7) + 8, what);
}

static void verify_all_sparse(const char *what)
{
    for (int i = 0; i < NSLOTS; i++)
        if (slots[i].p)
            verify_sparse(i, what);
}

/* ---- block bookkeeping ------------------------------------------------- */
static void check_new_block(const char *fn, void *p, size_t req, size_t align)
{
    if (!p)
        fail("%s(%zu) returned NULL", fn, req);
    size_t a = align < 16 ? 16 : align;
    if ((uintptr_t)p % a != 0)
        fail("%s: %p is not %zu-aligned", fn, p, a);
    size_t us = malloc_usable_size(p);
    if (us < req)
        fail("%s: malloc_usable_size(%p) = %zu < request %zu", fn, p, us, req);
    size_t slack_max = req + 2 * pagesize + (align > 16 ? align : 0) + 64;
    if (us > slack_max)
        fail("%s: malloc_usable_size(%p) = %zu, far above request %zu", fn, p, us, req);
    uintptr_t b = (uintptr_t)p, e = b + (req ? req : 1);
    for (int i = 0; i < NSLOTS; i++) {
        const slot_t *s = &slots[i];
        if (!s->p || (void *)s->p == p)
            continue;
        uintptr_t sb = (uintptr_t)s->p, se = sb + (s->len ? s->len : 1);
        if (b < se && sb < e)
            fail("%s: new block [%p, +%zu) overlaps slot %d [%p, +%zu)", fn, p, req, i,
                 (void *)s->p, s->len);
    }
}

static void expect_fail(const char *fn, void *p, size_t n, int err, int want)
{
    if (p)
        fail("%s(%#zx) succeeded (%p), expected failure", fn, n, p);
    if (err != want)
        fail("%s(%#zx) failed with errno %d, expected %d", fn, n, err, want);
}

static void release(int idx, int how)
{
    slot_t *s = &slots[idx];
    if (!s->p)
        return;
    verify_full(idx, "before free");
    errno = 4242;
    switch (how & 3) {
    case 0: case 1: free(s->p); break;
    case 2: free_sized(s->p, s->req); break;
    case 3:
        if (s->align > 16) free_aligned_sized(s->p, s->align, s->req);
        else cfree(s->p);
        break;
    }
    if (errno != 4242)
        fail("free changed errno to %d", errno);
    s->p = NULL;
}

static void install(int idx, void *p, size_t req, size_t align, int zeroed)
{
    slot_t *s = &slots[idx];
    s->p = p;
    s->req = req;
    s->len = req;
    s->align = align;
    s->seed = mix(++counter * 131 + (uint64_t)idx);
    if (zeroed) {
        size_t i = first_nonzero(s->p, req);
        if (i < req)
            fail("calloc block %p (%zu bytes): byte %zu is 0x%02x, not 0", p, req, i, s->p[i]);
    }
    fill(s->p, 0, req, s->seed);
}

/* ---- operations --------------------------------------------------------- */
static void op_malloc(void)
{
    int idx = u8() % NSLOTS;
    size_t n = draw_size();
    T("%u: malloc slot %d n %zu\n", op_no, idx, n);
    release(idx, 0);
    errno = 0;
    void *p = malloc(n);
    if (n >= HUGE_MIN) {
        expect_fail("malloc", p, n, errno, ENOMEM);
        return;
    }
    check_new_block("malloc", p, n, 16);
    install(idx, p, n, 16, 0);
}

static void op_calloc(void)
{
    int idx = u8() % NSLOTS;
    unsigned mode = u8();
    size_t k, sz;
    if (mode & 1) {
        k = u8() % 17;
        sz = draw_size();
    } else {
        sz = u8() % 33;
        k = draw_size();
    }
    if (mode & 2) {                      /* overflowing products */
        k = k ? k * (((size_t)1 << 31) + 1) : 3;
        sz = sz ? sz * (((size_t)1 << 33) + 7) : 5;
    }
    size_t total;
    int ovf = __builtin_mul_overflow(k, sz, &total);
    if (!ovf && total > CALLOC_CAP && total < HUGE_MIN)
        return;                          /* would succeed, too slow to check */
    T("%u: calloc slot %d %zu x %zu\n", op_no, idx, k, sz);
    release(idx, 0);
    errno = 0;
    void *p = calloc(k, sz);
    if (ovf || total >= HUGE_MIN) {
        expect_fail("calloc", p, ovf ? SIZE_MAX : total, errno, ENOMEM);
        return;
    }
    check_new_block("calloc", p, total, 16);
    install(idx, p, total, 16, 1);
}

/* realloc (and reallocarray) of the block in slot idx to n bytes. */
static void do_realloc(int idx, size_t n, int array, size_t k, size_t sz)
{
    slot_t *s = &slots[idx];
    const char *fn = array ? "reallocarray" : "realloc";
    if (s->p)
        verify_full(idx, "before realloc");
    int ovf = array && __builtin_mul_overflow(k, sz, &n);
    errno = 0;
    void *p = array ? reallocarray(s->p, k, sz) : realloc(s->p, n);
    int err = errno;
    if (ovf || n >= HUGE_MIN) {
        expect_fail(fn, p, ovf ? SIZE_MAX : n, err, ENOMEM);
        if (s->p)
            verify_full(idx, "after failed realloc");
        return;
    }
    if (!s->p) {                         /* realloc(NULL, n) is malloc(n)   */
        check_new_block(fn, p, n, 16);
        install(idx, p, n, 16, 0);
        return;
    }
    if (n == 0 && !p) {                  /* realloc(p, 0) frees p          */
        s->p = NULL;
        return;
    }
    if (p != s->p)                       /* the old block is gone          */
        s->p = NULL;
    check_new_block(fn, p, n, 16);
    s->p = p;
    size_t keep = s->len < n ? s->len : n;
    verify_range(s, idx, 0, keep, "after realloc");
    fill(s->p, keep, n, s->seed);
    s->len = s->req = n;
    s->align = 16;
}

static void op_realloc(void)
{
    int idx = u8() % NSLOTS;
    size_t n = draw_size();
    T("%u: realloc slot %d (%p len %zu) -> %zu\n", op_no, idx, (void *)slots[idx].p, slots[idx].len, n);
    do_realloc(idx, n, 0, 0, 0);
}

static void op_reallocarray(void)
{
    int idx = u8() % NSLOTS;
    size_t k = u8() % 9, sz = draw_size();
    if (u8() & 1)
        k = k * (((size_t)1 << 40) + 3);
    size_t total;
    if (!__builtin_mul_overflow(k, sz, &total) && total > CALLOC_CAP && total < HUGE_MIN)
        return;
    T("%u: reallocarray slot %d %zu x %zu\n", op_no, idx, k, sz);
    do_realloc(idx, 0, 1, k, sz);
}

static size_t draw_align(void)
{
    unsigned e = u8();
    if (e < 224)
        return (size_t)1 << (e % 21);                          /* 1 .. 1 MiB  */
    static const size_t odd[] = {
        0, 3, 8, 12, 24, 48, 100, 4097, 65535, 3u << 12,
        (size_t)1 << 57, (size_t)1 << 62, (size_t)1 << 63, ((size_t)1 << 63) + 1,
        SIZE_MAX, ((size_t)1 << 62) + 16,
    };
    return odd[e % NELEM(odd)];
}

static size_t next_pow2(size_t a)
{
    size_t r = 32;
    while (r < a)
        r <<= 1;
    return r;
}

static void op_memalign(void)
{
    int idx = u8() % NSLOTS;
    unsigned kind = u8() % 4;
    size_t align = draw_align();
    size_t n = draw_size();
    int pow2 = align && !(align & (align - 1));
    static const char *const names[] = { "memalign", "aligned_alloc", "posix_memalign", "memalign" };
    T("%u: %s slot %d align %#zx n %zu\n", op_no, names[kind], idx, align, n);
    release(idx, 0);

    /* What must happen: EINVAL, ENOMEM or success with this alignment. */
    int want_err = 0;
    size_t eff = align;
    if (kind == 1 && !pow2)
        want_err = EINVAL;
    else if (kind == 2 && (!pow2 || align % sizeof(void *)))
        want_err = EINVAL;
    else if (align > 16) {
        if (align > (SIZE_MAX >> 1) + 1)
            want_err = EINVAL;
        else {
            eff = pow2 ? align : next_pow2(align);
            if (eff >= HUGE_MIN || n >= HUGE_MIN)
                want_err = ENOMEM;
        }
    } else if (n >= HUGE_MIN)
        want_err = ENOMEM;

    void *p = NULL;
    errno = 0;
    if (kind == 2) {
        void *sentinel = (void *)&slots[idx];
        p = sentinel;
        int r = posix_memalign(&p, align, n);
        if (r != want_err)
            fail("posix_memalign(%#zx, %#zx) returned %d, expected %d", align, n, r, want_err);
        if (r) {
            if (p != sentinel)
                fail("failed posix_memalign wrote its result pointer");
            /* as glibc: errno ENOMEM with ENOMEM, untouched with EINVAL */
            if (errno != (r == ENOMEM ? ENOMEM : 0))
                fail("failed posix_memalign (%d) left errno %d", r, errno);
            return;
        }
    } else {
        p = kind == 1 ? aligned_alloc(align, n) : memalign(align, n);
        if (want_err) {
            expect_fail(names[kind], p, n, errno, want_err);
            return;
        }
    }
    check_new_block(names[kind], p, n, eff);
    install(idx, p, n, eff < 16 ? 16 : eff, 0);
}

static void op_valloc(void)
{
    int idx = u8() % NSLOTS;
    int pv = u8() & 1;
    size_t n = draw_size();
    T("%u: %s slot %d n %zu\n", op_no, pv ? "pvalloc" : "valloc", idx, n);
    release(idx, 0);
    errno = 0;
    void *p = pv ? pvalloc(n) : valloc(n);
    if (n >= HUGE_MIN) {
        expect_fail(pv ? "pvalloc" : "valloc", p, n, errno, ENOMEM);
        return;
    }
    size_t req = n;
    if (pv)
        req = n ? (n + pagesize - 1) & ~(pagesize - 1) : pagesize;
    check_new_block(pv ? "pvalloc" : "valloc", p, req, pagesize);
    install(idx, p, req, pagesize, 0);
}

static void op_free(void)
{
    int idx = u8() % NSLOTS;
    unsigned how = u8();
    T("%u: free slot %d (%p len %zu) how %u\n", op_no, idx, (void *)slots[idx].p, slots[idx].len, how & 3);
    release(idx, how);
}

/* The whole usable size is the program's: check it and fill it. */
static void op_usable(void)
{
    int idx = u8() % NSLOTS;
    slot_t *s = &slots[idx];
    T("%u: usable slot %d (%p len %zu)\n", op_no, idx, (void *)s->p, s->len);
    if (!s->p) {
        if (malloc_usable_size(NULL) != 0)
            fail("malloc_usable_size(NULL) != 0");
        return;
    }
    size_t us = malloc_usable_size(s->p);
    if (us < s->len)
        fail("malloc_usable_size(%p) = %zu < %zu bytes in use", (void *)s->p, us, s->len);
    verify_range(s, idx, 0, s->len, "usable");
    fill(s->p, s->len, us, s->seed);
    s->len = us;
}

static void op_trim(void)
{
    size_t pad;
    unsigned m = u8() % 8;
    if (m < 3) pad = 0;
    else if (m < 6) pad = u16() * (size_t)16;
    else if (m == 6) pad = u24() * (size_t)8;
    else pad = SIZE_MAX - u8() % 80;          /* around the wrap-around */
    T("%u: malloc_trim(%zu)\n", op_no, pad);
    int r = malloc_trim(pad);
    if (r != 0 && r != 1)
        fail("malloc_trim returned %d", r);
    verify_all_sparse("after malloc_trim");
    heap_check("after malloc_trim");
}

static void op_mallopt(void)
{
    unsigned which = u8() % 10;
    unsigned v8 = u8();
    long v = 0;
    int param = 0, o = 0, want = 1;
    switch (which) {
    case 0:
        param = M_MXFAST; o = O_MXFAST;
        v = (v8 & 0x80) ? (v8 & 1 ? -1L : 160L + (v8 & 7)) : (long)(v8 % 161);
        want = v >= 0 && v <= 160;
        break;
    case 1:
        param = M_TRIM_THRESHOLD; o = O_TRIM;
        v = v8 == 255 ? -1 : (long)(v8 % 64) << (v8 >> 6 ? 12 : 4);
        break;
    case 2:
        param = M_TOP_PAD; o = O_TOP_PAD;
        v = (long)(v8 % 64) << (v8 >> 6 ? 14 : 4);     /* up to ~1 MiB */
        break;
    case 3:
        param = M_MMAP_THRESHOLD; o = O_MMAP_THRESHOLD;
        if (v8 >= 250) {
            v = (32L << 20) + (v8 - 250);               /* 32 MiB is the limit */
            want = v == (32L << 20);
        } else
            v = (long)(v8 % 64) << (v8 >> 6 ? 14 : 6);
        break;
    case 4:
        param = M_MMAP_MAX; o = O_MMAP_MAX;
        v = v8 < 128 ? v8 % 8 : 65536;
        break;
    case 5:
        param = M_PERTURB; o = O_PERTURB;
        v = v8;
        break;
    case 6: case 7: case 8: case 9: {
        /* The tcache knobs and purge_delay_ms have no mallopt number: by
         * name.  The delay: -1 (never), 0 (at once) or 1 ms (passes at
         * every tick). */
        o = which == 6 ? O_TCACHE_COUNT : which == 7 ? O_TCACHE_MAX
          : which == 8 ? O_PURGE_DELAY : O_TCACHE_MID;
        if (which == 8) {
            v = (long)(v8 % 3) - 1;
            want = 1;
        } else if (which == 9) {
            v = v8 % 3;
            want = v <= 1;
        } else {
            /* tcache_max: small, the mid-size range (1033..4104 and a
             * little past it), and around the 4 MiB limit. */
            v = which == 6 ? (v8 < 200 ? v8 % 20 : (long)(v8 - 200) * 100)
                           : v8 < 200 ? (long)v8 * 5
                           : v8 < 250 ? 1032 + (long)(v8 - 200) * 61
                           : (4L << 20) - 4 + (v8 - 250);
            want = which == 6 || v <= (4L << 20);
        }
        T("%u: ptalloc_set_option(%s, %ld)\n", op_no, opt_names[o], v);
        opt_dirty[o] = 1;
        int r = ptalloc_set_option(opt_names[o], v);
        if (r != want)
            fail("ptalloc_set_option(%s, %ld) returned %d, expected %d", opt_names[o], v, r, want);
        heap_check("after ptalloc_set_option");
        return;
    }
    }
    int by_name = u8() & 1;
    T("%u: %s(%s, %ld)\n", op_no, by_name ? "ptalloc_set_option" : "mallopt", opt_names[o], v);
    opt_dirty[o] = 1;
    int r = by_name ? ptalloc_set_option(opt_names[o], v) : mallopt(param, (int)v);
    if (r != want)
        fail("%s(%s, %ld) returned %d, expected %d", by_name ? "ptalloc_set_option" : "mallopt",
             opt_names[o], v, r, want);
    long now;
    if (r && ptalloc_get_option(opt_names[o], &now) && now != v)
        fail("mallopt(%d, %ld): option %s reads back %ld", param, v, opt_names[o], now);
    heap_check("after mallopt");
}

/* Allocate a run of same-size blocks and free them in some order: fills the
 * tcache, the fastbins and the small bins in one operation. */
static void op_burst(void)
{
    unsigned count = 1 + u8() % NBURST;
    size_t n = draw_size() % 4097;
    unsigned order = u8() % 4;
    unsigned keep = u8() % 2;
    T("%u: burst %u x %zu order %u keep %u\n", op_no, count, n, order, keep);
    for (unsigned i = 0; i < count; i++) {
        unsigned char *p = malloc(n);
        if (!p || (uintptr_t)p % 16)
            fail("burst malloc(%zu) gave %p", n, (void *)p);
        size_t k = n < 16 ? n : 16;
        memset(p, (int)(i & 0xff), k);
        if (n >= 32)
            memset(p + n - 16, (int)(~i & 0xff), 16);
        burst[i] = p;
    }
    for (unsigned j = 0; j < count; j++) {
        unsigned i;
        switch (order) {
        case 0: i = j; break;
        case 1: i = count - 1 - j; break;
        case 2: i = j < (count + 1) / 2 ? 2 * j : 2 * (j - (count + 1) / 2) + 1; break;
        default: i = (j * 7 + 3) % count; if (!burst[i]) { for (i = 0; !burst[i]; i++) ; } break;
        }
        unsigned char *p = burst[i];
        if (!p)
            continue;
        size_t k = n < 16 ? n : 16;
        for (size_t b = 0; b < k; b++)
            if (p[b] != (i & 0xff))
                fail("burst block %u (%p, %zu bytes) head byte %zu corrupted", i, (void *)p, n, b);
        if (n >= 32)
            for (size_t b = n - 16; b < n; b++)
                if (p[b] != (~i & 0xff))
                    fail("burst block %u (%p, %zu bytes) tail byte %zu corrupted", i, (void *)p, n, b);
        if (keep && (i & 1))
            continue;                     /* leave holes behind, freed below */
        free(p);
        burst[i] = NULL;
    }
    for (unsigned i = 0; i < count; i++)
        if (burst[i]) {
            free(burst[i]);
            burst[i] = NULL;
        }
}

/* ---- introspection ------------------------------------------------------ */
static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static uintptr_t live[NSLOTS];
static int       live_n, live_seen[NSLOTS];

static int find_live(const void *mem)
{
    uintptr_t key = (uintptr_t)mem;
    int lo = 0, hi = live_n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (live[mid] == key) return mid;
        if (live[mid] < key) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

static void collect_live(void)
{
    live_n = 0;
    for (int i = 0; i < NSLOTS; i++)
        if (slots[i].p)
            live[live_n++] = (uintptr_t)slots[i].p;
    qsort(live, (size_t)live_n, sizeof live[0], cmp_ptr);
    memset(live_seen, 0, sizeof live_seen);
}

static int walk_bad;
static int walk_fn(const struct ptalloc_chunk_info *ci, void *arg)
{
    (void)arg;
    int k = find_live(ci->mem);
    if (k < 0)
        return 0;
    live_seen[k]++;
    if (ci->where != PTALLOC_INUSE && ci->where != PTALLOC_MMAPPED && !walk_bad)
        walk_bad = 1 + ci->where;
    return 0;
}

/* Allocate, into slot idx, the block that makes the main arena's top chunk
 * start on a page boundary (or just off one): the geometry where trimming
 * and page release have their edge cases.  Uses the introspection API to
 * see where the top is. */
static void shape_top(int idx)
{
    unsigned how = u8();
    struct ptalloc_arena_info ai;
    release(idx, 0);
    if (!ptalloc_arena_info(0, &ai) || !ai.top)
        return;
    uintptr_t top = (uintptr_t)ai.top;
    size_t chunk = ((top + pagesize - 1) & ~(pagesize - 1)) - top + (how & 3) * pagesize;
    if (how & 4)
        chunk += (size_t)16 * ((how >> 3) & 7);            /* just past it */
    if (chunk < 32)
        chunk += pagesize;
    T("%u: shape top %p: malloc(%zu) into slot %d\n", op_no, ai.top, chunk - 8, idx);
    void *p = malloc(chunk - 8);
    check_new_block("malloc", p, chunk - 8, 16);
    install(idx, p, chunk - 8, 16, 0);
}

static void op_introspect(void)
{
    unsigned what = u8() % 5;
    int idx = u8() % NSLOTS;
    slot_t *s = &slots[idx];
    switch (what) {
    case 4:
        shape_top(idx);
        break;
    case 0: {
        T("%u: ptalloc_locate slot %d\n", op_no, idx);
        if (!s->p)
            return;
        struct ptalloc_chunk_info ci;
        if (!ptalloc_locate(s->p, &ci))
            fail("ptalloc_locate(%p) does not know the live block of slot %d", (void *)s->p, idx);
        if (ci.mem != s->p)
            fail("ptalloc_locate(%p): mem %p", (void *)s->p, ci.mem);
        if (ci.where != PTALLOC_INUSE && ci.where != PTALLOC_MMAPPED)
            fail("ptalloc_locate(%p): live block is in state %d", (void *)s->p, ci.where);
        size_t us = malloc_usable_size(s->p);
        size_t overhead = ci.where == PTALLOC_MMAPPED ? 16 : 8;
        if (ci.size - overhead != us)
            fail("ptalloc_locate(%p): chunk size %zu, usable size %zu", (void *)s->p, ci.size, us);
        break;
    }
    case 1: {
        T("%u: ptalloc_walk\n", op_no);
        collect_live();
        walk_bad = 0;
        ptalloc_walk(walk_fn, NULL);
        if (walk_bad)
            fail("ptalloc_walk: a live block is reported in state %d", walk_bad - 1);
        for (int k = 0; k < live_n; k++)
            if (live_seen[k] != 1)
                fail("ptalloc_walk: live block %p seen %d times", (void *)live[k], live_seen[k]);
        break;
    }
    case 2: {
        T("%u: mallinfo2\n", op_no);
        struct mallinfo2 m = mallinfo2();
        if (m.uordblks + m.fordblks != m.arena || m.fordblks > m.arena ||
            m.keepcost > m.arena || m.fsmblks > m.fordblks)
            fail("mallinfo2 inconsistent: arena %zu uordblks %zu fordblks %zu fsmblks %zu keepcost %zu",
                 m.arena, m.uordblks, m.fordblks, m.fsmblks, m.keepcost);
        break;
    }
    default: {
        /* No live block may sit in any bin of any arena. */
        T("%u: ptalloc_bin scan\n", op_no);
        collect_live();
        static void *out[4096];
        for (int a = 0; a < ptalloc_arena_count(); a++) {
            static const struct { int kind, lo, hi; } kinds[] = {
                { PTALLOC_TCACHE, 0, 63 }, { PTALLOC_FASTBIN, 0, 9 },
                { PTALLOC_UNSORTED, 1, 1 }, { PTALLOC_SMALLBIN, 2, 63 },
                { PTALLOC_LARGEBIN, 64, 126 },
            };
            for (size_t k = 0; k < NELEM(kinds); k++)
                for (int b = kinds[k].lo; b <= kinds[k].hi; b++) {
                    if (kinds[k].kind == PTALLOC_TCACHE && a != 0)
                        continue;
                    size_t cnt = ptalloc_bin(a, kinds[k].kind, b, out, NELEM(out));
                    if (cnt > NELEM(out)) cnt = NELEM(out);
                    for (size_t j = 0; j < cnt; j++)
                        if (find_live(out[j]) >= 0)
                            fail("live block %p found in bin kind %d index %d of arena %d",
                                 out[j], kinds[k].kind, b, a);
                }
        }
        break;
    }
    }
}

/* ---- driver ------------------------------------------------------------- */
static void restore_options(void)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (opt_dirty[i]) {
            int ok = opt_param[i] ? mallopt(opt_param[i], (int)opt_saved[i])
                                  : ptalloc_set_option(opt_names[i], opt_saved[i]);
            if (!ok)
                fail("cannot restore option %s to %ld", opt_names[i], opt_saved[i]);
            opt_dirty[i] = 0;
        }
    /* The calling thread's cache takes the restored shape. */
    ptalloc_thread_flush();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    pagesize = (size_t)sysconf(_SC_PAGESIZE);
    const char *t = getenv("PTALLOC_FUZZ_TRACE");
    trace = t && *t && *t != '0';
    const char *last = getenv("PTALLOC_FUZZ_LAST_INPUT");
    if (last && *last)
        last_fd = open(last, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (!ptalloc_get_option("mxfast", &opt_saved[0])) {
        fprintf(stderr, "fuzz_alloc: not running on ptalloc\n");
        abort();
    }
    /* The documented defaults, set explicitly: this also stops the dynamic
     * mmap threshold, so one input's frees do not change the next one's
     * behaviour. */
    mallopt(M_MXFAST, 128);
    mallopt(M_TRIM_THRESHOLD, 128 * 1024);
    mallopt(M_TOP_PAD, 128 * 1024);
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    mallopt(M_PERTURB, 0);
    for (size_t i = 0; i < NOPTS; i++)
        if (!ptalloc_get_option(opt_names[i], &opt_saved[i]))
            fail("unknown option %s", opt_names[i]);
    heap_check("at start");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in = data;
    in_len = size;
    in_pos = 0;
    op_no = 0;
    counter = 0;
    T("---- input of %zu bytes\n", size);
    if (last_fd >= 0 && (ftruncate(last_fd, 0) != 0 || pwrite(last_fd, data, size, 0) != (ssize_t)size)) {
        close(last_fd);
        last_fd = -1;
    }

    while (in_pos < in_len) {
        op_no++;
        switch (u8() % 20) {
        case 0: case 1: case 2: op_malloc(); break;
        case 3: op_calloc(); break;
        case 4: case 5: op_realloc(); break;
        case 6: op_memalign(); break;
        case 7: case 8: case 9: op_free(); break;
        case 10: op_usable(); break;
        case 11: op_trim(); break;
        case 12: op_mallopt(); break;
        case 13:
            T("%u: check\n", op_no);
            verify_all_sparse("check op");
            heap_check("check op");
            break;
        case 14: op_valloc(); break;
        case 15: op_reallocarray(); break;
        case 16: op_burst(); break;
        case 17: op_introspect(); break;
        case 18: {                       /* realloc to the same / similar size */
            int idx = u8() % NSLOTS;
            size_t n = slots[idx].p ? slots[idx].len + (size_t)(int8_t)u8() : u8();
            if ((ptrdiff_t)n < 0)
                n = 0;
            T("%u: realloc-near slot %d -> %zu\n", op_no, idx, n);
            do_realloc(idx, n, 0, 0, 0);
            break;
        }
        default:
            T("%u: thread flush\n", op_no);
            ptalloc_thread_flush();
            break;
        }
        if (op_no % CHECK_EVERY == 0) {
            verify_all_sparse("periodic");
            heap_check("periodic");
        }
    }

    for (int i = 0; i < NSLOTS; i++)
        release(i, 0);
    restore_options();
    heap_check("at the end of the input");
    return 0;
}
