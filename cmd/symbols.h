/*
 * Symbolizer of the ptalloc command: a traced process's code addresses
 * (return addresses of malloc and free calls) to "function file:line",
 * after the process has gone, from the list of its executable mappings.
 *
 * It is elfutils' libdwfl and libdw underneath: each mapped file is
 * reported to libdwfl with the load bias its mapping implies, and
 * libdwfl finds separate debug info where Debian puts it
 * (/usr/lib/debug/.build-id, .gnu_debuglink), never over the network.
 *
 * Addresses are return addresses: each names the instruction after a
 * call, which may already belong to the next line or, after a call that
 * does not return, to the next function.  So function, file and line are
 * those of addr - 1 (as addr2line users do for return addresses), while
 * module_offset and symbol_offset are those of addr itself, the numbers
 * that a debugger's backtrace prints.  To look up a function's entry
 * address, pass entry + 1.
 *
 * Results are cached by address: a log holds millions of events from a
 * few thousand call sites.  A symbolizer is not thread-safe.
 */
#ifndef PTALLOC_CMD_SYMBOLS_H
#define PTALLOC_CMD_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

/* One mapping, as a line of /proc/PID/maps gives it: [start, end) maps
 * the file path from file offset offset.  A path ending in " (deleted)",
 * one that is not there or not ELF, or none (NULL or "") is kept as a
 * module that symbols cannot come from. */
struct sym_map { uint64_t start, end, offset; const char *path; };

/* Mappings gathered from a log's `modules` records (each repeats the
 * list: one seen before is kept once).  sym_maps_add copies the path;
 * -1 when out of memory. */
struct sym_maps { struct sym_map *v; size_t n, cap; };
int sym_maps_add(struct sym_maps *m, uint64_t start, uint64_t end, uint64_t offset, const char *path);
void sym_maps_free(struct sym_maps *m);
/* The program's own file: of the mapped files, the lowest that is not a
 * shared object (executables load below libraries, PIE or not); NULL if none. */
const char *sym_maps_program(const struct sym_maps *m);
/* The part of path after its last '/'. */
const char *sym_base_name(const char *path);

struct sym_info {
    const char *function;   /* innermost function at addr - 1 (an inlined
                               one if so), demangled if C++; NULL if unknown */
    const char *file;       /* its source file, a full path when DWARF gives
                               the directory; NULL if unknown */
    int line;               /* 0 if unknown */
    const char *module;     /* path of the mapping's file (as given, so
                               "... (deleted)" stays), NULL if addr is in no
                               mapping */
    uint64_t module_offset; /* addr - the module's load bias: the address in
                               the file's own numbering (readelf, objdump).
                               When the file cannot be read, addr - start +
                               offset, which is the same for the usual
                               layouts but for a non-PIE executable */
    const char *symbol;     /* ELF symbol holding addr - 1 (the outer function
                               where code was inlined), demangled; NULL if none */
    uint64_t symbol_offset; /* addr - that symbol's address */
};

struct symbolizer;

/* Never fails hard: a file that cannot be read only gives unknowns.
 * Returns NULL only when out of memory.  The maps need not be sorted;
 * their paths are copied.  Where two maps overlap (a library unloaded
 * and another loaded there), the later one in the array wins. */
struct symbolizer *sym_open(const struct sym_map *maps, size_t n);

/* Fills *out for addr (a return address, see above).  Returns 1 when addr
 * is in one of the mappings, 0 when it is in none (then out->module is
 * NULL).  The strings live until sym_close. */
int sym_lookup(struct symbolizer *s, uint64_t addr, struct sym_info *out);

void sym_close(struct symbolizer *s);

/* The one text all reports print for an address, the first that applies:
 *   "func (file.c:12)"               function, file and line known
 *   "func+0x1c (libfoo.so)"          a symbol, no line
 *   "0x7f... (libfoo.so+0x1234)"     a module only
 *   "0x7f..."                        nothing
 * File and module are given by their base names.  Writes into buf
 * (truncated to size) and returns buf. */
const char *sym_format(struct symbolizer *s, uint64_t addr, char *buf, size_t size);

#endif
