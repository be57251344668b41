/*
 * The heap rebuilt from a trace log: docs/TRACE-FORMAT.md, "Rebuilding the
 * heap", applied event by event.
 *
 * The map address -> chunk is a two-level sorted array: blocks of up to
 * BLK chunks in address order, and an array of the blocks with their first
 * addresses.  A lookup is two binary searches, an insert or erase moves at
 * most one block's entries (and, when a block splits or empties, the block
 * pointers).  Allocators change the heap near where it just changed, so
 * this keeps to a few cache lines per event; a million chunks is 8K blocks.
 *
 * Contradictions.  A call's own record comes after the step records of
 * what it did (the doc), so when a free's record is read its chunk may
 * already be merged into a bin.  Each thread therefore remembers the
 * in-use chunks its steps replaced since its previous call ("pre-state");
 * a free is consistent when its chunk is there or still in use in the map.
 * An allocation is consistent when nothing in use overlaps it except what
 * this call's own steps set, or (realloc) the old chunk itself.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"

#define BLK 128
#define PRE_MAX 64          /* pre-state kept per call; past it, frees are not checked */
#define MSG_MAX 32          /* contradiction messages kept */

struct blk {
    uint32_t n;
    struct rb_chunk e[BLK];
};

struct pos { size_t b, i; };


struct rthread {
    uint64_t last_call;                 /* event number of its last call record + 1 (0: none) */
    int npre;                           /* -1: overflowed */
    struct { uint64_t addr, size; uint8_t state; } pre[PRE_MAX];
};

struct rebuild {
    struct blk **b;
    uint64_t *first;                    /* b[k]->e[0].addr */
    size_t nb, capb;
    struct rb_totals tot;
    uint64_t top;                       /* of tot.free, the top chunks' bytes */
    struct rb_list *lists;              /* by number; never removed */
    size_t nlists, caplists;
    struct tlog_numbers lkeys;          /* list key -> list number */
    rb_observer *observer;
    void *observer_arg;
    int at_tail;                        /* the set being applied goes to its list's tail */
    struct rb_region *reg;
    size_t nreg, capreg;
    struct rthread *th;
    int nth;
    uint64_t ncontra;
    uint64_t snap_from, snap_to;        /* events of the last snapshot (from > to: none) */
    char *msg[MSG_MAX];
    /* the event being applied */
    int cur_thread;
    int recording;                      /* note replaced in-use chunks as pre-state */
};

struct rebuild *rebuild_new(void)
{
    struct rebuild *rb = tlog_xrealloc(NULL, sizeof *rb);
    memset(rb, 0, sizeof *rb);
    rb->snap_from = 1;
    return rb;
}

static void list_unlink(struct rebuild *rb, struct rb_chunk *c);

static void clear_map(struct rebuild *rb)
{
    if (rb->observer)                   /* one by one, each with its links as they are then */
        for (size_t k = 0; k < rb->nb; k++)
            for (uint32_t i = 0; i < rb->b[k]->n; i++) {
                rb->observer(0, &rb->b[k]->e[i], rb->observer_arg);
                list_unlink(rb, &rb->b[k]->e[i]);
            }
    for (size_t k = 0; k < rb->nb; k++)
        free(rb->b[k]);
    for (size_t i = 0; i < rb->nlists; i++)
        rb->lists[i].head = rb->lists[i].tail = rb->lists[i].n = 0;
    rb->nb = 0;
    memset(&rb->tot, 0, sizeof rb->tot);
}

void rebuild_free(struct rebuild *rb)
{
    if (!rb)
        return;
    rb->observer = NULL;
    clear_map(rb);
    free(rb->b);
    free(rb->first);
    free(rb->reg);
    free(rb->th);
    free(rb->lists);
    tlog_numbers_free(&rb->lkeys);
    for (int i = 0; i < MSG_MAX; i++)
        free(rb->msg[i]);
    free(rb);
}

const struct rb_totals *rebuild_totals(const struct rebuild *rb) { return &rb->tot; }
uint64_t rebuild_top(const struct rebuild *rb) { return rb->top; }
uint64_t rebuild_contradictions(const struct rebuild *rb) { return rb->ncontra; }
const char *rebuild_contradiction(const struct rebuild *rb, size_t i)
{
    return i < MSG_MAX ? rb->msg[i] : NULL;
}

