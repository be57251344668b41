/*
 * Statistics: mallinfo, mallinfo2, malloc_stats, malloc_info.
 * Each arena's figures are gathered under its lock, then printed with the
 * lock released (malloc_info's FILE may allocate).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include "internal.h"
#include "vg.h"


/* The bytes of the whole pages inside free chunk p (past its header and
 * purge stamp) that are not resident, as the kernel says (mincore). */
static size_t released_in(chunk_t *p, size_t size)
{
    uintptr_t from;
    size_t pages = purge_span(p, size, &from) / os_pagesize;
    return pages ? (pages - os_resident_pages((void *)from, pages)) * os_pagesize : 0;
}

/* Lock held. */
COLD void stats_totals(arena_t *a, struct totals *t)
{
    remote_take(a, false);
    *t = (struct totals){0};
    t->system = a->system_mem;
    t->max_system = a->max_system_mem;
    t->top = chunksize(a->top);
    t->free_bytes = t->top;
    t->free_chunks = 1;
    t->given_back = a->purged + a->trimmed;
    if (t->top >= PURGE_MIN_CHUNK)
        t->released = released_in(a->top, t->top);
    for (unsigned i = 0; i < NFASTBINS; i++)
        for (chunk_t *p = a->fastbins[i]; p; p = reveal_ptr(&p->fd)) {
            if (misaligned_chunk(p))
                break;
            t->fast_chunks++;
            t->fast_bytes += chunksize(p);
        }
    for (unsigned i = 1; i < NBINS; i++) {
        chunk_t *bin = bin_at(a, i);
        for (chunk_t *p = bin->bk; p != bin; p = p->bk) {
            t->free_chunks++;
            t->free_bytes += chunksize(p);
            if (chunksize(p) >= PURGE_MIN_CHUNK)
                t->released += released_in(p, chunksize(p));
        }
    }
    t->resident = t->free_bytes + t->fast_bytes - t->released;
}

static COLD arena_t *next_arena(arena_t *a)
{
    return __atomic_load_n(&a->next, __ATOMIC_ACQUIRE);
}

COLD PUBLIC struct mallinfo2 mallinfo2(void)
{
    struct mallinfo2 m = {0};
    introspection_start();
    vg_quiet();
    for (arena_t *a = &main_arena; a; a = next_arena(a)) {
        struct totals t;
        lock_acquire(&a->lock);
        stats_totals(a, &t);
        lock_release(&a->lock);
        m.arena += t.system;
        m.ordblks += t.free_chunks;
        m.smblks += t.fast_chunks;
        m.fsmblks += t.fast_bytes;
        m.fordblks += t.free_bytes + t.fast_bytes;
        m.uordblks += t.system - t.free_bytes - t.fast_bytes;
        if (a == &main_arena)
            m.keepcost = t.top;
    }
    lock_acquire(&mmap_lock);
    m.hblks = (size_t)mstats.n_mmaps;
    m.hblkhd = mstats.mmapped_mem;
    lock_release(&mmap_lock);
    vg_loud();
    return m;
}

static int sat(size_t v) { return v > INT_MAX ? INT_MAX : (int)v; }

COLD PUBLIC struct mallinfo mallinfo(void)
{
    struct mallinfo2 m2 = mallinfo2();
    struct mallinfo m = {
        .arena = sat(m2.arena), .ordblks = sat(m2.ordblks), .smblks = sat(m2.smblks),
        .hblks = sat(m2.hblks), .hblkhd = sat(m2.hblkhd), .usmblks = 0,
        .fsmblks = sat(m2.fsmblks), .uordblks = sat(m2.uordblks),
        .fordblks = sat(m2.fordblks), .keepcost = sat(m2.keepcost),
    };
    return m;
}

/* malloc_stats: glibc's lines, then ptalloc's own three (free memory
 * still resident, free memory whose pages went back, bytes given back
 * by purges and trims since the start). */
