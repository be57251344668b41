/*
 * Bins: taking a chunk out of its doubly linked list, and putting a chunk
 * into a large bin at its place in size order.
 */
#include "internal.h"

void unlink_chunk(arena_t *a, chunk_t *p)
{
    size_t size = chunksize(p);
    if (unlikely(size != chunk_at(p, size)->prev_size))
        malloc_error("corrupted size vs. prev_size");
    chunk_t *fd = p->fd, *bk = p->bk;
    if (unlikely(fd->bk != p || bk->fd != p))
        malloc_error("corrupted double-linked list");
    fd->bk = bk;
    bk->fd = fd;
    if (!in_smallbin_range(size) && p->fd_nextsize != NULL) {
        /* p heads its size on the nextsize list. */
        if (unlikely(p->fd_nextsize->bk_nextsize != p || p->bk_nextsize->fd_nextsize != p))
            malloc_error("corrupted double-linked list (not small)");
        if (fd->fd_nextsize == NULL) {
            /* The next chunk has the same size: it becomes the head. */
            if (p->fd_nextsize == p) {
                fd->fd_nextsize = fd->bk_nextsize = fd;
            } else {
                fd->fd_nextsize = p->fd_nextsize;
                fd->bk_nextsize = p->bk_nextsize;
                p->fd_nextsize->bk_nextsize = fd;
                p->bk_nextsize->fd_nextsize = fd;
            }
        } else {
            p->fd_nextsize->bk_nextsize = p->bk_nextsize;
            p->bk_nextsize->fd_nextsize = p->fd_nextsize;
        }
    }
}

/* Large bins are sorted largest first.  The first chunk of each size is on
 * the nextsize ring (fd_nextsize: next smaller size, wrapping from the
 * smallest to the largest); a chunk of a size already present goes right
 * after that size's head, so the ring never changes for it. */
void bin_insert_sorted(arena_t *a, chunk_t *p, size_t size)
{
    ASSERT(!in_smallbin_range(size) && size == chunksize(p));
    unsigned idx = largebin_index(size);
    chunk_t *bck = bin_at(a, idx), *fwd = bck->fd;

    if (fwd == bck) {
        p->fd_nextsize = p->bk_nextsize = p;
    } else if (size < chunksize(bck->bk)) {
        /* Smaller than all: at the end, a new size on the ring. */
        fwd = bck;
        bck = bck->bk;
        chunk_t *largest = fwd->fd;
        p->fd_nextsize = largest;
        p->bk_nextsize = largest->bk_nextsize;
        largest->bk_nextsize = p;
        p->bk_nextsize->fd_nextsize = p;
    } else {
        while (size < chunksize(fwd))
            fwd = fwd->fd_nextsize;
        if (size == chunksize(fwd)) {
            fwd = fwd->fd;
            p->fd_nextsize = p->bk_nextsize = NULL;
        } else {
            p->fd_nextsize = fwd;
            p->bk_nextsize = fwd->bk_nextsize;
            if (unlikely(fwd->bk_nextsize->fd_nextsize != fwd))
                malloc_error("malloc(): largebin double linked list corrupted (nextsize)");
            fwd->bk_nextsize = p;
            p->bk_nextsize->fd_nextsize = p;
        }
        bck = fwd->bk;
        if (unlikely(bck->fd != fwd))
            malloc_error("malloc(): largebin double linked list corrupted (bk)");
    }
    mark_bin(a, idx);
    p->bk = bck;
    p->fd = fwd;
    fwd->bk = p;
    bck->fd = p;
}
