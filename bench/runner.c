/* runner: runs one command and measures it.
 *   runner [-p[K]] OUT ERR TIMEOUT_S PRELOAD prog [args...]
 * PRELOAD is a library path or "-" for none; it is set as LD_PRELOAD in the
 * child only.  The child's stdout/stderr go to OUT/ERR.  Prints one line:
 *   status=<exit code | sigN | timeout> wall=<s> user=<s> sys=<s> maxrss_kb=<kB>
 * The runner is small, so the pre-exec RSS that Linux folds into the
 * child's ru_maxrss is negligible (~1 MiB).
 *
 * ru_maxrss is approximate: the kernel keeps the resident counts per CPU
 * and folds them in batches, so the high-water mark can miss up to ~128 KiB
 * a CPU, by different amounts from run to run and allocator to allocator.
 * With -p the runner also measures the exact peak, and adds
 *   peak_kb=<kB> peak_anon_kb=<kB> stops=<n>
 * (peak_anon_kb: the peak of the anonymous part alone - heap, mappings,
 * stacks, without the files' pages - which may come at another moment)
 * A process's resident set only shrinks in a few system calls (brk, munmap,
 * madvise, mremap, mmap over a mapping) and at exit; it grows in between.
 * So its peak is the largest of its resident sets at the entry of each of
 * those calls and at exit.  The child stops there (a seccomp filter hands
 * just those calls to the runner, which ptraces it and all its threads),
 * and the runner reads /proc/PID/smaps_rollup, which counts the pages
 * mapped, exactly.  The stops slow the child: -p runs are for memory only,
 * not for time.
 *
 * -pK (K = 0..15) also fixes the address layout, in one of 16 phases.  A
 * file page fault maps the file's cached pages around it too, in 64 KiB
 * windows aligned on the virtual address, so which of libc's pages are
 * resident depends on where address randomisation put it: the same program
 * varies by +-100 KiB from run to run.  With randomisation off and the
 * stack limit at 127 MiB + K pages at exec, the shared libraries sit K
 * pages below their place for K = 0 (the kernel puts the mmap base that far
 * below the stack).  The mean over K = 0..15 is the expected peak over the
 * random layouts, measured without their lottery.  The limit is set back
 * once the child has exec'd, before its own code runs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void on_alarm(int sig) { (void)sig; }

/* ---- exact peak (-p) --------------------------------------------------- */

/* Hands the calls that can shrink the resident set to the tracer: brk,
 * munmap, madvise, mremap, and mmap with MAP_FIXED (it may replace pages). */
#if defined(__x86_64__)
#define THIS_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define THIS_ARCH AUDIT_ARCH_AARCH64
#endif

static int trace_shrinking_calls(void)
{
#ifndef THIS_ARCH
    errno = ENOSYS;
    return -1;
#else
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, THIS_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_brk, 5, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_munmap, 4, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_madvise, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mremap, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mmap, 2, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
        /* mmap: flags are the 4th argument (low word) */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[3])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MAP_FIXED, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
#endif
}

struct peak { long rss, anon, stops; };

static long rollup_field(const char *buf, const char *name)
{
    const char *p = strstr(buf, name);
    return p ? atol(p + strlen(name)) : -1;
}

/* The kernel's own count (statm) is cheap, and off by less than its
 * per-CPU batches: three counters (file, anonymous, shared memory), each
 * folded every max(32, 2 * CPUs) pages per CPU. */
static long statm_slack_kb(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_CONF), batch = cpus * 2 > 32 ? cpus * 2 : 32;
    return 3 * cpus * batch * (sysconf(_SC_PAGESIZE) / 1024);
}

/* statm's resident set and its anonymous part (resident - shared), KiB. */
static int statm_kb(pid_t pid, long *rss, long *anon)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    long size, resident, shared, kb = sysconf(_SC_PAGESIZE) / 1024;
    if (sscanf(buf, "%ld %ld %ld", &size, &resident, &shared) != 3)
        return -1;
    *rss = resident * kb;
    *anon = (resident - shared) * kb;
    return 0;
}

static void sample(pid_t pid, struct peak *pk)
{
    char path[64], buf[4096];
    pk->stops++;
    /* smaps_rollup walks the page tables: only when the peak may be near */
    static long slack = -1;
    if (slack < 0)
        slack = statm_slack_kb();
    long approx, approx_anon;
    if (statm_kb(pid, &approx, &approx_anon) == 0 && approx + slack < pk->rss &&
        approx_anon + slack < pk->anon)
        return;
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = 0;
    long rss = rollup_field(buf, "\nRss:"), anon = rollup_field(buf, "\nAnonymous:");
    if (rss > pk->rss)
        pk->rss = rss;
    if (anon > pk->anon)
        pk->anon = anon;
}

/* -pK: the stack limit the child gets back after exec (rlim_cur 0: none). */
static struct rlimit stack_limit_kept;

