#!/usr/bin/python3
"""The browser half of tests/cmd/html.sh: drives the pages `ptalloc html`
writes in headless Chromium (selenium, /usr/bin/chromedriver) through
window.ptallocView and the keyboard, and compares what they show with
`ptalloc show LOG --at N --all`.

    html_check.py --ptalloc CMD --shots DIR [--docs PNG] [--bins TABLE]
                  LABEL=LOG=PAGE ...

For each page: the heap in text, the bins' lists (the API and the SVG of
the bins panel) and the program break at a set of events (first, last,
every mark and walk, spread and random ones, visited out of order so that
the page moves backwards as well as forwards) and at the events reached
by keys from some of them; a state met twice must be the same.  Then, on
the first page, the keys and the Tab order; on a page with a tour, its
chapters; the page's pure functions (lib) against the library's bin table
(--bins, html_bins.c's output) and Python; screenshots in --shots, one of
them written to --docs.  Any SEVERE entry in the browser's console, or an
uncaught error or rejection, fails.

Run by /usr/bin/python3: python3-selenium is Debian's.  HTML_SEED=N
repeats a run's random events.  Exit 0 when everything held.
"""
import argparse
import difflib
import json
import os
import random
import re
import subprocess
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

CALLS = {'malloc', 'calloc', 'realloc', 'reallocarray', 'free', 'free_sized', 'free_aligned_sized',
         'memalign', 'aligned_alloc', 'posix_memalign', 'valloc', 'pvalloc', 'malloc_trim'}
# show's words for the lists -> the page's state names (bins())
LIST_WORDS = {'tcache': 'tcache', 'fastbin': 'fastbin', 'unsorted': 'unsorted', 'small bin': 'smallbin',
              'large bin': 'largebin', 'remote batches': 'remote'}
SHOW_CHUNKS = 8          # show lists this many user pointers per list
DOM_CHUNKS = 12          # the bins panel draws this many boxes per list

failures = []
kinds_failed = {}          # (page, kind) -> how many: the first few are printed
SHOWN_PER_KIND = 3


def fail(msg, kind=None):
    failures.append(msg)
    if kind:
        n = kinds_failed[kind] = kinds_failed.get(kind, 0) + 1
        if n > SHOWN_PER_KIND:
            return
    print('FAIL: ' + msg, flush=True)


def more_failures(label):
    for (page, kind), n in sorted(kinds_failed.items()):
        if page == label and n > SHOWN_PER_KIND:
            print('FAIL: %s: %d more of "%s", not shown' % (label, n - SHOWN_PER_KIND, kind))


def diff(a, b, name_a, name_b, n=14):
    d = list(difflib.unified_diff(a.splitlines(), b.splitlines(), name_a, name_b, lineterm='', n=1))
    return '\n'.join('    ' + x for x in d[:n]) + ('\n    ...' if len(d) > n else '')


# ---- what `ptalloc show` prints --------------------------------------------------

class Show:
    """`ptalloc show LOG --at N --all`, cut into the parts the page has."""

    def __init__(self, ptalloc, log):
        self.ptalloc, self.log, self.cache = ptalloc, log, {}

    def at(self, n):
        if n in self.cache:
            return self.cache[n]
        p = subprocess.run([self.ptalloc, 'show', self.log, '--at', str(n), '--all'],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError('ptalloc show %s --at %d: exit %d: %s' % (self.log, n, p.returncode, p.stderr.strip()))
        out = p.stdout
        k = out.find('\nheap ')
        if k < 0:
            raise RuntimeError('ptalloc show %s --at %d: no "heap" line' % (self.log, n))
        text = out[k + 1:]
        note = text.find('\nnote:')
        if note >= 0:
            text = text[:note + 1]
            while text.endswith('\n\n'):
                text = text[:-1]
        header = out[:k].split('\n')
        what = next((h for h in header if h.startswith('event %d:' % n)), '')
        brk = 0
        for line in text.split('\n'):
            m = re.match(r'  arena \d+ heap \(brk\)\s+(0x[0-9a-f]+) - (0x[0-9a-f]+) .*the program break at its end', line)
            if m:
                brk = int(m.group(2), 16)
        r = {'text': text, 'what': what, 'brk': brk, 'lists': self.parse_lists(text)}
        self.cache[n] = r
        return r

    @staticmethod
    def parse_lists(text):
        lists, group, on = [], None, False
        for line in text.split('\n'):
            if line.startswith('  flags: '):
                on = True
                continue
            if not on or not line:
                continue
            m = re.match(r'bins of arena (\d+):$', line)
            if m:
                group = ('arena', int(m.group(1)))
                continue
            if line == 'bins of chunks of no known arena:':
                group = ('arena', None)
                continue
            m = re.match(r'tcache of thread (\d+):$', line)
            if m:
                group = ('thread', int(m.group(1)))
                continue
            m = re.match(r'  (tcache|fastbin|unsorted|small bin|large bin)\[\s*(\d+)\][^:]*? (\d+):(.*)$', line) or \
                re.match(r'  (remote batches)()() ?(\d+):(.*)$', line)
            if not m:
                raise RuntimeError('show: a line of the bins not understood: ' + line)
            if m.group(1) == 'remote batches':
                word, binno, count, rest = m.group(1), -1, int(m.group(4)), m.group(5)
            else:
                word, binno, count, rest = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
            ptrs = [int(x, 16) for x in re.findall(r'0x[0-9a-f]+', rest)]
            lists.append({'group': group, 'state': LIST_WORDS[word], 'bin': binno, 'count': count, 'ptrs': ptrs,
                          'more': rest.endswith(' ...')})
        return lists


# ---- the browser -------------------------------------------------------------------

CATCH = """
window.__uncaught = [];
window.addEventListener('error', (e) => window.__uncaught.push('error: ' + (e.message || e.type) +
  (e.filename ? ' at ' + e.filename.slice(-40) + ':' + e.lineno : '')));
window.addEventListener('unhandledrejection', (e) => window.__uncaught.push('unhandled rejection: ' +
  (e.reason && e.reason.message || String(e.reason))));
"""

# The state of the page; its text only when it is not arguments[0] (what
# show prints), as sending 100 KB through the driver costs more than the rest.
SNAP = """
const done = arguments[arguments.length - 1];
const v = window.ptallocView, q = (s) => document.querySelector(s), text = v.text();
(async () => {
/* the bins panel is drawn when on screen, after the step's frame */
const y = window.scrollY;
q('#bins').scrollIntoView();
await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
await v.settled();
const dom = Array.from(document.querySelectorAll('#bins-body .bin[data-list]')).map((b) =>
  Array.from(b.querySelectorAll('g.node[data-sel]')).map((g) => g.getAttribute('data-sel')));
window.scrollTo(0, y);
const what = q('#describe .what');
done({ at: v.at(), text: text === arguments[0] ? null : text, bins: v.bins(), brk: v.brk(), dom,
  space: q('#space-list').textContent, input: q('#event').value,
  what: what ? what.textContent : '', step: (q('#describe .step') || {}).textContent || '',
  chapter: (q('#describe .chapter') || {}).textContent || '',
  nerrors: v.errors.length, errors: v.errors.slice(0, 5) });
})();
"""


def browser():
    o = webdriver.ChromeOptions()
    for a in ('--headless=new', '--no-sandbox', '--disable-gpu', '--window-size=1500,2000',
              '--hide-scrollbars', '--force-device-scale-factor=1', '--lang=en-US'):
        o.add_argument(a)
    o.binary_location = '/usr/bin/chromium'
    o.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    d = webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=o)
    d.set_script_timeout(60)
    d.execute_cdp_cmd('Page.addScriptToEvaluateOnNewDocument', {'source': CATCH})
    return d


