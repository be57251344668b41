/*
 * ptalloc replay FILE [-o NAME=VALUE]... [--trace OUT] [--untraced]
 *                     [--touch none|page|all] [--json]
 *
 * Runs the calls recorded in a trace log again, on a fresh ptalloc with
 * the options given, and reports what they cost there: time, peak
 * resident memory, the heap's size at its peak, the system calls the
 * allocator made, and how many calls took the decision they took when
 * recorded.  A user tunes mxfast, trim_threshold, tcache_count... on the
 * record of their own program, offline.
 *
 * Three steps.  (1) The log is read here and turned into a file of
 * operations (cmd/replay.h): each recorded chunk address is mapped to a
 * slot, a small number reused once the chunk is freed, so the driver keeps
 * its pointers in a flat array and a log that cannot be replayed (a free
 * of a chunk the log never allocated) is found before anything runs.
 * (2) The driver, ptalloc-replay (cmd/replay_driver.c, beside this
 * command), runs them in a process of its own with the options in its
 * environment as PTALLOC_<NAME>, checked here first as `ptalloc run`
 * checks them, and tracing into OUT or a temporary log.  (3) That log and
 * the record are read side by side, call by call.
 *
 * The measurements are the traced run's unless --untraced: then the time
 * has no tracing in it, and the system calls and decisions are not known.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cmds.h"
#include "log.h"
#include "replay.h"

#define SUB "replay"

/* ---- what a log says: counts and the heap's size ------------------------------- */

struct subheap { uint64_t addr, size; };

struct lstats {
    uint64_t calls, by_type[TLOG_MALLOC_TRIM + 1], by_decision[TLOG_D_COUNT];
    uint64_t sys[TLOG_SYS_COUNT], sys_total;
    uint64_t heap, heap_peak;       /* bytes the allocator holds from the system */
    struct subheap *heaps;          /* sub-heaps' committed sizes */
    size_t nheaps, capheaps;
    uint64_t forks, first_ns, last_ns;
    uint64_t arenas;                /* highest arena number used, plus 1 */
    int threads;
};

static uint64_t sub_sat(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

static struct subheap *subheap_at(struct lstats *s, uint64_t addr, int add)
{
    for (size_t i = 0; i < s->nheaps; i++)
        if (s->heaps[i].addr == addr)
            return &s->heaps[i];
    if (!add)
        return NULL;
    if (s->nheaps == s->capheaps) {
        s->capheaps = s->capheaps * 2 + 16;
        s->heaps = realloc(s->heaps, s->capheaps * sizeof *s->heaps);
        if (!s->heaps)
            cmd_die(SUB, NULL, "out of memory");
    }
    s->heaps[s->nheaps] = (struct subheap){ addr, 0 };
    return &s->heaps[s->nheaps++];
}

/* The system memory a `sys` record gains or loses: the main arena's break
 * and segments, the sub-heaps' committed sizes, mapped chunks.  madvise
 * keeps the range mapped: not counted. */
static void account_sys(struct lstats *s, const struct tlog_event *ev)
{
    struct subheap *h;
    switch (ev->sys_kind) {
    case TLOG_SYS_BRK: case TLOG_SYS_SEGMENT: case TLOG_SYS_MMAP:
        s->heap += ev->size;
        break;
    case TLOG_SYS_SBRK_SHRINK: case TLOG_SYS_MUNMAP:
        s->heap = sub_sat(s->heap, ev->size);
        break;
    case TLOG_SYS_HEAP_NEW: case TLOG_SYS_HEAP_GROW: case TLOG_SYS_HEAP_SHRINK:
        h = subheap_at(s, ev->addr, 1);
        s->heap = sub_sat(s->heap, h->size) + ev->size;
        h->size = ev->size;
        break;
    case TLOG_SYS_HEAP_UNMAP:
        /* The record's range is the reservation; what it held is the
         * committed size followed so far. */
        if ((h = subheap_at(s, ev->addr, 0))) {
            s->heap = sub_sat(s->heap, h->size);
            *h = s->heaps[--s->nheaps];
        }
        break;
    case TLOG_SYS_MREMAP:
        s->heap = sub_sat(s->heap, ev->size) + ev->new_size;
        break;
    }
    if (s->heap > s->heap_peak)
        s->heap_peak = s->heap;
}

/* counted: calls and sys records (the replay's own calls are not). */
static void stats_add(struct lstats *s, const struct tlog_event *ev, int counted)
{
    if (!s->first_ns)
        s->first_ns = ev->ns;
    s->last_ns = ev->ns;
    if (ev->type == TLOG_SYS) {
        account_sys(s, ev);
        if (counted && ev->sys_kind > 0 && ev->sys_kind < TLOG_SYS_COUNT) {
            s->sys[ev->sys_kind]++;
            s->sys_total++;
        }
    } else if (ev->type == TLOG_FORK) {
        s->forks++;
    } else if (ev->type == TLOG_ARENA || ev->type == TLOG_ARENA_NEW) {
        if (ev->arena + 1 > s->arenas)
            s->arenas = ev->arena + 1;
    } else if (counted && tlog_is_call(ev->type)) {
        s->calls++;
        s->by_type[ev->type]++;
        s->by_decision[ev->decision]++;
    }
}

/* ---- recorded chunk -> slot ------------------------------------------------------ */

/* Open addressing, linear probing, deletion by moving entries back: no
 * tombstones, so a long log's churn does not fill the table. */
struct pmap_entry { uint64_t addr, event; uint32_t slot; };
struct pmap {
    struct pmap_entry *v;
    size_t cap, n;                  /* cap a power of 2 */
    uint32_t *free_slots;           /* slots given back, reused last-in first */
    size_t nfree, capfree;
    uint64_t slots;                 /* slots ever handed out */
};

static size_t pmap_hash(uint64_t addr, size_t cap)
{
    return (size_t)((addr >> 4) * 0x9e3779b97f4a7c15ull >> 20) & (cap - 1);
}

static struct pmap_entry *pmap_find(struct pmap *m, uint64_t addr)
{
    if (!m->cap)
        return NULL;
    for (size_t i = pmap_hash(addr, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->v[i].addr == addr)
            return &m->v[i];
        if (!m->v[i].addr)
            return NULL;
    }
}

static void pmap_grow(struct pmap *m)
{
    struct pmap_entry *old = m->v;
    size_t oldcap = m->cap;
    m->cap = m->cap ? m->cap * 2 : 1024;
    m->v = calloc(m->cap, sizeof *m->v);
    if (!m->v)
        cmd_die(SUB, NULL, "out of memory for %zu live chunks", m->n);
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].addr)
            continue;
        size_t j = pmap_hash(old[i].addr, m->cap);
        while (m->v[j].addr)
            j = (j + 1) & (m->cap - 1);
        m->v[j] = old[i];
    }
    free(old);
}

