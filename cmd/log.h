/*
 * Reading ptalloc's trace logs (docs/TRACE-FORMAT.md, version 1) and
 * rebuilding the heap from them.  Used by `ptalloc show` and `ptalloc json`.
 *
 * Reading.  tlog_open maps the file, checks the header and reads every
 * segment header (an index of 48 bytes per 64 KiB segment); tlog_next then
 * yields the records of all threads merged in time order, one decoded
 * event at a time.  Memory grows with the number of threads and segments,
 * never with the number of records, so a log of gigabytes streams.
 * Events are numbered 0, 1, 2... in merged order: `--at N` names event N.
 *
 * Errors are one line (tlog_error), in the form the commands print after
 * "ptalloc CMD: FILE: ".  "segment S" in them is the thread's own segment
 * count (the segment header's field at offset 12), byte offsets are from
 * the start of the file.
 *
 * Rebuilding.  A struct rebuild is the heap as the log describes it at a
 * given event: an ordered map address -> chunk, updated by rebuild_apply
 * per event as the doc's "Rebuilding the heap" section says, with running
 * byte totals and a count of contradictions (a free of a chunk that was
 * not in use, an allocation over a chunk in use) that tests expect to be 0.
 */
#ifndef PTALLOC_CMD_LOG_H
#define PTALLOC_CMD_LOG_H

#include <stddef.h>
#include <stdint.h>

#define TLOG_VERSION      1
#define TLOG_HEADER_SIZE  64
#define TLOG_SEGMENT_SIZE 65536
#define TLOG_SEGHDR_SIZE  32

/* Record types (the type byte). */
enum tlog_type {
    TLOG_MALLOC = 1, TLOG_CALLOC, TLOG_REALLOC, TLOG_REALLOCARRAY, TLOG_FREE,
    TLOG_FREE_SIZED, TLOG_FREE_ALIGNED_SIZED, TLOG_MEMALIGN, TLOG_ALIGNED_ALLOC,
    TLOG_POSIX_MEMALIGN, TLOG_VALLOC, TLOG_PVALLOC, TLOG_MALLOC_TRIM,
    TLOG_SET = 32,                 /* 32 + state; events carry TLOG_SET */
    TLOG_SYS = 48, TLOG_CONSOLIDATE, TLOG_ARENA_NEW, TLOG_THREAD_START,
    TLOG_THREAD_EXIT, TLOG_FORK, TLOG_MARK, TLOG_SNAPSHOT, TLOG_SNAPSHOT_END,
    TLOG_ARENA, TLOG_MODULES, TLOG_END, TLOG_WALK
};

/* Decision codes (low 5 bits of the decision byte). */
enum tlog_decision {
    TLOG_D_NONE, TLOG_D_TCACHE, TLOG_D_FASTBIN, TLOG_D_SMALLBIN, TLOG_D_UNSORTED,
    TLOG_D_LAST_REMAINDER, TLOG_D_LARGEBIN, TLOG_D_BINMAP, TLOG_D_TOP, TLOG_D_MMAP,
    TLOG_D_MUNMAP, TLOG_D_REMOTE, TLOG_D_TCACHE_MID, TLOG_D_IN_PLACE, TLOG_D_MOVED,
    TLOG_D_MREMAP, TLOG_D_FAILED, TLOG_D_NULL, TLOG_D_TRIM, TLOG_D_COUNT
};

/* Chunk states of `set` records: enum ptalloc_where, then remote and gone. */
enum tlog_state {
    TLOG_S_INUSE, TLOG_S_TCACHE, TLOG_S_FASTBIN, TLOG_S_UNSORTED, TLOG_S_SMALLBIN,
    TLOG_S_LARGEBIN, TLOG_S_TOP, TLOG_S_MMAPPED, TLOG_S_FENCE, TLOG_S_REMOTE,
    TLOG_S_GONE, TLOG_S_COUNT
};

/* `sys` kinds. */
enum tlog_sys {
    TLOG_SYS_BRK = 1, TLOG_SYS_SBRK_SHRINK, TLOG_SYS_SEGMENT, TLOG_SYS_HEAP_NEW,
    TLOG_SYS_HEAP_GROW, TLOG_SYS_HEAP_SHRINK, TLOG_SYS_HEAP_UNMAP, TLOG_SYS_MMAP,
    TLOG_SYS_MUNMAP, TLOG_SYS_MREMAP, TLOG_SYS_MADVISE, TLOG_SYS_COUNT
};

