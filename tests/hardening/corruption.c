/*
 * Integrity checks: each corruption is planted in a forked child, which
 * must die by SIGABRT after writing glibc's exact message on stderr (fd 2,
 * redirected into a pipe here).  One case checks the opposite: a live block
 * holding the tcache key in its second word is freed without complaint.
 *
 * The chunk layout is glibc's (x86_64): prev_size at mem-16, size at mem-8
 * (flags PREV_INUSE 1, IS_MMAPPED 2, NON_MAIN_ARENA 4), fd/bk at mem+0/+8,
 * fd_nextsize/bk_nextsize at mem+16/+24; bin links point at chunk headers,
 * tcache links at user pointers; stored singly-linked "next" pointers are
 * safe-linked, so the tests only XOR them and never need the mask.
 *
 *   corruption            every case
 *   corruption NAME...    only those cases, printing what each child wrote
 */
#include "t.h"
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

typedef uintptr_t W;

/* Hide a pointer from the compiler, so freeing it twice or writing to it
 * after free is neither warned about nor optimised. */
static inline void *hide(void *p) { __asm__ volatile("" : "+r"(p)); return p; }

/* Words around user pointer m.  Going through hide() keeps the compiler
 * from treating these stores as dead or out of bounds. */
static inline W *words(void *m) { return (W *)hide(m); }
#define SIZE(m)  (words(m)[-1])           /* size field, flags included   */
#define FD(m)    (words(m)[0])
#define BK(m)    (words(m)[1])
#define FDN(m)   (words(m)[2])            /* fd_nextsize (large bins)     */
#define BKN(m)   (words(m)[3])            /* bk_nextsize                  */
static inline W csz(void *m) { return SIZE(m) & ~(W)7; }
/* Size / prev_size field of the chunk physically after m's chunk. */
static inline W *next_size(void *m) { return words((char *)m + csz(m) - 8); }
static inline W *next_prev(void *m) { return words((char *)m + csz(m) - 16); }

/* A zeroed fake chunk: any link through it fails its back-link check. */
static W fake[16] __attribute__((aligned(64)));

/* A block that goes past the per-thread caches to the bins when freed. */
#define BIG 5000

#define HUGE_SIZE ((W)0x10000000)          /* 256 MiB: > any arena's system_mem */

#define SETUP_FAILED 3                     /* child exit codes */
#define RETURNED     4

/* Allocates n chunks that lie back to back in memory (request sizes req[]),
 * the first with PREV_INUSE set, so that freeing them merges predictably.
 * Failed tries are leaked. */
static void run(int n, const size_t *req, void **out)
{
    for (int tries = 0; tries < 16; tries++) {
        int ok = 1;
        for (int i = 0; i < n; i++)
            out[i] = malloc(req[i]);
        for (int i = 0; i + 1 < n; i++)
            if ((char *)out[i] + csz(out[i]) != (char *)out[i + 1])
                ok = 0;
        if (ok && (SIZE(out[0]) & 1))
            return;
    }
    _exit(SETUP_FAILED);
}

/* 7 blocks of one size; freeing them later fills that tcache bin. */
static void grab7(size_t n, void **f) { for (int i = 0; i < 7; i++) f[i] = malloc(n); }
static void free7(void **f) { for (int i = 0; i < 7; i++) free(f[i]); }
/* Empties the tcache bin of size n (the blocks are leaked). */
static void drain(size_t n) { for (int i = 0; i < 7; i++) hide(malloc(n)); }

/* ---- free ---------------------------------------------------------------- */

static void c_invalid_ptr_misaligned(void)
{
    char *p = calloc(1, 256);
    free(hide(p + 8));
}

static void c_invalid_ptr_middle(void)
{
    char *p = calloc(1, 512);           /* the fake header inside reads 0 */
    free(hide(p + 128));
}

static void c_invalid_size_huge(void)
{
    void *p = malloc(100);
    SIZE(p) = ((W)1 << 40) | 8 | 1;     /* huge, not a multiple of 16 */
    free(p);
}

static void c_invalid_size_small(void)
{
    void *p = malloc(100);
    SIZE(p) = 16 | 1;                   /* below MINSIZE */
    free(p);
}

static void c_invalid_next_size_fast(void)
{
    void *f[7];
    grab7(40, f);
    void *a = malloc(40);
    free7(f);                           /* tcache full: a goes to a fastbin */
    *next_size(a) = 1;                  /* next chunk's size 0 */
    free(a);
}