/* slot: the one to use, or RP_NONE for a new one. */
static uint32_t pmap_insert(struct pmap *m, uint64_t addr, uint64_t event, uint32_t slot)
{
    if ((m->n + 1) * 2 > m->cap)
        pmap_grow(m);
    size_t i = pmap_hash(addr, m->cap);
    while (m->v[i].addr)
        i = (i + 1) & (m->cap - 1);
    if (slot != RP_NONE) {
        /* kept */
    } else if (m->nfree) {
        slot = m->free_slots[--m->nfree];
    } else {
        if (m->slots >= RP_NONE)
            cmd_die(SUB, NULL, "more than %u chunks live at once", RP_NONE);
        slot = (uint32_t)m->slots++;
    }
    m->v[i] = (struct pmap_entry){ addr, event, slot };
    m->n++;
    return slot;
}

/* release: the entry's slot may be used again (not for realloc's, which
 * the new chunk keeps). */
static uint32_t pmap_remove(struct pmap *m, struct pmap_entry *e, int release)
{
    uint32_t slot = e->slot;
    if (!release) {
        /* kept */
    } else if (m->nfree == m->capfree) {
        m->capfree = m->capfree * 2 + 1024;
        m->free_slots = realloc(m->free_slots, m->capfree * sizeof *m->free_slots);
        if (!m->free_slots)
            cmd_die(SUB, NULL, "out of memory");
    }
    if (release)
        m->free_slots[m->nfree++] = slot;
    /* Moves back the entries after the hole that hash at or before it. */
    size_t i = (size_t)(e - m->v), j = i;
    for (;;) {
        j = (j + 1) & (m->cap - 1);
        if (!m->v[j].addr)
            break;
        size_t k = pmap_hash(m->v[j].addr, m->cap);
        if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
            m->v[i] = m->v[j];
            i = j;
        }
    }
    m->v[i].addr = 0;
    m->n--;
    return slot;
}

/* ---- step 1: the log as operations --------------------------------------------- */

struct translation {
    const char *file;
    struct tlog *log;
    struct pmap map;
    FILE *ops;
    struct rp_header h;
    struct lstats rec;
    uint64_t pre;                   /* chunks of the first snapshot */
    int snapshot_state;             /* 0 before, 1 inside, 2 after the first snapshot */
    int saw_end, forked_child;
    int main_exited;                /* thread 0 ended (not replayed) ... */
    uint64_t main_exit_event;       /* ... at this event */
};

static void emit(struct translation *tr, const struct rp_op *op)
{
    if (fwrite(op, sizeof *op, 1, tr->ops) != 1)
        cmd_die(SUB, NULL, "cannot write the operations file: %s", strerror(errno));
    tr->h.ops++;
    if (op->type != RP_PRE && op->type != RP_EXIT)
        tr->h.calls++;
}

static void unreplayable(struct translation *tr, const struct tlog_event *ev, const char *why)
    __attribute__((noreturn));
static void unreplayable(struct translation *tr, const struct tlog_event *ev, const char *why)
{
    char what[256];
    tlog_describe(ev, what, sizeof what);
    cmd_die(SUB, tr->file, "event %llu (%s): %s; cannot replay",
            (unsigned long long)ev->number, what, why);
}

/* The slot of the chunk a free or realloc gives back, taken out of the
 * map; free again if release. */
static uint32_t take(struct translation *tr, const struct tlog_event *ev, uint64_t addr, int release)
{
    struct pmap_entry *e = pmap_find(&tr->map, addr);
    if (!e)
        unreplayable(tr, ev, "the chunk was never allocated in the log, or was freed already");
    return pmap_remove(&tr->map, e, release);
}

