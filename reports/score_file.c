#include "reports/score_file.h"

#include "core/parse.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

enum { LINE_CHUNK = 1 << 16, MAX_COLUMNS = 256 };

int vb_parse_score(const char *text, int is_distance, double *out, vb_err *e)
{
    const char *s = text;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        len--;
    if (!len)
        return vb_fail(e, VB_EXIT_INPUT, "empty score");
    char small[128], *num = len < sizeof small ? small : malloc(len + 1);
    if (!num)
        return vb_fail(e, VB_EXIT_IO, "out of memory");
    memcpy(num, s, len);
    num[len] = 0;
    const char *unsigned_num = num + (num[0] == '+' || num[0] == '-');
    int is_nan = !strcasecmp(unsigned_num, "nan");
    double v = 0;
    int rc = is_nan ? 0 : vb_parse_real(num, 1, &v);
    if (num != small)
        free(num);
    if (is_nan)
        return vb_fail(e, VB_EXIT_INPUT, "score is NaN");
    if (rc == VB_PARSE_RANGE)
        return vb_fail(e, VB_EXIT_INPUT, "score '%.60s' is out of the range of a double", text);
    if (rc)
        return vb_fail(e, VB_EXIT_INPUT, "score '%.60s' is not a number", text);
    if (isinf(v) && (v > 0) != (is_distance != 0))
        return vb_fail(e, VB_EXIT_INPUT,
                       "score %s would accept at every threshold (failures to acquire are %s)",
                       v > 0 ? "+inf" : "-inf", is_distance ? "+inf distances" : "-inf similarities");
    *out = v;
    return 0;
}

static int parse_label(const char *text, uint8_t *out, vb_err *e)
{
    if (!strcmp(text, "1") || !strcmp(text, "0")) {
        *out = (uint8_t)(text[0] - '0');
        return 0;
    }
    return vb_fail(e, VB_EXIT_INPUT, "label '%s' is neither 1 (genuine) nor 0 (impostor)", text);
}

/* -1 and empty are accepted for "in no fold" as other tools write it; stored as 0. */
static int parse_fold(const char *text, uint16_t *out, vb_err *e)
{
    if (!*text) {
        *out = 0;
        return 0;
    }
    long v;
    if (vb_parse_long(text, -1, 32767, &v))
        return vb_fail(e, VB_EXIT_INPUT, "fold '%s' is not an integer in [-1, 32767]", text);
    *out = v < 0 ? 0 : (uint16_t)v;
    return 0;
}

/* ---- line-by-line reading through zlib (plain files read as they are) ---- */

typedef struct line_reader {
    gzFile gz;
    const char *path;
    char *buf;
    size_t line; /* 1-based number of the line the last chunk belongs to */
    int line_done; /* the last chunk ended its line */
} line_reader;

static int reader_open(line_reader *r, const char *path, vb_err *e)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->line_done = 1;
    r->gz = gzopen(path, "rb");
    if (!r->gz)
        return vb_fail(e, VB_EXIT_INPUT, "%s: cannot open: %s", path, errno ? strerror(errno) : "zlib error");
    r->buf = vb_malloc(LINE_CHUNK, e);
    if (!r->buf) {
        gzclose(r->gz);
        return -1;
    }
    return 0;
}

static void reader_close(line_reader *r)
{
    if (r->gz)
        gzclose(r->gz);
    free(r->buf);
}

/* Next chunk of at most LINE_CHUNK-1 bytes, ending at a newline when the line fits.
 * Returns 1 with *len set, 0 at the end, -1 on a read or decompression error. */
static int reader_next(line_reader *r, size_t *len, vb_err *e)
{
    if (!gzgets(r->gz, r->buf, LINE_CHUNK)) {
        int zerr;
        const char *msg = gzerror(r->gz, &zerr);
        if (zerr == Z_BUF_ERROR)
            return vb_fail(e, VB_EXIT_INPUT, "%s: truncated gzip data after line %zu", r->path, r->line);
        if (zerr != Z_OK)
            return vb_fail(e, VB_EXIT_INPUT, "%s: line %zu: read failed: %s", r->path, r->line + 1,
                           zerr == Z_ERRNO ? strerror(errno) : msg);
        return 0;
    }
    if (r->line_done)
        r->line++;
    *len = strlen(r->buf);
    r->line_done = *len && r->buf[*len - 1] == '\n';
    return 1;
}

/* ---- CSV ---- */

typedef struct csv_state {
    const char *path;
    size_t line;
    int is_distance;
    vb_scores *t;
    vb_err *e;
    int failed;
    /* header */
    int have_header;
    size_t n_cols;
    long col_label, col_score, col_fold;
    char *names[MAX_COLUMNS];
    /* current record */
    size_t field;
    double score;
    uint8_t label;
    uint16_t fold;
} csv_state;