static int in_use_state(int s) { return s == TLOG_S_INUSE || s == TLOG_S_MMAPPED; }

static void count(struct rebuild *rb, int state, uint64_t bytes, int sign)
{
    uint64_t d = sign > 0 ? bytes : -bytes;
    rb->tot.heap += d;
    if (in_use_state(state))
        rb->tot.in_use += d;
    else if (state != TLOG_S_FENCE)
        rb->tot.free += d;
    if (state == TLOG_S_TOP)
        rb->top += d;
}

/* ---- the map ---------------------------------------------------------------------- */

/* The first chunk at or after addr (i may equal the block's n: the
 * position before the next block's first). */
static struct pos lower_bound(const struct rebuild *rb, uint64_t addr)
{
    struct pos p = { 0, 0 };
    if (!rb->nb)
        return p;
    size_t lo = 0, hi = rb->nb;         /* the last block whose first <= addr */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (rb->first[mid] <= addr) lo = mid; else hi = mid;
    }
    const struct blk *b = rb->b[lo];
    size_t l = 0, h = b->n;
    while (l < h) {
        size_t mid = (l + h) / 2;
        if (b->e[mid].addr < addr) l = mid + 1; else h = mid;
    }
    p.b = lo;
    p.i = l;
    return p;
}

/* The chunk at p, NULL at the end (p normalised past a block's end). */
static struct rb_chunk *at(struct rebuild *rb, struct pos *p)
{
    while (p->b < rb->nb && p->i >= rb->b[p->b]->n) {
        p->b++;
        p->i = 0;
    }
    return p->b < rb->nb ? &rb->b[p->b]->e[p->i] : NULL;
}

static struct rb_chunk *before_pos(struct rebuild *rb, struct pos p)
{
    if (p.i > 0)
        return &rb->b[p.b]->e[p.i - 1];
    if (p.b == 0 || p.b > rb->nb)
        return NULL;
    struct blk *b = rb->b[p.b - 1];
    return &b->e[b->n - 1];
}

static void blocks_insert(struct rebuild *rb, size_t k, struct blk *b)
{
    if (rb->nb == rb->capb) {
        rb->capb = rb->capb * 2 + 16;
        rb->b = tlog_xrealloc(rb->b, rb->capb * sizeof *rb->b);
        rb->first = tlog_xrealloc(rb->first, rb->capb * sizeof *rb->first);
    }
    memmove(rb->b + k + 1, rb->b + k, (rb->nb - k) * sizeof *rb->b);
    memmove(rb->first + k + 1, rb->first + k, (rb->nb - k) * sizeof *rb->first);
    rb->b[k] = b;
    rb->first[k] = b->e[0].addr;
    rb->nb++;
}

/* Inserts c before position p (which lower_bound or at gave). */
static void insert_at(struct rebuild *rb, struct pos p, const struct rb_chunk *c)
{
    if (!rb->nb) {
        struct blk *b = tlog_xrealloc(NULL, sizeof *b);
        b->n = 1;
        b->e[0] = *c;
        blocks_insert(rb, 0, b);
        return;
    }
    if (p.b >= rb->nb) {                 /* at the very end */
        p.b = rb->nb - 1;
        p.i = rb->b[p.b]->n;
    }
    struct blk *b = rb->b[p.b];
    if (b->n == BLK) {                   /* split: the upper half to a new block */
        struct blk *nb = tlog_xrealloc(NULL, sizeof *nb);
        nb->n = BLK / 2;
        memcpy(nb->e, b->e + BLK / 2, (BLK / 2) * sizeof *b->e);
        b->n = BLK / 2;
        blocks_insert(rb, p.b + 1, nb);
        if (p.i > BLK / 2) {
            p.b++;
            p.i -= BLK / 2;
            b = nb;
        }
    }
    memmove(b->e + p.i + 1, b->e + p.i, (b->n - p.i) * sizeof *b->e);
    b->e[p.i] = *c;
    b->n++;
    rb->first[p.b] = b->e[0].addr;
}

/* Erases the chunk at p; p then names the one after. */
static void erase_at(struct rebuild *rb, struct pos *p)
{
    struct blk *b = rb->b[p->b];
    memmove(b->e + p->i, b->e + p->i + 1, (b->n - p->i - 1) * sizeof *b->e);
    b->n--;
    if (b->n) {
        rb->first[p->b] = b->e[0].addr;
        return;
    }
    free(b);
    memmove(rb->b + p->b, rb->b + p->b + 1, (rb->nb - p->b - 1) * sizeof *rb->b);
    memmove(rb->first + p->b, rb->first + p->b + 1, (rb->nb - p->b - 1) * sizeof *rb->first);
    rb->nb--;
    p->i = 0;
}

