/*
 * ptalloc, the command.
 *
 *   ptalloc run [-o NAME=VALUE]... [--] PROG [ARGS...]
 *   ptalloc options
 *   ptalloc trace [-o FILE] [--stack N] [--] PROG [ARGS...]
 *   ptalloc show FILE [--at N] [--thread T] [--all] [--check]   (cmd/show.c)
 *   ptalloc show FILE --walk K
 *   ptalloc json FILE [--perfetto] [-o OUT]                      (cmd/json.c)
 *   ptalloc heap --pid PID [--html FILE] [--all]                 (cmd/heap.c)
 *   ptalloc report FILE [--top N] [--no-symbols] [--sort bytes|blocks]  (cmd/report.c)
 *   ptalloc replay FILE [-o NAME=VALUE]... [--trace OUT] ...     (cmd/replay.c)
 *
 * `run` starts PROG on ptalloc (libptalloc.so preloaded in PROG's
 * environment only) with options set by name; each NAME=VALUE is checked
 * first, as the library would read PTALLOC_<NAME>=VALUE from the
 * environment, so that a misspelt name or a value out of range is an
 * error here rather than silently ignored there.  `options` lists the
 * options with their values.  `trace` runs PROG the same way with the
 * library's trace log on (docs/TRACE-FORMAT.md) and says where it went.
 *
 * The command links libptalloc.a, so it runs on ptalloc itself and asks
 * the library for its options' names and ranges.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ptalloc.h"
#include "cmds.h"

#define USAGE "usage: ptalloc run [-o NAME=VALUE]... [--] PROG [ARGS...]\n" \
              "       ptalloc options\n" \
              "       ptalloc trace [-o FILE] [--stack N] [--] PROG [ARGS...]\n" \
              "       ptalloc show FILE [--at N] [--thread T] [--all] [--check]\n" \
              "       ptalloc show FILE --walk K\n" \
              "       ptalloc json FILE [--perfetto] [-o OUT]\n" \
              "       ptalloc html FILE [-o OUT] [--from N] [--to M] [--title TEXT] [--no-symbols]\n" \
              "       ptalloc heap --pid PID [--html FILE] [--all]\n" \
              "       ptalloc report FILE [--top N] [--no-symbols] [--sort bytes|blocks]\n" \
              "       ptalloc replay FILE [-o NAME=VALUE]... [--trace OUT] [--untraced]\n" \
              "                      [--touch none|page|all] [--json]\n" \
              "\n" \
              "run      start PROG on ptalloc with options set by name\n" \
              "options  list the options with the values a program started here gets\n" \
              "trace    run PROG on ptalloc and record every allocation call with the\n" \
              "         allocator's decision in FILE (default ptalloc.PROG.PID.trace);\n" \
              "         --stack N: N frames per call site (default 1, the caller)\n" \
              "show     the heap rebuilt from a trace log (PTALLOC_TRACE=FILE) after its last\n" \
              "         event, or after event N (events are numbered from 0 in time order);\n" \
              "         --thread T: as thread T sees it (other threads' caches in use);\n" \
              "         --all: every in-use chunk drawn; --check: list the contradictions\n" \
              "         between log and rebuilt heap (exit 1 if any)\n" \
              "show --walk K  the heap at the walk checkpoint with ordinal K, one chunk a\n" \
              "         line in address order, as that ptalloc_walk call reported it:\n" \
              "           ADDR SIZE WHERE BIN\n" \
              "         ADDR 0x and 16 hex digits (the chunk header), SIZE decimal, WHERE\n" \
              "         one of inuse tcache fastbin unsorted smallbin largebin top mmapped\n" \
              "         fence (another thread's cache and remote batches are inuse), BIN the\n" \
              "         bin index as struct ptalloc_chunk_info has it (-1 for none); then\n" \
              "         each non-empty bin in list order: bin KIND ARENA INDEX: ADDR...\n" \
              "         (KIND: enum ptalloc_where; the walking thread's tcache under arena 0)\n" \
              "html     the log as one self-contained page (default FILE.html) that draws\n" \
              "         the heap at any event: address space, chunks and their headers,\n" \
              "         bins in list order, each event's decision, plots, call sites;\n" \
              "         marks \"chapter N | title | text\" make a guided tour; --from N\n" \
              "         --to M: a window of a long log, the page starting with the heap\n" \
              "         as it was after event N - 1\n" \
              "heap     the heap of a running process on ptalloc (preloaded or linked in),\n" \
              "         read from outside while its threads are stopped for a moment\n" \
              "         (ptrace; nothing runs inside it), drawn as ptalloc_print_heap draws\n" \
              "         it, every thread's caches included; --html FILE: a page instead;\n" \
              "         --all: every in-use chunk drawn\n" \
              "json     the log as JSON (docs/TRACE-JSON.md); --perfetto: Chrome trace\n" \
              "         events for ui.perfetto.dev and chrome://tracing\n" \
              "report   a log summed up: calls, the allocator's decisions, system memory,\n" \
              "         the peaks and the call sites holding memory there, blocks not freed\n" \
              "         at the end, short-lived blocks, free memory inside the heap;\n" \
              "         --top N: N call sites a table (default 10); --no-symbols: raw\n" \
              "         addresses; --sort blocks: sites by blocks rather than bytes\n" \
              "replay   run the log's calls again on a fresh ptalloc with the options given\n" \
              "         (in a driver process, ptalloc-replay, one thread per recorded thread)\n" \
              "         and report time, peak RSS, heap size, system calls and how many calls\n" \
              "         took the recorded decision; --trace OUT keeps the replay's own log;\n" \
              "         --untraced times it without tracing (no system calls, no decisions);\n" \
              "         --touch: how much of each block is written (default page: one byte\n" \
              "         per page); --json for machines\n" \
              "\n" \
              "A log that cannot be read is a one-line error and exit status 2.\n"

static const char *prog_name = "ptalloc";

static void die(int status, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void die(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(status);
}

/* The option names, comma-separated, for error messages. */
static const char *option_names(void)
{
    static char buf[1024];
    size_t len = 0;
    const char *name;
    for (int i = 0; (name = ptalloc_option_name(i)) != NULL && len < sizeof buf; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? ", " : "", name);
    return buf;
}