def console_check(d, label):
    """SEVERE console entries and uncaught errors since the last look;
    the others are printed."""
    for e in d.get_log('browser'):
        if e.get('level') == 'SEVERE':
            fail('%s: the browser console: %s' % (label, e.get('message', '')[:300]))
        else:
            print('  %s: console %s: %s' % (label, e.get('level'), e.get('message', '')[:200]))
    try:
        for u in d.execute_script('const u = window.__uncaught || []; window.__uncaught = []; return u;'):
            fail('%s: %s' % (label, u))
    except WebDriverException:
        pass


def load(d, page, label, hash_=''):
    d.get('about:blank')                 # page.html#N after page.html would not load it again
    t0 = time.time()
    d.get('file://' + os.path.abspath(page) + hash_)
    err = d.execute_async_script("""
      const cb = arguments[arguments.length - 1];
      if (!window.ptallocView) { cb('no window.ptallocView: the page script did not run'); return; }
      window.ptallocView.ready.then(() => cb(null), (e) => cb('ready rejected: ' + (e && e.message || e)));""")
    if err:
        fail('%s: %s (status: %s)' % (label, err, d.find_element(By.ID, 'status').text))
        return None
    return time.time() - t0


def keys(d, *ks):
    a = ActionChains(d)
    for k in ks:
        if isinstance(k, tuple):           # (modifier, key)
            a.key_down(k[0]).send_keys(k[1]).key_up(k[0])
        else:
            a.send_keys(k)
    a.perform()


def focus_body(d):
    d.execute_script('if (document.activeElement && document.activeElement !== document.body) '
                     'document.activeElement.blur(); window.scrollTo(0, 0);')


# ---- one state of a page against show ---------------------------------------------------

