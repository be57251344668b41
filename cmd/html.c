/*
 * ptalloc html FILE [-o OUT] [--title TEXT] [--no-symbols]
 *
 * One self-contained page that draws the heap of a traced run and steps
 * through its events (cmd/page/: the page's HTML, CSS and JavaScript, built
 * into the command).  The command does the reading: it rebuilds the heap
 * event by event (cmd/rebuild.c) and records every change the rebuild
 * makes, so that the page only replays changes, forwards and backwards,
 * and never needs to know the log format or the allocator's rules.
 *
 * What the page gets, in two script elements:
 *
 *   ptalloc-meta  JSON: the log's header, threads, call sites (symbolized),
 *                 marks, the bins' lists, the totals over time for the
 *                 plots, and the tour when the program made one;
 *   ptalloc-data  base64 of a gzip stream of the events (format below),
 *                 unpacked by the browser's DecompressionStream.
 *
 * The event stream: numbers are LEB128 varints (u), signed ones zigzag (z);
 * addresses and sizes are in 16-byte units; "A" is a running address, the
 * last one written (of events and of changes, kept apart).  Per event:
 *
 *   u8 type, u thread,
 *   calls:  u ns since the previous call, u8 decision byte, u8 flags (1 chunk,
 *           2 old chunk, 4 site),
 *           u request, [u count, u size: calloc, reallocarray],
 *           [u8 source: realloc, reallocarray],
 *           [z addr-A, u size], [z oldaddr-A, u oldsize],
 *           [u alignment: memalign family], [u pad, u result: malloc_trim],
 *           [u site + 1]
 *   set:    u8 state | 0x80 when z addr-A, u size follow (state gone, or
 *           the window's first event); else the chunk its last change adds
 *   sys:    u8 kind, u arena, z addr-A, u size, [z newaddr-A, u newsize: mremap]
 *   consolidate, arena_new, arena: u arena;  arena_new: z addr-A
 *   thread_start: u tid;  fork: u child pid;  mark: u label number;
 *   walk: u ordinal;  modules: u how many;  others: nothing
 *   u changes, then each:
 *     u8 op: bit 0 added (else removed), bit 1 region (else chunk),
 *     chunk added:  u8 state | 0x80 on a list, z addr-A, u size,
 *             u thread + 1, [u list, u place: 0 the head, 1 the tail, 2 + k
 *             after the list's first k], u site + 1 (0 none),
 *             u event - the chunk's event (how long ago it was set)
 *     chunk removed: z addr-A
 *     region: z start-A, u size, u arena, u8 kind
 *
 * Changes go forwards only: the page goes back by starting again from a
 * copy of its heap it kept on the way (cmd/page/viewer.js, checkpoints).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "cmds.h"
#include "log.h"
#include "symbols.h"

#define SUB "html"
#define PLOT_POINTS 2048        /* the plots' buckets, at most */

