#!/usr/bin/env python3
"""Writes ptalloc trace logs (docs/TRACE-FORMAT.md, version 1) for the
reader's tests, independently of the library's writer.

    gen_log.py scenario OUT       two threads, every kind of record, a snapshot,
                                  walk checkpoints; OUT.order lists the expected
                                  merged order ("thread kind" per event)
    gen_log.py segments OUT       thread 0 over several segments, interleaved with
                                  thread 1's in the file, sites reused by index
    gen_log.py contradict OUT     a free of a chunk not in use, an allocation over
                                  a chunk in use
    gen_log.py corrupt KIND OUT   a broken variant of the scenario; OUT.expect holds
                                  the error the reader must give
    gen_log.py big N OUT          N events of malloc/free on two threads (speed)

Time: a record stamped at step t has tsc = TSC0 + 16 t and, by the
calibration pairs written, CLOCK_MONOTONIC = NS0 + 8 t (2 ticks per ns).
"""
import struct
import sys

SEG = 65536
HDR = 64
SEGHDR = 32
TSC0 = 1_000_000 * 16
NS0 = 5_000_000_000
PID = 4242

CALLS = {'malloc': 1, 'calloc': 2, 'realloc': 3, 'reallocarray': 4, 'free': 5, 'free_sized': 6,
         'free_aligned_sized': 7, 'memalign': 8, 'aligned_alloc': 9, 'posix_memalign': 10,
         'valloc': 11, 'pvalloc': 12, 'malloc_trim': 13}
DECISIONS = ['none', 'tcache', 'fastbin', 'smallbin', 'unsorted', 'last_remainder', 'largebin',
             'binmap', 'top', 'mmap', 'munmap', 'remote', 'tcache_mid', 'in_place', 'moved',
             'mremap', 'failed', 'null', 'trim']
STATES = ['inuse', 'tcache', 'fastbin', 'unsorted', 'smallbin', 'largebin', 'top', 'mmapped',
          'fence', 'remote', 'gone']
SYS = {'brk': 1, 'sbrk_shrink': 2, 'segment': 3, 'heap_new': 4, 'heap_grow': 5, 'heap_shrink': 6,
       'heap_unmap': 7, 'mmap': 8, 'munmap': 9, 'mremap': 10, 'madvise': 11}
STEPS = {'sys': 48, 'consolidate': 49, 'arena_new': 50, 'thread_start': 51, 'thread_exit': 52,
         'fork': 53, 'mark': 54, 'snapshot': 55, 'snapshot_end': 56, 'arena': 57, 'modules': 58,
         'end': 59, 'walk': 60}


def varint(v):
    assert v >= 0
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


class Enc:
    """The state a segment's encoding carries: previous stamp and address,
    the site table."""

    def __init__(self, seg_tsc):
        self.prev_ts = seg_tsc >> 4
        self.prev_addr = 0
        self.sites = {}

    def addr(self, a):
        assert a % 16 == 0 and self.prev_addr % 16 == 0
        d = (a - self.prev_addr) >> 4
        self.prev_addr = a
        return varint((d << 1) ^ (d >> 63) if d >= 0 else ((-d) << 1) - 1)

    def encode(self, rec):
        """rec = (tsc, type byte, [(field kind, value)...])"""
        tsc, typ, fields = rec
        out = bytearray([typ])
        out += varint((tsc >> 4) - self.prev_ts)
        self.prev_ts = tsc >> 4
        for kind, v in fields:
            if kind == 'n':
                out += varint(v)
            elif kind == 'byte':
                out.append(v)
            elif kind == 'addr':
                out += self.addr(v)
            elif kind == 'size':
                assert v % 16 == 0
                out += varint(v >> 4)
            elif kind == 'bytes':
                out += v
            elif kind == 'raw':
                out += v
            elif kind == 'site':
                if v in self.sites:
                    out += varint(self.sites[v] << 1)
                else:
                    self.sites[v] = len(self.sites)
                    out += varint(len(v) << 1 | 1)
                    for f in v:
                        out += varint(f)
        return bytes(out)