static int csv_fail(csv_state *s, const char *fmt, const char *detail)
{
    if (!s->failed) {
        char msg[900];
        snprintf(msg, sizeof msg, fmt, detail);
        vb_fail(s->e, VB_EXIT_INPUT, "%s: line %zu: %s", s->path, s->line, msg);
    }
    s->failed = 1;
    return -1;
}

static void header_field(csv_state *s, const char *text)
{
    if (s->field >= MAX_COLUMNS) {
        csv_fail(s, "header has more than %s columns", "256");
        return;
    }
    if (s->field == 0 && !strncmp(text, "\xEF\xBB\xBF", 3))
        text += 3; /* UTF-8 byte order mark */
    s->names[s->field] = strdup(text);
    if (!s->names[s->field])
        csv_fail(s, "out of memory%s", "");
    for (size_t i = 0; i < s->field; i++)
        if (s->names[i] && !strcmp(s->names[i], text)) { /* which one would be meant? */
            char name[80];
            snprintf(name, sizeof name, "%s", text);
            for (char *c = name; *c; c++) /* a binary file: keep the message printable */
                if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
                    *c = '?';
            csv_fail(s, "column '%s' appears twice in the header", name);
            return;
        }
    if (!strcmp(text, "label"))
        s->col_label = (long)s->field;
    else if (!strcmp(text, "score"))
        s->col_score = (long)s->field;
    else if (!strcmp(text, "fold"))
        s->col_fold = (long)s->field;
}

static void data_field(csv_state *s, const char *text)
{
    vb_err fe; /* filled only on failure: zeroing 1 KiB per field cost a quarter of the time */
    long c = (long)s->field;
    int rc = 0;
    if (c == s->col_score)
        rc = vb_parse_score(text, s->is_distance, &s->score, &fe);
    else if (c == s->col_label)
        rc = parse_label(text, &s->label, &fe);
    else if (c == s->col_fold)
        rc = parse_fold(text, &s->fold, &fe);
    if (rc)
        csv_fail(s, "%s", fe.msg);
}

static void on_field(void *data, size_t len, void *st)
{
    csv_state *s = st;
    (void)len;
    if (!s->failed) {
        const char *text = data ? data : "";
        if (s->have_header)
            data_field(s, text);
        else
            header_field(s, text);
    }
    s->field++;
}

static void finish_header(csv_state *s)
{
    s->n_cols = s->field;
    s->have_header = 1;
    if (s->col_label >= 0 && s->col_score >= 0) {
        if (vb_scores_init(s->t, s->is_distance, s->col_fold >= 0, s->e))
            s->failed = 1;
        return;
    }
    char have[600] = "";
    for (size_t i = 0; i < s->n_cols && i < MAX_COLUMNS; i++) {
        size_t used = strlen(have);
        snprintf(have + used, sizeof have - used, "%s%s", i ? "," : "", s->names[i] ? s->names[i] : "");
    }
    for (char *c = have; *c; c++) /* a binary file: keep the message printable */
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
            *c = '?';
    csv_fail(s, s->col_label < 0 ? "header lacks a 'label' column (has: %s)" : "header lacks a 'score' column (has: %s)",
             have);
}

static void on_record(int term, void *st)
{
    csv_state *s = st;
    (void)term;
    if (!s->failed) {
        if (!s->have_header) {
            finish_header(s);
        } else if (s->field != s->n_cols) {
            char detail[64];
            snprintf(detail, sizeof detail, "%zu fields, the header has %zu", s->field, s->n_cols);
            csv_fail(s, "%s", detail);
        } else if (vb_scores_append(s->t, s->score, s->label, s->fold, s->e)) {
            s->failed = 1;
        }
    }
    s->field = 0;
    s->fold = 0;
}

static int csv_parse_file(line_reader *r, struct csv_parser *p, csv_state *s, vb_err *e)
{
    size_t len;
    int got = 0;
    while (!s->failed && (got = reader_next(r, &len, e)) == 1) {
        s->line = r->line;
        if (csv_parse(p, r->buf, len, on_field, on_record, s) != len && !s->failed) {
            vb_fail(e, VB_EXIT_INPUT, "%s: line %zu: %s", r->path, r->line, csv_strerror(csv_error(p)));
            return -1;
        }
    }
    if (s->failed)
        return -1;
    if (got < 0)
        return -1;
    if (csv_fini(p, on_field, on_record, s) != 0 && !s->failed)
        return vb_fail(e, VB_EXIT_INPUT, "%s: line %zu: %s", r->path, r->line, csv_strerror(csv_error(p)));
    return s->failed ? -1 : 0;
}

