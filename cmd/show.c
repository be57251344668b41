/*
 * ptalloc show FILE [--at N] [--thread T] [--all] [--check]
 * ptalloc show FILE --walk K
 *
 * The heap rebuilt from a trace log at one event, drawn as
 * ptalloc_print_heap draws the live heap (src/walk.c): each arena's chunks
 * in address order with size, the flags that follow from the neighbours,
 * state and bin; then the non-empty bins; mapped chunks after.  --walk K
 * prints the state at the walk checkpoint with ordinal K, one chunk a line
 * ("ADDR SIZE WHERE BIN"), as that ptalloc_walk call saw it, for tests to
 * compare with the walk's own output.
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
            fl[0] = x->arena > 0 ? 'A' : x->arena == -1 ? '?' : '-';
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

/* Free chunks by (arena, kind, owner, bin, address): each run is a bin. */
static int bin_cmp(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    long kx = arena_key(x->arena), ky = arena_key(y->arena);
    if (kx != ky)
        return kx < ky ? -1 : 1;
    if (x->where != y->where)
        return x->where - y->where;
    if (x->where == TLOG_S_TCACHE && x->c.thread != y->c.thread)
        return x->c.thread - y->c.thread;
    int bx = tlog_bin(x->where, x->c.size), by = tlog_bin(y->where, y->c.size);
    if (bx != by)
        return bx - by;
    return x->c.addr < y->c.addr ? -1 : x->c.addr > y->c.addr;
}

static int has_bin(int w)
{
    return w == TLOG_S_TCACHE || w == TLOG_S_FASTBIN || w == TLOG_S_UNSORTED || w == TLOG_S_SMALLBIN ||
           w == TLOG_S_LARGEBIN || w == TLOG_S_REMOTE;
}

static void draw_bins(struct items *it)
{
    struct item *v = malloc((it->n + 1) * sizeof *v);
    size_t n = 0;
    if (!v)
        cmd_die("show", NULL, "out of memory");
    for (size_t k = 0; k < it->n; k++)
        if (has_bin(it->v[k].where))
            v[n++] = it->v[k];
    qsort(v, n, sizeof *v, bin_cmp);
    int arena = -3;
    for (size_t k = 0; k < n;) {
        const struct item *x = &v[k];
        int bin = tlog_bin(x->where, x->c.size);
        size_t run = 1;
        while (k + run < n && v[k + run].arena == x->arena && v[k + run].where == x->where &&
               tlog_bin(v[k + run].where, v[k + run].c.size) == bin &&
               (x->where != TLOG_S_TCACHE || v[k + run].c.thread == x->c.thread))
            run++;
        if (x->arena != arena) {
            if (x->arena >= 0)
                printf("\nbins of arena %d (chunk addresses, in address order):\n", x->arena);
            else
                printf("\nbins of chunks of no known arena (chunk addresses, in address order):\n");
            arena = x->arena;
        }
        const char *arrow = " ->";
        switch (x->where) {
        case TLOG_S_TCACHE:
            printf("  tcache[%2d] (%4d bytes%s) thread %d %zu:", bin, bin < 64 ? (bin + 2) * 16 : 1056 + 64 * (bin - 64),
                   bin < 64 ? "" : " +", x->c.thread, run);
            break;
        case TLOG_S_FASTBIN:
            printf("  fastbin[%d] (%4d bytes) %zu:", bin, (bin + 2) * 16, run);
            break;
        case TLOG_S_REMOTE:
            printf("  remote batches %zu:", run);
            break;
        default:
            printf("  %s[%d] %zu:", where_words(x->where), bin, run);
            arrow = " <->";
        }
        for (size_t j = 0; j < run && j < 8; j++) {
            if (x->where == TLOG_S_TCACHE || x->where == TLOG_S_FASTBIN)
                printf("%s %#llx", arrow, (unsigned long long)v[k + j].c.addr);
            else
                printf("%s %#llx (%llu)", arrow, (unsigned long long)v[k + j].c.addr,
                       (unsigned long long)v[k + j].c.size);
        }
        printf("%s\n", run > 8 ? " ..." : "");
        k += run;
    }
    free(v);
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

    struct items it = { NULL, 0, 0, have_walk ? stop.thread : view, rb };
    rebuild_foreach(rb, collect, &it);
    if (have_walk) {
        qsort(it.v, it.n, sizeof *it.v, addr_cmp);
        print_walk(&it);
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
        qsort(it.v, it.n, sizeof *it.v, item_cmp);
        draw(&it, all);
        draw_bins(&it);
        if (rebuild_contradictions(rb))
            printf("\nnote: %llu contradictions between the log and the rebuilt heap (--check lists them)\n",
                   (unsigned long long)rebuild_contradictions(rb));
        if (!found && !tlog_saw_end(log))
            printf("\nnote: the log has no end record (the process was killed, or called _exit or exec)\n");
    }
    int status = check && rebuild_contradictions(rb) ? 1 : 0;
    free(it.v);
    rebuild_free(rb);
    tlog_close(log);
    return status;
}
