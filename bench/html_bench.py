"""Times a page of `ptalloc html` in headless Chromium (bench/html.sh).

Per browser session: the load (navigation start to the heap drawn at the
last event, as the page measures it), then steps taken as a user takes
them: keys Right and Left (one event), Shift+Right (one call), and jumps
to events far away.  A step is timed from the key's dispatch in the page
to the next frame drawn after it.  Prints a Markdown table: median and
range over every step of every session.
"""
import os
import random
import statistics
import sys

from selenium import webdriver
from selenium.webdriver.chrome.options import Options

STEP = """
const [key, shift, done] = arguments;
const t0 = performance.now();
document.body.dispatchEvent(new KeyboardEvent('keydown', {key, shiftKey: shift, bubbles: true}));
const script = performance.now() - t0;
requestAnimationFrame(() => setTimeout(() => done([script, performance.now() - t0, window.ptallocView.at()]), 0));
"""
JUMP = """
const [n, done] = arguments;
const t0 = performance.now();
window.ptallocView.goTo(n);
const script = performance.now() - t0;
requestAnimationFrame(() => setTimeout(() => done([script, performance.now() - t0, window.ptallocView.at()]), 0));
"""


def session(page, rng):
    o = Options()
    for a in ('--headless=new', '--no-sandbox', '--disable-gpu', '--window-size=1500,1600'):
        o.add_argument(a)
    d = webdriver.Chrome(options=o)
    d.set_script_timeout(120)
    try:
        d.get('file://' + page)
        err = d.execute_async_script(
            'const done = arguments[0]; window.ptallocView.ready.then(() => done(null), (e) => done(String(e)));')
        if err:
            raise SystemExit('the page failed: ' + err)
        t = d.execute_script('return window.ptallocView.timing')
        events = d.execute_script('return window.ptallocView.events()')
        r = {'load': [t['load']], 'unpack': [t['unpack']], 'index': [t['index']], 'apply': [t['apply']],
             'Right': [], 'Left': [], 'Shift+Right': [], 'jump': []}
        d.execute_script('window.ptallocView.goTo(arguments[0])', events // 2)
        for name, key, shift in (('Right', 'ArrowRight', False), ('Left', 'ArrowLeft', False),
                                 ('Shift+Right', 'ArrowRight', True)):
            for _ in range(30):
                r[name].append(d.execute_async_script(STEP, key, shift)[1])
        for _ in range(8):
            r['jump'].append(d.execute_async_script(JUMP, rng.randrange(events))[1])
        return r, events
    finally:
        d.quit()


def main():
    page, runs = sys.argv[1], int(sys.argv[2])
    rng = random.Random(7)
    total = {}
    events = 0
    for _ in range(runs):
        r, events = session(page, rng)
        for k, v in r.items():
            total.setdefault(k, []).extend(v)
    size = os.path.getsize(page)
    print('# ptalloc html: the page at scale\n')
    print('%d events, page %d bytes (%.1f MiB), %d browser sessions, headless Chromium, %d cores\n'
          % (events, size, size / 1048576, runs, os.cpu_count()))
    print('| what | median ms | min | max | n |')
    print('|---|---:|---:|---:|---:|')
    names = {'load': 'open (navigation start to the heap drawn)', 'unpack': '  of which: unpacking the data',
             'index': '  of which: indexing the events', 'apply': '  of which: replaying to the last event',
             'Right': 'step: Right (next event), to the next frame', 'Left': 'step: Left (previous event)',
             'Shift+Right': 'step: Shift+Right (next call)', 'jump': 'jump to a random event'}
    for k in ('load', 'unpack', 'index', 'apply', 'Right', 'Left', 'Shift+Right', 'jump'):
        v = total[k]
        print('| %s | %.0f | %.0f | %.0f | %d |' % (names[k], statistics.median(v), min(v), max(v), len(v)))


if __name__ == '__main__':
    main()
