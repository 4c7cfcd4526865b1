/* core/: the number parser (every option and data-file number goes through it), atomic
 * writes (issue 10 item 1: never replace a device, folder or link), mkdir -p (issue 9 item 1:
 * --out with missing parents), output closing on a full disk (issue 10 item 7), and the
 * option layer built on them (cli/options.h; issue 10 item 8). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/options.h"
#include "core/files.h"
#include "core/parse.h"
#include "testlib.h"

static char tmpdir[256];

static void test_parse_long(void)
{
    long v = 7;
    CHECK(vb_parse_long("42", 0, 100, &v) == 0 && v == 42);
    CHECK(vb_parse_long("-5", -10, 10, &v) == 0 && v == -5);
    CHECK(vb_parse_long("100", 0, 100, &v) == 0 && v == 100);
    v = 7;
    const char *bad[] = {"", " 1", "1 ", "1x", "abc", "0x10", "101", "-1", "99999999999999999999999", "1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(vb_parse_long(bad[i], 0, 100, &v) == -1 && v == 7, "'%s' refused, value untouched", bad[i]);
    int n = 3;
    CHECK(vb_parse_int("2147483647", 0, INT_MAX, &n) == 0 && n == INT_MAX);
    CHECK(vb_parse_int("2147483648", 0, INT_MAX, &n) == -1);
}

static void test_parse_uint(void)
{
    uint64_t v = 9;
    CHECK(vb_parse_uint("0", 10, &v) == 0 && v == 0);
    CHECK(vb_parse_uint("18446744073709551615", UINT64_MAX, &v) == 0 && v == UINT64_MAX);
    CHECK(vb_parse_uint("18446744073709551616", UINT64_MAX, &v) == -1);
    CHECK(vb_parse_uint("11", 10, &v) == -1);
    CHECK(vb_parse_uint("5", 3, &v) == -1); /* a single digit above max */
    CHECK(vb_parse_uint("+1", 10, &v) == -1 && vb_parse_uint("-1", 10, &v) == -1 && vb_parse_uint("", 10, &v) == -1);
}

