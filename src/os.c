/*
 * The operating system behind a handful of primitives.  No other file
 * makes a system call.  Nothing here allocates, and every primitive keeps
 * errno as it was: free() must not change it, and the allocation paths set
 * ENOMEM themselves when they fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <stdlib.h>
#include "internal.h"

/* Runs a system call expression with errno preserved. */
#define KEEP_ERRNO(expr) ({ int saved_ = errno; __typeof__(expr) r_ = (expr); errno = saved_; r_; })

/* A raw system call: no libc wrapper, so errno is untouched and no libc
 * code pages are faulted in for it.  Returns -errno on failure. */
static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
#if defined(__x86_64__)
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
#else
    long ret = syscall(n, a, b, c, d, e, f);
    return ret == -1 ? -errno : ret;
#endif
}

static void *sys_mmap(void *addr, size_t len, int prot, int flags)
{
    long r = sys6(SYS_mmap, (long)addr, (long)len, prot, flags, -1, 0);
    return r < 0 && r > -4096 ? MAP_FAILED : (void *)r;
}

size_t os_pagesize = 4096;
int    vg_active;                 /* running under Valgrind, reporting to it */

void os_init(void)
{
    size_t ps = (size_t)getauxval(AT_PAGESZ);
    if (ps >= 4096 && (ps & (ps - 1)) == 0)
        os_pagesize = ps;
}

void *os_map(size_t len)
{
    void *p = sys_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    return p == MAP_FAILED ? NULL : p;
}

void *os_reserve(size_t len)
{
    void *p = sys_mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
    return p == MAP_FAILED ? NULL : p;
}

int os_unmap(void *p, size_t len)
{
    return sys6(SYS_munmap, (long)p, (long)len, 0, 0, 0, 0) == 0 ? 0 : -1;
}

int os_protect(void *p, size_t len, int writable)
{
    return sys6(SYS_mprotect, (long)p, (long)len, writable ? PROT_READ | PROT_WRITE : PROT_NONE, 0, 0, 0) == 0 ? 0 : -1;
}

void *os_remap(void *p, size_t old_len, size_t new_len)
{
    long r = sys6(SYS_mremap, (long)p, (long)old_len, (long)new_len, MREMAP_MAYMOVE, 0, 0);
    return r < 0 && r > -4096 ? NULL : (void *)r;
}

int os_purge(void *p, size_t len)
{
    return sys6(SYS_madvise, (long)p, (long)len, MADV_DONTNEED, 0, 0, 0) == 0 ? 0 : -1;
}

size_t os_resident_pages(void *p, size_t npages)
{
    unsigned char vec[1024];
    size_t n = 0;
    for (size_t done = 0; done < npages;) {
        size_t k = npages - done < sizeof vec ? npages - done : sizeof vec;
        if (sys6(SYS_mincore, (long)((char *)p + done * os_pagesize), (long)(k * os_pagesize),
                 (long)vec, 0, 0, 0) != 0)
            return 0;
        for (size_t i = 0; i < k; i++)
            n += vec[i] & 1;
        done += k;
    }
    return n;
}

void *os_sbrk(intptr_t inc)
{
    return KEEP_ERRNO(sbrk(inc));
}

/* The futex calls stay out of line: every lock release holds one in an
 * unlikely branch. */
NOINLINE void os_futex_wait(int *addr, int val)
{
    sys6(SYS_futex, (long)addr, FUTEX_WAIT_PRIVATE, val, 0, 0, 0);
}

NOINLINE void os_futex_wake(int *addr, int n)
{
    sys6(SYS_futex, (long)addr, FUTEX_WAKE_PRIVATE, n, 0, 0, 0);
}

/* The environment is read straight from environ: getenv() does not
 * allocate either, but this keeps the lookup ours.  Before libc has set
 * environ (the dynamic loader may call malloc that early) there is none. */
