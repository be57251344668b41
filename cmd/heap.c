/*
 * ptalloc heap --pid PID [--html FILE] [--all]
 *
 * The heap of a running process on ptalloc, read from outside while the
 * process is stopped for a moment: nothing runs inside it, no debugger is
 * involved.  Printed as ptalloc_print_heap draws it (src/walk.c), after a
 * header (process, arenas and their regions, threads), or written as a
 * page with --html; --all draws every in-use chunk of a big heap.
 *
 * How.
 *  1. Find ptalloc.  Of the files the process maps executable
 *     (/proc/PID/maps), the one whose ELF symbol table (libelf) has
 *     ptalloc_heap_descriptor: libptalloc.so, or an executable linked with
 *     libptalloc.a.  The symbol's value plus the file's load bias is the
 *     address of the descriptor (src/descriptor.h): the addresses of the
 *     globals and the numbers of the target's layout, which must be this
 *     command's own (it is built from the same sources and reads the bytes
 *     with src/types.h's structures) or the target is refused.
 *  2. Stop it.  PTRACE_SEIZE and PTRACE_INTERRUPT every thread of
 *     /proc/PID/task (listed again until no new one appears), waitpid with
 *     __WALL.  Memory is read with process_vm_readv (or /proc/PID/mem)
 *     through a cache of 64 KiB blocks.  A lock of the allocator held means
 *     a thread was stopped inside it: the threads are let go and stopped
 *     again, a few times, before the heap is read as it is (with a note).
 *     A single-threaded process takes no lock, so there such a stop goes
 *     unseen.
 *  3. Read.  Each arena (the list from main_arena): its regions - the main
 *     arena's segments (sbrk, or mmapped where brk could not grow), the
 *     sub-heaps of the others with their committed and reserved sizes -
 *     every chunk of each in address order; then its fastbins (safe-linked:
 *     the link at pos is stored as (pos >> 12) ^ next), the unsorted, small
 *     and large bins, and the remote list.  Each thread's state (tc) lies
 *     at its thread pointer plus tc_tp_offset: its tcache, mid-size cache
 *     and remote batch (the library's list of states, all_threads, must
 *     name no other).  Then the list of mmapped chunks.  Every walk is
 *     bounded; a size that leaves its region, a link to no chunk, a list
 *     that does not end, a chunk in two lists are notes printed after the
 *     picture, and cut the walk or the list there.
 *  4. Let go (PTRACE_DETACH, handing back any signal the stop caught), then
 *     rebuild (cmd/log.h) from made-up events: a sys record per region, then
 *     `set` records, numbered from 0 - the chunks in use, top chunks,
 *     fence-posts and mmapped chunks in address order, then the free ones
 *     bin by bin in list order, head to tail, each put at its list's tail
 *     (at_tail) so that the rebuilt lists are the real ones.
 *  5. Print the header and show_heap (cmd/show.c), or html_write_state.
 *
 * Threads are numbered as a trace log numbers them: 0 is the process's
 * first thread (tid = pid), then the others in the order of their tids.
 * A thread whose cache is parked by a trace log (PTALLOC_TRACE) or that
 * was stopped setting its cache up has its cached chunks drawn in use,
 * with a note.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "ptalloc.h"
#include "cmds.h"
#include "log.h"
#include "../src/descriptor.h"

#define DESC_SYMBOL   "ptalloc_heap_descriptor"
#define BLOCK         65536u            /* the memory cache's unit */
#define NBLOCKS       64
#define MAX_REGIONS   4096              /* per arena */
#define MAX_ARENAS    65536
#define MAX_CHUNKS    (16u << 20)
#define MAX_NOTES     40
#define LOCK_TRIES    20

/* ---- what is read ---------------------------------------------------------------- */

struct thread {
    int tid, number;
    int stopped;                /* in a ptrace stop we caused */
    int sig;                    /* a signal its stop caught, handed back at detach */
    uint64_t tp;                /* thread pointer, 0 unknown */
    int state;                  /* its tc.state, -1 not read */
    int arena;                  /* its arena's number, -1 none */
    uint64_t cached, batched;   /* chunks in its caches and remote batch */
};

struct region {
    uint64_t start, end, committed;     /* committed: sub-heaps only */
    int arena, index, kind;             /* kind: TLOG_SYS_BRK, _SEGMENT or _HEAP_NEW */
};

/* A chunk the walk found (or an mmapped one), with the words where a
 * free one has its links: the lists are followed through these, not
 * through memory read again in list order. */
struct found {
    uint64_t addr, size;
    uint64_t fd, bk;
    int arena;                  /* -1: mmapped */
    uint8_t bits;               /* the size word's flag bits */
    uint8_t free;               /* the next chunk's PREV_INUSE is clear */
    uint8_t top, listed;
};

/* A chunk of a list, in list order. */
struct entry {
    uint64_t addr, size;
    int state, thread;
};

struct block {
    uint64_t base;              /* UINT64_MAX: empty */
    uint64_t lo, hi;            /* what was read of it: [lo, hi) */
    unsigned char data[BLOCK];
};

struct reader {
    int pid;
    uint64_t page;              /* the page size */
    char lib[PATH_MAX];         /* the file holding ptalloc */
    uint64_t desc_addr;
    struct heap_descriptor d;
    int mem_fd;                 /* /proc/PID/mem, once process_vm_readv fails */
    struct block *cache;
    struct thread *th;
    int nth;
    size_t capth;
    struct region *reg;
    size_t nreg, capreg;
    struct found *ck;
    size_t nck, capck;
    struct entry *ent;
    size_t nent, capent;
    char *notes[MAX_NOTES];
    size_t nnotes;
    int narenas;
    uint64_t mmapped;
};

static struct reader *attached;         /* detached at exit, whatever the way out */

static void *grow(void *v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return v;
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    v = realloc(v, n * elem);
    if (!v)
        cmd_die("heap", NULL, "out of memory");
    *cap = n;
    return v;
}

static void note(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct reader *r, const char *fmt, ...)
{
    if (r->nnotes < MAX_NOTES) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&r->notes[r->nnotes], fmt, ap) < 0)
            r->notes[r->nnotes] = NULL;
        va_end(ap);
    }
    r->nnotes++;
}

