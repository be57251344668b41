/*
 * ptalloc_check: 0 on a consistent heap through a mixed workload; more
 * than 0 (and no crash) after each deliberate corruption, done in a child
 * process that then exits without touching the allocator again:
 *  - a free chunk's boundary tag (the next chunk's prev_size) altered;
 *  - the next chunk's PREV_INUSE set under a free chunk;
 *  - a free chunk's size altered (the tags and the tiling disagree);
 *  - a fastbin chunk's size altered to another fastbin's size;
 *  - the top chunk's size altered;
 *  - a small bin's chunk altered to another size class.
 * The parent's heap stays consistent.
 */
#include "mech.h"

#define S 272                       /* chunk size of malloc(264) */

static size_t *hdr(void *mem, int word) { return (size_t *)((uintptr_t)mem - 16 + 8 * (uintptr_t)word); }

/* Runs corrupt() in a child on a heap with a free chunk A between live
 * chunks; the child exits 0 when ptalloc_check saw problems. */
static void corrupted(const char *what, void (*corrupt)(void *a, void *b))
{
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        void *g0 = malloc(S - 8), *a = malloc(S - 8), *b = malloc(S - 8), *f = malloc(24),
             *g1 = malloc(24);
        (void)g0; (void)g1;
        free(a);
        free(f);
        int before = ptalloc_check(0);
        corrupt(a, b);
        int after = ptalloc_check(0);
        _exit(before == 0 && after > 0 ? 0 : 10 + (before != 0));
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s %d", what,
           WIFSIGNALED(st) ? "child killed by signal" : WEXITSTATUS(st) == 11
               ? "heap inconsistent before the corruption, exit" : "corruption not reported, exit",
           WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

static void bad_prev_size(void *a, void *b)  { *hdr(b, 0) = S + 16; }
static void set_prev_inuse(void *a, void *b) { *hdr(b, 1) |= PTALLOC_PREV_INUSE; }
static void bad_free_size(void *a, void *b)  { *hdr(a, 1) = (S - 16) | PTALLOC_PREV_INUSE; }
static void bad_fast_size(void *a, void *b)
{
    /* f, the 32-byte chunk after b, in fastbin 0: made 48 bytes */
    void *f = (char *)b + S;
    *hdr(f, 1) = 48 | PTALLOC_PREV_INUSE;
}
static void bad_top_size(void *a, void *b)
{
    struct ptalloc_arena_info ai;
    ptalloc_arena_info(0, &ai);
    size_t *t = (size_t *)ai.top;
    t[1] = (ai.top_size + 4096 * 16) | PTALLOC_PREV_INUSE;
}
static void sorted_then_resized(void *a, void *b)
{
    void *big = malloc(3000);       /* a goes to small bin 17 */
    (void)big;
    /* a claims another small size; its boundary tag follows, so only the
     * bin placement and the tiling are wrong */
    *hdr(a, 1) = (S - 32) | PTALLOC_PREV_INUSE;
    *(size_t *)((char *)a - 16 + S - 32) = S - 32;
}

static void workload_stays_consistent(void)
{
    static void *p[2000];
    unsigned long long seed = 42;
    int problems = 0;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 2000; i++) {
            if (p[i] && (t_rand(&seed) & 1)) {
                free(p[i]);
                p[i] = NULL;
            } else if (!p[i]) {
                unsigned r = (unsigned)(t_rand(&seed) % 100);
                size_t n = r < 60 ? t_rand(&seed) % 200 : r < 95 ? t_rand(&seed) % 4000
                                                               : t_rand(&seed) % 300000;
                p[i] = malloc(n);
            }
        }
        problems += ptalloc_check(round == 19);
        if (round == 10)
            malloc_trim(0), problems += ptalloc_check(1);
    }
    CHECKF(problems == 0, "ptalloc_check found %d problems during the workload", problems);
    for (int i = 0; i < 2000; i++)
        free(p[i]);
    CHECK(ptalloc_check(1) == 0);
}

int main(void)
{
    m_no_tcache();
    CHECK(ptalloc_check(1) == 0);
    workload_stays_consistent();
    corrupted("boundary tag", bad_prev_size);
    corrupted("PREV_INUSE under a free chunk", set_prev_inuse);
    corrupted("free chunk size", bad_free_size);
    corrupted("fastbin chunk size", bad_fast_size);
    corrupted("top size", bad_top_size);
    corrupted("small bin chunk size", sorted_then_resized);
    CHECK(ptalloc_check(1) == 0);
    return t_done();
}
