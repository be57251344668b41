/*
 * The mid-size cache.  Freed chunks of 1056..4127 bytes wait in the
 * thread's cache, one per 64-byte class of chunk size; requests up to
 * 4104 bytes take from it.
 *
 *  - on by default; with tcache_mid = 0, or tcache_max below 1032, a freed
 *    2040-byte block goes to the unsorted bin;
 *  - tcache_max = 4104 (the same as the default): it stays in the tcache
 *    (ptalloc_locate says PTALLOC_TCACHE, bin 64 + its class; ptalloc_bin
 *    lists it), and the next request of its class gets it back, even one
 *    a little smaller;
 *  - one per class: a second chunk of the class goes to the bins;
 *  - a request never gets a cached chunk smaller than its own: a chunk
 *    is filed under the class its size starts, a request takes its own
 *    class's chunk only if it is large enough;
 *  - tcache_max = 2000: no class past what a 2000-byte request takes is
 *    filled;
 *  - ptalloc_thread_flush empties it, a thread's cache is emptied when the
 *    thread exits, and the heap check passes throughout;
 *  - freeing a cached chunk again aborts (glibc's tcache message).
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include "mech.h"

static int class_of_chunk(size_t size) { return 64 + (int)((size - 1056) / 64); }

/* Given back to its arena: in a bin, or merged into the top. */
static int returned(const void *mem)
{
    int w = m_where(mem);
    return w != PTALLOC_INUSE && w != PTALLOC_TCACHE && w != -1;
}