/* A new chunk's slot (or `slot` again: realloc keeps the old one's). */
static uint32_t give(struct translation *tr, const struct tlog_event *ev, uint64_t addr, uint32_t slot)
{
    struct pmap_entry *e = pmap_find(&tr->map, addr);
    if (e) {
        char why[128];
        snprintf(why, sizeof why, "the chunk it returns is in use since event %llu",
                 (unsigned long long)e->event);
        unreplayable(tr, ev, why);
    }
    return pmap_insert(&tr->map, addr, ev->number, slot);
}

static void translate_call(struct translation *tr, const struct tlog_event *ev)
{
    struct rp_op op = { .type = (uint8_t)ev->type, .thread = (uint16_t)ev->thread,
                        .slot = RP_NONE, .old = RP_NONE };
    switch (ev->type) {
    case TLOG_MALLOC: case TLOG_VALLOC: case TLOG_PVALLOC:
        op.a = ev->request;
        break;
    case TLOG_CALLOC:
        op.a = ev->count;
        op.b = ev->elsize;
        break;
    case TLOG_MEMALIGN: case TLOG_ALIGNED_ALLOC: case TLOG_POSIX_MEMALIGN:
        op.a = ev->alignment;
        op.b = ev->request;
        break;
    case TLOG_FREE: case TLOG_FREE_SIZED: case TLOG_FREE_ALIGNED_SIZED:
        if (ev->has_chunk)
            op.slot = take(tr, ev, ev->addr, 1);
        op.a = ev->type == TLOG_FREE_ALIGNED_SIZED ? ev->alignment : ev->request;
        op.b = ev->request;
        emit(tr, &op);
        return;
    case TLOG_REALLOC: case TLOG_REALLOCARRAY:
        op.a = ev->type == TLOG_REALLOC ? ev->request : ev->count;
        op.b = ev->elsize;
        if (ev->old_size) {
            /* Kept for the new chunk, or the old one if the call failed;
             * free again when a realloc to 0 bytes freed it. */
            int freed = !ev->has_chunk && ev->request == 0;
            op.old = take(tr, ev, ev->old_addr, freed);
            if (ev->has_chunk) {
                op.slot = give(tr, ev, ev->addr, op.old);
            } else if (ev->request != 0) {
                /* Failed: the old block stays where it was. */
                op.slot = give(tr, ev, ev->old_addr, op.old);
            }
        } else if (ev->has_chunk) {
            op.slot = give(tr, ev, ev->addr, RP_NONE);
        }
        emit(tr, &op);
        return;
    case TLOG_MALLOC_TRIM:
        op.a = ev->pad;
        emit(tr, &op);
        return;
    }
    if (ev->has_chunk)
        op.slot = give(tr, ev, ev->addr, RP_NONE);
    emit(tr, &op);
}

/* A chunk in use in the first snapshot: the program had it before the log
 * started (a forked child's log starts with its parent's heap).  The
 * driver allocates one of its size before the first call, so frees of it
 * have a block to free; where it lies is not reproduced. */
static void translate_snapshot_chunk(struct translation *tr, const struct tlog_event *ev)
{
    if (ev->state != TLOG_S_INUSE && ev->state != TLOG_S_MMAPPED)
        return;
    struct rp_op op = { .type = RP_PRE, .thread = 0, .old = RP_NONE,
                        .a = ev->size, .b = ev->state == TLOG_S_MMAPPED };
    op.slot = give(tr, ev, ev->addr, RP_NONE);
    emit(tr, &op);
    tr->pre++;
}

static void translate(struct translation *tr)
{
    struct tlog_event ev;
    int r;
    while ((r = tlog_next(tr->log, &ev)) > 0) {
        if (!(ev.type == TLOG_SYS && tr->snapshot_state == 1))    /* a snapshot's regions: no calls */
            stats_add(&tr->rec, &ev, 1);
        if (ev.thread > UINT16_MAX)
            cmd_die(SUB, tr->file, "more than %d threads: not replayable", UINT16_MAX + 1);
        if (tlog_is_call(ev.type)) {
            tr->snapshot_state = 2;
            translate_call(tr, &ev);
        } else if (ev.type == TLOG_SNAPSHOT && tr->snapshot_state == 0) {
            tr->snapshot_state = 1;
        } else if (ev.type == TLOG_SNAPSHOT_END) {
            tr->snapshot_state = 2;
        } else if (ev.type == TLOG_SET && tr->snapshot_state == 1) {
            translate_snapshot_chunk(tr, &ev);
            /* The heap the log starts with is the snapshot's chunks, free
             * ones and the top included. */
            tr->rec.heap += ev.size;
            if (tr->rec.heap > tr->rec.heap_peak)
                tr->rec.heap_peak = tr->rec.heap;
        } else if (ev.type == TLOG_THREAD_EXIT) {
            /* The main thread cannot end before the replay does: its
             * cache stays (said in the report). */
            if (ev.thread == 0) {
                if (!tr->main_exited)
                    tr->main_exit_event = ev.number;
                tr->main_exited = 1;
            } else {
                struct rp_op op = { .type = RP_EXIT, .thread = (uint16_t)ev.thread,
                                    .slot = RP_NONE, .old = RP_NONE };
                emit(tr, &op);
            }
        }
    }
    if (r < 0)
        cmd_die(SUB, tr->file, "%s", tlog_error(tr->log));
    tr->saw_end = tlog_saw_end(tr->log);
}