struct tlog_module {
    uint64_t start, size, offset;
    char *path;                     /* NUL-terminated copy */
};

struct tlog_thread {
    int number;                     /* 0 = the process's first thread */
    uint32_t tid;                   /* the kernel's */
    uint32_t segments;              /* how many the file holds */
};

/* One record, decoded.  Fields a type does not have are 0.  Pointers
 * (site, label, modules) stay valid until the next tlog_next call. */
struct tlog_event {
    uint64_t number;                /* in merged order, from 0 */
    uint64_t offset;                /* of the record in the file */
    uint64_t tsc;                   /* time stamp counter (16-tick steps) */
    uint64_t ns;                    /* CLOCK_MONOTONIC, ns (calibrated) */
    int type;                       /* enum tlog_type; TLOG_SET for 32..42 */
    int thread;                     /* thread number */
    uint32_t tid;
    int segment;                    /* the thread's segment count */
    /* calls */
    int decision, merged_prev, merged_next;
    int source;                     /* realloc(array): where the new chunk came from */
    int has_chunk;                  /* addr/size present (not NULL/failed) */
    uint64_t addr, size;            /* chunk (calls, set), region (sys), arena_new's sub-heap */
    uint64_t old_addr, old_size;    /* realloc(array): the old chunk */
    uint64_t new_addr, new_size;    /* sys mremap: the new mapping */
    uint64_t request;               /* bytes asked: n, count * size, free_sized's size */
    uint64_t count, elsize;         /* calloc, reallocarray */
    uint64_t alignment;
    uint64_t pad, result;           /* malloc_trim */
    const uint64_t *site;           /* frames, innermost first */
    int nsite;
    /* steps */
    int state;                      /* set: enum tlog_state */
    int at_tail;                    /* set, made up by a reader of a live heap (ptalloc heap):
                                     * the chunk goes to the tail of its bin's list, not
                                     * where the allocator would put it */
    int sys_kind;                   /* sys: enum tlog_sys */
    uint64_t arena;                 /* sys, consolidate, arena_new, arena */
    uint64_t value;                 /* thread_start: tid; fork: child pid; walk: ordinal */
    const char *label;              /* mark (not NUL-terminated) */
    size_t label_len;
    const struct tlog_module *modules;  /* modules */
    int nmodules;
};

struct tlog_header {
    uint32_t version, pid, ppid, page_size, stack_depth, flags;
    uint64_t tsc0, ns0, realtime0;
    uint64_t size;                  /* of the file */
    uint32_t segments;              /* segments in use (unused all-zero ones skipped) */
};

struct tlog;

/* Opens path; NULL with a one-line message in err (errlen bytes) when the
 * file is unreadable, not a ptalloc log, of another version, or its header
 * or segment headers are truncated or corrupt. */
struct tlog *tlog_open(const char *path, char *err, size_t errlen);
void tlog_close(struct tlog *log);
const struct tlog_header *tlog_header(const struct tlog *log);
/* The threads, by number (index = thread number; a number with no segment
 * has tid 0 and segments 0). */
const struct tlog_thread *tlog_threads(const struct tlog *log, int *count);
/* 1: *ev is the next event; 0: no more; -1: error (tlog_error says which). */
int tlog_next(struct tlog *log, struct tlog_event *ev);
const char *tlog_error(const struct tlog *log);
/* realloc, or "ptalloc: out of memory" and exit 2 (the reader's and the rebuild's tables). */
void *tlog_xrealloc(void *p, size_t n);
/* Numbers for 64-bit keys, 0, 1, 2... in the order the keys first came
 * (the rebuild's lists, the page's call sites).  Zero-initialised is
 * empty; keys[number] is the key. */
struct tlog_numbers {
    uint64_t *keys;
    size_t n, cap;
    uint32_t *slot;             /* open addressing: number + 1, 0 empty */
    size_t nslots;
};
/* key's number; *fresh (when not NULL) says whether it was new. */
uint32_t tlog_number(struct tlog_numbers *m, uint64_t key, int *fresh);
void tlog_numbers_free(struct tlog_numbers *m);

/* Seen an `end` record so far (a log without one is valid: the process
 * was killed, called _exit or exec'd). */
int tlog_saw_end(const struct tlog *log);
/* The last `modules` list read so far. */
const struct tlog_module *tlog_modules(const struct tlog *log, int *count);
/* Nanoseconds since the log's start for an event's ns. */
uint64_t tlog_rel_ns(const struct tlog *log, uint64_t ns);