int vb_scores_read_csv(const char *path, int is_distance, vb_scores *t, vb_err *e)
{
    memset(t, 0, sizeof *t); /* vb_scores_init once the header says whether there are folds */
    t->is_distance = is_distance;
    line_reader r;
    if (reader_open(&r, path, e))
        return -1;
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL)) {
        reader_close(&r);
        return vb_fail(e, VB_EXIT_IO, "cannot initialise the CSV parser");
    }
    csv_state s = {.path = path, .is_distance = is_distance, .t = t, .e = e, .col_label = -1, .col_score = -1,
                   .col_fold = -1};
    int rc = csv_parse_file(&r, &p, &s, e);
    if (!rc && !s.have_header)
        rc = vb_fail(e, VB_EXIT_INPUT, "%s: empty file (expected a header with label and score columns)", path);
    else if (!rc && t->n == 0)
        rc = vb_fail(e, VB_EXIT_INPUT, "%s: no trials after the header", path);
    csv_free(&p);
    reader_close(&r);
    for (size_t i = 0; i < MAX_COLUMNS; i++)
        free(s.names[i]);
    if (rc)
        vb_scores_free(t);
    return rc;
}

/* ---- whitespace-separated formats ---- */

/* Splits buf into at most max tokens; returns the count (max + 1 when there are more). */
static size_t split_ws(char *buf, char **tok, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *p = strtok_r(buf, " \t\r\n", &save); p; p = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == max)
            return max + 1;
        tok[n++] = p;
    }
    return n;
}

static int line_too_long(const line_reader *r, size_t len, vb_err *e)
{
    if (!r->line_done && len == LINE_CHUNK - 1)
        return vb_fail(e, VB_EXIT_INPUT, "%s: line %zu: longer than %d bytes", r->path, r->line, LINE_CHUNK - 2);
    return 0;
}

static int bob4_line(const line_reader *r, char *buf, vb_scores *t, int is_distance, vb_err *e)
{
    char *tok[4];
    size_t n = split_ws(buf, tok, 4);
    if (n == 0 || tok[0][0] == '#')
        return 0;
    if (n != 4)
        return vb_fail(e, VB_EXIT_INPUT, "%s: line %zu: %s fields, expected 4 (claimed real sample score)",
                       r->path, r->line, n > 4 ? "more than 4" : n == 3 ? "3" : n == 2 ? "2" : "1");
    double score;
    if (vb_parse_score(tok[3], is_distance, &score, e)) {
        vb_err_prefix(e, "%s: line %zu", r->path, r->line);
        return -1;
    }
    return vb_scores_append(t, score, !strcmp(tok[0], tok[1]), 0, e);
}

int vb_scores_read_bob4(const char *path, int is_distance, vb_scores *t, vb_err *e)
{
    if (vb_scores_init(t, is_distance, 0, e))
        return -1;
    line_reader r;
    if (reader_open(&r, path, e)) {
        vb_scores_free(t);
        return -1;
    }
    size_t len;
    int got = 0, rc = 0;
    while (!rc && (got = reader_next(&r, &len, e)) == 1)
        rc = line_too_long(&r, len, e) || bob4_line(&r, r.buf, t, is_distance, e) ? -1 : 0;
    if (!rc && got < 0)
        rc = -1;
    if (!rc && t->n == 0)
        rc = vb_fail(e, VB_EXIT_INPUT, "%s: no scores", path);
    reader_close(&r);
    if (rc)
        vb_scores_free(t);
    return rc;
}

static int read_one_per_line(const char *path, uint8_t label, int is_distance, vb_scores *t, vb_err *e)
{
    line_reader r;
    if (reader_open(&r, path, e))
        return -1;
    size_t len, before = t->n;
    int got = 0, rc = 0;
    while (!rc && (got = reader_next(&r, &len, e)) == 1) {
        char *tok[1];
        if (line_too_long(&r, len, e)) {
            rc = -1;
            break;
        }
        size_t n = split_ws(r.buf, tok, 1);
        if (n == 0)
            continue;
        double score;
        if (n > 1)
            rc = vb_fail(e, VB_EXIT_INPUT, "%s: line %zu: more than one field (expected one score)", path, r.line);
        else if (vb_parse_score(tok[0], is_distance, &score, e)) {
            vb_err_prefix(e, "%s: line %zu", path, r.line);
            rc = -1;
        } else
            rc = vb_scores_append(t, score, label, 0, e);
    }
    if (!rc && got < 0)
        rc = -1;
    if (!rc && t->n == before)
        rc = vb_fail(e, VB_EXIT_INPUT, "%s: no scores", path);
    reader_close(&r);
    return rc;
}

int vb_scores_read_pyeer(const char *genuine_path, const char *impostor_path, int is_distance, vb_scores *t,
                         vb_err *e)
{
    if (vb_scores_init(t, is_distance, 0, e))
        return -1;
    if (read_one_per_line(genuine_path, 1, is_distance, t, e) ||
        read_one_per_line(impostor_path, 0, is_distance, t, e)) {
        vb_scores_free(t);
        return -1;
    }
    return 0;
}