static void note_pre(struct rebuild *rb, const struct rb_chunk *c)
{
    if (!rb->recording || !in_use_state(c->state))
        return;
    struct rthread *t = &rb->th[rb->cur_thread];
    if (t->npre < 0)
        return;
    if (t->npre == PRE_MAX) {
        t->npre = -1;
        return;
    }
    t->pre[t->npre].addr = c->addr;
    t->pre[t->npre].size = c->size;
    t->pre[t->npre].state = c->state;
    t->npre++;
}

/* ---- bin lists ------------------------------------------------------------------------ */

static struct rb_chunk *find_mut(struct rebuild *rb, uint64_t addr)
{
    struct pos p = lower_bound(rb, addr);
    struct rb_chunk *e = at(rb, &p);
    return e && e->addr == addr ? e : NULL;
}

const struct rb_chunk *rebuild_find(const struct rebuild *rb, uint64_t addr)
{
    return find_mut((struct rebuild *)rb, addr);
}

size_t rebuild_nlists(const struct rebuild *rb) { return rb->nlists; }
const struct rb_list *rebuild_list(const struct rebuild *rb, size_t i) { return &rb->lists[i]; }

void rebuild_observe(struct rebuild *rb, rb_observer *fn, void *arg)
{
    rb->observer = fn;
    rb->observer_arg = arg;
}

static int listed_state(int s)
{
    return s == TLOG_S_TCACHE || s == TLOG_S_FASTBIN || s == TLOG_S_UNSORTED || s == TLOG_S_SMALLBIN ||
           s == TLOG_S_LARGEBIN || s == TLOG_S_REMOTE;
}

/* The list a chunk in state `state` belongs on, made when new. */
static int32_t list_for(struct rebuild *rb, const struct rb_chunk *c)
{
    struct rb_list l = { c->state, -1, -1, 0, 0, 0, 0 };
    if (c->state == TLOG_S_TCACHE)
        l.thread = c->thread;
    else
        l.arena = rebuild_arena_of(rb, c->addr);
    l.bin = c->state == TLOG_S_REMOTE ? 0 : tlog_bin(c->state, c->size);
    uint64_t key = (uint64_t)l.state << 56 | (uint64_t)(uint32_t)(l.arena + 1) << 40 |
                   (uint64_t)(uint32_t)(l.thread + 1) << 16 | (uint32_t)(l.bin + 1);
    int fresh;
    uint32_t number = tlog_number(&rb->lkeys, key, &fresh);
    if (fresh) {
        if (rb->nlists == rb->caplists) {
            rb->caplists = rb->caplists * 2 + 64;
            rb->lists = tlog_xrealloc(rb->lists, rb->caplists * sizeof *rb->lists);
        }
        rb->lists[rb->nlists++] = l;
    }
    return (int32_t)number;
}

/* Takes chunk c (in the map) off its list, if on one. */
static void list_unlink(struct rebuild *rb, struct rb_chunk *c)
{
    if (c->list < 0)
        return;
    struct rb_list *l = &rb->lists[c->list];
    struct rb_chunk *p = c->lprev ? find_mut(rb, c->lprev) : NULL;
    struct rb_chunk *n = c->lnext ? find_mut(rb, c->lnext) : NULL;
    if (p) p->lnext = c->lnext; else l->head = c->lnext;
    if (n) n->lprev = c->lprev; else l->tail = c->lprev;
    l->n--;
    c->list = -1;
    c->lprev = c->lnext = 0;
}

/* Puts chunk c (in the map) on list `list` between prev and next (0: the
 * ends), which must be adjacent there. */
static void list_link_between(struct rebuild *rb, struct rb_chunk *c, int32_t list, uint64_t prev, uint64_t next)
{
    struct rb_list *l = &rb->lists[list];
    struct rb_chunk *p = prev ? find_mut(rb, prev) : NULL;
    struct rb_chunk *n = next ? find_mut(rb, next) : NULL;
    c->list = list;
    c->lprev = p ? prev : 0;
    c->lnext = n ? next : 0;
    if (p) p->lnext = c->addr; else l->head = c->addr;
    if (n) n->lprev = c->addr; else l->tail = c->addr;
    l->n++;
}

