/*
 * ptalloc report FILE [--top N] [--no-symbols] [--sort bytes|blocks]
 *
 * One trace log summed up in text: what heaptrack's users ask (where the
 * memory went at the peak, what leaked, what was short-lived) and what
 * only the allocator knows (where each chunk came from and went, what it
 * asked of the system, how much free memory sat inside the heap).
 *
 * Two passes over the log.  The first counts everything and finds the
 * events of the two peaks; the second replays the log only up to the later
 * peak to see the heap there (the sites holding memory, the largest free
 * chunk), which would cost a copy of every site's figures at every new
 * peak in one pass.  Both keep a map of the blocks a logged call allocated
 * (address -> call site, bytes asked, time), beside the rebuilt heap of
 * cmd/rebuild.c, whose byte totals are chunk sizes.
 *
 * Bytes of call sites are the bytes the program asked for, as valgrind
 * and heaptrack count them (calloc's count times size); "chunk" columns
 * add the allocator's headers and rounding.  A successful realloc frees
 * its old block and allocates a new one at its own call site, as valgrind
 * and heaptrack see it, even when the chunk stays where it is.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cmds.h"
#include "log.h"
#include "symbols.h"

#define SUB "report"

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p && n)
        cmd_die(SUB, NULL, "out of memory");
    return p;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p)
        cmd_die(SUB, NULL, "out of memory");
    return p;
}

static uint64_t mix(uint64_t x)     /* MurmurHash3's finalizer */
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* ---- call sites ------------------------------------------------------------------- */

/* A site is the list of frames of a call record; logs repeat them per
 * segment, so they are interned here to one number per distinct list. */
struct site {
    size_t frame0;
    uint32_t nframes;
    uint64_t hash;
    uint64_t calls, bytes;                  /* blocks allocated here, bytes asked */
    uint64_t live_blocks, live_bytes, live_chunk;   /* still allocated */
    uint64_t temp, temp_bytes;              /* temporary allocations */
    uint64_t peak_blocks, peak_bytes, peak_chunk;   /* allocated at the in-use peak */
    char *text;                             /* the frames as printed, '\n' between */
};

struct sites {
    struct site *v;
    size_t n, cap;
    uint64_t *frames;
    size_t nframes, capframes;
    uint32_t *slot;                         /* open addressing: index + 1, 0 empty */
    size_t nslot;
};

static uint64_t frames_hash(const uint64_t *f, int n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL + (uint64_t)n;
    for (int i = 0; i < n; i++)
        h = mix(h ^ f[i]) + 0x632be59bd9b4e019ULL;
    return h;
}

static void sites_rehash(struct sites *s)
{
    s->nslot = s->nslot ? s->nslot * 2 : 1024;
    free(s->slot);
    s->slot = xcalloc(s->nslot, sizeof *s->slot);
    for (size_t i = 0; i < s->n; i++) {
        size_t k = s->v[i].hash & (s->nslot - 1);
        while (s->slot[k])
            k = (k + 1) & (s->nslot - 1);
        s->slot[k] = (uint32_t)i + 1;
    }
}

