/*
 * Out of memory, in a child whose address space is capped (RLIMIT_AS =
 * current size + 48 MiB; below 64 MiB so no new arena's heap reservation
 * can fit either):
 *   1. every allocation function, asked for more than fits: NULL and
 *      ENOMEM (posix_memalign: returns ENOMEM, leaves its pointer alone);
 *      a failed realloc leaves the old block as it was;
 *   2. memory exhausted with a mix of small and medium blocks, then small,
 *      then tiny ones, each filled with its own pattern: every function
 *      fails cleanly, every block stays intact, free keeps errno;
 *   3. everything freed: allocation works again under the same cap;
 *   4. cap lifted: big allocations work again.
 */
#include "t.h"
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEADROOM (48u << 20)
#define TOO_BIG  ((size_t)256 << 20)
#define MAXBLK   (3u << 20)

static void *hide(void *p) { __asm__ volatile("" : "+r"(p)); return p; }

/* ptalloc's checker, looked up once: dlsym may allocate, not while OOM. */
static int (*checker)(int);
static void heap_check(const char *where)
{
    if (checker && checker(1)) {
        fprintf(stderr, "heap check failed at %s\n", where);
        t_failures++;
    }
}

static size_t vm_size(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    return strtoul(buf, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE);
}

static void set_as(rlim_t cur)
{
    struct rlimit rl;
    getrlimit(RLIMIT_AS, &rl);
    rl.rlim_cur = cur;
    if (setrlimit(RLIMIT_AS, &rl) != 0) {
        perror("setrlimit");
        _exit(2);
    }
}

static unsigned char pat(size_t i) { return (unsigned char)(i * 131 + 7); }
static void fill(void *p, size_t n, size_t i) { memset(p, pat(i), n); }
static int intact(const void *p, size_t n, size_t i)
{
    const unsigned char *c = p;
    for (size_t k = 0; k < n; k++)
        if (c[k] != pat(i))
            return 0;
    return 1;
}

/* Expects call to fail with ENOMEM (a success is freed and counted). */
#define FAILS(what, call) do { \
    errno = 0; \
    void *r_ = (call); \
    CHECKF(r_ == NULL && errno == ENOMEM, "%s: got %p, errno %d", what, r_, errno); \
    if (r_) free(r_); \
} while (0)

/* Every allocation function asked for n bytes, which cannot fit. */
static void all_fail(size_t n)
{
    FAILS("malloc", malloc(n));
    FAILS("calloc", calloc(1, n));
    FAILS("calloc n*s", calloc(n / 16, 16));
    FAILS("realloc NULL", realloc(NULL, n));
    FAILS("reallocarray NULL", reallocarray(NULL, n / 256, 256));
    FAILS("memalign 64", memalign(64, n));
    FAILS("memalign 1M", memalign(1 << 20, n));
    FAILS("aligned_alloc", aligned_alloc(4096, n));
    FAILS("valloc", valloc(n));
    FAILS("pvalloc", pvalloc(n));
    void *p = (void *)0x1234;
    int rc = posix_memalign(&p, 64, n);
    CHECKF(rc == ENOMEM && p == (void *)0x1234, "posix_memalign: rc %d, p %p", rc, p);
    rc = posix_memalign(&p, 1 << 16, n);
    CHECKF(rc == ENOMEM && p == (void *)0x1234, "posix_memalign 64K: rc %d, p %p", rc, p);

    /* a failed realloc leaves the old block (small and mmapped) alone */
    static const size_t old_sizes[] = {100, 5000, 1 << 20};
    for (size_t k = 0; k < 3; k++) {
        size_t m = old_sizes[k];
        void *old = malloc(m);
        if (!old)       /* at exhaustion even the old block may not fit */
            continue;
        fill(old, m, k);
        errno = 0;
        void *r = realloc(hide(old), n);
        CHECKF(r == NULL && errno == ENOMEM, "realloc(%zu bytes, %zu): %p, errno %d", m, n, r, errno);
        if (r)
            old = r;        /* moved: the old block is gone, keep the new */
        else
            CHECKF(intact(old, m, k), "block of %zu changed by a failed realloc", m);
        errno = 0;
        r = reallocarray(hide(old), n / 256, 256);
        CHECKF(r == NULL && errno == ENOMEM, "reallocarray(%zu bytes, %zu): %p, errno %d", m, n, r, errno);
        if (r)
            old = r;
        else
            CHECKF(intact(old, m, k), "block of %zu changed by a failed reallocarray", m);
        errno = 1234;
        free(old);
        CHECKF(errno == 1234, "free changed errno to %d", errno);
    }
}

static void **blk;          /* the blocks of phase 2, mapped before the cap */
static size_t *blen;
static size_t nblk;

/* Allocates blocks of size(i) until malloc fails; returns how many. */
static size_t exhaust(size_t (*size)(size_t), const char *what)
{
    size_t start = nblk;
    for (;;) {
        if (nblk == MAXBLK) {
            fprintf(stderr, "%s: block table full\n", what);
            t_failures++;
            break;
        }
        size_t n = size(nblk);
        errno = 0;
        void *p = malloc(n);
        if (!p) {
            CHECKF(errno == ENOMEM, "%s: malloc(%zu) failed with errno %d", what, n, errno);
            break;
        }
        fill(p, n, nblk);
        blk[nblk] = p;
        blen[nblk++] = n;
    }
    return nblk - start;
}
static size_t mixed(size_t i) { return i % 64 ? 16 + (i * 37) % 240 : 4096 + (i * 7919) % 61440; }
static size_t small(size_t i) { return 16 + (i * 37) % 240; }
static size_t tiny(size_t i) { (void)i; return 8; }

