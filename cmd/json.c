/*
 * ptalloc json FILE [-o OUT]              the log as JSON (docs/TRACE-JSON.md)
 * ptalloc json FILE --perfetto [-o OUT]   Chrome trace-event JSON
 *
 * Both are written as the log is read, one event at a time, so a log of
 * gigabytes needs no more memory than its threads.  With -o the output
 * goes to OUT.tmp first and is renamed at the end: a log that turns out to
 * be truncated or corrupt leaves no half-written OUT behind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cmds.h"
#include "log.h"

#define JSON_FORMAT "ptalloc-trace-json"
#define JSON_VERSION 1

static FILE *out;
static char *tmp_path;          /* removed when the log turns out broken */

static void bail(const char *file, const char *msg)
{
    if (tmp_path)
        unlink(tmp_path);
    cmd_die("json", file, "%s", msg);
}

/* A JSON string: valid UTF-8 passes, control characters are escaped and
 * every byte of an invalid sequence becomes U+FFFD, so any path or label
 * bytes give a document every parser reads; '<' is escaped too, so that
 * the string can stand in an HTML script element. */
void cmd_json_string(FILE *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    putc('"', out);
    while (p < end) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            putc('\\', out);
            putc((int)c, out);
            p++;
        } else if (c < 0x20 || c == '<') {
            fprintf(out, "\\u%04x", c);
            p++;
        } else if (c < 0x80) {
            putc((int)c, out);
            p++;
        } else {
            int len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
            int ok = len && end - p >= len;
            for (int i = 1; ok && i < len; i++)
                ok = (p[i] & 0xc0) == 0x80;
            /* overlong three- and four-byte forms, surrogates, past U+10FFFF */
            if (ok && len == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0)))
                ok = 0;
            if (ok && len == 4 && ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90)))
                ok = 0;
            if (ok) {
                fwrite(p, 1, (size_t)len, out);
                p += len;
            } else {
                fputs("\\ufffd", out);
                p++;
            }
        }
    }
    putc('"', out);
}

static void jstr(const char *s, size_t n) { cmd_json_string(out, s, n); }

static void jkey_str(const char *key, const char *v) { fprintf(out, ",\"%s\":", key); jstr(v, strlen(v)); }
static void jkey_u(const char *key, unsigned long long v) { fprintf(out, ",\"%s\":%llu", key, v); }
static void jkey_hex(const char *key, unsigned long long v) { fprintf(out, ",\"%s\":\"%#llx\"", key, v); }

static void modules_array(const struct tlog_module *m, int n)
{
    putc('[', out);
    for (int i = 0; i < n; i++) {
        fprintf(out, "%s{\"start\":\"%#llx\",\"size\":%llu,\"offset\":%llu,\"path\":", i ? "," : "",
                (unsigned long long)m[i].start, (unsigned long long)m[i].size, (unsigned long long)m[i].offset);
        jstr(m[i].path, strlen(m[i].path));
        putc('}', out);
    }
    putc(']', out);
}

