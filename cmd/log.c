/*
 * The trace log reader: the header and segment index, per-thread record
 * streams, and their merge in time order (docs/TRACE-FORMAT.md).
 *
 * The file is mapped read-only and decoded in place.  Each thread is a
 * stream over its chain of segments holding one decoded record ahead;
 * a binary heap of streams keyed by (time stamp, thread number) yields the
 * earliest.  A stream decodes its next record only when the previous one
 * has been handed out and the caller comes back, so the site frames an
 * event points to (the segment's site table) stay put until then.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ptalloc.h"
#include "log.h"

#define MAX_THREADS (1 << 22)   /* a thread number above is corruption */

struct seg {
    uint64_t off, len, tsc, ns;
    uint32_t tid, seq;
    int thread;
};

struct stream {
    int thread;
    size_t *segs, nsegs, cur;       /* indices into log->segs; cur = next to start */
    const uint8_t *p, *end;         /* the current segment's records */
    const struct seg *seg;
    uint64_t prev_ts, prev_addr;
    uint32_t *site_at, *site_n;     /* the segment's site table: frames[at..at+n) */
    size_t nsites, capsites;
    uint64_t *frames;
    size_t nframes, capframes;
    struct tlog_module *mods;       /* a modules record decoded ahead */
    int nmods;
    struct tlog_event ev;           /* the record decoded ahead */
};

struct cal { uint64_t tsc, ns; };

struct tlog {
    const uint8_t *map;
    uint64_t size;
    struct tlog_header hdr;
    struct seg *segs;
    size_t nsegs;
    struct stream *streams;
    struct tlog_thread *threads;
    int nthreads;
    int *heap, nheap;               /* streams with a record ahead, earliest first */
    int last;                       /* stream of the event handed out last, -1 none */
    int started, failed, saw_end;
    struct cal *cal;
    size_t ncal;
    uint64_t number;
    struct tlog_module *mods;
    int nmods;
    char err[512];
};

void *tlog_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fputs("ptalloc: out of memory\n", stderr);
        exit(2);
    }
    return p;
}

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static void fail(struct tlog *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct tlog *log, const char *fmt, ...)
{
    if (log->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(log->err, sizeof log->err, fmt, ap);
    va_end(ap);
    log->failed = 1;
}

/* ---- names ------------------------------------------------------------------- */

static const char *const type_names[] = {
    [TLOG_MALLOC] = "malloc", [TLOG_CALLOC] = "calloc", [TLOG_REALLOC] = "realloc",
    [TLOG_REALLOCARRAY] = "reallocarray", [TLOG_FREE] = "free", [TLOG_FREE_SIZED] = "free_sized",
    [TLOG_FREE_ALIGNED_SIZED] = "free_aligned_sized", [TLOG_MEMALIGN] = "memalign",
    [TLOG_ALIGNED_ALLOC] = "aligned_alloc", [TLOG_POSIX_MEMALIGN] = "posix_memalign",
    [TLOG_VALLOC] = "valloc", [TLOG_PVALLOC] = "pvalloc", [TLOG_MALLOC_TRIM] = "malloc_trim",
    [TLOG_SET] = "set", [TLOG_SYS] = "sys", [TLOG_CONSOLIDATE] = "consolidate",
    [TLOG_ARENA_NEW] = "arena_new", [TLOG_THREAD_START] = "thread_start",
    [TLOG_THREAD_EXIT] = "thread_exit", [TLOG_FORK] = "fork", [TLOG_MARK] = "mark",
    [TLOG_SNAPSHOT] = "snapshot", [TLOG_SNAPSHOT_END] = "snapshot_end", [TLOG_ARENA] = "arena",
    [TLOG_MODULES] = "modules", [TLOG_END] = "end", [TLOG_WALK] = "walk",
};
static const char *const decision_names[TLOG_D_COUNT] = {
    "none", "tcache", "fastbin", "smallbin", "unsorted", "last_remainder", "largebin",
    "binmap", "top", "mmap", "munmap", "remote", "tcache_mid", "in_place", "moved",
    "mremap", "failed", "null", "trim",
};
static const char *const state_names[TLOG_S_COUNT] = {
    "inuse", "tcache", "fastbin", "unsorted", "smallbin", "largebin", "top", "mmapped",
    "fence", "remote", "gone",
};
static const char *const sys_names[TLOG_SYS_COUNT] = {
    "?", "brk", "sbrk_shrink", "segment", "heap_new", "heap_grow", "heap_shrink",
    "heap_unmap", "mmap", "munmap", "mremap", "madvise",
};

const char *tlog_type_name(int t)
{
    if (t > TLOG_SET && t < TLOG_SET + TLOG_S_COUNT)
        t = TLOG_SET;
    const char *n = t > 0 && t <= TLOG_WALK ? type_names[t] : NULL;
    return n ? n : "?";
}
const char *tlog_decision_name(int c) { return c >= 0 && c < TLOG_D_COUNT ? decision_names[c] : "?"; }
const char *tlog_state_name(int s) { return s >= 0 && s < TLOG_S_COUNT ? state_names[s] : "?"; }
const char *tlog_sys_name(int k) { return k > 0 && k < TLOG_SYS_COUNT ? sys_names[k] : "?"; }
int tlog_is_call(int t) { return t >= TLOG_MALLOC && t <= TLOG_MALLOC_TRIM; }

/* The design's bin numbering (include/ptalloc.h); the small and large
 * bins' from the library itself, which this command links. */
int tlog_bin(int state, uint64_t size)
{
    switch (state) {
    case TLOG_S_TCACHE:
        if (size < 1056)
            return (int)(size >> 4) - 2;
        return size < 1056 + 48 * 64 ? 64 + (int)((size - 1056) >> 6) : -1;
    case TLOG_S_FASTBIN:  return (int)(size >> 4) - 2;
    case TLOG_S_UNSORTED: return 1;
    case TLOG_S_SMALLBIN:
    case TLOG_S_LARGEBIN: return ptalloc_bin_index((size_t)size);
    default:
        return -1;
    }
}

/* ---- numbers for keys ------------------------------------------------------------ */

static size_t key_slot(uint64_t k, size_t nslots)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k & (nslots - 1);
}

