/*
 * ptalloc show FILE [--at N] [--thread T] [--all] [--check]
 * ptalloc show FILE --walk K
 *
 * The heap rebuilt from a trace log at one event, drawn as
 * ptalloc_print_heap draws the live heap (src/walk.c): each arena's chunks
 * in address order with size, the flags that follow from the neighbours,
 * state and bin; mapped chunks after; then the bins in list order (user
 * pointers, as print_heap lists them).  --walk K prints the state at the
 * walk checkpoint with ordinal K, one chunk a line ("ADDR SIZE WHERE BIN"),
 * as that ptalloc_walk call saw it, then each non-empty bin ("bin KIND
 * ARENA INDEX: ADDR..."), for tests to compare with the walk's own output
 * and ptalloc_bin's lists.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmds.h"
#include "log.h"

void cmd_die(const char *sub, const char *file, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stderr, "ptalloc %s: ", sub);
    if (file)
        fprintf(stderr, "%s: ", file);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

unsigned long long cmd_number(const char *sub, const char *opt, const char *arg)
{
    char *end;
    if (!arg)
        cmd_die(sub, NULL, "%s needs a number", opt);
    unsigned long long v = strtoull(arg, &end, 0);
    if (!*arg || *end || *arg == '-')
        cmd_die(sub, NULL, "%s %s: not a number", opt, arg);
    return v;
}

/* A chunk as drawn: the rebuilt one, its arena, and where it is seen. */
struct item {
    struct rb_chunk c;
    int arena;          /* -1 unknown, -2 mapped */
    int where;          /* state from the viewing thread */
};

struct items {
    struct item *v;
    size_t n, cap;
    int view;           /* viewing thread, -1 all */
    const struct rebuild *rb;
};

/* From thread `view`, another thread's tcache and a chunk waiting in a
 * remote batch are in use, as ptalloc_walk reports them. */
static int seen_as(int state, int owner, int view)
{
    if (view >= 0 && ((state == TLOG_S_TCACHE && owner != view) || state == TLOG_S_REMOTE))
        return TLOG_S_INUSE;
    return state;
}

static int collect(const struct rb_chunk *c, void *arg)
{
    struct items *it = arg;
    if (it->n == it->cap) {
        it->cap = it->cap * 2 + 1024;
        it->v = realloc(it->v, it->cap * sizeof *it->v);
        if (!it->v)
            cmd_die("show", NULL, "out of memory");
    }
    struct item *x = &it->v[it->n++];
    x->c = *c;
    x->arena = c->state == TLOG_S_MMAPPED ? -2 : rebuild_arena_of(it->rb, c->addr);
    x->where = seen_as(c->state, c->thread, it->view);
    return 0;
}

/* Arenas in number order, then chunks of no known arena, then mapped. */
static long arena_key(int arena) { return arena >= 0 ? arena : arena == -1 ? 1L << 40 : 1L << 41; }

static int item_cmp(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    long kx = arena_key(x->arena), ky = arena_key(y->arena);
    if (kx != ky)
        return kx < ky ? -1 : 1;
    return x->c.addr < y->c.addr ? -1 : x->c.addr > y->c.addr;
}

static const char *where_words(int w)
{
    static const char *const names[TLOG_S_COUNT] = { "in use", "tcache", "fastbin", "unsorted",
        "small bin", "large bin", "top", "mmapped", "fence", "remote", "gone" };
    return w >= 0 && w < TLOG_S_COUNT ? names[w] : "?";
}

/* Is the chunk before counted in use by the next one's PREV_INUSE bit?
 * The caches and fastbins keep it set, as glibc does. */
static int prev_inuse_state(int s)
{
    return s == TLOG_S_INUSE || s == TLOG_S_TCACHE || s == TLOG_S_FASTBIN || s == TLOG_S_REMOTE ||
           s == TLOG_S_FENCE;
}

static const char *const RULE = "  +--------------------+------------+-----+----------------------+\n";