/* ---- step 2: the driver ------------------------------------------------------------ */

struct results {
    uint64_t ops, calls, threads, wall_ns, cpu_ns, rss_start_kb, rss_peak_kb, rss_final_kb;
    uint64_t heap_final, mmapped_final, in_use_final, arena_max_system;
    uint64_t null_results, extra_results, minor_faults;
};

static const struct { const char *key; size_t off; } result_keys[] = {
#define K(f) { #f, offsetof(struct results, f) }
    K(ops), K(calls), K(threads), K(wall_ns), K(cpu_ns), K(rss_start_kb), K(rss_peak_kb),
    K(rss_final_kb), K(heap_final), K(mmapped_final), K(in_use_final), K(arena_max_system),
    K(null_results), K(extra_results), K(minor_faults),
#undef K
};

/* ptalloc-replay beside this command (the build tree, or BINDIR of an
 * installation), or $PTALLOC_REPLAY_DRIVER. */
static const char *driver_path(void)
{
    const char *env = getenv("PTALLOC_REPLAY_DRIVER");
    if (env && *env) {
        if (access(env, X_OK) != 0)
            cmd_die(SUB, NULL, "PTALLOC_REPLAY_DRIVER=%s: %s", env, strerror(errno));
        return env;
    }
    static char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 32);
    if (n <= 0)
        cmd_die(SUB, NULL, "cannot find this command's directory: %s", strerror(errno));
    path[n] = 0;
    strcpy(strrchr(path, '/') + 1, "ptalloc-replay");
    if (access(path, X_OK) != 0)
        cmd_die(SUB, NULL, "the replay driver %s is missing (make; or set PTALLOC_REPLAY_DRIVER)", path);
    return path;
}

