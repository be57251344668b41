/*
 * remote_free: blocks allocated by one thread and freed by another.
 *
 * NT threads each produce blocks, fill them with a pattern derived from
 * (address, size, owner) and post most of them to another thread's mailbox.
 * The receiver verifies the pattern, sometimes reallocs the block (checking
 * the preserved prefix, then refilling), sometimes forwards it once more, and
 * frees it.  Sizes span tcache, fastbin, small, large (up to 64 KiB) and
 * mmapped (128..512 KiB) chunks; some blocks come from calloc and
 * posix_memalign.  A small share stays with its owner (local free).
 * After the join, the heap must be consistent.
 */
#include "tt.h"

#include <sched.h>
#include <stdatomic.h>

#define NT     4
#define QCAP   256
#define LOCAL  64
#define MAXHOP 2

struct msg {
    void    *p;
    size_t   size;
    uint64_t key;
    int      hops;
};

struct mbox {
    pthread_mutex_t m;
    unsigned head, tail;            /* head: next to take; tail: next free */
    struct msg q[QCAP];
} __attribute__((aligned(64)));

static struct mbox box[NT];
static atomic_long inflight;        /* messages posted and not yet consumed */
static atomic_int producers_left = NT;
static atomic_long n_bad;           /* pattern/alignment failures */
static long per_thread_blocks;

struct stats {
    long made, remote, local, reallocs, forwards, mmapped;
} __attribute__((aligned(64)));
static struct stats st[NT];

static void report_bad(const char *what, const void *p, size_t size, size_t off)
{
    if (atomic_fetch_add(&n_bad, 1) < 10)
        fprintf(stderr, "remote_free: %s: block %p size %zu: mismatch at offset %zu\n",
                what, p, size, off);
}

static size_t pick_size(unsigned long long *rs)
{
    unsigned r = (unsigned)(t_rand(rs) % 10000);
    unsigned long long v = t_rand(rs);
    if (r < 4500) return 1 + v % 1032;                   /* tcache range    */
    if (r < 6000) return 1 + v % 120;                    /* fastbin range   */
    if (r < 8500) return 1033 + v % (8192 - 1033);       /* small / large   */
    if (r < 9970) return 8192 + v % (65536 - 8192);      /* large, <= 64K   */
    return 131072 + v % (393216);                        /* mmapped         */
}

static int try_post(int to, const struct msg *m)
{
    struct mbox *b = &box[to];
    atomic_fetch_add(&inflight, 1);
    pthread_mutex_lock(&b->m);
    if (b->tail - b->head == QCAP) {
        pthread_mutex_unlock(&b->m);
        atomic_fetch_sub(&inflight, 1);
        return 0;
    }
    b->q[b->tail % QCAP] = *m;
    b->tail++;
    pthread_mutex_unlock(&b->m);
    return 1;
}

static int take(int me, struct msg *m)
{
    struct mbox *b = &box[me];
    int got = 0;
    pthread_mutex_lock(&b->m);
    if (b->head != b->tail) {
        *m = b->q[b->head % QCAP];
        b->head++;
        got = 1;
    }
    pthread_mutex_unlock(&b->m);
    return got;
}

static int other(int me, unsigned long long *rs)
{
    int t = (int)(t_rand(rs) % (NT - 1));
    return t >= me ? t + 1 : t;
}

/* Consumes one received block: verify, maybe realloc, maybe forward, free. */
static void consume(int me, struct msg *m, unsigned long long *rs)
{
    size_t off = tt_verify(m->p, m->size, m->key);
    if (off != (size_t)-1)
        report_bad("received block", m->p, m->size, off);
    if (malloc_usable_size(m->p) < m->size)
        report_bad("usable size too small", m->p, m->size, 0);

    unsigned r = (unsigned)(t_rand(rs) % 100);
    if (r < 20) {
        size_t ns = pick_size(rs);
        void *q = realloc(m->p, ns);
        if (!q) {
            report_bad("realloc returned NULL", m->p, ns, 0);
        } else {
            size_t keep = ns < m->size ? ns : m->size;
            off = tt_verify(q, keep, m->key);
            if (off != (size_t)-1)
                report_bad("realloc lost content", q, ns, off);
            m->p = q;
            m->size = ns;
            m->key = tt_key(q, ns, (unsigned)me);
            tt_fill(q, ns, m->key);
            st[me].reallocs++;
        }
    }
    if (m->hops < MAXHOP && r >= 70) {
        struct msg f = *m;
        f.hops++;
        if (try_post(other(me, rs), &f)) {
            st[me].forwards++;
            atomic_fetch_sub(&inflight, 1);
            return;
        }
    }
    free(m->p);
    atomic_fetch_sub(&inflight, 1);
}