static uint32_t site_intern(struct sites *s, const uint64_t *f, int n)
{
    uint64_t h = frames_hash(f, n);
    if (s->nslot) {
        for (size_t k = h & (s->nslot - 1); s->slot[k]; k = (k + 1) & (s->nslot - 1)) {
            const struct site *x = &s->v[s->slot[k] - 1];
            if (x->hash == h && x->nframes == (uint32_t)n &&
                (n == 0 || memcmp(&s->frames[x->frame0], f, (size_t)n * sizeof *f) == 0))
                return s->slot[k] - 1;
        }
    }
    if (s->n == s->cap) {
        s->cap = s->cap * 2 + 256;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    if (s->nframes + (size_t)n > s->capframes) {
        s->capframes = (s->capframes + (size_t)n) * 2 + 1024;
        s->frames = xrealloc(s->frames, s->capframes * sizeof *s->frames);
    }
    struct site *x = &s->v[s->n];
    memset(x, 0, sizeof *x);
    x->frame0 = s->nframes;
    x->nframes = (uint32_t)n;
    x->hash = h;
    if (n)
        memcpy(&s->frames[s->nframes], f, (size_t)n * sizeof *f);
    s->nframes += (size_t)n;
    s->n++;
    if (s->n * 2 > s->nslot)
        sites_rehash(s);
    else {
        size_t k = h & (s->nslot - 1);
        while (s->slot[k])
            k = (k + 1) & (s->nslot - 1);
        s->slot[k] = (uint32_t)s->n;
    }
    return (uint32_t)s->n - 1;
}

/* ---- the blocks allocated, by address ------------------------------------------------ */

struct block {
    uint64_t addr;                          /* chunk address; 0 = empty slot */
    uint64_t request, size, ns;
    uint32_t site;
};

struct live {
    struct block *v;
    size_t cap, n;                          /* cap a power of two */
};

static size_t live_home(const struct live *m, uint64_t addr) { return mix(addr >> 4) & (m->cap - 1); }

static struct block *live_find(const struct live *m, uint64_t addr)
{
    if (!m->cap)
        return NULL;
    for (size_t k = live_home(m, addr); m->v[k].addr; k = (k + 1) & (m->cap - 1))
        if (m->v[k].addr == addr)
            return &m->v[k];
    return NULL;
}

/* The slot of addr, a new one (addr 0, counted) when it has none. */
static struct block *live_slot(struct live *m, uint64_t addr)
{
    if ((m->n + 1) * 2 > m->cap) {
        struct live bigger = { xcalloc(m->cap ? m->cap * 2 : 4096, sizeof *m->v), m->cap ? m->cap * 2 : 4096, 0 };
        for (size_t i = 0; i < m->cap; i++)
            if (m->v[i].addr)
                *live_slot(&bigger, m->v[i].addr) = m->v[i];
        free(m->v);
        *m = bigger;
    }
    size_t k = live_home(m, addr);
    while (m->v[k].addr && m->v[k].addr != addr)
        k = (k + 1) & (m->cap - 1);
    if (!m->v[k].addr)
        m->n++;
    return &m->v[k];
}

/* Linear probing's deletion: later entries of the run move back into the
 * hole when their home slot allows it, so lookups need no tombstones. */
static void live_remove(struct live *m, struct block *b)
{
    size_t hole = (size_t)(b - m->v), k = hole;
    m->v[hole].addr = 0;
    m->n--;
    for (;;) {
        k = (k + 1) & (m->cap - 1);
        if (!m->v[k].addr)
            return;
        size_t home = live_home(m, m->v[k].addr);
        if (((k - home) & (m->cap - 1)) >= ((k - hole) & (m->cap - 1))) {
            m->v[hole] = m->v[k];
            m->v[k].addr = 0;
            hole = k;
        }
    }
}

/* ---- what is counted ----------------------------------------------------------------- */

/* Lifetimes, allocation to free, by decade: "< 1 us" ... "< 1 s", ">= 1 s". */
#define NLIFE 8
static const uint64_t life_limit[NLIFE - 1] = { 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000 };
static const char *const life_name[NLIFE] = { "< 1 us", "< 10 us", "< 100 us", "< 1 ms", "< 10 ms", "< 100 ms",
                                              "< 1 s", ">= 1 s" };

/* Free bytes over time in buckets of a width that doubles whenever the
 * log outlasts them all, so that one pass needs no duration up front. */
#define NBUCKET 64
struct bucket {
    int used;
    uint64_t heap, in_use, free_nt, top;    /* at the bucket's last sample */
    uint64_t max_free_nt;
};

/* The heap at one event, seen by the second pass. */
struct at_event {
    uint64_t heap, in_use, free_nt, top, largest, nfree;
    uint64_t unlogged;                      /* in-use chunk bytes no logged call allocated */
};

struct report {
    const char *file;
    int symbols, top, by_blocks;
    struct sites sites;
    struct sym_maps mods;                   /* from the modules records */
    struct symbolizer *sym;
    /* summary */
    uint64_t events, calls, per_type[TLOG_WALK + 1];
    uint64_t last_ns;
    uint64_t thread_starts, thread_exits, forks, marks, walks, snapshots;
    /* decisions */
    uint64_t alloc_src[TLOG_D_COUNT], alloc_total;
    uint64_t free_dst[TLOG_D_COUNT], free_total, merged_prev, merged_next, free_null;
    uint64_t re_in_place, re_moved, re_mremap, re_null, re_zero;
    uint64_t failed[TLOG_WALK + 1], failed_total;
    uint64_t trims, trimmed;
    uint64_t sys_count[TLOG_SYS_COUNT], sys_bytes[TLOG_SYS_COUNT];
    uint64_t consolidate, to_small, to_small_bytes, to_large, to_large_bytes;
    struct { uint64_t addr, size; } heaps[256];     /* sub-heaps' sizes, for grow/shrink bytes */
    int nheaps;
    /* peaks and fragmentation, sampled after every call */
    uint64_t samples;
    uint64_t peak_heap, peak_heap_ev, peak_heap_ns, peak_in_use, peak_in_use_ev, peak_in_use_ns;
    uint64_t max_free, max_free_ev, max_free_ns;
    double free_area;                       /* sum of free bytes x ns, for the average */
    uint64_t prev_free, prev_ns;
    uint64_t bucket_ns, first_ns;          /* buckets start at the first sample */
    struct bucket bk[NBUCKET];
    struct at_event at_heap_peak, at_in_use_peak, at_end;
    /* lifetimes */
    uint64_t blocks, life[NLIFE], freed_unlogged, temp, temp_bytes;
};

/* State that both passes rebuild from the log. */
struct pass {
    struct rebuild *rb;
    struct live live;
    uint64_t *last_alloc;                   /* per thread: its latest allocation, for temporaries */
    int nthreads;
};

static void pass_init(struct pass *p)
{
    memset(p, 0, sizeof *p);
    p->rb = rebuild_new();
    if (!p->rb)
        cmd_die(SUB, NULL, "out of memory");
}

static void pass_free(struct pass *p)
{
    rebuild_free(p->rb);
    free(p->live.v);
    free(p->last_alloc);
}

static uint64_t *last_alloc(struct pass *p, int thread)
{
    if (thread >= p->nthreads) {
        int n = thread + 16;
        p->last_alloc = xrealloc(p->last_alloc, (size_t)n * sizeof *p->last_alloc);
        memset(p->last_alloc + p->nthreads, 0, (size_t)(n - p->nthreads) * sizeof *p->last_alloc);
        p->nthreads = n;
    }
    return &p->last_alloc[thread];
}

/* A block allocated by a call.  `stats` is 0 in the second pass, which
 * only rebuilds the map. */
static void acquire(struct report *r, struct pass *p, const struct tlog_event *ev, int stats)
{
    struct block b = { ev->addr, ev->request, ev->size, ev->ns, site_intern(&r->sites, ev->site, ev->nsite) };
    struct block *slot = live_slot(&p->live, ev->addr);
    if (slot->addr && stats) {  /* a contradiction (show --check counts it): the old block is gone */
        struct site *o = &r->sites.v[slot->site];
        o->live_blocks--, o->live_bytes -= slot->request, o->live_chunk -= slot->size;
    }
    *slot = b;
    *last_alloc(p, ev->thread) = ev->addr;
    if (!stats)
        return;
    struct site *s = &r->sites.v[b.site];
    s->calls++, s->bytes += b.request;
    s->live_blocks++, s->live_bytes += b.request, s->live_chunk += b.size;
    r->blocks++;
}

/* A block freed, by free or by realloc.  Temporary, as heaptrack counts
 * it: freed before its thread allocated anything else. */
static void release(struct report *r, struct pass *p, const struct tlog_event *ev, uint64_t addr, int stats)
{
    uint64_t *last = last_alloc(p, ev->thread);
    int temp = *last == addr;
    *last = 0;
    struct block *b = live_find(&p->live, addr);
    if (!b) {
        r->freed_unlogged += stats;
        return;
    }
    if (stats) {
        struct site *s = &r->sites.v[b->site];
        s->live_blocks--, s->live_bytes -= b->request, s->live_chunk -= b->size;
        uint64_t life = ev->ns > b->ns ? ev->ns - b->ns : 0;
        int k = 0;
        while (k < NLIFE - 1 && life >= life_limit[k])
            k++;
        r->life[k]++;
        if (temp) {
            s->temp++, s->temp_bytes += b->request;
            r->temp++, r->temp_bytes += b->request;
        }
    }
    live_remove(&p->live, b);
}

static int is_free_call(int t) { return t == TLOG_FREE || t == TLOG_FREE_SIZED || t == TLOG_FREE_ALIGNED_SIZED; }
static int is_realloc_call(int t) { return t == TLOG_REALLOC || t == TLOG_REALLOCARRAY; }

/* The blocks a call allocated and freed. */
static void track_call(struct report *r, struct pass *p, const struct tlog_event *ev, int stats)
{
    int t = ev->type;
    if (t == TLOG_MALLOC_TRIM || ev->decision == TLOG_D_FAILED)
        return;
    if (is_free_call(t)) {
        if (ev->has_chunk)
            release(r, p, ev, ev->addr, stats);
        return;
    }
    if (is_realloc_call(t) && ev->old_size)
        release(r, p, ev, ev->old_addr, stats);
    if (ev->has_chunk)
        acquire(r, p, ev, stats);
}

/* The decision tables of the first pass. */
static void count_call(struct report *r, const struct tlog_event *ev)
{
    int t = ev->type, d = ev->decision;
    r->calls++;
    r->per_type[t]++;
    r->merged_prev += (uint64_t)ev->merged_prev;
    r->merged_next += (uint64_t)ev->merged_next;
    if (d == TLOG_D_FAILED) {
        r->failed[t]++, r->failed_total++;
        return;
    }
    if (t == TLOG_MALLOC_TRIM) {
        r->trims++;
        r->trimmed += d == TLOG_D_TRIM;
    } else if (is_free_call(t)) {
        if (d == TLOG_D_NULL)
            r->free_null++;
        else
            r->free_dst[d]++, r->free_total++;
    } else if (is_realloc_call(t)) {
        if (!ev->old_size) {            /* realloc(NULL, n) is a malloc */
            r->re_null++;
            r->alloc_src[d]++, r->alloc_total++;
        } else if (!ev->has_chunk) {    /* realloc(p, 0) is a free */
            r->re_zero++;
            r->free_dst[d]++, r->free_total++;
        } else if (d == TLOG_D_MOVED) {
            r->re_moved++;
            if (ev->source >= 0 && ev->source < TLOG_D_COUNT)
                r->alloc_src[ev->source]++, r->alloc_total++;
        } else if (d == TLOG_D_MREMAP) {
            r->re_mremap++;
        } else {
            r->re_in_place++;
        }
    } else {
        r->alloc_src[d]++, r->alloc_total++;
    }
}

/* The sub-heap at addr in r->heaps, added with size 0 if new; -1 when
 * the table is full (its bytes are then the record's size). */
static int heap_index(struct report *r, uint64_t addr)
{
    for (int i = 0; i < r->nheaps; i++)
        if (r->heaps[i].addr == addr)
            return i;
    if (r->nheaps == (int)(sizeof r->heaps / sizeof r->heaps[0]))
        return -1;
    r->heaps[r->nheaps].addr = addr;
    r->heaps[r->nheaps].size = 0;
    return r->nheaps++;
}

/* Bytes a sys record moved: the range for most kinds; for a sub-heap
 * grown or shrunk, the change of its size (its record gives the new size). */
static void count_sys(struct report *r, const struct tlog_event *ev)
{
    int k = ev->sys_kind;
    if (k <= 0 || k >= TLOG_SYS_COUNT)
        return;
    uint64_t bytes = ev->size;
    if (k == TLOG_SYS_HEAP_NEW || k == TLOG_SYS_HEAP_GROW || k == TLOG_SYS_HEAP_SHRINK || k == TLOG_SYS_HEAP_UNMAP) {
        int i = heap_index(r, ev->addr);
        if (i >= 0 && (k == TLOG_SYS_HEAP_GROW || k == TLOG_SYS_HEAP_SHRINK)) {
            uint64_t old = r->heaps[i].size;
            bytes = ev->size > old ? ev->size - old : old - ev->size;
        }
        if (i >= 0 && k == TLOG_SYS_HEAP_UNMAP)     /* its address may serve a new one */
            r->heaps[i] = r->heaps[--r->nheaps];
        else if (i >= 0)
            r->heaps[i].size = ev->size;
    } else if (k == TLOG_SYS_MREMAP) {
        bytes = ev->new_size > ev->size ? ev->new_size - ev->size : ev->size - ev->new_size;
    }
    r->sys_count[k]++;
    r->sys_bytes[k] += bytes;
}

/* Module lists come at start and at exit; a library loaded and unloaded
 * between is only in the first, one loaded later only in the second. */
static void add_modules(struct report *r, const struct tlog_event *ev)
{
    for (int i = 0; i < ev->nmodules; i++) {
        const struct tlog_module *m = &ev->modules[i];
        if (sym_maps_add(&r->mods, m->start, m->start + m->size, m->offset, m->path) < 0)
            cmd_die(SUB, NULL, "out of memory");
    }
}

static void bucket_add(struct report *r, uint64_t ns, const struct rb_totals *t, uint64_t top)
{
    while (ns / r->bucket_ns >= NBUCKET) {
        for (int i = 0; i < NBUCKET / 2; i++) {
            struct bucket a = r->bk[2 * i], b = r->bk[2 * i + 1];
            struct bucket m = b.used ? b : a;
            m.max_free_nt = a.max_free_nt > b.max_free_nt ? a.max_free_nt : b.max_free_nt;
            r->bk[i] = m;
        }
        memset(&r->bk[NBUCKET / 2], 0, NBUCKET / 2 * sizeof r->bk[0]);
        r->bucket_ns *= 2;
    }
    struct bucket *b = &r->bk[ns / r->bucket_ns];
    b->used = 1;
    b->heap = t->heap, b->in_use = t->in_use, b->free_nt = t->free - top, b->top = top;
    if (b->free_nt > b->max_free_nt)
        b->max_free_nt = b->free_nt;
}

/* After a call, the heap is between calls: totals are sampled there. */
static void sample(struct report *r, const struct pass *p, uint64_t event, uint64_t ns)
{
    const struct rb_totals *t = rebuild_totals(p->rb);
    uint64_t top = rebuild_top(p->rb), free_nt = t->free - top;
    if (t->heap > r->peak_heap)
        r->peak_heap = t->heap, r->peak_heap_ev = event, r->peak_heap_ns = ns;
    if (t->in_use > r->peak_in_use)
        r->peak_in_use = t->in_use, r->peak_in_use_ev = event, r->peak_in_use_ns = ns;
    if (free_nt > r->max_free)
        r->max_free = free_nt, r->max_free_ev = event, r->max_free_ns = ns;
    if (r->samples)
        r->free_area += (double)r->prev_free * (double)(ns > r->prev_ns ? ns - r->prev_ns : 0);
    else
        r->first_ns = ns;
    r->prev_free = free_nt, r->prev_ns = ns;
    r->samples++;
    bucket_add(r, ns - r->first_ns, t, top);
}

static void count_step(struct report *r, const struct tlog_event *ev, int in_snapshot)
{
    switch (ev->type) {
    case TLOG_SET:
        /* Outside snapshots, a chunk enters a small or large bin only when
         * malloc sorts the unsorted bin. */
        if (!in_snapshot && ev->state == TLOG_S_SMALLBIN)
            r->to_small++, r->to_small_bytes += ev->size;
        else if (!in_snapshot && ev->state == TLOG_S_LARGEBIN)
            r->to_large++, r->to_large_bytes += ev->size;
        break;
    case TLOG_SYS:                      /* a snapshot's are the regions as they were, no calls */
        if (!in_snapshot)
            count_sys(r, ev);
        break;
    case TLOG_CONSOLIDATE: r->consolidate++; break;
    case TLOG_THREAD_START: r->thread_starts++; break;
    case TLOG_THREAD_EXIT: r->thread_exits++; break;
    case TLOG_FORK: r->forks++; break;
    case TLOG_MARK: r->marks++; break;
    case TLOG_WALK: r->walks++; break;
    case TLOG_SNAPSHOT: r->snapshots++; break;
    case TLOG_MODULES: add_modules(r, ev); break;
    }
}

static struct tlog *open_log(const struct report *r)
{
    char err[512];
    struct tlog *log = tlog_open(r->file, err, sizeof err);
    if (!log)
        cmd_die(SUB, r->file, "%s", err);
    return log;
}

/* Returns the log, read to its end, for its header and threads. */
static struct tlog *first_pass(struct report *r)
{
    struct tlog *log = open_log(r);
    struct pass p;
    pass_init(&p);
    struct tlog_event ev;
    int k, in_snapshot = 0, sampled = 0;
    uint64_t ns = 0;
    while ((k = tlog_next(log, &ev)) > 0) {
        rebuild_apply(p.rb, &ev);
        ns = tlog_rel_ns(log, ev.ns);
        r->events++;
        sampled = 0;
        if (tlog_is_call(ev.type)) {
            count_call(r, &ev);
            track_call(r, &p, &ev, 1);
            sample(r, &p, ev.number, ns);
            sampled = 1;
        } else {
            if (ev.type == TLOG_SNAPSHOT)
                in_snapshot = 1;
            else if (ev.type == TLOG_SNAPSHOT_END)
                in_snapshot = 0;
            count_step(r, &ev, in_snapshot);
        }
    }
    if (k < 0)
        cmd_die(SUB, r->file, "%s", tlog_error(log));
    if (r->events && !sampled)          /* steps after the last call: a trim at exit */
        sample(r, &p, r->events - 1, ns);
    r->last_ns = ns;
    if (r->events) {
        const struct rb_totals *t = rebuild_totals(p.rb);
        uint64_t logged = 0;
        for (size_t i = 0; i < r->sites.n; i++)
            logged += r->sites.v[i].live_chunk;
        r->at_end.heap = t->heap, r->at_end.in_use = t->in_use;
        r->at_end.unlogged = t->in_use > logged ? t->in_use - logged : 0;
    }
    pass_free(&p);
    return log;
}

/* ---- the second pass: the heap at the peaks ------------------------------------------ */

static int free_state(int s) { return s != TLOG_S_INUSE && s != TLOG_S_MMAPPED && s != TLOG_S_FENCE && s != TLOG_S_TOP; }

static int largest_free(const struct rb_chunk *c, void *arg)
{
    struct at_event *a = arg;
    if (free_state(c->state)) {
        a->nfree++;
        if (c->size > a->largest)
            a->largest = c->size;
    }
    return 0;
}

static void look(struct report *r, struct pass *p, struct at_event *a, int sites)
{
    const struct rb_totals *t = rebuild_totals(p->rb);
    memset(a, 0, sizeof *a);
    a->heap = t->heap, a->in_use = t->in_use, a->top = rebuild_top(p->rb), a->free_nt = t->free - a->top;
    rebuild_foreach(p->rb, largest_free, a);
    if (!sites)
        return;
    uint64_t logged = 0;
    for (size_t i = 0; i < p->live.cap; i++) {
        const struct block *b = &p->live.v[i];
        if (!b->addr)
            continue;
        struct site *s = &r->sites.v[b->site];
        s->peak_blocks++, s->peak_bytes += b->request, s->peak_chunk += b->size;
        logged += b->size;
    }
    a->unlogged = t->in_use > logged ? t->in_use - logged : 0;
}

static void second_pass(struct report *r)
{
    if (!r->samples)
        return;
    struct tlog *log = open_log(r);
    struct pass p;
    pass_init(&p);
    struct tlog_event ev;
    uint64_t stop = r->peak_heap_ev > r->peak_in_use_ev ? r->peak_heap_ev : r->peak_in_use_ev;
    int k;
    while ((k = tlog_next(log, &ev)) > 0) {
        rebuild_apply(p.rb, &ev);
        if (tlog_is_call(ev.type))
            track_call(r, &p, &ev, 0);
        if (ev.number == r->peak_heap_ev)
            look(r, &p, &r->at_heap_peak, 0);
        if (ev.number == r->peak_in_use_ev)
            look(r, &p, &r->at_in_use_peak, 1);
        if (ev.number >= stop)
            break;
    }
    if (k < 0)
        cmd_die(SUB, r->file, "%s", tlog_error(log));
    pass_free(&p);
    tlog_close(log);
}

/* ---- printing helpers ----------------------------------------------------------------- */

/* "12.3 MiB": the exact number goes beside it where it matters. */
static const char *human(uint64_t bytes, char *buf, size_t len)
{
    static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4)
        v /= 1024, u++;
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, len, "%.1f %s", v, unit[u]);
    return buf;
}

