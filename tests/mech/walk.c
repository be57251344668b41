/*
 * The heap walk, ptalloc_locate, ptalloc_bin and ptalloc_print_heap
 * against what the test allocated and freed (tcache off, except where a
 * tcache entry is wanted).
 *
 *  - every chunk is reported once; the chunks of a segment tile it
 *    exactly (address + size == next address) and the last one is the top
 *    or a fence-post; mem == chunk + 16; one top per arena, the one
 *    ptalloc_arena_info reports; chunk sizes add up to no more than the
 *    arena's system_bytes;
 *  - each live block is reported once, in use, with its request size;
 *    mmapped ones after the arenas, IS_MMAPPED, arena -1; each freed
 *    block lies inside a free chunk; a fastbin or tcache chunk keeps the
 *    next chunk's PREV_INUSE, any other free chunk clears it and writes
 *    its size into the next chunk's prev_size;
 *  - ptalloc_bin lists exactly the walk's free chunks, in their bins;
 *  - a non-zero return from the callback stops the walk and is returned;
 *  - ptalloc_locate finds chunk starts only (not interior pointers, NULL,
 *    stack addresses) and agrees with the walk;
 *  - ptalloc_print_heap(fd) writes a picture naming the top, the bins, the
 *    mmapped chunks.
 */
#include "mech.h"
#include <fcntl.h>

#define N 600
static void *blk[N];
static size_t req[N];
static char state[N];           /* 0 live, 1 freed */

static int stop_calls;
static int stop_at_third(const struct ptalloc_chunk_info *ci, void *arg)
{
    return ++stop_calls == 3 ? 7 : 0;
}

