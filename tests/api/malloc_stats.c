/*
 * malloc_stats: the report goes to standard error (fd 2, captured here by
 * pointing fd 2 at a temporary file) and has, per arena, "Arena N:",
 * "system bytes =", "in use bytes =", then "Total (incl. mmap):" with the
 * same two lines, "max mmap regions =" and "max mmap bytes =", in that
 * order.  The figures are checked for plausibility: in use <= system,
 * in-use grows with a heap allocation, the totals include mmapped blocks,
 * the max mmap figures remember past mmapped blocks, and with threads
 * every arena the allocator has is listed ("Arena 1:" ...) and summed.  Any run of spaces is accepted before "="
 * (glibc pads: "system bytes     =", "max mmap bytes   =").
 */
#include "t.h"
#include "arena_workers.h"
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

static char out[1 << 16];

/* Runs malloc_stats() with fd 2 redirected; returns the text in out. */
static const char *capture(void)
{
    char path[] = "/tmp/ptalloc-stats-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return "";
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    malloc_stats();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, out, sizeof out - 1, 0);
    close(fd);
    out[n > 0 ? n : 0] = 0;
    return out;
}

/* The number on the first line at or after from that reads
 * "<label> = <number>" (any run of spaces around "="; glibc pads the
 * labels to one width: "system bytes     =", "max mmap bytes   ="), or -1.
 * If upto is not NULL the line must start before it. */
static long long value(const char *from, const char *label, const char *upto)
{
    size_t L = strlen(label);
    for (const char *p = from; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (upto && p >= upto) break;
        if (strncmp(p, label, L) != 0) continue;
        const char *q = p + L;
        while (*q == ' ') q++;
        if (*q != '=') continue;
        char *end;
        long long v = strtoll(q + 1, &end, 10);
        if (end == q + 1) continue;
        return v;
    }
    return -1;
}

struct stats {
    long long a0_sys, a0_use, tot_sys, tot_use, max_regions, max_bytes;
    int arenas;
};

static struct stats parse(const char *s, const char *where)
{
    struct stats st = { -1, -1, -1, -1, -1, -1, 0 };
    const char *a0 = strstr(s, "Arena 0:\n");
    const char *tot = strstr(s, "Total (incl. mmap):\n");
    CHECKF(a0 != NULL, "%s: no \"Arena 0:\" line in:\n%s", where, s);
    CHECKF(tot != NULL, "%s: no \"Total (incl. mmap):\" line in:\n%s", where, s);
    if (!a0 || !tot) return st;
    CHECKF(a0 < tot, "%s: \"Total (incl. mmap):\" before \"Arena 0:\"", where);
    const char *a1 = strstr(a0 + 1, "Arena ");
    st.a0_sys = value(a0, "system bytes", a1 && a1 < tot ? a1 : tot);
    st.a0_use = value(a0, "in use bytes", a1 && a1 < tot ? a1 : tot);
    st.tot_sys = value(tot, "system bytes", NULL);
    st.tot_use = value(tot, "in use bytes", NULL);
    st.max_regions = value(tot, "max mmap regions", NULL);
    st.max_bytes = value(tot, "max mmap bytes", NULL);
    CHECKF(st.a0_sys >= 0 && st.a0_use >= 0, "%s: arena 0 lacks \"system bytes =\" / \"in use bytes =\"", where);
    CHECKF(st.tot_sys >= 0 && st.tot_use >= 0, "%s: totals lack \"system bytes =\" / \"in use bytes =\"", where);
    CHECKF(st.max_regions >= 0, "%s: no \"max mmap regions =\"", where);
    CHECKF(st.max_bytes >= 0, "%s: no \"max mmap bytes =\"", where);
    const char *mr = strstr(tot, "max mmap regions"), *mb = strstr(tot, "max mmap bytes");
    CHECKF(mr && mb && mr < mb, "%s: \"max mmap regions\" should come before \"max mmap bytes\"", where);
    for (const char *p = s; (p = strstr(p, "Arena ")) != NULL && p < tot; p++)
        st.arenas++;
    CHECKF(st.a0_sys > 0 && st.a0_use <= st.a0_sys, "%s: arena 0 system %lld in use %lld",
           where, st.a0_sys, st.a0_use);
    CHECKF(st.tot_sys >= st.a0_sys && st.tot_use >= st.a0_use && st.tot_use <= st.tot_sys,
           "%s: totals system %lld in use %lld vs arena 0 %lld %lld", where, st.tot_sys, st.tot_use,
           st.a0_sys, st.a0_use);
    return st;
}