static void draw(struct items *it, int all)
{
    int arena = -3, segment = -1;
    size_t shown = 0, hidden = 0;
    for (size_t k = 0; k < it->n; k++) {
        const struct item *x = &it->v[k];
        const struct item *prev = k ? &it->v[k - 1] : NULL;
        int adjacent = prev && prev->arena == x->arena && prev->c.addr + prev->c.size == x->c.addr;
        if (x->arena != arena || (!adjacent && x->arena != -2)) {
            segment = x->arena != arena ? 0 : segment + 1;
            if (arena != -3)
                fputs(RULE, stdout);
            if (x->arena >= 0)
                printf("\narena %d, %s %d\n", x->arena, x->arena == 0 ? "segment" : "sub-heap", segment);
            else if (x->arena == -1)
                printf("\narena ?, segment %d (no sys record names its region)\n", segment);
            else
                printf("\nmmapped chunks\n");
            printf("%s  | chunk              |       size | AMP | where                |\n%s", RULE, RULE);
            arena = x->arena;
        }
        if (!all && shown > 400 && x->where == TLOG_S_INUSE) {
            hidden++;
            continue;
        }
        shown++;
        char fl[4] = "---", where[40];
        if (x->arena == -2) {
            fl[1] = 'M';
        } else {
            /* NON_MAIN_ARENA: the library sets it on the chunks it hands out
             * (and keeps it through the caches and fastbins), never on a
             * free chunk of the bins, a top or a fence-post */
            fl[0] = x->arena == -1 ? '?' : x->arena > 0 && prev_inuse_state(x->c.state) && x->c.state != TLOG_S_FENCE ? 'A' : '-';
            fl[2] = !adjacent || prev_inuse_state(prev->c.state) ? 'P' : '-';
        }
        int bin = tlog_bin(x->where, x->c.size);
        if (x->where == TLOG_S_TCACHE && it->view < 0)
            snprintf(where, sizeof where, "tcache [%d] t%d", bin, x->c.thread);
        else if (bin >= 0)
            snprintf(where, sizeof where, "%s [%d]", where_words(x->where), bin);
        else
            snprintf(where, sizeof where, "%s", where_words(x->where));
        char a[24];                     /* right-aligned, as %18p draws it */
        snprintf(a, sizeof a, "%#llx", (unsigned long long)x->c.addr);
        printf("  | %18s | %10llu | %s | %-20s |\n", a, (unsigned long long)x->c.size, fl, where);
    }
    if (arena != -3)
        fputs(RULE, stdout);
    if (hidden)
        printf("  (%zu more in-use chunks not drawn; --all draws them)\n", hidden);
    printf("  flags: A = NON_MAIN_ARENA, M = IS_MMAPPED, P = PREV_INUSE (? = arena not known)\n");
}

/* ---- the bins ----------------------------------------------------------------------- */

struct shown_list { const struct rb_list *l; long key; };

/* Arena, then as print_heap orders them: the tcache (seen from one
 * thread: its cache, under arena 0), fastbins, the bins by index, remote
 * batches last; every thread's cache after the arenas when seen from all. */
static long list_key(const struct rb_list *l, int view)
{
    long arena = l->state != TLOG_S_TCACHE ? arena_key(l->arena) : view >= 0 ? 0 : 1L << 42 | l->thread;
    long group = l->state == TLOG_S_TCACHE ? 0 : l->state == TLOG_S_FASTBIN ? 1 : l->state == TLOG_S_REMOTE ? 3 : 2;
    return arena << 20 | group << 16 | l->bin;
}