/* In the child, before exec: the address layout of phase k (see the top). */
static int fix_layout(int k)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_STACK, &r) != 0)
        return -1;
    r.rlim_cur = (rlim_t)127 << 20;
    r.rlim_cur += (rlim_t)k * (rlim_t)sysconf(_SC_PAGESIZE);
    if (r.rlim_max != RLIM_INFINITY && r.rlim_max < r.rlim_cur)
        r.rlim_max = r.rlim_cur;            /* raising it needs privilege: may fail */
    if (setrlimit(RLIMIT_STACK, &r) != 0)
        return -1;
    return personality(ADDR_NO_RANDOMIZE) == -1 ? -1 : 0;
}

/* Runs the traced child pid (stopped by its SIGSTOP before exec) to its
 * end; returns its wait status and fills ru and pk.  -1 on a timeout. */
static int trace(pid_t pid, struct rusage *ru, struct peak *pk)
{
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status))
        return status;
    ptrace(PTRACE_SETOPTIONS, pid, 0,
           PTRACE_O_TRACESECCOMP | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXIT |
           PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL |
           /* children inherit the filter, and without a tracer its calls would fail */
           PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK);
    ptrace(PTRACE_CONT, pid, 0, 0);
    int exec_seen = 0;
    for (;;) {
        struct rusage r;
        pid_t t = wait4(-1, &status, __WALL, &r);
        if (t < 0) {
            if (errno == EINTR) {              /* the alarm: time is up */
                kill(pid, SIGKILL);
                while (wait4(pid, &status, __WALL, ru) < 0 && errno == EINTR)
                    ;
                return -1;
            }
            return status;
        }
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (t == pid) {
                *ru = r;
                return status;
            }
            continue;
        }
        int sig = WSTOPSIG(status), event = (unsigned)status >> 16, deliver = 0;
        if (event == PTRACE_EVENT_EXEC) {
            if (!exec_seen && stack_limit_kept.rlim_cur)
                prlimit(pid, RLIMIT_STACK, &stack_limit_kept, NULL);
            exec_seen = 1;
        } else if ((event == PTRACE_EVENT_SECCOMP || event == PTRACE_EVENT_EXIT) && exec_seen)
            sample(pid, pk);
        else if (event == 0 && sig != SIGSTOP && sig != SIGTRAP)
            deliver = sig;                      /* the child's own signal */
        ptrace(PTRACE_CONT, t, 0, deliver);
    }
}

int main(int argc, char **argv)
{
    struct timespec t0, t1;
    struct rusage ru;
    struct sigaction sa;
    int status = 0, timed_out = 0;
    pid_t pid;

    int exact = argc > 1 && strncmp(argv[1], "-p", 2) == 0, phase = -1;
    struct peak pk = { 0, 0, 0 };
    if (exact) {
        if (argv[1][2]) {
            char *end;
            phase = (int)strtol(argv[1] + 2, &end, 10);
            if (*end || phase < 0 || phase > 15)
                argc = 0;                       /* usage */
        }
        argv++;
        argc--;
    }
    if (argc < 6) {
        fprintf(stderr, "usage: runner [-p[K]] OUT ERR TIMEOUT_S PRELOAD|- prog [args...]   (K: 0..15)\n");
        return 2;
    }
    if (phase >= 0)      /* to give back to the child after its exec */
        getrlimit(RLIMIT_STACK, &stack_limit_kept);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;              /* no SA_RESTART: wait4 gets EINTR */
    sigaction(SIGALRM, &sa, NULL);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        int o = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0)
            _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        close(o);
        close(e);
        if (strcmp(argv[4], "-") != 0)
            setenv("LD_PRELOAD", argv[4], 1);
        else
            unsetenv("LD_PRELOAD");
        if (exact) {
            if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0 || trace_shrinking_calls() != 0) {
                fprintf(stderr, "runner -p: ptrace/seccomp: %s\n", strerror(errno));
                _exit(125);
            }
            if (phase >= 0 && fix_layout(phase) != 0) {
                fprintf(stderr, "runner -p%d: address layout: %s\n", phase, strerror(errno));
                _exit(125);
            }
            raise(SIGSTOP);
        }
        execvp(argv[5], argv + 5);
        fprintf(stderr, "exec %s: %s\n", argv[5], strerror(errno));
        _exit(127);
    }
    alarm((unsigned)atoi(argv[3]));
    if (exact) {
        status = trace(pid, &ru, &pk);
        if (status == -1)
            timed_out = 1;
    }
    while (!exact && wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("wait4");
            return 2;
        }
        timed_out = 1;
        kill(pid, SIGKILL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    alarm(0);

    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    char st[32];
    if (timed_out)
        snprintf(st, sizeof st, "timeout");
    else if (WIFSIGNALED(status))
        snprintf(st, sizeof st, "sig%d", WTERMSIG(status));
    else
        snprintf(st, sizeof st, "%d", WEXITSTATUS(status));
    printf("status=%s wall=%.6f user=%.6f sys=%.6f maxrss_kb=%ld", st, wall,
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6,
           ru.ru_maxrss);
    if (exact)
        printf(" peak_kb=%ld peak_anon_kb=%ld stops=%ld", pk.rss, pk.anon, pk.stops);
    printf("\n");
    return 0;
}
