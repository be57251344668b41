/* probe: prints which object the process's malloc and free resolve to, so
 * the harness can check that a preloaded allocator is really in use. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    Dl_info mi, fi;
    void *(*m)(size_t) = malloc;
    void (*f)(void *) = free;
    void *p = m(100);
    f(p);
    if (!dladdr((void *)m, &mi) || !dladdr((void *)f, &fi)) {
        printf("malloc=? free=?\n");
        return 1;
    }
    printf("malloc=%s\nfree=%s\n", mi.dli_fname, fi.dli_fname);
    return 0;
}