class Checker:
    def __init__(self, d, label, show, events):
        self.d, self.label, self.show, self.events = d, label, show, events
        self.seen = {}                    # event -> its first snapshot
        self.compared = 0

    def check(self, n, how):
        """The page's state now, which must be event n."""
        want = self.show.at(n)
        s = self.d.execute_async_script(SNAP, want['text'])
        if s['text'] is None:
            s['text'] = want['text']
        where = '%s: event %d (%s)' % (self.label, n, how)
        self.compared += 1
        if s['at'] != n:
            fail('%s: the page is at event %s' % (where, s['at']), (self.label, 'at'))
            return s
        if s['input'] != str(n):
            fail('%s: the event field says %r' % (where, s['input']), (self.label, 'event field'))
        if s['nerrors']:
            fail('%s: ptallocView.errors has %d: %s' % (where, s['nerrors'], '; '.join(s['errors'])), (self.label, 'errors'))
        if s['text'] != want['text']:
            fail('%s: text() differs from ptalloc show --at %d --all:\n%s' %
                 (where, n, diff(want['text'], s['text'], 'show', 'page')), (self.label, 'text'))
        e = self.events[n]
        if e['kind'] == 'mark' and e['label'].startswith('chapter '):   # the page names a chapter by its title
            parts = e['label'].split(' | ')
            want = dict(want, what='event %d: thread %d mark "%s: %s"' % (n, e['thread'], parts[0], parts[1]))
        if s['what'] != want['what'] and n not in self.seen:
            fail('%s: the event in words differs:\n    show: %s\n    page: %s' % (where, want['what'], s['what']),
                 (self.label, 'words ' + e['kind']))
        self.check_bins(where, s, want)
        self.check_brk(where, s, want)
        self.check_words(where, n, s)
        old = self.seen.get(n)
        if old is None:
            self.seen[n] = s
        else:
            for k in ('text', 'bins', 'dom', 'space', 'brk', 'what', 'step'):
                if old[k] != s[k]:
                    fail('%s: %s differs from the first time the page was at this event' % (where, k),
                         (self.label, 'revisit'))
        return s

    def check_bins(self, where, s, want):
        page, shown = s['bins'], want['lists']
        if len(page) != len(shown):
            fail('%s: bins() has %d lists, show %d' % (where, len(page), len(shown)), (self.label, 'lists'))
        for k, (p, w) in enumerate(zip(page, shown)):
            group = ('thread', p['thread']) if p['state'] == 'tcache' else \
                ('arena', p['arena'] if p['arena'] >= 0 else None)
            ptrs = [a + 16 for a in p['chunks'][:SHOW_CHUNKS]]
            if group != w['group'] or p['state'] != w['state'] or (w['bin'] >= 0 and p['bin'] != w['bin']) or \
                    len(p['chunks']) != w['count'] or ptrs != w['ptrs'] or \
                    w['more'] != (len(p['chunks']) > SHOW_CHUNKS):
                fail('%s: list %d: bins() has %s %s[%s] %d chunks %s, show %s %s[%s] %d chunks %s' % (
                    where, k, group, p['state'], p['bin'], len(p['chunks']), [hex(x) for x in ptrs],
                    w['group'], w['state'], w['bin'], w['count'], [hex(x) for x in w['ptrs']]), (self.label, 'list'))
                break
        dom = s['dom']
        if len(dom) != len(page):
            fail('%s: the bins panel draws %d lists, bins() has %d' % (where, len(dom), len(page)), (self.label, 'panel'))
        for k, (nodes, p) in enumerate(zip(dom, page)):
            want_nodes = [str(a) for a in p['chunks'][:DOM_CHUNKS]]
            if nodes != want_nodes:
                j = next((i for i, (x, y) in enumerate(zip(nodes, want_nodes)) if x != y), min(len(nodes), len(want_nodes)))
                fail('%s: the bins panel\'s list %d (%s[%s], %d chunks) draws %d boxes, differing from bins() at box %d: %s, not %s' % (
                    where, k, p['state'], p['bin'], len(p['chunks']), len(nodes), j,
                    hex(int(nodes[j])) if j < len(nodes) else 'none', hex(int(want_nodes[j])) if j < len(want_nodes) else 'none'),
                    (self.label, 'panel list'))
                break

    def check_brk(self, where, s, want):
        m = re.search(r'program break (0x[0-9a-f]+)', s['space'])
        shown = int(m.group(1), 16) if m else 0
        if shown != want['brk']:
            fail('%s: the address space panel gives the break as %s, show\'s main heap ends at %s' %
                 (where, m.group(1) if m else 'nothing', hex(want['brk']) if want['brk'] else 'no main heap'),
                 (self.label, 'break'))
        if s['brk'] != want['brk']:
            fail('%s: brk() is %s, show\'s main heap ends at %s' % (where, hex(s['brk']), hex(want['brk'])),
                 (self.label, 'brk()'))

    def check_words(self, where, n, s):
        """A call's step in words: the chapter and a sentence, not the bare decision."""
        e = self.events[n]
        if e['kind'] not in CALLS:
            return
        if not s['chapter'].startswith('chapter ') or len(s['step']) < 16 or s['step'] == e.get('decision'):
            fail('%s: %s (%s): no chapter or explanation, only %r %r' % (
                where, e['kind'], e.get('decision'), s['chapter'], s['step']), (self.label, 'why'))


# ---- the parts of the test ------------------------------------------------------------------

def call_after(events, n, direction):
    i = n + direction
    while 0 <= i < len(events):
        if events[i]['kind'] in CALLS:
            return i
        i += direction
    return len(events) - 1 if direction > 0 else 0


def visit(d, c, rng, events, how):
    """goTo each of the events, shuffled (so the page goes back too), and compare."""
    rng.shuffle(events)
    for n in events:
        got = d.execute_script('return ptallocView.goTo(arguments[0]);', n)
        if got != n:
            fail('%s: goTo(%d) returned %s' % (c.label, n, got))
        c.check(n, how)


