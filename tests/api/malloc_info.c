/*
 * malloc_info (spirit of glibc's tst-malloc_info).
 *
 *  - malloc_info(0, fp) returns 0 and writes XML: starts with
 *    <malloc version="1">, one <heap nr="N"> ... </heap> per arena numbered
 *    0, 1, ... (as many as the allocator has arenas; threads are used to get
 *    a second one, shown as nr="1"), <sizes>, system current/max figures, a
 *    <total type="mmap" count=...> that counts live mmapped blocks, and ends
 *    with </malloc>;
 *  - options != 0 fails with EINVAL.  glibc (2.36 and later) returns the
 *    value EINVAL without touching errno, while the manual documents -1
 *    with errno EINVAL: either is accepted;
 *  - it works with a stream that itself allocates (open_memstream), which
 *    would deadlock if malloc_info held an arena lock while writing.
 */
#include "t.h"
#include "arena_workers.h"
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

static char *capture_tmpfile(void)
{
    static char iobuf[1 << 16];
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (!f) return NULL;
    setvbuf(f, iobuf, _IOFBF, sizeof iobuf);    /* stdio allocates nothing */
    int r = malloc_info(0, f);
    CHECKF(r == 0, "malloc_info(0, fp) returned %d", r);
    fflush(f);
    long len = ftell(f);
    char *s = NULL;
    if (len > 0 && (s = malloc((size_t)len + 1)) != NULL) {
        rewind(f);
        size_t got = fread(s, 1, (size_t)len, f);
        s[got] = 0;
    }
    fclose(f);
    return s;
}

static char *capture_memstream(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    if (!f) return NULL;
    int r = malloc_info(0, f);
    CHECKF(r == 0, "malloc_info(0, memstream) returned %d", r);
    fclose(f);
    return buf;
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++) n++;
    return n;
}

/* The count="N" of <total type="mmap" ...>, or -1. */
static long mmap_count(const char *s)
{
    const char *p = strstr(s, "<total type=\"mmap\"");
    if (!p) return -1;
    p = strstr(p, "count=\"");
    if (!p) return -1;
    return strtol(p + 7, NULL, 10);
}

static void check_xml(const char *s, int min_heaps, const char *where)
{
    CHECKF(s != NULL, "%s: no output", where);
    if (!s) return;
    CHECKF(strncmp(s, "<malloc version=\"1\">", 20) == 0, "%s: output starts with %.40s", where, s);
    size_t L = strlen(s);
    while (L && (s[L - 1] == '\n' || s[L - 1] == ' ')) L--;
    CHECKF(L >= 9 && strncmp(s + L - 9, "</malloc>", 9) == 0, "%s: output does not end with </malloc>", where);
    int heaps = count(s, "<heap nr=\"");
    CHECKF(heaps >= min_heaps, "%s: %d <heap> elements, want >= %d", where, heaps, min_heaps);
    CHECKF(count(s, "</heap>") == heaps, "%s: %d <heap> but %d </heap>", where, heaps, count(s, "</heap>"));
    for (int i = 0; i < heaps; i++) {
        char tag[32];
        snprintf(tag, sizeof tag, "<heap nr=\"%d\">", i);
        CHECKF(strstr(s, tag) != NULL, "%s: missing %s", where, tag);
    }
    CHECKF(strstr(s, "<sizes>") != NULL, "%s: no <sizes>", where);
    CHECKF(strstr(s, "<system type=\"current\" size=\"") != NULL, "%s: no system current", where);
    CHECKF(strstr(s, "<system type=\"max\" size=\"") != NULL, "%s: no system max", where);
    CHECKF(count(s, "<") == count(s, ">"), "%s: unbalanced angle brackets", where);
}

int main(void)
{
    alarm(30);          /* a deadlock fails the test instead of hanging it */

    /* ---- options != 0 ------------------------------------------------- */
    {
        FILE *f = tmpfile();
        CHECK(f != NULL);
        for (int opt = 1; f && opt <= 4; opt++) {
            errno = 0;
            int r = malloc_info(opt, f);
            int e = errno;
            CHECKF(r == EINVAL || (r == -1 && e == EINVAL), "malloc_info(%d, fp) returned %d, errno %d", opt, r, e);
        }
        if (f) {
            CHECKF(ftell(f) == 0, "malloc_info(1, fp) wrote %ld bytes", ftell(f));
            fclose(f);
        }
    }

    /* ---- basic shape ---------------------------------------------------- */
    free(malloc(1));
    char *s = capture_tmpfile();
    check_xml(s, 1, "single thread");
    CHECKF(s && strstr(s, "<heap nr=\"0\">") != NULL, "no heap 0");
    long base_mm = s ? mmap_count(s) : -1;
    CHECKF(base_mm >= 0, "no <total type=\"mmap\" count=...>");
    free(s);

    /* ---- mmapped blocks are counted ---------------------------------- */
    {
        CHECK(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1);
        size_t big = mallinfo2().fordblks + (1u << 20);
        void *a = malloc(big), *b = malloc(big);
        CHECK(a && b);
        s = capture_tmpfile();
        check_xml(s, 1, "mmapped");
        long mm = s ? mmap_count(s) : -1;
        CHECKF(mm == base_mm + 2, "<total type=\"mmap\"> count %ld, want %ld", mm, base_mm + 2);
        free(s);
        free(a);
        free(b);
    }

    /* ---- allocating stream --------------------------------------------- */
    s = capture_memstream();
    check_xml(s, 1, "open_memstream");
    free(s);

    /* ---- several arenas ------------------------------------------------ */
    {
        pthread_t t[W];
        int expected;
        workers_start(t, &expected);
        s = capture_tmpfile();
        int heaps = s ? count(s, "<heap nr=\"") : 0;
        if (expected >= 0) {
            check_xml(s, expected, "threads");
            CHECKF(heaps == expected, "malloc_info lists %d heaps, the allocator has %d arenas", heaps, expected);
            if (expected < 2)
                printf("SKIP malloc_info with two arenas: no second arena was created\n");
        } else {
            check_xml(s, 2, "threads");     /* glibc: one arena per thread */
        }
        if (heaps >= 2)
            CHECKF(strstr(s, "<heap nr=\"1\">") != NULL, "no heap nr=\"1\"");
        free(s);
        s = capture_memstream();
        check_xml(s, heaps, "threads, memstream");
        free(s);
        workers_stop(t);
    }
    t_heap_check("end");
    return t_done();
}
