/*
 * arena_limit: the number of arenas respects the configured limit.
 *
 * The program re-executes itself once per case with a controlled
 * environment (LD_PRELOAD and everything else kept; inherited arena settings
 * removed).  In each child 16 threads start together behind a barrier and
 * contend hard on the arenas (sizes past the tcache, blocks swapped between
 * threads) for a while; the arena count, sampled while all threads are alive
 * and after the join, must stay <= the limit:
 *   default                              8 x online CPUs, and > 1
 *   MALLOC_ARENA_MAX=2                   2
 *   MALLOC_ARENA_MAX=1                   exactly 1
 *   PTALLOC_ARENA_MAX=3                  3 (ptalloc; glibc ignores it)
 *   GLIBC_TUNABLES=glibc.malloc.arena_max=2             2
 *   MALLOC_ARENA_MAX=5 + GLIBC_TUNABLES=...arena_max=2  2 (tunable wins)
 *   mallopt(M_ARENA_MAX, 3) at start     3
 * Count: ptalloc_arena_count() on ptalloc, malloc_info's <heap nr=...>
 * elements elsewhere.
 */
#include "tt.h"

#include <stdatomic.h>
#include <sys/wait.h>

#define NTH    16
#define SLOTS  32
#define XS     64

struct tcase {
    const char *name;
    const char *env[3];      /* NAME=VALUE; GLIBC_TUNABLES items are merged */
    int mallopt_max;         /* > 0: mallopt(M_ARENA_MAX, value) in the child */
    int limit_pt;            /* limit on ptalloc; 0 = 8 x CPUs */
    int limit_glibc;         /* limit elsewhere;  0 = 8 x CPUs */
    int need_more_than_one;  /* count must be > 1 */
};

static const struct tcase cases[] = {
    { "default", { NULL }, 0, 0, 0, 1 },
    { "MALLOC_ARENA_MAX=2", { "MALLOC_ARENA_MAX=2" }, 0, 2, 2, 0 },
    { "MALLOC_ARENA_MAX=1", { "MALLOC_ARENA_MAX=1" }, 0, 1, 1, 0 },
    { "PTALLOC_ARENA_MAX=3", { "PTALLOC_ARENA_MAX=3" }, 0, 3, 0, 0 },
    { "GLIBC_TUNABLES arena_max=2", { "GLIBC_TUNABLES=glibc.malloc.arena_max=2" }, 0, 2, 2, 0 },
    { "MALLOC_ARENA_MAX=5 + GLIBC_TUNABLES arena_max=2",
      { "MALLOC_ARENA_MAX=5", "GLIBC_TUNABLES=glibc.malloc.arena_max=2" }, 0, 2, 2, 0 },
    { "mallopt(M_ARENA_MAX, 3)", { NULL }, 3, 3, 3, 0 },
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

/* ---------------------------------------------------------------- child */

static pthread_barrier_t start_bar, end_bar;
static long ops_per_thread;
static _Atomic(void *) xslot[XS];
static atomic_long bad;

struct blk { void *p; size_t size; };

static size_t contended_size(unsigned long long *rs)
{
    unsigned r = (unsigned)(t_rand(rs) % 100);
    unsigned long long v = t_rand(rs);
    if (r < 60) return 1040 + v % 3000;        /* past the tcache: arena lock */
    if (r < 85) return 4096 + v % 28672;
    return 16 + v % 1016;
}

static void *contender(void *arg)
{
    int me = (int)(intptr_t)arg;
    unsigned long long rs = 31337 + me;
    struct blk b[SLOTS];
    memset(b, 0, sizeof b);
    pthread_barrier_wait(&start_bar);
    for (long i = 0; i < ops_per_thread; i++) {
        int s = (int)(t_rand(&rs) % SLOTS);
        if (b[s].p) {
            uint64_t *w = b[s].p;
            if (w[0] != tt_key(w, b[s].size, 0)) atomic_fetch_add(&bad, 1);
            if ((i & 7) == 0) {
                /* swap with another thread's block: a remote free */
                void *o = atomic_exchange(&xslot[t_rand(&rs) % XS], b[s].p);
                if (o && ((uint64_t *)o)[0] != tt_key(o, ((uint64_t *)o)[1], 0))
                    atomic_fetch_add(&bad, 1);
                free(o);
            } else {
                free(b[s].p);
            }
        }
        size_t n = contended_size(&rs);
        uint64_t *w = malloc(n);
        if (!w) { atomic_fetch_add(&bad, 1); b[s].p = NULL; continue; }
        w[0] = tt_key(w, n, 0);
        w[1] = n;
        b[s].p = w;
        b[s].size = n;
    }
    pthread_barrier_wait(&end_bar);     /* main samples the count here */
    pthread_barrier_wait(&end_bar);
    for (int s = 0; s < SLOTS; s++)
        free(b[s].p);
    return NULL;
}

static int run_child(int ci)
{
    const struct tcase *c = &cases[ci];
    tt_watchdog("arena_limit child", 60);
    if (c->mallopt_max > 0)
        CHECK(mallopt(M_ARENA_MAX, c->mallopt_max) == 1);

    int on_pt = tt_pt_arena_count() != NULL;
    long limit = on_pt ? c->limit_pt : c->limit_glibc;
    if (limit == 0)
        limit = 8 * tt_nprocs();
    ops_per_thread = tt_scaled(60000, 5000);

    pthread_barrier_init(&start_bar, NULL, NTH);
    pthread_barrier_init(&end_bar, NULL, NTH + 1);
    pthread_t th[NTH];
    for (int i = 0; i < NTH; i++)
        if (pthread_create(&th[i], NULL, contender, (void *)(intptr_t)i) != 0) {
            CHECKF(0, "pthread_create");
            return t_done();
        }
    pthread_barrier_wait(&end_bar);
    const char *how = "";
    int during = tt_arena_count(&how);
    pthread_barrier_wait(&end_bar);
    for (int i = 0; i < NTH; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < XS; i++)
        free(atomic_load(&xslot[i]));
    int after = tt_arena_count(&how);
    int max = during > after ? during : after;

    CHECKF(atomic_load(&bad) == 0, "%ld corrupted blocks", (long)atomic_load(&bad));
    CHECKF(during >= 1 && after >= 1, "arena count unavailable (%d, %d)", during, after);
    CHECKF(max <= limit, "[%s] %d arenas (%s), limit %ld", c->name, max, how, limit);
    if (limit == 1)
        CHECKF(max == 1, "[%s] %d arenas, expected exactly 1", c->name, max);
    if (c->need_more_than_one)
        CHECKF(max > 1, "[%s] only %d arena(s) for %d contending threads", c->name, max, NTH);
    printf("arena_limit: [%s] %d arenas while running, %d after (%s), limit %ld\n",
           c->name, during, after, how, limit);
    t_heap_check(c->name);
    return t_done();
}

/* --------------------------------------------------------------- parent */

extern char **environ;

/* Drops "glibc.malloc.arena_max=..." items from a GLIBC_TUNABLES value. */
static void strip_arena_tunable(const char *val, char *out, size_t cap)
{
    out[0] = 0;
    const char *p = val;
    while (*p) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (!(n >= 23 && strncmp(p, "glibc.malloc.arena_max=", 23) == 0) && n > 0) {
            size_t l = strlen(out);
            if (l + n + 2 < cap) {
                if (l) out[l++] = ':';
                memcpy(out + l, p, n);
                out[l + n] = 0;
            }
        }
        p += n;
        if (*p == ':') p++;
    }
}