int main(void)
{
    alarm(30);
    CHECK(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1);
    free(malloc(1));
    struct stats s0 = parse(capture(), "start");
    CHECKF(s0.arenas == 1, "start: %d arenas listed, want 1", s0.arenas);

    /* heap allocation raises in-use */
    void *h = malloc(100000);
    CHECK(h != NULL);
    struct stats s1 = parse(capture(), "heap block");
    CHECKF(s1.a0_use >= s0.a0_use + 100000, "in use %lld -> %lld after malloc(100000)", s0.a0_use, s1.a0_use);

    /* mmapped blocks: in the totals, not in arena 0 */
    size_t big = mallinfo2().fordblks + (1u << 20);
    void *m1 = malloc(big), *m2 = malloc(big);
    CHECK(m1 && m2);
    struct stats s2 = parse(capture(), "mmapped");
    CHECKF(s2.tot_sys >= s2.a0_sys + 2 * (long long)big, "total system %lld, arena 0 %lld, mmapped 2 x %zu",
           s2.tot_sys, s2.a0_sys, big);
    CHECKF(s2.tot_use >= s2.a0_use + 2 * (long long)big, "total in use %lld, arena 0 %lld, mmapped 2 x %zu",
           s2.tot_use, s2.a0_use, big);
    CHECKF(s2.max_regions >= 2, "max mmap regions %lld with 2 live", s2.max_regions);
    CHECKF(s2.max_bytes >= 2 * (long long)big, "max mmap bytes %lld with 2 x %zu live", s2.max_bytes, big);
    free(m1);
    free(m2);
    free(h);
    struct stats s3 = parse(capture(), "freed");
    CHECKF(s3.max_regions >= 2 && s3.max_bytes >= 2 * (long long)big, "max mmap figures forgot: %lld %lld",
           s3.max_regions, s3.max_bytes);
    CHECKF(s3.tot_sys < s2.tot_sys, "total system bytes did not drop after unmapping: %lld -> %lld",
           s2.tot_sys, s3.tot_sys);

    /* several arenas: each listed once, numbered 0..n-1, totals cover them */
    {
        pthread_t t[W];
        int expected;
        workers_start(t, &expected);
        const char *txt = capture();
        struct stats s4 = parse(txt, "threads");
        long long sys = 0, use = 0;
        int n = 0;
        const char *tot = strstr(txt, "Total (incl. mmap):");
        for (;; n++) {
            char tag[32];
            snprintf(tag, sizeof tag, "Arena %d:\n", n);
            const char *a = strstr(txt, tag);
            if (!a || (tot && a > tot)) break;
            const char *next = strstr(a + 1, "Arena ");
            const char *lim = next && (!tot || next < tot) ? next : tot;
            long long as = value(a, "system bytes", lim), au = value(a, "in use bytes", lim);
            CHECKF(as >= 0 && au >= 0 && au <= as, "Arena %d: system %lld in use %lld", n, as, au);
            sys += as;
            use += au;
        }
        CHECKF(n == s4.arenas, "arenas numbered 0..%d but %d \"Arena\" headings", n - 1, s4.arenas);
        if (expected >= 0) {
            CHECKF(n == expected, "malloc_stats lists %d arenas, the allocator has %d", n, expected);
            if (expected < 2)
                printf("SKIP malloc_stats with two arenas: no second arena was created\n");
        } else {
            CHECKF(n >= 2, "only %d arena(s) listed with %d threads (glibc gives each its own)", n, W);
        }
        CHECKF(s4.tot_sys >= sys && s4.tot_use >= use, "totals %lld/%lld below the arenas' sum %lld/%lld",
               s4.tot_sys, s4.tot_use, sys, use);
        CHECKF(use >= (long long)W * HOLD, "arenas' in use %lld < %d held blocks of %d", use, W, HOLD);
        workers_stop(t);
    }
    t_heap_check("end");
    return t_done();
}
