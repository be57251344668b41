/*
 * Introspection: the heap walk, locating a chunk, a bin's contents, arena
 * summaries, and the heap drawn as the textbook pictures do.  Used by the
 * tests, the demo and tools; nothing here allocates.
 */
#include <string.h>
#include "internal.h"
#include "ptalloc.h"
#include "vg.h"


/* Calls fn for every chunk of arena a (lock held), segment by segment in
 * address order.  Stops at a malformed size, returning -1; else returns
 * the first non-zero fn result, or 0. */
COLD int walk_chunks(arena_t *a, int (*fn)(arena_t *, chunk_t *, int seg, void *), void *arg)
{
    /* Segments/sub-heaps are chained newest first; visit oldest first. */
    char *starts[256], *ends[256];
    int n = 0;
    if (a == &main_arena) {
        for (segment_t *s = a->segments; s && n < 256; s = s->next, n++) {
            starts[n] = main_segment_start(s);
            ends[n] = s->end;
        }
    } else {
        for (heap_info_t *h = a->heap; h && n < 256; h = h->prev, n++) {
            starts[n] = heap_chunks_start(h);
            ends[n] = (char *)h + h->size;
        }
    }
    for (int seg = 0, i = n - 1; i >= 0; i--, seg++) {
        chunk_t *p = (chunk_t *)starts[i];
        while ((char *)p < ends[i]) {
            size_t size = chunksize(p);
            if (size < 2 * SIZE_SZ || !aligned_ok(size) || (char *)p + size > ends[i])
                return -1;
            int r = fn(a, p, seg, arg);
            if (r)
                return r;
            p = chunk_at(p, size);
        }
    }
    return 0;
}

static COLD int in_fastbin(arena_t *a, chunk_t *p, int *idx)
{
    size_t size = chunksize(p);
    if (size > MINSIZE + (NFASTBINS - 1) * 16)
        return 0;
    unsigned i = fastbin_index(size);
    size_t guard = 0;
    for (chunk_t *q = a->fastbins[i]; q && !misaligned_chunk(q) && guard < 10000000; q = reveal_ptr(&q->fd), guard++)
        if (q == p) {
            *idx = (int)i;
            return 1;
        }
    return 0;
}

static COLD int in_tcache(chunk_t *p, int *idx)
{
    size_t size = chunksize(p), slot = size >> 4;
    if (tc.state != TC_ACTIVE)
        return 0;
    if (size >= TCACHE_MID_MIN && size < TCACHE_MID_END) {
        size_t k = TCACHE_MID_CLASS_OF_CHUNK(size);
        if (tcm.slot[k] != chunk2mem(p))
            return 0;
        *idx = TCACHE_BINS + (int)k;
        return 1;
    }
    if (slot >= TCACHE_SLOTS)
        return 0;
    size_t guard = 0;
    for (tc_entry_t *e = tc.head[slot]; e != TC_END && aligned_ok((uintptr_t)e) && guard < 70000; e = reveal_ptr(&e->next), guard++)
        if (mem2chunk(e) == p) {
            *idx = (int)slot - 2;
            return 1;
        }
    return 0;
}

static COLD int in_unsorted(arena_t *a, chunk_t *p)
{
    chunk_t *bin = unsorted_chunks(a);
    size_t guard = 0;
    for (chunk_t *q = bin->fd; q != bin && guard < 10000000; q = q->fd, guard++)
        if (q == p)
            return 1;
    return 0;
}

/* Describes chunk p of arena a (lock held). */
static COLD void describe(arena_t *a, chunk_t *p, int seg, struct ptalloc_chunk_info *ci)
{
    size_t size = chunksize(p);
    ci->chunk = p;
    ci->mem = chunk2mem(p);
    ci->size = size;
    ci->flags = (unsigned)(p->size & SIZE_BITS);
    ci->arena = a->number;
    ci->segment = seg;
    ci->bin = -1;
    int idx;
    if (p == a->top) {
        ci->where = PTALLOC_TOP;
    } else if (size == 2 * SIZE_SZ) {
        ci->where = PTALLOC_FENCE;
    } else if (inuse(p)) {
        if (in_tcache(p, &idx)) {
            ci->where = PTALLOC_TCACHE;
            ci->bin = idx;
        } else if (in_fastbin(a, p, &idx)) {
            ci->where = PTALLOC_FASTBIN;
            ci->bin = idx;
        } else {
            ci->where = PTALLOC_INUSE;
        }
    } else if (in_unsorted(a, p)) {
        ci->where = PTALLOC_UNSORTED;
        ci->bin = UNSORTED_BIN;
    } else {
        ci->where = in_smallbin_range(size) ? PTALLOC_SMALLBIN : PTALLOC_LARGEBIN;
        ci->bin = (int)bin_index(size);
    }
}