/* The page, built in: cmd/page/viewer.{html,css,js}. */
#define EMBED(name, file)                                                         \
    __asm__(".section .rodata\n.global " #name "\n.type " #name ", @object\n"    \
            ".balign 16\n" #name ":\n.incbin \"" file "\"\n.byte 0\n.previous\n")
EMBED(page_html, "cmd/page/viewer.html");
EMBED(page_css, "cmd/page/viewer.css");
EMBED(page_js, "cmd/page/viewer.js");
extern const char page_html[], page_css[], page_js[];

/* ---- a growing byte buffer --------------------------------------------------- */

struct buf { uint8_t *p; size_t n, cap; };

static void put_bytes(struct buf *b, const void *s, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 4096;
        b->p = tlog_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void put_u8(struct buf *b, unsigned v)
{
    uint8_t c = (uint8_t)v;
    put_bytes(b, &c, 1);
}

static void put_u(struct buf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            t[n] |= 0x80;
        n++;
    } while (v);
    put_bytes(b, t, n);
}

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static void put_z(struct buf *b, int64_t v) { put_u(b, zigzag(v)); }

/* An address, against the running one. */
static void put_addr(struct buf *b, uint64_t *run, uint64_t addr)
{
    put_z(b, (int64_t)((addr >> 4) - (*run >> 4)));
    *run = addr;
}

/* ---- the totals over time, for the plots ------------------------------------------ */

struct point { uint64_t heap, in_use, free, sys; };

struct plot {
    struct point p[PLOT_POINTS];
    size_t n;                   /* points filled */
    uint64_t width;             /* events per point (a power of two) */
};

/* The totals after event `number`: each point holds the largest values
 * of its events (a peak one event long still shows). */
static void plot_add(struct plot *pl, uint64_t number, const struct point *v)
{
    while (number / pl->width >= PLOT_POINTS) {
        for (size_t i = 0; i < PLOT_POINTS / 2; i++) {
            struct point a = pl->p[2 * i], b = 2 * i + 1 < pl->n ? pl->p[2 * i + 1] : a;
            pl->p[i] = (struct point){ a.heap > b.heap ? a.heap : b.heap, a.in_use > b.in_use ? a.in_use : b.in_use,
                                       a.free > b.free ? a.free : b.free, a.sys > b.sys ? a.sys : b.sys };
        }
        pl->n = (pl->n + 1) / 2;
        pl->width *= 2;
    }
    size_t k = number / pl->width;
    if (k >= pl->n) {
        pl->p[k] = *v;
        pl->n = k + 1;
        return;
    }
    struct point *q = &pl->p[k];
    if (v->heap > q->heap) q->heap = v->heap;
    if (v->in_use > q->in_use) q->in_use = v->in_use;
    if (v->free > q->free) q->free = v->free;
    if (v->sys > q->sys) q->sys = v->sys;
}

/* ---- the writer's state --------------------------------------------------------------- */

struct html {
    struct buf ev;              /* the event stream */
    struct buf ch;              /* the current event's changes */
    uint32_t nch;
    uint64_t ev_run, ch_run;    /* running addresses */
    uint64_t number;            /* the log's number of the event being written */
    uint64_t index;             /* its place in the page (the page's first event is 0) */
    uint64_t last_ns;
    uint64_t mapped;            /* bytes of mmapped chunks */
    const struct rebuild *rb;   /* for list places */
    int whole;                  /* the event being written has the whole heap as its changes */
    struct tlog_numbers sites;  /* innermost frame -> call site number */
    struct plot plot;
    struct rb_region *reg;      /* the regions before a sys event */
    size_t nreg;
    struct sym_maps mods;
    char **marks;               /* labels, by number */
    uint64_t *mark_event;
    size_t nmarks;
};

/* Where a chunk just linked sits in its list: 0 the head, 1 the tail,
 * 2 + k the k-th from the head (a sorted large bin, a chunk put back). */
static uint64_t list_place(const struct rebuild *rb, const struct rb_chunk *c)
{
    if (!c->lprev)
        return 0;
    if (!c->lnext)
        return 1;
    uint64_t k = 0;
    const struct rb_chunk *x;
    for (uint64_t at = rebuild_list(rb, (size_t)c->list)->head; at && at != c->addr &&
         (x = rebuild_find(rb, at)) != NULL; at = x->lnext)
        k++;
    return 2 + k;
}

static void on_change(int add, const struct rb_chunk *c, void *arg)
{
    struct html *h = arg;
    struct buf *b = &h->ch;
    if (c->state == TLOG_S_MMAPPED)
        h->mapped += add ? c->size : -c->size;
    put_u8(b, add ? 1 : 0);
    if (!add) {                         /* the page has it: its address is enough */
        put_addr(b, &h->ch_run, c->addr);
        h->nch++;
        return;
    }
    put_u8(b, c->state | (c->list >= 0 ? 0x80 : 0));
    put_addr(b, &h->ch_run, c->addr);
    put_u(b, c->size >> 4);
    put_u(b, (uint64_t)(c->thread + 1));
    if (c->list >= 0) {
        put_u(b, (uint64_t)c->list);
        put_u(b, list_place(h->rb, c));
    }
    put_u(b, c->site ? (uint64_t)tlog_number(&h->sites, c->site, NULL) + 1 : 0);
    put_u(b, h->number - c->event);
    h->nch++;
}

static void region_change(struct html *h, int add, const struct rb_region *r)
{
    struct buf *b = &h->ch;
    put_u8(b, (add ? 1 : 0) | 2);
    put_addr(b, &h->ch_run, r->start);
    put_u(b, (r->end - r->start) >> 4);
    put_u(b, (uint64_t)r->arena);
    put_u8(b, (unsigned)r->kind);
    h->nch++;
}

static int same_region(const struct rb_region *a, const struct rb_region *b)
{
    return a->start == b->start && a->end == b->end && a->arena == b->arena && a->kind == b->kind;
}

/* The regions a sys event changed: those gone, then those new. */
static void region_diff(struct html *h, const struct rebuild *rb)
{
    const struct rb_region *now;
    size_t n = rebuild_regions(rb, &now);
    for (size_t i = 0; i < h->nreg; i++) {
        size_t j = 0;
        while (j < n && !same_region(&h->reg[i], &now[j]))
            j++;
        if (j == n)
            region_change(h, 0, &h->reg[i]);
    }
    for (size_t j = 0; j < n; j++) {
        size_t i = 0;
        while (i < h->nreg && !same_region(&h->reg[i], &now[j]))
            i++;
        if (i == h->nreg)
            region_change(h, 1, &now[j]);
    }
}

static void remember_regions(struct html *h, const struct rebuild *rb)
{
    const struct rb_region *now;
    h->nreg = rebuild_regions(rb, &now);
    h->reg = tlog_xrealloc(h->reg, (h->nreg + 1) * sizeof *h->reg);
    memcpy(h->reg, now, h->nreg * sizeof *h->reg);
}

static uint64_t regions_bytes(const struct rebuild *rb)
{
    const struct rb_region *r;
    size_t n = rebuild_regions(rb, &r);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += r[i].end - r[i].start;
    return sum;
}

static void event_out(struct html *h, const struct tlog_event *ev)
{
    struct buf *b = &h->ev;
    put_u8(b, (unsigned)ev->type);
    put_u(b, (uint64_t)ev->thread);
    if (tlog_is_call(ev->type)) {
        if (!h->last_ns)                /* times from the first call */
            h->last_ns = ev->ns;
        put_u(b, ev->ns >= h->last_ns ? ev->ns - h->last_ns : 0);
        if (ev->ns > h->last_ns)
            h->last_ns = ev->ns;
        int realloc_like = ev->type == TLOG_REALLOC || ev->type == TLOG_REALLOCARRAY;
        int old = realloc_like && ev->old_size;
        int flags = (ev->has_chunk ? 1 : 0) | (old ? 2 : 0) | (ev->nsite ? 4 : 0);
        put_u8(b, (unsigned)(ev->decision | ev->merged_prev << 5 | ev->merged_next << 6));
        put_u8(b, (unsigned)flags);
        put_u(b, ev->request);
        if (ev->type == TLOG_CALLOC || ev->type == TLOG_REALLOCARRAY) {
            put_u(b, ev->count);
            put_u(b, ev->elsize);
        }
        if (realloc_like)
            put_u8(b, (unsigned)ev->source);
        if (ev->has_chunk) {
            put_addr(b, &h->ev_run, ev->addr);
            put_u(b, ev->size >> 4);
        }
        if (old) {
            put_addr(b, &h->ev_run, ev->old_addr);
            put_u(b, ev->old_size >> 4);
        }
        if (ev->type == TLOG_MEMALIGN || ev->type == TLOG_ALIGNED_ALLOC || ev->type == TLOG_POSIX_MEMALIGN ||
            ev->type == TLOG_FREE_ALIGNED_SIZED)
            put_u(b, ev->alignment);
        if (ev->type == TLOG_MALLOC_TRIM) {
            put_u(b, ev->pad);
            put_u(b, ev->result);
        }
        if (ev->nsite)
            put_u(b, (uint64_t)tlog_number(&h->sites, ev->site[0], NULL) + 1);
        return;
    }
    switch (ev->type) {
    case TLOG_SET:                      /* the chunk is the change that adds it, but when gone */
        if (ev->state == TLOG_S_GONE || h->whole) {
            put_u8(b, (unsigned)ev->state | 0x80);
            put_addr(b, &h->ev_run, ev->addr);
            put_u(b, ev->size >> 4);
        } else {
            put_u8(b, (unsigned)ev->state);
        }
        break;
    case TLOG_SYS:
        put_u8(b, (unsigned)ev->sys_kind);
        put_u(b, ev->arena);
        put_addr(b, &h->ev_run, ev->addr);
        put_u(b, ev->size >> 4);
        if (ev->sys_kind == TLOG_SYS_MREMAP) {
            put_addr(b, &h->ev_run, ev->new_addr);
            put_u(b, ev->new_size >> 4);
        }
        break;
    case TLOG_CONSOLIDATE: case TLOG_ARENA:
        put_u(b, ev->arena);
        break;
    case TLOG_ARENA_NEW:
        put_u(b, ev->arena);
        put_addr(b, &h->ev_run, ev->addr);
        break;
    case TLOG_THREAD_START: case TLOG_FORK: case TLOG_WALK:
        put_u(b, ev->value);
        break;
    case TLOG_MARK:
        h->marks = tlog_xrealloc(h->marks, (h->nmarks + 1) * sizeof *h->marks);
        h->mark_event = tlog_xrealloc(h->mark_event, (h->nmarks + 1) * sizeof *h->mark_event);
        h->marks[h->nmarks] = strndup(ev->label, ev->label_len);
        if (!h->marks[h->nmarks])
            cmd_die(SUB, NULL, "out of memory");
        h->mark_event[h->nmarks] = ev->number;
        put_u(b, h->nmarks++);
        break;
    case TLOG_MODULES:
        put_u(b, (uint64_t)ev->nmodules);
        for (int i = 0; i < ev->nmodules; i++) {
            const struct tlog_module *m = &ev->modules[i];
            if (sym_maps_add(&h->mods, m->start, m->start + m->size, m->offset, m->path) < 0)
                cmd_die(SUB, NULL, "out of memory");
        }
        break;
    default:
        break;
    }
}

/* ---- the page ---------------------------------------------------------------------------- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* One line: the page hands it to the browser's decoder as it is. */
static void write_base64(FILE *f, const uint8_t *p, size_t n)
{
    char line[4 * 3072 / 3 + 8];
    while (n) {
        size_t take = n < 3072 ? n : 3072, k = 0;
        for (size_t i = 0; i < take; i += 3) {
            uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < take ? (uint32_t)p[i + 1] << 8 : 0) |
                         (i + 2 < take ? p[i + 2] : 0);
            line[k++] = B64[v >> 18];
            line[k++] = B64[(v >> 12) & 63];
            line[k++] = i + 1 < take ? B64[(v >> 6) & 63] : '=';
            line[k++] = i + 2 < take ? B64[v & 63] : '=';
        }
        fwrite(line, 1, k, f);
        p += take;
        n -= take;
    }
}