static void run_driver(int ops_fd, const char *trace, struct results *res)
{
    const char *driver = driver_path();
    int fds[2];
    if (pipe(fds) != 0)
        cmd_die(SUB, NULL, "%s", strerror(errno));
    if (trace) {
        if (setenv("PTALLOC_TRACE", trace, 1) != 0 || setenv("PTALLOC_TRACE_STACK", "1", 1) != 0)
            cmd_die(SUB, NULL, "cannot set PTALLOC_TRACE: %s", strerror(errno));
    } else {
        unsetenv("PTALLOC_TRACE");
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        cmd_die(SUB, NULL, "cannot start %s: %s", driver, strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        char a1[16], a2[16];
        snprintf(a1, sizeof a1, "%d", ops_fd);
        snprintf(a2, sizeof a2, "%d", fds[1]);
        execl(driver, "ptalloc-replay", a1, a2, (char *)NULL);
        fprintf(stderr, "ptalloc replay: cannot run %s: %s\n", driver, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    unsetenv("PTALLOC_TRACE");
    FILE *in = fdopen(fds[0], "r");
    char key[64];
    unsigned long long v;
    memset(res, 0, sizeof *res);
    while (in && fscanf(in, "%63s %llu", key, &v) == 2)
        for (size_t i = 0; i < sizeof result_keys / sizeof result_keys[0]; i++)
            if (strcmp(key, result_keys[i].key) == 0)
                *(uint64_t *)((char *)res + result_keys[i].off) = v;
    if (in)
        fclose(in);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            cmd_die(SUB, NULL, "%s", strerror(errno));
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "ptalloc replay: the replay (%s) died of signal %d (%s)\n", driver,
                WTERMSIG(status), strsignal(WTERMSIG(status)));
        exit(1);
    }
    if (WEXITSTATUS(status) != 0) {
        fprintf(stderr, "ptalloc replay: the replay (%s) failed, exit status %d\n", driver,
                WEXITSTATUS(status));
        exit(1);
    }
}

/* ---- step 3: the record and the replay side by side ------------------------------ */

struct side {
    struct tlog *log;
    const char *file;
    struct lstats *stats;
    unsigned char *skip;            /* by thread number: in the driver's own calls */
    int nskip;
    int in_snapshot;                /* between snapshot and snapshot_end */
};

/* The next call of a log, the driver's own left out; 0 at the end. */
static int next_call(struct side *s, struct tlog_event *ev)
{
    int r;
    while ((r = tlog_next(s->log, ev)) > 0) {
        if (ev->type == TLOG_MARK) {
            int skip = ev->label_len == strlen(RP_MARK_SKIP) &&
                       memcmp(ev->label, RP_MARK_SKIP, ev->label_len) == 0;
            int go = ev->label_len == strlen(RP_MARK_GO) &&
                     memcmp(ev->label, RP_MARK_GO, ev->label_len) == 0;
            if (skip || go) {
                if (ev->thread >= s->nskip) {
                    int n = ev->thread + 64;
                    s->skip = realloc(s->skip, (size_t)n);
                    if (!s->skip)
                        cmd_die(SUB, NULL, "out of memory");
                    memset(s->skip + s->nskip, 0, (size_t)(n - s->nskip));
                    s->nskip = n;
                }
                s->skip[ev->thread] = (unsigned char)skip;
            }
        }
        int own = ev->thread < s->nskip && s->skip[ev->thread];
        if (ev->type == TLOG_SNAPSHOT || ev->type == TLOG_SNAPSHOT_END)
            s->in_snapshot = ev->type == TLOG_SNAPSHOT;
        /* a snapshot's sys records are the regions as they were, no calls */
        if (s->stats && !(ev->type == TLOG_SYS && s->in_snapshot))
            stats_add(s->stats, ev, !own);
        if (tlog_is_call(ev->type) && !own)
            return 1;
    }
    if (r < 0)
        cmd_die(SUB, s->file, "%s", tlog_error(s->log));
    return 0;
}

struct comparison {
    uint64_t compared, same, other_decision, other_size, other_type, only_record, only_replay;
    uint64_t thread_mismatch;
    int have_first;
    uint64_t first_call, first_rec_event, first_rep_event;
    char first_rec[256], first_rep[256];
};

/* The replay threads a comparison has met. */
struct seen { unsigned char *bits; int n; };
static int replay_seen(const struct seen *s, int t)
{
    return t < s->n && s->bits[t];
}
static void replay_mark(struct seen *s, int t)
{
    if (t >= s->n) {
        int m = t + 64;
        s->bits = realloc(s->bits, (size_t)m);
        if (!s->bits)
            cmd_die(SUB, NULL, "out of memory");
        memset(s->bits + s->n, 0, (size_t)(m - s->n));
        s->n = m;
    }
    s->bits[t] = 1;
}

static void compare(const char *recfile, const char *repfile, struct lstats *rep, struct comparison *c)
{
    struct seen seen = { NULL, 0 };
    char err[512];
    struct side r = { .file = recfile }, p = { .file = repfile, .stats = rep };
    if (!(r.log = tlog_open(recfile, err, sizeof err)))
        cmd_die(SUB, recfile, "%s", err);
    if (!(p.log = tlog_open(repfile, err, sizeof err)))
        cmd_die(SUB, repfile, "the replay's log: %s", err);
    int *thread_of = NULL, nthread_of = 0;    /* recorded thread -> replay thread */
    struct tlog_event a, b;
    for (;;) {
        int ha = next_call(&r, &a), hb = next_call(&p, &b);
        if (!ha && !hb)
            break;
        if (!hb) {
            c->only_record++;
            continue;
        }
        if (!ha) {
            c->only_replay++;
            continue;
        }
        uint64_t n = c->compared++;
        if (a.thread >= nthread_of) {
            int m = a.thread + 64;
            thread_of = realloc(thread_of, (size_t)m * sizeof *thread_of);
            if (!thread_of)
                cmd_die(SUB, NULL, "out of memory");
            for (int i = nthread_of; i < m; i++)
                thread_of[i] = -1;
            nthread_of = m;
        }
        /* A recorded thread's calls after its exit hook (libc's last
         * frees) run on a replay thread started anew: a replay thread not
         * seen before takes the mapping over. */
        if (thread_of[a.thread] < 0 || (thread_of[a.thread] != b.thread && !replay_seen(&seen, b.thread)))
            thread_of[a.thread] = b.thread;
        else if (thread_of[a.thread] != b.thread)
            c->thread_mismatch++;
        replay_mark(&seen, b.thread);
        int same_type = a.type == b.type;
        int same_decision = same_type && a.decision == b.decision && a.source == b.source &&
                            a.merged_prev == b.merged_prev && a.merged_next == b.merged_next &&
                            a.has_chunk == b.has_chunk;
        int same_size = same_decision && a.size == b.size && a.old_size == b.old_size;
        if (same_size) {
            c->same++;
            continue;
        }
        if (!same_type)
            c->other_type++;
        else if (!same_decision)
            c->other_decision++;
        else
            c->other_size++;
        if (!c->have_first) {
            c->have_first = 1;
            c->first_call = n;
            c->first_rec_event = a.number;
            c->first_rep_event = b.number;
            tlog_describe(&a, c->first_rec, sizeof c->first_rec);
            tlog_describe(&b, c->first_rep, sizeof c->first_rep);
        }
    }
    tlog_threads(p.log, &rep->threads);
    free(thread_of);
    free(seen.bits);
    free(r.skip);
    free(p.skip);
    tlog_close(r.log);
    tlog_close(p.log);
}

/* ---- the report -------------------------------------------------------------------- */

struct report {
    const char *file, *trace;
    const struct tlog_header *hdr;
    int rec_threads;
    char **options;
    int noptions;
    const char *touch;
    struct translation *tr;
    struct results res;
    struct lstats rep;
    struct comparison cmp;
    int traced;
};

/* "1.23 MiB" */
static const char *human(uint64_t bytes, char *buf, size_t len)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.2f %s" : "%.0f %s", v, units[u]);
    return buf;
}

static const char *ms(uint64_t ns, char *buf, size_t len)
{
    snprintf(buf, len, "%.3f ms", (double)ns / 1e6);
    return buf;
}

static double percent(uint64_t a, uint64_t b)
{
    return b ? 100.0 * (double)a / (double)b : 100.0;
}