uint32_t tlog_number(struct tlog_numbers *m, uint64_t key, int *fresh)
{
    if (2 * (m->n + 1) > m->nslots) {                    /* grow and place every key again */
        size_t cap = m->nslots ? 2 * m->nslots : 256;
        uint32_t *slot = tlog_xrealloc(NULL, cap * sizeof *slot);
        memset(slot, 0, cap * sizeof *slot);
        for (size_t i = 0; i < m->n; i++) {
            size_t j = key_slot(m->keys[i], cap);
            while (slot[j])
                j = (j + 1) & (cap - 1);
            slot[j] = (uint32_t)i + 1;
        }
        free(m->slot);
        m->slot = slot;
        m->nslots = cap;
    }
    size_t j = key_slot(key, m->nslots);
    for (; m->slot[j]; j = (j + 1) & (m->nslots - 1))
        if (m->keys[m->slot[j] - 1] == key) {
            if (fresh)
                *fresh = 0;
            return m->slot[j] - 1;
        }
    if (m->n == m->cap) {
        m->cap = m->cap * 2 + 256;
        m->keys = tlog_xrealloc(m->keys, m->cap * sizeof *m->keys);
    }
    m->keys[m->n] = key;
    m->slot[j] = (uint32_t)++m->n;
    if (fresh)
        *fresh = 1;
    return (uint32_t)(m->n - 1);
}

void tlog_numbers_free(struct tlog_numbers *m)
{
    free(m->keys);
    free(m->slot);
    memset(m, 0, sizeof *m);
}

/* ---- time -------------------------------------------------------------------- */

static int cal_cmp(const void *a, const void *b)
{
    const struct cal *x = a, *y = b;
    return x->tsc < y->tsc ? -1 : x->tsc > y->tsc;
}

/* Sorted by counter, one pair per counter value, ns made non-decreasing:
 * interpolation between such pairs is monotonic, so merged events keep
 * non-decreasing times even if a clock pair was read out of step. */
static void cal_prepare(struct tlog *log)
{
    qsort(log->cal, log->ncal, sizeof *log->cal, cal_cmp);
    size_t n = 0;
    for (size_t i = 0; i < log->ncal; i++) {
        struct cal c = log->cal[i];
        if (n && c.ns < log->cal[n - 1].ns)
            c.ns = log->cal[n - 1].ns;
        if (n && c.tsc == log->cal[n - 1].tsc)
            continue;
        log->cal[n++] = c;
    }
    log->ncal = n;
}

static uint64_t scale(uint64_t dt, uint64_t dns, uint64_t dtsc)
{
    return (uint64_t)((unsigned __int128)dt * dns / dtsc);
}

