#!/usr/bin/env python3
"""Checks of `ptalloc report` output, for tests/cmd/report.sh.

    report_check.py sane REPORT
        the report's own arithmetic: calls counted, every share table adds
        up (counts to its "all" row, percentages to 100 +- 0.1), the
        allocations by source are the calls that returned a new chunk,
        peak in use <= peak heap
    report_check.py leaks REPORT SIDE STACK
        the leak section lists exactly the sites of tests/cmd/leaky.c that
        leak (SIDE is the file leaky wrote), with their bytes and blocks;
        STACK 2: each row's caller is the one leaky.c says
    report_check.py calls REPORT_NONE REPORT SIDE
        the calls the program made (SIDE's "calls" line) are the difference
        of the two reports' counts: the C library's own allocations cancel
    report_check.py valgrind REPORT XML
        valgrind's leak records (--xml=yes) of leaky.c's sites agree with
        the report's: same sites, bytes and blocks
    report_check.py heaptrack REPORT LEAKS TEMPS FLAMEGRAPH
        heaptrack_print's leaks (-l), temporary allocations (-T) and leaked
        bytes per stack (-F with --flamegraph-cost-type leaked) of leaky.c's
        sites agree with the report's

Sites are compared by (function, line) of their innermost frame in
leaky.c: valgrind and heaptrack name the allocation function itself
first, and the C library's own blocks (a different file) are left out.
Prints what it compared; exits 1 at the first disagreement.
"""
import re
import sys
import xml.etree.ElementTree as ET

SRC = "leaky.c"


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def sections(path):
    """Section title -> its lines."""
    out, cur = {}, None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r"^== (.*)$", line)
            if m:
                cur = m.group(1)
                out[cur] = []
            elif cur:
                out[cur].append(line)
    return out


ROW = re.compile(r"^\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S.*)$")
SITE = re.compile(r"^(\S+) \((\S+):(\d+)\)$")


def site_rows(lines):
    """Rows of a site table with a chunk column: (bytes, blocks, chunk,
    site text, [caller texts])."""
    rows = []
    for line in lines:
        m = ROW.match(line)
        if m:
            rows.append([int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4), []])
            continue
        m = re.match(r"^\s+<- (.*)$", line)
        if m and rows:
            rows[-1][4].append(m.group(1))
    return rows


def in_src(text):
    """(function, line) when text names a place in leaky.c."""
    m = SITE.match(text)
    if m and m.group(2) == SRC:
        return (m.group(1), int(m.group(3)))
    return None


def leak_section(sec):
    for title in ("Leaked at exit", "Live at the end of the log"):
        if title in sec:
            return title, sec[title]
    fail("no leak section")


def report_leaks(path):
    """(function, line) -> [bytes, blocks] of leaky.c's rows."""
    _, lines = leak_section(sections(path))
    out = {}
    for b, n, _, text, _ in site_rows(lines):
        key = in_src(text)
        if key:
            v = out.setdefault(key, [0, 0])
            v[0] += b
            v[1] += n
    return out


def calls_of(sec):
    """Function -> calls, from the summary."""
    out = {}
    in_calls = False
    for line in sec["Summary"]:
        if re.match(r"^  calls\s", line):
            in_calls = True
            continue
        m = re.match(r"^    (\w+)\s+(\d+)\s+[\d.]+ %$", line)
        if in_calls and m:
            out[m.group(1)] = int(m.group(2))
        elif in_calls:
            in_calls = False
    return out


def share_tables(lines):
    """Title -> (rows [(name, count, pct)], all) of every share table."""
    tables, cur = {}, None
    for line in lines:
        m = re.match(r"^  (\S.*?)\s+count\s+%$", line)
        if m:
            cur = m.group(1)
            tables[cur] = ([], None)
            continue
        if cur is None:
            continue
        m = re.match(r"^    all\s+(\d+)\s+(\S+)$", line)
        if m:
            tables[cur] = (tables[cur][0], int(m.group(1)))
            cur = None
            continue
        m = re.match(r"^    (\S+(?: \S+)*)\s+(\d+)\s+(\d+\.\d)$", line)
        if m:
            tables[cur][0].append((m.group(1), int(m.group(2)), float(m.group(3))))
    return tables


def number_after(lines, pattern):
    for line in lines:
        m = re.search(pattern, line)
        if m:
            return int(m.group(1))
    fail("no line matches %r" % pattern)


