/*
 * Helpers shared by the threads/fork tests in tests/threads.
 *
 * Everything here works on any malloc: the ptalloc-only introspection is
 * looked up with dlsym() and reported absent (NULL) on glibc, so the same
 * program validates against glibc without LD_PRELOAD.
 *
 * Environment:
 *   PTALLOC_TEST_SCALE    multiplies the amount of work (default 1, or 0.5
 *                         when PTALLOC_VARIANT is debug or ubsan)
 *   PTALLOC_TEST_TIMEOUT  watchdog in seconds (default 120)
 */
#ifndef TT_H
#define TT_H

#include "t.h"

#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ptalloc.h"

#define TT_MIB (1024UL * 1024UL)
#define TT_HEAP_MAX ((uintptr_t)64 * 1024 * 1024)   /* HEAP_MAX_SIZE */

/* ---- scale and watchdog ------------------------------------------------ */

static inline double tt_scale(void)
{
    const char *s = getenv("PTALLOC_TEST_SCALE");
    if (s && *s) {
        double v = strtod(s, NULL);
        return v > 0 ? v : 1.0;
    }
    const char *v = getenv("PTALLOC_VARIANT");
    if (v && (strcmp(v, "debug") == 0 || strcmp(v, "ubsan") == 0))
        return 0.5;
    return 1.0;
}

/* n scaled, at least lo. */
static inline long tt_scaled(long n, long lo)
{
    long v = (long)(n * tt_scale());
    return v < lo ? lo : v;
}

static const char *tt_test_name = "test";

static inline void tt_write(int fd, const char *s)
{
    write(fd, s, strlen(s));
}

static void tt_watchdog_fire(int sig)
{
    (void)sig;
    tt_write(2, tt_test_name);
    tt_write(2, ": watchdog expired (deadlock or far too slow) in pid ");
    char buf[24]; int i = sizeof buf; long pid = getpid();
    buf[--i] = 0; buf[--i] = '\n';
    do { buf[--i] = '0' + pid % 10; pid /= 10; } while (pid);
    tt_write(2, buf + i);
    _exit(3);
}

/* Installs the SIGALRM watchdog and arms it. */
static inline void tt_watchdog(const char *name, unsigned seconds)
{
    tt_test_name = name;
    const char *s = getenv("PTALLOC_TEST_TIMEOUT");
    if (s && *s && atoi(s) > 0)
        seconds = (unsigned)atoi(s);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = tt_watchdog_fire;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm(seconds);
}

static inline double tt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- child processes ---------------------------------------------------- */

/* Waits for pid at most secs seconds; kills it after that.  Returns the
 * wait status, or -1 on timeout. */
static inline int tt_wait_child(pid_t pid, double secs, const char *what)
{
    double end = tt_now() + secs;
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "%s: waitpid(%s): %s\n", tt_test_name, what, strerror(errno));
            return -1;
        }
        if (tt_now() > end) {
            fprintf(stderr, "%s: %s (pid %d) still running after %.0fs: killed\n",
                    tt_test_name, what, (int)pid, secs);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(1000);
    }
}

