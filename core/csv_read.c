#include "core/csv_read.h"

#include <csv.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct csv_reader {
    const char *file;
    long line, index;
    long last_record_line; /* where the last complete record ended, 0 before any */
    int at_line_start;     /* the last byte read ended a line */
    char *buf; /* fields of the current record, each NUL-terminated */
    size_t len, cap;
    size_t *offs; /* start of each field in buf */
    const char **ptrs;
    size_t nf, capf;
    vb_csv_row_fn fn;
    void *ctx;
    vb_err *e;
    int failed;
} csv_reader;

static int reserve(csv_reader *r, size_t more)
{
    if (r->len + more <= r->cap)
        return 0;
    size_t cap = r->cap ? r->cap : 256;
    while (cap < r->len + more) {
        if (cap > SIZE_MAX / 2)
            return vb_fail(r->e, VB_EXIT_IO, "%s:%ld: record too large", r->file, r->line);
        cap *= 2;
    }
    char *nb = realloc(r->buf, cap);
    if (!nb)
        return vb_fail(r->e, VB_EXIT_IO, "out of memory reading %s", r->file);
    r->buf = nb;
    r->cap = cap;
    return 0;
}

static int reserve_fields(csv_reader *r)
{
    if (r->nf < r->capf)
        return 0;
    size_t cap = r->capf ? 2 * r->capf : 16;
    size_t *no = realloc(r->offs, cap * sizeof *no);
    if (no)
        r->offs = no;
    const char **np = no ? realloc(r->ptrs, cap * sizeof *np) : NULL;
    if (!np)
        return vb_fail(r->e, VB_EXIT_IO, "out of memory reading %s", r->file);
    r->ptrs = np;
    r->capf = cap;
    return 0;
}

static void on_field(void *s, size_t len, void *data)
{
    csv_reader *r = data;
    if (r->failed)
        return;
    if (len && memchr(s, 0, len)) {
        r->failed = 1;
        vb_fail(r->e, VB_EXIT_INPUT, "%s:%ld: NUL byte in a field (binary file?)", r->file, r->line);
        return;
    }
    if (reserve(r, len + 1) || reserve_fields(r)) {
        r->failed = 1;
        return;
    }
    r->offs[r->nf++] = r->len;
    if (len)
        memcpy(r->buf + r->len, s, len);
    r->len += len;
    r->buf[r->len++] = 0;
}

static void on_record(int term, void *data)
{
    (void)term;
    csv_reader *r = data;
    if (!r->failed && r->nf) {
        for (size_t i = 0; i < r->nf; i++)
            r->ptrs[i] = r->buf + r->offs[i];
        /* Spreadsheet programs write a UTF-8 byte-order mark; it is not part of the name. */
        if (r->index == 0 && strncmp(r->ptrs[0], "\xEF\xBB\xBF", 3) == 0)
            r->ptrs[0] += 3;
        vb_csv_row row = {r->file, r->line, r->index, r->nf, r->ptrs};
        if (r->fn(r->ctx, &row, r->e) != 0)
            r->failed = 1;
        r->index++;
        r->last_record_line = r->line;
    }
    r->nf = 0;
    r->len = 0;
}

/* Feed one segment (ending at most at one line end) to libcsv. */
static int feed(struct csv_parser *p, csv_reader *r, const char *s, size_t n)
{
    if (n == 0 || r->failed)
        return r->failed ? -1 : 0;
    if (csv_parse(p, s, n, on_field, on_record, r) != n) {
        int err = csv_error(p);
        if (err == CSV_EPARSE)
            return vb_fail(r->e, VB_EXIT_INPUT, "%s:%ld: malformed CSV: stray or unbalanced quote",
                           r->file, r->line);
        return vb_fail(r->e, VB_EXIT_IO, "%s:%ld: CSV parser: %s", r->file, r->line,
                       csv_strerror(err));
    }
    return r->failed ? -1 : 0;
}

