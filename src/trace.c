/*
 * The trace log (docs/TRACE-FORMAT.md): with PTALLOC_TRACE=FILE, every call
 * of a public allocation function with the decision it took, and every
 * change of the heap's shape made inside a call.
 *
 * Tracing costs the fast paths nothing: they never look at it.  While it
 * is on, a thread's cache is kept parked in the thread's trace state
 * between calls, and what the fast paths see is an empty cache (every head
 * at TC_END, no room), so every call misses them and reaches a slow path,
 * which sends it here.  The wrapper puts the cache back for the length of
 * the call, runs the plain function, writes the record and parks the cache
 * again.
 *
 * The log is written through shared mappings of the file, a 64 KiB segment
 * per thread at a time: nothing waits in a buffer, so the log is whole up
 * to its last record when the process is killed, calls _exit or exec.
 * Nothing here calls malloc; a thread's state is mapped memory, reused
 * after the thread exits, so the memory used is bounded by the threads
 * alive at once, whatever the length of the run.
 */
#define _GNU_SOURCE
#include <execinfo.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "trace.h"
#include "ptalloc.h"
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#define LOG_VERSION      1
#define HEADER_SIZE      64
#define SEGMENT_SIZE     65536u
#define SEGMENT_HDR_SIZE 32
#define FILE_GROWTH      (4u << 20)       /* the file is extended this much at a time */
#define STACK_MAX        64
#define SITE_SLOTS       1024             /* call sites remembered per segment */
#define SITE_LIMIT       768
#define RECORD_MAX       (64 + 10 * STACK_MAX)

enum {
    R_SET = 32, R_SYS = 48, R_CONSOLIDATE, R_ARENA_NEW, R_THREAD_START, R_THREAD_EXIT, R_FORK,
    R_MARK, R_SNAPSHOT, R_SNAPSHOT_END, R_ARENA, R_MODULE, R_END, R_WALK
};

typedef struct trace_thread {
    /* The thread's cache while it is parked (see above), its state and
     * the mid-size cache's limit (0 while parked: nothing is served). */
    int         state;
    size_t      mid_limit;
    size_t      s1, s2;             /* the slots back in place, or ALL      */
    int32_t     room[TCACHE_SLOTS];
    tc_entry_t *head[TCACHE_SLOTS];
    /* The segment being written. */
    uint8_t    *seg, *pos, *end;
    uint64_t    prev_ts;            /* tsc >> 4 of the last record          */
    uintptr_t   prev_addr;
    int         tid;
    uint32_t    number, nseg;
    int         broken;             /* the file could not give a segment    */
    int         exited;             /* its thread ran its exit hook         */
    int         arena;              /* the arena the log last gave          */
    /* The call being recorded: the chunk a free gives back, and where the
     * first record that moved it put it. */
    uintptr_t   chunk;
    size_t      chunk_size;
    unsigned    free_decision;
    /* Call sites written in this segment, by their index. */
    uint32_t    nsites;
    uint64_t    site_key[SITE_SLOTS];
    uint32_t    site_index[SITE_SLOTS];
    struct trace_thread *next;      /* the free ones                        */
    struct trace_thread *all;       /* every state made                     */
} trace_thread_t;

int trace_on;
static int log_fd = -1;
static uint64_t log_next;                 /* next segment's offset          */
static uint64_t log_size;                 /* the file's size                */
static lock_t log_lock;                   /* file size, thread states       */
static int stack_depth = 1;
static uint32_t thread_count;
static uint64_t walk_count;
static trace_thread_t *states, *free_states;
static char log_path[4096];

/* The view of an empty cache the fast paths get while tracing is on. */
static const struct {
    int32_t     room[TCACHE_SLOTS];
    tc_entry_t *head[TCACHE_SLOTS];
} empty_cache = { .head = { [0 ... TCACHE_SLOTS - 1] = TC_END } };

static inline uint64_t now_tsc(void)
{
#if defined(__x86_64__)
    return __rdtsc();
#else
    return os_clock_ns(0);
#endif
}

/* ---- encoding ------------------------------------------------------------- */

static inline uint8_t *put_u(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline uint8_t *put_addr(trace_thread_t *t, uint8_t *p, uintptr_t addr)
{
    int64_t d = (int64_t)(addr - t->prev_addr) >> 4;
    t->prev_addr = addr;
    return put_u(p, ((uint64_t)d << 1) ^ (uint64_t)(d >> 63));
}

static inline uint8_t *put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return p + bytes;
}

/* ---- the file and its segments ----------------------------------------------- */

/* A new segment for t: the next one of the file, extended as needed.
 * Returns 0 when the file cannot grow (the thread then records nothing
 * more). */
