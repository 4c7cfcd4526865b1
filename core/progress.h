/* Progress on long work: a single self-overwriting line on stderr, only when stderr is a
 * TTY (never in logs or pipes), at most ~10 updates a second. */
#ifndef VB_PROGRESS_H
#define VB_PROGRESS_H

#include <stddef.h>

typedef struct vb_progress {
    int enabled;
    char label[64];
    size_t total;
    double start, last;
} vb_progress;

void vb_progress_start(vb_progress *p, const char *label, size_t total);
void vb_progress_update(vb_progress *p, size_t done);
void vb_progress_end(vb_progress *p);

#endif
