/*
 * The lock of an arena (and of the arena list and the mmapped-chunk list):
 * a futex word.  Taking a free lock is one compare-and-swap; a taken one
 * is waited for in the kernel, without spinning first, as in glibc (with
 * more threads than cores the holder is often descheduled, and a spinner
 * burns the core it needs).
 *
 * While the process has one thread nobody can contend, and no lock is
 * taken at all.  __libc_single_threaded turns false in pthread_create,
 * before a second thread exists, and only a thread outside malloc can
 * create one; so a lock taken while it was true is released while it
 * still is.  It turns true again only in a fork child, whose fork handler
 * resets every lock.
 *
 * The first lock really taken registers the fork handlers (arena.c), which
 * take every lock around fork: the two are mutual by design.  The
 * functions are C99 inline definitions: inlined where the compiler likes,
 * and emitted once, in arena.c beside the fork handlers.
 */
#ifndef PTALLOC_LOCK_H
#define PTALLOC_LOCK_H

#include <stdbool.h>
#include <sys/single_threaded.h>
#include "types.h"

void os_futex_wait(int *addr, int val);
void os_futex_wake(int *addr, int n);

/* The fork handlers: 0 unregistered, -pid being registered by pid, or
 * FORK_HOOKS_DONE (arena.c). */
extern int fork_hooks;
#define FORK_HOOKS_DONE 2
void fork_hooks_register(void);

/* Between its fork prepare handler and the parent's or child's, the
 * forking thread holds every lock.  ptalloc's handlers are registered
 * before anyone else's, so no other fork handler runs in that time -
 * unless it was registered past __register_atfork (an old binary's
 * pthread_atfork@GLIBC_2.2.5 goes straight to libc's).  Such a handler may
 * allocate, as glibc allows: for the forking thread (fork_holding set) the
 * locks it holds count as taken again, and their releases are left to
 * ptalloc's handlers. */
extern __thread char fork_holding __attribute__((tls_model("initial-exec")));

/* 1 when the lock is now the caller's (or no lock is needed). */
inline int lock_try(lock_t *l)
{
    if (__libc_single_threaded)
        return 1;
    if (unlikely(__atomic_load_n(&fork_hooks, __ATOMIC_ACQUIRE) != FORK_HOOKS_DONE))
        fork_hooks_register();
    int zero = 0;
    if (likely(__atomic_compare_exchange_n(&l->state, &zero, LOCK_TAKEN, 0, __ATOMIC_ACQUIRE,
                                           __ATOMIC_RELAXED)))
        return 1;
    return unlikely(fork_holding);
}

/* Sleeps until the lock is the caller's. */
inline void lock_wait(lock_t *l)
{
    while (__atomic_exchange_n(&l->state, LOCK_WAITERS, __ATOMIC_ACQUIRE) != 0)
        os_futex_wait(&l->state, LOCK_WAITERS);
}

inline void lock_acquire(lock_t *l)
{
    if (unlikely(!lock_try(l)))
        lock_wait(l);
}

/* Always inline: GCC's partial inlining otherwise makes one out-of-line
 * copy of its atomic part, which it may place with the cold code. */
static inline __attribute__((always_inline)) void lock_release(lock_t *l)
{
    if (__libc_single_threaded)
        return;
    if (unlikely(fork_holding))
        return;
    if (unlikely(__atomic_exchange_n(&l->state, 0, __ATOMIC_RELEASE) & LOCK_WAITERS))
        os_futex_wake(&l->state, 1);
}

#endif
