/*
 * Symbolizer: addresses of a traced process to "function file:line",
 * with elfutils' libdwfl (see symbols.h).
 *
 * sym_open turns the mappings into modules: one per mapped file and load
 * bias, the bias worked out from the file's program headers, each
 * reported to libdwfl with dwfl_report_elf.  A lookup finds the mapping
 * by binary search over the sorted mappings (so that a module libdwfl
 * could not take still names its file), then asks libdwfl for the ELF
 * symbol, the DWARF scopes and the line.  Every answer is cached in an
 * open-addressing table keyed by address, and every string it holds is
 * interned in an arena freed by sym_close.
 */
#define _GNU_SOURCE
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <dwarf.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "symbols.h"

/* libstdc++'s demangler (the C++ ABI's abi::__cxa_demangle, C linkage). */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/* ---- strings -------------------------------------------------------------
 * Interned: the same file and function names come back for thousands of
 * sites, and every string must outlive the lookup that made it. */
struct block { struct block *next; size_t used, size; char data[]; };

struct strtab {
    struct block *blocks;
    const char **slots;         /* open addressing, NULL is empty */
    size_t nslots, count;
};

static uint64_t str_hash(const char *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;     /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    return h;
}

static char *arena_alloc(struct strtab *t, size_t len)
{
    struct block *b = t->blocks;
    if (!b || b->size - b->used < len) {
        size_t size = len > 60000 ? len : 60000;
        b = malloc(sizeof *b + size);
        if (!b)
            return NULL;
        b->next = t->blocks; b->used = 0; b->size = size;
        t->blocks = b;
    }
    char *p = b->data + b->used;
    b->used += len;
    return p;
}

static int strtab_grow(struct strtab *t)
{
    size_t n = t->nslots ? 2 * t->nslots : 256;
    const char **slots = calloc(n, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < t->nslots; i++) {
        const char *s = t->slots[i];
        if (!s)
            continue;
        size_t j = str_hash(s, strlen(s)) & (n - 1);
        while (slots[j])
            j = (j + 1) & (n - 1);
        slots[j] = s;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
    return 0;
}

/* The interned copy of p[0..len); NULL when out of memory. */
static const char *intern_n(struct strtab *t, const char *p, size_t len)
{
    if (2 * (t->count + 1) > t->nslots && strtab_grow(t) < 0)
        return NULL;
    size_t j = str_hash(p, len) & (t->nslots - 1);
    for (const char *s; (s = t->slots[j]) != NULL; j = (j + 1) & (t->nslots - 1))
        if (strncmp(s, p, len) == 0 && s[len] == '\0')
            return s;
    char *s = arena_alloc(t, len + 1);
    if (!s)
        return NULL;
    memcpy(s, p, len);
    s[len] = '\0';
    t->slots[j] = s;
    t->count++;
    return s;
}

static const char *intern(struct strtab *t, const char *s)
{
    return s ? intern_n(t, s, strlen(s)) : NULL;
}

/* C++ names demangled, every other name as it is. */
static const char *intern_name(struct strtab *t, const char *name)
{
    if (!name || strncmp(name, "_Z", 2) != 0)
        return intern(t, name);
    int status;
    char *d = __cxa_demangle(name, NULL, NULL, &status);
    const char *s = intern(t, status == 0 && d ? d : name);
    free(d);
    return s;
}

/* ---- the symbolizer ------------------------------------------------------ */
struct module {
    const char *path;           /* interned, as the mapping gives it */
    uint64_t bias;
    Dwfl_Module *dwfl;          /* NULL: the file gave nothing to libdwfl */
};

struct region { uint64_t start, end; size_t module; };

struct entry { uint64_t addr; int found; struct sym_info info; };

struct symbolizer {
    Dwfl *dwfl;
    struct module *modules;
    size_t nmodules;
    struct region *regions;     /* sorted by start */
    size_t nregions;
    struct entry *entries;      /* the cache: answers in the order made */
    size_t nentries, entries_cap;
    uint32_t *slots;            /* entry index + 1 by address hash, 0 is empty */
    size_t nslots;
    struct strtab strs;
};

/* NULL: libdwfl's default path, ":.debug:/usr/lib/debug", which covers
 * Debian's -dbgsym packages by build ID and .gnu_debuglink files. */
static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

/* libdwfl asks the debuginfod servers in $DEBUGINFOD_URLS for any file it
 * finds no local debug info for, and the command must not reach the
 * network: the variable is hidden while libdwfl works. */
static char *debuginfod_hide(void)
{
    const char *urls = getenv("DEBUGINFOD_URLS");
    if (!urls)
        return NULL;
    char *saved = strdup(urls);
    unsetenv("DEBUGINFOD_URLS");
    return saved;
}

static void debuginfod_restore(char *saved)
{
    if (saved)
        setenv("DEBUGINFOD_URLS", saved, 1);
    free(saved);
}

static int is_deleted(const char *path)
{
    static const char suffix[] = " (deleted)";
    size_t len = strlen(path);
    return len >= sizeof suffix - 1 && strcmp(path + len - (sizeof suffix - 1), suffix) == 0;
}

/* The load segment that the mapping of file offset `offset` comes from:
 * the one that starts in that page, else one that covers it (a mapping the
 * kernel split).  Sets *bias so that the segment's p_vaddr + *bias is
 * where it lies; 0 when no segment fits or the bias is impossible (a file
 * replaced since the process mapped it). */
static int load_bias(Elf *elf, uint64_t start, uint64_t offset, uint64_t *bias)
{
    GElf_Ehdr eh;
    size_t phnum;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
        (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) || elf_getphdrnum(elf, &phnum) != 0)
        return 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < phnum; i++) {
            GElf_Phdr ph;
            if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
                continue;
            uint64_t first = ph.p_offset & ~(page - 1);
            if (pass == 0 ? first != offset
                          : offset < first || offset >= ph.p_offset + ph.p_filesz)
                continue;
            uint64_t b = start - offset - ph.p_vaddr + ph.p_offset;
            if (eh.e_type == ET_EXEC ? b != 0 : (b & (page - 1)) != 0)
                return 0;
            *bias = b;
            return 1;
        }
    }
    return 0;
}