/* A cached chunk's neighbour (or its own size) corrupted after the free:
 * a long run of frees of its size moves it from the full cache to its
 * fastbin, with the checks a free into the fastbin makes. */
static void spill_after(void (*corrupt)(void *a))
{
    enum { N = 200 };
    static void *b[N];
    static const size_t req[2] = {40, 100};
    void *ag[2];
    drain(40);
    run(2, req, ag);                    /* a, and a neighbour that stays */
    for (int i = 0; i < N; i++)
        b[i] = malloc(40);
    free(ag[0]);                        /* the oldest in its cache bin */
    corrupt(ag[0]);
    for (int i = 0; i < N; i++)
        free(b[i]);
    _exit(RETURNED);
}
static void next_size_zero(void *a) { *next_size(a) = 1; }
static void size_other(void *a)     { SIZE(a) = 64 | 1; }
static void c_spill_next_size(void) { spill_after(next_size_zero); }
static void c_spill_size(void)      { spill_after(size_other); }

static void c_invalid_next_size_normal(void)
{
    void *a = malloc(BIG);
    *next_size(a) = HUGE_SIZE | 1;      /* next chunk's size >= system_mem */
    free(a);
}

static void c_tcache_double_free(void)
{
    drain(72);
    void *a = malloc(72);
    free(a);
    free(hide(a));
}

static void c_fasttop(void)
{
    void *f[7];
    grab7(40, f);
    void *a = malloc(40);
    free7(f);
    free(a);                            /* top of its fastbin */
    free(hide(a));
}

static void c_double_free_top(void)
{
    void *a = malloc(100000);           /* carved from top (fastbins empty) */
    free(a);                            /* merges into top: a is top now */
    free(hide(a));
}

static void c_double_free_out(void)
{
    void *a = malloc(BIG);
    SIZE(a) = HUGE_SIZE | 1;            /* next chunk lies past the top */
    free(a);
}

static void c_double_free_noprev(void)
{
    static const size_t req[2] = {BIG, BIG};
    void *c[2];
    run(2, req, c);                     /* a, guard */
    free(c[0]);                         /* clears guard's PREV_INUSE */
    free(hide(c[0]));
}

/* 1-4 KiB blocks go to the mid-size cache, which makes the same checks of
 * the next chunk as a free into the bins. */
static void c_mid_double_free(void)
{
    void *a = malloc(2000);
    hide(malloc(2000));                 /* guard */
    free(a);
    free(hide(a));
}

static void c_mid_noprev(void)
{
    static const size_t req[2] = {2000, 2000};
    void *c[2];
    run(2, req, c);                     /* a, guard */
    *next_size(c[0]) &= ~(W)1;          /* the guard says a is free */
    free(c[0]);
}

static void c_mid_next_size(void)
{
    void *a = malloc(3000);
    *next_size(a) = HUGE_SIZE | 1;
    free(a);
}

/* A cached block's size corrupted after the free (glibc's
 * tst-malloc-backtrace does this to a 4 KiB block, which glibc 2.36 finds
 * in the unsorted bin): the next request of its class sees it. */
static void c_mid_size(void)
{
    void *a = malloc(4096);
    hide(malloc(4096));                 /* guard */
    free(a);
    SIZE(a) = 1;
    hide(malloc(4096));
}

/* A thread that allocates nothing frees the main thread's blocks: past its
 * caches they wait in its batch of remote frees, then are handed over to
 * the arena.  A second free of one still in the batch, or handed over and
 * not yet put away, is found by its key.  (glibc frees them straight into
 * the bins and says "double free or corruption (!prev)".) */
static void *free_first_twice(void *arg)
{
    void **b = arg;
    for (int i = 0; b[i]; i++)
        free(b[i]);
    free(hide(b[0]));
    return NULL;
}

static void remote_twice(int n)
{
    void *b[8] = {0};
    for (int i = 0; i < n; i++)
        b[i] = malloc(BIG);
    hide(malloc(BIG));                  /* guard */
    pthread_t t;
    if (pthread_create(&t, NULL, free_first_twice, b) != 0)
        _exit(SETUP_FAILED);
    pthread_join(t, NULL);
}