/* Names: the doc's tables (a contract).  "?" for an unknown number. */
const char *tlog_type_name(int type);       /* "malloc", "set", "sys", ... */
const char *tlog_decision_name(int code);   /* "tcache", "top", ... */
const char *tlog_state_name(int state);     /* "inuse", "smallbin", ... */
const char *tlog_sys_name(int kind);        /* "brk", "heap_new", ... */
int tlog_is_call(int type);
/* Describes ev in words ("thread 0 malloc(100) -> 0x... (chunk 112 bytes):
 * tcache") into buf. */
void tlog_describe(const struct tlog_event *ev, char *buf, size_t len);

/* Bin index of a chunk of size bytes in state (enum tlog_state), as
 * ptalloc_walk reports it; -1 for states without bins. */
int tlog_bin(int state, uint64_t size);

/* ---- rebuilding the heap ------------------------------------------------- */
struct rb_chunk {
    uint64_t addr, size;
    uint64_t event;                 /* the event that last set it */
    uint64_t site;                  /* in use: innermost frame of the allocation's site */
    uint64_t lprev, lnext;          /* on a bin's list: the chunks before and after (0: none) */
    int32_t list;                   /* that list (rebuild_list), -1 none */
    int32_t thread;                 /* tcache: the owning thread; else the setter's */
    uint8_t state;                  /* enum tlog_state, never GONE */
};

/* A bin's list, in the order the allocator keeps it.  The log does not
 * record list positions: the rebuild puts a chunk where the allocator
 * puts it (src/bins.h, src/tcache.h): the tcache, fastbins, unsorted and
 * small bins take new chunks at the head; a large bin keeps them sorted
 * by size, largest first, a chunk of a size already there going after the
 * first of that size.  Chunks leave from wherever they are. */
struct rb_list {
    int state;                      /* tcache fastbin unsorted smallbin largebin remote */
    int arena;                      /* -1 unknown; tcache: -1 */
    int thread;                     /* tcache: the owning thread; else -1 */
    int bin;                        /* as tlog_bin */
    uint64_t head, tail, n;
};

struct rb_totals {
    uint64_t heap;                  /* bytes of every chunk in the map */
    uint64_t in_use;                /* in use + mmapped */
    uint64_t free;                  /* tcache, bins, top, remote */
    uint64_t chunks;
};

struct rebuild;
struct rebuild *rebuild_new(void);
void rebuild_free(struct rebuild *rb);
/* Applies one event (events must come in merged order). */
void rebuild_apply(struct rebuild *rb, const struct tlog_event *ev);
const struct rb_totals *rebuild_totals(const struct rebuild *rb);
/* Of the free bytes, those of top chunks (ptalloc report's fragmentation
 * counts the free bytes without them). */
uint64_t rebuild_top(const struct rebuild *rb);
/* Contradictions so far; the first ones are kept as messages. */
uint64_t rebuild_contradictions(const struct rebuild *rb);
const char *rebuild_contradiction(const struct rebuild *rb, size_t i);   /* NULL past the kept */
/* Calls fn on every chunk in address order; stops at a non-zero return. */
int rebuild_foreach(const struct rebuild *rb, int (*fn)(const struct rb_chunk *, void *), void *arg);
/* The arena whose region (from sys records) holds addr, -1 if none known. */
int rebuild_arena_of(const struct rebuild *rb, uint64_t addr);
/* The chunk at exactly addr, NULL if none.  Valid until the next apply. */
const struct rb_chunk *rebuild_find(const struct rebuild *rb, uint64_t addr);
/* The lists (empty ones too), numbered from 0 as they first appeared. */
size_t rebuild_nlists(const struct rebuild *rb);
const struct rb_list *rebuild_list(const struct rebuild *rb, size_t i);

/* Every change to the map as it happens, for a reader that keeps its own
 * copy (ptalloc html): a chunk removed (add 0: c as it was, links and all)
 * or added (add 1: c as it now is).  Applying them in order to an empty
 * map gives the rebuilt one; undoing them in reverse order goes back. */
typedef void rb_observer(int add, const struct rb_chunk *c, void *arg);
void rebuild_observe(struct rebuild *rb, rb_observer *fn, void *arg);

/* Regions (from sys records): [start, end) of an arena's heap: a main
 * arena segment (sbrk or its mmap fallback) or a sub-heap. */
struct rb_region {
    uint64_t start, end;
    int arena;
    int kind;                       /* the sys kind that made it: brk, segment, heap_new */
};
size_t rebuild_regions(const struct rebuild *rb, const struct rb_region **out);

#endif
