/* A correct program that exercises every entry point, in two threads:
 * under memcheck on ptalloc it must report nothing at all - the
 * allocator's own work on free chunks stays out of the reports. */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *work(void *arg)
{
    unsigned s = (unsigned)(size_t)arg;
    void *slot[64] = {0};
    for (int i = 0; i < 4000; i++) {
        s = s * 1103515245 + 12345;
        int k = (int)(s >> 8) % 64;
        size_t n = (s >> 16) % 3000 + ((s & 7) == 0 ? 200000 : 0);
        switch ((s >> 4) % 5) {
        case 0: free(slot[k]); slot[k] = malloc(n); memset(slot[k], 1, n); break;
        case 1: free(slot[k]); slot[k] = calloc(1, n); break;
        case 2: slot[k] = realloc(slot[k], n); memset(slot[k], 2, n); break;
        case 3: free(slot[k]); slot[k] = memalign(64, n); memset(slot[k], 3, n); break;
        default: free(slot[k]); slot[k] = NULL;
        }
    }
    for (int k = 0; k < 64; k++)
        free(slot[k]);
    return NULL;
}

int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, work, (void *)1);
    work((void *)2);
    pthread_join(t, NULL);
    malloc_trim(0);
    struct mallinfo2 m = mallinfo2();
    printf("clean: done, %zu bytes in use\n", m.uordblks);
    return 0;
}
