/*
 * The process tests/cmd/heap_pid.sh reads with `ptalloc heap --pid`: a
 * known heap, drawn by the program itself with ptalloc_print_heap, then
 * left as it is while the test reads it from outside.
 *
 *   heap_target DIR
 *
 * The heap: in the main arena chunks in use, tcache chunks, fastbin
 * chunks, a chunk in the mid-size cache, unsorted chunks (listed in
 * another order than their addresses), small and large bin chunks; a
 * mmapped chunk; a second thread in an arena of its own (arena 1) with
 * chunks in use, in its cache, in a fastbin, in the unsorted, a small and
 * a large bin.  The second thread gets its arena for sure: it makes its
 * first allocation while the main thread holds the main arena's lock,
 * inside a ptalloc_walk callback, and a thread that finds its arena taken
 * by another moves to a new one (src/arena.c).
 *
 * Then ptalloc_print_heap goes to DIR/own.txt, the pid to DIR/ready, and
 * the program reads commands from standard input, one a line:
 *   remote  the main thread frees ten of the second thread's blocks: seven
 *           fill its cache, three wait in its remote batch; their chunk
 *           addresses go to DIR/remote.txt, then DIR/ready2 is written
 *   corrupt the main arena's fastbin is made a cycle and a chunk's size
 *           runs past the segment (the walks must stop, not loop or
 *           crash); then DIR/ready3
 *   exit    (or the end of input) the second thread ends, blocks are
 *           allocated and freed, every block the program filled is
 *           checked; "ok" on standard output and exit status 0, or 1;
 *           after `corrupt`, "ok" and exit 0 at once
 * From the heap's drawing on, nothing here allocates until a command
 * comes (plain open, read and write; no stdio), so the heap the test reads
 * is the one drawn.  Runs with libptalloc.so preloaded, or linked with
 * libptalloc.a (exporting its symbols): ptalloc's functions are found with
 * dlsym either way.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ptalloc.h"

static const char *dir;
static void (*print_heap)(int);
static int (*walk)(ptalloc_walk_fn, void *);

/* Blocks kept to the end, each filled with a byte of its own. */
static struct { unsigned char *p; size_t n; } kept[256];
static int nkept;

static void *keep(size_t n)
{
    unsigned char *p = malloc(n);
    if (!p || nkept == 256)
        abort();
    memset(p, nkept + 1, n);
    kept[nkept].p = p;
    kept[nkept++].n = n;
    return p;
}

static int kept_intact(void)
{
    for (int i = 0; i < nkept; i++)
        for (size_t k = 0; k < kept[i].n; k++)
            if (kept[i].p[k] != (unsigned char)(i + 1))
                return 0;
    return 1;
}

static void write_file(const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        abort();
    close(fd);
}

/* ---- the second thread ------------------------------------------------------ */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int go, built, finish;
static void *handed[10];            /* its blocks, freed by the main thread */