COLD PUBLIC void malloc_stats(void)
{
    char buf[512];
    fmtbuf_t b;
    size_t system = 0, in_use = 0, resident = 0, released = 0, given_back = 0;
    introspection_start();
    vg_quiet();
    fmt_init(&b, buf, sizeof buf, 2);
    for (arena_t *a = &main_arena; a; a = next_arena(a)) {
        struct totals t;
        lock_acquire(&a->lock);
        stats_totals(a, &t);
        lock_release(&a->lock);
        size_t used = t.system - t.free_bytes - t.fast_bytes;
        fmt_printf(&b, "Arena %d:\nsystem bytes     = %10zu\nin use bytes     = %10zu\n"
                   "free resident    = %10zu\nfree released    = %10zu\ngiven back       = %10zu\n",
                   a->number, t.system, used, t.resident, t.released, t.given_back);
        system += t.system;
        in_use += used;
        resident += t.resident;
        released += t.released;
        given_back += t.given_back;
    }
    lock_acquire(&mmap_lock);
    mmap_stats_t ms = mstats;
    lock_release(&mmap_lock);
    fmt_printf(&b, "Total (incl. mmap):\nsystem bytes     = %10zu\nin use bytes     = %10zu\n"
               "free resident    = %10zu\nfree released    = %10zu\ngiven back       = %10zu\n"
               "max mmap regions = %10zu\nmax mmap bytes   = %10zu\n",
               system + ms.mmapped_mem, in_use + ms.mmapped_mem, resident, released, given_back,
               (size_t)ms.max_n_mmaps, ms.max_mmapped_mem);
    fmt_flush(&b);
    vg_loud();
}

/* The size classes malloc_info reports: one per small bin and per
 * large-bin range, with counts and bytes of free chunks. */
struct size_row { size_t from, to, total, count; };