static void print_text(const struct report *r)
{
    const struct lstats *rec = &r->tr->rec, *rep = &r->rep;
    char b1[32], b2[32], b3[32];
    printf("replay of %s (pid %u, %d thread%s, %llu calls)\n", r->file, r->hdr->pid, r->rec_threads,
           r->rec_threads == 1 ? "" : "s", (unsigned long long)r->tr->h.calls);
    printf("options: ");
    if (!r->noptions)
        printf("defaults");
    for (int i = 0; i < r->noptions; i++)
        printf("%s%s", i ? " " : "", r->options[i]);
    printf("; memory touched: %s%s\n", r->touch, r->traced ? "" : "; untraced");
    if (r->tr->pre)
        printf("note: %llu chunks in use when the log started (its first snapshot) were allocated "
               "first%s\n", (unsigned long long)r->tr->pre,
               r->hdr->flags & 1 ? " (a forked child's log: its parent's heap)" : "");
    if (r->tr->main_exited)
        printf("note: the record's main thread ended at event %llu before other threads did; "
               "the replay's main thread cannot, its cache stays\n",
               (unsigned long long)r->tr->main_exit_event);
    if (rec->forks)
        printf("note: the program forked %llu time%s; the children's calls are in logs of "
               "their own (%s.PID), not replayed here\n", (unsigned long long)rec->forks,
               rec->forks == 1 ? "" : "s", r->file);
    if (!r->tr->saw_end)
        printf("note: the log has no end record (the program was killed, called _exit or exec'd)\n");
    printf("\n%-26s %14s %14s\n", "", "recorded", "replay");
    printf("%-26s %14llu %14llu\n", "calls", (unsigned long long)r->tr->h.calls,
           (unsigned long long)r->res.calls);
    /* The record's time is the whole program's, from its first event
     * to its last. */
    printf("%-26s %14s %14s%s\n", "time (wall)", ms(sub_sat(rec->last_ns, rec->first_ns), b1, sizeof b1),
           ms(r->res.wall_ns, b2, sizeof b2),
           r->rec_threads > 1 ? "   (threads: mostly handoffs)" : r->traced ? "   (replay traced)" : "");
    printf("%-26s %14s %14s\n", "time (CPU)", "-", ms(r->res.cpu_ns, b1, sizeof b1));
    printf("%-26s %14s %14s   (at start %s)\n", "peak RSS", "-",
           human(r->res.rss_peak_kb * 1024, b1, sizeof b1), human(r->res.rss_start_kb * 1024, b2, sizeof b2));
    printf("%-26s %14s %14s\n", "final RSS", "-", human(r->res.rss_final_kb * 1024, b1, sizeof b1));
    /* Untraced, only the arenas' own peaks are known, not the mapped
     * chunks' at the same moment. */
    printf("%-26s %14s %14s\n", "heap at peak", human(rec->heap_peak, b1, sizeof b1),
           r->traced ? human(rep->heap_peak, b2, sizeof b2) : "-");
    if (!r->traced)
        printf("%-26s %14s %14s\n", "arenas at their peaks", "-",
               human(r->res.arena_max_system, b3, sizeof b3));
    printf("%-26s %14s %14s\n", "heap at the end", human(rec->heap, b1, sizeof b1),
           human(r->res.heap_final, b2, sizeof b2));
    if (r->traced) {
        printf("%-26s %14llu %14llu%s\n", "arenas used", (unsigned long long)rec->arenas,
               (unsigned long long)rep->arenas, rec->arenas > rep->arenas ? "   (see below)" : "");
        printf("%-26s %14llu %14llu\n", "system calls", (unsigned long long)rec->sys_total,
               (unsigned long long)rep->sys_total);
        for (int k = 1; k < TLOG_SYS_COUNT; k++)
            if (rec->sys[k] || rep->sys[k])
                printf("  %-24s %14llu %14llu\n", tlog_sys_name(k), (unsigned long long)rec->sys[k],
                       (unsigned long long)rep->sys[k]);
        printf("decisions\n");
        for (int d = 0; d < TLOG_D_COUNT; d++)
            if (rec->by_decision[d] || rep->by_decision[d])
                printf("  %-24s %14llu %14llu\n", tlog_decision_name(d),
                       (unsigned long long)rec->by_decision[d], (unsigned long long)rep->by_decision[d]);
        const struct comparison *c = &r->cmp;
        printf("\nsame decision and chunk size: %llu of %llu calls (%.2f%%)\n",
               (unsigned long long)c->same, (unsigned long long)c->compared, percent(c->same, c->compared));
        if (c->other_decision || c->other_size || c->other_type)
            printf("  differ: %llu in decision, %llu in chunk size only, %llu in function\n",
                   (unsigned long long)c->other_decision, (unsigned long long)c->other_size,
                   (unsigned long long)c->other_type);
        if (c->only_record || c->only_replay)
            printf("  unpaired: %llu calls only in the record, %llu only in the replay\n",
                   (unsigned long long)c->only_record, (unsigned long long)c->only_replay);
        if (rec->arenas > rep->arenas)
            printf("  fewer arenas: a thread moves to another arena when it finds its arena's\n"
                   "  lock taken, and the replay runs one call at a time: no lock is ever taken\n");
        if (c->thread_mismatch)
            printf("  %llu calls ran on another replay thread than the first call of their "
                   "recorded thread\n", (unsigned long long)c->thread_mismatch);
        if (c->have_first)
            printf("  first difference, call %llu:\n    record (event %llu): %s\n"
                   "    replay (event %llu): %s\n", (unsigned long long)c->first_call,
                   (unsigned long long)c->first_rec_event, c->first_rec,
                   (unsigned long long)c->first_rep_event, c->first_rep);
        if (r->trace)
            printf("the replay's log: %s\n", r->trace);
    } else {
        printf("(untraced: no system calls or decisions; run without --untraced for them)\n");
    }
    if (r->res.null_results || r->res.extra_results)
        printf("note: %llu allocations failed in the replay that succeeded in the record, "
               "%llu the other way round\n", (unsigned long long)r->res.null_results,
               (unsigned long long)r->res.extra_results);
}