static int segment_next(trace_thread_t *t)
{
    if (t->seg)
        os_unmap(t->seg, SEGMENT_SIZE);
    t->seg = t->pos = t->end = NULL;
    if (t->broken)
        return 0;
    t->broken = 1;                  /* until this works */
    uint64_t off = __atomic_fetch_add(&log_next, SEGMENT_SIZE, __ATOMIC_RELAXED);
    if (off + SEGMENT_SIZE > __atomic_load_n(&log_size, __ATOMIC_ACQUIRE)) {
        lock_acquire(&log_lock);
        int ok = 1;
        if (off + SEGMENT_SIZE > log_size) {
            /* Room ahead as large as the file, up to FILE_GROWTH: a short
             * log (a child that soon executes) stays small. */
            uint64_t ahead = log_size < FILE_GROWTH ? log_size : FILE_GROWTH;
            uint64_t want = off + SEGMENT_SIZE + ahead;
            ok = os_resize(log_fd, want) == 0;
            if (ok)
                __atomic_store_n(&log_size, want, __ATOMIC_RELEASE);
        }
        lock_release(&log_lock);
        if (!ok)
            return 0;
    }
    uint8_t *s = os_map_shared(log_fd, off, SEGMENT_SIZE);
    if (!s)
        return 0;
    uint64_t tsc = now_tsc();
    uint8_t *p = s;
    memcpy(p, "PTAS", 4);
    p = put_le(p + 4, (uint64_t)t->tid, 4);
    p = put_le(p, t->number, 4);
    p = put_le(p, t->nseg++, 4);
    p = put_le(p, tsc, 8);
    put_le(p, os_clock_ns(0), 8);
    t->broken = 0;
    t->seg = s;
    t->pos = s + SEGMENT_HDR_SIZE;
    t->end = s + SEGMENT_SIZE;
    t->prev_ts = tsc >> 4;
    t->prev_addr = 0;
    t->nsites = 0;
    memset(t->site_key, 0, sizeof t->site_key);
    return 1;
}

/* Starts a record of at most `need` bytes: returns where its fields go
 * (past the type byte and the time stamp), or NULL when nothing can be
 * written. */
static uint8_t *record_begin(trace_thread_t *t, size_t need)
{
    if (unlikely((size_t)(t->end - t->pos) < need + 1) && !segment_next(t))
        return NULL;
    uint64_t ts = now_tsc() >> 4;
    uint64_t d = ts > t->prev_ts ? ts - t->prev_ts : 0;
    t->prev_ts += d;
    return put_u(t->pos + 1, d);
}

/* Ends the record begun at t->pos: the type byte is written last, so a
 * record cut short by the end of the process reads as the end of the
 * segment's records. */
static void record_end(trace_thread_t *t, unsigned type, uint8_t *p)
{
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    *t->pos = (uint8_t)type;
    t->pos = p;
}

/* ---- thread states ------------------------------------------------------------ */

static trace_thread_t *state_new(void)
{
    trace_thread_t *t = NULL;
    lock_acquire(&log_lock);
    if (free_states) {
        t = free_states;
        free_states = t->next;
    } else {
        /* The state of a thread that exited and is gone. */
        for (trace_thread_t *s = states; s && !t; s = s->all)
            if (__atomic_load_n(&s->exited, __ATOMIC_ACQUIRE) && os_thread_gone(s->tid)) {
                t = s;
                if (t->seg)
                    os_unmap(t->seg, SEGMENT_SIZE);
            }
    }
    lock_release(&log_lock);
    if (!t) {
        t = os_map(sizeof *t);
        if (!t)
            return NULL;
        lock_acquire(&log_lock);
        t->all = states;
        states = t;
        lock_release(&log_lock);
    }
    trace_thread_t *all = t->all;
    memset(t, 0, sizeof *t);
    t->all = all;
    t->tid = os_gettid();
    t->number = __atomic_fetch_add(&thread_count, 1, __ATOMIC_RELAXED);
    t->arena = -2;
    return t;
}

/* The calling thread's state, made on its first call: it takes over the
 * cache the thread has now. */
static trace_thread_t *state_of_thread(void)
{
    trace_thread_t *t = tc.trace;
    if (likely(t != NULL))
        return t;
    t = state_new();
    if (!t)
        return NULL;
    memcpy(t->room, tc.room, sizeof t->room);
    memcpy(t->head, tc.head, sizeof t->head);
    t->state = tc.state;
    t->mid_limit = tcm.limit;
    tc.trace = t;
    uint8_t *p = record_begin(t, 16);
    if (p) {
        p = put_u(p, (uint64_t)t->tid);
        record_end(t, R_THREAD_START, p);
    }
    return t;
}

/* Putting the cache back costs a copy of its arrays each way, most of a
 * traced call's time; so a call gets back the slots it can use (those of
 * its request or its chunk, `ALL` for every one), and the paths that may
 * use any other (a cache set up or flushed, a remote batch collected into
 * it) call trace_need_cache first.  A slot a call did not get looks empty
 * and full to it: missed, it would change a decision, never lose a chunk. */
#define ALL       ((size_t)-1)
#define NO_SLOT   ((size_t)-2)

static void slot_in(trace_thread_t *t, size_t s)
{
    if (s < TCACHE_SLOTS) {
        tc.room[s] = t->room[s];
        tc.head[s] = t->head[s];
    }
}

static void slot_out(trace_thread_t *t, size_t s)
{
    if (s < TCACHE_SLOTS) {
        t->room[s] = tc.room[s];
        t->head[s] = tc.head[s];
        tc.room[s] = 0;
        tc.head[s] = TC_END;
    }
}