static void c_remote_double_free(void) { remote_twice(1); }
/* 5 x 5000 bytes pass a batch's 16 KiB: the first four are handed over. */
static void c_remote_double_free_handed(void) { remote_twice(5); }

static void c_munmap_invalid(void)
{
    void *p = malloc(1 << 20);
    if (!(SIZE(p) & 2))
        _exit(SETUP_FAILED);
    SIZE(p) += 16;                      /* mapping no longer whole pages */
    free(p);
}

/* ---- unlink (free merging with a free neighbour) -------------------------- */

static void c_size_vs_prev_size(void)
{
    static const size_t req[3] = {BIG, BIG, BIG};
    void *c[3];
    run(3, req, c);                     /* x, a, b */
    free(c[1]);                         /* a: unsorted */
    *next_prev(c[1]) += 16;             /* b's boundary tag disagrees with a */
    free(c[0]);                         /* x merges forward: unlinks a */
}

static void c_size_vs_prev_size_consolidating(void)
{
    static const size_t req[3] = {BIG, BIG, BIG};
    void *c[3];
    run(3, req, c);                     /* a, b, guard */
    free(c[0]);
    SIZE(c[0]) += 32;                   /* a's size disagrees with b's prev_size */
    free(c[1]);                         /* b merges backward */
}

static void c_dll_unsorted(void)
{
    static const size_t req[3] = {BIG, BIG, BIG};
    void *c[3];
    run(3, req, c);                     /* x, a, b */
    free(c[1]);                         /* a: unsorted */
    FD(c[1]) = BK(c[1]) = (W)fake;
    free(c[0]);                         /* unlinks a */
}

static void c_dll_smallbin(void)
{
    static const size_t req[3] = {600, 600, 600};
    void *f[7], *c[3];
    grab7(600, f);
    run(3, req, c);                     /* x, a, b */
    free7(f);                           /* tcache full for 608-byte chunks */
    free(c[1]);                         /* a: unsorted */
    hide(malloc(3000));                 /* sorts a into small bin 38 */
    FD(c[1]) = BK(c[1]) = (W)fake;
    free(c[0]);                         /* unlinks a */
}

static void c_dll_not_small(void)
{
    static const size_t req[3] = {BIG, BIG, BIG};
    void *c[3];
    run(3, req, c);                     /* x, a, b */
    free(c[1]);
    hide(malloc(BIG + 1000));                 /* sorts a into a large bin, alone */
    FDN(c[1]) = (W)fake;
    free(c[0]);                         /* unlinks a */
}

static void c_free_unsorted(void)
{
    static const size_t req[4] = {BIG, BIG, BIG, BIG};
    void *c[4];
    run(4, req, c);                     /* a, g, x, g */
    free(c[0]);                         /* a heads the unsorted bin */
    BK(c[0]) = (W)fake;
    free(c[2]);                         /* x is inserted in front of a */
}

/* ---- malloc --------------------------------------------------------------- */

static void c_tcache_unaligned(void)
{
    drain(72);
    void *b = malloc(72), *c = malloc(72);
    free(b);
    free(c);                            /* bin: c -> b */
    FD(c) ^= 8;                         /* reveals b ^ 8 */
    hide(malloc(72));                   /* c */
    hide(malloc(72));                   /* b ^ 8 */
}

static void c_tcache_unaligned_free(void)
{
    drain(72);
    void *b = malloc(72), *c = malloc(72);
    free(b);
    free(c);
    FD(c) ^= 8;
    free(hide(b));                      /* key matches: the scan meets b ^ 8 */
}

static void c_tcache_too_many(void)
{
    drain(72);
    void *b = malloc(72), *c = malloc(72);
    free(b);
    free(c);
    FD(c) ^= (W)b ^ (W)c;               /* c -> c -> c ... (b left out) */
    free(hide(b));                      /* key matches: the scan never ends */
}

static void c_fastbin_unaligned(void)
{
    void *f[7];
    grab7(40, f);
    void *a = malloc(40), *b = malloc(40);
    free7(f);
    free(a);
    free(b);                            /* fastbin: b -> a */
    FD(b) ^= 8;
    drain(40);
    hide(malloc(40));                   /* takes b; a ^ 8 next */
}

static void c_fast_corruption(void)
{
    void *f[7];
    grab7(40, f);
    void *a = malloc(40), *b = malloc(40);
    free7(f);
    free(a);
    free(b);
    SIZE(b) = (SIZE(b) & 7) | 0x40;     /* b claims another fastbin's size */
    drain(40);
    hide(malloc(40));
}