/* Counter -> ns: between two pairs, the line through them; outside, the
 * slope of the first to the last pair (1 ns per tick with one pair). */
static uint64_t tsc_to_ns(const struct tlog *log, uint64_t tsc)
{
    const struct cal *c = log->cal;
    size_t n = log->ncal;
    uint64_t dns = n > 1 ? c[n - 1].ns - c[0].ns : 1, dtsc = n > 1 ? c[n - 1].tsc - c[0].tsc : 1;
    if (tsc <= c[0].tsc) {
        uint64_t back = scale(c[0].tsc - tsc, dns, dtsc);
        return back > c[0].ns ? 0 : c[0].ns - back;
    }
    if (tsc >= c[n - 1].tsc)
        return c[n - 1].ns + scale(tsc - c[n - 1].tsc, dns, dtsc);
    size_t lo = 0, hi = n - 1;          /* c[lo].tsc < tsc < c[hi].tsc */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (c[mid].tsc <= tsc) lo = mid; else hi = mid;
    }
    return c[lo].ns + scale(tsc - c[lo].tsc, c[hi].ns - c[lo].ns, c[hi].tsc - c[lo].tsc);
}

uint64_t tlog_rel_ns(const struct tlog *log, uint64_t ns)
{
    return ns > log->hdr.ns0 ? ns - log->hdr.ns0 : 0;
}

/* ---- opening ------------------------------------------------------------------ */

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

struct tlog *tlog_open(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot read: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "cannot read: not a regular file");
        close(fd);
        return NULL;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size < 8) {
        snprintf(err, errlen, "not a ptalloc log (%llu bytes, shorter than the magic)",
                 (unsigned long long)size);
        close(fd);
        return NULL;
    }
    const uint8_t *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "cannot read: %s", strerror(errno));
        return NULL;
    }
    madvise((void *)map, size, MADV_SEQUENTIAL);
    struct tlog *log = tlog_xrealloc(NULL, sizeof *log);
    memset(log, 0, sizeof *log);
    log->map = map;
    log->size = size;
    log->last = -1;
    if (memcmp(map, "PTATRACE", 8) != 0) {
        snprintf(err, errlen, "not a ptalloc log (bad magic)");
        goto bad;
    }
    if (size < 12) {
        snprintf(err, errlen, "truncated at byte %llu: the header is cut by the end of the file",
                 (unsigned long long)size);
        goto bad;
    }
    struct tlog_header *h = &log->hdr;
    h->version = rd32(map + 8);
    if (h->version != TLOG_VERSION) {
        snprintf(err, errlen, "a version %u log; this command reads version %d", h->version, TLOG_VERSION);
        goto bad;
    }
    if (size < TLOG_HEADER_SIZE) {
        snprintf(err, errlen, "truncated at byte %llu: the header is cut by the end of the file",
                 (unsigned long long)size);
        goto bad;
    }
    if (rd32(map + 12) != TLOG_HEADER_SIZE) {
        snprintf(err, errlen, "corrupt at byte 12: header size %u, expected %d", rd32(map + 12), TLOG_HEADER_SIZE);
        goto bad;
    }
    h->pid = rd32(map + 16);
    h->ppid = rd32(map + 20);
    h->tsc0 = rd64(map + 24);
    h->ns0 = rd64(map + 32);
    h->realtime0 = rd64(map + 40);
    h->page_size = rd32(map + 48);
    h->stack_depth = rd32(map + 52);
    h->flags = rd32(map + 56);
    h->size = size;

    /* The segment index, and the calibration pairs. */
    /* Segments start at 65536, the header's place being the first. */
    uint64_t nslots = size > TLOG_SEGMENT_SIZE ? (size - 1) / TLOG_SEGMENT_SIZE : 0;
    log->segs = tlog_xrealloc(NULL, nslots * sizeof *log->segs);
    log->cal = tlog_xrealloc(NULL, (nslots + 1) * sizeof *log->cal);
    log->cal[log->ncal++] = (struct cal){ h->tsc0, h->ns0 };
    for (uint64_t k = 0; k < nslots; k++) {
        uint64_t off = (k + 1) * TLOG_SEGMENT_SIZE;
        uint64_t len = size - off < TLOG_SEGMENT_SIZE ? size - off : TLOG_SEGMENT_SIZE;
        const uint8_t *s = map + off;
        /* A segment handed out but never started (the process died
         * first), or the zeros a mapped file ends with, hold nothing. */
        if (all_zero(s, len < TLOG_SEGHDR_SIZE ? len : TLOG_SEGHDR_SIZE))
            continue;
        if (len < TLOG_SEGHDR_SIZE) {
            snprintf(err, errlen, "truncated at byte %llu: segment header cut by the end of the file",
                     (unsigned long long)off);
            goto bad;
        }
        if (memcmp(s, "PTAS", 4) != 0) {
            snprintf(err, errlen, "corrupt at byte %llu: bad segment magic (file segment %llu)",
                     (unsigned long long)off, (unsigned long long)k);
            goto bad;
        }
        struct seg *g = &log->segs[log->nsegs++];
        g->off = off;
        g->len = len;
        g->tid = rd32(s + 4);
        g->thread = (int)rd32(s + 8);
        g->seq = rd32(s + 12);
        g->tsc = rd64(s + 16);
        g->ns = rd64(s + 24);
        if (rd32(s + 8) >= MAX_THREADS) {
            snprintf(err, errlen, "corrupt at byte %llu: thread number %u out of range",
                     (unsigned long long)off + 8, rd32(s + 8));
            goto bad;
        }
        if (g->thread >= log->nthreads) {
            int n = g->thread + 1;
            log->threads = tlog_xrealloc(log->threads, (size_t)n * sizeof *log->threads);
            log->streams = tlog_xrealloc(log->streams, (size_t)n * sizeof *log->streams);
            for (int i = log->nthreads; i < n; i++) {
                log->threads[i] = (struct tlog_thread){ i, 0, 0 };
                memset(&log->streams[i], 0, sizeof log->streams[i]);
                log->streams[i].thread = i;
            }
            log->nthreads = n;
        }
        struct tlog_thread *t = &log->threads[g->thread];
        if (g->seq != t->segments) {
            snprintf(err, errlen, "corrupt at byte %llu: thread %d's segment %u where its segment %u was due",
                     (unsigned long long)off, g->thread, g->seq, t->segments);
            goto bad;
        }
        if (t->segments && g->tid != t->tid) {
            snprintf(err, errlen, "corrupt at byte %llu: thread %d's segment %u has thread id %u, its first had %u",
                     (unsigned long long)off, g->thread, g->seq, g->tid, t->tid);
            goto bad;
        }
        t->tid = g->tid;
        t->segments++;
        struct stream *st2 = &log->streams[g->thread];
        st2->segs = tlog_xrealloc(st2->segs, (st2->nsegs + 1) * sizeof *st2->segs);
        st2->segs[st2->nsegs++] = log->nsegs - 1;
        log->cal[log->ncal++] = (struct cal){ g->tsc, g->ns };
    }
    h->segments = (uint32_t)log->nsegs;
    cal_prepare(log);
    return log;