static int shown_cmp(const void *a, const void *b)
{
    const struct shown_list *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

static void draw_bins(const struct rebuild *rb, int view)
{
    const struct rb_region *reg;
    size_t n = rebuild_nlists(rb), nreg = rebuild_regions(rb, &reg), m = 0;
    struct shown_list *v = malloc((n + nreg + 1) * sizeof *v);
    if (!v)
        cmd_die("show", NULL, "out of memory");
    for (size_t i = 0; i < nreg; i++)          /* every arena's heading, bins or none */
        v[m++] = (struct shown_list){ NULL, arena_key(reg[i].arena) << 20 };
    for (size_t i = 0; i < n; i++) {
        const struct rb_list *l = rebuild_list(rb, i);
        if (!l->n || (view >= 0 && (l->state == TLOG_S_REMOTE || (l->state == TLOG_S_TCACHE && l->thread != view))))
            continue;
        v[m].l = l;
        v[m++].key = list_key(l, view);
    }
    qsort(v, m, sizeof *v, shown_cmp);
    long arena = -3;
    for (size_t k = 0; k < m; k++) {
        const struct rb_list *l = v[k].l;
        long a = v[k].key >> 20;
        if (a != arena) {
            if (a < 1L << 40)
                printf("\nbins of arena %ld:\n", a);
            else if (a < 1L << 42)
                printf("\nbins of chunks of no known arena:\n");
            else
                printf("\ntcache of thread %ld:\n", a & 0xffffff);
            arena = a;
        }
        if (!l)
            continue;
        int bin = l->bin;
        const char *arrow = " ->";
        switch (l->state) {
        case TLOG_S_TCACHE:
            printf("  tcache[%2d] (%4d bytes%s) %llu:", bin, bin < 64 ? (bin + 2) * 16 : 1056 + 64 * (bin - 64),
                   bin < 64 ? "" : " +", (unsigned long long)l->n);
            break;
        case TLOG_S_FASTBIN:
            printf("  fastbin[%d] (%4d bytes) %llu:", bin, (bin + 2) * 16, (unsigned long long)l->n);
            break;
        case TLOG_S_REMOTE:
            printf("  remote batches %llu:", (unsigned long long)l->n);
            break;
        default:
            printf("  %s[%d] %llu:", where_words(l->state), bin, (unsigned long long)l->n);
            arrow = " <->";
        }
        uint64_t at = l->head;              /* user pointers, as print_heap gives them */
        for (int j = 0; at && j < 8; j++) {
            const struct rb_chunk *c = rebuild_find(rb, at);
            if (!c)
                break;
            if (l->state == TLOG_S_TCACHE || l->state == TLOG_S_FASTBIN || l->state == TLOG_S_REMOTE)
                printf("%s %#llx", arrow, (unsigned long long)c->addr + 16);
            else
                printf("%s %#llx (%llu)", arrow, (unsigned long long)c->addr + 16, (unsigned long long)c->size);
            at = c->lnext;
        }
        printf("%s\n", l->n > 8 ? " ..." : "");
    }
    free(v);
}

/* The arenas' regions, from the sys records: the main arena's heap up to
 * the program break (and any mmapped segments), each sub-heap's committed
 * part of its 64 MiB reservation. */
static void show_regions(const struct rebuild *rb)
{
    const struct rb_region *r;
    size_t n = rebuild_regions(rb, &r), last_brk = n;
    for (size_t i = 0; i < n; i++)
        if (r[i].kind == TLOG_SYS_BRK)
            last_brk = i;
    if (n)
        printf("regions:\n");
    for (size_t i = 0; i < n; i++) {
        char a[24], b[24];
        snprintf(a, sizeof a, "%#llx", (unsigned long long)r[i].start);
        snprintf(b, sizeof b, "%#llx", (unsigned long long)r[i].end);
        printf("  arena %d %-11s %18s - %-18s %12llu bytes", r[i].arena,
               r[i].kind == TLOG_SYS_BRK ? "heap (brk)" : r[i].kind == TLOG_SYS_SEGMENT ? "heap (mmap)" : "sub-heap",
               a, b, (unsigned long long)(r[i].end - r[i].start));
        if (i == last_brk)
            printf(", the program break at its end");
        else if (r[i].kind == TLOG_SYS_HEAP_NEW)
            printf(" of 67108864 reserved");
        printf("\n");
    }
}

void show_heap(const struct rebuild *rb, int view, int all)
{
    struct items it = { NULL, 0, 0, view, rb };
    rebuild_foreach(rb, collect, &it);
    qsort(it.v, it.n, sizeof *it.v, item_cmp);
    draw(&it, all);
    draw_bins(rb, view);
    free(it.v);
}

/* --walk: one line per chunk in address order, as ptalloc_walk from the
 * walking thread reports it. */
static void print_walk(struct items *it)
{
    for (size_t k = 0; k < it->n; k++) {
        const struct item *x = &it->v[k];
        printf("%#018llx %llu %s %d\n", (unsigned long long)x->c.addr, (unsigned long long)x->c.size,
               tlog_state_name(x->where), tlog_bin(x->where, x->c.size));
    }
}

/* --walk, after the chunks: each non-empty bin in list order, "bin KIND
 * ARENA INDEX: CHUNK..." (tests/cmd/walk_lines.h writes the walk's own). */
static void print_walk_bins(const struct rebuild *rb, int view)
{
    for (size_t i = 0; i < rebuild_nlists(rb); i++) {
        const struct rb_list *l = rebuild_list(rb, i);
        if (!l->n || l->state == TLOG_S_REMOTE || (l->state == TLOG_S_TCACHE && l->thread != view))
            continue;
        printf("bin %d %d %d:", l->state, l->state == TLOG_S_TCACHE ? 0 : l->arena, l->bin);
        const struct rb_chunk *c;
        for (uint64_t at = l->head; at && (c = rebuild_find(rb, at)) != NULL; at = c->lnext)
            printf(" %#018llx", (unsigned long long)c->addr);
        printf("\n");
    }
}

static int addr_cmp(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    return x->c.addr < y->c.addr ? -1 : x->c.addr > y->c.addr;
}

int cmd_show(int argc, char **argv)
{
    const char *file = NULL;
    unsigned long long at = 0, walk = 0;
    int have_at = 0, have_walk = 0, view = -1, all = 0, check = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--at") == 0) {
            at = cmd_number("show", a, i + 1 < argc ? argv[++i] : NULL);
            have_at = 1;
        } else if (strcmp(a, "--walk") == 0) {
            walk = cmd_number("show", a, i + 1 < argc ? argv[++i] : NULL);
            have_walk = 1;
        } else if (strcmp(a, "--thread") == 0) {
            view = (int)cmd_number("show", a, i + 1 < argc ? argv[++i] : NULL);
        } else if (strcmp(a, "--all") == 0) {
            all = 1;
        } else if (strcmp(a, "--check") == 0) {
            check = 1;
        } else if (a[0] == '-' && a[1]) {
            cmd_die("show", NULL, "unknown flag %s (see 'ptalloc --help')", a);
        } else if (file) {
            cmd_die("show", NULL, "one log at a time (got '%s' and '%s')", file, a);
        } else {
            file = a;
        }
    }
    if (!file)
        cmd_die("show", NULL, "no log given (see 'ptalloc --help')");
    if (have_walk && (have_at || view >= 0))
        cmd_die("show", NULL, "--walk K takes neither --at nor --thread (the walk's thread is the view)");

    char err[512];
    struct tlog *log = tlog_open(file, err, sizeof err);
    if (!log)
        cmd_die("show", file, "%s", err);
    struct rebuild *rb = rebuild_new();
    struct tlog_event ev, stop = { 0 };
    int r, found = 0;
    uint64_t events = 0;
    char said[512] = "";
    while ((r = tlog_next(log, &ev)) > 0) {
        rebuild_apply(rb, &ev);
        events++;
        if ((have_at && ev.number == at) || (have_walk && ev.type == TLOG_WALK && ev.value == walk)) {
            stop = ev;
            found = 1;
            tlog_describe(&ev, said, sizeof said);
            break;
        }
    }
    if (r < 0)
        cmd_die("show", file, "%s", tlog_error(log));
    if (have_at && !found)
        cmd_die("show", file, "no event %llu (the log has %llu events, 0 to %llu)", at,
                (unsigned long long)events, (unsigned long long)events - 1);
    if (have_walk && !found)
        cmd_die("show", file, "no walk record with ordinal %llu", walk);

    if (have_walk) {
        struct items it = { NULL, 0, 0, stop.thread, rb };
        rebuild_foreach(rb, collect, &it);
        qsort(it.v, it.n, sizeof *it.v, addr_cmp);
        print_walk(&it);
        print_walk_bins(rb, stop.thread);
        free(it.v);
    } else if (check) {
        uint64_t n = rebuild_contradictions(rb);
        printf("%llu events, %llu contradictions\n", (unsigned long long)events, (unsigned long long)n);
        for (size_t i = 0; rebuild_contradiction(rb, i); i++)
            printf("  %s\n", rebuild_contradiction(rb, i));
        if (n > 32)
            printf("  (%llu more)\n", (unsigned long long)n - 32);
    } else {
        const struct tlog_header *h = tlog_header(log);
        const struct rb_totals *t = rebuild_totals(rb);
        printf("log of pid %u: ", h->pid);
        if (found)
            printf("at event %llu\n", at);
        else
            printf("after the last event (%llu events)\n", (unsigned long long)events);
        if (found)
            printf("event %llu: %s\n", at, said);
        printf("heap %llu bytes in %llu chunks: %llu in use, %llu free\n", (unsigned long long)t->heap,
               (unsigned long long)t->chunks, (unsigned long long)t->in_use, (unsigned long long)t->free);
        if (view >= 0)
            printf("seen from thread %d: other threads' caches and remote batches count as in use\n", view);
        show_regions(rb);
        show_heap(rb, view, all);
        if (rebuild_contradictions(rb))
            printf("\nnote: %llu contradictions between the log and the rebuilt heap (--check lists them)\n",
                   (unsigned long long)rebuild_contradictions(rb));
        if (!found && !tlog_saw_end(log))
            printf("\nnote: the log has no end record (the process was killed, or called _exit or exec)\n");
    }
    int status = check && rebuild_contradictions(rb) ? 1 : 0;
    rebuild_free(rb);
    tlog_close(log);
    return status;
}