static void check_walk(const char *phase)
{
    int n = m_collect();
    CHECKF(n > 0 && n < M_MAXCH, "%s: %d chunks", phase, n);
    int tops = 0, bad_tile = 0, bad_mem = 0, bad_end = 0, bad_tags = 0;
    size_t sum = 0;
    int mmapped_seen = 0, bad_order = 0;
    for (int i = 0; i < n; i++) {
        struct ptalloc_chunk_info *c = &m_ch[i];
        bad_mem += (char *)c->mem != (char *)c->chunk + 16;
        if (c->where == PTALLOC_MMAPPED) {
            mmapped_seen = 1;
            CHECK(c->arena == -1 && (c->flags & PTALLOC_IS_MMAPPED));
            continue;
        }
        bad_order += mmapped_seen;                 /* arenas first, then mmapped */
        CHECK(!(c->flags & PTALLOC_IS_MMAPPED));
        if (c->arena == 0)
            sum += c->size;
        tops += c->where == PTALLOC_TOP && c->arena == 0;
        int last = i + 1 == n || m_ch[i + 1].arena != c->arena || m_ch[i + 1].segment != c->segment;
        if (last) {
            bad_end += c->where != PTALLOC_TOP && c->where != PTALLOC_FENCE;
            continue;
        }
        struct ptalloc_chunk_info *d = &m_ch[i + 1];
        bad_tile += (char *)c->chunk + c->size != (char *)d->chunk;
        if (c->where == PTALLOC_FENCE || c->where == PTALLOC_TOP)
            continue;
        int tag_free = c->where == PTALLOC_UNSORTED || c->where == PTALLOC_SMALLBIN ||
                       c->where == PTALLOC_LARGEBIN;
        if (tag_free)
            bad_tags += (d->flags & PTALLOC_PREV_INUSE) || m_prev_size(d->mem) != c->size;
        else
            bad_tags += !(d->flags & PTALLOC_PREV_INUSE);
    }
    CHECKF(tops == 1, "%s: %d tops in the main arena", phase, tops);
    CHECKF(bad_tile == 0, "%s: %d chunks do not end where the next begins", phase, bad_tile);
    CHECKF(bad_mem == 0, "%s: %d chunks with mem != chunk + 16", phase, bad_mem);
    CHECKF(bad_end == 0, "%s: %d segments end with something else than top or fence", phase, bad_end);
    CHECKF(bad_tags == 0, "%s: %d chunks whose state disagrees with the boundary tags", phase, bad_tags);
    CHECKF(bad_order == 0, "%s: arena chunks after mmapped ones", phase);
    struct ptalloc_arena_info ai = m_arena();
    CHECKF(sum <= ai.system_bytes && sum + 64 * (size_t)ai.segments >= ai.system_bytes,
           "%s: chunks add up to %zu, system_bytes %zu", phase, sum, ai.system_bytes);
    for (int i = 0; i < n; i++)
        if (m_ch[i].where == PTALLOC_TOP && m_ch[i].arena == 0)
            CHECK(m_ch[i].chunk == ai.top && m_ch[i].size == ai.top_size);
    /* each chunk once */
    for (int i = 1; i < n; i++)
        if (m_ch[i].arena >= 0 && m_ch[i].arena == m_ch[i - 1].arena &&
            m_ch[i].segment == m_ch[i - 1].segment)
            CHECK((char *)m_ch[i].chunk > (char *)m_ch[i - 1].chunk);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n && m_ch[i].arena < 0; j++)
            CHECK(m_ch[i].chunk != m_ch[j].chunk);

    /* what the test did */
    int lost = 0, wrong = 0, notfree = 0;
    for (int k = 0; k < N; k++) {
        if (!blk[k])
            continue;
        if (state[k] == 0) {
            int i = m_find(blk[k]), again = 0;
            if (i < 0) {
                lost++;
                continue;
            }
            for (int j = i + 1; j < n; j++)
                again += m_ch[j].mem == blk[k];
            int mm = req[k] >= 128 * KiB;
            if (again || m_ch[i].where != (mm ? PTALLOC_MMAPPED : PTALLOC_INUSE) ||
                (!mm && m_ch[i].size != ptalloc_request_size(req[k])) ||
                (mm && m_ch[i].size < ptalloc_request_size(req[k])))
                wrong++;
            struct ptalloc_chunk_info li = m_info(blk[k]);
            CHECK(li.chunk == m_ch[i].chunk && li.size == m_ch[i].size && li.where == m_ch[i].where &&
                  li.bin == m_ch[i].bin && li.flags == m_ch[i].flags && li.arena == m_ch[i].arena &&
                  li.segment == m_ch[i].segment);
        } else if (req[k] >= 128 * KiB) {
            notfree += m_find(blk[k]) >= 0;        /* unmapped */
        } else {
            int i = m_containing(m_chunk(blk[k]));
            if (i < 0 && (char *)blk[k] >= (char *)ai.top + ai.top_size)
                continue;                          /* given back to the system */
            if (i < 0 || !(m_is_free(m_ch[i].where) || m_ch[i].where == PTALLOC_TOP))
                notfree++;
        }
    }
    CHECKF(lost == 0, "%s: %d live blocks not in the walk", phase, lost);
    CHECKF(wrong == 0, "%s: %d live blocks reported wrongly", phase, wrong);
    CHECKF(notfree == 0, "%s: %d freed blocks not inside a free chunk", phase, notfree);

    /* the bins hold exactly the walk's free chunks */
    size_t inbins = 0, walkfree = 0;
    int misplaced = 0;
    for (int i = 0; i < n; i++) {
        struct ptalloc_chunk_info *c = &m_ch[i];
        if (c->arena != 0 || !m_is_free(c->where))
            continue;
        walkfree++;
        misplaced += !m_in_bin(c->where, c->bin, c->mem);
        if (c->where == PTALLOC_FASTBIN)
            misplaced += c->bin != (int)(c->size >> 4) - 2;
        if (c->where == PTALLOC_TCACHE)
            misplaced += c->bin != (int)(c->size >> 4) - 2;
        if (c->where == PTALLOC_SMALLBIN || c->where == PTALLOC_LARGEBIN)
            misplaced += c->bin != ptalloc_bin_index(c->size);
        if (c->where == PTALLOC_UNSORTED)
            misplaced += c->bin != 1;
    }
    for (int b = 0; b < 64; b++)
        inbins += ptalloc_bin(0, PTALLOC_TCACHE, b, m_binbuf, 0);
    for (int b = 0; b < 10; b++)
        inbins += ptalloc_bin(0, PTALLOC_FASTBIN, b, m_binbuf, 0);
    inbins += ptalloc_bin(0, PTALLOC_UNSORTED, 1, m_binbuf, 0);
    for (int b = 2; b < 64; b++)
        inbins += ptalloc_bin(0, PTALLOC_SMALLBIN, b, m_binbuf, 0);
    for (int b = 64; b < 127; b++)
        inbins += ptalloc_bin(0, PTALLOC_LARGEBIN, b, m_binbuf, 0);
    CHECKF(misplaced == 0, "%s: %d free chunks not in the bin the walk names", phase, misplaced);
    CHECKF(inbins == walkfree, "%s: bins hold %zu chunks, the walk shows %zu free", phase, inbins,
           walkfree);
    t_heap_check(phase);
}

