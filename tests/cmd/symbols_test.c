/*
 * The symbolizer (cmd/symbols.c) on this process's own mappings, read from
 * /proc/self/maps as the command reads a traced process's:
 *   - functions and a return address of this program (PIE or not: the
 *     Makefile builds both), by name, file and line;
 *   - printf in libc, a stripped library: a symbol and an offset;
 *   - a C++ shared object (argv[1], built by tests/cmd/symbols.sh): a
 *     demangled template member, an inlined function, file and line;
 *   - a copy of it deleted after loading (argv[2]): module and offset only;
 *   - mappings of files that are not there or not ELF, and addresses in no
 *     mapping;
 *   - the cache: the same answers again, and how fast.
 * Expected lines come from __LINE__, load biases from the dynamic linker.
 *
 *   symbols_test CXX_SO DELETED_COPY_OF_CXX_SO
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <limits.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include "t.h"
#include "symbols.h"

#define NOINLINE __attribute__((noinline, noclone))

/* Functions whose entry is looked up; each on one line with its number. */
NOINLINE int sym_square(int x) { return x * x + 1; } static const int square_line = __LINE__;
NOINLINE long sym_twice(long x) { return 2 * x + 3; } static const int twice_line = __LINE__;

NOINLINE void *sym_ret_addr(void)
{
    void *ra = __builtin_return_address(0);
    __asm__ volatile("" : "+r"(ra));    /* no tail call, no folding */
    return ra;
}

/* Returns the address its call to sym_ret_addr returns to, and that call's line. */
NOINLINE void *sym_call_site(int *line)
{
    void *ra = sym_ret_addr(); *line = __LINE__;
    __asm__ volatile("" : "+r"(ra));
    return ra;
}

/* ---- /proc/self/maps ------------------------------------------------- */
#define MAX_MAPS 512
static struct sym_map maps[MAX_MAPS];
static size_t nmaps;

/* The executable mappings, as the tracer records them. */
static void read_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[PATH_MAX + 256];
    for (size_t i = 0; i < nmaps; i++)
        free((char *)maps[i].path);
    nmaps = 0;
    while (f && fgets(line, sizeof line, f) && nmaps < MAX_MAPS) {
        unsigned long long start, end, offset;
        char perms[8];
        int pos = 0;
        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &offset, &pos) < 4)
            continue;
        if (!strchr(perms, 'x'))
            continue;
        line[strcspn(line, "\n")] = '\0';
        maps[nmaps++] = (struct sym_map){ start, end, offset, strdup(line + pos) };
    }
    if (f)
        fclose(f);
    CHECKF(nmaps >= 3, "%zu executable mappings", nmaps);
}

static uint64_t load_bias_of(const void *addr)
{
    Dl_info di;
    struct link_map *lm = NULL;
    if (!dladdr1(addr, &di, (void **)&lm, RTLD_DL_LINKMAP) || !lm) {
        fprintf(stderr, "dladdr1 %p failed\n", addr);
        t_failures++;
        return 0;
    }
    return lm->l_addr;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = s ? strlen(s) : 0, m = strlen(suffix);
    return s && n >= m && strcmp(s + n - m, suffix) == 0;
}

static const char *str(const char *s) { return s ? s : "(null)"; }

static void show(const char *what, uint64_t addr, const struct sym_info *i)
{
    fprintf(stderr, "%s 0x%llx: function %s file %s line %d module %s+0x%llx symbol %s+0x%llx\n",
            what, (unsigned long long)addr, str(i->function), str(i->file), i->line,
            str(i->module), (unsigned long long)i->module_offset, str(i->symbol),
            (unsigned long long)i->symbol_offset);
}

/* An address of this program, in function fn at line line. */
static void check_own(struct symbolizer *s, const char *exe, uint64_t addr,
                      const char *fn, int line, uint64_t symbol_offset)
{
    struct sym_info i;
    CHECK(sym_lookup(s, addr, &i) == 1);
    show(fn, addr, &i);
    CHECKF(i.function && strcmp(i.function, fn) == 0, "%s: function %s", fn, str(i.function));
    CHECKF(i.symbol && strcmp(i.symbol, fn) == 0, "%s: symbol %s", fn, str(i.symbol));
    CHECKF(ends_with(i.file, "/tests/cmd/symbols_test.c") && i.file[0] == '/', "%s: file %s",
           fn, str(i.file));
    CHECKF(i.line == line, "%s: line %d, not %d", fn, i.line, line);
    CHECKF(i.module && strcmp(i.module, exe) == 0, "%s: module %s, not %s", fn, str(i.module), exe);
    CHECKF(i.module_offset == addr - load_bias_of((void *)(uintptr_t)addr),
           "%s: module offset 0x%llx", fn, (unsigned long long)i.module_offset);
    if (symbol_offset)
        CHECKF(i.symbol_offset == symbol_offset, "%s: symbol offset %llu", fn,
               (unsigned long long)i.symbol_offset);
    char buf[256], want[256];
    snprintf(want, sizeof want, "%s (symbols_test.c:%d)", fn, line);
    sym_format(s, addr, buf, sizeof buf);
    CHECKF(strcmp(buf, want) == 0, "format '%s', not '%s'", buf, want);
}

