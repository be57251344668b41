/*
 * Every allocation function with impossible sizes (spirit of glibc's
 * tst-malloc-too-large): sizes near SIZE_MAX, around PTRDIFF_MAX, and sizes
 * that are merely too big for the address space (with RLIMIT_AS lowered so
 * the result does not depend on the overcommit policy).  Each call must
 * return NULL (posix_memalign: ENOMEM, *memptr untouched) with errno ENOMEM,
 * and the heap must stay usable.  All calls go through volatile function
 * pointers so the compiler cannot reason about them.
 */
#include "t.h"
#include <malloc.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

static void *(*volatile v_malloc)(size_t) = malloc;
static void *(*volatile v_calloc)(size_t, size_t) = calloc;
static void *(*volatile v_realloc)(void *, size_t) = realloc;
static void *(*volatile v_reallocarray)(void *, size_t, size_t) = reallocarray;
static void *(*volatile v_memalign)(size_t, size_t) = memalign;
static int (*volatile v_posix_memalign)(void **, size_t, size_t) = posix_memalign;
static void *(*volatile v_aligned_alloc)(size_t, size_t) = aligned_alloc;
static void *(*volatile v_valloc)(size_t) = valloc;
static void *(*volatile v_pvalloc)(size_t) = pvalloc;

static long pagesize;

/* Blocks handed to realloc/reallocarray; they must survive every failure. */
static unsigned char *small_blk, *mmap_blk;
#define MMAP_BLK_SIZE (256 * 1024)

static void stamp(void)
{
    for (size_t i = 0; i < 100; i++)
        small_blk[i] = (unsigned char)(i ^ 0x5a);
    for (size_t i = 0; i < MMAP_BLK_SIZE; i++)
        mmap_blk[i] = (unsigned char)(i % 251);
}

static int reported;      /* print only the first few failures in detail */

#define NULL_ENOMEM(call, desc, size) do { \
    errno = 0; \
    void *r_ = (call); \
    int e_ = errno; \
    if (r_ != NULL || e_ != ENOMEM) { \
        t_failures++; \
        if (reported++ < 20) \
            fprintf(stderr, "%s:%d: %s with size %#zx: got %p, errno %d (want NULL, ENOMEM)\n", \
                    __FILE__, __LINE__, desc, (size_t)(size), r_, e_); \
        if (r_) free(r_); \
    } } while (0)

/* Same for realloc-like calls on block blk: if the call wrongly succeeds,
 * the old block is gone, so adopt the new one (restamped) and go on. */
#define RE_NULL_ENOMEM(blk, blksize, call, desc, size) do { \
    errno = 0; \
    void *r_ = (call); \
    int e_ = errno; \
    if (r_ != NULL || e_ != ENOMEM) { \
        t_failures++; \
        if (reported++ < 20) \
            fprintf(stderr, "%s:%d: %s with size %#zx: got %p, errno %d (want NULL, ENOMEM)\n", \
                    __FILE__, __LINE__, desc, (size_t)(size), r_, e_); \
        if (r_) { \
            unsigned char *n_ = v_realloc(r_, blksize); \
            if (n_) { blk = n_; stamp(); } else exit(1); \
        } \
    } } while (0)

static void test_large_allocations(size_t size)
{
    NULL_ENOMEM(v_malloc(size), "malloc", size);
    NULL_ENOMEM(v_realloc(NULL, size), "realloc(NULL)", size);
    RE_NULL_ENOMEM(small_blk, 100, v_realloc(small_blk, size), "realloc(small)", size);
    RE_NULL_ENOMEM(mmap_blk, MMAP_BLK_SIZE, v_realloc(mmap_blk, size), "realloc(mmapped)", size);
    for (size_t nmemb = 1; nmemb <= 8; nmemb *= 2) {
        if (size % nmemb)
            break;
        NULL_ENOMEM(v_calloc(nmemb, size / nmemb), "calloc(nmemb, size/nmemb)", size);
        NULL_ENOMEM(v_calloc(size / nmemb, nmemb), "calloc(size/nmemb, nmemb)", size);
        RE_NULL_ENOMEM(small_blk, 100, v_reallocarray(small_blk, size / nmemb, nmemb), "reallocarray(small)", size);
        RE_NULL_ENOMEM(small_blk, 100, v_reallocarray(small_blk, nmemb, size / nmemb), "reallocarray(small)", size);
        RE_NULL_ENOMEM(mmap_blk, MMAP_BLK_SIZE, v_reallocarray(mmap_blk, nmemb, size / nmemb), "reallocarray(mmapped)", size);
        NULL_ENOMEM(v_reallocarray(NULL, size / nmemb, nmemb), "reallocarray(NULL)", size);
    }
}

static void test_large_aligned_allocations(size_t size)
{
    for (size_t align = 1; align <= (size_t)pagesize * 16; align *= 2) {
        NULL_ENOMEM(v_memalign(align, size), "memalign", size);
        /* aligned_alloc: size need not be a multiple of the alignment */
        NULL_ENOMEM(v_aligned_alloc(align, size), "aligned_alloc", size);
        if (align % sizeof(void *) == 0) {
            void *p = (void *)(uintptr_t)0x1234;
            int r = v_posix_memalign(&p, align, size);
            if (r != ENOMEM || p != (void *)(uintptr_t)0x1234) {
                t_failures++;
                if (reported++ < 20)
                    fprintf(stderr, "posix_memalign(%zu, %#zx): returned %d, p %p (want ENOMEM, untouched)\n",
                            align, size, r, p);
                if (r == 0) free(p);
            }
        }
    }
    NULL_ENOMEM(v_valloc(size), "valloc", size);
    NULL_ENOMEM(v_pvalloc(size), "pvalloc", size);
}