/* Puts chunk c (in the map) on its state's list where the allocator would. */
static void list_link(struct rebuild *rb, struct rb_chunk *c)
{
    c->list = -1;
    c->lprev = c->lnext = 0;
    if (!listed_state(c->state))
        return;
    int32_t list = list_for(rb, c);
    struct rb_list *l = &rb->lists[list];
    if (rb->at_tail || !l->n) {
        list_link_between(rb, c, list, l->tail, 0);
    } else if (c->state != TLOG_S_LARGEBIN) {
        list_link_between(rb, c, list, 0, l->head);
    } else {
        /* Largest first; after the first chunk of an equal size. */
        const struct rb_chunk *last = find_mut(rb, l->tail);
        if (last && c->size < last->size) {
            list_link_between(rb, c, list, l->tail, 0);
            return;
        }
        uint64_t prev = 0, at = l->head;
        const struct rb_chunk *x;
        while (at && (x = find_mut(rb, at)) != NULL && c->size < x->size) {
            prev = at;
            at = x->lnext;
        }
        if (at && (x = find_mut(rb, at)) != NULL && x->size == c->size) {
            prev = at;
            at = x->lnext;
        }
        list_link_between(rb, c, list, prev, at);
    }
}

static void observe(struct rebuild *rb, int add, const struct rb_chunk *c)
{
    if (rb->observer)
        rb->observer(add, c, rb->observer_arg);
}

/* A chunk of the map changes (state, address or size): off its list,
 * changed by fn's caller between, then back on it at the same place when
 * keep_place, else where the allocator puts a chunk in its new state.
 * Observers see the old one go and the new one come. */
static void change_begin(struct rebuild *rb, struct rb_chunk *c, uint64_t *prev, uint64_t *next)
{
    observe(rb, 0, c);
    *prev = c->lprev;
    *next = c->lnext;
    list_unlink(rb, c);
}

static void change_end(struct rebuild *rb, struct rb_chunk *c, int32_t old_list, uint64_t prev, uint64_t next)
{
    if (old_list >= 0)
        list_link_between(rb, c, old_list, prev, next);
    else
        list_link(rb, c);
    observe(rb, 1, c);
}

/* `set`: cut whatever overlaps [c->addr, +size), then insert c (unless gone). */
static void set_chunk(struct rebuild *rb, const struct rb_chunk *c)
{
    uint64_t addr = c->addr, end = c->addr + c->size, lp, ln;
    struct pos p = lower_bound(rb, addr);
    struct rb_chunk *e = at(rb, &p);
    if (e && e->addr == addr && e->size == c->size) {     /* the common case: a new state */
        note_pre(rb, e);
        count(rb, e->state, e->size, -1);
        change_begin(rb, e, &lp, &ln);
        if (c->state == TLOG_S_GONE) {
            erase_at(rb, &p);
            rb->tot.chunks--;
        } else {
            *e = *c;
            change_end(rb, e, -1, 0, 0);
            count(rb, c->state, c->size, +1);
        }
        return;
    }
    struct rb_chunk *q = before_pos(rb, p);
    if (q && q->addr + q->size > addr) {                   /* the chunk before reaches in */
        note_pre(rb, q);
        uint64_t qend = q->addr + q->size;
        int32_t ql = q->list;
        change_begin(rb, q, &lp, &ln);
        struct rb_chunk tail = *q;
        count(rb, q->state, qend - addr, -1);
        q->size = addr - q->addr;
        change_end(rb, q, ql, lp, ln);
        if (qend > end) {                                  /* ... and past: it keeps its tail */
            tail.addr = end;
            tail.size = qend - end;
            count(rb, tail.state, tail.size, +1);
            insert_at(rb, p, &tail);
            rb->tot.chunks++;
            struct rb_chunk *t = find_mut(rb, end);
            int keep = rb->at_tail;
            rb->at_tail = 1;                               /* a piece of a listed chunk: at the end */
            change_end(rb, t, -1, 0, 0);
            rb->at_tail = keep;
            p = lower_bound(rb, addr);
        }
    }
    while ((e = at(rb, &p)) != NULL && e->addr < end) {
        note_pre(rb, e);
        uint64_t eend = e->addr + e->size;
        int32_t el = e->list;
        change_begin(rb, e, &lp, &ln);
        if (eend > end) {                                  /* keeps what lies past the end */
            count(rb, e->state, end - e->addr, -1);
            e->addr = end;
            e->size = eend - end;
            if (p.i == 0)
                rb->first[p.b] = end;
            change_end(rb, e, el, lp, ln);
            break;
        }
        count(rb, e->state, e->size, -1);
        erase_at(rb, &p);
        rb->tot.chunks--;
    }
    if (c->state != TLOG_S_GONE && c->size) {
        insert_at(rb, p, c);
        count(rb, c->state, c->size, +1);
        rb->tot.chunks++;
        change_end(rb, find_mut(rb, addr), -1, 0, 0);
    }
}