static const char *duration(uint64_t ns, char *buf, size_t len)
{
    if (ns < 1000000)
        snprintf(buf, len, "%.1f us", (double)ns / 1e3);
    else if (ns < 10000000000ULL)
        snprintf(buf, len, "%.3f ms", (double)ns / 1e6);
    else
        snprintf(buf, len, "%.3f s", (double)ns / 1e9);
    return buf;
}

/* Percentages of n parts in tenths, rounded so that they add up to
 * exactly 100.0 (largest remainders first). */
static void tenths(const uint64_t *part, int n, uint64_t total, int *out)
{
    int sum = 0;
    double rest[64];
    for (int i = 0; i < n; i++) {
        double x = total ? (double)part[i] * 1000.0 / (double)total : 0;
        out[i] = (int)x;
        rest[i] = x - out[i];
        sum += out[i];
    }
    while (total && sum < 1000) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (part[i] && (best < 0 || rest[i] > rest[best]))
                best = i;
        if (best < 0)
            break;
        out[best]++, rest[best] = -1, sum++;
    }
}

static void heading(const char *title) { printf("\n== %s\n", title); }

/* A counted table: name, count, share of the total; rows of count 0 left
 * out, unless all are. */
static void share_table(const char *title, const char *const *names, const uint64_t *count, int n, uint64_t total)
{
    int pct[64];
    tenths(count, n, total, pct);
    printf("  %-30s %12s %7s\n", title, "count", "%");
    for (int i = 0; i < n; i++)
        if (count[i])
            printf("    %-28s %12llu %5d.%d\n", names[i], (unsigned long long)count[i], pct[i] / 10, pct[i] % 10);
    printf("    %-28s %12llu %7s\n", "all", (unsigned long long)total, total ? "100.0" : "-");
}