bad:
    tlog_close(log);
    return NULL;
}

static void free_modules(struct tlog_module *m, int n)
{
    for (int i = 0; i < n; i++)
        free(m[i].path);
    free(m);
}

void tlog_close(struct tlog *log)
{
    if (!log)
        return;
    for (int i = 0; i < log->nthreads; i++) {
        struct stream *s = &log->streams[i];
        free(s->segs);
        free(s->site_at);
        free(s->site_n);
        free(s->frames);
        free_modules(s->mods, s->nmods);
    }
    free_modules(log->mods, log->nmods);
    munmap((void *)log->map, log->size);
    free(log->streams);
    free(log->threads);
    free(log->segs);
    free(log->cal);
    free(log->heap);
    free(log);
}

const struct tlog_header *tlog_header(const struct tlog *log) { return &log->hdr; }
const char *tlog_error(const struct tlog *log) { return log->err; }
int tlog_saw_end(const struct tlog *log) { return log->saw_end; }

const struct tlog_thread *tlog_threads(const struct tlog *log, int *count)
{
    *count = log->nthreads;
    return log->threads;
}

const struct tlog_module *tlog_modules(const struct tlog *log, int *count)
{
    *count = log->nmods;
    return log->mods;
}

/* ---- decoding one record -------------------------------------------------------- */

/* A cursor over one record.  Running off the segment sets `cut`, a
 * malformed field sets `bad` (with the offset and what); the decoder reads
 * on harmlessly after either and its caller reports the first. */
struct cur {
    const uint8_t *p, *end, *base;
    int cut, bad;
    uint64_t bad_off;
    char what[160];
};

static void cur_bad(struct cur *c, const uint8_t *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cur_bad(struct cur *c, const uint8_t *at, const char *fmt, ...)
{
    if (c->bad || c->cut)
        return;
    c->bad = 1;
    c->bad_off = (uint64_t)(at - c->base);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->what, sizeof c->what, fmt, ap);
    va_end(ap);
}