static void fail(const struct reader *r, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void fail(const struct reader *r, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cmd_die("heap", NULL, "pid %d: %s", r->pid, msg);
}

/* ---- memory ---------------------------------------------------------------------- */

static void cache_clear(struct reader *r)
{
    for (int i = 0; i < NBLOCKS; i++)
        r->cache[i].base = UINT64_MAX;
}

/* Reads [from, the block's end) into b: as much as can be read from
 * there (a read stops at the first page that cannot be). */
static void fetch(struct reader *r, struct block *b, uint64_t base, uint64_t from)
{
    unsigned char *to = b->data + (from - base);
    size_t len = BLOCK - (from - base);
    ssize_t n = -1;
    b->base = base;
    if (r->mem_fd < 0) {
        struct iovec local = { to, len }, remote = { (void *)(uintptr_t)from, len };
        n = process_vm_readv(r->pid, &local, 1, &remote, 1, 0);
        if (n < 0 && errno != EFAULT) {
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/mem", r->pid);
            r->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
            if (r->mem_fd < 0)
                fail(r, "cannot read its memory: %s", strerror(errno));
        }
    }
    if (r->mem_fd >= 0)
        n = pread(r->mem_fd, to, len, (off_t)from);
    b->lo = from;
    b->hi = from + (n > 0 ? (uint64_t)n : 0);
}

/* len bytes at addr of the target into buf: 0, or -1 where it is not
 * readable.  A block is read whole, or from the page of addr on where its
 * start is not mapped (a region's first block). */
static int rd(struct reader *r, uint64_t addr, void *buf, size_t len)
{
    unsigned char *out = buf;
    while (len) {
        uint64_t base = addr & ~(uint64_t)(BLOCK - 1), off = addr - base;
        struct block *b = &r->cache[(base / BLOCK) % NBLOCKS];
        if (b->base != base || addr < b->lo) {
            fetch(r, b, base, base);
            if (b->hi <= addr && (addr & ~(r->page - 1)) > base)
                fetch(r, b, base, addr & ~(r->page - 1));
        }
        size_t n = BLOCK - off < len ? BLOCK - off : len;
        if (addr < b->lo || addr + n > b->hi || addr + n < addr)
            return -1;
        memcpy(out, b->data + off, n);
        out += n;
        addr += n;
        len -= n;
    }
    return 0;
}

static int rd64(struct reader *r, uint64_t addr, uint64_t *v)
{
    return rd(r, addr, v, sizeof *v);
}

static uint64_t addr_of(const void *p) { return (uint64_t)(uintptr_t)p; }

/* ---- finding ptalloc ------------------------------------------------------------- */

struct mapping { uint64_t start, offset; int exec; char path[PATH_MAX]; };

/* The load bias of an ELF file of which m is the lowest mapping: the
 * segment that starts in m's page of the file lies at p_vaddr + bias. */
static int elf_bias(Elf *elf, const struct mapping *m, uint64_t *bias)
{
    GElf_Ehdr eh;
    size_t phnum;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    if (!gelf_getehdr(elf, &eh) || elf_getphdrnum(elf, &phnum) != 0)
        return 0;
    if (eh.e_type == ET_EXEC) {
        *bias = 0;
        return 1;
    }
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_offset & ~(page - 1)) == m->offset) {
            *bias = m->start - (ph.p_vaddr & ~(page - 1));
            return 1;
        }
    }
    return 0;
}

/* The descriptor symbol's value in the file's symbol table (.symtab, else
 * .dynsym): 1 found, 0 not, -1 the file has no .symtab (stripped). */
static int elf_symbol(Elf *elf, uint64_t *value)
{
    int have_symtab = 0;
    for (int pass = 0; pass < 2; pass++) {
        Elf_Scn *scn = NULL;
        while ((scn = elf_nextscn(elf, scn)) != NULL) {
            GElf_Shdr sh;
            if (!gelf_getshdr(scn, &sh) || sh.sh_type != (pass == 0 ? SHT_SYMTAB : SHT_DYNSYM) || !sh.sh_entsize)
                continue;
            have_symtab |= pass == 0;
            Elf_Data *data = elf_getdata(scn, NULL);
            size_t n = sh.sh_size / sh.sh_entsize;
            for (size_t i = 0; data && i < n; i++) {
                GElf_Sym sym;
                const char *name;
                if (gelf_getsym(data, (int)i, &sym) && sym.st_shndx != SHN_UNDEF &&
                    (name = elf_strptr(elf, sh.sh_link, sym.st_name)) != NULL && strcmp(name, DESC_SYMBOL) == 0) {
                    *value = sym.st_value;
                    return 1;
                }
            }
        }
    }
    return have_symtab ? 0 : -1;
}

/* The mappings of the process, one per file: its lowest (the one of file
 * offset 0, normally).  Only files mapped executable count. */
static size_t file_mappings(struct reader *r, struct mapping **out)
{
    char path[64], line[PATH_MAX + 256];
    snprintf(path, sizeof path, "/proc/%d/maps", r->pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT || errno == ESRCH)
            fail(r, "no such process");
        if (errno == EACCES || errno == EPERM)
            return SIZE_MAX;
        fail(r, "%s: %s", path, strerror(errno));
    }
    struct mapping *m = NULL;
    size_t n = 0, cap = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long start, end, offset;
        char perms[8];
        int pos = 0;
        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &offset, &pos) < 4 || !pos)
            continue;
        char *p = line + pos;
        p[strcspn(p, "\n")] = 0;
        if (p[0] != '/')
            continue;
        size_t k;
        for (k = 0; k < n && strcmp(m[k].path, p) != 0; k++)
            ;
        if (k == n) {
            m = grow(m, &cap, n + 1, sizeof *m);
            m[n] = (struct mapping){ start, offset, 0, "" };
            snprintf(m[n].path, sizeof m[n].path, "%s", p);
            n++;
        } else if (start < m[k].start) {
            m[k].start = start;
            m[k].offset = offset;
        }
        m[k].exec |= perms[2] == 'x';
    }
    fclose(f);
    size_t kept = 0;
    for (size_t k = 0; k < n; k++)
        if (m[k].exec)
            m[kept++] = m[k];
    *out = m;
    return kept;
}