/* The frames of a site as printed: "func (file.c:12)", each caller on a
 * line of its own after the first. */
static const char *site_text(struct report *r, uint32_t id)
{
    struct site *s = &r->sites.v[id];
    if (s->text)
        return s->text;
    size_t len = 0;
    char *t = NULL;
    if (!s->nframes)
        t = strdup("(no frame recorded)");
    for (uint32_t k = 0; k < s->nframes; k++) {
        uint64_t f = r->sites.frames[s->frame0 + k];
        char one[1024];
        if (r->sym)
            sym_format(r->sym, f, one, sizeof one);
        else
            snprintf(one, sizeof one, "%#llx", (unsigned long long)f);
        size_t n = strlen(one);
        t = xrealloc(t, len + n + 2);
        if (k)
            t[len++] = '\n';
        memcpy(t + len, one, n + 1);
        len += n;
    }
    if (!t)
        cmd_die(SUB, NULL, "out of memory");
    s->text = t;
    return t;
}

/* Rows of a site table: sites whose frames print the same (two call
 * instructions on one line) are one row. */
struct row {
    const char *text;
    uint64_t bytes, blocks, chunk;
};

static int row_by_text(const void *a, const void *b)
{
    return strcmp(((const struct row *)a)->text, ((const struct row *)b)->text);
}