static uint8_t get_byte(struct cur *c)
{
    if (c->p >= c->end) {
        c->cut = 1;
        return 0;
    }
    return *c->p++;
}

static uint64_t get_varint(struct cur *c)
{
    const uint8_t *at = c->p;
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
        if (c->p >= c->end) {
            c->cut = 1;
            return 0;
        }
        uint8_t b = *c->p++;
        if (shift == 63 && (b & 0x7e)) {
            cur_bad(c, at, "varint longer than 64 bits");
            return 0;
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
        if (shift == 63) {
            cur_bad(c, at, "varint longer than 64 bits");
            return 0;
        }
    }
}

static uint64_t get_size(struct cur *c)
{
    const uint8_t *at = c->p;
    uint64_t v = get_varint(c);
    if (v >> 60) {
        cur_bad(c, at, "size out of range");
        return 0;
    }
    return v << 4;
}

static uint64_t get_addr(struct cur *c, struct stream *s)
{
    const uint8_t *at = c->p;
    uint64_t z = get_varint(c);
    int64_t d = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    __int128 a = (__int128)s->prev_addr + (__int128)d * 16;
    if (a < 0 || a > (__int128)UINT64_MAX - 15) {
        cur_bad(c, at, "address out of range (previous 0x%llx, delta %lld * 16)",
                (unsigned long long)s->prev_addr, (long long)d);
        return 0;
    }
    s->prev_addr = (uint64_t)a;
    return (uint64_t)a;
}

static void site_reset(struct stream *s)
{
    s->nsites = 0;
    s->nframes = 0;
}

