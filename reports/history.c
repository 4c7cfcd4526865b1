/* The append-only benchmark history (reports/history.h). */
#include "reports/history.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/csv_read.h"
#include "core/csv_write.h"
#include "core/files.h"
#include "core/parse.h"
#include "reports/metrics.h"

const char *const vb_history_columns[VB_H_COLUMNS] = {
    "time_utc", "command", "host",    "cpu",     "backend",    "device",        "device_name",
    "driver",   "quant",   "dataset", "scenario", "batch",     "metric",        "value",
    "verdict",  "git_commit", "binary_sha256", "model_sha256", "command_line"};

const char *vb_history_dir(const char *opt)
{
    if (opt && *opt)
        return opt;
    const char *env = getenv("VERIBENCH_HISTORY");
    return env && *env ? env : "results/history";
}

int vb_utc_parse(const char *text, time_t *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end || strlen(text) != 20)
        return -1;
    *t = timegm(&tm);
    return 0;
}

void vb_cpu_model(char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10))
            continue;
        char *colon = strchr(line, ':');
        if (!colon)
            break;
        colon++;
        while (*colon == ' ' || *colon == '\t')
            colon++;
        colon[strcspn(colon, "\n")] = 0;
        snprintf(buf, n, "%s", colon);
        break;
    }
    fclose(f);
}

/* The rows of one run as CSV text (header first when with_header). */
static char *format_rows(const vb_history_run *run, const vb_history_entry *rows, size_t n, int with_header,
                         size_t *len)
{
    char *text = NULL;
    FILE *m = open_memstream(&text, len);
    if (!m)
        return NULL;
    if (with_header)
        vb_csv_write_row(m, vb_history_columns, VB_H_COLUMNS);
    char when[32], host[256] = "", cpu[256], value[32];
    vb_utc_text(run->finished, when);
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = 0;
    vb_cpu_model(cpu, sizeof cpu);
    for (size_t i = 0; i < n; i++) {
        const vb_history_entry *r = &rows[i];
        vb_format_double(r->value, value);
        const char *f[VB_H_COLUMNS] = {
            when, run->command, host, cpu, r->backend, r->device, r->device_name, r->driver, r->quant,
            r->dataset, r->scenario, r->batch, r->metric, value, r->verdict, run->git_commit,
            run->binary_sha256, run->model_sha256, run->command_line};
        vb_csv_write_row(m, f, VB_H_COLUMNS);
    }
    if (fclose(m) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

int vb_history_append(const char *dir, const vb_history_run *run, const vb_history_entry *rows, size_t n,
                      vb_err *e)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, VB_HISTORY_FILE) >= (int)sizeof path)
        return vb_fail(e, VB_EXIT_IO, "history folder name too long: %s", dir);
    if (vb_mkdirs(dir, e))
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return vb_fail(e, VB_EXIT_IO, "%s: cannot open for appending: %s", path, strerror(errno));
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        vb_fail(e, VB_EXIT_IO, "%s: not a regular file; the history is not written there", path);
        goto done;
    }
    if (flock(fd, LOCK_EX) != 0) {
        vb_fail(e, VB_EXIT_IO, "%s: cannot lock: %s", path, strerror(errno));
        goto done;
    }
    if (fstat(fd, &st) != 0) { /* again under the lock: another run may have written the header */
        vb_fail(e, VB_EXIT_IO, "%s: %s", path, strerror(errno));
        goto done;
    }
    size_t len = 0;
    char *text = format_rows(run, rows, n, st.st_size == 0, &len);
    if (!text) {
        vb_fail(e, VB_EXIT_IO, "out of memory formatting the history rows");
        goto done;
    }
    ssize_t w = write(fd, text, len);
    int werr = errno;
    free(text);
    if (w < 0 || (size_t)w != len) {
        /* a short append (a full disk) leaves a partial last line; take it back off */
        if (w > 0 && ftruncate(fd, st.st_size) != 0)
            werr = errno;
        vb_fail(e, VB_EXIT_IO, "%s: write failed: %s", path, w < 0 ? strerror(werr) : "short write (disk full?)");
        goto done;
    }
    if (fsync(fd) != 0) {
        vb_fail(e, VB_EXIT_IO, "%s: fsync failed: %s", path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (close(fd) != 0 && rc == 0)
        rc = vb_fail(e, VB_EXIT_IO, "%s: close failed: %s", path, strerror(errno));
    return rc;
}

/* ------------------------------------------------------------------ reading */

typedef struct read_ctx {
    vb_history *h;
    int col[VB_H_COLUMNS];
} read_ctx;

static int history_row(void *ctx_, const vb_csv_row *row, vb_err *e)
{
    read_ctx *ctx = ctx_;
    if (row->index == 0)
        return vb_csv_header(row, vb_history_columns, VB_H_COLUMNS, VB_H_COLUMNS, ctx->col, e);
    if (row->n != VB_H_COLUMNS)
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: %zu fields, expected %d", row->file, row->line, row->n,
                       VB_H_COLUMNS);
    vb_history *h = ctx->h;
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        vb_history_row *r = realloc(h->rows, cap * sizeof *r);
        if (!r)
            return vb_fail(e, VB_EXIT_IO, "out of memory reading %s", row->file);
        h->rows = r, h->cap = cap;
    }
    vb_history_row *r = &h->rows[h->n];
    memset(r, 0, sizeof *r);
    h->n++; /* counted first so that vb_history_free sees what was copied */
    r->line = row->line;
    for (int k = 0; k < VB_H_COLUMNS; k++)
        if (!(r->field[k] = strdup(row->f[ctx->col[k]])))
            return vb_fail(e, VB_EXIT_IO, "out of memory reading %s", row->file);
    if (vb_utc_parse(r->field[VB_H_TIME], &r->t))
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: time_utc '%s' is not YYYY-MM-DDTHH:MM:SSZ", row->file, row->line,
                       r->field[VB_H_TIME]);
    const char *v = r->field[VB_H_VALUE];
    if (!strcmp(v, "nan") || !strcmp(v, "NaN"))
        r->value = NAN;
    else if (vb_parse_real(v, 1, &r->value))
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: value '%s' is not a number", row->file, row->line, v);
    if (!r->field[VB_H_METRIC][0])
        return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: empty metric", row->file, row->line);
    return 0;
}

int vb_history_read(const char *path, vb_history *h, vb_err *e)
{
    memset(h, 0, sizeof *h);
    read_ctx ctx = {h, {0}};
    if (vb_csv_read(path, history_row, &ctx, e)) {
        vb_history_free(h);
        return -1;
    }
    return 0;
}

void vb_history_free(vb_history *h)
{
    for (size_t i = 0; i < h->n; i++)
        for (int k = 0; k < VB_H_COLUMNS; k++)
            free(h->rows[i].field[k]);
    free(h->rows);
    memset(h, 0, sizeof *h);
}