/* Opens a mapped file: by its path in the process's root, else as this
 * process sees the path; a deleted one through /proc/PID/map_files. */
static int open_mapped(const struct reader *r, const struct mapping *m)
{
    static const char deleted[] = " (deleted)";
    char path[PATH_MAX + 64];
    size_t len = strlen(m->path);
    if (len > sizeof deleted - 1 && strcmp(m->path + len - (sizeof deleted - 1), deleted) == 0) {
        FILE *f;
        char maps[64], line[PATH_MAX + 256];
        snprintf(maps, sizeof maps, "/proc/%d/maps", r->pid);
        if ((f = fopen(maps, "r")) == NULL)
            return -1;
        int fd = -1;
        while (fd < 0 && fgets(line, sizeof line, f)) {
            unsigned long long s, e;
            if (strstr(line, m->path) && sscanf(line, "%llx-%llx", &s, &e) == 2 && s == m->start) {
                snprintf(path, sizeof path, "/proc/%d/map_files/%llx-%llx", r->pid, s, e);
                fd = open(path, O_RDONLY | O_CLOEXEC);
            }
        }
        fclose(f);
        return fd;
    }
    snprintf(path, sizeof path, "/proc/%d/root%s", r->pid, m->path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    return fd >= 0 ? fd : open(m->path, O_RDONLY | O_CLOEXEC);
}

/* Finds the descriptor's address; fails when the process is not on ptalloc. */
static void find_ptalloc(struct reader *r)
{
    struct mapping *m;
    size_t n = file_mappings(r, &m);
    if (n == SIZE_MAX)
        fail(r, "not permitted to read its memory map (%s); %s", strerror(EACCES),
             "run as its user or root (CAP_SYS_PTRACE), and see /proc/sys/kernel/yama/ptrace_scope");
    elf_version(EV_CURRENT);
    char stripped[PATH_MAX] = "";
    for (size_t k = 0; k < n && !r->desc_addr; k++) {
        int fd = open_mapped(r, &m[k]);
        if (fd < 0)
            continue;
        Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
        uint64_t value, bias;
        int found = elf && elf_kind(elf) == ELF_K_ELF ? elf_symbol(elf, &value) : 0;
        if (found == 1 && elf_bias(elf, &m[k], &bias)) {
            r->desc_addr = value + bias;
            snprintf(r->lib, sizeof r->lib, "%s", m[k].path);
        } else if (found < 0 && strstr(m[k].path, "ptalloc")) {
            snprintf(stripped, sizeof stripped, "%s", m[k].path);
        }
        if (elf)
            elf_end(elf);
        close(fd);
    }
    free(m);
    if (!r->desc_addr && stripped[0])
        fail(r, "not readable: %s has no symbol table (stripped), so %s cannot be found", stripped, DESC_SYMBOL);
    if (!r->desc_addr)
        fail(r, "not on ptalloc (no file it maps has ptalloc's symbol %s)", DESC_SYMBOL);
}

/* ---- stopping it ----------------------------------------------------------------- */

static const char *permission_hint(void)
{
    static char hint[160];
    FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "r");
    int scope = -1;
    if (f) {
        if (fscanf(f, "%d", &scope) != 1)
            scope = -1;
        fclose(f);
    }
    if (scope > 0)
        snprintf(hint, sizeof hint, "kernel.yama.ptrace_scope is %d: run as root or with CAP_SYS_PTRACE", scope);
    else
        snprintf(hint, sizeof hint, "run as its user, or as root (CAP_SYS_PTRACE)");
    return hint;
}

/* The pid of the process tracing thread tid, 0 none, -1 not known. */
static int tracer_of(int tid)
{
    char path[64], line[256];
    int tracer = -1;
    snprintf(path, sizeof path, "/proc/%d/status", tid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "TracerPid: %d", &tracer) == 1)
            break;
    if (f)
        fclose(f);
    return tracer;
}

static struct thread *thread_of(struct reader *r, int tid)
{
    for (int i = 0; i < r->nth; i++)
        if (r->th[i].tid == tid)
            return &r->th[i];
    return NULL;
}

/* Waits for the stop PTRACE_INTERRUPT asked for (or a signal's). */
static void wait_stop(struct thread *t)
{
    int st;
    for (;;) {
        pid_t w = waitpid(t->tid, &st, __WALL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 || WIFEXITED(st) || WIFSIGNALED(st))
            return;                     /* gone meanwhile */
        if (WIFSTOPPED(st)) {
            if (st >> 16 != PTRACE_EVENT_STOP)
                t->sig = WSTOPSIG(st);  /* a signal arrived: it goes back at detach */
            t->stopped = 1;
            return;
        }
    }
}

static void detach_all(struct reader *r)
{
    for (int i = 0; i < r->nth; i++) {
        if (r->th[i].stopped)
            ptrace(PTRACE_DETACH, r->th[i].tid, NULL, (void *)(uintptr_t)r->th[i].sig);
        r->th[i].stopped = 0;
        r->th[i].sig = 0;
    }
    attached = NULL;
}

static void detach_at_exit(void)
{
    if (attached)
        detach_all(attached);
}

static void on_alarm(int sig)
{
    static const char msg[] = "ptalloc heap: the process did not stop within 10 seconds\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(2);                           /* the kernel lets its threads go */
}

/* Seizes and interrupts the threads of /proc/PID/task not yet known;
 * returns how many. */
static int seize_new(struct reader *r)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", r->pid);
    DIR *dir = opendir(path);
    if (!dir)
        fail(r, "no such process");
    struct dirent *e;
    int added = 0;
    while ((e = readdir(dir)) != NULL) {
        int tid = atoi(e->d_name);
        if (tid <= 0 || thread_of(r, tid))
            continue;
        if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) != 0) {
            if (errno == ESRCH && tid != r->pid)
                continue;               /* a thread that just ended */
            int err = errno, tracer = tracer_of(tid);
            closedir(dir);
            if (err == ESRCH)
                fail(r, "no such process");
            if (err == EPERM && tracer > 0)
                fail(r, "already traced by process %d (a debugger?): a process has one tracer at a time", tracer);
            if (err == EPERM)
                fail(r, "not permitted to stop it (ptrace: %s); %s", strerror(err), permission_hint());
            fail(r, "cannot stop thread %d (ptrace: %s)", tid, strerror(err));
        }
        r->th = grow(r->th, &r->capth, (size_t)r->nth + 1, sizeof *r->th);
        r->th[r->nth++] = (struct thread){ .tid = tid, .state = -1, .arena = -1 };
        ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
        added++;
    }
    closedir(dir);
    return added;
}