/* The slot of a chunk size, or NO_SLOT. */
static size_t slot_of(size_t chunk_size)
{
    return chunk_size >> 4 < TCACHE_SLOTS ? chunk_size >> 4 : NO_SLOT;
}

/* Debug builds give every call the whole cache, and check when it is
 * parked again that the call changed no slot but those it was to get: a
 * path that needs the others and does not say so (trace_need_cache) is
 * an assertion there rather than a changed decision in the release
 * build. */
#ifdef PTALLOC_DEBUG
#define DEBUG_WHOLE_CACHE 1
static void check_slots(const trace_thread_t *t)
{
    for (size_t s = 0; s < TCACHE_SLOTS; s++)
        if (s != t->s1 && s != t->s2 && (tc.room[s] != t->room[s] || tc.head[s] != t->head[s]))
            assert_fail("a traced call used a cache slot it was not given (trace_need_cache)",
                        __FILE__, (int)s);
}
#else
#define DEBUG_WHOLE_CACHE 0
static void check_slots(const trace_thread_t *t) { (void)t; }
#endif

/* Puts the thread's cache back for a call: slots s1 and s2, or ALL. */
static trace_thread_t *enter(size_t s1, size_t s2)
{
    trace_thread_t *t = tc.trace;
    if (likely(t != NULL)) {
        if (s1 == ALL || DEBUG_WHOLE_CACHE) {
            memcpy(tc.room, t->room, sizeof tc.room);
            memcpy(tc.head, t->head, sizeof tc.head);
        } else {
            slot_in(t, s1);
            slot_in(t, s2);
        }
        t->s1 = s1;
        t->s2 = s2;
        tc.state = (uint16_t)t->state;
        tcm.limit = t->mid_limit;
    } else {
        t = state_of_thread();
        if (t)
            t->s1 = ALL;            /* the cache is in place, whole */
    }
    tc.in_trace = 1;
    tc.decision = D_NONE;
    if (t) {
        t->chunk = 0;
        t->free_decision = D_NONE;
    }
    return t;
}

/* A path of this call may use any slot: the others come back too. */
void trace_need_cache(void)
{
    trace_thread_t *t = tc.trace;
    if (!tc.in_trace || !t || t->s1 == ALL)
        return;
    for (size_t s = 0; s < TCACHE_SLOTS; s++)
        if (s != t->s1 && s != t->s2)
            slot_in(t, s);
    t->s1 = ALL;
}

/* Parks the cache again. */
static void leave(trace_thread_t *t)
{
    if (t) {
        if (DEBUG_WHOLE_CACHE && t->s1 != ALL) {
            check_slots(t);
            t->s1 = ALL;
        }
        if (t->s1 == ALL) {
            memcpy(t->room, tc.room, sizeof t->room);
            memcpy(t->head, tc.head, sizeof t->head);
            memcpy(tc.room, empty_cache.room, sizeof tc.room);
            memcpy(tc.head, empty_cache.head, sizeof tc.head);
        } else {
            slot_out(t, t->s1);
            if (t->s2 != t->s1)
                slot_out(t, t->s2);
        }
        t->state = tc.state;
        tc.state = TC_TRACED;
        t->mid_limit = tcm.limit;
        tcm.limit = 0;
    }
    tc.in_trace = 0;
}

/* ---- records ----------------------------------------------------------------- */

static uint64_t site_hash(const uint64_t *frames, int n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < n; i++)
        h = (h ^ frames[i]) * 0xff51afd7ed558ccdull;
    return h | 1;
}

/* The call site: its index when this segment has it already, else the
 * frames (which take the next index). */
static uint8_t *put_site(trace_thread_t *t, uint8_t *p, void *ra)
{
    uint64_t frames[STACK_MAX];
    int n = 1;
    frames[0] = (uintptr_t)ra;
    if (stack_depth > 1) {
        void *bt[STACK_MAX + 8];
        int got = backtrace(bt, stack_depth + 8 < STACK_MAX + 8 ? stack_depth + 8 : STACK_MAX + 8);
        int from = 0;
        while (from < got && bt[from] != ra)
            from++;
        if (from == got)
            from = got;     /* not found: the return address alone, then nothing */
        else
            from++;
        for (int i = from; i < got && n < stack_depth; i++)
            frames[n++] = (uintptr_t)bt[i];
    }
    uint64_t key = site_hash(frames, n);
    unsigned slot = (unsigned)(key >> 40) & (SITE_SLOTS - 1);
    for (int probe = 0; probe < 8; probe++, slot = (slot + 1) & (SITE_SLOTS - 1)) {
        if (t->site_key[slot] == key)
            return put_u(p, (uint64_t)t->site_index[slot] << 1);
        if (t->site_key[slot] == 0) {
            if (t->nsites >= SITE_LIMIT)
                break;
            t->site_key[slot] = key;
            t->site_index[slot] = t->nsites;
            break;
        }
    }
    /* New to this segment (or the table is full: written out each time,
     * taking an index all the same, as the reader counts them). */
    t->nsites++;
    p = put_u(p, ((uint64_t)n << 1) | 1);
    for (int i = 0; i < n; i++)
        p = put_u(p, frames[i]);
    return p;
}