static void print_heap(void)
{
    int fd[2];
    CHECK(pipe(fd) == 0);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        ptalloc_print_heap(fd[1]);
        _exit(0);
    }
    close(fd[1]);
    static char out[4 * 1024 * 1024];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof out - 1 && (r = read(fd[0], out + len, sizeof out - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = 0;
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECKF(len > 100, "print_heap wrote %zu bytes", len);
    CHECK(strstr(out, "top") != NULL);
    CHECK(strstr(out, "fastbin") != NULL);
    CHECK(strstr(out, "unsorted") != NULL || strstr(out, "small bin") != NULL ||
          strstr(out, "large bin") != NULL);
    CHECK(strstr(out, "mmapped") != NULL);
    CHECK(strstr(out, "in use") != NULL);
}

int main(void)
{
    m_no_tcache();
    unsigned long long seed = 0x1234abcdULL;
    for (int k = 0; k < N; k++) {
        unsigned r = (unsigned)(t_rand(&seed) % 100);
        req[k] = r < 50 ? t_rand(&seed) % 128 : r < 90 ? 128 + t_rand(&seed) % 2000
               : r < 99 ? 2000 + t_rand(&seed) % 30000 : 200 * KiB + t_rand(&seed) % 100000;
        blk[k] = malloc(req[k]);
        CHECK(blk[k] != NULL);
        if (blk[k])
            memset(blk[k], k & 0xff, req[k]);
    }
    check_walk("allocated");
    for (int k = 0; k < N; k += 3) {
        free(blk[k]);
        state[k] = 1;
    }
    check_walk("a third freed");
    void *sorter = malloc(40000);                 /* sorts the unsorted bin */
    check_walk("sorted");
    for (int k = 1; k < N; k += 3) {
        free(blk[k]);
        state[k] = 1;
    }
    check_walk("two thirds freed");

    /* one tcache entry too */
    void *t = malloc(24);                     /* (a cache filled from the */
    CHECK(m_set("tcache_count", 7) == 1);     /*  fastbin would be full) */
    free(t);
    CHECK_WHERE(t, PTALLOC_TCACHE, 0);
    check_walk("with a tcache entry");
    print_heap();
    CHECK(m_set("tcache_count", 0) == 1);
    CHECK_WHERE(t, PTALLOC_FASTBIN, 0);

    /* stopping the walk */
    stop_calls = 0;
    CHECK(ptalloc_walk(stop_at_third, NULL) == 7);
    CHECK(stop_calls == 3);

    /* locate: chunk starts only */
    void *live = NULL;
    for (int k = 2; k < N && !live; k += 3)
        if (req[k] > 64 && req[k] < 128 * KiB)
            live = blk[k];
    CHECK(live != NULL);
    struct ptalloc_chunk_info ci;
    if (live) {
        CHECK(ptalloc_locate(live, &ci) == 1 && ci.mem == live);
        CHECK(ptalloc_locate((char *)live + 16, &ci) == 0);
        CHECK(ptalloc_locate((char *)live + 8, &ci) == 0);
    }
    int on_stack;
    CHECK(ptalloc_locate(&on_stack, &ci) == 0);
    CHECK(ptalloc_locate(NULL, &ci) == 0);
    CHECK(ptalloc_arena_count() >= 1);
    struct ptalloc_arena_info ai;
    CHECK(ptalloc_arena_info(ptalloc_arena_count() + 5, &ai) == 0);
    CHECK(ptalloc_bin(0, PTALLOC_SMALLBIN, 1, m_binbuf, 8) == 0);   /* not a small bin */
    CHECK(ptalloc_bin(0, PTALLOC_LARGEBIN, 127, m_binbuf, 8) == 0);
    CHECK(ptalloc_bin(0, PTALLOC_FASTBIN, 10, m_binbuf, 8) == 0);

    for (int k = 2; k < N; k += 3) {
        free(blk[k]);
        state[k] = 1;
    }
    free(sorter);
    check_walk("all freed");
    malloc_trim(0);
    memset(blk, 0, sizeof blk);
    check_walk("trimmed");
    return t_done();
}
