#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/fuzz_alloc.c into tests/fuzz/corpus/.

Each seed is a small program in the target's input language (see the
decoders in fuzz_alloc.c: an opcode byte, then its operands); together they
use every operation, every size class and the error cases.  Deterministic:
running it again rewrites the same files.

    python3 tests/fuzz/gen_corpus.py
"""
import os
import random

# Opcodes (the byte modulo 20).
MALLOC, CALLOC, REALLOC, MEMALIGN, FREE, USABLE, TRIM, MALLOPT, CHECK, VALLOC, \
    REALLOCARRAY, BURST, INTROSPECT, REALLOC_NEAR, FLUSH = \
    0, 3, 4, 6, 7, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19

EDGE = [0, 1, 8, 9, 16, 24, 25, 40, 56, 64, 120, 128, 136, 152, 160, 168, 176,
        504, 1000, 1008, 1016, 1024, 1032, 1033, 1040, 4080, 4096, 8192,
        65528, 65536, 131048, 131056, 131064, 131072, 131080, 139264, 262144,
        524288, 1 << 20, 2 << 20, 4 << 20]


def size(n):
    """Encodes request size n with the draw_size() class that can express it."""
    if n < 256:
        return [0x00, n]
    if n < 1100:
        return [0x06, n & 0xff, n >> 8]
    if n < 65536:
        return [0x09, n & 0xff, n >> 8]
    if n < (256 << 10):
        return [0x8b, n & 0xff, (n >> 8) & 0xff, n >> 16]
    if n <= (1 << 20):
        return [0x8e, n & 0xff, (n >> 8) & 0xff, n >> 16]
    return edge(EDGE.index(n))


def edge(i, delta=0):
    return [0x0c, i, delta & 0xff]


def huge(i, sub=0):
    return [0x8f, i, sub]


def malloc(slot, n):           return [MALLOC, slot] + (n if isinstance(n, list) else size(n))
def realloc(slot, n):          return [REALLOC, slot] + (n if isinstance(n, list) else size(n))
def free(slot, how=0):         return [FREE, slot, how]
def calloc_k(slot, k, n, ovf=0):   return [CALLOC, slot, 1 | ovf] + [k] + (n if isinstance(n, list) else size(n))
def calloc_n(slot, sz, k, ovf=0):  return [CALLOC, slot, 0 | ovf] + [sz] + (k if isinstance(k, list) else size(k))
def memalign(slot, kind, abyte, n): return [MEMALIGN, slot, kind, abyte] + (n if isinstance(n, list) else size(n))
def valloc(slot, pv, n):       return [VALLOC, slot, pv] + (n if isinstance(n, list) else size(n))
def reallocarray(slot, k, n, ovf=0): return [REALLOCARRAY, slot, k] + (n if isinstance(n, list) else size(n)) + [ovf]
def usable(slot):              return [USABLE, slot]
def trim(m, *pad):             return [TRIM, m] + list(pad)
def mallopt(which, v8, by_name=0):
    return [MALLOPT, which, v8] + ([by_name] if which < 6 else [])
def burst(count, n, order, keep): return [BURST, count - 1] + size(n) + [order, keep]
def introspect(what, slot=0):  return [INTROSPECT, what, slot]
def realloc_near(slot, delta): return [REALLOC_NEAR, slot, delta & 0xff]
check = [CHECK]
flush = [FLUSH]


def seeds():
    s = {}
    s["malloc-free-small"] = sum([malloc(i, n) for i, n in enumerate(
        [0, 1, 8, 9, 24, 25, 40, 100, 120, 128, 136, 160, 176, 200, 255])], []) + \
        sum([free(i, i) for i in range(0, 15, 2)], []) + check + \
        sum([malloc(20 + i, n) for i, n in enumerate([24, 40, 120, 136])], []) + \
        sum([free(i) for i in range(1, 15, 2)], []) + check
    s["malloc-sizes"] = sum([malloc(i, edge(i)) for i in range(len(EDGE))], []) + \
        sum([free(i) for i in range(len(EDGE) - 1, -1, -3)], []) + check + \
        sum([malloc(i, edge(i, -3)) for i in range(0, len(EDGE), 3)], [])
    s["malloc-huge"] = sum([malloc(i, huge(i)) for i in range(18)], []) + \
        malloc(1, 100) + realloc(1, huge(2)) + realloc(1, huge(9, 5)) + check
    s["calloc"] = calloc_k(0, 4, 100) + calloc_k(1, 16, 4096) + calloc_n(2, 8, 1000) + \
        free(0) + calloc_k(3, 1, 24) + calloc_k(4, 3, 200000) + calloc_k(5, 0, 7) + \
        calloc_n(6, 0, 99) + free(4) + calloc_k(7, 2, 150000) + check
    s["calloc-overflow"] = calloc_k(0, 5, 1000, ovf=2) + calloc_n(1, 7, 5000, ovf=2) + \
        calloc_k(2, 2, huge(0)) + calloc_k(3, 0, huge(1)) + calloc_n(4, 3, huge(5)) + \
        calloc_n(5, 0, huge(3)) + check
    s["realloc-grow-shrink"] = malloc(0, 10) + realloc(0, 20) + realloc(0, 200) + \
        realloc(0, 1000) + realloc(0, 5000) + realloc(0, 100000) + realloc(0, 200000) + \
        realloc(0, 1 << 20) + realloc(0, 150000) + realloc(0, 5000) + realloc(0, 30) + \
        realloc(0, 0) + realloc(1, 64) + malloc(2, 64) + realloc(1, 2000) + free(2) + \
        realloc(1, 4000) + realloc_near(1, 5) + realloc_near(1, -40) + check
    s["realloc-in-place"] = malloc(0, 100) + malloc(1, 100) + malloc(2, 100) + free(1) + \
        realloc(0, 200) + realloc(0, 90) + realloc(2, 3000) + malloc(3, 500) + \
        realloc(3, 40) + realloc_near(3, 1) + usable(3) + realloc(3, 700) + check + \
        reallocarray(4, 3, 40) + reallocarray(4, 5, 400) + reallocarray(4, 2, 100, ovf=1) + \
        reallocarray(4, 0, 10) + reallocarray(5, 2, huge(0)) + check
    s["memalign"] = memalign(0, 0, 5, 100) + memalign(1, 1, 6, 1000) + \
        memalign(2, 2, 12, 5000) + memalign(3, 3, 16, 200000) + memalign(4, 0, 20, 300) + \
        memalign(5, 1, 3, 10) + memalign(6, 2, 4, 64) + free(0) + free(2) + \
        memalign(7, 0, 8, 40) + memalign(8, 2, 13, 150000) + realloc(1, 3000) + check
    s["memalign-errors"] = memalign(0, 0, 224 + 2, 100) + memalign(1, 1, 224 + 1, 100) + \
        memalign(2, 2, 224 + 4, 100) + memalign(3, 1, 224 + 0, 100) + \
        memalign(4, 2, 224 + 1, 100) + memalign(5, 0, 224 + 7, 2000) + \
        memalign(6, 0, 224 + 11, 100) + memalign(7, 1, 224 + 12, 50) + \
        memalign(8, 2, 224 + 14, 50) + memalign(9, 0, 224 + 10, 50) + \
        memalign(10, 3, 10, huge(0)) + memalign(11, 2, 9, huge(6)) + check
    s["valloc-pvalloc"] = valloc(0, 0, 1) + valloc(1, 1, 0) + valloc(2, 1, 5000) + \
        valloc(3, 0, 200000) + valloc(4, 1, huge(0)) + valloc(5, 0, huge(3)) + \
        free(1) + usable(2) + realloc(3, 10) + check
    s["usable"] = malloc(0, 1) + usable(0) + malloc(1, 1000) + usable(1) + \
        malloc(2, 140000) + usable(2) + calloc_k(3, 3, 7) + usable(3) + usable(4) + \
        realloc(0, 100) + realloc(1, 10) + realloc(2, 300000) + check
    # Found by the fuzzer: malloc_trim(pad) with pad near SIZE_MAX wrapped
    # pad + 48 (page release) and pad + 33 (sbrk trim) around to small values;
    # with the top chunk starting on a page boundary the top's own header was
    # discarded.  shape_top puts the top there.
    s["regress-trim-pad-wrap"] = malloc(0, 5000) + free(0) + introspect(4, 1) + [0] + \
        trim(7, 47) + check + introspect(4, 2) + [1] + trim(7, 32) + check + \
        free(1) + introspect(4, 3) + [4 | (3 << 3)] + trim(7, 40) + malloc(4, 70000) + \
        trim(7, 79) + check
    s["trim"] = malloc(0, 200000) + malloc(1, 60000) + malloc(2, 60000) + malloc(3, 100) + \
        free(1) + free(0) + trim(0) + free(2) + trim(3, 0x00, 0x10) + trim(6, 0, 0, 1) + \
        malloc(4, 30000) + free(3) + trim(7, 200) + trim(1) + check
    s["mallopt"] = mallopt(0, 64) + burst(40, 60, 0, 1) + mallopt(0, 0, 1) + \
        burst(20, 100, 1, 0) + mallopt(0, 0x81) + mallopt(0, 0x82) + mallopt(1, 0x45) + \
        mallopt(2, 0x47, 1) + mallopt(3, 0x10) + malloc(0, 20000) + mallopt(3, 252) + \
        mallopt(3, 250) + malloc(1, 200000) + mallopt(4, 0) + malloc(2, 300000) + \
        mallopt(4, 200, 1) + mallopt(1, 255) + mallopt(5, 0xa5) + malloc(3, 100) + \
        calloc_k(4, 10, 10) + free(3) + mallopt(5, 0) + mallopt(6, 3) + mallopt(7, 20) + \
        mallopt(6, 210) + mallopt(7, 252) + burst(30, 40, 2, 1) + check
    s["burst"] = burst(64, 24, 0, 0) + burst(100, 120, 1, 1) + burst(200, 600, 2, 0) + \
        burst(256, 40, 3, 1) + burst(30, 2000, 0, 1) + malloc(0, 3000) + burst(80, 100, 1, 0) + \
        flush + check
    s["introspect"] = malloc(0, 100) + malloc(1, 200000) + memalign(2, 0, 12, 300) + \
        free(3) + introspect(0, 0) + introspect(0, 1) + introspect(0, 2) + introspect(1) + \
        introspect(2) + burst(20, 50, 0, 1) + introspect(3) + flush + introspect(3) + check
    # Found by the fuzzer: memalign(2^62 + 16 -> 2^63, PTRDIFF_MAX - 11); the
    # size checks wrapped around and a 32-byte chunk was "aligned" to 2^63.
    s["regress-memalign-align-wrap"] = memalign(0, 3, 224 + 15, huge(5, 11))
    rnd = random.Random(12345)
    s["random-mix"] = bytes(rnd.randrange(256) for _ in range(600))
    mix = []
    for i in range(120):
        k = rnd.randrange(10)
        slot = rnd.randrange(24)
        if k < 4:
            mix += malloc(slot, rnd.choice([rnd.randrange(256), rnd.randrange(4096),
                                            rnd.randrange(300000)]))
        elif k < 6:
            mix += free(slot)
        elif k < 8:
            mix += realloc(slot, rnd.randrange(70000))
        elif k == 8:
            mix += calloc_k(slot, rnd.randrange(1, 17), rnd.randrange(3000))
        else:
            mix += memalign(slot, rnd.randrange(4), rnd.randrange(224), rnd.randrange(5000))
    s["random-ops"] = mix + check
    return s


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "corpus")
    os.makedirs(out, exist_ok=True)
    for name, prog in sorted(seeds().items()):
        data = bytes(prog)
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
