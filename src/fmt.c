/*
 * A small printf of our own, for messages, statistics and the heap
 * picture: malloc's error and reporting paths must never call malloc, and
 * stdio may.  Supports %s %c %d %i %u %x %p %% with l/z/ll length, width,
 * '-' and '0'.  And the error path: reports of heap corruption and of
 * failed internal asserts, then abort.
 */
#include <stdarg.h>
#include <string.h>
#include <limits.h>
#include "internal.h"

COLD void fmt_init(fmtbuf_t *b, char *buf, size_t cap, int fd)
{
    b->buf = buf;
    b->cap = cap;
    b->len = 0;
    b->fd = fd;
}

COLD void fmt_flush(fmtbuf_t *b)
{
    if (b->fd >= 0 && b->len) {
        os_write(b->fd, b->buf, b->len);
        b->len = 0;
    }
}

static COLD void put(fmtbuf_t *b, char c)
{
    if (b->len + 1 >= b->cap) {
        if (b->fd < 0)
            return;            /* truncate, keep room for the NUL */
        fmt_flush(b);
    }
    b->buf[b->len++] = c;
}

static COLD void put_padded(fmtbuf_t *b, const char *s, size_t n, int width, int left, char padc)
{
    int pad = width > (int)n ? width - (int)n : 0;
    if (!left)
        while (pad-- > 0) put(b, padc);
    while (n--) put(b, *s++);
    if (left)
        while (pad-- > 0) put(b, ' ');
}

static COLD size_t utoa(unsigned long long v, unsigned base, char *out)
{
    char tmp[24];
    size_t n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

COLD void fmt_vprintf(fmtbuf_t *b, const char *f, va_list ap)
{
    char num[32];
    for (; *f; f++) {
        if (*f != '%') {
            put(b, *f);
            continue;
        }
        f++;
        int left = 0, width = 0, lng = 0;
        char padc = ' ';
        for (;; f++) {
            if (*f == '-') left = 1;
            else if (*f == '0') padc = '0';
            else break;
        }
        while (*f >= '0' && *f <= '9')
            width = width * 10 + (*f++ - '0');
        while (*f == 'l' || *f == 'z') { lng++; f++; }
        switch (*f) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s) s = "(null)";
            put_padded(b, s, strlen(s), width, left, ' ');
            break;
        }
        case 'c':
            num[0] = (char)va_arg(ap, int);
            put_padded(b, num, 1, width, left, ' ');
            break;
        case 'd': case 'i': {
            long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
            size_t n = 0;
            unsigned long long u = (unsigned long long)v;
            if (v < 0) { num[n++] = '-'; u = 0ull - u; }
            n += utoa(u, 10, num + n);
            put_padded(b, num, n, width, left, padc);
            break;
        }
        case 'u': case 'x': {
            unsigned long long v = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
            size_t n = utoa(v, *f == 'x' ? 16 : 10, num);
            put_padded(b, num, n, width, left, padc);
            break;
        }
        case 'p': {
            uintptr_t v = (uintptr_t)va_arg(ap, void *);
            num[0] = '0'; num[1] = 'x';
            size_t n = 2 + utoa(v, 16, num + 2);
            put_padded(b, num, n, width, left, ' ');
            break;
        }
        case '%':
            put(b, '%');
            break;
        case 0:
            f--;
            break;
        default:
            put(b, '%');
            put(b, *f);
        }
    }
    if (b->cap)
        b->buf[b->len < b->cap ? b->len : b->cap - 1] = 0;
}

COLD void fmt_printf(fmtbuf_t *b, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    fmt_vprintf(b, f, ap);
    va_end(ap);
}

COLD size_t fmt_snprintf(char *buf, size_t cap, const char *f, ...)
{
    fmtbuf_t b;
    va_list ap;
    fmt_init(&b, buf, cap, -1);
    va_start(ap, f);
    fmt_vprintf(&b, f, ap);
    va_end(ap);
    return b.len;
}

/* Parses a whole number in [s, end) (end NULL: up to the NUL): decimal, or
 * hex with 0x, optional sign, optional k/m/g suffix (powers of 1024).
 * Returns 1 on success; anything else (empty, junk, overflow) is 0. */
int parse_long(const char *s, const char *end, long *out)
{
    if (!end)
        end = s + strlen(s);
    int neg = 0;
    unsigned base = 10;
    unsigned long long v = 0;
    if (s < end && (*s == '-' || *s == '+')) neg = *s++ == '-';
    if (end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) { base = 16; s += 2; }
    if (s >= end)
        return 0;
    const char *digits = s;
    for (; s < end; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9') d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f') d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F') d = (unsigned)(*s - 'A' + 10);
        else break;
        if (v > (ULLONG_MAX - d) / base)
            return 0;
        v = v * base + d;
    }
    if (s == digits)
        return 0;
    if (s < end && base == 10) {
        unsigned shift = 0;
        switch (*s) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: return 0;
        }
        if (v > (ULLONG_MAX >> shift))
            return 0;
        v <<= shift;
        s++;
    }
    if (s != end || v > (unsigned long long)LONG_MAX)
        return 0;
    *out = neg ? -(long)v : (long)v;
    return 1;
}

/* ---- the error path -------------------------------------------------------- */

/* Heap corruption: say so on stderr without allocating, then abort. */
COLD void malloc_error(const char *msg)
{
    char buf[256];
    size_t n = fmt_snprintf(buf, sizeof buf, "%s\n", msg);
    os_write(2, buf, n);
    os_abort();
}

COLD void assert_fail(const char *expr, const char *file, int line)
{
    char buf[512];
    size_t n = fmt_snprintf(buf, sizeof buf, "ptalloc: assertion failed: %s (%s:%d)\n", expr, file, line);
    os_write(2, buf, n);
    os_abort();
}