extern char **environ;
const char *os_getenv(const char *name)
{
    char **env = environ;
    size_t n = str_len(name);
    if (!env)
        return NULL;
    for (; *env; env++)
        if (str_eqn(*env, name, n) && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

int os_env_any(const char *prefix)
{
    size_t n = str_len(prefix);
    for (char **env = environ; env && *env; env++)
        if (str_eqn(*env, prefix, n))
            return 1;
    return 0;
}

int os_secure(void)
{
    return getauxval(AT_SECURE) != 0;
}

uint64_t os_random(void)
{
    uint64_t v = 0;
    if (sys6(SYS_getrandom, (long)&v, sizeof v, GRND_NONBLOCK, 0, 0, 0) == (long)sizeof v && v)
        return v;
    /* No entropy yet (early boot): the kernel's 16 random bytes for this
     * process, mixed with addresses that ASLR moves. */
    const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
    if (r)
        memcpy(&v, r + 8, sizeof v);
    v ^= (uint64_t)(uintptr_t)&v * 0x9E3779B97F4A7C15ull;
    v ^= (uint64_t)(uintptr_t)os_random << 17;
    return v ? v : 0x5bd1e9955bd1e995ull;
}

int os_getpid(void)
{
    return (int)sys6(SYS_getpid, 0, 0, 0, 0, 0, 0);
}

int os_gettid(void)
{
    return (int)sys6(SYS_gettid, 0, 0, 0, 0, 0, 0);
}

/* Has thread tid of this process ended? */
int os_thread_gone(int tid)
{
    return sys6(SYS_tgkill, sys6(SYS_getpid, 0, 0, 0, 0, 0, 0), tid, 0, 0, 0, 0) == -ESRCH;
}

int os_getppid(void)
{
    return (int)sys6(SYS_getppid, 0, 0, 0, 0, 0, 0);
}

/* ---- files, for the trace log (trace.c) ---------------------------------- */

int os_open(const char *path, int create)
{
    int flags = create ? O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC : O_RDONLY | O_CLOEXEC;
    long fd = sys6(SYS_open, (long)path, flags, 0644, 0, 0, 0);
    return fd < 0 ? -1 : (int)fd;
}

long os_read(int fd, void *buf, size_t n)
{
    long r;
    do
        r = sys6(SYS_read, fd, (long)buf, (long)n, 0, 0, 0);
    while (r == -EINTR);
    return r;
}

int os_resize(int fd, uint64_t size)
{
    return sys6(SYS_ftruncate, fd, (long)size, 0, 0, 0, 0) == 0 ? 0 : -1;
}

void *os_map_shared(int fd, uint64_t off, size_t len)
{
    long r = sys6(SYS_mmap, 0, (long)len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, (long)off);
    return r < 0 && r > -4096 ? NULL : (void *)r;
}

void os_close(int fd)
{
    sys6(SYS_close, fd, 0, 0, 0, 0, 0);
}

uint64_t os_clock_ns(int realtime)
{
    struct timespec ts;
    clock_gettime(realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The coarse monotonic clock in milliseconds: the kernel's last tick, read
 * from the vDSO without a system call (a few nanoseconds), good to the
 * tick (1-10 ms): what the decay's clock needs. */
uint64_t os_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Online CPUs from /sys (the list form "0-3,6"), without allocating. */
int os_ncpus(void)
{
    char buf[256];
    int fd = (int)sys6(SYS_open, (long)"/sys/devices/system/cpu/online", O_RDONLY | O_CLOEXEC, 0, 0, 0, 0);
    if (fd < 0)
        return 1;
    long n = sys6(SYS_read, fd, (long)buf, sizeof buf - 1, 0, 0, 0);
    sys6(SYS_close, fd, 0, 0, 0, 0, 0);
    if (n <= 0)
        return 1;
    buf[n] = 0;
    int count = 0;
    for (char *s = buf; *s && *s != '\n';) {
        long a = 0, b;
        while (*s >= '0' && *s <= '9') a = a * 10 + (*s++ - '0');
        b = a;
        if (*s == '-') {
            s++;
            b = 0;
            while (*s >= '0' && *s <= '9') b = b * 10 + (*s++ - '0');
        }
        count += (int)(b - a + 1);
        if (*s == ',') s++;
        else break;
    }
    return count > 0 ? count : 1;
}

void os_write(int fd, const char *s, size_t n)
{
    while (n > 0) {
        long w = sys6(SYS_write, fd, (long)s, (long)n, 0, 0, 0);
        if (w == -EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

void os_abort(void)
{
    abort();
}

/* A Valgrind client request: a no-op on the real CPU, a call into the
 * tool under Valgrind.  The protocol (amd64): a marker sequence of
 * rotations of %rdi that cancel out, then xchg %rbx,%rbx, with %rax
 * pointing at {request, args...} and the result (or the default, when
 * not under Valgrind) in %rdx. */
uintptr_t os_valgrind(uintptr_t request, uintptr_t a1, uintptr_t a2, uintptr_t a3, uintptr_t a4)
{
#if defined(__x86_64__)
    volatile uintptr_t args[6] = { request, a1, a2, a3, a4, 0 };
    uintptr_t result = 0;
    __asm__ volatile("rolq $3, %%rdi ; rolq $13, %%rdi\n\t"
                     "rolq $61, %%rdi ; rolq $51, %%rdi\n\t"
                     "xchgq %%rbx, %%rbx"
                     : "=d"(result)
                     : "a"(&args[0]), "0"(result)
                     : "cc", "memory");
    return result;
#else
    return 0;
#endif
}
