/*
 * Options: one table.  Every knob has a name, a default, a range, the
 * mallopt number where glibc has one, and environment variables:
 * PTALLOC_<NAME>, glibc's MALLOC_*_ spelling, and glibc.malloc.<tunable>
 * inside GLIBC_TUNABLES.  A malformed or out-of-range value is ignored and
 * the default kept.  Precedence: PTALLOC_<NAME>, then GLIBC_TUNABLES, then
 * the plain glibc variable.  A setuid process ignores them all.
 */
#include <malloc.h>
#include <limits.h>
#include "internal.h"
#include "ptalloc.h"

/* Set when purge_thread is: malloc_generic starts the thread (decay.c). */
int decay_thread_wanted;

params_t mp = {
    .trim_threshold = DEFAULT_TRIM_THRESHOLD,
    .top_pad        = DEFAULT_TOP_PAD,
    .mmap_threshold = DEFAULT_MMAP_THRESHOLD,
    .mmap_max       = DEFAULT_MMAP_MAX,
    .arena_test     = DEFAULT_ARENA_TEST,
    .arena_max      = 0,
    .mxfast         = DEFAULT_MXFAST,
    .check_action   = 3,
    .tcache_count   = TCACHE_DEFAULT_COUNT,
    .tcache_max     = TCACHE_MAX_REQUEST,
    .max_fast       = DEFAULT_MXFAST,
    .valgrind       = 1,
    .purge_delay_ms = DEFAULT_PURGE_DELAY_MS,
    .tcache_mid     = 1,
    .remote_batch   = REMOTE_BATCH_DEFAULT,
};

#define NO_MALLOPT INT_MIN
#define TURNS_OFF_DYNAMIC 1   /* setting it stops the dynamic mmap threshold */
#define NEG_IS_MAX        2   /* a negative value means "never" (SIZE_MAX)   */
#define IGNORE_NONPOS     4   /* mallopt: a value <= 0 is ignored, yet 1     */

struct option {
    const char *name;          /* PTALLOC_<NAME upper-cased>, ptalloc_set_option */
    int         param;         /* mallopt number                               */
    const char *glibc_env;     /* glibc's environment variable, or NULL        */
    const char *tunable;       /* glibc.malloc.<tunable>, or NULL              */
    long        min, max;
    size_t      offset;        /* field in mp                                  */
    int         flags;
};