static void get_site(struct cur *c, struct stream *s, struct tlog_event *ev)
{
    const uint8_t *at = c->p;
    uint64_t v = get_varint(c);
    if (c->cut || c->bad)
        return;
    if (!(v & 1)) {
        if (v >> 1 >= s->nsites) {
            cur_bad(c, at, "site %llu not in the segment's table (%zu sites)",
                    (unsigned long long)(v >> 1), s->nsites);
            return;
        }
        ev->site = s->frames + s->site_at[v >> 1];
        ev->nsite = (int)s->site_n[v >> 1];
        return;
    }
    uint64_t n = v >> 1;
    if (n > (uint64_t)(c->end - c->p)) {     /* every frame takes a byte at least */
        c->cut = 1;
        return;
    }
    if (s->nframes + n > s->capframes) {
        s->capframes = (s->nframes + n) * 2 + 64;
        s->frames = tlog_xrealloc(s->frames, s->capframes * sizeof *s->frames);
    }
    if (s->nsites == s->capsites) {
        s->capsites = s->capsites * 2 + 64;
        s->site_at = tlog_xrealloc(s->site_at, s->capsites * sizeof *s->site_at);
        s->site_n = tlog_xrealloc(s->site_n, s->capsites * sizeof *s->site_n);
    }
    s->site_at[s->nsites] = (uint32_t)s->nframes;
    s->site_n[s->nsites] = (uint32_t)n;
    for (uint64_t i = 0; i < n && !c->cut && !c->bad; i++)
        s->frames[s->nframes + i] = get_varint(c);
    ev->site = s->frames + s->nframes;
    ev->nsite = (int)n;
    s->nframes += n;
    s->nsites++;
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* The fields of a call record after its site. */
static void get_call(struct cur *c, struct stream *s, struct tlog_event *ev)
{
    int t = ev->type, chunk = ev->decision != TLOG_D_FAILED && ev->decision != TLOG_D_NULL;
    switch (t) {
    case TLOG_CALLOC:
    case TLOG_REALLOCARRAY:
        if (t == TLOG_REALLOCARRAY) {
            ev->old_addr = get_addr(c, s);
            ev->old_size = get_size(c);
        }
        ev->count = get_varint(c);
        ev->elsize = get_varint(c);
        ev->request = mul_sat(ev->count, ev->elsize);
        break;
    case TLOG_REALLOC:
        ev->old_addr = get_addr(c, s);
        ev->old_size = get_size(c);
        ev->request = get_varint(c);
        break;
    case TLOG_FREE:
        break;
    case TLOG_FREE_ALIGNED_SIZED:
    case TLOG_MEMALIGN:
    case TLOG_ALIGNED_ALLOC:
    case TLOG_POSIX_MEMALIGN:
        ev->alignment = get_varint(c);
        /* fall through */
    default:
        ev->request = get_varint(c);
        break;
    case TLOG_MALLOC_TRIM:
        ev->pad = get_varint(c);
        ev->result = get_varint(c);
        chunk = 0;
        break;
    }
    if (t == TLOG_REALLOC || t == TLOG_REALLOCARRAY) {
        ev->source = (int)get_varint(c);
        /* A realloc to 0 bytes of a real chunk frees it: no new chunk. */
        if (ev->old_size && ev->request == 0)
            chunk = 0;
    }
    if (chunk) {
        ev->addr = get_addr(c, s);
        ev->size = get_size(c);
        ev->has_chunk = 1;
    }
}

static void get_modules(struct cur *c, struct stream *s)
{
    uint64_t n = get_varint(c);
    free_modules(s->mods, s->nmods);
    s->mods = NULL;
    s->nmods = 0;
    if (n > (uint64_t)(c->end - c->p)) {
        c->cut = 1;
        return;
    }
    s->mods = tlog_xrealloc(NULL, n * sizeof *s->mods);
    for (uint64_t i = 0; i < n && !c->cut && !c->bad; i++) {
        struct tlog_module *m = &s->mods[s->nmods];
        m->start = get_addr(c, s);
        m->size = get_size(c);
        m->offset = get_varint(c);
        uint64_t len = get_varint(c);
        if (c->cut || c->bad)
            break;
        if (len > (uint64_t)(c->end - c->p)) {
            c->cut = 1;
            break;
        }
        m->path = strndup((const char *)c->p, len);
        c->p += len;
        s->nmods++;
    }
}

/* Starts the stream's next segment; 0 when it has none left. */
static int next_segment(struct tlog *log, struct stream *s)
{
    if (s->cur >= s->nsegs)
        return 0;
    s->seg = &log->segs[s->segs[s->cur++]];
    s->p = log->map + s->seg->off + TLOG_SEGHDR_SIZE;
    s->end = log->map + s->seg->off + s->seg->len;
    s->prev_ts = s->seg->tsc >> 4;
    s->prev_addr = 0;
    site_reset(s);
    return 1;
}

/* Decodes the stream's next record into s->ev: 1, 0 at its end, -1 on error. */
static int stream_decode(struct tlog *log, struct stream *s)
{
    while (!s->seg || s->p >= s->end || *s->p == 0)
        if (!next_segment(log, s))
            return 0;
    struct tlog_event *ev = &s->ev;
    memset(ev, 0, sizeof *ev);
    struct cur c = { s->p, s->end, log->map, 0, 0, 0, "" };
    ev->offset = (uint64_t)(s->p - log->map);
    ev->thread = s->thread;
    ev->tid = s->seg->tid;
    ev->segment = (int)s->seg->seq;
    int t = get_byte(&c);
    ev->type = t;
    uint64_t dts = get_varint(&c);
    if (t >= TLOG_SET && t < TLOG_SET + TLOG_S_COUNT) {
        ev->type = TLOG_SET;
        ev->state = t - TLOG_SET;
        ev->addr = get_addr(&c, s);
        ev->size = get_size(&c);
    } else if (tlog_is_call(t)) {
        const uint8_t *at = c.p;
        uint8_t d = get_byte(&c);
        ev->decision = d & 31;
        ev->merged_prev = (d >> 5) & 1;
        ev->merged_next = (d >> 6) & 1;
        if ((d & 0x80) || ev->decision >= TLOG_D_COUNT)
            cur_bad(&c, at, "decision byte 0x%02x in a %s record", d, tlog_type_name(t));
        get_site(&c, s, ev);
        get_call(&c, s, ev);
    } else {
        switch (t) {
        case TLOG_SYS: {
            const uint8_t *at = c.p;
            ev->sys_kind = get_byte(&c);
            if (!c.cut && (ev->sys_kind < 1 || ev->sys_kind >= TLOG_SYS_COUNT))
                cur_bad(&c, at, "unknown sys kind %d", ev->sys_kind);
            ev->arena = get_varint(&c);
            ev->addr = get_addr(&c, s);
            ev->size = get_size(&c);
            if (ev->sys_kind == TLOG_SYS_MREMAP) {
                ev->new_addr = get_addr(&c, s);
                ev->new_size = get_size(&c);
            }
            break;
        }
        case TLOG_CONSOLIDATE: case TLOG_ARENA:
            ev->arena = get_varint(&c);
            break;
        case TLOG_ARENA_NEW:
            ev->arena = get_varint(&c);
            ev->addr = get_addr(&c, s);
            break;
        case TLOG_THREAD_START: case TLOG_FORK: case TLOG_WALK:
            ev->value = get_varint(&c);
            break;
        case TLOG_MARK: {
            uint64_t len = get_varint(&c);
            if (len > (uint64_t)(c.end - c.p)) {
                c.cut = 1;
                break;
            }
            ev->label = (const char *)c.p;
            ev->label_len = len;
            c.p += len;
            break;
        }
        case TLOG_MODULES:
            get_modules(&c, s);
            break;
        case TLOG_THREAD_EXIT: case TLOG_SNAPSHOT: case TLOG_SNAPSHOT_END: case TLOG_END:
            break;
        default:
            cur_bad(&c, s->p, "unknown record type %d", t);
        }
    }
    if (!c.bad && !c.cut && (s->prev_ts + dts < s->prev_ts || (s->prev_ts + dts) >> 60))
        cur_bad(&c, s->p + 1, "time stamp out of range");
    if (c.bad) {
        fail(log, "corrupt at byte %llu (thread %d, segment %u): %s", (unsigned long long)c.bad_off,
             s->thread, s->seg->seq, c.what);
        return -1;
    }
    if (c.cut) {
        /* Only the file's end may cut a record; a segment's end in the
         * middle of the file means the writer or the file is broken. */
        if (s->seg->off + s->seg->len == log->size)
            fail(log, "truncated at byte %llu (thread %d, segment %u): a %s record cut by the end of the file",
                 (unsigned long long)ev->offset, s->thread, s->seg->seq, tlog_type_name(t));
        else
            fail(log, "corrupt at byte %llu (thread %d, segment %u): a %s record runs past the end of its segment",
                 (unsigned long long)ev->offset, s->thread, s->seg->seq, tlog_type_name(t));
        return -1;
    }
    s->prev_ts += dts;
    ev->tsc = s->prev_ts << 4;
    ev->ns = tsc_to_ns(log, ev->tsc);
    s->p = c.p;
    return 1;
}

/* ---- the merge ------------------------------------------------------------------ */

static int before(const struct tlog *log, int a, int b)
{
    const struct tlog_event *x = &log->streams[a].ev, *y = &log->streams[b].ev;
    return x->tsc != y->tsc ? x->tsc < y->tsc : a < b;
}

static void heap_push(struct tlog *log, int s)
{
    int i = log->nheap++;
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!before(log, s, log->heap[parent]))
            break;
        log->heap[i] = log->heap[parent];
        i = parent;
    }
    log->heap[i] = s;
}