/* The thread's arena, when it changed since the last record said. */
static void note_arena(trace_thread_t *t)
{
    int a = tc.arena ? tc.arena->number : -1;
    if (a == t->arena || a < 0)
        return;
    uint8_t *p = record_begin(t, 16);
    if (!p)
        return;
    t->arena = a;
    p = put_u(p, (uint64_t)a);
    record_end(t, R_ARENA, p);
}

/* A call record.  n: the op's numbers (request, alignment, counts); old:
 * realloc's old chunk; chunk: the chunk returned or freed, if any. */
struct call {
    unsigned op, decision, source;
    void *ra;
    uint64_t n[3];
    int nn;
    const chunk_t *old;
    size_t old_size;
    const chunk_t *chunk;
    size_t chunk_size;
};

static void write_call(trace_thread_t *t, const struct call *c)
{
    if (!t)
        return;
    note_arena(t);
    uint8_t *p = record_begin(t, RECORD_MAX);
    if (!p)
        return;
    *p++ = (uint8_t)c->decision;
    p = put_site(t, p, c->ra);
    int realloc_op = c->op == OP_REALLOC || c->op == OP_REALLOCARRAY;
    if (realloc_op) {
        p = put_addr(t, p, (uintptr_t)c->old);
        p = put_u(p, c->old_size >> 4);
    }
    for (int i = 0; i < c->nn; i++)
        p = put_u(p, c->n[i]);
    if (realloc_op)
        *p++ = (uint8_t)c->source;
    if (c->chunk) {
        p = put_addr(t, p, (uintptr_t)c->chunk);
        p = put_u(p, c->chunk_size >> 4);
    }
    record_end(t, c->op, p);
}

/* The chunk of a block the program holds (returned or about to be freed).
 * The compiler knows what the allocation functions return, and that their
 * chunk header lies outside it: the pointer is hidden from it. */
static void chunk_of(const void *mem, struct call *c)
{
    __asm__("" : "+r"(mem));
    if (mem) {
        c->chunk = mem2chunk(mem);
        c->chunk_size = chunksize(c->chunk);
    }
}

/* Where an allocation came from: the decision its path wrote.  The
 * caches' paths write none (the arena's traced steps, mmap and mremap
 * do): a chunk of the mid-size cache's sizes came from it, any other
 * from the tcache. */
static unsigned alloc_decision(const void *mem)
{
    if (!mem)
        return D_FAILED;
    if (tc.decision != D_NONE)
        return tc.decision;
    __asm__("" : "+r"(mem));
    return chunksize(mem2chunk(mem)) >= TCACHE_MID_MIN ? D_TCACHE_MID : D_TCACHE;
}

void trace_set_slow(const void *chunk, size_t size, unsigned where)
{
    trace_thread_t *t = state_of_thread();
    if (!t)
        return;
    uintptr_t a = (uintptr_t)chunk;
    /* The first record that moves the chunk a free gives back says where
     * the free sent it. */
    if (t->chunk && t->free_decision == D_NONE && a <= t->chunk && t->chunk < a + size) {
        static const uint8_t by_where[] = {
            [W_TCACHE] = D_TCACHE, [W_FASTBIN] = D_FASTBIN, [W_UNSORTED] = D_UNSORTED,
            [W_SMALLBIN] = D_SMALLBIN, [W_LARGEBIN] = D_LARGEBIN, [W_TOP] = D_TOP,
            [W_MMAPPED] = D_MMAP, [W_REMOTE] = D_REMOTE, [W_GONE] = D_MUNMAP,
        };
        unsigned d = where < sizeof by_where ? by_where[where] : D_NONE;
        if (d == D_TCACHE && size >= TCACHE_MID_MIN)
            d = D_TCACHE_MID;
        if (a < t->chunk && where != W_GONE)
            d |= D_MERGED_PREV;
        if (a + size > t->chunk + t->chunk_size && where != W_GONE)
            d |= D_MERGED_NEXT;
        t->free_decision = d;
    }
    uint8_t *p = record_begin(t, 32);
    if (!p)
        return;
    p = put_addr(t, p, a);
    p = put_u(p, size >> 4);
    record_end(t, R_SET + where, p);
}

/* The n chunks a spill moved to a fastbin, from its head: recorded
 * deepest first, the order a chunk-by-chunk push would have put them
 * there (a reader rebuilding the list puts each at the head).  Groups of
 * up to 64 from the end, each found by a walk from the head. */
void trace_fastbin_run(const chunk_t *first, size_t size, int n)
{
    const chunk_t *group[64];
    for (int from = (n - 1) / 64 * 64; from >= 0; from -= 64) {
        const chunk_t *p = first;
        for (int i = 0; i < from && p; i++)
            p = reveal_ptr(&p->fd);
        int k = 0;
        for (; k < 64 && from + k < n && p; k++, p = reveal_ptr(&p->fd))
            group[k] = p;
        while (k-- > 0)
            trace_set_slow(group[k], size, W_FASTBIN);
    }
}

void trace_top_slow(const arena_t *a)
{
    trace_set_slow(a->top, chunksize(a->top), W_TOP);
}

