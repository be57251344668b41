/*
 * Helpers shared by the mechanism tests, tests/mech/ *.c.
 *
 * These tests are linked against libptalloc and assert the design through
 * the introspection API of include/ptalloc.h: where each chunk sits, bin
 * order, arena summaries, options.  Everything is silent on success.
 */
#ifndef MECH_H
#define MECH_H

#include "t.h"
#include <ptalloc.h>
#include <limits.h>
#include <malloc.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

/* every helper is static; not every test uses every one */
#define M_FN static __attribute__((unused))

#define KiB 1024ul
#define MiB (1024ul * 1024)

/* ptalloc_set_option: 1 when the option was set. */
M_FN int m_set(const char *name, long v)
{
    return ptalloc_set_option(name, v);
}

/* The option's value; LONG_MIN when it cannot be read. */
M_FN long m_get(const char *name)
{
    long v = LONG_MIN;
    if (!ptalloc_get_option(name, &v))
        return LONG_MIN;
    return v;
}

/* Switches the tcache off, so that frees reach the fastbins and bins. */
M_FN void m_no_tcache(void)
{
    CHECK(ptalloc_set_option("tcache_count", 0) == 1);
    CHECK(m_get("tcache_count") == 0);
}

/* ---- one chunk ----------------------------------------------------------- */

M_FN struct ptalloc_chunk_info m_info(const void *mem)
{
    struct ptalloc_chunk_info ci;
    memset(&ci, 0, sizeof ci);
    if (!ptalloc_locate(mem, &ci)) {
        ci.where = -1;
        ci.bin = -2;
    }
    return ci;
}
M_FN int    m_where(const void *mem) { return m_info(mem).where; }
M_FN int    m_bin(const void *mem)   { return m_info(mem).bin; }
M_FN size_t m_size(const void *mem)  { return m_info(mem).size; }
M_FN int    m_found(const void *mem) { return m_info(mem).where != -1; }
M_FN char  *m_chunk(const void *mem) { return (char *)mem - 16; }

/* The user pointer of the chunk after the one at mem (by its size field). */
M_FN void *m_next(const void *mem) { return (char *)mem + m_size(mem); }

/* The boundary tag in front of the chunk at mem: the prev_size field. */
M_FN size_t m_prev_size(const void *mem)
{
    uintptr_t a = (uintptr_t)mem - 16;
    __asm__("" : "+r"(a));          /* the header lies outside the user's object */
    return *(const size_t *)a;
}
M_FN int    m_prev_inuse(const void *mem) { return (m_info(mem).flags & PTALLOC_PREV_INUSE) != 0; }

/* A free chunk in one of the arena's bins or a thread cache. */
M_FN int m_is_free(int where)
{
    return where == PTALLOC_FASTBIN || where == PTALLOC_UNSORTED || where == PTALLOC_SMALLBIN ||
           where == PTALLOC_LARGEBIN || where == PTALLOC_TCACHE;
}

M_FN const char *m_where_name(int w)
{
    M_FN const char *n[] = { "inuse", "tcache", "fastbin", "unsorted", "smallbin",
                               "largebin", "top", "mmapped", "fence" };
    return w >= 0 && w <= PTALLOC_FENCE ? n[w] : "not-a-chunk";
}

/* CHECKs that mem's chunk sits in where, bin. */
#define CHECK_WHERE(mem, w, b) do { \
    struct ptalloc_chunk_info ci_ = m_info(mem); \
    CHECKF(ci_.where == (w) && ci_.bin == (b), "%s (%p, size %zu) is in %s[%d], want %s[%d]", \
           #mem, (void *)(mem), ci_.size, m_where_name(ci_.where), ci_.bin, m_where_name(w), (int)(b)); \
} while (0)

/* ---- bins, arenas ------------------------------------------------------- */

#define M_BINMAX 4096
M_FN void *m_binbuf[M_BINMAX];

/* The user pointers of a bin of the main arena, in list order. */
M_FN size_t m_binlist(int kind, int index)
{
    size_t n = ptalloc_bin(0, kind, index, m_binbuf, M_BINMAX);
    return n < M_BINMAX ? n : M_BINMAX;
}
M_FN int m_in_bin(int kind, int index, const void *mem)
{
    size_t n = m_binlist(kind, index);
    for (size_t i = 0; i < n; i++)
        if (m_binbuf[i] == mem)
            return 1;
    return 0;
}

M_FN struct ptalloc_arena_info m_arena(void)
{
    struct ptalloc_arena_info ai;
    memset(&ai, 0, sizeof ai);
    CHECK(ptalloc_arena_info(0, &ai) == 1);
    return ai;
}

/* ---- the heap walk --------------------------------------------------------- */

#define M_MAXCH 200000
M_FN struct ptalloc_chunk_info m_ch[M_MAXCH];
M_FN int m_nch;

M_FN int m_collect_fn(const struct ptalloc_chunk_info *ci, void *arg)
{
    if (m_nch < M_MAXCH)
        m_ch[m_nch++] = *ci;
    return 0;
}
/* Walks the whole heap into m_ch[]; returns the number of chunks. */
M_FN int m_collect(void)
{
    m_nch = 0;
    CHECK(ptalloc_walk(m_collect_fn, NULL) == 0);
    return m_nch;
}
/* Index in m_ch of the chunk whose user pointer is mem, or -1. */
M_FN int m_find(const void *mem)
{
    for (int i = 0; i < m_nch; i++)
        if (m_ch[i].mem == mem)
            return i;
    return -1;
}
/* Index in m_ch of the chunk holding address addr, or -1. */
M_FN int m_containing(const void *addr)
{
    for (int i = 0; i < m_nch; i++)
        if ((const char *)addr >= (const char *)m_ch[i].chunk &&
            (const char *)addr < (const char *)m_ch[i].chunk + m_ch[i].size)
            return i;
    return -1;
}

/* Calls that read the decay's clock: DECAY_TICK_CALLS (32) locked calls
 * twice over, with the cache off (m_no_tcache) and fastbin-size blocks,
 * so that a pass due runs. */
M_FN void m_ticks(void)
{
    for (int i = 0; i < 64; i++)
        free(malloc(100));
}

/* ---- processes ----------------------------------------------------------- */

/* Runs fn in a child process with a fresh failure count; the child's
 * failures count as one failure here. */
M_FN void m_in_child(const char *name, void (*fn)(void))
{
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        CHECKF(0, "fork: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        t_failures = 0;
        fn();
        t_heap_check(name);
        _exit(t_done());
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child %s %d", name,
           WIFSIGNALED(st) ? "killed by signal" : "exit status",
           WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

/* Empties the heap as far as possible: consolidate everything, merge it
 * into the top, give the top back. */
M_FN void m_settle(void)
{
    malloc_trim(0);
}

#endif
