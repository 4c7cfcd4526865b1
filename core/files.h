/* Files and folders for outputs.
 *
 * Atomic writes: a reader of a target sees its old content or the complete new content,
 * never a part. The bytes go to "<target>.tmp" in the same folder, which is flushed,
 * fsync'd and renamed over the target. A target that exists and is not a regular file (a
 * device such as /dev/null, a folder, a FIFO, a symbolic link) is refused before anything
 * is written: renaming over it would replace it. Every write error, a full disk included,
 * fails the commit (VB_EXIT_IO) and removes the temporary, so a truncated file is never
 * taken for a complete one.
 *
 * Folders: vb_mkdirs creates a folder and its missing parents (mkdir -p), failing only
 * where one truly cannot be made, naming that folder and why. */
#ifndef VB_FILES_H
#define VB_FILES_H

#include <stddef.h>
#include <stdio.h>

#include "core/common.h"

typedef struct vb_atomic {
    FILE *f;          /* write here between begin and commit */
    char path[4096];  /* the target */
    char tmp[4112];   /* the temporary beside it */
} vb_atomic;

/* Refuses (VB_EXIT_IO) a target that exists and is not a regular file. */
int vb_check_replaceable(const char *path, vb_err *e);
int vb_atomic_begin(vb_atomic *a, const char *path, const char *mode, vb_err *e);
/* Flush, fsync, close, rename. On any failure the temporary is removed and the target is
 * left as it was. */
int vb_atomic_commit(vb_atomic *a, vb_err *e);
/* Give up: close and remove the temporary (safe after a failed begin or commit). */
void vb_atomic_abort(vb_atomic *a);
/* The whole of data[0..n) as path, atomically. */
int vb_write_file_atomic(const char *path, const void *data, size_t n, vb_err *e);

int vb_mkdirs(const char *path, vb_err *e);
/* 1 when both paths exist and name the same file (device and inode), else 0. */
int vb_same_file(const char *a, const char *b);
/* Close a stream the program wrote its results to (stdout): a failed write or close, a
 * full disk or /dev/full say, is an error naming `what` (VB_EXIT_IO). */
int vb_close_output(FILE *f, const char *what, vb_err *e);

#endif
