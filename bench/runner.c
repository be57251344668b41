/* runner: runs one command and measures it.
 *   runner OUT ERR TIMEOUT_S PRELOAD prog [args...]
 * PRELOAD is a library path or "-" for none; it is set as LD_PRELOAD in the
 * child only.  The child's stdout/stderr go to OUT/ERR.  Prints one line:
 *   status=<exit code | sigN | timeout> wall=<s> user=<s> sys=<s> maxrss_kb=<kB>
 * The runner is small, so the pre-exec RSS that Linux folds into the
 * child's ru_maxrss is negligible (~1 MiB). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void on_alarm(int sig) { (void)sig; }

int main(int argc, char **argv)
{
    struct timespec t0, t1;
    struct rusage ru;
    struct sigaction sa;
    int status = 0, timed_out = 0;
    pid_t pid;

    if (argc < 6) {
        fprintf(stderr, "usage: runner OUT ERR TIMEOUT_S PRELOAD|- prog [args...]\n");
        return 2;
    }
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
        execvp(argv[5], argv + 5);
        fprintf(stderr, "exec %s: %s\n", argv[5], strerror(errno));
        _exit(127);
    }
    alarm((unsigned)atoi(argv[3]));
    while (wait4(pid, &status, 0, &ru) < 0) {
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
    printf("status=%s wall=%.6f user=%.6f sys=%.6f maxrss_kb=%ld\n", st, wall,
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6,
           ru.ru_maxrss);
    return 0;
}