/* The library to preload: $PTALLOC_LIB, else libptalloc.so beside this
 * command (the build tree) or in ../lib (an installation). */
static const char *find_library(void)
{
    const char *env = getenv("PTALLOC_LIB");
    if (env && *env) {
        if (access(env, R_OK) != 0)
            die(2, "PTALLOC_LIB=%s: %s", env, strerror(errno));
        return env;
    }
    static char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0)
        die(2, "cannot find this command's directory: %s", strerror(errno));
    path[n] = 0;
    *strrchr(path, '/') = 0;
    char dir[PATH_MAX];
    memcpy(dir, path, (size_t)n + 1);
    static const char *const places[] = { "libptalloc.so", "../lib/libptalloc.so" };
    for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
        int len = snprintf(path, sizeof path, "%s/%s", dir, places[i]);
        if (len > 0 && (size_t)len < sizeof path && access(path, R_OK) == 0)
            return path;
    }
    die(2, "libptalloc.so not found beside %s or in %s/../lib (set PTALLOC_LIB)", dir, dir);
}

/* NAME=VALUE checked and put in the environment as PTALLOC_<NAME> (also
 * for `replay`'s driver: cmds.h). */
void cmd_set_option(const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        die(2, "-o %s: expected NAME=VALUE", arg);
    char name[64];
    size_t len = (size_t)(eq - arg);
    if (len >= sizeof name)
        die(2, "-o %s: no such option (options: %s)", arg, option_names());
    memcpy(name, arg, len);
    name[len] = 0;
    long value;
    switch (ptalloc_parse_option(name, eq + 1, &value)) {
    case 0:
        die(2, "-o %s: no such option '%s' (options: %s)", arg, name, option_names());
    case -1:
        die(2, "-o %s: '%s' is not a valid value for %s (a number in its range: "
               "see 'ptalloc options')", arg, eq + 1, name);
    }
    char var[80] = "PTALLOC_";
    for (size_t i = 0; i < len; i++)
        var[8 + i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
    var[8 + len] = 0;
    if (setenv(var, eq + 1, 1) != 0)
        die(2, "cannot set %s: %s", var, strerror(errno));
}

static void preload_library(void);

static int cmd_run(int argc, char **argv)
{
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "-o") == 0) {
            if (++i == argc)
                die(2, "-o needs NAME=VALUE");
            cmd_set_option(argv[i]);
        } else if (strncmp(argv[i], "-o", 2) == 0) {
            cmd_set_option(argv[i] + 2);
        } else if (argv[i][0] == '-') {
            die(2, "run: unknown flag %s (see 'ptalloc --help')", argv[i]);
        } else {
            break;
        }
    }
    if (i == argc)
        die(2, "run: no program given (see 'ptalloc --help')");

    preload_library();
    execvp(argv[i], argv + i);
    die(127, "cannot run %s: %s", argv[i], strerror(errno));
}

/* The program about to be executed preloads ptalloc: ours first, then
 * whatever the caller preloads already. */
static void preload_library(void)
{
    const char *lib = find_library();
    const char *old = getenv("LD_PRELOAD");
    char *preload;
    if (asprintf(&preload, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "") < 0 ||
        setenv("LD_PRELOAD", preload, 1) != 0)
        die(2, "cannot set LD_PRELOAD: %s", strerror(errno));
}

/* Did the traced process end through exit?  The library then trims its
 * log after the last segment it used; otherwise the room it made ahead is
 * still there, and the last segment's header is zeros. */
static int exited_normally(const char *file, long long size)
{
    unsigned char hdr[32] = { 0 };
    FILE *f = fopen(file, "rb");
    if (!f)
        return 1;
    int ok = size < 2 * 65536 || fseek(f, (long)(size - 65536), SEEK_SET) != 0 ||
             fread(hdr, 1, sizeof hdr, f) != sizeof hdr;
    fclose(f);
    for (size_t k = 0; k < sizeof hdr && !ok; k++)
        ok = hdr[k] != 0;
    return ok;
}