/* gzip of the stream, for the browser's DecompressionStream("gzip"). */
static uint8_t *gzip(const struct buf *in, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        cmd_die(SUB, NULL, "zlib: cannot start compressing");
    size_t cap = deflateBound(&z, in->n) + 64;
    uint8_t *out = tlog_xrealloc(NULL, cap);
    z.next_in = in->p;
    z.avail_in = (uInt)in->n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (in->n > 0xffffffffu || deflate(&z, Z_FINISH) != Z_STREAM_END)
        cmd_die(SUB, NULL, "zlib: cannot compress %zu bytes", in->n);
    *out_len = z.total_out;
    deflateEnd(&z);
    return out;
}

static void json_u64_array(FILE *f, const char *key, const struct point *p, size_t n, size_t field)
{
    fprintf(f, ",\"%s\":[", key);
    for (size_t i = 0; i < n; i++) {
        const uint64_t *v = (const uint64_t *)&p[i];
        fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)v[field]);
    }
    fputc(']', f);
}

/* What the page's meta holds besides the stream: see the top of the file. */
struct meta {
    const char *title, *program;
    unsigned pid, page_size;
    const struct tlog_thread *threads;
    int nthreads;
    int live;                   /* a running process's heap, no log */
    uint64_t events;            /* in the page */
    uint64_t first;             /* the log's number of the page's first event */
    uint64_t contradictions;
    int ended;
    const struct rebuild *rb;   /* its lists */
    struct html *h;
    struct symbolizer *sym;
};