def cmd_sane(path):
    sec = sections(path)
    for title in ("Summary", "Decisions", "Peak", "Short-lived allocations", "Fragmentation"):
        if title not in sec:
            fail("%s: no section %s" % (path, title))
    leak_section(sec)
    calls = calls_of(sec)
    total = number_after(sec["Summary"], r"^  calls\s+(\d+)$")
    if total <= 0 or sum(calls.values()) != total:
        fail("%s: calls %d, by function %s" % (path, total, calls))
    pcts = [float(x) for x in re.findall(r"\s([\d.]+) %$", "\n".join(sec["Summary"]), re.M)]
    if abs(sum(pcts) - 100) > 0.1:
        fail("%s: call percentages add up to %.1f" % (path, sum(pcts)))
    tables = share_tables(sec["Decisions"] + sec["Short-lived allocations"])
    if len(tables) != 3:
        fail("%s: expected 3 share tables, got %s" % (path, list(tables)))
    for title, (rows, all_) in tables.items():
        n = sum(r[1] for r in rows)
        p = sum(r[2] for r in rows)
        if all_ is None or n != all_ or (all_ and abs(p - 100) > 0.1):
            fail("%s: table '%s' adds up to %d (all %s), %.1f%%" % (path, title, n, all_, p))
        print("  %-24s %8d rows %d, %.1f%%" % (title, all_, len(rows), p))
    alloc = tables["allocations by source"][1]
    if alloc <= 0:
        fail("%s: no allocation" % path)
    # Allocations by source are the calls that returned a new chunk.
    d = sec["Decisions"]
    re_null = number_after(d, r"of NULL (\d+)")
    re_moved = number_after(d, r"moved (\d+)")
    failed = 0
    for line in d:
        if line.startswith("  failed calls"):
            for func, n in re.findall(r", (\w+) (\d+)", line):
                failed += int(n) if func not in ("realloc", "reallocarray") else 0
    news = sum(v for k, v in calls.items() if k not in ("free", "free_sized", "free_aligned_sized",
                                                         "realloc", "reallocarray", "malloc_trim"))
    if alloc != news + re_null + re_moved - failed:
        fail("%s: %d allocations by source, %d calls returned a new chunk" % (path, alloc,
                                                                              news + re_null + re_moved - failed))
    p = sec["Peak"]
    heap = number_after(p, r"^  heap\s+(\d+) bytes")
    in_use = number_after(p, r"^  in use\s+(\d+) bytes")
    if not 0 < in_use <= heap:
        fail("%s: peak in use %d, peak heap %d" % (path, in_use, heap))
    print("  peak in use %d <= peak heap %d; %d calls" % (in_use, heap, total))


def side_file(path):
    sites, calls = {}, None
    with open(path) as f:
        for line in f:
            w = line.split()
            if w[0] == "calls":
                calls = dict(zip(w[1::2], map(int, w[2::2])))
            else:
                sites[w[0]] = (w[1], int(w[2]), int(w[3]), int(w[4]), int(w[5]))
    return sites, calls


def expected_leaks(side):
    """(function, line) -> [bytes, blocks] leaky.c says, one frame a site."""
    sites, _ = side_file(side)
    out = {}
    for name, (func, line, blocks, nbytes, _) in sites.items():
        if blocks and name != "c2":
            out[(func, line)] = [nbytes, blocks]
    return out


def cmd_leaks(path, side, stack):
    title, lines = leak_section(sections(path))
    if title != "Leaked at exit":
        fail("%s: leak section '%s', the program exited" % (path, title))
    want = expected_leaks(side)
    got = report_leaks(path)
    if got != want:
        fail("%s: leaks of leaky.c %s, expected %s" % (path, sorted(got.items()), sorted(want.items())))
    if stack > 1:
        sites, _ = side_file(side)
        callers = {in_src(text): [in_src(c) for c in cs] for _, _, _, text, cs in site_rows(lines)}
        c, c2 = sites["c"], sites["c2"]
        first = callers[(c[0], c[1])]
        if not first or first[0] != (c2[0], c2[1]):
            fail("%s: the caller of %s:%d is %s, expected %s:%d" % (path, c[0], c[1], first, c2[0], c2[1]))
        for key, cs in callers.items():
            if key and (not cs or not cs[0] or len(cs) != stack - 1):
                fail("%s: site %s has callers %s (stack %d)" % (path, key, cs, stack))
    for (func, line), (b, n) in sorted(got.items()):
        print("  %-8s line %3d  %5d bytes %3d blocks" % (func, line, b, n))


def cmd_calls(path0, path1, side):
    _, want = side_file(side)
    c0, c1 = calls_of(sections(path0)), calls_of(sections(path1))
    d0, d1 = sections(path0)["Decisions"], sections(path1)["Decisions"]
    # leaky.c calls free(NULL) twice: each is a call in the log, with the
    # decision `null`, and a free that frees no block.
    nulls = number_after(d1, r"free\(NULL\) (\d+)") - number_after(d0, r"free\(NULL\) (\d+)")
    if nulls != 2:
        fail("free(NULL): %d in the log, the program made 2" % nulls)
    for func, n in want.items():
        got = c1.get(func, 0) - c0.get(func, 0)
        if got != n:
            fail("%s calls: the report counts %d more than without the program's work, it made %d" % (func, got, n))
        print("  %-8s %4d calls" % (func, n))
    frees = share_tables(d1)["frees by destination"][1] - share_tables(d0)["frees by destination"][1]
    if frees != want["free"] - nulls:
        fail("frees by destination: %d, the program freed %d blocks" % (frees, want["free"] - nulls))
    print("  free(NULL) %d, frees by destination %d" % (nulls, frees))


