/*
 * Fork and exec under tracing (tests/cmd/trace.sh): the child gets a log
 * of its own, FILE.<pid>, which starts with a snapshot of the heap it
 * inherited and ends with a walk the child writes to argv[1]; the parent
 * then executes `sh -c 'env > argv[2]'`, which must run untraced.  Run
 * with libptalloc.so preloaded and PTALLOC_TRACE set.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ptalloc.h"
#include "walk_lines.h"

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int (*walk)(ptalloc_walk_fn, void *) = (int (*)(ptalloc_walk_fn, void *))dlsym(RTLD_DEFAULT, "ptalloc_walk");
    if (!walk)
        return 2;
    void *p[64];
    for (int i = 0; i < 64; i++)
        p[i] = malloc(16 + (size_t)i * 40);
    for (int i = 0; i < 64; i += 3)
        free(p[i]);
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 1; i < 64; i += 3)
            free(p[i]);
        for (int i = 0; i < 64; i += 3)
            p[i] = malloc(100 + (size_t)i);
        FILE *f = fopen(argv[1], "w");
        if (!f)
            _exit(3);
        walk_write(walk, f, 0);
        fclose(f);
        exit(0);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
        return 4;
    for (int i = 2; i < 64; i += 3)
        free(p[i]);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "env > '%s'", argv[2]);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    return 5;
}