struct walk_ctx {
    ptalloc_walk_fn fn;
    void *arg;
    const void *want;        /* locate: the chunk looked for */
    struct ptalloc_chunk_info *out;
};

static COLD int walk_visit(arena_t *a, chunk_t *p, int seg, void *arg)
{
    struct walk_ctx *w = arg;
    struct ptalloc_chunk_info ci;
    if (w->want) {
        if ((void *)p != w->want)
            return 0;
        describe(a, p, seg, w->out);
        return 1;
    }
    describe(a, p, seg, &ci);
    return w->fn(&ci, w->arg);
}

static COLD void describe_mmapped(mmap_hdr_t *h, struct ptalloc_chunk_info *ci)
{
    chunk_t *p = (chunk_t *)((char *)h + h->chunk_off);
    ci->chunk = p;
    ci->mem = chunk2mem(p);
    ci->size = chunksize(p);
    ci->flags = (unsigned)(p->size & SIZE_BITS);
    ci->where = PTALLOC_MMAPPED;
    ci->bin = -1;
    ci->arena = -1;
    ci->segment = -1;
}

static COLD int walk_all(ptalloc_walk_fn fn, void *arg)
{
    ensure_init();
    struct walk_ctx w = { fn, arg, NULL, NULL };
    for (arena_t *a = &main_arena; a; a = __atomic_load_n(&a->next, __ATOMIC_ACQUIRE)) {
        lock_acquire(&a->lock);
        remote_take(a, false);
        int r = walk_chunks(a, walk_visit, &w);
        lock_release(&a->lock);
        if (r)
            return r;
    }
    lock_acquire(&mmap_lock);
    for (mmap_hdr_t *h = mmap_list; h; h = h->next) {
        struct ptalloc_chunk_info ci;
        describe_mmapped(h, &ci);
        int r = fn(&ci, arg);
        if (r) {
            lock_release(&mmap_lock);
            return r;
        }
    }
    lock_release(&mmap_lock);
    return 0;
}

static COLD int locate(const void *mem, struct ptalloc_chunk_info *out)
{
    ensure_init();
    if (!mem || !aligned_ok((uintptr_t)mem))
        return 0;
    chunk_t *p = mem2chunk(mem);
    struct walk_ctx w = { NULL, NULL, p, out };
    for (arena_t *a = &main_arena; a; a = __atomic_load_n(&a->next, __ATOMIC_ACQUIRE)) {
        lock_acquire(&a->lock);
        remote_take(a, false);
        int r = walk_chunks(a, walk_visit, &w);
        lock_release(&a->lock);
        if (r == 1)
            return 1;
    }
    int found = 0;
    lock_acquire(&mmap_lock);
    for (mmap_hdr_t *h = mmap_list; h; h = h->next)
        if ((char *)h + h->chunk_off == (char *)p) {
            describe_mmapped(h, out);
            found = 1;
            break;
        }
    lock_release(&mmap_lock);
    return found;
}

static COLD size_t bin_contents(int arena, int kind, int index, void **out, size_t max)
{
    ensure_init();
    arena_t *a = arena_by_number(arena);
    size_t n = 0;
    if (kind == PTALLOC_TCACHE) {
        if (index < 0 || index >= TCACHE_BINS + TCACHE_MID_CLASSES || tc.state != TC_ACTIVE)
            return 0;
        if (index >= TCACHE_BINS) {
            tc_entry_t *e = tcm.slot[index - TCACHE_BINS];
            if (e && max)
                out[0] = e;
            return e != NULL;
        }
        for (tc_entry_t *e = tc.head[index + 2]; e != TC_END && aligned_ok((uintptr_t)e); e = reveal_ptr(&e->next)) {
            if (n < max) out[n] = e;
            n++;
        }
        return n;
    }
    if (!a)
        return 0;
    lock_acquire(&a->lock);
    remote_take(a, false);
    if (kind == PTALLOC_FASTBIN) {
        if (index >= 0 && index < NFASTBINS)
            for (chunk_t *p = a->fastbins[index]; p && !misaligned_chunk(p); p = reveal_ptr(&p->fd)) {
                if (n < max) out[n] = chunk2mem(p);
                n++;
            }
    } else if ((kind == PTALLOC_UNSORTED && index == UNSORTED_BIN) ||
               (kind == PTALLOC_SMALLBIN && index >= 2 && index < NSMALLBINS) ||
               (kind == PTALLOC_LARGEBIN && index >= NSMALLBINS && index < NBINS)) {
        chunk_t *bin = bin_at(a, (unsigned)index);
        for (chunk_t *p = bin->fd; p != bin; p = p->fd) {
            if (n < max) out[n] = chunk2mem(p);
            n++;
        }
    }
    lock_release(&a->lock);
    return n;
}