/* A sys record of arena number `arena`. */
static void sys_record(unsigned kind, int arena, const void *addr, size_t len, const void *addr2, size_t len2)
{
    trace_thread_t *t = state_of_thread();
    uint8_t *p = t ? record_begin(t, 48) : NULL;
    if (!p)
        return;
    *p++ = (uint8_t)kind;
    p = put_u(p, (uint64_t)arena);
    p = put_addr(t, p, (uintptr_t)addr);
    p = put_u(p, len >> 4);
    if (kind == TS_MREMAP) {
        p = put_addr(t, p, (uintptr_t)addr2);
        p = put_u(p, len2 >> 4);
    }
    record_end(t, R_SYS, p);
}

void trace_sys_slow(unsigned kind, const arena_t *a, const void *addr, size_t len,
                    const void *addr2, size_t len2)
{
    sys_record(kind, a ? a->number : 0, addr, len, addr2, len2);
}

static void write_small(unsigned type, uint64_t n, int with_n)
{
    trace_thread_t *t = state_of_thread();
    uint8_t *p = t ? record_begin(t, 16) : NULL;
    if (!p)
        return;
    if (with_n)
        p = put_u(p, n);
    record_end(t, type, p);
}

void trace_consolidate_slow(const arena_t *a)
{
    write_small(R_CONSOLIDATE, (uint64_t)a->number, 1);
}

void trace_arena_new_slow(const arena_t *a, const void *heap)
{
    trace_thread_t *t = state_of_thread();
    uint8_t *p = t ? record_begin(t, 32) : NULL;
    if (!p)
        return;
    p = put_u(p, (uint64_t)a->number);
    p = put_addr(t, p, (uintptr_t)heap);
    record_end(t, R_ARENA_NEW, p);
}

/* ---- the wrappers -------------------------------------------------------------- */

/* The slots a request of n bytes may use: its own, and slot 2 that the
 * smallest requests take from. */
static trace_thread_t *enter_request(size_t n)
{
    return enter(n <= TCACHE_MAX_REQUEST ? slot_of(request2size(n)) : NO_SLOT, 2);
}

void *trace_malloc(size_t n, void *ra)
{
    trace_thread_t *t = enter_request(n);
    void *mem = malloc(n);
    struct call c = { .op = OP_MALLOC, .decision = alloc_decision(mem), .ra = ra, .n = { n }, .nn = 1 };
    chunk_of(mem, &c);
    write_call(t, &c);
    leave(t);
    return mem;
}

void *trace_calloc(size_t n, size_t size, void *ra)
{
    size_t bytes;
    trace_thread_t *t = enter_request(__builtin_mul_overflow(n, size, &bytes) ? SIZE_MAX : bytes);
    void *mem = calloc(n, size);
    struct call c = { .op = OP_CALLOC, .decision = alloc_decision(mem), .ra = ra,
                      .n = { n, size }, .nn = 2 };
    chunk_of(mem, &c);
    write_call(t, &c);
    leave(t);
    return mem;
}

void trace_free(void *mem, int op, size_t align, size_t n, void *ra)
{
    trace_thread_t *t = enter(mem ? slot_of(chunksize(mem2chunk(mem))) : NO_SLOT, NO_SLOT);
    struct call c = { .op = (unsigned)op, .ra = ra, .decision = D_NULL };
    if (op == OP_FREE_SIZED)
        c.n[c.nn++] = n;
    else if (op == OP_FREE_ALIGNED_SIZED) {
        c.n[c.nn++] = align;
        c.n[c.nn++] = n;
    }
    chunk_of(mem, &c);
    if (t) {
        t->chunk = (uintptr_t)c.chunk;
        t->chunk_size = c.chunk_size;
    }
    free(mem);
    if (mem)
        c.decision = t && t->free_decision ? t->free_decision : D_TCACHE;
    write_call(t, &c);
    leave(t);
}

void *trace_realloc(void *mem, size_t n, size_t count, size_t elsize, int op, void *ra)
{
    /* the old chunk's slot and the new size's */
    trace_thread_t *t = enter(mem ? slot_of(chunksize(mem2chunk(mem))) : 2,
                              n <= TCACHE_MAX_REQUEST ? slot_of(request2size(n)) : NO_SLOT);
    struct call c = { .op = (unsigned)op, .ra = ra };
    if (op == OP_REALLOCARRAY) {
        c.n[0] = count;
        c.n[1] = elsize;
        c.nn = 2;
    } else {
        c.n[0] = n;
        c.nn = 1;
    }
    if (mem) {
        c.old = mem2chunk(mem);
        c.old_size = chunksize(c.old);
        if (t) {
            t->chunk = (uintptr_t)c.old;
            t->chunk_size = c.old_size;
        }
    }
    void *r = op == OP_REALLOCARRAY ? reallocarray(mem, count, elsize) : realloc(mem, n);
    /* A realloc to 0 bytes frees (reallocarray's too, when the product
     * does not overflow). */
    size_t bytes = n;
    int frees = mem && (op == OP_REALLOCARRAY ? !__builtin_mul_overflow(count, elsize, &bytes) && !bytes
                                              : n == 0);
    if (!mem) {
        c.decision = c.source = alloc_decision(r);
    } else if (frees) {
        c.decision = t && t->free_decision ? t->free_decision : D_TCACHE;
    } else if (!r) {
        c.decision = D_FAILED;
    } else if (tc.decision == D_MREMAP) {
        c.decision = D_MREMAP;
    } else if (r == mem) {
        c.decision = D_IN_PLACE;
    } else {
        c.decision = D_MOVED;
        c.source = alloc_decision(r);
    }
    if (r && !frees)
        chunk_of(r, &c);
    write_call(t, &c);
    leave(t);
    return r;
}