COLD PUBLIC int malloc_info(int options, FILE *fp)
{
    if (options != 0) {
        errno = EINVAL;
        return -1;
    }
    introspection_start();
    size_t tot_fast_n = 0, tot_fast = 0, tot_rest_n = 0, tot_rest = 0;
    size_t tot_system = 0, tot_max = 0, tot_aspace = 0, tot_mprotect = 0;
    size_t tot_resident = 0, tot_released = 0, tot_given_back = 0;

    fputs("<malloc version=\"1\">\n", fp);
    for (arena_t *a = &main_arena; a; a = next_arena(a)) {
        struct size_row rows[NFASTBINS + NBINS];
        size_t nrows = 0;
        struct totals t;
        size_t aspace = 0, mprot = 0;

        vg_quiet();
        lock_acquire(&a->lock);
        stats_totals(a, &t);
        for (unsigned i = 0; i < NFASTBINS; i++) {
            struct size_row r = { 0, 0, 0, 0 };
            for (chunk_t *p = a->fastbins[i]; p && !misaligned_chunk(p); p = reveal_ptr(&p->fd)) {
                r.count++;
                r.total += chunksize(p);
            }
            if (r.count) {
                size_t sz = (size_t)(i + 2) << 4;
                r.from = sz - 15; r.to = sz;
                rows[nrows++] = r;
            }
        }
        for (unsigned i = 2; i < NBINS; i++) {
            chunk_t *bin = bin_at(a, i);
            struct size_row r = { SIZE_MAX, 0, 0, 0 };
            for (chunk_t *p = bin->fd; p != bin; p = p->fd) {
                size_t sz = chunksize(p);
                r.count++;
                r.total += sz;
                if (sz < r.from) r.from = sz;
                if (sz > r.to) r.to = sz;
            }
            if (r.count)
                rows[nrows++] = r;
        }
        struct size_row uns = { 0, 0, 0, 0 };
        chunk_t *ub = unsorted_chunks(a);
        for (chunk_t *p = ub->fd; p != ub; p = p->fd) {
            uns.count++;
            uns.total += chunksize(p);
        }
        if (a == &main_arena) {
            aspace = mprot = a->system_mem;
        } else {
            for (heap_info_t *h = a->heap; h; h = h->prev) {
                aspace += h->size;
                mprot += h->committed;
            }
        }
        int number = a->number, nheaps = a->nheaps;
        lock_release(&a->lock);
        vg_loud();

        fprintf(fp, "<heap nr=\"%d\">\n<sizes>\n", number);
        for (size_t i = 0; i < nrows; i++)
            fprintf(fp, "  <size from=\"%zu\" to=\"%zu\" total=\"%zu\" count=\"%zu\"/>\n",
                    rows[i].from, rows[i].to, rows[i].total, rows[i].count);
        if (uns.count)
            fprintf(fp, "  <unsorted from=\"0\" to=\"0\" total=\"%zu\" count=\"%zu\"/>\n",
                    uns.total, uns.count);
        fputs("</sizes>\n", fp);
        fprintf(fp, "<total type=\"fast\" count=\"%zu\" size=\"%zu\"/>\n", t.fast_chunks, t.fast_bytes);
        fprintf(fp, "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n", t.free_chunks, t.free_bytes);
        fprintf(fp, "<total type=\"resident\" size=\"%zu\"/>\n", t.resident);
        fprintf(fp, "<total type=\"released\" size=\"%zu\"/>\n", t.released);
        fprintf(fp, "<system type=\"current\" size=\"%zu\"/>\n", t.system);
        fprintf(fp, "<system type=\"max\" size=\"%zu\"/>\n", t.max_system);
        fprintf(fp, "<system type=\"given_back\" size=\"%zu\"/>\n", t.given_back);
        if (a != &main_arena) {
            fprintf(fp, "<aspace type=\"total\" size=\"%zu\"/>\n", aspace);
            fprintf(fp, "<aspace type=\"mprotect\" size=\"%zu\"/>\n", mprot);
            fprintf(fp, "<aspace type=\"subheaps\" size=\"%d\"/>\n", nheaps);
        } else {
            fprintf(fp, "<aspace type=\"total\" size=\"%zu\"/>\n", aspace);
            fprintf(fp, "<aspace type=\"mprotect\" size=\"%zu\"/>\n", mprot);
        }
        fputs("</heap>\n", fp);
        tot_fast_n += t.fast_chunks; tot_fast += t.fast_bytes;
        tot_rest_n += t.free_chunks; tot_rest += t.free_bytes;
        tot_system += t.system; tot_max += t.max_system;
        tot_aspace += aspace; tot_mprotect += mprot;
        tot_resident += t.resident; tot_released += t.released; tot_given_back += t.given_back;
    }
    lock_acquire(&mmap_lock);
    mmap_stats_t ms = mstats;
    lock_release(&mmap_lock);
    fprintf(fp, "<total type=\"fast\" count=\"%zu\" size=\"%zu\"/>\n", tot_fast_n, tot_fast);
    fprintf(fp, "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n", tot_rest_n, tot_rest);
    fprintf(fp, "<total type=\"mmap\" count=\"%ld\" size=\"%zu\"/>\n", ms.n_mmaps, ms.mmapped_mem);
    fprintf(fp, "<total type=\"resident\" size=\"%zu\"/>\n", tot_resident);
    fprintf(fp, "<total type=\"released\" size=\"%zu\"/>\n", tot_released);
    fprintf(fp, "<system type=\"current\" size=\"%zu\"/>\n", tot_system);
    fprintf(fp, "<system type=\"max\" size=\"%zu\"/>\n", tot_max);
    fprintf(fp, "<system type=\"given_back\" size=\"%zu\"/>\n", tot_given_back);
    fprintf(fp, "<aspace type=\"total\" size=\"%zu\"/>\n", tot_aspace);
    fprintf(fp, "<aspace type=\"mprotect\" size=\"%zu\"/>\n", tot_mprotect);
    fputs("</malloc>\n", fp);
    return 0;
}