/* The module for a mapping, added when new.  SIZE_MAX when out of memory. */
static size_t add_module(struct symbolizer *s, const struct sym_map *m)
{
    const char *path = m->path && *m->path ? m->path : "[anonymous]";
    uint64_t bias = m->start - m->offset;   /* the guess when the file says nothing */
    int fd = -1;
    int readable = 0;
    if (path[0] == '/' && !is_deleted(path) && (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
        Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
        readable = elf && load_bias(elf, m->start, m->offset, &bias);
        elf_end(elf);
    }
    for (size_t i = 0; i < s->nmodules; i++) {
        if (s->modules[i].bias == bias && strcmp(s->modules[i].path, path) == 0) {
            if (fd >= 0)
                close(fd);
            return i;
        }
    }
    struct module *mods = realloc(s->modules, (s->nmodules + 1) * sizeof *mods);
    const char *ipath = intern(&s->strs, path);
    if (!mods || !ipath) {
        if (mods)
            s->modules = mods;
        if (fd >= 0)
            close(fd);
        return SIZE_MAX;
    }
    s->modules = mods;
    struct module *mod = &mods[s->nmodules];
    mod->path = ipath;
    mod->bias = bias;
    mod->dwfl = NULL;
    if (readable) {
        /* On success libdwfl keeps fd and closes it in dwfl_end.  It fails
         * on a file whose span overlaps one reported before. */
        mod->dwfl = dwfl_report_elf(s->dwfl, ipath, ipath, fd, bias, true);
        if (mod->dwfl)
            fd = -1;
    }
    if (fd >= 0)
        close(fd);
    return s->nmodules++;
}

static int region_cmp(const void *a, const void *b)
{
    const struct region *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

int sym_maps_add(struct sym_maps *m, uint64_t start, uint64_t end, uint64_t offset, const char *path)
{
    for (size_t j = 0; j < m->n; j++)
        if (m->v[j].start == start && m->v[j].end == end && strcmp(m->v[j].path, path) == 0)
            return 0;
    if (m->n == m->cap) {
        size_t cap = m->cap * 2 + 16;
        struct sym_map *v = realloc(m->v, cap * sizeof *v);
        if (!v)
            return -1;
        m->v = v;
        m->cap = cap;
    }
    char *copy = strdup(path);
    if (!copy)
        return -1;
    m->v[m->n++] = (struct sym_map){ start, end, offset, copy };
    return 0;
}

void sym_maps_free(struct sym_maps *m)
{
    for (size_t j = 0; j < m->n; j++)
        free((char *)m->v[j].path);
    free(m->v);
    memset(m, 0, sizeof *m);
}

struct symbolizer *sym_open(const struct sym_map *maps, size_t n)
{
    elf_version(EV_CURRENT);
    struct symbolizer *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->dwfl = dwfl_begin(&callbacks);
    s->regions = calloc(n ? n : 1, sizeof *s->regions);
    if (!s->dwfl || !s->regions) {
        sym_close(s);
        return NULL;
    }
    char *urls = debuginfod_hide();
    dwfl_report_begin(s->dwfl);
    for (size_t i = 0; i < n; i++) {
        int hidden = maps[i].end <= maps[i].start;
        for (size_t j = i + 1; j < n && !hidden; j++)
            hidden = maps[j].start < maps[i].end && maps[i].start < maps[j].end;
        if (hidden)
            continue;
        size_t mod = add_module(s, &maps[i]);
        if (mod == SIZE_MAX) {
            dwfl_report_end(s->dwfl, NULL, NULL);
            debuginfod_restore(urls);
            sym_close(s);
            return NULL;
        }
        s->regions[s->nregions++] = (struct region){ maps[i].start, maps[i].end, mod };
    }
    dwfl_report_end(s->dwfl, NULL, NULL);
    debuginfod_restore(urls);
    qsort(s->regions, s->nregions, sizeof *s->regions, region_cmp);
    return s;
}

void sym_close(struct symbolizer *s)
{
    if (!s)
        return;
    if (s->dwfl)
        dwfl_end(s->dwfl);
    for (struct block *b = s->strs.blocks, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(s->strs.slots);
    free(s->modules);
    free(s->regions);
    free(s->entries);
    free(s->slots);
    free(s);
}

static const struct region *find_region(const struct symbolizer *s, uint64_t addr)
{
    size_t lo = 0, hi = s->nregions;        /* the last region starting <= addr */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->regions[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || addr >= s->regions[lo - 1].end)
        return NULL;
    return &s->regions[lo - 1];
}

/* The name of a subprogram or inlined-subroutine DIE: its linkage name
 * when it has one (a C++ function's whole qualified name), else DW_AT_name.
 * Both through DW_AT_abstract_origin and DW_AT_specification. */
static const char *die_name(struct strtab *t, Dwarf_Die *die)
{
    static const unsigned attrs[] = { DW_AT_linkage_name, DW_AT_MIPS_linkage_name, DW_AT_name };
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        Dwarf_Attribute a;
        const char *name = dwarf_formstring(dwarf_attr_integrate(die, attrs[i], &a));
        if (name)
            return intern_name(t, name);
    }
    return NULL;
}

/* What libdwfl knows of pc = addr - 1 in mod. */
static void resolve_in_module(struct symbolizer *s, Dwfl_Module *mod, uint64_t addr,
                              struct sym_info *out)
{
    Dwarf_Addr pc = addr - 1;
    GElf_Off off;
    GElf_Sym sym;
    const char *name = dwfl_module_addrinfo(mod, pc, &off, &sym, NULL, NULL, NULL);
    if (name) {
        out->symbol = intern_name(&s->strs, name);
        out->symbol_offset = off + 1;
    }

    Dwarf_Addr bias;
    Dwarf_Die *cu = dwfl_module_addrdie(mod, pc, &bias);
    if (cu) {
        Dwarf_Die *scopes = NULL;
        int n = dwarf_getscopes(cu, pc - bias, &scopes);
        for (int i = 0; i < n; i++) {
            int tag = dwarf_tag(&scopes[i]);
            if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine) {
                out->function = die_name(&s->strs, &scopes[i]);
                break;
            }
        }
        free(scopes);
    }
    if (!out->function)
        out->function = out->symbol;

    Dwfl_Line *line = dwfl_module_getsrc(mod, pc);
    const char *file = line ? dwfl_lineinfo(line, NULL, &out->line, NULL, NULL, NULL) : NULL;
    /* libdw joins the line table's directories, but not always the
     * compilation directory; one that is relative (a prefix map) too would
     * make nothing better. */
    if (file && file[0] != '/') {
        const char *dir = dwfl_line_comp_dir(line);
        char *full;
        if (dir && dir[0] == '/' && asprintf(&full, "%s/%s", dir, file) >= 0) {
            out->file = intern(&s->strs, full);
            free(full);
        }
    }
    if (file && !out->file)
        out->file = intern(&s->strs, file);
    if (!out->file)
        out->line = 0;
}

static int resolve(struct symbolizer *s, uint64_t addr, struct sym_info *out)
{
    memset(out, 0, sizeof *out);
    const struct region *r = find_region(s, addr);
    if (!r)
        return 0;
    const struct module *mod = &s->modules[r->module];
    out->module = mod->path;
    out->module_offset = addr - mod->bias;
    if (mod->dwfl) {
        char *urls = debuginfod_hide();
        resolve_in_module(s, mod->dwfl, addr, out);
        debuginfod_restore(urls);
    }
    return 1;
}

static size_t addr_slot(uint64_t addr, size_t nslots)
{
    return (size_t)((addr * 0x9e3779b97f4a7c15ull) >> 32) & (nslots - 1);
}

/* Doubles the cache's table; -1 when out of memory. */
static int cache_grow(struct symbolizer *s)
{
    size_t n = s->nslots ? 2 * s->nslots : 1024;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < s->nentries; i++) {
        size_t j = addr_slot(s->entries[i].addr, n);
        while (slots[j])
            j = (j + 1) & (n - 1);
        slots[j] = (uint32_t)(i + 1);
    }
    free(s->slots);
    s->slots = slots;
    s->nslots = n;
    return 0;
}