static void c_consolidate_size(void)
{
    void *f[7];
    grab7(40, f);
    void *a = malloc(40);
    hide(malloc(40));
    free7(f);
    free(a);
    SIZE(a) = (SIZE(a) & 7) | 0x40;
    hide(malloc(3000));                 /* large request: consolidates */
}

static void c_consolidate_unaligned(void)
{
    void *f[7];
    grab7(40, f);
    void *a = malloc(40), *b = malloc(40);
    hide(malloc(40));
    free7(f);
    free(a);
    free(b);
    FD(b) ^= 8;
    hide(malloc(3000));
}

static void c_smallbin_dll(void)
{
    static const size_t req[2] = {600, 600};
    void *f[7], *c[2];
    grab7(600, f);
    run(2, req, c);                     /* a, guard */
    free7(f);
    free(c[0]);
    hide(malloc(3000));                 /* a into small bin 38 */
    BK(c[0]) = (W)fake;
    drain(600);
    hide(malloc(600));                  /* takes a from the small bin */
}

/* a (2016-byte chunk) freed into the unsorted bin, guard b after it; the
 * corruption is applied, then a large request walks the unsorted bin. */
static void unsorted_case(int what)
{
    static const size_t req[2] = {BIG, BIG};
    void *c[2];
    run(2, req, c);
    void *a = c[0];
    free(a);
    switch (what) {
    case 0: SIZE(a) = HUGE_SIZE | 1; break;
    case 1: *next_size(a) = HUGE_SIZE; break;
    case 2: *next_prev(a) += 16; break;
    case 3: BK(a) = (W)fake; break;
    case 4: *next_size(a) |= 1; break;
    }
    hide(malloc(BIG + 1000));
}
static void c_unsorted_size(void)      { unsorted_case(0); }
static void c_unsorted_next_size(void) { unsorted_case(1); }
static void c_unsorted_prev_size(void) { unsorted_case(2); }
static void c_unsorted_dll(void)       { unsorted_case(3); }
static void c_unsorted_prev_inuse(void){ unsorted_case(4); }

static void c_largebin_nextsize(void)
{
    static const size_t req[4] = {BIG, BIG, BIG + 24, BIG};
    void *c[4];
    run(4, req, c);                     /* a (5008), g, d (5040), g */
    free(c[0]);
    hide(malloc(BIG + 1000));                 /* a alone in large bin 100 */
    BKN(c[0]) = (W)fake;
    free(c[2]);
    hide(malloc(BIG + 1000));                 /* d sorted into bin 100, above a */
}

static void c_corrupted_top(void)
{
    void *a = malloc(100000);           /* carved from top: top follows */
    *next_size(a) = ~(W)0 & ~(W)0xe;    /* top size 0xff..f1 */
    hide(malloc(100000));
}

/* ---- realloc -------------------------------------------------------------- */

static void c_realloc_invalid_ptr(void)
{
    char *p = calloc(1, 256);
    hide(realloc(hide(p + 8), 512));
}

static void c_realloc_old_size(void)
{
    void *p = malloc(100);
    SIZE(p) = HUGE_SIZE | 1;
    hide(realloc(p, 200));
}

static void c_realloc_next_size(void)
{
    void *p = malloc(100);
    *next_size(p) = 1;
    hide(realloc(p, 200));
}

/* ---- the reporting path itself -------------------------------------------- */

/* The message must reach fd 2 directly: stderr is made fully buffered (a
 * report through stdio would stay in the buffer at abort) and the top chunk
 * is wrecked (a report that allocated would trip over it). */
static void c_broken_heap(void)
{
    static char buf[4096];
    char *p = calloc(1, 256);
    void *a = malloc(100000);
    setvbuf(stderr, buf, _IOFBF, sizeof buf);
    *next_size(a) = 0;
    free(hide(p + 8));
}

/* ---- no false positive -------------------------------------------------- */

/* A live block whose second word equals the tcache key (the word a freed
 * tcache chunk holds there) is freed normally: the key only triggers a
 * scan of the bin, and the block is not in it. */