/* The fields of one event after "kind" (shared by both outputs' args). */
static void event_fields(const struct tlog_event *ev)
{
    int t = ev->type;
    if (tlog_is_call(t)) {
        jkey_str("decision", tlog_decision_name(ev->decision));
        if (ev->merged_prev) fputs(",\"merged_prev\":true", out);
        if (ev->merged_next) fputs(",\"merged_next\":true", out);
        if (t == TLOG_REALLOC || t == TLOG_REALLOCARRAY) {
            jkey_hex("old_addr", ev->old_addr);
            jkey_u("old_size", ev->old_size);
            if (ev->source)
                jkey_str("source", tlog_decision_name(ev->source));
        }
        if (t == TLOG_CALLOC || t == TLOG_REALLOCARRAY) {
            jkey_u("count", ev->count);
            jkey_u("element_size", ev->elsize);
        } else if (t == TLOG_MALLOC_TRIM) {
            jkey_u("pad", ev->pad);
            jkey_u("result", ev->result);
        } else if (t != TLOG_FREE) {
            if (ev->alignment || t == TLOG_MEMALIGN || t == TLOG_ALIGNED_ALLOC || t == TLOG_POSIX_MEMALIGN ||
                t == TLOG_FREE_ALIGNED_SIZED)
                jkey_u("alignment", ev->alignment);
            jkey_u("request", ev->request);
        }
        if (ev->has_chunk) {
            jkey_hex("addr", ev->addr);
            jkey_u("size", ev->size);
        }
        return;
    }
    switch (t) {
    case TLOG_SET: {
        jkey_str("state", tlog_state_name(ev->state));
        jkey_hex("addr", ev->addr);
        jkey_u("size", ev->size);
        int bin = tlog_bin(ev->state, ev->size);
        if (bin >= 0)
            jkey_u("bin", (unsigned)bin);
        break;
    }
    case TLOG_SYS:
        jkey_str("sys", tlog_sys_name(ev->sys_kind));
        jkey_u("arena", ev->arena);
        jkey_hex("addr", ev->addr);
        jkey_u("size", ev->size);
        if (ev->sys_kind == TLOG_SYS_MREMAP) {
            jkey_hex("new_addr", ev->new_addr);
            jkey_u("new_size", ev->new_size);
        }
        break;
    case TLOG_CONSOLIDATE: case TLOG_ARENA:
        jkey_u("arena", ev->arena);
        break;
    case TLOG_ARENA_NEW:
        jkey_u("arena", ev->arena);
        jkey_hex("addr", ev->addr);
        break;
    case TLOG_THREAD_START: jkey_u("tid", ev->value); break;
    case TLOG_FORK:         jkey_u("child_pid", ev->value); break;
    case TLOG_WALK:         jkey_u("ordinal", ev->value); break;
    case TLOG_MARK:
        fputs(",\"label\":", out);
        jstr(ev->label, ev->label_len);
        break;
    case TLOG_MODULES:
        fputs(",\"modules\":", out);
        modules_array(ev->modules, ev->nmodules);
        break;
    default:
        break;
    }
}

static void site_array(const struct tlog_event *ev)
{
    fputs(",\"site\":[", out);
    for (int i = 0; i < ev->nsite; i++)
        fprintf(out, "%s\"%#llx\"", i ? "," : "", (unsigned long long)ev->site[i]);
    putc(']', out);
}

/* ---- ptalloc-trace-json -------------------------------------------------------------- */

static void write_json(struct tlog *log, const char *file)
{
    const struct tlog_header *h = tlog_header(log);
    fprintf(out, "{\"format\":\"%s\",\"version\":%d,\n\"log\":{\"file\":", JSON_FORMAT, JSON_VERSION);
    jstr(file, strlen(file));
    fprintf(out, ",\"log_version\":%u,\"pid\":%u,\"parent_pid\":%u,\"forked_child\":%s,"
                 "\"start_monotonic_ns\":%llu,\"start_realtime_ns\":%llu,\"page_size\":%u,"
                 "\"stack_depth\":%u,\"bytes\":%llu,\"segments\":%u},\n\"threads\":[",
            h->version, h->pid, h->ppid, h->flags & 1 ? "true" : "false", (unsigned long long)h->ns0,
            (unsigned long long)h->realtime0, h->page_size, h->stack_depth, (unsigned long long)h->size,
            h->segments);
    int nt;
    const struct tlog_thread *th = tlog_threads(log, &nt);
    for (int i = 0, first = 1; i < nt; i++) {
        if (!th[i].segments)
            continue;
        fprintf(out, "%s\n{\"thread\":%d,\"tid\":%u,\"segments\":%u}", first ? "" : ",", i, th[i].tid,
                th[i].segments);
        first = 0;
    }
    fputs("],\n\"events\":[", out);
    struct rebuild *rb = rebuild_new();
    struct tlog_event ev;
    uint64_t n = 0, calls = 0;
    int r;
    while ((r = tlog_next(log, &ev)) > 0) {
        rebuild_apply(rb, &ev);
        fprintf(out, "%s\n{\"n\":%llu,\"t_ns\":%llu,\"thread\":%d,\"kind\":\"%s\"", n ? "," : "",
                (unsigned long long)ev.number, (unsigned long long)tlog_rel_ns(log, ev.ns), ev.thread,
                tlog_type_name(ev.type));
        if (tlog_is_call(ev.type)) {
            calls++;
            event_fields(&ev);
            site_array(&ev);
        } else {
            event_fields(&ev);
        }
        putc('}', out);
        n++;
    }
    if (r < 0)
        bail(file, tlog_error(log));
    int nm;
    const struct tlog_module *m = tlog_modules(log, &nm);
    fputs("],\n\"modules\":", out);
    modules_array(m, nm);
    const struct rb_totals *t = rebuild_totals(rb);
    fprintf(out, ",\n\"summary\":{\"events\":%llu,\"calls\":%llu,\"complete\":%s,\"contradictions\":%llu,"
                 "\"heap_bytes\":%llu,\"in_use_bytes\":%llu,\"free_bytes\":%llu,\"chunks\":%llu}}\n",
            (unsigned long long)n, (unsigned long long)calls, tlog_saw_end(log) ? "true" : "false",
            (unsigned long long)rebuild_contradictions(rb), (unsigned long long)t->heap,
            (unsigned long long)t->in_use, (unsigned long long)t->free, (unsigned long long)t->chunks);
    rebuild_free(rb);
}

