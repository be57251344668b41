/* The preload floor: a shared library with nothing in it.  Preloaded over
 * glibc's malloc (the harness's "empty preload" column of the peak tables),
 * it shows what any preloaded allocator pays before its own first page of
 * code and data: the loader maps one more file (four mappings), keeps one
 * more link map and scope, and the environment carries LD_PRELOAD. */
int bench_empty_library;
