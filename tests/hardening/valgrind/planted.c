/* Planted bugs for memcheck to find when this runs on ptalloc: a leak, a
 * read after free, a one-byte overrun and an uninitialised read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    char *leak = malloc(100);
    memset(leak, 1, 100);
    leak = NULL;                       /* 100 bytes definitely lost */

    char *p = malloc(64);
    free(p);
    volatile char c = p[10];           /* read after free */

    char *q = malloc(10);
    q[10] = 1;                         /* one past the end */
    free(q);

    int *u = malloc(sizeof *u * 4);
    if (u[2] == 42)                    /* uninitialised */
        puts("forty-two");
    free(u);
    (void)c;
    puts("planted: done");
    return 0;
}
