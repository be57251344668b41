/*
 * What `ptalloc replay` (cmd/replay.c) hands its driver, ptalloc-replay
 * (cmd/replay_driver.c): a file of fixed-size operations, the calls of a
 * trace log with the recorded pointers already turned into slot numbers,
 * and what the driver hands back: "key value" lines on a second file
 * descriptor.
 *
 * The command reads the log (cmd/log.c allocates as it goes) and keeps the
 * map from recorded chunk addresses to slots; the driver, a process of its
 * own on a fresh ptalloc, only reads operations into a fixed buffer and
 * keeps the replayed pointers in one array indexed by slot.  Between the
 * start of its main() and its report, the only allocation calls the driver
 * makes are the replayed ones and those of pthread_create (between marks,
 * below).  The format is private to the two programs, built together.
 */
#ifndef PTALLOC_CMD_REPLAY_H
#define PTALLOC_CMD_REPLAY_H

#include <stdint.h>

#define RP_MAGIC    "PTAREPL1"
#define RP_NONE     UINT32_MAX      /* no slot: a NULL pointer, or a result dropped */

/* How much of each allocated block the driver writes, so that resident
 * memory is what a program using its blocks would have. */
enum rp_touch {
    RP_TOUCH_NONE,                  /* nothing: only the allocator's own writes */
    RP_TOUCH_PAGE,                  /* one byte in every page of the block, and its last */
    RP_TOUCH_ALL                    /* memset of the whole request */
};

struct rp_header {
    char magic[8];
    uint32_t threads;               /* recorded threads: numbers 0 .. threads-1 */
    uint32_t touch;                 /* enum rp_touch */
    uint64_t slots;                 /* slots used: the most chunks live at once */
    uint64_t ops;                   /* operations that follow */
    uint64_t calls;                 /* of which calls (not RP_PRE or RP_EXIT) */
};

/* Operation types: the call record types of cmd/log.h (TLOG_MALLOC ..
 * TLOG_MALLOC_TRIM) and these two. */
enum {
    RP_PRE = 100,                   /* a chunk in use in the log's first snapshot: allocate
                                       a = chunk size bytes' worth into slot (b: 1 mmapped) */
    RP_EXIT = 101                   /* the recorded thread exited: its replay thread ends */
};

/* One operation, 32 bytes.  Arguments by type:
 *   malloc, valloc, pvalloc           a = request
 *   calloc, reallocarray              a = count, b = element size
 *   realloc                           a = request
 *   memalign, aligned_alloc,
 *   posix_memalign                    a = alignment, b = request
 *   free_sized                        a = size
 *   free_aligned_sized                a = alignment, b = size
 *   malloc_trim                       a = pad
 * slot: where an allocation's result goes, or the block a free frees
 * (RP_NONE: free(NULL), or an allocation the record saw fail).  realloc and
 * reallocarray: old is the slot of the old pointer (RP_NONE for NULL); the
 * result goes to slot, which is old unless old was NULL. */
struct rp_op {
    uint8_t type;
    uint8_t pad0;
    uint16_t thread;                /* recorded thread number */
    uint32_t slot;
    uint32_t old;
    uint32_t pad1;
    uint64_t a, b;
};

/* Marks the driver writes into the replay's trace log: calls a thread
 * makes between RP_MARK_SKIP and the next RP_MARK_GO are the driver's own
 * (a thread's creation, the snapshot's chunks, a thread's end), not
 * replayed ones, and the command leaves them out of the comparison. */
#define RP_MARK_SKIP "ptalloc-replay: own calls"
#define RP_MARK_GO   "ptalloc-replay: replayed calls"

#endif