/* Every thread stopped.  Until it stops, a thread may start another, so
 * the threads are listed again once the ones known have stopped, until
 * no new one appears. */
static void stop_all(struct reader *r)
{
    attached = r;
    alarm(10);
    for (int waited = 0; seize_new(r) > 0;)
        for (; waited < r->nth; waited++)
            wait_stop(&r->th[waited]);
    alarm(0);
    int live = 0;
    for (int i = 0; i < r->nth; i++)
        live += r->th[i].stopped;
    if (!live)
        fail(r, "no such process (it ended)");
}

/* The thread pointer of a stopped thread (0 if unknown). */
static uint64_t thread_pointer(int tid)
{
#if defined(__x86_64__)
    struct user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) == 0)
        return regs.fs_base;
#elif defined(__aarch64__)
    uint64_t tls = 0;
    struct iovec io = { &tls, sizeof tls };
    if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_ARM_TLS, &io) == 0)
        return tls;
#endif
    return 0;
}

/* ---- the descriptor -------------------------------------------------------------- */

static const char *const layout_names[] = {
#define DESC_NAME(e) #e,
    DESC_LAYOUT(DESC_NAME)
#undef DESC_NAME
};
static const uint64_t layout_here[] = {
#define DESC_VALUE(e) (uint64_t)(e),
    DESC_LAYOUT(DESC_VALUE)
#undef DESC_VALUE
};

/* The descriptor: its head (magic, version, count), then the rest as this
 * version has it. */
static void read_descriptor(struct reader *r)
{
    struct heap_descriptor *d = &r->d;
    if (rd(r, r->desc_addr, d, offsetof(struct heap_descriptor, layout)) != 0 ||
        memcmp(d->magic, DESC_MAGIC, sizeof d->magic) != 0)
        fail(r, "%s: %s at %#llx is not ptalloc's descriptor (the file changed since it was mapped?)", r->lib,
             DESC_SYMBOL, (unsigned long long)r->desc_addr);
    if (d->version != DESC_VERSION || d->nlayout != DESC_NLAYOUT || rd(r, r->desc_addr, d, sizeof *d) != 0)
        fail(r, "its ptalloc (%s) is a different build: descriptor version %u with %u numbers, this command reads "
             "version %u with %u", r->lib, d->version, d->nlayout, DESC_VERSION, (unsigned)DESC_NLAYOUT);
    for (int i = 0; i < DESC_NLAYOUT; i++)
        if (d->layout[i] != layout_here[i])
            fail(r, "its ptalloc (%s) is a different build: %s is %llu there, %llu here", r->lib, layout_names[i],
                 (unsigned long long)d->layout[i], (unsigned long long)layout_here[i]);
}