def states(d, c, rng, spread, randoms, starts, kinds):
    """(a): the events chosen (first, last, marks and walks, `spread` spread
    evenly, `randoms` random ones, with `kinds` the first of each kind and
    decision), visited out of order, then stepping with keys from `starts`
    of them."""
    events, E = c.events, len(c.events)
    chosen = {0, E - 1}
    if kinds:
        first = {}
        for e in events:
            first.setdefault((e['kind'], e.get('decision'), e.get('state'), e.get('sys')), e['n'])
        chosen.update(first.values())
    marks = [e['n'] for e in events if e['kind'] in ('mark', 'walk')]
    chosen.update(marks)
    chosen.update(round(k * (E - 1) / (spread - 1)) for k in range(spread))
    chosen.update(rng.randrange(E) for _ in range(randoms))
    order = sorted(chosen)
    visit(d, c, rng, order, 'goTo')
    # Keys from some of them: forwards, then back over the same ground.
    stepped = 0
    for s in ([rng.choice(marks)] if marks else []) + rng.sample(order, starts - (1 if marks else 0)):
        d.execute_script('ptallocView.goTo(arguments[0]);', s)
        focus_body(d)
        at = s
        plan = ['R'] * 4 + ['SR'] * 2 + ['PD', 'PU'] + ['SL'] * 2 + ['L'] * 4
        for step in plan:
            key, want = {
                'R': (Keys.ARROW_RIGHT, min(at + 1, E - 1)),
                'L': (Keys.ARROW_LEFT, max(at - 1, 0)),
                'SR': ((Keys.SHIFT, Keys.ARROW_RIGHT), call_after(events, at, 1)),
                'SL': ((Keys.SHIFT, Keys.ARROW_LEFT), call_after(events, at, -1)),
                'PD': (Keys.PAGE_DOWN, min(at + 100, E - 1)),
                'PU': (Keys.PAGE_UP, max(at - 100, 0)),
            }[step]
            keys(d, key)
            got = d.execute_script('return ptallocView.at();')
            if got != want:
                fail('%s: key %s at event %d: the page went to %s, not %d' % (c.label, step, at, got, want), (c.label, 'key'))
                break
            c.check(want, 'key %s from %d' % (step, at))
            at = want
            stepped += 1
    return len(order), stepped


def window(d, c, first, last, rng):
    """A page of a window of a log (ptalloc html --from F --to T): it starts
    with the heap after event F - 1; its events keep the log's numbers."""
    info = d.execute_script('return [ptallocView.first(), ptallocView.events()];')
    if info != [first, last - first + 1]:
        fail('%s: first() and events() are %s, not [%d, %d]' % (c.label, info, first, last - first + 1))
        return 0
    what = d.execute_script('ptallocView.goTo(arguments[0]); return document.getElementById("describe").textContent;', first)
    if 'window' not in what:
        fail('%s: the first event does not say it is the heap before the window: %r' % (c.label, what[:200]))
    c.check(first, 'the heap before the window')
    chosen = sorted({first, last} | {rng.randrange(first, last + 1) for _ in range(14)})
    visit(d, c, rng, chosen, 'in the window')
    for n, want in ((first - 5, first), (0, first), (last + 5, last)):
        got = d.execute_script('return ptallocView.goTo(arguments[0]);', n)
        if got != want:
            fail('%s: goTo(%d), outside the window, went to %s, not %d' % (c.label, n, got, want))
    focus_body(d)
    for key, want in ((Keys.HOME, first), (Keys.ARROW_LEFT, first), (Keys.END, last)):
        keys(d, key)
        got = d.execute_script('return ptallocView.at();')
        if got != want:
            fail('%s: a key in the window went to %s, not %d' % (c.label, got, want))
    c.check(last, 'End in the window')
    return len(chosen)