class Log:
    def __init__(self):
        self.t = 0
        self.tids = {}
        self.recs = {}          # thread -> [(tsc, type, fields, tag)]
        self.order = []         # (thread, kind) in time order

    def tick(self, same=False):
        if not same:
            self.t += 1
        return TSC0 + 16 * self.t

    def thread(self, n, tid):
        self.tids[n] = tid
        self.recs.setdefault(n, [])

    def rec(self, th, typ, fields, kind, same=False, tag=None):
        tsc = self.tick(same)
        self.recs[th].append((tsc, typ, fields, tag))
        self.order.append((th, kind))

    # ---- records ----
    def call(self, th, fn, decision, site, fields, chunk=None, merged=0, same=False, tag=None):
        d = DECISIONS.index(decision) | merged << 5
        f = [('byte', d), ('site', tuple(site))] + fields
        if chunk:
            f += [('addr', chunk[0]), ('size', chunk[1])]
        self.rec(th, CALLS[fn], f, fn, same, tag)

    def set(self, th, addr, size, state, same=False):
        self.rec(th, 32 + STATES.index(state), [('addr', addr), ('size', size)], 'set', same)

    def sys(self, th, kind, arena, addr, size, new=None):
        f = [('byte', SYS[kind]), ('n', arena), ('addr', addr), ('size', size)]
        if new:
            f += [('addr', new[0]), ('size', new[1])]
        self.rec(th, 48, f, 'sys')

    def step(self, th, kind, fields=(), same=False):
        self.rec(th, STEPS[kind], list(fields), kind, same)

    def modules(self, th, mods):
        f = [('n', len(mods))]
        for start, length, off, path in mods:
            p = path.encode()
            f += [('addr', start), ('size', length), ('n', off), ('n', len(p)), ('bytes', p)]
        self.rec(th, 58, f, 'modules')

    def raw(self, th, data, tag):
        """A record of raw bytes (type byte included), for corrupt logs."""
        tsc = self.tick()
        self.recs[th].append((tsc, None, data, tag))
        self.order.append((th, 'raw'))

    # ---- layout ----
    def write(self, path, trim_last=False, tail_zeros=0, header_patch=None):
        """Segments per thread, records never crossing a segment's end; the
        file holds them in the order they were started.  Returns the tags'
        places: tag -> (offset, thread, segment)."""
        segs = []               # (start tsc, thread, seq, bytes, [(tag, offset in segment)])
        for th, recs in self.recs.items():
            seq = 0
            cur = None
            for i, (tsc, typ, fields, tag) in enumerate(recs):
                tag = tag or (th, i)
                for attempt in range(2):
                    if cur is None:
                        cur = [tsc, th, seq, bytearray(), [], Enc(tsc)]
                        seq += 1
                    enc = cur[5]
                    saved = (enc.prev_ts, enc.prev_addr, dict(enc.sites))
                    data = bytes(fields) if typ is None else enc.encode((tsc, typ, fields))
                    if SEGHDR + len(cur[3]) + len(data) <= SEG:
                        cur[4].append((tag, SEGHDR + len(cur[3])))
                        cur[3] += data
                        break
                    enc.prev_ts, enc.prev_addr, enc.sites = saved
                    segs.append(cur)
                    cur = None
                else:
                    raise AssertionError('record larger than a segment')
            if cur is not None:
                segs.append(cur)
        segs.sort(key=lambda s: (s[0], s[1]))
        hdr = bytearray(struct.pack('<8sIIIIQQQIIII', b'PTATRACE', 1, HDR, PID, 0, TSC0, NS0,
                                    1_700_000_000_000_000_000, 4096, 1, 0, 0))
        if header_patch:
            header_patch(hdr)
        out = bytearray(hdr) + bytes(SEG - HDR)   # segments start at 65536
        places = {}
        for i, (tsc, th, seq, data, tags, _) in enumerate(segs):
            off = len(out)
            ns = NS0 + (tsc - TSC0) // 2
            out += struct.pack('<4sIIIQQ', b'PTAS', self.tids[th], th, seq, tsc, ns)
            out += data
            for tag, o in tags:
                places[tag] = (off + o, th, seq)
            if i < len(segs) - 1 or not trim_last:
                out += bytes(SEG - SEGHDR - len(data))
        out += bytes(tail_zeros)
        with open(path, 'wb') as f:
            f.write(out)
        return places, segs