static void test_parse_double(void)
{
    double v = 1;
    CHECK(vb_parse_double("0.25", 0, 1, &v) == 0 && v == 0.25);
    CHECK(vb_parse_double("1e-3", 0, 1, &v) == 0 && v == 1e-3);
    CHECK(vb_parse_double("-2.5E+1", -100, 0, &v) == 0 && v == -25);
    v = 1;
    const char *bad[] = {"", "nan", "NAN", "inf", "-inf", "infinity", "0x1p3", "abc", "1,5", " 1", "1 ", "2", "1e400", "-0.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(vb_parse_double(bad[i], 0, 1, &v) == -1 && v == 1, "'%s' refused", bad[i]);
}

static void test_parse_int_list(void)
{
    int v[4], n = 0;
    CHECK(vb_parse_int_list("1,8,32", 1, 4096, v, 4, &n) == 0 && n == 3 && v[0] == 1 && v[1] == 8 && v[2] == 32);
    const char *bad[] = {"", ",", "1,", ",1", "1,,2", "0", "1,x", "1,2,3,4,5", "5000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(vb_parse_int_list(bad[i], 1, 4096, v, 4, &n) == -1, "'%s' refused", bad[i]);
}

static int file_is(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    char buf[256] = {0};
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    return f && n == strlen(text) && memcmp(buf, text, n) == 0;
}

/* vb_parallel_for: each item once, ranges contiguous and in order of the thread index. */
typedef struct visit_log {
    int hits[100];
    size_t ranges, begin_sum; /* written under no lock: one slot per item is enough */
} visit_log;

static void visit(void *ctx, size_t begin, size_t end)
{
    visit_log *v = ctx;
    for (size_t k = begin; k < end; k++)
        __atomic_add_fetch(&v->hits[k], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&v->ranges, 1, __ATOMIC_RELAXED);
    if (begin >= end) /* an empty range is never handed out */
        __atomic_add_fetch(&v->begin_sum, 1, __ATOMIC_RELAXED);
}

static void test_parallel_for(void)
{
    const size_t sizes[] = {0, 1, 5, 100};
    const int workers[] = {0, 1, 3, 7, 1000};
    for (size_t i = 0; i < VB_ARRAY_LEN(sizes); i++)
        for (size_t w = 0; w < VB_ARRAY_LEN(workers); w++) {
            visit_log v = {{0}, 0, 0};
            vb_parallel_for(sizes[i], workers[w], &v, visit);
            int once = 1;
            for (size_t k = 0; k < 100; k++)
                once &= v.hits[k] == (k < sizes[i]);
            CHECKF(once, "n %zu workers %d: every item exactly once", sizes[i], workers[w]);
            CHECKF(v.begin_sum == 0, "n %zu workers %d: no empty range", sizes[i], workers[w]);
            CHECKF(workers[w] <= 0 || v.ranges <= (size_t)workers[w], "n %zu workers %d: %zu ranges", sizes[i],
                   workers[w], v.ranges);
        }
}

static void test_atomic_write(void)
{
    char path[512], tmp[600];
    snprintf(path, sizeof path, "%s/out.txt", tmpdir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    vb_err e = {0};
    CHECK(vb_write_file_atomic(path, "one", 3, &e) == 0 && file_is(path, "one"));
    CHECK(vb_write_file_atomic(path, "second", 6, &e) == 0 && file_is(path, "second"));
    CHECK(access(tmp, F_OK) != 0); /* no temporary left behind */
    /* An abandoned write leaves the old content. */
    vb_atomic a;
    CHECK(vb_atomic_begin(&a, path, "w", &e) == 0);
    fputs("partial", a.f);
    vb_atomic_abort(&a);
    CHECK(file_is(path, "second") && access(tmp, F_OK) != 0);
}

/* Issue 10 item 1: /dev/null, /dev/full, a folder, a symbolic link are never replaced. */
static void test_atomic_refuses_non_regular(void)
{
    struct stat before, after;
    vb_err e = {0};
    CHECK(stat("/dev/null", &before) == 0);
    CHECK(vb_write_file_atomic("/dev/null", "x", 1, &e) == -1 && e.code == VB_EXIT_IO);
    CHECKF(strstr(e.msg, "/dev/null") && strstr(e.msg, "a device"), "message names the file and why: %s", e.msg);
    CHECK(stat("/dev/null", &after) == 0 && S_ISCHR(after.st_mode) && after.st_rdev == before.st_rdev);
    CHECK(access("/dev/null.tmp", F_OK) != 0);
    e = (vb_err){0};
    CHECK(vb_write_file_atomic(tmpdir, "x", 1, &e) == -1 && strstr(e.msg, "a folder"));
    char target[512], link[512];
    snprintf(target, sizeof target, "%s/target.txt", tmpdir);
    snprintf(link, sizeof link, "%s/link.txt", tmpdir);
    CHECK(vb_write_file_atomic(target, "keep", 4, &e) == 0);
    CHECK(symlink(target, link) == 0);
    e = (vb_err){0};
    CHECK(vb_write_file_atomic(link, "x", 1, &e) == -1 && strstr(e.msg, "symbolic link"));
    CHECK(file_is(target, "keep"));
}

/* Issue 10 item 7: a full disk at close is an error, not a silent exit 0. */
static void test_close_output_full_disk(void)
{
    FILE *f = fopen("/dev/full", "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("some results\n", f);
    vb_err e = {0};
    CHECK(vb_close_output(f, "/dev/full", &e) == -1 && e.code == VB_EXIT_IO && strstr(e.msg, "/dev/full"));
}

/* Issue 9 item 1: --out a/b/c creates the parents; a file in the way is named. */
static void test_mkdirs(void)
{
    char path[512], file[512], under_file[600];
    snprintf(path, sizeof path, "%s/a/b//c/", tmpdir);
    vb_err e = {0};
    struct stat st;
    CHECK(vb_mkdirs(path, &e) == 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK(vb_mkdirs(path, &e) == 0); /* exists: fine */
    snprintf(file, sizeof file, "%s/plain", tmpdir);
    CHECK(vb_write_file_atomic(file, "x", 1, &e) == 0);
    snprintf(under_file, sizeof under_file, "%s/sub", file);
    e = (vb_err){0};
    CHECK(vb_mkdirs(under_file, &e) == -1 && e.code == VB_EXIT_IO && strstr(e.msg, file));
    e = (vb_err){0};
    CHECK(vb_mkdirs("", &e) == -1 && e.code == VB_EXIT_USAGE);
}

static void test_same_file(void)
{
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/same.txt", tmpdir);
    snprintf(b, sizeof b, "%s/./same.txt", tmpdir);
    vb_err e = {0};
    CHECK(vb_write_file_atomic(a, "x", 1, &e) == 0);
    CHECK(vb_same_file(a, b) == 1);
    CHECK(vb_same_file(a, "/dev/null") == 0);
    CHECK(vb_same_file(a, "/nonexistent/file") == 0);
}

/* The option layer: one parser, values checked as they are parsed (issue 10 item 8). */
static int parse(const vb_option *opts, int argc, const char **argv, int *first)
{
    static const vb_command_help h = {"test", "[options]", NULL, NULL};
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w"); /* the messages are for people; the codes are checked */
    int rc = vb_options_parse(&h, opts, argc, (char **)argv, first);
    fclose(stderr);
    stderr = saved;
    return rc;
}

static void test_options(void)
{
    int threads = 0, flag = 0, fmt = 0, first = 0;
    double seconds = 3;
    const char *model = NULL;
    vb_quant_list quants = {0};
    vb_backend_list backends = {0};
    static const char *const formats[] = {"table", "csv", NULL};
    const vb_option opts[] = {VB_OPT_THREADS(&threads),
                              VB_OPT_MODEL(&model),
                              VB_OPT_QUANTS(&quants),
                              VB_OPT_BACKENDS(&backends),
                              VB_OPT_DOUBLE_ROW("seconds", "S", "time", &seconds, 0, 3600),
                              VB_OPT_FLAG_ROW("quiet", "quiet", &flag),
                              VB_OPT_CHOICE_ROW("format", "F", "format", &fmt, formats),
                              VB_OPT_END_ROW};
    const char *ok[] = {"cmd", "--threads", "4", "--model=m.gguf", "--quant", "int8,fp32", "--quant", "int8",
                        "--backend", "cpu,cpu:ref", "--seconds", "0.5", "--quiet", "--format", "csv", "img.jpg"};
    CHECK(parse(opts, 16, ok, &first) == VB_OPTS_GO);
    CHECK(threads == 4 && model && !strcmp(model, "m.gguf") && seconds == 0.5 && flag == 1 && fmt == 1);
    CHECK(quants.n == 2 && quants.level[0] == VB_QUANT_INT8 && quants.level[1] == VB_QUANT_FP32);
    CHECK(backends.n == 2 && !strcmp(backends.spec[1], "cpu:ref"));
    CHECK(first == 15);
    const char *bad[][3] = {{"cmd", "--seconds", "abc"}, {"cmd", "--seconds", "nan"}, {"cmd", "--seconds", "-1"},
                            {"cmd", "--seconds", "inf"}, {"cmd", "--quant=", ""},    {"cmd", "--model=", ""},
                            {"cmd", "--threads", "0"},   {"cmd", "--threads", "8x"}, {"cmd", "--backend", "nosuch"},
                            {"cmd", "--format", "xml"},  {"cmd", "--quant", "int3"}, {"cmd", "--nosuch", ""},
                            {"cmd", "--quant", "int8,"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int argc = bad[i][2][0] || strchr(bad[i][1], '=') == NULL ? 3 : 2;
        if (!strcmp(bad[i][1], "--nosuch"))
            argc = 2;
        CHECKF(parse(opts, argc, bad[i], &first) == VB_EXIT_USAGE, "%s %s refused with exit 2", bad[i][1], bad[i][2]);
    }
    const char *missing[] = {"cmd", "--threads"};
    CHECK(parse(opts, 2, missing, &first) == VB_EXIT_USAGE);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/vb-test-core-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_parse_long);
    RUN(test_parse_uint);
    RUN(test_parse_double);
    RUN(test_parse_int_list);
    RUN(test_parallel_for);
    RUN(test_atomic_write);
    RUN(test_atomic_refuses_non_regular);
    RUN(test_close_output_full_disk);
    RUN(test_mkdirs);
    RUN(test_same_file);
    RUN(test_options);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return vb_test_finish();
}
