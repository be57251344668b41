/*
 * M_PERTURB / MALLOC_PERTURB_: with perturb byte b, memory handed out by
 * malloc is filled with b ^ 0xff and memory given back by free with b;
 * calloc still returns zeroes.  Checked with mallopt(M_PERTURB, b) here,
 * then in re-executed copies of this program started with
 * MALLOC_PERTURB_=0x5a and with GLIBC_TUNABLES=glibc.malloc.perturb=60.
 *
 * Only what glibc does too is checked: allocations that do not come
 * straight out of the tcache (glibc fills neither on a tcache hit nor on a
 * tcache put), and bytes 32 onward of a freed chunk beyond the tcache sizes
 * (the first 32 hold its bin links).
 */
#include "t.h"
#include <malloc.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

static void *hide(void *p) { __asm__ volatile("" : "+r"(p)); return p; }
static size_t chunk_size(void *m) { return ((size_t *)hide(m))[-1] & ~(size_t)7; }

/* First index in [from, to) whose byte is not v, or to. */
static size_t first_not(const void *p, size_t from, size_t to, unsigned char v)
{
    const volatile unsigned char *c = hide((void *)p);
    for (size_t k = from; k < to; k++)
        if (c[k] != v)
            return k;
    return to;
}

#define ALL(p, from, to, v, what) do { \
    size_t at_ = first_not((p), (from), (to), (v)); \
    CHECKF(at_ == (to), "%s: byte %zu is %#x, expected %#x", (what), at_, \
           ((unsigned char *)(p))[at_], (unsigned)(v)); \
} while (0)

static void checks(unsigned char b, const char *how)
{
    unsigned char a = b ^ 0xff;

    /* small, not from the tcache */
    for (int i = 0; i < 7; i++)
        hide(malloc(100));
    unsigned char *s = malloc(100);
    ALL(s, 0, 100, a, how);

    /* beyond the tcache, fresh from the top */
    unsigned char *m = malloc(2000);
    ALL(m, 0, 2000, a, how);

    /* mmapped */
    unsigned char *big = malloc(300000);
    ALL(big, 0, 300000, a, how);
    free(big);

    /* free fills with b: a 2016-byte chunk with an allocated chunk after it
     * (so that it merges into nothing that could be trimmed) */
    unsigned char *f = NULL, *g = NULL;
    for (int tries = 0; tries < 16; tries++) {
        f = malloc(2000);
        g = malloc(2000);
        if (g == f + chunk_size(f))
            break;
    }
    CHECKF(g == f + chunk_size(f), "%s: no two adjacent chunks", how);
    memset(f, 0x11, 2000);
    free(f);
    ALL(f, 32, 2000, b, how);

    /* a freed chunk taken again is refilled entirely with b ^ 0xff */
    unsigned char *r = malloc(2000);
    ALL(r, 0, 2000, a, how);

    /* calloc is exempt */
    unsigned char *z = calloc(1, 2000);
    ALL(z, 0, 2000, 0, how);
    free(z);
    z = calloc(100, 30);
    ALL(z, 0, 3000, 0, how);
    free(z);
    z = calloc(1, 300000);
    ALL(z, 0, 300000, 0, how);
    free(z);

    free(s);
    free(m);
    free(r);
    free(g);
    t_heap_check(how);
}

/* Runs this program again with env "name=value", expecting byte b. */
static void rerun(const char *name, const char *value, unsigned b)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        char arg[16];
        snprintf(arg, sizeof arg, "%u", b);
        unsetenv("MALLOC_PERTURB_");
        unsetenv("GLIBC_TUNABLES");
        setenv(name, value, 1);
        execl("/proc/self/exe", "perturb", "--child", arg, (char *)NULL);
        perror("exec");
        _exit(2);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s=%s: child %s %d", name, value,
           WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0) {
        checks((unsigned char)atoi(argv[2]), getenv("MALLOC_PERTURB_") ?
               "MALLOC_PERTURB_" : "GLIBC_TUNABLES");
        return t_done();
    }
    CHECK(mallopt(M_PERTURB, 0x33) == 1);
    checks(0x33, "mallopt(M_PERTURB, 0x33)");
    CHECK(mallopt(M_PERTURB, 0xa7) == 1);
    checks(0xa7, "mallopt(M_PERTURB, 0xa7)");
    CHECK(mallopt(M_PERTURB, 0) == 1);
    void *p = malloc(2000);                     /* off again: still works */
    CHECK(p != NULL);
    free(p);

    rerun("MALLOC_PERTURB_", "0x5a", 0x5a);
    rerun("GLIBC_TUNABLES", "glibc.malloc.perturb=60", 60);
    return t_done();
}
