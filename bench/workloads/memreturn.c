/* memreturn: memory given back.  Allocates 400k small blocks (16..512 B),
 * frees 98% of them, keeping every 50th, so the survivors are spread
 * through the whole heap, then runs a second of light activity (32 blocks
 * of 16..4096 B allocated and freed every millisecond), as a program that
 * has dropped its data and carries on idling.  Prints
 *   final_rss_kb=    VmRSS after that second (what the allocator kept)
 *   trimmed_rss_kb=  VmRSS after malloc_trim(0) (glibc's way to give back
 *                    free pages between live blocks; under a preloaded
 *                    allocator it is whatever that allocator makes of it)
 *   live_kb=         bytes of the survivors (requested sizes)
 * The activity runs for 1 s of wall time whatever the scale, so the
 * number of its rounds depends on the machine: it stays out of the
 * checksum, and its sizes come from an rng of their own. */
#include "common.h"

#include <malloc.h>
#include <time.h>

#define KEEP_EVERY 50

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The blocks to be freed are chained through their bytes 1..8 (every
 * block has at least 16; byte 0 and the last are data), so that no array
 * of 400k pointers stays resident beside the survivors: the RSS measured
 * is the heap's. */
static unsigned char *next_of(unsigned char *p)
{
    unsigned char *q;
    memcpy(&q, p + 1, sizeof q);
    return q;
}

static void set_next(unsigned char *p, unsigned char *q)
{
    memcpy(p + 1, &q, sizeof q);
}

static void light_activity(double seconds)
{
    const struct timespec ms = { 0, 1000000 };
    unsigned char *p[32];
    uint64_t rng = 29;
    double end = now() + seconds;

    while (now() < end) {
        for (int i = 0; i < 32; i++) {
            p[i] = xmalloc(rng_range(&rng, 16, 4096));
            p[i][0] = (unsigned char)i;
        }
        for (int i = 0; i < 32; i++)
            free(p[i]);
        nanosleep(&ms, NULL);
    }
}

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    long n = scaled(400000, scale);
    long nkeep = (n + KEEP_EVERY - 1) / KEEP_EVERY;
    unsigned char **keep = xmalloc((size_t)nkeep * sizeof *keep);
    unsigned char *head = NULL, *tail = NULL;
    size_t live = 0;
    uint64_t rng = 17, sum = 0;

    for (long i = 0; i < n; i++) {
        size_t s = rng_range(&rng, 16, 512);
        unsigned char *p = xmalloc(s);
        p[0] = (unsigned char)(i * 7 + 1);
        p[s - 1] = 1;
        if (i % KEEP_EVERY == 0) {
            keep[i / KEEP_EVERY] = p;
            live += s;
            continue;
        }
        set_next(p, NULL);
        if (tail)
            set_next(tail, p);
        else
            head = p;
        tail = p;
    }
    while (head) {                                  /* in allocation order */
        unsigned char *next = next_of(head);
        sum += head[0];
        free(head);
        head = next;
    }

    light_activity(1.0);
    long final_kb = proc_status_kb("VmRSS");
    malloc_trim(0);
    long trimmed_kb = proc_status_kb("VmRSS");

    for (long k = 0; k < nkeep; k++) {
        sum += keep[k][0];
        free(keep[k]);
    }
    free(keep);
    report_checksum(sum);
    printf("final_rss_kb=%ld\ntrimmed_rss_kb=%ld\nlive_kb=%zu\n", final_kb, trimmed_kb, live / 1024);
    return 0;
}