/* The memalign family; posix_memalign's result goes to *out, its error to
 * *err. */
void *trace_memalign(int op, size_t align, size_t n, void **out, int *err, void *ra)
{
    /* the request's slot, and the one of the larger chunk the arena is
     * asked for (int_memalign), whose slot int_malloc may fill */
    size_t nb = n <= TCACHE_MAX_REQUEST ? request2size(n) : 0;
    size_t a = op == OP_VALLOC || op == OP_PVALLOC ? os_pagesize : align;
    trace_thread_t *t = enter(nb ? slot_of(nb) : NO_SLOT,
                              nb && a < TCACHE_SLOTS * 16 ? slot_of(nb + a + MINSIZE) : NO_SLOT);
    void *mem = NULL;
    struct call c = { .op = (unsigned)op, .ra = ra, .n = { align, n }, .nn = 2 };
    switch (op) {
    case OP_MEMALIGN:       mem = memalign(align, n); break;
    case OP_ALIGNED_ALLOC:  mem = aligned_alloc(align, n); break;
    case OP_POSIX_MEMALIGN:
        *err = posix_memalign(out, align, n);
        mem = *err ? NULL : *out;
        break;
    case OP_VALLOC:         mem = valloc(n); c.n[0] = n; c.nn = 1; break;
    case OP_PVALLOC:        mem = pvalloc(n); c.n[0] = n; c.nn = 1; break;
    }
    c.decision = alloc_decision(mem);
    chunk_of(mem, &c);
    write_call(t, &c);
    leave(t);
    return mem;
}

int trace_malloc_trim(size_t pad, void *ra)
{
    trace_thread_t *t = enter(ALL, ALL);
    int r = malloc_trim(pad);
    struct call c = { .op = OP_MALLOC_TRIM, .decision = r ? D_TRIM : D_NONE, .ra = ra,
                      .n = { pad, (uint64_t)r }, .nn = 2 };
    write_call(t, &c);
    leave(t);
    return r;
}

int trace_begin(void)
{
    if (!trace_wanted())
        return 0;
    enter(ALL, ALL);
    return 1;
}

void trace_end(int began)
{
    if (began)
        leave(tc.trace);
}

void trace_walk_checkpoint(void)
{
    if (trace_on)
        write_small(R_WALK, __atomic_fetch_add(&walk_count, 1, __ATOMIC_RELAXED), 1);
}

COLD PUBLIC void ptalloc_trace_mark(const char *label)
{
    if (!trace_on || !label)
        return;
    int began = trace_begin();
    trace_thread_t *t = state_of_thread();
    size_t n = str_len(label);
    if (n > 1024)
        n = 1024;
    uint8_t *p = t ? record_begin(t, n + 16) : NULL;
    if (p) {
        p = put_u(p, n);
        memcpy(p, label, n);
        record_end(t, R_MARK, p + n);
    }
    trace_end(began);
}

COLD PUBLIC int ptalloc_tracing(void)
{
    return trace_on;
}

/* ---- the module list, the snapshot ---------------------------------------------- */