int sym_lookup(struct symbolizer *s, uint64_t addr, struct sym_info *out)
{
    if (!s) {
        memset(out, 0, sizeof *out);
        return 0;
    }
    size_t j = 0;
    if (s->nslots) {
        for (j = addr_slot(addr, s->nslots); s->slots[j]; j = (j + 1) & (s->nslots - 1)) {
            const struct entry *e = &s->entries[s->slots[j] - 1];
            if (e->addr == addr) {
                *out = e->info;
                return e->found;
            }
        }
    }
    int found = resolve(s, addr, out);

    /* Cached at under half full; out of memory, the answer is still right,
     * only not kept. */
    if (2 * (s->nentries + 1) > s->nslots || s->nentries >= UINT32_MAX - 1) {
        if (s->nentries >= UINT32_MAX - 1 || cache_grow(s) < 0)
            return found;
        for (j = addr_slot(addr, s->nslots); s->slots[j]; j = (j + 1) & (s->nslots - 1))
            ;
    }
    if (s->nentries == s->entries_cap) {
        size_t cap = s->entries_cap ? 2 * s->entries_cap : 512;
        struct entry *e = realloc(s->entries, cap * sizeof *e);
        if (!e)
            return found;
        s->entries = e;
        s->entries_cap = cap;
    }
    s->entries[s->nentries] = (struct entry){ addr, found, *out };
    s->slots[j] = (uint32_t)++s->nentries;
    return found;
}

const char *sym_base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

const char *sym_maps_program(const struct sym_maps *m)
{
    const struct sym_map *best = NULL;
    for (size_t i = 0; i < m->n; i++) {
        const struct sym_map *x = &m->v[i];
        if (!x->path[0] || strstr(sym_base_name(x->path), ".so"))
            continue;
        if (!best || x->start < best->start)
            best = x;
    }
    return best ? best->path : NULL;
}

const char *sym_format(struct symbolizer *s, uint64_t addr, char *buf, size_t size)
{
    struct sym_info i;
    sym_lookup(s, addr, &i);
    if (i.file && i.line > 0)
        snprintf(buf, size, "%s (%s:%d)", i.function ? i.function : "??", sym_base_name(i.file), i.line);
    else if (i.symbol)
        snprintf(buf, size, "%s+0x%llx (%s)", i.symbol, (unsigned long long)i.symbol_offset,
                 sym_base_name(i.module));
    else if (i.module)
        snprintf(buf, size, "0x%llx (%s+0x%llx)", (unsigned long long)addr, sym_base_name(i.module),
                 (unsigned long long)i.module_offset);
    else
        snprintf(buf, size, "0x%llx", (unsigned long long)addr);
    return buf;
}