def cmd_valgrind(path, xml):
    vg = {}
    for err in ET.parse(xml).getroot().iter("error"):
        if not err.find("kind").text.startswith("Leak_"):
            continue
        x = err.find("xwhat")
        key = None
        for fr in err.find("stack").findall("frame"):
            if fr.findtext("file") == SRC:
                key = (fr.findtext("fn"), int(fr.findtext("line")))
                break
        if key:
            v = vg.setdefault(key, [0, 0])
            v[0] += int(x.findtext("leakedbytes"))
            v[1] += int(x.findtext("leakedblocks"))
    got = report_leaks(path)
    if not vg or got != vg:
        fail("valgrind's leaks of leaky.c %s, the report's %s" % (sorted(vg.items()), sorted(got.items())))
    for (func, line), (b, n) in sorted(vg.items()):
        print("  %-8s line %3d  %5d bytes %3d blocks: valgrind agrees" % (func, line, b, n))


def heaptrack_entries(path, head):
    """(count, function, line) of each entry of a heaptrack_print list:
    HEAD's line, then the function, then "  at FILE:LINE"."""
    out = []
    with open(path) as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        m = re.match(head, line)
        if m and i + 2 < len(lines):
            at = re.match(r"^  at (\S+):(\d+)$", lines[i + 2])
            if at and at.group(1).endswith(SRC):
                out.append((int(m.group(1)), lines[i + 1].strip(), int(at.group(2))))
    return out


def cmd_heaptrack(path, leaks, temps, flame):
    got = report_leaks(path)
    # Blocks: heaptrack counts the calls of a leaking site, and every
    # block of leaky.c's leaking sites leaks.
    ht = {(f, l): n for n, f, l in heaptrack_entries(leaks, r"^\S+ leaked over (\d+) calls from$")}
    if not ht or ht != {k: v[1] for k, v in got.items()}:
        fail("heaptrack's leaking sites %s, the report's %s" % (sorted(ht.items()), sorted(got.items())))
    # Bytes, exact, per stack: its innermost leaky.c function.
    by_func = {}
    with open(flame) as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            inner = stack.rstrip(";").split(";")[-1]
            m = re.match(r"^(\S+) \((\S+)\)$", inner)
            if m and m.group(2) == SRC:
                by_func[m.group(1)] = by_func.get(m.group(1), 0) + int(n)
    mine = {}
    for (func, _), (b, _) in got.items():
        mine[func] = mine.get(func, 0) + b
    if {k: v for k, v in by_func.items() if v} != mine:
        fail("heaptrack's leaked bytes by function %s, the report's %s" % (sorted(by_func.items()), sorted(mine.items())))
    for (func, line), (b, n) in sorted(got.items()):
        print("  %-8s line %3d  %5d bytes %3d blocks: heaptrack agrees" % (func, line, b, n))
    # Temporary allocations, heaptrack's definition, by site.
    tmp = {(f, l): n for n, f, l in heaptrack_entries(temps, r"^(\d+) temporary allocations of \d+ allocations")}
    mine = {}
    for n, _, text in temp_rows(path):
        key = in_src(text)
        if key:
            mine[key] = mine.get(key, 0) + n
    if not tmp or tmp != mine:
        fail("heaptrack's temporary allocations %s, the report's %s" % (sorted(tmp.items()), sorted(mine.items())))
    for (func, line), n in sorted(tmp.items()):
        print("  %-8s line %3d  %d temporary: heaptrack agrees" % (func, line, n))


def temp_rows(path):
    lines = sections(path)["Short-lived allocations"]
    out, on = [], False
    for line in lines:
        if "call sites of temporary allocations" in line:
            on = True
            continue
        m = re.match(r"^\s+(\d+)\s+(\d+)\s+(\S.*)$", line)
        if on and m:
            out.append((int(m.group(1)), int(m.group(2)), m.group(3)))
    return out


def main(argv):
    cmds = {"sane": (cmd_sane, 1), "leaks": (cmd_leaks, 3), "calls": (cmd_calls, 3),
            "valgrind": (cmd_valgrind, 2), "heaptrack": (cmd_heaptrack, 4)}
    if len(argv) < 2 or argv[1] not in cmds or len(argv) != 2 + cmds[argv[1]][1]:
        print(__doc__)
        return 2
    args = argv[2:]
    if argv[1] == "leaks":
        args = [args[0], args[1], int(args[2])]
    cmds[argv[1]][0](*args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