static void write_meta(FILE *f, const struct meta *m)
{
    const struct html *h = m->h;
    fprintf(f, "{\"format\":1,\"title\":");
    cmd_json_string(f, m->title, strlen(m->title));
    fprintf(f, ",\"program\":");
    cmd_json_string(f, m->program ? m->program : "", m->program ? strlen(m->program) : 0);
    fprintf(f, ",\"pid\":%u,\"pageSize\":%u,\"events\":%llu,\"first\":%llu,\"ended\":%s,\"live\":%s,"
            "\"contradictions\":%llu", m->pid, m->page_size, (unsigned long long)m->events, (unsigned long long)m->first,
            m->ended ? "true" : "false", m->live ? "true" : "false", (unsigned long long)m->contradictions);
    fprintf(f, ",\"threads\":[");
    for (int i = 0; i < m->nthreads; i++)
        fprintf(f, "%s%u", i ? "," : "", m->threads[i].tid);
    fprintf(f, "],\"sites\":[");
    char buf[1024];
    for (size_t i = 0; i < h->sites.n; i++) {
        const char *s = m->sym ? sym_format(m->sym, h->sites.keys[i], buf, sizeof buf) : NULL;
        if (!s) {
            snprintf(buf, sizeof buf, "%#llx", (unsigned long long)h->sites.keys[i]);
            s = buf;
        }
        fputs(i ? "," : "", f);
        cmd_json_string(f, s, strlen(s));
    }
    fprintf(f, "],\"lists\":[");
    for (size_t i = 0; i < rebuild_nlists(m->rb); i++) {
        const struct rb_list *l = rebuild_list(m->rb, i);
        fprintf(f, "%s[%d,%d,%d,%d]", i ? "," : "", l->state, l->arena, l->thread, l->bin);
    }
    fprintf(f, "],\"marks\":[");
    for (size_t i = 0; i < h->nmarks; i++) {
        fprintf(f, "%s[%llu,", i ? "," : "", (unsigned long long)h->mark_event[i]);
        cmd_json_string(f, h->marks[i], strlen(h->marks[i]));
        fputc(']', f);
    }
    fprintf(f, "],\"plot\":{\"width\":%llu", (unsigned long long)h->plot.width);
    json_u64_array(f, "heap", h->plot.p, h->plot.n, 0);
    json_u64_array(f, "inUse", h->plot.p, h->plot.n, 1);
    json_u64_array(f, "free", h->plot.p, h->plot.n, 2);
    json_u64_array(f, "system", h->plot.p, h->plot.n, 3);
    fprintf(f, "}}");
}