static int by_blocks;
static int row_by_size(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    uint64_t kx = by_blocks ? x->blocks : x->bytes, ky = by_blocks ? y->blocks : y->bytes;
    if (kx != ky)
        return kx > ky ? -1 : 1;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return strcmp(x->text, y->text);
}

enum metric { M_LEAK, M_PEAK, M_TEMP };

static size_t site_rows(struct report *r, enum metric m, struct row **out)
{
    struct row *v = xcalloc(r->sites.n + 1, sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < r->sites.n; i++) {
        const struct site *s = &r->sites.v[i];
        struct row x = { NULL, 0, 0, 0 };
        if (m == M_LEAK)
            x.bytes = s->live_bytes, x.blocks = s->live_blocks, x.chunk = s->live_chunk;
        else if (m == M_PEAK)
            x.bytes = s->peak_bytes, x.blocks = s->peak_blocks, x.chunk = s->peak_chunk;
        else
            x.bytes = s->temp_bytes, x.blocks = s->temp;
        if (!x.blocks)
            continue;
        x.text = site_text(r, (uint32_t)i);
        v[n++] = x;
    }
    qsort(v, n, sizeof *v, row_by_text);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k && strcmp(v[k - 1].text, v[i].text) == 0) {
            v[k - 1].bytes += v[i].bytes, v[k - 1].blocks += v[i].blocks, v[k - 1].chunk += v[i].chunk;
            continue;
        }
        v[k++] = v[i];
    }
    by_blocks = r->by_blocks;
    qsort(v, k, sizeof *v, row_by_size);
    *out = v;
    return k;
}