COLD PUBLIC int ptalloc_arena_count(void)
{
    return __atomic_load_n(&narenas, __ATOMIC_RELAXED);
}

static COLD int describe_arena(int n, struct ptalloc_arena_info *out)
{
    ensure_init();
    arena_t *a = arena_by_number(n);
    if (!a)
        return 0;
    struct totals t;
    lock_acquire(&a->lock);
    stats_totals(a, &t);
    out->number = a->number;
    out->top = a->top;
    out->top_size = chunksize(a->top);
    out->last_remainder = a->last_remainder;
    out->system_bytes = a->system_mem;
    out->max_system_bytes = a->max_system_mem;
    out->in_use_bytes = t.system - t.free_bytes - t.fast_bytes;
    memcpy(out->binmap, a->binmap, sizeof out->binmap);
    out->segments = a->nheaps;
    out->threads = (int)a->attached;
    lock_release(&a->lock);
    return 1;
}

COLD PUBLIC int ptalloc_bin_index(size_t chunk_size)
{
    return (int)bin_index(chunk_size);
}

COLD PUBLIC size_t ptalloc_request_size(size_t n)
{
    return request2size(n);
}

/* ---- the picture ------------------------------------------------------------- */

static COLD const char *where_name(int w)
{
    static const char *names[] = { "in use", "tcache", "fastbin", "unsorted", "small bin",
                                   "large bin", "top", "mmapped", "fence" };
    return w >= 0 && w <= PTALLOC_FENCE ? names[w] : "?";
}

struct draw_ctx {
    fmtbuf_t *b;
    int arena, segment;
    size_t shown, hidden_inuse;
};

static COLD void flags_str(unsigned f, char *s)
{
    s[0] = f & PTALLOC_NON_MAIN_ARENA ? 'A' : '-';
    s[1] = f & PTALLOC_IS_MMAPPED ? 'M' : '-';
    s[2] = f & PTALLOC_PREV_INUSE ? 'P' : '-';
    s[3] = 0;
}

static COLD int draw_visit(const struct ptalloc_chunk_info *ci, void *arg)
{
    struct draw_ctx *d = arg;
    fmtbuf_t *b = d->b;
    char fl[4];
    if (ci->arena != d->arena || ci->segment != d->segment) {
        if (ci->arena >= 0)
            fmt_printf(b, "\n%s %d, %s %d\n", "arena", ci->arena,
                       ci->arena == 0 ? "segment" : "sub-heap", ci->segment);
        else
            fmt_printf(b, "\nmmapped chunks\n");
        fmt_printf(b, "  +--------------------+------------+-----+----------------------+\n"
                      "  | chunk              |       size | AMP | where                |\n"
                      "  +--------------------+------------+-----+----------------------+\n");
        d->arena = ci->arena;
        d->segment = ci->segment;
    }
    /* Long runs of in-use chunks of one picture are elided. */
    if (d->shown > 400 && ci->where == PTALLOC_INUSE) {
        d->hidden_inuse++;
        return 0;
    }
    d->shown++;
    flags_str(ci->flags, fl);
    char where[32];
    if (ci->bin >= 0)
        fmt_snprintf(where, sizeof where, "%s [%d]", where_name(ci->where), ci->bin);
    else
        fmt_snprintf(where, sizeof where, "%s", where_name(ci->where));
    fmt_printf(b, "  | %18p | %10zu | %s | %-20s |\n", ci->chunk, ci->size, fl, where);
    return 0;
}