H = 0x555555559000          # main arena's heap
S = 0x7ffff0000000          # arena 1's sub-heap
M = 0x7ffff7a00000          # a mapped chunk
SITE_A = (0x555555555123,)
SITE_B = (0x555555555140,)
SITE_C = (0x7ffff7c2a1f0,)


def scenario(end=True):
    g = Log()
    g.thread(0, 1000)
    g.thread(1, 1001)
    top = 0x21000
    g.modules(0, [(0x555555554000, 0x5000, 0, '/usr/bin/prog'),
                  (0x7ffff7c00000, 0x1c0000, 0x28000, '/lib/x86_64-linux-gnu/libc.so.6')])
    g.sys(0, 'brk', 0, H, top)
    g.set(0, H, top, 'top')
    g.set(0, H + 0x70, top - 0x70, 'top')
    g.call(0, 'malloc', 'top', SITE_A, [('n', 100)], (H, 0x70))                       # 4
    g.set(0, H + 0x140, top - 0x140, 'top')
    g.call(0, 'malloc', 'top', SITE_B, [('n', 200)], (H + 0x70, 0xd0))
    # thread 1 starts, with an arena of its own
    g.step(1, 'thread_start', [('n', 1001)])
    g.step(1, 'arena_new', [('n', 1), ('addr', S)])
    g.sys(1, 'heap_new', 1, S, 0x21000)
    g.set(1, S + 0x40, 0x21000 - 0x40, 'top')
    g.step(1, 'arena', [('n', 1)])
    g.set(0, H + 0x160, top - 0x160, 'top')
    g.call(0, 'malloc', 'top', SITE_A, [('n', 24)], (H + 0x140, 0x20), same=True)     # a tie with the set
    g.set(1, S + 0x70, 0x21000 - 0x70, 'top', same=True)                              # and across threads
    g.call(1, 'malloc', 'top', SITE_C, [('n', 40)], (S + 0x40, 0x30))
    g.call(0, 'free', 'tcache', SITE_A, [], (H, 0x70))
    g.step(0, 'mark', [('n', 7), ('bytes', b'phase 1')])
    g.step(0, 'walk', [('n', 0)])                                                     # 17
    # thread 1 frees thread 0's chunk: it waits in a remote batch
    g.set(1, H + 0x70, 0xd0, 'remote')
    g.call(1, 'free', 'remote', SITE_C, [], (H + 0x70, 0xd0))
    g.call(1, 'free', 'tcache', SITE_C, [], (S + 0x40, 0x30))
    g.call(0, 'free', 'null', SITE_B, [])
    # thread 0 puts the batch away into a small bin, frees into a fastbin
    g.set(0, H + 0x70, 0xd0, 'smallbin')
    g.set(0, H + 0x140, 0x20, 'fastbin')
    g.call(0, 'free_sized', 'fastbin', SITE_B, [('n', 24)], (H + 0x140, 0x20))
    # a snapshot: thread 1's cached chunk is in use as thread 0 sees it
    g.step(0, 'snapshot')
    g.set(0, H, 0x70, 'tcache')
    g.set(0, H + 0x70, 0xd0, 'smallbin')
    g.set(0, H + 0x140, 0x20, 'fastbin')
    g.set(0, H + 0x160, top - 0x160, 'top')
    g.set(0, S + 0x40, 0x30, 'inuse')
    g.set(0, S + 0x70, 0x21000 - 0x70, 'top')
    g.step(0, 'snapshot_end')                                                         # 31
    g.call(1, 'malloc', 'tcache', SITE_C, [('n', 40)], (S + 0x40, 0x30))
    g.call(0, 'calloc', 'fastbin', SITE_A, [('n', 2), ('n', 8)], (H + 0x140, 0x20))
    # realloc moved: the new chunk from the top, the old one into the cache
    g.set(0, H + 0x1d0, top - 0x1d0, 'top')
    g.set(0, H + 0x140, 0x20, 'tcache')
    g.call(0, 'realloc', 'moved', SITE_A, [('addr', H + 0x140), ('size', 0x20), ('n', 100), ('n', 8)],
           (H + 0x160, 0x70))
    # grown in place into the top
    g.set(0, H + 0x230, top - 0x230, 'top')
    g.call(0, 'realloc', 'in_place', SITE_A, [('addr', H + 0x160), ('size', 0x70), ('n', 200), ('n', 0)],
           (H + 0x160, 0xd0))
    g.set(0, H + 0x2a0, top - 0x2a0, 'top')
    g.call(0, 'memalign', 'top', SITE_B, [('n', 64), ('n', 100)], (H + 0x230, 0x70))
    g.sys(0, 'mmap', 0, M, 0x31000)
    g.call(0, 'malloc', 'mmap', SITE_B, [('n', 200000)], (M, 0x31000))
    g.call(1, 'valloc', 'failed', SITE_C, [('n', 1 << 62)])
    g.call(1, 'posix_memalign', 'top', SITE_C, [('n', 32), ('n', 8)], (S + 0x70, 0x20))
    g.step(0, 'walk', [('n', 1)])                                                     # 45
    g.set(0, M, 0x31000, 'gone')
    g.sys(0, 'munmap', 0, M, 0x31000)
    g.call(0, 'free', 'munmap', SITE_B, [], (M, 0x31000))
    g.set(0, H + 0x160, 0xd0, 'unsorted')
    g.call(0, 'free', 'unsorted', SITE_A, [], (H + 0x160, 0xd0))
    g.call(1, 'realloc', 'tcache', SITE_C, [('addr', S + 0x70), ('size', 0x20), ('n', 0), ('n', 0)])
    g.set(0, H + 0x2a0, 0x1000, 'top')
    g.set(0, H + 0x12a0, top - 0x12a0, 'gone')
    g.sys(0, 'sbrk_shrink', 0, H + 0x12a0, top - 0x12a0)
    g.call(0, 'malloc_trim', 'trim', SITE_B, [('n', 0), ('n', 1)])
    g.step(1, 'thread_exit')
    g.step(0, 'fork', [('n', 4243)])
    if end:
        g.step(0, 'end')
    return g