def keyboard(d, c, rng):
    """(b): keys, Tab order, focus, the table and the bins panel."""
    E, label = len(c.events), c.label
    at = lambda: d.execute_script('return ptallocView.at();')
    d.execute_script('ptallocView.goTo(arguments[0]);', E // 2)
    focus_body(d)
    for ks, want, what in (((Keys.HOME,), 0, 'Home'), ((Keys.ARROW_LEFT,), 0, 'Left at event 0'),
                           (((Keys.SHIFT, Keys.ARROW_RIGHT),), call_after(c.events, 0, 1), 'Shift+Right from 0'),
                           ((Keys.END,), E - 1, 'End'), ((Keys.ARROW_RIGHT,), E - 1, 'Right at the last event'),
                           (((Keys.SHIFT, Keys.ARROW_LEFT),), call_after(c.events, E - 1, -1), 'Shift+Left from the end')):
        keys(d, *ks)
        if at() != want:
            fail('%s: %s: at event %s, not %d' % (label, what, at(), want))

    # Tab from the top of the page: the controls in order, each with a focus ring.
    focus_body(d)
    d.execute_script('document.body.tabIndex = -1; document.body.focus(); document.body.removeAttribute("tabindex");')
    order, rings = [], {}
    for _ in range(30):
        keys(d, Keys.TAB)
        el = d.execute_script("""const e = document.activeElement, s = getComputedStyle(e);
          return [e.id || e.className || e.tagName, s.outlineStyle + ' ' + s.outlineWidth];""")
        order.append(el[0])
        rings[el[0]] = el[1]
        if el[0] == 'chunk-table':
            break
    want = ['first', 'prev-call', 'prev', 'event', 'next', 'next-call', 'last', 'addr', 'find', 'plot', 'strip', 'chunk-table']
    reached = [x for x in order if x in want]
    if reached != want:
        fail('%s: Tab from the top reaches %s; expected the controls %s in that order' % (label, order, want))
    for k in ('first', 'next', 'plot', 'chunk-table'):
        if k in rings and not rings[k].startswith('solid'):
            fail('%s: #%s has no visible focus ring when tabbed to (outline %s)' % (label, k, rings[k]))
    print('  Tab order: ' + ' '.join(order))

    # A button by the keyboard: Enter on "event >" steps one event.
    d.execute_script('ptallocView.goTo(10); document.getElementById("next").focus();')
    keys(d, Keys.ENTER)
    if at() != 11:
        fail('%s: Enter on the focused "event >" button: at %s, not 11' % (label, at()))
    # g: the event field; a number and Enter go there.
    focus_body(d)
    n = rng.randrange(E)
    keys(d, 'g')
    if d.execute_script('return document.activeElement.id;') != 'event':
        fail('%s: g does not focus the event field' % label)
    else:
        keys(d, str(n), Keys.ENTER)
        if at() != n:
            fail('%s: g %d Enter: at event %s' % (label, n, at()))

    # The chunk table: Down and Up move the selection through the chunks in order.
    chunks = [x['addr'] for x in d.execute_script('return ptallocView.chunks();')]
    d.execute_script('ptallocView.select(0); document.getElementById("chunk-table").focus();')
    before = d.execute_script('return ptallocView.selected();')
    keys(d, Keys.ARROW_DOWN)
    s1 = d.execute_script('return ptallocView.selected();')
    if s1 == before or s1 not in chunks:
        fail('%s: Down in the chunk table: selected() %s (before %s), not a chunk' % (label, s1, before))
    else:
        if s1 != chunks[0]:
            print('  note: with nothing selected, Down in the chunk table selects the chunk at %s, row %d, not the first'
                  % (hex(s1), chunks.index(s1)))
        keys(d, Keys.ARROW_DOWN)
        s2 = d.execute_script('return ptallocView.selected();')
        k = chunks.index(s1)
        if k + 1 < len(chunks) and s2 != chunks[k + 1]:
            fail('%s: Down again: selected() %s, the next chunk is %s' % (label, s2, hex(chunks[k + 1])))
        keys(d, Keys.ARROW_UP)
        if d.execute_script('return ptallocView.selected();') != s1:
            fail('%s: Up in the chunk table does not go back to %s' % (label, hex(s1)))
        keys(d, Keys.END)
        if d.execute_script('return ptallocView.selected();') != chunks[-1]:
            fail('%s: End in the chunk table does not select the last chunk' % label)
        if at() != n:
            fail('%s: End in the chunk table moved the event to %s' % (label, at()))
        sel = d.execute_script('return ptallocView.selected();')
        row = d.execute_script('const r = document.querySelector("#rows .tr.sel"); return r ? +r.dataset.a : null;')
        detail = d.find_element(By.ID, 'detail-body').text
        if row != sel:
            fail('%s: the highlighted table row is %s, selected() %s' % (label, row, sel))
        if hex(sel) not in detail:
            fail('%s: the selected chunk panel does not name %s' % (label, hex(sel)))
    # A box of the bins panel: Enter selects its chunk.
    node = d.execute_script('const g = document.querySelector("#bins-body g.node"); if (g) g.focus(); return g ? g.getAttribute("data-sel") : null;')
    if node:
        keys(d, Keys.ENTER)
        if str(d.execute_script('return ptallocView.selected();')) != node:
            fail('%s: Enter on a box of the bins panel does not select chunk %s' % (label, node))
    # /: the address field; a user pointer and Enter select its chunk.
    if chunks:
        a = chunks[len(chunks) // 2]
        focus_body(d)
        keys(d, '/')
        if d.execute_script('return document.activeElement.id;') != 'addr':
            fail('%s: / does not focus the address field' % label)
        else:
            keys(d, hex(a + 16), Keys.ENTER)
            if d.execute_script('return ptallocView.selected();') != a:
                fail('%s: / %s Enter: selected() %s, not the chunk %s' % (label, hex(a + 16),
                     d.execute_script('return ptallocView.selected();'), hex(a)))


def safe_linking(d, c):
    """The selected chunk panel's links of a tcache and a fastbin chunk:
    safe-linked as the library stores them, (mem >> 12) ^ next, where next
    is the next entry's user pointer in a tcache (TC_END, 1, after the
    last) and the next chunk in a fastbin."""
    checked = set()
    for n in sorted(c.show.cache):
        for w in c.show.cache[n]['lists']:
            if w['state'] in ('tcache', 'fastbin') and w['count'] >= 2 and w['state'] not in checked:
                checked.add(w['state'])
                d.execute_script('ptallocView.goTo(arguments[0]);', n)
                chunks = [x['chunks'] for x in d.execute_script('return ptallocView.bins();')
                          if x['state'] == w['state'] and [a + 16 for a in x['chunks'][:SHOW_CHUNKS]] == w['ptrs']][0]
                cases = [(chunks[0], chunks[1] + 16 if w['state'] == 'tcache' else chunks[1])]
                if w['state'] == 'tcache':
                    cases.append((chunks[-1], 1))
                for a, nxt in cases:
                    d.execute_script('ptallocView.select(arguments[0]);', a)
                    text = d.find_element(By.ID, 'detail-body').text
                    want = hex(((a + 16) >> 12) ^ nxt)
                    if not re.search(r'\b(next|fd)\s+%s\s+%s\b' % (hex(a + 16), want), text):
                        fail('%s: event %d: %s chunk %s: its %s field should hold %s ((%s >> 12) ^ %s): %s' % (
                            c.label, n, w['state'], hex(a), 'next' if w['state'] == 'tcache' else 'fd', want,
                            hex(a + 16), hex(nxt), text[:400].replace('\n', ' | ')))
    return sorted(checked)


def tour(d, c):
    """The chapters of a tour: the page opens at the first, ] and [ move.
    Scenes go by chapter number (make demo marks chapter 1 last)."""
    scenes = d.execute_script('return ptallocView.scenes();')
    marks = [e for e in c.events if e['kind'] == 'mark' and e.get('label', '').startswith('chapter ')]
    marks.sort(key=lambda e: (int(e['label'].split()[1]), e['n']))
    if len(scenes) != len(marks) or [s['event'] for s in scenes] != [e['n'] for e in marks]:
        fail('%s: scenes() %s, the log\'s chapter marks at %s' % (c.label, scenes, [e['n'] for e in marks]))
        return
    sel_of = [int(re.search(r'select (0x[0-9a-f]+)', e['label']).group(1), 16) - 16 for e in marks]
    at = lambda: d.execute_script('return ptallocView.at();')
    selected = lambda: d.execute_script('return ptallocView.selected();')
    if at() != scenes[0]['event'] or selected() != sel_of[0]:
        fail('%s: opened at event %s with %s selected, not chapter 1 (event %d, %s)' % (
            c.label, at(), selected(), scenes[0]['event'], hex(sel_of[0])))
    focus_body(d)
    for k in range(1, len(scenes)):
        keys(d, ']')
        title = d.find_element(By.ID, 'tour-title').text
        if at() != scenes[k]['event'] or selected() != sel_of[k] or not title.startswith('Chapter %d' % scenes[k]['chapter']) \
                or not title.endswith(scenes[k]['title']) or '%d of %d' % (k + 1, len(scenes)) not in title:
            fail('%s: ] to chapter %d: at %s, selected %s, title %r' % (c.label, k + 1, at(), selected(), title))
        c.check(at(), 'chapter %d' % (k + 1))
    keys(d, ']')
    if at() != scenes[-1]['event']:
        fail('%s: ] past the last chapter moved to event %s' % (c.label, at()))
    for k in range(len(scenes) - 2, -1, -1):
        keys(d, '[')
        if at() != scenes[k]['event'] or selected() != sel_of[k]:
            fail('%s: [ back to chapter %d: at %s, selected %s' % (c.label, k + 1, at(), selected()))
        c.check(at(), 'back to chapter %d' % (k + 1))
    print('  tour: %d chapters, ] and [ through them' % len(scenes))


def unit(d, table):
    """(c): the page's lib against the library's bins and Python's arithmetic."""
    runs = [tuple(int(x) for x in line.split()) for line in open(table) if line.strip()]
    end = runs[-1][1]
    page_runs = d.execute_script("""
      const L = ptallocView.lib, end = arguments[0], out = [], bad = [];
      const S = L.stateNames, SMALL = S.indexOf('smallbin'), LARGE = S.indexOf('largebin');
      let lo = 32, bin = L.binOf(SMALL, 32);
      for (let s = 48; s <= end; s += 16) {
        const b = s < 1024 ? L.binOf(SMALL, s) : L.binOf(LARGE, s);
        if (s >= 1024 && L.largebinIndex(s) !== b && bad.length < 5) bad.push([s, L.largebinIndex(s), b]);
        if (b !== bin) { out.push([lo, s - 16, bin]); lo = s; bin = b; }
      }
      out.push([lo, end, bin]);
      return [out, bad];""", end)
    got, bad = [tuple(r) for r in page_runs[0]], page_runs[1]
    if bad:
        fail('lib: largebinIndex and binOf(largebin) disagree: %s' % bad)
    if got != runs:
        wrong = [(w, g) for w, g in zip(runs, got) if w != g][:4]
        fail('lib: binOf differs from ptalloc_bin_index: %d runs in the page, %d in the library; first: %s' % (
            len(got), len(runs), wrong))
    # binRange: the sizes of each small and large bin, exactly.
    ranges = d.execute_script("""
      const L = ptallocView.lib, S = L.stateNames, out = {};
      for (let b = 2; b <= 126; b++) out[b] = L.binRange(b < 64 ? S.indexOf('smallbin') : S.indexOf('largebin'), b);
      return out;""")
    for lo, hi, b in runs:
        words = ranges.get(str(b))
        if b == 126:
            want = '%d bytes and more' % lo
        elif lo == hi:
            want = '%d bytes' % lo
        else:
            want = '%d\u2013%d bytes' % (lo, hi)
        if words != want:
            fail('lib: binRange(bin %d) is %r; the library puts %s' % (b, words, want))
    # The caches: binRange and binOf agree; every size of a range maps to its bin.
    bad = d.execute_script("""
      const L = ptallocView.lib, S = L.stateNames, out = [];
      for (const [st, bins] of [[S.indexOf('tcache'), 112], [S.indexOf('fastbin'), 9]]) {
        for (let b = 0; b < bins; b++) {
          const w = L.binRange(st, b), m = /^(\\d+)(?:\\u2013(\\d+))? bytes$/.exec(w);
          if (!m) { out.push([st, b, w]); continue; }
          const lo = +m[1], hi = m[2] ? +m[2] : lo;
          for (let s = lo; s <= hi; s += 16) if (L.binOf(st, s) !== b) out.push([st, b, w, s, L.binOf(st, s)]);
          if (L.binOf(st, lo - 16) === b || L.binOf(st, hi + 16) === b) out.push([st, b, w, 'edge']);
        }
      }
      return out.slice(0, 6);""")
    if bad:
        fail('lib: the caches\' binRange and binOf disagree: %s' % bad)
    # xor (safe-linking) against Python's, on 48-bit addresses; hex as C's %#llx (0 is "0").
    rng = random.Random(7)
    pairs = [(rng.randrange(1 << 48) & ~15, rng.randrange(1 << 48)) for _ in range(300)]
    pairs += [((1 << 48) - 16, (1 << 48) - 1), (0x7fffffffe000, 0x555555554000), (4096, 0), (0, 0)]
    got = d.execute_script('const L = ptallocView.lib; return arguments[0].map(([a, b]) => '
                           '[L.xor(Math.floor(a / 4096), b), L.hex(a)]);', pairs)
    for (a, b), (x, h) in zip(pairs, got):
        if x != (a >> 12) ^ b:
            fail('lib: xor(%s >> 12, %s) is %s, Python says %s' % (hex(a), hex(b), hex(int(x)), hex((a >> 12) ^ b)))
            break
        if h != ('%#x' % a if a else '0'):     # C's %#llx, as ptalloc show prints
            fail('lib: hex(%d) is %s, not %s' % (a, h, '%#x' % a if a else '0'))
            break
    got = d.execute_script('return [0, 1536, 10239, 20480, 31457280, 3 * 2 ** 30 * 10].map(ptallocView.lib.fmtBytes);')
    want = ['0 B', '1536 B', '10239 B', '20.0 KiB', '30.0 MiB', '30.00 GiB']
    if got != want:
        fail('lib: fmtBytes gives %s, not %s' % (got, want))
    print('lib: bins of %d runs of sizes up to %d bytes, binRange of bins 2-126, the caches, %d xors: checked'
          % (len(runs), end, len(pairs)))


# ---- screenshots ---------------------------------------------------------------------------

SETTLE = """
const done = arguments[arguments.length - 1];
/* two frames: the panels that came on screen are seen, then drawn */
requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => ptallocView.settled().then(() => done(null)), 0)));
"""


def shot(d, path):
    d.execute_async_script(SETTLE)
    d.save_screenshot(path)
    print('  screenshot ' + path)


def clip_png(d, path, width, height):
    import base64
    d.execute_async_script(SETTLE)
    png = d.execute_cdp_cmd('Page.captureScreenshot', {
        'format': 'png', 'captureBeyondViewport': False,
        'clip': {'x': 0, 'y': 0, 'width': width, 'height': height, 'scale': 1}})
    with open(path, 'wb') as f:
        f.write(base64.b64decode(png['data']))


def representative(c):
    """Of the walks and marks, the event whose heap has a large bin and the
    most kinds of chunk (state and arena), from show's text."""
    best, best_key = 0, None
    for e in c.events:
        if e['kind'] not in ('walk', 'mark'):
            continue
        want = c.show.at(e['n'])
        kinds, arena = set(), ''
        for line in want['text'].split('\n'):
            if line.startswith('arena ') or line == 'mmapped chunks':
                arena = line.split(',')[0]
            m = re.match(r'  \| +0x[0-9a-f]+ \| +\d+ \| ... \| ([a-z ]+?)( \[|\s*\|)', line)
            if m:
                kinds.add((arena, m.group(1)))
        key = (any(w['state'] == 'largebin' for w in want['lists']), len(kinds))
        if best_key is None or key > best_key:
            best, best_key = e['n'], key
    return best


def select_binned(d):
    """Selects the first chunk of the longest large (or small, unsorted, tcache) list."""
    bins = d.execute_script('return ptallocView.bins();')
    for state in ('largebin', 'smallbin', 'unsorted', 'tcache'):
        lists = sorted((b for b in bins if b['state'] == state), key=lambda b: -len(b['chunks']))
        if lists:
            d.execute_script('ptallocView.select(arguments[0]);', lists[0]['chunks'][0])
            return lists[0]['chunks'][0]
    return 0


def screenshots(d, pages, shots, docs):
    os.makedirs(shots, exist_ok=True)
    c = pages[0]
    n = representative(c.checker)
    load(d, c.page, c.label, '#%d' % n)
    select_binned(d)
    focus_body(d)
    shot(d, os.path.join(shots, 'selected.png'))
    d.execute_script('ptallocView.select(0);')
    shot(d, os.path.join(shots, 'default.png'))
    drawn = {}
    for scale in ('linear', 'log'):
        d.find_element(By.CSS_SELECTOR, 'input[name=scale][value=%s]' % scale).click()
        # the address space (its regions' widths) and the chunk picture (the chunks' widths)
        drawn[scale] = d.execute_script('return document.getElementById("space-svg").innerHTML + '
                                        'document.getElementById("strip").toDataURL();')
        shot(d, os.path.join(shots, 'scale-%s.png' % scale))
    if drawn['linear'] == drawn['log']:
        fail('%s: the address space and the chunks are drawn the same on the linear and the logarithmic scale' % c.label)
    d.execute_script('document.querySelector("#text details").open = true;'
                     'document.getElementById("text").scrollIntoView();')
    shot(d, os.path.join(shots, 'text.png'))
    d.execute_script('document.querySelector("#bins").scrollIntoView();')
    shot(d, os.path.join(shots, 'bins.png'))
    for p in pages[1:]:
        if p.has_tour:
            load(d, p.page, p.label)
            shot(d, os.path.join(shots, 'tour-%s.png' % p.label))
    console_check(d, 'screenshots')
    if not docs:
        return
    # docs: 1400 px wide, from the top to the end of the chunks and the selected chunk.
    d.set_window_size(1400, 1800)
    load(d, c.page, c.label, '#%d' % n)
    select_binned(d)
    d.execute_script('window.scrollTo(0, 0);')
    width = d.execute_script('return window.innerWidth;')
    bottom = d.execute_script("""const b = (id) => document.getElementById(id).getBoundingClientRect().bottom;
      return Math.ceil(Math.max(b('chunks'), b('detail'))) + 8;""")
    if bottom > d.execute_script('return window.innerHeight;'):
        fail('%s: the top of the page is %d px high, more than the window' % (docs, bottom))
    clip_png(d, docs, min(width, 1400), bottom)
    size = os.path.getsize(docs)
    print('  %s: event %d, %dx%d, %d bytes' % (docs, n, min(width, 1400), bottom, size))
    if size >= 400 * 1024:
        fail('%s is %d bytes, more than 400 KB' % (docs, size))
    d.set_window_size(1500, 2000)


# ---- main ------------------------------------------------------------------------------------

class Page:
    pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ptalloc', required=True)
    ap.add_argument('--shots', required=True)
    ap.add_argument('--docs')
    ap.add_argument('--bins')
    ap.add_argument('--window', action='append', default=[], help='LABEL=LOG=PAGE=FROM:TO, a page of ptalloc html --from --to')
    ap.add_argument('pages', nargs='+', help='LABEL=LOG=PAGE')
    args = ap.parse_args()
    seed = int(os.environ.get('HTML_SEED') or random.randrange(1, 1 << 30))
    print('seed %d (HTML_SEED=%d repeats the random events)' % (seed, seed), flush=True)
    t0 = time.time()
    pages = []
    for spec in args.pages:
        p = Page()
        p.label, p.log, p.page = spec.rsplit('=', 2)
        p.events = json.loads(subprocess.run([args.ptalloc, 'json', p.log], capture_output=True, text=True,
                                             check=True).stdout)['events']
        p.has_tour = any(e['kind'] == 'mark' and e.get('label', '').startswith('chapter ') for e in p.events)
        pages.append(p)
    d = browser()
    print('browser started in %.1f s' % (time.time() - t0), flush=True)
    try:
        for k, p in enumerate(pages):
            rng = random.Random(seed + k)
            tp = time.time()
            secs = load(d, p.page, p.label)
            if secs is None:
                console_check(d, p.label)
                continue
            c = p.checker = Checker(d, p.label, Show(args.ptalloc, p.log), p.events)
            p.label = c.label
            info = d.execute_script('return [ptallocView.events(), ptallocView.timing.load];')
            if info[0] != len(p.events):
                fail('%s: the page has %d events, ptalloc json %d' % (p.label, info[0], len(p.events)))
            if p.has_tour:
                tour(d, c)
            jumps, stepped = states(d, c, rng, *((6, 6, 2, True) if k == 0 else (2, 3, 1, p.label == 'python')))
            print('  %s: states %.1f s' % (p.label, time.time() - tp))
            if k == 0:
                keyboard(d, c, rng)
                linked = safe_linking(d, c)
                print('  safe-linking in the selected chunk panel: %s' % (' and '.join(linked) or 'no list of two chunks met'))
                # The event in the address: page.html#N opens at N.
                n = rng.randrange(len(p.events))
                load(d, p.page, p.label, '#%d' % n)
                if d.execute_script('return ptallocView.at();') != n:
                    fail('%s: page.html#%d opens at event %s' % (p.label, n, d.execute_script('return ptallocView.at();')))
                else:
                    c.check(n, 'opened as page.html#%d' % n)
            console_check(d, p.label)
            more_failures(p.label)
            print('%s: %d states compared with ptalloc show (%d events jumped to, %d reached by keys); '
                  'page %d bytes, %d events, loaded in %.2f s (timing.load %.0f ms); %.1f s' % (
                      p.label, c.compared, jumps, stepped, os.path.getsize(p.page), len(p.events), secs, info[1],
                      time.time() - tp),
                  flush=True)
        tp = time.time()
        if args.bins:
            unit(d, args.bins)
            console_check(d, 'lib')
        for k, spec in enumerate(args.window):
            label, log, page, span = spec.rsplit('=', 3)
            lo, hi = (int(x) for x in span.split(':'))
            events = json.loads(subprocess.run([args.ptalloc, 'json', log], capture_output=True, text=True,
                                               check=True).stdout)['events']
            if load(d, page, label) is not None:
                c = Checker(d, label, Show(args.ptalloc, log), events)
                n = window(d, c, lo - 1, min(hi, len(events) - 1), random.Random(seed + 100 + k))
                console_check(d, label)
                print('%s: events %d to %d, %d states compared with ptalloc show' % (label, lo - 1, min(hi, len(events) - 1), c.compared))
        screenshots(d, pages, args.shots, args.docs)
        print('lib and screenshots: %.1f s' % (time.time() - tp))
    except Exception as e:           # a page that hangs or a driver that dies: one line, then the trace
        fail('%s: %s' % (type(e).__name__, str(e).split('\n')[0]))
        import traceback
        traceback.print_exc()
    finally:
        d.quit()
    print('browser checks took %.1f s; %d failures' % (time.time() - t0, len(failures)))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