static void c_key_collision(void)
{
    drain(40);
    void *a = malloc(40);
    free(a);
    W key = BK(hide(a));                /* read from the freed chunk */
    void *b = malloc(40);               /* a again, key cleared on reuse */
    BK(b) = key;
    free(b);

    void *x = malloc(40), *y = malloc(40), *z = malloc(40);
    free(x);
    free(y);                            /* the bin holds y, x */
    BK(z) = key;
    free(z);
    for (int i = 0; i < 3; i++) {       /* x, y, z are usable and distinct */
        void *q = malloc(40);
        memset(q, 0x5a, 40);
        BK(q) = key;
        free(q);
    }
    void *big = malloc(4000);           /* same for a block beyond tcache */
    BK(big) = key;
    free(big);
    _exit(0);
}

/* ---- table --------------------------------------------------------------- */

enum { PREFIX = 1,   /* the line may go on after the message ("... 3")     */
       EXACT = 2,    /* stderr must be exactly the message and a newline  */
       NOABORT = 4 };/* the child must exit 0, nothing on stderr          */

static const struct tcase {
    const char *name;
    void (*fn)(void);
    const char *msg;
    int flags;
} cases[] = {
    {"invalid_ptr_misaligned", c_invalid_ptr_misaligned, "free(): invalid pointer", 0},
    {"invalid_ptr_middle", c_invalid_ptr_middle, "free(): invalid pointer", 0},
    {"invalid_size_huge", c_invalid_size_huge, "free(): invalid size", 0},
    {"invalid_size_small", c_invalid_size_small, "free(): invalid size", 0},
    {"invalid_next_size_fast", c_invalid_next_size_fast, "free(): invalid next size (fast)", 0},
    {"invalid_next_size_normal", c_invalid_next_size_normal, "free(): invalid next size (normal)", 0},
    {"spill_next_size", c_spill_next_size, "free(): invalid next size (fast)", 0},
    {"spill_size", c_spill_size, "free(): invalid size", 0},
    {"tcache_double_free", c_tcache_double_free, "free(): double free detected in tcache 2", 0},
    {"tcache_unaligned_free", c_tcache_unaligned_free, "free(): unaligned chunk detected in tcache 2", 0},
    {"tcache_too_many", c_tcache_too_many, "free(): too many chunks detected in tcache", 0},
    {"fasttop", c_fasttop, "double free or corruption (fasttop)", 0},
    {"double_free_top", c_double_free_top, "double free or corruption (top)", 0},
    {"double_free_out", c_double_free_out, "double free or corruption (out)", 0},
    {"double_free_noprev", c_double_free_noprev, "double free or corruption (!prev)", 0},
    {"munmap_invalid", c_munmap_invalid, "munmap_chunk(): invalid pointer", 0},
    {"size_vs_prev_size", c_size_vs_prev_size, "corrupted size vs. prev_size", 0},
    {"size_vs_prev_size_consolidating", c_size_vs_prev_size_consolidating,
     "corrupted size vs. prev_size while consolidating", 0},
    {"dll_unsorted", c_dll_unsorted, "corrupted double-linked list", 0},
    {"dll_smallbin", c_dll_smallbin, "corrupted double-linked list", 0},
    {"dll_not_small", c_dll_not_small, "corrupted double-linked list (not small)", 0},
    {"free_unsorted", c_free_unsorted, "free(): corrupted unsorted chunks", 0},
    {"mid_double_free", c_mid_double_free, "free(): double free detected in tcache 2", 0},
    {"mid_noprev", c_mid_noprev, "double free or corruption (!prev)", 0},
    {"mid_next_size", c_mid_next_size, "free(): invalid next size (normal)", 0},
    {"mid_size", c_mid_size, "malloc(): invalid size (tcache)", 0},
    {"remote_double_free", c_remote_double_free, "free(): double free detected in tcache 2", 0},
    {"remote_double_free_handed", c_remote_double_free_handed,
     "free(): double free detected in tcache 2", 0},
    {"tcache_unaligned", c_tcache_unaligned, "malloc(): unaligned tcache chunk detected", 0},
    {"fastbin_unaligned", c_fastbin_unaligned, "malloc(): unaligned fastbin chunk detected", PREFIX},
    {"fast_corruption", c_fast_corruption, "malloc(): memory corruption (fast)", 0},
    {"consolidate_size", c_consolidate_size, "malloc_consolidate(): invalid chunk size", 0},
    {"consolidate_unaligned", c_consolidate_unaligned,
     "malloc_consolidate(): unaligned fastbin chunk detected", 0},
    {"smallbin_dll", c_smallbin_dll, "malloc(): smallbin double linked list corrupted", 0},
    {"unsorted_size", c_unsorted_size, "malloc(): invalid size (unsorted)", 0},
    {"unsorted_next_size", c_unsorted_next_size, "malloc(): invalid next size (unsorted)", 0},
    {"unsorted_prev_size", c_unsorted_prev_size, "malloc(): mismatching next->prev_size (unsorted)", 0},
    {"unsorted_dll", c_unsorted_dll, "malloc(): unsorted double linked list corrupted", 0},
    {"unsorted_prev_inuse", c_unsorted_prev_inuse, "malloc(): invalid next->prev_inuse (unsorted)", 0},
    {"largebin_nextsize", c_largebin_nextsize,
     "malloc(): largebin double linked list corrupted (nextsize)", 0},
    {"corrupted_top", c_corrupted_top, "malloc(): corrupted top size", 0},
    {"realloc_invalid_ptr", c_realloc_invalid_ptr, "realloc(): invalid pointer", 0},
    {"realloc_old_size", c_realloc_old_size, "realloc(): invalid old size", 0},
    {"realloc_next_size", c_realloc_next_size, "realloc(): invalid next size", 0},
    {"broken_heap", c_broken_heap, "free(): invalid pointer", EXACT},
    {"key_collision", c_key_collision, NULL, NOABORT},
};