static void json_counts(const char *name, const uint64_t *v, int n, const char *(*names)(int), int from)
{
    printf("\"%s\":{", name);
    int first = 1;
    for (int i = from; i < n; i++)
        if (v[i]) {
            printf("%s\"%s\":%llu", first ? "" : ",", names(i), (unsigned long long)v[i]);
            first = 0;
        }
    printf("}");
}

/* Log paths and option strings come from the user: escaped. */
static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_json(const struct report *r)
{
    const struct lstats *rec = &r->tr->rec, *rep = &r->rep;
    const struct results *s = &r->res;
    printf("{\"format\":\"ptalloc-replay\",\"version\":1,\"log\":");
    json_string(r->file);
    printf(",\"pid\":%u,\"threads\":%d,\"options\":{", r->hdr->pid, r->rec_threads);
    for (int i = 0; i < r->noptions; i++) {
        const char *eq = strchr(r->options[i], '=');
        printf("%s\"%.*s\":", i ? "," : "", (int)(eq - r->options[i]), r->options[i]);
        json_string(eq + 1);
    }
    printf("},\"touch\":\"%s\",\"traced\":%s,\"snapshot_chunks\":%llu,\"forks\":%llu,",
           r->touch, r->traced ? "true" : "false", (unsigned long long)r->tr->pre,
           (unsigned long long)rec->forks);
    printf("\"calls\":{\"recorded\":%llu,\"replayed\":%llu},", (unsigned long long)r->tr->h.calls,
           (unsigned long long)s->calls);
    printf("\"time\":{\"recorded_wall_ns\":%llu,\"wall_ns\":%llu,\"cpu_ns\":%llu},",
           (unsigned long long)sub_sat(rec->last_ns, rec->first_ns), (unsigned long long)s->wall_ns,
           (unsigned long long)s->cpu_ns);
    printf("\"rss\":{\"start\":%llu,\"peak\":%llu,\"final\":%llu,\"minor_faults\":%llu},",
           (unsigned long long)s->rss_start_kb * 1024, (unsigned long long)s->rss_peak_kb * 1024,
           (unsigned long long)s->rss_final_kb * 1024, (unsigned long long)s->minor_faults);
    printf("\"arenas\":{\"recorded\":%llu", (unsigned long long)rec->arenas);
    if (r->traced)
        printf(",\"replay\":%llu", (unsigned long long)rep->arenas);
    printf("},\"heap\":{\"recorded_peak\":%llu,\"recorded_end\":%llu,", (unsigned long long)rec->heap_peak,
           (unsigned long long)rec->heap);
    if (r->traced)
        printf("\"peak\":%llu,", (unsigned long long)rep->heap_peak);
    printf("\"arena_max_system\":%llu,\"final\":%llu,\"final_mmapped\":%llu,\"final_in_use\":%llu},",
           (unsigned long long)s->arena_max_system, (unsigned long long)s->heap_final,
           (unsigned long long)s->mmapped_final, (unsigned long long)s->in_use_final);
    printf("\"recorded\":{");
    json_counts("sys", rec->sys, TLOG_SYS_COUNT, tlog_sys_name, 1);
    putchar(',');
    json_counts("decisions", rec->by_decision, TLOG_D_COUNT, tlog_decision_name, 0);
    printf("}");
    if (r->traced) {
        const struct comparison *c = &r->cmp;
        printf(",\"replay\":{");
        json_counts("sys", rep->sys, TLOG_SYS_COUNT, tlog_sys_name, 1);
        putchar(',');
        json_counts("decisions", rep->by_decision, TLOG_D_COUNT, tlog_decision_name, 0);
        printf("},\"compared\":{\"calls\":%llu,\"same\":%llu,\"other_decision\":%llu,"
               "\"other_size\":%llu,\"other_function\":%llu,\"only_record\":%llu,\"only_replay\":%llu,"
               "\"thread_mismatch\":%llu", (unsigned long long)c->compared, (unsigned long long)c->same,
               (unsigned long long)c->other_decision, (unsigned long long)c->other_size,
               (unsigned long long)c->other_type, (unsigned long long)c->only_record,
               (unsigned long long)c->only_replay, (unsigned long long)c->thread_mismatch);
        if (c->have_first) {
            printf(",\"first_difference\":{\"call\":%llu,\"record_event\":%llu,\"replay_event\":%llu,"
                   "\"record\":", (unsigned long long)c->first_call,
                   (unsigned long long)c->first_rec_event, (unsigned long long)c->first_rep_event);
            json_string(c->first_rec);
            printf(",\"replay\":");
            json_string(c->first_rep);
            putchar('}');
        }
        putchar('}');
        if (r->trace) {
            printf(",\"replay_log\":");
            json_string(r->trace);
        }
    }
    printf(",\"allocations_failed_only_in_replay\":%llu,\"allocations_failed_only_in_record\":%llu}\n",
           (unsigned long long)s->null_results, (unsigned long long)s->extra_results);
}

