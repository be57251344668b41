/*
 * arena_mask: a non-main arena's chunks, found from the address alone.
 *
 * 1. Threads contend until one of them runs on a non-main arena A (glibc
 *    gives every new thread its own arena; ptalloc creates them on
 *    contention).  The others are joined; the chosen thread goes on alone.
 * 2. Its chunks carry NON_MAIN_ARENA (read from the size field itself and
 *    via ptalloc_locate), belong to arena A, and addr & ~(64 MiB - 1) is the
 *    start of a mapping in /proc/self/maps (the sub-heap).
 * 3. Blocks of A freed or realloc'ed by the main thread stay in A: a tcache
 *    size lands in main's tcache (and main's next malloc of that size gets
 *    it back), a fast size with main's tcache bin full lands in A's fastbin,
 *    a 5000-byte block in A's bins; realloc growing into a free neighbour
 *    stays in place, in A.
 * 4. Sub-heap growth: ~100 MiB of 12..20 KiB blocks (below the mmap
 *    threshold) in A need at least two 64 MiB-aligned sub-heaps, each a
 *    mapping of its own, no block straddling a 64 MiB boundary, and
 *    ptalloc_arena_info(A).segments > 1.  The thread exits; the main thread
 *    frees them all, and the extra sub-heaps are unmapped (or at least
 *    shrunk) and .segments drops back.
 * The ptalloc-only parts print "skip: ..." elsewhere.
 */
#include "tt.h"

#include <stdatomic.h>

#define NHAMMER 4
#define BIGTOTAL (100 * TT_MIB)
#define MAXBLK  10000
#define MAXMAPS 65536

static tt_locate_fn locate;
static tt_arena_info_fn arena_info;
static tt_walk_fn walk;

/* ---- step handshake between main and the chosen thread ---------------- */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int step;