COLD PUBLIC void ptalloc_print_heap(int fd)
{
    char buf[4096];
    fmtbuf_t b;
    int traced = trace_begin();
    introspection_start();
    vg_quiet();
    fmt_init(&b, buf, sizeof buf, fd);
    struct draw_ctx d = { &b, -2, -2, 0, 0 };
    walk_all(draw_visit, &d);
    if (d.arena != -2)
        fmt_printf(&b, "  +--------------------+------------+-----+----------------------+\n");
    if (d.hidden_inuse)
        fmt_printf(&b, "  (%zu more in-use chunks not drawn)\n", d.hidden_inuse);
    fmt_printf(&b, "  flags: A = NON_MAIN_ARENA, M = IS_MMAPPED, P = PREV_INUSE\n");

    /* The bins, in list order. */
    for (arena_t *a = &main_arena; a; a = __atomic_load_n(&a->next, __ATOMIC_ACQUIRE)) {
        void *items[8];
        fmt_printf(&b, "\nbins of arena %d:\n", a->number);
        for (int i = 0; i < TCACHE_BINS + TCACHE_MID_CLASSES && a == &main_arena; i++) {
            size_t n = bin_contents(0, PTALLOC_TCACHE, i, items, 8);
            if (!n) continue;
            int size = i < TCACHE_BINS ? (i + 2) * 16
                                       : (int)TCACHE_MID_CLASS_MIN(i - TCACHE_BINS);
            fmt_printf(&b, "  tcache[%2d] (%4d bytes%s) %zu:", i, size, i < TCACHE_BINS ? "" : " +", n);
            for (size_t k = 0; k < n && k < 8; k++) fmt_printf(&b, " -> %p", items[k]);
            fmt_printf(&b, "%s\n", n > 8 ? " ..." : "");
        }
        for (int i = 0; i < NFASTBINS; i++) {
            size_t n = bin_contents(a->number, PTALLOC_FASTBIN, i, items, 8);
            if (!n) continue;
            fmt_printf(&b, "  fastbin[%d] (%4d bytes) %zu:", i, (i + 2) * 16, n);
            for (size_t k = 0; k < n && k < 8; k++) fmt_printf(&b, " -> %p", items[k]);
            fmt_printf(&b, "%s\n", n > 8 ? " ..." : "");
        }
        for (int i = 1; i < NBINS; i++) {
            int kind = i == 1 ? PTALLOC_UNSORTED : i < NSMALLBINS ? PTALLOC_SMALLBIN : PTALLOC_LARGEBIN;
            size_t n = bin_contents(a->number, kind, i, items, 8);
            if (!n) continue;
            fmt_printf(&b, "  %s[%d] %zu:", where_name(kind), i, n);
            for (size_t k = 0; k < n && k < 8; k++)
                fmt_printf(&b, " <-> %p (%zu)", items[k], chunksize(mem2chunk(items[k])));
            fmt_printf(&b, "%s\n", n > 8 ? " ..." : "");
        }
    }
    fmt_flush(&b);
    vg_loud();
    trace_end(traced);
}

/* What was handed over to every arena, put away: a traced walk's
 * checkpoint comes after it, so that the log has the chunks where the
 * walk finds them. */
static COLD void collect_all(void)
{
    for (arena_t *a = &main_arena; a; a = __atomic_load_n(&a->next, __ATOMIC_ACQUIRE)) {
        lock_acquire(&a->lock);
        remote_take(a, false);
        lock_release(&a->lock);
    }
}

COLD PUBLIC int ptalloc_walk(ptalloc_walk_fn fn, void *arg)
{
    int traced = trace_begin();
    introspection_start();
    if (trace_on) {
        collect_all();
        trace_walk_checkpoint();
    }
    vg_quiet();
    int r = walk_all(fn, arg);
    vg_loud();
    trace_end(traced);
    return r;
}

COLD PUBLIC int ptalloc_locate(const void *mem, struct ptalloc_chunk_info *out)
{
    int traced = trace_begin();
    introspection_start();
    vg_quiet();
    int r = locate(mem, out);
    vg_loud();
    trace_end(traced);
    return r;
}

COLD PUBLIC size_t ptalloc_bin(int arena, int kind, int index, void **out, size_t max)
{
    int traced = trace_begin();
    introspection_start();
    vg_quiet();
    size_t r = bin_contents(arena, kind, index, out, max);
    vg_loud();
    trace_end(traced);
    return r;
}

COLD PUBLIC int ptalloc_arena_info(int n, struct ptalloc_arena_info *out)
{
    int traced = trace_begin();
    introspection_start();
    vg_quiet();
    int r = describe_arena(n, out);
    vg_loud();
    trace_end(traced);
    return r;
}