static int heap_pop(struct tlog *log)
{
    int top = log->heap[0], s = log->heap[--log->nheap], i = 0;
    for (;;) {
        int k = 2 * i + 1;
        if (k >= log->nheap)
            break;
        if (k + 1 < log->nheap && before(log, log->heap[k + 1], log->heap[k]))
            k++;
        if (!before(log, log->heap[k], s))
            break;
        log->heap[i] = log->heap[k];
        i = k;
    }
    if (log->nheap)
        log->heap[i] = s;
    return top;
}

static int refill(struct tlog *log, int s)
{
    int r = stream_decode(log, &log->streams[s]);
    if (r > 0)
        heap_push(log, s);
    return r;
}

int tlog_next(struct tlog *log, struct tlog_event *ev)
{
    if (log->failed)
        return -1;
    if (!log->started) {
        log->started = 1;
        log->heap = tlog_xrealloc(NULL, ((size_t)log->nthreads + 1) * sizeof *log->heap);
        for (int i = 0; i < log->nthreads; i++)
            if (refill(log, i) < 0)
                return -1;
    } else if (log->last >= 0 && refill(log, log->last) < 0) {
        return -1;
    }
    log->last = -1;
    if (!log->nheap) {
        /* The library sizes the file in whole segments, so a size that is
         * not a multiple of one is a cut file, even when it was cut
         * between two records (records cut in the middle are said above,
         * more precisely). */
        if (log->hdr.size % TLOG_SEGMENT_SIZE) {
            fail(log, "truncated at byte %llu: the file ends inside segment %llu, not at a segment's "
                 "end as a log does", (unsigned long long)log->hdr.size,
                 (unsigned long long)(log->hdr.size / TLOG_SEGMENT_SIZE));
            return -1;
        }
        return 0;
    }
    int s = heap_pop(log);
    struct stream *st = &log->streams[s];
    *ev = st->ev;
    ev->number = log->number++;
    if (ev->type == TLOG_END)
        log->saw_end = 1;
    if (ev->type == TLOG_MODULES) {
        free_modules(log->mods, log->nmods);
        log->mods = st->mods;
        log->nmods = st->nmods;
        st->mods = NULL;
        st->nmods = 0;
        ev->modules = log->mods;
        ev->nmodules = log->nmods;
    }
    log->last = s;
    return 1;
}