/* Runs PROG with PTALLOC_TRACE set in its environment alone (this
 * command, on ptalloc itself, is not traced), waits for it and passes its
 * exit status on; a program killed by a signal gives 128 + the signal, as
 * a shell does. */
static int cmd_trace(int argc, char **argv)
{
    const char *file = NULL;
    long stack = 1;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "-o") == 0) {
            if (++i == argc)
                die(2, "trace: -o needs a file name");
            file = argv[i];
        } else if (strcmp(argv[i], "--stack") == 0) {
            if (++i == argc)
                die(2, "trace: --stack needs a number of frames");
            char *end;
            errno = 0;
            stack = strtol(argv[i], &end, 10);
            if (errno || *end || end == argv[i] || stack < 1 || stack > 64)
                die(2, "trace: --stack %s: expected a number of frames from 1 to 64", argv[i]);
        } else if (argv[i][0] == '-') {
            die(2, "trace: unknown flag %s (see 'ptalloc --help')", argv[i]);
        } else {
            break;
        }
    }
    if (i == argc)
        die(2, "trace: no program given (see 'ptalloc --help')");
    char defname[PATH_MAX];
    if (!file) {
        const char *base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
        snprintf(defname, sizeof defname, "ptalloc.%s.%d.trace", base, (int)getpid());
        file = defname;
    }
    /* The library opens the file; a directory that is not there, or not
     * writable, is said here, before the program runs. */
    FILE *probe = fopen(file, "w");
    if (!probe)
        die(2, "trace: cannot write %s: %s", file, strerror(errno));
    fclose(probe);

    preload_library();
    char depth[16];
    snprintf(depth, sizeof depth, "%ld", stack);
    if (setenv("PTALLOC_TRACE", file, 1) != 0 || setenv("PTALLOC_TRACE_STACK", depth, 1) != 0)
        die(2, "cannot set PTALLOC_TRACE: %s", strerror(errno));
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        die(2, "trace: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        die(2, "trace: cannot start %s: %s", argv[i], strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        execvp(argv[i], argv + i);
        int err = errno;
        if (write(fds[1], &err, sizeof err) < 0)
            _exit(127);
        _exit(127);
    }
    close(fds[1]);
    unsetenv("PTALLOC_TRACE");
    /* ^C and ^\ are the program's to act on; this command waits for it. */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    int err = 0;
    ssize_t got = read(fds[0], &err, sizeof err);
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die(2, "trace: %s", strerror(errno));
    if (got == (ssize_t)sizeof err) {
        unlink(file);
        die(127, "cannot run %s: %s", argv[i], strerror(err));
    }
    struct stat st;
    if (stat(file, &st) != 0 || st.st_size == 0) {
        fprintf(stderr, "%s: trace: %s wrote no log to %s (is it a static program, or setuid?)\n",
                prog_name, argv[i], file);
        return 2;
    }
    fprintf(stderr, "%s: trace: log in %s (%lld bytes); 'ptalloc report %s' tells what is in it\n",
            prog_name, file, (long long)st.st_size, file);
    if (WIFSIGNALED(status))
        fprintf(stderr, "%s: trace: %s was killed by signal %d; the log has what came before\n",
                prog_name, argv[i], WTERMSIG(status));
    else if (!exited_normally(file, st.st_size))
        fprintf(stderr, "%s: trace: %s did not end through exit: it called _exit, or executed "
                "another program (a wrapper script? then trace the program it runs: the executed "
                "one is not traced); the log has what came before\n", prog_name, argv[i]);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

static int cmd_options(void)
{
    const char *name;
    for (int i = 0; (name = ptalloc_option_name(i)) != NULL; i++) {
        long v;
        if (ptalloc_get_option(name, &v))
            printf("%-22s %ld\n", name, v);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die(2, "no command given (see 'ptalloc --help')");
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "options") == 0) {
        if (argc > 2)
            die(2, "options: takes no arguments (got '%s')", argv[2]);
        return cmd_options();
    }
    if (strcmp(cmd, "trace") == 0)
        return cmd_trace(argc - 1, argv + 1);
    if (strcmp(cmd, "show") == 0)
        return cmd_show(argc - 1, argv + 1);
    if (strcmp(cmd, "html") == 0)
        return cmd_html(argc - 1, argv + 1);
    if (strcmp(cmd, "heap") == 0)
        return cmd_heap(argc - 1, argv + 1);
    if (strcmp(cmd, "json") == 0)
        return cmd_json(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0)
        return cmd_report(argc - 1, argv + 1);
    if (strcmp(cmd, "replay") == 0)
        return cmd_replay(argc - 1, argv + 1);
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("ptalloc %s\n", PTALLOC_VERSION);
        return 0;
    }
    die(2, "unknown command '%s' (see 'ptalloc --help')", cmd);
}