/* Prints the first r->top rows and a line for the rest. */
static void print_rows(struct report *r, const struct row *v, size_t n, int chunk_column)
{
    if (chunk_column)
        printf("  %12s %8s %12s  %s\n", "bytes", "blocks", "chunk bytes", "call site (callers below it)");
    else
        printf("  %12s %8s  %s\n", "count", "bytes", "call site (callers below it)");
    uint64_t rest_bytes = 0, rest_blocks = 0;
    for (size_t i = 0; i < n; i++) {
        if (i >= (size_t)r->top) {
            rest_bytes += v[i].bytes, rest_blocks += v[i].blocks;
            continue;
        }
        const char *t = v[i].text, *nl = strchr(t, '\n');
        int first = nl ? (int)(nl - t) : (int)strlen(t);
        if (chunk_column)
            printf("  %12llu %8llu %12llu  %.*s\n", (unsigned long long)v[i].bytes, (unsigned long long)v[i].blocks,
                   (unsigned long long)v[i].chunk, first, t);
        else
            printf("  %12llu %8llu  %.*s\n", (unsigned long long)v[i].blocks, (unsigned long long)v[i].bytes, first,
                   t);
        while (nl) {
            t = nl + 1;
            nl = strchr(t, '\n');
            int w = nl ? (int)(nl - t) : (int)strlen(t);
            printf("  %*s  <- %.*s\n", chunk_column ? 34 : 21, "", w, t);
        }
    }
    if (n > (size_t)r->top)
        printf("  (%zu more sites: %llu bytes in %llu blocks; --top N shows more)\n", n - (size_t)r->top,
               (unsigned long long)rest_bytes, (unsigned long long)rest_blocks);
}

/* ---- the sections ----------------------------------------------------------------------- */

static void print_summary(struct report *r, struct tlog *log)
{
    const struct tlog_header *h = tlog_header(log);
    char a[64], b[64];
    heading("Summary");
    const char *prog = sym_maps_program(&r->mods);
    printf("  program        %s, pid %u", prog ? prog : "(no modules record)", h->pid);
    if (h->flags & 1)
        printf(", forked from pid %u", h->ppid);
    printf("\n");
    time_t start = (time_t)(h->realtime0 / 1000000000ULL);
    struct tm tm;
    if (localtime_r(&start, &tm) && strftime(a, sizeof a, "%Y-%m-%d %H:%M:%S", &tm))
        printf("  started        %s\n", a);
    printf("  duration       %s (log start to last event)\n", duration(r->last_ns, a, sizeof a));
    int nthreads = 0, count;
    const struct tlog_thread *t = tlog_threads(log, &count);
    for (int i = 0; i < count; i++)
        nthreads += t[i].segments > 0;
    printf("  threads        %d with events (%llu started, %llu exited while traced)\n", nthreads,
           (unsigned long long)r->thread_starts, (unsigned long long)r->thread_exits);
    printf("  calls          %llu\n", (unsigned long long)r->calls);
    uint64_t part[TLOG_MALLOC_TRIM + 1];
    const char *names[TLOG_MALLOC_TRIM + 1];
    int n = 0;
    for (int k = TLOG_MALLOC; k <= TLOG_MALLOC_TRIM; k++)
        names[n] = tlog_type_name(k), part[n++] = r->per_type[k];
    int pct[TLOG_MALLOC_TRIM + 1];
    tenths(part, n, r->calls, pct);
    for (int i = 0; i < n; i++)
        if (part[i])
            printf("    %-16s %12llu %5d.%d %%\n", names[i], (unsigned long long)part[i], pct[i] / 10, pct[i] % 10);
    printf("  events         %llu (%llu calls, %llu steps)\n", (unsigned long long)r->events,
           (unsigned long long)r->calls, (unsigned long long)(r->events - r->calls));
    printf("  log            %llu bytes (%s), %.1f bytes per event\n", (unsigned long long)h->size,
           human(h->size, b, sizeof b), r->events ? (double)h->size / (double)r->events : 0.0);
    if (r->forks || r->marks || r->walks)
        printf("  also           %llu forks, %llu marks, %llu walk checkpoints\n", (unsigned long long)r->forks,
               (unsigned long long)r->marks, (unsigned long long)r->walks);
    if (tlog_saw_end(log))
        printf("  complete       yes (end record: the process exited)\n");
    else
        printf("  complete       no: no end record (the process was killed, called _exit or exec'd)\n");
}