static int run_case(int ci, const char *self)
{
    const struct tcase *c = &cases[ci];
    static char tun[4096], tunvar[4200];
    char *envp[512];
    int n = 0;
    tun[0] = 0;
    for (char **e = environ; *e && n < 500; e++) {
        if (!strncmp(*e, "MALLOC_ARENA_MAX=", 17) || !strncmp(*e, "PTALLOC_ARENA_MAX=", 18))
            continue;
        if (!strncmp(*e, "GLIBC_TUNABLES=", 15)) {
            strip_arena_tunable(*e + 15, tun, sizeof tun);
            continue;
        }
        envp[n++] = *e;
    }
    for (int i = 0; i < 3 && c->env[i]; i++) {
        if (!strncmp(c->env[i], "GLIBC_TUNABLES=", 15)) {
            size_t l = strlen(tun);
            snprintf(tun + l, sizeof tun - l, "%s%s", l ? ":" : "", c->env[i] + 15);
        } else {
            envp[n++] = (char *)c->env[i];
        }
    }
    if (tun[0]) {
        snprintf(tunvar, sizeof tunvar, "GLIBC_TUNABLES=%s", tun);
        envp[n++] = tunvar;
    }
    envp[n] = NULL;

    char idx[16];
    snprintf(idx, sizeof idx, "%d", ci);
    char *argv[] = { (char *)self, "--child", idx, NULL };
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execve(self, argv, envp);
        perror("arena_limit: execve");
        _exit(127);
    }
    if (pid < 0) {
        perror("arena_limit: fork");
        return 0;
    }
    double end = tt_now() + 60;
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) return 0;
        if (tt_now() > end) {
            fprintf(stderr, "arena_limit: [%s] child hung: killed\n", c->name);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return 0;
        }
        usleep(2000);
    }
    if (WIFSIGNALED(status))
        fprintf(stderr, "arena_limit: [%s] child killed by signal %d\n", c->name, WTERMSIG(status));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0) {
        int ci = atoi(argv[2]);
        if (ci < 0 || ci >= NCASES) return 2;
        return run_child(ci);
    }
    tt_watchdog("arena_limit", 300);
    static char self[4096];
    ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
    if (l <= 0) {
        perror("readlink /proc/self/exe");
        return 1;
    }
    self[l] = 0;
    for (int ci = 0; ci < NCASES; ci++)
        CHECKF(run_case(ci, self), "case [%s] failed", cases[ci].name);
    return t_done();
}