static void drain(int me, int max, unsigned long long *rs)
{
    struct msg m;
    for (int i = 0; i < max && take(me, &m); i++)
        consume(me, &m, rs);
}

static void *worker(void *arg)
{
    int me = (int)(intptr_t)arg;
    unsigned long long rs = 0x1234567ULL * (me + 1) + 99;
    struct msg local[LOCAL];
    memset(local, 0, sizeof local);

    for (long i = 0; i < per_thread_blocks; i++) {
        struct msg m = { 0 };
        size_t size = pick_size(&rs);
        unsigned how = (unsigned)(t_rand(&rs) % 100);
        void *p;
        if (how < 8) {
            p = calloc(1, size);
            if (p && !tt_is_zero(p, size))
                report_bad("calloc not zeroed", p, size, 0);
        } else if (how < 12) {
            size_t al = (size_t)32 << (t_rand(&rs) % 8);   /* 32 .. 4096 */
            if (posix_memalign(&p, al, size) != 0)
                p = NULL;
            if (p && ((uintptr_t)p & (al - 1)))
                report_bad("posix_memalign misaligned", p, size, al);
        } else {
            p = malloc(size);
        }
        if (!p) {
            report_bad("allocation failed", NULL, size, 0);
            continue;
        }
        if (size >= 131072) st[me].mmapped++;
        st[me].made++;
        m.p = p;
        m.size = size;
        m.key = tt_key(p, size, (unsigned)me);
        tt_fill(p, size, m.key);

        if (t_rand(&rs) % 100 < 88) {
            /* remote: post it, draining our own mailbox while the target's
             * is full so that no cycle of full mailboxes can block. */
            int to = other(me, &rs);
            while (!try_post(to, &m)) {
                drain(me, QCAP, &rs);
                sched_yield();
            }
            st[me].remote++;
        } else {
            /* local: park it; the block it replaces is verified and freed. */
            struct msg *slot = &local[t_rand(&rs) % LOCAL];
            if (slot->p) {
                atomic_fetch_add(&inflight, 1);   /* consume() decrements */
                consume(me, slot, &rs);
            }
            *slot = m;
            st[me].local++;
        }
        if ((i & 3) == 0)
            drain(me, 8, &rs);
    }
    for (int i = 0; i < LOCAL; i++)
        if (local[i].p) {
            atomic_fetch_add(&inflight, 1);
            consume(me, &local[i], &rs);
        }
    atomic_fetch_sub(&producers_left, 1);

    /* Keep serving the mailbox until every producer is done and nothing is
     * in flight anywhere. */
    for (;;) {
        drain(me, QCAP, &rs);
        if (atomic_load(&producers_left) == 0 && atomic_load(&inflight) == 0)
            break;
        sched_yield();
    }
    return NULL;
}

int main(void)
{
    tt_watchdog("remote_free", 120);
    /* A fixed mmap threshold keeps the big blocks mmapped (the dynamic
     * threshold would otherwise move them into the heap after the first
     * free). */
    CHECK(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1);
    per_thread_blocks = tt_scaled(250000, 2000);

    for (int i = 0; i < NT; i++)
        pthread_mutex_init(&box[i].m, NULL);

    double t0 = tt_now();
    pthread_t th[NT];
    for (int i = 0; i < NT; i++)
        CHECK(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < NT; i++)
        pthread_join(th[i], NULL);
    double dt = tt_now() - t0;

    struct stats tot = { 0 };
    for (int i = 0; i < NT; i++) {
        tot.made += st[i].made; tot.remote += st[i].remote; tot.local += st[i].local;
        tot.reallocs += st[i].reallocs; tot.forwards += st[i].forwards;
        tot.mmapped += st[i].mmapped;
        CHECK(box[i].head == box[i].tail);
    }
    CHECK(atomic_load(&inflight) == 0);
    CHECKF(atomic_load(&n_bad) == 0, "%ld bad blocks", (long)atomic_load(&n_bad));
    CHECK(tot.made == NT * per_thread_blocks);
    CHECK(tot.remote > tot.local);
    CHECK(tot.mmapped > 0);
    printf("remote_free: %ld blocks (%ld remote, %ld local, %ld realloc, %ld forwarded, "
           "%ld mmapped) in %.2fs\n", tot.made, tot.remote, tot.local, tot.reallocs,
           tot.forwards, tot.mmapped, dt);

    t_heap_check("remote_free end");
    return t_done();
}
