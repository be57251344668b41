/*
 * ptalloc's heap viewer: the page `ptalloc html` writes (cmd/html.c).
 *
 * The command has rebuilt the heap event by event and written every change
 * it made (a chunk or region removed, with all it held, or added); this
 * code replays those changes forwards and undoes them backwards, so the
 * heap at any event is exact without the page knowing the allocator's
 * rules.  The stream's format is described at the top of cmd/html.c.
 *
 * Parts: names and words; reading the data (an index of every event's
 * place in the stream); the model (chunks by address, the bins' lists,
 * regions, totals, bytes live by call site); moving through the events;
 * the views (timeline and plot, address space, chunk picture and table,
 * the selected chunk's header, bins, call sites, the text picture); the
 * tour; keys.  window.ptallocView is the page's interface for tests.
 */
(function () {
  'use strict';

  /* ---- names and words ------------------------------------------------ */

  const T = { MALLOC: 1, CALLOC: 2, REALLOC: 3, REALLOCARRAY: 4, FREE: 5, FREE_SIZED: 6,
    FREE_ALIGNED_SIZED: 7, MEMALIGN: 8, ALIGNED_ALLOC: 9, POSIX_MEMALIGN: 10, VALLOC: 11,
    PVALLOC: 12, MALLOC_TRIM: 13, SET: 32, SYS: 48, CONSOLIDATE: 49, ARENA_NEW: 50,
    THREAD_START: 51, THREAD_EXIT: 52, FORK: 53, MARK: 54, SNAPSHOT: 55, SNAPSHOT_END: 56,
    ARENA: 57, MODULES: 58, END: 59, WALK: 60 };
  const TYPE_NAMES = {};
  ['malloc', 'calloc', 'realloc', 'reallocarray', 'free', 'free_sized', 'free_aligned_sized',
    'memalign', 'aligned_alloc', 'posix_memalign', 'valloc', 'pvalloc', 'malloc_trim']
    .forEach((n, i) => { TYPE_NAMES[i + 1] = n; });
  Object.assign(TYPE_NAMES, { 32: 'set', 48: 'sys', 49: 'consolidate', 50: 'arena_new',
    51: 'thread_start', 52: 'thread_exit', 53: 'fork', 54: 'mark', 55: 'snapshot',
    56: 'snapshot_end', 57: 'arena', 58: 'modules', 59: 'end', 60: 'walk' });
  const isCall = (t) => t >= 1 && t <= 13;
  const isFree = (t) => t === T.FREE || t === T.FREE_SIZED || t === T.FREE_ALIGNED_SIZED;
  const isRealloc = (t) => t === T.REALLOC || t === T.REALLOCARRAY;
  const DECISIONS = ['none', 'tcache', 'fastbin', 'smallbin', 'unsorted', 'last_remainder', 'largebin',
    'binmap', 'top', 'mmap', 'munmap', 'remote', 'tcache_mid', 'in_place', 'moved', 'mremap',
    'failed', 'null', 'trim'];
  const D = {}; DECISIONS.forEach((n, i) => { D[n] = i; });
  const S = { INUSE: 0, TCACHE: 1, FASTBIN: 2, UNSORTED: 3, SMALLBIN: 4, LARGEBIN: 5, TOP: 6,
    MMAPPED: 7, FENCE: 8, REMOTE: 9, GONE: 10 };
  const STATES = ['inuse', 'tcache', 'fastbin', 'unsorted', 'smallbin', 'largebin', 'top', 'mmapped',
    'fence', 'remote', 'gone'];
  const STATE_WORDS = ['in use', 'tcache', 'fastbin', 'unsorted', 'small bin', 'large bin', 'top',
    'mmapped', 'fence', 'remote', 'gone'];
  const STATE_SHORT = ['use', 'tc', 'fast', 'uns', 'small', 'large', 'top', 'mmap', 'fence', 'rmt', ''];
  const SYS = ['?', 'brk', 'sbrk_shrink', 'segment', 'heap_new', 'heap_grow', 'heap_shrink',
    'heap_unmap', 'mmap', 'munmap', 'mremap', 'madvise'];
  const SYSK = { BRK: 1, SBRK_SHRINK: 2, SEGMENT: 3, HEAP_NEW: 4, HEAP_GROW: 5, HEAP_SHRINK: 6,
    HEAP_UNMAP: 7, MMAP: 8, MUNMAP: 9, MREMAP: 10, MADVISE: 11 };
  const HEAP_MAX = 64 * 1024 * 1024;

  /* Colours (Okabe-Ito, from the style sheet) and a pattern per state, so
   * that no state is told by colour alone. */
  const css = getComputedStyle(document.documentElement);
  const COLOR = STATES.map((s) => css.getPropertyValue('--' + s).trim() || '#888');
  const PATTERN = ['none', 'diag', 'dots', 'cross', 'hlines', 'vlines', 'none', 'grid', 'none', 'diag2', 'none'];
  const inUseState = (s) => s === S.INUSE || s === S.MMAPPED;
  /* The chunk before is counted in use by the next one's PREV_INUSE bit:
   * caches and fastbins keep it set. */
  const prevInuseState = (s) => s === S.INUSE || s === S.TCACHE || s === S.FASTBIN || s === S.REMOTE || s === S.FENCE;

  const hex = (n) => n ? '0x' + n.toString(16) : '0';      /* as C's %#llx */
  const fmtBytes = (n) => n < 10240 ? n + ' B' : n < 10485760 ? (n / 1024).toFixed(1) + ' KiB'
    : n < 10737418240 ? (n / 1048576).toFixed(1) + ' MiB' : (n / 1073741824).toFixed(2) + ' GiB';
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
  const $ = (id) => document.getElementById(id);

  /* Bin numbers as the design has them (include/ptalloc.h, tlog_bin). */
  function largebinIndex(sz) {
    if (Math.floor(sz / 64) <= 48) return 48 + Math.floor(sz / 64);
    if (Math.floor(sz / 512) <= 20) return 91 + Math.floor(sz / 512);
    if (Math.floor(sz / 4096) <= 10) return 110 + Math.floor(sz / 4096);
    if (Math.floor(sz / 32768) <= 4) return 119 + Math.floor(sz / 32768);
    if (Math.floor(sz / 262144) <= 2) return 124 + Math.floor(sz / 262144);
    return 126;
  }
  const binIndex = (sz) => sz < 1024 ? Math.floor(sz / 16) : largebinIndex(sz);
  function binOf(state, size) {
    switch (state) {
      case S.TCACHE:
        if (size < 1056) return size / 16 - 2;
        return size < 1056 + 48 * 64 ? 64 + Math.floor((size - 1056) / 64) : -1;
      case S.FASTBIN: return size / 16 - 2;
      case S.UNSORTED: return 1;
      case S.SMALLBIN: case S.LARGEBIN: return binIndex(size);
      default: return -1;
    }
  }
  /* [lowest, highest] chunk size of a bin, in words. */
  function binRange(state, bin) {
    if (state === S.TCACHE) return bin < 64 ? (bin + 2) * 16 + ' bytes' : (1056 + 64 * (bin - 64)) + '–' + (1056 + 64 * (bin - 63) - 16) + ' bytes';
    if (state === S.FASTBIN) return (bin + 2) * 16 + ' bytes';
    if (state === S.UNSORTED) return 'any size';
    if (bin < 64) return bin * 16 + ' bytes';
    let lo = 1024, hi;
    while (binIndex(lo) < bin) lo += 16;
    if (bin === 126) return lo + ' bytes and more';
    hi = lo;
    let step = 16;
    while (binIndex(hi + step) === bin) { hi += step; step *= 2; }
    while (step > 16) { step /= 2; if (binIndex(hi + step) === bin) hi += step; }
    return lo + '–' + hi + ' bytes';
  }

  /* ---- reading the data --------------------------------------------------- */

  const meta = JSON.parse($('ptalloc-meta').textContent);
  let data;                             /* the unpacked stream */
  let pos = 0;                          /* the reader's place in it */
  function rdU() {
    let v = 0, mul = 1, b;
    do { b = data[pos++]; v += (b & 127) * mul; mul *= 128; } while (b & 128);
    return v;
  }
  function rdZ() { const u = rdU(); return u % 2 ? -(u + 1) / 2 : u / 2; }

  let E = 0;                            /* events in the page */
  /* The log's number of the page's first event: a page of a window of a
   * log (ptalloc html --from) starts with the heap as it was then.  Page
   * places (indexes) are used inside; the log's numbers are shown. */
  const base = meta.first || 0;
  const num = (i) => i + base, idx = (n) => n - base;
  let evPos, opPos, evRun, chRun, evType, evThread, evTime;
  let siteCount = meta.sites.length;

  /* One event's fields from its place in the stream (run: the running
   * address before it); pos is left at its changes. */
  function readEvent(i, run) {
    const e = { n: i, type: data[pos++] };
    e.thread = rdU();
    const t = e.type;
    if (isCall(t)) {
      rdU();                            /* ns: evTime has it */
      const d = data[pos++], flags = data[pos++];
      e.decision = d & 31; e.mergedPrev = (d >> 5) & 1; e.mergedNext = (d >> 6) & 1;
      e.request = rdU();
      if (t === T.CALLOC || t === T.REALLOCARRAY) { e.count = rdU(); e.elsize = rdU(); }
      if (isRealloc(t)) e.source = data[pos++];
      e.hasChunk = flags & 1;
      if (flags & 1) { run += rdZ() * 16; e.addr = run; e.size = rdU() * 16; }
      if (flags & 2) { run += rdZ() * 16; e.oldAddr = run; e.oldSize = rdU() * 16; }
      if (t === T.MEMALIGN || t === T.ALIGNED_ALLOC || t === T.POSIX_MEMALIGN || t === T.FREE_ALIGNED_SIZED) e.alignment = rdU();
      if (t === T.MALLOC_TRIM) { e.pad = rdU(); e.result = rdU(); }
      e.site = flags & 4 ? rdU() : 0;
    } else if (t === T.SET) {
      const st = data[pos++];
      e.state = st & 0x7f;
      if (st & 0x80) { run += rdZ() * 16; e.addr = run; e.size = rdU() * 16; }
      else {                            /* the chunk its last change adds */
        const save = pos, ops = readChangesAt(i, pos, chRun[i]);
        pos = save;
        for (const o of ops) if (o.add && !o.region) { e.addr = o.a; e.size = o.s; }
      }
    } else if (t === T.SYS) {
      e.sysKind = data[pos++]; e.arena = rdU(); run += rdZ() * 16; e.addr = run; e.size = rdU() * 16;
      if (e.sysKind === SYSK.MREMAP) { run += rdZ() * 16; e.newAddr = run; e.newSize = rdU() * 16; }
    } else if (t === T.CONSOLIDATE || t === T.ARENA) {
      e.arena = rdU();
    } else if (t === T.ARENA_NEW) {
      e.arena = rdU(); run += rdZ() * 16; e.addr = run;
    } else if (t === T.THREAD_START || t === T.FORK || t === T.WALK || t === T.MARK || t === T.MODULES) {
      e.value = rdU();
    }
    e.run = run;
    return e;
  }

  /* The changes of event i from the stream at `at` (run: the running
   * address there): each read into one reused object and given to fn.
   * Returns the running address after them; pos is past them. */
  const one = { add: 0, region: 0, st: 0, a: 0, s: 0, th: 0, l: -1, place: 0, site: 0, ev: 0, arena: 0, kind: 0 };
  let changesRead = 0;
  function eachChange(i, at, run, fn) {
    pos = at;
    const n = changesRead = rdU(), o = one;
    for (let k = 0; k < n; k++) {
      const kind = data[pos++];
      o.add = kind & 1; o.region = (kind >> 1) & 1;
      const st = o.add && !o.region ? data[pos++] : 0;   /* an added chunk's state comes first */
      run += rdZ() * 16; o.a = run;
      if (o.region) {
        o.s = rdU() * 16; o.arena = rdU(); o.kind = data[pos++];
      } else if (!o.add) {
        o.s = 0;                        /* removed: the page has the chunk */
      } else {
        o.st = st & 0x7f; o.s = rdU() * 16; o.th = rdU() - 1;
        o.l = -1; o.place = 0;
        if (st & 0x80) { o.l = rdU(); o.place = rdU(); }
        o.site = rdU();
        o.ev = num(i) - rdU();
      }
      fn(o);
    }
    return run;
  }

  /* One event's changes, as objects of their own. */
  function readChanges(i) { return readChangesAt(i, opPos[i], chRun[i]); }
  function readChangesAt(i, at, run) {
    const ops = [];
    eachChange(i, at, run, (o) => ops.push(Object.assign({}, o)));
    return ops;
  }

  /* base64 by the browser's own decoder (a data: URL), gzip by DecompressionStream. */
  async function unpack() {
    const text = $('ptalloc-data').textContent.trim();
    const gz = Uint8Array.fromBase64 ? new Blob([Uint8Array.fromBase64(text)])
      : await (await fetch('data:application/octet-stream;base64,' + text)).blob();
    const stream = gz.stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  const skip = () => {};
  function index() {
    E = meta.events;
    evPos = new Uint32Array(E + 1); opPos = new Uint32Array(E + 1);
    evRun = new Float64Array(E + 1); chRun = new Float64Array(E + 1);
    evType = new Uint8Array(E); evThread = new Uint16Array(E); evTime = new Float64Array(E);
    let run = 0, crun = 0, ns = 0;
    pos = 0;
    for (let i = 0; i < E; i++) {
      if (pos >= data.length) throw new Error('the page\'s data ends at event ' + i + ' of ' + E);
      evPos[i] = pos; evRun[i] = run;
      const t = evType[i] = data[pos++];
      evThread[i] = rdU();
      /* the event's fields, skipped (readEvent reads them) */
      if (isCall(t)) {
        ns += rdU(); pos++;
        const flags = data[pos++];
        rdU();
        if (t === T.CALLOC || t === T.REALLOCARRAY) { rdU(); rdU(); }
        if (isRealloc(t)) pos++;
        if (flags & 1) { run += rdZ() * 16; rdU(); }
        if (flags & 2) { run += rdZ() * 16; rdU(); }
        if (t === T.MEMALIGN || t === T.ALIGNED_ALLOC || t === T.POSIX_MEMALIGN || t === T.FREE_ALIGNED_SIZED) rdU();
        if (t === T.MALLOC_TRIM) { rdU(); rdU(); }
        if (flags & 4) rdU();
      } else if (t === T.SET) {
        if (data[pos++] & 0x80) { run += rdZ() * 16; rdU(); }
      } else if (t === T.SYS) {
        const kind = data[pos++]; rdU(); run += rdZ() * 16; rdU();
        if (kind === SYSK.MREMAP) { run += rdZ() * 16; rdU(); }
      } else if (t === T.CONSOLIDATE || t === T.ARENA) {
        rdU();
      } else if (t === T.ARENA_NEW) {
        rdU(); run += rdZ() * 16;
      } else if (t === T.THREAD_START || t === T.FORK || t === T.WALK || t === T.MARK || t === T.MODULES) {
        rdU();
      }
      evTime[i] = ns;
      opPos[i] = pos; chRun[i] = crun;
      crun = eachChange(i, pos, crun, skip);
    }
    evPos[E] = pos;
    if (pos !== data.length) throw new Error('the page\'s data has ' + (data.length - pos) + ' bytes past its last event');
  }

  function eventAt(i) { pos = evPos[i]; return readEvent(i, evRun[i]); }

  /* ---- the model: the heap after event `at` -------------------------------- */

  /* Chunks by address: open addressing on the address / 16, linear probes,
   * deletion by shifting back.  (A Map keyed by numbers past 2^31 boxes
   * every key; this is several times faster and smaller.) */
  class ChunkMap {
    constructor(cap) { this.init(cap || 1024); }
    init(cap) { this.keys = new Float64Array(cap); this.vals = new Array(cap).fill(undefined); this.mask = cap - 1; this.size = 0; }
    slot(a) {
      const k = a / 16, lo = k % 4294967296, hi = (k - lo) / 4294967296;
      return (Math.imul((lo ^ Math.imul(hi, 0x85ebca6b)) >>> 0, 0x9e3779b1) >>> 0) & this.mask;
    }
    get(a) {
      for (let i = this.slot(a); ; i = (i + 1) & this.mask) {
        const v = this.vals[i];
        if (v === undefined) return undefined;
        if (this.keys[i] === a) return v;
      }
    }
    has(a) { return this.get(a) !== undefined; }
    set(a, v) {
      if (2 * (this.size + 1) > this.mask + 1) this.grow();
      let i = this.slot(a);
      for (; this.vals[i] !== undefined; i = (i + 1) & this.mask)
        if (this.keys[i] === a) { this.vals[i] = v; return; }
      this.keys[i] = a; this.vals[i] = v; this.size++;
    }
    delete(a) {
      let i = this.slot(a);
      for (; ; i = (i + 1) & this.mask) {
        if (this.vals[i] === undefined) return false;
        if (this.keys[i] === a) break;
      }
      this.vals[i] = undefined; this.size--;
      for (let j = (i + 1) & this.mask; this.vals[j] !== undefined; j = (j + 1) & this.mask) {
        const h = this.slot(this.keys[j]);
        /* move j back to the hole at i unless its home lies in (i, j] */
        if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
          this.keys[i] = this.keys[j]; this.vals[i] = this.vals[j]; this.vals[j] = undefined; i = j;
        }
      }
      return true;
    }
    grow() {
      const keys = this.keys, vals = this.vals;
      this.init((this.mask + 1) * 2);
      for (let i = 0; i < vals.length; i++) if (vals[i] !== undefined) this.set(keys[i], vals[i]);
    }
    *values() { for (let i = 0; i < this.vals.length; i++) if (this.vals[i] !== undefined) yield this.vals[i]; }
    keyArray() {
      const out = new Float64Array(this.size);
      let n = 0;
      for (let i = 0; i < this.vals.length; i++) if (this.vals[i] !== undefined) out[n++] = this.keys[i];
      return out;
    }
  }

  const M = {
    at: -1,
    chunks: new ChunkMap(),            /* address -> chunk */
    lists: [],                         /* {head, tail, n} by number */
    regions: [],                       /* {start, end, arena, kind} by start */
    tot: { heap: 0, inUse: 0, free: 0, chunks: 0, mapped: 0 },
    siteBytes: null, siteChunks: null,
    sorted: new Float64Array(0), nsorted: 0, sortedDirty: false,
    errors: [],
  };

  function count(c, sign) {
    const d = sign * c.s;
    M.tot.heap += d; M.tot.chunks += sign;
    if (c.st === S.MMAPPED) M.tot.mapped += d;
    if (inUseState(c.st)) {
      M.tot.inUse += d;
      if (c.site) { M.siteBytes[c.site - 1] += d; M.siteChunks[c.site - 1] += sign; }
    } else if (c.st !== S.FENCE) {
      M.tot.free += d;
    }
  }

  function list(n) {
    while (M.lists.length <= n) M.lists.push({ head: 0, tail: 0, n: 0 });
    return M.lists[n];
  }

  function sortedInsert(a) {
    if (M.sortedDirty) return;
    if (M.nsorted === M.sorted.length) {
      const bigger = new Float64Array(Math.max(1024, M.sorted.length * 2));
      bigger.set(M.sorted.subarray(0, M.nsorted)); M.sorted = bigger;
    }
    const lo = lowerBound(a);
    M.sorted.copyWithin(lo + 1, lo, M.nsorted); M.sorted[lo] = a; M.nsorted++;
  }
  function sortedRemove(a) {
    if (M.sortedDirty) return;
    const i = lowerBound(a);
    if (i < M.nsorted && M.sorted[i] === a) { M.sorted.copyWithin(i, i + 1, M.nsorted); M.nsorted--; }
  }
  const lowerBound = (a) => lowerBoundIn(M.sorted.subarray(0, M.nsorted), a);
  function sortedNow() {
    if (M.sortedDirty) {
      M.sorted = M.chunks.keyArray().sort(); M.nsorted = M.sorted.length; M.sortedDirty = false;
    }
    return M.sorted.subarray(0, M.nsorted);
  }

  /* Chunk objects of removed chunks, reused (nothing keeps one across a move). */
  const pool = [];
  function insertChunk(o) {
    let c = pool.pop();
    if (c) { c.a = o.a; c.s = o.s; c.st = o.st; c.th = o.th; c.l = o.l; c.lp = 0; c.ln = 0; c.site = o.site; c.ev = o.ev; }
    else c = { a: o.a, s: o.s, st: o.st, th: o.th, l: o.l, lp: 0, ln: 0, site: o.site, ev: o.ev };
    if (M.chunks.has(c.a)) M.errors.push('event ' + num(M.at) + ': a chunk at ' + hex(c.a) + ' is there already');
    M.chunks.set(c.a, c);
    if (c.l >= 0) {                     /* o.place: 0 head, 1 tail, 2 + k after the first k */
      const L = list(c.l);
      let n;
      if (o.place === 0) n = L.head ? M.chunks.get(L.head) : undefined;
      else if (o.place === 1) n = undefined;
      else { n = L.head ? M.chunks.get(L.head) : undefined; for (let k = o.place - 2; k > 0 && n; k--) n = n.ln ? M.chunks.get(n.ln) : undefined; }
      const p = n ? (n.lp ? M.chunks.get(n.lp) : undefined) : (L.tail ? M.chunks.get(L.tail) : undefined);
      if (p) { c.lp = p.a; p.ln = c.a; } else L.head = c.a;
      if (n) { c.ln = n.a; n.lp = c.a; } else L.tail = c.a;
      L.n++;
    }
    count(c, 1);
    sortedInsert(c.a);
  }
  function removeChunk(a) {
    const c = M.chunks.get(a);
    if (!c) { M.errors.push('event ' + num(M.at) + ': no chunk at ' + hex(a) + ' to remove'); return; }
    if (c.l >= 0) {
      const L = list(c.l);
      const p = c.lp ? M.chunks.get(c.lp) : undefined, n = c.ln ? M.chunks.get(c.ln) : undefined;
      if (p) p.ln = c.ln; else L.head = c.ln;
      if (n) n.lp = c.lp; else L.tail = c.lp;
      L.n--;
    }
    count(c, -1);
    M.chunks.delete(a);
    sortedRemove(a);
    if (pool.length < 65536) pool.push(c);
  }
  function regionFind(o) {
    return M.regions.findIndex((r) => r.start === o.a && r.end === o.a + o.s && r.arena === o.arena && r.kind === o.kind);
  }
  function change(o, add) {
    if (o.region) {
      if (add) {
        const r = { start: o.a, end: o.a + o.s, arena: o.arena, kind: o.kind };
        let k = 0;
        while (k < M.regions.length && M.regions[k].start < r.start) k++;
        M.regions.splice(k, 0, r);
      } else {
        const k = regionFind(o);
        if (k >= 0) M.regions.splice(k, 1); else M.errors.push('event ' + num(M.at) + ': no region at ' + hex(o.a));
      }
    } else if (add) {
      insertChunk(o);
    } else {
      removeChunk(o.a);
    }
  }

  /* Event i: its changes applied as they are read.  The number of them. */
  function applyOne(o) {
    if (o.region) change(o, o.add);
    else if (o.add) insertChunk(o);
    else removeChunk(o.a);
  }
  function applyEvent(i) {
    eachChange(i, opPos[i], chRun[i], applyOne);
    return changesRead;
  }

  /* Checkpoints: copies of the model taken on the way forwards, so that
   * going back is starting again from the nearest one before.  One is
   * taken when the changes since the last outnumber twice the chunks
   * (and 20000): copying costs about what replaying costs, and memory
   * stays below a copy of the chunks per two changes replayed. */
  const checkpoints = [];
  let changesSince = 0;
  function checkpoint() {
    const n = M.chunks.size;
    const cp = { at: M.at, n, a: new Float64Array(n), s: new Float64Array(n), lp: new Float64Array(n), ln: new Float64Array(n),
      l: new Int32Array(n), th: new Int32Array(n), site: new Int32Array(n), ev: new Float64Array(n), st: new Uint8Array(n),
      lists: M.lists.map((L) => [L.head, L.tail, L.n]), regions: M.regions.map((r) => Object.assign({}, r)),
      tot: Object.assign({}, M.tot), siteBytes: M.siteBytes.slice(), siteChunks: M.siteChunks.slice() };
    let j = 0;
    for (const c of M.chunks.values()) {
      cp.a[j] = c.a; cp.s[j] = c.s; cp.lp[j] = c.lp; cp.ln[j] = c.ln; cp.l[j] = c.l; cp.th[j] = c.th;
      cp.site[j] = c.site; cp.ev[j] = c.ev; cp.st[j] = c.st; j++;
    }
    checkpoints.push(cp);
    changesSince = 0;
  }
  function restore(cp) {
    M.chunks = new ChunkMap(Math.max(1024, 2 ** Math.ceil(Math.log2(cp.n * 2 + 2))));
    for (let j = 0; j < cp.n; j++)
      M.chunks.set(cp.a[j], { a: cp.a[j], s: cp.s[j], st: cp.st[j], th: cp.th[j], l: cp.l[j], lp: cp.lp[j], ln: cp.ln[j], site: cp.site[j], ev: cp.ev[j] });
    M.lists = cp.lists.map(([head, tail, n]) => ({ head, tail, n }));
    M.regions = cp.regions.map((r) => Object.assign({}, r));
    M.tot = Object.assign({}, cp.tot);
    M.siteBytes = cp.siteBytes.slice(); M.siteChunks = cp.siteChunks.slice();
    M.at = cp.at;
    M.sortedDirty = true;
  }

  function moveTo(n) {
    n = Math.max(0, Math.min(E - 1, n | 0));
    if (n < M.at) {
      let k = checkpoints.length - 1;
      while (k > 0 && checkpoints[k].at > n) k--;
      restore(checkpoints[k]);
    }
    if (n - M.at > 48) M.sortedDirty = true;
    const last = checkpoints[checkpoints.length - 1].at;
    while (M.at < n) {
      M.at++;
      const changes = applyEvent(M.at);
      if (M.at > last) {
        changesSince += changes;
        if (changesSince > 20000 && changesSince > 2 * M.chunks.size) checkpoint();
      }
    }
  }

  function arenaOf(a) {
    let lo = 0, hi = M.regions.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (M.regions[mid].start <= a) lo = mid + 1; else hi = mid; }
    return lo && a < M.regions[lo - 1].end ? M.regions[lo - 1].arena : -1;
  }
  /* The chunk holding address a, or undefined. */
  function chunkHolding(a) {
    const s = sortedNow();
    let lo = 0, hi = s.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (s[mid] <= a) lo = mid + 1; else hi = mid; }
    if (!lo) return undefined;
    const c = M.chunks.get(s[lo - 1]);
    return c && a < c.a + c.s ? c : undefined;
  }

  /* ---- the text picture: what `ptalloc show --at N --all` prints ----------- */

  const RULE = '  +--------------------+------------+-----+----------------------+\n';
  const pad = (s, n) => s.length >= n ? s : ' '.repeat(n - s.length) + s;
  const padR = (s, n) => s.length >= n ? s : s + ' '.repeat(n - s.length);
  const arenaKey = (a) => a >= 0 ? a : a === -1 ? 2 ** 40 : 2 ** 41;

  /* Chunks as drawn: arena (-1 unknown, -2 mapped) and address order. */
  function drawnItems() {
    /* One pass in address order, each chunk to its arena's run (regions
     * are sorted and do not overlap), then the runs in arena order. */
    const s = sortedNow(), runs = new Map(), R = M.regions;
    let r = 0;
    for (let i = 0; i < s.length; i++) {
      const c = M.chunks.get(s[i]);
      while (r < R.length && R[r].end <= c.a) r++;
      const arena = c.st === S.MMAPPED ? -2 : r < R.length && R[r].start <= c.a ? R[r].arena : -1;
      let run = runs.get(arena);
      if (!run) runs.set(arena, run = []);
      run.push({ c, arena });
    }
    const keys = Array.from(runs.keys()).sort((x, y) => arenaKey(x) - arenaKey(y));
    return keys.length === 1 ? runs.get(keys[0]) : [].concat(...keys.map((k) => runs.get(k)));
  }

  function flagsOf(x, prev) {
    const adjacent = prev && prev.arena === x.arena && prev.c.a + prev.c.s === x.c.a;
    if (x.arena === -2) return '-M-';
    /* NON_MAIN_ARENA: on what the library hands out (and keeps in caches and fastbins) */
    const A = x.arena === -1 ? '?' : x.arena > 0 && prevInuseState(x.c.st) && x.c.st !== S.FENCE ? 'A' : '-';
    return A + '-' + (!adjacent || prevInuseState(prev.c.st) ? 'P' : '-');
  }

  function whereText(c) {
    const bin = binOf(c.st, c.s);
    if (c.st === S.TCACHE) return 'tcache [' + bin + '] t' + c.th;
    return bin >= 0 ? STATE_WORDS[c.st] + ' [' + bin + ']' : STATE_WORDS[c.st];
  }

  function regionsText() {
    let out = '', lastBrk = -1;
    M.regions.forEach((r, i) => { if (r.kind === SYSK.BRK) lastBrk = i; });
    if (M.regions.length) out += 'regions:\n';
    M.regions.forEach((r, i) => {
      const kind = r.kind === SYSK.BRK ? 'heap (brk)' : r.kind === SYSK.SEGMENT ? 'heap (mmap)' : 'sub-heap';
      out += '  arena ' + r.arena + ' ' + padR(kind, 11) + ' ' + pad(hex(r.start), 18) + ' - ' + padR(hex(r.end), 18) + ' ' +
        pad(String(r.end - r.start), 12) + ' bytes';
      if (i === lastBrk) out += ', the program break at its end';
      else if (r.kind === SYSK.HEAP_NEW) out += ' of 67108864 reserved';
      out += '\n';
    });
    return out;
  }

  function heapText() {
    const t = M.tot;
    let out = 'heap ' + t.heap + ' bytes in ' + t.chunks + ' chunks: ' + t.inUse + ' in use, ' + t.free + ' free\n';
    out += regionsText();
    const items = drawnItems();
    let arena = -3, segment = -1;
    for (let k = 0; k < items.length; k++) {
      const x = items[k], prev = k ? items[k - 1] : null;
      const adjacent = prev && prev.arena === x.arena && prev.c.a + prev.c.s === x.c.a;
      if (x.arena !== arena || (!adjacent && x.arena !== -2)) {
        segment = x.arena !== arena ? 0 : segment + 1;
        if (arena !== -3) out += RULE;
        if (x.arena >= 0) out += '\narena ' + x.arena + ', ' + (x.arena === 0 ? 'segment' : 'sub-heap') + ' ' + segment + '\n';
        else if (x.arena === -1) out += '\narena ?, segment ' + segment + ' (no sys record names its region)\n';
        else out += '\nmmapped chunks\n';
        out += RULE + '  | chunk              |       size | AMP | where                |\n' + RULE;
        arena = x.arena;
      }
      out += '  | ' + pad(hex(x.c.a), 18) + ' | ' + pad(String(x.c.s), 10) + ' | ' + flagsOf(x, prev) + ' | ' +
        padR(whereText(x.c), 20) + ' |\n';
    }
    if (arena !== -3) out += RULE;
    out += '  flags: A = NON_MAIN_ARENA, M = IS_MMAPPED, P = PREV_INUSE (? = arena not known)\n';
    return out + binsText();
  }

  /* The non-empty lists, ordered as show orders them. */
  function shownLists() {
    const out = [];
    meta.lists.forEach((d, i) => {
      const L = M.lists[i];
      if (!L || !L.n) return;
      const [state, arena, thread, bin] = d;
      const ak = state !== S.TCACHE ? arenaKey(arena) : 2 ** 42 + thread;
      const group = state === S.TCACHE ? 0 : state === S.FASTBIN ? 1 : state === S.REMOTE ? 3 : 2;
      out.push({ i, state, arena, thread, bin, L, key: [ak, group, bin] });
    });
    out.sort((x, y) => x.key[0] - y.key[0] || x.key[1] - y.key[1] || x.key[2] - y.key[2]);
    return out;
  }
  function listAddrs(L, max) {
    const out = [];
    for (let a = L.head; a && out.length < max;) {
      const c = M.chunks.get(a);
      if (!c) break;
      out.push(c); a = c.ln;
    }
    return out;
  }

  function binsText() {
    let out = '';
    const heads = [];
    M.regions.forEach((r) => heads.push({ key: [arenaKey(r.arena), -1, 0] }));
    const lists = shownLists();
    const all = heads.concat(lists);
    all.sort((x, y) => x.key[0] - y.key[0] || x.key[1] - y.key[1] || x.key[2] - y.key[2]);
    let arena = -3;
    for (const x of all) {
      const a = x.key[0];
      if (a !== arena) {
        if (a < 2 ** 40) out += '\nbins of arena ' + a + ':\n';
        else if (a < 2 ** 42) out += '\nbins of chunks of no known arena:\n';
        else out += '\ntcache of thread ' + (a - 2 ** 42) + ':\n';
        arena = a;
      }
      if (!x.L) continue;
      const b = x.bin, n = x.L.n;
      let arrow = ' ->';
      if (x.state === S.TCACHE) out += '  tcache[' + pad(String(b), 2) + '] (' + pad(String(b < 64 ? (b + 2) * 16 : 1056 + 64 * (b - 64)), 4) + ' bytes' + (b < 64 ? '' : ' +') + ') ' + n + ':';
      else if (x.state === S.FASTBIN) out += '  fastbin[' + b + '] (' + pad(String((b + 2) * 16), 4) + ' bytes) ' + n + ':';
      else if (x.state === S.REMOTE) out += '  remote batches ' + n + ':';
      else { out += '  ' + STATE_WORDS[x.state] + '[' + b + '] ' + n + ':'; arrow = ' <->'; }
      for (const c of listAddrs(x.L, 8)) {
        if (x.state === S.TCACHE || x.state === S.FASTBIN || x.state === S.REMOTE) out += arrow + ' ' + hex(c.a + 16);
        else out += arrow + ' ' + hex(c.a + 16) + ' (' + c.s + ')';
      }
      out += (n > 8 ? ' ...' : '') + '\n';
    }
    return out;
  }

  /* ---- events in words ------------------------------------------------------ */

  function describe(e) {
    const name = TYPE_NAMES[e.type] || '?';
    let s = 'thread ' + e.thread + ' ';
    if (isCall(e.type)) {
      const t = e.type;
      if (isFree(t)) {
        s += name + '(' + hex(e.hasChunk ? e.addr + 16 : 0);
        if (t !== T.FREE) s += ', ' + e.request;
        if (t === T.FREE_ALIGNED_SIZED) s += ', align ' + e.alignment;
        s += ')';
        if (e.hasChunk) s += ' (chunk ' + e.size + ' bytes)';
      } else if (t === T.MALLOC_TRIM) {
        s += name + '(' + e.pad + ') -> ' + e.result;
      } else {
        s += name + '(';
        if (isRealloc(t)) s += hex(e.oldSize ? e.oldAddr + 16 : 0) + ', ';
        if (e.alignment) s += 'align ' + e.alignment + ', ';
        if (t === T.CALLOC || t === T.REALLOCARRAY) s += e.count + ', ' + e.elsize + ')';
        else s += e.request + ')';
        if (e.hasChunk) s += ' -> ' + hex(e.addr + 16) + ' (chunk ' + e.size + ' bytes)';
        else if (e.decision === D.failed) s += ' -> NULL';
        else if (e.oldSize) s += ' frees the chunk of ' + e.oldSize + ' bytes';
      }
      s += ': ' + DECISIONS[e.decision];
      if (e.source) s += ' from ' + DECISIONS[e.source];
      if (e.mergedPrev) s += ', merged with the previous chunk';
      if (e.mergedNext) s += ', merged with the next chunk';
      return s;
    }
    switch (e.type) {
      case T.SET: return s + 'set ' + hex(e.addr) + ' ' + e.size + ' bytes: ' + STATES[e.state];
      case T.SYS:
        s += 'sys ' + SYS[e.sysKind] + ' arena ' + e.arena + ' ' + hex(e.addr) + ' ' + e.size + ' bytes';
        if (e.sysKind === SYSK.MREMAP) s += ' -> ' + hex(e.newAddr) + ' ' + e.newSize + ' bytes';
        return s;
      case T.CONSOLIDATE: case T.ARENA: return s + name + ' arena ' + e.arena;
      case T.ARENA_NEW: return s + 'arena_new ' + e.arena + ' at ' + hex(e.addr);
      case T.THREAD_START: return s + 'thread_start (tid ' + e.value + ')';
      case T.FORK: return s + 'fork (child ' + e.value + ')';
      case T.WALK: return s + 'walk ' + e.value;
      case T.MODULES: return s + 'modules (' + e.value + ')';
      case T.MARK: {
        const label = meta.marks[e.value] ? meta.marks[e.value][1] : '', scene = /^(chapter \d+) \| ([^|]*)/.exec(label);
        return s + 'mark "' + (scene ? scene[1] + ': ' + scene[2].trim() : label) + '"';
      }
      default: return s + name;
    }
  }

  /* The step of chapter 6 (malloc) or 7 (free) a call took, in words. */
  function why(e) {
    const t = e.type, d = e.decision;
    if (t === T.MALLOC_TRIM) return ['8', 'malloc_trim: the top chunk trimmed and the free pages inside the heap given back (madvise)'];
    if (isFree(t)) {
      switch (d) {
        case D.null: return ['7', 'free(NULL) does nothing'];
        case D.munmap: return ['7.2', 'an mmapped chunk goes straight back to the system with munmap; the mmap threshold may rise to its size'];
        case D.tcache: return ['7.3', 'this thread\'s tcache had room for the size: cached, no lock taken, no merging'];
        case D.tcache_mid: return ['7.3', 'ptalloc\'s mid-size cache (chunks of 1056 bytes to 4 KiB, one per size class) had room: cached, no lock'];
        case D.fastbin: return ['7.4', 'a fast size (up to 128 bytes): pushed on its fastbin\'s head, not merged with its neighbours'];
        case D.unsorted: return ['7.5', (e.mergedPrev || e.mergedNext ? 'merged with the free chunk' + (e.mergedPrev && e.mergedNext ? 's on both sides' : e.mergedPrev ? ' before it' : ' after it') + ' (the boundary tags tell where they start), then ' : '') + 'put in the unsorted bin, for the next malloc to sort'];
        case D.top: return ['7.5', 'next to the top chunk: merged into it' + (e.mergedPrev ? ' (with the free chunk before it)' : '') + '; a top past the trim threshold shrinks the heap (7.6)'];
        case D.remote: return ['7', 'a chunk of another arena: put in that arena\'s remote batch (ptalloc), freed into its bins by the next thread that locks it'];
        default: return ['7', DECISIONS[d]];
      }
    }
    if (isRealloc(t)) {
      switch (d) {
        case D.in_place: return ['7', 'realloc in place: grown into the free chunk or top after it, or shrunk by splitting the rest off'];
        case D.moved: return ['7', 'realloc moved it: a new chunk (' + DECISIONS[e.source || 0] + '), the data copied, the old chunk freed'];
        case D.mremap: return ['5', 'an mmapped chunk resized with mremap, no copy by the allocator'];
        case D.failed: return ['6.1', 'no memory: NULL, the old block left as it was'];
        default: if (!e.hasChunk && e.oldSize) return ['7', 'realloc to 0 bytes frees the block (' + DECISIONS[d] + ')'];
      }
    }
    switch (d) {
      case D.tcache: return ['6.2', 'a tcache hit: a chunk of this size was in this thread\'s cache, taken without a lock'];
      case D.tcache_mid: return ['6.2', 'a hit in ptalloc\'s mid-size cache (chunks of 1056 bytes to 4 KiB), no lock'];
      case D.fastbin: return ['6.4', 'a fast size: its fastbin had a chunk, taken from the head (last in, first out)'];
      case D.smallbin: return ['6.4', 'a small size: its small bin had a chunk of exactly this size, taken from the tail (first in, first out); others of the size may go to the tcache'];
      case D.unsorted: return ['6.6', 'the walk of the unsorted bin met a chunk of exactly this size; the others it passed were sorted into their bins'];
      case D.last_remainder: return ['6.6', 'a small request, and the unsorted bin held only the last remainder: split from it (the next small request lands next door)'];
      case D.largebin: return ['6.7', 'best fit in its large bin: the smallest chunk that fits, split; the rest went to the unsorted bin'];
      case D.binmap: return ['6.8', 'its own bin was empty: the binmap led to the next non-empty larger bin, whose chunk was split; the rest went to the unsorted bin'];
      case D.top: return ['6.9', 'no bin could serve it: split from the top chunk (grown from the system first when too small)'];
      case D.mmap: return ['6.9', 'at or above the mmap threshold: a mapping of its own, IS_MMAPPED set (chapter 5)'];
      case D.failed: return ['6.1', 'refused: no memory, NULL with errno ENOMEM'];
      default: return ['6', DECISIONS[d]];
    }
  }

  function stepWords(e) {
    switch (e.type) {
      case T.SET: {
        const c = ' chunk ' + hex(e.addr) + ' (' + e.size + ' bytes) ';
        switch (e.state) {
          case S.INUSE: return 'the' + c + 'is handed out';
          case S.TCACHE: return 'the' + c + 'goes to thread ' + e.thread + '\'s tcache [' + binOf(S.TCACHE, e.size) + '] (chapter 4)';
          case S.FASTBIN: return 'the' + c + 'goes to fastbin [' + binOf(S.FASTBIN, e.size) + ']';
          case S.UNSORTED: return 'the' + c + 'goes to the unsorted bin (a split\'s remainder or a merged free chunk)';
          case S.SMALLBIN: return 'the' + c + 'is sorted into small bin [' + binOf(S.SMALLBIN, e.size) + '] (chapter 6, step 6)';
          case S.LARGEBIN: return 'the' + c + 'is sorted into large bin [' + binOf(S.LARGEBIN, e.size) + '], kept in size order (chapter 6, step 6)';
          case S.TOP: return 'the top chunk is now ' + hex(e.addr) + ', ' + e.size + ' bytes';
          case S.MMAPPED: return 'the' + c + 'is an mmapped chunk';
          case S.FENCE: return 'a fence-post at ' + hex(e.addr) + ' closes a segment (chapter 5)';
          case S.REMOTE: return 'the' + c + 'waits in a remote batch for its arena';
          case S.GONE: return 'the' + c + 'is no chunk any more (merged or unmapped)';
        }
        return '';
      }
      case T.SYS:
        switch (e.sysKind) {
          case SYSK.BRK: return 'the main heap grows with sbrk by ' + fmtBytes(e.size) + ' (chapter 5)';
          case SYSK.SBRK_SHRINK: return 'the main heap is trimmed: the program break moves down by ' + fmtBytes(e.size) + ' (chapter 7, step 6)';
          case SYSK.SEGMENT: return 'sbrk could not grow: a segment of ' + fmtBytes(e.size) + ' is mmapped instead; the heap is no longer contiguous (chapter 1)';
          case SYSK.HEAP_NEW: return 'a new sub-heap for arena ' + e.arena + ': 64 MiB reserved, ' + fmtBytes(e.size) + ' usable (chapter 1)';
          case SYSK.HEAP_GROW: return 'sub-heap of arena ' + e.arena + ' grows to ' + fmtBytes(e.size) + ' (mprotect)';
          case SYSK.HEAP_SHRINK: return 'sub-heap of arena ' + e.arena + ' shrinks to ' + fmtBytes(e.size);
          case SYSK.HEAP_UNMAP: return 'a sub-heap of arena ' + e.arena + ' is unmapped';
          case SYSK.MMAP: return 'a chunk of its own: ' + fmtBytes(e.size) + ' mapped (chapter 5)';
          case SYSK.MUNMAP: return fmtBytes(e.size) + ' unmapped';
          case SYSK.MREMAP: return 'a mapping moved or resized with mremap';
          case SYSK.MADVISE: return fmtBytes(e.size) + ' of free pages inside the heap given back (madvise)';
        }
        return '';
      case T.CONSOLIDATE: return 'malloc_consolidate: every fastbin chunk merged with its free neighbours and moved to the unsorted bin (chapter 6, step 5; chapter 7, step 6)';
      case T.ARENA_NEW: return 'arena ' + e.arena + ' is created: threads contended for the arenas there were (chapter 1)';
      case T.ARENA: return 'thread ' + e.thread + ' uses arena ' + e.arena + ' from here on';
      case T.THREAD_START: return 'a thread starts';
      case T.THREAD_EXIT: return 'a thread ends: its tcache goes back to the arenas';
      case T.FORK: return 'the process forks (the child writes a log of its own)';
      case T.SNAPSHOT: return 'the log starts with the heap as it was (a snapshot)';
      case T.SNAPSHOT_END: return 'end of the snapshot';
      case T.WALK: return 'the program walked its heap (ptalloc_walk)';
      case T.MARK: return /^chapter \d+ \| /.test(meta.marks[e.value] ? meta.marks[e.value][1] : '') ? 'a scene of the tour the program marked (ptalloc_trace_mark)' : 'a mark the program set (ptalloc_trace_mark)';
      case T.MODULES: return 'the program\'s mapped files (for call sites)';
      case T.END: return 'the process exits';
    }
    return '';
  }

  /* The call a step belongs to: the thread's next call record. */
  function callOf(i) {
    const th = evThread[i];
    for (let j = i + 1; j < E && j < i + 100000; j++)
      if (evThread[j] === th && isCall(evType[j])) return j;
    return -1;
  }

  /* ---- the views --------------------------------------------------------------- */

  /* Sizes, read once and again on resize: reading them after the DOM
   * changed would make the browser lay the page out there and then. */
  const dims = { plotW: 800, spaceW: 800, stripW: 800, stripH: 280, rowsH: 264 };
  function measure() {
    dims.plotW = $('plot').clientWidth || 800; dims.spaceW = $('space-svg').clientWidth || 800;
    dims.stripW = $('strip-wrap').clientWidth || 800; dims.stripH = $('strip-wrap').clientHeight || 280;
    dims.rowsH = $('rows').clientHeight || 264;
  }

  let sel = 0;                          /* the selected chunk's address (0: none) */
  let changed = new Set();              /* chunk addresses the event changed */
  let scaleLog = true;

  function patternFor(ctx, st) {
    const key = 'p' + st;
    if (!ctx[key]) {
      const c = document.createElement('canvas'); c.width = c.height = 8;
      const g = c.getContext('2d');
      g.fillStyle = COLOR[st]; g.fillRect(0, 0, 8, 8);
      g.strokeStyle = st === S.UNSORTED || st === S.TCACHE ? 'rgba(0,0,0,0.45)' : 'rgba(255,255,255,0.6)'; g.lineWidth = 1.2;
      g.fillStyle = g.strokeStyle;
      switch (PATTERN[st]) {
        case 'diag': g.beginPath(); g.moveTo(0, 8); g.lineTo(8, 0); g.stroke(); break;
        case 'diag2': g.beginPath(); g.moveTo(0, 0); g.lineTo(8, 8); g.stroke(); break;
        case 'dots': g.beginPath(); g.arc(4, 4, 1.4, 0, 7); g.fill(); break;
        case 'cross': g.beginPath(); g.moveTo(0, 8); g.lineTo(8, 0); g.moveTo(0, 0); g.lineTo(8, 8); g.stroke(); break;
        case 'hlines': g.fillRect(0, 3, 8, 1.5); break;
        case 'vlines': g.fillRect(3, 0, 1.5, 8); break;
        case 'grid': g.fillRect(0, 3, 8, 1); g.fillRect(3, 0, 1, 8); break;
      }
      ctx[key] = ctx.createPattern(c, 'repeat');
    }
    return ctx[key];
  }
  function swatch(st) {
    const c = document.createElement('canvas'); c.width = 22; c.height = 12;
    const g = c.getContext('2d'); g.fillStyle = patternFor(g, st); g.fillRect(0, 0, 22, 12);
    return c.toDataURL();
  }

  function legend() {
    const shown = [S.INUSE, S.TCACHE, S.FASTBIN, S.UNSORTED, S.SMALLBIN, S.LARGEBIN, S.TOP, S.MMAPPED, S.FENCE, S.REMOTE];
    $('legend').innerHTML = shown.map((st) => '<span><img class="sw" alt="" src="' + swatch(st) + '">' +
      esc(STATE_WORDS[st]) + ' <code>' + STATE_SHORT[st] + '</code></span>').join('') +
      '<span>outlined: changed by this event</span><span>black frame: selected</span>';
  }

  /* -- timeline -- */
  function renderDescribe() {
    const i = M.at, e = eventAt(i);
    let html = '<span class="what">event ' + num(i) + ': ' + esc(describe(e)) + '</span><br>';
    if (isCall(e.type)) {
      const [ch, words] = why(e);
      html += '<span class="chapter">chapter ' + ch.replace('.', ', step ') + '</span><span class="step">' + esc(words) + '</span>';
      if (e.site) html += '<br><span class="changes">called from ' + esc(meta.sites[e.site - 1]) + '</span>';
    } else {
      html += '<span class="step">' + esc(stepWords(e)) + '</span>';
      if (e.type === T.SET || e.type === T.SYS || e.type === T.CONSOLIDATE) {
        const j = callOf(i);
        if (j >= 0) {
          let k = 0, first = i;
          while (first > 0 && evThread[first - 1] === evThread[i] && !isCall(evType[first - 1]) && i - first < 100000) first--;
          k = i - first + 1;
          html += '<br><span class="changes">step ' + k + ' of ' + (j - first) + ' inside event ' + num(j) + ': ' + esc(describe(eventAt(j))) + '</span>';
        }
      }
    }
    if (base && i === 0) {                /* the heap before the window, not this event's changes */
      html += '<br><span class="changes">this page draws a window of the log: it starts here, with the heap as it was after this event (ptalloc html --from)</span>';
      $('describe').innerHTML = html;
      changed = new Set();
      return;
    }
    const ops = readChanges(i);
    const added = ops.filter((o) => o.add && !o.region).length, removed = ops.filter((o) => !o.add && !o.region).length;
    if (ops.length) html += '<br><span class="changes">changes: ' + added + ' chunk' + (added === 1 ? '' : 's') + ' set, ' + removed + ' replaced' +
      (ops.some((o) => o.region) ? ', regions changed' : '') + '</span>';
    $('describe').innerHTML = html;
    changed = new Set(ops.filter((o) => !o.region && o.add).map((o) => o.a));
  }

  const plot = {};                      /* the plot's x extent, for clicks */
  function renderPlot() {
    const cv = $('plot'), w = dims.plotW, h = 110, dpr = window.devicePixelRatio || 1;
    if (cv.width !== Math.round(w * dpr)) { cv.width = Math.round(w * dpr); cv.height = Math.round(h * dpr); }
    const g = cv.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const P = meta.plot, n = P.heap.length;
    let max = 1;
    for (let i = 0; i < n; i++) max = Math.max(max, P.heap[i], P.system[i]);
    const L = 70, R = w - 6, top = 6, bot = h - 16;
    const x = (ev) => L + (R - L) * (E > 1 ? ev / (E - 1) : 0);
    const y = (v) => bot - (bot - top) * v / max;
    g.strokeStyle = '#999'; g.lineWidth = 1; g.beginPath(); g.moveTo(L, top); g.lineTo(L, bot); g.lineTo(R, bot); g.stroke();
    g.fillStyle = '#333'; g.font = '11px sans-serif'; g.textAlign = 'right';
    g.fillText(fmtBytes(max), L - 4, top + 8); g.fillText('0', L - 4, bot);
    g.textAlign = 'left'; g.fillText('event ' + num(0), L, h - 3); g.textAlign = 'right'; g.fillText('event ' + num(E - 1), R, h - 3);
    const series = [['system', '#000000', []], ['heap', '#0072B2', [6, 3]], ['inUse', '#D55E00', []], ['free', '#009E73', [2, 2]]];
    for (const [key, col, dash] of series) {
      g.strokeStyle = col; g.setLineDash(dash); g.lineWidth = key === 'inUse' ? 2 : 1.5; g.beginPath();
      for (let i = 0; i < n; i++) {
        const ev = Math.min(E - 1, i * P.width), px = x(ev), py = y(P[key][i]);
        if (i) g.lineTo(px, py); else g.moveTo(px, py);
      }
      g.stroke();
    }
    g.setLineDash([]);
    const cx = x(M.at);
    g.strokeStyle = '#000'; g.lineWidth = 2; g.beginPath(); g.moveTo(cx, top); g.lineTo(cx, bot); g.stroke();
    g.fillStyle = '#000'; g.beginPath(); g.moveTo(cx - 5, top - 4); g.lineTo(cx + 5, top - 4); g.lineTo(cx, top + 3); g.fill();
    plot.x0 = L; plot.x1 = R;
    $('plot-legend').innerHTML = series.map(([k, col, dash]) => '<span><svg width="26" height="10" aria-hidden="true"><line x1="0" y1="5" x2="26" y2="5" stroke="' + col +
      '" stroke-width="2" stroke-dasharray="' + dash.join(',') + '"/></svg> ' + ({ system: 'system (heaps and mappings)', heap: 'heap (all chunks)', inUse: 'in use', free: 'free' })[k] +
      ' <b>' + fmtBytes(k === 'system' ? M.regions.reduce((s, r) => s + r.end - r.start, 0) + M.tot.mapped : M.tot[k]) + '</b></span>').join('') +
      '<span>(each point: the largest value of ' + P.width + ' event' + (P.width > 1 ? 's' : '') + ')</span>' +
      (evTime[M.at] ? '<span>t = ' + (evTime[M.at] / 1e6).toFixed(3) + ' ms after the log\'s first call</span>' : '');
  }

  /* -- address space -- */
  function spaceRegions() {
    const out = M.regions.map((r) => ({ start: r.start, end: r.end, arena: r.arena, kind: r.kind,
      reserved: r.kind === SYSK.HEAP_NEW ? Math.max(r.end, r.start - (r.start % HEAP_MAX) + HEAP_MAX) : r.end }));
    for (const c of M.chunks.values())
      if (c.st === S.MMAPPED) out.push({ start: c.a, end: c.a + c.s, arena: -2, kind: 0, reserved: c.a + c.s, chunk: c });
    out.sort((a, b) => a.start - b.start);
    return out;
  }
  function renderSpace() {
    const svg = $('space-svg'), W = dims.spaceW;
    const regs = spaceRegions();
    const GAP = 18, H = 96;
    const sizeOf = (r) => r.reserved - r.start;
    const weight = (r) => scaleLog ? Math.max(1, Math.log2(sizeOf(r) / 4096) + 1) : sizeOf(r);
    const total = regs.reduce((s, r) => s + weight(r), 0) || 1;
    const avail = Math.max(100, W - 8 - GAP * Math.max(0, regs.length - 1));
    let x = 4, parts = [];
    const lastBrk = regs.reduce((k, r, i) => r.kind === SYSK.BRK ? i : k, -1);
    const tops = [];
    let lastTop = -100;
    for (const c of M.chunks.values()) if (c.st === S.TOP) tops.push(c);
    tops.sort((x, y) => x.a - y.a);
    regs.forEach((r, i) => {
      const w = Math.max(6, avail * weight(r) / total);
      const span = sizeOf(r), px = (a) => x + w * (a - r.start) / span;
      const label = r.arena === -2 ? 'mmapped chunk' : 'arena ' + r.arena + ' ' + (r.kind === SYSK.BRK ? 'heap' : r.kind === SYSK.SEGMENT ? 'segment' : 'sub-heap');
      parts.push('<g><title>' + esc(label + ' ' + hex(r.start) + '–' + hex(r.end) + ', ' + fmtBytes(r.end - r.start) + (r.reserved > r.end ? ' of ' + fmtBytes(r.reserved - r.start) + ' reserved' : '')) + '</title>');
      if (r.reserved > r.end)
        parts.push('<rect x="' + px(r.end) + '" y="30" width="' + Math.max(0, px(r.reserved) - px(r.end)) + '" height="34" fill="url(#reserved)" stroke="#777"/>');
      parts.push('<rect x="' + x + '" y="30" width="' + Math.max(1, px(r.end) - x) + '" height="34" fill="#fff" stroke="#222"/>');
      /* its chunks: a pixel column shows the state with most bytes there */
      const s = sortedNow();
      let runX = -1, runEnd = -1, runSt = -1, col = -1;
      const bytes = new Float64Array(STATES.length);
      const emit = (x0, x1, st) => {
        if (runSt === st && x0 - runEnd < 0.01) { runEnd = x1; return; }
        if (runX >= 0) parts.push('<rect x="' + runX.toFixed(1) + '" y="31" width="' + Math.max(0.8, runEnd - runX).toFixed(1) + '" height="32" fill="' + COLOR[runSt] + '"/>');
        runX = x0; runEnd = x1; runSt = st;
      };
      const closeColumn = () => {
        if (col < 0) return;
        let best = 0;
        for (let q = 1; q < bytes.length; q++) if (bytes[q] > bytes[best]) best = q;
        emit(col, col + 1, best);
        bytes.fill(0); col = -1;
      };
      for (let k = lowerBoundIn(s, r.start); k < s.length && s[k] < r.end; k++) {
        const c = M.chunks.get(s[k]);
        const a = px(c.a), b = px(Math.min(c.a + c.s, r.end));
        if (b - a >= 1) { closeColumn(); emit(a, b, c.st); continue; }
        const cx = Math.floor(a);
        if (cx !== col) { closeColumn(); col = cx; }
        bytes[c.st] += c.s;
      }
      closeColumn();
      emit(Infinity, Infinity, -1);
      for (const c of tops) if (c.a >= r.start && c.a < r.end) {
        const tx = px(c.a);
        if (tx - lastTop < 26) continue;            /* no label over the one before */
        parts.push('<line x1="' + tx + '" y1="64" x2="' + tx + '" y2="70" stroke="#000"/><text x="' + (tx + 2) + '" y="71" font-size="10">top</text>');
        lastTop = tx;
      }
      parts.push('<text x="' + (x + 1) + '" y="22" font-size="11">' + esc(w > 70 ? label : r.arena === -2 ? 'mmap' : 'a' + r.arena) + '</text>');
      parts.push('<text x="' + (x + 1) + '" y="82" font-size="10" fill="#444">' + esc(w > 90 ? hex(r.start) : '') + '</text>');
      if (i === lastBrk) {
        const bx = px(r.end);
        const left = bx > 80;
        parts.push('<line x1="' + bx + '" y1="26" x2="' + bx + '" y2="70" stroke="#000" stroke-width="2"/><text x="' + (left ? bx + 4 : bx - 4) + '" y="92" font-size="11" text-anchor="' + (left ? 'end' : 'start') + '" font-weight="bold">' + (left ? 'break ▲' : '▲ break') + '</text>');
      }
      parts.push('</g>');
      x += w;
      if (i < regs.length - 1) {
        const gap = regs[i + 1].start - r.reserved;
        parts.push('<text x="' + (x + GAP / 2) + '" y="51" font-size="12" text-anchor="middle"><title>' + esc(fmtBytes(Math.max(0, gap)) + ' of address space between') + '</title>⋯</text>');
        x += GAP;
      }
    });
    svg.setAttribute('height', H);
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.innerHTML = '<defs><pattern id="reserved" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f2f2f2"/><line x1="0" y1="0" x2="0" y2="6" stroke="#bbb" stroke-width="2"/></pattern></defs>' + parts.join('');
    const topAt = tops;
    $('space-list').innerHTML = regs.filter((r) => r.arena !== -2).map((r) => {
      const tops = topAt.filter((c) => c.a >= r.start && c.a < r.end);
      return '<li>' + (r.kind === SYSK.BRK ? '<b>arena ' + r.arena + ', main heap</b> (sbrk)' : r.kind === SYSK.SEGMENT ? '<b>arena ' + r.arena + ', segment</b> (mmap, brk could not grow)' : '<b>arena ' + r.arena + ', sub-heap</b>') +
        ' <span class="mono">' + hex(r.start) + '–' + hex(r.end) + '</span> ' + fmtBytes(r.end - r.start) +
        (r.reserved > r.end ? ' committed of ' + fmtBytes(r.reserved - r.start) + ' reserved' : '') +
        (regs.indexOf(r) === lastBrk ? '; program break <span class="mono">' + hex(r.end) + '</span>' : '') +
        (tops.length ? '; top chunk <span class="mono">' + hex(tops[0].a) + '</span> (' + fmtBytes(tops[0].s) + ')' : '') + '</li>';
    }).join('') + (regs.some((r) => r.arena === -2) ? '<li><b>mmapped chunks</b>: ' + regs.filter((r) => r.arena === -2).length + ', ' +
      fmtBytes(regs.filter((r) => r.arena === -2).reduce((s, r) => s + r.end - r.start, 0)) + '</li>' : '') +
      (regs.length ? '' : '<li>No heap at this event: nothing allocated from the system yet (or all of it given back).</li>');
    if (!regs.length) svg.setAttribute('height', 0);
  }
  function lowerBoundIn(s, a) {
    let lo = 0, hi = s.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (s[mid] < a) lo = mid + 1; else hi = mid; }
    return lo;
  }

  /* -- the chunk picture: blocks in address order, rows of the strip -- */
  const STRIP_ROW = 30, STRIP_GAP = 4;
  let layout = null;                    /* {rows: [{y, label} | {y, i0, i1}], x: Float64Array, w: Float64Array, items} */
  function computeLayout() {
    const items = drawnItems();
    const W = dims.stripW - 16;
    const xs = new Float64Array(items.length), ws = new Float64Array(items.length), rowOf = new Int32Array(items.length);
    const rows = [];
    let heap = 0;
    for (const it of items) heap += it.c.s;
    const bpp = Math.max(1, heap / (W * 10));           /* linear: the whole heap in about ten rows */
    let x = W, y = -STRIP_ROW, arena = -3, prevEnd = -1;
    for (let k = 0; k < items.length; k++) {
      const it = items[k], c = it.c;
      if (it.arena !== arena || (c.a !== prevEnd && it.arena !== -2)) {
        y += STRIP_ROW + STRIP_GAP;
        rows.push({ y, label: it.arena === -2 ? 'mmapped chunks' : it.arena === -1 ? 'arena ?' : 'arena ' + it.arena + (c.a !== prevEnd && it.arena === arena ? ', next segment' : '') + ' at ' + hex(c.a) });
        x = 0; arena = it.arena;
        y += 16;
      }
      const w = scaleLog ? Math.max(8, 7 * Math.log2(c.s / 16) + 6) : Math.max(2, c.s / bpp);
      if (x + Math.min(w, W) > W && x > 0) { y += STRIP_ROW; x = 0; }
      xs[k] = x; ws[k] = Math.min(w, W); rowOf[k] = y;
      x += ws[k];
      prevEnd = c.a + c.s;
    }
    layout = { items, xs, ws, ys: rowOf, height: y + STRIP_ROW + 4, labels: rows, W };
  }
  function renderStrip() {
    if (!layout) computeLayout();
    const wrap = $('strip-wrap'), cv = $('strip'), dpr = window.devicePixelRatio || 1;
    let spacer = $('strip-spacer');
    if (!spacer) { spacer = document.createElement('div'); spacer.id = 'strip-spacer'; wrap.appendChild(spacer); }
    const viewH = dims.stripH, W = layout.W + 16;
    spacer.style.height = Math.max(0, layout.height - viewH) + 'px';
    cv.style.position = 'sticky'; cv.style.top = '0';
    cv.style.height = viewH + 'px';
    if (cv.width !== Math.round(W * dpr) || cv.height !== Math.round(viewH * dpr)) { cv.width = Math.round(W * dpr); cv.height = Math.round(viewH * dpr); }
    const g = cv.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, W, viewH);
    const top = wrap.scrollTop, bottom = top + viewH;
    g.font = '11px sans-serif'; g.textBaseline = 'middle';
    for (const r of layout.labels) if (r.y + 16 >= top && r.y <= bottom) { g.fillStyle = '#222'; g.fillText(r.label, 6, r.y - top + 8); }
    const { items, xs, ws, ys } = layout;
    let lo = 0, hi = items.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (ys[mid] + STRIP_ROW < top) lo = mid + 1; else hi = mid; }
    const later = [];
    for (let k = lo; k < items.length && ys[k] <= bottom; k++) {
      const c = items[k].c, x = xs[k] + 8, y = ys[k] - top, w = ws[k];
      g.fillStyle = patternFor(g, c.st); g.fillRect(x, y, w, STRIP_ROW - 4);
      g.strokeStyle = '#222'; g.lineWidth = 0.6; g.strokeRect(x + 0.3, y + 0.3, w - 0.6, STRIP_ROW - 4.6);
      if (w > 24) {
        /* the longest label that fits whole, on a plain ground over the pattern */
        const size = c.s >= 10240 ? fmtBytes(c.s) : String(c.s);
        const t = [STATE_SHORT[c.st] + ' ' + size, size].find((l) => g.measureText(l).width + 8 <= w);
        if (t) {
          const tw = g.measureText(t).width;
          g.fillStyle = 'rgba(255,255,255,0.85)'; g.fillRect(x + 2, y + 6, tw + 4, STRIP_ROW - 16);
          g.fillStyle = '#000'; g.fillText(t, x + 4, y + (STRIP_ROW - 4) / 2);
        }
      }
      if (changed.has(c.a) || c.a === sel) later.push(k);
    }
    for (const k of later) {
      const c = items[k].c, x = xs[k] + 8, y = ys[k] - top, w = ws[k];
      if (c.a === sel) { g.strokeStyle = '#000'; g.lineWidth = 3; g.setLineDash([]); g.strokeRect(x - 1.5, y - 1.5, w + 3, STRIP_ROW - 1); g.strokeStyle = '#fff'; g.lineWidth = 1; g.strokeRect(x + 1, y + 1, w - 2, STRIP_ROW - 6); }
      if (changed.has(c.a)) { g.strokeStyle = '#000'; g.lineWidth = 2; g.setLineDash([4, 2]); g.strokeRect(x - 3, y - 3, w + 6, STRIP_ROW + 2); g.setLineDash([]); }
    }
  }
  function stripHit(ev) {
    if (!layout) return;
    const wrap = $('strip-wrap'), r = $('strip').getBoundingClientRect();
    const x = ev.clientX - r.left - 8, y = ev.clientY - r.top + wrap.scrollTop;
    const { items, xs, ws, ys } = layout;
    for (let k = 0; k < items.length; k++)
      if (y >= ys[k] && y < ys[k] + STRIP_ROW - 4 && x >= xs[k] && x < xs[k] + ws[k]) { select(items[k].c.a, true); return; }
  }
  function scrollStripTo(a) {
    if (!layout) return;
    const k = layout.items.findIndex((it) => it.c.a === a);
    if (k < 0) return;
    const wrap = $('strip-wrap'), y = layout.ys[k];
    if (y < wrap.scrollTop || y + STRIP_ROW > wrap.scrollTop + dims.stripH) wrap.scrollTop = Math.max(0, y - dims.stripH / 2);
  }

  /* -- the chunk table: a row per chunk, only the visible ones made -- */
  const ROW = 22;
  function renderTable() {
    if (!layout) computeLayout();
    const rows = $('rows'), items = layout.items;
    let spacer = $('rows-spacer');
    if (!spacer) { spacer = document.createElement('div'); spacer.id = 'rows-spacer'; rows.appendChild(spacer); }
    spacer.style.height = items.length * ROW + 'px';
    const top = rows.scrollTop, h = dims.rowsH;
    const k0 = Math.max(0, Math.floor(top / ROW) - 5), k1 = Math.min(items.length, Math.ceil((top + h) / ROW) + 5);
    let html = '';
    for (let k = k0; k < k1; k++) {
      const x = items[k], c = x.c, prev = k ? items[k - 1] : null;
      const cls = 'tr' + (c.a === sel ? ' sel' : '') + (changed.has(c.a) ? ' changed' : '');
      html += '<div class="' + cls + '" role="row" id="row-' + c.a + '" aria-selected="' + (c.a === sel) + '" data-a="' + c.a + '" style="top:' + (k * ROW) + 'px">' +
        '<span role="gridcell">' + hex(c.a) + '</span><span role="gridcell">' + c.s + '</span><span role="gridcell">' + flagsOf(x, prev) +
        '</span><span role="gridcell"><img class="st" alt="" src="' + swatchCache(c.st) + '">' + esc(whereText(c)) + (changed.has(c.a) ? ' ◆' : '') +
        '</span><span role="gridcell">' + (inUseState(c.st) && c.site ? esc(meta.sites[c.site - 1]) + ' @' + c.ev : '') + '</span></div>';
    }
    if (!items.length) html = '<div class="tr" role="row"><span role="gridcell">no chunks at this event</span></div>';
    for (const el of Array.from(rows.querySelectorAll('.tr'))) el.remove();
    spacer.insertAdjacentHTML('beforebegin', html);
    const grid = $('chunk-table');
    if (sel && document.getElementById('row-' + sel)) grid.setAttribute('aria-activedescendant', 'row-' + sel);
    else grid.removeAttribute('aria-activedescendant');
  }
  const swatches = {};
  const swatchCache = (st) => swatches[st] || (swatches[st] = swatch(st));
  function scrollTableTo(a) {
    if (!layout) return;
    const k = layout.items.findIndex((it) => it.c.a === a);
    if (k < 0) return;
    const rows = $('rows');
    if (k * ROW < rows.scrollTop || (k + 1) * ROW > rows.scrollTop + dims.rowsH) rows.scrollTop = Math.max(0, k * ROW - dims.rowsH / 2);
  }

  /* -- the selected chunk, its header as the notes draw it -- */
  function neighbours(c) {
    if (!layout) computeLayout();
    const items = layout.items, k = items.findIndex((it) => it.c === c);
    if (k < 0) return {};
    const x = items[k];
    const prev = k > 0 && items[k - 1].arena === x.arena && items[k - 1].c.a + items[k - 1].c.s === c.a ? items[k - 1] : null;
    const next = k + 1 < items.length && items[k + 1].arena === x.arena && c.a + c.s === items[k + 1].c.a ? items[k + 1] : null;
    return { x, prev, next, flags: flagsOf(x, k ? items[k - 1] : null) };
  }
  function binHead(c) {
    const d = meta.lists[c.l];
    return 'the head of ' + STATE_WORDS[c.st] + ' [' + d[3] + '] in arena ' + d[1] + '\'s bins';
  }
  /* fd_nextsize/bk_nextsize: only the first chunk of each size in a large bin has them. */
  function nextsize(c) {
    const L = M.lists[c.l], all = listAddrs(L, 1e9), firsts = [];
    all.forEach((x, i) => { if (!i || all[i - 1].s !== x.s) firsts.push(x); });
    const k = firsts.indexOf(c);
    if (k < 0) return null;
    return { fd: firsts[(k + 1) % firsts.length], bk: firsts[(k - 1 + firsts.length) % firsts.length] };
  }
  const field = (name, at, value, note, cls) => '<tr' + (cls ? ' class="' + cls + '"' : '') + '><th scope="row">' + name + '<br><span class="note mono">' + hex(at) + '</span></th><td><span class="field">' + value + '</span>' + (note ? '<br><span class="note">' + note + '</span>' : '') + '</td></tr>';
  function renderDetail() {
    const body = $('detail-body'), c = sel ? M.chunks.get(sel) : undefined;
    if (!c) { body.innerHTML = '<p>' + (sel ? 'No chunk starts at ' + hex(sel) + ' at this event.' : 'Select a chunk in the picture or the table (arrows move in the table).') + '</p>'; return; }
    const nb = neighbours(c), mem = c.a + 16;
    const A = nb.flags[0] === 'A', Mf = c.st === S.MMAPPED, P = nb.flags[2] === 'P';
    const sizeField = c.s + (A ? 4 : 0) + (Mf ? 2 : 0) + (P ? 1 : 0);
    let h = '<p><b>' + esc(STATE_WORDS[c.st]) + '</b> chunk <span class="mono">' + hex(c.a) + '</span>, ' + c.s + ' bytes, ' +
      (nb.x.arena === -2 ? 'mmapped' : nb.x.arena < 0 ? 'arena not known' : 'arena ' + nb.x.arena) +
      (c.l >= 0 ? ', ' + esc(whereText(c)) + ' (' + esc(binRange(c.st, meta.lists[c.l][3])) + ')' : '') + '</p>';
    h += '<table aria-label="the chunk\'s header and first words">';
    /* prev_size */
    if (Mf) h += field('prev_size', c.a, '0', 'an mmapped chunk\'s prev_size holds the bytes skipped before it for alignment (none here)');
    else if (!nb.prev) h += field('prev_size', c.a, '—', 'the first chunk of its segment: nothing before it to describe');
    else if (P) h += field('prev_size', c.a, 'lent', 'belongs to the chunk before (' + hex(nb.prev.c.a) + ', ' + STATE_WORDS[nb.prev.c.st] + '): while that one is in use (P set here) its last 8 bytes of data live here', 'lent');
    else h += field('prev_size', c.a, String(nb.prev.c.s), 'the chunk before is free: its size, the boundary tag that lets free merge backwards in one step');
    h += field('size', c.a + 8, hex(sizeField) + ' = ' + c.s + ' | ' + (A ? 'A' : '-') + (Mf ? 'M' : '-') + (P ? 'P' : '-'),
      'A NON_MAIN_ARENA ' + (A ? 1 : 0) + ', M IS_MMAPPED ' + (Mf ? 1 : 0) + ', P PREV_INUSE ' + (P ? 1 : 0));
    /* the user area's first words */
    if (c.st === S.TCACHE) {
      const nextMem = c.ln ? c.ln + 16 : 1;
      h += field('next', mem, hex(xor(Math.floor(mem / 4096), nextMem)), 'safe-linked: (' + hex(mem) + ' >> 12) XOR ' + (c.ln ? hex(nextMem) + ', the next entry (' + hex(c.ln) + ')' : '1, the end of the list (TC_END)') + '; decoded: ' + (c.ln ? hex(nextMem) : 'end'));
      h += field('key', mem + 8, 'tcache key', 'this thread\'s random key: a free that finds it here checks for a double free');
    } else if (c.st === S.FASTBIN) {
      const next = c.ln || 0;
      h += field('fd', mem, hex(xor(Math.floor(mem / 4096), next)), 'safe-linked: (' + hex(mem) + ' >> 12) XOR ' + (next ? hex(next) + ', the next chunk' : '0, the end of the list') + '; decoded: ' + (next ? hex(next) : 'NULL'));
    } else if (c.st === S.UNSORTED || c.st === S.SMALLBIN || c.st === S.LARGEBIN) {
      h += field('fd', mem, c.ln ? hex(c.ln) : 'bin', c.ln ? 'the next chunk in the list (towards the tail)' : binHead(c) + ': this is the last chunk');
      h += field('bk', mem + 8, c.lp ? hex(c.lp) : 'bin', c.lp ? 'the previous chunk in the list' : binHead(c) + ': this is the first chunk');
      if (c.st === S.LARGEBIN) {
        const ns = nextsize(c);
        h += field('fd_nextsize', mem + 16, ns ? hex(ns.fd.a) : 'NULL', ns ? 'the first chunk of the next smaller size (a ring)' : 'not the first of its size: only that one is on the nextsize ring');
        h += field('bk_nextsize', mem + 24, ns ? hex(ns.bk.a) : 'NULL', ns ? 'the first chunk of the next larger size' : '');
      }
    } else if (c.st === S.INUSE || c.st === S.MMAPPED || c.st === S.REMOTE) {
      const usable = Mf ? c.s - 16 : c.s - 8;
      h += field('user data', mem, usable + ' bytes', 'malloc returned ' + hex(mem) + '; ' + usable + ' usable bytes (' + (Mf ? 'an mmapped chunk lends nothing' : '16 header bytes, less the 8 it borrows from the next chunk') + ')');
    } else if (c.st === S.TOP) {
      h += field('(free space)', mem, fmtBytes(c.s - 16), 'the top chunk: the arena\'s untouched end, split for requests no bin serves');
    }
    if (nb.next) {
      const lends = prevInuseState(c.st);
      h += field('next prev_size', nb.next.c.a, lends ? 'lent' : String(c.s),
        lends ? 'the next chunk\'s prev_size field: while this chunk is in use (' + STATE_WORDS[c.st] + ' counts as in use), it is the last 8 bytes of this chunk\'s data (chapter 3)' : 'this chunk\'s size again: the boundary tag; the next chunk\'s P bit is 0', lends ? 'lent next' : 'next');
    }
    h += '</table>';
    if (c.site && inUseState(c.st)) h += '<p>Allocated by <b>' + esc(meta.sites[c.site - 1]) + '</b> at event <a href="#" data-goto="' + c.ev + '">' + c.ev + '</a>.</p>';
    else h += '<p>Set ' + esc(STATE_WORDS[c.st]) + ' at event <a href="#" data-goto="' + c.ev + '">' + c.ev + '</a>.</p>';
    h += '<div class="nav">';
    if (c.lp) h += '<button type="button" data-sel="' + c.lp + '">&larr; previous in its list</button>';
    if (c.ln) h += '<button type="button" data-sel="' + c.ln + '">next in its list &rarr;</button>';
    h += '<button type="button" id="prev-change" title="p">&#x25C0; earlier change</button><button type="button" id="next-change" title="n">later change &#x25B6;</button></div>';
    body.innerHTML = h;
  }
  function xor(a, b) {                  /* exact XOR of two numbers below 2^53 */
    const hi = (Math.floor(a / 2 ** 32) ^ Math.floor(b / 2 ** 32)) >>> 0, lo = ((a % 2 ** 32) ^ (b % 2 ** 32)) >>> 0;
    return hi * 2 ** 32 + lo;
  }
  /* The nearest event before or after the current one that changes the
   * chunk at (or holding) address a. */
  function findChange(a, dir) {
    const limit = 2000000;
    for (let i = M.at + dir, n = 0; i >= 0 && i < E && n < limit; i += dir, n++) {
      const ops = readChanges(i);
      for (const o of ops) if (!o.region && a >= o.a && a < o.a + o.s) return i;
    }
    return -1;
  }

  /* -- bins: a block per list, remade only when what it shows changed -- */
  const binBlocks = new Map();           /* list number -> {sig, el} */
  function binBlock(x) {
    const n = x.L.n, shown = listAddrs(x.L, 12), dbl = x.state === S.UNSORTED || x.state === S.SMALLBIN || x.state === S.LARGEBIN;
    const sig = n + ':' + shown.map((c) => c.a + (c.a === sel ? 's' : '') + (changed.has(c.a) ? 'c' : '') + '/' + c.s).join(',');
    const old = binBlocks.get(x.i);
    if (old && old.sig === sig) return old.el;
    const name = x.state === S.TCACHE ? 'tcache[' + x.bin + ']' : x.state === S.REMOTE ? 'remote batch' : STATES[x.state] + '[' + x.bin + ']';
    const title = binRange(x.state, x.bin) + ' · ' + n + ' chunk' + (n === 1 ? '' : 's') +
      (dbl ? ' · doubly linked (fd →, bk ←)' : ' · singly linked, last in first out');
    const BW = 118, BH = 38, GAPX = 34, H = BH + 20;
    const width = 70 + shown.length * (BW + GAPX) + (n > shown.length ? 90 : 0);
    let svg = '<svg width="' + width + '" height="' + H + '" viewBox="0 0 ' + width + ' ' + H + '" role="list" aria-label="' + esc(name + ': ' + title) + '">';
    svg += '<rect x="2" y="10" width="56" height="' + BH + '" fill="#eee" stroke="#000" stroke-dasharray="3,2"/><text x="30" y="33" font-size="11" text-anchor="middle">head</text>';
    shown.forEach((c, k) => {
      const x0 = 70 + k * (BW + GAPX), prevRight = k ? x0 - GAPX : 58;
      svg += '<line x1="' + prevRight + '" y1="' + (dbl ? 21 : 29) + '" x2="' + (x0 - 1) + '" y2="' + (dbl ? 21 : 29) + '" stroke="#000" stroke-width="1.4" marker-end="url(#ah)"/>';
      if (dbl) svg += '<line x1="' + (x0 - 1) + '" y1="37" x2="' + prevRight + '" y2="37" stroke="#000" stroke-width="1.4" stroke-dasharray="4,2" marker-end="url(#ah)"/>';
      const lbl = hex(c.a) + ', ' + c.s + ' bytes' + (c.a === sel ? ', selected' : '') + (changed.has(c.a) ? ', changed by this event' : '');
      svg += '<g class="node" role="listitem" tabindex="' + (k ? -1 : 0) + '" data-sel="' + c.a + '" aria-label="' + esc(lbl) + '"><rect class="box" x="' + x0 + '" y="10" width="' + BW + '" height="' + BH + '" fill="' + COLOR[c.st] + '" stroke="#000" stroke-width="' + (c.a === sel ? 3 : 1) + '"' + (changed.has(c.a) ? ' stroke-dasharray="5,2"' : '') + '/>' +
        '<rect x="' + (x0 + 3) + '" y="13" width="' + (BW - 6) + '" height="' + (BH - 6) + '" fill="#fff" opacity="0.85"/>' +
        '<text x="' + (x0 + BW / 2) + '" y="26" font-size="11" text-anchor="middle" font-family="monospace">' + hex(c.a) + '</text>' +
        '<text x="' + (x0 + BW / 2) + '" y="40" font-size="11" text-anchor="middle">' + c.s + ' B' + (changed.has(c.a) ? ' ◆' : '') + '</text></g>';
    });
    if (n > shown.length) svg += '<text x="' + (70 + shown.length * (BW + GAPX)) + '" y="33" font-size="12">… ' + (n - shown.length) + ' more</text>';
    svg += '</svg>';
    const el = document.createElement('div');
    el.className = 'bin'; el.dataset.list = x.i;
    el.innerHTML = '<div class="bin-h"><b>' + esc(name) + '</b> ' + esc(title) + '</div><div class="chain">' + svg + '</div>';
    binBlocks.set(x.i, { sig, el });
    return el;
  }
  function renderBins() {
    const lists = shownLists(), body = $('bins-body');
    if (!lists.length) { body.textContent = ''; body.insertAdjacentHTML('beforeend', '<p>Every bin is empty at this event.</p>'); binBlocks.clear(); return; }
    const want = [], seen = new Set();
    let group = '';
    for (const x of lists) {
      const g = x.state === S.TCACHE ? 'tcache of thread ' + x.thread : x.arena >= 0 ? 'arena ' + x.arena : 'no known arena';
      if (g !== group) {
        let h = binBlocks.get('h' + g);
        if (!h) {
          const el = document.createElement('div'); el.className = 'arena-h';
          el.innerHTML = esc(g) + (x.state === S.TCACHE ? ' <span class="hint">(no lock; singly linked, next pointers safe-linked)</span>' : '');
          h = { sig: g, el }; binBlocks.set('h' + g, h);
        }
        want.push(h.el); seen.add('h' + g); group = g;
      }
      want.push(binBlock(x)); seen.add(x.i);
    }
    for (const k of Array.from(binBlocks.keys())) if (!seen.has(k)) binBlocks.delete(k);
    /* the blocks in order, moving only what is out of place */
    let at = body.firstChild;
    for (const el of want) {
      if (at === el) { at = at.nextSibling; continue; }
      body.insertBefore(el, at);
    }
    while (at) { const next = at.nextSibling; body.removeChild(at); at = next; }
  }

  /* -- call sites -- */
  function renderSites() {
    const n = siteCount, idx = [];
    for (let i = 0; i < n; i++) if (M.siteBytes[i] > 0) idx.push(i);
    idx.sort((a, b) => M.siteBytes[b] - M.siteBytes[a]);
    const top = idx.slice(0, 15), max = top.length ? M.siteBytes[top[0]] : 1;
    $('sites-table').tBodies[0].innerHTML = top.length ? top.map((i) => '<tr><td>' + esc(meta.sites[i]) + '</td><td><span class="bar" style="width:' +
      Math.round(80 * M.siteBytes[i] / max) + 'px"></span>' + M.siteBytes[i] + '</td><td>' + M.siteChunks[i] + '</td></tr>').join('') +
      (idx.length > 15 ? '<tr><td colspan="3">… ' + (idx.length - 15) + ' more sites</td></tr>' : '')
      : '<tr><td colspan="3">no chunk in use has a recorded call site</td></tr>';
  }

  function renderText() {
    const d = $('text-body').parentElement;
    if (d.open) $('text-body').textContent = heapText();
  }

  /* The bins panel and the text picture are drawn after the frame that
   * shows the step, and only when on screen (the bins are thousands of
   * elements on a big heap): a held key does not wait for them, and a
   * panel scrolled into view is drawn then.  settled() says when they are
   * up to date. */
  const onScreen = { bins: false, text: false };
  const stale = { bins: true, text: true };
  let pendingLater = null, settledWaiters = [];
  function later() {
    stale.bins = stale.text = true;
    if (pendingLater) return;
    pendingLater = requestAnimationFrame(() => setTimeout(drawLater, 0));
  }
  function drawLater() {
    pendingLater = null;
    const t = performance.now();
    if (stale.bins && onScreen.bins) { renderBins(); stale.bins = false; }
    if (stale.text && onScreen.text) { renderText(); stale.text = false; }
    if (view.timing.views) view.timing.views.later = performance.now() - t;
    const waiters = settledWaiters;
    settledWaiters = [];
    waiters.forEach((f) => f());
  }
  function settled() {
    return new Promise((resolve) => {
      if (!pendingLater) resolve(); else settledWaiters.push(resolve);
    });
  }
  function watchScreen() {
    const io = new IntersectionObserver((entries) => {
      for (const en of entries) {
        const which = en.target.id === 'bins' ? 'bins' : 'text';
        onScreen[which] = en.isIntersecting;
        if (en.isIntersecting && stale[which] && !pendingLater) pendingLater = requestAnimationFrame(() => setTimeout(drawLater, 0));
      }
    }, { rootMargin: '200px' });
    io.observe($('bins')); io.observe($('text'));
  }

  let lastStep = 0;
  function render(opts) {
    const t0 = performance.now();
    $('event').value = num(M.at); $('event').min = base; $('event').max = num(E - 1);
    $('event-of').textContent = base ? '(' + num(0) + ' to ' + num(E - 1) + ': a window of the log)' : 'of ' + E + ' (0 to ' + (E - 1) + ')';
    const tv = view.timing.views = {};
    const timed = (name, fn) => { const t = performance.now(); fn(); tv[name] = performance.now() - t; };
    timed('describe', renderDescribe);
    layout = null;
    timed('plot', renderPlot); timed('space', renderSpace); timed('strip', renderStrip); timed('table', renderTable);
    timed('detail', renderDetail); timed('sites', renderSites);
    later();
    if (opts && opts.scroll && sel) { scrollStripTo(sel); scrollTableTo(sel); renderStrip(); renderTable(); }
    renderTour();
    lastStep = view.timing.render = performance.now() - t0;
    if (location.hash !== '#' + num(M.at)) history.replaceState(null, '', '#' + num(M.at));
  }

  function goTo(n, opts) {
    const t0 = performance.now();
    moveTo(n);
    view.timing.apply = performance.now() - t0;
    if ($('follow').checked && !(opts && opts.keep) && !(base && M.at === 0)) {
      const ops = readChanges(M.at), o = ops.find((x) => x.add && !x.region);
      if (o) { sel = o.a; opts = Object.assign({}, opts, { scroll: true }); }
    }
    if (sel && !M.chunks.has(sel)) { const c = chunkHolding(sel); if (c) sel = c.a; }
    render(opts);
    view.timing.lastMove = performance.now() - t0;
  }

  function select(a, scroll) {
    sel = a;
    $('follow').checked = false;        /* the user chose: the selection stays */
    renderDetail(); renderStrip(); renderTable();
    later();
    if (scroll) { scrollStripTo(a); scrollTableTo(a); renderStrip(); renderTable(); }
  }

  function nextCall(dir) {
    for (let i = M.at + dir; i >= 0 && i < E; i += dir) if (isCall(evType[i])) return i;
    return dir > 0 ? E - 1 : 0;
  }

  function findAddress(text) {
    const a = parseInt(String(text).trim().replace(/^0x/i, ''), 16);
    if (!isFinite(a)) { status('not an address: ' + text, true); return; }
    let c = chunkHolding(a);
    if (!c && M.chunks.has(a - 16)) c = M.chunks.get(a - 16);
    if (c) { status(hex(a) + ' is in chunk ' + hex(c.a) + ' (' + STATE_WORDS[c.st] + ')'); select(c.a, true); return; }
    const i = findChange(a, -1), j = i < 0 ? findChange(a, 1) : -1;
    if (i >= 0 || j >= 0) { sel = a; goTo(i >= 0 ? i : j, { scroll: true, keep: true }); status('no chunk holds ' + hex(a) + ' at this event: went to event ' + num(M.at) + ', which changed it'); return; }
    status('no chunk holds ' + hex(a) + ' at any event', true);
  }

  function status(msg, bad) { const s = $('status'); s.textContent = msg; s.className = bad ? 'error' : ''; }

  /* ---- the tour: marks "chapter N | title | text [| select ADDR]" ----------- */
  let scenes = [];
  function parseTour() {
    scenes = [];
    meta.marks.forEach(([event, label]) => {
      const parts = label.split(' | ');
      const m = /^chapter (\d+)$/.exec(parts[0]);
      if (!m || parts.length < 3) return;
      if (event < base || event > num(E - 1)) return;    /* outside this page's window */
      const scene = { chapter: +m[1], event, title: parts[1], text: parts[2].replace(/\\n/g, '\n'), select: 0 };
      for (const p of parts.slice(3)) { const s = /^select (0x[0-9a-f]+)$/i.exec(p); if (s) scene.select = parseInt(s[1], 16); }
      scenes.push(scene);
    });
    scenes.sort((x, y) => x.chapter - y.chapter || x.event - y.event);
    if (scenes.length) $('tour').hidden = false;
  }
  let scene = -1;
  function showScene(k) {
    if (!scenes.length) return;
    scene = Math.max(0, Math.min(scenes.length - 1, k));
    const s = scenes[scene];
    if (s.select) { const c = M.chunks.get(s.select) || M.chunks.get(s.select - 16); sel = c ? c.a : s.select - 16; }
    goTo(idx(s.event), { scroll: true, keep: !!s.select });
    if (s.select) { const c = M.chunks.get(s.select) || M.chunks.get(s.select - 16) || chunkHolding(s.select); if (c) select(c.a, true); }
  }
  function renderTour() {
    if (!scenes.length) return;
    const s = scenes[Math.max(0, scene)], on = s.event === num(M.at);
    $('tour-title').textContent = 'Chapter ' + s.chapter + ' (' + (scene + 1) + ' of ' + scenes.length + '): ' + s.title;
    $('tour-text').textContent = s.text + (on ? '' : '\n(At event ' + num(M.at) + ' now; this chapter\'s scene is event ' + s.event + ': ] or [ go to the next or previous scene.)');
  }

  /* ---- keys and clicks ----------------------------------------------------------------- */
  function wire() {
    $('first').onclick = () => goTo(0);
    $('last').onclick = () => goTo(E - 1);
    $('prev').onclick = () => goTo(M.at - 1);
    $('next').onclick = () => goTo(M.at + 1);
    $('prev-call').onclick = () => goTo(nextCall(-1));
    $('next-call').onclick = () => goTo(nextCall(1));
    $('event').onchange = () => goTo(idx(parseInt($('event').value, 10) || base));
    $('find').onclick = () => findAddress($('addr').value);
    $('addr').onkeydown = (e) => { if (e.key === 'Enter') findAddress($('addr').value); };
    $('tour-prev').onclick = () => showScene(scene - 1);
    $('tour-next').onclick = () => showScene(scene + 1);
    document.querySelectorAll('input[name=scale]').forEach((r) => { r.onchange = () => { scaleLog = r.value === 'log' && r.checked; layout = null; renderSpace(); renderStrip(); renderTable(); }; });
    $('text-body').parentElement.addEventListener('toggle', () => { renderText(); stale.text = false; });
    $('plot').onclick = (e) => {
      const r = $('plot').getBoundingClientRect(), x = e.clientX - r.left;
      goTo(Math.round((x - plot.x0) / (plot.x1 - plot.x0) * (E - 1)));
    };
    $('strip').onclick = stripHit;
    $('strip-wrap').onscroll = () => renderStrip();
    $('rows').onscroll = () => renderTable();
    $('rows').onclick = (e) => { const r = e.target.closest('.tr[data-a]'); if (r) select(+r.dataset.a); };
    document.body.addEventListener('click', (e) => {
      const t = e.target.closest('[data-sel],[data-goto]');
      if (!t) {
        if (e.target.id === 'prev-change' || e.target.id === 'next-change') {
          const i = findChange(sel, e.target.id === 'next-change' ? 1 : -1);
          if (i >= 0) goTo(i, { scroll: true, keep: true }); else status('no ' + (e.target.id === 'next-change' ? 'later' : 'earlier') + ' event changes ' + hex(sel));
        }
        return;
      }
      e.preventDefault();
      if (t.dataset.goto) { if (+t.dataset.goto >= base) goTo(idx(+t.dataset.goto), { scroll: true, keep: true }); else status('event ' + t.dataset.goto + ' is before this page\'s window (it starts at event ' + base + ')', true); } else select(+t.dataset.sel, true);
    });
    document.body.addEventListener('keydown', (e) => {
      const tag = e.target.tagName;
      if (tag === 'INPUT' || tag === 'TEXTAREA' || e.ctrlKey || e.metaKey || e.altKey) return;
      const node = e.target.closest && e.target.closest('g.node');
      if (node && (e.key === 'ArrowRight' || e.key === 'ArrowLeft') && !e.shiftKey) {
        /* one Tab stop a list: the arrows go along it */
        const to = e.key === 'ArrowRight' ? node.nextElementSibling : node.previousElementSibling;
        let k = to;
        while (k && !(k.matches && k.matches('g.node'))) k = e.key === 'ArrowRight' ? k.nextElementSibling : k.previousElementSibling;
        if (k) { e.preventDefault(); k.focus(); }
        return;
      }
      if (e.target.closest && e.target.closest('[data-sel]') && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); select(+e.target.closest('[data-sel]').dataset.sel, true); return; }
      if (e.target.id === 'chunk-table' || e.target.id === 'rows') {
        const items = (layout || (computeLayout(), layout)).items;
        let k = items.findIndex((it) => it.c.a === sel);
        const move = { ArrowUp: -1, ArrowDown: 1, PageUp: -10, PageDown: 10, Home: -1e9, End: 1e9 }[e.key];
        if (move !== undefined && items.length) {
          e.preventDefault();
          k = k < 0 ? (move < 0 ? items.length - 1 : 0) : Math.max(0, Math.min(items.length - 1, k + move));
          select(items[k].c.a, true);
          return;
        }
      }
      let handled = true;
      switch (e.key) {
        case 'ArrowRight': goTo(e.shiftKey ? nextCall(1) : M.at + 1); break;
        case 'ArrowLeft': goTo(e.shiftKey ? nextCall(-1) : M.at - 1); break;
        case 'Home': goTo(0); break;
        case 'End': goTo(E - 1); break;
        case 'PageDown': goTo(M.at + 100); break;
        case 'PageUp': goTo(M.at - 100); break;
        case ']': showScene(scene + 1); break;
        case '[': showScene(scene - 1); break;
        case 'g': $('event').focus(); $('event').select(); break;
        case '/': $('addr').focus(); $('addr').select(); break;
        case 'n': case 'p': if (sel) { const i = findChange(sel, e.key === 'n' ? 1 : -1); if (i >= 0) goTo(i, { scroll: true, keep: true }); } break;
        default: handled = false;
      }
      if (handled) e.preventDefault();
    });
    window.addEventListener('resize', () => { measure(); layout = null; render(); });
    window.addEventListener('hashchange', () => { const n = parseInt(location.hash.slice(1), 10); if (n >= base && idx(n) !== M.at) goTo(idx(n)); });
  }

  /* ---- start ------------------------------------------------------------------------- */

  const view = window.ptallocView = {
    timing: { load: 0, lastMove: 0, start: performance.now() },
    errors: M.errors,
    goTo: (n) => { goTo(idx(n)); return num(M.at); },
    at: () => num(M.at),
    first: () => base,
    events: () => E,
    text: () => heapText(),
    select: (a) => select(a, true),
    selected: () => sel,
    brk: () => { const b = M.regions.filter((r) => r.kind === SYSK.BRK); return b.length ? b[b.length - 1].end : 0; },
    chunks: () => drawnItems().map((x) => ({ addr: x.c.a, size: x.c.s, state: STATES[x.c.st], arena: x.arena, bin: binOf(x.c.st, x.c.s), thread: x.c.th })),
    bins: () => shownLists().map((x) => ({ state: STATES[x.state], arena: x.arena, thread: x.thread, bin: x.bin, chunks: listAddrs(x.L, 1e9).map((c) => c.a) })),
    describe: () => $('describe').textContent,
    scenes: () => scenes.map((s) => ({ chapter: s.chapter, event: s.event, title: s.title })),
    showScene: (k) => { showScene(k); return num(M.at); },
    lastRender: () => lastStep,
    settled,
    /* the page's own logic, for unit tests */
    lib: { binOf, binRange, largebinIndex, xor, hex, fmtBytes, describe, why, stateNames: STATES },
  };
  view.ready = (async () => {
    try {
      $('title').textContent = meta.title;
      document.title = 'ptalloc: ' + meta.title;
      if (typeof DecompressionStream === 'undefined') throw new Error('this browser cannot unpack the data (no DecompressionStream): use a current Chromium, Firefox or Safari');
      let t = performance.now();
      view.timing.script = t;
      data = await unpack();
      view.timing.unpack = performance.now() - t; t = performance.now();
      index();
      view.timing.index = performance.now() - t;
      M.siteBytes = new Float64Array(siteCount); M.siteChunks = new Int32Array(siteCount);
      checkpoint();                     /* the empty heap before event 0 */
      legend();
      measure();
      watchScreen();
      parseTour();
      wire();
      const fromHash = parseInt(location.hash.slice(1), 10);
      if (!E) { status('the log has no events'); return; }
      if (scenes.length && !(fromHash >= base)) showScene(0);
      else goTo(fromHash >= base ? idx(fromHash) : E - 1);
      view.timing.load = performance.now();
      if (meta.live) {
        status('A running process\'s heap, read by ptalloc heap at one moment: no events to step through.');
        $('timeline').hidden = true;
        return;
      }
      status(E + ' events of pid ' + meta.pid + (meta.ended ? '' : ' (the log has no end record: the process was killed, or called _exit or exec)') +
        (meta.contradictions ? '; ' + meta.contradictions + ' contradictions between log and rebuilt heap' : '') + '. Loaded in ' + (view.timing.load / 1000).toFixed(2) + ' s.');
    } catch (err) {
      status('cannot show this log: ' + err.message, true);
      view.error = err.message;
      throw err;
    }
  })();
})();
