#include "core/progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"

void vb_progress_start(vb_progress *p, const char *label, size_t total)
{
    memset(p, 0, sizeof *p);
    p->enabled = isatty(STDERR_FILENO);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total;
    p->start = p->last = vb_now();
}

void vb_progress_update(vb_progress *p, size_t done)
{
    if (!p->enabled)
        return;
    double now = vb_now();
    if (now - p->last < 0.1 && done < p->total)
        return;
    p->last = now;
    double elapsed = now - p->start, rate = elapsed > 0 ? done / elapsed : 0;
    double eta = rate > 0 && p->total > done ? (p->total - done) / rate : 0;
    fprintf(stderr, "\r%s: %zu/%zu (%.0f%%) %.1f/s, ETA %.0fs   ", p->label, done, p->total,
            p->total ? 100.0 * done / p->total : 100.0, rate, eta);
    fflush(stderr);
}

void vb_progress_end(vb_progress *p)
{
    if (p->enabled)
        fprintf(stderr, "\r%s: done in %.1fs%30s\n", p->label, vb_now() - p->start, "");
}