def segments():
    """Thread 0 fills three segments (tcache pairs at two sites, so sites
    are reused by index and the table restarts per segment); thread 1's
    records come in between, in segments of their own."""
    g = Log()
    g.thread(0, 2000)
    g.thread(1, 2001)
    g.sys(0, 'brk', 0, H, 0x21000)
    g.set(0, H + 0x20, 0x21000 - 0x20, 'top')
    g.call(0, 'malloc', 'top', SITE_A, [('n', 8)], (H, 0x20))
    g.call(0, 'free', 'tcache', SITE_B, [], (H, 0x20))
    for i in range(12000):
        g.call(0, 'malloc', 'tcache', SITE_A, [('n', 8)], (H, 0x20))
        g.call(0, 'free', 'tcache', SITE_B, [], (H, 0x20))
        if i % 1000 == 0:
            g.step(1, 'mark', [('n', 4), ('bytes', b'%04d' % (i // 1000))])
    return g


def contradict():
    g = Log()
    g.thread(0, 3000)
    g.sys(0, 'brk', 0, H, 0x21000)
    g.set(0, H + 0x40, 0x21000 - 0x40, 'top')
    g.call(0, 'malloc', 'top', SITE_A, [('n', 24)], (H, 0x20))
    g.call(0, 'malloc', 'top', SITE_A, [('n', 24)], (H + 0x20, 0x20))
    g.call(0, 'free', 'tcache', SITE_A, [], (H, 0x20))
    g.call(0, 'free', 'tcache', SITE_A, [], (H, 0x20))                # 5: a double free
    g.call(0, 'malloc', 'tcache', SITE_A, [('n', 24)], (H + 0x20, 0x20))   # 6: over a chunk in use
    g.call(0, 'free', 'fastbin', SITE_A, [], (H + 0x100, 0x20))       # 7: no chunk there
    g.step(0, 'end')
    return g


def big(n):
    g = Log()
    g.thread(0, 5000)
    g.thread(1, 5001)
    g.sys(0, 'brk', 0, H, 0x4000000)
    g.sys(1, 'heap_new', 1, S, 0x4000000)
    step = 0
    live = [[], []]
    nxt = [H, S]
    while step < n:
        th = step & 1
        if live[th] and (len(live[th]) > 60000 or (step * 2654435761) % 7 < 3):
            a = live[th].pop((step * 40503) % len(live[th]))
            g.set(th, a, 0x30, 'unsorted')
            g.call(th, 'free', 'unsorted', SITE_B, [], (a, 0x30))
        else:
            a = nxt[th]
            nxt[th] += 0x30
            g.call(th, 'malloc', 'top', SITE_A, [('n', 40)], (a, 0x30))
            live[th].append(a)
        step += 2 if g.order[-1][1] == 'free' else 1
    return g


def corrupt(kind, out):
    g = scenario()
    expect = None
    patch = None
    if kind == 'truncated':
        places, segs = g.write(out)
        data = open(out, 'rb').read()
        # the last record of the file's last segment, cut after its type byte
        th = segs[-1][1]
        last = len(g.recs[th]) - 1
        off, _, seq = places[(th, last)]
        assert off > len(data) - SEG
        open(out, 'wb').write(data[:off + 1])
        typ = g.recs[th][last][1]
        name = [k for k, v in list(CALLS.items()) + list(STEPS.items()) if v == typ][0]
        expect = 'truncated at byte %d (thread %d, segment %d): a %s record cut by the end of the file' % (
            off, th, seq, name)
    elif kind == 'magic':
        patch = lambda h: h.__setitem__(slice(0, 8), b'PTATRACX')
        expect = 'not a ptalloc log (bad magic)'
    elif kind == 'version':
        patch = lambda h: h.__setitem__(slice(8, 12), struct.pack('<I', 2))
        expect = 'a version 2 log; this command reads version 1'
    elif kind in ('type', 'varint', 'address', 'site'):
        raw = {'type': bytes([63, 1]),
               'varint': bytes([1, 1, 8]) + bytes([0xff] * 10) + bytes([1]),
               'address': bytes([5, 1, 8, 0]) + varint((1 << 60) | 1) + varint(2),
               'site': bytes([1, 1, 8]) + varint(40) + varint(5)}[kind]
        g.raw(1, raw, 'bad')
    elif kind == 'segmagic':
        pass
    else:
        raise SystemExit('unknown corruption ' + kind)
    if expect is None or patch:
        places, segs = g.write(out, header_patch=patch)
    if kind == 'segmagic':
        data = bytearray(open(out, 'rb').read())
        off = 2 * SEG            # the file's second segment
        data[off:off + 4] = b'PTAX'
        open(out, 'wb').write(data)
        expect = 'corrupt at byte %d: bad segment magic (file segment 1)' % off
    if expect is None:
        off, th, seq = places['bad']
        what = {'type': (off, 'unknown record type 63'),
                'varint': (off + 3, 'varint longer than 64 bits'),
                'address': (off + 4, 'address out of range (previous 0x%x, delta -%d * 16)' % (
                    g_prev_addr(g, th), (1 << 59) + 1)),
                'site': (off + 3, 'site 20 not in the segment\'s table (1 sites)')}[kind]
        expect = 'corrupt at byte %d (thread %d, segment %d): %s' % (what[0], th, seq, what[1])
    open(out + '.expect', 'w').write(expect + '\n')


def g_prev_addr(g, th):
    """The last address field thread th wrote before its final (raw) record."""
    prev = 0
    for _tsc, typ, fields, _tag in g.recs[th]:
        if typ is None:
            break
        for k, v in fields:
            if k == 'addr':
                prev = v
    return prev


def main():
    a = sys.argv[1:]
    if not a:
        raise SystemExit(__doc__)
    if a[0] == 'scenario':
        g = scenario(end=len(a) < 3 or a[2] != 'noend')
        g.write(a[1], tail_zeros=2 * SEG)
        with open(a[1] + '.order', 'w') as f:
            for th, kind in g.order:
                f.write('%d %s\n' % (th, kind))
    elif a[0] == 'segments':
        g = segments()
        places, segs = g.write(a[1])
        with open(a[1] + '.order', 'w') as f:
            for th, kind in g.order:
                f.write('%d %s\n' % (th, kind))
    elif a[0] == 'contradict':
        contradict().write(a[1])
    elif a[0] == 'corrupt':
        corrupt(a[1], a[2])
    elif a[0] == 'big':
        big(int(a[1])).write(a[2])
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main()