static uint64_t hex(const char **s)
{
    uint64_t v = 0;
    for (;; (*s)++) {
        char c = **s;
        if (c >= '0' && c <= '9') v = v * 16 + (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v = v * 16 + (uint64_t)(c - 'a' + 10);
        else return v;
    }
}

/* The executable file mappings, read from /proc/self/maps without
 * allocating, collected first in a scratch mapping as {start, end, offset,
 * path length, path}, then written as one `modules` record. */
struct module { uint64_t start, end, offset; uint32_t len; char path[]; };
#define MODULES_SCRATCH (1u << 18)
#define MODULES_RECORD  (SEGMENT_SIZE - SEGMENT_HDR_SIZE - 64)

/* One line: "start-end perms offset dev inode path". */
static size_t module_line(const char *s, char *out, size_t room)
{
    uint64_t start = hex(&s);
    if (*s++ != '-')
        return 0;
    uint64_t end = hex(&s);
    if (*s++ != ' ' || s[2] != 'x')
        return 0;
    s += 5;
    uint64_t off = hex(&s);
    for (int field = 0; field < 2; field++) {      /* device, inode */
        while (*s == ' ')
            s++;
        while (*s && *s != ' ')
            s++;
    }
    while (*s == ' ')
        s++;
    size_t n = str_len(s);
    size_t need = align_up(sizeof(struct module) + n, 8);
    if (*s != '/' || need > room)
        return 0;
    struct module *m = (struct module *)out;
    m->start = start;
    m->end = end;
    m->offset = off;
    m->len = (uint32_t)n;
    memcpy(m->path, s, n);
    return need;
}

static void write_modules(trace_thread_t *t)
{
    int fd = os_open("/proc/self/maps", 0);
    if (fd < 0)
        return;
    char *scratch = os_map(MODULES_SCRATCH);
    if (!scratch) {
        os_close(fd);
        return;
    }
    size_t used = 0, count = 0, bytes = 16;
    char buf[8192];
    size_t have = 0;
    for (;;) {
        long r = os_read(fd, buf + have, sizeof buf - 1 - have);
        if (r <= 0)
            break;
        have += (size_t)r;
        buf[have] = 0;
        char *line = buf, *nl;
        while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
            *nl = 0;
            size_t k = module_line(line, scratch + used, MODULES_SCRATCH - used);
            struct module *m = (struct module *)(scratch + used);
            if (k && bytes + 40 + m->len <= MODULES_RECORD) {
                used += k;
                count++;
                bytes += 40 + m->len;
            }
            line = nl + 1;
        }
        have -= (size_t)(line - buf);
        memmove(buf, line, have);
        if (have == sizeof buf - 1)
            have = 0;           /* a line longer than the buffer: dropped */
    }
    os_close(fd);
    uint8_t *p = record_begin(t, bytes);
    if (p) {
        p = put_u(p, count);
        for (size_t at = 0; at < used;) {
            struct module *m = (struct module *)(scratch + at);
            p = put_addr(t, p, m->start);
            p = put_u(p, (m->end - m->start) >> 4);
            p = put_u(p, m->offset);
            p = put_u(p, m->len);
            memcpy(p, m->path, m->len);
            p += m->len;
            at += align_up(sizeof(struct module) + m->len, 8);
        }
        record_end(t, R_MODULE, p);
    }
    os_unmap(scratch, MODULES_SCRATCH);
}

/* The walk's states are the log's (enum trace_where follows enum
 * ptalloc_where). */
_Static_assert((int)W_MMAPPED == (int)PTALLOC_MMAPPED && (int)W_FENCE == (int)PTALLOC_FENCE &&
                   (int)W_TCACHE == (int)PTALLOC_TCACHE,
               "trace states numbered as enum ptalloc_where");
static int snapshot_chunk(const struct ptalloc_chunk_info *ci, void *arg)
{
    trace_set_slow(ci->chunk, ci->size, (unsigned)ci->where);
    return 0;
}

/* A snapshot's regions: each arena segment's extent, from its first chunk
 * to its last one's end, as the sys record that would have made it. */
struct snap_region { int arena, segment; uintptr_t start, end; };

static void snapshot_region_out(const struct snap_region *r)
{
    if (r->end > r->start)
        sys_record(r->arena ? TS_HEAP_NEW : r->segment ? TS_SEGMENT : TS_BRK, r->arena, (const void *)r->start,
                   r->end - r->start, NULL, 0);
}

static int snapshot_region(const struct ptalloc_chunk_info *ci, void *arg)
{
    struct snap_region *r = arg;
    if (ci->arena < 0)                      /* mmapped chunks: no region */
        return 0;
    if (ci->arena != r->arena || ci->segment != r->segment) {
        snapshot_region_out(r);
        *r = (struct snap_region){ ci->arena, ci->segment, (uintptr_t)ci->chunk, (uintptr_t)ci->chunk };
    }
    r->end = (uintptr_t)ci->chunk + ci->size;
    return 0;
}

/* Every chunk as it is now: the start of a log, or of a forked child's.
 * The regions first, so that a reader knows each chunk's arena. */
static void write_snapshot(trace_thread_t *t)
{
    write_modules(t);
    write_small(R_SNAPSHOT, 0, 0);
    t->chunk = 0;
    struct snap_region r = { -1, -1, 0, 0 };
    ptalloc_walk(snapshot_region, &r);
    snapshot_region_out(&r);
    ptalloc_walk(snapshot_chunk, NULL);
    write_small(R_SNAPSHOT_END, 0, 0);
}

/* ---- start, fork, exit ---------------------------------------------------------- */

/* Creates the log file and writes its header; 0 on failure. */
static int open_log(const char *path, int ppid)
{
    log_fd = os_open(path, 1);
    if (log_fd < 0)
        return 0;
    log_size = 0;
    log_next = SEGMENT_SIZE;        /* the header has the first segment's place */
    uint8_t h[HEADER_SIZE] = { 0 };
    memcpy(h, "PTATRACE", 8);
    put_le(h + 8, LOG_VERSION, 4);
    put_le(h + 12, HEADER_SIZE, 4);
    put_le(h + 16, (uint64_t)os_getpid(), 4);
    put_le(h + 20, (uint64_t)ppid, 4);
    put_le(h + 24, now_tsc(), 8);
    put_le(h + 32, os_clock_ns(0), 8);
    put_le(h + 40, os_clock_ns(1), 8);
    put_le(h + 48, os_pagesize, 4);
    put_le(h + 52, (uint64_t)stack_depth, 4);
    put_le(h + 56, ppid ? 1 : 0, 4);
    /* The header's place, the first segment and one ahead: a file that
     * was not trimmed at exit ends with a segment never used. */
    if (os_resize(log_fd, 3 * SEGMENT_SIZE) != 0) {
        os_close(log_fd);
        log_fd = -1;
        return 0;
    }
    log_size = 3 * SEGMENT_SIZE;
    uint8_t *m = os_map_shared(log_fd, 0, HEADER_SIZE);
    if (!m) {
        os_close(log_fd);
        log_fd = -1;
        return 0;
    }
    memcpy(m, h, HEADER_SIZE);
    os_unmap(m, HEADER_SIZE);
    return 1;
}

