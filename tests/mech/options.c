/*
 * Options: ptalloc_set_option / ptalloc_get_option and the environment.
 *
 *  - every option name round-trips a valid value; the defaults are the
 *    design's (GLIBC-FACTS.md);
 *  - unknown names (also NULL, "", upper case, trailing blank) and values
 *    out of range are refused with 0 and the old value kept; get_option
 *    of an unknown name returns 0 and leaves *value alone;
 *  - mallopt and get_option see the same parameters; mallopt refuses
 *    M_MXFAST above 160 and ignores (yet accepts) M_ARENA_MAX <= 0;
 *  - setting tcache_count flushes the calling thread's cache;
 *  - the environment, in a re-executed child: PTALLOC_MMAP_THRESHOLD,
 *    MALLOC_MMAP_THRESHOLD_ and GLIBC_TUNABLES=glibc.malloc.mmap_threshold
 *    are honoured; a malformed or out-of-range value is ignored (default
 *    kept); GLIBC_TUNABLES wins over MALLOC_*_; PTALLOC_<NAME> wins over
 *    both; several tunables in one GLIBC_TUNABLES; other knobs
 *    (trim_threshold, top_pad, mxfast, tcache_count, perturb, check) by
 *    their glibc spellings; the settings take effect (a 1 MiB block from
 *    the heap under a 4 MiB threshold, a freed small block in a fastbin
 *    with tcache_count 0).
 *
 * Child mode: options child NAME VALUE [NAME VALUE ...] [+heap1m] [+nocache]
 */
#include "mech.h"

extern char **environ;

static const struct { const char *name; long def; long good; long bad[3]; int nbad; } opts[] = {
    { "mxfast",                128,     64,      { 161, -1 }, 2 },
    { "trim_threshold",        131072,  1 << 20, { 0 }, 0 },
    { "top_pad",               131072,  65536,   { -1 }, 1 },
    { "mmap_threshold",        131072,  1 << 20, { 32 * 1024 * 1024 + 1, -1 }, 2 },
    { "mmap_max",              65536,   100,     { -1 }, 1 },
    { "check_action",          3,       1,       { 8, -1 }, 2 },
    { "perturb",               0,       0x5a,    { 256, -1 }, 2 },
    { "arena_test",            8,       4,       { 0, -1 }, 2 },
    { "tcache_count",          7,       3,       { 65536, -1 }, 2 },
    { "tcache_max",            1032,    200,     { 4194305, -1 }, 2 },
    { "tcache_unsorted_limit", 0,       10,      { -1 }, 1 },
    { "hugetlb",               0,       1,       { 3, -1 }, 2 },
};
#define NOPTS (sizeof opts / sizeof opts[0])

static void set_get(void)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const char *n = opts[i].name;
        long v = 12345;
        CHECKF(ptalloc_get_option(n, &v) == 1 && v == opts[i].def, "default %s = %ld, want %ld", n, v,
               opts[i].def);
        CHECKF(ptalloc_set_option(n, opts[i].good) == 1, "set %s %ld refused", n, opts[i].good);
        CHECKF(m_get(n) == opts[i].good, "%s reads %ld after setting %ld", n, m_get(n), opts[i].good);
        for (int k = 0; k < opts[i].nbad; k++) {
            CHECKF(ptalloc_set_option(n, opts[i].bad[k]) == 0, "set %s %ld accepted", n, opts[i].bad[k]);
            CHECKF(m_get(n) == opts[i].good, "%s changed to %ld by a refused value", n, m_get(n));
        }
        CHECKF(ptalloc_set_option(n, opts[i].def) == 1, "set %s back to %ld refused", n, opts[i].def);
        CHECK(m_get(n) == opts[i].def);
        t_heap_check(n);
    }
    /* arena_max: 0 = from the CPUs by default, at least 1 when set */
    long am = 99;
    CHECK(ptalloc_get_option("arena_max", &am) == 1 && am == 0);
    CHECK(ptalloc_set_option("arena_max", 3) == 1 && m_get("arena_max") == 3);
    CHECK(ptalloc_set_option("arena_max", 0) == 0 && m_get("arena_max") == 3);
    CHECK(ptalloc_set_option("arena_max", -2) == 0 && m_get("arena_max") == 3);
    /* trim_threshold: a negative value means "never" */
    CHECK(ptalloc_set_option("trim_threshold", -1) == 1);
    CHECK(m_get("trim_threshold") == -1 || m_get("trim_threshold") == LONG_MAX);

    static const char *unknown[] = { "", "MMAP_THRESHOLD", "mmap_threshold ", "mmap", "nope",
                                     "mmap_thresholdx", "glibc.malloc.mmap_threshold" };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        CHECKF(ptalloc_set_option(unknown[i], 1) == 0, "set \"%s\" accepted", unknown[i]);
        long v = 777;
        CHECKF(ptalloc_get_option(unknown[i], &v) == 0 && v == 777, "get \"%s\"", unknown[i]);
    }
    CHECK(ptalloc_set_option(NULL, 1) == 0);
    long v = 777;
    CHECK(ptalloc_get_option(NULL, &v) == 0 && v == 777);
    CHECK(m_get("mmap_threshold") == 131072);

    /* mallopt and the option names are the same parameters */
    CHECK(mallopt(M_MMAP_THRESHOLD, 256 * 1024) == 1);
    CHECK(m_get("mmap_threshold") == 256 * 1024);
    CHECK(mallopt(M_MXFAST, 200) == 0);
    CHECK(m_get("mxfast") == 128);
    CHECK(mallopt(M_MXFAST, 80) == 1);
    CHECK(m_get("mxfast") == 80);
    CHECK(mallopt(M_MXFAST, 128) == 1);
    CHECK(mallopt(M_ARENA_MAX, 0) == 1);
    CHECK(m_get("arena_max") == 3);
    CHECK(mallopt(M_TOP_PAD, 4096) == 1 && m_get("top_pad") == 4096);
    CHECK(mallopt(M_TOP_PAD, 131072) == 1);
    CHECK(ptalloc_set_option("mmap_threshold", 131072) == 1);
    CHECK(ptalloc_set_option("trim_threshold", 131072) == 1);
    CHECK(ptalloc_set_option("arena_max", 8) == 1);
    t_heap_check("mallopt");
}

