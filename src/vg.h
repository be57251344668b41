/*
 * Telling Valgrind's memcheck about our blocks, so a program running on
 * ptalloc gets memcheck's reports (leaks, use after free, invalid reads)
 * as it does on glibc.  Under Valgrind the tcache is off, so every call
 * takes a slow path, and the allocator's own reads of free chunks are
 * kept out of the reports.  Outside Valgrind each hook is one test of a
 * flag that is false.
 */
#ifndef PTALLOC_VG_H
#define PTALLOC_VG_H

#include "internal.h"

enum {
    VG_RUNNING_ON_VALGRIND = 0x1001,
    VG_MALLOCLIKE_BLOCK    = 0x1301,
    VG_FREELIKE_BLOCK      = 0x1302,
    VG_ERR_DISABLEMENT     = 0x1801,
    VG_MAKE_MEM_NOACCESS   = ('M' << 24) | ('C' << 16),
    VG_MAKE_MEM_DEFINED    = VG_MAKE_MEM_NOACCESS + 2,
};

extern int vg_active;
uintptr_t os_valgrind(uintptr_t request, uintptr_t a1, uintptr_t a2, uintptr_t a3, uintptr_t a4);

static inline void vg_init(void)
{
    /* PTALLOC_VALGRIND=0 keeps Valgrind's tools (callgrind, say) seeing
     * the allocator as it runs outside, tcache and all. */
    vg_active = mp.valgrind && os_valgrind(VG_RUNNING_ON_VALGRIND, 0, 0, 0, 0) != 0;
}

/* Around allocator work that reads and writes free chunks. */
static inline void vg_quiet(void)
{
    if (unlikely(vg_active))
        os_valgrind(VG_ERR_DISABLEMENT, 1, 0, 0, 0);
}
static inline void vg_loud(void)
{
    if (unlikely(vg_active))
        os_valgrind(VG_ERR_DISABLEMENT, (uintptr_t)-1, 0, 0, 0);
}

/* Under Valgrind each block gets 8 bytes more than asked for, so the
 * block [mem, mem + n) never holds the next chunk's header: the bins'
 * pointers to that header would look like pointers into the block and
 * turn a definite leak into a "possible" one. */
static inline size_t vg_pad(size_t n)
{
    return unlikely(vg_active) ? n + SIZE_SZ : n;
}

/* Registers [mem, mem + n) as a block; the rest of the chunk becomes
 * inaccessible, so an overrun by even one byte is reported. */
static inline void *vg_alloc(void *mem, size_t n, int zeroed)
{
    if (unlikely(vg_active) && mem) {
        os_valgrind(VG_ERR_DISABLEMENT, 1, 0, 0, 0);
        size_t usable = chunk_usable(mem2chunk(mem));
        os_valgrind(VG_ERR_DISABLEMENT, (uintptr_t)-1, 0, 0, 0);
        os_valgrind(VG_MALLOCLIKE_BLOCK, (uintptr_t)mem, n, 0, (uintptr_t)zeroed);
        if (usable > n)
            os_valgrind(VG_MAKE_MEM_NOACCESS, (uintptr_t)mem + n, usable - n, 0, 0);
        /* free() reads the size word; it may lie where an older block was. */
        os_valgrind(VG_MAKE_MEM_DEFINED, (uintptr_t)mem - SIZE_SZ, SIZE_SZ, 0, 0);
    }
    return mem;
}
static inline void vg_free(void *mem)
{
    if (unlikely(vg_active) && mem)
        os_valgrind(VG_FREELIKE_BLOCK, (uintptr_t)mem, 0, 0, 0);
}

#endif