/* The chunk holding addr, or NULL. */
static const struct rb_chunk *find_holding(struct rebuild *rb, uint64_t addr)
{
    struct pos p = lower_bound(rb, addr);
    struct rb_chunk *e = at(rb, &p);
    if (e && e->addr == addr)
        return e;
    e = before_pos(rb, p);
    return e && e->addr + e->size > addr ? e : NULL;
}

int rebuild_foreach(const struct rebuild *rb, int (*fn)(const struct rb_chunk *, void *), void *arg)
{
    for (size_t k = 0; k < rb->nb; k++)
        for (uint32_t i = 0; i < rb->b[k]->n; i++) {
            int r = fn(&rb->b[k]->e[i], arg);
            if (r)
                return r;
        }
    return 0;
}

/* ---- regions (from sys records), for the arena of a chunk ------------------------------- */

static size_t region_find(const struct rebuild *rb, uint64_t addr)
{
    size_t lo = 0, hi = rb->nreg;        /* first region with start > addr */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (rb->reg[mid].start <= addr) lo = mid + 1; else hi = mid;
    }
    return lo;
}

size_t rebuild_regions(const struct rebuild *rb, const struct rb_region **out)
{
    *out = rb->reg;
    return rb->nreg;
}

int rebuild_arena_of(const struct rebuild *rb, uint64_t addr)
{
    size_t k = region_find(rb, addr);
    return k && addr < rb->reg[k - 1].end ? rb->reg[k - 1].arena : -1;
}

static void region_cut(struct rebuild *rb, uint64_t start, uint64_t end)
{
    for (size_t k = 0; k < rb->nreg;) {
        struct rb_region *r = &rb->reg[k];
        if (r->end <= start || r->start >= end) {
            k++;
        } else if (r->start < start && r->end > end) {     /* a hole in the middle */
            struct rb_region hi = { end, r->end, r->arena, r->kind };
            r->end = start;
            if (rb->nreg == rb->capreg) {
                rb->capreg = rb->capreg * 2 + 8;
                rb->reg = tlog_xrealloc(rb->reg, rb->capreg * sizeof *rb->reg);
            }
            memmove(rb->reg + k + 2, rb->reg + k + 1, (rb->nreg - k - 1) * sizeof *rb->reg);
            rb->reg[k + 1] = hi;
            rb->nreg++;
            return;
        } else if (r->start < start) {
            r->end = start;
            k++;
        } else if (r->end > end) {
            r->start = end;
            k++;
        } else {
            memmove(r, r + 1, (rb->nreg - k - 1) * sizeof *r);
            rb->nreg--;
        }
    }
}

static void region_add(struct rebuild *rb, uint64_t start, uint64_t end, int arena, int kind)
{
    if (end <= start)
        return;
    region_cut(rb, start, end);
    size_t k = region_find(rb, start);
    if (k && rb->reg[k - 1].end == start && rb->reg[k - 1].arena == arena) {   /* the break grew */
        rb->reg[k - 1].end = end;
        return;
    }
    if (rb->nreg == rb->capreg) {
        rb->capreg = rb->capreg * 2 + 8;
        rb->reg = tlog_xrealloc(rb->reg, rb->capreg * sizeof *rb->reg);
    }
    memmove(rb->reg + k + 1, rb->reg + k, (rb->nreg - k) * sizeof *rb->reg);
    rb->reg[k] = (struct rb_region){ start, end, arena, kind };
    rb->nreg++;
}