static void print_decisions(struct report *r)
{
    const char *names[TLOG_D_COUNT];
    for (int d = 0; d < TLOG_D_COUNT; d++)
        names[d] = tlog_decision_name(d);
    heading("Decisions");
    share_table("allocations by source", names, r->alloc_src, TLOG_D_COUNT, r->alloc_total);
    printf("    (every call that returned a new chunk; a realloc that moved counts its new chunk's source)\n");
    share_table("frees by destination", names, r->free_dst, TLOG_D_COUNT, r->free_total);
    printf("    merged with the chunk before %llu, with the chunk after %llu; free(NULL) %llu (not above)\n",
           (unsigned long long)r->merged_prev, (unsigned long long)r->merged_next,
           (unsigned long long)r->free_null);
    printf("  realloc        in_place %llu, moved %llu, mremap %llu, of NULL %llu, to size 0 %llu\n",
           (unsigned long long)r->re_in_place, (unsigned long long)r->re_moved, (unsigned long long)r->re_mremap,
           (unsigned long long)r->re_null, (unsigned long long)r->re_zero);
    printf("  failed calls   %llu", (unsigned long long)r->failed_total);
    for (int t = TLOG_MALLOC; t <= TLOG_MALLOC_TRIM; t++)
        if (r->failed[t])
            printf("%s %s %llu", t ? "," : "", tlog_type_name(t), (unsigned long long)r->failed[t]);
    printf("\n");
    if (r->trims)
        printf("  malloc_trim    %llu calls, %llu released memory\n", (unsigned long long)r->trims,
               (unsigned long long)r->trimmed);
    printf("  %-30s %12s %14s\n", "system memory", "count", "bytes");
    int any = 0;
    for (int k = 1; k < TLOG_SYS_COUNT; k++) {
        if (!r->sys_count[k])
            continue;
        char h[32];
        printf("    %-28s %12llu %14llu  %s\n", tlog_sys_name(k), (unsigned long long)r->sys_count[k],
               (unsigned long long)r->sys_bytes[k], human(r->sys_bytes[k], h, sizeof h));
        any = 1;
    }
    if (!any)
        printf("    (none)\n");
    printf("  consolidations %llu (malloc_consolidate emptied the fastbins)\n", (unsigned long long)r->consolidate);
    printf("  sorted out of the unsorted bin: %llu chunks into small bins (%llu bytes), %llu into large bins "
           "(%llu bytes)\n",
           (unsigned long long)r->to_small, (unsigned long long)r->to_small_bytes, (unsigned long long)r->to_large,
           (unsigned long long)r->to_large_bytes);
}

static void print_peak(struct report *r)
{
    char a[32], b[32];
    heading("Peak");
    if (!r->samples) {
        printf("  (no call in the log)\n");
        return;
    }
    printf("  heap           %12llu bytes (%s) at event %llu, %s: chunks of every state, top included\n",
           (unsigned long long)r->peak_heap, human(r->peak_heap, a, sizeof a), (unsigned long long)r->peak_heap_ev,
           duration(r->peak_heap_ns, b, sizeof b));
    printf("  in use         %12llu bytes (%s) at event %llu, %s: chunks allocated, mapped ones included\n",
           (unsigned long long)r->peak_in_use, human(r->peak_in_use, a, sizeof a),
           (unsigned long long)r->peak_in_use_ev, duration(r->peak_in_use_ns, b, sizeof b));
    printf("  at the end     %12llu bytes heap, %llu in use\n", (unsigned long long)r->at_end.heap,
           (unsigned long long)r->at_end.in_use);
    printf("  ('ptalloc show %s --at N' draws the heap after event N)\n", r->file);
    struct row *v;
    size_t n = site_rows(r, M_PEAK, &v);
    printf("  blocks allocated at the in-use peak, by call site (bytes asked; chunk bytes as the heap counts them):\n");
    print_rows(r, v, n, 1);
    if (r->at_in_use_peak.unlogged)
        printf("  %12s %8s %12llu  (chunks in use that no call of the log allocated: from before it started)\n",
               "", "", (unsigned long long)r->at_in_use_peak.unlogged);
    free(v);
}

static void print_leaks(struct report *r, int complete)
{
    heading(complete ? "Leaked at exit" : "Live at the end of the log");
    struct row *v;
    size_t n = site_rows(r, M_LEAK, &v);
    uint64_t bytes = 0, blocks = 0, chunk = 0;
    for (size_t i = 0; i < n; i++)
        bytes += v[i].bytes, blocks += v[i].blocks, chunk += v[i].chunk;
    printf("  %llu bytes in %llu blocks from %zu call sites %s (%llu bytes in chunks)\n", (unsigned long long)bytes,
           (unsigned long long)blocks, n, complete ? "not freed when the process exited" : "not freed by the last event",
           (unsigned long long)chunk);
    if (!complete)
        printf("  (the log has no end record: the process went on or died after it; these are not all leaks)\n");
    if (n)
        print_rows(r, v, n, 1);
    if (r->at_end.unlogged)
        printf("  and %llu bytes in chunks allocated before the log started, still in use\n",
               (unsigned long long)r->at_end.unlogged);
    free(v);
}

static void print_short_lived(struct report *r)
{
    heading("Short-lived allocations");
    printf("  temporary: a block freed by its thread before that thread allocated anything else (heaptrack's\n"
           "  definition: a realloc frees its old block, then allocates)\n");
    printf("  temporary      %llu of %llu blocks allocated (%.1f%%), %llu bytes\n", (unsigned long long)r->temp,
           (unsigned long long)r->blocks, r->blocks ? 100.0 * (double)r->temp / (double)r->blocks : 0.0,
           (unsigned long long)r->temp_bytes);
    uint64_t part[NLIFE + 1], freed = 0;
    const char *names[NLIFE + 1];
    for (int k = 0; k < NLIFE; k++)
        part[k] = r->life[k], names[k] = life_name[k], freed += r->life[k];
    part[NLIFE] = r->blocks - freed;
    names[NLIFE] = "not freed";
    printf("  lifetimes, allocation to free (tracing slows the program: times are longer than untraced)\n");
    share_table("lifetime", names, part, NLIFE + 1, r->blocks);
    if (r->freed_unlogged)
        printf("    and %llu frees of blocks allocated before the log started\n", (unsigned long long)r->freed_unlogged);
    struct row *v;
    size_t n = site_rows(r, M_TEMP, &v);
    if (n) {
        printf("  call sites of temporary allocations:\n");
        print_rows(r, v, n, 0);
    }
    free(v);
}