/* The template with its three markers filled: the style, the data, the
 * code.  The page's size in bytes, or -1 with a message in err. */
static long write_page(const char *path, const struct meta *m, const uint8_t *gz, size_t gzlen, char *err,
                       size_t errlen)
{
    /* Written beside and renamed over: a failure leaves no half page. */
    char *tmp;
    if (asprintf(&tmp, "%s.%d.tmp", path, (int)getpid()) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    const char *t = page_html;
    const char *marks[] = { "<!--@STYLE@-->", "<!--@DATA@-->", "<!--@CODE@-->" };
    for (int i = 0; i < 3; i++) {
        const char *at = strstr(t, marks[i]);
        if (!at) {
            fclose(f);
            unlink(tmp);
            free(tmp);
            snprintf(err, errlen, "the built-in page lacks %s", marks[i]);
            return -1;
        }
        fwrite(t, 1, (size_t)(at - t), f);
        if (i == 0) {
            fprintf(f, "<style>\n%s</style>", page_css);
        } else if (i == 1) {
            fprintf(f, "<script id=\"ptalloc-meta\" type=\"application/json\">");
            write_meta(f, m);
            fprintf(f, "</script>\n<script id=\"ptalloc-data\" type=\"text/plain\">\n");
            write_base64(f, gz, gzlen);
            fprintf(f, "\n</script>");
        } else {
            fprintf(f, "<script>\n%s</script>", page_js);
        }
        t = at + strlen(marks[i]);
    }
    fputs(t, f);
    long size = ftell(f);
    int bad = ferror(f);
    if (fclose(f) || bad || rename(tmp, path)) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno ? errno : EIO));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return size;
}

static void html_free(struct html *h)
{
    free(h->ev.p);
    free(h->ch.p);
    tlog_numbers_free(&h->sites);
    free(h->reg);
    sym_maps_free(&h->mods);
    for (size_t i = 0; i < h->nmarks; i++)
        free(h->marks[i]);
    free(h->marks);
    free(h->mark_event);
}