/* 1 if out holds a line that is msg (or starts with it, with PREFIX). */
static int has_line(const char *out, const char *msg, int prefix)
{
    size_t n = strlen(msg);
    for (const char *l = out; *l; ) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        if (len >= n && memcmp(l, msg, n) == 0 && (len == n || prefix))
            return 1;
        if (!e)
            break;
        l = e + 1;
    }
    return 0;
}

static char out[8192];

static void run_case(const struct tcase *c, int verbose)
{
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        exit(2);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        close(fds[0]);
        dup2(fds[1], 2);
        close(fds[1]);
        alarm(10);
        c->fn();
        _exit(RETURNED);
    }
    close(fds[1]);
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fds[0], out + len, sizeof out - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len == sizeof out - 1)
            break;
    }
    out[len] = 0;
    close(fds[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;

    char how[64];
    if (WIFSIGNALED(st))
        snprintf(how, sizeof how, "signal %d", WTERMSIG(st));
    else
        snprintf(how, sizeof how, "exit %d%s", WEXITSTATUS(st),
                 WEXITSTATUS(st) == SETUP_FAILED ? " (setup failed)" :
                 WEXITSTATUS(st) == RETURNED ? " (no abort)" : "");
    if (verbose)
        printf("%s: %s, stderr: %s", c->name, how, len ? out : "(empty)\n");

    if (c->flags & NOABORT) {
        CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s", c->name, how);
        CHECKF(len == 0, "%s: wrote %s", c->name, out);
        return;
    }
    CHECKF(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "%s: %s, expected SIGABRT", c->name, how);
    if (c->flags & EXACT) {
        size_t n = strlen(c->msg);
        CHECKF(len == n + 1 && memcmp(out, c->msg, n) == 0 && out[n] == '\n',
               "%s: stderr is \"%s\", expected exactly \"%s\\n\"", c->name, out, c->msg);
    } else {
        CHECKF(has_line(out, c->msg, c->flags & PREFIX),
               "%s: stderr is \"%s\", expected a line \"%s\"", c->name, out, c->msg);
    }
}

int main(int argc, char **argv)
{
    /* Old glibc writes fatal messages to /dev/tty unless this is set. */
    setenv("LIBC_FATAL_STDERR_", "1", 1);
    size_t n = sizeof cases / sizeof cases[0];
    if (argc > 1) {
        for (int a = 1; a < argc; a++) {
            size_t i;
            for (i = 0; i < n; i++)
                if (strcmp(argv[a], cases[i].name) == 0)
                    break;
            if (i == n) {
                fprintf(stderr, "no case %s\n", argv[a]);
                return 2;
            }
            run_case(&cases[i], 1);
        }
        return t_done();
    }
    for (size_t i = 0; i < n; i++)
        run_case(&cases[i], 0);
    t_heap_check("after all cases");
    if (t_failures == 0)
        printf("corruption: %zu cases passed\n", n);
    return t_done();
}