static void set_flushes_tcache(void)
{
    void *p = malloc(24), *q = malloc(24);
    free(p);
    CHECK_WHERE(p, PTALLOC_TCACHE, 0);
    CHECK(ptalloc_set_option("tcache_count", 0) == 1);
    CHECK_WHERE(p, PTALLOC_FASTBIN, 0);
    CHECK(ptalloc_bin(0, PTALLOC_TCACHE, 0, m_binbuf, 8) == 0);
    free(q);
    CHECK_WHERE(q, PTALLOC_FASTBIN, 0);
    CHECK(ptalloc_set_option("tcache_count", 7) == 1);
    void *r = malloc(24);                    /* from the fastbin */
    CHECK(r == q);
    free(r);
    CHECK_WHERE(r, PTALLOC_TCACHE, 0);
    t_heap_check("tcache_count flush");
}

/* ---- the environment ------------------------------------------------------ */

static int run_child(const char *self, const char *const *env, const char *const *args)
{
    const char *envp[256];
    int n = 0;
    for (char **e = environ; *e && n < 200; e++)
        if (strncmp(*e, "PTALLOC_", 8) != 0 && strncmp(*e, "MALLOC_", 7) != 0 &&
            strncmp(*e, "GLIBC_TUNABLES=", 15) != 0)
            envp[n++] = *e;
    for (int i = 0; env[i] && n < 250; i++)
        envp[n++] = env[i];
    envp[n] = NULL;
    const char *argv[32];
    int k = 0;
    argv[k++] = self;
    argv[k++] = "child";
    for (int i = 0; args[i] && k < 31; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        execve("/proc/self/exe", (char **)argv, (char **)envp);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define ENV(...)  ((const char *const[]){ __VA_ARGS__, NULL })
#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void env_case(const char *self, const char *what, const char *const *env, const char *const *args)
{
    int rc = run_child(self, env, args);
    CHECKF(rc == 0, "environment case \"%s\": child exit %d", what, rc);
}

static void environment(const char *self)
{
    env_case(self, "defaults", ENV("X=1"),
             ARGS("mmap_threshold", "131072", "trim_threshold", "131072", "top_pad", "131072",
                  "tcache_count", "7", "mxfast", "128", "perturb", "0"));
    env_case(self, "PTALLOC_", ENV("PTALLOC_MMAP_THRESHOLD=65536"), ARGS("mmap_threshold", "65536"));
    env_case(self, "MALLOC_*_", ENV("MALLOC_MMAP_THRESHOLD_=200000"), ARGS("mmap_threshold", "200000"));
    env_case(self, "GLIBC_TUNABLES", ENV("GLIBC_TUNABLES=glibc.malloc.mmap_threshold=300000"),
             ARGS("mmap_threshold", "300000"));
    env_case(self, "GLIBC_TUNABLES over MALLOC_*_",
             ENV("MALLOC_MMAP_THRESHOLD_=200000", "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=300000"),
             ARGS("mmap_threshold", "300000"));
    env_case(self, "PTALLOC_ over both",
             ENV("MALLOC_MMAP_THRESHOLD_=200000", "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=300000",
                 "PTALLOC_MMAP_THRESHOLD=65536"),
             ARGS("mmap_threshold", "65536"));
    env_case(self, "several tunables",
             ENV("GLIBC_TUNABLES=glibc.malloc.tcache_count=3:glibc.malloc.mmap_threshold=262144:"
                 "glibc.malloc.mxfast=64"),
             ARGS("tcache_count", "3", "mmap_threshold", "262144", "mxfast", "64"));
    env_case(self, "foreign tunables",
             ENV("GLIBC_TUNABLES=glibc.rtld.nns=8:glibc.malloc.trim_threshold=999424:glibc.pthread.x=1"),
             ARGS("trim_threshold", "999424", "mmap_threshold", "131072"));
    env_case(self, "glibc spellings",
             ENV("MALLOC_TRIM_THRESHOLD_=500000", "MALLOC_TOP_PAD_=65536", "MALLOC_PERTURB_=0",
                 "GLIBC_TUNABLES=glibc.malloc.check=0"),
             ARGS("trim_threshold", "500000", "top_pad", "65536", "perturb", "0", "check_action", "0"));

    static const char *malformed[] = {
        "PTALLOC_MMAP_THRESHOLD=12abc", "PTALLOC_MMAP_THRESHOLD=", "PTALLOC_MMAP_THRESHOLD=abc",
        "PTALLOC_MMAP_THRESHOLD=-5", "PTALLOC_MMAP_THRESHOLD=67108864",
        "PTALLOC_MMAP_THRESHOLD=99999999999999999999999",
        "MALLOC_MMAP_THRESHOLD_=abc", "MALLOC_MMAP_THRESHOLD_=1x", "MALLOC_MMAP_THRESHOLD_=",
        "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=xyz", "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=",
        "GLIBC_TUNABLES=glibc.malloc.mmap_threshold", "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=5q:",
        "GLIBC_TUNABLES=glibc.malloc.mmap_thresholdx=65536", "GLIBC_TUNABLES=mmap_threshold=65536",
        "GLIBC_TUNABLES=::", "mmap_threshold=65536",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        env_case(self, malformed[i], ENV(malformed[i]), ARGS("mmap_threshold", "131072"));
    env_case(self, "malformed PTALLOC_, valid MALLOC_*_",
             ENV("PTALLOC_MMAP_THRESHOLD=zz", "MALLOC_MMAP_THRESHOLD_=200000"),
             ARGS("mmap_threshold", "200000"));

    /* the values take effect */
    env_case(self, "threshold 4 MiB", ENV("PTALLOC_MMAP_THRESHOLD=4194304"),
             ARGS("mmap_threshold", "4194304", "+heap1m"));
    env_case(self, "tcache off", ENV("GLIBC_TUNABLES=glibc.malloc.tcache_count=0"),
             ARGS("tcache_count", "0", "+nocache"));
    env_case(self, "tcache off, PTALLOC_", ENV("PTALLOC_TCACHE_COUNT=0"),
             ARGS("tcache_count", "0", "+nocache"));
}

static int child(int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "+heap1m") == 0) {
            void *p = malloc(MiB);
            struct ptalloc_chunk_info ci = m_info(p);
            CHECKF(ci.where == PTALLOC_INUSE && ci.arena == 0, "1 MiB block in %s",
                   m_where_name(ci.where));
            free(p);
        } else if (strcmp(argv[i], "+nocache") == 0) {
            void *p = malloc(24), *g = malloc(24);
            free(p);
            CHECK_WHERE(p, PTALLOC_FASTBIN, 0);
            free(g);
        } else if (i + 1 < argc) {
            long want = strtol(argv[i + 1], NULL, 0);
            long got = m_get(argv[i]);
            CHECKF(got == want, "%s = %ld, want %ld", argv[i], got, want);
            i++;
        }
    }
    t_heap_check("child");
    return t_done();
}