static int parse_blocks(FILE *f, struct csv_parser *p, csv_reader *r, char *block, size_t size);

/* Splits the stream at line ends (LF, CRLF, CR) so each record's line number is known while
 * libcsv, which keeps its state across calls, parses it. */
static int parse_stream(FILE *f, struct csv_parser *p, csv_reader *r)
{
    enum { BLOCK = 1 << 16 };
    char *block = malloc(BLOCK);
    if (!block)
        return vb_fail(r->e, VB_EXIT_IO, "out of memory reading %s", r->file);
    int rc = parse_blocks(f, p, r, block, BLOCK);
    free(block);
    return rc;
}

static int parse_blocks(FILE *f, struct csv_parser *p, csv_reader *r, char *block, size_t size)
{
    int prev_cr = 0;
    size_t n;
    while ((n = fread(block, 1, size, f)) > 0) {
        size_t start = 0;
        for (size_t i = 0; i < n; i++) {
            char c = block[i];
            if (c == '\n' && prev_cr) { /* second half of CRLF: line already counted */
                prev_cr = 0;
                continue;
            }
            prev_cr = c == '\r';
            if (c == '\n' || c == '\r') {
                if (feed(p, r, block + start, i + 1 - start))
                    return -1;
                r->line++;
                start = i + 1;
            }
        }
        if (feed(p, r, block + start, n - start))
            return -1;
        r->at_line_start = start == n;
    }
    if (ferror(f))
        return vb_fail(r->e, VB_EXIT_INPUT, "%s: read error: %s", r->file, strerror(errno));
    if (r->line > 1 && r->at_line_start)
        r->line--; /* the file ends with a line end: what follows is no line */
    if (csv_fini(p, on_field, on_record, r) != 0)
        return vb_fail(r->e, VB_EXIT_INPUT,
                       "%s:%ld: malformed CSV: unterminated quoted field (a quote opened after "
                       "line %ld is never closed)",
                       r->file, r->line, r->last_record_line);
    return r->failed ? -1 : 0;
}

int vb_csv_read(const char *path, vb_csv_row_fn fn, void *ctx, vb_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return vb_fail(e, VB_EXIT_INPUT, "%s: cannot open: %s", path, strerror(errno));
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        fclose(f);
        return vb_fail(e, VB_EXIT_IO, "cannot initialise the CSV parser");
    }
    csv_reader r = {.file = path, .line = 1, .fn = fn, .ctx = ctx, .e = e};
    int rc = parse_stream(f, &p, &r);
    csv_free(&p);
    fclose(f);
    free(r.buf);
    free(r.offs);
    free(r.ptrs);
    return rc;
}

int vb_csv_header(const vb_csv_row *row, const char *const *names, size_t n_names, size_t required,
                  int *col, vb_err *e)
{
    char known[256] = "";
    for (size_t i = 0; i < n_names; i++) {
        col[i] = -1;
        size_t used = strlen(known);
        snprintf(known + used, sizeof known - used, "%s%s", i ? "," : "", names[i]);
    }
    for (size_t c = 0; c < row->n; c++) {
        size_t i = 0;
        while (i < n_names && strcmp(row->f[c], names[i]) != 0)
            i++;
        if (i == n_names)
            return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: unknown column '%s' in the header (known: %s)",
                           row->file, row->line, row->f[c], known);
        if (col[i] >= 0)
            return vb_fail(e, VB_EXIT_INPUT, "%s:%ld: column '%s' appears twice in the header",
                           row->file, row->line, names[i]);
        col[i] = (int)c;
    }
    for (size_t i = 0; i < required; i++)
        if (col[i] < 0)
            return vb_fail(e, VB_EXIT_INPUT,
                           "%s:%ld: header lacks column '%s' (expected %s; the first line must be "
                           "the header)",
                           row->file, row->line, names[i], known);
    return 0;
}