/* Writes event ev and the changes gathered for it as the page's next
 * event (whole: its changes are the whole heap, not what it did). */
static void event_end(struct html *h, const struct rebuild *rb, const struct tlog_event *ev, int whole)
{
    h->whole = whole;
    event_out(h, ev);
    h->whole = 0;
    put_u(&h->ev, h->nch);
    put_bytes(&h->ev, h->ch.p, h->ch.n);
    const struct rb_totals *t = rebuild_totals(rb);
    struct point p = { t->heap, t->in_use, t->free, regions_bytes(rb) + h->mapped };
    plot_add(&h->plot, h->index++, &p);
}

/* Applies ev to rb, writing it and its changes to h as the page's next event. */
static void html_event(struct html *h, struct rebuild *rb, const struct tlog_event *ev)
{
    h->number = ev->number;
    h->ch.n = 0;
    h->nch = 0;
    if (ev->type == TLOG_SYS)
        remember_regions(h, rb);
    rebuild_apply(rb, ev);
    if (ev->type == TLOG_SYS)
        region_diff(h, rb);
    event_end(h, rb, ev, 0);
}

/* ---- one heap state, no log (ptalloc heap --pid --html) ------------------------------ */

static int add_unlisted(const struct rb_chunk *c, void *arg)
{
    if (c->list < 0)
        on_change(1, c, arg);
    return 0;
}

/* Event ev (applied) with the rebuilt heap as its changes: every region
 * and chunk added (each list's chunks from its head, so that the page
 * links them in order): the start of a page of one state, or of a window
 * of a log (--from), whose first event is the one before the window. */
static void state_event(struct html *h, const struct rebuild *rb, const struct tlog_event *ev)
{
    h->number = ev->number;
    h->ch.n = 0;
    h->nch = 0;
    const struct rb_region *reg;
    size_t nreg = rebuild_regions(rb, &reg);
    for (size_t i = 0; i < nreg; i++)
        region_change(h, 1, &reg[i]);
    rebuild_foreach(rb, add_unlisted, h);
    for (size_t i = 0; i < rebuild_nlists(rb); i++) {
        const struct rb_chunk *c;
        for (uint64_t at = rebuild_list(rb, i)->head; at && (c = rebuild_find(rb, at)) != NULL; at = c->lnext)
            on_change(1, c, h);
    }
    event_end(h, rb, ev, 1);
}

/* A page of one state: that snapshot, then "snapshot_end". */
int html_write_state(const char *path, const struct rebuild *rb, const char *title, char *err, size_t errlen)
{
    struct html *h = tlog_xrealloc(NULL, sizeof *h);
    memset(h, 0, sizeof *h);
    h->plot.width = 1;
    h->rb = rb;
    struct tlog_event snap = { .type = TLOG_SNAPSHOT };
    state_event(h, rb, &snap);
    struct tlog_event end = { .type = TLOG_SNAPSHOT_END, .number = 1 };
    event_out(h, &end);
    put_u(&h->ev, 0);
    plot_add(&h->plot, h->index, &h->plot.p[0]);
    struct meta m = { title, NULL, 0, 4096, NULL, 0, 1, 2, 0, 0, 1, rb, h, NULL };
    size_t gzlen;
    uint8_t *gz = gzip(&h->ev, &gzlen);
    int r = write_page(path, &m, gz, gzlen, err, errlen) < 0 ? -1 : 0;
    free(gz);
    html_free(h);
    free(h);
    return r;
}