static void held_add(char *held, size_t len, int *n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void held_add(char *held, size_t len, int *n, const char *fmt, ...)
{
    size_t at = strlen(held);
    va_list ap;
    va_start(ap, fmt);
    if (*n && at + 2 < len)
        at += (size_t)snprintf(held + at, len - at, ", ");
    vsnprintf(held + at, len - at, fmt, ap);
    va_end(ap);
    (*n)++;
}

/* The locks of the allocator held (a thread is inside it), named in
 * held[] ("the list of arenas, arena 3"); how many. */
static int locks_held(struct reader *r, char *held, size_t len)
{
    int32_t v;
    int n = 0;
    held[0] = 0;
    if (rd(r, addr_of(r->d.arenas_lock), &v, sizeof v) == 0 && v)
        held_add(held, len, &n, "the list of arenas");
    if (rd(r, addr_of(r->d.mmap_lock), &v, sizeof v) == 0 && v)
        held_add(held, len, &n, "the list of mmapped chunks");
    uint64_t a = addr_of(r->d.main_arena);
    for (int k = 0; a && k < MAX_ARENAS; k++) {
        if (rd(r, a + offsetof(arena_t, lock), &v, sizeof v) != 0)
            break;
        if (v)
            held_add(held, len, &n, "arena %d", k);
        if (rd64(r, a + offsetof(arena_t, next), &a) != 0)
            break;
    }
    return n;
}

/* ---- the chunks ------------------------------------------------------------------ */

/* The chunk at addr: its header and the words of fd and bk (0 where a
 * chunk at the end of what is mapped has none).  0, or -1 unreadable. */
static int read_chunk(struct reader *r, uint64_t addr, chunk_t *w)
{
    memset(w, 0, sizeof *w);
    if (rd(r, addr, w, offsetof(chunk_t, fd_nextsize)) == 0)
        return 0;
    return rd(r, addr, w, offsetof(chunk_t, fd));
}

static struct found *add_chunk(struct reader *r, uint64_t addr, const chunk_t *w, int arena)
{
    if (r->nck >= MAX_CHUNKS)
        return NULL;
    r->ck = grow(r->ck, &r->capck, r->nck + 1, sizeof *r->ck);
    struct found *c = &r->ck[r->nck++];
    *c = (struct found){ addr, w->size & ~(uint64_t)SIZE_BITS, addr_of(w->fd), addr_of(w->bk), arena,
                         (uint8_t)(w->size & SIZE_BITS), 0, 0, 0 };
    return c;
}

static const char *region_word(int arena) { return arena == 0 ? "segment" : "sub-heap"; }

/* Every chunk of a region, in address order. */
static void walk_region(struct reader *r, const struct region *g, uint64_t first, uint64_t top)
{
    struct found *prev = NULL;
    for (uint64_t p = first; p < g->end;) {
        chunk_t w;
        if (read_chunk(r, p, &w) != 0) {
            note(r, "arena %d, %s %d: cannot read the chunk header at %#llx: the walk stops there", g->arena,
                 region_word(g->arena), g->index, (unsigned long long)p);
            return;
        }
        uint64_t size = w.size & ~(uint64_t)SIZE_BITS;
        if (prev)
            prev->free = !(w.size & PREV_INUSE);
        if (size < 2 * SIZE_SZ || size % MALLOC_ALIGNMENT || size > g->end - p) {
            note(r, "arena %d, %s %d: the chunk at %#llx has size %llu, outside its region: the walk stops there",
                 g->arena, region_word(g->arena), g->index, (unsigned long long)p, (unsigned long long)size);
            return;
        }
        struct found *c = add_chunk(r, p, &w, g->arena);
        if (!c) {
            note(r, "more than %u chunks: the walk stops at %#llx", MAX_CHUNKS, (unsigned long long)p);
            return;
        }
        c->top = p == top;
        prev = c->top ? NULL : c;
        p += size;
    }
}

static int chunk_cmp(const void *a, const void *b)
{
    const struct found *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static struct found *find_chunk(struct reader *r, uint64_t addr)
{
    size_t lo = 0, hi = r->nck;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->ck[mid].addr < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->nck && r->ck[lo].addr == addr ? &r->ck[lo] : NULL;
}

/* The next chunk of a list is at addr: the walk's chunk there, taken for
 * this list, or NULL (with a note) when it is none or in another list. */
static struct found *claim(struct reader *r, uint64_t addr, const char *list)
{
    struct found *c = find_chunk(r, addr);
    if (!c) {
        note(r, "%s: %#llx is no chunk of the heap: the list is cut there", list, (unsigned long long)addr);
        return NULL;
    }
    if (c->listed) {
        note(r, "%s: chunk %#llx is in another list too: the list is cut there", list, (unsigned long long)addr);
        return NULL;
    }
    c->listed = 1;
    return c;
}

static void add_entry(struct reader *r, const struct found *c, int state, int thread)
{
    r->ent = grow(r->ent, &r->capent, r->nent + 1, sizeof *r->ent);
    r->ent[r->nent++] = (struct entry){ c->addr, c->size, state, thread };
}

/* A singly linked, safe-linked list of cache entries (user pointers) from
 * e to the end marker `end`: a tcache slot, a remote batch or list. */
static uint64_t read_entries(struct reader *r, uint64_t e, uint64_t end, int state, int thread, const char *list)
{
    uint64_t n = 0;
    while (e != end) {
        if (e % MALLOC_ALIGNMENT) {
            note(r, "%s: misaligned entry %#llx: the list is cut there", list, (unsigned long long)e);
            break;
        }
        struct found *c = claim(r, e - 2 * SIZE_SZ, list);
        if (!c)
            break;
        uint64_t stored = c->fd;                /* the entry's next (tc_entry_t) */
        add_entry(r, c, state, thread);
        if (++n > r->nck) {
            note(r, "%s does not end (a cycle): cut after %llu chunks", list, (unsigned long long)n);
            break;
        }
        e = ((e + offsetof(tc_entry_t, next)) >> 12) ^ stored;
    }
    return n;
}

static void read_fastbins(struct reader *r, const arena_t *a, int number)
{
    for (int i = 0; i < NFASTBINS; i++) {
        char list[64];
        snprintf(list, sizeof list, "arena %d, fastbin[%d]", number, i);
        uint64_t p = addr_of(a->fastbins[i]), n = 0;
        while (p) {
            if (p % MALLOC_ALIGNMENT) {
                note(r, "%s: misaligned chunk %#llx: the list is cut there", list, (unsigned long long)p);
                break;
            }
            struct found *c = claim(r, p, list);
            if (!c)
                break;
            if (c->size != (uint64_t)(i + 2) * 16)
                note(r, "%s: chunk %#llx has size %llu", list, (unsigned long long)p, (unsigned long long)c->size);
            add_entry(r, c, TLOG_S_FASTBIN, 0);
            if (++n > r->nck) {
                note(r, "%s does not end (a cycle): cut after %llu chunks", list, (unsigned long long)n);
                break;
            }
            p = ((p + offsetof(chunk_t, fd)) >> 12) ^ c->fd;
        }
    }
}

/* The unsorted, small and large bins: circular lists through fd, with the
 * arena's fd/bk pair of each bin as the sentinel (src/bins.h: bin_at). */
static void read_bins(struct reader *r, const arena_t *a, uint64_t addr)
{
    for (int i = 1; i < NBINS; i++) {
        int state = i == UNSORTED_BIN ? TLOG_S_UNSORTED : i < NSMALLBINS ? TLOG_S_SMALLBIN : TLOG_S_LARGEBIN;
        char list[64];
        snprintf(list, sizeof list, "arena %d, %s[%d]", a->number, tlog_state_name(state), i);
        uint64_t bin = addr + offsetof(arena_t, bins) + (uint64_t)(i - 1) * 2 * sizeof(chunk_t *) -
                       offsetof(chunk_t, fd);
        uint64_t p = addr_of(a->bins[(i - 1) * 2]), prev = bin, n = 0;
        while (p != bin) {
            struct found *c = claim(r, p, list);
            if (!c)
                break;
            if (c->bk != prev)
                note(r, "%s: chunk %#llx links back to %#llx, not to the one before it", list, (unsigned long long)p,
                     (unsigned long long)c->bk);
            if (!c->free)
                note(r, "%s: chunk %#llx is marked in use by the chunk after it", list, (unsigned long long)p);
            if (i != UNSORTED_BIN && ptalloc_bin_index(c->size) != i)
                note(r, "%s: chunk %#llx has size %llu", list, (unsigned long long)p, (unsigned long long)c->size);
            add_entry(r, c, state, 0);
            if (++n > r->nck) {
                note(r, "%s does not end (a cycle): cut after %llu chunks", list, (unsigned long long)n);
                break;
            }
            prev = p;
            p = c->fd;
        }
    }
}

/* The regions of an arena, oldest first, with their chunks. */
static void read_regions(struct reader *r, const arena_t *a, uint64_t addr)
{
    static struct region g[MAX_REGIONS];
    static uint64_t firsts[MAX_REGIONS];
    int n = 0;
    if (a->number == 0) {
        for (uint64_t s = addr_of(a->segments); s && n < MAX_REGIONS; n++) {
            segment_t seg;
            if (rd(r, s, &seg, sizeof seg) != 0) {
                note(r, "arena 0: cannot read the segment record at %#llx", (unsigned long long)s);
                break;
            }
            g[n] = (struct region){ s, addr_of(seg.end), 0, 0, 0, seg.mapped ? TLOG_SYS_SEGMENT : TLOG_SYS_BRK };
            firsts[n] = s + r->d.segment_chunks;
            s = addr_of(seg.next);
        }
    } else {
        for (uint64_t h = addr_of(a->heap); h && n < MAX_REGIONS; n++) {
            heap_info_t hi;
            if (rd(r, h, &hi, sizeof hi) != 0) {
                note(r, "arena %d: cannot read the sub-heap header at %#llx", a->number, (unsigned long long)h);
                break;
            }
            if (addr_of(hi.ar) != addr)
                note(r, "arena %d: the sub-heap at %#llx names another arena (%#llx)", a->number,
                     (unsigned long long)h, (unsigned long long)addr_of(hi.ar));
            g[n] = (struct region){ h, h + hi.size, hi.committed, a->number, 0, TLOG_SYS_HEAP_NEW };
            firsts[n] = h + (hi.number == 0 ? r->d.first_heap_chunks : r->d.heap_chunks);
            h = addr_of(hi.prev);
        }
    }
    if (n == MAX_REGIONS)
        note(r, "arena %d: more than %d regions (a cycle?): the older ones are left out", a->number, MAX_REGIONS);
    for (int i = n - 1, index = 0; i >= 0; i--, index++) {
        g[i].arena = a->number;
        g[i].index = index;
        if (g[i].end < g[i].start || firsts[i] > g[i].end) {
            note(r, "arena %d, %s %d: its end %#llx is before its chunks", a->number, region_word(a->number),
                 index, (unsigned long long)g[i].end);
            continue;
        }
        r->reg = grow(r->reg, &r->capreg, r->nreg + 1, sizeof *r->reg);
        r->reg[r->nreg++] = g[i];
        walk_region(r, &g[i], firsts[i], addr_of(a->top));
    }
}

static void read_mmapped(struct reader *r)
{
    uint64_t h, prev = 0, n = 0;
    mmap_stats_t ms;
    if (rd64(r, addr_of(r->d.mmap_list), &h) != 0 || rd(r, addr_of(r->d.mstats), &ms, sizeof ms) != 0) {
        note(r, "cannot read the list of mmapped chunks");
        return;
    }
    for (; h; n++) {
        mmap_hdr_t hdr;
        chunk_t w;
        if (n > (uint64_t)ms.n_mmaps) {
            note(r, "the list of mmapped chunks is longer than its count (%ld): cut there", ms.n_mmaps);
            return;
        }
        if (rd(r, h, &hdr, sizeof hdr) != 0 || read_chunk(r, h + hdr.chunk_off, &w) != 0) {
            note(r, "mmapped chunks: cannot read the mapping at %#llx: the list is cut there", (unsigned long long)h);
            return;
        }
        if (addr_of(hdr.prev) != prev)
            note(r, "mmapped chunks: the mapping at %#llx links back to %#llx", (unsigned long long)h,
                 (unsigned long long)addr_of(hdr.prev));
        if (!add_chunk(r, h + hdr.chunk_off, &w, -1))
            return;
        r->mmapped++;
        prev = h;
        h = addr_of(hdr.next);
    }
}

/* Each thread's state at its thread pointer: the caches and the remote
 * batch (after every chunk is known). */
static void read_threads(struct reader *r, const uint64_t *arenas, int narenas)
{
    int64_t off;
    if (rd(r, addr_of(r->d.tc_tp_offset), &off, sizeof off) != 0) {
        note(r, "cannot read tc_tp_offset: no thread's cache is shown");
        return;
    }
    for (int i = 0; i < r->nth; i++) {
        struct thread *t = &r->th[i];
        tcache_t tc;
        if (!t->tp || rd(r, t->tp + (uint64_t)off, &tc, sizeof tc) != 0)
            continue;                   /* a thread not set up yet */
        t->state = tc.state;
        for (int k = 0; k < narenas; k++)
            if (arenas[k] == addr_of(tc.arena))
                t->arena = k;
        char list[80];
        if (tc.state == TC_ACTIVE) {
            for (int s = 2; s < TCACHE_SLOTS; s++) {
                snprintf(list, sizeof list, "thread %d, tcache[%d]", t->number, s - 2);
                t->cached += read_entries(r, addr_of(tc.head[s]), (uintptr_t)TC_END, TLOG_S_TCACHE, t->number, list);
            }
            /* The mid-size cache: one chunk a class, its link unused. */
            tcache_mid_t mid;
            if (tc.mid && rd(r, addr_of(tc.mid), &mid, sizeof mid) == 0)
                for (int k = 0; k < TCACHE_MID_CLASSES; k++) {
                    struct found *c;
                    snprintf(list, sizeof list, "thread %d, tcache[%d]", t->number, TCACHE_BINS + k);
                    if (mid.slot[k] && (c = claim(r, addr_of(mid.slot[k]) - 2 * SIZE_SZ, list)) != NULL) {
                        add_entry(r, c, TLOG_S_TCACHE, t->number);
                        t->cached++;
                    }
                }
        } else if (tc.state == TC_TRACED || tc.state == TC_BUSY) {
            note(r, "thread %d's cache is %s: its chunks are drawn in use", t->number,
                 tc.state == TC_TRACED ? "parked by the trace log" : "being set up");
        } else if (tc.state > TC_TRACED) {
            note(r, "thread %d's state at %#llx says %d, no state of a cache", t->number,
                 (unsigned long long)(t->tp + (uint64_t)off), tc.state);
        }
        snprintf(list, sizeof list, "thread %d, remote batch", t->number);
        t->batched = read_entries(r, addr_of(tc.remote), 0, TLOG_S_REMOTE, t->number, list);
    }
    /* The library's own list of the states with a cache: each is one of
     * the states found above. */
    uint64_t st;
    int n = 0;
    if (rd64(r, addr_of(r->d.all_threads), &st) != 0)
        st = 0;
    for (; st && n <= r->nth; n++) {
        int i = 0;
        while (i < r->nth && !(r->th[i].tp && r->th[i].tp + (uint64_t)off == st))
            i++;
        if (i == r->nth)
            note(r, "the list of threads names a state at %#llx that no thread of the process has",
                 (unsigned long long)st);
        if (rd64(r, st + offsetof(tcache_t, next_thread), &st) != 0)
            break;
    }
    if (n > r->nth)
        note(r, "the list of threads is longer than the process's %d threads (a cycle?)", r->nth);
}

/* The whole heap, the threads stopped. */
static void read_heap(struct reader *r)
{
    int init;
    if (rd(r, addr_of(r->d.initialized), &init, sizeof init) != 0)
        fail(r, "cannot read ptalloc's globals in %s", r->lib);
    r->narenas = 0;
    if (!init) {
        note(r, "ptalloc has not set up its heap yet (no allocation so far)");
        return;
    }
    static arena_t a;                   /* big: not on the stack */
    uint64_t *arenas = NULL;
    size_t cap = 0;
    for (uint64_t addr = addr_of(r->d.main_arena); addr; addr = addr_of(a.next)) {
        if (r->narenas == MAX_ARENAS || rd(r, addr, &a, sizeof a) != 0 || a.number != r->narenas) {
            note(r, "the list of arenas is broken after arena %d (at %#llx)", r->narenas - 1, (unsigned long long)addr);
            break;
        }
        arenas = grow(arenas, &cap, (size_t)r->narenas + 1, sizeof *arenas);
        arenas[r->narenas++] = addr;
        read_regions(r, &a, addr);
    }
    read_mmapped(r);
    size_t k = 1;
    while (k < r->nck && r->ck[k - 1].addr < r->ck[k].addr)
        k++;
    if (k < r->nck)                     /* arenas and mappings interleave in the address space */
        qsort(r->ck, r->nck, sizeof *r->ck, chunk_cmp);
    for (size_t i = 1; i < r->nck; i++)
        if (r->ck[i - 1].addr + r->ck[i - 1].size > r->ck[i].addr)
            note(r, "chunk %#llx overlaps chunk %#llx", (unsigned long long)r->ck[i - 1].addr,
                 (unsigned long long)r->ck[i].addr);
    for (int n = 0; n < r->narenas; n++) {
        char list[48];
        if (rd(r, arenas[n], &a, sizeof a) != 0)
            continue;
        read_fastbins(r, &a, n);
        read_bins(r, &a, arenas[n]);
        snprintf(list, sizeof list, "arena %d, remote list", n);
        read_entries(r, addr_of(a.remote), 0, TLOG_S_REMOTE, 0, list);
    }
    read_threads(r, arenas, r->narenas);
    free(arenas);
}

static int thread_cmp(const void *a, const void *b)
{
    const struct thread *x = a, *y = b;
    return x->tid - y->tid;
}

/* Stops the process, reads it, lets it go: retried while a lock of the
 * allocator is held. */
static void capture(struct reader *r)
{
    char held[256];
    for (int attempt = 0;; attempt++) {
        stop_all(r);
        cache_clear(r);
        if (attempt == 0)
            read_descriptor(r);
        if (!locks_held(r, held, sizeof held) || attempt == LOCK_TRIES)
            break;
        detach_all(r);
        r->nth = 0;
        struct timespec ts = { 0, 1000000L * (attempt + 1) };
        nanosleep(&ts, NULL);
    }
    int kept = 0;                       /* the threads that ended meanwhile go */
    for (int i = 0; i < r->nth; i++)
        if (r->th[i].stopped)
            r->th[kept++] = r->th[i];
    r->nth = kept;
    qsort(r->th, (size_t)r->nth, sizeof *r->th, thread_cmp);
    for (int i = 1; i < r->nth; i++)    /* the first thread first, whatever its tid */
        if (r->th[i].tid == r->pid) {
            struct thread first = r->th[i];
            memmove(r->th + 1, r->th, (size_t)i * sizeof *r->th);
            r->th[0] = first;
        }
    for (int i = 0; i < r->nth; i++) {
        r->th[i].number = i;
        r->th[i].tp = thread_pointer(r->th[i].tid);
    }
    if (held[0])
        note(r, "a thread was inside the allocator at each of %d stops (at the last, the lock of %s was held): "
                "what it was changing may show half done", LOCK_TRIES + 1, held);
    read_heap(r);
    detach_all(r);
}

/* ---- the rebuild ----------------------------------------------------------------- */

static struct tlog_event set_event(uint64_t *n, uint64_t addr, uint64_t size, int state, int thread)
{
    struct tlog_event ev = { 0 };
    ev.number = (*n)++;
    ev.type = TLOG_SET;
    ev.addr = addr;
    ev.size = size;
    ev.state = state;
    ev.thread = thread;
    return ev;
}

static struct rebuild *rebuild_of(struct reader *r)
{
    struct rebuild *rb = rebuild_new();
    uint64_t n = 0;
    for (size_t i = 0; i < r->nreg; i++) {
        struct tlog_event ev = { 0 };
        ev.number = n++;
        ev.type = TLOG_SYS;
        ev.sys_kind = r->reg[i].kind;
        ev.arena = (uint64_t)r->reg[i].arena;
        ev.addr = r->reg[i].start;
        ev.size = r->reg[i].end - r->reg[i].start;
        rebuild_apply(rb, &ev);
    }
    /* Chunks in no list, in address order; free ones there are lost. */
    size_t lost = 0;
    for (size_t i = 0; i < r->nck; i++) {
        const struct found *c = &r->ck[i];
        int state = c->arena < 0 ? TLOG_S_MMAPPED : c->top ? TLOG_S_TOP : c->size == 2 * SIZE_SZ ? TLOG_S_FENCE
                  : c->free ? -1 : TLOG_S_INUSE;
        if (c->listed)
            continue;
        if (state < 0) {
            lost++;
            continue;
        }
        struct tlog_event ev = set_event(&n, c->addr, c->size, state, 0);
        rebuild_apply(rb, &ev);
    }
    for (size_t i = 0; i < r->nent; i++) {
        struct tlog_event ev = set_event(&n, r->ent[i].addr, r->ent[i].size, r->ent[i].state, r->ent[i].thread);
        ev.at_tail = 1;
        rebuild_apply(rb, &ev);
    }
    /* The lost ones where the walk would say they are: their size's bin. */
    for (size_t i = 0; lost && i < r->nck; i++) {
        const struct found *c = &r->ck[i];
        if (c->listed || !c->free || c->top || c->arena < 0 || c->size == 2 * SIZE_SZ)
            continue;
        note(r, "arena %d: chunk %#llx (%llu bytes) is free but in no bin", c->arena, (unsigned long long)c->addr,
             (unsigned long long)c->size);
        struct tlog_event ev = set_event(&n, c->addr, c->size,
                                         c->size < MIN_LARGE_SIZE ? TLOG_S_SMALLBIN : TLOG_S_LARGEBIN, 0);
        ev.at_tail = 1;
        rebuild_apply(rb, &ev);
    }
    return rb;
}

/* ---- output ---------------------------------------------------------------------- */

static void program_name(int pid, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    ssize_t n = readlink(path, buf, len - 1);
    if (n > 0) {
        buf[n] = 0;
        return;
    }
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    FILE *f = fopen(path, "r");
    if (!f || !fgets(buf, (int)len, f))
        snprintf(buf, len, "?");
    buf[strcspn(buf, "\n")] = 0;
    if (f)
        fclose(f);
}

static void print_header(const struct reader *r, const struct rebuild *rb, const char *prog)
{
    const struct rb_totals *tot = rebuild_totals(rb);
    printf("pid %d (%s), ptalloc in %s, read while stopped\n", r->pid, prog, r->lib);
    printf("%d arena%s, %d thread%s, %llu mmapped chunk%s; heap %llu bytes in %llu chunks: %llu in use, %llu free\n",
           r->narenas, r->narenas == 1 ? "" : "s", r->nth, r->nth == 1 ? "" : "s", (unsigned long long)r->mmapped,
           r->mmapped == 1 ? "" : "s", (unsigned long long)tot->heap, (unsigned long long)tot->chunks,
           (unsigned long long)tot->in_use, (unsigned long long)tot->free);
    for (size_t i = 0; i < r->nreg; i++) {
        const struct region *g = &r->reg[i];
        printf("  arena %d, %s %d: %#llx-%#llx, %llu bytes", g->arena, region_word(g->arena), g->index,
               (unsigned long long)g->start, (unsigned long long)g->end, (unsigned long long)(g->end - g->start));
        if (g->kind == TLOG_SYS_HEAP_NEW)
            printf(" in use, %llu committed, %llu reserved\n", (unsigned long long)g->committed,
                   (unsigned long long)HEAP_MAX_SIZE);
        else
            printf(" (%s)\n", g->kind == TLOG_SYS_BRK ? "brk" : "mmapped: brk could not grow");
    }
    for (int i = 0; i < r->nth; i++) {
        const struct thread *t = &r->th[i];
        printf("  thread %d: tid %d", t->number, t->tid);
        if (t->arena >= 0)
            printf(", arena %d", t->arena);
        if (t->state == TC_ACTIVE)
            printf(", %llu chunks in its caches", (unsigned long long)t->cached);
        else
            printf(", no cache");
        if (t->batched)
            printf(", %llu in its remote batch", (unsigned long long)t->batched);
        putchar('\n');
    }
}

static void usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void usage_error(const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cmd_die("heap", NULL, "%s (usage: ptalloc heap --pid PID [--html FILE] [--all])", msg);
}

int cmd_heap(int argc, char **argv)
{
    const char *html = NULL;
    long long pid = 0;
    int all = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--pid") == 0) {
            const char *v = i + 1 < argc ? argv[++i] : NULL;
            char *end;
            if (!v)
                usage_error("--pid needs a process id");
            errno = 0;
            pid = strtoll(v, &end, 10);
            if (!*v || *end || errno || pid <= 0 || pid > INT_MAX)
                usage_error("--pid %s: not a process id", v);
        } else if (strcmp(a, "--html") == 0) {
            if (i + 1 >= argc)
                usage_error("--html needs a file");
            html = argv[++i];
        } else if (strcmp(a, "--all") == 0) {
            all = 1;
        } else if (a[0] == '-') {
            usage_error("unknown flag %s", a);
        } else {
            usage_error("unexpected argument '%s'", a);
        }
    }
    if (!pid)
        usage_error("--pid PID is missing");

    static struct reader r;
    r.pid = (int)pid;
    r.mem_fd = -1;
    r.page = (uint64_t)sysconf(_SC_PAGESIZE);
    if (r.pid == getpid())
        fail(&r, "that is this command itself");
    char path[64], prog[PATH_MAX];
    snprintf(path, sizeof path, "/proc/%d/status", r.pid);
    FILE *f = fopen(path, "r");
    if (!f)
        fail(&r, "no such process");
    char line[256];
    int tgid = r.pid, zombie = 0;
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "Tgid: %d", &tgid);
        if (strncmp(line, "State:", 6) == 0 && strchr(line, 'Z'))
            zombie = 1;
    }
    fclose(f);
    if (tgid != r.pid)
        fail(&r, "a thread of process %d, not a process: give --pid %d", tgid, tgid);
    if (zombie)
        fail(&r, "it has ended (a zombie)");
    program_name(r.pid, prog, sizeof prog);

    find_ptalloc(&r);
    r.cache = malloc(NBLOCKS * sizeof *r.cache);
    if (!r.cache)
        cmd_die("heap", NULL, "out of memory");
    atexit(detach_at_exit);
    signal(SIGALRM, on_alarm);
    capture(&r);

    struct rebuild *rb = rebuild_of(&r);
    if (html) {
        char title[PATH_MAX + 64], err[512] = "";
        snprintf(title, sizeof title, "heap of pid %d (%s)", r.pid, prog);
        if (html_write_state(html, rb, title, err, sizeof err) != 0)
            cmd_die("heap", html, "%s", err[0] ? err : "cannot write the page");
    } else {
        print_header(&r, rb, prog);
        show_heap(rb, -1, all);
    }
    FILE *notes = html ? stderr : stdout;
    for (size_t i = 0; i < r.nnotes && i < MAX_NOTES; i++)
        fprintf(notes, "%snote: %s\n", i ? "" : "\n", r.notes[i] ? r.notes[i] : "(out of memory)");
    if (r.nnotes > MAX_NOTES)
        fprintf(notes, "note: %zu more\n", r.nnotes - MAX_NOTES);
    rebuild_free(rb);
    return 0;
}