/* ---- Chrome trace events (Perfetto, chrome://tracing) ---------------------------------- */

/* Times in microseconds since the log's start, to the ns. */
static void ts_us(const char *key, uint64_t ns)
{
    fprintf(out, ",\"%s\":%llu.%03llu", key, (unsigned long long)(ns / 1000), (unsigned long long)(ns % 1000));
}

static void counter(uint32_t pid, const char *name, uint64_t ns, uint64_t v)
{
    fprintf(out, ",\n{\"ph\":\"C\",\"pid\":%u,\"name\":\"%s\"", pid, name);
    ts_us("ts", ns);
    fprintf(out, ",\"args\":{\"bytes\":%llu}}", (unsigned long long)v);
}

static void write_perfetto(struct tlog *log, const char *file)
{
    const struct tlog_header *h = tlog_header(log);
    uint32_t pid = h->pid;
    fprintf(out, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"format\":\"ptalloc-trace-perfetto\",\"version\":%d,"
                 "\"pid\":%u},\n\"traceEvents\":[\n{\"ph\":\"M\",\"pid\":%u,\"tid\":%u,\"name\":\"process_name\","
                 "\"args\":{\"name\":\"pid %u (ptalloc trace)\"}}",
            JSON_VERSION, pid, pid, pid, pid);
    int nt;
    const struct tlog_thread *th = tlog_threads(log, &nt);
    for (int i = 0; i < nt; i++)
        if (th[i].segments)
            fprintf(out, ",\n{\"ph\":\"M\",\"pid\":%u,\"tid\":%u,\"name\":\"thread_name\","
                         "\"args\":{\"name\":\"thread %d (tid %u)\"}}",
                    pid, th[i].tid, i, th[i].tid);
    /* A call's record is stamped as it returns; its first step record
     * (if any) says when it was already under way. */
    uint64_t *started = calloc((size_t)nt + 1, sizeof *started);
    if (!started)
        bail(file, "out of memory");
    struct rebuild *rb = rebuild_new();
    struct rb_totals last = { 1, 1, 1, 0 };       /* so the first values are written */
    struct tlog_event ev;
    int r;
    while ((r = tlog_next(log, &ev)) > 0) {
        rebuild_apply(rb, &ev);
        uint64_t ns = tlog_rel_ns(log, ev.ns);
        int t = ev.type;
        if (tlog_is_call(t)) {
            uint64_t start = started[ev.thread] ? started[ev.thread] - 1 : ns;
            started[ev.thread] = 0;
            fprintf(out, ",\n{\"ph\":\"X\",\"pid\":%u,\"tid\":%u,\"name\":\"%s\",\"cat\":\"call\"", pid, ev.tid,
                    tlog_type_name(t));
            ts_us("ts", start);
            ts_us("dur", ns - start);
            fprintf(out, ",\"args\":{\"n\":%llu", (unsigned long long)ev.number);
            event_fields(&ev);
            fputs("}}", out);
        } else {
            if (!started[ev.thread])
                started[ev.thread] = ns + 1;
            if (t == TLOG_MARK || t == TLOG_WALK || t == TLOG_SNAPSHOT || t == TLOG_FORK || t == TLOG_END ||
                t == TLOG_THREAD_START || t == TLOG_THREAD_EXIT || t == TLOG_SYS || t == TLOG_CONSOLIDATE ||
                t == TLOG_ARENA_NEW) {
                fprintf(out, ",\n{\"ph\":\"i\",\"s\":\"%s\",\"pid\":%u,\"tid\":%u,\"name\":", t == TLOG_MARK ? "p" : "t",
                        pid, ev.tid);
                if (t == TLOG_MARK) {
                    fputs("\"mark\"", out);
                } else if (t == TLOG_SYS) {
                    fprintf(out, "\"sys %s\"", tlog_sys_name(ev.sys_kind));
                } else {
                    fprintf(out, "\"%s\"", tlog_type_name(t));
                }
                fprintf(out, ",\"cat\":\"%s\"", t == TLOG_MARK ? "mark" : "step");
                ts_us("ts", ns);
                fprintf(out, ",\"args\":{\"n\":%llu", (unsigned long long)ev.number);
                event_fields(&ev);
                fputs("}}", out);
            }
        }
        const struct rb_totals *tot = rebuild_totals(rb);
        if (tot->heap != last.heap)
            counter(pid, "heap bytes", ns, tot->heap);
        if (tot->in_use != last.in_use)
            counter(pid, "in-use bytes", ns, tot->in_use);
        if (tot->free != last.free)
            counter(pid, "free bytes", ns, tot->free);
        last = *tot;
    }
    if (r < 0)
        bail(file, tlog_error(log));
    fputs("\n]}\n", out);
    free(started);
    rebuild_free(rb);
}