/* Removes NAME from the environment, so that a program this one executes
 * does not trace into the same file. */
extern char **environ;
static void env_drop(const char *name)
{
    size_t n = str_len(name);
    char **w = environ;
    if (!w)
        return;
    for (char **r = environ; *r; r++)
        if (!(str_eqn(*r, name, n) && (*r)[n] == '='))
            *w++ = *r;
    *w = NULL;
}

void trace_start(void)
{
    const char *path = os_getenv("PTALLOC_TRACE");
    if (trace_on || !path || !*path || os_secure() || str_len(path) >= sizeof log_path - 16)
        return;
    memcpy(log_path, path, str_len(path) + 1);
    const char *depth = os_getenv("PTALLOC_TRACE_STACK");
    long d;
    if (depth && parse_long(depth, depth + str_len(depth), &d) && d >= 1)
        stack_depth = d > STACK_MAX ? STACK_MAX : (int)d;
    env_drop("PTALLOC_TRACE");
    env_drop("PTALLOC_TRACE_STACK");
    /* What these set up allocates before the log starts; the snapshot
     * has it. */
    fork_hooks_register();
    if (stack_depth > 1) {
        void *bt[4];
        backtrace(bt, 4);
    }
    if (!open_log(log_path, 0)) {
        char msg[4200];
        size_t n = fmt_snprintf(msg, sizeof msg, "ptalloc: PTALLOC_TRACE: cannot create %s; not tracing\n",
                                log_path);
        os_write(2, msg, n);
        return;
    }
    trace_thread_t *t = enter(ALL, ALL);
    if (!t) {
        tc.in_trace = 0;
        return;
    }
    write_snapshot(t);
    trace_on = 1;
    leave(t);
}

/* A thread's last records: its cache went back to the arenas (the caller
 * did that inside trace_begin). */
void trace_thread_exit(void)
{
    trace_thread_t *t = tc.trace;
    if (!t)
        return;
    write_small(R_THREAD_EXIT, 0, 0);
    leave(t);
    tc.state = (uint16_t)t->state;
    tcm.limit = t->mid_limit;
    /* The state stays the thread's: libc still frees a little after this
     * hook, recorded as this thread's.  It is reused once the thread is
     * gone (state_new). */
    __atomic_store_n(&t->exited, 1, __ATOMIC_RELEASE);
}

void trace_fork_parent(void)
{
    if (trace_on)
        write_small(R_FORK, 0, 1);
}

/* In the child: the parent's segments are not ours to write; the child
 * gets a log of its own, FILE.<pid>, that starts with a snapshot. */
void trace_fork_child(void)
{
    if (!trace_on)
        return;
    trace_thread_t *t = tc.trace;
    /* The other threads do not exist here: their states are free, and
     * their segments, the parent's, are let go unwritten. */
    free_states = NULL;
    log_lock.state = 0;
    for (trace_thread_t *s = states; s; s = s->all) {
        if (s->seg)
            os_unmap(s->seg, SEGMENT_SIZE);
        s->seg = s->pos = s->end = NULL;
        if (s != t) {
            s->next = free_states;
            free_states = s;
        }
    }
    os_close(log_fd);
    log_fd = -1;
    char path[sizeof log_path + 16];
    fmt_snprintf(path, sizeof path, "%s.%d", log_path, os_getpid());
    int ppid = os_getppid();
    if (!open_log(path, ppid)) {
        /* No log: the cache goes back to the fast paths. */
        trace_on = 0;
        if (t) {
            memcpy(tc.room, t->room, sizeof tc.room);
            memcpy(tc.head, t->head, sizeof tc.head);
            tc.state = (uint16_t)t->state;
            tcm.limit = t->mid_limit;
        }
        return;
    }
    if (t) {
        t->tid = os_gettid();
        t->number = 0;
        t->nseg = 0;
        t->arena = -2;
    }
    thread_count = t ? 1 : 0;
    walk_count = 0;
    /* Not a checkpoint: the snapshot's walk is the log's start. */
    trace_on = 0;
    t = enter(ALL, ALL);
    if (t)
        write_snapshot(t);
    trace_on = 1;
    leave(t);
}

__attribute__((destructor)) static void trace_at_exit(void)
{
    if (!trace_on)
        return;
    int began = trace_begin();
    trace_thread_t *t = state_of_thread();
    if (t)
        write_modules(t);
    write_small(R_END, 0, 0);
    trace_end(began);
    /* The file ends with the last segment given out, not the room made
     * ahead for more. */
    lock_acquire(&log_lock);
    uint64_t used = __atomic_load_n(&log_next, __ATOMIC_RELAXED);
    if (used < log_size && os_resize(log_fd, used) == 0)
        log_size = used;
    lock_release(&log_lock);
}