/* ---- the command ------------------------------------------------------------------- */

static char *tmp_path_for(const char *what)
{
    const char *dir = getenv("TMPDIR");
    char *path;
    if (asprintf(&path, "%s/ptalloc-replay-%s.XXXXXX", dir && *dir ? dir : "/tmp", what) < 0)
        cmd_die(SUB, NULL, "out of memory");
    int fd = mkstemp(path);
    if (fd < 0)
        cmd_die(SUB, NULL, "cannot create a temporary file %s: %s", path, strerror(errno));
    close(fd);
    return path;
}

int cmd_replay(int argc, char **argv)
{
    struct report r = { .touch = "page", .traced = 1 };
    struct translation tr = { 0 };
    int json = 0, touch = RP_TOUCH_PAGE;
    r.options = calloc((size_t)argc, sizeof *r.options);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-o") == 0 || (strncmp(a, "-o", 2) == 0 && a[2])) {
            const char *opt = a[2] ? a + 2 : (++i < argc ? argv[i] : NULL);
            if (!opt)
                cmd_die(SUB, NULL, "-o needs NAME=VALUE");
            cmd_set_option(opt);
            r.options[r.noptions++] = (char *)opt;
        } else if (strcmp(a, "--trace") == 0) {
            if (++i == argc)
                cmd_die(SUB, NULL, "--trace needs a file name");
            r.trace = argv[i];
        } else if (strcmp(a, "--touch") == 0) {
            if (++i == argc)
                cmd_die(SUB, NULL, "--touch needs none, page or all");
            if (strcmp(argv[i], "none") == 0)
                touch = RP_TOUCH_NONE;
            else if (strcmp(argv[i], "page") == 0)
                touch = RP_TOUCH_PAGE;
            else if (strcmp(argv[i], "all") == 0)
                touch = RP_TOUCH_ALL;
            else
                cmd_die(SUB, NULL, "--touch %s: expected none, page or all", argv[i]);
            r.touch = argv[i];
        } else if (strcmp(a, "--untraced") == 0) {
            r.traced = 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (a[0] == '-' && a[1]) {
            cmd_die(SUB, NULL, "unknown flag %s (see 'ptalloc --help')", a);
        } else if (r.file) {
            cmd_die(SUB, NULL, "one log at a time (got %s and %s)", r.file, a);
        } else {
            r.file = a;
        }
    }
    if (!r.file)
        cmd_die(SUB, NULL, "no log given (see 'ptalloc --help')");
    if (r.trace && !r.traced)
        cmd_die(SUB, NULL, "--trace and --untraced together: choose one");
    if (r.trace) {
        /* The library creates it; a place it cannot write is said here. */
        FILE *probe = fopen(r.trace, "w");
        if (!probe)
            cmd_die(SUB, NULL, "--trace %s: %s", r.trace, strerror(errno));
        fclose(probe);
    }

    char err[512];
    tr.file = r.file;
    if (!(tr.log = tlog_open(r.file, err, sizeof err)))
        cmd_die(SUB, r.file, "%s", err);
    r.hdr = tlog_header(tr.log);
    tlog_threads(tr.log, &r.rec_threads);
    /* The operations go to a temporary file, gone once closed; the
     * driver reads it from the descriptor it inherits. */
    char *ops_path = tmp_path_for("ops");
    int ops_fd = open(ops_path, O_RDWR);
    unlink(ops_path);
    if (ops_fd < 0 || !(tr.ops = fdopen(ops_fd, "w+")))
        cmd_die(SUB, NULL, "cannot open %s: %s", ops_path, strerror(errno));
    memcpy(tr.h.magic, RP_MAGIC, 8);
    tr.h.threads = r.rec_threads > 0 ? (uint32_t)r.rec_threads : 1;
    tr.h.touch = (uint32_t)touch;
    if (fwrite(&tr.h, sizeof tr.h, 1, tr.ops) != 1)
        cmd_die(SUB, NULL, "cannot write the operations file: %s", strerror(errno));
    translate(&tr);
    tr.h.slots = tr.map.slots;
    if (fseek(tr.ops, 0, SEEK_SET) != 0 || fwrite(&tr.h, sizeof tr.h, 1, tr.ops) != 1 ||
        fflush(tr.ops) != 0 || lseek(ops_fd, 0, SEEK_SET) != 0)
        cmd_die(SUB, NULL, "cannot write the operations file: %s", strerror(errno));
    tlog_close(tr.log);
    r.tr = &tr;

    char *tmp_trace = r.traced && !r.trace ? tmp_path_for("log") : NULL;
    const char *trace = r.trace ? r.trace : tmp_trace;
    run_driver(ops_fd, r.traced ? trace : NULL, &r.res);
    fclose(tr.ops);
    if (r.traced) {
        compare(r.file, trace, &r.rep, &r.cmp);
        if (tmp_trace)
            unlink(tmp_trace);
    }
    if (json)
        print_json(&r);
    else
        print_text(&r);
    free(tmp_trace);
    free(ops_path);
    free(r.options);
    free(tr.map.v);
    free(tr.map.free_slots);
    free(tr.rec.heaps);
    free(r.rep.heaps);
    return 0;
}