static void apply_sys(struct rebuild *rb, const struct tlog_event *ev)
{
    uint64_t a = ev->addr, s = ev->size;
    int arena = (int)ev->arena;
    switch (ev->sys_kind) {
    case TLOG_SYS_BRK: case TLOG_SYS_SEGMENT: case TLOG_SYS_HEAP_NEW:
        region_add(rb, a, a + s, arena, ev->sys_kind);
        break;
    case TLOG_SYS_SBRK_SHRINK:
        region_cut(rb, a, a + s);
        break;
    case TLOG_SYS_HEAP_GROW: case TLOG_SYS_HEAP_SHRINK: {
        /* size is the sub-heap's new size: its region is [a, a + s). */
        size_t k = region_find(rb, a);
        uint64_t old_end = k && rb->reg[k - 1].start == a ? rb->reg[k - 1].end : a;
        if (a + s < old_end)
            region_cut(rb, a + s, old_end);
        else
            region_add(rb, a, a + s, arena, TLOG_SYS_HEAP_NEW);
        break;
    }
    case TLOG_SYS_HEAP_UNMAP: {
        size_t k = region_find(rb, a);
        if (k && rb->reg[k - 1].start == a)
            region_cut(rb, a, rb->reg[k - 1].end);
        break;
    }
    default:    /* chunk mappings and madvise: the chunks' own records tell */
        break;
    }
}

/* ---- events ---------------------------------------------------------------------- */