static void set_step(int s)
{
    pthread_mutex_lock(&mu);
    step = s;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void wait_step(int s)
{
    pthread_mutex_lock(&mu);
    while (step < s)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

/* ---- maps helpers ------------------------------------------------------- */
static struct tt_map maps[MAXMAPS];

static const struct tt_map *map_at(int n, uintptr_t start)
{
    for (int i = 0; i < n; i++)
        if (maps[i].start == start)
            return &maps[i];
    return NULL;
}

/* ---- phase 1: find a thread on a non-main arena ------------------------ */
static atomic_int stop_hammer;
static atomic_int found_nonmain;
static int my_arena[NHAMMER];       /* -2 unknown, else arena number        */
static int my_nonmain[NHAMMER];     /* 1 when a fresh block is NON_MAIN      */
static atomic_int chosen = -1;
static pthread_barrier_t hbar;

/* 1 if blocks this thread allocates now come from a non-main arena */
static int probe_arena(int *arena)
{
    void *p = malloc(2000);
    int nm = tt_hdr_non_main(p);
    *arena = tt_arena_of(p);
    free(p);
    return nm;
}

static void chosen_work(void);

static void *hammer(void *arg)
{
    int me = (int)(intptr_t)arg;
    unsigned long long rs = 7 + me;
    void *slot[16] = { 0 };
    int a;
    pthread_barrier_wait(&hbar);
    for (long i = 0; !atomic_load(&stop_hammer); i++) {
        int s = (int)(t_rand(&rs) % 16);
        free(slot[s]);
        slot[s] = malloc(1100 + t_rand(&rs) % 4000);
        if ((i & 255) == 0 && probe_arena(&a))
            atomic_store(&found_nonmain, 1);
    }
    for (int s = 0; s < 16; s++)
        free(slot[s]);
    my_nonmain[me] = probe_arena(&my_arena[me]);
    pthread_barrier_wait(&hbar);      /* main picks the chosen thread */
    pthread_barrier_wait(&hbar);
    if (atomic_load(&chosen) == me)
        chosen_work();
    return NULL;
}

/* ---- phases 2-4, run by the chosen thread ------------------------------ */
static int A = -2;                   /* the chosen thread's arena (ptalloc) */
static void *q_tc, *q_fast, *q_bin, *q_bin_guard, *q_re, *q_re_next, *q_re_guard;
static void *blk[MAXBLK];
static size_t blksz[MAXBLK];
static int nblk;

/* results, reported by main */
static int r_bases, r_bases_mapped, r_straddle, r_seg_before = -1, r_seg_peak = -1,
           r_seg_after = -1, r_bad_locate, r_sampled, r_gone, r_shrunk, r_kept,
           r_p_nonmain, r_p_mapped;
static uintptr_t first_base;

#define MAXBASES 16
static uintptr_t bases[MAXBASES];
static size_t base_len[MAXBASES];    /* mapping length at the peak */

static int segments_of(int a)
{
    struct ptalloc_arena_info ai;
    if (!arena_info || a < 0 || !arena_info(a, &ai))
        return -1;
    return ai.segments;
}

static void chosen_work(void)
{
    int a;
    probe_arena(&a);
    A = a;

    /* phase 2: a plain block */
    void *p = malloc(200);
    r_p_nonmain = tt_hdr_non_main(p);
    first_base = (uintptr_t)p & ~(TT_HEAP_MAX - 1);
    int nm = tt_read_maps(maps, MAXMAPS);
    r_p_mapped = map_at(nm, first_base) != NULL;
    if (locate) {
        struct ptalloc_chunk_info ci;
        int ok = locate(p, &ci);
        CHECK(ok == 1);
        if (ok) {
            CHECKF(ci.flags & PTALLOC_NON_MAIN_ARENA, "flags %#x", ci.flags);
            CHECKF(ci.arena == A && A > 0, "arena %d, thread's arena %d", ci.arena, A);
            CHECKF(ci.where == PTALLOC_INUSE, "where %d", ci.where);
            CHECK(ci.mem == p);
            CHECK((char *)ci.chunk == (char *)p - 16);
        }
    }

    /* phase 3: blocks for the main thread to free / realloc */
    q_tc = malloc(40);
    q_fast = malloc(100);
    q_bin = malloc(5000);               /* past the mid-size cache too */
    q_bin_guard = malloc(5000);
    /* q_re and q_re_next back to back (a free chunk of the right size
     * elsewhere could split them: try again, leaking the pair) */
    for (int tries = 0; tries < 16; tries++) {
        q_re = malloc(4500);
        q_re_next = malloc(4500);
        if ((char *)q_re_next == (char *)q_re + malloc_usable_size(q_re) + 8)
            break;
    }
    q_re_guard = malloc(4500);
    free(q_re_next);                 /* a free chunk right after q_re */
    set_step(1);
    wait_step(2);

    /* phase 4: sub-heap growth */
    r_seg_before = segments_of(A);
    unsigned long long rs = 99;
    size_t total = 0;
    while (total < BIGTOTAL && nblk < MAXBLK) {
        size_t n = 12288 + t_rand(&rs) % 8192;
        void *b = malloc(n);
        if (!b) break;
        memset(b, 0x5c, 64);
        blk[nblk] = b;
        blksz[nblk++] = n;
        total += n;
    }
    r_seg_peak = segments_of(A);
    nm = tt_read_maps(maps, MAXMAPS);
    for (int i = 0; i < nblk; i++) {
        uintptr_t b = (uintptr_t)blk[i] & ~(TT_HEAP_MAX - 1);
        if (((uintptr_t)blk[i] + blksz[i] - 1) / TT_HEAP_MAX != (uintptr_t)blk[i] / TT_HEAP_MAX)
            r_straddle++;
        if (!tt_hdr_non_main(blk[i]))
            r_bad_locate++;
        int k;
        for (k = 0; k < r_bases; k++)
            if (bases[k] == b) break;
        if (k == r_bases && r_bases < MAXBASES) {
            bases[r_bases] = b;
            const struct tt_map *m = map_at(nm, b);
            base_len[r_bases] = m ? m->end - m->start : 0;
            if (m) r_bases_mapped++;
            r_bases++;
        }
        if (locate && i % 97 == 0) {
            struct ptalloc_chunk_info ci;
            r_sampled++;
            if (!locate(blk[i], &ci) || ci.arena != A || !(ci.flags & PTALLOC_NON_MAIN_ARENA)
                || ci.where != PTALLOC_INUSE)
                r_bad_locate++;
        }
    }
    free(p);
    free(q_bin_guard);
    free(q_re_guard);
    /* The blocks are freed by the main thread once this thread has exited:
     * the exit flushes our tcache, which may hold the small remnant of the
     * first sub-heap's top (freed when the second sub-heap was started); a
     * chunk parked there would pin the end of the first sub-heap and keep
     * the second one from being unmapped. */
}

/* main thread, after the chosen thread exited: free the big set (remote
 * frees into an arena no thread is attached to) and see the sub-heaps go */
static void free_big_and_measure(void)
{
    for (int i = 0; i < nblk; i++)
        free(blk[i]);
    r_seg_after = segments_of(A);
    int nm = tt_read_maps(maps, MAXMAPS);
    for (int k = 0; k < r_bases; k++) {
        if (bases[k] == first_base)
            continue;
        const struct tt_map *m = map_at(nm, bases[k]);
        if (!m) r_gone++;
        else if ((size_t)(m->end - m->start) < base_len[k]) r_shrunk++;
        else r_kept++;
    }
}

/* ---- walk: the chunk that covers an address --------------------------- */
struct cover { uintptr_t addr; struct ptalloc_chunk_info ci; int found; };

static int cover_cb(const struct ptalloc_chunk_info *ci, void *arg)
{
    struct cover *c = arg;
    uintptr_t s = (uintptr_t)ci->chunk;
    if (c->addr >= s && c->addr < s + ci->size) {
        c->ci = *ci;
        c->found = 1;
        return 1;
    }
    return 0;
}

static const char *where_name(int w)
{
    static const char *n[] = { "inuse", "tcache", "fastbin", "unsorted", "smallbin",
                               "largebin", "top", "mmapped", "fence" };
    return w >= 0 && w <= 8 ? n[w] : "?";
}

/* main thread: free / realloc the chosen thread's blocks */
static void main_frees(void)
{
    struct ptalloc_chunk_info ci;
    long tcount = 7;
    tt_get_option_fn go = tt_pt_get_option();
    long mxfast = 128;
    if (go) {
        go("tcache_count", &tcount);
        go("mxfast", &mxfast);
    } else if (getenv("GLIBC_TUNABLES")) {
        printf("skip: tcache/fastbin part (GLIBC_TUNABLES may change the tcache)\n");
        tcount = 0;
    }

    /* the main thread itself may have moved to A under contention (ptalloc
     * moves threads between arenas); then its own allocations could take
     * the free neighbour the realloc check relies on */
    int main_a;
    probe_arena(&main_a);
    int main_in_A = main_a == A && A >= 0;
    if (main_in_A)
        printf("skip: in-place realloc check (the main thread runs on arena %d too)\n", A);

    /* tcache size: into main's tcache, still arena A; main gets it back.
     * (A request may get a chunk 16 bytes larger than its own when that
     * is what a bin has; asking for the block's usable size finds its
     * tcache bin either way.) */
    size_t tc_usable = malloc_usable_size(q_tc), fast_usable = malloc_usable_size(q_fast);
    free(q_tc);
    if (tcount == 0) {
        free(q_fast);
    } else if (locate) {
        CHECK(locate(q_tc, &ci) == 1);
        CHECKF(ci.arena == A, "freed tcache-size block: arena %d, expected %d", ci.arena, A);
        CHECKF(ci.where == PTALLOC_TCACHE, "freed tcache-size block is %s", where_name(ci.where));
        CHECK(ci.flags & PTALLOC_NON_MAIN_ARENA);
    }
    void *r = NULL;
    if (tcount > 0) {
        r = malloc(tc_usable);
        CHECKF(r == q_tc, "main's malloc(%zu) did not take the block back from its tcache", tc_usable);
        if (locate && r == q_tc)
            CHECK(locate(r, &ci) == 1 && ci.arena == A && ci.where == PTALLOC_INUSE);
    }

    /* fast size with main's tcache bin full: A's fastbin */
    if (tcount > 0 && tcount <= 64) {
        void *fill[64];
        for (int i = 0; i < tcount; i++) fill[i] = malloc(fast_usable);
        for (int i = 0; i < tcount; i++) free(fill[i]);
        free(q_fast);
        if (locate && (long)fast_usable <= mxfast) {   /* a fast size */
            CHECK(locate(q_fast, &ci) == 1);
            CHECKF(ci.arena == A, "freed fast block: arena %d, expected %d", ci.arena, A);
            CHECKF(ci.where == PTALLOC_FASTBIN, "freed fast block (main's tcache full) is %s",
                   where_name(ci.where));
        }
    } else if (tcount > 64) {
        free(q_fast);
    }

    /* past the tcache: A's bins (merged with a free neighbour maybe) */
    free(q_bin);
    if (walk) {
        struct cover c = { (uintptr_t)q_bin, { 0 }, 0 };
        walk(cover_cb, &c);
        CHECK(c.found);
        if (c.found) {
            CHECKF(c.ci.arena == A, "freed 5000-byte block: arena %d, expected %d", c.ci.arena, A);
            CHECKF(c.ci.where == PTALLOC_UNSORTED || c.ci.where == PTALLOC_SMALLBIN ||
                   c.ci.where == PTALLOC_LARGEBIN || c.ci.where == PTALLOC_TOP,
                   "freed 5000-byte block is %s", where_name(c.ci.where));
        }
    }

    /* realloc into the free neighbour: in place, in A */
    memset(q_re, 0x3c, 4500);
    void *g = realloc(q_re, 5000);
    CHECKF(g == q_re || main_in_A,
           "realloc(4500 -> 5000) with a free 4500-byte neighbour moved the block");
    if (g) {
        unsigned char *c = g;
        CHECK(c[0] == 0x3c && c[4499] == 0x3c);
        if (locate) {
            CHECK(locate(g, &ci) == 1);
            CHECKF(ci.arena == A, "realloc'ed block: arena %d, expected %d", ci.arena, A);
        }
    }
    free(g);
    free(r);
    t_heap_check("arena_mask after main's frees");
}

int main(void)
{
    tt_watchdog("arena_mask", 60);
    locate = tt_pt_locate();
    arena_info = tt_pt_arena_info();
    walk = tt_pt_walk();

    /* phase 1 */
    pthread_t th[NHAMMER];
    int picked = -1;
    for (int attempt = 0; attempt < 5 && picked < 0; attempt++) {
        atomic_store(&stop_hammer, 0);
        atomic_store(&found_nonmain, 0);
        pthread_barrier_init(&hbar, NULL, NHAMMER + 1);
        for (int i = 0; i < NHAMMER; i++)
            CHECK(pthread_create(&th[i], NULL, hammer, (void *)(intptr_t)i) == 0);
        pthread_barrier_wait(&hbar);
        double end = tt_now() + 2.0;
        while (!atomic_load(&found_nonmain) && tt_now() < end)
            usleep(1000);
        usleep(20000);
        atomic_store(&stop_hammer, 1);
        pthread_barrier_wait(&hbar);
        for (int i = 0; i < NHAMMER; i++)
            if (my_nonmain[i] && (my_arena[i] > 0 || my_arena[i] == -2)) {
                picked = i;
                break;
            }
        atomic_store(&chosen, picked);
        pthread_barrier_wait(&hbar);
        for (int i = 0; i < NHAMMER; i++)
            if (i != picked)
                pthread_join(th[i], NULL);
        pthread_barrier_destroy(&hbar);
    }
    if (picked < 0) {
        CHECKF(0, "no thread got a non-main arena after 5 rounds of contention");
        return t_done();
    }

    wait_step(1);
    CHECKF(r_p_nonmain, "NON_MAIN_ARENA bit clear in a non-main thread's chunk");
    CHECKF(r_p_mapped, "%#lx (chunk address masked to 64 MiB) is not the start of a mapping",
           (unsigned long)first_base);
    main_frees();
    set_step(2);
    pthread_join(th[picked], NULL);
    free_big_and_measure();

    /* phase 4 results */
    CHECKF(r_bases >= 2, "%d MiB of blocks in %d sub-heap(s)", (int)(BIGTOTAL / TT_MIB), r_bases);
    CHECKF(r_bases_mapped == r_bases, "only %d of %d 64 MiB-aligned bases start a mapping",
           r_bases_mapped, r_bases);
    CHECKF(r_straddle == 0, "%d blocks straddle a 64 MiB boundary", r_straddle);
    CHECKF(r_bad_locate == 0, "%d blocks without NON_MAIN_ARENA or not in arena %d (of %d sampled)",
           r_bad_locate, A, r_sampled);
    CHECKF(r_kept == 0, "%d extra sub-heap(s) still fully mapped after freeing everything (%d gone, %d shrunk)",
           r_kept, r_gone, r_shrunk);
    if (arena_info) {
        CHECKF(r_seg_peak >= 2, "arena %d has %d segment(s) holding %d MiB", A, r_seg_peak,
               (int)(BIGTOTAL / TT_MIB));
        CHECKF(r_seg_after >= 1 && r_seg_after <= r_seg_before,
               "segments %d before, %d at peak, %d after freeing", r_seg_before, r_seg_peak, r_seg_after);
    } else {
        printf("skip: ptalloc_locate/arena_info/walk checks (not on ptalloc)\n");
    }
    printf("arena_mask: thread arena %d; %d blocks in %d sub-heaps (segments %d -> %d -> %d); "
           "after free: %d unmapped, %d shrunk\n", A, nblk, r_bases, r_seg_before, r_seg_peak,
           r_seg_after, r_gone, r_shrunk);
    t_heap_check("arena_mask end");
    return t_done();
}
