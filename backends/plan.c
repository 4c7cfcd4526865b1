#include "backends/plan.h"

#include <string.h>

/* last[i]: the last step reading step i's output (i itself when nobody reads it; n when it
 * must survive to the end). */
static void last_readers(const vb_plan_step *steps, int n, int keep, int *last)
{
    for (int i = 0; i < n; i++)
        last[i] = i == keep ? n : i;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            int src = steps[i].src[k];
            if (src >= 0 && src < i && last[src] < i)
                last[src] = i;
        }
}

int vb_plan_slots(const vb_plan_step *steps, int n, int keep, int *slot, size_t *slot_size)
{
    int last[n > 0 ? n : 1];
    int free_after[n > 0 ? n : 1]; /* per slot: the step after which it is free again */
    last_readers(steps, n, keep, last);
    memset(slot_size, 0, sizeof *slot_size * (size_t)n);
    int n_slots = 0;
    for (int i = 0; i < n; i++) {
        int chosen = -1;
        for (int s = 0; s < n_slots && chosen < 0; s++)
            if (free_after[s] < i) /* strictly before: a step never writes a slot it reads */
                chosen = s;
        if (chosen < 0)
            chosen = n_slots++;
        if (steps[i].size > slot_size[chosen])
            slot_size[chosen] = steps[i].size;
        free_after[chosen] = last[i];
        slot[i] = chosen;
    }
    return n_slots;
}