int cmd_html(int argc, char **argv)
{
    const char *file = NULL, *out = NULL, *title = NULL;
    int symbols = 1;
    unsigned long long from = 0, to = UINT64_MAX;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--from") == 0) {
            from = cmd_number(SUB, a, i + 1 < argc ? argv[++i] : NULL);
        } else if (strcmp(a, "--to") == 0) {
            to = cmd_number(SUB, a, i + 1 < argc ? argv[++i] : NULL);
        } else if (strcmp(a, "-o") == 0) {
            if (i + 1 >= argc)
                cmd_die(SUB, NULL, "-o needs a file name");
            out = argv[++i];
        } else if (strcmp(a, "--title") == 0) {
            if (i + 1 >= argc)
                cmd_die(SUB, NULL, "--title needs a text");
            title = argv[++i];
        } else if (strcmp(a, "--no-symbols") == 0) {
            symbols = 0;
        } else if (a[0] == '-' && a[1]) {
            cmd_die(SUB, NULL, "unknown flag %s (see 'ptalloc --help')", a);
        } else if (file) {
            cmd_die(SUB, NULL, "one log at a time (got '%s' and '%s')", file, a);
        } else {
            file = a;
        }
    }
    if (!file)
        cmd_die(SUB, NULL, "no log given (see 'ptalloc --help')");
    if (to < from)
        cmd_die(SUB, NULL, "--to %llu is before --from %llu", to, from);
    char *def = NULL;
    if (!out) {
        if (asprintf(&def, "%s.html", sym_base_name(file)) < 0)
            cmd_die(SUB, NULL, "out of memory");
        out = def;
    }

    char err[512];
    struct tlog *log = tlog_open(file, err, sizeof err);
    if (!log)
        cmd_die(SUB, file, "%s", err);
    struct rebuild *rb = rebuild_new();
    struct html *h = tlog_xrealloc(NULL, sizeof *h);
    memset(h, 0, sizeof *h);
    h->plot.width = 1;
    h->rb = rb;
    struct tlog_event ev;
    int r;
    /* Before the window (--from): the heap rebuilt, nothing written but
     * the modules (for the call sites); the page's first event is event
     * from - 1, with the heap after it as its changes. */
    if (from > 0) {
        while ((r = tlog_next(log, &ev)) > 0) {
            rebuild_apply(rb, &ev);
            if (ev.type == TLOG_MODULES)
                event_out(h, &ev);
            if (ev.number == from - 1)
                break;
        }
        h->ev.n = 0;
        h->last_ns = 0;
        if (r > 0) {
            state_event(h, rb, &ev);
            r = tlog_next(log, &ev);
        }
    } else {
        r = tlog_next(log, &ev);
    }
    rebuild_observe(rb, on_change, h);
    for (; r > 0 && ev.number <= to; r = tlog_next(log, &ev)) {
        html_event(h, rb, &ev);
    }
    if (r < 0)
        cmd_die(SUB, file, "%s", tlog_error(log));
    if (from > 0 && !h->index)
        cmd_die(SUB, file, "--from %llu: the log has %llu events", from, (unsigned long long)ev.number + 1);

    struct symbolizer *sym = symbols && h->mods.n ? sym_open(h->mods.v, h->mods.n) : NULL;
    int nthreads;
    const struct tlog_thread *threads = tlog_threads(log, &nthreads);
    const char *program = sym_maps_program(&h->mods);
    char deftitle[512];
    snprintf(deftitle, sizeof deftitle, "%s (pid %u)", program ? sym_base_name(program) : sym_base_name(file),
             tlog_header(log)->pid);
    struct meta m = { title ? title : deftitle, program, tlog_header(log)->pid, tlog_header(log)->page_size,
                      threads, nthreads, 0, h->index, from ? from - 1 : 0, rebuild_contradictions(rb),
                      r == 0 && tlog_saw_end(log), rb, h, sym };
    size_t gzlen;
    uint8_t *gz = gzip(&h->ev, &gzlen);
    long size = write_page(out, &m, gz, gzlen, err, sizeof err);
    if (size < 0)
        cmd_die(SUB, NULL, "%s", err);
    printf("%s: %llu events", out, (unsigned long long)h->index);
    if (from || r > 0)
        printf(" (%llu to %llu of the log%s)", (unsigned long long)m.first,
               (unsigned long long)(m.first + h->index - 1), from ? ", the first with the heap as it was then" : "");
    printf(", %zu call sites, %ld bytes (the events' changes: %zu bytes, packed %zu)\n", h->sites.n, size, h->ev.n, gzlen);
    if (h->index > 3000000)
        printf("note: a page of more than 3 million events is slow to open; --from N --to M draws a window of the log\n");
    free(gz);
    sym_close(sym);
    html_free(h);
    free(h);
    rebuild_free(rb);
    tlog_close(log);
    free(def);
    return 0;
}