static void *freed_in_thread;
static void *thread_frees(void *arg)
{
    (void)arg;
    void *p = malloc(3000), *guard = malloc(64);
    free(p);
    freed_in_thread = p;
    (void)guard;                /* left allocated */
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    void *guard[8];

    /* On by default; off with tcache_mid 0 or a tcache_max below 1032. */
    CHECK(m_get("tcache_max") == 1032 && m_get("tcache_mid") == 1);
    char *a = malloc(2040);
    guard[0] = malloc(64);
    free(a);
    CHECKF(m_where(a) == PTALLOC_TCACHE, "default: freed 2040-byte block is %s", m_where_name(m_where(a)));
    CHECK(malloc(2040) == a);
    CHECK(m_set("tcache_mid", 0) == 1);
    free(a);
    CHECKF(m_where(a) == PTALLOC_UNSORTED, "tcache_mid 0: freed 2040-byte block is %s", m_where_name(m_where(a)));
    a = malloc(2040);           /* back out of the bins (a 2048-byte chunk) */
    CHECK(m_set("tcache_mid", 1) == 1);
    CHECK(m_set("tcache_max", 1000) == 1);
    free(a);
    CHECKF(m_where(a) == PTALLOC_UNSORTED, "tcache_max 1000: freed 2040-byte block is %s", m_where_name(m_where(a)));
    a = malloc(2040);

    CHECK(m_set("tcache_max", 4104) == 1);
    CHECK(m_get("tcache_max") == 4104);
    size_t sa = m_size(a);
    char *b = malloc(2040);
    guard[1] = malloc(64);
    free(a);
    struct ptalloc_chunk_info ci = m_info(a);
    CHECKF(ci.where == PTALLOC_TCACHE && ci.bin == class_of_chunk(sa),
           "tcache_max 4104: freed %zu-byte chunk is %s[%d], want tcache[%d]", sa,
           m_where_name(ci.where), ci.bin, class_of_chunk(sa));
    CHECK(m_in_bin(PTALLOC_TCACHE, class_of_chunk(sa), a));
    t_heap_check("one cached");

    /* A second chunk of the same class goes to the bins. */
    CHECK(b != a && m_size(b) == sa);
    free(b);
    CHECKF(m_where(b) == PTALLOC_UNSORTED, "second chunk of the class is %s", m_where_name(m_where(b)));

    /* The class's chunk comes back for any request of the class, also a
     * smaller one: the class of 2048 starts at 2016. */
    size_t lo = 1056 + (size_t)(class_of_chunk(sa) - 64) * 64;   /* the class's smallest chunk */
    CHECK(lo < sa);
    char *r = malloc(lo - 8);           /* its chunk: lo bytes */
    CHECKF(r == a, "request of %zu bytes: got %p, the cached chunk is %p", lo - 8, (void *)r, (void *)a);
    CHECK(malloc_usable_size(r) >= lo - 8);
    memset(r, 0x11, malloc_usable_size(r));
    t_heap_check("reused");

    /* Never smaller than asked: cache a chunk at its class's lower bound,
     * then ask for one 16 bytes larger (the next class). */
    char *c = malloc(lo - 8);           /* chunk size exactly lo */
    guard[2] = malloc(64);
    CHECK(m_size(c) == lo);
    free(c);
    CHECK(m_where(c) == PTALLOC_TCACHE);
    char *d = malloc(lo - 8 + 16);      /* needs lo + 16: not in c's class */
    CHECKF(d != c, "a request of %zu bytes got the cached %zu-byte chunk", lo + 8, lo);
    CHECK(m_size(d) >= lo + 16);
    free(d);
    free(r);

    /* The largest requests, with their class and the ones around it
     * empty (their chunks' class is the last one): a page-sized buffer
     * comes back from the cache; a smaller chunk of the last class is no
     * use to a larger request of it. */
    ptalloc_thread_flush();
    char *big = malloc(4096);
    CHECK(big != NULL && m_size(big) == 4112 && m_where(big) == PTALLOC_INUSE);
    free(big);
    CHECK(m_where(big) == PTALLOC_TCACHE);
    CHECK(malloc(4096) == big);
    free(big);
    ptalloc_thread_flush();
    char *last = malloc(4056);          /* a 4064-byte chunk: the last class */
    guard[4] = malloc(64);
    CHECK(m_size(last) == 4064);
    free(last);
    CHECK(m_where(last) == PTALLOC_TCACHE);
    big = malloc(4096);
    CHECKF(big != last, "a 4096-byte request got the cached 4064-byte chunk");
    CHECK(m_size(big) >= 4112);
    CHECK(malloc(4056) == last);
    free(last);
    free(big);
    c = malloc(lo - 8);
    free(c);

    /* Flushing empties it. */
    CHECK(m_where(c) == PTALLOC_TCACHE);
    ptalloc_thread_flush();
    CHECKF(returned(c), "after the flush the chunk is %s",
           m_where_name(m_where(c)));
    t_heap_check("flushed");

    /* tcache_max = 2000: only classes a 2000-byte request reaches. */
    CHECK(m_set("tcache_max", 2000) == 1);
    char *e = malloc(1900), *f = malloc(3500);
    guard[3] = malloc(64);
    free(e);
    free(f);
    CHECKF(m_where(e) == PTALLOC_TCACHE, "tcache_max 2000: 1900-byte block is %s", m_where_name(m_where(e)));
    CHECKF(m_where(f) != PTALLOC_TCACHE, "tcache_max 2000: 3500-byte block is in the tcache");
    CHECK(m_set("tcache_max", 4104) == 1);

    /* A thread's cache goes back when it exits. */
    pthread_t th;
    CHECK(pthread_create(&th, NULL, thread_frees, NULL) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECKF(returned(freed_in_thread), "a 3000-byte block freed by an exited thread is %s", m_where_name(m_where(freed_in_thread)));
    t_heap_check("thread exit");

    /* A double free of a cached chunk aborts. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        char *g = malloc(2500);
        (void)malloc(64);
        free(g);
        free(g);
        _exit(0);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECKF(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "double free of a cached 2500-byte block: status %#x", st);

    for (int i = 0; i < 4; i++)
        free(guard[i]);
    t_heap_check("end");
    return t_done();
}
