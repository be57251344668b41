/* fastpath: N malloc(32)+free pairs, every one a per-thread-cache hit after
 * the first.  Run under callgrind with N and 2N: the difference of the
 * instruction counts divided by N is the cost of one malloc+free pair with
 * startup and exit cancelled out.  Usage: fastpath N */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    void *volatile sink;
    void *p = malloc(32);           /* warm up: create the cache */
    free(p);
    for (long i = 0; i < n; i++) {
        p = malloc(32);
        sink = p;
        free(p);
    }
    (void)sink;
    printf("pairs=%ld\n", n);
    return 0;
}