#define F(field) offsetof(params_t, field)
static const struct option options[] = {
    { "mxfast",          M_MXFAST,         NULL,                     "mxfast",         0, MAX_FAST_SIZE,         F(mxfast),         0 },
    { "trim_threshold",  M_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_", "trim_threshold", 0, LONG_MAX,              F(trim_threshold), TURNS_OFF_DYNAMIC | NEG_IS_MAX },
    { "top_pad",         M_TOP_PAD,        "MALLOC_TOP_PAD_",        "top_pad",        0, LONG_MAX,              F(top_pad),        TURNS_OFF_DYNAMIC },
    { "mmap_threshold",  M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_", "mmap_threshold", 0, DEFAULT_MMAP_THRESHOLD_MAX, F(mmap_threshold), TURNS_OFF_DYNAMIC },
    { "mmap_max",        M_MMAP_MAX,       "MALLOC_MMAP_MAX_",       "mmap_max",       0, INT_MAX,               F(mmap_max),       TURNS_OFF_DYNAMIC },
    { "check_action",    M_CHECK_ACTION,   "MALLOC_CHECK_",          "check",          0, 7,                     F(check_action),   0 },
    { "perturb",         M_PERTURB,        "MALLOC_PERTURB_",        "perturb",        0, 255,                   F(perturb),        0 },
    { "arena_test",      M_ARENA_TEST,     "MALLOC_ARENA_TEST",      "arena_test",     1, INT_MAX,               F(arena_test),     IGNORE_NONPOS },
    { "arena_max",       M_ARENA_MAX,      "MALLOC_ARENA_MAX",       "arena_max",      1, INT_MAX,               F(arena_max),      IGNORE_NONPOS },
    { "tcache_count",    NO_MALLOPT,       NULL,                     "tcache_count",   0, TCACHE_MAX_COUNT,      F(tcache_count),   0 },
    { "tcache_max",      NO_MALLOPT,       NULL,                     "tcache_max",     0, TCACHE_MAX_TUNABLE,    F(tcache_max),     0 },
    { "tcache_unsorted_limit", NO_MALLOPT, NULL,                     "tcache_unsorted_limit", 0, LONG_MAX,       F(tcache_unsorted_limit), 0 },
    { "hugetlb",         NO_MALLOPT,       NULL,                     "hugetlb",        0, 2,                     F(hugetlb),        0 },
    { "valgrind",        NO_MALLOPT,       NULL,                     NULL,             0, 1,                     F(valgrind),       0 },
    { "purge_delay_ms",  NO_MALLOPT,       NULL,                     NULL,             0, LONG_MAX,              F(purge_delay_ms), NEG_IS_MAX },
    { "purge_thread",    NO_MALLOPT,       NULL,                     NULL,             0, 1,                     F(purge_thread),   0 },
    { "tcache_mid",      NO_MALLOPT,       NULL,                     NULL,             0, 1,                     F(tcache_mid),     0 },
    { "remote_batch",    NO_MALLOPT,       NULL,                     NULL,             0, REMOTE_BATCH_MAX,      F(remote_batch),   0 },
};
#define NOPTIONS (sizeof options / sizeof options[0])

static size_t *field(const struct option *o) { return (size_t *)((char *)&mp + o->offset); }

static void derive(void)
{
    /* M_MXFAST is a request size; 0 turns fastbins off. */
    mp.max_fast = mp.mxfast == 0 ? 0 : (mp.mxfast + SIZE_SZ) & ~(size_t)MALLOC_ALIGN_MASK;
    if (mp.mxfast != 0 && mp.max_fast < MINSIZE)
        mp.max_fast = MINSIZE;
    decay_thread_wanted = mp.purge_thread != 0;
}

static int in_range(const struct option *o, long v)
{
    return (v < 0 && (o->flags & NEG_IS_MAX)) || (v >= o->min && v <= o->max);
}

static int set(const struct option *o, long v)
{
    if (!in_range(o, v))
        return 0;
    *field(o) = v < 0 ? SIZE_MAX : (size_t)v;
    if (o->flags & TURNS_OFF_DYNAMIC)
        mp.no_dyn_threshold = 1;
    derive();
    return 1;
}

/* The option called name (NULL for none, or a NULL name). */
static const struct option *find(const char *name)
{
    size_t len = name ? str_len(name) : 0;
    for (size_t i = 0; name && i < NOPTIONS; i++)
        if (str_len(options[i].name) == len && str_eqn(options[i].name, name, len))
            return &options[i];
    return NULL;
}

/* Looks for glibc.malloc.<tunable>=V in GLIBC_TUNABLES (':'-separated). */
static int tunable_value(const char *tun, const char *name, const char **v, const char **vend)
{
    static const char prefix[] = "glibc.malloc.";
    size_t plen = sizeof prefix - 1, nlen = str_len(name);
    int found = 0;
    for (const char *s = tun; s && *s;) {
        const char *e = s;
        while (*e && *e != ':')
            e++;
        if ((size_t)(e - s) > plen + nlen && str_eqn(s, prefix, plen) &&
            str_eqn(s + plen, name, nlen) && s[plen + nlen] == '=') {
            *v = s + plen + nlen + 1;
            *vend = e;
            found = 1;           /* the last one wins, as in glibc */
        }
        s = *e ? e + 1 : e;
    }
    return found;
}

void options_init(void)
{
    if (os_secure())
        return;
    /* Most environments set none of them: then one scan of it is all the
     * options cost, not two for each option. */
    int ours = os_env_any("PTALLOC_"), glibcs = os_env_any("MALLOC_");
    const char *tunables = os_getenv("GLIBC_TUNABLES");
    if (!ours && !glibcs && !tunables)
        return;
    for (size_t i = 0; i < NOPTIONS; i++) {
        const struct option *o = &options[i];
        char envname[64] = "PTALLOC_";
        size_t k = 8;
        for (const char *c = o->name; *c && k < sizeof envname - 1; c++)
            envname[k++] = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
        envname[k] = 0;
        const char *v, *vend = NULL;
        long val;
        if (ours && (v = os_getenv(envname)) && parse_long(v, NULL, &val) && set(o, val))
            continue;
        if (tunables && o->tunable && tunable_value(tunables, o->tunable, &v, &vend) &&
            parse_long(v, vend, &val) && set(o, val))
            continue;
        if (glibcs && o->glibc_env && (v = os_getenv(o->glibc_env)) && parse_long(v, NULL, &val))
            set(o, val);
    }
}

int options_mallopt(int param, int value)
{
    for (size_t i = 0; i < NOPTIONS; i++) {
        const struct option *o = &options[i];
        if (o->param != param)
            continue;
        if ((o->flags & IGNORE_NONPOS) && value <= 0)
            return 1;
        return set(o, value);
    }
    return 0;
}

/* ptalloc_set_option's part: 0 for no such option or a value out of its
 * range.  The caller holds the main arena's lock. */
int options_set(const char *name, long value)
{
    const struct option *o = find(name);
    return o ? set(o, value) : 0;
}

int options_get(const char *name, long *value)
{
    const struct option *o = find(name);
    if (!o)
        return 0;
    size_t v = *field(o);
    *value = v > LONG_MAX ? -1 : (long)v;
    return 1;
}

/* The i-th option's name, NULL past the last: for tools that list them. */
COLD PUBLIC const char *ptalloc_option_name(int i)
{
    return i >= 0 && (size_t)i < NOPTIONS ? options[i].name : NULL;
}

/* How the environment variable PTALLOC_<NAME>=value would be read, without
 * setting anything: 1 and the number in *out, 0 for no such option, -1
 * for a value that is malformed or out of the option's range. */
COLD PUBLIC int ptalloc_parse_option(const char *name, const char *value, long *out)
{
    const struct option *o = find(name);
    if (!o)
        return 0;
    long v;
    if (!value || !parse_long(value, NULL, &v) || !in_range(o, v))
        return -1;
    *out = v;
    return 1;
}