static void check_self(struct symbolizer *s)
{
    char exe[PATH_MAX];
    CHECK(realpath("/proc/self/exe", exe) != NULL);
    check_own(s, exe, (uintptr_t)sym_square + 1, "sym_square", square_line, 1);
    check_own(s, exe, (uintptr_t)sym_twice + 1, "sym_twice", twice_line, 1);
    int line = 0;
    uintptr_t ra = (uintptr_t)sym_call_site(&line);
    check_own(s, exe, ra, "sym_call_site", line, ra - (uintptr_t)sym_call_site);
    CHECK(ra - (uintptr_t)sym_call_site > 1);
}

/* The file where Debian's -dbg and -dbgsym packages put the debug info of
 * the loaded object whose path contains name, found by its build ID; ""
 * when it has no build ID. */
struct debug_file { const char *name; char path[PATH_MAX]; };

static int find_debug_file(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct debug_file *d = arg;
    (void)size;
    if (!strstr(info->dlpi_name, d->name))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const void *)p;
            const unsigned char *desc = (const unsigned char *)p + sizeof *nh + ((nh->n_namesz + 3) & ~3u);
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(nh + 1, "GNU", 4) == 0) {
                int len = snprintf(d->path, sizeof d->path, "/usr/lib/debug/.build-id/%02x/", desc[0]);
                for (unsigned k = 1; k < nh->n_descsz; k++)
                    len += snprintf(d->path + len, sizeof d->path - len, "%02x", desc[k]);
                snprintf(d->path + len, sizeof d->path - len, ".debug");
                return 1;
            }
            p = (const char *)desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
    return 1;
}

/* printf in libc.  Stripped, a symbol of .dynsym and an offset; with its
 * separate debug info installed (libc6-dbg), found by build ID, the DWARF
 * name, file and line too. */
static void check_libc(struct symbolizer *s)
{
    int (*volatile p)(const char *, ...) = printf;
    uint64_t addr = (uintptr_t)p + 1;
    struct sym_info i;
    CHECK(sym_lookup(s, addr, &i) == 1);
    show("printf", addr, &i);
    CHECKF(i.module && strstr(i.module, "/libc.so"), "module %s", str(i.module));
    CHECKF(i.module_offset == addr - load_bias_of((void *)p), "module offset 0x%llx",
           (unsigned long long)i.module_offset);
    CHECKF(i.symbol && (strcmp(i.symbol, "printf") == 0 || strcmp(i.symbol, "_IO_printf") == 0),
           "symbol %s", str(i.symbol));
    CHECK(i.symbol_offset == 1);
    char buf[256], want[256];
    sym_format(s, addr, buf, sizeof buf);
    struct debug_file d = { "/libc.so", "" };
    dl_iterate_phdr(find_debug_file, &d);
    int separate = d.path[0] && access(d.path, R_OK) == 0;
    fprintf(stderr, "libc's debug info: %s%s\n", d.path, separate ? "" : " (not there)");
    if (separate) {
        CHECKF(i.function && strstr(i.function, "printf"), "function %s", str(i.function));
        CHECKF(ends_with(i.file, "/printf.c") && i.line > 0, "file %s line %d", str(i.file), i.line);
        snprintf(want, sizeof want, "%s (printf.c:%d)", str(i.function), i.line);
        CHECKF(strcmp(buf, want) == 0, "format '%s', not '%s'", buf, want);
    } else {
        CHECK(i.line == 0);
        snprintf(want, sizeof want, "%s+0x1 (%s)", str(i.symbol), strrchr(i.module, '/') + 1);
        CHECKF(strcmp(buf, want) == 0, "format '%s', not '%s'", buf, want);
        CHECKF(strncmp(buf, "printf+0x1 (libc.so", 19) == 0 || strncmp(buf, "_IO_printf+0x1 (libc.so", 23) == 0,
               "format '%s'", buf);
    }
}

/* The C++ object's entry points (symbols.sh writes them). */
typedef void *site_fn(int *line);

