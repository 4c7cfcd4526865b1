/* Reading CSV files record by record through libcsv, with the line number of each record
 * for error messages ("file:line: ..."). Strict RFC 4180 quoting (an unterminated or stray
 * quote is an error), LF, CRLF or CR line ends, blank lines skipped, spaces and tabs around
 * unquoted fields trimmed (libcsv's default), a UTF-8 byte-order mark before the first
 * field dropped. */
#ifndef VB_CSVREAD_H
#define VB_CSVREAD_H

#include <stddef.h>

#include "core/common.h"

typedef struct vb_csv_row {
    const char *file;
    long line;            /* line where the record ends (1-based) */
    long index;           /* record number, 0 = the header */
    size_t n;             /* number of fields */
    const char *const *f; /* NUL-terminated fields */
} vb_csv_row;

/* Called once per record; return 0 to go on, -1 (with e filled) to stop. */
typedef int (*vb_csv_row_fn)(void *ctx, const vb_csv_row *row, vb_err *e);

/* Read the whole file; errors name the file and line (VB_EXIT_INPUT). An embedded NUL byte
 * is an error. */
int vb_csv_read(const char *path, vb_csv_row_fn fn, void *ctx, vb_err *e);

/* Map header names to column positions. names: the known columns; required: how many of the
 * first names are mandatory; col[i] receives the position of names[i] or -1. A missing
 * required column, an unknown column or a repeated column is an error naming the file. */
int vb_csv_header(const vb_csv_row *row, const char *const *names, size_t n_names, size_t required,
                  int *col, vb_err *e);

#endif
