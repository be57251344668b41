/*
 * The program bench/html.sh traces for the page's benchmark: a mixed heap
 * (small, medium, large and a few mmapped blocks; 20000 slots, about half
 * live) churned by N calls, which gives about 1.6 events per call.
 * Deterministic: the same log shape on every run.
 */
#include <stdlib.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 620000;
    enum { SLOTS = 20000 };
    static void *slot[SLOTS];
    unsigned x = 12345;
    for (long i = 0; i < n; i++) {
        x = x * 1103515245 + 12345;
        unsigned k = (x >> 8) % SLOTS;
        if (slot[k]) {
            free(slot[k]);
            slot[k] = NULL;
            continue;
        }
        unsigned r = (x >> 4) % 100;
        size_t size = r < 60 ? 16 + (x >> 16) % 120 : r < 90 ? 200 + (x >> 12) % 2000
                    : r < 99 ? 4000 + (x >> 10) % 60000 : 200000;
        slot[k] = malloc(size);
    }
    for (unsigned k = 0; k < SLOTS; k++)
        free(slot[k]);
    return 0;
}