static void check_cxx(struct symbolizer *s, const char *so, site_fn *member, site_fn *inlined)
{
    char path[PATH_MAX];
    CHECK(realpath(so, path) != NULL);
    struct { site_fn *fn; const char *function, *symbol; } cases[] = {
        { member, "symt::Box<int>::where(int*)", "symt::Box<int>::where(int*)" },
        { inlined, "symt::inl(int*)", "symt_inlined" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int line = 0;
        uint64_t addr = (uintptr_t)cases[c].fn(&line);
        struct sym_info i;
        CHECK(sym_lookup(s, addr, &i) == 1);
        show(cases[c].function, addr, &i);
        CHECKF(i.function && strcmp(i.function, cases[c].function) == 0, "function %s, not %s",
               str(i.function), cases[c].function);
        CHECKF(i.symbol && strcmp(i.symbol, cases[c].symbol) == 0, "symbol %s, not %s",
               str(i.symbol), cases[c].symbol);
        CHECKF(ends_with(i.file, "/symcxx.cc") && i.file[0] == '/', "file %s", str(i.file));
        CHECKF(i.line == line && line > 0, "line %d, not %d", i.line, line);
        CHECKF(i.module && strcmp(i.module, path) == 0, "module %s, not %s", str(i.module), path);
        CHECKF(i.module_offset == addr - load_bias_of((void *)(uintptr_t)addr),
               "module offset 0x%llx", (unsigned long long)i.module_offset);
        char buf[256], want[256];
        snprintf(want, sizeof want, "%s (symcxx.cc:%d)", cases[c].function, line);
        sym_format(s, addr, buf, sizeof buf);
        CHECKF(strcmp(buf, want) == 0, "format '%s', not '%s'", buf, want);
    }
}

/* A copy of the C++ object unlinked after loading: maps says "(deleted)",
 * and the file on disk, if any, may not be the one mapped. */
static void check_deleted(struct symbolizer *s, const char *gone, site_fn *member)
{
    int line;
    uint64_t addr = (uintptr_t)member(&line);
    struct sym_info i;
    CHECK(sym_lookup(s, addr, &i) == 1);
    show("deleted", addr, &i);
    CHECK(!i.function && !i.symbol && !i.file && i.line == 0);
    CHECKF(ends_with(i.module, " (deleted)") && strstr(i.module, gone), "module %s", str(i.module));
    uint64_t offset = addr - load_bias_of((void *)(uintptr_t)addr);
    CHECKF(i.module_offset == offset, "module offset 0x%llx, not 0x%llx",
           (unsigned long long)i.module_offset, (unsigned long long)offset);
    char buf[256], want[512];
    snprintf(want, sizeof want, "0x%llx (%s (deleted)+0x%llx)", (unsigned long long)addr,
             strrchr(gone, '/') + 1, (unsigned long long)offset);
    sym_format(s, addr, buf, sizeof buf);
    CHECKF(strcmp(buf, want) == 0, "format '%s', not '%s'", buf, want);
}

/* Mappings of files that give nothing, and addresses outside every mapping. */
static void check_unknown(void)
{
    const struct sym_map fake[] = {
        { 0x10000000, 0x10010000, 0x2000, "/nonexistent/libnothere.so" },
        { 0x20000000, 0x20001000, 0, "/dev/null" },
        { 0x30000000, 0x30001000, 0, "[vdso]" },
        { 0x40000000, 0x40001000, 0, NULL },
        { 0x50000000, 0x50000000, 0, "/empty" },          /* an empty range: ignored */
    };
    struct symbolizer *s = sym_open(fake, sizeof fake / sizeof fake[0]);
    CHECK(s != NULL);
    struct sym_info i;
    const struct { uint64_t addr; const char *module; uint64_t offset; const char *text; } cases[] = {
        { 0x10000123, "/nonexistent/libnothere.so", 0x2123, "0x10000123 (libnothere.so+0x2123)" },
        { 0x1000ffff, "/nonexistent/libnothere.so", 0x11fff, "0x1000ffff (libnothere.so+0x11fff)" },
        { 0x20000010, "/dev/null", 0x10, "0x20000010 (null+0x10)" },
        { 0x30000400, "[vdso]", 0x400, "0x30000400 ([vdso]+0x400)" },
        { 0x40000001, "[anonymous]", 1, "0x40000001 ([anonymous]+0x1)" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        CHECK(sym_lookup(s, cases[c].addr, &i) == 1);
        show("fake", cases[c].addr, &i);
        CHECKF(i.module && strcmp(i.module, cases[c].module) == 0, "module %s", str(i.module));
        CHECK(i.module_offset == cases[c].offset);
        CHECK(!i.function && !i.file && i.line == 0 && !i.symbol);
        char buf[128];
        sym_format(s, cases[c].addr, buf, sizeof buf);
        CHECKF(strcmp(buf, cases[c].text) == 0, "format '%s', not '%s'", buf, cases[c].text);
    }
    const uint64_t outside[] = { 0, 0xfffffff, 0x10010000, 0x50000000, UINT64_MAX };
    for (size_t c = 0; c < sizeof outside / sizeof outside[0]; c++) {
        memset(&i, 0x5a, sizeof i);
        CHECK(sym_lookup(s, outside[c], &i) == 0);
        CHECK(!i.module && !i.function && !i.file && i.line == 0 && !i.symbol);
    }
    char buf[64];
    CHECK(strcmp(sym_format(s, 0x1234, buf, sizeof buf), "0x1234") == 0);
    CHECK(strcmp(sym_format(s, 0x10000123, buf, 12), "0x10000123 ") == 0);   /* truncated */
    sym_close(s);

    s = sym_open(NULL, 0);
    CHECK(s != NULL);
    CHECK(sym_lookup(s, (uintptr_t)sym_square + 1, &i) == 0 && !i.module);
    sym_close(s);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int same_info(const struct sym_info *a, const struct sym_info *b)
{
    return a->function == b->function && a->file == b->file && a->line == b->line &&
           a->module == b->module && a->module_offset == b->module_offset &&
           a->symbol == b->symbol && a->symbol_offset == b->symbol_offset;
}

/* Up to 1000 addresses spread over each executable mapping, looked up once
 * (each a libdwfl lookup), then all again many times (each from the
 * cache), with the same answers: the same strings, not copies. */
static void check_cache(void)
{
    size_t cap = 1000 * nmaps, n = 0;
    uint64_t *addrs = malloc(cap * sizeof *addrs);
    struct sym_info *first = malloc(cap * sizeof *first);
    for (size_t m = 0; m < nmaps; m++) {
        uint64_t stride = (maps[m].end - maps[m].start) / 1000 + 1;
        for (uint64_t a = maps[m].start + 1; a < maps[m].end && n < cap; a += stride)
            addrs[n++] = a;
    }
    struct symbolizer *s = sym_open(maps, nmaps);
    double t0 = now();
    for (size_t k = 0; k < n; k++)
        CHECK(sym_lookup(s, addrs[k], &first[k]) == 1);
    double t1 = now();

    /* This program has its symbol table and DWARF: most of its code is in a
     * function of a known line (the rest is PLT and padding). */
    struct sym_info self;
    sym_lookup(s, (uintptr_t)sym_square + 1, &self);
    size_t own = 0, named = 0, lined = 0;
    for (size_t k = 0; k < n; k++) {
        if (first[k].module != self.module)
            continue;
        own++;
        named += first[k].symbol != NULL;
        lined += first[k].function && first[k].file && first[k].line > 0;
    }
    CHECKF(own > 0 && 2 * named > own && 2 * lined > own, "of %zu addresses of %s, %zu in a symbol, %zu with a line",
           own, str(self.module), named, lined);

    size_t rounds = 0, diffs = 0;
    while (rounds < 4 || (now() - t1 < 0.2 && rounds < 1000)) {
        for (size_t k = 0; k < n; k++) {
            struct sym_info i;
            sym_lookup(s, addrs[k], &i);
            diffs += !same_info(&i, &first[k]);
        }
        rounds++;
    }
    double t2 = now();
    double uncached = n / (t1 - t0), cached = rounds * n / (t2 - t1);
    printf("cache: %zu addresses in %zu mappings: %.0f uncached lookups/s, %.0f cached lookups/s\n",
           n, nmaps, uncached, cached);
    CHECK(diffs == 0);
    /* libdwfl answers in microseconds, the cache in tens of nanoseconds:
     * a cache that does not work is slower than this by far. */
    CHECKF(cached > 10 * uncached, "cached %.0f/s, uncached %.0f/s", cached, uncached);
    sym_close(s);
    free(addrs);
    free(first);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s CXX_SO DELETED_COPY_OF_CXX_SO\n", argv[0]);
        return 2;
    }
    void *cxx = dlopen(argv[1], RTLD_NOW);
    void *gone = dlopen(argv[2], RTLD_NOW);
    if (!cxx || !gone) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    fprintf(stderr, "malloc: %s\n", t_on_ptalloc() ? "ptalloc" : "not ptalloc");
    site_fn *member = (site_fn *)dlsym(cxx, "symt_member");
    site_fn *inlined = (site_fn *)dlsym(cxx, "symt_inlined");
    site_fn *gone_member = (site_fn *)dlsym(gone, "symt_member");
    CHECK(member && inlined && gone_member && gone_member != member);
    CHECK(unlink(argv[2]) == 0);
    read_maps();

    struct symbolizer *s = sym_open(maps, nmaps);
    CHECK(s != NULL);
    check_self(s);
    check_libc(s);
    if (member && inlined)
        check_cxx(s, argv[1], member, inlined);
    if (gone_member)
        check_deleted(s, argv[2], gone_member);
    /* Cached now: the same answers again. */
    check_self(s);
    if (member && inlined)
        check_cxx(s, argv[1], member, inlined);
    sym_close(s);

    check_unknown();
    check_cache();
    t_heap_check("end");
    return t_done();
}