/* ptalloc_option_name lists every option; ptalloc_parse_option reads a
 * value as the environment would, and sets nothing. */
static void names_and_parsing(void)
{
    int n = 0;
    const char *name;
    long v;
    while ((name = ptalloc_option_name(n)) != NULL) {
        CHECKF(ptalloc_get_option(name, &v) == 1, "listed option %s unknown to get", name);
        n++;
    }
    CHECKF(n == 18, "%d options listed", n);
    CHECK(ptalloc_option_name(-1) == NULL);
    long before = m_get("mmap_threshold");
    v = 0;
    CHECK(ptalloc_parse_option("mmap_threshold", "64k", &v) == 1 && v == 65536);
    CHECK(ptalloc_parse_option("perturb", "0x5a", &v) == 1 && v == 0x5a);
    CHECK(ptalloc_parse_option("trim_threshold", "-1", &v) == 1 && v == -1);   /* never trim */
    v = 12345;
    CHECK(ptalloc_parse_option("perturb", "256", &v) == -1 && v == 12345);   /* out of range */
    CHECK(ptalloc_parse_option("top_pad", "12q", &v) == -1);                /* malformed */
    CHECK(ptalloc_parse_option("top_pad", "", &v) == -1);
    CHECK(ptalloc_parse_option("top_pad", NULL, &v) == -1);
    CHECK(ptalloc_parse_option("mmap_treshold", "1", &v) == 0);             /* no such option */
    CHECK(ptalloc_parse_option(NULL, "1", &v) == 0);
    CHECK(m_get("mmap_threshold") == before);                               /* nothing set */
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0)
        return child(argc, argv);
    names_and_parsing();
    set_get();
    set_flushes_tcache();
    environment(argv[0]);
    t_heap_check("end");
    return t_done();
}