/* ---- words ----------------------------------------------------------------------- */

void tlog_describe(const struct tlog_event *ev, char *buf, size_t len)
{
    size_t n = 0;
#define PUT(...) (n += (size_t)snprintf(buf + (n < len ? n : len), n < len ? len - n : 0, __VA_ARGS__))
    unsigned long long addr = ev->addr, size = ev->size, req = ev->request;
    PUT("thread %d ", ev->thread);
    const char *name = tlog_type_name(ev->type);
    if (tlog_is_call(ev->type)) {
        int t = ev->type;
        switch (t) {
        case TLOG_FREE: case TLOG_FREE_SIZED: case TLOG_FREE_ALIGNED_SIZED:
            PUT("%s(%#llx", name, ev->has_chunk ? addr + 16 : 0ULL);
            if (t != TLOG_FREE) PUT(", %llu", req);
            if (t == TLOG_FREE_ALIGNED_SIZED) PUT(", align %llu", (unsigned long long)ev->alignment);
            PUT(")");
            if (ev->has_chunk) PUT(" (chunk %llu bytes)", size);
            break;
        case TLOG_MALLOC_TRIM:
            PUT("%s(%llu) -> %llu", name, (unsigned long long)ev->pad, (unsigned long long)ev->result);
            break;
        default:
            PUT("%s(", name);
            if (t == TLOG_REALLOC || t == TLOG_REALLOCARRAY)
                PUT("%#llx, ", ev->old_size ? (unsigned long long)ev->old_addr + 16 : 0ULL);
            if (ev->alignment) PUT("align %llu, ", (unsigned long long)ev->alignment);
            if (t == TLOG_CALLOC || t == TLOG_REALLOCARRAY)
                PUT("%llu, %llu)", (unsigned long long)ev->count, (unsigned long long)ev->elsize);
            else
                PUT("%llu)", req);
            if (ev->has_chunk)
                PUT(" -> %#llx (chunk %llu bytes)", addr + 16, size);
            else if (ev->decision == TLOG_D_FAILED)
                PUT(" -> NULL");
            else if (ev->old_size)
                PUT(" frees the chunk of %llu bytes", (unsigned long long)ev->old_size);
        }
        PUT(": %s", tlog_decision_name(ev->decision));
        if (ev->source) PUT(" from %s", tlog_decision_name(ev->source));
        if (ev->merged_prev) PUT(", merged with the previous chunk");
        if (ev->merged_next) PUT(", merged with the next chunk");
        return;
    }
    switch (ev->type) {
    case TLOG_SET:
        PUT("set %#llx %llu bytes: %s", addr, size, tlog_state_name(ev->state));
        break;
    case TLOG_SYS:
        PUT("sys %s arena %llu %#llx %llu bytes", tlog_sys_name(ev->sys_kind), (unsigned long long)ev->arena,
            addr, size);
        if (ev->sys_kind == TLOG_SYS_MREMAP)
            PUT(" -> %#llx %llu bytes", (unsigned long long)ev->new_addr, (unsigned long long)ev->new_size);
        break;
    case TLOG_CONSOLIDATE: case TLOG_ARENA:
        PUT("%s arena %llu", name, (unsigned long long)ev->arena);
        break;
    case TLOG_ARENA_NEW:
        PUT("arena_new %llu at %#llx", (unsigned long long)ev->arena, addr);
        break;
    case TLOG_THREAD_START:
        PUT("thread_start (tid %llu)", (unsigned long long)ev->value);
        break;
    case TLOG_FORK:
        PUT("fork (child %llu)", (unsigned long long)ev->value);
        break;
    case TLOG_WALK:
        PUT("walk %llu", (unsigned long long)ev->value);
        break;
    case TLOG_MARK:
        PUT("mark \"%.*s\"", (int)ev->label_len, ev->label);
        break;
    case TLOG_MODULES:
        PUT("modules (%d)", ev->nmodules);
        break;
    default:
        PUT("%s", name);
    }
#undef PUT
}