static void contradiction(struct rebuild *rb, const struct tlog_event *ev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void contradiction(struct rebuild *rb, const struct tlog_event *ev, const char *fmt, ...)
{
    if (rb->ncontra < MSG_MAX) {
        char what[256], d[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        tlog_describe(ev, d, sizeof d);
        if (asprintf(&rb->msg[rb->ncontra], "event %llu (%s): %s", (unsigned long long)ev->number, d, what) < 0)
            rb->msg[rb->ncontra] = NULL;
    }
    rb->ncontra++;
}

static struct rthread *thread_of(struct rebuild *rb, int t)
{
    if (t >= rb->nth) {
        int n = t + 1 > rb->nth * 2 ? t + 1 : rb->nth * 2;
        rb->th = tlog_xrealloc(rb->th, (size_t)n * sizeof *rb->th);
        memset(rb->th + rb->nth, 0, (size_t)(n - rb->nth) * sizeof *rb->th);
        rb->nth = n;
    }
    return &rb->th[t];
}

/* Was chunk (addr, size) in use before this call's steps? */
static int was_in_use(struct rebuild *rb, struct rthread *t, uint64_t addr, uint64_t size)
{
    for (int i = 0; i < t->npre; i++)
        if (t->pre[i].addr == addr && t->pre[i].size == size)
            return 1;
    const struct rb_chunk *c = rebuild_find(rb, addr);
    return (c && c->size == size && in_use_state(c->state)) || t->npre < 0;
}

static void check_free(struct rebuild *rb, struct rthread *t, const struct tlog_event *ev,
                       uint64_t addr, uint64_t size)
{
    if (was_in_use(rb, t, addr, size))
        return;
    const struct rb_chunk *c = find_holding(rb, addr);
    if (c)
        contradiction(rb, ev, "frees chunk %#llx (%llu bytes) but the rebuilt heap has %#llx (%llu bytes) %s there",
                      (unsigned long long)addr, (unsigned long long)size, (unsigned long long)c->addr,
                      (unsigned long long)c->size, tlog_state_name(c->state));
    else
        contradiction(rb, ev, "frees chunk %#llx (%llu bytes) but the rebuilt heap has no chunk there",
                      (unsigned long long)addr, (unsigned long long)size);
}

/* Nothing in use may overlap a new chunk but what this call's own steps
 * set, and for realloc the old chunk. */
static void check_alloc(struct rebuild *rb, struct rthread *t, const struct tlog_event *ev)
{
    uint64_t addr = ev->addr, end = ev->addr + ev->size;
    uint64_t old = ev->old_size ? ev->old_addr : 0, old_end = old + ev->old_size;
    struct pos p = lower_bound(rb, addr);
    struct rb_chunk *e = before_pos(rb, p);
    if (!(e && e->addr + e->size > addr))
        e = at(rb, &p);
    else if (p.i)                           /* the chunk before reaches in: start there */
        p.i--;
    else
        p = (struct pos){ p.b - 1, rb->b[p.b - 1]->n - 1 };
    for (; e && e->addr < end; p.i++, e = at(rb, &p)) {
        int own = e->thread == ev->thread && e->event >= t->last_call;
        int old_chunk = old && e->addr >= old && e->addr + e->size <= old_end;
        /* A snapshot cannot see other threads' caches: their chunks are
         * in use in it, and come out of the cache later. */
        int cached = e->event >= rb->snap_from && e->event <= rb->snap_to &&
                     (ev->decision == TLOG_D_TCACHE || ev->decision == TLOG_D_TCACHE_MID);
        if (in_use_state(e->state) && !own && !old_chunk && !cached) {
            contradiction(rb, ev, "allocates over chunk %#llx (%llu bytes), in use since event %llu",
                          (unsigned long long)e->addr, (unsigned long long)e->size, (unsigned long long)e->event);
            return;
        }
    }
}

static void set_from(struct rebuild *rb, const struct tlog_event *ev, uint64_t addr, uint64_t size,
                     int state, uint64_t site)
{
    struct rb_chunk c = { .addr = addr, .size = size, .event = ev->number, .site = site, .list = -1,
                          .thread = ev->thread, .state = (uint8_t)state };
    set_chunk(rb, &c);
}

static void apply_call(struct rebuild *rb, const struct tlog_event *ev)
{
    struct rthread *t = thread_of(rb, ev->thread);
    int type = ev->type, d = ev->decision;
    int realloc_like = type == TLOG_REALLOC || type == TLOG_REALLOCARRAY;
    int frees = type == TLOG_FREE || type == TLOG_FREE_SIZED || type == TLOG_FREE_ALIGNED_SIZED;
    uint64_t site = ev->nsite ? ev->site[0] : 0;
    if (frees && ev->has_chunk) {
        check_free(rb, t, ev, ev->addr, ev->size);
        if (d == TLOG_D_TCACHE || d == TLOG_D_TCACHE_MID)
            set_from(rb, ev, ev->addr, ev->size, TLOG_S_TCACHE, 0);
    } else if (realloc_like && ev->old_size && d != TLOG_D_FAILED) {
        /* The old chunk goes: freed (to 0 bytes), moved away, or resized. */
        const struct rb_chunk *oldc = rebuild_find(rb, ev->old_addr);
        int old_mapped = oldc && oldc->state == TLOG_S_MMAPPED;
        check_free(rb, t, ev, ev->old_addr, ev->old_size);
        if (!ev->has_chunk) {
            if (d == TLOG_D_TCACHE || d == TLOG_D_TCACHE_MID)
                set_from(rb, ev, ev->old_addr, ev->old_size, TLOG_S_TCACHE, 0);
        } else {
            check_alloc(rb, t, ev);
            int mapped = d == TLOG_D_MREMAP || (d == TLOG_D_MOVED && ev->source == TLOG_D_MMAP) ||
                         (d == TLOG_D_IN_PLACE && old_mapped);
            set_from(rb, ev, ev->addr, ev->size, mapped ? TLOG_S_MMAPPED : TLOG_S_INUSE, site);
        }
    } else if (ev->has_chunk) {                 /* an allocation */
        check_alloc(rb, t, ev);
        int mapped = d == TLOG_D_MMAP || d == TLOG_D_MREMAP;
        set_from(rb, ev, ev->addr, ev->size, mapped ? TLOG_S_MMAPPED : TLOG_S_INUSE, site);
    }
    t->last_call = ev->number + 1;
    t->npre = 0;
}

void rebuild_apply(struct rebuild *rb, const struct tlog_event *ev)
{
    rb->cur_thread = ev->thread;
    struct rthread *t = thread_of(rb, ev->thread);
    (void)t;
    if (tlog_is_call(ev->type)) {
        rb->recording = 0;
        apply_call(rb, ev);
        return;
    }
    rb->recording = 1;
    switch (ev->type) {
    case TLOG_SET:
        rb->at_tail = ev->at_tail;
        set_from(rb, ev, ev->addr, ev->size, ev->state, 0);
        rb->at_tail = 0;
        break;
    case TLOG_SYS:
        apply_sys(rb, ev);
        break;
    case TLOG_SNAPSHOT_END:
        rb->snap_to = ev->number;
        break;
    case TLOG_SNAPSHOT:
        rb->snap_from = ev->number;
        rb->snap_to = UINT64_MAX;
        clear_map(rb);
        for (int i = 0; i < rb->nth; i++)
            rb->th[i].npre = 0;
        break;
    default:
        break;
    }
}