int cmd_json(int argc, char **argv)
{
    const char *file = NULL, *outname = NULL;
    int perfetto = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-o") == 0) {
            if (i + 1 == argc)
                cmd_die("json", NULL, "-o needs a file name");
            outname = argv[++i];
        } else if (strcmp(a, "--perfetto") == 0) {
            perfetto = 1;
        } else if (a[0] == '-' && a[1]) {
            cmd_die("json", NULL, "unknown flag %s (see 'ptalloc --help')", a);
        } else if (file) {
            cmd_die("json", NULL, "one log at a time (got '%s' and '%s')", file, a);
        } else {
            file = a;
        }
    }
    if (!file)
        cmd_die("json", NULL, "no log given (see 'ptalloc --help')");
    char err[512];
    struct tlog *log = tlog_open(file, err, sizeof err);
    if (!log)
        cmd_die("json", file, "%s", err);
    out = stdout;
    if (outname && strcmp(outname, "-") != 0) {
        if (asprintf(&tmp_path, "%s.tmp", outname) < 0)
            cmd_die("json", NULL, "out of memory");
        out = fopen(tmp_path, "w");
        if (!out)
            cmd_die("json", NULL, "-o %s: %s", outname, strerror(errno));
    }
    static char buf[1 << 20];
    setvbuf(out, buf, _IOFBF, sizeof buf);
    if (perfetto)
        write_perfetto(log, file);
    else
        write_json(log, file);
    if (fflush(out) != 0 || ferror(out))
        bail(NULL, outname ? "cannot write the output" : "cannot write to stdout");
    if (tmp_path) {
        if (fclose(out) != 0 || rename(tmp_path, outname) != 0) {
            int e = errno;
            unlink(tmp_path);
            cmd_die("json", NULL, "-o %s: %s", outname, strerror(e));
        }
        free(tmp_path);
        tmp_path = NULL;
    }
    tlog_close(log);
    return 0;
}
