"""py_alloc: a real program -- CPython doing allocation-heavy pure-Python
work (dicts, lists, tuples, strings, sorting, deletes).  The harness runs it
with PYTHONMALLOC=malloc (so every object allocation goes to the malloc
under test, not pymalloc's arenas) and PYTHONHASHSEED=0 (deterministic).
Usage: python3 py_alloc.py [scale]; prints checksum=<hex>."""
import sys
import zlib

scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
n = max(200, int(18000 * scale))
crc = 0

for rnd in range(3):
    # a table of records: dict of str -> dict
    table = {}
    for i in range(n):
        k = "user:%d:%d" % ((i * 7919) % n, rnd)
        table[k] = {"id": i, "name": "n" + str(i) * (1 + i % 5),
                    "tags": [str(j) for j in range(i % 8)],
                    "pos": (i, i * 2, float(i) / 3)}
    # queries building temporary lists and strings
    keys = sorted(table, key=lambda s: (len(s), s))
    out = []
    for k in keys[::3]:
        r = table[k]
        out.append("%s|%s|%s" % (k, r["name"], ",".join(r["tags"])))
    blob = "\n".join(out).encode()
    crc = zlib.crc32(blob, crc)
    # delete a scattered half, then grow again with different shapes
    for k in keys[::2]:
        del table[k]
    for i in range(n // 2):
        table["x%d" % i] = [i] * (i % 13) + ["y" * (i % 40)]
    words = {}
    for r in table.values():
        s = repr(r)
        for w in s.split(","):
            words[w] = words.get(w, 0) + 1
    crc = zlib.crc32(repr(sorted(words.items())[:1000]).encode(), crc)
    del table, keys, out, blob, words

print("checksum=%08x" % crc)