static void check_blocks(const char *where)
{
    for (size_t i = 0; i < 100; i++)
        if (small_blk[i] != (unsigned char)(i ^ 0x5a)) {
            CHECKF(0, "%s: small block changed at byte %zu", where, i);
            break;
        }
    for (size_t i = 0; i < MMAP_BLK_SIZE; i += 4093)
        if (mmap_blk[i] != (unsigned char)(i % 251)) {
            CHECKF(0, "%s: mmapped block changed at byte %zu", where, i);
            break;
        }
    t_heap_check(where);
}

int main(void)
{
    pagesize = sysconf(_SC_PAGESIZE);
    small_blk = malloc(100);
    mmap_blk = malloc(MMAP_BLK_SIZE);
    CHECK(small_blk && mmap_blk);
    if (!small_blk || !mmap_blk)
        return t_done();
    stamp();

    /* Sizes near SIZE_MAX. */
    for (size_t i = 0; i <= 8192 + 64; i++) {
        test_large_allocations(SIZE_MAX - i);
        if (i % 16 == 0 || i < 64)
            test_large_aligned_allocations(SIZE_MAX - i);
    }
    check_blocks("near SIZE_MAX");

    /* Sizes around PTRDIFF_MAX (above it: rejected outright; just below it:
     * rejected because no address space that big exists). */
    for (size_t i = 0; i <= 4096 + 64; i += (i < 64 ? 1 : 61)) {
        test_large_allocations((size_t)PTRDIFF_MAX + 1 + i);
        test_large_allocations((size_t)PTRDIFF_MAX - i);
        test_large_aligned_allocations((size_t)PTRDIFF_MAX + 1 + i);
        test_large_aligned_allocations((size_t)PTRDIFF_MAX - i);
    }
    check_blocks("around PTRDIFF_MAX");

    /* Multiplication overflow in calloc / reallocarray. */
    for (int k = 1; k < 64; k++) {
        size_t n = (size_t)1 << k, s = SIZE_MAX / n + 1;
        NULL_ENOMEM(v_calloc(n, s), "calloc overflow", n);
        NULL_ENOMEM(v_calloc(s, n), "calloc overflow", n);
        RE_NULL_ENOMEM(small_blk, 100, v_reallocarray(small_blk, n, s), "reallocarray overflow", n);
        NULL_ENOMEM(v_reallocarray(NULL, s, n), "reallocarray(NULL) overflow", n);
        NULL_ENOMEM(v_calloc(n + 1, SIZE_MAX / (n + 1) + 1), "calloc overflow", n + 1);
    }
    check_blocks("overflow");

    /* Merely too big: 1 TiB .. 2^62, with the address space limited. */
    {
        struct rlimit old, lim;
        long vm_pages = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (f) {
            if (fscanf(f, "%ld", &vm_pages) != 1) vm_pages = 0;
            fclose(f);
        }
        if (vm_pages > 0 && getrlimit(RLIMIT_AS, &old) == 0) {
            lim = old;
            rlim_t want = (rlim_t)vm_pages * (rlim_t)pagesize + (512u << 20);
            if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur > want)
                lim.rlim_cur = want;
            if (setrlimit(RLIMIT_AS, &lim) == 0) {
                for (int k = 40; k <= 62; k++) {
                    test_large_allocations((size_t)1 << k);
                    test_large_allocations(((size_t)1 << k) + 12345);
                    test_large_aligned_allocations((size_t)1 << k);
                }
                /* products of awkward factors; those <= 1 GiB would succeed */
                const size_t a[] = { ((size_t)1 << 14) - 1, ((size_t)1 << 50) - 1, ((size_t)1 << 32) + 1,
                                     (size_t)1 << 33, 3, 0xffffffff };
                for (unsigned i = 0; i < 6; i++)
                    for (unsigned j = 0; j < 6; j++) {
                        size_t prod;
                        if (!__builtin_mul_overflow(a[i], a[j], &prod) && prod <= ((size_t)1 << 30))
                            continue;       /* small enough to succeed */
                        NULL_ENOMEM(v_calloc(a[i], a[j]), "calloc", a[i]);
                        RE_NULL_ENOMEM(small_blk, 100, v_reallocarray(small_blk, a[i], a[j]), "reallocarray", a[i]);
                    }
                /* 1 GiB: more than the limit leaves */
                test_large_allocations((size_t)1 << 30);
                test_large_aligned_allocations((size_t)1 << 30);
                setrlimit(RLIMIT_AS, &old);
            } else {
                printf("SKIP too-big-for-RLIMIT_AS sizes: setrlimit failed\n");
            }
        }
    }
    check_blocks("RLIMIT_AS");

    /* Still a working heap. */
    {
        void *p[64];
        for (int i = 0; i < 64; i++) {
            p[i] = v_malloc((size_t)i * 97);
            CHECK(p[i] != NULL);
        }
        for (int i = 0; i < 64; i++)
            free(p[i]);
        unsigned char *q = v_realloc(mmap_blk, MMAP_BLK_SIZE * 2);
        CHECK(q != NULL);
        if (q) mmap_blk = q;
        q = v_realloc(small_blk, 1000);
        CHECK(q != NULL);
        if (q) small_blk = q;
        check_blocks("after");
        free(small_blk);
        free(mmap_blk);
    }
    return t_done();
}
