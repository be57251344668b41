/*
 * M_CHECK_ACTION / MALLOC_CHECK_: glibc (2.34 on) keeps the checking
 * allocator in libc_malloc_debug.so, so plain malloc accepts the knob and
 * ignores it: mallopt(M_CHECK_ACTION, v) returns 1, and a program started
 * with MALLOC_CHECK_ or glibc.malloc.check set runs as usual.
 */
#include "t.h"
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

static void *hide(void *p) { __asm__ volatile("" : "+r"(p)); return p; }

static void workload(void)
{
    void *p[200];
    for (int i = 0; i < 200; i++) {
        p[i] = hide(malloc((size_t)i * 37 + 1));
        CHECK(p[i] != NULL);
        if (p[i])
            memset(p[i], i, (size_t)i * 37 + 1);
    }
    for (int i = 0; i < 200; i += 2)
        free(p[i]);
    for (int i = 1; i < 200; i += 2) {
        p[i] = realloc(p[i], (size_t)i * 50 + 1);
        CHECK(p[i] != NULL);
        free(p[i]);
    }
    free(calloc(10, 1000));
    t_heap_check("workload");
}

static void rerun(const char *name, const char *value)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        setenv(name, value, 1);
        execl("/proc/self/exe", "check_action", "--child", (char *)NULL);
        perror("exec");
        _exit(2);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s=%s: child %s %d", name, value,
           WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--child") == 0) {
        workload();
        return t_done();
    }
    static const int values[] = {0, 1, 2, 3, 5, 7};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        CHECKF(mallopt(M_CHECK_ACTION, values[i]) == 1, "mallopt(M_CHECK_ACTION, %d)", values[i]);
        workload();
    }
    rerun("MALLOC_CHECK_", "3");
    rerun("GLIBC_TUNABLES", "glibc.malloc.check=3");
    return t_done();
}