static inline int tt_status_ok(int status)
{
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static inline void tt_describe_status(const char *what, int status)
{
    if (status == -1)
        fprintf(stderr, "%s: %s timed out\n", tt_test_name, what);
    else if (WIFSIGNALED(status))
        fprintf(stderr, "%s: %s killed by signal %d\n", tt_test_name, what, WTERMSIG(status));
    else if (WIFEXITED(status) && WEXITSTATUS(status))
        fprintf(stderr, "%s: %s exited with %d\n", tt_test_name, what, WEXITSTATUS(status));
}

/* ---- ptalloc introspection (NULL on other allocators) ------------------- */

typedef int (*tt_arena_count_fn)(void);
typedef int (*tt_arena_info_fn)(int, struct ptalloc_arena_info *);
typedef int (*tt_locate_fn)(const void *, struct ptalloc_chunk_info *);
typedef int (*tt_walk_fn)(ptalloc_walk_fn, void *);
typedef int (*tt_get_option_fn)(const char *, long *);

#define TT_SYM(type, name) ((type)dlsym(RTLD_DEFAULT, name))

static inline tt_arena_count_fn tt_pt_arena_count(void)
{ return TT_SYM(tt_arena_count_fn, "ptalloc_arena_count"); }
static inline tt_arena_info_fn tt_pt_arena_info(void)
{ return TT_SYM(tt_arena_info_fn, "ptalloc_arena_info"); }
static inline tt_locate_fn tt_pt_locate(void)
{ return TT_SYM(tt_locate_fn, "ptalloc_locate"); }
static inline tt_walk_fn tt_pt_walk(void)
{ return TT_SYM(tt_walk_fn, "ptalloc_walk"); }
static inline tt_get_option_fn tt_pt_get_option(void)
{ return TT_SYM(tt_get_option_fn, "ptalloc_get_option"); }

/* Number of arenas as malloc_info(3) reports them (one <heap nr=...> element
 * per arena).  Works on glibc and on ptalloc; -1 on error. */
static inline int tt_malloc_info_heaps(void)
{
    char *buf = NULL; size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return -1;
    int rc = malloc_info(0, f);
    fclose(f);
    if (rc != 0 || !buf) {
        free(buf);
        return -1;
    }
    int n = 0;
    for (const char *p = buf; (p = strstr(p, "<heap nr=")) != NULL; p++)
        n++;
    free(buf);
    return n;
}

/* Arena count: ptalloc_arena_count() on ptalloc, malloc_info's count
 * elsewhere.  *how tells which. */
static inline int tt_arena_count(const char **how)
{
    tt_arena_count_fn f = tt_pt_arena_count();
    if (f) {
        if (how) *how = "ptalloc_arena_count";
        return f();
    }
    if (how) *how = "malloc_info";
    return tt_malloc_info_heaps();
}

static inline long tt_nprocs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

/* The arena of a block: ptalloc_locate() when present, else -2 (unknown). */
static inline int tt_arena_of(const void *p)
{
    tt_locate_fn loc = tt_pt_locate();
    struct ptalloc_chunk_info ci;
    if (loc && loc(p, &ci))
        return ci.arena;
    return -2;
}

/* The chunk header's NON_MAIN_ARENA bit, read straight from the size field
 * (same layout in glibc and ptalloc).  Only for blocks below the mmap
 * threshold. */
static inline int tt_hdr_non_main(const void *p)
{
    uintptr_t a = (uintptr_t)p - sizeof(size_t);
    __asm__("" : "+r"(a));            /* hide the header read from -Warray-bounds */
    size_t sz = *(const size_t *)a;
    return (sz & PTALLOC_NON_MAIN_ARENA) != 0;
}

/* ---- /proc readers that do not allocate --------------------------------- */

/* Reads a whole small /proc file into buf (NUL-terminated); -1 on error. */
static inline long tt_read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    for (;;) {
        if (n + 1 >= cap)
            break;
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    return (long)n;
}

/* Resident set size in KiB (VmRSS), -1 on error. */
static inline long tt_rss_kib(void)
{
    char buf[8192];
    if (tt_read_file("/proc/self/status", buf, sizeof buf) < 0)
        return -1;
    const char *p = strstr(buf, "VmRSS:");
    if (!p)
        return -1;
    return strtol(p + 6, NULL, 10);
}

struct tt_map {
    uintptr_t start, end;
    char perms[5];
};

/* Parses /proc/self/maps into out[] (at most max entries); returns the
 * count.  Uses a static buffer: not reentrant, allocates nothing. */
static inline int tt_read_maps(struct tt_map *out, int max)
{
    static char buf[4 << 20];
    if (tt_read_file("/proc/self/maps", buf, sizeof buf) < 0)
        return -1;
    int n = 0;
    char *p = buf;
    while (*p && n < max) {
        char *e;
        uintptr_t s = strtoull(p, &e, 16);
        if (*e != '-') break;
        uintptr_t t = strtoull(e + 1, &e, 16);
        while (*e == ' ') e++;
        out[n].start = s;
        out[n].end = t;
        memcpy(out[n].perms, e, 4);
        out[n].perms[4] = 0;
        n++;
        p = strchr(e, '\n');
        if (!p) break;
        p++;
    }
    return n;
}

/* ---- content patterns --------------------------------------------------- */

static inline uint64_t tt_mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* Key of a block: derived from its address, size and owner. */
static inline uint64_t tt_key(const void *p, size_t size, unsigned owner)
{
    return tt_mix((uint64_t)(uintptr_t)p ^ ((uint64_t)size << 20) ^ ((uint64_t)owner << 56));
}

#define TT_STEP 0xD6E8FEB86659FD93ULL

static inline void tt_fill(void *p, size_t n, uint64_t key)
{
    uint64_t *w = (uint64_t *)p;
    size_t nw = n / 8;
    for (size_t i = 0; i < nw; i++)
        w[i] = key + i * TT_STEP;
    /* The tail is the start of the next word of the pattern, so that any
     * prefix of a filled block holds the pattern of that prefix. */
    uint64_t last = key + nw * TT_STEP;
    unsigned char *b = (unsigned char *)p;
    for (size_t i = nw * 8; i < n; i++)
        b[i] = (unsigned char)(last >> ((i & 7) * 8));
}

/* Returns the offset of the first byte that differs from the pattern, or
 * (size_t)-1 when the first n bytes hold it. */
static inline size_t tt_verify(const void *p, size_t n, uint64_t key)
{
    const uint64_t *w = (const uint64_t *)p;
    size_t nw = n / 8;
    for (size_t i = 0; i < nw; i++)
        if (w[i] != key + i * TT_STEP)
            return i * 8;
    uint64_t last = key + nw * TT_STEP;
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = nw * 8; i < n; i++)
        if (b[i] != (unsigned char)(last >> ((i & 7) * 8)))
            return i;
    return (size_t)-1;
}

static inline int tt_is_zero(const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

#endif
