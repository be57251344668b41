/*
 * fork_stdio: fork while other threads read long lines and flush every
 * stream, as on glibc (its bug 19431 was this deadlock).
 *
 * Three locks meet here: glibc's lock on its list of streams, which
 * fflush(NULL) holds while it waits for each stream's own lock; a
 * stream's lock, which getline holds while it grows the line with
 * realloc; and the allocator's locks, which fork takes.  glibc's fork
 * takes the list lock before its malloc locks.  An allocator that takes
 * its own in a prepare handler, before fork takes the list lock, closes a
 * cycle: the forking thread holds the arenas and waits for the list, the
 * flushing thread holds the list and waits for a stream, the reading
 * thread holds that stream and waits for an arena.
 *
 * Two threads getline() a 60,000-byte line over and over from their own
 * streams (so realloc runs under the stream's lock, every time from a
 * small buffer), one thread fflush(NULL)s in a loop, and the main thread
 * forks.  Each child allocates, opens and closes a stream (the list lock
 * must be free in the child), writes to a pipe and exits.  A fork that
 * never returns fires the watchdog; every child must exit 0.
 */
#include "tt.h"

#include <stdatomic.h>
#include <sys/wait.h>

#define LINE 60000

static atomic_int stop;
static atomic_long lines_read;
static char path[64];

static void *reader(void *arg)
{
    (void)arg;
    FILE *f = fopen(path, "r");
    if (!f) {
        perror("fork_stdio: fopen");
        exit(2);
    }
    while (!stop) {
        rewind(f);
        char *line = NULL;
        size_t cap = 0;
        ssize_t n = getline(&line, &cap, f);
        if (n != LINE + 1 || line[0] != 'q' || line[LINE - 1] != 'q') {
            fprintf(stderr, "fork_stdio: getline gave %zd bytes\n", n);
            exit(2);
        }
        free(line);
        lines_read++;
    }
    fclose(f);
    return NULL;
}

static void *flusher(void *arg)
{
    (void)arg;
    while (!stop)
        fflush(NULL);
    return NULL;
}

int main(void)
{
    tt_watchdog("fork_stdio", 120);
    snprintf(path, sizeof path, "/tmp/ptalloc-fork-stdio.%d", (int)getpid());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return t_done();
    for (int i = 0; i < LINE; i++)
        fputc('q', f);
    fputc('\n', f);
    fclose(f);

    pthread_t th[3];
    CHECK(pthread_create(&th[0], NULL, reader, NULL) == 0);
    CHECK(pthread_create(&th[1], NULL, reader, NULL) == 0);
    CHECK(pthread_create(&th[2], NULL, flusher, NULL) == 0);
    while (lines_read < 2)
        usleep(100);

    long forks = tt_scaled(200, 100), bad = 0;
    for (long i = 0; i < forks; i++) {
        int fds[2];
        CHECK(pipe(fds) == 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            char *p = malloc(LINE);
            FILE *g = fopen("/dev/null", "w");
            int ok = p && g && fprintf(g, "%ld\n", i) > 0 && fclose(g) == 0;
            free(p);
            _exit(ok && write(fds[1], "k", 1) == 1 ? 0 : 1);
        }
        close(fds[1]);
        char c = 0;
        CHECK(pid > 0);
        if (pid > 0) {
            int status = tt_wait_child(pid, 30, "child");
            if (!tt_status_ok(status) || read(fds[0], &c, 1) != 1 || c != 'k') {
                tt_describe_status("child", status);
                bad++;
            }
        }
        close(fds[0]);
    }
    stop = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    unlink(path);
    CHECKF(bad == 0, "%ld of %ld children failed", bad, forks);
    CHECKF(lines_read > 2, "the readers read %ld lines", (long)lines_read);
    printf("fork_stdio: %ld forks, %ld long lines read meanwhile\n", forks, (long)lines_read);
    return t_done();
}