static void print_fragmentation(struct report *r)
{
    char a[32], b[32];
    heading("Fragmentation");
    if (!r->samples) {
        printf("  (no call in the log)\n");
        return;
    }
    printf("  free bytes inside the heap: chunks in the caches and bins (fastbins, unsorted, small and large\n"
           "  bins, remote batches), the top chunks not counted\n");
    printf("  most           %12llu bytes (%s) at event %llu, %s\n", (unsigned long long)r->max_free,
           human(r->max_free, a, sizeof a), (unsigned long long)r->max_free_ev, duration(r->max_free_ns, b, sizeof b));
    uint64_t span = r->last_ns - r->first_ns;
    double avg = span ? r->free_area / (double)span : (double)r->prev_free;
    printf("  average        %12.0f bytes (%s), weighted by time from the first call on\n", avg,
           human((uint64_t)avg, a, sizeof a));
    const struct at_event *at[2] = { &r->at_heap_peak, &r->at_in_use_peak };
    const char *what[2] = { "at heap peak", "at in-use peak" };
    for (int i = 0; i < 2; i++)
        printf("  %-14s %12llu bytes free in %llu chunks, largest %llu (%.1f%% of them), top %llu, heap %llu\n",
               what[i], (unsigned long long)at[i]->free_nt, (unsigned long long)at[i]->nfree,
               (unsigned long long)at[i]->largest,
               at[i]->free_nt ? 100.0 * (double)at[i]->largest / (double)at[i]->free_nt : 0.0,
               (unsigned long long)at[i]->top, (unsigned long long)at[i]->heap);
    /* About ten rows from the buckets: each the heap at the end of its
     * interval, with the most free bytes seen inside it. */
    uint64_t nb = span / r->bucket_ns + 1, group = (nb + 9) / 10;
    printf("  %12s %12s %12s %12s %12s %12s  %s\n", "until", "heap", "in use", "free", "top", "most free",
           "free / heap");
    struct bucket cur = { 0 };
    for (uint64_t g = 0; g * group < nb; g++) {
        uint64_t most = 0;
        for (uint64_t i = g * group; i < (g + 1) * group && i < nb && i < NBUCKET; i++) {
            if (r->bk[i].used)
                cur = r->bk[i];
            if (r->bk[i].max_free_nt > most)
                most = r->bk[i].max_free_nt;
        }
        uint64_t until = r->first_ns + (g + 1) * group * r->bucket_ns;
        if (until > r->last_ns)
            until = r->last_ns;
        char bar[41];
        int w = cur.heap ? (int)(40.0 * (double)cur.free_nt / (double)cur.heap + 0.5) : 0;
        memset(bar, '#', (size_t)w);
        bar[w] = 0;
        printf("  %12s %12llu %12llu %12llu %12llu %12llu  |%-40s|\n", duration(until, a, sizeof a),
               (unsigned long long)cur.heap, (unsigned long long)cur.in_use, (unsigned long long)cur.free_nt,
               (unsigned long long)cur.top, (unsigned long long)most, bar);
    }
}

/* ---- the command ------------------------------------------------------------------------ */

static void open_symbols(struct report *r)
{
    if (!r->symbols || !r->mods.n)
        return;
    r->sym = sym_open(r->mods.v, r->mods.n);
    if (!r->sym)
        cmd_die(SUB, NULL, "out of memory");
}

int cmd_report(int argc, char **argv)
{
    struct report *r = xcalloc(1, sizeof *r);
    r->symbols = 1;
    r->top = 10;
    r->bucket_ns = 1024;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--top") == 0) {
            unsigned long long n = cmd_number(SUB, a, i + 1 < argc ? argv[++i] : NULL);
            if (n < 1 || n > 1000000)
                cmd_die(SUB, NULL, "--top %llu: expected 1 to 1000000", n);
            r->top = (int)n;
        } else if (strcmp(a, "--no-symbols") == 0) {
            r->symbols = 0;
        } else if (strcmp(a, "--sort") == 0) {
            const char *how = i + 1 < argc ? argv[++i] : "";
            if (strcmp(how, "bytes") != 0 && strcmp(how, "blocks") != 0)
                cmd_die(SUB, NULL, "--sort %s: expected bytes or blocks", how);
            r->by_blocks = how[1] == 'l';
        } else if (a[0] == '-' && a[1]) {
            cmd_die(SUB, NULL, "unknown flag %s (see 'ptalloc --help')", a);
        } else if (r->file) {
            cmd_die(SUB, NULL, "one log at a time (got '%s' and '%s')", r->file, a);
        } else {
            r->file = a;
        }
    }
    if (!r->file)
        cmd_die(SUB, NULL, "no log given (see 'ptalloc --help')");

    struct tlog *log = first_pass(r);
    int complete = tlog_saw_end(log);
    second_pass(r);
    open_symbols(r);
    printf("ptalloc report of %s\n", r->file);
    print_summary(r, log);
    print_decisions(r);
    print_peak(r);
    print_leaks(r, complete);
    print_short_lived(r);
    print_fragmentation(r);
    tlog_close(log);

    if (r->sym)
        sym_close(r->sym);
    for (size_t i = 0; i < r->sites.n; i++)
        free(r->sites.v[i].text);
    sym_maps_free(&r->mods);
    free(r->sites.v);
    free(r->sites.frames);
    free(r->sites.slot);
    free(r);
    return 0;
}