static void wait_for(int *flag)
{
    pthread_mutex_lock(&mu);
    while (!*flag)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void raise_flag(int *flag)
{
    pthread_mutex_lock(&mu);
    *flag = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* n blocks of size bytes into v; apart: each followed by a block kept to
 * the end, so that none of them merges with another when freed. */
static void alloc_n(void **v, int n, size_t size, int apart)
{
    for (int i = 0; i < n; i++) {
        v[i] = malloc(size);
        if (apart)
            keep(24);
    }
}

static void free_n(void **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
}

/* Every block is allocated before the first free: a malloc after frees
 * could take a chunk out of a bin, or sort the unsorted bin, where the
 * picture should have them.  The one malloc among the frees is the one
 * meant to sort (a large request, made while no fastbin holds a chunk,
 * so that it consolidates nothing). */
static void *second(void *unused)
{
    void *t[3], *f[9], *y[8], *a, *c;
    wait_for(&go);
    alloc_n(handed, 10, 100, 0);
    alloc_n(t, 3, 60, 0);
    alloc_n(f, 9, 24, 0);
    alloc_n(y, 8, 300, 1);
    alloc_n(&a, 1, 5000, 1);
    alloc_n(&c, 1, 9000, 1);
    keep(700);
    free_n(t, 3);                           /* its tcache */
    free_n(y, 8);                           /* 7 to its tcache, 1 to the unsorted bin */
    free(a);
    keep(10000);                            /* sorts them: a small bin and a large bin */
    free(c);                                /* the unsorted bin */
    free_n(f, 9);                           /* 7 to its tcache, 2 to arena 1's fastbin */
    raise_flag(&built);
    wait_for(&finish);
    return NULL;
}

/* Holds the main arena's lock (a walk holds it while it calls back)
 * while the second thread makes its first allocation. */
static int hold_main_arena(const struct ptalloc_chunk_info *ci, void *unused)
{
    if (!go) {
        raise_flag(&go);
        wait_for(&built);
    }
    return 0;
}

/* ---- the main thread -------------------------------------------------------- */

static void *fast[10];              /* the fastbin's chunks: fast[9], [8], [7] */
static unsigned char *victim;       /* a block whose chunk size `corrupt` breaks */

/* Allocations first, then frees, as in the second thread. */
static void build_main_arena(void)
{
    void *t[3], *s[9], *l[3], *u, *m[2];
    keep(300000);                           /* mmapped */
    keep(1000);
    alloc_n(t, 3, 40, 0);
    alloc_n(fast, 10, 24, 0);
    alloc_n(s, 9, 200, 1);
    alloc_n(&l[0], 1, 5000, 1);
    alloc_n(&l[1], 1, 6000, 1);
    alloc_n(&l[2], 1, 5100, 1);
    u = malloc(8000);
    victim = keep(24);
    alloc_n(&m[0], 1, 2000, 1);             /* chunks of 2016 and 2032: one class */
    alloc_n(&m[1], 1, 2010, 1);
    free_n(t, 3);                           /* the tcache */
    free_n(s, 9);                           /* 7 to the tcache, 2 to the unsorted bin */
    free_n(l, 3);
    keep(7000);                             /* sorts them into small and large bins */
    free(u);                                /* the unsorted bin */
    free(m[0]);                             /* the mid-size cache */
    free(m[1]);                             /* its class is taken: the unsorted bin, before u */
    free_n(fast, 10);                       /* 7 to the tcache, 3 to the fastbin */
}

/* Past this, the heap is no heap: the program must not allocate or free. */
static void corrupt(void)
{
    uintptr_t *link = fast[8];              /* fast[8] -> fast[9]: a cycle */
    *link = ((uintptr_t)link >> 12) ^ ((uintptr_t)fast[9] - 16);
    uintptr_t *size = (uintptr_t *)(victim - 8);
    *size = (1ul << 40) | (*size & 7);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: heap_target DIR\n");
        return 2;
    }
    dir = argv[1];
    print_heap = (void (*)(int))dlsym(RTLD_DEFAULT, "ptalloc_print_heap");
    walk = (int (*)(ptalloc_walk_fn, void *))dlsym(RTLD_DEFAULT, "ptalloc_walk");
    if (!print_heap || !walk) {
        fprintf(stderr, "heap_target: not running on ptalloc\n");
        return 2;
    }
    char path[4096], text[64];
    snprintf(path, sizeof path, "%s/own.txt", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(path);
        return 2;
    }
    pthread_t th;
    if (pthread_create(&th, NULL, second, NULL) != 0)
        return 2;
    walk(hold_main_arena, NULL);
    build_main_arena();
    print_heap(fd);
    close(fd);
    snprintf(text, sizeof text, "%d\n", (int)getpid());
    write_file("ready", text);

    char cmd[64];
    size_t len = 0;
    int corrupted = 0;
    for (;;) {
        ssize_t n = read(0, cmd + len, 1);
        if (n <= 0 || cmd[len] == '\n' || len == sizeof cmd - 2) {
            cmd[len] = 0;
            if (strcmp(cmd, "remote") == 0) {
                char list[256] = "";
                for (int i = 0; i < 10; i++)
                    free(handed[i]);
                for (int i = 7; i < 10; i++)
                    snprintf(list + strlen(list), sizeof list - strlen(list), "%#llx\n",
                             (unsigned long long)(uintptr_t)handed[i] - 16);
                write_file("remote.txt", list);
                write_file("ready2", "\n");
            } else if (strcmp(cmd, "corrupt") == 0) {
                corrupt();
                corrupted = 1;
                write_file("ready3", "\n");
            } else if (n <= 0 || strcmp(cmd, "exit") == 0) {
                break;
            }
            len = 0;
            continue;
        }
        len++;
    }
    if (corrupted) {
        write(1, "ok\n", 3);
        _exit(0);
    }
    raise_flag(&finish);
    pthread_join(th, NULL);
    void *p[100];
    for (int i = 0; i < 100; i++)
        p[i] = malloc((size_t)(i * 97 % 5000) + 1);
    for (int i = 0; i < 100; i++)
        free(p[i]);
    if (!kept_intact()) {
        printf("kept blocks changed\n");
        return 1;
    }
    for (int i = 0; i < nkept; i++)
        free(kept[i].p);
    printf("ok\n");
    return 0;
}