static void check_all(const char *where)
{
    size_t bad = 0;
    for (size_t i = 0; i < nblk; i++)
        if (blk[i] && !intact(blk[i], blen[i], i))
            bad++;
    CHECKF(bad == 0, "%s: %zu of %zu blocks changed", where, bad, nblk);
}

static int child(void)
{
    struct rlimit orig;
    getrlimit(RLIMIT_AS, &orig);
    blk = mmap(NULL, MAXBLK * sizeof *blk, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    blen = mmap(NULL, MAXBLK * sizeof *blen, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (blk == MAP_FAILED || blen == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    free(malloc(100));                          /* malloc initialised */
    set_as(vm_size() + HEADROOM);

    /* 1. requests that cannot fit */
    all_fail(TOO_BIG);
    all_fail((size_t)1 << 30);
    heap_check("phase 1");

    /* 2. exhaustion */
    size_t nm = exhaust(mixed, "mixed");
    size_t ns = exhaust(small, "small");
    size_t nt = exhaust(tiny, "tiny");
    CHECKF(nm > 10000, "only %zu mixed, %zu small, %zu tiny blocks", nm, ns, nt);
    check_all("exhausted");
    all_fail(1 << 20);
    FAILS("malloc 64K", malloc(65536));
    errno = 0;
    void *r = realloc(blk[0], 1 << 20);
    CHECKF(r == NULL && errno == ENOMEM, "realloc grow at OOM: %p, errno %d", r, errno);
    if (r) {                                    /* keep the table truthful */
        blk[0] = r;
        fill(r, blen[0] = 1 << 20, 0);
    }
    check_all("after failures");
    heap_check("exhausted");

    /* free keeps errno, also with memory exhausted */
    errno = 1234;
    free(NULL);
    CHECKF(errno == 1234, "free(NULL) changed errno to %d", errno);
    for (size_t i = 0; i < nblk; i += 1000) {
        errno = 1234;
        free(blk[i]);
        blk[i] = NULL;
        CHECKF(errno == 1234, "free changed errno to %d", errno);
    }
    check_all("after some frees");

    /* 3. free everything, then allocate again under the same cap */
    for (size_t i = 0; i < nblk; i++) {
        errno = 1234;
        free(blk[i]);
        if (errno != 1234) {
            CHECKF(0, "free changed errno to %d", errno);
            break;
        }
        blk[i] = NULL;
    }
    heap_check("all freed");
    size_t total = nblk;
    nblk = 0;
    for (size_t i = 0; i < 16384; i++) {        /* 16 MiB in 1000-byte blocks */
        void *p = malloc(1000);
        CHECKF(p != NULL, "malloc(1000) #%zu after freeing everything", i);
        if (!p)
            break;
        fill(p, 1000, i);
        blk[nblk] = p;
        blen[nblk++] = 1000;
    }
    for (size_t i = 0; i < 64; i++) {           /* and 64 x 40 KiB */
        void *p = malloc(40960);
        CHECKF(p != NULL, "malloc(40960) #%zu after freeing everything", i);
        if (!p)
            break;
        fill(p, 40960, nblk);
        blk[nblk] = p;
        blen[nblk++] = 40960;
    }
    unsigned char *z = calloc(1000, 10);
    CHECKF(z != NULL, "calloc after freeing everything");
    for (size_t k = 0; z && k < 10000; k++)
        if (z[k]) {
            CHECKF(0, "calloc: byte %zu is %d", k, z[k]);
            break;
        }
    free(z);
    check_all("reallocated");
    for (size_t i = 0; i < nblk; i++)
        free(blk[i]);
    nblk = 0;
    heap_check("reallocated and freed");

    /* 4. cap lifted */
    set_as(orig.rlim_cur);
    char *big = malloc(TOO_BIG);
    CHECKF(big != NULL, "malloc(256 MiB) after lifting the cap");
    if (big) {
        for (size_t k = 0; k < TOO_BIG; k += 4096)
            big[k] = (char)k;
        big[TOO_BIG - 1] = 1;
        free(big);
    }
    void *q = NULL;
    CHECK(posix_memalign(&q, 4096, 64 << 20) == 0 && q != NULL);
    free(q);
    unsigned char *cz = calloc(1, 64 << 20);
    CHECK(cz != NULL && cz[0] == 0 && cz[(64 << 20) - 1] == 0);
    free(cz);
    void *s[1000];
    for (int i = 0; i < 1000; i++)
        s[i] = hide(malloc(100 + i));
    for (int i = 0; i < 1000; i++)
        free(s[i]);
    heap_check("cap lifted");
    if (getenv("OOM_VERBOSE"))
        fprintf(stderr, "blocks: %zu mixed, %zu small, %zu tiny, %zu in all\n", nm, ns, nt, total);
    return t_done();
}

int main(void)
{
    checker = (int (*)(int))dlsym(RTLD_DEFAULT, "ptalloc_check");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0)
        _exit(child());
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %s %d",
           WIFSIGNALED(st) ? "signal" : "exit",
           WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    t_heap_check("parent");
    return t_done();
}
